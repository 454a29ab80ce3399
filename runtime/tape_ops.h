/*
 * tape_ops.h - the forward and backward code of every op that calls no
 * library: elementwise arithmetic, reductions, bijectors, the location-scale
 * density kernels and the fused affine op.
 *
 * Two callers compile it.  The interpreter (tape.c) dispatches on the op
 * code at run time (tape_forward_pure, tape_backward_pure); native code
 * (native_gen.c) is a generated translation unit that includes this same
 * text and calls each op's own body (named in TAPE_PURE_OPS) with the op a
 * compile-time constant, so the C compiler folds the broadcast strides and
 * the varmask tests away and is left with the straight-line arithmetic.
 * Because both run the same source with the same floating-point semantics
 * (no fast-math, no contraction), they give the same bits, and a chain may
 * switch from one to the other mid-run without its draws changing.
 *
 * The dispatchers return 1 when they handled the op, 0 for the ops that live
 * in tape.c (BLAS, Cholesky, the generic density through its function
 * pointer, truncation, multivariate densities, foreign calls, the GLM).
 * Everything here is static and inline: always_inline, so that a constant
 * op reaches the body.
 */
#ifndef CM_TAPE_OPS_H
#define CM_TAPE_OPS_H

#include "tape.h"

#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <string.h>

#define TAPE_INLINE __attribute__((always_inline)) inline

/* The reading macros of an op body: `t` is the tape, `op` the op. */
#define V(s) (t->val[s])
#define IN(k, i) (t->val[op->in[k] + (op->inn[k] == 1 ? 0 : (i))])
#define INSLOT(k, i) (op->in[k] + (op->inn[k] == 1 ? 0 : (i)))
#define ISVAR(k) (op->varmask & (1u << (k)))

static inline double sigmoid(double x)
{
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}
static inline double log1p_exp(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

static inline double unary(int code, double x)
{
    switch (code) {
    case OP_NEG: return -x;
    case OP_EXP: return exp(x);
    case OP_LOG: return log(x);
    case OP_LOG1P: return log1p(x);
    case OP_EXPM1: return expm1(x);
    case OP_SQRT: return sqrt(x);
    case OP_ABS: return fabs(x);
    case OP_SIN: return sin(x);
    case OP_COS: return cos(x);
    case OP_TAN: return tan(x);
    case OP_TANH: return tanh(x);
    case OP_SIGMOID: return sigmoid(x);
    case OP_LOGIT: return log(x / (1 - x));
    case OP_SOFTPLUS: return log1p_exp(x);
    case OP_LGAMMA: return lgamma(x);
    case OP_DIGAMMA: return x > 0 || x != floor(x) ? gsl_sf_psi(x) : NAN;
    case OP_ERF: return erf(x);
    case OP_PHI: return 0.5 * erfc(-x / M_SQRT2);
    case OP_SQUARE: return x * x;
    case OP_INV: return 1 / x;
    case OP_LOG_SIGMOID: return -log1p_exp(-x);
    }
    return NAN;
}

/* d unary(x) / dx, given x and y = unary(x). */
static inline double unary_d(int code, double x, double y)
{
    switch (code) {
    case OP_NEG: return -1;
    case OP_EXP: return y;
    case OP_LOG: return 1 / x;
    case OP_LOG1P: return 1 / (1 + x);
    case OP_EXPM1: return y + 1;
    case OP_SQRT: return 0.5 / y;
    case OP_ABS: return x > 0 ? 1 : (x < 0 ? -1 : 0);
    case OP_SIN: return cos(x);
    case OP_COS: return -sin(x);
    case OP_TAN: return 1 + y * y;
    case OP_TANH: return 1 - y * y;
    case OP_SIGMOID: return y * (1 - y);
    case OP_LOGIT: return 1 / (x * (1 - x));
    case OP_SOFTPLUS: return sigmoid(x);
    case OP_LGAMMA: return x > 0 || x != floor(x) ? gsl_sf_psi(x) : NAN;
    case OP_DIGAMMA: return x > 0 || x != floor(x) ? gsl_sf_psi_1(x) : NAN;
    case OP_ERF: return M_2_SQRTPI * exp(-x * x);
    case OP_PHI: return exp(-0.5 * x * x) / sqrt(2 * M_PI);
    case OP_SQUARE: return 2 * x;
    case OP_INV: return -y * y;
    case OP_LOG_SIGMOID: return sigmoid(-x);
    }
    return NAN;
}

static inline double binary(int code, double a, double b)
{
    switch (code) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_POW: return pow(a, b);
    case OP_LBETA: return lgamma(a) + lgamma(b) - lgamma(a + b);
    case OP_FMIN: return a <= b ? a : b;
    case OP_FMAX: return a >= b ? a : b;
    }
    return NAN;
}

