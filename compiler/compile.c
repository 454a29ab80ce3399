/*
 * compile.c - the compiler's entry point: parse, check and lower.
 *
 * A source file may hold a model and its SVI guide (compile.h): the guide
 * block is taken out of the statements before the model is lowered, so the
 * model's Program does not depend on it, and the guide is lowered after
 * the model into a Program of its own that starts with the model's
 * declarations.  Both go through compile_ast(), the one path from a syntax
 * tree to IR (prelude functions first, then the pre-pass, then lowering).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "lower_internal.h"
#include "parse.h"

extern const char cm_prelude_source[]; /* stdlib/prelude.cm, embedded by the build */

/* The prelude's functions are lowered first, so every model sees them.
 * Its errors are ours, reported against the prelude's own text. */
static int lower_prelude(Lower *L, AstArena *arena)
{
    static const Source prelude = {"<prelude>", cm_prelude_source, 0};
    Source src = prelude;
    src.len = strlen(cm_prelude_source);
    Diag d;
    diag_init(&d, &src);
    AstNode *ast = cm_parse(&src, arena, &d);
    if (!diag_failed(&d)) {
        L->d = &d;
        for (int i = 0; i < ast->nkids; i++)
            lower_fn_statement(L, ast->kids[i]);
        L->nprelude = L->p->nfns;
    }
    if (diag_failed(&d)) {
        fprintf(stderr, "cmrun: internal error: the prelude does not compile\n");
        return -1;
    }
    return 0;
}

/* Lower a parsed program into a new Program that owns `arena`.  Returns
 * NULL after reporting errors (the arena is freed then). */
static Program *compile_ast(const Source *src, AstArena *arena, AstNode *ast, Diag *diag)
{
    Program *p = calloc(1, sizeof *p);
    if (!p) {
        ast_arena_free(arena);
        return NULL;
    }
    p->path = src->path;
    p->src = src;
    p->arena = arena;
    Lower L;
    memset(&L, 0, sizeof L);
    L.p = p;
    L.d = diag;
    L.a = arena;
    L.code = &p->main;
    L.plate = -1;
    if (lower_prelude(&L, arena) != 0) {
        program_free(p);
        return NULL;
    }
    L.d = diag;
    prepass_run(&L, ast);
    lower_program(&L, ast);
    if (diag_failed(diag)) {
        program_free(p);
        return NULL;
    }
    return p;
}

Program *cm_compile(const Source *src, Diag *diag)
{
    CmGuide *g = NULL;
    Program *p = cm_compile_guided(src, diag, NULL, &g);
    cm_guide_free(g);
    return p;
}

/* The guide's statements (block or file) lowered into a CmGuide. */
static CmGuide *compile_guide(AstNode *stmts, AstNode *model_ast, const Program *mp,
                              const Source *src, AstArena *arena, Diag *diag, int from_file)
{
    CmGuide *g = calloc(1, sizeof *g);
    if (!g) {
        ast_arena_free(arena);
        return NULL;
    }
    g->src = src;
    g->from_file = from_file;
    AstNode *ast = lower_guide_build(stmts, model_ast, arena, diag, from_file, g);
    if (diag_failed(diag)) {
        ast_arena_free(arena);
        cm_guide_free(g);
        return NULL;
    }
    g->prog = compile_ast(src, arena, ast, diag);
    if (!g->prog) {
        cm_guide_free(g);
        return NULL;
    }
    for (int i = 0; i < g->nparams; i++) {
        g->params[i].var = program_find_var(g->prog, g->params[i].name);
        char init[300];
        snprintf(init, sizeof init, "_init.%s", g->params[i].name);
        g->params[i].init_var = program_find_var(g->prog, init);
    }
    lower_guide_check(mp, g, diag);
    if (diag_failed(diag)) {
        cm_guide_free(g);
        return NULL;
    }
    return g;
}

Program *cm_compile_guided(const Source *src, Diag *diag, const Source *guide_src, CmGuide **guide)
{
    *guide = NULL;
    AstArena *arena = ast_arena_new();
    AstNode *ast = cm_parse(src, arena, diag);
    if (diag_failed(diag) || !ast) {
        ast_arena_free(arena);
        return NULL;
    }
    AstNode *block = lower_guide_extract(ast, diag);
    if (block && guide_src) {
        diag_error(diag, block->line, block->col,
                   "the model has a guide block and --guide-file %s was given too; use one of them",
                   guide_src->path);
        ast_arena_free(arena);
        return NULL;
    }
    if (diag_failed(diag)) {
        ast_arena_free(arena);
        return NULL;
    }
    Program *p = compile_ast(src, arena, ast, diag);
    if (!p)
        return NULL;
    if (block) {
        *guide = compile_guide(block->kids[0], ast, p, src, ast_arena_new(), diag, 0);
    } else if (guide_src) {
        Diag gd;
        diag_init(&gd, guide_src);
        gd.out = diag->out;
        AstArena *ga = ast_arena_new();
        AstNode *gast = cm_parse(guide_src, ga, &gd);
        if (diag_failed(&gd)) {
            ast_arena_free(ga);
        } else {
            *guide = compile_guide(gast, ast, p, guide_src, ga, &gd, 1);
        }
        diag->errors += gd.errors;
    }
    if ((block || guide_src) && !*guide) {
        program_free(p);
        return NULL;
    }
    return p;
}

void cm_guide_free(CmGuide *g)
{
    if (!g)
        return;
    program_free(g->prog);
    free(g->params);
    free(g);
}

const CmGuideParam *cm_guide_param_of(const CmGuide *g, int var)
{
    for (int i = 0; g && i < g->nparams; i++)
        if (g->params[i].var == var)
            return &g->params[i];
    return NULL;
}

void program_free(Program *p)
{
    if (!p)
        return;
    free(p->main.code);
    for (int i = 0; i < p->nfns; i++)
        free(p->fns[i].code.code);
    free(p->fns);
    free(p->externs);
    free(p->plates);
    free(p->vars);
    ast_arena_free(p->arena);
    free(p);
}

int program_find_var(const Program *p, const char *name)
{
    for (int i = 0; i < p->nvars; i++)
        if (strcmp(p->vars[i].name, name) == 0)
            return i;
    return -1;
}
