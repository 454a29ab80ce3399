/*
 * test_enumerate.c - summing latent discrete sites out (runtime/enumerate.c).
 *
 * Exact checks first: for each model with a summed-out site, a hand-
 * marginalised twin (log_mix, log_sum_exp) has the same log density and
 * the same gradient at random unconstrained points, to 1e-10.  Then the
 * tape's local targets on their own, and the output draws: at a fixed
 * point, the frequency of z[n] = 1 over many model_row calls matches the
 * exact conditional within 4 binomial standard errors.
 */
#include <gsl/gsl_randist.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "enumerate.h"
#include "model.h"
#include "model_fixture.h"




/* The two models agree on log p and its gradient at `points` random points. */
static void same_density(const char *what, const char *summed, const char *hand,
                         const char *const *sets, int points)
{
    Fixture a, b;
    int ra = fixture_open(&a, "summed.cm", summed, sets, 11);
    int rb = fixture_open(&b, "hand.cm", hand, sets, 11);
    CHECK(ra == 0 && rb == 0, "%s: both models load", what);
    if (ra == 0 && rb == 0) {
        CHECK(a.m.dim == b.m.dim, "%s: same dimension (%d, %d)", what, a.m.dim, b.m.dim);
        CHECK(a.m.tape.nlocal_closed > 0, "%s: the summed model enumerated", what);
        CHECK(!a.m.tape.dynamic, "%s: the summed model replays its tape", what);
        gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(rng, 5);
        int d = a.m.dim;
        double *q = calloc((size_t)d + 1, sizeof(double));
        double *ga = calloc((size_t)d + 1, sizeof(double)), *gb = calloc((size_t)d + 1, sizeof(double));
        for (int p = 0; p < points && d == b.m.dim; p++) {
            for (int i = 0; i < d; i++)
                q[i] = gsl_ran_flat(rng, -1.5, 1.5);
            double la = model_logp_grad(&a.m, q, ga), lb = model_logp_grad(&b.m, q, gb);
            CHECK(isfinite(la), "%s: finite log density", what);
            CHECK_NEAR(la, lb, 1e-10 * fmax(1, fabs(lb)));
            for (int i = 0; i < d; i++)
                CHECK_NEAR(ga[i], gb[i], 1e-10 * fmax(1, fabs(gb[i])));
        }
        free(q);
        free(ga);
        free(gb);
        gsl_rng_free(rng);
    }
    fixture_close(&a);
    fixture_close(&b);
}

static const char *const mix_sets[] = {"N=6", "y=[-1.8, -2.1, 2.3, 0.2, 1.9, -0.4]", NULL};

static void test_mixture(void)
{
    same_density("mixture",
                 "data N: int\ndata y: real[N]\n"
                 "mu: ordered[2] ~ Normal(0, 5)\nsigma ~ HalfNormal(2)\ntheta ~ Beta(2, 2)\n"
                 "plate n in 1..N {\n  z[n] ~ Bernoulli(theta)\n"
                 "  y[n] ~ Normal(mu[z[n] + 1], sigma)\n}\n",
                 "data N: int\ndata y: real[N]\n"
                 "mu: ordered[2] ~ Normal(0, 5)\nsigma ~ HalfNormal(2)\ntheta ~ Beta(2, 2)\n"
                 "plate n in 1..N {\n  factor(log_mix(theta, Normal_lpdf(y[n], mu[2], sigma),\n"
                 "                        Normal_lpdf(y[n], mu[1], sigma)))\n}\n",
                 mix_sets, 5);
    /* an indexed deterministic node in the continuation: its storage is
       written once per pass, so the copies' adjoints must not leak */
    same_density("mixture with a node",
                 "data N: int\ndata y: real[N]\n"
                 "mu: ordered[2] ~ Normal(0, 5)\nsigma ~ HalfNormal(2)\ntheta ~ Beta(2, 2)\n"
                 "m: real[N]\n"
                 "plate n in 1..N {\n  z[n] ~ Bernoulli(theta)\n  m[n] = mu[z[n] + 1] * sigma\n"
                 "  y[n] ~ Normal(m[n], sigma)\n}\n",
                 "data N: int\ndata y: real[N]\n"
                 "mu: ordered[2] ~ Normal(0, 5)\nsigma ~ HalfNormal(2)\ntheta ~ Beta(2, 2)\n"
                 "plate n in 1..N {\n"
                 "  factor(log_mix(theta, Normal_lpdf(y[n], mu[2] * sigma, sigma),\n"
                 "                        Normal_lpdf(y[n], mu[1] * sigma, sigma)))\n}\n",
                 mix_sets, 5);
    /* z[n] read directly by recorded ops: each pass must keep its own value */
    same_density("z as an operand",
                 "data N: int\ndata y: real[N]\nmu ~ Normal(0, 5)\ntheta ~ Beta(2, 2)\n"
                 "plate n in 1..N {\n  z[n] ~ Bernoulli(theta)\n"
                 "  y[n] ~ Normal(mu + 2 * z[n] * mu, 1 + z[n])\n}\n",
                 "data N: int\ndata y: real[N]\nmu ~ Normal(0, 5)\ntheta ~ Beta(2, 2)\n"
                 "plate n in 1..N {\n  factor(log_mix(theta, Normal_lpdf(y[n], 3 * mu, 2),\n"
                 "                        Normal_lpdf(y[n], mu, 1)))\n}\n",
                 mix_sets, 5);
    /* three components, Categorical over a simplex */
    same_density("categorical",
                 "data N: int\ndata y: real[N]\n"
                 "mu: ordered[3] ~ Normal(0, 5)\nw: simplex[3] ~ Dirichlet(rep(2.0, 3))\n"
                 "plate n in 1..N {\n  z[n] ~ Categorical(w)\n  y[n] ~ Normal(mu[z[n]], 1)\n}\n",
                 "data N: int\ndata y: real[N]\n"
                 "mu: ordered[3] ~ Normal(0, 5)\nw: simplex[3] ~ Dirichlet(rep(2.0, 3))\n"
                 "plate n in 1..N {\n"
                 "  factor(log_sum_exp(log(w[1]) + Normal_lpdf(y[n], mu[1], 1),\n"
                 "                     log(w[2]) + Normal_lpdf(y[n], mu[2], 1),\n"
                 "                     log(w[3]) + Normal_lpdf(y[n], mu[3], 1)))\n}\n",
                 mix_sets, 5);
}

