/*
 * dist_table.c - the list of distributions and lookup by name.
 *
 * Each family file (dist_continuous.c, dist_discrete.c,
 * dist_multivariate.c) defines one `const DistInfo dist_row_*` per
 * distribution; this file only lists them, so adding a distribution is one
 * row in its family file and one line here.  The rows are declared here
 * rather than in a header because nothing else needs them by symbol: the
 * checker and the runtime find a row by the name the user wrote.
 *
 * Lookup is a linear scan with strcmp.  The table has a few dozen rows and
 * dist_find runs when a program is checked, not per evaluation (the tape
 * keeps the DistInfo pointer), so a hash would buy nothing.
 */
#include <string.h>

#include "dist.h"

/* dist_continuous.c */
extern const DistInfo dist_row_normal, dist_row_student_t, dist_row_cauchy,
    dist_row_laplace, dist_row_logistic, dist_row_uniform, dist_row_flat,
    dist_row_half_flat, dist_row_half_normal, dist_row_half_cauchy,
    dist_row_half_student_t, dist_row_lognormal, dist_row_exponential,
    dist_row_gamma, dist_row_inv_gamma, dist_row_weibull, dist_row_pareto,
    dist_row_beta;
/* dist_discrete.c */
extern const DistInfo dist_row_bernoulli, dist_row_bernoulli_logit,
    dist_row_binomial, dist_row_binomial_logit, dist_row_beta_binomial,
    dist_row_poisson, dist_row_poisson_log, dist_row_neg_binomial,
    dist_row_geometric;
/* dist_multivariate.c */
extern const DistInfo dist_row_categorical, dist_row_categorical_logit,
    dist_row_multinomial, dist_row_dirichlet, dist_row_mvn,
    dist_row_mvn_cholesky, dist_row_lkj_cholesky, dist_row_gaussian_random_walk;

const DistInfo *const cm_dists[] = {
    /* univariate continuous, real line */
    &dist_row_normal, &dist_row_student_t, &dist_row_cauchy, &dist_row_laplace,
    &dist_row_logistic, &dist_row_flat,
    /* univariate continuous, positive, unit and bounded */
    &dist_row_half_normal, &dist_row_half_cauchy, &dist_row_half_student_t,
    &dist_row_lognormal, &dist_row_exponential, &dist_row_gamma,
    &dist_row_inv_gamma, &dist_row_weibull, &dist_row_half_flat,
    &dist_row_beta, &dist_row_uniform, &dist_row_pareto,
    /* univariate discrete */
    &dist_row_bernoulli, &dist_row_bernoulli_logit, &dist_row_binomial,
    &dist_row_binomial_logit, &dist_row_beta_binomial, &dist_row_poisson,
    &dist_row_poisson_log, &dist_row_neg_binomial, &dist_row_geometric,
    /* multivariate */
    &dist_row_categorical, &dist_row_categorical_logit, &dist_row_multinomial,
    &dist_row_dirichlet, &dist_row_mvn, &dist_row_mvn_cholesky,
    &dist_row_lkj_cholesky, &dist_row_gaussian_random_walk,
    NULL,
};

const DistInfo *dist_find(const char *name)
{
    if (!name) return NULL;
    for (const DistInfo *const *d = cm_dists; *d; d++)
        if (strcmp((*d)->name, name) == 0) return *d;
    return NULL;
}

int dist_count(void)
{
    return (int)(sizeof cm_dists / sizeof *cm_dists) - 1;
}
