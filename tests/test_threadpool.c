#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"
#include "core/threadpool.h"

/* Counts how often each index is visited and records the smallest range. */
typedef struct {
    atomic_int *hits;
    atomic_llong smallest;
    atomic_int ranges;
    int64_t n;
} cover_ctx;

static void cover(void *p, int64_t begin, int64_t end) {
    cover_ctx *c = p;
    for (int64_t i = begin; i < end; i++) atomic_fetch_add(&c->hits[i], 1);
    long long len = end - begin;
    if (end < c->n) { /* the last range may be short */
        long long cur = atomic_load(&c->smallest);
        while (len < cur && !atomic_compare_exchange_weak(&c->smallest, &cur, len)) {
        }
    }
    atomic_fetch_add(&c->ranges, 1);
}

static int check_cover(int64_t n, int64_t grain) {
    cover_ctx c = {.hits = calloc((size_t)(n ? n : 1), sizeof(atomic_int)), .n = n};
    CHECK(c.hits != NULL);
    atomic_store(&c.smallest, (long long)n + 1);
    vs_parallel_for(n, grain, cover, &c);
    int ok = 1;
    for (int64_t i = 0; i < n; i++) ok &= atomic_load(&c.hits[i]) == 1;
    long long smallest = atomic_load(&c.smallest);
    int ranges = atomic_load(&c.ranges);
    free(c.hits);
    CHECK_MSG(ok, "n=%lld grain=%lld: some index not visited exactly once", (long long)n, (long long)grain);
    CHECK_MSG(smallest >= grain || smallest == n + 1, "range of %lld < grain %lld", smallest, (long long)grain);
    CHECK(n > 0 || ranges == 0);
    return 0;
}

TEST(every_index_is_visited_once) {
    /* More threads than this machine may have, so the pool really runs concurrently. */
    setenv("VS_THREADS", "4", 1);
    CHECK(vs_thread_count() == 4);
    const int64_t sizes[] = {0, 1, 2, 7, 100, 1001, 65537};
    const int64_t grains[] = {0, 1, 3, 64, 5000};
    for (int s = 0; s < 7; s++)
        for (int g = 0; g < 5; g++) CHECK(check_cover(sizes[s], grains[g]) == 0);
    return 0;
}

typedef struct {
    atomic_llong total;
} nest_ctx;

static void inner(void *p, int64_t begin, int64_t end) {
    nest_ctx *c = p;
    atomic_fetch_add(&c->total, end - begin);
}

static void outer(void *p, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i++) vs_parallel_for(1000, 10, inner, p);
}

TEST(nested_loops_run_inline) {
    nest_ctx c;
    atomic_store(&c.total, 0);
    vs_parallel_for(64, 1, outer, &c);
    CHECK(atomic_load(&c.total) == 64 * 1000);
    return 0;
}

static void *hammer(void *p) {
    for (int r = 0; r < 200; r++) vs_parallel_for(5000, 16, inner, p);
    return NULL;
}

/* A started thread, joined after the case (or by hand: joining empties it, so the harness's join does nothing). */
typedef struct {
    pthread_t id;
    int running;
} test_thread;

static void join_thread(void *p) {
    test_thread *t = p;
    if (t->running) pthread_join(t->id, NULL);
    t->running = 0;
}

TEST(concurrent_callers_do_not_deadlock) {
    nest_ctx *c = vs_test_malloc(sizeof *c); /* outlives the case until its threads are joined */
    atomic_store(&c->total, 0);
    test_thread *t = vs_test_malloc(3 * sizeof *t);
    for (int i = 0; i < 3; i++) {
        t[i].running = 0;
        CHECK(pthread_create(&t[i].id, NULL, hammer, c) == 0);
        t[i].running = 1;
        vs_test_defer(join_thread, &t[i]);
    }
    hammer(c);
    for (int i = 0; i < 3; i++) join_thread(&t[i]);
    CHECK(atomic_load(&c->total) == 4LL * 200 * 5000);
    return 0;
}

RUN_TESTS(T(every_index_is_visited_once), T(nested_loops_run_inline), T(concurrent_callers_do_not_deadlock))
