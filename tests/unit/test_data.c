/*
 * test_data.c - the data readers: CmdStan JSON, CSV and command-line values.
 *
 * What is pinned down here: every posteriordb data.json loads with the right
 * types and shapes (skipped when ../shared/posteriordb is absent; set
 * CM_POSTERIORDB to point elsewhere); the fixtures in tests/data cover each
 * feature of both formats; every user mistake gives -1 and a message naming
 * the source, the line:col and the variable; a failed load leaves the set as
 * it was; CSV round-trips doubles bit for bit; and truncated or mutated
 * input never crashes (run this under -fsanitize=address,undefined).
 */
#include "check.h"
#include "data.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#ifndef UNDER_SANITIZER
#define UNDER_SANITIZER 0
#endif

static char fixtures[512];
static char scratch[512];
static char err[2048];
static char written[128][64]; /* names written to scratch, removed at the end */
static int n_written;

/* ------------------------------------------------------------ helpers */

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void find_fixtures(void)
{
    const char *here = __FILE__; /* tests/unit/test_data.c, relative to where it was compiled */
    const char *slash = strrchr(here, '/');
    snprintf(fixtures, sizeof fixtures, "tests/data");
    if (!is_dir(fixtures) && slash)
        snprintf(fixtures, sizeof fixtures, "%.*s/../data", (int)(slash - here), here);
}

static const char *fixture(const char *name)
{
    static char path[4][1024];
    static int turn;
    char *p = path[turn++ % 4];
    snprintf(p, 1024, "%s/%s", fixtures, name);
    return p;
}

