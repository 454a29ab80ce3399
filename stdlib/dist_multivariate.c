/*
 * dist_multivariate.c - distributions whose value or parameters are arrays.
 *
 * A row here fills mv_lpdf, mv_shape and mv_sample (lpdf/sample stay NULL).
 * Values and parameters arrive as DArr (row-major, m = 1 for a vector; a
 * 1 x n row is accepted as a vector too).  Integer parameters (Multinomial's
 * N, LKJCholesky's K, GaussianRandomWalk's n) arrive as 1 x 1 arrays, and
 * their gradient slot, when asked for, is written as 0.
 *
 * Conventions, as for the univariate rows: invalid parameters (a
 * non-simplex probability vector, a Sigma that is not symmetric positive
 * definite, shapes that disagree) give NAN; a value outside the support
 * (not a simplex, not a unit-row lower-triangular factor, counts that do
 * not sum to N) gives -INFINITY; in both cases the gradient outputs are
 * left untouched.  Simplex and unit-norm checks allow 1e-8 of rounding, as
 * Stan does, since the values come from bijectors in floating point.
 *
 * Allocation: mv_lpdf runs inside NUTS's gradient loop, so every scratch
 * array lives on the stack for K <= MV_STACK_K (64): Sigma's Cholesky
 * factor, 32 KiB, is the largest.  Above that the scratch comes from one
 * malloc per call, freed before return (a 65 x 65 Cholesky costs far more
 * than the allocation); if that malloc fails the result is NAN.
 *
 * Linear algebra is GSL's on views of those buffers: the covariance form of
 * MultivariateNormal factors a copy of Sigma with gsl_linalg_cholesky_decomp1
 * and solves with gsl_linalg_cholesky_svx; its Sigma gradient is the
 * symmetric one, 0.5 (a a^T - Sigma^-1) with a = Sigma^-1 (x - mu), so a
 * symmetric perturbation E changes the log density by sum_ij G_ij E_ij.
 * A Sigma that is not positive definite makes decomp1 report GSL_EDOM
 * through GSL's error handler: the program must have called
 * gsl_set_error_handler_off() once at start-up (GSL's default handler
 * aborts), which the runtime and the tests do.
 *
 * LKJCholesky follows Stan's lkj_corr_cholesky: the LKJ density of the
 * correlation matrix L L^T times the Jacobian of L -> L L^T, so its density
 * over the strictly lower elements of L is (Lewandowski, Kurowicka and Joe
 * 2009, the normalising constant of their theorem 5)
 *     c_K(eta)^-1 * prod_{i=2..K} L_ii^(K - i + 2 eta - 2),
 * and its sampler draws canonical partial correlations from scaled Betas
 * (their C-vine method) and assembles L column by column.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>

#include "dist.h"

#define MV_STACK_K 64
#define SIMPLEX_TOL 1e-8
#define LOG_SQRT_2PI 0.918938533204672741780329736406 /* log(sqrt(2 pi)) */

/* ---- shared helpers ---------------------------------------------------- */

/* Length of a vector argument (n x 1 or 1 x n), or -1 if it is a matrix. */
static int vec_len(DArr a)
{
    if (a.n < 1 || a.m < 1 || (a.n != 1 && a.m != 1)) return -1;
    return a.n * a.m;
}

static int is_natural(double x) { return x >= 0 && x < INFINITY && x == floor(x); }

/* A 1 x 1 argument holding a natural number, or -1. */
static double scalar_count(DArr a)
{
    if (a.n != 1 || a.m != 1 || !is_natural(a.x[0])) return -1;
    return a.x[0];
}

static int is_simplex(const double *v, int k)
{
    double s = 0;
    for (int i = 0; i < k; i++) {
        if (!(v[i] >= 0 && v[i] <= 1 + SIMPLEX_TOL)) return 0;
        s += v[i];
    }
    return fabs(s - 1) <= SIMPLEX_TOL;
}

static void fill_zero(double *v, int k) { memset(v, 0, (size_t)k * sizeof *v); }

static void zero_int_grad(double *const *dp, int i)
{
    if (dp && dp[i]) dp[i][0] = 0;
}

/* Scratch for K-sized work: the caller's stack buffer when it is big
 * enough, else the heap (freed by scratch_free). */
