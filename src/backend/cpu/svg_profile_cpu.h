/* SVG online profiling: decides per (batch entry, head) whether the head is
 * spatial (frame-major band) or temporal (token-major band).
 *
 * For each (b, h), S query rows r_i = vs_svg_sample_row(cfg, N, b*H+h, i)
 * (b*H+h of the model, vs_svg_model_batch_head, when the heads are split over ranks)
 * are drawn. For each row the exact attention output o is computed, and the
 * outputs o_s and o_t under the block mask `blocks` read in frame-major order
 * (spatial) and in token-major order (temporal: the same query token, at its
 * token-major position vs_svg_token_major_position(r), attends the stored
 * rows vs_attn_row(u, TOKEN_MAJOR) of the positions u its block allows).
 * A row whose mask allows no key gets a zero output, as in the kernels.
 *     mse_x = mean over rows and head dims of (o_x - o)^2
 * and the head is temporal when mse_t < mse_s, spatial otherwise (ties too). */
#ifndef VS_BACKEND_CPU_SVG_PROFILE_H
#define VS_BACKEND_CPU_SVG_PROFILE_H

#include <stdint.h>

#include "backend/attention_args.h"
#include "backend/svg_sampling.h"

#ifdef __cplusplus
extern "C" {
#endif

/* On the CPU, in double precision. Reads a's dense fields only (f32 host q,
 * k, v, shapes, strides, scale); out, blocks and head_layout are not used.
 * blocks is a host block list for a->seq_len. head_layout_out[B*H] receives
 * VS_LAYOUT_FRAME_MAJOR or VS_LAYOUT_TOKEN_MAJOR; the MSE arrays ([B*H])
 * may be NULL. */
vs_status vs_svg_profile_cpu(const vs_attn_args *a, const vs_svg_config *cfg, const vs_attn_blocks *blocks,
                             uint8_t *head_layout_out, float *mse_spatial, float *mse_temporal);

#ifdef __cplusplus
}
#endif
#endif
