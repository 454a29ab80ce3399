/*
 * data_json.c - the CmdStan JSON data reader.
 *
 * CmdStan's data format is one JSON object whose members are variables:
 * numbers, true/false (the ints 1/0), arrays of numbers (vectors) and arrays
 * of arrays (matrices and rank-3 arrays, row-major).  The strings "NaN",
 * "Inf", "-Inf", "+Inf", "Infinity" (any case) stand for the non-finite
 * values JSON cannot spell.  Anything else - nested objects, null, other
 * strings - is an error naming the variable.
 *
 * This is a hand-written recursive-descent reader rather than a general JSON
 * library because the target is narrow and the errors are the product: each
 * failure points at a byte (turned into line:col by data.c) and says what was
 * expected there, in the variable's terms ("row 3 has 2 elements but row 1
 * has 3").  It never builds a JSON tree: values stream straight into one
 * geometrically grown double buffer in reading order, which for a
 * rectangular nested array is exactly row-major order.  Rectangularity is
 * checked as each inner array closes (the first array closed at a depth fixes
 * that dimension), and each depth remembers whether it holds numbers or
 * arrays, so [1, [2]] and [[1], 2] fail at the element that breaks the
 * pattern.  A 2 MB file of 125 000 numbers is one linear pass; strtod is the
 * only per-number cost.
 *
 * The same reader parses command-line values (data_json_parse_value) with a
 * lenient number grammar and bare NaN/Inf words, so --set and a .json file
 * agree on what a value is.
 */
#include "data.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LEVEL_UNSEEN, LEVEL_ARRAYS, LEVEL_SCALARS };

typedef struct {
    const char *text, *p, *end;
    int strict;           /* JSON file (1) or command-line value (0) */
    DataError *e;
    const char *name;     /* variable being read, for messages; NULL between variables */
    /* the value being read */
    double *x;
    size_t n, cap;
    int all_int;
    int level[DATA_MAX_RANK];     /* what the arrays at each depth hold */
    int dims[DATA_MAX_RANK];
    int dim_known[DATA_MAX_RANK];
    int index[DATA_MAX_RANK];     /* element being read at each depth, for messages */
} JsonReader;

static int fail_at(JsonReader *r, const char *at, const char *fmt, ...)
{
    char *what = r->e->what;
    size_t cap = sizeof r->e->what, used = 0;
    what[0] = '\0';
    if (r->name) {
        snprintf(what, cap, "variable '%.100s': ", r->name);
        used = strlen(what);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what + used, cap - used, fmt, ap);
    va_end(ap);
    r->e->off = (size_t)(at - r->text);
    return -1;
}

static int at_end(const JsonReader *r) { return r->p >= r->end; }

static void skip_space(JsonReader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) r->p++;
}

static int is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '+' || c == '-';
}

/* What is at q, for "found ..." in messages. */
static const char *describe_at(const JsonReader *r, const char *q, char *buf, size_t len)
{
    if (q >= r->end) return r->strict ? "end of file" : "end of the value";
    unsigned char c = (unsigned char)*q;
    if (is_word_char((char)c)) {
        const char *w = q;
        while (w < r->end && is_word_char(*w) && w - q < 24) w++;
        snprintf(buf, len, "'%.*s%s'", (int)(w - q), q, w < r->end && is_word_char(*w) ? "..." : "");
    } else if (c == '\n' || c == '\r') {
        snprintf(buf, len, "end of line");
    } else if (c >= 0x20 && c < 0x7F) {
        snprintf(buf, len, "'%c'", c);
    } else {
        snprintf(buf, len, "byte 0x%02X", c);
    }
    return buf;
}

/* "line 3, column 8" for q. */
static const char *describe_position(const JsonReader *r, const char *q, char *buf, size_t len)
{
    int line, col;
    data_linecol(r->text, (size_t)(q - r->text), &line, &col);
    snprintf(buf, len, "line %d, column %d", line, col);
    return buf;
}

/* " (opened at line 2, column 8)" in a file; nothing for a one-line command-line value. */
static const char *opened_at(const JsonReader *r, const char *open, char *buf, size_t len)
{
    char pos[48];
    if (!r->strict) return "";
    snprintf(buf, len, " (opened at %s)", describe_position(r, open, pos, sizeof pos));
    return buf;
}

static int delimiter_follows(const JsonReader *r, const char *q)
{
    return q >= r->end || *q == ',' || *q == ']' || *q == '}' || *q == ' ' || *q == '\t' || *q == '\n' ||
           *q == '\r';
}

