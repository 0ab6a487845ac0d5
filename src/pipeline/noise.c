#include "pipeline/noise.h"

#include <math.h>

static uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static double uniform(uint64_t seed, uint64_t k) {
    return ((double)(mix64(seed * 0x9e3779b97f4a7c15ull + k) >> 11) + 0.5) / 9007199254740992.0;
}

void vs_noise_gaussian(float *out, int64_t n, uint64_t seed) {
    const double two_pi = 6.283185307179586;
    for (int64_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(uniform(seed, (uint64_t)i)));
        double a = two_pi * uniform(seed, (uint64_t)i + 1);
        out[i] = (float)(r * cos(a));
        if (i + 1 < n) out[i + 1] = (float)(r * sin(a));
    }
}
