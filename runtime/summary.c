/*
 * summary.c - the stansummary-style table and the warnings after it.
 *
 * The table is built as strings first and printed second, so that every
 * column is exactly as wide as its widest cell: names of any length and
 * numbers of any size stay aligned without fixed widths that break on
 * "accept_stat__" or a mean of -12345.  Numbers carry 3 significant
 * digits (more only for integers above 999, which read better whole than
 * as 1.23e+04); ESS is an integer and R-hat has 2 decimals, as in
 * stansummary.  Whatever cannot be estimated prints as NaN.
 *
 * Warnings follow CmdStan's diagnose: each names the problem, how often
 * it happened or which columns it touched, and the remedy.  The HMC ones
 * (divergences, tree depth, E-BFMI) are read from the divergent__,
 * treedepth__ and energy__ columns, so a summary of CmdStan's own CSV
 * files gets them too.
 */
#include "summary.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diagnostics.h"

enum { STAT_MEAN, STAT_MCSE, STAT_SD, STAT_Q5, STAT_Q50, STAT_Q95,
       STAT_ESS_BULK, STAT_ESS_TAIL, STAT_RHAT, NSTATS };

static const char *const stat_header[NSTATS] = {
    "Mean", "MCSE", "StdDev", "5%", "50%", "95%", "ESS_bulk", "ESS_tail", "R_hat"
};

#define CELL 32             /* widest formatted number, with room to spare */
#define MAX_LISTED 8        /* column names listed in one warning */

int summary_is_sampler_column(const char *name)
{
    size_t n = strlen(name);
    return n > 2 && strcmp(name + n - 2, "__") == 0 && strcmp(name, "lp__") != 0;
}

static const SummaryOptions *defaults(const SummaryOptions *opt)
{
    static const SummaryOptions none = { NULL, 0, 0 };
    return opt ? opt : &none;
}

/* 3 significant digits, in plain notation where that stays short. */
static void format_sig3(char *buf, double v)
{
    double a = fabs(v);
    if (isnan(v))
        snprintf(buf, CELL, "NaN");
    else if (isinf(v))
        snprintf(buf, CELL, v > 0 ? "inf" : "-inf");
    else if (v == 0)
        snprintf(buf, CELL, "0");
    else if (a >= 1e15 || a < 1e-4)
        snprintf(buf, CELL, "%.2e", v);
    else {
        snprintf(buf, CELL, "%#.3g", v);    /* '#' keeps the zeros of "2.00" */
        if (strchr(buf, 'e'))               /* 1234 -> "1234", not "1.23e+03" */
            snprintf(buf, CELL, "%.0f", v);
        size_t n = strlen(buf);
        if (buf[n - 1] == '.')              /* "100." -> "100" */
            buf[n - 1] = '\0';
    }
}

static void format_count(char *buf, double v)
{
    if (isnan(v))
        snprintf(buf, CELL, "NaN");
    else
        snprintf(buf, CELL, "%.0f", v);
}

static void format_rhat(char *buf, double v)
{
    if (isnan(v))
        snprintf(buf, CELL, "NaN");
    else
        snprintf(buf, CELL, "%.2f", v);
}

/* The columns are independent, so a wide table (a thousand latent states of
 * a time series) is computed by several threads, each taking every k-th
 * column; the results do not depend on the split.  Few columns run inline:
 * starting threads would cost more than it saves. */
#define SUMMARY_MAX_THREADS 8
#define SUMMARY_COLUMNS_PER_THREAD 32

typedef struct {
    const Draws *d;
    const SummaryOptions *opt;
    DiagnosticsColumn *stats;
    int first, step;
    int failed;
} ColumnJob;

static void *column_job(void *arg)
{
    ColumnJob *job = arg;
    const Draws *d = job->d;
    size_t total = (size_t)d->nchains * d->ndraws;
    double *col = malloc((total ? total : 1) * sizeof *col);
    if (!col) {
        job->failed = 1;
        return NULL;
    }
    for (int j = job->first; j < d->ncols; j += job->step) {
        int convergence = !job->opt->independent && !summary_is_sampler_column(d->names[j]);
        draws_column(d, j, col);
        diagnostics_column(col, d->nchains, d->ndraws, convergence, &job->stats[j]);
    }
    free(col);
    return NULL;
}

