/*
 * infer_cf.c - counterfactual queries and causal effects by importance
 * sampling on the twin network.
 *
 * Each draw runs the factual world with every latent site drawn from its
 * prior and the evidence's density as the log weight (twin handler
 * recording the noise), then the counterfactual world(s) replaying that
 * noise (causal_gq.c).  Factual sites are reported by name, counterfactual
 * ones as name_cf; an effect adds the columns effect, y_do_a, y_do_b.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "csv_out.h"
#include "infer.h"
#include "model.h"

int infer_counterfactual(const InferOptions *o)
{
    const Program *p = o->prog;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, infer_chain_seed(o->seed, 0));
    CausalGq g;
    int rc = 0, nf = 0;
    char **fnames = NULL;
    int *fvar = NULL, *foff = NULL;
    double *all = NULL;
    const char **names = NULL;
    if (causal_gq_init(&g, o->cq, p, o->data, NULL, rng, NULL) != 0) {
        rc = 2;
        goto out;
    }
    {
        /* the factual world's columns, without its evidence */
        Value *v2 = g.te.ex.vars;
        unsigned char *b2 = g.te.ex.bound;
        g.te.ex.vars = g.te.vars1;
        g.te.ex.bound = g.te.bound1;
        nf = model_columns(p, &g.te.ex, &fnames, &fvar, &foff);
        g.te.ex.vars = v2;
        g.te.ex.bound = b2;
    }
    int ncols = 1 + nf + g.ncols;
    names = calloc((size_t)ncols, sizeof(char *));
    names[0] = "log_weight__";
    for (int j = 0; j < nf; j++)
        names[1 + j] = fnames[j];
    for (int j = 0; j < g.ncols; j++)
        names[1 + nf + j] = g.names[j];
    int n = o->samples, got = 0;
    all = calloc((size_t)n * ncols, sizeof(double));
    for (int i = 0; i < n && !cm_interrupted; i++) {
        double *row = all + (size_t)i * ncols;
        if (causal_gq_row(&g, NULL, row + 1 + nf, &row[0]) != 0) {
            rc = 2;
            break;
        }
        for (int j = 0; j < nf; j++)
            row[1 + j] = g.te.tape.val[g.te.vars1[fvar[j]].slot + foff[j]];
        got++;
    }
    if (rc == 0 && o->output) {
        CsvHeader h;
        csv_header_init(&h);
        csv_header_add(&h, 0, "model", "%s", o->model_name);
        csv_header_add(&h, 0, "method", "%s", "importance sampling (twin network)");
        csv_header_add(&h, 1, "num_samples", "%d", got);
        csv_header_run(&h, 1, o->data_file, o->seed, o->output);
        char err[512];
        CsvOut *csv = csv_out_open(o->output, &h, ncols, names, err, sizeof err);
        csv_header_free(&h);
        if (!csv) {
            fprintf(stderr, "cmrun: %s\n", err);
            rc = 2;
        } else {
            for (int i = 0; i < got && rc == 0; i++)
                if (csv_out_row(csv, all + (size_t)i * ncols) != 0)
                    rc = 1;
            if (rc != 0) {
                fprintf(stderr, "cmrun: %s\n", csv_out_error(csv));
                csv_out_abort(csv);
            } else if (csv_out_close(csv, err, sizeof err) != 0) {
                fprintf(stderr, "cmrun: %s\n", err);
                rc = 1;
            }
        }
    }
    if (rc == 0 && got > 0)
        rc = infer_weighted_summary(o, all, got, ncols, names + 1, rng);
out:
    free(names);
    free(all);
    if (fnames)
        model_free_columns(fnames, nf, fvar, foff);
    causal_gq_free(&g);
    gsl_rng_free(rng);
    return rc;
}
