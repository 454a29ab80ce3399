/*
 * causal_query.c - the --dsep, --identify and --adjustment-sets questions:
 * parse the query string, check it against the graph, run the algorithm,
 * print the answer in words a student can read.
 *
 * The query languages are tiny, so the parser is a hand-written tokenizer
 * and recursive descent over one token of lookahead.  What matters is the
 * errors: each names the flag, quotes the whole query, gives the column of
 * the offending token and what was expected there, and ends with the
 * accepted form, because users type these on a command line and have no
 * other documentation in front of them.  Unknown names get the list of
 * sites and, when one is close, a suggestion (diag_suggest, shared with
 * the compiler).
 *
 * --identify tries the methods in the order of the formulas' simplicity:
 * no causal path at all, then a smallest backdoor set, then a frontdoor
 * set, then the ID algorithm, whose answer is either an estimand or a
 * hedge that proves there is none.
 */
#include "causal_query.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

/* ------------------------------------------------------------------ */
/* Tokens                                                              */

typedef enum {
    T_NAME, T_COMMA, T_BAR, T_LBRACE, T_RBRACE, T_LPAREN, T_RPAREN, T_INDEP,
    T_END, T_BAD
} TokKind;

typedef struct {
    TokKind kind;
    const char *s;
    int len, col;
} Tok;

typedef struct {
    const Dag *d;
    const char *query, *p, *flag, *form;
    Tok tok;
    char *err;
    size_t errlen;
    int failed;
} Parser;

/* Columns count characters, not bytes, so a caret-less message still
 * points at the right place after a UTF-8 symbol. */
static int column_of(const char *query, const char *at)
{
    int col = 1;
    for (const char *s = query; s < at; s++)
        col += ((unsigned char)*s & 0xC0) != 0x80;
    return col;
}

static int starts(const char *p, const char *lit)
{
    return strncmp(p, lit, strlen(lit)) == 0;
}

static void next_token(Parser *ps)
{
    const char *p = ps->p;
    while (isspace((unsigned char)*p))
        p++;
    Tok t = {T_BAD, p, 1, column_of(ps->query, p)};
    static const char *const indep[] = {"_||_", "_|_", "\u22a5\u22a5",
                                        "\u2aeb", "\u22a5"};
    for (size_t i = 0; i < sizeof indep / sizeof *indep; i++)
        if (starts(p, indep[i])) {
            t.kind = T_INDEP;
            t.len = (int)strlen(indep[i]);
            goto done;
        }
    if (!*p) {
        t.kind = T_END;
        t.len = 0;
    } else if (isalpha((unsigned char)*p) || *p == '_') {
        t.kind = T_NAME;
        while (isalnum((unsigned char)p[t.len]) || p[t.len] == '_')
            t.len++;
    } else {
        switch (*p) {
        case ',': t.kind = T_COMMA; break;
        case '|': t.kind = T_BAR; break;
        case '{': t.kind = T_LBRACE; break;
        case '}': t.kind = T_RBRACE; break;
        case '(': t.kind = T_LPAREN; break;
        case ')': t.kind = T_RPAREN; break;
        default:      /* one whole UTF-8 character, for the message */
            while (((unsigned char)p[t.len] & 0xC0) == 0x80)
                t.len++;
        }
    }
done:
    ps->tok = t;
    ps->p = p + t.len;
}

static void parser_init(Parser *ps, const Dag *d, const char *query,
                        const char *flag, const char *form, char *err,
                        size_t errlen)
{
    Parser init = {d, query, query, flag, form, {T_END, query, 0, 1}, err,
                   errlen, 0};
    *ps = init;
    next_token(ps);
}

static void expected(Parser *ps, const char *what)
{
    if (ps->failed)
        return;
    ps->failed = 1;
    if (ps->tok.kind == T_END)
        snprintf(ps->err, ps->errlen, "malformed %s query '%s': expected %s "
                 "at column %d, found the end; the form is %s", ps->flag,
                 ps->query, what, ps->tok.col, ps->form);
    else
        snprintf(ps->err, ps->errlen, "malformed %s query '%s': expected %s "
                 "at column %d, found '%.*s'; the form is %s", ps->flag,
                 ps->query, what, ps->tok.col, ps->tok.len, ps->tok.s,
                 ps->form);
}

static int accept(Parser *ps, TokKind k)
{
    if (ps->failed || ps->tok.kind != k)
        return 0;
    next_token(ps);
    return 1;
}

