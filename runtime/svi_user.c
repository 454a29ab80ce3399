/*
 * svi_user.c - the ELBO of a guide written in cm, its gradient, the fit,
 * and the checks that the guide fits the model (svi_user.h explains the
 * estimator).
 *
 * Two Execs share one Tape: the guide's and the model's.  Each particle
 * resets the tape and runs both, which records -log q(z) + log p(x, z) in
 * the tape's target with every dependence on theta; no tape replay is
 * attempted, so guides and models whose control flow reads a draw need no
 * special case, at the price of re-walking the IR per particle.
 *
 * Handlers, not special cases, do the work:
 *   guide   answers `param` sites with tape inputs (mapped to their
 *           constraint), draws reparameterisable sites as a recorded
 *           transform of standard noise, scales every guide density by -1
 *           (the target collects log p - log q), and records each draw;
 *   replay  gives each latent model site the guide's value, matched by
 *           name (the two Programs number their variables differently);
 *           innermost come do and condition, so data and --do win.
 *
 * Why the score-function surrogate is added after the model run: L, the
 * particle's ELBO, is only known then; the tape evaluates eagerly, so the
 * surrogate (L - b) log q(z) is one more density op on the already
 * recorded arguments, weighted by L - b, and only its gradient is used.
 *
 * Reparameterisable families: location-scale ones (Normal, StudentT with
 * a constant nu, Cauchy, Laplace, Logistic: loc + scale * standard draw),
 * LogNormal (exp of that), the half families (scale * |standard draw|),
 * Exponential (standard draw / rate), Uniform (a + (b - a) u) and the
 * multivariate normals (mu + L eps, L = chol(Sigma) on the tape).  A site
 * with truncation bounds or an ordering constraint, or a family outside
 * this list (discrete ones, Gamma, Beta, Dirichlet, ...), is drawn by the
 * executor's sampler and uses the score function.
 */
#include "svi_user.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>

#include "enumerate.h"
#include "model.h"
#include "tape.h"

#define BASELINE_DECAY 0.9   /* Pyro's default baseline_beta */

typedef enum { RP_LOCSCALE, RP_LOG_LOCSCALE, RP_HALF, RP_RATE, RP_UNIFORM, RP_MVN, RP_MVN_CHOL } RpKind;

typedef struct {
    const char *name;
    RpKind kind;
    int loc, scale;          /* parameter indices (-1 none); Uniform: a, b */
    int shape;               /* a shape parameter that must be constant, or -1 */
} RpFamily;

static const RpFamily rp_families[] = {
    {"Normal", RP_LOCSCALE, 0, 1, -1},
    {"StudentT", RP_LOCSCALE, 1, 2, 0},
    {"Cauchy", RP_LOCSCALE, 0, 1, -1},
    {"Laplace", RP_LOCSCALE, 0, 1, -1},
    {"Logistic", RP_LOCSCALE, 0, 1, -1},
    {"LogNormal", RP_LOG_LOCSCALE, 0, 1, -1},
    {"HalfNormal", RP_HALF, -1, 0, -1},
    {"HalfCauchy", RP_HALF, -1, 0, -1},
    {"HalfStudentT", RP_HALF, -1, 1, 0},
    {"Exponential", RP_RATE, -1, 0, -1},
    {"Uniform", RP_UNIFORM, 0, 1, -1},
    {"MultivariateNormal", RP_MVN, 0, 1, -1},
    {"MultivariateNormalCholesky", RP_MVN_CHOL, 0, 1, -1},
};

/* One guide sample message of the last run. */
typedef struct {
    int var, elem;
    const DistInfo *dist;
    Value value, args[DIST_MAX_PARAMS], lo, hi;
    int nargs;
    int reparam;
    Constraint con;
    int line, col;
} GuideDraw;


/* Where parameter i lives: theta[offset .. offset+size) and, in the
 * current run, tape inputs from slot. */
typedef struct {
    int offset, size;
    int rank, dims[2];
    int slot;
} ParamSlot;

/* Per guide variable: what the report and the checks need. */
typedef struct {
    int sampled;             /* drawn in the checking run */
    int reparam;             /* every draw was reparameterised */
    int line, col;           /* its first sample statement */
} SiteInfo;

struct SviUser {
    const Program *model;
    const CmGuide *g;
    Tape tape;
    gsl_rng *rng;
    Exec gex, mex;
    Handler guide_h, replay_h;
    ConditionHandler cond;
    DoHandler *dos;
    int *gvar_of;            /* per model variable: the guide variable of that name, or -1 */
    ParamSlot *ps;
    int laid_out;
    int dim;
    double *theta;
    GuideDraw *draws;
    int ndraws, capdraws;
    TraceHandler mtrace;     /* the model's sample messages in the checking run */
    int checking;
    SiteInfo *sites;         /* per guide variable */
    int *site_order;         /* guide variables that are sample sites, in program order */
    int nsites;
    double ema;              /* running average of L (biased, as Adam's moments) */
    long seen;               /* particles in the average */
    double *lk, *rk, *gk;    /* per particle: L, pathwise and score gradients */
    int capk;
    char **col_names;
    int *col_var, *col_off;
    int ncols;
    /* --predictive: replicate columns NAME_rep, read after a run in which
       every observed site (and what it feeds) is drawn afresh */
    char **rep_names;
    int *rep_var, *rep_off;
    int nrep;
};

static void *grow_array(void *p, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return p;
    int c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(p, size * (size_t)c);
    if (!q) {
        fprintf(stderr, "cmrun: out of memory\n");
        exit(3);
    }
    *cap = c;
    return q;
}

/* ---- the guide handler: parameters and reparameterised draws ------------------- */

static int param_index(const SviUser *u, int var)
{
    const CmGuideParam *p = cm_guide_param_of(u->g, var);
    return p ? (int)(p - u->g->params) : -1;
}

/* The unconstrained value of one initial value; fails the run outside the
 * constraint. */
