/* Seeded standard normal noise for the initial latents.
 *
 * Value i of seed s: a counter-based generator (splitmix64's mixer) gives
 * uniforms u(k) = (mix64(s * 0x9E3779B97F4A7C15 + k) >> 11 + 0.5) / 2^53 in (0, 1),
 * and pair j = (2j, 2j+1) is Box-Muller over (u(2j), u(2j+1)):
 *     r = sqrt(-2 ln u(2j)),  x[2j] = r cos(2 pi u(2j+1)),  x[2j+1] = r sin(2 pi u(2j+1)).
 * Any value can be computed independently (CPU or GPU) and the result does
 * not depend on threading. It does NOT reproduce torch's generator: the same
 * seed gives different noise (and so a different video) than diffusers. */
#ifndef VS_PIPELINE_NOISE_H
#define VS_PIPELINE_NOISE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void vs_noise_gaussian(float *out, int64_t n, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif
