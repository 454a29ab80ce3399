/*
 * test_diagnostics.c - R-hat, ESS, MCSE, quantiles, E-BFMI and the summary.
 *
 * Three kinds of check:
 *  - exact: small fixed arrays whose diagnostics R's posterior 1.4.0
 *    computed (the values are pasted below with the R calls that made
 *    them), and an independent O(n^2) re-implementation in this file
 *    (direct autocovariance, ranks by counting) that must agree to 1e-9;
 *  - statistical: simulated chains with a fixed seed, where the ESS must
 *    be near its true value.  Tolerances are 4 Monte Carlo standard
 *    deviations of the estimator, measured once by running the same
 *    experiment 100-200 times with other seeds (numbers in each comment);
 *  - robustness: constant, NaN, infinite and too-short input give NaN or
 *    inf, never a crash.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "check.h"
#include "diagnostics.h"
#include "draws.h"
#include "summary.h"

#define REL(a, b) (fabs((a) - (b)) / fabs(b))

/* ---- an independent reference implementation (slow and direct) -------- */

static void ref_autocov(const double *x, int n, double *acov)
{
    double mean = 0;
    for (int i = 0; i < n; i++)
        mean += x[i] / n;
    for (int t = 0; t < n; t++) {
        double s = 0;
        for (int i = 0; i + t < n; i++)
            s += (x[i] - mean) * (x[i + t] - mean);
        acov[t] = s / n;
    }
}

/* posterior's .ess() written from the paper's description: all rho_t
 * first, then the positive-pair truncation, then the monotone fix. */
static double ref_ess(const double *x, int m, int n)
{
    if (n < 3)
        return NAN;
    double *acov = malloc(sizeof(double) * n), *acm = calloc(n, sizeof(double));
    double *rho = calloc(n, sizeof(double)), *means = malloc(sizeof(double) * m);
    for (int c = 0; c < m; c++) {
        ref_autocov(x + c * n, n, acov);
        for (int t = 0; t < n; t++)
            acm[t] += acov[t] / m;
        means[c] = 0;
        for (int i = 0; i < n; i++)
            means[c] += x[c * n + i] / n;
    }
    double gm = 0, vb = 0;
    for (int c = 0; c < m; c++)
        gm += means[c] / m;
    for (int c = 0; c < m; c++)
        vb += (means[c] - gm) * (means[c] - gm) / (m - 1);
    double w = acm[0] * n / (n - 1.0);
    double var_plus = w * (n - 1.0) / n + (m > 1 ? vb : 0);
    double *r = calloc(n, sizeof(double));
    for (int t = 0; t < n; t++)
        r[t] = 1 - (w - acm[t]) / var_plus;
    /* positive pairs (t, t+1), t even, while t < n - 5 allows another */
    int t = 0;
    rho[0] = 1;
    rho[1] = r[1];
    double even = 1, odd = r[1];
    while (t < n - 5 && even + odd > 0) {
        t += 2;
        even = r[t];
        odd = r[t + 1];
        if (even + odd >= 0) {
            rho[t] = even;
            rho[t + 1] = odd;
        }
    }
    int max_t = t;
    if (even > 0)
        rho[max_t] = even;
    for (int k = 2; k <= max_t - 2; k += 2)
        if (rho[k] + rho[k + 1] > rho[k - 2] + rho[k - 1])
            rho[k] = rho[k + 1] = (rho[k - 2] + rho[k - 1]) / 2;
    double sum = max_t == 0 ? rho[0] : 0;
    for (int k = 0; k < max_t; k++)
        sum += rho[k];
    double tau = -1 + 2 * sum + rho[max_t];
    double s = (double)m * n;
    if (tau < 1 / log10(s))
        tau = 1 / log10(s);
    free(acov); free(acm); free(rho); free(means); free(r);
    return s / tau;
}

/* Split m chains of n (odd n drops the middle draw). */
static double *ref_split(const double *x, int m, int n, int *mm, int *nn)
{
    int h = n / 2;
    double *out = malloc(sizeof(double) * 2 * m * h);
    for (int c = 0; c < m; c++)
        for (int i = 0; i < h; i++) {
            out[(2 * c) * h + i] = x[c * n + i];
            out[(2 * c + 1) * h + i] = x[c * n + n - h + i];
        }
    *mm = 2 * m;
    *nn = h;
    return out;
}

