/*
 * vops.c - Value operations for the executor.
 *
 * Shapes are checked here, at trace time, once: the tape that results
 * runs without checks.  Contiguous selections (x[i], X[i], x[a..b]) are
 * views into the same slots and cost nothing; other selections gather.
 */
#include "vops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builtins.h"

static Value shaped(Value v, int base, int rank, int d0, int d1)
{
    v.base = (unsigned char)base;
    v.rank = (unsigned char)rank;
    v.dims[0] = rank >= 1 ? d0 : 1;
    v.dims[1] = rank >= 2 ? d1 : 1;
    v.n = v.dims[0] * v.dims[1];
    return v;
}

static Value op1(Exec *ex, OpCode code, Value a, int nout)
{
    int s = a.slot, n = a.n;
    Value r = a;
    r.slot = tape_op(ex->tape, code, nout, 1, &s, &n, NULL, NULL, 0);
    return r;
}

Value vops_map(Exec *ex, OpCode code, Value a)
{
    Value r = op1(ex, code, a, a.n);
    r.base = code == OP_NEG || code == OP_ABS || code == OP_SQUARE ? a.base : TY_REAL;
    if (r.base == TY_BOOL)
        r.base = TY_INT;
    return r;
}

int vops_broadcast_n(Exec *ex, const IrInstr *in, const Value *args, int nargs, const char *what)
{
    int n = 1;
    for (int k = 0; k < nargs; k++) {
        if (args[k].slot < 0)
            continue;
        if (args[k].n != 1) {
            if (n != 1 && args[k].n != n)
                exec_fail(ex, in->line, in->col, "%s: sizes differ (%d and %d elements)", what, n,
                          args[k].n);
            n = args[k].n;
        }
    }
    return n;
}

Value vops_elementwise(Exec *ex, const IrInstr *in, OpCode code, Value a, Value b)
{
    Value big = a.n >= b.n ? a : b;
    if (a.n != 1 && b.n != 1 &&
        (a.n != b.n || a.rank != b.rank || a.dims[0] != b.dims[0])) {
        char da[64], db[64];
        value_describe(a, da, sizeof da);
        value_describe(b, db, sizeof db);
        exec_fail(ex, in->line, in->col, "shape mismatch: %s and %s", da, db);
    }
    if (a.n == 1 && b.n == 1)
        big = a.rank >= b.rank ? a : b;
    int s[2] = {a.slot, b.slot}, n[2] = {a.n, b.n};
    Value r = big;
    r.slot = tape_op(ex->tape, code, big.n, 2, s, n, NULL, NULL, 0);
    r.base = (a.base == TY_INT && b.base == TY_INT && (code == OP_ADD || code == OP_SUB || code == OP_MUL ||
                                                        code == OP_FMIN || code == OP_FMAX))
                 ? TY_INT
                 : TY_REAL;
    return r;
}

static double scalar(Exec *ex, Value v, int *isvar)
{
    if (value_isvar(ex, v)) {
        ex->tape->dynamic = 1; /* control depends on a parameter */
        if (isvar)
            *isvar = 1;
    }
    return value_get(ex, v, 0);
}

Value vops_unary(Exec *ex, const IrInstr *in, int op, Value a)
{
    (void)in;
    if (op == '!')
        return value_const_scalar(ex, TY_BOOL, scalar(ex, a, NULL) == 0);
    return vops_map(ex, OP_NEG, a);
}

