/*
 * parser.y - the cm grammar (Bison): tokens in, AstNode tree out.
 *
 * A pure (reentrant) LALR(1) parser with locations.  All state shared with
 * the lexer (grammar/lexer.re) lives in one CmParseState passed to both, so
 * several sources can be parsed at once and nothing is global.
 *
 * Design choices, and why:
 *
 * - Node shapes are fixed by compiler/ast.h; each action builds exactly the
 *   shape documented there.  Lists (call arguments, vector elements, type
 *   dimensions, index items, parameters, block statements) are grown in
 *   place on the final node by left-recursive rules that start from an
 *   "opener" rule (call_open: NAME '(' creates the CALL node), so no
 *   temporary list nodes are built and Bison's stack stays flat for long
 *   lists.
 *
 * - Positions: a node carries the line:col of its first token, except the
 *   operator-shaped nodes BINOP, COND and SLICE, which carry the position of
 *   their operator ('+', '?', '..'), where an error about them is best
 *   pointed.  An INDEX carries the start of the indexed expression.
 *
 * - Depth.  Later passes recurse over the tree, so the parser refuses to
 *   build one deeper than CM_PARSE_MAX_DEPTH.  Nodes are allocated with a
 *   hidden depth field (ParsedNode) that add() keeps current; a child that
 *   would make its parent too deep is the error "nested too deeply", after
 *   which parsing stops (the lexer returns end of file) and no further
 *   statement joins the program.  Brackets are capped separately by the
 *   lexer at CM_PARSE_MAX_NESTING.  Bison's own stack is heap-allocated and
 *   bounded by YYMAXDEPTH; exhausting it gets the same plain message.
 *
 * - Errors.  parse.error custom + LAC (lookahead correction, which makes the
 *   set of expected tokens exact) let yyreport_syntax_error() phrase each
 *   message in plain words from the unexpected token, the expected set, the
 *   lexer's stack of open brackets and the tokens just read: "unexpected
 *   end of file: '{' opened at 4:12 is not closed", "missing '~' or '='
 *   after 'x'".  Recovery is at statement level: an `error` item in a
 *   statement list resynchronises at the next newline, ';' or '}'.  Default
 *   reductions are limited to the accepting state, so the state right after
 *   `error` consults the lookahead and discards junk tokens itself; with
 *   default reductions it would first reduce the error item into the
 *   enclosing list, and the next junk token would then pop the whole
 *   enclosing block.  Right after an error the lexer forgets the ( and [
 *   still open in the broken statement (cm_lex_recover), so newlines
 *   separate statements again and one bad bracket cannot swallow the rest
 *   of the file.
 *
 * - api.prefix cm_yy keeps Bison's globals (cm_yyparse) out of the way of
 *   any other generated parser linked into the same program.
 *
 * - Statements that expand to several (`latent u, v` gives one LATENT node
 *   per name) are returned as a "group" node that add_stmt() flattens into
 *   the enclosing list.
 */

%code requires {
#include "ast.h"
#include "diag.h"
#include "parse.h"

/* One token as the lexer saw it, kept for error messages. */
typedef struct {
    int kind;               /* token kind (yytoken_kind_t), 0 for none */
    const char *start, *end;
    int line, col;
} CmToken;

/* An open bracket: '(', '[', '{' or 'T' for the truncation opener "T[". */
typedef struct {
    char kind;
    int line, col;
} CmBracket;

typedef struct CmParseState {
    const Source *src;
    Diag *diag;
    AstArena *arena;
    AstNode *program;       /* statements are added as they complete */
    int fatal;              /* stop: lexer returns end of file, no reports */

    /* lexer */
    const unsigned char *cur, *lim, *line_start;
    int line;
    int continue_line;      /* the next token continues this line ('{', else) */
    CmToken last;           /* the token returned last (the lookahead) */
    CmToken before;         /* the token before it */
    CmToken head;           /* first token of the current statement */
    int last_pushed;        /* `last` opened a bracket */
    int last_unmatched;     /* `last` is a closer with no matching opener */
    int last_closed;        /* `last` closed the bracket in `closed` */
    CmBracket closed;
    const unsigned char *stray_end; /* end of the last stray character */
    CmBracket open[CM_PARSE_MAX_NESTING];
    int nopen;
} CmParseState;
}

