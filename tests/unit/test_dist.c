/*
 * test_dist.c - the distribution table against independent references.
 *
 * Univariate rows run one generic suite per case (a row with one parameter
 * set): the log density against log(gsl_ran_*_pdf) or a closed form
 * written here at 5+ points including the edges of the support; gradients
 * in the value and every real parameter against a four-point central
 * difference; the CDF against GSL, against the integral (continuous) or
 * the running sum (discrete) of the density, and quantile(cdf(x)) == x;
 * the CDF's parameter gradient against a finite difference; NAN for
 * invalid parameters and -INFINITY outside the support; and 10^5 draws
 * (gsl_rng_mt19937, fixed seed) whose mean and variance match moments()
 * within 4 standard errors (the variance's from the draws' fourth moment)
 * and whose empirical CDF matches cdf() at five quantiles within 4 SE.
 * Multivariate rows get the same checks written out per row, with
 * gradients checked element by element (along the simplex or the
 * Cholesky-correlation manifold where the value is constrained).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sf_gamma.h>

#include "check.h"
#include "dist.h"

#define NDRAWS 100000
#define INF INFINITY

static gsl_rng *rng;

static const DistInfo *row(const char *name)
{
    const DistInfo *d = dist_find(name);
    if (!d) {
        fprintf(stderr, "no distribution named %s\n", name);
        exit(1);
    }
    return d;
}

/* 1e-6 relative error, measured against at least `floor` so that a
 * gradient that is exactly 0 is compared absolutely. */
static int grad_close(double an, double fd, double floor)
{
    return fabs(an - fd) <= 1e-6 * fmax(fabs(fd), floor);
}

static double fd_step(double v) { return 1e-4 * fmax(fabs(v), 1e-2); }

/* The step for a continuous row: relative to the number varied, but no
 * more than 1e-3 standard deviations, so a location far from 0 with a
 * small scale (Normal(-200, 0.01)) is still differenced on its own scale. */
static double uni_step(const DistInfo *d, const double *p, double v)
{
    double h = fd_step(v), mean, var;
    if (d->value_kind == VK_REAL && d->moments && d->moments(p, &mean, &var) && var > 0)
        h = fmin(h, 1e-3 * sqrt(var));
    return h;
}

/* ---- the univariate suite ---------------------------------------------- */

typedef double (*RefFn)(double x, const double *p);

typedef struct {
    const char *name;
    double p[DIST_MAX_PARAMS];
    double x[8];               /* value points (lpdf vs ref) */
    int nx;
    double gx[4];              /* interior points: gradients, CDF, quantile */
    int ngx;
    RefFn ref;                 /* independent log density */
    RefFn cdf_ref;             /* GSL's CDF, or NULL */
    double bad[2][DIST_MAX_PARAMS];
    int nbad;
    double outside[3];         /* values outside the support */
    int nout;
    int check_moments;         /* 4th (and 8th) moments finite */
    int at_param_edge;         /* a parameter sits on its bound: no FD in it */
} UniCase;

typedef struct {
    const DistInfo *d;
    double x, p[DIST_MAX_PARAMS];
    int which;                 /* -1: vary x; else vary p[which] */
    int cdf;
} UniEval;

static double uni_eval(UniEval *e, double v)
{
    double p[DIST_MAX_PARAMS], x = e->x;
    memcpy(p, e->p, sizeof p);
    if (e->which < 0) x = v;
    else p[e->which] = v;
    return e->cdf ? e->d->cdf(x, p, NULL) : e->d->lpdf(x, p, NULL, NULL);
}

static double uni_fd(UniEval *e, double v)
{
    double h = uni_step(e->d, e->p, v);
    return (uni_eval(e, v - 2 * h) - 8 * uni_eval(e, v - h) + 8 * uni_eval(e, v + h)
            - uni_eval(e, v + 2 * h)) / (12 * h);
}

static void check_values(const UniCase *c, const DistInfo *d)
{
    for (int i = 0; i < c->nx; i++) {
        double x = c->x[i], lp = d->lpdf(x, c->p, NULL, NULL), ref = c->ref(x, c->p);
        CHECK(fabs(lp - ref) <= 1e-9 * fmax(1, fabs(ref)) || (isinf(ref) && lp == ref),
              "%s lpdf(%g) = %.15g, reference %.15g", c->name, x, lp, ref);
    }
}

static void check_gradients(const UniCase *c, const DistInfo *d)
{
    int continuous = d->value_kind == VK_REAL;
    for (int i = 0; i < c->ngx; i++) {
        double x = c->gx[i], dx = NAN, dp[DIST_MAX_PARAMS];
        double lp = d->lpdf(x, c->p, continuous ? &dx : NULL, dp);
        CHECK_NEAR(lp, d->lpdf(x, c->p, NULL, NULL), 0);
        UniEval e = {d, x, {0}, -1, 0};
        memcpy(e.p, c->p, sizeof e.p);
        if (continuous) {
            double fd = uni_fd(&e, x);
            CHECK(grad_close(dx, fd, 1e-2), "%s d/dx at %g: %.12g vs fd %.12g",
                  c->name, x, dx, fd);
        }
        for (int j = 0; j < d->nparams; j++) {
            if (d->param_kind[j] == PK_INT) {
                CHECK(dp[j] == 0, "%s: gradient of integer %s is %g", c->name,
                      d->param_names[j], dp[j]);
                continue;
            }
            if (c->at_param_edge) continue;
            e.which = j;
            double fd = uni_fd(&e, c->p[j]);
            CHECK(grad_close(dp[j], fd, 1e-2), "%s d/d%s at x=%g: %.12g vs fd %.12g",
                  c->name, d->param_names[j], x, dp[j], fd);
        }
    }
}

typedef struct {
    const DistInfo *d;
    const double *p;
} DensityCtx;

static double density_at(double x, void *ctx)
{
    DensityCtx *c = ctx;
    return exp(c->d->lpdf(x, c->p, NULL, NULL));
}

static gsl_integration_workspace *integration_ws;

/* Integral of the density from the lower end of the support to x. */
static double integrate_density(const DistInfo *d, const double *p, double x)
{
    gsl_integration_workspace *w = integration_ws;
    DensityCtx ctx = {d, p};
    gsl_function f = {density_at, &ctx};
    double lo = d->support == SUP_REAL ? -INF
              : d->support == SUP_INTERVAL || d->support == SUP_LOWER ? p[d->lo_param] : 0;
    double result = NAN, err;
    if (isinf(lo)) gsl_integration_qagil(&f, x, 1e-12, 1e-10, 1000, w, &result, &err);
    else gsl_integration_qags(&f, lo, x, 1e-12, 1e-10, 1000, w, &result, &err);
    return result;
}

static void check_cdf(const UniCase *c, const DistInfo *d)
{
    if (!d->cdf) return;
    int discrete = support_is_discrete(d->support);
    for (int i = 0; i < c->ngx; i++) {
        double x = c->gx[i], dp[DIST_MAX_PARAMS], f = d->cdf(x, c->p, dp);
        CHECK_NEAR(f, d->cdf(x, c->p, NULL), 0);
        if (c->cdf_ref) CHECK_NEAR(f, c->cdf_ref(x, c->p), 1e-10);
        if (discrete) {
            double sum = 0;
            for (double k = 0; k <= x; k++) sum += exp(d->lpdf(k, c->p, NULL, NULL));
            CHECK(fabs(f - sum) <= 1e-10, "%s cdf(%g) = %.15g, sum of pmf %.15g",
                  c->name, x, f, sum);
            CHECK(d->quantile(f, c->p) == x, "%s quantile(cdf(%g)) = %.17g", c->name, x,
                  d->quantile(f, c->p));
            if (f < 1) /* just above F(x) the quantile moves to the next point */
                CHECK(d->quantile(fmin(1, f + 1e-9), c->p) > x, "%s quantile past cdf(%g)",
                      c->name, x);
        } else {
            double integral = integrate_density(d, c->p, x);
            CHECK(fabs(f - integral) <= 1e-8, "%s cdf(%g) = %.15g, integral %.15g",
                  c->name, x, f, integral);
            double q = d->quantile(f, c->p);
            CHECK(fabs(q - x) <= 1e-8 * fmax(1, fabs(x)), "%s quantile(cdf(%g)) = %.15g",
                  c->name, x, q);
        }
        UniEval e = {d, x, {0}, 0, 1};
        memcpy(e.p, c->p, sizeof e.p);
        for (int j = 0; j < d->nparams; j++) {
            if (d->param_kind[j] == PK_INT || c->at_param_edge) continue;
            e.which = j;
            double fd = uni_fd(&e, c->p[j]);
            CHECK(grad_close(dp[j], fd, 1e-2), "%s dF/d%s at x=%g: %.12g vs fd %.12g",
                  c->name, d->param_names[j], x, dp[j], fd);
        }
    }
    /* bounds of the CDF */
    if (!discrete) {
        CHECK(d->cdf(-INF, c->p, NULL) == 0, "%s cdf(-inf) = %g", c->name,
              d->cdf(-INF, c->p, NULL));
        CHECK(d->cdf(INF, c->p, NULL) == 1, "%s cdf(inf) = %g", c->name, d->cdf(INF, c->p, NULL));
    }
    CHECK(isnan(d->quantile(1.5, c->p)) && isnan(d->quantile(-0.1, c->p)),
          "%s quantile outside [0, 1] is not NAN", c->name);
}

