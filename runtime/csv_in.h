/*
 * csv_in.h - reading CmdStan CSV files (cm's or CmdStan's) back into Draws.
 *
 * `cmrun --summary draws_*.csv` reads one chain per file.  Comment lines
 * ('#') are skipped except for the few settings the summary needs; the
 * first other line names the columns, and every chain must name the same
 * columns in the same order.  Extra CmdStan columns are read like any
 * other.  Warm-up rows saved with save_warmup are dropped, and so is the
 * first row of a CmdStan variational file (the approximation's mean).
 */
#ifndef CM_CSV_IN_H
#define CM_CSV_IN_H

#include <stddef.h>

#include "draws.h"

typedef struct {
    char method[32];    /* "method = ..." of the first file ("sample"), or "" */
    char model[128];    /* "model = ..." of the first file, or "" */
    int max_depth;      /* "max_depth = N" of the first file, or 0 */
    long skipped_rows;  /* leading rows skipped in all files: saved warm-up,
                           and the mean row of variational files */
    long dropped_rows;  /* rows cut so that every chain is as long as the shortest */
    int partial_lines;  /* files whose unterminated last line was cut short and ignored */
} CsvInInfo;

/* Read npaths files, one chain each, into a finished Draws (*out).
 * Returns 0; or -1 with *out NULL and a message naming the file (and line)
 * at fault in err: cannot open, no header row, columns that differ from
 * the first file's, a row of the wrong length, a value that is not a
 * number, no draws.  info may be NULL. */
int csv_in_read(const char *const *paths, int npaths, Draws **out,
                CsvInInfo *info, char *err, size_t errlen);

#endif
