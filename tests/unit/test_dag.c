/*
 * test_dag.c - the causal graph: building, DOT and text output,
 * d-separation, backdoor/frontdoor sets, the ID algorithm, and every error
 * a query can produce, on the classic graphs of a causal-inference course
 * whose answers are known.
 */
#include <stdlib.h>
#include <string.h>

#include "causal_query.h"
#include "check.h"
#include "dag.h"

/* "x:o y:l m:d" (observed, latent, deterministic) and "x->m m->y". */
static Dag *graph(const char *nodes, const char *edges)
{
    Dag *d = dag_new(2);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", nodes);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
        char *colon = strchr(t, ':');
        DagNodeKind k = DAG_OBSERVED;
        if (colon) {
            *colon = 0;
            k = colon[1] == 'l' ? DAG_LATENT
                : colon[1] == 'd' ? DAG_DETERMINISTIC : DAG_OBSERVED;
        }
        dag_add_node(d, t, k, -1);
    }
    snprintf(buf, sizeof buf, "%s", edges);
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " ")) {
        char *arrow = strstr(t, "->");
        *arrow = 0;
        dag_add_edge(d, dag_find(d, t), dag_find(d, arrow + 2));
    }
    return d;
}

/* A set from "a, b" (static buffers, a few at a time). */
static unsigned char *set_of(const Dag *d, const char *names)
{
    static unsigned char pool[8][256];
    static int next;
    unsigned char *s = pool[next++ % 8];
    memset(s, 0, sizeof pool[0]);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", names);
    for (char *t = strtok(buf, ", "); t; t = strtok(NULL, ", "))
        s[dag_find(d, t)] = 1;
    return s;
}

typedef int (*Query)(const Dag *, const char *, FILE *, char *, size_t);

static char out_buf[8192], err_buf[1024];

/* Run a query; out_buf and err_buf hold what it printed. */
static int run(Query q, const Dag *d, const char *query)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    err_buf[0] = 0;
    int rc = q(d, query, f, err_buf, sizeof err_buf);
    fclose(f);
    snprintf(out_buf, sizeof out_buf, "%s", buf);
    free(buf);
    return rc;
}

static int run_adjust(const Dag *d, const char *x, const char *y)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    err_buf[0] = 0;
    int rc = causal_adjustment_sets(d, x, y, f, err_buf, sizeof err_buf);
    fclose(f);
    snprintf(out_buf, sizeof out_buf, "%s", buf);
    free(buf);
    return rc;
}

#define EXPECT_OUT(q, d, query, text)                                      \
    do {                                                                   \
        int rc_ = run(q, d, query);                                        \
        CHECK(rc_ == 0 && strcmp(out_buf, text) == 0,                      \
              "%s: rc %d\n got: %s expected: %s err: %s", query, rc_,      \
              out_buf, text, err_buf);                                     \
    } while (0)

#define EXPECT_ERR(q, d, query, text)                                      \
    do {                                                                   \
        int rc_ = run(q, d, query);                                        \
        CHECK(rc_ == 2 && strcmp(err_buf, text) == 0 && !out_buf[0],       \
              "%s: rc %d\n got: %s\n expected: %s", query, rc_, err_buf,   \
              text);                                                       \
    } while (0)

static char *dot_of(const Dag *d, const char *title)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dag_print_dot(f, d, title);
    fclose(f);
    return buf;
}

static char *text_of(const Dag *d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    dag_print_text(f, d);
    fclose(f);
    return buf;
}

/* ------------------------------------------------------------------ */

static void test_build(void)
{
    Dag *d = dag_new(1);
    int a = dag_add_node(d, "a", DAG_OBSERVED, -1);
    int b = dag_add_node(d, "b", DAG_LATENT, -1);
    dag_add_edge(d, a, b);
    /* nodes added after edges keep the edges (the matrix changes stride) */
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        int v = dag_add_node(d, name, DAG_OBSERVED, -1);
        CHECK(v == i + 2, "index %d", v);
        dag_add_edge(d, v - 1, v);
    }
    CHECK(d->n == 42, "n = %d", d->n);
    CHECK(dag_has_edge(d, a, b) && !dag_has_edge(d, b, a), "a -> b kept");
    CHECK(dag_has_edge(d, dag_find(d, "n3"), dag_find(d, "n4")), "chain");
    CHECK(d->adj[(size_t)a * d->n + b] == 1, "documented indexing");
    int edges = 0;
    for (int i = 0; i < d->n * d->n; i++)
        edges += d->adj[i];
    CHECK(edges == 41, "edges %d", edges);
    CHECK(dag_add_node(d, "a", DAG_OBSERVED, -1) == -1, "duplicate name");
    CHECK(dag_add_node(d, "", DAG_OBSERVED, -1) == -1, "empty name");
    CHECK(dag_add_node(d, "p", DAG_OBSERVED, 3) == -1, "no such plate");
    CHECK(dag_add_plate(d, "j in 1..J", 5) == -1, "no such parent plate");
    CHECK(dag_find(d, "zz") == -1, "find unknown");
    dag_intervene(d, b);
    CHECK(!dag_has_edge(d, a, b) && d->intervened[b], "do cuts edges");
    dag_free(d);
}

