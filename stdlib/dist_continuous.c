/*
 * dist_continuous.c - the univariate continuous distributions.
 *
 * Each distribution is a handful of static functions (lpdf, sample, cdf,
 * quantile, moments) and one DistInfo row that dist_table.c lists.  The
 * lpdf functions sit on NUTS's hot path, called once per element per
 * gradient evaluation, so they are written for that:
 *
 *  - Log densities are computed in log form from the start (never
 *    log(gsl_ran_*_pdf), which underflows to -inf a few dozen standard
 *    deviations out), with log1p where an argument is near 1, so they stay
 *    exact far into the tails.
 *  - Gradients are analytic and share the subexpressions of the value;
 *    nothing allocates, and the only transcendental calls are the ones the
 *    formula needs (Normal: one log).  Terms that depend only on shape
 *    parameters (StudentT's, Gamma's and Beta's log-gamma and digamma
 *    terms) are kept in a one-entry memo per thread (ShapeMemo), since the
 *    elements of a vectorised statement share them.
 *  - Parameters are validated first: an invalid one (a scale <= 0, a
 *    non-finite location) gives NAN so the runtime can name the offending
 *    site, and only then does a value outside the support give -INFINITY.
 *    When the result is NAN or -INFINITY the gradient outputs are left
 *    untouched.  At the closed edge of a support (x == 0 for Gamma, x == 1
 *    for Beta) the density is its limit: finite when the exponent of the
 *    edge term is zero (0 * log 0 counts as 0), else 0 or +inf.
 *
 * CDFs come from GSL (gsl_cdf_*) and their parameter gradients are written
 * analytically where a closed form exists (location and scale: -pdf and
 * -pdf * z).  A shape parameter that enters a regularised incomplete gamma
 * or beta function (the nu of StudentT and HalfStudentT, the alpha of
 * Gamma and InverseGamma, both shapes of Beta) has no closed-form
 * derivative in GSL; there we take a four-point central
 * difference of GSL's CDF in that parameter (cdf_shape_slope), accurate to
 * about 1e-10, which is plenty for the truncation and counterfactual uses
 * the CDF serves, and costs four CDF calls.
 *
 * Samplers use GSL's variates; moments() returns 1 when both the mean and
 * the variance are finite, and 0 (writing what exists: a finite mean, or
 * NAN, and the variance as INFINITY or NAN) when they are not.  Rows whose
 * moments never exist (Cauchy, HalfCauchy, Flat, HalfFlat) have moments
 * NULL, as rows without a CDF have cdf NULL.
 */
#include <math.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_erf.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>

#include "dist.h"

#define LOG_SQRT_2PI 0.918938533204672741780329736406 /* log(sqrt(2 pi)) */
#define LOG_PI       1.144729885849400174143427351353 /* log(pi)         */

/* ---- shared helpers ---------------------------------------------------- */

static int is_pos(double v) { return v > 0 && v < INFINITY; }
static int is_real(double v) { return isfinite(v); }
static int bad_u(double u) { return !(u >= 0 && u <= 1); }

/* -INFINITY for an infinite value (every proper density vanishes there),
 * NAN for NaN; used before formulas that would turn inf into inf - inf. */
static double nonfinite_value(double x) { return isnan(x) ? NAN : -INFINITY; }

/* a1 * lx (lx = log x) with 0 * log 0 = 0: the edge term of a density
 * whose exponent is zero (Gamma(1, b) at 0, Beta(1, b) at 0) stays finite. */
static double edge_term(double a1, double lx)
{
    return a1 == 0 ? 0 : a1 * lx;
}

/* log(1 + z^2/nu) given z2 = z*z, also once z*z has overflowed (|z| >
 * 1e154), where the heavy tails of t and Cauchy still have finite logs. */
static double log1p_sq_over(double z, double z2, double nu)
{
    return z2 < INFINITY ? log1p(z2 / nu) : 2 * log(fabs(z)) - log(nu);
}

/* The CDF gradient of a location-scale family: F(x) = G((x - loc)/scale)
 * gives dF/dloc = -g(z)/scale and dF/dscale = -g(z) z/scale, where g is
 * the standard density (0 * inf at an infinite z counts as 0). */
static void loc_scale_cdf_grad(double g, double z, double scale,
                               double *dloc, double *dscale)
{
    *dloc = -g / scale;
    *dscale = isinf(z) ? 0 : -g * z / scale;
}

/* d/dp[i] of a CDF with no closed-form shape gradient: a four-point central
 * difference (error O(h^4)) with h a thousandth of the shape, so p[i] - 2h
 * stays positive and both truncation and rounding error stay near 1e-11. */
static double cdf_shape_slope(double (*cdf)(double, const double *, double *),
                              double x, const double *p, int np, int i)
{
    static const double step[4] = {-2, -1, 1, 2};
    static const double weight[4] = {1, -8, 8, -1};
    double q[DIST_MAX_PARAMS], h = 1e-3 * p[i], sum = 0;
    memcpy(q, p, (size_t)np * sizeof *q);
    for (int k = 0; k < 4; k++) {
        q[i] = p[i] + step[k] * h;
        sum += weight[k] * cdf(x, q, NULL);
    }
    return sum / (12 * h);
}

/* The parameter-only terms of a density (a log normalising constant and
 * the digammas of its gradient) cost more than the rest of it together.
 * Within a vectorised statement the elements usually share those
 * parameters, so each such row keeps a one-entry memo per thread of its
 * last shape parameters: a hit costs two compares, and the values are the
 * ones a recomputation would give bit for bit, so results never depend on
 * the order of calls. */
typedef struct {
    double a, b;        /* the shapes the terms belong to (NAN: empty) */
    double logc;        /* log normalising constant                    */
    double da, db;      /* parameter-only parts of the shape gradients */
} ShapeMemo;

