/*
 * tape_kernels.c - specialised density kernels and the fused GLM op.
 *
 * The generic OP_LPDF (tape.c) is written once for every univariate
 * distribution: per element it gathers the parameters, calls the row's lpdf
 * through a function pointer, and stores 1 + nparams partials that the
 * backward pass reads back.  That is right for every family, but on a small
 * model it is most of the cost: eight schools spends more instructions
 * there than a hand-written gradient spends on the whole model, and a
 * vectorised Normal with a scalar sigma takes one log per element where
 * one per statement would do.
 *
 * Two peepholes, both decided when an OP_LPDF is recorded, so the replay
 * pays nothing to choose:
 *
 *  - Kernels for the location-scale families the benchmarks use (Normal,
 *    HalfNormal, Cauchy, HalfCauchy).  A kernel hoists the parameter-only
 *    terms: with a constant sigma (data or literal) the sum of log sigma and
 *    the reciprocals 1/sigma are computed once, at trace time, into the op's
 *    part buffer; with a parameter sigma that is a scalar, once per
 *    evaluation.  The loop has no per-element call and no broadcast test
 *    (a length-1 input is read with stride 0).  It saves one partial per
 *    element (d lp / d mu, which is -d lp / dx), two when sigma is a
 *    parameter, instead of the generic 1 + nparams, and the backward pass
 *    is then one multiply-add per element and parameter argument.
 *
 *  - The fused GLM likelihood: BernoulliLogit or PoissonLog of
 *    `alpha + X * beta` (or `X * beta`) with X data.  When the density is
 *    recorded right after the MATVEC (and ADD) that produced its argument,
 *    those ops and the density become one OP_GLM: one dgemv for X beta, one
 *    tight loop for the log density and d lp / d eta (the log1p(exp(-|eta|))
 *    form, no function pointer), and one transposed dgemv for the gradient.
 *    On x86-64 with AVX2 and glibc >= 2.35 the BernoulliLogit loop runs
 *    four rows at a time with libmvec's exp and log1p, which halves the
 *    gradient's cost on the logistic-regression bench (the transcendental
 *    calls were two thirds of it); elsewhere it is the scalar loop.
 *    The op still writes X beta and eta into their slots and takes their
 *    adjoints into account, so a later statement that reads them (eta used
 *    twice) stays correct; the fusion only removes work, never a value.
 *
 * Both are exact rewrites: the same formulas as the rows in
 * stdlib/dist_*.c, in the same validity order (an invalid parameter gives
 * NaN before a value outside the support gives -inf), differing only in
 * the order of floating-point sums (relative differences ~1e-15;
 * tests/unit/test_fused.c compares them with the generic path).
 *
 * The cost of the design is that a constant sigma is read once, at trace
 * time: that is sound because a replayed tape never changes its constant
 * slots (a model that re-traces, like one under enumeration, records its
 * ops afresh).
 */
#include "tape_ops.h"

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_sf_gamma.h>
#include <math.h>
#include <string.h>

/* glibc's vector math library (libmvec, reached through -lm's linker
 * script) has 4-wide AVX2 exp and log1p since 2.35; the GLM loop uses them
 * when the CPU has AVX2, as Stan's GLM gets vectorised exp from Eigen. */
#if defined(__x86_64__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define CM_HAVE_MVEC 1
#include <immintrin.h>
/* declared for AVX2 callers only: clang refuses an AVX vector argument in
   a function compiled without AVX (the ABI would differ) */
__attribute__((target("avx2"))) __m256d _ZGVdN4v_exp(__m256d x);
__attribute__((target("avx2"))) __m256d _ZGVdN4v_log1p(__m256d x);
#endif


