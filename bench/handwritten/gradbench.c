/*
 * gradbench.c - hand-written log densities and gradients, the floor that
 * cm's autodiff is measured against.
 *
 * `make bench` asks how much cm's generic machinery (parsing, tracing, the
 * tape, the distribution table) costs per gradient compared with what a
 * person would write by hand in C for the same model.  This program holds
 * that hand-written code for two of the benchmark models, on the same
 * unconstrained parameters that cm's sampler sees:
 *
 *   eight_schools   q = (mu, log tau, eta[1..J]); tau = exp(q[1]) with its
 *                   log-Jacobian; mu ~ N(0,5), tau ~ HalfCauchy(5),
 *                   eta ~ N(0,1), y ~ N(mu + tau eta, sigma).
 *   logistic        q = (alpha, beta[1..D]); alpha ~ N(0,5), beta ~ N(0,1),
 *                   y ~ BernoulliLogit(alpha + X beta), N x D design.
 *
 * The logistic gradient comes in two forms: `loops` in plain C (three
 * passes: X beta, the per-row terms, X^T r), `blas` with cblas_dgemv for
 * the two matrix-vector products, as cm's tape does.  Both
 * use one exp and one log1p per row, the same arithmetic as cm's
 * bernoulli_logit and Stan's log1p_exp, so the comparison is of machinery,
 * not of maths.  The densities keep every normalising constant (they cost
 * nothing per gradient: they are folded into one number at load time).
 *
 * Data are read from the benchmark's CmdStan JSON files with a deliberately
 * tiny reader: it finds "key": and reads the numbers of the value that
 * follows, flattening nested lists row-major.  It accepts exactly what those
 * files hold (numbers and lists of numbers) and says so when it meets
 * anything else.
 *
 * Before timing, the gradient is checked against central finite
 * differences; a wrong gradient would make the timing meaningless, so the
 * program then fails.  Timing is process CPU time over enough evaluations to
 * fill --seconds (default 1), doubling the count until it does.
 *
 *   gradbench eight_schools DATA.json [--seconds S] [--evals N]
 *   gradbench logistic DATA.json [--blas] [--seconds S] [--evals N]
 *
 * prints one line: `model variant evals N cpu_s S ns_per_grad T lp L`.
 * With --evals N the count is fixed (for callgrind, where the time is
 * meaningless but the instruction count per evaluation is wanted).
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- JSON */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "gradbench: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "gradbench: out of memory reading %s\n", path);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

/* The numbers of the value of "key" (a number or nested lists of numbers),
 * row-major, in a fresh array; *n gets the count.  NULL with a message if
 * the key is missing or the value holds anything but numbers. */
static double *json_numbers(const char *text, const char *key, size_t *n, const char *path)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(text, pat);
    while (p) { /* the key, not a string value that happens to match */
        const char *c = p + strlen(pat);
        while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
            c++;
        if (*c == ':') {
            p = c + 1;
            break;
        }
        p = strstr(p + 1, pat);
    }
    if (!p) {
        fprintf(stderr, "gradbench: %s has no \"%s\"\n", path, key);
        return NULL;
    }
    size_t cap = 64, len = 0;
    double *v = malloc(cap * sizeof *v);
    int depth = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')
            p++;
        if (*p == '[') {
            depth++;
            p++;
            continue;
        }
        if (*p == ']') {
            if (--depth < 0)
                break;
            p++;
            if (depth == 0)
                break;
            continue;
        }
        char *end;
        double x = strtod(p, &end);
        if (end == p) {
            if (depth == 0 && len > 0)
                break; /* a scalar value ended at '}' or the next key */
            fprintf(stderr, "gradbench: %s: \"%s\" holds something other than numbers\n", path,
                    key);
            free(v);
            return NULL;
        }
        if (len == cap) {
            double *nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                free(v);
                fprintf(stderr, "gradbench: out of memory\n");
                return NULL;
            }
            v = nv;
            cap *= 2;
        }
        v[len++] = x;
        p = end;
        if (depth == 0)
            break;
    }
    *n = len;
    return v;
}

static int json_int(const char *text, const char *key, const char *path, int *out)
{
    size_t n;
    double *v = json_numbers(text, key, &n, path);
    if (!v)
        return -1;
    int ok = n == 1 && v[0] >= 1 && v[0] == floor(v[0]);
    if (ok)
        *out = (int)v[0];
    else
        fprintf(stderr, "gradbench: %s: \"%s\" should be a positive integer\n", path, key);
    free(v);
    return ok ? 0 : -1;
}

