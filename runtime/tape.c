/*
 * tape.c - recording, folding, replaying and differentiating ops.
 *
 * The forward code of every op is written once (op_forward) and serves
 * three purposes: folding constant ops at trace time, evaluating recorded
 * ops at trace time, and replaying the tape.  The backward code
 * (op_backward) reads the op's inputs and outputs, and for densities the
 * partials that the forward pass saved in tape->part, so nothing is
 * recomputed and nothing is allocated after the trace.
 *
 * Broadcasting: an input range of length 1 is read at index 0 for every
 * element (IN(k, i) below); its adjoint accumulates over all elements.
 */
#include "tape.h"
#include "tape_ops.h"

#include "foreign.h"

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_sf_erf.h>
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void *grow(void *p, size_t elem, long *cap, long need)
{
    if (need <= *cap)
        return p;
    long nc = *cap ? *cap : 1024;
    while (nc < need)
        nc *= 2;
    void *q = realloc(p, (size_t)nc * elem);
    if (!q) {
        fprintf(stderr, "cmrun: out of memory (tape of %ld entries)\n", need);
        exit(3);
    }
    *cap = nc;
    return q;
}

void tape_init(Tape *t)
{
    memset(t, 0, sizeof *t);
}

void tape_free(Tape *t)
{
    free(t->val);
    free(t->adj);
    free(t->isvar);
    free(t->ops);
    free(t->part);
    free(t->ipool);
    free(t->inputs);
    free(t->zero);
    free(t->local);
    free(t->local_mark);
    free(t->local_written);
    memset(t, 0, sizeof *t);
}

void tape_reset(Tape *t)
{
    t->nslots = 0;
    t->nops = 0;
    t->npart = 0;
    t->nipool = 0;
    t->ninputs = 0;
    t->nzero = 0;
    t->zcount = 0;
    t->zlo = t->zhi = 0;
    t->nlocal = t->nlocal_mark = t->nlocal_closed = t->nlocal_written = 0;
    t->target = 0;
    t->target_const = 0;
    t->dynamic = 0;
    t->epoch++;
}

static int new_slots(Tape *t, int n, int isvar)
{
    long need = (long)t->nslots + n, cap = t->capslots, cap2 = cap, cap3 = cap;
    if (need > cap) {
        t->val = grow(t->val, sizeof(double), &cap, need);
        t->adj = grow(t->adj, sizeof(double), &cap2, need);
        t->isvar = grow(t->isvar, 1, &cap3, need);
        t->capslots = (int)cap;
    }
    int s = t->nslots;
    memset(t->isvar + s, isvar, (size_t)n);
    memset(t->val + s, 0, sizeof(double) * (size_t)n);
    t->nslots += n;
    return s;
}

int tape_const(Tape *t, double v)
{
    int s = new_slots(t, 1, 0);
    t->val[s] = v;
    return s;
}

int tape_consts(Tape *t, const double *v, int n)
{
    int s = new_slots(t, n, 0);
    if (v && n)
        memcpy(t->val + s, v, sizeof(double) * (size_t)n);
    return s;
}

int tape_inputs(Tape *t, int n)
{
    int s = new_slots(t, n, 1);
    t->inputs = grow(t->inputs, sizeof(int), &t->capinputs, t->ninputs + 2);
    t->inputs[t->ninputs++] = s;
    t->inputs[t->ninputs++] = n;
    tape_zero_range(t, s, n);
    return s;
}

void tape_zero_range(Tape *t, int slot, int n)
{
    if (n <= 0)
        return;
    if (t->nzero == 0 || slot < t->zlo)
        t->zlo = slot;
    if (t->nzero == 0 || slot + n > t->zhi)
        t->zhi = slot + n;
    t->zcount += n;
    if (t->nzero > 0) { /* ops mostly write the slots right after the last */
        int *last = t->zero + t->nzero - 2;
        if (last[0] + last[1] == slot) {
            last[1] += n;
            return;
        }
        if (slot >= last[0] && slot + n <= last[0] + last[1])
            return;
    }
    t->zero = grow(t->zero, sizeof(int), &t->capzero, t->nzero + 2);
    t->zero[t->nzero++] = slot;
    t->zero[t->nzero++] = n;
}

