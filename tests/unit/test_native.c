/*
 * test_native.c - the native tier (runtime/native.h) against the
 * interpreter.
 *
 *  - The same bits: models that between them record every pure op
 *    (tape_ops.h: unary functions, + - * / pow lbeta fmin fmax, sum, dot,
 *    log_sum_exp, cumulative_sum, softmax, log_softmax, transpose, gathers,
 *    copies, every bijector, the four location-scale kernels, the affine
 *    op) and some that are handed back (matrix-vector products, a
 *    multivariate density), each traced twice, once with --jit off and
 *    once with --jit on; log density and gradient compared with memcmp at
 *    20 points, including points far out where densities overflow.
 *  - --jit auto switches a model mid-run: no native code at first; after
 *    NATIVE_HOT_EVALS gradients the compiler starts, and the same Model
 *    picks the object up while it keeps evaluating (bounded wait), with
 *    the same bits before and after.
 * The cache is a fresh temporary directory unless CM_CACHE_DIR is set.
 */
#include <gsl/gsl_rng.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "model_fixture.h"
#include "native.h"

static const struct {
    const char *name, *text;
    const char *sets[4];
} models[] = {
    {"unary",
     "x ~ Normal(0, 1)\n"
     "u: unit ~ Beta(2, 2)\n"
     "p: positive ~ Gamma(2, 1)\n"
     "a = exp(x) + log(p) + log1p(p) + expm1(x) + sqrt(p) + fabs(x) + sin(x) + cos(x)\n"
     "b = tan(0.1 * x) + tanh(x) + sigmoid(x) + logit(u) + softplus(x) + lgamma(p) + digamma(p)\n"
     "c = erf(x) + Phi(x) + square(x) + 1 / p + log_inv_logit(x) - x\n"
     "factor(-0.01 * square(a + b + c))\n",
     {NULL}},
    {"binary",
     "x ~ Normal(0, 1)\n"
     "p: positive ~ Gamma(3, 2)\n"
     "q: positive ~ Gamma(2, 2)\n"
     "a = x / p + pow(p, q) + lbeta(p, q) + fmin(x, p) + fmax(x, q) + x * p - q\n"
     "factor(-0.1 * square(a))\n",
     {NULL}},
    {"vectors",
     "data N: int\n"
     "v: real[N] ~ Normal(0, 1)\n"
     "w: real[N] ~ Normal(1, 2)\n"
     "s = sum(v) + dot(v, w) + log_sum_exp(v) + sum(cumulative_sum(w))\n"
     "t = sum(softmax(v) .* w) + sum(log_softmax(w))\n"
     "factor(-0.1 * square(s + t))\n",
     {"N=4", NULL}},
    {"bijectors",
     "o: ordered[3] ~ Normal(0, 2)\n"
     "po: positive_ordered[2] ~ Normal([1, 3], 1)\n"
     "th: simplex[3] ~ Dirichlet([2, 2, 2])\n"
     "lo: positive ~ LogNormal(0, 1)\n"
     "b ~ Uniform(-1, 2)\n"
     "c ~ Uniform(-1, b)\n"
     "factor(sum(o) * 0.1 + sum(po) * 0.1 + th[1] + lo * 0.1)\n",
     {NULL}},
    {"kernels_eight_schools",
     "data J: int\ndata y: real[J]\ndata sigma: real[J]\n"
     "mu ~ Normal(0, 5)\ntau ~ HalfCauchy(5)\ns ~ HalfNormal(2)\n"
     "eta: real[J] ~ Normal(0, 1)\n"
     "theta = mu + tau * eta\n"
     "y ~ Normal(theta, sigma)\n"
     "z ~ Cauchy(mu, s)\n",
     {"J=8", "y=[28, 8, -3, 7, -1, 1, 18, 12]", "sigma=[15, 10, 16, 11, 9, 11, 10, 18]"}},
    {"gathers_and_matrices",
     "data N: int\ndata g: int[N]\ndata X: real[N, 2]\ndata y: real[N]\n"
     "a: real[3] ~ Normal(0, 1)\n"
     "beta: real[2] ~ Normal(0, 1)\n"
     "sig ~ HalfNormal(1)\n"
     "plate n in 1..N {\n  y[n] ~ Normal(a[g[n]] + dot(X[n], beta), sig)\n}\n"
     "m = X * beta\n"
     "factor(-0.01 * sum(transpose(X) * m))\n",
     {"N=5", "g=[1, 2, 3, 1, 2]", "X=[[1, 0.5], [0.2, -1], [1.5, 2], [-0.3, 0.1], [0, 1]]"}},
    {"multivariate",
     "data K: int\n"
     "mu: real[K] ~ Normal(0, 1)\n"
     "L ~ LKJCholesky(K, 2)\n"
     "x: real[K] ~ MultivariateNormalCholesky(mu, L)\n",
     {"K=3", NULL}},
};

/* gathers_and_matrices's y, bound separately: four sets are the limit above */
static const char *const extra_y = "y=[0.5, -0.2, 1.1, 0.3, -0.7]";

static void eval(Model *m, const double *q, double *lp, double *g)
{
    *lp = model_logp_grad(m, q, g);
}

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

