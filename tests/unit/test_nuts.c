/*
 * test_nuts.c - NUTS, static HMC and Stan's warm-up adaptation on C targets.
 *
 * Statistical checks run single chains with fixed seeds and compare with
 * the known answer at 4 Monte Carlo standard errors, the standard error
 * coming from an effective sample size estimated here with Geyer's initial
 * positive sequence.  The pieces (windows, dual averaging, Welford, leapfrog,
 * momenta) are checked directly through sampler_internal.h.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sf_psi.h>

#include "check.h"
#include "sampler.h"
#include "sampler_internal.h"

/* ---- targets ------------------------------------------------------------ */

/* N(mean, Sigma), given by its precision P = Sigma^{-1} (dense, row-major). */
typedef struct {
    int dim;
    const double *mean;
    const double *prec;     /* dim*dim, or NULL with `sd` for independence */
    const double *sd;
    long calls;
} Gauss;

static double gauss_logp(void *ctx, const double *q, double *g)
{
    Gauss *t = ctx;
    int n = t->dim;
    double lp = 0;
    t->calls++;
    if (t->prec) {
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < n; j++)
                s += t->prec[i * n + j] * (q[j] - (t->mean ? t->mean[j] : 0));
            g[i] = -s;
            lp -= 0.5 * s * (q[i] - (t->mean ? t->mean[i] : 0));
        }
    } else {
        for (int i = 0; i < n; i++) {
            double s = t->sd ? t->sd[i] : 1.0;
            double z = (q[i] - (t->mean ? t->mean[i] : 0)) / s;
            g[i] = -z / s;
            lp -= 0.5 * z * z;
        }
    }
    return lp;
}

/* log of a Gamma(2, 1) variable: density exp(2q - e^q), skewed; mean
 * psi(2), variance psi'(2). */
static double loggamma_logp(void *ctx, const double *q, double *g)
{
    (void)ctx;
    g[0] = 2 - exp(q[0]);
    return 2 * q[0] - exp(q[0]);
}

/* Standard normal restricted to q > 0, undefined (-inf) elsewhere: the
 * trajectories that cross 0 end in a divergence.  Mean sqrt(2/pi),
 * variance 1 - 2/pi. */
static double halfnormal_logp(void *ctx, const double *q, double *g)
{
    (void)ctx;
    g[0] = -q[0];
    return q[0] > 0 ? -0.5 * q[0] * q[0] : -INFINITY;
}

typedef struct { long calls; } Counter;

static double nan_logp(void *ctx, const double *q, double *g)
{
    (void)q;
    ((Counter *)ctx)->calls++;
    g[0] = 0;
    return NAN;
}

static double nan_grad_logp(void *ctx, const double *q, double *g)
{
    ((Counter *)ctx)->calls++;
    g[0] = NAN;
    return -q[0] * q[0];
}

static double flat_logp(void *ctx, const double *q, double *g)
{
    (void)ctx;
    (void)q;
    g[0] = 0;
    return 0;
}

/* ---- collecting draws --------------------------------------------------- */

typedef struct {
    int dim, cap;
    int n;                  /* sampling draws stored */
    double *x;              /* n x dim */
    double sum_accept;
    int n_div, n_maxdepth, max_depth;
    int n_warm;             /* warm-up callbacks */
    double *all;            /* every q (warm-up and sampling), for determinism */
    int n_all, cap_all;
    int stop_at_warmup, stop_at_sample;   /* -1: never */
    volatile int *flag;     /* set at sampling iteration flag_at */
    int flag_at;
} Sink;

static void sink_init(Sink *s, int dim, int cap, int cap_all)
{
    memset(s, 0, sizeof *s);
    s->dim = dim;
    s->cap = cap;
    s->x = malloc(sizeof(double) * (size_t)(cap > 0 ? cap : 1) * (dim > 0 ? dim : 1));
    s->cap_all = cap_all;
    s->all = cap_all ? malloc(sizeof(double) * (size_t)cap_all * dim) : NULL;
    s->stop_at_warmup = s->stop_at_sample = -1;
    s->flag_at = -1;
}

static void sink_free(Sink *s)
{
    free(s->x);
    free(s->all);
}

static int sink_draw(void *user, int iter, int warmup, const SamplerStats *st,
                     const double *q)
{
    Sink *s = user;
    if (s->all && s->n_all < s->cap_all)
        memcpy(s->all + (size_t)s->n_all++ * s->dim, q, sizeof(double) * s->dim);
    if (warmup) {
        s->n_warm++;
        return iter == s->stop_at_warmup;
    }
    if (s->n < s->cap) memcpy(s->x + (size_t)s->n * s->dim, q, sizeof(double) * s->dim);
    s->n++;
    s->sum_accept += st->accept_stat;
    s->n_div += st->divergent;
    s->n_maxdepth += st->treedepth >= s->max_depth;
    if (s->flag && iter == s->flag_at) *s->flag = 1;
    return iter == s->stop_at_sample;
}

/* ---- Monte Carlo error -------------------------------------------------- */

/* Effective sample size by Geyer's initial positive sequence: sum the
 * autocorrelations in pairs rho_2k + rho_2k+1 while the pair sums stay
 * positive.  tau = -1 + 2 sum; ESS = n / tau. */
static double ess(const double *x, int n)
{
    double m = 0, c0 = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) c0 += (x[i] - m) * (x[i] - m);
    c0 /= n;
    if (c0 == 0) return n;
    double sum = 0;
    for (int k = 0; 2 * k + 1 < n / 2; k++) {
        double pair = 0;
        for (int t = 2 * k; t <= 2 * k + 1; t++) {
            double c = 0;
            for (int i = 0; i + t < n; i++) c += (x[i] - m) * (x[i + t] - m);
            pair += c / n / c0;
        }
        if (pair <= 0) break;
        sum += pair;
    }
    double tau = -1 + 2 * sum;
    if (tau < 1.0 / n) tau = 1.0 / n;
    return n / tau;
}