int tape_range_isvar(const Tape *t, int slot, int n)
{
    for (int i = 0; i < n; i++)
        if (t->isvar[slot + i])
            return 1;
    return 0;
}

/* Partials each recording needs, saved by the forward pass. */
static long partials_needed(const TapeOp *op)
{
    const DistInfo *d = op->paux;
    switch (op->code) {
    case OP_LPDF: /* the specialised kernels size their own (tape_kernel_pick) */
        return (long)op->iaux[0] * (1 + d->nparams);
    case OP_TRUNC:
        return (long)op->iaux[0] * (2 + d->nparams);
    case OP_LPDF_MV: {
        long s = 0;
        for (int k = 0; k < op->nin; k++)
            s += op->inn[k];
        return s;
    }
    case OP_B_SIMPLEX:
        return 2L * op->inn[0];
    case OP_B_LOWER: case OP_B_UPPER: /* exp(u) */
        return op->nout;
    case OP_FFI: { /* gradient scratch: one per input element */
        long s = 0;
        for (int k = 0; k < op->nin; k++)
            s += op->inn[k];
        return s;
    }
    case OP_CHOLESKY: /* scratch for the adjoint, so backward allocates nothing */
        return (long)op->iaux[0] * op->iaux[0];
    default:
        return 0;
    }
}



/* Lower-triangle Cholesky of the row-major n x n matrix at `a` into `l`. */
static int cholesky_rowmajor(const double *a, double *l, int n)
{
    memcpy(l, a, sizeof(double) * (size_t)n * n);
    gsl_matrix_view m = gsl_matrix_view_array(l, n, n);
    int st = gsl_linalg_cholesky_decomp1(&m.matrix); /* GSL's abort is off: cli/main.c */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            l[i * n + j] = 0;
    if (st) {
        for (int i = 0; i < n * n; i++)
            l[i] = NAN;
        return -1;
    }
    return 0;
}

/* Stan's cholesky_corr_constrain: z = tanh(y) are canonical partial
 * correlations, filled row by row into a lower-triangular L with unit-length
 * rows; returns the log-Jacobian. */
static double chol_corr_forward(const double *y, int K, double *L)
{
    double lp = 0;
    int p = 0;
    for (int i = 0; i < K * K; i++)
        L[i] = 0;
    L[0] = 1;
    for (int i = 1; i < K; i++) {
        double z = tanh(y[p++]);
        lp += log1p(-z * z);
        L[i * K] = z;
        double s = z * z;
        for (int j = 1; j < i; j++) {
            z = tanh(y[p++]);
            lp += log1p(-z * z) + 0.5 * log1p(-s);
            L[i * K + j] = z * sqrt(1 - s);
            s += L[i * K + j] * L[i * K + j];
        }
        L[i * K + i] = sqrt(1 - s);
    }
    return lp;
}

/* Reverse pass of chol_corr_forward, row by row, recomputing the running
 * sums of squares instead of storing them. */
static void chol_corr_backward(const double *y, int K, const double *L, const double *gL, double *gy)
{
    int p0 = 0;
    for (int i = 1; i < K; i++) {
        double s[64], zs[64];
        int n = i; /* z values in this row */
        double acc = 0;
        for (int j = 0; j < n && j < 64; j++) {
            zs[j] = tanh(y[p0 + j]);
            s[j] = acc; /* sum of squares before element j */
            acc += L[i * K + j] * L[i * K + j];
        }
        double gs = gL[i * K + i] * (-0.5 / L[i * K + i]);
        for (int j = n - 1; j >= 1; j--) {
            double w = sqrt(1 - s[j]), z = zs[j];
            double gl = gL[i * K + j] + gs * 2 * L[i * K + j];
            double gz = gl * w;
            gs += gl * z * (-0.5 / w) - 0.5 / (1 - s[j]);
            gy[p0 + j] += gz * (1 - z * z) - 2 * z;
        }
        double z0 = zs[0];
        double gz0 = gL[i * K] + gs * 2 * z0;
        gy[p0] += gz0 * (1 - z0 * z0) - 2 * z0;
        p0 += n;
    }
}