static double unconstrain(Exec *ex, const CmGuideParam *p, double x)
{
    const char *bad = NULL;
    if (!isfinite(x))
        bad = "finite";
    else if ((p->con == CON_POSITIVE || p->con == CON_SIMPLEX) && !(x > 0))
        bad = "positive";
    else if (p->con == CON_UNIT && !(x > 0 && x < 1))
        bad = "in (0, 1)";
    if (bad)
        exec_fail(ex, p->line, p->col, "param '%s': the initial value %g is not %s", p->name, x, bad);
    if (p->con == CON_POSITIVE || p->con == CON_SIMPLEX)
        return log(x); /* softmax(log x) = x / sum(x): a simplex start is normalised */
    if (p->con == CON_UNIT)
        return log(x) - log1p(-x);
    return x;
}

static void lay_out_param(SviUser *u, Exec *ex, SiteMsg *m, int i)
{
    const CmGuideParam *p = &u->g->params[i];
    ParamSlot *ps = &u->ps[i];
    int n = m->shape.n;
    if (p->init_var < 0 || p->var < 0)
        exec_fail(ex, p->line, p->col, "param '%s' was not compiled into the guide", p->name);
    Value init = ex->vars[p->init_var];
    if (init.slot < 0 || (init.n != 1 && init.n != n)) {
        char want[64];
        value_describe(m->shape, want, sizeof want);
        exec_fail(ex, p->line, p->col, "param '%s' is %s but its initial value has %d elements (give "
                  "one value for all, or %d)", p->name, want, init.n, n);
    }
    ps->offset = u->dim;
    ps->size = n;
    ps->rank = m->shape.rank;
    ps->dims[0] = m->shape.dims[0];
    ps->dims[1] = m->shape.dims[1];
    u->dim += n;
    double *nt = realloc(u->theta, sizeof(double) * (size_t)(u->dim + 1));
    if (!nt)
        exec_fail(ex, p->line, p->col, "out of memory");
    u->theta = nt;
    for (int k = 0; k < n; k++)
        u->theta[ps->offset + k] = unconstrain(ex, p, value_get(ex, init, init.n == 1 ? 0 : k));
}

/* A `param` site: tape inputs from theta, mapped to the constraint. */
static void give_param(SviUser *u, Exec *ex, SiteMsg *m, int i)
{
    const CmGuideParam *p = &u->g->params[i];
    ParamSlot *ps = &u->ps[i];
    exec_site_shape(ex, m);
    if (!u->laid_out)
        lay_out_param(u, ex, m, i);
    else if (m->shape.n != ps->size)
        exec_fail(ex, p->line, p->col, "param '%s' changed size between runs (%d, then %d elements)",
                  p->name, ps->size, m->shape.n);
    int n = ps->size;
    int in = tape_inputs(ex->tape, n);
    for (int k = 0; k < n; k++)
        ex->tape->val[in + k] = u->theta[ps->offset + k];
    ps->slot = in;
    int out = in;
    OpCode code = p->con == CON_POSITIVE ? OP_EXP : p->con == CON_UNIT ? OP_SIGMOID
                  : p->con == CON_SIMPLEX ? OP_SOFTMAX : OP_COPY;
    if (code != OP_COPY && n > 0)
        out = tape_op(ex->tape, code, n, 1, &in, &n, NULL, NULL, 0);
    m->value = (Value){TY_REAL, m->shape.rank, {m->shape.dims[0], m->shape.dims[1]}, n, out};
    m->has_value = 1;
    m->intervened = 1; /* a parameter of q: no density */
}

static const RpFamily *rp_family(const DistInfo *d)
{
    for (size_t i = 0; i < sizeof rp_families / sizeof *rp_families; i++)
        if (strcmp(rp_families[i].name, d->name) == 0)
            return &rp_families[i];
    return NULL;
}

static int op2(Exec *ex, OpCode code, int n, Value a, int b, int nb)
{
    int in[2] = {a.slot, b}, inn[2] = {a.n, nb};
    return tape_op(ex->tape, code, n, 2, in, inn, NULL, NULL, 0);
}

/* Standard noise for element i of a site of family f (constants). */
static double standard_draw(Exec *ex, SiteMsg *m, const RpFamily *f, int i)
{
    const DistInfo *d = m->dist;
    double p[DIST_MAX_PARAMS] = {0};
    switch (f->kind) {
    case RP_LOCSCALE:
    case RP_HALF:
        for (int k = 0; k < m->nargs; k++)
            p[k] = value_get(ex, m->args[k], m->args[k].n == 1 ? 0 : i);
        if (f->loc >= 0)
            p[f->loc] = 0;
        p[f->scale] = 1;
        return f->kind == RP_HALF ? fabs(d->sample(ex->rng, p)) : d->sample(ex->rng, p);
    case RP_LOG_LOCSCALE:
        return gsl_ran_ugaussian(ex->rng);
    case RP_RATE:
        return gsl_ran_exponential(ex->rng, 1.0);
    case RP_UNIFORM:
        return gsl_rng_uniform_pos(ex->rng);
    default:
        return gsl_ran_ugaussian(ex->rng);
    }
}

/* Give the site value = transform(args, noise) on the tape, if its family
 * allows; otherwise leave it to the executor's sampler (score function). */
