/*
 * dag.c - the causal graph type: building it, printing it, indexing it.
 *
 * The graph is an adjacency matrix with row stride n, as the header
 * promises, so callers can read adj[u * n + v] directly.  Adding a node
 * therefore moves the rows to the new stride; a model has tens of sites,
 * so the O(n^2) move per node is nothing, and the matrix keeps every edge
 * test O(1) for the printers and for the lead's own code.
 *
 * The algorithms (dsep.c, identify.c) never walk the matrix: they build a
 * DagIndex, parent and child lists plus a topological order, once per
 * query.  Building it is where the two graph conventions are applied in
 * one place: edges into intervened nodes are cut and self-loops are
 * dropped, and a remaining directed cycle is recorded so that queries can
 * name it instead of looping.
 *
 * Printing keeps the nodes in the order the lead gave them (definition
 * order, which reads naturally); a plate becomes a Graphviz cluster at the
 * place of its first node, nested plates nest, and the edges follow all
 * nodes, grouped by child.
 */
#include "dag.h"

#include <assert.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

Dag *dag_new(int capacity)
{
    Dag *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    if (capacity < 4)
        capacity = 4;
    d->cap = capacity;
    d->names = calloc((size_t)capacity, sizeof *d->names);
    d->kind = calloc((size_t)capacity, sizeof *d->kind);
    d->intervened = calloc((size_t)capacity, 1);
    d->plate = calloc((size_t)capacity, sizeof *d->plate);
    d->adj = calloc((size_t)capacity * (size_t)capacity, 1);
    if (!d->names || !d->kind || !d->intervened || !d->plate || !d->adj) {
        dag_free(d);
        return NULL;
    }
    return d;
}

void dag_free(Dag *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->n; i++)
        free(d->names[i]);
    for (int i = 0; i < d->nplates; i++)
        free(d->plate_labels[i]);
    free(d->names);
    free(d->kind);
    free(d->intervened);
    free(d->plate);
    free(d->plate_labels);
    free(d->plate_parent);
    free(d->adj);
    free(d);
}

int dag_add_plate(Dag *d, const char *label, int parent)
{
    if (!label || parent < -1 || parent >= d->nplates)
        return -1;
    if (d->nplates == d->plate_cap) {
        int cap = d->plate_cap ? 2 * d->plate_cap : 4;
        char **l = realloc(d->plate_labels, (size_t)cap * sizeof *l);
        if (!l)
            return -1;
        d->plate_labels = l;
        int *p = realloc(d->plate_parent, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        d->plate_parent = p;
        d->plate_cap = cap;
    }
    char *copy = strdup(label);
    if (!copy)
        return -1;
    d->plate_labels[d->nplates] = copy;
    d->plate_parent[d->nplates] = parent;
    return d->nplates++;
}

/* Room for one more node: grow the arrays and the matrix geometrically. */
static int reserve_node(Dag *d)
{
    if (d->n < d->cap)
        return 0;
    int cap = 2 * d->cap;
    unsigned char *adj = calloc((size_t)cap * (size_t)cap, 1);
    if (!adj)
        return -1;
    memcpy(adj, d->adj, (size_t)d->n * (size_t)d->n);  /* same stride n */
    char **names = realloc(d->names, (size_t)cap * sizeof *names);
    if (!names) {
        free(adj);
        return -1;
    }
    d->names = names;
    DagNodeKind *kind = realloc(d->kind, (size_t)cap * sizeof *kind);
    if (!kind) {
        free(adj);
        return -1;
    }
    d->kind = kind;
    unsigned char *iv = realloc(d->intervened, (size_t)cap);
    if (!iv) {
        free(adj);
        return -1;
    }
    d->intervened = iv;
    int *plate = realloc(d->plate, (size_t)cap * sizeof *plate);
    if (!plate) {
        free(adj);
        return -1;
    }
    d->plate = plate;
    free(d->adj);
    d->adj = adj;
    d->cap = cap;
    return 0;
}

int dag_add_node(Dag *d, const char *name, DagNodeKind kind, int plate)
{
    if (!name || !*name || dag_find(d, name) >= 0 || plate < -1 ||
        plate >= d->nplates)
        return -1;
    if (reserve_node(d) < 0)
        return -1;
    char *copy = strdup(name);
    if (!copy)
        return -1;
    int n = d->n;
    /* Move row u from stride n to stride n + 1, last row first so that no
     * row is overwritten before it moves; the new column and row are 0. */
    for (int u = n - 1; u >= 0; u--) {
        memmove(d->adj + (size_t)u * (n + 1), d->adj + (size_t)u * n,
                (size_t)n);
        d->adj[(size_t)u * (n + 1) + n] = 0;
    }
    memset(d->adj + (size_t)n * (n + 1), 0, (size_t)n + 1);
    d->names[n] = copy;
    d->kind[n] = kind;
    d->intervened[n] = 0;
    d->plate[n] = plate;
    d->n = n + 1;
    return n;
}

void dag_add_edge(Dag *d, int u, int v)
{
    assert(u >= 0 && u < d->n && v >= 0 && v < d->n);
    if (u >= 0 && u < d->n && v >= 0 && v < d->n)
        d->adj[(size_t)u * d->n + v] = 1;
}

void dag_remove_edge(Dag *d, int u, int v)
{
    if (u >= 0 && u < d->n && v >= 0 && v < d->n)
        d->adj[(size_t)u * d->n + v] = 0;
}

void dag_intervene(Dag *d, int v)
{
    if (v < 0 || v >= d->n)
        return;
    d->intervened[v] = 1;
    for (int u = 0; u < d->n; u++)
        d->adj[(size_t)u * d->n + v] = 0;
}

int dag_find(const Dag *d, const char *name)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->names[i], name) == 0)
            return i;
    return -1;
}