static inline void binary_d(int code, double a, double b, double y, double *da, double *db)
{
    switch (code) {
    case OP_ADD: *da = 1; *db = 1; return;
    case OP_SUB: *da = 1; *db = -1; return;
    case OP_MUL: *da = b; *db = a; return;
    case OP_DIV: *da = 1 / b; *db = -y / b; return;
    case OP_POW:
        *da = b == 0 ? 0 : b * pow(a, b - 1);
        *db = a > 0 ? y * log(a) : 0;
        return;
    case OP_LBETA: {
        double ab = gsl_sf_psi(a + b);
        *da = gsl_sf_psi(a) - ab;
        *db = gsl_sf_psi(b) - ab;
        return;
    }
    case OP_FMIN: *da = a <= b; *db = a > b; return;
    case OP_FMAX: *da = a >= b; *db = a < b; return;
    }
    *da = *db = NAN;
}

/* Elementwise + - *: a broadcast (length-1) input is read with stride 0,
 * so the loops carry no per-element test. */
static TAPE_INLINE void forward_arith(Tape *t, const TapeOp *op)
{
    const double *a = t->val + op->in[0], *b = t->val + op->in[1];
    double *out = t->val + op->out;
    int n = op->nout, sa = op->inn[0] != 1, sb = op->inn[1] != 1;
    if (op->code == OP_ADD)
        for (int i = 0; i < n; i++)
            out[i] = a[i * sa] + b[i * sb];
    else if (op->code == OP_SUB)
        for (int i = 0; i < n; i++)
            out[i] = a[i * sa] - b[i * sb];
    else
        for (int i = 0; i < n; i++)
            out[i] = a[i * sa] * b[i * sb];
}

/* Their adjoints: a broadcast input sums its adjoint first, then adds it. */
static TAPE_INLINE void backward_arith(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    int n = op->nout;
    for (int k = 0; k < 2; k++) {
        if (!ISVAR(k))
            continue;
        double *ad = t->adj + op->in[k];
        const double *other = t->val + op->in[1 - k];
        int so = op->inn[1 - k] != 1;
        if (op->code == OP_MUL) {
            if (op->inn[k] == 1) {
                double s = 0;
                for (int i = 0; i < n; i++)
                    s += ga[i] * other[i * so];
                ad[0] += s;
            } else {
                for (int i = 0; i < n; i++)
                    ad[i] += ga[i] * other[i * so];
            }
        } else {
            double sign = op->code == OP_SUB && k == 1 ? -1 : 1;
            if (op->inn[k] == 1) {
                double s = 0;
                for (int i = 0; i < n; i++)
                    s += ga[i];
                ad[0] += sign * s;
            } else if (sign > 0) {
                for (int i = 0; i < n; i++)
                    ad[i] += ga[i];
            } else {
                for (int i = 0; i < n; i++)
                    ad[i] -= ga[i];
            }
        }
    }
}

/* ---- location-scale kernels (chosen by tape_kernel_pick) --------------- */

#define LOG_SQRT_2PI 0.918938533204672741780329736406 /* log(sqrt(2 pi)) */
#define LOG_PI       1.144729885849400174143427351353 /* log(pi)         */

#define OPVAR(op, k) ((op)->varmask & (1u << (k)))

static inline int is_pos(double v) { return v > 0 && v < INFINITY; }

/* ---- location-scale kernels ------------------------------------------- */

/* Where each argument sits: x is input 0; a location (if any) input 1; the
 * scale is the last input. */
typedef struct {
    int half;      /* HalfNormal / HalfCauchy: no location, x >= 0 */
    int cauchy;    /* Cauchy shape instead of the Normal's       */
    int si;        /* input index of sigma                       */
} Family;

