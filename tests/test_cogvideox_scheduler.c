/* CogVideoXDPMScheduler and the CogVideoX pipelines' guidance scale against diffusers' golden files
 * (tools/make_cogvideox_scheduler_fixtures.py): every timestep and every intermediate sample. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/json.h"
#include "io/safetensors.h"
#include "models/family.h"
#include "pipeline/denoise.h"
#include "pipeline/noise.h"
#include "pipeline/scheduler.h"

#define DATA "tests/data/cogvideox_scheduler/"

static void close_safetensors(void *st) { vs_safetensors_close(st); }
static void free_scheduler(void *s) { vs_scheduler_free(s); }
static void free_dit(void *d) { vs_dit_free(d); }

static vs_tensor *fixture(const vs_safetensors *st, const char *name, const char *what) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", name, what);
    vs_tensor *t = vs_test_tensor();
    return vs_safetensors_load(st, key, VS_F32, VS_CPU, 0, NULL, t) == VS_OK ? t : NULL;
}

/* Steps the scheduler over the fixture's model outputs with its noise, comparing every sample. */
static int check_run(const char *name, int steps) {
    char path[256];
    vs_scheduler_config cfg;
    snprintf(path, sizeof path, DATA "%s", name);
    CHECK_OK(vs_scheduler_config_load(path, &cfg));
    CHECK(cfg.kind == VS_SCHEDULER_COGVIDEOX_DPM);
    vs_safetensors *st = NULL;
    CHECK_OK(vs_safetensors_open(&st, DATA "schedulers.safetensors"));
    vs_test_defer(close_safetensors, st);
    vs_tensor *ts = fixture(st, name, "timesteps"), *outs = fixture(st, name, "model_outputs");
    vs_tensor *noise = fixture(st, name, "noise"), *samples = fixture(st, name, "samples");
    CHECK(ts && outs && noise && samples && ts->shape[0] == steps && outs->shape[0] == steps);
    const int64_t n = vs_tensor_numel(outs) / steps;
    vs_scheduler *s = NULL;
    CHECK_OK(vs_scheduler_create(&cfg, steps, n, &s));
    vs_test_defer(free_scheduler, s);
    CHECK(vs_scheduler_adds_noise(s));
    for (int i = 0; i < steps; i++)
        CHECK_MSG(vs_scheduler_timestep(s, i) == ((float *)ts->data)[i], "%s timestep %d: %g vs %g", name, i,
                  vs_scheduler_timestep(s, i), ((float *)ts->data)[i]);
    float *sample = vs_test_malloc((size_t)n * sizeof(float));
    memcpy(sample, samples->data, (size_t)n * sizeof(float));
    double worst = 0;
    for (int i = 0; i < steps; i++) {
        CHECK_OK(vs_scheduler_step_noise(s, (float *)outs->data + i * n, (float *)noise->data + i * n, sample));
        double err = vs_test_rel_l2_f32(sample, (float *)samples->data + (i + 1) * n, n);
        CHECK_MSG(err < 1e-6, "%s step %d: rel L2 %g", name, i, err);
        if (err > worst) worst = err;
    }
    printf("  %s: %d steps, worst rel L2 %.3g\n", name, steps, worst);
    CHECK_FAILS(vs_scheduler_step_noise(s, outs->data, noise->data, sample), VS_ERR_INVALID_ARG, "steps are done");
    return 0;
}

TEST(cogvideox15_config_step_for_step) { return check_run("v15", 10); }
TEST(snr_shift_step_for_step) { return check_run("v2b", 7); }
TEST(epsilon_leading_linear_betas_step_for_step) { return check_run("eps_leading", 6); }
TEST(sample_linspace_step_for_step) { return check_run("sample_linspace", 9); }

/* vs_scheduler_step draws the noise itself: seeded, so the same seed repeats the run and another differs. */
TEST(step_draws_seeded_noise) {
    vs_scheduler_config cfg;
    CHECK_OK(vs_scheduler_config_load(DATA "v15", &cfg));
    float runs[3][8];
    const uint64_t seeds[3] = {5, 5, 6};
    for (int r = 0; r < 3; r++) {
        cfg.noise_seed = seeds[r];
        vs_scheduler *s = NULL;
        CHECK_OK(vs_scheduler_create(&cfg, 4, 8, &s));
        vs_test_defer(free_scheduler, s);
        float out[8];
        for (int j = 0; j < 8; j++) runs[r][j] = out[j] = 0.1f * (float)j - 0.3f;
        for (int i = 0; i < 4; i++) CHECK_OK(vs_scheduler_step(s, out, runs[r]));
        for (int j = 0; j < 8; j++) CHECK(isfinite(runs[r][j]));
    }
    CHECK(!memcmp(runs[0], runs[1], sizeof runs[0]));
    CHECK(memcmp(runs[0], runs[2], sizeof runs[0]) != 0);
    vs_scheduler *s = NULL;
    CHECK_OK(vs_scheduler_create(&cfg, 4, 8, &s));
    vs_test_defer(free_scheduler, s);
    CHECK_FAILS(vs_scheduler_step_noise(s, runs[0], NULL, runs[1]), VS_ERR_INVALID_ARG, "needs noise");
    CHECK_FAILS(vs_scheduler_create(&cfg, 1001, 8, &s), VS_ERR_INVALID_ARG, "training timesteps");
    return 0;
}

