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