static inline Family family_of(int kern)
{
    Family f = {kern == KERN_HALF_NORMAL || kern == KERN_HALF_CAUCHY,
                kern == KERN_CAUCHY || kern == KERN_HALF_CAUCHY, 0};
    f.si = f.half ? 1 : 2;
    return f;
}

/* The per-element constant of each family's log density. */
static inline double family_const(Family f)
{
    double c = f.cauchy ? -LOG_PI : -LOG_SQRT_2PI;
    return f.half ? c + M_LN2 : c;
}

/* part[0] = sum over the n elements of log sigma, part[1..] = 1/sigma. */
static inline int scale_terms(const Tape *t, const TapeOp *op, Family f, double *part)
{
    const double *s = t->val + op->in[f.si];
    int ns = op->inn[f.si], n = op->iaux[0], bad = 0;
    double logsum = 0;
    for (int i = 0; i < ns; i++) {
        bad |= !is_pos(s[i]);
        part[1 + i] = 1 / s[i];
        logsum += log(s[i]);
    }
    part[0] = ns == 1 ? n * logsum : logsum;
    return bad;
}

/* The sum goes to the op's output slot (a value such as Normal_lpdf(..))
 * or into the target, scaled (subsampling). */
static inline void deliver(Tape *t, const TapeOp *op, double sum)
{
    if (op->nout == 1)
        t->val[op->out] = sum * op->daux;
    else
        t->target += sum * op->daux;
}

/* log(1 + z^2), also once z*z has overflowed (as dist_continuous.c). */
static inline double log1p_sq(double z, double z2)
{
    return z2 < INFINITY ? log1p(z2) : 2 * log(fabs(z));
}

/* A non-finite location makes z infinite or NaN, hence lp non-finite: only
 * then is it worth looking for one (it turns the result into NaN). */
static inline int bad_location(const Tape *t, const TapeOp *op)
{
    for (int i = 0; i < op->inn[1]; i++)
        if (!isfinite(t->val[op->in[1] + i]))
            return 1;
    return 0;
}

static TAPE_INLINE void locscale_forward(Tape *t, const TapeOp *op, Family f)
{
    int n = op->iaux[0];
    double *part = t->part + op->pbuf;
    int bad = OPVAR(op, f.si) ? scale_terms(t, op, f, part) : 0;
    const double *x = t->val + op->in[0], *inv = part + 1;
    const double *mu = f.half ? NULL : t->val + op->in[1];
    int sx = op->inn[0] != 1, ss = op->inn[f.si] != 1, sm = f.half ? 0 : op->inn[1] != 1;
    double *w = part + 1 + op->inn[f.si], *ws = OPVAR(op, f.si) ? w + n : NULL;
    double acc = 0;
    int below = 0;
    for (int i = 0; i < n; i++) {
        double xi = x[i * sx], m = f.half ? 0 : mu[i * sm], iv = inv[i * ss];
        if (f.half)
            below |= xi < 0;
        double z = (xi - m) * iv, z2 = z * z;
        if (f.cauchy) {
            acc += log1p_sq(z, z2);
            w[i] = 2 * z * iv / (1 + z2);
            if (ws)
                ws[i] = (2 * (z2 < INFINITY ? z2 / (1 + z2) : 1) - 1) * iv;
        } else {
            acc += z2;
            w[i] = z * iv;
            if (ws)
                ws[i] = (z2 - 1) * iv;
        }
    }
    double lp = (f.cauchy ? -acc : -0.5 * acc) - part[0] + n * family_const(f);
    if (!isfinite(lp) && !f.half && OPVAR(op, 1) && bad_location(t, op))
        bad = 1;
    if (bad)
        lp = NAN;
    else if (below && !isnan(lp))
        lp = -INFINITY;
    deliver(t, op, lp);
}

/* The forward pass left d lp / d mu (= -d lp / dx) and, for a parameter
 * sigma, d lp / d sigma per element; only the parameters' adjoints move. */
