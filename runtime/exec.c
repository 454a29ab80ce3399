/*
 * exec.c - the IR executor.
 *
 * A straightforward loop over instructions with a register file per call
 * frame.  All arithmetic goes through the tape (vops.c), which folds
 * constant work and records parameter-dependent work, so this file knows
 * nothing about derivatives.  Shape errors, out-of-range indices and bad
 * data are reported here with the instruction's source location, and end
 * the run through a longjmp to exec_run (the run's allocations all belong
 * to the tape or to the frame list, which exec_run releases).
 *
 * The loop runs a range of a frame's instructions (run_range), so that a
 * summed-out discrete site can run its continuation (the rest of its plate
 * iteration, or of the program) once per value and then resume after it:
 * SAMPLE returns the pc to continue from (enumerate.c).
 */
#include "exec.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "enumerate.h"
#include "subsample.h"
#include "vops.h"

void exec_init(Exec *ex, const Program *p, const DataSet *data, Tape *tape, gsl_rng *rng)
{
    memset(ex, 0, sizeof *ex);
    ex->prog = p;
    ex->data = data;
    ex->tape = tape;
    ex->rng = rng;
    ex->policy = (ExecPolicy){.draw_missing = 1, .density_latent = 1, .density_observed = 1, .placeholder = 0};
    ex->vars = calloc((size_t)p->nvars + 1, sizeof(Value));
    ex->bound = calloc((size_t)p->nvars + 1, 1);
    if (!ex->vars || !ex->bound) {
        fprintf(stderr, "cmrun: out of memory\n");
        exit(3);
    }
    diag_init(&ex->diag, p->src);
    ex->subsample_scale = 1;
}

/* Frames (registers, a function's locals) are taken from blocks kept
 * across runs and handed out in stack order, so that running the model
 * again - every evaluation of a model whose control flow reads a
 * parameter - allocates nothing once its deepest call has been seen.  A
 * block is never moved (outer frames point into it); a frame that does not
 * fit in what is left of the current block starts the next one. */
typedef struct FrameBlock {
    struct FrameBlock *next, *prev;
    size_t cap, used;
    Value v[];
} FrameBlock;

typedef struct {
    FrameBlock *block;
    size_t used;
} FrameMark;

static FrameBlock *frame_block_new(FrameBlock *tail, size_t n)
{
    size_t cap = n > 4096 ? n : 4096;
    FrameBlock *b = malloc(sizeof *b + cap * sizeof(Value));
    if (!b)
        return NULL;
    *b = (FrameBlock){NULL, tail, cap, 0};
    if (tail)
        tail->next = b;
    return b;
}

/* n zeroed Values, and the mark that frame_pop restores.  The blocks after
 * the current one are free: the first big enough is taken (its old `used`
 * means nothing), or a new one is appended. */
static Value *frame_push(Exec *ex, size_t n, FrameMark *mark)
{
    FrameBlock *b = ex->frames;
    *mark = (FrameMark){b, b ? b->used : 0};
    if (!b) {
        b = frame_block_new(NULL, n);
    } else if (b->used + n > b->cap) {
        FrameBlock *last = b;
        for (b = b->next; b && b->cap < n; b = b->next)
            last = b;
        if (b)
            b->used = 0;
        else
            b = frame_block_new(last, n);
    }
    if (!b)
        return NULL;
    ex->frames = b;
    Value *v = b->v + b->used;
    b->used += n;
    memset(v, 0, n * sizeof(Value));
    return v;
}

static void frame_pop(Exec *ex, const FrameMark *mark)
{
    if (mark->block) {
        mark->block->used = mark->used;
        ex->frames = mark->block;
    } else if (ex->frames) { /* the outermost frame: rewind to the first block */
        FrameBlock *b = ex->frames;
        while (b->prev)
            b = b->prev;
        b->used = 0;
        ex->frames = b;
    }
}

void exec_free(Exec *ex)
{
    free(ex->vars);
    free(ex->bound);
    ex->vars = NULL;
    ex->bound = NULL;
    FrameBlock *b = ex->frames;
    while (b && b->prev)
        b = b->prev;
    while (b) {
        FrameBlock *next = b->next;
        free(b);
        b = next;
    }
    ex->frames = NULL;
    free(ex->ixbuf);
    ex->ixbuf = NULL;
    ex->ixcap = 0;
}