static int is_word(const Tok *t, const char *w)
{
    return t->kind == T_NAME && (size_t)t->len == strlen(w) &&
           strncmp(t->s, w, (size_t)t->len) == 0;
}

/* The query may stop here, or continue with one of `follow`. */
static int at_end_or(const Parser *ps, TokKind follow)
{
    return ps->tok.kind == T_END || ps->tok.kind == follow;
}

/* ------------------------------------------------------------------ */
/* Names and lists                                                     */

/* A suggestion only when it shares most of the name's letters: for a
 * one-letter typo in a one-letter name every site is "close". */
static int plausible(const char *name, const char *cand)
{
    size_t len = strlen(name), common = 0;
    for (size_t i = 0; i < len; i++)
        common += strchr(cand, name[i]) != NULL;
    return 2 * common >= len + 1;
}

void causal_unknown_site(const Dag *d, const char *name, const char *flag,
                         char *err, size_t errlen)
{
    const char *best = diag_suggest(name, (const char *const *)d->names,
                                    (size_t)d->n);
    char hint[160] = "";
    if (best && plausible(name, best))
        snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    size_t used = (size_t)snprintf(err, errlen, "unknown site '%s' in %s%s; "
                                   "sites are: ", name, flag, hint);
    if (d->n == 0 && used < errlen)
        snprintf(err + used, errlen - used, "(none)");
    enum { SHOWN = 40 };
    for (int v = 0; v < d->n && used < errlen; v++) {
        if (v == SHOWN) {
            snprintf(err + used, errlen - used, ", ... (%d more)",
                     d->n - SHOWN);
            break;
        }
        used += (size_t)snprintf(err + used, errlen - used, "%s%s",
                                 v ? ", " : "", d->names[v]);
    }
}

/* A site name at the current token into set. */
static void parse_name(Parser *ps, unsigned char *set)
{
    if (ps->failed)
        return;
    if (ps->tok.kind != T_NAME) {
        expected(ps, "a site name");
        return;
    }
    char *name = strndup(ps->tok.s, (size_t)ps->tok.len);
    int v = name ? dag_find(ps->d, name) : -1;
    if (v < 0) {
        if (name)
            causal_unknown_site(ps->d, name, ps->flag, ps->err, ps->errlen);
        else
            snprintf(ps->err, ps->errlen, "out of memory");
        ps->failed = 1;
    } else {
        set[v] = 1;
        next_token(ps);
    }
    free(name);
}

/* name (',' name)* */
static void parse_names(Parser *ps, unsigned char *set)
{
    do
        parse_name(ps, set);
    while (accept(ps, T_COMMA));
}

/* '{' [names] '}' */
static void parse_braced(Parser *ps, unsigned char *set)
{
    accept(ps, T_LBRACE);
    if (!accept(ps, T_RBRACE)) {
        parse_names(ps, set);
        if (!accept(ps, T_RBRACE))
            expected(ps, "',' or '}'");
    }
}

/* names, or one braced set */
static void parse_list(Parser *ps, unsigned char *set)
{
    if (ps->tok.kind == T_LBRACE)
        parse_braced(ps, set);
    else
        parse_names(ps, set);
}

static void expect_end(Parser *ps)
{
    if (!ps->failed && ps->tok.kind != T_END)
        expected(ps, "the end of the query");
}

static int none_in(const unsigned char *set, int n)
{
    for (int v = 0; v < n; v++)
        if (set[v])
            return 0;
    return 1;
}

static int parse_done(Parser *ps)
{
    return ps->failed ? CM_EXIT_USER : 0;
}

int causal_parse_sites(const Dag *d, const char *text, const char *flag,
                       unsigned char *set, char *err, size_t errlen)
{
    Parser ps;
    memset(set, 0, (size_t)d->n);
    parser_init(&ps, d, text, flag, "'x' or 'x1, x2'", err, errlen);
    parse_list(&ps, set);
    expect_end(&ps);
    return parse_done(&ps);
}

/* Does the rest of the query contain an independence symbol? */
static int has_indep(const Dag *d, const char *query)
{
    Parser ps;
    char dummy[8];
    parser_init(&ps, d, query, "", "", dummy, sizeof dummy);
    while (ps.tok.kind != T_END) {
        if (ps.tok.kind == T_INDEP)
            return 1;
        next_token(&ps);
    }
    return 0;
}