/* Write text to a file named name in the scratch folder; returns its path. */
static const char *write_file(const char *name, const char *text)
{
    static char path[4][1024];
    static int turn;
    char *p = path[turn++ % 4];
    snprintf(p, 1024, "%s/%s", scratch, name);
    int seen = 0;
    for (int i = 0; i < n_written; i++) seen |= strcmp(written[i], name) == 0;
    if (!seen && n_written < 128) snprintf(written[n_written++], sizeof written[0], "%s", name);
    FILE *f = fopen(p, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    return p;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

/* Loading text as file `name` must fail with every word in the NULL-terminated list in the message. */
static void expect_file_error(const char *name, const char *text, const char **words)
{
    DataSet d;
    data_init(&d);
    CHECK(data_set_from_arg(&d, "keep=1", "--set", err, sizeof err) == 0, "setup: %s", err);
    err[0] = '\0';
    int rc = data_load_file(&d, write_file(name, text), err, sizeof err);
    CHECK(rc == -1, "%s should fail: %s", name, text);
    for (const char **w = words; *w; w++)
        CHECK(contains(err, *w), "%s: message lacks \"%s\":\n%s", name, *w, err);
    CHECK(d.n == 1 && data_find(&d, "keep"), "%s: a failed load changed the set", name);
    data_free(&d);
}

#define FILE_ERROR(name, text, ...) expect_file_error(name, text, (const char *[]){__VA_ARGS__, NULL})

static void expect_arg_error(const char *arg, const char *origin, const char **words)
{
    DataSet d;
    data_init(&d);
    err[0] = '\0';
    CHECK(data_set_from_arg(&d, arg, origin, err, sizeof err) == -1, "%s %s should fail", origin, arg);
    for (const char **w = words; *w; w++)
        CHECK(contains(err, *w), "%s %s: message lacks \"%s\":\n%s", origin, arg, *w, err);
    CHECK(d.n == 0, "a failed argument added a variable");
    data_free(&d);
}

#define ARG_ERROR(arg, origin, ...) expect_arg_error(arg, origin, (const char *[]){__VA_ARGS__, NULL})

static void check_shape(const DataSet *d, const char *name, const char *described)
{
    const DataVar *v = data_find(d, name);
    char buf[64] = "(missing)";
    if (v) data_describe(v, buf, sizeof buf);
    CHECK(v && strcmp(buf, described) == 0, "%s is %s, expected %s", name, buf, described);
}

/* Timing limits hold for the optimised build only: sanitizers and valgrind slow everything. */
static int timing_applies(void)
{
    const char *preload = getenv("LD_PRELOAD");
    return !UNDER_SANITIZER && !(preload && strstr(preload, "vgpreload"));
}

static double elapsed_ms(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

/* ----------------------------------------------------------- posteriordb */

static const char *posteriordb_dir(void)
{
    const char *env = getenv("CM_POSTERIORDB");
    if (env && is_dir(env)) return env;
    if (is_dir("../shared/posteriordb")) return "../shared/posteriordb";
    if (is_dir("/work/shared/posteriordb")) return "/work/shared/posteriordb";
    return NULL;
}

static void test_posteriordb(void)
{
    const char *dir = posteriordb_dir();
    if (!dir) return; /* CI and developers have it; elsewhere skip silently */
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *ent;
    int loaded = 0;
    while ((ent = readdir(dp))) {
        if (ent->d_name[0] == '.') continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s/data.json", dir, ent->d_name);
        if (access(path, R_OK) != 0) continue;
        DataSet d;
        data_init(&d);
        int rc = data_load_file(&d, path, err, sizeof err);
        CHECK(rc == 0, "%s: %s", path, err);
        CHECK(rc != 0 || d.n > 0, "%s loaded no variables", path);
        for (int i = 0; i < d.n; i++) {
            const DataVar *v = &d.vars[i];
            size_t n = 1;
            for (int k = 0; k < v->rank; k++) n *= (size_t)v->dims[k];
            CHECK(v->n == n && strcmp(v->origin, path) == 0, "%s: %s has inconsistent shape", path, v->name);
        }
        loaded++;
        data_free(&d);
    }
    closedir(dp);
    CHECK(loaded >= 1, "no data.json found under %s", dir);

    DataSet d;
    data_init(&d);
    char path[1024];
    snprintf(path, sizeof path, "%s/eight_schools-eight_schools_noncentered/data.json", dir);
    if (access(path, R_OK) == 0) {
        CHECK(data_load_file(&d, path, err, sizeof err) == 0, "%s", err);
        check_shape(&d, "J", "int");
        const DataVar *J = data_find(&d, "J");
        CHECK(J && J->rank == 0 && J->n == 1 && J->x[0] == 8, "J = 8");
        /* y is written 28, 8, -3, ... : all integers, so by the int/real rule it is int[8]; a model
           declaring real[J] must accept int data, as Stan does */
        check_shape(&d, "y", "int[8]");
        check_shape(&d, "sigma", "int[8]");
        const DataVar *y = data_find(&d, "y");
        CHECK(y && y->x[0] == 28 && y->x[2] == -3 && y->x[7] == 12, "eight schools y values");
        data_free(&d);
    }
    snprintf(path, sizeof path, "%s/diamonds-diamonds/data.json", dir);
    if (access(path, R_OK) == 0) {
        double best = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            struct timespec t0, t1;
            data_free(&d);
            clock_gettime(CLOCK_MONOTONIC, &t0);
            int rc = data_load_file(&d, path, err, sizeof err);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            CHECK(rc == 0, "%s", err);
            if (elapsed_ms(t0, t1) < best) best = elapsed_ms(t0, t1);
        }
        if (timing_applies()) CHECK(best < 100, "diamonds took %.1f ms to load (limit 100)", best);
        check_shape(&d, "X", "real[5000, 25]");
        check_shape(&d, "Y", "real[5000]");
        check_shape(&d, "N", "int");
        check_shape(&d, "K", "int");
        const DataVar *X = data_find(&d, "X"), *N = data_find(&d, "N");
        CHECK(N && N->x[0] == 5000, "N = 5000");
        CHECK(X && X->x[0] == 1.0, "X[1,1] = 1");
        CHECK(X && X->x[1 * 25 + 3] == 1.80828877117927, "X[2,4] row-major");
        CHECK(X && X->x[4999 * 25 + 24] == 1.92537182996336, "X[5000,25]");
        data_free(&d);
    }
    snprintf(path, sizeof path, "%s/mcycle_gp-accel_gp/data.json", dir);
    if (access(path, R_OK) == 0) {
        CHECK(data_load_file(&d, path, err, sizeof err) == 0, "%s", err);
        check_shape(&d, "X", "int[133, 1]");
        check_shape(&d, "Xgp_1", "real[133, 40]");
        check_shape(&d, "Y", "real[133]");
        data_free(&d);
    }
}

/* ------------------------------------------------------------- JSON */

static void test_json_fixture(void)
{
    DataSet d;
    data_init(&d);
    int rc = data_load_file(&d, fixture("valid.json"), err, sizeof err);
    CHECK(rc == 0, "valid.json: %s", err);
    if (rc) return;
    CHECK(d.n == 16, "valid.json has 16 variables, got %d", d.n);
    check_shape(&d, "N", "int");
    check_shape(&d, "sigma", "real");
    check_shape(&d, "flag", "int");
    check_shape(&d, "off", "int");
    check_shape(&d, "y", "int[3]");
    check_shape(&d, "mu", "real[3]");
    check_shape(&d, "X", "int[2, 3]");
    check_shape(&d, "A", "int[2, 3, 2]");
    check_shape(&d, "empty", "int[0]");
    check_shape(&d, "no_rows", "int[2, 0]");
    check_shape(&d, "special", "real[8]");
    check_shape(&d, "big", "real");  /* 2^53: past the exact-integer range */
    check_shape(&d, "safe", "int");  /* -(2^53 - 1) */
    check_shape(&d, "neg_zero", "int");
    check_shape(&d, "tiny", "real");
    check_shape(&d, "w\xc3\xa9ird \"key\"", "int");

    const DataVar *v;
    CHECK((v = data_find(&d, "sigma")) && v->x[0] == 2.5, "sigma");
    CHECK((v = data_find(&d, "flag")) && v->x[0] == 1, "true is 1");
    CHECK((v = data_find(&d, "off")) && v->x[0] == 0, "false is 0");
    CHECK((v = data_find(&d, "y")) && v->x[0] == 1 && v->x[1] == -2 && v->x[2] == 3, "y");
    CHECK((v = data_find(&d, "mu")) && v->x[1] == -1e-3 && v->x[2] == 200, "mu exponents");
    CHECK((v = data_find(&d, "X")) && v->x[1 * 3 + 2] == 6 && v->x[0 * 3 + 1] == 2, "X row-major");
    CHECK((v = data_find(&d, "A")) && v->x[(1 * 3 + 2) * 2 + 1] == 12 && v->x[(0 * 3 + 1) * 2 + 0] == 3,
          "A row-major");
    CHECK((v = data_find(&d, "empty")) && v->n == 0 && v->rank == 1 && v->x, "empty vector");
    CHECK((v = data_find(&d, "no_rows")) && v->n == 0 && v->rank == 2, "no_rows");
    if ((v = data_find(&d, "special"))) {
        CHECK(isnan(v->x[0]), "NaN");
        CHECK(v->x[1] == INFINITY && v->x[3] == INFINITY && v->x[4] == INFINITY && v->x[6] == INFINITY, "+Inf");
        CHECK(v->x[2] == -INFINITY && v->x[5] == -INFINITY, "-Inf");
        CHECK(v->x[7] == 1, "special[8]");
    }
    CHECK((v = data_find(&d, "big")) && v->x[0] == 9007199254740992.0, "big");
    CHECK((v = data_find(&d, "safe")) && v->x[0] == -9007199254740991.0, "safe");
    CHECK((v = data_find(&d, "neg_zero")) && v->x[0] == 0 && !signbit(v->x[0]), "-0 is the int 0");
    CHECK((v = data_find(&d, "tiny")) && v->x[0] > 0 && v->x[0] < 1e-323, "denormal");
    CHECK((v = data_find(&d, "N")) && strcmp(v->origin, fixture("valid.json")) == 0, "origin is the path");
    data_free(&d);
}

static void test_json_errors(void)
{
    FILE_ERROR("empty.json", "", "empty.json:1:1:", "empty file");
    FILE_ERROR("blank.json", "  \n\n ", "blank.json:1:1:", "empty file");
    FILE_ERROR("double_comma.json", "{\n  \"y\": [1, 2,, 3]\n}\n", "double_comma.json:2:14:", "'y'",
               "expected a value");
    FILE_ERROR("trail_arr.json", "{\n  \"y\": [1, 2, 3,]\n}\n", "trail_arr.json:2:16:", "'y'", "trailing comma");
    FILE_ERROR("trail_obj.json", "{\n  \"y\": 1,\n}\n", "trail_obj.json:2:9:", "trailing comma");
    FILE_ERROR("ragged.json", "{\n  \"X\": [[1, 2, 3],\n        [4, 5]]\n}\n", "ragged.json:3:9:", "'X'", "row 2",
               "ragged");
    FILE_ERROR("ragged3.json", "{\"A\": [[[1,2],[3,4]],[[5,6],[7]]]}", "ragged3.json:1:29:", "'A'", "A[2][2]",
               "ragged");
    FILE_ERROR("ragged3b.json", "{\"A\": [[[1,2],[3,4]],[[5,6]]]}", "ragged3b.json:1:22:", "A[2]", "ragged");
    FILE_ERROR("unterm_arr.json", "{\n  \"y\": [1, 2, 3\n", "unterm_arr.json:3:1:", "'y'", "unterminated array",
               "line 2, column 8");
    FILE_ERROR("unterm_obj.json", "{\n  \"y\": 1\n", "unterm_obj.json:3:1:", "unterminated object");
    FILE_ERROR("unterm_str.json", "{\n  \"y\": \"NaN\n}", "unterm_str.json:2:12:", "'y'", "unterminated string");
    FILE_ERROR("unterm_key.json", "{\"y", "unterm_key.json:1:4:", "unterminated string");
    FILE_ERROR("lead_zero.json", "{\n  \"y\": 01\n}\n", "lead_zero.json:2:8:", "'y'", "leading zeros");
    FILE_ERROR("lead_zero2.json", "{\"y\": [1, -007]}", "lead_zero2.json:1:12:", "leading zeros");
    FILE_ERROR("garbage_num.json", "{\n  \"y\": 1.5x\n}\n", "garbage_num.json:2:11:", "'y'", "1.5x");
    FILE_ERROR("garbage_end.json", "{\"y\": 1}\n}", "garbage_end.json:2:1:", "after the closing");
    FILE_ERROR("garbage_end2.json", "{\"y\": 1} x", "garbage_end2.json:1:10:", "'x'");
    FILE_ERROR("dup.json", "{\n  \"y\": 1,\n  \"z\": 2,\n  \"y\": 3\n}\n", "dup.json:4:3:", "'y'", "twice",
               "line 2, column 3");
    FILE_ERROR("object.json", "{\n  \"cfg\": {\"a\": 1}\n}\n", "object.json:2:10:", "'cfg'", "nested object");
    FILE_ERROR("object_in_arr.json", "{\"y\": [1, {}]}", "object_in_arr.json:1:11:", "'y'", "nested object");
    FILE_ERROR("null.json", "{\n  \"y\": null\n}\n", "null.json:2:8:", "'y'", "null");
    FILE_ERROR("null_in_arr.json", "{\"y\": [1, null]}", "null_in_arr.json:1:11:", "'y'", "null");
    FILE_ERROR("string.json", "{\n  \"y\": \"abc\"\n}\n", "string.json:2:8:", "'y'", "\"abc\"", "not a number");
    FILE_ERROR("string_in_arr.json", "{\"y\": [1, \"2\"]}", "string_in_arr.json:1:11:", "'y'", "not a number");
    FILE_ERROR("not_object.json", "[1, 2]", "not_object.json:1:1:", "expected '{'");
    FILE_ERROR("bare_key.json", "{y: 1}", "bare_key.json:1:2:", "double quotes");
    FILE_ERROR("no_colon.json", "{\"y\" 1}", "no_colon.json:1:6:", "':'");
    FILE_ERROR("no_comma.json", "{\"y\": 1 \"z\": 2}", "no_comma.json:1:9:", "after the value of 'y'");
    FILE_ERROR("arr_no_comma.json", "{\"y\": [1 2]}", "arr_no_comma.json:1:10:", "'y'", "expected ',' or ']'");
    FILE_ERROR("mixed1.json", "{\"y\": [1, [2]]}", "mixed1.json:1:11:", "'y'", "mixes numbers and arrays");
    FILE_ERROR("mixed2.json", "{\"y\": [[1], 2]}", "mixed2.json:1:13:", "'y'", "mixes numbers and arrays");
    FILE_ERROR("mixed3.json", "{\"y\": [[], 2]}", "mixed3.json:1:12:", "'y'", "mixes numbers and arrays");
    FILE_ERROR("deep.json", "{\"y\": [[[[1]]]]}", "deep.json:1:10:", "'y'", "more than 3 deep");
    FILE_ERROR("huge.json", "{\"y\": 1e999}", "huge.json:1:7:", "'y'", "too large");
    FILE_ERROR("bare_inf.json", "{\"y\": -Infinity}", "bare_inf.json:1:7:", "'y'", "\"-Infinity\"");
    FILE_ERROR("bare_nan.json", "{\"y\": NaN}", "bare_nan.json:1:7:", "'y'", "\"NaN\"");
    FILE_ERROR("tru.json", "{\"y\": tru}", "tru.json:1:7:", "'y'", "'tru'");
    FILE_ERROR("minus.json", "{\"y\": -}", "minus.json:1:8:", "'y'", "digit");
    FILE_ERROR("dot.json", "{\"y\": 1.}", "dot.json:1:9:", "'y'", "decimal point");
    FILE_ERROR("lead_dot.json", "{\"y\": .5}", "lead_dot.json:1:7:", "'y'");
    FILE_ERROR("plus.json", "{\"y\": +1}", "plus.json:1:7:", "'y'");
    FILE_ERROR("exp.json", "{\"y\": 1e+}", "exp.json:1:10:", "'y'", "exponent");
    FILE_ERROR("hex.json", "{\"y\": 0x10}", "hex.json:1:8:", "'y'");
    FILE_ERROR("empty_key.json", "{\"\": 1}", "empty_key.json:1:2:", "empty variable name");
    FILE_ERROR("bad_escape.json", "{\"a\\q\": 1}", "bad_escape.json:1:4:", "escape");
    FILE_ERROR("bad_u.json", "{\"a\\u12\": 1}", "bad_u.json:1:4:", "\\u");
    FILE_ERROR("ctrl.json", "{\"a\tb\": 1}", "ctrl.json:1:4:", "control character");
    FILE_ERROR("nul.json", "{\"y\": [1, \001]}", "nul.json:1:11:", "'y'", "0x01");
    FILE_ERROR("empty_val.json", "{\"y\": }", "empty_val.json:1:7:", "'y'", "expected a number");
    FILE_ERROR("eof_val.json", "{\"y\":", "eof_val.json:1:6:", "'y'", "end of file");
    FILE_ERROR("later.json", "{\n\"a\": 1,\n\"b\": [1,\n2,\n3],\n\"c\": [4, 5, oops]\n}", "later.json:6:13:", "'c'",
               "'oops'");
    /* the excerpt shows the line and a caret under the spot */
    FILE_ERROR("caret.json", "{\"y\": [1, 2,, 3]}", "caret.json:1:13:", "\n  {\"y\": [1, 2,, 3]}\n              ^");
}

static void test_json_long_line_excerpt(void)
{
    /* a minified file: the excerpt is a window around the error, not the whole line */
    size_t cap = 200000, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text + n, cap - n, "{\"y\": [");
    for (int i = 0; i < 10000; i++) n += (size_t)snprintf(text + n, cap - n, "%s%d", i ? "," : "", i);
    n += (size_t)snprintf(text + n, cap - n, ",x]}");
    DataSet d;
    data_init(&d);
    CHECK(data_load_file(&d, write_file("long.json", text), err, sizeof err) == -1, "long line error");
    CHECK(contains(err, "long.json:1:") && contains(err, "\n  ...") && contains(err, "9998,9999,x]}") &&
              strlen(err) < 400,
          "windowed excerpt:\n%s", err);
    data_free(&d);
    free(text);
}

/* -------------------------------------------------------------- CSV */

static void test_csv_fixtures(void)
{
    DataSet d;
    data_init(&d);
    CHECK(data_load_file(&d, fixture("valid.csv"), err, sizeof err) == 0, "valid.csv: %s", err);
    check_shape(&d, "y", "int[3]");
    check_shape(&d, "x", "real[3]");
    check_shape(&d, "count", "int[3]");
    const DataVar *v;
    CHECK((v = data_find(&d, "x")) && v->x[0] == 0.5 && v->x[1] == 1000 && v->x[2] == -7.25, "x column");
    CHECK((v = data_find(&d, "y")) && v->x[1] == -2, "y column");
    CHECK(d.n == 3 && data_find(&d, "N") == NULL, "no automatic N");
    data_free(&d);

    CHECK(data_load_file(&d, fixture("crlf.csv"), err, sizeof err) == 0, "crlf.csv: %s", err);
    check_shape(&d, "y", "int[2]");
    check_shape(&d, "x", "real[2]");
    CHECK((v = data_find(&d, "x")) && v->x[1] == 4, "CRLF cell");
    data_free(&d);

    CHECK(data_load_file(&d, fixture("comments.csv"), err, sizeof err) == 0, "comments.csv: %s", err);
    check_shape(&d, "y", "int[2]");
    check_shape(&d, "x", "real[2]");
    CHECK((v = data_find(&d, "x")) && v->x[1] == -INFINITY, "-Inf cell");
    data_free(&d);

    /* the format is sniffed when the extension says nothing */
    CHECK(data_load_file(&d, fixture("sniffed_json.dat"), err, sizeof err) == 0, "sniffed_json.dat: %s", err);
    check_shape(&d, "a", "int[2]");
    check_shape(&d, "b", "real");
    data_free(&d);
    CHECK(data_load_file(&d, fixture("sniffed_csv.txt"), err, sizeof err) == 0, "sniffed_csv.txt: %s", err);
    check_shape(&d, "a", "int[2]");
    check_shape(&d, "b", "real[2]");
    data_free(&d);

    /* no trailing newline, header only, quotes, a UTF-8 BOM */
    CHECK(data_load_file(&d, write_file("nonl.csv", "a,b\n1,2"), err, sizeof err) == 0, "%s", err);
    check_shape(&d, "b", "int[1]");
    data_free(&d);
    CHECK(data_load_file(&d, write_file("header_only.csv", "a,b\n"), err, sizeof err) == 0, "%s", err);
    check_shape(&d, "a", "int[0]");
    data_free(&d);
    CHECK(data_load_file(&d, write_file("quotes.csv", "\"a \"\"q\"\"\",\"b\"\n\"1\",2\n"), err, sizeof err) == 0,
          "%s", err);
    check_shape(&d, "a \"q\"", "int[1]");
    data_free(&d);
    CHECK(data_load_file(&d, write_file("bom.csv", "\xEF\xBB\xBFy\n2.5\n"), err, sizeof err) == 0, "%s", err);
    check_shape(&d, "y", "real[1]");
    data_free(&d);
    CHECK(data_load_file(&d, write_file("bom.json", "\xEF\xBB\xBF{\"y\": 1}"), err, sizeof err) == 0, "%s", err);
    check_shape(&d, "y", "int");
    data_free(&d);
}

static void test_csv_errors(void)
{
    FILE_ERROR("empty.csv", "", "empty.csv:1:1:", "empty file");
    FILE_ERROR("short.csv", "y,x\n1,2.5\n3\n", "short.csv:3:2:", "line 3", "column 'x'", "1 cell");
    FILE_ERROR("long.csv", "y,x\n1,2.5\n3,4,5\n", "long.csv:3:5:", "line 3", "more than 2 cells");
    FILE_ERROR("empty_cell.csv", "y,x\n1,\n", "empty_cell.csv:2:3:", "line 2", "column 'x'", "empty cell");
    FILE_ERROR("empty_cell2.csv", "y,x\n,1\n", "empty_cell2.csv:2:1:", "line 2", "column 'y'", "empty cell");
    FILE_ERROR("word.csv", "y,x\n1,abc\n", "word.csv:2:3:", "line 2", "column 'x'", "'abc' is not a number");
    FILE_ERROR("na.csv", "y,x\n1,2\n3,NA\n", "na.csv:3:3:", "line 3", "column 'x'", "'NA'");
    FILE_ERROR("semi.csv", "y;x\n1;2\n", "semi.csv:2:1:", "line 2", "','");
    FILE_ERROR("rownames.csv", "\"\",\"y\"\n\"1\",2\n", "rownames.csv:1:1:", "empty name", "row.names");
    FILE_ERROR("dup.csv", "y,x,y\n1,2,3\n", "dup.csv:1:5:", "'y'", "twice");
    FILE_ERROR("blank_mid.csv", "y,x\n1,2\n\n3,4\n", "blank_mid.csv:3:1:", "line 3", "empty");
    FILE_ERROR("unterm_quote.csv", "\"y,x\n1,2\n", "unterm_quote.csv:1:1:", "unterminated quoted field");
    FILE_ERROR("after_quote.csv", "\"y\"z,x\n1,2\n", "after_quote.csv:1:4:", "quoted field");
    FILE_ERROR("huge.csv", "y\n1e400\n", "huge.csv:2:1:", "column 'y'", "'1e400'");
    FILE_ERROR("crlf_bad.csv", "y,x\r\n1,2\r\n3,q\r\n", "crlf_bad.csv:3:3:", "line 3", "column 'x'", "'q'");
}

/* Doubles written with %.17g come back bit for bit; integer columns stay int. */
static void test_csv_round_trip(void)
{
    enum { ROWS = 500 };
    uint64_t state = 12345;
    double a[ROWS], b[ROWS];
    int k[ROWS];
    size_t cap = ROWS * 80 + 64, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text + n, cap - n, "a,k,b\n");
    for (int i = 0; i < ROWS; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t bits = state >> 11;
        a[i] = ((double)bits / 9007199254740992.0 - 0.5) * pow(10.0, (double)(i % 40) - 20);
        b[i] = (double)(int64_t)(state >> 20) * 1e-3;
        k[i] = (int)(state >> 40) - (1 << 23);
        n += (size_t)snprintf(text + n, cap - n, "%.17g,%d,%.17g\n", a[i], k[i], b[i]);
    }
    DataSet d;
    data_init(&d);
    CHECK(data_load_file(&d, write_file("round.csv", text), err, sizeof err) == 0, "round.csv: %s", err);
    const DataVar *va = data_find(&d, "a"), *vk = data_find(&d, "k"), *vb = data_find(&d, "b");
    CHECK(va && vk && vb, "round trip columns");
    if (va && vk && vb) {
        int same = 1;
        for (int i = 0; i < ROWS; i++) same &= va->x[i] == a[i] && vk->x[i] == k[i] && vb->x[i] == b[i];
        CHECK(same, "round-tripped values differ");
        CHECK(vk->type == DATA_INT && va->type == DATA_REAL, "column types");
        CHECK(va->n == ROWS && va->rank == 1 && va->dims[0] == ROWS, "column shape");
    }

    /* the same data through JSON gives the same variables */
    n = 0;
    n += (size_t)snprintf(text + n, cap - n, "{\"a\": [");
    for (int i = 0; i < ROWS; i++) n += (size_t)snprintf(text + n, cap - n, "%s%.17g", i ? ", " : "", a[i]);
    n += (size_t)snprintf(text + n, cap - n, "]}");
    DataSet j;
    data_init(&j);
    CHECK(data_load_file(&j, write_file("round.json", text), err, sizeof err) == 0, "round.json: %s", err);
    const DataVar *ja = data_find(&j, "a");
    CHECK(ja && va && ja->n == va->n && memcmp(ja->x, va->x, va->n * sizeof(double)) == 0, "JSON = CSV");
    data_free(&j);
    data_free(&d);
    free(text);
}

