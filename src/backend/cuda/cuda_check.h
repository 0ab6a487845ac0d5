/* Turning CUDA runtime failures into vs_status with a message that names the call. */
#ifndef VS_BACKEND_CUDA_CHECK_H
#define VS_BACKEND_CUDA_CHECK_H

#include <cuda_runtime.h>

#include "core/status.h"

#define VS_CUDA_TRY(call)                                                              \
    do {                                                                               \
        cudaError_t vs_cuda_e_ = (call);                                               \
        if (vs_cuda_e_ != cudaSuccess)                                                 \
            return vs_fail(vs_cuda_e_ == cudaErrorMemoryAllocation ? VS_ERR_OOM : VS_ERR_CUDA, \
                           "%s failed: %s (%s:%d)", #call, cudaGetErrorString(vs_cuda_e_), \
                           __FILE__, __LINE__);                                        \
    } while (0)

/* After a kernel launch: reports launch-configuration errors. */
#define VS_CUDA_LAUNCH_CHECK(what) VS_CUDA_TRY(cudaGetLastError())

#endif