static int push_value(JsonReader *r, double v, int is_int)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        double *x = realloc(r->x, cap * sizeof *x);
        if (!x) return fail_at(r, r->p, "out of memory after %zu values", r->n);
        r->x = x;
        r->cap = cap;
    }
    r->x[r->n++] = v;
    r->all_int &= is_int;
    return 0;
}

/* ------------------------------------------------------------- strings */

static int hex4(const char *q, const char *end, unsigned *cp)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        if (q + i >= end) return -1;
        char c = q[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *cp = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A "\uXXXX" escape at q (pointing at the 'u'), joining a surrogate pair; returns bytes used after '\\'. */
static int read_unicode_escape(JsonReader *r, const char *q, unsigned *cp, size_t *used)
{
    if (hex4(q + 1, r->end, cp) < 0) return fail_at(r, q - 1, "invalid \\u escape: expected 4 hex digits");
    *used = 5;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF) return fail_at(r, q - 1, "invalid \\u escape: lone low surrogate");
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        unsigned lo;
        if (q + 6 >= r->end || q[5] != '\\' || q[6] != 'u' || hex4(q + 7, r->end, &lo) < 0 || lo < 0xDC00 ||
            lo > 0xDFFF)
            return fail_at(r, q - 1, "invalid \\u escape: high surrogate without its low half");
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
        *used = 11;
    }
    return 0;
}

/* A JSON string at r->p (on the opening quote) into a fresh NUL-terminated buffer. */
static int read_string(JsonReader *r, char **out, size_t *out_len)
{
    const char *open = r->p, *q = r->p + 1;
    size_t n = 0, cap = 64; /* names are short; grown below as needed */
    char *buf = malloc(cap);
    char pos[64];
    if (!buf) return fail_at(r, open, "out of memory");
    for (;;) {
        if (q >= r->end) {
            free(buf);
            return fail_at(r, q, "unterminated string%s: expected a closing '\"'",
                           opened_at(r, open, pos, sizeof pos));
        }
        unsigned char c = (unsigned char)*q;
        if (c == '"') break;
        if (c < 0x20) {
            free(buf);
            return fail_at(r, q, c == '\n' ? "unterminated string%s: a string cannot span lines"
                                           : "control character in string%s; escape it",
                           opened_at(r, open, pos, sizeof pos));
        }
        if (n + 4 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return fail_at(r, q, "out of memory");
            }
            buf = bigger;
            cap *= 2;
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            q++;
            continue;
        }
        if (q + 1 >= r->end) {
            q = r->end; /* a final lone backslash: reported as unterminated on the next turn */
            continue;
        }
        char esc = q[1];
        const char *simple = strchr("\"\\/bfnrt", esc);
        if (esc && simple) {
            buf[n++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            q += 2;
        } else if (esc == 'u') {
            unsigned cp;
            size_t used;
            if (read_unicode_escape(r, q + 1, &cp, &used) < 0) {
                free(buf);
                return -1;
            }
            n += put_utf8(buf + n, cp);
            q += 1 + used;
        } else {
            free(buf);
            return fail_at(r, q, "invalid escape '\\%c' in string", esc >= 0x20 && esc < 0x7F ? esc : '?');
        }
    }
    buf[n] = '\0';
    r->p = q + 1;
    *out = buf;
    *out_len = n;
    return 0;
}

/* -------------------------------------------------------------- values */

static const char *const allowed_strings = "\"NaN\", \"Inf\", \"-Inf\", \"+Inf\" or \"Infinity\"";