%code provides {
int cm_lex(CM_YYSTYPE *lval, CM_YYLTYPE *lloc, CmParseState *ps);
/* After a syntax error: forget brackets opened by the broken statement. */
void cm_lex_recover(CmParseState *ps);
}

%code {
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define cm_yylex cm_lex

/* Every parser-built node carries its subtree depth (see the essay). */
typedef struct {
    AstNode node;           /* first member: a ParsedNode* is an AstNode* */
    int depth;
    int group;              /* a list of statements to splice, not a node */
} ParsedNode;

static ParsedNode *pn(AstNode *n) { return (ParsedNode *)n; }

static AstNode *mk(CmParseState *ps, AstKind k, YYLTYPE loc)
{
    ParsedNode *p = ast_alloc(ps->arena, sizeof *p);
    p->node.kind = k;
    p->node.line = loc.first_line;
    p->node.col = loc.first_column;
    p->depth = 1;
    return &p->node;
}

static void too_deep(CmParseState *ps, const AstNode *at)
{
    if (ps->fatal)
        return;
    diag_error(ps->diag, at->line, at->col,
               "nested too deeply: the program's structure would be more "
               "than %d levels deep; split this into smaller steps",
               CM_PARSE_MAX_DEPTH);
    ps->fatal = 1;
}

/* Append a child (NULL allowed), keeping the depth bound. */
static void add(CmParseState *ps, AstNode *parent, AstNode *kid)
{
    int d = kid ? pn(kid)->depth + 1 : 2;
    if (d > CM_PARSE_MAX_DEPTH) {
        too_deep(ps, kid ? kid : parent);
        ast_add(ps->arena, parent, NULL);
        return;
    }
    ast_add(ps->arena, parent, kid);
    if (d > pn(parent)->depth)
        pn(parent)->depth = d;
}

static AstNode *mk1(CmParseState *ps, AstKind k, YYLTYPE loc, AstNode *a)
{
    AstNode *n = mk(ps, k, loc);
    add(ps, n, a);
    return n;
}

static AstNode *mk2(CmParseState *ps, AstKind k, YYLTYPE loc, AstNode *a,
                    AstNode *b)
{
    AstNode *n = mk1(ps, k, loc, a);
    add(ps, n, b);
    return n;
}

static AstNode *mk3(CmParseState *ps, AstKind k, YYLTYPE loc, AstNode *a,
                    AstNode *b, AstNode *c)
{
    AstNode *n = mk2(ps, k, loc, a, b);
    add(ps, n, c);
    return n;
}

static AstNode *named(AstNode *n, const char *name)
{
    n->name = name;
    return n;
}

static AstNode *binop(CmParseState *ps, int op, YYLTYPE loc, AstNode *l,
                      AstNode *r)
{
    AstNode *n = mk2(ps, AST_BINOP, loc, l, r);
    n->op = op;
    return n;
}

static AstNode *unop(CmParseState *ps, int op, YYLTYPE loc, AstNode *e)
{
    AstNode *n = mk1(ps, AST_UNOP, loc, e);
    n->op = op;
    return n;
}

/* Add a statement (or a group of them) to a statement list. */
static void add_stmt(CmParseState *ps, AstNode *list, AstNode *stmt)
{
    if (!stmt)
        return;
    if (!pn(stmt)->group) {
        add(ps, list, stmt);
        return;
    }
    for (int i = 0; i < stmt->nkids; i++)
        add(ps, list, stmt->kids[i]);
}

static void cm_yyerror(CM_YYLTYPE *loc, CmParseState *ps, const char *msg);
}

%define api.pure full
%define api.prefix {cm_yy}
%define api.token.prefix {TOK_}
%define parse.error custom
%define parse.lac full
%define lr.default-reduction accepting
%locations
%param {CmParseState *ps}
%expect 0