static double *scratch_get(double *stack, size_t have, size_t need)
{
    return need <= have ? stack : malloc(need * sizeof(double));
}

static void scratch_free(double *buf, double *stack)
{
    if (buf != stack) free(buf);
}

static int shape_error(char *err, int errlen, const char *fmt, const char *dist,
                       const char *param, int n, int m)
{
    if (err && errlen > 0) snprintf(err, (size_t)errlen, fmt, dist, param, n, m);
    return -1;
}

/* mv_shape for rows whose value is a K-vector given by vector parameter 0. */
static int vector_param_shape(const char *dist, const char *param, const DArr *p,
                              int *rows, int *cols, char *err, int errlen)
{
    int k = vec_len(p[0]);
    if (k < 1)
        return shape_error(err, errlen, "%s: %s must be a non-empty vector, got %dx%d",
                           dist, param, p[0].n, p[0].m);
    *rows = k;
    *cols = 1;
    return 0;
}

/* ---- Categorical(theta): value in 1..K --------------------------------- */

static double categorical_lpdf(DArr x, const DArr *p, double *dx, double *const *dp)
{
    int k = vec_len(p[0]);
    const double *t = p[0].x;
    if (k < 1 || x.n * x.m != 1 || !is_simplex(t, k)) return NAN;
    double v = x.x[0];
    if (!(v >= 1 && v <= k && v == floor(v))) return isnan(v) ? NAN : -INFINITY;
    int i = (int)v - 1;
    if (dx) dx[0] = 0;
    if (dp && dp[0]) {
        fill_zero(dp[0], k);
        dp[0][i] = 1 / t[i];
    }
    return log(t[i]);
}

static int categorical_shape(const DArr *p, int *rows, int *cols, char *err, int errlen)
{
    if (vector_param_shape("Categorical", "theta", p, rows, cols, err, errlen)) return -1;
    *rows = 1;
    return 0;
}

/* Walk the cumulative sum to u * total (total is 1 up to the tolerance). */
static int draw_index(const gsl_rng *r, const double *w, int k, double total)
{
    double u = gsl_rng_uniform(r) * total, c = 0;
    for (int i = 0; i < k - 1; i++) {
        c += w[i];
        if (u < c) return i;
    }
    return k - 1;
}

static void categorical_sample(const gsl_rng *r, const DArr *p, double *out)
{
    int k = vec_len(p[0]);
    if (k < 1 || !is_simplex(p[0].x, k)) {
        out[0] = NAN;
        return;
    }
    double total = 0;
    for (int i = 0; i < k; i++) total += p[0].x[i];
    out[0] = 1 + draw_index(r, p[0].x, k, total);
}

const DistInfo dist_row_categorical = {
    .name = "Categorical", .nparams = 1,
    .param_names = {"theta"}, .param_kind = {PK_VECTOR},
    .value_kind = VK_INT, .support = SUP_INT_RANGE, .lo_param = -1, .hi_param = 0,
    .doc = "outcome k in 1..K with probability theta[k], theta a simplex",
    .mv_lpdf = categorical_lpdf, .mv_shape = categorical_shape,
    .mv_sample = categorical_sample,
};

/* ---- CategoricalLogit(beta): probabilities softmax(beta) --------------- */

