/* E4M3 codes, eight values at a time: the row quantisation of the FP8 linears' inputs (in the quantising
 * kernel, the norm and the GEMM epilogue), FP8 attention's per-head codes of Q, K and V (the dense path's
 * quantising kernel and the band path's gather), and their decoding. */
#ifndef VS_BACKEND_CUDA_FP8_CODES_CUH
#define VS_BACKEND_CUDA_FP8_CODES_CUH

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <stdint.h>

#include "backend/cuda/block_reduce.cuh"

/* Row quantisation (vs_op_quantize_fp8, the CPU's vs_cpu_quantize_fp8 bit for bit): a row whose largest
 * magnitude is amax gets the scale amax / 448 and its values the codes of v * (448 / amax), IEEE-rounded
 * quotients and products, codes rounded to nearest even and saturated; a row of zeros has scale 1. */
__device__ __forceinline__ float vs_fp8_row_scale(float amax) {
    return amax > 0.0f ? __fdiv_rn(amax, 448.0f) : 1.0f;
}
__device__ __forceinline__ float vs_fp8_row_multiplier(float amax) {
    return amax > 0.0f ? __fdiv_rn(448.0f, amax) : 1.0f;
}
__device__ __forceinline__ uint2 vs_fp8_row_codes8(const float v[8], float multiplier) {
    uint2 out;
    uint16_t *pairs = reinterpret_cast<uint16_t *>(&out);
#pragma unroll
    for (int k = 0; k < 4; k++)
        pairs[k] = __nv_cvt_float2_to_fp8x2(
            make_float2(__fmul_rn(v[2 * k], multiplier), __fmul_rn(v[2 * k + 1], multiplier)), __NV_SATFINITE,
            __NV_E4M3);
    return out;
}

/* FP8 attention's codes of eight BF16 values: each less its channel's mean (K's smoothing; `mean`: the eight
 * channels' sums, times inv_rows gives their means; NULL: none), times the head's multiplier. */
__device__ __forceinline__ uint2 vs_fp8_codes8(uint4 bf16x8, const float *mean, float inv_rows, float mul) {
    const __nv_bfloat16 *in = reinterpret_cast<const __nv_bfloat16 *>(&bf16x8);
    float v[8];
#pragma unroll
    for (int k = 0; k < 8; k++)
        v[k] = __bfloat162float(in[k]) - (mean ? mean[k] * inv_rows : 0.0f);
    return vs_fp8_row_codes8(v, mul);
}

/* A row quantised by the thread block that holds it in registers: thread t's group c (of Chunks) is the row's
 * values (c * blockDim.x + t) * 8 .. + 8, those at or past `cols` unused. The block's largest magnitude gives
 * the row's scale (*scale) and multiplier, then each thread writes its groups' codes into codes[0, cols). */
template <int Chunks>
__device__ __forceinline__ void vs_fp8_block_row_codes(const float (&v)[Chunks][8], int cols, uint8_t *codes,
                                                       float *scale, float *scratch) {
    float amax = 0.0f;
#pragma unroll
    for (int c = 0; c < Chunks; c++)
        if ((c * blockDim.x + threadIdx.x) * 8 < cols)
#pragma unroll
            for (int k = 0; k < 8; k++)
                amax = fmaxf(amax, fabsf(v[c][k]));
    amax = vs_block_max(amax, scratch);
    const float multiplier = vs_fp8_row_multiplier(amax);
    if (threadIdx.x == 0) *scale = vs_fp8_row_scale(amax);
#pragma unroll
    for (int c = 0; c < Chunks; c++) {
        const int i = (c * blockDim.x + threadIdx.x) * 8;
        if (i < cols) *reinterpret_cast<uint2 *>(codes + i) = vs_fp8_row_codes8(v[c], multiplier);
    }
}

/* Eight E4M3 codes to floats, times `scale`. */
__device__ __forceinline__ void vs_fp8_decode8(uint2 codes, float scale, float out[8]) {
    const __nv_fp8x2_storage_t *pairs = reinterpret_cast<const __nv_fp8x2_storage_t *>(&codes);
#pragma unroll
    for (int k = 0; k < 4; k++) {
        const float2 f = __half22float2(__half2(__nv_cvt_fp8x2_to_halfraw2(pairs[k], __NV_E4M3)));
        out[2 * k] = f.x * scale, out[2 * k + 1] = f.y * scale;
    }
}

#endif
