/*
 * derived_sample.c - `~` on a name the model computes.
 *
 * Stan users write `log(y) ~ normal(mu, sigma)` or, with a transformed
 * quantity, `z = (x - m) / s; z ~ normal(0, 1)`: a statement that adds a
 * density of a computed value to the log density.  In cm a name is either
 * a site (the target of `~`) or a deterministic node (assigned), so such a
 * statement would otherwise be refused as "both sampled and assigned".
 *
 * Before the pre-pass classifies names, this rewrites every sample
 * statement whose target was assigned *earlier in the source* into the
 * factor statement it means:
 *
 *     z ~ Normal(0, 1)        =>   factor(Normal_lpdf(z, 0, 1))
 *     w[i] ~ Foo(a)           =>   factor(Foo_lpdf(w[i], a))   (a user _lpdf)
 *
 * The value is not a random variable of the model (nothing is sampled: the
 * engines never propose it), so no site, no output column of its own
 * beyond the assigned node, and no Jacobian: as in Stan, when the value is
 * a non-linear function of parameters the density is of the value, and
 * the model's author supplies any log |d value / d parameter| with factor().
 * A `~` *before* any assignment keeps its meaning (a site) and so still
 * meets the "both sampled and assigned" error when the name is assigned
 * later; truncation or a type on such a statement is an error, since both
 * describe a random variable's support.
 */
#include <stdio.h>
#include <string.h>

#include "lower_internal.h"

/* Where each assigned name is first assigned (source order). */
typedef struct {
    const char *name;
    int line, col;
} FirstAssign;

typedef struct {
    FirstAssign *v;
    int n, cap;
    AstArena *a;
} Assigned;

static const char *target_name(const AstNode *t)
{
    const AstNode *id = t && t->kind == AST_INDEX ? t->kids[0] : t;
    return id && id->kind == AST_IDENT ? id->name : NULL;
}

static FirstAssign *find_assigned(Assigned *as, const char *name)
{
    for (int i = 0; i < as->n; i++)
        if (strcmp(as->v[i].name, name) == 0)
            return &as->v[i];
    return NULL;
}

static int before(int l1, int c1, int l2, int c2) { return l1 < l2 || (l1 == l2 && c1 < c2); }

static void collect(Assigned *as, const AstNode *s)
{
    if (!s)
        return;
    if (s->kind == AST_ASSIGN) {
        const char *name = target_name(s->nkids ? s->kids[0] : NULL);
        if (!name)
            return;
        FirstAssign *f = find_assigned(as, name);
        if (f) {
            if (before(s->line, s->col, f->line, f->col)) {
                f->line = s->line;
                f->col = s->col;
            }
            return;
        }
        if (as->n == as->cap) {
            int cap = as->cap ? 2 * as->cap : 16;
            FirstAssign *nv = ast_alloc(as->a, sizeof *nv * (size_t)cap);
            if (as->n)
                memcpy(nv, as->v, sizeof *nv * (size_t)as->n);
            as->v = nv;
            as->cap = cap;
        }
        as->v[as->n++] = (FirstAssign){name, s->line, s->col};
        return;
    }
    if (s->kind == AST_PROGRAM || s->kind == AST_BLOCK || s->kind == AST_PLATE ||
        s->kind == AST_FOR || s->kind == AST_IF)
        for (int i = 0; i < s->nkids; i++)
            collect(as, s->kids[i]);
}

/* The density function a distribution name means: NAME_lpmf when the
 * program defines one (a user's discrete distribution), else NAME_lpdf
 * (built-in families answer to both suffixes). */
static const char *density_name(Lower *L, const AstNode *prog, const char *dist)
{
    size_t n = strlen(dist);
    char *lpmf = ast_alloc(L->a, n + 6), *lpdf = ast_alloc(L->a, n + 6);
    snprintf(lpmf, n + 6, "%s_lpmf", dist);
    snprintf(lpdf, n + 6, "%s_lpdf", dist);
    for (int i = 0; i < prog->nkids; i++)
        if (prog->kids[i] && prog->kids[i]->kind == AST_FN && strcmp(prog->kids[i]->name, lpmf) == 0)
            return lpmf;
    return lpdf;
}

static void rewrite(Lower *L, const AstNode *prog, Assigned *as, AstNode *s)
{
    if (!s)
        return;
    if (s->kind == AST_SAMPLE) {
        AstNode *t = s->kids[0];
        const char *name = target_name(t);
        FirstAssign *f = name ? find_assigned(as, name) : NULL;
        if (!f || !before(f->line, f->col, s->line, s->col))
            return;
        AstNode *decl = s->nkids > 1 ? s->kids[1] : NULL, *call = s->kids[2];
        AstNode *trunc = s->nkids > 3 ? s->kids[3] : NULL;
        if (decl) {
            diag_error(L->d, decl->line, decl->col,
                       "'%s' is computed (assigned at %d:%d): its type is set where it is assigned, "
                       "not on '~'",
                       name, f->line, f->col);
        } else if (trunc) {
            diag_error(L->d, trunc->line, trunc->col,
                       "'%s' is computed (assigned at %d:%d), not sampled: a truncation describes "
                       "a random variable's support; write factor(...) with the normalising term",
                       name, f->line, f->col);
        }
        /* rewritten even after an error, so the name is not also reported
           as "both sampled and assigned" */
        AstNode *lp = ast_node(L->a, AST_CALL, call->line, call->col);
        lp->name = density_name(L, prog, call->name);
        ast_add(L->a, lp, t);
        for (int i = 0; i < call->nkids; i++)
            ast_add(L->a, lp, call->kids[i]);
        /* the sample node becomes the factor statement, in place */
        s->kind = AST_FACTOR;
        s->kids = NULL;
        s->nkids = 0;
        ast_add(L->a, s, lp);
        return;
    }
    if (s->kind == AST_PROGRAM || s->kind == AST_BLOCK || s->kind == AST_PLATE ||
        s->kind == AST_FOR || s->kind == AST_IF)
        for (int i = 0; i < s->nkids; i++)
            rewrite(L, prog, as, s->kids[i]);
}

void derived_sample_rewrite(Lower *L, AstNode *prog)
{
    Assigned as = {NULL, 0, 0, L->a};
    collect(&as, prog);
    if (as.n)
        rewrite(L, prog, &as, prog);
}
