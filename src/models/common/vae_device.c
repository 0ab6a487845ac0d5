#include "models/common/vae_device.h"

#include <stdlib.h>
#include <string.h>

#include "core/devmem.h"
#include "core/dtype.h"
#include "core/status.h"
#include "ops/ops.h"

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

vs_status vs_vae_upload_conv(const float *weight, const float *bias, int cout, int cin, int kt, int kh, int kw,
                             vs_tensor *dweight, vs_tensor *dbias) {
    const int cop = (cout + 7) / 8 * 8, cip = (cin + 7) / 8 * 8;
    float *w = calloc((size_t)kt * cop * kh * kw * cip, sizeof *w), *b = calloc((size_t)cop, sizeof *b);
    vs_status s = w && b ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory uploading the VAE");
    for (int o = 0; s == VS_OK && o < cout; o++) {
        b[o] = bias[o];
        for (int i = 0; i < cin; i++)
            for (int t = 0; t < kt; t++)
                for (int y = 0; y < kh; y++)
                    for (int x = 0; x < kw; x++)
                        w[((((size_t)t * cop + o) * kh + y) * kw + x) * cip + i] =
                            weight[((((size_t)o * cin + i) * kt + t) * kh + y) * kw + x];
    }
    if (s == VS_OK) s = vs_vae_upload(dweight, VS_BF16, w, 5, (int64_t[]){kt, cop, kh, kw, cip});
    if (s == VS_OK) s = vs_vae_upload(dbias, VS_F32, b, 1, (int64_t[]){cop});
    free(w);
    free(b);
    return s;
}

vs_status vs_vae_copy_bf16(void *dst, const void *src, size_t n) {
    vs_tensor d = vs_tensor_view(dst, VS_BF16, VS_CUDA, 1, (int64_t[]){(int64_t)n});
    vs_tensor t = vs_tensor_view((void *)src, VS_BF16, VS_CUDA, 1, (int64_t[]){(int64_t)n});
    return vs_op_copy(&d, &t);
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
