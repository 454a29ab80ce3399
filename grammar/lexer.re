/*
 * lexer.re - the cm tokenizer (re2c, UTF-8 mode): bytes in, tokens out.
 *
 * re2c compiles the rules below into a direct-coded DFA over the source
 * buffer, which Source guarantees to be NUL-terminated: the NUL at `lim` is
 * the sentinel, so the scanner needs no bounds checks and no refilling.  A
 * NUL anywhere else is a user error ("NUL byte in source") and scanning goes
 * on.  No rule can match across a NUL, so the DFA never reads past `lim`.
 *
 * Newlines end statements, Go-style but simpler: the lexer turns a newline
 * into a NEWLINE token only when it could end a statement, that is when no
 * ( or [ is open and the previous token can end one (a name, a literal, a
 * closing bracket...: not an operator, '=', '~', ',', ':' ...).  So long
 * expressions continue on the next line after an operator or inside
 * brackets, and blank lines cost nothing.  A newline followed by `{` or
 * `else` is dropped as well, so `}` / `else {` on separate lines work.
 *
 * The lexer keeps the stack of open brackets (with positions): it decides
 * the newline question, caps nesting at CM_PARSE_MAX_NESTING, and lets the
 * parser say "'(' opened at 3:7 is not closed".  It also remembers the last
 * two tokens and the first token of the statement for error messages.
 *
 * Lexical errors are reported here and scanning continues.  A malformed
 * number still yields a number token (value 0) and an unterminated string a
 * string token, so the parser goes on undisturbed; a character that can
 * start no token yields Bison's YYerror token, which puts the parser into
 * statement-level recovery without a second message.  The identifier `T`
 * directly followed by `[` right after a `)` is the truncation opener "T[";
 * everywhere else T is an ordinary name.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser.h"

/* Bison's "error already reported" token; api.prefix shows in its name. */
#define TOK_ERROR TOK_CM_YYerror

/*!re2c
    re2c:define:YYCTYPE = "unsigned char";
    re2c:define:YYCURSOR = cur;
    re2c:define:YYMARKER = mar;
    re2c:yyfill:enable = 0;
    re2c:encoding-policy = fail; // UTF-16 surrogates are not valid UTF-8
    re2c:indent:string = "    ";

    dig   = [0-9];
    alnum = [0-9A-Za-z_];
    exp   = [eE] [+-]? dig+;
    real  = dig+ "." dig+ exp? | dig+ exp | "." dig+ exp?;
    // a number glued to letters, dots or a dangling exponent: "1e+", "2.5.3", "12abc"
    badnum = (dig | "." dig) (alnum | [eE] [+-] | "." alnum)*;
*/

/* Report an error at p, which lies on the current line. */
static void lex_error(CmParseState *ps, const unsigned char *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void lex_error(CmParseState *ps, const unsigned char *p, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    diag_error(ps->diag, ps->line, (int)(p - ps->line_start) + 1, "%s", buf);
}

/* Lexeme for a message: at most 40 bytes, marked when cut. */
static void lexeme_error(CmParseState *ps, const unsigned char *s,
                         const unsigned char *e, const char *what)
{
    int n = (int)(e - s);
    lex_error(ps, s, "%s '%.*s%s'", what, n > 40 ? 37 : n, (const char *)s,
              n > 40 ? "..." : "");
}

static void invalid_utf8(CmParseState *ps, const unsigned char *p)
{
    lex_error(ps, p, "invalid UTF-8 byte 0x%02X", *p);
}

/* ---- newlines ------------------------------------------------------------- */

/* Can a statement end with this token?  (The brief's list of tokens after
 * which a newline never separates: operators, '=', '~', ',', '->', '..',
 * ':', '?', and the opening brackets.) */
static int ends_statement(int kind)
{
    switch (kind) {
    case 0: case TOK_NEWLINE: case TOK_SEMI:
    case TOK_PLUS: case TOK_MINUS: case TOK_STAR: case TOK_SLASH: case TOK_CARET:
    case TOK_PERCENT: case TOK_EMUL: case TOK_EDIV: case TOK_EQ: case TOK_NE:
    case TOK_LT: case TOK_LE: case TOK_GT: case TOK_GE: case TOK_AND: case TOK_OR:
    case TOK_NOT: case TOK_ASSIGN: case TOK_TILDE: case TOK_COLON: case TOK_COMMA:
    case TOK_ARROW: case TOK_DOTDOT: case TOK_QUESTION: case TOK_LBRACE:
    case TOK_LPAREN: case TOK_LBRACK: case TOK_TOPEN:
        return 0;
    default:
        return 1;
    }
}

/* Does the next significant text (after blanks, newlines and comments)
 * continue the current line: a '{' or the keyword `else`? */
static int next_continues_line(const unsigned char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
            continue;
        }
        break;
    }
    if (*p == '{')
        return 1;
    if (strncmp((const char *)p, "else", 4) == 0) { /* stops at the sentinel */
        unsigned char c = p[4];
        return !(c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'));
    }
    return 0;
}

