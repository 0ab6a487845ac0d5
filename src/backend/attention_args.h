/* Attention as every backend computes it: the kernel contract, below ops/ so that
 * backends need no upper layer. One argument block describes
 * dense, block-sparse and layout-transformed (SVG temporal) attention so the
 * CPU reference and the CUDA kernels share semantics exactly.
 *
 *   out[b, i, h, :] = sum_j softmax_j(scale * q[b,i,h,:] . k[b,j,h,:]) v[b,j,h,:]
 *
 * Tensors are [B, N, H, D] (k and v: [B, kv_len, H, D]) with D contiguous, heads D apart, and arbitrary
 * token and batch strides (in elements), the layout the QKV projections write.
 *
 * Block sparsity: the sequence is cut into VS_ATTN_BLOCK-token blocks (the
 * last may be short). Query block i attends exactly the key blocks listed in
 * col_idx[row_ptr[i] .. row_ptr[i+1]) (sorted, no repeats). A query block with
 * no key blocks produces zeros.
 *
 * Layout transformation (SVG temporal heads): where head_layout[b*H+h] is
 * VS_LAYOUT_TOKEN_MAJOR, the block pattern applies to the token-major order
 * of the first F*P video tokens: position r < F*P stands for token
 * (f = r % F, p = r / F), stored at row f*P + p; positions >= F*P (text) are
 * unchanged. Outputs go back to the rows they came from, so callers never
 * see the permuted order. */
#ifndef VS_BACKEND_ATTENTION_ARGS_H
#define VS_BACKEND_ATTENTION_ARGS_H

#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VS_ATTN_BLOCK 128

enum { VS_LAYOUT_FRAME_MAJOR = 0, VS_LAYOUT_TOKEN_MAJOR = 1 };

typedef struct vs_attn_blocks {
    int num_q_blocks;
    int num_k_blocks;
    const int32_t *row_ptr; /* [num_q_blocks + 1] */
    const int32_t *col_idx; /* [row_ptr[num_q_blocks]] */
} vs_attn_blocks;

typedef struct vs_attn_args {
    vs_dtype dtype; /* F32 on CPU; BF16 or F16 on CUDA */
    const void *q, *k, *v;
    void *out;
    int batch, heads, seq_len, head_dim; /* seq_len: query rows */
    int kv_len;                          /* key/value rows; 0: seq_len (self-attention) */
    int64_t q_stride_b, q_stride_n, k_stride_b, k_stride_n;
    int64_t v_stride_b, v_stride_n, o_stride_b, o_stride_n;
    float scale;                   /* usually 1/sqrt(head_dim) */
    const vs_attn_blocks *blocks;  /* NULL: dense */
    const uint8_t *head_layout;    /* NULL: all frame-major; else [batch*heads] */
    int frames, tokens_per_frame;  /* F, P for the token-major mapping */
    int fp8;                       /* dense only: attend in FP8 (E4M3 Q, K, V, per-head scales; CUDA, Hopper) */
} vs_attn_args;

/* Row of the stored tensor that position r of head layout `layout` reads. */
static inline int64_t vs_attn_row(int64_t r, int layout, int frames, int tokens_per_frame) {
    int64_t video = (int64_t)frames * tokens_per_frame;
    if (layout != VS_LAYOUT_TOKEN_MAJOR || r >= video) return r;
    return (r % frames) * tokens_per_frame + r / frames;
}

/* Keys attended: kv_len, or seq_len for self-attention. Block lists and
 * head layouts are defined for self-attention only. */
static inline int vs_attn_kv_len(const vs_attn_args *a) { return a->kv_len > 0 ? a->kv_len : a->seq_len; }

/* Which attention kernels run on `device`, from the environment variable
 * `variable` (VS_DENSE_ATTN for dense attention, VS_SPARSE_ATTN for block
 * lists): "cudnn" (the default; for block lists the band path of
 * backend/cuda/band_attention.h) or "ours" (our flash kernel) on CUDA, "cpu"
 * on the CPU. Fails on any other value of the variable. */
vs_status vs_attention_kernels(const char *variable, vs_device device, const char **name);

/* Fills args' strides for contiguous [B, N, H, D] tensors. */
void vs_attn_args_contiguous(vs_attn_args *args);
/* Checks shapes, strides, block list and layout fields; clear error on misuse. */
vs_status vs_attn_args_validate(const vs_attn_args *args);

#ifdef __cplusplus
}
#endif
#endif
