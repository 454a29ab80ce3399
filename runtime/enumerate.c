/*
 * enumerate.c - summing latent discrete sites out, and drawing them back.
 *
 * NUTS, HMC and SVI move continuous coordinates, so a latent discrete site
 * cannot be one of their parameters.  What they need is the marginal
 * density with the site summed out, which is what Stan users write by hand
 * with log_sum_exp and Pyro computes with TraceEnum_ELBO.  Here the
 * executor does it for any latent discrete site of finite support:
 *
 *   - The *continuation* of a site is what its value can influence under
 *     the model's own independence statements: inside a plate, the rest of
 *     the current plate iteration (up to the plate's ENDLOOP); anywhere
 *     else, the rest of the program.  A plate is the user's declaration
 *     that iterations are conditionally independent, exactly as in Pyro,
 *     so z[n] in a plate costs K passes of one iteration body, not K^N.
 *   - The continuation is run once per value k, from the same registers
 *     and variables, inside a local target of the tape (tape_local_begin):
 *     pass k's log density c_k is the site's own log p(z = k) plus every
 *     term the continuation adds.  The site then adds log_sum_exp_k c_k to
 *     the enclosing target, and the executor resumes after the
 *     continuation.  Sites inside a continuation nest (their sums land in
 *     the enclosing pass's local target), so a top-level site whose
 *     continuation holds a plate of sites costs K * N * K' passes.
 *   - All of it is recorded once, at trace time: the replayed tape is the
 *     unrolled sum, with its gradient, and no re-tracing.
 *   - For output (ENUM_DRAW) the passes compute c_k the same way, k is
 *     drawn with probability softmax(c)_k from the executor's rng, and the
 *     continuation runs once more with that value, where nested sites are
 *     drawn in turn: ancestral sampling from the exact conditional
 *     posterior, as Pyro's infer_discrete does.
 *
 * Trade-offs.  The passes are whole re-executions of the continuation, so
 * a top-level site with K values multiplies the cost of everything after
 * it by K; ENUM_MAX_PASSES bounds that and the error points to a plate or
 * log_mix.  There is no variable elimination: a chain of sites that read
 * each other outside plates (an HMM) costs K^T, and the cap refuses it; the
 * forward algorithm by hand is the answer there.  A summed-out value has no
 * single value after its continuation, so the site holds NaN afterwards in
 * the gradient run, and reading it there is refused statically (a load
 * after the plate, or another element inside it).  A continuous latent
 * site inside a continuation would be a different parameter per pass; it
 * is refused with a hint to sample it first.
 */
#include "enumerate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- where a continuation ends ---- */

int enum_continuation_end(const IrCode *code, int pc)
{
    /* loops nest, so the first enclosing plate seen backwards is the innermost */
    for (int h = pc - 1; h >= 0; h--) {
        const IrInstr *x = &code->code[h];
        if (x->op == IR_LOOP && x->sub == 1 && x->jump - 1 > pc)
            return x->jump - 1;
    }
    return code->n;
}

/* Is the innermost loop around pc the plate headed at `head`? */
static int directly_in_plate(const IrCode *code, int pc, int head)
{
    for (int h = pc - 1; h > head; h--) {
        const IrInstr *x = &code->code[h];
        if (x->op == IR_LOOP && x->jump - 1 > pc)
            return 0;
    }
    return 1;
}

/* ---- the static check: no reads of a summed-out element elsewhere ---- */

static int reads_reg(const IrInstr *x, int r)
{
    switch (x->op) {
    case IR_CONST: case IR_LOAD: case IR_JUMP: case IR_ENDLOOP:
        return 0;
    case IR_STORE: case IR_UNOP: case IR_FACTOR: case IR_BRANCH: case IR_RETURN:
        return x->a == r;
    case IR_BINOP:
        return x->a == r || x->b == r;
    case IR_LOOP:
        return x->a == r || x->b == r || x->c == r;
    case IR_STORE_IDX: case IR_INDEX: case IR_SAMPLE:
        if (x->a == r || (x->op == IR_SAMPLE && x->b == r))
            return 1;
        break;
    default:
        break;
    }
    for (int k = 0; k < x->nargs; k++)
        if (x->args && x->args[k] == r)
            return 1;
    return 0;
}