/* Drawn edges: everything but edges into an intervened node. */
static int edge_shown(const Dag *d, int u, int v)
{
    return d->adj[(size_t)u * d->n + v] && !d->intervened[v];
}

int dag_has_edge(const Dag *d, int u, int v)
{
    return u != v && u >= 0 && v >= 0 && u < d->n && v < d->n &&
           edge_shown(d, u, v);
}

/* ------------------------------------------------------------------ */
/* DOT                                                                 */

static void print_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* "j" from "j in 1..J": the index variable names the cluster. */
static void plate_cluster_id(const Dag *d, int p, char *buf, size_t len)
{
    const char *l = d->plate_labels[p];
    size_t k = 0;
    while (*l && isspace((unsigned char)*l))
        l++;
    while (*l && (isalnum((unsigned char)*l) || *l == '_') && k + 1 < len)
        buf[k++] = *l++;
    buf[k] = 0;
    if (k == 0)
        snprintf(buf, len, "plate");
    /* Two plates over the same index variable need distinct clusters. */
    for (int q = 0; q < p; q++) {
        char other[64];
        plate_cluster_id(d, q, other, sizeof other);
        if (strcmp(other, buf) == 0) {
            size_t used = strlen(buf);
            snprintf(buf + used, len - used, "_%d", p);
            break;
        }
    }
}

static void print_indent(FILE *out, int depth)
{
    for (int i = 0; i < depth; i++)
        fputs("  ", out);
}

static void print_dot_node(FILE *out, const Dag *d, int v, int depth)
{
    print_indent(out, depth);
    print_quoted(out, d->names[v]);
    if (d->kind[v] == DAG_DETERMINISTIC)
        fputs(" [shape=box, style=filled, fillcolor=white", out);
    else if (d->kind[v] == DAG_OBSERVED)
        fputs(" [shape=ellipse, style=filled, fillcolor=grey", out);
    else
        fputs(" [shape=ellipse, style=filled, fillcolor=white", out);
    if (d->intervened[v])
        fputs(", peripheries=2", out);
    fputs("];\n", out);
}

/* The plate directly inside `outer` (-1: top level) on v's chain of plates,
 * v's own plate if that is `outer`'s child; -2 when v is not inside outer. */
static int child_plate_towards(const Dag *d, int v, int outer)
{
    int p = d->plate[v], child = -2;
    while (p != -1) {
        if (p == outer)
            return child;
        child = p;
        p = d->plate_parent[p];
    }
    return outer == -1 ? child : -2;
}

