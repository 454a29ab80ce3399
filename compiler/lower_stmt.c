/*
 * lower_stmt.c - checking and lowering statements, functions and the
 * program.
 *
 * Model-level names get one IrVar each at their first definition; element
 * by element definitions get storage from an ALLOC emitted before the top-
 * level statement that first touches them (sizes inferred by prepass.c).
 * While a definition is lowered, the variables its value reads are
 * collected as its DAG parents (index positions and loop bounds excepted:
 * they select elements, they do not carry causal influence).
 */
#include <stdlib.h>
#include <string.h>

#include "lower_internal.h"

const DistInfo *lower_find_dist(Lower *L, AstNode *at, const char *name);
int lower_dist_args(Lower *L, AstNode *call, const DistInfo *d, int from, Ex *args);

static const char *type_str(Type t)
{
    static char buf[2][32];
    static int k;
    static const char *b[] = {"int", "real", "bool"};
    char *s = buf[k++ & 1];
    snprintf(s, 32, "%s%s", b[t.base], t.rank == 0 ? "" : t.rank == 1 ? " vector" : " matrix");
    return s;
}

static int new_var(Lower *L, const char *name, VarRole role, Type ty, AstNode *at)
{
    Program *p = L->p;
    if (p->nvars % 64 == 0) {
        IrVar *nv = realloc(p->vars, sizeof(IrVar) * (size_t)(p->nvars + 64));
        if (!nv) {
            fprintf(stderr, "cmrun: out of memory\n");
            exit(3);
        }
        p->vars = nv;
    }
    IrVar *v = &p->vars[p->nvars];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->role = role;
    v->type = ty;
    v->plate = L->plate;
    v->hidden = name[0] == '_';
    v->line = at ? at->line : 0;
    v->col = at ? at->col : 0;
    return p->nvars++;
}

static int new_local(Lower *L, const char *name, Type ty, AstNode *at)
{
    IrFn *f = L->fn;
    IrVar *nv = ast_alloc(L->a, sizeof(IrVar) * (size_t)(f->nvars + 1));
    if (f->nvars)
        memcpy(nv, f->vars, sizeof(IrVar) * (size_t)f->nvars);
    f->vars = nv;
    IrVar *v = &f->vars[f->nvars];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->role = VAR_LOCAL;
    v->type = ty;
    v->plate = -1;
    v->line = at->line;
    v->col = at->col;
    return f->nvars++;
}

static int find_local(Lower *L, const char *name)
{
    for (int i = 0; i < L->fn->nvars; i++)
        if (strcmp(L->fn->vars[i].name, name) == 0)
            return i;
    return -1;
}

/* Parents of a definition: what its value read, plus enclosing conditions. */
static void set_parents(Lower *L, int var)
{
    IrVar *v = &L->p->vars[var];
    int n = v->nparents + L->nreads + L->ncond_reads;
    int *ps = ast_alloc(L->a, sizeof(int) * (size_t)(n + 1));
    int k = 0;
    for (int i = 0; i < v->nparents; i++)
        ps[k++] = v->parents[i];
    int *srcs[2] = {L->reads, L->cond_reads};
    int nsrc[2] = {L->nreads, L->ncond_reads};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < nsrc[s]; i++) {
            int r = srcs[s][i], dup = r == var;
            for (int j = 0; j < k && !dup; j++)
                dup = ps[j] == r;
            if (!dup)
                ps[k++] = r;
        }
    v->parents = ps;
    v->nparents = k;
}

Type lower_type_of(Lower *L, AstNode *t, Constraint *con, int *ok)
{
    static const struct {
        const char *name;
        int base;
        Constraint con;
        int rank; /* required rank, -1 any */
    } types[] = {{"int", TY_INT, CON_NONE, -1},        {"real", TY_REAL, CON_NONE, -1},
                 {"bool", TY_BOOL, CON_NONE, 0},       {"vector", TY_REAL, CON_NONE, 1},
                 {"matrix", TY_REAL, CON_NONE, 2},     {"ordered", TY_REAL, CON_ORDERED, 1},
                 {"positive_ordered", TY_REAL, CON_POSITIVE_ORDERED, 1},
                 {"simplex", TY_REAL, CON_SIMPLEX, 1}, {"positive", TY_REAL, CON_POSITIVE, -1},
                 {"unit", TY_REAL, CON_UNIT, -1}};
    *ok = 1;
    if (con)
        *con = CON_NONE;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(types[i].name, t->name) != 0)
            continue;
        int rank = t->nkids;
        if (rank > 2) {
            diag_error(L->d, t->line, t->col, "at most 2 dimensions are supported, found %d", rank);
            *ok = 0;
        }
        if (types[i].rank >= 0 && rank != types[i].rank) {
            diag_error(L->d, t->line, t->col, "'%s' needs %d size%s in [ ], found %d", t->name,
                       types[i].rank, types[i].rank == 1 ? "" : "s", rank);
            *ok = 0;
        }
        if (con)
            *con = types[i].con;
        else if (types[i].con != CON_NONE) {
            diag_error(L->d, t->line, t->col, "'%s' constrains a sampled site; it cannot be used here",
                       t->name);
            *ok = 0;
        }
        return (Type){(unsigned char)types[i].base, (signed char)(rank > 2 ? 2 : rank)};
    }
    const char *cands[16];
    size_t n = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        cands[n++] = types[i].name;
    const char *s = diag_suggest(t->name, cands, n);
    if (s)
        diag_error(L->d, t->line, t->col, "unknown type '%s'; did you mean '%s'?", t->name, s);
    else
        diag_error(L->d, t->line, t->col,
                   "unknown type '%s' (int, real, bool, vector, matrix, ordered, "
                   "positive_ordered, simplex)",
                   t->name);
    *ok = 0;
    return (Type){TY_REAL, 0};
}

/* Lower the size expressions of a type into args; returns count or -1. */
static int lower_dims(Lower *L, AstNode *t, int *args)
{
    int ok = 1;
    L->suppress_reads++;
    for (int k = 0; k < t->nkids && k < 2; k++) {
        args[k] = lower_int_scalar(L, t->kids[k], "a size");
        ok &= args[k] >= 0;
    }
    L->suppress_reads--;
    return ok ? (t->nkids > 2 ? 2 : t->nkids) : -1;
}

