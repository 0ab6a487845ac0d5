/* The Wan DiT, schedulers and CFG denoise against diffusers' golden files
 * (tools/make_wan_fixtures.py writes tests/data/wan/). */
#include "check.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/wan/transformer.h"
#include "pipeline/scheduler.h"

#define DATA "tests/data/wan/"

static double rel_l2(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static vs_status load(const vs_safetensors *st, const char *name, vs_tensor *t) {
    return vs_safetensors_load(st, name, VS_F32, VS_CPU, 0, NULL, t);
}

/* Runs the model on the fixture's inputs and compares with diffusers' output. */
static int check_forward(const char *model_dir, const char *fixture, vs_wan_layout layout, int head_dim) {
    vs_wan_model *m = NULL;
    vs_safetensors *st = NULL;
    vs_tensor lat, ts, text, ref, out;
    CHECK_OK(vs_wan_model_load(model_dir, VS_CPU, &m));
    CHECK(m->layout == layout && m->config.head_dim == head_dim && m->config.dim == 128);
    CHECK_OK(vs_safetensors_open(&st, fixture));
    CHECK_OK(load(st, "latents", &lat));
    CHECK_OK(load(st, "timesteps", &ts));
    CHECK_OK(load(st, "text", &text));
    CHECK_OK(load(st, "output", &ref));
    CHECK_OK(vs_tensor_alloc(&out, VS_F32, VS_CPU, 5, ref.shape));
    vs_wan_timing timing = {0, 0};
    CHECK_OK(vs_wan_forward(m, &lat, ts.data, &text, NULL, &out, &timing));
    double err = rel_l2(out.data, ref.data, vs_tensor_numel(&ref));
    printf("  %s: rel L2 %.3g, %.1f ms (attention %.1f ms)\n", model_dir, err, timing.total_s * 1e3,
           timing.attention_s * 1e3);
    CHECK_MSG(err < 1e-4, "rel L2 %g", err);
    /* Batch entries are independent: entry 1 alone gives the same answer. */
    vs_tensor lat1 = lat, text1 = text, out1 = out;
    lat1.shape[0] = text1.shape[0] = out1.shape[0] = 1;
    lat1.data = (float *)lat.data + vs_tensor_numel(&lat) / 2;
    text1.data = (float *)text.data + vs_tensor_numel(&text) / 2;
    CHECK_OK(vs_wan_forward(m, &lat1, (float *)ts.data + 1, &text1, NULL, &out1, NULL));
    const int64_t half = vs_tensor_numel(&ref) / 2;
    CHECK(rel_l2(out1.data, (float *)ref.data + half, half) < 1e-4);
    vs_tensor *all[] = {&lat, &ts, &text, &ref, &out};
    for (int i = 0; i < 5; i++) vs_tensor_free(all[i]);
    vs_safetensors_close(st);
    vs_wan_model_free(m);
    return 0;
}

TEST(forward_diffusers_layout_head_dim_64) {
    return check_forward(DATA "tiny_hd64", DATA "forward_hd64.safetensors", VS_WAN_LAYOUT_DIFFUSERS, 64);
}

TEST(forward_original_layout_head_dim_128) {
    return check_forward(DATA "tiny_hd128_orig", DATA "forward_hd128.safetensors", VS_WAN_LAYOUT_ORIGINAL, 128);
}

/* Steps a scheduler over the fixture's model outputs, comparing every sample. */
static int check_scheduler(const char *name, int steps) {
    char path[256], key[128];
    vs_scheduler_config cfg;
    snprintf(path, sizeof path, DATA "scheduler_%s", name);
    CHECK_OK(vs_scheduler_config_load(path, &cfg));
    vs_safetensors *st = NULL;
    vs_tensor ts, sig, outs, samples;
    CHECK_OK(vs_safetensors_open(&st, DATA "schedulers.safetensors"));
    snprintf(key, sizeof key, "%s.timesteps", name);
    CHECK_OK(load(st, key, &ts));
    snprintf(key, sizeof key, "%s.sigmas", name);
    CHECK_OK(load(st, key, &sig));
    snprintf(key, sizeof key, "%s.model_outputs", name);
    CHECK_OK(load(st, key, &outs));
    snprintf(key, sizeof key, "%s.samples", name);
    CHECK_OK(load(st, key, &samples));
    CHECK(ts.shape[0] == steps && outs.shape[0] == steps);
    const int64_t n = vs_tensor_numel(&outs) / steps;
    vs_scheduler *s = NULL;
    CHECK_OK(vs_scheduler_create(&cfg, steps, n, &s));
    const float *t_ref = ts.data, *sig_ref = sig.data;
    for (int i = 0; i <= steps; i++) {
        if (i < steps) CHECK_MSG(vs_scheduler_timestep(s, i) == t_ref[i], "%s timestep %d: %.9g vs %.9g", name, i,
                                 vs_scheduler_timestep(s, i), t_ref[i]);
        CHECK_MSG(fabsf(vs_scheduler_sigma(s, i) - sig_ref[i]) <= 1e-7f, "%s sigma %d: %.9g vs %.9g", name, i,
                  vs_scheduler_sigma(s, i), sig_ref[i]);
    }
    float *sample = malloc((size_t)n * sizeof(float));
    memcpy(sample, samples.data, (size_t)n * sizeof(float));
    double worst = 0;
    for (int i = 0; i < steps; i++) {
        CHECK_OK(vs_scheduler_step(s, (float *)outs.data + i * n, sample));
        double err = rel_l2(sample, (float *)samples.data + (i + 1) * n, n);
        CHECK_MSG(err < 1e-5, "%s step %d: rel L2 %g", name, i, err);
        if (err > worst) worst = err;
    }
    printf("  %s: %d steps, worst rel L2 %.3g\n", name, steps, worst);
    CHECK_FAILS(vs_scheduler_step(s, outs.data, sample), VS_ERR_INVALID_ARG, "steps are done");
    free(sample);
    vs_scheduler_free(s);
    vs_tensor *all[] = {&ts, &sig, &outs, &samples};
    for (int i = 0; i < 4; i++) vs_tensor_free(all[i]);
    vs_safetensors_close(st);
    return 0;
}

TEST(unipc_wan_config_step_for_step) { return check_scheduler("unipc", 8); }
TEST(unipc_order3_bh1_sigma_min_step_for_step) { return check_scheduler("unipc_o3", 7); }
TEST(euler_step_for_step) { return check_scheduler("euler", 6); }

RUN_TESTS(T(forward_diffusers_layout_head_dim_64), T(forward_original_layout_head_dim_128),
          T(unipc_wan_config_step_for_step), T(unipc_order3_bh1_sigma_min_step_for_step), T(euler_step_for_step))
