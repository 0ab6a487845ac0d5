/* The time and space downsampling steps of the CogVideoX VAE encoder on channels-last BF16 frames
 * ([t][h][w][c], c a multiple of 8; device pointers; f32 math). */
#ifndef VS_BACKEND_CUDA_VAE_RESAMPLE_H
#define VS_BACKEND_CUDA_VAE_RESAMPLE_H

#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[p] = (x[2p] + x[2p + 1]) / 2 for p < pairs, frames of frame_values values (a multiple of 8). */
vs_status vs_cuda_vae_mean_frame_pairs(uint16_t *y, const uint16_t *x, int pairs, int64_t frame_values);

/* y[f][i][j] = x[f][2i + 1][2j + 1] for i < (h - 2) / 2 + 1, j < (w - 2) / 2 + 1: a stride-2 3x3
 * convolution padded by one pixel at the bottom and right, read off the "same" stride-1 one. */
vs_status vs_cuda_vae_odd_pixels(uint16_t *y, const uint16_t *x, int frames, int h, int w, int c);

#ifdef __cplusplus
}
#endif
#endif
