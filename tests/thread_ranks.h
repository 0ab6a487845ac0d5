/* Thread-ranks for the CPU tests of sequence parallelism (with parallel/comm.h's threads communicator). */
#ifndef VS_TEST_THREAD_RANKS_H
#define VS_TEST_THREAD_RANKS_H

#include <pthread.h>
#include <stddef.h>

/* Runs fn(arg_r) on `ranks` threads (at most 8), args `size` bytes apart; returns the number whose fn
 * returned non-NULL (failed), or `ranks` when a thread could not start. */
static inline int vs_test_run_ranks(int ranks, void *(*fn)(void *), void *args, size_t size) {
    pthread_t th[8];
    if (ranks > 8) return ranks;
    for (int r = 0; r < ranks; r++)
        if (pthread_create(&th[r], NULL, fn, (char *)args + r * size) != 0) return ranks;
    int failed = 0;
    for (int r = 0; r < ranks; r++) {
        void *ret = NULL;
        pthread_join(th[r], &ret);
        failed += ret != NULL;
    }
    return failed;
}

#endif
