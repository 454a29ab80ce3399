/*
 * data.c - the shared half of cm's data input: the DataSet container, the
 * number grammar, reading files, command-line values and error messages.
 *
 * The two readers (data_json.c, data_csv.c) are pure functions from text to
 * a fresh DataSet; they report a failure as a byte offset and a bare message
 * (DataError).  Everything that knows about where text came from lives here:
 * this file turns the offset into "file:line:col", appends the offending line
 * with a caret, and only when a whole source parsed cleanly merges it into
 * the caller's set.  So a failed load never leaves half a file behind, and
 * "later sources replace earlier ones" is one loop in one place.
 *
 * Numbers: the token is checked against a grammar first (strict JSON for
 * .json files; a lenient decimal form for CSV cells and command-line values,
 * which also takes +1, .5, 5. and leading zeros), and only then converted by
 * strtod.  The grammar decides the int/real type from the spelling, strtod
 * decides the value, so "1e3" is the real 1000 and "1000" the int 1000.  The
 * conversion runs in the "C" locale whatever the program's locale is, so a
 * German LC_NUMERIC cannot turn "0.5" into 0.
 *
 * Lookups are linear: data sets have tens of names, and the cost that
 * matters is in the values (a 5000 x 25 matrix), which are read in one pass
 * into geometrically grown buffers.
 */
#include "data.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- sets */

void data_init(DataSet *d)
{
    d->vars = NULL;
    d->n = d->cap = 0;
}

void data_var_free(DataVar *v)
{
    if (!v) return;
    free(v->name);
    free(v->x);
    free(v->origin);
    memset(v, 0, sizeof *v);
}

void data_free(DataSet *d)
{
    for (int i = 0; i < d->n; i++) data_var_free(&d->vars[i]);
    free(d->vars);
    data_init(d);
}

int data_index(const DataSet *d, const char *name)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->vars[i].name, name) == 0) return i;
    return -1;
}

const DataVar *data_find(const DataSet *d, const char *name)
{
    int i = data_index(d, name);
    return i < 0 ? NULL : &d->vars[i];
}

static int reserve_vars(DataSet *d, int extra)
{
    if (d->n + extra <= d->cap) return 0;
    int cap = d->cap ? d->cap : 8;
    while (cap < d->n + extra) cap *= 2;
    DataVar *v = realloc(d->vars, (size_t)cap * sizeof *v);
    if (!v) return -1;
    d->vars = v;
    d->cap = cap;
    return 0;
}

int data_push(DataSet *d, DataVar *v)
{
    if (reserve_vars(d, 1) < 0) return -1;
    v->all_finite = 1;
    for (size_t i = 0; i < v->n && v->all_finite; i++)
        v->all_finite = isfinite(v->x[i]);
    d->vars[d->n++] = *v;
    memset(v, 0, sizeof *v);
    return 0;
}

/* Move every var of src into d, replacing same-named ones: a later source wins. */
static int merge_source(DataSet *d, DataSet *src)
{
    if (reserve_vars(d, src->n) < 0) return -1; /* after this nothing can fail */
    for (int i = 0; i < src->n; i++) {
        int at = data_index(d, src->vars[i].name);
        if (at >= 0) {
            data_var_free(&d->vars[at]);
            d->vars[at] = src->vars[i];
        } else {
            d->vars[d->n++] = src->vars[i];
        }
    }
    free(src->vars);
    data_init(src);
    return 0;
}

void data_describe(const DataVar *v, char *buf, size_t len)
{
    if (!len) return;
    const char *t = v->type == DATA_INT ? "int" : "real";
    switch (v->rank) {
    case 0: snprintf(buf, len, "%s", t); break;
    case 1: snprintf(buf, len, "%s[%d]", t, v->dims[0]); break;
    case 2: snprintf(buf, len, "%s[%d, %d]", t, v->dims[0], v->dims[1]); break;
    default: snprintf(buf, len, "%s[%d, %d, %d]", t, v->dims[0], v->dims[1], v->dims[2]); break;
    }
}

/* -------------------------------------------------------------- numbers */

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* strtod in the "C" locale; the token [p, p+len) is already known to be a decimal number. */
static double decimal_to_double(const char *p, size_t len)
{
    pthread_once(&c_locale_once, make_c_locale);
    char small[64], *buf = small;
    if (len >= sizeof small && !(buf = malloc(len + 1))) return strtod(p, NULL);
    memcpy(buf, p, len); /* a copy stops strtod reading past the token (e.g. "0x1") */
    buf[len] = '\0';
    double v = c_locale ? strtod_l(buf, NULL, c_locale) : strtod(buf, NULL);
    if (buf != small) free(buf);
    return v;
}

