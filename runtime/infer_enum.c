/*
 * infer_enum.c - exact inference by enumeration (`--infer enum`).
 *
 * For models whose latent sites are all discrete with finite support, the
 * enumerate handler gives each latent element a value from the current
 * assignment; one run per assignment yields its exact log joint density
 * (tape target: priors of the latent values plus the evidence).  An
 * odometer walks every assignment, using the support sizes the last run
 * reported, so supports that depend on earlier values work.  Normalising
 * gives exact posterior probabilities (or interventional ones under --do);
 * `--effect` enumerates the two worlds and subtracts exact expectations.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv_out.h"
#include "infer.h"
#include "model.h"

#define ENUM_MAX_POS 64
#define ENUM_MAX_RUNS 1000000

typedef struct {
    Handler h;
    int val[ENUM_MAX_POS], size[ENUM_MAX_POS], lo[ENUM_MAX_POS];
    int npos;     /* positions reached in this run */
    int len;      /* positions with an assigned value */
} EnumHandler;

static int support_of(Exec *ex, SiteMsg *m, int i, int *lo)
{
    const DistInfo *d = m->dist;
    *lo = 0;
    switch (d->support) {
    case SUP_BINARY:
        return 2;
    case SUP_INT_RANGE: {
        Value p = m->args[d->hi_param];
        if (d->param_kind[d->hi_param] == PK_VECTOR) {
            *lo = 1;
            return p.n;
        }
        return (int)value_get(ex, p, p.n == 1 ? 0 : i) + 1;
    }
    default:
        exec_fail(ex, m->line, m->col,
                  "--infer enum: '%s' ~ %s has %s support; enumeration needs every latent site "
                  "discrete and finite (use --infer is or nuts)",
                  m->name, d->name, support_is_discrete(d->support) ? "an infinite" : "a continuous");
    }
}

static void enum_process(Handler *h, Exec *ex, SiteMsg *m)
{
    EnumHandler *e = h->state;
    if (m->kind != MSG_SAMPLE || m->has_value)
        return;
    exec_site_shape(ex, m);
    if (!m->dist->lpdf && !(m->dist->support == SUP_INT_RANGE))
        exec_fail(ex, m->line, m->col, "--infer enum: '%s' ~ %s cannot be enumerated", m->name,
                  m->dist->name);
    Value v = value_new(ex, TY_INT, m->shape.rank, m->shape.dims[0], m->shape.dims[1], 0);
    for (int i = 0; i < v.n; i++) {
        if (e->npos == ENUM_MAX_POS)
            exec_fail(ex, m->line, m->col, "--infer enum: more than %d latent values to enumerate",
                      ENUM_MAX_POS);
        int lo, k = e->npos++;
        e->size[k] = support_of(ex, m, i, &lo);
        e->lo[k] = lo;
        if (k >= e->len) {
            e->val[k] = 0;
            e->len = k + 1;
        }
        if (e->val[k] >= e->size[k])
            e->val[k] = e->size[k] - 1;
        ex->tape->val[v.slot + i] = lo + e->val[k];
    }
    m->value = v;
    m->has_value = 1;
}

/* Next assignment; 0 when every one has been visited. */
static int odometer(EnumHandler *e)
{
    e->len = e->npos;
    for (int k = e->npos - 1; k >= 0; k--) {
        if (++e->val[k] < e->size[k]) {
            e->len = k + 1; /* later positions restart from their first value */
            return 1;
        }
        e->val[k] = 0;
    }
    return 0;
}

typedef struct {
    int ncols;
    char **names;
    int *var, *off;
    double *rows;  /* [run][1 + ncols]: log joint, values */
    int nrows, cap;
} Enumeration;

