/*
 * test_parse.c - the front end: lexer, parser, AST module and syntax errors.
 *
 * Trees are compared through a compact S-expression rendering (see sx()):
 * expressions read like Lisp, `(+ a (* b c))`, statements and types as
 * `(KIND:name kids...)`, an absent child as `_`.  One string per tree keeps
 * the shape checks short enough to cover the whole grammar, and a failing
 * check prints the tree it got.
 *
 * Error checks parse with diag->out redirected to a temporary file and look
 * for substrings of the output, including the line:col.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "parse.h"

/* ---- helpers --------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
} Str;

static void put(Str *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(Str *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = (b->len + (size_t)n + 1) * 2;
        b->s = realloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static const char *opname(int op)
{
    static char one[2];
    switch (op) {
    case AST_OP_EQ: return "==";
    case AST_OP_NE: return "!=";
    case AST_OP_LE: return "<=";
    case AST_OP_GE: return ">=";
    case AST_OP_AND: return "&&";
    case AST_OP_OR: return "||";
    case AST_OP_EMUL: return ".*";
    case AST_OP_EDIV: return "./";
    default: one[0] = (char)op; one[1] = 0; return one;
    }
}

static void sx_into(Str *b, const AstNode *n)
{
    if (!n) {
        put(b, "_");
        return;
    }
    const char *head = NULL;
    switch (n->kind) {
    case AST_INT: put(b, "%ld", n->ival); return;
    case AST_REAL: put(b, "%g", n->num); return;
    case AST_BOOL: put(b, n->ival ? "true" : "false"); return;
    case AST_STRING: put(b, "\"%s\"", n->str); return;
    case AST_IDENT: put(b, "%s", n->name); return;
    case AST_ALL: put(b, ":"); return;
    case AST_UNOP:
    case AST_BINOP: head = opname(n->op); break;
    case AST_COND: head = "?"; break;
    case AST_SLICE: head = ".."; break;
    case AST_INDEX: head = "index"; break;
    case AST_CALL: put(b, "(call %s", n->name); break;
    case AST_VECTOR:
        put(b, "[");
        for (int i = 0; i < n->nkids; i++) {
            if (i)
                put(b, " ");
            sx_into(b, n->kids[i]);
        }
        put(b, "]");
        return;
    case AST_TYPE:
        if (n->nkids == 0) {
            put(b, "%s", n->name);
            return;
        }
        put(b, "(%s", n->name);
        break;
    default:
        put(b, "(%s", ast_kind_name(n->kind));
        if (n->name)
            put(b, ":%s", n->name);
        if (n->str)
            put(b, " \"%s\"", n->str);
        break;
    }
    if (head)
        put(b, "(%s", head);
    for (int i = 0; i < n->nkids; i++) {
        put(b, " ");
        sx_into(b, n->kids[i]);
    }
    put(b, ")");
}

/* Rendering of a node; the buffers rotate so a few can be live at once. */
static const char *sx(const AstNode *n)
{
    static Str ring[4];
    static int next;
    Str *b = &ring[next++ % 4];
    b->len = 0;
    put(b, "%s", "");
    sx_into(b, n);
    return b->s;
}

typedef struct {
    AstArena *arena;
    AstNode *prog;
    Source src;
    Diag diag;
    char err[8192]; /* everything diag printed */
} Parse;

static Parse *parse_len(const char *text, size_t len)
{
    Parse *p = calloc(1, sizeof *p);
    p->arena = ast_arena_new();
    p->src.path = "t.cm";
    p->src.text = text;
    p->src.len = len;
    diag_init(&p->diag, &p->src);
    p->diag.out = tmpfile();
    p->prog = cm_parse(&p->src, p->arena, &p->diag);
    rewind(p->diag.out);
    size_t n = fread(p->err, 1, sizeof p->err - 1, p->diag.out);
    p->err[n] = '\0';
    fclose(p->diag.out);
    return p;
}

static Parse *parse(const char *text) { return parse_len(text, strlen(text)); }

static void done(Parse *p)
{
    ast_arena_free(p->arena);
    free(p);
}

/* The rendering of a program's statements, one per line joined by " | ". */
static const char *stmts(const AstNode *prog)
{
    static Str b;
    b.len = 0;
    put(&b, "%s", "");
    for (int i = 0; i < prog->nkids; i++)
        put(&b, "%s%s", i ? " | " : "", sx(prog->kids[i]));
    return b.s;
}

/* The program parses without errors and renders as `want`. */
#define PARSES_AS(text, want)                                                     \
    do {                                                                          \
        Parse *p_ = parse(text);                                                  \
        CHECK(!diag_failed(&p_->diag), "unexpected error for %s:\n%s", #text,     \
              p_->err);                                                           \
        const char *got_ = stmts(p_->prog);                                       \
        CHECK(strcmp(got_, (want)) == 0, "%s\n  got:  %s\n  want: %s", #text,     \
              got_, (want));                                                      \
        done(p_);                                                                 \
    } while (0)

/* The expression after `x = ` renders as `want`. */
#define EXPR_AS(expr, want) PARSES_AS("x = " expr "\n", "(ASSIGN x _ " want ")")

