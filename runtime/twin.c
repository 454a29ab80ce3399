/*
 * twin.c - abduction of exogenous noise and its replay in the twin world.
 * See twin.h for the noise model of each family.
 */
#include "twin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Location and scale parameter positions of the location-scale families
 * (scale-only families have loc = -1); -2 when the family is not one. */
static int loc_scale(const DistInfo *d, int *loc, int *scale, int *logx)
{
    static const struct {
        const char *name;
        int loc, scale, logx;
    } t[] = {{"Normal", 0, 1, 0},      {"StudentT", 1, 2, 0},    {"Cauchy", 0, 1, 0},
             {"Laplace", 0, 1, 0},     {"Logistic", 0, 1, 0},    {"LogNormal", 0, 1, 1},
             {"HalfNormal", -1, 0, 0}, {"HalfCauchy", -1, 0, 0}, {"HalfStudentT", -1, 1, 0}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(d->name, t[i].name) == 0) {
            *loc = t[i].loc;
            *scale = t[i].scale;
            *logx = t[i].logx;
            return 1;
        }
    return 0;
}

static double arg(Exec *ex, const SiteMsg *m, int k, int i)
{
    Value a = m->args[k];
    return value_get(ex, a, a.n == 1 ? 0 : i);
}

/* Cumulative probability of categories 1..k of a Categorical(-Logit) site. */
static double cat_cdf(Exec *ex, const SiteMsg *m, double k)
{
    Value p = m->args[0];
    int logit = strcmp(m->dist->name, "CategoricalLogit") == 0;
    double mx = -INFINITY, z = 0, s = 0;
    if (logit) {
        for (int i = 0; i < p.n; i++)
            mx = fmax(mx, value_get(ex, p, i));
        for (int i = 0; i < p.n; i++)
            z += exp(value_get(ex, p, i) - mx);
    }
    for (int i = 0; i < p.n && i < k; i++)
        s += logit ? exp(value_get(ex, p, i) - mx) / z : value_get(ex, p, i);
    return k >= p.n ? 1 : s;
}

static int is_categorical(const DistInfo *d)
{
    return strcmp(d->name, "Categorical") == 0 || strcmp(d->name, "CategoricalLogit") == 0;
}

static void record(Exec *ex, TwinHandler *t, SiteMsg *m)
{
    const DistInfo *d = m->dist;
    if (!d->lpdf && !is_categorical(d))
        exec_fail(ex, m->line, m->col,
                  "counterfactual through '%s' ~ %s: multivariate sites have no noise model; write it "
                  "with univariate noise (e.g. a Cholesky factor times Normal(0, 1) draws)",
                  m->name, d->name);
    for (int i = 0; i < m->value.n; i++) {
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 64;
            TwinNoise *ne = realloc(t->e, sizeof(TwinNoise) * (size_t)t->cap);
            if (!ne)
                exec_fail(ex, m->line, m->col, "out of memory");
            t->e = ne;
        }
        TwinNoise *e = &t->e[t->n++];
        e->var = m->var;
        e->elem = m->elem >= 0 ? m->elem : i;
        double x = value_get(ex, m->value, i);
        double p[DIST_MAX_PARAMS];
        for (int k = 0; k < m->nargs && d->lpdf; k++)
            p[k] = arg(ex, m, k, i);
        int loc, scale, logx;
        if (m->intervened) {
            e->kind = TWIN_UNIFORM;
            e->noise = gsl_rng_uniform_pos(ex->rng); /* never used by a do() site */
        } else if (is_categorical(d)) {
            double lo = cat_cdf(ex, m, x - 1), hi = cat_cdf(ex, m, x);
            e->kind = TWIN_UNIFORM;
            e->noise = lo + (hi - lo) * gsl_rng_uniform_pos(ex->rng);
        } else if (loc_scale(d, &loc, &scale, &logx)) {
            double l = loc >= 0 ? p[loc] : 0, s = p[scale];
            e->kind = loc >= 0 ? (logx ? TWIN_LOGLOCSCALE : TWIN_LOCSCALE) : TWIN_SCALE;
            e->noise = ((logx ? log(x) : x) - l) / s;
        } else if (!d->cdf || !d->quantile) {
            exec_fail(ex, m->line, m->col,
                      "counterfactual through '%s' ~ %s: the family has no CDF, so its noise cannot be "
                      "made explicit",
                      m->name, d->name);
        } else if (support_is_discrete(d->support)) {
            double lo = d->cdf(x - 1, p, NULL), hi = d->cdf(x, p, NULL);
            e->kind = TWIN_UNIFORM;
            e->noise = lo + (hi - lo) * gsl_rng_uniform_pos(ex->rng);
        } else {
            e->kind = TWIN_UNIFORM;
            e->noise = d->cdf(x, p, NULL);
        }
    }
}