static void check_invalid(const UniCase *c, const DistInfo *d)
{
    double x = c->gx[0];
    for (int i = 0; i < c->nbad; i++) {
        const double *b = c->bad[i];
        CHECK(isnan(d->lpdf(x, b, NULL, NULL)), "%s accepts bad parameters (set %d)",
              c->name, i);
        if (d->cdf) CHECK(isnan(d->cdf(x, b, NULL)), "%s cdf accepts bad set %d", c->name, i);
        if (d->quantile) CHECK(isnan(d->quantile(0.5, b)), "%s quantile bad set %d", c->name, i);
        if (d->sample) CHECK(isnan(d->sample(rng, b)), "%s sample bad set %d", c->name, i);
    }
    for (int j = 0; j < d->nparams; j++) { /* NaN anywhere is invalid */
        double b[DIST_MAX_PARAMS];
        memcpy(b, c->p, sizeof b);
        b[j] = NAN;
        CHECK(isnan(d->lpdf(x, b, NULL, NULL)), "%s accepts NaN %s", c->name,
              d->param_names[j]);
    }
    for (int i = 0; i < c->nout; i++)
        CHECK(d->lpdf(c->outside[i], c->p, NULL, NULL) == -INF, "%s lpdf(%g) not -inf",
              c->name, c->outside[i]);
    if (d->value_kind == VK_REAL) {
        CHECK(d->lpdf(INF, c->p, NULL, NULL) == -INF, "%s lpdf(inf)", c->name);
        CHECK(d->lpdf(-INF, c->p, NULL, NULL) == -INF, "%s lpdf(-inf)", c->name);
    } else {
        CHECK(d->lpdf(0.5, c->p, NULL, NULL) == -INF, "%s lpdf(0.5)", c->name);
        CHECK(d->lpdf(-1, c->p, NULL, NULL) == -INF, "%s lpdf(-1)", c->name);
    }
    CHECK(isnan(d->lpdf(NAN, c->p, NULL, NULL)), "%s lpdf(NaN) is not NaN", c->name);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Fraction of sorted draws <= q. */
static double ecdf(const double *sorted, int n, double q)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (sorted[mid] <= q) lo = mid + 1;
        else hi = mid;
    }
    return (double)lo / n;
}

static void check_sampler(const UniCase *c, const DistInfo *d)
{
    if (!d->sample) return;
    static double draws[NDRAWS];
    gsl_rng_set(rng, 20240601);
    int outside = 0;
    double sum = 0;
    for (int i = 0; i < NDRAWS; i++) {
        draws[i] = d->sample(rng, c->p);
        sum += draws[i];
        if (!(d->lpdf(draws[i], c->p, NULL, NULL) > -INF)) outside++;
    }
    CHECK(outside == 0, "%s: %d draws outside the support", c->name, outside);
    double mean = sum / NDRAWS, m2 = 0, m4 = 0;
    for (int i = 0; i < NDRAWS; i++) {
        double e = draws[i] - mean;
        m2 += e * e;
        m4 += e * e * e * e;
    }
    double var = m2 / (NDRAWS - 1);
    m4 /= NDRAWS;
    double tmean = NAN, tvar = NAN;
    if (c->check_moments) {
        CHECK(d->moments && d->moments(c->p, &tmean, &tvar), "%s moments undefined", c->name);
        double se_mean = sqrt(tvar / NDRAWS), se_var = sqrt(fmax(m4 - var * var, 0) / NDRAWS);
        CHECK(fabs(mean - tmean) <= 4 * se_mean, "%s draws: mean %.6g, expected %.6g (se %.3g)",
              c->name, mean, tmean, se_mean);
        CHECK(fabs(var - tvar) <= 4 * se_var, "%s draws: var %.6g, expected %.6g (se %.3g)",
              c->name, var, tvar, se_var);
    }
    if (d->quantile) {
        static const double us[5] = {0.05, 0.25, 0.5, 0.75, 0.95};
        qsort(draws, NDRAWS, sizeof *draws, cmp_double);
        for (int k = 0; k < 5; k++) {
            double q = d->quantile(us[k], c->p), f = d->cdf(q, c->p, NULL);
            double se = sqrt(f * (1 - f) / NDRAWS), emp = ecdf(draws, NDRAWS, q);
            CHECK(fabs(emp - f) <= 4 * se, "%s draws: P(X <= %g) = %.5f, cdf %.5f (se %.3g)",
                  c->name, q, emp, f, se);
            if (support_is_discrete(d->support)) /* smallest k with F(k) >= u */
                CHECK(f >= us[k], "%s cdf(quantile(%g)) = %.12g", c->name, us[k], f);
        }
    }
}

static void run_case(const UniCase *c)
{
    const DistInfo *d = row(c->name);
    check_values(c, d);
    check_gradients(c, d);
    check_cdf(c, d);
    check_invalid(c, d);
    check_sampler(c, d);
}

/* ---- independent references -------------------------------------------- */

static double sigm(double a) { return 1 / (1 + exp(-a)); }

static double ref_normal(double x, const double *p)
{
    return log(gsl_ran_gaussian_pdf(x - p[0], p[1]));
}
static double cdf_normal(double x, const double *p) { return gsl_cdf_gaussian_P(x - p[0], p[1]); }
static double ref_student_t(double x, const double *p)
{
    return log(gsl_ran_tdist_pdf((x - p[1]) / p[2], p[0]) / p[2]);
}
static double cdf_student_t(double x, const double *p)
{
    return gsl_cdf_tdist_P((x - p[1]) / p[2], p[0]);
}
static double ref_cauchy(double x, const double *p)
{
    return log(gsl_ran_cauchy_pdf(x - p[0], p[1]));
}
static double cdf_cauchy(double x, const double *p) { return gsl_cdf_cauchy_P(x - p[0], p[1]); }
static double ref_laplace(double x, const double *p)
{
    return log(gsl_ran_laplace_pdf(x - p[0], p[1]));
}
static double cdf_laplace(double x, const double *p) { return gsl_cdf_laplace_P(x - p[0], p[1]); }
static double ref_logistic(double x, const double *p)
{
    return log(gsl_ran_logistic_pdf(x - p[0], p[1]));
}
static double cdf_logistic(double x, const double *p) { return gsl_cdf_logistic_P(x - p[0], p[1]); }
static double ref_uniform(double x, const double *p)
{
    return log(gsl_ran_flat_pdf(x, p[0], p[1]));
}
static double cdf_uniform(double x, const double *p) { return gsl_cdf_flat_P(x, p[0], p[1]); }
static double ref_flat(double x, const double *p) { (void)x, (void)p; return 0; }
static double ref_half_normal(double x, const double *p)
{
    return log(2 * gsl_ran_gaussian_pdf(x, p[0]));
}
static double cdf_half_normal(double x, const double *p)
{
    return 2 * gsl_cdf_gaussian_P(x, p[0]) - 1;
}
static double ref_half_cauchy(double x, const double *p)
{
    return log(2 * gsl_ran_cauchy_pdf(x, p[0]));
}
static double cdf_half_cauchy(double x, const double *p)
{
    return 2 * gsl_cdf_cauchy_P(x, p[0]) - 1;
}
static double ref_half_t(double x, const double *p)
{
    return log(2 * gsl_ran_tdist_pdf(x / p[1], p[0]) / p[1]);
}
static double cdf_half_t(double x, const double *p)
{
    return 2 * gsl_cdf_tdist_P(x / p[1], p[0]) - 1;
}
static double ref_lognormal(double x, const double *p)
{
    return log(gsl_ran_lognormal_pdf(x, p[0], p[1]));
}
static double cdf_lognormal(double x, const double *p)
{
    return gsl_cdf_lognormal_P(x, p[0], p[1]);
}
static double ref_exponential(double x, const double *p)
{
    return log(gsl_ran_exponential_pdf(x, 1 / p[0]));
}
static double cdf_exponential(double x, const double *p)
{
    return gsl_cdf_exponential_P(x, 1 / p[0]);
}
static double ref_gamma(double x, const double *p)
{
    return log(gsl_ran_gamma_pdf(x, p[0], 1 / p[1]));
}
static double cdf_gamma(double x, const double *p) { return gsl_cdf_gamma_P(x, p[0], 1 / p[1]); }
/* 1/x ~ Gamma(alpha, rate beta): density gamma(1/x) / x^2 */
static double ref_inv_gamma(double x, const double *p)
{
    return log(gsl_ran_gamma_pdf(1 / x, p[0], 1 / p[1]) / (x * x));
}
static double cdf_inv_gamma(double x, const double *p)
{
    return gsl_cdf_gamma_Q(1 / x, p[0], 1 / p[1]);
}
static double ref_weibull(double x, const double *p)
{
    return log(gsl_ran_weibull_pdf(x, p[1], p[0]));
}
static double cdf_weibull(double x, const double *p) { return gsl_cdf_weibull_P(x, p[1], p[0]); }
static double ref_pareto(double x, const double *p)
{
    return log(gsl_ran_pareto_pdf(x, p[1], p[0]));
}
static double cdf_pareto(double x, const double *p) { return gsl_cdf_pareto_P(x, p[1], p[0]); }
static double ref_beta(double x, const double *p) { return log(gsl_ran_beta_pdf(x, p[0], p[1])); }
static double cdf_beta(double x, const double *p) { return gsl_cdf_beta_P(x, p[0], p[1]); }

