/*
 * dist_discrete.c - the univariate discrete distributions (VK_INT values).
 *
 * The value arrives as a double holding an integer; a non-integer or a
 * value outside the support has log mass -INFINITY, and invalid parameters
 * (a probability outside [0, 1], a count that is not a natural number) give
 * NAN, checked first.  dx is never requested for a discrete value; dp gives
 * the gradients of the real parameters, and 0 for an integer parameter such
 * as Binomial's N, so a caller can always read every dp[i].
 *
 * Log masses are written in log form with log1p, and the logit forms
 * (BernoulliLogit, BinomialLogit, PoissonLog) never leave the log scale:
 * log(sigmoid(a)) is -log1p_exp(-a), computed without overflow for any a,
 * and one exp(-|a|) serves both log1p_exp(a), log1p_exp(-a) and sigmoid(a)
 * (logistic regression calls BernoulliLogit once per observation).
 * Log-gamma differences whose arguments can be huge next to their
 * difference (binomial coefficients for a large N, NegativeBinomial's
 * Gamma(y + phi) / Gamma(phi) for a large dispersion) go through
 * gsl_sf_lnbeta, which keeps them accurate (gsl_sf_lnpoch and lngamma
 * differences lose 1e-8 and more there).
 *
 * CDFs use GSL's incomplete gamma and beta functions directly with double
 * arguments (gsl_cdf_poisson_P and friends take unsigned int counts).
 * Their parameter gradients are exact: closed forms where the derivative of
 * an incomplete function in its argument applies (Poisson: -pmf(k);
 * Binomial: -N pmf(k; N-1)), and otherwise a finite sum over the support
 * up to k of pmf * dlog pmf (BetaBinomial, NegativeBinomial's phi), whose
 * terms come from a recurrence, so it costs O(k) additions and no special
 * functions per term.  Quantiles are the smallest k with F(k) >= u, found
 * by bracketing from a normal-approximation guess and bisecting, so an
 * unbounded heavy tail costs O(log k) CDF calls.
 */
#include <math.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_psi.h>

#include "dist.h"

#define UINT_LIMIT 4294967295.0 /* largest count GSL's samplers take */
#define EXACT_INT_LIMIT 9007199254740992.0 /* 2^53 */

/* ---- shared helpers ---------------------------------------------------- */

static int is_natural(double x) { return x >= 0 && x < INFINITY && x == floor(x); }
static int is_prob(double t) { return t >= 0 && t <= 1; }
static int bad_u(double u) { return !(u >= 0 && u <= 1); }

/* -INFINITY for a value outside the support, NAN for a NaN value. */
static double off_support(double x) { return isnan(x) ? NAN : -INFINITY; }

/* The shared core of the logit forms, from one exp: with t the result,
 * log(1 + exp(a)) = max(a, 0) + t and log(1 + exp(-a)) = max(-a, 0) + t,
 * exact for any a (no overflow, no cancellation); *sig = sigmoid(a). */
static double log1p_exp_abs(double a, double *sig)
{
    double e = exp(-fabs(a));
    if (sig) *sig = a >= 0 ? 1 / (1 + e) : e / (1 + e);
    return log1p(e);
}

static double sigmoid(double a)
{
    double s;
    log1p_exp_abs(a, &s);
    return s;
}

/* k log t and k log(1 - t) with 0 log 0 = 0, so masses at t = 0 or 1 are
 * exact (Binomial(N, 0) puts all its mass at 0). */
static double xlogy(double k, double t) { return k == 0 ? 0 : k * log(t); }
static double xlog1my(double k, double t) { return k == 0 ? 0 : k * log1p(-t); }
static double xdivy(double k, double t) { return k == 0 ? 0 : k / t; }

/* log C(n, k) through the log beta function, which GSL keeps accurate when
 * n is large (three lngamma calls would lose 1e-7 at n = 1e9). */
static double log_choose(double n, double k)
{
    if (k == 0 || k == n) return 0;
    return -log(n + 1) - gsl_sf_lnbeta(n - k + 1, k + 1);
}

/* Smallest k in [0, hi] with F(k) >= u (u = 1 only for a finite hi,
 * where F(hi) = 1).  The guess comes
 * from the normal approximation; from it we gallop up (doubling the step)
 * until F reaches u, then bisect, so a poor guess costs O(log k) calls. */