/* Clinger's fast path: a decimal with at most 15 digits is an exact double
 * mantissa m, and 10^k is exact for k <= 22, so m * 10^k or m / 10^k is one
 * correctly rounded operation: the same double strtod gives, without
 * strtod's cost (most of the time of loading a large data file).  Returns
 * 0 when the number is outside the fast path. */
static int fast_decimal(const char *digits, size_t n_int, const char *frac, size_t n_frac,
                        long exp10, int negative, double *out)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (n_int + n_frac > 15)
        return 0;
    unsigned long long m = 0;
    for (size_t i = 0; i < n_int; i++)
        m = 10 * m + (unsigned)(digits[i] - '0');
    for (size_t i = 0; i < n_frac; i++)
        m = 10 * m + (unsigned)(frac[i] - '0');
    long e = exp10 - (long)n_frac;
    if (e < -22 || e > 22)
        return 0;
    double v = e >= 0 ? (double)m * pow10[e] : (double)m / pow10[-e];
    *out = negative ? -v : v;
    return 1;
}

static int number_error(DataError *e, size_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->what, sizeof e->what, fmt, ap);
    va_end(ap);
    e->off = off;
    return -1;
}

static const char *skip_digits(const char *q, const char *end)
{
    while (q < end && *q >= '0' && *q <= '9') q++;
    return q;
}

int data_scan_number(const char *p, const char *end, int strict, DataNumber *num, DataError *e)
{
    const char *q = p;
    int is_int = 1;
    if (q < end && (*q == '-' || (!strict && *q == '+'))) q++;
    const char *int_digits = q;
    q = skip_digits(q, end);
    size_t n_int = (size_t)(q - int_digits);
    if (strict && n_int == 0)
        return number_error(e, (size_t)(q - p), "expected a digit after '-'");
    if (strict && n_int > 1 && *int_digits == '0')
        return number_error(e, (size_t)(int_digits - p),
                            "leading zeros are not allowed in JSON numbers ('%.*s')",
                            (int)(skip_digits(int_digits, end) - p), p);
    size_t n_frac = 0;
    const char *frac = NULL;
    long exp10 = 0;
    int exp_ok = 1;
    if (q < end && *q == '.') {
        is_int = 0;
        frac = ++q;
        q = skip_digits(q, end);
        n_frac = (size_t)(q - frac);
        if (strict && n_frac == 0)
            return number_error(e, (size_t)(q - p), "expected a digit after the decimal point");
    }
    if (n_int + n_frac == 0) return number_error(e, 0, "expected a number");
    if (q < end && (*q == 'e' || *q == 'E')) {
        is_int = 0;
        q++;
        int exp_neg = q < end && *q == '-';
        if (q < end && (*q == '+' || *q == '-')) q++;
        const char *exp = q;
        q = skip_digits(q, end);
        if (q == exp)
            return number_error(e, (size_t)(q - p), "expected digits in the exponent of '%.*s'",
                                (int)(q - p), p);
        exp_ok = q - exp <= 4;
        for (const char *d = exp; exp_ok && d < q; d++)
            exp10 = 10 * exp10 + (*d - '0');
        if (exp_neg)
            exp10 = -exp10;
    }
    size_t len = (size_t)(q - p);
    double v;
    if (!exp_ok || !fast_decimal(int_digits, n_int, frac, n_frac, exp10, *p == '-', &v))
        v = decimal_to_double(p, len);
    if (isinf(v))
        return number_error(e, 0, "number '%.*s' is too large for a double", (int)len, p);
    if (is_int && fabs(v) > DATA_MAX_SAFE_INT) is_int = 0; /* not exactly an integer any more */
    if (v == 0) v = 0.0;                                   /* -0 is the int 0 */
    num->value = v;
    num->len = len;
    num->is_int = is_int;
    return 0;
}

