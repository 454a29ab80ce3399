/*
 * svi_guide.c - the autoguides: Gaussian families on the unconstrained
 * scale, with the ELBO gradient of each written out by hand.
 *
 * A guide is q(z) = N(loc, S S^T) with a square-root factor S of one of
 * three shapes, plus the degenerate point mass:
 *
 *   DIAG     S = diag(exp(s))                      Pyro's AutoNormal
 *   TRIL     S = L, lower triangular, L_ii = exp(s_i)  AutoMultivariateNormal
 *   LOWRANK  z = loc + W e1 + exp(s) .* e2,  Sigma = W W^T + diag(exp(2s))
 *                                              AutoLowRankMultivariateNormal
 *   POINT    z = loc                            AutoDelta
 *
 * Draws are reparameterised (z is a differentiable function of theta and a
 * standard normal eps), so with g = grad log p(z) the pathwise gradient is
 * g itself for loc, g_i eps_j for L_ij, g_i eps_i exp(s_i) for s_i and
 * g_i e1_a for W_ia.  The entropy is in closed form, 0.5 log det Sigma plus
 * a constant, so its gradient needs no sampling: 1 for each s_i of DIAG and
 * TRIL; for LOWRANK the matrix determinant lemma and Woodbury's identity
 * with the rank x rank capacitance C = I + W^T D^-2 W give
 *
 *   log det Sigma = 2 sum s + log det C,
 *   dH/dW = Sigma^-1 W = D^-2 W C^-1,      dH/ds_i = 1 - D^-2_i w_i . (C^-1 w_i),
 *   (z-loc)^T Sigma^-1 (z-loc) = |D^-1 v|^2 - t^T C^-1 t,  t = W^T D^-2 v,
 *
 * all O(dim rank^2), never forming a dim x dim matrix.  Diagonal scales are
 * stored as logarithms (exp, not softplus): the gradient stays simple, the
 * scale can never reach 0, and Adam's steps become relative changes of the
 * scale, which suits scales that span orders of magnitude.
 *
 * Every buffer is allocated by svi_guide_init(); the per-step functions
 * allocate nothing.  svi_guide_prepare() must run after theta changes: it
 * caches exp(s), the log-determinant and, for LOWRANK, the Cholesky factor
 * of C (GSL) and M = W C^-1.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

#include "svi.h"

#define LOG_2PI 1.8378770664093454836

SviForm svi_guide_form(SviGuideKind k)
{
    switch (k) {
    case SVI_NORMAL: return SVI_FORM_DIAG;
    case SVI_MVN: return SVI_FORM_TRIL;
    case SVI_LOWRANK: return SVI_FORM_LOWRANK;
    case SVI_DELTA:
    case SVI_LAPLACE: return SVI_FORM_POINT;
    }
    return SVI_FORM_DIAG;
}

const char *svi_form_name(SviForm f)
{
    static const char *const names[] = {"point", "diagonal", "full-rank", "low-rank"};
    return names[f];
}

static int tril_size(int dim) { return dim * (dim - 1) / 2; }

static double *off_diag(const SviGuide *g) { return g->theta + 2 * g->dim; }
static double *cov_factor(const SviGuide *g) { return g->theta + 2 * g->dim; }

int svi_guide_init(SviGuide *g, SviForm form, int dim, int rank)
{
    memset(g, 0, sizeof *g);
    g->form = form;
    g->dim = dim;
    g->rank = form == SVI_FORM_LOWRANK ? rank : 0;
    switch (form) {
    case SVI_FORM_POINT: g->nparams = dim; break;
    case SVI_FORM_DIAG: g->nparams = 2 * dim; break;
    case SVI_FORM_TRIL: g->nparams = 2 * dim + tril_size(dim); break;
    case SVI_FORM_LOWRANK: g->nparams = 2 * dim + dim * g->rank; break;
    }
    g->theta = calloc((size_t)g->nparams, sizeof(double));
    g->scale = calloc((size_t)dim, sizeof(double));
    g->eps = calloc((size_t)(dim + g->rank), sizeof(double));
    g->work = calloc((size_t)(dim + g->rank + 1), sizeof(double));
    if (form == SVI_FORM_LOWRANK) {
        g->cap = gsl_matrix_alloc((size_t)g->rank, (size_t)g->rank);
        g->cap_m = calloc((size_t)dim * (size_t)g->rank, sizeof(double));
    }
    if (!g->theta || !g->scale || !g->eps || !g->work ||
        (form == SVI_FORM_LOWRANK && (!g->cap || !g->cap_m))) {
        svi_guide_free(g);
        return -1;
    }
    return 0;
}

void svi_guide_free(SviGuide *g)
{
    free(g->theta);
    free(g->scale);
    free(g->eps);
    free(g->work);
    free(g->cap_m);
    if (g->cap)
        gsl_matrix_free(g->cap);
    memset(g, 0, sizeof *g);
}

void svi_guide_reset(SviGuide *g, const double *loc0, double init_scale, gsl_rng *rng)
{
    int d = g->dim;
    for (int i = 0; i < d; i++)
        g->theta[i] = loc0 ? loc0[i] : 0.0;
    if (g->form == SVI_FORM_POINT) {
        svi_guide_prepare(g);
        return;
    }
    for (int i = 0; i < d; i++)
        g->theta[d + i] = log(init_scale);
    if (g->form == SVI_FORM_TRIL)
        memset(off_diag(g), 0, sizeof(double) * (size_t)tril_size(d));
    if (g->form == SVI_FORM_LOWRANK) {
        /* random, not zero: W = 0 is a stationary point of the expected
         * gradient, so a zero start would rely on noise alone to leave it */
        double *w = cov_factor(g), sd = init_scale / sqrt((double)g->rank);
        for (int k = 0; k < d * g->rank; k++)
            w[k] = sd * gsl_ran_gaussian_ziggurat(rng, 1.0);
    }
    svi_guide_prepare(g);
}