static void reparameterise(Exec *ex, SiteMsg *m, Constraint con)
{
    const RpFamily *f = rp_family(m->dist);
    if (!f || m->lo.slot >= 0 || m->hi.slot >= 0 || con == CON_ORDERED ||
        con == CON_POSITIVE_ORDERED || con == CON_SIMPLEX)
        return;
    int n = m->shape.n;
    if (f->kind != RP_MVN && f->kind != RP_MVN_CHOL) {
        for (int k = 0; k < m->nargs; k++)
            if (m->args[k].n != 1 && m->args[k].n != n)
                return; /* the executor names the mismatch */
        if (f->shape >= 0 && value_isvar(ex, m->args[f->shape]))
            return; /* d value / d nu has no simple path */
    }
    double *noise = malloc(sizeof(double) * (size_t)(n + 1));
    if (!noise)
        exec_fail(ex, m->line, m->col, "out of memory");
    for (int i = 0; i < n; i++)
        noise[i] = standard_draw(ex, m, f, i);
    int eps = tape_consts(ex->tape, noise, n);
    free(noise);
    Value loc = f->loc >= 0 ? m->args[f->loc] : m->args[0], scale = m->args[f->scale];
    int out;
    switch (f->kind) {
    case RP_LOCSCALE:
    case RP_LOG_LOCSCALE:
        out = op2(ex, OP_ADD, n, loc, op2(ex, OP_MUL, n, scale, eps, n), n);
        if (f->kind == RP_LOG_LOCSCALE)
            out = tape_op(ex->tape, OP_EXP, n, 1, &out, &n, NULL, NULL, 0);
        break;
    case RP_HALF:
        out = op2(ex, OP_MUL, n, scale, eps, n);
        break;
    case RP_RATE: {
        int in[2] = {eps, scale.slot}, inn[2] = {n, scale.n};
        out = tape_op(ex->tape, OP_DIV, n, 2, in, inn, NULL, NULL, 0);
        break;
    }
    case RP_UNIFORM: {
        int nw = loc.n > scale.n ? loc.n : scale.n;
        int in[2] = {scale.slot, loc.slot}, inn[2] = {scale.n, loc.n};
        int width = tape_op(ex->tape, OP_SUB, nw, 2, in, inn, NULL, NULL, 0);
        Value w = {TY_REAL, 0, {nw, 1}, nw, width};
        out = op2(ex, OP_ADD, n, loc, op2(ex, OP_MUL, n, w, eps, n), n);
        break;
    }
    default: { /* mu + L eps */
        Value mu = m->args[0], sig = m->args[1];
        if (sig.n != n * n || (mu.n != n && mu.n != 1))
            return; /* the executor reports the shapes */
        int aux[3] = {n, n, 0}, chol = sig.slot, nn = n * n;
        if (f->kind == RP_MVN)
            chol = tape_op(ex->tape, OP_CHOLESKY, nn, 1, &chol, &nn, aux, NULL, 0);
        int in[2] = {chol, eps}, inn[2] = {nn, n};
        int lz = tape_op(ex->tape, OP_MATVEC, n, 2, in, inn, aux, NULL, 0);
        out = op2(ex, OP_ADD, n, mu, lz, n);
        break;
    }
    }
    m->value = (Value){TY_REAL, m->shape.rank, {m->shape.dims[0], m->shape.dims[1]}, n, out};
    m->has_value = 1;
    m->is_param = 1; /* marks "reparameterised" for guide_post */
}

static void guide_process(Handler *h, Exec *ex, SiteMsg *m)
{
    SviUser *u = h->state;
    if (m->kind != MSG_SAMPLE || m->has_value)
        return;
    int i = param_index(u, m->var);
    if (i >= 0) {
        give_param(u, ex, m, i);
        return;
    }
    m->scale = -1; /* the target collects log p - log q */
    reparameterise(ex, m, ex->prog->vars[m->var].con);
}

static void guide_post(Handler *h, Exec *ex, SiteMsg *m)
{
    SviUser *u = h->state;
    (void)ex;
    if (m->kind != MSG_SAMPLE || param_index(u, m->var) >= 0)
        return;
    u->draws = grow_array(u->draws, &u->capdraws, u->ndraws + 1, sizeof(GuideDraw));
    GuideDraw *d = &u->draws[u->ndraws++];
    d->var = m->var;
    d->elem = m->elem;
    d->dist = m->dist;
    d->value = m->value;
    memcpy(d->args, m->args, sizeof d->args);
    d->nargs = m->nargs;
    d->lo = m->lo;
    d->hi = m->hi;
    d->reparam = m->is_param;
    d->con = ex->prog->vars[m->var].con;
    d->line = m->line;
    d->col = m->col;
}

/* ---- the model's replay handler --------------------------------------------- */

static void replay_process(Handler *h, Exec *ex, SiteMsg *m)
{
    SviUser *u = h->state;
    if (m->kind != MSG_SAMPLE || m->has_value)
        return;
    int gv = u->gvar_of[m->var];
    if (gv < 0)
        return;
    Value v = u->gex.vars[gv];
    if (v.slot < 0)
        return; /* the guide did not sample it in this run */
    const CmGuide *g = u->g;
    if (u->checking && (m->elem >= 0 ? m->elem >= v.n : v.n != m->shape.n))
        return; /* a prior draw; check_guide() names both shapes */
    if (m->elem >= 0) {
        if (m->elem >= v.n)
            exec_fail(ex, m->line, m->col,
                      "model site '%s' needs element %d but the guide's '%s' has %d (%s:%d:%d): the "
                      "shapes differ", m->name, m->elem + 1, m->name, v.n, g->src->path,
                      u->sites[gv].line, u->sites[gv].col);
        m->value = (Value){v.base, 0, {1, 1}, 1, v.slot + m->elem};
    } else {
        if (v.n != m->shape.n) {
            char want[64], got[64];
            value_describe(m->shape, want, sizeof want);
            value_describe(v, got, sizeof got);
            exec_fail(ex, m->line, m->col, "guide site '%s' (%s:%d:%d) is %s but model site '%s' is %s",
                      m->name, g->src->path, u->sites[gv].line, u->sites[gv].col, got, m->name, want);
        }
        m->value = v;
    }
    m->has_value = 1;
    m->is_param = 1;
}

/* ---- supports -------------------------------------------------------------- */

typedef enum { SK_CONT, SK_DISC, SK_SIMPLEX, SK_CHOL, SK_COUNTS } SupKind;

typedef struct {
    SupKind kind;
    double lo, hi;
    int ordered;             /* 1 ordered, 2 positive ordered */
} Sup;

