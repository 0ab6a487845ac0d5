#include "core/dtype.h"

#include <math.h>

size_t vs_dtype_size(vs_dtype dtype) {
    switch (dtype) {
    case VS_F32: case VS_I32: return 4;
    case VS_F16: case VS_BF16: return 2;
    case VS_F8E4M3: case VS_U8: return 1;
    case VS_I64: return 8;
    }
    return 0;
}

const char *vs_dtype_name(vs_dtype dtype) {
    switch (dtype) {
    case VS_F32: return "F32";
    case VS_F16: return "F16";
    case VS_BF16: return "BF16";
    case VS_F8E4M3: return "F8_E4M3";
    case VS_I32: return "I32";
    case VS_I64: return "I64";
    case VS_U8: return "U8";
    }
    return "?";
}

int vs_dtype_is_float(vs_dtype dtype) {
    return dtype == VS_F32 || dtype == VS_F16 || dtype == VS_BF16 || dtype == VS_F8E4M3;
}

float vs_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float magnitude;
    if (exponent == 0) magnitude = ldexpf((float)mantissa, -24);            /* zero, subnormal */
    else if (exponent == 31) magnitude = mantissa ? NAN : INFINITY;
    else magnitude = ldexpf((float)(mantissa | 0x400), (int)exponent - 25);
    uint32_t bits;
    memcpy(&bits, &magnitude, 4);
    bits |= sign;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t vs_f32_to_f16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    float a = fabsf(f);
    if (isnan(f)) return sign | 0x7e00;
    if (a >= 65520.0f) return sign | 0x7c00;                   /* rounds to infinity */
    if (a < 6.103515625e-05f) {                                /* subnormal: units of 2^-24 */
        return sign | (uint16_t)lrintf(a * 16777216.0f);
    }
    int e;
    float m = frexpf(a, &e);                                   /* a = m * 2^e, m in [0.5,1) */
    uint32_t mant = (uint32_t)lrintf(ldexpf(m, 11));           /* 11 significant bits */
    if (mant == 2048) { mant = 1024; e++; }
    return sign | (uint16_t)(((uint32_t)(e + 14) << 10) | (mant & 0x3ff));
}

/* E4M3 (fn variant): bias 7, no infinities, 0x7f/0xff are NaN, max 448. */
float vs_f8e4m3_to_f32(uint8_t v) {
    int sign = v >> 7, exponent = (v >> 3) & 0xf, mantissa = v & 7;
    float magnitude;
    if (exponent == 15 && mantissa == 7) magnitude = NAN;
    else if (exponent == 0) magnitude = ldexpf((float)mantissa, -9);
    else magnitude = ldexpf((float)(mantissa | 8), exponent - 10);
    return sign ? -magnitude : magnitude;
}

uint8_t vs_f32_to_f8e4m3(float f) {
    uint8_t sign = signbit(f) ? 0x80 : 0;
    float a = fabsf(f);
    if (isnan(f)) return sign | 0x7f;
    if (a >= 464.0f) return sign | 0x7e;                       /* saturate to 448 */
    if (a < ldexpf(1.0f, -6)) return sign | (uint8_t)lrintf(ldexpf(a, 9));
    int e;
    float m = frexpf(a, &e);
    int mant = (int)lrintf(ldexpf(m, 4));                      /* 4 significant bits */
    if (mant == 16) { mant = 8; e++; }
    return sign | (uint8_t)(((e + 6) << 3) | (mant & 7));
}

static float load_as_f32(const void *src, vs_dtype dtype, int64_t i) {
    switch (dtype) {
    case VS_F32: return ((const float *)src)[i];
    case VS_F16: return vs_f16_to_f32(((const uint16_t *)src)[i]);
    case VS_BF16: return vs_bf16_to_f32(((const uint16_t *)src)[i]);
    case VS_F8E4M3: return vs_f8e4m3_to_f32(((const uint8_t *)src)[i]);
    default: return 0.0f;
    }
}

static void store_from_f32(void *dst, vs_dtype dtype, int64_t i, float v) {
    switch (dtype) {
    case VS_F32: ((float *)dst)[i] = v; break;
    case VS_F16: ((uint16_t *)dst)[i] = vs_f32_to_f16(v); break;
    case VS_BF16: ((uint16_t *)dst)[i] = vs_f32_to_bf16(v); break;
    case VS_F8E4M3: ((uint8_t *)dst)[i] = vs_f32_to_f8e4m3(v); break;
    default: break;
    }
}

void vs_convert(void *dst, vs_dtype dst_dtype, const void *src, vs_dtype src_dtype, int64_t n) {
    if (dst_dtype == src_dtype) {
        memcpy(dst, src, (size_t)n * vs_dtype_size(dst_dtype));
        return;
    }
    for (int64_t i = 0; i < n; i++) store_from_f32(dst, dst_dtype, i, load_as_f32(src, src_dtype, i));
}
