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
 *
 * Recording also optimises, by peepholes on the ops just recorded
 * (tape_kernels.c): densities of the common location-scale families get a
 * specialised kernel with their constant terms computed once; a
 * BernoulliLogit or PoissonLog of `alpha + X * beta` with X data becomes
 * one fused OP_GLM; a MUL whose product an ADD reads becomes one
 * OP_AFFINE.  Each keeps every slot the unfused ops wrote, so later readers
 * see the same values and adjoints.
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
    OP_GLM,       /* fused GLM likelihood (tape_kernels.c): target += sum_i
                     lpdf(y[i] | eta[i]), eta = X beta (+ alpha), X data;
                     in: 0 y, 1 X, 2 beta, 3 alpha (length 0 when there is
                     none), 4 eta, 5 X beta (both still written, for later
                     readers);
                     iaux0 = rows, iaux1 = cols; paux = the DistInfo      */
    OP_AFFINE,    /* out[i] = a[i] + b[i] * c[i] (broadcasting), fused from
                     a MUL and the ADD that reads it (tape_kernels.c);
                     in: 0 a, 1 b, 2 c, 3 the product (still written)      */
    OP__COUNT
} OpCode;

#define TAPE_MAX_IN 6

typedef struct {
    uint16_t code;
    uint8_t nin;
    uint8_t varmask;         /* bit k set: input k holds a parameter-dependent slot */
    uint8_t kern;            /* OP_LPDF: specialised kernel (TapeKernel), 0 = generic */
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
    int *zero;               /* (first slot, count) ranges whose adjoints     */
    long nzero, capzero;     /* tape_backward zeroes: inputs and op outputs   */
    int zlo, zhi;            /* the span those ranges cover                   */
    long zcount;             /* slots in them (with repeats)                  */
    double target;
    double target_const;     /* density terms folded at trace time (no parameter) */
    int dynamic;             /* control flow read a parameter: re-trace each time */
    long epoch;              /* recordings so far (tape_reset counts them): code made
                                for one recording (native.h) is not used on another */
    /* local targets (tape_local_begin/end): while one is open, density
       terms are recorded as values and their slots collected here */
    int *local;
    long nlocal, caplocal;
    long *local_mark;        /* where each open local target starts in `local` */
    long nlocal_mark, caplocal_mark;
    long nlocal_closed;      /* local targets closed since the reset */
    int *local_written;      /* (first slot, count) assigned while one is open */
    long nlocal_written, caplocal_written;
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
/* Its adjoint (one op of tape_backward, adjoints not zeroed). */
void tape_backward_op(Tape *t, const TapeOp *op);

const char *tape_op_name(OpCode c);

/* Local targets, for summing a discrete site out (enumerate.c).  Between
 * tape_local_begin and tape_local_end every density term (OP_ACC, OP_LPDF,
 * OP_LPDF_MV, OP_TRUNC that would add to the target, constant-folded ones
 * included) is recorded in its one-output-slot form instead, and
 * tape_local_end returns a slot holding their sum, which the caller adds
 * to the target itself (through log_sum_exp, say).  They nest: an inner
 * sum added with OP_ACC counts in the enclosing local target.  Bijector
 * Jacobians cannot be redirected; the caller keeps them out. */
void tape_local_begin(Tape *t);
int tape_local_end(Tape *t);
int tape_local_open(const Tape *t);   /* a local target is open */
/* Repeated passes over the same code assign the same storage slots again,
 * but a recorded op must never see its input overwritten (replay and the
 * adjoints read it later).  tape_assign notes the ranges it writes while a
 * local target is open; after a pass, tape_local_rehome gives each noted
 * range that existed before slot `before` fresh slots, and points the ops
 * recorded since op `from_op` (writers and readers) at them; the notes
 * from `from_write` on are then dropped.  Returns 0, or -1 when an op
 * reads such a range only in part together with other slots (a gather over
 * the whole vector), which cannot be redirected. */
long tape_local_writes(const Tape *t);
int tape_local_rehome(Tape *t, long from_write, int from_op, int before);

/* ---- internal to tape.c and tape_kernels.c ------------------------------
 * Specialised density kernels: chosen when an OP_LPDF is recorded, they do
 * the work of the generic per-element loop without a function-pointer call
 * per element, with per-parameter terms (log sigma of a scalar or constant
 * sigma) computed once, and one saved partial per element (two when sigma
 * is a parameter) instead of 1 + nparams.  A kernel gives the same value
 * and gradient as the generic path up to rounding (~1e-15). */
typedef enum {
    KERN_GENERIC, KERN_NORMAL, KERN_HALF_NORMAL, KERN_CAUCHY, KERN_HALF_CAUCHY
} TapeKernel;

/* The kernel for a recorded OP_LPDF (its varmask and shapes set), or
 * KERN_GENERIC; *npart gets the doubles of t->part it needs. */
int tape_kernel_pick(const Tape *t, const TapeOp *op, long *npart);
/* Precompute the constant terms of a picked kernel into its part buffer. */
void tape_kernel_prepare(Tape *t, const TapeOp *op);
/* At the recording of an OP_LPDF whose parameter is X * beta (+ alpha), X
 * data, produced by the last recorded ops: replace those ops and the
 * density by one OP_GLM (recorded and evaluated).  Returns 1 if it did. */
int tape_fuse_glm(Tape *t, const TapeOp *lpdf);
void tape_glm_forward(Tape *t, const TapeOp *op);
void tape_glm_backward(Tape *t, const TapeOp *op);
/* At the recording of an OP_ADD that reads the product of the MUL recorded
 * just before it: one OP_AFFINE instead of the two.  Returns 1 if it did. */
int tape_fuse_affine(Tape *t, const TapeOp *add);
/* Append an op built by hand (its output slots allocated), reserve its
 * partials (np doubles), evaluate it, and register its adjoint ranges. */
void tape_push_op(Tape *t, TapeOp *op, long np);
/* Register a slot range whose adjoint tape_backward must zero. */
void tape_zero_range(Tape *t, int slot, int n);

#endif
