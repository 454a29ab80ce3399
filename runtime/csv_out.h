/*
 * csv_out.h - writing draws as CmdStan CSV files.
 *
 * One file per chain, laid out exactly as CmdStan lays it out, so that
 * ArviZ (az.from_cmdstan), cmdstanpy (from_csv) and R (posterior via
 * cmdstanr::read_cmdstan_csv) read cm's output as they read Stan's:
 *
 *     # model = eight_schools            <- settings, "# key = value"
 *     # method = sample (Default)
 *     ...
 *     # cm version 0.1
 *     lp__,accept_stat__,...,mu,tau,theta.1,...
 *     # Adaptation terminated            <- csv_out_adaptation()
 *     # Step size = 0.803789
 *     # Diagonal elements of inverse mass matrix:
 *     # 1.02, 0.99
 *     -39.5,0.91,...                      <- csv_out_row(), one per draw
 *     #
 *     #  Elapsed Time: 0.012 seconds (Warm-up)   <- csv_out_timing()
 *     #                0.015 seconds (Sampling)
 *     #                0.027 seconds (Total)
 *     #
 *
 * A file is written to "<path>.tmp" and renamed to <path> by
 * csv_out_close(), so a reader never sees half a file; csv_out_abort()
 * deletes the temporary instead.  An interrupted run closes normally and
 * keeps the complete rows written so far.  After the first I/O error every
 * call is a no-op that returns -1, and the message (naming the file) is
 * kept for csv_out_error() and csv_out_close().
 */
#ifndef CM_CSV_OUT_H
#define CM_CSV_OUT_H

#include <stddef.h>

#ifndef CM_VERSION
#define CM_VERSION "0.1"
#endif

/* ---- header settings ---------------------------------------------------- */

/* One header line: "# " + 2*depth spaces + "key = value", or, when key is
 * NULL, "# " + value (a bare comment).  CmdStan nests its arguments by
 * indentation; readers only look at the key. */
typedef struct {
    char *key;
    char *value;
    int depth;
} CsvSetting;

typedef struct {
    CsvSetting *items;
    int n, cap;
} CsvHeader;

void csv_header_init(CsvHeader *h);
void csv_header_free(CsvHeader *h);
/* Append "key = printf(fmt, ...)" at the given depth (key NULL: a bare
 * comment line).  Returns 0, or -1 when out of memory. */
int csv_header_add(CsvHeader *h, int depth, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The settings of a NUTS run, for csv_header_nuts(). */
typedef struct {
    const char *model;          /* model name (file name without .cm) */
    int num_samples, num_warmup, save_warmup, thin;
    int adapt_engaged;
    double delta;               /* target acceptance (--adapt-delta) */
    int max_depth;
    const char *metric;         /* "diag_e", "dense_e" or "unit_e" */
    double stepsize;            /* initial step size */
    unsigned long long seed;
    int chain_id;               /* 1-based */
    int num_chains;
    const char *data_file;      /* "" or NULL when there is none */
    const char *output_file;    /* this chain's file name */
} CsvNutsSettings;

/* Fill h with CmdStan's header for method = sample, algorithm = hmc,
 * engine = nuts (the keys every reader looks for: model, method,
 * num_samples, num_warmup, save_warmup, thin, engaged, delta, algorithm,
 * engine, max_depth, metric, stepsize, num_chains, id, data file, seed,
 * output file).  Returns 0, or -1 when out of memory. */
int csv_header_nuts(CsvHeader *h, const CsvNutsSettings *s);

/* The lines every run ends its header with (id, data file, seed, output
 * file), for engines that build the rest of their header by hand. */
int csv_header_run(CsvHeader *h, int chain_id, const char *data_file,
                   unsigned long long seed, const char *output_file);

/* ---- writing ------------------------------------------------------------ */

typedef struct CsvOut CsvOut;

/* Create "<path>.tmp" and write the settings, "# cm version ...", and the
 * header row of ncols names.  On failure returns NULL, writes a message
 * naming the file into err, and leaves no file behind. */
CsvOut *csv_out_open(const char *path, const CsvHeader *settings, int ncols,
                     const char *const *names, char *err, size_t errlen);

/* One draw: ncols values.  Columns named *__ other than lp__ and energy__
 * are written with 6 significant digits, all others with 9 (see
 * docs/output.md); integral values are written as integers.  Returns 0 or
 * -1 after an I/O error. */
int csv_out_row(CsvOut *o, const double *row);

/* A "# line" comment (line without the leading "# "). */
int csv_out_comment(CsvOut *o, const char *line);

/* The adaptation block CmdStan writes after warm-up.  inv_metric holds dim
 * values (diagonal) or dim*dim values, row-major (dense); NULL means the
 * unit metric. */
int csv_out_adaptation(CsvOut *o, double step, const double *inv_metric,
                       int dim, int dense);

/* The closing elapsed-time block. */
int csv_out_timing(CsvOut *o, double warmup_s, double sampling_s);

/* Rows written so far. */
long csv_out_rows(const CsvOut *o);

/* The first I/O error's message, or NULL. */
const char *csv_out_error(const CsvOut *o);

/* Flush, close, and rename "<path>.tmp" to path.  Returns 0; or -1 after
 * any I/O error, with the temporary removed and the message in err (err
 * may be NULL).  Frees o in every case. */
int csv_out_close(CsvOut *o, char *err, size_t errlen);

/* Close and delete the temporary file; frees o. */
void csv_out_abort(CsvOut *o);

/* The file name for one chain: with nchains == 1 `output` itself; else
 * "_N" inserted before the extension (draws.csv -> draws_2.csv, out ->
 * out_2), as CmdStan names its per-chain files.  Malloc'd; NULL if out of
 * memory. */
char *csv_out_chain_path(const char *output, int chain_id, int nchains);

#endif
