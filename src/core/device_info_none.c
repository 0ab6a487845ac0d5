/* Built only without CUDA. */
#include "core/device_info.h"
#include "core/status.h"

const char *vs_cuda_device_name(void) { return "cpu"; }

int vs_cuda_has_wgmma(void) { return 0; }

int vs_cudnn_version(void) { return 0; }

vs_status vs_cuda_time(void (*fn)(void *ctx), void *ctx, int warmup, int repeats, float *samples_ms) {
    (void)fn, (void)ctx, (void)warmup, (void)repeats, (void)samples_ms;
    return vs_fail(VS_ERR_UNSUPPORTED, "CUDA event timing: this vidsparse build has no CUDA support");
}