%union {
    AstNode *node;
    const char *str;
    long ival;
    double num;
}

%token <str>  NAME "name"
%token <ival> INT "integer"
%token <num>  REAL "real number"
%token <str>  STRING "string"
%token NEWLINE "end of line"
%token DATA "data" FN "fn" EXTERN "extern" FROM "from" GRAD "grad"
       RETURN "return" PLATE "plate" FOR "for" IN "in" IF "if" ELSE "else"
       SUBSAMPLE "subsample" TRUE "true" FALSE "false" LATENT "latent"
       FACTOR "factor" GUIDE "guide" PARAM "param"
%token PLUS "+" MINUS "-" STAR "*" SLASH "/" CARET "^" PERCENT "%"
       EMUL ".*" EDIV "./" EQ "==" NE "!=" LT "<" LE "<=" GT ">" GE ">="
       AND "&&" OR "||" NOT "!" ASSIGN "=" TILDE "~" COLON ":" COMMA ","
       SEMI ";" LPAREN "(" RPAREN ")" LBRACK "[" RBRACK "]" LBRACE "{"
       RBRACE "}" DOTDOT ".." ARROW "->" QUESTION "?" TOPEN "T["

%right "?" ":"
%left "||"
%left "&&"
%left "==" "!="
%left "<" "<=" ">" ">="
%left "+" "-"
%left "*" "/" "%" ".*" "./"
%precedence UNARY
%right "^"

%type <node> stmt target tindex_list target_open dist call call_open call_list
             trunc bound subsample block block_list block_open
             block_item if_stmt params param_list params_open param type
             type_open type_dims grad names expr postfix primary index_list
             index_open item vec_list

%%

program
    : top_list
    ;

top_list
    : top_item
    | top_list sep top_item
    ;

top_item
    : %empty
    | stmt                      { if (!ps->fatal) add_stmt(ps, ps->program, $1); }
    | error
    ;

sep : NEWLINE | ";" ;

block
    : block_list "}"            { $$ = $1; }
    ;

block_list
    : block_open block_item     { add_stmt(ps, $1, $2); $$ = $1; }
    | block_list sep block_item { add_stmt(ps, $1, $3); $$ = $1; }
    ;

block_open
    : "{"                       { $$ = mk(ps, AST_BLOCK, @1); }
    ;

block_item
    : %empty                    { $$ = NULL; }
    | stmt
    | error                     { $$ = NULL; }
    ;

stmt
    : "data" NAME ":" type      { $$ = named(mk1(ps, AST_DATA, @1, $4), $2); }
    | NAME ":" type             { $$ = named(mk1(ps, AST_DECL, @1, $3), $1); }
    | NAME ":" type "~" dist trunc
        {
            $$ = mk3(ps, AST_SAMPLE, @1, named(mk(ps, AST_IDENT, @1), $1), $3, $5);
            add(ps, $$, $6);
        }
    | NAME ":" type "=" expr
        { $$ = mk3(ps, AST_ASSIGN, @1, named(mk(ps, AST_IDENT, @1), $1), $3, $5); }
    | target "~" dist trunc
        {
            $$ = mk3(ps, AST_SAMPLE, @1, $1, NULL, $3);
            add(ps, $$, $4);
        }
    | target "=" expr           { $$ = mk3(ps, AST_ASSIGN, @1, $1, NULL, $3); }
    | "plate" NAME "in" expr ".." expr subsample block
        {
            $$ = named(mk3(ps, AST_PLATE, @1, $4, $6, $8), $2);
            add(ps, $$, $7);
        }
    | "for" NAME "in" expr ".." expr block
        { $$ = named(mk3(ps, AST_FOR, @1, $4, $6, $7), $2); }
    | if_stmt
    | "fn" NAME params "->" type "=" expr
        { $$ = named(mk3(ps, AST_FN, @1, $3, $5, $7), $2); }
    | "fn" NAME params "->" type block
        { $$ = named(mk3(ps, AST_FN, @1, $3, $5, $6), $2); }
    | "extern" "fn" NAME params "->" type "from" STRING grad
        {
            $$ = named(mk3(ps, AST_EXTERN, @1, $4, $6, $9), $3);
            $$->str = $8;
        }
    | "return" expr             { $$ = mk1(ps, AST_RETURN, @1, $2); }
    | "factor" "(" expr ")"     { $$ = mk1(ps, AST_FACTOR, @1, $3); }
    | "latent" names            { $$ = $2; }
    | "guide" block             { $$ = mk1(ps, AST_GUIDE, @1, $2); }
    | "param" NAME ":" type "=" expr
        { $$ = named(mk2(ps, AST_GUIDE_PARAM, @1, $4, $6), $2); }
    ;