static TAPE_INLINE void locscale_backward(Tape *t, const TapeOp *op, Family f)
{
    int n = op->iaux[0];
    const double *w = t->part + op->pbuf + 1 + op->inn[f.si], *ws = w + n;
    double g = op->nout == 1 ? op->daux * t->adj[op->out] : op->daux;
    if (OPVAR(op, 0)) {
        double *ax = t->adj + op->in[0];
        int sx = op->inn[0] != 1;
        for (int i = 0; i < n; i++)
            ax[i * sx] -= g * w[i];
    }
    if (!f.half && OPVAR(op, 1)) {
        double *am = t->adj + op->in[1];
        int sm = op->inn[1] != 1;
        for (int i = 0; i < n; i++)
            am[i * sm] += g * w[i];
    }
    if (OPVAR(op, f.si)) {
        double *as = t->adj + op->in[f.si];
        int ss = op->inn[f.si] != 1;
        for (int i = 0; i < n; i++)
            as[i * ss] += g * ws[i];
    }
}

static TAPE_INLINE void tape_kernel_forward(Tape *t, const TapeOp *op)
{
    switch (op->kern) {
    case KERN_NORMAL: locscale_forward(t, op, family_of(KERN_NORMAL)); return;
    case KERN_HALF_NORMAL: locscale_forward(t, op, family_of(KERN_HALF_NORMAL)); return;
    case KERN_CAUCHY: locscale_forward(t, op, family_of(KERN_CAUCHY)); return;
    case KERN_HALF_CAUCHY: locscale_forward(t, op, family_of(KERN_HALF_CAUCHY)); return;
    }
}

static TAPE_INLINE void tape_kernel_backward(Tape *t, const TapeOp *op)
{
    switch (op->kern) {
    case KERN_NORMAL: locscale_backward(t, op, family_of(KERN_NORMAL)); return;
    case KERN_HALF_NORMAL: locscale_backward(t, op, family_of(KERN_HALF_NORMAL)); return;
    case KERN_CAUCHY: locscale_backward(t, op, family_of(KERN_CAUCHY)); return;
    case KERN_HALF_CAUCHY: locscale_backward(t, op, family_of(KERN_HALF_CAUCHY)); return;
    }
}

/* The fused affine op (tape_kernels.c): a + b * c. */
static TAPE_INLINE void tape_affine_forward(Tape *t, const TapeOp *op)
{
    const double *a = t->val + op->in[0], *b = t->val + op->in[1], *c = t->val + op->in[2];
    double *p = t->val + op->in[3], *out = t->val + op->out;
    int n = op->nout, sa = op->inn[0] != 1, sb = op->inn[1] != 1, sc = op->inn[2] != 1;
    for (int i = 0; i < n; i++) {
        p[i] = b[i * sb] * c[i * sc];
        out[i] = a[i * sa] + p[i];
    }
}

static TAPE_INLINE void tape_affine_backward(Tape *t, const TapeOp *op)
{
    const double *b = t->val + op->in[1], *c = t->val + op->in[2];
    const double *ga = t->adj + op->out;
    double *gp = t->adj + op->in[3]; /* the product's adjoint: later readers' share */
    int n = op->nout, sb = op->inn[1] != 1, sc = op->inn[2] != 1;
    if (OPVAR(op, 0)) {
        double *aa = t->adj + op->in[0];
        if (op->inn[0] == 1) {
            double s = 0;
            for (int i = 0; i < n; i++)
                s += ga[i];
            aa[0] += s;
        } else {
            for (int i = 0; i < n; i++)
                aa[i] += ga[i];
        }
    }
    for (int i = 0; i < n; i++)
        gp[i] += ga[i];
    if (OPVAR(op, 1)) {
        double *ab = t->adj + op->in[1];
        for (int i = 0; i < n; i++)
            ab[i * sb] += gp[i] * c[i * sc];
    }
    if (OPVAR(op, 2)) {
        double *ac = t->adj + op->in[2];
        for (int i = 0; i < n; i++)
            ac[i * sc] += gp[i] * b[i * sb];
    }
}

/* ---- dispatch ------------------------------------------------------------ */

static TAPE_INLINE void op_fwd_copy(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int n = op->nout;
    for (int i = 0; i < n; i++)
        out[i] = IN(0, i);
}

static TAPE_INLINE void op_fwd_gather(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int n = op->nout;
    const int *idx = t->ipool + op->ipool;
    for (int i = 0; i < n; i++)
        out[i] = V(op->in[0] + idx[i]);
}

static TAPE_INLINE void op_fwd_unary(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int n = op->nout;
    for (int i = 0; i < n; i++)
        out[i] = unary(op->code, IN(0, i));
}

