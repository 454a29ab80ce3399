/*
 * foreign.h - foreign calls (foreign.c).  The gradient function a declaration
 * names with `grad "sym"` has the function's own parameters followed by
 * `double *grad`, into which it writes d result / d argument: one double
 * per real scalar argument and one per element of each real vector
 * argument, in argument order (int arguments get no entry).
 */
#ifndef CM_FOREIGN_H
#define CM_FOREIGN_H

#include "ir.h"

/* dlopen the library and resolve the symbols (relative library paths are
 * tried beside the model first); 0, or -1 with a message in err. */
int ffi_resolve(IrExtern *e, const char *model_path, char *err, size_t errlen);
double ffi_call_values(const IrExtern *e, double *const *ptrs, const int *lens);
/* d result / d each real input element into grad (layout above); uses the
 * user's gradient or central differences (step 1e-6 * max(1, |x|)). */
void ffi_gradient(const IrExtern *e, double *const *ptrs, const int *lens, double *grad);

#endif
