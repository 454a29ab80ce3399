/*
 * sample.c - what the executor does at a SAMPLE instruction.
 *
 * It builds the site's message (name, element, distribution, arguments,
 * declared shape and constraint), sends it through the handler stack, and
 * then applies the default effect that Pyro also has: draw a value if no
 * handler gave one (only where the policy allows it), add the log density
 * unless the site was intervened on or masked, and store the value so
 * that later statements read it.  A latent discrete site that no handler
 * gave a value goes to enum_site instead when the policy says to sum it
 * out; it then comes back to exec_sample_finish once per value.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "enumerate.h"
#include "exec.h"
#include "vops.h"

/* A multivariate distribution's arguments as the DArrs its row takes. */
static void dist_params(Exec *ex, const SiteMsg *m, DArr *p)
{
    for (int k = 0; k < m->nargs; k++) {
        p[k].x = ex->tape->val + m->args[k].slot;
        p[k].n = m->args[k].rank >= 1 ? m->args[k].dims[0] : 1;
        p[k].m = m->args[k].rank >= 2 ? m->args[k].dims[1] : 1;
    }
}

/* The shape of the site's value when sampled whole: declared, or implied
 * by the arguments (broadcast) or by a multivariate distribution. */
void exec_site_shape(Exec *ex, SiteMsg *m)
{
    if (m->shaped)
        return;
    m->shaped = 1;
    Value s = {0, 0, {1, 1}, 1, -1};
    const DistInfo *d = m->dist;
    if (m->elem >= 0) {
        m->shape = s;
        return;
    }
    if (d->lpdf) {
        for (int k = 0; k < m->nargs; k++)
            if (m->args[k].n > s.n || (m->args[k].n == s.n && m->args[k].rank > s.rank)) {
                s.rank = m->args[k].rank;
                s.dims[0] = m->args[k].dims[0];
                s.dims[1] = m->args[k].dims[1];
                s.n = m->args[k].n;
            }
    } else {
        DArr p[DIST_MAX_PARAMS];
        dist_params(ex, m, p);
        int rows = 1, cols = 1;
        char err[200] = "";
        if (d->mv_shape(p, &rows, &cols, err, sizeof err) != 0)
            exec_fail(ex, m->line, m->col, "%s for '%s': %s", d->name, m->name, err);
        s.rank = cols > 1 || d->value_kind == VK_MATRIX ? 2 : (d->value_kind == VK_INT ? 0 : 1);
        s.dims[0] = rows;
        s.dims[1] = cols;
        s.n = rows * cols;
    }
    m->shape = s;
}