static void emit_alloc(Lower *L, int var, int *dims, int ndims, AstNode *at)
{
    int i = ir_emit(L->code, IR_ALLOC, at->line, at->col);
    IrInstr *in = &L->code->code[i];
    in->var = var;
    in->nargs = ndims;
    in->args = ast_alloc(L->a, sizeof(int) * (size_t)(ndims + 1));
    memcpy(in->args, dims, sizeof(int) * (size_t)ndims);
}

/* Storage for names first defined element by element in this top-level
 * statement, sized by the loops that index them. */
static void alloc_inferred(Lower *L, int top)
{
    for (int i = 0; i < L->nnames; i++) {
        NameInfo *n = &L->names[i];
        if (n->top != top || !n->indexed || n->has_decl || n->is_data || n->var >= 0)
            continue;
        if (n->is_site && n->is_assigned)
            continue; /* reported where the assignment is lowered */
        if (n->uninferable) {
            AstNode *w = n->where_uninferable;
            diag_error(L->d, w->line, w->col,
                       "cannot infer the size of '%s' from this index; declare it first, e.g. "
                       "'%s: real[N]'",
                       n->name, n->name);
            n->var = new_var(L, n->name, n->is_site ? VAR_SITE : VAR_DET, (Type){TY_REAL, 0}, n->first);
            continue;
        }
        int ndims = 0, dims[MAX_DIMS];
        for (int d = 0; d < MAX_DIMS && n->nextent[d]; d++) {
            int best = -1;
            L->suppress_reads++;
            for (int k = 0; k < n->nextent[d]; k++) {
                int r = lower_int_scalar(L, n->extent[d][k], "a loop bound");
                if (r < 0)
                    break;
                if (n->extent_add[d][k]) {
                    int c = ir_emit(L->code, IR_CONST, n->first->line, n->first->col);
                    L->code->code[c].sub = TY_INT;
                    L->code->code[c].num = n->extent_add[d][k];
                    int cr = L->code->code[c].dst = ir_new_reg(L->code);
                    int b = ir_emit(L->code, IR_BINOP, n->first->line, n->first->col);
                    L->code->code[b].sub = '+';
                    L->code->code[b].a = r;
                    L->code->code[b].b = cr;
                    r = L->code->code[b].dst = ir_new_reg(L->code);
                }
                if (best >= 0) {
                    int m = ir_emit(L->code, IR_CALL, n->first->line, n->first->col);
                    L->code->code[m].fn = builtin_find("max");
                    L->code->code[m].nargs = 2;
                    L->code->code[m].args = ast_alloc(L->a, 2 * sizeof(int));
                    L->code->code[m].args[0] = best;
                    L->code->code[m].args[1] = r;
                    r = L->code->code[m].dst = ir_new_reg(L->code);
                }
                best = r;
            }
            L->suppress_reads--;
            if (best < 0)
                break;
            dims[ndims++] = best;
        }
        Type ty = {TY_REAL, (signed char)ndims};
        n->var = new_var(L, n->name, n->is_site ? VAR_SITE : VAR_DET, ty, n->first);
        L->p->vars[n->var].indexed = 1;
        emit_alloc(L, n->var, dims, ndims, n->first);
    }
}

static void lower_stmt(Lower *L, AstNode *s, int top);

void lower_block(Lower *L, AstNode *b, int top)
{
    if (!b)
        return;
    for (int i = 0; i < b->nkids; i++)
        lower_stmt(L, b->kids[i], top);
}

/* The target of `X[:, k] = v`: index items encoded as IR_INDEX encodes
 * them, and how many are single ints (each removes a dimension). */
typedef struct {
    int *args;
    unsigned char *kinds;
    int nargs, nscalar;
} SliceTarget;

static int target_has_slice(const AstNode *t)
{
    for (int k = 1; k < t->nkids; k++)
        if (t->kids[k]->kind == AST_SLICE || t->kids[k]->kind == AST_ALL)
            return 1;
    return 0;
}

static int lower_slice_target(Lower *L, AstNode *t, SliceTarget *sl)
{
    int nitems = t->nkids - 1, ok = 1;
    if (nitems > 2) {
        diag_error(L->d, t->line, t->col, "at most 2 indices are supported");
        return 0;
    }
    sl->args = ast_alloc(L->a, sizeof(int) * (size_t)(2 * nitems));
    sl->kinds = ast_alloc(L->a, (size_t)(2 * nitems + 1));
    L->suppress_reads++;
    for (int k = 1; k < t->nkids; k++) {
        AstNode *ix = t->kids[k];
        if (ix->kind == AST_ALL) {
            sl->kinds[sl->nargs] = 2;
            sl->args[sl->nargs++] = -1;
        } else if (ix->kind == AST_SLICE) {
            int lo = lower_int_scalar(L, ix->kids[0], "a slice bound");
            int hi = lower_int_scalar(L, ix->kids[1], "a slice bound");
            ok &= lo >= 0 && hi >= 0;
            sl->kinds[sl->nargs] = 1;
            sl->args[sl->nargs++] = lo;
            sl->kinds[sl->nargs] = 3;
            sl->args[sl->nargs++] = hi;
        } else {
            int r = lower_int_scalar(L, ix, "an index");
            ok &= r >= 0;
            sl->kinds[sl->nargs] = 0;
            sl->args[sl->nargs++] = r;
            sl->nscalar++;
        }
    }
    L->suppress_reads--;
    return ok;
}

static int lower_index_items(Lower *L, AstNode *t, int *args)
{
    int ok = 1;
    L->suppress_reads++;
    for (int k = 1; k < t->nkids; k++) {
        AstNode *ix = t->kids[k];
        if (ix->kind == AST_SLICE || ix->kind == AST_ALL) {
            diag_error(L->d, ix->line, ix->col,
                       "a definition takes single-element indices, not ranges");
            ok = 0;
            continue;
        }
        args[k - 1] = lower_int_scalar(L, ix, "an index");
        ok &= args[k - 1] >= 0;
    }
    L->suppress_reads--;
    return ok;
}

