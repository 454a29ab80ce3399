/*
 * main.c - cmrun: flags in, one action out.
 *
 * Parsing the command line is the only thing done here; every action is a
 * call into the compiler (check, emit-ir), the causal-graph module (graph,
 * dsep, identify, adjustment sets) or an inference engine.  Every flag is
 * validated before any work starts, so a bad flag costs nothing and leaves
 * no output file behind.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "csv_in.h"
#include "dag.h"
#include "foreign.h"
#include "handlers.h"
#include "infer.h"
#include "ir.h"
#include "model_dag.h"
#include "native.h"
#include "summary.h"
#include "svi.h"
#include "svi_user.h"

#define CM_VERSION_STRING "cmrun 0.1"

static void usage(FILE *out)
{
    fputs("usage: cmrun MODEL.cm [options]\n"
          "       cmrun --summary DRAWS.csv...\n"
          "\n"
          "Actions (default: --infer nuts):\n"
          "  --check                 parse and check the model (with --data: shapes too)\n"
          "  --emit-ir               print the model's IR\n"
          "  --infer ENGINE          nuts | hmc | prior | is | enum | svi\n"
          "  --check-grad            compare autodiff gradients with finite differences\n"
          "  --graph                 print the causal DAG (--graph-format dot|text)\n"
          "  --dsep 'x, y | z'       are x and y d-separated given z?\n"
          "  --identify 'y | do(x)'  is P(y | do(x)) identifiable, and by which estimand?\n"
          "  --adjustment-sets X Y   every minimal backdoor adjustment set\n"
          "  --summary FILES...      summarise CmdStan-format CSV files\n"
          "Data and queries:\n"
          "  --data FILE             JSON or CSV data (repeatable)\n"
          "  --set NAME=VALUE        set a data value\n"
          "  --given NAME=VALUE      condition a site on a value (repeatable)\n"
          "  --do NAME=VALUE         intervene: replace a site by a constant (repeatable;\n"
          "                          NAME[i]=VALUE for one element)\n"
          "  --counterfactual        twin-world query: evidence from --given, world from --do\n"
          "  --predictive            posterior predictive draws: every observed site redrawn at\n"
          "                          each posterior draw (columns name_rep; nuts, hmc, svi)\n"
          "  --effect T=A:B --on Y   E[Y | do(T=A)] - E[Y | do(T=B)] (binary T: --effect T)\n"
          "  --where 'x > 0'         the effect over the units that satisfy a condition\n"
          "  --query NAMES           report only these (comma separated)\n"
          "Sampling:\n"
          "  --chains N (4)  --warmup N (1000)  --samples N (1000)  --thin N (1)\n"
          "  --seed N  --threads N  --output FILE.csv  --adapt-delta X (0.8)\n"
          "  --max-depth N (10)  --metric diag|dense|unit  --init R (2)  --steps L (hmc)\n"
          "  --no-adapt              fixed step size and unit metric\n"
          "  --jit auto|on|off       the gradient as native code, compiled by cc and cached\n"
          "                          (auto: once a run is long, or from the cache; nuts, hmc)\n"
          "SVI (--infer svi, see docs/svi.md):\n"
          "  --guide normal|mvn|lowrank:R|delta|laplace (normal)  --steps N (5000)\n"
          "  --optim adam|clipped-adam|sgd (adam)  --lr X (0.01)  --lr-decay X (1)\n"
          "  --particles N (1)  --tol X (1e-4)  --samples N (1000)  --guide-init mode|zero\n"
          "  --elbo-out FILE.csv  --params-out FILE.json  --init-params FILE.json\n"
          "  --guide-file FILE.cm    a guide written in cm (or a guide { } block in the model)\n"
          "  --quiet                 no progress display\n"
          "  --help, --version\n",
          out);
}

typedef struct {
    const char *model;
    const char *action;     /* check, emit-ir, infer, check-grad, graph, dsep, identify, adjust, summary */
    const char *engine;
    const char *graph_format;
    const char *dsep, *identify, *adj_x, *adj_y;
    const char **data_files;
    int ndata;
    const char **sets, **givens, **dos;
    int nsets, ngivens, ndos;
    const char *query;
    int counterfactual;
    int predictive;
    const char *effect, *effect_on, *where;
    const char **summary_files;
    int nsummary;
    InferOptions io;
    SviOptions svi;
    long steps;             /* --steps: leapfrog steps (hmc) or optimisation steps (svi); -1 unset */
    const char *guide_file; /* --guide-file: a guide written in cm */
    int autoguide_flag;     /* --guide was given */
    int quiet;
    int jit;                /* --jit: JitMode, or -1 when not given */
} Cli;

