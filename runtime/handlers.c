/*
 * handlers.c - condition, do, param, trace, block, scale, mask, replay.
 *
 * Every policy about a site lives in a handler; the executor's default
 * effect (draw if no value, add the density unless intervened or masked)
 * is the only behaviour outside them.  A new kind of query is a new
 * handler, never a special case in exec.c.
 */
#include "handlers.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tape.h"

/* ---- condition ---- */

static Value value_from_data(Exec *ex, const DataVar *dv, int elem, SiteMsg *m)
{
    if (elem >= 0) {
        if ((size_t)elem >= dv->n)
            exec_fail(ex, m->line, m->col, "'%s' from %s has %zu elements; element %d is needed", m->name,
                      dv->origin ? dv->origin : "the data", dv->n, elem + 1);
        double x = dv->x[elem];
        if (!isfinite(x))
            exec_fail(ex, m->line, m->col, "'%s' from %s: element %d is not finite", m->name,
                      dv->origin ? dv->origin : "the data", elem + 1);
        return value_const_scalar(ex, dv->type == DATA_INT ? TY_INT : TY_REAL, x);
    }
    Value v = value_new(ex, dv->type == DATA_INT ? TY_INT : TY_REAL, dv->rank > 2 ? 2 : dv->rank,
                        dv->rank >= 1 ? dv->dims[0] : 1, dv->rank >= 2 ? dv->dims[1] : 1, 0);
    if ((size_t)v.n != dv->n)
        exec_fail(ex, m->line, m->col, "'%s' from %s has more than 2 dimensions", m->name,
                  dv->origin ? dv->origin : "the data");
    for (size_t i = 0; i < dv->n && !dv->all_finite; i++)
        if (!isfinite(dv->x[i]))
            exec_fail(ex, m->line, m->col, "'%s' from %s: element %zu is not finite", m->name,
                      dv->origin ? dv->origin : "the data", i + 1);
    memcpy(ex->tape->val + v.slot, dv->x, sizeof(double) * dv->n);
    return v;
}

static void condition_process(Handler *h, Exec *ex, SiteMsg *m)
{
    ConditionHandler *c = h->state;
    if (m->has_value || !c->data)
        return;
    const DataVar *dv = data_find(c->data, m->name);
    if (!dv)
        return;
    m->value = value_from_data(ex, dv, m->kind == MSG_SAMPLE ? m->elem : -1, m);
    m->has_value = 1;
    m->observed = 1;
}

void condition_init(ConditionHandler *c, const DataSet *data)
{
    memset(c, 0, sizeof *c);
    c->h = (Handler){"condition", condition_process, NULL, c};
    c->data = data;
}

/* ---- do ---- */

int support_contains(const DistInfo *d, double x)
{
    switch (d->support) {
    case SUP_POSITIVE: return x > 0;
    case SUP_UNIT: return x > 0 && x < 1;
    case SUP_BINARY: return x == 0 || x == 1;
    case SUP_NATURAL: return x >= 0 && x == floor(x);
    case SUP_INT_RANGE: return x == floor(x);
    default: return isfinite(x);
    }
}

static void do_process(Handler *h, Exec *ex, SiteMsg *m)
{
    DoHandler *d = h->state;
    for (int i = 0; i < d->n; i++) {
        DoEntry *e = &d->e[i];
        if (strcmp(e->name, m->name) != 0)
            continue;
        int elem = -1;
        if (e->nidx) {
            if (m->kind == MSG_BIND)
                continue; /* element interventions apply at each element's SAMPLE */
            if (m->nidx != e->nidx)
                continue;
            int match = 1;
            for (int k = 0; k < e->nidx; k++)
                match &= m->idx[k] == e->idx[k];
            if (!match)
                continue;
        } else if (m->elem >= 0) {
            elem = e->value.n == 1 ? 0 : m->elem;
        }
        if (e->value.n == 1 && elem < 0 && m->kind == MSG_SAMPLE) {
            /* a scalar intervention on a vector site applies to every element */
            exec_site_shape(ex, m);
            Value v = value_new(ex, m->shape.base, m->shape.rank, m->shape.dims[0], m->shape.dims[1], 0);
            for (int k = 0; k < v.n; k++)
                ex->tape->val[v.slot + k] = e->value.x[0];
            m->value = v;
        } else if (m->kind == MSG_BIND && e->value.n == 1 && m->shape.n > 1) {
            Value v = value_new(ex, TY_REAL, m->shape.rank, m->shape.dims[0], m->shape.dims[1], 0);
            for (int k = 0; k < v.n; k++)
                ex->tape->val[v.slot + k] = e->value.x[0];
            m->value = v;
        } else {
            DataVar dv = e->value;
            dv.origin = "--do";
            dv.name = e->name;
            m->value = value_from_data(ex, &dv, elem, m);
        }
        if (m->dist)
            for (int k = 0; k < m->value.n; k++) {
                double x = value_get(ex, m->value, k);
                if (!support_contains(m->dist, x))
                    exec_fail(ex, m->line, m->col, "--do %s=%g is outside the support of %s", m->name, x,
                              m->dist->name);
            }
        m->has_value = 1;
        m->intervened = 1;
        m->observed = 0;
        e->used = 1;
        return;
    }
}

