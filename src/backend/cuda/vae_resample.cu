/* The CogVideoX VAE encoder's downsampling steps, see vae_resample.h. */
#include "backend/cuda/bf16_vec.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/vae_resample.h"

namespace {

unsigned blocks_for(int64_t n) {
    const int64_t b = (n + 255) / 256;
    return (unsigned)(b < 65535 * 8 ? (b > 0 ? b : 1) : 65535 * 8);
}

/* One thread per 8-value vector of the output. */
__global__ void mean_pairs_kernel(uint16_t *y, const uint16_t *x, int64_t vectors, int64_t frame_vectors) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < vectors; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t p = i / frame_vectors, r = i % frame_vectors;
        const uint4 *a = reinterpret_cast<const uint4 *>(x) + 2 * p * frame_vectors + r;
        float va[8], vb[8];
        unpack8(a[0], va);
        unpack8(a[frame_vectors], vb);
        for (int k = 0; k < 8; k++) va[k] = (va[k] + vb[k]) / 2;
        reinterpret_cast<uint4 *>(y)[i] = pack8(va);
    }
}

__global__ void odd_pixels_kernel(uint16_t *y, const uint16_t *x, int frames, int h, int w, int lanes, int h2, int w2) {
    const int64_t n = (int64_t)frames * h2 * w2 * lanes;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int l = (int)(i % lanes);
        int64_t rest = i / lanes;
        const int j = (int)(rest % w2);
        rest /= w2;
        const int r = (int)(rest % h2);
        const int64_t f = rest / h2;
        reinterpret_cast<uint4 *>(y)[i] =
            reinterpret_cast<const uint4 *>(x)[((f * h + 2 * r + 1) * w + 2 * j + 1) * lanes + l];
    }
}

} // namespace

extern "C" vs_status vs_cuda_vae_mean_frame_pairs(uint16_t *y, const uint16_t *x, int pairs, int64_t frame_values) {
    if (frame_values % 8) return vs_fail(VS_ERR_UNSUPPORTED, "frame pairs: %lld values a frame", (long long)frame_values);
    const int64_t vectors = (int64_t)pairs * (frame_values / 8);
    if (vectors == 0) return VS_OK;
    mean_pairs_kernel<<<blocks_for(vectors), 256>>>(y, x, vectors, frame_values / 8);
    VS_CUDA_LAUNCH_CHECK("VAE frame pairs");
    return VS_OK;
}

extern "C" vs_status vs_cuda_vae_odd_pixels(uint16_t *y, const uint16_t *x, int frames, int h, int w, int c) {
    if (c % 8 || h < 2 || w < 2) return vs_fail(VS_ERR_UNSUPPORTED, "odd pixels of %dx%dx%d", h, w, c);
    const int h2 = (h - 2) / 2 + 1, w2 = (w - 2) / 2 + 1;
    const int64_t n = (int64_t)frames * h2 * w2 * (c / 8);
    if (n == 0) return VS_OK;
    odd_pixels_kernel<<<blocks_for(n), 256>>>(y, x, frames, h, w, c / 8, h2, w2);
    VS_CUDA_LAUNCH_CHECK("VAE odd pixels");
    return VS_OK;
}
