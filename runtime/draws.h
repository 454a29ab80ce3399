/*
 * draws.h - all the draws of one run: chains x draws x columns.
 *
 * A Draws is filled one row at a time while the chains run, then frozen
 * with draws_finish() into a single dense array that the summary, the
 * diagnostics and the readers share.  Until then each chain grows its own
 * buffer, so chains running on different threads can append concurrently
 * (one thread per chain) without a lock and without ever moving another
 * chain's rows.  draws_finish() packs the chains into `x`, cutting every
 * chain to the shortest one: an interrupted run stops its chains at
 * different points, and every diagnostic needs chains of equal length.
 *
 * Column names follow CmdStan: lp__, accept_stat__, ..., theta.1, m.2.3
 * (indices 1-based, joined by dots, elements in column-major order).
 */
#ifndef CM_DRAWS_H
#define CM_DRAWS_H

#include <stddef.h>

typedef struct {
    int ncols;
    char **names;       /* ncols CmdStan names, owned */
    int nchains, ndraws;/* ndraws per chain (all chains equal after finish) */
    double *x;          /* x[((size_t)c * ndraws + d) * ncols + j]; NULL until finish */

    /* Growth state, used until draws_finish(). */
    double **chain_rows;/* per chain: rows appended so far, row-major */
    int *chain_len;     /* rows appended per chain */
    int *chain_cap;     /* rows allocated per chain */
    int finished;
} Draws;

/* A Draws with nchains empty chains and the given column names (copied).
 * NULL if out of memory or the arguments are not positive. */
Draws *draws_new(int nchains, int ncols, const char *const *names);
void draws_free(Draws *d);

/* Append one row of ncols values to chain `chain`.  Safe to call from
 * several threads at once as long as each chain has a single writer.
 * Returns 0, or -1 (out of memory, bad chain, or already finished). */
int draws_append(Draws *d, int chain, const double *row);

/* Rows appended so far to one chain (before or after finishing). */
int draws_chain_length(const Draws *d, int chain);

/* Pack all chains into `x`, truncated to the shortest chain.  Returns the
 * total number of rows dropped by that truncation (0 when the chains were
 * equal), or -1 when out of memory.  Calling it twice is harmless. */
long draws_finish(Draws *d);

/* Index of the column called `name`, or -1. */
int draws_find(const Draws *d, const char *name);

/* Copy column j of a finished Draws into out[c * ndraws + i] (chain-major,
 * the layout the diagnostics take). */
void draws_column(const Draws *d, int j, double *out);

static inline double draws_at(const Draws *d, int chain, int draw, int col)
{
    return d->x[((size_t)chain * d->ndraws + draw) * d->ncols + col];
}

#endif