/* Is the newline just read (`after` points past it) a separator? */
static int newline_separates(CmParseState *ps, const unsigned char *after)
{
    if (ps->nopen > 0 && ps->open[ps->nopen - 1].kind != '{')
        return 0; /* inside ( ) or [ ] */
    if (!ends_statement(ps->last.kind) || ps->continue_line)
        return 0;
    if (next_continues_line(after)) {
        ps->continue_line = 1; /* decided once for the whole run of newlines */
        return 0;
    }
    return 1;
}

/* ---- comments and strings -------------------------------------------------- */

/* Skip a comment's body up to (not past) the end of line or file; only
 * valid UTF-8 is accepted, reported once per comment. */
static const unsigned char *skip_comment(CmParseState *ps, const unsigned char *cur)
{
    const unsigned char *mar;
    int reported = 0;
    for (;;) {
        const unsigned char *s = cur;
    /*!re2c
        [^\n\x00]+  { continue; }
        "\n"        { return s; }
        "\x00"      {
                        if (s == ps->lim)
                            return s;
                        lex_error(ps, s, "NUL byte in source");
                        continue;
                    }
        *           {
                        if (!reported++)
                            invalid_utf8(ps, s);
                        continue;
                    }
    */
    }
}

/* A growable byte buffer for decoding a string literal. */
typedef struct {
    char *data;
    size_t len, cap;
} Buf;