/* One number, true/false, or non-finite spelling: an element of an array or a scalar. */
static int read_scalar(JsonReader *r)
{
    const char *at = r->p;
    char found[64];
    if (at_end(r))
        return fail_at(r, at, "expected a number, true/false or an array, found %s",
                       describe_at(r, at, found, sizeof found));
    char c = *at;
    if (c == '-' || (c >= '0' && c <= '9') || (!r->strict && (c == '+' || c == '.'))) {
        DataNumber num;
        DataError ne;
        if (data_scan_number(at, r->end, r->strict, &num, &ne) < 0) {
            const char *w = at + 1; /* maybe -inf or +Infinity */
            while (w < r->end && is_word_char(*w)) w++;
            double v;
            if (c != '.' && data_special_value(at, (size_t)(w - at), &v)) {
                if (r->strict)
                    return fail_at(r, at, "bare %.*s is not JSON; write it as a string, \"%.*s\"", (int)(w - at),
                                   at, (int)(w - at), at);
                r->p = w;
                return push_value(r, v, 0);
            }
            return fail_at(r, at + ne.off, "%s", ne.what);
        }
        const char *after = at + num.len;
        if (!delimiter_follows(r, after)) {
            const char *w = after;
            while (w < r->end && !delimiter_follows(r, w) && w - at < 40) w++;
            return fail_at(r, after, "malformed number '%.*s': unexpected %s after '%.*s'", (int)(w - at), at,
                           describe_at(r, after, found, sizeof found), (int)num.len, at);
        }
        r->p = after;
        return push_value(r, num.value, num.is_int);
    }
    if (c == '"') {
        char *s;
        size_t len;
        if (read_string(r, &s, &len) < 0) return -1;
        double v;
        int ok = data_special_value(s, len, &v);
        if (!ok) {
            fail_at(r, at, "the string \"%.40s%s\" is not a number (the only strings allowed are %s)", s,
                    len > 40 ? "..." : "", allowed_strings);
            free(s);
            return -1;
        }
        free(s);
        return push_value(r, v, 0);
    }
    const char *w = at;
    while (w < r->end && is_word_char(*w)) w++;
    size_t wl = (size_t)(w - at);
    if ((wl == 4 && memcmp(at, "true", 4) == 0) || (wl == 5 && memcmp(at, "false", 5) == 0)) {
        r->p = w;
        return push_value(r, wl == 4 ? 1 : 0, 1);
    }
    double v;
    if (!r->strict && data_special_value(at, wl, &v)) {
        r->p = w;
        return push_value(r, v, 0);
    }
    if (wl == 4 && memcmp(at, "null", 4) == 0)
        return fail_at(r, at, "null is not a value (cm data has no missing values; give a number)");
    if (c == '{')
        return fail_at(r, at, "nested objects are not supported (a value is a number, true/false or an "
                              "array of numbers)");
    if (r->strict && wl && data_special_value(at, wl, &v))
        return fail_at(r, at, "bare %.*s is not JSON; write it as a string, \"%.*s\"", (int)wl, at, (int)wl, at);
    return fail_at(r, at, "expected a number, true/false or an array%s, found %s",
                   r->strict ? "" : " such as [1, 2]", describe_at(r, at, found, sizeof found));
}

static int check_rectangular(JsonReader *r, int depth, int count, const char *open)
{
    if (!r->dim_known[depth]) {
        r->dims[depth] = count;
        r->dim_known[depth] = 1;
        return 0;
    }
    if (r->dims[depth] == count) return 0;
    int want = r->dims[depth];
    if (depth == 1 && r->level[1] != LEVEL_ARRAYS)
        return fail_at(r, open, "ragged array: row %d has %d element%s but row 1 has %d", r->index[0] + 1,
                       count, count == 1 ? "" : "s", want);
    if (depth == 1)
        return fail_at(r, open, "ragged array: %s[%d] has %d row%s but %s[1] has %d", r->name, r->index[0] + 1,
                       count, count == 1 ? "" : "s", r->name, want);
    return fail_at(r, open, "ragged array: row %s[%d][%d] has %d element%s but %s[1][1] has %d", r->name,
                   r->index[0] + 1, r->index[1] + 1, count, count == 1 ? "" : "s", r->name, want);
}