static int all_finite(const double *v, int k)
{
    for (int i = 0; i < k; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

static double max_of(const double *v, int k)
{
    double m = v[0];
    for (int i = 1; i < k; i++)
        if (v[i] > m) m = v[i];
    return m;
}

static double categorical_logit_lpdf(DArr x, const DArr *p, double *dx, double *const *dp)
{
    int k = vec_len(p[0]);
    const double *b = p[0].x;
    if (k < 1 || x.n * x.m != 1 || !all_finite(b, k)) return NAN;
    double v = x.x[0];
    if (!(v >= 1 && v <= k && v == floor(v))) return isnan(v) ? NAN : -INFINITY;
    int i = (int)v - 1;
    double mx = max_of(b, k), s = 0;
    for (int j = 0; j < k; j++) s += exp(b[j] - mx);
    double lse = mx + log(s);
    if (dx) dx[0] = 0;
    if (dp && dp[0]) {
        for (int j = 0; j < k; j++) dp[0][j] = -exp(b[j] - lse);
        dp[0][i] += 1;
    }
    return b[i] - lse;
}

static int categorical_logit_shape(const DArr *p, int *rows, int *cols, char *err, int errlen)
{
    if (vector_param_shape("CategoricalLogit", "beta", p, rows, cols, err, errlen)) return -1;
    *rows = 1;
    return 0;
}

static void categorical_logit_sample(const gsl_rng *r, const DArr *p, double *out)
{
    int k = vec_len(p[0]);
    const double *b = p[0].x;
    if (k < 1 || !all_finite(b, k)) {
        out[0] = NAN;
        return;
    }
    double mx = max_of(b, k), total = 0;
    for (int j = 0; j < k; j++) total += exp(b[j] - mx);
    double u = gsl_rng_uniform(r) * total, c = 0;
    int i = 0;
    for (; i < k - 1; i++) {
        c += exp(b[i] - mx);
        if (u < c) break;
    }
    out[0] = 1 + i;
}

const DistInfo dist_row_categorical_logit = {
    .name = "CategoricalLogit", .nparams = 1,
    .param_names = {"beta"}, .param_kind = {PK_VECTOR},
    .value_kind = VK_INT, .support = SUP_INT_RANGE, .lo_param = -1, .hi_param = 0,
    .doc = "outcome k in 1..K with probability softmax(beta)[k]",
    .mv_lpdf = categorical_logit_lpdf, .mv_shape = categorical_logit_shape,
    .mv_sample = categorical_logit_sample,
};

/* ---- Multinomial(theta, N): counts of N draws -------------------------- */

static double multinomial_lpdf(DArr x, const DArr *p, double *dx, double *const *dp)
{
    int k = vec_len(p[0]);
    const double *t = p[0].x;
    double n = scalar_count(p[1]);
    if (k < 1 || n < 0 || vec_len(x) != k || !is_simplex(t, k)) return NAN;
    double lp = gsl_sf_lngamma(n + 1), total = 0;
    for (int j = 0; j < k; j++) {
        double c = x.x[j];
        if (!is_natural(c)) return isnan(c) ? NAN : -INFINITY;
        total += c;
        lp += (c == 0 ? 0 : c * log(t[j])) - gsl_sf_lngamma(c + 1);
    }
    if (total != n) return -INFINITY;
    if (dx) fill_zero(dx, k);
    if (dp && dp[0])
        for (int j = 0; j < k; j++) dp[0][j] = x.x[j] == 0 ? 0 : x.x[j] / t[j];
    zero_int_grad(dp, 1);
    return lp;
}

static int multinomial_shape(const DArr *p, int *rows, int *cols, char *err, int errlen)
{
    if (vector_param_shape("Multinomial", "theta", p, rows, cols, err, errlen)) return -1;
    if (p[1].n != 1 || p[1].m != 1)
        return shape_error(err, errlen, "%s: %s must be a scalar count, got %dx%d",
                           "Multinomial", "N", p[1].n, p[1].m);
    return 0;
}

static void multinomial_sample(const gsl_rng *r, const DArr *p, double *out)
{
    int k = vec_len(p[0]);
    double n = scalar_count(p[1]);
    if (k < 1 || n < 0 || n > 4294967295.0 || !is_simplex(p[0].x, k)) {
        for (int j = 0; j < (k > 0 ? k : 1); j++) out[j] = NAN;
        return;
    }
    unsigned stack[MV_STACK_K], *counts = stack;
    if (k > MV_STACK_K && !(counts = malloc((size_t)k * sizeof *counts))) {
        for (int j = 0; j < k; j++) out[j] = NAN;
        return;
    }
    gsl_ran_multinomial(r, (size_t)k, (unsigned)n, p[0].x, counts);
    for (int j = 0; j < k; j++) out[j] = counts[j];
    if (counts != stack) free(counts);
}

const DistInfo dist_row_multinomial = {
    .name = "Multinomial", .nparams = 2,
    .param_names = {"theta", "N"}, .param_kind = {PK_VECTOR, PK_INT},
    .value_kind = VK_INT_VECTOR, .support = SUP_COUNT_VECTOR,
    .lo_param = -1, .hi_param = 1,
    .doc = "counts of N draws over K categories with probabilities theta (a simplex)",
    .mv_lpdf = multinomial_lpdf, .mv_shape = multinomial_shape,
    .mv_sample = multinomial_sample,
};

/* ---- Dirichlet(alpha) -------------------------------------------------- */

static int all_positive(const double *v, int k)
{
    for (int i = 0; i < k; i++)
        if (!(v[i] > 0 && v[i] < INFINITY)) return 0;
    return 1;
}

static double dirichlet_lpdf(DArr x, const DArr *p, double *dx, double *const *dp)
{
    int k = vec_len(p[0]);
    const double *a = p[0].x;
    if (k < 1 || vec_len(x) != k || !all_positive(a, k)) return NAN;
    if (!is_simplex(x.x, k)) return -INFINITY;
    double sum = 0, lp = 0;
    for (int j = 0; j < k; j++) {
        sum += a[j];
        lp += (a[j] == 1 ? 0 : (a[j] - 1) * log(x.x[j])) - gsl_sf_lngamma(a[j]);
    }
    if (dx)
        for (int j = 0; j < k; j++) dx[j] = (a[j] - 1) / x.x[j];
    if (dp && dp[0]) {
        double ps = gsl_sf_psi(sum);
        for (int j = 0; j < k; j++) dp[0][j] = ps - gsl_sf_psi(a[j]) + log(x.x[j]);
    }
    return lp + gsl_sf_lngamma(sum);
}

static int dirichlet_shape(const DArr *p, int *rows, int *cols, char *err, int errlen)
{
    return vector_param_shape("Dirichlet", "alpha", p, rows, cols, err, errlen);
}

static void dirichlet_sample(const gsl_rng *r, const DArr *p, double *out)
{
    int k = vec_len(p[0]);
    if (k < 1 || !all_positive(p[0].x, k)) {
        for (int j = 0; j < (k > 0 ? k : 1); j++) out[j] = NAN;
        return;
    }
    gsl_ran_dirichlet(r, (size_t)k, p[0].x, out);
}

const DistInfo dist_row_dirichlet = {
    .name = "Dirichlet", .nparams = 1,
    .param_names = {"alpha"}, .param_kind = {PK_VECTOR},
    .value_kind = VK_VECTOR, .support = SUP_SIMPLEX, .lo_param = -1, .hi_param = -1,
    .doc = "distribution on the K-simplex with concentrations alpha > 0",
    .mv_lpdf = dirichlet_lpdf, .mv_shape = dirichlet_shape,
    .mv_sample = dirichlet_sample,
};

/* ---- MultivariateNormal(mu, Sigma) ------------------------------------- */

static int mvn_shape(const DArr *p, int *rows, int *cols, char *err, int errlen)
{
    if (vector_param_shape("MultivariateNormal", "mu", p, rows, cols, err, errlen)) return -1;
    if (p[1].n != *rows || p[1].m != *rows) {
        if (err && errlen > 0)
            snprintf(err, (size_t)errlen,
                     "MultivariateNormal: Sigma must be %dx%d to match mu, got %dx%d",
                     *rows, *rows, p[1].n, p[1].m);
        return -1;
    }
    return 0;
}

/* Sigma must be symmetric to within rounding before we factor its lower
 * triangle, or a user's typo in the upper triangle would pass silently. */
static int is_symmetric(const double *s, int k)
{
    for (int i = 0; i < k; i++)
        for (int j = 0; j < i; j++) {
            double a = s[i * k + j], b = s[j * k + i];
            if (!(fabs(a - b) <= 1e-8 * (1 + fmax(fabs(a), fabs(b))))) return 0;
        }
    return 1;
}

/* Copy Sigma into l and factor it in place (lower triangle = L); 0 if it
 * is not symmetric positive definite. */
static int factor_covariance(const DArr *sigma, int k, double *l)
{
    if (!all_finite(sigma->x, k * k) || !is_symmetric(sigma->x, k)) return 0;
    memcpy(l, sigma->x, (size_t)k * k * sizeof *l);
    gsl_matrix_view lv = gsl_matrix_view_array(l, (size_t)k, (size_t)k);
    return gsl_linalg_cholesky_decomp1(&lv.matrix) == GSL_SUCCESS;
}

static double mvn_core(DArr x, const DArr *p, double *dx, double *const *dp, double *buf)
{
    int k = p[0].n * p[0].m;
    double *l = buf, *a = buf + (size_t)k * k, *res = a + k;
    if (!all_finite(p[0].x, k) || !factor_covariance(&p[1], k, l)) return NAN;
    for (int i = 0; i < k; i++) res[i] = a[i] = x.x[i] - p[0].x[i];
    gsl_matrix_view lv = gsl_matrix_view_array(l, (size_t)k, (size_t)k);
    gsl_vector_view av = gsl_vector_view_array(a, (size_t)k);
    gsl_linalg_cholesky_svx(&lv.matrix, &av.vector); /* a = Sigma^-1 (x - mu) */
    double quad = 0, half_logdet = 0;
    for (int i = 0; i < k; i++) {
        quad += res[i] * a[i];
        half_logdet += log(l[i * k + i]);
    }
    if (dx)
        for (int i = 0; i < k; i++) dx[i] = -a[i];
    if (dp && dp[0])
        for (int i = 0; i < k; i++) dp[0][i] = a[i];
    if (dp && dp[1]) {
        gsl_linalg_cholesky_invert(&lv.matrix); /* l = Sigma^-1, full */
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                dp[1][i * k + j] = 0.5 * (a[i] * a[j] - l[i * k + j]);
    }
    return -0.5 * quad - half_logdet - k * LOG_SQRT_2PI;
}

static double mvn_lpdf(DArr x, const DArr *p, double *dx, double *const *dp)
{
    int k = vec_len(p[0]);
    if (k < 1 || vec_len(x) != k || p[1].n != k || p[1].m != k) return NAN;
    double stack[MV_STACK_K * MV_STACK_K + 2 * MV_STACK_K];
    double *buf = scratch_get(stack, sizeof stack / sizeof *stack, (size_t)k * k + 2 * (size_t)k);
    if (!buf) return NAN;
    double lp = mvn_core(x, p, dx, dp, buf);
    scratch_free(buf, stack);
    return lp;
}

/* out = mu + L z with z standard normal and L lower triangular (only the
 * lower triangle of l is read). */
static void lower_affine_draw(const gsl_rng *r, const double *mu, const double *l,
                              int k, double *out)
{
    for (int i = 0; i < k; i++) out[i] = gsl_ran_gaussian_ziggurat(r, 1.0);
    gsl_matrix_const_view lv = gsl_matrix_const_view_array(l, (size_t)k, (size_t)k);
    gsl_vector_view ov = gsl_vector_view_array(out, (size_t)k);
    gsl_blas_dtrmv(CblasLower, CblasNoTrans, CblasNonUnit, &lv.matrix, &ov.vector);
    for (int i = 0; i < k; i++) out[i] += mu[i];
}

static void fill_nan(double *out, int n)
{
    for (int i = 0; i < n; i++) out[i] = NAN;
}

static void mvn_sample(const gsl_rng *r, const DArr *p, double *out)
{
    int k = vec_len(p[0]);
    if (k < 1 || p[1].n != k || p[1].m != k) {
        fill_nan(out, k > 0 ? k : 1);
        return;
    }
    double stack[MV_STACK_K * MV_STACK_K];
    double *l = scratch_get(stack, sizeof stack / sizeof *stack, (size_t)k * k);
    if (l && all_finite(p[0].x, k) && factor_covariance(&p[1], k, l))
        lower_affine_draw(r, p[0].x, l, k, out);
    else
        fill_nan(out, k);
    if (l) scratch_free(l, stack);
}

const DistInfo dist_row_mvn = {
    .name = "MultivariateNormal", .nparams = 2,
    .param_names = {"mu", "Sigma"}, .param_kind = {PK_VECTOR, PK_MATRIX},
    .value_kind = VK_VECTOR, .support = SUP_REAL_VECTOR, .lo_param = -1, .hi_param = -1,
    .doc = "multivariate normal with mean mu and covariance Sigma (symmetric positive definite)",
    .mv_lpdf = mvn_lpdf, .mv_shape = mvn_shape, .mv_sample = mvn_sample,
};

/* ---- MultivariateNormalCholesky(mu, L): Sigma = L L^T ------------------ */

static int mvn_chol_shape(const DArr *p, int *rows, int *cols, char *err, int errlen)
{
    if (vector_param_shape("MultivariateNormalCholesky", "mu", p, rows, cols, err, errlen))
        return -1;
    if (p[1].n != *rows || p[1].m != *rows) {
        if (err && errlen > 0)
            snprintf(err, (size_t)errlen,
                     "MultivariateNormalCholesky: L must be %dx%d to match mu, got %dx%d",
                     *rows, *rows, p[1].n, p[1].m);
        return -1;
    }
    return 0;
}

/* The lower triangle of l is a valid factor: finite, positive diagonal. */
static int is_cholesky_factor(const double *l, int k)
{
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < i; j++)
            if (!isfinite(l[i * k + j])) return 0;
        if (!(l[i * k + i] > 0 && l[i * k + i] < INFINITY)) return 0;
    }
    return 1;
}

