/*
 * test_fused.c - the tape's specialised kernels and fused ops against the
 * generic path they replace (runtime/tape_kernels.c).
 *
 *  - Location-scale kernels (Normal, HalfNormal, Cauchy, HalfCauchy): for
 *    every broadcasting pattern and every choice of which arguments are
 *    parameters, the target and the gradient must equal the sum of the
 *    row's own lpdf and partials (stdlib/dist_*.c), element by element, to
 *    1e-12 relative; invalid parameters must give NaN and values outside
 *    the support -inf, as the generic path does.
 *  - The fused GLM (BernoulliLogit, PoissonLog of alpha + X beta): the same
 *    tape recorded with an unrelated op between the product and the density
 *    is not fused, and must agree with the fused one to 1e-12 relative, in
 *    value and gradient, also when eta is read again later, for the value
 *    form (one output slot) and with a subsampling scale.
 *  - The fused affine op (a + b * c) likewise, with a later reader of the
 *    product.
 *  - Densities of constant arguments get no gradient work (the Cholesky
 *    factor of MultivariateNormalCholesky), and the gradient w.r.t. x stays
 *    right (central differences).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tape.h"

#define REL 1e-12

static int rel_close(double a, double b, double tol)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b))
        return a == b;
    return fabs(a - b) <= tol * (1 + fabs(a) + fabs(b));
}

static unsigned rng_state = 2024;
static double unif(double lo, double hi)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return lo + (hi - lo) * ((rng_state >> 8) & 0xffffff) / 16777216.0;
}

/* ---- location-scale kernels ------------------------------------------- */

/* One density statement: arguments are inputs (parameters) or constants,
 * of length 1 (broadcast) or n.  Returns the target; grad (per argument,
 * per element) is filled from tape_backward. */
static double kernel_tape(const DistInfo *d, int n, const int *len, const int *var,
                          double *const *vals, double **grad, int *kern)
{
    Tape t;
    tape_init(&t);
    int nin = 1 + d->nparams, in[4], inn[4];
    for (int k = 0; k < nin; k++) {
        in[k] = var[k] ? tape_inputs(&t, len[k]) : tape_consts(&t, vals[k], len[k]);
        inn[k] = len[k];
        memcpy(t.val + in[k], vals[k], sizeof(double) * (size_t)len[k]);
    }
    int aux[3] = {n, 0, 0};
    tape_op(&t, OP_LPDF, 0, nin, in, inn, aux, d, 1.0);
    *kern = t.nops == 1 ? t.ops[0].kern : -1;
    double lp = tape_forward(&t);
    if (isfinite(lp)) {
        tape_backward(&t);
        for (int k = 0; k < nin; k++)
            for (int i = 0; i < len[k]; i++)
                grad[k][i] = var[k] ? t.adj[in[k] + i] : 0;
    }
    tape_free(&t);
    return lp;
}

/* The generic path's arithmetic, by hand: the row's lpdf per element. */
static double kernel_reference(const DistInfo *d, int n, const int *len, const int *var,
                               double *const *vals, double **grad)
{
    int nin = 1 + d->nparams;
    for (int k = 0; k < nin; k++)
        for (int i = 0; i < len[k]; i++)
            grad[k][i] = 0;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double p[DIST_MAX_PARAMS], dp[DIST_MAX_PARAMS], dx = 0;
        for (int k = 0; k < d->nparams; k++)
            p[k] = vals[k + 1][len[k + 1] == 1 ? 0 : i];
        double x = vals[0][len[0] == 1 ? 0 : i];
        sum += d->lpdf(x, p, &dx, dp);
        grad[0][len[0] == 1 ? 0 : i] += var[0] ? dx : 0;
        for (int k = 0; k < d->nparams; k++)
            grad[k + 1][len[k + 1] == 1 ? 0 : i] += var[k + 1] ? dp[k] : 0;
    }
    return sum;
}

