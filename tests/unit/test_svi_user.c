/*
 * test_svi_user.c - the ELBO gradient of guides written in cm.
 *
 * At a fixed theta, the mean of many one-step estimates must match the
 * analytic gradient of the ELBO within 4 Monte Carlo standard errors: for
 * a reparameterised Normal guide on the conjugate normal mean, and for a
 * Bernoulli guide whose gradient is the score function (ELBO = -KL(q||p)),
 * with the running-average baseline (1 particle) and the leave-one-out
 * baseline (4 particles).  Then a short fit recovers the exact posterior,
 * and the same seed gives the same estimates.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "compile.h"
#include "svi_user.h"

typedef struct {
    Source src;
    Diag diag;
    Program *p;
    CmGuide *g;
    DataSet data;
} Fixture;

static int setup(Fixture *f, const char *text, const char *const *data, int ndata)
{
    memset(f, 0, sizeof *f);
    f->src = (Source){"test.cm", text, strlen(text)};
    diag_init(&f->diag, &f->src);
    f->p = cm_compile_guided(&f->src, &f->diag, NULL, &f->g);
    data_init(&f->data);
    char err[256];
    for (int i = 0; i < ndata; i++)
        if (data_set_from_arg(&f->data, data[i], "--set", err, sizeof err) != 0)
            return -1;
    return f->p && f->g ? 0 : -1;
}

static void teardown(Fixture *f)
{
    cm_guide_free(f->g);
    program_free(f->p);
    data_free(&f->data);
}

/* Mean and standard error of `calls` gradient estimates, component j. */
static void estimate(SviUser *u, int particles, int calls, double *mean, double *se, double *elbo,
                     double *elbo_se)
{
    int d = svi_user_dim(u);
    double *g = calloc((size_t)d, sizeof(double)), s[8] = {0}, ss[8] = {0}, e = 0, ee = 0;
    for (int c = 0; c < calls; c++) {
        int failed;
        double L = svi_user_elbo_grad(u, particles, g, &failed);
        e += L;
        ee += L * L;
        for (int j = 0; j < d && j < 8; j++) {
            s[j] += g[j];
            ss[j] += g[j] * g[j];
        }
    }
    for (int j = 0; j < d && j < 8; j++) {
        mean[j] = s[j] / calls;
        se[j] = sqrt(fmax(ss[j] / calls - mean[j] * mean[j], 0) / calls);
    }
    *elbo = e / calls;
    *elbo_se = sqrt(fmax(ee / calls - *elbo * *elbo, 0) / calls);
    free(g);
}

static const char normal_mean[] =
    "data N: int\n"
    "data y: real[N]\n"
    "mu ~ Normal(0, 10)\n"
    "y ~ Normal(mu, 1)\n"
    "guide {\n"
    "  param loc: real = 0.5\n"
    "  param scale: positive = 0.3\n"
    "  mu ~ Normal(loc, scale)\n"
    "}\n";
static const char *const normal_data[] = {"N=5", "y=[1, 2, 0.5, 1.5, 3]"};

static void test_reparameterised_gradient(void)
{
    Fixture f;
    CHECK(setup(&f, normal_mean, normal_data, 2) == 0, "normal_mean compiles");
    SviUser *u = f.p ? svi_user_new(f.p, f.g, &f.data, NULL, 11) : NULL;
    CHECK(u && svi_user_dim(u) == 2, "two parameters");
    if (u) {
        double loc = 0.5, s = 0.3, N = 5, sy = 8, syy = 1 + 4 + 0.25 + 2.25 + 9;
        double mean[8], se[8], elbo, elbo_se;
        estimate(u, 1, 4000, mean, se, &elbo, &elbo_se);
        /* d/dloc = sum(y - loc) - loc / 100;  d/dlog(scale) = 1 - (N + 1/100) s^2 */
        CHECK_NEAR(mean[0], sy - N * loc - loc / 100, 4 * se[0]);
        CHECK_NEAR(mean[1], 1 - (N + 0.01) * s * s, 4 * se[1]);
        double lik = -0.5 * N * log(2 * M_PI) - 0.5 * (syy - 2 * loc * sy + N * (loc * loc + s * s));
        double prior = -0.5 * log(2 * M_PI * 100) - (loc * loc + s * s) / 200;
        double entropy = 0.5 * log(2 * M_PI * M_E * s * s);
        CHECK_NEAR(elbo, lik + prior + entropy, 4 * elbo_se);
    }
    svi_user_free(u);
    teardown(&f);
}

