/*
 * test_subsample.c - `plate ... subsample B`: the minibatch draw and the
 * N / B scale.
 *
 * The draw (subsample_choose) must give B distinct indices in
 * range, each included with probability B / N and each pair with
 * probability B(B-1) / (N(N-1)) (a uniform subset without replacement);
 * the frequencies over R draws are checked at 4 binomial standard errors.
 *
 * The scale is checked exactly where the answer is known for every
 * minibatch: when all rows carry the same data, B rows counted N / B
 * times are the N rows, so the minibatch log density and gradient equal
 * the full batch's (to rounding) on every draw; with nested plates the
 * factors multiply.  The prior outside the plate must not be scaled, which
 * the same equality checks.  With rows that differ, the minibatch log
 * density and gradient are unbiased: their mean over R evaluations is
 * within 4 standard errors of the full-batch value.  Also: B iterations
 * per run, a fresh minibatch each evaluation (the tape is dynamic) and a
 * static tape again after switching back, full batches without the
 * policy, B out of range, and a latent site inside the plate refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "check.h"
#include "data.h"
#include "diag.h"
#include "ir.h"
#include "model.h"
#include "subsample.h"
#include "model_fixture.h"




/* "name=[v, v, ...]" with n copies of v, or v + k * step for row k. */
static char *vector_arg(const char *name, int n, double v, double step)
{
    size_t cap = 32 + (size_t)n * 24;
    char *s = malloc(cap);
    size_t k = (size_t)snprintf(s, cap, "%s=[", name);
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%.17g", i ? ", " : "", v + i * step);
    snprintf(s + k, cap - k, "]");
    return s;
}

static void test_choose(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    enum { N = 20, B = 5, R = 20000 };
    int out[B], count[N] = {0}, pair = 0, bad = 0;
    for (int r = 0; r < R; r++) {
        subsample_choose(rng, 3, N, B, out);
        int seen[N] = {0};
        for (int i = 0; i < B; i++) {
            if (out[i] < 3 || out[i] > 3 + N - 1 || seen[out[i] - 3]++)
                bad++;
            else
                count[out[i] - 3]++;
        }
        int has1 = 0, has2 = 0;
        for (int i = 0; i < B; i++) {
            has1 |= out[i] == 3;
            has2 |= out[i] == 4 + N / 2;
        }
        pair += has1 && has2;
    }
    CHECK(bad == 0, "%d indices out of range or repeated", bad);
    double p = (double)B / N, se = sqrt(R * p * (1 - p));
    int worst = 0;
    for (int i = 0; i < N; i++)
        if (fabs(count[i] - R * p) > fabs(count[worst] - R * p))
            worst = i;
    CHECK(fabs(count[worst] - R * p) <= 4 * se, "index %d drawn %d times in %d, expected %g (se %g)",
          worst + 3, count[worst], R, R * p, se);
    double pp = (double)B * (B - 1) / ((double)N * (N - 1)), pse = sqrt(R * pp * (1 - pp));
    CHECK_NEAR(pair, R * pp, 4 * pse);
    /* B = N and B = 1 at the edges; a large N costs only O(B) */
    int all[N];
    subsample_choose(rng, 1, N, N, all);
    int every[N + 1] = {0}, ident = 1;
    for (int i = 0; i < N; i++)
        every[all[i]]++;
    for (int i = 1; i <= N; i++)
        ident &= every[i] == 1;
    CHECK(ident, "B = N gives every index once");
    subsample_choose(rng, 1, 1, 1, all);
    CHECK(all[0] == 1, "N = B = 1");
    int big[3];
    subsample_choose(rng, 1, 2000000000, 3, big);
    int in_range = 1;
    for (int i = 0; i < 3; i++)
        in_range &= big[i] >= 1 && big[i] <= 2000000000;
    CHECK(in_range && big[0] != big[1] && big[1] != big[2] && big[0] != big[2], "huge N");
    gsl_rng_free(rng);
}

/* log p and gradient at q, minibatch (on) or full batch (off). */
static double logp_at(Model *m, const double *q, double *g) { return model_logp_grad(m, q, g); }

