/* Sparse VideoGen 2's settings (the method itself: src/sparse/svg2_method.c, docs/svg2.md). */
#ifndef VS_SPARSE_SVG2_H
#define VS_SPARSE_SVG2_H

#include "backend/sparse_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The kernels' settings for `video_tokens` video tokens from the user's (0 or negative: the default): cluster
 * counts at the reference's tokens per cluster at Wan 720p (75600 tokens: 300 query, 1000 key clusters) and
 * at least 8 query and 16 key clusters (at most one per token), top-p 0.9, 10% of the key clusters. */
vs_svg2_config vs_svg2_config_resolve(const vs_attention_params *params, int video_tokens);

#ifdef __cplusplus
}
#endif
#endif
