/* CUDA kernels behind src/ops/ops.h. Pointers are device pointers, bf16
 * values are stored as uint16_t; the launchers check only what the kernels
 * themselves need (alignment, sizes) - src/ops/ops.c validates the tensors.
 * Everything runs on the legacy default stream, in issue order. */
#ifndef VS_BACKEND_CUDA_OPS_H
#define VS_BACKEND_CUDA_OPS_H

#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[rows, out] = x[rows, in] W^T + bias (GELU-tanh after when `gelu`), all BF16,
 * f32 accumulation, through cuBLASLt with bias / GELU fused in the epilogue.
 * The process holds one cuBLASLt handle and one workspace (created on first use). */
vs_status vs_cuda_linear_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *bias, int64_t rows,
                              int64_t out, int64_t in, int gelu);

/* x[rows, out] += gate * (h[rows, in] W^T + bias): h, W, bias BF16, x and gate
 * (an [out] vector, or NULL for 1) F32; one cuBLASLt GEMM with x as its C and
 * D, after a kernel that scales W's rows and the bias by the gate into buffers
 * the process keeps (grown to the largest layer). */
vs_status vs_cuda_linear_residual_bf16(float *x, const uint16_t *h, const uint16_t *w, const uint16_t *bias,
                                       const float *gate, int64_t rows, int64_t out, int64_t in);

/* FP8 linears (ops.h's vs_op_quantize_fp8, vs_op_linear_fp8, vs_op_linear_residual_fp8). Rows of x (F32 or
 * BF16, x_dtype; cols % 8 == 0) to E4M3 codes q and scales scale[rows], one warp per row. */
vs_status vs_cuda_quantize_fp8(uint8_t *q, float *scale, const void *x, vs_dtype x_dtype, int64_t rows, int64_t cols);
/* y[rows, out] = (xq wq^T) * x_scale[r] * w_scale[o] + bias (GELU-tanh after when `gelu`), y and bias BF16:
 * one cuBLASLt FP8 GEMM with outer-vector scales, bias / GELU in its epilogue where cuBLASLt offers that
 * combination (a kernel after it otherwise). With codes: y's E4M3 codes and row scales code_scale[rows] are
 * the output (vs_cuda_quantize_fp8's of y, written by the epilogue kernel; out <= 32768), y only the space
 * the product passes through. */
vs_status vs_cuda_linear_fp8(uint16_t *y, const uint8_t *xq, const float *x_scale, const uint8_t *wq,
                             const float *w_scale, const uint16_t *bias, int64_t rows, int64_t out,
                             int64_t in, int gelu, uint8_t *codes, float *code_scale);
/* x[rows, out] += gate * ((hq wq^T) * h_scale[r] * w_scale[o] + bias): the gate (F32 [out] or NULL) folded
 * into the per-channel scales and an F32 bias, one GEMM accumulating into x. */
vs_status vs_cuda_linear_residual_fp8(float *x, const uint8_t *hq, const float *h_scale, const uint8_t *wq,
                                      const float *w_scale, const uint16_t *bias, const float *gate, int64_t rows,
                                      int64_t out, int64_t in);

/* The same map on F32 x and y with W and bias F32 or BF16 (w_dtype): one warp
 * per output column, all rows at once; for a few rows (the time embedding). */
/* The same for rows that are not 16-byte multiples (small layers only). */
vs_status vs_cuda_linear_bf16_unaligned(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *bias,
                                        int64_t rows, int64_t out, int64_t in, int gelu);
vs_status vs_cuda_linear_f32(float *y, const float *x, const void *w, const void *bias, vs_dtype w_dtype,
                             int64_t rows, int64_t out, int64_t in, int gelu);

/* y[r] = LN(x[r]) * (weight or 1) + (bias or 0), then * (1 + scale[b]) + shift[b]
 * when shift and scale are given (row r of batch entry b = r / tokens; modulation
 * rows mod_stride apart). x F32, y BF16, dim % 8 == 0. With q: y's E4M3 codes and
 * row scales q_scale as well (vs_cuda_quantize_fp8's for y, bit for bit); y may
 * then be NULL. */
vs_status vs_cuda_layernorm_modulate(uint16_t *y, uint8_t *q, float *q_scale, const float *x,
                                     const float *weight, const float *bias, const float *shift,
                                     const float *scale, int64_t mod_stride, int64_t rows, int64_t tokens,
                                     int64_t dim, float eps);

/* x[r] = RMSNorm(x[r]) * weight in place (BF16, f32 math; per_head: over each head
 * with weight [head_dim], else over the row with weight [dim]), or with a bias
 * [head_dim] (per_head set) LayerNorm of each head * weight + bias; then when cos/sin
 * are given, rotation of each head's interleaved pairs by table row r % tokens. */
