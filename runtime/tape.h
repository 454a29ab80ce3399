/*
 * tape.h - reverse-mode automatic differentiation on a replayable tape.
 *
 * Every number the model computes lives in a *slot*: tape->val[slot], with
 * its adjoint in tape->adj[slot].  Data, literals and loop counters are
 * constant slots; parameters are input slots; everything computed from a
 * parameter is produced by a recorded *op*.  An op reads contiguous slot
 * ranges (a scalar is a range of one; a range of length 1 broadcasts) and
 * writes a contiguous range, so vector and matrix operations are one op
 * each with their own adjoint code, as in Stan's math library.
 *
 * Ops whose inputs are all constant are evaluated at once and not recorded
 * (constant folding), so the tape holds only the parameter-dependent work.
 * Because the model is traced once under the effect handlers, the recorded
 * tape *is* the flat log-density program: inference replays it forward with
 * new parameter values (tape_forward) and runs it backward (tape_backward)
 * without re-walking the model or the handler stack, and without allocating.
 * A model whose control flow depends on a parameter marks the tape dynamic,
 * and is re-traced for every evaluation instead (still arena-backed).
 *
 * The log density is the accumulator `tape->target`: ops of the ACC family
 * (log densities, log-Jacobians, factor) add into it; its adjoint is 1.
 */
#ifndef CM_TAPE_H
#define CM_TAPE_H

#include <stddef.h>
#include <stdint.h>

#include "dist.h"

typedef enum {
    OP_COPY,      /* out[i] = a[i]                                      */
    OP_GATHER,    /* out[i] = a[ipool[k + i]]                           */
    OP_NEG, OP_EXP, OP_LOG, OP_LOG1P, OP_EXPM1, OP_SQRT, OP_ABS, OP_SIN,
    OP_COS, OP_TAN, OP_TANH, OP_SIGMOID, OP_LOGIT, OP_SOFTPLUS, OP_LGAMMA,
    OP_DIGAMMA, OP_ERF, OP_PHI, OP_SQUARE, OP_INV, OP_LOG_SIGMOID,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW,  /* elementwise, broadcasting */
    OP_LBETA, OP_FMIN, OP_FMAX,
    OP_SUM,       /* out = sum a                                        */
    OP_DOT,       /* out = sum a .* b                                   */
    OP_LSE,       /* out = log_sum_exp a                                */
    OP_CUMSUM,    /* out[i] = sum_{j<=i} a[j]                           */
    OP_SOFTMAX, OP_LOG_SOFTMAX,
    OP_MATVEC,    /* out[r] = A[r x c] b[c]      (iaux0 = r, iaux1 = c) */
    OP_MATMUL,    /* out = A[r x k] B[k x c]     (iaux0 r, iaux1 k, iaux2 c) */
    OP_TRANSPOSE, /* out = A^T (iaux0 rows, iaux1 cols of A)           */
    OP_CHOLESKY,  /* out = chol(A) lower, row-major (iaux0 = n)        */
    /* accumulate into target */
    OP_ACC,       /* target += sum a                                    */
    OP_LPDF,      /* target += sum_i lpdf(a[i] | params) * scale; paux = dist;
                     with one output slot the sum is written there instead */
    OP_LPDF_MV,   /* target += mv_lpdf(a | params) (one event)          */
    OP_TRUNC,     /* target -= log(F(hi) - F(lo)) per element           */
    /* bijectors: out = f(u), target += log|J|                         */
    OP_B_LOWER,   /* x = lo + exp(u)                                    */
    OP_B_UPPER,   /* x = hi - exp(u)                                    */
    OP_B_INTERVAL,/* x = lo + (hi - lo) * sigmoid(u)                    */
    OP_B_ORDERED, /* x1 = u1, x_k = x_{k-1} + exp(u_k)                  */
    OP_B_POS_ORDERED,
    OP_B_SIMPLEX, /* stick-breaking, K-1 -> K                           */
    OP_B_CHOL_CORR,/* K(K-1)/2 -> Cholesky factor of a correlation matrix (iaux0 = K) */
    OP_FFI,       /* out = extern function (paux = IrExtern*)           */
    OP__COUNT
} OpCode;

#define TAPE_MAX_IN 6

typedef struct {
    uint16_t code;
    uint8_t nin;
    uint8_t varmask;         /* bit k set: input k holds a parameter-dependent slot */
    int out, nout;           /* output range                                    */
    int in[TAPE_MAX_IN];     /* input range starts                              */
    int inn[TAPE_MAX_IN];    /* input range lengths (1 = broadcast scalar)      */
    int iaux[3];
    const void *paux;        /* DistInfo*, extern descriptor, ...               */
    double daux;             /* scale for LPDF (subsampling), ...               */
    long pbuf;               /* offset of this op's partials in tape->part      */
    long ipool;              /* offset of index list in tape->ipool             */
} TapeOp;

typedef struct Tape {
    double *val, *adj;
    uint8_t *isvar;          /* per slot: produced by an op or an input         */
    int nslots, capslots;
    TapeOp *ops;
    int nops, capops;
    double *part;            /* partial derivatives saved by the forward pass  */
    long npart, cappart;
    int *ipool;
    long nipool, capipool;
    int *inputs;             /* (first slot, count) of each tape_inputs range */
    long ninputs, capinputs;
    double target;
    double target_const;     /* density terms folded at trace time (no parameter) */
    int dynamic;             /* control flow read a parameter: re-trace each time */
    int nan_op;              /* index of the first op that produced NaN, or -1 */
} Tape;

void tape_init(Tape *t);
void tape_free(Tape *t);
/* Forget all slots and ops (keeps the memory). */
void tape_reset(Tape *t);

/* New slots: constant (value given or zero) or input (a parameter). */
int tape_const(Tape *t, double v);
int tape_consts(Tape *t, const double *v, int n);   /* v may be NULL: zeros */
int tape_inputs(Tape *t, int n);                     /* isvar = 1 */

/* Record (or, with all-constant inputs, evaluate at once) an op.  The op's
 * output range is allocated here and returned.  `in`/`inn` give nin input
 * ranges.  Returns the first output slot. */
int tape_op(Tape *t, OpCode code, int nout, int nin, const int *in,
            const int *inn, const int *iaux, const void *paux, double daux);
/* An op with an index list (GATHER). */
int tape_gather(Tape *t, int src, int srcn, const int *idx, int n);
/* Copy src into the existing slot range dst (n elements). */
void tape_assign(Tape *t, int dst, int src, int n);

int tape_range_isvar(const Tape *t, int slot, int n);

/* Replay: recompute every recorded op from current input values; returns
 * the target.  tape_backward fills adj (zeroed first) with d target / d slot. */
double tape_forward(Tape *t);
void tape_backward(Tape *t);

/* Evaluate one op (forward); used by tape_op for folding and by replay. */
void tape_eval_op(Tape *t, TapeOp *op);

const char *tape_op_name(OpCode c);

#endif
