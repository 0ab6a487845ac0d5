/* SVG's block lists on cuDNN's fused attention.
 *
 * Most rows of an SVG block list are one uniform band beside the first-frame
 * sink (vs_attn_find_band): query block i attends key blocks [0, sink) and
 * [i - half, i + half]. For those rows the sparse attention is
 *   - a batch of equal dense attentions: query block i (128 rows) against the
 *     (2 half + 1) * 128 keys starting at block i - half. With queries and
 *     keys both advancing by one block per batch entry, the batch is a plain
 *     strided tensor (overlapping key windows), which cuDNN runs at its dense
 *     rate;
 *   - one dense attention of all those rows to the sink's keys;
 *   - merged row by row through the two softmax log-sum-exps.
 * The remaining rows (the start, where band and sink meet, and the end; every
 * row of a list without a band) go through cuDNN's paged attention: with the
 * keys cut into pages of one block, each query block is a batch entry whose
 * pages are its key blocks (vs_cudnn_paged_attention). Temporal heads need
 * their tokens in token-major order for the band to be contiguous, so q, k
 * and v are first gathered into that order per head (SVG's layout
 * transformation, done as a copy here); the merge and a scatter write each
 * output row back where it came from. Where cuDNN has no paged engine the
 * remaining rows run on our block-sparse kernel.
 * Semantics are exactly those of the block list (src/ops/attention.h). */
#ifndef VS_BACKEND_CUDA_BAND_ATTENTION_H
#define VS_BACKEND_CUDA_BAND_ATTENTION_H

#include "backend/attention_args.h"
#include "backend/block_list.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_cuda_band vs_cuda_band;

/* Prepares the path for `host_blocks` (a host CSR) on [batch, seq_len, heads,
 * head_dim] attention: finds the band rows, uploads the page table of the
 * other rows (and their list, for our kernel) and allocates the scratch of
 * one batch entry (copies of q, k and v padded to whole blocks, the band
 * rows' two partial outputs and the other rows' output, all 16-bit). */
vs_status vs_cuda_band_create(vs_cuda_band **out, const vs_attn_blocks *host_blocks, int seq_len, int heads,
                              int head_dim);
void vs_cuda_band_free(vs_cuda_band *band);
/* The band rows' part of the list, as found. */
vs_attn_band vs_cuda_band_rows(const vs_cuda_band *band);

/* Block-sparse attention of `args` (its block list is the one the band was
 * made from; head_layout as in src/ops/attention.h). VS_ERR_UNSUPPORTED when
 * cuDNN has no engine for the band's shapes, before anything is written:
 * the caller then runs vs_cuda_flash_attention. */
vs_status vs_cuda_band_attention(const vs_cuda_band *band, const vs_attn_args *args, void *stream);

#ifdef __cplusplus
}
#endif
#endif