static double ref_bernoulli(double x, const double *p)
{
    return log(gsl_ran_bernoulli_pdf((unsigned)x, p[0]));
}
static double ref_bernoulli_logit(double x, const double *p)
{
    return x == 1 ? -log(1 + exp(-p[0])) : -log(1 + exp(p[0]));
}
static double ref_binomial(double x, const double *p)
{
    return log(gsl_ran_binomial_pdf((unsigned)x, p[1], (unsigned)p[0]));
}
static double cdf_binomial(double x, const double *p)
{
    return gsl_cdf_binomial_P((unsigned)x, p[1], (unsigned)p[0]);
}
static double ref_binomial_logit(double x, const double *p)
{
    double q[2] = {p[0], sigm(p[1])};
    return ref_binomial(x, q);
}
static double cdf_binomial_logit(double x, const double *p)
{
    double q[2] = {p[0], sigm(p[1])};
    return cdf_binomial(x, q);
}
static double ref_beta_binomial(double x, const double *p)
{
    double n = p[0], a = p[1], b = p[2];
    return log(gsl_sf_choose((unsigned)n, (unsigned)x) * gsl_sf_beta(x + a, n - x + b)
               / gsl_sf_beta(a, b));
}
/* GSL's Poisson pdf and CDF are NaN at lambda = 0, a point mass at 0 */
static double ref_poisson(double x, const double *p)
{
    return p[0] == 0 ? (x == 0 ? 0 : -INF) : log(gsl_ran_poisson_pdf((unsigned)x, p[0]));
}
static double cdf_poisson(double x, const double *p)
{
    return p[0] == 0 ? 1 : gsl_cdf_poisson_P((unsigned)x, p[0]);
}
static double ref_poisson_log(double x, const double *p)
{
    return log(gsl_ran_poisson_pdf((unsigned)x, exp(p[0])));
}
static double cdf_poisson_log(double x, const double *p)
{
    return gsl_cdf_poisson_P((unsigned)x, exp(p[0]));
}
/* Gamma(x + phi) / Gamma(phi) as a product, exact for integer x */
static double ref_neg_binomial(double x, const double *p)
{
    double mu = p[0], phi = p[1], lp = 0;
    for (int i = 0; i < x; i++) lp += log(phi + i);
    return lp - lgamma(x + 1) + x * log(mu / (mu + phi)) - phi * log1p(mu / phi);
}
static double cdf_neg_binomial(double x, const double *p)
{
    return gsl_cdf_negative_binomial_P((unsigned)x, p[1] / (p[0] + p[1]), p[1]);
}
static double ref_geometric(double x, const double *p)
{
    return log(gsl_ran_geometric_pdf((unsigned)x + 1, p[0]));
}
static double cdf_geometric(double x, const double *p)
{
    return gsl_cdf_geometric_P((unsigned)x + 1, p[0]);
}

static const UniCase uni_cases[] = {
    {"Normal", {1.5, 2}, {-30, -3, 0, 1.5, 4, 25}, 6, {-2, 0.3, 5}, 3, ref_normal,
     cdf_normal, {{1, 0}, {1, -1}}, 2, {0}, 0, 1, 0},
    {"Normal", {-200, 0.01}, {-200.3, -200, -199.99, -199.9, -199}, 5, {-200.02, -199.995}, 2,
     ref_normal, cdf_normal, {{INF, 1}, {0, INF}}, 2, {0}, 0, 1, 0},
    {"StudentT", {5, 1, 2}, {-50, -3, 0, 1, 2.5, 40}, 6, {-4, 0.5, 3}, 3, ref_student_t,
     cdf_student_t, {{0, 1, 2}, {5, 1, 0}}, 2, {0}, 0, 0, 0},
    {"StudentT", {12, -1, 0.5}, {-10, -1, 0, 3, 8}, 5, {-1.6, -0.8, 0.4}, 3, ref_student_t,
     cdf_student_t, {{-1, 1, 2}, {5, INF, 1}}, 2, {0}, 0, 1, 0},
    {"StudentT", {0.7, 0, 1}, {-1e6, -1, 0, 2, 1e8}, 5, {-2, 0.3, 5}, 3, ref_student_t,
     cdf_student_t, {{0, 0, 1}, {1, 0, -1}}, 2, {0}, 0, 0, 0},
    {"Cauchy", {0.5, 3}, {-1e3, -5, 0, 0.5, 2, 1e4}, 6, {-4, 0.7, 9}, 3, ref_cauchy,
     cdf_cauchy, {{0, 0}, {NAN, 1}}, 2, {0}, 0, 0, 0},
    {"Laplace", {-1, 0.7}, {-20, -2, -1.0001, -0.5, 3, 15}, 6, {-3, -0.2, 2}, 3, ref_laplace,
     cdf_laplace, {{0, 0}, {0, -3}}, 2, {0}, 0, 1, 0},
    {"Logistic", {2, 1.5}, {-40, -3, 0, 2, 5, 60}, 6, {-1, 2.5, 6}, 3, ref_logistic,
     cdf_logistic, {{0, 0}, {INF, 1}}, 2, {0}, 0, 1, 0},
    {"Uniform", {-1, 3}, {-1, -0.999, 0, 2.5, 2.999, 3}, 6, {-0.5, 1, 2.7}, 3, ref_uniform,
     cdf_uniform, {{3, -1}, {1, 1}}, 2, {-1.001, 3.5, -50}, 3, 1, 0},
    {"Flat", {0}, {-1e10, -1, 0, 1, 1e300}, 5, {0.5}, 1, ref_flat, NULL, {{0}}, 0, {0}, 0, 0, 0},
    {"HalfFlat", {0}, {0, 1e-300, 1, 1e10, 1e300}, 5, {0.5}, 1, ref_flat, NULL, {{0}}, 0,
     {-1e-300, -1}, 2, 0, 0},
    {"HalfNormal", {2}, {0, 1e-8, 0.5, 2, 7, 40}, 6, {0.3, 2, 5}, 3, ref_half_normal,
     cdf_half_normal, {{0}, {-2}}, 2, {-1e-10, -3}, 2, 1, 0},
    {"HalfCauchy", {1.5}, {0, 1e-9, 1, 10, 1e6}, 5, {0.2, 1.4, 8}, 3, ref_half_cauchy,
     cdf_half_cauchy, {{0}, {-1}}, 2, {-1}, 1, 0, 0},
    {"HalfStudentT", {4, 2}, {0, 1e-6, 0.5, 3, 30, 1e5}, 6, {0.4, 2, 7}, 3, ref_half_t,
     cdf_half_t, {{0, 1}, {4, 0}}, 2, {-0.5}, 1, 0, 0},
    {"HalfStudentT", {15, 0.8}, {0, 0.1, 1, 3, 10}, 5, {0.1, 0.9, 2.5}, 3, ref_half_t,
     cdf_half_t, {{-1, 1}, {4, -1}}, 2, {-2}, 1, 1, 0},
    {"LogNormal", {0.2, 0.3}, {1e-3, 0.3, 1, 1.2, 3, 20}, 6, {0.5, 1.3, 2.5}, 3,
     ref_lognormal, cdf_lognormal, {{0, 0}, {INF, 1}}, 2, {0, -1}, 2, 1, 0},
    {"Exponential", {1.7}, {0, 1e-10, 0.5, 2, 10, 300}, 6, {0.1, 0.8, 3}, 3,
     ref_exponential, cdf_exponential, {{0}, {-1}}, 2, {-1e-12, -1}, 2, 1, 0},
    {"Gamma", {2.5, 1.5}, {0, 1e-8, 0.5, 1.7, 6, 50}, 6, {0.4, 2, 5}, 3, ref_gamma,
     cdf_gamma, {{0, 1}, {1, -1}}, 2, {-0.1}, 1, 1, 0},
    {"Gamma", {0.5, 2}, {1e-12, 1e-4, 0.3, 2, 15}, 5, {0.05, 0.5, 2}, 3, ref_gamma,
     cdf_gamma, {{-1, 1}, {1, 0}}, 2, {-1}, 1, 1, 0},
    {"Gamma", {1, 3}, {0, 1e-3, 0.5, 2, 9}, 5, {0.1, 0.6}, 2, ref_gamma, cdf_gamma,
     {{1, INF}, {INF, 1}}, 2, {-1e-300}, 1, 1, 0},
    {"InverseGamma", {3, 2}, {1e-3, 0.1, 0.5, 1, 5, 1e3}, 6, {0.3, 1, 4}, 3, ref_inv_gamma,
     cdf_inv_gamma, {{0, 1}, {1, 0}}, 2, {0, -1}, 2, 0, 0},
    {"InverseGamma", {9, 4}, {0.05, 0.3, 0.5, 1, 3}, 5, {0.3, 0.5, 1}, 3, ref_inv_gamma,
     cdf_inv_gamma, {{-1, 1}, {1, -2}}, 2, {-0.5}, 1, 1, 0},
    {"Weibull", {1.5, 2}, {0, 1e-6, 0.5, 2, 5, 12}, 6, {0.3, 1.8, 4}, 3, ref_weibull,
     cdf_weibull, {{0, 1}, {1, 0}}, 2, {-1}, 1, 1, 0},
    {"Weibull", {0.7, 1}, {1e-9, 0.01, 1, 5, 30}, 5, {0.05, 1, 3}, 3, ref_weibull,
     cdf_weibull, {{-1, 1}, {1, -1}}, 2, {-1}, 1, 1, 0},
    {"Pareto", {1.5, 3}, {1.5, 1.5000001, 2, 5, 100, 1e6}, 6, {1.7, 3, 10}, 3, ref_pareto,
     cdf_pareto, {{0, 3}, {1.5, -1}}, 2, {1.4999, 0}, 2, 0, 0},
    {"Pareto", {2, 10}, {2, 2.1, 2.5, 3, 8}, 5, {2.05, 2.2, 2.6}, 3, ref_pareto, cdf_pareto,
     {{-2, 3}, {1.5, 0}}, 2, {1.99, -3}, 2, 1, 0},
    {"Beta", {2, 3}, {0, 1e-10, 0.2, 0.5, 0.9, 1 - 1e-10, 1}, 7, {0.05, 0.4, 0.95}, 3,
     ref_beta, cdf_beta, {{0, 3}, {2, -1}}, 2, {-0.01, 1.01}, 2, 1, 0},
    {"Beta", {0.5, 0.5}, {1e-12, 1e-3, 0.5, 0.999, 1 - 1e-12}, 5, {0.01, 0.5, 0.99}, 3,
     ref_beta, cdf_beta, {{-1, 3}, {2, INF}}, 2, {-1e-300, 2}, 2, 1, 0},

    {"Bernoulli", {0.3}, {0, 1}, 2, {0, 1}, 2, ref_bernoulli, NULL, {{-0.1}, {1.1}}, 2,
     {2, -1, 0.5}, 3, 1, 0},
    {"Bernoulli", {0}, {0, 1}, 2, {0}, 1, ref_bernoulli, NULL, {{NAN}, {INF}}, 2, {3}, 1, 1, 1},
    {"Bernoulli", {1}, {0, 1}, 2, {1}, 1, ref_bernoulli, NULL, {{2}, {-INF}}, 2, {3}, 1, 1, 1},
    {"BernoulliLogit", {0.7}, {0, 1}, 2, {0, 1}, 2, ref_bernoulli_logit, NULL,
     {{INF}, {-INF}}, 2, {2, 1.5}, 2, 1, 0},
    /* draws are all 0 or all 1 here: no spread to compare moments with */
    {"BernoulliLogit", {-30}, {0, 1}, 2, {0, 1}, 2, ref_bernoulli_logit, NULL,
     {{NAN}, {INF}}, 2, {2}, 1, 0, 0},
    {"BernoulliLogit", {40}, {0, 1}, 2, {0, 1}, 2, ref_bernoulli_logit, NULL,
     {{NAN}, {INF}}, 2, {2}, 1, 0, 0},
    {"Binomial", {10, 0.3}, {0, 1, 3, 7, 10}, 5, {0, 4, 9, 10}, 4, ref_binomial, cdf_binomial,
     {{10, 1.2}, {-1, 0.3}}, 2, {11, 2.5, -1}, 3, 1, 0},
    {"Binomial", {5, 0}, {0, 1, 5}, 3, {0}, 1, ref_binomial, cdf_binomial,
     {{2.5, 0.3}, {5, -0.1}}, 2, {6}, 1, 1, 1},
    {"Binomial", {300, 0.8}, {200, 240, 250, 299, 300}, 5, {230, 241, 255}, 3, ref_binomial,
     cdf_binomial, {{300, NAN}, {INF, 0.5}}, 2, {301}, 1, 1, 0},
    {"BinomialLogit", {12, -0.4}, {0, 2, 5, 11, 12}, 5, {0, 4, 7, 12}, 4, ref_binomial_logit,
     cdf_binomial_logit, {{12, INF}, {-3, 0}}, 2, {13, 1.5}, 2, 1, 0},
    {"BetaBinomial", {8, 2, 3}, {0, 1, 4, 7, 8}, 5, {0, 3, 6, 8}, 4, ref_beta_binomial, NULL,
     {{8, 0, 3}, {8, 2, -1}}, 2, {9, 0.5}, 2, 1, 0},
    {"BetaBinomial", {40, 0.6, 0.3}, {0, 1, 20, 39, 40}, 5, {2, 25, 39}, 3, ref_beta_binomial,
     NULL, {{1.5, 2, 3}, {8, INF, 1}}, 2, {41}, 1, 1, 0},
    {"Poisson", {3.5}, {0, 1, 3, 10, 40}, 5, {0, 2, 5, 9}, 4, ref_poisson, cdf_poisson,
     {{-1}, {INF}}, 2, {1.5, -2}, 2, 1, 0},
    {"Poisson", {0}, {0, 1, 3}, 3, {0}, 1, ref_poisson, cdf_poisson, {{-1e-9}, {NAN}}, 2,
     {0.5}, 1, 1, 1},
    {"Poisson", {1e4}, {9700, 9900, 1e4, 10100, 10400}, 5, {9850, 10000, 10120}, 3,
     ref_poisson, cdf_poisson, {{-1}, {INF}}, 2, {0.5}, 1, 1, 0},
    {"PoissonLog", {1.2}, {0, 1, 3, 8, 30}, 5, {0, 3, 7}, 3, ref_poisson_log, cdf_poisson_log,
     {{INF}, {NAN}}, 2, {2.5}, 1, 1, 0},
    {"PoissonLog", {-3}, {0, 1, 2, 5, 12}, 5, {0, 1, 3}, 3, ref_poisson_log, NULL,
     {{-INF}, {NAN}}, 2, {2.5}, 1, 1, 0},
    {"NegativeBinomial", {4, 2.5}, {0, 1, 4, 15, 60}, 5, {0, 3, 8, 20}, 4, ref_neg_binomial,
     cdf_neg_binomial, {{0, 1}, {4, 0}}, 2, {1.5, -1}, 2, 1, 0},
    {"NegativeBinomial", {3, 1e7}, {0, 2, 3, 10, 25}, 5, {0, 3, 6}, 3, ref_neg_binomial,
     cdf_neg_binomial, {{-1, 1}, {4, INF}}, 2, {2.5}, 1, 1, 0},
    {"NegativeBinomial", {50, 0.4}, {0, 1, 50, 400, 5000}, 5, {0, 10, 120}, 3,
     ref_neg_binomial, cdf_neg_binomial, {{INF, 1}, {4, -1}}, 2, {0.1}, 1, 1, 0},
    {"Geometric", {0.3}, {0, 1, 2, 10, 50}, 5, {0, 1, 4, 12}, 4, ref_geometric, cdf_geometric,
     {{0}, {1.2}}, 2, {0.5, -3}, 2, 1, 0},
    {"Geometric", {1}, {0, 1, 2}, 3, {0}, 1, ref_geometric, cdf_geometric, {{-0.5}, {NAN}}, 2,
     {1.5}, 1, 1, 1},
};