/* Ranks by counting (average rank for ties), then Blom's normal scores. */
static void ref_zscale(double *x, int s)
{
    double *z = malloc(sizeof(double) * s);
    for (int i = 0; i < s; i++) {
        int less = 0, equal = 0;
        for (int k = 0; k < s; k++) {
            less += x[k] < x[i];
            equal += x[k] == x[i];
        }
        double rank = less + (equal + 1) / 2.0;
        z[i] = gsl_cdf_ugaussian_Pinv((rank - 0.375) / (s + 0.25));
    }
    memcpy(x, z, sizeof(double) * s);
    free(z);
}

/* ---- fixed examples with values from R's posterior 1.4.0 --------------- */

/* 3 chains x 41 draws (chain-major), an AR(0.6) with a shifted chain:
 *   set.seed(2021); a <- round(cbind(ar1(41,.6), ar1(41,.6)+.3, ar1(41,.6)), 2) */
static const double ex_a[123] = {
    -0.12, 0.48, 0.64, 0.74, 1.34, -1.12, -0.41, 0.67, 0.42, 1.98, 0.11, -0.21, 0.06, 1.54,
    2.53, -0.32, 1.43, 0.99, 2.07, 2.76, 0.71, 0.24, -0.96, 0.63, -1.24, -0.64, -1.84, -1.46,
    -0.97, 0.52, -1.65, -2.44, -0.44, -1.69, -1.62, -2.55, -2.82, -3.15, -1.97, -0.68, -0.29,
    2.06, 1.01, 2.85, 1.79, 0.40, 1.84, 0.50, 0.73, 1.25, 0.37, -1.91, -0.98, -0.84, -1.34,
    -0.58, 0.20, 0.07, -1.39, -2.22, -1.20, -0.78, 0.04, -0.61, -0.02, -0.87, 0.16, 1.83, 0.97,
    -0.35, -0.44, -0.19, -1.39, 0.78, -0.45, -0.39, -1.11, -1.94, -0.06, 0.44, 0.05, -0.49,
    -2.17, -0.67, -0.55, -1.57, -0.41, -1.83, -2.09, -0.77, 0.35, -0.08, -0.10, 0.67, 0.42,
    0.13, -0.57, -1.21, -1.23, -2.82, -1.95, -0.72, -0.58, -0.83, -1.69, -0.97, -0.71, -3.13,
    -2.45, -0.88, -0.04, -0.15, -1.35, -0.61, -2.28, 0.30, 0.65, 1.81, 1.17, -1.10, 0.09,
    -0.26, -1.89
};

/* 2 chains x 9 draws of a discrete quantity (ties, odd length, chains so
 * short that Geyer's loop never runs). */
static const double ex_b[18] = { 1, 2, 2, 3, 1, 0, 2, 2, 5, 2, 2, 1, 0, 3, 3, 1, 2, 2 };

static void test_against_posterior(void)
{
    /* c(rhat(x), ess_bulk(x), ess_tail(x), ess_mean(x), mcse_mean(x),
     *   rhat_basic(x), ess_quantile(x, .25), quantile(x, c(.05, .5, .95))) */
    const double ra[10] = { 1.17954248987045, 13.6638290048477, 45.2213713581551,
                            13.5760145390751, 0.344650515290646, 1.18005531513756,
                            27.5857861827055, -2.424, -0.41, 1.839 };
    const double rb[10] = { 0.930828502369992, 8, 8, 8, 0.418134668865414,
                            0.930260509419063, 8, 0, 2, 3.3 };
    const double *xs[2] = { ex_a, ex_b };
    const double *rs[2] = { ra, rb };
    const int m[2] = { 3, 2 }, n[2] = { 41, 9 };
    for (int k = 0; k < 2; k++) {
        const double *x = xs[k], *r = rs[k];
        size_t s = (size_t)m[k] * n[k];
        double got[10] = {
            diagnostics_rhat(x, m[k], n[k]), diagnostics_ess_bulk(x, m[k], n[k]),
            diagnostics_ess_tail(x, m[k], n[k]), diagnostics_ess_mean(x, m[k], n[k]),
            diagnostics_mcse_mean(x, m[k], n[k]), diagnostics_rhat_basic(x, m[k], n[k]),
            diagnostics_ess_quantile(x, m[k], n[k], 0.25), diagnostics_quantile(x, s, 0.05),
            diagnostics_quantile(x, s, 0.5), diagnostics_quantile(x, s, 0.95)
        };
        for (int i = 0; i < 10; i++)
            CHECK(fabs(got[i] - r[i]) <= 1e-12 * fabs(r[i]) + 1e-13,
                  "example %d statistic %d: %.15g, posterior says %.15g", k, i, got[i], r[i]);
        DiagnosticsColumn col;
        diagnostics_column(x, m[k], n[k], 1, &col);
        CHECK_NEAR(col.rhat, r[0], 1e-12);
        CHECK_NEAR(col.ess_bulk, r[1], 1e-9);
        CHECK_NEAR(col.ess_tail, r[2], 1e-9);
        CHECK_NEAR(col.mcse_mean, r[4], 1e-12);
        CHECK_NEAR(col.q5, r[7], 1e-12);
        CHECK_NEAR(col.q50, r[8], 1e-12);
        CHECK_NEAR(col.q95, r[9], 1e-12);
    }
}

