/* f32 CPU kernels shared by every model's CPU path (DiT, text encoder, VAE).
 * Row-major, contiguous unless a leading dimension is given. Large loops run
 * on the thread pool (core/threadpool.h). These are the reference path for
 * the CUDA kernels and the engine of the embedded model on CPU. */
#ifndef VS_BACKEND_CPU_OPS_H
#define VS_BACKEND_CPU_OPS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* C[m,n] = alpha * op(A)[m,k] . op(B)[k,n] + beta * C, op = transpose when trans_* is set
 * (A stored [k,m], B stored [n,k]). Through OpenBLAS when available. */
void vs_cpu_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                 int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* y[r,:] = x[r,:] / sqrt(mean(x[r,:]^2) + eps) * (weight ? weight : 1). */
void vs_cpu_rmsnorm(float *y, const float *x, const float *weight, int64_t rows, int64_t dim, float eps);
/* y[r,:] = (x[r,:] - mean) / sqrt(var + eps) * (weight ? weight : 1) + (bias ? bias : 0). */
void vs_cpu_layernorm(float *y, const float *x, const float *weight, const float *bias, int64_t rows,
                      int64_t dim, float eps);
/* In place, elementwise. */
void vs_cpu_gelu_tanh(float *x, int64_t n);
void vs_cpu_gelu_erf(float *x, int64_t n);
void vs_cpu_silu(float *x, int64_t n);
/* Softmax over each row of length `cols`, in place, max-subtracted. */
void vs_cpu_softmax_rows(float *x, int64_t rows, int64_t cols);
/* y[r,:] += bias[:] for every row. */
void vs_cpu_add_bias(float *y, const float *bias, int64_t rows, int64_t cols);

/* Rotates the interleaved pairs (2j, 2j+1) of every head of x [rows, heads * head_dim]
 * in place: row r uses row r % tokens of cos/sin [tokens, head_dim / 2]. */
void vs_cpu_rope_pairs(float *x, int64_t rows, int64_t tokens, int heads, int head_dim, const float *cos_table,
                       const float *sin_table);

/* patches[b, (f,h,w), (c,i,j,k)] = latents[b, c, f*pt+i, h*ph+j, w*pw+k]: the patches of a
 * Conv3d with stride = kernel = patch, flattened like its weight. F, H, W: multiples of the patch. */
void vs_cpu_patchify(float *patches, const float *latents, int64_t batch, int64_t channels, int64_t frames,
                     int64_t height, int64_t width, const int patch[3]);
/* latents[b, c, f*pt+i, h*ph+j, w*pw+k] = patches[b, (f,h,w), (i,j,k,c)]: the inverse of
 * a patch-wise output projection whose columns are ordered (t, h, w, c). */
void vs_cpu_unpatchify(float *latents, const float *patches, int64_t batch, int64_t channels, int64_t frames,
                       int64_t height, int64_t width, const int patch[3]);

#ifdef __cplusplus
}
#endif
#endif