vs_status vs_cuda_qk_norm_rope(uint16_t *x, const float *weight, const float *bias, const float *cos_table,
                               const float *sin_table, int64_t rows, int64_t tokens, int64_t dim, int head_dim,
                               int per_head, float eps);

/* y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * weight; x F32, y F32 or BF16 (y_dtype), dim % 8 == 0. */
vs_status vs_cuda_rmsnorm(void *y, vs_dtype y_dtype, const float *x, const float *weight, int64_t rows, int64_t dim,
                          float eps);

/* x[r] += y[r] * gate[b] (gate NULL: x += y); x F32, y BF16, b = r / tokens. */
vs_status vs_cuda_gated_residual(float *x, const uint16_t *y, const float *gate, int64_t gate_stride, int64_t rows,
                                 int64_t tokens, int64_t dim);

/* out = a + b over `shape` (ndim <= 5), a and b read through their strides, out contiguous. F32. */
vs_status vs_cuda_add_f32(float *out, const float *a, const int64_t *a_stride, const float *b,
                          const int64_t *b_stride, const int64_t *shape, int ndim);
vs_status vs_cuda_silu_f32(float *y, const float *x, int64_t n);
/* x = silu(x) in place over n BF16 values (f32 math). */
vs_status vs_cuda_silu_bf16(uint16_t *x, int64_t n);

/* out = a * b over n BF16 values, n % 8 == 0. */
vs_status vs_cuda_mul_bf16(uint16_t *out, const uint16_t *a, const uint16_t *b, int64_t n);
/* out[r] = table[ids[r]] (F32 or BF16 table) as F32, dim % 8 == 0; NaN rows for ids outside [0, vocab). */
vs_status vs_cuda_embedding(float *out, const void *table, vs_dtype table_dtype, const int32_t *ids, int64_t rows,
                            int64_t vocab, int64_t dim);

/* Row-major strided-batched GEMM, per batch entry e < batch:
 *     C_e[m, n] = A_e[m, k] . op(B_e),  op(B) = B^T of B [n, k] when trans_b, else B [k, n],
 * with row strides lda, ldb, ldc and batch strides sa, sb, sc (elements). A, B
 * BF16; C F32 or BF16 (c_dtype); f32 accumulation, through cuBLASLt. */
vs_status vs_cuda_gemm_bf16_batched(void *c, vs_dtype c_dtype, const uint16_t *a, const uint16_t *b, int trans_b,
                                    int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,
                                    int64_t sa, int64_t sb, int64_t sc, int batch);
/* The softmax step of vs_op_attention_relpos: scores F32 [B, H, N, ld] in,
 * each row's BF16 probabilities written over the first half of its bytes. */
vs_status vs_cuda_relpos_softmax(float *scores, const float *rel_table, const int32_t *buckets, const int32_t *mask,
                                 int64_t batch, int64_t heads, int64_t n, int64_t ld);
/* vs_op_attention_relpos on CUDA: q, k, v, out [B, N, H, D] BF16, scratch as there. */
vs_status vs_cuda_attention_relpos(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                                   const float *rel_table, const int32_t *buckets, const int32_t *mask, float *scores,
                                   int64_t batch, int64_t n, int64_t heads, int64_t head_dim);

/* Latents F32 [B, C, F, H, W] <-> BF16 patches: see vs_op_patchify / vs_op_unpatchify. */
vs_status vs_cuda_patchify(uint16_t *patches, const float *latents, int64_t batch, int64_t channels, int64_t frames,
                           int64_t height, int64_t width, const int patch[3]);
vs_status vs_cuda_unpatchify(float *latents, const uint16_t *patches, int64_t batch, int64_t channels,
                             int64_t frames, int64_t height, int64_t width, const int patch[3]);

/* n elements between F32, F16 and BF16. */
vs_status vs_cuda_convert(void *dst, vs_dtype dst_dtype, const void *src, vs_dtype src_dtype, int64_t n);
/* lo + (hi - lo) * vs_hash_uniform(seed, i) into element i (F32, F16 or BF16). */
vs_status vs_cuda_fill_uniform(void *data, vs_dtype dtype, int64_t n, uint64_t seed, float lo, float hi);
/* cudaMemcpy device to device. */
vs_status vs_cuda_copy(void *dst, const void *src, size_t bytes);
/* `rows` rows of `width` bytes, `src_pitch` / `dst_pitch` bytes apart, device to device (cudaMemcpy2DAsync). */
vs_status vs_cuda_copy_2d(void *dst, size_t dst_pitch, const void *src, size_t src_pitch, size_t width, size_t rows);
/* cudaDeviceSynchronize, reporting errors of kernels run since the last check. */
vs_status vs_cuda_sync(void);

#ifdef __cplusplus
}
#endif
#endif
