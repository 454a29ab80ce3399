/*
 * infer_cf.c - counterfactual queries by importance sampling on the twin
 * network.
 *
 * Each draw runs the model twice on one tape: the factual world under
 * condition (its evidence density is the draw's log weight) with the twin
 * handler recording every site's noise, then the counterfactual world
 * under do with the twin handler replaying that noise.  Factual sites are
 * reported by name, counterfactual ones as name_cf.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv_out.h"
#include "infer.h"
#include "model.h"
#include "twin.h"

typedef struct {
    int n;
    char **names;
    int *var, *off;
} Cols;

static int run_worlds(Exec *ex, TwinHandler *tw, ConditionHandler *cond, DoHandler *dos, Value *vars1,
                      unsigned char *bound1, const Program *p)
{
    exec_clear_handlers(ex);
    exec_push(ex, &tw->h);
    exec_push(ex, &cond->h);
    ex->policy = (ExecPolicy){1, 0, 1};
    twin_begin_world(tw, 1);
    if (exec_run_world(ex, 1) != 0)
        return -1;
    memcpy(vars1, ex->vars, sizeof(Value) * (size_t)p->nvars);
    memcpy(bound1, ex->bound, (size_t)p->nvars);
    double lw = ex->tape->target;
    exec_clear_handlers(ex);
    exec_push(ex, &tw->h);
    exec_push(ex, &dos->h);
    ex->policy = (ExecPolicy){1, 0, 0};
    twin_begin_world(tw, 2);
    if (exec_run_world(ex, 0) != 0)
        return -1;
    ex->tape->target = lw;
    return 0;
}

int infer_counterfactual(const InferOptions *o)
{
    const Program *p = o->prog;
    Tape tape;
    tape_init(&tape);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, infer_chain_seed(o->seed, 0));
    Exec ex;
    exec_init(&ex, p, o->data, &tape, rng);
    ConditionHandler cond;
    condition_init(&cond, o->data);
    TwinHandler tw;
    twin_init(&tw);
    Value *vars1 = calloc((size_t)p->nvars + 1, sizeof(Value));
    unsigned char *bound1 = calloc((size_t)p->nvars + 1, 1);
    int rc = 0;
    Cols f = {0}, c = {0};
    double *all = NULL;
    const char **names = NULL;
    if (run_worlds(&ex, &tw, &cond, o->dos, vars1, bound1, p) != 0) {
        rc = 2;
        goto out;
    }
    /* columns: the factual world's (without its evidence), then every
       reported site and node of the counterfactual world, suffixed _cf */
    {
        Value *v2 = ex.vars;
        unsigned char *b2 = ex.bound;
        ex.vars = vars1;
        ex.bound = bound1;
        f.n = model_columns(p, &ex, &f.names, &f.var, &f.off);
        ex.vars = v2;
        ex.bound = b2;
        c.n = model_columns(p, &ex, &c.names, &c.var, &c.off);
    }
    int ncols = 1 + f.n + c.n;
    names = calloc((size_t)ncols, sizeof(char *));
    names[0] = "log_weight__";
    for (int j = 0; j < f.n; j++)
        names[1 + j] = f.names[j];
    for (int j = 0; j < c.n; j++) {
        const char *nm = c.names[j], *dot = strchr(nm, '.');
        size_t len = strlen(nm);
        char *s = malloc(len + 4);
        if (dot)
            snprintf(s, len + 4, "%.*s_cf%s", (int)(dot - nm), nm, dot);
        else
            snprintf(s, len + 4, "%s_cf", nm);
        names[1 + f.n + j] = s;
    }
    int n = o->samples;
    all = calloc((size_t)n * ncols, sizeof(double));
    int got = 0;
    for (int i = 0; i < n && !cm_interrupted; i++) {
        if (i > 0 && run_worlds(&ex, &tw, &cond, o->dos, vars1, bound1, p) != 0) {
            rc = 2;
            break;
        }
        double *row = all + (size_t)i * ncols;
        row[0] = tape.target;
        for (int j = 0; j < f.n; j++)
            row[1 + j] = tape.val[vars1[f.var[j]].slot + f.off[j]];
        for (int j = 0; j < c.n; j++)
            row[1 + f.n + j] = tape.val[ex.vars[c.var[j]].slot + c.off[j]];
        got++;
    }
    if (rc == 0 && o->output) {
        CsvHeader h;
        csv_header_init(&h);
        csv_header_add(&h, 0, "model", "%s", o->model_name);
        csv_header_add(&h, 0, "method", "%s", "counterfactual (twin network, importance sampling)");
        csv_header_add(&h, 1, "num_samples", "%d", got);
        csv_header_run(&h, 1, o->data_file, o->seed, o->output);
        char err[512];
        CsvOut *csv = csv_out_open(o->output, &h, ncols, names, err, sizeof err);
        csv_header_free(&h);
        if (!csv) {
            fprintf(stderr, "cmrun: %s\n", err);
            rc = 2;
        } else {
            for (int i = 0; i < got && rc == 0; i++)
                if (csv_out_row(csv, all + (size_t)i * ncols) != 0)
                    rc = 1;
            if (rc == 0 && csv_out_close(csv, err, sizeof err) != 0) {
                fprintf(stderr, "cmrun: %s\n", err);
                rc = 1;
            } else if (rc != 0) {
                fprintf(stderr, "cmrun: %s\n", csv_out_error(csv));
                csv_out_abort(csv);
            }
        }
    }
    if (rc == 0 && got > 0) {
        InferOptions q = *o;
        const char **qs = NULL;
        if (o->query) { /* a query of y shows y and y_cf */
            /* the factual column only where it exists (evidence is not output) */
            qs = calloc((size_t)(2 * o->nquery), sizeof(char *));
            int nq = 0;
            for (int k = 0; k < o->nquery; k++) {
                size_t len = strlen(o->query[k]);
                for (int j = 0; j < f.n; j++)
                    if (!strncmp(f.names[j], o->query[k], len) &&
                        (f.names[j][len] == 0 || f.names[j][len] == '.')) {
                        qs[nq++] = o->query[k];
                        break;
                    }
                char *s = malloc(len + 4);
                sprintf(s, "%s_cf", o->query[k]);
                qs[nq++] = s;
            }
            q.query = qs;
            q.nquery = nq;
        }
        rc = infer_weighted_summary(&q, all, got, ncols, names + 1, rng);
        for (int k = 0; qs && k < q.nquery; k++)
            if (strstr(qs[k], "_cf"))
                free((char *)qs[k]);
        free(qs);
    }
out:
    if (names)
        for (int j = 0; j < c.n; j++)
            free((char *)names[1 + f.n + j]);
    free(names);
    free(all);
    if (f.names)
        model_free_columns(f.names, f.n, f.var, f.off);
    if (c.names)
        model_free_columns(c.names, c.n, c.var, c.off);
    free(vars1);
    free(bound1);
    twin_free(&tw);
    exec_free(&ex);
    tape_free(&tape);
    gsl_rng_free(rng);
    return rc;
}