static void test_observed_rule(void)
{
    Dag *d = graph("u:l a:o b:o s:d t:d c:d",
                   "u->s a->s a->t b->t t->c b->c");
    unsigned char obs[8];
    dag_observed_mask(d, obs);
    CHECK(!obs[0] && obs[1] && obs[2], "kinds");
    CHECK(!obs[3], "deterministic with a latent parent is unobserved");
    CHECK(obs[4], "deterministic with observed parents is observed");
    CHECK(obs[5], "rule applies through deterministic parents");
    dag_intervene(d, 0);
    dag_observed_mask(d, obs);
    CHECK(obs[0] && obs[3], "an intervened node is known");
    dag_free(d);
}

static void test_dot(void)
{
    Dag *d = dag_new(8);
    int pj = dag_add_plate(d, "j in 1..J", -1);
    int pk = dag_add_plate(d, "k in 1..K", pj);
    int pj2 = dag_add_plate(d, "j in 1..M", -1);
    int mu = dag_add_node(d, "mu", DAG_LATENT, -1);
    int eta = dag_add_node(d, "eta", DAG_LATENT, pj);
    int th = dag_add_node(d, "theta", DAG_DETERMINISTIC, pj);
    int y = dag_add_node(d, "y", DAG_OBSERVED, pk);
    int t = dag_add_node(d, "t", DAG_OBSERVED, -1);
    int w = dag_add_node(d, "w\"q", DAG_LATENT, pj2);
    dag_add_edge(d, mu, th);
    dag_add_edge(d, eta, th);
    dag_add_edge(d, th, y);
    dag_add_edge(d, mu, t);
    dag_add_edge(d, t, y);
    dag_add_edge(d, w, w);
    dag_intervene(d, t);
    char *dot = dot_of(d, "eight schools");
    const char *want =
        "digraph \"eight schools\" {\n"
        "  \"mu\" [shape=ellipse, style=filled, fillcolor=white];\n"
        "  subgraph cluster_j {\n"
        "    label=\"j in 1..J\";\n"
        "    \"eta\" [shape=ellipse, style=filled, fillcolor=white];\n"
        "    \"theta\" [shape=box, style=filled, fillcolor=white];\n"
        "    subgraph cluster_k {\n"
        "      label=\"k in 1..K\";\n"
        "      \"y\" [shape=ellipse, style=filled, fillcolor=grey];\n"
        "    }\n"
        "  }\n"
        "  \"t\" [shape=ellipse, style=filled, fillcolor=grey, "
        "peripheries=2];\n"
        "  subgraph cluster_j_2 {\n"
        "    label=\"j in 1..M\";\n"
        "    \"w\\\"q\" [shape=ellipse, style=filled, fillcolor=white];\n"
        "  }\n"
        "  \"mu\" -> \"theta\";\n"
        "  \"eta\" -> \"theta\";\n"
        "  \"theta\" -> \"y\";\n"
        "  \"t\" -> \"y\";\n"
        "  \"w\\\"q\" -> \"w\\\"q\";\n"
        "}\n";
    CHECK(strcmp(dot, want) == 0, "dot:\n%s", dot);
    CHECK(!strstr(dot, "\"mu\" -> \"t\""), "edge into a do node removed");
    free(dot);
    char *text = text_of(d);
    const char *want_text =
        "mu [latent]\n"
        "eta [latent, plate j in 1..J]\n"
        "theta [deterministic, plate j in 1..J] <- mu, eta\n"
        "y [observed, plate j in 1..J, plate k in 1..K] <- theta, t\n"
        "t [observed, do]\n"
        "w\"q [latent, plate j in 1..M] <- w\"q\n"
        "\nlegend: [observed] bound by data, [latent] not bound by data, "
        "[deterministic] computed from its parents, [do] intervened "
        "(incoming edges cut), [plate ...] repeated over the plate; "
        "\"y <- x, z\" lists the parents of y\n";
    CHECK(strcmp(text, want_text) == 0, "text:\n%s", text);
    free(text);
    (void)pk;
    dag_free(d);

    Dag *e = graph("x y", "x->y");
    dot = dot_of(e, NULL);
    CHECK(strcmp(dot, "digraph \"cm\" {\n"
                      "  \"x\" [shape=ellipse, style=filled, fillcolor=grey];\n"
                      "  \"y\" [shape=ellipse, style=filled, fillcolor=grey];\n"
                      "  \"x\" -> \"y\";\n}\n") == 0, "plain dot:\n%s", dot);
    free(dot);
    dag_free(e);
}

/* ------------------------------------------------------------------ */

