/*
 * infer_nuts.c - NUTS and static HMC: chains in threads, CSV, summary.
 *
 * Each chain owns a Model (its own traced tape), an RNG seeded from the
 * run's seed and the chain number, and a CSV writer, so chains share
 * nothing and the draws for a seed are the same whatever --threads is.
 * Workers take chains from a counter; the main thread only shows progress.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "csv_out.h"
#include "infer.h"
#include "model.h"
#include "ppc.h"
#include "summary.h"

#define NSTAT 7
static const char *const stat_names[NSTAT] = {"lp__",        "accept_stat__", "stepsize__",
                                              "treedepth__", "n_leapfrog__",  "divergent__",
                                              "energy__"};

typedef struct {
    const InferOptions *o;
    int chain;
    Model model;
    int model_ok;
    CausalGq gq;              /* counterfactual / effect columns */
    int gq_ok;
    gsl_rng *gq_rng;
    CsvOut *csv;
    Draws *draws;
    double *row;
    int ncols;
    volatile int iter, warmup_phase;
    SamplerResult res;
    int status;
    int io_error;
    char err[512];
} Chain;

typedef struct {
    Chain *chains;
    int n;
    int next;
    pthread_mutex_t lock;
} Pool;

static int on_draw(void *user, int iter, int warmup, const SamplerStats *st, const double *q)
{
    Chain *c = user;
    c->iter = iter;
    c->warmup_phase = warmup;
    if (c->model.failed)
        return 1;
    if (warmup)
        return 0;
    double *r = c->row;
    r[0] = st->lp;
    r[1] = st->accept_stat;
    r[2] = st->step_size;
    r[3] = st->treedepth;
    r[4] = st->n_leapfrog;
    r[5] = st->divergent;
    r[6] = st->energy;
    if (model_row(&c->model, q, r + NSTAT) != 0)
        return 1;
    if (c->gq_ok && causal_gq_row(&c->gq, q, r + NSTAT + c->model.ncols, NULL) != 0)
        return 1;
    draws_append(c->draws, c->chain, r);
    if (c->csv && csv_out_row(c->csv, r) != 0) {
        c->io_error = 1;
        return 1;
    }
    return 0;
}

static void on_adapted(void *user, const SamplerResult *r)
{
    Chain *c = user;
    if (c->csv)
        csv_out_adaptation(c->csv, r->step_size, r->inv_metric, c->model.dim,
                           r->metric == METRIC_DENSE);
}

static void run_chain(Chain *c)
{
    const InferOptions *o = c->o;
    SamplerTarget t = {c->model.dim, model_logp_grad, &c->model};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, infer_chain_seed(o->seed, c->chain));
    SamplerConfig cfg = o->cfg;
    cfg.interrupt = &cm_interrupted;
    c->status = sampler_run(&t, &cfg, rng, on_draw, on_adapted, c, &c->res);
    gsl_rng_free(rng);
}

static void *worker(void *arg)
{
    Pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int k = p->next++;
        pthread_mutex_unlock(&p->lock);
        if (k >= p->n)
            return NULL;
        run_chain(&p->chains[k]);
    }
}

