/*
 * infer_sim.c - engines that run the model forward: prior (predictive)
 * sampling and importance sampling by likelihood weighting.
 *
 * Both push do / condition / trace and let the executor draw every site
 * without a value.  Prior sampling adds no density; importance sampling
 * adds the density of the evidence only, so the tape's target after a run
 * is the log importance weight of that draw.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv_out.h"
#include "infer.h"
#include "model.h"
#include "summary.h"

typedef struct {
    Tape tape;
    Exec ex;
    gsl_rng *rng;
    ConditionHandler cond;
    TraceHandler trace;
    int ncols;
    char **names;
    int *col_var, *col_off;
} Sim;

static int sim_init(Sim *s, const InferOptions *o, int weight_evidence)
{
    memset(s, 0, sizeof *s);
    tape_init(&s->tape);
    s->rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(s->rng, infer_chain_seed(o->seed, 0));
    exec_init(&s->ex, o->prog, o->data, &s->tape, s->rng);
    s->ex.policy = (ExecPolicy){.draw_missing = 1, .density_latent = 0, .density_observed = weight_evidence, .placeholder = o->check_only};
    condition_init(&s->cond, o->data);
    trace_init(&s->trace);
    exec_push(&s->ex, &s->trace.h);
    exec_push(&s->ex, &s->cond.h);
    if (o->dos)
        exec_push(&s->ex, &o->dos->h);
    if (exec_run(&s->ex) != 0)
        return -1;
    s->ncols = model_columns(o->prog, &s->ex, &s->names, &s->col_var, &s->col_off);
    return 0;
}

static void sim_free(Sim *s)
{
    model_free_columns(s->names, s->ncols, s->col_var, s->col_off);
    exec_free(&s->ex);
    tape_free(&s->tape);
    trace_free(&s->trace);
    gsl_rng_free(s->rng);
}

/* One forward run into row[lead..]; returns the log weight, or NAN after a
 * reported error. */
static double sim_draw(Sim *s, const InferOptions *o, double *row, int lead)
{
    trace_clear(&s->trace);
    if (exec_run(&s->ex) != 0)
        return NAN;
    for (int j = 0; j < s->ncols; j++) {
        Value v = s->ex.vars[s->col_var[j]];
        if (v.slot < 0 || s->col_off[j] >= v.n) {
            fprintf(stderr, "cmrun: the shape of '%s' changed between draws; sizes that depend on "
                            "random values are not supported in output\n",
                    o->prog->vars[s->col_var[j]].name);
            return NAN;
        }
        row[lead + j] = model_column_value(&s->ex, o->prog, s->col_var[j], s->col_off[j]);
    }
    return s->tape.target;
}

/* Finish an engine's settings header with the run's lines and open the
 * output file (the header is freed; NULL after printing why). */
CsvOut *infer_csv_open(const InferOptions *o, CsvHeader *h, int ncols, const char *const *names)
{
    csv_header_run(h, 1, o->data_file, o->seed, o->output);
    char err[512];
    CsvOut *c = csv_out_open(o->output, h, ncols, names, err, sizeof err);
    csv_header_free(h);
    if (!c)
        fprintf(stderr, "cmrun: %s\n", err);
    return c;
}

static CsvOut *open_csv(const InferOptions *o, const char *method, int ncols, const char *const *names)
{
    if (!o->output)
        return NULL;
    CsvHeader h;
    csv_header_init(&h);
    csv_header_add(&h, 0, "model", "%s", o->model_name);
    csv_header_add(&h, 0, "method", "%s", method);
    csv_header_add(&h, 1, "num_samples", "%d", o->samples);
    return infer_csv_open(o, &h, ncols, names);
}

static int finish_csv(CsvOut *c)
{
    if (!c)
        return 0;
    char err[512];
    if (csv_out_close(c, err, sizeof err) != 0) {
        fprintf(stderr, "cmrun: %s\n", err);
        return 1;
    }
    return 0;
}

/* Summarise weighted draws (column 0 of each row is the log weight): the
 * effective sample size, and the table of a systematic resample. */
