/*
 * lower_guide.c - a guide written in cm, turned into a Program of its own.
 *
 * SVI with a user-written guide needs two programs: the model p(x, z) and
 * the guide q(z; theta) whose learnable parameters theta the optimiser
 * moves.  The guide is an ordinary cm program (assignments, loops, plates,
 * sample statements) plus `param` declarations, so the cheapest faithful
 * compiler for it is the model's own: this file rewrites the guide's
 * statements into statements the model lowering already understands, and
 * compile.c lowers them into a second Program.  The model's Program never
 * sees the guide, so every engine but SVI behaves exactly as without it.
 *
 * The rewrite:
 *   - the model's `fn`, `extern fn` and `data` declarations come first,
 *     unless the guide declares the same name, so the guide reads the
 *     model's data set (observed sites declared `data` too: a guide may
 *     start its parameters from the observations) and calls its functions;
 *   - `param NAME: T[dims] = INIT` becomes `_init.NAME = INIT` (a hidden
 *     node: the initial value, a scalar broadcast or a full array) and
 *     `NAME: real[dims] ~ Flat()`, a site of the declared shape.  The SVI
 *     engine's parameter handler answers that site with tape inputs mapped
 *     to the constraint T (real, positive, unit, simplex); it is never
 *     drawn and adds no density.  Keeping parameters as sites costs no new
 *     IR instruction and lets the handler stack, the one mechanism for
 *     giving sites values, give them theirs.
 *
 * Checked here, located at the statement at fault: misplaced `guide` and
 * `param`, parameter types, factor() and `latent` in a guide (a guide must
 * be a normalised distribution cmrun can draw from), guide sites that name
 * no sampled site of the model, and parameters named like model sites.
 * Shapes and supports need the data: svi_user_new() compares them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "lower_internal.h"

static const char *const misplaced_param =
    "'param' declares a learnable parameter of an SVI guide: it belongs at the top level of "
    "guide { ... } or of a --guide-file";

/* Report (and drop) guide blocks and parameters below the top level of s. */
static void drop_nested(AstNode *s, Diag *diag)
{
    for (int i = 0; s && i < s->nkids; i++) {
        AstNode *k = s->kids[i];
        if (!k)
            continue;
        if (k->kind == AST_GUIDE) {
            diag_error(diag, k->line, k->col, "guide { ... } belongs at the top level of the model file");
            s->kids[i] = NULL;
        } else if (k->kind == AST_GUIDE_PARAM) {
            diag_error(diag, k->line, k->col, "%s", misplaced_param);
            s->kids[i] = NULL;
        } else {
            drop_nested(k, diag);
        }
    }
}

AstNode *lower_guide_extract(AstNode *model, Diag *diag)
{
    AstNode *block = NULL;
    for (int i = 0; i < model->nkids; i++) {
        AstNode *s = model->kids[i];
        if (!s)
            continue;
        if (s->kind == AST_GUIDE) {
            if (block)
                diag_error(diag, s->line, s->col,
                           "a second guide block (the first is at %d:%d): a model file has at most one",
                           block->line, block->col);
            else
                block = s;
            model->kids[i] = NULL;
        } else if (s->kind == AST_GUIDE_PARAM) {
            diag_error(diag, s->line, s->col, "%s (if this file is a guide, give it to its model "
                       "with --guide-file)", misplaced_param);
            model->kids[i] = NULL;
        } else {
            drop_nested(s, diag);
        }
    }
    return block && block->nkids && block->kids[0] ? block : NULL;
}

static AstNode *ident(AstArena *a, const char *name, const AstNode *at)
{
    AstNode *n = ast_node(a, AST_IDENT, at->line, at->col);
    n->name = name;
    return n;
}

/* Does the guide declare `name` at its top level with a statement of kind k? */
static int guide_declares(const AstNode *stmts, AstKind k, const char *name)
{
    for (int i = 0; i < stmts->nkids; i++) {
        const AstNode *s = stmts->kids[i];
        if (s && s->kind == k && s->name && strcmp(s->name, name) == 0)
            return 1;
    }
    return 0;
}

/* factor(), latent, guide blocks and (below the top level) parameters have
 * no place in a guide: is s one of them?  Reports it. */
static int misplaced_in_guide(const AstNode *s, Diag *diag, int top, int from_file)
{
    switch (s->kind) {
    case AST_FACTOR:
        diag_error(diag, s->line, s->col,
                   "factor() is not allowed in a guide: a guide is a distribution cmrun draws from, "
                   "so each of its terms must be a sample statement");
        return 1;
    case AST_LATENT:
        diag_error(diag, s->line, s->col, "'latent' declarations belong in the model, not the guide");
        return 1;
    case AST_GUIDE:
        diag_error(diag, s->line, s->col, from_file ? "a guide file is itself the guide: it has no "
                                                      "guide { ... } block"
                                                    : "guide blocks do not nest");
        return 1;
    case AST_GUIDE_PARAM:
        if (!top)
            diag_error(diag, s->line, s->col, "%s", misplaced_param);
        return !top;
    default:
        return 0;
    }
}

/* Report and drop what misplaced_in_guide() finds below statement s. */
static void scrub_guide_statement(AstNode *s, Diag *diag, int from_file)
{
    for (int i = 0; i < s->nkids; i++) {
        AstNode *k = s->kids[i];
        if (!k)
            continue;
        if (misplaced_in_guide(k, diag, 0, from_file))
            s->kids[i] = NULL;
        else
            scrub_guide_statement(k, diag, from_file);
    }
}

static Constraint param_constraint(const char *type)
{
    if (!strcmp(type, "real"))
        return CON_NONE;
    if (!strcmp(type, "positive"))
        return CON_POSITIVE;
    if (!strcmp(type, "unit"))
        return CON_UNIT;
    if (!strcmp(type, "simplex"))
        return CON_SIMPLEX;
    return (Constraint)-1;
}