static void forward_lpdf(Tape *t, TapeOp *op)
{
    const DistInfo *d = op->paux;
    int n = op->iaux[0], np = d->nparams;
    double *part = t->part + op->pbuf;
    double p[DIST_MAX_PARAMS], dp[DIST_MAX_PARAMS];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < np; k++)
            p[k] = IN(k + 1, i);
        double dx = 0;
        double lp = d->lpdf(IN(0, i), p, &dx, dp);
        sum += lp;
        part[(long)i * (1 + np)] = dx;
        for (int k = 0; k < np; k++)
            part[(long)i * (1 + np) + 1 + k] = dp[k];
    }
    if (op->nout == 1) /* a value (Normal_lpdf(...)), not a density term */
        t->val[op->out] = sum * op->daux;
    else
        t->target += sum * op->daux;
}

static void forward_trunc(Tape *t, TapeOp *op)
{
    const DistInfo *d = op->paux;
    int n = op->iaux[0], np = d->nparams;
    double *part = t->part + op->pbuf;
    double p[DIST_MAX_PARAMS], dplo[DIST_MAX_PARAMS], dphi[DIST_MAX_PARAMS];
    double sum = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < np; k++)
            p[k] = IN(k + 2, i);
        double lo = IN(0, i), hi = IN(1, i);
        double flo = 0, fhi = 1, dlo = 0, dhi = 0;
        for (int k = 0; k < np; k++)
            dplo[k] = dphi[k] = 0;
        if (lo > -INFINITY) {
            flo = d->cdf(lo, p, dplo);
            dlo = exp(d->lpdf(lo, p, NULL, NULL));
        }
        if (hi < INFINITY) {
            fhi = d->cdf(hi, p, dphi);
            dhi = exp(d->lpdf(hi, p, NULL, NULL));
        }
        double z = fhi - flo;
        sum -= log(z);
        double *pp = part + (long)i * (2 + np);
        pp[0] = dlo / z;   /* d(-log z)/dlo = +pdf(lo)/z */
        pp[1] = -dhi / z;  /* d(-log z)/dhi = -pdf(hi)/z */
        for (int k = 0; k < np; k++)
            pp[2 + k] = -(dphi[k] - dplo[k]) / z;
    }
    if (op->nout == 1) /* a local target's term (tape_local_begin) */
        t->val[op->out] = sum * op->daux;
    else
        t->target += sum * op->daux;
}


static void forward_lpdf_mv(Tape *t, TapeOp *op)
{
    const DistInfo *d = op->paux;
    DArr x = {t->val + op->in[0], op->iaux[0], op->iaux[1]};
    DArr p[DIST_MAX_PARAMS];
    double *dp[DIST_MAX_PARAMS];
    double *part = t->part + op->pbuf;
    long off = op->inn[0];
    for (int k = 0; k < d->nparams; k++) {
        /* parameter shapes were checked at trace; a vector is n x 1 and a
           matrix is square unless it matches the value's rows */
        int len = op->inn[k + 1];
        p[k].x = t->val + op->in[k + 1];
        p[k].n = d->param_kind[k] == PK_MATRIX ? (int)lround(sqrt(len)) : len;
        p[k].m = d->param_kind[k] == PK_MATRIX ? p[k].n : 1;
        if (d->param_kind[k] == PK_REAL || d->param_kind[k] == PK_INT)
            p[k].n = p[k].m = 1;
        /* a constant argument (mvn100's data-only Cholesky factor) gets no
           gradient: its k x k partials would be computed for nothing */
        dp[k] = ISVAR(k + 1) ? part + off : NULL;
        off += len;
    }
    double lp = d->mv_lpdf(x, p, ISVAR(0) ? part : NULL, dp);
    if (op->nout == 1)
        t->val[op->out] = lp * op->daux;
    else
        t->target += lp * op->daux;
}

