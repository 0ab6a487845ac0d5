/* The HunyuanVideo VAE decoder's small kernels, see hunyuan_vae_cuda.h. */
#include <cuda_bf16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/hunyuan_vae_cuda.h"
#include "backend/cuda/vec8.cuh"

namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) {
    int64_t blocks = (n + kThreads - 1) / kThreads;
    return (unsigned)(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

#define GRID_STRIDE(e, n)                                                                                    \
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < (n);                                \
         e += (int64_t)gridDim.x * blockDim.x)

/* One thread per 8 channels (one 16-byte vector) of one output pixel; the source index is clamped. */
__global__ void replicate_pad_kernel(uint4 *y, const uint4 *x, int t, int h, int w, int vecs, int tpad,
                                     int pad) {
    const int hp = h + 2 * pad, wp = w + 2 * pad;
    const int64_t n = (int64_t)(t + tpad) * hp * wp * vecs;
    GRID_STRIDE(e, n) {
        const int v = (int)(e % vecs);
        const int64_t px = e / vecs;
        const int xo = (int)(px % wp), yo = (int)(px / wp % hp), f = (int)(px / ((int64_t)wp * hp));
        const int sf = max(f - tpad, 0), sy = min(max(yo - pad, 0), h - 1), sx = min(max(xo - pad, 0), w - 1);
        y[e] = x[(((int64_t)sf * h + sy) * w + sx) * vecs + v];
    }
}

/* y = conv + bias + res, 8 channels a thread; y may be res (each element is read before it is written). */
__global__ void stream_add_kernel(float *y, const uint16_t *conv, const float *bias, const float *res,
                                  int64_t vectors, int vecs) {
    GRID_STRIDE(e, vectors) {
        float v[8], r[8];
        vs_load8(conv + 8 * e, v);
        const int ch0 = (int)(e % vecs) * 8;
        if (bias)
            for (int j = 0; j < 8; j++) v[j] += bias[ch0 + j];
        if (res) {
            vs_load8(res + 8 * e, r);
            for (int j = 0; j < 8; j++) v[j] += r[j];
        }
        vs_store8(y + 8 * e, v);
    }
}

/* One pass over x for every group: each thread sums the 8 channels of its vectors into the block's
 * shared per-group sums of x and x^2 (f32; a vector spans one group, or several when cg < 8), and the block
 * adds them to stats (f64). */
template <typename In>
__global__ void group_stats_kernel(const In *x, int64_t vectors, int vecs, int cg, int groups, double *stats) {
    extern __shared__ float sums[]; /* [groups][2] */
    for (int i = threadIdx.x; i < 2 * groups; i += blockDim.x)
        sums[i] = 0.f;
    __syncthreads();
    GRID_STRIDE(e, vectors) {
        float v[8];
        vs_load8(x + 8 * e, v);
        const int ch0 = (int)(e % vecs) * 8;
        int g = ch0 / cg;
        float s = 0.f, q = 0.f;
        for (int j = 0; j < 8; j++) {
            if ((ch0 + j) / cg != g) {
                atomicAdd(&sums[2 * g], s), atomicAdd(&sums[2 * g + 1], q);
                g = (ch0 + j) / cg, s = 0.f, q = 0.f;
            }
            s += v[j], q += v[j] * v[j];
        }
        atomicAdd(&sums[2 * g], s), atomicAdd(&sums[2 * g + 1], q);
    }
    __syncthreads();
    for (int i = threadIdx.x; i < 2 * groups; i += blockDim.x)
        atomicAdd(&stats[i], (double)sums[i]);
}

/* Thread g: the sums of group g into its mean and 1 / sqrt(var + eps), as floats after the sums. */
__global__ void group_finish_kernel(double *stats, int groups, double count, float eps) {
    const int g = threadIdx.x;
    if (g >= groups) return;
    const double mean = stats[2 * g] / count, var = fmax(stats[2 * g + 1] / count - mean * mean, 0.0);
    float *out = reinterpret_cast<float *>(stats + 2 * groups);
    out[2 * g] = (float)mean;
    out[2 * g + 1] = (float)(1.0 / sqrt(var + (double)eps));
}

template <typename In>
__global__ void group_apply_kernel(uint16_t *y, const In *x, const float *gamma, const float *beta,
                                   int64_t vectors, int vecs, int cg, int silu, const float *mean_inv) {
    GRID_STRIDE(e, vectors) {
        float v[8];
        vs_load8(x + 8 * e, v);
        const int ch0 = (int)(e % vecs) * 8;
        for (int j = 0; j < 8; j++) {
            const int ch = ch0 + j, g = ch / cg;
            const float t = (v[j] - mean_inv[2 * g]) * mean_inv[2 * g + 1] * gamma[ch] + beta[ch];
            v[j] = silu ? t / (1.f + __expf(-t)) : t;
        }
        vs_store8(y + 8 * e, v);
    }
}

__global__ void upsample_kernel(uint16_t *y, const float *x, int t, int h, int w, int vecs, int ut, int us) {
    const int t2 = 1 + ut * (t - 1), h2 = h * us, w2 = w * us;
    const int64_t n = (int64_t)t2 * h2 * w2 * vecs;
    GRID_STRIDE(e, n) {
        const int v = (int)(e % vecs);
        const int64_t px = e / vecs;
        const int xo = (int)(px % w2), yo = (int)(px / w2 % h2), f = (int)(px / ((int64_t)w2 * h2));
        const int sf = f == 0 ? 0 : 1 + (f - 1) / ut;
        float vals[8];
        vs_load8(x + 8 * ((((int64_t)sf * h + yo / us) * w + xo / us) * vecs + v), vals);
        vs_store8(y + 8 * e, vals);
    }
}

} // namespace

