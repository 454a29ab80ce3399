/*
 * infer_svi.c - the SVI engine behind `cmrun --infer svi`: the model in,
 * a fitted guide, its draws and a summary out.
 *
 * The run: trace the model (its unconstrained dimension and site layout),
 * start the guide at the mode where BFGS finds one (else at a finite
 * point; or from --init-params), fit it with
 * svi_fit() while streaming the ELBO trace to --elbo-out and the progress
 * line to stderr, polish the mode for delta and laplace (laplace then
 * becomes the Gaussian at the mode with the inverse negative Hessian as its
 * covariance), save the guide to --params-out, and draw --samples points
 * from it.
 *
 * The draws are written as CmdStan writes a variational run (method =
 * variational): the first row is the guide's mean (loc), then one row per
 * draw, so CmdStan readers (and cmrun --summary, which skips that first
 * row) read it unchanged.  Columns: lp__ is log p of the draw on the
 * unconstrained scale (log-Jacobians included, as NUTS's lp__), log_q__ the
 * guide's log density there, so lp__ - log_q__ is a draw's log importance
 * weight; then the model's columns (constrained values, deterministic
 * nodes) as every engine writes them.  The summary table is that of NUTS
 * for independent draws (no R-hat or ESS), printed after the fit report.
 *
 * The parameter file is JSON that a person can read: the guide kind, the
 * dimension, the site layout (which coordinates belong to which site), and
 * loc with the scales on their natural (not log) scale.  It is read back by
 * a small JSON reader here (the data reader takes CmdStan data only: no
 * strings or objects), which checks that guide kind, rank, dimension and
 * site layout match the run before continuing from it.  Optimiser state is
 * not saved: a continued fit restarts Adam's moments.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>

#include "csv_out.h"
#include "diag.h"
#include "model.h"
#include "ppc.h"
#include "summary.h"
#include "subsample.h"
#include "svi.h"
#include "svi_user.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- a small JSON reader (for --init-params) ------------------------------ */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } JType;

typedef struct JVal {
    JType type;
    double num;
    char *str;
    int n;
    struct JVal *items;
    char **keys;            /* J_OBJ: n keys, parallel to items */
} JVal;

typedef struct {
    const char *text, *p, *end;
    const char *path;
    char *err;
    size_t errlen;
    int depth;
} JParser;