/* Smallest (widest = 1) or largest element of an argument. */
static double arg_bound(const Exec *ex, Value v, int widest_low)
{
    double b = value_get(ex, v, 0);
    for (int i = 1; i < v.n; i++) {
        double x = value_get(ex, v, i);
        b = widest_low ? fmin(b, x) : fmax(b, x);
    }
    return b;
}

/* The support of a site; `wide` picks the widest bounds over elements (a
 * guide's), else the narrowest (a model's). */
static Sup site_support(const Exec *ex, const DistInfo *d, const Value *args, Value lo, Value hi,
                        Constraint con, int wide)
{
    Sup s = {SK_CONT, -INFINITY, INFINITY, 0};
    switch (d->support) {
    case SUP_POSITIVE: s.lo = 0; break;
    case SUP_UNIT: s.lo = 0; s.hi = 1; break;
    case SUP_INTERVAL:
        s.lo = arg_bound(ex, args[d->lo_param], wide);
        s.hi = arg_bound(ex, args[d->hi_param], !wide);
        break;
    case SUP_LOWER: s.lo = arg_bound(ex, args[d->lo_param], wide); break;
    case SUP_SIMPLEX: s.kind = SK_SIMPLEX; break;
    case SUP_CHOL_CORR: s.kind = SK_CHOL; break;
    case SUP_BINARY: s.kind = SK_DISC; s.lo = 0; s.hi = 1; break;
    case SUP_NATURAL: s.kind = SK_DISC; s.lo = 0; break;
    case SUP_INT_RANGE:
        s.kind = SK_DISC;
        if (d->hi_param >= 0 && d->param_kind[d->hi_param] != PK_VECTOR) {
            s.lo = 0; /* Binomial: 0..n */
            s.hi = arg_bound(ex, args[d->hi_param], !wide);
        } else {
            s.lo = 1; /* Categorical: 1..K, K the probability vector's length */
            s.hi = args[0].n;
        }
        break;
    case SUP_COUNT_VECTOR: s.kind = SK_COUNTS; break;
    default: break;
    }
    if (lo.slot >= 0)
        s.lo = fmax(s.lo, arg_bound(ex, lo, wide));
    if (hi.slot >= 0)
        s.hi = fmin(s.hi, arg_bound(ex, hi, !wide));
    if (con == CON_POSITIVE)
        s.lo = fmax(s.lo, 0);
    if (con == CON_UNIT) {
        s.lo = fmax(s.lo, 0);
        s.hi = fmin(s.hi, 1);
    }
    if (con == CON_SIMPLEX)
        s.kind = SK_SIMPLEX;
    s.ordered = con == CON_ORDERED ? 1 : con == CON_POSITIVE_ORDERED ? 2 : 0;
    if (s.ordered == 2)
        s.lo = fmax(s.lo, 0);
    return s;
}

static void describe_support(Sup s, char *buf, size_t n)
{
    const char *ord = s.ordered == 1 ? "ordered " : s.ordered == 2 ? "positive ordered " : "";
    if (s.kind == SK_SIMPLEX)
        snprintf(buf, n, "a simplex");
    else if (s.kind == SK_CHOL)
        snprintf(buf, n, "a Cholesky factor of a correlation matrix");
    else if (s.kind == SK_COUNTS)
        snprintf(buf, n, "a vector of counts");
    else if (s.kind == SK_DISC && s.lo == 0 && s.hi == 1)
        snprintf(buf, n, "{0, 1}");
    else if (s.kind == SK_DISC && isinf(s.hi))
        snprintf(buf, n, "{%g, %g, ...}", s.lo, s.lo + 1);
    else if (s.kind == SK_DISC)
        snprintf(buf, n, "{%g..%g}", s.lo, s.hi);
    else if (s.ordered == 2 || (isinf(s.lo) && isinf(s.hi)))
        snprintf(buf, n, "%s%s", ord, s.ordered == 2 ? "vector" : "real");
    else if (s.lo == 0 && isinf(s.hi))
        snprintf(buf, n, "%spositive", ord);
    else if (isinf(s.hi))
        snprintf(buf, n, "%s(%g, inf)", ord, s.lo);
    else if (isinf(s.lo))
        snprintf(buf, n, "%s(-inf, %g)", ord, s.hi);
    else
        snprintf(buf, n, "%s(%g, %g)", ord, s.lo, s.hi);
}

static const char *support_hint(Sup m)
{
    if (m.ordered)
        return "declare the guide site with the same ordered type";
    switch (m.kind) {
    case SK_SIMPLEX: return "use Dirichlet";
    case SK_CHOL: return "use LKJCholesky";
    case SK_COUNTS: return "use a family over the same counts";
    case SK_DISC: return "use a discrete family over the same values";
    default: break;
    }
    if (m.lo == 0 && isinf(m.hi))
        return "use LogNormal or a positive guide family";
    if (m.lo == 0 && m.hi == 1)
        return "use Beta or another family on (0, 1)";
    if (!isinf(m.lo) || !isinf(m.hi))
        return "use a family inside the model's bounds (Uniform on them, or a transformed one)";
    return "use a continuous guide family such as Normal";
}

static int support_inside(Sup g, Sup m)
{
    if (g.kind != m.kind || g.ordered != m.ordered)
        return 0;
    if (g.kind == SK_CONT || g.kind == SK_DISC)
        return g.lo >= m.lo && g.hi <= m.hi;
    return 1;
}

/* ---- the checks ------------------------------------------------------------- */

static const GuideDraw *first_draw(const SviUser *u, int gv)
{
    for (int i = 0; i < u->ndraws; i++)
        if (u->draws[i].var == gv)
            return &u->draws[i];
    return NULL;
}

