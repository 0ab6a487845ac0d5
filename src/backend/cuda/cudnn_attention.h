/* Dense attention through cuDNN's fused flash-attention engines (cuDNN 9
 * backend graph API). Semantics are those of src/ops/attention.h for dense
 * arguments: no block list, no head layout; kv_len may differ from seq_len
 * (cross-attention). All pointers in `args` are device pointers, dtype BF16
 * or F16, head_dim 64 or 128. */
#ifndef VS_BACKEND_CUDA_CUDNN_ATTENTION_H
#define VS_BACKEND_CUDA_CUDNN_ATTENTION_H

#include "ops/attention.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs out = softmax(scale q k^T) v on `stream` (a cudaStream_t; NULL: the
 * default stream). The execution plan of each shape (batch, lengths, heads,
 * head_dim, dtype, strides) is built on first use and cached with the
 * workspace it needs. VS_ERR_UNSUPPORTED, with cuDNN's status and the step
 * that failed, when cuDNN has no fused engine for the shape (the answer is
 * cached too): callers then use another kernel. */
vs_status vs_cudnn_attention(const vs_attn_args *args, void *stream);
/* The same, also writing each row's softmax log-sum-exp, log sum_j exp(scale
 * q k_j) (natural log), to lse: f32 [B, H, N] contiguous, 16-byte aligned.
 * Two attentions of one query over disjoint key sets merge exactly through it. */
vs_status vs_cudnn_attention_lse(const vs_attn_args *args, float *lse, void *stream);

#ifdef __cplusplus
}
#endif
#endif