void exec_push(Exec *ex, Handler *h)
{
    if (ex->nhandlers == EXEC_MAX_HANDLERS) {
        fprintf(stderr, "cmrun: too many effect handlers\n");
        exit(3);
    }
    memmove(ex->handlers + 1, ex->handlers, sizeof(Handler *) * (size_t)ex->nhandlers);
    ex->handlers[0] = h;
    ex->nhandlers++;
}

void exec_clear_handlers(Exec *ex) { ex->nhandlers = 0; }

void exec_fail(Exec *ex, int line, int col, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!ex->failed)
        diag_error(&ex->diag, line, col, "%s", msg);
    ex->failed = 1;
    longjmp(*ex->on_error, 1);
}

/* ---- values ---- */

Value value_new(Exec *ex, int base, int rank, int d0, int d1, int isvar)
{
    Value v;
    v.base = (unsigned char)base;
    v.rank = (unsigned char)rank;
    v.dims[0] = rank >= 1 ? d0 : 1;
    v.dims[1] = rank >= 2 ? d1 : 1;
    v.n = v.dims[0] * v.dims[1];
    v.slot = isvar ? tape_inputs(ex->tape, v.n) : tape_consts(ex->tape, NULL, v.n);
    return v;
}

Value value_const_scalar(Exec *ex, int base, double x)
{
    Value v = {(unsigned char)base, 0, {1, 1}, 1, tape_const(ex->tape, x)};
    return v;
}

double value_get(const Exec *ex, Value v, int i) { return ex->tape->val[v.slot + i]; }

int value_isvar(const Exec *ex, Value v) { return tape_range_isvar(ex->tape, v.slot, v.n); }

void value_describe(Value v, char *buf, size_t n)
{
    static const char *b[] = {"int", "real", "bool"};
    if (v.rank == 0)
        snprintf(buf, n, "%s", b[v.base]);
    else if (v.rank == 1)
        snprintf(buf, n, "%s[%d]", b[v.base], v.dims[0]);
    else
        snprintf(buf, n, "%s[%d, %d]", b[v.base], v.dims[0], v.dims[1]);
}

/* ---- frames ---- */

typedef ExecFrame Frame;

static int int_of(Exec *ex, const IrInstr *in, Value v, const char *what)
{
    if (v.n != 1)
        exec_fail(ex, in->line, in->col, "%s must be a scalar", what);
    double x = value_get(ex, v, 0);
    if (value_isvar(ex, v))
        ex->tape->dynamic = 1;
    if (x != floor(x) || fabs(x) > 2e9)
        exec_fail(ex, in->line, in->col, "%s must be an integer, got %g", what, x);
    return (int)x;
}

/* Copy a data variable into constant slots, checking it against what the
 * model declares. */
static Value bind_data(Exec *ex, const IrInstr *in, const IrVar *v, const DataVar *dv,
                       const int *dims, int nd)
{
    char want[64], got[64];
    static const char *b[] = {"int", "real", "bool"};
    if (nd == 0)
        snprintf(want, sizeof want, "%s", b[v->type.base]);
    else if (nd == 1)
        snprintf(want, sizeof want, "%s[%d]", b[v->type.base], dims[0]);
    else
        snprintf(want, sizeof want, "%s[%d, %d]", b[v->type.base], dims[0], dims[1]);
    data_describe(dv, got, sizeof got);
    int ok = dv->rank == nd;
    for (int k = 0; ok && k < nd; k++)
        ok = dv->dims[k] == dims[k];
    if (ok && (v->type.base == TY_INT || v->type.base == TY_BOOL) && dv->type != DATA_INT)
        ok = 0;
    if (!ok)
        exec_fail(ex, in->line, in->col, "data '%s' (from %s): expected %s, found %s", v->name,
                  dv->origin ? dv->origin : "data", want, got);
    for (size_t i = 0; i < dv->n && (!dv->all_finite || v->type.base == TY_BOOL); i++) {
        if (!isfinite(dv->x[i]))
            exec_fail(ex, in->line, in->col, "data '%s' (from %s): element %zu is %g; data must be finite",
                      v->name, dv->origin ? dv->origin : "data", i + 1, dv->x[i]);
        if (v->type.base == TY_BOOL && dv->x[i] != 0 && dv->x[i] != 1)
            exec_fail(ex, in->line, in->col, "data '%s': a bool must be 0 or 1, found %g", v->name,
                      dv->x[i]);
    }
    Value val = value_new(ex, v->type.base, nd, nd >= 1 ? dims[0] : 1, nd >= 2 ? dims[1] : 1, 0);
    memcpy(ex->tape->val + val.slot, dv->x, sizeof(double) * dv->n);
    return val;
}

