/*
 * lower_expr.c - resolving, typing and lowering expressions.
 *
 * Each expression becomes one or more IR instructions whose result is a
 * fresh register; the returned Ex carries the register and the static type
 * (base and rank).  Shapes (the sizes behind the ranks) are data-dependent
 * and are checked by the runtime when the model is first traced, with the
 * same file:line:col location.  A failed sub-expression yields ok = 0 and
 * silences follow-on errors about it.
 */
#include <string.h>

#include "builtins.h"
#include "lower_internal.h"

static Ex bad(void) { return (Ex){-1, {TY_REAL, 0}, 0}; }

static Ex mk(int reg, int base, int rank) { return (Ex){reg, {(unsigned char)base, (signed char)rank}, 1}; }

static const char *rank_name(int r)
{
    return r == 0 ? "a scalar" : r == 1 ? "a vector" : r == 2 ? "a matrix" : "an array";
}

static const char *type_name(Type t)
{
    static char buf[4][32];
    static int k;
    static const char *b[] = {"int", "real", "bool"};
    char *s = buf[k++ & 3];
    snprintf(s, 32, "%s%s", b[t.base], t.rank == 0 ? "" : t.rank == 1 ? " vector" : " matrix");
    return s;
}

static void note_read(Lower *L, int var)
{
    if (L->suppress_reads || L->fn)
        return;
    for (int i = 0; i < L->nreads; i++)
        if (L->reads[i] == var)
            return;
    if (L->nreads == L->capreads) {
        int nc = L->capreads ? L->capreads * 2 : 16;
        int *r = ast_alloc(L->a, sizeof(int) * (size_t)nc);
        if (L->nreads)
            memcpy(r, L->reads, sizeof(int) * (size_t)L->nreads);
        L->reads = r;
        L->capreads = nc;
    }
    L->reads[L->nreads++] = var;
}

static int emit_const(Lower *L, int base, double v, AstNode *at)
{
    int i = ir_emit(L->code, IR_CONST, at->line, at->col);
    L->code->code[i].sub = base;
    L->code->code[i].num = v;
    return L->code->code[i].dst = ir_new_reg(L->code);
}

static int *alloc_args(Lower *L, int n)
{
    return n ? ast_alloc(L->a, sizeof(int) * (size_t)n) : NULL;
}

/* Names visible to the current code: loop variables, then function locals
 * or model variables; returns the kind and fills *reg / *var. */
static Ex lower_ident(Lower *L, AstNode *e)
{
    for (int i = L->nloops - 1; i >= 0; i--)
        if (strcmp(L->loops[i].name, e->name) == 0)
            return mk(L->loops[i].reg, TY_INT, 0);
    if (L->fn) {
        for (int i = 0; i < L->fn->nvars; i++)
            if (strcmp(L->fn->vars[i].name, e->name) == 0) {
                int k = ir_emit(L->code, IR_LOAD, e->line, e->col);
                L->code->code[k].var = i;
                L->code->code[k].dst = ir_new_reg(L->code);
                return (Ex){L->code->code[k].dst, L->fn->vars[i].type, 1};
            }
        diag_error(L->d, e->line, e->col,
                   "unknown name '%s' in function '%s' (functions see only their parameters "
                   "and locals)",
                   e->name, L->fn->name);
        return bad();
    }
    NameInfo *n = lower_name(L, e->name);
    if (!n || n->var < 0) {
        if (n && n->top >= 0 && diag_failed(L->d))
            return bad(); /* its definition failed and was reported */
        if (n && n->top >= 0) {
            int line = n->first ? n->first->line : 0;
            diag_error(L->d, e->line, e->col, "'%s' is used before it is defined%s", e->name,
                       line ? "" : "");
            if (n->first)
                diag_note(L->d, n->first->line, n->first->col, "'%s' is defined here", e->name);
            return bad();
        }
        const char *cands[512];
        size_t nc = 0;
        for (int i = 0; i < L->nnames && nc < 500; i++)
            if (L->names[i].var >= 0)
                cands[nc++] = L->names[i].name;
        for (int i = 0; i < L->nloops && nc < 510; i++)
            cands[nc++] = L->loops[i].name;
        const char *s = diag_suggest(e->name, cands, nc);
        if (s)
            diag_error(L->d, e->line, e->col, "unknown name '%s'; did you mean '%s'?", e->name, s);
        else
            diag_error(L->d, e->line, e->col, "unknown name '%s'", e->name);
        return bad();
    }
    IrVar *v = &L->p->vars[n->var];
    if (!n->defined) {
        if (diag_failed(L->d))
            return bad();
        diag_error(L->d, e->line, e->col, "'%s' is used before it is defined", e->name);
        if (n->first)
            diag_note(L->d, n->first->line, n->first->col, "'%s' is defined here", e->name);
        return bad();
    }
    note_read(L, n->var);
    int k = ir_emit(L->code, IR_LOAD, e->line, e->col);
    L->code->code[k].var = n->var;
    L->code->code[k].dst = ir_new_reg(L->code);
    return (Ex){L->code->code[k].dst, v->type, 1};
}

