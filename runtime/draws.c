/*
 * draws.c - growable storage for the draws of a run.
 *
 * Each chain owns a buffer that doubles when full, so appending is
 * amortised O(ncols) and touches nothing shared: samplers on separate
 * threads append to their own chains with no lock.  The price is one copy
 * at the end, when draws_finish() packs the chains into the dense
 * chain-major array every consumer reads; a run's draws are small next to
 * the work that made them, so the copy is not worth avoiding.
 */
#include "draws.h"

#include <stdlib.h>
#include <string.h>

Draws *draws_new(int nchains, int ncols, const char *const *names)
{
    if (nchains <= 0 || ncols <= 0 || !names)
        return NULL;
    Draws *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->nchains = nchains;
    d->ncols = ncols;
    d->names = calloc((size_t)ncols, sizeof *d->names);
    d->chain_rows = calloc((size_t)nchains, sizeof *d->chain_rows);
    d->chain_len = calloc((size_t)nchains, sizeof *d->chain_len);
    d->chain_cap = calloc((size_t)nchains, sizeof *d->chain_cap);
    if (!d->names || !d->chain_rows || !d->chain_len || !d->chain_cap) {
        draws_free(d);
        return NULL;
    }
    for (int j = 0; j < ncols; j++) {
        d->names[j] = strdup(names[j] ? names[j] : "");
        if (!d->names[j]) {
            draws_free(d);
            return NULL;
        }
    }
    return d;
}

void draws_free(Draws *d)
{
    if (!d)
        return;
    if (d->names)
        for (int j = 0; j < d->ncols; j++)
            free(d->names[j]);
    free(d->names);
    if (d->chain_rows)
        for (int c = 0; c < d->nchains; c++)
            free(d->chain_rows[c]);
    free(d->chain_rows);
    free(d->chain_len);
    free(d->chain_cap);
    free(d->x);
    free(d);
}

static int grow_chain(Draws *d, int c)
{
    int cap = d->chain_cap[c] ? 2 * d->chain_cap[c] : 64;
    if (cap < d->chain_cap[c])          /* int overflow: absurdly many rows */
        return -1;
    double *p = realloc(d->chain_rows[c], (size_t)cap * d->ncols * sizeof *p);
    if (!p)
        return -1;
    d->chain_rows[c] = p;
    d->chain_cap[c] = cap;
    return 0;
}

int draws_append(Draws *d, int chain, const double *row)
{
    if (!d || d->finished || chain < 0 || chain >= d->nchains || !row)
        return -1;
    if (d->chain_len[chain] == d->chain_cap[chain] && grow_chain(d, chain) < 0)
        return -1;
    memcpy(d->chain_rows[chain] + (size_t)d->chain_len[chain] * d->ncols, row,
           (size_t)d->ncols * sizeof *row);
    d->chain_len[chain]++;
    return 0;
}

int draws_chain_length(const Draws *d, int chain)
{
    if (!d || chain < 0 || chain >= d->nchains)
        return 0;
    return d->chain_len[chain];
}

long draws_finish(Draws *d)
{
    if (!d)
        return -1;
    if (d->finished)
        return 0;
    int n = d->chain_len[0];
    for (int c = 1; c < d->nchains; c++)
        if (d->chain_len[c] < n)
            n = d->chain_len[c];
    size_t row_values = (size_t)d->ncols;
    double *x = malloc(((size_t)d->nchains * n * row_values + 1) * sizeof *x);
    if (!x)
        return -1;
    long dropped = 0;
    for (int c = 0; c < d->nchains; c++) {
        if (n > 0)
            memcpy(x + (size_t)c * n * row_values, d->chain_rows[c],
                   (size_t)n * row_values * sizeof *x);
        dropped += d->chain_len[c] - n;
        free(d->chain_rows[c]);
        d->chain_rows[c] = NULL;
        d->chain_cap[c] = 0;
    }
    d->x = x;
    d->ndraws = n;
    d->finished = 1;
    return dropped;
}

int draws_find(const Draws *d, const char *name)
{
    for (int j = 0; j < d->ncols; j++)
        if (strcmp(d->names[j], name) == 0)
            return j;
    return -1;
}

void draws_column(const Draws *d, int j, double *out)
{
    size_t n = (size_t)d->nchains * d->ndraws;
    for (size_t k = 0; k < n; k++)
        out[k] = d->x[k * d->ncols + j];
}