static void test_against_reference_code(void)
{
    /* FFT autocovariance = direct sums, for an odd length (padding). */
    double acov[41], ref[41];
    CHECK(diagnostics_autocovariance(ex_a, 41, acov) == 0, "autocovariance failed");
    ref_autocov(ex_a, 41, ref);
    double worst = 0;
    for (int t = 0; t < 41; t++)
        worst = fmax(worst, fabs(acov[t] - ref[t]));
    CHECK(worst < 1e-12, "FFT autocovariance differs from the direct one by %g", worst);

    /* ESS of given chains, of split chains, and of rank-normalised split chains. */
    CHECK(REL(diagnostics_ess_chains(ex_a, 3, 41), ref_ess(ex_a, 3, 41)) < 1e-9,
          "ess_chains %.12g vs reference %.12g", diagnostics_ess_chains(ex_a, 3, 41),
          ref_ess(ex_a, 3, 41));
    int mm, nn;
    double *sp = ref_split(ex_a, 3, 41, &mm, &nn);
    double ess_mean_ref = ref_ess(sp, mm, nn);
    CHECK(REL(diagnostics_ess_mean(ex_a, 3, 41), ess_mean_ref) < 1e-9,
          "ess_mean %.12g vs reference %.12g", diagnostics_ess_mean(ex_a, 3, 41), ess_mean_ref);
    ref_zscale(sp, mm * nn);
    double bulk_ref = ref_ess(sp, mm, nn);
    CHECK(REL(diagnostics_ess_bulk(ex_a, 3, 41), bulk_ref) < 1e-9,
          "ess_bulk %.12g vs reference %.12g", diagnostics_ess_bulk(ex_a, 3, 41), bulk_ref);
    free(sp);

    /* A longer simulated AR(1) pair, where Geyer's sequence runs for many lags. */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    enum { M = 2, N = 301 };
    double x[M * N];
    for (int c = 0; c < M; c++) {
        double v = gsl_ran_gaussian(rng, 1);
        for (int i = 0; i < N; i++) {
            x[c * N + i] = v;
            v = 0.8 * v + gsl_ran_gaussian(rng, 1);
        }
    }
    sp = ref_split(x, M, N, &mm, &nn);
    CHECK(REL(diagnostics_ess_mean(x, M, N), ref_ess(sp, mm, nn)) < 1e-9,
          "AR(0.8) ess_mean %.12g vs reference %.12g", diagnostics_ess_mean(x, M, N),
          ref_ess(sp, mm, nn));
    free(sp);
    gsl_rng_free(rng);
}

/* ---- statistical checks on simulated chains ----------------------------- */

static void fill_ar1(gsl_rng *rng, double *x, int chains, int n, double phi)
{
    for (int c = 0; c < chains; c++) {
        double v = gsl_ran_gaussian(rng, 1 / sqrt(1 - phi * phi));  /* stationary start */
        for (int i = 0; i < n; i++) {
            x[(size_t)c * n + i] = v;
            v = phi * v + gsl_ran_gaussian(rng, 1);
        }
    }
}