static double mvn_chol_core(DArr x, const DArr *p, double *dx, double *const *dp, double *buf)
{
    int k = p[0].n * p[0].m;
    const double *l = p[1].x;
    double *y = buf, *a = buf + k;
    /* L is checked only when the density comes out non-finite: an invalid
       factor (a non-finite entry, a diagonal <= 0) always makes it so (NaN
       or inf propagate through the solves and log L_ii), and checking
       first cost as much as the solves for a constant 100 x 100 factor */
    if (!all_finite(p[0].x, k)) return NAN;
    for (int i = 0; i < k; i++) y[i] = x.x[i] - p[0].x[i];
    gsl_matrix_const_view lv = gsl_matrix_const_view_array(l, (size_t)k, (size_t)k);
    gsl_vector_view yv = gsl_vector_view_array(y, (size_t)k);
    gsl_blas_dtrsv(CblasLower, CblasNoTrans, CblasNonUnit, &lv.matrix, &yv.vector);
    memcpy(a, y, (size_t)k * sizeof *a);
    gsl_vector_view av = gsl_vector_view_array(a, (size_t)k);
    gsl_blas_dtrsv(CblasLower, CblasTrans, CblasNonUnit, &lv.matrix, &av.vector);
    double quad = 0, half_logdet = 0;
    for (int i = 0; i < k; i++) {
        quad += y[i] * y[i];
        half_logdet += log(l[i * k + i]);
    }
    if (dx)
        for (int i = 0; i < k; i++) dx[i] = -a[i];
    if (dp && dp[0])
        for (int i = 0; i < k; i++) dp[0][i] = a[i];
    if (dp && dp[1]) { /* d/dL_ij = a_i y_j on the lower triangle */
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                dp[1][i * k + j] = j <= i ? a[i] * y[j] : 0;
        for (int i = 0; i < k; i++) dp[1][i * k + i] -= 1 / l[i * k + i];
    }
    double lp = -0.5 * quad - half_logdet - k * LOG_SQRT_2PI;
    if (!isfinite(lp) && !is_cholesky_factor(l, k))
        return NAN;
    return lp;
}

