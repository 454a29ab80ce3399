/*
 * summary.h - the posterior summary table and its warnings.
 *
 * Prints what CmdStan's stansummary prints, with the diagnostics of
 * diagnostics.h:
 *
 *   Inference for cm: 4 chains x 1000 draws (4000 total)
 *                  Mean     MCSE  StdDev      5%     50%     95%  ESS_bulk  ESS_tail  R_hat
 *   lp__          -39.5     0.05     2.6   -44.2   -39.1   -35.9      1404      2101   1.00
 *   accept_stat__  0.92             0.1    0.68    0.96       1
 *   mu             4.39    0.079    3.31   -1.02    4.38    9.86      1745      1950   1.00
 *
 * then one line per problem, each saying what to try.  Sampler columns
 * (names ending in "__" other than lp__) show only mean, sd and quantiles.
 */
#ifndef CM_SUMMARY_H
#define CM_SUMMARY_H

#include <stdio.h>

#include "draws.h"

typedef struct {
    const char *title;  /* first line; NULL: "Inference for cm: C chains x D draws (T total)" */
    int max_depth;      /* NUTS tree depth limit, for the tree depth warning; 0: 10 */
    int independent;    /* 1: independent draws (prior, SVI, importance sampling):
                           no MCSE/ESS/R-hat columns and no convergence warnings */
} SummaryOptions;

/* A sampler column: its name ends in "__" and it is not lp__. */
int summary_is_sampler_column(const char *name);

/* The table only.  Returns 0, or -1 when out of memory. */
int summary_table(FILE *out, const Draws *d, const SummaryOptions *opt);

/* The warnings only, one "warning: ..." line each: divergences, tree depth
 * (from divergent__ and treedepth__), E-BFMI below 0.3 per chain (from
 * energy__), R-hat above 1.01, bulk and tail ESS below 100 per chain, and
 * non-finite draws.  Returns how many were printed, or -1 when out of
 * memory. */
int summary_warnings(FILE *out, const Draws *d, const SummaryOptions *opt);

/* summary_table() then summary_warnings(); returns the number of warnings
 * or -1.  d must be finished (draws_finish); opt may be NULL. */
int summary_print(FILE *out, const Draws *d, const SummaryOptions *opt);

#endif
