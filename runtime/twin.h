/*
 * twin.h - the twin-world handler for counterfactual queries.
 *
 * design.md: a counterfactual query runs the model twice, a factual world
 * conditioned on the evidence and a counterfactual world under the --do,
 * sharing every exogenous noise.  The noise is made explicit per site
 * element from the factual value (abduction):
 *   - location-scale families (Normal, StudentT, Cauchy, Laplace, Logistic):
 *     eps = (x - loc) / scale, and x_cf = loc_cf + scale_cf * eps;
 *     LogNormal the same on log x; scale families (HalfNormal, HalfCauchy,
 *     HalfStudentT, Exponential) eps = x / scale;
 *   - other continuous families: u = F(x), x_cf = F_cf^-1(u);
 *   - discrete families: u is uniform on (F(x - 1), F(x)] (drawn: that is
 *     its exact posterior given x), x_cf = F_cf^-1(u), the monotone coupling
 *     that the probabilities of necessity and sufficiency assume;
 *     Categorical uses the cumulative probabilities in category order.
 * The handler records noise in world 1 (postprocess) and substitutes
 * values from it in world 2 (process).  Multivariate sites have no noise
 * model: a counterfactual through one is refused with a message.
 */
#ifndef CM_TWIN_H
#define CM_TWIN_H

#include "exec.h"

typedef struct {
    int var, elem;
    int kind;        /* TWIN_* */
    double noise;    /* eps or u */
} TwinNoise;

enum { TWIN_LOCSCALE, TWIN_LOGLOCSCALE, TWIN_SCALE, TWIN_UNIFORM };

typedef struct {
    Handler h;
    int world;       /* 1 factual (record), 2 counterfactual (substitute),
                        3 interventional predictive (see below) */
    TwinNoise *e;
    int n, cap;
    int cursor;
    /* world 3: sites that are not downstream of the intervention keep their
     * factual values (the posterior's parameters); downstream ones are drawn
     * afresh, so the world is P(. | do(x), parameters), not a counterfactual */
    const unsigned char *downstream;   /* per program variable */
    const Value *factual;              /* the factual world's variables */
} TwinHandler;

void twin_init(TwinHandler *t);
void twin_free(TwinHandler *t);
void twin_begin_world(TwinHandler *t, int world);

#endif