/* A big CSV reads in one linear pass (line numbers are counted, never rescanned). */
static void test_csv_speed(void)
{
    enum { ROWS = 25000, COLS = 5 };
    size_t cap = (size_t)ROWS * COLS * 24 + 64, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text + n, cap - n, "a,b,c,d,e\n");
    for (int i = 0; i < ROWS; i++)
        n += (size_t)snprintf(text + n, cap - n, "%d,%.6f,%d,%.3e,%d\n", i, i * 0.25, -i, i * 1e-3, i % 7);
    const char *path = write_file("speed.csv", text);
    free(text);
    DataSet d;
    data_init(&d);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = data_load_file(&d, path, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(rc == 0, "speed.csv: %s", err);
    check_shape(&d, "a", "int[25000]");
    check_shape(&d, "d", "real[25000]");
    const DataVar *v = data_find(&d, "c");
    CHECK(v && v->x[ROWS - 1] == -(ROWS - 1), "last row");
    if (timing_applies()) CHECK(elapsed_ms(t0, t1) < 200, "125000 CSV cells took %.1f ms", elapsed_ms(t0, t1));
    data_free(&d);
}

/* ---------------------------------------------------- command line */

static void test_args(void)
{
    DataSet d;
    data_init(&d);
    const DataVar *v;
    CHECK(data_set_from_arg(&d, "x=1", "--set", err, sizeof err) == 0, "x=1: %s", err);
    check_shape(&d, "x", "int");
    CHECK((v = data_find(&d, "x")) && v->x[0] == 1 && strcmp(v->origin, "--set") == 0, "x=1 value/origin");
    CHECK(data_set_from_arg(&d, "t=[1,2]", "--do", err, sizeof err) == 0, "t: %s", err);
    check_shape(&d, "t", "int[2]");
    CHECK(data_set_from_arg(&d, "m=[[1,2],[3,4]]", "--given", err, sizeof err) == 0, "m: %s", err);
    check_shape(&d, "m", "int[2, 2]");
    CHECK((v = data_find(&d, "m")) && v->x[2] == 3 && strcmp(v->origin, "--given") == 0, "m row-major");
    CHECK(data_set_from_arg(&d, "flag=true", "--set", err, sizeof err) == 0, "flag: %s", err);
    CHECK((v = data_find(&d, "flag")) && v->type == DATA_INT && v->x[0] == 1, "flag=true is int 1");
    CHECK(data_set_from_arg(&d, "off=false", "--set", err, sizeof err) == 0, "off: %s", err);
    CHECK((v = data_find(&d, "off")) && v->x[0] == 0, "off=false");
    CHECK(data_set_from_arg(&d, "r=-2.5e-3", "--set", err, sizeof err) == 0, "r: %s", err);
    CHECK((v = data_find(&d, "r")) && v->type == DATA_REAL && v->x[0] == -2.5e-3, "r real");
    CHECK(data_set_from_arg(&d, " s = 0.5 ", "--set", err, sizeof err) == 0, "spaces: %s", err);
    CHECK((v = data_find(&d, "s")) && v->x[0] == 0.5, "spaces around name and value");
    /* the command line also takes +1, .5, bare NaN/Inf */
    CHECK(data_set_from_arg(&d, "p=+3", "--set", err, sizeof err) == 0, "p: %s", err);
    CHECK((v = data_find(&d, "p")) && v->type == DATA_INT && v->x[0] == 3, "+3");
    CHECK(data_set_from_arg(&d, "h=.5", "--set", err, sizeof err) == 0, "h: %s", err);
    CHECK((v = data_find(&d, "h")) && v->x[0] == 0.5, ".5");
    CHECK(data_set_from_arg(&d, "u=[-inf, NaN, \"Inf\"]", "--set", err, sizeof err) == 0, "u: %s", err);
    CHECK((v = data_find(&d, "u")) && v->x[0] == -INFINITY && isnan(v->x[1]) && v->x[2] == INFINITY,
          "non-finite values");
    CHECK(data_set_from_arg(&d, "e=[]", "--set", err, sizeof err) == 0, "e: %s", err);
    check_shape(&d, "e", "int[0]");
    CHECK(data_set_from_arg(&d, "c=[[[1],[2]]]", "--set", err, sizeof err) == 0, "c: %s", err);
    check_shape(&d, "c", "int[1, 2, 1]");
    /* a later source replaces the value and its origin */
    CHECK(data_set_from_arg(&d, "x=2.5", "--do", err, sizeof err) == 0, "x again: %s", err);
    CHECK((v = data_find(&d, "x")) && v->x[0] == 2.5 && v->type == DATA_REAL && strcmp(v->origin, "--do") == 0,
          "x replaced");
    int n = d.n;
    CHECK(data_set_from_arg(&d, "x=[1,", "--do", err, sizeof err) == -1 && d.n == n, "failed arg keeps set");
    CHECK((v = data_find(&d, "x")) && v->x[0] == 2.5, "failed arg keeps old value");
    data_free(&d);

    ARG_ERROR("x", "--set", "--set", "expected name=value");
    ARG_ERROR("=3", "--given", "--given", "expected a variable name");
    ARG_ERROR("x=", "--do", "--do", "expected a value", "number", "array");
    ARG_ERROR("x=[1,", "--set", "--set x=[1,", "'x'", "unterminated array", "expected a value");
    ARG_ERROR("x=abc", "--given", "--given x=abc", "'abc'", "expected a number");
    ARG_ERROR("x=[1,2", "--set", "--set", "unterminated array", "expected ',' or ']'");
    ARG_ERROR("m=[[1,2],[3]]", "--set", "--set", "'m'", "row 2", "ragged");
    ARG_ERROR("x=1 2", "--set", "--set", "'2'");
    ARG_ERROR("x=1.2.3", "--set", "--set", "1.2.3");
    ARG_ERROR("x=\"a\"", "--set", "--set", "not a number");
    ARG_ERROR("x=null", "--set", "--set", "null");
    ARG_ERROR("x={}", "--set", "--set", "nested object");
    ARG_ERROR("x=1e999", "--set", "--set", "too large");
    ARG_ERROR("x y=3", "--set", "--set", "'x y'", "not a variable name");
    ARG_ERROR("2x=3", "--set", "--set", "'2x'", "not a variable name");
    ARG_ERROR("x=[1,,2]", "--set", "--set", "expected a value");
    /* the caret sits under the spot in the argument as typed */
    ARG_ERROR(NULL, "--set", "--set", "expected name=value");
    ARG_ERROR("x=[1,?]", "--set", "--set x=[1,?]: error:", "\n  x=[1,?]\n       ^");
}

