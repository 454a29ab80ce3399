/*
 * nuts.c - the No-U-Turn sampler, as Stan 2.3x runs it.
 *
 * One transition draws fresh momenta and doubles a trajectory, forwards or
 * backwards in time at random, until the trajectory turns back on itself,
 * an integration step diverges, or the tree reaches max_depth.  The state it
 * returns is drawn from the whole trajectory with weights exp(-H) (the
 * multinomial variant, Betancourt 2017), progressively as the tree grows:
 *
 *   - inside a subtree, uniform progressive sampling: when two halves
 *     merge, the proposal moves to the later half with probability
 *     w_final / (w_init + w_final);
 *   - at the top level, biased progressive sampling: the sample moves to
 *     the new subtree with probability min(1, w_new / w_old), which favours
 *     states far from the start.
 *
 * The no-U-turn criterion is the generalised one: with rho the summed
 * momenta over a (sub)trajectory and p_sharp = M^{-1} p at its two ends,
 * continue while p_sharp_minus.rho > 0 and p_sharp_plus.rho > 0.  Since Stan
 * 2.21 it is checked not only across each merged tree but also across the
 * two boundaries where its halves meet (rho of one half plus the momentum
 * at the near end of the other); the extra checks catch U-turns that happen
 * within one merge and that the plain check can miss.  That is why each
 * subtree reports the momenta and sharp momenta at *both* of its ends.
 *
 * A leaf whose energy exceeds the initial energy by more than 1000 is a
 * divergence and ends the transition; the subtree it sits in is discarded.
 * accept_stat is Stan's: the mean of min(1, exp(H0 - H)) over every leaf
 * built, including those of a rejected final subtree.
 *
 * Memory: the recursion needs a handful of vectors per level; they live in a
 * per-depth stack allocated once by nuts_work_new (the build at depth d only
 * touches level d, its children levels below), so a transition allocates
 * nothing.  The two ends of the trajectory are integrated in place (z_fwd
 * and z_bck), which is equivalent to Stan's copy-in, copy-out of the
 * integrator state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sampler_internal.h"

#define NUTS_MAX_DELTA_H 1000.0

typedef struct {
    HmcPoint z_propose_final;
    double *p_init_end, *p_sharp_init_end, *rho_init;
    double *p_final_beg, *p_sharp_final_beg, *rho_final;
} NutsLevel;

struct NutsWork {
    int dim, max_depth;
    HmcPoint z_fwd, z_bck, z_sample, z_propose;
    /* momenta and sharp momenta at the ends of the forward and backward
     * subtrees: fwd_fwd is the forward end of the forward subtree, etc. */
    double *p_fwd_fwd, *p_sharp_fwd_fwd, *p_fwd_bck, *p_sharp_fwd_bck;
    double *p_bck_fwd, *p_sharp_bck_fwd, *p_bck_bck, *p_sharp_bck_bck;
    double *rho, *rho_fwd, *rho_bck;
    NutsLevel *level;       /* [max_depth]; level[d] serves build_tree(d) */
    double *block;          /* every vector above, one allocation */
    /* State of the transition in progress. */
    Hamiltonian *h;
    HmcPoint *z;            /* the end being extended */
    double eps, H0, sum_metro_prob;
    int n_leapfrog, divergent;
};

#define VECS_TOP 11
#define VECS_LEVEL 9        /* 6 vectors + a point (3) */
#define POINTS_TOP 4