static void test_global_sites(void)
{
    static const char *const cp_sets[] = {
        "T=12", "y=[4, 6, 3, 5, 7, 4, 1, 0, 2, 1, 1, 0]", NULL};
    same_density("change point",
                 "data T: int\ndata y: int[T]\n"
                 "early ~ Gamma(2, 0.5)\nlate ~ Gamma(2, 0.5)\n"
                 "tau ~ Categorical(rep(1.0 / T, T))\n"
                 "plate t in 1..T {\n  y[t] ~ Poisson(t < tau ? early : late)\n}\n",
                 "data T: int\ndata y: int[T]\n"
                 "early ~ Gamma(2, 0.5)\nlate ~ Gamma(2, 0.5)\n"
                 "plate t in 1..T {\n  le[t] = Poisson_lpdf(y[t], early)\n"
                 "  ll[t] = Poisson_lpdf(y[t], late)\n}\n"
                 "ce = cumulative_sum(le)\ncl = cumulative_sum(ll)\n"
                 "plate s in 1..T {\n"
                 "  lp[s] = (s > 1 ? ce[s - 1] : 0.0) + cl[T] - (s > 1 ? cl[s - 1] : 0.0)\n}\n"
                 "factor(log_sum_exp(lp) - log(T))\n",
                 cp_sets, 4);
    /* a top-level site whose continuation holds a plate of summed-out sites */
    same_density("nested",
                 "data N: int\ndata y: real[N]\n"
                 "mu: ordered[2] ~ Normal(0, 5)\n"
                 "c ~ Bernoulli(0.3)\n"
                 "plate n in 1..N {\n  z[n] ~ Bernoulli(c == 1 ? 0.8 : 0.2)\n"
                 "  y[n] ~ Normal(mu[z[n] + 1], 1)\n}\n",
                 "data N: int\ndata y: real[N]\n"
                 "mu: ordered[2] ~ Normal(0, 5)\n"
                 "plate n in 1..N {\n"
                 "  a[n] = log_mix(0.8, Normal_lpdf(y[n], mu[2], 1), Normal_lpdf(y[n], mu[1], 1))\n"
                 "  b[n] = log_mix(0.2, Normal_lpdf(y[n], mu[2], 1), Normal_lpdf(y[n], mu[1], 1))\n}\n"
                 "factor(log_mix(0.3, sum(a), sum(b)))\n",
                 mix_sets, 4);
    /* a whole vector site: 2^3 joint values; and a Binomial count */
    same_density("vector site",
                 "mu ~ Normal(0, 3)\nz: int[3] ~ Bernoulli(0.4)\n"
                 "x ~ Normal(mu * sum(z), 1)\n",
                 "data x: real\nmu ~ Normal(0, 3)\n"
                 "factor(log_sum_exp(3 * log(0.6) + Normal_lpdf(x, 0, 1),\n"
                 "                   log(3.0) + log(0.4) + 2 * log(0.6) + Normal_lpdf(x, mu, 1),\n"
                 "                   log(3.0) + 2 * log(0.4) + log(0.6) + Normal_lpdf(x, 2 * mu, 1),\n"
                 "                   3 * log(0.4) + Normal_lpdf(x, 3 * mu, 1)))\n",
                 (const char *const[]){"x=2.5", NULL}, 4);
    same_density("binomial",
                 "p ~ Beta(2, 2)\nk ~ Binomial(2, p)\nx ~ Normal(k, 0.5)\n",
                 "data x: real\np ~ Beta(2, 2)\n"
                 "factor(log_sum_exp(2 * log1m(p) + Normal_lpdf(x, 0, 0.5),\n"
                 "                   log(2.0) + log(p) + log1m(p) + Normal_lpdf(x, 1, 0.5),\n"
                 "                   2 * log(p) + Normal_lpdf(x, 2, 0.5)))\n",
                 (const char *const[]){"x=1.7", NULL}, 4);
}