static int fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "cmrun: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 2;
}

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        char range[64];
        snprintf(range, sizeof range, "%ld..%ld", lo, hi);
        fprintf(stderr, "cmrun: %s needs an integer in %s, got '%s'\n", flag, range, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "cmrun: %s needs a number in [%g, %g], got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static const char **push(const char **arr, int *n, const char *s)
{
    const char **a = realloc(arr, sizeof(char *) * (size_t)(*n + 1));
    if (!a) {
        fprintf(stderr, "cmrun: out of memory\n");
        exit(3);
    }
    a[(*n)++] = s;
    return a;
}

static int set_action(Cli *c, const char *a)
{
    if (c->action && strcmp(c->action, a) != 0) {
        fprintf(stderr, "cmrun: --%s and --%s cannot be combined\n", c->action, a);
        return -1;
    }
    c->action = a;
    return 0;
}

static void cli_free(Cli *c);
void openblas_set_num_threads(int n); /* OpenBLAS's cblas extension */

static int parse_args(Cli *c, int argc, char **argv)
{
    sampler_config_default(&c->io.cfg);
    svi_options_default(&c->svi);
    c->steps = -1;
    c->jit = -1;
    c->io.chains = 4;
    c->io.threads = -1;
    c->io.samples = -1;
    c->io.seed = 1;
    c->graph_format = "dot";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double x;
        char svi_err[512];
        if (!strcmp(a, "--guide"))
            c->autoguide_flag = 1;
        if (!strcmp(a, "--guide-file")) {
            if (!v)
                return fail("--guide-file needs a value (a guide written in cm)%s%s", "", ""), -1;
            c->guide_file = v;
            i++;
            continue;
        }
        int svi_rc = svi_parse_flag(&c->svi, a, v, svi_err, sizeof svi_err);
        if (svi_rc < 0) {
            fprintf(stderr, "cmrun: %s\n", svi_err);
            return -1;
        }
        if (svi_rc > 0) {
            i++;
            continue;
        }
#define NEED_VALUE()                                                           \
    do {                                                                       \
        if (!v) {                                                              \
            fprintf(stderr, "cmrun: %s needs a value\n", a);                   \
            return -1;                                                         \
        }                                                                      \
        i++;                                                                   \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            cli_free(c);
            exit(0);
        } else if (!strcmp(a, "--version")) {
            puts(CM_VERSION_STRING);
            cli_free(c);
            exit(0);
        } else if (!strcmp(a, "--check")) {
            if (set_action(c, "check")) return -1;
        } else if (!strcmp(a, "--emit-ir")) {
            if (set_action(c, "emit-ir")) return -1;
        } else if (!strcmp(a, "--check-grad")) {
            if (set_action(c, "check-grad")) return -1;
        } else if (!strcmp(a, "--graph")) {
            if (set_action(c, "graph")) return -1;
        } else if (!strcmp(a, "--graph-format")) {
            NEED_VALUE();
            if (strcmp(v, "dot") && strcmp(v, "text"))
                return fail("--graph-format must be dot or text, got '%s'%s", v, ""), -1;
            c->graph_format = v;
        } else if (!strcmp(a, "--dsep")) {
            NEED_VALUE();
            if (set_action(c, "dsep")) return -1;
            c->dsep = v;
        } else if (!strcmp(a, "--identify")) {
            NEED_VALUE();
            if (set_action(c, "identify")) return -1;
            c->identify = v;
        } else if (!strcmp(a, "--adjustment-sets")) {
            if (i + 2 >= argc)
                return fail("--adjustment-sets needs two site names: X Y%s%s", "", ""), -1;
            if (set_action(c, "adjustment-sets")) return -1;
            c->adj_x = argv[++i];
            c->adj_y = argv[++i];
        } else if (!strcmp(a, "--summary")) {
            if (set_action(c, "summary")) return -1;
            while (i + 1 < argc && argv[i + 1][0] != '-')
                c->summary_files = push(c->summary_files, &c->nsummary, argv[++i]);
        } else if (!strcmp(a, "--infer")) {
            NEED_VALUE();
            if (strcmp(v, "nuts") && strcmp(v, "hmc") && strcmp(v, "prior") && strcmp(v, "is") &&
                strcmp(v, "enum") &&
                strcmp(v, "svi"))
                return fail("--infer must be one of nuts, hmc, prior, is, enum, svi; got '%s'%s", v, ""), -1;
            if (set_action(c, "infer")) return -1;
            c->engine = v;
        } else if (!strcmp(a, "--data")) {
            NEED_VALUE();
            c->data_files = push(c->data_files, &c->ndata, v);
        } else if (!strcmp(a, "--set")) {
            NEED_VALUE();
            c->sets = push(c->sets, &c->nsets, v);
        } else if (!strcmp(a, "--given")) {
            NEED_VALUE();
            c->givens = push(c->givens, &c->ngivens, v);
        } else if (!strcmp(a, "--do")) {
            NEED_VALUE();
            c->dos = push(c->dos, &c->ndos, v);
        } else if (!strcmp(a, "--counterfactual")) {
            c->counterfactual = 1;
        } else if (!strcmp(a, "--predictive")) {
            c->predictive = 1;
        } else if (!strcmp(a, "--effect")) {
            NEED_VALUE();
            c->effect = v;
        } else if (!strcmp(a, "--on")) {
            NEED_VALUE();
            c->effect_on = v;
        } else if (!strcmp(a, "--where")) {
            NEED_VALUE();
            c->where = v;
        } else if (!strcmp(a, "--query")) {
            NEED_VALUE();
            c->query = v;
        } else if (!strcmp(a, "--chains")) {
            NEED_VALUE();
            if (parse_long(a, v, 1, 64, &n)) return -1;
            c->io.chains = (int)n;
        } else if (!strcmp(a, "--threads")) {
            NEED_VALUE();
            if (parse_long(a, v, 1, 64, &n)) return -1;
            c->io.threads = (int)n;
        } else if (!strcmp(a, "--warmup")) {
            NEED_VALUE();
            if (parse_long(a, v, 0, 100000000, &n)) return -1;
            c->io.cfg.warmup = (int)n;
        } else if (!strcmp(a, "--samples")) {
            NEED_VALUE();
            if (parse_long(a, v, 1, 100000000, &n)) return -1;
            c->io.samples = (int)n;
        } else if (!strcmp(a, "--thin")) {
            NEED_VALUE();
            if (parse_long(a, v, 1, 1000000, &n)) return -1;
            c->io.cfg.thin = (int)n;
        } else if (!strcmp(a, "--seed")) {
            NEED_VALUE();
            if (parse_long(a, v, 0, 4294967295L, &n)) return -1;
            c->io.seed = (unsigned long)n;
        } else if (!strcmp(a, "--output") || !strcmp(a, "-o")) {
            NEED_VALUE();
            c->io.output = v;
        } else if (!strcmp(a, "--adapt-delta")) {
            NEED_VALUE();
            if (parse_double(a, v, 1e-6, 1 - 1e-9, &x)) return -1;
            c->io.cfg.adapt_delta = x;
        } else if (!strcmp(a, "--max-depth")) {
            NEED_VALUE();
            if (parse_long(a, v, 1, 30, &n)) return -1;
            c->io.cfg.max_depth = (int)n;
        } else if (!strcmp(a, "--metric")) {
            NEED_VALUE();
            if (!strcmp(v, "diag")) c->io.cfg.metric = METRIC_DIAG;
            else if (!strcmp(v, "dense")) c->io.cfg.metric = METRIC_DENSE;
            else if (!strcmp(v, "unit")) c->io.cfg.metric = METRIC_UNIT;
            else return fail("--metric must be diag, dense or unit; got '%s'%s", v, ""), -1;
        } else if (!strcmp(a, "--jit")) {
            NEED_VALUE();
            c->jit = native_parse_mode(v);
            if (c->jit < 0)
                return fail("--jit must be auto, on or off; got '%s'%s", v, ""), -1;
        } else if (!strcmp(a, "--init")) {
            NEED_VALUE();
            if (parse_double(a, v, 0, 1e6, &x)) return -1;
            c->io.cfg.init_radius = x;
        } else if (!strcmp(a, "--steps")) {
            NEED_VALUE();
            if (parse_long(a, v, 0, 100000000, &n)) return -1;
            c->steps = n;
        } else if (!strcmp(a, "--no-adapt")) {
            c->io.cfg.adapt = 0;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            c->quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "cmrun: unknown option '%s' (see cmrun --help)\n", a);
            return -1;
        } else if (!c->model) {
            c->model = a;
        } else {
            fprintf(stderr, "cmrun: more than one model file given: '%s' and '%s'\n", c->model, a);
            return -1;
        }
    }
    if (!c->action)
        c->action = "infer";
    if (c->effect && !c->effect_on)
        return fail("--effect needs --on OUTCOME (the site whose mean is compared)%s%s", "", ""), -1;
    if (c->effect_on && !c->effect)
        return fail("--on needs --effect TREATMENT=A:B%s%s", "", ""), -1;
    if (c->where && !c->effect)
        return fail("--where selects units for --effect; give --effect too%s%s", "", ""), -1;
    if (c->effect && c->counterfactual)
        return fail("--effect and --counterfactual are separate queries; give one%s%s", "", ""), -1;
    if (!c->engine)
        c->engine = c->counterfactual || (c->effect && c->ndata == 0) ? "is" : "nuts";
    if (c->steps >= 0 && strcmp(c->engine, "hmc") != 0 && strcmp(c->engine, "svi") != 0)
        return fail("--steps applies to --infer hmc and svi only%s%s", "", ""), -1;
    if (c->jit >= 0 && (strcmp(c->action, "infer") != 0 ||
                        (strcmp(c->engine, "nuts") != 0 && strcmp(c->engine, "hmc") != 0)))
        return fail("--jit applies to --infer nuts and hmc only%s%s", "", ""), -1;
    if ((c->steps == 0 || c->steps > 100000) && !strcmp(c->engine, "hmc"))
        return fail("--steps for --infer hmc needs an integer in 1..100000%s%s", "", ""), -1;
    if (!strcmp(c->engine, "svi")) {
        if (c->steps >= 0)
            c->svi.steps = (int)c->steps;
    } else {
        c->io.cfg.hmc_steps = c->steps > 0 ? (int)c->steps : 0;
        if (c->svi.flag_seen)
            return fail("%s applies to --infer svi only%s", c->svi.flag_seen, ""), -1;
    }
    if (c->guide_file && strcmp(c->engine, "svi") != 0 && strcmp(c->action, "check") != 0 &&
        strcmp(c->action, "emit-ir") != 0)
        return fail("--guide-file applies to --infer svi (and --check, --emit-ir) only%s%s", "", ""), -1;
    if (c->guide_file && c->autoguide_flag)
        return fail("--guide picks an autoguide and --guide-file %s gives a guide written in cm; "
                    "give one of them%s", c->guide_file, ""), -1;
    if (!strcmp(c->engine, "hmc") && c->io.cfg.hmc_steps == 0)
        c->io.cfg.hmc_steps = 10;
    if (c->predictive && (c->counterfactual || c->effect))
        return fail("--predictive and --%s are separate queries; give one%s",
                    c->counterfactual ? "counterfactual" : "effect", ""), -1;
    if (c->predictive && strcmp(c->engine, "nuts") != 0 && strcmp(c->engine, "hmc") != 0 &&
        strcmp(c->engine, "svi") != 0)
        return fail("--predictive redraws the data at posterior draws: it needs --infer nuts, hmc or "
                    "svi (--infer %s%s)", c->engine,
                    !strcmp(c->engine, "prior") ? " already draws every data site" : ""), -1;
    if (c->counterfactual && c->ndos == 0)
        return fail("--counterfactual needs at least one --do (the counterfactual world's "
                    "intervention)%s%s", "", ""), -1;
    if (strcmp(c->action, "summary") == 0) {
        if (c->model)
            c->summary_files = push(c->summary_files, &c->nsummary, c->model);
        if (c->nsummary == 0)
            return fail("--summary needs one or more CSV files%s%s", "", ""), -1;
        return 0;
    }
    if (!c->model) {
        fprintf(stderr, "cmrun: no model file given\n");
        usage(stderr);
        return -1;
    }
    return 0;
}