int lower_int_scalar(Lower *L, AstNode *e, const char *what)
{
    Ex x = lower_expr(L, e);
    if (!x.ok)
        return -1;
    if (x.ty.rank != 0 || x.ty.base != TY_INT) {
        diag_error(L->d, e->line, e->col, "%s must be an int, found %s", what, type_name(x.ty));
        return -1;
    }
    return x.reg;
}

static Ex lower_index(Lower *L, AstNode *e)
{
    Ex base = lower_expr(L, e->kids[0]);
    if (!base.ok)
        return bad();
    int nitems = e->nkids - 1;
    if (nitems > base.ty.rank) {
        diag_error(L->d, e->line, e->col, "too many indices: %d for %s", nitems,
                   rank_name(base.ty.rank));
        return bad();
    }
    int *args = alloc_args(L, 2 * nitems);
    unsigned char *kinds = ast_alloc(L->a, (size_t)(2 * nitems + 1));
    int na = 0, rank = base.ty.rank, ok = 1;
    /* a site read in an index (mu[z]) is a parent like any other read */
    for (int k = 1; k < e->nkids; k++) {
        AstNode *ix = e->kids[k];
        if (ix->kind == AST_ALL) {
            kinds[na] = 2;
            args[na++] = -1;
        } else if (ix->kind == AST_SLICE) {
            int lo = lower_int_scalar(L, ix->kids[0], "a slice bound");
            int hi = lower_int_scalar(L, ix->kids[1], "a slice bound");
            ok &= lo >= 0 && hi >= 0;
            kinds[na] = 1;
            args[na++] = lo;
            kinds[na] = 3;
            args[na++] = hi;
        } else {
            Ex x = lower_expr(L, ix);
            if (!x.ok) {
                ok = 0;
                continue;
            }
            if (x.ty.base != TY_INT || x.ty.rank > 1) {
                diag_error(L->d, ix->line, ix->col,
                           "an index must be an int or an int vector, found %s", type_name(x.ty));
                ok = 0;
                continue;
            }
            if (x.ty.rank == 0)
                rank--;
            kinds[na] = 0;
            args[na++] = x.reg;
        }
    }
    if (!ok)
        return bad();
    int i = ir_emit(L->code, IR_INDEX, e->line, e->col);
    IrInstr *in = &L->code->code[i];
    in->a = base.reg;
    in->args = args;
    in->akind = kinds;
    in->nargs = na;
    in->dst = ir_new_reg(L->code);
    return mk(in->dst, base.ty.base, rank);
}

static int is_numeric(Type t) { return t.base == TY_INT || t.base == TY_REAL; }

