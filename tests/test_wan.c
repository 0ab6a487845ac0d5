/* The Wan DiT, schedulers and CFG denoise against diffusers' golden files
 * (tools/make_wan_fixtures.py writes tests/data/wan/). */
#include "check.h"
#include "damaged_checkpoint.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/wan/transformer.h"
#include "pipeline/denoise.h"
#include "pipeline/noise.h"
#include "pipeline/scheduler.h"
#include "wan_intermediates.h"

#include <stdlib.h>

#define DATA "tests/data/wan/"

static vs_status load(const vs_safetensors *st, const char *name, vs_tensor *t) {
    return vs_safetensors_load(st, name, VS_F32, VS_CPU, 0, NULL, t);
}

static void free_model(void *m) { vs_wan_model_free(m); }
static void free_dit(void *d) { vs_dit_free(d); }

/* vs_wan_model_load on the CPU; a model that loads is freed after the case, even if a failure was due. */
static vs_status load_model(const char *path, vs_wan_model **m) {
    vs_status s = vs_wan_model_load(path, VS_CPU, m);
    if (s == VS_OK) vs_test_defer(free_model, *m);
    return s;
}
static void close_safetensors(void *st) { vs_safetensors_close(st); }
static void free_scheduler(void *s) { vs_scheduler_free(s); }

/* The fixture's tensors by name, each freed after the case. */
static vs_tensor *fixture_tensor(const vs_safetensors *st, const char *name) {
    vs_tensor *t = vs_test_tensor();
    return load(st, name, t) == VS_OK ? t : NULL;
}

/* The probe of check_forward: every intermediate is an f32 host tensor on the CPU. */
static void compare_intermediate(void *user, const char *name, const vs_tensor *t) {
    const int host_f32 = t->dtype == VS_F32 && t->device == VS_CPU;
    wan_intermediate_check(user, name, host_f32 ? t->data : NULL, vs_tensor_numel(t));
}

/* Runs the model on the fixture's inputs and compares with diffusers' output and, on the way,
 * every intermediate the fixture holds, naming the first block and sub-layer that diverges. */
