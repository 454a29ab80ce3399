/*
 * sampler_internal.h - the pieces sampler_run() is assembled from.
 *
 * Shared by metric.c (the kinetic energy), hmc.c (phase-space points, the
 * leapfrog integrator, static HMC and the step-size heuristic), nuts.c (the
 * NUTS transition), adapt.c (dual averaging, adaptation windows, Welford
 * estimators) and sampler.c (the driver).  Not part of the public API: the
 * unit test includes it to check each piece on its own.
 *
 * Ownership is simple: every struct here is initialised by a *_init or
 * *_new that allocates all its buffers, and released by a *_free; nothing in
 * between allocates.
 */
#ifndef CM_SAMPLER_INTERNAL_H
#define CM_SAMPLER_INTERNAL_H

#include <stddef.h>
#include <gsl/gsl_rng.h>

#include "sampler.h"

/* ---- metric.c: the Euclidean metric M, stored as its inverse -------------- */

typedef struct {
    MetricKind kind;
    int dim;
    double *inv;        /* diag: dim values; dense: dim*dim row-major; unit: ones */
    double *inv_sqrt_r; /* diag: 1/sqrt(inv), the momentum scale */
    double *chol;       /* dense: lower Cholesky factor L of inv (row-major) */
} Metric;

/* Allocate a metric of the given kind, set to the identity. -1: no memory. */
int metric_init(Metric *m, MetricKind kind, int dim);
void metric_free(Metric *m);
/* Replace the inverse metric (diag: dim, dense: dim*dim values; ignored for
 * unit).  -1 (metric unchanged) if a value is not finite, a diagonal entry
 * is not positive, or a dense matrix is not symmetric positive definite. */
int metric_set(Metric *m, const double *inv);
/* p ~ N(0, M): diag p_i = z_i / sqrt(inv_i); dense p = L^{-T} z. */
void metric_sample_p(const Metric *m, gsl_rng *rng, double *p);
/* p_sharp = M^{-1} p, the velocity dtau/dp. */
void metric_p_sharp(const Metric *m, const double *p, double *p_sharp);
/* Copy the inverse metric out (unit: ones; diag: dim; dense: dim*dim). */
void metric_copy_inv(const Metric *m, double *out);
/* Number of values metric_copy_inv writes. */
size_t metric_inv_size(MetricKind kind, int dim);

/* ---- hmc.c: phase-space points and Hamiltonian dynamics ------------------ */

typedef struct {
    double *q, *p, *g;  /* position, momentum, gradient of log density at q */
    double lp;          /* log density at q (may be non-finite) */
} HmcPoint;

typedef struct {
    const SamplerTarget *target;
    int dim;
    Metric metric;
    gsl_rng *rng;
    double *p_sharp;    /* dim scratch: M^{-1} p */
    long n_grad;        /* gradient evaluations so far */
} Hamiltonian;

int hmc_point_init(HmcPoint *z, int dim);
void hmc_point_free(HmcPoint *z);
void hmc_point_copy(HmcPoint *dst, const HmcPoint *src, int dim);

/* Evaluate lp and g at z->q. */
void hmc_evaluate(Hamiltonian *h, HmcPoint *z);
/* H = -lp + p.M^{-1}p / 2, writing M^{-1}p into p_sharp; +inf wherever lp
 * is not finite or H would be NaN. */
double hmc_energy(const Hamiltonian *h, const HmcPoint *z, double *p_sharp);
/* One leapfrog step of size eps (negative: backwards in time). */
void hmc_leapfrog(Hamiltonian *h, HmcPoint *z, double eps);

/* Stan's step-size heuristic: from z (p resampled each try), double or halve
 * *eps until the one-step acceptance crosses 0.8.  z is restored.  0, or -1
 * with a message when the search runs away (improper posterior or no
 * usable step size).  `scratch` is a point of the same dimension. */
int hmc_init_stepsize(Hamiltonian *h, HmcPoint *z, HmcPoint *scratch,
                      double *eps, char *msg, size_t len);

/* Static HMC: L leapfrog steps from z and a Metropolis accept; z is the new
 * state.  `start` is a scratch point. */
void hmc_static_transition(Hamiltonian *h, HmcPoint *z, HmcPoint *start,
                           double eps, int L, SamplerStats *st);

/* ---- nuts.c: the No-U-Turn sampler -------------------------------------- */

typedef struct NutsWork NutsWork;

NutsWork *nuts_work_new(int dim, int max_depth);
void nuts_work_free(NutsWork *w);
/* One multinomial NUTS transition from z (q, g, lp valid); z becomes the
 * selected state. */
void nuts_transition(NutsWork *w, Hamiltonian *h, HmcPoint *z, double eps,
                     SamplerStats *st);

/* ---- adapt.c: warm-up adaptation ---------------------------------------- */

/* Nesterov dual averaging of log step size (Hoffman & Gelman 2014). */
typedef struct {
    double mu, delta, gamma, kappa, t0;
    double counter, s_bar, x_bar;
} DualAveraging;

void adapt_da_init(DualAveraging *da, double delta, double gamma,
                   double kappa, double t0, double eps0);
void adapt_da_restart(DualAveraging *da, double eps);  /* mu = log(10 eps) */
void adapt_da_learn(DualAveraging *da, double *eps, double accept_stat);
double adapt_da_final(const DualAveraging *da);        /* exp(x_bar) */

/* Stan's windowed adaptation schedule. */
typedef struct {
    int enabled;        /* 0 when warmup < 20: only the step size adapts */
    int fallback;       /* 1 when the 15% / 75% / 10% partition was used */
    unsigned num_warmup, init_buffer, term_buffer, base_window;
    unsigned counter, next_window, window_size;
} AdaptWindows;

void adapt_windows_init(AdaptWindows *w, int num_warmup, int init_buffer,
                        int term_buffer, int base_window);
int adapt_windows_in_window(const AdaptWindows *w);
int adapt_windows_end_window(const AdaptWindows *w);
void adapt_windows_compute_next(AdaptWindows *w);

/* Welford mean and (co)variance of the warm-up draws in a slow window. */
typedef struct {
    MetricKind kind;    /* METRIC_DIAG or METRIC_DENSE */
    int dim;
    long n;
    double *mean, *m2, *delta;  /* m2: dim (diag) or dim*dim (dense) */
} Welford;

int adapt_welford_init(Welford *e, MetricKind kind, int dim);
void adapt_welford_free(Welford *e);
void adapt_welford_restart(Welford *e);
void adapt_welford_add(Welford *e, const double *q);
/* Stan's regularised estimate: (n/(n+5)) var + 1e-3 (5/(n+5)) (diag), the
 * same with cov and I (dense).  0 if n < 2 (nothing written). */
int adapt_welford_regularised(const Welford *e, double *inv);

/* Windows and estimator together, as Stan's var/covar_adaptation. */
typedef struct {
    AdaptWindows win;
    Welford est;
} MetricAdaptation;

int adapt_metric_init(MetricAdaptation *a, MetricKind kind, int dim,
                      int num_warmup, int init_buffer, int term_buffer,
                      int base_window);
void adapt_metric_free(MetricAdaptation *a);
/* Feed the draw after one warm-up iteration.  Returns 1 when a window just
 * closed and inv[] holds the new regularised inverse metric, else 0. */
int adapt_metric_learn(MetricAdaptation *a, const double *q, double *inv);

#endif
