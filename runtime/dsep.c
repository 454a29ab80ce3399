/*
 * dsep.c - d-separation with an open path as witness.
 *
 * The test is the "reachable" search of Koller & Friedman (the Bayes-ball):
 * a breadth-first search over states (node, how we arrived), where arriving
 * from a child (travelling against the arrow) and arriving from a parent
 * (along it) are different states.  A conditioned non-collider blocks; a
 * collider passes when it is an ancestor of the conditioning set (itself
 * included), which is the same as "it or a descendant is conditioned on"
 * but needs no detour down to the descendant and back.
 *
 * Why breadth-first: the first state found at a target is the end of a
 * shortest open walk, and a shortest open walk never repeats a node (if it
 * did, cutting out the loop leaves an open walk: where the node becomes a
 * collider it either is conditioned on or, by acyclicity, is an ancestor of
 * a collider on the cut loop, hence of the conditioning set).  So the
 * parent pointers of the search give a simple path, which is what users
 * expect to read, at the cost of one int per state.
 *
 * Do-calculus needs the test in mutilated graphs (edges into X removed,
 * edges out of Z removed); dag_dsep_cut takes those cuts as masks instead
 * of copying the graph, so a subset search can run it a million times.
 */
#include "dag.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum { UP = 0, DOWN = 1 };   /* arrived from a child / from a parent */

static int edge_kept(const unsigned char *cut_in, const unsigned char *cut_out,
                     int u, int v)
{
    return !(cut_out && cut_out[u]) && !(cut_in && cut_in[v]);
}

void dag_reach(DagIndex *ix, const unsigned char *set, int up,
               const unsigned char *cut_in, const unsigned char *cut_out,
               unsigned char *out)
{
    int n = ix->n, top = 0, *stack = ix->queue;
    for (int v = 0; v < n; v++) {
        out[v] = set[v] != 0;
        if (out[v])
            stack[top++] = v;
    }
    while (top > 0) {
        int v = stack[--top];
        const int *start = up ? ix->pstart : ix->cstart;
        const int *list = up ? ix->plist : ix->clist;
        for (int k = start[v]; k < start[v + 1]; k++) {
            int w = list[k];
            int kept = up ? edge_kept(cut_in, cut_out, w, v)
                          : edge_kept(cut_in, cut_out, v, w);
            if (kept && !out[w]) {
                out[w] = 1;
                stack[top++] = w;
            }
        }
    }
}

/* Walk the parent pointers back from state s to a source. */
static int trace_path(const DagIndex *ix, int s, int *path)
{
    int len = 0;
    for (int t = s; t >= 0; t = ix->prev[t]) {
        assert(len < ix->n);
        if (len >= ix->n)
            break;
        path[len++] = t / 2;
    }
    for (int i = 0; i < len / 2; i++) {
        int tmp = path[i];
        path[i] = path[len - 1 - i];
        path[len - 1 - i] = tmp;
    }
    return len;
}

int dag_dsep_cut(DagIndex *ix, const unsigned char *x, const unsigned char *y,
                 const unsigned char *z, const unsigned char *cut_in,
                 const unsigned char *cut_out, int *path, int *path_len)
{
    int n = ix->n;
    if (!ix->acyclic)
        return -1;
    for (int v = 0; v < n; v++)
        if (x[v] && y[v]) {     /* a node is never separated from itself */
            if (path) {
                path[0] = v;
                *path_len = 1;
            }
            return 0;
        }
    unsigned char *anc = ix->mark2;             /* An(z) */
    dag_reach(ix, z, 1, cut_in, cut_out, anc);

    unsigned char *seen = ix->mark;             /* 2n states */
    int *queue = ix->queue, head = 0, tail = 0;
    memset(seen, 0, 2 * (size_t)n);
    for (int v = 0; v < n; v++)
        if (x[v]) {
            seen[2 * v + UP] = 1;
            ix->prev[2 * v + UP] = -1;
            queue[tail++] = 2 * v + UP;
        }
    int found = -1;
    while (head < tail && found < 0) {
        int s = queue[head++], v = s / 2, dir = s % 2;
        int source = ix->prev[s] < 0;
        int passes = source || !z[v];           /* as a non-collider */
        int to_parents, to_children;
        if (dir == UP) {            /* v -> previous: v is a chain or fork */
            to_parents = passes;
            to_children = passes;
        } else {                    /* previous -> v */
            to_children = passes;   /* chain */
            to_parents = anc[v];    /* collider, open if an ancestor of z */
        }
        for (int side = 0; side < 2 && found < 0; side++) {
            if (!(side == 0 ? to_parents : to_children))
                continue;
            const int *start = side == 0 ? ix->pstart : ix->cstart;
            const int *list = side == 0 ? ix->plist : ix->clist;
            for (int k = start[v]; k < start[v + 1]; k++) {
                int w = list[k];
                int kept = side == 0 ? edge_kept(cut_in, cut_out, w, v)
                                     : edge_kept(cut_in, cut_out, v, w);
                int t = 2 * w + (side == 0 ? UP : DOWN);
                if (!kept || seen[t])
                    continue;
                seen[t] = 1;
                ix->prev[t] = s;
                queue[tail++] = t;
                if (y[w]) {
                    found = t;
                    break;
                }
            }
        }
    }
    if (found < 0)
        return 1;
    if (path)
        *path_len = trace_path(ix, found, path);
    return 0;
}

int dag_dseparated(const Dag *d, const unsigned char *x,
                   const unsigned char *y, const unsigned char *z,
                   int *path, int *path_len)
{
    DagIndex ix;
    if (dag_index_build(&ix, d) < 0)
        return -1;
    int r = dag_dsep_cut(&ix, x, y, z, NULL, NULL, path, path_len);
    dag_index_free(&ix);
    return r;
}

/* The conditioned descendant nearest to c (breadth-first), or -1. */
static int conditioned_descendant(const Dag *d, int c,
                                  const unsigned char *z)
{
    int n = d->n, head = 0, tail = 0, found = -1;
    int *queue = malloc((size_t)n * sizeof *queue);
    unsigned char *seen = calloc((size_t)n, 1);
    if (!queue || !seen) {
        free(queue);
        free(seen);
        return -1;
    }
    queue[tail++] = c;
    seen[c] = 1;
    while (head < tail && found < 0) {
        int v = queue[head++];
        for (int w = 0; w < n; w++)
            if (dag_has_edge(d, v, w) && !seen[w]) {
                if (z[w]) {
                    found = w;
                    break;
                }
                seen[w] = 1;
                queue[tail++] = w;
            }
    }
    free(queue);
    free(seen);
    return found;
}

static int is_collider(const Dag *d, const int *path, int len, int i)
{
    return i > 0 && i < len - 1 && dag_has_edge(d, path[i - 1], path[i]) &&
           dag_has_edge(d, path[i + 1], path[i]);
}

void dag_print_path(FILE *out, const Dag *d, const int *path, int len,
                    const unsigned char *z)
{
    for (int i = 0; i < len; i++) {
        if (i > 0)
            fputs(dag_has_edge(d, path[i - 1], path[i]) ? " -> " : " <- ",
                  out);
        fputs(d->names[path[i]], out);
        if (is_collider(d, path, len, i))
            fputs(" (collider)", out);
    }
    for (int i = 1; i < len - 1; i++) {
        if (!is_collider(d, path, len, i) || z[path[i]])
            continue;
        int w = conditioned_descendant(d, path[i], z);
        if (w >= 0)
            fprintf(out, "; collider %s is opened by conditioning on its "
                    "descendant %s", d->names[path[i]], d->names[w]);
    }
}
