/* GroupNorm (+ spatial modulation, + SiLU) on channels-last BF16 frames, see vae_group_norm.h.
 *
 * Three passes: per-channel sums and sums of squares (each thread keeps one 8-channel lane of a run of
 * pixels in f32 registers, a block folds its threads in shared memory, blocks add into f64 totals);
 * per-channel mean and 1/std from its group's channels; the elementwise apply. */
#include "backend/cuda/bf16_vec.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/vae_group_norm.h"

namespace {

constexpr int kMaxChannels = 2048;

/* Block (lanes, rows): thread (l, r) sums lane l (channels 8l..8l+7) of pixels r, r + rows, ... of its
 * block's share. sums: [2][c] doubles (sum, sum of squares), zeroed before. */
__global__ void channel_sums_kernel(const uint16_t *__restrict__ x, int64_t pixels, int c, double *sums) {
    __shared__ float s_sum[kMaxChannels], s_sq[kMaxChannels];
    const int lanes = c / 8, tid = threadIdx.y * blockDim.x + threadIdx.x;
    for (int i = tid; i < c; i += blockDim.x * blockDim.y) s_sum[i] = 0, s_sq[i] = 0;
    __syncthreads();
    float sum[8] = {0}, sq[8] = {0};
    const int l = threadIdx.x;
    for (int64_t p = (int64_t)blockIdx.x * blockDim.y + threadIdx.y; p < pixels; p += (int64_t)gridDim.x * blockDim.y) {
        float v[8];
        unpack8(*reinterpret_cast<const uint4 *>(x + p * c + 8 * l), v);
        for (int k = 0; k < 8; k++) sum[k] += v[k], sq[k] += v[k] * v[k];
    }
    if (l < lanes)
        for (int k = 0; k < 8; k++) atomicAdd(&s_sum[8 * l + k], sum[k]), atomicAdd(&s_sq[8 * l + k], sq[k]);
    __syncthreads();
    for (int i = tid; i < c; i += blockDim.x * blockDim.y) {
        atomicAdd(&sums[i], (double)s_sum[i]);
        atomicAdd(&sums[c + i], (double)s_sq[i]);
    }
}

/* stats[ch] = mean of ch's group, stats[c + ch] = 1 / sqrt(var + eps). */
__global__ void group_stats_kernel(const double *sums, int c, int groups, double count, float eps, float *stats) {
    const int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= c) return;
    const int cg = c / groups, g0 = ch / cg * cg;
    double s = 0, q = 0;
    for (int k = g0; k < g0 + cg; k++) s += sums[k], q += sums[c + k];
    const double n = count * cg, mean = s / n, var = fmax(q / n - mean * mean, 0.0);
    stats[ch] = (float)mean;
    stats[c + ch] = (float)(1.0 / sqrt(var + eps));
}

__global__ void apply_kernel(uint16_t *y, const uint16_t *x, int t, int h, int w, int c, const float *stats,
                             const float *gamma, const float *beta, vs_cuda_norm_modulation mod, int use_mod,
                             int silu) {
    const int lanes = c / 8;
    const int64_t n = (int64_t)t * h * w * lanes;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int l = (int)(i % lanes);
        const int64_t p = i / lanes; /* pixel of the run */
        float v[8];
        unpack8(*reinterpret_cast<const uint4 *>(x + p * c + 8 * l), v);
        for (int k = 0; k < 8; k++) {
            const int ch = 8 * l + k;
            v[k] = (v[k] - stats[ch]) * stats[c + ch] * gamma[ch] + beta[ch];
        }
        if (use_mod) {
            const int f = (int)(p / ((int64_t)h * w)), rem = (int)(p % ((int64_t)h * w)), pi = rem / w, pj = rem % w;
            const int zf = mod.split_first ? (f == 0 ? 0 : 1 + (f - 1) * (mod.zt - 1) / (t - 1)) : f * mod.zt / t;
            const int zi = pi * mod.zh / h, zj = pj * mod.zw / w;
            const int64_t at = (((int64_t)zf * mod.zh + zi) * mod.zw + zj) * c + 8 * l;
            float m[8], a[8];
            unpack8(*reinterpret_cast<const uint4 *>(mod.mul + at), m);
            unpack8(*reinterpret_cast<const uint4 *>(mod.add + at), a);
            for (int k = 0; k < 8; k++) v[k] = v[k] * m[k] + a[k];
        }
        if (silu)
            for (int k = 0; k < 8; k++) v[k] = v[k] / (1.0f + __expf(-v[k]));
        *reinterpret_cast<uint4 *>(y + p * c + 8 * l) = pack8(v);
    }
}

unsigned blocks_for(int64_t n, int threads) {
    const int64_t b = (n + threads - 1) / threads;
    return (unsigned)(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

} // namespace

extern "C" size_t vs_cuda_group_norm_scratch_bytes(int c) { return (size_t)c * (2 * sizeof(double) + 2 * sizeof(float)); }

extern "C" vs_status vs_cuda_group_norm(uint16_t *y, const uint16_t *x, int t, int h, int w, int c, int groups,
                                        float eps, const float *gamma, const float *beta,
                                        const vs_cuda_norm_modulation *mod, int silu, void *scratch) {
    if (c % 8 || c > kMaxChannels || groups < 1 || c % groups)
        return vs_fail(VS_ERR_UNSUPPORTED, "group norm: %d channels in %d groups (multiples of 8, at most %d)", c,
                       groups, kMaxChannels);
    const int64_t pixels = (int64_t)t * h * w;
    if (pixels == 0) return VS_OK;
    double *sums = static_cast<double *>(scratch);
    float *stats = reinterpret_cast<float *>(sums + 2 * c);
    VS_CUDA_TRY(cudaMemsetAsync(sums, 0, 2 * (size_t)c * sizeof(double), 0));
    const int lanes = c / 8, rows = lanes >= 256 ? 1 : 256 / lanes;
    const int64_t want = (pixels + rows * 16 - 1) / (rows * 16); /* about 16 pixels per thread at least */
    const unsigned grid = (unsigned)(want < 2048 ? (want > 0 ? want : 1) : 2048);
    channel_sums_kernel<<<grid, dim3(lanes, rows)>>>(x, pixels, c, sums);
    VS_CUDA_LAUNCH_CHECK("group norm sums");
    group_stats_kernel<<<(c + 127) / 128, 128>>>(sums, c, groups, (double)pixels, eps, stats);
    VS_CUDA_LAUNCH_CHECK("group norm statistics");
    vs_cuda_norm_modulation none = {nullptr, nullptr, 1, 1, 1, 0};
    apply_kernel<<<blocks_for(pixels * lanes, 256), 256>>>(y, x, t, h, w, c, stats, gamma, beta, mod ? *mod : none,
                                                           mod != nullptr, silu);
    VS_CUDA_LAUNCH_CHECK("group norm apply");
    return VS_OK;
}
