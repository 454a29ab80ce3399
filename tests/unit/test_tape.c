/*
 * test_tape.c - every tape op's adjoint against central finite differences,
 * replay against a fresh trace, and constant folding.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tape.h"

typedef struct {
    const char *name;
    OpCode code;
    int nin;
    int len[3];      /* input lengths */
    double lo, hi;   /* domain of the random inputs */
    int iaux[3];
    int nout;
} Case;

/* inputs -> op -> dot(outputs, fixed weights) -> target */
static double build(Tape *t, const Case *c, const double *x, int *first)
{
    tape_reset(t);
    int in[3], inn[3], off = 0;
    for (int k = 0; k < c->nin; k++) {
        in[k] = tape_inputs(t, c->len[k]);
        inn[k] = c->len[k];
        memcpy(t->val + in[k], x + off, sizeof(double) * (size_t)c->len[k]);
        off += c->len[k];
    }
    *first = in[0];
    int out = tape_op(t, c->code, c->nout, c->nin, in, inn, c->iaux, NULL, 0);
    int w = tape_consts(t, NULL, c->nout);
    for (int i = 0; i < c->nout; i++)
        t->val[w + i] = 0.3 + 0.17 * i;
    if (c->nout > 0) {
        int a[2] = {out, w}, an[2] = {c->nout, c->nout};
        int d = tape_op(t, OP_DOT, 1, 2, a, an, NULL, NULL, 0);
        int one = 1;
        tape_op(t, OP_ACC, 0, 1, &d, &one, NULL, NULL, 0);
    }
    return t->target;
}

static void check_case(const Case *c)
{
    Tape t;
    tape_init(&t);
    int n = 0;
    for (int k = 0; k < c->nin; k++)
        n += c->len[k];
    double x[64], g[64];
    unsigned s = 12345;
    for (int trial = 0; trial < 3; trial++) {
        for (int i = 0; i < n; i++) {
            s = s * 1103515245u + 12345u;
            x[i] = c->lo + (c->hi - c->lo) * ((s >> 8) & 0xffff) / 65536.0;
        }
        if (c->code == OP_B_INTERVAL) { /* bounds below and above the range of u */
            x[3] -= 2;
            x[4] += 2;
        }
        if (c->code == OP_CHOLESKY) { /* a symmetric positive definite input */
            int m = c->iaux[0];
            double a[16];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < m; j++) {
                    double v = 0;
                    for (int k = 0; k < m; k++)
                        v += x[i * m + k] * x[j * m + k];
                    a[i * m + j] = v + (i == j ? m : 0);
                }
            memcpy(x, a, sizeof(double) * (size_t)(m * m));
        }
        int first;
        build(&t, c, x, &first);
        tape_backward(&t);
        for (int i = 0; i < n; i++)
            g[i] = t.adj[first + i];
        /* replay equals a fresh trace */
        double f0 = tape_forward(&t);
        double f1 = build(&t, c, x, &first);
        CHECK(f0 == f1 || (isnan(f0) && isnan(f1)), "%s: replay %g vs trace %g", c->name, f0, f1);
        for (int i = 0; i < n; i++) {
            double xs = x[i], h = 1e-6 * fmax(1, fabs(xs));
            x[i] = xs + h;
            double up = build(&t, c, x, &first);
            x[i] = xs - h;
            double dn = build(&t, c, x, &first);
            x[i] = xs;
            double fd = (up - dn) / (2 * h);
            if (c->code == OP_CHOLESKY) {
                /* input slots (i,j) and (j,i) are one symmetric entry */
                int m = c->iaux[0], r = i / m, q = i % m;
                if (r != q) {
                    x[i] += h;
                    x[q * m + r] += h;
                    up = build(&t, c, x, &first);
                    x[i] -= 2 * h;
                    x[q * m + r] -= 2 * h;
                    dn = build(&t, c, x, &first);
                    x[i] += h;
                    x[q * m + r] += h;
                    fd = (up - dn) / (2 * h);
                    double both = g[i] + g[q * m + r];
                    CHECK(fabs(both - fd) <= 1e-6 * fmax(1, fabs(fd)), "%s: d/dx[%d] ad %.10g fd %.10g",
                          c->name, i, both, fd);
                    continue;
                }
            }
            CHECK(fabs(g[i] - fd) <= 1e-6 * fmax(1, fabs(fd)), "%s: d/dx[%d] ad %.10g fd %.10g", c->name,
                  i, g[i], fd);
        }
    }
    tape_free(&t);
}