Value vops_binary(Exec *ex, const IrInstr *in, int op, Value a, Value b)
{
    switch (op) {
    case '+': return vops_elementwise(ex, in, OP_ADD, a, b);
    case '-': return vops_elementwise(ex, in, OP_SUB, a, b);
    case AST_OP_EMUL: return vops_elementwise(ex, in, OP_MUL, a, b);
    case '/': case AST_OP_EDIV: return vops_elementwise(ex, in, OP_DIV, a, b);
    case '^': return vops_elementwise(ex, in, OP_POW, a, b);
    case '*':
        if (a.rank == 2 && b.rank >= 1) {
            int c = a.dims[1];
            if (b.dims[0] != c) {
                char da[64], db[64];
                value_describe(a, da, sizeof da);
                value_describe(b, db, sizeof db);
                exec_fail(ex, in->line, in->col, "matrix product: %s * %s (inner sizes %d and %d differ)",
                          da, db, c, b.dims[0]);
            }
            int s[2] = {a.slot, b.slot}, n[2] = {a.n, b.n};
            Value r;
            if (b.rank == 1) {
                int aux[3] = {a.dims[0], c, 0};
                r = shaped(a, TY_REAL, 1, a.dims[0], 1);
                r.slot = tape_op(ex->tape, OP_MATVEC, a.dims[0], 2, s, n, aux, NULL, 0);
            } else {
                int aux[3] = {a.dims[0], c, b.dims[1]};
                r = shaped(a, TY_REAL, 2, a.dims[0], b.dims[1]);
                r.slot = tape_op(ex->tape, OP_MATMUL, r.n, 2, s, n, aux, NULL, 0);
            }
            if (a.base == TY_INT && b.base == TY_INT)
                r.base = TY_INT;
            return r;
        }
        return vops_elementwise(ex, in, OP_MUL, a, b);
    case '%': {
        double x = scalar(ex, a, NULL), y = scalar(ex, b, NULL);
        if (y == 0)
            exec_fail(ex, in->line, in->col, "integer modulo by zero");
        return value_const_scalar(ex, TY_INT, fmod(x, y));
    }
    }
    double x = scalar(ex, a, NULL), y = scalar(ex, b, NULL);
    int r = 0;
    switch (op) {
    case AST_OP_EQ: r = x == y; break;
    case AST_OP_NE: r = x != y; break;
    case '<': r = x < y; break;
    case '>': r = x > y; break;
    case AST_OP_LE: r = x <= y; break;
    case AST_OP_GE: r = x >= y; break;
    case AST_OP_AND: r = x != 0 && y != 0; break;
    case AST_OP_OR: r = x != 0 || y != 0; break;
    }
    return value_const_scalar(ex, TY_BOOL, r);
}

/* ---- indexing ---- */

/* The executor's scratch ints for indexing, grown and kept across runs so
 * that re-running a model (a dynamic tape, every evaluation) allocates
 * nothing for its indexing once the largest selection has been seen. */
static int *index_scratch(Exec *ex, long need)
{
    if (need > ex->ixcap) {
        long cap = ex->ixcap ? ex->ixcap : 256;
        while (cap < need)
            cap *= 2;
        int *p = realloc(ex->ixbuf, sizeof(int) * (size_t)cap);
        if (!p) {
            fprintf(stderr, "cmrun: out of memory\n");
            exit(3);
        }
        ex->ixbuf = p;
        ex->ixcap = cap;
    }
    return ex->ixbuf;
}

/* The flat offsets (into a) of the elements a[items] selects, in row-major
 * order of the selection; *rank and dims get the selection's shape.  The
 * result is the executor's scratch (index_scratch): valid until the next
 * index, not to be freed.  Two passes: the sizes (and the slices' bounds),
 * then the positions (and the indices' bounds). */
int *vops_index_offsets(Exec *ex, const IrInstr *in, Value a, const Value *regs, int *total,
                        int *rank_out, int dims_out[2])
{
    int ndims = a.rank, n[2] = {1, 1}, keep[2] = {0, 0}, arg[2] = {-1, -1}, kind[2] = {2, 2};
    int d = 0;
    for (int k = 0; k < in->nargs; k++, d++) {
        if (d >= ndims)
            exec_fail(ex, in->line, in->col, "too many indices");
        int size = a.dims[d];
        arg[d] = k;
        kind[d] = in->akind[k];
        if (kind[d] == 0) {
            Value ix = regs[in->args[k]];
            n[d] = ix.n;
            keep[d] = ix.rank > 0;
        } else if (kind[d] == 1) {
            int lo = (int)scalar(ex, regs[in->args[k]], NULL);
            int hi = (int)scalar(ex, regs[in->args[k + 1]], NULL);
            k++;
            if (lo < 1 || hi > size || hi < lo - 1)
                exec_fail(ex, in->line, in->col, "slice %d..%d out of range 1..%d", lo, hi, size);
            n[d] = hi - lo + 1;
            keep[d] = 1;
        } else {
            n[d] = size;
            keep[d] = 1;
        }
    }
    for (; d < ndims; d++) { /* trailing dimensions: all */
        n[d] = a.dims[d];
        keep[d] = 1;
    }
    *total = n[0] * n[1];
    int *buf = index_scratch(ex, (long)n[0] + n[1] + *total + 3);
    int *sel[2] = {buf, buf + n[0] + 1}, *flat = sel[1] + n[1] + 1;
    for (d = 0; d < ndims; d++) {
        int size = a.dims[d];
        if (kind[d] == 0) {
            Value ix = regs[in->args[arg[d]]];
            for (int i = 0; i < ix.n; i++) {
                double v = scalar(ex, (Value){ix.base, 0, {1, 1}, 1, ix.slot + i}, NULL);
                if (v != floor(v) || v < 1 || v > size)
                    exec_fail(ex, in->line, in->col, "index %g out of range 1..%d", v, size);
                sel[d][i] = (int)v - 1;
            }
        } else if (kind[d] == 1) {
            int lo = (int)scalar(ex, regs[in->args[arg[d]]], NULL);
            for (int i = 0; i < n[d]; i++)
                sel[d][i] = lo - 1 + i;
        } else {
            for (int i = 0; i < n[d]; i++)
                sel[d][i] = i;
        }
    }
    int cols = ndims >= 2 ? a.dims[1] : 1;
    for (int i = 0; i < n[0]; i++)
        for (int j = 0; j < n[1]; j++)
            flat[i * n[1] + j] = (ndims >= 1 ? sel[0][i] : 0) * cols + (ndims >= 2 ? sel[1][j] : 0);
    *rank_out = 0;
    dims_out[0] = dims_out[1] = 1;
    for (int k = 0; k < ndims; k++)
        if (keep[k])
            dims_out[(*rank_out)++] = n[k];
    return flat;
}

