/*
 * csv_in.c - the CmdStan CSV reader behind `cmrun --summary`.
 *
 * A small line-oriented parser, not a general CSV library: Stan CSV has no
 * quoting, no embedded commas and only numbers below the header, so each
 * line is split on commas and each cell goes through strtod, which also
 * takes CmdStan's nan/NaN/inf/-inf.  Being strict costs nothing here and
 * lets every error name the file, the line and the column.
 *
 * Each file is read whole into a local buffer before its rows are handed
 * to the Draws, because whether its first rows are warm-up is only known
 * later (the "# Adaptation terminated" line follows them).  A file that
 * ends in the middle of a row (CmdStan killed while writing) loses that
 * row only; chains of different lengths are cut to the shortest by
 * draws_finish(), and both facts are reported in CsvInInfo so the caller
 * can say so.
 */
#include "csv_in.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Settings read from one file's comment header. */
typedef struct {
    char method[32], model[128];
    int max_depth, save_warmup, num_warmup, thin;
} FileSettings;

/* The rows of one file, before they go to the Draws. */
typedef struct {
    double *x;
    long rows, cap;
    int ncols;
} RowBuf;

static int rowbuf_push(RowBuf *b, const double *row)
{
    if (b->rows == b->cap) {
        long cap = b->cap ? 2 * b->cap : 256;
        double *p = realloc(b->x, (size_t)cap * b->ncols * sizeof *p);
        if (!p)
            return -1;
        b->x = p;
        b->cap = cap;
    }
    memcpy(b->x + (size_t)b->rows * b->ncols, row, (size_t)b->ncols * sizeof *row);
    b->rows++;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static void copy_text(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src);
}

/* "#   key = value (Default)" -> the settings the summary uses. */
static void parse_setting(char *line, FileSettings *fs)
{
    char *s = trim(line + 1);
    size_t n = strlen(s);
    const char *dflt = "(Default)";
    if (n >= strlen(dflt) && strcmp(s + n - strlen(dflt), dflt) == 0)
        s[n - strlen(dflt)] = '\0';
    char *eq = strchr(s, '=');
    if (!eq)
        return;
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    if (strcmp(key, "method") == 0 && !fs->method[0])
        copy_text(fs->method, sizeof fs->method, value);
    else if (strcmp(key, "model") == 0 && !fs->model[0])
        copy_text(fs->model, sizeof fs->model, value);
    else if (strcmp(key, "max_depth") == 0)
        fs->max_depth = atoi(value);
    else if (strcmp(key, "save_warmup") == 0)
        fs->save_warmup = strcmp(value, "true") == 0 || atoi(value) != 0;
    else if (strcmp(key, "num_warmup") == 0)
        fs->num_warmup = atoi(value);
    else if (strcmp(key, "thin") == 0)
        fs->thin = atoi(value);
}

/* Split the header row into names (trimmed, quotes removed). */
static char **split_names(char *line, int *ncols)
{
    int n = 1;
    for (char *p = line; *p; p++)
        n += *p == ',';
    char **names = calloc((size_t)n, sizeof *names);
    if (!names)
        return NULL;
    char *cell = line;
    for (int j = 0; j < n; j++) {
        char *comma = strchr(cell, ',');
        if (comma)
            *comma = '\0';
        char *name = trim(cell);
        size_t len = strlen(name);
        if (len >= 2 && name[0] == '"' && name[len - 1] == '"') {
            name[len - 1] = '\0';
            name++;
        }
        names[j] = name;                    /* points into line */
        cell = comma ? comma + 1 : cell + strlen(cell);
    }
    *ncols = n;
    return names;
}

/* Parse one data row; returns the number of cells found (cells beyond
 * ncols are counted, not stored), or -(j+1) when cell j is not a number. */
static int parse_row(char *line, double *row, int ncols, char **bad)
{
    int j = 0;
    char *p = line;
    for (;;) {
        char *end;
        double v = strtod(p, &end);        /* also nan, inf, -inf */
        char *after = end;
        while (*after == ' ' || *after == '\t')
            after++;
        if (end == p || (*after != ',' && *after != '\0')) {
            *bad = p;
            return -(j + 1);
        }
        if (j < ncols)
            row[j] = v;
        j++;
        if (*after == '\0')
            return j;
        p = after + 1;
    }
}

static int names_match(char **a, int na, char **b, int nb, int *where)
{
    if (na != nb) {
        *where = -1;
        return 0;
    }
    for (int j = 0; j < na; j++)
        if (strcmp(a[j], b[j]) != 0) {
            *where = j;
            return 0;
        }
    return 1;
}

/* State shared across the files of one read. */
typedef struct {
    const char *const *paths;
    int npaths;
    Draws *draws;       /* created from the first file's header */
    CsvInInfo *info;
    char *err;
    size_t errlen;
} Reader;

/* Rows to drop at the start: warm-up saved before the adaptation block,
 * or the mean row that opens a variational file. */
static long leading_rows_to_skip(const FileSettings *fs, long rows_before_adapt,
                                 int saw_adapt)
{
    if (strcmp(fs->method, "variational") == 0)
        return 1;
    if (saw_adapt)
        return rows_before_adapt;
    if (fs->save_warmup && fs->num_warmup > 0) {
        int thin = fs->thin > 0 ? fs->thin : 1;
        return (fs->num_warmup + thin - 1) / thin;
    }
    return 0;
}

