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

#ifdef __cplusplus
}
#endif
#endif
