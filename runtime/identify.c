/*
 * identify.c - is a causal effect identifiable, and by what formula?
 *
 * Three methods, from the simplest formula to the most general:
 *
 * Backdoor adjustment.  A set z of observed nodes, none descending from x,
 * that d-separates x from y once the edges out of x are removed, gives
 * P(y | do(x)) = sum_z P(y | x, z) P(z).  All minimal such sets are wanted
 * (for --adjustment-sets).  With at most 20 candidates (observed ancestors
 * of x and y that are not descendants of x; every minimal set lies among
 * them) we try subsets in order of size and skip supersets of sets found,
 * which yields exactly the minimal sets, smallest first.  Beyond 20 the
 * subset search is too slow, and we list minimal separators instead: in the
 * moral graph of the ancestral set of x and y (edges out of x removed), a
 * set within the ancestral set d-separates iff it separates, so the minimal
 * backdoor sets are the minimal vertex separators that avoid the forbidden
 * nodes (latent, descendants of x, x, y).  They are listed by the
 * "close separator" recursion of Kloks & Kratsch as adapted by Takata and
 * van der Zander, Liskiewicz & Textor (2014): start from the separator
 * closest to x, and from each separator S found, for each s in S, the
 * separator closest to (x's side of S) + s.  A forbidden node next to x's
 * side can never be in a separator, so it is absorbed into that side
 * first.  The unit tests compare the two methods on random graphs.
 *
 * Frontdoor adjustment.  Pearl's three conditions, checked with the
 * d-separation of dsep.c in mutilated graphs; the smallest set of observed
 * mediators that passes is reported.
 *
 * The ID algorithm (Shpitser & Pearl 2006, with IDC for conditional
 * effects).  Unobserved nodes are first projected out (Verma & Pearl): an
 * edge a -> b for a directed path through unobserved nodes only, a <-> b
 * for two such paths from one unobserved node.  The recursion follows the
 * paper's lines 1-7 literally, sets as byte masks; a line-5 failure returns
 * the hedge (F, F').  The estimand is built as an expression tree (P terms,
 * products, sums, fractions) in an arena that a longjmp empties on running
 * out of memory, because a deep recursion cannot unwind allocation failures
 * gracefully any other way.
 *
 * The expression is kept readable by exact rewriting only:
 *  - a P term over heads H given C is marginalised by dropping heads;
 *  - a sum over a variable that occurs in one factor only is pushed into
 *    that factor, and disappears when the factor is a distribution over it
 *    (so a chain P(a) P(b | a) P(c | a, b) marginalises to P(a) P(b | a));
 *  - a conditional of a product that is a prefix-closed chain cancels to
 *    the factor itself, else it is written as a fraction;
 *  - a P term of the observational distribution drops a conditioning node
 *    that is d-separated from its heads given the rest (valid because the
 *    observational distribution is Markov to the full graph).
 * Variables summed inside a scope where the same name is already in use
 * are printed primed (x'), as textbooks write the frontdoor formula.
 */
#include "dag.h"

#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned char uchar;

/* ------------------------------------------------------------------ */
/* Sets as byte masks                                                  */

static int set_count(const uchar *s, int n)
{
    int k = 0;
    for (int v = 0; v < n; v++)
        k += s[v] != 0;
    return k;
}

static int set_empty(const uchar *s, int n)
{
    return set_count(s, n) == 0;
}

static int set_subset(const uchar *a, const uchar *b, int n)   /* a <= b */
{
    for (int v = 0; v < n; v++)
        if (a[v] && !b[v])
            return 0;
    return 1;
}

static int set_equal(const uchar *a, const uchar *b, int n)
{
    for (int v = 0; v < n; v++)
        if (!a[v] != !b[v])
            return 0;
    return 1;
}

static int set_meets(const uchar *a, const uchar *b, int n)
{
    for (int v = 0; v < n; v++)
        if (a[v] && b[v])
            return 1;
    return 0;
}

void dag_set_list_free(DagSetList *l)
{
    free(l->sets);
    memset(l, 0, sizeof *l);
}

/* Append a copy of set; 0, or -1 out of memory. */
static int set_list_push(DagSetList *l, const uchar *set, int *cap)
{
    if (l->count == *cap) {
        int c = *cap ? 2 * *cap : 16;
        uchar *s = realloc(l->sets, (size_t)c * (size_t)l->n);
        if (!s)
            return -1;
        l->sets = s;
        *cap = c;
    }
    for (int v = 0; v < l->n; v++)
        l->sets[(size_t)l->count * l->n + v] = set[v] != 0;
    l->count++;
    return 0;
}

/* Sets in a list are normalised to 0/1 bytes, so memcmp compares them. */
static int set_list_has(const DagSetList *l, const uchar *set)
{
    for (int i = 0; i < l->count; i++)
        if (memcmp(l->sets + (size_t)i * l->n, set, (size_t)l->n) == 0)
            return 1;
    return 0;
}

typedef struct {
    const uchar *set;
    int n, size;
} SetKey;

/* Smaller sets first; equal sizes by their first differing node. */
static int setkey_cmp(const void *pa, const void *pb)
{
    const SetKey *a = pa, *b = pb;
    if (a->size != b->size)
        return a->size < b->size ? -1 : 1;
    for (int v = 0; v < a->n; v++)
        if (!a->set[v] != !b->set[v])
            return a->set[v] ? -1 : 1;
    return 0;
}

static int set_list_sort(DagSetList *l)
{
    if (l->count < 2)
        return 0;
    SetKey *keys = malloc((size_t)l->count * sizeof *keys);
    uchar *sorted = malloc((size_t)l->count * (size_t)l->n);
    if (!keys || !sorted) {
        free(keys);
        free(sorted);
        return -1;
    }
    for (int i = 0; i < l->count; i++) {
        keys[i].set = l->sets + (size_t)i * l->n;
        keys[i].n = l->n;
        keys[i].size = set_count(keys[i].set, l->n);
    }
    qsort(keys, (size_t)l->count, sizeof *keys, setkey_cmp);
    for (int i = 0; i < l->count; i++)
        memcpy(sorted + (size_t)i * l->n, keys[i].set, (size_t)l->n);
    free(l->sets);
    l->sets = sorted;
    free(keys);
    return 0;
}