static void parse_given(Parser *ps, unsigned char *z)
{
    if (!accept(ps, T_BAR))
        return;
    if (ps->tok.kind != T_NAME && ps->tok.kind != T_LBRACE)
        expected(ps, "the conditioning sites (or {}) after '|'");
    else
        parse_list(ps, z);
}

int causal_parse_dsep(const Dag *d, const char *query, unsigned char *x,
                      unsigned char *y, unsigned char *z, char *err,
                      size_t errlen)
{
    memset(x, 0, (size_t)d->n);
    memset(y, 0, (size_t)d->n);
    memset(z, 0, (size_t)d->n);
    Parser ps;
    parser_init(&ps, d, query, "--dsep",
                "'x, y | z, w' or 'x1, x2 _||_ y | z' or '{x1, x2}, y | z'",
                err, errlen);
    if (ps.tok.kind == T_END) {
        expected(&ps, "two sites to test");
        return parse_done(&ps);
    }
    if (has_indep(d, query)) {
        parse_list(&ps, x);
        if (!accept(&ps, T_INDEP))
            expected(&ps, "',' or '_||_'");
        parse_list(&ps, y);
    } else {
        /* Two items, each a name or a braced set: "x, y" or "{a, b}, y". */
        unsigned char *side[2] = {x, y};
        for (int i = 0; i < 2 && !ps.failed; i++) {
            if (i == 1 && !accept(&ps, T_COMMA)) {
                expected(&ps, "',' and the second site");
                break;
            }
            if (ps.tok.kind == T_LBRACE)
                parse_braced(&ps, side[i]);
            else
                parse_name(&ps, side[i]);
        }
        if (!ps.failed && ps.tok.kind == T_COMMA) {
            ps.failed = 1;
            snprintf(err, errlen, "malformed --dsep query '%s': more than two "
                     "sites before '|' (column %d); to test sets write "
                     "'{x1, x2}, y | z' or 'x1, x2 _||_ y | z'", query,
                     ps.tok.col);
        }
    }
    if (!ps.failed && !at_end_or(&ps, T_BAR))
        expected(&ps, "'|' or the end of the query");
    parse_given(&ps, z);
    expect_end(&ps);
    if (ps.failed)
        return CM_EXIT_USER;
    if (none_in(x, d->n) || none_in(y, d->n)) {
        snprintf(err, errlen, "--dsep '%s' has an empty side; name at least "
                 "one site on each side", query);
        return CM_EXIT_USER;
    }
    for (int v = 0; v < d->n; v++) {
        if (x[v] && y[v]) {
            snprintf(err, errlen, "site '%s' is on both sides of --dsep '%s'",
                     d->names[v], query);
            return CM_EXIT_USER;
        }
        if ((x[v] || y[v]) && z[v]) {
            snprintf(err, errlen, "site '%s' is both tested and conditioned "
                     "on in --dsep '%s'", d->names[v], query);
            return CM_EXIT_USER;
        }
    }
    return 0;
}