static void buf_put(Buf *b, const unsigned char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            fputs("cm: out of memory\n", stderr);
            exit(1);
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Scan a string literal whose opening quote is at `open`, `cur` just past
 * it.  Stores the decoded text in the arena; returns the cursor after the
 * closing quote (or at the end of the line / file if there is none). */
static const unsigned char *scan_string(CmParseState *ps, const unsigned char *open,
                                        const unsigned char *cur, const char **out)
{
    const unsigned char *mar;
    Buf b = {NULL, 0, 0};
    int bad_utf8 = 0;
    for (;;) {
        const unsigned char *s = cur;
    /*!re2c
        ["]                 { break; }
        "\\\""              { buf_put(&b, (const unsigned char *)"\"", 1); continue; }
        "\\\\"              { buf_put(&b, (const unsigned char *)"\\", 1); continue; }
        "\\n"               { buf_put(&b, (const unsigned char *)"\n", 1); continue; }
        "\\t"               { buf_put(&b, (const unsigned char *)"\t", 1); continue; }
        "\\" [^\n\x00]      {
                                lex_error(ps, s, "unknown escape '%.*s' in string (use \\\" \\\\ \\n or \\t)",
                                          (int)(cur - s), (const char *)s);
                                buf_put(&b, s + 1, (size_t)(cur - s - 1));
                                continue;
                            }
        "\\"                { buf_put(&b, s, 1); continue; }
        [^"\\\n\x00]+       { buf_put(&b, s, (size_t)(cur - s)); continue; }
        "\x00"              {
                                if (s != ps->lim) {
                                    lex_error(ps, s, "NUL byte in source");
                                    continue;
                                }
                                cur = s;
                                lex_error(ps, open, "unterminated string: missing closing '\"' before the end of the file");
                                break;
                            }
        "\n"                {
                                cur = s;
                                lex_error(ps, open, "unterminated string: missing closing '\"' before the end of the line");
                                break;
                            }
        *                   {
                                if (!bad_utf8++)
                                    invalid_utf8(ps, s);
                                continue;
                            }
    */
    }
    *out = ast_strdup(ps->arena, b.data ? b.data : "", b.len);
    free(b.data);
    return cur;
}

/* ---- numbers ----------------------------------------------------------------- */

static long integer_value(CmParseState *ps, const unsigned char *s, const unsigned char *e)
{
    long v = 0;
    for (const unsigned char *p = s; p < e; p++) {
        int d = *p - '0';
        if (v > (LONG_MAX - d) / 10) {
            lexeme_error(ps, s, e, "integer literal too large:");
            return 0;
        }
        v = v * 10 + d;
    }
    return v;
}

static double real_value(CmParseState *ps, const unsigned char *s, const unsigned char *e)
{
    char small[64];
    size_t n = (size_t)(e - s);
    char *text = n < sizeof small ? small : ast_strdup(ps->arena, (const char *)s, n);
    if (text == small) {
        memcpy(small, s, n);
        small[n] = '\0';
    }
    double v = strtod(text, NULL);
    if (isinf(v)) {
        lexeme_error(ps, s, e, "real literal too large:");
        return 0;
    }
    return v;
}

/* ---- the scanner ---------------------------------------------------------------- */

/* Scan one token from ps->cur; fills ps->last's position and *lval. */
static int scan(CmParseState *ps, CM_YYSTYPE *lval)
{
    const unsigned char *cur = ps->cur, *mar = NULL;
    int kind;
    for (;;) {
        const unsigned char *s = cur;
        ps->last.start = (const char *)s;
        ps->last.line = ps->line;
        ps->last.col = (int)(s - ps->line_start) + 1;
    /*!re2c
        "\x00"      {
                        if (s == ps->lim) {
                            cur = s; /* stay on the sentinel */
                            kind = TOK_YYEOF;
                            break;
                        }
                        lex_error(ps, s, "NUL byte in source");
                        kind = TOK_ERROR;
                        break;
                    }
        [ \t\r]+    { continue; }
        "#" | "//"  { cur = skip_comment(ps, cur); continue; }
        "\n"        {
                        int sep = newline_separates(ps, cur);
                        if (sep) {
                            kind = TOK_NEWLINE;
                            ps->line++;
                            ps->line_start = cur;
                            break;
                        }
                        ps->line++;
                        ps->line_start = cur;
                        continue;
                    }

        "data"      { kind = TOK_DATA; break; }
        "fn"        { kind = TOK_FN; break; }
        "extern"    { kind = TOK_EXTERN; break; }
        "from"      { kind = TOK_FROM; break; }
        "grad"      { kind = TOK_GRAD; break; }
        "return"    { kind = TOK_RETURN; break; }
        "plate"     { kind = TOK_PLATE; break; }
        "for"       { kind = TOK_FOR; break; }
        "in"        { kind = TOK_IN; break; }
        "if"        { kind = TOK_IF; break; }
        "else"      { kind = TOK_ELSE; break; }
        "subsample" { kind = TOK_SUBSAMPLE; break; }
        "true"      { kind = TOK_TRUE; break; }
        "false"     { kind = TOK_FALSE; break; }
        "latent"    { kind = TOK_LATENT; break; }
        "factor"    { kind = TOK_FACTOR; break; }
        "guide"     { kind = TOK_GUIDE; break; }
        "param"     { kind = TOK_PARAM; break; }

        [A-Za-z_] alnum* {
                        if (cur - s == 1 && *s == 'T' && *cur == '[' &&
                            ps->last.kind == TOK_RPAREN) {
                            cur++;
                            kind = TOK_TOPEN;
                            break;
                        }
                        lval->str = ast_strdup(ps->arena, (const char *)s, (size_t)(cur - s));
                        kind = TOK_NAME;
                        break;
                    }
        dig+        {
                        /* "1." not followed by a digit or a second dot */
                        if (cur[0] == '.' && cur[1] != '.' && cur[1] != '*' && cur[1] != '/') {
                            cur++;
                            lexeme_error(ps, s, cur, "malformed number");
                            lval->ival = 0;
                        } else {
                            lval->ival = integer_value(ps, s, cur);
                        }
                        kind = TOK_INT;
                        break;
                    }
        real        { lval->num = real_value(ps, s, cur); kind = TOK_REAL; break; }
        badnum      {
                        lexeme_error(ps, s, cur, "malformed number");
                        lval->ival = 0;
                        kind = TOK_INT;
                        break;
                    }
        ["]         { cur = scan_string(ps, s, cur, &lval->str); kind = TOK_STRING; break; }

        "+"  { kind = TOK_PLUS; break; }
        "-"  { kind = TOK_MINUS; break; }
        "*"  { kind = TOK_STAR; break; }
        "/"  { kind = TOK_SLASH; break; }
        "^"  { kind = TOK_CARET; break; }
        "%"  { kind = TOK_PERCENT; break; }
        ".*" { kind = TOK_EMUL; break; }
        "./" { kind = TOK_EDIV; break; }
        "==" { kind = TOK_EQ; break; }
        "!=" { kind = TOK_NE; break; }
        "<"  { kind = TOK_LT; break; }
        "<=" { kind = TOK_LE; break; }
        ">"  { kind = TOK_GT; break; }
        ">=" { kind = TOK_GE; break; }
        "&&" { kind = TOK_AND; break; }
        "||" { kind = TOK_OR; break; }
        "!"  { kind = TOK_NOT; break; }
        "="  { kind = TOK_ASSIGN; break; }
        "~"  { kind = TOK_TILDE; break; }
        ":"  { kind = TOK_COLON; break; }
        ","  { kind = TOK_COMMA; break; }
        ";"  { kind = TOK_SEMI; break; }
        "("  { kind = TOK_LPAREN; break; }
        ")"  { kind = TOK_RPAREN; break; }
        "["  { kind = TOK_LBRACK; break; }
        "]"  { kind = TOK_RBRACK; break; }
        "{"  { kind = TOK_LBRACE; break; }
        "}"  { kind = TOK_RBRACE; break; }
        ".." { kind = TOK_DOTDOT; break; }
        "->" { kind = TOK_ARROW; break; }
        "?"  { kind = TOK_QUESTION; break; }

        [^\x00-\x7F] {
                        /* valid UTF-8, but only comments and strings may hold it;
                         * a run of such characters is one error */
                        if (s != ps->stray_end)
                            lex_error(ps, s, "unexpected character '%.*s' outside a string or comment",
                                      (int)(cur - s), (const char *)s);
                        ps->stray_end = cur;
                        kind = TOK_ERROR;
                        break;
                    }
        *           {
                        if (s != ps->stray_end) {
                            if (*s >= 0x80)
                                invalid_utf8(ps, s);
                            else if (*s == '&' || *s == '|')
                                lex_error(ps, s, "stray character '%c' in program (did you mean '%c%c'?)",
                                          *s, *s, *s);
                            else if (*s > 0x20 && *s < 0x7f)
                                lex_error(ps, s, "stray character '%c' in program", *s);
                            else
                                lex_error(ps, s, "stray character '\\x%02X' in program", *s);
                        }
                        ps->stray_end = cur;
                        kind = TOK_ERROR;
                        break;
                    }
    */
    }
    ps->cur = cur;
    ps->last.end = (const char *)cur;
    return kind;
}

