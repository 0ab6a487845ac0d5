/* What the video VAEs' GPU decoders share: weights converted and uploaded,
 * and a pool of device buffers that a decode takes from and gives back, so
 * that after its first frame batches it allocates nothing. */
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

/* In a decoder step: returns a failure with the stage it happened in (out of memory above all) named. */
#define VS_VAE_STAGE(call, ...)                                                                              \
    do {                                                                                                     \
        vs_status vae_stage_s_ = (call);                                                                     \
        if (vae_stage_s_ != VS_OK) return vs_fail_context(vae_stage_s_, __VA_ARGS__);                        \
    } while (0)

#define VS_VAE_POOL_MAX 64

/* Buffers handed out and taken back; a request takes the smallest free one that fits, or allocates.
 * Nothing is freed before vs_vae_pool_free. */
typedef struct vs_vae_pool {
    void *ptr[VS_VAE_POOL_MAX];
    size_t cap[VS_VAE_POOL_MAX];
    int used[VS_VAE_POOL_MAX];
    int n;
    size_t bytes; /* all allocated */
} vs_vae_pool;

vs_status vs_vae_pool_get(vs_vae_pool *p, size_t bytes, void **out);
void vs_vae_pool_put(vs_vae_pool *p, const void *ptr); /* NULL or a pointer not from the pool: nothing */
void vs_vae_pool_put_all(vs_vae_pool *p);               /* every buffer free again, none released */
void vs_vae_pool_free(vs_vae_pool *p);

#ifdef __cplusplus
}
#endif
#endif
