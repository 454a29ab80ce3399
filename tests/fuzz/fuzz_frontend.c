/*
 * fuzz_frontend.c - libFuzzer target for the cm front end.
 *
 * Each input is copied into a NUL-terminated Source (the lexer's sentinel)
 * and parsed with diagnostics going to /dev/null.  Sanitizers (ASan, UBSan)
 * catch memory and undefined-behaviour bugs; the target itself checks the
 * parser's promises, and aborts (a crash libFuzzer records) when one fails:
 *
 *   - cm_parse always returns an AST_PROGRAM;
 *   - no tree is deeper than CM_PARSE_MAX_DEPTH;
 *   - every node has a position inside the source (line >= 1, col >= 1);
 *   - an input parsed without errors gives a tree of exactly the shapes
 *     compiler/ast.h documents (child counts and kinds), because later
 *     passes rely on them without checking.
 *
 * Later passes join in through the weak hook cm_fuzz_after_parse: a build
 * that links a definition of it (say, running the checker on the tree) has
 * it called after every parse; otherwise the symbol is NULL and skipped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

void cm_fuzz_after_parse(AstNode *ast, Diag *diag) __attribute__((weak));

static FILE *devnull;

static void fail(const char *what, const AstNode *n)
{
    fprintf(stderr, "fuzz_frontend: invariant broken: %s (node %s at %d:%d)\n", what,
            n ? ast_kind_name(n->kind) : "-", n ? n->line : 0, n ? n->col : 0);
    abort();
}

static int is_expr(const AstNode *n)
{
    if (!n)
        return 0;
    switch (n->kind) {
    case AST_INT: case AST_REAL: case AST_BOOL: case AST_IDENT: case AST_UNOP:
    case AST_BINOP: case AST_COND: case AST_CALL: case AST_INDEX: case AST_VECTOR:
        return 1;
    default:
        return 0;
    }
}

static void want(int ok, const char *what, const AstNode *n)
{
    if (!ok)
        fail(what, n);
}

static void check_stmt_list(const AstNode *n);

/* Shapes of an error-free parse, per ast.h; recursion is bounded by the
 * depth limit checked first. */
