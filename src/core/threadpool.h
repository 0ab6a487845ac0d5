/* A process-wide pool of worker threads for data-parallel loops.
 *
 *     vs_parallel_for(rows, 16, normalize_rows, &args);
 *
 * calls fn(ctx, begin, end) on disjoint ranges covering [0, n), from the
 * calling thread and the workers, and returns when all of them are done.
 * The pool has vs_thread_count() threads in all (the caller included): VS_THREADS
 * when set to a positive number, else the CPUs this process may run on. Workers
 * start on the first parallel loop and are joined at exit. */
#ifndef VS_CORE_THREADPOOL_H
#define VS_CORE_THREADPOOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Ranges hold at least `grain` indices (except possibly the last), so grain is
 * the smallest amount of work worth handing to another thread. The loop runs
 * inline on the calling thread when n <= grain, when the pool has one thread,
 * when called from inside a parallel loop (nesting never deadlocks), or when
 * another thread is already running a loop on the pool. */
void vs_parallel_for(int64_t n, int64_t grain, void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx);

/* Threads a parallel loop uses, the caller included (>= 1). */
int vs_thread_count(void);

#ifdef __cplusplus
}
#endif
#endif