int infer_weighted_summary(const InferOptions *o, const double *all, int got, int ncols,
                           const char *const *names, gsl_rng *rng)
{
    double mx = -INFINITY, sw = 0, sw2 = 0;
    for (int i = 0; i < got; i++)
        if (all[(size_t)i * ncols] > mx)
            mx = all[(size_t)i * ncols];
    if (mx == -INFINITY || isnan(mx)) {
        fprintf(stderr, "cmrun: every draw has weight 0: the evidence is impossible under the "
                        "model (check --given values and the supports)\n");
        return 1;
    }
    double *w = malloc(sizeof(double) * (size_t)got);
    for (int i = 0; i < got; i++) {
        w[i] = exp(all[(size_t)i * ncols] - mx);
        sw += w[i];
    }
    for (int i = 0; i < got; i++) {
        w[i] /= sw;
        sw2 += w[i] * w[i];
    }
    double ess = 1 / sw2;
    Draws *d = draws_new(1, ncols - 1, names);
    double u = gsl_rng_uniform(rng) / got, cum = 0;
    int k = 0;
    for (int i = 0; i < got; i++) {
        cum += w[i];
        while (k < got && u + (double)k / got < cum) {
            draws_append(d, 0, all + (size_t)i * ncols + 1);
            k++;
        }
    }
    draws_finish(d);
    char title[256];
    snprintf(title, sizeof title,
             "Importance sampling: %d draws, effective sample size %.0f (summary of a systematic "
             "resample)",
             got, ess);
    int rc = infer_summary_independent(o, d, title);
    if (ess < 100 || ess < 0.01 * got)
        printf("Warning: effective sample size %.0f of %d draws is low; the estimates are "
               "unreliable. Draw more (--samples) or use --infer nuts.\n",
               ess, got);
    draws_free(d);
    free(w);
    return rc;
}

int infer_prior(const InferOptions *o)
{
    Sim s;
    if (sim_init(&s, o, 0) != 0) {
        sim_free(&s);
        return 2;
    }
    int ncols = 1 + s.ncols;
    const char **names = calloc((size_t)ncols, sizeof(char *));
    names[0] = "lp__";
    for (int j = 0; j < s.ncols; j++)
        names[1 + j] = s.names[j];
    CsvOut *csv = open_csv(o, "sample (fixed_param: prior predictive)", ncols, names);
    int rc = 0;
    if (o->output && !csv)
        rc = 2;
    Draws *d = draws_new(1, ncols, names);
    double *row = calloc((size_t)ncols, sizeof(double));
    /* the first (discovery) run is draw 1, so a seed fixes every draw */
    for (int i = 0; rc == 0 && i < o->samples && !cm_interrupted; i++) {
        if (i > 0 && isnan(sim_draw(&s, o, row, 1))) {
            rc = 2;
            break;
        }
        if (i == 0)
            for (int j = 0; j < s.ncols; j++)
                row[1 + j] = model_column_value(&s.ex, o->prog, s.col_var[j], s.col_off[j]);
        row[0] = 0;
        draws_append(d, 0, row);
        if (csv && csv_out_row(csv, row) != 0) {
            fprintf(stderr, "cmrun: %s\n", csv_out_error(csv));
            rc = 1;
        }
    }
    if (rc == 0)
        rc = finish_csv(csv);
    else if (csv)
        csv_out_abort(csv);
    draws_finish(d);
    if (rc == 0 && d->ndraws > 0)
        rc = infer_summary_independent(o, d, "Prior predictive draws (independent)");
    draws_free(d);
    free(row);
    free(names);
    sim_free(&s);
    return rc;
}

