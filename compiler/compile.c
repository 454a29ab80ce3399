/*
 * compile.c - the compiler's entry point: parse, check and lower.
 */
#include <stdlib.h>
#include <string.h>

#include "lower_internal.h"
#include "parse.h"

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