static double search_quantile(double (*cdf)(double, const double *, double *),
                              const double *p, double u, double guess, double hi)
{
    double g = floor(guess);
    if (!(g >= 0)) g = 0;
    if (g > hi) g = hi;
    double lo = 0, top = g; /* invariant: answer in [lo, top], F(top) >= u */
    if (cdf(g, p, NULL) < u) {
        double step = g > 1 ? g : 1;
        lo = g + 1;
        top = g + step < hi ? g + step : hi;
        while (cdf(top, p, NULL) < u) {
            if (top >= hi) return hi;
            if (top >= EXACT_INT_LIMIT) return INFINITY;
            lo = top + 1;
            step *= 2;
            top = g + step < hi ? g + step : hi;
        }
    }
    while (lo < top) {
        double mid = floor(0.5 * (lo + top));
        if (cdf(mid, p, NULL) >= u) top = mid;
        else lo = mid + 1;
    }
    return top;
}

/* The guess handed to search_quantile: mean + sd * z(u). */
static double normal_guess(double mean, double var, double u)
{
    return mean + sqrt(var) * gsl_cdf_ugaussian_Pinv(u);
}

/* ---- Bernoulli(theta) -------------------------------------------------- */

static double bernoulli_lpdf(double x, const double *p, double *dx, double *dp)
{
    double t = p[0];
    (void)dx;
    if (!is_prob(t)) return NAN;
    if (x == 1) {
        if (dp) dp[0] = 1 / t;
        return log(t);
    }
    if (x == 0) {
        if (dp) dp[0] = -1 / (1 - t);
        return log1p(-t);
    }
    return off_support(x);
}

static double bernoulli_sample(const gsl_rng *r, const double *p)
{
    if (!is_prob(p[0])) return NAN;
    return gsl_rng_uniform(r) < p[0];
}

static double bernoulli_cdf(double x, const double *p, double *dp)
{
    if (!is_prob(p[0]) || isnan(x)) return NAN;
    if (dp) dp[0] = x >= 0 && x < 1 ? -1 : 0;
    return x < 0 ? 0 : x < 1 ? 1 - p[0] : 1;
}

static double bernoulli_quantile(double u, const double *p)
{
    if (!is_prob(p[0]) || bad_u(u)) return NAN;
    return u <= 1 - p[0] ? 0 : 1;
}

static int bernoulli_moments(const double *p, double *mean, double *var)
{
    *mean = p[0];
    *var = p[0] * (1 - p[0]);
    return 1;
}

const DistInfo dist_row_bernoulli = {
    .name = "Bernoulli", .nparams = 1,
    .param_names = {"theta"}, .param_kind = {PK_REAL},
    .value_kind = VK_INT, .support = SUP_BINARY, .lo_param = -1, .hi_param = -1,
    .doc = "1 with probability theta in [0, 1], else 0",
    .lpdf = bernoulli_lpdf, .sample = bernoulli_sample, .cdf = bernoulli_cdf,
    .quantile = bernoulli_quantile, .moments = bernoulli_moments,
};

/* ---- BernoulliLogit(alpha) --------------------------------------------- */

static double bernoulli_logit_lpdf(double x, const double *p, double *dx, double *dp)
{
    double a = p[0];
    (void)dx;
    if (!isfinite(a)) return NAN;
    if (x != 0 && x != 1) return off_support(x);
    double s, t = log1p_exp_abs(a, &s);
    if (dp) dp[0] = x - s;
    return x == 1 ? -(fmax(-a, 0) + t) : -(fmax(a, 0) + t);
}

static double bernoulli_logit_sample(const gsl_rng *r, const double *p)
{
    if (!isfinite(p[0])) return NAN;
    return gsl_rng_uniform(r) < sigmoid(p[0]);
}

static double bernoulli_logit_cdf(double x, const double *p, double *dp)
{
    double a = p[0];
    if (!isfinite(a) || isnan(x)) return NAN;
    if (dp) dp[0] = x >= 0 && x < 1 ? -sigmoid(a) * sigmoid(-a) : 0;
    return x < 0 ? 0 : x < 1 ? sigmoid(-a) : 1;
}

