/* Adaptive LayerNorm modulation as the video DiTs apply it: a model keeps a
 * [1, K, dim] table per block, adds a per-sample [B, K, dim] projection of
 * the time embedding (or the embedding itself, [B, dim], to every chunk),
 * and reads the K chunks (shift, scale, gate, ...) as [B, dim] views, which
 * the norm, residual and linear ops take through their strides. */
#ifndef VS_MODELS_COMMON_ADALN_H
#define VS_MODELS_COMMON_ADALN_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* mod [B, K, dim] = table [1, K, dim] + emb, emb a [B, K, dim] projection or a [B, dim]
 * embedding added to each of the K chunks (the dtype and device of mod: F32). */
vs_status vs_adaln_modulation(vs_tensor *mod, const vs_tensor *table, const vs_tensor *emb);

/* Chunk k of a contiguous [B, K, dim] modulation, as a [B, dim] view (rows K * dim apart). */
vs_tensor vs_adaln_chunk(const vs_tensor *mod, int k);

/* Row b of a [B, dim] chunk view, as a [1, dim] view. */
vs_tensor vs_adaln_entry(const vs_tensor *chunk, int64_t b);

#ifdef __cplusplus
}
#endif
#endif
