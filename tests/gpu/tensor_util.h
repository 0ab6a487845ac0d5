/* Moving test data between host f32 arrays and device tensors of any float dtype. */
#ifndef VS_TEST_TENSOR_UTIL_H
#define VS_TEST_TENSOR_UTIL_H

#include <stdlib.h>

#include "core/devmem.h"
#include "core/dtype.h"
#include "core/status.h"
#include "vidsparse.h"

/* n uniform values in [lo, hi). */
static inline float *random_array(unsigned long long *rng, int64_t n, float lo, float hi) {
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n && x; i++) x[i] = lo + (hi - lo) * (float)vs_test_uniform(rng);
    return x;
}

/* Rounds values in place to what `dtype` stores (what the GPU will see). */
static inline void round_to(float *x, int64_t n, vs_dtype dtype) {
    if (dtype == VS_BF16)
        for (int64_t i = 0; i < n; i++) x[i] = vs_bf16_to_f32(vs_f32_to_bf16(x[i]));
}

/* A device tensor of `dtype` holding host values x (converted). */
static inline vs_status to_device(vs_tensor *t, const float *x, vs_dtype dtype, int ndim, const int64_t *shape) {
    vs_status s = vs_tensor_alloc(t, dtype, VS_CUDA, ndim, shape);
    if (s != VS_OK) return s;
    const int64_t n = vs_tensor_numel(t);
    void *buf = malloc((size_t)n * vs_dtype_size(dtype) + 1);
    vs_convert(buf, dtype, x, VS_F32, n);
    s = vs_device_memcpy_h2d(t->data, buf, (size_t)n * vs_dtype_size(dtype));
    free(buf);
    return s;
}

/* The device tensor's values as a new host f32 array (NULL on failure). */
static inline float *to_host(const vs_tensor *t) {
    const int64_t n = vs_tensor_numel(t);
    void *buf = malloc((size_t)n * vs_dtype_size(t->dtype) + 1);
    float *x = malloc((size_t)n * sizeof(float) + 1);
    if (!buf || !x || vs_device_memcpy_d2h(buf, t->data, (size_t)n * vs_dtype_size(t->dtype)) != VS_OK) {
        free(buf), free(x);
        return NULL;
    }
    vs_convert(x, VS_F32, buf, t->dtype, n);
    free(buf);
    return x;
}

/* NaN in every element (all bits set is a NaN in f32, f16 and bf16): outputs must be written. */
static inline vs_status poison(vs_tensor *t) {
    return vs_device_memset(t->data, 0xff, (size_t)vs_tensor_numel(t) * vs_dtype_size(t->dtype));
}

/* Fills (most of) the free device memory with NaN and releases it again:
 * the next allocations get NaN-filled memory. */
static inline vs_status poison_free_memory(void) {
    size_t free_bytes, total;
    VS_TRY(vs_device_mem_info(&free_bytes, &total));
    size_t bytes = free_bytes / 2 < ((size_t)4 << 30) ? free_bytes / 2 : ((size_t)4 << 30);
    void *p;
    VS_TRY(vs_device_malloc(&p, bytes));
    vs_status s = vs_device_memset(p, 0xff, bytes);
    vs_device_free(p);
    return s;
}

#endif
