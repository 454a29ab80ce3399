/*
 * enumerate.h - summing latent discrete sites out (docs/discrete.md).
 *
 * Under the gradient engines (policy.enumerate) a latent discrete site of
 * finite support that no handler gave a value is not refused: the
 * executor runs the site's *continuation* once per value k, each pass in a
 * local target of the tape, and adds log_sum_exp_k of the passes' log
 * densities to the real target.  For output the same machinery draws each
 * such site from its conditional posterior instead and runs on with it.
 * The functions below are the seam between exec.c (which runs a range of
 * instructions), sample.c (which builds and finishes a site's message) and
 * enumerate.c (which decides the passes).
 */
#ifndef CM_ENUMERATE_H
#define CM_ENUMERATE_H

#include "exec.h"

/* Values of ExecPolicy.enumerate */
enum {
    ENUM_OFF = 0,   /* latent discrete sites are drawn or refused, as before  */
    ENUM_SUM = 1,   /* sum them out: the marginal log density (gradients)     */
    ENUM_DRAW = 2   /* draw each from its conditional given the rest (output) */
};

/* Cap on the passes one site costs: its number of values (the product over
 * the elements of a whole vector site) times the passes of the sites whose
 * continuation it is in. */
#define ENUM_MAX_PASSES 4096

/* The summed-out sites whose continuation is running, innermost first. */
typedef struct EnumScope EnumScope;
struct EnumScope {
    const EnumScope *outer;
    char name[96];          /* the site, element included: "z[3]" (messages) */
    int line, col;
    long passes;            /* passes of this continuation, nesting included */
    int summing;            /* 1: computing the passes' densities (nested sites
                               are summed); 0: ENUM_DRAW's run with the drawn value */
};

/* exec.c: run instructions [start, end) of frame f. */
void exec_range(Exec *ex, ExecFrame *f, int start, int end, const EnumScope *scope);

/* sample.c: the SAMPLE at pc; returns the next pc, which is past the
 * continuation when the site was summed out. */
int exec_sample_at(Exec *ex, ExecFrame *f, int pc, const EnumScope *scope);
/* sample.c: finish a site whose message the first `seen` handlers have
 * processed: default effect, density, postprocess, store. */
void exec_sample_finish(Exec *ex, ExecFrame *f, const IrInstr *in, SiteMsg *m, int seen);

/* Sum out (or draw) the latent discrete site at pc, whose message m has
 * no value after the handlers; runs its continuation and returns the pc
 * after it.  Fails with a located error when the site's support is not
 * finite or the passes would exceed ENUM_MAX_PASSES. */
int enum_site(Exec *ex, ExecFrame *f, int pc, const SiteMsg *m, int seen, const EnumScope *scope);

/* Fail: a continuous latent site (m) inside a summed-out continuation. */
void enum_refuse_param(Exec *ex, const SiteMsg *m, const EnumScope *scope)
    __attribute__((noreturn));

/* Where the continuation of the SAMPLE at pc ends: the ENDLOOP of its
 * innermost enclosing plate, or code->n outside plates. */
int enum_continuation_end(const IrCode *code, int pc);

#endif
