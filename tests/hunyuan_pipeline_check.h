/* The tiny HunyuanVideoPipeline folder of tools/make_hunyuan_pipeline_fixtures.py
 * (tests/data/hunyuan_pipeline/) run through the family's components as the pipeline runs them (prompt ->
 * Llama and CLIP embeddings -> denoising loop with embedded guidance and optional true CFG), for
 * tests/test_hunyuan_pipeline.c (CPU) and tests/gpu/test_hunyuan_pipeline_cuda.c. */
#ifndef VS_TEST_HUNYUAN_PIPELINE_CHECK_H
#define VS_TEST_HUNYUAN_PIPELINE_CHECK_H

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "io/safetensors.h"
#include "models/family.h"
#include "pipeline/denoise.h"
#include "pipeline/t2v.h"

#define HP_DIR "tests/data/hunyuan_pipeline"
#define HP_PROMPT "A cat walks on the grass, realistic"
#define HP_NEGATIVE "blurry, low quality"
#define HP_STEPS 3

static void hp_free_text(void *e) { vs_text_encoder_free(e); }
static void hp_free_dit(void *d) { vs_dit_free(d); }
static void hp_free_embedding(void *e) { vs_text_embedding_free(e); }
static void hp_close(void *st) { vs_safetensors_close(st); }
static void hp_free_t2v(void *m) { vs_t2v_free(m); }

/* Reference tensor `name` (host f32), freed after the case; NULL with a message if absent. */
static inline vs_tensor *hp_reference(const char *name) {
    vs_safetensors *st = NULL;
    if (vs_safetensors_open(&st, HP_DIR "/reference.safetensors") != VS_OK) return NULL;
    vs_test_defer(hp_close, st);
    vs_tensor *t = vs_test_tensor();
    return vs_safetensors_load(st, name, VS_F32, VS_CPU, 0, NULL, t) == VS_OK ? t : NULL;
}

/* The pipeline's latents for HP_PROMPT from the reference's initial noise, HP_STEPS steps, dense attention:
 * embedded guidance `embedded` (<= 0: the family's default), true CFG `cfg` with HP_NEGATIVE when > 1.
 * *err: relative L2 against reference tensor `key`. 0, or 1 after a failed check. */
static inline int hp_run_latents(vs_device device, const char *key, float cfg, float embedded, double *err) {
    const vs_family *family = NULL;
    vs_generation_defaults d;
    CHECK_OK(vs_family_detect(HP_DIR, &family));
    CHECK(!strcmp(family->name, "hunyuan"));
    CHECK_OK(vs_family_defaults(family, HP_DIR, &d));
    vs_text_encoder *text = NULL;
    CHECK_OK(vs_text_encoder_load(HP_DIR, device, &text));
    vs_test_defer(hp_free_text, text);
    vs_text_embedding *cond = vs_test_malloc(sizeof *cond), *uncond = vs_test_malloc(sizeof *uncond);
    CHECK(cond && uncond);
    memset(cond, 0, sizeof *cond), memset(uncond, 0, sizeof *uncond);
    vs_test_defer(hp_free_embedding, cond);
    vs_test_defer(hp_free_embedding, uncond);
    CHECK_OK(vs_text_encode(text, HP_PROMPT, d.text_length, cond));
    CHECK(cond->hidden.shape[1] == 256 && cond->mask.data && cond->pooled.data);
    if (cfg > 1) CHECK_OK(vs_text_encode(text, HP_NEGATIVE, d.text_length, uncond));

    vs_dit *dit = NULL;
    CHECK_OK(vs_dit_load(HP_DIR, device, &dit));
    vs_test_defer(hp_free_dit, dit);
    const vs_tensor *noise = hp_reference("noise"), *want = hp_reference(key);
    CHECK_MSG(noise && want, "%s: %s", key, vs_last_error());
    vs_tensor *latents = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(latents, VS_F32, VS_CPU, 5, noise->shape));
    memcpy(latents->data, noise->data, sizeof(float) * (size_t)vs_tensor_numel(noise));

    vs_denoise_settings set;
    memset(&set, 0, sizeof set);
    CHECK_OK(vs_scheduler_config_for(HP_DIR, d.scheduler, &set.scheduler));
    set.scheduler.linear_sigmas = d.linear_sigmas;
    set.steps = HP_STEPS, set.guidance = cfg, set.embedded_guidance = embedded > 0 ? embedded : d.embedded_guidance;
    set.attention = (vs_attention_params){.method = "dense"};
    CHECK_OK(vs_denoise(dit, &set, cond, cfg > 1 ? uncond : NULL, latents, NULL));
    *err = vs_test_rel_l2_f32(latents->data, want->data, vs_tensor_numel(want));
    return 0;
}

/* The whole pipeline, prompt to decoded frames (vs_t2v_generate: text, denoising, the VAE), from the
 * reference's noise with the family's defaults but for the size and steps; *err: relative L2 of the frames
 * [T, 3, H, W] against diffusers' vae.decode of its latents. 0, or 1 after a failed check. */
static inline int hp_run_video(vs_device device, double *err) {
    vs_t2v *m = NULL;
    CHECK_OK(vs_t2v_load(HP_DIR, device, &m));
    vs_test_defer(hp_free_t2v, m);
    const vs_tensor *noise = hp_reference("noise"), *want = hp_reference("video");
    CHECK_MSG(noise && want, "%s", vs_last_error());
    vs_t2v_request r = vs_t2v_request_default(HP_PROMPT);
    r.frames = 9, r.height = 32, r.width = 48, r.steps = HP_STEPS, r.noise = noise;
    vs_tensor *video = vs_test_tensor();
    vs_t2v_stats stats;
    CHECK_OK(vs_t2v_generate(m, &r, video, &stats));
    CHECK_MSG(video->ndim == 4 && !memcmp(video->shape, want->shape, sizeof(int64_t) * 4), "video [%lld, %lld, %lld, %lld]",
              (long long)video->shape[0], (long long)video->shape[1], (long long)video->shape[2],
              (long long)video->shape[3]);
    *err = vs_test_rel_l2_f32(video->data, want->data, vs_tensor_numel(want));
    return 0;
}

/* The latents with embedded guidance 6, with 3.5, and with true CFG 3, then the decoded frames, each within
 * relative L2 `tol` of diffusers'. 0, or 1 after a failed check. */
static inline int hp_check_against_diffusers(vs_device device, double tol) {
    static const struct {
        const char *key;
        float cfg, embedded;
    } runs[] = {{"latents", 1.0f, 0.0f}, {"latents_g35", 1.0f, 3.5f}, {"latents_cfg", 3.0f, 0.0f}};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        double err = 1;
        if (hp_run_latents(device, runs[i].key, runs[i].cfg, runs[i].embedded, &err)) return 1;
        printf("  %s: rel L2 %.2e against HunyuanVideoPipeline\n", runs[i].key, err);
        CHECK_MSG(err <= tol, "%s: rel L2 %g", runs[i].key, err);
    }
    double err = 1;
    if (hp_run_video(device, &err)) return 1;
    printf("  decoded frames: rel L2 %.2e against HunyuanVideoPipeline + vae.decode\n", err);
    CHECK_MSG(err <= tol, "frames: rel L2 %g", err);
    return 0;
}

#endif
