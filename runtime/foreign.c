/*
 * foreign.c - calling foreign C functions declared with `extern fn`.
 *
 * The library is opened with dlopen and the symbol resolved the first time
 * the program is run; the call goes through libffi with the declared
 * signature: real -> double, int -> long, a vector -> a pointer to its
 * elements followed by its length as a long.  The value is a constant
 * unless an argument depends on a parameter; then the call is recorded as
 * a tape op whose adjoint comes from the user's gradient function (if the
 * declaration names one) or from central finite differences.
 */
#include <dlfcn.h>
#include <ffi.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "foreign.h"
#include "vops.h"

/* A library named with a relative path ("./libx.so", "lib/libx.so") is
 * looked for beside the model file first, so a model and its library can
 * travel together; a bare name ("libm.so.6") goes to the system's search. */
static void *open_library(const char *lib, const char *model_path)
{
    if (strchr(lib, '/') && lib[0] != '/' && model_path) {
        const char *slash = strrchr(model_path, '/');
        if (slash) {
            char path[4096];
            snprintf(path, sizeof path, "%.*s/%s", (int)(slash - model_path), model_path, lib);
            void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            if (h)
                return h;
        }
    }
    return dlopen(lib, RTLD_NOW | RTLD_LOCAL);
}

int ffi_resolve(IrExtern *e, const char *model_path, char *err, size_t errlen)
{
    if (e->sym)
        return 0;
    void *lib = open_library(e->lib, model_path);
    if (!lib) {
        snprintf(err, errlen, "extern '%s': cannot open library \"%s\": %s", e->name, e->lib, dlerror());
        return -1;
    }
    e->sym = dlsym(lib, e->name);
    if (!e->sym) {
        snprintf(err, errlen, "extern '%s': no symbol '%s' in \"%s\"", e->name, e->name, e->lib);
        return -1;
    }
    if (e->grad_sym) {
        e->grad = dlsym(lib, e->grad_sym);
        if (!e->grad) {
            snprintf(err, errlen, "extern '%s': no gradient symbol '%s' in \"%s\"", e->name, e->grad_sym,
                     e->lib);
            return -1;
        }
    }
    return 0;
}

/* Call e with the values at args (doubles in the tape); vectors are passed
 * as (pointer, length). */
/* libffi argument lists for e's declared signature: real -> double,
 * int -> long, a vector -> (pointer, length); `extra` more slots follow. */
typedef struct {
    ffi_type *types[34];
    void *vals[34];
    double dv[16];
    long lv[16], nv[16];
    void *pv[16];
    int n;
} FfiArgs;

static void marshal(const IrExtern *e, double *const *ptrs, const int *lens, FfiArgs *a)
{
    a->n = 0;
    for (int k = 0; k < e->nparams && k < 16; k++) {
        if (e->ptypes[k].rank == 0) {
            if (e->ptypes[k].base == TY_INT) {
                a->lv[k] = (long)ptrs[k][0];
                a->types[a->n] = &ffi_type_slong;
                a->vals[a->n++] = &a->lv[k];
            } else {
                a->dv[k] = ptrs[k][0];
                a->types[a->n] = &ffi_type_double;
                a->vals[a->n++] = &a->dv[k];
            }
        } else {
            a->pv[k] = ptrs[k];
            a->nv[k] = lens[k];
            a->types[a->n] = &ffi_type_pointer;
            a->vals[a->n++] = &a->pv[k];
            a->types[a->n] = &ffi_type_slong;
            a->vals[a->n++] = &a->nv[k];
        }
    }
}

/* Call e with the values at ptrs (doubles in the tape). */
double ffi_call_values(const IrExtern *e, double *const *ptrs, const int *lens)
{
    FfiArgs a;
    ffi_cif cif;
    marshal(e, ptrs, lens, &a);
    ffi_type *rt = e->ret.base == TY_INT ? &ffi_type_slong : &ffi_type_double;
    if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, (unsigned)a.n, rt, a.types) != FFI_OK)
        return NAN;
    union {
        double d;
        ffi_arg a;
    } r;
    ffi_call(&cif, FFI_FN(e->sym), &r, a.vals);
    return e->ret.base == TY_INT ? (double)(long)r.a : r.d;
}

Value vops_extern(Exec *ex, const IrInstr *in, const Value *args, int nargs)
{
    IrExtern *e = &ex->prog->externs[in->fn];
    char err[512];
    if (ffi_resolve(e, ex->prog->path, err, sizeof err) != 0)
        exec_fail(ex, in->line, in->col, "%s", err);
    if (nargs > 6)
        exec_fail(ex, in->line, in->col, "extern '%s': at most 6 arguments are supported", e->name);
    int s[6], n[6];
    for (int k = 0; k < nargs; k++) {
        s[k] = args[k].slot;
        n[k] = args[k].n;
        if (e->ptypes[k].base == TY_INT && value_isvar(ex, args[k]))
            exec_fail(ex, in->line, in->col, "extern '%s': int argument %d depends on a parameter",
                      e->name, k + 1);
    }
    Value r = value_const_scalar(ex, e->ret.base == TY_INT ? TY_INT : TY_REAL, 0);
    r.slot = tape_op(ex->tape, OP_FFI, 1, nargs, s, n, NULL, e, 0);
    return r;
}

void ffi_gradient(const IrExtern *e, double *const *ptrs, const int *lens, double *grad)
{
    if (e->grad) { /* the same call with one more pointer argument */
        FfiArgs a;
        ffi_cif cif;
        marshal(e, ptrs, lens, &a);
        void *gp = grad;
        a.types[a.n] = &ffi_type_pointer;
        a.vals[a.n++] = &gp;
        if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, (unsigned)a.n, &ffi_type_void, a.types) == FFI_OK)
            ffi_call(&cif, FFI_FN(e->grad), NULL, a.vals);
        return;
    }
    int g = 0;
    for (int k = 0; k < e->nparams; k++) {
        if (e->ptypes[k].base == TY_INT)
            continue;
        int n = e->ptypes[k].rank == 0 ? 1 : lens[k];
        for (int i = 0; i < n; i++) {
            double x = ptrs[k][i], h = 1e-6 * fmax(1, fabs(x));
            ptrs[k][i] = x + h;
            double up = ffi_call_values(e, ptrs, lens);
            ptrs[k][i] = x - h;
            double dn = ffi_call_values(e, ptrs, lens);
            ptrs[k][i] = x;
            grad[g++] = (up - dn) / (2 * h);
        }
    }
}
