/*
 * compile.c - the compiler's entry point: parse, check and lower.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

Program *cm_compile(const Source *src, Diag *diag)
{
    AstArena *arena = ast_arena_new();
    AstNode *ast = cm_parse(src, arena, diag);
    if (diag_failed(diag) || !ast) {
        ast_arena_free(arena);
        return NULL;
    }
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
