#include "core/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"

#define MAX_THREADS 512
/* Chunks per thread: a few more than one, so that a thread that finishes early
 * takes work from a slow one instead of idling. */
#define CHUNKS_PER_THREAD 4

typedef void (*range_fn)(void *ctx, int64_t begin, int64_t end);

/* One loop at a time runs on the pool. Its chunks are claimed through `next`
 * by the caller and by every worker; `pending` counts the workers that have
 * not yet finished with the current generation. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* workers: a new generation (or shutdown) */
    pthread_cond_t idle; /* caller: pending reached 0 */
    pthread_mutex_t submit; /* held by the thread whose loop is on the pool */
    pthread_t *threads;
    int workers;
    int stopping;
    uint64_t generation;
    int pending;
    range_fn fn;
    void *ctx;
    int64_t n, chunk, chunks;
    atomic_int_fast64_t next;
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER,
    .submit = PTHREAD_MUTEX_INITIALIZER,
};

/* Set on pool workers and on a caller while its loop runs: nested loops go inline. */
static _Thread_local int inside_loop;

static int count_from_env(void) {
    const char *env = getenv("VS_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 1) return v > MAX_THREADS ? MAX_THREADS : (int)v;
        VS_WARN("ignoring VS_THREADS='%s' (expected a positive integer)", env);
    }
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n < 1) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    return n > MAX_THREADS ? MAX_THREADS : n;
}

static int thread_count;
static pthread_once_t count_once = PTHREAD_ONCE_INIT;
static void init_count(void) { thread_count = count_from_env(); }

int vs_thread_count(void) {
    pthread_once(&count_once, init_count);
    return thread_count;
}

static void run_chunks(range_fn fn, void *ctx, int64_t n, int64_t chunk, int64_t chunks) {
    for (;;) {
        int64_t c = atomic_fetch_add(&pool.next, 1);
        if (c >= chunks) return;
        int64_t begin = c * chunk;
        int64_t end = begin + chunk < n ? begin + chunk : n;
        fn(ctx, begin, end);
    }
}

static void *worker_main(void *arg) {
    (void)arg;
    inside_loop = 1;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (!pool.stopping && pool.generation == seen) pthread_cond_wait(&pool.wake, &pool.lock);
        if (pool.stopping) break;
        seen = pool.generation;
        range_fn fn = pool.fn;
        void *ctx = pool.ctx;
        int64_t n = pool.n, chunk = pool.chunk, chunks = pool.chunks;
        pthread_mutex_unlock(&pool.lock);
        run_chunks(fn, ctx, n, chunk, chunks);
        pthread_mutex_lock(&pool.lock);
        if (--pool.pending == 0) pthread_cond_signal(&pool.idle);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* At exit. A loop still running on another thread keeps the pool (its workers
 * must finish it), so the join waits for it; if exit() was called from inside
 * a loop, the workers are left to the process teardown. */
static void stop_workers(void) {
    if (inside_loop) return;
    pthread_mutex_lock(&pool.submit);
    pthread_mutex_lock(&pool.lock);
    pool.stopping = 1;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 0; i < pool.workers; i++) pthread_join(pool.threads[i], NULL);
    free(pool.threads);
    pool.threads = NULL;
    pool.workers = 0;
    pthread_mutex_unlock(&pool.submit);
}

/* Starts the workers; if the system refuses some, the pool runs with fewer. */
static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static void start_workers(void) {
    int want = vs_thread_count() - 1;
    if (want < 1) return;
    pool.threads = malloc(sizeof *pool.threads * (size_t)want);
    if (!pool.threads) {
        VS_WARN("thread pool: out of memory, running single-threaded");
        return;
    }
    /* Workers start with every signal blocked (a new thread inherits its creator's mask), so a process-directed
     * signal such as Ctrl-C's SIGINT is delivered to one of the application's own threads, whose handlers expect
     * it there (Python runs its handlers on the main thread), never to a pool worker. */
    sigset_t all, caller;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &caller);
    while (pool.workers < want && pthread_create(&pool.threads[pool.workers], NULL, worker_main, NULL) == 0)
        pool.workers++;
    pthread_sigmask(SIG_SETMASK, &caller, NULL);
    if (pool.workers < want) VS_WARN("thread pool: started %d of %d worker threads", pool.workers, want);
    atexit(stop_workers);
}

void vs_parallel_for(int64_t n, int64_t grain, range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (n <= grain || inside_loop || vs_thread_count() == 1) {
        fn(ctx, 0, n);
        return;
    }
    pthread_once(&start_once, start_workers);
    if (pthread_mutex_trylock(&pool.submit) != 0) {
        fn(ctx, 0, n); /* another thread's loop has the pool */
        return;
    }
    pthread_mutex_lock(&pool.lock);
    if (pool.workers == 0 || pool.stopping) {
        pthread_mutex_unlock(&pool.lock);
        pthread_mutex_unlock(&pool.submit);
        fn(ctx, 0, n);
        return;
    }
    int64_t threads = pool.workers + 1;
    int64_t chunk = (n + threads * CHUNKS_PER_THREAD - 1) / (threads * CHUNKS_PER_THREAD);
    if (chunk < grain) chunk = grain;
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.chunk = chunk;
    pool.chunks = (n + chunk - 1) / chunk;
    atomic_store(&pool.next, 0);
    pool.pending = pool.workers;
    pool.generation++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    inside_loop = 1;
    run_chunks(fn, ctx, n, chunk, (n + chunk - 1) / chunk);
    inside_loop = 0;

    pthread_mutex_lock(&pool.lock);
    while (pool.pending > 0) pthread_cond_wait(&pool.idle, &pool.lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&pool.submit);
}
