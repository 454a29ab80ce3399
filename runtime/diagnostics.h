/*
 * diagnostics.h - convergence diagnostics for MCMC draws.
 *
 * Exactly the estimators of Vehtari, Gelman, Simpson, Carpenter and
 * Buerkner (2021), "Rank-normalization, folding, and localization", as
 * R's posterior package computes them: rank-normalised split R-hat, bulk
 * and tail ESS, the Monte Carlo standard error of the mean, and type-7
 * quantiles.
 *
 * Every function takes one quantity's draws as nchains chains of ndraws
 * draws each, chain-major: x[c * ndraws + i].  Results that cannot be
 * computed (a constant column, a NaN draw, too few draws) are NaN, never
 * an abort.
 */
#ifndef CM_DIAGNOSTICS_H
#define CM_DIAGNOSTICS_H

#include <stddef.h>

/* Rank-normalised split R-hat: max of the bulk R-hat (split chains,
 * rank-normalised) and the tail R-hat (the same on |x - median|). */
double diagnostics_rhat(const double *x, int nchains, int ndraws);

/* The classic split R-hat (no ranks), posterior's rhat_basic(). */
double diagnostics_rhat_basic(const double *x, int nchains, int ndraws);

/* Bulk ESS: ESS of the rank-normalised split chains. */
double diagnostics_ess_bulk(const double *x, int nchains, int ndraws);

/* Tail ESS: min of the ESS of I(x <= q05) and of I(x <= q95). */
double diagnostics_ess_tail(const double *x, int nchains, int ndraws);

/* ESS of the mean: split chains, raw values (posterior's ess_mean). */
double diagnostics_ess_mean(const double *x, int nchains, int ndraws);

/* ESS of I(x <= quantile(x, prob)) on split chains (posterior's
 * ess_quantile). */
double diagnostics_ess_quantile(const double *x, int nchains, int ndraws,
                                double prob);

/* Multi-chain ESS of the chains exactly as given (no splitting): Geyer's
 * initial monotone sequence on rho_t = 1 - (W - mean acov_t) / var_plus. */
double diagnostics_ess_chains(const double *x, int nchains, int ndraws);

/* Monte Carlo standard error of the mean: sd(x) / sqrt(ess_mean(x)). */
double diagnostics_mcse_mean(const double *x, int nchains, int ndraws);

/* Biased autocovariance (divided by n, as Geyer recommends) at lags
 * 0..n-1, by FFT; acov has room for n values. Returns 0, -1 when out of
 * memory. */
int diagnostics_autocovariance(const double *x, int n, double *acov);

/* Type-7 quantile (R's default, numpy's "linear"): of sorted data, and of
 * unsorted data (copied and sorted).  NaN for n == 0 or a NaN value. */
double diagnostics_quantile_sorted(const double *sorted, size_t n, double p);
double diagnostics_quantile(const double *x, size_t n, double p);

/* Energy Bayesian fraction of missing information of one chain's energy__
 * draws: sum (E_n - E_{n-1})^2 / sum (E_n - mean E)^2.  NaN if n < 2 or
 * the energy is constant. */
double diagnostics_ebfmi(const double *energy, int n);

/* Everything the summary table shows for one column, computed with one
 * sort.  With convergence == 0 only mean, sd and quantiles are filled and
 * the rest are NaN (sampler columns, independent draws). */
typedef struct {
    double mean, sd;
    double q5, q50, q95;
    double mcse_mean;
    double ess_bulk, ess_tail;
    double rhat;
} DiagnosticsColumn;

void diagnostics_column(const double *x, int nchains, int ndraws,
                        int convergence, DiagnosticsColumn *out);

#endif
