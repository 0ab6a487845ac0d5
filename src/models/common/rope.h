/* Rotary position tables for video tokens on a frames x height x width grid
 * (frame-major, as the DiTs patch them). Each head's interleaved pairs
 * (2j, 2j+1) are cut into three runs, turning with the token's frame, row and
 * column index: pair i of a run of d dimensions (d / 2 pairs) turns by
 *     angle = position * theta^(-2i / d).
 * Wan 2.1 cuts a head of D dimensions into D - 4(D/6), 2(D/6), 2(D/6) with
 * theta 1e4; HunyuanVideo into 16, 56, 56 with theta 256. */
#ifndef VS_MODELS_COMMON_ROPE_H
#define VS_MODELS_COMMON_ROPE_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cos_out, sin_out: [frames * height * width, head_dim / 2] with head_dim the
 * sum of axis_dims (each even). */
void vs_rope3d_table(const int axis_dims[3], double theta, int frames, int height, int width, float *cos_out,
                     float *sin_out);

/* The tables of vs_rope3d_table for a grid (frames, height, width) as F32 tensors
 * [F * H * W, head_dim / 2] on `device`, freshly allocated into cos and sin
 * (both left unallocated on failure). */
vs_status vs_rope3d_tensors(const int axis_dims[3], double theta, const int grid[3], vs_device device,
                            vs_tensor *cos, vs_tensor *sin);

#ifdef __cplusplus
}
#endif
#endif