static int check_forward(const char *model_dir, const char *fixture, vs_wan_layout layout, int head_dim) {
    vs_wan_model *m = NULL;
    vs_safetensors *st = NULL;
    CHECK_OK(load_model(model_dir, &m));
    CHECK(m->layout == layout && m->config.head_dim == head_dim && m->config.dim == 128);
    CHECK_OK(vs_safetensors_open(&st, fixture));
    vs_test_defer(close_safetensors, st);
    vs_tensor *lat = fixture_tensor(st, "latents"), *ts = fixture_tensor(st, "timesteps");
    vs_tensor *text = fixture_tensor(st, "text"), *ref = fixture_tensor(st, "output");
    vs_tensor *out = vs_test_tensor();
    CHECK_MSG(lat && ts && text && ref, "%s", vs_last_error());
    CHECK_OK(vs_tensor_alloc(out, VS_F32, VS_CPU, 5, ref->shape));
    vs_dit_timing timing = {0};
    wan_intermediates probe = {.st = st, .tol = 1e-4};
    vs_wan_model_set_probe(m, compare_intermediate, &probe);
    CHECK_OK(vs_wan_forward(m, lat, ts->data, text, 0, 1, out, &timing));
    vs_wan_model_set_probe(m, NULL, NULL);
    double err = vs_test_rel_l2_f32(out->data, ref->data, vs_tensor_numel(ref));
    printf("  %s: rel L2 %.3g, %d intermediates checked, %.1f ms (attention %.1f ms)\n", model_dir, err,
           probe.seen, timing.total_s * 1e3, timing.attention_s * 1e3);
    CHECK_MSG(!probe.first_bad[0], "first divergence from diffusers: %s", probe.first_bad);
    CHECK_MSG(probe.seen == 5 + 3 * m->config.num_layers, "%d intermediates for %d layers", probe.seen,
              m->config.num_layers);
    CHECK_MSG(err < 1e-4, "rel L2 %g", err);
    /* Batch entries are independent: entry 1 alone gives the same answer. */
    vs_tensor lat1 = *lat, text1 = *text, out1 = *out;
    lat1.shape[0] = text1.shape[0] = out1.shape[0] = 1;
    lat1.data = (float *)lat->data + vs_tensor_numel(lat) / 2;
    text1.data = (float *)text->data + vs_tensor_numel(text) / 2;
    CHECK_OK(vs_wan_forward(m, &lat1, (float *)ts->data + 1, &text1, 0, 1, &out1, NULL));
    const int64_t half = vs_tensor_numel(ref) / 2;
    CHECK(vs_test_rel_l2_f32(out1.data, (float *)ref->data + half, half) < 1e-4);
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
    vs_tensor *ts = vs_test_tensor(), *sig = vs_test_tensor();
    vs_tensor *outs = vs_test_tensor(), *samples = vs_test_tensor();
    CHECK_OK(vs_safetensors_open(&st, DATA "schedulers.safetensors"));
    vs_test_defer(close_safetensors, st);
    snprintf(key, sizeof key, "%s.timesteps", name);
    CHECK_OK(load(st, key, ts));
    snprintf(key, sizeof key, "%s.sigmas", name);
    CHECK_OK(load(st, key, sig));
    snprintf(key, sizeof key, "%s.model_outputs", name);
    CHECK_OK(load(st, key, outs));
    snprintf(key, sizeof key, "%s.samples", name);
    CHECK_OK(load(st, key, samples));
    CHECK(ts->shape[0] == steps && outs->shape[0] == steps);
    const int64_t n = vs_tensor_numel(outs) / steps;
    vs_scheduler *s = NULL;
    CHECK_OK(vs_scheduler_create(&cfg, steps, n, &s));
    vs_test_defer(free_scheduler, s);
    const float *t_ref = ts->data, *sig_ref = sig->data;
    for (int i = 0; i <= steps; i++) {
        if (i < steps) CHECK_MSG(vs_scheduler_timestep(s, i) == t_ref[i], "%s timestep %d: %.9g vs %.9g", name, i,
                                 vs_scheduler_timestep(s, i), t_ref[i]);
        CHECK_MSG(fabsf(vs_scheduler_sigma(s, i) - sig_ref[i]) <= 1e-7f, "%s sigma %d: %.9g vs %.9g", name, i,
                  vs_scheduler_sigma(s, i), sig_ref[i]);
    }
    float *sample = vs_test_malloc((size_t)n * sizeof(float));
    memcpy(sample, samples->data, (size_t)n * sizeof(float));
    double worst = 0;
    for (int i = 0; i < steps; i++) {
        CHECK_OK(vs_scheduler_step(s, (float *)outs->data + i * n, sample));
        double err = vs_test_rel_l2_f32(sample, (float *)samples->data + (i + 1) * n, n);
        CHECK_MSG(err < 1e-5, "%s step %d: rel L2 %g", name, i, err);
        if (err > worst) worst = err;
    }
    printf("  %s: %d steps, worst rel L2 %.3g\n", name, steps, worst);
    CHECK_FAILS(vs_scheduler_step(s, outs->data, sample), VS_ERR_INVALID_ARG, "steps are done");
    return 0;
}

TEST(unipc_wan_config_step_for_step) { return check_scheduler("unipc", 8); }
TEST(unipc_order3_bh1_sigma_min_step_for_step) { return check_scheduler("unipc_o3", 7); }
TEST(euler_step_for_step) { return check_scheduler("euler", 6); }