Value vops_index(Exec *ex, const IrInstr *in, Value a, const Value *regs)
{
    int total, rank, dims[2];
    int *flat = vops_index_offsets(ex, in, a, regs, &total, &rank, dims);
    int contiguous = 1;
    for (int i = 1; i < total && contiguous; i++)
        contiguous = flat[i] == flat[0] + i;
    Value r = shaped(a, a.base, rank, dims[0], dims[1]);
    if (contiguous && total > 0)
        r.slot = a.slot + flat[0];
    else
        r.slot = tape_gather(ex->tape, a.slot, a.n, flat, total);
    return r;
}

/* ---- builtins ---- */

static Value concat_scalars(Exec *ex, const Value *args, int nargs)
{
    Value v = value_new(ex, TY_REAL, 1, nargs, 1, 0);
    for (int k = 0; k < nargs; k++)
        tape_assign(ex->tape, v.slot + k, args[k].slot, 1);
    return v;
}

static Value reduce(Exec *ex, OpCode code, Value a)
{
    Value r = op1(ex, code, a, 1);
    return shaped(r, TY_REAL, 0, 1, 1);
}

static Value scale(Exec *ex, const IrInstr *in, Value a, double c)
{
    return vops_elementwise(ex, in, OP_MUL, a, value_const_scalar(ex, TY_REAL, c));
}

static Value variance(Exec *ex, const IrInstr *in, Value a)
{
    if (a.n < 2)
        exec_fail(ex, in->line, in->col, "variance of fewer than 2 elements");
    Value m = scale(ex, in, reduce(ex, OP_SUM, a), 1.0 / a.n);
    Value d = vops_elementwise(ex, in, OP_SUB, a, m);
    int s[2] = {d.slot, d.slot}, n[2] = {d.n, d.n};
    Value ss = value_const_scalar(ex, TY_REAL, 0);
    ss.slot = tape_op(ex->tape, OP_DOT, 1, 2, s, n, NULL, NULL, 0);
    return scale(ex, in, ss, 1.0 / (a.n - 1));
}

static Value min_max(Exec *ex, const IrInstr *in, int is_max, const Value *args, int nargs)
{
    OpCode code = is_max ? OP_FMAX : OP_FMIN;
    if (nargs == 2)
        return vops_elementwise(ex, in, code, args[0], args[1]);
    Value a = args[0];
    if (a.n == 0)
        exec_fail(ex, in->line, in->col, "%s of an empty vector", is_max ? "max" : "min");
    Value acc = {a.base, 0, {1, 1}, 1, a.slot};
    for (int i = 1; i < a.n; i++)
        acc = vops_elementwise(ex, in, code, acc, (Value){a.base, 0, {1, 1}, 1, a.slot + i});
    acc.base = a.base;
    return acc;
}

static int const_int(Exec *ex, const IrInstr *in, Value v, const char *what)
{
    double x = scalar(ex, v, NULL);
    if (x < 0 || x > 1e8)
        exec_fail(ex, in->line, in->col, "%s must be between 0 and 10^8, got %g", what, x);
    return (int)x;
}

