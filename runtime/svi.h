/*
 * svi.h - stochastic variational inference with autoguides (--infer svi).
 *
 * SVI fits a distribution q (the guide) on the model's unconstrained
 * parameter space by maximising the evidence lower bound
 *
 *     ELBO(q) = E_q[log p(z)] + H(q),
 *
 * where log p is the model's log density on the unconstrained scale
 * (log-Jacobians of the bijectors included, exactly what NUTS sees) and H
 * is the guide's entropy, in closed form.  Gradients use the
 * reparameterisation trick: z = loc + L eps with eps ~ N(0, I), so
 * d/dloc = E[grad log p(z)] and d/dL = E[grad log p(z) eps^T] + dH/dL.
 *
 * The guides are Pyro's autoguides, all Gaussian on the unconstrained
 * scale: mean-field (normal), full rank with a Cholesky factor (mvn), low
 * rank plus diagonal (lowrank:R), a point mass at the mode (delta), and the
 * Laplace approximation at the mode (laplace).  Every scale on a diagonal
 * is stored as its logarithm (scale = exp(param)), so the optimiser works
 * on an unconstrained vector.
 *
 * The pieces are layered so each can be tested alone on a plain C target
 * (a SamplerTarget, the interface NUTS uses):
 *   svi_guide.c   the guides: parameter layout, draws, log q, entropy and
 *                 the gradient of the ELBO with respect to the parameters;
 *   svi_optim.c   Adam, ClippedAdam and SGD with momentum on a flat vector;
 *   svi.c         the fitting loop, the convergence rule, initialisation,
 *                 the mode polish and the Laplace Hessian;
 *   infer_svi.c   the engine behind cmrun: output CSV, ELBO trace, the
 *                 parameter file (save and reload) and the summary.
 * docs/svi.md is the user's guide.
 */
#ifndef CM_SVI_H
#define CM_SVI_H

#include <stddef.h>
#include <stdio.h>

#include <gsl/gsl_matrix.h>
#include <gsl/gsl_rng.h>

#include "infer.h"
#include "sampler.h"

/* ---- options (what cmrun's flags set) ----------------------------------- */

typedef enum { SVI_NORMAL, SVI_MVN, SVI_LOWRANK, SVI_DELTA, SVI_LAPLACE } SviGuideKind;
typedef enum { SVI_ADAM, SVI_CLIPPED_ADAM, SVI_SGD } SviOptimKind;

typedef struct {
    SviGuideKind guide;      /* --guide normal|mvn|lowrank:R|delta|laplace (normal) */
    int rank;                /* R of lowrank:R (0 otherwise) */
    SviOptimKind optim;      /* --optim adam|clipped-adam|sgd (adam) */
    int steps;               /* --steps N: optimisation steps (5000) */
    double lr;               /* --lr X: learning rate (0.01) */
    double lr_decay;         /* --lr-decay X: lr_t = lr * X^t, X in (0, 1] (1) */
    int particles;           /* --particles N: draws per ELBO estimate (1) */
    double tol;              /* --tol X: convergence tolerance, 0 = run every step (1e-4) */
    int samples;             /* draws from the fitted guide (1000) */
    double init_scale;       /* initial guide scale where no curvature is known (0.1, as Pyro) */
    int init_mode;           /* --guide-init mode|zero: start at the mode (1, default) or at
                                0 / uniform(-R, R) points as NUTS starts (0) */
    int init_mode_given;     /* --guide-init was on the command line (autoguides only) */
    const char *elbo_out;    /* --elbo-out FILE.csv: step, elbo, smoothed elbo (NULL) */
    const char *params_out;  /* --params-out FILE.json: the fitted guide (NULL) */
    const char *init_params; /* --init-params FILE.json: start from a saved guide (NULL) */
    const char *flag_seen;   /* first SVI flag svi_parse_flag() took, for "applies to
                                --infer svi only" messages (NULL) */
} SviOptions;

void svi_options_default(SviOptions *s);