static int check_guide(SviUser *u)
{
    const Program *mp = u->model, *gp = u->g->prog;
    Diag *gd = &u->gex.diag, *md = &u->mex.diag;
    int errors = 0;
    unsigned char *reported = calloc((size_t)gp->nvars + (size_t)mp->nvars + 2, 1);
    if (!reported)
        return -1;
    unsigned char *mrep = reported + gp->nvars + 1;
    for (int i = 0; i < u->mtrace.n; i++) {
        const TraceEntry *s = &u->mtrace.e[i];
        int gv = u->gvar_of[s->var];
        const GuideDraw *d = gv >= 0 ? first_draw(u, gv) : NULL;
        const char *name = mp->vars[s->var].name;
        if (s->observed || s->intervened) {
            if (d && !reported[gv]++) {
                diag_error(gd, d->line, d->col, "guide site '%s' is %s in the model, so it is not "
                           "latent: a guide samples the model's latent sites only", name,
                           s->observed ? "observed (the data give it)" : "fixed by --do");
                errors++;
            }
            continue;
        }
        if (!d) {
            if (!support_is_discrete(s->dist->support) && !mrep[s->var]++) {
                diag_error(md, s->line, s->col,
                           "model site '%s' is latent but the guide has no site '%s': a guide samples "
                           "every latent continuous site (add e.g. '%s ~ Normal(%s_loc, %s_scale)' "
                           "with those params)", name, name, name, name, name);
                errors++;
            }
            continue;
        }
        if (reported[gv])
            continue;
        Sup gs = site_support(&u->gex, d->dist, d->args, d->lo, d->hi, d->con, 1);
        Sup ms = site_support(&u->mex, s->dist, s->args, s->lo, s->hi, mp->vars[s->var].con, 0);
        if (!support_inside(gs, ms)) {
            char a[96], b[96];
            describe_support(gs, a, sizeof a);
            describe_support(ms, b, sizeof b);
            diag_error(gd, d->line, d->col, "guide site '%s' ~ %s has support %s, model site '%s' is "
                       "%s; %s", name, d->dist->name, a, name, b, support_hint(ms));
            reported[gv] = 1;
            errors++;
        }
    }
    /* shapes, and guide sites the model did not sample */
    for (int k = 0; k < u->nsites; k++) {
        int gv = u->site_order[k];
        const GuideDraw *d = first_draw(u, gv);
        if (!d || reported[gv])
            continue;
        int mv = program_find_var(mp, gp->vars[gv].name);
        int sampled = 0;
        for (int i = 0; i < u->mtrace.n && !sampled; i++)
            sampled = u->mtrace.e[i].var == mv;
        if (!sampled) {
            diag_error(gd, d->line, d->col, "guide site '%s' is not sampled by the model in this run "
                       "(it is inside a branch the data do not take?)", gp->vars[gv].name);
            errors++;
            continue;
        }
        Value gval = u->gex.vars[gv], mval = u->mex.vars[mv];
        int same = gval.n == mval.n;
        for (int r = 0; same && gval.rank && mval.rank && r < 2; r++)
            same = gval.rank == mval.rank && gval.dims[r] == mval.dims[r];
        if (!same) {
            char a[64], b[64];
            value_describe(gval, a, sizeof a);
            value_describe(mval, b, sizeof b);
            diag_error(gd, d->line, d->col, "guide site '%s' is %s but model site '%s' is %s",
                       gp->vars[gv].name, a, gp->vars[gv].name, b);
            errors++;
        }
    }
    free(reported);
    return errors ? -1 : 0;
}

/* ---- construction ------------------------------------------------------------ */

static void push_model_handlers(SviUser *u)
{
    exec_clear_handlers(&u->mex);
    exec_push(&u->mex, &u->replay_h);
    exec_push(&u->mex, &u->cond.h);
    if (u->dos)
        exec_push(&u->mex, &u->dos->h);
}

/* The guide and the model once, with prior draws for sites the guide
 * leaves out, recording both sides. */
static int checking_run(SviUser *u)
{
    u->checking = 1;
    u->ndraws = 0;
    trace_clear(&u->mtrace);
    exec_push(&u->mex, &u->mtrace.h); /* the model's sites, as the handlers leave them */
    u->mex.policy.draw_missing = 1;
    int rc = exec_run_world(&u->gex, 1);
    if (rc == 0) {
        u->laid_out = 1;
        rc = exec_run_world(&u->mex, 0);
    }
    push_model_handlers(u);
    u->checking = 0;
    return rc;
}

/* The guide's sample sites in program order, and their estimators. */
static void collect_sites(SviUser *u)
{
    for (int i = 0; i < u->ndraws; i++) {
        SiteInfo *s = &u->sites[u->draws[i].var];
        if (!s->sampled) {
            s->sampled = 1;
            s->reparam = 1;
            s->line = u->draws[i].line;
            s->col = u->draws[i].col;
            u->site_order[u->nsites++] = u->draws[i].var;
        }
        s->reparam &= u->draws[i].reparam;
    }
}

