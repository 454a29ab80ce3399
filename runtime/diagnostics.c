/*
 * diagnostics.c - R-hat, ESS, MCSE and quantiles, as R's posterior has them.
 *
 * The estimators are those of Vehtari et al. (2021), transcribed from
 * posterior's convergence.R so that cm's summary and posterior's
 * summarise_draws() agree to rounding on the same draws:
 *
 *   split       each chain's first and second halves become two chains;
 *               with an odd length the middle draw is dropped.
 *   z-scale     pooled ranks (ties get their average rank) mapped through
 *               Phi^-1((r - 3/8) / (S + 1/4)), Blom's offset.
 *   R-hat       max of the split R-hat of the z-scaled draws (bulk) and of
 *               the z-scaled |x - median| (tail).
 *   ESS         Geyer's initial positive then monotone sequence on the
 *               multi-chain autocorrelation rho_t = 1 - (W - acov_t)/var+,
 *               with posterior's "improved" tail term and its cap of
 *               tau >= 1/log10(S).  Bulk ESS runs it on the z-scaled split
 *               chains, tail ESS on the indicators I(x <= q05), I(x <= q95),
 *               the ESS of the mean (for MCSE) on the raw split chains.
 *
 * Autocovariances are summed directly for the first lags (Geyer's sequence
 * usually stops within a few) and otherwise come from GSL's radix-2 real
 * FFT with zero padding to a power of two of at least 2n (so the circular
 * correlation is the linear one), rescaled so that lag 0 is exactly the
 * directly computed biased variance, as posterior does; this keeps FFT
 * rounding out of W.
 *
 * Sorting is most of the remaining cost (ranks twice and quantiles once per
 * column, for a thousand columns after a long time series), so draws are
 * sorted by an LSD radix sort on their IEEE bit patterns: linear time, and
 * the same order as a comparison sort (NaN never reaches it).
 *
 * Failure is NaN: a column with a NaN draw, a constant column, or chains
 * too short to split give NaN rather than a number that looks trustworthy.
 * Infinite draws are ranked like any other value (posterior does the
 * same), so the rank-based R-hat and bulk ESS still exist for them.
 */
#include "diagnostics.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_fft_halfcomplex.h>
#include <gsl/gsl_fft_real.h>
#include <gsl/gsl_statistics_double.h>

/* ---- small helpers ---------------------------------------------------- */

static int has_nan(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isnan(x[i]))
            return 1;
    return 0;
}

/* posterior's should_return_NA(): a non-finite value, or a range below
 * machine epsilon. */
static int unusable(const double *x, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return 1;
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    return !(hi - lo >= DBL_EPSILON);
}

/* A double's bits as an unsigned key in the same order (-inf < ... < -0 <
 * +0 < ... < inf); -0 and +0 get adjacent keys, and callers compare the
 * values themselves when they look for ties. */
static uint64_t sort_key(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
}

/* Sort n (key, index) pairs by key, stably: eight passes of one byte, with
 * every byte's histogram counted in one read, and passes skipped where all
 * keys share the byte (the exponent's high bits usually do).  The passes
 * alternate between a and tmp (room for n pairs each); returns the one that
 * holds the result. */
typedef struct { uint64_t key; size_t idx; } KeyIdx;