/* The ops that call a library (BLAS, LAPACK-style GSL, libffi) or a
 * distribution through its function pointer; the rest are tape_forward_pure
 * (tape_ops.h).  Inlined into tape_forward's loop: on a small model the
 * call per op is a noticeable share of the replay. */
static inline __attribute__((always_inline)) void eval_op(Tape *t, TapeOp *op)
{
    if (tape_forward_pure(t, op))
        return;
    double *out = t->val + op->out;
    switch (op->code) {
    case OP_MATVEC:
        cblas_dgemv(CblasRowMajor, CblasNoTrans, op->iaux[0], op->iaux[1], 1.0,
                    t->val + op->in[0], op->iaux[1], t->val + op->in[1], 1, 0.0,
                    out, 1);
        return;
    case OP_MATMUL:
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, op->iaux[0],
                    op->iaux[2], op->iaux[1], 1.0, t->val + op->in[0], op->iaux[1],
                    t->val + op->in[1], op->iaux[2], 0.0, out, op->iaux[2]);
        return;
    case OP_CHOLESKY:
        cholesky_rowmajor(t->val + op->in[0], out, op->iaux[0]);
        return;
    case OP_LPDF:
        forward_lpdf(t, op);
        return;
    case OP_GLM:
        tape_glm_forward(t, op);
        return;
    case OP_TRUNC:
        forward_trunc(t, op);
        return;
    case OP_LPDF_MV:
        forward_lpdf_mv(t, op);
        return;
    case OP_FFI: {
        double *ptrs[TAPE_MAX_IN];
        for (int k = 0; k < op->nin; k++)
            ptrs[k] = t->val + op->in[k];
        out[0] = ffi_call_values(op->paux, ptrs, op->inn);
        return;
    }
    case OP_B_CHOL_CORR:
        t->target += chol_corr_forward(t->val + op->in[0], op->iaux[0], out);
        return;
    default:
        return;
    }
}

static void backward_ffi(Tape *t, const TapeOp *op)
{
    const IrExtern *e = op->paux;
    double *ptrs[TAPE_MAX_IN], *grad = t->part + op->pbuf;
    for (int k = 0; k < op->nin; k++)
        ptrs[k] = t->val + op->in[k];
    ffi_gradient(e, ptrs, op->inn, grad);
    double ga = t->adj[op->out];
    int g = 0;
    for (int k = 0; k < op->nin; k++) {
        if (e->ptypes[k].base == TY_INT)
            continue;
        for (int i = 0; i < op->inn[k]; i++, g++)
            if (ISVAR(k))
                t->adj[op->in[k] + i] += ga * grad[g];
    }
}

static void backward_lpdf(Tape *t, const TapeOp *op)
{
    const DistInfo *d = op->paux;
    int n = op->iaux[0], np = d->nparams;
    const double *part = t->part + op->pbuf;
    double g = op->nout == 1 ? op->daux * t->adj[op->out] : op->daux;
    for (int i = 0; i < n; i++) {
        const double *pp = part + (long)i * (1 + np);
        if (ISVAR(0))
            t->adj[INSLOT(0, i)] += g * pp[0];
        for (int k = 0; k < np; k++)
            if (ISVAR(k + 1))
                t->adj[INSLOT(k + 1, i)] += g * pp[1 + k];
    }
}

