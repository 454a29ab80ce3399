/*
 * dag.h - the causal graph of a cm model and the algorithms that answer
 * graphical causal questions about it.
 *
 * A Dag has one node per sample site or deterministic node and an edge
 * u -> v when v's definition reads u.  The lead builds it from the compiled
 * model; this module prints it (Graphviz DOT or a terminal adjacency list)
 * and answers the questions of a causal-inference course: d-separation with
 * an open path as witness, minimal backdoor adjustment sets, the frontdoor
 * criterion, and Shpitser & Pearl's ID algorithm (with hedges) on the latent
 * projection of the graph.
 *
 * Node sets are byte masks of length dag->n (set[v] != 0 means v is in the
 * set): cheap to build in a test, cheap to copy, and graphs of models have
 * tens of nodes, not millions.  The adjacency matrix `adj` is the single
 * source of truth: the algorithms index it into parent/child lists
 * (DagIndex) once per query, so a caller may edit `adj` directly.
 *
 * Conventions every algorithm shares:
 *  - An edge into an intervened node is ignored everywhere (a `--do` cuts
 *    it); dag_intervene() also clears it from `adj`.
 *  - A self-loop r -> r (a `for` loop reading r[t-1]) is printed but
 *    ignored by the algorithms: it is dependence between elements of one
 *    site, not a causal cycle between sites.  Any other directed cycle makes
 *    the queries fail with a message naming the cycle.
 *  - "Observed" (for identification and adjustment) is dag_observed_mask():
 *    DAG_OBSERVED nodes, intervened nodes (their value is set), and
 *    deterministic nodes whose parents are all observed; everything else
 *    is unobserved and is projected out before the ID algorithm runs.
 */
#ifndef CM_DAG_H
#define CM_DAG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { DAG_LATENT, DAG_OBSERVED, DAG_DETERMINISTIC } DagNodeKind;

typedef struct {
    int n;                      /* number of nodes */
    char **names;               /* n names, unique */
    DagNodeKind *kind;
    unsigned char *intervened;  /* 1 for a --do site */
    int *plate;                 /* innermost plate index or -1 */
    int nplates;
    char **plate_labels;        /* "j in 1..J" */
    int *plate_parent;          /* enclosing plate of each plate, or -1 */
    unsigned char *adj;         /* adj[u * n + v] = 1 for an edge u -> v */
    int cap, plate_cap;         /* allocated node and plate slots */
} Dag;

/* ---- Building (dag.c) ---- */

/* An empty graph with room for `capacity` nodes (a hint; it grows). */
Dag *dag_new(int capacity);
void dag_free(Dag *d);
/* Add a plate labelled e.g. "j in 1..J", nested in `parent` (-1 for none);
 * returns its index, or -1 on a bad parent or out of memory. */
int dag_add_plate(Dag *d, const char *label, int parent);
/* Add a node; returns its index, or -1 if the name is empty or already
 * used, the plate does not exist, or memory ran out. */
int dag_add_node(Dag *d, const char *name, DagNodeKind kind, int plate);
void dag_add_edge(Dag *d, int u, int v);        /* u -> v; u == v allowed */
void dag_remove_edge(Dag *d, int u, int v);
/* Mark v intervened (--do) and cut its incoming edges. */
void dag_intervene(Dag *d, int v);
int dag_find(const Dag *d, const char *name);   /* index or -1 */
int dag_has_edge(const Dag *d, int u, int v);   /* as the algorithms see it */

/* ---- Printing (dag.c) ---- */

/* Graphviz DOT: observed sites filled grey, latent white, deterministic
 * nodes as boxes, intervened nodes with a double outline and no incoming
 * edges, plates as nested `subgraph cluster_<index variable>` boxes.
 * `title` names the digraph (NULL: "cm"). */
void dag_print_dot(FILE *out, const Dag *d, const char *title);
/* One line per node, "y [observed] <- x, z", then a legend. */
void dag_print_text(FILE *out, const Dag *d);
/* "{a, b}" in node order ("{}" when empty). */
void dag_print_set(FILE *out, const Dag *d, const unsigned char *set);
/* "a, b" in node order. */
void dag_print_names(FILE *out, const Dag *d, const unsigned char *set);

/* The observed/unobserved rule above, into obs[0..n). */
void dag_observed_mask(const Dag *d, unsigned char *obs);

/* ---- Index: the graph as lists, built once per query (dag.c) ---- */

typedef struct {
    int n;
    int *pstart, *plist;    /* parents of v: plist[pstart[v] .. pstart[v+1]) */
    int *cstart, *clist;    /* children, likewise */
    int *topo;              /* a topological order; ties in node order */
    int acyclic;            /* 0 if the graph has a directed cycle */
    int *cycle, cycle_len;  /* one such cycle, first node repeated last */
    /* scratch for the searches below; an index serves one thread */
    int *queue, *prev;
    unsigned char *mark, *mark2;
} DagIndex;

/* Returns 0, or -1 if memory ran out.  Check ix->acyclic before use. */
int dag_index_build(DagIndex *ix, const Dag *d);
void dag_index_free(DagIndex *ix);
/* "a -> b -> a" into buf, for error messages. */
void dag_format_cycle(const DagIndex *ix, const Dag *d, char *buf, size_t len);

/* ---- d-separation (dsep.c) ---- */