static TAPE_INLINE void op_fwd_binary(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int n = op->nout;
    for (int i = 0; i < n; i++)
        out[i] = binary(op->code, IN(0, i), IN(1, i));
}

static TAPE_INLINE void op_fwd_sum(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    double s = 0;
    for (int i = 0; i < op->inn[0]; i++)
        s += V(op->in[0] + i);
    out[0] = s;
}

static TAPE_INLINE void op_fwd_dot(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    double s = 0;
    int m = op->inn[0] > op->inn[1] ? op->inn[0] : op->inn[1];
    for (int i = 0; i < m; i++)
        s += IN(0, i) * IN(1, i);
    out[0] = s;
}

static TAPE_INLINE void op_fwd_lse(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < op->inn[0]; i++)
        if (V(op->in[0] + i) > mx)
            mx = V(op->in[0] + i);
    if (mx == -INFINITY) {
        out[0] = -INFINITY;
        return;
    }
    for (int i = 0; i < op->inn[0]; i++)
        s += exp(V(op->in[0] + i) - mx);
    out[0] = mx + log(s);
}

static TAPE_INLINE void op_fwd_cumsum(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int n = op->nout;
    double s = 0;
    for (int i = 0; i < n; i++)
        out[i] = s += V(op->in[0] + i);
}

static TAPE_INLINE void op_fwd_softmax(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int n = op->nout;
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < n; i++)
        if (V(op->in[0] + i) > mx)
            mx = V(op->in[0] + i);
    for (int i = 0; i < n; i++)
        s += exp(V(op->in[0] + i) - mx);
    double lse = mx + log(s);
    for (int i = 0; i < n; i++)
        out[i] = op->code == OP_SOFTMAX ? exp(V(op->in[0] + i) - lse)
                                        : V(op->in[0] + i) - lse;
}

static TAPE_INLINE void op_fwd_transpose(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int r = op->iaux[0], c = op->iaux[1];
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++)
            out[j * r + i] = V(op->in[0] + i * c + j);
}

static TAPE_INLINE void op_fwd_acc(Tape *t, const TapeOp *op)
{
    double s = 0;
    for (int i = 0; i < op->inn[0]; i++)
        s += V(op->in[0] + i);
    t->target += s;
}

static TAPE_INLINE void op_fwd_b_lower(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int n = op->nout;
    double *ex = t->part + op->pbuf; /* exp(u), for the backward pass */
    for (int i = 0; i < n; i++) {
        double u = IN(0, i), e = exp(u);
        ex[i] = e;
        out[i] = op->code == OP_B_LOWER ? IN(1, i) + e : IN(1, i) - e;
        t->target += u;
    }
}

static TAPE_INLINE void op_fwd_b_interval(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int n = op->nout;
    for (int i = 0; i < n; i++) {
        double u = IN(0, i), lo = IN(1, i), hi = IN(2, i), s = sigmoid(u);
        out[i] = lo + (hi - lo) * s;
        if (out[i] >= hi) /* keep strictly inside when s rounds to 1 */
            out[i] = nextafter(hi, lo);
        t->target += log(hi - lo) + (u > 0 ? -u - 2 * log1p(exp(-u))
                                           : u - 2 * log1p(exp(u)));
    }
}

static TAPE_INLINE void op_fwd_b_ordered(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int n = op->nout;
    double x = 0;
    for (int i = 0; i < n; i++) {
        double u = V(op->in[0] + i);
        if (i == 0 && op->code == OP_B_ORDERED) {
            x = u;
        } else {
            x += exp(u);
            t->target += u;
        }
        out[i] = x;
    }
}

static TAPE_INLINE void op_fwd_b_simplex(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int k1 = op->inn[0]; /* K - 1 */
    double *part = t->part + op->pbuf, stick = 1;
    for (int k = 0; k < k1; k++) {
        double z = sigmoid(V(op->in[0] + k) - log((double)(k1 - k)));
        part[2 * k] = stick;
        part[2 * k + 1] = z;
        out[k] = stick * z;
        t->target += log(z) + log1p(-z) + log(stick);
        stick -= out[k];
    }
    out[k1] = stick;
}