/* Diagnostics of every column, or NULL when out of memory. */
static DiagnosticsColumn *compute_columns(const Draws *d, const SummaryOptions *opt)
{
    DiagnosticsColumn *stats = calloc((size_t)d->ncols + 1, sizeof *stats);
    if (!stats)
        return NULL;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = d->ncols / SUMMARY_COLUMNS_PER_THREAD;
    if (nthreads > ncpu)
        nthreads = (int)ncpu;
    if (nthreads > SUMMARY_MAX_THREADS)
        nthreads = SUMMARY_MAX_THREADS;
    if (nthreads < 1)
        nthreads = 1;
    ColumnJob jobs[SUMMARY_MAX_THREADS];
    pthread_t tid[SUMMARY_MAX_THREADS];
    int started[SUMMARY_MAX_THREADS] = {0};
    for (int k = 0; k < nthreads; k++) {
        jobs[k] = (ColumnJob){d, opt, stats, k, nthreads, 0};
        if (k > 0)
            started[k] = pthread_create(&tid[k], NULL, column_job, &jobs[k]) == 0;
    }
    /* this thread takes job 0, and any job whose thread did not start */
    column_job(&jobs[0]);
    int failed = jobs[0].failed;
    for (int k = 1; k < nthreads; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            column_job(&jobs[k]);
        failed |= jobs[k].failed;
    }
    if (failed) {
        free(stats);
        return NULL;
    }
    return stats;
}

static void print_title(FILE *out, const Draws *d, const SummaryOptions *opt)
{
    if (opt->title)
        fprintf(out, "%s\n", opt->title);
    else
        fprintf(out, "Inference for cm: %d chain%s x %d draws (%ld total)\n", d->nchains,
                d->nchains == 1 ? "" : "s", d->ndraws, (long)d->nchains * d->ndraws);
}

static int print_table(FILE *out, const Draws *d, const SummaryOptions *opt,
                       const DiagnosticsColumn *stats)
{
    print_title(out, d, opt);
    if (d->ndraws == 0) {
        fprintf(out, "(no draws to summarise)\n");
        return 0;
    }
    int shown[NSTATS];
    for (int s = 0; s < NSTATS; s++)
        shown[s] = !opt->independent ||
                   !(s == STAT_MCSE || s == STAT_ESS_BULK || s == STAT_ESS_TAIL || s == STAT_RHAT);
    char (*cell)[NSTATS][CELL] = calloc((size_t)d->ncols, sizeof *cell);
    if (!cell)
        return -1;
    size_t name_width = 4, width[NSTATS];
    for (int s = 0; s < NSTATS; s++)
        width[s] = strlen(stat_header[s]);
    for (int j = 0; j < d->ncols; j++) {
        const DiagnosticsColumn *st = &stats[j];
        int full = !opt->independent && !summary_is_sampler_column(d->names[j]);
        format_sig3(cell[j][STAT_MEAN], st->mean);
        format_sig3(cell[j][STAT_SD], st->sd);
        format_sig3(cell[j][STAT_Q5], st->q5);
        format_sig3(cell[j][STAT_Q50], st->q50);
        format_sig3(cell[j][STAT_Q95], st->q95);
        if (full) {
            format_sig3(cell[j][STAT_MCSE], st->mcse_mean);
            format_count(cell[j][STAT_ESS_BULK], st->ess_bulk);
            format_count(cell[j][STAT_ESS_TAIL], st->ess_tail);
            format_rhat(cell[j][STAT_RHAT], st->rhat);
        }
        if (strlen(d->names[j]) > name_width)
            name_width = strlen(d->names[j]);
        for (int s = 0; s < NSTATS; s++)
            if (strlen(cell[j][s]) > width[s])
                width[s] = strlen(cell[j][s]);
    }
    fprintf(out, "%-*s", (int)name_width, "");
    for (int s = 0; s < NSTATS; s++)
        if (shown[s])
            fprintf(out, "  %*s", (int)width[s], stat_header[s]);
    fputc('\n', out);
    for (int j = 0; j < d->ncols; j++) {
        /* Trailing blank cells of sampler rows are not padded out. */
        int last = NSTATS - 1;
        while (last > 0 && (!shown[last] || !cell[j][last][0]))
            last--;
        fprintf(out, "%-*s", (int)name_width, d->names[j]);
        for (int s = 0; s <= last; s++)
            if (shown[s])
                fprintf(out, "  %*s", (int)width[s], cell[j][s]);
        fputc('\n', out);
    }
    free(cell);
    return 0;
}

/* "a, b, c" (the first MAX_LISTED names, then "and N more"). */
static void print_name_list(FILE *out, const Draws *d, const int *flagged, int count)
{
    int listed = 0;
    for (int j = 0; j < d->ncols && listed < MAX_LISTED; j++)
        if (flagged[j])
            fprintf(out, "%s%s", listed++ ? ", " : "", d->names[j]);
    if (count > listed)
        fprintf(out, " and %d more", count - listed);
}

static int count_draws(const Draws *d, int j, double threshold, int at_least)
{
    int n = 0;
    for (int c = 0; c < d->nchains; c++)
        for (int i = 0; i < d->ndraws; i++) {
            double v = draws_at(d, c, i, j);
            n += at_least ? v >= threshold : (v != 0 && !isnan(v));
        }
    return n;
}

