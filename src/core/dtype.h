/* Scalar conversions between storage dtypes and f32 (round to nearest even). */
#ifndef VS_CORE_DTYPE_H
#define VS_CORE_DTYPE_H

#include <stdint.h>
#include <string.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

static inline float vs_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t vs_f32_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40); /* quiet NaN */
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

float vs_f16_to_f32(uint16_t h);
uint16_t vs_f32_to_f16(float f);
float vs_f8e4m3_to_f32(uint8_t v);
uint8_t vs_f32_to_f8e4m3(float f);

/* Converts n elements between any two of F32/F16/BF16/F8E4M3 (host memory). */
void vs_convert(void *dst, vs_dtype dst_dtype, const void *src, vs_dtype src_dtype, int64_t n);
int vs_dtype_is_float(vs_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