static TAPE_INLINE void op_bwd_copy(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    int n = op->nout;
    if (ISVAR(0))
        for (int i = 0; i < n; i++)
            t->adj[INSLOT(0, i)] += ga[i];
    /* an assignment overwrites dst: what came before it in dst (an
       earlier pass of an enumerated site) gets none of this adjoint */
    memset(t->adj + op->out, 0, sizeof(double) * (size_t)n);
}

static TAPE_INLINE void op_bwd_gather(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    int n = op->nout;
    const int *idx = t->ipool + op->ipool;
    for (int i = 0; i < n; i++)
        t->adj[op->in[0] + idx[i]] += ga[i];
}

static TAPE_INLINE void op_bwd_unary(Tape *t, const TapeOp *op)
{
    const double *out = t->val + op->out, *ga = t->adj + op->out;
    int n = op->nout;
    for (int i = 0; i < n; i++)
        if (ga[i] != 0)
            t->adj[INSLOT(0, i)] += ga[i] * unary_d(op->code, IN(0, i), out[i]);
}

static TAPE_INLINE void op_bwd_binary(Tape *t, const TapeOp *op)
{
    const double *out = t->val + op->out, *ga = t->adj + op->out;
    int n = op->nout;
    for (int i = 0; i < n; i++) {
        double da, db;
        binary_d(op->code, IN(0, i), IN(1, i), out[i], &da, &db);
        if (ISVAR(0))
            t->adj[INSLOT(0, i)] += ga[i] * da;
        if (ISVAR(1))
            t->adj[INSLOT(1, i)] += ga[i] * db;
    }
}

static TAPE_INLINE void op_bwd_sum(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    for (int i = 0; i < op->inn[0]; i++)
        t->adj[op->in[0] + i] += ga[0];
}

static TAPE_INLINE void op_bwd_dot(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    int m = op->inn[0] > op->inn[1] ? op->inn[0] : op->inn[1];
    for (int i = 0; i < m; i++) {
        if (ISVAR(0))
            t->adj[INSLOT(0, i)] += ga[0] * IN(1, i);
        if (ISVAR(1))
            t->adj[INSLOT(1, i)] += ga[0] * IN(0, i);
    }
}

static TAPE_INLINE void op_bwd_lse(Tape *t, const TapeOp *op)
{
    const double *out = t->val + op->out, *ga = t->adj + op->out;
    for (int i = 0; i < op->inn[0]; i++)
        t->adj[op->in[0] + i] += ga[0] * exp(V(op->in[0] + i) - out[0]);
}

static TAPE_INLINE void op_bwd_cumsum(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    int n = op->nout;
    double s = 0;
    for (int i = n - 1; i >= 0; i--) {
        s += ga[i];
        t->adj[op->in[0] + i] += s;
    }
}

static TAPE_INLINE void op_bwd_softmax(Tape *t, const TapeOp *op)
{
    const double *out = t->val + op->out, *ga = t->adj + op->out;
    int n = op->nout;
    double s = 0;
    for (int i = 0; i < n; i++)
        s += ga[i] * out[i];
    for (int i = 0; i < n; i++)
        t->adj[op->in[0] + i] += out[i] * (ga[i] - s);
}

static TAPE_INLINE void op_bwd_log_softmax(Tape *t, const TapeOp *op)
{
    const double *out = t->val + op->out, *ga = t->adj + op->out;
    int n = op->nout;
    double s = 0;
    for (int i = 0; i < n; i++)
        s += ga[i];
    for (int i = 0; i < n; i++)
        t->adj[op->in[0] + i] += ga[i] - exp(out[i]) * s;
}

static TAPE_INLINE void op_bwd_transpose(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    int r = op->iaux[0], c = op->iaux[1];
    for (int i = 0; i < r; i++)
        for (int j = 0; j < c; j++)
            t->adj[op->in[0] + i * c + j] += ga[j * r + i];
}

static TAPE_INLINE void op_bwd_acc(Tape *t, const TapeOp *op)
{
    for (int i = 0; i < op->inn[0]; i++)
        t->adj[op->in[0] + i] += 1;
}

