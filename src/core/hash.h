/* A counter-based uniform generator shared by host and device code, so a
 * tensor filled on the GPU equals the same fill on the CPU. */
#ifndef VS_CORE_HASH_H
#define VS_CORE_HASH_H

#include <stdint.h>

#ifdef __CUDACC__
#define VS_HASH_FN __host__ __device__ static inline
#else
#define VS_HASH_FN static inline
#endif

/* splitmix64's finalizer of seed * golden + i. */
VS_HASH_FN uint64_t vs_hash64(uint64_t seed, uint64_t i) {
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + i + 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Uniform in [0, 1) with 24 random bits (exact in f32). */
VS_HASH_FN float vs_hash_uniform(uint64_t seed, uint64_t i) {
    return (float)(vs_hash64(seed, i) >> 40) * (1.0f / 16777216.0f);
}

#endif