void do_init(DoHandler *d)
{
    memset(d, 0, sizeof *d);
    d->h = (Handler){"do", do_process, NULL, d};
}

int do_add(DoHandler *d, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        snprintf(err, errlen, "--do '%s': expected name=value (e.g. --do x=1 or --do 't[3]=0')", arg);
        return -1;
    }
    DoEntry e;
    memset(&e, 0, sizeof e);
    size_t nl = (size_t)(eq - arg);
    const char *br = memchr(arg, '[', nl);
    size_t namelen = br ? (size_t)(br - arg) : nl;
    e.name = strndup(arg, namelen);
    if (br) {
        char *end;
        const char *p = br + 1;
        while (e.nidx < 2) {
            long v = strtol(p, &end, 10);
            if (end == p || v < 1) {
                snprintf(err, errlen, "--do '%s': bad index (expected name[i]=value, i >= 1)", arg);
                free(e.name);
                return -1;
            }
            e.idx[e.nidx++] = (int)v;
            p = end;
            while (*p == ' ')
                p++;
            if (*p == ',') {
                p++;
                continue;
            }
            break;
        }
        if (*p != ']' || p + 1 != eq) {
            snprintf(err, errlen, "--do '%s': bad index (expected name[i]=value)", arg);
            free(e.name);
            return -1;
        }
    }
    if (data_parse_value(eq + 1, e.name, &e.value, err, errlen) != 0) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "--do %s: %s", e.name, err);
        snprintf(err, errlen, "%s", tmp);
        free(e.name);
        return -1;
    }
    DoEntry *ne = realloc(d->e, sizeof(DoEntry) * (size_t)(d->n + 1));
    if (!ne) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->e = ne;
    d->e[d->n++] = e;
    return 0;
}

int do_check(const DoHandler *d, const Program *p, char *err, size_t errlen)
{
    for (int i = 0; i < d->n; i++) {
        int v = program_find_var(p, d->e[i].name);
        if (v < 0 || p->vars[v].role != VAR_SITE) {
            const char *cands[256];
            size_t n = 0;
            for (int k = 0; k < p->nvars && n < 256; k++)
                if (p->vars[k].role == VAR_SITE)
                    cands[n++] = p->vars[k].name;
            const char *s = diag_suggest(d->e[i].name, cands, n);
            if (v >= 0)
                snprintf(err, errlen, "--do %s: '%s' is %s, not a sampled site", d->e[i].name, d->e[i].name,
                         p->vars[v].role == VAR_DATA ? "data" : "a deterministic node");
            else if (s)
                snprintf(err, errlen, "--do %s: no site named '%s'; did you mean '%s'?", d->e[i].name,
                         d->e[i].name, s);
            else
                snprintf(err, errlen, "--do %s: no site named '%s'", d->e[i].name, d->e[i].name);
            return -1;
        }
    }
    return 0;
}

void do_free(DoHandler *d)
{
    for (int i = 0; i < d->n; i++) {
        free(d->e[i].name);
        data_var_free(&d->e[i].value);
    }
    free(d->e);
    d->e = NULL;
    d->n = 0;
}

/* ---- param ---- */

void param_init(ParamHandler *p);

static int unconstrained_size(const SiteMsg *m)
{
    if (m->con == CON_SIMPLEX || m->dist->support == SUP_SIMPLEX)
        return m->shape.n - 1;
    if (m->dist->support == SUP_CHOL_CORR)
        return m->shape.dims[0] * (m->shape.dims[0] - 1) / 2;
    return m->shape.n;
}

static double arg0(Exec *ex, Value v) { return value_get(ex, v, 0); }

