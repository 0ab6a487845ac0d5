/* CUDA attention kernels. All pointers in `args` (q, k, v, out, the block
 * list's row_ptr/col_idx and head_layout) are device pointers; dtype is BF16
 * or F16. Semantics are those of src/ops/attention.h. */
#ifndef VS_BACKEND_CUDA_ATTENTION_H
#define VS_BACKEND_CUDA_ATTENTION_H

#include "backend/attention_args.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flash attention forward: dense when args->blocks is NULL, block-sparse
 * otherwise; temporal heads (head_layout) read and write through the
 * token-major permutation inside the kernel, so no permuted copies exist.
 * `stream` is a cudaStream_t (NULL: the default stream). */
vs_status vs_cuda_flash_attention(const vs_attn_args *args, void *stream);

#ifdef __cplusplus
}
#endif
#endif