static void check_shape(const AstNode *n)
{
    want(n != NULL, "unexpected NULL child", n);
    want(n->line >= 1 && n->col >= 1, "position missing", n);
    int k = n->nkids;
    switch (n->kind) {
    case AST_PROGRAM:
    case AST_BLOCK:
        check_stmt_list(n);
        return;
    case AST_DATA:
    case AST_DECL:
    case AST_PARAM:
        want(n->name && k == 1 && n->kids[0] && n->kids[0]->kind == AST_TYPE, "bad declaration", n);
        break;
    case AST_SAMPLE:
        want(k == 4 && n->kids[0] && n->kids[2] && n->kids[2]->kind == AST_CALL &&
                 (!n->kids[1] || n->kids[1]->kind == AST_TYPE) &&
                 (!n->kids[3] || n->kids[3]->kind == AST_TRUNC),
             "bad SAMPLE", n);
        want(n->kids[0]->kind == AST_IDENT || n->kids[0]->kind == AST_INDEX, "bad target", n);
        break;
    case AST_ASSIGN:
        want(k == 3 && n->kids[0] && is_expr(n->kids[2]) &&
                 (!n->kids[1] || n->kids[1]->kind == AST_TYPE),
             "bad ASSIGN", n);
        want(n->kids[0]->kind == AST_IDENT || n->kids[0]->kind == AST_INDEX, "bad target", n);
        break;
    case AST_TRUNC:
        want(k == 2 && (!n->kids[0] || is_expr(n->kids[0])) && (!n->kids[1] || is_expr(n->kids[1])),
             "bad TRUNC", n);
        break;
    case AST_PLATE:
        want(n->name && k == 4 && is_expr(n->kids[0]) && is_expr(n->kids[1]) && n->kids[2] &&
                 n->kids[2]->kind == AST_BLOCK && (!n->kids[3] || is_expr(n->kids[3])),
             "bad PLATE", n);
        break;
    case AST_FOR:
        want(n->name && k == 3 && is_expr(n->kids[0]) && is_expr(n->kids[1]) && n->kids[2] &&
                 n->kids[2]->kind == AST_BLOCK,
             "bad FOR", n);
        break;
    case AST_IF:
        want(k == 3 && is_expr(n->kids[0]) && n->kids[1] && n->kids[1]->kind == AST_BLOCK &&
                 (!n->kids[2] || n->kids[2]->kind == AST_BLOCK || n->kids[2]->kind == AST_IF),
             "bad IF", n);
        break;
    case AST_FN:
        want(n->name && k == 3 && n->kids[0] && n->kids[0]->kind == AST_PARAMS && n->kids[1] &&
                 n->kids[1]->kind == AST_TYPE && n->kids[2] &&
                 (n->kids[2]->kind == AST_BLOCK || is_expr(n->kids[2])),
             "bad FN", n);
        break;
    case AST_EXTERN:
        want(n->name && n->str && k == 3 && n->kids[0] && n->kids[0]->kind == AST_PARAMS &&
                 n->kids[1] && n->kids[1]->kind == AST_TYPE &&
                 (!n->kids[2] || n->kids[2]->kind == AST_STRING),
             "bad EXTERN", n);
        break;
    case AST_PARAMS:
        for (int i = 0; i < k; i++)
            want(n->kids[i] && n->kids[i]->kind == AST_PARAM, "bad PARAMS", n);
        break;
    case AST_RETURN:
    case AST_FACTOR:
        want(k == 1 && is_expr(n->kids[0]), "bad RETURN/FACTOR", n);
        break;
    case AST_LATENT:
        want(n->name && k == 0, "bad LATENT", n);
        break;
    case AST_TYPE:
        want(n->name != NULL, "bad TYPE", n);
        for (int i = 0; i < k; i++)
            want(is_expr(n->kids[i]), "bad dimension", n);
        break;
    case AST_INT:
    case AST_REAL:
    case AST_ALL:
        want(k == 0, "leaf with children", n);
        break;
    case AST_BOOL:
        want(k == 0 && (n->ival == 0 || n->ival == 1), "bad BOOL", n);
        break;
    case AST_STRING:
        want(k == 0 && n->str, "bad STRING", n);
        break;
    case AST_IDENT:
        want(k == 0 && n->name, "bad IDENT", n);
        break;
    case AST_UNOP:
        want(k == 1 && is_expr(n->kids[0]) && (n->op == '-' || n->op == '!'), "bad UNOP", n);
        break;
    case AST_BINOP:
        want(k == 2 && is_expr(n->kids[0]) && is_expr(n->kids[1]) && n->op != 0, "bad BINOP", n);
        break;
    case AST_COND:
        want(k == 3 && is_expr(n->kids[0]) && is_expr(n->kids[1]) && is_expr(n->kids[2]),
             "bad COND", n);
        break;
    case AST_CALL:
        want(n->name != NULL, "bad CALL", n);
        for (int i = 0; i < k; i++)
            want(is_expr(n->kids[i]), "bad argument", n);
        break;
    case AST_INDEX:
        want(k >= 2 && is_expr(n->kids[0]), "bad INDEX", n);
        for (int i = 1; i < k; i++)
            want(is_expr(n->kids[i]) ||
                     (n->kids[i] && (n->kids[i]->kind == AST_SLICE || n->kids[i]->kind == AST_ALL)),
                 "bad index item", n);
        break;
    case AST_SLICE:
        want(k == 2 && is_expr(n->kids[0]) && is_expr(n->kids[1]), "bad SLICE", n);
        break;
    case AST_VECTOR:
        want(k >= 1, "empty VECTOR", n);
        for (int i = 0; i < k; i++)
            want(is_expr(n->kids[i]), "bad element", n);
        break;
    }
    for (int i = 0; i < k; i++)
        if (n->kids[i])
            check_shape(n->kids[i]);
}

static void check_stmt_list(const AstNode *n)
{
    for (int i = 0; i < n->nkids; i++) {
        const AstNode *s = n->kids[i];
        want(s != NULL, "NULL statement", n);
        switch (s->kind) {
        case AST_DATA: case AST_DECL: case AST_SAMPLE: case AST_ASSIGN: case AST_PLATE:
        case AST_FOR: case AST_IF: case AST_FN: case AST_EXTERN: case AST_RETURN:
        case AST_FACTOR: case AST_LATENT:
            break;
        default:
            fail("not a statement", s);
        }
        check_shape(s);
    }
}

/* Depth and positions of any tree, error or not; returns the depth. */
static int check_depth(const AstNode *n, int level)
{
    if (level > CM_PARSE_MAX_DEPTH)
        fail("tree deeper than CM_PARSE_MAX_DEPTH", n);
    if (!n)
        return level - 1;
    if (n->line < 1 || n->col < 1)
        fail("node without a position", n);
    int deepest = level;
    for (int i = 0; i < n->nkids; i++) {
        int d = check_depth(n->kids[i], level + 1);
        if (d > deepest)
            deepest = d;
    }
    return deepest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    Source src = {"fuzz.cm", text, size};
    Diag diag;
    diag_init(&diag, &src);
    diag.out = devnull;
    AstArena *arena = ast_arena_new();

    AstNode *ast = cm_parse(&src, arena, &diag);
    if (!ast || ast->kind != AST_PROGRAM)
        fail("cm_parse did not return a PROGRAM", ast);
    check_depth(ast, 1);
    if (!diag_failed(&diag))
        check_shape(ast);
    ast_print(devnull, ast, 0);
    if (cm_fuzz_after_parse)
        cm_fuzz_after_parse(ast, &diag);

    ast_arena_free(arena);
    free(text);
    return 0;
}