static void backward_trunc(Tape *t, const TapeOp *op)
{
    const DistInfo *d = op->paux;
    int n = op->iaux[0], np = d->nparams;
    double g = op->nout == 1 ? op->daux * t->adj[op->out] : op->daux;
    for (int i = 0; i < n; i++) {
        const double *pp = t->part + op->pbuf + (long)i * (2 + np);
        for (int k = 0; k < 2 + np; k++)
            if (ISVAR(k))
                t->adj[INSLOT(k, i)] += g * pp[k];
    }
}

/* Murray (2016): adjoint of A = L L^T given adj(L), for a full symmetric
 * input whose two triangles are separate slots (each gets half). */
static void backward_cholesky(Tape *t, const TapeOp *op)
{
    int n = op->iaux[0];
    const double *L = t->val + op->out, *Lb = t->adj + op->out;
    double *P = t->part + op->pbuf;
    /* P = Phi(L^T Lbar): lower triangle, diagonal halved */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            if (j <= i)
                for (int k = i; k < n; k++)
                    s += L[k * n + i] * Lb[k * n + j];
            P[i * n + j] = j < i ? s : (j == i ? 0.5 * s : 0);
        }
    /* S = L^{-T} P L^{-1}: solve with triangular solves */
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, n,
                n, 1.0, L, n, P, n);
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit,
                n, n, 1.0, L, n, P, n);
    /* symmetrise: each triangle's slot gets half of the pair's adjoint */
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++) {
            if (i == j) {
                t->adj[op->in[0] + i * n + i] += P[i * n + i];
            } else {
                double v = 0.5 * (P[i * n + j] + P[j * n + i]);
                t->adj[op->in[0] + i * n + j] += v;
                t->adj[op->in[0] + j * n + i] += v;
            }
        }
}

static void backward_op(Tape *t, const TapeOp *op)
{
    if (tape_backward_pure(t, op))
        return;
    const double *out = t->val + op->out, *ga = t->adj + op->out;
    switch (op->code) {
    case OP_MATVEC: {
        int r = op->iaux[0], c = op->iaux[1];
        if (ISVAR(0))
            cblas_dger(CblasRowMajor, r, c, 1.0, ga, 1, t->val + op->in[1], 1,
                       t->adj + op->in[0], c);
        if (ISVAR(1))
            cblas_dgemv(CblasRowMajor, CblasTrans, r, c, 1.0, t->val + op->in[0], c,
                        ga, 1, 1.0, t->adj + op->in[1], 1);
        return;
    }
    case OP_MATMUL: {
        int r = op->iaux[0], k = op->iaux[1], c = op->iaux[2];
        if (ISVAR(0)) /* Abar += Gbar B^T */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, k, c, 1.0, ga, c,
                        t->val + op->in[1], c, 1.0, t->adj + op->in[0], k);
        if (ISVAR(1)) /* Bbar += A^T Gbar */
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, c, r, 1.0,
                        t->val + op->in[0], k, ga, c, 1.0, t->adj + op->in[1], c);
        return;
    }
    case OP_CHOLESKY:
        backward_cholesky(t, op);
        return;
    case OP_LPDF:
        backward_lpdf(t, op);
        return;
    case OP_GLM:
        tape_glm_backward(t, op);
        return;
    case OP_TRUNC:
        backward_trunc(t, op);
        return;
    case OP_LPDF_MV: {
        const double *part = t->part + op->pbuf;
        long off = 0;
        for (int k = 0; k < op->nin; k++) {
            double g = op->nout == 1 ? op->daux * ga[0] : op->daux;
            if (ISVAR(k))
                for (int i = 0; i < op->inn[k]; i++)
                    t->adj[op->in[k] + i] += g * part[off + i];
            off += op->inn[k];
        }
        return;
    }
    case OP_FFI:
        backward_ffi(t, op);
        return;
    case OP_B_CHOL_CORR:
        chol_corr_backward(t->val + op->in[0], op->iaux[0], out, ga, t->adj + op->in[0]);
        return;
    default:
        return;
    }
}

static int local_term(Tape *t, OpCode code, int nin, const int *in, const int *inn,
                      const int *iaux, const void *paux, double daux);

