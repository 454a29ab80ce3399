/*
 * native_gen.h - the C source of a tape's native code (native_gen.c), for
 * native.c.
 */
#ifndef CM_NATIVE_GEN_H
#define CM_NATIVE_GEN_H

#include "tape.h"

/* Part of every object's name (native.c's layout_id): bump it whenever
 * native_generate changes what it writes for the same tape. */
#define NATIVE_FORMAT 2

/* The most units (an op, or a loop of same-shaped rounds) a source may
 * have: the compiler takes about 4 ms for each. */
#define NATIVE_MAX_UNITS 5000

/* The translation unit for tape t whose parameters are the input slots
 * slots[0..dim), defining cm_native_logp_grad (NativeLogpGrad); malloc'd.
 * *nunits gets its count of units; NULL when that is over
 * NATIVE_MAX_UNITS, or when out of memory. */
char *native_generate(const Tape *t, const int *slots, int dim, int *nunits);

#endif
