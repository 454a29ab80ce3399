/*
 * data_csv.c - the CSV data reader: one vector per column.
 *
 * The first row names the columns; every later row holds one number per
 * column; each column becomes a vector with one element per data row, INT
 * when every cell in it is written as an integer, REAL otherwise.  This is
 * the shape of a data frame written by R's write.csv(row.names = FALSE) or
 * pandas' to_csv(index=False), which is how most tabular data reaches a model.
 *
 * Deliberately small: ',' is the only separator; a field may be wrapped in
 * double quotes (a doubled "" inside stands for one quote) but may not span
 * lines; spaces around a cell are ignored; CRLF and LF line ends both work
 * and the last newline is optional; blank lines at the end and lines that
 * start with '#' (comments, as in CmdStan's output CSV) are skipped.  There
 * is no missing-value marker - an empty cell or "NA" is an error naming the
 * line and the column, because silently inventing data is worse than
 * stopping.  Names are not added for sizes (no automatic N): a model asks
 * size(y).
 *
 * Cells are stored row by row into one geometrically grown buffer and
 * transposed into columns at the end, so reading is one pass with few
 * allocations whatever the shape.
 */
#include "data.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *text, *p, *end;
    int line; /* of r->p, counted as lines are consumed (never by rescanning: that would be quadratic) */
    DataError *e;
} CsvReader;

/* A field's text, with quotes removed (unquoted fields point into the file). */
typedef struct {
    const char *s;    /* start of the content */
    size_t len;
    const char *at;   /* where the field starts, for messages */
    char *owned;      /* non-NULL when quotes had to be unescaped */
} Field;

static int fail_at(CsvReader *r, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->e->what, sizeof r->e->what, fmt, ap);
    va_end(ap);
    r->e->off = (size_t)(at - r->text);
    return -1;
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static int at_line_end(const CsvReader *r, const char *q)
{
    return q >= r->end || *q == '\n' || (*q == '\r' && (q + 1 >= r->end || q[1] == '\n'));
}

static void skip_line_end(CsvReader *r)
{
    if (r->p < r->end && *r->p == '\r') r->p++;
    if (r->p < r->end && *r->p == '\n') r->p++, r->line++;
}

/* Whether the rest of the line at q is empty (only spaces) or a '#' comment. */
static int line_is_skippable(const CsvReader *r, const char *q)
{
    while (q < r->end && is_blank(*q)) q++;
    return at_line_end(r, q) || *q == '#';
}

static void skip_line(CsvReader *r)
{
    while (!at_line_end(r, r->p)) r->p++;
    skip_line_end(r);
}

static int only_blank_lines_remain(const CsvReader *r)
{
    for (const char *q = r->p; q < r->end; q++)
        if (!is_blank(*q) && *q != '\n' && *q != '\r') return 0;
    return 1;
}

static void field_free(Field *f)
{
    free(f->owned);
    f->owned = NULL;
}

/* One field at r->p; leaves r->p on the ',' or line end after it. */
static int read_field(CsvReader *r, Field *f)
{
    memset(f, 0, sizeof *f);
    while (r->p < r->end && is_blank(*r->p)) r->p++;
    f->at = r->p;
    if (r->p < r->end && *r->p == '"') {
        const char *q = r->p + 1;
        size_t quotes = 0;
        for (;; q++) {
            if (at_line_end(r, q))
                return fail_at(r, f->at, "unterminated quoted field: no closing '\"' on this line");
            if (*q == '"') {
                if (q + 1 < r->end && q[1] == '"') quotes++, q++;
                else break;
            }
        }
        const char *content = r->p + 1;
        size_t raw = (size_t)(q - content);
        if (quotes) {
            if (!(f->owned = malloc(raw + 1))) return fail_at(r, f->at, "out of memory");
            size_t n = 0;
            for (const char *c = content; c < q; c++) {
                f->owned[n++] = *c;
                if (*c == '"') c++; /* "" stands for one quote */
            }
            f->owned[n] = '\0';
            f->s = f->owned;
            f->len = n;
        } else {
            f->s = content;
            f->len = raw;
        }
        r->p = q + 1;
        while (r->p < r->end && is_blank(*r->p)) r->p++;
        if (!at_line_end(r, r->p) && *r->p != ',') {
            field_free(f);
            return fail_at(r, r->p, "unexpected '%c' after a quoted field; expected ',' or the end of the line",
                           *r->p);
        }
        return 0;
    }
    const char *q = r->p;
    while (!at_line_end(r, q) && *q != ',') q++;
    const char *stop = q;
    while (stop > r->p && is_blank(stop[-1])) stop--;
    f->s = r->p;
    f->len = (size_t)(stop - r->p);
    r->p = q;
    return 0;
}

