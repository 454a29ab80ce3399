/*
 * hazard.c - a small C library for examples/ffi: the Weibull survival
 * log-likelihood with right censoring, and its gradient, called from cm
 * through libffi.  Built by `make examples/ffi/libhazard.so`.
 *
 * cm passes a vector argument as a pointer and a length, so
 *   extern fn weibull_loglik(t: real[N], d: real[N], k: real, lambda: real) -> real
 * arrives here as (t, nt, d, nd, k, lambda).  The gradient function takes
 * the same arguments followed by `double *grad`, one entry per real scalar
 * argument and per element of each real vector argument, in order.
 */
#include <math.h>

/* log h(t) = log k - log lambda + (k - 1)(log t - log lambda); H(t) = (t / lambda)^k;
 * an event (d = 1) contributes log h(t) - H(t), a censored time -H(t). */
double weibull_loglik(const double *t, long nt, const double *d, long nd, double k, double lambda)
{
    double s = 0;
    long n = nt < nd ? nt : nd;
    for (long i = 0; i < n; i++) {
        double z = log(t[i]) - log(lambda);
        if (d[i] > 0.5)
            s += log(k) - log(lambda) + (k - 1) * z;
        s -= exp(k * z);
    }
    return s;
}

void weibull_loglik_grad(const double *t, long nt, const double *d, long nd, double k, double lambda,
                         double *grad)
{
    long n = nt < nd ? nt : nd;
    double gk = 0, gl = 0;
    for (long i = 0; i < nt + nd; i++)
        grad[i] = 0; /* the data get no gradient */
    for (long i = 0; i < n; i++) {
        double z = log(t[i]) - log(lambda), H = exp(k * z);
        if (d[i] > 0.5) {
            gk += 1 / k + z;
            gl += -k / lambda;
        }
        gk -= H * z;
        gl += H * k / lambda;
    }
    grad[nt + nd] = gk;
    grad[nt + nd + 1] = gl;
}