static void show_progress(Pool *p, const InferOptions *o, double elapsed)
{
    char line[512];
    int len = 0;
    for (int k = 0; k < p->n && len < 400; k++) {
        Chain *c = &p->chains[k];
        int done = c->warmup_phase ? c->iter : o->cfg.warmup + c->iter;
        int total = o->cfg.warmup + o->cfg.samples * (o->cfg.thin > 0 ? o->cfg.thin : 1);
        len += snprintf(line + len, sizeof line - (size_t)len, " c%d %3d%%%s", k + 1,
                        total ? (int)(100.0 * done / total) : 100,
                        c->warmup_phase ? "w" : " ");
    }
    fprintf(stderr, "\r%s  %.1fs ", line, elapsed);
    fflush(stderr);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int infer_nuts(const InferOptions *o)
{
    int nch = o->chains;
    Chain *ch = calloc((size_t)nch, sizeof(Chain));
    if (!ch)
        return 1;
    int rc = 0;
    char **names = NULL;
    /* trace every chain's model (cheap), before starting any thread */
    for (int k = 0; k < nch; k++) {
        ch[k].o = o;
        ch[k].chain = k;
        ch[k].model_ok = 1; /* freed below even when the trace fails */
        if (model_init(&ch[k].model, o->prog, o->data, o->dos, infer_chain_seed(o->seed, k)) != 0) {
            rc = 2;
            goto done;
        }
        if (o->cq) {
            double *q0 = calloc((size_t)ch[k].model.dim + 1, sizeof(double));
            ch[k].gq_rng = gsl_rng_alloc(gsl_rng_mt19937);
            gsl_rng_set(ch[k].gq_rng, infer_chain_seed(o->seed + 7919, k));
            int r = causal_gq_init(&ch[k].gq, o->cq, o->prog, o->data, &ch[k].model.param,
                                   ch[k].gq_rng, q0);
            free(q0);
            ch[k].gq_ok = 1;
            if (r != 0) {
                rc = 2;
                goto done;
            }
        }
    }
    Model *m0 = &ch[0].model;
    if (m0->dim == 0) {
        fprintf(stderr, "cmrun: the model has no latent continuous sites: nothing for NUTS to sample "
                        "(use --infer prior to simulate it)\n");
        rc = 2;
        goto done;
    }
    char msg[320];
    if (sampler_config_check(&o->cfg, m0->dim, msg, sizeof msg) != 0) {
        fprintf(stderr, "cmrun: %s\n", msg);
        rc = 2;
        goto done;
    }
    int ngq = ch[0].gq_ok ? ch[0].gq.ncols : 0;
    int ncols = NSTAT + m0->ncols + ngq;
    names = calloc((size_t)ncols, sizeof(char *));
    for (int j = 0; j < NSTAT; j++)
        names[j] = (char *)stat_names[j];
    for (int j = 0; j < m0->ncols; j++)
        names[NSTAT + j] = m0->names[j];
    for (int j = 0; j < ngq; j++)
        names[NSTAT + m0->ncols + j] = ch[0].gq.names[j];
    Draws *draws = draws_new(nch, ncols, (const char *const *)names);
    for (int k = 0; k < nch; k++) {
        ch[k].draws = draws;
        ch[k].ncols = ncols;
        ch[k].row = calloc((size_t)ncols, sizeof(double));
        if (o->output) {
            char *path = csv_out_chain_path(o->output, k + 1, nch);
            CsvHeader h;
            csv_header_init(&h);
            CsvNutsSettings s = {o->model_name, o->cfg.samples, o->cfg.warmup, 0, o->cfg.thin,
                                 o->cfg.adapt, o->cfg.adapt_delta, o->cfg.max_depth,
                                 sampler_metric_name(o->cfg.metric), o->cfg.step_size, o->seed,
                                 k + 1, nch, o->data_file, path};
            csv_header_nuts(&h, &s);
            if (o->cfg.hmc_steps > 0)
                csv_header_add(&h, 2, "engine", "static (int_time = %d steps)", o->cfg.hmc_steps);
            ch[k].csv = csv_out_open(path, &h, ncols, (const char *const *)names, ch[k].err,
                                     sizeof ch[k].err);
            csv_header_free(&h);
            free(path);
            if (!ch[k].csv) {
                fprintf(stderr, "cmrun: %s\n", ch[k].err);
                for (int j = 0; j < k; j++)
                    csv_out_abort(ch[j].csv), ch[j].csv = NULL;
                draws_free(draws);
                rc = 2;
                goto done;
            }
        }
    }
    Pool pool = {ch, nch, 0, PTHREAD_MUTEX_INITIALIZER};
    int nthreads = o->threads > 0 ? o->threads : 1;
    if (nthreads > nch)
        nthreads = nch;
    pthread_t th[64];
    if (nthreads > 64)
        nthreads = 64;
    double t0 = now();
    for (int i = 0; i < nthreads; i++)
        pthread_create(&th[i], NULL, worker, &pool);
    if (o->progress) {
        for (;;) {
            int alive = 0;
            pthread_mutex_lock(&pool.lock);
            alive = pool.next < nch + nthreads;
            pthread_mutex_unlock(&pool.lock);
            show_progress(&pool, o, now() - t0);
            if (!alive)
                break;
            usleep(200000);
        }
    }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    if (o->progress)
        fprintf(stderr, "\r%*s\r", 60, "");
    int failed = 0;
    for (int k = 0; k < nch; k++) {
        Chain *c = &ch[k];
        if (c->csv) {
            csv_out_timing(c->csv, c->res.seconds_warmup, c->res.seconds_sampling);
            char err[512];
            if (csv_out_close(c->csv, err, sizeof err) != 0) {
                fprintf(stderr, "cmrun: %s\n", err);
                failed = 1;
            }
            c->csv = NULL;
        }
        if (c->model.failed) {
            failed = 2; /* the located error is printed already */
        } else if (c->status == SAMPLER_INIT_FAILED) {
            int worst = 0;
            fprintf(stderr,
                    "cmrun: chain %d: no initial point with a finite log density and gradient after "
                    "%d tries",
                    k + 1, c->res.n_init_tries);
            if (c->res.bad_q) {
                double *g = calloc((size_t)c->model.dim, sizeof(double));
                model_logp_grad(&c->model, c->res.bad_q, g);
                for (int i = 0; i < c->model.dim; i++)
                    if (!isfinite(g[i])) {
                        worst = i;
                        break;
                    }
                free(g);
                fprintf(stderr, "; the log density is not finite at site '%s' (check its support, "
                                "its parameters, or try --init 0.5)",
                        model_param_site(&c->model, worst));
            }
            fputc('\n', stderr);
            failed = 1;
        } else if (c->status == SAMPLER_ERROR || c->status == SAMPLER_BAD_CONFIG) {
            fprintf(stderr, "cmrun: chain %d: %s\n", k + 1, c->res.message);
            failed = 1;
        } else if (c->io_error) {
            fprintf(stderr, "cmrun: chain %d: writing the output failed: %s\n", k + 1,
                    ch[k].err[0] ? ch[k].err : "I/O error");
            failed = 1;
        }
    }
    if (cm_interrupted)
        fprintf(stderr, "cmrun: interrupted; the output holds the draws made so far\n");
    draws_finish(draws);
    if (draws->ndraws > 0) {
        SummaryOptions so = {NULL, o->cfg.max_depth, 0};
        if (o->query) {
            char err[512];
            Draws *sel = infer_select(draws, o->query, o->nquery, 1, err, sizeof err);
            if (!sel) {
                fprintf(stderr, "cmrun: %s\n", err);
                failed = 2;
            } else {
                summary_print(stdout, sel, &so);
                draws_free(sel);
            }
        } else {
            summary_print(stdout, draws, &so);
        }
        if (o->cq && o->cq->predictive)
            ppc_report(stdout, draws, o->data);
        long grads = 0;
        double secs = 0;
        for (int k = 0; k < nch; k++) {
            grads += ch[k].res.n_grad_warmup + ch[k].res.n_grad_sampling;
            secs += ch[k].res.seconds_warmup + ch[k].res.seconds_sampling;
        }
        printf("\n%ld gradient evaluations in %.3f s of sampling CPU time (%.0f per second)\n", grads,
               secs, secs > 0 ? grads / secs : 0.0);
    }
    draws_free(draws);
    rc = failed ? failed : (cm_interrupted ? 130 : 0);
done:
    for (int k = 0; k < nch; k++) {
        if (ch[k].csv)
            csv_out_abort(ch[k].csv);
        if (ch[k].gq_ok)
            causal_gq_free(&ch[k].gq);
        if (ch[k].gq_rng)
            gsl_rng_free(ch[k].gq_rng);
        if (ch[k].model_ok)
            model_free(&ch[k].model);
        free(ch[k].row);
        sampler_result_free(&ch[k].res);
    }
    free(names);
    free(ch);
    return rc;
}