static TAPE_INLINE void op_bwd_b_lower(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    int n = op->nout;
    for (int i = 0; i < n; i++) {
        double e = t->part[op->pbuf + i];
        t->adj[INSLOT(0, i)] += (op->code == OP_B_LOWER ? ga[i] : -ga[i]) * e + 1;
        if (ISVAR(1))
            t->adj[INSLOT(1, i)] += ga[i];
    }
}

static TAPE_INLINE void op_bwd_b_interval(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    int n = op->nout;
    for (int i = 0; i < n; i++) {
        double u = IN(0, i), lo = IN(1, i), hi = IN(2, i), s = sigmoid(u);
        double w = hi - lo;
        t->adj[INSLOT(0, i)] += ga[i] * w * s * (1 - s) + (1 - 2 * s);
        if (ISVAR(1))
            t->adj[INSLOT(1, i)] += ga[i] * (1 - s) - 1 / w;
        if (ISVAR(2))
            t->adj[INSLOT(2, i)] += ga[i] * s + 1 / w;
    }
}

static TAPE_INLINE void op_bwd_b_ordered(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    int n = op->nout;
    double g = 0;
    for (int i = n - 1; i >= 0; i--) {
        g += ga[i];
        double u = V(op->in[0] + i);
        if (i == 0 && op->code == OP_B_ORDERED)
            t->adj[op->in[0]] += g;
        else
            t->adj[op->in[0] + i] += g * exp(u) + 1;
    }
}

static TAPE_INLINE void op_bwd_b_simplex(Tape *t, const TapeOp *op)
{
    const double *ga = t->adj + op->out;
    int k1 = op->inn[0];
    const double *part = t->part + op->pbuf;
    double a_stick = ga[k1]; /* adjoint of the stick left after step k */
    for (int k = k1 - 1; k >= 0; k--) {
        double stick = part[2 * k], z = part[2 * k + 1];
        double a_z = -a_stick * stick + ga[k] * stick + 1 / z - 1 / (1 - z);
        double a_prev = a_stick * (1 - z) + ga[k] * z + 1 / stick;
        t->adj[op->in[0] + k] += a_z * z * (1 - z);
        a_stick = a_prev;
    }
}

/* Every pure op code with its forward and backward body: the two
 * dispatch switches below are made from this list, and so is the table
 * native_gen.c names the bodies by. */
#define TAPE_PURE_OPS(X) \
    X(OP_COPY, op_fwd_copy, op_bwd_copy) \
    X(OP_GATHER, op_fwd_gather, op_bwd_gather) \
    X(OP_NEG, op_fwd_unary, op_bwd_unary) \
    X(OP_EXP, op_fwd_unary, op_bwd_unary) \
    X(OP_LOG, op_fwd_unary, op_bwd_unary) \
    X(OP_LOG1P, op_fwd_unary, op_bwd_unary) \
    X(OP_EXPM1, op_fwd_unary, op_bwd_unary) \
    X(OP_SQRT, op_fwd_unary, op_bwd_unary) \
    X(OP_ABS, op_fwd_unary, op_bwd_unary) \
    X(OP_SIN, op_fwd_unary, op_bwd_unary) \
    X(OP_COS, op_fwd_unary, op_bwd_unary) \
    X(OP_TAN, op_fwd_unary, op_bwd_unary) \
    X(OP_TANH, op_fwd_unary, op_bwd_unary) \
    X(OP_SIGMOID, op_fwd_unary, op_bwd_unary) \
    X(OP_LOGIT, op_fwd_unary, op_bwd_unary) \
    X(OP_SOFTPLUS, op_fwd_unary, op_bwd_unary) \
    X(OP_LGAMMA, op_fwd_unary, op_bwd_unary) \
    X(OP_DIGAMMA, op_fwd_unary, op_bwd_unary) \
    X(OP_ERF, op_fwd_unary, op_bwd_unary) \
    X(OP_PHI, op_fwd_unary, op_bwd_unary) \
    X(OP_SQUARE, op_fwd_unary, op_bwd_unary) \
    X(OP_INV, op_fwd_unary, op_bwd_unary) \
    X(OP_LOG_SIGMOID, op_fwd_unary, op_bwd_unary) \
    X(OP_ADD, forward_arith, backward_arith) \
    X(OP_SUB, forward_arith, backward_arith) \
    X(OP_MUL, forward_arith, backward_arith) \
    X(OP_DIV, op_fwd_binary, op_bwd_binary) \
    X(OP_POW, op_fwd_binary, op_bwd_binary) \
    X(OP_LBETA, op_fwd_binary, op_bwd_binary) \
    X(OP_FMIN, op_fwd_binary, op_bwd_binary) \
    X(OP_FMAX, op_fwd_binary, op_bwd_binary) \
    X(OP_SUM, op_fwd_sum, op_bwd_sum) \
    X(OP_DOT, op_fwd_dot, op_bwd_dot) \
    X(OP_LSE, op_fwd_lse, op_bwd_lse) \
    X(OP_CUMSUM, op_fwd_cumsum, op_bwd_cumsum) \
    X(OP_SOFTMAX, op_fwd_softmax, op_bwd_softmax) \
    X(OP_LOG_SOFTMAX, op_fwd_softmax, op_bwd_log_softmax) \
    X(OP_TRANSPOSE, op_fwd_transpose, op_bwd_transpose) \
    X(OP_ACC, op_fwd_acc, op_bwd_acc) \
    X(OP_AFFINE, tape_affine_forward, tape_affine_backward) \
    X(OP_B_LOWER, op_fwd_b_lower, op_bwd_b_lower) \
    X(OP_B_UPPER, op_fwd_b_lower, op_bwd_b_lower) \
    X(OP_B_INTERVAL, op_fwd_b_interval, op_bwd_b_interval) \
    X(OP_B_ORDERED, op_fwd_b_ordered, op_bwd_b_ordered) \
    X(OP_B_POS_ORDERED, op_fwd_b_ordered, op_bwd_b_ordered) \
    X(OP_B_SIMPLEX, op_fwd_b_simplex, op_bwd_b_simplex)