/* ---- tails, edges and other hand-computed values ------------------------ */

static double lp1(const char *name, double x, double p0, double p1)
{
    double p[DIST_MAX_PARAMS] = {p0, p1};
    return row(name)->lpdf(x, p, NULL, NULL);
}

static void test_tails(void)
{
    double p3[DIST_MAX_PARAMS] = {3, 0, 1};
    /* far tails where pdf() underflows: the log form must stay exact */
    CHECK_NEAR(lp1("Normal", 40, 0, 1), -800.918938533204672742, 1e-9);
    CHECK_NEAR(lp1("Normal", -1e5, 0, 1), -5e9 - 0.918938533204672742, 1e-3);
    CHECK_NEAR(lp1("Logistic", 800, 0, 1), -800, 1e-9);
    CHECK_NEAR(lp1("Logistic", -800, 0, 1), -800, 1e-9);
    CHECK_NEAR(lp1("Laplace", 2000, 0, 1), -2000 - M_LN2, 1e-9);
    CHECK_NEAR(lp1("BernoulliLogit", 1, 800, 0), 0, 1e-300);
    CHECK_NEAR(lp1("BernoulliLogit", 0, 800, 0), -800, 1e-9);
    CHECK_NEAR(lp1("BernoulliLogit", 1, -800, 0), -800, 1e-9);
    CHECK_NEAR(lp1("BernoulliLogit", 0, -800, 0), 0, 1e-300);
    CHECK_NEAR(lp1("BinomialLogit", 3, 10, 900), -7 * 900 + log(120), 1e-6);
    CHECK_NEAR(lp1("PoissonLog", 0, -800, 0), 0, 1e-300);
    CHECK_NEAR(lp1("Exponential", 1e4, 2, 0), log(2) - 2e4, 1e-9);
    CHECK_NEAR(lp1("Gamma", 1e4, 2, 1), log(1e4) - 1e4, 1e-9);
    /* heavy tails beyond z*z overflow */
    double lt = lgamma(2) - lgamma(1.5) - 0.5 * log(3 * M_PI) - 2 * (2 * log(1e200) - log(3));
    CHECK_NEAR(row("StudentT")->lpdf(1e200, p3, NULL, NULL), lt, 1e-9 * fabs(lt));
    CHECK_NEAR(lp1("Cauchy", 1e200, 0, 1), -log(M_PI) - 2 * log(1e200), 1e-9);
    CHECK_NEAR(lp1("HalfCauchy", 1e200, 1, 0), log(2 / M_PI) - 2 * log(1e200), 1e-9);
    /* closed edges with a zero exponent: finite; else the limit */
    CHECK_NEAR(lp1("Beta", 0, 1, 3), log(3), 1e-12);
    CHECK_NEAR(lp1("Beta", 1, 3, 1), log(3), 1e-12);
    CHECK(lp1("Beta", 0, 0.5, 3) == INF, "Beta(0.5, 3) at 0 should be +inf");
    CHECK_NEAR(lp1("Weibull", 0, 1, 2), -log(2), 1e-12);
    CHECK_NEAR(lp1("Exponential", 0, 3, 0), log(3), 1e-12);
    CHECK_NEAR(lp1("HalfNormal", 0, 1, 0), 0.5 * log(2 / M_PI), 1e-12);
    /* the normal log density is a handful of flops: no special functions */
    double p[DIST_MAX_PARAMS] = {0.25, 1.5}, dx, dp[2];
    double v = row("Normal")->lpdf(1, p, &dx, dp), z = 0.75 / 1.5;
    CHECK_NEAR(v, -0.5 * z * z - log(1.5) - 0.5 * log(2 * M_PI), 1e-14);
    CHECK_NEAR(dx, -z / 1.5, 1e-15);
    /* Uniform's bound gradients are those of -log(hi - lo) */
    double pu[DIST_MAX_PARAMS] = {-1, 3}, du[2], dxu;
    row("Uniform")->lpdf(0, pu, &dxu, du);
    CHECK_NEAR(du[0], 0.25, 1e-15);
    CHECK_NEAR(du[1], -0.25, 1e-15);
    CHECK_NEAR(dxu, 0, 0);
    /* discrete quantiles of heavy tails stay cheap and exact */
    double pn[DIST_MAX_PARAMS] = {50, 0.05};
    const DistInfo *nb = row("NegativeBinomial");
    double q = nb->quantile(0.999, pn);
    CHECK(nb->cdf(q, pn, NULL) >= 0.999 && nb->cdf(q - 1, pn, NULL) < 0.999,
          "NegativeBinomial quantile(0.999) = %g is not the smallest k", q);
    CHECK(nb->quantile(1, pn) == INF, "NegativeBinomial quantile(1) should be inf");
    double pg[DIST_MAX_PARAMS] = {1e-6};
    q = row("Geometric")->quantile(0.5, pg);
    CHECK(row("Geometric")->cdf(q, pg, NULL) >= 0.5 && row("Geometric")->cdf(q - 1, pg, NULL) < 0.5,
          "Geometric(1e-6) median %g", q);
}