static void test_dsep_classics(void)
{
    Query q = causal_dsep_query;
    Dag *chain = graph("x m y", "x->m m->y");
    EXPECT_OUT(q, chain, "x, y",
               "x and y are NOT d-separated given {}: open path x -> m -> y\n");
    EXPECT_OUT(q, chain, "x, y | m", "x and y are d-separated given {m}\n");
    EXPECT_OUT(q, chain, "y _||_ x | m", "y and x are d-separated given {m}\n");
    dag_free(chain);

    Dag *fork = graph("u x y", "u->x u->y");
    EXPECT_OUT(q, fork, "x, y",
               "x and y are NOT d-separated given {}: open path x <- u -> y\n");
    EXPECT_OUT(q, fork, "x ⊥ y | u", "x and y are d-separated given {u}\n");
    dag_free(fork);

    Dag *col = graph("x y c d", "x->c y->c c->d");
    EXPECT_OUT(q, col, "x, y", "x and y are d-separated given {}\n");
    EXPECT_OUT(q, col, "x, y | c",
               "x and y are NOT d-separated given {c}: open path "
               "x -> c (collider) <- y\n");
    EXPECT_OUT(q, col, "x, y | d",
               "x and y are NOT d-separated given {d}: open path "
               "x -> c (collider) <- y; collider c is opened by conditioning "
               "on its descendant d\n");
    EXPECT_OUT(q, col, "{x, c}, y | {}",
               "{x, c} and y are NOT d-separated given {}: open path "
               "c <- y\n");
    EXPECT_OUT(q, col, "x _|_ y, d", "x and {y, d} are NOT d-separated "
               "given {}: open path x -> c -> d\n");
    dag_free(col);

    /* M-bias: conditioning on the M node opens x <- a -> m <- b -> y */
    Dag *m = graph("a b m x y", "a->x a->m b->m b->y x->y");
    int path[8], len = 0;
    unsigned char *none = set_of(m, "");
    CHECK(dag_dseparated(m, set_of(m, "a"), set_of(m, "b"), none, path,
                         &len) == 1, "a, b separated");
    CHECK(dag_dseparated(m, set_of(m, "a"), set_of(m, "b"), set_of(m, "m"),
                         path, &len) == 0 && len == 3, "m opens a - b");
    EXPECT_OUT(q, m, "x, y | m",
               "x and y are NOT d-separated given {m}: open path x -> y\n");
    dag_free(m);
}

/* Every open path reported is a real, simple, open path. */
static int path_is_open(const Dag *d, const int *path, int len,
                        const unsigned char *z)
{
    unsigned char seen[64] = {0};
    for (int i = 0; i < len; i++) {
        if (seen[path[i]])
            return 0;
        seen[path[i]] = 1;
        if (i > 0 && !dag_has_edge(d, path[i - 1], path[i]) &&
            !dag_has_edge(d, path[i], path[i - 1]))
            return 0;
    }
    for (int i = 1; i + 1 < len; i++) {
        int v = path[i];
        int collider = dag_has_edge(d, path[i - 1], v) &&
                       dag_has_edge(d, path[i + 1], v);
        if (!collider && z[v])
            return 0;
        if (collider) {     /* v or a descendant conditioned on */
            unsigned char de[64] = {0};
            de[v] = 1;
            for (int changed = 1; changed;) {
                changed = 0;
                for (int a = 0; a < d->n; a++)
                    for (int b = 0; b < d->n; b++)
                        if (de[a] && !de[b] && dag_has_edge(d, a, b))
                            de[b] = changed = 1;
            }
            int open = 0;
            for (int a = 0; a < d->n; a++)
                open |= de[a] && z[a];
            if (!open)
                return 0;
        }
    }
    return 1;
}

static unsigned rng_state = 12345;
static unsigned rnd(unsigned k)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 16) % k;
}

/* Brute force: enumerate all simple paths and test each. */
static int any_open_path(const Dag *d, int v, int target, int *path, int len,
                         unsigned char *on, const unsigned char *z)
{
    path[len++] = v;
    if (v == target)
        return path_is_open(d, path, len, z);
    on[v] = 1;
    int found = 0;
    for (int w = 0; w < d->n && !found; w++)
        if (!on[w] && (dag_has_edge(d, v, w) || dag_has_edge(d, w, v)))
            found = any_open_path(d, w, target, path, len, on, z);
    on[v] = 0;
    return found;
}

