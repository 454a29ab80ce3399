/*
 * hmc.c - Hamiltonian dynamics: points, leapfrog, static HMC, step-size search.
 *
 * A point in phase space carries its position q, momentum p, and the log
 * density lp with its gradient g at q.  Carrying g is what makes the
 * leapfrog cost one gradient per step: the closing half-step of momentum
 * uses the gradient at the new position, which the next step's opening
 * half-step reuses.  It also saves the gradient Stan recomputes at the start
 * of every transition (the chain's current point already has it); the draws
 * are the same, the work is not.
 *
 * The potential is U = -lp.  Where the target says the density is undefined
 * (non-finite lp), the energy is +inf: the leaf gets weight zero and, being
 * more than 1000 above the initial energy, counts as a divergence, exactly
 * as Stan treats a log density that throws.
 *
 * Static HMC (Stan's base_static_hmc) integrates a fixed L steps and accepts
 * with probability min(1, exp(H0 - H)).  It stops integrating as soon as the
 * log density is undefined: that proposal is rejected whatever comes after,
 * so the remaining gradients would be wasted (and would see NaN positions).
 *
 * hmc_init_stepsize() is Stan's heuristic: take one leapfrog step with fresh
 * momenta; if the acceptance exp(H0 - H) is above 0.8 keep doubling the step
 * size, else keep halving, until it crosses 0.8.  It runs at the start of
 * warm-up and after every metric update.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_internal.h"

int hmc_point_init(HmcPoint *z, int dim)
{
    size_t n = dim > 0 ? (size_t)dim : 1;
    z->q = calloc(3 * n, sizeof(double));
    if (!z->q) {
        z->p = z->g = NULL;
        return -1;
    }
    z->p = z->q + n;
    z->g = z->p + n;
    z->lp = 0;
    return 0;
}

void hmc_point_free(HmcPoint *z)
{
    free(z->q);    /* p and g live in the same block */
    z->q = z->p = z->g = NULL;
}

void hmc_point_copy(HmcPoint *dst, const HmcPoint *src, int dim)
{
    size_t n = (size_t)dim * sizeof(double);
    memcpy(dst->q, src->q, n);
    memcpy(dst->p, src->p, n);
    memcpy(dst->g, src->g, n);
    dst->lp = src->lp;
}

void hmc_evaluate(Hamiltonian *h, HmcPoint *z)
{
    z->lp = h->target->logp_grad(h->target->ctx, z->q, z->g);
    h->n_grad++;
}

double hmc_energy(const Hamiltonian *h, const HmcPoint *z, double *p_sharp)
{
    int n = h->dim;
    double tau = 0;
    if (h->metric.kind == METRIC_DIAG) {    /* fused: one pass */
        const double *inv = h->metric.inv;
        for (int i = 0; i < n; i++) {
            p_sharp[i] = inv[i] * z->p[i];
            tau += z->p[i] * p_sharp[i];
        }
    } else {
        metric_p_sharp(&h->metric, z->p, p_sharp);
        for (int i = 0; i < n; i++) tau += z->p[i] * p_sharp[i];
    }
    if (!isfinite(z->lp)) return INFINITY;
    double H = -z->lp + 0.5 * tau;
    return isnan(H) ? INFINITY : H;
}

void hmc_leapfrog(Hamiltonian *h, HmcPoint *z, double eps)
{
    int n = h->dim;
    double half = 0.5 * eps;
    if (h->metric.kind == METRIC_DENSE) {
        for (int i = 0; i < n; i++) z->p[i] += half * z->g[i];
        metric_p_sharp(&h->metric, z->p, h->p_sharp);
        for (int i = 0; i < n; i++) z->q[i] += eps * h->p_sharp[i];
    } else {                                /* unit and diag: one pass */
        const double *inv = h->metric.inv;  /* ones for unit */
        for (int i = 0; i < n; i++) {
            z->p[i] += half * z->g[i];
            z->q[i] += eps * (inv[i] * z->p[i]);
        }
    }
    hmc_evaluate(h, z);
    for (int i = 0; i < n; i++) z->p[i] += half * z->g[i];
}

/* exp(H0 - H) after one step of size eps with fresh momenta, as log. */
static double one_step_log_accept(Hamiltonian *h, HmcPoint *z, double eps)
{
    metric_sample_p(&h->metric, h->rng, z->p);
    double H0 = hmc_energy(h, z, h->p_sharp);
    hmc_leapfrog(h, z, eps);
    double H = hmc_energy(h, z, h->p_sharp);
    return H0 - H;
}

int hmc_init_stepsize(Hamiltonian *h, HmcPoint *z, HmcPoint *start,
                      double *eps, char *msg, size_t len)
{
    const double log_target = log(0.8);
    if (h->dim == 0) return 0;
    /* Stan skips the search for step sizes it cannot sensibly move from. */
    if (*eps == 0 || *eps > 1e7 || isnan(*eps)) return 0;

    hmc_point_copy(start, z, h->dim);
    double delta_H = one_step_log_accept(h, z, *eps);
    int direction = delta_H > log_target ? 1 : -1;
    int rc = 0;
    for (;;) {
        hmc_point_copy(z, start, h->dim);
        delta_H = one_step_log_accept(h, z, *eps);
        if (direction == 1 && !(delta_H > log_target)) break;
        if (direction == -1 && !(delta_H < log_target)) break;
        *eps = direction == 1 ? 2.0 * *eps : 0.5 * *eps;
        if (*eps > 1e7) {
            snprintf(msg, len, "the step-size search passed 1e7 without the "
                     "acceptance falling below 0.8: the posterior is probably "
                     "improper (is every parameter given a proper prior?)");
            rc = -1;
            break;
        }
        if (*eps == 0) {
            snprintf(msg, len, "the step-size search found no step size small "
                     "enough to reach an acceptance of 0.8: the log density "
                     "may be discontinuous or undefined near the current point");
            rc = -1;
            break;
        }
    }
    hmc_point_copy(z, start, h->dim);
    return rc;
}

void hmc_static_transition(Hamiltonian *h, HmcPoint *z, HmcPoint *start,
                           double eps, int L, SamplerStats *st)
{
    metric_sample_p(&h->metric, h->rng, z->p);
    double H0 = hmc_energy(h, z, h->p_sharp);
    hmc_point_copy(start, z, h->dim);

    int steps = 0;
    while (steps < L) {
        hmc_leapfrog(h, z, eps);
        steps++;
        if (!isfinite(z->lp)) break;
    }
    double H = hmc_energy(h, z, h->p_sharp);
    double accept = exp(H0 - H);
    if (accept < 1 && gsl_rng_uniform(h->rng) > accept)
        hmc_point_copy(z, start, h->dim);

    st->accept_stat = accept > 1 ? 1 : accept;
    st->divergent = H - H0 > 1000;
    st->lp = z->lp;
    st->energy = hmc_energy(h, z, h->p_sharp);
    st->step_size = eps;
    st->treedepth = 0;
    st->n_leapfrog = steps;
}
