/*
 * sampler.c - one chain of NUTS or static HMC, from initial values to draws.
 *
 * This is the driver that Stan spreads over its services layer: check the
 * configuration, find initial values, run warm-up with adaptation, freeze
 * the step size and metric, run the sampling iterations, and report.  The
 * transitions themselves are in nuts.c and hmc.c, the adaptation in
 * adapt.c, the kinetic energy in metric.c.
 *
 * Order of events (and of random numbers, so a seed fixes every draw):
 *   1. initial q: each coordinate uniform(-R, R) (or 0, or config->init),
 *      retried up to 100 times while lp or a gradient component is not
 *      finite (once only when nothing is random: a retry would repeat it);
 *   2. with adaptation: mu = log(10 step_size), then the step-size
 *      heuristic from the configured step size;
 *   3. warm-up: transition; learn the step size from its accept_stat; feed
 *      the draw to the metric windows; when a window closes, install the new
 *      metric, rerun the heuristic from the current step size and restart
 *      dual averaging around it;
 *   4. step size = exp(x_bar); on_adapted();
 *   5. sampling with everything fixed.
 * on_draw sees every thin-th iteration of each phase; the interrupt flag is
 * read after every iteration.
 *
 * Adaptation off (adapt = 0) means exactly that: no heuristic either, the
 * configured step size and the given inverse metric (identity if none) are
 * used throughout, as CmdStan's `adapt engaged=0`.  With warmup = 0 nothing
 * adapts (CmdStan refuses adaptation without warm-up; we simply skip it).
 * A target of dimension 0 has nothing to move: each iteration reports its
 * log density.
 *
 * Everything a run needs is allocated here before the first iteration and
 * freed on return; CPU time is the calling thread's, so parallel chains
 * each report their own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>

#include "sampler_internal.h"

void sampler_config_default(SamplerConfig *c)
{
    memset(c, 0, sizeof *c);
    c->warmup = 1000;
    c->samples = 1000;
    c->thin = 1;
    c->max_depth = 10;
    c->adapt_delta = 0.8;
    c->metric = METRIC_DIAG;
    c->adapt = 1;
    c->step_size = 1.0;
    c->init_radius = 2.0;
    c->init = NULL;
    c->hmc_steps = 0;
    c->interrupt = NULL;
    c->inv_metric = NULL;
    c->adapt_gamma = 0.05;
    c->adapt_kappa = 0.75;
    c->adapt_t0 = 10.0;
    c->adapt_init_buffer = 75;
    c->adapt_term_buffer = 50;
    c->adapt_window = 25;
}

const char *sampler_metric_name(MetricKind m)
{
    switch (m) {
    case METRIC_UNIT: return "unit_e";
    case METRIC_DIAG: return "diag_e";
    case METRIC_DENSE: return "dense_e";
    }
    return "unknown";
}

static int check_inv_metric(const SamplerConfig *c, int dim, char *msg, size_t len)
{
    const double *m = c->inv_metric;
    if (c->metric == METRIC_UNIT) {
        snprintf(msg, len, "an inverse metric was given but metric is unit_e; "
                 "use diag_e or dense_e");
        return -1;
    }
    if (c->metric == METRIC_DIAG) {
        for (int i = 0; i < dim; i++)
            if (!(m[i] > 0) || !isfinite(m[i])) {
                snprintf(msg, len, "inverse metric element %d is %g; every "
                         "element of a diagonal inverse metric must be a "
                         "positive finite number", i + 1, m[i]);
                return -1;
            }
        return 0;
    }
    for (int i = 0; i < dim; i++) {
        double d = m[(size_t)i * dim + i];
        if (!(d > 0) || !isfinite(d)) {
            snprintf(msg, len, "inverse metric diagonal element [%d,%d] is %g; "
                     "a dense inverse metric must have a positive finite "
                     "diagonal", i + 1, i + 1, d);
            return -1;
        }
        for (int j = 0; j < i; j++) {
            double a = m[(size_t)i * dim + j], b = m[(size_t)j * dim + i];
            if (!isfinite(a) || fabs(a - b) > 1e-10 * (fabs(a) + fabs(b))) {
                snprintf(msg, len, "inverse metric element [%d,%d] = %g differs "
                         "from [%d,%d] = %g; a dense inverse metric must be "
                         "symmetric and finite", i + 1, j + 1, a, j + 1, i + 1, b);
                return -1;
            }
        }
    }
    return 0;
}

int sampler_config_check(const SamplerConfig *c, int dim, char *msg, size_t len)
{
#define FAIL(...) do { snprintf(msg, len, __VA_ARGS__); return -1; } while (0)
    if (dim < 0) FAIL("the target's dimension must be 0 or more, got %d", dim);
    if (c->warmup < 0) FAIL("warmup must be 0 or more iterations, got %d", c->warmup);
    if (c->samples < 0) FAIL("samples must be 0 or more iterations, got %d", c->samples);
    if (c->thin < 1) FAIL("thin must be 1 or more, got %d", c->thin);
    if (c->max_depth < 1 || c->max_depth > 30)
        FAIL("max_depth must be between 1 and 30, got %d", c->max_depth);
    if (!(c->adapt_delta > 0 && c->adapt_delta < 1))
        FAIL("adapt_delta must be strictly between 0 and 1, got %g", c->adapt_delta);
    if (c->metric != METRIC_UNIT && c->metric != METRIC_DIAG && c->metric != METRIC_DENSE)
        FAIL("metric must be unit_e, diag_e or dense_e (got code %d)", (int)c->metric);
    if (c->adapt != 0 && c->adapt != 1) FAIL("adapt must be 0 or 1, got %d", c->adapt);
    if (!(c->step_size > 0) || !isfinite(c->step_size))
        FAIL("step_size must be a positive finite number, got %g", c->step_size);
    if (!(c->init_radius >= 0) || !isfinite(c->init_radius))
        FAIL("init_radius must be a finite number, 0 or more, got %g", c->init_radius);
    if (c->hmc_steps < 0)
        FAIL("hmc_steps must be 0 (NUTS) or a positive number of leapfrog steps, "
             "got %d", c->hmc_steps);
    if (!(c->adapt_gamma > 0) || !isfinite(c->adapt_gamma))
        FAIL("adapt_gamma must be a positive finite number, got %g", c->adapt_gamma);
    if (!(c->adapt_kappa > 0) || !isfinite(c->adapt_kappa))
        FAIL("adapt_kappa must be a positive finite number, got %g", c->adapt_kappa);
    if (!(c->adapt_t0 > 0) || !isfinite(c->adapt_t0))
        FAIL("adapt_t0 must be a positive finite number, got %g", c->adapt_t0);
    if (c->adapt_init_buffer < 0)
        FAIL("adapt_init_buffer must be 0 or more, got %d", c->adapt_init_buffer);
    if (c->adapt_term_buffer < 0)
        FAIL("adapt_term_buffer must be 0 or more, got %d", c->adapt_term_buffer);
    if (c->adapt_window < 0)
        FAIL("adapt_window must be 0 or more, got %d", c->adapt_window);
    if (c->init)
        for (int i = 0; i < dim; i++)
            if (isinf(c->init[i]))
                FAIL("initial value %d is %g; initial values must be finite "
                     "(NaN means: draw it at random)", i + 1, c->init[i]);
    if (c->inv_metric && check_inv_metric(c, dim, msg, len) != 0) return -1;
#undef FAIL
    if (len) msg[0] = '\0';
    return 0;
}

void sampler_result_free(SamplerResult *r)
{
    if (!r) return;
    free(r->inv_metric);
    free(r->bad_q);
    r->inv_metric = r->bad_q = NULL;
}

/* ---- one chain ---------------------------------------------------------- */

