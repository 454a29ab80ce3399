/*
 * svi.c - the SVI fitting loop: Trace ELBO steps, smoothing, the stopping
 * rule, the start at the mode, and the mode finding behind the delta and
 * Laplace guides.
 *
 * One step draws `particles` reparameterised points from the guide,
 * evaluates log p and its gradient at each (the model's tape, or any
 * SamplerTarget), averages the pathwise gradients, adds the closed-form
 * entropy gradient, and hands the result to the optimiser.  The step's
 * ELBO estimate is the mean of log p(z) - log q(z) over its draws: as
 * unbiased as log p plus the closed-form entropy, and with a variance that
 * falls to 0 as q approaches the posterior.  Draws where log p or its
 * gradient is not finite are left out of the average; a step with none
 * left is skipped, and 100 skipped in a row end the fit naming a
 * coordinate at fault, since the guide has then wandered where the model
 * is undefined.
 *
 * Convergence.  A single-particle ELBO estimate is noisy, so the rule
 * looks at the smoothed ELBO, the mean of the last SVI_WINDOW (100) step
 * estimates.  At each step the relative change of the smoothed ELBO over
 * one window,
 *
 *     rel_t = |s_t - s_{t-100}| / max(|s_t|, 1),
 *
 * is compared with tol, and the fit stops once rel_t < tol has held for
 * 100 consecutive steps (so never before step 299).  The max(., 1) makes
 * the rule absolute for an ELBO near 0.  With one particle the window
 * mean's own noise is sd(ELBO estimate)/10; where the guide family cannot
 * match the posterior that noise stays above 1e-4 |ELBO|, the rule never
 * fires and every --steps step runs, as Pyro does.  More particles, a
 * learning-rate decay or a larger --tol let it fire.
 *
 * Determinism: every random number comes from the one gsl_rng passed in,
 * in a fixed order, and nothing runs in parallel, so a seed fixes the fit.
 *
 * The start.  svi_init_at_mode() runs BFGS (GSL's vector_bfgs2) from the
 * usual starting point and, when it reaches a mode, starts the guide there
 * with the curvature's scales and lets the optimiser move loc in units of
 * those widths; see the comment above it for why Adam needs this.
 *
 * Mode finding.  The delta guide's loc is optimised by the same loop (its
 * ELBO is log p(loc)); the optimiser's last steps jitter by about lr, so
 * the point is then polished with BFGS, keeping the best point ever
 * evaluated.  The Laplace guide is the Gaussian at that mode with
 * covariance (-H)^-1, H from central differences of the autodiff gradient
 * (2 dim gradient evaluations), symmetrised.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_blas.h>
#include <gsl/gsl_multimin.h>

#include "svi.h"
#include "svi_user.h"

/* ---- options -------------------------------------------------------------- */

void svi_options_default(SviOptions *s)
{
    memset(s, 0, sizeof *s);
    s->guide = SVI_NORMAL;
    s->optim = SVI_ADAM;
    s->steps = 5000;
    s->lr = 0.01;
    s->lr_decay = 1;
    s->particles = 1;
    s->tol = 1e-4;
    s->samples = 1000;
    s->init_scale = 0.1;
    s->init_mode = 1;
}

const char *svi_guide_name(SviGuideKind k)
{
    static const char *const names[] = {"normal", "mvn", "lowrank", "delta", "laplace"};
    return names[k];
}

const char *svi_optim_name(SviOptimKind k)
{
    static const char *const names[] = {"adam", "clipped-adam", "sgd"};
    return names[k];
}