static int warn_hmc(FILE *out, const Draws *d, const SummaryOptions *opt)
{
    int warnings = 0;
    long total = (long)d->nchains * d->ndraws;
    int j = draws_find(d, "divergent__");
    if (j >= 0) {
        int n = count_draws(d, j, 0, 0);
        if (n > 0) {
            fprintf(out, "warning: %d of %ld transitions (%.3g%%) ended with a divergence; "
                         "increase --adapt-delta or reparameterise\n",
                    n, total, 100.0 * n / total);
            warnings++;
        }
    }
    j = draws_find(d, "treedepth__");
    if (j >= 0) {
        int max_depth = opt->max_depth > 0 ? opt->max_depth : 10;
        int n = count_draws(d, j, max_depth, 1);
        if (n > 0) {
            fprintf(out, "warning: %d transitions hit the maximum tree depth of %d; "
                         "increase --max-depth\n", n, max_depth);
            warnings++;
        }
    }
    j = draws_find(d, "energy__");
    if (j >= 0) {
        double *energy = malloc((size_t)d->ndraws * sizeof *energy + 1);
        if (!energy)
            return -1;
        for (int c = 0; c < d->nchains; c++) {
            for (int i = 0; i < d->ndraws; i++)
                energy[i] = draws_at(d, c, i, j);
            double bfmi = diagnostics_ebfmi(energy, d->ndraws);
            if (bfmi < 0.3) {
                fprintf(out, "warning: chain %d: E-BFMI = %.2f below 0.3; the posterior may be "
                             "poorly explored (reparameterise)\n", c + 1, bfmi);
                warnings++;
            }
        }
        free(energy);
    }
    return warnings;
}

/* One warning listing the flagged columns, if any. */
static int warn_columns(FILE *out, const Draws *d, int *flagged, const char *what,
                        const char *remedy)
{
    int count = 0;
    for (int j = 0; j < d->ncols; j++)
        count += flagged[j];
    if (!count)
        return 0;
    fprintf(out, "warning: %s for: ", what);
    print_name_list(out, d, flagged, count);
    fprintf(out, " (%s)\n", remedy);
    return 1;
}

static int column_has_nonfinite(const Draws *d, int j)
{
    for (int c = 0; c < d->nchains; c++)
        for (int i = 0; i < d->ndraws; i++)
            if (!isfinite(draws_at(d, c, i, j)))
                return 1;
    return 0;
}

static int print_warnings(FILE *out, const Draws *d, const SummaryOptions *opt,
                          const DiagnosticsColumn *stats)
{
    if (d->ndraws == 0)
        return 0;
    int warnings = warn_hmc(out, d, opt);
    int *flagged = calloc((size_t)d->ncols, sizeof *flagged);
    if (warnings < 0 || !flagged) {
        free(flagged);
        return -1;
    }
    if (!opt->independent) {
        double min_ess = 100.0 * d->nchains;
        for (int j = 0; j < d->ncols; j++)
            flagged[j] = !summary_is_sampler_column(d->names[j]) && stats[j].rhat > 1.01;
        warnings += warn_columns(out, d, flagged, "R-hat above 1.01", "run longer chains");
        for (int j = 0; j < d->ncols; j++)
            flagged[j] = !summary_is_sampler_column(d->names[j]) && stats[j].ess_bulk < min_ess;
        warnings += warn_columns(out, d, flagged, "bulk ESS below 100 per chain", "run more draws");
        for (int j = 0; j < d->ncols; j++)
            flagged[j] = !summary_is_sampler_column(d->names[j]) && stats[j].ess_tail < min_ess;
        warnings += warn_columns(out, d, flagged, "tail ESS below 100 per chain", "run more draws");
    }
    for (int j = 0; j < d->ncols; j++)
        flagged[j] = column_has_nonfinite(d, j);
    warnings += warn_columns(out, d, flagged, "non-finite draws (NaN or inf)",
                             "check the model for overflow or invalid arguments");
    free(flagged);
    return warnings;
}

int summary_table(FILE *out, const Draws *d, const SummaryOptions *opt)
{
    if (!out || !d || !d->finished)            /* x exists only after draws_finish() */
        return -1;
    opt = defaults(opt);
    DiagnosticsColumn *stats = compute_columns(d, opt);
    if (!stats)
        return -1;
    int rc = print_table(out, d, opt, stats);
    free(stats);
    return rc;
}

int summary_warnings(FILE *out, const Draws *d, const SummaryOptions *opt)
{
    if (!out || !d || !d->finished)            /* x exists only after draws_finish() */
        return -1;
    opt = defaults(opt);
    DiagnosticsColumn *stats = compute_columns(d, opt);
    if (!stats)
        return -1;
    int n = print_warnings(out, d, opt, stats);
    free(stats);
    return n;
}

int summary_print(FILE *out, const Draws *d, const SummaryOptions *opt)
{
    if (!out || !d || !d->finished)            /* x exists only after draws_finish() */
        return -1;
    opt = defaults(opt);
    DiagnosticsColumn *stats = compute_columns(d, opt);
    if (!stats)
        return -1;
    int n = print_table(out, d, opt, stats);
    if (n == 0)
        n = print_warnings(out, d, opt, stats);
    free(stats);
    return n;
}
