#include "core/gpu_timer.h"

#include "core/status.h"

vs_status vs_gpu_timer_create(vs_gpu_timer **out, int capacity) {
    (void)capacity;
    *out = NULL;
    return vs_fail(VS_ERR_UNSUPPORTED, "GPU timers need a vidsparse build with CUDA");
}

void vs_gpu_timer_free(vs_gpu_timer *timer) { (void)timer; }

vs_status vs_gpu_timer_start(vs_gpu_timer *timer) {
    (void)timer;
    return vs_fail(VS_ERR_UNSUPPORTED, "GPU timers need a vidsparse build with CUDA");
}

vs_status vs_gpu_timer_stop(vs_gpu_timer *timer) {
    (void)timer;
    return vs_fail(VS_ERR_UNSUPPORTED, "GPU timers need a vidsparse build with CUDA");
}

vs_status vs_gpu_timer_collect(vs_gpu_timer *timer, double *total_ms) {
    (void)timer;
    *total_ms = 0;
    return vs_fail(VS_ERR_UNSUPPORTED, "GPU timers need a vidsparse build with CUDA");
}