static double replay_one(Exec *ex, const SiteMsg *m, const TwinNoise *e, int i)
{
    const DistInfo *d = m->dist;
    double p[DIST_MAX_PARAMS];
    for (int k = 0; k < m->nargs && d->lpdf; k++)
        p[k] = arg(ex, m, k, i);
    if (is_categorical(d)) {
        Value pv = m->args[0];
        for (int k = 1; k < pv.n; k++)
            if (e->noise <= cat_cdf(ex, m, k))
                return k;
        return pv.n;
    }
    int loc, scale, logx;
    if (e->kind != TWIN_UNIFORM && loc_scale(d, &loc, &scale, &logx)) {
        double l = loc >= 0 ? p[loc] : 0, s = p[scale];
        double y = l + s * e->noise;
        return logx ? exp(y) : y;
    }
    return d->quantile(e->noise, p);
}

static void predictive_process(TwinHandler *t, Exec *ex, SiteMsg *m)
{
    if (m->kind != MSG_SAMPLE || m->has_value || t->downstream[m->var])
        return; /* downstream of the intervention: a fresh draw */
    Value f = t->factual[m->var];
    if (f.slot < 0)
        return;
    if (m->elem >= 0)
        f = (Value){f.base, 0, {1, 1}, 1, f.slot + m->elem};
    m->value = f;
    m->has_value = 1;
    m->observed = 0;
    (void)ex;
}

static void twin_process(Handler *h, Exec *ex, SiteMsg *m)
{
    TwinHandler *t = h->state;
    if (t->world == 3) {
        predictive_process(t, ex, m);
        return;
    }
    if (t->world != 2 || m->kind != MSG_SAMPLE || m->has_value)
        return;
    exec_site_shape(ex, m);
    Value v = value_new(ex, support_is_discrete(m->dist->support) ? TY_INT : TY_REAL, m->shape.rank,
                        m->shape.dims[0], m->shape.dims[1], 0);
    int found = 0;
    for (int i = 0; i < v.n; i++) {
        int elem = m->elem >= 0 ? m->elem : i;
        const TwinNoise *e = NULL;
        for (int k = 0; k < t->n && !e; k++) /* usually the next entry */
        {
            const TwinNoise *c = &t->e[(t->cursor + k) % t->n];
            if (c->var == m->var && c->elem == elem) {
                e = c;
                t->cursor = (int)(c - t->e) + 1;
            }
        }
        if (!e)
            break;
        ex->tape->val[v.slot + i] = replay_one(ex, m, e, i);
        found++;
    }
    if (found != v.n)
        return; /* a site that only the counterfactual world reaches: fresh noise */
    m->value = v;
    m->has_value = 1;
    m->observed = 0;
}

static void twin_post(Handler *h, Exec *ex, SiteMsg *m)
{
    TwinHandler *t = h->state;
    if (t->world == 1 && m->kind == MSG_SAMPLE)
        record(ex, t, m);
}

void twin_init(TwinHandler *t)
{
    memset(t, 0, sizeof *t);
    t->h = (Handler){"twin", twin_process, twin_post, t};
}

void twin_free(TwinHandler *t)
{
    free(t->e);
    memset(t, 0, sizeof *t);
}

void twin_begin_world(TwinHandler *t, int world)
{
    t->world = world;
    t->cursor = 0;
    if (world == 1)
        t->n = 0;
}