int tape_op(Tape *t, OpCode code, int nout, int nin, const int *in,
            const int *inn, const int *iaux, const void *paux, double daux)
{
    if (t->nlocal_mark > 0 && nout == 0 &&
        (code == OP_ACC || code == OP_LPDF || code == OP_LPDF_MV || code == OP_TRUNC))
        return local_term(t, code, nin, in, inn, iaux, paux, daux);
    TapeOp op;
    memset(&op, 0, sizeof op);
    op.code = (uint16_t)code;
    op.nin = (uint8_t)nin;
    for (int k = 0; k < nin; k++) {
        op.in[k] = in[k];
        op.inn[k] = inn[k];
        if (tape_range_isvar(t, in[k], inn[k]))
            op.varmask |= (uint8_t)(1u << k);
    }
    if (iaux)
        memcpy(op.iaux, iaux, sizeof op.iaux);
    op.paux = paux;
    op.daux = daux;
    op.nout = nout;
    int record = op.varmask != 0;
    op.out = nout > 0 ? new_slots(t, nout, record) : 0;
    long np = partials_needed(&op);
    if (record && code == OP_LPDF) { /* peepholes: tape_kernels.c */
        if (tape_fuse_glm(t, &op))
            return op.out;
        op.kern = (uint8_t)tape_kernel_pick(t, &op, &np);
    }
    if (record && code == OP_ADD && tape_fuse_affine(t, &op))
        return op.out;
    if (record) {
        tape_push_op(t, &op, np);
        return op.out;
    }
    if (np > 0) {
        /* folded ops borrow scratch space at the end of the buffer */
        t->part = grow(t->part, sizeof(double), &t->cappart, t->npart + np);
        op.pbuf = t->npart;
    }
    /* folded: a constant density term still belongs to every replay */
    double before = t->target;
    tape_eval_op(t, &op);
    t->target_const += t->target - before;
    return op.out;
}

void tape_push_op(Tape *t, TapeOp *op, long np)
{
    if (np > 0) {
        t->part = grow(t->part, sizeof(double), &t->cappart, t->npart + np);
        op->pbuf = t->npart;
        t->npart += np;
    }
    long cap = t->capops;
    t->ops = grow(t->ops, sizeof(TapeOp), &cap, t->nops + 1L);
    t->capops = (int)cap;
    TapeOp *rec = &t->ops[t->nops];
    *rec = *op;
    if ((rec->code == OP_LPDF && rec->kern) || rec->code == OP_GLM)
        tape_kernel_prepare(t, rec);
    tape_eval_op(t, rec);
    t->nops++;
    tape_zero_range(t, rec->out, rec->nout);
}

int tape_gather(Tape *t, int src, int srcn, const int *idx, int n)
{
    if (!tape_range_isvar(t, src, srcn)) {
        int out = new_slots(t, n, 0);
        for (int i = 0; i < n; i++)
            t->val[out + i] = t->val[src + idx[i]];
        return out;
    }
    t->ipool = grow(t->ipool, sizeof(int), &t->capipool, t->nipool + n);
    memcpy(t->ipool + t->nipool, idx, sizeof(int) * (size_t)n);
    long off = t->nipool;
    t->nipool += n;
    int in[1] = {src}, inn[1] = {srcn};
    /* record by hand: tape_op would evaluate before ipool is set */
    TapeOp op;
    memset(&op, 0, sizeof op);
    op.code = OP_GATHER;
    op.nin = 1;
    op.varmask = 1;
    op.in[0] = in[0];
    op.inn[0] = inn[0];
    op.ipool = off;
    op.nout = n;
    op.out = new_slots(t, n, 1);
    tape_push_op(t, &op, 0);
    return op.out;
}

static void local_note_write(Tape *t, int dst, int n);

