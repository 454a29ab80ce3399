/*
 * csv_out.c - the CmdStan CSV writer.
 *
 * The format is CmdStan's, line for line, because three readers in two
 * languages parse it with regular expressions and fixed strings ("#
 * Adaptation terminated", "# Step size = ", "seconds (Warm-up)").  Being
 * faithful here is cheaper than being clever: the header is "# key =
 * value" lines, the body is plain comma-separated numbers.
 *
 * Numbers: CmdStan prints 6 significant digits everywhere.  cm prints 9 for
 * the model's columns, lp__ and energy__ (enough that summaries of the
 * file agree with summaries of the run to far below Monte Carlo error, and
 * that energy differences for E-BFMI survive), and 6 for the other
 * sampler columns (accept_stat__, stepsize__, ...), whose extra digits are
 * noise.  Integral values are printed as integers, so treedepth__ and
 * n_leapfrog__ never become 1.04858e+06.  Non-finite values are written
 * as NaN, inf and -inf, the spellings the Stan CSV documentation lists.
 *
 * Atomicity: everything goes to "<path>.tmp", renamed over <path> only by
 * a successful close.  The rename is atomic on POSIX filesystems, so the
 * final name holds either nothing, an old file, or a complete new one.
 * No fsync: surviving power loss is not a goal, surviving Ctrl-C and full
 * disks is.
 */
#include "csv_out.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct CsvOut {
    FILE *fp;
    char *path;         /* final name */
    char *tmp;          /* path + ".tmp" */
    int ncols;
    unsigned char *digits;  /* significant digits per column */
    long rows;
    int failed;
    char err[512];
};

/* ---- header settings ---------------------------------------------------- */

void csv_header_init(CsvHeader *h)
{
    memset(h, 0, sizeof *h);
}

void csv_header_free(CsvHeader *h)
{
    for (int i = 0; i < h->n; i++) {
        free(h->items[i].key);
        free(h->items[i].value);
    }
    free(h->items);
    memset(h, 0, sizeof *h);
}

int csv_header_add(CsvHeader *h, int depth, const char *key, const char *fmt, ...)
{
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 32;
        CsvSetting *p = realloc(h->items, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        h->items = p;
        h->cap = cap;
    }
    char *value = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&value, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    char *k = NULL;
    if (key && !(k = strdup(key))) {
        free(value);
        return -1;
    }
    h->items[h->n++] = (CsvSetting){ k, value, depth < 0 ? 0 : depth };
    return 0;
}

int csv_header_run(CsvHeader *h, int chain_id, const char *data_file,
                   unsigned long long seed, const char *output_file)
{
    int rc = 0;
    rc |= csv_header_add(h, 0, "id", "%d", chain_id);
    rc |= csv_header_add(h, 0, NULL, "data");
    rc |= csv_header_add(h, 1, "file", "%s", data_file ? data_file : "");
    rc |= csv_header_add(h, 0, NULL, "random");
    rc |= csv_header_add(h, 1, "seed", "%llu", seed);
    rc |= csv_header_add(h, 0, NULL, "output");
    rc |= csv_header_add(h, 1, "file", "%s", output_file ? output_file : "");
    return rc ? -1 : 0;
}

int csv_header_nuts(CsvHeader *h, const CsvNutsSettings *s)
{
    int rc = 0;
    rc |= csv_header_add(h, 0, "model", "%s", s->model ? s->model : "model");
    rc |= csv_header_add(h, 0, "method", "sample (Default)");
    rc |= csv_header_add(h, 1, NULL, "sample");
    rc |= csv_header_add(h, 2, "num_samples", "%d", s->num_samples);
    rc |= csv_header_add(h, 2, "num_warmup", "%d", s->num_warmup);
    rc |= csv_header_add(h, 2, "save_warmup", "%d", s->save_warmup ? 1 : 0);
    rc |= csv_header_add(h, 2, "thin", "%d", s->thin > 0 ? s->thin : 1);
    rc |= csv_header_add(h, 2, NULL, "adapt");
    rc |= csv_header_add(h, 3, "engaged", "%d", s->adapt_engaged ? 1 : 0);
    rc |= csv_header_add(h, 3, "delta", "%g", s->delta);
    rc |= csv_header_add(h, 2, "algorithm", "hmc (Default)");
    rc |= csv_header_add(h, 3, NULL, "hmc");
    rc |= csv_header_add(h, 4, "engine", "nuts (Default)");
    rc |= csv_header_add(h, 5, NULL, "nuts");
    rc |= csv_header_add(h, 6, "max_depth", "%d", s->max_depth);
    rc |= csv_header_add(h, 4, "metric", "%s", s->metric ? s->metric : "diag_e");
    rc |= csv_header_add(h, 4, "stepsize", "%g", s->stepsize);
    rc |= csv_header_add(h, 2, "num_chains", "%d", s->num_chains > 0 ? s->num_chains : 1);
    if (rc)
        return -1;
    return csv_header_run(h, s->chain_id, s->data_file, s->seed, s->output_file);
}