static double mvn_chol_lpdf(DArr x, const DArr *p, double *dx, double *const *dp)
{
    int k = vec_len(p[0]);
    if (k < 1 || vec_len(x) != k || p[1].n != k || p[1].m != k) return NAN;
    double stack[2 * MV_STACK_K];
    double *buf = scratch_get(stack, sizeof stack / sizeof *stack, 2 * (size_t)k);
    if (!buf) return NAN;
    double lp = mvn_chol_core(x, p, dx, dp, buf);
    scratch_free(buf, stack);
    return lp;
}

static void mvn_chol_sample(const gsl_rng *r, const DArr *p, double *out)
{
    int k = vec_len(p[0]);
    if (k < 1 || p[1].n != k || p[1].m != k || !all_finite(p[0].x, k)
        || !is_cholesky_factor(p[1].x, k)) {
        fill_nan(out, k > 0 ? k : 1);
        return;
    }
    lower_affine_draw(r, p[0].x, p[1].x, k, out);
}

const DistInfo dist_row_mvn_cholesky = {
    .name = "MultivariateNormalCholesky", .nparams = 2,
    .param_names = {"mu", "L"}, .param_kind = {PK_VECTOR, PK_MATRIX},
    .value_kind = VK_VECTOR, .support = SUP_REAL_VECTOR, .lo_param = -1, .hi_param = -1,
    .doc = "multivariate normal with mean mu and covariance L L^T (L lower-triangular)",
    .mv_lpdf = mvn_chol_lpdf, .mv_shape = mvn_chol_shape, .mv_sample = mvn_chol_sample,
};