/* The program fails and the output holds `want` (e.g. "2:5: error: ..."). */
#define FAILS_WITH(text, want)                                                    \
    do {                                                                          \
        Parse *p_ = parse(text);                                                  \
        CHECK(diag_failed(&p_->diag), "no error for %s", #text);                  \
        CHECK(strstr(p_->err, (want)) != NULL, "%s\n  want: %s\n  got:\n%s",      \
              #text, (want), p_->err);                                            \
        done(p_);                                                                 \
    } while (0)

static int tree_depth(const AstNode *n)
{
    if (!n)
        return 0;
    int d = 0;
    for (int i = 0; i < n->nkids; i++) {
        int k = tree_depth(n->kids[i]);
        if (k > d)
            d = k;
    }
    return d + 1;
}

/* ---- the design document's programs ------------------------------------------ */

static const char *design_programs[] = {
    "# eight schools, non-centred\n"
    "data J: int\n"
    "data y: real[J]\n"
    "data sigma: real[J]\n"
    "\n"
    "mu  ~ Normal(0, 5)\n"
    "tau ~ HalfCauchy(5)\n"
    "plate j in 1..J {\n"
    "  eta[j] ~ Normal(0, 1)\n"
    "  theta[j] = mu + tau * eta[j]\n"
    "  y[j] ~ Normal(theta[j], sigma[j])\n"
    "}\n",

    "# logistic regression, vectorised\n"
    "data N: int\n"
    "data K: int\n"
    "data X: real[N, K]\n"
    "data y: int[N]\n"
    "alpha ~ Normal(0, 5)\n"
    "beta: real[K] ~ Normal(0, 1)     # K independent elements\n"
    "y ~ BernoulliLogit(alpha + X * beta)\n",

    "# a structural causal model for counterfactual queries\n"
    "z ~ Normal(0, 1)\n"
    "x ~ Bernoulli(sigmoid(z))\n"
    "y ~ Normal(2 * x + z, 1)\n",

    "# sequential dependence, a user function\n"
    "fn ar1(prev: real, phi: real) -> real = phi * prev\n"
    "data T: int\n"
    "data r: real[T]\n"
    "phi ~ Uniform(-1, 1)\n"
    "s ~ HalfNormal(1)\n"
    "for t in 2..T {\n"
    "  r[t] ~ Normal(ar1(r[t-1], phi), s)\n"
    "}\n",

    ("# a function from a C library, called through libffi\n"
     "extern fn cbrt(x: real) -> real from \"libm.so.6\"\n"),
};

static void test_design_programs(void)
{
    for (size_t i = 0; i < sizeof design_programs / sizeof *design_programs; i++) {
        Parse *p = parse(design_programs[i]);
        CHECK(!diag_failed(&p->diag), "design program %zu failed:\n%s", i, p->err);
        CHECK(p->prog && p->prog->kind == AST_PROGRAM, "design program %zu: no PROGRAM", i);
        done(p);
    }
    /* all five in one file */
    Str all = {0};
    for (size_t i = 0; i < sizeof design_programs / sizeof *design_programs; i++)
        put(&all, "%s\n", design_programs[i]);
    Parse *p = parse(all.s);
    CHECK(!diag_failed(&p->diag), "design programs together:\n%s", p->err);
    CHECK(p->prog->nkids == 23, "23 statements, got %d", p->prog->nkids);
    done(p);
    free(all.s);

    p = parse(design_programs[0]);
    CHECK(strcmp(stmts(p->prog),
                 "(DATA:J int) | (DATA:y (real J)) | (DATA:sigma (real J)) | "
                 "(SAMPLE mu _ (call Normal 0 5) _) | (SAMPLE tau _ (call HalfCauchy 5) _) | "
                 "(PLATE:j 1 J (BLOCK (SAMPLE (index eta j) _ (call Normal 0 1) _) "
                 "(ASSIGN (index theta j) _ (+ mu (* tau (index eta j)))) "
                 "(SAMPLE (index y j) _ (call Normal (index theta j) (index sigma j)) _)) _)") == 0,
          "eight schools tree: %s", stmts(p->prog));
    done(p);

    p = parse(design_programs[3]);
    CHECK(strcmp(sx(p->prog->kids[0]),
                 "(FN:ar1 (PARAMS (PARAM:prev real) (PARAM:phi real)) real (* phi prev))") == 0,
          "ar1: %s", sx(p->prog->kids[0]));
    CHECK(strcmp(sx(p->prog->kids[5]),
                 "(FOR:t 2 T (BLOCK (SAMPLE (index r t) _ (call Normal (call ar1 (index r (- t 1)) "
                 "phi) s) _)))") == 0,
          "for: %s", sx(p->prog->kids[5]));
    done(p);
}

/* ---- statements ------------------------------------------------------------------- */

static void test_statements(void)
{
    PARSES_AS("data J: int", "(DATA:J int)");
    PARSES_AS("data X: real[N, K]", "(DATA:X (real N K))");
    PARSES_AS("x: real[T]", "(DECL:x (real T))");
    PARSES_AS("mu ~ Normal(0, 5)", "(SAMPLE mu _ (call Normal 0 5) _)");
    PARSES_AS("beta: real[K] ~ Normal(0, 1)", "(SAMPLE beta (real K) (call Normal 0 1) _)");
    PARSES_AS("mu: ordered[2] ~ Normal(0, 2)", "(SAMPLE mu (ordered 2) (call Normal 0 2) _)");
    PARSES_AS("y ~ Normal(mu, sigma) T[0, 10]",
              "(SAMPLE y _ (call Normal mu sigma) (TRUNC 0 10))");
    PARSES_AS("y ~ Normal(mu, sigma) T[0, ]", "(SAMPLE y _ (call Normal mu sigma) (TRUNC 0 _))");
    PARSES_AS("y ~ Normal(mu, sigma) T[, 5]", "(SAMPLE y _ (call Normal mu sigma) (TRUNC _ 5))");
    PARSES_AS("y ~ Normal(mu, sigma) T[,]", "(SAMPLE y _ (call Normal mu sigma) (TRUNC _ _))");
    PARSES_AS("y[i] ~ Exponential(1) T[lo[i], hi[i]]",
              "(SAMPLE (index y i) _ (call Exponential 1) (TRUNC (index lo i) (index hi i)))");
    PARSES_AS("w: positive_ordered[K] ~ Exponential(1) T[0, 9]",
              "(SAMPLE w (positive_ordered K) (call Exponential 1) (TRUNC 0 9))");
    PARSES_AS("z ~ Gen()", "(SAMPLE z _ (call Gen) _)");
    PARSES_AS("theta[j] = mu + tau * eta[j]",
              "(ASSIGN (index theta j) _ (+ mu (* tau (index eta j))))");
    PARSES_AS("m[i, j] = 0", "(ASSIGN (index m i j) _ 0)");
    PARSES_AS("s: real = x * 2", "(ASSIGN s real (* x 2))");
    PARSES_AS("v: real[3] = [1, 2, 3]", "(ASSIGN v (real 3) [1 2 3])");
    PARSES_AS("plate j in 1..J { y[j] ~ Normal(0, 1) }",
              "(PLATE:j 1 J (BLOCK (SAMPLE (index y j) _ (call Normal 0 1) _)) _)");
    PARSES_AS("plate i in 1..N subsample 100 { y[i] ~ Normal(m, 1) }",
              "(PLATE:i 1 N (BLOCK (SAMPLE (index y i) _ (call Normal m 1) _)) 100)");
    PARSES_AS("plate i in lo + 1..n - 1 {}", "(PLATE:i (+ lo 1) (- n 1) (BLOCK) _)");
    /* an SVI guide block with learnable parameters (docs/language.md) */
    PARSES_AS("guide { param m: real = 0\n mu ~ Normal(m, 1) }",
              "(GUIDE (BLOCK (GUIDE_PARAM:m real 0) (SAMPLE mu _ (call Normal m 1) _)))");
    PARSES_AS("guide { param s: positive[K] = 0.5 }", "(GUIDE (BLOCK (GUIDE_PARAM:s (positive K) 0.5)))");
    PARSES_AS("for t in 2..T {\n}", "(FOR:t 2 T (BLOCK))");
    PARSES_AS("if a { x = 1 }", "(IF a (BLOCK (ASSIGN x _ 1)) _)");
    PARSES_AS("if a { x = 1 } else { x = 2 }",
              "(IF a (BLOCK (ASSIGN x _ 1)) (BLOCK (ASSIGN x _ 2)))");
    PARSES_AS("if a { x = 1 } else if b { x = 2 } else { x = 3 }",
              "(IF a (BLOCK (ASSIGN x _ 1)) (IF b (BLOCK (ASSIGN x _ 2)) (BLOCK (ASSIGN x _ 3))))");
    PARSES_AS("fn ar1(prev: real, phi: real) -> real = phi * prev",
              "(FN:ar1 (PARAMS (PARAM:prev real) (PARAM:phi real)) real (* phi prev))");
    PARSES_AS("fn one() -> int = 1", "(FN:one (PARAMS) int 1)");
    PARSES_AS("fn f(x: real, v: real[N]) -> real {\n  s = x * 2\n"
              "  if s > 1 { return s } else { return -s }\n}",
              "(FN:f (PARAMS (PARAM:x real) (PARAM:v (real N))) real (BLOCK (ASSIGN s _ (* x 2)) "
              "(IF (> s 1) (BLOCK (RETURN s)) (BLOCK (RETURN (- s))))))");
    PARSES_AS("fn g(m: real[N, K]) -> real[K] {\n return m[1, :]\n}",
              "(FN:g (PARAMS (PARAM:m (real N K))) (real K) (BLOCK (RETURN (index m 1 :))))");
    PARSES_AS("extern fn cbrt(x: real) -> real from \"libm.so.6\"",
              "(EXTERN:cbrt \"libm.so.6\" (PARAMS (PARAM:x real)) real _)");
    PARSES_AS("extern fn hazard(t: real, v: real[N]) -> real from \"libhazard.so\" grad "
              "\"hazard_grad\"",
              "(EXTERN:hazard \"libhazard.so\" (PARAMS (PARAM:t real) (PARAM:v (real N))) real "
              "\"hazard_grad\")");
    PARSES_AS("return x + 1", "(RETURN (+ x 1))");
    PARSES_AS("factor(-0.5 * x^2)", "(FACTOR (* (- 0.5) (^ x 2)))");
    PARSES_AS("latent u, v", "(LATENT:u) | (LATENT:v)");
    PARSES_AS("latent w", "(LATENT:w)");
    PARSES_AS("plate i in 1..N { latent a, b, c }",
              "(PLATE:i 1 N (BLOCK (LATENT:a) (LATENT:b) (LATENT:c)) _)");
    PARSES_AS("z = cond ? a : b", "(ASSIGN z _ (? cond a b))");
    PARSES_AS("m = [[1, 2], [3, 4]]", "(ASSIGN m _ [[1 2] [3 4]])");
    PARSES_AS("w = X[2..5, :] ; q = v[i] * 3.5e-2",
              "(ASSIGN w _ (index X (.. 2 5) :)) | (ASSIGN q _ (* (index v i) 0.035))");
    PARSES_AS("", "");
    PARSES_AS("\n\n# only a comment\n\n", "");
    PARSES_AS(";;x = 1;;;y = 2;", "(ASSIGN x _ 1) | (ASSIGN y _ 2)");
}

/* ---- expressions and precedence ---------------------------------------------------- */

static void test_expressions(void)
{
    EXPR_AS("-x^2", "(- (^ x 2))");
    EXPR_AS("a - b - c", "(- (- a b) c)");
    EXPR_AS("a / b / c", "(/ (/ a b) c)");
    EXPR_AS("a ^ b ^ c", "(^ a (^ b c))");
    EXPR_AS("a ? b : c ? d : e", "(? a b (? c d e))");
    EXPR_AS("a ? b ? c : d : e", "(? a (? b c d) e)");
    EXPR_AS("a || b ? c + 1 : d", "(? (|| a b) (+ c 1) d)");
    EXPR_AS("a || b && c", "(|| a (&& b c))");
    EXPR_AS("a && b || c", "(|| (&& a b) c)");
    EXPR_AS("a == b && c != d", "(&& (== a b) (!= c d))");
    EXPR_AS("a < b == c >= d", "(== (< a b) (>= c d))");
    EXPR_AS("a <= b + c", "(<= a (+ b c))");
    EXPR_AS("a > b - c", "(> a (- b c))");
    EXPR_AS("a + b * c", "(+ a (* b c))");
    EXPR_AS("(a + b) * c", "(* (+ a b) c)");
    EXPR_AS("a * b % c", "(% (* a b) c)");
    EXPR_AS("a .* b ./ c", "(./ (.* a b) c)");
    EXPR_AS("a + b .* c", "(+ a (.* b c))");
    EXPR_AS("-a * b", "(* (- a) b)");
    EXPR_AS("-a^b^c", "(- (^ a (^ b c)))");
    EXPR_AS("2^-1", "(^ 2 (- 1))");
    EXPR_AS("!a && b", "(&& (! a) b)");
    EXPR_AS("!!a", "(! (! a))");
    EXPR_AS("- -a", "(- (- a))");
    EXPR_AS("x[i]^2", "(^ (index x i) 2)");
    EXPR_AS("-x[i]", "(- (index x i))");
    EXPR_AS("f(x)[2]", "(index (call f x) 2)");
    EXPR_AS("m[i][j]", "(index (index m i) j)");
    EXPR_AS("(a + b)[1]", "(index (+ a b) 1)");
    EXPR_AS("[1, 2][k]", "(index [1 2] k)");
    EXPR_AS("X[2..5, :]", "(index X (.. 2 5) :)");
    EXPR_AS("X[:, j]", "(index X : j)");
    EXPR_AS("v[i + 1..n - 1]", "(index v (.. (+ i 1) (- n 1)))");
    EXPR_AS("f()", "(call f)");
    EXPR_AS("f(g(h(1)), 2)", "(call f (call g (call h 1)) 2)");
    EXPR_AS("[x]", "[x]");
    EXPR_AS("[[1, 2], [3, 4]]", "[[1 2] [3 4]]");
    EXPR_AS("[-1, a + b, f(c)]", "[(- 1) (+ a b) (call f c)]");
    EXPR_AS("true && false", "(&& true false)");
    EXPR_AS("1.5 + .5 + 1e3 + 1.5e-3 + 2E+2", "(+ (+ (+ (+ 1.5 0.5) 1000) 0.0015) 200)");
    EXPR_AS("007", "7");
    EXPR_AS("9223372036854775807", "9223372036854775807");
    EXPR_AS("a ? b : c || d", "(? a b (|| c d))");
}

/* ---- lexical details ------------------------------------------------------------ */

static void test_lexing(void)
{
    /* newlines continue inside brackets and after operators */
    PARSES_AS("y ~ Normal(\n  mu,\n  sigma\n)", "(SAMPLE y _ (call Normal mu sigma) _)");
    PARSES_AS("x = a +\n  b *\n\n  c", "(ASSIGN x _ (+ a (* b c)))");
    PARSES_AS("m = [[1, 2],\n     [3, 4]]", "(ASSIGN m _ [[1 2] [3 4]])");
    PARSES_AS("x =\n 1", "(ASSIGN x _ 1)");
    PARSES_AS("x ~\n Normal(0, 1)", "(SAMPLE x _ (call Normal 0 1) _)");
    PARSES_AS("z = c ?\n a :\n b", "(ASSIGN z _ (? c a b))");
    PARSES_AS("x = a &&\n b ||\n c", "(ASSIGN x _ (|| (&& a b) c))");
    PARSES_AS("x = !\n a", "(ASSIGN x _ (! a))");
    PARSES_AS("fn f(x: real) ->\n real =\n x", "(FN:f (PARAMS (PARAM:x real)) real x)");
    PARSES_AS("for t in 2..\n T {}", "(FOR:t 2 T (BLOCK))");
    PARSES_AS("data x:\n int", "(DATA:x int)");
    /* '{' and 'else' may start the next line */
    PARSES_AS("if a {\n x = 1\n}\nelse {\n x = 2\n}",
              "(IF a (BLOCK (ASSIGN x _ 1)) (BLOCK (ASSIGN x _ 2)))");
    PARSES_AS("if a { x = 1 }\n# comment\n\n  else if b\n{ x = 2 }",
              "(IF a (BLOCK (ASSIGN x _ 1)) (IF b (BLOCK (ASSIGN x _ 2)) _))");
    PARSES_AS("plate i in 1..N\n{\n y[i] ~ Normal(0, 1)\n}",
              "(PLATE:i 1 N (BLOCK (SAMPLE (index y i) _ (call Normal 0 1) _)) _)");
    PARSES_AS("x = 1\nelsewhere = 2", "(ASSIGN x _ 1) | (ASSIGN elsewhere _ 2)");
    /* blank lines, comments, CR LF, tabs, semicolons */
    PARSES_AS("\n\n  x = 1 # c\n// c\n\n\ny = 2 // c", "(ASSIGN x _ 1) | (ASSIGN y _ 2)");
    PARSES_AS("x = 1\r\ny = 2\r\n", "(ASSIGN x _ 1) | (ASSIGN y _ 2)");
    PARSES_AS("\tx\t=\t1", "(ASSIGN x _ 1)");
    PARSES_AS("plate i in 1..N { a = 1; b = 2 }",
              "(PLATE:i 1 N (BLOCK (ASSIGN a _ 1) (ASSIGN b _ 2)) _)");
    /* 1..J is INT DOTDOT NAME; reals need digits after the dot */
    PARSES_AS("for i in 1..J {}", "(FOR:i 1 J (BLOCK))");
    PARSES_AS("x = v[1.5..2]", "(ASSIGN x _ (index v (.. 1.5 2)))");
    PARSES_AS("x = 2.*y", "(ASSIGN x _ (.* 2 y))");
    PARSES_AS("x = 2./y", "(ASSIGN x _ (./ 2 y))");
    /* T[ opens a truncation only right after ')' */
    PARSES_AS("data T: int", "(DATA:T int)");
    PARSES_AS("x = r[T]", "(ASSIGN x _ (index r T))");
    PARSES_AS("x = T[1]", "(ASSIGN x _ (index T 1))");
    PARSES_AS("T[1] ~ Normal(0, 1)", "(SAMPLE (index T 1) _ (call Normal 0 1) _)");
    PARSES_AS("y ~ N(0, 1)\nT[2] = 1", "(SAMPLE y _ (call N 0 1) _) | (ASSIGN (index T 2) _ 1)");
    PARSES_AS("x = Tx[1] + T_[2]", "(ASSIGN x _ (+ (index Tx 1) (index T_ 2)))");
    /* strings: escapes and UTF-8 */
    PARSES_AS("extern fn f(x: real) -> real from \"a\\\"b\\\\c\\nd\\te\"",
              "(EXTERN:f \"a\"b\\c\nd\te\" (PARAMS (PARAM:x real)) real _)");
    PARSES_AS("extern fn f(x: real) -> real from \"lib\xc3\xa9.so\" # caf\xc3\xa9 \xe2\x9c\x93",
              "(EXTERN:f \"lib\xc3\xa9.so\" (PARAMS (PARAM:x real)) real _)");
    /* keywords are whole words */
    PARSES_AS("format = iffy + data_x + fn2 + in_ + fork",
              "(ASSIGN format _ (+ (+ (+ (+ iffy data_x) fn2) in_) fork))");
}

/* ---- positions -------------------------------------------------------------------- */

static void test_positions(void)
{
    Parse *p = parse("# header\n"
                     "data J: int\n"
                     "  mu ~ Normal(0, 5)\n"
                     "plate j in 1..J {\n"
                     "\ttheta[j] = mu + tau * eta[j]\n"
                     "}\n"
                     "x = -a ? b : c\n");
    CHECK(!diag_failed(&p->diag), "positions program failed: %s", p->err);
    AstNode **s = p->prog->kids;
#define AT(n, l, c)                                                                  \
    CHECK((n) && (n)->line == (l) && (n)->col == (c), "%s at %d:%d, want %d:%d", #n, \
          (n) ? (n)->line : -1, (n) ? (n)->col : -1, (l), (c))
    AT(p->prog, 1, 1);
    AT(s[0], 2, 1);                 /* data */
    AT(s[0]->kids[0], 2, 9);        /* int */
    AT(s[1], 3, 3);                 /* sample: its target */
    AT(s[1]->kids[0], 3, 3);        /* mu */
    AT(s[1]->kids[2], 3, 8);        /* Normal */
    AT(s[1]->kids[2]->kids[1], 3, 18); /* 5 */
    AT(s[2], 4, 1);                 /* plate */
    AT(s[2]->kids[0], 4, 12);       /* 1 */
    AT(s[2]->kids[1], 4, 15);       /* J */
    AstNode *blk = s[2]->kids[2];
    AT(blk, 4, 17);                 /* { */
    AstNode *as = blk->kids[0];
    AT(as, 5, 2);                   /* theta after a tab: byte column 2 */
    AT(as->kids[0], 5, 2);          /* INDEX at the start of theta */
    AT(as->kids[2], 5, 16);         /* '+' */
    AT(as->kids[2]->kids[0], 5, 13); /* mu */
    AT(as->kids[2]->kids[1], 5, 22); /* '*' */
    AstNode *cond = s[3]->kids[2];
    AT(cond, 7, 8);                 /* '?' */
    AT(cond->kids[0], 7, 5);        /* unary '-' */
    AT(cond->kids[0]->kids[0], 7, 6);
    done(p);

    p = parse("y ~ Normal(0, 1) T[0, 1]\nw = X[2..5, :]\nlatent u, v\nm = [1]\n"
              "extern fn f(x: real) -> real from \"l\" grad \"g\"\n");
    s = p->prog->kids;
    AT(s[0]->kids[3], 1, 18);               /* T[ */
    AT(s[1]->kids[2]->kids[1], 2, 8);       /* '..' */
    AT(s[1]->kids[2]->kids[2], 2, 13);      /* ':' */
    AT(s[2], 3, 8);                         /* each LATENT at its name */
    AT(s[3], 3, 11);
    AT(s[4]->kids[2], 4, 5);                /* '[' of the vector */
    AT(s[5], 5, 1);                         /* extern */
    AT(s[5]->kids[0], 5, 12);               /* '(' of the parameters */
    AT(s[5]->kids[0]->kids[0], 5, 13);      /* x */
    AT(s[5]->kids[2], 5, 44);               /* the grad string */
    done(p);
#undef AT
}

/* ---- syntax errors ----------------------------------------------------------------- */

static void test_errors(void)
{
    /* brackets */
    FAILS_WITH("y ~ Normal(0, 1\nz = 2\n",
               "t.cm:2:1: error: unexpected name 'z', expected ',' or ')' to close '(' opened at 1:11");
    FAILS_WITH("plate i in 1..N {\n  x ~ Normal(0, 1)\n",
               "2:19: error: unexpected end of file: '{' opened at 1:17 is not closed");
    FAILS_WITH("plate i in 1..N {\n  x ~ Normal(0, 1)\n", "1:17: note: '{' opened here");
    FAILS_WITH("x = f(a, [1, 2\n", "unexpected end of file: '[' opened at 1:10 is not closed");
    FAILS_WITH("x = (1 + 2]\n", "1:11: error: unexpected ']', expected ')' to close '(' opened at 1:5");
    FAILS_WITH("x = 1)\n", "1:6: error: unmatched ')': no '(' is open here");
    FAILS_WITH("}\n", "1:1: error: unmatched '}'");
    /* statements */
    FAILS_WITH("x Normal(0, 1)\n", "1:3: error: missing '~' or '=' after 'x'");
    FAILS_WITH("x\n", "1:2: error: missing '~' or '=' after 'x'");
    FAILS_WITH("theta[j] 3\n", "1:10: error: missing '~' or '=' after 'theta[j]'");
    FAILS_WITH("data x:\n", "1:8: error: unexpected end of file, expected a type");
    FAILS_WITH("data x: ;\n", "1:9: error: unexpected ';', expected a type");
    FAILS_WITH("data x int\n", "1:8: error: missing ':' and a type after 'x'");
    FAILS_WITH("data x: int ~ Normal(0, 1)\n", "1:13: error: unexpected '~', expected end of line");
    FAILS_WITH("x ~ 3\n", "1:5: error: unexpected number '3' after '~': expected a distribution");
    FAILS_WITH("x ~ Normal\n", "1:11: error: unexpected end of line, expected '('");
    FAILS_WITH("x = 1\n + 2\n", "2:2: error: a statement cannot start with '+'");
    FAILS_WITH("else { x = 1 }\n", "1:1: error: 'else' without a matching 'if'");
    FAILS_WITH("x = 1 else { }\n", "'else' without a matching 'if'");
    FAILS_WITH("plate i 1..N { }\n", "1:9: error: unexpected number '1', expected 'in'");
    FAILS_WITH("for i in 1..N\n  x = 1\n}\n", "1:14: error: unexpected end of line, expected '{'");
    FAILS_WITH("for i in N { }\n", "1:12: error: unexpected '{', expected '..'");
    FAILS_WITH("factor x\n", "1:8: error: unexpected name 'x', expected '('");
    FAILS_WITH("latent\n", "1:7: error: unexpected end of line, expected a name");
    FAILS_WITH("latent a,\n", "unexpected end of file, expected a name");
    FAILS_WITH("x = 1 y = 2\n", "1:7: error: unexpected name 'y', expected an operator or end of line");
    /* expressions */
    FAILS_WITH("y = 1 + * 2\n", "1:9: error: unexpected '*', expected an expression");
    FAILS_WITH("y = 1 +\n", "1:8: error: unexpected end of file, expected an expression");
    FAILS_WITH("y = (1 +)\n", "1:9: error: unexpected ')', expected an expression");
    FAILS_WITH("x = []\n", "1:6: error: empty '[]': a vector literal needs at least one element");
    FAILS_WITH("x = y[]\n", "1:7: error: empty index '[]'");
    FAILS_WITH("x = f(a, )\n", "1:10: error: unexpected ')', expected an expression");
    FAILS_WITH("x = f(a b)\n", "1:9: error: unexpected name 'b', expected ',' or ')' to close '(' opened at 1:6");
    FAILS_WITH("x = \"s\"\n", "1:5: error: unexpected string, expected an expression");
    FAILS_WITH("x = a[1](2)\n", "1:9: error: unexpected '('");
    /* truncation */
    FAILS_WITH("y ~ Normal(0, 1) T[0, 1, 2]\n", "1:24: error: truncation 'T[lo, hi]' takes exactly two bounds");
    FAILS_WITH("y ~ Normal(0, 1) T[0]\n", "1:21: error: truncation 'T[lo, hi]' takes exactly two bounds");
    FAILS_WITH("y ~ Normal(0, 1) T[]\n", "1:20: error: truncation 'T[lo, hi]'");
    FAILS_WITH("y = f(x) T[0, 1]\n", "1:10: error: unexpected 'T['");
    /* functions */
    FAILS_WITH("fn f(x) -> real = x\n", "1:7: error: missing ':' and a type after 'x', as in 'x: real'");
    FAILS_WITH("fn f(x: real) = x\n", "1:15: error: unexpected '=', expected '->'");
    FAILS_WITH("fn f(x: real) -> = x\n", "1:18: error: unexpected '=', expected a type");
    FAILS_WITH("fn f(x: real) -> real\n", "1:22: error: unexpected end of line, expected '=' or '{'");
    FAILS_WITH("fn (x: real) -> real = x\n", "1:4: error: unexpected '(', expected a name");
    FAILS_WITH("fn f(x: real,) -> real = x\n", "1:14: error: unexpected ')', expected a name");
    FAILS_WITH("extern fn f(x: real) -> real\n", "1:29: error: unexpected end of line, expected 'from'");
    FAILS_WITH("extern fn f(x: real) -> real from libm\n",
               "1:35: error: unexpected name 'libm', expected a string in double quotes");
    FAILS_WITH("extern fn f(x: real) -> real from \"l\" grad\n",
               "1:43: error: unexpected end of line, expected a string in double quotes");
    FAILS_WITH("extern f(x: real) -> real from \"l\"\n", "1:8: error: unexpected name 'f', expected 'fn'");
}

static void test_lexical_errors(void)
{
    FAILS_WITH("x = 1e+\n", "1:5: error: malformed number '1e+'");
    FAILS_WITH("x = 1e\n", "1:5: error: malformed number '1e'");
    FAILS_WITH("x = 2.5.3\n", "1:5: error: malformed number '2.5.3'");
    FAILS_WITH("x = 12abc\n", "1:5: error: malformed number '12abc'");
    FAILS_WITH("x = 1.\n", "1:5: error: malformed number '1.'");
    FAILS_WITH("x = 1.e5\n", "1:5: error: malformed number '1.e5'");
    FAILS_WITH("x = 99999999999999999999\n", "1:5: error: integer literal too large");
    FAILS_WITH("x = 9223372036854775808\n", "integer literal too large");
    FAILS_WITH("x = 1e999\n", "1:5: error: real literal too large: '1e999'");
    FAILS_WITH("extern fn f(x: real) -> real from \"libm\n",
               "1:35: error: unterminated string: missing closing '\"' before the end of the line");
    FAILS_WITH("extern fn f(x: real) -> real from \"libm",
               "1:35: error: unterminated string: missing closing '\"' before the end of the file");
    FAILS_WITH("extern fn f(x: real) -> real from \"a\\qb\"\n", "1:37: error: unknown escape '\\q' in string");
    FAILS_WITH("x ~ @Normal(0, 1)\n", "1:5: error: stray character '@' in program");
    FAILS_WITH("x = a $ b\n", "1:7: error: stray character '$' in program");
    FAILS_WITH("x = a & b\n", "1:7: error: stray character '&' in program (did you mean '&&'?)");
    FAILS_WITH("x = a | b\n", "did you mean '||'?");
    FAILS_WITH("x = a.b\n", "1:6: error: stray character '.' in program");
    FAILS_WITH("x = \x01\n", "1:5: error: stray character '\\x01' in program");
    FAILS_WITH("x = caf\xc3\xa9\n", "1:8: error: unexpected character '\xc3\xa9' outside a string or comment");
    FAILS_WITH("x = 1\xff\n", "1:6: error: invalid UTF-8 byte 0xFF");
    FAILS_WITH("x = 1 # bad \xc3\x28 comment\n", "1:13: error: invalid UTF-8 byte 0xC3");
    FAILS_WITH("extern fn f(x: real) -> real from \"\xed\xa0\x80\"\n", "1:36: error: invalid UTF-8 byte 0xED");
    /* an overlong encoding is invalid too */
    FAILS_WITH("# \xc0\xaf\n", "1:3: error: invalid UTF-8 byte 0xC0");

    /* NUL bytes: reported, and the rest of the file is still read */
    static const char nul[] = "x = 1\0\ny = 2 +\n";
    Parse *p = parse_len(nul, sizeof nul - 1);
    CHECK(strstr(p->err, "t.cm:1:6: error: NUL byte in source") != NULL, "NUL: %s", p->err);
    CHECK(strstr(p->err, "t.cm:2:8: error: unexpected end of file") != NULL, "after NUL: %s", p->err);
    done(p);
    static const char nul2[] = "# comment \0 more\nextern fn f() -> real from \"a\0b\"\n";
    p = parse_len(nul2, sizeof nul2 - 1);
    CHECK(p->diag.errors == 2 && strstr(p->err, "1:11: error: NUL byte in source") &&
              strstr(p->err, "2:30: error: NUL byte in source"),
          "NUL in comment/string: %s", p->err);
    CHECK(p->prog->nkids == 1, "the statement after a NUL in a comment survives");
    done(p);

    p = parse_len("\0", 1);
    CHECK(p->diag.errors == 1 && strstr(p->err, "t.cm:1:1: error: NUL byte in source") &&
              p->prog->nkids == 0,
          "a lone NUL: %s", p->err);
    done(p);

    /* a run of stray characters is one error */
    p = parse("x = @@@ 1\n");
    CHECK(p->diag.errors == 1, "@@@: %d errors: %s", p->diag.errors, p->err);
    done(p);
    /* invalid UTF-8 in one comment or string: reported once */
    p = parse("# \xff\xff\xff\nx = 1\n");
    CHECK(p->diag.errors == 1 && p->prog->nkids == 1, "comment bytes: %s", p->err);
    done(p);
}

static void test_recovery(void)
{
    /* one error per broken statement, the good ones kept */
    Parse *p = parse("a = 1 +\n"
                     "b ~ Normal(0, 1)\n"
                     "c = * 2\n"
                     "d = 4\n"
                     "plate i in 1..N {\n"
                     "  e = )\n"
                     "  f = 6\n"
                     "}\n"
                     "g Normal(0, 1)\n"
                     "h = 8\n");
    CHECK(p->diag.errors == 4, "4 errors, got %d:\n%s", p->diag.errors, p->err);
    CHECK(strstr(p->err, "2:3: error: unexpected '~'") != NULL, "a: %s", p->err);
    CHECK(strstr(p->err, "3:5: error: unexpected '*', expected an expression") != NULL, "c: %s", p->err);
    CHECK(strstr(p->err, "6:7: error: unmatched ')': no '(' is open here") != NULL, "e: %s", p->err);
    CHECK(strstr(p->err, "9:3: error: missing '~' or '=' after 'g'") != NULL, "g: %s", p->err);
    CHECK(strcmp(stmts(p->prog), "(ASSIGN d _ 4) | (PLATE:i 1 N (BLOCK (ASSIGN f _ 6)) _) | "
                                 "(ASSIGN h _ 8)") == 0,
          "kept: %s", stmts(p->prog));
    done(p);

    /* an unclosed '(' does not swallow the following lines */
    p = parse("x = f(a b,\n  c)\ny = (1 2\nz = 3\nw = +\n");
    CHECK(p->diag.errors == 3, "3 errors, got %d:\n%s", p->diag.errors, p->err);
    CHECK(strstr(p->err, "5:5: error: unexpected '+'") != NULL, "w: %s", p->err);
    CHECK(strstr(stmts(p->prog), "(ASSIGN z _ 3)") != NULL, "z kept: %s", stmts(p->prog));
    done(p);

    /* errors are capped at diag->max_errors, and parsing stops there */
    Str many = {0};
    for (int i = 0; i < 100; i++)
        put(&many, "x%d = )\n", i);
    p = parse(many.s);
    CHECK(p->diag.errors == 20, "capped at 20, got %d", p->diag.errors);
    CHECK(strstr(p->err, "too many errors; stopping") != NULL, "cap message");
    done(p);
    free(many.s);

    /* a stray character: one message, no cascade */
    p = parse("x = 1 @ 2\ny = 3\n");
    CHECK(p->diag.errors == 1 && p->prog->nkids == 1, "stray: %d errors: %s", p->diag.errors, p->err);
    done(p);
}

/* ---- limits ----------------------------------------------------------------------- */

static char *repeat3(const char *pre, const char *unit, int n, const char *mid, const char *unit2,
                     int n2, const char *post)
{
    Str b = {0};
    put(&b, "%s", pre);
    for (int i = 0; i < n; i++)
        put(&b, "%s", unit);
    put(&b, "%s", mid);
    for (int i = 0; i < n2; i++)
        put(&b, "%s", unit2);
    put(&b, "%s", post);
    return b.s;
}

static void test_limits(void)
{
    char *t = repeat3("x = ", "(", 200, "1", ")", 200, "\n");
    Parse *p = parse(t);
    CHECK(!diag_failed(&p->diag), "200 parens are fine: %s", p->err);
    done(p);
    free(t);

    t = repeat3("x = ", "(", 201, "1", ")", 201, "\n");
    p = parse(t);
    CHECK(p->diag.errors == 1 && strstr(p->err, "1:205: error: nesting too deep (more than 200 levels)"),
          "201 parens: %s", p->err);
    done(p);
    free(t);

    t = repeat3("x = ", "[", 100000, "1", "]", 100000, "\ny = 2\n");
    p = parse(t);
    CHECK(p->diag.errors == 1 && strstr(p->err, "nesting too deep (more than 200 levels)"),
          "deep brackets reported once: %d", p->diag.errors);
    done(p);
    free(t);

    t = repeat3("", "plate i in 1..N {\n", 300, "", "}\n", 300, "");
    p = parse(t);
    CHECK(p->diag.errors == 1 && tree_depth(p->prog) <= CM_PARSE_MAX_DEPTH, "deep blocks: %s", p->err);
    done(p);
    free(t);

    /* deep trees without brackets: refused, never built */
    static const char *const units[] = {"-", "!", "a + ", "a ^ ", "c ? a : ", "a || ", "a ^ -"};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        t = repeat3("y = 1\nx = ", units[i], 50000, "b", "", 0, "\nz = 2\n");
        p = parse(t);
        CHECK(p->diag.errors == 1 && strstr(p->err, "nested too deeply"), "'%s' x 50000: %d errors: %.200s",
              units[i], p->diag.errors, p->err);
        CHECK(tree_depth(p->prog) <= CM_PARSE_MAX_DEPTH, "depth bound for '%s'", units[i]);
        CHECK(p->prog->nkids == 1 && strcmp(sx(p->prog->kids[0]), "(ASSIGN y _ 1)") == 0,
              "statements before the deep one survive ('%s')", units[i]);
        done(p);
        free(t);
    }
    t = repeat3("x = a", "[1]", 5000, "", "", 0, "\n");
    p = parse(t);
    CHECK(p->diag.errors == 1 && tree_depth(p->prog) <= CM_PARSE_MAX_DEPTH, "index chain: %s", p->err);
    done(p);
    free(t);
    t = repeat3("if a {}", " else if a {}", 20000, "", "", 0, "\n");
    p = parse(t);
    CHECK(p->diag.errors == 1 && tree_depth(p->prog) <= CM_PARSE_MAX_DEPTH, "else-if chain: %.200s",
          p->err);
    done(p);
    free(t);

    /* moderately deep is fine; the bound is on the tree, not the text */
    t = repeat3("x = ", "a + ", 200, "b", "", 0, "\n");
    p = parse(t);
    CHECK(!diag_failed(&p->diag), "200 terms are fine: %.200s", p->err);
    CHECK(tree_depth(p->prog) == 203, "depth of 200 terms: %d", tree_depth(p->prog));
    done(p);
    free(t);

    /* long flat lists do not nest */
    t = repeat3("x = f(0", ", 1", 100000, "", "", 0, ")\n");
    p = parse(t);
    CHECK(!diag_failed(&p->diag) && p->prog->kids[0]->kids[2]->nkids == 100001, "100001 arguments");
    done(p);
    free(t);
    t = repeat3("", "x = 1\n", 100000, "", "", 0, "");
    p = parse(t);
    CHECK(!diag_failed(&p->diag) && p->prog->nkids == 100000, "100000 statements");
    done(p);
    free(t);
    /* many newlines after a statement followed by 'else' or nothing: linear */
    t = repeat3("if a { }", "\n# c\n", 200000, "else { }", "", 0, "\n");
    p = parse(t);
    CHECK(!diag_failed(&p->diag) && p->prog->nkids == 1, "else after 200000 comment lines");
    done(p);
    free(t);
}

/* ---- odd inputs --------------------------------------------------------------------- */

static void test_odd_inputs(void)
{
    Source s = {"t.cm", NULL, 0};
    Diag d;
    diag_init(&d, &s);
    AstArena *a = ast_arena_new();
    AstNode *prog = cm_parse(&s, a, &d);
    CHECK(prog && prog->kind == AST_PROGRAM && prog->nkids == 0 && !diag_failed(&d),
          "NULL text is an empty program");
    ast_arena_free(a);

    /* every prefix of a valid program either parses or fails cleanly */
    const char *prog_text = design_programs[0];
    size_t n = strlen(prog_text);
    int clean = 1;
    for (size_t i = 0; i <= n; i++) {
        char *cut = malloc(i + 1);
        memcpy(cut, prog_text, i);
        cut[i] = '\0';
        Parse *p = parse(cut);
        if (!p->prog || p->prog->kind != AST_PROGRAM)
            clean = 0;
        if (diag_failed(&p->diag) && !strstr(p->err, "error:"))
            clean = 0;
        done(p);
        free(cut);
    }
    CHECK(clean, "prefixes of the eight-schools program");

    /* fuzz regression: looking past a newline for `else` must stop at the
     * sentinel (memcmp read 4 bytes past the end of a heap copy) */
    static const char *const tails[] = {"x = 1\n", "x = 1\ne", "x = 1\nel", "x = 1\nels",
                                        "if a {}\nelse {}", "x = 1\n#"};
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        size_t len = strlen(tails[i]);
        char *copy = malloc(len + 1); /* exact size, as source_read and the fuzzer allocate */
        memcpy(copy, tails[i], len + 1);
        Parse *q = parse_len(copy, len);
        CHECK(q->prog->kind == AST_PROGRAM, "tail %zu", i);
        done(q);
        free(copy);
    }

    /* a UTF-8 byte order mark at the start is skipped; anywhere else it is an error */
    PARSES_AS("\xEF\xBB\xBFx = 1", "(ASSIGN x _ 1)");
    FAILS_WITH("x = 1\n\xEF\xBB\xBFy = 2", "2:1: error: unexpected character");

    /* the file does not end with a newline */
    PARSES_AS("x = 1", "(ASSIGN x _ 1)");
    FAILS_WITH("x = (1", "1:7: error: unexpected end of file: '(' opened at 1:5 is not closed");
}