typedef struct {
    const SamplerConfig *c;
    int dim;
    Hamiltonian h;
    HmcPoint z, scratch;
    NutsWork *nuts;             /* NULL for static HMC */
    MetricAdaptation ma;
    int metric_adapting;
    double *new_inv;            /* scratch for a freshly estimated metric */
    double eps;
} Chain;

static double thread_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void chain_free(Chain *ch)
{
    metric_free(&ch->h.metric);
    free(ch->h.p_sharp);
    hmc_point_free(&ch->z);
    hmc_point_free(&ch->scratch);
    nuts_work_free(ch->nuts);
    adapt_metric_free(&ch->ma);
    free(ch->new_inv);
}

/* The metric the run uses: the configured kind, except that with no
 * adaptation and no given inverse metric it is the identity, so unit. */
static MetricKind effective_metric(const SamplerConfig *c)
{
    if (!c->adapt && !c->inv_metric) return METRIC_UNIT;
    return c->metric;
}

static int chain_alloc(Chain *ch, const SamplerTarget *t, const SamplerConfig *c,
                       gsl_rng *rng, char *msg, size_t len)
{
    int dim = t->dim;
    MetricKind kind = effective_metric(c);
    memset(ch, 0, sizeof *ch);
    ch->c = c;
    ch->dim = dim;
    ch->h.target = t;
    ch->h.dim = dim;
    ch->h.rng = rng;
    ch->eps = c->step_size;
    ch->metric_adapting = c->adapt && c->warmup > 0 && kind != METRIC_UNIT && dim > 0;

    int bad = metric_init(&ch->h.metric, kind, dim) != 0;
    ch->h.p_sharp = malloc(sizeof(double) * (dim > 0 ? (size_t)dim : 1));
    bad |= !ch->h.p_sharp;
    bad |= hmc_point_init(&ch->z, dim) != 0;
    bad |= hmc_point_init(&ch->scratch, dim) != 0;
    if (c->hmc_steps == 0) {
        ch->nuts = nuts_work_new(dim, c->max_depth);
        bad |= !ch->nuts;
    }
    if (ch->metric_adapting) {
        bad |= adapt_metric_init(&ch->ma, kind, dim, c->warmup, c->adapt_init_buffer,
                                 c->adapt_term_buffer, c->adapt_window) != 0;
        ch->new_inv = malloc(sizeof(double) * metric_inv_size(kind, dim));
        bad |= !ch->new_inv;
    }
    if (bad) {
        snprintf(msg, len, "out of memory allocating the sampler for %d "
                 "parameters", dim);
        return -1;
    }
    if (c->inv_metric && dim > 0 && metric_set(&ch->h.metric, c->inv_metric) != 0) {
        snprintf(msg, len, "the given dense inverse metric is not positive "
                 "definite");
        return -1;
    }
    return 0;
}

