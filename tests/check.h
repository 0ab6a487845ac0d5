/* A tiny test harness: each test file defines cases with TEST(name) and
 * lists them in RUN_TESTS(...). A case fails on the first CHECK that fails;
 * the executable prints one line per case and exits non-zero if any failed.
 *
 * Cleanup. A failing CHECK returns from the case at once, so a case does not
 * free what it allocated itself: it hands each allocation to the harness right
 * where it makes it, and vs_run_tests releases them after the case, passed or
 * failed, newest first:
 *
 *     vs_tensor *x = vs_test_tensor();              zeroed; vs_tensor_free'd after the case
 *     CHECK_OK(vs_tensor_alloc(x, VS_F32, VS_CPU, 2, shape));
 *     float *buf = vs_test_malloc(n * sizeof *buf); free'd after the case
 *     float *got = vs_test_free_later(to_host(t));  so is what a helper malloc'd (NULL is fine)
 *     CHECK_OK(vs_wan_model_load(dir, VS_CPU, &m));
 *     vs_test_defer(free_model, m);                 any release function of one pointer,
 *                                                   e.g. static void free_model(void *m) { vs_wan_model_free(m); }
 *     vs_test_remove(path);                         a file or an empty folder, removed after the case
 *     int mark = vs_test_mark(); ... vs_test_release_to(mark);   what one sub-problem registered, released early
 *
 * Register an object after the call that made it succeeded (its pointer is what
 * gets released), and release nothing registered by hand, except tensors from
 * vs_test_tensor: vs_tensor_free leaves them zeroed, ready for another
 * allocation (likewise any registered struct whose release empties it and may
 * run twice, e.g. test_svg.c's vs_attn_block_list). Memory handed out by vs_test_tensor and vs_test_malloc stays
 * valid until the case ends, in helper functions too. */
#ifndef VS_TEST_CHECK_H
#define VS_TEST_CHECK_H

#include <math.h>
#include <stdint.h>
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

typedef struct {
    void (*release)(void *);
    void *p;
} vs_test_deferred;

/* What the running case registered, released by vs_test_release_all. */
static vs_test_deferred vs_test_deferred_list[1024];
static int vs_test_deferred_count;

/* Registers release(p) for the end of the running case. */
static inline void vs_test_defer(void (*release)(void *), void *p) {
    if (vs_test_deferred_count == (int)(sizeof vs_test_deferred_list / sizeof vs_test_deferred_list[0])) {
        fprintf(stderr, "  check.h: more than %d cleanups in one case\n", vs_test_deferred_count);
        exit(2);
    }
    vs_test_deferred_list[vs_test_deferred_count++] = (vs_test_deferred){release, p};
}

/* How many cleanups the running case has registered: a case that runs many
 * sub-problems (test_backend_ops.c's rows) marks before each and releases back
 * to the mark after it, so that they do not pile up until the case ends. */
static inline int vs_test_mark(void) { return vs_test_deferred_count; }

/* Runs the cleanups registered since `mark`, newest first. */
static inline void vs_test_release_to(int mark) {
    while (vs_test_deferred_count > mark) {
        vs_test_deferred d = vs_test_deferred_list[--vs_test_deferred_count];
        d.release(d.p);
    }
}

/* Runs the running case's cleanups, newest first. */
static inline void vs_test_release_all(void) { vs_test_release_to(0); }

/* malloc(bytes), freed after the case; exits if memory runs out. */
static inline void *vs_test_malloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "  check.h: out of memory for %zu bytes\n", bytes);
        exit(2);
    }
    vs_test_defer(free, p);
    return p;
}

/* Registers free(p) (p from malloc, or NULL) and returns p: for memory that a helper allocated. */
static inline void *vs_test_free_later(void *p) {
    vs_test_defer(free, p);
    return p;
}

static inline void vs_test_free_tensor(void *t) {
    vs_tensor_free(t);
    free(t);
}

/* A zeroed tensor struct for the case to allocate into; vs_tensor_free'd after the case. */
static inline vs_tensor *vs_test_tensor(void) {
    vs_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        fprintf(stderr, "  check.h: out of memory for a tensor\n");
        exit(2);
    }
    vs_test_defer(vs_test_free_tensor, t);
    return t;
}

static inline void vs_test_remove_path(void *path) {
    remove(path);
    free(path);
}

/* Removes the file or empty folder `path` after the case (register a folder before the files in it). */
static inline void vs_test_remove(const char *path) {
    char *copy = malloc(strlen(path) + 1);
    if (!copy) {
        fprintf(stderr, "  check.h: out of memory\n");
        exit(2);
    }
    vs_test_defer(vs_test_remove_path, strcpy(copy, path));
}

/* The bytes of a file (NUL-terminated), freed after the case; NULL if it cannot be read. */
static inline unsigned char *vs_test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (!p) return NULL;
    p[n] = 0;
    vs_test_defer(free, p);
    *len = (size_t)n;
    return p;
}

/* A little-endian u32 at *p, advancing *p. */
static inline uint32_t vs_test_rd32(const unsigned char **p) {
    const unsigned char *b = *p;
    *p += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* VS_TEST_ONLY=text runs the cases whose names contain it (the others are not counted). */
static inline int vs_run_tests(const char *file, const vs_test_case *cases, int n) {
    const char *only = getenv("VS_TEST_ONLY");
    int failed = 0, run = 0;
    for (int i = 0; i < n; i++) {
        if (only && *only && !strstr(cases[i].name, only)) continue;
        run++;
        int r = cases[i].fn();
        vs_test_release_all();
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

/* Relative L2 error ||a - ref|| / ||ref|| (||a - ref|| where ref is all zeros), summed
 * in double; a NaN anywhere makes it NaN, which fails every "< tol" check. For an f64
 * reference (kernels against the f64 CPU reference) and an f32 one (golden files,
 * another device's output). */
static inline double vs_test_rel_l2(const float *a, const double *ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static inline double vs_test_rel_l2_f32(const float *a, const float *ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

#endif