static void test_exact_scale(void)
{
    /* every row the same: each minibatch's log density is the full one */
    const char *text = "data N: int\ndata y: real[N]\nmu ~ Normal(0, 3)\n"
                       "s ~ HalfNormal(2)\n"
                       "plate n in 1..N subsample 2 {\n  y[n] ~ Normal(mu, s)\n"
                       "  factor(-0.5 * square(mu - y[n]))\n}\n";
    char *y = vector_arg("y", 8, 0.7, 0);
    const char *sets[] = {"N=8", y, NULL};
    Fixture fx;
    if (fixture_open(&fx, "subsample_test.cm", text, sets, 12345) != 0) {
        CHECK(0, "the constant-row model compiles and runs");
        fixture_close(&fx);
        free(y);
        return;
    }
    Model *m = &fx.m;
    double q[2] = {0.3, -0.2}, gfull[2], gmini[2];
    CHECK(subsample_model(m, 0) == 0, "full batch");
    CHECK(!m->tape.dynamic, "the full-batch tape is static");
    double full = logp_at(m, q, gfull);
    CHECK(subsample_model(m, 1) == 0, "minibatch");
    CHECK(m->tape.dynamic, "a minibatch model is re-run for each evaluation");
    int worst = 0;
    for (int r = 0; r < 50; r++) {
        double lp = logp_at(m, q, gmini);
        if (fabs(lp - full) > 1e-12 * fabs(full) || fabs(gmini[0] - gfull[0]) > 1e-12 * fabs(gfull[0]) + 1e-12 ||
            fabs(gmini[1] - gfull[1]) > 1e-12 * fabs(gfull[1]) + 1e-12)
            worst++;
    }
    CHECK(worst == 0, "%d of 50 minibatches differ from the full batch (log p %.15g)", worst, full);
    /* B iterations per run: the trace holds B elements of y, all distinct */
    logp_at(m, q, gmini);
    int ny = 0, e[8], distinct = 1, yv = program_find_var(fx.prog, "y");
    for (int i = 0; i < m->trace.n; i++)
        if (m->trace.e[i].var == yv && ny < 8)
            e[ny++] = m->trace.e[i].elem;
    for (int i = 1; i < ny; i++)
        distinct &= e[i] != e[i - 1];
    CHECK(ny == 2 && distinct, "a minibatch of 2 distinct rows (got %d)", ny);
    /* and back: the static tape replays the full batch again */
    CHECK(subsample_model(m, 0) == 0, "full batch again");
    CHECK(!m->tape.dynamic, "static again");
    CHECK_NEAR(logp_at(m, q, gfull), full, 0);
    fixture_close(&fx);
    free(y);
}

static void test_nested_scale(void)
{
    const char *text = "data I: int\ndata J: int\ndata y: real[I, J]\nmu ~ Normal(0, 3)\n"
                       "plate i in 1..I subsample 2 {\n  plate j in 1..J subsample 3 {\n"
                       "    y[i, j] ~ Normal(mu, 1)\n  }\n}\n";
    char ybuf[1024] = "y=[";
    for (int i = 0; i < 6; i++) {
        strcat(ybuf, i ? ", [" : "[");
        for (int j = 0; j < 9; j++)
            strcat(ybuf, j ? ", 1.25" : "1.25");
        strcat(ybuf, "]");
    }
    strcat(ybuf, "]");
    const char *sets[] = {"I=6", "J=9", ybuf, NULL};
    Fixture fx;
    if (fixture_open(&fx, "subsample_test.cm", text, sets, 12345) != 0) {
        CHECK(0, "the nested model compiles and runs");
        fixture_close(&fx);
        return;
    }
    double q[1] = {0.4}, g0[1], g1[1];
    double full = logp_at(&fx.m, q, g0);
    subsample_model(&fx.m, 1);
    double mini = logp_at(&fx.m, q, g1);
    CHECK(fabs(mini - full) <= 1e-12 * fabs(full), "nested scales multiply: %.15g vs %.15g", mini, full);
    CHECK_NEAR(g1[0], g0[0], 1e-12 * fabs(g0[0]));
    int yv = program_find_var(fx.prog, "y"), ny = 0;
    for (int i = 0; i < fx.m.trace.n; i++)
        ny += fx.m.trace.e[i].var == yv;
    CHECK(ny == 6, "2 x 3 rows of y per run, got %d", ny);
    CHECK(fx.m.ex.subsample_scale == 1 && fx.m.ex.subsample_active == 0,
          "the scale is restored after the plates");
    fixture_close(&fx);
}