static void print_dot_scope(FILE *out, const Dag *d, int plate, int depth,
                            unsigned char *emitted)
{
    for (int v = 0; v < d->n; v++) {
        if (d->plate[v] == plate) {
            print_dot_node(out, d, v, depth);
            continue;
        }
        int c = child_plate_towards(d, v, plate);
        if (c < 0 || emitted[c])
            continue;
        emitted[c] = 1;
        char id[64];
        plate_cluster_id(d, c, id, sizeof id);
        print_indent(out, depth);
        fprintf(out, "subgraph cluster_%s {\n", id);
        print_indent(out, depth + 1);
        fputs("label=", out);
        print_quoted(out, d->plate_labels[c]);
        fputs(";\n", out);
        print_dot_scope(out, d, c, depth + 1, emitted);
        print_indent(out, depth);
        fputs("}\n", out);
    }
}

void dag_print_dot(FILE *out, const Dag *d, const char *title)
{
    fputs("digraph ", out);
    print_quoted(out, title ? title : "cm");
    fputs(" {\n", out);
    unsigned char *emitted = calloc((size_t)d->nplates + 1, 1);
    if (emitted) {
        print_dot_scope(out, d, -1, 1, emitted);
        free(emitted);
    } else {            /* no memory for clusters: still a correct graph */
        for (int v = 0; v < d->n; v++)
            print_dot_node(out, d, v, 1);
    }
    for (int v = 0; v < d->n; v++)
        for (int u = 0; u < d->n; u++)
            if (edge_shown(d, u, v)) {
                fputs("  ", out);
                print_quoted(out, d->names[u]);
                fputs(" -> ", out);
                print_quoted(out, d->names[v]);
                fputs(";\n", out);
            }
    fputs("}\n", out);
}

/* ------------------------------------------------------------------ */
/* Text                                                                */

static const char *kind_name(DagNodeKind k)
{
    return k == DAG_OBSERVED ? "observed"
           : k == DAG_DETERMINISTIC ? "deterministic" : "latent";
}

static void print_plate_chain(FILE *out, const Dag *d, int p)
{
    if (p < 0)
        return;
    print_plate_chain(out, d, d->plate_parent[p]);
    fprintf(out, ", plate %s", d->plate_labels[p]);
}

void dag_print_text(FILE *out, const Dag *d)
{
    for (int v = 0; v < d->n; v++) {
        fprintf(out, "%s [%s", d->names[v], kind_name(d->kind[v]));
        if (d->intervened[v])
            fputs(", do", out);
        print_plate_chain(out, d, d->plate[v]);
        fputc(']', out);
        const char *sep = " <- ";
        for (int u = 0; u < d->n; u++)
            if (edge_shown(d, u, v)) {
                fprintf(out, "%s%s", sep, d->names[u]);
                sep = ", ";
            }
        fputc('\n', out);
    }
    fputs("\nlegend: [observed] bound by data, [latent] not bound by data, "
          "[deterministic] computed from its parents, [do] intervened "
          "(incoming edges cut), [plate ...] repeated over the plate; "
          "\"y <- x, z\" lists the parents of y\n", out);
}

void dag_print_names(FILE *out, const Dag *d, const unsigned char *set)
{
    const char *sep = "";
    for (int v = 0; v < d->n; v++)
        if (set[v]) {
            fprintf(out, "%s%s", sep, d->names[v]);
            sep = ", ";
        }
}

void dag_print_set(FILE *out, const Dag *d, const unsigned char *set)
{
    fputc('{', out);
    dag_print_names(out, d, set);
    fputc('}', out);
}

