/* SVG's block lists on cuDNN's fused attention.
 *
 * The video rows of an SVG block list are one band beside the first-frame
 * sink and the dense text columns after the video (vs_attn_find_band): query
 * block i attends key blocks [0, sink), its band [lo(i), hi(i)] and [tail, nb).
 * For those rows the sparse attention is
 *   - batches of dense attentions: query block i (128 rows) against the keys
 *     of its band, contiguous from block lo(i). Where the whole band fits
 *     (lo = i - half, hi = i + half), queries and keys both advance by one
 *     block per batch entry, so the batch is a plain strided tensor
 *     (overlapping key windows) that cuDNN runs at its dense rate; where the
 *     band is clipped by the sink (every entry's keys start at the sink) or by
 *     the tail or the sequence's end, per-entry key counts bound the same
 *     kind of batch;
 *   - one dense attention of all those rows to the tail and the sink, one
 *     contiguous key range because the tail's keys are copied in front of the
 *     gathered keys;
 *   - merged row by row through the two softmax log-sum-exps.
 * The remaining rows (the text rows; every row of a list without a band) go
 * through cuDNN's paged attention: with the keys cut into pages of one block,
 * each query block is a batch entry whose pages are its key blocks
 * (vs_cudnn_paged_attention). Temporal heads need their tokens in token-major
 * order for the band to be contiguous, so q, k and v are first gathered into
 * that order per head (SVG's layout transformation, done as a copy here); the
 * merge and a scatter write each output row back where it came from. Where
 * cuDNN has no paged engine the remaining rows run on our block-sparse kernel.
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
 * head_dim] attention: finds the band rows, uploads their key counts, the
 * page table of the other rows (and their list, for our kernel) and allocates
 * the scratch of one batch entry (copies of q, k and v padded to whole blocks,
 * the tail's keys and values, the band rows' two partial outputs and the
 * other rows' output, all 16-bit). */
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