/* Map unconstrained slots u (size k) to the site's support. */
static Value constrain(Exec *ex, SiteMsg *m, int u, int k)
{
    const DistInfo *d = m->dist;
    Value out = m->shape;
    out.base = TY_REAL;
    int n = m->shape.n;
    int in[3], inn[3];
    in[0] = u;
    inn[0] = k;
    Constraint con = m->con;
    Support sup = d->support;
    /* truncation bounds intersect the support */
    Value lo = {TY_REAL, 0, {1, 1}, 1, -1}, hi = lo;
    if (sup == SUP_POSITIVE)
        lo = value_const_scalar(ex, TY_REAL, 0);
    else if (sup == SUP_UNIT) {
        lo = value_const_scalar(ex, TY_REAL, 0);
        hi = value_const_scalar(ex, TY_REAL, 1);
    } else if (sup == SUP_INTERVAL) {
        lo = m->args[d->lo_param];
        hi = m->args[d->hi_param];
    } else if (sup == SUP_LOWER) {
        lo = m->args[d->lo_param];
    }
    if (m->lo.slot >= 0 && (lo.slot < 0 || arg0(ex, m->lo) > arg0(ex, lo)))
        lo = m->lo;
    if (m->hi.slot >= 0 && (hi.slot < 0 || arg0(ex, m->hi) < arg0(ex, hi)))
        hi = m->hi;
    if (con == CON_POSITIVE && lo.slot < 0)
        lo = value_const_scalar(ex, TY_REAL, 0);
    if (con == CON_UNIT) {
        lo = value_const_scalar(ex, TY_REAL, 0);
        hi = value_const_scalar(ex, TY_REAL, 1);
    }
    OpCode code;
    int nin = 1;
    if (con == CON_ORDERED) {
        code = OP_B_ORDERED;
    } else if (con == CON_POSITIVE_ORDERED) {
        code = OP_B_POS_ORDERED;
    } else if (con == CON_SIMPLEX || sup == SUP_SIMPLEX) {
        code = OP_B_SIMPLEX;
    } else if (sup == SUP_CHOL_CORR) {
        int K = m->shape.dims[0];
        if (K > 64 || m->shape.dims[1] != K)
            exec_fail(ex, m->line, m->col, "'%s': a Cholesky factor of a correlation matrix must be "
                      "square with at most 64 rows", m->name);
        int aux[3] = {K, 0, 0};
        out.slot = tape_op(ex->tape, OP_B_CHOL_CORR, n, 1, in, inn, aux, NULL, 0);
        return out;
    } else if (lo.slot >= 0 && hi.slot >= 0) {
        code = OP_B_INTERVAL;
        in[1] = lo.slot;
        inn[1] = lo.n;
        in[2] = hi.slot;
        inn[2] = hi.n;
        nin = 3;
    } else if (lo.slot >= 0) {
        code = OP_B_LOWER;
        in[1] = lo.slot;
        inn[1] = lo.n;
        nin = 2;
    } else if (hi.slot >= 0) {
        code = OP_B_UPPER;
        in[1] = hi.slot;
        inn[1] = hi.n;
        nin = 2;
    } else {
        out.slot = u; /* the real line: identity */
        return out;
    }
    for (int i = 1; i < nin; i++)
        if (inn[i] != 1 && inn[i] != n)
            exec_fail(ex, m->line, m->col, "'%s': the bounds' size (%d) does not match the site's (%d)",
                      m->name, inn[i], n);
    out.slot = tape_op(ex->tape, code, n, nin, in, inn, NULL, NULL, 0);
    return out;
}

static void param_process(Handler *h, Exec *ex, SiteMsg *m)
{
    ParamHandler *p = h->state;
    if (m->kind != MSG_SAMPLE || m->has_value)
        return;
    if (support_is_discrete(m->dist->support) && ex->policy.enumerate)
        return; /* no value: the executor sums it out (enumerate.c) */
    if (support_is_discrete(m->dist->support)) /* a twin world: no enumeration there */
        exec_fail(ex, m->line, m->col,
                  "'%s' ~ %s is a latent discrete site: counterfactual, effect and interventional "
                  "worlds under NUTS, HMC or SVI do not sum discrete sites out; observe it "
                  "(--given), or use --infer is (the default for --counterfactual) or --infer enum",
                  m->name, m->dist->name);
    exec_site_shape(ex, m);
    int k = unconstrained_size(m);
    ParamBlock *b;
    if (p->discovering) {
        if (p->nblocks == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 16;
            ParamBlock *nb = realloc(p->blocks, sizeof(ParamBlock) * (size_t)p->cap);
            if (!nb)
                exec_fail(ex, m->line, m->col, "out of memory");
            p->blocks = nb;
        }
        b = &p->blocks[p->nblocks++];
        b->var = m->var;
        b->elem = m->elem;
        b->offset = p->dim;
        b->size = k;
        p->dim += k;
    } else {
        if (p->cursor >= p->nblocks || p->blocks[p->cursor].var != m->var ||
            p->blocks[p->cursor].elem != m->elem || p->blocks[p->cursor].size != k)
            exec_fail(ex, m->line, m->col,
                      "the model's latent sites changed between runs (at '%s'): sites whose existence "
                      "or size depends on a parameter are not supported",
                      m->name);
        b = &p->blocks[p->cursor++];
    }
    int u = tape_inputs(ex->tape, k);
    if (p->capslots < b->offset + k) {
        int nc = p->capslots ? p->capslots : 64;
        while (nc < b->offset + k)
            nc *= 2;
        int *ns = realloc(p->slots, sizeof(int) * (size_t)nc);
        if (!ns)
            exec_fail(ex, m->line, m->col, "out of memory");
        p->slots = ns;
        p->capslots = nc;
    }
    for (int i = 0; i < k; i++) {
        ex->tape->val[u + i] = p->q ? p->q[b->offset + i] : 0;
        p->slots[b->offset + i] = u + i;
    }
    m->value = constrain(ex, m, u, k);
    m->has_value = 1;
    m->is_param = 1;
}

