/*
 * handlers.h - the effect handlers (docs/handlers.md).
 *
 * Each handler is a Handler whose `state` is one of the structs below;
 * make one with the matching *_init, push it with exec_push.  Order
 * matters as in Pyro: a handler pushed later is innermost and sees a
 * message first.  The engines stack them like this (innermost first):
 *   prior:   do, condition, trace                  (draw_missing = 1)
 *   nuts:    do, condition, param, trace           (density of every site)
 *   is:      do, condition, trace                  (density of evidence only)
 *   twin:    twin(do), condition, trace            (counterfactual worlds)
 */
#ifndef CM_HANDLERS_H
#define CM_HANDLERS_H

#include "exec.h"

/* condition: sites named in a DataSet are observed with those values. */
typedef struct {
    Handler h;
    const DataSet *data;
} ConditionHandler;
void condition_init(ConditionHandler *c, const DataSet *data);

/* do: sites (or single elements, name[i]) replaced by constants, with no
 * density term: the edges into them are cut. */
typedef struct {
    char *name;
    int idx[2], nidx;      /* element intervention when nidx > 0 */
    DataVar value;
    int used;
} DoEntry;
typedef struct {
    Handler h;
    DoEntry *e;
    int n;
} DoHandler;
void do_init(DoHandler *d);
/* Parse "name=value" or "name[i]=value"; returns 0 or -1 with err. */
int do_add(DoHandler *d, const char *arg, char *err, size_t errlen);
void do_free(DoHandler *d);
/* Check each intervention names a site of the program; 0 or -1 with err. */
int do_check(const DoHandler *d, const Program *p, char *err, size_t errlen);

/* param: latent continuous sites take their value from the unconstrained
 * parameter vector through the bijector of their support, adding the
 * log-Jacobian.  The first run lays out the vector (discovery). */
typedef struct {
    int var, elem;         /* site and element (-1 whole)       */
    int offset, size;      /* position in the unconstrained vector */
} ParamBlock;
typedef struct {
    Handler h;
    ParamBlock *blocks;
    int nblocks, cap;
    int dim;               /* unconstrained dimension          */
    int discovering;       /* first run: lay out the blocks     */
    int cursor;            /* next block during a later run     */
    const double *q;       /* values for this run (NULL: zeros) */
    int *slots;            /* input slot of each coordinate in the last run */
    int capslots;
} ParamHandler;
void param_init(ParamHandler *p);
void param_free(ParamHandler *p);
void param_begin_run(ParamHandler *p, const double *q);

/* trace: records every site message after the other handlers. */
typedef struct {
    int var, elem;
    const DistInfo *dist;
    Value value;
    int observed, intervened, is_param;
    double scale;
    Value args[DIST_MAX_PARAMS];
    int nargs;
    Value lo, hi;          /* truncation bounds (slot -1 when absent) */
    int line, col;         /* the sample statement */
} TraceEntry;
typedef struct {
    Handler h;
    TraceEntry *e;
    int n, cap;
} TraceHandler;
void trace_init(TraceHandler *t);
void trace_clear(TraceHandler *t);
void trace_free(TraceHandler *t);

/* block: hides the named sites (or all, names == NULL) from outer handlers. */
typedef struct {
    Handler h;
    const char *const *names;
    int n;
} BlockHandler;
void block_init(BlockHandler *b, const char *const *names, int n);

/* scale: multiplies the log density of every site it sees. */
typedef struct {
    Handler h;
    double scale;
} ScaleHandler;
void scale_init(ScaleHandler *s, double scale);

/* mask: drops the log density of the named sites (all if names == NULL). */
typedef struct {
    Handler h;
    const char *const *names;
    int n;
} MaskHandler;
void mask_init(MaskHandler *m, const char *const *names, int n);

/* replay: latent sites take the values recorded in a trace (of another
 * run on the same tape), e.g. a guide's draws replayed in the model. */
typedef struct {
    Handler h;
    const TraceHandler *from;
} ReplayHandler;
void replay_init(ReplayHandler *r, const TraceHandler *from);

/* Is x inside the support of d (given the site's arguments)? */
int support_contains(const DistInfo *d, double x);

#endif