typedef struct {
    char **names;
    const char **name_at;
    int n, cap;
} Header;

static void header_free(Header *h)
{
    for (int i = 0; i < h->n; i++) free(h->names[i]);
    free(h->names);
    free(h->name_at);
}

static int header_add(CsvReader *r, Header *h, const Field *f)
{
    if (f->len == 0)
        return fail_at(r, f->at, "column %d has an empty name%s", h->n + 1,
                       h->n == 0 ? " (R's write.csv adds an unnamed row-name column: use row.names = FALSE)" : "");
    if (memchr(f->s, '\0', f->len)) return fail_at(r, f->at, "column %d's name contains a NUL byte", h->n + 1);
    for (int i = 0; i < h->n; i++)
        if (strlen(h->names[i]) == f->len && memcmp(h->names[i], f->s, f->len) == 0)
            return fail_at(r, f->at, "column name '%s' appears twice (columns %d and %d)", h->names[i], i + 1,
                           h->n + 1);
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 16;
        char **names = realloc(h->names, (size_t)cap * sizeof *names);
        if (names) h->names = names;
        const char **at = realloc(h->name_at, (size_t)cap * sizeof *at);
        if (at) h->name_at = at;
        if (!names || !at) return fail_at(r, f->at, "out of memory");
        h->cap = cap;
    }
    char *name = malloc(f->len + 1);
    if (!name) return fail_at(r, f->at, "out of memory");
    memcpy(name, f->s, f->len);
    name[f->len] = '\0';
    h->names[h->n] = name;
    h->name_at[h->n++] = f->at;
    return 0;
}

static int read_header(CsvReader *r, Header *h)
{
    for (;;) {
        Field f;
        if (read_field(r, &f) < 0) return -1;
        int rc = header_add(r, h, &f);
        field_free(&f);
        if (rc < 0) return -1;
        if (at_line_end(r, r->p)) break;
        r->p++; /* the ',' */
    }
    skip_line_end(r);
    return 0;
}

/* A cell's number (or non-finite spelling) into *v; *is_int as for JSON. */
static int parse_cell(CsvReader *r, const Field *f, const char *column, int line, double *v, int *is_int)
{
    if (f->len == 0)
        return fail_at(r, f->at, "line %d, column '%s': empty cell (cm data has no missing values; remove "
                                 "the row or fill it in)", line, column);
    if (data_special_value(f->s, f->len, v)) {
        *is_int = 0;
        return 0;
    }
    DataNumber num;
    DataError ne;
    if (data_scan_number(f->s, f->s + f->len, 0, &num, &ne) == 0 && num.len == f->len) {
        *v = num.value;
        *is_int = num.is_int;
        return 0;
    }
    const char *hint = "";
    if (memchr(f->s, ';', f->len) || memchr(f->s, '\t', f->len))
        hint = " (cells are separated by ',' only)";
    else if (f->len == 2 && memcmp(f->s, "NA", 2) == 0)
        hint = " (cm data has no missing values)";
    return fail_at(r, f->at, "line %d, column '%s': '%.*s%s' is not a number%s", line, column,
                   (int)(f->len > 40 ? 40 : f->len), f->s, f->len > 40 ? "..." : "", hint);
}

typedef struct {
    double *x;
    size_t n, cap;
} Cells;

static int cells_push(Cells *c, double v)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        double *x = realloc(c->x, cap * sizeof *x);
        if (!x) return -1;
        c->x = x;
        c->cap = cap;
    }
    c->x[c->n++] = v;
    return 0;
}