static Ex lower_binop(Lower *L, AstNode *e)
{
    Ex a = lower_expr(L, e->kids[0]);
    Ex b = lower_expr(L, e->kids[1]);
    if (!a.ok || !b.ok)
        return bad();
    int op = e->op, base = TY_REAL, rank = 0;
    int ra = a.ty.rank, rb = b.ty.rank;
    switch (op) {
    case AST_OP_AND:
    case AST_OP_OR:
        if (ra || rb || a.ty.base == TY_REAL || b.ty.base == TY_REAL) {
            diag_error(L->d, e->line, e->col, "'%s' needs bool (or int) scalars, found %s and %s",
                       op == AST_OP_AND ? "&&" : "||", type_name(a.ty), type_name(b.ty));
            return bad();
        }
        base = TY_BOOL;
        break;
    case AST_OP_EQ: case AST_OP_NE: case '<': case '>': case AST_OP_LE: case AST_OP_GE:
        if (ra || rb) {
            diag_error(L->d, e->line, e->col, "comparison needs scalars, found %s and %s",
                       type_name(a.ty), type_name(b.ty));
            return bad();
        }
        base = TY_BOOL;
        break;
    case '%':
        if (ra || rb || a.ty.base != TY_INT || b.ty.base != TY_INT) {
            diag_error(L->d, e->line, e->col, "'%%' needs int scalars, found %s and %s",
                       type_name(a.ty), type_name(b.ty));
            return bad();
        }
        base = TY_INT;
        break;
    default:
        if (!is_numeric(a.ty) || !is_numeric(b.ty)) {
            diag_error(L->d, e->line, e->col, "arithmetic on a bool (%s and %s)", type_name(a.ty),
                       type_name(b.ty));
            return bad();
        }
        base = (a.ty.base == TY_INT && b.ty.base == TY_INT &&
                (op == '+' || op == '-' || op == '*' || op == AST_OP_EMUL))
                   ? TY_INT
                   : TY_REAL;
        if (op == '*' && ra == 2 && rb >= 1) {
            rank = rb; /* matrix-vector or matrix-matrix product */
        } else if (op == '*' && ra == 1 && rb == 2) {
            diag_error(L->d, e->line, e->col,
                       "vector * matrix is not defined; write transpose(M) * v");
            return bad();
        } else if (ra && rb && ra != rb) {
            diag_error(L->d, e->line, e->col, "shape mismatch: %s %s %s", rank_name(ra),
                       op == AST_OP_EMUL ? ".*" : op == AST_OP_EDIV ? "./" : (char[]){(char)op, 0},
                       rank_name(rb));
            return bad();
        } else {
            rank = ra > rb ? ra : rb;
        }
    }
    int i = ir_emit(L->code, IR_BINOP, e->line, e->col);
    IrInstr *in = &L->code->code[i];
    in->sub = op;
    in->a = a.reg;
    in->b = b.reg;
    in->dst = ir_new_reg(L->code);
    return mk(in->dst, base, rank);
}

static int find_fn(Lower *L, const char *name)
{
    for (int i = 0; i < L->p->nfns; i++)
        if (strcmp(L->p->fns[i].name, name) == 0)
            return i;
    return -1;
}

static int find_extern(Lower *L, const char *name)
{
    for (int i = 0; i < L->p->nexterns; i++)
        if (strcmp(L->p->externs[i].name, name) == 0)
            return i;
    return -1;
}

static int lower_args(Lower *L, AstNode *e, int from, Ex *out)
{
    int ok = 1;
    for (int k = from; k < e->nkids; k++) {
        out[k - from] = lower_expr(L, e->kids[k]);
        ok &= out[k - from].ok;
    }
    return ok;
}

/* Check call arguments against declared parameter types. */
static int check_params(Lower *L, AstNode *e, const char *what, const char *name, int np,
                        const Type *pt, const Ex *args)
{
    int nargs = e->nkids;
    if (nargs != np) {
        diag_error(L->d, e->line, e->col, "%s '%s' takes %d argument%s, got %d", what, name, np,
                   np == 1 ? "" : "s", nargs);
        return 0;
    }
    for (int k = 0; k < np; k++) {
        Type a = args[k].ty, p = pt[k];
        int base_ok = a.base == p.base || (p.base == TY_REAL && a.base == TY_INT) ||
                      (p.base == TY_INT && a.base == TY_BOOL);
        if (a.rank != p.rank || !base_ok) {
            diag_error(L->d, e->kids[k]->line, e->kids[k]->col,
                       "argument %d of '%s' must be %s, found %s", k + 1, name, type_name(p),
                       type_name(a));
            return 0;
        }
    }
    return 1;
}