/* ---- the table ---------------------------------------------------------- */

static void test_table(void)
{
    int n = dist_count();
    CHECK(n == 35, "dist_count() = %d, expected 35", n);
    CHECK(cm_dists[n] == NULL, "table not NULL-terminated at dist_count()");
    for (int i = 0; i < n; i++) {
        const DistInfo *d = cm_dists[i];
        CHECK(dist_find(d->name) == d, "dist_find(%s)", d->name);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(cm_dists[j]->name, d->name) != 0, "duplicate %s", d->name);
        CHECK(d->doc && d->doc[0], "%s has no doc", d->name);
        CHECK(d->nparams >= 0 && d->nparams <= DIST_MAX_PARAMS, "%s nparams", d->name);
        for (int j = 0; j < d->nparams; j++)
            CHECK(d->param_names[j] && d->param_names[j][0], "%s param %d unnamed", d->name, j);
        CHECK(d->lo_param < d->nparams && d->hi_param < d->nparams, "%s bound index", d->name);
        CHECK((d->lo_param >= 0) == (d->support == SUP_INTERVAL || d->support == SUP_LOWER),
              "%s lo_param", d->name);
        int discrete = support_is_discrete(d->support);
        int int_value = d->value_kind == VK_INT || d->value_kind == VK_INT_VECTOR;
        CHECK(discrete == int_value, "%s: value kind and support disagree", d->name);
        if (d->support == SUP_INT_RANGE)
            CHECK(d->hi_param >= 0, "%s: an int range needs hi_param", d->name);
        int uni = d->lpdf != NULL;
        CHECK(uni == (d->mv_lpdf == NULL) && uni == (d->mv_shape == NULL)
                  && uni == (d->mv_sample == NULL),
              "%s mixes univariate and multivariate numerics", d->name);
        if (uni) {
            int improper = !strcmp(d->name, "Flat") || !strcmp(d->name, "HalfFlat");
            CHECK(improper == (d->sample == NULL), "%s sampler", d->name);
            CHECK(improper == (d->cdf == NULL) && improper == (d->quantile == NULL),
                  "%s cdf/quantile", d->name);
            int no_moments = improper || !strcmp(d->name, "Cauchy")
                          || !strcmp(d->name, "HalfCauchy");
            CHECK(no_moments == (d->moments == NULL), "%s moments", d->name);
        } else {
            CHECK(!d->sample && !d->cdf && !d->quantile && !d->moments, "%s uni fns", d->name);
        }
    }
    CHECK(dist_find("normal") == NULL, "dist_find is case-sensitive");
    CHECK(dist_find("Norm") == NULL, "dist_find matches whole names");
    CHECK(dist_find(NULL) == NULL, "dist_find(NULL)");
    /* every univariate row has a test case */
    for (int i = 0; i < n; i++) {
        if (!cm_dists[i]->lpdf) continue;
        int found = 0;
        for (size_t c = 0; c < sizeof uni_cases / sizeof *uni_cases; c++)
            found |= !strcmp(uni_cases[c].name, cm_dists[i]->name);
        CHECK(found, "no test case for %s", cm_dists[i]->name);
    }
}

/* ---- multivariate ------------------------------------------------------- */

static DArr vec(const double *x, int n) { return (DArr){x, n, 1}; }
static DArr mat(const double *x, int n, int m) { return (DArr){x, n, m}; }
static DArr scal(const double *x) { return (DArr){x, 1, 1}; }

/* Finite difference of mv_lpdf along direction dir applied to `target`
 * (the value's or a parameter's storage, which must be writable). */
static double mv_fd(const DistInfo *d, DArr x, DArr *p, double *target, const double *dir,
                    int len, double h)
{
    double save[4096], f[4];
    static const double step[4] = {-2, -1, 1, 2};
    memcpy(save, target, (size_t)len * sizeof *save);
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < len; i++) target[i] = save[i] + step[k] * h * dir[i];
        f[k] = d->mv_lpdf(x, p, NULL, NULL);
    }
    memcpy(target, save, (size_t)len * sizeof *save);
    return (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h);
}

/* Check an analytic gradient g (same layout as target) element by element
 * against finite differences along each unit direction. */
static void mv_check_grad(const char *what, const DistInfo *d, DArr x, DArr *p,
                          double *target, const double *g, int len)
{
    double dir[4096] = {0};
    for (int i = 0; i < len; i++) {
        dir[i] = 1;
        double fd = mv_fd(d, x, p, target, dir, len, fd_step(target[i]));
        dir[i] = 0;
        CHECK(grad_close(g[i], fd, 1e-2), "%s %s[%d]: %.12g vs fd %.12g", d->name, what, i,
              g[i], fd);
    }
}

/* Along the simplex: move element i up and the last one down. */
static void mv_check_simplex_grad(const char *what, const DistInfo *d, DArr x, DArr *p,
                                  double *target, const double *g, int len)
{
    double dir[64] = {0};
    for (int i = 0; i < len - 1; i++) {
        dir[i] = 1;
        dir[len - 1] = -1;
        double fd = mv_fd(d, x, p, target, dir, len, 1e-6);
        dir[i] = 0;
        double an = g[i] - g[len - 1];
        CHECK(grad_close(an, fd, 1e-2), "%s %s along e%d - e%d: %.12g vs fd %.12g", d->name,
              what, i, len - 1, an, fd);
    }
}

static void test_categorical(void)
{
    const DistInfo *d = row("Categorical"), *dl = row("CategoricalLogit");
    double theta[3] = {0.2, 0.5, 0.3}, beta[3] = {0.4, -1.2, 2};
    DArr p[1] = {vec(theta, 3)}, pl[1] = {vec(beta, 3)};
    double lse = log(exp(0.4) + exp(-1.2) + exp(2));
    for (int k = 1; k <= 3; k++) {
        double xv = k, g[3], gl[3];
        double *dp[1] = {g}, *dpl[1] = {gl};
        CHECK_NEAR(d->mv_lpdf(scal(&xv), p, NULL, dp), log(theta[k - 1]), 1e-14);
        CHECK_NEAR(dl->mv_lpdf(scal(&xv), pl, NULL, dpl), beta[k - 1] - lse, 1e-14);
        mv_check_simplex_grad("theta", d, scal(&xv), p, theta, g, 3);
        mv_check_grad("beta", dl, scal(&xv), pl, beta, gl, 3);
    }
    double one = 1, big[2] = {-800, 800};
    CHECK_NEAR(dl->mv_lpdf(scal(&one), (DArr[]){vec(big, 2)}, NULL, NULL), -1600, 1e-9);
    /* edges: out of range, non-integer; bad parameters */
    double bad_x[3] = {0, 4, 1.5}, notsimplex[3] = {0.2, 0.5, 0.2}, neg[3] = {-0.1, 0.6, 0.5};
    for (int i = 0; i < 3; i++) {
        CHECK(d->mv_lpdf(scal(&bad_x[i]), p, NULL, NULL) == -INF, "Categorical(%g)", bad_x[i]);
        CHECK(dl->mv_lpdf(scal(&bad_x[i]), pl, NULL, NULL) == -INF, "CategoricalLogit(%g)",
              bad_x[i]);
    }
    CHECK(isnan(d->mv_lpdf(scal(&one), (DArr[]){vec(notsimplex, 3)}, NULL, NULL)), "non-simplex");
    CHECK(isnan(d->mv_lpdf(scal(&one), (DArr[]){vec(neg, 3)}, NULL, NULL)), "negative theta");
    double nanb[2] = {0, NAN};
    CHECK(isnan(dl->mv_lpdf(scal(&one), (DArr[]){vec(nanb, 2)}, NULL, NULL)), "NaN beta");
    /* shapes */
    int r, c;
    char err[128] = "";
    CHECK(d->mv_shape(p, &r, &c, err, sizeof err) == 0 && r == 1 && c == 1, "Categorical shape");
    CHECK(d->mv_shape((DArr[]){mat(theta, 3, 3)}, &r, &c, err, sizeof err) == -1
              && strstr(err, "theta"),
          "Categorical shape error: '%s'", err);
    /* samplers: frequencies */
    double prob_l[3] = {exp(0.4 - lse), exp(-1.2 - lse), exp(2 - lse)};
    const DistInfo *rows[2] = {d, dl};
    DArr *params[2] = {p, pl};
    const double *probs[2] = {theta, prob_l};
    for (int w = 0; w < 2; w++) {
        int counts[3] = {0};
        gsl_rng_set(rng, 7);
        for (int i = 0; i < NDRAWS; i++) {
            double out;
            rows[w]->mv_sample(rng, params[w], &out);
            if (out >= 1 && out <= 3) counts[(int)out - 1]++;
        }
        for (int k = 0; k < 3; k++) {
            double f = (double)counts[k] / NDRAWS, pk = probs[w][k];
            CHECK(fabs(f - pk) <= 4 * sqrt(pk * (1 - pk) / NDRAWS),
                  "%s draws: P(%d) = %.5f vs %.5f", rows[w]->name, k + 1, f, pk);
        }
    }
}

