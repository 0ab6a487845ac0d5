#include "models/common/dit_weights.h"

#include <math.h>
#include <string.h>

#include "core/status.h"
#include "ops/ops.h"

vs_status vs_dit_rows_channel_last(vs_tensor *t, int channels) {
    const int64_t rows = t->shape[0], cols = t->ndim == 2 ? t->shape[1] : 1, vol = rows / channels;
    vs_tensor dst;
    VS_TRY(vs_tensor_alloc(&dst, t->dtype, t->device, t->ndim, t->shape));
    vs_status s = VS_OK;
    const int64_t es = (int64_t)vs_dtype_size(t->dtype);
    for (int64_t c = 0; c < channels && s == VS_OK; c++)
        for (int64_t p = 0; p < vol && s == VS_OK; p++) {
            vs_tensor from = vs_tensor_view((char *)t->data + (c * vol + p) * cols * es, t->dtype, t->device, 2,
                                            (int64_t[]){1, cols});
            vs_tensor to = vs_tensor_view((char *)dst.data + (p * channels + c) * cols * es, t->dtype, t->device,
                                          2, (int64_t[]){1, cols});
            s = vs_op_copy_rows(&to, &from);
        }
    if (s != VS_OK) {
        vs_tensor_free(&dst);
        return s;
    }
    vs_tensor_free(t);
    *t = dst;
    return VS_OK;
}

vs_status vs_dit_random_weight(vs_tensor *dst, const char *name, vs_dtype dtype, vs_device device, int ndim,
                               const int64_t *shape, uint64_t seed, int64_t stream) {
    VS_TRY(vs_tensor_alloc(dst, dtype, device, ndim, shape));
    float lo, hi;
    if (strstr(name, "norm") && ndim == 1 && strstr(name, ".weight")) {
        lo = 0.9f, hi = 1.1f;
    } else {
        const double fan_in = ndim == 1 ? 1024.0 : (double)vs_tensor_numel(dst) / (double)shape[0];
        hi = (float)(1.0 / sqrt(fan_in)), lo = -hi;
    }
    vs_status s = vs_op_fill_uniform(dst, seed + (uint64_t)stream * 0x100000001b3ull, lo, hi);
    if (s != VS_OK) vs_fail_context(s, "random weight %s", name);
    return s;
}