/* ---- LKJCholesky(K, eta) ----------------------------------------------- */

/* log c_K(eta), the LKJ normalising constant, and its eta derivative:
 * c_K = prod_{k=1}^{K-1} 2^{(2 eta - 2 + K - k)(K - k)} B(b_k, b_k)^{K - k}
 * with b_k = eta + (K - k - 1)/2. */
static double lkj_log_constant(int k, double eta, double *deta)
{
    double c = 0, d = 0;
    for (int j = 1; j < k; j++) {
        double w = k - j, b = eta + 0.5 * (k - j - 1);
        c += w * ((2 * eta - 2 + w) * M_LN2 + gsl_sf_lnbeta(b, b));
        d += w * (2 * M_LN2 + 2 * (gsl_sf_psi(b) - gsl_sf_psi(2 * b)));
    }
    *deta = d;
    return c;
}

/* Lower triangular, positive diagonal, rows of unit length. */
static int is_chol_corr(const double *l, int k)
{
    for (int i = 0; i < k; i++) {
        double norm = 0;
        for (int j = 0; j < k; j++) {
            double v = l[i * k + j];
            if (j > i) {
                if (!(fabs(v) <= SIMPLEX_TOL)) return 0;
            } else {
                if (!isfinite(v)) return 0;
                norm += v * v;
            }
        }
        if (!(l[i * k + i] > 0) || !(fabs(norm - 1) <= SIMPLEX_TOL)) return 0;
    }
    return 1;
}