int causal_parse_identify(const Dag *d, const char *query, unsigned char *y,
                          unsigned char *x, unsigned char *z, char *err,
                          size_t errlen)
{
    memset(x, 0, (size_t)d->n);
    memset(y, 0, (size_t)d->n);
    memset(z, 0, (size_t)d->n);
    Parser ps;
    parser_init(&ps, d, query, "--identify",
                "'y | do(x)', 'y1, y2 | do(x1, x2)' or 'y | do(x), z'", err,
                errlen);
    /* P( ... ) around the query is allowed, as it is written on paper. */
    int wrapped = 0;
    if (is_word(&ps.tok, "P")) {
        Parser peek = ps;
        next_token(&peek);
        if (peek.tok.kind == T_LPAREN) {
            ps = peek;
            next_token(&ps);
            wrapped = 1;
        }
    }
    if (ps.tok.kind == T_END)
        expected(&ps, "the outcome sites");
    parse_list(&ps, y);
    if (!ps.failed && !accept(&ps, T_BAR))
        expected(&ps, "'|' and do(...)");
    int ndo = 0;
    do {
        if (ps.failed)
            break;
        if (is_word(&ps.tok, "do")) {
            Parser peek = ps;
            next_token(&peek);
            if (peek.tok.kind == T_LPAREN) {
                if (ndo++) {
                    ps.failed = 1;
                    snprintf(err, errlen, "malformed --identify query '%s': "
                             "more than one do(...) (column %d); put all "
                             "treatments in one: do(x1, x2)", query,
                             ps.tok.col);
                    break;
                }
                ps = peek;
                next_token(&ps);
                parse_list(&ps, x);
                if (!accept(&ps, T_RPAREN))
                    expected(&ps, "',' or ')' closing do(");
                continue;
            }
        }
        if (ps.tok.kind == T_LBRACE)
            parse_braced(&ps, z);
        else
            parse_name(&ps, z);
    } while (accept(&ps, T_COMMA));
    if (wrapped && !accept(&ps, T_RPAREN))
        expected(&ps, "')' closing P(");
    expect_end(&ps);
    if (!ps.failed && ndo == 0) {
        ps.failed = 1;
        snprintf(err, errlen, "malformed --identify query '%s': no do(...) "
                 "after '|'; the form is %s", query, ps.form);
    }
    if (ps.failed)
        return CM_EXIT_USER;
    if (none_in(y, d->n) || none_in(x, d->n)) {
        snprintf(err, errlen, "--identify '%s' needs at least one %s", query,
                 none_in(y, d->n) ? "outcome" : "site inside do(...)");
        return CM_EXIT_USER;
    }
    for (int v = 0; v < d->n; v++) {
        if (x[v] && y[v]) {
            snprintf(err, errlen, "site '%s' is both an outcome and "
                     "intervened on (do) in --identify '%s'", d->names[v],
                     query);
            return CM_EXIT_USER;
        }
        if ((x[v] || y[v]) && z[v]) {
            snprintf(err, errlen, "site '%s' is conditioned on and also %s in "
                     "--identify '%s'", d->names[v],
                     x[v] ? "intervened on (do)" : "an outcome", query);
            return CM_EXIT_USER;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Answers                                                             */

typedef struct {
    unsigned char *x, *y, *z, *obs;
    int *path;
} Masks;

static int masks_alloc(Masks *m, int n, char *err, size_t errlen)
{
    size_t k = (size_t)n + 1;
    m->x = calloc(k, 1);
    m->y = calloc(k, 1);
    m->z = calloc(k, 1);
    m->obs = calloc(k, 1);
    m->path = calloc(k, sizeof *m->path);
    if (m->x && m->y && m->z && m->obs && m->path)
        return 0;
    snprintf(err, errlen, "out of memory");
    return -1;
}

static void masks_free(Masks *m)
{
    free(m->x);
    free(m->y);
    free(m->z);
    free(m->obs);
    free(m->path);
}

/* One name bare, several as {a, b}. */
static void print_label(FILE *out, const Dag *d, const unsigned char *set)
{
    int k = 0;
    for (int v = 0; v < d->n; v++)
        k += set[v] != 0;
    if (k == 1)
        dag_print_names(out, d, set);
    else
        dag_print_set(out, d, set);
}

/* Cycles make every question meaningless: refuse with the cycle named. */
static int check_acyclic(const Dag *d, const char *flag, char *err,
                         size_t errlen)
{
    DagIndex ix;
    if (dag_index_build(&ix, d) < 0) {
        snprintf(err, errlen, "out of memory");
        return CM_EXIT_USER;
    }
    int ok = ix.acyclic;
    if (!ok) {
        char cyc[256];
        dag_format_cycle(&ix, d, cyc, sizeof cyc);
        snprintf(err, errlen, "%s needs an acyclic graph, but the model's "
                 "graph has the cycle %s", flag, cyc);
    }
    dag_index_free(&ix);
    return ok ? 0 : CM_EXIT_USER;
}

int causal_dsep_query(const Dag *d, const char *query, FILE *out, char *err,
                      size_t errlen)
{
    Masks m;
    int rc = CM_EXIT_USER, len = 0;
    if (masks_alloc(&m, d->n, err, errlen) == 0 &&
        causal_parse_dsep(d, query, m.x, m.y, m.z, err, errlen) == 0 &&
        check_acyclic(d, "--dsep", err, errlen) == 0) {
        int sep = dag_dseparated(d, m.x, m.y, m.z, m.path, &len);
        if (sep < 0) {
            snprintf(err, errlen, "out of memory");
        } else {
            print_label(out, d, m.x);
            fputs(" and ", out);
            print_label(out, d, m.y);
            fputs(sep ? " are d-separated given " : " are NOT d-separated "
                  "given ", out);
            dag_print_set(out, d, m.z);
            if (!sep) {
                fputs(": open path ", out);
                dag_print_path(out, d, m.path, len, m.z);
            }
            fputc('\n', out);
            rc = 0;
        }
    }
    masks_free(&m);
    return rc;
}

/* "P(y | do(x))" or "P(y | do(x), z)" */
static void print_query(FILE *out, const Dag *d, const Masks *m)
{
    fputs("P(", out);
    dag_print_names(out, d, m->y);
    fputs(" | do(", out);
    dag_print_names(out, d, m->x);
    fputc(')', out);
    for (int v = 0; v < d->n; v++)
        if (m->z[v]) {
            fputs(", ", out);
            dag_print_names(out, d, m->z);
            break;
        }
    fputc(')', out);
}

/* "x1', x2'" */
static void print_primed(FILE *out, const Dag *d, const unsigned char *set)
{
    const char *sep = "";
    for (int v = 0; v < d->n; v++)
        if (set[v]) {
            fprintf(out, "%s%s'", sep, d->names[v]);
            sep = ", ";
        }
}

static void print_backdoor(FILE *out, const Dag *d, const Masks *m,
                           const unsigned char *adj_set)
{
    int empty = 1;
    for (int v = 0; v < d->n; v++)
        empty &= !adj_set[v];
    fputs("identifiable by backdoor adjustment for ", out);
    dag_print_set(out, d, adj_set);
    fputs(": ", out);
    print_query(out, d, m);
    fputs(" = ", out);
    if (!empty) {
        fputs("sum_{", out);
        dag_print_names(out, d, adj_set);
        fputs("} ", out);
    }
    fputs("P(", out);
    dag_print_names(out, d, m->y);
    fputs(" | ", out);
    dag_print_names(out, d, m->x);
    if (!empty) {
        fputs(", ", out);
        dag_print_names(out, d, adj_set);
        fputs(") P(", out);
        dag_print_names(out, d, adj_set);
    }
    fputs(")\n", out);
}

static void print_frontdoor(FILE *out, const Dag *d, const Masks *m,
                            const unsigned char *med)
{
    fputs("identifiable by the frontdoor criterion through ", out);
    dag_print_set(out, d, med);
    fputs(": ", out);
    print_query(out, d, m);
    fputs(" = sum_{", out);
    dag_print_names(out, d, med);
    fputs("} P(", out);
    dag_print_names(out, d, med);
    fputs(" | ", out);
    dag_print_names(out, d, m->x);
    fputs(") sum_{", out);
    print_primed(out, d, m->x);
    fputs("} P(", out);
    dag_print_names(out, d, m->y);
    fputs(" | ", out);
    print_primed(out, d, m->x);
    fputs(", ", out);
    dag_print_names(out, d, med);
    fputs(") P(", out);
    print_primed(out, d, m->x);
    fputs(")\n", out);
}

/* No directed path from x to y: do(x) changes nothing about y. */
static int no_causal_path(const Dag *d, const Masks *m)
{
    DagIndex ix;
    if (dag_index_build(&ix, d) < 0)
        return 0;
    unsigned char *de = malloc((size_t)d->n + 1);
    int none = 0;
    if (de) {
        dag_reach(&ix, m->x, 0, NULL, NULL, de);
        none = 1;
        for (int v = 0; v < d->n; v++)
            none &= !(de[v] && m->y[v]);
    }
    free(de);
    dag_index_free(&ix);
    return none;
}

/* The treatment, outcome and conditions must be observed sites. */
static int check_observed(const Dag *d, const Masks *m, const char *flag,
                          char *err, size_t errlen)
{
    for (int v = 0; v < d->n; v++) {
        if (!(m->x[v] || m->y[v] || m->z[v]) || m->obs[v])
            continue;
        snprintf(err, errlen, "site '%s' is unobserved (%s), but %s needs "
                 "the treatment, outcome and conditions observed; only a "
                 "site bound by data can be adjusted for or estimated",
                 d->names[v], d->kind[v] == DAG_DETERMINISTIC
                     ? "a deterministic node with an unobserved parent"
                     : "latent: not bound by data", flag);
        return CM_EXIT_USER;
    }
    return 0;
}

static int answer_identify(const Dag *d, const Masks *m, FILE *out, char *err,
                           size_t errlen)
{
    int conditional = 0;
    for (int v = 0; v < d->n; v++)
        conditional |= m->z[v];
    if (!conditional) {
        if (no_causal_path(d, m)) {
            fputs("identifiable: there is no directed path from ", out);
            print_label(out, d, m->x);
            fputs(" to ", out);
            print_label(out, d, m->y);
            fputs(", so ", out);
            print_query(out, d, m);
            fputs(" = P(", out);
            dag_print_names(out, d, m->y);
            fputs(")\n", out);
            return 0;
        }
        DagSetList sets;
        if (dag_backdoor_minimal_sets(d, m->x, m->y, 64, &sets, err,
                                      errlen) < 0)
            return CM_EXIT_USER;
        if (sets.count > 0) {
            print_backdoor(out, d, m, sets.sets);
            dag_set_list_free(&sets);
            return 0;
        }
        dag_set_list_free(&sets);
        unsigned char *med = calloc((size_t)d->n + 1, 1);
        int fd = med ? dag_frontdoor_set(d, m->x, m->y, med) : -1;
        if (fd > 0)
            print_frontdoor(out, d, m, med);
        free(med);
        if (fd < 0) {
            snprintf(err, errlen, "out of memory");
            return CM_EXIT_USER;
        }
        if (fd > 0)
            return 0;
    }
    DagIdResult res;
    if (dag_id_algorithm(d, m->y, m->x, m->z, &res, err, errlen) < 0)
        return CM_EXIT_USER;
    if (res.identifiable) {
        fprintf(out, "identifiable (%s algorithm): ",
                conditional ? "IDC" : "ID");
        print_query(out, d, m);
        fprintf(out, " = %s", res.expr);
        int fixed = 0;
        for (int v = 0; v < d->n; v++)
            fixed |= res.fixed[v];
        if (fixed) {
            fputs(" (the same for every value of ", out);
            dag_print_names(out, d, res.fixed);
            fputc(')', out);
        }
        fputc('\n', out);
    } else {
        fputs("not identifiable: hedge formed by C-forests F = ", out);
        dag_print_set(out, d, res.hedge_f);
        fputs(", F' = ", out);
        dag_print_set(out, d, res.hedge_fprime);
        fputc('\n', out);
    }
    dag_id_result_free(&res);
    return 0;
}

int causal_identify_query(const Dag *d, const char *query, FILE *out,
                          char *err, size_t errlen)
{
    Masks m;
    int rc = CM_EXIT_USER;
    if (masks_alloc(&m, d->n, err, errlen) == 0 &&
        causal_parse_identify(d, query, m.y, m.x, m.z, err, errlen) == 0 &&
        check_acyclic(d, "--identify", err, errlen) == 0) {
        dag_observed_mask(d, m.obs);
        if (check_observed(d, &m, "--identify", err, errlen) == 0)
            rc = answer_identify(d, &m, out, err, errlen);
    }
    masks_free(&m);
    return rc;
}

int causal_adjustment_sets(const Dag *d, const char *x, const char *y,
                           FILE *out, char *err, size_t errlen)
{
    Masks m;
    int rc = CM_EXIT_USER;
    if (masks_alloc(&m, d->n, err, errlen) < 0 ||
        causal_parse_sites(d, x ? x : "", "--adjustment-sets", m.x, err,
                           errlen) ||
        causal_parse_sites(d, y ? y : "", "--adjustment-sets", m.y, err,
                           errlen) ||
        check_acyclic(d, "--adjustment-sets", err, errlen))
        goto done;
    if (none_in(m.x, d->n) || none_in(m.y, d->n)) {
        snprintf(err, errlen, "--adjustment-sets needs at least one %s site",
                 none_in(m.x, d->n) ? "treatment" : "outcome");
        goto done;
    }
    for (int v = 0; v < d->n; v++)
        if (m.x[v] && m.y[v]) {
            snprintf(err, errlen, "site '%s' is both the treatment and the "
                     "outcome in --adjustment-sets", d->names[v]);
            goto done;
        }
    dag_observed_mask(d, m.obs);
    if (check_observed(d, &m, "--adjustment-sets", err, errlen))
        goto done;
    DagSetList sets;
    if (dag_backdoor_minimal_sets(d, m.x, m.y, DAG_MAX_SETS, &sets, err,
                                  errlen) < 0)
        goto done;
    if (sets.count == 0)
        fputs("no adjustment set exists\n", out);
    for (int i = 0; i < sets.count; i++) {
        dag_print_set(out, d, sets.sets + (size_t)i * sets.n);
        fputc('\n', out);
    }
    if (sets.truncated)
        fprintf(out, "(listing stopped after %d sets)\n", sets.count);
    dag_set_list_free(&sets);
    rc = 0;
done:
    masks_free(&m);
    return rc;
}
