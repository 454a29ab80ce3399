/*
 * ast.c - the syntax tree's storage, construction and printing.
 *
 * Every node and string of one compilation lives in an AstArena: a chain of
 * big zeroed blocks handed out by bumping a pointer.  A compiler builds
 * thousands of small nodes that all die together, so one free() per block
 * beats one per node, and nothing can leak one node at a time.  Requests
 * larger than a quarter block get a block of their own, so a huge string
 * never wastes the rest of a half-used block.
 *
 * Children live in a growable array owned by the arena.  AstNode has no
 * capacity field, so the capacity is implied by the count: arrays start at
 * four slots and double whenever the count reaches a power of two (>= 4).
 * The old array is simply abandoned in the arena; the total waste is bounded
 * by the final size, as with any doubling vector.  This only holds while
 * kids arrays are grown through ast_add, which is the rule.
 *
 * ast_print walks the tree with an explicit stack instead of recursion: the
 * parser caps tree depth, but a printer used for debugging any tree (also
 * ones built by later passes) must not be the thing that overflows the C
 * stack.
 */
#include "ast.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { ARENA_BLOCK = 64 * 1024 };

typedef struct ArenaBlock ArenaBlock;
struct ArenaBlock {
    ArenaBlock *next;
    max_align_t data[]; /* keeps every allocation suitably aligned */
};

struct AstArena {
    ArenaBlock *blocks;
    char *ptr;   /* next free byte in the current block */
    size_t left; /* bytes left after ptr */
};

/* Running out of memory while compiling a source file is not something a
 * caller can repair; say so plainly instead of returning NULL into code
 * that would crash on it. */
static void out_of_memory(void)
{
    fputs("cm: out of memory\n", stderr);
    exit(1);
}

static ArenaBlock *new_block(size_t payload)
{
    if (payload > SIZE_MAX - sizeof(ArenaBlock))
        out_of_memory();
    ArenaBlock *b = calloc(1, sizeof(ArenaBlock) + payload);
    if (!b)
        out_of_memory();
    return b;
}

AstArena *ast_arena_new(void)
{
    AstArena *a = calloc(1, sizeof *a);
    if (!a)
        out_of_memory();
    return a;
}