/* ---- the AST module --------------------------------------------------------------- */

static long deep_lines;

/* A FILE that counts lines and keeps nothing. */
static ssize_t count_lines(void *cookie, const char *buf, size_t size)
{
    (void)cookie;
    for (size_t i = 0; i < size; i++)
        deep_lines += buf[i] == '\n';
    return (ssize_t)size;
}

static void *print_counting(void *root)
{
    cookie_io_functions_t io = {NULL, count_lines, NULL, NULL};
    FILE *f = fopencookie(NULL, "w", io);
    if (!f)
        return NULL;
    ast_print(f, root, 0);
    fclose(f);
    return NULL;
}

static void test_ast_module(void)
{
    AstArena *a = ast_arena_new();
    AstNode *n = ast_node(a, AST_CALL, 3, 4);
    CHECK(n->kind == AST_CALL && n->line == 3 && n->col == 4 && n->nkids == 0 && !n->kids &&
              !n->name && !n->sym && !n->ty && n->ival == 0,
          "ast_node is zeroed");
    for (int i = 0; i < 1000; i++)
        ast_add(a, n, i % 7 == 0 ? NULL : ast_node(a, AST_INT, 1, i + 1));
    int ok = n->nkids == 1000;
    for (int i = 0; i < 1000; i++)
        ok &= i % 7 == 0 ? n->kids[i] == NULL : n->kids[i]->col == i + 1;
    CHECK(ok, "ast_add keeps 1000 kids in order, NULLs included");

    char *big = ast_alloc(a, 1 << 20);
    int zero = 1;
    for (int i = 0; i < 1 << 20; i++)
        zero &= big[i] == 0;
    CHECK(zero, "big allocations are zeroed");
    memset(big, 0xab, 1 << 20);
    char *small = ast_alloc(a, 24);
    CHECK(small[0] == 0 && small[23] == 0 && ((size_t)small % _Alignof(max_align_t)) == 0,
          "small allocation after a big one is zeroed and aligned");
    char *s = ast_strdup(a, "hello world", 5);
    CHECK(strcmp(s, "hello") == 0, "ast_strdup copies n bytes");

    CHECK(strcmp(ast_kind_name(AST_PROGRAM), "PROGRAM") == 0 &&
              strcmp(ast_kind_name(AST_VECTOR), "VECTOR") == 0 &&
              strcmp(ast_kind_name(AST_SAMPLE), "SAMPLE") == 0,
          "ast_kind_name");
    CHECK(strcmp(ast_kind_name((AstKind)999), "?") == 0, "unknown kind");
    ast_arena_free(a);
    ast_arena_free(NULL);

    Parse *p = parse("y ~ Normal(mu, 1) T[0, ]\nx = -a != 2.5\nextern fn f(x: real) -> real from "
                     "\"l\\\"m\" grad \"g\"\n");
    FILE *f = tmpfile();
    ast_print(f, p->prog, 0);
    rewind(f);
    char out[2048];
    size_t len = fread(out, 1, sizeof out - 1, f);
    out[len] = '\0';
    fclose(f);
    const char *want = "PROGRAM 1:1\n"
                       "  SAMPLE 1:1\n"
                       "    IDENT y 1:1\n"
                       "    -\n"
                       "    CALL Normal 1:5\n"
                       "      IDENT mu 1:12\n"
                       "      INT 1 1:16\n"
                       "    TRUNC 1:19\n"
                       "      INT 0 1:21\n"
                       "      -\n"
                       "  ASSIGN 2:1\n"
                       "    IDENT x 2:1\n"
                       "    -\n"
                       "    BINOP != 2:8\n"
                       "      UNOP - 2:5\n"
                       "        IDENT a 2:6\n"
                       "      REAL 2.5 2:11\n"
                       "  EXTERN f from \"l\\\"m\" 3:1\n"
                       "    PARAMS 3:12\n"
                       "      PARAM x 3:13\n"
                       "        TYPE real 3:16\n"
                       "    TYPE real 3:25\n"
                       "    STRING \"g\" 3:47\n";
    CHECK(strcmp(out, want) == 0, "ast_print:\n%s", out);
    done(p);

    /* the printer does not recurse: a 10000-deep hand-built chain prints
     * from a thread with a 128 KiB stack, which recursion would overflow */
    a = ast_arena_new();
    AstNode *root = ast_node(a, AST_UNOP, 1, 1), *cur = root;
    for (int i = 0; i < 10000; i++) {
        AstNode *k = ast_node(a, AST_UNOP, 1, 1);
        k->op = '-';
        ast_add(a, cur, k);
        cur = k;
    }
    pthread_attr_t attr;
    pthread_t th;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    int started = pthread_create(&th, &attr, print_counting, root) == 0;
    CHECK(started, "thread for the deep print");
    if (started)
        pthread_join(th, NULL);
    pthread_attr_destroy(&attr);
    CHECK(deep_lines == 10001, "deep print wrote %ld lines", deep_lines);
    ast_arena_free(a);
}

int main(void)
{
    test_design_programs();
    test_statements();
    test_expressions();
    test_lexing();
    test_positions();
    test_errors();
    test_lexical_errors();
    test_recovery();
    test_limits();
    test_odd_inputs();
    test_ast_module();
    return check_done();
}
