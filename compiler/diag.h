/*
 * diag.h - located error messages for everything a user can get wrong.
 *
 * Every message has the form `file:line:col: error: text`, followed by the
 * offending source line and a caret under the column, as gcc and clang print
 * them.  The compiler keeps going after an error where it can, so a Diag
 * counts errors and caps how many are shown; callers test diag_failed().
 */
#ifndef CM_DIAG_H
#define CM_DIAG_H

#include <stddef.h>
#include <stdio.h>

/* A source file held in memory, NUL-terminated (embedded NULs are errors
 * the lexer reports). */
typedef struct {
    const char *path;   /* as the user named it */
    const char *text;
    size_t len;
} Source;

typedef struct {
    const Source *src;
    int errors;
    int max_errors;     /* stop printing after this many (default 20) */
    FILE *out;          /* stderr unless a test redirects it */
} Diag;

void diag_init(Diag *d, const Source *src);
/* Report an error at line:col (1-based); col 0 means "no column". */
void diag_error(Diag *d, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A note attached to the previous error (no caret, no count). */
void diag_note(Diag *d, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int diag_failed(const Diag *d) { return d->errors > 0; }

/* Read a whole file; returns 0 and fills *s, or -1 with errno set. */
int source_read(Source *s, const char *path);
void source_free(Source *s);

/* Levenshtein distance, for "did you mean" suggestions; returns the best of
 * `cands` within distance 2 (or a third of the name's length), or NULL. */
const char *diag_suggest(const char *name, const char *const *cands, size_t n);

/* Exit status for every error a user can cause. */
enum { CM_EXIT_USER = 2 };

#endif