static void test_parse_value(void)
{
    DataVar v;
    CHECK(data_parse_value("[[1.5, 2], [3, 4]]", "B", &v, err, sizeof err) == 0, "parse_value: %s", err);
    CHECK(v.rank == 2 && v.dims[0] == 2 && v.dims[1] == 2 && v.type == DATA_REAL && v.x[0] == 1.5 &&
              strcmp(v.name, "B") == 0 && v.origin == NULL,
          "parse_value matrix");
    data_var_free(&v);
    CHECK(data_parse_value("7", "k", &v, err, sizeof err) == 0 && v.rank == 0 && v.n == 1 && v.x[0] == 7 &&
              v.type == DATA_INT,
          "parse_value scalar");
    data_var_free(&v);
    CHECK(data_parse_value("[1, oops]", "k", &v, err, sizeof err) == -1, "parse_value error");
    CHECK(contains(err, "'k'") && contains(err, "'oops'"), "parse_value message: %s", err);

    char buf[64];
    DataVar s = {.type = DATA_REAL, .rank = 2, .dims = {5000, 25}};
    data_describe(&s, buf, sizeof buf);
    CHECK(strcmp(buf, "real[5000, 25]") == 0, "describe: %s", buf);
    s.type = DATA_INT, s.rank = 0;
    data_describe(&s, buf, sizeof buf);
    CHECK(strcmp(buf, "int") == 0, "describe: %s", buf);
    s.type = DATA_REAL, s.rank = 1, s.dims[0] = 8;
    data_describe(&s, buf, sizeof buf);
    CHECK(strcmp(buf, "real[8]") == 0, "describe: %s", buf);
    s.type = DATA_INT, s.rank = 3, s.dims[0] = 2, s.dims[1] = 3, s.dims[2] = 4;
    data_describe(&s, buf, sizeof buf);
    CHECK(strcmp(buf, "int[2, 3, 4]") == 0, "describe: %s", buf);
}