static void test_unbiased(void)
{
    const char *text = "data N: int\ndata y: real[N]\nmu ~ Normal(0, 3)\n"
                       "plate n in 1..N subsample 10 {\n  y[n] ~ Normal(mu, 1)\n}\n";
    char *y = vector_arg("y", 100, -2, 0.05);
    const char *sets[] = {"N=100", y, NULL};
    Fixture fx;
    if (fixture_open(&fx, "subsample_test.cm", text, sets, 12345) != 0) {
        CHECK(0, "the unbiasedness model compiles and runs");
        fixture_close(&fx);
        free(y);
        return;
    }
    double q[1] = {0.5}, g[1], g0[1];
    double full = logp_at(&fx.m, q, g0);
    subsample_model(&fx.m, 1);
    enum { R = 4000 };
    double s = 0, ss = 0, gs = 0, gss = 0;
    for (int r = 0; r < R; r++) {
        double lp = logp_at(&fx.m, q, g);
        s += lp;
        ss += lp * lp;
        gs += g[0];
        gss += g[0] * g[0];
    }
    double mean = s / R, se = sqrt((ss / R - mean * mean) / (R - 1));
    double gmean = gs / R, gse = sqrt((gss / R - gmean * gmean) / (R - 1));
    CHECK(se > 0, "the minibatch log density varies");
    CHECK_NEAR(mean, full, 4 * se);
    CHECK_NEAR(gmean, g0[0], 4 * gse);
    fixture_close(&fx);
    free(y);
}

static void test_errors(void)
{
    Fixture fx;
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    const char *zero = "data N: int\ndata y: real[N]\nmu ~ Normal(0, 3)\n"
                       "plate n in 1..N subsample 0 {\n  y[n] ~ Normal(mu, 1)\n}\n";
    const char *sets[] = {"N=4", "y=[1, 2, 3, 4]", NULL};
    int rc0 = fixture_open(&fx, "subsample_test.cm", zero, sets, 12345);
    fixture_close(&fx);
    const char *big = "data N: int\ndata y: real[N]\nmu ~ Normal(0, 3)\n"
                      "plate n in 1..N subsample 5 {\n  y[n] ~ Normal(mu, 1)\n}\n";
    int rc5 = fixture_open(&fx, "subsample_test.cm", big, sets, 12345);
    fixture_close(&fx);
    const char *equal = "data N: int\ndata y: real[N]\nmu ~ Normal(0, 3)\n"
                        "plate n in 1..N subsample N {\n  y[n] ~ Normal(mu, 1)\n}\n";
    int rc4 = fixture_open(&fx, "subsample_test.cm", equal, sets, 12345);
    int still_static = rc4 == 0 && subsample_model(&fx.m, 1) == 0 && !fx.m.tape.dynamic;
    fixture_close(&fx);
    const char *local = "data N: int\ndata y: real[N]\nmu ~ Normal(0, 3)\n"
                        "plate n in 1..N subsample 2 {\n  z[n] ~ Normal(mu, 1)\n"
                        "  y[n] ~ Normal(z[n], 1)\n}\n";
    int rcl = fixture_open(&fx, "subsample_test.cm", local, sets, 12345);
    int refused = rcl == 0 && subsample_model(&fx.m, 1) != 0;
    int full_ok = rcl == 0 && fx.m.dim == 5; /* without the policy: mu and the 4 z are parameters */
    fixture_close(&fx);
    fclose(stderr);
    stderr = saved;
    CHECK(rc0 != 0, "subsample 0 is refused");
    CHECK(rc5 != 0, "subsample 5 of 4 is refused");
    CHECK(rc4 == 0 && still_static, "subsample N is the whole plate: no minibatch, static tape");
    CHECK(full_ok, "a local latent site is fine as a full batch");
    CHECK(refused, "a local latent site is refused with minibatches");
}

int main(void)
{
    subsample_quiet();
    test_choose();
    test_exact_scale();
    test_nested_scale();
    test_unbiased();
    test_errors();
    return check_done();
}