/* One data row at r->p into cells; all_int per column is updated. */
static int read_row(CsvReader *r, const Header *h, Cells *cells, int *all_int)
{
    const char *row = r->p;
    int line = r->line;
    for (int col = 0;; col++) {
        if (col == h->n)
            return fail_at(r, r->p, "line %d has more than %d cells; the header names %d column%s", line, h->n,
                           h->n, h->n == 1 ? "" : "s");
        Field f;
        if (read_field(r, &f) < 0) return -1;
        double v = 0;
        int is_int = 0;
        int rc = parse_cell(r, &f, h->names[col], line, &v, &is_int);
        field_free(&f);
        if (rc < 0) return -1;
        if (cells_push(cells, v) < 0) return fail_at(r, row, "out of memory");
        all_int[col] &= is_int;
        if (at_line_end(r, r->p)) {
            if (col + 1 < h->n)
                return fail_at(r, r->p, "line %d has %d cell%s but the header names %d columns (no value for "
                                        "column '%s')", line, col + 1, col ? "s" : "", h->n, h->names[col + 1]);
            break;
        }
        r->p++; /* the ',' */
    }
    skip_line_end(r);
    return 0;
}

/* Cut the row-major cells into one vector per column. */
static int build_columns(CsvReader *r, const Header *h, const Cells *cells, int rows, const int *all_int,
                         const char *origin, DataSet *out)
{
    for (int c = 0; c < h->n; c++) {
        DataVar v;
        memset(&v, 0, sizeof v);
        v.name = strdup(h->names[c]);
        v.origin = strdup(origin ? origin : "");
        v.x = malloc((rows ? (size_t)rows : 1) * sizeof *v.x);
        if (!v.name || !v.origin || !v.x || data_push(out, &v) < 0) {
            data_var_free(&v);
            return fail_at(r, h->name_at[c], "out of memory");
        }
        DataVar *col = &out->vars[out->n - 1];
        col->type = all_int[c] ? DATA_INT : DATA_REAL;
        col->rank = 1;
        col->dims[0] = rows;
        col->n = (size_t)rows;
        for (int i = 0; i < rows; i++) col->x[i] = cells->x[(size_t)i * (size_t)h->n + (size_t)c];
    }
    return 0;
}

int data_csv_parse(const char *text, size_t len, const char *origin, DataSet *out, DataError *e)
{
    CsvReader r = {text, text, text + len, 1, e};
    Header h = {NULL, NULL, 0, 0};
    Cells cells = {NULL, 0, 0};
    int *all_int = NULL;
    int rows = 0, rc = -1;

    while (r.p < r.end && line_is_skippable(&r, r.p)) skip_line(&r);
    if (r.p >= r.end) {
        fail_at(&r, r.p, "empty file: expected a header row of column names, such as y,x1,x2");
        goto done;
    }
    if (read_header(&r, &h) < 0) goto done;
    if (!(all_int = malloc((size_t)h.n * sizeof *all_int))) {
        fail_at(&r, r.p, "out of memory");
        goto done;
    }
    for (int c = 0; c < h.n; c++) all_int[c] = 1;
    while (r.p < r.end) {
        if (only_blank_lines_remain(&r)) break;
        if (line_is_skippable(&r, r.p)) {
            const char *q = r.p;
            while (q < r.end && is_blank(*q)) q++;
            if (q < r.end && *q == '#') {
                skip_line(&r);
                continue;
            }
            fail_at(&r, r.p, "line %d is empty but more data follows; expected %d cell%s", r.line,
                    h.n, h.n == 1 ? "" : "s");
            goto done;
        }
        if (rows == INT_MAX) {
            fail_at(&r, r.p, "too many rows");
            goto done;
        }
        if (read_row(&r, &h, &cells, all_int) < 0) goto done;
        rows++;
    }
    rc = build_columns(&r, &h, &cells, rows, all_int, origin, out);
done:
    header_free(&h);
    free(cells.x);
    free(all_int);
    return rc;
}