typedef struct { double mean, se; } Est;

/* Mean of column j and its MC standard error. */
static Est col_mean(const Sink *s, int j, double *buf)
{
    Est e = {0, 0};
    double v = 0;
    for (int i = 0; i < s->n; i++) buf[i] = s->x[(size_t)i * s->dim + j];
    for (int i = 0; i < s->n; i++) e.mean += buf[i];
    e.mean /= s->n;
    for (int i = 0; i < s->n; i++) v += (buf[i] - e.mean) * (buf[i] - e.mean);
    v /= s->n - 1;
    e.se = sqrt(v / ess(buf, s->n));
    return e;
}

/* Covariance of columns a and b, with the MC standard error of the mean of
 * the products (x_a - mean_a)(x_b - mean_b). */
static Est col_cov(const Sink *s, int a, int b, double *buf)
{
    Est ea = col_mean(s, a, buf), eb = col_mean(s, b, buf);
    Est e = {0, 0};
    for (int i = 0; i < s->n; i++)
        buf[i] = (s->x[(size_t)i * s->dim + a] - ea.mean) *
                 (s->x[(size_t)i * s->dim + b] - eb.mean);
    double v = 0;
    for (int i = 0; i < s->n; i++) e.mean += buf[i];
    e.mean /= s->n;
    for (int i = 0; i < s->n; i++) v += (buf[i] - e.mean) * (buf[i] - e.mean);
    v /= s->n - 1;
    e.se = sqrt(v / ess(buf, s->n));
    return e;
}

/* ---- the pieces --------------------------------------------------------- */

/* Iterations (0-based) after which the metric is updated. */
static int window_ends(int warmup, int init, int term, int base, int *ends, int cap)
{
    AdaptWindows w;
    int k = 0;
    adapt_windows_init(&w, warmup, init, term, base);
    for (int i = 0; i < warmup; i++) {
        if (adapt_windows_end_window(&w)) {
            adapt_windows_compute_next(&w);
            if (k < cap) ends[k] = i;
            k++;
        }
        w.counter++;
    }
    return k;
}

static void test_windows(void)
{
    int e[16];
    int k = window_ends(1000, 75, 50, 25, e, 16);
    int want[] = { 99, 149, 249, 449, 949 };
    CHECK(k == 5, "1000 warm-up: %d metric updates, want 5", k);
    for (int i = 0; i < 5 && i < k; i++)
        CHECK(e[i] == want[i], "window %d ends at %d, want %d", i, e[i], want[i]);

    /* 2000: 75 | 25 50 100 200 400 1100 | 50 */
    k = window_ends(2000, 75, 50, 25, e, 16);
    int want2[] = { 99, 149, 249, 449, 849, 1949 };
    CHECK(k == 6, "2000 warm-up: %d metric updates, want 6", k);
    for (int i = 0; i < 6 && i < k; i++)
        CHECK(e[i] == want2[i], "window %d ends at %d, want %d", i, e[i], want2[i]);

    /* 100 does not fit 75 + 25 + 50: 15% / 75% / 10%, one slow window
     * over iterations 15..89. */
    AdaptWindows w;
    adapt_windows_init(&w, 100, 75, 50, 25);
    CHECK(w.fallback && w.init_buffer == 15 && w.term_buffer == 10 &&
          w.base_window == 75, "fallback partition %u/%u/%u",
          w.init_buffer, w.base_window, w.term_buffer);
    k = window_ends(100, 75, 50, 25, e, 16);
    CHECK(k == 1 && e[0] == 89, "100 warm-up: %d updates, first at %d", k, e[0]);
    int inside = 0;
    adapt_windows_init(&w, 100, 75, 50, 25);
    for (int i = 0; i < 100; i++, w.counter++) inside += adapt_windows_in_window(&w);
    CHECK(inside == 75, "100 warm-up: %d draws in the slow window, want 75", inside);

    /* Below 20 no metric is estimated. */
    k = window_ends(19, 75, 50, 25, e, 16);
    CHECK(k == 0, "19 warm-up: %d metric updates, want 0", k);
    /* Exactly fitting: 150 = 75 + 25 + 50 gives one window ending at 99. */
    k = window_ends(150, 75, 50, 25, e, 16);
    CHECK(k == 1 && e[0] == 99, "150 warm-up: %d updates, first at %d", k, e[0]);
}

static void test_dual_averaging(void)
{
    DualAveraging da;
    double eps = 1;
    adapt_da_init(&da, 0.8, 0.05, 0.75, 10, 1.0);
    /* Hand computation of the first step with accept 0.5:
     * eta = 1/11, s_bar = 0.3/11, x = log 10 - s_bar/0.05, x_bar = x. */
    adapt_da_learn(&da, &eps, 0.5);
    double x = log(10.0) - (0.3 / 11) / 0.05;
    CHECK_NEAR(log(eps), x, 1e-12);
    CHECK_NEAR(da.x_bar, x, 1e-12);
    /* Second step, accept 1.7 is clamped to 1. */
    adapt_da_learn(&da, &eps, 1.7);
    double s_bar = (1 - 1.0 / 12) * (0.3 / 11) + (1.0 / 12) * (0.8 - 1.0);
    double x2 = log(10.0) - s_bar * sqrt(2.0) / 0.05;
    double w = pow(2.0, -0.75);
    CHECK_NEAR(log(eps), x2, 1e-12);
    CHECK_NEAR(da.x_bar, (1 - w) * x + w * x2, 1e-12);
    CHECK_NEAR(adapt_da_final(&da), exp((1 - w) * x + w * x2), 1e-12);
    adapt_da_restart(&da, 0.25);
    CHECK_NEAR(da.mu, log(2.5), 1e-15);
    CHECK(da.counter == 0 && da.x_bar == 0 && da.s_bar == 0, "restart clears state");
}

