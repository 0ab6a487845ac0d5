#include "backend/cpu/fp8_cpu.h"

#include <math.h>
#include <stdlib.h>

#include "backend/cpu/cpu_ops.h"
#include "core/dtype.h"
#include "core/status.h"

void vs_cpu_quantize_fp8(uint8_t *q, float *scale, const float *x, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float amax = 0.0f;
        for (int64_t i = 0; i < cols; i++)
            amax = fmaxf(amax, fabsf(xr[i]));
        /* f32 division and product, in this order on every device, so the codes agree bit for bit. */
        const float inv = amax > 0.0f ? 448.0f / amax : 1.0f;
        scale[r] = amax > 0.0f ? amax / 448.0f : 1.0f;
        for (int64_t i = 0; i < cols; i++)
            q[r * cols + i] = vs_f32_to_f8e4m3(xr[i] * inv);
    }
}

/* The decoded values of `n` E4M3 codes through a 256-entry table. */
static float *decode(const uint8_t *codes, int64_t n) {
    float table[256];
    for (int c = 0; c < 256; c++)
        table[c] = vs_f8e4m3_to_f32((uint8_t)c);
    float *out = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (out)
        for (int64_t i = 0; i < n; i++)
            out[i] = table[codes[i]];
    return out;
}

vs_status vs_cpu_linear_fp8(float *y, const uint8_t *xq, const float *x_scale, const uint8_t *wq,
                            const float *w_scale, const float *bias, int64_t rows, int64_t out, int64_t in,
                            int gelu) {
    float *x = decode(xq, rows * in), *w = decode(wq, out * in);
    if (!x || !w) {
        free(x), free(w);
        return vs_fail(VS_ERR_OOM, "linear_fp8: no memory to decode %lld x %lld and %lld x %lld E4M3 values",
                       (long long)rows, (long long)in, (long long)out, (long long)in);
    }
    vs_cpu_gemm(0, 1, rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++)
            y[r * out + o] = y[r * out + o] * x_scale[r] * w_scale[o] + (bias ? bias[o] : 0.0f);
    if (gelu) vs_cpu_gelu_tanh(y, rows * out);
    free(x), free(w);
    return VS_OK;
}