/* ------------------------------------------------------ sources */

static void test_sources(void)
{
    DataSet d;
    data_init(&d);
    CHECK(data_load_file(&d, fixture("valid.json"), err, sizeof err) == 0, "%s", err);
    int n = d.n;
    CHECK(data_load_file(&d, fixture("override.json"), err, sizeof err) == 0, "%s", err);
    const DataVar *v = data_find(&d, "sigma");
    CHECK(d.n == n + 1, "override adds 'extra' only (%d vars)", d.n);
    CHECK(v && v->rank == 1 && v->x[1] == 2 && strcmp(v->origin, fixture("override.json")) == 0,
          "a later file replaces sigma");
    CHECK(data_set_from_arg(&d, "sigma=3", "--set", err, sizeof err) == 0, "%s", err);
    CHECK((v = data_find(&d, "sigma")) && v->rank == 0 && v->x[0] == 3, "--set replaces sigma");
    CHECK(data_find(&d, "nope") == NULL, "find missing");

    /* failures name the file and leave the set alone */
    CHECK(data_load_file(&d, "no/such/file.json", err, sizeof err) == -1, "missing file");
    CHECK(contains(err, "no/such/file.json") && contains(err, "cannot open"), "missing file message: %s", err);
    CHECK(data_load_file(&d, scratch, err, sizeof err) == -1, "directory");
    CHECK(contains(err, scratch) && contains(err, "directory"), "directory message: %s", err);
    CHECK(d.n == n + 1, "failures left the set alone");
    data_free(&d);
    data_free(&d); /* freeing twice is harmless: data_free re-initialises */
    CHECK(d.n == 0 && d.vars == NULL, "data_free resets");

    /* a tiny error buffer truncates, never overflows */
    char tiny[8];
    CHECK(data_load_file(&d, write_file("t.json", "{\"y\": x}"), tiny, sizeof tiny) == -1 &&
              strlen(tiny) == sizeof tiny - 1,
          "tiny buffer");
    data_free(&d);
}

