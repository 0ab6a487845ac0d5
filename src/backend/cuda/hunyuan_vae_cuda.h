/* CUDA pieces of the HunyuanVideo VAE decoder (src/models/hunyuan/vae_cuda.c), next to the Wan VAE's
 * (vae_cuda.h: the cuDNN convolutions, softmax, layout changes it also uses). Activations are BF16
 * (uint16_t) channels-last runs of frames [t][h][w][c], c a multiple of 8; parameters F32. Device pointers,
 * the legacy default stream. */
#ifndef VS_BACKEND_CUDA_HUNYUAN_VAE_CUDA_H
#define VS_BACKEND_CUDA_HUNYUAN_VAE_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y [t + tpad][h + 2 pad][w + 2 pad][c] = x [t][h][w][c] with replicate padding: tpad copies of frame 0
 * before, edge pixels repeated pad times around (HunyuanVideoCausalConv3d's F.pad, mode "replicate"). */
vs_status vs_cuda_hv_replicate_pad(uint16_t *y, const uint16_t *x, int t, int h, int w, int c, int tpad,
                                   int pad);

/* y [t][h][w][c] = the interior of full [t][h + 2 pad][w + 2 pad][cs] (its first c of cs channels) + bias[c]
 * (may be NULL) + res [t][h][w][c] (may be NULL): a "same" convolution of a padded frame, cut back. */
vs_status vs_cuda_hv_crop(uint16_t *y, const uint16_t *full, const float *bias, const uint16_t *res, int t,
                          int h, int w, int c, int cs, int pad);

/* GroupNorm over x [pixels][c] (statistics of each group of c / groups channels over all pixels, f64),
 * y = (x - mean) / sqrt(var + eps) * gamma + beta, then SiLU when silu; y may be x. stats: 3 * groups
 * doubles of device scratch; groups <= 1024. */
vs_status vs_cuda_hv_group_norm(uint16_t *y, const uint16_t *x, const float *gamma, const float *beta,
                                int64_t pixels, int c, int groups, float eps, int silu, double *stats);

/* HunyuanVideoUpsampleCausal3D's nearest upsampling: y [1 + ut (t - 1)][us h][us w][c] from x [t][h][w][c],
 * frame 0 in space only. */
vs_status vs_cuda_hv_upsample(uint16_t *y, const uint16_t *x, int t, int h, int w, int c, int ut, int us);

#ifdef __cplusplus
}
#endif
#endif
