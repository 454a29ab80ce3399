/*
 * infer_common.c - what the engines share: seeds per chain, Ctrl-C, and
 * selecting the columns a --query asks for.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "summary.h"

volatile int cm_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    if (cm_interrupted) /* a second Ctrl-C: stop at once */
        _exit(130);
    cm_interrupted = 1;
}

void infer_install_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

/* SplitMix64: independent, well-spread seeds for each chain from one seed,
 * so chain c's draws do not depend on the thread that runs it. */
unsigned long infer_chain_seed(unsigned long seed, int chain)
{
    unsigned long long z = (unsigned long long)seed + 0x9e3779b97f4a7c15ULL * (unsigned long long)(chain + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (unsigned long)(z & 0xffffffffUL) | 1UL;
}

/* A query `y` selects y, y.1, ..., the counterfactual y_cf, y_cf.1, ...
 * and the interventional y_do, y_do.1, ... */
static int matches(const char *col, const char *q)
{
    size_t n = strlen(q);
    if (strncmp(col, q, n) != 0)
        return 0;
    if (col[n] == 0 || col[n] == '.')
        return 1;
    return (strncmp(col + n, "_cf", 3) == 0 || strncmp(col + n, "_do", 3) == 0) &&
           (col[n + 3] == 0 || col[n + 3] == '.');
}

Draws *infer_select(const Draws *d, const char *const *query, int nquery, int keep_sampler_cols,
                    char *err, size_t errlen)
{
    int *cols = malloc(sizeof(int) * (size_t)(d->ncols + 1));
    int n = 0;
    if (!cols)
        return NULL;
    for (int j = 0; j < d->ncols; j++) {
        int keep = keep_sampler_cols && summary_is_sampler_column(d->names[j]);
        for (int q = 0; q < nquery && !keep; q++)
            keep = matches(d->names[j], query[q]);
        if (keep)
            cols[n++] = j;
    }
    for (int q = 0; q < nquery; q++) {
        int found = 0;
        for (int j = 0; j < d->ncols && !found; j++)
            found = matches(d->names[j], query[q]);
        if (!found) {
            snprintf(err, errlen, "--query %s: no output column named '%s' (latent sites and "
                     "deterministic nodes are reported; observed data are not)", query[q], query[q]);
            free(cols);
            return NULL;
        }
    }
    const char **names = malloc(sizeof(char *) * (size_t)(n + 1));
    for (int k = 0; k < n; k++)
        names[k] = d->names[cols[k]];
    Draws *out = draws_new(d->nchains, n, names);
    double *row = malloc(sizeof(double) * (size_t)(n + 1));
    for (int c = 0; c < d->nchains; c++)
        for (int i = 0; i < d->ndraws; i++) {
            for (int k = 0; k < n; k++)
                row[k] = draws_at(d, c, i, cols[k]);
            draws_append(out, c, row);
        }
    draws_finish(out);
    free(row);
    free(names);
    free(cols);
    return out;
}

/* The summary table of independent draws (no R-hat or ESS), restricted to
 * --query when one is given.  0, or 2 after a reported error. */
int infer_summary_independent(const InferOptions *o, const Draws *d, const char *title)
{
    SummaryOptions so = {title, 0, 1};
    if (o->query) {
        char err[512];
        Draws *sel = infer_select(d, o->query, o->nquery, 0, err, sizeof err);
        if (!sel) {
            fprintf(stderr, "cmrun: %s\n", err);
            return 2;
        }
        summary_print(stdout, sel, &so);
        draws_free(sel);
    } else {
        summary_print(stdout, d, &so);
    }
    return 0;
}