void tape_assign(Tape *t, int dst, int src, int n)
{
    int var = tape_range_isvar(t, src, n);
    if (t->nlocal_mark > 0 && (var || tape_range_isvar(t, dst, n) ||
                               memcmp(t->val + dst, t->val + src, sizeof(double) * (size_t)n)))
        local_note_write(t, dst, n); /* rewriting the same constant is harmless */
    if (!var && !tape_range_isvar(t, dst, n)) {
        memmove(t->val + dst, t->val + src, sizeof(double) * (size_t)n);
        return;
    }
    /* a recorded copy, so that replay rewrites dst in program order */
    TapeOp op;
    memset(&op, 0, sizeof op);
    op.code = OP_COPY;
    op.nin = 1;
    op.varmask = (uint8_t)var;
    op.in[0] = src;
    op.inn[0] = n;
    op.out = dst;
    op.nout = n;
    tape_push_op(t, &op, 0);
    memset(t->isvar + dst, 1, (size_t)n);
}

void tape_eval_op(Tape *t, TapeOp *op)
{
    eval_op(t, op);
}

void tape_backward_op(Tape *t, const TapeOp *op)
{
    backward_op(t, op);
}

double tape_forward(Tape *t)
{
    t->target = t->target_const;
    for (int i = 0; i < t->nops; i++)
        eval_op(t, &t->ops[i]);
    return t->target;
}

void tape_backward(Tape *t)
{
    tape_zero_adjoints(t);
    for (int i = t->nops - 1; i >= 0; i--)
        backward_op(t, &t->ops[i]);
}

const char *tape_op_name(OpCode c)
{
    static const char *const names[OP__COUNT] = {
        "copy", "gather", "neg", "exp", "log", "log1p", "expm1", "sqrt", "abs",
        "sin", "cos", "tan", "tanh", "sigmoid", "logit", "softplus", "lgamma",
        "digamma", "erf", "Phi", "square", "inv", "log_sigmoid", "add", "sub",
        "mul", "div", "pow", "lbeta", "fmin", "fmax", "sum", "dot",
        "log_sum_exp", "cumulative_sum", "softmax", "log_softmax", "matvec",
        "matmul", "transpose", "cholesky", "acc", "lpdf", "lpdf_mv", "trunc",
        "lower", "upper", "interval", "ordered", "positive_ordered", "simplex", "cholesky_corr", "ffi",
        "glm", "affine"};
    return c < OP__COUNT ? names[c] : "?";
}

/* ---- local targets ---- */

void tape_local_begin(Tape *t)
{
    t->local_mark = grow(t->local_mark, sizeof(long), &t->caplocal_mark, t->nlocal_mark + 1);
    t->local_mark[t->nlocal_mark++] = t->nlocal;
}

int tape_local_open(const Tape *t) { return t->nlocal_mark > 0; }

/* A density term while a local target is open: its value goes to a slot
 * (OP_ACC becomes OP_SUM; the densities have a one-output form), which
 * joins the open target's list. */
static int local_term(Tape *t, OpCode code, int nin, const int *in, const int *inn,
                      const int *iaux, const void *paux, double daux)
{
    int s = code == OP_ACC ? tape_op(t, OP_SUM, 1, 1, in, inn, NULL, NULL, 0)
                           : tape_op(t, code, 1, nin, in, inn, iaux, paux, daux);
    t->local = grow(t->local, sizeof(int), &t->caplocal, t->nlocal + 1);
    t->local[t->nlocal++] = s;
    return 0;
}

