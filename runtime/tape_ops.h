/*
 * tape_ops.h - the forward and backward code of every op that calls no
 * library: elementwise arithmetic, reductions, bijectors, the location-scale
 * density kernels and the fused affine op.
 *
 * Two callers compile it.  The interpreter (tape.c) dispatches on the op
 * code at run time; native code (native.c) is a generated translation unit
 * that includes this same text and calls tape_forward_pure and
 * tape_backward_pure once per recorded op with the op a compile-time
 * constant, so the C compiler folds the dispatch, the broadcast strides and
 * the varmask tests away and is left with the straight-line arithmetic.
 * Because both run the same source through the same compiler with the same
 * floating-point flags (no fast-math, no contraction), they give the same
 * bits, and a chain may switch from one to the other mid-run without its
 * draws changing.
 *
 * The functions return 1 when they handled the op, 0 for the ops that live
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

static TAPE_INLINE int tape_forward_pure(Tape *t, const TapeOp *op)
{
    double *out = t->val + op->out;
    int n = op->nout;
    switch (op->code) {
    case OP_COPY:
        for (int i = 0; i < n; i++)
            out[i] = IN(0, i);
        return 1;
    case OP_GATHER: {
        const int *idx = t->ipool + op->ipool;
        for (int i = 0; i < n; i++)
            out[i] = V(op->in[0] + idx[i]);
        return 1;
    }
    case OP_NEG: case OP_EXP: case OP_LOG: case OP_LOG1P: case OP_EXPM1:
    case OP_SQRT: case OP_ABS: case OP_SIN: case OP_COS: case OP_TAN:
    case OP_TANH: case OP_SIGMOID: case OP_LOGIT: case OP_SOFTPLUS:
    case OP_LGAMMA: case OP_DIGAMMA: case OP_ERF: case OP_PHI:
    case OP_SQUARE: case OP_INV: case OP_LOG_SIGMOID:
        for (int i = 0; i < n; i++)
            out[i] = unary(op->code, IN(0, i));
        return 1;
    case OP_ADD: case OP_SUB: case OP_MUL:
        forward_arith(t, op);
        return 1;
    case OP_DIV: case OP_POW: case OP_LBETA: case OP_FMIN: case OP_FMAX:
        for (int i = 0; i < n; i++)
            out[i] = binary(op->code, IN(0, i), IN(1, i));
        return 1;
    case OP_SUM: {
        double s = 0;
        for (int i = 0; i < op->inn[0]; i++)
            s += V(op->in[0] + i);
        out[0] = s;
        return 1;
    }
    case OP_DOT: {
        double s = 0;
        int m = op->inn[0] > op->inn[1] ? op->inn[0] : op->inn[1];
        for (int i = 0; i < m; i++)
            s += IN(0, i) * IN(1, i);
        out[0] = s;
        return 1;
    }
    case OP_LSE: {
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < op->inn[0]; i++)
            if (V(op->in[0] + i) > mx)
                mx = V(op->in[0] + i);
        if (mx == -INFINITY) {
            out[0] = -INFINITY;
            return 1;
        }
        for (int i = 0; i < op->inn[0]; i++)
            s += exp(V(op->in[0] + i) - mx);
        out[0] = mx + log(s);
        return 1;
    }
    case OP_CUMSUM: {
        double s = 0;
        for (int i = 0; i < n; i++)
            out[i] = s += V(op->in[0] + i);
        return 1;
    }
    case OP_SOFTMAX: case OP_LOG_SOFTMAX: {
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
        return 1;
    }
    case OP_TRANSPOSE: {
        int r = op->iaux[0], c = op->iaux[1];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                out[j * r + i] = V(op->in[0] + i * c + j);
        return 1;
    }
    case OP_ACC: {
        double s = 0;
        for (int i = 0; i < op->inn[0]; i++)
            s += V(op->in[0] + i);
        t->target += s;
        return 1;
    }
    case OP_AFFINE:
        tape_affine_forward(t, op);
        return 1;
    case OP_B_LOWER: case OP_B_UPPER: {
        double *ex = t->part + op->pbuf; /* exp(u), for the backward pass */
        for (int i = 0; i < n; i++) {
            double u = IN(0, i), e = exp(u);
            ex[i] = e;
            out[i] = op->code == OP_B_LOWER ? IN(1, i) + e : IN(1, i) - e;
            t->target += u;
        }
        return 1;
    }
    case OP_B_INTERVAL:
        for (int i = 0; i < n; i++) {
            double u = IN(0, i), lo = IN(1, i), hi = IN(2, i), s = sigmoid(u);
            out[i] = lo + (hi - lo) * s;
            if (out[i] >= hi) /* keep strictly inside when s rounds to 1 */
                out[i] = nextafter(hi, lo);
            t->target += log(hi - lo) + (u > 0 ? -u - 2 * log1p(exp(-u))
                                               : u - 2 * log1p(exp(u)));
        }
        return 1;
    case OP_B_ORDERED: case OP_B_POS_ORDERED: {
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
        return 1;
    }
    case OP_B_SIMPLEX: {
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
        return 1;
    }
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
    const double *out = t->val + op->out, *ga = t->adj + op->out;
    int n = op->nout;
    switch (op->code) {
    case OP_COPY:
        if (ISVAR(0))
            for (int i = 0; i < n; i++)
                t->adj[INSLOT(0, i)] += ga[i];
        /* an assignment overwrites dst: what came before it in dst (an
           earlier pass of an enumerated site) gets none of this adjoint */
        memset(t->adj + op->out, 0, sizeof(double) * (size_t)n);
        return 1;
    case OP_GATHER: {
        const int *idx = t->ipool + op->ipool;
        for (int i = 0; i < n; i++)
            t->adj[op->in[0] + idx[i]] += ga[i];
        return 1;
    }
    case OP_NEG: case OP_EXP: case OP_LOG: case OP_LOG1P: case OP_EXPM1:
    case OP_SQRT: case OP_ABS: case OP_SIN: case OP_COS: case OP_TAN:
    case OP_TANH: case OP_SIGMOID: case OP_LOGIT: case OP_SOFTPLUS:
    case OP_LGAMMA: case OP_DIGAMMA: case OP_ERF: case OP_PHI:
    case OP_SQUARE: case OP_INV: case OP_LOG_SIGMOID:
        for (int i = 0; i < n; i++)
            if (ga[i] != 0)
                t->adj[INSLOT(0, i)] += ga[i] * unary_d(op->code, IN(0, i), out[i]);
        return 1;
    case OP_ADD: case OP_SUB: case OP_MUL:
        backward_arith(t, op);
        return 1;
    case OP_DIV: case OP_POW: case OP_LBETA: case OP_FMIN: case OP_FMAX:
        for (int i = 0; i < n; i++) {
            double da, db;
            binary_d(op->code, IN(0, i), IN(1, i), out[i], &da, &db);
            if (ISVAR(0))
                t->adj[INSLOT(0, i)] += ga[i] * da;
            if (ISVAR(1))
                t->adj[INSLOT(1, i)] += ga[i] * db;
        }
        return 1;
    case OP_SUM:
        for (int i = 0; i < op->inn[0]; i++)
            t->adj[op->in[0] + i] += ga[0];
        return 1;
    case OP_DOT: {
        int m = op->inn[0] > op->inn[1] ? op->inn[0] : op->inn[1];
        for (int i = 0; i < m; i++) {
            if (ISVAR(0))
                t->adj[INSLOT(0, i)] += ga[0] * IN(1, i);
            if (ISVAR(1))
                t->adj[INSLOT(1, i)] += ga[0] * IN(0, i);
        }
        return 1;
    }
    case OP_LSE:
        for (int i = 0; i < op->inn[0]; i++)
            t->adj[op->in[0] + i] += ga[0] * exp(V(op->in[0] + i) - out[0]);
        return 1;
    case OP_CUMSUM: {
        double s = 0;
        for (int i = n - 1; i >= 0; i--) {
            s += ga[i];
            t->adj[op->in[0] + i] += s;
        }
        return 1;
    }
    case OP_SOFTMAX: {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += ga[i] * out[i];
        for (int i = 0; i < n; i++)
            t->adj[op->in[0] + i] += out[i] * (ga[i] - s);
        return 1;
    }
    case OP_LOG_SOFTMAX: {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += ga[i];
        for (int i = 0; i < n; i++)
            t->adj[op->in[0] + i] += ga[i] - exp(out[i]) * s;
        return 1;
    }
    case OP_TRANSPOSE: {
        int r = op->iaux[0], c = op->iaux[1];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                t->adj[op->in[0] + i * c + j] += ga[j * r + i];
        return 1;
    }
    case OP_ACC:
        for (int i = 0; i < op->inn[0]; i++)
            t->adj[op->in[0] + i] += 1;
        return 1;
    case OP_AFFINE:
        tape_affine_backward(t, op);
        return 1;
    case OP_B_LOWER: case OP_B_UPPER:
        for (int i = 0; i < n; i++) {
            double e = t->part[op->pbuf + i];
            t->adj[INSLOT(0, i)] += (op->code == OP_B_LOWER ? ga[i] : -ga[i]) * e + 1;
            if (ISVAR(1))
                t->adj[INSLOT(1, i)] += ga[i];
        }
        return 1;
    case OP_B_INTERVAL:
        for (int i = 0; i < n; i++) {
            double u = IN(0, i), lo = IN(1, i), hi = IN(2, i), s = sigmoid(u);
            double w = hi - lo;
            t->adj[INSLOT(0, i)] += ga[i] * w * s * (1 - s) + (1 - 2 * s);
            if (ISVAR(1))
                t->adj[INSLOT(1, i)] += ga[i] * (1 - s) - 1 / w;
            if (ISVAR(2))
                t->adj[INSLOT(2, i)] += ga[i] * s + 1 / w;
        }
        return 1;
    case OP_B_ORDERED: case OP_B_POS_ORDERED: {
        double g = 0;
        for (int i = n - 1; i >= 0; i--) {
            g += ga[i];
            double u = V(op->in[0] + i);
            if (i == 0 && op->code == OP_B_ORDERED)
                t->adj[op->in[0]] += g;
            else
                t->adj[op->in[0] + i] += g * exp(u) + 1;
        }
        return 1;
    }
    case OP_B_SIMPLEX: {
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
        return 1;
    }
    case OP_LPDF:
        if (!op->kern)
            return 0;
        tape_kernel_backward(t, op);
        return 1;
    default:
        return 0;
    }
}

#endif
