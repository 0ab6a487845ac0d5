/* The tiny CogVideoXPipeline and CogVideoXImageToVideoPipeline folders of
 * tools/make_cogvideox_pipeline_fixtures.py (tests/data/cogvideox_pipeline/{t2v,i2v}/) run whole through
 * vs_t2v_generate (prompt -> T5 -> first frame encoded (I2V) -> denoising with CFG 6 and the DPM scheduler's
 * noise -> the padding frame dropped -> VAE) from the seed alone, against diffusers' frames, for
 * tests/test_cogvideox_pipeline.c (CPU) and tests/gpu/test_cogvideox_pipeline_cuda.c. */
#ifndef VS_TEST_COGVIDEOX_PIPELINE_CHECK_H
#define VS_TEST_COGVIDEOX_PIPELINE_CHECK_H

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "pipeline/t2v.h"

#define CP_DIR "tests/data/cogvideox_pipeline/"
#define CP_PROMPT "a cat wearing sunglasses rides a skateboard"
#define CP_IMAGE "tests/data/image/rgb.jpg"
#define CP_SEED 7
#define CP_STEPS 3

static void cp_close(void *st) { vs_safetensors_close(st); }
static void cp_free_t2v(void *m) { vs_t2v_free(m); }
static void cp_free_image(void *img) { vs_image_free(img); }

/* Reference tensor `name` of folder `kind` (host f32), freed after the case; NULL if absent. */
static inline vs_tensor *cp_reference(const char *kind, const char *name) {
    char path[256];
    snprintf(path, sizeof path, CP_DIR "%s/reference.safetensors", kind);
    vs_safetensors *st = NULL;
    if (vs_safetensors_open(&st, path) != VS_OK) return NULL;
    vs_test_defer(cp_close, st);
    vs_tensor *t = vs_test_tensor();
    return vs_safetensors_load(st, name, VS_F32, VS_CPU, 0, NULL, t) == VS_OK ? t : NULL;
}

/* The whole pipeline of folder `kind` ("t2v" or "i2v"), 9 frames of 32 x 48 in 3 steps with the family's
 * guidance 6 (varying by step with `dynamic_cfg`) and dense attention; *err: relative L2 of the frames
 * [T, 3, H, W] against diffusers' `key`. 0, or 1 after a failed check. */
static inline int cp_run_video(vs_device device, const char *kind, int dynamic_cfg, const char *key, double *err) {
    char dir[128];
    snprintf(dir, sizeof dir, CP_DIR "%s", kind);
    vs_t2v *m = NULL;
    CHECK_OK(vs_t2v_load(dir, device, &m));
    vs_test_defer(cp_free_t2v, m);
    CHECK(vs_t2v_takes_image(m) == !strcmp(kind, "i2v"));
    const vs_tensor *want = cp_reference(kind, key);
    CHECK_MSG(want, "%s", vs_last_error());
    vs_t2v_request r = vs_t2v_request_default(CP_PROMPT);
    r.frames = 9, r.height = 32, r.width = 48, r.steps = CP_STEPS, r.seed = CP_SEED, r.dynamic_cfg = dynamic_cfg;
    vs_image *image = vs_test_malloc(sizeof *image);
    CHECK(image);
    memset(image, 0, sizeof *image);
    vs_test_defer(cp_free_image, image);
    if (vs_t2v_takes_image(m)) {
        CHECK_OK(vs_image_load(CP_IMAGE, image));
        r.image = image;
    }
    vs_tensor *video = vs_test_tensor();
    CHECK_OK(vs_t2v_generate(m, &r, video, NULL));
    CHECK_MSG(video->ndim == 4 && !memcmp(video->shape, want->shape, sizeof(int64_t) * 4), "video [%lld, %lld, %lld, %lld]",
              (long long)video->shape[0], (long long)video->shape[1], (long long)video->shape[2],
              (long long)video->shape[3]);
    *err = vs_test_rel_l2_f32(video->data, want->data, vs_tensor_numel(want));
    return 0;
}

/* Text to video (also with dynamic CFG) and image to video, each within relative L2 `tol` of diffusers'. 0, or
 * 1 after a failed check. */
static inline int cp_check_against_diffusers(vs_device device, double tol) {
    static const struct {
        const char *kind, *key;
        int dynamic_cfg;
    } runs[] = {{"t2v", "video", 0}, {"t2v", "video_dynamic_cfg", 1}, {"i2v", "video", 0}};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        double err = 1;
        if (cp_run_video(device, runs[i].kind, runs[i].dynamic_cfg, runs[i].key, &err)) return 1;
        printf("  %s %s: frames rel L2 %.2e against diffusers' pipeline\n", runs[i].kind, runs[i].key, err);
        CHECK_MSG(err <= tol, "%s %s: rel L2 %g", runs[i].kind, runs[i].key, err);
    }
    return 0;
}

#endif