int tape_kernel_pick(const Tape *t, const TapeOp *op, long *npart)
{
    const DistInfo *d = op->paux;
    int kern = d == &dist_row_normal        ? KERN_NORMAL
               : d == &dist_row_half_normal ? KERN_HALF_NORMAL
               : d == &dist_row_cauchy      ? KERN_CAUCHY
               : d == &dist_row_half_cauchy ? KERN_HALF_CAUCHY
                                            : KERN_GENERIC;
    if (kern == KERN_GENERIC || op->nin != 1 + d->nparams)
        return KERN_GENERIC;
    Family f = family_of(kern);
    int ns = op->inn[f.si];
    if (!OPVAR(op, f.si)) /* a constant sigma must be valid, or the generic path says NaN */
        for (int i = 0; i < ns; i++)
            if (!is_pos(t->val[op->in[f.si] + i]))
                return KERN_GENERIC;
    if (!f.half && !OPVAR(op, 1)) /* likewise a constant location */
        for (int i = 0; i < op->inn[1]; i++)
            if (!isfinite(t->val[op->in[1] + i]))
                return KERN_GENERIC;
    /* sum of log sigma over the elements, 1/sigma, then per element d lp /
       d mu (and d lp / d sigma when sigma is a parameter) for the backward */
    *npart = 1 + (long)ns + (long)op->iaux[0] * (OPVAR(op, f.si) ? 2 : 1);
    return kern;
}

void tape_kernel_prepare(Tape *t, const TapeOp *op)
{
    if (op->code == OP_GLM) {
        const double *y = t->val + op->in[0];
        double c = 0;
        if (op->paux == &dist_row_poisson_log)
            for (int i = 0; i < op->iaux[0]; i++)
                c += gsl_sf_lngamma(y[i] + 1);
        t->part[op->pbuf + 2L * op->iaux[0]] = c;
        return;
    }
    Family f = family_of(op->kern);
    if (!OPVAR(op, f.si))
        scale_terms(t, op, f, t->part + op->pbuf);
}

/* ---- the fused GLM likelihood ------------------------------------------ */

static int glm_family_ok(const DistInfo *d, const double *y, int n)
{
    for (int i = 0; i < n; i++) {
        if (d == &dist_row_bernoulli_logit && y[i] != 0 && y[i] != 1)
            return 0;
        if (d == &dist_row_poisson_log && !(y[i] >= 0 && y[i] < INFINITY && y[i] == floor(y[i])))
            return 0;
    }
    return 1;
}

/* The fusions replace ops recorded just before: not while a local target
 * is open (enumerate.c), whose passes re-home the ops recorded since they
 * began and must find them where they were put. */
static int fusion_allowed(const Tape *t)
{
    return t->nops > 0 && !tape_local_open(t);
}

int tape_fuse_glm(Tape *t, const TapeOp *lpdf)
{
    const DistInfo *d = lpdf->paux;
    int n = lpdf->iaux[0], eta = lpdf->in[1];
    if (!fusion_allowed(t) ||
        (d != &dist_row_bernoulli_logit && d != &dist_row_poisson_log) || lpdf->nin != 2 ||
        lpdf->varmask != 2 || lpdf->inn[0] != n || lpdf->inn[1] != n || t->nops < 1)
        return 0;
    const TapeOp *last = &t->ops[t->nops - 1], *mv = last, *add = NULL;
    if (last->out != eta || last->nout != n)
        return 0;
    if (last->code == OP_ADD && t->nops >= 2) {
        add = last;
        mv = &t->ops[t->nops - 2];
    }
    if (mv->code != OP_MATVEC || mv->varmask != 2 || mv->nout != n || mv->iaux[0] != n)
        return 0;
    int alpha = -1, alpha_var = 0;
    if (add) { /* alpha + X beta or X beta + alpha, alpha a scalar */
        int k = add->in[0] == mv->out && add->inn[0] == n ? 0
                : add->in[1] == mv->out && add->inn[1] == n ? 1 : -1;
        if (k < 0 || add->inn[1 - k] != 1)
            return 0;
        alpha = add->in[1 - k];
        alpha_var = OPVAR(add, 1 - k) != 0;
    }
    if (!glm_family_ok(d, t->val + lpdf->in[0], n))
        return 0; /* the generic path reports the value outside the support */

    TapeOp g;
    memset(&g, 0, sizeof g);
    g.code = OP_GLM;
    g.nin = 6;
    g.in[0] = lpdf->in[0];
    g.inn[0] = n;
    g.in[1] = mv->in[0];
    g.inn[1] = mv->inn[0];
    g.in[2] = mv->in[1];
    g.inn[2] = mv->inn[1];
    g.in[3] = alpha >= 0 ? alpha : 0;
    g.inn[3] = alpha >= 0 ? 1 : 0;
    g.in[4] = eta;
    g.inn[4] = n;
    g.in[5] = mv->out;
    g.inn[5] = n;
    g.varmask = (uint8_t)(1u << 2 | (alpha_var ? 1u << 3 : 0));
    g.iaux[0] = n;
    g.iaux[1] = mv->iaux[1];
    g.paux = d;
    g.daux = lpdf->daux;
    g.out = lpdf->out;
    g.nout = lpdf->nout;
    t->nops -= add ? 2 : 1; /* their slots stay; OP_GLM writes them */
    /* part: d lp / d eta (n), the backward's row weights (n), the constant */
    tape_push_op(t, &g, 2L * n + 1);
    return 1;
}