/* The first file's header creates the Draws; later ones must match it. */
static int accept_header(Reader *r, int chain, char **names, int ncols)
{
    const char *path = r->paths[chain];
    if (chain == 0) {
        r->draws = draws_new(r->npaths, ncols, (const char *const *)names);
        if (!r->draws) {
            snprintf(r->err, r->errlen, "%s: out of memory", path);
            return -1;
        }
        return 0;
    }
    int where;
    if (names_match(r->draws->names, r->draws->ncols, names, ncols, &where))
        return 0;
    if (where < 0)
        snprintf(r->err, r->errlen,
                 "%s: has %d columns but %s has %d; all chains must have the same columns",
                 path, ncols, r->paths[0], r->draws->ncols);
    else
        snprintf(r->err, r->errlen,
                 "%s: column %d is '%s' but in %s it is '%s'; all chains must have the same columns",
                 path, where + 1, names[where], r->paths[0], r->draws->names[where]);
    return -1;
}

static int read_file(Reader *r, int chain)
{
    const char *path = r->paths[chain];
    FILE *fp = fopen(path, "r");
    if (!fp) {
        snprintf(r->err, r->errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    FileSettings fs = { .thin = 1 };
    RowBuf buf = { 0 };
    char *line = NULL, *header_line = NULL, **names = NULL;
    double *row = NULL;
    size_t cap = 0;
    ssize_t got;
    long lineno = 0, rows_before_adapt = 0;
    int ncols = 0, saw_adapt = 0, rc = -1;

    while ((got = getline(&line, &cap, fp)) > 0) {
        lineno++;
        int terminated = line[got - 1] == '\n';
        line[strcspn(line, "\r\n")] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0')
            continue;
        if (*s == '#') {
            if (!names)
                parse_setting(s, &fs);
            else if (!saw_adapt && strstr(s, "Adaptation terminated")) {
                saw_adapt = 1;
                rows_before_adapt = buf.rows;
            }
            continue;
        }
        if (!names) {                       /* the header row */
            if (!(header_line = strdup(s)) || !(names = split_names(header_line, &ncols)) ||
                !(row = malloc((size_t)ncols * sizeof *row))) {
                snprintf(r->err, r->errlen, "%s: out of memory", path);
                goto done;
            }
            if (accept_header(r, chain, names, ncols) < 0)
                goto done;
            buf.ncols = ncols;
            continue;
        }
        char *bad = NULL;
        int n = parse_row(s, row, ncols, &bad);
        if (n != ncols) {
            if (!terminated) {              /* the file ends inside this row */
                r->info->partial_lines++;
                break;
            }
            if (n < 0) {
                int j = -n - 1;
                int len = (int)strcspn(bad, ",");
                snprintf(r->err, r->errlen, "%s:%ld: column %d (%s): '%.*s' is not a number",
                         path, lineno, j + 1, j < ncols ? names[j] : "past the last column",
                         len > 40 ? 40 : len, bad);
            } else {
                snprintf(r->err, r->errlen,
                         "%s:%ld: expected %d values (one per column), found %d",
                         path, lineno, ncols, n);
            }
            goto done;
        }
        if (rowbuf_push(&buf, row) < 0) {
            snprintf(r->err, r->errlen, "%s: out of memory", path);
            goto done;
        }
    }
    if (ferror(fp)) {
        snprintf(r->err, r->errlen, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (!names) {
        snprintf(r->err, r->errlen,
                 "%s: no header row of column names (is it a CmdStan CSV file?)", path);
        goto done;
    }
    if (chain == 0) {
        copy_text(r->info->method, sizeof r->info->method, fs.method);
        copy_text(r->info->model, sizeof r->info->model, fs.model);
        r->info->max_depth = fs.max_depth;
    }
    long skip = leading_rows_to_skip(&fs, rows_before_adapt, saw_adapt);
    if (skip > buf.rows)
        skip = buf.rows;
    r->info->skipped_rows += skip;
    for (long i = skip; i < buf.rows; i++)
        if (draws_append(r->draws, chain, buf.x + (size_t)i * ncols) < 0) {
            snprintf(r->err, r->errlen, "%s: out of memory", path);
            goto done;
        }
    rc = 0;
done:
    fclose(fp);
    free(line);
    free(names);
    free(header_line);
    free(row);
    free(buf.x);
    return rc;
}

int csv_in_read(const char *const *paths, int npaths, Draws **out,
                CsvInInfo *info, char *err, size_t errlen)
{
    char dummy_err[1];
    CsvInInfo dummy_info;
    if (!err || errlen == 0) {
        err = dummy_err;
        errlen = sizeof dummy_err;
    }
    err[0] = '\0';
    if (!info)
        info = &dummy_info;
    memset(info, 0, sizeof *info);
    *out = NULL;
    if (!paths || npaths <= 0) {
        snprintf(err, errlen, "no CSV files to read");
        return -1;
    }
    Reader r = { paths, npaths, NULL, info, err, errlen };
    for (int c = 0; c < npaths; c++)
        if (read_file(&r, c) < 0) {
            draws_free(r.draws);
            return -1;
        }
    int shortest = 0;
    for (int c = 1; c < npaths; c++)
        if (draws_chain_length(r.draws, c) < draws_chain_length(r.draws, shortest))
            shortest = c;
    long dropped = draws_finish(r.draws);
    if (dropped < 0) {
        snprintf(err, errlen, "out of memory reading %s", paths[0]);
        draws_free(r.draws);
        return -1;
    }
    if (r.draws->ndraws == 0) {
        snprintf(err, errlen, "%s: no draws after the header%s", paths[shortest],
                 info->skipped_rows ? " (only warm-up)" : "");
        draws_free(r.draws);
        return -1;
    }
    info->dropped_rows = dropped;
    *out = r.draws;
    return 0;
}
