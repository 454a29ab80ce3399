/*
 * causal_query.h - parsing the causal questions of the command line.
 *
 * The entry points that answer --dsep, --identify and --adjustment-sets are
 * declared in dag.h with the rest of the graph API; this header is the
 * parsing layer under them, exposed so the unit tests can check what a
 * query string means separately from what the answer is.
 *
 * Each parser fills byte masks of length d->n (zeroed by the parser) and
 * returns 0, or 2 (CM_EXIT_USER) with a one-line message in err that names
 * the flag, quotes the query and says what was expected where.
 */
#ifndef CM_CAUSAL_QUERY_H
#define CM_CAUSAL_QUERY_H

#include "dag.h"

/* "x, y" or "{x, y}" (flag names the option in messages). */
int causal_parse_sites(const Dag *d, const char *text, const char *flag,
                       unsigned char *set, char *err, size_t errlen);

/* 'x, y | z, w', 'x _||_ y | z' (also _|_ and the Unicode perpendicular),
 * '{x1, x2}, y | {}'; the part from '|' on is optional. */
int causal_parse_dsep(const Dag *d, const char *query, unsigned char *x,
                      unsigned char *y, unsigned char *z, char *err,
                      size_t errlen);

/* 'y | do(x)', 'y1, y2 | do(x1, x2)', 'y | do(x), z', optionally wrapped
 * in P(...). */
int causal_parse_identify(const Dag *d, const char *query, unsigned char *y,
                          unsigned char *x, unsigned char *z, char *err,
                          size_t errlen);

/* "unknown site 'q' in --dsep (did you mean 'z'?); sites are: x, y, z" */
void causal_unknown_site(const Dag *d, const char *name, const char *flag,
                         char *err, size_t errlen);

#endif
