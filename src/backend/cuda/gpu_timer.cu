#include <stdlib.h>

#include "backend/cuda/cuda_check.h"
#include "core/gpu_timer.h"

struct vs_gpu_timer {
    int capacity, count, open;
    cudaEvent_t *events; /* [2 * capacity]: start and stop of each interval */
};

extern "C" void vs_gpu_timer_free(vs_gpu_timer *t) {
    if (!t) return;
    for (int i = 0; t->events && i < 2 * t->capacity; i++)
        if (t->events[i]) cudaEventDestroy(t->events[i]);
    free(t->events);
    free(t);
}

extern "C" vs_status vs_gpu_timer_create(vs_gpu_timer **out, int capacity) {
    *out = NULL;
    if (capacity < 1) return vs_fail(VS_ERR_INVALID_ARG, "GPU timer: capacity %d must be positive", capacity);
    vs_gpu_timer *t = static_cast<vs_gpu_timer *>(calloc(1, sizeof *t));
    if (t) t->events = static_cast<cudaEvent_t *>(calloc(2 * (size_t)capacity, sizeof(cudaEvent_t)));
    if (!t || !t->events) {
        free(t);
        return vs_fail(VS_ERR_OOM, "out of host memory");
    }
    t->capacity = capacity;
    for (int i = 0; i < 2 * capacity; i++) {
        cudaError_t e = cudaEventCreate(&t->events[i]);
        if (e != cudaSuccess) {
            t->events[i] = NULL;
            vs_gpu_timer_free(t);
            return vs_fail(VS_ERR_CUDA, "GPU timer: cudaEventCreate failed: %s", cudaGetErrorString(e));
        }
    }
    *out = t;
    return VS_OK;
}

extern "C" vs_status vs_gpu_timer_start(vs_gpu_timer *t) {
    if (t->open || t->count >= t->capacity)
        return vs_fail(VS_ERR_INVALID_ARG, "GPU timer: %s", t->open ? "interval already started" : "no room left");
    VS_CUDA_TRY(cudaEventRecord(t->events[2 * t->count], 0));
    t->open = 1;
    return VS_OK;
}

extern "C" vs_status vs_gpu_timer_stop(vs_gpu_timer *t) {
    if (!t->open) return vs_fail(VS_ERR_INVALID_ARG, "GPU timer: stop without start");
    VS_CUDA_TRY(cudaEventRecord(t->events[2 * t->count + 1], 0));
    t->open = 0;
    t->count++;
    return VS_OK;
}

extern "C" vs_status vs_gpu_timer_collect(vs_gpu_timer *t, double *total_ms) {
    *total_ms = 0;
    const int n = t->count;
    t->count = 0, t->open = 0;
    if (n == 0) return VS_OK;
    VS_CUDA_TRY(cudaEventSynchronize(t->events[2 * n - 1]));
    for (int i = 0; i < n; i++) {
        float ms = 0;
        VS_CUDA_TRY(cudaEventElapsedTime(&ms, t->events[2 * i], t->events[2 * i + 1]));
        *total_ms += ms;
    }
    return VS_OK;
}
