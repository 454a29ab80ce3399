/*
 * native.c - write a tape out as C, compile it with the system's compiler,
 * cache and load the object (native.h says when and why).
 *
 * The generated translation unit is the embedded text of dist.h, tape.h
 * and tape_ops.h (build/gen/native_prelude.c, made by stdlib/embed.sh),
 * then one `static const TapeOp` per pure op, then cm_native_logp_grad:
 * the parameters stored into their slots, one call per op forward, the
 * adjoints zeroed, one call per op backward, the gradient read out - the
 * same steps in the same order as model_logp_grad over tape_forward and
 * tape_backward.  An op's field values are constants there, so the C
 * compiler specialises the op body to that op; its data are not (they are
 * read from the tape's slots and partials at run time), so the object
 * serves any data set of the same shape.
 *
 * The object is built by `sh -c` running $CM_CC (default cc) into a
 * temporary name in the cache directory and renamed into place, so a
 * reader never sees half an object and a run that ends first leaves the
 * compiler to finish the job for the next run.  SIGINT is ignored there:
 * Ctrl-C stops the sampler, not a compile whose product is still useful.
 */
#include "native.h"

#include "tape_ops.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/types.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
extern const char cm_native_prelude[];

/* The compiler flags that make the object's arithmetic the interpreter's:
 * optimised as libcm is, no fast-math, no contraction into FMA. */
#define NATIVE_CFLAGS "-std=c11 -D_GNU_SOURCE -O3 -fno-fast-math -ffp-contract=off -fPIC -shared -w"

#define NATIVE_CHUNK 32

enum { NC_IDLE, NC_BUILDING, NC_READY, NC_FAILED };

struct NativeCode {
    char id[40];              /* layout_id: the cache file's name           */
    _Atomic int state;
    _Atomic(void *) fn;       /* NativeLogpGrad, once loaded                */
    pid_t child;              /* the compiler's shell, while building       */
    char *dir, *log, *cc;     /* where it writes, and what it runs          */
    struct NativeCode *next;
};

static _Atomic int g_mode = JIT_AUTO;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static NativeCode *g_codes;   /* every layout attached in this process */

void native_set_mode(JitMode mode) { atomic_store(&g_mode, (int)mode); }
JitMode native_mode(void) { return (JitMode)atomic_load(&g_mode); }

int native_parse_mode(const char *s)
{
    return !strcmp(s, "off") ? JIT_OFF : !strcmp(s, "auto") ? JIT_AUTO : !strcmp(s, "on") ? JIT_ON : -1;
}

/* The body of each pure op, by code (tape_ops.h), so that the generated
 * code calls the one it needs: dispatching through the whole switch would
 * make the C compiler inline every case before folding all but one, which
 * takes it seconds per hundred ops. */
#define NAME_FWD(code, f, b) [code] = #f,
#define NAME_BWD(code, f, b) [code] = #b,
static const char *const fwd_name[OP__COUNT] = {TAPE_PURE_OPS(NAME_FWD)};
static const char *const bwd_name[OP__COUNT] = {TAPE_PURE_OPS(NAME_BWD)};

/* The call that runs op k forward (or backward). */
static void emit_call(FILE *f, const TapeOp *op, int k, int backward)
{
    if (!tape_op_is_pure(op))
        fprintf(f, "    h->%s(t, t->ops + %d);\n", backward ? "backward" : "forward", k);
    else if (op->code == OP_LPDF) /* a location-scale kernel, named by its family */
        fprintf(f, "    locscale_%s(t, &o%d, family_of(%d));\n", backward ? "backward" : "forward", k,
                op->kern);
    else
        fprintf(f, "    %s(t, &o%d);\n", (backward ? bwd_name : fwd_name)[op->code], k);
}

static const NativeHooks g_hooks = {tape_eval_op, tape_backward_op};
const void *native_hooks(void) { return &g_hooks; }

/* ---- the source -------------------------------------------------------- */

static void emit_ints(FILE *f, const char *name, const int *v, int n)
{
    fprintf(f, ", .%s = {", name);
    for (int k = 0; k < n; k++)
        fprintf(f, "%s%d", k ? ", " : "", v[k]);
    fputc('}', f);
}

