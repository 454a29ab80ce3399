/*
 * adapt.c - Stan's warm-up adaptation: dual averaging and windowed metrics.
 *
 * Step size.  Nesterov dual averaging (Hoffman & Gelman 2014, Stan's
 * stepsize_adaptation) drives the mean acceptance statistic to delta by
 * iterating on x = log(eps):
 *     eta   = 1 / (t + t0)
 *     s_bar = (1 - eta) s_bar + eta (delta - accept)
 *     x     = mu - s_bar sqrt(t) / gamma
 *     x_bar = (1 - t^-kappa) x_bar + t^-kappa x
 * and the step size used while adapting is exp(x); at the end of warm-up it
 * is exp(x_bar), the average that forgets the noisy early iterates.  mu, the
 * point x is shrunk towards, is log(10 eps).  Stan sets the first mu from the
 * *configured* step size (before the step-size heuristic moves it), and each
 * later mu from the heuristic's result after a metric update; so do we.
 *
 * Metric.  The warm-up is cut into windows (Stan's windowed_adaptation):
 * an initial fast buffer (75) where only the step size adapts, a series of
 * slow windows (25, 50, 100, ...; each doubling, the last stretched to the
 * start of the final buffer) at the end of each of which the inverse metric
 * is re-estimated from that window's draws, and a final fast buffer (50).
 * With 1000 warm-up iterations the metric is updated after iterations
 * 100, 150, 250, 450 and 950.  When the three stages do not fit, the
 * partition is 15% / 75% / 10% of the warm-up with a single slow window;
 * below 20 warm-up iterations no metric is estimated at all.  (Stan's
 * set_window_params forgets to restart its counters in the 15/75/10 case,
 * so there its one slow window never closes; we restart them, which is the
 * documented behaviour.)
 *
 * Estimates are Welford's running mean and (co)variance, regularised toward
 * a small multiple of the identity: (n/(n+5)) var + 1e-3 (5/(n+5)), which
 * keeps a short window's metric sane.  The dense estimator's rank-one update
 * goes through BLAS (dger); the diagonal one stays O(dim).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_blas.h>

#include "sampler_internal.h"

/* ---- dual averaging ----------------------------------------------------- */

void adapt_da_init(DualAveraging *da, double delta, double gamma,
                   double kappa, double t0, double eps0)
{
    da->delta = delta;
    da->gamma = gamma;
    da->kappa = kappa;
    da->t0 = t0;
    adapt_da_restart(da, eps0);
}

void adapt_da_restart(DualAveraging *da, double eps)
{
    da->mu = log(10 * eps);
    da->counter = 0;
    da->s_bar = 0;
    da->x_bar = 0;
}

void adapt_da_learn(DualAveraging *da, double *eps, double accept_stat)
{
    da->counter += 1;
    if (accept_stat > 1) accept_stat = 1;
    double eta = 1.0 / (da->counter + da->t0);
    da->s_bar = (1.0 - eta) * da->s_bar + eta * (da->delta - accept_stat);
    double x = da->mu - da->s_bar * sqrt(da->counter) / da->gamma;
    double x_eta = pow(da->counter, -da->kappa);
    da->x_bar = (1.0 - x_eta) * da->x_bar + x_eta * x;
    *eps = exp(x);
}

double adapt_da_final(const DualAveraging *da)
{
    return exp(da->x_bar);
}

/* ---- windows ------------------------------------------------------------ */

static void windows_restart(AdaptWindows *w)
{
    w->counter = 0;
    w->window_size = w->base_window;
    w->next_window = w->init_buffer + w->window_size - 1;
}

void adapt_windows_init(AdaptWindows *w, int num_warmup, int init_buffer,
                        int term_buffer, int base_window)
{
    memset(w, 0, sizeof *w);
    if (num_warmup < 20) return;            /* enabled = 0 */
    w->enabled = 1;
    w->num_warmup = (unsigned)num_warmup;
    if ((long)init_buffer + base_window + term_buffer > num_warmup) {
        w->fallback = 1;
        w->init_buffer = (unsigned)(0.15 * num_warmup);
        w->term_buffer = (unsigned)(0.10 * num_warmup);
        w->base_window = w->num_warmup - (w->init_buffer + w->term_buffer);
    } else {
        w->init_buffer = (unsigned)init_buffer;
        w->term_buffer = (unsigned)term_buffer;
        w->base_window = (unsigned)base_window;
    }
    windows_restart(w);
}

int adapt_windows_in_window(const AdaptWindows *w)
{
    return w->enabled && w->counter >= w->init_buffer &&
           w->counter < w->num_warmup - w->term_buffer &&
           w->counter != w->num_warmup;
}