/* LOWRANK: factor C = I + W^T D^-2 W and form M = W C^-1 (row i of M is
 * C^-1 w_i, C being symmetric). */
static int prepare_lowrank(SviGuide *g)
{
    int d = g->dim, r = g->rank;
    const double *w = cov_factor(g);
    double *dinv = g->work;
    for (int i = 0; i < d; i++)
        dinv[i] = 1.0 / (g->scale[i] * g->scale[i]);
    for (int a = 0; a < r; a++)
        for (int b = 0; b <= a; b++) {
            double s = 0;
            for (int i = 0; i < d; i++)
                s += w[i * r + a] * w[i * r + b] * dinv[i];
            gsl_matrix_set(g->cap, (size_t)a, (size_t)b, s + (a == b));
            gsl_matrix_set(g->cap, (size_t)b, (size_t)a, s + (a == b));
        }
    if (gsl_linalg_cholesky_decomp1(g->cap) != 0)
        return -1;
    double ld = 0;
    for (int a = 0; a < r; a++)
        ld += 2 * log(gsl_matrix_get(g->cap, (size_t)a, (size_t)a));
    for (int i = 0; i < d; i++) {
        gsl_vector_view row = gsl_vector_view_array(g->cap_m + (size_t)i * r, (size_t)r);
        memcpy(row.vector.data, w + (size_t)i * r, sizeof(double) * (size_t)r);
        gsl_linalg_cholesky_svx(g->cap, &row.vector);
    }
    g->log_det += ld;
    return 0;
}

int svi_guide_prepare(SviGuide *g)
{
    int d = g->dim;
    for (int k = 0; k < g->nparams; k++)
        if (!isfinite(g->theta[k]))
            return -1;
    g->log_det = 0;
    if (g->form == SVI_FORM_POINT)
        return 0;
    for (int i = 0; i < d; i++) {
        g->scale[i] = exp(g->theta[d + i]);
        g->log_det += 2 * g->theta[d + i];
        if (!(g->scale[i] > 0) || !isfinite(g->scale[i]))
            return -1;
    }
    if (g->form == SVI_FORM_LOWRANK)
        return prepare_lowrank(g);
    return 0;
}