static void test_dsep_random(void)
{
    int bad_witness = 0, disagree = 0;
    for (int trial = 0; trial < 300; trial++) {
        int n = 4 + (int)rnd(6);
        Dag *d = dag_new(n);
        for (int i = 0; i < n; i++) {
            char name[8];
            snprintf(name, sizeof name, "v%d", i);
            dag_add_node(d, name, DAG_OBSERVED, -1);
        }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (rnd(100) < 35)
                    dag_add_edge(d, i, j);
        unsigned char x[16] = {0}, y[16] = {0}, z[16] = {0};
        int a = (int)rnd((unsigned)n), b = (int)rnd((unsigned)n);
        if (a == b)
            b = (a + 1) % n;
        x[a] = y[b] = 1;
        for (int v = 0; v < n; v++)
            if (v != a && v != b && rnd(100) < 30)
                z[v] = 1;
        int path[16], len = 0, tmp[16];
        unsigned char on[16] = {0};
        int sep = dag_dseparated(d, x, y, z, path, &len);
        int brute = !any_open_path(d, a, b, tmp, 0, on, z);
        disagree += sep != brute;
        if (!sep)
            bad_witness += !(path_is_open(d, path, len, z) &&
                             path[0] == a && path[len - 1] == b);
        dag_free(d);
    }
    CHECK(disagree == 0, "d-separation disagrees with path enumeration %d "
          "times", disagree);
    CHECK(bad_witness == 0, "%d witnesses not open simple paths",
          bad_witness);
}

/* ------------------------------------------------------------------ */

static void test_adjustment(void)
{
    Dag *mb = graph("a b m x y", "a->x a->m b->m b->y x->y");
    CHECK(dag_is_backdoor_set(mb, set_of(mb, "x"), set_of(mb, "y"),
                              set_of(mb, "")) == 1, "M-bias: {} works");
    CHECK(dag_is_backdoor_set(mb, set_of(mb, "x"), set_of(mb, "y"),
                              set_of(mb, "m")) == 0, "M-bias: {m} opens");
    CHECK(dag_is_backdoor_set(mb, set_of(mb, "x"), set_of(mb, "y"),
                              set_of(mb, "m, a")) == 1, "M-bias: {a, m}");
    CHECK(dag_is_backdoor_set(mb, set_of(mb, "x"), set_of(mb, "y"),
                              set_of(mb, "m, b")) == 1, "M-bias: {b, m}");
    CHECK(run_adjust(mb, "x", "y") == 0 && strcmp(out_buf, "{}\n") == 0,
          "M-bias sets: %s", out_buf);
    /* with {} ruled out (a -> y too), the minimal sets are {a} and {b, m} */
    dag_add_edge(mb, dag_find(mb, "a"), dag_find(mb, "y"));
    CHECK(run_adjust(mb, "x", "y") == 0 && strcmp(out_buf, "{a}\n") == 0,
          "a -> y: %s", out_buf);
    dag_remove_edge(mb, dag_find(mb, "a"), dag_find(mb, "y"));
    dag_add_edge(mb, dag_find(mb, "m"), dag_find(mb, "y"));
    CHECK(run_adjust(mb, "x", "y") == 0 &&
          strcmp(out_buf, "{a}\n{b, m}\n") == 0, "m -> y: %s", out_buf);
    dag_free(mb);

    Dag *conf = graph("z x y", "z->x z->y x->y");      /* Simpson, kidney */
    CHECK(run_adjust(conf, "x", "y") == 0 && strcmp(out_buf, "{z}\n") == 0,
          "confounder: %s", out_buf);
    EXPECT_OUT(causal_identify_query, conf, "y | do(x)",
               "identifiable by backdoor adjustment for {z}: P(y | do(x)) = "
               "sum_{z} P(y | x, z) P(z)\n");
    dag_free(conf);

    /* a mediator is never an adjustment set; the descendant rule */
    Dag *med = graph("x m y", "x->m m->y");
    CHECK(run_adjust(med, "x", "y") == 0 && strcmp(out_buf, "{}\n") == 0,
          "mediator: %s", out_buf);
    CHECK(dag_is_backdoor_set(med, set_of(med, "x"), set_of(med, "y"),
                              set_of(med, "m")) == 0, "m descends from x");
    dag_free(med);

    Dag *fd = graph("u:l x m y", "u->x u->y x->m m->y");
    CHECK(run_adjust(fd, "x", "y") == 0 &&
          strcmp(out_buf, "no adjustment set exists\n") == 0, "frontdoor: %s",
          out_buf);
    dag_free(fd);

    /* two confounding paths, each blockable two ways: four minimal sets */
    Dag *two = graph("a b c d x y", "a->x a->b b->y c->x c->d d->y x->y");
    CHECK(run_adjust(two, "x", "y") == 0 &&
          strcmp(out_buf, "{a, c}\n{a, d}\n{b, c}\n{b, d}\n") == 0,
          "two paths: %s", out_buf);
    dag_free(two);

    /* several treatments and outcomes */
    Dag *multi = graph("z x1 x2 y1 y2", "z->x1 z->y2 x1->y1 x2->y1 x1->x2");
    CHECK(run_adjust(multi, "x1, x2", "y1, y2") == 0 &&
          strcmp(out_buf, "{z}\n") == 0, "sets of nodes: %s", out_buf);
    dag_free(multi);
}

