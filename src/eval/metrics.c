#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

enum { WINDOW = 11 };

static vs_status check_pair(const vs_tensor *a, const vs_tensor *b, const char *what) {
    const vs_tensor *t[2] = {a, b};
    for (int i = 0; i < 2; i++)
        if (!t[i] || !t[i]->data || t[i]->dtype != VS_U8 || t[i]->device != VS_CPU || t[i]->ndim != 4 ||
            t[i]->shape[3] != 3 || !vs_tensor_is_contiguous(t[i]))
            return vs_fail(VS_ERR_SHAPE, "%s: videos must be contiguous u8 [T, H, W, 3] in host memory", what);
    if (memcmp(a->shape, b->shape, 4 * sizeof a->shape[0]) != 0)
        return vs_fail(VS_ERR_SHAPE, "%s: video [%lld, %lld, %lld, 3] against a reference [%lld, %lld, %lld, 3]", what,
                       (long long)a->shape[0], (long long)a->shape[1], (long long)a->shape[2], (long long)b->shape[0],
                       (long long)b->shape[1], (long long)b->shape[2]);
    return VS_OK;
}

vs_status vs_video_psnr(const vs_tensor *video, const vs_tensor *reference, double *psnr) {
    VS_TRY(check_pair(video, reference, "PSNR"));
    const uint8_t *x = video->data, *y = reference->data;
    const int64_t n = vs_tensor_numel(video);
    double se = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - y[i];
        se += d * d;
    }
    *psnr = se == 0 ? INFINITY : 10.0 * log10(255.0 * 255.0 / (se / (double)n));
    return VS_OK;
}

vs_status vs_video_ssim(const vs_tensor *video, const vs_tensor *reference, double *ssim) {
    VS_TRY(check_pair(video, reference, "SSIM"));
    const int64_t T = video->shape[0], H = video->shape[1], W = video->shape[2];
    if (H < WINDOW || W < WINDOW)
        return vs_fail(VS_ERR_SHAPE, "SSIM: frames of %lldx%lld are smaller than the %dx%d window", (long long)W,
                       (long long)H, WINDOW, WINDOW);
    double g[WINDOW], gsum = 0;
    for (int i = 0; i < WINDOW; i++) gsum += g[i] = exp(-(i - WINDOW / 2) * (i - WINDOW / 2) / (2 * 1.5 * 1.5));
    for (int i = 0; i < WINDOW; i++) g[i] /= gsum;
    double *lx = malloc(sizeof(double) * (size_t)(H * W)), *ly = malloc(sizeof(double) * (size_t)(H * W));
    if (!lx || !ly) {
        free(lx);
        free(ly);
        return vs_fail(VS_ERR_OOM, "SSIM: out of memory");
    }
    const double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
    double total = 0;
    int64_t count = 0;
    for (int64_t t = 0; t < T; t++) {
        const uint8_t *a = (const uint8_t *)video->data + t * H * W * 3, *b = (const uint8_t *)reference->data + t * H * W * 3;
        for (int64_t p = 0; p < H * W; p++) {
            lx[p] = 0.299 * a[3 * p] + 0.587 * a[3 * p + 1] + 0.114 * a[3 * p + 2];
            ly[p] = 0.299 * b[3 * p] + 0.587 * b[3 * p + 1] + 0.114 * b[3 * p + 2];
        }
        for (int64_t y0 = 0; y0 + WINDOW <= H; y0++)
            for (int64_t x0 = 0; x0 + WINDOW <= W; x0++) {
                double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
                for (int i = 0; i < WINDOW; i++)
                    for (int j = 0; j < WINDOW; j++) {
                        double w = g[i] * g[j], u = lx[(y0 + i) * W + x0 + j], v = ly[(y0 + i) * W + x0 + j];
                        mx += w * u, my += w * v, sxx += w * u * u, syy += w * v * v, sxy += w * u * v;
                    }
                sxx -= mx * mx, syy -= my * my, sxy -= mx * my;
                total += ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
                count++;
            }
    }
    free(lx);
    free(ly);
    *ssim = total / (double)count;
    return VS_OK;
}
