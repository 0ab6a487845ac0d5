/* Reductions over a thread block (blockDim.x a multiple of 32, at most 1024 threads) through a 32-float
 * shared scratch; every thread gets the result. Shared by the row kernels (norms, softmax, FP8 epilogues). */
#ifndef VS_BACKEND_CUDA_BLOCK_REDUCE_CUH
#define VS_BACKEND_CUDA_BLOCK_REDUCE_CUH

#include <math.h>

/* Sum over the block (blockDim.x a multiple of 32); every thread gets the total. */
__device__ __forceinline__ float vs_block_sum(float v, float *scratch) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads(); /* scratch may still be read by a previous call */
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < (int)(blockDim.x >> 5) ? scratch[lane] : 0.0f;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* The largest value over the block (as vs_block_sum); every thread gets it. */
__device__ __forceinline__ float vs_block_max(float v, float *scratch) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < (int)(blockDim.x >> 5) ? scratch[lane] : -INFINITY;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

#endif