/* ---- writing ------------------------------------------------------------ */

static int record_error(CsvOut *o, const char *what, int errnum)
{
    if (!o->failed) {
        o->failed = 1;
        snprintf(o->err, sizeof o->err, "%s: %s: %s", o->path, what,
                 strerror(errnum ? errnum : EIO));
    }
    return -1;
}

/* After a burst of writes: stdio reports errors lazily, through ferror(). */
static int check_stream(CsvOut *o)
{
    if (o->failed)
        return -1;
    if (ferror(o->fp))
        return record_error(o, "write failed", errno);
    return 0;
}

/* NUTS's own diagnostics get CmdStan's 6 digits; every other column
 * (lp__, energy__, and the engines' log_q__, log_weight__, prob__, which
 * carry probabilities and weights) gets 9. */
static int is_coarse_column(const char *name)
{
    static const char *const coarse[] = {"accept_stat__", "stepsize__", "treedepth__",
                                         "n_leapfrog__", "divergent__"};
    for (size_t i = 0; i < sizeof coarse / sizeof coarse[0]; i++)
        if (strcmp(name, coarse[i]) == 0)
            return 1;
    return 0;
}

/* One value, as docs/output.md specifies; returns its length. */
static int format_value(char *buf, size_t len, double v, int digits)
{
    if (isnan(v))
        return snprintf(buf, len, "NaN");
    if (isinf(v))
        return snprintf(buf, len, v > 0 ? "inf" : "-inf");
    if (v == trunc(v) && fabs(v) < 1e15)
        return snprintf(buf, len, "%.0f", v == 0 ? 0.0 : v);   /* no "-0" */
    return snprintf(buf, len, digits <= 6 ? "%.6g" : "%.9g", v);
}

static void free_out(CsvOut *o)
{
    free(o->path);
    free(o->tmp);
    free(o->digits);
    free(o);
}

/* Text on one comment line: a newline in a value (a file name can hold
 * one) would end the comment and corrupt the file, so it becomes a space. */
static void put_one_line(FILE *fp, const char *text)
{
    for (; *text; text++)
        fputc(*text == '\n' || *text == '\r' ? ' ' : *text, fp);
}

static void write_setting(FILE *fp, const CsvSetting *s)
{
    fputc('#', fp);
    for (int i = 0; i < 2 * s->depth + 1; i++)
        fputc(' ', fp);
    if (s->key) {
        put_one_line(fp, s->key);
        fputs(s->value[0] ? " = " : " =", fp);
    }
    put_one_line(fp, s->value);
    fputc('\n', fp);
}

CsvOut *csv_out_open(const char *path, const CsvHeader *settings, int ncols,
                     const char *const *names, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!path || !*path || ncols <= 0 || !names) {
        if (err)
            snprintf(err, errlen, "%s: no output file name or no columns",
                     path && *path ? path : "(output)");
        return NULL;
    }
    CsvOut *o = calloc(1, sizeof *o);
    if (o && asprintf(&o->tmp, "%s.tmp", path) < 0)
        o->tmp = NULL;                      /* asprintf leaves it undefined */
    if (!o || !o->tmp || !(o->path = strdup(path)) ||
        !(o->digits = malloc((size_t)ncols))) {
        if (o)
            free_out(o);
        if (err)
            snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    o->ncols = ncols;
    for (int j = 0; j < ncols; j++)
        o->digits[j] = is_coarse_column(names[j] ? names[j] : "") ? 6 : 9;
    o->fp = fopen(o->tmp, "w");
    if (!o->fp) {
        if (err)
            snprintf(err, errlen, "%s: cannot create file: %s", path, strerror(errno));
        free_out(o);
        return NULL;
    }
    setvbuf(o->fp, NULL, _IOFBF, 1 << 16);
    if (settings)
        for (int i = 0; i < settings->n; i++)
            write_setting(o->fp, &settings->items[i]);
    fprintf(o->fp, "# cm version %s\n", CM_VERSION);
    for (int j = 0; j < ncols; j++) {
        if (j)
            fputc(',', o->fp);
        fputs(names[j] ? names[j] : "", o->fp);
    }
    fputc('\n', o->fp);
    if (check_stream(o) < 0) {
        if (err)
            snprintf(err, errlen, "%s", o->err);
        csv_out_abort(o);
        return NULL;
    }
    return o;
}