static void check_kernel_case(const DistInfo *d, int n, const int *len, const int *var,
                              int bad)
{
    int nin = 1 + d->nparams, half = d->nparams == 1;
    double v[3][8], g1[3][8], g2[3][8];
    double *vals[3] = {v[0], v[1], v[2]}, *gk[3] = {g1[0], g1[1], g1[2]},
           *gr[3] = {g2[0], g2[1], g2[2]};
    for (int i = 0; i < 8; i++) {
        v[0][i] = half ? unif(0.05, 4) : unif(-3, 3);
        v[1][i] = half ? unif(0.3, 3) : unif(-1, 1);
        v[2][i] = unif(0.3, 3);
    }
    if (bad == 1) /* an invalid scale: NaN */
        v[nin - 1][len[nin - 1] - 1] = -1;
    if (bad == 2 && !half) /* a non-finite location: NaN */
        v[1][0] = INFINITY;
    if (bad == 3) /* a value outside the support (half) or infinite: -inf */
        v[0][0] = half ? -0.5 : INFINITY;
    int kern;
    double lk = kernel_tape(d, n, len, var, vals, gk, &kern);
    double lr = kernel_reference(d, n, len, var, vals, gr);
    int any_var = 0;
    for (int k = 0; k < nin; k++)
        any_var |= var[k];
    if (!any_var)
        return;
    char what[128];
    snprintf(what, sizeof what, "%s n=%d len=%d,%d,%d var=%d%d%d bad=%d", d->name, n, len[0],
             len[1], nin > 2 ? len[2] : 0, var[0], var[1], nin > 2 ? var[2] : 0, bad);
    /* constant invalid parameters stay on the generic path, which says NaN */
    int expect_kernel = !(bad == 1 && !var[nin - 1]) && !(bad == 2 && !half && !var[1]);
    CHECK(!expect_kernel || kern != KERN_GENERIC, "%s: a specialised kernel is picked (%d)", what,
          kern);
    CHECK(rel_close(lk, lr, REL), "%s: lp %.17g vs generic %.17g", what, lk, lr);
    if (!isfinite(lr))
        return;
    for (int k = 0; k < nin; k++)
        for (int i = 0; i < len[k]; i++)
            CHECK(rel_close(g1[k][i], g2[k][i], REL), "%s: d/d arg%d[%d] %.17g vs %.17g", what, k,
                  i, g1[k][i], g2[k][i]);
}

static void test_kernels(void)
{
    const DistInfo *two[] = {&dist_row_normal, &dist_row_cauchy};
    const DistInfo *one[] = {&dist_row_half_normal, &dist_row_half_cauchy};
    for (int b = 0; b < 4; b++) {
        for (int di = 0; di < 2; di++)
            for (int shape = 0; shape < 8; shape++)
                for (int vm = 1; vm < 8; vm++) {
                    int n = 6;
                    int len[3] = {shape & 1 ? 1 : n, shape & 2 ? 1 : n, shape & 4 ? 1 : n};
                    if (len[0] == 1 && len[1] == 1 && len[2] == 1)
                        n = 1;
                    int var[3] = {vm & 1, (vm >> 1) & 1, (vm >> 2) & 1};
                    check_kernel_case(two[di], n, len, var, b);
                }
        for (int di = 0; di < 2; di++)
            for (int shape = 0; shape < 4; shape++)
                for (int vm = 1; vm < 4; vm++) {
                    int n = shape == 3 ? 1 : 5;
                    int len[2] = {shape & 1 ? 1 : n, shape & 2 ? 1 : n};
                    int var[2] = {vm & 1, (vm >> 1) & 1};
                    check_kernel_case(one[di], n, len, var, b == 2 ? 0 : b);
                }
    }
}

/* ---- the fused GLM ------------------------------------------------------ */

typedef struct {
    int n, D;
    const DistInfo *d;
    double *X, *y;
    int intercept;   /* alpha + X beta, else X beta */
    int alpha_first; /* alpha + X beta, else X beta + alpha */
    int alpha_var;   /* alpha a parameter, else data */
    int reuse;       /* read eta again after the density */
    int value_form;  /* the density as a value (one output slot), times 0.7 */
    double scale;    /* subsampling scale of the density statement */
} Glm;

/* Records the model; with `block` an unrelated op sits between the linear
 * predictor and the density, so the peephole cannot fire.  Returns the
 * target at q = (alpha, beta) and the gradient (alpha's first). */