static void lower_data(Lower *L, AstNode *s)
{
    NameInfo *n = lower_name(L, s->name);
    if (n->var >= 0) {
        diag_error(L->d, s->line, s->col, "'%s' is declared twice", s->name);
        return;
    }
    if (n->is_assigned && !n->is_site) {
        diag_error(L->d, n->first->line, n->first->col,
                   "'%s' is data (declared at %d:%d); it cannot be assigned", s->name, s->line, s->col);
        return;
    }
    int ok;
    Type ty = lower_type_of(L, s->kids[0], NULL, &ok);
    int dims[2];
    int nd = lower_dims(L, s->kids[0], dims);
    if (!ok || nd < 0)
        return;
    n->var = new_var(L, s->name, n->is_site ? VAR_SITE : VAR_DATA, ty, s);
    L->p->vars[n->var].declared_data = 1;
    n->defined = 1;
    int i = ir_emit(L->code, IR_DATA, s->line, s->col);
    IrInstr *in = &L->code->code[i];
    in->var = n->var;
    in->nargs = nd;
    in->args = ast_alloc(L->a, sizeof(int) * 2);
    memcpy(in->args, dims, sizeof dims);
}

static void lower_decl(Lower *L, AstNode *s)
{
    Constraint con;
    int ok;
    if (L->fn) {
        if (find_local(L, s->name) >= 0) {
            diag_error(L->d, s->line, s->col, "'%s' is already defined in this function", s->name);
            return;
        }
        Type ty = lower_type_of(L, s->kids[0], NULL, &ok);
        int dims[2];
        int nd = lower_dims(L, s->kids[0], dims);
        if (!ok || nd < 0)
            return;
        int v = new_local(L, s->name, ty, s);
        L->fn->vars[v].indexed = 1;
        emit_alloc(L, v, dims, nd, s);
        return;
    }
    NameInfo *n = lower_name(L, s->name);
    if (n->var >= 0) {
        diag_error(L->d, s->line, s->col, "'%s' is already declared", s->name);
        return;
    }
    if (!n->is_site && !n->is_assigned) {
        diag_error(L->d, s->line, s->col, "'%s' is declared but never defined (no '~' or '=')",
                   s->name);
        return;
    }
    Type ty = lower_type_of(L, s->kids[0], &con, &ok);
    if (con != CON_NONE && !n->is_site) {
        diag_error(L->d, s->line, s->col,
                   "'%s' is a deterministic node; a constrained type needs a sampled site", s->name);
        ok = 0;
    }
    int dims[2];
    int nd = lower_dims(L, s->kids[0], dims);
    if (!ok || nd < 0)
        return;
    n->var = new_var(L, s->name, n->is_site ? VAR_SITE : VAR_DET, ty, s);
    L->p->vars[n->var].con = con;
    L->p->vars[n->var].indexed = n->indexed;
    emit_alloc(L, n->var, dims, nd, s);
}

/* The value type a distribution gives one draw. */
static Type dist_value_type(const DistInfo *d, int arg_rank)
{
    switch (d->value_kind) {
    case VK_REAL: return (Type){TY_REAL, (signed char)arg_rank};
    case VK_INT: return (Type){TY_INT, (signed char)arg_rank};
    case VK_VECTOR: return (Type){TY_REAL, 1};
    case VK_INT_VECTOR: return (Type){TY_INT, 1};
    case VK_MATRIX: return (Type){TY_REAL, 2};
    }
    return (Type){TY_REAL, 0};
}

/* A user-defined distribution is a function NAME_lpdf (continuous) or
 * NAME_lpmf (discrete), as in Stan: `x ~ NAME(a, b)` is a site with a flat
 * density on its support (real, or the declared constraint) plus
 * factor(NAME_lpdf(x, a, b)).  Returns the function's id, or -1. */
static int user_distribution(Lower *L, const char *name, AstNode *decl, const DistInfo **out)
{
    static const char *const suffix[2] = {"_lpdf", "_lpmf"};
    for (int k = 0; k < 2; k++) {
        char fname[256];
        snprintf(fname, sizeof fname, "%s%s", name, suffix[k]);
        for (int f = 0; f < L->p->nfns; f++) {
            if (strcmp(L->p->fns[f].name, fname) != 0)
                continue;
            DistInfo *d = ast_alloc(L->a, sizeof *d);
            int positive = decl && (strcmp(decl->name, "positive") == 0 ||
                                    strcmp(decl->name, "positive_ordered") == 0);
            *d = *dist_find(positive ? "HalfFlat" : "Flat");
            d->name = ast_strdup(L->a, name, strlen(name));
            d->doc = "user-defined distribution";
            if (k == 1) { /* a mass function: integer values */
                d->support = SUP_NATURAL;
                d->value_kind = VK_INT;
            }
            *out = d;
            return f;
        }
    }
    return -1;
}

/* factor(NAME_lpdf(site value, args...)) after a user distribution's site. */
static void emit_user_density(Lower *L, AstNode *s, int var, int nidx, const int *idx, int fn,
                              const Ex *args, int nargs)
{
    IrFn *f = &L->p->fns[fn];
    if (f->nparams != nargs + 1) {
        diag_error(L->d, s->line, s->col, "'%s' takes %d argument%s after the value, got %d", f->name,
                   f->nparams - 1, f->nparams == 2 ? "" : "s", nargs);
        return;
    }
    int ld = ir_emit(L->code, IR_LOAD, s->line, s->col);
    L->code->code[ld].var = var;
    int x = L->code->code[ld].dst = ir_new_reg(L->code);
    if (nidx) {
        int ix = ir_emit(L->code, IR_INDEX, s->line, s->col);
        IrInstr *in = &L->code->code[ix];
        in->a = x;
        in->nargs = nidx;
        in->args = ast_alloc(L->a, sizeof(int) * 2);
        in->akind = ast_alloc(L->a, 2);
        memcpy(in->args, idx, sizeof(int) * (size_t)nidx);
        x = in->dst = ir_new_reg(L->code);
    }
    int c = ir_emit(L->code, IR_CALL_FN, s->line, s->col);
    IrInstr *in = &L->code->code[c];
    in->fn = fn;
    in->nargs = nargs + 1;
    in->args = ast_alloc(L->a, sizeof(int) * (size_t)(nargs + 1));
    in->args[0] = x;
    for (int k = 0; k < nargs; k++)
        in->args[k + 1] = args[k].reg;
    int lp = in->dst = ir_new_reg(L->code);
    int fa = ir_emit(L->code, IR_FACTOR, s->line, s->col);
    L->code->code[fa].a = lp;
    L->code->code[fa].var = var; /* the site's density: dropped when do() replaces it */
}