static const char bernoulli[] =
    "z ~ Bernoulli(0.3)\n"
    "guide {\n"
    "  param p: unit = 0.6\n"
    "  z ~ Bernoulli(p)\n"
    "}\n";

static void test_score_function_gradient(int particles, int calls)
{
    Fixture f;
    CHECK(setup(&f, bernoulli, NULL, 0) == 0, "bernoulli compiles");
    SviUser *u = f.p ? svi_user_new(f.p, f.g, &f.data, NULL, 5) : NULL;
    CHECK(u != NULL, "bernoulli guide accepted");
    if (u) {
        int rep;
        CHECK(svi_user_nsites(u) == 1 && !strcmp(svi_user_site(u, 0, &rep), "z") && !rep,
              "z uses the score function");
        double p = 0.6, mean[8], se[8], elbo, elbo_se;
        estimate(u, particles, calls, mean, se, &elbo, &elbo_se);
        double kl = p * log(p / 0.3) + (1 - p) * log((1 - p) / 0.7);
        double dkl = log(p / 0.3) - log((1 - p) / 0.7);
        CHECK_NEAR(mean[0], -p * (1 - p) * dkl, 4 * se[0] + 1e-12);
        CHECK_NEAR(elbo, -kl, 4 * elbo_se);
        CHECK(se[0] < 0.02, "the baseline keeps the estimate's error small (se %g)", se[0]);
    }
    svi_user_free(u);
    teardown(&f);
}

static void test_fit_and_determinism(void)
{
    Fixture f;
    CHECK(setup(&f, normal_mean, normal_data, 2) == 0, "normal_mean compiles");
    SviUser *a = svi_user_new(f.p, f.g, &f.data, NULL, 3), *b = svi_user_new(f.p, f.g, &f.data, NULL, 3);
    CHECK(a && b, "two fits");
    if (a && b) {
        double ga[2], gb[2];
        int fa, fb;
        double la = svi_user_elbo_grad(a, 3, ga, &fa), lb = svi_user_elbo_grad(b, 3, gb, &fb);
        CHECK(la == lb && ga[0] == gb[0] && ga[1] == gb[1], "same seed, same estimate");
        SviOptions s;
        svi_options_default(&s);
        s.steps = 4000;
        s.lr = 0.05;
        s.lr_decay = 0.998;
        s.particles = 4;
        s.tol = 0;
        SviResult res;
        CHECK(svi_user_fit(a, &s, NULL, NULL, NULL, &res) == SVI_OK, "fit: %s", res.message);
        double x[1], m = 8 / 5.01, sd = 1 / sqrt(5.01);
        svi_user_param_values(a, 0, x);
        CHECK_NEAR(x[0], m, 0.02 * m);
        svi_user_param_values(a, 1, x);
        CHECK_NEAR(x[0], sd, 0.02 * sd);
        double row[3];
        CHECK(svi_user_ncols(a) == 1 && !strcmp(svi_user_col_name(a, 0), "mu"), "column mu");
        CHECK(svi_user_draw(a, row) == 0 && isfinite(row[0]) && isfinite(row[1]), "a draw");
    }
    svi_user_free(a);
    svi_user_free(b);
    teardown(&f);
}

int main(void)
{
    test_reparameterised_gradient();
    test_score_function_gradient(1, 8000);
    test_score_function_gradient(4, 4000);
    test_fit_and_determinism();
    return check_done();
}
