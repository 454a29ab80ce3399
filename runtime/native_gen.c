/*
 * native_gen.c - the C source of a tape's native code (native.h).
 *
 * The file is the embedded text of dist.h, tape.h and tape_ops.h, then
 * one `static const TapeOp` per pure op (or per op of a loop's first
 * round, below), then cm_native_logp_grad: the parameters stored into their
 * slots, every op forward, the adjoints zeroed, every op backward, the
 * gradient read out - the same steps in the same order as model_logp_grad
 * over tape_forward and tape_backward.  An op's fields are constants there,
 * so the C compiler specialises the op's body (named by code, not reached
 * through the dispatching switch: inlining the whole switch at every call
 * made the compiler take seconds per hundred ops).  Its data are not: they
 * are read from the tape's slots and partials at run time.
 *
 * Loops.  A model's `for` and `plate` loops record the same few ops again
 * and again, each round's fields (slots, partials) a fixed step from the
 * last.  Such a run of rounds is written as a C loop over one round, with
 * the moving fields advanced by the round's index: the compiler then
 * specialises the round once, not once per op, so the source stays small
 * and compiling a tape of tens of thousands of ops takes seconds rather
 * than minutes.  The loop executes the same ops with the same fields in
 * the same order as the unrolled code would, so the bits do not change.
 * The ops are grouped into functions of NATIVE_CHUNK units (an op or a
 * loop) each, since the compiler's time grows faster than linearly in a
 * function's size.
 */
#include "native_gen.h"

#include "tape_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char cm_native_prelude[];

#define NATIVE_CHUNK 32
#define MAX_PERIOD 32   /* the most ops in one round of a loop        */
#define MIN_ROUNDS 4    /* fewer rounds are written out one by one    */

/* The body of each pure op, by code (tape_ops.h). */
#define NAME_FWD(code, f, b) [code] = #f,
#define NAME_BWD(code, f, b) [code] = #b,
static const char *const fwd_name[OP__COUNT] = {TAPE_PURE_OPS(NAME_FWD)};
static const char *const bwd_name[OP__COUNT] = {TAPE_PURE_OPS(NAME_BWD)};

/* A unit of the source: ops [k, k + period * rounds), period at a time. */
typedef struct {
    int k, period, rounds;
} Unit;

/* ---- finding the loops --------------------------------------------------- */

/* The integer fields that move from round to round, and their names. */
#define NMOVING (1 + TAPE_MAX_IN + 2)
static const char *const moving_name[NMOVING] = {"out",   "in[0]", "in[1]", "in[2]", "in[3]",
                                                 "in[4]", "in[5]", "pbuf",  "ipool"};
static void moving(const TapeOp *op, long v[NMOVING])
{
    v[0] = op->out;
    for (int i = 0; i < TAPE_MAX_IN; i++)
        v[1 + i] = op->in[i];
    v[1 + TAPE_MAX_IN] = op->pbuf;
    v[2 + TAPE_MAX_IN] = op->ipool;
}

/* a and b are the same op but for the moving fields. */
static int same_shape(const TapeOp *a, const TapeOp *b)
{
    int pa = tape_op_is_pure(a);
    if (pa != tape_op_is_pure(b) || a->code != b->code)
        return 0;
    if (!pa)
        return 1; /* called through the hooks by index: nothing else is written */
    return a->nin == b->nin && a->varmask == b->varmask && a->kern == b->kern && a->nout == b->nout &&
           !memcmp(a->inn, b->inn, sizeof a->inn) && !memcmp(a->iaux, b->iaux, sizeof a->iaux) &&
           !memcmp(&a->daux, &b->daux, sizeof a->daux);
}

/* How many rounds of `period` ops repeat from op k: each op's shape as in
 * round 0, its moving fields round 0's plus the round times a fixed step. */