TEST(dynamic_guidance_matches_the_pipeline) {
    vs_safetensors *st = NULL;
    CHECK_OK(vs_safetensors_open(&st, DATA "cfg.safetensors"));
    vs_test_defer(close_safetensors, st);
    vs_tensor *ts = vs_test_tensor(), *scale = vs_test_tensor();
    CHECK_OK(vs_safetensors_load(st, "timesteps", VS_F32, VS_CPU, 0, NULL, ts));
    CHECK_OK(vs_safetensors_load(st, "dynamic_6", VS_F32, VS_CPU, 0, NULL, scale));
    for (int64_t i = 0; i < ts->shape[0]; i++) {
        const double got = vs_guidance_scale(6.0, 1, ((float *)ts->data)[i], (int)ts->shape[0]);
        const double want = ((float *)scale->data)[i];
        CHECK_MSG(fabs(got - want) <= 1e-6 * want, "step %lld: %.9g vs %.9g", (long long)i, got, want);
    }
    CHECK(vs_guidance_scale(6.0, 0, 999, 50) == 6.0);
    return 0;
}

/* The denoising loop with a folder's CogVideoXDPMScheduler and dynamic guidance (a tiny Wan DiT stands in
 * for the model) equals the loop written out: DiT on [prompt, negative prompt], each entry's latents
 * followed by the image condition's channels when there is one (cond_channels > 0), the step's guidance
 * scale, the scheduler step with its seeded noise. */
static int check_loop(const char *model_dir, int cond_channels) {
    vs_dit *m = NULL;
    CHECK_OK(vs_dit_load(model_dir, VS_CPU, &m));
    vs_test_defer(free_dit, m);
    const int steps = 3;
    const float guidance = 6.0f;
    int64_t shape[5] = {1, 16, 2, 4, 4}, tshape[3] = {1, 8, 32}, bshape[3] = {2, 8, 32};
    int64_t cshape[5] = {1, cond_channels, 2, 4, 4}, ishape[5] = {2, 16 + cond_channels, 2, 4, 4};
    const int64_t n = 16 * 2 * 4 * 4, nc = (int64_t)cond_channels * 2 * 4 * 4;
    vs_tensor *latents = vs_test_tensor(), *cond_t = vs_test_tensor(), *uncond_t = vs_test_tensor();
    vs_tensor *image = vs_test_tensor(), *in = vs_test_tensor(), *out = vs_test_tensor(), *text = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(latents, VS_F32, VS_CPU, 5, shape));
    CHECK_OK(vs_tensor_alloc(cond_t, VS_F32, VS_CPU, 3, tshape));
    CHECK_OK(vs_tensor_alloc(uncond_t, VS_F32, VS_CPU, 3, tshape));
    vs_noise_gaussian(latents->data, n, 1);
    vs_noise_gaussian(cond_t->data, 8 * 32, 2);
    vs_noise_gaussian(uncond_t->data, 8 * 32, 3);
    if (cond_channels) {
        CHECK_OK(vs_tensor_alloc(image, VS_F32, VS_CPU, 5, cshape));
        vs_noise_gaussian(image->data, nc, 4);
    }
    vs_text_embedding cond = {0}, uncond = {0};
    cond.hidden = *cond_t, uncond.hidden = *uncond_t;
    vs_denoise_settings set;
    memset(&set, 0, sizeof set);
    CHECK_OK(vs_scheduler_config_load(DATA "v15", &set.scheduler));
    set.scheduler.noise_seed = 11;
    set.steps = steps, set.guidance = guidance, set.dynamic_cfg = 1;
    set.condition = cond_channels ? image : NULL;
    set.attention = (vs_attention_params){.method = "dense", .density = 1};
    float *start = vs_test_malloc((size_t)n * sizeof(float));
    memcpy(start, latents->data, (size_t)n * sizeof(float));
    CHECK_OK(vs_denoise(m, &set, &cond, &uncond, latents, NULL));

    vs_scheduler *s = NULL;
    CHECK_OK(vs_scheduler_create(&set.scheduler, steps, n, &s));
    vs_test_defer(free_scheduler, s);
    shape[0] = 2;
    CHECK_OK(vs_tensor_alloc(in, VS_F32, VS_CPU, 5, ishape));
    CHECK_OK(vs_tensor_alloc(out, VS_F32, VS_CPU, 5, shape));
    CHECK_OK(vs_tensor_alloc(text, VS_F32, VS_CPU, 3, bshape));
    memcpy(text->data, cond_t->data, 8 * 32 * sizeof(float));
    memcpy((float *)text->data + 8 * 32, uncond_t->data, 8 * 32 * sizeof(float));
    float *x = start, *v = out->data, *inp = in->data;
    for (int i = 0; i < steps; i++) {
        const float t = vs_scheduler_timestep(s, i), ts[2] = {t, t};
        for (int k = 0; k < 2; k++) { /* [latents channels, image channels] per branch */
            memcpy(inp + k * (n + nc), x, (size_t)n * sizeof(float));
            if (nc) memcpy(inp + k * (n + nc) + n, image->data, (size_t)nc * sizeof(float));
        }
        const vs_dit_input input = {in, ts, text, NULL, NULL, i, steps, NULL};
        CHECK_OK(vs_dit_forward(m, &input, out, NULL));
        const float g = (float)vs_guidance_scale(guidance, 1, t, steps);
        for (int64_t j = 0; j < n; j++) v[j] = v[n + j] + g * (v[j] - v[n + j]);
        CHECK_OK(vs_scheduler_step(s, v, x));
    }
    double err = vs_test_rel_l2_f32(latents->data, x, n);
    printf("  3 DPM steps, dynamic guidance 6, %d condition channels: rel L2 to the written-out loop %.3g\n",
           cond_channels, err);
    CHECK_MSG(err == 0, "rel L2 %g", err);
    if (cond_channels) { /* a condition of the wrong size is refused */
        cshape[2] = 3;
        vs_tensor *bad = vs_test_tensor();
        CHECK_OK(vs_tensor_alloc(bad, VS_F32, VS_CPU, 5, cshape));
        set.condition = bad;
        CHECK_FAILS(vs_denoise(m, &set, &cond, &uncond, latents, NULL), VS_ERR_SHAPE, "condition must be");
    }
    return 0;
}

