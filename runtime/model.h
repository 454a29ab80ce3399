/*
 * model.h - a compiled program bound to data and interventions, ready for
 * gradient-based inference.
 *
 * model_init runs the program once under do / condition / param / trace:
 * that run lays out the unconstrained parameter vector and records the
 * tape.  model_logp_grad then evaluates the log density (with the
 * log-Jacobians of the bijectors) and its gradient by replaying the tape,
 * with no allocation; models whose control flow reads a parameter are
 * re-run instead.  model_row fills one output row (the constrained values
 * of every latent site and reported deterministic node) at a point.
 */
#ifndef CM_MODEL_H
#define CM_MODEL_H

#include "exec.h"
#include "handlers.h"
#include "native.h"

typedef struct {
    const Program *prog;
    const DataSet *data;
    Tape tape;
    Exec ex;
    gsl_rng *rng;
    ConditionHandler cond;
    ParamHandler param;
    TraceHandler trace;
    DoHandler *dos;            /* shared, read-only */
    int dim;
    int ncols;
    char **names;              /* output column names (CmdStan style) */
    int *col_var;              /* program variable of each column  */
    int *col_off;              /* element offset within the variable */
    long n_evals;
    int failed;                /* a re-run of a dynamic model failed: stop */
    NativeCode *native;        /* the tape as native code (native.h), or NULL */
    int native_requested;      /* --jit auto: its compile was asked for */
    long native_epoch;         /* the tape's recording that `native` was made for */
} Model;

/* Returns 0, or -1 after printing a located error. */
int model_init(Model *m, const Program *p, const DataSet *data, DoHandler *dos, unsigned long seed);
void model_free(Model *m);
double model_logp_grad(void *ctx, const double *q, double *grad);
double model_logp(Model *m, const double *q);
/* Constrained values of the output columns at q (evaluates the model). */
int model_row(Model *m, const double *q, double *row);
/* Name of the site that owns unconstrained coordinate i. */
const char *model_param_site(const Model *m, int i);
/* Output columns for the variables of a finished run (used by every engine). */
int model_columns(const Program *p, const Exec *ex, char ***names, int **col_var, int **col_off);
void model_free_columns(char **names, int n, int *col_var, int *col_off);
/* Value of column j in a finished run. */
double model_column_value(const Exec *ex, const Program *p, int var, int off);

#endif