TEST(cfg_denoise_matches_diffusers) {
    vs_dit *m = NULL;
    vs_safetensors *st = NULL;
    CHECK_OK(vs_dit_load(DATA "tiny_hd64", VS_CPU, &m));
    vs_test_defer(free_dit, m);
    CHECK_OK(vs_safetensors_open(&st, DATA "denoise.safetensors"));
    vs_test_defer(close_safetensors, st);
    vs_tensor *noise = fixture_tensor(st, "noise"), *ref = fixture_tensor(st, "latents");
    vs_text_embedding cond = {0}, uncond = {0};
    CHECK_MSG(noise && ref, "%s", vs_last_error());
    /* The embeddings' tensors belong to the case's cleanups; the embeddings only view them. */
    vs_tensor *cond_t = fixture_tensor(st, "cond"), *uncond_t = fixture_tensor(st, "uncond");
    CHECK_MSG(cond_t && uncond_t, "%s", vs_last_error());
    cond.hidden = *cond_t, uncond.hidden = *uncond_t;
    CHECK(!strcmp(vs_safetensors_metadata(st, "steps"), "3") && !strcmp(vs_safetensors_metadata(st, "guidance"), "5.0"));
    vs_denoise_settings set;
    memset(&set, 0, sizeof set);
    CHECK_OK(vs_scheduler_config_load(DATA "scheduler_unipc", &set.scheduler));
    set.steps = 3, set.guidance = 5.0f, set.attention = (vs_attention_params){"dense", 1, 0, 0};
    vs_dit_timing timing = {0};
    CHECK_OK(vs_denoise(m, &set, &cond, &uncond, noise, &timing));
    double err = vs_test_rel_l2_f32(noise->data, ref->data, vs_tensor_numel(ref));
    printf("  3 steps, guidance 5: rel L2 %.3g, DiT %.1f ms (attention %.1f ms)\n", err, timing.total_s * 1e3,
           timing.attention_s * 1e3);
    CHECK_MSG(err < 1e-4, "rel L2 %g", err);
    /* Guidance needs the negative prompt. */
    CHECK_FAILS(vs_denoise(m, &set, &cond, NULL, noise, NULL), VS_ERR_INVALID_ARG, "negative prompt");
    return 0;
}

TEST(forward_rejects_bad_inputs) {
    vs_wan_model *m = NULL;
    CHECK_OK(load_model(DATA "tiny_hd64", &m));
    float lat[16 * 2 * 4 * 4] = {0}, out[16 * 2 * 4 * 4], text[8 * 32] = {0}, t = 500;
    vs_tensor l = vs_tensor_view(lat, VS_F32, VS_CPU, 5, (int64_t[]){1, 16, 2, 4, 4});
    vs_tensor o = vs_tensor_view(out, VS_F32, VS_CPU, 5, (int64_t[]){1, 16, 2, 4, 4});
    vs_tensor x = vs_tensor_view(text, VS_F32, VS_CPU, 3, (int64_t[]){1, 8, 32});
    CHECK_OK(vs_wan_forward(m, &l, &t, &x, 0, 1, &o, NULL));
    vs_tensor bad = vs_tensor_view(lat, VS_F32, VS_CPU, 5, (int64_t[]){1, 8, 4, 4, 4});
    CHECK_FAILS(vs_wan_forward(m, &bad, &t, &x, 0, 1, &o, NULL), VS_ERR_SHAPE, "channels");
    bad = vs_tensor_view(lat, VS_F32, VS_CPU, 5, (int64_t[]){1, 16, 2, 4, 3});
    CHECK_FAILS(vs_wan_forward(m, &bad, &t, &x, 0, 1, &o, NULL), VS_ERR_SHAPE, "width 3");
    bad = vs_tensor_view(text, VS_F32, VS_CPU, 3, (int64_t[]){1, 16, 16});
    CHECK_FAILS(vs_wan_forward(m, &l, &t, &bad, 0, 1, &o, NULL), VS_ERR_SHAPE, "text_dim 32");
    bad = vs_tensor_view(out, VS_F32, VS_CPU, 5, (int64_t[]){1, 16, 2, 2, 8});
    CHECK_FAILS(vs_wan_forward(m, &l, &t, &x, 0, 1, &bad, NULL), VS_ERR_SHAPE, "output");
    return 0;
}