static void lower_sample(Lower *L, AstNode *s)
{
    if (L->fn) {
        diag_error(L->d, s->line, s->col,
                   "'~' is not allowed inside a function (functions are deterministic); "
                   "use factor() in the model or a _lpdf call");
        return;
    }
    AstNode *t = s->kids[0], *decl = s->nkids > 1 ? s->kids[1] : NULL;
    AstNode *call = s->kids[2], *trunc = s->nkids > 3 ? s->kids[3] : NULL;
    AstNode *id = t->kind == AST_INDEX ? t->kids[0] : t;
    if (!id || id->kind != AST_IDENT) {
        diag_error(L->d, t->line, t->col, "the left of '~' must be a name or an indexed name");
        return;
    }
    NameInfo *n = lower_name(L, id->name);
    if (n->is_assigned) {
        AstNode *f = n->first;
        diag_error(L->d, s->line, s->col, "'%s' is both sampled and assigned; a name is one or the other",
                   id->name);
        (void)f;
        return;
    }
    int nidx = t->kind == AST_INDEX ? t->nkids - 1 : 0;
    if (n->var >= 0 && n->defined && !n->indexed && nidx == 0 &&
        L->p->vars[n->var].role == VAR_SITE && !L->p->vars[n->var].declared_data) {
        diag_error(L->d, s->line, s->col, "duplicate site '%s': it is already sampled at %d:%d",
                   id->name, L->p->vars[n->var].line, L->p->vars[n->var].col);
        return;
    }
    if (nidx && n->whole) {
        diag_error(L->d, s->line, s->col,
                   "'%s' is sampled both whole and element by element", id->name);
        return;
    }
    int user_fn = -1;
    const DistInfo *d = dist_find(call->name);
    if (!d && (user_fn = user_distribution(L, call->name, decl, &d)) < 0)
        d = lower_find_dist(L, call, call->name);
    int idx[2] = {-1, -1};
    if (nidx > 2) {
        diag_error(L->d, t->line, t->col, "at most 2 indices are supported");
        return;
    }
    L->nreads = 0;
    int ok = nidx ? lower_index_items(L, t, idx) : 1;
    Ex args[DIST_MAX_PARAMS + 1];
    int nargs = call->nkids;
    if (nargs > DIST_MAX_PARAMS + 1) {
        diag_error(L->d, call->line, call->col, "too many arguments to %s", call->name);
        return;
    }
    for (int k = 0; k < nargs; k++) {
        args[k] = lower_expr(L, call->kids[k]);
        ok &= args[k].ok;
    }
    if (!d || !ok || (user_fn < 0 && !lower_dist_args(L, call, d, 0, args)))
        return;
    int maxr = 0;
    if (d->lpdf)
        for (int k = 0; k < nargs; k++)
            if (args[k].ty.rank > maxr)
                maxr = args[k].ty.rank;
    Type elem = dist_value_type(d, maxr);
    Constraint con = CON_NONE;
    int dims[2], nd = 0;
    Type site = elem;
    if (decl) {
        if (nidx) {
            diag_error(L->d, decl->line, decl->col, "a type goes on the whole site, not an element");
            return;
        }
        int tok;
        Type dt = lower_type_of(L, decl, &con, &tok);
        nd = lower_dims(L, decl, dims);
        if (!tok || nd < 0)
            return;
        if (dt.base == TY_BOOL || (dt.base == TY_INT) != (elem.base == TY_INT)) {
            diag_error(L->d, decl->line, decl->col, "'%s' is declared %s but %s gives %s values",
                       id->name, type_str(dt), d->name, elem.base == TY_INT ? "int" : "real");
            return;
        }
        if (!d->lpdf && dt.rank != elem.rank) {
            diag_error(L->d, decl->line, decl->col, "%s gives %s, but '%s' is declared %s", d->name,
                       type_str(elem), id->name, type_str(dt));
            return;
        }
        if (d->lpdf && maxr > dt.rank) {
            diag_error(L->d, decl->line, decl->col,
                       "the arguments of %s have more dimensions than '%s' (%s)", d->name, id->name,
                       type_str(dt));
            return;
        }
        site = dt;
    } else if (nidx) {
        if (elem.rank != 0) {
            diag_error(L->d, call->line, call->col,
                       "an element '%s[...]' takes scalar arguments; %s gives %s here", id->name,
                       d->name, type_str(elem));
            return;
        }
        site = (Type){elem.base, (signed char)nidx};
    }
    if (n->var >= 0 && nidx && L->p->vars[n->var].con != CON_NONE) {
        diag_error(L->d, s->line, s->col,
                   "'%s' has a constrained type: sample the whole site at once ('%s ~ ...'), not "
                   "element by element",
                   id->name, id->name);
        return;
    }
    if (n->var >= 0) {
        IrVar *v = &L->p->vars[n->var];
        if (v->con != CON_NONE && con == CON_NONE)
            con = v->con;
        Type have = v->type;
        int rank_ok = have.rank == site.rank || (n->indexed && !v->declared_data && have.rank == nidx);
        if (!rank_ok && !nidx && d->lpdf && site.rank <= have.rank)
            rank_ok = 1; /* scalar arguments broadcast over a declared shape */
        if (!rank_ok || (have.base == TY_REAL && elem.base == TY_INT && v->declared_data)) {
            diag_error(L->d, s->line, s->col, "'%s' is %s (declared at %d:%d), but here it gets %s",
                       id->name, type_str(have), v->line, v->col, type_str(site));
            return;
        }
        if (!v->declared_data || elem.base == TY_INT)
            v->type.base = elem.base;
        site = v->type;
        if (have.base == TY_INT && elem.base == TY_REAL && v->declared_data)
            v->type.base = TY_INT; /* int data observed by a continuous density */
    } else {
        n->var = new_var(L, id->name, VAR_SITE, site, s);
    }
    IrVar *v = &L->p->vars[n->var];
    v->con = con;
    if (con != CON_NONE) {
        int sup_ok = 1;
        if (con == CON_SIMPLEX)
            sup_ok = d->support == SUP_SIMPLEX;
        else if (con == CON_ORDERED)
            sup_ok = d->support == SUP_REAL;
        else if (con == CON_POSITIVE_ORDERED)
            sup_ok = d->support == SUP_REAL || d->support == SUP_POSITIVE;
        else if (con == CON_POSITIVE)
            sup_ok = d->support == SUP_REAL || d->support == SUP_POSITIVE;
        else if (con == CON_UNIT)
            sup_ok = d->support == SUP_REAL || d->support == SUP_UNIT;
        if (!sup_ok || support_is_discrete(d->support)) {
            diag_error(L->d, s->line, s->col, "%s's support cannot be constrained to '%s'", d->name,
                       decl ? decl->name : "this type");
            return;
        }
        if (site.rank != 1 && (con == CON_ORDERED || con == CON_POSITIVE_ORDERED || con == CON_SIMPLEX)) {
            diag_error(L->d, s->line, s->col, "'%s' must be a vector", id->name);
            return;
        }
    }
    int lo = -1, hi = -1;
    if (trunc) {
        if (!d->lpdf || support_is_discrete(d->support) || !d->cdf) {
            diag_error(L->d, trunc->line, trunc->col,
                       "truncation T[,] needs a univariate continuous distribution with a CDF; %s is not",
                       d->name);
            return;
        }
        for (int k = 0; k < 2; k++) {
            if (!trunc->kids[k])
                continue;
            Ex b = lower_expr(L, trunc->kids[k]);
            if (!b.ok)
                return;
            if (b.ty.rank || b.ty.base == TY_BOOL) {
                diag_error(L->d, trunc->kids[k]->line, trunc->kids[k]->col,
                           "a truncation bound must be a number");
                return;
            }
            if (k == 0)
                lo = b.reg;
            else
                hi = b.reg;
        }
    }
    int user_nargs = nargs;
    if (user_fn >= 0)
        nargs = 0; /* the arguments go to NAME_lpdf, not to the flat site */
    int i = ir_emit(L->code, IR_SAMPLE, s->line, s->col);
    IrInstr *in = &L->code->code[i];
    in->var = n->var;
    in->dist = d;
    in->nidx = nidx;
    in->ndims = nd;
    in->nargs = nidx + nargs + nd;
    in->args = ast_alloc(L->a, sizeof(int) * (size_t)(in->nargs + 1));
    for (int k = 0; k < nidx; k++)
        in->args[k] = idx[k];
    for (int k = 0; k < nargs; k++)
        in->args[nidx + k] = args[k].reg;
    for (int k = 0; k < nd; k++)
        in->args[nidx + nargs + k] = dims[k];
    in->a = lo;
    in->b = hi;
    n->defined = 1;
    if (v->plate < 0)
        v->plate = L->plate;
    set_parents(L, n->var);
    if (user_fn >= 0)
        emit_user_density(L, s, n->var, nidx, idx, user_fn, args, user_nargs);
}