/* Local targets on the tape: folded and recorded terms are counted, the
 * real target is untouched, and nesting sums into the enclosing one. */
static void test_tape_local(void)
{
    Tape t;
    tape_init(&t);
    int x = tape_inputs(&t, 1), one = 1;
    t.val[x] = 0.5;
    int two = tape_const(&t, 2.0);
    tape_local_begin(&t);
    tape_op(&t, OP_ACC, 0, 1, &x, &one, NULL, NULL, 1);
    tape_op(&t, OP_ACC, 0, 1, &two, &one, NULL, NULL, 1); /* folded */
    tape_local_begin(&t);
    int sq = tape_op(&t, OP_SQUARE, 1, 1, &x, &one, NULL, NULL, 0);
    tape_op(&t, OP_ACC, 0, 1, &sq, &one, NULL, NULL, 1);
    int inner = tape_local_end(&t);
    tape_op(&t, OP_ACC, 0, 1, &inner, &one, NULL, NULL, 1);
    CHECK(tape_local_open(&t), "the outer local target is still open");
    int s = tape_local_end(&t);
    CHECK(!tape_local_open(&t), "closed");
    CHECK_NEAR(t.val[s], 0.5 + 2 + 0.25, 1e-15);
    CHECK_NEAR(t.target + t.target_const, 0, 1e-15);
    int three = tape_const(&t, 3.0);
    int m = tape_op(&t, OP_MUL, 1, 2, (int[]){s, three}, (int[]){1, 1}, NULL, NULL, 0);
    tape_op(&t, OP_ACC, 0, 1, &m, &one, NULL, NULL, 1);
    t.val[x] = 1.5;
    CHECK_NEAR(tape_forward(&t), 3 * (1.5 + 2 + 2.25), 1e-12);
    tape_backward(&t);
    CHECK_NEAR(t.adj[x], 3 * (1 + 2 * 1.5), 1e-12);
    CHECK(t.nlocal_closed == 2, "two local targets closed");
    tape_free(&t);
}

/* Output rows draw z[n] from its conditional at the point: frequencies
 * match the exact P(z[n] = 1 | y, q). */
