/* Rotary position tables for video tokens on a frames x height x width grid
 * (frame-major, as the DiTs patch them). Each head's interleaved pairs
 * (2j, 2j+1) are cut into three runs, turning with the token's frame, row and
 * column index: pair i of a run of d dimensions (d / 2 pairs) turns by
 *     angle = position * theta^(-2i / d).
 * Wan 2.1 cuts a head of D dimensions into D - 4(D/6), 2(D/6), 2(D/6) with
 * theta 1e4; HunyuanVideo into 16, 56, 56 with theta 256. */
#ifndef VS_MODELS_COMMON_ROPE_H
#define VS_MODELS_COMMON_ROPE_H

#ifdef __cplusplus
extern "C" {
#endif

/* cos_out, sin_out: [frames * height * width, head_dim / 2] with head_dim the
 * sum of axis_dims (each even). */
void vs_rope3d_table(const int axis_dims[3], double theta, int frames, int height, int width, float *cos_out,
                     float *sin_out);

#ifdef __cplusplus
}
#endif
#endif