int svi_parse_guide(const char *text, SviGuideKind *kind, int *rank, char *err, size_t errlen)
{
    *rank = 0;
    for (int k = SVI_NORMAL; k <= SVI_LAPLACE; k++)
        if (k != SVI_LOWRANK && strcmp(text, svi_guide_name(k)) == 0) {
            *kind = k;
            return 0;
        }
    if (strncmp(text, "lowrank", 7) == 0) {
        if (text[7] != ':' || !text[8]) {
            snprintf(err, errlen, "--guide %s: the low-rank guide needs its rank, as lowrank:R "
                     "(e.g. --guide lowrank:2)", text);
            return -1;
        }
        char *end;
        long r = strtol(text + 8, &end, 10);
        if (*end || r < 1 || r > 100000) {
            snprintf(err, errlen, "--guide %s: the rank R of lowrank:R must be a positive integer, "
                     "got '%s'", text, text + 8);
            return -1;
        }
        *kind = SVI_LOWRANK;
        *rank = (int)r;
        return 0;
    }
    snprintf(err, errlen, "--guide must be one of normal, mvn, lowrank:R, delta, laplace; got '%s'",
             text);
    return -1;
}

static int parse_number(const char *flag, const char *v, double lo, double hi, int lo_open,
                        double *out, char *err, size_t errlen)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x) || x < lo || x > hi || (lo_open && x == lo)) {
        snprintf(err, errlen, "%s needs a number in %s%g, %g], got '%s'", flag, lo_open ? "(" : "[",
                 lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int svi_parse_flag(SviOptions *s, const char *flag, const char *value, char *err, size_t errlen)
{
    static const char *const flags[] = {"--guide",    "--optim",      "--lr",
                                        "--lr-decay", "--particles",  "--tol",
                                        "--elbo-out", "--params-out", "--init-params",
                                        "--guide-init"};
    int which = -1;
    for (int k = 0; k < (int)(sizeof flags / sizeof flags[0]); k++)
        if (strcmp(flag, flags[k]) == 0)
            which = k;
    if (which < 0)
        return 0;
    if (!value) {
        snprintf(err, errlen, "%s needs a value", flag);
        return -1;
    }
    if (!s->flag_seen)
        s->flag_seen = flags[which];
    double x;
    switch (which) {
    case 0:
        return svi_parse_guide(value, &s->guide, &s->rank, err, errlen) ? -1 : 1;
    case 1:
        for (int k = SVI_ADAM; k <= SVI_SGD; k++)
            if (strcmp(value, svi_optim_name(k)) == 0) {
                s->optim = k;
                return 1;
            }
        snprintf(err, errlen, "--optim must be one of adam, clipped-adam, sgd; got '%s'", value);
        return -1;
    case 2:
        if (parse_number(flag, value, 0, 1e6, 1, &x, err, errlen))
            return -1;
        s->lr = x;
        return 1;
    case 3:
        if (parse_number(flag, value, 0, 1, 1, &x, err, errlen))
            return -1;
        s->lr_decay = x;
        return 1;
    case 4:
        if (parse_number(flag, value, 1, 100000, 0, &x, err, errlen) || x != floor(x)) {
            snprintf(err, errlen, "--particles needs an integer in 1..100000, got '%s'", value);
            return -1;
        }
        s->particles = (int)x;
        return 1;
    case 5:
        if (parse_number(flag, value, 0, 1, 0, &x, err, errlen))
            return -1;
        s->tol = x;
        return 1;
    case 6: s->elbo_out = value; return 1;
    case 7: s->params_out = value; return 1;
    case 8: s->init_params = value; return 1;
    default:
        if (strcmp(value, "mode") && strcmp(value, "zero")) {
            snprintf(err, errlen, "--guide-init must be mode or zero; got '%s'", value);
            return -1;
        }
        s->init_mode = strcmp(value, "mode") == 0;
        s->init_mode_given = 1;
        return 1;
    }
}

int svi_options_check(const SviOptions *s, int dim, char *err, size_t errlen)
{
    if (s->guide == SVI_LOWRANK && (s->rank < 1 || s->rank > dim)) {
        snprintf(err, errlen, "--guide lowrank:%d: the rank must be between 1 and the model's "
                 "unconstrained dimension (%d); use --guide mvn for a full-rank covariance",
                 s->rank, dim);
        return -1;
    }
    if (s->steps < 0 || s->particles < 1 || s->samples < 1 || !(s->lr > 0) ||
        !(s->lr_decay > 0 && s->lr_decay <= 1) || !(s->tol >= 0) || !(s->init_scale > 0)) {
        snprintf(err, errlen, "invalid SVI settings (--steps %d, --particles %d, --samples %d, "
                 "--lr %g, --lr-decay %g, --tol %g)", s->steps, s->particles, s->samples, s->lr,
                 s->lr_decay, s->tol);
        return -1;
    }
    return 0;
}

/* ---- initialisation --------------------------------------------------- */

static int all_finite(const double *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static int first_not_finite(const double *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return 0;
}

int svi_find_init(const SamplerTarget *t, gsl_rng *rng, double radius, double *q, double *grad)
{
    int d = t->dim;
    memset(q, 0, sizeof(double) * (size_t)d);
    for (int tries = 0; tries < 100; tries++) {
        if (tries > 0) {
            if (radius <= 0)
                return -1;
            for (int i = 0; i < d; i++)
                q[i] = (2 * gsl_rng_uniform(rng) - 1) * radius;
        }
        double lp = t->logp_grad(t->ctx, q, grad);
        if (isfinite(lp) && all_finite(grad, d))
            return 0;
    }
    return -1;
}

/* ---- the loop ------------------------------------------------------------ */

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}


/* The smoothed ELBO and the stopping rule's state (SviSmoother, svi.h). */
double svi_smoother_add(SviSmoother *sm, double elbo, double tol, double *rel)
{
    int k = (int)(sm->n % SVI_WINDOW);
    if (sm->n >= SVI_WINDOW)
        sm->sum -= sm->e[k];
    sm->e[k] = elbo;
    sm->sum += elbo;
    sm->n++;
    if (sm->n % SVI_WINDOW == 0) { /* re-add from scratch: no drift over long runs */
        sm->sum = 0;
        for (int i = 0; i < SVI_WINDOW; i++)
            sm->sum += sm->e[i];
    }
    double smooth = sm->sum / (double)(sm->n < SVI_WINDOW ? sm->n : SVI_WINDOW);
    *rel = NAN;
    if (sm->n >= 2 * SVI_WINDOW) {
        *rel = fabs(smooth - sm->s[k]) / fmax(fabs(smooth), 1.0);
        sm->below = *rel < tol ? sm->below + 1 : 0;
    }
    sm->s[k] = smooth;
    return smooth;
}

int svi_step_finish(SviOptim *opt, double *theta, double *grad, SviSmoother *sm, double elbo,
                    const SviOptions *s, SviStepHook hook, void *user, int step, SviResult *res)
{
    svi_optim_step(opt, theta, grad);
    double rel;
    res->elbo = svi_smoother_add(sm, elbo, s->tol, &rel);
    res->rel_change = rel;
    if (hook && hook(user, step + 1, elbo, res->elbo))
        return 1;
    if (s->tol > 0 && sm->below >= SVI_WINDOW) {
        res->converged = 1;
        return 1;
    }
    return 0;
}

int svi_step_skip(SviResult *res, SviStepHook hook, void *user, int step, double elbo,
                  int *skipped_run)
{
    res->skipped++;
    if (hook && hook(user, step + 1, elbo, res->elbo))
        return 1;
    if (++*skipped_run < 100)
        return 0;
    res->status = SVI_NOT_FINITE;
    return 2;
}

typedef struct {
    const SamplerTarget *t;
    SviGuide *g;
    gsl_rng *rng;
    int particles;
    double *grad, *z, *glp;
    int bad_coord;
    long n_grad;
} Stepper;

/* One ELBO estimate and its gradient (into st->grad).  Returns the
 * estimate, or NAN when no particle had a finite log density.  The
 * gradient uses the closed-form entropy; the estimate is the mean of
 * log p(z) - log q(z), equally unbiased but with a variance that vanishes
 * as q approaches the posterior, which is what lets the smoothed ELBO
 * settle and the convergence rule fire. */
static double elbo_step(Stepper *st)
{
    SviGuide *g = st->g;
    int d = g->dim;
    memset(st->grad, 0, sizeof(double) * (size_t)g->nparams);
    int ok = 0;
    double sum_lp = 0;
    for (int k = 0; k < st->particles; k++) {
        svi_guide_sample(g, st->rng, st->z);
        double lp = st->t->logp_grad(st->t->ctx, st->z, st->glp);
        st->n_grad++;
        if (!isfinite(lp) || !all_finite(st->glp, d)) {
            st->bad_coord = isfinite(lp) ? first_not_finite(st->glp, d) : first_not_finite(st->z, d);
            continue;
        }
        ok++;
        sum_lp += lp - svi_guide_log_q_draw(g, st->z);
        svi_guide_add_path_grad(g, st->glp, 1.0, st->grad);
    }
    if (ok == 0)
        return NAN;
    if (ok > 1)
        for (int k = 0; k < g->nparams; k++)
            st->grad[k] /= ok;
    svi_guide_add_entropy_grad(g, st->grad);
    return sum_lp / ok;
}

int svi_fit(const SamplerTarget *t, SviGuide *g, const SviOptions *s, gsl_rng *rng,
            SviStepHook hook, void *user, volatile int *interrupt, SviResult *res)
{
    memset(res, 0, sizeof *res);
    res->rel_change = NAN;
    res->elbo = NAN;
    Stepper st = {t, g, rng, s->particles, NULL, NULL, NULL, 0, 0};
    double *step_scale = NULL;
    st.grad = calloc((size_t)g->nparams, sizeof(double));
    st.z = calloc((size_t)g->dim, sizeof(double));
    st.glp = calloc((size_t)g->dim, sizeof(double));
    SviOptim opt;
    SviSmoother *sm = calloc(1, sizeof(SviSmoother));
    int opt_ok = svi_optim_init(&opt, s->optim, g->nparams, s->lr, s->lr_decay) == 0;
    if (!st.grad || !st.z || !st.glp || !sm || !opt_ok) {
        res->status = SVI_NOMEM;
        snprintf(res->message, sizeof res->message, "out of memory for the guide's %d parameters",
                 g->nparams);
        goto out;
    }
    if (g->loc_step) { /* Adam on loc / width: steps of lr widths, not lr units */
        step_scale = malloc(sizeof(double) * (size_t)g->nparams);
        if (!step_scale) {
            res->status = SVI_NOMEM;
            goto out;
        }
        for (int k = 0; k < g->nparams; k++)
            step_scale[k] = k < g->dim ? g->loc_step[k] : 1.0;
        opt.step_scale = step_scale;
    }
    int skipped_run = 0;
    double t0 = clock_seconds(CLOCK_MONOTONIC), c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int step = 0; step < s->steps; step++) {
        if (interrupt && *interrupt) {
            res->interrupted = 1;
            break;
        }
        if (svi_guide_prepare(g) != 0) {
            res->status = SVI_DIVERGED;
            snprintf(res->message, sizeof res->message,
                     "the optimisation diverged at step %d (the guide's parameters are no longer "
                     "finite): lower --lr (now %g), or use --optim clipped-adam", step, s->lr);
            break;
        }
        double elbo = elbo_step(&st);
        res->steps = step + 1;
        if (isnan(elbo)) {
            int k = svi_step_skip(res, hook, user, step, elbo, &skipped_run);
            if (k == 1)
                break;
            if (k == 2) {
                res->bad_coord = st.bad_coord;
                snprintf(res->message, sizeof res->message,
                         "100 steps in a row drew only points where the log density or its "
                         "gradient is not finite (at step %d)", step + 1);
                break;
            }
            continue;
        }
        skipped_run = 0;
        if (svi_step_finish(&opt, g->theta, st.grad, sm, elbo, s, hook, user, step, res))
            break;
    }
    res->seconds = clock_seconds(CLOCK_MONOTONIC) - t0;
    res->cpu_seconds = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (res->status == SVI_OK && svi_guide_prepare(g) != 0) {
        res->status = SVI_DIVERGED;
        snprintf(res->message, sizeof res->message,
                 "the optimisation diverged (the guide's parameters are no longer finite): lower "
                 "--lr (now %g), or use --optim clipped-adam", s->lr);
    }
out:
    res->n_grad = st.n_grad;
    if (opt_ok)
        svi_optim_free(&opt);
    free(sm);
    free(step_scale);
    free(st.grad);
    free(st.z);
    free(st.glp);
    return res->status;
}

/* ---- mode polish (BFGS) -------------------------------------------------- */

typedef struct {
    const SamplerTarget *t;
    double *g;
    double best;
    double *best_x;
} Polish;

static double polish_eval(Polish *p, const gsl_vector *x)
{
    double lp = p->t->logp_grad(p->t->ctx, x->data, p->g);
    if (!isfinite(lp) || !all_finite(p->g, p->t->dim))
        return NAN;
    if (lp > p->best) {
        p->best = lp;
        memcpy(p->best_x, x->data, sizeof(double) * (size_t)p->t->dim);
    }
    return lp;
}

/* GSL minimises: f = -log p.  A point where the density is undefined gets
 * +inf and a zero gradient, which the line search treats as "too far". */
static double polish_f(const gsl_vector *x, void *user)
{
    double lp = polish_eval(user, x);
    return isnan(lp) ? GSL_POSINF : -lp;
}

static void polish_df(const gsl_vector *x, void *user, gsl_vector *df)
{
    Polish *p = user;
    double lp = polish_eval(p, x);
    for (int i = 0; i < p->t->dim; i++)
        gsl_vector_set(df, (size_t)i, isnan(lp) ? 0 : -p->g[i]);
}

static void polish_fdf(const gsl_vector *x, void *user, double *f, gsl_vector *df)
{
    Polish *p = user;
    double lp = polish_eval(p, x);
    *f = isnan(lp) ? GSL_POSINF : -lp;
    for (int i = 0; i < p->t->dim; i++)
        gsl_vector_set(df, (size_t)i, isnan(lp) ? 0 : -p->g[i]);
}

int svi_polish_mode(const SamplerTarget *t, double *q, int max_iter, double *lp0, double *lp1,
                    int *converged)
{
    int d = t->dim, iter = 0;
    *converged = 0;
    Polish p = {t, calloc((size_t)d, sizeof(double)), -INFINITY, calloc((size_t)d, sizeof(double))};
    gsl_vector *x = gsl_vector_alloc((size_t)d);
    gsl_multimin_fdfminimizer *m =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, (size_t)d);
    *lp0 = *lp1 = NAN;
    if (!p.g || !p.best_x || !x || !m)
        goto out;
    memcpy(x->data, q, sizeof(double) * (size_t)d);
    gsl_vector_const_view xv = gsl_vector_const_view_array(q, (size_t)d);
    *lp0 = polish_eval(&p, &xv.vector);
    if (isnan(*lp0))
        goto out;
    gsl_multimin_function_fdf fn = {polish_f, polish_df, polish_fdf, (size_t)d, &p};
    if (gsl_multimin_fdfminimizer_set(m, &fn, x, 0.01, 0.1) != GSL_SUCCESS)
        goto out;
    /* the gradient tolerance is fixed by the start: scaled by a log density
     * that runs off to infinity it would accept anything */
    double tol = 1e-9 * fmax(1.0, fabs(*lp0));
    if (gsl_multimin_test_gradient(gsl_multimin_fdfminimizer_gradient(m), tol) == GSL_SUCCESS)
        *converged = 1; /* already there (the delta guide's optimiser often is) */
    double g0 = gsl_blas_dnrm2(gsl_multimin_fdfminimizer_gradient(m));
    for (iter = 1; iter <= max_iter && !*converged; iter++) {
        int status = gsl_multimin_fdfminimizer_iterate(m);
        if (status == GSL_ENOPROG) {
            /* The line search can improve no further.  At a mode, to the
             * precision the density allows, the gradient has shrunk by
             * orders of magnitude; in a funnel whose density grows without
             * bound it has not (eight schools, centred: 115 -> 97). */
            double g1 = gsl_blas_dnrm2(gsl_multimin_fdfminimizer_gradient(m));
            *converged = isfinite(gsl_multimin_fdfminimizer_minimum(m)) && g1 <= 1e-3 * fmax(g0, 1.0);
            break;
        }
        if (status != GSL_SUCCESS)
            break;
        double f = gsl_multimin_fdfminimizer_minimum(m);
        if (!isfinite(f))
            break;
        if (gsl_multimin_test_gradient(gsl_multimin_fdfminimizer_gradient(m), tol) == GSL_SUCCESS)
            *converged = 1;
    }
    if (iter > max_iter)
        iter = max_iter;
    if (p.best > *lp0)
        memcpy(q, p.best_x, sizeof(double) * (size_t)d);
    *lp1 = p.best;
out:
    if (m)
        gsl_multimin_fdfminimizer_free(m);
    if (x)
        gsl_vector_free(x);
    free(p.g);
    free(p.best_x);
    return iter;
}