void ast_arena_free(AstArena *a)
{
    if (!a)
        return;
    ArenaBlock *b = a->blocks;
    while (b) {
        ArenaBlock *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *ast_alloc(AstArena *a, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - align)
        out_of_memory();
    n = (n + align - 1) / align * align;
    if (n > ARENA_BLOCK / 4) { /* big request: private block, keep the current one */
        ArenaBlock *b = new_block(n);
        if (a->blocks) {
            b->next = a->blocks->next;
            a->blocks->next = b;
        } else {
            a->blocks = b;
        }
        return b->data;
    }
    if (n > a->left) {
        ArenaBlock *b = new_block(ARENA_BLOCK);
        b->next = a->blocks;
        a->blocks = b;
        a->ptr = (char *)b->data;
        a->left = ARENA_BLOCK;
    }
    void *p = a->ptr;
    a->ptr += n;
    a->left -= n;
    return p; /* blocks come from calloc and are never reused: already zero */
}

char *ast_strdup(AstArena *a, const char *s, size_t n)
{
    char *d = ast_alloc(a, n + 1);
    if (n)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

AstNode *ast_node(AstArena *a, AstKind k, int line, int col)
{
    AstNode *n = ast_alloc(a, sizeof *n);
    n->kind = k;
    n->line = line;
    n->col = col;
    return n;
}

static int is_power_of_two(int n) { return n > 0 && (n & (n - 1)) == 0; }

void ast_add(AstArena *a, AstNode *parent, AstNode *kid)
{
    int n = parent->nkids;
    if (n == 0 || (n >= 4 && is_power_of_two(n))) {
        int cap = n == 0 ? 4 : 2 * n;
        if (cap <= n) /* int overflow: no source file gets here */
            out_of_memory();
        AstNode **kids = ast_alloc(a, (size_t)cap * sizeof *kids);
        if (n)
            memcpy(kids, parent->kids, (size_t)n * sizeof *kids);
        parent->kids = kids;
    }
    parent->kids[n] = kid;
    parent->nkids = n + 1;
}

static const char *const kind_names[] = {
    [AST_PROGRAM] = "PROGRAM", [AST_DATA] = "DATA",     [AST_DECL] = "DECL",
    [AST_SAMPLE] = "SAMPLE",   [AST_TRUNC] = "TRUNC",   [AST_ASSIGN] = "ASSIGN",
    [AST_PLATE] = "PLATE",     [AST_FOR] = "FOR",       [AST_IF] = "IF",
    [AST_BLOCK] = "BLOCK",     [AST_FN] = "FN",         [AST_EXTERN] = "EXTERN",
    [AST_PARAMS] = "PARAMS",   [AST_PARAM] = "PARAM",   [AST_RETURN] = "RETURN",
    [AST_FACTOR] = "FACTOR",   [AST_LATENT] = "LATENT",
    [AST_GUIDE] = "GUIDE",     [AST_GUIDE_PARAM] = "GUIDE_PARAM", [AST_TYPE] = "TYPE",
    [AST_INT] = "INT",         [AST_REAL] = "REAL",     [AST_BOOL] = "BOOL",
    [AST_STRING] = "STRING",   [AST_IDENT] = "IDENT",   [AST_UNOP] = "UNOP",
    [AST_BINOP] = "BINOP",     [AST_COND] = "COND",     [AST_CALL] = "CALL",
    [AST_INDEX] = "INDEX",     [AST_SLICE] = "SLICE",   [AST_ALL] = "ALL",
    [AST_VECTOR] = "VECTOR",
};

const char *ast_kind_name(AstKind k)
{
    if ((unsigned)k < sizeof kind_names / sizeof kind_names[0] && kind_names[k])
        return kind_names[k];
    return "?";
}

/* Spelling of an operator code, as the user wrote it. */
static const char *op_name(int op, char buf[2])
{
    switch (op) {
    case AST_OP_EQ: return "==";
    case AST_OP_NE: return "!=";
    case AST_OP_LE: return "<=";
    case AST_OP_GE: return ">=";
    case AST_OP_AND: return "&&";
    case AST_OP_OR: return "||";
    case AST_OP_EMUL: return ".*";
    case AST_OP_EDIV: return "./";
    default:
        buf[0] = op > 32 && op < 127 ? (char)op : '?';
        buf[1] = '\0';
        return buf;
    }
}

/* A string literal printed inside double quotes, with the escapes the
 * lexer understands, so the output is one line per node. */
static void print_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void print_one(FILE *out, const AstNode *n, int indent)
{
    char buf[2];
    if (indent > 0)
        fprintf(out, "%*s", 2 * indent, "");
    if (!n) {
        fputs("-\n", out); /* an absent optional child */
        return;
    }
    fputs(ast_kind_name(n->kind), out);
    switch (n->kind) {
    case AST_INT: fprintf(out, " %ld", n->ival); break;
    case AST_BOOL: fputs(n->ival ? " true" : " false", out); break;
    case AST_REAL: fprintf(out, " %.17g", n->num); break;
    case AST_STRING: fputc(' ', out); print_quoted(out, n->str); break;
    case AST_UNOP:
    case AST_BINOP: fprintf(out, " %s", op_name(n->op, buf)); break;
    case AST_EXTERN:
        fprintf(out, " %s from ", n->name ? n->name : "?");
        print_quoted(out, n->str);
        break;
    default:
        if (n->name)
            fprintf(out, " %s", n->name);
        break;
    }
    fprintf(out, " %d:%d\n", n->line, n->col);
}

typedef struct {
    const AstNode *node;
    int indent;
} PrintItem;

void ast_print(FILE *out, const AstNode *root, int indent)
{
    size_t cap = 64, top = 0;
    PrintItem *stack = malloc(cap * sizeof *stack);
    if (!stack)
        out_of_memory();
    stack[top++] = (PrintItem){root, indent};
    while (top > 0) {
        PrintItem it = stack[--top];
        print_one(out, it.node, it.indent);
        if (!it.node)
            continue;
        int nk = it.node->nkids;
        if ((size_t)nk > cap - top) {
            while ((size_t)nk > cap - top)
                cap *= 2;
            PrintItem *bigger = realloc(stack, cap * sizeof *stack);
            if (!bigger) {
                free(stack);
                out_of_memory();
            }
            stack = bigger;
        }
        for (int i = nk - 1; i >= 0; i--) /* reversed: first child pops first */
            stack[top++] = (PrintItem){it.node->kids[i], it.indent + 1};
    }
    free(stack);
}