extern "C" vs_status vs_cuda_hv_replicate_pad(uint16_t *y, const uint16_t *x, int t, int h, int w, int c,
                                              int tpad, int pad) {
    const int64_t n = (int64_t)(t + tpad) * (h + 2 * pad) * (w + 2 * pad) * (c / 8);
    if (n == 0) return VS_OK;
    replicate_pad_kernel<<<grid_for(n), kThreads>>>(
        reinterpret_cast<uint4 *>(y), reinterpret_cast<const uint4 *>(x), t, h, w, c / 8, tpad, pad);
    VS_CUDA_LAUNCH_CHECK("VAE replicate padding");
    return VS_OK;
}

extern "C" vs_status vs_cuda_hv_stream_add(float *y, const uint16_t *conv, const float *bias, const float *res,
                                           int64_t pixels, int c) {
    const int64_t vectors = pixels * (c / 8);
    if (vectors == 0) return VS_OK;
    stream_add_kernel<<<grid_for(vectors), kThreads>>>(y, conv, bias, res, vectors, c / 8);
    VS_CUDA_LAUNCH_CHECK("VAE residual stream");
    return VS_OK;
}

namespace {

template <typename In>
vs_status group_norm(uint16_t *y, const In *x, const float *gamma, const float *beta, int64_t vectors, int c,
                     int groups, int64_t pixels, float eps, int silu, double *stats) {
    const int cg = c / groups;
    VS_CUDA_TRY(cudaMemsetAsync(stats, 0, sizeof(double) * 2 * (size_t)groups, 0));
    const unsigned blocks = grid_for(vectors) < 1024 ? grid_for(vectors) : 1024;
    group_stats_kernel<<<blocks, kThreads, sizeof(float) * 2 * (size_t)groups>>>(x, vectors, c / 8, cg, groups,
                                                                                  stats);
    VS_CUDA_LAUNCH_CHECK("VAE group norm statistics");
    group_finish_kernel<<<1, 1024>>>(stats, groups, (double)pixels * cg, eps);
    VS_CUDA_LAUNCH_CHECK("VAE group norm statistics");
    group_apply_kernel<<<grid_for(vectors), kThreads>>>(y, x, gamma, beta, vectors, c / 8, cg, silu,
                                                        reinterpret_cast<const float *>(stats + 2 * groups));
    VS_CUDA_LAUNCH_CHECK("VAE group norm");
    return VS_OK;
}

} // namespace

extern "C" vs_status vs_cuda_hv_group_norm(uint16_t *y, const void *x, int x_f32, const float *gamma,
                                           const float *beta, int64_t pixels, int c, int groups, float eps,
                                           int silu, double *stats) {
    const int64_t vectors = pixels * (c / 8);
    if (vectors == 0) return VS_OK;
    if (groups > 1024 || c % groups)
        return vs_fail(VS_ERR_UNSUPPORTED, "VAE group norm: %d channels in %d groups", c, groups);
    if (x_f32)
        return group_norm(y, static_cast<const float *>(x), gamma, beta, vectors, c, groups, pixels, eps, silu,
                          stats);
    return group_norm(y, static_cast<const uint16_t *>(x), gamma, beta, vectors, c, groups, pixels, eps, silu,
                      stats);
}

extern "C" vs_status vs_cuda_hv_upsample(uint16_t *y, const float *x, int t, int h, int w, int c, int ut,
                                         int us) {
    const int64_t n = (int64_t)(1 + ut * (t - 1)) * h * us * w * us * (c / 8);
    if (n == 0) return VS_OK;
    upsample_kernel<<<grid_for(n), kThreads>>>(y, x, t, h, w, c / 8, ut, us);
    VS_CUDA_LAUNCH_CHECK("VAE upsampling");
    return VS_OK;
}