static double bernoulli_logit_quantile(double u, const double *p)
{
    if (!isfinite(p[0]) || bad_u(u)) return NAN;
    return u <= sigmoid(-p[0]) ? 0 : 1;
}

static int bernoulli_logit_moments(const double *p, double *mean, double *var)
{
    *mean = sigmoid(p[0]);
    *var = *mean * sigmoid(-p[0]);
    return 1;
}

const DistInfo dist_row_bernoulli_logit = {
    .name = "BernoulliLogit", .nparams = 1,
    .param_names = {"alpha"}, .param_kind = {PK_REAL},
    .value_kind = VK_INT, .support = SUP_BINARY, .lo_param = -1, .hi_param = -1,
    .doc = "Bernoulli with success probability sigmoid(alpha)",
    .lpdf = bernoulli_logit_lpdf, .sample = bernoulli_logit_sample,
    .cdf = bernoulli_logit_cdf, .quantile = bernoulli_logit_quantile,
    .moments = bernoulli_logit_moments,
};

/* ---- Binomial(N, theta) ------------------------------------------------ */

static int binomial_bad(const double *p)
{
    return !is_natural(p[0]) || p[0] > UINT_LIMIT || !is_prob(p[1]);
}

static double binomial_lpdf(double x, const double *p, double *dx, double *dp)
{
    double n = p[0], t = p[1];
    (void)dx;
    if (binomial_bad(p)) return NAN;
    if (!is_natural(x) || x > n) return off_support(x);
    if (dp) {
        dp[0] = 0;
        dp[1] = xdivy(x, t) - xdivy(n - x, 1 - t);
    }
    return log_choose(n, x) + xlogy(x, t) + xlog1my(n - x, t);
}

static double binomial_sample(const gsl_rng *r, const double *p)
{
    if (binomial_bad(p)) return NAN;
    return gsl_ran_binomial(r, p[1], (unsigned)p[0]);
}

/* F(k) = I_{1-theta}(N - k, k + 1); dF/dtheta = -N pmf(k; N - 1, theta). */
static double binomial_cdf(double x, const double *p, double *dp)
{
    double n = p[0], t = p[1];
    if (binomial_bad(p) || isnan(x)) return NAN;
    double k = floor(x);
    if (dp) {
        dp[0] = 0;
        dp[1] = k >= 0 && k < n ? -n * exp(log_choose(n - 1, k) + xlogy(k, t)
                                           + xlog1my(n - 1 - k, t))
                                : 0;
    }
    if (k < 0) return 0;
    if (k >= n) return 1;
    return gsl_cdf_binomial_P((unsigned)k, t, (unsigned)n);
}

static double binomial_quantile(double u, const double *p)
{
    double n = p[0], t = p[1];
    if (binomial_bad(p) || bad_u(u)) return NAN;
    return search_quantile(binomial_cdf, p, u, normal_guess(n * t, n * t * (1 - t), u), n);
}

static int binomial_moments(const double *p, double *mean, double *var)
{
    *mean = p[0] * p[1];
    *var = *mean * (1 - p[1]);
    return 1;
}

const DistInfo dist_row_binomial = {
    .name = "Binomial", .nparams = 2,
    .param_names = {"N", "theta"}, .param_kind = {PK_INT, PK_REAL},
    .value_kind = VK_INT, .support = SUP_INT_RANGE, .lo_param = -1, .hi_param = 0,
    .doc = "successes in N >= 0 trials with probability theta in [0, 1]",
    .lpdf = binomial_lpdf, .sample = binomial_sample, .cdf = binomial_cdf,
    .quantile = binomial_quantile, .moments = binomial_moments,
};

/* ---- BinomialLogit(N, alpha) ------------------------------------------- */

static int binomial_logit_bad(const double *p)
{
    return !is_natural(p[0]) || p[0] > UINT_LIMIT || !isfinite(p[1]);
}

static double binomial_logit_lpdf(double x, const double *p, double *dx, double *dp)
{
    double n = p[0], a = p[1];
    (void)dx;
    if (binomial_logit_bad(p)) return NAN;
    if (!is_natural(x) || x > n) return off_support(x);
    double s, t = log1p_exp_abs(a, &s);
    if (dp) {
        dp[0] = 0;
        dp[1] = x - n * s;
    }
    return log_choose(n, x) - x * (fmax(-a, 0) + t) - (n - x) * (fmax(a, 0) + t);
}