static void compare_model(int k, gsl_rng *r)
{
    const char *sets[6] = {NULL};
    int ns = 0;
    for (; models[k].sets[ns]; ns++)
        sets[ns] = models[k].sets[ns];
    if (!strcmp(models[k].name, "gathers_and_matrices"))
        sets[ns++] = extra_y;
    Fixture off, on;
    native_set_mode(JIT_OFF);
    int rc1 = fixture_open(&off, models[k].name, models[k].text, sets, 11);
    native_set_mode(JIT_ON);
    int rc2 = fixture_open(&on, models[k].name, models[k].text, sets, 11);
    CHECK(rc1 == 0 && rc2 == 0, "%s: traced (%d, %d)", models[k].name, rc1, rc2);
    if (rc1 == 0 && rc2 == 0) {
        CHECK(off.m.native == NULL, "%s: --jit off attaches nothing", models[k].name);
        CHECK(on.m.native && native_function(on.m.native), "%s: --jit on has native code",
              models[k].name);
        int dim = off.m.dim, bad = 0;
        double *q = calloc((size_t)dim + 1, sizeof *q), *g1 = calloc((size_t)dim + 1, sizeof *g1),
               *g2 = calloc((size_t)dim + 1, sizeof *g2);
        for (int it = 0; it < 20; it++) {
            double scale = it < 15 ? 2 : 40; /* the last points far out */
            for (int i = 0; i < dim; i++)
                q[i] = scale * (gsl_rng_uniform(r) - 0.5);
            double l1, l2;
            eval(&off.m, q, &l1, g1);
            eval(&on.m, q, &l2, g2);
            int same = same_bits(l1, l2);
            for (int i = 0; same && isfinite(l1) && i < dim; i++)
                same = same_bits(g1[i], g2[i]);
            if (!same && !bad++)
                fprintf(stderr, "%s: point %d: lp %.17g vs %.17g\n", models[k].name, it, l1, l2);
        }
        CHECK(bad == 0, "%s: native and interpreted differ at %d of 20 points", models[k].name, bad);
        free(q);
        free(g1);
        free(g2);
    }
    fixture_close(&off);
    fixture_close(&on);
}

/* --jit auto: the compile starts after NATIVE_HOT_EVALS gradients and the
 * running model switches to it, with the same bits. */
static void auto_switch(void)
{
    native_set_mode(JIT_AUTO);
    const char *sets[] = {"N=3", NULL};
    Fixture fx;
    int rc = fixture_open(&fx, "auto", "data N: int\nv: real[N] ~ Normal(0, 1)\n"
                                       "factor(-0.5 * sum(exp(v)))\n",
                          sets, 5);
    CHECK(rc == 0 && fx.m.native, "auto: traced and attached (%d)", rc);
    if (rc != 0 || !fx.m.native) {
        fixture_close(&fx);
        return;
    }
    CHECK(native_function(fx.m.native) == NULL, "auto: no native code before the run is hot");
    double q[3] = {0.3, -0.2, 1.1}, g0[3], g[3];
    double lp0 = model_logp_grad(&fx.m, q, g0);
    for (long i = 0; i < NATIVE_HOT_EVALS + 10; i++)
        model_logp_grad(&fx.m, q, g);
    /* keep evaluating while the compiler runs (it is polled every 256) */
    time_t start = time(NULL);
    while (!native_function(fx.m.native) && time(NULL) - start < 300) {
        for (int i = 0; i < 256; i++)
            model_logp_grad(&fx.m, q, g);
        usleep(2000);
    }
    CHECK(native_function(fx.m.native) != NULL, "auto: the model switched to native code");
    double lp1 = model_logp_grad(&fx.m, q, g);
    CHECK(same_bits(lp0, lp1) && same_bits(g0[0], g[0]) && same_bits(g0[2], g[2]),
          "auto: lp %.17g before, %.17g after the switch", lp0, lp1);
    fixture_close(&fx);
}

/* A fresh directory of this process's own under /tmp. */
static int own_dir(char *buf, size_t n, const char *what)
{
    snprintf(buf, n, "/tmp/cm-%s-%ld", what, (long)getpid());
    return mkdir(buf, 0700);
}

int main(void)
{
    char dir[64];
    int own = 0;
    if (!getenv("CM_CACHE_DIR") || !*getenv("CM_CACHE_DIR")) {
        if (own_dir(dir, sizeof dir, "native-test") != 0) {
            perror(dir);
            return 2;
        }
        setenv("CM_CACHE_DIR", dir, 1);
        own = 1;
    }
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 2026);
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++)
        compare_model((int)k, r);
    /* a cache of its own, so that the object is not there already */
    char adir[64];
    if (own_dir(adir, sizeof adir, "native-auto") == 0) {
        char *old = getenv("CM_CACHE_DIR") ? strdup(getenv("CM_CACHE_DIR")) : NULL;
        setenv("CM_CACHE_DIR", adir, 1);
        auto_switch();
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", adir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", adir);
        if (old)
            setenv("CM_CACHE_DIR", old, 1);
        free(old);
    }
    gsl_rng_free(r);
    if (own) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return check_done();
}