SviUser *svi_user_new(const Program *model, const CmGuide *g, const DataSet *data, DoHandler *dos,
                      unsigned long seed)
{
    SviUser *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    const Program *gp = g->prog;
    u->model = model;
    u->g = g;
    u->dos = dos;
    tape_init(&u->tape);
    u->rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(u->rng, seed);
    exec_init(&u->mex, model, data, &u->tape, u->rng);
    exec_init(&u->gex, gp, data, &u->tape, u->rng);
    u->guide_h = (Handler){"guide", guide_process, guide_post, u};
    u->replay_h = (Handler){"replay-guide", replay_process, NULL, u};
    trace_init(&u->mtrace);
    condition_init(&u->cond, data);
    u->gvar_of = malloc(sizeof(int) * (size_t)(model->nvars + 1));
    u->ps = calloc((size_t)g->nparams + 1, sizeof(ParamSlot));
    u->sites = calloc((size_t)gp->nvars + 1, sizeof(SiteInfo));
    u->site_order = calloc((size_t)gp->nvars + 1, sizeof(int));
    if (!u->rng || !u->gvar_of || !u->ps || !u->sites || !u->site_order) {
        fprintf(stderr, "cmrun: out of memory\n");
        svi_user_free(u);
        return NULL;
    }
    for (int v = 0; v < model->nvars; v++) {
        int gv = model->vars[v].role == VAR_SITE ? program_find_var(gp, model->vars[v].name) : -1;
        u->gvar_of[v] = gv >= 0 && gp->vars[gv].role == VAR_SITE && !cm_guide_param_of(g, gv) ? gv : -1;
    }
    /* the model alone first: its data errors are reported against it */
    exec_clear_handlers(&u->mex);
    exec_push(&u->mex, &u->cond.h);
    if (dos)
        exec_push(&u->mex, &dos->h);
    u->mex.policy = (ExecPolicy){.draw_missing = 1, .density_latent = 1, .density_observed = 1,
                                 .placeholder = 1};
    if (exec_run(&u->mex) != 0) {
        svi_user_free(u);
        return NULL;
    }
    u->mex.policy.placeholder = 0;
    push_model_handlers(u);
    exec_push(&u->gex, &u->guide_h);
    u->gex.policy = (ExecPolicy){.draw_missing = 1, .density_latent = 1, .density_observed = 1};
    if (checking_run(u) != 0) {
        svi_user_free(u);
        return NULL;
    }
    collect_sites(u);
    if (check_guide(u) != 0) {
        svi_user_free(u);
        return NULL;
    }
    u->ncols = model_columns(model, &u->mex, &u->col_names, &u->col_var, &u->col_off);
    /* the fit: every latent site from the guide, omitted discrete ones summed out */
    u->mex.policy = (ExecPolicy){.draw_missing = 0, .density_latent = 1, .density_observed = 1,
                                 .enumerate = ENUM_SUM};
    return u;
}

void svi_user_free(SviUser *u)
{
    if (!u)
        return;
    if (u->col_names)
        model_free_columns(u->col_names, u->ncols, u->col_var, u->col_off);
    if (u->rep_names)
        model_free_columns(u->rep_names, u->nrep, u->rep_var, u->rep_off);
    exec_free(&u->gex);
    exec_free(&u->mex);
    tape_free(&u->tape);
    if (u->rng)
        gsl_rng_free(u->rng);
    free(u->gvar_of);
    free(u->ps);
    free(u->theta);
    free(u->draws);
    trace_free(&u->mtrace);
    free(u->sites);
    free(u->site_order);
    free(u->lk);
    free(u->rk);
    free(u->gk);
    free(u);
}

int svi_user_dim(const SviUser *u) { return u->dim; }
double *svi_user_theta(SviUser *u) { return u->theta; }

/* ---- the ELBO and its gradient ------------------------------------------------ */

/* target += w * log q(value) of one guide draw (its truncation included). */
static void add_log_q(SviUser *u, const GuideDraw *d, double w)
{
    Tape *t = &u->tape;
    const DistInfo *dist = d->dist;
    int s[DIST_MAX_PARAMS + 3], n[DIST_MAX_PARAMS + 3];
    Value x = d->value;
    s[0] = x.slot;
    n[0] = x.n;
    for (int k = 0; k < d->nargs; k++) {
        s[k + 1] = d->args[k].slot;
        n[k + 1] = d->args[k].n;
    }
    if (!dist->lpdf) {
        int aux[3] = {x.rank >= 1 ? x.dims[0] : 1, x.rank >= 2 ? x.dims[1] : 1, 0};
        tape_op(t, OP_LPDF_MV, 0, 1 + d->nargs, s, n, aux, dist, w);
        return;
    }
    int aux[3] = {x.n, 0, 0};
    tape_op(t, OP_LPDF, 0, 1 + d->nargs, s, n, aux, dist, w);
    if (d->lo.slot < 0 && d->hi.slot < 0)
        return;
    s[0] = d->lo.slot >= 0 ? d->lo.slot : tape_const(t, -INFINITY);
    n[0] = d->lo.slot >= 0 ? d->lo.n : 1;
    s[1] = d->hi.slot >= 0 ? d->hi.slot : tape_const(t, INFINITY);
    n[1] = d->hi.slot >= 0 ? d->hi.n : 1;
    for (int k = 0; k < d->nargs; k++) {
        s[k + 2] = d->args[k].slot;
        n[k + 2] = d->args[k].n;
    }
    tape_op(t, OP_TRUNC, 0, 2 + d->nargs, s, n, aux, dist, w);
}

/* The gradient of the tape's target with respect to theta, into g. */
static void theta_gradient(SviUser *u, double *g)
{
    tape_backward(&u->tape);
    for (int i = 0; i < u->g->nparams; i++) {
        const ParamSlot *ps = &u->ps[i];
        for (int k = 0; k < ps->size; k++)
            g[ps->offset + k] = u->tape.adj[ps->slot + k];
    }
}

static int all_finite(const double *x, int n)
{
    for (int j = 0; j < n; j++)
        if (!isfinite(x[j]))
            return 0;
    return 1;
}

/* One particle: returns L = log p - log q; r gets the gradient of L (the
 * pathwise part, with the direct terms of log q), g the gradient of
 * sum log q(z) over the sites drawn by the sampler (zero if none).
 * Returns NAN when L or a gradient is not finite. */
static double particle(SviUser *u, double *r, double *g, int *failed)
{
    u->ndraws = 0;
    if (exec_run_world(&u->gex, 1) != 0 || exec_run_world(&u->mex, 0) != 0) {
        *failed = 1;
        return NAN;
    }
    double L = u->tape.target;
    if (!isfinite(L))
        return NAN;
    theta_gradient(u, r);
    int score = 0;
    for (int i = 0; i < u->ndraws; i++)
        if (!u->draws[i].reparam) {
            add_log_q(u, &u->draws[i], 1.0);
            score = 1;
        }
    if (score) {
        theta_gradient(u, g);
        for (int j = 0; j < u->dim; j++)
            g[j] -= r[j];
    } else {
        memset(g, 0, sizeof(double) * (size_t)u->dim);
    }
    return all_finite(r, u->dim) && all_finite(g, u->dim) ? L : NAN;
}