/* Parse one command-line flag that belongs to SVI (--guide, --optim, --lr,
 * --lr-decay, --particles, --tol, --elbo-out, --params-out, --init-params,
 * --guide-init;
 * --steps and --samples stay with cmrun since other engines share them).
 * Returns 1 when the flag was SVI's and its value was stored, 0 when the
 * flag is not SVI's, -1 with a message naming the flag in err. */
int svi_parse_flag(SviOptions *s, const char *flag, const char *value, char *err, size_t errlen);

/* "normal", "mvn", "lowrank:R", "delta", "laplace" -> kind and rank.
 * Returns 0, or -1 with a message in err. */
int svi_parse_guide(const char *text, SviGuideKind *kind, int *rank, char *err, size_t errlen);
const char *svi_guide_name(SviGuideKind k);
const char *svi_optim_name(SviOptimKind k);

/* Cross-field checks that need the model's dimension (lowrank rank <= dim).
 * Returns 0 or -1 with a message in err. */
int svi_options_check(const SviOptions *s, int dim, char *err, size_t errlen);

/* The engine: fit, draw, write, summarise.  Returns the process exit
 * status: 0; 1 when the fit failed (no finite starting point, divergence);
 * 2 for a user error already reported; 130 after Ctrl-C (the guide fitted
 * so far is still drawn from and written). */
int infer_svi(const InferOptions *o, const SviOptions *s);

/* ---- guides (svi_guide.c) ---------------------------------------------- */

/* The shape of a guide.  delta is SVI_FORM_POINT; laplace is fitted as a
 * point and then becomes SVI_FORM_TRIL. */
typedef enum { SVI_FORM_POINT, SVI_FORM_DIAG, SVI_FORM_TRIL, SVI_FORM_LOWRANK } SviForm;

/* A guide's parameters live in one flat vector theta[nparams]:
 *   loc          [dim]                          every form
 *   log_scale    [dim]                          DIAG, TRIL, LOWRANK: s, scale = exp(s)
 *   unit factor  [dim*(dim-1)/2]                TRIL: U[i][j], j < i, row by row
 *   cov_factor   [dim*rank]                     LOWRANK: W, row-major
 * with, writing D = diag(exp(s)),
 *   DIAG     Sigma = D^2
 *   TRIL     Sigma = L L^T,  L = D U, U unit lower triangular (Pyro's
 *            AutoMultivariateNormal parameterisation)
 *   LOWRANK  Sigma = D (W W^T + I) D (Pyro's AutoLowRankMultivariateNormal)
 * so the optimiser sees one vector and the gradient has the same layout.
 * Everything a step needs is allocated by svi_guide_init(). */
typedef struct {
    SviForm form;
    int dim, rank;
    int nparams;
    double *theta;
    /* derived by svi_guide_prepare() after every change of theta */
    double *scale;           /* exp(log_scale) [dim] */
    double log_det;          /* log det of the covariance (not for POINT) */
    /* the last draw's standard normals: dim (+ rank for LOWRANK: e1 first) */
    double *eps;
    /* LOWRANK: the Cholesky factor of C = I + W^T W, and M = W C^-1 */
    gsl_matrix *cap;
    double *cap_m;           /* [dim*rank] */
    double *work;            /* [dim + rank] */
    /* per-coordinate width the optimiser moves loc in (NULL: plain steps);
     * set by svi_init_at_mode(), saved and reloaded with the parameters */
    double *loc_step;
} SviGuide;

SviForm svi_guide_form(SviGuideKind k);
const char *svi_form_name(SviForm f);
/* Returns 0, or -1 when out of memory. */
int svi_guide_init(SviGuide *g, SviForm form, int dim, int rank);
void svi_guide_free(SviGuide *g);
/* loc := loc0 (NULL: zeros), diagonal scales := init_scale, U := I,
 * W entries ~ N(0, 1 / rank) from rng (relative to the scales, as Pyro). */
void svi_guide_reset(SviGuide *g, const double *loc0, double init_scale, gsl_rng *rng);
/* Recompute the derived quantities from theta.  Returns 0, or -1 when the
 * parameters are not finite. */
