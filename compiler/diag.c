/*
 * diag.c - printing located errors with the source line and a caret.
 */
#include "diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void diag_init(Diag *d, const Source *src)
{
    d->src = src;
    d->errors = 0;
    d->max_errors = 20;
    d->out = stderr;
}

/* Print source line `line` and a caret under `col`; tabs are kept so the
 * caret lines up in a terminal. */
static void show_line(Diag *d, int line, int col)
{
    if (!d->src || !d->src->text || line <= 0)
        return;
    const char *p = d->src->text, *end = p + d->src->len;
    for (int l = 1; l < line && p < end; p++)
        if (*p == '\n')
            l++;
    if (p >= end && line > 1)
        return;
    const char *e = p;
    while (e < end && *e != '\n' && *e != '\0')
        e++;
    fputs("  ", d->out);
    for (const char *q = p; q < e; q++) /* print non-printables as '?' */
        fputc((unsigned char)*q >= 0x20 || *q == '\t' ? *q : '?', d->out);
    fputc('\n', d->out);
    if (col <= 0)
        return;
    fputs("  ", d->out);
    for (int i = 1; i < col && p + i - 1 < e; i++)
        fputc(p[i - 1] == '\t' ? '\t' : ' ', d->out);
    fputs("^\n", d->out);
}

static void vreport(Diag *d, const char *kind, int line, int col,
                    const char *fmt, va_list ap)
{
    const char *path = d->src && d->src->path ? d->src->path : "<input>";
    if (col > 0)
        fprintf(d->out, "%s:%d:%d: %s: ", path, line, col, kind);
    else
        fprintf(d->out, "%s:%d: %s: ", path, line, kind);
    vfprintf(d->out, fmt, ap);
    fputc('\n', d->out);
    show_line(d, line, col);
}

void diag_error(Diag *d, int line, int col, const char *fmt, ...)
{
    d->errors++;
    if (d->errors > d->max_errors)
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(d, "error", line, col, fmt, ap);
    va_end(ap);
    if (d->errors == d->max_errors)
        fprintf(d->out, "%s: too many errors; stopping\n",
                d->src && d->src->path ? d->src->path : "<input>");
}

void diag_note(Diag *d, int line, int col, const char *fmt, ...)
{
    if (d->errors > d->max_errors)
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport(d, "note", line, col, fmt, ap);
    va_end(ap);
}

int source_read(Source *s, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return -1;
    }
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = nb;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        errno = EIO;
        return -1;
    }
    buf[len] = '\0';
    s->path = path;
    s->text = buf;
    s->len = len;
    return 0;
}

void source_free(Source *s)
{
    free((char *)s->text);
    s->text = NULL;
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 99;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t sub = diag + (a[i - 1] != b[j - 1]);
            size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[lb];
}

const char *diag_suggest(const char *name, const char *const *cands, size_t n)
{
    size_t limit = strlen(name) / 3;
    if (limit < 2)
        limit = 2;
    const char *best = NULL;
    size_t bestd = limit + 1;
    for (size_t i = 0; i < n; i++) {
        if (!cands[i] || strcmp(cands[i], name) == 0)
            continue;
        size_t dd = edit_distance(name, cands[i]);
        if (dd < bestd) {
            bestd = dd;
            best = cands[i];
        }
    }
    return best;
}