/* A read z[idx] with exactly the site's index registers: the element of
 * this iteration. */
static int reads_own_element(const IrInstr *x, int r, const IrInstr *site)
{
    if (x->op != IR_INDEX || x->a != r || x->nargs != site->nidx)
        return 0;
    for (int k = 0; k < x->nargs; k++) {
        if (x->args[k] == r || x->args[k] != site->args[k])
            return 0;
        if (x->akind && x->akind[k] != 0)
            return 0;
    }
    return 1;
}

static void check_reads(Exec *ex, const IrCode *code, int pc, int end)
{
    if (end >= code->n)
        return; /* the continuation is the rest of the program */
    const IrInstr *site = &code->code[pc];
    const IrInstr *endloop = &code->code[end];
    int head = endloop->jump;
    const IrInstr *plate = &code->code[head];
    const char *name = ex->prog->vars[site->var].name;
    const char *label = plate->fn >= 0 && plate->fn < ex->prog->nplates
                            ? ex->prog->plates[plate->fn].label : "?";
    for (int i = end + 1; i < code->n; i++) {
        const IrInstr *x = &code->code[i];
        if (x->op == IR_LOAD && x->var == site->var)
            exec_fail(ex, x->line, x->col,
                      "'%s' is summed out inside plate %s (line %d), so it has no single value "
                      "after the plate and cannot be read here; use it inside the plate, or "
                      "observe it",
                      name, label, site->line);
        if (x->op != IR_LOAD)
            continue;
        /* a node assigned in the continuation holds one pass's value */
        for (int j = pc + 1; j < end; j++) {
            const IrInstr *st = &code->code[j];
            if ((st->op == IR_STORE || st->op == IR_STORE_IDX) && st->var == x->var)
                exec_fail(ex, x->line, x->col,
                          "'%s' is assigned after the summed-out site '%s' in plate %s (line %d), "
                          "so it has one value per value of '%s' and cannot be read after the "
                          "plate; assign it before '%s' if it does not depend on it",
                          ex->prog->vars[x->var].name, name, label, site->line, name, name);
        }
    }
    if (!directly_in_plate(code, pc, head))
        return; /* inner loops: later elements are read inside the continuation */
    for (int i = head + 1; i < end; i++) {
        const IrInstr *x = &code->code[i];
        if (x->op != IR_LOAD || x->var != site->var)
            continue;
        for (int j = i + 1; j < end; j++) {
            const IrInstr *u = &code->code[j];
            if (reads_reg(u, x->dst) && !reads_own_element(u, x->dst, site))
                exec_fail(ex, u->line, u->col,
                          "'%s' is summed out inside plate %s (line %d): only the element "
                          "sampled in this iteration can be read in the plate",
                          name, label, site->line);
        }
    }
}

/* ---- the support ---- */

/* "z" or "z[3]" or "z[2, 1]" */
static void site_label(const SiteMsg *m, char *buf, size_t n)
{
    if (m->nidx == 2)
        snprintf(buf, n, "%s[%d, %d]", m->name, m->idx[0], m->idx[1]);
    else if (m->nidx == 1)
        snprintf(buf, n, "%s[%d]", m->name, m->idx[0]);
    else
        snprintf(buf, n, "%s", m->name);
}

static double arg_at(Exec *ex, Value a, int i) { return value_get(ex, a, a.n == 1 ? 0 : i); }

/* Values lo[i]..hi[i] of each element; returns the number of joint
 * assignments, or fails. */
