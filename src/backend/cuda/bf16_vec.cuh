/* BF16 values as the VAE kernels move them: one at a time, or eight in one 16-byte vector (a uint4),
 * converted to and from floats (round to nearest even). */
#ifndef VS_BACKEND_CUDA_BF16_VEC_CUH
#define VS_BACKEND_CUDA_BF16_VEC_CUH

#include <cuda_bf16.h>
#include <stdint.h>

static __device__ __forceinline__ float bf16_to_f32(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }
static __device__ __forceinline__ uint16_t f32_to_bf16(float f) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

static __device__ __forceinline__ void unpack8(const uint4 &u, float *v) {
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
    for (int i = 0; i < 4; i++)
        v[2 * i] = bf16_to_f32((uint16_t)w[i]), v[2 * i + 1] = bf16_to_f32((uint16_t)(w[i] >> 16));
}
static __device__ __forceinline__ uint4 pack8(const float *v) {
    uint32_t w[4];
    for (int i = 0; i < 4; i++)
        w[i] = (uint32_t)f32_to_bf16(v[2 * i]) | ((uint32_t)f32_to_bf16(v[2 * i + 1]) << 16);
    return make_uint4(w[0], w[1], w[2], w[3]);
}

#endif