TEST(denoise_loop_runs_the_dpm_scheduler_with_dynamic_cfg) { return check_loop("tests/data/wan/tiny_hd64", 0); }
TEST(denoise_loop_concatenates_the_image_condition) { return check_loop(DATA "tiny_wan_i2v", 16); }

/* Options the sampler does not follow are refused by name. */
TEST(bad_configs_are_refused) {
    static const struct { const char *json, *needle; } bad[] = {
        {"{\"_class_name\": \"CogVideoXDPMScheduler\", \"beta_schedule\": \"squaredcos_cap_v2\"}", "beta_schedule"},
        {"{\"_class_name\": \"CogVideoXDPMScheduler\", \"prediction_type\": \"flow\"}", "prediction_type"},
        {"{\"_class_name\": \"CogVideoXDPMScheduler\", \"timestep_spacing\": \"karras\"}", "timestep_spacing"},
        {"{\"_class_name\": \"CogVideoXDPMScheduler\", \"trained_betas\": [0.1, 0.2]}", "trained_betas"},
        {"{\"_class_name\": \"CogVideoXDPMScheduler\", \"beta_end\": 3}", "beta_end"},
        {"{\"_class_name\": \"CogVideoXDPMScheduler\", \"snr_shift_scale\": \"x\"}", "snr_shift_scale"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vs_json_doc *doc = NULL;
        CHECK_OK(vs_json_parse(&doc, bad[i].json, strlen(bad[i].json), "test"));
        vs_scheduler_config cfg;
        vs_status s = vs_scheduler_config_parse(vs_json_root(doc), "test", &cfg);
        vs_json_free(doc);
        CHECK_MSG(s != VS_OK && strstr(vs_last_error(), bad[i].needle), "%s: %s", bad[i].json, vs_last_error());
    }
    return 0;
}

RUN_TESTS(T(cogvideox15_config_step_for_step), T(snr_shift_step_for_step), T(epsilon_leading_linear_betas_step_for_step),
          T(sample_linspace_step_for_step), T(step_draws_seeded_noise), T(dynamic_guidance_matches_the_pipeline),
          T(denoise_loop_runs_the_dpm_scheduler_with_dynamic_cfg),
          T(denoise_loop_concatenates_the_image_condition),
          T(bad_configs_are_refused))