static void test_welford(void)
{
    double q[6][2] = { {1, 2}, {2, 1}, {4, 7}, {-1, 0}, {0.5, 3}, {3, -2} };
    Welford d, c;
    adapt_welford_init(&d, METRIC_DIAG, 2);
    adapt_welford_init(&c, METRIC_DENSE, 2);
    for (int i = 0; i < 6; i++) {
        adapt_welford_add(&d, q[i]);
        adapt_welford_add(&c, q[i]);
    }
    double m[2] = {0, 0}, cov[2][2] = {{0, 0}, {0, 0}};
    for (int i = 0; i < 6; i++) { m[0] += q[i][0] / 6; m[1] += q[i][1] / 6; }
    for (int i = 0; i < 6; i++)
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                cov[a][b] += (q[i][a] - m[a]) * (q[i][b] - m[b]) / 5;
    double vd[2], vc[4], shrink = 6.0 / 11, ridge = 1e-3 * 5.0 / 11;
    CHECK(adapt_welford_regularised(&d, vd) == 1, "diag estimate ready");
    CHECK(adapt_welford_regularised(&c, vc) == 1, "dense estimate ready");
    for (int a = 0; a < 2; a++) {
        CHECK_NEAR(vd[a], shrink * cov[a][a] + ridge, 1e-12);
        for (int b = 0; b < 2; b++)
            CHECK_NEAR(vc[a * 2 + b], shrink * cov[a][b] + (a == b ? ridge : 0), 1e-12);
    }
    adapt_welford_restart(&d);
    adapt_welford_add(&d, q[0]);
    CHECK(adapt_welford_regularised(&d, vd) == 0, "one draw gives no estimate");
    adapt_welford_free(&d);
    adapt_welford_free(&c);
}

/* Leapfrog is reversible and nearly conserves energy; momenta have
 * covariance M for a dense metric. */
static void test_dynamics(void)
{
    double prec[4] = { 1 / 0.19, -0.9 / 0.19, -0.9 / 0.19, 1 / 0.19 };
    Gauss g = { 2, NULL, prec, NULL, 0 };
    SamplerTarget t = { 2, gauss_logp, &g };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    Hamiltonian h = { &t, 2, {0}, rng, NULL, 0 };
    double p_sharp[2];
    h.p_sharp = p_sharp;
    metric_init(&h.metric, METRIC_DENSE, 2);
    double inv[4] = { 1, 0.9, 0.9, 1 };
    CHECK(metric_set(&h.metric, inv) == 0, "dense metric accepted");
    double not_pd[4] = { 1, 2, 2, 1 };
    CHECK(metric_set(&h.metric, not_pd) != 0, "indefinite metric refused");
    CHECK_NEAR(h.metric.inv[1], 0.9, 0);   /* and the old one kept */

    HmcPoint z, z0;
    hmc_point_init(&z, 2);
    hmc_point_init(&z0, 2);
    z.q[0] = 0.3; z.q[1] = -1.2;
    hmc_evaluate(&h, &z);
    metric_sample_p(&h.metric, rng, z.p);
    hmc_point_copy(&z0, &z, 2);
    double H0 = hmc_energy(&h, &z, p_sharp);
    for (int i = 0; i < 20; i++) hmc_leapfrog(&h, &z, 0.1);
    double H1 = hmc_energy(&h, &z, p_sharp);
    CHECK(fabs(H1 - H0) < 0.05, "energy error %g after 20 steps", H1 - H0);
    for (int i = 0; i < 20; i++) hmc_leapfrog(&h, &z, -0.1);
    CHECK(fabs(z.q[0] - z0.q[0]) < 1e-12 && fabs(z.q[1] - z0.q[1]) < 1e-12 &&
          fabs(z.p[0] - z0.p[0]) < 1e-12 && fabs(z.p[1] - z0.p[1]) < 1e-12,
          "leapfrog not reversible: q (%g %g) vs (%g %g)", z.q[0], z.q[1],
          z0.q[0], z0.q[1]);
    CHECK(h.n_grad == 41, "gradient count %ld, want 41", h.n_grad);

    /* Cov(p) = M = inv^{-1} = [[1, -.9], [-.9, 1]] / 0.19.  With n
     * independent draws the SE of a covariance entry is
     * sqrt((S_aa S_bb + S_ab^2) / n). */
    int n = 40000;
    double s00 = 0, s01 = 0, s11 = 0;
    for (int i = 0; i < n; i++) {
        metric_sample_p(&h.metric, rng, z.p);
        s00 += z.p[0] * z.p[0]; s01 += z.p[0] * z.p[1]; s11 += z.p[1] * z.p[1];
    }
    double M00 = 1 / 0.19, M01 = -0.9 / 0.19;
    CHECK_NEAR(s00 / n, M00, 4 * sqrt(2 * M00 * M00 / n));
    CHECK_NEAR(s11 / n, M00, 4 * sqrt(2 * M00 * M00 / n));
    CHECK_NEAR(s01 / n, M01, 4 * sqrt((M00 * M00 + M01 * M01) / n));

    hmc_point_free(&z);
    hmc_point_free(&z0);
    metric_free(&h.metric);
    gsl_rng_free(rng);
}

/* ---- moments ------------------------------------------------------------ */

typedef struct {
    const char *name;
    int dim;
    const double *mean, *var;   /* true moments */
    const double *cov01;        /* true covariance of coordinates 0, 1 */
    Gauss g;
} Case;

static int run(const SamplerTarget *t, const SamplerConfig *c, unsigned long seed,
               Sink *s, SamplerResult *r)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    s->max_depth = c->max_depth;
    int rc = sampler_run(t, c, rng, sink_draw, NULL, s, r);
    gsl_rng_free(rng);
    return rc;
}

