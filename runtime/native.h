/*
 * native.h - a model's replayed tape as native code: the second tier.
 *
 * The interpreter (tape.c) starts at once but pays, for every op of every
 * gradient, a dispatch on the op code and loads of the op's fields; on a
 * small model (eight schools: seven ops) that is most of the cost.  The
 * native tier writes the recorded tape out as C (native_gen.c) - one call
 * per op into the shared op bodies of tape_ops.h, each op a compile-time
 * constant, a loop's repeated rounds as one C loop - and
 * has the system's C compiler turn it into a shared object, which is then
 * called instead of tape_forward / tape_backward.  Ops that call a library
 * (BLAS, libffi, a density's function pointer) stay calls back into the
 * interpreter, one op each.
 *
 * The two tiers give the same bits (tape_ops.h says why), so when the code
 * arrives does not change a chain's draws.  Compiled objects are cached
 * under $CM_CACHE_DIR (default $XDG_CACHE_HOME/cm, then ~/.cache/cm), named
 * by a hash of what their source is made from (the tape's layout, none of
 * its data), so a second run of the model, with any seed, query or data of
 * the same shape, loads the object in about a millisecond.
 *
 * Modes (cmrun --jit):
 *   off   never;
 *   auto  (the default) load a cached object at once; otherwise, once a
 *         model has made NATIVE_HOT_EVALS gradient evaluations, start the
 *         compiler in the background and switch when its object is loaded;
 *   on    compile (or load) before sampling, and fail with a message when
 *         that is impossible.
 * A tape that is re-recorded during a run (control flow on a parameter, a
 * summed-out discrete site), that has more than NATIVE_MAX_OPS ops, or
 * whose ops do not fold into at most NATIVE_MAX_UNITS loops and single ops
 * (native_gen.h) stays interpreted; under `on` that is an error.
 */
#ifndef CM_NATIVE_H
#define CM_NATIVE_H

#include <stddef.h>

#include "tape.h"

typedef enum { JIT_OFF, JIT_AUTO, JIT_ON } JitMode;

#define NATIVE_HOT_EVALS 2000L
#define NATIVE_MAX_OPS 200000

/* lp at q (the parameters' input slots in the order given at attach) and,
 * when grad is not NULL and lp is finite, its gradient. */
typedef double (*NativeLogpGrad)(Tape *t, const double *q, double *grad, const void *hooks);

typedef struct NativeCode NativeCode;

void native_set_mode(JitMode mode);
JitMode native_mode(void);
/* Parse "off", "auto" or "on"; -1 for anything else. */
int native_parse_mode(const char *s);

/* The native code for tape t, whose parameters are the input slots
 * slots[0..dim): shared by every tape of the same layout (the chains of a
 * run), and loaded at once when it is in the cache.  NULL when the tape
 * cannot be compiled (the reason in why) or the mode is off. */
NativeCode *native_attach(const Tape *t, const int *slots, int dim, char *why, size_t whylen);
/* Compile and load now (mode on, cmgrad): 0, or -1 with the reason.  t,
 * slots and dim are those given to native_attach (or a tape of the same
 * layout: another chain's). */
int native_build_now(NativeCode *c, const Tape *t, const int *slots, int dim, char *err,
                     size_t errlen);
/* Start compiling in the background, once (mode auto): the compiler runs
 * as a child process, and native_poll, called now and then by the chains,
 * loads its object when it has exited. */
void native_request(NativeCode *c, const Tape *t, const int *slots, int dim);
void native_poll(NativeCode *c);
/* The loaded function, or NULL while there is none. */
NativeLogpGrad native_function(NativeCode *c);
/* The hooks the generated code calls for the ops it leaves to tape.c. */
const void *native_hooks(void);

#endif