static long site_support(Exec *ex, const SiteMsg *m, const EnumScope *scope, int *lo, int *hi)
{
    const DistInfo *d = m->dist;
    int n = m->shape.n;
    long outer = scope ? scope->passes : 1, joint = 1;
    if (d->support == SUP_NATURAL || d->support == SUP_COUNT_VECTOR)
        exec_fail(ex, m->line, m->col,
                  "'%s' ~ %s is a latent discrete site with %s support, so it cannot be summed "
                  "out; observe it, marginalise it by hand over a finite range (log_sum_exp), or "
                  "use --infer is or prior",
                  m->name, d->name, d->support == SUP_NATURAL ? "unbounded" : "count-vector");
    if (!d->lpdf && n != 1)
        exec_fail(ex, m->line, m->col, "'%s' ~ %s: only a single value (one element) can be "
                  "summed out; sample it element by element in a plate", m->name, d->name);
    for (int i = 0; i < n; i++) {
        if (d->support == SUP_BINARY) {
            lo[i] = 0;
            hi[i] = 1;
        } else if (!d->lpdf) { /* Categorical and friends: 1..K, K the vector's length */
            lo[i] = 1;
            hi[i] = m->args[0].n;
        } else {               /* Binomial-like: 0..N */
            Value nv = m->args[d->hi_param];
            if (value_isvar(ex, nv))
                exec_fail(ex, m->line, m->col, "'%s' ~ %s: the number of trials depends on a "
                          "parameter, so the values to sum over are not fixed", m->name, d->name);
            double x = arg_at(ex, nv, i);
            if (!(x >= 0) || x != floor(x) || x > 1e6)
                exec_fail(ex, m->line, m->col, "'%s' ~ %s: %s = %g is not a valid count", m->name,
                          d->name, d->param_names[d->hi_param], x);
            lo[i] = 0;
            hi[i] = (int)x;
        }
        if (m->lo.slot >= 0 && arg_at(ex, m->lo, i) > lo[i])
            lo[i] = (int)ceil(arg_at(ex, m->lo, i));
        if (m->hi.slot >= 0 && arg_at(ex, m->hi, i) < hi[i])
            hi[i] = (int)floor(arg_at(ex, m->hi, i));
        if (hi[i] < lo[i])
            exec_fail(ex, m->line, m->col, "'%s' ~ %s has no value in its support to sum over",
                      m->name, d->name);
        joint *= hi[i] - lo[i] + 1;
        if (joint * outer > ENUM_MAX_PASSES)
            break;
    }
    if (joint * outer > ENUM_MAX_PASSES) {
        char label[96], nest[256] = "";
        site_label(m, label, sizeof label);
        if (scope)
            snprintf(nest, sizeof nest, ", inside the continuation of '%s' (line %d), which takes %ld",
                     scope->name, scope->line, scope->passes);
        exec_fail(ex, m->line, m->col,
                  "summing out '%s' would take more than %d passes of the rest of the model (its "
                  "values%s); put the site in a plate (one pass per value and element), or "
                  "marginalise it by hand with log_mix or log_sum_exp",
                  label, ENUM_MAX_PASSES, nest);
    }
    return joint;
}

/* Assignment k (mixed radix over the elements) as a constant value. */
static Value assignment(Exec *ex, const SiteMsg *m, const int *lo, const int *hi, long k)
{
    Value v;
    if (m->shape.rank == 0 && m->shape.n == 1)
        return value_const_scalar(ex, TY_INT, lo[0] + (double)k);
    v = value_new(ex, TY_INT, m->shape.rank, m->shape.dims[0], m->shape.dims[1], 0);
    for (int i = v.n - 1; i >= 0; i--) {
        long size = hi[i] - lo[i] + 1;
        ex->tape->val[v.slot + i] = lo[i] + (double)(k % size);
        k /= size;
    }
    return v;
}

/* ---- one site ---- */

typedef struct {
    Value *regs, *vars;
    unsigned char *bound;
    int *c;          /* slot of each pass's local target */
    int *lo, *hi;
} Work;

static void work_free(Work *w)
{
    if (!w)
        return;
    free(w->regs);
    free(w->vars);
    free(w->bound);
    free(w->c);
    free(w->lo);
    free(w->hi);
    free(w);
}