/* Distribution arguments: arity and kinds, shared by `~` and `_lpdf`. */
int lower_dist_args(Lower *L, AstNode *call, const DistInfo *d, int from, Ex *args)
{
    int nargs = call->nkids - from;
    if (nargs != d->nparams) {
        char names[128] = "";
        for (int k = 0; k < d->nparams; k++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", k ? ", " : "",
                     d->param_names[k]);
        diag_error(L->d, call->line, call->col, "%s takes %d argument%s (%s), got %d", d->name,
                   d->nparams, d->nparams == 1 ? "" : "s", names, nargs);
        return 0;
    }
    int ok = 1;
    int multivariate = d->lpdf == NULL;
    for (int k = 0; k < nargs; k++) {
        Type t = args[k].ty;
        AstNode *at = call->kids[from + k];
        ParamKind pk = d->param_kind[k];
        const char *need = NULL;
        if (t.base == TY_BOOL)
            need = "a number";
        else if (pk == PK_INT && t.base != TY_INT)
            need = "an int";
        else if (pk == PK_VECTOR && t.rank != 1)
            need = "a vector";
        else if (pk == PK_MATRIX && t.rank != 2)
            need = "a matrix";
        else if ((pk == PK_REAL || pk == PK_INT) && multivariate && t.rank != 0)
            need = "a scalar";
        else if ((pk == PK_REAL || pk == PK_INT) && t.rank == 2)
            need = "a scalar or a vector";
        if (need) {
            diag_error(L->d, at->line, at->col, "argument '%s' of %s must be %s, found %s",
                       d->param_names[k], d->name, need, type_name(t));
            ok = 0;
        }
    }
    return ok;
}

const DistInfo *lower_find_dist(Lower *L, AstNode *at, const char *name)
{
    const DistInfo *d = dist_find(name);
    if (d)
        return d;
    const char *cands[128];
    int n = 0;
    for (int i = 0; cm_dists[i] && n < 128; i++)
        cands[n++] = cm_dists[i]->name;
    const char *s = diag_suggest(name, cands, (size_t)n);
    if (s)
        diag_error(L->d, at->line, at->col, "unknown distribution '%s'; did you mean '%s'?", name, s);
    else
        diag_error(L->d, at->line, at->col, "unknown distribution '%s'", name);
    return NULL;
}