void svi_guide_sample(SviGuide *g, gsl_rng *rng, double *z)
{
    int d = g->dim, r = g->rank;
    const double *loc = g->theta;
    if (g->form == SVI_FORM_POINT) {
        memcpy(z, loc, sizeof(double) * (size_t)d);
        return;
    }
    for (int k = 0; k < d + r; k++)
        g->eps[k] = gsl_ran_gaussian_ziggurat(rng, 1.0);
    if (g->form == SVI_FORM_DIAG) {
        for (int i = 0; i < d; i++)
            z[i] = loc[i] + g->scale[i] * g->eps[i];
    } else if (g->form == SVI_FORM_TRIL) {
        const double *l = off_diag(g);
        for (int i = 0; i < d; i++) {
            const double *row = l + (size_t)i * (i - 1) / 2;
            double s = loc[i] + g->scale[i] * g->eps[i];
            for (int j = 0; j < i; j++)
                s += row[j] * g->eps[j];
            z[i] = s;
        }
    } else {
        const double *w = cov_factor(g), *e1 = g->eps, *e2 = g->eps + r;
        for (int i = 0; i < d; i++) {
            double s = loc[i] + g->scale[i] * e2[i];
            for (int a = 0; a < r; a++)
                s += w[(size_t)i * r + a] * e1[a];
            z[i] = s;
        }
    }
}

double svi_guide_log_q(SviGuide *g, const double *z)
{
    int d = g->dim, r = g->rank;
    const double *loc = g->theta;
    double quad = 0;
    switch (g->form) {
    case SVI_FORM_POINT:
        return 0;
    case SVI_FORM_DIAG:
        for (int i = 0; i < d; i++) {
            double x = (z[i] - loc[i]) / g->scale[i];
            quad += x * x;
        }
        break;
    case SVI_FORM_TRIL: { /* forward substitution: x = L^-1 (z - loc) */
        const double *l = off_diag(g);
        double *x = g->work;
        for (int i = 0; i < d; i++) {
            const double *row = l + (size_t)i * (i - 1) / 2;
            double s = z[i] - loc[i];
            for (int j = 0; j < i; j++)
                s -= row[j] * x[j];
            x[i] = s / g->scale[i];
            quad += x[i] * x[i];
        }
        break;
    }
    case SVI_FORM_LOWRANK: {
        const double *w = cov_factor(g);
        double *t = g->work; /* rank values */
        for (int a = 0; a < r; a++)
            t[a] = 0;
        for (int i = 0; i < d; i++) {
            double v = z[i] - loc[i], di = 1.0 / (g->scale[i] * g->scale[i]);
            quad += v * v * di;
            for (int a = 0; a < r; a++)
                t[a] += w[(size_t)i * r + a] * di * v;
        }
        /* t^T C^-1 t = |Lc^-1 t|^2 with C = Lc Lc^T */
        for (int a = 0; a < r; a++) {
            double s = t[a];
            for (int b = 0; b < a; b++)
                s -= gsl_matrix_get(g->cap, (size_t)a, (size_t)b) * t[b];
            t[a] = s / gsl_matrix_get(g->cap, (size_t)a, (size_t)a);
            quad -= t[a] * t[a];
        }
        break;
    }
    }
    return -0.5 * quad - 0.5 * g->log_det - 0.5 * d * LOG_2PI;
}

double svi_guide_log_q_draw(SviGuide *g, const double *z)
{
    if (g->form != SVI_FORM_DIAG && g->form != SVI_FORM_TRIL)
        return svi_guide_log_q(g, z);
    double quad = 0; /* z - loc = S eps with S square: the quadratic form is |eps|^2 */
    for (int i = 0; i < g->dim; i++)
        quad += g->eps[i] * g->eps[i];
    return -0.5 * quad - 0.5 * g->log_det - 0.5 * g->dim * LOG_2PI;
}

