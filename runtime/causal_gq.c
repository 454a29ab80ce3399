/*
 * causal_gq.c - counterfactual and effect columns at a draw.
 */
#include "causal_gq.h"

#include <stdlib.h>
#include <string.h>

#include "model.h"

static char *suffixed(const char *nm, const char *suf)
{
    const char *dot = strchr(nm, '.');
    size_t len = strlen(nm) + strlen(suf) + 1;
    char *s = malloc(len);
    if (dot)
        snprintf(s, len, "%.*s%s%s", (int)(dot - nm), nm, suf, dot);
    else
        snprintf(s, len, "%s%s", nm, suf);
    return s;
}

/* Mean of y over the selected units in the current world's values. */
static int unit_mean(CausalGq *g, double *out)
{
    Value y = g->te.ex.vars[g->on_var];
    if (y.slot < 0)
        return -1;
    double s = 0;
    int n = 0;
    for (int i = 0; i < y.n; i++)
        if (!g->q->has_where || where_holds(&g->q->where, &g->te, i)) {
            s += g->te.tape.val[y.slot + i];
            n++;
        }
    *out = n ? s / n : 0.0 / 0.0;
    return n;
}

int causal_gq_init(CausalGq *g, const CausalQuery *q, const Program *p, const DataSet *data,
                   const ParamHandler *layout, gsl_rng *rng, const double *q0)
{
    memset(g, 0, sizeof *g);
    g->q = q;
    twin_eval_init(&g->te, p, data, layout, rng);
    if (twin_eval_factual(&g->te, q0, NULL) != 0)
        return -1;
    int redraw = q->interventional || q->predictive;
    if (redraw) {
        /* downstream of the intervened sites (or of the observed ones),
           through the DAG's parents */
        g->downstream = calloc((size_t)p->nvars + 1, 1);
        for (int i = 0; q->interventional && i < q->world->n; i++) {
            int v = program_find_var(p, q->world->e[i].name);
            if (v >= 0)
                g->downstream[v] = 1;
        }
        for (int v = 0; q->predictive && v < p->nvars; v++)
            if (p->vars[v].role == VAR_SITE && g->te.bound1[v])
                g->downstream[v] = 1;
        for (int changed = 1; changed;) {
            changed = 0;
            for (int v = 0; v < p->nvars; v++)
                for (int k = 0; !g->downstream[v] && k < p->vars[v].nparents; k++)
                    if (g->downstream[p->vars[v].parents[k]])
                        g->downstream[v] = changed = 1;
        }
    }
    if (q->counterfactual || redraw) {
        if ((redraw ? twin_eval_predictive(&g->te, q->predictive ? NULL : q->world, g->downstream)
                    : twin_eval_world(&g->te, q->world)) != 0)
            return -1;
        char **names;
        int n = model_columns(p, &g->te.ex, &names, &g->var, &g->off);
        g->names = calloc((size_t)n + 1, sizeof(char *));
        int kept = 0;
        for (int j = 0; j < n; j++) {
            /* replicates: only what was redrawn (the rest repeats the draw) */
            if (q->predictive && !g->downstream[g->var[j]]) {
                free(names[j]);
                continue;
            }
            g->names[kept] = suffixed(names[j], q->counterfactual ? "_cf" : q->predictive ? "_rep" : "_do");
            g->var[kept] = g->var[j];
            g->off[kept] = g->off[j];
            kept++;
            free(names[j]);
        }
        free(names);
        g->ncols = kept;
        return 0;
    }
    g->on_var = program_find_var(p, q->effect_on);
    g->ncols = 3;
    g->names = calloc(4, sizeof(char *));
    g->names[0] = strdup("effect");
    char buf[256];
    snprintf(buf, sizeof buf, "%s_do_a", q->effect_on);
    g->names[1] = strdup(buf);
    snprintf(buf, sizeof buf, "%s_do_b", q->effect_on);
    g->names[2] = strdup(buf);
    return 0;
}

void causal_gq_free(CausalGq *g)
{
    for (int j = 0; j < g->ncols && g->names; j++)
        free(g->names[j]);
    free(g->names);
    free(g->var);
    free(g->off);
    free(g->downstream);
    twin_eval_free(&g->te);
}

int causal_gq_row(CausalGq *g, const double *q, double *row, double *logw)
{
    if (twin_eval_factual(&g->te, q, logw) != 0)
        return -1;
    if (g->q->counterfactual || g->q->interventional || g->q->predictive) {
        if ((g->q->interventional || g->q->predictive
                 ? twin_eval_predictive(&g->te, g->q->predictive ? NULL : g->q->world, g->downstream)
                 : twin_eval_world(&g->te, g->q->world)) != 0)
            return -1;
        for (int j = 0; j < g->ncols; j++) {
            Value v = g->te.ex.vars[g->var[j]];
            if (v.slot < 0 || g->off[j] >= v.n)
                return -1;
            row[j] = g->te.tape.val[v.slot + g->off[j]];
        }
        return 0;
    }
    double a, b;
    if (twin_eval_world(&g->te, g->q->effect_a) != 0 || unit_mean(g, &a) < 0)
        return -1;
    if (twin_eval_world(&g->te, g->q->effect_b) != 0 || unit_mean(g, &b) < 0)
        return -1;
    row[0] = a - b;
    row[1] = a;
    row[2] = b;
    return 0;
}