TEST(svg_sparse_path) {
    /* The tiny sequence (18 tokens) is a single 128-token block, so every SVG head
     * computes it whole: the sparse path (profiling, block list, layouts) must give
     * the dense answer. */
    vs_wan_model *m = NULL;
    vs_safetensors *st = NULL;
    CHECK_OK(load_model(DATA "tiny_hd64", &m));
    CHECK_OK(vs_safetensors_open(&st, DATA "forward_hd64.safetensors"));
    vs_test_defer(close_safetensors, st);
    vs_tensor *lat = fixture_tensor(st, "latents"), *ts = fixture_tensor(st, "timesteps");
    vs_tensor *text = fixture_tensor(st, "text"), *ref = fixture_tensor(st, "output");
    vs_tensor *out = vs_test_tensor();
    CHECK_MSG(lat && ts && text && ref, "%s", vs_last_error());
    CHECK_OK(vs_tensor_alloc(out, VS_F32, VS_CPU, 5, ref->shape));
    /* Warm-up 0.2 of 1 step and 0.03 of 2 layers: no dense call. */
    vs_attention_params a = {"svg", 0.25, 0.2, 0.03};
    CHECK_OK(vs_wan_model_set_attention(m, &a));
    vs_dit_timing timing = {0};
    CHECK_OK(vs_wan_forward(m, lat, ts->data, text, 0, 1, out, &timing));
    CHECK(vs_test_rel_l2_f32(out->data, ref->data, vs_tensor_numel(ref)) < 1e-4);
    /* Every (batch entry, layer, head) was profiled once. */
    const int64_t heads = lat->shape[0] * m->config.num_layers * m->config.num_heads;
    CHECK_MSG(timing.heads_spatial + timing.heads_temporal == heads, "%lld + %lld heads",
              (long long)timing.heads_spatial, (long long)timing.heads_temporal);
    /* In the warm-up (step 0 of 5 with 0.2 dense) nothing is profiled. */
    timing = (vs_dit_timing){0};
    CHECK_OK(vs_wan_forward(m, lat, ts->data, text, 0, 5, out, &timing));
    CHECK(timing.heads_spatial == 0 && timing.heads_temporal == 0);
    a.density = 0;
    CHECK_FAILS(vs_wan_model_set_attention(m, &a), VS_ERR_INVALID_ARG, "density");
    a = (vs_attention_params){"nope", 0.25, 0, 0};
    CHECK_FAILS(vs_wan_model_set_attention(m, &a), VS_ERR_INVALID_ARG, "known: dense, svg");
    return 0;
}

TEST(missing_or_misshapen_tensors_are_named) {
    char dir[] = "/tmp/vs_wan_XXXXXX", path[512], weights[512];
    CHECK(mkdtemp(dir));
    vs_test_remove(dir);
    snprintf(weights, sizeof weights, "%s/diffusion_pytorch_model.safetensors", dir);
    vs_test_remove(weights);
    snprintf(path, sizeof path, "%s/config.json", dir);
    vs_test_remove(path);
    CHECK(!vs_test_write_text(path, "{\"dim\": 128, \"num_heads\": 1, \"num_layers\": 1, \"ffn_dim\": 64, \"text_dim\": 32}"));
    vs_wan_model *m = NULL;
    CHECK_OK(vs_test_write_damaged(DATA "tiny_hd128_orig", dir, "blocks.0.cross_attn.k.weight", NULL, 64, 127));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_NOT_FOUND, "blocks.0.cross_attn.k.weight");
    CHECK(m == NULL);
    CHECK_OK(vs_test_write_damaged(DATA "tiny_hd128_orig", dir, NULL, "blocks.0.ffn.0.weight", 64, 127));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_SHAPE, "blocks.0.ffn.0.weight");
    /* The intact weights load; a config that disagrees with them names the tensor too. */
    CHECK_OK(vs_test_write_damaged(DATA "tiny_hd128_orig", dir, NULL, NULL, 64, 127));
    CHECK_OK(load_model(dir, &m));
    CHECK(!vs_test_write_text(path, "{\"dim\": 128, \"num_heads\": 1, \"num_layers\": 1, \"ffn_dim\": 96, \"text_dim\": 32}"));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_SHAPE, "blocks.0.ffn.0.weight");
    CHECK(!vs_test_write_text(path, "{\"dim\": 128, \"num_layers\": 1}"));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_FORMAT, "num_heads");
    CHECK(!vs_test_write_text(path, "{\"dim\": 128, \"num_heads\": 1, \"num_layers\": 1, \"ffn_dim\": 64, \"model_type\": \"i2v\"}"));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_UNSUPPORTED, "i2v");
    CHECK(!vs_test_write_text(path, "{\"num_attention_heads\": 2, \"attention_head_dim\": 64, \"num_layers\": 1, "
                            "\"ffn_dim\": 64, \"image_dim\": 1280}"));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_UNSUPPORTED, "image_dim");
    /* The weights' layout is detected from their names, whatever the config's style; text_dim defaults to 4096. */
    CHECK(!vs_test_write_text(path, "{\"num_attention_heads\": 1, \"attention_head_dim\": 128, \"num_layers\": 1, \"ffn_dim\": 64}"));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_SHAPE, "text_embedding.0.weight");
    CHECK_FAILS(load_model("/nonexistent/wan", &m), VS_ERR_NOT_FOUND, "config.json");
    return 0;
}