static int split_query(const char *q, const char ***out)
{
    int n = 0;
    const char **arr = NULL;
    char *copy = strdup(q), *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        arr = push(arr, &n, strdup(t));
    free(copy);
    *out = arr;
    return n;
}

static void cli_free(Cli *c)
{
    free(c->data_files);
    free(c->sets);
    free(c->givens);
    free(c->dos);
    free(c->summary_files);
}

static int run_summary(Cli *c)
{
    Draws *d = NULL;
    CsvInInfo info;
    char err[1024];
    if (csv_in_read(c->summary_files, c->nsummary, &d, &info, err, sizeof err) != 0) {
        fprintf(stderr, "cmrun: %s\n", err);
        return 2;
    }
    int independent = info.method[0] && strcmp(info.method, "sample") != 0;
    SummaryOptions so = {NULL, info.max_depth, independent};
    summary_print(stdout, d, &so);
    draws_free(d);
    return 0;
}

/* --effect T=A:B (or T alone for a binary treatment): two interventions
 * that differ only in T, on top of any --do. */
static int setup_effect(const Cli *c, const Program *prog, CausalQuery *cq, DoHandler *a, DoHandler *b,
                        char *err, size_t errlen)
{
    char name[256], va[128] = "1", vb[128] = "0";
    const char *eq = strchr(c->effect, '=');
    snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - c->effect) : strlen(c->effect)),
             c->effect);
    int t = program_find_var(prog, name);
    if (t < 0 || prog->vars[t].role != VAR_SITE) {
        snprintf(err, errlen, "--effect %s: '%s' is not a sampled site", c->effect, name);
        return -1;
    }
    if (eq) {
        const char *colon = strchr(eq + 1, ':');
        if (!colon || colon == eq + 1 || !colon[1]) {
            snprintf(err, errlen, "--effect %s: expected %s=A:B, the two treatment values", c->effect, name);
            return -1;
        }
        snprintf(va, sizeof va, "%.*s", (int)(colon - eq - 1), eq + 1);
        snprintf(vb, sizeof vb, "%s", colon + 1);
    } else {
        /* only a binary treatment has an obvious pair of values */
        int binary = 0;
        for (int i = 0; i < prog->main.n; i++) {
            const IrInstr *in = &prog->main.code[i];
            if (in->op == IR_SAMPLE && in->var == t && in->dist->support == SUP_BINARY)
                binary = 1;
        }
        if (!binary) {
            snprintf(err, errlen,
                     "--effect %s: '%s' is not binary; give the two values to compare, e.g. --effect %s=1:0",
                     c->effect, name, name);
            return -1;
        }
    }
    int y = program_find_var(prog, c->effect_on);
    if (y < 0 || (prog->vars[y].role != VAR_SITE && prog->vars[y].role != VAR_DET)) {
        snprintf(err, errlen, "--on %s: no site or deterministic node named '%s'", c->effect_on,
                 c->effect_on);
        return -1;
    }
    for (int k = 0; k < c->ndos; k++)
        if (do_add(a, c->dos[k], err, errlen) != 0 || do_add(b, c->dos[k], err, errlen) != 0)
            return -1;
    char arg[512];
    snprintf(arg, sizeof arg, "%s=%s", name, va);
    if (do_add(a, arg, err, errlen) != 0)
        return -1;
    snprintf(arg, sizeof arg, "%s=%s", name, vb);
    if (do_add(b, arg, err, errlen) != 0)
        return -1;
    cq->effect_a = a;
    cq->effect_b = b;
    cq->effect_on = c->effect_on;
    static char label_a[400], label_b[400]; /* live as long as the run */
    snprintf(label_a, sizeof label_a, "%s=%s", name, va);
    snprintf(label_b, sizeof label_b, "%s=%s", name, vb);
    cq->label_a = label_a;
    cq->label_b = label_b;
    if (c->where) {
        if (where_parse(&cq->where, prog, c->where, err, errlen) != 0)
            return -1;
        cq->has_where = 1;
    }
    return 0;
}