/* Every field the op bodies read; paux is not among them for pure ops. */
static void emit_op(FILE *f, const TapeOp *op, int k)
{
    fprintf(f, "static const TapeOp o%d = {.code = %d, .nin = %d, .varmask = %d, .kern = %d, "
               ".out = %d, .nout = %d",
            k, op->code, op->nin, op->varmask, op->kern, op->out, op->nout);
    emit_ints(f, "in", op->in, TAPE_MAX_IN);
    emit_ints(f, "inn", op->inn, TAPE_MAX_IN);
    emit_ints(f, "iaux", op->iaux, 3);
    fprintf(f, ", .daux = %a, .pbuf = %ld, .ipool = %ld};\n", op->daux, op->pbuf, op->ipool);
}

static char *generate(const Tape *t, const int *slots, int dim)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "/* cm native code for one tape (runtime/native.c); sizeof(TapeOp) %zu */\n%s\n",
            sizeof(TapeOp), cm_native_prelude);
    for (int k = 0; k < t->nops; k++)
        if (tape_op_is_pure(&t->ops[k]))
            emit_op(f, &t->ops[k], k);
    /* the ops in chunks of NATIVE_CHUNK, a function each: the compiler's
       time grows faster than linearly in a function's size */
    int nchunks = (t->nops + NATIVE_CHUNK - 1) / NATIVE_CHUNK;
    for (int c = 0; c < nchunks; c++) {
        int lo = c * NATIVE_CHUNK, hi = lo + NATIVE_CHUNK < t->nops ? lo + NATIVE_CHUNK : t->nops;
        fprintf(f, "\nstatic __attribute__((noinline)) void fwd%d(Tape *t, const NativeHooks *h)\n{\n"
                   "    (void)h;\n", c);
        for (int k = lo; k < hi; k++)
            emit_call(f, &t->ops[k], k, 0);
        fprintf(f, "}\n\nstatic __attribute__((noinline)) void bwd%d(Tape *t, const NativeHooks *h)\n{\n"
                   "    (void)h;\n", c);
        for (int k = hi - 1; k >= lo; k--)
            emit_call(f, &t->ops[k], k, 1);
        fputs("}\n", f);
    }
    fputs("\ndouble cm_native_logp_grad(Tape *t, const double *q, double *grad, const void *hooks)\n{\n"
          "    const NativeHooks *h = hooks;\n",
          f);
    for (int i = 0; i < dim; i++)
        fprintf(f, "    t->val[%d] = q[%d];\n", slots[i], i);
    fputs("    t->target = t->target_const;\n", f);
    for (int c = 0; c < nchunks; c++)
        fprintf(f, "    fwd%d(t, h);\n", c);
    fputs("    double lp = t->target;\n    if (!grad || !isfinite(lp))\n        return lp;\n"
          "    tape_zero_adjoints(t);\n",
          f);
    for (int c = nchunks - 1; c >= 0; c--)
        fprintf(f, "    bwd%d(t, h);\n", c);
    for (int i = 0; i < dim; i++)
        fprintf(f, "    grad[%d] = t->adj[%d];\n", i, slots[i]);
    fputs("    return lp;\n}\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The object's name: two 64-bit FNV-1a hashes, with different offsets,
 * of everything the generated source is made from - the embedded headers,
 * the generator's format (NATIVE_FORMAT), each op's fields as generate()
 * writes them, and the parameters' slots - so that two tapes share a name
 * exactly when they would share a source, which is not written until a
 * compile needs it (a few milliseconds for a thousand ops, per chain, at
 * every start otherwise). */
#define NATIVE_FORMAT 1 /* bump when generate() changes what it writes */

typedef struct {
    unsigned long long a, b;
} Hash;

static void hash_bytes(Hash *h, const void *p, size_t n)
{
    for (const unsigned char *c = p; n-- > 0; c++) {
        h->a = (h->a ^ *c) * 1099511628211ULL;
        h->b = (h->b ^ *c) * 1099511628211ULL;
    }
}

static void hash_int(Hash *h, long v) { hash_bytes(h, &v, sizeof v); }

static void layout_id(const Tape *t, const int *slots, int dim, char *id, size_t n)
{
    Hash h = {14695981039346656037ULL, 0x84222325cbf29ce4ULL};
    hash_bytes(&h, cm_native_prelude, strlen(cm_native_prelude));
    hash_int(&h, NATIVE_FORMAT);
    hash_int(&h, (long)sizeof(TapeOp));
    hash_int(&h, t->nops);
    for (int k = 0; k < t->nops; k++) {
        const TapeOp *op = &t->ops[k];
        hash_int(&h, tape_op_is_pure(op));
        if (!tape_op_is_pure(op))
            continue; /* called through the hooks: only its index is written */
        long f[] = {op->code, op->nin, op->varmask, op->kern, op->out, op->nout, op->pbuf, op->ipool};
        hash_bytes(&h, f, sizeof f);
        hash_bytes(&h, op->in, sizeof op->in);
        hash_bytes(&h, op->inn, sizeof op->inn);
        hash_bytes(&h, op->iaux, sizeof op->iaux);
        hash_bytes(&h, &op->daux, sizeof op->daux);
    }
    hash_int(&h, dim);
    hash_bytes(&h, slots, sizeof(int) * (size_t)dim);
    snprintf(id, n, "%016llx%016llx", h.a, h.b);
}

/* ---- the cache --------------------------------------------------------- */

static int mkdir_p(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(path, 0700);
        *p = '/';
        if (r != 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* The cache directory (created), or -1 with the reason. */
static int cache_dir(char *dir, size_t n, char *err, size_t errlen)
{
    const char *env = getenv("CM_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (env && *env)
        snprintf(dir, n, "%s", env);
    else if (xdg && *xdg)
        snprintf(dir, n, "%s/cm", xdg);
    else if (home && *home)
        snprintf(dir, n, "%s/.cache/cm", home);
    else {
        snprintf(err, errlen, "no cache directory: set CM_CACHE_DIR (or HOME)");
        return -1;
    }
    if (mkdir_p(dir) != 0) {
        snprintf(err, errlen, "cannot create the cache directory %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Load dir/cm-ID.so: 0, or -1 (absent, unreadable, or not an object). */
static int load(NativeCode *c, const char *dir, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/cm-%s.so", dir, c->id);
    if (access(path, R_OK) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "%s", dlerror());
        return -1;
    }
    void *fn = dlsym(h, "cm_native_logp_grad");
    if (!fn) {
        snprintf(err, errlen, "%s: no cm_native_logp_grad", path);
        dlclose(h);
        return -1;
    }
    atomic_store_explicit(&c->fn, fn, memory_order_release);
    atomic_store(&c->state, NC_READY);
    return 0;
}

static void read_log(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;
    if (f) {
        n = fread(err, 1, errlen - 1, f);
        fclose(f);
    }
    err[n] = 0;
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = 0;
    unlink(path);
}

/* Start the compiler on c's source (c->child, c->dir and c->log set): 0,
 * or -1 with the reason.  It is not niced in the background: with every
 * core running a chain, a niced compiler would get almost no time until
 * the run is over, and the run that asked for it is a long one. */
static int spawn_compiler(NativeCode *c, const Tape *t, const int *slots, int dim, char *err,
                          size_t errlen)
{
    char id[40];
    layout_id(t, slots, dim, id, sizeof id);
    if (strcmp(id, c->id) != 0) { /* a caller's bug: the object would be filed under another layout */
        snprintf(err, errlen, "the tape was recorded again since its native code was attached");
        return -1;
    }
    char *source = generate(t, slots, dim);
    if (!source) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char dir[4096];
    if (cache_dir(dir, sizeof dir, err, errlen) != 0) {
        free(source);
        return -1;
    }
    char src[4200], tmp[4200], log[4200], dst[4200];
    long pid = (long)getpid();
    snprintf(src, sizeof src, "%s/cm-%s.%ld.c", dir, c->id, pid);
    snprintf(tmp, sizeof tmp, "%s/cm-%s.%ld.tmp", dir, c->id, pid);
    snprintf(log, sizeof log, "%s/cm-%s.%ld.log", dir, c->id, pid);
    snprintf(dst, sizeof dst, "%s/cm-%s.so", dir, c->id);
    int fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t len = strlen(source);
    int wrote = fd >= 0 && write(fd, source, len) == (ssize_t)len;
    free(source);
    if (!wrote) {
        snprintf(err, errlen, "cannot write %s: %s", src, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(src);
        return -1;
    }
    close(fd);
    const char *cc = getenv("CM_CC");
    if (!cc || !*cc)
        cc = "cc";
    char script[512];
    snprintf(script, sizeof script,
             "trap '' INT; \"$0\" %s -o \"$2\" \"$1\" -lm 2>\"$3\" && mv -f \"$2\" \"$4\" && "
             "rm -f \"$3\"; st=$?; rm -f \"$1\" \"$2\"; exit $st",
             NATIVE_CFLAGS);
    char *argv[] = {"sh", "-c", script, (char *)cc, src, tmp, log, dst, NULL};
    int rc = posix_spawnp(&c->child, "sh", NULL, NULL, argv, environ);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run sh: %s", strerror(rc));
        unlink(src);
        return -1;
    }
    free(c->dir);
    free(c->log);
    free(c->cc);
    c->dir = strdup(dir);
    c->log = strdup(log);
    c->cc = strdup(cc);
    return 0;
}

/* The compiler exited with status st: load the object, or say why not. */
static int finish_compile(NativeCode *c, int st, char *err, size_t errlen)
{
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char msg[1024];
        read_log(c->log, msg, sizeof msg);
        snprintf(err, errlen, "%s failed%s%s", c->cc, *msg ? ": " : "", msg);
        return -1;
    }
    return load(c, c->dir, err, errlen);
}

/* ---- attaching and building -------------------------------------------- */

NativeCode *native_attach(const Tape *t, const int *slots, int dim, char *why, size_t whylen)
{
    if (native_mode() == JIT_OFF) {
        snprintf(why, whylen, "--jit off");
        return NULL;
    }
    if (t->dynamic) {
        snprintf(why, whylen, "the model's control flow depends on a parameter, so it is "
                              "re-recorded at every evaluation");
        return NULL;
    }
    if (t->nlocal_closed > 0) {
        snprintf(why, whylen, "the model sums out a discrete site, and its output rows "
                              "re-record the tape");
        return NULL;
    }
    if (t->nops > NATIVE_MAX_OPS) {
        snprintf(why, whylen, "its tape has %d ops (native code is made for up to %d; "
                              "larger tapes spend their time in the op bodies)",
                 t->nops, NATIVE_MAX_OPS);
        return NULL;
    }
    char id[40];
    layout_id(t, slots, dim, id, sizeof id);
    pthread_mutex_lock(&g_lock);
    NativeCode *c = g_codes;
    while (c && strcmp(c->id, id) != 0)
        c = c->next;
    if (!c && (c = calloc(1, sizeof *c)) != NULL) {
        memcpy(c->id, id, sizeof c->id);
        c->next = g_codes;
        g_codes = c;
        char dir[4096], err[256];
        if (cache_dir(dir, sizeof dir, err, sizeof err) == 0)
            load(c, dir, err, sizeof err); /* a miss is not an error */
    } else if (!c) {
        snprintf(why, whylen, "out of memory");
    }
    pthread_mutex_unlock(&g_lock);
    return c;
}

int native_build_now(NativeCode *c, const Tape *t, const int *slots, int dim, char *err,
                     size_t errlen)
{
    pthread_mutex_lock(&g_lock); /* chains attaching the same layout wait for one build */
    int rc = 0;
    if (atomic_load(&c->state) != NC_READY) {
        atomic_store(&c->state, NC_BUILDING);
        rc = spawn_compiler(c, t, slots, dim, err, errlen);
        if (rc == 0) {
            int st = 0;
            while (waitpid(c->child, &st, 0) < 0 && errno == EINTR)
                ;
            rc = finish_compile(c, st, err, errlen);
        }
        if (rc != 0)
            atomic_store(&c->state, NC_FAILED);
    }
    pthread_mutex_unlock(&g_lock);
    return rc;
}

void native_request(NativeCode *c, const Tape *t, const int *slots, int dim)
{
    int idle = NC_IDLE;
    if (!atomic_compare_exchange_strong(&c->state, &idle, NC_BUILDING))
        return; /* built, building or failed */
    char err[1024];
    pthread_mutex_lock(&g_lock);
    if (spawn_compiler(c, t, slots, dim, err, sizeof err) != 0)
        atomic_store(&c->state, NC_FAILED); /* auto: stay interpreted, silently */
    pthread_mutex_unlock(&g_lock);
}

void native_poll(NativeCode *c)
{
    if (atomic_load(&c->state) != NC_BUILDING || pthread_mutex_trylock(&g_lock) != 0)
        return;
    int st = 0;
    pid_t r = atomic_load(&c->state) == NC_BUILDING ? waitpid(c->child, &st, WNOHANG) : 0;
    char err[1024];
    if (r == c->child && finish_compile(c, st, err, sizeof err) != 0)
        atomic_store(&c->state, NC_FAILED);
    else if (r < 0 && errno != EINTR)
        atomic_store(&c->state, NC_FAILED);
    pthread_mutex_unlock(&g_lock);
}

NativeLogpGrad native_function(NativeCode *c)
{
    void *fn = atomic_load_explicit(&c->fn, memory_order_acquire);
    return (NativeLogpGrad)fn;
}
