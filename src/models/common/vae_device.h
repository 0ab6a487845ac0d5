/* What the video VAEs' GPU decoders share: weights converted and uploaded in
 * cuDNN's layout, and BF16 copies (their buffers come from core/devpool.h). */
#ifndef VS_MODELS_COMMON_VAE_DEVICE_H
#define VS_MODELS_COMMON_VAE_DEVICE_H

#include <stddef.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* *dst = a new device tensor of `dtype` holding the n = prod(shape) host f32 values. */
vs_status vs_vae_upload(vs_tensor *dst, vs_dtype dtype, const float *host, int ndim, const int64_t *shape);

/* A convolution's f32 host weight [cout][cin][kt][kh][kw] and bias [cout] as cuDNN's channels-last
 * filters: *dweight BF16 [kt][cout_pad][kh][kw][cin_pad], *dbias F32 [cout_pad], both channel counts
 * rounded up to multiples of 8 (16-byte rows) with zeros. */
vs_status vs_vae_upload_conv(const float *weight, const float *bias, int cout, int cin, int kt, int kh, int kw,
                             vs_tensor *dweight, vs_tensor *dbias);

/* n BF16 values from device to device. */
vs_status vs_vae_copy_bf16(void *dst, const void *src, size_t n);

#ifdef __cplusplus
}
#endif
#endif