int data_special_value(const char *s, size_t len, double *v)
{
    double sign = 1;
    const char *w = s;
    if (len > 0 && (*w == '+' || *w == '-')) {
        sign = *w == '-' ? -1 : 1;
        w++;
        len--;
    }
    if ((len == 3 && strncasecmp(w, "inf", 3) == 0) || (len == 8 && strncasecmp(w, "infinity", 8) == 0)) {
        *v = sign * HUGE_VAL;
        return 1;
    }
    if (len == 3 && w == s && strncasecmp(w, "nan", 3) == 0) {
        *v = NAN;
        return 1;
    }
    return 0;
}

/* ----------------------------------------------------- error locations */

void data_linecol(const char *text, size_t off, int *line, int *col)
{
    int ln = 1;
    const char *p = text, *stop = text + off, *nl;
    const char *line_start = text;
    while ((nl = memchr(p, '\n', (size_t)(stop - p)))) {
        ln++;
        p = line_start = nl + 1;
    }
    int c = 1;
    for (const char *q = line_start; q < stop; q++)
        if (((unsigned char)*q & 0xC0) != 0x80) c++; /* count UTF-8 characters, not bytes */
    *line = ln;
    *col = c;
}

/* Append "\n  <line around off>\n  <spaces>^" for the line holding off; nothing for
   an empty line (an error at the end of the file points past all text). */
static void append_excerpt(char *err, size_t errlen, const char *text, size_t len, size_t off)
{
    enum { WIDTH = 72, BEFORE = 40 };
    size_t used = strlen(err);
    if (used + 1 >= errlen) return;
    if (off > len) off = len;
    size_t start = off, end = off;
    while (start > 0 && text[start - 1] != '\n') start--;
    while (end < len && text[end] != '\n') end++;
    if (end > start && text[end - 1] == '\r') end--;
    if (end == start) return;
    int clipped_left = 0, clipped_right = 0;
    if (off - start > BEFORE) {
        start = off - BEFORE;
        while (start < off && ((unsigned char)text[start] & 0xC0) == 0x80) start++;
        clipped_left = 1;
    }
    if (end - start > WIDTH) {
        end = start + WIDTH;
        while (end > off && ((unsigned char)text[end] & 0xC0) == 0x80) end--;
        clipped_right = 1;
    }
    char shown[4 * WIDTH], caret[4 * WIDTH];
    size_t s = 0, c = 0;
    const char *dots = clipped_left ? "..." : "";
    for (const char *d = dots; *d; d++) shown[s++] = *d, caret[c++] = ' ';
    for (size_t i = start; i < end; i++) {
        unsigned char ch = (unsigned char)text[i];
        int cont = (ch & 0xC0) == 0x80;
        shown[s++] = ch == '\t' ? '\t' : (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
        if (i < off && !cont) caret[c++] = ch == '\t' ? '\t' : ' ';
    }
    if (clipped_right) shown[s++] = '.', shown[s++] = '.', shown[s++] = '.';
    shown[s] = '\0';
    caret[c] = '\0';
    snprintf(err + used, errlen - used, "\n  %s\n  %s^", shown, caret);
}

/* "<where>:<line>:<col>: error: <what>" plus the excerpt. */
static void format_located(char *err, size_t errlen, const char *where, const char *text, size_t len,
                           const DataError *e)
{
    int line, col;
    data_linecol(text, e->off, &line, &col);
    snprintf(err, errlen, "%s:%d:%d: error: %s", where, line, col, e->what);
    append_excerpt(err, errlen, text, len, e->off);
}

/* --------------------------------------------------------------- files */

static int has_extension(const char *path, const char *ext)
{
    size_t n = strlen(path), m = strlen(ext);
    return n > m && strcasecmp(path + n - m, ext) == 0;
}

/* The whole file, NUL-terminated, or NULL with err set. */
static char *read_whole_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: error: cannot open data file: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: error: is a directory, not a data file", path);
        fclose(f);
        return NULL;
    }
    size_t cap = (fstat(fileno(f), &st) == 0 && st.st_size > 0) ? (size_t)st.st_size + 1 : 65536;
    size_t n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break; /* short read: end of file or an error */
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    if (!buf) {
        snprintf(err, errlen, "%s: error: out of memory reading the file", path);
    } else if (ferror(f)) {
        snprintf(err, errlen, "%s: error: cannot read data file: %s", path, strerror(errno));
        free(buf);
        buf = NULL;
    } else {
        buf[n] = '\0';
        *len = n;
    }
    fclose(f);
    return buf;
}

static int looks_like_json(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char)text[i])) return text[i] == '{';
    return 0;
}

