/*
 * ast.h - the abstract syntax tree the parser builds and the checker reads.
 *
 * One node type for everything: a kind, a source position, a name or a
 * number where the kind has one, and an ordered list of children whose
 * meaning the kind fixes (documented per kind below).  A uniform node keeps
 * the parser, the checker and the printer small; the checker attaches its
 * findings (resolved symbol, type) in the `sym` and `ty` slots.
 *
 * Nodes are allocated from one arena per compilation (ast_arena_*) and are
 * never freed one by one.
 */
#ifndef CM_AST_H
#define CM_AST_H

#include <stddef.h>

typedef enum {
    /* ---- top level and statements ---- */
    AST_PROGRAM,   /* kids: statements in order                               */
    AST_DATA,      /* name; kids[0] = TYPE                                    */
    AST_DECL,      /* name; kids[0] = TYPE  (declares a site/local's shape)   */
    AST_SAMPLE,    /* kids[0] = target (IDENT or INDEX), kids[1] = TYPE or NULL,
                      kids[2] = CALL (the distribution), kids[3] = TRUNC or NULL */
    AST_TRUNC,     /* kids[0] = lower or NULL, kids[1] = upper or NULL          */
    AST_ASSIGN,    /* kids[0] = target (IDENT or INDEX), kids[1] = TYPE or NULL,
                      kids[2] = value expression                               */
    AST_PLATE,     /* name = index variable; kids[0] = lo, kids[1] = hi,
                      kids[2] = BLOCK, kids[3] = subsample size expr or NULL   */
    AST_FOR,       /* name = index variable; kids[0] = lo, kids[1] = hi,
                      kids[2] = BLOCK                                          */
    AST_IF,        /* kids[0] = cond, kids[1] = BLOCK, kids[2] = BLOCK/IF/NULL */
    AST_BLOCK,     /* kids: statements                                        */
    AST_FN,        /* name; kids[0] = PARAMS, kids[1] = TYPE (result),
                      kids[2] = body: an expression, or a BLOCK                */
    AST_EXTERN,    /* name; str = library; kids[0] = PARAMS, kids[1] = TYPE,
                      kids[2] = STRING with the gradient symbol name, or NULL  */
    AST_PARAMS,    /* kids: PARAM                                             */
    AST_PARAM,     /* name; kids[0] = TYPE                                    */
    AST_RETURN,    /* kids[0] = expression                                    */
    AST_FACTOR,    /* kids[0] = expression (added to the log density)         */
    AST_LATENT,    /* name: declares a site unobserved for identification     */
    AST_GUIDE,     /* kids[0] = BLOCK: the SVI guide written in the model file */
    AST_GUIDE_PARAM,/* name; kids[0] = TYPE, kids[1] = initial value: `param
                      loc: real[K] = 0`, a learnable parameter of a guide      */

    /* ---- types ---- */
    AST_TYPE,      /* name = base type: int, real, bool, ordered,
                      positive_ordered, simplex, cholesky_corr, cov ...;
                      kids: dimension expressions (0, 1 or 2 of them)          */

    /* ---- expressions ---- */
    AST_INT,       /* ival                                                    */
    AST_REAL,      /* num                                                     */
    AST_BOOL,      /* ival (0 or 1)                                           */
    AST_STRING,    /* str                                                     */
    AST_IDENT,     /* name                                                    */
    AST_UNOP,      /* op ('-', '!'); kids[0]                                  */
    AST_BINOP,     /* op (see AST_OP_*); kids[0], kids[1]                     */
    AST_COND,      /* kids[0] ? kids[1] : kids[2]                             */
    AST_CALL,      /* name; kids: arguments                                   */
    AST_INDEX,     /* kids[0] = indexed expression, kids[1..] = index items:
                      an expression, a SLICE or ALL                            */
    AST_SLICE,     /* kids[0] = lo, kids[1] = hi   (a..b inside [ ])          */
    AST_ALL,       /* ':' inside [ ] : the whole dimension                    */
    AST_VECTOR     /* [a, b, c]; kids: elements (a VECTOR of VECTORs is a
                      matrix literal, rows first)                              */
} AstKind;

/* Binary operators; single-character ones use the character itself. */
enum {
    AST_OP_EQ = 256, /* == */
    AST_OP_NE,       /* != */
    AST_OP_LE,       /* <= */
    AST_OP_GE,       /* >= */
    AST_OP_AND,      /* && */
    AST_OP_OR,       /* || */
    AST_OP_EMUL,     /* .* elementwise product */
    AST_OP_EDIV      /* ./ elementwise quotient */
    /* '+', '-', '*', '/', '^', '%', '<', '>' stand for themselves */
};

typedef struct AstNode AstNode;
struct AstNode {
    AstKind kind;
    int line, col;          /* 1-based position of the node's first token */
    int op;                 /* UNOP/BINOP operator                        */
    long ival;              /* INT, BOOL                                  */
    double num;             /* REAL                                       */
    const char *name;       /* IDENT, CALL, DATA, FN, PARAM, TYPE, loops  */
    const char *str;        /* STRING contents, EXTERN library            */
    AstNode **kids;
    int nkids;
    /* filled by the checker */
    void *sym;
    void *ty;
};

/* Arena: every node and string of one compilation lives here. */
typedef struct AstArena AstArena;
AstArena *ast_arena_new(void);
void ast_arena_free(AstArena *a);
void *ast_alloc(AstArena *a, size_t n);              /* zeroed */
char *ast_strdup(AstArena *a, const char *s, size_t n);

AstNode *ast_node(AstArena *a, AstKind k, int line, int col);
void ast_add(AstArena *a, AstNode *parent, AstNode *kid); /* kid may be NULL */

const char *ast_kind_name(AstKind k);
/* Print a node as an indented tree (for --emit-ast and tests). */
#include <stdio.h>
void ast_print(FILE *out, const AstNode *n, int indent);

#endif