/* Build the index and refuse a cyclic graph with a message naming it. */
static int index_for_query(DagIndex *ix, const Dag *d, char *err, size_t len)
{
    if (dag_index_build(ix, d) < 0) {
        snprintf(err, len, "out of memory");
        return -1;
    }
    if (!ix->acyclic) {
        char cyc[256];
        dag_format_cycle(ix, d, cyc, sizeof cyc);
        snprintf(err, len, "the graph has a directed cycle %s; causal "
                 "queries need an acyclic graph", cyc);
        dag_index_free(ix);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Backdoor                                                            */

static int backdoor_ok(DagIndex *ix, const uchar *x, const uchar *y,
                       const uchar *z, const uchar *de_x)
{
    for (int v = 0; v < ix->n; v++)
        if (z[v] && (de_x[v] || y[v]))
            return 0;
    return dag_dsep_cut(ix, x, y, z, NULL, x, NULL, NULL) == 1;
}

int dag_is_backdoor_set(const Dag *d, const unsigned char *x,
                        const unsigned char *y, const unsigned char *z)
{
    DagIndex ix;
    char err[8];
    if (index_for_query(&ix, d, err, sizeof err) < 0)
        return -1;
    uchar *de = malloc((size_t)d->n + 1);
    int r = -1;
    if (de) {
        dag_reach(&ix, x, 0, NULL, NULL, de);
        r = backdoor_ok(&ix, x, y, z, de);
    }
    free(de);
    dag_index_free(&ix);
    return r;
}

/* Minimal sets by trying subsets of the r <= 20 candidates, smallest
 * first; a subset containing a set already found is not minimal. */
static int backdoor_by_subsets(DagIndex *ix, const uchar *x, const uchar *y,
                               const uchar *cand, int max_sets,
                               DagSetList *out)
{
    int n = ix->n, r = 0, cap = 0, cidx[20], pick[21];
    for (int v = 0; v < n; v++)
        if (cand[v])
            cidx[r++] = v;
    uint32_t *found = malloc(((size_t)max_sets + 1) * sizeof *found);
    uchar *z = calloc((size_t)n + 1, 1);
    if (!found || !z) {
        free(found);
        free(z);
        return -1;
    }
    int nfound = 0, rc = 0;
    for (int k = 0; k <= r && !out->truncated; k++) {
        for (int i = 0; i < k; i++)
            pick[i] = i;
        for (;;) {
            uint32_t bits = 0;
            for (int i = 0; i < k; i++)
                bits |= 1u << pick[i];
            int superset = 0;
            for (int f = 0; f < nfound && !superset; f++)
                superset = (bits & found[f]) == found[f];
            if (!superset) {
                memset(z, 0, (size_t)n);
                for (int i = 0; i < k; i++)
                    z[cidx[pick[i]]] = 1;
                if (dag_dsep_cut(ix, x, y, z, NULL, x, NULL, NULL) == 1) {
                    if (nfound == max_sets) {
                        out->truncated = 1;
                        break;
                    }
                    found[nfound++] = bits;
                    if (set_list_push(out, z, &cap) < 0) {
                        rc = -1;
                        out->truncated = 1;
                        break;
                    }
                }
            }
            /* next k-combination of 0..r-1 in lexicographic order */
            int i = k - 1;
            while (i >= 0 && pick[i] == r - k + i)
                i--;
            if (i < 0)
                break;
            pick[i]++;
            for (int j = i + 1; j < k; j++)
                pick[j] = pick[j - 1] + 1;
        }
    }
    free(found);
    free(z);
    return rc;
}

/* The separator listing works on the moral graph `und` (n*n) of the
 * ancestral set `anc`; `forb` are nodes that may not be in a separator. */
typedef struct {
    int n;
    const uchar *und, *anc, *forb, *x, *y;
    uchar *side, *nb, *far;     /* scratch masks */
    int *queue;
} SepSearch;

/* Nodes reachable from `from` inside anc, avoiding `avoid` (may be NULL),
 * into out; when `through` is non-NULL, only `through` nodes are entered
 * (the from nodes themselves always are). */
static void sep_bfs(SepSearch *s, const uchar *from, const uchar *avoid,
                    const uchar *through, uchar *out)
{
    int n = s->n, head = 0, tail = 0;
    for (int v = 0; v < n; v++) {
        out[v] = from[v] != 0;
        if (out[v])
            s->queue[tail++] = v;
    }
    while (head < tail) {
        int v = s->queue[head++];
        for (int w = 0; w < n; w++) {
            if (out[w] || !s->anc[w] || !s->und[(size_t)v * n + w])
                continue;
            if ((avoid && avoid[w]) || (through && !through[w]))
                continue;
            out[w] = 1;
            s->queue[tail++] = w;
        }
    }
}

/* The minimal separator closest to the set `from` (which contains x):
 * absorb forbidden neighbours into from's side, take the side's
 * neighbourhood N, then the part of N adjacent to y's component outside
 * side + N.  Returns 1 with sep filled, 0 if y cannot be separated. */
static int close_separator(SepSearch *s, const uchar *from, uchar *sep)
{
    int n = s->n;
    sep_bfs(s, from, NULL, s->forb, s->side);
    if (set_meets(s->side, s->y, n))
        return 0;
    for (int w = 0; w < n; w++) {
        s->nb[w] = 0;
        if (s->side[w] || !s->anc[w])
            continue;
        for (int v = 0; v < n && !s->nb[w]; v++)
            s->nb[w] = s->side[v] && s->und[(size_t)v * n + w];
    }
    for (int v = 0; v < n; v++)
        s->side[v] = s->side[v] || s->nb[v];    /* side + N, to avoid */
    sep_bfs(s, s->y, s->side, NULL, s->far);
    for (int w = 0; w < n; w++) {
        sep[w] = 0;
        if (!s->nb[w])
            continue;
        for (int v = 0; v < n && !sep[w]; v++)
            sep[w] = s->far[v] && s->und[(size_t)v * n + w];
    }
    return 1;
}

/* List from the separator closest to x; s is set up by the caller. */
static int list_separators(DagIndex *ix, SepSearch *s, uchar *und,
                           uchar *scratch, int max_sets, DagSetList *out)
{
    int n = ix->n, cap = 0;
    size_t k = (size_t)n + 1;
    uchar *from = scratch, *sep = scratch + k, *xside = scratch + 2 * k;
    uchar *next = scratch + 3 * k;
    /* Moralise G with the edges out of x removed, on the ancestral set. */
    for (int v = 0; v < n; v++) {
        if (!s->anc[v])
            continue;
        for (int a = ix->pstart[v]; a < ix->pstart[v + 1]; a++) {
            int p = ix->plist[a];
            if (s->x[p])
                continue;
            und[(size_t)p * n + v] = und[(size_t)v * n + p] = 1;
            for (int b = a + 1; b < ix->pstart[v + 1]; b++) {
                int q = ix->plist[b];
                if (!s->x[q])
                    und[(size_t)p * n + q] = und[(size_t)q * n + p] = 1;
            }
        }
    }
    if (!close_separator(s, s->x, sep))
        return 0;                               /* no separator at all */
    if (set_list_push(out, sep, &cap) < 0)
        return -1;
    for (int i = 0; i < out->count && !out->truncated; i++) {
        memcpy(sep, out->sets + (size_t)i * n, (size_t)n);
        sep_bfs(s, s->x, sep, NULL, xside);     /* x's side of sep */
        for (int v = 0; v < n && !out->truncated; v++) {
            if (!sep[v])
                continue;
            memcpy(from, xside, (size_t)n);
            from[v] = 1;
            if (!close_separator(s, from, next) || set_list_has(out, next))
                continue;
            if (out->count == max_sets)
                out->truncated = 1;
            else if (set_list_push(out, next, &cap) < 0)
                return -1;
        }
    }
    return 0;
}

static int backdoor_by_separators(DagIndex *ix, const uchar *x,
                                  const uchar *y, const uchar *cand,
                                  int max_sets, DagSetList *out)
{
    int n = ix->n, rc = -1;
    size_t k = (size_t)n + 1;
    uchar *und = calloc((size_t)n * n + 1, 1), *pool = calloc(10 * k, 1);
    int *queue = malloc(k * sizeof *queue);
    if (und && pool && queue) {
        uchar *anc = pool, *forb = pool + k, *xy = pool + 2 * k;
        SepSearch s = {n, und, anc, forb, x, y, pool + 3 * k, pool + 4 * k,
                       pool + 5 * k, queue};
        for (int v = 0; v < n; v++)
            xy[v] = x[v] || y[v];
        dag_reach(ix, xy, 1, NULL, NULL, anc);
        for (int v = 0; v < n; v++)
            forb[v] = anc[v] && !cand[v];
        rc = list_separators(ix, &s, und, pool + 6 * k, max_sets, out);
    }
    free(und);
    free(pool);
    free(queue);
    return rc;
}

/* method: -1 automatic, 0 separator listing, 1 subset search. */
static int backdoor_sets(const Dag *d, const uchar *x, const uchar *y,
                         int max_sets, int method, DagSetList *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->n = d->n;
    if (set_empty(x, d->n) || set_empty(y, d->n) || set_meets(x, y, d->n)) {
        snprintf(err, errlen, "the treatment and outcome sets must be "
                 "non-empty and disjoint");
        return -1;
    }
    if (max_sets < 1)
        max_sets = 1;
    DagIndex ix;
    if (index_for_query(&ix, d, err, errlen) < 0)
        return -1;
    int n = d->n, rc = -1;
    uchar *obs = malloc((size_t)n + 1), *de = malloc((size_t)n + 1);
    uchar *an = malloc((size_t)n + 1), *xy = malloc((size_t)n + 1);
    uchar *cand = malloc((size_t)n + 1);
    if (obs && de && an && xy && cand) {
        dag_observed_mask(d, obs);
        dag_reach(&ix, x, 0, NULL, NULL, de);
        for (int v = 0; v < n; v++)
            xy[v] = x[v] || y[v];
        dag_reach(&ix, xy, 1, NULL, NULL, an);
        for (int v = 0; v < n; v++)
            cand[v] = obs[v] && an[v] && !de[v] && !y[v];
        int r = set_count(cand, n);
        if (method < 0)
            method = r <= 20;
        if (method == 1 && r > 20)
            method = 0;
        out->exhaustive = method;
        rc = method ? backdoor_by_subsets(&ix, x, y, cand, max_sets, out)
                    : backdoor_by_separators(&ix, x, y, cand, max_sets, out);
        if (rc == 0)
            rc = set_list_sort(out);
    }
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        dag_set_list_free(out);
    }
    free(obs);
    free(de);
    free(an);
    free(xy);
    free(cand);
    dag_index_free(&ix);
    return rc;
}

int dag_backdoor_minimal_sets(const Dag *d, const unsigned char *x,
                              const unsigned char *y, int max_sets,
                              DagSetList *out, char *err, size_t errlen)
{
    return backdoor_sets(d, x, y, max_sets, -1, out, err, errlen);
}

int dag_backdoor_sets_by(const Dag *d, const unsigned char *x,
                         const unsigned char *y, int max_sets, int subsets,
                         DagSetList *out, char *err, size_t errlen)
{
    return backdoor_sets(d, x, y, max_sets, subsets ? 1 : 0, out, err,
                         errlen);
}

/* ------------------------------------------------------------------ */
/* Frontdoor                                                           */

static int frontdoor_ok(DagIndex *ix, const uchar *x, const uchar *y,
                        const uchar *m, uchar *scratch)
{
    int n = ix->n;
    if (set_empty(m, n) || set_meets(m, x, n) || set_meets(m, y, n))
        return 0;
    /* (i) every directed path from x to y enters m: with the edges into m
     * cut, y is out of x's reach. */
    dag_reach(ix, x, 0, m, NULL, scratch);
    if (set_meets(scratch, y, n))
        return 0;
    /* (ii) no open backdoor path from x to m */
    memset(scratch, 0, (size_t)n);
    if (dag_dsep_cut(ix, x, m, scratch, NULL, x, NULL, NULL) != 1)
        return 0;
    /* (iii) x blocks every backdoor path from m to y */
    return dag_dsep_cut(ix, m, y, x, NULL, m, NULL, NULL) == 1;
}

int dag_is_frontdoor_set(const Dag *d, const unsigned char *x,
                         const unsigned char *y, const unsigned char *m)
{
    DagIndex ix;
    char err[8];
    if (index_for_query(&ix, d, err, sizeof err) < 0)
        return -1;
    uchar *scratch = malloc((size_t)d->n + 1);
    int r = scratch ? frontdoor_ok(&ix, x, y, m, scratch) : -1;
    free(scratch);
    dag_index_free(&ix);
    return r;
}

/* Candidates are the observed nodes on directed paths from x to y.  Up to
 * 20 of them, subsets by size find a smallest set; beyond, we try all of
 * them and shrink greedily (the ID algorithm, which is complete, still
 * answers the query if this misses a set). */
int dag_frontdoor_set(const Dag *d, const unsigned char *x,
                      const unsigned char *y, unsigned char *m)
{
    DagIndex ix;
    char err[8];
    if (index_for_query(&ix, d, err, sizeof err) < 0)
        return -1;
    int n = d->n, found = -1, r = 0, cidx[20], pick[20];
    uchar *obs = malloc((size_t)n + 1), *de = malloc((size_t)n + 1);
    uchar *an = malloc((size_t)n + 1), *cand = malloc((size_t)n + 1);
    uchar *scratch = malloc((size_t)n + 1);
    if (!obs || !de || !an || !cand || !scratch)
        goto done;
    found = 0;
    dag_observed_mask(d, obs);
    dag_reach(&ix, x, 0, NULL, NULL, de);
    dag_reach(&ix, y, 1, NULL, NULL, an);
    for (int v = 0; v < n; v++) {
        cand[v] = obs[v] && de[v] && an[v] && !x[v] && !y[v];
        r += cand[v];
    }
    if (r > 20) {
        memcpy(m, cand, (size_t)n);
        if (!frontdoor_ok(&ix, x, y, m, scratch))
            goto done;
        for (int v = n - 1; v >= 0; v--) {
            if (!m[v])
                continue;
            m[v] = 0;
            if (!frontdoor_ok(&ix, x, y, m, scratch))
                m[v] = 1;
        }
        found = 1;
        goto done;
    }
    for (int v = 0, k = 0; v < n; v++)
        if (cand[v])
            cidx[k++] = v;
    for (int k = 1; k <= r && !found; k++) {
        for (int i = 0; i < k; i++)
            pick[i] = i;
        for (;;) {
            memset(m, 0, (size_t)n);
            for (int i = 0; i < k; i++)
                m[cidx[pick[i]]] = 1;
            if (frontdoor_ok(&ix, x, y, m, scratch)) {
                found = 1;
                break;
            }
            int i = k - 1;
            while (i >= 0 && pick[i] == r - k + i)
                i--;
            if (i < 0)
                break;
            pick[i]++;
            for (int j = i + 1; j < k; j++)
                pick[j] = pick[j - 1] + 1;
        }
    }
done:
    if (found == 0)
        memset(m, 0, (size_t)n);
    free(obs);
    free(de);
    free(an);
    free(cand);
    free(scratch);
    dag_index_free(&ix);
    return found;
}

/* ------------------------------------------------------------------ */
/* Expressions for the ID algorithm                                    */

typedef struct ArenaBlock {
    struct ArenaBlock *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} ArenaBlock;

enum { EX_ONE, EX_PROB, EX_PROD, EX_SUM, EX_FRAC };

typedef struct Expr Expr;
struct Expr {
    int kind;
    uchar *vars;    /* PROB: heads; SUM: summed variables */
    uchar *cond;    /* PROB: conditioning set */
    uchar *heads;   /* H with sum_H e = 1, when known (NULL otherwise) */
    uchar *free;    /* free variables */
    int nkids;
    Expr **kids;    /* PROD: factors; SUM: body; FRAC: numerator, denominator */
};

typedef struct {
    const Dag *d;
    int n;
    DagIndex ix;            /* the full graph, latent nodes included */
    uchar *obs;
    uchar *dir, *bi;        /* latent projection: a -> b, a <-> b (n*n) */
    int *pos;               /* position of each node in ix.topo */
    ArenaBlock *arena;
    jmp_buf oom;
    unsigned lines;
    uchar *hedge_f, *hedge_fp;
    Expr one;
} Id;

static void *id_alloc(Id *c, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    ArenaBlock *b = c->arena;
    if (!b || b->used + size > b->size) {
        size_t cap = size > 65536 ? size : 65536;
        b = malloc(sizeof *b + cap);
        if (!b)
            longjmp(c->oom, 1);
        b->next = c->arena;
        b->used = 0;
        b->size = cap;
        c->arena = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

static void id_arena_free(Id *c)
{
    while (c->arena) {
        ArenaBlock *next = c->arena->next;
        free(c->arena);
        c->arena = next;
    }
}

static uchar *set_new(Id *c)
{
    return id_alloc(c, (size_t)c->n + 1);
}

static uchar *set_copy(Id *c, const uchar *a)
{
    uchar *s = set_new(c);
    for (int v = 0; v < c->n; v++)
        s[v] = a[v] != 0;
    return s;
}

static uchar *set_or(Id *c, const uchar *a, const uchar *b)
{
    uchar *s = set_new(c);
    for (int v = 0; v < c->n; v++)
        s[v] = a[v] || b[v];
    return s;
}

static uchar *set_and(Id *c, const uchar *a, const uchar *b)
{
    uchar *s = set_new(c);
    for (int v = 0; v < c->n; v++)
        s[v] = a[v] && b[v];
    return s;
}

static uchar *set_minus(Id *c, const uchar *a, const uchar *b)
{
    uchar *s = set_new(c);
    for (int v = 0; v < c->n; v++)
        s[v] = a[v] && !b[v];
    return s;
}

static uchar *set_single(Id *c, int v)
{
    uchar *s = set_new(c);
    s[v] = 1;
    return s;
}

static Expr *ex_new(Id *c, int kind, int nkids)
{
    Expr *e = id_alloc(c, sizeof *e);
    e->kind = kind;
    e->nkids = nkids;
    e->kids = nkids ? id_alloc(c, (size_t)nkids * sizeof *e->kids) : NULL;
    return e;
}

/* P(h | cond) of the observational distribution, with every conditioning
 * node that is d-separated from h given the others dropped (latest in
 * topological order first, so the earlier, "causal" ones stay). */
static Expr *ex_prob(Id *c, const uchar *h, const uchar *cond)
{
    int n = c->n;
    if (set_empty(h, n))
        return &c->one;
    uchar *keep = set_copy(c, cond), *dropped = set_new(c);
    for (int i = n - 1; i >= 0; i--) {
        int v = c->ix.topo[i];
        if (!keep[v])
            continue;
        keep[v] = 0;
        dropped[v] = 1;
        if (dag_dsep_cut(&c->ix, h, dropped, keep, NULL, NULL, NULL,
                         NULL) != 1) {
            keep[v] = 1;
            dropped[v] = 0;
        }
    }
    Expr *e = ex_new(c, EX_PROB, 0);
    e->vars = set_copy(c, h);
    e->cond = keep;
    e->heads = e->vars;
    e->free = set_or(c, e->vars, e->cond);
    return e;
}

static Expr *ex_sum(Id *c, const uchar *s, Expr *body)
{
    if (set_empty(s, c->n))
        return body;
    if (body->kind == EX_SUM && !set_meets(s, body->vars, c->n)) {
        /* sum_s sum_t f = sum_{s, t} f when no name is rebound */
        Expr *e = ex_new(c, EX_SUM, 1);
        e->vars = set_or(c, s, body->vars);
        e->kids[0] = body->kids[0];
        e->free = set_minus(c, body->kids[0]->free, e->vars);
        return e;
    }
    Expr *e = ex_new(c, EX_SUM, 1);
    e->vars = set_copy(c, s);
    e->kids[0] = body;
    e->free = set_minus(c, body->free, s);
    return e;
}

/* Where a factor goes in a product: the earliest of its heads (or, when
 * those are unknown, of its free variables) in topological order. */
static int factor_rank(const Id *c, const Expr *e)
{
    const uchar *s = e->heads ? e->heads : e->free;
    for (int i = 0; i < c->n; i++)
        if (s[c->ix.topo[i]])
            return i;
    return c->n;
}

/* A product, flattened, without factors 1. */
static Expr *ex_prod(Id *c, Expr **f, int k)
{
    int m = 0;
    for (int i = 0; i < k; i++)
        m += f[i]->kind == EX_PROD ? f[i]->nkids : f[i]->kind != EX_ONE;
    if (m == 0)
        return &c->one;
    Expr *e = ex_new(c, EX_PROD, m);
    e->free = set_new(c);
    m = 0;
    for (int i = 0; i < k; i++) {
        if (f[i]->kind == EX_PROD)
            for (int j = 0; j < f[i]->nkids; j++)
                e->kids[m++] = f[i]->kids[j];
        else if (f[i]->kind != EX_ONE)
            e->kids[m++] = f[i];
    }
    if (m == 1)
        return e->kids[0];
    /* Factors in topological order of what they are distributions of, as
     * a chain rule is written (insertion sort: products are short, and a
     * stable order keeps equal products structurally equal). */
    for (int i = 1; i < m; i++) {
        Expr *g = e->kids[i];
        int key = factor_rank(c, g), j = i;
        for (; j > 0 && factor_rank(c, e->kids[j - 1]) > key; j--)
            e->kids[j] = e->kids[j - 1];
        e->kids[j] = g;
    }
    for (int i = 0; i < m; i++)
        for (int v = 0; v < c->n; v++)
            e->free[v] |= e->kids[i]->free[v];
    return e;
}

static Expr *ex_frac(Id *c, Expr *num, Expr *den, const uchar *heads)
{
    Expr *e = ex_new(c, EX_FRAC, 2);
    e->kids[0] = num;
    e->kids[1] = den;
    e->heads = set_copy(c, heads);
    e->free = set_or(c, num->free, den->free);
    return e;
}

static int ex_equal(const Expr *a, const Expr *b, int n)
{
    if (a == b)
        return 1;
    if (a->kind != b->kind || a->nkids != b->nkids)
        return 0;
    if (a->kind == EX_PROB)
        return set_equal(a->vars, b->vars, n) && set_equal(a->cond, b->cond, n);
    if (a->kind == EX_SUM && !set_equal(a->vars, b->vars, n))
        return 0;
    for (int i = 0; i < a->nkids; i++)
        if (!ex_equal(a->kids[i], b->kids[i], n))
            return 0;
    return 1;
}

static Expr *marg(Id *c, Expr *e, const uchar *s);

/* sum_s of a product, s within its free variables. */
static Expr *marg_prod(Id *c, Expr *e, uchar *s)
{
    int n = c->n, k = e->nkids;
    Expr **f = id_alloc(c, (size_t)k * sizeof *f);
    memcpy(f, e->kids, (size_t)k * sizeof *f);
    for (int changed = 1; changed;) {
        changed = 0;
        /* A factor that is a distribution over heads h, all summed and
         * mentioned nowhere else, sums to 1. */
        for (int i = 0; i < k; i++) {
            const uchar *h = f[i]->heads;
            if (f[i]->kind == EX_ONE || f[i]->kind == EX_PROB || !h ||
                set_empty(h, n) || !set_subset(h, s, n))
                continue;
            int alone = 1;
            for (int j = 0; j < k && alone; j++)
                alone = j == i || !set_meets(f[j]->free, h, n);
            if (!alone)
                continue;
            f[i] = &c->one;
            for (int v = 0; v < n; v++)
                s[v] = s[v] && !h[v];
            changed = 1;
        }
        /* A variable in one factor only: the sum moves into the factor. */
        for (int v = 0; v < n; v++) {
            if (!s[v])
                continue;
            int at = -1, count = 0;
            for (int j = 0; j < k; j++)
                if (f[j]->free[v]) {
                    at = j;
                    count++;
                }
            if (count != 1)
                continue;
            Expr *g = f[at];
            if (g->kind == EX_PROB && g->vars[v]) {
                g = ex_prob(c, set_minus(c, g->vars, set_single(c, v)),
                            g->cond);
            } else if (g->kind == EX_SUM) {
                g = marg(c, g, set_single(c, v));
            } else {
                continue;
            }
            f[at] = g;
            s[v] = 0;
            changed = 1;
        }
    }
    /* What is still summed: group the factors linked by summed variables,
     * one sum per group, the other factors outside. */
    int *group = id_alloc(c, (size_t)k * sizeof *group);
    for (int i = 0; i < k; i++)
        group[i] = i;
    for (int v = 0; v < n; v++) {
        if (!s[v])
            continue;
        int first = -1;
        for (int j = 0; j < k; j++) {
            if (!f[j]->free[v])
                continue;
            if (first < 0) {
                first = j;
                continue;
            }
            int from = group[j], to = group[first];
            for (int i = 0; i < k; i++)
                if (group[i] == from)
                    group[i] = to;
        }
    }
    Expr **out = id_alloc(c, (size_t)k * sizeof *out);
    Expr **members = id_alloc(c, (size_t)k * sizeof *members);
    int nout = 0;
    for (int g = 0; g < k; g++) {
        int m = 0;
        uchar *gs = set_new(c);
        for (int j = 0; j < k; j++)
            if (group[j] == g && f[j]->kind != EX_ONE) {
                members[m++] = f[j];
                for (int v = 0; v < n; v++)
                    gs[v] |= s[v] && f[j]->free[v];
            }
        if (m == 0)
            continue;
        if (set_empty(gs, n)) {
            for (int j = 0; j < m; j++)
                out[nout++] = members[j];
        } else {
            out[nout++] = ex_sum(c, gs, ex_prod(c, members, m));
        }
    }
    return ex_prod(c, out, nout);
}

/* sum_s e, s within e's free variables. */
static Expr *marg_free(Id *c, Expr *e, uchar *s)
{
    if (set_empty(s, c->n))
        return e;
    switch (e->kind) {
    case EX_PROB: {
        uchar *sh = set_and(c, s, e->vars), *sc = set_and(c, s, e->cond);
        Expr *p = set_empty(sh, c->n)
                      ? e : ex_prob(c, set_minus(c, e->vars, sh), e->cond);
        return ex_sum(c, sc, p);
    }
    case EX_SUM:
        return marg(c, e->kids[0], set_or(c, s, e->vars));
    case EX_PROD:
        return marg_prod(c, e, s);
    default:
        return ex_sum(c, s, e);
    }
}

/* sum_s e.  Summing a variable e does not mention multiplies by its
 * number of values; that stays written as a sum, exact if odd. */
static Expr *marg(Id *c, Expr *e, const uchar *s)
{
    uchar *in = set_and(c, s, e->free), *out = set_minus(c, s, e->free);
    return ex_sum(c, out, marg_free(c, e, in));
}

/* num / den, cancelling common factors of a product. */
static Expr *ex_divide(Id *c, Expr *num, Expr *den, const uchar *heads)
{
    if (den->kind == EX_ONE)
        return num;
    if (num->kind == EX_PROD) {
        Expr **df = den->kind == EX_PROD ? den->kids : &den;
        int dk = den->kind == EX_PROD ? den->nkids : 1, nk = num->nkids;
        uchar *used = id_alloc(c, (size_t)nk);
        int matched = 0;
        for (int i = 0; i < dk; i++)
            for (int j = 0; j < nk; j++)
                if (!used[j] && ex_equal(df[i], num->kids[j], c->n)) {
                    used[j] = 1;
                    matched++;
                    break;
                }
        if (matched == dk) {
            Expr **rest = id_alloc(c, (size_t)nk * sizeof *rest);
            int m = 0;
            for (int j = 0; j < nk; j++)
                if (!used[j])
                    rest[m++] = num->kids[j];
            Expr *r = ex_prod(c, rest, m);
            if (!r->heads && r->kind != EX_ONE)
                r->heads = set_copy(c, heads);
            return r;
        }
    }
    return ex_frac(c, num, den, heads);
}

/* The conditional of P (a distribution over v_set) of node v given pred. */
static Expr *ex_conditional(Id *c, Expr *p, const uchar *v_set, int v,
                            const uchar *pred)
{
    if (p->kind == EX_PROB && p->vars[v] && set_subset(pred, p->vars, c->n))
        return ex_prob(c, set_single(c, v), set_or(c, pred, p->cond));
    uchar *keep = set_copy(c, pred);
    keep[v] = 1;
    Expr *num = marg(c, p, set_minus(c, v_set, keep));
    Expr *den = marg(c, num, set_single(c, v));
    Expr *r = ex_divide(c, num, den, set_single(c, v));
    if (!r->heads && r->kind != EX_ONE && r->kind != EX_PROB)
        r->heads = set_single(c, v);
    return r;
}

/* prod over v in s (topological order) of P(v | nodes of V before v). */
static Expr *ex_chain(Id *c, Expr *p, const uchar *v_set, const uchar *s)
{
    int n = c->n, k = 0;
    Expr **f = id_alloc(c, (size_t)n * sizeof *f);
    uchar *pred = set_new(c);
    for (int i = 0; i < n; i++) {
        int v = c->ix.topo[i];
        if (!v_set[v])
            continue;
        if (s[v])
            f[k++] = ex_conditional(c, p, v_set, v, pred);
        pred[v] = 1;
    }
    return ex_prod(c, f, k);
}

/* ------------------------------------------------------------------ */
/* The latent projection and the ID recursion                          */

/* Observed nodes reachable from `from`'s children through unobserved
 * nodes only, into out (seen is scratch). */
static void reach_through_latent(Id *c, int from, uchar *out, uchar *seen)
{
    int n = c->n, top = 0, *stack = c->ix.queue;
    memset(out, 0, (size_t)n);
    memset(seen, 0, (size_t)n);
    stack[top++] = from;
    while (top > 0) {
        int v = stack[--top];
        for (int k = c->ix.cstart[v]; k < c->ix.cstart[v + 1]; k++) {
            int w = c->ix.clist[k];
            if (seen[w])
                continue;
            seen[w] = 1;
            if (c->obs[w])
                out[w] = 1;
            else
                stack[top++] = w;
        }
    }
}

static void project(Id *c)
{
    int n = c->n;
    uchar *r = set_new(c), *seen = set_new(c);
    c->dir = id_alloc(c, (size_t)n * n + 1);
    c->bi = id_alloc(c, (size_t)n * n + 1);
    for (int u = 0; u < n; u++) {
        reach_through_latent(c, u, r, seen);
        for (int a = 0; a < n; a++) {
            if (!r[a])
                continue;
            if (c->obs[u])
                c->dir[(size_t)u * n + a] = 1;
            else
                for (int b = 0; b < n; b++)
                    if (r[b] && b != a)
                        c->bi[(size_t)a * n + b] = 1;
        }
    }
}

/* Ancestors of y in the projection restricted to vs, with the edges into
 * `cut` removed (cut may be NULL). */
static uchar *id_ancestors(Id *c, const uchar *vs, const uchar *y,
                           const uchar *cut)
{
    int n = c->n, top = 0, *stack = c->ix.queue;
    uchar *an = set_and(c, y, vs);
    for (int v = 0; v < n; v++)
        if (an[v])
            stack[top++] = v;
    while (top > 0) {
        int v = stack[--top];
        if (cut && cut[v])
            continue;
        for (int u = 0; u < n; u++)
            if (vs[u] && !an[u] && c->dir[(size_t)u * n + v]) {
                an[u] = 1;
                stack[top++] = u;
            }
    }
    return an;
}

/* C-components of the projection restricted to vs; returns their count. */
static int id_components(Id *c, const uchar *vs, uchar ***comps)
{
    int n = c->n, k = 0, *stack = c->ix.queue;
    uchar **out = id_alloc(c, ((size_t)n + 1) * sizeof *out);
    uchar *done = set_new(c);
    for (int i = 0; i < n; i++) {
        int s = c->ix.topo[i];
        if (!vs[s] || done[s])
            continue;
        uchar *comp = set_new(c);
        int top = 0;
        stack[top++] = s;
        comp[s] = done[s] = 1;
        while (top > 0) {
            int v = stack[--top];
            for (int w = 0; w < n; w++)
                if (vs[w] && !done[w] && c->bi[(size_t)v * n + w]) {
                    comp[w] = done[w] = 1;
                    stack[top++] = w;
                }
        }
        out[k++] = comp;
    }
    *comps = out;
    return k;
}

#define LINE(k) (c->lines |= 1u << (k))

/* ID(y, x, P, G[vs]) of Shpitser & Pearl (2006), Figure 3; NULL on a
 * hedge, which is left in c->hedge_f and c->hedge_fp. */
static Expr *id_rec(Id *c, const uchar *y, const uchar *x, Expr *p,
                    const uchar *vs)
{
    int n = c->n;
    /* 1: no intervention left: marginalise */
    if (set_empty(x, n)) {
        LINE(1);
        return marg(c, p, set_minus(c, vs, y));
    }
    /* 2: drop what is not an ancestor of y */
    uchar *an = id_ancestors(c, vs, y, NULL);
    if (!set_equal(an, vs, n)) {
        LINE(2);
        return id_rec(c, y, set_and(c, x, an), marg(c, p, set_minus(c, vs, an)),
                      an);
    }
    /* 3: intervene also on what do(x) cuts off from y */
    uchar *an_x = id_ancestors(c, vs, y, x);
    uchar *w = set_minus(c, set_minus(c, vs, x), an_x);
    if (!set_empty(w, n)) {
        LINE(3);
        return id_rec(c, y, set_or(c, x, w), p, vs);
    }
    /* 4: several c-components without x: one factor each */
    uchar **cs;
    int k = id_components(c, set_minus(c, vs, x), &cs);
    if (k > 1) {
        LINE(4);
        Expr **f = id_alloc(c, (size_t)k * sizeof *f);
        for (int i = 0; i < k; i++) {
            f[i] = id_rec(c, cs[i], set_minus(c, vs, cs[i]), p, vs);
            if (!f[i])
                return NULL;
        }
        return marg(c, ex_prod(c, f, k), set_minus(c, vs, set_or(c, y, x)));
    }
    uchar *s = cs[0], **gs;
    int gk = id_components(c, vs, &gs);
    /* 5: G is one c-component: the hedge (G, G restricted to S) */
    if (gk == 1) {
        LINE(5);
        memcpy(c->hedge_f, vs, (size_t)n);
        memcpy(c->hedge_fp, s, (size_t)n);
        return NULL;
    }
    /* 6: S is a c-component of G */
    for (int i = 0; i < gk; i++)
        if (set_equal(gs[i], s, n)) {
            LINE(6);
            return marg(c, ex_chain(c, p, vs, s), set_minus(c, s, y));
        }
    /* 7: S lies inside a bigger c-component S' of G */
    for (int i = 0; i < gk; i++)
        if (set_subset(s, gs[i], n)) {
            LINE(7);
            return id_rec(c, y, set_and(c, x, gs[i]),
                          ex_chain(c, p, vs, gs[i]), gs[i]);
        }
    return NULL;    /* unreachable: S lies in some c-component of G */
}

/* IDC (Shpitser & Pearl 2006b): move each z that rule 2 allows into the
 * intervention, then normalise ID(y + z, x) over y. */
static Expr *idc(Id *c, uchar *y, uchar *x, uchar *z, Expr *p, uchar *vs)
{
    int n = c->n;
    for (int i = 0; i < n; i++) {
        int v = c->ix.topo[i];
        if (!z[v])
            continue;
        uchar *zv = set_single(c, v), *rest = set_minus(c, z, zv);
        if (dag_dsep_cut(&c->ix, y, zv, set_or(c, x, rest), x, zv, NULL,
                         NULL) == 1)
            return idc(c, y, set_or(c, x, zv), rest, p, vs);
    }
    Expr *joint = id_rec(c, set_or(c, y, z), x, p, vs);
    if (!joint || set_empty(z, n))
        return joint;
    return ex_divide(c, joint, marg(c, joint, y), y);
}

/* ------------------------------------------------------------------ */
/* Printing an estimand                                                */

typedef struct {
    Id *c;
    FILE *f;
    int *primes;        /* x' for a name rebound inside a sum */
    uchar *bound;       /* the name is in use in this scope */
    int overflow;       /* gave up: the text passed PRINT_LIMIT */
} Printer;

/* Shared subexpressions print once per use, so a pathological graph could
 * ask for an astronomically long formula; stop at a size no one reads. */
enum { PRINT_LIMIT = 1 << 20 };

static void pr_names(Printer *p, const uchar *set)
{
    const char *sep = "";
    for (int v = 0; v < p->c->n; v++)
        if (set[v]) {
            fprintf(p->f, "%s%s", sep, p->c->d->names[v]);
            for (int i = 0; i < p->primes[v]; i++)
                fputc('\'', p->f);
            sep = ", ";
        }
}

static void pr_expr(Printer *p, const Expr *e);

static void pr_wrapped(Printer *p, const Expr *e, int wrap)
{
    if (wrap)
        fputc('(', p->f);
    pr_expr(p, e);
    if (wrap)
        fputc(')', p->f);
}

static void pr_expr(Printer *p, const Expr *e)
{
    int n = p->c->n;
    if (p->overflow || ftell(p->f) > PRINT_LIMIT) {
        p->overflow = 1;
        return;
    }
    switch (e->kind) {
    case EX_ONE:
        fputc('1', p->f);
        break;
    case EX_PROB:
        fputs("P(", p->f);
        pr_names(p, e->vars);
        if (!set_empty(e->cond, n)) {
            fputs(" | ", p->f);
            pr_names(p, e->cond);
        }
        fputc(')', p->f);
        break;
    case EX_PROD: {
        /* Sums reach to the end of a product, so they go last, and all but
         * the final one (and fractions) are parenthesised. */
        int nsums = 0, printed = 0;
        for (int i = 0; i < e->nkids; i++)
            nsums += e->kids[i]->kind == EX_SUM;
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < e->nkids; i++) {
                const Expr *g = e->kids[i];
                if ((g->kind == EX_SUM) != pass)
                    continue;
                if (printed++)
                    fputc(' ', p->f);
                int last_sum = pass && --nsums == 0;
                pr_wrapped(p, g, g->kind == EX_FRAC ||
                                     (g->kind == EX_SUM && !last_sum));
            }
        break;
    }
    case EX_SUM: {
        int *saved = id_alloc(p->c, (size_t)n * sizeof *saved);
        uchar *was = set_copy(p->c, p->bound);
        for (int v = 0; v < n; v++) {
            saved[v] = p->primes[v];
            if (!e->vars[v])
                continue;
            if (p->bound[v])
                p->primes[v]++;
            p->bound[v] = 1;
        }
        fputs("sum_{", p->f);
        pr_names(p, e->vars);
        fputs("} ", p->f);
        pr_wrapped(p, e->kids[0], e->kids[0]->kind == EX_FRAC);
        memcpy(p->primes, saved, (size_t)n * sizeof *saved);
        memcpy(p->bound, was, (size_t)n);
        break;
    }
    case EX_FRAC:
        pr_wrapped(p, e->kids[0], e->kids[0]->kind != EX_PROB);
        fputs(" / ", p->f);
        pr_wrapped(p, e->kids[1], e->kids[1]->kind != EX_PROB);
        break;
    }
}

static char *ex_to_string(Id *c, const Expr *e, const uchar *in_scope)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        longjmp(c->oom, 1);
    Printer p = {c, f, id_alloc(c, (size_t)c->n * sizeof(int)),
                 set_copy(c, in_scope), 0};
    pr_expr(&p, e);
    fclose(f);
    if (p.overflow) {
        free(buf);
        buf = strdup("(an estimand too long to print: over 1 MB)");
    }
    if (!buf)
        longjmp(c->oom, 1);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Entry point                                                         */

void dag_id_result_free(DagIdResult *res)
{
    free(res->expr);
    free(res->fixed);
    free(res->hedge_f);
    free(res->hedge_fprime);
    memset(res, 0, sizeof *res);
}

/* The query's sets are observed, disjoint, and y is non-empty. */
static int id_check_sets(const Dag *d, const uchar *obs, const uchar *y,
                         const uchar *x, const uchar *z, char *err,
                         size_t errlen)
{
    int n = d->n;
    if (set_empty(y, n)) {
        snprintf(err, errlen, "no outcome to identify");
        return -1;
    }
    for (int v = 0; v < n; v++) {
        int roles = (y[v] != 0) + (x[v] != 0) + (z && z[v]);
        if (roles > 1) {
            snprintf(err, errlen, "site '%s' appears in more than one role "
                     "of the query", d->names[v]);
            return -1;
        }
        if (roles && !obs[v]) {
            snprintf(err, errlen, "site '%s' is unobserved (%s), so "
                     "identification cannot use it; only observed sites "
                     "can be outcomes, treatments or conditions",
                     d->names[v], d->kind[v] == DAG_DETERMINISTIC
                         ? "a deterministic node with an unobserved parent"
                         : "latent: not bound by data");
            return -1;
        }
    }
    return 0;
}

int dag_id_algorithm(const Dag *d, const unsigned char *y,
                     const unsigned char *x, const unsigned char *z,
                     DagIdResult *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    Id *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->d = d;
    c->n = d->n;
    c->one.kind = EX_ONE;
    if (index_for_query(&c->ix, d, err, errlen) < 0) {
        free(c);
        return -1;
    }
    int rc = -1;
    if (setjmp(c->oom)) {
        snprintf(err, errlen, "out of memory");
        dag_id_result_free(res);
        goto done;
    }
    int n = c->n;
    c->one.free = set_new(c);       /* 1 mentions no variable */
    c->obs = set_new(c);
    dag_observed_mask(d, c->obs);
    if (id_check_sets(d, c->obs, y, x, z, err, errlen) < 0)
        goto done;
    c->hedge_f = set_new(c);
    c->hedge_fp = set_new(c);
    project(c);
    uchar *ys = set_copy(c, y), *xs = set_copy(c, x);
    uchar *zs = z ? set_copy(c, z) : set_new(c);
    uchar *vs = set_copy(c, c->obs);
    if (!set_empty(zs, n))
        c->lines |= 1u << 8;
    Expr *joint = ex_prob(c, vs, set_new(c));
    Expr *e = idc(c, ys, xs, zs, joint, vs);
    res->lines = c->lines;
    res->fixed = calloc((size_t)n + 1, 1);
    res->hedge_f = calloc((size_t)n + 1, 1);
    res->hedge_fprime = calloc((size_t)n + 1, 1);
    if (!res->fixed || !res->hedge_f || !res->hedge_fprime)
        longjmp(c->oom, 1);
    if (e) {
        uchar *query = set_or(c, set_or(c, ys, xs), zs);
        res->identifiable = 1;
        res->expr = ex_to_string(c, e, set_or(c, query, e->free));
        for (int v = 0; v < n; v++)
            res->fixed[v] = e->free[v] && !query[v];
    } else {
        memcpy(res->hedge_f, c->hedge_f, (size_t)n);
        memcpy(res->hedge_fprime, c->hedge_fp, (size_t)n);
    }
    rc = 0;
done:
    id_arena_free(c);
    dag_index_free(&c->ix);
    free(c);
    return rc;
}