static Ex lower_call(Lower *L, AstNode *e)
{
    Ex args[64];
    if (e->nkids > 64) {
        diag_error(L->d, e->line, e->col, "too many arguments (%d) to '%s'", e->nkids, e->name);
        return bad();
    }
    /* Normal_lpdf(x, mu, sigma): a distribution's log density as a value */
    size_t len = strlen(e->name);
    if (len > 5 && (strcmp(e->name + len - 5, "_lpdf") == 0 || strcmp(e->name + len - 5, "_lpmf") == 0)) {
        char dn[64];
        snprintf(dn, sizeof dn, "%.*s", (int)(len - 5 < 63 ? len - 5 : 63), e->name);
        const DistInfo *d = lower_find_dist(L, e, dn);
        if (!d)
            return bad();
        if (e->nkids < 1) {
            diag_error(L->d, e->line, e->col, "'%s' needs the value as its first argument", e->name);
            return bad();
        }
        if (!lower_args(L, e, 0, args) || !lower_dist_args(L, e, d, 1, args + 1))
            return bad();
        int i = ir_emit(L->code, IR_LPDF, e->line, e->col);
        IrInstr *in = &L->code->code[i];
        in->dist = d;
        in->nargs = e->nkids;
        in->args = alloc_args(L, e->nkids);
        for (int k = 0; k < e->nkids; k++)
            in->args[k] = args[k].reg;
        in->dst = ir_new_reg(L->code);
        return mk(in->dst, TY_REAL, 0);
    }
    int f = find_fn(L, e->name), x = find_extern(L, e->name), b = builtin_find(e->name);
    if (f < 0 && x < 0 && b < 0) {
        const char *cands[256];
        size_t nc = 0;
        for (int i = 0; cm_builtins[i].name && nc < 200; i++)
            cands[nc++] = cm_builtins[i].name;
        for (int i = 0; i < L->p->nfns && nc < 240; i++)
            cands[nc++] = L->p->fns[i].name;
        for (int i = 0; i < L->p->nexterns && nc < 256; i++)
            cands[nc++] = L->p->externs[i].name;
        const char *s = diag_suggest(e->name, cands, nc);
        if (dist_find(e->name))
            diag_error(L->d, e->line, e->col,
                       "'%s' is a distribution: use it with '~', or call %s_lpdf(x, ...)", e->name,
                       e->name);
        else if (s)
            diag_error(L->d, e->line, e->col, "unknown function '%s'; did you mean '%s'?", e->name, s);
        else
            diag_error(L->d, e->line, e->col, "unknown function '%s'", e->name);
        return bad();
    }
    if (!lower_args(L, e, 0, args))
        return bad();
    int n = e->nkids;
    IrOp op;
    Type ret;
    int id;
    if (f >= 0) {
        IrFn *fn = &L->p->fns[f];
        if (!check_params(L, e, "function", fn->name, fn->nparams, fn->ptypes, args))
            return bad();
        op = IR_CALL_FN;
        ret = fn->ret;
        id = f;
    } else if (x >= 0) {
        IrExtern *ex = &L->p->externs[x];
        if (!check_params(L, e, "extern function", ex->name, ex->nparams, ex->ptypes, args))
            return bad();
        op = IR_CALL_EXT;
        ret = ex->ret;
        id = x;
    } else {
        const Builtin *bi = &cm_builtins[b];
        if (n < bi->min_args || n > bi->max_args) {
            if (bi->min_args == bi->max_args)
                diag_error(L->d, e->line, e->col, "'%s' takes %d argument%s, got %d", bi->name,
                           bi->min_args, bi->min_args == 1 ? "" : "s", n);
            else
                diag_error(L->d, e->line, e->col, "'%s' takes %d to %d arguments, got %d", bi->name,
                           bi->min_args, bi->max_args, n);
            return bad();
        }
        for (int k = 0; k < n; k++)
            if (args[k].ty.base == TY_BOOL && bi->op != BI_SIZE) {
                diag_error(L->d, e->kids[k]->line, e->kids[k]->col,
                           "argument %d of '%s' must be a number, found bool", k + 1, bi->name);
                return bad();
            }
        int r0 = args[0].ty.rank, maxr = 0;
        for (int k = 0; k < n; k++)
            if (args[k].ty.rank > maxr)
                maxr = args[k].ty.rank;
        const char *need = NULL;
        ret = (Type){TY_REAL, 0};
        switch (bi->rule) {
        case BR_ELEM:
            for (int k = 0; k < n; k++)
                if (args[k].ty.rank && args[k].ty.rank != maxr)
                    need = "arguments of the same shape (or scalars)";
            ret.rank = (signed char)maxr;
            break;
        case BR_REDUCE:
            if (bi->op == OP_DOT && (r0 != 1 || args[1].ty.rank != 1))
                need = "two vectors";
            else if (bi->op == BI_LOG_MIX && (args[0].ty.rank != 0))
                need = "a mixing weight then two log densities";
            else if (bi->op == BI_LOG_SUM_EXP && n > 1 && maxr > 0)
                need = "one vector, or several scalars";
            else if ((bi->op == BI_MEAN || bi->op == BI_SD || bi->op == BI_VARIANCE) && r0 == 0)
                need = "a vector or matrix";
            break;
        case BR_VEC:
            if (r0 != 1)
                need = "a vector";
            ret.rank = 1;
            break;
        case BR_MAT:
            if (r0 != 2)
                need = "a matrix";
            ret.rank = 2;
            break;
        case BR_INT:
            if (r0 == 0)
                need = "a vector or matrix";
            ret.base = TY_INT;
            break;
        case BR_SPECIAL:
            switch (bi->op) {
            case BI_SUM:
            case BI_PROD:
                if (r0 == 0)
                    need = "a vector or matrix";
                ret.base = args[0].ty.base;
                break;
            case BI_MIN:
            case BI_MAX:
                if (n == 1 && r0 == 0)
                    need = "a vector, or two scalars";
                if (n == 2 && maxr)
                    need = "two scalars (or one vector)";
                ret.base = (n == 1 ? args[0].ty.base
                            : (args[0].ty.base == TY_INT && args[1].ty.base == TY_INT) ? TY_INT
                                                                                       : TY_REAL);
                break;
            case BI_DIAG_MATRIX:
                if (r0 != 1)
                    need = "a vector";
                ret.rank = 2;
                break;
            case BI_IDENTITY:
            case BI_ZEROS:
            case BI_ONES:
                if (r0 != 0 || args[0].ty.base != TY_INT)
                    need = "an int size";
                ret.rank = bi->op == BI_IDENTITY ? 2 : 1;
                break;
            case BI_SEQ:
                if (maxr || args[0].ty.base != TY_INT || args[1].ty.base != TY_INT)
                    need = "two ints";
                ret = (Type){TY_INT, 1};
                break;
            case BI_TO_INT:
                ret = (Type){TY_INT, (signed char)r0};
                break;
            case BI_REP:
                if (args[1].ty.rank || args[1].ty.base != TY_INT)
                    need = "a value and an int count";
                else if (r0 > 1)
                    need = "a scalar or vector value";
                ret = (Type){args[0].ty.base, (signed char)(r0 + 1)};
                break;
            case BI_REP_MATRIX:
                if (r0 || args[1].ty.rank || args[2].ty.rank || args[1].ty.base != TY_INT ||
                    args[2].ty.base != TY_INT)
                    need = "a scalar and two int sizes";
                ret = (Type){args[0].ty.base, 2};
                break;
            }
            break;
        }
        if (need) {
            diag_error(L->d, e->line, e->col, "'%s' needs %s", bi->name, need);
            return bad();
        }
        op = IR_CALL;
        id = b;
    }
    int i = ir_emit(L->code, op, e->line, e->col);
    IrInstr *in = &L->code->code[i];
    in->fn = id;
    in->nargs = n;
    in->args = alloc_args(L, n);
    for (int k = 0; k < n; k++)
        in->args[k] = args[k].reg;
    in->dst = ir_new_reg(L->code);
    return (Ex){in->dst, ret, 1};
}