static double glm_tape(const Glm *m, const double *q, double *grad, int block, int *nglm)
{
    Tape t;
    tape_init(&t);
    int n = m->n, D = m->D;
    int X = tape_consts(&t, m->X, n * D), y = tape_consts(&t, m->y, n);
    int a = m->alpha_var ? tape_inputs(&t, 1) : tape_const(&t, q[0]);
    int beta = tape_inputs(&t, D);
    t.val[a] = q[0];
    memcpy(t.val + beta, q + 1, sizeof(double) * (size_t)D);
    int in[2] = {X, beta}, inn[2] = {n * D, D}, aux[3] = {n, D, 0};
    int xb = tape_op(&t, OP_MATVEC, n, 2, in, inn, aux, NULL, 0), eta = xb;
    if (m->intercept) {
        int ai[2] = {a, xb}, an[2] = {1, n};
        if (!m->alpha_first) {
            ai[0] = xb, ai[1] = a;
            an[0] = n, an[1] = 1;
        }
        eta = tape_op(&t, OP_ADD, n, 2, ai, an, NULL, NULL, 0);
    }
    if (block) { /* exp(beta[0]) added to the target, recorded in between */
        int one = 1, e = tape_op(&t, OP_EXP, 1, 1, &beta, &one, NULL, NULL, 0);
        int zero = tape_const(&t, 0), ei[2] = {e, zero}, en[2] = {1, 1};
        int z = tape_op(&t, OP_MUL, 1, 2, ei, en, NULL, NULL, 0);
        tape_op(&t, OP_ACC, 0, 1, &z, &one, NULL, NULL, 1);
    }
    int li[2] = {y, eta}, ln[2] = {n, n}, laux[3] = {n, 0, 0};
    if (m->value_form) {
        int s = tape_op(&t, OP_LPDF, 1, 2, li, ln, laux, m->d, m->scale);
        int c = tape_const(&t, 0.7), mi[2] = {s, c}, mn[2] = {1, 1}, one = 1;
        int p = tape_op(&t, OP_MUL, 1, 2, mi, mn, NULL, NULL, 0);
        tape_op(&t, OP_ACC, 0, 1, &p, &one, NULL, NULL, 1);
    } else {
        tape_op(&t, OP_LPDF, 0, 2, li, ln, laux, m->d, m->scale);
    }
    if (m->reuse) { /* 0.01 * sum(eta^2) and 0.02 * sum(X beta) read the slots again */
        int sq = tape_op(&t, OP_SQUARE, n, 1, &eta, &n, NULL, NULL, 0);
        int c = tape_const(&t, 0.01), mi[2] = {sq, c}, mn[2] = {n, 1};
        int p = tape_op(&t, OP_MUL, n, 2, mi, mn, NULL, NULL, 0);
        tape_op(&t, OP_ACC, 0, 1, &p, &n, NULL, NULL, 1);
        int c2 = tape_const(&t, 0.02), xi[2] = {xb, c2}, xn[2] = {n, 1};
        int p2 = tape_op(&t, OP_MUL, n, 2, xi, xn, NULL, NULL, 0);
        tape_op(&t, OP_ACC, 0, 1, &p2, &n, NULL, NULL, 1);
    }
    *nglm = 0;
    for (int i = 0; i < t.nops; i++)
        *nglm += t.ops[i].code == OP_GLM;
    double lp = tape_forward(&t); /* a replay, not the trace's own evaluation */
    if (isfinite(lp)) {
        tape_backward(&t);
        grad[0] = m->alpha_var ? t.adj[a] : 0;
        for (int k = 0; k < D; k++)
            grad[1 + k] = t.adj[beta + k];
    }
    tape_free(&t);
    return lp;
}

static void check_glm(const Glm *m, const char *label)
{
    double q[8], g1[8], g2[8];
    for (int k = 0; k <= m->D; k++)
        q[k] = unif(-0.8, 0.8);
    int nf, nu;
    double lf = glm_tape(m, q, g1, 0, &nf);
    double lu = glm_tape(m, q, g2, 1, &nu);
    CHECK(nf == 1 && nu == 0, "%s: fused %d, unfused %d GLM ops", label, nf, nu);
    /* the blocking op adds exp(beta0) * 0 = 0 to the unfused target */
    CHECK(rel_close(lf, lu, REL), "%s: lp fused %.17g, unfused %.17g", label, lf, lu);
    for (int k = 0; k <= m->D; k++)
        CHECK(rel_close(g1[k], g2[k], REL), "%s: grad[%d] fused %.17g, unfused %.17g", label, k,
              g1[k], g2[k]);
    /* and against central differences of the fused replay */
    for (int k = m->alpha_var ? 0 : 1; k <= m->D; k++) {
        double h = 1e-5, qs = q[k], gd[8];
        int dummy;
        q[k] = qs + h;
        double up = glm_tape(m, q, gd, 0, &dummy);
        q[k] = qs - h;
        double dn = glm_tape(m, q, gd, 0, &dummy);
        q[k] = qs;
        CHECK_NEAR(g1[k], (up - dn) / (2 * h), 1e-5 * (1 + fabs(g1[k])));
    }
}

