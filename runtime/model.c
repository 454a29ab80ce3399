/*
 * model.c - trace once, then evaluate the log density fast.
 *
 * The gradient engines run the executor with policy.enumerate = ENUM_SUM:
 * latent discrete sites are summed out into the traced tape (enumerate.c),
 * and their columns in the trace hold NaN.  An output row of such a model
 * is a second run in ENUM_DRAW mode, which draws each of those sites from
 * its conditional at the point, followed by a fresh trace for the
 * gradients: two runs per row instead of a replay, only for these models.
 */
#include "model.h"

#include "enumerate.h"
#include "native.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void push_standard(Model *m)
{
    exec_clear_handlers(&m->ex);
    exec_push(&m->ex, &m->trace.h);
    exec_push(&m->ex, &m->param.h);
    exec_push(&m->ex, &m->cond.h);
    if (m->dos)
        exec_push(&m->ex, &m->dos->h);
}

/* Is variable v part of the output: a latent site or a reported node? */
static int outputs(const Program *p, const Exec *ex, int v)
{
    const IrVar *iv = &p->vars[v];
    if (!iv->reported || ex->vars[v].slot < 0)
        return 0;
    if (iv->role == VAR_SITE && ex->bound[v] == 1)
        return 0; /* evidence is input, not output */
    return 1;
}

int model_columns(const Program *p, const Exec *ex, char ***names_out, int **var_out, int **off_out)
{
    int n = 0;
    for (int v = 0; v < p->nvars; v++)
        if (outputs(p, ex, v))
            n += ex->vars[v].n;
    char **names = calloc((size_t)n + 1, sizeof(char *));
    int *cv = calloc((size_t)n + 1, sizeof(int)), *co = calloc((size_t)n + 1, sizeof(int));
    if (!names || !cv || !co) {
        fprintf(stderr, "cmrun: out of memory\n");
        exit(3);
    }
    int k = 0;
    for (int v = 0; v < p->nvars; v++) {
        if (!outputs(p, ex, v))
            continue;
        Value x = ex->vars[v];
        char buf[256];
        if (x.rank == 0 && x.n == 1) {
            names[k] = strdup(p->vars[v].name);
            cv[k] = v;
            co[k++] = 0;
        } else if (x.rank <= 1) {
            for (int i = 0; i < x.n; i++) {
                snprintf(buf, sizeof buf, "%s.%d", p->vars[v].name, i + 1);
                names[k] = strdup(buf);
                cv[k] = v;
                co[k++] = i;
            }
        } else { /* column-major, as CmdStan */
            for (int j = 0; j < x.dims[1]; j++)
                for (int i = 0; i < x.dims[0]; i++) {
                    snprintf(buf, sizeof buf, "%s.%d.%d", p->vars[v].name, i + 1, j + 1);
                    names[k] = strdup(buf);
                    cv[k] = v;
                    co[k++] = i * x.dims[1] + j;
                }
        }
    }
    *names_out = names;
    *var_out = cv;
    *off_out = co;
    return n;
}

void model_free_columns(char **names, int n, int *col_var, int *col_off)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(col_var);
    free(col_off);
}

double model_column_value(const Exec *ex, const Program *p, int var, int off)
{
    (void)p;
    return ex->tape->val[ex->vars[var].slot + off];
}

static int model_native_attach(Model *m);

int model_init(Model *m, const Program *p, const DataSet *data, DoHandler *dos, unsigned long seed)
{
    memset(m, 0, sizeof *m);
    m->prog = p;
    m->data = data;
    m->dos = dos;
    tape_init(&m->tape);
    m->rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(m->rng, seed);
    exec_init(&m->ex, p, data, &m->tape, m->rng);
    m->ex.policy = (ExecPolicy){.draw_missing = 0, .density_latent = 1, .density_observed = 1, .placeholder = 0,
                                .enumerate = ENUM_SUM};
    condition_init(&m->cond, data);
    param_init(&m->param);
    trace_init(&m->trace);
    push_standard(m);
    param_begin_run(&m->param, NULL);
    if (exec_run(&m->ex) != 0)
        return -1;
    m->param.discovering = 0;
    m->dim = m->param.dim;
    m->ncols = model_columns(p, &m->ex, &m->names, &m->col_var, &m->col_off);
    return model_native_attach(m);
}

/* The native tier (native.h): attach the tape's code, loaded at once when
 * cached; under --jit on, build it now or fail. */
static void native_reattach(Model *m, char *why, size_t whylen)
{
    m->native = native_attach(&m->tape, m->param.slots, m->dim, why, whylen);
    m->native_epoch = m->tape.epoch;
    m->native_requested = 0;
}

static int model_native_attach(Model *m)
{
    char why[512];
    native_reattach(m, why, sizeof why);
    if (native_mode() != JIT_ON)
        return 0;
    if (!m->native) {
        fprintf(stderr, "cmrun: --jit on: this model cannot run as native code: %s "
                        "(use --jit auto or off)\n", why);
        return -1;
    }
    char err[1024];
    if (native_build_now(m->native, &m->tape, m->param.slots, m->dim, err, sizeof err) != 0) {
        fprintf(stderr, "cmrun: --jit on: cannot compile the model's native code: %s\n", err);
        return -1;
    }
    return 0;
}

