/*
 * native.c - attach a tape to its native code: name it by its layout, find
 * the object in the cache or have the system's compiler make it, load it
 * (native.h says when and why; native_gen.c writes the source).
 *
 * The object is built by `sh -c` running $CM_CC (default cc) into a
 * temporary name in the cache directory and renamed into place, so a
 * reader never sees half an object and a run that ends first leaves the
 * compiler to finish the job for the next run.  SIGINT is ignored there:
 * Ctrl-C stops the sampler, not a compile whose product is still useful.
 */
#include "native.h"
#include "native_gen.h"

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
 * no fast-math and no contraction into FMA (the optimisation level, -O3
 * here and -O2 for libcm, changes no result without them). */
#define NATIVE_CFLAGS "-std=c11 -D_GNU_SOURCE -O3 -fno-fast-math -ffp-contract=off -fPIC -shared -w"

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

static const NativeHooks g_hooks = {tape_eval_op, tape_backward_op};
const void *native_hooks(void) { return &g_hooks; }

/* The object's name: two 64-bit FNV-1a hashes, with different offsets,
 * of everything the generated source is made from - the embedded headers,
 * the generator's format (NATIVE_FORMAT), each op's fields as native_generate()
 * writes them, and the parameters' slots - so that two tapes share a name
 * exactly when they would share a source, which is not written until a
 * compile needs it (a few milliseconds for a thousand ops, per chain, at
 * every start otherwise). */

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
    int nunits;
    char *source = native_generate(t, slots, dim, &nunits);
    if (!source && nunits > NATIVE_MAX_UNITS) {
        snprintf(err, errlen, "its tape's %d ops make %d pieces that do not repeat as a loop "
                              "(native code is made for up to %d, about 4 ms of compiling each)",
                 t->nops, nunits, NATIVE_MAX_UNITS);
        return -1;
    }
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
        snprintf(why, whylen, "its tape has %d ops (native code is made for up to %d)", t->nops,
                 NATIVE_MAX_OPS);
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