int main(void)
{
    static const Case cases[] = {
        {"neg", OP_NEG, 1, {3}, -2, 2, {0}, 3},
        {"exp", OP_EXP, 1, {3}, -2, 2, {0}, 3},
        {"log", OP_LOG, 1, {3}, 0.1, 3, {0}, 3},
        {"log1p", OP_LOG1P, 1, {3}, -0.5, 3, {0}, 3},
        {"expm1", OP_EXPM1, 1, {3}, -2, 2, {0}, 3},
        {"sqrt", OP_SQRT, 1, {3}, 0.1, 4, {0}, 3},
        {"abs", OP_ABS, 1, {3}, 0.1, 2, {0}, 3},
        {"sin", OP_SIN, 1, {3}, -2, 2, {0}, 3},
        {"cos", OP_COS, 1, {3}, -2, 2, {0}, 3},
        {"tan", OP_TAN, 1, {3}, -1, 1, {0}, 3},
        {"tanh", OP_TANH, 1, {3}, -2, 2, {0}, 3},
        {"sigmoid", OP_SIGMOID, 1, {3}, -4, 4, {0}, 3},
        {"logit", OP_LOGIT, 1, {3}, 0.05, 0.95, {0}, 3},
        {"softplus", OP_SOFTPLUS, 1, {3}, -4, 4, {0}, 3},
        {"lgamma", OP_LGAMMA, 1, {3}, 0.2, 5, {0}, 3},
        {"digamma", OP_DIGAMMA, 1, {3}, 0.2, 5, {0}, 3},
        {"erf", OP_ERF, 1, {3}, -2, 2, {0}, 3},
        {"Phi", OP_PHI, 1, {3}, -3, 3, {0}, 3},
        {"square", OP_SQUARE, 1, {3}, -2, 2, {0}, 3},
        {"inv", OP_INV, 1, {3}, 0.2, 3, {0}, 3},
        {"log_sigmoid", OP_LOG_SIGMOID, 1, {3}, -4, 4, {0}, 3},
        {"add", OP_ADD, 2, {3, 3}, -2, 2, {0}, 3},
        {"add broadcast", OP_ADD, 2, {3, 1}, -2, 2, {0}, 3},
        {"sub", OP_SUB, 2, {3, 3}, -2, 2, {0}, 3},
        {"mul", OP_MUL, 2, {3, 3}, -2, 2, {0}, 3},
        {"mul broadcast", OP_MUL, 2, {1, 3}, -2, 2, {0}, 3},
        {"div", OP_DIV, 2, {3, 3}, 0.5, 2, {0}, 3},
        {"pow", OP_POW, 2, {3, 3}, 0.5, 2, {0}, 3},
        {"lbeta", OP_LBETA, 2, {3, 3}, 0.5, 3, {0}, 3},
        {"fmin", OP_FMIN, 2, {3, 3}, -2, 2, {0}, 3},
        {"fmax", OP_FMAX, 2, {3, 3}, -2, 2, {0}, 3},
        {"sum", OP_SUM, 1, {4}, -2, 2, {0}, 1},
        {"dot", OP_DOT, 2, {4, 4}, -2, 2, {0}, 1},
        {"log_sum_exp", OP_LSE, 1, {4}, -3, 3, {0}, 1},
        {"cumulative_sum", OP_CUMSUM, 1, {4}, -2, 2, {0}, 4},
        {"softmax", OP_SOFTMAX, 1, {4}, -2, 2, {0}, 4},
        {"log_softmax", OP_LOG_SOFTMAX, 1, {4}, -2, 2, {0}, 4},
        {"matvec", OP_MATVEC, 2, {6, 3}, -2, 2, {2, 3, 0}, 2},
        {"matmul", OP_MATMUL, 2, {6, 6}, -2, 2, {2, 3, 2}, 4},
        {"transpose", OP_TRANSPOSE, 1, {6}, -2, 2, {2, 3, 0}, 6},
        {"cholesky", OP_CHOLESKY, 1, {9}, -1, 1, {3, 0, 0}, 9},
        {"copy", OP_COPY, 1, {3}, -2, 2, {0}, 3},
        {"lower", OP_B_LOWER, 2, {3, 1}, -2, 2, {0}, 3},
        {"upper", OP_B_UPPER, 2, {3, 1}, -2, 2, {0}, 3},
        {"interval", OP_B_INTERVAL, 3, {3, 1, 1}, -1, 1, {0}, 3},
        {"ordered", OP_B_ORDERED, 1, {4}, -2, 2, {0}, 4},
        {"positive_ordered", OP_B_POS_ORDERED, 1, {4}, -2, 2, {0}, 4},
        {"simplex", OP_B_SIMPLEX, 1, {3}, -2, 2, {0}, 4},
        {"cholesky_corr", OP_B_CHOL_CORR, 1, {6}, -1.5, 1.5, {4, 0, 0}, 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_case(&cases[i]);
    }

    /* constant work is folded, not recorded */
    Tape t;
    tape_init(&t);
    int a = tape_const(&t, 2), b = tape_const(&t, 3), one = 1;
    int in[2] = {a, b}, inn[2] = {1, 1};
    int s = tape_op(&t, OP_MUL, 1, 2, in, inn, NULL, NULL, 0);
    CHECK(t.nops == 0 && t.val[s] == 6, "constant product folded: %d ops, %g", t.nops, t.val[s]);
    int p = tape_inputs(&t, 1);
    t.val[p] = 4;
    in[0] = s;
    in[1] = p;
    int r = tape_op(&t, OP_MUL, 1, 2, in, inn, NULL, NULL, 0);
    tape_op(&t, OP_ACC, 0, 1, &r, &one, NULL, NULL, 0);
    CHECK(t.nops == 2, "parameter work recorded: %d ops", t.nops);
    t.val[p] = 5;
    CHECK(tape_forward(&t) == 30, "replay with a new parameter value: %g", t.target);
    tape_backward(&t);
    CHECK(t.adj[p] == 6, "gradient %g", t.adj[p]);
    tape_free(&t);
    return check_done();
}
