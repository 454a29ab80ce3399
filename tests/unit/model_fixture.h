/*
 * model_fixture.h - a model compiled from text, bound to --set style data
 * and traced, for the unit tests that need a whole Model (test_enumerate.c,
 * test_subsample.c).  Header-only: each test program includes it once.
 */
#ifndef CM_TEST_MODEL_FIXTURE_H
#define CM_TEST_MODEL_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "data.h"
#include "diag.h"
#include "model.h"

typedef struct {
    Source src;
    Program *prog;
    DataSet data;
    Model m;
    int ok;       /* model_init ran: fixture_close frees it (even after a failure) */
} Fixture;

/* Compile `text` (shown as `name` in messages), bind the NULL-terminated
 * assignments ("N=3", "y=[1, 2]"), trace with `seed`.  Returns model_init's
 * result, or -1 when the text does not compile or an assignment is bad. */
static int fixture_open(Fixture *fx, const char *name, const char *text, const char *const *sets,
                        unsigned long seed)
{
    memset(fx, 0, sizeof *fx);
    fx->src = (Source){name, text, strlen(text)};
    data_init(&fx->data);
    char err[512];
    for (int i = 0; sets && sets[i]; i++)
        if (data_set_from_arg(&fx->data, sets[i], "--set", err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", name, err);
            return -1;
        }
    Diag diag;
    diag_init(&diag, &fx->src);
    fx->prog = cm_compile(&fx->src, &diag);
    if (!fx->prog)
        return -1;
    fx->ok = 1;
    return model_init(&fx->m, fx->prog, &fx->data, NULL, seed);
}

static void fixture_close(Fixture *fx)
{
    if (fx->ok)
        model_free(&fx->m);
    if (fx->prog)
        program_free(fx->prog);
    data_free(&fx->data);
}

#endif
