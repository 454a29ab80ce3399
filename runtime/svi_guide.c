/*
 * svi_guide.c - the autoguides: Gaussian families on the unconstrained
 * scale, with the ELBO gradient of each written out by hand.
 *
 * A guide is q(z) = N(loc, Sigma), drawn as z = loc + S eps with a
 * square-root factor S of one of three shapes, plus a point mass.  With
 * D = diag(exp(s)):
 *
 *   DIAG     z = loc + D eps                         Pyro's AutoNormal
 *   TRIL     z = loc + D U eps, U unit lower triangular
 *                                                    AutoMultivariateNormal
 *   LOWRANK  z = loc + D (W e1 + e2), W dim x rank   AutoLowRankMultivariateNormal
 *   POINT    z = loc                                 AutoDelta
 *
 * The off-diagonal parameters (U, W) are relative to the row's scale, as
 * in current Pyro: L = D U rather than a free L.  That matters for the
 * optimiser.  Adam moves every parameter by about lr per step whatever its
 * gradient's size, so a free L_ij jitters by lr in absolute units: with 25
 * coordinates of posterior sd 0.04 (the logistic-regression benchmark),
 * lr 0.01 jitter in 300 off-diagonal entries swamps the covariance being
 * fitted.  Relative entries jitter by lr times the scale instead.
 *
 * Draws are reparameterised, so with g = grad log p(z) the pathwise
 * gradient is g for loc, g_i (z_i - loc_i) for s_i, g_i exp(s_i) eps_j for
 * U_ij and g_i exp(s_i) e1_a for W_ia.  The entropy is in closed form,
 * 0.5 log det Sigma plus a constant, so its gradient needs no sampling:
 * det L = prod exp(s_i) gives dH/ds_i = 1 for every form, and for LOWRANK
 * Sylvester's identity with the rank x rank capacitance C = I + W^T W gives
 *
 *   log det Sigma = 2 sum s + log det C,        dH/dW = W C^-1,
 *   (z-loc)^T Sigma^-1 (z-loc) = |u|^2 - t^T C^-1 t,  u = D^-1 (z-loc), t = W^T u,
 *
 * all O(dim rank^2), never forming a dim x dim matrix.  Scales are stored
 * as logarithms (exp, not softplus): the gradient stays simple, a scale can
 * never reach 0, and Adam's steps become relative changes of the scale,
 * which suits scales that span orders of magnitude.
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
    free(g->loc_step);
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
        /* random, as Pyro, not zero: W = 0 is a stationary point of the
         * expected gradient, so a zero start would leave it on noise alone */
        double *w = cov_factor(g), sd = 1 / sqrt((double)g->rank);
        for (int k = 0; k < d * g->rank; k++)
            w[k] = sd * gsl_ran_gaussian_ziggurat(rng, 1.0);
    }
    svi_guide_prepare(g);
}

/* LOWRANK: factor C = I + W^T W and form M = W C^-1 (row i of M is
 * C^-1 w_i, C being symmetric). */