target
    : NAME                      { $$ = named(mk(ps, AST_IDENT, @1), $1); }
    | tindex_list "]"           { $$ = $1; }
    ;

target_open
    : NAME "["
        { $$ = mk1(ps, AST_INDEX, @1, named(mk(ps, AST_IDENT, @1), $1)); }
    ;

tindex_list
    : target_open item          { add(ps, $1, $2); $$ = $1; }
    | tindex_list "," item      { add(ps, $1, $3); $$ = $1; }
    ;

dist
    : call
    ;

trunc
    : %empty                    { $$ = NULL; }
    | "T[" bound "," bound "]"  { $$ = mk2(ps, AST_TRUNC, @1, $2, $4); }
    ;

bound
    : %empty                    { $$ = NULL; }
    | expr
    ;

subsample
    : %empty                    { $$ = NULL; }
    | "subsample" expr          { $$ = $2; }
    ;

if_stmt
    : "if" expr block           { $$ = mk3(ps, AST_IF, @1, $2, $3, NULL); }
    | "if" expr block "else" block
        { $$ = mk3(ps, AST_IF, @1, $2, $3, $5); }
    | "if" expr block "else" if_stmt
        { $$ = mk3(ps, AST_IF, @1, $2, $3, $5); }
    ;

params
    : params_open ")"           { $$ = $1; }
    | param_list ")"            { $$ = $1; }
    ;

params_open
    : "("                       { $$ = mk(ps, AST_PARAMS, @1); }
    ;

param_list
    : params_open param         { add(ps, $1, $2); $$ = $1; }
    | param_list "," param      { add(ps, $1, $3); $$ = $1; }
    ;

param
    : NAME ":" type             { $$ = named(mk1(ps, AST_PARAM, @1, $3), $1); }
    ;

type
    : NAME                      { $$ = named(mk(ps, AST_TYPE, @1), $1); }
    | type_dims "]"             { $$ = $1; }
    ;

type_open
    : NAME "["                  { $$ = named(mk(ps, AST_TYPE, @1), $1); }
    ;

type_dims
    : type_open expr            { add(ps, $1, $2); $$ = $1; }
    | type_dims "," expr        { add(ps, $1, $3); $$ = $1; }
    ;

grad
    : %empty                    { $$ = NULL; }
    | "grad" STRING             { $$ = mk(ps, AST_STRING, @2); $$->str = $2; }
    ;

names
    : NAME
        {
            $$ = mk(ps, AST_BLOCK, @1);
            pn($$)->group = 1;
            add(ps, $$, named(mk(ps, AST_LATENT, @1), $1));
        }
    | names "," NAME
        { add(ps, $1, named(mk(ps, AST_LATENT, @3), $3)); $$ = $1; }
    ;

