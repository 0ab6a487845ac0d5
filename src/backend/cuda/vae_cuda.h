/* CUDA pieces of the Wan VAE decoder (src/models/wan/vae_cuda.c). Activations
 * are BF16 (uint16_t) and channels-last: a frame is [h][w][c], a run of
 * frames [t][h][w][c], so every pixel's channels are one contiguous row.
 * Parameters (norm gains, biases) are F32. All pointers are device pointers;
 * everything runs on the legacy default stream, in issue order. Channel
 * counts must be multiples of 8 (16-byte rows). */
#ifndef VS_BACKEND_CUDA_VAE_CUDA_H
#define VS_BACKEND_CUDA_VAE_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[n][h][w][cout] (+)= conv2d(x[n][h][w][cin], w[cout][kh][kw][cin]), zero
 * padding kh/2, kw/2, stride 1, through cuDNN (NHWC BF16, f32 accumulation).
 * accumulate: y += conv (cuDNN's beta = 1) instead of y = conv. The algorithm
 * of each shape is found once (cudnnFindConvolutionForwardAlgorithmEx) and
 * cached with its workspace size; the process holds one handle and one
 * workspace (grown as needed). */
vs_status vs_cuda_conv2d_nhwc(uint16_t *y, const uint16_t *x, const uint16_t *w, int64_t n, int h, int w_,
                              int cin, int cout, int kh, int kw, int accumulate);

/* y[t - k + 1][h - k + 1][w - k + 1][cout] = the k x k x k convolution of one clip x[t][h][w][cin] without
 * padding (the caller pads), w[cout][k][k][k][cin]: one cuDNN 3D convolution (NDHWC BF16), f32 accumulation
 * over all taps, rounded once; only its implicit-GEMM algorithms are considered. Plans, handle and
 * workspace as above. */
vs_status vs_cuda_conv3d_valid_ndhwc(uint16_t *y, const uint16_t *x, const uint16_t *w, int t, int h, int w_,
                                     int cin, int cout, int k);

/* Device bytes the convolutions hold (cuDNN workspace), for memory reports. */
size_t vs_cuda_conv_workspace_bytes(void);

/* y[p][c] += bias[c] (bias may be NULL) and += res[p][c] (res may be NULL). */
vs_status vs_cuda_vae_bias_residual(uint16_t *y, const float *bias, const uint16_t *res, int64_t pixels,
                                    int c);

/* WanRMS_norm per pixel: y = x / max(||x||_2, 1e-12) * scale * gamma + beta
 * (beta may be NULL), then SiLU when silu; y may be x. */
vs_status vs_cuda_vae_rmsnorm(uint16_t *y, const uint16_t *x, const float *gamma, const float *beta,
                              int64_t pixels, int c, float scale, int silu);

/* Nearest 2x upsampling to y[frames][2h][2w][c]. interleaved = 0: x is
 * [frames][h][w][c]; 1: x is [frames / 2][h][w][2c] and output frame f takes
 * channels (f % 2) * c .. of input frame f / 2 (the time_conv's frame doubling). */
vs_status vs_cuda_vae_upsample2x(uint16_t *y, const uint16_t *x, int frames, int h, int w, int c,
                                 int interleaved);

/* In place on s[rows][ld]: softmax of the first `cols` entries of each row
 * (f32 math); entries cols..ld-1 become 0. */
vs_status vs_cuda_vae_softmax_rows(uint16_t *s, int64_t rows, int64_t cols, int64_t ld);

/* y[p][c] (BF16) = x[c][p] (F32): one latent frame into channels-last. */
vs_status vs_cuda_vae_to_channels_last(uint16_t *y, const float *x, int c, int64_t pixels);

/* y[t][c][p] (F32) = x[t][p][0..c-1] + bias[c]: the output convolution's
 * channels-last rows of cs >= c channels (zero padded) into frame-major planes. */
vs_status vs_cuda_vae_to_planes(float *y, const uint16_t *x, const float *bias, int frames, int c, int cs,
                                int64_t pixels);

#ifdef __cplusplus
}
#endif
#endif