static int rounds_from(const Tape *t, int k, int period)
{
    if (k + 2 * period > t->nops)
        return 1;
    long step[MAX_PERIOD][NMOVING];
    for (int j = 0; j < period; j++) {
        long a[NMOVING], b[NMOVING];
        if (!same_shape(&t->ops[k + j], &t->ops[k + period + j]))
            return 1;
        moving(&t->ops[k + j], a);
        moving(&t->ops[k + period + j], b);
        for (int i = 0; i < NMOVING; i++)
            step[j][i] = b[i] - a[i];
    }
    int r = 2;
    for (; k + (r + 1) * period <= t->nops; r++)
        for (int j = 0; j < period; j++) {
            const TapeOp *o0 = &t->ops[k + j], *o = &t->ops[k + r * period + j];
            long a[NMOVING], b[NMOVING];
            if (!same_shape(o0, o))
                return r;
            moving(o0, a);
            moving(o, b);
            for (int i = 0; i < NMOVING; i++)
                if (b[i] != a[i] + r * step[j][i])
                    return r;
        }
    return r;
}

/* The tape cut into units: at each op the period whose loop covers the
 * most ops, if it has MIN_ROUNDS rounds, else the op alone. */
static Unit *units_of(const Tape *t, int *nunits)
{
    Unit *u = malloc(sizeof(Unit) * ((size_t)t->nops + 1));
    int n = 0;
    if (!u)
        return NULL;
    for (int k = 0; k < t->nops;) {
        Unit best = {k, 1, 1};
        for (int p = 1; p <= MAX_PERIOD; p++) {
            int r = rounds_from(t, k, p);
            if (r >= MIN_ROUNDS && r * p > best.rounds * best.period)
                best = (Unit){k, p, r};
        }
        u[n++] = best;
        k += best.period * best.rounds;
    }
    *nunits = n;
    return u;
}

/* ---- writing ------------------------------------------------------------- */

static void emit_ints(FILE *f, const char *name, const int *v, int n)
{
    fprintf(f, ", .%s = {", name);
    for (int k = 0; k < n; k++)
        fprintf(f, "%s%d", k ? ", " : "", v[k]);
    fputc('}', f);
}

/* Every field the op bodies read; paux is not among them for pure ops. */
static void emit_op(FILE *f, const TapeOp *op, int k)
{
    fprintf(f, "static const TapeOp o%d = {.code = %d, .nin = %d, .varmask = %d, .kern = %d, "
               ".out = %d, .nout = %d",
            k, op->code, op->nin, op->varmask, op->kern, op->out, op->nout);
    emit_ints(f, "in", op->in, TAPE_MAX_IN);
    emit_ints(f, "inn", op->inn, TAPE_MAX_IN);
    emit_ints(f, "iaux", op->iaux, 3);
    fprintf(f, ", .daux = %a, .pbuf = %ld, .ipool = %ld};\n", op->daux, op->pbuf, op->ipool);
}

/* The call that runs a pure op, given as `arg`, forward or backward. */
static void emit_body(FILE *f, const char *indent, const TapeOp *op, const char *arg, int backward)
{
    if (op->code == OP_LPDF) /* a location-scale kernel, named by its family */
        fprintf(f, "%slocscale_%s(t, %s, family_of(%d));\n", indent, backward ? "backward" : "forward",
                arg, op->kern);
    else
        fprintf(f, "%s%s(t, %s);\n", indent, (backward ? bwd_name : fwd_name)[op->code], arg);
}

/* Round r of a loop: op k0's constant with its moving fields advanced. */
static void emit_round_op(FILE *f, const Tape *t, const Unit *u, int j, int backward)
{
    int k0 = u->k + j;
    const TapeOp *o0 = &t->ops[k0];
    if (!tape_op_is_pure(o0)) {
        fprintf(f, "        h->%s(t, t->ops + %d + r * %d);\n", backward ? "backward" : "forward", k0,
                u->period);
        return;
    }
    long a[NMOVING], b[NMOVING];
    moving(o0, a);
    moving(&t->ops[k0 + u->period], b);
    fprintf(f, "        {\n            TapeOp o = o%d;\n", k0);
    for (int i = 0; i < NMOVING; i++)
        if (b[i] != a[i])
            fprintf(f, "            o.%s += r * %ld;\n", moving_name[i], b[i] - a[i]);
    emit_body(f, "            ", o0, "&o", backward);
    fputs("        }\n", f);
}