static double log_sum_exp(double a, double b)
{
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

static double dot(const double *a, const double *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void add_into(double *dst, const double *a, const double *b, int n)
{
    for (int i = 0; i < n; i++) dst[i] = a[i] + b[i];
}

static void copy_vec(double *dst, const double *src, int n)
{
    memcpy(dst, src, sizeof(double) * (size_t)n);
}

static int no_u_turn(const double *p_sharp_minus, const double *p_sharp_plus,
                     const double *rho, int n)
{
    return dot(p_sharp_plus, rho, n) > 0 && dot(p_sharp_minus, rho, n) > 0;
}

/* no_u_turn() with rho = a + b, without writing the sum anywhere. */
static int no_u_turn_sum(const double *p_sharp_minus, const double *p_sharp_plus,
                         const double *a, const double *b, int n)
{
    double plus = 0, minus = 0;
    for (int i = 0; i < n; i++) {
        double r = a[i] + b[i];
        plus += p_sharp_plus[i] * r;
        minus += p_sharp_minus[i] * r;
    }
    return plus > 0 && minus > 0;
}

NutsWork *nuts_work_new(int dim, int max_depth)
{
    NutsWork *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    size_t n = dim > 0 ? (size_t)dim : 1;
    size_t nvec = VECS_TOP + 3 * POINTS_TOP + (size_t)max_depth * VECS_LEVEL;
    w->dim = dim;
    w->max_depth = max_depth;
    w->block = calloc(nvec * n, sizeof(double));
    w->level = calloc((size_t)max_depth, sizeof(NutsLevel));
    if (!w->block || !w->level) {
        nuts_work_free(w);
        return NULL;
    }
    double *v = w->block;
#define TAKE() (v += n, v - n)
    HmcPoint *pts[POINTS_TOP] = { &w->z_fwd, &w->z_bck, &w->z_sample, &w->z_propose };
    for (int i = 0; i < POINTS_TOP; i++) {
        pts[i]->q = TAKE();
        pts[i]->p = TAKE();
        pts[i]->g = TAKE();
    }
    double **top[VECS_TOP] = {
        &w->p_fwd_fwd, &w->p_sharp_fwd_fwd, &w->p_fwd_bck, &w->p_sharp_fwd_bck,
        &w->p_bck_fwd, &w->p_sharp_bck_fwd, &w->p_bck_bck, &w->p_sharp_bck_bck,
        &w->rho, &w->rho_fwd, &w->rho_bck };
    for (int i = 0; i < VECS_TOP; i++) *top[i] = TAKE();
    for (int d = 0; d < max_depth; d++) {
        NutsLevel *L = &w->level[d];
        L->z_propose_final.q = TAKE();
        L->z_propose_final.p = TAKE();
        L->z_propose_final.g = TAKE();
        L->p_init_end = TAKE();
        L->p_sharp_init_end = TAKE();
        L->rho_init = TAKE();
        L->p_final_beg = TAKE();
        L->p_sharp_final_beg = TAKE();
        L->rho_final = TAKE();
    }
#undef TAKE
    return w;
}

void nuts_work_free(NutsWork *w)
{
    if (!w) return;
    free(w->block);
    free(w->level);
    free(w);
}

/* One leapfrog step of the end being extended: the base case of the tree. */
static int build_leaf(NutsWork *w, HmcPoint *z_propose, double *p_sharp_beg,
                      double *p_sharp_end, double *rho, double *p_beg,
                      double *p_end, double sign, double *log_sum_weight)
{
    int n = w->dim;
    HmcPoint *z = w->z;
    hmc_leapfrog(w->h, z, sign * w->eps);
    w->n_leapfrog++;

    double H = hmc_energy(w->h, z, p_sharp_beg);   /* also sets p_sharp */
    if (H - w->H0 > NUTS_MAX_DELTA_H) w->divergent = 1;

    *log_sum_weight = log_sum_exp(*log_sum_weight, w->H0 - H);
    w->sum_metro_prob += w->H0 - H > 0 ? 1.0 : exp(w->H0 - H);

    hmc_point_copy(z_propose, z, n);
    copy_vec(p_sharp_end, p_sharp_beg, n);
    for (int i = 0; i < n; i++) rho[i] += z->p[i];
    copy_vec(p_beg, z->p, n);
    copy_vec(p_end, z->p, n);
    return !w->divergent;
}

/* Build a subtree of 2^depth leaves from the current end, in direction
 * sign.  Returns whether it is valid (no divergence, no U-turn within). */
static int build_tree(NutsWork *w, int depth, HmcPoint *z_propose,
                      double *p_sharp_beg, double *p_sharp_end, double *rho,
                      double *p_beg, double *p_end, double sign,
                      double *log_sum_weight)
{
    if (depth == 0)
        return build_leaf(w, z_propose, p_sharp_beg, p_sharp_end, rho, p_beg,
                          p_end, sign, log_sum_weight);
    int n = w->dim;
    NutsLevel *L = &w->level[depth];

    double lsw_init = -INFINITY;
    memset(L->rho_init, 0, sizeof(double) * (size_t)n);
    if (!build_tree(w, depth - 1, z_propose, p_sharp_beg, L->p_sharp_init_end,
                    L->rho_init, p_beg, L->p_init_end, sign, &lsw_init))
        return 0;

    double lsw_final = -INFINITY;
    memset(L->rho_final, 0, sizeof(double) * (size_t)n);
    if (!build_tree(w, depth - 1, &L->z_propose_final, L->p_sharp_final_beg,
                    p_sharp_end, L->rho_final, L->p_final_beg, p_end, sign,
                    &lsw_final))
        return 0;

    /* Uniform progressive sampling between the two halves. */
    double lsw_subtree = log_sum_exp(lsw_init, lsw_final);
    *log_sum_weight = log_sum_exp(*log_sum_weight, lsw_subtree);
    if (lsw_final > lsw_subtree) {
        hmc_point_copy(z_propose, &L->z_propose_final, n);
    } else {
        double accept = exp(lsw_final - lsw_subtree);
        if (gsl_rng_uniform(w->h->rng) < accept)
            hmc_point_copy(z_propose, &L->z_propose_final, n);
    }

    for (int i = 0; i < n; i++) rho[i] += L->rho_init[i] + L->rho_final[i];

    /* Across the merged subtree, then across each boundary between halves. */
    return no_u_turn_sum(p_sharp_beg, p_sharp_end, L->rho_init, L->rho_final, n) &&
           no_u_turn_sum(p_sharp_beg, L->p_sharp_final_beg, L->rho_init,
                         L->p_final_beg, n) &&
           no_u_turn_sum(L->p_sharp_init_end, p_sharp_end, L->rho_final,
                         L->p_init_end, n);
}

void nuts_transition(NutsWork *w, Hamiltonian *h, HmcPoint *z, double eps,
                     SamplerStats *st)
{
    int n = w->dim;
    w->h = h;
    w->eps = eps;

    metric_sample_p(&h->metric, h->rng, z->p);
    w->H0 = hmc_energy(h, z, w->p_sharp_fwd_fwd);
    hmc_point_copy(&w->z_fwd, z, n);
    hmc_point_copy(&w->z_bck, z, n);
    hmc_point_copy(&w->z_sample, z, n);

    copy_vec(w->p_fwd_fwd, z->p, n);
    copy_vec(w->p_fwd_bck, z->p, n);
    copy_vec(w->p_bck_fwd, z->p, n);
    copy_vec(w->p_bck_bck, z->p, n);
    copy_vec(w->p_sharp_fwd_bck, w->p_sharp_fwd_fwd, n);
    copy_vec(w->p_sharp_bck_fwd, w->p_sharp_fwd_fwd, n);
    copy_vec(w->p_sharp_bck_bck, w->p_sharp_fwd_fwd, n);
    copy_vec(w->rho, z->p, n);

    double log_sum_weight = 0;   /* log exp(H0 - H0) */
    w->n_leapfrog = 0;
    w->sum_metro_prob = 0;
    w->divergent = 0;
    int depth = 0;

    while (depth < w->max_depth) {
        double lsw_subtree = -INFINITY;
        int valid;
        memset(w->rho_fwd, 0, sizeof(double) * (size_t)n);
        memset(w->rho_bck, 0, sizeof(double) * (size_t)n);

        if (gsl_rng_uniform(h->rng) > 0.5) {
            /* Extend forwards: the old trajectory becomes the backward subtree. */
            copy_vec(w->rho_bck, w->rho, n);
            copy_vec(w->p_bck_fwd, w->p_fwd_fwd, n);
            copy_vec(w->p_sharp_bck_fwd, w->p_sharp_fwd_fwd, n);
            w->z = &w->z_fwd;
            valid = build_tree(w, depth, &w->z_propose, w->p_sharp_fwd_bck,
                               w->p_sharp_fwd_fwd, w->rho_fwd, w->p_fwd_bck,
                               w->p_fwd_fwd, 1.0, &lsw_subtree);
        } else {
            /* Extend backwards: the old trajectory becomes the forward subtree. */
            copy_vec(w->rho_fwd, w->rho, n);
            copy_vec(w->p_fwd_bck, w->p_bck_bck, n);
            copy_vec(w->p_sharp_fwd_bck, w->p_sharp_bck_bck, n);
            w->z = &w->z_bck;
            valid = build_tree(w, depth, &w->z_propose, w->p_sharp_bck_fwd,
                               w->p_sharp_bck_bck, w->rho_bck, w->p_bck_fwd,
                               w->p_bck_bck, -1.0, &lsw_subtree);
        }
        if (!valid) break;
        depth++;

        /* Biased progressive sampling towards the new subtree. */
        if (lsw_subtree > log_sum_weight) {
            hmc_point_copy(&w->z_sample, &w->z_propose, n);
        } else {
            double accept = exp(lsw_subtree - log_sum_weight);
            if (gsl_rng_uniform(h->rng) < accept)
                hmc_point_copy(&w->z_sample, &w->z_propose, n);
        }
        log_sum_weight = log_sum_exp(log_sum_weight, lsw_subtree);

        add_into(w->rho, w->rho_bck, w->rho_fwd, n);
        if (!no_u_turn(w->p_sharp_bck_bck, w->p_sharp_fwd_fwd, w->rho, n) ||
            !no_u_turn_sum(w->p_sharp_bck_bck, w->p_sharp_fwd_bck, w->rho_bck,
                           w->p_fwd_bck, n) ||
            !no_u_turn_sum(w->p_sharp_bck_fwd, w->p_sharp_fwd_fwd, w->rho_fwd,
                           w->p_bck_fwd, n))
            break;
    }

    hmc_point_copy(z, &w->z_sample, n);
    st->lp = z->lp;
    st->accept_stat = w->sum_metro_prob / (double)w->n_leapfrog;
    st->step_size = eps;
    st->energy = hmc_energy(h, z, h->p_sharp);
    st->treedepth = depth;
    st->n_leapfrog = w->n_leapfrog;
    st->divergent = w->divergent;
}