/* The separator listing and the subset search find the same sets. */
static void test_adjustment_methods_agree(void)
{
    int differ = 0, nonempty = 0;
    for (int trial = 0; trial < 400; trial++) {
        int n = 5 + (int)rnd(9);
        Dag *d = dag_new(n);
        for (int i = 0; i < n; i++) {
            char name[8];
            snprintf(name, sizeof name, "v%d", i);
            dag_add_node(d, name, rnd(100) < 20 ? DAG_LATENT : DAG_OBSERVED,
                         -1);
        }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (rnd(100) < 30)
                    dag_add_edge(d, i, j);
        unsigned char x[16] = {0}, y[16] = {0};
        int a = (int)rnd((unsigned)n - 1);
        int b = a + 1 + (int)rnd((unsigned)(n - a - 1));
        x[a] = y[b] = 1;
        if (rnd(4) == 0 && b + 1 < n)
            y[b + 1] = 1;
        DagSetList s1, s2;
        char err[128];
        dag_backdoor_sets_by(d, x, y, 1000, 1, &s1, err, sizeof err);
        dag_backdoor_sets_by(d, x, y, 1000, 0, &s2, err, sizeof err);
        size_t bytes = (size_t)s1.count * (size_t)n;
        int same = s1.count == s2.count &&
                   (bytes == 0 || memcmp(s1.sets, s2.sets, bytes) == 0);
        differ += !same;
        nonempty += s1.count > 1;
        for (int i = 0; i < s1.count; i++)      /* each is a backdoor set */
            differ += dag_is_backdoor_set(d, x, y, s1.sets + i * n) != 1;
        dag_set_list_free(&s1);
        dag_set_list_free(&s2);
        dag_free(d);
    }
    CHECK(differ == 0, "methods differ %d times", differ);
    CHECK(nonempty > 20, "too few interesting graphs (%d)", nonempty);
}

/* More than 20 candidates: the separator listing runs. */
static void test_adjustment_large(void)
{
    /* x <- c_i -> y for 22 confounders c_i, plus a chain of 3 */
    Dag *d = dag_new(32);
    int x = dag_add_node(d, "x", DAG_OBSERVED, -1);
    int y = dag_add_node(d, "y", DAG_OBSERVED, -1);
    for (int i = 0; i < 22; i++) {
        char name[8];
        snprintf(name, sizeof name, "c%d", i);
        int c = dag_add_node(d, name, DAG_OBSERVED, -1);
        dag_add_edge(d, c, x);
        dag_add_edge(d, c, y);
    }
    int p = dag_add_node(d, "p", DAG_OBSERVED, -1);
    int q = dag_add_node(d, "q", DAG_OBSERVED, -1);
    dag_add_edge(d, x, p);
    dag_add_edge(d, q, x);
    dag_add_edge(d, q, p);
    dag_add_edge(d, p, y);
    DagSetList s;
    char err[128];
    CHECK(dag_backdoor_minimal_sets(d, set_of(d, "x"), set_of(d, "y"), 100,
                                    &s, err, sizeof err) == 0, "%s", err);
    CHECK(!s.exhaustive && s.count == 1 && set_of(d, "")[0] == 0,
          "large: %d sets", s.count);
    int k = 0;
    for (int v = 0; v < d->n; v++)
        k += s.sets[v];
    CHECK(k == 23 && s.sets[q] && !s.sets[p], "the 22 confounders and q");
    dag_set_list_free(&s);
    (void)y;
    dag_free(d);
}

/* ------------------------------------------------------------------ */

static void check_id(const Dag *d, const char *y, const char *x,
                     const char *z, const char *expr, unsigned lines)
{
    DagIdResult r;
    char err[256];
    int rc = dag_id_algorithm(d, set_of(d, y), set_of(d, x),
                              z ? set_of(d, z) : NULL, &r, err, sizeof err);
    CHECK(rc == 0 && r.identifiable && strcmp(r.expr, expr) == 0,
          "ID(%s | do(%s)): %s\n expected %s", y, x,
          rc ? err : r.identifiable ? r.expr : "not identifiable", expr);
    CHECK(rc == 0 && (r.lines & lines) == lines,
          "ID(%s | do(%s)) lines %#x, expected %#x", y, x, r.lines, lines);
    if (rc == 0)
        dag_id_result_free(&r);
}

static void check_hedge(const Dag *d, const char *y, const char *x,
                        const char *f, const char *fp)
{
    DagIdResult r;
    char err[256];
    int rc = dag_id_algorithm(d, set_of(d, y), set_of(d, x), NULL, &r, err,
                              sizeof err);
    CHECK(rc == 0 && !r.identifiable, "ID(%s | do(%s)) should fail", y, x);
    if (rc == 0 && !r.identifiable) {
        CHECK(memcmp(r.hedge_f, set_of(d, f), (size_t)d->n) == 0 &&
              memcmp(r.hedge_fprime, set_of(d, fp), (size_t)d->n) == 0,
              "hedge of %s | do(%s)", y, x);
        CHECK(r.lines & (1u << 5), "line 5 fired");
    }
    if (rc == 0)
        dag_id_result_free(&r);
}

#define L(k) (1u << (k))

