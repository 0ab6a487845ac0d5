/* A tiny test harness: each test file defines cases with TEST(name) and
 * lists them in RUN_TESTS(...). A case fails on the first CHECK that fails;
 * the executable prints one line per case and exits non-zero if any failed. */
#ifndef VS_TEST_CHECK_H
#define VS_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vidsparse.h"

typedef int (*vs_test_fn)(void);

#define TEST(name) static int name(void)

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            return 1;                                                               \
        }                                                                           \
    } while (0)

#define CHECK_MSG(cond, ...)                                                        \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            return 1;                                                               \
        }                                                                           \
    } while (0)

/* Expects a vs_status call to succeed; prints vs_last_error() otherwise. */
#define CHECK_OK(call)                                                              \
    do {                                                                            \
        vs_status check_s_ = (call);                                                \
        if (check_s_ != VS_OK) {                                                    \
            fprintf(stderr, "  %s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #call, \
                    vs_status_name(check_s_), vs_last_error());                     \
            return 1;                                                               \
        }                                                                           \
    } while (0)

/* Expects a specific failure status and a message containing `needle`. */
#define CHECK_FAILS(call, status, needle)                                           \
    do {                                                                            \
        vs_status check_s_ = (call);                                                \
        CHECK_MSG(check_s_ == (status), "%s returned %s, expected %s (%s)", #call,  \
                  vs_status_name(check_s_), vs_status_name(status), vs_last_error()); \
        CHECK_MSG(strstr(vs_last_error(), (needle)) != NULL,                       \
                  "message \"%s\" lacks \"%s\"", vs_last_error(), (needle));        \
    } while (0)

typedef struct { const char *name; vs_test_fn fn; } vs_test_case;

/* VS_TEST_ONLY=text runs the cases whose names contain it (the others are not counted). */
static inline int vs_run_tests(const char *file, const vs_test_case *cases, int n) {
    const char *only = getenv("VS_TEST_ONLY");
    int failed = 0, run = 0;
    for (int i = 0; i < n; i++) {
        if (only && *only && !strstr(cases[i].name, only)) continue;
        run++;
        int r = cases[i].fn();
        printf("%s %s/%s\n", r ? "FAIL" : "ok  ", file, cases[i].name);
        fflush(stdout);
        failed += r != 0;
    }
    printf("%d passed, %d failed\n", run - failed, failed);
    return failed ? 1 : 0;
}

#define T(fn) {#fn, fn}
#define RUN_TESTS(...)                                                              \
    int main(void) {                                                                \
        static const vs_test_case cases[] = {__VA_ARGS__};                          \
        return vs_run_tests(__FILE__, cases, (int)(sizeof cases / sizeof cases[0])); \
    }

/* Deterministic random numbers for tests (xorshift64*). */
static inline double vs_test_uniform(unsigned long long *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (double)((*state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Relative L2 error ||a-b|| / ||b||. */
static inline double vs_test_rel_l2(const float *a, const double *ref, long long n) {
    double num = 0, den = 0;
    for (long long i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

#endif