static void test_glm(void)
{
    enum { N = 41, D = 4 }; /* not a multiple of 4: the vector loop leaves a tail */
    double X[N * D], yb[N], yp[N];
    for (int i = 0; i < N * D; i++)
        X[i] = unif(-1.5, 1.5);
    for (int i = 0; i < N; i++) {
        yb[i] = unif(0, 1) < 0.4;
        yp[i] = floor(unif(0, 6));
    }
    const DistInfo *fam[2] = {&dist_row_bernoulli_logit, &dist_row_poisson_log};
    double *ys[2] = {yb, yp};
    for (int f = 0; f < 2; f++)
        for (int variant = 0; variant < 32; variant++) {
            Glm m = {N, D, fam[f], X, ys[f], variant & 1, (variant >> 1) & 1,
                     (variant >> 2) & 1, (variant >> 3) & 1, (variant >> 4) & 1,
                     variant % 3 == 0 ? 2.5 : 1.0};
            if (!m.intercept && (m.alpha_first || m.alpha_var))
                continue;
            char label[128];
            snprintf(label, sizeof label, "%s intercept=%d first=%d avar=%d reuse=%d value=%d",
                     fam[f]->name, m.intercept, m.alpha_first, m.alpha_var, m.reuse,
                     m.value_form);
            check_glm(&m, label);
        }
    /* a y outside the support is not fused: the generic path says -inf */
    double ybad[N];
    memcpy(ybad, yb, sizeof ybad);
    ybad[3] = 2;
    Glm m = {N, D, &dist_row_bernoulli_logit, X, ybad, 1, 1, 1, 0, 0, 1.0};
    double q[D + 1] = {0}, g[D + 1];
    int nf;
    double lp = glm_tape(&m, q, g, 0, &nf);
    CHECK(nf == 0 && lp == -INFINITY, "y = 2 under BernoulliLogit: not fused (%d), lp %g", nf, lp);
    /* a non-finite eta gives NaN, as the generic row does */
    q[0] = INFINITY;
    ybad[3] = 1;
    lp = glm_tape(&m, q, g, 0, &nf);
    CHECK(nf == 1 && isnan(lp), "alpha = inf: fused (%d), lp %g is NaN", nf, lp);
}

/* ---- the fused affine op ------------------------------------------------ */

static double affine_tape(const int *len, const int *var, double *const *v, double **g,
                          int block, int reuse, int *naff)
{
    Tape t;
    tape_init(&t);
    int s[3];
    for (int k = 0; k < 3; k++) {
        s[k] = var[k] ? tape_inputs(&t, len[k]) : tape_consts(&t, v[k], len[k]);
        memcpy(t.val + s[k], v[k], sizeof(double) * (size_t)len[k]);
    }
    int n = len[0] > len[1] ? len[0] : len[1];
    n = len[2] > n ? len[2] : n;
    int mi[2] = {s[1], s[2]}, mn[2] = {len[1], len[2]};
    int p = tape_op(&t, OP_MUL, n, 2, mi, mn, NULL, NULL, 0);
    if (block) { /* -p[0] * 0 added to the target: recorded, adds nothing */
        int one = 1, e = tape_op(&t, OP_NEG, 1, 1, &p, &one, NULL, NULL, 0);
        int zero = tape_const(&t, 0), zi[2] = {e, zero}, zn[2] = {1, 1};
        int z = tape_op(&t, OP_MUL, 1, 2, zi, zn, NULL, NULL, 0);
        tape_op(&t, OP_ACC, 0, 1, &z, &one, NULL, NULL, 1);
    }
    int ai[2] = {s[0], p}, an[2] = {len[0], n};
    int out = tape_op(&t, OP_ADD, n, 2, ai, an, NULL, NULL, 0);
    int sq = tape_op(&t, OP_SQUARE, n, 1, &out, &n, NULL, NULL, 0);
    tape_op(&t, OP_ACC, 0, 1, &sq, &n, NULL, NULL, 1);
    if (reuse) {
        int e = tape_op(&t, OP_SIN, n, 1, &p, &n, NULL, NULL, 0);
        tape_op(&t, OP_ACC, 0, 1, &e, &n, NULL, NULL, 1);
    }
    *naff = 0;
    for (int i = 0; i < t.nops; i++)
        *naff += t.ops[i].code == OP_AFFINE;
    double lp = tape_forward(&t);
    tape_backward(&t);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < len[k]; i++)
            g[k][i] = var[k] ? t.adj[s[k] + i] : 0;
    tape_free(&t);
    return lp;
}