static double binomial_logit_sample(const gsl_rng *r, const double *p)
{
    if (binomial_logit_bad(p)) return NAN;
    return gsl_ran_binomial(r, sigmoid(p[1]), (unsigned)p[0]);
}

static double binomial_logit_cdf(double x, const double *p, double *dp)
{
    if (binomial_logit_bad(p) || isnan(x)) return NAN;
    double s = sigmoid(p[1]), q[2] = {p[0], s};
    double f = binomial_cdf(x, q, dp);
    if (dp) dp[1] *= s * sigmoid(-p[1]);
    return f;
}

static double binomial_logit_quantile(double u, const double *p)
{
    if (binomial_logit_bad(p) || bad_u(u)) return NAN;
    double q[2] = {p[0], sigmoid(p[1])};
    return binomial_quantile(u, q);
}

static int binomial_logit_moments(const double *p, double *mean, double *var)
{
    *mean = p[0] * sigmoid(p[1]);
    *var = *mean * sigmoid(-p[1]);
    return 1;
}

const DistInfo dist_row_binomial_logit = {
    .name = "BinomialLogit", .nparams = 2,
    .param_names = {"N", "alpha"}, .param_kind = {PK_INT, PK_REAL},
    .value_kind = VK_INT, .support = SUP_INT_RANGE, .lo_param = -1, .hi_param = 0,
    .doc = "Binomial with N >= 0 trials and success probability sigmoid(alpha)",
    .lpdf = binomial_logit_lpdf, .sample = binomial_logit_sample,
    .cdf = binomial_logit_cdf, .quantile = binomial_logit_quantile,
    .moments = binomial_logit_moments,
};

/* ---- BetaBinomial(N, alpha, beta) -------------------------------------- */

static int beta_binomial_bad(const double *p)
{
    return !is_natural(p[0]) || p[0] > UINT_LIMIT
        || !(p[1] > 0 && p[1] < INFINITY) || !(p[2] > 0 && p[2] < INFINITY);
}

static double beta_binomial_lpdf(double x, const double *p, double *dx, double *dp)
{
    double n = p[0], a = p[1], b = p[2];
    (void)dx;
    if (beta_binomial_bad(p)) return NAN;
    if (!is_natural(x) || x > n) return off_support(x);
    if (dp) {
        double common = gsl_sf_psi(a + b) - gsl_sf_psi(n + a + b);
        dp[0] = 0;
        dp[1] = gsl_sf_psi(x + a) - gsl_sf_psi(a) + common;
        dp[2] = gsl_sf_psi(n - x + b) - gsl_sf_psi(b) + common;
    }
    return log_choose(n, x) + gsl_sf_lnbeta(x + a, n - x + b) - gsl_sf_lnbeta(a, b);
}

static double beta_binomial_sample(const gsl_rng *r, const double *p)
{
    if (beta_binomial_bad(p)) return NAN;
    return gsl_ran_binomial(r, gsl_ran_beta(r, p[1], p[2]), (unsigned)p[0]);
}

/* F(k) = sum_{j <= k} pmf(j), with pmf(j+1)/pmf(j) and the digammas of
 * dlog pmf / da, db advanced by recurrence (psi(z+1) = psi(z) + 1/z). */
static double beta_binomial_cdf(double x, const double *p, double *dp)
{
    double n = p[0], a = p[1], b = p[2];
    if (beta_binomial_bad(p) || isnan(x)) return NAN;
    double k = floor(x);
    if (k < 0 || k >= n) {
        if (dp) dp[0] = dp[1] = dp[2] = 0;
        return k < 0 ? 0 : 1;
    }
    double common = gsl_sf_psi(a + b) - gsl_sf_psi(n + a + b);
    double ca = common - gsl_sf_psi(a), cb = common - gsl_sf_psi(b);
    double lp = gsl_sf_lnbeta(a, n + b) - gsl_sf_lnbeta(a, b);
    double psa = gsl_sf_psi(a), psb = gsl_sf_psi(n + b); /* psi(j+a), psi(n-j+b) */
    double f = 0, fa = 0, fb = 0;
    for (double j = 0; j <= k; j++) {
        double w = exp(lp);
        f += w;
        fa += w * (psa + ca);
        fb += w * (psb + cb);
        lp += log((n - j) / (j + 1)) + log((j + a) / (n - j - 1 + b));
        psa += 1 / (j + a);
        psb -= 1 / (n - j - 1 + b);
    }
    if (dp) {
        dp[0] = 0;
        dp[1] = fa;
        dp[2] = fb;
    }
    return f < 1 ? f : 1;
}