void model_free(Model *m)
{
    model_free_columns(m->names, m->ncols, m->col_var, m->col_off);
    exec_free(&m->ex);
    tape_free(&m->tape);
    param_free(&m->param);
    trace_free(&m->trace);
    if (m->rng)
        gsl_rng_free(m->rng);
    memset(m, 0, sizeof *m);
}

/* The loaded native code for the tape as recorded now, or NULL: none
 * while the model is re-run at every evaluation (a dynamic tape, SVI's
 * minibatches); when the tape has been recorded again since (subsample_model
 * going back to full batches), the code for the new recording's layout.
 * Under --jit auto, a run that has become long asks for the code once and
 * then looks now and then whether the compiler has finished. */
static NativeLogpGrad native_ready(Model *m)
{
    if (m->tape.dynamic)
        return NULL;
    if (m->tape.epoch != m->native_epoch) {
        char why[512];
        native_reattach(m, why, sizeof why);
    }
    NativeCode *nc = m->native;
    NativeLogpGrad fn = nc ? native_function(nc) : NULL;
    if (fn || !nc || native_mode() != JIT_AUTO)
        return fn;
    if (!m->native_requested && m->n_evals >= NATIVE_HOT_EVALS) {
        m->native_requested = 1;
        native_request(nc, &m->tape, m->param.slots, m->dim);
    } else if (m->native_requested && (m->n_evals & 255) == 0) {
        native_poll(nc);
    }
    return NULL;
}

/* The interpreter: write the inputs and replay, or re-run the model when
 * its control flow depends on the parameters. */
static int interpret(Model *m, const double *q)
{
    if (!m->tape.dynamic) {
        for (int i = 0; i < m->dim; i++)
            m->tape.val[m->param.slots[i]] = q[i];
        tape_forward(&m->tape);
        return 0;
    }
    if (m->failed)
        return -1;
    trace_clear(&m->trace);
    param_begin_run(&m->param, q);
    int rc = exec_run(&m->ex);
    if (rc == 0)
        m->tape.dynamic = 1; /* keep re-running: the next point may branch differently */
    else
        m->failed = 1;       /* reported once; the engine stops */
    return rc;
}

/* Bring the tape to point q, in native code or interpreted. */
static int evaluate(Model *m, const double *q)
{
    NativeLogpGrad fn = native_ready(m);
    m->n_evals++;
    if (fn) {
        fn(&m->tape, q, NULL, native_hooks());
        return 0;
    }
    return interpret(m, q);
}

double model_logp(Model *m, const double *q)
{
    if (evaluate(m, q) != 0)
        return NAN;
    return m->tape.target;
}

double model_logp_grad(void *ctx, const double *q, double *grad)
{
    Model *m = ctx;
    NativeLogpGrad fn = native_ready(m);
    m->n_evals++;
    if (fn)
        return fn(&m->tape, q, grad, native_hooks());
    if (interpret(m, q) != 0) {
        for (int i = 0; i < m->dim; i++)
            grad[i] = NAN;
        return NAN;
    }
    double lp = m->tape.target;
    if (!isfinite(lp))
        return lp;
    tape_backward(&m->tape);
    for (int i = 0; i < m->dim; i++)
        grad[i] = m->tape.adj[m->param.slots[i]];
    return lp;
}

/* A model with summed-out discrete sites (the trace closed local targets):
 * the output run draws each of them from its conditional given q
 * (ENUM_DRAW), so that its columns hold posterior draws, and then the
 * gradient tape, which that run replaced, is recorded again at q. */
static int row_with_draws(Model *m, const double *q, double *row)
{
    int dynamic = m->tape.dynamic;
    m->n_evals++;
    m->ex.policy.enumerate = ENUM_DRAW;
    trace_clear(&m->trace);
    param_begin_run(&m->param, q);
    int rc = exec_run(&m->ex);
    for (int j = 0; rc == 0 && j < m->ncols; j++)
        row[j] = model_column_value(&m->ex, m->prog, m->col_var[j], m->col_off[j]);
    m->ex.policy.enumerate = ENUM_SUM;
    trace_clear(&m->trace);
    param_begin_run(&m->param, q);
    if (exec_run(&m->ex) != 0 || rc != 0) {
        m->failed = 1;
        return -1;
    }
    m->tape.dynamic |= dynamic;
    return 0;
}

int model_row(Model *m, const double *q, double *row)
{
    if (m->tape.nlocal_closed > 0)
        return row_with_draws(m, q, row);
    if (evaluate(m, q) != 0)
        return -1;
    for (int j = 0; j < m->ncols; j++)
        row[j] = model_column_value(&m->ex, m->prog, m->col_var[j], m->col_off[j]);
    return 0;
}

const char *model_param_site(const Model *m, int i)
{
    for (int b = 0; b < m->param.nblocks; b++) {
        const ParamBlock *pb = &m->param.blocks[b];
        if (i >= pb->offset && i < pb->offset + pb->size)
            return m->prog->vars[pb->var].name;
    }
    return "?";
}
