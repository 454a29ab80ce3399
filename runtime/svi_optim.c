/*
 * svi_optim.c - the stochastic optimisers SVI steps the guide with.
 *
 * All three maximise (they step along the ELBO gradient, not against it)
 * on one flat parameter vector, with their state allocated once:
 *
 *   adam          Kingma and Ba, with bias correction; betas (0.9, 0.999),
 *                 eps 1e-8, as torch.optim.Adam and Pyro's default.
 *   clipped-adam  Adam after scaling the whole gradient down to Euclidean
 *                 norm SVI_CLIP_NORM (10) when it is longer, the guard
 *                 against the rare huge gradient of a draw far in a tail.
 *                 Pyro's ClippedAdam clamps each component to +-10
 *                 instead; the norm keeps the gradient's direction.
 *   sgd           plain gradient steps with momentum 0.9 (v = 0.9 v + g,
 *                 theta += lr v, torch's convention).
 *
 * A per-parameter step scale (step_scale, NULL for none) multiplies each
 * step: for Adam, which moves every parameter by about lr whatever its
 * gradient's size, that is exactly optimising theta_i / step_scale_i, so a
 * guide's loc can move in units of its coordinate's posterior width.
 *
 * The learning rate decays exponentially for every optimiser: step t
 * (0-based) uses lr * decay^t, which is Pyro's ClippedAdam `lrd` and a
 * plain schedule for the others.  Decay is what turns the noisy stationary
 * jitter of a stochastic optimiser into convergence: with a constant rate
 * the parameters keep moving by about lr per step around the optimum.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "svi.h"

#define ADAM_BETA1 0.9
#define ADAM_BETA2 0.999
#define ADAM_EPS 1e-8
#define SGD_MOMENTUM 0.9

int svi_optim_init(SviOptim *o, SviOptimKind kind, int n, double lr, double decay)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->n = n;
    o->lr = lr;
    o->decay = decay;
    o->lr_now = lr;
    o->m = calloc((size_t)n + 1, sizeof(double));
    o->v = calloc((size_t)n + 1, sizeof(double));
    if (!o->m || !o->v) {
        svi_optim_free(o);
        return -1;
    }
    return 0;
}

void svi_optim_free(SviOptim *o)
{
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

static void clip_norm(double *g, int n, double max_norm)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += g[i] * g[i];
    double norm = sqrt(s);
    if (norm > max_norm) {
        double f = max_norm / norm;
        for (int i = 0; i < n; i++)
            g[i] *= f;
    }
}

static void adam_step(SviOptim *o, double *theta, const double *g, double lr)
{
    double t = (double)(o->t + 1);
    double c1 = 1 - pow(ADAM_BETA1, t), c2 = 1 - pow(ADAM_BETA2, t);
    for (int i = 0; i < o->n; i++) {
        o->m[i] = ADAM_BETA1 * o->m[i] + (1 - ADAM_BETA1) * g[i];
        o->v[i] = ADAM_BETA2 * o->v[i] + (1 - ADAM_BETA2) * g[i] * g[i];
        double step = lr * (o->m[i] / c1) / (sqrt(o->v[i] / c2) + ADAM_EPS);
        theta[i] += o->step_scale ? o->step_scale[i] * step : step;
    }
}

void svi_optim_step(SviOptim *o, double *theta, double *grad)
{
    double lr = o->lr * (o->decay == 1 ? 1 : pow(o->decay, (double)o->t));
    o->lr_now = lr;
    switch (o->kind) {
    case SVI_CLIPPED_ADAM:
        clip_norm(grad, o->n, SVI_CLIP_NORM);
        adam_step(o, theta, grad, lr);
        break;
    case SVI_ADAM:
        adam_step(o, theta, grad, lr);
        break;
    case SVI_SGD:
        for (int i = 0; i < o->n; i++) {
            o->m[i] = SGD_MOMENTUM * o->m[i] + grad[i];
            theta[i] += lr * (o->step_scale ? o->step_scale[i] : 1.0) * o->m[i];
        }
        break;
    }
    o->t++;
}