expr
    : postfix
    | "-" expr %prec UNARY      { $$ = unop(ps, '-', @1, $2); }
    | "!" expr %prec UNARY      { $$ = unop(ps, '!', @1, $2); }
    | expr "^" expr             { $$ = binop(ps, '^', @2, $1, $3); }
    | expr "*" expr             { $$ = binop(ps, '*', @2, $1, $3); }
    | expr "/" expr             { $$ = binop(ps, '/', @2, $1, $3); }
    | expr "%" expr             { $$ = binop(ps, '%', @2, $1, $3); }
    | expr ".*" expr            { $$ = binop(ps, AST_OP_EMUL, @2, $1, $3); }
    | expr "./" expr            { $$ = binop(ps, AST_OP_EDIV, @2, $1, $3); }
    | expr "+" expr             { $$ = binop(ps, '+', @2, $1, $3); }
    | expr "-" expr             { $$ = binop(ps, '-', @2, $1, $3); }
    | expr "<" expr             { $$ = binop(ps, '<', @2, $1, $3); }
    | expr "<=" expr            { $$ = binop(ps, AST_OP_LE, @2, $1, $3); }
    | expr ">" expr             { $$ = binop(ps, '>', @2, $1, $3); }
    | expr ">=" expr            { $$ = binop(ps, AST_OP_GE, @2, $1, $3); }
    | expr "==" expr            { $$ = binop(ps, AST_OP_EQ, @2, $1, $3); }
    | expr "!=" expr            { $$ = binop(ps, AST_OP_NE, @2, $1, $3); }
    | expr "&&" expr            { $$ = binop(ps, AST_OP_AND, @2, $1, $3); }
    | expr "||" expr            { $$ = binop(ps, AST_OP_OR, @2, $1, $3); }
    | expr "?" expr ":" expr    { $$ = mk3(ps, AST_COND, @2, $1, $3, $5); }
    ;

postfix
    : primary
    | call
    | index_list "]"            { $$ = $1; }
    ;

index_open
    : postfix "["               { $$ = mk1(ps, AST_INDEX, @1, $1); }
    ;

index_list
    : index_open item           { add(ps, $1, $2); $$ = $1; }
    | index_list "," item       { add(ps, $1, $3); $$ = $1; }
    ;

item
    : expr
    | expr ".." expr            { $$ = mk2(ps, AST_SLICE, @2, $1, $3); }
    | ":"                       { $$ = mk(ps, AST_ALL, @1); }
    ;

call
    : call_open ")"             { $$ = $1; }
    | call_list ")"             { $$ = $1; }
    ;

call_open
    : NAME "("                  { $$ = named(mk(ps, AST_CALL, @1), $1); }
    ;

call_list
    : call_open expr            { add(ps, $1, $2); $$ = $1; }
    | call_list "," expr        { add(ps, $1, $3); $$ = $1; }
    ;

primary
    : INT                       { $$ = mk(ps, AST_INT, @1); $$->ival = $1; }
    | REAL                      { $$ = mk(ps, AST_REAL, @1); $$->num = $1; }
    | "true"                    { $$ = mk(ps, AST_BOOL, @1); $$->ival = 1; }
    | "false"                   { $$ = mk(ps, AST_BOOL, @1); $$->ival = 0; }
    | NAME                      { $$ = named(mk(ps, AST_IDENT, @1), $1); }
    | "(" expr ")"              { $$ = $2; }
    | vec_list "]"              { $$ = $1; }
    ;

vec_list
    : "[" expr                  { $$ = mk1(ps, AST_VECTOR, @1, $2); }
    | vec_list "," expr         { add(ps, $1, $3); $$ = $1; }
    ;

%%

/* ---- error messages ------------------------------------------------------ */

typedef struct {
    char text[640];
    size_t len;
} Msg;