int csv_out_row(CsvOut *o, const double *row)
{
    if (!o || o->failed)
        return -1;
    char buf[64];
    for (int j = 0; j < o->ncols; j++) {
        if (j)
            fputc(',', o->fp);
        format_value(buf, sizeof buf, row[j], o->digits[j]);
        fputs(buf, o->fp);
    }
    fputc('\n', o->fp);
    if (check_stream(o) < 0)
        return -1;
    o->rows++;
    return 0;
}

int csv_out_comment(CsvOut *o, const char *line)
{
    if (!o || o->failed)
        return -1;
    fputc('#', o->fp);
    if (line && *line) {
        fputc(' ', o->fp);
        put_one_line(o->fp, line);
    }
    fputc('\n', o->fp);
    return check_stream(o);
}

int csv_out_adaptation(CsvOut *o, double step, const double *inv_metric,
                       int dim, int dense)
{
    if (!o || o->failed)
        return -1;
    fputs("# Adaptation terminated\n", o->fp);
    fprintf(o->fp, "# Step size = %g\n", step);
    if (!inv_metric) {
        fputs("# No free parameters for unit metric\n", o->fp);
        return check_stream(o);
    }
    fputs(dense ? "# Elements of inverse mass matrix:\n"
                : "# Diagonal elements of inverse mass matrix:\n", o->fp);
    int rows = dense ? dim : 1;
    for (int r = 0; r < rows; r++) {
        fputc('#', o->fp);
        for (int c = 0; c < dim; c++)
            fprintf(o->fp, "%s%g", c ? ", " : " ", inv_metric[(size_t)r * dim + c]);
        fputc('\n', o->fp);
    }
    return check_stream(o);
}

int csv_out_timing(CsvOut *o, double warmup_s, double sampling_s)
{
    if (!o || o->failed)
        return -1;
    fprintf(o->fp,
            "#\n"
            "#  Elapsed Time: %g seconds (Warm-up)\n"
            "#                %g seconds (Sampling)\n"
            "#                %g seconds (Total)\n"
            "#\n",
            warmup_s, sampling_s, warmup_s + sampling_s);
    return check_stream(o);
}

long csv_out_rows(const CsvOut *o)
{
    return o ? o->rows : 0;
}

const char *csv_out_error(const CsvOut *o)
{
    return o && o->failed ? o->err : NULL;
}

int csv_out_close(CsvOut *o, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!o)
        return -1;
    if (!o->failed && fflush(o->fp) != 0)
        record_error(o, "write failed", errno);
    if (fclose(o->fp) != 0 && !o->failed)
        record_error(o, "write failed", errno);
    o->fp = NULL;
    if (!o->failed && rename(o->tmp, o->path) != 0)
        record_error(o, "cannot rename temporary file into place", errno);
    int rc = 0;
    if (o->failed) {
        remove(o->tmp);
        if (err)
            snprintf(err, errlen, "%s", o->err);
        rc = -1;
    }
    free_out(o);
    return rc;
}

void csv_out_abort(CsvOut *o)
{
    if (!o)
        return;
    if (o->fp)
        fclose(o->fp);
    remove(o->tmp);
    free_out(o);
}

char *csv_out_chain_path(const char *output, int chain_id, int nchains)
{
    if (!output)
        return NULL;
    if (nchains <= 1)
        return strdup(output);
    const char *base = strrchr(output, '/');
    base = base ? base + 1 : output;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)                /* "out" or ".hidden": append */
        dot = output + strlen(output);
    char *p;
    if (asprintf(&p, "%.*s_%d%s", (int)(dot - output), output, chain_id, dot) < 0)
        return NULL;
    return p;
}