#ifdef CM_HAVE_MVEC
/* The BernoulliLogit rows four at a time: the same formulas as the scalar
 * loop below, with libmvec's exp and log1p (within a few ulps of the scalar
 * ones) and four partial sums.  Returns the first row it did not do. */
__attribute__((target("avx2"))) static int bernoulli_rows_avx2(
    int n, const double *xb, double alpha, const double *y, double *eta, double *dd,
    double *lp_out, double *nonfinite_out)
{
    __m256d va = _mm256_set1_pd(alpha), one = _mm256_set1_pd(1), zero = _mm256_setzero_pd();
    __m256d sign = _mm256_set1_pd(-0.0), acc = zero, nf = zero;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d a = _mm256_add_pd(_mm256_loadu_pd(xb + i), va);
        _mm256_storeu_pd(eta + i, a);
        nf = _mm256_add_pd(nf, _mm256_mul_pd(a, zero));
        __m256d e = _ZGVdN4v_exp(_mm256_or_pd(a, sign)); /* exp(-|a|) */
        __m256d l = _ZGVdN4v_log1p(e);
        __m256d r = _mm256_div_pd(one, _mm256_add_pd(one, e));
        __m256d yv = _mm256_loadu_pd(y + i);
        __m256d s = _mm256_mul_pd(a, _mm256_sub_pd(one, _mm256_add_pd(yv, yv)));
        acc = _mm256_add_pd(acc, _mm256_add_pd(_mm256_max_pd(s, zero), l));
        __m256d nonneg = _mm256_cmp_pd(a, zero, _CMP_GE_OQ);
        __m256d sig = _mm256_blendv_pd(_mm256_mul_pd(e, r), r, nonneg);
        _mm256_storeu_pd(dd + i, _mm256_sub_pd(yv, sig));
    }
    double a4[4], n4[4];
    _mm256_storeu_pd(a4, acc);
    _mm256_storeu_pd(n4, nf);
    *lp_out = -((a4[0] + a4[1]) + (a4[2] + a4[3]));
    *nonfinite_out = (n4[0] + n4[1]) + (n4[2] + n4[3]);
    return i;
}
#endif