double svi_guide_entropy(const SviGuide *g)
{
    if (g->form == SVI_FORM_POINT)
        return 0;
    return 0.5 * g->log_det + 0.5 * g->dim * (1 + LOG_2PI);
}

void svi_guide_add_path_grad(const SviGuide *g, const double *glogp, double w, double *grad)
{
    int d = g->dim, r = g->rank;
    for (int i = 0; i < d; i++)
        grad[i] += w * glogp[i];
    if (g->form == SVI_FORM_POINT)
        return;
    double *gs = grad + d;
    if (g->form == SVI_FORM_LOWRANK) {
        const double *e1 = g->eps, *e2 = g->eps + r;
        double *gw = grad + 2 * d;
        for (int i = 0; i < d; i++) {
            double wg = w * glogp[i];
            gs[i] += wg * e2[i] * g->scale[i];
            for (int a = 0; a < r; a++)
                gw[(size_t)i * r + a] += wg * e1[a];
        }
        return;
    }
    for (int i = 0; i < d; i++)
        gs[i] += w * glogp[i] * g->eps[i] * g->scale[i];
    if (g->form == SVI_FORM_TRIL) {
        double *gl = grad + 2 * d;
        for (int i = 1; i < d; i++) {
            double wg = w * glogp[i];
            double *row = gl + (size_t)i * (i - 1) / 2;
            for (int j = 0; j < i; j++)
                row[j] += wg * g->eps[j];
        }
    }
}

void svi_guide_add_entropy_grad(const SviGuide *g, double *grad)
{
    int d = g->dim, r = g->rank;
    if (g->form == SVI_FORM_POINT)
        return;
    if (g->form != SVI_FORM_LOWRANK) {
        for (int i = 0; i < d; i++)
            grad[d + i] += 1;
        return;
    }
    const double *w = cov_factor(g);
    double *gw = grad + 2 * d;
    for (int i = 0; i < d; i++) {
        double di = 1.0 / (g->scale[i] * g->scale[i]), wm = 0;
        const double *m = g->cap_m + (size_t)i * r;
        for (int a = 0; a < r; a++) {
            gw[(size_t)i * r + a] += di * m[a];
            wm += w[(size_t)i * r + a] * m[a];
        }
        grad[d + i] += 1 - di * wm;
    }
}

double svi_guide_marginal_sd(const SviGuide *g, int i)
{
    if (g->form == SVI_FORM_POINT)
        return 0;
    double v = g->scale[i] * g->scale[i];
    if (g->form == SVI_FORM_TRIL) {
        const double *row = off_diag(g) + (size_t)i * (i - 1) / 2;
        for (int j = 0; j < i; j++)
            v += row[j] * row[j];
    } else if (g->form == SVI_FORM_LOWRANK) {
        const double *w = cov_factor(g) + (size_t)i * g->rank;
        for (int a = 0; a < g->rank; a++)
            v += w[a] * w[a];
    }
    return sqrt(v);
}

int svi_guide_set_precision(SviGuide *g, const double *loc, double *prec)
{
    int d = g->dim;
    gsl_matrix_view p = gsl_matrix_view_array(prec, (size_t)d, (size_t)d);
    /* Sigma = P^-1 (from P's Cholesky factor), then Sigma = L L^T */
    if (gsl_linalg_cholesky_decomp1(&p.matrix) != 0)
        return -1;
    if (gsl_linalg_cholesky_invert(&p.matrix) != 0)
        return -1;
    if (gsl_linalg_cholesky_decomp1(&p.matrix) != 0)
        return -1;
    memcpy(g->theta, loc, sizeof(double) * (size_t)d);
    double *l = off_diag(g);
    for (int i = 0; i < d; i++) {
        g->theta[d + i] = log(gsl_matrix_get(&p.matrix, (size_t)i, (size_t)i));
        for (int j = 0; j < i; j++)
            l[(size_t)i * (i - 1) / 2 + j] = gsl_matrix_get(&p.matrix, (size_t)i, (size_t)j);
    }
    return svi_guide_prepare(g);
}