static void check_case(Case *k, const char *sampler, MetricKind metric, int L,
                       unsigned long seed)
{
    SamplerTarget t = { k->dim, gauss_logp, &k->g };
    SamplerConfig c;
    sampler_config_default(&c);
    c.metric = metric;
    c.hmc_steps = L;
    c.samples = 4000;
    Sink s;
    sink_init(&s, k->dim, c.samples, 0);
    SamplerResult r;
    int rc = run(&t, &c, seed, &s, &r);
    CHECK(rc == SAMPLER_OK, "%s %s: status %d (%s)", k->name, sampler, rc, r.message);
    CHECK(s.n == c.samples, "%s %s: %d draws", k->name, sampler, s.n);
    double *buf = malloc(sizeof(double) * s.n);
    double min_ess = 1e300;
    for (int j = 0; j < k->dim; j++) {
        Est m = col_mean(&s, j, buf);
        CHECK(fabs(m.mean - k->mean[j]) <= 4 * m.se,
              "%s %s: mean[%d] = %g, want %g +- 4 x %g", k->name, sampler, j,
              m.mean, k->mean[j], m.se);
        Est v = col_cov(&s, j, j, buf);
        CHECK(fabs(v.mean - k->var[j]) <= 4 * v.se,
              "%s %s: var[%d] = %g, want %g +- 4 x %g", k->name, sampler, j,
              v.mean, k->var[j], v.se);
        col_mean(&s, j, buf);
        double e = ess(buf, s.n);
        if (e < min_ess) min_ess = e;
    }
    if (k->cov01) {
        Est v = col_cov(&s, 0, 1, buf);
        CHECK(fabs(v.mean - *k->cov01) <= 4 * v.se,
              "%s %s: cov = %g, want %g +- 4 x %g", k->name, sampler, v.mean,
              *k->cov01, v.se);
    }
    /* Enough effective draws that 4 SE is a meaningful test. */
    CHECK(min_ess > 400, "%s %s: min ESS %.0f", k->name, sampler, min_ess);
    CHECK(s.n_div == 0, "%s %s: %d divergences", k->name, sampler, s.n_div);
    printf("  %-12s %-10s eps %.3f  accept %.3f  min ESS %5.0f  grads %ld\n",
           k->name, sampler, r.step_size, s.sum_accept / s.n, min_ess,
           r.n_grad_sampling);
    free(buf);
    sink_free(&s);
    sampler_result_free(&r);
}

