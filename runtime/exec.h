/*
 * exec.h - the IR executor and the effect-handler stack it runs under.
 *
 * The executor runs a Program's IR over Values that live in a Tape (see
 * tape.h): running the model once *is* recording its log-density program.
 * Every SAMPLE and every DATA binding of a site becomes a SiteMsg that is
 * passed through a stack of handlers (as Pyro's poutine does): innermost
 * first on the way in (process), and back out in reverse (postprocess).
 * Handlers decide whether a site is observed (condition), replaced (do),
 * given a value from the unconstrained parameters (param), drawn (prior),
 * recorded (trace), scaled, masked, blocked or replayed.  The executor
 * itself knows none of these policies: after the handlers it only draws a
 * value if none was given and adds the log density if asked to.
 */
#ifndef CM_EXEC_H
#define CM_EXEC_H

#include <gsl/gsl_rng.h>
#include <setjmp.h>

#include "data.h"
#include "ir.h"
#include "tape.h"

typedef struct {
    unsigned char base;   /* BaseType */
    unsigned char rank;
    int dims[2];          /* rows, cols (rank 1: dims[0]) */
    int n;                /* element count */
    int slot;             /* first slot, row-major; -1 = unset */
} Value;

typedef enum { MSG_SAMPLE, MSG_BIND } MsgKind;

typedef struct SiteMsg {
    MsgKind kind;
    int var;              /* program variable id */
    const char *name;
    int elem;             /* flat element offset (indexed sample) or -1 */
    int idx[2], nidx;     /* 1-based indices as written, for messages */
    const DistInfo *dist;
    Value args[DIST_MAX_PARAMS];
    int nargs;
    Value lo, hi;         /* truncation bounds (slot -1 when absent) */
    Constraint con;
    Value shape;          /* the shape the value must have (slot unused) */
    int shaped;           /* shape is known (declared, an element, or data) */
    /* set by handlers */
    int has_value;
    Value value;
    int observed;         /* the value is evidence: its density is a likelihood */
    int intervened;       /* do(): a constant with no density term         */
    int is_param;         /* value came from the unconstrained parameters  */
    double scale;         /* multiplies the log density (subsampling)      */
    int masked;           /* log density dropped                           */
    int stop;             /* handlers further out do not see the message   */
    int line, col;
} SiteMsg;

typedef struct Exec Exec;
typedef struct Handler Handler;
struct Handler {
    const char *name;
    void (*process)(Handler *h, Exec *ex, SiteMsg *m);
    void (*postprocess)(Handler *h, Exec *ex, SiteMsg *m);
    void *state;
};

#define EXEC_MAX_HANDLERS 16

/* What the executor does with a site once the handlers are done. */
typedef struct {
    int draw_missing;     /* draw a value from the distribution if none given  */
    int density_latent;   /* add log p(value) for sites that are not evidence  */
    int density_observed; /* add log p(value) for evidence                     */
    int placeholder;      /* --check: an improper site gets a point of its support */
    int enumerate;        /* gradient engines: sum out latent discrete sites of finite
                             support instead of refusing them (enumerate.c)       */
    int subsample;        /* SVI: `plate ... subsample B` runs B random iterations
                             and scales their densities by N / B                   */
} ExecPolicy;

struct Exec {
    const Program *prog;
    const DataSet *data;
    Tape *tape;
    gsl_rng *rng;
    ExecPolicy policy;
    Handler *handlers[EXEC_MAX_HANDLERS]; /* [0] is innermost */
    int nhandlers;
    Value *vars;          /* one per program variable: its current value */
    unsigned char *bound; /* per variable: bound by data/given (observed) */
    Diag diag;            /* runtime errors, located in the model source */
    jmp_buf *on_error;
    int depth;            /* function call depth */
    int failed;
    double subsample_scale; /* current plate scale (1 outside subsampled plates) */
    int subsample_active;
    int last_site_cut;      /* the last SAMPLE was intervened on or masked */
    struct FrameBlock *frames; /* register and local frames (exec.c), kept across runs */
    int *ixbuf;             /* indexing scratch (vops.c), kept across runs */
    long ixcap;
};

void exec_init(Exec *ex, const Program *p, const DataSet *data, Tape *tape, gsl_rng *rng);
void exec_free(Exec *ex);
/* Run the model once (the tape is reset first).  Returns 0, or -1 after a
 * located error was printed. */
int exec_run(Exec *ex);
/* The same, keeping the tape: a second world recorded after the first. */
int exec_run_world(Exec *ex, int reset_tape);
void exec_push(Exec *ex, Handler *h);   /* becomes the innermost handler */
void exec_clear_handlers(Exec *ex);

/* Fail the current run with a located message (does not return). */
void exec_fail(Exec *ex, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

/* Values */
Value value_const_scalar(Exec *ex, int base, double v);
Value value_new(Exec *ex, int base, int rank, int d0, int d1, int isvar_inputs);
double value_get(const Exec *ex, Value v, int i);
int value_isvar(const Exec *ex, Value v);
/* Broadcast-compatible element count of two values, or fail. */
void value_describe(Value v, char *buf, size_t n);

/* A call frame: registers and the variables the code reads and writes. */
typedef struct {
    const IrCode *code;
    Value *regs;
    Value *vars;      /* locals (functions) or the model's variables */
    const IrVar *vinfo;
    int nvars;
} ExecFrame;
void exec_sample(Exec *ex, ExecFrame *f, const IrInstr *in);   /* sample.c */

/* Sampling helpers used by handlers */
Value exec_draw(Exec *ex, SiteMsg *m);          /* a prior draw for the message */
void exec_site_shape(Exec *ex, SiteMsg *m);     /* fill m->shape from args/decl */

#endif