static void test_simulated(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 20240601);

    /* i.i.d. normal, 4 x 5000: over 100 replicates ESS/N had sd 0.019
     * (bulk, mean) and 0.018 (tail); 4 sd is 0.076. */
    enum { C = 4, N = 5000 };
    double *x = malloc(sizeof(double) * C * N);
    fill_ar1(rng, x, C, N, 0);
    double bulk = diagnostics_ess_bulk(x, C, N), tail = diagnostics_ess_tail(x, C, N);
    double mean = diagnostics_ess_mean(x, C, N);
    CHECK(fabs(bulk / (C * N) - 1) < 0.076, "iid bulk ESS %.0f of %d", bulk, C * N);
    CHECK(fabs(tail / (C * N) - 1) < 0.076, "iid tail ESS %.0f of %d", tail, C * N);
    CHECK(fabs(mean / (C * N) - 1) < 0.076, "iid mean ESS %.0f of %d", mean, C * N);
    /* MCSE of the mean of N(0,1) draws is 1/sqrt(ESS). */
    CHECK_NEAR(diagnostics_mcse_mean(x, C, N), 1 / sqrt(C * N), 0.076 / sqrt(C * N));
    /* R-hat of identical distributions: replicates gave 1.0001 +- 0.0001. */
    double rhat = diagnostics_rhat(x, C, N);
    CHECK(rhat < 1.0005 && rhat > 0.999, "iid R-hat %.5f", rhat);
    CHECK(diagnostics_rhat_basic(x, C, N) < 1.0005, "iid basic R-hat");

    /* One chain shifted by one sd: R-hat ~ 1.10 (>> 1.05). */
    for (int i = 0; i < N; i++)
        x[3 * N + i] += 1;
    rhat = diagnostics_rhat(x, C, N);
    CHECK(rhat > 1.05, "R-hat with a shifted chain %.4f", rhat);
    free(x);

    /* AR(1), phi = 0.9, 4 x 32768: true ESS = S (1-phi)/(1+phi).  At 4 x 20000
     * replicates had sd 4.7% of that, so about 3.7% here: 15% is 4 sd. */
    enum { CA = 4, NA = 32768 };
    double phi = 0.9, want = (double)CA * NA * (1 - phi) / (1 + phi);
    x = malloc(sizeof(double) * CA * NA);
    fill_ar1(rng, x, CA, NA, phi);
    bulk = diagnostics_ess_bulk(x, CA, NA);
    mean = diagnostics_ess_mean(x, CA, NA);
    CHECK(fabs(bulk / want - 1) < 0.15, "AR(0.9) bulk ESS %.0f, expected %.0f", bulk, want);
    CHECK(fabs(mean / want - 1) < 0.15, "AR(0.9) mean ESS %.0f, expected %.0f", mean, want);
    CHECK(diagnostics_rhat(x, CA, NA) < 1.01, "AR(0.9) R-hat");
    free(x);

    /* E-BFMI of i.i.d. energies is 2 (sum of squared differences is twice
     * the sum of squares); at n = 4000 its sd is about 0.035. */
    double e[4000];
    fill_ar1(rng, e, 1, 4000, 0);
    CHECK_NEAR(diagnostics_ebfmi(e, 4000), 2.0, 4 * 0.035);
    /* A slowly mixing energy (AR(0.95)): E-BFMI = 2(1 - 0.95) = 0.1 < 0.3. */
    fill_ar1(rng, e, 1, 4000, 0.95);
    CHECK(diagnostics_ebfmi(e, 4000) < 0.3, "AR(0.95) E-BFMI %.3f", diagnostics_ebfmi(e, 4000));
    gsl_rng_free(rng);
}

/* ---- quantiles, E-BFMI and degenerate input ------------------------------ */

static void test_quantiles(void)
{
    const double a[4] = { 4, 1, 3, 2 };
    CHECK_NEAR(diagnostics_quantile(a, 4, 0.5), 2.5, 1e-15);
    CHECK_NEAR(diagnostics_quantile(a, 4, 0.05), 1.15, 1e-14);
    CHECK_NEAR(diagnostics_quantile(a, 4, 0.95), 3.85, 1e-14);
    CHECK_NEAR(diagnostics_quantile(a, 4, 0), 1, 0);
    CHECK_NEAR(diagnostics_quantile(a, 4, 1), 4, 0);
    const double b[3] = { 3, 1, 2 };
    CHECK_NEAR(diagnostics_quantile(b, 3, 0.25), 1.5, 1e-15);
    const double one = 7;
    CHECK_NEAR(diagnostics_quantile(&one, 1, 0.3), 7, 0);
    const double ties[5] = { 1, 1, 1, 1, 9 };
    CHECK_NEAR(diagnostics_quantile(ties, 5, 0.5), 1, 0);
    CHECK_NEAR(diagnostics_quantile(ties, 5, 0.9), 5.8, 1e-14);
    const double inf[3] = { 1, INFINITY, INFINITY };
    CHECK(isinf(diagnostics_quantile(inf, 3, 0.75)), "quantile among infinities is inf");
    const double nan[3] = { 1, NAN, 2 };
    CHECK(isnan(diagnostics_quantile(nan, 3, 0.5)), "quantile with NaN is NaN");
    CHECK(isnan(diagnostics_quantile(a, 0, 0.5)), "quantile of nothing is NaN");

    const double e[4] = { 0, 1, 0, 1 };   /* diffs^2 = 3, sum of squares = 1 */
    CHECK_NEAR(diagnostics_ebfmi(e, 4), 3.0, 1e-15);
    const double flat[3] = { 2, 2, 2 };
    CHECK(isnan(diagnostics_ebfmi(flat, 3)), "E-BFMI of constant energy is NaN");
    CHECK(isnan(diagnostics_ebfmi(e, 1)), "E-BFMI of one draw is NaN");
}