int svi_guide_prepare(SviGuide *g);
/* One draw z (dim) = loc + scale-factor * eps; keeps eps for the gradient. */
void svi_guide_sample(SviGuide *g, gsl_rng *rng, double *z);
/* log q(z) on the unconstrained scale (0 for a point mass). */
double svi_guide_log_q(SviGuide *g, const double *z);
/* log q of the last draw z, from its eps where that is cheaper. */
double svi_guide_log_q_draw(SviGuide *g, const double *z);
/* Closed-form entropy H(q) (0 for a point mass). */
double svi_guide_entropy(const SviGuide *g);
/* grad += w * d/dtheta log p(z(theta, eps)) for the last draw, given
 * glogp = grad log p at that draw (the pathwise, reparameterised term). */
void svi_guide_add_path_grad(const SviGuide *g, const double *glogp, double w, double *grad);
/* grad += dH/dtheta. */
void svi_guide_add_entropy_grad(const SviGuide *g, double *grad);
/* Marginal sd of coordinate i (0 for a point mass). */
double svi_guide_marginal_sd(const SviGuide *g, int i);
/* Row i of the guide's covariance factor in natural units: TRIL, L = D U
 * (dim values, zeros above the diagonal); LOWRANK, D W (rank values);
 * Sigma = L L^T, or (D W)(D W)^T + D^2. */
void svi_guide_cov_row_factor(const SviGuide *g, int i, double *row);
/* Set g from natural parameters: loc; scale (DIAG: sd, LOWRANK: the
 * diagonal D); factor (TRIL: L, dim*dim row-major lower triangular;
 * LOWRANK: D W, dim*rank row-major).  Returns 0, or -1 when a scale is not
 * positive and finite. */
int svi_guide_set_factor(SviGuide *g, const double *loc, const double *scale, const double *factor);
/* Turn g (TRIL) into N(loc, P^-1) for a symmetric precision P (dim*dim,
 * row-major, overwritten).  Returns 0, or -1 when P is not positive
 * definite. */
int svi_guide_set_precision(SviGuide *g, const double *loc, double *prec);

/* ---- optimisers (svi_optim.c) ------------------------------------------ */

typedef struct {
    SviOptimKind kind;
    int n;
    double lr, decay;
    double lr_now;           /* learning rate of the last step */
    long t;                  /* steps taken */
    double *m, *v;           /* Adam moments, SGD velocity (m) */
    const double *step_scale;/* per-parameter step multipliers, or NULL (set by the caller) */
} SviOptim;

#define SVI_CLIP_NORM 10.0   /* ClippedAdam's gradient clipping */

/* Returns 0, or -1 when out of memory. */
int svi_optim_init(SviOptim *o, SviOptimKind kind, int n, double lr, double decay);
void svi_optim_free(SviOptim *o);
/* One ascent step on theta[n] along grad[n] (clipped-adam may rescale
 * grad in place). */
void svi_optim_step(SviOptim *o, double *theta, double *grad);

/* ---- the fitting loop (svi.c) ------------------------------------------ */

#define SVI_WINDOW 100       /* steps in the smoothing and convergence windows */

enum { SVI_OK = 0, SVI_NO_INIT, SVI_DIVERGED, SVI_NOT_FINITE, SVI_NOT_PD, SVI_NOMEM };

typedef struct {
    int steps;               /* steps run */
    int converged;           /* the tolerance rule fired */
    int interrupted;
    double elbo;             /* smoothed ELBO at the end (window mean) */
    double rel_change;       /* last smoothed relative change (NAN before 2 windows) */
    long n_grad;             /* log-density gradient evaluations */
    int skipped;             /* steps where no particle had a finite log density */
    double seconds;          /* wall time of the optimisation */
    double cpu_seconds;      /* process CPU time of the optimisation */
    int status;              /* SVI_OK or an SVI_* failure */
    int bad_coord;           /* with SVI_NOT_FINITE: a coordinate whose gradient was not finite */
    char message[512];
} SviResult;

/* Called after every step with the step's ELBO estimate and the smoothed
 * ELBO; returns nonzero to stop (e.g. an I/O error). */
typedef int (*SviStepHook)(void *user, int step, double elbo, double smoothed);

/* The smoothed ELBO and the convergence rule (svi.c), shared by svi_fit
 * and svi_user_fit. */