static void test_identify(void)
{
    Query q = causal_identify_query;
    Dag *fd = graph("u:l x m y", "u->x u->y x->m m->y");
    CHECK(dag_frontdoor_set(fd, set_of(fd, "x"), set_of(fd, "y"),
                            set_of(fd, "")) == 1, "frontdoor exists");
    CHECK(dag_is_frontdoor_set(fd, set_of(fd, "x"), set_of(fd, "y"),
                               set_of(fd, "m")) == 1, "{m} is frontdoor");
    EXPECT_OUT(q, fd, "y | do(x)",
               "identifiable by the frontdoor criterion through {m}: "
               "P(y | do(x)) = sum_{m} P(m | x) sum_{x'} P(y | x', m) "
               "P(x')\n");
    check_id(fd, "y", "x", NULL,
             "sum_{m} P(m | x) sum_{x'} P(x') P(y | x', m)",
             L(1) | L(2) | L(4) | L(6) | L(7));
    dag_free(fd);

    Dag *bd = graph("z x y", "z->x z->y x->y");
    check_id(bd, "y", "x", NULL, "sum_{z} P(z) P(y | z, x)",
             L(1) | L(2) | L(4) | L(6));
    /* IDC: z moves into the intervention (rule 2) */
    EXPECT_OUT(q, bd, "y | do(x), z",
               "identifiable (IDC algorithm): P(y | do(x), z) = "
               "P(y | z, x)\n");
    dag_free(bd);

    Dag *iv = graph("u:l z x y", "z->x u->x u->y x->y");
    EXPECT_OUT(q, iv, "y | do(x)", "not identifiable: hedge formed by "
               "C-forests F = {x, y}, F' = {y}\n");
    check_hedge(iv, "y", "x", "x, y", "y");
    /* but the effect of z on y is: backdoor with {} */
    EXPECT_OUT(q, iv, "y | do(z)", "identifiable by backdoor adjustment "
               "for {}: P(y | do(z)) = P(y | z)\n");
    dag_free(iv);

    Dag *bow = graph("u:l x y", "u->x u->y x->y");
    EXPECT_OUT(q, bow, "y | do(x)", "not identifiable: hedge formed by "
               "C-forests F = {x, y}, F' = {y}\n");
    check_hedge(bow, "y", "x", "x, y", "y");
    dag_free(bow);

    /* the napkin: identifiable, but by neither backdoor nor frontdoor */
    Dag *nap = graph("u1:l u2:l w z x y",
                     "u1->w u1->x u2->w u2->y w->z z->x x->y");
    DagSetList s;
    char err[128];
    dag_backdoor_minimal_sets(nap, set_of(nap, "x"), set_of(nap, "y"), 10, &s,
                              err, sizeof err);
    CHECK(s.count == 0, "napkin has no backdoor set");
    dag_set_list_free(&s);
    CHECK(dag_frontdoor_set(nap, set_of(nap, "x"), set_of(nap, "y"),
                            set_of(nap, "")) == 0, "napkin: no frontdoor");
    EXPECT_OUT(q, nap, "y | do(x)",
               "identifiable (ID algorithm): P(y | do(x)) = "
               "(sum_{w} P(w) P(x | w, z) P(y | w, z, x)) / "
               "(sum_{w} P(w) P(x | w, z)) (the same for every value of z)\n");
    check_id(nap, "y", "x", NULL,
             "(sum_{w} P(w) P(x | w, z) P(y | w, z, x)) / "
             "(sum_{w} P(w) P(x | w, z))",
             L(2) | L(3) | L(6) | L(7));
    dag_free(nap);

    /* no causal path from x to y */
    Dag *nc = graph("z x y", "z->x z->y");
    EXPECT_OUT(q, nc, "y | do(x)", "identifiable: there is no directed path "
               "from x to y, so P(y | do(x)) = P(y)\n");
    check_id(nc, "y", "x", NULL, "P(y)", L(1) | L(2));
    dag_free(nc);

    /* several outcomes and treatments; P(...) around the query */
    Dag *mt = graph("z x1 x2 y1 y2", "z->x1 z->y1 x1->y1 x2->y2 x1->x2");
    EXPECT_OUT(q, mt, "P(y1, y2 | do(x1, x2))",
               "identifiable by backdoor adjustment for {z}: "
               "P(y1, y2 | do(x1, x2)) = sum_{z} P(y1, y2 | x1, x2, z) P(z)\n");
    dag_free(mt);

    /* conditioning on a descendant of y: IDC's fraction (Bayes' rule);
     * the y summed in the denominator is printed y' */
    Dag *ch = graph("x y w", "x->y y->w");
    EXPECT_OUT(q, ch, "y | do(x), w",
               "identifiable (IDC algorithm): P(y | do(x), w) = "
               "(P(y | x) P(w | y)) / (sum_{y'} P(y' | x) P(w | y'))\n");
    dag_free(ch);

    /* a latent projected out: z -> l -> y with l latent acts as z -> y */
    Dag *lp = graph("z x l:l y", "z->x z->l l->y x->y");
    EXPECT_OUT(q, lp, "y | do(x)",
               "identifiable by backdoor adjustment for {z}: P(y | do(x)) = "
               "sum_{z} P(y | x, z) P(z)\n");
    check_id(lp, "y", "x", NULL, "sum_{z} P(z) P(y | z, x)", L(4) | L(6));
    dag_free(lp);

    /* a deterministic node of observed parents counts as observed */
    Dag *det = graph("z s:d x y", "z->s s->x s->y x->y");
    EXPECT_OUT(q, det, "y | do(x)",
               "identifiable by backdoor adjustment for {s}: P(y | do(x)) = "
               "sum_{s} P(y | x, s) P(s)\n");
    dag_free(det);
}

