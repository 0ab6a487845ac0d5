/* The golden files of tools/make_cogvideox_fixtures.py (tests/data/cogvideox/) as the CogVideoX forward's
 * inputs, for tests/test_cogvideox.c and tests/gpu/test_cogvideox_cuda.c. */
#ifndef VS_TEST_COGVIDEOX_FIXTURE_H
#define VS_TEST_COGVIDEOX_FIXTURE_H

#include "check.h"
#include "io/safetensors.h"
#include "models/cogvideox/transformer.h"

typedef struct {
    vs_safetensors *st;                                  /* closed after the case */
    vs_tensor *latents, *timesteps, *ofs, *text, *output; /* host f32; ofs NULL for text-to-video */
} cogvideox_fixture;

static inline void cogvideox_fixture_close(void *st) {
    vs_safetensors_close(st);
}

/* A fixture tensor on the host, freed after the case; NULL if absent. */
static inline vs_tensor *cogvideox_fixture_tensor(const vs_safetensors *st, const char *name) {
    if (!vs_safetensors_find(st, name)) return NULL;
    vs_tensor *t = vs_test_tensor();
    return vs_safetensors_load(st, name, VS_F32, VS_CPU, 0, NULL, t) == VS_OK ? t : NULL;
}

/* Opens `path` into fx; 0, or 1 after a failed check. */
static inline int cogvideox_fixture_open(const char *path, cogvideox_fixture *fx) {
    CHECK_OK(vs_safetensors_open(&fx->st, path));
    vs_test_defer(cogvideox_fixture_close, fx->st);
    fx->latents = cogvideox_fixture_tensor(fx->st, "latents");
    fx->timesteps = cogvideox_fixture_tensor(fx->st, "timesteps");
    fx->ofs = cogvideox_fixture_tensor(fx->st, "ofs");
    fx->text = cogvideox_fixture_tensor(fx->st, "text");
    fx->output = cogvideox_fixture_tensor(fx->st, "output");
    CHECK_MSG(fx->latents && fx->timesteps && fx->text && fx->output, "%s: %s", path, vs_last_error());
    return 0;
}

/* The fixture's inputs as one forward's, at step 0 of 1. */
static inline vs_cogvideox_input cogvideox_fixture_input(const cogvideox_fixture *fx) {
    vs_cogvideox_input in = {fx->latents, fx->timesteps->data, fx->ofs ? fx->ofs->data : NULL, fx->text, 0, 1};
    return in;
}

#endif