int tape_local_end(Tape *t)
{
    long mark = t->local_mark[--t->nlocal_mark];
    int n = (int)(t->nlocal - mark);
    int *s = t->local + mark;
    t->nlocal = mark; /* closed first: the sum below is not a term */
    t->nlocal_closed++;
    if (n == 0)
        return tape_const(t, 0);
    if (n == 1)
        return s[0];
    if (n == 2) { /* the common case (a site's term and one more): one op */
        int one[2] = {1, 1};
        return tape_op(t, OP_ADD, 1, 2, s, one, NULL, NULL, 0);
    }
    int lo = s[0], hi = s[0];
    for (int i = 1; i < n; i++) {
        lo = s[i] < lo ? s[i] : lo;
        hi = s[i] > hi ? s[i] : hi;
    }
    for (int i = 0; i < n; i++) /* the closed list is scratch now: offsets */
        s[i] -= lo;
    int g = tape_gather(t, lo, hi - lo + 1, s, n);
    return tape_op(t, OP_SUM, 1, 1, &g, &n, NULL, NULL, 0);
}

static void local_note_write(Tape *t, int dst, int n)
{
    t->local_written = grow(t->local_written, sizeof(int), &t->caplocal_written,
                            t->nlocal_written + 2);
    t->local_written[t->nlocal_written++] = dst;
    t->local_written[t->nlocal_written++] = n;
}

long tape_local_writes(const Tape *t) { return t->nlocal_written; }

typedef struct {
    int dst, n, f;           /* a shared range and its fresh slots */
} Home;

static int home_cmp(const void *a, const void *b)
{
    const Home *x = a, *y = b;
    return (x->dst > y->dst) - (x->dst < y->dst);
}

/* Point the slot range [*a, *a + n) at its home if it lies in one; -1 if
 * it straddles a home's edge. */
static int rehome_range(const Home *h, int nh, int *a, int n)
{
    int lo = 0, hi = nh - 1, i = -1;
    while (lo <= hi) { /* the last home starting at or before *a */
        int mid = (lo + hi) / 2;
        if (h[mid].dst <= *a) {
            i = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (i >= 0 && *a < h[i].dst + h[i].n) {
        if (*a + n > h[i].dst + h[i].n)
            return -1;
        *a = h[i].f + (*a - h[i].dst);
        return 0;
    }
    return i + 1 < nh && h[i + 1].dst < *a + n ? -1 : 0;
}

int tape_local_rehome(Tape *t, long from_write, int from_op, int before)
{
    long nw = (t->nlocal_written - from_write) / 2;
    Home *h = nw > 0 ? malloc(sizeof(Home) * (size_t)nw) : NULL;
    int nh = 0, rc = 0;
    if (nw > 0 && !h) {
        fprintf(stderr, "cmrun: out of memory\n");
        exit(3);
    }
    for (long w = from_write; w < t->nlocal_written; w += 2)
        if (t->local_written[w] < before && t->local_written[w + 1] > 0)
            h[nh++] = (Home){t->local_written[w], t->local_written[w + 1], -1};
    t->nlocal_written = from_write;
    if (nh == 0) {
        free(h);
        return 0;
    }
    qsort(h, (size_t)nh, sizeof(Home), home_cmp);
    int m = 0; /* merge overlapping ranges: their union was all written */
    for (int i = 1; i < nh; i++) {
        if (h[i].dst < h[m].dst + h[m].n) {
            int end = h[i].dst + h[i].n;
            if (end > h[m].dst + h[m].n)
                h[m].n = end - h[m].dst;
        } else {
            h[++m] = h[i];
        }
    }
    nh = m + 1;
    for (int i = 0; i < nh; i++) {
        int var = tape_range_isvar(t, h[i].dst, h[i].n);
        h[i].f = new_slots(t, h[i].n, var);
        memcpy(t->val + h[i].f, t->val + h[i].dst, sizeof(double) * (size_t)h[i].n);
        if (var)
            tape_zero_range(t, h[i].f, h[i].n);
    }
    for (int i = from_op; i < t->nops; i++) {
        TapeOp *op = &t->ops[i];
        if (op->nout > 0 && rehome_range(h, nh, &op->out, op->nout) != 0)
            rc = -1;
        for (int k = 0; k < op->nin; k++)
            if (rehome_range(h, nh, &op->in[k], op->inn[k]) != 0)
                rc = -1;
    }
    free(h);
    return rc;
}