/* Send a message through the handler stack: process innermost-first until
 * one stops it, then postprocess those that saw it, outermost-first. */
static void run_handlers(Exec *ex, SiteMsg *m)
{
    int seen = 0;
    for (int i = 0; i < ex->nhandlers; i++) {
        seen = i + 1;
        if (ex->handlers[i]->process)
            ex->handlers[i]->process(ex->handlers[i], ex, m);
        if (m->stop)
            break;
    }
    for (int i = seen - 1; i >= 0; i--)
        if (ex->handlers[i]->postprocess)
            ex->handlers[i]->postprocess(ex->handlers[i], ex, m);
}

static void exec_data(Exec *ex, Frame *f, const IrInstr *in)
{
    const IrVar *v = &ex->prog->vars[in->var];
    int dims[2] = {1, 1};
    for (int k = 0; k < in->nargs; k++) {
        dims[k] = int_of(ex, in, f->regs[in->args[k]], "a size");
        if (dims[k] < 0)
            exec_fail(ex, in->line, in->col, "size of '%s' is negative (%d)", v->name, dims[k]);
    }
    if (v->role == VAR_DATA) {
        const DataVar *dv = ex->data ? data_find(ex->data, v->name) : NULL;
        if (!dv)
            exec_fail(ex, in->line, in->col, "missing data: '%s' is declared here but was not given "
                      "(--data FILE or --set %s=VALUE)", v->name, v->name);
        f->vars[in->var] = bind_data(ex, in, v, dv, dims, in->nargs);
        return;
    }
    /* a site declared as data: observed if a handler binds it */
    SiteMsg m;
    memset(&m, 0, sizeof m);
    m.kind = MSG_BIND;
    m.var = in->var;
    m.name = v->name;
    m.elem = -1;
    m.scale = 1;
    m.line = in->line;
    m.col = in->col;
    m.shape.base = v->type.base;
    m.shape.rank = (unsigned char)in->nargs;
    m.shape.dims[0] = dims[0];
    m.shape.dims[1] = dims[1];
    m.shape.n = dims[0] * dims[1];
    m.shaped = 1;
    run_handlers(ex, &m);
    if (m.has_value) {
        char want[64], got[64];
        value_describe(m.shape, want, sizeof want);
        value_describe(m.value, got, sizeof got);
        if (m.value.n != m.shape.n || (in->nargs && m.value.rank != in->nargs))
            exec_fail(ex, in->line, in->col, "'%s' is declared %s but its value is %s", v->name, want,
                      got);
        m.value.rank = (unsigned char)in->nargs;
        m.value.dims[0] = dims[0];
        m.value.dims[1] = dims[1];
        m.value.base = v->type.base;
        f->vars[in->var] = m.value;
        ex->bound[in->var] = m.observed ? 1 : 2;
    } else {
        Value s = value_new(ex, v->type.base, in->nargs, dims[0], dims[1], 0);
        for (int i = 0; i < s.n; i++)
            ex->tape->val[s.slot + i] = NAN;
        f->vars[in->var] = s;
        ex->bound[in->var] = 0;
    }
}

static void exec_alloc(Exec *ex, Frame *f, const IrInstr *in)
{
    int dims[2] = {1, 1};
    for (int k = 0; k < in->nargs; k++) {
        dims[k] = int_of(ex, in, f->regs[in->args[k]], "a size");
        if (dims[k] < 0)
            exec_fail(ex, in->line, in->col, "size of '%s' is negative (%d)", f->vinfo[in->var].name,
                      dims[k]);
    }
    if (f->vars == ex->vars && ex->bound[in->var])
        return; /* bound by --given: its value is already there */
    Value s = value_new(ex, f->vinfo[in->var].type.base, in->nargs, dims[0], dims[1], 0);
    for (int i = 0; i < s.n; i++)
        ex->tape->val[s.slot + i] = NAN; /* reading an undefined element shows as NaN */
    f->vars[in->var] = s;
}

/* Flat offset of var[idx...] (1-based), with bounds checks; *len gets the
 * element count (a row for one index into a matrix). */
