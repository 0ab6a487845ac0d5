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

static void cp_free_vae(void *v) { vs_vae_free(v); }

/* The VAE alone: diffusers' final latents of folder `kind` without the padding frame, decoded by the family
 * (as vs_t2v_generate decodes); *err against diffusers' frames. Tells the decoder's share of the error. */
static inline int cp_vae_error(vs_device device, const char *kind, double *err) {
    char dir[128];
    snprintf(dir, sizeof dir, CP_DIR "%s/vae", kind);
    vs_vae *vae = NULL;
    CHECK_OK(vs_vae_load(dir, device, &vae));
    vs_test_defer(cp_free_vae, vae);
    const vs_tensor *latents = cp_reference(kind, "latents"), *want = cp_reference(kind, "video");
    CHECK_MSG(latents && want, "%s", vs_last_error());
    const int64_t *s = latents->shape, frame = s[3] * s[4];
    vs_tensor *trimmed = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(trimmed, VS_F32, VS_CPU, 5, (int64_t[]){1, s[1], s[2] - 1, s[3], s[4]}));
    for (int64_t c = 0; c < s[1]; c++)
        memcpy((float *)trimmed->data + c * (s[2] - 1) * frame, (const float *)latents->data + (c * s[2] + 1) * frame,
               sizeof(float) * (size_t)((s[2] - 1) * frame));
    vs_tensor *video = vs_test_tensor();
    CHECK_OK(vs_vae_decode(vae, trimmed, -1, video));
    CHECK(vs_tensor_numel(video) == vs_tensor_numel(want));
    *err = vs_test_rel_l2_f32(video->data, want->data, vs_tensor_numel(want));
    return 0;
}

/* The three whole-pipeline runs, in the order of cp_check_against_diffusers' bounds. */
enum { CP_RUNS = 3 };

/* Text to video (also with dynamic CFG) and image to video against diffusers' frames: the VAE alone on
 * diffusers' latents within relative L2 `vae_tol`, each run within `run_tol[i]` (t2v, t2v with dynamic CFG,
 * i2v). 0, or 1 after a failed check. */
static inline int cp_check_against_diffusers(vs_device device, double vae_tol, const double run_tol[CP_RUNS]) {
    static const struct {
        const char *kind, *key;
        int dynamic_cfg;
    } runs[CP_RUNS] = {{"t2v", "video", 0}, {"t2v", "video_dynamic_cfg", 1}, {"i2v", "video", 0}};
    /* every number printed before any is checked: one run on the accelerator shows them all */
    double vae_err = 1, err[CP_RUNS];
    if (cp_vae_error(device, "t2v", &vae_err)) return 1;
    printf("  the VAE alone on diffusers' latents: frames rel L2 %.2e\n", vae_err);
    for (int i = 0; i < CP_RUNS; i++) {
        err[i] = 1;
        if (cp_run_video(device, runs[i].kind, runs[i].dynamic_cfg, runs[i].key, &err[i])) return 1;
        printf("  %s %s: frames rel L2 %.2e against diffusers' pipeline (bound %.2e)\n", runs[i].kind,
               runs[i].key, err[i], run_tol[i]);
    }
    CHECK_MSG(vae_err <= vae_tol, "VAE: rel L2 %g", vae_err);
    for (int i = 0; i < CP_RUNS; i++)
        CHECK_MSG(err[i] <= run_tol[i], "%s %s: rel L2 %g", runs[i].kind, runs[i].key, err[i]);
    return 0;
}

#endif