static void test_affine(void)
{
    for (int shape = 0; shape < 8; shape++)
        for (int vm = 1; vm < 8; vm++)
            for (int reuse = 0; reuse < 2; reuse++) {
                int len[3] = {shape & 1 ? 1 : 5, shape & 2 ? 1 : 5, shape & 4 ? 1 : 5};
                int var[3] = {vm & 1, (vm >> 1) & 1, (vm >> 2) & 1};
                if (!var[1] && !var[2])
                    continue; /* a constant product is folded, nothing to fuse */
                double v[3][5], g1[3][5], g2[3][5];
                double *vals[3] = {v[0], v[1], v[2]}, *a1[3] = {g1[0], g1[1], g1[2]},
                       *a2[3] = {g2[0], g2[1], g2[2]};
                for (int k = 0; k < 3; k++)
                    for (int i = 0; i < 5; i++)
                        v[k][i] = unif(-2, 2);
                int nf, nu;
                double lf = affine_tape(len, var, vals, a1, 0, reuse, &nf);
                double lu = affine_tape(len, var, vals, a2, 1, reuse, &nu);
                CHECK(nf == 1 && nu == 0, "affine shape %d var %d: fused %d, unfused %d", shape,
                      vm, nf, nu);
                CHECK(rel_close(lf, lu, REL), "affine shape %d var %d: lp %.17g vs %.17g", shape,
                      vm, lf, lu);
                for (int k = 0; k < 3; k++)
                    for (int i = 0; i < len[k]; i++)
                        CHECK(rel_close(g1[k][i], g2[k][i], REL),
                              "affine shape %d var %d reuse %d: d/d%c[%d] %.17g vs %.17g", shape,
                              vm, reuse, "abc"[k], i, g1[k][i], g2[k][i]);
            }
}

/* ---- a constant Cholesky factor gets no gradient ------------------------ */

static double mvn_tape(const double *x, double *gx, int k, const double *L, long *npart)
{
    Tape t;
    tape_init(&t);
    int xs = tape_inputs(&t, k);
    memcpy(t.val + xs, x, sizeof(double) * (size_t)k);
    int mu = tape_consts(&t, NULL, k), l = tape_consts(&t, L, k * k);
    int in[3] = {xs, mu, l}, inn[3] = {k, k, k * k}, aux[3] = {k, 1, 0};
    tape_op(&t, OP_LPDF_MV, 0, 3, in, inn, aux, dist_find("MultivariateNormalCholesky"), 1.0);
    double lp = tape_forward(&t);
    tape_backward(&t);
    for (int i = 0; i < k; i++)
        gx[i] = t.adj[xs + i];
    *npart = t.npart;
    tape_free(&t);
    return lp;
}

static void test_mvn_constant_factor(void)
{
    enum { K = 5 };
    double L[K * K] = {0}, x[K], g[K], gd[K];
    for (int i = 0; i < K; i++) {
        for (int j = 0; j < i; j++)
            L[i * K + j] = unif(-0.5, 0.5);
        L[i * K + i] = unif(0.5, 1.5);
        x[i] = unif(-1, 1);
    }
    long np;
    mvn_tape(x, g, K, L, &np);
    for (int i = 0; i < K; i++) {
        double h = 1e-5, xs = x[i];
        long dummy;
        x[i] = xs + h;
        double up = mvn_tape(x, gd, K, L, &dummy);
        x[i] = xs - h;
        double dn = mvn_tape(x, gd, K, L, &dummy);
        x[i] = xs;
        CHECK_NEAR(g[i], (up - dn) / (2 * h), 1e-7);
    }
    CHECK(np >= K, "partials reserved for x (%ld)", np);
}

int main(void)
{
    test_kernels();
    test_glm();
    test_affine();
    test_mvn_constant_factor();
    return check_done();
}