static int beta_binomial_moments(const double *p, double *mean, double *var)
{
    double n = p[0], a = p[1], b = p[2], s = a + b;
    *mean = n * a / s;
    *var = n * a * b * (s + n) / (s * s * (s + 1));
    return 1;
}

static double beta_binomial_quantile(double u, const double *p)
{
    double mean, var;
    if (beta_binomial_bad(p) || bad_u(u)) return NAN;
    beta_binomial_moments(p, &mean, &var);
    return search_quantile(beta_binomial_cdf, p, u, normal_guess(mean, var, u), p[0]);
}

const DistInfo dist_row_beta_binomial = {
    .name = "BetaBinomial", .nparams = 3,
    .param_names = {"N", "alpha", "beta"}, .param_kind = {PK_INT, PK_REAL, PK_REAL},
    .value_kind = VK_INT, .support = SUP_INT_RANGE, .lo_param = -1, .hi_param = 0,
    .doc = "Binomial(N, theta) with theta ~ Beta(alpha, beta), alpha, beta > 0",
    .lpdf = beta_binomial_lpdf, .sample = beta_binomial_sample,
    .cdf = beta_binomial_cdf, .quantile = beta_binomial_quantile,
    .moments = beta_binomial_moments,
};

/* ---- Poisson(lambda) --------------------------------------------------- */

static int poisson_bad(double lambda) { return !(lambda >= 0 && lambda < INFINITY); }

static double poisson_lpdf(double x, const double *p, double *dx, double *dp)
{
    double lambda = p[0];
    (void)dx;
    if (poisson_bad(lambda)) return NAN;
    if (!is_natural(x)) return off_support(x);
    if (dp) dp[0] = xdivy(x, lambda) - 1;
    return xlogy(x, lambda) - lambda - gsl_sf_lngamma(x + 1);
}

static double poisson_sample(const gsl_rng *r, const double *p)
{
    if (poisson_bad(p[0])) return NAN;
    return gsl_ran_poisson(r, p[0]);
}

/* F(k) = Q(k + 1, lambda); dF/dlambda = -pmf(k). */
static double poisson_cdf(double x, const double *p, double *dp)
{
    double lambda = p[0];
    if (poisson_bad(lambda) || isnan(x)) return NAN;
    double k = floor(x);
    if (k < 0) {
        if (dp) dp[0] = 0;
        return 0;
    }
    if (dp) dp[0] = isinf(k) ? 0 : -exp(xlogy(k, lambda) - lambda - gsl_sf_lngamma(k + 1));
    return isinf(k) ? 1 : gsl_cdf_gamma_Q(lambda, k + 1, 1.0);
}

static double poisson_quantile(double u, const double *p)
{
    double lambda = p[0];
    if (poisson_bad(lambda) || bad_u(u)) return NAN;
    if (u == 1) return lambda == 0 ? 0 : INFINITY;
    return search_quantile(poisson_cdf, p, u, normal_guess(lambda, lambda, u), INFINITY);
}

static int poisson_moments(const double *p, double *mean, double *var)
{
    *mean = *var = p[0];
    return 1;
}

const DistInfo dist_row_poisson = {
    .name = "Poisson", .nparams = 1,
    .param_names = {"lambda"}, .param_kind = {PK_REAL},
    .value_kind = VK_INT, .support = SUP_NATURAL, .lo_param = -1, .hi_param = -1,
    .doc = "Poisson counts with rate lambda >= 0",
    .lpdf = poisson_lpdf, .sample = poisson_sample, .cdf = poisson_cdf,
    .quantile = poisson_quantile, .moments = poisson_moments,
};

/* ---- PoissonLog(alpha): rate exp(alpha) -------------------------------- */

