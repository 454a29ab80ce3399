/*
 * parse.h - the front end's entry point: source text in, syntax tree out.
 *
 * The lexer (grammar/lexer.re, re2c) and the parser (grammar/parser.y,
 * Bison) sit behind this one function.  Errors are reported through the
 * Diag as located, plain-word messages; the parser recovers at statement
 * level so one run reports several of them.  Whatever the input bytes, the
 * call returns, in time linear in the input, with a tree no deeper than
 * CM_PARSE_MAX_DEPTH levels, so passes that recurse over it are safe.
 */
#ifndef CM_PARSE_H
#define CM_PARSE_H

#include "ast.h"
#include "diag.h"

/* Brackets ( [ { may nest this deep; deeper is an error. */
#define CM_PARSE_MAX_NESTING 200
/* No tree the parser returns is deeper than this (PROGRAM is level 1). */
#define CM_PARSE_MAX_DEPTH 250

/* Parse a whole source file.  Always returns an AST_PROGRAM node (possibly
 * partial after errors); every error has been reported through diag (check
 * diag_failed(diag)).  Never crashes, never loops forever, on any input
 * bytes.  All nodes and strings live in arena. */
AstNode *cm_parse(const Source *src, AstArena *arena, Diag *diag);

#endif
