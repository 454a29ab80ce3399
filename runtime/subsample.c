/*
 * subsample.c - minibatches for `plate i in lo..hi subsample B`.
 *
 * Under SVI (ex->policy.subsample) a subsampled plate runs B iterations
 * whose index values are a uniform random subset of lo..hi drawn afresh on
 * every run of the model, and every density term recorded inside it
 * (sites through sample.c, `factor` through subsample_scale_factor, nested
 * plates) is multiplied by N / B.  The minibatch log density is then an
 * unbiased estimate of the full one, and so is its gradient, which is all
 * SVI's stochastic gradient needs; a step costs O(B) model work instead of
 * O(N).  Nested subsampled plates multiply their factors.
 *
 * State.  The executor's frame has no room for a per-loop index list, so
 * the minibatch lives on the tape (reset with every run, so nothing to
 * free): B constant slots of indices followed by the enclosing scale and
 * plate to restore at the end.  The plate's subsample-size register, which
 * the loop head has just read and nothing reads again, becomes a cursor
 * over those slots: a rank-1 value whose slot and count advance at each
 * ENDLOOP.  A rank-1 value there marks the loop as a running minibatch
 * (the compiler only lets an int scalar be a subsample size).  Restoring
 * the saved scale, rather than dividing by N / B, keeps nested scales
 * exact.  ex->subsample_active holds 1 + the plate id of the innermost
 * running minibatch (0 outside), for the message below.
 *
 * The subset is drawn by Floyd's algorithm: B uniform integers and a small
 * hash set, so the cost does not grow with N (gsl_ran_choose and a
 * Fisher-Yates shuffle both walk all N candidates).  The indices are not
 * sorted: a sum does not care about order, and sorting 500 indices cost
 * more than a tenth of a step of the example.
 *
 * A minibatch changes from run to run, so the tape cannot be replayed:
 * the loop head marks it dynamic, and model_logp_grad re-runs the model
 * for each evaluation.  Everything that needs a deterministic density
 * (SVI's mode search, the Laplace Hessian, the output rows) switches the
 * model back to full batches with subsample_model(m, 0), which records
 * the static tape again.
 *
 * A latent site inside a subsampled plate is refused under the policy: its
 * parameters would belong to the guide, and cm's guides are global (one
 * loc and scale per coordinate, updated every step), so the unvisited
 * rows' parameters would get no gradient while the visited ones get N / B
 * times theirs.  The check is a handler (pushed innermost by
 * subsample_model) that looks at each site after the other handlers
 * decided whether it is evidence.
 *
 * Without the policy (NUTS, HMC, prior, is, enum, counterfactual,
 * --check-grad) the plate is an ordinary loop over all N iterations, with
 * no scale, and one note per process says so; SVI silences the note with
 * subsample_quiet(), since its own full-batch runs are deliberate.  The
 * flag is process-wide (atomic: NUTS chains run in threads) because cmrun
 * runs one engine per process and the note is about that engine.
 */
#include "subsample.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "vops.h"

static atomic_int note_done; /* the note was printed, or the engine subsamples */

void subsample_quiet(void) { atomic_store(&note_done, 1); }

/* ---- drawing the subset ----------------------------------------------------- */

/* Insert key (> 0) into the open-addressed set; returns 0 if it was new. */
static int set_insert(int *set, size_t mask, int key)
{
    size_t h = ((unsigned)key * 2654435761u) & mask;
    while (set[h]) {
        if (set[h] == key)
            return 1;
        h = (h + 1) & mask;
    }
    set[h] = key;
    return 0;
}

int subsample_choose(gsl_rng *rng, int lo, int N, int B, int *out)
{
    size_t size = 16;
    while (size < 2 * (size_t)B)
        size *= 2;
    int *set = calloc(size, sizeof(int));
    if (!set)
        return -1;
    /* Floyd: for j = N-B+1..N take t uniform in 1..j, or j itself when t
       was taken; every B-subset comes out with the same probability */
    int n = 0;
    for (int j = N - B + 1; j <= N; j++) {
        int t = 1 + (int)gsl_rng_uniform_int(rng, (unsigned long)j);
        if (set_insert(set, size - 1, t)) {
            set_insert(set, size - 1, j); /* j is new: all taken so far are < j */
            t = j;
        }
        out[n++] = t;
    }
    free(set);
    for (int i = 0; i < B; i++)
        out[i] += lo - 1;
    return 0;
}

/* ---- the plate's loop --------------------------------------------------------- */

static const char *plate_name(const Exec *ex, const IrInstr *in)
{
    return in->sub ? ex->prog->plates[in->fn].name : "loop";
}

/* Once per process: this engine runs the subsampled plate as a full batch. */
static void note_full_batch(Exec *ex, const IrInstr *in, int N)
{
    if (ex->policy.placeholder || atomic_exchange(&note_done, 1))
        return; /* --check runs once to check shapes: nothing to say */
    diag_note(&ex->diag, in->line, in->col,
              "plate %s subsamples only under --infer svi; this engine runs all %d "
              "iterations (a full batch, no N / B scale)", plate_name(ex, in), N);
}