/* mean and variance of each element of n-vector draws against expectations */
static void check_vector_draws(const char *name, const double *draws, int ndraws, int n,
                               const double *mean, const double *var)
{
    for (int j = 0; j < n; j++) {
        double s = 0, m2 = 0, m4 = 0;
        for (int i = 0; i < ndraws; i++) s += draws[(size_t)i * n + j];
        double mu = s / ndraws;
        for (int i = 0; i < ndraws; i++) {
            double e = draws[(size_t)i * n + j] - mu;
            m2 += e * e;
            m4 += e * e * e * e;
        }
        double v = m2 / (ndraws - 1);
        m4 /= ndraws;
        CHECK(fabs(mu - mean[j]) <= 4 * sqrt(var[j] / ndraws), "%s draws: mean[%d] %.6g vs %.6g",
              name, j, mu, mean[j]);
        CHECK(fabs(v - var[j]) <= 4 * sqrt(fmax(m4 - v * v, 0) / ndraws),
              "%s draws: var[%d] %.6g vs %.6g", name, j, v, var[j]);
    }
}

static void test_multinomial(void)
{
    const DistInfo *d = row("Multinomial");
    double theta[3] = {0.2, 0.5, 0.3}, n = 10;
    DArr p[2] = {vec(theta, 3), scal(&n)};
    double xs[5][3] = {{2, 5, 3}, {10, 0, 0}, {0, 0, 10}, {1, 8, 1}, {4, 4, 2}};
    for (int t = 0; t < 5; t++) {
        unsigned cnt[3] = {(unsigned)xs[t][0], (unsigned)xs[t][1], (unsigned)xs[t][2]};
        double g[3], gn = -1, *dp[2] = {g, &gn};
        double lp = d->mv_lpdf(vec(xs[t], 3), p, NULL, dp);
        CHECK_NEAR(lp, gsl_ran_multinomial_lnpdf(3, theta, cnt), 1e-10);
        CHECK(gn == 0, "Multinomial dN = %g", gn);
        mv_check_simplex_grad("theta", d, vec(xs[t], 3), p, theta, g, 3);
    }
    double wrong_sum[3] = {2, 5, 4}, negative[3] = {-1, 6, 5}, frac[3] = {2.5, 4.5, 3};
    CHECK(d->mv_lpdf(vec(wrong_sum, 3), p, NULL, NULL) == -INF, "counts not summing to N");
    CHECK(d->mv_lpdf(vec(negative, 3), p, NULL, NULL) == -INF, "negative count");
    CHECK(d->mv_lpdf(vec(frac, 3), p, NULL, NULL) == -INF, "fractional count");
    double badn = 2.5, bt[3] = {0.5, 0.5, 0.5};
    CHECK(isnan(d->mv_lpdf(vec(xs[0], 3), (DArr[]){vec(theta, 3), scal(&badn)}, NULL, NULL)),
          "fractional N");
    CHECK(isnan(d->mv_lpdf(vec(xs[0], 3), (DArr[]){vec(bt, 3), scal(&n)}, NULL, NULL)),
          "non-simplex theta");
    CHECK(isnan(d->mv_lpdf(vec(xs[0], 2), p, NULL, NULL)), "wrong value length");
    int r, c;
    char err[128] = "";
    CHECK(d->mv_shape(p, &r, &c, err, sizeof err) == 0 && r == 3 && c == 1, "Multinomial shape");
    static double draws[NDRAWS * 3];
    gsl_rng_set(rng, 11);
    for (int i = 0; i < NDRAWS; i++) d->mv_sample(rng, p, draws + 3 * i);
    double mean[3], var[3];
    for (int j = 0; j < 3; j++) {
        mean[j] = n * theta[j];
        var[j] = n * theta[j] * (1 - theta[j]);
    }
    check_vector_draws("Multinomial", draws, NDRAWS, 3, mean, var);
    /* K above the stack limit takes the heap path */
    double t70[70], out[70], n70 = 1000, s = 0;
    for (int j = 0; j < 70; j++) t70[j] = 1.0 / 70;
    d->mv_sample(rng, (DArr[]){vec(t70, 70), scal(&n70)}, out);
    for (int j = 0; j < 70; j++) s += out[j];
    CHECK(s == 1000, "Multinomial K=70 draw sums to %g", s);
    CHECK(isfinite(d->mv_lpdf(vec(out, 70), (DArr[]){vec(t70, 70), scal(&n70)}, NULL, NULL)),
          "Multinomial K=70 lpdf");
}

static void test_dirichlet(void)
{
    const DistInfo *d = row("Dirichlet");
    double alpha[3] = {2, 3, 5};
    DArr p[1] = {vec(alpha, 3)};
    double xs[5][3] = {{0.2, 0.3, 0.5}, {0.01, 0.01, 0.98}, {0.98, 0.01, 0.01},
                       {1e-9, 0.5, 0.5 - 1e-9}, {1. / 3, 1. / 3, 1. / 3}};
    for (int t = 0; t < 5; t++) {
        double dx[3], g[3], *dp[1] = {g};
        double lp = d->mv_lpdf(vec(xs[t], 3), p, dx, dp);
        CHECK_NEAR(lp, gsl_ran_dirichlet_lnpdf(3, alpha, xs[t]), 1e-10 * fmax(1, fabs(lp)));
        if (t == 3) continue; /* the simplex step would leave the support */
        mv_check_simplex_grad("x", d, vec(xs[t], 3), p, xs[t], dx, 3);
        mv_check_grad("alpha", d, vec(xs[t], 3), p, alpha, g, 3);
    }
    double a_small[2] = {0.3, 0.7}, x2[2] = {0.25, 0.75};
    CHECK_NEAR(d->mv_lpdf(vec(x2, 2), (DArr[]){vec(a_small, 2)}, NULL, NULL),
               gsl_ran_dirichlet_lnpdf(2, a_small, x2), 1e-12);
    double notsimplex[3] = {0.2, 0.3, 0.4}, neg[3] = {-0.1, 0.6, 0.5};
    CHECK(d->mv_lpdf(vec(notsimplex, 3), p, NULL, NULL) == -INF, "Dirichlet non-simplex");
    CHECK(d->mv_lpdf(vec(neg, 3), p, NULL, NULL) == -INF, "Dirichlet negative");
    double bada[3] = {1, 0, 2};
    CHECK(isnan(d->mv_lpdf(vec(xs[0], 3), (DArr[]){vec(bada, 3)}, NULL, NULL)), "alpha 0");
    CHECK(isnan(d->mv_lpdf(vec(xs[0], 2), p, NULL, NULL)), "Dirichlet wrong length");
    static double draws[NDRAWS * 3];
    gsl_rng_set(rng, 13);
    int outside = 0;
    for (int i = 0; i < NDRAWS; i++) {
        d->mv_sample(rng, p, draws + 3 * i);
        if (!(d->mv_lpdf(vec(draws + 3 * i, 3), p, NULL, NULL) > -INF)) outside++;
    }
    CHECK(outside == 0, "Dirichlet: %d draws off the simplex", outside);
    double a0 = 10, mean[3], var[3];
    for (int j = 0; j < 3; j++) {
        mean[j] = alpha[j] / a0;
        var[j] = alpha[j] * (a0 - alpha[j]) / (a0 * a0 * (a0 + 1));
    }
    check_vector_draws("Dirichlet", draws, NDRAWS, 3, mean, var);
}

/* reference MVN log density through GSL (lower Cholesky factor l) */
static double ref_mvn(const double *x, const double *mu, const double *l, int k)
{
    gsl_vector_const_view xv = gsl_vector_const_view_array(x, (size_t)k);
    gsl_vector_const_view mv = gsl_vector_const_view_array(mu, (size_t)k);
    gsl_matrix_const_view lv = gsl_matrix_const_view_array(l, (size_t)k, (size_t)k);
    gsl_vector *work = gsl_vector_alloc((size_t)k);
    double result = NAN;
    gsl_ran_multivariate_gaussian_log_pdf(&xv.vector, &mv.vector, &lv.matrix, &result, work);
    gsl_vector_free(work);
    return result;
}

static void cholesky_of(const double *s, double *l, int k)
{
    memcpy(l, s, (size_t)k * k * sizeof *l);
    gsl_matrix_view lv = gsl_matrix_view_array(l, (size_t)k, (size_t)k);
    gsl_linalg_cholesky_decomp1(&lv.matrix);
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++) l[i * k + j] = 0;
}

