#include <stdlib.h>
#include <string.h>

#include "core/devmem.h"
#include "core/status.h"

int64_t vs_tensor_numel(const vs_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

static void set_contiguous_strides(vs_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

int vs_tensor_is_contiguous(const vs_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

vs_tensor vs_tensor_view(void *data, vs_dtype dtype, vs_device device, int ndim, const int64_t *shape) {
    vs_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = dtype;
    t.device = device;
    t.ndim = ndim;
    for (int i = 0; i < ndim && i < VS_MAX_DIMS; i++) t.shape[i] = shape[i];
    set_contiguous_strides(&t);
    t.data = data;
    return t;
}

/* The bytes of a contiguous tensor of this shape, checked. */
static vs_status tensor_bytes(vs_dtype dtype, int ndim, const int64_t *shape, size_t *bytes) {
    if (ndim < 0 || ndim > VS_MAX_DIMS)
        return vs_fail(VS_ERR_INVALID_ARG, "tensor rank %d outside 0..%d", ndim, VS_MAX_DIMS);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return vs_fail(VS_ERR_INVALID_ARG, "negative tensor dimension %lld", (long long)shape[i]);
        if (shape[i] && numel > INT64_MAX / 16 / shape[i])
            return vs_fail(VS_ERR_INVALID_ARG, "tensor too large");
        numel *= shape[i];
    }
    *bytes = (size_t)numel * vs_dtype_size(dtype);
    return VS_OK;
}

vs_status vs_tensor_alloc(vs_tensor *out, vs_dtype dtype, vs_device device, int ndim, const int64_t *shape) {
    memset(out, 0, sizeof *out);
    size_t bytes;
    VS_TRY(tensor_bytes(dtype, ndim, shape, &bytes));
    void *data = NULL;
    if (device == VS_CPU) {
        data = malloc(bytes ? bytes : 1);
        if (!data) return vs_fail(VS_ERR_OOM, "out of host memory allocating %zu bytes", bytes);
    } else {
        VS_TRY(vs_device_malloc(&data, bytes ? bytes : 1));
    }
    *out = vs_tensor_view(data, dtype, device, ndim, shape);
    out->owned = 1;
    return VS_OK;
}

vs_status vs_tensor_alloc_host_pinned(vs_tensor *out, vs_dtype dtype, int ndim, const int64_t *shape) {
    memset(out, 0, sizeof *out);
    size_t bytes;
    VS_TRY(tensor_bytes(dtype, ndim, shape, &bytes));
    void *data;
    VS_TRY(vs_host_pinned_malloc(&data, bytes));
    *out = vs_tensor_view(data, dtype, VS_CPU, ndim, shape);
    out->owned = 2;
    return VS_OK;
}

void vs_tensor_free(vs_tensor *t) {
    if (t->owned && t->data) {
        if (t->owned == 2) vs_host_pinned_free(t->data);
        else if (t->device == VS_CPU) free(t->data);
        else vs_device_free(t->data);
    }
    memset(t, 0, sizeof *t);
}
