/*
 * check.h - the unit tests' tiny framework.
 *
 * CHECK(cond, fmt, ...) counts a pass or prints a located failure;
 * CHECK_NEAR(a, b, tol) compares doubles; check_done() prints the closing
 * line `N passed, N failed` that CI reads and returns the exit status.
 */
#ifndef CM_CHECK_H
#define CM_CHECK_H

#include <math.h>
#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            check_passed++;                                                \
        } else {                                                           \
            check_failed++;                                                \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);          \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                              \
    do {                                                                   \
        double check_a_ = (a), check_b_ = (b);                             \
        CHECK(fabs(check_a_ - check_b_) <= (tol) ||                        \
                  (isinf(check_a_) && check_a_ == check_b_),               \
              "%s = %.12g, expected %s = %.12g (tol %g)", #a, check_a_,    \
              #b, check_b_, (double)(tol));                                \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