int adapt_windows_end_window(const AdaptWindows *w)
{
    return w->enabled && w->counter == w->next_window &&
           w->counter != w->num_warmup;
}

void adapt_windows_compute_next(AdaptWindows *w)
{
    unsigned last = w->num_warmup - w->term_buffer - 1;
    if (w->next_window == last) return;
    w->window_size *= 2;
    w->next_window = w->counter + w->window_size;
    if (w->next_window == last) return;
    /* If the window after this one would overrun the slow phase, stretch
     * this one to its end. */
    unsigned following = w->next_window + 2 * w->window_size;
    if (following >= w->num_warmup - w->term_buffer) w->next_window = last;
}

/* ---- Welford estimators ------------------------------------------------- */

int adapt_welford_init(Welford *e, MetricKind kind, int dim)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->dim = dim;
    size_t n = dim > 0 ? (size_t)dim : 1;
    size_t nm2 = kind == METRIC_DENSE ? n * n : n;
    e->mean = calloc(n, sizeof(double));
    e->delta = calloc(n, sizeof(double));
    e->m2 = calloc(nm2, sizeof(double));
    if (!e->mean || !e->delta || !e->m2) {
        adapt_welford_free(e);
        return -1;
    }
    return 0;
}

void adapt_welford_free(Welford *e)
{
    free(e->mean);
    free(e->delta);
    free(e->m2);
    e->mean = e->delta = e->m2 = NULL;
}

void adapt_welford_restart(Welford *e)
{
    size_t n = (size_t)e->dim;
    e->n = 0;
    memset(e->mean, 0, sizeof(double) * n);
    memset(e->m2, 0, sizeof(double) * (e->kind == METRIC_DENSE ? n * n : n));
}

void adapt_welford_add(Welford *e, const double *q)
{
    int n = e->dim;
    e->n++;
    for (int i = 0; i < n; i++) {
        e->delta[i] = q[i] - e->mean[i];
        e->mean[i] += e->delta[i] / (double)e->n;
    }
    if (e->kind == METRIC_DENSE) {
        /* m2 += (q - mean_new) delta^T, as one rank-one update; `mean` is
         * borrowed as the scratch for q - mean_new and then restored. */
        for (int i = 0; i < n; i++) e->mean[i] = q[i] - e->mean[i];
        gsl_vector_view x = gsl_vector_view_array(e->mean, n);
        gsl_vector_view y = gsl_vector_view_array(e->delta, n);
        gsl_matrix_view M = gsl_matrix_view_array(e->m2, n, n);
        gsl_blas_dger(1.0, &x.vector, &y.vector, &M.matrix);
        for (int i = 0; i < n; i++) e->mean[i] = q[i] - e->mean[i];
    } else {
        for (int i = 0; i < n; i++)
            e->m2[i] += (q[i] - e->mean[i]) * e->delta[i];
    }
}

int adapt_welford_regularised(const Welford *e, double *inv)
{
    if (e->n < 2) return 0;
    int n = e->dim;
    double cnt = (double)e->n;
    double shrink = cnt / (cnt + 5.0), ridge = 1e-3 * (5.0 / (cnt + 5.0));
    double scale = shrink / (cnt - 1.0);
    if (e->kind == METRIC_DENSE) {
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                /* symmetrise: the rank-one updates agree only to rounding */
                double c = 0.5 * (e->m2[(size_t)i * n + j] + e->m2[(size_t)j * n + i]);
                double v = scale * c + (i == j ? ridge : 0.0);
                inv[(size_t)i * n + j] = inv[(size_t)j * n + i] = v;
            }
        }
    } else {
        for (int i = 0; i < n; i++) inv[i] = scale * e->m2[i] + ridge;
    }
    return 1;
}

/* ---- metric adaptation: windows + estimator ----------------------------- */

int adapt_metric_init(MetricAdaptation *a, MetricKind kind, int dim,
                      int num_warmup, int init_buffer, int term_buffer,
                      int base_window)
{
    adapt_windows_init(&a->win, num_warmup, init_buffer, term_buffer, base_window);
    return adapt_welford_init(&a->est, kind, dim);
}

void adapt_metric_free(MetricAdaptation *a)
{
    adapt_welford_free(&a->est);
}

int adapt_metric_learn(MetricAdaptation *a, const double *q, double *inv)
{
    int updated = 0;
    if (adapt_windows_in_window(&a->win)) adapt_welford_add(&a->est, q);
    if (adapt_windows_end_window(&a->win)) {
        adapt_windows_compute_next(&a->win);
        /* A window with fewer than two draws (only possible with custom
         * buffer sizes) leaves the metric as it was. */
        updated = adapt_welford_regularised(&a->est, inv);
        adapt_welford_restart(&a->est);
    }
    a->win.counter++;
    return updated;
}
