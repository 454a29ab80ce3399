/*
 * ppc.h - posterior predictive checks (--predictive): test statistics of
 * the data against their replicates, with posterior predictive p-values.
 */
#ifndef CM_PPC_H
#define CM_PPC_H

#include <stdio.h>

#include "data.h"
#include "draws.h"

/* For every data variable with replicate columns NAME_rep.* in d (as many
 * as its elements), print mean, sd, min and max of the data, the 5/50/95%
 * points of the same statistic over the replicates and the mid-p value
 * P(T(rep) > T(data)) + P(T(rep) = T(data)) / 2.
 * Prints nothing when there are none.  Returns 0, or -1 when out of memory. */
int ppc_report(FILE *out, const Draws *d, const DataSet *data);

#endif
