/*
 * model_dag.h - the causal DAG of a compiled program (design.md: the data
 * flow between sites).
 */
#ifndef CM_MODEL_DAG_H
#define CM_MODEL_DAG_H

#include "dag.h"
#include "handlers.h"

/* Nodes: every site, every deterministic node that depends on a site, and
 * the data a value reads (covariates); sizes and indices are not causal.
 * A site is observed when it is declared `data` or data/--given bind it,
 * and it is not declared `latent`; with nothing bound at all, every site
 * not declared `latent` is observed.  --do sites lose their incoming edges. */
Dag *model_dag(const Program *p, const DataSet *data, const DoHandler *dos);

#endif