void dag_observed_mask(const Dag *d, unsigned char *obs)
{
    for (int v = 0; v < d->n; v++)
        obs[v] = d->kind[v] == DAG_OBSERVED || d->intervened[v];
    /* A deterministic node is known once all its parents are: promote to a
     * fixed point (a deterministic cycle never becomes observed). */
    for (int changed = 1; changed;) {
        changed = 0;
        for (int v = 0; v < d->n; v++) {
            if (obs[v] || d->kind[v] != DAG_DETERMINISTIC)
                continue;
            int known = 1;
            for (int u = 0; u < d->n && known; u++)
                if (dag_has_edge(d, u, v) && !obs[u])
                    known = 0;
            if (known) {
                obs[v] = 1;
                changed = 1;
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* Index                                                               */

void dag_index_free(DagIndex *ix)
{
    free(ix->pstart);
    free(ix->plist);
    free(ix->cstart);
    free(ix->clist);
    free(ix->topo);
    free(ix->cycle);
    free(ix->queue);
    free(ix->prev);
    free(ix->mark);
    free(ix->mark2);
    memset(ix, 0, sizeof *ix);
}

/* Nodes left after Kahn's algorithm all have a parent left: walking up
 * parents must revisit a node, and the loop found is a cycle. */
static void record_cycle(DagIndex *ix, const int *indeg)
{
    int n = ix->n, v = 0;
    while (v < n && indeg[v] == 0)
        v++;
    int *pos = ix->prev;
    for (int i = 0; i < n; i++)
        pos[i] = -1;
    int *walk = ix->queue, len = 0;
    while (pos[v] < 0) {
        pos[v] = len;
        walk[len++] = v;
        int next = -1;
        for (int k = ix->pstart[v]; k < ix->pstart[v + 1]; k++)
            if (indeg[ix->plist[k]] > 0) {
                next = ix->plist[k];
                break;
            }
        v = next;
    }
    /* walk[pos[v] .. len) goes child to parent; print it parent first. */
    int start = pos[v], clen = len - start;
    ix->cycle_len = clen + 1;
    for (int i = 0; i < clen; i++)
        ix->cycle[i] = walk[len - 1 - i];
    ix->cycle[clen] = ix->cycle[0];
}

int dag_index_build(DagIndex *ix, const Dag *d)
{
    memset(ix, 0, sizeof *ix);
    int n = d->n;
    size_t m = 0;
    ix->n = n;
    for (int u = 0; u < n; u++)
        for (int v = 0; v < n; v++)
            m += (size_t)dag_has_edge(d, u, v);
    size_t nn = (size_t)n + 1;
    ix->pstart = calloc(nn, sizeof(int));
    ix->cstart = calloc(nn, sizeof(int));
    ix->plist = malloc((m + 1) * sizeof(int));
    ix->clist = malloc((m + 1) * sizeof(int));
    ix->topo = malloc(nn * sizeof(int));
    ix->cycle = malloc((nn + 1) * sizeof(int));
    ix->queue = malloc(2 * nn * sizeof(int));
    ix->prev = malloc(2 * nn * sizeof(int));
    ix->mark = calloc(2 * nn, 1);
    ix->mark2 = calloc(2 * nn, 1);
    int *indeg = calloc(nn, sizeof(int));
    if (!ix->pstart || !ix->cstart || !ix->plist || !ix->clist || !ix->topo ||
        !ix->cycle || !ix->queue || !ix->prev || !ix->mark || !ix->mark2 ||
        !indeg) {
        free(indeg);
        dag_index_free(ix);
        return -1;
    }
    for (int v = 0, k = 0; v < n; v++) {          /* parents, in node order */
        ix->pstart[v] = k;
        for (int u = 0; u < n; u++)
            if (dag_has_edge(d, u, v))
                ix->plist[k++] = u;
        ix->pstart[v + 1] = k;
        indeg[v] = k - ix->pstart[v];
    }
    for (int u = 0, k = 0; u < n; u++) {          /* children, in node order */
        ix->cstart[u] = k;
        for (int v = 0; v < n; v++)
            if (dag_has_edge(d, u, v))
                ix->clist[k++] = v;
        ix->cstart[u + 1] = k;
    }
    /* Kahn's algorithm taking the first ready node in node order: the
     * definition order of a model is already topological and stays so. */
    int placed = 0;
    unsigned char *done = ix->mark;
    while (placed < n) {
        int v = 0;
        while (v < n && (done[v] || indeg[v] > 0))
            v++;
        if (v == n)
            break;
        done[v] = 1;
        ix->topo[placed++] = v;
        for (int k = ix->cstart[v]; k < ix->cstart[v + 1]; k++)
            indeg[ix->clist[k]]--;
    }
    memset(done, 0, (size_t)n);
    ix->acyclic = placed == n;
    if (!ix->acyclic)
        record_cycle(ix, indeg);
    free(indeg);
    return 0;
}

void dag_format_cycle(const DagIndex *ix, const Dag *d, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < ix->cycle_len && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? " -> " : "",
                         d->names[ix->cycle[i]]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