static void test_moments(void)
{
    static const double zero[10] = {0}, one[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const double mc[2] = { 1, -1 }, prec[4] = { 1 / 0.19, -0.9 / 0.19,
                                                       -0.9 / 0.19, 1 / 0.19 };
    static const double rho = 0.9;
    static const double ms[2] = { 3, -2 }, sds[2] = { 0.1, 10 }, vs[2] = { 0.01, 100 };
    static const double zero_cov = 0;
    Case cases[] = {
        { "normal-1d", 1, zero, one, NULL, { 1, NULL, NULL, NULL, 0 } },
        { "normal-10d", 10, zero, one, NULL, { 10, NULL, NULL, NULL, 0 } },
        { "corr-0.9", 2, mc, one, &rho, { 2, mc, prec, NULL, 0 } },
        { "scaled-2d", 2, ms, vs, &zero_cov, { 2, ms, NULL, sds, 0 } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_case(&cases[i], "nuts-diag", METRIC_DIAG, 0, 100 + i);
        check_case(&cases[i], "nuts-dense", METRIC_DENSE, 0, 200 + i);
        /* Static HMC with a fixed integration time is periodic on a
         * Gaussian: each transition rotates phase space by L * theta,
         * cos(theta) = 1 - eps^2/2, so lag-1 autocorrelation is about
         * cos(L theta).  L = 5 keeps that rotation away from multiples of
         * 2 pi at the step sizes adaptation picks here (L = 6 or 7 with
         * eps ~ 1 would be near-periodic and mix slowly; correct, but a
         * weak test). */
        check_case(&cases[i], "hmc-diag", METRIC_DIAG, 5, 300 + i);
    }
}

/* Non-Gaussian 1-D targets, mean and variance at 4 MCSE. */
static void check_1d(const char *name, double (*f)(void *, const double *, double *),
                     double mean, double var, const double *init, int L,
                     unsigned long seed, int *divergences)
{
    SamplerTarget t = { 1, f, NULL };
    SamplerConfig c;
    sampler_config_default(&c);
    c.samples = 6000;
    c.hmc_steps = L;
    c.init = init;
    Sink s;
    sink_init(&s, 1, c.samples, 0);
    SamplerResult r;
    int rc = run(&t, &c, seed, &s, &r);
    CHECK(rc == SAMPLER_OK, "%s: status %d (%s)", name, rc, r.message);
    double *buf = malloc(sizeof(double) * s.n);
    Est m = col_mean(&s, 0, buf), v = col_cov(&s, 0, 0, buf);
    CHECK(fabs(m.mean - mean) <= 4 * m.se, "%s: mean %g, want %g +- 4 x %g",
          name, m.mean, mean, m.se);
    CHECK(fabs(v.mean - var) <= 4 * v.se, "%s: var %g, want %g +- 4 x %g",
          name, v.mean, var, v.se);
    double e = ess(buf, s.n);
    CHECK(e > 400, "%s: ESS %.0f", name, e);
    printf("  %-22s eps %.3f  accept %.3f  ESS %5.0f  divergent %d\n", name,
           r.step_size, s.sum_accept / s.n, e, r.n_divergent);
    *divergences = r.n_divergent;
    free(buf);
    sink_free(&s);
    sampler_result_free(&r);
}

static void test_non_gaussian(void)
{
    int div;
    double psi2 = gsl_sf_psi(2.0), psi1_2 = gsl_sf_psi_1(2.0);
    check_1d("log-gamma nuts", loggamma_logp, psi2, psi1_2, NULL, 0, 401, &div);
    CHECK(div == 0, "log-gamma: %d divergences", div);
    check_1d("log-gamma hmc", loggamma_logp, psi2, psi1_2, NULL, 5, 402, &div);
    /* Random inits in (-2, 2) land on the undefined half about half the
     * time: initialisation retries until it finds q > 0. */
    check_1d("half-normal nuts", halfnormal_logp, sqrt(2 / M_PI), 1 - 2 / M_PI,
             NULL, 0, 403, &div);
    CHECK(div > 0, "half-normal: the boundary should cause divergences");
    double init = 0.5;
    check_1d("half-normal hmc", halfnormal_logp, sqrt(2 / M_PI), 1 - 2 / M_PI,
             &init, 5, 404, &div);
}

/* Dense adaptation learns the correlation: the final inverse metric is the
 * regularised covariance of the last slow window (500 draws of 1000
 * warm-up), whose entries have SE about sqrt((1 + rho^2) / 500) = 0.06. */
static void test_dense_metric(void)
{
    static const double mc[2] = { 1, -1 }, prec[4] = { 1 / 0.19, -0.9 / 0.19,
                                                       -0.9 / 0.19, 1 / 0.19 };
    Gauss g = { 2, mc, prec, NULL, 0 };
    SamplerTarget t = { 2, gauss_logp, &g };
    SamplerConfig c;
    sampler_config_default(&c);
    c.metric = METRIC_DENSE;
    c.samples = 10;
    Sink s;
    sink_init(&s, 2, c.samples, 0);
    SamplerResult r;
    int rc = run(&t, &c, 11, &s, &r);
    CHECK(rc == SAMPLER_OK, "dense run status %d", rc);
    double tol = 4 * sqrt((1 + 0.81) / 500);
    CHECK(r.metric == METRIC_DENSE, "metric kind %d", r.metric);
    CHECK_NEAR(r.inv_metric[0], 1.0, tol);
    CHECK_NEAR(r.inv_metric[3], 1.0, tol);
    CHECK_NEAR(r.inv_metric[1], 0.9, tol);
    CHECK(r.inv_metric[1] == r.inv_metric[2], "dense inverse metric symmetric");
    sink_free(&s);
    sampler_result_free(&r);
}

/* ---- adaptation matters ------------------------------------------------- */

/* 100 independent coordinates with sd log-spaced from 0.01 to 100: the step
 * size that the smallest scale allows would need ~10^4 steps to cross the
 * largest, so without a metric NUTS cannot sample it. */
static void test_scales(void)
{
    enum { D = 100, WARM = 1000, N = 5000 };
    double sd[D];
    for (int i = 0; i < D; i++) sd[i] = 0.01 * pow(10.0, 4.0 * i / (D - 1));
    Gauss g = { D, NULL, NULL, sd, 0 };
    SamplerTarget t = { D, gauss_logp, &g };

    SamplerConfig c;
    sampler_config_default(&c);
    c.warmup = WARM;
    c.samples = N;
    Sink s;
    sink_init(&s, D, N, WARM + N);
    SamplerResult r;
    int rc = run(&t, &c, 2024, &s, &r);
    CHECK(rc == SAMPLER_OK, "100-d adapted: status %d (%s)", rc, r.message);
    double *buf = malloc(sizeof(double) * N);
    /* Tolerance: the sd estimate's relative SE is se(var) / (2 var), with
     * se(var) from the ESS of the squared deviations; with 5000 draws that
     * is about 2% here, so 10% is more than 4 SE.  The test asserts both the
     * 10% band and that 4 SE fits inside it. */
    double worst = 0, worst_se = 0;
    int bad = 0;
    for (int j = 0; j < D; j++) {
        Est v = col_cov(&s, j, j, buf);
        double rel = sqrt(v.mean) / sd[j] - 1, rel_se = v.se / (2 * v.mean);
        if (fabs(rel) > fabs(worst)) worst = rel;
        if (rel_se > worst_se) worst_se = rel_se;
        if (fabs(rel) > 0.10) bad++;
    }
    CHECK(bad == 0, "100-d adapted: %d coordinates' sd off by more than 10%% "
          "(worst %+.1f%%)", bad, 100 * worst);
    CHECK(4 * worst_se < 0.10, "100-d adapted: 4 SE = %.1f%% exceeds the 10%% "
          "band", 400 * worst_se);
    CHECK(r.n_divergent == 0 && s.n_div == 0, "100-d adapted: %d divergences",
          r.n_divergent);

    /* The final inverse metric is exactly the regularised variance of the
     * last slow window's draws, warm-up iterations 450..949 (0-based) ... */
    int w0 = 450, wn = 500, exact = 0, off = 0;
    double k5 = wn / (wn + 5.0), ridge = 1e-3 * 5.0 / (wn + 5.0);
    for (int j = 0; j < D; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < wn; i++) m += s.all[(size_t)(w0 + i) * D + j];
        m /= wn;
        for (int i = 0; i < wn; i++) {
            double d = s.all[(size_t)(w0 + i) * D + j] - m;
            buf[i] = d * d;
            v += d * d;
        }
        v /= wn - 1;
        exact += fabs(r.inv_metric[j] - (k5 * v + ridge)) <= 1e-9 * (k5 * v + ridge);
        /* ... and follows sd^2 within 4 SE of that window's variance. */
        double se = sqrt(2.0 / ess(buf, wn)) * sd[j] * sd[j];
        off += fabs(r.inv_metric[j] - sd[j] * sd[j]) > 4 * se + ridge;
    }
    CHECK(exact == D, "100-d: %d of %d inverse-metric entries equal the window "
          "estimate", exact, D);
    CHECK(off == 0, "100-d: %d inverse-metric entries more than 4 SE from sd^2", off);
    int adapt_div = r.n_divergent;
    double adapt_worst = worst;
    printf("  100-d adapted:  eps %.3f  worst sd error %+.1f%%  4 SE %.1f%%  "
           "divergences %d  max-depth %d  grads %ld+%ld\n", r.step_size,
           100 * worst, 400 * worst_se, r.n_divergent, r.n_max_depth,
           r.n_grad_warmup, r.n_grad_sampling);
    sink_free(&s);
    sampler_result_free(&r);

    /* The same target with no adaptation at all (step size 1, unit metric). */
    sampler_config_default(&c);
    c.adapt = 0;
    c.warmup = 200;
    c.samples = 500;
    sink_init(&s, D, c.samples, 0);
    rc = run(&t, &c, 2024, &s, &r);
    CHECK(rc == SAMPLER_OK, "100-d unadapted: status %d", rc);
    CHECK(r.metric == METRIC_UNIT && r.step_size == 1.0,
          "unadapted: metric %d, step size %g", r.metric, r.step_size);
    Est v = col_cov(&s, D - 1, D - 1, buf);
    double sd_err = sqrt(v.mean) / sd[D - 1] - 1;
    double div_frac = (double)r.n_divergent / s.n;
    double depth_frac = (double)r.n_max_depth / s.n;
    printf("  100-d unadapted: divergent %.0f%%  largest sd error %+.0f%%  "
           "max-depth %.0f%%\n", 100 * div_frac, 100 * sd_err, 100 * depth_frac);
    int visibly_bad = div_frac > 0.5 || fabs(sd_err) > 0.5 || depth_frac > 0.5;
    CHECK(visibly_bad, "without adaptation the run should be visibly bad");
    CHECK(visibly_bad && adapt_div == 0 && fabs(adapt_worst) <= 0.10,
          "adaptation makes no difference");
    free(buf);
    sink_free(&s);
    sampler_result_free(&r);
}

/* Dual averaging reaches the target acceptance. */
static void test_accept_target(void)
{
    Gauss g = { 10, NULL, NULL, NULL, 0 };
    SamplerTarget t = { 10, gauss_logp, &g };
    double deltas[] = { 0.8, 0.9, 0.95 };
    for (int i = 0; i < 3; i++) {
        SamplerConfig c;
        sampler_config_default(&c);
        c.adapt_delta = deltas[i];
        c.samples = 2000;
        Sink s;
        sink_init(&s, 10, c.samples, 0);
        SamplerResult r;
        run(&t, &c, 77 + i, &s, &r);
        double acc = s.sum_accept / s.n;
        CHECK(fabs(acc - deltas[i]) < 0.1, "delta %.2f: mean accept_stat %.3f",
              deltas[i], acc);
        printf("  adapt_delta %.2f: mean accept_stat %.3f, step size %.3f\n",
               deltas[i], acc, r.step_size);
        sink_free(&s);
        sampler_result_free(&r);
    }
}

/* ---- behaviour ---------------------------------------------------------- */

typedef struct {
    MetricKind metric;
    int L;
    unsigned long seed;
    Sink s;
    SamplerResult r;
    int rc;
    Gauss g;
} Job;

static void *job_run(void *arg)
{
    Job *j = arg;
    static const double mc[2] = { 1, -1 }, prec[4] = { 1 / 0.19, -0.9 / 0.19,
                                                       -0.9 / 0.19, 1 / 0.19 };
    j->g = (Gauss){ 2, mc, prec, NULL, 0 };
    SamplerTarget t = { 2, gauss_logp, &j->g };
    SamplerConfig c;
    sampler_config_default(&c);
    c.warmup = 300;
    c.samples = 300;
    c.metric = j->metric;
    c.hmc_steps = j->L;
    sink_init(&j->s, 2, c.samples, c.warmup + c.samples);
    j->rc = run(&t, &c, j->seed, &j->s, &j->r);
    return NULL;
}

static void test_determinism(void)
{
    MetricKind kinds[] = { METRIC_DIAG, METRIC_DENSE, METRIC_UNIT, METRIC_DIAG };
    int Ls[] = { 0, 0, 0, 5 };
    for (int k = 0; k < 4; k++) {
        Job a;
        memset(&a, 0, sizeof a);
        a.metric = kinds[k];
        a.L = Ls[k];
        a.seed = 42;
        Job b = a, d = a;
        d.seed = 43;
        /* a on this thread, b and d on two threads at once */
        job_run(&a);
        pthread_t tb, td;
        pthread_create(&tb, NULL, job_run, &b);
        pthread_create(&td, NULL, job_run, &d);
        pthread_join(tb, NULL);
        pthread_join(td, NULL);
        CHECK(a.rc == 0 && b.rc == 0 && d.rc == 0, "determinism runs failed");
        CHECK(a.s.n_all == 600 && b.s.n_all == 600, "draw counts %d %d",
              a.s.n_all, b.s.n_all);
        CHECK(memcmp(a.s.all, b.s.all, sizeof(double) * 2 * 600) == 0,
              "same seed, different draws (metric %d, L %d)", kinds[k], Ls[k]);
        CHECK(a.r.step_size == b.r.step_size, "same seed, different step size");
        CHECK(memcmp(a.s.all, d.s.all, sizeof(double) * 2 * 600) != 0,
              "different seeds, same draws");
        Job *js[] = { &a, &b, &d };
        for (int i = 0; i < 3; i++) {
            sink_free(&js[i]->s);
            sampler_result_free(&js[i]->r);
        }
    }
}

static void test_init_failure(void)
{
    Counter cnt = {0};
    SamplerTarget t = { 1, nan_logp, &cnt };
    SamplerConfig c;
    sampler_config_default(&c);
    Sink s;
    sink_init(&s, 1, 10, 0);
    SamplerResult r;
    int rc = run(&t, &c, 1, &s, &r);
    CHECK(rc == SAMPLER_INIT_FAILED, "NaN target: status %d", rc);
    CHECK(cnt.calls == 100 && r.n_init_tries == 100, "NaN target: %ld calls, %d tries",
          cnt.calls, r.n_init_tries);
    CHECK(r.bad_q && fabs(r.bad_q[0]) <= 2, "bad_q reported");
    CHECK(strstr(r.message, "finite log density") != NULL, "message: %s", r.message);
    CHECK(s.n == 0 && s.n_warm == 0, "no draws after a failed init");
    sampler_result_free(&r);

    /* A non-finite gradient is a failure too. */
    cnt.calls = 0;
    t.logp_grad = nan_grad_logp;
    rc = run(&t, &c, 1, &s, &r);
    CHECK(rc == SAMPLER_INIT_FAILED && cnt.calls == 100, "NaN gradient: status %d", rc);
    CHECK(strstr(r.message, "gradient") != NULL, "message: %s", r.message);
    sampler_result_free(&r);

    /* With nothing random (radius 0), one try is all there is. */
    cnt.calls = 0;
    t.logp_grad = nan_logp;
    c.init_radius = 0;
    rc = run(&t, &c, 1, &s, &r);
    CHECK(rc == SAMPLER_INIT_FAILED && cnt.calls == 1 && r.bad_q && r.bad_q[0] == 0,
          "radius 0: status %d, %ld calls", rc, cnt.calls);
    sampler_result_free(&r);

    /* An explicit init is used as given. */
    Gauss g = { 1, NULL, NULL, NULL, 0 };
    double init = 0.75;
    SamplerTarget tg = { 1, gauss_logp, &g };
    sampler_config_default(&c);
    c.init = &init;
    c.warmup = 0;
    c.samples = 1;
    c.adapt = 0;
    c.step_size = 1e-12;    /* one tiny step: the draw stays (within 1e-10) at init */
    c.max_depth = 1;
    rc = run(&tg, &c, 1, &s, &r);
    CHECK(rc == SAMPLER_OK && fabs(s.x[0] - 0.75) < 1e-10 && g.calls >= 1,
          "explicit init: status %d, q %g", rc, s.x[0]);
    sampler_result_free(&r);
    sink_free(&s);
}

static void test_stopping(void)
{
    Gauss g = { 3, NULL, NULL, NULL, 0 };
    SamplerTarget t = { 3, gauss_logp, &g };
    SamplerConfig c;
    sampler_config_default(&c);
    volatile int flag = 0;
    c.interrupt = &flag;
    Sink s;
    sink_init(&s, 3, 1000, 0);
    s.flag = &flag;
    s.flag_at = 10;
    SamplerResult r;
    int rc = run(&t, &c, 5, &s, &r);
    CHECK(rc == SAMPLER_STOPPED, "interrupt: status %d", rc);
    CHECK(s.n == 11 && s.n_warm == 1000, "interrupt: %d warm-up, %d draws",
          s.n_warm, s.n);
    sampler_result_free(&r);
    sink_free(&s);

    /* Already set: stops after the first warm-up iteration. */
    flag = 1;
    sink_init(&s, 3, 1000, 0);
    rc = run(&t, &c, 5, &s, &r);
    CHECK(rc == SAMPLER_STOPPED && s.n_warm == 1 && s.n == 0,
          "preset interrupt: status %d, %d warm-up", rc, s.n_warm);
    CHECK(r.inv_metric != NULL && r.step_size > 0, "state reported when stopped");
    sampler_result_free(&r);
    sink_free(&s);

    /* on_draw asks to stop during warm-up. */
    flag = 0;
    sink_init(&s, 3, 1000, 0);
    s.stop_at_warmup = 5;
    rc = run(&t, &c, 5, &s, &r);
    CHECK(rc == SAMPLER_STOPPED && s.n_warm == 6 && s.n == 0,
          "on_draw stop: status %d, %d warm-up", rc, s.n_warm);
    sampler_result_free(&r);
    sink_free(&s);

    /* thin: every 3rd iteration of each phase. */
    c.interrupt = NULL;
    c.warmup = 30;
    c.samples = 31;
    c.thin = 3;
    sink_init(&s, 3, 100, 0);
    rc = run(&t, &c, 5, &s, &r);
    CHECK(rc == SAMPLER_OK && s.n_warm == 10 && s.n == 11,
          "thin 3: %d warm-up and %d draws, want 10 and 11", s.n_warm, s.n);
    sampler_result_free(&r);
    sink_free(&s);
}

static int adapted_calls;
static double adapted_eps;
static void on_adapted(void *user, const SamplerResult *r)
{
    (void)user;
    adapted_calls++;
    adapted_eps = r->step_size;
}

static void test_errors_and_edges(void)
{
    SamplerConfig c;
    char msg[256];
    sampler_config_default(&c);
    CHECK(sampler_config_check(&c, 3, msg, sizeof msg) == 0, "defaults valid: %s", msg);
    c.adapt_delta = 1.5;
    CHECK(sampler_config_check(&c, 3, msg, sizeof msg) != 0 &&
          strstr(msg, "adapt_delta"), "adapt_delta message: %s", msg);
    sampler_config_default(&c);
    c.max_depth = 0;
    CHECK(sampler_config_check(&c, 3, msg, sizeof msg) != 0 &&
          strstr(msg, "max_depth"), "max_depth message: %s", msg);
    sampler_config_default(&c);
    c.step_size = -1;
    CHECK(sampler_config_check(&c, 3, msg, sizeof msg) != 0 &&
          strstr(msg, "step_size"), "step_size message: %s", msg);
    sampler_config_default(&c);
    c.thin = 0;
    CHECK(sampler_config_check(&c, 3, msg, sizeof msg) != 0 &&
          strstr(msg, "thin"), "thin message: %s", msg);
    double bad_inv[4] = { 1, 0.5, 0.4, 1 };
    sampler_config_default(&c);
    c.metric = METRIC_DENSE;
    c.inv_metric = bad_inv;
    CHECK(sampler_config_check(&c, 2, msg, sizeof msg) != 0 &&
          strstr(msg, "symmetric"), "asymmetric metric message: %s", msg);

    /* sampler_run refuses a bad configuration with the same message. */
    Gauss g = { 2, NULL, NULL, NULL, 0 };
    SamplerTarget t = { 2, gauss_logp, &g };
    Sink s;
    sink_init(&s, 2, 10, 0);
    SamplerResult r;
    int rc = run(&t, &c, 1, &s, &r);
    CHECK(rc == SAMPLER_BAD_CONFIG && strstr(r.message, "symmetric"),
          "bad config: status %d", rc);
    sampler_result_free(&r);

    /* An indefinite (symmetric) dense metric: refused at run time. */
    double indefinite[4] = { 1, 2, 2, 1 };
    c.inv_metric = indefinite;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    rc = run(&t, &c, 1, &s, &r);
    gsl_set_error_handler(old);
    CHECK(rc == SAMPLER_ERROR && strstr(r.message, "positive definite"),
          "indefinite metric: status %d (%s)", rc, r.message);
    sampler_result_free(&r);

    /* A given diagonal metric with adapt = 0 is used as is. */
    double inv[2] = { 4, 0.25 };
    sampler_config_default(&c);
    c.adapt = 0;
    c.warmup = 0;
    c.samples = 5;
    c.inv_metric = inv;
    rc = run(&t, &c, 1, &s, &r);
    CHECK(rc == SAMPLER_OK && r.metric == METRIC_DIAG && r.inv_metric[0] == 4 &&
          r.inv_metric[1] == 0.25, "given metric kept: %d", rc);
    sampler_result_free(&r);
    sink_free(&s);

    /* An improper (flat) posterior: the step-size search runs away. */
    SamplerTarget flat = { 1, flat_logp, NULL };
    sampler_config_default(&c);
    sink_init(&s, 1, 10, 0);
    rc = run(&flat, &c, 1, &s, &r);
    CHECK(rc == SAMPLER_ERROR && strstr(r.message, "improper"),
          "flat target: status %d (%s)", rc, r.message);
    sampler_result_free(&r);
    sink_free(&s);

    /* on_adapted is called once, with the final step size; short warm-ups
     * (fallback windows, and < 20 with step size only) work. */
    int warmups[] = { 100, 10 };
    for (int i = 0; i < 2; i++) {
        sampler_config_default(&c);
        c.warmup = warmups[i];
        c.samples = 20;
        sink_init(&s, 2, 20, 0);
        adapted_calls = 0;
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, 3);
        rc = sampler_run(&t, &c, rng, sink_draw, on_adapted, &s, &r);
        gsl_rng_free(rng);
        CHECK(rc == SAMPLER_OK && adapted_calls == 1 && adapted_eps == r.step_size,
              "warmup %d: status %d, on_adapted %d calls", warmups[i], rc, adapted_calls);
        CHECK(r.n_grad_warmup > 0 && r.n_grad_sampling > 0 && r.seconds_warmup >= 0,
              "warmup %d: counts", warmups[i]);
        sampler_result_free(&r);
        sink_free(&s);
    }

    /* Zero parameters: nothing moves, every iteration is reported. */
    SamplerTarget empty = { 0, flat_logp, NULL };
    sampler_config_default(&c);
    c.warmup = 3;
    c.samples = 4;
    sink_init(&s, 0, 10, 0);
    rc = run(&empty, &c, 1, &s, &r);
    CHECK(rc == SAMPLER_OK && s.n == 4 && s.n_warm == 3, "dim 0: status %d, %d draws",
          rc, s.n);
    sampler_result_free(&r);
    sink_free(&s);

    /* NULL target function */
    SamplerTarget none = { 1, NULL, NULL };
    sink_init(&s, 1, 10, 0);
    rc = run(&none, &c, 1, &s, &r);
    CHECK(rc == SAMPLER_BAD_CONFIG, "NULL logp_grad: status %d", rc);
    sampler_result_free(&r);
    sink_free(&s);
}

