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

extern "C" int vs_cuda_has_wgmma(void) {
    static const int major = [] { /* initialized once, thread-safe */
        int device = 0, m = 0;
        if (cudaGetDevice(&device) != cudaSuccess ||
            cudaDeviceGetAttribute(&m, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess)
            m = 0;
        cudaGetLastError();
        return m;
    }();
    return major == 9;
}

extern "C" int vs_cudnn_version(void) {
    return (int)cudnnGetVersion();
}