/* ---------------------------------------------------------------- models */

typedef struct {
    const char *name, *variant;
    int dim;
    double (*logp_grad)(const void *m, const double *q, double *g);
    const void *m;
} Target;

#define LOG_SQRT_2PI 0.91893853320467274178

typedef struct {
    int J;
    double *y, *inv_sigma;
    double constant; /* every normalising constant, summed once */
} EightSchools;

static double eight_schools_logp_grad(const void *vm, const double *q, double *g)
{
    const EightSchools *m = vm;
    double mu = q[0], log_tau = q[1], tau = exp(log_tau);
    const double *eta = q + 2;
    double *geta = g + 2;
    /* mu ~ N(0, 5); tau ~ HalfCauchy(5) with the Jacobian of tau = exp(u) */
    double lp = m->constant - 0.5 * (mu / 5) * (mu / 5);
    double gmu = -mu / 25, gtau = 0;
    double z = tau / 5;
    lp += -log1p(z * z) + log_tau;
    gtau += -2 * z / (5 * (1 + z * z));
    for (int j = 0; j < m->J; j++) {
        lp -= 0.5 * eta[j] * eta[j];
        double r = (m->y[j] - mu - tau * eta[j]) * m->inv_sigma[j];
        lp -= 0.5 * r * r;
        double d = r * m->inv_sigma[j]; /* d lp / d theta_j */
        gmu += d;
        gtau += d * eta[j];
        geta[j] = -eta[j] + d * tau;
    }
    g[0] = gmu;
    g[1] = gtau * tau + 1; /* chain rule through tau = exp(u), plus d(log_tau)/du */
    return lp;
}

static int eight_schools_load(EightSchools *m, const char *path)
{
    char *text = read_file(path);
    if (!text)
        return -1;
    size_t ny, ns;
    int rc = json_int(text, "J", path, &m->J);
    m->y = rc ? NULL : json_numbers(text, "y", &ny, path);
    double *sigma = m->y ? json_numbers(text, "sigma", &ns, path) : NULL;
    free(text);
    m->inv_sigma = sigma; /* owned by m from here on, freed by the caller */
    if (!sigma)
        return -1;
    if (ny != (size_t)m->J || ns != (size_t)m->J) {
        fprintf(stderr, "gradbench: %s: y and sigma need J = %d values\n", path, m->J);
        return -1;
    }
    /* N(0,5) and J N(0,1) and J N(y | ., sigma) normalisers; HalfCauchy(5):
     * log(2 / (pi 5)) */
    m->constant = -LOG_SQRT_2PI - log(5.0) + log(2.0 / (M_PI * 5.0));
    for (int j = 0; j < m->J; j++) {
        if (!(sigma[j] > 0)) {
            fprintf(stderr, "gradbench: %s: sigma[%d] must be positive\n", path, j + 1);
            return -1;
        }
        m->constant += -2 * LOG_SQRT_2PI - log(sigma[j]);
        m->inv_sigma[j] = 1 / sigma[j];
    }
    return 0;
}

typedef struct {
    int N, D;
    double *X, *y;
    double *eta;     /* scratch: the linear predictor, then the residuals */
    double constant; /* N(0,5) + D N(0,1) normalisers */
} Logistic;

/* log(1 + exp(a)) and sigmoid(a) from one exp and one log1p, stable for
 * either sign of a. */
static inline double log1p_exp_sig(double a, double *sig)
{
    if (a > 0) {
        double e = exp(-a);
        *sig = 1 / (1 + e);
        return a + log1p(e);
    }
    double e = exp(a);
    *sig = e / (1 + e);
    return log1p(e);
}

static double logistic_priors(const Logistic *m, const double *q, double *g)
{
    double lp = m->constant - 0.5 * (q[0] / 5) * (q[0] / 5);
    g[0] = -q[0] / 25;
    for (int k = 0; k < m->D; k++) {
        lp -= 0.5 * q[1 + k] * q[1 + k];
        g[1 + k] = -q[1 + k];
    }
    return lp;
}

