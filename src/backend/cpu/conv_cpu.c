#include "backend/cpu/conv_cpu.h"

#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "core/status.h"
#include "core/threadpool.h"

/* The im2col band holds at most this many floats (32 MiB). */
#define COL_BUDGET ((int64_t)8 << 20)

typedef struct {
    float *col; /* [K, rows * w], K = cin * kt * kh * kw */
    const float *const *taps;
    int kt, kh, kw, h, w, y0, rows;
} im2col_args;

/* Row k of the matrix is the input plane of (ci, dt) shifted by (dy, dx). */
static void im2col_rows(void *ctx, int64_t begin, int64_t end) {
    const im2col_args *g = ctx;
    int64_t band = (int64_t)g->rows * g->w;
    for (int64_t k = begin; k < end; k++) {
        int dx = (int)(k % g->kw), dy = (int)(k / g->kw % g->kh), dt = (int)(k / g->kw / g->kh % g->kt);
        int64_t ci = k / g->kw / g->kh / g->kt;
        const float *plane = g->taps[dt] + ci * g->h * g->w;
        float *row = g->col + k * band;
        int sx = dx - g->kw / 2; /* input x = output x + sx */
        int x0 = sx < 0 ? -sx : 0, x1 = sx > 0 ? g->w - sx : g->w;
        if (x1 < x0) x1 = x0;
        for (int r = 0; r < g->rows; r++) {
            int iy = g->y0 + r + dy - g->kh / 2;
            float *dst = row + (int64_t)r * g->w;
            if (iy < 0 || iy >= g->h) {
                memset(dst, 0, sizeof(float) * (size_t)g->w);
                continue;
            }
            memset(dst, 0, sizeof(float) * (size_t)x0);
            memcpy(dst + x0, plane + (int64_t)iy * g->w + x0 + sx, sizeof(float) * (size_t)(x1 - x0));
            memset(dst + x1, 0, sizeof(float) * (size_t)(g->w - x1));
        }
    }
}

vs_status vs_cpu_conv_frame(float *out, const float *const *taps, int kt, int cin, int h, int w,
                            const float *weight, const float *bias, int cout, int kh, int kw) {
    int64_t hw = (int64_t)h * w, k = (int64_t)cin * kt * kh * kw;
    for (int co = 0; co < cout; co++) {
        float b = bias ? bias[co] : 0.0f;
        for (int64_t p = 0; p < hw; p++) out[co * hw + p] = b;
    }
    if (kt == 1 && kh == 1 && kw == 1) { /* a 1x1 convolution is a plain matrix product */
        vs_cpu_gemm(0, 0, cout, hw, cin, 1.0f, weight, cin, taps[0], hw, 1.0f, out, hw);
        return VS_OK;
    }
    int rows = (int)(COL_BUDGET / (k * w) < 1 ? 1 : COL_BUDGET / (k * w) > h ? h : COL_BUDGET / (k * w));
    float *col = malloc(sizeof(float) * (size_t)(k * rows * w));
    if (!col) return vs_fail(VS_ERR_OOM, "out of memory for a %lldx%d im2col band", (long long)k, rows * w);
    for (int y0 = 0; y0 < h; y0 += rows) {
        int n = h - y0 < rows ? h - y0 : rows;
        im2col_args g = {col, taps, kt, kh, kw, h, w, y0, n};
        int64_t band = (int64_t)n * w;
        vs_parallel_for(k, band >= 16384 ? 1 : 16384 / band, im2col_rows, &g);
        vs_cpu_gemm(0, 0, cout, band, k, 1.0f, weight, k, col, band, 1.0f, out + (int64_t)y0 * w, hw);
    }
    free(col);
    return VS_OK;
}