static double poisson_log_lpdf(double x, const double *p, double *dx, double *dp)
{
    double a = p[0];
    (void)dx;
    if (!isfinite(a)) return NAN;
    if (!is_natural(x)) return off_support(x);
    double lambda = exp(a);
    if (dp) dp[0] = x - lambda;
    return (x == 0 ? 0 : x * a) - lambda - gsl_sf_lngamma(x + 1);
}

static double poisson_log_sample(const gsl_rng *r, const double *p)
{
    if (!isfinite(p[0])) return NAN;
    return gsl_ran_poisson(r, exp(p[0]));
}

static double poisson_log_cdf(double x, const double *p, double *dp)
{
    if (!isfinite(p[0])) return NAN;
    double lambda = exp(p[0]);
    double f = poisson_cdf(x, &lambda, dp);
    if (dp) dp[0] *= lambda;
    return f;
}

static double poisson_log_quantile(double u, const double *p)
{
    if (!isfinite(p[0]) || bad_u(u)) return NAN;
    double lambda = exp(p[0]);
    return poisson_quantile(u, &lambda);
}

static int poisson_log_moments(const double *p, double *mean, double *var)
{
    *mean = *var = exp(p[0]);
    return isfinite(*mean);
}

const DistInfo dist_row_poisson_log = {
    .name = "PoissonLog", .nparams = 1,
    .param_names = {"alpha"}, .param_kind = {PK_REAL},
    .value_kind = VK_INT, .support = SUP_NATURAL, .lo_param = -1, .hi_param = -1,
    .doc = "Poisson counts with log rate alpha",
    .lpdf = poisson_log_lpdf, .sample = poisson_log_sample, .cdf = poisson_log_cdf,
    .quantile = poisson_log_quantile, .moments = poisson_log_moments,
};

/* ---- NegativeBinomial(mu, phi): mean mu, variance mu + mu^2/phi -------- */

static int neg_binomial_bad(const double *p)
{
    return !(p[0] > 0 && p[0] < INFINITY) || !(p[1] > 0 && p[1] < INFINITY);
}

static double neg_binomial_lpdf(double x, const double *p, double *dx, double *dp)
{
    double mu = p[0], phi = p[1];
    (void)dx;
    if (neg_binomial_bad(p)) return NAN;
    if (!is_natural(x)) return off_support(x);
    double lmp = log(mu + phi), l1p = log1p(mu / phi);
    if (dp) {
        dp[0] = x / mu - (x + phi) / (mu + phi);
        dp[1] = gsl_sf_psi(x + phi) - gsl_sf_psi(phi) - l1p + (mu - x) / (mu + phi);
    }
    /* log C(x + phi - 1, x) = -log x - lbeta(phi, x), accurate for large phi */
    double lchoose = x == 0 ? 0 : -log(x) - gsl_sf_lnbeta(phi, x);
    return lchoose + (x == 0 ? 0 : x * (log(mu) - lmp)) - phi * l1p;
}

static double neg_binomial_sample(const gsl_rng *r, const double *p)
{
    if (neg_binomial_bad(p)) return NAN;
    return gsl_ran_negative_binomial(r, p[1] / (p[0] + p[1]), p[1]);
}

/* F(k) = I_q(phi, k + 1) with q = phi / (mu + phi): the mu gradient is the
 * beta density at q times dq/dmu; the phi gradient (phi is also a shape of
 * the incomplete beta) is the sum over j <= k of pmf(j) dlog pmf(j)/dphi. */
static double neg_binomial_cdf(double x, const double *p, double *dp)
{
    double mu = p[0], phi = p[1];
    if (neg_binomial_bad(p) || isnan(x)) return NAN;
    double k = floor(x);
    if (k < 0 || isinf(k)) {
        if (dp) dp[0] = dp[1] = 0;
        return k < 0 ? 0 : 1;
    }
    double l1p = log1p(mu / phi), lq1 = log(mu) - log(mu + phi); /* log(1 - q) */
    if (dp) {
        double dens = exp(-(phi - 1) * l1p + k * lq1 - gsl_sf_lnbeta(phi, k + 1));
        dp[0] = -phi / ((mu + phi) * (mu + phi)) * dens;
        double lp = -phi * l1p, dpsi = 0, sum = 0; /* dpsi = psi(j+phi) - psi(phi) */
        for (double j = 0; j <= k; j++) {
            sum += exp(lp) * (dpsi - l1p + (mu - j) / (mu + phi));
            lp += log((j + phi) / (j + 1)) + lq1;
            dpsi += 1 / (j + phi);
        }
        dp[1] = sum;
    }
    /* 1 - I_{1-q}(k + 1, phi): 1 - q = mu / (mu + phi) is exact where q
     * rounds towards 1 (a large phi), and GSL's P form loses 1e-10 there */
    return gsl_cdf_beta_Q(mu / (mu + phi), k + 1, phi);
}

