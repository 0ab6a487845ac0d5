#include "backend/cuda/cuda_check.h"

#include "core/devmem.h"

extern "C" vs_status vs_device_malloc(void **ptr, size_t bytes) {
    *ptr = NULL;
    if (vs_cuda_device_count() == 0)
        return vs_fail(VS_ERR_UNSUPPORTED, "no CUDA device is available (GPU memory of %.2f GiB requested)",
                       bytes / 1073741824.0);
    cudaError_t e = cudaMalloc(ptr, bytes);
    if (e != cudaSuccess) {
        *ptr = NULL;
        cudaGetLastError();
        size_t free_bytes = 0, total_bytes = 0;
        cudaMemGetInfo(&free_bytes, &total_bytes);
        return vs_fail(e == cudaErrorMemoryAllocation ? VS_ERR_OOM : VS_ERR_CUDA,
                       "GPU allocation of %.2f GiB failed (%s; %.2f of %.2f GiB free)",
                       bytes / 1073741824.0, cudaGetErrorString(e), free_bytes / 1073741824.0,
                       total_bytes / 1073741824.0);
    }
    return VS_OK;
}

extern "C" void vs_device_free(void *ptr) {
    if (ptr) cudaFree(ptr);
}

extern "C" vs_status vs_host_pinned_malloc(void **ptr, size_t bytes) {
    *ptr = nullptr;
    cudaError_t e = cudaHostAlloc(ptr, bytes ? bytes : 1, cudaHostAllocDefault);
    if (e != cudaSuccess) {
        cudaGetLastError();
        *ptr = nullptr;
        return vs_fail(VS_ERR_OOM, "page-locked host memory of %zu MiB: %s", bytes >> 20, cudaGetErrorString(e));
    }
    return VS_OK;
}

extern "C" void vs_host_pinned_free(void *ptr) {
    if (ptr) cudaFreeHost(ptr);
}

extern "C" vs_status vs_device_memcpy_h2d(void *dst, const void *src, size_t bytes) {
    VS_CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
    return VS_OK;
}

extern "C" vs_status vs_device_memcpy_d2h(void *dst, const void *src, size_t bytes) {
    VS_CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
    return VS_OK;
}

extern "C" vs_status vs_device_memset(void *dst, int value, size_t bytes) {
    VS_CUDA_TRY(cudaMemset(dst, value, bytes));
    return VS_OK;
}

extern "C" vs_status vs_device_mem_info(size_t *free_bytes, size_t *total_bytes) {
    *free_bytes = *total_bytes = 0;
    VS_CUDA_TRY(cudaMemGetInfo(free_bytes, total_bytes));
    return VS_OK;
}

extern "C" int vs_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}