/* --check runs the guide against the model when every data declaration
 * has a value (given, or none declared). */
static int check_guide_now(const Program *p, const DataSet *data)
{
    for (int v = 0; v < p->nvars; v++)
        if (p->vars[v].role == VAR_DATA && !data_find(data, p->vars[v].name))
            return 0;
    return 1;
}

static const char *model_name(const char *path)
{
    static char buf[256];
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(buf, sizeof buf, "%s", b);
    char *dot = strrchr(buf, '.');
    if (dot)
        *dot = 0;
    return buf;
}

int main(int argc, char **argv)
{
    Cli c;
    memset(&c, 0, sizeof c);
    gsl_set_error_handler_off(); /* numerical failures become NaN, not abort() */
    /* chains are our threads; OpenBLAS's own threads only contend with them
       (measured: 3x the CPU time on the logistic-regression bench) */
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
    if (parse_args(&c, argc, argv) != 0) {
        cli_free(&c);
        return 2;
    }
    if (c.jit >= 0)
        native_set_mode((JitMode)c.jit);
    if (!strcmp(c.action, "summary")) {
        int r = run_summary(&c);
        cli_free(&c);
        return r;
    }

    Source src;
    if (source_read(&src, c.model) != 0) {
        fprintf(stderr, "cmrun: cannot read '%s': %s\n", c.model, strerror(errno));
        cli_free(&c);
        return 2;
    }
    Source gsrc = {NULL, NULL, 0};
    if (c.guide_file && source_read(&gsrc, c.guide_file) != 0) {
        fprintf(stderr, "cmrun: cannot read --guide-file '%s': %s\n", c.guide_file, strerror(errno));
        source_free(&src);
        cli_free(&c);
        return 2;
    }
    Diag diag;
    diag_init(&diag, &src);
    CmGuide *guide = NULL;
    Program *prog = cm_compile_guided(&src, &diag, c.guide_file ? &gsrc : NULL, &guide);
    if (!prog) {
        source_free(&src);
        if (c.guide_file)
            source_free(&gsrc);
        cli_free(&c);
        return 2;
    }
    int rc = 0;
    if (guide && c.autoguide_flag && !strcmp(c.engine, "svi")) {
        fprintf(stderr, "cmrun: --guide %s picks an autoguide, but %s has a guide block; remove one "
                        "of them (the guide block is used when --guide is absent)\n",
                svi_guide_name(c.svi.guide), c.model);
        rc = 2;
        goto out;
    }
    /* foreign libraries and symbols are resolved at check time */
    for (int i = 0; i < prog->nexterns; i++) {
        char ferr[1024];
        if (ffi_resolve(&prog->externs[i], prog->path, ferr, sizeof ferr) != 0) {
            diag_error(&diag, prog->externs[i].line, prog->externs[i].col, "%s", ferr);
            rc = 2;
        }
    }
    for (int i = 0; guide && rc == 0 && i < guide->prog->nexterns; i++) {
        char ferr[1024];
        IrExtern *e = &guide->prog->externs[i];
        if (ffi_resolve(e, prog->path, ferr, sizeof ferr) != 0) {
            fprintf(stderr, "cmrun: guide: %s\n", ferr);
            rc = 2;
        }
    }
    if (rc)
        goto out;
    if (!strcmp(c.action, "emit-ir")) {
        ir_print(stdout, prog);
        if (guide) {
            printf("\n# the guide (%s)\n", guide->src->path);
            ir_print(stdout, guide->prog);
        }
        goto out;
    }
    DataSet data;
    data_init(&data);
    DoHandler dos;
    do_init(&dos);
    char err[2048];
    for (int i = 0; i < c.ndata; i++)
        if (data_load_file(&data, c.data_files[i], err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            rc = 2;
            goto out_data;
        }
    for (int i = 0; i < c.nsets; i++) {
        if (data_set_from_arg(&data, c.sets[i], "--set", err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            rc = 2;
            goto out_data;
        }
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(c.sets[i], "="), c.sets[i]);
        int v = program_find_var(prog, name);
        if (v < 0 || (!prog->vars[v].declared_data && prog->vars[v].role != VAR_SITE)) {
            fprintf(stderr, "cmrun: --set %s: '%s' is not data or a site of %s\n", c.sets[i], name,
                    c.model);
            rc = 2;
            goto out_data;
        }
    }
    for (int i = 0; i < c.ngivens; i++) {
        if (data_set_from_arg(&data, c.givens[i], "--given", err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            rc = 2;
            goto out_data;
        }
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(c.givens[i], "="), c.givens[i]);
        int v = program_find_var(prog, name);
        if (v < 0 || prog->vars[v].role != VAR_SITE) {
            fprintf(stderr, "cmrun: --given %s: '%s' is not a sampled site of %s\n", c.givens[i], name,
                    c.model);
            rc = 2;
            goto out_data;
        }
    }
    for (int i = 0; i < c.ndos; i++)
        if (do_add(&dos, c.dos[i], err, sizeof err) != 0) {
            fprintf(stderr, "cmrun: %s\n", err);
            rc = 2;
            goto out_data;
        }
    if (do_check(&dos, prog, err, sizeof err) != 0) {
        fprintf(stderr, "cmrun: %s\n", err);
        rc = 2;
        goto out_data;
    }
    if (!strcmp(c.action, "check")) {
        if (c.ndata || c.nsets || c.ngivens) {
            /* with data, run the model once to check shapes */
            InferOptions o = c.io;
            o.prog = prog;
            o.data = &data;
            o.dos = &dos;
            o.samples = 1;
            o.check_only = 1;
            o.model_name = model_name(c.model);
            FILE *devnull = fopen("/dev/null", "w");
            FILE *saved = stdout;
            stdout = devnull;
            rc = infer_prior(&o);
            stdout = saved;
            fclose(devnull);
        }
        if (guide && rc == 0 && check_guide_now(prog, &data)) {
            /* the guide against the model: shapes and supports need the data */
            SviUser *u = svi_user_new(prog, guide, &data, &dos, c.io.seed);
            rc = u ? 0 : 2;
            svi_user_free(u);
        }
        goto out_data;
    }
    if (!strcmp(c.action, "graph") || !strcmp(c.action, "dsep") || !strcmp(c.action, "identify") ||
        !strcmp(c.action, "adjustment-sets")) {
        Dag *d = model_dag(prog, &data, &dos);
        if (!strcmp(c.action, "graph")) {
            if (!strcmp(c.graph_format, "text"))
                dag_print_text(stdout, d);
            else
                dag_print_dot(stdout, d, model_name(c.model));
        } else {
            int r;
            if (!strcmp(c.action, "dsep"))
                r = causal_dsep_query(d, c.dsep, stdout, err, sizeof err);
            else if (!strcmp(c.action, "identify"))
                r = causal_identify_query(d, c.identify, stdout, err, sizeof err);
            else
                r = causal_adjustment_sets(d, c.adj_x, c.adj_y, stdout, err, sizeof err);
            if (r != 0) {
                fprintf(stderr, "cmrun: %s\n", err);
                rc = 2;
            }
        }
        dag_free(d);
        goto out_data;
    }
    InferOptions o = c.io;
    o.prog = prog;
    o.data = &data;
    o.dos = &dos;
    o.model_name = model_name(c.model);
    o.data_file = c.ndata ? c.data_files[0] : "";
    CausalQuery cq;
    memset(&cq, 0, sizeof cq);
    DoHandler dos_a, dos_b;
    do_init(&dos_a);
    do_init(&dos_b);
    /* --do on a site the data observe: infer from the data as observed, and
       report the world under the intervention per draw (name_do) */
    int do_on_evidence = 0;
    int posterior = strcmp(c.engine, "prior") != 0 && strcmp(c.engine, "enum") != 0;
    for (int i = 0; posterior && i < dos.n && !c.counterfactual && !c.effect; i++) {
        int v = program_find_var(prog, dos.e[i].name);
        if (data_find(&data, dos.e[i].name) && v >= 0 && prog->vars[v].role == VAR_SITE)
            do_on_evidence = 1;
    }
    if (do_on_evidence && c.predictive) {
        fprintf(stderr, "cmrun: --do on an observed site already reports its predictive world "
                        "(name_do); --predictive is a separate query\n");
        rc = 2;
        goto out_effect;
    } else if (c.predictive) {
        o.cq = &cq;
        cq.predictive = 1;
    } else if (do_on_evidence) {
        o.dos = NULL;
        o.cq = &cq;
        cq.interventional = 1;
        cq.world = &dos;
    } else if (c.counterfactual || c.effect) {
        /* the factual world is not intervened on: --do defines the other world(s) */
        o.dos = NULL;
        o.cq = &cq;
        if (c.counterfactual) {
            cq.counterfactual = 1;
            cq.world = &dos;
        } else if (setup_effect(&c, prog, &cq, &dos_a, &dos_b, err, sizeof err) != 0) {
            fprintf(stderr, "cmrun: %s\n", err);
            rc = 2;
            goto out_effect;
        }
    }
    o.progress = !c.quiet && isatty(2);
    const char **q = NULL;
    if (c.query) {
        o.nquery = split_query(c.query, &q);
        o.query = q;
    }
    if (o.threads < 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = ncpu > 0 ? (int)ncpu : 1;
    }
    infer_install_sigint();
    if (!strcmp(c.action, "check-grad")) {
        rc = infer_check_grad(&o);
    } else if (!strcmp(c.engine, "prior")) {
        o.samples = o.samples > 0 ? o.samples : 1000;
        rc = infer_prior(&o);
    } else if (!strcmp(c.engine, "svi")) {
        c.svi.samples = o.samples > 0 ? o.samples : 1000;
        rc = guide ? infer_svi_user(&o, &c.svi, guide) : infer_svi(&o, &c.svi);
    } else if (!strcmp(c.engine, "enum")) {
        rc = infer_enum(&o);
    } else if (o.cq && (!strcmp(c.engine, "is") || !strcmp(c.engine, "prior"))) {
        o.samples = o.samples > 0 ? o.samples : 10000;
        rc = infer_counterfactual(&o);
    } else if (!strcmp(c.engine, "is")) {
        o.samples = o.samples > 0 ? o.samples : 10000;
        rc = infer_is(&o);
    } else {
        o.cfg.samples = o.samples > 0 ? o.samples : 1000;
        o.samples = o.cfg.samples;
        rc = infer_nuts(&o);
    }
    for (int i = 0; i < o.nquery; i++)
        free((char *)q[i]);
    free(q);
out_effect:
    do_free(&dos_a);
    do_free(&dos_b);
out_data:
    do_free(&dos);
    data_free(&data);
out:
    cm_guide_free(guide);
    program_free(prog);
    source_free(&src);
    if (c.guide_file)
        source_free(&gsrc);
    cli_free(&c);
    return rc;
}