Value vops_builtin(Exec *ex, const IrInstr *in, const Value *args, int nargs)
{
    const Builtin *b = &cm_builtins[in->fn];
    Value a = args[0];
    switch (b->op) {
    case BI_LOG1M:
        return vops_map(ex, OP_LOG1P, vops_map(ex, OP_NEG, a));
    case OP_POW: case OP_LBETA: case OP_FMIN: case OP_FMAX:
        return vops_elementwise(ex, in, (OpCode)b->op, args[0], args[1]);
    case BI_FLOOR: case BI_CEIL: case BI_ROUND: case BI_TO_INT: {
        if (value_isvar(ex, a)) {
            if (b->op == BI_TO_INT)
                exec_fail(ex, in->line, in->col, "to_int() of a value that depends on a parameter");
            ex->tape->dynamic = 1;
        }
        Value r = value_new(ex, b->op == BI_TO_INT ? TY_INT : TY_REAL, a.rank, a.dims[0], a.dims[1], 0);
        for (int i = 0; i < a.n; i++) {
            double x = value_get(ex, a, i);
            double y = b->op == BI_FLOOR ? floor(x) : b->op == BI_CEIL ? ceil(x) : b->op == BI_ROUND ? round(x) : trunc(x);
            if (b->op == BI_TO_INT && (!isfinite(x) || fabs(x) > 2e9))
                exec_fail(ex, in->line, in->col, "to_int(%g) is out of range", x);
            ex->tape->val[r.slot + i] = y;
        }
        return r;
    }
    case BI_SUM: {
        Value r = reduce(ex, OP_SUM, a);
        r.base = a.base == TY_INT ? TY_INT : TY_REAL;
        return r;
    }
    case BI_PROD: {
        Value acc = value_const_scalar(ex, a.base, 1);
        for (int i = 0; i < a.n; i++)
            acc = vops_elementwise(ex, in, OP_MUL, acc, (Value){a.base, 0, {1, 1}, 1, a.slot + i});
        return acc;
    }
    case BI_MEAN:
        if (a.n == 0)
            exec_fail(ex, in->line, in->col, "mean of an empty vector");
        return scale(ex, in, reduce(ex, OP_SUM, a), 1.0 / a.n);
    case BI_VARIANCE:
        return variance(ex, in, a);
    case BI_SD:
        return vops_map(ex, OP_SQRT, variance(ex, in, a));
    case BI_LOG_SUM_EXP:
        if (nargs == 1)
            return reduce(ex, OP_LSE, a);
        return reduce(ex, OP_LSE, concat_scalars(ex, args, nargs));
    case BI_LOG_MIX: {
        Value t[2];
        t[0] = vops_elementwise(ex, in, OP_ADD, vops_map(ex, OP_LOG, args[0]), args[1]);
        t[1] = vops_elementwise(ex, in, OP_ADD,
                                vops_map(ex, OP_LOG1P, vops_map(ex, OP_NEG, args[0])), args[2]);
        if (t[0].n != 1 || t[1].n != 1)
            exec_fail(ex, in->line, in->col, "log_mix takes scalars");
        return reduce(ex, OP_LSE, concat_scalars(ex, t, 2));
    }
    case OP_DOT: {
        if (args[0].n != args[1].n)
            exec_fail(ex, in->line, in->col, "dot: lengths differ (%d and %d)", args[0].n, args[1].n);
        int s[2] = {args[0].slot, args[1].slot}, n[2] = {args[0].n, args[1].n};
        Value r = value_const_scalar(ex, TY_REAL, 0);
        r.slot = tape_op(ex->tape, OP_DOT, 1, 2, s, n, NULL, NULL, 0);
        return r;
    }
    case BI_MIN:
    case BI_MAX:
        return min_max(ex, in, b->op == BI_MAX, args, nargs);
    case OP_SOFTMAX: case OP_LOG_SOFTMAX: case OP_CUMSUM: {
        Value r = op1(ex, (OpCode)b->op, a, a.n);
        r.base = TY_REAL;
        return r;
    }
    case OP_TRANSPOSE: {
        int aux[3] = {a.dims[0], a.dims[1], 0};
        int s = a.slot, n = a.n;
        Value r = shaped(a, a.base, 2, a.dims[1], a.dims[0]);
        r.slot = tape_op(ex->tape, OP_TRANSPOSE, a.n, 1, &s, &n, aux, NULL, 0);
        return r;
    }
    case OP_CHOLESKY: {
        if (a.dims[0] != a.dims[1])
            exec_fail(ex, in->line, in->col, "cholesky of a %dx%d matrix: it must be square", a.dims[0],
                      a.dims[1]);
        int aux[3] = {a.dims[0], 0, 0};
        int s = a.slot, n = a.n;
        Value r = shaped(a, TY_REAL, 2, a.dims[0], a.dims[0]);
        r.slot = tape_op(ex->tape, OP_CHOLESKY, a.n, 1, &s, &n, aux, NULL, 0);
        if (!value_isvar(ex, r) && isnan(value_get(ex, r, 0)))
            exec_fail(ex, in->line, in->col, "cholesky: the matrix is not positive definite");
        return r;
    }
    case BI_DIAG_MATRIX: {
        Value r = value_new(ex, TY_REAL, 2, a.n, a.n, 0);
        for (int i = 0; i < a.n; i++)
            tape_assign(ex->tape, r.slot + i * a.n + i, a.slot + i, 1);
        return r;
    }
    case BI_IDENTITY: {
        int n = const_int(ex, in, a, "identity's size");
        Value r = value_new(ex, TY_REAL, 2, n, n, 0);
        for (int i = 0; i < n; i++)
            ex->tape->val[r.slot + i * n + i] = 1;
        return r;
    }
    case BI_SIZE:
        return value_const_scalar(ex, TY_INT, a.dims[0]);
    case BI_ROWS:
        return value_const_scalar(ex, TY_INT, a.dims[0]);
    case BI_COLS:
        return value_const_scalar(ex, TY_INT, a.rank >= 2 ? a.dims[1] : 1);
    case BI_REP: {
        int n = const_int(ex, in, args[1], "rep's count");
        Value r = a.rank == 0 ? value_new(ex, a.base, 1, n, 1, 0) : value_new(ex, a.base, 2, n, a.n, 0);
        for (int i = 0; i < n; i++)
            tape_assign(ex->tape, r.slot + i * a.n, a.slot, a.n);
        return r;
    }
    case BI_REP_MATRIX: {
        int r0 = const_int(ex, in, args[1], "rows"), c0 = const_int(ex, in, args[2], "cols");
        Value r = value_new(ex, a.base, 2, r0, c0, 0);
        for (int i = 0; i < r.n; i++)
            tape_assign(ex->tape, r.slot + i, a.slot, 1);
        return r;
    }
    case BI_ZEROS:
    case BI_ONES: {
        int n = const_int(ex, in, a, "the size");
        Value r = value_new(ex, TY_REAL, 1, n, 1, 0);
        for (int i = 0; i < n && b->op == BI_ONES; i++)
            ex->tape->val[r.slot + i] = 1;
        return r;
    }
    case BI_SEQ: {
        int lo = (int)scalar(ex, args[0], NULL), hi = (int)scalar(ex, args[1], NULL);
        int n = hi >= lo ? hi - lo + 1 : 0;
        Value r = value_new(ex, TY_INT, 1, n, 1, 0);
        for (int i = 0; i < n; i++)
            ex->tape->val[r.slot + i] = lo + i;
        return r;
    }
    default:
        if (b->rule == BR_ELEM && b->op < OP__COUNT)
            return vops_map(ex, (OpCode)b->op, a);
        exec_fail(ex, in->line, in->col, "builtin '%s' cannot be evaluated here", b->name);
    }
}

/* Parameter shapes of a multivariate distribution, as DArr rows x cols. */
Value vops_lpdf_value(Exec *ex, const IrInstr *in, const DistInfo *d, const Value *args, int nargs)
{
    int s[DIST_MAX_PARAMS + 1], n[DIST_MAX_PARAMS + 1];
    for (int k = 0; k < nargs; k++) {
        s[k] = args[k].slot;
        n[k] = args[k].n;
    }
    Value r = value_const_scalar(ex, TY_REAL, 0);
    if (d->lpdf) {
        int total = vops_broadcast_n(ex, in, args, nargs, d->name);
        int aux[3] = {total, 0, 0};
        r.slot = tape_op(ex->tape, OP_LPDF, 1, nargs, s, n, aux, d, 1.0);
    } else {
        int aux[3] = {args[0].dims[0], args[0].rank >= 2 ? args[0].dims[1] : 1, 0};
        r.slot = tape_op(ex->tape, OP_LPDF_MV, 1, nargs, s, n, aux, d, 1.0);
    }
    return r;
}
