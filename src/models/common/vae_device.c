#include "models/common/vae_device.h"

#include <stdlib.h>
#include <string.h>

#include "core/devmem.h"
#include "core/dtype.h"
#include "core/status.h"

vs_status vs_vae_upload(vs_tensor *dst, vs_dtype dtype, const float *host, int ndim, const int64_t *shape) {
    VS_TRY(vs_tensor_alloc(dst, dtype, VS_CUDA, ndim, shape));
    const int64_t n = vs_tensor_numel(dst);
    void *buf = malloc((size_t)n * vs_dtype_size(dtype) + 1);
    if (!buf) return vs_fail(VS_ERR_OOM, "out of host memory uploading the VAE");
    vs_convert(buf, dtype, host, VS_F32, n);
    vs_status s = vs_device_memcpy_h2d(dst->data, buf, (size_t)n * vs_dtype_size(dtype));
    free(buf);
    return s;
}

vs_status vs_vae_pool_get(vs_vae_pool *p, size_t bytes, void **out) {
    int best = -1;
    for (int i = 0; i < p->n; i++)
        if (!p->used[i] && p->cap[i] >= bytes && (best < 0 || p->cap[i] < p->cap[best])) best = i;
    if (best < 0) {
        int slot = p->n;
        if (slot == VS_VAE_POOL_MAX) { /* full: a free buffer too small for this goes */
            for (int i = 0; i < p->n && slot == p->n; i++)
                if (!p->used[i]) slot = i;
            if (slot == p->n) return vs_fail(VS_ERR_OOM, "VAE buffer pool: more than %d buffers", VS_VAE_POOL_MAX);
            vs_device_free(p->ptr[slot]);
            p->bytes -= p->cap[slot];
        }
        vs_status s = vs_device_malloc(&p->ptr[slot], bytes);
        if (s != VS_OK) {
            if (slot < p->n) p->ptr[slot] = NULL, p->cap[slot] = 0; /* an empty slot */
            return s;
        }
        p->cap[slot] = bytes;
        p->bytes += bytes;
        if (slot == p->n) p->n++;
        best = slot;
    }
    p->used[best] = 1;
    *out = p->ptr[best];
    return VS_OK;
}

void vs_vae_pool_put(vs_vae_pool *p, const void *ptr) {
    for (int i = 0; ptr && i < p->n; i++)
        if (p->ptr[i] == ptr) p->used[i] = 0;
}

void vs_vae_pool_put_all(vs_vae_pool *p) { memset(p->used, 0, sizeof p->used); }

void vs_vae_pool_free(vs_vae_pool *p) {
    for (int i = 0; i < p->n; i++) vs_device_free(p->ptr[i]);
    memset(p, 0, sizeof *p);
}
