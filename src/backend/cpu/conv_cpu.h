/* f32 CPU convolution of one output frame, written as im2col + GEMM.
 * Serves every convolution of the video VAEs: causal 3D (the time taps are
 * the frames handed in, so the caller owns the temporal padding and caches),
 * 2D and 1x1. */
#ifndef VS_BACKEND_CPU_CONV_H
#define VS_BACKEND_CPU_CONV_H

#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[co, y, x] = bias[co] + sum over ci, dt, dy, dx of
 *     weight[co, ci, dt, dy, dx] * taps[dt][ci, y + dy - kh/2, x + dx - kw/2]
 * with zeros outside the h x w frame ("same" size, stride 1, odd kh and kw).
 * taps: kt frames [cin, h, w]; weight: [cout, cin, kt, kh, kw] (PyTorch's
 * Conv3d layout, Conv2d's when kt = 1); bias: [cout] or NULL; out: [cout, h, w].
 * The im2col matrix is built a band of rows at a time (bounded memory) on the
 * thread pool; only an allocation failure makes it fail (VS_ERR_OOM). */
vs_status vs_cpu_conv_frame(float *out, const float *const *taps, int kt, int cin, int h, int w,
                            const float *weight, const float *bias, int cout, int kh, int kw);

#ifdef __cplusplus
}
#endif
#endif