static void lower_assign(Lower *L, AstNode *s)
{
    AstNode *t = s->kids[0], *decl = s->kids[1], *val = s->kids[2];
    AstNode *id = t->kind == AST_INDEX ? t->kids[0] : t;
    if (!id || id->kind != AST_IDENT) {
        diag_error(L->d, t->line, t->col, "the left of '=' must be a name or an indexed name");
        return;
    }
    int nidx = t->kind == AST_INDEX ? t->nkids - 1 : 0;
    if (nidx > 2) {
        diag_error(L->d, t->line, t->col, "at most 2 indices are supported");
        return;
    }
    if (decl && nidx) {
        diag_error(L->d, decl->line, decl->col, "a type goes on the whole variable, not an element");
        return;
    }
    for (int i = 0; i < L->nloops; i++)
        if (strcmp(L->loops[i].name, id->name) == 0) {
            diag_error(L->d, t->line, t->col, "cannot assign to loop variable '%s'", id->name);
            return;
        }
    L->nreads = 0;
    int var = -1;
    IrVar *v = NULL;
    NameInfo *n = NULL;
    if (L->fn) {
        var = find_local(L, id->name);
        for (int i = 0; var >= 0 && i < L->fn->nparams; i++)
            if (i == var) {
                diag_error(L->d, t->line, t->col, "cannot assign to parameter '%s'", id->name);
                return;
            }
        if (var < 0 && nidx) {
            diag_error(L->d, t->line, t->col,
                       "'%s' is assigned by element but not declared; declare it first, e.g. "
                       "'%s: real[N]'",
                       id->name, id->name);
            return;
        }
        if (var >= 0)
            v = &L->fn->vars[var];
    } else {
        n = lower_name(L, id->name);
        if (n->is_site) {
            diag_error(L->d, t->line, t->col, "cannot assign to '%s': it is a sampled site", id->name);
            return;
        }
        if (n->is_data) {
            diag_error(L->d, t->line, t->col, "cannot assign to '%s': it is data", id->name);
            return;
        }
        var = n->var;
        if (var >= 0)
            v = &L->p->vars[var];
    }
    int idx[2];
    SliceTarget sl = {NULL, NULL, 0, 0};
    if (nidx && target_has_slice(t)) {
        if (!lower_slice_target(L, t, &sl))
            return;
        if (n && n->uninferable && !n->has_decl)
            return; /* "cannot infer the size" was said at this index */
        if (!v || !v->indexed || decl) {
            diag_error(L->d, t->line, t->col,
                       "'%s' needs storage before a row, column or range of it is assigned; "
                       "declare it first, e.g. '%s: real[N, K]'",
                       id->name, id->name);
            return;
        }
        nidx = sl.nscalar; /* the value fills the dimensions the slices keep */
    } else if (nidx && !lower_index_items(L, t, idx)) {
        return;
    }
    int dims[2], nd = 0;
    Type dt = {TY_REAL, 0};
    if (decl) {
        int ok;
        dt = lower_type_of(L, decl, NULL, &ok);
        nd = lower_dims(L, decl, dims);
        if (!ok || nd < 0)
            return;
        if (v) {
            diag_error(L->d, decl->line, decl->col, "'%s' is already defined; it cannot be declared again",
                       id->name);
            return;
        }
    }
    Ex x = lower_expr(L, val);
    if (!x.ok)
        return;
    if (x.ty.base == TY_BOOL && !decl && !v) {
        /* bools are stored as ints */
        x.ty.base = TY_INT;
    }
    Type want = nidx ? (Type){x.ty.base, (signed char)(nidx + x.ty.rank)} : x.ty;
    if (decl)
        want = dt;
    if (!v) {
        if (L->fn) {
            var = new_local(L, id->name, want, s);
            v = &L->fn->vars[var];
        } else {
            var = n->var = new_var(L, id->name, VAR_DET, want, s);
            v = &L->p->vars[var];
        }
        if (decl) {
            emit_alloc(L, var, dims, nd, s);
            v->indexed = 1; /* declared storage: the value is copied in, shape checked */
        }
    } else if (v->indexed && !n) {
        /* declared local: check below */
    }
    Type have = v->type;
    int rank_ok = nidx ? (have.rank == nidx + x.ty.rank) : (have.rank == x.ty.rank);
    if (!rank_ok || (have.base == TY_INT && x.ty.base == TY_REAL) ||
        (have.base == TY_BOOL) != (x.ty.base == TY_BOOL && have.base == TY_BOOL)) {
        if (!(have.base == TY_REAL && x.ty.base == TY_INT && rank_ok)) {
            diag_error(L->d, val->line, val->col, "'%s%s' is %s, but the value is %s", id->name,
                       nidx ? "[...]" : "",
                       nidx ? type_str((Type){have.base, (signed char)(have.rank - nidx)}) : type_str(have),
                       type_str(x.ty));
            return;
        }
    }
    if (v->type.base == TY_REAL && x.ty.base == TY_INT && !v->indexed && !decl && !nidx && n &&
        !n->defined)
        v->type.base = TY_INT;
    int i = ir_emit(L->code, nidx || sl.args ? IR_STORE_IDX : IR_STORE, s->line, s->col);
    IrInstr *in = &L->code->code[i];
    in->var = var;
    in->a = x.reg;
    if (sl.args) {
        in->nargs = sl.nargs;
        in->args = sl.args;
        in->akind = sl.kinds;
    } else if (nidx) {
        in->nargs = nidx;
        in->args = ast_alloc(L->a, sizeof(int) * 2);
        memcpy(in->args, idx, sizeof idx);
    }
    if (n) {
        n->defined = 1;
        if (v->plate < 0)
            v->plate = L->plate;
        set_parents(L, var);
    }
}