static void check_covariance_draws(const char *name, const double *draws, int ndraws,
                                   const double *mu, const double *sigma, int k)
{
    double mean[8], var[8];
    for (int j = 0; j < k; j++) {
        mean[j] = mu[j];
        var[j] = sigma[j * k + j];
    }
    check_vector_draws(name, draws, ndraws, k, mean, var);
    for (int a = 0; a < k; a++)
        for (int b = 0; b < a; b++) { /* off-diagonal covariance, SE from the draws */
            double s = 0, s2 = 0;
            for (int i = 0; i < ndraws; i++) {
                double v = (draws[i * k + a] - mu[a]) * (draws[i * k + b] - mu[b]);
                s += v;
                s2 += v * v;
            }
            double m = s / ndraws, se = sqrt((s2 / ndraws - m * m) / ndraws);
            CHECK(fabs(m - sigma[a * k + b]) <= 4 * se, "%s draws: cov[%d][%d] %.5g vs %.5g",
                  name, a, b, m, sigma[a * k + b]);
        }
}

static void test_mvn(void)
{
    const DistInfo *d = row("MultivariateNormal"), *dc = row("MultivariateNormalCholesky");
    double mu[3] = {1, -1, 0.5};
    double sigma[9] = {2, 0.5, 0.3, 0.5, 1, -0.2, 0.3, -0.2, 1.5}, l[9];
    cholesky_of(sigma, l, 3);
    DArr p[2] = {vec(mu, 3), mat(sigma, 3, 3)}, pc[2] = {vec(mu, 3), mat(l, 3, 3)};
    double xs[5][3] = {{1, -1, 0.5}, {0, 0, 0}, {3, -2, 1}, {-4, 5, 2}, {1.1, -0.9, 0.4}};
    for (int t = 0; t < 5; t++) {
        DArr x = vec(xs[t], 3);
        double ref = ref_mvn(xs[t], mu, l, 3);
        double dx[3], gmu[3], gs[9], dxc[3], gmuc[3], gl[9];
        double *dp[2] = {gmu, gs}, *dpc[2] = {gmuc, gl};
        CHECK_NEAR(d->mv_lpdf(x, p, dx, dp), ref, 1e-10 * fmax(1, fabs(ref)));
        CHECK_NEAR(dc->mv_lpdf(x, pc, dxc, dpc), ref, 1e-10 * fmax(1, fabs(ref)));
        mv_check_grad("x", d, x, p, xs[t], dx, 3);
        mv_check_grad("mu", d, x, p, mu, gmu, 3);
        mv_check_grad("x", dc, x, pc, xs[t], dxc, 3);
        mv_check_grad("mu", dc, x, pc, mu, gmuc, 3);
        /* Sigma: symmetric perturbations; the gradient is symmetric */
        for (int a = 0; a < 3; a++)
            for (int b = 0; b <= a; b++) {
                double dir[9] = {0};
                dir[a * 3 + b] = dir[b * 3 + a] = 1;
                double fd = mv_fd(d, x, p, sigma, dir, 9, 1e-5);
                double an = a == b ? gs[a * 3 + a] : gs[a * 3 + b] + gs[b * 3 + a];
                CHECK(grad_close(an, fd, 1e-2), "MVN dSigma[%d][%d]: %.12g vs fd %.12g", a, b,
                      an, fd);
                CHECK_NEAR(gs[a * 3 + b], gs[b * 3 + a], 1e-12);
            }
        /* L: lower elements free, upper gradient 0 */
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                if (b > a) {
                    CHECK(gl[a * 3 + b] == 0, "MVNCholesky dL upper [%d][%d]", a, b);
                    continue;
                }
                double dir[9] = {0};
                dir[a * 3 + b] = 1;
                double fd = mv_fd(dc, x, pc, l, dir, 9, 1e-6);
                CHECK(grad_close(gl[a * 3 + b], fd, 1e-2), "MVNCholesky dL[%d][%d]: %.12g vs %.12g",
                      a, b, gl[a * 3 + b], fd);
            }
    }
    /* invalid parameters: not positive definite, not symmetric, bad L */
    double notpd[9] = {1, 2, 0, 2, 1, 0, 0, 0, 1},
           asym[9] = {2, 0.5, 0.3, 0.4, 1, -0.2, 0.3, -0.2, 1.5};
    double badl[9] = {1, 0, 0, 0.5, -1, 0, 0, 0, 1};
    CHECK(isnan(d->mv_lpdf(vec(xs[0], 3), (DArr[]){vec(mu, 3), mat(notpd, 3, 3)}, NULL, NULL)),
          "MVN accepts a Sigma that is not positive definite");
    CHECK(isnan(d->mv_lpdf(vec(xs[0], 3), (DArr[]){vec(mu, 3), mat(asym, 3, 3)}, NULL, NULL)),
          "MVN accepts an asymmetric Sigma");
    CHECK(isnan(dc->mv_lpdf(vec(xs[0], 3), (DArr[]){vec(mu, 3), mat(badl, 3, 3)}, NULL, NULL)),
          "MVNCholesky accepts a negative diagonal");
    /* the factor is checked only when the density is not finite: every
       invalid factor must still come out NaN, with or without gradients */
    double zerol[9] = {1, 0, 0, 0.5, 0, 0, 0, 0, 1}, infl[9] = {1, 0, 0, INFINITY, 1, 0, 0, 0, 1};
    double infdiag[9] = {1, 0, 0, 0.5, INFINITY, 0, 0, 0, 1}, g1[3], g2[3], g3[9];
    double *dpc2[2] = {g2, g3};
    for (int t = 0; t < 2; t++) {
        DArr xx = vec(xs[t], 3);
        CHECK(isnan(dc->mv_lpdf(xx, (DArr[]){vec(mu, 3), mat(zerol, 3, 3)}, g1, dpc2)),
              "MVNCholesky accepts a zero diagonal (x %d)", t);
        CHECK(isnan(dc->mv_lpdf(xx, (DArr[]){vec(mu, 3), mat(infl, 3, 3)}, NULL, NULL)),
              "MVNCholesky accepts an infinite entry (x %d)", t);
        CHECK(isnan(dc->mv_lpdf(xx, (DArr[]){vec(mu, 3), mat(infdiag, 3, 3)}, NULL, NULL)),
              "MVNCholesky accepts an infinite diagonal (x %d)", t);
    }
    double out[3];
    d->mv_sample(rng, (DArr[]){vec(mu, 3), mat(notpd, 3, 3)}, out);
    CHECK(isnan(out[0]), "MVN sample with a bad Sigma is not NAN");
    /* shapes */
    int r, c;
    char err[160] = "";
    CHECK(d->mv_shape(p, &r, &c, err, sizeof err) == 0 && r == 3 && c == 1, "MVN shape");
    CHECK(d->mv_shape((DArr[]){vec(mu, 3), mat(sigma, 3, 2)}, &r, &c, err, sizeof err) == -1
              && strstr(err, "Sigma") && strstr(err, "3x3"),
          "MVN shape error: '%s'", err);
    CHECK(dc->mv_shape((DArr[]){vec(mu, 2), mat(l, 3, 3)}, &r, &c, err, sizeof err) == -1
              && strstr(err, "L must be 2x2"),
          "MVNCholesky shape error: '%s'", err);
    /* draws */
    static double draws[NDRAWS * 3];
    const DistInfo *rows[2] = {d, dc};
    DArr *params[2] = {p, pc};
    for (int w = 0; w < 2; w++) {
        gsl_rng_set(rng, 17);
        for (int i = 0; i < NDRAWS; i++) rows[w]->mv_sample(rng, params[w], draws + 3 * i);
        check_covariance_draws(rows[w]->name, draws, NDRAWS, mu, sigma, 3);
    }
    /* K = 70 takes the heap path and still agrees with GSL */
    enum { K = 70 };
    static double s70[K * K], l70[K * K], m70[K], x70[K], dx70[K];
    for (int i = 0; i < K; i++) {
        m70[i] = 0.01 * i;
        x70[i] = sin(i);
        for (int j = 0; j < K; j++) s70[i * K + j] = (i == j ? 2.0 : 0) + 0.5 * exp(-abs(i - j));
    }
    cholesky_of(s70, l70, K);
    double lp70 = d->mv_lpdf(vec(x70, K), (DArr[]){vec(m70, K), mat(s70, K, K)}, dx70, NULL);
    CHECK_NEAR(lp70, ref_mvn(x70, m70, l70, K), 1e-9 * fabs(lp70));
    CHECK_NEAR(dc->mv_lpdf(vec(x70, K), (DArr[]){vec(m70, K), mat(l70, K, K)}, NULL, NULL),
               lp70, 1e-9 * fabs(lp70));
}

/* LKJ references: K = 2 and K = 3 from their own integrals,
 * c_2 = 2^(2 eta - 1) B(eta, eta) over r = L10, and
 * c_3 = B(1/2, eta + 1/2) pi / eta over (L10, L20, L21). */
static double ref_lkj(const double *l, int k, double eta)
{
    if (k == 1) return 0;
    if (k == 2) {
        double r = l[2];
        return (eta - 1) * log(1 - r * r) - ((2 * eta - 1) * M_LN2 + gsl_sf_lnbeta(eta, eta));
    }
    double c3 = gsl_sf_lnbeta(0.5, eta + 0.5) + log(M_PI / eta);
    return -c3 + (2 * eta - 1) * log(l[4]) + (2 * eta - 2) * log(l[8]);
}

