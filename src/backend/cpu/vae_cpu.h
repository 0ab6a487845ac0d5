/* f32 CPU pieces of the video VAEs besides the convolution (conv_cpu.h):
 * channel-first frames [c][h][w]. */
#ifndef VS_BACKEND_CPU_VAE_CPU_H
#define VS_BACKEND_CPU_VAE_CPU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* WanRMS_norm per pixel, in place on x [frames][c][pixels]:
 *     x = x / max(||x||_2, 1e-12) * scale * gamma + (beta or 0), then SiLU when silu,
 * the norm over the pixel's c channels in double. On the thread pool. */
void vs_cpu_vae_rmsnorm(float *x, const float *gamma, const float *beta, int64_t frames, int c,
                        int64_t pixels, float scale, int silu);

#ifdef __cplusplus
}
#endif
#endif