int data_load_file(DataSet *d, const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    if (!path || !*path) {
        snprintf(err, errlen, "error: no data file name given");
        return -1;
    }
    char *buf = read_whole_file(path, &len, err, errlen);
    if (!buf) return -1;
    const char *text = buf;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) text += 3, len -= 3; /* UTF-8 BOM */

    int json = has_extension(path, ".json") ? 1 : has_extension(path, ".csv") ? 0 : looks_like_json(text, len);
    DataSet src;
    data_init(&src);
    DataError e = {0, ""};
    int rc = json ? data_json_parse(text, len, path, &src, &e) : data_csv_parse(text, len, path, &src, &e);
    if (rc < 0) {
        format_located(err, errlen, path, text, len, &e);
    } else if (merge_source(d, &src) < 0) {
        snprintf(err, errlen, "%s: error: out of memory storing the data", path);
        rc = -1;
    }
    data_free(&src);
    free(buf);
    return rc;
}

/* ------------------------------------------------------ command line */

static int is_identifier(const char *s, size_t len)
{
    if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (size_t i = 1; i < len; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_')) return 0;
    return 1;
}

/* "<where>: error: <what>" plus an excerpt of the one-line text. */
static void format_inline(char *err, size_t errlen, const char *where, const char *text, const DataError *e)
{
    snprintf(err, errlen, "%s: error: %s", where, e->what);
    append_excerpt(err, errlen, text, strlen(text), e->off);
}

static char *dup_range(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

int data_parse_value(const char *text, const char *name, DataVar *out, char *err, size_t errlen)
{
    DataError e = {0, ""};
    memset(out, 0, sizeof *out);
    if (data_json_parse_value(text, strlen(text), name, 0, out, &e) == 0) return 0;
    char where[160];
    snprintf(where, sizeof where, "value for '%s'", name);
    format_inline(err, errlen, where, text, &e);
    return -1;
}

int data_set_from_arg(DataSet *d, const char *arg, const char *origin, char *err, size_t errlen)
{
    const char *flag = origin && *origin ? origin : "argument";
    char where[512];
    if (!arg) arg = "";
    snprintf(where, sizeof where, "%s %s", flag, arg);
    const char *eq = strchr(arg, '=');
    if (!eq) {
        snprintf(err, errlen, "%s: error: expected name=value (such as %s x=1.5), but there is no '='",
                 where, flag);
        return -1;
    }
    const char *n0 = arg, *n1 = eq;
    while (n0 < n1 && isspace((unsigned char)*n0)) n0++;
    while (n1 > n0 && isspace((unsigned char)n1[-1])) n1--;
    if (n0 == n1) {
        snprintf(err, errlen, "%s: error: expected a variable name before '=' (such as %s x=1.5)", where, flag);
        return -1;
    }
    if (!is_identifier(n0, (size_t)(n1 - n0))) {
        snprintf(err, errlen,
                 "%s: error: '%.*s' is not a variable name; expected name=value with a name made of "
                 "letters, digits and '_' (such as %s sigma_y=2)",
                 where, (int)(n1 - n0), n0, flag);
        return -1;
    }
    const char *value = eq + 1;
    const char *v = value;
    while (isspace((unsigned char)*v)) v++;
    if (!*v) {
        snprintf(err, errlen,
                 "%s: error: expected a value after '%.*s=': a number, true/false or a JSON array "
                 "such as [1, 2] or [[1, 2], [3, 4]]",
                 where, (int)(n1 - n0), n0);
        return -1;
    }
    DataVar var;
    memset(&var, 0, sizeof var);
    char *name = dup_range(n0, (size_t)(n1 - n0));
    DataError e = {0, ""};
    if (!name) {
        snprintf(err, errlen, "%s: error: out of memory", where);
        return -1;
    }
    if (data_json_parse_value(value, strlen(value), name, 0, &var, &e) < 0) {
        e.off += (size_t)(value - arg);
        format_inline(err, errlen, where, arg, &e);
        free(name);
        return -1;
    }
    free(name);
    DataSet one;
    data_init(&one);
    if (!(var.origin = strdup(flag)) || data_push(&one, &var) < 0 || merge_source(d, &one) < 0) {
        snprintf(err, errlen, "%s: error: out of memory", where);
        data_var_free(&var);
        data_free(&one);
        return -1;
    }
    data_free(&one);
    return 0;
}