static void test_draws(void)
{
    Fixture fx;
    if (fixture_open(&fx, "mix.cm",
                     "data N: int\ndata y: real[N]\n"
                     "mu: ordered[2] ~ Normal(0, 5)\nsigma ~ HalfNormal(2)\ntheta ~ Beta(2, 2)\n"
                     "c ~ Bernoulli(0.5)\n"
                     "plate n in 1..N {\n  z[n] ~ Bernoulli(c == 1 ? theta : 0.5)\n"
                     "  y[n] ~ Normal(mu[z[n] + 1], sigma)\n  w[n] = 10 * z[n] + c\n}\n",
                     mix_sets, 11) != 0) {
        CHECK(0, "draw model loads");
        fixture_close(&fx);
        return;
    }
    Model *m = &fx.m;
    double q[4] = {-1.5, 1.2, -0.3, 0.4}; /* mu1, log(mu2 - mu1), log sigma, logit theta */
    CHECK(m->dim == 4, "dimension 4 (%d)", m->dim);
    double mu1 = q[0], mu2 = q[0] + exp(q[1]), sg = exp(q[2]), th = 1 / (1 + exp(-q[3]));
    static const double y[6] = {-1.8, -2.1, 2.3, 0.2, 1.9, -0.4};
    int N = 6;
    /* exact: P(c), then P(z[n] = 1 | c) */
    double pz[2][6], logmarg[2] = {0, 0};
    for (int c = 0; c < 2; c++) {
        double p1 = c ? th : 0.5;
        for (int n = 0; n < N; n++) {
            double a = p1 * gsl_ran_gaussian_pdf(y[n] - mu2, sg);
            double b = (1 - p1) * gsl_ran_gaussian_pdf(y[n] - mu1, sg);
            pz[c][n] = a / (a + b);
            logmarg[c] += log(a + b);
        }
    }
    double pc1 = 1 / (1 + exp(logmarg[0] - logmarg[1]));
    int zcol[6], ccol = -1, wcol[6];
    for (int j = 0; j < m->ncols; j++) {
        if (!strcmp(m->names[j], "c"))
            ccol = j;
        for (int n = 0; n < N; n++) {
            char buf[16];
            snprintf(buf, sizeof buf, "z.%d", n + 1);
            if (!strcmp(m->names[j], buf))
                zcol[n] = j;
            snprintf(buf, sizeof buf, "w.%d", n + 1);
            if (!strcmp(m->names[j], buf))
                wcol[n] = j;
        }
    }
    CHECK(ccol >= 0, "column c");
    int M = 4000;
    double *row = calloc((size_t)m->ncols, sizeof(double));
    double fz[6] = {0}, fc = 0;
    int consistent = 1;
    for (int r = 0; r < M && ccol >= 0; r++) {
        if (model_row(m, q, row) != 0) {
            CHECK(0, "model_row");
            break;
        }
        fc += row[ccol];
        for (int n = 0; n < N; n++) {
            fz[n] += row[zcol[n]];
            consistent &= row[wcol[n]] == 10 * row[zcol[n]] + row[ccol];
        }
    }
    CHECK(consistent, "deterministic nodes follow the drawn values");
    CHECK_NEAR(fc / M, pc1, 4 * sqrt(pc1 * (1 - pc1) / M) + 1e-12);
    for (int n = 0; n < N; n++) {
        double p = pc1 * pz[1][n] + (1 - pc1) * pz[0][n];
        CHECK_NEAR(fz[n] / M, p, 4 * sqrt(p * (1 - p) / M) + 1e-12);
    }
    /* the gradient tape was recorded again after the output runs */
    double g[4], g2[4];
    double lp = model_logp_grad(m, q, g);
    double lp2 = model_logp_grad(m, q, g2);
    CHECK(isfinite(lp) && lp == lp2 && g[0] == g2[0], "gradient after output rows");
    free(row);
    fixture_close(&fx);
}

/* Errors a user can cause: model_init fails with a located message. */
static void test_errors(void)
{
    static const struct {
        const char *what, *text;
    } bad[] = {
        {"read after the plate",
         "data N: int\ndata y: real[N]\nmu ~ Normal(0, 1)\n"
         "plate n in 1..N {\n  z[n] ~ Bernoulli(0.5)\n  y[n] ~ Normal(mu + z[n], 1)\n}\n"
         "s = sum(z)\n"},
        {"another element in the plate",
         "data N: int\ndata y: real[N]\nmu ~ Normal(0, 1)\n"
         "plate n in 1..N {\n  z[n] ~ Bernoulli(0.5)\n"
         "  y[n] ~ Normal(mu + (n > 1 ? z[n - 1] : 0), 1)\n}\n"},
        {"node read after the plate",
         "data N: int\ndata y: real[N]\nmu ~ Normal(0, 1)\nm: real[N]\n"
         "plate n in 1..N {\n  z[n] ~ Bernoulli(0.5)\n  m[n] = mu + z[n]\n"
         "  y[n] ~ Normal(m[n], 1)\n}\ns = sum(m)\n"},
        {"a slice over assigned elements",
         "data N: int\ndata y: real[N]\nmu ~ Normal(0, 1)\nm: real[N]\n"
         "plate n in 1..N {\n  z[n] ~ Bernoulli(0.5)\n  m[n] = mu + z[n]\n"
         "  y[n] ~ Normal(sum(m[1..n]), 1)\n}\n"},
        {"continuous site after", "c ~ Bernoulli(0.3)\nmu ~ Normal(c, 1)\nx ~ Normal(mu, 1)\n"},
        {"unbounded support", "mu ~ Normal(0, 1)\nk ~ Poisson(3)\nx ~ Normal(k + mu, 1)\n"},
        {"too many passes",
         "mu ~ Normal(0, 1)\nz: int[13]\nfor i in 1..13 {\n  z[i] ~ Bernoulli(0.5)\n}\n"
         "x ~ Normal(mu, 1)\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Fixture fx;
        fprintf(stderr, "(expected error for '%s':)\n", bad[i].what);
        CHECK(fixture_open(&fx, "bad.cm", bad[i].text, mix_sets, 11) != 0 && fx.prog, "%s is refused",
              bad[i].what);
        fixture_close(&fx);
    }
}

int main(void)
{
    test_tape_local();
    test_mixture();
    test_global_sites();
    test_draws();
    test_errors();
    return check_done();
}
