/* Reductions to a few host numbers, see reduce_cuda.h. */
#include <cuda_bf16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/reduce_cuda.h"

namespace {

constexpr int kThreads = 256, kMaxBlocks = 4096;

__device__ __forceinline__ float bf16_to_f32(uint16_t h) {
    return __uint_as_float((uint32_t)h << 16);
}

/* Each thread sums |a - b| and |b| over its grid-stride share in f32 (a few thousand values at most at
 * 720p), the block adds its threads' sums in double, and one double atomic per block and sum gives sums[2].
 */
__global__ void rel_l1_kernel(const uint16_t *a, const uint16_t *b, int64_t n, double *sums) {
    float diff = 0.f, norm = 0.f;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        const float x = bf16_to_f32(a[i]), r = bf16_to_f32(b[i]);
        diff += fabsf(x - r), norm += fabsf(r);
    }
    double d = diff, m = norm;
    for (int off = 16; off > 0; off >>= 1)
        d += __shfl_down_sync(0xffffffffu, d, off), m += __shfl_down_sync(0xffffffffu, m, off);
    __shared__ double warp_sums[2][kThreads / 32];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (lane == 0) warp_sums[0][warp] = d, warp_sums[1][warp] = m;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < kThreads / 32; w++)
            d += warp_sums[0][w], m += warp_sums[1][w];
        atomicAdd(&sums[0], d);
        atomicAdd(&sums[1], m);
    }
}

double *g_sums = nullptr; /* the two sums on the device, kept for the process (16 bytes) */

} // namespace

extern "C" vs_status vs_cuda_rel_l1(const uint16_t *a, const uint16_t *b, int64_t n, double *out) {
    if (!g_sums) VS_CUDA_TRY(cudaMalloc(&g_sums, 2 * sizeof(double)));
    VS_CUDA_TRY(cudaMemsetAsync(g_sums, 0, 2 * sizeof(double), 0));
    const int64_t want = (n + kThreads - 1) / kThreads;
    const unsigned blocks = (unsigned)(want < 1 ? 1 : want > kMaxBlocks ? kMaxBlocks : want);
    rel_l1_kernel<<<blocks, kThreads>>>(a, b, n, g_sums);
    VS_CUDA_LAUNCH_CHECK("relative L1 change");
    double sums[2];
    VS_CUDA_TRY(cudaMemcpy(sums, g_sums, sizeof sums, cudaMemcpyDeviceToHost));
    *out = sums[0] / sums[1];
    return VS_OK;
}