/* ------------------------------------------------------------------ */

static void test_errors(void)
{
    Dag *d = graph("x y z u:l", "z->x z->y x->y u->x u->y");
    Query ds = causal_dsep_query, id = causal_identify_query;
    EXPECT_ERR(ds, d, "x, q | z",
               "unknown site 'q' in --dsep; sites are: x, y, z, u");
    EXPECT_ERR(ds, d, "x, y | zz", "unknown site 'zz' in --dsep (did you "
               "mean 'z'?); sites are: x, y, z, u");
    EXPECT_ERR(ds, d, "x, | z", "malformed --dsep query 'x, | z': expected "
               "a site name at column 4, found '|'; the form is 'x, y | z, w' "
               "or 'x1, x2 _||_ y | z' or '{x1, x2}, y | z'");
    EXPECT_ERR(ds, d, "", "malformed --dsep query '': expected two sites to "
               "test at column 1, found the end; the form is 'x, y | z, w' "
               "or 'x1, x2 _||_ y | z' or '{x1, x2}, y | z'");
    EXPECT_ERR(ds, d, "x y", "malformed --dsep query 'x y': expected ',' and "
               "the second site at column 3, found 'y'; the form is "
               "'x, y | z, w' or 'x1, x2 _||_ y | z' or '{x1, x2}, y | z'");
    EXPECT_ERR(ds, d, "x, y |", "malformed --dsep query 'x, y |': expected "
               "the conditioning sites (or {}) after '|' at column 7, found "
               "the end; the form is 'x, y | z, w' or 'x1, x2 _||_ y | z' or "
               "'{x1, x2}, y | z'");
    EXPECT_ERR(ds, d, "x, y, z", "malformed --dsep query 'x, y, z': more "
               "than two sites before '|' (column 5); to test sets write "
               "'{x1, x2}, y | z' or 'x1, x2 _||_ y | z'");
    EXPECT_ERR(ds, d, "x, y | z ; w", "malformed --dsep query 'x, y | z ; w'"
               ": expected the end of the query at column 10, found ';'; the "
               "form is 'x, y | z, w' or 'x1, x2 _||_ y | z' or "
               "'{x1, x2}, y | z'");
    EXPECT_ERR(ds, d, "{x, y, z", "malformed --dsep query '{x, y, z': "
               "expected ',' or '}' at column 9, found the end; the form is "
               "'x, y | z, w' or 'x1, x2 _||_ y | z' or '{x1, x2}, y | z'");
    EXPECT_ERR(ds, d, "{}, y", "--dsep '{}, y' has an empty side; name at "
               "least one site on each side");
    EXPECT_ERR(ds, d, "x, x | z", "site 'x' is on both sides of --dsep "
               "'x, x | z'");
    EXPECT_ERR(ds, d, "x _||_ y | y", "site 'y' is both tested and "
               "conditioned on in --dsep 'x _||_ y | y'");

    EXPECT_ERR(id, d, "y | x", "malformed --identify query 'y | x': no "
               "do(...) after '|'; the form is 'y | do(x)', "
               "'y1, y2 | do(x1, x2)' or 'y | do(x), z'");
    EXPECT_ERR(id, d, "y do(x)", "malformed --identify query 'y do(x)': "
               "expected '|' and do(...) at column 3, found 'do'; the form "
               "is 'y | do(x)', 'y1, y2 | do(x1, x2)' or 'y | do(x), z'");
    EXPECT_ERR(id, d, "y | do(x", "malformed --identify query 'y | do(x': "
               "expected ',' or ')' closing do( at column 9, found the end; "
               "the form is 'y | do(x)', 'y1, y2 | do(x1, x2)' or "
               "'y | do(x), z'");
    EXPECT_ERR(id, d, "y | do(x), do(z)", "malformed --identify query "
               "'y | do(x), do(z)': more than one do(...) (column 12); put "
               "all treatments in one: do(x1, x2)");
    EXPECT_ERR(id, d, "P(y | do(x)", "malformed --identify query "
               "'P(y | do(x)': expected ')' closing P( at column 12, found "
               "the end; the form is 'y | do(x)', 'y1, y2 | do(x1, x2)' or "
               "'y | do(x), z'");
    EXPECT_ERR(id, d, "y | do({})", "--identify 'y | do({})' needs at least "
               "one site inside do(...)");
    EXPECT_ERR(id, d, "{} | do(x)", "--identify '{} | do(x)' needs at least "
               "one outcome");
    EXPECT_ERR(id, d, "y | do(w)", "unknown site 'w' in --identify; sites "
               "are: x, y, z, u");
    EXPECT_ERR(id, d, "x | do(x)", "site 'x' is both an outcome and "
               "intervened on (do) in --identify 'x | do(x)'");
    EXPECT_ERR(id, d, "y | do(x), x", "site 'x' is conditioned on and also "
               "intervened on (do) in --identify 'y | do(x), x'");
    EXPECT_ERR(id, d, "u | do(x)", "site 'u' is unobserved (latent: not "
               "bound by data), but --identify needs the treatment, outcome "
               "and conditions observed; only a site bound by data can be "
               "adjusted for or estimated");

    CHECK(run_adjust(d, "x", "x") == 2 && strcmp(err_buf, "site 'x' is both "
          "the treatment and the outcome in --adjustment-sets") == 0, "%s",
          err_buf);
    CHECK(run_adjust(d, "x", "yy") == 2 && strcmp(err_buf, "unknown site "
          "'yy' in --adjustment-sets (did you mean 'y'?); sites are: x, y, "
          "z, u") == 0, "%s", err_buf);
    CHECK(run_adjust(d, "x,", "y") == 2 && strcmp(err_buf, "malformed "
          "--adjustment-sets query 'x,': expected a site name at column 3, "
          "found the end; the form is 'x' or 'x1, x2'") == 0, "%s", err_buf);
    CHECK(run_adjust(d, "{}", "y") == 2 && strcmp(err_buf, "--adjustment-"
          "sets needs at least one treatment site") == 0, "%s", err_buf);
    CHECK(run_adjust(d, "u", "y") == 2 && strstr(err_buf, "site 'u' is "
          "unobserved") == err_buf, "%s", err_buf);
    CHECK(run_adjust(d, "x", "y") == 0 &&
          strcmp(out_buf, "no adjustment set exists\n") == 0, "%s", out_buf);

    /* a cycle between sites is refused with the cycle named; a self-loop
     * (sequential dependence inside one site) is not a cycle */
    dag_add_edge(d, dag_find(d, "y"), dag_find(d, "y"));
    EXPECT_OUT(ds, d, "x, y | z", "x and y are NOT d-separated given {z}: "
               "open path x -> y\n");
    dag_add_edge(d, dag_find(d, "y"), dag_find(d, "z"));
    EXPECT_ERR(ds, d, "x, y | z", "--dsep needs an acyclic graph, but the "
               "model's graph has the cycle y -> z -> x -> y");
    EXPECT_ERR(id, d, "y | do(x)", "--identify needs an acyclic graph, but "
               "the model's graph has the cycle y -> z -> x -> y");
    CHECK(run_adjust(d, "x", "y") == 2 && strstr(err_buf, "cycle"), "%s",
          err_buf);
    dag_free(d);

    Dag *empty = dag_new(0);
    EXPECT_ERR(ds, empty, "a, b", "unknown site 'a' in --dsep; sites are: "
               "(none)");
    dag_free(empty);
}