static KeyIdx *radix_sort(KeyIdx *a, KeyIdx *tmp, size_t n)
{
    if (n < 64) { /* a few draws: clearing the histograms would cost more */
        for (size_t i = 1; i < n; i++) {
            KeyIdx v = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1].key > v.key; j--)
                a[j] = a[j - 1];
            a[j] = v;
        }
        return a;
    }
    size_t count[8][256];
    memset(count, 0, sizeof count);
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++)
            count[b][(a[i].key >> (8 * b)) & 0xff]++;
    for (int b = 0; b < 8; b++) {
        int shift = 8 * b;
        if (n == 0 || count[b][(a[0].key >> shift) & 0xff] == n)
            continue;                      /* every key has this byte */
        size_t sum = 0;
        for (int d = 0; d < 256; d++) {
            size_t c = count[b][d];
            count[b][d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            tmp[count[b][(a[i].key >> shift) & 0xff]++] = a[i];
        KeyIdx *t = a;
        a = tmp;
        tmp = t;
    }
    return a;
}

/* The permutation that sorts x (no NaN) into perm; -1 when out of memory. */
static int sort_index(size_t *perm, const double *x, size_t n)
{
    KeyIdx *a = malloc((n ? n : 1) * sizeof *a), *tmp = malloc((n ? n : 1) * sizeof *tmp);
    int rc = -1;
    if (a && tmp) {
        for (size_t i = 0; i < n; i++)
            a[i] = (KeyIdx){sort_key(x[i]), i};
        const KeyIdx *sorted = radix_sort(a, tmp, n);
        rc = 0;
        for (size_t i = 0; i < n; i++)
            perm[i] = sorted[i].idx;
    }
    free(a);
    free(tmp);
    return rc;
}

static double *copy_sorted(const double *x, size_t n)
{
    double *s = malloc((n ? n : 1) * sizeof *s);
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (!s || !perm || has_nan(x, n) || sort_index(perm, x, n) != 0) {
        free(s);
        free(perm);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = x[perm[i]];
    free(perm);
    return s;
}

/* Split each chain in two halves (the middle draw of an odd chain is
 * dropped).  Writes *m chains of *n draws into out (room for
 * nchains * ndraws).  A chain of one draw is not split. */
static void split_chains(const double *x, int nchains, int ndraws,
                         double *out, int *m, int *n)
{
    if (ndraws < 2) {
        memcpy(out, x, (size_t)nchains * ndraws * sizeof *out);
        *m = nchains;
        *n = ndraws;
        return;
    }
    int half = ndraws / 2;
    for (int c = 0; c < nchains; c++) {
        const double *chain = x + (size_t)c * ndraws;
        memcpy(out + (size_t)(2 * c) * half, chain, half * sizeof *out);
        memcpy(out + (size_t)(2 * c + 1) * half, chain + (ndraws - half),
               half * sizeof *out);
    }
    *m = 2 * nchains;
    *n = half;
}

/* Rank-normalise in place: pooled average ranks, then Blom's inverse-normal
 * transform.  Requires no NaN.  Returns -1 when out of memory. */
static int z_scale(double *x, size_t n)
{
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    double *rank = malloc((n ? n : 1) * sizeof *rank);
    if (!perm || !rank) {
        free(perm);
        free(rank);
        return -1;
    }
    if (sort_index(perm, x, n) != 0) {
        free(perm);
        free(rank);
        return -1;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && x[perm[j + 1]] == x[perm[i]])
            j++;
        double r = 0.5 * (double)(i + j) + 1.0;   /* average 1-based rank of the tie */
        for (size_t k = i; k <= j; k++)
            rank[perm[k]] = r;
        i = j + 1;
    }
    const double c = 3.0 / 8.0;
    for (size_t i = 0; i < n; i++)
        x[i] = gsl_cdf_ugaussian_Pinv((rank[i] - c) / ((double)n - 2 * c + 1));
    free(perm);
    free(rank);
    return 0;
}

/* ---- the two estimators, on chains as given --------------------------- */

/* posterior's .rhat(): classic R-hat of m chains of n draws. */
static double rhat_of_chains(const double *x, int m, int n)
{
    if (m < 2 || n < 2 || unusable(x, (size_t)m * n))
        return NAN;
    double *mean = malloc(m * sizeof *mean);
    if (!mean)
        return NAN;
    double within = 0;
    for (int c = 0; c < m; c++) {
        const double *chain = x + (size_t)c * n;
        mean[c] = gsl_stats_mean(chain, 1, n);
        within += gsl_stats_variance_m(chain, 1, n, mean[c]);
    }
    within /= m;
    double between = n * gsl_stats_variance(mean, 1, m);
    free(mean);
    return sqrt((between / within + n - 1) / n);
}

int diagnostics_autocovariance(const double *x, int n, double *acov)
{
    if (n <= 0)
        return 0;
    double mean = gsl_stats_mean(x, 1, n);
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    if (!(ss > 0)) {                       /* constant (0) or non-finite (NaN) */
        for (int t = 0; t < n; t++)
            acov[t] = ss == 0 ? 0 : NAN;
        return 0;
    }
    size_t len = 2;
    while (len < 2 * (size_t)n)
        len *= 2;
    double *buf = calloc(len, sizeof *buf);
    if (!buf)
        return -1;
    for (int i = 0; i < n; i++)
        buf[i] = x[i] - mean;
    gsl_fft_real_radix2_transform(buf, 1, len);
    /* Power spectrum, in GSL's radix-2 halfcomplex layout: buf[k] holds
     * Re z_k for k <= len/2 and buf[len-k] holds Im z_k. */
    buf[0] *= buf[0];
    buf[len / 2] *= buf[len / 2];
    for (size_t k = 1; k < len / 2; k++) {
        buf[k] = buf[k] * buf[k] + buf[len - k] * buf[len - k];
        buf[len - k] = 0;
    }
    gsl_fft_halfcomplex_radix2_inverse(buf, 1, len);
    double scale = (ss / n) / buf[0];      /* lag 0 := the direct biased variance */
    for (int t = 0; t < n; t++)
        acov[t] = buf[t] * scale;
    free(buf);
    return 0;
}

/* The chains' mean autocovariance, lag by lag as Geyer's sequence asks for
 * it.  A well-mixing chain's sequence stops after a few lags, so those are
 * summed directly (m n work per lag); a chain that needs more than
 * ACOV_DIRECT_LAGS gets every lag at once by FFT.  Both give the biased
 * autocovariance sum_i d_i d_{i+t} / n of the centred draws d, and agree to
 * rounding. */
#define ACOV_DIRECT_LAGS 64

typedef struct {
    const double *x;
    int m, n;
    double *dev;         /* centred draws, m x n */
    double *acov_mean;   /* [n] */
    double *acov;        /* FFT scratch [n] */
    int have;            /* lags 0 .. have-1 are known */
} LagMeans;

static int lag_means_upto(LagMeans *lm, int t)
{
    if (t < lm->have)
        return 0;
    if (t >= ACOV_DIRECT_LAGS) {
        memset(lm->acov_mean, 0, (size_t)lm->n * sizeof(double));
        for (int c = 0; c < lm->m; c++) {
            if (diagnostics_autocovariance(lm->x + (size_t)c * lm->n, lm->n, lm->acov) < 0)
                return -1;
            for (int k = 0; k < lm->n; k++)
                lm->acov_mean[k] += lm->acov[k] / lm->m;
        }
        lm->have = lm->n;
        return 0;
    }
    for (int lag = lm->have; lag <= t; lag++) {
        double sum = 0;
        for (int c = 0; c < lm->m; c++) {
            const double *d = lm->dev + (size_t)c * lm->n;
            double s = 0;
            for (int i = 0; i + lag < lm->n; i++)
                s += d[i] * d[i + lag];
            sum += (s / lm->n) / lm->m;
        }
        lm->acov_mean[lag] = sum;
    }
    lm->have = t + 1;
    return 0;
}

/* posterior's .ess(): multi-chain ESS of m chains of n draws. */
static double ess_of_chains(const double *x, int m, int n)
{
    if (m < 1 || n < 3 || unusable(x, (size_t)m * n))
        return NAN;
    LagMeans lm = {x, m, n, malloc((size_t)m * n * sizeof(double)),
                   calloc((size_t)n, sizeof(double)), malloc((size_t)n * sizeof(double)), 0};
    double *acov_mean = lm.acov_mean;
    double *chain_mean = malloc((size_t)m * sizeof *chain_mean);
    double *rho = calloc((size_t)n, sizeof *rho);
    double ess = NAN;
    if (!lm.dev || !lm.acov_mean || !lm.acov || !chain_mean || !rho)
        goto done;
    for (int c = 0; c < m; c++) {
        const double *chain = x + (size_t)c * n;
        chain_mean[c] = gsl_stats_mean(chain, 1, n);
        for (int i = 0; i < n; i++)
            lm.dev[(size_t)c * n + i] = chain[i] - chain_mean[c];
    }
    if (lag_means_upto(&lm, 1) < 0)
        goto done;
    double mean_var = acov_mean[0] * n / (n - 1.0);
    double var_plus = mean_var * (n - 1.0) / n;
    if (m > 1)
        var_plus += gsl_stats_variance(chain_mean, 1, m);

    /* Geyer's initial positive sequence, over pairs of lags. */
    int t = 0;
    double rho_even = 1, rho_odd = 1 - (mean_var - acov_mean[1]) / var_plus;
    rho[0] = rho_even;
    rho[1] = rho_odd;
    while (t < n - 5 && !isnan(rho_even + rho_odd) && rho_even + rho_odd > 0) {
        t += 2;
        if (lag_means_upto(&lm, t + 1) < 0)
            goto done;
        rho_even = 1 - (mean_var - acov_mean[t]) / var_plus;
        rho_odd = 1 - (mean_var - acov_mean[t + 1]) / var_plus;
        if (rho_even + rho_odd >= 0) {
            rho[t] = rho_even;
            rho[t + 1] = rho_odd;
        }
    }
    int max_t = t;
    if (rho_even > 0)                      /* used by the improved estimate */
        rho[max_t] = rho_even;

    /* Geyer's initial monotone sequence. */
    for (t = 2; t <= max_t - 2; t += 2) {
        if (rho[t] + rho[t + 1] > rho[t - 2] + rho[t - 1]) {
            rho[t] = (rho[t - 2] + rho[t - 1]) / 2;
            rho[t + 1] = rho[t];
        }
    }
    double sum = 0;
    for (t = 0; t < max_t; t++)
        sum += rho[t];
    if (max_t == 0)                        /* R's rho[1:0] is rho[1] */
        sum = rho[0];
    double tau = -1 + 2 * sum + rho[max_t];
    double total = (double)m * n;
    if (tau < 1 / log10(total))            /* cap ESS at S log10(S) */
        tau = 1 / log10(total);
    ess = total / tau;
done:
    free(lm.dev);
    free(lm.acov_mean);
    free(lm.acov);
    free(chain_mean);
    free(rho);
    return ess;
}

double diagnostics_ess_chains(const double *x, int nchains, int ndraws)
{
    if (!x || nchains < 1 || ndraws < 1)
        return NAN;
    return ess_of_chains(x, nchains, ndraws);
}

/* ---- quantiles ---------------------------------------------------------- */

/* Type 7 as R computes it: no interpolation when the neighbours are equal,
 * so that a quantile among infinite draws is inf and not 0 * inf = NaN
 * (GSL's gsl_stats_quantile_from_sorted_data interpolates regardless). */
double diagnostics_quantile_sorted(const double *sorted, size_t n, double p)
{
    if (n == 0 || isnan(p) || has_nan(sorted, n))
        return NAN;
    if (p < 0) p = 0;
    if (p > 1) p = 1;
    double index = (double)(n - 1) * p;
    size_t lo = (size_t)floor(index), hi = (size_t)ceil(index);
    if (hi >= n)
        hi = n - 1;
    double q = sorted[lo];
    if (index > (double)lo && sorted[hi] != q) {
        double h = index - (double)lo;
        q = (1 - h) * q + h * sorted[hi];
    }
    return q;
}

double diagnostics_quantile(const double *x, size_t n, double p)
{
    if (n == 0 || has_nan(x, n))
        return NAN;
    double *s = copy_sorted(x, n);
    if (!s)
        return NAN;
    double q = diagnostics_quantile_sorted(s, n, p);
    free(s);
    return q;
}

/* ---- per-quantity diagnostics -------------------------------------------- */

/* Work space shared by the estimators of one column.  The sorted draws and
 * the z-scaled split chains are made on first use and then reused, since
 * sorting is most of the cost. */
typedef struct {
    const double *x;
    int nchains, ndraws;
    size_t total;
    double *sorted;     /* all draws, sorted (quantiles, median); lazy */
    double *split;      /* split chains, raw */
    double *z;          /* split chains, rank-normalised; lazy */
    double *work;       /* scratch: folded or indicator split chains */
    int m, n;           /* shape of the split chains */
} Column;

static int column_open(Column *col, const double *x, int nchains, int ndraws)
{
    memset(col, 0, sizeof *col);
    col->x = x;
    col->nchains = nchains;
    col->ndraws = ndraws;
    col->total = (size_t)nchains * ndraws;
    size_t bytes = (col->total ? col->total : 1) * sizeof(double);
    col->split = malloc(bytes);
    col->work = malloc(bytes);
    if (!col->split || !col->work)
        return -1;
    split_chains(x, nchains, ndraws, col->split, &col->m, &col->n);
    return 0;
}

static void column_close(Column *col)
{
    free(col->sorted);
    free(col->split);
    free(col->z);
    free(col->work);
}

static size_t split_size(const Column *col) { return (size_t)col->m * col->n; }

static const double *column_sorted(Column *col)
{
    if (!col->sorted)
        col->sorted = copy_sorted(col->x, col->total);
    return col->sorted;
}

static double column_quantile(Column *col, double p)
{
    const double *s = column_sorted(col);
    return s ? diagnostics_quantile_sorted(s, col->total, p) : NAN;
}

/* The rank-normalised split chains (requires no NaN), or NULL. */
static const double *column_z(Column *col)
{
    if (!col->z && (col->z = malloc((split_size(col) ? split_size(col) : 1) * sizeof(double)))) {
        memcpy(col->z, col->split, split_size(col) * sizeof(double));
        if (z_scale(col->z, split_size(col)) < 0) {
            free(col->z);
            col->z = NULL;
        }
    }
    return col->z;
}

static double column_rhat_bulk(Column *col)
{
    const double *z = column_z(col);
    return z ? rhat_of_chains(z, col->m, col->n) : NAN;
}

static double column_rhat_tail(Column *col)
{
    double med = column_quantile(col, 0.5);
    for (size_t i = 0; i < split_size(col); i++)
        col->work[i] = fabs(col->split[i] - med);
    if (has_nan(col->work, split_size(col)) || z_scale(col->work, split_size(col)) < 0)
        return NAN;
    return rhat_of_chains(col->work, col->m, col->n);
}

static double column_rhat(Column *col)
{
    if (has_nan(col->x, col->total))
        return NAN;
    double bulk = column_rhat_bulk(col), tail = column_rhat_tail(col);
    if (isnan(bulk) || isnan(tail))        /* R's max() propagates NA */
        return NAN;
    return bulk > tail ? bulk : tail;
}

static double column_ess_bulk(Column *col)
{
    if (has_nan(col->x, col->total))
        return NAN;
    const double *z = column_z(col);
    return z ? ess_of_chains(z, col->m, col->n) : NAN;
}

static double column_ess_quantile(Column *col, double prob)
{
    if (unusable(col->x, col->total))
        return NAN;
    if (prob == 1)                         /* as posterior: avoid an all-true indicator */
        prob = (col->total - 0.5) / col->total;
    double q = column_quantile(col, prob);
    for (size_t i = 0; i < split_size(col); i++)
        col->work[i] = col->split[i] <= q;
    return ess_of_chains(col->work, col->m, col->n);
}

static double column_ess_tail(Column *col)
{
    double lo = column_ess_quantile(col, 0.05), hi = column_ess_quantile(col, 0.95);
    if (isnan(lo) || isnan(hi))
        return NAN;
    return lo < hi ? lo : hi;
}

static double column_ess_mean(Column *col)
{
    return ess_of_chains(col->split, col->m, col->n);
}

static double column_mcse_mean(Column *col)
{
    if (col->total < 2)
        return NAN;
    double sd = gsl_stats_sd(col->x, 1, col->total);
    return sd / sqrt(column_ess_mean(col));
}

/* Runs one estimator on a fresh Column; NaN on bad shape or no memory. */
static double with_column(const double *x, int nchains, int ndraws,
                          double (*estimator)(Column *))
{
    if (!x || nchains < 1 || ndraws < 1)
        return NAN;
    Column col;
    double v = NAN;
    if (column_open(&col, x, nchains, ndraws) == 0)
        v = estimator(&col);
    column_close(&col);
    return v;
}

double diagnostics_rhat(const double *x, int nchains, int ndraws)
{
    return with_column(x, nchains, ndraws, column_rhat);
}

double diagnostics_ess_bulk(const double *x, int nchains, int ndraws)
{
    return with_column(x, nchains, ndraws, column_ess_bulk);
}

double diagnostics_ess_tail(const double *x, int nchains, int ndraws)
{
    return with_column(x, nchains, ndraws, column_ess_tail);
}

double diagnostics_ess_mean(const double *x, int nchains, int ndraws)
{
    return with_column(x, nchains, ndraws, column_ess_mean);
}

double diagnostics_mcse_mean(const double *x, int nchains, int ndraws)
{
    return with_column(x, nchains, ndraws, column_mcse_mean);
}

double diagnostics_ess_quantile(const double *x, int nchains, int ndraws,
                                double prob)
{
    if (!x || nchains < 1 || ndraws < 1 || !(prob >= 0 && prob <= 1))
        return NAN;
    Column col;
    double v = NAN;
    if (column_open(&col, x, nchains, ndraws) == 0)
        v = column_ess_quantile(&col, prob);
    column_close(&col);
    return v;
}

double diagnostics_rhat_basic(const double *x, int nchains, int ndraws)
{
    if (!x || nchains < 1 || ndraws < 1)
        return NAN;
    double *split = malloc((size_t)nchains * ndraws * sizeof *split);
    if (!split)
        return NAN;
    int m, n;
    split_chains(x, nchains, ndraws, split, &m, &n);
    double r = rhat_of_chains(split, m, n);
    free(split);
    return r;
}

double diagnostics_ebfmi(const double *energy, int n)
{
    if (!energy || n < 2)
        return NAN;
    double mean = gsl_stats_mean(energy, 1, n);
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0)
            num += (energy[i] - energy[i - 1]) * (energy[i] - energy[i - 1]);
        den += (energy[i] - mean) * (energy[i] - mean);
    }
    if (!(den > 0))
        return NAN;
    return num / den;
}

void diagnostics_column(const double *x, int nchains, int ndraws,
                        int convergence, DiagnosticsColumn *out)
{
    out->mean = out->sd = out->q5 = out->q50 = out->q95 = NAN;
    out->mcse_mean = out->ess_bulk = out->ess_tail = out->rhat = NAN;
    if (!x || nchains < 1 || ndraws < 1)
        return;
    Column col;
    if (column_open(&col, x, nchains, ndraws) == 0) {
        out->mean = gsl_stats_mean(x, 1, col.total);
        out->sd = col.total > 1 ? gsl_stats_sd_m(x, 1, col.total, out->mean) : NAN;
        out->q5 = column_quantile(&col, 0.05);
        out->q50 = column_quantile(&col, 0.50);
        out->q95 = column_quantile(&col, 0.95);
        if (convergence) {
            out->rhat = column_rhat(&col);
            out->ess_bulk = column_ess_bulk(&col);
            out->ess_tail = column_ess_tail(&col);
            out->mcse_mean = out->sd / sqrt(column_ess_mean(&col));
        }
    }
    column_close(&col);
}