static int elem_offset(Exec *ex, const IrInstr *in, Value v, const int *idx, int nidx, int *len,
                       const char *name)
{
    if (v.slot < 0)
        exec_fail(ex, in->line, in->col, "'%s' has no storage (define it before indexing)", name);
    if (nidx > v.rank)
        exec_fail(ex, in->line, in->col, "too many indices for '%s' (%d-dimensional)", name, v.rank);
    int off = 0, stride = v.n;
    for (int k = 0; k < nidx; k++) {
        stride /= v.dims[k];
        if (idx[k] < 1 || idx[k] > v.dims[k])
            exec_fail(ex, in->line, in->col, "index %d out of range for '%s' (dimension %d has size %d)",
                      idx[k], name, k + 1, v.dims[k]);
        off += (idx[k] - 1) * stride;
    }
    *len = stride;
    return off;
}

/* X[:, k] = v, X[a..b] = v ...: the selected elements, in row-major order
 * of the selection, get v's elements (the same count), one run of
 * consecutive offsets at a time. */
static void exec_store_slice(Exec *ex, Frame *f, const IrInstr *in)
{
    const char *name = f->vinfo[in->var].name;
    Value dst = f->vars[in->var], src = f->regs[in->a];
    if (dst.slot < 0)
        exec_fail(ex, in->line, in->col, "'%s' has no storage (declare it before assigning part of it)",
                  name);
    int total, rank, dims[2];
    int *flat = vops_index_offsets(ex, in, dst, f->regs, &total, &rank, dims);
    if (src.n != total) {
        char g[64];
        value_describe(src, g, sizeof g);
        exec_fail(ex, in->line, in->col, "the part of '%s' assigned holds %d element%s, but the value is %s",
                  name, total, total == 1 ? "" : "s", g);
    }
    for (int i = 0; i < total;) {
        int run = 1;
        while (i + run < total && flat[i + run] == flat[i] + run)
            run++;
        tape_assign(ex->tape, dst.slot + flat[i], src.slot + i, run);
        i += run;
    }
}

static void exec_store_idx(Exec *ex, Frame *f, const IrInstr *in)
{
    if (in->akind) {
        exec_store_slice(ex, f, in);
        return;
    }
    const char *name = f->vinfo[in->var].name;
    int idx[2];
    for (int k = 0; k < in->nargs; k++)
        idx[k] = int_of(ex, in, f->regs[in->args[k]], "an index");
    Value dst = f->vars[in->var], src = f->regs[in->a];
    int len;
    int off = elem_offset(ex, in, dst, idx, in->nargs, &len, name);
    if (src.n != len) {
        char g[64];
        value_describe(src, g, sizeof g);
        exec_fail(ex, in->line, in->col, "'%s[...]' holds %d element%s, but the value is %s", name, len,
                  len == 1 ? "" : "s", g);
    }
    tape_assign(ex->tape, dst.slot + off, src.slot, len);
}

static void exec_store(Exec *ex, Frame *f, const IrInstr *in)
{
    Value src = f->regs[in->a];
    const IrVar *v = &f->vinfo[in->var];
    Value dst = f->vars[in->var];
    if (v->indexed && dst.slot >= 0) {
        /* declared storage: copy, checking the shape */
        if (dst.n != src.n || (src.rank && src.rank != dst.rank)) {
            char w[64], g[64];
            value_describe(dst, w, sizeof w);
            value_describe(src, g, sizeof g);
            exec_fail(ex, in->line, in->col, "'%s' is %s, but the value is %s", v->name, w, g);
        }
        tape_assign(ex->tape, dst.slot, src.slot, src.n);
        return;
    }
    if (v->type.base == TY_REAL)
        src.base = TY_REAL;
    f->vars[in->var] = src;
}

static Value exec_vec(Exec *ex, Frame *f, const IrInstr *in)
{
    Value first = f->regs[in->args[0]];
    int n = in->nargs, m = first.n;
    int base = TY_INT;
    for (int k = 0; k < n; k++) {
        Value e = f->regs[in->args[k]];
        if (e.n != m)
            exec_fail(ex, in->line, in->col, "matrix literal rows differ in length (%d and %d)", m, e.n);
        if (e.base == TY_REAL)
            base = TY_REAL;
    }
    Value out = first.rank == 0 ? value_new(ex, base, 1, n, 1, 0) : value_new(ex, base, 2, n, m, 0);
    for (int k = 0; k < n; k++)
        tape_assign(ex->tape, out.slot + k * m, f->regs[in->args[k]].slot, m);
    return out;
}

