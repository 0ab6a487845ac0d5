/* GroupNorm over a run of channels-last BF16 frames [t][h][w][c] (the VAE
 * decoders' layout, see vae_cuda.h), with what the CogVideoX decoder fuses
 * after it: the spatial norm's modulation by the latents and the SiLU. All
 * pointers are device pointers; c must be a multiple of 8. */
#ifndef VS_BACKEND_CUDA_VAE_GROUP_NORM_H
#define VS_BACKEND_CUDA_VAE_GROUP_NORM_H

#include <stddef.h>
#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Modulation by maps at a lower resolution (CogVideoXSpatialNorm3D): the normed value of channel ch at
 * frame f, pixel (i, j) becomes v * mul[zf][zi][zj][ch] + add[zf][zi][zj][ch] with zi = i zh / h,
 * zj = j zw / w (nearest, exact for power-of-2 ratios) and zf = f zt / t, or with split_first (an odd t
 * above 1) zf = 0 for f = 0 and 1 + (f - 1)(zt - 1) / (t - 1) after. mul, add: [zt][zh][zw][c]. */
typedef struct vs_cuda_norm_modulation {
    const uint16_t *mul, *add;
    int zt, zh, zw, split_first;
} vs_cuda_norm_modulation;

/* y = (x - mean_g) / sqrt(var_g + eps) * gamma + beta over each of `groups` channel groups of all t
 * frames, then the modulation (mod NULL: none), then SiLU when silu. y may be x. scratch: device memory
 * of vs_cuda_group_norm_scratch_bytes(c). Statistics accumulate in f32 per thread and in f64 across. */
vs_status vs_cuda_group_norm(uint16_t *y, const uint16_t *x, int t, int h, int w, int c, int groups, float eps,
                             const float *gamma, const float *beta, const vs_cuda_norm_modulation *mod, int silu,
                             void *scratch);
size_t vs_cuda_group_norm_scratch_bytes(int c);

#ifdef __cplusplus
}
#endif
#endif