static const char *expr_text(Lower *L, AstNode *e)
{
    char buf[64];
    if (e->kind == AST_INT)
        snprintf(buf, sizeof buf, "%ld", e->ival);
    else if (e->kind == AST_IDENT)
        snprintf(buf, sizeof buf, "%s", e->name);
    else if (e->kind == AST_BINOP && e->kids[0] && e->kids[1] &&
             (e->kids[0]->kind == AST_IDENT || e->kids[0]->kind == AST_INT) &&
             (e->kids[1]->kind == AST_IDENT || e->kids[1]->kind == AST_INT) && e->op < 128)
        snprintf(buf, sizeof buf, "%s%c%s", expr_text(L, e->kids[0]), e->op, expr_text(L, e->kids[1]));
    else
        snprintf(buf, sizeof buf, "...");
    return ast_strdup(L->a, buf, strlen(buf));
}

static void lower_loop(Lower *L, AstNode *s, int top)
{
    if (L->nloops >= MAX_LOOPS) {
        diag_error(L->d, s->line, s->col, "loops nested too deeply (more than %d)", MAX_LOOPS);
        return;
    }
    L->suppress_reads++;
    int lo = lower_int_scalar(L, s->kids[0], "a loop bound");
    int hi = lower_int_scalar(L, s->kids[1], "a loop bound");
    int sub = -1;
    if (s->kind == AST_PLATE && s->nkids > 3 && s->kids[3])
        sub = lower_int_scalar(L, s->kids[3], "a subsample size");
    L->suppress_reads--;
    if (lo < 0 || hi < 0)
        return;
    for (int i = 0; i < L->nloops; i++)
        if (strcmp(L->loops[i].name, s->name) == 0) {
            diag_error(L->d, s->line, s->col, "loop variable '%s' shadows an enclosing loop's", s->name);
            return;
        }
    int saved_plate = L->plate;
    int loop = ir_emit(L->code, IR_LOOP, s->line, s->col);
    int reg = ir_new_reg(L->code);
    IrInstr *in = &L->code->code[loop];
    in->dst = reg;
    in->a = lo;
    in->b = hi;
    in->c = sub;
    if (s->kind == AST_PLATE && !L->fn) {
        Program *p = L->p;
        IrPlate *np = realloc(p->plates, sizeof(IrPlate) * (size_t)(p->nplates + 1));
        if (!np)
            exit(3);
        p->plates = np;
        char label[200];
        snprintf(label, sizeof label, "%s in %s..%s", s->name, expr_text(L, s->kids[0]),
                 expr_text(L, s->kids[1]));
        p->plates[p->nplates] = (IrPlate){s->name, ast_strdup(L->a, label, strlen(label)), s->line, s->col};
        in->sub = 1;
        in->fn = p->nplates;
        L->plate = p->nplates++;
    }
    L->loops[L->nloops++] = (LoopScope){s->name, reg, s->kids[0], s->kids[1], L->plate};
    lower_block(L, s->kids[2], top);
    L->nloops--;
    L->plate = saved_plate;
    int end = ir_emit(L->code, IR_ENDLOOP, s->line, s->col);
    L->code->code[end].jump = loop;
    L->code->code[loop].jump = L->code->n;
}