int infer_is(const InferOptions *o)
{
    Sim s;
    if (sim_init(&s, o, 1) != 0) {
        sim_free(&s);
        return 2;
    }
    int n = o->samples;
    int ncols = 1 + s.ncols;
    const char **names = calloc((size_t)ncols, sizeof(char *));
    names[0] = "log_weight__";
    for (int j = 0; j < s.ncols; j++)
        names[1 + j] = s.names[j];
    CsvOut *csv = open_csv(o, "importance sampling (likelihood weighting)", ncols, names);
    int rc = o->output && !csv ? 2 : 0;
    double *all = calloc((size_t)n * ncols, sizeof(double));
    int got = 0;
    for (int i = 0; rc == 0 && i < n && !cm_interrupted; i++) {
        double *row = all + (size_t)i * ncols;
        double lw = i == 0 ? s.tape.target : sim_draw(&s, o, row, 1);
        if (i == 0)
            for (int j = 0; j < s.ncols; j++)
                row[1 + j] = model_column_value(&s.ex, o->prog, s.col_var[j], s.col_off[j]);
        if (isnan(lw)) {
            rc = 2;
            break;
        }
        row[0] = lw;
        got++;
        if (csv && csv_out_row(csv, row) != 0) {
            fprintf(stderr, "cmrun: %s\n", csv_out_error(csv));
            rc = 1;
        }
    }
    if (rc == 0)
        rc = finish_csv(csv);
    else if (csv)
        csv_out_abort(csv);
    if (rc == 0 && got > 0)
        rc = infer_weighted_summary(o, all, got, ncols, (const char *const *)s.names, s.rng);
    free(all);
    free(names);
    sim_free(&s);
    return rc;
}

int infer_check_grad(const InferOptions *o)
{
    Model m;
    if (model_init(&m, o->prog, o->data, o->dos, o->seed) != 0) {
        model_free(&m);
        return 2;
    }
    int dim = m.dim;
    if (dim == 0) {
        printf("no latent continuous parameters: nothing to check\n");
        model_free(&m);
        return 0;
    }
    double *q = calloc((size_t)dim, sizeof(double)), *g = calloc((size_t)dim, sizeof(double));
    double *qq = calloc((size_t)dim, sizeof(double)), *worst = calloc((size_t)dim, sizeof(double));
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, o->seed);
    /* points uniform(-R, R) on the unconstrained scale, R from --init as
       NUTS draws its initial values (R = 0: the origin alone) */
    double radius = o->cfg.init_radius;
    int want = radius > 0 ? 3 : 1, points = 0;
    for (int tries = 0; points < want && tries < 100; tries++) {
        for (int i = 0; i < dim; i++)
            q[i] = radius > 0 ? (2 * gsl_rng_uniform(rng) - 1) * radius : 0;
        double lp = model_logp_grad(&m, q, g);
        if (!isfinite(lp))
            continue;
        points++;
        for (int i = 0; i < dim; i++) {
            /* the five-point stencil: truncation error O(h^4), so large,
               curved log densities do not need a tiny step */
            memcpy(qq, q, sizeof(double) * (size_t)dim);
            double h = 1e-3 * fmax(1, fabs(q[i])), f[4];
            static const double at[4] = {2, 1, -1, -2};
            for (int k = 0; k < 4; k++) {
                qq[i] = q[i] + at[k] * h;
                f[k] = model_logp(&m, qq);
            }
            double fd = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * h);
            double err = fabs(fd - g[i]) / fmax(1, fabs(fd));
            if (!(err <= worst[i]))
                worst[i] = err;
        }
    }
    int rc = 0;
    if (points == 0) {
        fprintf(stderr, radius > 0 ? "cmrun: --check-grad: no point with a finite log density found "
                                     "in 100 tries (--init %g)\n"
                                   : "cmrun: --check-grad: the log density is not finite at the "
                                     "origin (--init %g)\n", radius);
        rc = 1;
    } else {
        printf("Gradient check at %d %s (autodiff vs central differences):\n", points,
               radius > 0 ? (points == 1 ? "random point" : "random points") : "point (the origin)");
        printf("%-24s %14s\n", "parameter", "rel. error");
        double tol = 1e-5;
        for (int i = 0; i < dim; i++) {
            char name[64];
            int k = 0;
            for (int j = 0; j < i; j++)
                k += strcmp(model_param_site(&m, j), model_param_site(&m, i)) == 0;
            snprintf(name, sizeof name, "%s[%d]", model_param_site(&m, i), k + 1);
            printf("%-24s %14.3g%s\n", name, worst[i], worst[i] > tol || isnan(worst[i]) ? "  FAIL" : "");
            if (worst[i] > tol || isnan(worst[i]))
                rc = 1;
        }
        printf(rc ? "gradient check FAILED (tolerance %g)\n" : "gradient check passed (tolerance %g)\n", tol);
    }
    gsl_rng_free(rng);
    free(q);
    free(g);
    free(qq);
    free(worst);
    model_free(&m);
    return rc;
}
