/*
 * data.h - cm's data input: CmdStan JSON files, CSV files and name=value
 * pairs from the command line (--set, --given, --do).
 *
 * Everything a model is conditioned on arrives here first and leaves as a
 * DataSet: a flat list of named, rectangular arrays of doubles (rank 0..3,
 * row-major) tagged INT or REAL.  The readers know nothing about models; the
 * checker compares a DataVar's type and shape with the model's declaration,
 * which is why each var remembers where it came from (origin).
 *
 * The int/real rule: a value is INT when every number in it is written
 * without '.', 'e' or 'E' and lies within +-(2^53 - 1), where a double holds
 * every integer exactly; true/false count as the ints 1/0.  Anything else,
 * including the strings "NaN" and "Inf", makes the whole value REAL.
 *
 * Errors are complete, printable messages: the source (file or flag), the
 * line:col where one applies, what is wrong, and the offending line with a
 * caret under the spot.  A failed call leaves the DataSet as it was.
 */
#ifndef CM_DATA_H
#define CM_DATA_H

#include <stddef.h>

typedef enum { DATA_INT, DATA_REAL } DataType;

typedef struct {
    char *name;
    DataType type;      /* INT when every number in the value is written without '.', 'e' or 'E'
                           and fits in a 53-bit integer exactly; otherwise REAL */
    int rank;           /* 0 scalar, 1 vector, 2 matrix, 3 at most */
    int dims[3];
    double *x;          /* values, row-major (x[i*dims[1]+j] for a matrix); ints stored exactly */
    size_t n;           /* number of elements (1 for a scalar) */
    char *origin;       /* "d.json", "--set", "--given", "d.csv" (for error messages) */
    /* set by data_push: every element finite, so a model that re-binds the
       data on every run (a dynamic or subsampled model) need not check again */
    int all_finite;
} DataVar;

typedef struct { DataVar *vars; int n, cap; } DataSet;

void data_init(DataSet *d);
void data_free(DataSet *d);

/* Load a file; format chosen by extension (.json / .csv; anything else: sniff: '{' first non-space
   char = JSON, else CSV). Returns 0, or -1 with a message in err naming the file, the line:col where it
   applies and what is wrong. Later definitions of the same name replace earlier ones only across
   sources (a file defining a name twice is an error). */
int data_load_file(DataSet *d, const char *path, char *err, size_t errlen);

/* name=value from --set/--given/--do: value is a number, true/false, or a JSON array (nested for a
   matrix). origin names the flag for messages. */
int data_set_from_arg(DataSet *d, const char *arg, const char *origin, char *err, size_t errlen);

/* Parse just a value (number or JSON array) into a DataVar (name given; origin left NULL). */
int data_parse_value(const char *text, const char *name, DataVar *out, char *err, size_t errlen);

const DataVar *data_find(const DataSet *d, const char *name);
void data_var_free(DataVar *v);

/* Describe a var's shape for messages: "int", "real[8]", "real[5000, 25]". */
void data_describe(const DataVar *v, char *buf, size_t len);

/* ---- Shared by data.c, data_json.c and data_csv.c only; not for other modules. ---- */

#define DATA_MAX_RANK 3
#define DATA_MAX_SAFE_INT 9007199254740991.0 /* 2^53 - 1 */

/* A parse failure before it is located: byte offset into the text and the bare message. */
typedef struct {
    size_t off;
    char what[400];
} DataError;

/* A number token: its value, length in bytes, and whether it is written as an integer. */
typedef struct {
    double value;
    size_t len;
    int is_int;
} DataNumber;

/* Scan a decimal number at p (not beyond end).  strict = JSON grammar; otherwise
   also +1, .5, 5. and leading zeros (CSV cells, command-line values).  Returns 0,
   or -1 with e->what set and e->off relative to p. */
int data_scan_number(const char *p, const char *end, int strict, DataNumber *num, DataError *e);

/* The non-finite spellings CmdStan accepts ("NaN", "Inf", "-inf", "+Infinity", any case).
   Returns 1 and sets *v when s[0..len) is one. */
int data_special_value(const char *s, size_t len, double *v);

/* Append v (ownership moves) to d; grows geometrically.  Returns 0 or -1 (out of memory). */
int data_push(DataSet *d, DataVar *v);

/* Index of name in d or -1. */
int data_index(const DataSet *d, const char *name);

/* 1-based line and column (in characters, a tab counting one) of byte offset off in text. */
void data_linecol(const char *text, size_t off, int *line, int *col);

/* The readers: parse the text (NUL-terminated, len bytes) into an empty set out,
   or fail with e set.  origin is copied into each var. */
int data_json_parse(const char *text, size_t len, const char *origin, DataSet *out, DataError *e);
int data_csv_parse(const char *text, size_t len, const char *origin, DataSet *out, DataError *e);

/* One JSON value (number, true/false, special string or nested array) filling the whole
   text; strict selects the JSON number grammar. */
int data_json_parse_value(const char *text, size_t len, const char *name, int strict, DataVar *out,
                          DataError *e);

#endif