static int all_finite(const double *x, int n)
{
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Draw initial values until lp and its gradient are finite. */
static int chain_initialise(Chain *ch, SamplerResult *out)
{
    const SamplerConfig *c = ch->c;
    int dim = ch->dim, random = 0;
    for (int i = 0; i < dim; i++)
        if (c->init_radius > 0 && (!c->init || isnan(c->init[i]))) random = 1;
    int tries = random ? 100 : 1;

    for (int k = 0; k < tries; k++) {
        for (int i = 0; i < dim; i++) {
            if (c->init && !isnan(c->init[i]))
                ch->z.q[i] = c->init[i];
            else
                ch->z.q[i] = c->init_radius > 0
                    ? gsl_ran_flat(ch->h.rng, -c->init_radius, c->init_radius) : 0.0;
        }
        hmc_evaluate(&ch->h, &ch->z);
        out->n_init_tries = k + 1;
        if (isfinite(ch->z.lp) && all_finite(ch->z.g, dim)) return 0;
    }

    out->bad_q = malloc(sizeof(double) * (dim > 0 ? (size_t)dim : 1));
    if (out->bad_q) memcpy(out->bad_q, ch->z.q, sizeof(double) * (size_t)dim);
    if (!isfinite(ch->z.lp)) {
        snprintf(out->message, sizeof out->message,
                 "no initial values with a finite log density found in %d "
                 "%s (last log density: %g); check the model's supports and "
                 "data, or give initial values", tries, tries == 1 ? "try" : "tries",
                 ch->z.lp);
    } else {
        int bad = 0;
        while (bad < dim && isfinite(ch->z.g[bad])) bad++;
        snprintf(out->message, sizeof out->message,
                 "no initial values with a finite gradient found in %d %s "
                 "(last try: gradient element %d is %g)", tries,
                 tries == 1 ? "try" : "tries", bad + 1, ch->z.g[bad]);
    }
    return -1;
}

static void chain_transition(Chain *ch, SamplerStats *st)
{
    if (ch->dim == 0) {
        st->lp = ch->z.lp;
        st->accept_stat = 1;
        st->step_size = ch->eps;
        st->energy = -ch->z.lp;
        st->treedepth = st->n_leapfrog = st->divergent = 0;
    } else if (ch->c->hmc_steps > 0) {
        hmc_static_transition(&ch->h, &ch->z, &ch->scratch, ch->eps,
                              ch->c->hmc_steps, st);
    } else {
        nuts_transition(ch->nuts, &ch->h, &ch->z, ch->eps, st);
    }
}

static void fill_state(const Chain *ch, SamplerResult *out)
{
    out->step_size = ch->eps;
    out->metric = ch->h.metric.kind;
    if (out->inv_metric) metric_copy_inv(&ch->h.metric, out->inv_metric);
}

/* After one warm-up transition: step size, then metric (Stan's
 * adapt_*_nuts::transition).  0, or -1 with out->message set. */
static int chain_adapt(Chain *ch, DualAveraging *da, const SamplerStats *st,
                       SamplerResult *out)
{
    adapt_da_learn(da, &ch->eps, st->accept_stat);
    if (!ch->metric_adapting || !adapt_metric_learn(&ch->ma, ch->z.q, ch->new_inv))
        return 0;
    if (metric_set(&ch->h.metric, ch->new_inv) != 0) {
        snprintf(out->message, sizeof out->message,
                 "numerical overflow in metric adaptation: the warm-up draws "
                 "reached extreme values on the unconstrained scale; the "
                 "posterior may be improper or extremely wide");
        return -1;
    }
    if (hmc_init_stepsize(&ch->h, &ch->z, &ch->scratch, &ch->eps, out->message,
                          sizeof out->message) != 0)
        return -1;
    adapt_da_restart(da, ch->eps);
    return 0;
}

static int should_stop(const SamplerConfig *c)
{
    return c->interrupt && *c->interrupt;
}

int sampler_run(const SamplerTarget *t, const SamplerConfig *c, gsl_rng *rng,
                SamplerDrawFn on_draw,
                void (*on_adapted)(void *user, const SamplerResult *r),
                void *user, SamplerResult *out)
{
    SamplerResult scratch_result;
    if (!out) out = &scratch_result;
    memset(out, 0, sizeof *out);
    if (!t || !t->logp_grad || !c || !rng) {
        snprintf(out->message, sizeof out->message,
                 "sampler_run needs a target with a log density function, a "
                 "configuration and an RNG");
        return SAMPLER_BAD_CONFIG;
    }
    if (sampler_config_check(c, t->dim, out->message, sizeof out->message) != 0)
        return SAMPLER_BAD_CONFIG;

    double t0 = thread_seconds();
    int status = SAMPLER_OK, sampling = 0;
    Chain ch;
    SamplerStats st;
    memset(&st, 0, sizeof st);
    int adapting = c->adapt && c->warmup > 0;
    DualAveraging da;

    if (chain_alloc(&ch, t, c, rng, out->message, sizeof out->message) != 0) {
        status = SAMPLER_ERROR;
        goto done;
    }
    out->inv_metric = malloc(sizeof(double) *
                             (metric_inv_size(ch.h.metric.kind, ch.dim) + 1));
    if (!out->inv_metric) {
        snprintf(out->message, sizeof out->message, "out of memory");
        status = SAMPLER_ERROR;
        goto done;
    }
    fill_state(&ch, out);

    if (chain_initialise(&ch, out) != 0) {
        status = SAMPLER_INIT_FAILED;
        goto done;
    }

    adapt_da_init(&da, c->adapt_delta, c->adapt_gamma, c->adapt_kappa,
                  c->adapt_t0, c->step_size);
    if (adapting && ch.dim > 0 &&
        hmc_init_stepsize(&ch.h, &ch.z, &ch.scratch, &ch.eps, out->message,
                          sizeof out->message) != 0) {
        status = SAMPLER_ERROR;
        goto done;
    }

    for (int i = 0; i < c->warmup; i++) {
        chain_transition(&ch, &st);
        if (adapting && ch.dim > 0 && chain_adapt(&ch, &da, &st, out) != 0) {
            status = SAMPLER_ERROR;
            goto done;
        }
        if (on_draw && i % c->thin == 0 && on_draw(user, i, 1, &st, ch.z.q)) {
            status = SAMPLER_STOPPED;
            goto done;
        }
        if (should_stop(c)) {
            status = SAMPLER_STOPPED;
            goto done;
        }
    }
    if (adapting && ch.dim > 0) ch.eps = adapt_da_final(&da);
    fill_state(&ch, out);
    out->n_grad_warmup = ch.h.n_grad;
    double t1 = thread_seconds();
    out->seconds_warmup = t1 - t0;
    if (adapting && on_adapted) on_adapted(user, out);
    t0 = t1;
    sampling = 1;

    for (int i = 0; i < c->samples; i++) {
        chain_transition(&ch, &st);
        out->n_divergent += st.divergent;
        out->n_max_depth += c->hmc_steps == 0 && ch.dim > 0 &&
                            st.treedepth >= c->max_depth;
        if (on_draw && i % c->thin == 0 && on_draw(user, i, 0, &st, ch.z.q)) {
            status = SAMPLER_STOPPED;
            break;
        }
        if (should_stop(c)) {
            status = SAMPLER_STOPPED;
            break;
        }
    }
    out->n_grad_sampling = ch.h.n_grad - out->n_grad_warmup;
    out->seconds_sampling = thread_seconds() - t0;

done:
    if (!sampling) {
        /* Stopped or failed during initialisation or warm-up: report the
         * state reached so far. */
        if (out->inv_metric && ch.h.metric.inv) fill_state(&ch, out);
        out->n_grad_warmup = ch.h.n_grad;
        out->seconds_warmup = thread_seconds() - t0;
    }
    chain_free(&ch);
    if (out == &scratch_result) sampler_result_free(out);
    return status;
}