double svi_user_elbo_grad(SviUser *u, int particles, double *grad, int *failed)
{
    memset(grad, 0, sizeof(double) * (size_t)u->dim);
    *failed = 0;
    if (particles > u->capk) {
        free(u->lk);
        free(u->rk);
        free(u->gk);
        u->lk = malloc(sizeof(double) * (size_t)particles);
        u->rk = malloc(sizeof(double) * (size_t)particles * (size_t)(u->dim + 1));
        u->gk = malloc(sizeof(double) * (size_t)particles * (size_t)(u->dim + 1));
        if (!u->lk || !u->rk || !u->gk) {
            fprintf(stderr, "cmrun: out of memory\n");
            exit(3);
        }
        u->capk = particles;
    }
    double sum = 0;
    int n = 0;
    for (int k = 0; k < particles && !*failed; k++) {
        double *r = u->rk + (size_t)n * u->dim, *g = u->gk + (size_t)n * u->dim;
        double L = particle(u, r, g, failed);
        if (isfinite(L)) {
            u->lk[n++] = L;
            sum += L;
        }
    }
    if (n == 0)
        return NAN;
    /* the score terms' baseline: the mean of the other particles' L, or
       with one particle the running average of earlier ones */
    double ema = u->seen ? u->ema / (1 - pow(BASELINE_DECAY, (double)u->seen)) : NAN;
    for (int k = 0; k < n; k++) {
        double b = n > 1 ? (sum - u->lk[k]) / (n - 1) : u->seen ? ema : u->lk[k];
        const double *r = u->rk + (size_t)k * u->dim, *g = u->gk + (size_t)k * u->dim;
        for (int j = 0; j < u->dim; j++)
            grad[j] += (r[j] + (u->lk[k] - b) * g[j]) / n;
        u->ema = BASELINE_DECAY * u->ema + (1 - BASELINE_DECAY) * u->lk[k];
        u->seen++;
    }
    return sum / n;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int theta_finite(const SviUser *u) { return all_finite(u->theta, u->dim); }

int svi_user_fit(SviUser *u, const SviOptions *s, SviStepHook hook, void *user,
                 volatile int *interrupt, SviResult *res)
{
    memset(res, 0, sizeof *res);
    res->rel_change = NAN;
    res->elbo = NAN;
    res->bad_coord = -1;
    double *grad = calloc((size_t)u->dim + 1, sizeof(double));
    SviSmoother *sm = calloc(1, sizeof(SviSmoother));
    SviOptim opt;
    int opt_ok = svi_optim_init(&opt, s->optim, u->dim, s->lr, s->lr_decay) == 0;
    if (!grad || !sm || !opt_ok) {
        res->status = SVI_NOMEM;
        snprintf(res->message, sizeof res->message, "out of memory for the guide's %d parameters",
                 u->dim);
        goto out;
    }
    int skipped_run = 0;
    /* `plate ... subsample B`: the fit's model runs see minibatches (the
       guide still draws every site, so log q is exact and the estimate
       stays unbiased); the draws afterwards use every row */
    u->mex.policy.subsample = 1;
    double t0 = clock_seconds(CLOCK_MONOTONIC), c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (int step = 0; step < s->steps; step++) {
        if (interrupt && *interrupt) {
            res->interrupted = 1;
            break;
        }
        if (!theta_finite(u)) {
            res->status = SVI_DIVERGED;
            snprintf(res->message, sizeof res->message,
                     "the optimisation diverged at step %d (the guide's parameters are no longer "
                     "finite): lower --lr (now %g), or use --optim clipped-adam", step, s->lr);
            break;
        }
        int failed;
        double elbo = svi_user_elbo_grad(u, s->particles, grad, &failed);
        res->n_grad += s->particles;
        res->steps = step + 1;
        if (failed) {
            res->status = SVI_DIVERGED;
            snprintf(res->message, sizeof res->message,
                     "a run of the guide or the model failed at step %d (see the error above)",
                     step + 1);
            break;
        }
        if (isnan(elbo)) {
            int k = svi_step_skip(res, hook, user, step, elbo, &skipped_run);
            if (k == 1)
                break;
            if (k == 2) {
                snprintf(res->message, sizeof res->message,
                         "100 steps in a row drew only points where the model's log density or the "
                         "gradient is not finite (at step %d): check that each guide site's support "
                         "and initial parameters suit the model", step + 1);
                break;
            }
            continue;
        }
        skipped_run = 0;
        if (svi_step_finish(&opt, u->theta, grad, sm, elbo, s, hook, user, step, res))
            break;
    }
    res->seconds = clock_seconds(CLOCK_MONOTONIC) - t0;
    res->cpu_seconds = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (res->status == SVI_OK && !theta_finite(u)) {
        res->status = SVI_DIVERGED;
        snprintf(res->message, sizeof res->message,
                 "the optimisation diverged (the guide's parameters are no longer finite): lower "
                 "--lr (now %g), or use --optim clipped-adam", s->lr);
    }
out:
    u->mex.policy.subsample = 0;
    if (opt_ok)
        svi_optim_free(&opt);
    free(sm);
    free(grad);
    return res->status;
}

/* ---- draws and parameters ------------------------------------------------------ */

int svi_user_ncols(const SviUser *u) { return u->ncols + u->nrep; }
const char *svi_user_col_name(const SviUser *u, int j)
{
    return j < u->ncols ? u->col_names[j] : u->rep_names[j - u->ncols];
}

/* The model once more at the guide's draw, without the data: the guide's
 * values replayed, every observed site drawn from its distribution there. */
static int predictive_run(SviUser *u)
{
    ExecPolicy saved = u->mex.policy;
    exec_clear_handlers(&u->mex);
    exec_push(&u->mex, &u->replay_h);
    if (u->dos)
        exec_push(&u->mex, &u->dos->h);
    u->mex.policy = (ExecPolicy){.draw_missing = 1};
    int rc = exec_run_world(&u->mex, 0);
    u->mex.policy = saved;
    push_model_handlers(u);
    return rc;
}

int svi_user_set_predictive(SviUser *u, char *err, size_t errlen)
{
    const Program *p = u->model;
    for (int i = 0; i < u->mtrace.n; i++) {
        const TraceEntry *s = &u->mtrace.e[i];
        if (!s->observed && !s->intervened && support_is_discrete(s->dist->support) &&
            u->gvar_of[s->var] < 0) {
            snprintf(err, errlen,
                     "--predictive with a guide written in cm needs a guide site for every latent "
                     "site; '%s' (line %d) is summed out instead (give it a guide site, or use an "
                     "autoguide)", p->vars[s->var].name, s->line);
            return -1;
        }
    }
    /* the observed sites, and everything computed from them */
    unsigned char *redrawn = calloc((size_t)p->nvars + 1, 1);
    if (!redrawn) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < u->mtrace.n; i++)
        if (u->mtrace.e[i].observed)
            redrawn[u->mtrace.e[i].var] = 1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int v = 0; v < p->nvars; v++)
            for (int k = 0; !redrawn[v] && k < p->vars[v].nparents; k++)
                if (redrawn[p->vars[v].parents[k]])
                    redrawn[v] = changed = 1;
    }
    u->ndraws = 0;
    if (exec_run_world(&u->gex, 1) != 0 || predictive_run(u) != 0) {
        free(redrawn);
        snprintf(err, errlen, "--predictive: a run of the model without its data failed (see above)");
        return -1;
    }
    char **names;
    int *var, *off;
    int n = model_columns(p, &u->mex, &names, &var, &off), kept = 0;
    for (int j = 0; j < n; j++) {
        if (!redrawn[var[j]]) {
            free(names[j]);
            continue;
        }
        /* NAME.i -> NAME_rep.i, as the autoguides' --predictive names them */
        const char *dot = strchr(names[j], '.');
        size_t len = strlen(names[j]) + 5;
        char *r = malloc(len);
        if (r) {
            if (dot)
                snprintf(r, len, "%.*s_rep%s", (int)(dot - names[j]), names[j], dot);
            else
                snprintf(r, len, "%s_rep", names[j]);
        }
        free(names[j]);
        names[kept] = r;
        var[kept] = var[j];
        off[kept] = off[j];
        kept++;
    }
    free(redrawn);
    u->rep_names = names;
    u->rep_var = var;
    u->rep_off = off;
    u->nrep = kept;
    return 0;
}