static double lkj_chol_lpdf(DArr x, const DArr *p, double *dx, double *const *dp)
{
    if (p[1].n * p[1].m != 1) return NAN;
    double kd = scalar_count(p[0]), eta = p[1].x[0];
    if (kd < 1 || !(eta > 0 && eta < INFINITY)) return NAN;
    int k = (int)kd;
    if (x.n != k || x.m != k) return NAN;
    if (!is_chol_corr(x.x, k)) return -INFINITY;
    double dconst, lp = -lkj_log_constant(k, eta, &dconst), sum_logdiag = 0;
    if (dx) fill_zero(dx, k * k);
    for (int i = 1; i < k; i++) {
        double coef = k - i + 2 * eta - 3, ld = log(x.x[i * k + i]);
        lp += coef * ld;
        sum_logdiag += ld;
        if (dx) dx[i * k + i] = coef / x.x[i * k + i];
    }
    zero_int_grad(dp, 0);
    if (dp && dp[1]) dp[1][0] = 2 * sum_logdiag - dconst;
    return lp;
}

static int lkj_chol_shape(const DArr *p, int *rows, int *cols, char *err, int errlen)
{
    double k = scalar_count(p[0]);
    if (k < 1 || k > 46340) {
        if (err && errlen > 0)
            snprintf(err, (size_t)errlen,
                     "LKJCholesky: K must be a positive integer (the matrix dimension)%s",
                     p[0].n == 1 && p[0].m == 1 ? "" : ", got an array");
        return -1;
    }
    if (p[1].n != 1 || p[1].m != 1)
        return shape_error(err, errlen, "%s: %s must be a scalar, got %dx%d",
                           "LKJCholesky", "eta", p[1].n, p[1].m);
    *rows = *cols = (int)k;
    return 0;
}

/* C-vine: the partial correlation of (i, j) given 0..i-1 is 2 Beta(b, b) - 1
 * with b = eta + (K - 2 - i)/2; L is assembled column by column, keeping
 * the unexplained variance of row j on the diagonal until column j. */
