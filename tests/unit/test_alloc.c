/*
 * test_alloc.c - the hot path allocates nothing: after the trace, an
 * evaluation of the log density and its gradient makes no call to malloc,
 * calloc or realloc.  The allocator is wrapped by defining it here (glibc's
 * __libc_* entry points do the work); under a sanitizer, which owns the
 * allocator, the test is skipped.  Eight schools runs twice: interpreted,
 * and as native code (runtime/native.h, compiled before the count); a
 * model whose control flow reads a parameter is re-run at every
 * evaluation, and that allocates nothing either once it has run once.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"
#include "native.h"

#if defined(__SANITIZE_ADDRESS__)
#define CM_SKIP_ALLOC_COUNT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CM_SKIP_ALLOC_COUNT 1
#endif
#endif

#ifndef CM_SKIP_ALLOC_COUNT
static long n_alloc;
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
void *malloc(size_t n) { n_alloc++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { n_alloc++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { n_alloc++; return __libc_realloc(p, n); }
#endif

static void check_model(const char *label, const char *text, const char *datafile, int dynamic)
{
    int native = native_mode() == JIT_ON;
    Source src = {label, text, strlen(text)};
    Diag d;
    diag_init(&d, &src);
    Program *p = cm_compile(&src, &d);
    CHECK(p != NULL, "%s compiles", label);
    if (!p)
        return;
    DataSet data;
    data_init(&data);
    char err[1024];
    if (datafile && data_load_file(&data, datafile, err, sizeof err) != 0) {
        CHECK(0, "%s: %s", label, err);
        return;
    }
    Model m;
    CHECK(model_init(&m, p, &data, NULL, 1) == 0, "%s traces", label);
    if (native)
        CHECK(m.native && native_function(m.native), "%s: runs as native code", label);
    double *q = calloc((size_t)m.dim + 1, sizeof(double)), *g = calloc((size_t)m.dim + 1, sizeof(double));
    for (int i = 0; i < m.dim; i++)
        q[i] = 0.1 * (i % 7) - 0.3;
    model_logp_grad(&m, q, g); /* the first call may size things */
#ifndef CM_SKIP_ALLOC_COUNT
    long before = n_alloc;
    for (int k = 0; k < 100; k++) {
        q[k % m.dim] += 0.01;
        model_logp_grad(&m, q, g);
    }
    CHECK(n_alloc == before, "%s: %ld allocations in 100 gradient evaluations", label, n_alloc - before);
#endif
    CHECK(m.tape.dynamic == dynamic, "%s: the tape is %s", label,
          dynamic ? "re-traced (control flow on a parameter)" : "replayed, not re-traced");
    free(q);
    free(g);
    model_free(&m);
    data_free(&data);
    program_free(p);
}

static const char eight_schools[] =
    "data J: int\ndata y: real[J]\ndata sigma: real[J]\nmu ~ Normal(0, 5)\n"
    "tau ~ HalfCauchy(5)\nplate j in 1..J {\n  eta[j] ~ Normal(0, 1)\n"
    "  theta[j] = mu + tau * eta[j]\n  y[j] ~ Normal(theta[j], sigma[j])\n}\n";

int main(void)
{
    native_set_mode(JIT_OFF);
    check_model("eight_schools.cm", eight_schools, "examples/eight_schools.json", 0);
    check_model("logistic.cm",
                "data N: int\ndata K: int\ndata X: real[N, K]\ndata y: int[N]\nalpha ~ Normal(0, 5)\n"
                "beta: real[K] ~ Normal(0, 1)\ny ~ BernoulliLogit(alpha + X * beta)\n",
                "examples/logistic_regression.json", 0);
    check_model("constrained.cm",
                "mu: ordered[3] ~ Normal(0, 2)\np: simplex[3] ~ Dirichlet([1.0, 2.0, 3.0])\n"
                "s ~ HalfNormal(1)\nb ~ Uniform(0, 1 - 0.5 * sigmoid(s))\n"
                "z ~ Normal(0, 1) T[-1, 2]\nfactor(log_sum_exp(mu) + dot(p, mu))\n",
                NULL, 0);
    /* latent discrete assignments summed out: unrolled into the tape once */
    check_model("mixture_assignments.cm",
                "data N: int\ndata y: real[N]\nmu: ordered[2] ~ Normal(0, 5)\n"
                "sigma: real[2] ~ HalfNormal(2)\ntheta ~ Beta(2, 2)\nplate n in 1..N {\n"
                "  z[n] ~ Bernoulli(theta)\n  y[n] ~ Normal(mu[2 - z[n]], sigma[2 - z[n]])\n}\n",
                "examples/discrete/mixture_assignments.json", 0);
    /* control flow on a parameter: re-run at every evaluation, on frames,
       index scratch and a tape that keep their memory from run to run */
    check_model("dynamic.cm",
                "fn sq(a: real) -> real {\n  if a > 1 {\n    return a * a\n  }\n  return a\n}\n"
                "x ~ Normal(0, 1)\nv: real[5] ~ Normal(0, 1)\nm = 0.0\nif x > 0 {\n"
                "  m = sq(x) + sum(softmax(v[2..5]))\n}\ny ~ Normal(m, 1)\nfor i in 1..20 {\n"
                "  z[i] ~ Normal(sq(x * m) + v[1 + i % 5], 1)\n}\n",
                NULL, 1);
    native_set_mode(JIT_ON);
    check_model("eight_schools.cm (native)", eight_schools, "examples/eight_schools.json", 0);
    return check_done();
}