/* ---- brackets ----------------------------------------------------------------- */

static char opener_of(int kind)
{
    switch (kind) {
    case TOK_LPAREN: return '(';
    case TOK_LBRACK: return '[';
    case TOK_LBRACE: return '{';
    case TOK_TOPEN: return 'T';
    default: return 0;
    }
}

static int closes(int kind, char open)
{
    return (kind == TOK_RPAREN && open == '(') || (kind == TOK_RBRACE && open == '{') ||
           (kind == TOK_RBRACK && (open == '[' || open == 'T'));
}

/* Track ( [ { T[ and their closers; returns 0 when nesting is too deep. */
static int track_brackets(CmParseState *ps, int kind)
{
    char open = opener_of(kind);
    if (open) {
        if (ps->nopen == CM_PARSE_MAX_NESTING) {
            diag_error(ps->diag, ps->last.line, ps->last.col,
                       "nesting too deep (more than %d levels)", CM_PARSE_MAX_NESTING);
            return 0;
        }
        ps->open[ps->nopen++] = (CmBracket){open, ps->last.line, ps->last.col};
        ps->last_pushed = 1;
    } else if (kind == TOK_RPAREN || kind == TOK_RBRACK || kind == TOK_RBRACE) {
        if (ps->nopen > 0 && closes(kind, ps->open[ps->nopen - 1].kind)) {
            ps->closed = ps->open[--ps->nopen];
            ps->last_closed = 1;
        } else
            ps->last_unmatched = 1; /* left for the parser to report */
    }
    return 1;
}

