/* Block-sparse attention on cuDNN's fused attention with paged keys and values.
 *
 * A block list says which 128-token key blocks each 128-token query block
 * attends. Cut the keys and values into pages of one block each and the list
 * is a page table: query block i is one batch entry of cuDNN's paged
 * attention, its keys the pages col_idx[row_ptr[i] .. row_ptr[i+1]) and its
 * key count their total length. cuDNN then runs every row, whatever its
 * shape (SVG's sink plus band, the clipped rows at either end, the short last
 * block), at close to its dense rate, with nothing to merge.
 *
 * Per batch entry of the attention: q is gathered into token-major order per
 * head (SVG's layout transformation, as a copy) and k, v into pages; cuDNN
 * writes each query block's output; a scatter puts every output row back at
 * the row it came from (zeros for query blocks with no key blocks).
 * Semantics are exactly those of the block list (src/ops/attention.h). */
#ifndef VS_BACKEND_CUDA_PAGED_ATTENTION_H
#define VS_BACKEND_CUDA_PAGED_ATTENTION_H

#include "ops/attention.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_cuda_paged vs_cuda_paged;

/* Prepares `host_blocks` (a host CSR over seq_len tokens) for [batch,
 * seq_len, heads, head_dim] attention: uploads the page table and lengths and
 * allocates the scratch of one batch entry (q, k, v and out copies, each
 * [blocks * 128, heads, head_dim] 16-bit, tails zeroed). */
vs_status vs_cuda_paged_create(vs_cuda_paged **out, const vs_attn_blocks *host_blocks, int seq_len, int heads,
                               int head_dim);
void vs_cuda_paged_free(vs_cuda_paged *paged);

/* Block-sparse attention of `args` (its block list is the one the pages were
 * made from; head_layout as in src/ops/attention.h). VS_ERR_UNSUPPORTED when
 * cuDNN has no engine for the shape, before anything is written: the caller
 * then runs vs_cuda_flash_attention. */
vs_status vs_cuda_paged_attention(const vs_cuda_paged *paged, const vs_attn_args *args, void *stream);

#ifdef __cplusplus
}
#endif
#endif
