/*
 * test_csv.c - draw storage, the CmdStan CSV writer and reader.
 *
 * Writes files into a fresh temporary folder and checks them line by line
 * against the CmdStan format (header settings, header row, adaptation and
 * timing blocks), reads them back (names and values round trip at the
 * documented precision), and checks the failure paths: a file that cannot
 * be created, a disk that fills up (simulated with RLIMIT_FSIZE in a child
 * process), an aborted run, and every malformed input the reader rejects.
 * When python3 is available, the shared checker compare_reference.py must
 * accept a file written here; otherwise that check is skipped, saying so.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "check.h"
#include "csv_in.h"
#include "csv_out.h"
#include "draws.h"

static char tmpdir[64];

/* A path in the test's folder; each call gets its own buffer (the test
 * makes fewer than 64 paths, so none is ever reused). */
static char *path_in_tmp(const char *name)
{
    static char buf[64][256];
    static int next;
    char *p = buf[next++ % 64];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The whole file, or a placeholder text when it cannot be read. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("(file missing)");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc(n + 1);
    size_t got = fread(s, 1, n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* ---- draws ---------------------------------------------------------------- */

typedef struct {
    Draws *d;
    int chain, rows, failures;
} Appender;

static void *append_rows(void *arg)
{
    Appender *a = arg;
    for (int i = 0; i < a->rows; i++) {
        double row[2] = { a->chain, i };
        a->failures += draws_append(a->d, a->chain, row) != 0;
    }
    return NULL;
}

static void test_draws(void)
{
    const char *names[] = { "chain", "i" };
    Draws *d = draws_new(3, 2, names);
    CHECK(d && d->ncols == 2 && strcmp(d->names[1], "i") == 0, "draws_new");
    /* Three threads, one per chain, with unequal lengths. */
    Appender a[3] = { { d, 0, 1000, 0 }, { d, 1, 1200, 0 }, { d, 2, 1100, 0 } };
    pthread_t th[3];
    for (int c = 0; c < 3; c++)
        pthread_create(&th[c], NULL, append_rows, &a[c]);
    for (int c = 0; c < 3; c++)
        pthread_join(th[c], NULL);
    CHECK(a[0].failures + a[1].failures + a[2].failures == 0, "appends failed");
    CHECK(draws_chain_length(d, 1) == 1200, "chain length");
    CHECK(draws_finish(d) == 300, "finish drops 200 + 100 rows to equalise");
    CHECK(d->ndraws == 1000 && d->nchains == 3, "ndraws %d", d->ndraws);
    int ok = 1;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 1000; i++)
            ok &= draws_at(d, c, i, 0) == c && draws_at(d, c, i, 1) == i;
    CHECK(ok, "rows in chain order after packing");
    double col[3000];
    draws_column(d, 1, col);
    CHECK(col[0] == 0 && col[999] == 999 && col[1000] == 0 && col[2999] == 999, "column");
    CHECK(draws_find(d, "i") == 1 && draws_find(d, "nope") == -1, "find");
    double row[2] = { 0, 0 };
    CHECK(draws_append(d, 0, row) == -1, "no appends after finish");
    CHECK(draws_append(NULL, 0, row) == -1, "NULL draws");
    draws_free(d);
    CHECK(draws_new(0, 2, names) == NULL && draws_new(2, 0, names) == NULL, "bad shapes");
}

/* ---- writer --------------------------------------------------------------- */

static void test_chain_path(void)
{
    struct { const char *out; int id, n; const char *want; } cases[] = {
        { "draws.csv", 2, 4, "draws_2.csv" },
        { "draws.csv", 1, 1, "draws.csv" },
        { "out/run.v2/draws.csv", 3, 4, "out/run.v2/draws_3.csv" },
        { "run.v2/draws", 1, 2, "run.v2/draws_1" },
        { "a.b.csv", 10, 12, "a.b_10.csv" },
        { ".hidden", 1, 2, ".hidden_1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = csv_out_chain_path(cases[i].out, cases[i].id, cases[i].n);
        CHECK(p && strcmp(p, cases[i].want) == 0, "chain path of %s: %s, want %s",
              cases[i].out, p ? p : "(null)", cases[i].want);
        free(p);
    }
}

static const char *const nuts_names[] = {
    "lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__",
    "energy__", "mu", "theta.1", "theta.2"
};
enum { NUTS_COLS = 10 };

static CsvOut *open_nuts(const char *path, int chain, char *err, size_t errlen)
{
    CsvHeader h;
    csv_header_init(&h);
    CsvNutsSettings s = { .model = "eight_schools", .num_samples = 3, .num_warmup = 1000,
                          .save_warmup = 0, .thin = 1, .adapt_engaged = 1, .delta = 0.8,
                          .max_depth = 10, .metric = "diag_e", .stepsize = 1, .seed = 1234,
                          .chain_id = chain, .num_chains = 2, .data_file = "eight.json",
                          .output_file = path };
    CHECK(csv_header_nuts(&h, &s) == 0, "csv_header_nuts");
    CsvOut *o = csv_out_open(path, &h, NUTS_COLS, nuts_names, err, errlen);
    csv_header_free(&h);
    return o;
}

static void test_write_and_read(void)
{
    const char *path = path_in_tmp("draws_1.csv");
    char err[512];
    CsvOut *o = open_nuts(path, 1, err, sizeof err);
    CHECK(o != NULL, "open: %s", err);
    if (!o)
        return;
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(exists(tmp) && !exists(path), "written to .tmp until closed");
    const double third = 1.0 / 3.0;
    double rows[3][NUTS_COLS] = {
        { -39.5123456789, 0.912345678, 0.803789, 3, 7, 0, 41.25, 4.39, third, -2e-7 },
        { -40.25, 1, 0.803789, 10, 1023, 1, 42.000000001, NAN, INFINITY, -INFINITY },
        { -0.0, 0.5, 0.803789, 4, 1048575, 0, 1e20, 123456789.5, 1e-300, 2.5 },
    };
    double inv[3] = { 1.02, 0.99, 1.5 };
    CHECK(csv_out_adaptation(o, 0.803789, inv, 3, 0) == 0, "adaptation");
    for (int i = 0; i < 3; i++)
        CHECK(csv_out_row(o, rows[i]) == 0, "row %d", i);
    CHECK(csv_out_rows(o) == 3, "rows counted");
    CHECK(csv_out_timing(o, 0.012, 0.015) == 0, "timing");
    CHECK(csv_out_error(o) == NULL, "no error");
    CHECK(csv_out_close(o, err, sizeof err) == 0, "close: %s", err);
    CHECK(exists(path) && !exists(tmp), "renamed into place");

    /* The text, line by line where CmdStan's readers look. */
    char *text = slurp(path);
    const char *want[] = {
        "# model = eight_schools\n", "# method = sample (Default)\n", "#   sample\n",
        "#     num_samples = 3\n", "#     num_warmup = 1000\n", "#     save_warmup = 0\n",
        "#     thin = 1\n", "#       engaged = 1\n", "#       delta = 0.8\n",
        "#     algorithm = hmc (Default)\n", "#         engine = nuts (Default)\n",
        "#             max_depth = 10\n", "#         metric = diag_e\n",
        "#         stepsize = 1\n", "# id = 1\n", "#   file = eight.json\n",
        "#   seed = 1234\n", "# cm version " CM_VERSION "\n",
        "\nlp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,"
        "mu,theta.1,theta.2\n# Adaptation terminated\n# Step size = 0.803789\n"
        "# Diagonal elements of inverse mass matrix:\n# 1.02, 0.99, 1.5\n",
        "\n-39.5123457,0.912346,0.803789,3,7,0,41.25,4.39,0.333333333,-2e-07\n",
        "\n-40.25,1,0.803789,10,1023,1,42,NaN,inf,-inf\n",
        "\n0,0.5,0.803789,4,1048575,0,1e+20,123456790,1e-300,2.5\n",
        "\n#\n#  Elapsed Time: 0.012 seconds (Warm-up)\n"
        "#                0.015 seconds (Sampling)\n"
        "#                0.027 seconds (Total)\n#\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(strstr(text, want[i]), "file lacks:\n%s\n--- file:\n%s", want[i], text);
    CHECK(text[strlen(text) - 1] == '\n' && strstr(text, "#\n#  Elapsed")
                      == text + strlen(text) - strlen(want[sizeof want / sizeof want[0] - 1]) + 1,
          "timing block ends the file");
    free(text);

    /* Round trip through the reader. */
    Draws *d = NULL;
    CsvInInfo info;
    const char *paths[1] = { path };
    CHECK(csv_in_read(paths, 1, &d, &info, err, sizeof err) == 0, "read: %s", err);
    if (!d)
        return;
    CHECK(d->ncols == NUTS_COLS && d->nchains == 1 && d->ndraws == 3, "shape %d x %d x %d",
          d->nchains, d->ndraws, d->ncols);
    for (int j = 0; j < d->ncols; j++)
        CHECK(strcmp(d->names[j], nuts_names[j]) == 0, "name %d: %s", j, d->names[j]);
    CHECK(strcmp(info.method, "sample") == 0 && strcmp(info.model, "eight_schools") == 0 &&
              info.max_depth == 10 && info.skipped_rows == 0 && info.dropped_rows == 0,
          "settings read back: method '%s' model '%s' depth %d", info.method, info.model,
          info.max_depth);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < NUTS_COLS; j++) {
            double want_v = rows[i][j], got = draws_at(d, 0, i, j);
            double rel = (j == 1 || j == 2) ? 5e-6 : 5e-9;   /* 6 or 9 significant digits */
            int same = (isnan(want_v) && isnan(got)) || got == want_v ||
                       fabs(got - want_v) <= rel * fabs(want_v);
            CHECK(same, "row %d col %s: wrote %.17g, read %.17g", i, nuts_names[j], want_v, got);
        }
    draws_free(d);
}

static void test_dense_and_comments(void)
{
    const char *path = path_in_tmp("dense.csv");
    char err[512];
    const char *names[] = { "lp__", "x" };
    CsvHeader h;
    csv_header_init(&h);
    csv_header_add(&h, 0, "model", "m");
    csv_header_add(&h, 0, "method", "prior");
    csv_header_add(&h, 1, NULL, "prior");
    csv_header_add(&h, 2, "num_samples", "%d", 2);
    csv_header_run(&h, 1, NULL, 7, path);
    CsvOut *o = csv_out_open(path, &h, 2, names, err, sizeof err);
    csv_header_free(&h);
    CHECK(o != NULL, "open: %s", err);
    if (!o)
        return;
    double m[4] = { 2, 0.5, 0.5, 1 };
    csv_out_adaptation(o, 0.25, m, 2, 1);
    csv_out_comment(o, "a note");
    csv_out_comment(o, NULL);
    csv_out_row(o, (double[]){ -1, 2 });
    CHECK(csv_out_close(o, NULL, 0) == 0, "close");
    char *text = slurp(path);
    CHECK(strstr(text, "# method = prior\n#   prior\n#     num_samples = 2\n# id = 1\n"
                               "# data\n#   file =\n# random\n#   seed = 7\n"),
          "generic header:\n%s", text);
    CHECK(strstr(text, "# Step size = 0.25\n# Elements of inverse mass matrix:\n"
                               "# 2, 0.5\n# 0.5, 1\n# a note\n#\n-1,2\n"),
          "dense metric and comments:\n%s", text);
    free(text);
}

static void test_write_failures(void)
{
    char err[512];
    /* A folder that does not exist: NULL, a message naming the file, no file. */
    const char *bad = path_in_tmp("no/such/dir/draws.csv");
    CsvOut *o = open_nuts(bad, 1, err, sizeof err);
    CHECK(o == NULL, "open in a missing folder fails");
    CHECK(strstr(err, bad) && strstr(err, "No such file or directory"), "message: %s", err);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", bad);
    CHECK(!exists(bad) && !exists(tmp), "no file left");
    CHECK(csv_out_open(path_in_tmp("x.csv"), NULL, 0, nuts_names, err, sizeof err) == NULL,
          "no columns");

    /* Abort: the temporary disappears and the final name is never made. */
    const char *path = path_in_tmp("aborted.csv");
    o = open_nuts(path, 1, err, sizeof err);
    csv_out_row(o, (double[NUTS_COLS]){ 0 });
    csv_out_abort(o);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!exists(path) && !exists(tmp), "abort leaves nothing");

    /* Disk full, simulated with a 4 KiB file size limit in a child. */
    path = path_in_tmp("full.csv");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = { 4096, 4096 };
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        CsvOut *f = open_nuts(path, 1, err, sizeof err);
        if (!f)
            _exit(10);
        int row_failed = 0;
        double row[NUTS_COLS] = { -39.5, 0.9, 0.8, 3, 7, 0, 41.25, 4.39, 1.0 / 3, 2.0 / 3 };
        for (int i = 0; i < 2000 && !row_failed; i++)
            row_failed = csv_out_row(f, row) < 0;
        int close_failed = csv_out_close(f, err, sizeof err) < 0;
        if (!close_failed)
            _exit(11);
        if (!strstr(err, path) || !strstr(err, "File too large"))
            _exit(12);
        _exit(row_failed ? 0 : 13);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "disk full: child exit %d (10 open failed, 11 close succeeded, 12 bad message, "
          "13 no row failed)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    CHECK(!exists(path) && !exists(tmp), "disk full leaves no file");
}

/* ---- reader --------------------------------------------------------------- */

static int read_paths(const char **paths, int n, Draws **d, CsvInInfo *info, char *err)
{
    return csv_in_read(paths, n, d, info, err, 512);
}

static void test_reader(void)
{
    char err[512];
    Draws *d = NULL;
    CsvInInfo info;

    /* A CmdStan file: its own header style, save_warmup rows before the
     * adaptation block, CRLF line ends, a row cut short at the end. */
    const char *cmdstan = path_in_tmp("cmdstan_1.csv");
    write_text(cmdstan,
               "# stan_version_major = 2\r\n# model = bernoulli_model\r\n"
               "# method = sample (Default)\r\n#   sample\r\n#     num_samples = 3 (Default)\r\n"
               "#     num_warmup = 2\r\n#     save_warmup = true\r\n"
               "#             max_depth = 12\r\n"
               "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,theta\r\n"
               "-9,0.5,1,1,1,0,9.5,0.1\r\n-8,0.6,1,1,1,0,8.5,0.2\r\n"
               "# Adaptation terminated\r\n# Step size = 0.9\r\n"
               "# Diagonal elements of inverse mass matrix:\r\n# 0.5\r\n"
               "-7.1,0.9,0.9,2,3,0,7.5,0.3\r\n-7.2,0.8,0.9,2,3,0,7.6,nan\r\n"
               "-7.3,0.7,0.9,2,3,0,7.7,inf\r\n-7.4,0.7,0.9,2,3,0,7.7");
    const char *second = path_in_tmp("cmdstan_2.csv");
    write_text(second,
               "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,theta\n"
               "\n-1,1,1,1,1,0,1,1\n-2,1,1,1,1,0,1,2\n-3,1,1,1,1,0,1,3\n-4,1,1,1,1,0,1,4\n");
    const char *two[2] = { cmdstan, second };
    CHECK(read_paths(two, 2, &d, &info, err) == 0, "read CmdStan files: %s", err);
    if (d) {
        CHECK(d->nchains == 2 && d->ndraws == 3 && d->ncols == 8, "shape %d x %d x %d",
              d->nchains, d->ndraws, d->ncols);
        CHECK(info.skipped_rows == 2 && info.dropped_rows == 1 && info.partial_lines == 1 &&
                  info.max_depth == 12 && strcmp(info.model, "bernoulli_model") == 0 &&
                  strcmp(info.method, "sample") == 0,
              "info: skipped %ld dropped %ld partial %d depth %d", info.skipped_rows,
              info.dropped_rows, info.partial_lines, info.max_depth);
        CHECK(draws_at(d, 0, 0, 0) == -7.1 && isnan(draws_at(d, 0, 1, 7)) &&
                  isinf(draws_at(d, 0, 2, 7)) && draws_at(d, 1, 2, 7) == 3,
              "values after warm-up");
        draws_free(d);
    }

    /* Variational output: the first row (the mean) is not a draw. */
    const char *vb = path_in_tmp("vb.csv");
    write_text(vb, "# method = variational\nlp__,log_p__,log_g__,mu\n0,0,0,1.5\n0,-1,-2,1\n"
                   "0,-1,-2,2\n");
    const char *one[1] = { vb };
    CHECK(read_paths(one, 1, &d, &info, err) == 0 && d->ndraws == 2 &&
              draws_at(d, 0, 0, 3) == 1 && info.skipped_rows == 1,
          "variational: %s", err);
    draws_free(d);

    /* Errors, each naming the file (and line and column where there is one). */
    struct { const char *name, *text, *want; } bad[] = {
        { "empty.csv", "# only comments\n", "no header row" },
        { "short.csv", "a,b,c\n1,2,3\n1,2\n4,5,6\n", "short.csv:3: expected 3 values (one per column), found 2" },
        { "long.csv", "a,b\n1,2,3\n", "long.csv:2: expected 2 values (one per column), found 3" },
        { "word.csv", "a,b\n1,2\n3,x7\n", "word.csv:3: column 2 (b): 'x7' is not a number" },
        { "blank.csv", "a,b\n1,,\n", "blank.csv:2: column 2 (b): '' is not a number" },
        { "nodraws.csv", "a,b\n", "nodraws.csv: no draws after the header" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = path_in_tmp(bad[i].name);
        write_text(p, bad[i].text);
        const char *ps[1] = { p };
        d = (Draws *)1;
        int rc = read_paths(ps, 1, &d, &info, err);
        CHECK(rc == -1 && d == NULL && strstr(err, bad[i].want) && strstr(err, p),
              "%s: rc %d, message '%s', want '%s'", bad[i].name, rc, err, bad[i].want);
    }
    const char *missing = path_in_tmp("missing.csv");
    const char *pm[1] = { missing };
    CHECK(read_paths(pm, 1, &d, &info, err) == -1 && strstr(err, missing) &&
              strstr(err, "cannot open"), "missing file: %s", err);

    /* Chains with different columns: the error names both files. */
    const char *other = path_in_tmp("other.csv");
    write_text(other, "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,"
                      "energy__,mu\n1,1,1,1,1,1,1,1\n");
    const char *mixed[2] = { second, other };
    CHECK(read_paths(mixed, 2, &d, &info, err) == -1 && strstr(err, other) &&
              strstr(err, second) && strstr(err, "column 8 is 'mu'") && strstr(err, "'theta'"),
          "different columns: %s", err);
    const char *fewer = path_in_tmp("fewer.csv");
    write_text(fewer, "lp__,theta\n1,1\n");
    const char *mixed2[2] = { second, fewer };
    CHECK(read_paths(mixed2, 2, &d, &info, err) == -1 && strstr(err, "has 2 columns") &&
              strstr(err, fewer), "different column count: %s", err);
}

/* ---- the shared checker reads our files ----------------------------------- */

static const char *find_checker(void)
{
    static const char *const candidates[] = {
        "/work/shared/tools/compare_reference.py",
        "../shared/tools/compare_reference.py",
        "../../shared/tools/compare_reference.py",
    };
    const char *env = getenv("CM_SHARED");
    static char buf[512];
    if (env) {
        snprintf(buf, sizeof buf, "%s/tools/compare_reference.py", env);
        if (exists(buf))
            return buf;
    }
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++)
        if (exists(candidates[i]))
            return candidates[i];
    return NULL;
}

static void test_compare_reference(void)
{
    const char *checker = find_checker();
    if (system("python3 -c 'import json' >/dev/null 2>&1") != 0 || !checker) {
        printf("skipped: compare_reference.py check (%s)\n",
               checker ? "no python3" : "compare_reference.py not found");
        return;
    }
    /* Two chains of N(0,1) draws for mu and N(3, 0.5) for theta[1]. */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 99);
    char err[512];
    const char *files[2];
    for (int c = 0; c < 2; c++) {
        char *p = csv_out_chain_path(path_in_tmp("ref.csv"), c + 1, 2);
        files[c] = p;                       /* freed below */
        CsvOut *o = open_nuts(files[c], c + 1, err, sizeof err);
        CHECK(o != NULL, "open %s: %s", files[c], err);
        if (!o)
            return;
        csv_out_adaptation(o, 0.8, (double[]){ 1, 1, 1 }, 3, 0);
        for (int i = 0; i < 1000; i++) {
            double row[NUTS_COLS] = { -1, 0.9, 0.8, 2, 3, 0, 1, gsl_ran_gaussian(rng, 1),
                                      3 + gsl_ran_gaussian(rng, 0.5), 0 };
            csv_out_row(o, row);
        }
        csv_out_timing(o, 0.1, 0.2);
        CHECK(csv_out_close(o, err, sizeof err) == 0, "close: %s", err);
    }
    gsl_rng_free(rng);
    const char *ref = path_in_tmp("reference.json");
    write_text(ref, "{\"n_draws\": 10000, \"params\": {"
                    "\"mu\": {\"mean\": 0, \"sd\": 1},"
                    "\"theta[1]\": {\"mean\": 3, \"sd\": 0.5}}}\n");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s' '%s' --quiet > '%s' 2>&1", checker, ref,
             files[0], files[1], path_in_tmp("checker.out"));
    int rc = system(cmd);
    char *out = slurp(path_in_tmp("checker.out"));
    CHECK(rc == 0 && strstr(out, "2 passed, 0 failed"),
          "compare_reference.py on our files: status %d, output:\n%s", rc, out);
    free(out);
    free((char *)files[0]);
    free((char *)files[1]);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cm_test_csv_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_draws();
    test_chain_path();
    test_write_and_read();
    test_dense_and_comments();
    test_write_failures();
    test_reader();
    test_compare_reference();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_done();
}