static Ex lower_vector(Lower *L, AstNode *e)
{
    if (e->nkids == 0) {
        diag_error(L->d, e->line, e->col, "empty vector literal []");
        return bad();
    }
    Ex args[256] = {{0, {0, 0}, 0}};
    int n = e->nkids;
    if (n > 256) {
        diag_error(L->d, e->line, e->col, "vector literal with %d elements; at most 256 (load it as data)", n);
        return bad();
    }
    if (!lower_args(L, e, 0, args))
        return bad();
    int rank = args[0].ty.rank, base = TY_INT;
    for (int k = 0; k < n; k++) {
        if (args[k].ty.rank != rank || rank > 1) {
            diag_error(L->d, e->kids[k]->line, e->kids[k]->col,
                       "vector literal elements must all be scalars, or all vectors (rows)");
            return bad();
        }
        if (args[k].ty.base == TY_BOOL) {
            diag_error(L->d, e->kids[k]->line, e->kids[k]->col, "bool in a vector literal");
            return bad();
        }
        if (args[k].ty.base == TY_REAL)
            base = TY_REAL;
    }
    int i = ir_emit(L->code, IR_VEC, e->line, e->col);
    IrInstr *in = &L->code->code[i];
    in->nargs = n;
    in->args = alloc_args(L, n);
    for (int k = 0; k < n; k++)
        in->args[k] = args[k].reg;
    in->dst = ir_new_reg(L->code);
    return mk(in->dst, base, rank + 1);
}