/* ---- starting at the mode ------------------------------------------------ */

/* Why: Adam's second-moment estimate remembers about 1000 steps, so when
 * the first gradients are orders of magnitude larger than those near the
 * posterior (a regression intercept of 78 started at 0, a scale of 2e4
 * started at 1), the steps stay tiny for thousands of iterations.  Starting
 * at the mode with the curvature's scales removes the long approach; where
 * no mode is reached (a funnel whose density grows without bound, a flat
 * direction) the usual start is kept. */
/* A full-rank guide starts as the Laplace approximation when the negative
 * Hessian is positive definite: correlations included, which the ELBO's
 * relative convergence rule would otherwise let it stop short of learning
 * when they gain a few nats out of thousands.  Returns 1 when it did. */
static int laplace_start(const SamplerTarget *t, SviGuide *g, const double *mode)
{
    int d = t->dim;
    double *h = malloc(sizeof(double) * (size_t)d * (size_t)d);
    int ok = h && svi_neg_hessian(t, mode, h) == 0 && svi_guide_set_precision(g, mode, h) == 0;
    free(h);
    return ok;
}

int svi_init_at_mode(const SamplerTarget *t, SviGuide *g, const double *q, double init_scale,
                     gsl_rng *rng, double *lp_mode)
{
    int d = t->dim, used = 0;
    double *x = malloc(sizeof(double) * (size_t)d), *gp = malloc(sizeof(double) * (size_t)d),
           *gm = malloc(sizeof(double) * (size_t)d), *mode = malloc(sizeof(double) * (size_t)d);
    double lp0, lp1;
    int conv = 0;
    if (x && gp && gm && mode) {
        memcpy(mode, q, sizeof(double) * (size_t)d);
        svi_polish_mode(t, mode, 2000, &lp0, &lp1, &conv);
    }
    svi_guide_reset(g, conv ? mode : q, init_scale, rng);
    *lp_mode = conv ? lp1 : NAN;
    int known = 0; /* curvature known for every coordinate */
    if (conv && g->form == SVI_FORM_TRIL && laplace_start(t, g, mode)) {
        used = known = 1;
    } else if (conv && g->form != SVI_FORM_POINT) {
        used = known = 1;
        memcpy(x, mode, sizeof(double) * (size_t)d);
        for (int i = 0; i < d; i++) {
            double step = 1e-5 * fmax(1.0, fabs(mode[i]));
            x[i] = mode[i] + step;
            double a = t->logp_grad(t->ctx, x, gp);
            x[i] = mode[i] - step;
            double b = t->logp_grad(t->ctx, x, gm);
            x[i] = mode[i];
            double h = -(gp[i] - gm[i]) / (2 * step);
            if (!isfinite(a) || !isfinite(b) || !(h > 0) || !isfinite(h)) {
                known = 0;
                continue;
            }
            double sd = 1 / sqrt(h);
            if (g->form == SVI_FORM_LOWRANK) { /* marginal sd = scale sqrt(1 + |w_i|^2) */
                double w2 = 0;
                for (int k = 0; k < g->rank; k++) {
                    double w = g->theta[2 * d + (size_t)i * g->rank + k];
                    w2 += w * w;
                }
                sd /= sqrt(1 + w2);
            }
            g->theta[d + i] = log(sd);
        }
        svi_guide_prepare(g);
    } else if (conv) {
        used = 1;
    }
    /* loc then moves in units of each coordinate's width at the start */
    if (known && (g->loc_step || (g->loc_step = malloc(sizeof(double) * (size_t)d))))
        for (int i = 0; i < d; i++)
            g->loc_step[i] = svi_guide_marginal_sd(g, i);
    free(x);
    free(gp);
    free(gm);
    free(mode);
    return used;
}

