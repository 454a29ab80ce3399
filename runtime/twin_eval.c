/*
 * twin_eval.c - factual and counterfactual worlds at a point.
 */
#include "twin_eval.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void twin_eval_init(TwinEval *t, const Program *p, const DataSet *data, const ParamHandler *layout,
                    gsl_rng *rng)
{
    memset(t, 0, sizeof *t);
    t->prog = p;
    tape_init(&t->tape);
    exec_init(&t->ex, p, data, &t->tape, rng);
    condition_init(&t->cond, data);
    twin_init(&t->tw);
    param_init(&t->param);
    if (layout) {
        /* replay the model's layout: same blocks, our own slots */
        t->use_param = 1;
        t->param.blocks = layout->blocks;
        t->param.nblocks = layout->nblocks;
        t->param.dim = layout->dim;
        t->param.discovering = 0;
    }
    t->vars1 = calloc((size_t)p->nvars + 1, sizeof(Value));
    t->bound1 = calloc((size_t)p->nvars + 1, 1);
}

void twin_eval_free(TwinEval *t)
{
    t->param.blocks = NULL; /* borrowed */
    param_free(&t->param);
    twin_free(&t->tw);
    exec_free(&t->ex);
    tape_free(&t->tape);
    free(t->vars1);
    free(t->bound1);
}

int twin_eval_factual(TwinEval *t, const double *q, double *logw)
{
    Exec *ex = &t->ex;
    exec_clear_handlers(ex);
    exec_push(ex, &t->tw.h);
    if (t->use_param) {
        param_begin_run(&t->param, q);
        t->param.discovering = 0;
        exec_push(ex, &t->param.h);
    }
    exec_push(ex, &t->cond.h);
    ex->policy = (ExecPolicy){.draw_missing = 1, .density_latent = 0, .density_observed = 1, .placeholder = 0};
    twin_begin_world(&t->tw, 1);
    if (exec_run_world(ex, 1) != 0)
        return -1;
    memcpy(t->vars1, ex->vars, sizeof(Value) * (size_t)t->prog->nvars);
    memcpy(t->bound1, ex->bound, (size_t)t->prog->nvars);
    if (logw)
        *logw = t->tape.target;
    return 0;
}

int twin_eval_world(TwinEval *t, DoHandler *dos)
{
    Exec *ex = &t->ex;
    exec_clear_handlers(ex);
    exec_push(ex, &t->tw.h);
    if (dos)
        exec_push(ex, &dos->h);
    ex->policy = (ExecPolicy){.draw_missing = 1, .density_latent = 0, .density_observed = 0, .placeholder = 0};
    twin_begin_world(&t->tw, 2);
    double target = t->tape.target;
    int rc = exec_run_world(ex, 0);
    t->tape.target = target;
    return rc;
}

int twin_eval_predictive(TwinEval *t, DoHandler *dos, const unsigned char *downstream)
{
    Exec *ex = &t->ex;
    exec_clear_handlers(ex);
    exec_push(ex, &t->tw.h);
    if (dos)
        exec_push(ex, &dos->h);
    ex->policy = (ExecPolicy){.draw_missing = 1, .density_latent = 0, .density_observed = 0, .placeholder = 0};
    t->tw.world = 3;
    t->tw.downstream = downstream;
    t->tw.factual = t->vars1;
    double target = t->tape.target;
    int rc = exec_run_world(ex, 0);
    t->tape.target = target;
    return rc;
}

int where_parse(WhereClause *w, const Program *p, const char *text, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    const char *s = text;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        char name[128];
        int n = 0;
        while ((isalnum((unsigned char)*s) || *s == '_') && n < 127)
            name[n++] = *s++;
        name[n] = 0;
        if (!n) {
            snprintf(err, errlen, "--where '%s': expected a site name at '%s'", text, s);
            return -1;
        }
        int v = program_find_var(p, name);
        if (v < 0) {
            snprintf(err, errlen, "--where '%s': no site or data named '%s'", text, name);
            return -1;
        }
        while (isspace((unsigned char)*s))
            s++;
        int op;
        if (s[0] == '<' && s[1] == '=') op = 'l', s += 2;
        else if (s[0] == '>' && s[1] == '=') op = 'g', s += 2;
        else if (s[0] == '=' && s[1] == '=') op = '=', s += 2;
        else if (s[0] == '!' && s[1] == '=') op = '!', s += 2;
        else if (s[0] == '<' || s[0] == '>') op = *s++;
        else {
            snprintf(err, errlen, "--where '%s': expected <, <=, >, >=, == or != after '%s'", text, name);
            return -1;
        }
        char *end;
        double x = strtod(s, &end);
        if (end == s) {
            snprintf(err, errlen, "--where '%s': expected a number after the comparison", text);
            return -1;
        }
        s = end;
        if (w->nterms == 8) {
            snprintf(err, errlen, "--where '%s': at most 8 terms", text);
            return -1;
        }
        w->var[w->nterms] = v;
        w->op[w->nterms] = op;
        w->value[w->nterms++] = x;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            return 0;
        if (s[0] != '&' || s[1] != '&') {
            snprintf(err, errlen, "--where '%s': terms are joined with && (at '%s')", text, s);
            return -1;
        }
        s += 2;
    }
}

int where_holds(const WhereClause *w, const TwinEval *t, int i)
{
    for (int k = 0; k < w->nterms; k++) {
        Value v = t->vars1[w->var[k]];
        if (v.slot < 0)
            return 0;
        double x = t->tape.val[v.slot + (v.n == 1 ? 0 : i)], c = w->value[k];
        int ok;
        switch (w->op[k]) {
        case '<': ok = x < c; break;
        case '>': ok = x > c; break;
        case 'l': ok = x <= c; break;
        case 'g': ok = x >= c; break;
        case '=': ok = x == c; break;
        default: ok = x != c; break;
        }
        if (!ok)
            return 0;
    }
    return 1;
}
