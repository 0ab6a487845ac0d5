/* What the transformer text encoders (llama.c, clip_text.c) share: the
 * activation dtype per device, placing host-rearranged weights, the causal
 * mask as a two-bucket position bias for vs_op_attention_relpos, token checks,
 * the activation arena, and SiLU on activations. */
#ifndef VS_MODELS_COMMON_TEXT_WEIGHTS_H
#define VS_MODELS_COMMON_TEXT_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "vidsparse.h"

/* GEMM weights and activations: F32 on the CPU, BF16 on CUDA. */
vs_dtype vs_text_act_dtype(vs_device device);

/* A new tensor of `dtype` on `device` holding host f32 values. */
vs_status vs_text_weight_place(const float *host, int ndim, const int64_t *shape, vs_dtype dtype, vs_device device,
                               vs_tensor *out);

/* A new tensor of `dtype` on `device` with seeded uniform values in [lo, hi] (random-weight encoders for
 * benchmarks). */
vs_status vs_text_weight_random(int ndim, const int64_t *shape, vs_dtype dtype, vs_device device, uint64_t seed,
                                float lo, float hi, vs_tensor *out);

/* F32 [2, heads] position-bias table: bucket 0 (key at or before the query)
 * adds 0, bucket 1 (key after it) adds -1e30: causal attention through
 * vs_op_attention_relpos with the buckets of vs_text_upload_ids. */
vs_status vs_text_causal_table(int heads, vs_device device, vs_tensor *out);

/* ids I32 [B * N], mask I32 [B, N] (all ones when mask is NULL) and the
 * causal bucket of each key - query distance I32 [2N - 1], on the arena's device. */
vs_status vs_text_upload_ids(vs_arena *arena, const int32_t *ids, const int32_t *mask, int64_t B, int64_t N,
                             vs_tensor *ids_d, vs_tensor *mask_d, vs_tensor *buckets_d);

/* Positive sizes, ids inside the vocabulary, a token in every sequence (mask may be NULL). */
vs_status vs_text_check_tokens(const char *model, const int32_t *ids, const int32_t *mask, int batch, int n, int vocab);

/* Makes *arena hold at least `bytes` (recreating it when smaller) and empties it. */
vs_status vs_text_arena_reserve(vs_arena **arena, const char *label, vs_device device, size_t bytes);

/* The projections of one attention layer; biases NULL when absent. */
typedef struct vs_text_attn_weights {
    const vs_tensor *q, *q_bias, *k, *k_bias, *v, *v_bias, *o, *o_bias;
} vs_text_attn_weights;

/* x (F32 [B, N, heads * head_dim]) += O . softmax(Q K^T + causal + padding) V
 * on h (activations [B, N, hidden]), Q pre-scaled by its weights; RoPE on Q and
 * K when cos and sin are given (vs_op_qk_norm_rope's rotation). Scratch from
 * the arena, left allocated (the caller releases it): vs_text_attention_bytes. */
vs_status vs_text_causal_attention(vs_arena *arena, vs_tensor *x, const vs_tensor *h, const vs_text_attn_weights *w,
                                   int heads, int head_dim, const vs_tensor *cos, const vs_tensor *sin,
                                   const vs_tensor *causal, const vs_tensor *buckets, const vs_tensor *mask);
size_t vs_text_attention_bytes(int64_t B, int64_t N, int64_t heads, int64_t head_dim, vs_device device);

/* a = silu(a) for activations; `f32` is scratch of a's shape used when a is not F32. */
vs_status vs_text_silu(vs_tensor *a, vs_tensor *f32);

static inline size_t vs_text_aligned(int64_t bytes) {
    return ((size_t)bytes + VS_ARENA_ALIGN - 1) / VS_ARENA_ALIGN * VS_ARENA_ALIGN;
}

#define VS_TEXT_TAKE(arena, dtype, out, ...) \
    vs_arena_tensor(arena, dtype, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}, out)

#endif
