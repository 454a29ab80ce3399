/*
 * sampler.h - NUTS and static HMC with Stan's warm-up adaptation.
 *
 * The samplers see the model only through a SamplerTarget: a dimension and
 * a function that returns the log density at an unconstrained point and
 * writes its gradient.  They know nothing of tapes, sites or handlers, so
 * they are tested on plain C targets and the runtime plugs its autodiff
 * tape in behind the same pointer.
 *
 * One call of sampler_run() runs one chain from initialisation through
 * warm-up to the last draw, with its own gsl_rng.  The code keeps no global
 * or static mutable state: chains run on parallel threads, each with its own
 * target context and RNG.  Every work buffer is allocated once at the start
 * of the run; an iteration allocates nothing.
 *
 * The algorithms are Stan's (2.3x): multinomial NUTS with the generalised
 * no-U-turn criterion checked across merged subtrees, static HMC, dual
 * averaging of the step size, and windowed estimation of a diagonal or
 * dense inverse metric.  docs/inference.md describes them and every option.
 *
 * GSL's default error handler aborts the process; a caller that may see a
 * user-supplied inverse metric that is not positive definite must install
 * gsl_set_error_handler_off() once, before starting any chain (the handler
 * is process-wide, so the samplers cannot switch it per thread).
 */
#ifndef CM_SAMPLER_H
#define CM_SAMPLER_H

#include <stddef.h>
#include <gsl/gsl_rng.h>

typedef struct {
    int dim;
    /* log density (up to a constant) at unconstrained q, gradient into
     * grad[dim].  Returns a non-finite value (NAN or -INFINITY) where the
     * density is not defined. */
    double (*logp_grad)(void *ctx, const double *q, double *grad);
    void *ctx;
} SamplerTarget;

typedef enum { METRIC_UNIT, METRIC_DIAG, METRIC_DENSE } MetricKind;

typedef struct {
    int warmup, samples, thin;          /* defaults 1000, 1000, 1 */
    int max_depth;                      /* 10 (NUTS tree depth, 1..30) */
    double adapt_delta;                 /* 0.8, target acceptance, in (0, 1) */
    MetricKind metric;                  /* METRIC_DIAG */
    int adapt;                          /* 1; 0 = no adaptation at all (fixed
                                           step size, unit or given metric) */
    double step_size;                   /* initial step size, 1 */
    double init_radius;                 /* R: initial values uniform(-R, R);
                                           2; 0 means all zeros */
    const double *init;                 /* or explicit initial q (NULL); a NAN
                                           element is drawn as with init_radius */
    int hmc_steps;                      /* 0 = NUTS; L > 0 = static HMC with L
                                           leapfrog steps */
    volatile int *interrupt;            /* if non-NULL and set, stop after the
                                           current iteration */
    /* Expert options, named and defaulted as CmdStan's `adapt` group. */
    const double *inv_metric;           /* initial inverse metric (NULL =
                                           identity); diag: dim values, dense:
                                           dim*dim row-major, symmetric p.d. */
    double adapt_gamma;                 /* 0.05, dual-averaging regularisation */
    double adapt_kappa;                 /* 0.75, dual-averaging relaxation */
    double adapt_t0;                    /* 10, dual-averaging iteration offset */
    int adapt_init_buffer;              /* 75, initial fast window */
    int adapt_term_buffer;              /* 50, final fast window */
    int adapt_window;                   /* 25, first slow window */
} SamplerConfig;
void sampler_config_default(SamplerConfig *c);

/* 0 if the configuration is usable for a target of `dim` dimensions; else
 * -1 with a one-line message naming the option at fault in msg[len]. */
int sampler_config_check(const SamplerConfig *c, int dim, char *msg, size_t len);

typedef struct {
    double lp, accept_stat, step_size, energy;
    int treedepth, n_leapfrog, divergent;
} SamplerStats;

/* Called for each iteration whose index within its phase (0-based `iter`;
 * warm-up and sampling count separately, `warmup` says which) is a multiple
 * of thin, with the current q.  Return nonzero to stop early (the run then
 * returns SAMPLER_STOPPED). */
typedef int (*SamplerDrawFn)(void *user, int iter, int warmup,
                             const SamplerStats *st, const double *q);

typedef struct {
    double step_size;            /* after adaptation */
    double *inv_metric;          /* unit, diag: dim values; dense: dim*dim
                                    row-major; owned by result */
    MetricKind metric;           /* METRIC_UNIT when adapt = 0 and no
                                    inv_metric was given */
    long n_grad_warmup, n_grad_sampling;     /* gradient evaluations; warm-up
                                                includes initialisation */
    double seconds_warmup, seconds_sampling; /* CPU time of this thread */
    int n_divergent, n_max_depth;            /* in sampling (every iteration,
                                                thinned or not) */
    double *bad_q;               /* on SAMPLER_INIT_FAILED: the last q tried
                                    (dim values), else NULL */
    int n_init_tries;            /* initial points tried */
    char message[320];           /* why, for any status but SAMPLER_OK and
                                    SAMPLER_STOPPED; else "" */
} SamplerResult;
void sampler_result_free(SamplerResult *r);

enum {
    SAMPLER_OK = 0,
    SAMPLER_INIT_FAILED = 1,     /* no finite log density and gradient found */
    SAMPLER_STOPPED = 2,         /* interrupt flag or on_draw asked to stop */
    SAMPLER_BAD_CONFIG = 3,      /* sampler_config_check() failed; message */
    SAMPLER_ERROR = 4            /* step-size search or metric adaptation
                                    failed (improper posterior, overflow,
                                    metric not p.d.), or out of memory */
};

/* Run one chain with its own RNG (a gsl_rng*, caller-owned).  Allocates its
 * work buffers once at start; no allocation per iteration.  After warm-up
 * with adaptation (adapt = 1 and warmup > 0) `on_adapted(user, result)` is
 * called (may be NULL) so the caller can write CmdStan's adaptation lines.
 * `out` is always filled (free it with sampler_result_free). */
int sampler_run(const SamplerTarget *t, const SamplerConfig *c, gsl_rng *rng,
                SamplerDrawFn on_draw,
                void (*on_adapted)(void *user, const SamplerResult *r),
                void *user, SamplerResult *out);

/* CmdStan's name of a metric: "unit_e", "diag_e", "dense_e". */
const char *sampler_metric_name(MetricKind m);

#endif