/* `param NAME: T = INIT` as `_init.NAME = INIT` and `NAME: real[..] ~ Flat()`. */
static void rewrite_param(AstNode *s, AstNode *out, AstArena *a, Diag *diag, CmGuide *g)
{
    AstNode *type = s->kids[0], *init = s->kids[1];
    if (!type || !init)
        return;
    Constraint con = param_constraint(type->name);
    if ((int)con < 0) {
        diag_error(diag, type->line, type->col,
                   "param '%s': the type must be real, positive, unit or simplex, with sizes as in "
                   "positive[K] (found '%s')", s->name, type->name);
        return;
    }
    if (type->nkids > 2 || (con == CON_SIMPLEX && type->nkids != 1)) {
        diag_error(diag, type->line, type->col, "param '%s': %s", s->name,
                   con == CON_SIMPLEX ? "a simplex has one size, as in simplex[K]"
                                      : "at most two sizes, as in real[R, C]");
        return;
    }
    for (int i = 0; i < g->nparams; i++)
        if (strcmp(g->params[i].name, s->name) == 0) {
            diag_error(diag, s->line, s->col, "param '%s' is declared twice (first at %d:%d)", s->name,
                       g->params[i].line, g->params[i].col);
            return;
        }
    CmGuideParam *np = realloc(g->params, sizeof *np * (size_t)(g->nparams + 1));
    if (!np) {
        fprintf(stderr, "cmrun: out of memory\n");
        exit(3);
    }
    g->params = np;
    g->params[g->nparams++] = (CmGuideParam){s->name, con, type->nkids, -1, -1, s->line, s->col};

    size_t len = strlen(s->name) + 7;
    char *init_name = ast_alloc(a, len);
    snprintf(init_name, len, "_init.%s", s->name);
    AstNode *assign = ast_node(a, AST_ASSIGN, s->line, s->col);
    ast_add(a, assign, ident(a, init_name, s));
    ast_add(a, assign, NULL);
    ast_add(a, assign, init);
    ast_add(a, out, assign);

    AstNode *real = ast_node(a, AST_TYPE, type->line, type->col);
    real->name = "real";
    for (int i = 0; i < type->nkids; i++)
        ast_add(a, real, type->kids[i]);
    AstNode *flat = ast_node(a, AST_CALL, s->line, s->col);
    flat->name = "Flat";
    AstNode *site = ast_node(a, AST_SAMPLE, s->line, s->col);
    ast_add(a, site, ident(a, s->name, s));
    ast_add(a, site, real);
    ast_add(a, site, flat);
    ast_add(a, site, NULL);
    ast_add(a, out, site);
}

AstNode *lower_guide_build(AstNode *stmts, AstNode *model, AstArena *arena, Diag *diag,
                           int from_file, CmGuide *g)
{
    AstNode *out = ast_node(arena, AST_PROGRAM, 1, 1);
    for (int i = 0; i < model->nkids; i++) {
        AstNode *s = model->kids[i];
        if (!s || !s->name)
            continue;
        if ((s->kind == AST_FN || s->kind == AST_EXTERN) && !guide_declares(stmts, s->kind, s->name))
            ast_add(arena, out, s);
        if (s->kind == AST_DATA && !guide_declares(stmts, AST_DATA, s->name))
            ast_add(arena, out, s); /* data, or a site the data may observe (y in y ~ ...) */
    }
    for (int i = 0; i < stmts->nkids; i++) {
        AstNode *s = stmts->kids[i];
        if (!s)
            continue;
        if (misplaced_in_guide(s, diag, 1, from_file))
            continue;
        scrub_guide_statement(s, diag, from_file);
        if (s->kind == AST_GUIDE_PARAM)
            rewrite_param(s, out, arena, diag, g);
        else
            ast_add(arena, out, s);
    }
    return out;
}

/* Every SAMPLE of the guide's main code: a guide site or a parameter. */
void lower_guide_check(const Program *model, CmGuide *g, Diag *diag)
{
    const Program *gp = g->prog;
    for (int i = 0; i < g->nparams; i++) {
        int mv = program_find_var(model, g->params[i].name);
        if (mv >= 0 && (model->vars[mv].role == VAR_SITE || model->vars[mv].declared_data))
            diag_error(diag, g->params[i].line, g->params[i].col,
                       "param '%s' has the name of a %s of the model; give the guide's parameters "
                       "names of their own (e.g. %s_loc)", g->params[i].name,
                       model->vars[mv].role == VAR_SITE ? "site" : "data declaration",
                       g->params[i].name);
    }
    for (int i = 0; i < gp->main.n; i++) {
        const IrInstr *in = &gp->main.code[i];
        if (in->op != IR_SAMPLE || cm_guide_param_of(g, in->var))
            continue;
        const char *name = gp->vars[in->var].name;
        int mv = program_find_var(model, name);
        if (mv >= 0 && model->vars[mv].role == VAR_SITE)
            continue;
        const char **sites = malloc(sizeof(char *) * (size_t)(model->nvars + 1));
        int ns = 0;
        for (int v = 0; sites && v < model->nvars; v++)
            if (model->vars[v].role == VAR_SITE)
                sites[ns++] = model->vars[v].name;
        const char *near = sites ? diag_suggest(name, sites, (size_t)ns) : NULL;
        diag_error(diag, in->line, in->col,
                   "guide site '%s' is not a sampled site of the model%s%s%s", name,
                   mv >= 0 ? " (it is data or a deterministic node there)" : "",
                   near ? "; did you mean " : "", near ? near : "");
        free(sites);
    }
}