#define TAPE_CASE_FWD(code, f, b) case code: f(t, op); return 1;
#define TAPE_CASE_BWD(code, f, b) case code: b(t, op); return 1;

static TAPE_INLINE int tape_forward_pure(Tape *t, const TapeOp *op)
{
    switch (op->code) {
    TAPE_PURE_OPS(TAPE_CASE_FWD)
    case OP_LPDF:
        if (!op->kern)
            return 0;
        tape_kernel_forward(t, op);
        return 1;
    default:
        return 0;
    }
}

static TAPE_INLINE int tape_backward_pure(Tape *t, const TapeOp *op)
{
    switch (op->code) {
    TAPE_PURE_OPS(TAPE_CASE_BWD)
    case OP_LPDF:
        if (!op->kern)
            return 0;
        tape_kernel_backward(t, op);
        return 1;
    default:
        return 0;
    }
}

/* Only parameter-dependent slots carry adjoints (an op writes an input's
 * adjoint only when that input is variable), so only they are zeroed: the
 * inputs and the ops' outputs, not the data (125,000 slots for the
 * logistic-regression bench).  Recording merges those ranges as it goes
 * (t->zero), so a small model zeroes one or two runs of slots rather than
 * one per op. */
static inline void tape_zero_adjoints(Tape *t)
{
    if (t->zhi - t->zlo <= 2 * t->zcount + 64) /* one sweep, data slots and all */
        memset(t->adj + t->zlo, 0, sizeof(double) * (size_t)(t->zhi - t->zlo));
    else
        for (long i = 0; i < t->nzero; i += 2)
            memset(t->adj + t->zero[i], 0, sizeof(double) * (size_t)t->zero[i + 1]);
}

/* Does tape_forward_pure (and tape_backward_pure) handle op?  The complement
 * of the cases eval_op and backward_op keep in tape.c. */
static inline int tape_op_is_pure(const TapeOp *op)
{
    switch (op->code) {
    case OP_MATVEC: case OP_MATMUL: case OP_CHOLESKY: case OP_GLM: case OP_TRUNC:
    case OP_LPDF_MV: case OP_FFI: case OP_B_CHOL_CORR: case OP__COUNT:
        return 0;
    case OP_LPDF:
        return op->kern != 0;
    default:
        return 1;
    }
}

/* What native code (native.c) calls for an op that is not pure: the
 * interpreter's own code for it (tape_eval_op, tape_backward_op). */
typedef struct {
    void (*forward)(Tape *t, TapeOp *op);
    void (*backward)(Tape *t, const TapeOp *op);
} NativeHooks;

#endif
