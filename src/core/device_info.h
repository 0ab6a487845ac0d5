/* What core/ and the benchmarks see of the GPU: its name, cuDNN, event timing.
 * Implemented in backend/cuda (device_info.cu, timer.cu) when the build has
 * CUDA, by device_info_none.c otherwise. */
#ifndef VS_CORE_DEVICE_INFO_H
#define VS_CORE_DEVICE_INFO_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The current CUDA device's name ("NVIDIA H100 80GB HBM3"); "cpu" in builds
 * without CUDA, "no CUDA device" when the runtime finds none. Never NULL. */
const char *vs_cuda_device_name(void);

/* Whether the current CUDA device has Hopper's warpgroup MMA (wgmma: compute capability 9.0), asked once; 0
 * without a device and in builds without CUDA. The kernels with a wgmma variant pick it by this. */
int vs_cuda_has_wgmma(void);

/* The version of the cuDNN library loaded at run time (91900 for 9.19.0), the
 * one whose kernels run; 0 in builds without CUDA. */
int vs_cudnn_version(void);

/* Calls fn(ctx) `warmup` times, then `repeats` times with CUDA events recorded
 * around each call on the legacy default stream, and stores each call's time
 * in samples_ms[0..repeats). fn's GPU work must be ordered with that stream
 * (the default stream or a blocking stream). Reports launch and execution
 * errors; VS_ERR_UNSUPPORTED in builds without CUDA. */
vs_status vs_cuda_time(void (*fn)(void *ctx), void *ctx, int warmup, int repeats, float *samples_ms);

#ifdef __cplusplus
}
#endif
#endif