/* Is every node of x d-separated from every node of y given z?  Returns 1
 * (separated), 0 (not: when path is non-NULL, path[0..*path_len) is a
 * shortest open path from a node of x to a node of y; path needs room for
 * n ints), or -1 if the graph has a directed cycle or memory ran out. */
int dag_dseparated(const Dag *d, const unsigned char *x,
                   const unsigned char *y, const unsigned char *z,
                   int *path, int *path_len);
/* The same on an index, in the graph with the edges into cut_in nodes and
 * out of cut_out nodes removed (either may be NULL): the G_{x-bar} and
 * G_{x-underbar} of do-calculus. */
int dag_dsep_cut(DagIndex *ix, const unsigned char *x, const unsigned char *y,
                 const unsigned char *z, const unsigned char *cut_in,
                 const unsigned char *cut_out, int *path, int *path_len);
/* "x <- u -> y", colliders marked "(collider)", and for a collider opened by
 * a conditioned descendant rather than itself, a note naming it. */
void dag_print_path(FILE *out, const Dag *d, const int *path, int len,
                    const unsigned char *z);
/* Ancestors (up = 1) or descendants (up = 0) of set, including set, into
 * out, in the graph with the given cuts. */
void dag_reach(DagIndex *ix, const unsigned char *set, int up,
               const unsigned char *cut_in, const unsigned char *cut_out,
               unsigned char *out);

/* ---- Identification (identify.c) ---- */

#define DAG_MAX_SETS 1000       /* listing stops here; see truncated */

typedef struct {
    int n;                  /* bytes per set (the Dag's node count) */
    int count;
    unsigned char *sets;    /* count masks of n bytes, smallest first */
    int truncated;          /* listing stopped at max_sets */
    int exhaustive;         /* 1: subset search; 0: separator listing */
} DagSetList;

void dag_set_list_free(DagSetList *l);

/* Does z satisfy the backdoor criterion for the effect of x on y: no node
 * of z descends from x, and z blocks every path from x to y that starts
 * with an edge into x?  1, 0, or -1 on a cycle/out of memory. */
int dag_is_backdoor_set(const Dag *d, const unsigned char *x,
                        const unsigned char *y, const unsigned char *z);
/* Every minimal backdoor set of observed nodes (up to max_sets), smallest
 * first.  Up to 20 candidates (observed ancestors of x and y that are not
 * descendants of x) the search is over subsets; beyond that it lists the
 * minimal separators of the moralised ancestral graph (van der Zander,
 * Liskiewicz & Textor 2014; Takata 2010).  Returns 0, or -1 with err. */
int dag_backdoor_minimal_sets(const Dag *d, const unsigned char *x,
                              const unsigned char *y, int max_sets,
                              DagSetList *out, char *err, size_t errlen);
/* The same with the method forced (subsets = 1: subset search, which
 * needs at most 20 candidates; 0: separator listing), for the tests that
 * check one method against the other. */
int dag_backdoor_sets_by(const Dag *d, const unsigned char *x,
                         const unsigned char *y, int max_sets, int subsets,
                         DagSetList *out, char *err, size_t errlen);

/* Pearl's frontdoor criterion for m: m intercepts every directed path from
 * x to y, no backdoor path from x to m is open, and x blocks every
 * backdoor path from m to y.  1, 0, or -1. */
int dag_is_frontdoor_set(const Dag *d, const unsigned char *x,
                         const unsigned char *y, const unsigned char *m);
/* A smallest frontdoor set of observed mediators into m: 1 found, 0 none,
 * -1 on a cycle or out of memory. */
int dag_frontdoor_set(const Dag *d, const unsigned char *x,
                      const unsigned char *y, unsigned char *m);

typedef struct {
    int identifiable;
    char *expr;             /* malloc'd, e.g. "sum_{z} P(z) P(y | z, x)" */
    unsigned char *fixed;   /* n bytes: free variables of expr besides x, y, z
                             * (the estimand is the same for every value) */
    unsigned char *hedge_f, *hedge_fprime;  /* n bytes each, when not */
    unsigned lines;         /* bit k: line k (1..7) of ID ran; bit 8: IDC */
} DagIdResult;

/* P(y | do(x), z) by Shpitser & Pearl's ID algorithm (IDC when z is
 * non-empty; z may be NULL) on the latent projection of the graph onto its
 * observed nodes.  Returns 0 with *res filled, or -1 with err (cycle,
 * unobserved x/y/z, overlapping sets, out of memory). */
int dag_id_algorithm(const Dag *d, const unsigned char *y,
                     const unsigned char *x, const unsigned char *z,
                     DagIdResult *res, char *err, size_t errlen);
void dag_id_result_free(DagIdResult *res);

/* ---- Command-line queries (causal_query.c) ----
 * Each prints its answer to out and returns 0, or returns 2 with a one-line
 * message (no "error:" prefix, no newline) in err. */

/* --dsep 'x, y | z, w', 'x _||_ y | z', '{x1, x2}, y' */
int causal_dsep_query(const Dag *d, const char *query, FILE *out, char *err,
                      size_t errlen);
/* --identify 'y | do(x)', 'y1, y2 | do(x1, x2)', 'y | do(x), z' */
int causal_identify_query(const Dag *d, const char *query, FILE *out,
                          char *err, size_t errlen);
/* --adjustment-sets x y (each may be a comma-separated list) */
int causal_adjustment_sets(const Dag *d, const char *x, const char *y,
                           FILE *out, char *err, size_t errlen);

#endif
