/*
 * prepass.c - what every model-level name is, before lowering starts.
 *
 * A name is a site if it is the target of `~` anywhere, deterministic if
 * it is assigned, data if it is declared `data` (a declared data name that
 * is also sampled is an observable site: observed when the data bind it).
 * Lowering needs this up front: `data y: real[N]` means something
 * different when `y ~ ...` follows, and a variable defined element by
 * element (`eta[j] ~ Normal(0, 1)` in `plate j in 1..J`) needs storage
 * sized before its first element is written.  Its size is inferred from
 * the loops that index it: the largest upper bound (plus a constant offset,
 * as in x[t+1]) over every defining statement.
 */
#include <string.h>

#include "lower_internal.h"

NameInfo *lower_name(Lower *L, const char *name)
{
    for (int i = 0; i < L->nnames; i++)
        if (strcmp(L->names[i].name, name) == 0)
            return &L->names[i];
    return NULL;
}

static NameInfo *add_name(Lower *L, const char *name)
{
    NameInfo *n = lower_name(L, name);
    if (n)
        return n;
    static const int chunk = 64;
    if (L->nnames % chunk == 0) {
        NameInfo *nn = ast_alloc(L->a, sizeof(NameInfo) * (size_t)(L->nnames + chunk));
        if (L->nnames)
            memcpy(nn, L->names, sizeof(NameInfo) * (size_t)L->nnames);
        L->names = nn;
    }
    n = &L->names[L->nnames++];
    memset(n, 0, sizeof *n);
    n->name = name;
    n->var = -1;
    n->top = -1;
    return n;
}

typedef struct {
    const char *var;
    AstNode *hi;
} PLoop;

/* Does expression e mention any of the loop variables in loops[0..n-1]? */
static int mentions_loop(AstNode *e, PLoop *loops, int n)
{
    if (!e)
        return 0;
    if (e->kind == AST_IDENT)
        for (int i = 0; i < n; i++)
            if (strcmp(loops[i].var, e->name) == 0)
                return 1;
    for (int i = 0; i < e->nkids; i++)
        if (mentions_loop(e->kids[i], loops, n))
            return 1;
    return 0;
}

static void add_extent(NameInfo *n, int dim, AstNode *hi, int add, AstNode *where)
{
    if (dim >= MAX_DIMS || n->nextent[dim] >= 16) {
        n->uninferable = 1;
        n->where_uninferable = where;
        return;
    }
    n->extent[dim][n->nextent[dim]] = hi;
    n->extent_add[dim][n->nextent[dim]++] = add;
}

/* Record the extent each index of target `t` implies. */
static void note_indexed(NameInfo *n, AstNode *t, PLoop *loops, int nloops)
{
    n->indexed = 1;
    for (int k = 1; k < t->nkids; k++) {
        AstNode *ix = t->kids[k];
        int dim = k - 1;
        if (!ix)
            continue;
        if (ix->kind == AST_INT) {
            add_extent(n, dim, ix, 0, ix);
            continue;
        }
        AstNode *var = NULL;
        int add = 0;
        if (ix->kind == AST_IDENT) {
            var = ix;
        } else if (ix->kind == AST_BINOP && (ix->op == '+' || ix->op == '-') && ix->nkids == 2 &&
                   ix->kids[0] && ix->kids[1] && ix->kids[0]->kind == AST_IDENT &&
                   ix->kids[1]->kind == AST_INT) {
            var = ix->kids[0];
            add = (int)(ix->op == '+' ? ix->kids[1]->ival : -ix->kids[1]->ival);
        }
        int found = -1;
        for (int i = nloops - 1; var && i >= 0; i--)
            if (strcmp(loops[i].var, var->name) == 0) {
                found = i;
                break;
            }
        /* the bound must be computable before the outermost loop runs */
        if (found < 0 || mentions_loop(loops[found].hi, loops, nloops)) {
            if (!n->uninferable) {
                n->uninferable = 1;
                n->where_uninferable = ix;
            }
            continue;
        }
        add_extent(n, dim, loops[found].hi, add, ix);
    }
}

static void walk(Lower *L, AstNode *s, int top, PLoop *loops, int nloops)
{
    if (!s)
        return;
    switch (s->kind) {
    case AST_BLOCK:
        for (int i = 0; i < s->nkids; i++)
            walk(L, s->kids[i], top, loops, nloops);
        return;
    case AST_PLATE:
    case AST_FOR:
        if (nloops < MAX_LOOPS && s->nkids >= 3) {
            loops[nloops].var = s->name;
            loops[nloops].hi = s->kids[1];
            walk(L, s->kids[2], top, loops, nloops + 1);
        }
        return;
    case AST_IF:
        for (int i = 1; i < s->nkids; i++)
            walk(L, s->kids[i], top, loops, nloops);
        return;
    case AST_SAMPLE:
    case AST_ASSIGN: {
        AstNode *t = s->nkids ? s->kids[0] : NULL;
        if (!t)
            return;
        AstNode *id = t->kind == AST_INDEX ? t->kids[0] : t;
        if (!id || id->kind != AST_IDENT)
            return;
        NameInfo *n = add_name(L, id->name);
        if (s->kind == AST_SAMPLE)
            n->is_site = 1;
        else
            n->is_assigned = 1;
        if (!n->first)
            n->first = s;
        if (n->top < 0)
            n->top = top;
        if (t->kind == AST_INDEX)
            note_indexed(n, t, loops, nloops);
        else
            n->whole = 1;
        if (s->nkids > 1 && s->kids[1])
            n->has_decl = 1;
        return;
    }
    case AST_DECL: {
        NameInfo *n = add_name(L, s->name);
        n->has_decl = 1;
        if (n->top < 0)
            n->top = top;
        return;
    }
    case AST_DATA: {
        NameInfo *n = add_name(L, s->name);
        n->is_data = 1;
        if (n->top < 0)
            n->top = top;
        return;
    }
    case AST_LATENT:
        add_name(L, s->name)->is_latent = 1;
        return;
    default:
        return;
    }
}

void prepass_run(Lower *L, AstNode *prog)
{
    derived_sample_rewrite(L, prog); /* `~` on a computed name is a factor */
    PLoop loops[MAX_LOOPS];
    for (int i = 0; i < prog->nkids; i++)
        walk(L, prog->kids[i], i, loops, 0);
}
