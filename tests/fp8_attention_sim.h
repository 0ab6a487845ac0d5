/* A host model of FP8 attention as backend/cuda/fp8_attention.cu and cuDNN compute it (docs/fp8.md), shared
 * by tests/test_fp8_attention_sim.c (the CPU: what the scheme costs, against f64) and
 * tests/gpu/test_fp8_attention.c (the GPU: the kernel against the same model). Tensors are [B, rows, row]
 * floats, heads of D channels at h * D in each row of `row` (>= H * D) elements. */
#ifndef VS_TESTS_FP8_ATTENTION_SIM_H
#define VS_TESTS_FP8_ATTENTION_SIM_H

#include <math.h>
#include <stdint.h>

#include "check.h"
#include "core/dtype.h"

/* A [B, rows, H, D] tensor of BF16 values, `pad` extra elements per row: uniform in [-2, 2), every 37th
 * channel of a head from 5 on times `outliers`, plus a per-channel constant of up to `offset` (a common
 * component, as DiT keys have). Returns the values as floats; *bits gets their BF16 codes. */
static float *fp8_sim_input(unsigned long long *rng, int B, int rows, int H, int D, int pad, float outliers,
                            float offset, uint16_t **bits) {
    const int64_t row = (int64_t)H * D + pad, n = (int64_t)B * rows * row;
    float *h = vs_test_malloc(sizeof(float) * (size_t)n);
    *bits = vs_test_malloc(sizeof(uint16_t) * (size_t)n);
    float *channel_offset = vs_test_malloc(sizeof(float) * (size_t)row);
    for (int64_t c = 0; c < row; c++)
        channel_offset[c] = offset * (float)vs_test_uniform(rng);
    for (int64_t i = 0; i < n; i++) {
        const int64_t c = i % row;
        float x = (float)(vs_test_uniform(rng) * 4 - 2);
        if (c % D % 37 == 5) x *= outliers;
        x += channel_offset[c];
        (*bits)[i] = vs_f32_to_bf16(x);
        h[i] = vs_bf16_to_f32((*bits)[i]);
    }
    return h;
}

/* Per head h of x ([B, rows, row], heads of D at h * D): the mean over the tokens of each batch entry and
 * channel when smooth (else 0) into mean [B, H * D], and the largest |x - mean| over batch and tokens into
 * amax[h]. */
static void fp8_sim_head_amax(const float *x, int B, int rows, int H, int D, int64_t row, int smooth,
                              double *mean, float *amax) {
    for (int b = 0; b < B; b++)
        for (int c = 0; c < H * D; c++) {
            double sum = 0;
            for (int r = 0; r < rows; r++)
                sum += x[((int64_t)b * rows + r) * row + c];
            mean[(int64_t)b * H * D + c] = smooth ? sum / rows : 0;
        }
    for (int h = 0; h < H; h++) {
        amax[h] = 0;
        for (int b = 0; b < B; b++)
            for (int r = 0; r < rows; r++)
                for (int d = 0; d < D; d++) {
                    const int c = h * D + d;
                    amax[h] = fmaxf(amax[h], fabsf(x[((int64_t)b * rows + r) * row + c] -
                                                   (float)mean[(int64_t)b * H * D + c]));
                }
    }
}

/* x[.., h, :] = e4m3((x - mean) * mul[h]) * decode[h], in place: fp8_attention.cu's codes, decoded. */
static void fp8_sim_apply(float *x, int B, int rows, int H, int D, int64_t row, const double *mean,
                          const float *mul, const double *decode) {
    for (int b = 0; b < B; b++)
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < H * D; c++) {
                float *v = &x[((int64_t)b * rows + r) * row + c];
                *v = (float)(vs_f8e4m3_to_f32(
                                 vs_f32_to_f8e4m3((*v - (float)mean[(int64_t)b * H * D + c]) * mul[c / D])) *
                             decode[c / D]);
            }
}

/* One tensor with its own scale per head: codes of (x - mean) * 448 / amax_h, decoded times amax_h / 448
 * (a zero head: 1). What fp8_attention.cu does to K (smooth) and V. In place. */
static void fp8_sim_quantise(float *x, int B, int rows, int H, int D, int64_t row, int smooth) {
    double *mean = vs_test_malloc(sizeof(double) * (size_t)B * H * D),
           *decode = vs_test_malloc(sizeof(double) * H);
    float *amax = vs_test_malloc(sizeof(float) * H), *mul = vs_test_malloc(sizeof(float) * H);
    fp8_sim_head_amax(x, B, rows, H, D, row, smooth, mean, amax);
    for (int h = 0; h < H; h++) {
        mul[h] = amax[h] > 0 ? 448.0f / amax[h] : 1.0f;
        decode[h] = amax[h] > 0 ? amax[h] / 448.0f : 1.0f;
    }
    fp8_sim_apply(x, B, rows, H, D, row, mean, mul, decode);
}