Ex lower_expr(Lower *L, AstNode *e)
{
    if (!e)
        return bad();
    switch (e->kind) {
    case AST_INT:
        return mk(emit_const(L, TY_INT, (double)e->ival, e), TY_INT, 0);
    case AST_REAL:
        return mk(emit_const(L, TY_REAL, e->num, e), TY_REAL, 0);
    case AST_BOOL:
        return mk(emit_const(L, TY_BOOL, (double)e->ival, e), TY_BOOL, 0);
    case AST_IDENT:
        return lower_ident(L, e);
    case AST_INDEX:
        return lower_index(L, e);
    case AST_BINOP:
        return lower_binop(L, e);
    case AST_UNOP: {
        Ex a = lower_expr(L, e->kids[0]);
        if (!a.ok)
            return bad();
        if (e->op == '!' && (a.ty.rank || a.ty.base == TY_REAL)) {
            diag_error(L->d, e->line, e->col, "'!' needs a bool, found %s", type_name(a.ty));
            return bad();
        }
        if (e->op == '-' && a.ty.base == TY_BOOL) {
            diag_error(L->d, e->line, e->col, "unary '-' on a bool");
            return bad();
        }
        int i = ir_emit(L->code, IR_UNOP, e->line, e->col);
        L->code->code[i].sub = e->op;
        L->code->code[i].a = a.reg;
        L->code->code[i].dst = ir_new_reg(L->code);
        return mk(L->code->code[i].dst, e->op == '!' ? TY_BOOL : a.ty.base, a.ty.rank);
    }
    case AST_COND: {
        /* c ? a : b lowers to a branch that stores into one register */
        Ex c = lower_expr(L, e->kids[0]);
        if (!c.ok)
            return bad();
        if (c.ty.rank || c.ty.base == TY_REAL) {
            diag_error(L->d, e->kids[0]->line, e->kids[0]->col, "condition must be a bool, found %s",
                       type_name(c.ty));
            return bad();
        }
        int dst = ir_new_reg(L->code);
        int br = ir_emit(L->code, IR_BRANCH, e->line, e->col);
        L->code->code[br].a = c.reg;
        Ex a = lower_expr(L, e->kids[1]);
        int mv = ir_emit(L->code, IR_UNOP, e->line, e->col);
        L->code->code[mv].sub = '=';
        L->code->code[mv].a = a.reg;
        L->code->code[mv].dst = dst;
        int j = ir_emit(L->code, IR_JUMP, e->line, e->col);
        L->code->code[br].jump = L->code->n;
        Ex b = lower_expr(L, e->kids[2]);
        int mv2 = ir_emit(L->code, IR_UNOP, e->line, e->col);
        L->code->code[mv2].sub = '=';
        L->code->code[mv2].a = b.reg;
        L->code->code[mv2].dst = dst;
        L->code->code[j].jump = L->code->n;
        if (!a.ok || !b.ok)
            return bad();
        if (a.ty.rank != b.ty.rank || (a.ty.base == TY_BOOL) != (b.ty.base == TY_BOOL)) {
            diag_error(L->d, e->line, e->col, "the branches of ?: differ: %s and %s", type_name(a.ty),
                       type_name(b.ty));
            return bad();
        }
        return mk(dst, a.ty.base == b.ty.base ? a.ty.base : TY_REAL, a.ty.rank);
    }
    case AST_CALL:
        return lower_call(L, e);
    case AST_VECTOR:
        return lower_vector(L, e);
    case AST_STRING:
        diag_error(L->d, e->line, e->col, "a string is not a value here");
        return bad();
    case AST_SLICE:
    case AST_ALL:
        diag_error(L->d, e->line, e->col, "a range is only allowed inside [ ]");
        return bad();
    default:
        diag_error(L->d, e->line, e->col, "not an expression");
        return bad();
    }
}