static void jval_free(JVal *v)
{
    for (int i = 0; i < v->n; i++) {
        jval_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

static int jfail(JParser *jp, const char *what)
{
    int line = 1, col = 1;
    for (const char *q = jp->text; q < jp->p && q < jp->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(jp->err, jp->errlen, "--init-params %s:%d:%d: %s", jp->path, line, col, what);
    return -1;
}

static void jskip(JParser *jp)
{
    while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' || *jp->p == '\r'))
        jp->p++;
}

static int jvalue(JParser *jp, JVal *out);

static int jstring(JParser *jp, char **out)
{
    jp->p++; /* the opening quote */
    const char *s = jp->p;
    while (jp->p < jp->end && *jp->p != '"') {
        if (*jp->p == '\\' && jp->p + 1 < jp->end)
            jp->p++;
        jp->p++;
    }
    if (jp->p >= jp->end)
        return jfail(jp, "unterminated string");
    size_t n = (size_t)(jp->p - s);
    char *t = malloc(n + 1);
    if (!t)
        return jfail(jp, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) { /* escapes: keep the escaped character */
        if (s[i] == '\\' && i + 1 < n)
            i++;
        t[k++] = s[i];
    }
    t[k] = 0;
    jp->p++;
    *out = t;
    return 0;
}

static int jpush(JVal *v, int *cap)
{
    if (v->n < *cap)
        return 0;
    *cap = *cap ? 2 * *cap : 8;
    JVal *ni = realloc(v->items, sizeof(JVal) * (size_t)*cap);
    if (!ni)
        return -1;
    v->items = ni;
    if (v->type == J_OBJ) {
        char **nk = realloc(v->keys, sizeof(char *) * (size_t)*cap);
        if (!nk)
            return -1;
        v->keys = nk;
    }
    return 0;
}

static int jcontainer(JParser *jp, JVal *out, int is_obj)
{
    out->type = is_obj ? J_OBJ : J_ARR;
    if (++jp->depth > 64)
        return jfail(jp, "nested too deeply");
    jp->p++;
    jskip(jp);
    int cap = 0;
    if (jp->p < jp->end && *jp->p == (is_obj ? '}' : ']')) {
        jp->p++;
        jp->depth--;
        return 0;
    }
    for (;;) {
        jskip(jp);
        if (jpush(out, &cap) != 0)
            return jfail(jp, "out of memory");
        JVal *item = &out->items[out->n];
        memset(item, 0, sizeof *item);
        if (is_obj) {
            if (jp->p >= jp->end || *jp->p != '"')
                return jfail(jp, "expected a quoted member name");
            if (jstring(jp, &out->keys[out->n]) != 0)
                return -1;
            jskip(jp);
            if (jp->p >= jp->end || *jp->p != ':') {
                free(out->keys[out->n]);
                return jfail(jp, "expected ':' after the member name");
            }
            jp->p++;
        }
        out->n++;
        if (jvalue(jp, item) != 0)
            return -1;
        jskip(jp);
        if (jp->p < jp->end && *jp->p == ',') {
            jp->p++;
            continue;
        }
        if (jp->p < jp->end && *jp->p == (is_obj ? '}' : ']')) {
            jp->p++;
            jp->depth--;
            return 0;
        }
        return jfail(jp, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int jvalue(JParser *jp, JVal *out)
{
    jskip(jp);
    if (jp->p >= jp->end)
        return jfail(jp, "unexpected end of file");
    char c = *jp->p;
    if (c == '{' || c == '[')
        return jcontainer(jp, out, c == '{');
    if (c == '"') {
        out->type = J_STR;
        return jstring(jp, &out->str);
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(words[k]);
        if ((size_t)(jp->end - jp->p) >= n && strncmp(jp->p, words[k], n) == 0) {
            out->type = k < 2 ? J_BOOL : J_NULL;
            out->num = k == 0;
            jp->p += n;
            return 0;
        }
    }
    char *e;
    double x = strtod(jp->p, &e);
    if (e == jp->p)
        return jfail(jp, "expected a value (number, string, array or object)");
    out->type = J_NUM;
    out->num = x;
    jp->p = e;
    return 0;
}

static int json_parse(const Source *src, JVal *out, char *err, size_t errlen)
{
    JParser jp = {src->text, src->text, src->text + src->len, src->path, err, errlen, 0};
    memset(out, 0, sizeof *out);
    if (jvalue(&jp, out) != 0) {
        jval_free(out);
        return -1;
    }
    jskip(&jp);
    if (jp.p < jp.end) {
        jfail(&jp, "unexpected text after the JSON value");
        jval_free(out);
        return -1;
    }
    return 0;
}

static const JVal *jget(const JVal *obj, const char *key)
{
    for (int i = 0; obj->type == J_OBJ && i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

/* ---- the parameter file ------------------------------------------------------ */

/* Coordinates [offset, offset+size) that belong to one site, in order. */
typedef struct {
    const char *name;
    int offset, size;
} SiteSpan;

static int site_spans(const Model *m, SiteSpan *spans)
{
    int n = 0;
    for (int i = 0; i < m->dim; i++) {
        const char *name = model_param_site(m, i);
        if (n > 0 && strcmp(spans[n - 1].name, name) == 0) {
            spans[n - 1].size++;
            continue;
        }
        spans[n++] = (SiteSpan){name, i, 1};
    }
    return n;
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void write_json_string(FILE *f, const char *text)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(f, "\\u%04x", *c);
        else
            fputc(*c, f);
    }
    fputc('"', f);
}

static void write_vector(FILE *f, const double *x, int n, int stride)
{
    fputc('[', f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%.17g", i ? ", " : "", x[(size_t)i * stride]);
    fputc(']', f);
}

static int write_params(const char *path, const Model *m, const SviGuide *g, SviGuideKind kind,
                        const char *model_name, int steps, double elbo)
{
    char *tmp = malloc(strlen(path) + 5);
    SiteSpan *spans = malloc(sizeof(SiteSpan) * (size_t)m->dim);
    if (!tmp || !spans) {
        free(tmp);
        free(spans);
        fprintf(stderr, "cmrun: --params-out %s: out of memory\n", path);
        return -1;
    }
    sprintf(tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "cmrun: --params-out %s: cannot create the file\n", path);
        free(tmp);
        free(spans);
        return -1;
    }
    int d = g->dim, r = g->rank, ns = site_spans(m, spans);
    fprintf(f, "{\n  \"format\": \"cm svi guide\",\n  \"version\": 1,\n");
    fprintf(f, "  \"model\": ");
    write_json_string(f, model_name ? model_name : "");
    fprintf(f, ",\n  \"guide\": \"%s\",\n  \"form\": \"%s\",\n", svi_guide_name(kind),
            svi_form_name(g->form));
    fprintf(f, "  \"dim\": %d,\n  \"rank\": %d,\n  \"scale_transform\": \"exp\",\n", d, r);
    fprintf(f, "  \"steps\": %d,\n  \"elbo\": ", steps);
    if (isfinite(elbo))
        fprintf(f, "%.17g", elbo);
    else
        fputs("null", f);
    fprintf(f, ",\n  \"sites\": [");
    for (int k = 0; k < ns; k++) {
        fprintf(f, "%s\n    {\"name\": ", k ? "," : "");
        write_json_string(f, spans[k].name);
        fprintf(f, ", \"offset\": %d, \"size\": %d}", spans[k].offset, spans[k].size);
    }
    fprintf(f, "\n  ],\n  \"loc\": ");
    write_vector(f, g->theta, d, 1);
    if (g->form == SVI_FORM_DIAG || g->form == SVI_FORM_LOWRANK) {
        fprintf(f, ",\n  \"scale\": ");
        write_vector(f, g->scale, d, 1);
    }
    if (g->loc_step) {
        fprintf(f, ",\n  \"loc_step\": ");
        write_vector(f, g->loc_step, d, 1);
    }
    if (g->form == SVI_FORM_TRIL || g->form == SVI_FORM_LOWRANK) {
        /* the covariance factor in natural units: L, or the cov_factor F of
         * Sigma = F F^T + diag(scale^2) */
        int cols = g->form == SVI_FORM_TRIL ? d : r;
        double *row = malloc(sizeof(double) * (size_t)(cols + 1));
        fprintf(f, ",\n  \"%s\": [", g->form == SVI_FORM_TRIL ? "scale_tril" : "cov_factor");
        for (int i = 0; row && i < d; i++) {
            svi_guide_cov_row_factor(g, i, row);
            fprintf(f, "%s\n    ", i ? "," : "");
            write_vector(f, row, cols, 1);
        }
        fprintf(f, "\n  ]");
        free(row);
    }
    fprintf(f, "\n}\n");
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        fprintf(stderr, "cmrun: --params-out %s: writing the file failed\n", path);
        free(tmp);
        free(spans);
        return -1;
    }
    free(tmp);
    free(spans);
    return 0;
}

/* A numeric array of n values into out[i * stride]; a message otherwise. */
static int read_numbers(const JVal *v, int n, double *out, int stride, const char *what,
                        const char *path, char *err, size_t errlen)
{
    if (!v || v->type != J_ARR || v->n != n) {
        snprintf(err, errlen, "--init-params %s: '%s' must be an array of %d numbers", path, what, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (v->items[i].type != J_NUM || !isfinite(v->items[i].num)) {
            snprintf(err, errlen, "--init-params %s: '%s' element %d is not a finite number", path,
                     what, i + 1);
            return -1;
        }
        out[(size_t)i * stride] = v->items[i].num;
    }
    return 0;
}

static int read_rows(const JVal *v, int rows, int cols, double *out, const char *what,
                     const char *path, char *err, size_t errlen)
{
    if (!v || v->type != J_ARR || v->n != rows) {
        snprintf(err, errlen, "--init-params %s: '%s' must be an array of %d rows of %d numbers",
                 path, what, rows, cols);
        return -1;
    }
    for (int i = 0; i < rows; i++)
        if (read_numbers(&v->items[i], cols, out + (size_t)i * cols, 1, what, path, err, errlen))
            return -1;
    return 0;
}

static int check_sites(const JVal *sites, const Model *m, const char *path, char *err, size_t errlen)
{
    SiteSpan *spans = malloc(sizeof(SiteSpan) * (size_t)m->dim);
    if (!spans) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int ns = site_spans(m, spans), rc = 0;
    if (!sites || sites->type != J_ARR) {
        snprintf(err, errlen, "--init-params %s: no 'sites' array", path);
        rc = -1;
    } else {
        for (int k = 0; k < ns || k < sites->n; k++) {
            const JVal *s = k < sites->n ? &sites->items[k] : NULL;
            const JVal *name = s ? jget(s, "name") : NULL, *off = s ? jget(s, "offset") : NULL,
                       *size = s ? jget(s, "size") : NULL;
            int same = k < ns && name && name->type == J_STR && off && size &&
                       strcmp(name->str, spans[k].name) == 0 && off->num == spans[k].offset &&
                       size->num == spans[k].size;
            if (!same) {
                snprintf(err, errlen, "--init-params %s: the guide was fitted to other sites: its "
                         "site %d is '%s' but this model's is '%s' (was it fitted to another model "
                         "or data?)", path, k + 1, name && name->type == J_STR ? name->str : "(none)",
                         k < ns ? spans[k].name : "(none)");
                rc = -1;
                break;
            }
        }
    }
    free(spans);
    return rc;
}

/* Load --init-params into g (already initialised for this run's guide). */
static int load_params(const char *path, const Model *m, SviGuide *g, const SviOptions *s, char *err,
                       size_t errlen)
{
    Source src;
    if (source_read(&src, path) != 0) {
        snprintf(err, errlen, "--init-params %s: cannot read the file", path);
        return -1;
    }
    JVal root;
    int rc = -1;
    if (json_parse(&src, &root, err, errlen) != 0) {
        source_free(&src);
        return -1;
    }
    const JVal *guide = jget(&root, "guide"), *dim = jget(&root, "dim"), *rank = jget(&root, "rank");
    int d = g->dim;
    if (root.type != J_OBJ || !guide || guide->type != J_STR) {
        snprintf(err, errlen, "--init-params %s: not a guide file written by --params-out (no "
                 "\"guide\" member)", path);
    } else if (strcmp(guide->str, svi_guide_name(s->guide)) != 0) {
        snprintf(err, errlen, "--init-params %s: the file holds a '%s' guide but this run's --guide "
                 "is '%s'", path, guide->str, svi_guide_name(s->guide));
    } else if (!dim || dim->type != J_NUM || dim->num != d) {
        snprintf(err, errlen, "--init-params %s: the guide has dimension %g but this model's "
                 "unconstrained dimension is %d (was it fitted to another model or data?)", path,
                 dim && dim->type == J_NUM ? dim->num : NAN, d);
    } else if (s->guide == SVI_LOWRANK && (!rank || rank->type != J_NUM || rank->num != g->rank)) {
        snprintf(err, errlen, "--init-params %s: the guide has rank %g but --guide is lowrank:%d", path,
                 rank && rank->type == J_NUM ? rank->num : NAN, g->rank);
    } else if (check_sites(jget(&root, "sites"), m, path, err, errlen) == 0 &&
               read_numbers(jget(&root, "loc"), d, g->theta, 1, "loc", path, err, errlen) == 0) {
        int r = g->rank, cols = g->form == SVI_FORM_TRIL ? d : r;
        double *loc = malloc(sizeof(double) * (size_t)d), *scale = malloc(sizeof(double) * (size_t)d);
        double *factor = malloc(sizeof(double) * ((size_t)d * (size_t)cols + 1));
        rc = loc && scale && factor ? 0 : -1;
        if (rc == 0)
            memcpy(loc, g->theta, sizeof(double) * (size_t)d);
        if (rc == 0 && (g->form == SVI_FORM_DIAG || g->form == SVI_FORM_LOWRANK))
            rc = read_numbers(jget(&root, "scale"), d, scale, 1, "scale", path, err, errlen);
        if (rc == 0 && g->form == SVI_FORM_LOWRANK)
            rc = read_rows(jget(&root, "cov_factor"), d, r, factor, "cov_factor", path, err, errlen);
        if (rc == 0 && g->form == SVI_FORM_TRIL)
            rc = read_rows(jget(&root, "scale_tril"), d, d, factor, "scale_tril", path, err, errlen);
        const JVal *ls = jget(&root, "loc_step");
        if (rc == 0 && ls) {
            g->loc_step = malloc(sizeof(double) * (size_t)d);
            rc = g->loc_step ? read_numbers(ls, d, g->loc_step, 1, "loc_step", path, err, errlen) : -1;
            for (int i = 0; rc == 0 && i < d; i++)
                if (!(g->loc_step[i] > 0)) {
                    snprintf(err, errlen, "--init-params %s: 'loc_step' element %d is not positive",
                             path, i + 1);
                    rc = -1;
                }
        }
        if (rc == 0 && svi_guide_set_factor(g, loc, scale, factor) != 0) {
            snprintf(err, errlen, "--init-params %s: the guide's scales (%s) must be positive and "
                     "finite", path, g->form == SVI_FORM_TRIL ? "the diagonal of 'scale_tril'"
                                                              : "'scale'");
            rc = -1;
        }
        free(loc);
        free(scale);
        free(factor);
    }
    jval_free(&root);
    source_free(&src);
    return rc;
}

/* ---- the fitting run ------------------------------------------------------------ */

typedef struct {
    const InferOptions *o;
    const SviOptions *s;
    FILE *elbo;              /* --elbo-out, or NULL */
    int io_error;
    double t0, last_shown;
} Run;

static int on_step(void *user, int step, double elbo, double smoothed)
{
    Run *r = user;
    if (r->elbo && fprintf(r->elbo, "%d,%.10g,%.10g\n", step, elbo, smoothed) < 0) {
        r->io_error = 1;
        return 1;
    }
    if (r->o->progress && (step & 15) == 0) {
        double t = now();
        if (t - r->last_shown > 0.25) {
            r->last_shown = t;
            fprintf(stderr, "\rsvi: step %d/%d  smoothed ELBO %.6g  %.0f steps/s   ", step,
                    r->s->steps, smoothed, step / (t - r->t0));
            fflush(stderr);
        }
    }
    return 0;
}

static FILE *open_elbo_out(const char *path)
{
    char *tmp = malloc(strlen(path) + 5);
    if (!tmp)
        return NULL;
    sprintf(tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    free(tmp);
    if (f)
        fputs("step,elbo,smoothed_elbo\n", f);
    else
        fprintf(stderr, "cmrun: --elbo-out %s: cannot create the file\n", path);
    return f;
}

static int close_elbo_out(FILE *f, const char *path, int keep)
{
    char *tmp = malloc(strlen(path) + 5);
    if (!tmp)
        return -1;
    sprintf(tmp, "%s.tmp", path);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (!keep || bad || rename(tmp, path) != 0) {
        remove(tmp);
        if (keep)
            fprintf(stderr, "cmrun: --elbo-out %s: writing the file failed\n", path);
        free(tmp);
        return keep ? -1 : 0;
    }
    free(tmp);
    return 0;
}

/* guide: the autoguide's name, or "user" for a guide written in cm. */
static CsvOut *open_draws_csv(const InferOptions *o, const SviOptions *s, const char *guide,
                              int ncols, const char *const *names)
{
    int user = strcmp(guide, "user") == 0;
    CsvHeader h;
    csv_header_init(&h);
    csv_header_add(&h, 0, "model", "%s", o->model_name);
    csv_header_add(&h, 0, "method", "variational");
    csv_header_add(&h, 1, NULL, "variational");
    csv_header_add(&h, 2, "algorithm", "%s", !user && s->guide == SVI_NORMAL ? "meanfield"
                                             : !user && s->guide == SVI_MVN ? "fullrank"
                                                                            : guide);
    csv_header_add(&h, 2, "guide", "%s", guide);
    if (!user && s->guide == SVI_LOWRANK)
        csv_header_add(&h, 2, "rank", "%d", s->rank);
    csv_header_add(&h, 2, "iter", "%d", s->steps);
    csv_header_add(&h, 2, "grad_samples", "%d", s->particles);
    csv_header_add(&h, 2, "eta", "%g", s->lr);
    csv_header_add(&h, 2, "optimizer", "%s", svi_optim_name(s->optim));
    csv_header_add(&h, 2, "lr_decay", "%g", s->lr_decay);
    csv_header_add(&h, 2, "tol_rel_obj", "%g", s->tol);
    csv_header_add(&h, 2, "output_samples", "%d", s->samples);
    return infer_csv_open(o, &h, ncols, names);
}

typedef struct {
    int start;               /* 0 zero start, 1 at the mode, 2 from --init-params */
    double lp_start;         /* log p at the mode when start == 1 */
    double start_seconds;    /* finding the start (BFGS, curvature) */
    double lp0, lp1;         /* delta, laplace: log p before and after the final polish */
    int iters;
    int polished;            /* the polish reached a mode */
} ModeInfo;

static const char *guide_description(SviGuideKind k)
{
    switch (k) {
    case SVI_NORMAL: return "mean-field Gaussian";
    case SVI_MVN: return "full-rank Gaussian";
    case SVI_LOWRANK: return "low-rank plus diagonal Gaussian";
    case SVI_DELTA: return "point mass at the mode";
    case SVI_LAPLACE: return "Gaussian at the mode, inverse negative Hessian";
    }
    return "";
}

/* How the fit ended, in one line. */
static void report_ending(const SviOptions *s, const SviResult *res)
{
    if (res->steps == 0)
        printf("no optimisation steps: the guide is the starting one\n");
    else if (res->converged)
        printf("converged at step %d: the smoothed ELBO's relative change stayed below --tol %g "
               "for %d steps\n", res->steps, s->tol, SVI_WINDOW);
    else if (res->interrupted)
        printf("interrupted at step %d\n", res->steps);
    else if (s->tol == 0)
        printf("ran all %d steps (--tol 0: no convergence check)\n", res->steps);
    else if (isnan(res->rel_change))
        printf("ran all %d steps: too few to test convergence (it needs %d)\n", res->steps,
               3 * SVI_WINDOW - 1);
    else
        printf("ran all %d steps without meeting the convergence rule (last relative change of "
               "the smoothed ELBO %.2g, --tol %g)\n", res->steps, res->rel_change, s->tol);
}

/* What was fitted, how the fit ended, the ELBO and the cost. */
static void report_fit(const SviOptions *s, const SviGuide *g, const SviResult *res,
                       const ModeInfo *mi, double d_elbo, double d_se, int ndraws)
{
    printf("SVI: guide %s", svi_guide_name(s->guide));
    if (s->guide == SVI_LOWRANK)
        printf(":%d", s->rank);
    printf(" (%s on the unconstrained scale), dim %d, optimiser %s, lr %g",
           guide_description(s->guide), g->dim, svi_optim_name(s->optim), s->lr);
    if (s->lr_decay != 1)
        printf(" (decay %g per step)", s->lr_decay);
    printf(", %d particle%s\n", s->particles, s->particles == 1 ? "" : "s");
    if (mi->start == 1)
        printf("started at the mode (log p %.8g, found in %.3g s), scales from its curvature\n",
               mi->lp_start, mi->start_seconds);
    else if (mi->start == 2)
        printf("started from --init-params %s\n", s->init_params);
    else
        printf("started at 0 on the unconstrained scale%s\n",
               s->init_mode ? " (BFGS found no mode: none within 2000 iterations, or the density grows without bound)" : "");
    report_ending(s, res);
    int window = res->steps < SVI_WINDOW ? res->steps : SVI_WINDOW;
    if (s->guide == SVI_DELTA || s->guide == SVI_LAPLACE) {
        printf("log p at the mode %.10g (after %d BFGS polish iterations; %.10g before them)\n",
               mi->lp1, mi->iters, mi->lp0);
        if (!mi->polished)
            printf("warning: BFGS did not reach a mode (the gradient is not near 0): the point is "
                   "the best one found; the density may grow without bound (a funnel) or the "
                   "optimisation needs more --steps\n");
        if (ndraws > 0)
            printf("final ELBO of the Laplace guide %.8g (se %.2g) from the %d draws\n", d_elbo,
                   d_se, ndraws);
    } else {
        if (window > 0)
            printf("final ELBO %.8g (mean of the last %d step estimates)%s", res->elbo, window,
                   ndraws > 0 ? "; " : "\n");
        if (ndraws > 0)
            printf("%s%.8g (se %.2g) from the %d draws\n", window > 0 ? "" : "ELBO ", d_elbo, d_se,
                   ndraws);
    }
    if (res->skipped)
        printf("%d step%s skipped: no draw had a finite log density\n", res->skipped,
               res->skipped == 1 ? "" : "s");
    printf("%d steps in %.3f s, %.3f s CPU (%.3g us per step; %ld gradient evaluations)\n",
           res->steps, res->seconds, res->cpu_seconds,
           res->steps ? 1e6 * res->seconds / res->steps : 0.0, res->n_grad);
}

/* guide: the autoguide's name, or "user". */
static int print_table(const InferOptions *o, const Draws *d, const char *guide)
{
    char title[160];
    snprintf(title, sizeof title, "SVI guide %s: %d independent draws from the fitted guide",
             guide, d->ndraws);
    printf("\n");
    if (infer_summary_independent(o, d, title) != 0)
        return 2;
    if (o->cq && o->cq->predictive)
        ppc_report(stdout, d, o->data);
    return 0;
}

/* The fit's failure as a message naming the flag or site at fault. */
static void report_failure(const Model *m, const SviResult *res)
{
    if (res->status == SVI_NOT_FINITE)
        fprintf(stderr, "cmrun: --infer svi: %s; the guide has moved where the model is undefined "
                        "(near site '%s'): check its support and parameters, lower --lr, or use "
                        "--optim clipped-adam\n",
                res->message, model_param_site(m, res->bad_coord));
    else
        fprintf(stderr, "cmrun: --infer svi: %s\n", res->message);
}

/* Close the draws file with its timing lines; 0, or 1 after a reported
 * write error (the file is then removed, as csv_out_close does). */
static int close_draws_csv(CsvOut *csv, double fit_seconds, double draw_seconds)
{
    char err[512];
    csv_out_timing(csv, fit_seconds, draw_seconds);
    if (csv_out_close(csv, err, sizeof err) != 0) {
        fprintf(stderr, "cmrun: %s\n", err);
        return 1;
    }
    return 0;
}

/* Draw from the guide: the mean row, then s->samples draws, into the CSV
 * and the Draws.  Sets the draws' ELBO estimate and its standard error. */
static int draw_guide(const SviOptions *s, Model *m, SviGuide *g, CausalGq *gq,
                      gsl_rng *rng, CsvOut *csv, Draws *draws, double *elbo, double *se)
{
    int ncols = 2 + m->ncols + (gq ? gq->ncols : 0), rc = 0;
    double *row = calloc((size_t)ncols, sizeof(double));
    double *z = calloc((size_t)m->dim, sizeof(double));
    double sum = 0, sum2 = 0;
    int n = 0;
    if (!row || !z) {
        fprintf(stderr, "cmrun: out of memory\n");
        rc = 1;
    }
    for (int i = -1; rc == 0 && i < s->samples; i++) {
        if (i >= 0 && cm_interrupted)
            break;
        if (i < 0)
            memcpy(z, g->theta, sizeof(double) * (size_t)m->dim);
        else
            svi_guide_sample(g, rng, z);
        row[0] = model_logp(m, z);
        row[1] = svi_guide_log_q(g, z);
        if (model_row(m, z, row + 2) != 0 ||
            (gq && causal_gq_row(gq, z, row + 2 + m->ncols, NULL) != 0)) {
            rc = 2;
            break;
        }
        if (i >= 0) {
            draws_append(draws, 0, row);
            double w = row[0] - row[1];
            if (isfinite(w)) {
                sum += w;
                sum2 += w * w;
                n++;
            }
        }
        if (csv && csv_out_row(csv, row) != 0) {
            fprintf(stderr, "cmrun: %s\n", csv_out_error(csv));
            rc = 1;
        }
    }
    *elbo = n ? sum / n : NAN;
    *se = n > 1 ? sqrt(fmax(sum2 / n - *elbo * *elbo, 0) / (n - 1)) : NAN;
    free(row);
    free(z);
    return rc;
}

/* Delta and laplace: polish the mode; laplace then becomes N(mode, (-H)^-1).
 * Returns 0, or 1 after a reported failure. */
static int finish_mode(const SamplerTarget *t, const Model *m, const SviOptions *s, SviGuide *g,
                       ModeInfo *mi)
{
    mi->iters = svi_polish_mode(t, g->theta, 500, &mi->lp0, &mi->lp1, &mi->polished);
    svi_guide_prepare(g);
    if (s->guide != SVI_LAPLACE)
        return 0;
    SviGuide lg;
    if (svi_guide_init(&lg, SVI_FORM_TRIL, g->dim, 0) != 0) {
        fprintf(stderr, "cmrun: --guide laplace: out of memory for a %d x %d covariance\n", g->dim,
                g->dim);
        return 1;
    }
    int bad;
    int rc = svi_laplace(t, g->theta, &lg, &bad);
    if (rc == SVI_NOT_FINITE) {
        fprintf(stderr, "cmrun: --guide laplace: the gradient is not finite next to the mode, so "
                        "the Hessian cannot be taken there (is the mode on the edge of the "
                        "support?)\n");
    } else if (rc == SVI_NOT_PD) {
        fprintf(stderr, "cmrun: --guide laplace: the negative Hessian at the mode is not positive "
                        "definite, so there is no Gaussian approximation there");
        if (bad >= 0)
            fprintf(stderr, " (the log density is not concave along site '%s')",
                    model_param_site(m, bad));
        fprintf(stderr, "; the optimiser may not have reached a mode (raise --steps) or the mode "
                        "is a ridge; try --guide mvn\n");
    } else if (rc != SVI_OK) {
        fprintf(stderr, "cmrun: --guide laplace: out of memory\n");
    }
    if (rc != SVI_OK) {
        svi_guide_free(&lg);
        return 1;
    }
    svi_guide_free(g);
    *g = lg;
    return 0;
}

int infer_svi(const InferOptions *o, const SviOptions *s)
{
    gsl_set_error_handler_off(); /* a failed Cholesky must return, not abort */
    Model m;
    subsample_quiet(); /* subsampled plates: minibatches in svi_fit, full batches elsewhere */
    if (model_init(&m, o->prog, o->data, o->dos, infer_chain_seed(o->seed, 0)) != 0 ||
        subsample_model(&m, 1) != 0 || subsample_model(&m, 0) != 0) { /* refuses local latents */
        model_free(&m);
        return 2;
    }
    int rc = 0;
    char err[1024];
    SviGuide g;
    memset(&g, 0, sizeof g);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, infer_chain_seed(o->seed, 0));
    FILE *elbo_f = NULL;
    const char **names = NULL;
    Draws *draws = NULL;
    CsvOut *csv = NULL;
    /* counterfactual, effect or interventional columns: the guide stands in
       for the factual posterior, and each draw is pushed through the other
       world(s) as a NUTS draw is (causal_gq.h) */
    CausalGq gq;
    int gq_ok = 0;
    gsl_rng *gq_rng = NULL;
    if (o->cq && m.dim > 0) {
        double *q0 = calloc((size_t)m.dim, sizeof(double));
        gq_rng = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(gq_rng, infer_chain_seed(o->seed + 7919, 0));
        int r = q0 ? causal_gq_init(&gq, o->cq, o->prog, o->data, &m.param, gq_rng, q0) : -1;
        free(q0);
        gq_ok = 1;
        if (r != 0) {
            rc = 2;
            goto out;
        }
    }
    if (m.dim == 0) {
        fprintf(stderr, "cmrun: --infer svi: the model has no latent continuous sites: nothing to "
                        "fit (use --infer prior to simulate it)\n");
        rc = 2;
        goto out;
    }
    if (svi_options_check(s, m.dim, err, sizeof err) != 0) {
        fprintf(stderr, "cmrun: %s\n", err);
        rc = 2;
        goto out;
    }
    if (svi_guide_init(&g, svi_guide_form(s->guide), m.dim, s->rank) != 0) {
        fprintf(stderr, "cmrun: --infer svi: out of memory for the guide\n");
        rc = 1;
        goto out;
    }
    SamplerTarget t = {m.dim, model_logp_grad, &m};
    ModeInfo mi = {s->init_params ? 2 : 0, NAN, 0, NAN, NAN, 0, 1};
    if (s->init_params) {
        if (load_params(s->init_params, &m, &g, s, err, sizeof err) != 0) {
            fprintf(stderr, "cmrun: %s\n", err);
            rc = 2;
            goto out;
        }
    } else {
        double *q = calloc((size_t)m.dim, sizeof(double)), *gr = calloc((size_t)m.dim, sizeof(double));
        int found = q && gr && svi_find_init(&t, rng, o->cfg.init_radius, q, gr) == 0;
        double t0 = now();
        if (found && s->init_mode) {
            mi.start = svi_init_at_mode(&t, &g, q, s->init_scale, rng, &mi.lp_start);
            mi.start_seconds = now() - t0;
        } else if (found)
            svi_guide_reset(&g, q, s->init_scale, rng);
        else if (q && gr) {
            double lp = model_logp_grad(&m, q, gr);
            int i = 0;
            while (isfinite(lp) && i < m.dim - 1 && isfinite(gr[i]))
                i++;
            fprintf(stderr, "cmrun: --infer svi: no starting point with a finite log density and "
                            "gradient after 100 tries; the log density is not finite at site "
                            "'%s' (check its support, its parameters, or try --init 0.5)\n",
                    model_param_site(&m, i));
        }
        free(q);
        free(gr);
        if (!found) {
            rc = 1;
            goto out;
        }
    }
    if (s->elbo_out && !(elbo_f = open_elbo_out(s->elbo_out))) {
        rc = 2;
        goto out;
    }
    int ngq = gq_ok ? gq.ncols : 0;
    int ncols = 2 + m.ncols + ngq;
    names = calloc((size_t)ncols, sizeof(char *));
    if (!names) {
        rc = 1;
        goto out;
    }
    names[0] = "lp__";
    names[1] = "log_q__";
    for (int j = 0; j < m.ncols; j++)
        names[2 + j] = m.names[j];
    for (int j = 0; j < ngq; j++)
        names[2 + m.ncols + j] = gq.names[j];
    if (o->output && !(csv = open_draws_csv(o, s, svi_guide_name(s->guide), ncols, names))) {
        rc = 2;
        goto out;
    }

    if (subsample_model(&m, 1) != 0) {
        rc = 2;
        goto out;
    }
    Run run = {o, s, elbo_f, 0, now(), 0};
    SviResult res;
    svi_fit(&t, &g, s, rng, on_step, &run, &cm_interrupted, &res);
    if (subsample_model(&m, 0) != 0) {
        rc = 2;
        goto out;
    }
    if (o->progress)
        fprintf(stderr, "\r%*s\r", 72, "");
    if (run.io_error) {
        fprintf(stderr, "cmrun: --elbo-out %s: writing the file failed\n", s->elbo_out);
        rc = 1;
        goto out;
    }
    if (elbo_f) { /* kept after a failed fit too: the trace shows how it failed */
        int bad = close_elbo_out(elbo_f, s->elbo_out, 1);
        elbo_f = NULL;
        if (bad) {
            rc = 1;
            goto out;
        }
    }
    if (res.status != SVI_OK) {
        report_failure(&m, &res);
        rc = 1;
        goto out;
    }
    if ((s->guide == SVI_DELTA || s->guide == SVI_LAPLACE) && finish_mode(&t, &m, s, &g, &mi) != 0) {
        rc = 1;
        goto out;
    }
    if (s->params_out &&
        write_params(s->params_out, &m, &g, s->guide, o->model_name, res.steps, res.elbo) != 0) {
        rc = 1;
        goto out;
    }
    draws = draws_new(1, ncols, names);
    double t_draw = now(), d_elbo, d_se;
    rc = draws ? draw_guide(s, &m, &g, gq_ok ? &gq : NULL, rng, csv, draws, &d_elbo, &d_se) : 1;
    t_draw = now() - t_draw;
    if (rc != 0)
        goto out;
    if (csv) {
        rc = close_draws_csv(csv, res.seconds, t_draw);
        csv = NULL;
        if (rc != 0)
            goto out;
    }
    draws_finish(draws);
    report_fit(s, &g, &res, &mi, d_elbo, d_se,
               s->guide != SVI_DELTA && isfinite(d_elbo) ? draws->ndraws : 0);
    if (draws->ndraws > 0)
        rc = print_table(o, draws, svi_guide_name(s->guide));
    if (rc == 0 && (res.interrupted || cm_interrupted)) {
        fprintf(stderr, "cmrun: interrupted; the guide fitted so far was drawn from\n");
        rc = 130;
    }
out:
    if (elbo_f)
        close_elbo_out(elbo_f, s->elbo_out, 0);
    if (csv)
        csv_out_abort(csv);
    draws_free(draws);
    free(names);
    svi_guide_free(&g);
    gsl_rng_free(rng);
    if (gq_ok)
        causal_gq_free(&gq);
    if (gq_rng)
        gsl_rng_free(gq_rng);
    model_free(&m);
    return rc;
}

/* ---- guides written in cm (svi_user.h) ------------------------------------------ */

/* Value of parameter i as JSON: a number, an array, or an array of rows. */
static void write_param_value(FILE *f, const double *x, int rank, const int *dims)
{
    if (rank == 0) {
        fprintf(f, "%.17g", x[0]);
        return;
    }
    if (rank == 1) {
        write_vector(f, x, dims[0], 1);
        return;
    }
    fputc('[', f);
    for (int r = 0; r < dims[0]; r++) {
        fprintf(f, "%s", r ? ", " : "");
        write_vector(f, x + (size_t)r * dims[1], dims[1], 1);
    }
    fputc(']', f);
}

/* The fitted parameters, each by name with its constraint, shape and
 * constrained values. */
static int write_user_params(const char *path, const SviUser *u, const char *model_name, int steps,
                             double elbo)
{
    char *tmp = malloc(strlen(path) + 5);
    double *x = malloc(sizeof(double) * ((size_t)svi_user_dim(u) + 1));
    FILE *f = NULL;
    if (tmp && x) {
        sprintf(tmp, "%s.tmp", path);
        f = fopen(tmp, "w");
    }
    if (!f) {
        fprintf(stderr, "cmrun: --params-out %s: cannot create the file\n", path);
        free(tmp);
        free(x);
        return -1;
    }
    fprintf(f, "{\n  \"format\": \"cm svi guide\",\n  \"version\": 1,\n  \"model\": ");
    write_json_string(f, model_name ? model_name : "");
    fprintf(f, ",\n  \"guide\": \"user\",\n  \"steps\": %d,\n  \"elbo\": ", steps);
    if (isfinite(elbo))
        fprintf(f, "%.17g", elbo);
    else
        fputs("null", f);
    fprintf(f, ",\n  \"params\": [");
    for (int i = 0; i < svi_user_nparams(u); i++) {
        int rank, dims[2];
        const CmGuideParam *p = svi_user_param(u, i, &rank, dims);
        svi_user_param_values(u, i, x);
        fprintf(f, "%s\n    {\"name\": ", i ? "," : "");
        write_json_string(f, p->name);
        fprintf(f, ", \"constraint\": \"%s\", \"shape\": [", svi_user_constraint_name(p->con));
        for (int k = 0; k < rank; k++)
            fprintf(f, "%s%d", k ? ", " : "", dims[k]);
        fprintf(f, "], \"value\": ");
        write_param_value(f, x, rank, dims);
        fputc('}', f);
    }
    fprintf(f, "\n  ]\n}\n");
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    free(x);
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        fprintf(stderr, "cmrun: --params-out %s: writing the file failed\n", path);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static void describe_shape(char *buf, size_t n, int rank, const int *dims)
{
    if (rank == 0)
        snprintf(buf, n, "a scalar");
    else if (rank == 1)
        snprintf(buf, n, "[%d]", dims[0]);
    else
        snprintf(buf, n, "[%d, %d]", dims[0], dims[1]);
}

/* One parameter's entry of a saved file into u; names the mismatch. */
static int load_user_param(const JVal *e, SviUser *u, int i, const char *path, char *err,
                           size_t errlen)
{
    int rank, dims[2];
    const CmGuideParam *p = svi_user_param(u, i, &rank, dims);
    const JVal *shape = jget(e, "shape"), *value = jget(e, "value");
    int frank = shape && shape->type == J_ARR ? shape->n : -1, fdims[2] = {1, 1};
    for (int k = 0; k < frank && k < 2; k++)
        fdims[k] = shape->items[k].type == J_NUM ? (int)shape->items[k].num : -1;
    int same = frank == rank;
    for (int k = 0; same && k < rank; k++)
        same = fdims[k] == dims[k];
    if (!same) {
        char a[48], b[48] = "not a shape";
        describe_shape(a, sizeof a, rank, dims);
        if (frank >= 0 && frank <= 2)
            describe_shape(b, sizeof b, frank, fdims);
        snprintf(err, errlen, "--init-params %s: param '%s' is %s in the guide but %s in the file",
                 path, p->name, a, b);
        return -1;
    }
    int n = dims[0] * dims[1];
    double *x = malloc(sizeof(double) * ((size_t)n + 1));
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc;
    if (rank == 0) {
        rc = value && value->type == J_NUM ? 0 : -1;
        if (rc == 0)
            x[0] = value->num;
        else
            snprintf(err, errlen, "--init-params %s: param '%s' must be a number", path, p->name);
    } else if (rank == 1) {
        rc = read_numbers(value, n, x, 1, p->name, path, err, errlen);
    } else {
        rc = read_rows(value, dims[0], dims[1], x, p->name, path, err, errlen);
    }
    char m[256];
    if (rc == 0 && svi_user_set_param(u, i, x, m, sizeof m) != 0) {
        snprintf(err, errlen, "--init-params %s: %s", path, m);
        rc = -1;
    }
    free(x);
    return rc;
}

/* --init-params for a user guide: every param of the guide, by name. */
static int load_user_params(const char *path, SviUser *u, char *err, size_t errlen)
{
    Source src;
    if (source_read(&src, path) != 0) {
        snprintf(err, errlen, "--init-params %s: cannot read the file", path);
        return -1;
    }
    JVal root;
    if (json_parse(&src, &root, err, errlen) != 0) {
        source_free(&src);
        return -1;
    }
    int rc = 0;
    const JVal *guide = jget(&root, "guide"), *params = jget(&root, "params");
    if (root.type != J_OBJ || !guide || guide->type != J_STR) {
        snprintf(err, errlen, "--init-params %s: not a guide file written by --params-out (no "
                 "\"guide\" member)", path);
        rc = -1;
    } else if (strcmp(guide->str, "user") != 0 || !params || params->type != J_ARR) {
        snprintf(err, errlen, "--init-params %s: the file holds a '%s' autoguide, but this model "
                 "has a guide written in cm", path, guide->str);
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < svi_user_nparams(u); i++) {
        int rank, dims[2];
        const char *name = svi_user_param(u, i, &rank, dims)->name;
        const JVal *e = NULL;
        for (int k = 0; !e && k < params->n; k++) {
            const JVal *nm = jget(&params->items[k], "name");
            if (nm && nm->type == J_STR && strcmp(nm->str, name) == 0)
                e = &params->items[k];
        }
        if (!e) {
            snprintf(err, errlen, "--init-params %s: the file has no param '%s' (was it written for "
                     "another guide?)", path, name);
            rc = -1;
        } else {
            rc = load_user_param(e, u, i, path, err, errlen);
        }
    }
    for (int k = 0; rc == 0 && k < params->n; k++) {
        const JVal *nm = jget(&params->items[k], "name");
        int found = 0;
        for (int i = 0; nm && nm->type == J_STR && !found && i < svi_user_nparams(u); i++) {
            int rank, dims[2];
            found = strcmp(svi_user_param(u, i, &rank, dims)->name, nm->str) == 0;
        }
        if (!found) {
            snprintf(err, errlen, "--init-params %s: the file's param '%s' is not a param of this "
                     "guide", path, nm && nm->type == J_STR ? nm->str : "(unnamed)");
            rc = -1;
        }
    }
    jval_free(&root);
    source_free(&src);
    return rc;
}

static void report_user_fit(const SviOptions *s, const CmGuide *g, const SviUser *u,
                            const SviResult *res, double d_elbo, double d_se, int ndraws)
{
    printf("SVI: guide written in cm (%s%s), %d parameter%s (dim %d), optimiser %s, lr %g",
           g->from_file ? "--guide-file " : "guide block in ", g->src->path, svi_user_nparams(u),
           svi_user_nparams(u) == 1 ? "" : "s", svi_user_dim(u), svi_optim_name(s->optim), s->lr);
    if (s->lr_decay != 1)
        printf(" (decay %g per step)", s->lr_decay);
    printf(", %d particle%s\n", s->particles, s->particles == 1 ? "" : "s");
    printf("gradients:");
    for (int k = 0; k < svi_user_nsites(u); k++) {
        int rep;
        const char *name = svi_user_site(u, k, &rep);
        printf("%s %s (%s)", k ? "," : "", name, rep ? "reparameterised" : "score function");
    }
    printf("\n");
    if (s->init_params)
        printf("started from --init-params %s\n", s->init_params);
    else
        printf("started at the params' initial values\n");
    report_ending(s, res);
    int window = res->steps < SVI_WINDOW ? res->steps : SVI_WINDOW;
    if (window > 0)
        printf("final ELBO %.8g (mean of the last %d step estimates)%s", res->elbo, window,
               ndraws > 0 ? "; " : "\n");
    if (ndraws > 0)
        printf("%s%.8g (se %.2g) from the %d draws\n", window > 0 ? "" : "ELBO ", d_elbo, d_se,
               ndraws);
    if (res->skipped)
        printf("%d step%s skipped: no draw had a finite log density\n", res->skipped,
               res->skipped == 1 ? "" : "s");
    printf("%d steps in %.3f s, %.3f s CPU (%.3g us per step; %ld particles)\n", res->steps,
           res->seconds, res->cpu_seconds, res->steps ? 1e6 * res->seconds / res->steps : 0.0,
           res->n_grad);
}

/* s->samples draws into the Draws; the CSV gets first their column means
 * (CmdStan's first variational row, with lp__ = log_q__ = 0) and then the
 * draws.  Sets the draws' ELBO estimate and its standard error. */
static int draw_user_guide(const SviOptions *s, SviUser *u, CsvOut *csv, Draws *draws, double *elbo,
                           double *se)
{
    int ncols = 2 + svi_user_ncols(u), rc = 0;
    double *row = calloc((size_t)ncols, sizeof(double));
    if (!row) {
        fprintf(stderr, "cmrun: out of memory\n");
        return 1;
    }
    double sum = 0, sum2 = 0;
    int n = 0;
    for (int i = 0; i < s->samples && !cm_interrupted; i++) {
        if (svi_user_draw(u, row) != 0) {
            rc = 2;
            break;
        }
        draws_append(draws, 0, row);
        double w = row[0] - row[1];
        if (isfinite(w)) {
            sum += w;
            sum2 += w * w;
            n++;
        }
    }
    *elbo = n ? sum / n : NAN;
    *se = n > 1 ? sqrt(fmax(sum2 / n - *elbo * *elbo, 0) / (n - 1)) : NAN;
    draws_finish(draws);
    if (rc == 0 && csv) {
        memset(row, 0, sizeof(double) * (size_t)ncols);
        for (int d = 0; d < draws->ndraws; d++)
            for (int j = 2; j < ncols; j++)
                row[j] += draws_at(draws, 0, d, j) / draws->ndraws;
        rc = csv_out_row(csv, row) != 0;
        for (int d = 0; rc == 0 && d < draws->ndraws; d++)
            rc = csv_out_row(csv, &draws->x[(size_t)d * ncols]) != 0;
        if (rc)
            fprintf(stderr, "cmrun: %s\n", csv_out_error(csv));
    }
    free(row);
    return rc;
}

int infer_svi_user(const InferOptions *o, const SviOptions *s, const CmGuide *g)
{
    gsl_set_error_handler_off();
    if (o->cq && !o->cq->predictive) {
        fprintf(stderr, "cmrun: --counterfactual, --effect and --do on observed sites are not "
                        "available with a guide written in cm; use an autoguide (--guide normal, "
                        "mvn, ...) with a model file without a guide block\n");
        return 2;
    }
    if (s->init_mode_given) {
        fprintf(stderr, "cmrun: --guide-init applies to the autoguides; a guide written in cm starts "
                        "at its params' initial values (or --init-params)\n");
        return 2;
    }
    subsample_quiet(); /* subsampled plates: minibatches in the fit, full batches elsewhere */
    SviUser *u = svi_user_new(o->prog, g, o->data, o->dos, infer_chain_seed(o->seed, 0));
    if (!u)
        return 2;
    int rc = 0;
    char err[1024];
    FILE *elbo_f = NULL;
    const char **names = NULL;
    Draws *draws = NULL;
    CsvOut *csv = NULL;
    if (svi_user_dim(u) == 0) {
        fprintf(stderr, "cmrun: --infer svi: the guide declares no 'param': nothing to fit (declare "
                        "its parameters with param NAME: TYPE = INIT)\n");
        rc = 2;
        goto out;
    }
    if (o->cq && o->cq->predictive && svi_user_set_predictive(u, err, sizeof err) != 0) {
        fprintf(stderr, "cmrun: %s\n", err);
        rc = 2;
        goto out;
    }
    if (s->init_params && load_user_params(s->init_params, u, err, sizeof err) != 0) {
        fprintf(stderr, "cmrun: %s\n", err);
        rc = 2;
        goto out;
    }
    if (s->elbo_out && !(elbo_f = open_elbo_out(s->elbo_out))) {
        rc = 2;
        goto out;
    }
    int ncols = 2 + svi_user_ncols(u);
    names = calloc((size_t)ncols, sizeof(char *));
    if (!names) {
        rc = 1;
        goto out;
    }
    names[0] = "lp__";
    names[1] = "log_q__";
    for (int j = 0; j < svi_user_ncols(u); j++)
        names[2 + j] = svi_user_col_name(u, j);
    if (o->output && !(csv = open_draws_csv(o, s, "user", ncols, names))) {
        rc = 2;
        goto out;
    }
    Run run = {o, s, elbo_f, 0, now(), 0};
    SviResult res;
    svi_user_fit(u, s, on_step, &run, &cm_interrupted, &res);
    if (o->progress)
        fprintf(stderr, "\r%*s\r", 72, "");
    if (run.io_error) {
        fprintf(stderr, "cmrun: --elbo-out %s: writing the file failed\n", s->elbo_out);
        rc = 1;
        goto out;
    }
    if (elbo_f) {
        int bad = close_elbo_out(elbo_f, s->elbo_out, 1);
        elbo_f = NULL;
        if (bad) {
            rc = 1;
            goto out;
        }
    }
    if (res.status != SVI_OK) {
        fprintf(stderr, "cmrun: --infer svi: %s\n", res.message);
        rc = 1;
        goto out;
    }
    if (s->params_out &&
        write_user_params(s->params_out, u, o->model_name, res.steps, res.elbo) != 0) {
        rc = 1;
        goto out;
    }
    draws = draws_new(1, ncols, names);
    double t_draw = now(), d_elbo, d_se;
    rc = draws ? draw_user_guide(s, u, csv, draws, &d_elbo, &d_se) : 1;
    t_draw = now() - t_draw;
    if (rc != 0)
        goto out;
    if (csv) {
        rc = close_draws_csv(csv, res.seconds, t_draw);
        csv = NULL;
        if (rc != 0)
            goto out;
    }
    report_user_fit(s, g, u, &res, d_elbo, d_se, isfinite(d_elbo) ? draws->ndraws : 0);
    if (draws->ndraws > 0)
        rc = print_table(o, draws, "user");
    if (rc == 0 && (res.interrupted || cm_interrupted)) {
        fprintf(stderr, "cmrun: interrupted; the guide fitted so far was drawn from\n");
        rc = 130;
    }
out:
    if (elbo_f)
        close_elbo_out(elbo_f, s->elbo_out, 0);
    if (csv)
        csv_out_abort(csv);
    draws_free(draws);
    free(names);
    svi_user_free(u);
    return rc;
}