static void lkj_chol_sample(const gsl_rng *r, const DArr *p, double *out)
{
    double kd = scalar_count(p[0]), eta = p[1].n * p[1].m == 1 ? p[1].x[0] : NAN;
    int k = kd >= 1 ? (int)kd : 0;
    if (k < 1 || !(eta > 0 && eta < INFINITY)) {
        fill_nan(out, k > 0 ? k * k : 1);
        return;
    }
    fill_zero(out, k * k);
    for (int j = 0; j < k; j++) out[j * k + j] = 1;
    for (int i = 0; i < k; i++) {
        out[i * k + i] = sqrt(out[i * k + i]);
        double b = eta + 0.5 * (k - 2 - i);
        for (int j = i + 1; j < k; j++) {
            double z = 2 * gsl_ran_beta(r, b, b) - 1;
            out[j * k + i] = z * sqrt(out[j * k + j]);
            out[j * k + j] *= 1 - z * z;
        }
    }
}

const DistInfo dist_row_lkj_cholesky = {
    .name = "LKJCholesky", .nparams = 2,
    .param_names = {"K", "eta"}, .param_kind = {PK_INT, PK_REAL},
    .value_kind = VK_MATRIX, .support = SUP_CHOL_CORR, .lo_param = -1, .hi_param = -1,
    .doc = "Cholesky factor of a KxK correlation matrix with LKJ shape eta > 0",
    .mv_lpdf = lkj_chol_lpdf, .mv_shape = lkj_chol_shape, .mv_sample = lkj_chol_sample,
};

/* ---- GaussianRandomWalk(sigma, n) -------------------------------------- */

static double grw_lpdf(DArr x, const DArr *p, double *dx, double *const *dp)
{
    if (p[0].n * p[0].m != 1) return NAN;
    double sigma = p[0].x[0], n = scalar_count(p[1]);
    if (!(sigma > 0 && sigma < INFINITY) || n < 1) return NAN;
    int k = vec_len(x);
    if (k != n) return NAN;
    double inv = 1 / sigma, prev = 0, sumsq = 0;
    for (int t = 0; t < k; t++) {
        double z = (x.x[t] - prev) * inv;
        sumsq += z * z;
        if (dx) { /* z_t pulls x_t down and x_{t-1} up */
            dx[t] = -z * inv;
            if (t > 0) dx[t - 1] += z * inv;
        }
        prev = x.x[t];
    }
    if (dp && dp[0]) dp[0][0] = (sumsq - k) * inv;
    zero_int_grad(dp, 1);
    return -0.5 * sumsq - k * (log(sigma) + LOG_SQRT_2PI);
}

static int grw_shape(const DArr *p, int *rows, int *cols, char *err, int errlen)
{
    if (p[0].n != 1 || p[0].m != 1)
        return shape_error(err, errlen, "%s: %s must be a scalar, got %dx%d",
                           "GaussianRandomWalk", "sigma", p[0].n, p[0].m);
    double n = scalar_count(p[1]);
    if (n < 1 || n > 2147483647.0) {
        if (err && errlen > 0)
            snprintf(err, (size_t)errlen,
                     "GaussianRandomWalk: n must be a positive integer (the length)");
        return -1;
    }
    *rows = (int)n;
    *cols = 1;
    return 0;
}

static void grw_sample(const gsl_rng *r, const DArr *p, double *out)
{
    double sigma = p[0].n * p[0].m == 1 ? p[0].x[0] : NAN, n = scalar_count(p[1]);
    int k = n >= 1 ? (int)n : 0;
    if (k < 1 || !(sigma > 0 && sigma < INFINITY)) {
        fill_nan(out, k > 0 ? k : 1);
        return;
    }
    double prev = 0;
    for (int t = 0; t < k; t++) out[t] = prev = prev + gsl_ran_gaussian_ziggurat(r, sigma);
}

const DistInfo dist_row_gaussian_random_walk = {
    .name = "GaussianRandomWalk", .nparams = 2,
    .param_names = {"sigma", "n"}, .param_kind = {PK_REAL, PK_INT},
    .value_kind = VK_VECTOR, .support = SUP_REAL_VECTOR, .lo_param = -1, .hi_param = -1,
    .doc = "random walk of length n: x[1] ~ Normal(0, sigma), x[t] ~ Normal(x[t-1], sigma)",
    .mv_lpdf = grw_lpdf, .mv_shape = grw_shape, .mv_sample = grw_sample,
};
