/* CUDA pieces of the HunyuanVideo VAE decoder (src/models/hunyuan/vae_cuda.c), next to the Wan VAE's
 * (vae_cuda.h: the cuDNN convolutions, softmax, layout changes it also uses). Activations are channels-last
 * runs of frames [t][h][w][c], c a multiple of 8: BF16 (uint16_t) where a convolution or GEMM reads them,
 * F32 for the residual stream between layers; parameters F32. Device pointers, the legacy default stream. */
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

/* The residual stream after a convolution: y [pixels][c] F32 = conv [pixels][c] BF16 + bias[c] (may be NULL)
 * + res [pixels][c] F32 (may be NULL), summed in f32; y may be res. */
vs_status vs_cuda_hv_stream_add(float *y, const uint16_t *conv, const float *bias, const float *res,
                                int64_t pixels, int c);

/* GroupNorm over x [pixels][c], BF16 or (x_f32) F32: statistics of each group of c / groups channels over
 * all pixels (f32 within a thread, f64 across), y BF16 = (x - mean) / sqrt(var + eps) * gamma + beta, then
 * SiLU when silu; y may be x when x is BF16. stats: 3 * groups doubles of device scratch; groups <= 1024. */
vs_status vs_cuda_hv_group_norm(uint16_t *y, const void *x, int x_f32, const float *gamma, const float *beta,
                                int64_t pixels, int c, int groups, float eps, int silu, double *stats);

/* HunyuanVideoUpsampleCausal3D's nearest upsampling of the F32 stream into the BF16 input of its
 * convolution: y [1 + ut (t - 1)][us h][us w][c] from x [t][h][w][c], frame 0 in space only. */
vs_status vs_cuda_hv_upsample(uint16_t *y, const float *x, int t, int h, int w, int c, int ut, int us);

#ifdef __cplusplus
}
#endif
#endif