static void say(Msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(Msg *m, const char *fmt, ...)
{
    size_t room = sizeof m->text - m->len;
    if (room <= 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->text + m->len, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        m->len += (size_t)n < room ? (size_t)n : room - 1;
}

/* Source text of a token, shortened for a message. */
static void say_text(Msg *m, const char *start, const char *end)
{
    int n = (int)(end - start);
    if (n > 40)
        say(m, "%.37s...", start);
    else
        say(m, "%.*s", n, start);
}

/* "'+'", "'data'": a token spelled in quotes, from its Bison alias. */
static void say_symbol(Msg *m, yysymbol_kind_t s)
{
    say(m, "'%s'", yysymbol_name(s));
}

/* The unexpected token, in words. */
static void say_token(Msg *m, yysymbol_kind_t s, const CmToken *t)
{
    switch (s) {
    case YYSYMBOL_YYEOF: say(m, "end of file"); break;
    case YYSYMBOL_NEWLINE: say(m, "end of line"); break;
    case YYSYMBOL_NAME: say(m, "name '"); say_text(m, t->start, t->end); say(m, "'"); break;
    case YYSYMBOL_INT:
    case YYSYMBOL_REAL: say(m, "number '"); say_text(m, t->start, t->end); say(m, "'"); break;
    case YYSYMBOL_STRING: say(m, "string"); break;
    case YYSYMBOL_YYerror:
    case YYSYMBOL_YYUNDEF: say(m, "input"); break;
    default: say_symbol(m, s); break;
    }
}

typedef struct {
    yysymbol_kind_t set[YYNTOKENS];
    int n;
} Expected;

static int expects(const Expected *e, yysymbol_kind_t s)
{
    for (int i = 0; i < e->n; i++)
        if (e->set[i] == s)
            return 1;
    return 0;
}

static void drop(Expected *e, yysymbol_kind_t s)
{
    for (int i = 0; i < e->n; i++)
        if (e->set[i] == s)
            e->set[i] = YYSYMBOL_YYEMPTY;
}

static int is_binary_operator(yysymbol_kind_t s)
{
    switch (s) {
    case YYSYMBOL_PLUS: case YYSYMBOL_MINUS: case YYSYMBOL_STAR:
    case YYSYMBOL_SLASH: case YYSYMBOL_CARET: case YYSYMBOL_PERCENT:
    case YYSYMBOL_EMUL: case YYSYMBOL_EDIV: case YYSYMBOL_EQ: case YYSYMBOL_NE:
    case YYSYMBOL_LT: case YYSYMBOL_LE: case YYSYMBOL_GT: case YYSYMBOL_GE:
    case YYSYMBOL_AND: case YYSYMBOL_OR: case YYSYMBOL_QUESTION:
        return 1;
    default:
        return 0;
    }
}

static const yysymbol_kind_t expr_starts[] = {
    YYSYMBOL_NAME, YYSYMBOL_INT, YYSYMBOL_REAL, YYSYMBOL_TRUE, YYSYMBOL_FALSE,
    YYSYMBOL_LPAREN, YYSYMBOL_LBRACK, YYSYMBOL_MINUS, YYSYMBOL_NOT,
};
static const yysymbol_kind_t stmt_starts[] = {
    YYSYMBOL_NAME, YYSYMBOL_DATA, YYSYMBOL_FN, YYSYMBOL_EXTERN,
    YYSYMBOL_RETURN, YYSYMBOL_PLATE, YYSYMBOL_FOR, YYSYMBOL_IF,
    YYSYMBOL_LATENT, YYSYMBOL_FACTOR, YYSYMBOL_GUIDE, YYSYMBOL_PARAM,
};

/* Turn the expected set into at most a few phrases: "an expression",
 * "an operator", "end of line", or single tokens.  Returns the count. */
static int expected_phrases(Expected *e, const CmToken *before,
                            const char *phrase[], char quoted[][16], int max)
{
    int n = 0;
    int eol = expects(e, YYSYMBOL_NEWLINE) || expects(e, YYSYMBOL_SEMI);
    int eof_only = !eol && expects(e, YYSYMBOL_YYEOF);
    if (expects(e, YYSYMBOL_DATA)) {
        phrase[n++] = "a statement";
        for (size_t i = 0; i < sizeof stmt_starts / sizeof *stmt_starts; i++)
            drop(e, stmt_starts[i]);
    }
    if (expects(e, YYSYMBOL_INT)) {
        phrase[n++] = "an expression";
        for (size_t i = 0; i < sizeof expr_starts / sizeof *expr_starts; i++)
            drop(e, expr_starts[i]);
    }
    int ops = expects(e, YYSYMBOL_PLUS);
    for (int i = 0; i < e->n; i++) {
        yysymbol_kind_t s = e->set[i];
        if (s == YYSYMBOL_YYEMPTY || s == YYSYMBOL_NEWLINE || s == YYSYMBOL_SEMI ||
            s == YYSYMBOL_YYEOF || s == YYSYMBOL_YYerror ||
            (ops && is_binary_operator(s)))
            continue;
        /* '(' and '[' after a name, and "T[" after a distribution, are
         * continuations that are rarely what was meant. */
        if ((s == YYSYMBOL_LPAREN || s == YYSYMBOL_LBRACK || s == YYSYMBOL_TOPEN) &&
            e->n > 1)
            continue;
        if (n >= max)
            return max + 1;
        if (s == YYSYMBOL_NAME)
            phrase[n++] = before->kind == TOK_COLON || before->kind == TOK_ARROW
                              ? "a type" : "a name";
        else if (s == YYSYMBOL_STRING)
            phrase[n++] = "a string in double quotes";
        else {
            snprintf(quoted[n], 16, "'%.12s'", yysymbol_name(s));
            phrase[n] = quoted[n];
            n++;
        }
    }
    if (ops && n < max)
        phrase[n++] = "an operator";
    if ((eol || eof_only) && n < max)
        phrase[n++] = eol ? "end of line" : "end of file";
    return n;
}

static void say_list(Msg *m, const char *phrase[], int n)
{
    for (int i = 0; i < n; i++)
        say(m, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", phrase[i]);
}

static const char *closer_of(char open)
{
    return open == '(' ? ")" : open == '{' ? "}" : "]";
}

static const char *opener_text(char open)
{
    return open == '(' ? "(" : open == '{' ? "{" : open == '[' ? "[" : "T[";
}

static yysymbol_kind_t closer_symbol(char open)
{
    return open == '(' ? YYSYMBOL_RPAREN : open == '{' ? YYSYMBOL_RBRACE
                                                       : YYSYMBOL_RBRACK;
}

static void report(CmParseState *ps, const YYLTYPE *loc, const Msg *m,
                   const CmBracket *note)
{
    diag_error(ps->diag, loc->first_line, loc->first_column, "%s", m->text);
    if (note)
        diag_note(ps->diag, note->line, note->col, "'%s' opened here",
                  opener_text(note->kind));
}

static int yyreport_syntax_error(const yypcontext_t *ctx, CmParseState *ps)
{
    if (ps->fatal)
        return 0;
    yysymbol_kind_t la = yypcontext_token(ctx);
    const YYLTYPE *loc = yypcontext_location(ctx);
    Expected e;
    e.n = yypcontext_expected_tokens(ctx, e.set, YYNTOKENS);
    if (e.n < 0)
        e.n = 0;
    const CmToken *t = &ps->last, *before = &ps->before;
    /* The innermost bracket open just before the unexpected token. */
    int depth = ps->nopen - (ps->last_pushed ? 1 : 0);
    const CmBracket *open = ps->last_closed ? &ps->closed
                            : depth > 0     ? &ps->open[depth - 1]
                                            : NULL;
    Msg m = {{0}, 0};
    const CmBracket *note = NULL;

    if (la == YYSYMBOL_YYEOF && open) {
        say(&m, "unexpected end of file: '%s' opened at %d:%d is not closed",
            opener_text(open->kind), open->line, open->col);
        note = open;
    } else if (la == YYSYMBOL_ELSE && !expects(&e, YYSYMBOL_ELSE)) {
        say(&m, "'else' without a matching 'if'");
    } else if (open && open->kind == 'T' &&
               ((la == YYSYMBOL_COMMA && expects(&e, YYSYMBOL_RBRACK)) ||
                (la == YYSYMBOL_RBRACK && expects(&e, YYSYMBOL_COMMA)))) {
        say(&m, "truncation 'T[lo, hi]' takes exactly two bounds (either may "
                "be empty, as in T[0, ])");
    } else if (la == YYSYMBOL_RBRACK && before->kind == TOK_LBRACK) {
        if (expects(&e, YYSYMBOL_COLON))
            say(&m, "empty index '[]': give at least one index");
        else
            say(&m, "empty '[]': a vector literal needs at least one element, and an array "
                    "type needs its size (real[N])");
    } else if (expects(&e, YYSYMBOL_TILDE) && expects(&e, YYSYMBOL_ASSIGN) &&
               !expects(&e, YYSYMBOL_NEWLINE)) {
        const CmToken *h = &ps->head;
        say(&m, "missing '~' or '=' after '");
        if (h->start && h->start < before->end && h->line == before->line &&
            before->end - h->start <= 40)
            say_text(&m, h->start, before->end);
        else
            say_text(&m, before->start, before->end);
        say(&m, "'");
    } else if (before->kind == TOK_NAME && expects(&e, YYSYMBOL_COLON) && e.n == 1) {
        say(&m, "missing ':' and a type after '");
        say_text(&m, before->start, before->end);
        say(&m, "', as in '");
        say_text(&m, before->start, before->end);
        say(&m, ": real'");
    } else if (before->kind == TOK_TILDE && expects(&e, YYSYMBOL_NAME) && e.n == 1) {
        say(&m, "unexpected ");
        say_token(&m, la, t);
        say(&m, " after '~': expected a distribution, such as Normal(0, 1)");
    } else if (open && open->kind != '{' && expects(&e, closer_symbol(open->kind)) &&
               la != closer_symbol(open->kind)) {
        say(&m, "unexpected ");
        say_token(&m, la, t);
        say(&m, ", expected %s'%s' to close '%s' opened at %d:%d",
            expects(&e, YYSYMBOL_COMMA) ? "',' or " : "", closer_of(open->kind),
            opener_text(open->kind), open->line, open->col);
        note = open->line != loc->first_line ? open : NULL;
    } else if (expects(&e, YYSYMBOL_DATA) && is_binary_operator(la)) {
        say(&m, "a statement cannot start with '%s' (to continue an expression "
                "on the next line, end this line with the operator)",
            yysymbol_name(la));
    } else if ((la == YYSYMBOL_RPAREN || la == YYSYMBOL_RBRACK ||
                la == YYSYMBOL_RBRACE) && ps->last_unmatched) {
        say(&m, "unmatched '%s': no '%s' is open here",
            la == YYSYMBOL_RPAREN ? ")" : la == YYSYMBOL_RBRACK ? "]" : "}",
            la == YYSYMBOL_RPAREN ? "(" : la == YYSYMBOL_RBRACK ? "[" : "{");
    } else {
        const char *phrase[6];
        char quoted[6][16];
        int n = expected_phrases(&e, before, phrase, quoted, 5);
        say(&m, "unexpected ");
        say_token(&m, la, t);
        if (n > 0 && n <= 5) {
            say(&m, ", expected ");
            say_list(&m, phrase, n);
        }
        if (la == YYSYMBOL_STRING)
            say(&m, " (strings appear only in 'extern fn ... from \"library\" grad \"symbol\"')");
    }
    report(ps, loc, &m, note);
    cm_lex_recover(ps);
    return 0;
}

/* Bison calls this only when its stack is exhausted, which only deeply
 * nested input can cause. */
static void cm_yyerror(CM_YYLTYPE *loc, CmParseState *ps, const char *msg)
{
    (void)msg;
    if (ps->fatal)
        return;
    diag_error(ps->diag, loc->first_line, loc->first_column,
               "nested too deeply: the program's structure would be more "
               "than %d levels deep; split this into smaller steps",
               CM_PARSE_MAX_DEPTH);
    ps->fatal = 1;
}

AstNode *cm_parse(const Source *src, AstArena *arena, Diag *diag)
{
    static const char empty[] = "";
    CmParseState ps;
    memset(&ps, 0, sizeof ps);
    ps.src = src;
    ps.diag = diag;
    ps.arena = arena;
    const char *text = src && src->text ? src->text : empty;
    size_t len = src && src->text ? src->len : 0;
    ps.cur = ps.line_start = (const unsigned char *)text;
    ps.lim = (const unsigned char *)text + len;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        ps.cur += 3; /* a UTF-8 byte order mark, as some editors write; columns still count it */
    ps.line = 1;
    YYLTYPE start = {1, 1, 1, 1};
    ps.program = mk(&ps, AST_PROGRAM, start);
    cm_yyparse(&ps);
    return ps.program;
}
