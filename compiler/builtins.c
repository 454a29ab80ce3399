/*
 * builtins.c - the builtin function table.
 *
 * Shared by the checker (arity and result type, by rule) and the runtime
 * (dispatch on `op`: a tape OpCode for the functions that are one op, a
 * BI_* code for those the executor composes from several).  Aliases that
 * Stan users know (inv_logit, dot_product, cholesky_decompose) are rows of
 * their own pointing at the same op.
 */
#include <string.h>

#include "builtins.h"
#include "ir.h"

const Builtin cm_builtins[] = {
    {"exp", 1, 1, BR_ELEM, OP_EXP},
    {"log", 1, 1, BR_ELEM, OP_LOG},
    {"log1p", 1, 1, BR_ELEM, OP_LOG1P},
    {"expm1", 1, 1, BR_ELEM, OP_EXPM1},
    {"log1m", 1, 1, BR_ELEM, BI_LOG1M},
    {"sqrt", 1, 1, BR_ELEM, OP_SQRT},
    {"abs", 1, 1, BR_ELEM, OP_ABS},
    {"fabs", 1, 1, BR_ELEM, OP_ABS},
    {"sin", 1, 1, BR_ELEM, OP_SIN},
    {"cos", 1, 1, BR_ELEM, OP_COS},
    {"tan", 1, 1, BR_ELEM, OP_TAN},
    {"tanh", 1, 1, BR_ELEM, OP_TANH},
    {"sigmoid", 1, 1, BR_ELEM, OP_SIGMOID},
    {"inv_logit", 1, 1, BR_ELEM, OP_SIGMOID},
    {"log_inv_logit", 1, 1, BR_ELEM, OP_LOG_SIGMOID},
    {"logit", 1, 1, BR_ELEM, OP_LOGIT},
    {"softplus", 1, 1, BR_ELEM, OP_SOFTPLUS},
    {"log1p_exp", 1, 1, BR_ELEM, OP_SOFTPLUS},
    {"lgamma", 1, 1, BR_ELEM, OP_LGAMMA},
    {"digamma", 1, 1, BR_ELEM, OP_DIGAMMA},
    {"erf", 1, 1, BR_ELEM, OP_ERF},
    {"Phi", 1, 1, BR_ELEM, OP_PHI},
    {"square", 1, 1, BR_ELEM, OP_SQUARE},
    {"inv", 1, 1, BR_ELEM, OP_INV},
    {"pow", 2, 2, BR_ELEM, OP_POW},
    {"lbeta", 2, 2, BR_ELEM, OP_LBETA},
    {"fmin", 2, 2, BR_ELEM, OP_FMIN},
    {"fmax", 2, 2, BR_ELEM, OP_FMAX},
    {"floor", 1, 1, BR_ELEM, BI_FLOOR},
    {"ceil", 1, 1, BR_ELEM, BI_CEIL},
    {"round", 1, 1, BR_ELEM, BI_ROUND},
    {"sum", 1, 1, BR_SPECIAL, BI_SUM},
    {"prod", 1, 1, BR_SPECIAL, BI_PROD},
    {"mean", 1, 1, BR_REDUCE, BI_MEAN},
    {"sd", 1, 1, BR_REDUCE, BI_SD},
    {"variance", 1, 1, BR_REDUCE, BI_VARIANCE},
    {"log_sum_exp", 1, 8, BR_REDUCE, BI_LOG_SUM_EXP},
    {"log_mix", 3, 3, BR_REDUCE, BI_LOG_MIX},
    {"dot", 2, 2, BR_REDUCE, OP_DOT},
    {"dot_product", 2, 2, BR_REDUCE, OP_DOT},
    {"min", 1, 2, BR_SPECIAL, BI_MIN},
    {"max", 1, 2, BR_SPECIAL, BI_MAX},
    {"softmax", 1, 1, BR_VEC, OP_SOFTMAX},
    {"log_softmax", 1, 1, BR_VEC, OP_LOG_SOFTMAX},
    {"cumulative_sum", 1, 1, BR_VEC, OP_CUMSUM},
    {"transpose", 1, 1, BR_MAT, OP_TRANSPOSE},
    {"cholesky", 1, 1, BR_MAT, OP_CHOLESKY},
    {"cholesky_decompose", 1, 1, BR_MAT, OP_CHOLESKY},
    {"diag_matrix", 1, 1, BR_SPECIAL, BI_DIAG_MATRIX},
    {"identity", 1, 1, BR_SPECIAL, BI_IDENTITY},
    {"size", 1, 1, BR_INT, BI_SIZE},
    {"length", 1, 1, BR_INT, BI_SIZE},
    {"rows", 1, 1, BR_INT, BI_ROWS},
    {"cols", 1, 1, BR_INT, BI_COLS},
    {"to_int", 1, 1, BR_SPECIAL, BI_TO_INT},
    {"rep", 2, 2, BR_SPECIAL, BI_REP},
    {"rep_vector", 2, 2, BR_SPECIAL, BI_REP},
    {"rep_matrix", 3, 3, BR_SPECIAL, BI_REP_MATRIX},
    {"zeros", 1, 1, BR_SPECIAL, BI_ZEROS},
    {"ones", 1, 1, BR_SPECIAL, BI_ONES},
    {"seq", 2, 2, BR_SPECIAL, BI_SEQ},
    {NULL, 0, 0, 0, 0}};

int builtin_find(const char *name)
{
    for (int i = 0; cm_builtins[i].name; i++)
        if (strcmp(cm_builtins[i].name, name) == 0)
            return i;
    return -1;
}

int builtin_count(void)
{
    int n = 0;
    while (cm_builtins[n].name)
        n++;
    return n;
}
