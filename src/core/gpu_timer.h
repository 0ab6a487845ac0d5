/* Summing the GPU time of many intervals (e.g. every attention call of a
 * forward) with CUDA events on the legacy default stream, without waiting
 * for the GPU until the sum is asked for. Implemented in backend/cuda
 * (gpu_timer.cu); gpu_timer_none.c reports VS_ERR_UNSUPPORTED in builds
 * without CUDA.
 *
 *     vs_gpu_timer *t;  VS_TRY(vs_gpu_timer_create(&t, 2 * layers));
 *     vs_gpu_timer_start(t); ...kernels...; vs_gpu_timer_stop(t);   (repeat)
 *     double ms;  VS_TRY(vs_gpu_timer_collect(t, &ms));            (waits, sums, clears) */
#ifndef VS_CORE_GPU_TIMER_H
#define VS_CORE_GPU_TIMER_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_gpu_timer vs_gpu_timer;

/* Room for `capacity` intervals between collections. */
vs_status vs_gpu_timer_create(vs_gpu_timer **out, int capacity);
void vs_gpu_timer_free(vs_gpu_timer *timer);
/* Record the start / end of an interval. Starting with no room left, or
 * stopping without a start, is VS_ERR_INVALID_ARG. */
vs_status vs_gpu_timer_start(vs_gpu_timer *timer);
vs_status vs_gpu_timer_stop(vs_gpu_timer *timer);
/* Waits for the recorded intervals, stores their summed length in ms and clears them. */
vs_status vs_gpu_timer_collect(vs_gpu_timer *timer, double *total_ms);

#ifdef __cplusplus
}
#endif
#endif