static int neg_binomial_moments(const double *p, double *mean, double *var)
{
    *mean = p[0];
    *var = p[0] + p[0] * p[0] / p[1];
    return 1;
}

static double neg_binomial_quantile(double u, const double *p)
{
    double mean, var;
    if (neg_binomial_bad(p) || bad_u(u)) return NAN;
    if (u == 1) return INFINITY;
    neg_binomial_moments(p, &mean, &var);
    return search_quantile(neg_binomial_cdf, p, u, normal_guess(mean, var, u), INFINITY);
}

const DistInfo dist_row_neg_binomial = {
    .name = "NegativeBinomial", .nparams = 2,
    .param_names = {"mu", "phi"}, .param_kind = {PK_REAL, PK_REAL},
    .value_kind = VK_INT, .support = SUP_NATURAL, .lo_param = -1, .hi_param = -1,
    .doc = "negative binomial with mean mu > 0 and dispersion phi > 0 (var mu + mu^2/phi)",
    .lpdf = neg_binomial_lpdf, .sample = neg_binomial_sample,
    .cdf = neg_binomial_cdf, .quantile = neg_binomial_quantile,
    .moments = neg_binomial_moments,
};

/* ---- Geometric(theta): failures before the first success --------------- */

static int geometric_bad(double t) { return !(t > 0 && t <= 1); }

static double geometric_lpdf(double x, const double *p, double *dx, double *dp)
{
    double t = p[0];
    (void)dx;
    if (geometric_bad(t)) return NAN;
    if (!is_natural(x)) return off_support(x);
    if (dp) dp[0] = 1 / t - xdivy(x, 1 - t);
    return log(t) + xlog1my(x, t);
}

static double geometric_sample(const gsl_rng *r, const double *p)
{
    if (geometric_bad(p[0])) return NAN;
    return gsl_ran_geometric(r, p[0]) - 1.0;
}

/* F(k) = 1 - (1 - theta)^(k + 1); dF/dtheta = (k + 1)(1 - theta)^k. */
static double geometric_cdf(double x, const double *p, double *dp)
{
    double t = p[0];
    if (geometric_bad(t) || isnan(x)) return NAN;
    double k = floor(x);
    if (k < 0) {
        if (dp) dp[0] = 0;
        return 0;
    }
    if (dp) dp[0] = isinf(k) ? 0 : (k + 1) * exp(xlog1my(k, t));
    return -expm1((k + 1) * log1p(-t));
}

static double geometric_quantile(double u, const double *p)
{
    double t = p[0];
    if (geometric_bad(t) || bad_u(u)) return NAN;
    if (t == 1) return 0;
    if (u == 1) return INFINITY;
    double guess = log1p(-u) / log1p(-t) - 1; /* exact up to rounding */
    return search_quantile(geometric_cdf, p, u, guess - 1, INFINITY);
}

static int geometric_moments(const double *p, double *mean, double *var)
{
    *mean = (1 - p[0]) / p[0];
    *var = *mean / p[0];
    return 1;
}

const DistInfo dist_row_geometric = {
    .name = "Geometric", .nparams = 1,
    .param_names = {"theta"}, .param_kind = {PK_REAL},
    .value_kind = VK_INT, .support = SUP_NATURAL, .lo_param = -1, .hi_param = -1,
    .doc = "failures before the first success, success probability theta in (0, 1]",
    .lpdf = geometric_lpdf, .sample = geometric_sample, .cdf = geometric_cdf,
    .quantile = geometric_quantile, .moments = geometric_moments,
};