/* Three passes over plain arrays: the linear predictor, the per-row
 * transcendental work, then X^T r.  A single fused pass reads each row once
 * but chains dot product -> exp -> log1p -> update within a row, and the
 * out-of-order core then cannot overlap the rows' libm calls: it measured
 * twice as slow as this form. */
static double logistic_logp_grad_loops(const void *vm, const double *q, double *g)
{
    const Logistic *m = vm;
    int N = m->N, D = m->D;
    const double *restrict beta = q + 1;
    double *restrict gbeta = g + 1;
    double *restrict eta = m->eta;
    double lp = logistic_priors(m, q, g);
    for (int i = 0; i < N; i++) {
        const double *restrict x = m->X + (size_t)i * D;
        /* four partial sums: one running sum would be a chain of D dependent
         * additions (gcc does not reassociate without -ffast-math) */
        double a0 = q[0], a1 = 0, a2 = 0, a3 = 0;
        int k = 0;
        for (; k + 4 <= D; k += 4) {
            a0 += x[k] * beta[k];
            a1 += x[k + 1] * beta[k + 1];
            a2 += x[k + 2] * beta[k + 2];
            a3 += x[k + 3] * beta[k + 3];
        }
        for (; k < D; k++)
            a0 += x[k] * beta[k];
        eta[i] = (a0 + a1) + (a2 + a3);
    }
    double galpha = 0;
    for (int i = 0; i < N; i++) {
        double s, l = log1p_exp_sig(eta[i], &s);
        lp += m->y[i] * eta[i] - l;
        eta[i] = m->y[i] - s; /* reuse as the residual r */
        galpha += eta[i];
    }
    g[0] += galpha;
    for (int i = 0; i < N; i++) {
        const double *restrict x = m->X + (size_t)i * D;
        double r = eta[i];
        for (int k = 0; k < D; k++)
            gbeta[k] += r * x[k];
    }
    return lp;
}

static double logistic_logp_grad_blas(const void *vm, const double *q, double *g)
{
    const Logistic *m = vm;
    int N = m->N, D = m->D;
    double lp = logistic_priors(m, q, g);
    double *eta = m->eta;
    for (int i = 0; i < N; i++)
        eta[i] = q[0];
    cblas_dgemv(CblasRowMajor, CblasNoTrans, N, D, 1.0, m->X, D, q + 1, 1, 1.0, eta, 1);
    double galpha = 0;
    for (int i = 0; i < N; i++) {
        double s, l = log1p_exp_sig(eta[i], &s);
        lp += m->y[i] * eta[i] - l;
        eta[i] = m->y[i] - s; /* reuse as the residual r */
        galpha += eta[i];
    }
    g[0] += galpha;
    cblas_dgemv(CblasRowMajor, CblasTrans, N, D, 1.0, m->X, D, eta, 1, 1.0, g + 1, 1);
    return lp;
}

static int logistic_load(Logistic *m, const char *path)
{
    char *text = read_file(path);
    if (!text)
        return -1;
    size_t nx = 0, ny = 0;
    int rc = json_int(text, "N", path, &m->N);
    rc = rc ? rc : json_int(text, "D", path, &m->D);
    m->X = rc ? NULL : json_numbers(text, "X", &nx, path);
    m->y = m->X ? json_numbers(text, "y", &ny, path) : NULL;
    free(text);
    if (!m->y)
        return -1;
    if (nx != (size_t)m->N * (size_t)m->D || ny != (size_t)m->N) {
        fprintf(stderr, "gradbench: %s: X needs N x D = %d x %d values and y N\n", path, m->N,
                m->D);
        return -1;
    }
    for (int i = 0; i < m->N; i++)
        if (m->y[i] != 0 && m->y[i] != 1) {
            fprintf(stderr, "gradbench: %s: y[%d] = %g is not 0 or 1\n", path, i + 1, m->y[i]);
            return -1;
        }
    m->eta = malloc((size_t)m->N * sizeof *m->eta);
    if (!m->eta)
        return -1;
    m->constant = -LOG_SQRT_2PI - log(5.0) - m->D * LOG_SQRT_2PI;
    return 0;
}

/* ---------------------------------------------------------------- harness */

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Central differences against the analytic gradient at q; returns the
 * worst error relative to max(1, |g|). */
