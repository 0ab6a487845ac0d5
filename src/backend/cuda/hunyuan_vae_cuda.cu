/* The HunyuanVideo VAE decoder's small kernels, see hunyuan_vae_cuda.h. */
#include <cuda_bf16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/hunyuan_vae_cuda.h"

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float bf16_to_f32(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }
__device__ __forceinline__ uint16_t f32_to_bf16(float f) { return __bfloat16_as_ushort(__float2bfloat16_rn(f)); }

unsigned grid_for(int64_t n) {
    int64_t blocks = (n + kThreads - 1) / kThreads;
    return (unsigned)(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

#define GRID_STRIDE(e, n) \
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < (n); e += (int64_t)gridDim.x * blockDim.x)

/* One thread per 8 channels (one 16-byte vector) of one output pixel; the source index is clamped. */
__global__ void replicate_pad_kernel(uint4 *y, const uint4 *x, int t, int h, int w, int vecs, int tpad, int pad) {
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

__global__ void crop_kernel(uint16_t *y, const uint16_t *full, const float *bias, const uint16_t *res, int t, int h,
                            int w, int c, int cs, int pad) {
    const int64_t n = (int64_t)t * h * w * c;
    const int hp = h + 2 * pad, wp = w + 2 * pad;
    GRID_STRIDE(e, n) {
        const int ch = (int)(e % c);
        const int64_t px = e / c;
        const int xo = (int)(px % w), yo = (int)(px / w % h), f = (int)(px / ((int64_t)w * h));
        float v = bf16_to_f32(full[(((int64_t)f * hp + yo + pad) * wp + xo + pad) * cs + ch]);
        if (bias) v += bias[ch];
        if (res) v += bf16_to_f32(res[e]);
        y[e] = f32_to_bf16(v);
    }
}

/* Block (group g, slice b): sums of x and x^2 over the group's channels of a slice of the pixels, reduced
 * in the block (f32 per thread, f64 across), then added to stats[2g], stats[2g + 1]. */
__global__ void group_stats_kernel(const uint16_t *x, int64_t pixels, int c, int cg, double *stats) {
    __shared__ double part[2][kThreads / 32];
    const int g = blockIdx.y;
    const int64_t n = pixels * cg;
    float s = 0.f, q = 0.f;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const float v = bf16_to_f32(x[e / cg * c + g * cg + e % cg]);
        s += v, q += v * v;
    }
    double ds = s, dq = q;
    for (int o = 16; o > 0; o /= 2) ds += __shfl_xor_sync(0xffffffffu, ds, o), dq += __shfl_xor_sync(0xffffffffu, dq, o);
    if (threadIdx.x % 32 == 0) part[0][threadIdx.x / 32] = ds, part[1][threadIdx.x / 32] = dq;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int i = 1; i < kThreads / 32; i++) ds += part[0][i], dq += part[1][i];
        atomicAdd(&stats[2 * g], ds);
        atomicAdd(&stats[2 * g + 1], dq);
    }
}

__global__ void group_apply_kernel(uint16_t *y, const uint16_t *x, const float *gamma, const float *beta,
                                   int64_t pixels, int c, int cg, double count, float eps, int silu,
                                   const double *stats) {
    GRID_STRIDE(e, pixels * c) {
        const int ch = (int)(e % c), g = ch / cg;
        const double mean = stats[2 * g] / count, var = fmax(stats[2 * g + 1] / count - mean * mean, 0.0);
        const float inv = (float)(1.0 / sqrt(var + (double)eps));
        float v = (bf16_to_f32(x[e]) - (float)mean) * inv * gamma[ch] + beta[ch];
        if (silu) v = v / (1.f + __expf(-v));
        y[e] = f32_to_bf16(v);
    }
}

__global__ void upsample_kernel(uint4 *y, const uint4 *x, int t, int h, int w, int vecs, int ut, int us) {
    const int t2 = 1 + ut * (t - 1), h2 = h * us, w2 = w * us;
    const int64_t n = (int64_t)t2 * h2 * w2 * vecs;
    GRID_STRIDE(e, n) {
        const int v = (int)(e % vecs);
        const int64_t px = e / vecs;
        const int xo = (int)(px % w2), yo = (int)(px / w2 % h2), f = (int)(px / ((int64_t)w2 * h2));
        const int sf = f == 0 ? 0 : 1 + (f - 1) / ut;
        y[e] = x[(((int64_t)sf * h + yo / us) * w + xo / us) * vecs + v];
    }
}

} // namespace

extern "C" vs_status vs_cuda_hv_replicate_pad(uint16_t *y, const uint16_t *x, int t, int h, int w, int c, int tpad,
                                              int pad) {
    const int64_t n = (int64_t)(t + tpad) * (h + 2 * pad) * (w + 2 * pad) * (c / 8);
    if (n == 0) return VS_OK;
    replicate_pad_kernel<<<grid_for(n), kThreads>>>(reinterpret_cast<uint4 *>(y), reinterpret_cast<const uint4 *>(x),
                                                    t, h, w, c / 8, tpad, pad);
    VS_CUDA_LAUNCH_CHECK("VAE replicate padding");
    return VS_OK;
}

extern "C" vs_status vs_cuda_hv_crop(uint16_t *y, const uint16_t *full, const float *bias, const uint16_t *res, int t,
                                     int h, int w, int c, int cs, int pad) {
    const int64_t n = (int64_t)t * h * w * c;
    if (n == 0) return VS_OK;
    crop_kernel<<<grid_for(n), kThreads>>>(y, full, bias, res, t, h, w, c, cs, pad);
    VS_CUDA_LAUNCH_CHECK("VAE convolution crop");
    return VS_OK;
}

extern "C" vs_status vs_cuda_hv_group_norm(uint16_t *y, const uint16_t *x, const float *gamma, const float *beta,
                                           int64_t pixels, int c, int groups, float eps, int silu, double *stats) {
    if (pixels == 0) return VS_OK;
    const int cg = c / groups;
    VS_CUDA_TRY(cudaMemsetAsync(stats, 0, sizeof(double) * 2 * (size_t)groups, 0));
    const int64_t per_group = pixels * cg;
    int64_t slices = (per_group + 16 * kThreads - 1) / (16 * kThreads);
    if (slices > 4096) slices = 4096;
    group_stats_kernel<<<dim3((unsigned)slices, (unsigned)groups), kThreads>>>(x, pixels, c, cg, stats);
    VS_CUDA_LAUNCH_CHECK("VAE group norm statistics");
    group_apply_kernel<<<grid_for(pixels * c), kThreads>>>(y, x, gamma, beta, pixels, c, cg, (double)per_group, eps,
                                                           silu, stats);
    VS_CUDA_LAUNCH_CHECK("VAE group norm");
    return VS_OK;
}

extern "C" vs_status vs_cuda_hv_upsample(uint16_t *y, const uint16_t *x, int t, int h, int w, int c, int ut, int us) {
    const int64_t n = (int64_t)(1 + ut * (t - 1)) * h * us * w * us * (c / 8);
    if (n == 0) return VS_OK;
    upsample_kernel<<<grid_for(n), kThreads>>>(reinterpret_cast<uint4 *>(y), reinterpret_cast<const uint4 *>(x), t, h,
                                               w, c / 8, ut, us);
    VS_CUDA_LAUNCH_CHECK("VAE upsampling");
    return VS_OK;
}
