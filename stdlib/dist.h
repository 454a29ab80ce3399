/*
 * dist.h - the distribution table shared by the checker and the runtime.
 *
 * One row per distribution: its name as users write it, its parameters
 * (names and kinds, which the checker uses for arity and type errors), the
 * kind and support of its value (which the runtime uses to pick a bijector),
 * and its numerics.  Numerics come in two shapes:
 *
 *  - univariate: one value x and scalar parameters p[0..nparams-1].  The
 *    runtime vectorises them itself (broadcasting scalars), so a row only
 *    says what happens for one element.  `lpdf` returns the log density (or
 *    log mass) and, when dx / dp are not NULL, writes d/dx into *dx and
 *    d/dp[i] into dp[i].  For discrete distributions dx is never requested.
 *  - multivariate: the value and the parameters are arrays (DArr, row-major).
 *
 * Log densities are fully normalised (they match GSL's pdfs), so prior
 * predictive checks, IS weights and tests need no special cases.  Values
 * outside the support give -INFINITY; invalid parameters (sigma <= 0) give
 * NAN so that the runtime can name the offending site.
 */
#ifndef CM_DIST_H
#define CM_DIST_H

#include <gsl/gsl_rng.h>

/* What a value may be; each continuous support has a bijector to R^n. */
typedef enum {
    SUP_REAL,          /* (-inf, inf)                                   */
    SUP_POSITIVE,      /* (0, inf)                                      */
    SUP_UNIT,          /* (0, 1)                                        */
    SUP_INTERVAL,      /* (p[lo], p[hi]): bounds are parameters (Uniform) */
    SUP_LOWER,         /* (p[lo], inf): e.g. Pareto's (x_min, inf)       */
    SUP_SIMPLEX,       /* vector with positive elements summing to 1    */
    SUP_CHOL_CORR,     /* lower-triangular Cholesky factor of a correlation matrix */
    SUP_REAL_VECTOR,   /* R^n, multivariate (MVN, random walk)          */
    /* discrete */
    SUP_BINARY,        /* {0, 1}                                        */
    SUP_NATURAL,       /* {0, 1, 2, ...}                                */
    SUP_INT_RANGE,     /* {0..p[hi]} (Binomial) or {1..K} (Categorical) */
    SUP_COUNT_VECTOR   /* vector of naturals with a fixed sum (Multinomial) */
} Support;

typedef enum {
    PK_REAL,    /* real scalar                           */
    PK_INT,     /* int scalar (converted to double)      */
    PK_VECTOR,  /* real vector                           */
    PK_MATRIX   /* real matrix                           */
} ParamKind;

typedef enum {
    VK_REAL,        /* real scalar per element  */
    VK_INT,         /* int scalar per element   */
    VK_VECTOR,      /* real vector per draw     */
    VK_INT_VECTOR,  /* int vector per draw      */
    VK_MATRIX       /* real matrix per draw     */
} ValueKind;

/* An array argument of a multivariate distribution: row-major data with
 * n rows and m columns (m = 1 for a vector). */
typedef struct {
    const double *x;
    int n, m;
} DArr;

#define DIST_MAX_PARAMS 4

typedef struct DistInfo DistInfo;
struct DistInfo {
    const char *name;                         /* "Normal"                        */
    int nparams;
    const char *param_names[DIST_MAX_PARAMS]; /* "mu", "sigma"                   */
    ParamKind param_kind[DIST_MAX_PARAMS];
    ValueKind value_kind;
    Support support;
    int lo_param, hi_param;   /* parameter index of a support bound, or -1;
                                 for SUP_INT_RANGE hi_param is the count n
                                 (Binomial: 0..n); Categorical uses the
                                 length of its probability vector (1..K)   */
    const char *doc;          /* one line for docs and --help               */

    /* univariate numerics (NULL for multivariate rows) */
    double (*lpdf)(double x, const double *p, double *dx, double *dp);
    double (*sample)(const gsl_rng *r, const double *p);
    /* CDF and its parameter gradient (dp may be NULL); used for truncation
     * and for inverse-CDF noise in counterfactuals. NULL where not defined. */
    double (*cdf)(double x, const double *p, double *dp);
    /* inverse CDF of u in (0,1); NULL where not defined */
    double (*quantile)(double u, const double *p);
    /* mean and variance where defined; returns 0 when they are not */
    int (*moments)(const double *p, double *mean, double *var);

    /* multivariate numerics (NULL for univariate rows).
     * mv_lpdf: log density of value x given parameters p[0..nparams-1];
     *   if dx != NULL writes d/dx (same layout as x); if dp != NULL, for each
     *   i with dp[i] != NULL writes d/dp[i] (same layout as p[i]).
     * mv_shape: the value's shape (rows, cols) implied by the parameters;
     *   returns 0, or -1 with a message in err if the parameters disagree.
     * mv_sample: one draw into out (rows*cols doubles, row-major). */
    double (*mv_lpdf)(DArr x, const DArr *p, double *dx, double *const *dp);
    int (*mv_shape)(const DArr *p, int *rows, int *cols, char *err, int errlen);
    void (*mv_sample)(const gsl_rng *r, const DArr *p, double *out);
};

/* The table, NULL-terminated by name. */
extern const DistInfo *const cm_dists[];
/* Rows that the tape recognises by address, to run specialised kernels
 * for them (runtime/tape_kernels.c). */
extern const DistInfo dist_row_normal, dist_row_half_normal, dist_row_cauchy,
    dist_row_half_cauchy, dist_row_bernoulli_logit, dist_row_poisson_log;
const DistInfo *dist_find(const char *name);
int dist_count(void);
static inline int support_is_discrete(Support s) { return s >= SUP_BINARY; }

#endif
