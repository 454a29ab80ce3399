/*
 * cmgrad.c - cm's log density and gradient alone, timed as gradbench.c
 * times the hand-written ones.
 *
 * `make bench` compares cm with hand-written C in two ways.  The figure it
 * has always printed divides a static-HMC run's CPU time by its gradient
 * count, so it charges cm for the leapfrog steps, the tree's bookkeeping and
 * the parameter copies of the sampler as well; the hand-written figure has
 * none of that.  This program removes the difference: it compiles a model
 * with libcm, traces it (model_init, as every engine does), and then calls
 * model_logp_grad in a loop at the same fixed point gradbench uses,
 * q[i] = 0.3 sin(1.7 i + 0.4), so both sides do exactly one log density and
 * gradient per evaluation on the same unconstrained parameters.
 *
 *   cmgrad MODEL.cm DATA.json [--seconds S] [--evals N] [--jit off|on]
 *
 * prints one line in gradbench's format:
 * `cm MODEL evals N cpu_s S ns_per_grad T lp L`.  With --evals N the count
 * is fixed (for callgrind); otherwise it doubles until the loop fills
 * --seconds of process CPU time (default 1).  --jit on times the native
 * tier (runtime/native.h; compiled, or loaded from the cache, before the
 * loop), --jit off (the default) the interpreter.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compile.h"
#include "model.h"
#include "native.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int usage(void)
{
    fprintf(stderr, "usage: cmgrad MODEL.cm DATA.json [--seconds S] [--evals N] [--jit off|on]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    double seconds = 1;
    long fixed = 0;
    int jit = JIT_OFF;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--evals") && i + 1 < argc)
            fixed = atol(argv[++i]);
        else if (!strcmp(argv[i], "--jit") && i + 1 < argc && native_parse_mode(argv[i + 1]) >= 0)
            jit = native_parse_mode(argv[++i]);
        else
            return usage();
    }
    Source src;
    if (source_read(&src, argv[1]) != 0) {
        fprintf(stderr, "cmgrad: %s: cannot read\n", argv[1]);
        return 2;
    }
    Diag d;
    diag_init(&d, &src);
    Program *p = cm_compile(&src, &d);
    if (!p)
        return 2;
    DataSet data;
    data_init(&data);
    char err[1024];
    if (data_load_file(&data, argv[2], err, sizeof err) != 0) {
        fprintf(stderr, "cmgrad: %s\n", err);
        return 2;
    }
    native_set_mode((JitMode)jit);
    Model m;
    if (model_init(&m, p, &data, NULL, 1) != 0)
        return 2;
    double *q = calloc((size_t)m.dim + 1, sizeof(double)), *g = calloc((size_t)m.dim + 1, sizeof(double));
    for (int i = 0; i < m.dim; i++)
        q[i] = 0.3 * sin(1.7 * i + 0.4);
    double lp = model_logp_grad(&m, q, g);
    long n = fixed > 0 ? fixed : 1000;
    double t;
    for (;;) {
        double t0 = cpu_seconds();
        for (long k = 0; k < n; k++)
            lp = model_logp_grad(&m, q, g);
        t = cpu_seconds() - t0;
        if (fixed > 0 || t >= seconds)
            break;
        n *= 2;
    }
    const char *base = strrchr(argv[1], '/');
    printf("cm %s evals %ld cpu_s %.6f ns_per_grad %.2f lp %.10g\n", base ? base + 1 : argv[1], n, t,
           1e9 * t / (double)n, lp);
    free(q);
    free(g);
    model_free(&m);
    data_free(&data);
    program_free(p);
    source_free(&src);
    return 0;
}