int subsample_loop_begin(Exec *ex, ExecFrame *f, const IrInstr *in, int lo, int hi, int B)
{
    long n = hi >= lo ? (long)hi - lo + 1 : 0;
    if (B < 1 || B > n)
        exec_fail(ex, in->line, in->col,
                  "subsample size %d of plate %s is out of range: it must be between 1 and N=%ld, "
                  "the plate's number of iterations", B, plate_name(ex, in), n);
    if (n > INT_MAX)
        exec_fail(ex, in->line, in->col, "plate %s has %ld iterations; a subsampled plate can have "
                  "at most %d", plate_name(ex, in), n, INT_MAX);
    int N = (int)n;
    if (!in->sub || B == N)
        return 0; /* a loop inside a function, or the whole plate anyway */
    if (!ex->policy.subsample || !ex->rng) {
        note_full_batch(ex, in, N);
        return 0;
    }
    int *idx = malloc(sizeof(int) * (size_t)B);
    if (!idx || subsample_choose(ex->rng, lo, N, B, idx) != 0) {
        free(idx);
        exec_fail(ex, in->line, in->col, "out of memory for a minibatch of %d", B);
    }
    /* the indices, then what to restore at the end (see the top comment) */
    Value cur = value_new(ex, TY_INT, 1, B + 2, 1, 0);
    double *val = ex->tape->val + cur.slot;
    for (int i = 0; i < B; i++)
        val[i] = idx[i];
    free(idx);
    val[B] = ex->subsample_scale;
    val[B + 1] = ex->subsample_active;
    ex->subsample_scale *= (double)N / B;
    ex->subsample_active = in->fn + 1;
    ex->tape->dynamic = 1; /* the next run draws another minibatch */
    cur.n = cur.dims[0] = B;
    double first = val[0];
    f->regs[in->c] = cur;
    f->regs[in->dst] = value_const_scalar(ex, TY_INT, first);
    return 1;
}

int subsample_loop_active(const ExecFrame *f, const IrInstr *head)
{
    return head->c >= 0 && f->regs[head->c].rank == 1;
}

int subsample_loop_next(Exec *ex, ExecFrame *f, const IrInstr *head)
{
    Value *cur = &f->regs[head->c];
    if (cur->n > 1) {
        cur->slot++;
        cur->n--;
        double i = ex->tape->val[cur->slot];
        f->regs[head->dst] = value_const_scalar(ex, TY_INT, i);
        return 1;
    }
    ex->subsample_scale = ex->tape->val[cur->slot + 1];
    ex->subsample_active = (int)ex->tape->val[cur->slot + 2];
    return 0;
}

Value subsample_scale_factor(Exec *ex, const IrInstr *in, Value v)
{
    if (ex->subsample_scale == 1)
        return v;
    return vops_elementwise(ex, in, OP_MUL, v, value_const_scalar(ex, TY_REAL, ex->subsample_scale));
}

/* ---- switching a model -------------------------------------------------------- */

static void refuse_local_latent(Handler *h, Exec *ex, SiteMsg *m)
{
    (void)h;
    if (!ex->subsample_active || m->kind != MSG_SAMPLE || m->observed || m->intervened)
        return;
    if (ex->policy.enumerate && m->dist && support_is_discrete(m->dist->support))
        return; /* summed out inside the iteration (enumerate.c): nothing for a guide to fit */
    exec_fail(ex, m->line, m->col,
              "latent site '%s' is local to the subsampled plate %s: cm's guides are global; move "
              "it out of the plate or drop subsample", m->name,
              ex->prog->plates[ex->subsample_active - 1].name);
}

static Handler local_latent_check = {"subsample", NULL, refuse_local_latent, NULL};

int subsample_model(Model *m, int on)
{
    Exec *ex = &m->ex;
    int pushed = 0;
    for (int i = 0; i < ex->nhandlers; i++)
        pushed |= ex->handlers[i] == &local_latent_check;
    if (!pushed)
        exec_push(ex, &local_latent_check);
    if (on && !ex->policy.subsample) {
        /* the model's generator starts from the engine's seed, as the
           engine's own does: move it to another stream, so that the
           minibatches do not repeat the pattern of the guide's draws */
        unsigned long s = gsl_rng_get(m->rng);
        gsl_rng_set(m->rng, s * 2654435761UL + 0x9e3779b9UL);
    }
    ex->policy.subsample = on;
    /* record the tape again (at q = 0, where model_init recorded it): it
       stays static unless a minibatch ran or the control flow depends on
       a parameter, which is what makes model_logp_grad re-run it */
    trace_clear(&m->trace);
    param_begin_run(&m->param, NULL);
    if (exec_run(ex) != 0) {
        m->failed = 1;
        return -1;
    }
    return 0;
}
