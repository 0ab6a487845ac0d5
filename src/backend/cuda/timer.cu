#include "backend/cuda/cuda_check.h"
#include "core/device_info.h"

static vs_status time_repeats(void (*fn)(void *), void *ctx, int warmup, int repeats, float *samples_ms,
                              cudaEvent_t start, cudaEvent_t stop) {
    for (int i = 0; i < warmup; i++) {
        fn(ctx);
        VS_CUDA_TRY(cudaGetLastError());
    }
    VS_CUDA_TRY(cudaDeviceSynchronize());
    for (int i = 0; i < repeats; i++) {
        VS_CUDA_TRY(cudaEventRecord(start, 0));
        fn(ctx);
        VS_CUDA_TRY(cudaGetLastError());
        VS_CUDA_TRY(cudaEventRecord(stop, 0));
        VS_CUDA_TRY(cudaEventSynchronize(stop));
        VS_CUDA_TRY(cudaEventElapsedTime(&samples_ms[i], start, stop));
    }
    return VS_OK;
}

extern "C" vs_status vs_cuda_time(void (*fn)(void *ctx), void *ctx, int warmup, int repeats, float *samples_ms) {
    if (!fn || !samples_ms || warmup < 0 || repeats < 1)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_cuda_time: need a function, warmup >= 0 and repeats >= 1 (got %d, %d)",
                       warmup, repeats);
    cudaEvent_t start = NULL, stop = NULL;
    VS_CUDA_TRY(cudaEventCreate(&start));
    cudaError_t e = cudaEventCreate(&stop);
    if (e != cudaSuccess) {
        cudaEventDestroy(start);
        return vs_fail(VS_ERR_CUDA, "cudaEventCreate failed: %s", cudaGetErrorString(e));
    }
    vs_status s = time_repeats(fn, ctx, warmup, repeats, samples_ms, start, stop);
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return s;
}