/* Q and K as fp8_attention.cu quantises them, in place: K per head (smoothed unless !smooth, scale
 * sk_h = amax_k,h / 448),
 * Q with K's scales folded in: codes of Q_h * sk_h / sq, one sq = max_h amax(Q_h) sk_h / 448 for all heads,
 * decoded times sq / sk_h (so that every head's logits are sq * Qc_h . Kc_h). */
static void fp8_sim_quantise_qk(float *q, float *k, int B, int N, int L, int H, int D, int64_t row,
                                int smooth) {
    double *mean_q = vs_test_malloc(sizeof(double) * (size_t)B * H * D),
           *decode = vs_test_malloc(sizeof(double) * H);
    float *amax_q = vs_test_malloc(sizeof(float) * H), *amax_k = vs_test_malloc(sizeof(float) * H),
          *mul = vs_test_malloc(sizeof(float) * H), *sk = vs_test_malloc(sizeof(float) * H);
    double *mean_k = vs_test_malloc(sizeof(double) * (size_t)B * H * D);
    fp8_sim_head_amax(q, B, N, H, D, row, 0, mean_q, amax_q);
    fp8_sim_head_amax(k, B, L, H, D, row, smooth, mean_k, amax_k);
    float largest = 0;
    for (int h = 0; h < H; h++) {
        sk[h] = amax_k[h] > 0 ? amax_k[h] / 448.0f : 1.0f;
        largest = fmaxf(largest, amax_q[h] * sk[h]);
    }
    const float sq = largest > 0 ? largest / 448.0f : 1.0f;
    for (int h = 0; h < H; h++)
        mul[h] = sk[h] / sq, decode[h] = (double)sq / sk[h];
    fp8_sim_apply(q, B, N, H, D, row, mean_q, mul, decode);
    fp8_sim_quantise(k, B, L, H, D, row, smooth);
}

/* out[b, i, h, :] = softmax(scale q k^T) v in f64, out contiguous [B, N, H, D]; with `fp8` (q, k, v then the
 * quantised inputs, fp8_sim_quantise), the fused kernel's own rounding on top: each row's unnormalised
 * probabilities exp(s - max) rounded to E4M3 with the scale 448 (their sum unrounded), and, when out_e4m3,
 * the output rounded to E4M3 with the per-head scale 384 / amax(V) (fp8_attention.cu's kOutRange). */
static void fp8_sim_attention(const float *q, const float *k, const float *v, int B, int N, int L, int H,
                              int D, int64_t row, int fp8, int out_e4m3, double *out) {
    const double scale = 1.0 / sqrt((double)D);
    double *s = vs_test_malloc(sizeof(double) * (size_t)L);
    for (int h = 0; h < H; h++) {
        double amax_v = 0;
        for (int64_t r = 0; r < (int64_t)B * L; r++)
            for (int d = 0; d < D; d++)
                amax_v = fmax(amax_v, fabs(v[r * row + h * D + d]));
        const float out_scale = amax_v > 0 ? (float)(384.0 / amax_v) : 1.0f;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < N; i++) {
                const float *qi = q + ((int64_t)b * N + i) * row + h * D;
                double m = -INFINITY, z = 0;
                for (int j = 0; j < L; j++) {
                    const float *kj = k + ((int64_t)b * L + j) * row + h * D;
                    double dot = 0;
                    for (int d = 0; d < D; d++)
                        dot += (double)qi[d] * kj[d];
                    s[j] = dot * scale, m = fmax(m, s[j]);
                }
                double *o = out + (((int64_t)b * N + i) * H + h) * D;
                for (int d = 0; d < D; d++)
                    o[d] = 0;
                for (int j = 0; j < L; j++) {
                    const double p = exp(s[j] - m);
                    const double p8 = fp8 ? vs_f8e4m3_to_f32(vs_f32_to_f8e4m3((float)(p * 448))) / 448.0 : p;
                    z += p;
                    const float *vj = v + ((int64_t)b * L + j) * row + h * D;
                    for (int d = 0; d < D; d++)
                        o[d] += p8 * vj[d];
                }
                for (int d = 0; d < D; d++) {
                    o[d] /= z;
                    if (fp8 && out_e4m3)
                        o[d] = vs_f8e4m3_to_f32(vs_f32_to_f8e4m3((float)o[d] * out_scale)) / out_scale;
                }
            }
    }
}

#endif