static void free_json(void *doc) { vs_json_free(doc); }

TEST(scheduler_configs_are_checked) {
    vs_json_doc *doc = NULL;
    vs_scheduler_config cfg;
    const char *karras = "{\"_class_name\": \"UniPCMultistepScheduler\", \"use_flow_sigmas\": true, "
                         "\"prediction_type\": \"flow_prediction\", \"use_karras_sigmas\": true}";
    CHECK_OK(vs_json_parse(&doc, karras, strlen(karras), "karras"));
    vs_test_defer(free_json, doc);
    CHECK_FAILS(vs_scheduler_config_parse(vs_json_root(doc), "karras", &cfg), VS_ERR_UNSUPPORTED, "use_karras_sigmas");
    const char *eps = "{\"_class_name\": \"UniPCMultistepScheduler\", \"use_flow_sigmas\": true}";
    CHECK_OK(vs_json_parse(&doc, eps, strlen(eps), "eps"));
    vs_test_defer(free_json, doc);
    CHECK_FAILS(vs_scheduler_config_parse(vs_json_root(doc), "eps", &cfg), VS_ERR_UNSUPPORTED, "epsilon");
    const char *ddim = "{\"_class_name\": \"DDIMScheduler\"}";
    CHECK_OK(vs_json_parse(&doc, ddim, strlen(ddim), "ddim"));
    vs_test_defer(free_json, doc);
    CHECK_FAILS(vs_scheduler_config_parse(vs_json_root(doc), "ddim", &cfg), VS_ERR_UNSUPPORTED, "DDIMScheduler");
    vs_scheduler *s = NULL;
    cfg = vs_scheduler_config_unipc(3.0);
    CHECK_FAILS(vs_scheduler_create(&cfg, 0, 16, &s), VS_ERR_INVALID_ARG, "steps");
    /* One step goes from pure noise straight to the data prediction. */
    CHECK_OK(vs_scheduler_create(&cfg, 1, 2, &s));
    vs_test_defer(free_scheduler, s);
    float x[2] = {1.0f, -2.0f}, v[2] = {0.5f, 0.25f};
    CHECK_OK(vs_scheduler_step(s, v, x));
    CHECK(fabsf(x[0] - (1.0f - vs_scheduler_sigma(s, 0) * 0.5f)) < 1e-6f);
    return 0;
}

TEST(noise_is_seeded_standard_normal) {
    enum { N = 100001 };
    float *a = vs_test_malloc(N * sizeof *a), *b = vs_test_malloc(N * sizeof *b);
    vs_noise_gaussian(a, N, 42);
    vs_noise_gaussian(b, N, 42);
    CHECK(memcmp(a, b, N * sizeof *a) == 0);
    vs_noise_gaussian(b, 1000, 43);
    CHECK(memcmp(a, b, 1000 * sizeof *a) != 0);
    double mean = 0, var = 0;
    for (int i = 0; i < N; i++) mean += a[i];
    mean /= N;
    for (int i = 0; i < N; i++) var += (a[i] - mean) * (a[i] - mean);
    var /= N;
    CHECK_MSG(fabs(mean) < 0.01 && fabs(var - 1) < 0.02, "mean %g var %g", mean, var);
    /* A prefix is the same whatever the length asked for. */
    vs_noise_gaussian(b, 7, 42);
    CHECK(memcmp(a, b, 7 * sizeof *a) == 0);
    return 0;
}

RUN_TESTS(T(forward_diffusers_layout_head_dim_64), T(forward_original_layout_head_dim_128),
          T(unipc_wan_config_step_for_step), T(unipc_order3_bh1_sigma_min_step_for_step), T(euler_step_for_step), T(cfg_denoise_matches_diffusers),
          T(forward_rejects_bad_inputs), T(svg_sparse_path), T(missing_or_misshapen_tensors_are_named), T(scheduler_configs_are_checked),
          T(noise_is_seeded_standard_normal))