static int prepare_lowrank(SviGuide *g)
{
    int d = g->dim, r = g->rank;
    const double *w = cov_factor(g);
    for (int a = 0; a < r; a++)
        for (int b = 0; b <= a; b++) {
            double s = 0;
            for (int i = 0; i < d; i++)
                s += w[(size_t)i * r + a] * w[(size_t)i * r + b];
            gsl_matrix_set(g->cap, (size_t)a, (size_t)b, s + (a == b));
            gsl_matrix_set(g->cap, (size_t)b, (size_t)a, s + (a == b));
        }
    if (gsl_linalg_cholesky_decomp1(g->cap) != 0)
        return -1;
    for (int a = 0; a < r; a++)
        g->log_det += 2 * log(gsl_matrix_get(g->cap, (size_t)a, (size_t)a));
    for (int i = 0; i < d; i++) {
        gsl_vector_view row = gsl_vector_view_array(g->cap_m + (size_t)i * r, (size_t)r);
        memcpy(row.vector.data, w + (size_t)i * r, sizeof(double) * (size_t)r);
        gsl_linalg_cholesky_svx(g->cap, &row.vector);
    }
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
        const double *u = off_diag(g);
        for (int i = 0; i < d; i++) {
            const double *row = u + (size_t)i * (i - 1) / 2;
            double s = g->eps[i];
            for (int j = 0; j < i; j++)
                s += row[j] * g->eps[j];
            z[i] = loc[i] + g->scale[i] * s;
        }
    } else {
        const double *w = cov_factor(g), *e1 = g->eps, *e2 = g->eps + r;
        for (int i = 0; i < d; i++) {
            double s = e2[i];
            for (int a = 0; a < r; a++)
                s += w[(size_t)i * r + a] * e1[a];
            z[i] = loc[i] + g->scale[i] * s;
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
    case SVI_FORM_TRIL: { /* forward substitution: x = U^-1 D^-1 (z - loc) */
        const double *u = off_diag(g);
        double *x = g->work;
        for (int i = 0; i < d; i++) {
            const double *row = u + (size_t)i * (i - 1) / 2;
            double s = (z[i] - loc[i]) / g->scale[i];
            for (int j = 0; j < i; j++)
                s -= row[j] * x[j];
            x[i] = s;
            quad += s * s;
        }
        break;
    }
    case SVI_FORM_LOWRANK: {
        const double *w = cov_factor(g);
        double *t = g->work; /* rank values */
        for (int a = 0; a < r; a++)
            t[a] = 0;
        for (int i = 0; i < d; i++) {
            double ui = (z[i] - loc[i]) / g->scale[i];
            quad += ui * ui;
            for (int a = 0; a < r; a++)
                t[a] += w[(size_t)i * r + a] * ui;
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

/* The pathwise term needs z - loc of the last draw, rebuilt from eps (the
 * caller's z is not kept) for s, and eps itself for U and W. */
void svi_guide_add_path_grad(const SviGuide *g, const double *glogp, double w, double *grad)
{
    int d = g->dim, r = g->rank;
    for (int i = 0; i < d; i++)
        grad[i] += w * glogp[i];
    if (g->form == SVI_FORM_POINT)
        return;
    double *gs = grad + d, *go = grad + 2 * d;
    const double *e = g->eps;
    for (int i = 0; i < d; i++) {
        double wg = w * glogp[i], dev = 0; /* dev = (z_i - loc_i) / scale_i */
        if (g->form == SVI_FORM_DIAG) {
            dev = e[i];
        } else if (g->form == SVI_FORM_TRIL) {
            const double *row = off_diag(g) + (size_t)i * (i - 1) / 2;
            double *grow = go + (size_t)i * (i - 1) / 2, ws = wg * g->scale[i];
            dev = e[i];
            for (int j = 0; j < i; j++) {
                dev += row[j] * e[j];
                grow[j] += ws * e[j];
            }
        } else {
            const double *wr = cov_factor(g) + (size_t)i * r;
            double *grow = go + (size_t)i * r, ws = wg * g->scale[i];
            dev = e[r + i];
            for (int a = 0; a < r; a++) {
                dev += wr[a] * e[a];
                grow[a] += ws * e[a];
            }
        }
        gs[i] += wg * g->scale[i] * dev;
    }
}

void svi_guide_add_entropy_grad(const SviGuide *g, double *grad)
{
    int d = g->dim, r = g->rank;
    if (g->form == SVI_FORM_POINT)
        return;
    for (int i = 0; i < d; i++)
        grad[d + i] += 1;
    if (g->form == SVI_FORM_LOWRANK)
        for (int k = 0; k < d * r; k++)
            grad[2 * d + k] += g->cap_m[k];
}

double svi_guide_marginal_sd(const SviGuide *g, int i)
{
    if (g->form == SVI_FORM_POINT)
        return 0;
    double v = 1;
    if (g->form == SVI_FORM_TRIL) {
        const double *row = off_diag(g) + (size_t)i * (i - 1) / 2;
        for (int j = 0; j < i; j++)
            v += row[j] * row[j];
    } else if (g->form == SVI_FORM_LOWRANK) {
        const double *w = cov_factor(g) + (size_t)i * g->rank;
        for (int a = 0; a < g->rank; a++)
            v += w[a] * w[a];
    }
    return g->scale[i] * sqrt(v);
}

void svi_guide_cov_row_factor(const SviGuide *g, int i, double *row)
{
    int d = g->dim, r = g->rank;
    if (g->form == SVI_FORM_TRIL) {
        const double *u = off_diag(g) + (size_t)i * (i - 1) / 2;
        for (int j = 0; j < d; j++)
            row[j] = j < i ? g->scale[i] * u[j] : j == i ? g->scale[i] : 0;
    } else if (g->form == SVI_FORM_LOWRANK) {
        for (int a = 0; a < r; a++)
            row[a] = g->scale[i] * cov_factor(g)[(size_t)i * r + a];
    }
}

int svi_guide_set_factor(SviGuide *g, const double *loc, const double *scale, const double *factor)
{
    int d = g->dim, r = g->rank;
    memcpy(g->theta, loc, sizeof(double) * (size_t)d);
    if (g->form == SVI_FORM_POINT)
        return svi_guide_prepare(g);
    for (int i = 0; i < d; i++) {
        double si = g->form == SVI_FORM_TRIL ? factor[(size_t)i * d + i] : scale[i];
        if (!(si > 0) || !isfinite(si))
            return -1;
        g->theta[d + i] = log(si);
        if (g->form == SVI_FORM_TRIL)
            for (int j = 0; j < i; j++)
                off_diag(g)[(size_t)i * (i - 1) / 2 + j] = factor[(size_t)i * d + j] / si;
        else if (g->form == SVI_FORM_LOWRANK)
            for (int a = 0; a < r; a++)
                cov_factor(g)[(size_t)i * r + a] = factor[(size_t)i * r + a] / si;
    }
    return svi_guide_prepare(g);
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
    for (int i = 0; i < d; i++) /* the factor's upper triangle holds junk: clear it */
        for (int j = i + 1; j < d; j++)
            prec[(size_t)i * d + j] = 0;
    return svi_guide_set_factor(g, loc, NULL, prec);
}
