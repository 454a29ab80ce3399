/*
 * metric.c - the Euclidean metric of HMC: kinetic energy and momenta.
 *
 * Stan parameterises the kinetic energy by the *inverse* metric M^{-1}
 * (the posterior covariance the warm-up estimates): tau(p) = p.M^{-1}p / 2,
 * momenta p ~ N(0, M).  We keep the same convention, so the numbers we
 * report are the ones CmdStan prints under "inverse mass matrix".
 *
 * Three kinds, chosen once per run:
 *   unit   M = I: the identity, nothing stored but ones for reporting;
 *   diag   M^{-1} = diag(v): O(dim) everything, with 1/sqrt(v) cached so
 *          a momentum draw is one multiply per coordinate;
 *   dense  M^{-1} = L L^T: the Cholesky factor from GSL is cached when the
 *          metric changes (a few times per warm-up), a momentum draw is
 *          p = L^{-T} z (one triangular solve, so Cov(p) = (L L^T)^{-1} = M)
 *          and the velocity M^{-1} p is one symmetric matrix-vector product
 *          through BLAS.  O(dim^2) per leapfrog step is the price of a dense
 *          metric; the diagonal path never pays it.
 *
 * All buffers are allocated in metric_init; metric_set only overwrites.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>

#include "sampler_internal.h"

size_t metric_inv_size(MetricKind kind, int dim)
{
    return kind == METRIC_DENSE ? (size_t)dim * (size_t)dim : (size_t)dim;
}

static void set_identity(Metric *m)
{
    int n = m->dim;
    if (m->kind == METRIC_DENSE) {
        memset(m->inv, 0, sizeof(double) * (size_t)n * (size_t)n);
        memset(m->chol, 0, sizeof(double) * (size_t)n * (size_t)n);
        for (int i = 0; i < n; i++)
            m->inv[(size_t)i * n + i] = m->chol[(size_t)i * n + i] = 1.0;
    } else {
        for (int i = 0; i < n; i++) m->inv[i] = 1.0;
        if (m->inv_sqrt_r)
            for (int i = 0; i < n; i++) m->inv_sqrt_r[i] = 1.0;
    }
}

int metric_init(Metric *m, MetricKind kind, int dim)
{
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->dim = dim;
    size_t n = metric_inv_size(kind, dim);
    m->inv = malloc(sizeof(double) * (n ? n : 1));
    if (kind == METRIC_DIAG)
        m->inv_sqrt_r = malloc(sizeof(double) * (dim ? dim : 1));
    if (kind == METRIC_DENSE)
        m->chol = malloc(sizeof(double) * (n ? n : 1));
    if (!m->inv || (kind == METRIC_DIAG && !m->inv_sqrt_r) ||
        (kind == METRIC_DENSE && !m->chol)) {
        metric_free(m);
        return -1;
    }
    set_identity(m);
    return 0;
}

void metric_free(Metric *m)
{
    free(m->inv);
    free(m->inv_sqrt_r);
    free(m->chol);
    m->inv = m->inv_sqrt_r = m->chol = NULL;
}

/* Factor inv into chol; 0 on success.  The caller has checked symmetry and
 * a positive diagonal, so a failure here means "not positive definite" and
 * GSL reports it through its (by then disabled) error handler. */
static int factor_dense(Metric *m, const double *inv)
{
    size_t n = (size_t)m->dim;
    memcpy(m->chol, inv, sizeof(double) * n * n);
    gsl_matrix_view L = gsl_matrix_view_array(m->chol, n, n);
    return gsl_linalg_cholesky_decomp1(&L.matrix) == 0 ? 0 : -1;
}

static int dense_plausible(const double *a, int n)
{
    for (int i = 0; i < n; i++) {
        if (!(a[(size_t)i * n + i] > 0) || !isfinite(a[(size_t)i * n + i]))
            return 0;
        for (int j = 0; j < i; j++) {
            double x = a[(size_t)i * n + j], y = a[(size_t)j * n + i];
            if (!isfinite(x) || !isfinite(y) ||
                fabs(x - y) > 1e-10 * (fabs(x) + fabs(y)) + 1e-300)
                return 0;
        }
    }
    return 1;
}

int metric_set(Metric *m, const double *inv)
{
    int n = m->dim;
    switch (m->kind) {
    case METRIC_UNIT:
        return 0;
    case METRIC_DIAG:
        for (int i = 0; i < n; i++)
            if (!(inv[i] > 0) || !isfinite(inv[i])) return -1;
        for (int i = 0; i < n; i++) {
            m->inv[i] = inv[i];
            m->inv_sqrt_r[i] = 1.0 / sqrt(inv[i]);
        }
        return 0;
    case METRIC_DENSE:
        if (!dense_plausible(inv, n)) return -1;
        if (factor_dense(m, inv) != 0) {
            factor_dense(m, m->inv);    /* restore the factor of the old metric */
            return -1;
        }
        memcpy(m->inv, inv, sizeof(double) * (size_t)n * (size_t)n);
        return 0;
    }
    return -1;
}

void metric_sample_p(const Metric *m, gsl_rng *rng, double *p)
{
    int n = m->dim;
    switch (m->kind) {
    case METRIC_UNIT:
        for (int i = 0; i < n; i++) p[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
        break;
    case METRIC_DIAG:
        for (int i = 0; i < n; i++)
            p[i] = gsl_ran_gaussian_ziggurat(rng, 1.0) * m->inv_sqrt_r[i];
        break;
    case METRIC_DENSE: {
        for (int i = 0; i < n; i++) p[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
        gsl_matrix_const_view L = gsl_matrix_const_view_array(m->chol, n, n);
        gsl_vector_view pv = gsl_vector_view_array(p, n);
        gsl_blas_dtrsv(CblasLower, CblasTrans, CblasNonUnit, &L.matrix, &pv.vector);
        break;
    }
    }
}

void metric_p_sharp(const Metric *m, const double *p, double *p_sharp)
{
    int n = m->dim;
    switch (m->kind) {
    case METRIC_UNIT:
        memcpy(p_sharp, p, sizeof(double) * (size_t)n);
        break;
    case METRIC_DIAG:
        for (int i = 0; i < n; i++) p_sharp[i] = m->inv[i] * p[i];
        break;
    case METRIC_DENSE: {
        gsl_matrix_const_view A = gsl_matrix_const_view_array(m->inv, n, n);
        gsl_vector_const_view pv = gsl_vector_const_view_array(p, n);
        gsl_vector_view out = gsl_vector_view_array(p_sharp, n);
        gsl_blas_dsymv(CblasLower, 1.0, &A.matrix, &pv.vector, 0.0, &out.vector);
        break;
    }
    }
}

void metric_copy_inv(const Metric *m, double *out)
{
    memcpy(out, m->inv, sizeof(double) * metric_inv_size(m->kind, m->dim));
}
