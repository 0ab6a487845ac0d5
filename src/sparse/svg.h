/* Sparse VideoGen (SVG) block masks, as this engine computes them.
 * docs/svg.md explains the algorithm and where it departs from the
 * reference implementation.
 *
 * The sequence is F*P video tokens (frame-major, index f*P + p) followed by C
 * text tokens. One block mask serves every sparse head: a position q attends
 * a position k when
 *     |q - k| <= band (both video)   or   k < P (first-frame sink)
 *     or q or k is a text position,
 * where band = ceil_to_128(m * P). Spatial heads read positions in
 * frame-major order, temporal heads in token-major order (vs_attn_row); the
 * mask is the same. The mask is block-granular: the 128x128 block (qb, kb) is
 * computed, whole, when any pair of positions in it is allowed. */
#ifndef VS_SPARSE_SVG_H
#define VS_SPARSE_SVG_H

#include <stdint.h>

#include "backend/block_list.h"
#include "backend/svg_sampling.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* vs_svg_config and vs_svg_config_default are public: include/vidsparse.h. */


/* Band half-width m*P in tokens, rounded up to a multiple of 128. With m = 0,
 * m comes from density the way the reference's sparsity_to_width does it:
 * with L = F*P + C, d' = d - 2*C/L (text rows and columns are dense),
 * w = L * (1 - sqrt(1 - d')), m = w / P. Assumes a valid config. */
int64_t vs_svg_band_tokens(const vs_svg_config *cfg);

/* 1 when query block qb attends key block kb: the single definition of the
 * mask. Assumes a valid config and blocks inside the sequence. */
int vs_svg_block_allowed(const vs_svg_config *cfg, int seq_len, int qb, int kb);

/* The SVG mask of cfg over seq_len tokens as an owned block list. */
vs_status vs_svg_blocks_build(const vs_svg_config *cfg, int seq_len, vs_attn_block_list *out);

#ifdef __cplusplus
}
#endif
#endif