/* ------------------------------------------------------ robustness */

/* Every prefix and many random mutations of valid input either parse or fail with a
   message; none crashes or reads past the text (the sanitizer build checks that). */
static void test_malformed_inputs(void)
{
    static const char *seeds[] = {
        "{\"N\": 3, \"y\": [1.5, -2e3, \"NaN\"], \"X\": [[1, 2], [3, 4]], \"A\": [[[1]], [[2]]], \"b\": true}",
        "\"y\",x,k\r\n1,2.5,\"3\"\n4,-Inf,6\n",
    };
    uint64_t state = 99;
    int ok = 1, failures_have_messages = 1;
    for (int s = 0; s < 2; s++) {
        size_t len = strlen(seeds[s]);
        for (int trial = 0; trial < 3000; trial++) {
            char *buf = malloc(len + 1);
            memcpy(buf, seeds[s], len + 1);
            size_t use = len;
            if (trial <= (int)len) {
                use = (size_t)trial; /* every prefix */
            } else {
                for (int m = 0; m < 3; m++) {
                    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
                    static const char pool[] = "{}[],:\"\\ \n\r\t0123456789.eE+-aNnIftrul#;x\001";
                    buf[(state >> 33) % len] = pool[(state >> 17) % (sizeof pool - 1)];
                }
            }
            char *text = malloc(use + 1); /* exact size, so an over-read shows under ASan */
            memcpy(text, buf, use);
            text[use] = '\0';
            DataSet d;
            data_init(&d);
            DataError e = {0, ""};
            int rc = s == 0 ? data_json_parse(text, use, "fuzz.json", &d, &e)
                            : data_csv_parse(text, use, "fuzz.csv", &d, &e);
            if (rc == 0) {
                for (int i = 0; i < d.n; i++) {
                    size_t n = 1;
                    for (int k = 0; k < d.vars[i].rank; k++) n *= (size_t)d.vars[i].dims[k];
                    ok &= d.vars[i].n == n;
                }
            } else {
                failures_have_messages &= rc == -1 && e.what[0] != '\0' && e.off <= use;
            }
            data_free(&d);
            free(text);
            free(buf);
        }
    }
    CHECK(ok, "a mutated input parsed to an inconsistent shape");
    CHECK(failures_have_messages, "a mutated input failed without a message or with a bad offset");

    /* same through the public file path, with location formatting */
    FILE_ERROR("fz.json", "{\"y\": [1, 2]}]", "fz.json:1:14:");
}