/* Registers, variables and bound flags back to the state at the site, so
 * every pass starts alike (loop counters of an enclosing for-loop too). */
static void restore(Exec *ex, ExecFrame *f, const Work *w)
{
    memcpy(f->regs, w->regs, sizeof(Value) * ((size_t)f->code->nregs + 1));
    memcpy(f->vars, w->vars, sizeof(Value) * ((size_t)f->nvars + 1));
    memcpy(ex->bound, w->bound, (size_t)ex->prog->nvars + 1);
}

/* Add scale * log_sum_exp of the passes' slots to the (enclosing) target. */
static void add_log_sum_exp(Tape *t, int *c, long n, double scale)
{
    int r = c[0], one = 1, k = (int)n;
    if (n > 1) {
        int lo = c[0], hi = c[0];
        for (long i = 1; i < n; i++) {
            lo = c[i] < lo ? c[i] : lo;
            hi = c[i] > hi ? c[i] : hi;
        }
        for (long i = 0; i < n; i++) /* offsets for the gather; c is not used again */
            c[i] -= lo;
        int g = tape_gather(t, lo, hi - lo + 1, c, k);
        r = tape_op(t, OP_LSE, 1, 1, &g, &k, NULL, NULL, 0);
    }
    if (scale != 1) {
        int in[2] = {r, tape_const(t, scale)}, inn[2] = {1, 1};
        r = tape_op(t, OP_MUL, 1, 2, in, inn, NULL, NULL, 0);
    }
    tape_op(t, OP_ACC, 0, 1, &r, &one, NULL, NULL, 1.0);
}

/* Index of a draw from softmax(lp[0..n-1]), or -1 if all are -inf/NaN. */
static long draw_softmax(gsl_rng *rng, const double *val, const int *c, long n)
{
    double mx = -INFINITY, total = 0;
    for (long k = 0; k < n; k++)
        if (val[c[k]] > mx)
            mx = val[c[k]];
    if (!(mx > -INFINITY) || !isfinite(mx))
        return -1;
    for (long k = 0; k < n; k++)
        total += isnan(val[c[k]]) ? 0 : exp(val[c[k]] - mx);
    double u = gsl_rng_uniform(rng) * total, acc = 0;
    for (long k = 0; k < n; k++) {
        acc += isnan(val[c[k]]) ? 0 : exp(val[c[k]] - mx);
        if (u < acc)
            return k;
    }
    return n - 1;
}

/* After the sum: the site has no single value, so it holds NaN. */
static void forget_value(Exec *ex, ExecFrame *f, const IrInstr *in, const SiteMsg *m)
{
    Value nan = value_const_scalar(ex, TY_REAL, NAN);
    if (in->nidx) {
        tape_assign(ex->tape, f->vars[in->var].slot + m->elem, nan.slot, 1);
        return;
    }
    Value v = value_new(ex, ex->prog->vars[in->var].type.base, m->shape.rank, m->shape.dims[0],
                        m->shape.dims[1], 0);
    for (int i = 0; i < v.n; i++)
        ex->tape->val[v.slot + i] = NAN;
    f->vars[in->var] = v;
}