void param_init(ParamHandler *p)
{
    memset(p, 0, sizeof *p);
    p->h = (Handler){"param", param_process, NULL, p};
    p->discovering = 1;
}

void param_begin_run(ParamHandler *p, const double *q)
{
    p->q = q;
    p->cursor = 0;
    if (p->discovering && p->nblocks) /* a second run: the layout is fixed */
        p->discovering = 0;
}

void param_free(ParamHandler *p)
{
    free(p->blocks);
    free(p->slots);
    memset(p, 0, sizeof *p);
}

/* ---- trace ---- */

static void trace_post(Handler *h, Exec *ex, SiteMsg *m)
{
    (void)ex;
    TraceHandler *t = h->state;
    if (m->kind != MSG_SAMPLE)
        return;
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        TraceEntry *ne = realloc(t->e, sizeof(TraceEntry) * (size_t)t->cap);
        if (!ne)
            exec_fail(ex, m->line, m->col, "out of memory");
        t->e = ne;
    }
    TraceEntry *e = &t->e[t->n++];
    e->var = m->var;
    e->elem = m->elem;
    e->dist = m->dist;
    e->value = m->value;
    e->observed = m->observed;
    e->intervened = m->intervened;
    e->is_param = m->is_param;
    e->scale = m->scale;
    e->nargs = m->nargs;
    memcpy(e->args, m->args, sizeof e->args);
    e->lo = m->lo;
    e->hi = m->hi;
    e->line = m->line;
    e->col = m->col;
}

void trace_init(TraceHandler *t)
{
    memset(t, 0, sizeof *t);
    t->h = (Handler){"trace", NULL, trace_post, t};
}
void trace_clear(TraceHandler *t) { t->n = 0; }
void trace_free(TraceHandler *t)
{
    free(t->e);
    t->e = NULL;
    t->n = t->cap = 0;
}

/* ---- block, scale, mask, replay ---- */

static int named(const char *const *names, int n, const char *name)
{
    if (!names)
        return 1;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

static void block_process(Handler *h, Exec *ex, SiteMsg *m)
{
    (void)ex;
    BlockHandler *b = h->state;
    if (named(b->names, b->n, m->name))
        m->stop = 1;
}
void block_init(BlockHandler *b, const char *const *names, int n)
{
    b->h = (Handler){"block", block_process, NULL, b};
    b->names = names;
    b->n = n;
}

static void scale_process(Handler *h, Exec *ex, SiteMsg *m)
{
    (void)ex;
    m->scale *= ((ScaleHandler *)h->state)->scale;
}
void scale_init(ScaleHandler *s, double scale)
{
    s->h = (Handler){"scale", scale_process, NULL, s};
    s->scale = scale;
}

static void mask_process(Handler *h, Exec *ex, SiteMsg *m)
{
    (void)ex;
    MaskHandler *k = h->state;
    if (named(k->names, k->n, m->name))
        m->masked = 1;
}
void mask_init(MaskHandler *m, const char *const *names, int n)
{
    m->h = (Handler){"mask", mask_process, NULL, m};
    m->names = names;
    m->n = n;
}

static void replay_process(Handler *h, Exec *ex, SiteMsg *m)
{
    (void)ex;
    ReplayHandler *r = h->state;
    if (m->has_value || m->kind != MSG_SAMPLE)
        return;
    for (int i = 0; i < r->from->n; i++) {
        const TraceEntry *e = &r->from->e[i];
        if (e->var == m->var && e->elem == m->elem && !e->observed) {
            m->value = e->value;
            m->has_value = 1;
            m->is_param = e->is_param;
            return;
        }
    }
}
void replay_init(ReplayHandler *r, const TraceHandler *from)
{
    r->h = (Handler){"replay", replay_process, NULL, r};
    r->from = from;
}
