/*
 * twin_eval.h - evaluating counterfactual worlds at a point.
 *
 * A TwinEval owns a tape of its own and runs the factual world (condition
 * + twin recording; latent values from the unconstrained vector q when it
 * borrows a Model's parameter layout, or drawn from the prior otherwise),
 * then any number of counterfactual worlds (do + twin replay) on the same
 * tape.  NUTS uses it per draw (counterfactuals and effects as generated
 * quantities of the posterior); importance sampling uses it per draw with
 * the evidence density as the weight.
 */
#ifndef CM_TWIN_EVAL_H
#define CM_TWIN_EVAL_H

#include "handlers.h"
#include "twin.h"

typedef struct {
    const Program *prog;
    Tape tape;
    Exec ex;
    ConditionHandler cond;
    TwinHandler tw;
    ParamHandler param;
    int use_param;
    Value *vars1;            /* the factual world's variables */
    unsigned char *bound1;
} TwinEval;

/* layout: a traced Model's ParamHandler (NUTS), or NULL to draw latents. */
void twin_eval_init(TwinEval *t, const Program *p, const DataSet *data, const ParamHandler *layout,
                    gsl_rng *rng);
void twin_eval_free(TwinEval *t);
/* The factual world; *logw gets the evidence log density (IS weight). */
int twin_eval_factual(TwinEval *t, const double *q, double *logw);
/* A counterfactual world under dos; its variables are then in t->ex.vars. */
int twin_eval_world(TwinEval *t, DoHandler *dos);
/* An interventional world under dos: sites downstream of the intervention
 * (downstream[var]) drawn afresh, the others at their factual values. */
int twin_eval_predictive(TwinEval *t, DoHandler *dos, const unsigned char *downstream);

/* Per-unit selection for effects: `--where 'x > 0 && t == 1'` over the
 * factual world's values (a conjunction of NAME OP NUMBER terms). */
typedef struct {
    int nterms;
    int var[8];
    int op[8];               /* '<', '>', 'l' (<=), 'g' (>=), '=', '!' */
    double value[8];
} WhereClause;
int where_parse(WhereClause *w, const Program *p, const char *text, char *err, size_t errlen);
/* Does unit i (element i, or the scalar) satisfy the clause? */
int where_holds(const WhereClause *w, const TwinEval *t, int i);

#endif
