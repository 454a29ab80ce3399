/*
 * lower_internal.h - state shared by the checker/lowering files.
 *
 * Checking and lowering are one pass over the AST (as Lua's lparser and
 * lcode are): each expression is resolved, typed and emitted as IR in the
 * same walk, which keeps the two in step.  A pre-pass (prepass.c) first
 * finds what every model-level name is (data, site, deterministic node),
 * and how to size variables defined element by element.
 */
#ifndef CM_LOWER_INTERNAL_H
#define CM_LOWER_INTERNAL_H

#include "ir.h"

#define MAX_LOOPS 64
#define MAX_DIMS 2

/* What the pre-pass learns about a model-level name. */
typedef struct {
    const char *name;
    int is_site, is_assigned, is_data, has_decl, is_latent;
    int indexed, whole;            /* defined by element / as a whole      */
    AstNode *first;                /* first defining statement            */
    int top;                       /* index of the top-level statement that first touches it */
    /* size inference for element-wise definitions: per dimension, the
     * candidate extents (loop upper bounds, literals); a NULL entry means
     * "cannot infer" */
    AstNode *extent[MAX_DIMS][16];
    int extent_add[MAX_DIMS][16];
    int nextent[MAX_DIMS];
    int uninferable;
    AstNode *where_uninferable;
    int var;                       /* id in the program's vars             */
    int defined;                   /* lowering has reached a definition   */
} NameInfo;

typedef struct {
    const char *name;
    int reg;
    AstNode *lo, *hi;
    int plate;
} LoopScope;

typedef struct {
    Program *p;
    Diag *d;
    AstArena *a;
    NameInfo *names;
    int nnames;
    /* current code block and variable table */
    IrCode *code;
    IrFn *fn;                      /* NULL at model level                */
    LoopScope loops[MAX_LOOPS];
    int nloops;
    int plate;                     /* innermost plate, -1 */
    /* DAG parents collected while lowering one definition */
    int *reads;
    int nreads, capreads;
    int suppress_reads;            /* inside index positions and loop bounds */
    int cond_reads[64];            /* reads of enclosing if conditions    */
    int ncond_reads;
    int nprelude;                  /* functions 0..nprelude-1 come from the prelude */
} Lower;

typedef struct {
    int reg;
    Type ty;
    int ok;
} Ex;

int ir_emit(IrCode *c, IrOp op, int line, int col);
int ir_new_reg(IrCode *c);

void prepass_run(Lower *L, AstNode *prog);
/* Rewrite `x ~ D(...)` after an assignment to x into factor(D_lpdf(x, ...))
 * (derived_sample.c). */
void derived_sample_rewrite(Lower *L, AstNode *prog);
NameInfo *lower_name(Lower *L, const char *name);
void lower_program(Lower *L, AstNode *prog);
void lower_fn_statement(Lower *L, AstNode *s);
Ex lower_expr(Lower *L, AstNode *e);
void lower_block(Lower *L, AstNode *block, int top_level);
Type lower_type_of(Lower *L, AstNode *type, Constraint *con, int *ok);
int lower_int_scalar(Lower *L, AstNode *e, const char *what);

#endif