void cm_lex_recover(CmParseState *ps)
{
    /* A closer the parser rejected usually ends its construct anyway: if
     * its opener is on the stack, pop through it. */
    int through = -1;
    for (int i = ps->nopen - 1; ps->last_unmatched && i >= 0 && through < 0; i--)
        if (closes(ps->last.kind, ps->open[i].kind))
            through = i;
    if (through >= 0)
        ps->nopen = through;
    else
        while (ps->nopen > 0 && ps->open[ps->nopen - 1].kind != '{')
            ps->nopen--;
    ps->last_unmatched = ps->last_pushed = ps->last_closed = 0;
}

/* ---- the token interface ----------------------------------------------------- */

static int starts_statement_after(int kind)
{
    return kind == 0 || kind == TOK_NEWLINE || kind == TOK_SEMI || kind == TOK_LBRACE ||
           kind == TOK_RBRACE || kind == TOK_ERROR;
}

int cm_lex(CM_YYSTYPE *lval, CM_YYLTYPE *lloc, CmParseState *ps)
{
    CmToken prev = ps->last;
    int kind;
    if (ps->diag->errors > 0 && ps->diag->errors >= ps->diag->max_errors)
        ps->fatal = 1; /* nothing more would be shown: stop early */
    if (ps->fatal) {
        kind = TOK_YYEOF;
        ps->last.start = ps->last.end = (const char *)ps->cur;
    } else {
        kind = scan(ps, lval);
    }
    ps->last_pushed = ps->last_unmatched = ps->last_closed = 0;
    if (kind != TOK_YYEOF && !track_brackets(ps, kind)) {
        ps->fatal = 1;
        kind = TOK_YYEOF;
    }
    if (kind == TOK_ERROR)
        cm_lex_recover(ps); /* the parser will resynchronise without a report */
    ps->last.kind = kind;
    if (kind == TOK_YYEOF) {
        /* point just past the last token, where the text ends */
        if (prev.line == 0) { /* no token before */
            ps->last.line = ps->last.col = 1;
        } else if (prev.kind == TOK_NEWLINE || prev.kind == TOK_YYEOF) {
            ps->last.line = prev.line;
            ps->last.col = prev.col;
        } else {
            ps->last.line = prev.line;
            ps->last.col = prev.col + (int)(prev.end - prev.start);
        }
    }
    if (kind != TOK_NEWLINE)
        ps->continue_line = 0;
    if (starts_statement_after(prev.kind))
        ps->head = ps->last;
    ps->before = prev;
    lloc->first_line = lloc->last_line = ps->last.line;
    lloc->first_column = ps->last.col;
    lloc->last_column = ps->last.col + (int)(ps->last.end - ps->last.start);
    return kind;
}