static int enumerate(const InferOptions *o, DoHandler *dos, Enumeration *out)
{
    Tape tape;
    tape_init(&tape);
    Exec ex;
    exec_init(&ex, o->prog, o->data, &tape, NULL);
    ex.policy = (ExecPolicy){.draw_missing = 0, .density_latent = 1, .density_observed = 1, .placeholder = 0};
    ConditionHandler cond;
    condition_init(&cond, o->data);
    EnumHandler eh;
    memset(&eh, 0, sizeof eh);
    eh.h = (Handler){"enumerate", enum_process, NULL, &eh};
    exec_push(&ex, &eh.h);
    exec_push(&ex, &cond.h);
    if (dos)
        exec_push(&ex, &dos->h);
    int rc = 0;
    memset(out, 0, sizeof *out);
    do {
        eh.npos = 0;
        if (exec_run(&ex) != 0) {
            rc = 2;
            break;
        }
        if (!out->names)
            out->ncols = model_columns(o->prog, &ex, &out->names, &out->var, &out->off);
        if (out->nrows == ENUM_MAX_RUNS) {
            fprintf(stderr, "cmrun: --infer enum: more than %d assignments; use --infer is\n",
                    ENUM_MAX_RUNS);
            rc = 2;
            break;
        }
        if (out->nrows == out->cap) {
            out->cap = out->cap ? 2 * out->cap : 256;
            out->rows = realloc(out->rows, sizeof(double) * (size_t)out->cap * (out->ncols + 1));
        }
        double *row = out->rows + (size_t)out->nrows * (out->ncols + 1);
        row[0] = tape.target;
        for (int j = 0; j < out->ncols; j++)
            row[1 + j] = model_column_value(&ex, o->prog, out->var[j], out->off[j]);
        out->nrows++;
    } while (odometer(&eh));
    exec_free(&ex);
    tape_free(&tape);
    return rc;
}

static void enumeration_free(Enumeration *e)
{
    if (e->names)
        model_free_columns(e->names, e->ncols, e->var, e->off);
    free(e->rows);
}

/* Normalise the log joints into probabilities in place; returns log Z. */
static double normalise(Enumeration *e)
{
    int w = e->ncols + 1;
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < e->nrows; i++)
        mx = fmax(mx, e->rows[(size_t)i * w]);
    if (mx == -INFINITY)
        return -INFINITY;
    for (int i = 0; i < e->nrows; i++)
        z += exp(e->rows[(size_t)i * w] - mx);
    for (int i = 0; i < e->nrows; i++)
        e->rows[(size_t)i * w] = exp(e->rows[(size_t)i * w] - mx) / z;
    return mx + log(z);
}

static double expect(const Enumeration *e, int j, double *sd)
{
    int w = e->ncols + 1;
    double m = 0, m2 = 0;
    for (int i = 0; i < e->nrows; i++) {
        double p = e->rows[(size_t)i * w], x = e->rows[(size_t)i * w + 1 + j];
        m += p * x;
        m2 += p * x * x;
    }
    if (sd)
        *sd = sqrt(fmax(0, m2 - m * m));
    return m;
}

static int selected(const InferOptions *o, const char *name)
{
    if (!o->query)
        return 1;
    for (int q = 0; q < o->nquery; q++) {
        size_t n = strlen(o->query[q]);
        if (!strncmp(name, o->query[q], n) && (name[n] == 0 || name[n] == '.'))
            return 1;
    }
    return 0;
}

static void print_exact(const InferOptions *o, const Enumeration *e, double logz)
{
    int w = e->ncols + 1;
    printf("Exact enumeration: %d assignments, log evidence %.6g\n", e->nrows, logz);
    printf("%-14s %12s %12s   distribution\n", "", "Mean", "StdDev");
    for (int j = 0; j < e->ncols; j++) {
        if (!selected(o, e->names[j]))
            continue;
        double sd, m = expect(e, j, &sd);
        printf("%-14s %12.6g %12.6g  ", e->names[j], m, sd);
        /* the exact distribution of columns with few values */
        double vals[8], probs[8];
        int nv = 0, few = 1;
        for (int i = 0; i < e->nrows && few; i++) {
            double x = e->rows[(size_t)i * w + 1 + j], p = e->rows[(size_t)i * w];
            int k = 0;
            while (k < nv && vals[k] != x)
                k++;
            if (k == nv) {
                if (nv == 8) {
                    few = 0;
                    break;
                }
                vals[nv] = x;
                probs[nv++] = 0;
            }
            probs[k] += p;
        }
        for (int k = 0; few && k < nv; k++)
            printf(" P(%g) = %.6g", vals[k], probs[k]);
        putchar('\n');
    }
}