static double arg_at(Exec *ex, const Value *a, int i) { return value_get(ex, *a, a->n == 1 ? 0 : i); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One prior draw for the message (constant slots). */
Value exec_draw(Exec *ex, SiteMsg *m)
{
    const DistInfo *d = m->dist;
    exec_site_shape(ex, m);
    Value v = value_new(ex, support_is_discrete(d->support) ? TY_INT : TY_REAL, m->shape.rank,
                        m->shape.dims[0], m->shape.dims[1], 0);
    double *out = ex->tape->val + v.slot;
    if (d->lpdf) {
        for (int k = 0; k < m->nargs; k++)
            if (m->args[k].n != 1 && m->args[k].n != v.n)
                exec_fail(ex, m->line, m->col, "'%s' has %d elements but argument '%s' of %s has %d",
                          m->name, v.n, d->param_names[k], d->name, m->args[k].n);
        if (!d->sample && d->doc && !strcmp(d->doc, "user-defined distribution"))
            exec_fail(ex, m->line, m->col,
                      "'%s' ~ %s cannot be drawn: the user-defined distribution has only a log "
                      "density, no sampler (give it a value with --given, or use another engine)",
                      m->name, d->name);
        if (!d->sample && ex->policy.placeholder) {
            /* checking shapes only: any point of the support will do */
            for (int i = 0; i < v.n; i++)
                out[i] = d->support == SUP_POSITIVE || d->support == SUP_NATURAL ? 1 : 0;
            return v;
        }
        if (!d->sample)
            exec_fail(ex, m->line, m->col,
                      "'%s' ~ %s cannot be drawn: %s is improper and has no sampler (give it a value "
                      "with --given, or use a proper prior)",
                      m->name, d->name, d->name);
        for (int i = 0; i < v.n; i++) {
            double p[DIST_MAX_PARAMS];
            for (int k = 0; k < m->nargs; k++)
                p[k] = arg_at(ex, &m->args[k], i);
            double lo = m->lo.slot >= 0 ? arg_at(ex, &m->lo, i) : -INFINITY;
            double hi = m->hi.slot >= 0 ? arg_at(ex, &m->hi, i) : INFINITY;
            double x;
            if ((lo > -INFINITY || hi < INFINITY) && d->quantile && d->cdf) {
                double flo = lo > -INFINITY ? d->cdf(lo, p, NULL) : 0;
                double fhi = hi < INFINITY ? d->cdf(hi, p, NULL) : 1;
                x = d->quantile(flo + (fhi - flo) * gsl_rng_uniform_pos(ex->rng), p);
            } else {
                int tries = 0;
                do {
                    x = d->sample(ex->rng, p);
                } while ((x < lo || x > hi) && ++tries < 10000);
                if (tries == 10000)
                    exec_fail(ex, m->line, m->col, "could not draw '%s' inside its truncation bounds",
                              m->name);
            }
            if (isnan(x) || isnan(d->lpdf(x, p, NULL, NULL))) {
                char args[256] = "";
                for (int k = 0; k < d->nparams; k++)
                    snprintf(args + strlen(args), sizeof args - strlen(args), "%s%s = %g", k ? ", " : "",
                             d->param_names[k], p[k]);
                exec_fail(ex, m->line, m->col, "'%s' ~ %s: invalid parameters (%s)", m->name, d->name, args);
            }
            out[i] = x;
        }
        if (m->con == CON_POSITIVE || m->con == CON_UNIT) {
            for (int i = 0; i < v.n; i++) {
                double p[DIST_MAX_PARAMS];
                for (int k = 0; k < m->nargs; k++)
                    p[k] = arg_at(ex, &m->args[k], i);
                int tries = 0;
                while ((out[i] <= 0 || (m->con == CON_UNIT && out[i] >= 1)) && tries++ < 10000)
                    out[i] = d->sample(ex->rng, p);
                if (tries >= 10000)
                    exec_fail(ex, m->line, m->col, "could not draw '%s' inside its constraint", m->name);
            }
        }
        if (m->con == CON_ORDERED || m->con == CON_POSITIVE_ORDERED) {
            /* iid draws sorted have exactly the restricted density */
            int tries = 0;
            while (m->con == CON_POSITIVE_ORDERED && tries++ < 10000) {
                int neg = 0;
                for (int i = 0; i < v.n; i++)
                    if (out[i] <= 0) {
                        double p[DIST_MAX_PARAMS];
                        for (int k = 0; k < m->nargs; k++)
                            p[k] = arg_at(ex, &m->args[k], i);
                        out[i] = d->sample(ex->rng, p);
                        neg = 1;
                    }
                if (!neg)
                    break;
            }
            qsort(out, (size_t)v.n, sizeof(double), cmp_double);
        }
    } else {
        DArr p[DIST_MAX_PARAMS];
        dist_params(ex, m, p);
        if (!d->mv_sample)
            exec_fail(ex, m->line, m->col, "%s has no sampler", d->name);
        d->mv_sample(ex->rng, p, out);
        for (int i = 0; i < v.n; i++)
            if (isnan(out[i]))
                exec_fail(ex, m->line, m->col, "'%s' ~ %s: invalid parameters", m->name, d->name);
    }
    return v;
}

static void add_density(Exec *ex, SiteMsg *m)
{
    const DistInfo *d = m->dist;
    Value x = m->value;
    int s[DIST_MAX_PARAMS + 3], n[DIST_MAX_PARAMS + 3];
    double scale = m->scale * ex->subsample_scale;
    if (d->lpdf) {
        s[0] = x.slot;
        n[0] = x.n;
        for (int k = 0; k < m->nargs; k++) {
            s[k + 1] = m->args[k].slot;
            n[k + 1] = m->args[k].n;
            if (n[k + 1] != 1 && n[k + 1] != x.n) {
                char dv[64], da[64];
                value_describe(x, dv, sizeof dv);
                value_describe(m->args[k], da, sizeof da);
                exec_fail(ex, m->line, m->col, "'%s' is %s but argument '%s' of %s is %s", m->name, dv,
                          d->param_names[k], d->name, da);
            }
        }
        int aux[3] = {x.n, 0, 0};
        tape_op(ex->tape, OP_LPDF, 0, 1 + m->nargs, s, n, aux, d, scale);
        if (m->lo.slot >= 0 || m->hi.slot >= 0) {
            Value lo = m->lo.slot >= 0 ? m->lo : value_const_scalar(ex, TY_REAL, -INFINITY);
            Value hi = m->hi.slot >= 0 ? m->hi : value_const_scalar(ex, TY_REAL, INFINITY);
            for (int i = 0; i < x.n; i++) { /* outside the bounds: impossible */
                double xi = value_get(ex, x, i);
                if (xi < arg_at(ex, &lo, i) || xi > arg_at(ex, &hi, i)) {
                    int one = 1, cs = value_const_scalar(ex, TY_REAL, -INFINITY).slot;
                    tape_op(ex->tape, OP_ACC, 0, 1, &cs, &one, NULL, NULL, 1);
                }
            }
            s[0] = lo.slot;
            n[0] = lo.n;
            s[1] = hi.slot;
            n[1] = hi.n;
            for (int k = 0; k < m->nargs; k++) {
                s[k + 2] = m->args[k].slot;
                n[k + 2] = m->args[k].n;
            }
            tape_op(ex->tape, OP_TRUNC, 0, 2 + m->nargs, s, n, aux, d, scale);
        }
    } else {
        s[0] = x.slot;
        n[0] = x.n;
        for (int k = 0; k < m->nargs; k++) {
            s[k + 1] = m->args[k].slot;
            n[k + 1] = m->args[k].n;
        }
        int aux[3] = {x.rank >= 1 ? x.dims[0] : 1, x.rank >= 2 ? x.dims[1] : 1, 0};
        tape_op(ex->tape, OP_LPDF_MV, 0, 1 + m->nargs, s, n, aux, d, scale);
    }
}

void exec_sample(Exec *ex, ExecFrame *f, const IrInstr *in)
{
    exec_sample_at(ex, f, (int)(in - f->code->code), NULL);
}

int exec_sample_at(Exec *ex, ExecFrame *f, int pc, const EnumScope *scope)
{
    const IrInstr *in = &f->code->code[pc];
    const IrVar *v = &ex->prog->vars[in->var];
    SiteMsg m;
    memset(&m, 0, sizeof m);
    m.kind = MSG_SAMPLE;
    m.var = in->var;
    m.name = v->name;
    m.dist = in->dist;
    m.scale = 1;
    m.con = v->con;
    m.line = in->line;
    m.col = in->col;
    m.elem = -1;
    m.lo.slot = m.hi.slot = -1;
    m.nargs = in->nargs - in->nidx - in->ndims;
    for (int k = 0; k < m.nargs; k++)
        m.args[k] = f->regs[in->args[in->nidx + k]];
    if (in->a >= 0)
        m.lo = f->regs[in->a];
    if (in->b >= 0)
        m.hi = f->regs[in->b];
    Value store = f->vars[in->var];
    int len = 0;
    if (in->nidx) {
        m.nidx = in->nidx;
        for (int k = 0; k < in->nidx; k++) {
            Value ix = f->regs[in->args[k]];
            double x = value_get(ex, ix, 0);
            if (value_isvar(ex, ix))
                ex->tape->dynamic = 1;
            m.idx[k] = (int)x;
        }
        if (store.slot < 0)
            exec_fail(ex, in->line, in->col, "'%s' has no storage; declare it first, e.g. '%s: real[N]'",
                      v->name, v->name);
        int off = 0, stride = store.n;
        for (int k = 0; k < in->nidx; k++) {
            stride /= store.dims[k];
            if (m.idx[k] < 1 || m.idx[k] > store.dims[k])
                exec_fail(ex, in->line, in->col, "index %d out of range for '%s' (size %d)", m.idx[k],
                          v->name, store.dims[k]);
            off += (m.idx[k] - 1) * stride;
        }
        len = stride;
        m.elem = off;
        m.shape = (Value){v->type.base, 0, {1, 1}, 1, -1};
        m.shaped = 1;
        if (len != 1)
            exec_fail(ex, in->line, in->col, "'%s' needs one index per dimension here", v->name);
    } else if (in->ndims) {
        int dims[2] = {1, 1};
        for (int k = 0; k < in->ndims; k++) {
            double x = value_get(ex, f->regs[in->args[in->nargs - in->ndims + k]], 0);
            if (x < 0 || x != floor(x))
                exec_fail(ex, in->line, in->col, "size of '%s' must be a non-negative int, got %g",
                          v->name, x);
            dims[k] = (int)x;
        }
        m.shape = (Value){v->type.base, (unsigned char)in->ndims, {dims[0], dims[1]}, dims[0] * dims[1], -1};
        m.shaped = 1;
    } else if (store.slot >= 0) {
        /* declared with `data` or `x: real[N]` before this statement */
        m.shape = store;
        m.shape.slot = -1;
        m.shaped = 1;
    }
    /* already bound by data / --given at the DATA instruction? */
    if (ex->bound[in->var]) {
        m.has_value = 1;
        m.observed = ex->bound[in->var] == 1;
        m.intervened = ex->bound[in->var] == 2;
        if (in->nidx)
            m.value = (Value){store.base, 0, {1, 1}, 1, store.slot + m.elem};
        else
            m.value = store;
    }
    exec_site_shape(ex, &m);
    /* handlers run even for bound sites, so that trace and counterfactual
       handlers see every site */
    int seen = 0;
    for (int i = 0; i < ex->nhandlers; i++) {
        seen = i + 1;
        if (ex->handlers[i]->process)
            ex->handlers[i]->process(ex->handlers[i], ex, &m);
        if (m.stop)
            break;
    }
    if (scope && m.is_param)
        enum_refuse_param(ex, &m, scope);
    if (!m.has_value && ex->policy.enumerate && support_is_discrete(m.dist->support))
        return enum_site(ex, f, pc, &m, seen, scope);
    exec_sample_finish(ex, f, in, &m, seen);
    return pc + 1;
}

/* The rest of a SAMPLE once the handlers have processed its message: the
 * default effect, the postprocessing, and the store.  An enumerated site
 * comes here once per value (enumerate.c). */
void exec_sample_finish(Exec *ex, ExecFrame *f, const IrInstr *in, SiteMsg *mp, int seen)
{
    const IrVar *v = &ex->prog->vars[in->var];
    Value store = f->vars[in->var];
    SiteMsg m = *mp;
    if (!m.has_value) {
        if (!ex->policy.draw_missing)
            exec_fail(ex, in->line, in->col, "site '%s' got no value from any handler", v->name);
        m.value = exec_draw(ex, &m);
        m.has_value = 1;
    }
    if (m.value.n != m.shape.n) {
        char want[64], got[64];
        value_describe(m.shape, want, sizeof want);
        value_describe(m.value, got, sizeof got);
        exec_fail(ex, in->line, in->col, "'%s' must be %s here, but its value is %s", v->name, want,
                  got);
    }
    if (!m.intervened && !m.masked &&
        ((m.observed && ex->policy.density_observed) || (!m.observed && ex->policy.density_latent)))
        add_density(ex, &m);
    ex->last_site_cut = m.intervened || m.masked;
    for (int i = seen - 1; i >= 0; i--)
        if (ex->handlers[i]->postprocess)
            ex->handlers[i]->postprocess(ex->handlers[i], ex, &m);
    /* store, so later statements read the value */
    if (in->nidx) {
        if (m.value.slot != store.slot + m.elem)
            tape_assign(ex->tape, store.slot + m.elem, m.value.slot, 1);
        if (m.observed && !ex->bound[in->var])
            ex->bound[in->var] = 1;
    } else {
        m.value.base = v->type.base;
        if (m.shape.rank == m.value.rank || m.value.n == m.shape.n) {
            m.value.rank = m.shape.rank;
            m.value.dims[0] = m.shape.dims[0];
            m.value.dims[1] = m.shape.dims[1];
        }
        f->vars[in->var] = m.value;
        if (!ex->bound[in->var])
            ex->bound[in->var] = m.observed ? 1 : m.intervened ? 2 : 0;
    }
}