/* An array at r->p (on '['), whose elements sit at depth `depth`. */
static int read_array(JsonReader *r, int depth)
{
    const char *open = r->p;
    char found[64], pos[64];
    int count = 0;
    r->p++;
    skip_space(r);
    if (!at_end(r) && *r->p == ']') {
        r->p++;
        return check_rectangular(r, depth, 0, open);
    }
    for (;;) {
        if (at_end(r))
            return fail_at(r, r->p, "unterminated array%s: expected a value or ']', found %s",
                           opened_at(r, open, pos, sizeof pos), describe_at(r, r->p, found, sizeof found));
        if (count == INT_MAX) return fail_at(r, r->p, "array has too many elements");
        r->index[depth] = count;
        if (*r->p == '[') {
            if (depth + 1 >= DATA_MAX_RANK)
                return fail_at(r, r->p, "arrays nested more than %d deep are not supported (rank is at most %d)",
                               DATA_MAX_RANK, DATA_MAX_RANK);
            if (r->level[depth] == LEVEL_SCALARS)
                return fail_at(r, r->p, "an array mixes numbers and arrays (found an array where a number "
                                        "was expected)");
            r->level[depth] = LEVEL_ARRAYS;
            if (read_array(r, depth + 1) < 0) return -1;
        } else {
            if (*r->p == ']' || *r->p == ',')
                return fail_at(r, r->p, "expected a value, found %s", describe_at(r, r->p, found, sizeof found));
            if (r->level[depth] == LEVEL_ARRAYS)
                return fail_at(r, r->p, "an array mixes numbers and arrays (found %s where an array was expected)",
                               describe_at(r, r->p, found, sizeof found));
            r->level[depth] = LEVEL_SCALARS;
            if (read_scalar(r) < 0) return -1;
        }
        count++;
        skip_space(r);
        if (at_end(r))
            return fail_at(r, r->p, "unterminated array%s: expected ',' or ']', found %s",
                           opened_at(r, open, pos, sizeof pos), describe_at(r, r->p, found, sizeof found));
        if (*r->p == ']') {
            r->p++;
            break;
        }
        if (*r->p != ',')
            return fail_at(r, r->p, "expected ',' or ']' after an array element, found %s",
                           describe_at(r, r->p, found, sizeof found));
        const char *comma = r->p++;
        skip_space(r);
        if (!at_end(r) && *r->p == ']') return fail_at(r, comma, "trailing comma before ']'");
        if (at_end(r))
            return fail_at(r, r->p, "unterminated array%s: expected a value after ',', found %s",
                           opened_at(r, open, pos, sizeof pos), describe_at(r, r->p, found, sizeof found));
    }
    return check_rectangular(r, depth, count, open);
}

/* One variable's value at r->p into out (name copied). */
static int read_value(JsonReader *r, const char *name, DataVar *out)
{
    r->name = name;
    r->x = NULL;
    r->n = r->cap = 0;
    r->all_int = 1;
    for (int k = 0; k < DATA_MAX_RANK; k++) r->level[k] = LEVEL_UNSEEN, r->dims[k] = 0, r->dim_known[k] = 0;
    int rank = 0;
    if (!at_end(r) && *r->p == '[') {
        if (read_array(r, 0) < 0) goto fail;
        rank = 1;
        while (rank < DATA_MAX_RANK && r->level[rank - 1] == LEVEL_ARRAYS) rank++;
    } else if (read_scalar(r) < 0) {
        goto fail;
    }
    size_t n = 1;
    for (int k = 0; k < rank; k++) n *= (size_t)r->dims[k];
    assert(n == r->n); /* rectangularity was checked as each array closed */
    if (!r->x && !(r->x = malloc(sizeof(double)))) { /* a valid pointer even for length 0 */
        fail_at(r, r->p, "out of memory");
        goto fail;
    }
    memset(out, 0, sizeof *out);
    if (!(out->name = strdup(name))) {
        fail_at(r, r->p, "out of memory");
        goto fail;
    }
    out->type = r->all_int ? DATA_INT : DATA_REAL;
    out->rank = rank;
    for (int k = 0; k < rank; k++) out->dims[k] = r->dims[k];
    out->n = n;
    out->x = r->x;
    r->x = NULL;
    r->name = NULL;
    return 0;
fail:
    free(r->x);
    r->x = NULL;
    return -1;
}

static void reader_init(JsonReader *r, const char *text, size_t len, int strict, DataError *e)
{
    memset(r, 0, sizeof *r);
    r->text = r->p = text;
    r->end = text + len;
    r->strict = strict;
    r->e = e;
}

static int set_origins(DataSet *out, const char *origin, JsonReader *r)
{
    for (int i = 0; i < out->n; i++)
        if (!(out->vars[i].origin = strdup(origin ? origin : ""))) return fail_at(r, r->p, "out of memory");
    return 0;
}

int data_json_parse_value(const char *text, size_t len, const char *name, int strict, DataVar *out,
                          DataError *e)
{
    JsonReader r;
    char found[64];
    reader_init(&r, text, len, strict, e);
    memset(out, 0, sizeof *out);
    skip_space(&r);
    if (read_value(&r, name, out) < 0) return -1;
    skip_space(&r);
    if (!at_end(&r)) {
        r.name = name;
        fail_at(&r, r.p, "unexpected %s after the value", describe_at(&r, r.p, found, sizeof found));
        data_var_free(out);
        return -1;
    }
    return 0;
}