static void lower_if(Lower *L, AstNode *s, int top)
{
    int saved_reads = L->nreads;
    L->nreads = 0;
    Ex c = lower_expr(L, s->kids[0]);
    int saved_cond = L->ncond_reads;
    for (int i = 0; i < L->nreads && L->ncond_reads < 64; i++)
        L->cond_reads[L->ncond_reads++] = L->reads[i];
    L->nreads = saved_reads;
    if (c.ok && (c.ty.rank || c.ty.base == TY_REAL)) {
        diag_error(L->d, s->kids[0]->line, s->kids[0]->col, "an if condition must be a bool, found %s",
                   type_str(c.ty));
        c.ok = 0;
    }
    int br = ir_emit(L->code, IR_BRANCH, s->line, s->col);
    L->code->code[br].a = c.reg;
    lower_block(L, s->kids[1], top);
    AstNode *els = s->nkids > 2 ? s->kids[2] : NULL;
    if (els) {
        int j = ir_emit(L->code, IR_JUMP, s->line, s->col);
        L->code->code[br].jump = L->code->n;
        if (els->kind == AST_IF)
            lower_if(L, els, top);
        else
            lower_block(L, els, top);
        L->code->code[j].jump = L->code->n;
    } else {
        L->code->code[br].jump = L->code->n;
    }
    L->ncond_reads = saved_cond;
}

static int always_returns(AstNode *s)
{
    if (!s)
        return 0;
    if (s->kind == AST_RETURN)
        return 1;
    if (s->kind == AST_BLOCK)
        return s->nkids && always_returns(s->kids[s->nkids - 1]);
    if (s->kind == AST_IF)
        return s->nkids > 2 && always_returns(s->kids[1]) && always_returns(s->kids[2]);
    return 0;
}

static int param_types(Lower *L, AstNode *params, Type *out)
{
    int ok = 1;
    for (int k = 0; k < params->nkids; k++) {
        int tok;
        out[k] = lower_type_of(L, params->kids[k]->kids[0], NULL, &tok);
        ok &= tok;
    }
    return ok;
}

static int name_taken(Lower *L, AstNode *s)
{
    for (int i = 0; i < L->p->nfns; i++)
        if (strcmp(L->p->fns[i].name, s->name) == 0) {
            if (i < L->nprelude)
                diag_error(L->d, s->line, s->col,
                           "function '%s' is already defined by the prelude (stdlib/prelude.cm); "
                           "choose another name",
                           s->name);
            else
                diag_error(L->d, s->line, s->col, "function '%s' is already defined at %d:%d", s->name,
                           L->p->fns[i].line, L->p->fns[i].col);
            return 1;
        }
    for (int i = 0; i < L->p->nexterns; i++)
        if (strcmp(L->p->externs[i].name, s->name) == 0) {
            diag_error(L->d, s->line, s->col, "function '%s' is already declared at %d:%d", s->name,
                       L->p->externs[i].line, L->p->externs[i].col);
            return 1;
        }
    if (builtin_find(s->name) >= 0) {
        diag_error(L->d, s->line, s->col, "'%s' is a builtin function; choose another name", s->name);
        return 1;
    }
    return 0;
}

/* A function's or extern's name, parameter types and result type. */
static int signature(Lower *L, AstNode *s, int *np, Type **pt, Type *ret)
{
    if (name_taken(L, s))
        return 0;
    AstNode *params = s->kids[0];
    *np = params ? params->nkids : 0;
    *pt = ast_alloc(L->a, sizeof(Type) * (size_t)(*np + 1));
    int ok;
    *ret = lower_type_of(L, s->kids[1], NULL, &ok);
    return ok && (*np == 0 || param_types(L, params, *pt));
}

static void lower_fn(Lower *L, AstNode *s)
{
    if (L->fn || L->nloops) {
        diag_error(L->d, s->line, s->col, "functions are defined at the top level only");
        return;
    }
    AstNode *params = s->kids[0];
    int np;
    Type *pt, ret;
    if (!signature(L, s, &np, &pt, &ret))
        return;
    Program *p = L->p;
    IrFn *nf = realloc(p->fns, sizeof(IrFn) * (size_t)(p->nfns + 1));
    if (!nf)
        exit(3);
    p->fns = nf;
    int fi = p->nfns;
    IrFn *f = &p->fns[fi];
    memset(f, 0, sizeof *f);
    f->name = s->name;
    f->nparams = np;
    f->ptypes = pt;
    f->ret = ret;
    f->line = s->line;
    f->col = s->col;
    /* lower the body with the function as the current scope; registered
       first so that it can call itself */
    p->nfns++;
    IrFn saved_fn;
    L->fn = &saved_fn;
    saved_fn = *f;
    for (int k = 0; k < np; k++) {
        AstNode *pa = params->kids[k];
        for (int j = 0; j < k; j++)
            if (strcmp(params->kids[j]->name, pa->name) == 0)
                diag_error(L->d, pa->line, pa->col, "parameter '%s' appears twice", pa->name);
        new_local(L, pa->name, pt[k], pa);
    }
    IrCode *saved_code = L->code;
    L->code = &saved_fn.code;
    int saved_loops = L->nloops, saved_plate = L->plate;
    L->nloops = 0;
    L->plate = -1;
    AstNode *body = s->kids[2];
    if (body && body->kind == AST_BLOCK) {
        lower_block(L, body, -1);
        if (!always_returns(body))
            diag_error(L->d, s->line, s->col, "function '%s' can end without 'return'", s->name);
    } else if (body) {
        Ex x = lower_expr(L, body);
        if (x.ok) {
            if (x.ty.rank != ret.rank || (ret.base == TY_INT && x.ty.base != TY_INT))
                diag_error(L->d, body->line, body->col, "function '%s' returns %s, but its body is %s",
                           s->name, type_str(ret), type_str(x.ty));
            int r = ir_emit(L->code, IR_RETURN, body->line, body->col);
            L->code->code[r].a = x.reg;
        }
    }
    L->code = saved_code;
    L->nloops = saved_loops;
    L->plate = saved_plate;
    L->fn = NULL;
    p->fns[fi] = saved_fn;
}