static Value exec_code(Exec *ex, const IrCode *code, Value *vars, const IrVar *vinfo, int nvars);

static Value call_fn(Exec *ex, Frame *f, const IrInstr *in)
{
    const IrFn *fn = &ex->prog->fns[in->fn];
    if (ex->depth >= 100)
        exec_fail(ex, in->line, in->col, "function calls nested more than 100 deep (runaway recursion in '%s'?)",
                  fn->name);
    FrameMark mark;
    Value *locals = frame_push(ex, (size_t)fn->nvars + 1, &mark);
    if (!locals)
        exec_fail(ex, in->line, in->col, "out of memory");
    for (int k = 0; k < fn->nvars; k++)
        locals[k].slot = -1;
    for (int k = 0; k < fn->nparams; k++) {
        locals[k] = f->regs[in->args[k]];
        if (fn->ptypes[k].base == TY_REAL)
            locals[k].base = TY_REAL;
    }
    ex->depth++;
    jmp_buf *outer = ex->on_error, here;
    if (setjmp(here)) {
        frame_pop(ex, &mark);
        ex->on_error = outer;
        ex->depth--;
        longjmp(*outer, 1);
    }
    ex->on_error = &here;
    Value r = exec_code(ex, &fn->code, locals, fn->vars, fn->nvars);
    ex->on_error = outer;
    ex->depth--;
    frame_pop(ex, &mark);
    if (r.slot < 0)
        exec_fail(ex, in->line, in->col, "function '%s' ended without returning a value", fn->name);
    if (fn->ret.base == TY_REAL)
        r.base = TY_REAL;
    return r;
}

static Value run_range(Exec *ex, Frame *f, int pc, int end, const EnumScope *scope);

static Value exec_code(Exec *ex, const IrCode *code, Value *vars, const IrVar *vinfo, int nvars)
{
    FrameMark mark;
    Frame fr = {code, frame_push(ex, (size_t)code->nregs + 1, &mark), vars, vinfo, nvars};
    if (!fr.regs)
        exec_fail(ex, 0, 0, "out of memory");
    jmp_buf *outer = ex->on_error, here;
    if (setjmp(here)) {
        frame_pop(ex, &mark);
        ex->on_error = outer;
        longjmp(*outer, 1);
    }
    ex->on_error = &here;
    Value ret = run_range(ex, &fr, 0, code->n, NULL);
    ex->on_error = outer;
    frame_pop(ex, &mark);
    return ret;
}

void exec_range(Exec *ex, ExecFrame *f, int start, int end, const EnumScope *scope)
{
    run_range(ex, f, start, end, scope);
}

/* Instructions [pc, end) of a frame: the whole code block, or the
 * continuation of a summed-out site (enumerate.c), whose SAMPLEs see the
 * enclosing sites in `scope`.  Jumps stay inside the range except
 * backwards, to the head of a loop that the range ends after. */
