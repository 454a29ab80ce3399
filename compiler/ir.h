/*
 * ir.h - the intermediate representation: the contract between compiler
 * and runtime (docs/ir.md describes every instruction; keep them in step).
 *
 * A program is a list of variables (data, sites, deterministic nodes,
 * locals) and a code block per function plus one for the model.  A code
 * block is a flat array of instructions over virtual registers %0, %1, ...
 * in three-address form; control flow is explicit (LOOP/ENDLOOP, BRANCH,
 * JUMP with instruction indices), so the executor is a simple loop and the
 * printer shows one readable line per operation.
 *
 * The effectful instructions are SAMPLE (a site: observed or latent is
 * decided at run time by the condition handler, so one program serves
 * every query), FACTOR (a term added to the log density) and DATA (binding
 * a declared data name).  `do` is not an instruction: an intervention is a
 * handler that intercepts SAMPLE (and the DATA binding of a site) from
 * outside; the IR marks where it can apply by printing each SAMPLE's site.
 */
#ifndef CM_IR_H
#define CM_IR_H

#include <stdio.h>

#include "ast.h"
#include "diag.h"
#include "dist.h"

typedef enum { TY_INT, TY_REAL, TY_BOOL } BaseType;
typedef struct {
    unsigned char base;  /* BaseType */
    signed char rank;    /* 0 scalar, 1 vector, 2 matrix */
} Type;

/* Constraint a site's declared type puts on its support (design.md:
 * `mu: ordered[2] ~ Normal(0, 2)`). */
typedef enum {
    CON_NONE, CON_ORDERED, CON_POSITIVE_ORDERED, CON_SIMPLEX, CON_POSITIVE, CON_UNIT
} Constraint;

typedef enum {
    VAR_DATA,      /* declared `data`, never sampled: must be given        */
    VAR_SITE,      /* target of `~`: observed iff bound by data/--given     */
    VAR_DET,       /* deterministic node, `name = expr` at model level      */
    VAR_LOCAL      /* a function's local or parameter                      */
} VarRole;

typedef struct {
    const char *name;
    VarRole role;
    Type type;
    Constraint con;
    int declared_data;   /* a `data` declaration exists (sites too)        */
    int indexed;         /* defined element by element                    */
    int reported;        /* written to the output (depends on a site)     */
    int hidden;          /* name starts with '_': never reported          */
    int is_latent_decl;  /* `latent name` (for identification)            */
    int plate;           /* innermost enclosing plate of its definition, -1 */
    int *parents;        /* variable ids read by its definitions (DAG)     */
    int nparents;
    int line, col;       /* first definition                              */
} IrVar;

typedef enum {
    IR_CONST,    /* dst = num (type in sub: TY_INT / TY_REAL / TY_BOOL)     */
    IR_DATA,     /* bind var from the data set (checks declared shape a.. ) */
    IR_ALLOC,    /* var gets storage of shape args[0..nargs-1] (ints)      */
    IR_LOAD,     /* dst = var                                             */
    IR_STORE,    /* var = a                                               */
    IR_STORE_IDX,/* var[args] = a; akind NULL: one int per index, else as
                    IR_INDEX (slices and ':' store a row, column or range)  */
    IR_INDEX,    /* dst = a[args]; akind[i]: 0 scalar, 1 slice(args[i], args[i+1]), 2 all */
    IR_UNOP,     /* dst = sub a            (sub: '-', '!')                  */
    IR_BINOP,    /* dst = a sub b          (sub: AST_OP_* or the character)  */
    IR_CALL,     /* dst = builtin sub (args)                              */
    IR_CALL_FN,  /* dst = function fn (args)                              */
    IR_CALL_EXT, /* dst = extern fn (args)                                */
    IR_LPDF,     /* dst = log density of args[0] under dist (args[1..])      */
    IR_VEC,      /* dst = [args]                                          */
    IR_SAMPLE,   /* var[args[0..nidx-1]] ~ dist(args[nidx..nargs-ndims-1]);
                    the last ndims args are the declared shape; a, b =
                    truncation bounds or -1                                */
    IR_FACTOR,   /* target += a; with var >= 0 it is the density of the site
                    sampled just before (a user distribution), skipped when
                    that site was intervened on                           */
    IR_LOOP,     /* dst = a .. b: first iteration or jump to `jump` (past ENDLOOP);
                    sub = 1 for a plate (fn = plate id), c = subsample size or -1 */
    IR_ENDLOOP,  /* next iteration of the LOOP at `jump`                  */
    IR_BRANCH,   /* if !a goto jump                                       */
    IR_JUMP,     /* goto jump                                             */
    IR_RETURN    /* return a                                              */
} IrOp;

typedef struct {
    IrOp op;
    int sub;
    int dst, a, b, c;
    int *args;
    unsigned char *akind;
    int nargs;
    int nidx, ndims;         /* SAMPLE: index items and declared dims in args */
    double num;
    int var;                 /* variable id                           */
    int fn;                  /* function / extern / builtin id        */
    const DistInfo *dist;
    int jump;
    int line, col;
} IrInstr;

typedef struct {
    IrInstr *code;
    int n, cap;
    int nregs;
} IrCode;

typedef struct {
    const char *name;
    IrCode code;
    int nparams;
    Type *ptypes;
    Type ret;
    IrVar *vars;         /* parameters first, then locals */
    int nvars;
    int line, col;
} IrFn;

typedef struct {
    const char *name;
    const char *lib;
    const char *grad_sym;
    int nparams;
    Type *ptypes;
    Type ret;
    void *sym, *grad;    /* resolved by the runtime's ffi module */
    int line, col;
} IrExtern;

typedef struct {
    const char *name;    /* index variable */
    const char *label;   /* "j in 1..J" */
    int line, col;
} IrPlate;

typedef struct Program {
    const char *path;
    const Source *src;
    IrVar *vars;
    int nvars;
    IrCode main;
    IrFn *fns;
    int nfns;
    IrExtern *externs;
    int nexterns;
    IrPlate *plates;
    int nplates;
    AstArena *arena;     /* the AST and every string above live here */
} Program;

/* Parse, check and lower a source file.  Returns NULL after reporting
 * errors through diag. */
Program *cm_compile(const Source *src, Diag *diag);
void program_free(Program *p);
int program_find_var(const Program *p, const char *name);
void ir_print(FILE *out, const Program *p);

/* Builtin functions (compiler/builtins.c): the checker's type rules and the
 * runtime's dispatch share this table. */
typedef enum {
    BR_ELEM,      /* real, same shape as the argument(s), broadcasting       */
    BR_REDUCE,    /* real scalar from one array (or several scalars)        */
    BR_VEC,       /* real vector from a vector                               */
    BR_MAT,       /* real matrix from a matrix                               */
    BR_INT,       /* int scalar                                              */
    BR_SPECIAL    /* checked by hand in check.c                              */
} BuiltinRule;

typedef struct {
    const char *name;
    int min_args, max_args;
    BuiltinRule rule;
    int op;       /* tape OpCode for the simple cases, or a BI_* code */
} Builtin;

extern const Builtin cm_builtins[];
int builtin_find(const char *name);
int builtin_count(void);

#endif
