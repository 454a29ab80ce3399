/*
 * infer.h - the inference engines cmrun runs, each from one options struct.
 *
 * Every engine writes CmdStan-style CSV (one file per chain for MCMC) when
 * an output path is given, and prints the summary table on stdout.  They
 * return the process exit status: 0, 1 for an inference failure (e.g. no
 * valid initial point), 2 for a user error already reported.
 */
#ifndef CM_INFER_H
#define CM_INFER_H

#include "handlers.h"
#include "causal_gq.h"
#include "sampler.h"

typedef struct {
    const Program *prog;
    const DataSet *data;
    DoHandler *dos;
    const char *model_name;   /* for CSV headers */
    const char *data_file;    /* "" when none */
    const char *output;       /* NULL: no files */
    const char *const *query; /* restrict the summary to these names (NULL: all) */
    int nquery;
    unsigned long seed;
    int chains, threads;
    int samples;              /* draws per chain (prior/is: total) */
    SamplerConfig cfg;        /* MCMC settings */
    int progress;             /* show progress on stderr */
    const CausalQuery *cq;    /* counterfactual or effect columns (NULL: none) */
    int check_only;           /* --check with data: one run to check shapes */
} InferOptions;

int infer_nuts(const InferOptions *o);
int infer_prior(const InferOptions *o);
int infer_is(const InferOptions *o);
int infer_enum(const InferOptions *o);
/* Compare autodiff and finite-difference gradients at random points. */
int infer_check_grad(const InferOptions *o);

/* Set by the SIGINT handler: engines stop after the current draw. */
extern volatile int cm_interrupted;
void infer_install_sigint(void);

/* Helpers shared by the engines (infer_common.c). */
#include "draws.h"
Draws *infer_select(const Draws *d, const char *const *query, int nquery, int keep_sampler_cols,
                    char *err, size_t errlen);
unsigned long infer_chain_seed(unsigned long seed, int chain);
int infer_summary_independent(const InferOptions *o, const Draws *d, const char *title);
int infer_weighted_summary(const InferOptions *o, const double *rows, int nrows, int ncols,
                           const char *const *names, gsl_rng *rng);
int infer_counterfactual(const InferOptions *o);
#include "csv_out.h"
CsvOut *infer_csv_open(const InferOptions *o, CsvHeader *h, int ncols, const char *const *names);

#endif