static void test_degenerate(void)
{
    double c[400];
    for (int i = 0; i < 400; i++)
        c[i] = 3.5;
    CHECK(isnan(diagnostics_rhat(c, 4, 100)), "constant R-hat is NaN");
    CHECK(isnan(diagnostics_ess_bulk(c, 4, 100)), "constant bulk ESS is NaN");
    CHECK(isnan(diagnostics_ess_tail(c, 4, 100)), "constant tail ESS is NaN");
    CHECK(isnan(diagnostics_ess_mean(c, 4, 100)), "constant ESS is NaN");
    CHECK(isnan(diagnostics_mcse_mean(c, 4, 100)), "constant MCSE is NaN");
    DiagnosticsColumn col;
    diagnostics_column(c, 4, 100, 1, &col);
    CHECK(col.mean == 3.5 && col.sd == 0 && col.q50 == 3.5, "constant column moments");
    CHECK(isnan(col.rhat) && isnan(col.ess_bulk) && isnan(col.ess_tail), "constant column NaNs");

    double x[40];
    for (int i = 0; i < 40; i++)
        x[i] = sin(i * 1.3);
    x[17] = NAN;
    CHECK(isnan(diagnostics_rhat(x, 2, 20)) && isnan(diagnostics_ess_bulk(x, 2, 20)) &&
              isnan(diagnostics_ess_tail(x, 2, 20)),
          "a NaN draw makes the diagnostics NaN");
    x[17] = INFINITY;                    /* ranks still exist, as in posterior */
    CHECK(isfinite(diagnostics_rhat(x, 2, 20)), "R-hat with an infinite draw");
    CHECK(isnan(diagnostics_ess_tail(x, 2, 20)), "tail ESS with an infinite draw is NaN");

    /* Too short: 1 and 2 draws per chain. */
    CHECK(isnan(diagnostics_ess_bulk(x, 4, 1)) && isnan(diagnostics_rhat(x, 4, 1)),
          "one draw per chain");
    CHECK(isnan(diagnostics_ess_bulk(x, 2, 2)), "two draws per chain");
    CHECK(isnan(diagnostics_rhat(NULL, 0, 0)), "no draws at all");
    double acov[3];
    const double k[3] = { 5, 5, 5 };
    CHECK(diagnostics_autocovariance(k, 3, acov) == 0 && acov[0] == 0 && acov[2] == 0,
          "constant autocovariance is 0");
}

/* ---- the summary table and its warnings ---------------------------------- */

static char *capture_summary(const Draws *d, const SummaryOptions *opt, int *nwarn)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    *nwarn = summary_print(f, d, opt);
    fclose(f);
    return text;
}