static double gradient_error(const Target *t, double *q)
{
    int d = t->dim;
    double *g = calloc((size_t)d, sizeof *g), *scratch = calloc((size_t)d, sizeof *g);
    if (!g || !scratch) {
        free(g);
        free(scratch);
        return INFINITY; /* reported as a failed check, never a crash */
    }
    t->logp_grad(t->m, q, g);
    double worst = 0;
    for (int i = 0; i < d; i++) {
        double h = 1e-6 * fmax(1, fabs(q[i])), qi = q[i];
        q[i] = qi + h;
        memset(scratch, 0, (size_t)d * sizeof *scratch);
        double up = t->logp_grad(t->m, q, scratch);
        q[i] = qi - h;
        memset(scratch, 0, (size_t)d * sizeof *scratch);
        double down = t->logp_grad(t->m, q, scratch);
        q[i] = qi;
        double fd = (up - down) / (2 * h);
        double err = fabs(fd - g[i]) / fmax(1, fabs(g[i]));
        if (err > worst)
            worst = err;
    }
    free(g);
    free(scratch);
    return worst;
}

/* Runs n evaluations, each from a zeroed gradient as a sampler would need;
 * returns the CPU seconds and adds the log densities to *sink so that the
 * work cannot be optimised away. */
static double time_evals(const Target *t, const double *q, double *g, long n, double *sink)
{
    double t0 = cpu_seconds();
    for (long e = 0; e < n; e++) {
        memset(g, 0, (size_t)t->dim * sizeof *g);
        *sink += t->logp_grad(t->m, q, g);
    }
    return cpu_seconds() - t0;
}

static void usage(void)
{
    fprintf(stderr, "usage: gradbench eight_schools|logistic DATA.json [--blas] [--seconds S] "
                    "[--evals N]\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        usage();
        return 2;
    }
    const char *model = argv[1], *path = argv[2];
    int blas = 0;
    double seconds = 1;
    long fixed = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--blas"))
            blas = 1;
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--evals") && i + 1 < argc)
            fixed = atol(argv[++i]);
        else {
            fprintf(stderr, "gradbench: unknown option '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (!(seconds > 0) || fixed < 0) {
        fprintf(stderr, "gradbench: --seconds and --evals must be positive\n");
        return 2;
    }

    EightSchools es = {0};
    Logistic lr = {0};
    Target t;
    double *q = NULL, *g = NULL;
    int rc = 1;
    if (!strcmp(model, "eight_schools")) {
        if (eight_schools_load(&es, path) != 0)
            goto done;
        t = (Target){"eight_schools", "loops", 2 + es.J, eight_schools_logp_grad, &es};
    } else if (!strcmp(model, "logistic")) {
        if (logistic_load(&lr, path) != 0)
            goto done;
        t = (Target){"logistic", blas ? "blas" : "loops", 1 + lr.D,
                     blas ? logistic_logp_grad_blas : logistic_logp_grad_loops, &lr};
    } else {
        fprintf(stderr, "gradbench: unknown model '%s' (eight_schools or logistic)\n", model);
        usage();
        return 2;
    }

    /* a fixed, typical point: small values of either sign */
    q = malloc((size_t)t.dim * sizeof *q);
    g = malloc((size_t)t.dim * sizeof *g);
    if (!q || !g) {
        fprintf(stderr, "gradbench: out of memory\n");
        goto done;
    }
    for (int i = 0; i < t.dim; i++)
        q[i] = 0.3 * sin(1.7 * i + 0.4);
    double err = gradient_error(&t, q);
    if (!(err < 1e-5)) {
        fprintf(stderr, "gradbench: %s gradient disagrees with finite differences (%.3g)\n",
                t.name, err);
        goto done;
    }

    double sink = 0, cpu;
    long n = fixed;
    if (fixed > 0) {
        cpu = time_evals(&t, q, g, n, &sink);
    } else {
        n = 1;
        while ((cpu = time_evals(&t, q, g, n, &sink)) < seconds && n < (1L << 40)) {
            n *= 2;
            sink = 0; /* only the last, long enough, round is reported */
        }
    }
    printf("%s %s evals %ld cpu_s %.6f ns_per_grad %.2f lp %.10g gradcheck %.1e\n", t.name,
           t.variant, n, cpu, 1e9 * cpu / (double)n, sink / (double)n, err);
    rc = 0;
done:
    free(q);
    free(g);
    free(es.y);
    free(es.inv_sigma);
    free(lr.X);
    free(lr.y);
    free(lr.eta);
    return rc;
}
