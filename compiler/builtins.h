/*
 * builtins.h - codes for builtin functions that are not a single tape op.
 * The table itself is in builtins.c and declared in ir.h.
 */
#ifndef CM_BUILTINS_H
#define CM_BUILTINS_H

#include "tape.h"

enum {
    BI_MEAN = OP__COUNT + 1, BI_SD, BI_VARIANCE, BI_SIZE, BI_ROWS, BI_COLS,
    BI_REP, BI_REP_MATRIX, BI_ZEROS, BI_ONES, BI_TO_INT, BI_FLOOR, BI_CEIL,
    BI_ROUND, BI_MIN, BI_MAX, BI_LOG_SUM_EXP, BI_LOG_MIX, BI_LOG1M,
    BI_DIAG_MATRIX, BI_IDENTITY, BI_SEQ, BI_SUM, BI_PROD
};

#endif