/* Random strings over the queries' alphabet: an answer or a message,
 * never a crash (the sanitizer build runs this too). */
static void test_query_fuzz(void)
{
    static const char *const pieces[] = {
        "x", "y", "z", "u", "w", ",", " ", "|", "{", "}", "(", ")", "do",
        "do(", "P(", "_||_", "_|_", "\u22a5", "\xff", "q", "_", "1"};
    Dag *d = graph("x y z u:l", "z->x z->y x->y u->x u->y");
    int bad = 0;
    for (int trial = 0; trial < 3000; trial++) {
        char q[128] = "";
        int k = 1 + (int)rnd(10);
        for (int i = 0; i < k; i++)
            strcat(q, pieces[rnd(sizeof pieces / sizeof *pieces)]);
        Query fn = trial % 2 ? causal_dsep_query : causal_identify_query;
        int rc = run(fn, d, q);
        bad += !((rc == 0 && out_buf[0] && !err_buf[0]) ||
                 (rc == 2 && err_buf[0] && !out_buf[0]));
        if (trial % 3 == 0) {
            rc = run_adjust(d, q, "y");
            bad += !((rc == 0 && out_buf[0]) || (rc == 2 && err_buf[0]));
        }
    }
    CHECK(bad == 0, "%d fuzzed queries neither answered nor refused", bad);
    dag_free(d);
}

int main(void)
{
    test_build();
    test_observed_rule();
    test_dot();
    test_dsep_classics();
    test_dsep_random();
    test_adjustment();
    test_adjustment_methods_agree();
    test_adjustment_large();
    test_identify();
    test_errors();
    test_query_fuzz();
    return check_done();
}
