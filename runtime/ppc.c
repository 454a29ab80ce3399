/*
 * ppc.c - posterior predictive checks for `--predictive`.
 *
 * With --predictive every engine that samples a posterior adds, per draw,
 * a replicate of each observed site (columns NAME_rep.i, causal_gq.c).
 * This file compares the replicates with the data the way a workflow
 * course does (Gelman et al., BDA3 ch. 6): for a few test statistics T --
 * the mean, sd, min and max over a site's elements -- it reports T of the
 * observed data, the 5% / 50% / 95% points of T over the replicates, and
 * the posterior predictive p-value P(T(y_rep) > T(y)) + P(T(y_rep) = T(y)) / 2
 * (the mid-p: with counts the min and max tie often, and a plain >= would
 * call every min of 0 a misfit).  A p-value near 0 or 1 says the model does
 * not reproduce that feature of the data; the report says so in words.
 *
 * The statistics are computed over all elements of a site whatever its
 * shape (CmdStan orders a matrix's columns column-major and the data are
 * row-major, but none of these statistics depends on the order).  A site
 * whose replicate columns do not match its data (a --query that kept only
 * some of them) is skipped.
 */
#include "ppc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diagnostics.h"

enum { PPC_MEAN, PPC_SD, PPC_MIN, PPC_MAX, PPC_NSTATS };
static const char *const stat_name[PPC_NSTATS] = {"mean", "sd", "min", "max"};

/* The statistics of n values (sd: NAN for one value). */
static void statistics(const double *x, int n, double *t)
{
    double s = 0, lo = x[0], hi = x[0];
    for (int i = 0; i < n; i++) {
        s += x[i];
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    double mean = s / n, ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    t[PPC_MEAN] = mean;
    t[PPC_SD] = n > 1 ? sqrt(ss / (n - 1)) : NAN;
    t[PPC_MIN] = lo;
    t[PPC_MAX] = hi;
}

/* Columns NAME_rep or NAME_rep.* of d, in order, into cols; their count. */
static int replicate_columns(const Draws *d, const char *name, int *cols)
{
    size_t len = strlen(name);
    int n = 0;
    for (int j = 0; j < d->ncols; j++) {
        const char *c = d->names[j];
        if (strncmp(c, name, len) == 0 && strncmp(c + len, "_rep", 4) == 0 &&
            (c[len + 4] == 0 || c[len + 4] == '.'))
            cols[n++] = j;
    }
    return n;
}

static int check_site(FILE *out, const Draws *d, const DataVar *y, int *cols, int *printed)
{
    int n = replicate_columns(d, y->name, cols);
    if (n == 0 || (size_t)n != y->n)
        return 0;
    size_t ndraws = (size_t)d->nchains * d->ndraws;
    double *rep = malloc(sizeof(double) * (size_t)n), *trep = malloc(sizeof(double) * ndraws * PPC_NSTATS);
    double *col = malloc(sizeof(double) * ndraws);
    if (!rep || !trep || !col) {
        free(rep);
        free(trep);
        free(col);
        return -1;
    }
    double tobs[PPC_NSTATS];
    statistics(y->x, n, tobs);
    size_t k = 0;
    for (int c = 0; c < d->nchains; c++)
        for (int i = 0; i < d->ndraws; i++, k++) {
            for (int e = 0; e < n; e++)
                rep[e] = draws_at(d, c, i, cols[e]);
            double t[PPC_NSTATS];
            statistics(rep, n, t);
            for (int s = 0; s < PPC_NSTATS; s++)
                trep[(size_t)s * ndraws + k] = t[s];
        }
    if (!*printed) {
        fprintf(out, "\nPosterior predictive checks (%zu replicates of the data): "
                     "p = P(T(rep) > T(data)) + P(T(rep) = T(data)) / 2\n",
                ndraws);
        fprintf(out, "%-14s %-5s %12s %12s %12s %12s %7s\n", "site", "T", "T(data)", "rep 5%", "rep 50%",
                "rep 95%", "p");
        *printed = 1;
    }
    for (int s = 0; s < PPC_NSTATS; s++) {
        if (isnan(tobs[s]))
            continue;
        const double *t = trep + (size_t)s * ndraws;
        size_t above = 0, tied = 0;
        for (size_t i = 0; i < ndraws; i++) {
            col[i] = t[i];
            above += t[i] > tobs[s];
            tied += t[i] == tobs[s];
        }
        double p = ((double)above + 0.5 * (double)tied) / (double)ndraws;
        fprintf(out, "%-14s %-5s %12.4g %12.4g %12.4g %12.4g %7.3f%s\n", s == 0 ? y->name : "",
                stat_name[s], tobs[s], diagnostics_quantile(col, ndraws, 0.05),
                diagnostics_quantile(col, ndraws, 0.5), diagnostics_quantile(col, ndraws, 0.95), p,
                p < 0.025 || p > 0.975 ? "  <- the model rarely reproduces this" : "");
    }
    free(rep);
    free(trep);
    free(col);
    return 0;
}

int ppc_report(FILE *out, const Draws *d, const DataSet *data)
{
    if (!d || !data || d->nchains * d->ndraws == 0)
        return 0;
    int *cols = malloc(sizeof(int) * ((size_t)d->ncols + 1));
    if (!cols)
        return -1;
    int printed = 0, rc = 0;
    for (int v = 0; v < data->n && rc == 0; v++)
        rc = check_site(out, d, &data->vars[v], cols, &printed);
    free(cols);
    return rc;
}