int enum_site(Exec *ex, ExecFrame *f, int pc, const SiteMsg *m, int seen, const EnumScope *scope)
{
    const IrCode *code = f->code;
    const IrInstr *in = &code->code[pc];
    int mode = scope ? (scope->summing ? ENUM_SUM : ENUM_DRAW) : ex->policy.enumerate;
    int end = enum_continuation_end(code, pc);
    int n = m->shape.n > 0 ? m->shape.n : 1;
    /* on the heap, so that the error path below sees what was allocated */
    Work *w = calloc(1, sizeof *w);
    if (w) {
        w->lo = malloc(sizeof(int) * (size_t)n);
        w->hi = malloc(sizeof(int) * (size_t)n);
        w->regs = malloc(sizeof(Value) * ((size_t)code->nregs + 1));
        w->vars = malloc(sizeof(Value) * ((size_t)f->nvars + 1));
        w->bound = malloc((size_t)ex->prog->nvars + 1);
    }
    if (!w || !w->lo || !w->hi || !w->regs || !w->vars || !w->bound) {
        work_free(w);
        exec_fail(ex, m->line, m->col, "out of memory");
    }
    jmp_buf *outer = ex->on_error, here;
    if (setjmp(here)) {
        work_free(w);
        ex->on_error = outer;
        longjmp(*outer, 1);
    }
    ex->on_error = &here;
    long joint = site_support(ex, m, scope, w->lo, w->hi);
    w->c = malloc(sizeof(int) * (size_t)joint);
    if (!w->c)
        exec_fail(ex, m->line, m->col, "out of memory");
    if (mode == ENUM_SUM)
        check_reads(ex, code, pc, end);
    memcpy(w->regs, f->regs, sizeof(Value) * ((size_t)code->nregs + 1));
    memcpy(w->vars, f->vars, sizeof(Value) * ((size_t)f->nvars + 1));
    memcpy(w->bound, ex->bound, (size_t)ex->prog->nvars + 1);
    EnumScope sc = {scope, "", m->line, m->col, joint * (scope ? scope->passes : 1), 1};
    site_label(m, sc.name, sizeof sc.name);
    int before = ex->tape->nslots; /* storage older than the passes is shared by them */
    /* in a subsampled plate the iteration's marginal is scaled by N / B, not
       each pass's terms (the scale does not commute with log_sum_exp) */
    double scale = ex->subsample_scale;
    if (end < code->n)
        ex->subsample_scale = 1;
    for (long k = 0; k < joint; k++) {
        restore(ex, f, w);
        SiteMsg mk = *m;
        mk.value = assignment(ex, m, w->lo, w->hi, k);
        mk.has_value = 1;
        long w0 = tape_local_writes(ex->tape);
        int op0 = ex->tape->nops;
        tape_local_begin(ex->tape);
        exec_sample_finish(ex, f, in, &mk, seen);
        exec_range(ex, f, pc + 1, end, &sc);
        w->c[k] = tape_local_end(ex->tape);
        if (tape_local_rehome(ex->tape, w0, op0, before) != 0)
            exec_fail(ex, m->line, m->col,
                      "summing out '%s': its continuation reads several elements of a vector it "
                      "assigns element by element (a gather or a whole-vector read); read single "
                      "elements there, or assign the vector before '%s'",
                      sc.name, m->name);
    }
    ex->subsample_scale = scale;
    if (mode == ENUM_SUM) {
        add_log_sum_exp(ex->tape, w->c, joint, end < code->n ? scale : 1);
        forget_value(ex, f, in, m);
    } else {
        long k = draw_softmax(ex->rng, ex->tape->val, w->c, joint);
        if (k < 0)
            exec_fail(ex, m->line, m->col, "every value of '%s' has probability 0 given the rest "
                      "of the model at this draw", m->name);
        restore(ex, f, w);
        sc.summing = 0;
        SiteMsg mk = *m;
        mk.value = assignment(ex, m, w->lo, w->hi, k);
        mk.has_value = 1;
        exec_sample_finish(ex, f, in, &mk, seen);
        exec_range(ex, f, pc + 1, end, &sc);
    }
    ex->on_error = outer;
    work_free(w);
    return end;
}

void enum_refuse_param(Exec *ex, const SiteMsg *m, const EnumScope *scope)
{
    exec_fail(ex, m->line, m->col,
              "'%s' is a continuous latent site after '%s' (line %d), a latent discrete site that "
              "is summed out by running what follows it once per value; a continuous site cannot "
              "be in that part of its plate or program: sample '%s' before '%s' if it does not "
              "depend on it, or marginalise '%s' by hand",
              m->name, scope->name, scope->line, m->name, scope->name, scope->name);
}