/* Numbers are read by Clinger's fast path when they have at most 15 digits
 * and a small exponent, else by strtod: both must give strtod's double,
 * bit for bit, for every form a data file uses. */
static void test_number_fast_path(void)
{
    unsigned long long s = 88172645463325252ULL; /* xorshift64 */
    long bad = 0, n = 0;
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        double mag = pow(10, (double)(s % 40) - 20) * ((double)(s >> 11) / 9007199254740992.0);
        double x = (s & 1) ? -mag : mag;
        int digits = 1 + (int)((s >> 8) % 17), form = (int)((s >> 16) % 3);
        if (form == 0)
            snprintf(buf, sizeof buf, "%.*g", digits, x);
        else if (form == 1)
            snprintf(buf, sizeof buf, "%.*e", digits - 1, x);
        else
            snprintf(buf, sizeof buf, "%.*f", digits % 11, fmod(x, 1e6));
        DataNumber num;
        DataError e;
        if (data_scan_number(buf, buf + strlen(buf), 0, &num, &e) != 0)
            continue; /* a form the reader refuses (e.g. "inf") is tested elsewhere */
        double want = strtod(buf, NULL);
        if (want == 0)
            want = 0.0;
        n++;
        if (memcmp(&num.value, &want, sizeof want) != 0 && bad++ < 5)
            fprintf(stderr, "  %s: read %.17g, strtod %.17g\n", buf, num.value, want);
    }
    CHECK(n > 190000 && bad == 0, "%ld of %ld numbers differ from strtod", bad, n);
}

int main(void)
{
    find_fixtures();
    test_number_fast_path();
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/cm_test_data_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 2;
    }
    test_posteriordb();
    test_json_fixture();
    test_json_errors();
    test_json_long_line_excerpt();
    test_csv_fixtures();
    test_csv_errors();
    test_csv_round_trip();
    test_csv_speed();
    test_args();
    test_parse_value();
    test_sources();
    test_malformed_inputs();

    char path[1024];
    for (int i = 0; i < n_written; i++) {
        snprintf(path, sizeof path, "%.500s/%.63s", scratch, written[i]);
        unlink(path);
    }
    if (rmdir(scratch) != 0) fprintf(stderr, "could not remove %s\n", scratch);
    return check_done();
}
