/* The CogVideoX VAE fixture (tools/make_cogvideox_vae_fixtures.py) as the CPU and GPU tests read it. */
#ifndef VS_TEST_COGVIDEOX_VAE_FIXTURE_H
#define VS_TEST_COGVIDEOX_VAE_FIXTURE_H

#include <math.h>
#include <string.h>

#include "check.h"
#include "io/safetensors.h"

#define COGVAE_DATA "tests/data/cogvideox_vae/"

/* A reference tensor as f32, freed after the case; NULL when missing. */
static inline vs_tensor *cogvae_fixture(const char *name) {
    vs_safetensors *st = NULL;
    if (vs_safetensors_open(&st, COGVAE_DATA "reference.safetensors") != VS_OK) return NULL;
    vs_tensor *t = vs_test_tensor();
    vs_status s = vs_safetensors_load(st, name, VS_F32, VS_CPU, 0, NULL, t);
    vs_safetensors_close(st);
    return s == VS_OK ? t : NULL;
}

/* Relative L2 of decoded frames got [T, C, H, W] against a reference video [1, C, T, H, W]; infinite when
 * the shapes differ. */
static inline double cogvae_rel_l2_frames(const vs_tensor *got, const vs_tensor *ref) {
    const int64_t C = ref->shape[1], T = ref->shape[2], hw = ref->shape[3] * ref->shape[4];
    if (got->ndim != 4 || got->shape[0] != T || got->shape[1] != C || got->shape[2] * got->shape[3] != hw) return INFINITY;
    double num = 0, den = 0;
    const float *g = got->data, *r = ref->data;
    for (int64_t c = 0; c < C; c++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t i = 0; i < hw; i++) {
                double a = g[(t * C + c) * hw + i], b = r[(c * T + t) * hw + i];
                num += (a - b) * (a - b), den += b * b;
            }
    return sqrt(num / (den > 0 ? den : 1));
}

/* A video [1, C, T, H, W] as frames [T, C, H, W] (freed after the case); NULL when out of memory. */
static inline vs_tensor *cogvae_frames_of(const vs_tensor *v) {
    const int64_t C = v->shape[1], T = v->shape[2], hw = v->shape[3] * v->shape[4];
    vs_tensor *t = vs_test_tensor();
    if (vs_tensor_alloc(t, VS_F32, VS_CPU, 4, (int64_t[]){T, C, v->shape[3], v->shape[4]}) != VS_OK) return NULL;
    for (int64_t c = 0; c < C; c++)
        for (int64_t f = 0; f < T; f++)
            memcpy((float *)t->data + (f * C + c) * hw, (const float *)v->data + (c * T + f) * hw, (size_t)hw * sizeof(float));
    return t;
}

#endif