int svi_user_draw(SviUser *u, double *row)
{
    u->ndraws = 0;
    if (exec_run_world(&u->gex, 1) != 0)
        return -1;
    double log_q = -u->tape.target;
    /* sites summed out in the fit are drawn from their conditionals here */
    u->mex.policy.enumerate = ENUM_DRAW;
    int rc = exec_run_world(&u->mex, 0);
    u->mex.policy.enumerate = ENUM_SUM;
    if (rc != 0)
        return -1;
    row[0] = u->tape.target + log_q;
    row[1] = log_q;
    for (int j = 0; j < u->ncols; j++)
        row[2 + j] = model_column_value(&u->mex, u->model, u->col_var[j], u->col_off[j]);
    if (u->nrep > 0) {
        if (predictive_run(u) != 0)
            return -1;
        for (int k = 0; k < u->nrep; k++)
            row[2 + u->ncols + k] = model_column_value(&u->mex, u->model, u->rep_var[k], u->rep_off[k]);
    }
    return 0;
}

int svi_user_nparams(const SviUser *u) { return u->g->nparams; }

const CmGuideParam *svi_user_param(const SviUser *u, int i, int *rank, int dims[2])
{
    *rank = u->ps[i].rank;
    dims[0] = u->ps[i].dims[0];
    dims[1] = u->ps[i].dims[1];
    return &u->g->params[i];
}

void svi_user_param_values(const SviUser *u, int i, double *out)
{
    const ParamSlot *ps = &u->ps[i];
    const double *th = u->theta + ps->offset;
    Constraint con = u->g->params[i].con;
    double mx = -INFINITY, sum = 0;
    for (int k = 0; k < ps->size; k++)
        mx = fmax(mx, th[k]);
    for (int k = 0; k < ps->size; k++)
        sum += exp(th[k] - mx);
    for (int k = 0; k < ps->size; k++)
        out[k] = con == CON_POSITIVE ? exp(th[k])
                 : con == CON_UNIT   ? 1 / (1 + exp(-th[k]))
                 : con == CON_SIMPLEX ? exp(th[k] - mx) / sum
                                      : th[k];
}

int svi_user_set_param(SviUser *u, int i, const double *x, char *err, size_t errlen)
{
    const ParamSlot *ps = &u->ps[i];
    const CmGuideParam *p = &u->g->params[i];
    for (int k = 0; k < ps->size; k++) {
        double v = x[k];
        int ok = isfinite(v) && (p->con == CON_NONE || v > 0) && (p->con != CON_UNIT || v < 1);
        if (!ok) {
            snprintf(err, errlen, "param '%s' element %d is %g, which is not %s", p->name, k + 1, v,
                     p->con == CON_NONE ? "finite" : p->con == CON_UNIT ? "in (0, 1)" : "positive");
            return -1;
        }
        u->theta[ps->offset + k] = p->con == CON_POSITIVE || p->con == CON_SIMPLEX ? log(v)
                                   : p->con == CON_UNIT ? log(v) - log1p(-v)
                                                        : v;
    }
    return 0;
}

const char *svi_user_constraint_name(Constraint c)
{
    switch (c) {
    case CON_POSITIVE: return "positive";
    case CON_UNIT: return "unit";
    case CON_SIMPLEX: return "simplex";
    default: return "real";
    }
}

int svi_user_nsites(const SviUser *u) { return u->nsites; }

const char *svi_user_site(const SviUser *u, int k, int *reparam)
{
    int gv = u->site_order[k];
    *reparam = u->sites[gv].reparam;
    return u->g->prog->vars[gv].name;
}
