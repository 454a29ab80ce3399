/*
 * model_dag.c - building the Dag that --graph, --dsep and --identify read.
 *
 * Observed: a site declared `data` or bound by --data/--given, unless it is
 * declared `latent`.  When nothing at all is bound or declared data (a
 * model written as a bare causal graph), every site not declared `latent`
 * is observed, so identification questions can be asked of the graph alone.
 */
#include "model_dag.h"

#include <stdlib.h>
#include <string.h>

static int is_parent_of_something(const Program *p, int v)
{
    for (int i = 0; i < p->nvars; i++)
        for (int k = 0; k < p->vars[i].nparents; k++)
            if (p->vars[i].parents[k] == v)
                return 1;
    return 0;
}

Dag *model_dag(const Program *p, const DataSet *data, const DoHandler *dos)
{
    Dag *d = dag_new(p->nvars + 1);
    int *plate_of = malloc(sizeof(int) * (size_t)(p->nplates + 1));
    for (int i = 0; i < p->nplates; i++)
        plate_of[i] = dag_add_plate(d, p->plates[i].label, -1);
    int *node = malloc(sizeof(int) * (size_t)(p->nvars + 1));
    /* A model written as a pure causal graph binds nothing: then every site
       not declared `latent` counts as observable (docs/causal-graphs.md). */
    int any_bound = 0;
    for (int v = 0; v < p->nvars; v++)
        if (p->vars[v].role == VAR_SITE &&
            (p->vars[v].declared_data || (data && data_find(data, p->vars[v].name))))
            any_bound = 1;
    for (int v = 0; v < p->nvars; v++) {
        const IrVar *iv = &p->vars[v];
        node[v] = -1;
        DagNodeKind kind;
        if (iv->role == VAR_SITE) {
            int bound = !any_bound || iv->declared_data || (data && data_find(data, iv->name));
            kind = bound && !iv->is_latent_decl ? DAG_OBSERVED : DAG_LATENT;
        } else if (iv->role == VAR_DET) {
            if (!iv->reported && !iv->hidden)
                continue; /* transformed data: not part of the causal story */
            kind = DAG_DETERMINISTIC;
        } else if (iv->role == VAR_DATA) {
            if (!is_parent_of_something(p, v))
                continue;
            kind = DAG_OBSERVED;
        } else {
            continue;
        }
        int plate = iv->plate >= 0 ? plate_of[iv->plate] : -1;
        node[v] = dag_add_node(d, iv->name, kind, plate);
    }
    for (int v = 0; v < p->nvars; v++) {
        if (node[v] < 0)
            continue;
        for (int k = 0; k < p->vars[v].nparents; k++) {
            int u = p->vars[v].parents[k];
            if (node[u] >= 0 && u != v)
                dag_add_edge(d, node[u], node[v]);
        }
    }
    if (dos)
        for (int i = 0; i < dos->n; i++) {
            int v = program_find_var(p, dos->e[i].name);
            if (v >= 0 && node[v] >= 0 && dos->e[i].nidx == 0)
                dag_intervene(d, node[v]);
        }
    free(node);
    free(plate_of);
    return d;
}
