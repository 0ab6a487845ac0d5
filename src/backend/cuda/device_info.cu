#include <cudnn.h>
#include <stdio.h>

#include "backend/cuda/cuda_check.h"
#include "core/device_info.h"

static const char *query_device_name() {
    static char name[sizeof(((cudaDeviceProp *)0)->name) + 1];
    int device = 0, count = 0;
    cudaDeviceProp prop;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        cudaGetLastError();
        return "no CUDA device";
    }
    if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
        cudaGetLastError();
        return "unknown CUDA device";
    }
    snprintf(name, sizeof name, "%s", prop.name);
    return name;
}

extern "C" const char *vs_cuda_device_name(void) {
    static const char *name = query_device_name(); /* initialized once, thread-safe (C++ local static) */
    return name;
}

extern "C" int vs_cudnn_version(void) {
    return (int)cudnnGetVersion();
}
