/*
 * compile.h - compiling a model together with its SVI guide.
 *
 * A guide is written in cm itself, either as a `guide { ... }` block at the
 * top level of the model file or as a separate file (cmrun --guide-file).
 * It is compiled into a second Program, beside the model's, so that the
 * runtime executes it with the same executor and handlers: the model's
 * Program is exactly what cm_compile() gives for the file without its
 * guide block, and every engine but SVI ignores the guide.
 *
 * The guide Program sees the model's data declarations, functions and
 * extern functions (they are lowered into it first, unless the guide file
 * declares a name itself), so it reads the same data set.  Its learnable
 * parameters (`param loc: real[K] = 0`) are listed in CmGuide.params; in
 * the guide's IR each is a site named like the parameter, `~ Flat()` with
 * the declared shape, preceded by the hidden node `_init.NAME` holding the
 * initial value.  At run time the SVI engine's parameter handler answers
 * those sites with its tape inputs (svi_user.h); nothing else treats them
 * specially.
 *
 * Checks made here, located in the guide's source: `param` outside a guide
 * or below its top level, a second guide block, a guide site that names no
 * sampled site of the model, a parameter named like a model site, and
 * factor() or `latent` in a guide.  Shapes and supports depend on the data,
 * so the runtime checks them (svi_user_new in runtime/svi_user.h).
 */
#ifndef CM_COMPILE_H
#define CM_COMPILE_H

#include "ir.h"

typedef struct {
    const char *name;
    Constraint con;        /* CON_NONE (real), CON_POSITIVE, CON_UNIT or CON_SIMPLEX */
    int rank;              /* 0 scalar, 1 vector, 2 matrix */
    int init_var;          /* guide variable `_init.NAME` (its initial value) */
    int var;               /* guide variable NAME */
    int line, col;
} CmGuideParam;

typedef struct {
    Program *prog;         /* the guide, lowered as a model is */
    CmGuideParam *params;
    int nparams;
    const Source *src;     /* where the guide's text is: the model file or --guide-file */
    int from_file;         /* written in a --guide-file, not a guide block */
} CmGuide;

/* Parse, check and lower the model in src and its guide: the guide block
 * in src, or the file guide_src when it is not NULL (a model file with a
 * guide block and a --guide-file is an error).  *guide gets NULL when there
 * is no guide.  Returns the model, or NULL after reporting errors (model
 * errors through diag, guide-file errors through a Diag on guide_src).
 * Free the guide (cm_guide_free) before the model: it borrows the model's
 * names. */
Program *cm_compile_guided(const Source *src, Diag *diag, const Source *guide_src, CmGuide **guide);
void cm_guide_free(CmGuide *g);
/* The guide parameter whose site is guide variable var, or NULL. */
const CmGuideParam *cm_guide_param_of(const CmGuide *g, int var);

/* lower_guide.c, for compile.c: take the guide block out of a model's
 * statements (reporting misplaced `guide` and `param`); build the guide's
 * statement list (the model's declarations first, parameters rewritten as
 * described above) with its parameter table; check the lowered guide's
 * sites against the model. */
AstNode *lower_guide_extract(AstNode *model, Diag *diag);
AstNode *lower_guide_build(AstNode *guide_stmts, AstNode *model, AstArena *arena, Diag *diag,
                           int from_file, CmGuide *g);
void lower_guide_check(const Program *model, CmGuide *g, Diag *diag);

#endif
