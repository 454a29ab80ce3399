/*
 * subsample.h - minibatches for `plate i in lo..hi subsample B` (SVI).
 *
 * The executor calls the subsample_loop_* functions from its LOOP and
 * ENDLOOP cases; SVI switches a Model between minibatch and full-batch
 * runs with subsample_model.  See subsample.c for the design.
 */
#ifndef CM_SUBSAMPLE_H
#define CM_SUBSAMPLE_H

#include <gsl/gsl_rng.h>

#include "exec.h"
#include "model.h"

/* A uniform random B-subset of {lo, ..., lo + N - 1}, without replacement,
 * written to out[0..B-1], in no particular order (1 <= B <= N).  Expected
 * O(B) time and memory, whatever N.  Returns 0, or -1 when out of memory. */
int subsample_choose(gsl_rng *rng, int lo, int N, int B, int *out);

/* The head of a plate with `subsample`: `lo`, `hi` are its bounds, `B` the
 * subsample size (checked here: 1 <= B <= N, else a located error).  Under
 * ex->policy.subsample with B < N it draws the minibatch, multiplies
 * ex->subsample_scale by N / B, marks the tape dynamic and returns 1 with
 * the loop variable set to the first index.  Otherwise (no policy, B = N,
 * or a loop in a function) it returns 0 and the caller runs the plate as
 * an ordinary loop; without the policy a note says so, once per process. */
int subsample_loop_begin(Exec *ex, ExecFrame *f, const IrInstr *in, int lo, int hi, int B);
/* Is the loop headed by `head` running a minibatch in this frame? */
int subsample_loop_active(const ExecFrame *f, const IrInstr *head);
/* ENDLOOP of a minibatch: 1 with the loop variable set to the next index,
 * or 0 at the end, with the enclosing scale restored. */
int subsample_loop_next(Exec *ex, ExecFrame *f, const IrInstr *head);
/* The value a `factor` adds: v scaled by the enclosing plates' N / B. */
Value subsample_scale_factor(Exec *ex, const IrInstr *in, Value v);

/* The engine of this process fits minibatches itself (SVI): its
 * full-batch runs need no note. */
void subsample_quiet(void);

/* Switch the model between minibatch runs (on = 1: each evaluation draws
 * new minibatches, so the model is re-traced every time) and full-batch
 * runs (on = 0: the tape is recorded once more and replayed, as before).
 * The model is run once at q = 0 to re-record it; with on = 1 that run
 * refuses a latent site local to a subsampled plate.  Returns 0, or -1
 * after a located error. */
int subsample_model(Model *m, int on);

#endif
