/*
 * svi_user.h - SVI with a guide written in cm (`guide { ... }` or
 * --guide-file): the model p(x, z) and the guide q(z; theta) are two
 * Programs (compiler/compile.h) run one after the other on one tape.
 *
 * One ELBO particle: reset the tape; run the guide, whose `param` sites
 * take tape inputs theta (positive = exp(u), unit = sigmoid(u), simplex =
 * softmax(u): plain tape operations, no Jacobian, since theta are
 * parameters of q and not random variables) and whose sample sites are
 * drawn reparameterised where the family allows (value = transform(args,
 * standard noise) recorded on the tape) and by the sampler otherwise, each
 * adding -log q(value) to the target; then run the model under a replay
 * handler that gives every latent site the guide's value (on the
 * constrained scale: no Jacobians on either side) beside the usual
 * condition and do handlers.  The target is then L = log p - log q, the
 * particle's ELBO.  Sites drawn by the sampler (discrete families, Gamma,
 * Beta, Dirichlet, truncated sites...) get the score-function term: the
 * surrogate (L - b) log q(value) is added to the differentiated objective,
 * not to the reported ELBO.  The baseline b is, with several particles,
 * the mean L of the step's other particles (leave-one-out: unbiased, and
 * it follows L at once while the fit moves fast); with one particle, a
 * running average of earlier particles' L (decay 0.9, Pyro's default,
 * bias-corrected as Adam's moments; none at the first particle).  Every
 * site's cost is the whole L (Trace_ELBO, not TraceGraph_ELBO), so one
 * baseline serves all sites.  tape_backward gives the gradients.
 *
 * The optimisers, the smoothing and tolerance rule and the step hook are
 * those of the autoguides (svi.h).  Latent discrete sites of finite
 * support the guide omits are left to the executor's enumeration
 * (ExecPolicy.enumerate).
 */
#ifndef CM_SVI_USER_H
#define CM_SVI_USER_H

#include "compile.h"
#include "handlers.h"
#include "infer.h"
#include "svi.h"

typedef struct SviUser SviUser;

/* Bind model and guide to the data and the interventions (dos may be
 * NULL), run the model once alone (its data errors are reported against
 * it), then guide and model together at the parameters' initial values to
 * lay out theta and check the guide against the model: every guide site
 * is a latent site of the model with the same shape and a support inside
 * the model site's; every latent continuous model site has a guide site.
 * Returns NULL after printing located errors. */
SviUser *svi_user_new(const Program *model, const CmGuide *g, const DataSet *data, DoHandler *dos,
                      unsigned long seed);
void svi_user_free(SviUser *u);

/* theta: the unconstrained parameters, in declaration order. */
int svi_user_dim(const SviUser *u);
double *svi_user_theta(SviUser *u);

/* One ELBO estimate (mean over particles of log p - log q) and its
 * gradient with respect to theta (into grad[dim]).  Returns NAN when no
 * particle was finite; *failed is set when a run stopped with an error
 * already printed (the fit must stop). */
double svi_user_elbo_grad(SviUser *u, int particles, double *grad, int *failed);

/* Fit theta by s->steps steps of s->optim with s->particles particles,
 * under svi_fit's convergence rule; the hook sees every step.  Returns
 * res->status (SVI_DIVERGED with a message also when a run failed). */
int svi_user_fit(SviUser *u, const SviOptions *s, SviStepHook hook, void *user,
                 volatile int *interrupt, SviResult *res);

/* Output: the model's columns (CmdStan names) and one draw from the
 * fitted guide into row[0..ncols+1]: log p (constrained scale), log q,
 * then the columns.  Returns 0, or -1 after a printed error. */
/* --predictive: add replicate columns NAME_rep of every observed site (and
 * of what it feeds), drawn after each guide draw from the model without its
 * data.  Returns 0, or -1 with a message (a latent site the guide leaves to
 * be summed out has no draw to condition the replicates on). */
int svi_user_set_predictive(SviUser *u, char *err, size_t errlen);
int svi_user_ncols(const SviUser *u);
const char *svi_user_col_name(const SviUser *u, int j);
int svi_user_draw(SviUser *u, double *row);

/* Parameters: name, declared constraint and shape (rank 0..2, dims), and
 * values on the constrained scale (n = dims[0] * dims[1] of them). */
int svi_user_nparams(const SviUser *u);
const CmGuideParam *svi_user_param(const SviUser *u, int i, int *rank, int dims[2]);
void svi_user_param_values(const SviUser *u, int i, double *out);
/* Set parameter i from constrained values (for --init-params).  Returns
 * 0, or -1 with a message in err when a value is outside the constraint. */
int svi_user_set_param(SviUser *u, int i, const double *x, char *err, size_t errlen);
const char *svi_user_constraint_name(Constraint c);

/* Guide sites and their gradient estimator, for the report: site k's name
 * and whether it is reparameterised (1) or uses the score function (0). */
int svi_user_nsites(const SviUser *u);
const char *svi_user_site(const SviUser *u, int k, int *reparam);

/* The engine behind cmrun --infer svi with a guide block or --guide-file
 * (infer_svi.c): fit, draw, write, summarise; the exit status as
 * infer_svi's. */
int infer_svi_user(const InferOptions *o, const SviOptions *s, const CmGuide *g);

#endif