/* Static HMC keeps n_leapfrog = L; NUTS trees are consistent. */
static void test_tree_stats(void)
{
    Gauss g = { 5, NULL, NULL, NULL, 0 };
    SamplerTarget t = { 5, gauss_logp, &g };
    SamplerConfig c;
    sampler_config_default(&c);
    c.warmup = 200;
    c.samples = 1;
    c.max_depth = 3;
    c.step_size = 0.01;
    c.adapt = 0;            /* tiny fixed step: every tree hits max_depth */
    Sink s;
    sink_init(&s, 5, 1, 0);
    SamplerResult r;
    int rc = run(&t, &c, 9, &s, &r);
    CHECK(rc == SAMPLER_OK && r.n_max_depth == 1, "max depth counted: %d",
          r.n_max_depth);
    CHECK(r.n_grad_sampling == 7, "depth-3 tree: %ld gradients, want 7",
          r.n_grad_sampling);
    sampler_result_free(&r);
    sink_free(&s);
}

int main(void)
{
    gsl_set_error_handler_off();    /* as the CLI does: errors are returned */
    test_windows();
    test_dual_averaging();
    test_welford();
    test_dynamics();
    test_moments();
    test_non_gaussian();
    test_dense_metric();
    test_scales();
    test_accept_target();
    test_determinism();
    test_init_failure();
    test_stopping();
    test_errors_and_edges();
    test_tree_stats();
    return check_done();
}
