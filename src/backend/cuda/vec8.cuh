/* Eight consecutive values moved through one 16-byte access (pointers 16-byte aligned), computed on in f32:
 * BF16 (as uint16_t bits, or __nv_bfloat16) and F32. Shared by the row and element-wise kernels. */
#ifndef VS_BACKEND_CUDA_VEC8_CUH
#define VS_BACKEND_CUDA_VEC8_CUH

#include <cuda_bf16.h>
#include <stdint.h>

__device__ __forceinline__ float vs_bf16_bits_to_f32(uint16_t h) {
    return __uint_as_float((uint32_t)h << 16);
}
__device__ __forceinline__ uint16_t vs_f32_to_bf16_bits(float f) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}
/* f as a BF16 store would keep it (round to nearest even), back in f32. */
__device__ __forceinline__ float vs_round_to_bf16(float f) {
    return vs_bf16_bits_to_f32(vs_f32_to_bf16_bits(f));
}

__device__ __forceinline__ void vs_load8(const uint16_t *p, float *v) {
    const uint4 u = *reinterpret_cast<const uint4 *>(p);
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; i++)
        v[2 * i] = __uint_as_float(w[i] << 16), v[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
}
__device__ __forceinline__ void vs_load8(const __nv_bfloat16 *p, float *v) {
    vs_load8(reinterpret_cast<const uint16_t *>(p), v);
}
__device__ __forceinline__ void vs_load8(const float *p, float *v) {
    const float4 a = *reinterpret_cast<const float4 *>(p), b = *reinterpret_cast<const float4 *>(p + 4);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
/* BF16 rounded to nearest even. */
__device__ __forceinline__ void vs_store8(uint16_t *p, const float *v) {
    uint32_t w[4];
#pragma unroll
    for (int i = 0; i < 4; i++)
        w[i] = (uint32_t)vs_f32_to_bf16_bits(v[2 * i]) | ((uint32_t)vs_f32_to_bf16_bits(v[2 * i + 1]) << 16);
    *reinterpret_cast<uint4 *>(p) = make_uint4(w[0], w[1], w[2], w[3]);
}
__device__ __forceinline__ void vs_store8(__nv_bfloat16 *p, const float *v) {
    vs_store8(reinterpret_cast<uint16_t *>(p), v);
}
__device__ __forceinline__ void vs_store8(float *p, const float *v) {
    *reinterpret_cast<float4 *>(p) = make_float4(v[0], v[1], v[2], v[3]);
    *reinterpret_cast<float4 *>(p + 4) = make_float4(v[4], v[5], v[6], v[7]);
}

#endif