int infer_enum(const InferOptions *o)
{
    if (o->cq && o->cq->counterfactual) {
        fprintf(stderr, "cmrun: --counterfactual needs the twin network's continuous noise: use --infer is\n");
        return 2;
    }
    Enumeration e;
    if (o->cq) {
        /* exact E[y | do(t=a)] - E[y | do(t=b)] (evidence conditions each world) */
        Enumeration b;
        int rc = enumerate(o, o->cq->effect_a, &e);
        if (rc == 0)
            rc = enumerate(o, o->cq->effect_b, &b);
        else
            memset(&b, 0, sizeof b);
        if (rc == 0) {
            double za = normalise(&e), zb = normalise(&b);
            int ja = -1, jb = -1;
            for (int j = 0; j < e.ncols; j++)
                if (!strcmp(e.names[j], o->cq->effect_on))
                    ja = j;
            for (int j = 0; j < b.ncols; j++)
                if (!strcmp(b.names[j], o->cq->effect_on))
                    jb = j;
            if (za == -INFINITY || zb == -INFINITY) {
                fprintf(stderr, "cmrun: the evidence is impossible under the model\n");
                rc = 1;
            } else if (ja < 0 || jb < 0) {
                fprintf(stderr, "cmrun: --on %s: enumeration reports scalar sites and nodes only\n",
                        o->cq->effect_on);
                rc = 2;
            } else {
                double ma = expect(&e, ja, NULL), mb = expect(&b, jb, NULL);
                printf("Exact enumeration: %d and %d assignments\n", e.nrows, b.nrows);
                printf("E[%s | do(%s)] = %.10g\nE[%s | do(%s)] = %.10g\neffect = %.10g\n",
                       o->cq->effect_on, o->cq->label_a, ma, o->cq->effect_on, o->cq->label_b, mb, ma - mb);
                if (o->output) { /* the exact answer as a one-row CSV */
                    const char *names[3] = {"effect", "y_do_a", "y_do_b"};
                    double row[3] = {ma - mb, ma, mb};
                    CsvHeader h;
                    csv_header_init(&h);
                    csv_header_add(&h, 0, "model", "%s", o->model_name);
                    csv_header_add(&h, 0, "method", "%s", "enumeration (exact effect)");
                    char err[512];
                    CsvOut *csv = csv_out_open(o->output, &h, 3, names, err, sizeof err);
                    csv_header_free(&h);
                    if (!csv || csv_out_row(csv, row) != 0 || csv_out_close(csv, err, sizeof err) != 0) {
                        fprintf(stderr, "cmrun: %s\n", err);
                        rc = 2;
                    }
                }
            }
        }
        enumeration_free(&e);
        enumeration_free(&b);
        return rc;
    }
    int rc = enumerate(o, o->dos, &e);
    if (rc == 0) {
        double logz = normalise(&e);
        if (logz == -INFINITY) {
            fprintf(stderr, "cmrun: every assignment has probability 0: the evidence is impossible\n");
            rc = 1;
        } else {
            print_exact(o, &e, logz);
            if (o->output) {
                const char **names = calloc((size_t)e.ncols + 1, sizeof(char *));
                names[0] = "prob__";
                for (int j = 0; j < e.ncols; j++)
                    names[1 + j] = e.names[j];
                CsvHeader h;
                csv_header_init(&h);
                csv_header_add(&h, 0, "model", "%s", o->model_name);
                csv_header_add(&h, 0, "method", "%s", "enumeration (exact)");
                csv_header_run(&h, 1, o->data_file, o->seed, o->output);
                char err[512];
                CsvOut *csv = csv_out_open(o->output, &h, e.ncols + 1, names, err, sizeof err);
                csv_header_free(&h);
                if (!csv) {
                    fprintf(stderr, "cmrun: %s\n", err);
                    rc = 2;
                } else {
                    for (int i = 0; i < e.nrows; i++)
                        csv_out_row(csv, e.rows + (size_t)i * (e.ncols + 1));
                    if (csv_out_close(csv, err, sizeof err) != 0) {
                        fprintf(stderr, "cmrun: %s\n", err);
                        rc = 1;
                    }
                }
                free(names);
            }
        }
    }
    enumeration_free(&e);
    return rc;
}
