/* The golden files of tools/make_hunyuan_fixtures.py (tests/data/hunyuan/) as the HunyuanVideo forward's
 * inputs, for tests/test_hunyuan.c and tests/gpu/test_hunyuan_cuda.c. */
#ifndef VS_TEST_HUNYUAN_FIXTURE_H
#define VS_TEST_HUNYUAN_FIXTURE_H

#include <string.h>

#include "check.h"
#include "io/safetensors.h"
#include "models/hunyuan/transformer.h"

typedef struct {
    vs_safetensors *st; /* closed after the case */
    vs_tensor *latents, *timesteps, *guidance, *text, *mask, *pooled,
        *output; /* host; guidance may be NULL */
} hunyuan_fixture;

static inline void hunyuan_fixture_close(void *st) {
    vs_safetensors_close(st);
}

/* A fixture tensor (f32, or i32 for the mask) on the host, freed after the case; NULL if absent. */
static inline vs_tensor *hunyuan_fixture_tensor(const vs_safetensors *st, const char *name) {
    if (!vs_safetensors_find(st, name)) return NULL;
    vs_tensor *t = vs_test_tensor();
    const vs_dtype dtype = !strcmp(name, "text_mask") ? VS_I32 : VS_F32;
    return vs_safetensors_load(st, name, dtype, VS_CPU, 0, NULL, t) == VS_OK ? t : NULL;
}

/* Opens `path` into fx; 0, or 1 after a failed check. */
static inline int hunyuan_fixture_open(const char *path, hunyuan_fixture *fx) {
    CHECK_OK(vs_safetensors_open(&fx->st, path));
    vs_test_defer(hunyuan_fixture_close, fx->st);
    fx->latents = hunyuan_fixture_tensor(fx->st, "latents"),
    fx->timesteps = hunyuan_fixture_tensor(fx->st, "timesteps");
    fx->guidance = hunyuan_fixture_tensor(fx->st, "guidance"),
    fx->text = hunyuan_fixture_tensor(fx->st, "text");
    fx->mask = hunyuan_fixture_tensor(fx->st, "text_mask"),
    fx->pooled = hunyuan_fixture_tensor(fx->st, "pooled");
    fx->output = hunyuan_fixture_tensor(fx->st, "output");
    CHECK_MSG(fx->latents && fx->timesteps && fx->text && fx->mask && fx->pooled && fx->output, "%s: %s",
              path, vs_last_error());
    return 0;
}

/* The fixture's inputs as one forward's, at step 0 of 1. */
static inline vs_hunyuan_input hunyuan_fixture_input(const hunyuan_fixture *fx) {
    vs_hunyuan_input in = {fx->latents,
                           fx->timesteps->data,
                           fx->guidance ? fx->guidance->data : NULL,
                           fx->text,
                           fx->mask,
                           fx->pooled,
                           0,
                           1};
    return in;
}

#endif