static void test_summary(void)
{
    const char *names[] = { "lp__", "accept_stat__", "treedepth__", "divergent__", "energy__",
                            "mu", "tau", "theta.1", "const" };
    enum { C = 4, N = 400, K = 9 };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    Draws *d = draws_new(C, K, names);
    CHECK(d != NULL, "draws_new");
    double e = 0, tau = 0;
    int appended = 0;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < N; i++) {
            e = 0.97 * e + gsl_ran_gaussian(rng, 1);       /* E-BFMI ~ 0.06 in chain 2 */
            tau = 0.999 * tau + gsl_ran_gaussian(rng, 1);  /* mixes badly: R-hat, ESS */
            double row[K] = {
                -10 + gsl_ran_gaussian(rng, 1), gsl_rng_uniform(rng),
                (c == 0 && i < 7) ? 10 : 3,                 /* 7 hit depth 10 */
                (c == 1 && i % 100 == 0) ? 1 : 0,           /* 4 divergences */
                c == 1 ? e : gsl_ran_gaussian(rng, 1),
                4.4 + 3.3 * gsl_ran_gaussian(rng, 1), tau,
                gsl_ran_gaussian(rng, 1), 2.0
            };
            appended += draws_append(d, c, row) == 0;
        }
    CHECK(appended == C * N, "appended %d rows", appended);
    CHECK(draws_finish(d) == 0, "finish");
    if (getenv("SHOW_SUMMARY"))
        summary_print(stdout, d, NULL);
    int nwarn;
    char *text = capture_summary(d, NULL, &nwarn);
    CHECK(strncmp(text, "Inference for cm: 4 chains x 400 draws (1600 total)\n", 52) == 0,
          "title line:\n%s", text);
    CHECK(strstr(text, "Mean") && strstr(text, "MCSE") && strstr(text, "StdDev") &&
              strstr(text, "5%") && strstr(text, "50%") && strstr(text, "95%") &&
              strstr(text, "ESS_bulk") && strstr(text, "ESS_tail") && strstr(text, "R_hat"),
          "header row:\n%s", text);
    CHECK(strstr(text, "warning: 4 of 1600 transitions (0.25%) ended with a divergence; "
                       "increase --adapt-delta or reparameterise\n") != NULL,
          "divergence warning:\n%s", text);
    CHECK(strstr(text, "warning: 7 transitions hit the maximum tree depth of 10; "
                       "increase --max-depth\n") != NULL, "tree depth warning:\n%s", text);
    CHECK(strstr(text, "warning: chain 2: E-BFMI = ") != NULL &&
              strstr(text, "below 0.3; the posterior may be poorly explored (reparameterise)\n"),
          "E-BFMI warning:\n%s", text);
    CHECK(strstr(text, "chain 1: E-BFMI") == NULL, "no E-BFMI warning for good chains");
    CHECK(strstr(text, "warning: R-hat above 1.01 for: tau (run longer chains)\n") != NULL,
          "R-hat warning names tau only:\n%s", text);
    CHECK(strstr(text, "warning: bulk ESS below 100 per chain for: tau (run more draws)\n") != NULL,
          "bulk ESS warning:\n%s", text);
    CHECK(nwarn >= 5, "warning count %d", nwarn);

    /* Rows: names aligned, sampler rows without MCSE/ESS/R-hat, constant -> NaN. */
    const char *mu = strstr(text, "\nmu ");
    const char *acc = strstr(text, "\naccept_stat__ ");
    const char *cst = strstr(text, "\nconst ");
    CHECK(mu && acc && cst, "rows present:\n%s", text);
    if (mu && acc && cst) {
        const char *eol = strchr(acc + 1, '\n');
        CHECK(!memmem(acc, eol - acc, "NaN", 3) &&
                  eol - acc < strchr(mu + 1, '\n') - mu - 20,
              "sampler row shows only mean, sd and quantiles");
        eol = strchr(cst + 1, '\n');
        CHECK(memmem(cst, eol - cst, "NaN", 3) != NULL, "constant column: NaN diagnostics");
        /* Every row has the same width up to its last cell for full rows. */
        CHECK(strchr(mu + 1, '\n') - mu == strchr(cst + 1, '\n') - cst, "rows aligned");
    }
    free(text);

    /* Options: max depth, independent draws, a title. */
    SummaryOptions opt = { "Prior predictive: 4 x 400", 12, 1 };
    text = capture_summary(d, &opt, &nwarn);
    CHECK(strncmp(text, "Prior predictive: 4 x 400\n", 26) == 0, "custom title");
    CHECK(!strstr(text, "ESS_bulk") && !strstr(text, "R-hat above"), "independent: no ESS");
    CHECK(!strstr(text, "tree depth"), "depth 12 not reached");
    free(text);
    draws_free(d);

    /* A summary of nothing says so. */
    const char *one[] = { "x" };
    d = draws_new(2, 1, one);
    draws_finish(d);
    text = capture_summary(d, NULL, &nwarn);
    CHECK(strstr(text, "no draws") != NULL && nwarn == 0, "empty summary:\n%s", text);
    free(text);
    draws_free(d);
    gsl_rng_free(rng);
}

int main(void)
{
    test_against_posterior();
    test_against_reference_code();
    test_simulated();
    test_quantiles();
    test_degenerate();
    test_summary();
    return check_done();
}