typedef struct {
    double e[SVI_WINDOW];    /* last step estimates (ring) */
    double s[SVI_WINDOW];    /* smoothed values of the last steps (ring) */
    long n;                  /* estimates recorded */
    double sum;
    int below;               /* consecutive steps with rel < tol */
} SviSmoother;
/* Record one estimate; returns the smoothed ELBO, sets *rel (NAN until the
 * window one back was full). */
double svi_smoother_add(SviSmoother *sm, double elbo, double tol, double *rel);

/* The end of a fitting step, shared by the autoguides' and the user guides'
 * loops: the optimiser's move of theta along grad, the smoothed ELBO and
 * relative change into res, the hook, the convergence rule.  Returns 1
 * when the fit stops here (the hook asked, or the rule fired). */
int svi_step_finish(SviOptim *opt, double *theta, double *grad, SviSmoother *sm, double elbo,
                    const SviOptions *s, SviStepHook hook, void *user, int step, SviResult *res);
/* A step whose ELBO estimate is not finite is skipped (counted, shown to
 * the hook).  Returns 0 to go on, 1 when the hook asks to stop, and 2 when
 * this was the 100th such step in a row: the fit has failed, and the caller
 * says why in res->message. */
int svi_step_skip(SviResult *res, SviStepHook hook, void *user, int step, double elbo,
                  int *skipped_run);

/* Find a starting loc: zeros, else uniform(-radius, radius) points, up to
 * 100 tries, where log p and its gradient are finite.  Returns 0, or -1
 * with the last point tried left in q. */
int svi_find_init(const SamplerTarget *t, gsl_rng *rng, double radius, double *q, double *grad);

/* Fit g (already reset or loaded) by s->steps steps of s->optim, stopping
 * early under the tolerance rule (see svi.c) or when *interrupt is set.
 * Returns res->status. */
int svi_fit(const SamplerTarget *t, SviGuide *g, const SviOptions *s, gsl_rng *rng,
            SviStepHook hook, void *user, volatile int *interrupt, SviResult *res);

/* Polish the mode of log p from q with GSL's BFGS (vector_bfgs2), at most
 * max_iter iterations.  q is replaced only by a better point; returns the
 * number of iterations, the log density before and after in *lp0, *lp1,
 * and in *converged whether a mode was reached: the gradient test passed
 * (tolerance 1e-9 max(1, |log p at q|)), or the line search could improve
 * no further after the gradient had shrunk 1000-fold; not when the cap was
 * hit or the density ran off without bound. */
int svi_polish_mode(const SamplerTarget *t, double *q, int max_iter, double *lp0, double *lp1,
                    int *converged);

/* Start g at the mode when BFGS from q reaches one within 2000 iterations:
 * loc := the mode, and each coordinate's scale := 1 / sqrt(-d2 log p / dq_i^2)
 * there (central differences; init_scale where the curvature is not
 * negative), which is the mean-field optimum for a Gaussian target; a
 * full-rank guide starts as the whole Laplace approximation when the
 * negative Hessian is positive definite.  Otherwise g is reset at q with
 * init_scale.  Returns 1 when the mode was used, else 0; *lp_mode gets log p
 * at the mode (NAN when none was found). */
int svi_init_at_mode(const SamplerTarget *t, SviGuide *g, const double *q, double init_scale,
                     gsl_rng *rng, double *lp_mode);

/* Negative Hessian of log p at q by central differences of the gradient,
 * symmetrised, into h (dim*dim row-major).  Returns 0, or -1 when a
 * gradient was not finite. */
int svi_neg_hessian(const SamplerTarget *t, const double *q, double *h);

/* The Laplace approximation: g (a TRIL guide) := N(mode, (-H)^-1) with H
 * the Hessian of log p at mode.  Returns SVI_OK; SVI_NOT_FINITE when a
 * gradient near the mode is not finite; SVI_NOT_PD when -H is not positive
 * definite, with *bad_coord a coordinate whose curvature is not negative
 * (or -1 when no diagonal entry shows it). */
int svi_laplace(const SamplerTarget *t, const double *mode, SviGuide *g, int *bad_coord);

#endif
