#include "pipeline/noise.h"

#include <math.h>

#include "core/threadpool.h"

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static double uniform(uint64_t seed, uint64_t k) {
    return ((double)(mix64(seed * 0x9e3779b97f4a7c15ull + k) >> 11) + 0.5) / 9007199254740992.0;
}

typedef struct {
    float *out;
    int64_t n;
    uint64_t seed;
} gaussian_job;

/* Box-Muller on the pairs [begin, end): each value depends only on (seed, index), so any split of the
 * pairs over threads gives the same noise. */
static void gaussian_pairs(void *ctx, int64_t begin, int64_t end) {
    const gaussian_job *job = ctx;
    const double two_pi = 6.283185307179586;
    for (int64_t p = begin; p < end; p++) {
        const int64_t i = 2 * p;
        double r = sqrt(-2.0 * log(uniform(job->seed, (uint64_t)i)));
        double a = two_pi * uniform(job->seed, (uint64_t)i + 1);
        job->out[i] = (float)(r * cos(a));
        if (i + 1 < job->n) job->out[i + 1] = (float)(r * sin(a));
    }
}

void vs_noise_gaussian(float *out, int64_t n, uint64_t seed) {
    gaussian_job job = {out, n, seed};
    vs_parallel_for((n + 1) / 2, 1 << 15, gaussian_pairs, &job);
}