/* The offsets of each variable's name, parallel to the set, to report duplicates. */
typedef struct {
    size_t *off;
    int cap;
} KeyPositions;

static int remember_key(KeyPositions *k, int i, size_t off)
{
    if (i >= k->cap) {
        int cap = k->cap ? k->cap * 2 : 16;
        size_t *o = realloc(k->off, (size_t)cap * sizeof *o);
        if (!o) return -1;
        k->off = o;
        k->cap = cap;
    }
    k->off[i] = off;
    return 0;
}

static int read_member(JsonReader *r, DataSet *out, KeyPositions *keys)
{
    char found[64], pos[64];
    const char *key_at = r->p;
    char *key;
    size_t key_len;
    if (read_string(r, &key, &key_len) < 0) return -1;
    int rc = -1;
    DataVar v;
    if (key_len == 0 || strlen(key) != key_len) {
        fail_at(r, key_at, key_len ? "variable name contains a NUL character" : "empty variable name \"\"");
        goto done;
    }
    int dup = data_index(out, key);
    if (dup >= 0) {
        fail_at(r, key_at, "variable '%s' is defined twice in this file (first at %s)", key,
                describe_position(r, r->text + keys->off[dup], pos, sizeof pos));
        goto done;
    }
    skip_space(r);
    if (at_end(r) || *r->p != ':') {
        fail_at(r, r->p, "expected ':' after the name \"%s\", found %s", key,
                describe_at(r, r->p, found, sizeof found));
        goto done;
    }
    r->p++;
    skip_space(r);
    if (read_value(r, key, &v) < 0) goto done;
    if (remember_key(keys, out->n, (size_t)(key_at - r->text)) < 0 || data_push(out, &v) < 0) {
        data_var_free(&v);
        fail_at(r, key_at, "out of memory");
        goto done;
    }
    rc = 0;
done:
    r->name = NULL;
    free(key);
    return rc;
}

int data_json_parse(const char *text, size_t len, const char *origin, DataSet *out, DataError *e)
{
    JsonReader r;
    KeyPositions keys = {NULL, 0};
    char found[64], pos[64];
    int rc = -1;
    reader_init(&r, text, len, 1, e);
    skip_space(&r);
    if (at_end(&r)) {
        fail_at(&r, r.text, "empty file: expected a JSON object such as {\"N\": 3, \"y\": [1.5, 2, 0.3]}");
        goto done;
    }
    const char *open = r.p;
    if (*r.p != '{') {
        fail_at(&r, r.p, "expected '{' to open the data object, found %s (CmdStan data is one JSON object "
                         "of named values)", describe_at(&r, r.p, found, sizeof found));
        goto done;
    }
    r.p++;
    skip_space(&r);
    if (!at_end(&r) && *r.p == '}') {
        r.p++;
    } else {
        for (;;) {
            if (at_end(&r) || *r.p != '"') {
                if (at_end(&r))
                    fail_at(&r, r.p, "unterminated object%s: expected a variable name, found %s",
                            opened_at(&r, open, pos, sizeof pos), describe_at(&r, r.p, found, sizeof found));
                else
                    fail_at(&r, r.p, "expected a variable name in double quotes, found %s",
                            describe_at(&r, r.p, found, sizeof found));
                goto done;
            }
            if (read_member(&r, out, &keys) < 0) goto done;
            const char *name = out->vars[out->n - 1].name;
            skip_space(&r);
            if (at_end(&r)) {
                fail_at(&r, r.p, "unterminated object%s: expected ',' or '}' after the value of "
                                 "'%s', found %s",
                        opened_at(&r, open, pos, sizeof pos), name, describe_at(&r, r.p, found, sizeof found));
                goto done;
            }
            if (*r.p == '}') {
                r.p++;
                break;
            }
            if (*r.p != ',') {
                fail_at(&r, r.p, "expected ',' or '}' after the value of '%s', found %s", name,
                        describe_at(&r, r.p, found, sizeof found));
                goto done;
            }
            const char *comma = r.p++;
            skip_space(&r);
            if (!at_end(&r) && *r.p == '}') {
                fail_at(&r, comma, "trailing comma before '}'");
                goto done;
            }
        }
    }
    skip_space(&r);
    if (!at_end(&r)) {
        fail_at(&r, r.p, "unexpected %s after the closing '}' of the data object",
                describe_at(&r, r.p, found, sizeof found));
        goto done;
    }
    rc = set_origins(out, origin, &r);
done:
    free(keys.off);
    return rc;
}