/* ---- Laplace ---------------------------------------------------------------- */

int svi_neg_hessian(const SamplerTarget *t, const double *q, double *h)
{
    int d = t->dim, rc = 0;
    double *x = malloc(sizeof(double) * (size_t)d), *gp = malloc(sizeof(double) * (size_t)d),
           *gm = malloc(sizeof(double) * (size_t)d);
    if (!x || !gp || !gm) {
        rc = -1;
        goto out;
    }
    memcpy(x, q, sizeof(double) * (size_t)d);
    for (int j = 0; j < d && rc == 0; j++) {
        /* h ~ eps^(1/3) balances the O(h^2) truncation against rounding */
        double step = 1e-5 * fmax(1.0, fabs(q[j]));
        x[j] = q[j] + step;
        double a = t->logp_grad(t->ctx, x, gp);
        x[j] = q[j] - step;
        double b = t->logp_grad(t->ctx, x, gm);
        x[j] = q[j];
        if (!isfinite(a) || !isfinite(b) || !all_finite(gp, d) || !all_finite(gm, d)) {
            rc = -1;
            break;
        }
        for (int i = 0; i < d; i++)
            h[(size_t)i * d + j] = -(gp[i] - gm[i]) / (2 * step);
    }
    for (int i = 0; i < d && rc == 0; i++)
        for (int j = 0; j < i; j++) {
            double m = 0.5 * (h[(size_t)i * d + j] + h[(size_t)j * d + i]);
            h[(size_t)i * d + j] = h[(size_t)j * d + i] = m;
        }
out:
    free(x);
    free(gp);
    free(gm);
    return rc;
}

int svi_laplace(const SamplerTarget *t, const double *mode, SviGuide *g, int *bad_coord)
{
    int d = t->dim;
    *bad_coord = -1;
    double *h = malloc(sizeof(double) * (size_t)d * (size_t)d);
    if (!h)
        return SVI_NOMEM;
    int rc = SVI_OK;
    if (svi_neg_hessian(t, mode, h) != 0) {
        rc = SVI_NOT_FINITE;
    } else {
        for (int i = 0; i < d && *bad_coord < 0; i++)
            if (!(h[(size_t)i * d + i] > 0))
                *bad_coord = i;
        if (svi_guide_set_precision(g, mode, h) != 0)
            rc = SVI_NOT_PD;
    }
    free(h);
    return rc;
}