static void emit_unit(FILE *f, const Tape *t, const Unit *u, int backward)
{
    if (u->rounds == 1) {
        const TapeOp *op = &t->ops[u->k];
        char arg[32];
        snprintf(arg, sizeof arg, "&o%d", u->k);
        if (tape_op_is_pure(op))
            emit_body(f, "    ", op, arg, backward);
        else
            fprintf(f, "    h->%s(t, t->ops + %d);\n", backward ? "backward" : "forward", u->k);
        return;
    }
    if (backward)
        fprintf(f, "    for (int r = %d; r >= 0; r--) {\n", u->rounds - 1);
    else
        fprintf(f, "    for (int r = 0; r < %d; r++) {\n", u->rounds);
    for (int j = 0; j < u->period; j++)
        emit_round_op(f, t, u, backward ? u->period - 1 - j : j, backward);
    fputs("    }\n", f);
}

char *native_generate(const Tape *t, const int *slots, int dim, int *nunits_out)
{
    int nunits = 0;
    Unit *u = units_of(t, &nunits);
    *nunits_out = nunits;
    if (u && nunits > NATIVE_MAX_UNITS) {
        free(u);
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = u ? open_memstream(&buf, &len) : NULL;
    if (!f) {
        free(u);
        return NULL;
    }
    fprintf(f, "/* cm native code for one tape (runtime/native_gen.c); sizeof(TapeOp) %zu */\n%s\n",
            sizeof(TapeOp), cm_native_prelude);
    for (int i = 0; i < nunits; i++) /* a loop's first round stands for all of it */
        for (int j = 0; j < u[i].period; j++)
            if (tape_op_is_pure(&t->ops[u[i].k + j]))
                emit_op(f, &t->ops[u[i].k + j], u[i].k + j);
    int nchunks = (nunits + NATIVE_CHUNK - 1) / NATIVE_CHUNK;
    for (int c = 0; c < nchunks; c++) {
        int lo = c * NATIVE_CHUNK, hi = lo + NATIVE_CHUNK < nunits ? lo + NATIVE_CHUNK : nunits;
        fprintf(f, "\nstatic __attribute__((noinline)) void fwd%d(Tape *t, const NativeHooks *h)\n{\n"
                   "    (void)h;\n", c);
        for (int i = lo; i < hi; i++)
            emit_unit(f, t, &u[i], 0);
        fprintf(f, "}\n\nstatic __attribute__((noinline)) void bwd%d(Tape *t, const NativeHooks *h)\n{\n"
                   "    (void)h;\n", c);
        for (int i = hi - 1; i >= lo; i--)
            emit_unit(f, t, &u[i], 1);
        fputs("}\n", f);
    }
    free(u);
    fputs("\ndouble cm_native_logp_grad(Tape *t, const double *q, double *grad, const void *hooks)\n{\n"
          "    const NativeHooks *h = hooks;\n",
          f);
    for (int i = 0; i < dim; i++)
        fprintf(f, "    t->val[%d] = q[%d];\n", slots[i], i);
    fputs("    t->target = t->target_const;\n", f);
    for (int c = 0; c < nchunks; c++)
        fprintf(f, "    fwd%d(t, h);\n", c);
    fputs("    double lp = t->target;\n    if (!grad || !isfinite(lp))\n        return lp;\n"
          "    tape_zero_adjoints(t);\n",
          f);
    for (int c = nchunks - 1; c >= 0; c--)
        fprintf(f, "    bwd%d(t, h);\n", c);
    for (int i = 0; i < dim; i++)
        fprintf(f, "    grad[%d] = t->adj[%d];\n", i, slots[i]);
    fputs("    return lp;\n}\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