/* ---- Normal(mu, sigma) ------------------------------------------------- */

static double normal_lpdf(double x, const double *p, double *dx, double *dp)
{
    double mu = p[0], sigma = p[1];
    if (!is_real(mu) || !is_pos(sigma)) return NAN;
    double inv = 1 / sigma, z = (x - mu) * inv;
    if (dx) *dx = -z * inv;
    if (dp) {
        dp[0] = z * inv;
        dp[1] = (z * z - 1) * inv;
    }
    return -0.5 * z * z - log(sigma) - LOG_SQRT_2PI;
}

static double normal_sample(const gsl_rng *r, const double *p)
{
    if (!is_real(p[0]) || !is_pos(p[1])) return NAN;
    return p[0] + gsl_ran_gaussian_ziggurat(r, p[1]);
}

static double normal_cdf(double x, const double *p, double *dp)
{
    double mu = p[0], sigma = p[1];
    if (!is_real(mu) || !is_pos(sigma) || isnan(x)) return NAN;
    double z = (x - mu) / sigma;
    if (dp) loc_scale_cdf_grad(gsl_ran_ugaussian_pdf(z), z, sigma, &dp[0], &dp[1]);
    return gsl_cdf_ugaussian_P(z);
}

static double normal_quantile(double u, const double *p)
{
    if (!is_real(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    return p[0] + p[1] * gsl_cdf_ugaussian_Pinv(u);
}

static int normal_moments(const double *p, double *mean, double *var)
{
    *mean = p[0];
    *var = p[1] * p[1];
    return 1;
}

const DistInfo dist_row_normal = {
    .name = "Normal", .nparams = 2,
    .param_names = {"mu", "sigma"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_REAL, .lo_param = -1, .hi_param = -1,
    .doc = "normal with location mu and scale sigma > 0",
    .lpdf = normal_lpdf, .sample = normal_sample, .cdf = normal_cdf,
    .quantile = normal_quantile, .moments = normal_moments,
};

/* ---- StudentT(nu, mu, sigma) ------------------------------------------- */

static int student_t_bad(const double *p)
{
    return !is_pos(p[0]) || !is_real(p[1]) || !is_pos(p[2]);
}

static _Thread_local ShapeMemo student_t_memo = {NAN, NAN, 0, 0, 0};

/* log Gamma((nu+1)/2) - log Gamma(nu/2) - log(nu pi)/2 and its nu slope */
static const ShapeMemo *student_t_terms(double nu)
{
    ShapeMemo *m = &student_t_memo;
    if (m->a != nu) {
        double half = 0.5 * (nu + 1);
        m->logc = gsl_sf_lngamma(half) - gsl_sf_lngamma(0.5 * nu) - 0.5 * (log(nu) + LOG_PI);
        m->da = 0.5 * (gsl_sf_psi(half) - gsl_sf_psi(0.5 * nu) - 1 / nu);
        m->a = nu;
    }
    return m;
}

static double student_t_lpdf(double x, const double *p, double *dx, double *dp)
{
    double nu = p[0], mu = p[1], sigma = p[2];
    if (student_t_bad(p)) return NAN;
    if (!isfinite(x)) return nonfinite_value(x);
    const ShapeMemo *m = student_t_terms(nu);
    double z = (x - mu) / sigma, z2 = z * z, half = 0.5 * (nu + 1);
    double l1p = log1p_sq_over(z, z2, nu);
    double lp = m->logc - log(sigma) - half * l1p;
    if (dx || dp) {
        double g = (nu + 1) * z / (sigma * (nu + z2)); /* -d lp / dx */
        double frac = z2 < INFINITY ? z2 / (nu + z2) : 1; /* z^2 / (nu + z^2) */
        if (dx) *dx = -g;
        if (dp) {
            dp[0] = m->da - 0.5 * l1p + half * frac / nu;
            dp[1] = g;
            dp[2] = ((nu + 1) * frac - 1) / sigma;
        }
    }
    return lp;
}

static double student_t_sample(const gsl_rng *r, const double *p)
{
    if (student_t_bad(p)) return NAN;
    return p[1] + p[2] * gsl_ran_tdist(r, p[0]);
}

static double student_t_cdf(double x, const double *p, double *dp)
{
    if (student_t_bad(p) || isnan(x)) return NAN;
    double z = (x - p[1]) / p[2];
    if (isinf(z)) {
        if (dp) dp[0] = dp[1] = dp[2] = 0;
        return z > 0;
    }
    if (dp) {
        loc_scale_cdf_grad(gsl_ran_tdist_pdf(z, p[0]), z, p[2], &dp[1], &dp[2]);
        dp[0] = cdf_shape_slope(student_t_cdf, x, p, 3, 0);
    }
    return gsl_cdf_tdist_P(z, p[0]);
}

/* The standard t quantile.  GSL's Newton iteration fails to converge for
 * some u when nu < 1 (it returns NAN); there we invert through the beta
 * relation P(T <= -t) = I_{nu / (nu + t^2)}(nu/2, 1/2) / 2 instead. */
static double t_quantile_std(double u, double nu)
{
    double t = gsl_cdf_tdist_Pinv(u, nu);
    if (!isnan(t)) return t;
    double tail = u < 0.5 ? u : 1 - u;
    double b = gsl_cdf_beta_Pinv(2 * tail, 0.5 * nu, 0.5);
    t = sqrt(nu * (1 - b) / b);
    return u < 0.5 ? -t : t;
}

static double student_t_quantile(double u, const double *p)
{
    if (student_t_bad(p) || bad_u(u)) return NAN;
    return p[1] + p[2] * t_quantile_std(u, p[0]);
}

static int student_t_moments(const double *p, double *mean, double *var)
{
    double nu = p[0];
    *mean = nu > 1 ? p[1] : NAN;
    *var = nu > 2 ? p[2] * p[2] * nu / (nu - 2) : nu > 1 ? INFINITY : NAN;
    return nu > 2;
}

const DistInfo dist_row_student_t = {
    .name = "StudentT", .nparams = 3,
    .param_names = {"nu", "mu", "sigma"},
    .param_kind = {PK_REAL, PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_REAL, .lo_param = -1, .hi_param = -1,
    .doc = "Student's t with nu > 0 degrees of freedom, location mu, scale sigma > 0",
    .lpdf = student_t_lpdf, .sample = student_t_sample, .cdf = student_t_cdf,
    .quantile = student_t_quantile, .moments = student_t_moments,
};

/* ---- Cauchy(mu, sigma) ------------------------------------------------- */

static double cauchy_lpdf(double x, const double *p, double *dx, double *dp)
{
    double mu = p[0], sigma = p[1];
    if (!is_real(mu) || !is_pos(sigma)) return NAN;
    if (!isfinite(x)) return nonfinite_value(x);
    double z = (x - mu) / sigma, z2 = z * z;
    if (dx || dp) {
        double g = 2 * z / (sigma * (1 + z2)); /* -d lp / dx */
        double frac = z2 < INFINITY ? z2 / (1 + z2) : 1;
        if (dx) *dx = -g;
        if (dp) {
            dp[0] = g;
            dp[1] = (2 * frac - 1) / sigma;
        }
    }
    return -LOG_PI - log(sigma) - log1p_sq_over(z, z2, 1);
}

static double cauchy_sample(const gsl_rng *r, const double *p)
{
    if (!is_real(p[0]) || !is_pos(p[1])) return NAN;
    return p[0] + gsl_ran_cauchy(r, p[1]);
}

static double cauchy_cdf(double x, const double *p, double *dp)
{
    if (!is_real(p[0]) || !is_pos(p[1]) || isnan(x)) return NAN;
    double z = (x - p[0]) / p[1];
    if (dp) loc_scale_cdf_grad(1 / (M_PI * (1 + z * z)), z, p[1], &dp[0], &dp[1]);
    return gsl_cdf_cauchy_P(z, 1.0);
}

static double cauchy_quantile(double u, const double *p)
{
    if (!is_real(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    if (u == 0 || u == 1) return u == 0 ? -INFINITY : INFINITY;
    return p[0] + p[1] * gsl_cdf_cauchy_Pinv(u, 1.0);
}

const DistInfo dist_row_cauchy = {
    .name = "Cauchy", .nparams = 2,
    .param_names = {"mu", "sigma"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_REAL, .lo_param = -1, .hi_param = -1,
    .doc = "Cauchy with location mu and scale sigma > 0 (no mean or variance)",
    .lpdf = cauchy_lpdf, .sample = cauchy_sample, .cdf = cauchy_cdf,
    .quantile = cauchy_quantile, .moments = NULL,
};

/* ---- Laplace(mu, sigma) ------------------------------------------------ */

static double laplace_lpdf(double x, const double *p, double *dx, double *dp)
{
    double mu = p[0], b = p[1];
    if (!is_real(mu) || !is_pos(b)) return NAN;
    if (!isfinite(x)) return nonfinite_value(x);
    double d = x - mu, ad = fabs(d), inv = 1 / b;
    if (dx || dp) {
        double s = (d > 0) - (d < 0); /* sign; 0 at the kink */
        if (dx) *dx = -s * inv;
        if (dp) {
            dp[0] = s * inv;
            dp[1] = (ad * inv - 1) * inv;
        }
    }
    return -M_LN2 - log(b) - ad * inv;
}

static double laplace_sample(const gsl_rng *r, const double *p)
{
    if (!is_real(p[0]) || !is_pos(p[1])) return NAN;
    return p[0] + gsl_ran_laplace(r, p[1]);
}

static double laplace_cdf(double x, const double *p, double *dp)
{
    if (!is_real(p[0]) || !is_pos(p[1]) || isnan(x)) return NAN;
    double z = (x - p[0]) / p[1];
    if (dp) loc_scale_cdf_grad(0.5 * exp(-fabs(z)), z, p[1], &dp[0], &dp[1]);
    return gsl_cdf_laplace_P(z, 1.0);
}

static double laplace_quantile(double u, const double *p)
{
    if (!is_real(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    return p[0] + p[1] * gsl_cdf_laplace_Pinv(u, 1.0);
}

static int laplace_moments(const double *p, double *mean, double *var)
{
    *mean = p[0];
    *var = 2 * p[1] * p[1];
    return 1;
}

const DistInfo dist_row_laplace = {
    .name = "Laplace", .nparams = 2,
    .param_names = {"mu", "sigma"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_REAL, .lo_param = -1, .hi_param = -1,
    .doc = "Laplace (double exponential) with location mu and scale sigma > 0",
    .lpdf = laplace_lpdf, .sample = laplace_sample, .cdf = laplace_cdf,
    .quantile = laplace_quantile, .moments = laplace_moments,
};

/* ---- Logistic(mu, sigma) ----------------------------------------------- */

static double logistic_lpdf(double x, const double *p, double *dx, double *dp)
{
    double mu = p[0], s = p[1];
    if (!is_real(mu) || !is_pos(s)) return NAN;
    if (!isfinite(x)) return nonfinite_value(x);
    double z = (x - mu) / s, az = fabs(z);
    if (dx || dp) {
        double t = tanh(0.5 * z) / s; /* -d lp / dx */
        if (dx) *dx = -t;
        if (dp) {
            dp[0] = t;
            dp[1] = t * z - 1 / s;
        }
    }
    /* the density is symmetric in z, so use -|z| and exp(-|z|) <= 1 */
    return -az - log(s) - 2 * log1p(exp(-az));
}

static double logistic_sample(const gsl_rng *r, const double *p)
{
    if (!is_real(p[0]) || !is_pos(p[1])) return NAN;
    return p[0] + gsl_ran_logistic(r, p[1]);
}

static double logistic_cdf(double x, const double *p, double *dp)
{
    if (!is_real(p[0]) || !is_pos(p[1]) || isnan(x)) return NAN;
    double z = (x - p[0]) / p[1];
    if (dp) {
        double e = exp(-fabs(z));
        loc_scale_cdf_grad(e / ((1 + e) * (1 + e)), z, p[1], &dp[0], &dp[1]);
    }
    return gsl_cdf_logistic_P(z, 1.0);
}

static double logistic_quantile(double u, const double *p)
{
    if (!is_real(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    return p[0] + p[1] * gsl_cdf_logistic_Pinv(u, 1.0);
}

static int logistic_moments(const double *p, double *mean, double *var)
{
    *mean = p[0];
    *var = p[1] * p[1] * M_PI * M_PI / 3;
    return 1;
}

const DistInfo dist_row_logistic = {
    .name = "Logistic", .nparams = 2,
    .param_names = {"mu", "sigma"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_REAL, .lo_param = -1, .hi_param = -1,
    .doc = "logistic with location mu and scale sigma > 0",
    .lpdf = logistic_lpdf, .sample = logistic_sample, .cdf = logistic_cdf,
    .quantile = logistic_quantile, .moments = logistic_moments,
};

/* ---- Uniform(alpha, beta) ---------------------------------------------- */

static int uniform_bad(const double *p)
{
    return !is_real(p[0]) || !is_real(p[1]) || !(p[0] < p[1]);
}

static double uniform_lpdf(double x, const double *p, double *dx, double *dp)
{
    if (uniform_bad(p)) return NAN;
    if (!(x >= p[0] && x <= p[1])) return isnan(x) ? NAN : -INFINITY;
    double w = p[1] - p[0];
    if (dx) *dx = 0;
    if (dp) { /* the bounds may be other sites: d(-log w) */
        dp[0] = 1 / w;
        dp[1] = -1 / w;
    }
    return -log(w);
}

static double uniform_sample(const gsl_rng *r, const double *p)
{
    if (uniform_bad(p)) return NAN;
    return gsl_ran_flat(r, p[0], p[1]);
}

static double uniform_cdf(double x, const double *p, double *dp)
{
    if (uniform_bad(p) || isnan(x)) return NAN;
    double lo = p[0], hi = p[1], w = hi - lo;
    int inside = x > lo && x < hi;
    if (dp) {
        dp[0] = inside ? (x - hi) / (w * w) : 0;
        dp[1] = inside ? -(x - lo) / (w * w) : 0;
    }
    return x <= lo ? 0 : x >= hi ? 1 : (x - lo) / w;
}

static double uniform_quantile(double u, const double *p)
{
    if (uniform_bad(p) || bad_u(u)) return NAN;
    return u == 1 ? p[1] : p[0] + u * (p[1] - p[0]);
}

static int uniform_moments(const double *p, double *mean, double *var)
{
    double w = p[1] - p[0];
    *mean = 0.5 * (p[0] + p[1]);
    *var = w * w / 12;
    return 1;
}

const DistInfo dist_row_uniform = {
    .name = "Uniform", .nparams = 2,
    .param_names = {"alpha", "beta"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_INTERVAL, .lo_param = 0, .hi_param = 1,
    .doc = "uniform on the interval (alpha, beta), alpha < beta",
    .lpdf = uniform_lpdf, .sample = uniform_sample, .cdf = uniform_cdf,
    .quantile = uniform_quantile, .moments = uniform_moments,
};

/* ---- Flat() and HalfFlat(): improper, for explicit uninformative priors - */

static double flat_lpdf(double x, const double *p, double *dx, double *dp)
{
    (void)p, (void)dp;
    if (!isfinite(x)) return nonfinite_value(x);
    if (dx) *dx = 0;
    return 0;
}

const DistInfo dist_row_flat = {
    .name = "Flat", .nparams = 0,
    .value_kind = VK_REAL, .support = SUP_REAL, .lo_param = -1, .hi_param = -1,
    .doc = "improper flat density on the real line (no sampler)",
    .lpdf = flat_lpdf,
};

static double half_flat_lpdf(double x, const double *p, double *dx, double *dp)
{
    (void)p, (void)dp;
    if (!(x >= 0 && x < INFINITY)) return isnan(x) ? NAN : -INFINITY;
    if (dx) *dx = 0;
    return 0;
}

const DistInfo dist_row_half_flat = {
    .name = "HalfFlat", .nparams = 0,
    .value_kind = VK_REAL, .support = SUP_POSITIVE, .lo_param = -1, .hi_param = -1,
    .doc = "improper flat density on the positive reals (no sampler)",
    .lpdf = half_flat_lpdf,
};

/* ---- HalfNormal(sigma) ------------------------------------------------- */

static double half_normal_lpdf(double x, const double *p, double *dx, double *dp)
{
    double sigma = p[0];
    if (!is_pos(sigma)) return NAN;
    if (!(x >= 0)) return isnan(x) ? NAN : -INFINITY;
    double inv = 1 / sigma, z = x * inv;
    if (dx) *dx = -z * inv;
    if (dp) dp[0] = (z * z - 1) * inv;
    return M_LN2 - LOG_SQRT_2PI - log(sigma) - 0.5 * z * z;
}

static double half_normal_sample(const gsl_rng *r, const double *p)
{
    if (!is_pos(p[0])) return NAN;
    return fabs(gsl_ran_gaussian_ziggurat(r, p[0]));
}

static double half_normal_cdf(double x, const double *p, double *dp)
{
    if (!is_pos(p[0]) || isnan(x)) return NAN;
    double z = x > 0 ? x / p[0] : 0;
    if (dp) dp[0] = isinf(z) ? 0 : -2 * gsl_ran_ugaussian_pdf(z) * z / p[0];
    return isinf(z) ? 1 : gsl_sf_erf(z * M_SQRT1_2);
}

static double half_normal_quantile(double u, const double *p)
{
    if (!is_pos(p[0]) || bad_u(u)) return NAN;
    return p[0] * gsl_cdf_ugaussian_Qinv(0.5 * (1 - u));
}

static int half_normal_moments(const double *p, double *mean, double *var)
{
    *mean = p[0] * sqrt(2 / M_PI);
    *var = p[0] * p[0] * (1 - 2 / M_PI);
    return 1;
}

const DistInfo dist_row_half_normal = {
    .name = "HalfNormal", .nparams = 1,
    .param_names = {"sigma"}, .param_kind = {PK_REAL},
    .value_kind = VK_REAL, .support = SUP_POSITIVE, .lo_param = -1, .hi_param = -1,
    .doc = "normal(0, sigma) folded onto the positive reals, sigma > 0",
    .lpdf = half_normal_lpdf, .sample = half_normal_sample, .cdf = half_normal_cdf,
    .quantile = half_normal_quantile, .moments = half_normal_moments,
};

/* ---- HalfCauchy(sigma) ------------------------------------------------- */

static double half_cauchy_lpdf(double x, const double *p, double *dx, double *dp)
{
    double sigma = p[0];
    if (!is_pos(sigma)) return NAN;
    if (!(x >= 0 && x < INFINITY)) return isnan(x) ? NAN : -INFINITY;
    double z = x / sigma, z2 = z * z;
    if (dx || dp) {
        double g = 2 * z / (sigma * (1 + z2));
        double frac = z2 < INFINITY ? z2 / (1 + z2) : 1;
        if (dx) *dx = -g;
        if (dp) dp[0] = (2 * frac - 1) / sigma;
    }
    return M_LN2 - LOG_PI - log(sigma) - log1p_sq_over(z, z2, 1);
}

static double half_cauchy_sample(const gsl_rng *r, const double *p)
{
    if (!is_pos(p[0])) return NAN;
    return fabs(gsl_ran_cauchy(r, p[0]));
}

static double half_cauchy_cdf(double x, const double *p, double *dp)
{
    if (!is_pos(p[0]) || isnan(x)) return NAN;
    double z = x > 0 ? x / p[0] : 0;
    if (dp) dp[0] = isinf(z) ? 0 : -2 / M_PI * z / ((1 + z * z) * p[0]);
    return 2 / M_PI * atan(z);
}

static double half_cauchy_quantile(double u, const double *p)
{
    if (!is_pos(p[0]) || bad_u(u)) return NAN;
    return u == 1 ? INFINITY : p[0] * tan(0.5 * M_PI * u);
}

const DistInfo dist_row_half_cauchy = {
    .name = "HalfCauchy", .nparams = 1,
    .param_names = {"sigma"}, .param_kind = {PK_REAL},
    .value_kind = VK_REAL, .support = SUP_POSITIVE, .lo_param = -1, .hi_param = -1,
    .doc = "Cauchy(0, sigma) folded onto the positive reals (no mean or variance)",
    .lpdf = half_cauchy_lpdf, .sample = half_cauchy_sample, .cdf = half_cauchy_cdf,
    .quantile = half_cauchy_quantile, .moments = NULL,
};

/* ---- HalfStudentT(nu, sigma) ------------------------------------------- */

static double half_student_t_lpdf(double x, const double *p, double *dx, double *dp)
{
    double q[3] = {p[0], 0, p[1]}, g[3];
    if (!is_pos(p[0]) || !is_pos(p[1])) return NAN;
    if (!(x >= 0)) return isnan(x) ? NAN : -INFINITY;
    double lp = student_t_lpdf(x, q, dx, dp ? g : NULL);
    if (dp) {
        dp[0] = g[0];
        dp[1] = g[2];
    }
    return M_LN2 + lp;
}

static double half_student_t_sample(const gsl_rng *r, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1])) return NAN;
    return p[1] * fabs(gsl_ran_tdist(r, p[0]));
}

static double half_student_t_cdf(double x, const double *p, double *dp)
{
    if (!is_pos(p[0]) || !is_pos(p[1]) || isnan(x)) return NAN;
    double z = x > 0 ? x / p[1] : 0;
    if (z == 0 || isinf(z)) {
        if (dp) dp[0] = dp[1] = 0;
        return z > 0;
    }
    if (dp) {
        dp[1] = -2 * gsl_ran_tdist_pdf(z, p[0]) * z / p[1];
        dp[0] = cdf_shape_slope(half_student_t_cdf, x, p, 2, 0);
    }
    return 1 - 2 * gsl_cdf_tdist_Q(z, p[0]);
}

static double half_student_t_quantile(double u, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    return -p[1] * t_quantile_std(0.5 * (1 - u), p[0]);
}

static int half_student_t_moments(const double *p, double *mean, double *var)
{
    double nu = p[0], s = p[1];
    *mean = nu > 1 ? 2 * s * sqrt(nu / M_PI)
                   * exp(gsl_sf_lngamma(0.5 * (nu + 1)) - gsl_sf_lngamma(0.5 * nu))
                   / (nu - 1)
                   : NAN;
    *var = nu > 2 ? s * s * nu / (nu - 2) - *mean * *mean : nu > 1 ? INFINITY : NAN;
    return nu > 2;
}

const DistInfo dist_row_half_student_t = {
    .name = "HalfStudentT", .nparams = 2,
    .param_names = {"nu", "sigma"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_POSITIVE, .lo_param = -1, .hi_param = -1,
    .doc = "Student's t(nu, 0, sigma) folded onto the positive reals",
    .lpdf = half_student_t_lpdf, .sample = half_student_t_sample,
    .cdf = half_student_t_cdf, .quantile = half_student_t_quantile,
    .moments = half_student_t_moments,
};

/* ---- LogNormal(mu, sigma) ---------------------------------------------- */

static double lognormal_lpdf(double x, const double *p, double *dx, double *dp)
{
    double mu = p[0], sigma = p[1];
    if (!is_real(mu) || !is_pos(sigma)) return NAN;
    if (!(x > 0 && x < INFINITY)) return isnan(x) ? NAN : -INFINITY;
    double lx = log(x), inv = 1 / sigma, z = (lx - mu) * inv;
    if (dx) *dx = -(z * inv + 1) / x;
    if (dp) {
        dp[0] = z * inv;
        dp[1] = (z * z - 1) * inv;
    }
    return -0.5 * z * z - log(sigma) - LOG_SQRT_2PI - lx;
}

static double lognormal_sample(const gsl_rng *r, const double *p)
{
    if (!is_real(p[0]) || !is_pos(p[1])) return NAN;
    return gsl_ran_lognormal(r, p[0], p[1]);
}

static double lognormal_cdf(double x, const double *p, double *dp)
{
    if (!is_real(p[0]) || !is_pos(p[1]) || isnan(x)) return NAN;
    double z = x > 0 ? (log(x) - p[0]) / p[1] : -INFINITY;
    if (dp) loc_scale_cdf_grad(gsl_ran_ugaussian_pdf(z), z, p[1], &dp[0], &dp[1]);
    return gsl_cdf_ugaussian_P(z);
}

static double lognormal_quantile(double u, const double *p)
{
    if (!is_real(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    return exp(p[0] + p[1] * gsl_cdf_ugaussian_Pinv(u));
}

static int lognormal_moments(const double *p, double *mean, double *var)
{
    double s2 = p[1] * p[1];
    *mean = exp(p[0] + 0.5 * s2);
    *var = expm1(s2) * exp(2 * p[0] + s2);
    return isfinite(*var);
}

const DistInfo dist_row_lognormal = {
    .name = "LogNormal", .nparams = 2,
    .param_names = {"mu", "sigma"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_POSITIVE, .lo_param = -1, .hi_param = -1,
    .doc = "log-normal: log(x) ~ Normal(mu, sigma), sigma > 0",
    .lpdf = lognormal_lpdf, .sample = lognormal_sample, .cdf = lognormal_cdf,
    .quantile = lognormal_quantile, .moments = lognormal_moments,
};

/* ---- Exponential(beta): beta is the rate ------------------------------- */

static double exponential_lpdf(double x, const double *p, double *dx, double *dp)
{
    double rate = p[0];
    if (!is_pos(rate)) return NAN;
    if (!(x >= 0)) return isnan(x) ? NAN : -INFINITY;
    if (dx) *dx = -rate;
    if (dp) dp[0] = 1 / rate - x;
    return log(rate) - rate * x;
}

static double exponential_sample(const gsl_rng *r, const double *p)
{
    if (!is_pos(p[0])) return NAN;
    return gsl_ran_exponential(r, 1 / p[0]);
}

static double exponential_cdf(double x, const double *p, double *dp)
{
    if (!is_pos(p[0]) || isnan(x)) return NAN;
    double t = x > 0 ? x : 0;
    if (dp) dp[0] = isinf(t) ? 0 : t * exp(-p[0] * t);
    return -expm1(-p[0] * t);
}

static double exponential_quantile(double u, const double *p)
{
    if (!is_pos(p[0]) || bad_u(u)) return NAN;
    return -log1p(-u) / p[0];
}

static int exponential_moments(const double *p, double *mean, double *var)
{
    *mean = 1 / p[0];
    *var = *mean * *mean;
    return 1;
}

const DistInfo dist_row_exponential = {
    .name = "Exponential", .nparams = 1,
    .param_names = {"beta"}, .param_kind = {PK_REAL},
    .value_kind = VK_REAL, .support = SUP_POSITIVE, .lo_param = -1, .hi_param = -1,
    .doc = "exponential with rate beta > 0 (mean 1/beta)",
    .lpdf = exponential_lpdf, .sample = exponential_sample, .cdf = exponential_cdf,
    .quantile = exponential_quantile, .moments = exponential_moments,
};

/* ---- Gamma(alpha, beta): shape and rate -------------------------------- */

/* log Gamma(alpha) and psi(alpha), shared by Gamma and InverseGamma (each
 * with its own memo, since a model often has both). */
static const ShapeMemo *lngamma_terms(ShapeMemo *m, double a)
{
    if (m->a != a) {
        m->logc = gsl_sf_lngamma(a);
        m->da = gsl_sf_psi(a);
        m->a = a;
    }
    return m;
}

static _Thread_local ShapeMemo gamma_memo = {NAN, NAN, 0, 0, 0};

static double gamma_lpdf(double x, const double *p, double *dx, double *dp)
{
    double a = p[0], b = p[1];
    if (!is_pos(a) || !is_pos(b)) return NAN;
    if (!(x >= 0 && x < INFINITY)) return isnan(x) ? NAN : -INFINITY;
    const ShapeMemo *m = lngamma_terms(&gamma_memo, a);
    double lb = log(b), lx = log(x);
    if (dx) *dx = (a - 1) / x - b;
    if (dp) {
        dp[0] = lb - m->da + lx;
        dp[1] = a / b - x;
    }
    return a * lb - m->logc + edge_term(a - 1, lx) - b * x;
}

static double gamma_sample(const gsl_rng *r, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1])) return NAN;
    return gsl_ran_gamma(r, p[0], 1 / p[1]);
}

static double gamma_cdf(double x, const double *p, double *dp)
{
    if (!is_pos(p[0]) || !is_pos(p[1]) || isnan(x)) return NAN;
    double y = x > 0 ? p[1] * x : 0; /* P(alpha, beta x) */
    if (y == 0 || isinf(y)) {
        if (dp) dp[0] = dp[1] = 0;
        return y > 0;
    }
    if (dp) {
        dp[1] = x * gsl_ran_gamma_pdf(y, p[0], 1.0);
        dp[0] = cdf_shape_slope(gamma_cdf, x, p, 2, 0);
    }
    return gsl_cdf_gamma_P(y, p[0], 1.0);
}

static double gamma_quantile(double u, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    return gsl_cdf_gamma_Pinv(u, p[0], 1.0) / p[1];
}

static int gamma_moments(const double *p, double *mean, double *var)
{
    *mean = p[0] / p[1];
    *var = *mean / p[1];
    return 1;
}

const DistInfo dist_row_gamma = {
    .name = "Gamma", .nparams = 2,
    .param_names = {"alpha", "beta"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_POSITIVE, .lo_param = -1, .hi_param = -1,
    .doc = "gamma with shape alpha > 0 and rate beta > 0 (mean alpha/beta)",
    .lpdf = gamma_lpdf, .sample = gamma_sample, .cdf = gamma_cdf,
    .quantile = gamma_quantile, .moments = gamma_moments,
};

/* ---- InverseGamma(alpha, beta): shape and scale ------------------------ */

static _Thread_local ShapeMemo inv_gamma_memo = {NAN, NAN, 0, 0, 0};

static double inv_gamma_lpdf(double x, const double *p, double *dx, double *dp)
{
    double a = p[0], b = p[1];
    if (!is_pos(a) || !is_pos(b)) return NAN;
    if (!(x > 0 && x < INFINITY)) return isnan(x) ? NAN : -INFINITY;
    const ShapeMemo *m = lngamma_terms(&inv_gamma_memo, a);
    double lx = log(x), lb = log(b), ix = 1 / x;
    if (dx) *dx = (b * ix - (a + 1)) * ix;
    if (dp) {
        dp[0] = lb - m->da - lx;
        dp[1] = a / b - ix;
    }
    return a * lb - m->logc - (a + 1) * lx - b * ix;
}

static double inv_gamma_sample(const gsl_rng *r, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1])) return NAN;
    return p[1] / gsl_ran_gamma(r, p[0], 1.0);
}

/* F(x) = Q(alpha, beta / x), the upper regularised incomplete gamma. */
static double inv_gamma_cdf(double x, const double *p, double *dp)
{
    if (!is_pos(p[0]) || !is_pos(p[1]) || isnan(x)) return NAN;
    double y = x > 0 ? p[1] / x : INFINITY;
    if (y == 0 || isinf(y)) {
        if (dp) dp[0] = dp[1] = 0;
        return y == 0;
    }
    if (dp) {
        dp[1] = -gsl_ran_gamma_pdf(y, p[0], 1.0) / x;
        dp[0] = cdf_shape_slope(inv_gamma_cdf, x, p, 2, 0);
    }
    return gsl_cdf_gamma_Q(y, p[0], 1.0);
}

static double inv_gamma_quantile(double u, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    return p[1] / gsl_cdf_gamma_Qinv(u, p[0], 1.0);
}

static int inv_gamma_moments(const double *p, double *mean, double *var)
{
    double a = p[0], b = p[1];
    *mean = a > 1 ? b / (a - 1) : NAN;
    *var = a > 2 ? *mean * *mean / (a - 2) : a > 1 ? INFINITY : NAN;
    return a > 2;
}

const DistInfo dist_row_inv_gamma = {
    .name = "InverseGamma", .nparams = 2,
    .param_names = {"alpha", "beta"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_POSITIVE, .lo_param = -1, .hi_param = -1,
    .doc = "inverse gamma with shape alpha > 0 and scale beta > 0 (1/x ~ Gamma(alpha, beta))",
    .lpdf = inv_gamma_lpdf, .sample = inv_gamma_sample, .cdf = inv_gamma_cdf,
    .quantile = inv_gamma_quantile, .moments = inv_gamma_moments,
};

/* ---- Weibull(alpha, sigma): shape and scale ---------------------------- */

static double weibull_lpdf(double x, const double *p, double *dx, double *dp)
{
    double k = p[0], s = p[1];
    if (!is_pos(k) || !is_pos(s)) return NAN;
    if (!(x >= 0 && x < INFINITY)) return isnan(x) ? NAN : -INFINITY;
    double lt = log(x / s), tk = exp(k * lt); /* (x/s)^k */
    if (dx) *dx = ((k - 1) - k * tk) / x;
    if (dp) {
        dp[0] = 1 / k + lt * (1 - tk);
        dp[1] = k / s * (tk - 1);
    }
    return log(k) - log(s) + edge_term(k - 1, lt) - tk;
}

static double weibull_sample(const gsl_rng *r, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1])) return NAN;
    return gsl_ran_weibull(r, p[1], p[0]);
}

static double weibull_cdf(double x, const double *p, double *dp)
{
    double k = p[0], s = p[1];
    if (!is_pos(k) || !is_pos(s) || isnan(x)) return NAN;
    if (!(x > 0)) {
        if (dp) dp[0] = dp[1] = 0;
        return 0;
    }
    double lt = log(x / s), tk = exp(k * lt), surv = exp(-tk);
    if (dp) {
        dp[0] = isinf(tk) ? 0 : surv * tk * lt;
        dp[1] = isinf(tk) ? 0 : -surv * tk * k / s;
    }
    return -expm1(-tk);
}

static double weibull_quantile(double u, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    return p[1] * pow(-log1p(-u), 1 / p[0]);
}

static int weibull_moments(const double *p, double *mean, double *var)
{
    double k = p[0], s = p[1];
    double g1 = exp(gsl_sf_lngamma(1 + 1 / k)), g2 = exp(gsl_sf_lngamma(1 + 2 / k));
    *mean = s * g1;
    *var = s * s * (g2 - g1 * g1);
    return isfinite(*var);
}

const DistInfo dist_row_weibull = {
    .name = "Weibull", .nparams = 2,
    .param_names = {"alpha", "sigma"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_POSITIVE, .lo_param = -1, .hi_param = -1,
    .doc = "Weibull with shape alpha > 0 and scale sigma > 0",
    .lpdf = weibull_lpdf, .sample = weibull_sample, .cdf = weibull_cdf,
    .quantile = weibull_quantile, .moments = weibull_moments,
};

/* ---- Pareto(y_min, alpha) ---------------------------------------------- */

static double pareto_lpdf(double x, const double *p, double *dx, double *dp)
{
    double m = p[0], a = p[1];
    if (!is_pos(m) || !is_pos(a)) return NAN;
    if (!(x >= m && x < INFINITY)) return isnan(x) ? NAN : -INFINITY;
    double lm = log(m), lx = log(x);
    if (dx) *dx = -(a + 1) / x;
    if (dp) { /* y_min may be another site: its direct gradient */
        dp[0] = a / m;
        dp[1] = 1 / a + lm - lx;
    }
    return log(a) + a * lm - (a + 1) * lx;
}

static double pareto_sample(const gsl_rng *r, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1])) return NAN;
    return gsl_ran_pareto(r, p[1], p[0]);
}

static double pareto_cdf(double x, const double *p, double *dp)
{
    double m = p[0], a = p[1];
    if (!is_pos(m) || !is_pos(a) || isnan(x)) return NAN;
    if (!(x > m)) {
        if (dp) dp[0] = dp[1] = 0;
        return 0;
    }
    double lr = log(m / x), ra = exp(a * lr); /* (y_min / x)^alpha */
    if (dp) {
        dp[0] = -a * ra / m;
        dp[1] = isinf(x) ? 0 : -ra * lr;
    }
    return -expm1(a * lr);
}

static double pareto_quantile(double u, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    return p[0] * exp(-log1p(-u) / p[1]);
}

static int pareto_moments(const double *p, double *mean, double *var)
{
    double m = p[0], a = p[1];
    *mean = a > 1 ? a * m / (a - 1) : INFINITY;
    *var = a > 2 ? m * m * a / ((a - 1) * (a - 1) * (a - 2)) : INFINITY;
    return a > 2;
}

const DistInfo dist_row_pareto = {
    .name = "Pareto", .nparams = 2,
    .param_names = {"y_min", "alpha"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_LOWER, .lo_param = 0, .hi_param = -1,
    .doc = "Pareto on (y_min, inf) with y_min > 0 and shape alpha > 0",
    .lpdf = pareto_lpdf, .sample = pareto_sample, .cdf = pareto_cdf,
    .quantile = pareto_quantile, .moments = pareto_moments,
};

/* ---- Beta(alpha, beta) ------------------------------------------------- */

static _Thread_local ShapeMemo beta_memo = {NAN, NAN, 0, 0, 0};

/* log B(a, b) and psi(a + b) - psi(a), psi(a + b) - psi(b) */
static const ShapeMemo *beta_terms(double a, double b)
{
    ShapeMemo *m = &beta_memo;
    if (m->a != a || m->b != b) {
        double pab = gsl_sf_psi(a + b);
        m->logc = gsl_sf_lnbeta(a, b);
        m->da = pab - gsl_sf_psi(a);
        m->db = pab - gsl_sf_psi(b);
        m->a = a;
        m->b = b;
    }
    return m;
}

static double beta_lpdf(double x, const double *p, double *dx, double *dp)
{
    double a = p[0], b = p[1];
    if (!is_pos(a) || !is_pos(b)) return NAN;
    if (!(x >= 0 && x <= 1)) return isnan(x) ? NAN : -INFINITY;
    const ShapeMemo *m = beta_terms(a, b);
    double lx = log(x), l1x = log1p(-x);
    if (dx) *dx = (a - 1) / x - (b - 1) / (1 - x);
    if (dp) {
        dp[0] = lx + m->da;
        dp[1] = l1x + m->db;
    }
    return edge_term(a - 1, lx) + edge_term(b - 1, l1x) - m->logc;
}

static double beta_sample(const gsl_rng *r, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1])) return NAN;
    return gsl_ran_beta(r, p[0], p[1]);
}

static double beta_cdf(double x, const double *p, double *dp)
{
    if (!is_pos(p[0]) || !is_pos(p[1]) || isnan(x)) return NAN;
    double y = x < 0 ? 0 : x > 1 ? 1 : x;
    if (dp) {
        int edge = y == 0 || y == 1;
        dp[0] = edge ? 0 : cdf_shape_slope(beta_cdf, y, p, 2, 0);
        dp[1] = edge ? 0 : cdf_shape_slope(beta_cdf, y, p, 2, 1);
    }
    return gsl_cdf_beta_P(y, p[0], p[1]);
}

static double beta_quantile(double u, const double *p)
{
    if (!is_pos(p[0]) || !is_pos(p[1]) || bad_u(u)) return NAN;
    return gsl_cdf_beta_Pinv(u, p[0], p[1]);
}

static int beta_moments(const double *p, double *mean, double *var)
{
    double a = p[0], b = p[1], s = a + b;
    *mean = a / s;
    *var = a * b / (s * s * (s + 1));
    return 1;
}

const DistInfo dist_row_beta = {
    .name = "Beta", .nparams = 2,
    .param_names = {"alpha", "beta"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_REAL, .support = SUP_UNIT, .lo_param = -1, .hi_param = -1,
    .doc = "beta on (0, 1) with shapes alpha > 0 and beta > 0",
    .lpdf = beta_lpdf, .sample = beta_sample, .cdf = beta_cdf,
    .quantile = beta_quantile, .moments = beta_moments,
};