/* A 3x3 Cholesky factor of a correlation matrix from (L10, L20, L21). */
static void lkj_chart(const double *t, double *l)
{
    memset(l, 0, 9 * sizeof *l);
    l[0] = 1;
    l[3] = t[0];
    l[4] = sqrt(1 - t[0] * t[0]);
    l[6] = t[1];
    l[7] = t[2];
    l[8] = sqrt(1 - t[1] * t[1] - t[2] * t[2]);
}

static double lkj_on_chart(const DistInfo *d, const double *t, double eta)
{
    double l[9], kk = 3;
    lkj_chart(t, l);
    return d->mv_lpdf(mat(l, 3, 3), (DArr[]){scal(&kk), scal(&eta)}, NULL, NULL);
}

static void test_lkj(void)
{
    const DistInfo *d = row("LKJCholesky");
    double etas[3] = {0.5, 1, 2.5};
    double k2 = 2, k3 = 3, k1 = 1;
    for (int e = 0; e < 3; e++) {
        double eta = etas[e];
        double rs[3] = {-0.9, 0, 0.6};
        for (int i = 0; i < 3; i++) { /* K = 2 */
            double l[4] = {1, 0, rs[i], sqrt(1 - rs[i] * rs[i])};
            double lp = d->mv_lpdf(mat(l, 2, 2), (DArr[]){scal(&k2), scal(&eta)}, NULL, NULL);
            CHECK_NEAR(lp, ref_lkj(l, 2, eta), 1e-12);
        }
        double ts[3][3] = {{0.3, -0.2, 0.5}, {0, 0, 0}, {-0.7, 0.6, 0.1}};
        for (int i = 0; i < 3; i++) { /* K = 3, value, dx along the chart, d eta */
            double l[9], dx[9], geta = NAN, gk = -1, *dp[2] = {&gk, &geta};
            lkj_chart(ts[i], l);
            DArr pk[2] = {scal(&k3), scal(&eta)};
            double lp = d->mv_lpdf(mat(l, 3, 3), pk, dx, dp);
            CHECK_NEAR(lp, ref_lkj(l, 3, eta), 1e-12);
            CHECK(gk == 0, "LKJ dK = %g", gk);
            /* chain rule through the chart: dL/dt for the three free elements */
            double dl[3][9] = {{0}};
            dl[0][3] = 1, dl[0][4] = -ts[i][0] / l[4];
            dl[1][6] = 1, dl[1][8] = -ts[i][1] / l[8];
            dl[2][7] = 1, dl[2][8] = -ts[i][2] / l[8];
            for (int f = 0; f < 3; f++) {
                double an = 0, t[3], h = 1e-6, fv[4];
                for (int j = 0; j < 9; j++) an += dx[j] * dl[f][j];
                static const double step[4] = {-2, -1, 1, 2};
                for (int s = 0; s < 4; s++) {
                    memcpy(t, ts[i], sizeof t);
                    t[f] += step[s] * h;
                    fv[s] = lkj_on_chart(d, t, eta);
                }
                double fd = (fv[0] - 8 * fv[1] + 8 * fv[2] - fv[3]) / (12 * h);
                CHECK(grad_close(an, fd, 1e-2), "LKJ d/dt%d (eta %g): %.12g vs fd %.12g", f, eta,
                      an, fd);
            }
            double etav = eta, fd;
            DArr pe[2] = {scal(&k3), scal(&etav)};
            double dir = 1;
            fd = mv_fd(d, mat(l, 3, 3), pe, &etav, &dir, 1, fd_step(eta));
            CHECK(grad_close(geta, fd, 1e-2), "LKJ d/deta: %.12g vs fd %.12g", geta, fd);
        }
    }
    double one = 1, eta1 = 1.5;
    CHECK_NEAR(d->mv_lpdf(scal(&one), (DArr[]){scal(&k1), scal(&eta1)}, NULL, NULL), 0, 0);
    /* out of support and bad parameters */
    double notunit[4] = {1, 0, 0.5, 0.5}, upper[4] = {1, 0.1, 0, 1}, negdiag[4] = {1, 0, 0.6, -0.8};
    DArr pk2[2] = {scal(&k2), scal(&eta1)};
    CHECK(d->mv_lpdf(mat(notunit, 2, 2), pk2, NULL, NULL) == -INF, "LKJ rows not unit");
    CHECK(d->mv_lpdf(mat(upper, 2, 2), pk2, NULL, NULL) == -INF, "LKJ upper not zero");
    CHECK(d->mv_lpdf(mat(negdiag, 2, 2), pk2, NULL, NULL) == -INF, "LKJ negative diagonal");
    double l2[4] = {1, 0, 0.6, 0.8}, eta0 = 0, kbad = 2.5;
    CHECK(isnan(d->mv_lpdf(mat(l2, 2, 2), (DArr[]){scal(&k2), scal(&eta0)}, NULL, NULL)), "eta 0");
    CHECK(isnan(d->mv_lpdf(mat(l2, 2, 2), (DArr[]){scal(&k3), scal(&eta1)}, NULL, NULL)),
          "LKJ K disagrees with the value");
    int r, c;
    char err[128] = "";
    CHECK(d->mv_shape(pk2, &r, &c, err, sizeof err) == 0 && r == 2 && c == 2, "LKJ shape");
    CHECK(d->mv_shape((DArr[]){scal(&kbad), scal(&eta1)}, &r, &c, err, sizeof err) == -1
              && strstr(err, "K must be a positive integer"),
          "LKJ shape error: '%s'", err);
    /* draws: valid factors; each correlation has mean 0, var 1/(2 eta + K - 1) */
    enum { K = 4 };
    double kk = K, eta = 2, out[K * K];
    static double corr[NDRAWS * 6];
    DArr pk[2] = {scal(&kk), scal(&eta)};
    gsl_rng_set(rng, 19);
    int outside = 0;
    for (int i = 0; i < NDRAWS; i++) {
        d->mv_sample(rng, pk, out);
        if (!(d->mv_lpdf(mat(out, K, K), pk, NULL, NULL) > -INF)) outside++;
        int n = 0;
        for (int a = 0; a < K; a++)
            for (int b = 0; b < a; b++) {
                double s = 0;
                for (int j = 0; j < K; j++) s += out[a * K + j] * out[b * K + j];
                corr[i * 6 + n++] = s;
            }
    }
    CHECK(outside == 0, "LKJ: %d draws are not Cholesky correlation factors", outside);
    double mean[6] = {0}, var[6];
    for (int j = 0; j < 6; j++) var[j] = 1 / (2 * eta + K - 1);
    check_vector_draws("LKJCholesky", corr, NDRAWS, 6, mean, var);
}

static void test_random_walk(void)
{
    const DistInfo *d = row("GaussianRandomWalk");
    double sigma = 0.7, n = 5;
    DArr p[2] = {scal(&sigma), scal(&n)};
    double xs[5][5] = {{0, 0, 0, 0, 0}, {0.5, 1, 0.2, -0.3, 0.1}, {-2, -1.5, -1, 0, 3},
                       {10, 10, 10, 10, 10}, {0.1, -0.1, 0.1, -0.1, 0.1}};
    for (int t = 0; t < 5; t++) {
        double ref = 0, prev = 0;
        for (int i = 0; i < 5; i++) {
            ref += log(gsl_ran_gaussian_pdf(xs[t][i] - prev, sigma));
            prev = xs[t][i];
        }
        double dx[5], gs = NAN, gn = -1, *dp[2] = {&gs, &gn};
        CHECK_NEAR(d->mv_lpdf(vec(xs[t], 5), p, dx, dp), ref, 1e-10 * fmax(1, fabs(ref)));
        CHECK(gn == 0, "GRW dn = %g", gn);
        mv_check_grad("x", d, vec(xs[t], 5), p, xs[t], dx, 5);
        mv_check_grad("sigma", d, vec(xs[t], 5), p, &sigma, &gs, 1);
    }
    double zero = 0;
    CHECK(isnan(d->mv_lpdf(vec(xs[0], 5), (DArr[]){scal(&zero), scal(&n)}, NULL, NULL)), "sigma 0");
    CHECK(isnan(d->mv_lpdf(vec(xs[0], 4), p, NULL, NULL)), "GRW length disagrees with n");
    int r, c;
    char err[128] = "";
    CHECK(d->mv_shape(p, &r, &c, err, sizeof err) == 0 && r == 5 && c == 1, "GRW shape");
    CHECK(d->mv_shape((DArr[]){scal(&sigma), scal(&zero)}, &r, &c, err, sizeof err) == -1
              && strstr(err, "n must be"),
          "GRW shape error: '%s'", err);
    static double draws[NDRAWS * 5];
    gsl_rng_set(rng, 23);
    for (int i = 0; i < NDRAWS; i++) d->mv_sample(rng, p, draws + 5 * i);
    double mean[5] = {0}, var[5];
    for (int j = 0; j < 5; j++) var[j] = (j + 1) * sigma * sigma;
    check_vector_draws("GaussianRandomWalk", draws, NDRAWS, 5, mean, var);
}

int main(void)
{
    gsl_set_error_handler_off(); /* GSL errors are return codes, as in cmrun */
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    integration_ws = gsl_integration_workspace_alloc(1000);
    test_table();
    for (size_t i = 0; i < sizeof uni_cases / sizeof *uni_cases; i++) run_case(&uni_cases[i]);
    test_tails();
    test_categorical();
    test_multinomial();
    test_dirichlet();
    test_mvn();
    test_lkj();
    test_random_walk();
    gsl_integration_workspace_free(integration_ws);
    gsl_rng_free(rng);
    return check_done();
}