static void lower_extern(Lower *L, AstNode *s)
{
    if (L->fn || L->nloops) {
        diag_error(L->d, s->line, s->col, "extern functions are declared at the top level only");
        return;
    }
    AstNode *params = s->kids[0];
    int np;
    Type *pt, ret;
    if (!signature(L, s, &np, &pt, &ret))
        return;
    if (ret.rank != 0 || ret.base == TY_BOOL) {
        diag_error(L->d, s->kids[1]->line, s->kids[1]->col,
                   "an extern function returns real or int, not %s", type_str(ret));
        return;
    }
    for (int k = 0; k < np; k++)
        if (pt[k].rank > 1 || pt[k].base == TY_BOOL) {
            AstNode *pa = params->kids[k];
            diag_error(L->d, pa->line, pa->col,
                       "extern parameter '%s' must be real, int or a real/int vector", pa->name);
            return;
        }
    Program *p = L->p;
    IrExtern *ne = realloc(p->externs, sizeof(IrExtern) * (size_t)(p->nexterns + 1));
    if (!ne)
        exit(3);
    p->externs = ne;
    IrExtern *e = &p->externs[p->nexterns++];
    memset(e, 0, sizeof *e);
    e->name = s->name;
    e->lib = s->str;
    e->grad_sym = s->nkids > 2 && s->kids[2] ? s->kids[2]->str : NULL;
    e->nparams = np;
    e->ptypes = pt;
    e->ret = ret;
    e->line = s->line;
    e->col = s->col;
}

static void lower_stmt(Lower *L, AstNode *s, int top)
{
    if (!s)
        return;
    int at_top = !L->fn && L->nloops == 0 && top >= 0;
    switch (s->kind) {
    case AST_DATA:
        if (L->fn || L->nloops || L->ncond_reads) {
            diag_error(L->d, s->line, s->col, "'data' declarations belong at the top level");
            return;
        }
        lower_data(L, s);
        return;
    case AST_DECL:
        lower_decl(L, s);
        return;
    case AST_SAMPLE:
        lower_sample(L, s);
        return;
    case AST_ASSIGN:
        lower_assign(L, s);
        return;
    case AST_PLATE:
    case AST_FOR:
        lower_loop(L, s, top);
        return;
    case AST_IF:
        lower_if(L, s, top);
        return;
    case AST_BLOCK:
        lower_block(L, s, top);
        return;
    case AST_FN:
        lower_fn(L, s);
        return;
    case AST_EXTERN:
        lower_extern(L, s);
        return;
    case AST_RETURN: {
        if (!L->fn) {
            diag_error(L->d, s->line, s->col, "'return' outside a function");
            return;
        }
        Ex x = lower_expr(L, s->kids[0]);
        if (!x.ok)
            return;
        Type ret = L->fn->ret;
        if (x.ty.rank != ret.rank || (ret.base == TY_INT && x.ty.base != TY_INT)) {
            diag_error(L->d, s->line, s->col, "function '%s' returns %s, not %s", L->fn->name,
                       type_str(ret), type_str(x.ty));
            return;
        }
        int r = ir_emit(L->code, IR_RETURN, s->line, s->col);
        L->code->code[r].a = x.reg;
        return;
    }
    case AST_FACTOR: {
        if (L->fn) {
            diag_error(L->d, s->line, s->col, "factor() belongs in the model, not in a function");
            return;
        }
        Ex x = lower_expr(L, s->kids[0]);
        if (!x.ok)
            return;
        if (x.ty.base == TY_BOOL) {
            diag_error(L->d, s->line, s->col, "factor() needs a real value, found bool");
            return;
        }
        int r = ir_emit(L->code, IR_FACTOR, s->line, s->col);
        L->code->code[r].a = x.reg;
        return;
    }
    case AST_LATENT: {
        NameInfo *n = lower_name(L, s->name);
        if (!n || !n->is_site)
            diag_error(L->d, s->line, s->col, "'latent %s': '%s' is not a sampled site", s->name,
                       s->name);
        return;
    }
    default:
        diag_error(L->d, s->line, s->col, "not a statement");
        (void)at_top;
        return;
    }
}

/* A deterministic node is reported when its value depends on a site. */
static void mark_reported(Program *p)
{
    int changed = 1;
    unsigned char *dep = calloc((size_t)p->nvars + 1, 1);
    if (!dep)
        exit(3);
    for (int i = 0; i < p->nvars; i++)
        dep[i] = p->vars[i].role == VAR_SITE;
    while (changed) {
        changed = 0;
        for (int i = 0; i < p->nvars; i++)
            for (int k = 0; !dep[i] && k < p->vars[i].nparents; k++)
                if (dep[p->vars[i].parents[k]])
                    dep[i] = changed = 1;
    }
    for (int i = 0; i < p->nvars; i++)
        p->vars[i].reported = dep[i] && !p->vars[i].hidden &&
                              (p->vars[i].role == VAR_SITE || p->vars[i].role == VAR_DET);
    free(dep);
}

void lower_fn_statement(Lower *L, AstNode *s)
{
    if (s && s->kind == AST_FN)
        lower_fn(L, s);
}

void lower_program(Lower *L, AstNode *prog)
{
    for (int i = 0; i < prog->nkids; i++) {
        alloc_inferred(L, i);
        lower_stmt(L, prog->kids[i], i);
    }
    for (int i = 0; i < L->nnames; i++)
        if (L->names[i].is_latent && L->names[i].var >= 0)
            L->p->vars[L->names[i].var].is_latent_decl = 1;
    mark_reported(L->p);
}
