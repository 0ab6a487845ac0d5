/* The CPU reference of the FP8 linears (ops.h's vs_op_quantize_fp8,
 * vs_op_linear_fp8): the same row-wise quantisation as the CUDA kernel, bit
 * for bit, and the GEMM on the decoded E4M3 values (exact in f32) with the
 * row and column scales applied after the sum, as cuBLASLt applies them. */
#ifndef VS_BACKEND_CPU_FP8_CPU_H
#define VS_BACKEND_CPU_FP8_CPU_H

#include <stdint.h>

#include "vidsparse.h"

/* q[r, :] = e4m3(x[r, :] * (448 / amax_r)), scale[r] = amax_r / 448 (1 for a zero row); x F32 [rows, cols]. */
void vs_cpu_quantize_fp8(uint8_t *q, float *scale, const float *x, int64_t rows, int64_t cols);

/* y[r, o] = (sum_i xq[r, i] wq[o, i]) * x_scale[r] * w_scale[o] + (bias ? bias[o] : 0), GELU-tanh after when
 * `gelu`; y F32 [rows, out]. */
vs_status vs_cpu_linear_fp8(float *y, const uint8_t *xq, const float *x_scale, const uint8_t *wq,
                            const float *w_scale, const float *bias, int64_t rows, int64_t out, int64_t in,
                            int gelu);

#endif