void tape_glm_forward(Tape *t, const TapeOp *op)
{
    int n = op->iaux[0], D = op->iaux[1];
    const double *y = t->val + op->in[0];
    double *xb = t->val + op->in[5], *eta = t->val + op->in[4];
    double *dd = t->part + op->pbuf;
    cblas_dgemv(CblasRowMajor, CblasNoTrans, n, D, 1.0, t->val + op->in[1], D,
                t->val + op->in[2], 1, 0.0, xb, 1);
    double alpha = op->inn[3] ? t->val[op->in[3]] : 0, lp = 0;
    double nonfinite = 0; /* stays 0 unless some eta is inf or NaN (inf * 0 = NaN) */
    if (op->paux == &dist_row_bernoulli_logit) {
        int i = 0;
#ifdef CM_HAVE_MVEC
        if (__builtin_cpu_supports("avx2"))
            i = bernoulli_rows_avx2(n, xb, alpha, y, eta, dd, &lp, &nonfinite);
#endif
        for (; i < n; i++) {
            double a = xb[i] + alpha, e = exp(-fabs(a)), l = log1p(e), r = 1 / (1 + e);
            eta[i] = a;
            nonfinite += a * 0;
            /* log sigmoid(a) = -(max(-a, 0) + l), log(1 - sigmoid(a)) =
               -(max(a, 0) + l): s = -a for y = 1, a for y = 0 (exactly) */
            double s = a * (1 - 2 * y[i]);
            lp -= (s > 0 ? s : 0) + l;
            dd[i] = y[i] - (a >= 0 ? r : e * r);
        }
    } else { /* PoissonLog */
        for (int i = 0; i < n; i++) {
            double a = xb[i] + alpha, lambda = exp(a);
            eta[i] = a;
            nonfinite += a * 0;
            lp += (y[i] == 0 ? 0 : y[i] * a) - lambda;
            dd[i] = y[i] - lambda;
        }
        lp -= dd[2L * n];
    }
    deliver(t, op, nonfinite == 0 ? lp : NAN);
}

void tape_glm_backward(Tape *t, const TapeOp *op)
{
    int n = op->iaux[0], D = op->iaux[1];
    const double *dd = t->part + op->pbuf, *aeta = t->adj + op->in[4];
    const double *axb = t->adj + op->in[5];
    double *r = t->part + op->pbuf + n;
    double g = op->nout == 1 ? op->daux * t->adj[op->out] : op->daux, sa = 0;
    /* d target / d eta: this density's term plus what later readers of eta
       left in its adjoint; X beta's own readers add to beta's weights only */
    for (int i = 0; i < n; i++) {
        r[i] = g * dd[i] + aeta[i];
        sa += r[i];
    }
    if (op->in[5] != op->in[4])
        for (int i = 0; i < n; i++)
            r[i] += axb[i];
    if (OPVAR(op, 3))
        t->adj[op->in[3]] += sa;
    cblas_dgemv(CblasRowMajor, CblasTrans, n, D, 1.0, t->val + op->in[1], D, r, 1, 1.0,
                t->adj + op->in[2], 1);
}

/* ---- the fused affine op: a + b * c ------------------------------------ */

int tape_fuse_affine(Tape *t, const TapeOp *add)
{
    if (!fusion_allowed(t))
        return 0;
    const TapeOp *mul = &t->ops[t->nops - 1];
    int n = add->nout;
    if (mul->code != OP_MUL || mul->nout != n)
        return 0;
    int k = add->in[0] == mul->out && add->inn[0] == n ? 0
            : add->in[1] == mul->out && add->inn[1] == n ? 1 : -1;
    if (k < 0 || add->in[1 - k] == mul->out)
        return 0;
    TapeOp f;
    memset(&f, 0, sizeof f);
    f.code = OP_AFFINE;
    f.nin = 4;
    f.in[0] = add->in[1 - k];
    f.inn[0] = add->inn[1 - k];
    f.in[1] = mul->in[0];
    f.inn[1] = mul->inn[0];
    f.in[2] = mul->in[1];
    f.inn[2] = mul->inn[1];
    f.in[3] = mul->out;
    f.inn[3] = n;
    f.varmask = (uint8_t)((OPVAR(add, 1 - k) ? 1u : 0) | (mul->varmask & 3u) << 1);
    f.out = add->out;
    f.nout = n;
    t->nops--; /* the product's slots stay; OP_AFFINE writes them */
    tape_push_op(t, &f, 0);
    return 1;
}