static Value run_range(Exec *ex, Frame *f, int pc, int end, const EnumScope *scope)
{
    const IrCode *code = f->code;
    const IrVar *vinfo = f->vinfo;
    Value ret = {0, 0, {0, 0}, 0, -1};
    while (pc < end) {
        const IrInstr *in = &code->code[pc];
        switch (in->op) {
        case IR_CONST:
            f->regs[in->dst] = value_const_scalar(ex, in->sub, in->num);
            break;
        case IR_DATA:
            exec_data(ex, f, in);
            break;
        case IR_ALLOC:
            exec_alloc(ex, f, in);
            break;
        case IR_LOAD: {
            Value v = f->vars[in->var];
            if (v.slot < 0 && v.n == 0)
                exec_fail(ex, in->line, in->col, "'%s' is used before it has a value",
                          vinfo[in->var].name);
            f->regs[in->dst] = v;
            break;
        }
        case IR_STORE:
            exec_store(ex, f, in);
            break;
        case IR_STORE_IDX:
            exec_store_idx(ex, f, in);
            break;
        case IR_INDEX:
            f->regs[in->dst] = vops_index(ex, in, f->regs[in->a], f->regs);
            break;
        case IR_UNOP:
            f->regs[in->dst] = in->sub == '=' ? f->regs[in->a] : vops_unary(ex, in, in->sub, f->regs[in->a]);
            break;
        case IR_BINOP:
            f->regs[in->dst] = vops_binary(ex, in, in->sub, f->regs[in->a], f->regs[in->b]);
            break;
        case IR_CALL: {
            Value args[8];
            for (int k = 0; k < in->nargs && k < 8; k++)
                args[k] = f->regs[in->args[k]];
            f->regs[in->dst] = vops_builtin(ex, in, args, in->nargs);
            break;
        }
        case IR_CALL_FN:
            f->regs[in->dst] = call_fn(ex, f, in);
            break;
        case IR_CALL_EXT: {
            Value args[16];
            for (int k = 0; k < in->nargs && k < 16; k++)
                args[k] = f->regs[in->args[k]];
            f->regs[in->dst] = vops_extern(ex, in, args, in->nargs);
            break;
        }
        case IR_LPDF: {
            Value args[DIST_MAX_PARAMS + 1];
            for (int k = 0; k < in->nargs; k++)
                args[k] = f->regs[in->args[k]];
            f->regs[in->dst] = vops_lpdf_value(ex, in, in->dist, args, in->nargs);
            break;
        }
        case IR_VEC:
            f->regs[in->dst] = exec_vec(ex, f, in);
            break;
        case IR_SAMPLE:
            pc = exec_sample_at(ex, f, pc, scope); /* past a summed-out continuation */
            continue;
        case IR_FACTOR: {
            if (in->var >= 0 && ex->last_site_cut)
                break; /* a user distribution's density: do() cut it */
            Value v = subsample_scale_factor(ex, in, f->regs[in->a]); /* N / B in a minibatch */
            int s = v.slot, n = v.n;
            tape_op(ex->tape, OP_ACC, 0, 1, &s, &n, NULL, NULL, 1.0);
            break;
        }
        case IR_LOOP: {
            int lo = int_of(ex, in, f->regs[in->a], "a loop bound");
            int hi = int_of(ex, in, f->regs[in->b], "a loop bound");
            if (in->c >= 0 && subsample_loop_begin(ex, f, in, lo, hi,
                                                   int_of(ex, in, f->regs[in->c], "a subsample size")))
                break; /* a minibatch: subsample.c runs its indices */
            if (lo > hi) {
                pc = in->jump;
                continue;
            }
            f->regs[in->dst] = value_const_scalar(ex, TY_INT, lo);
            break;
        }
        case IR_ENDLOOP: {
            const IrInstr *head = &code->code[in->jump];
            if (subsample_loop_active(f, head)) {
                if (subsample_loop_next(ex, f, head)) {
                    pc = in->jump + 1;
                    continue;
                }
                break;
            }
            int i = (int)value_get(ex, f->regs[head->dst], 0) + 1;
            int hi = (int)value_get(ex, f->regs[head->b], 0);
            if (i <= hi) {
                f->regs[head->dst] = value_const_scalar(ex, TY_INT, i);
                pc = in->jump + 1;
                continue;
            }
            break;
        }
        case IR_BRANCH: {
            Value c = f->regs[in->a];
            if (value_isvar(ex, c))
                ex->tape->dynamic = 1;
            if (value_get(ex, c, 0) == 0) {
                pc = in->jump;
                continue;
            }
            break;
        }
        case IR_JUMP:
            pc = in->jump;
            continue;
        case IR_RETURN:
            ret = f->regs[in->a];
            pc = code->n;
            continue;
        }
        pc++;
    }
    return ret;
}

int exec_run(Exec *ex) { return exec_run_world(ex, 1); }

int exec_run_world(Exec *ex, int reset_tape)
{
    const Program *p = ex->prog;
    if (reset_tape)
        tape_reset(ex->tape);
    ex->failed = 0;
    ex->depth = 0;
    ex->subsample_scale = 1; /* a failed run may have stopped inside a minibatch */
    ex->subsample_active = 0;
    for (int i = 0; i < p->nvars; i++) {
        memset(&ex->vars[i], 0, sizeof(Value));
        ex->vars[i].slot = -1;
        ex->bound[i] = 0;
    }
    jmp_buf top;
    if (setjmp(top))
        return -1;
    ex->on_error = &top;
    exec_code(ex, &p->main, ex->vars, p->vars, p->nvars);
    ex->on_error = NULL;
    return 0;
}
