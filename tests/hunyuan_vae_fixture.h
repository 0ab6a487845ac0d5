/* The HunyuanVideo VAE fixture (tools/make_hunyuan_vae_fixtures.py) for tests/test_hunyuan_vae.c and
 * tests/gpu/test_hunyuan_vae_cuda.c: the tiny VAE folder, and each case's latents and diffusers' decode. */
#ifndef VS_TEST_HUNYUAN_VAE_FIXTURE_H
#define VS_TEST_HUNYUAN_VAE_FIXTURE_H

#include <stdlib.h>

#include "check.h"
#include "io/safetensors.h"
#include "models/hunyuan/vae.h"

#define HV_VAE_DIR "tests/data/hunyuan_vae/vae"
#define HV_REF_FILE "tests/data/hunyuan_vae/reference.safetensors"
/* Case c's tiling (the fixture's TILE). */
#define HV_TILE 32, 32, 8, 24, 16, 4

/* Case `key` ("a", "b", "c"): latents_key into *latents (a vs_test_tensor) and video_key [1, 3, T, H, W] as
 * doubles in our layout [T, 3, H, W] (freed after the case), its shape in shape[4]; NULL on failure. */
static inline double *hv_load_case(const char *key, vs_tensor *latents, int64_t shape[4]) {
    vs_safetensors *st = NULL;
    if (vs_safetensors_open(&st, HV_REF_FILE) != VS_OK) return NULL;
    char name[32];
    vs_tensor v;
    double *out = NULL;
    snprintf(name, sizeof name, "latents_%s", key);
    if (vs_safetensors_load(st, name, VS_F32, VS_CPU, 0, NULL, latents) != VS_OK) goto done;
    snprintf(name, sizeof name, "video_%s", key);
    if (vs_safetensors_load(st, name, VS_F32, VS_CPU, 0, NULL, &v) != VS_OK || v.ndim != 5) goto done;
    {
        const int64_t c = v.shape[1], f = v.shape[2], hw = v.shape[3] * v.shape[4];
        out = vs_test_malloc(sizeof(double) * (size_t)(c * f * hw));
        const float *src = v.data;
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < f; i++)
                for (int64_t p = 0; p < hw; p++)
                    out[(i * c + ch) * hw + p] = src[(ch * f + i) * hw + p];
        shape[0] = f, shape[1] = c, shape[2] = v.shape[3], shape[3] = v.shape[4];
        vs_tensor_free(&v);
    }
done:
    vs_safetensors_close(st);
    return out;
}

static inline int hv_same_shape(const vs_tensor *t, const int64_t *shape) {
    return t->ndim == 4 && t->shape[0] == shape[0] && t->shape[1] == shape[1] && t->shape[2] == shape[2] &&
           t->shape[3] == shape[3];
}

static inline void hv_free_vae(void *vae) {
    vs_hunyuan_vae_free(vae);
}

#endif
