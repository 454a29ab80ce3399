/*
 * causal_gq.h - counterfactual worlds and causal effects as generated
 * quantities: columns computed at each draw of an engine (a NUTS draw of
 * the factual posterior, or an importance-sampling draw).
 *
 *  counterfactual: every reported site and node of the world under --do,
 *                  named name_cf;
 *  interventional: the same for the world under --do with fresh noise
 *                  downstream of the intervention (the posterior predictive
 *                  under do), named name_do;
 *  predictive:     `--predictive`: every site the data or --given observe,
 *                  and every node computed from one, redrawn at the draw
 *                  (posterior predictive replicates), named name_rep;
 *  effect:         `--effect t=a:b --on y [--where ...]`: the mean over
 *                  the selected units of y under do(t=a) minus under
 *                  do(t=b), sharing the noise (columns effect, y_a, y_b).
 */
#ifndef CM_CAUSAL_GQ_H
#define CM_CAUSAL_GQ_H

#include "twin_eval.h"

typedef struct {
    int counterfactual;
    int interventional;            /* world under do with fresh noise downstream: name_do */
    int predictive;                /* observed sites redrawn: name_rep */
    DoHandler *world;              /* the counterfactual world's interventions */
    DoHandler *effect_a, *effect_b;
    const char *effect_on;
    const char *label_a, *label_b; /* the two treatment values as given */
    int has_where;
    WhereClause where;
} CausalQuery;

typedef struct {
    const CausalQuery *q;
    TwinEval te;
    int ncols;
    char **names;
    int *var, *off;                /* counterfactual columns */
    int on_var;
    unsigned char *downstream;     /* interventional: per variable */
} CausalGq;

/* Lay out the columns (runs the worlds once); 0, or -1 after an error. */
int causal_gq_init(CausalGq *g, const CausalQuery *q, const Program *p, const DataSet *data,
                   const ParamHandler *layout, gsl_rng *rng, const double *q0);
void causal_gq_free(CausalGq *g);
/* Evaluate at q (or a fresh prior draw when no layout): row[0..ncols-1];
 * *logw gets the factual evidence density.  0, or -1 after an error. */
int causal_gq_row(CausalGq *g, const double *q, double *row, double *logw);

#endif
