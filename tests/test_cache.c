/* Step caching (src/pipeline/cache.h): each policy's decisions replayed on recordings of real runs of the
 * embedded model against tools/cache_reference.py's patterns (tests/data/cache/: `vidsparse denoise
 * --cache P --cache-record`, then `python3 tools/cache_reference.py tests/data/cache/{easycache,fora}.safetensors -o
 * tests/data/cache/expected.json`), the rules' fixed points, bad settings, the public API and the
 * sequence-parallel loop on thread ranks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hunyuan_teacache_check.h"
#include "core/json.h"
#include "io/safetensors.h"
#include "models/wan/transformer.h"
#include "parallel/comm.h"
#include "pipeline/cache.h"
#include "pipeline/denoise.h"
#include "pipeline/noise.h"
#include "thread_ranks.h"

#define DATA "tests/data/cache/"
#define TINY "models/vidsparse-tiny"

static void free_cache(void *c) { vs_step_cache_free(c); }
static void free_json(void *d) { vs_json_free(d); }
static void free_st(void *s) { vs_safetensors_close(s); }
static void free_dit(void *d) { vs_dit_free(d); }
static void free_pipeline(void *p) { vs_pipeline_free(p); }
static void free_comm(void *c) { vs_comm_free(c); }
static void free_group(void *g) { vs_comm_group_free(g); }

/* The decisions of `c` over `steps` steps as "R" (ran) and "-" (reused), fed the recorded inputs; at a
 * reused step the cache's output must equal the recorded one bit for bit (the same float arithmetic). */
static int replay(vs_step_cache *c, int steps, int64_t n, const float *x, const float *out, const float *signal,
                  int64_t signal_n, char *pattern) {
    float *estimate = vs_test_malloc(sizeof(float) * (size_t)n);
    for (int i = 0; i < steps; i++) {
        int run = -1;
        const vs_tensor sig = vs_tensor_view(signal ? (float *)signal + i * signal_n : NULL, VS_F32, VS_CPU, 1,
                                             (int64_t[]){signal_n});
        CHECK_OK(vs_step_cache_decide(c, i, x + i * n, signal ? &sig : NULL, &run));
        pattern[i] = run ? 'R' : '-';
        if (run) {
            vs_step_cache_store(c, x + i * n, out + i * n);
        } else {
            vs_step_cache_reuse(c, x + i * n, estimate);
            CHECK_MSG(!memcmp(estimate, out + i * n, sizeof(float) * (size_t)n), "step %d: reused output differs", i);
        }
    }
    pattern[steps] = 0;
    return 0;
}

/* The recording `name` of tests/data/cache/ and its entry of expected.json. */
typedef struct {
    vs_tensor *latents, *output, *timesteps, *ran, *signal;
    const vs_json *expected;
    int steps;
    int64_t n;
} recording;

static int load_recording(const char *name, recording *r) {
    char path[256];
    snprintf(path, sizeof path, DATA "%s.safetensors", name);
    vs_safetensors *st = NULL;
    CHECK_OK(vs_safetensors_open(&st, path));
    vs_test_defer(free_st, st);
    vs_tensor **t[] = {&r->latents, &r->output, &r->timesteps, &r->ran, &r->signal};
    const char *names[] = {"latents", "output", "timesteps", "ran", "signal"};
    for (int i = 0; i < 5; i++) {
        *t[i] = vs_test_tensor();
        CHECK_OK(vs_safetensors_load(st, names[i], i == 3 ? VS_I32 : VS_F32, VS_CPU, 0, NULL, *t[i]));
    }
    r->steps = (int)r->latents->shape[0], r->n = r->latents->shape[1];
    vs_json_doc *doc = NULL;
    CHECK_OK(vs_json_parse_file(&doc, DATA "expected.json"));
    vs_test_defer(free_json, doc);
    r->expected = vs_json_get(vs_json_root(doc), name);
    CHECK_MSG(r->expected, "expected.json has no %s", name);
    return 0;
}

/* EasyCache and FORA as the live run decided them, and as the reference rule does. */
static int check_replay(const char *name, const char *policy) {
    recording r;
    CHECK(load_recording(name, &r) == 0);
    CHECK(!strcmp(vs_json_get_string(r.expected, "policy", ""), policy));
    const vs_cache_settings asked = {.policy = policy, .threshold = vs_json_get_number(r.expected, "threshold", -1)};
    vs_cache_settings set;
    CHECK_OK(vs_cache_resolve(&asked, NULL, &set, NULL));
    vs_step_cache *c = NULL;
    CHECK_OK(vs_step_cache_create(&set, NULL, r.steps, r.n, 1, &c));
    vs_test_defer(free_cache, c);
    char got[64], recorded[64];
    CHECK(r.steps < 64);
    CHECK(replay(c, r.steps, r.n, r.latents->data, r.output->data, NULL, 0, got) == 0);
    for (int i = 0; i < r.steps; i++) recorded[i] = ((const int32_t *)r.ran->data)[i] ? 'R' : '-';
    recorded[r.steps] = 0;
    const char *reference = vs_json_get_string(r.expected, "reference", "");
    CHECK_MSG(!strcmp(got, reference), "%s: C %s, reference %s", name, got, reference);
    CHECK_MSG(!strcmp(got, recorded), "%s: replay %s, live run %s", name, got, recorded);
    CHECK(strchr(got, '-') && got[0] == 'R' && got[r.steps - 1] == 'R'); /* something reused; ends run */
    return 0;
}

TEST(easycache_matches_the_reference_on_a_recording) { return check_replay("easycache", "easycache"); }
TEST(fora_matches_the_reference_on_a_recording) { return check_replay("fora", "fora"); }

/* TeaCache on the recorded time embeddings with each published Wan fit: the fit vidsparse holds is the one
 * the reference script transcribed, and the decisions agree. */
TEST(teacache_matches_the_reference_on_recorded_signals) {
    recording r;
    CHECK(load_recording("easycache", &r) == 0);
    const struct {
        const char *key;
        int dim, layers, ffn;
    } checkpoints[] = {{"wan2.1-t2v-1.3b", 1536, 30, 8960}, {"wan2.1-t2v-14b", 5120, 40, 13824}};
    for (int k = 0; k < 2; k++) {
        vs_wan_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.in_channels = 16, cfg.dim = checkpoints[k].dim, cfg.num_layers = checkpoints[k].layers;
        cfg.ffn_dim = checkpoints[k].ffn;
        vs_teacache_fit fit;
        CHECK_OK(vs_wan_teacache_fit(&cfg, &fit));
        const vs_json *e = vs_json_get(vs_json_get(r.expected, "teacache"), checkpoints[k].key);
        CHECK(e);
        CHECK(fit.threshold == vs_json_get_number(e, "threshold", -1));
        const vs_json *coeffs = vs_json_get(e, "coefficients");
        for (int i = 0; i < 5; i++) CHECK(fit.coefficients[i] == vs_json_number(vs_json_at(coeffs, i)));
        vs_cache_settings set;
        CHECK_OK(vs_cache_resolve(&(vs_cache_settings){.policy = "teacache", .threshold = fit.threshold}, NULL, &set, NULL));
        vs_step_cache *c = NULL;
        CHECK_OK(vs_step_cache_create(&set, &fit, r.steps, r.n, 1, &c));
        vs_test_defer(free_cache, c);
        char got[64];
        /* The outputs at teacache's reused steps are not the recording's: replay decisions only. */
        for (int i = 0; i < r.steps; i++) {
            int run;
            const vs_tensor sig = vs_tensor_view((float *)r.signal->data + i * r.signal->shape[1], VS_F32, VS_CPU, 1,
                                                 (int64_t[]){r.signal->shape[1]});
            CHECK_OK(vs_step_cache_decide(c, i, (float *)r.latents->data + i * r.n, &sig, &run));
            if (run) vs_step_cache_store(c, (float *)r.latents->data + i * r.n, (float *)r.output->data + i * r.n);
            got[i] = run ? 'R' : '-';
        }
        got[r.steps] = 0;
        const char *reference = vs_json_get_string(e, "reference", "");
        CHECK_MSG(!strcmp(got, reference), "%s: C %s, reference %s", checkpoints[k].key, got, reference);
    }
    return 0;
}

/* TeaCache's signal is the time embedding the forward modulates its blocks with. */
typedef struct {
    float temb[128];
    int seen;
} temb_probe;

static void catch_temb(void *user, const char *name, const vs_tensor *t) {
    temb_probe *p = user;
    if (strcmp(name, "temb") || t->shape[1] != 128) return;
    memcpy(p->temb, t->data, sizeof p->temb); /* the first batch entry */
    p->seen = 1;
}

static void free_wan(void *m) { vs_wan_model_free(m); }

TEST(teacache_signal_is_the_forwards_time_embedding) {
    vs_wan_model *m = NULL;
    CHECK_OK(vs_wan_model_load(TINY, VS_CPU, &m));
    vs_test_defer(free_wan, m);
    temb_probe probe = {{0}, 0};
    vs_wan_model_set_probe(m, catch_temb, &probe);
    const int64_t lat_shape[5] = {1, 3, 1, 4, 4}, text_shape[3] = {1, 3, 128};
    vs_tensor *lat = vs_test_tensor(), *text = vs_test_tensor(), *out = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(lat, VS_F32, VS_CPU, 5, lat_shape));
    CHECK_OK(vs_tensor_alloc(out, VS_F32, VS_CPU, 5, lat_shape));
    CHECK_OK(vs_tensor_alloc(text, VS_F32, VS_CPU, 3, text_shape));
    vs_noise_gaussian(lat->data, vs_tensor_numel(lat), 1);
    vs_noise_gaussian(text->data, vs_tensor_numel(text), 2);
    const float t = 731.5f;
    CHECK_OK(vs_wan_forward(m, lat, &t, text, 0, 1, out, NULL));
    CHECK(probe.seen);
    float signal[128];
    for (int i = 0; i < 128; i++) signal[i] = NAN;
    CHECK_OK(vs_wan_time_embedding(m, t, signal));
    for (int i = 0; i < 128; i++) CHECK_MSG(signal[i] == probe.temb[i], "value %d: %g vs %g", i, signal[i], probe.temb[i]);
    return 0;
}

/* HunyuanVideo's TeaCache signal against diffusers (tests/hunyuan_teacache_check.h). */
TEST(hunyuan_teacache_signal_matches_diffusers) { return check_hunyuan_teacache(VS_CPU, 1e-5); }

/* Fixed points of the rules on synthetic data: FORA's count, EasyCache's warm-up and last step, and a
 * reuse that adds each branch's own transformation. */
TEST(rules_on_synthetic_steps) {
    const int steps = 50;
    vs_step_cache *c = NULL;
    CHECK_OK(vs_step_cache_create(&(vs_cache_settings){.policy = "fora", .threshold = 3}, NULL, steps, 4, 2, &c));
    vs_test_defer(free_cache, c);
    float x[4] = {1, 2, 3, 4}, out[8] = {2, 3, 4, 5, -1, -2, -3, -4}, got[8];
    int runs = 0;
    for (int i = 0; i < steps; i++) {
        int run;
        CHECK_OK(vs_step_cache_decide(c, i, x, NULL, &run));
        CHECK_MSG(run == (i == 0 || (49 - i) % 3 == 0), "fora step %d", i);
        runs += run;
        if (run) vs_step_cache_store(c, x, out);
    }
    CHECK(runs == 18); /* 49, 46, ..., 1 counted down, and the first */
    const float y[4] = {0, 0, 1, 1};
    vs_step_cache_reuse(c, y, got);
    for (int i = 0; i < 4; i++) CHECK(got[i] == y[i] + 1 && got[4 + i] == y[i] - 2 * x[i]);

    /* EasyCache with an unreachable threshold reuses every step after the warm-up but the last. */
    vs_step_cache *e = NULL;
    CHECK_OK(vs_step_cache_create(&(vs_cache_settings){.policy = "easycache", .threshold = 1e9}, NULL, steps, 4, 1, &e));
    vs_test_defer(free_cache, e);
    for (int i = 0; i < steps; i++) {
        float xi[4], vi[4];
        for (int j = 0; j < 4; j++) xi[j] = 1.0f - 0.02f * (float)i + (float)j, vi[j] = 0.5f + 0.01f * (float)(i * j);
        int run;
        CHECK_OK(vs_step_cache_decide(e, i, xi, NULL, &run));
        CHECK_MSG(run == (i < 10 || i == steps - 1), "easycache step %d ran %d", i, run);
        if (run) vs_step_cache_store(e, xi, vi);
    }
    return 0;
}

/* EasyCache's per-family settings (its authors' script for each): HunyuanVideo's threshold 0.025 when the
 * request gives none and its 5 warm-up steps always; Wan's policy defaults (0.05, steps / 5). */
TEST(easycache_takes_the_familys_settings) {
    vs_dit *hunyuan = NULL, *wan = NULL;
    CHECK_OK(vs_dit_load("tests/data/hunyuan/tiny_hd64", VS_CPU, &hunyuan));
    vs_test_defer(free_dit, hunyuan);
    CHECK_OK(vs_dit_load(TINY, VS_CPU, &wan));
    vs_test_defer(free_dit, wan);
    vs_cache_settings out;
    CHECK_OK(vs_cache_resolve(&(vs_cache_settings){.policy = "easycache", .threshold = -1}, hunyuan, &out, NULL));
    CHECK_MSG(out.threshold == 0.025 && out.warmup == 5, "HunyuanVideo: %g, %d", out.threshold, out.warmup);
    CHECK_OK(vs_cache_resolve(&(vs_cache_settings){.policy = "easycache", .threshold = 0.1}, hunyuan, &out, NULL));
    CHECK(out.threshold == 0.1 && out.warmup == 5);
    vs_cache_settings again; /* resolving the resolved settings changes nothing (the pipeline does) */
    CHECK_OK(vs_cache_resolve(&out, hunyuan, &again, NULL));
    CHECK(again.threshold == 0.1 && again.warmup == 5);
    CHECK_OK(vs_cache_resolve(&(vs_cache_settings){.policy = "easycache", .threshold = -1}, wan, &out, NULL));
    CHECK(out.threshold == 0.05 && out.warmup == 0);
    CHECK_OK(vs_cache_resolve(&(vs_cache_settings){.policy = "fora", .threshold = -1}, hunyuan, &out, NULL));
    CHECK(out.threshold == 3 && out.warmup == 0);
    /* the warm-up in the rule: an unreachable threshold reuses every step after it but the last */
    const int steps = 12;
    for (int w = 0; w < 2; w++) {
        vs_step_cache *e = NULL;
        const vs_cache_settings set = {.policy = "easycache", .threshold = 1e9, .warmup = w ? 5 : 0};
        CHECK_OK(vs_step_cache_create(&set, NULL, steps, 4, 1, &e));
        vs_test_defer(free_cache, e);
        const int warmup = w ? 5 : steps / 5;
        for (int i = 0; i < steps; i++) {
            float xi[4], vi[4];
            for (int j = 0; j < 4; j++)
                xi[j] = 1.0f - 0.02f * (float)i + (float)j, vi[j] = 0.5f + 0.01f * (float)(i * j);
            int run;
            CHECK_OK(vs_step_cache_decide(e, i, xi, NULL, &run));
            CHECK_MSG(run == (i < warmup || i == steps - 1), "warm-up %d: step %d ran %d", warmup, i, run);
            if (run) vs_step_cache_store(e, xi, vi);
        }
    }
    return 0;
}

TEST(bad_settings_are_one_line_errors) {
    vs_cache_settings out;
    CHECK_FAILS(vs_cache_resolve(&(vs_cache_settings){.policy = "magic", .threshold = -1}, NULL, &out, NULL), VS_ERR_INVALID_ARG,
                "unknown cache policy 'magic' (known: none, easycache, teacache, fora)");
    CHECK_FAILS(vs_cache_resolve(&(vs_cache_settings){.policy = "fora", .threshold = 2.5}, NULL, &out, NULL), VS_ERR_INVALID_ARG,
                "whole number of steps");
    CHECK_FAILS(vs_cache_resolve(&(vs_cache_settings){.policy = "easycache", .threshold = 0}, NULL, &out, NULL), VS_ERR_INVALID_ARG,
                "must be positive");
    CHECK_OK(vs_cache_resolve(&(vs_cache_settings){.policy = NULL, .threshold = -1}, NULL, &out, NULL));
    CHECK(!strcmp(out.policy, "none"));
    CHECK_OK(vs_cache_resolve(&(vs_cache_settings){.policy = "easycache", .threshold = -1}, NULL, &out, NULL));
    CHECK(out.threshold == 0.05);
    CHECK_OK(vs_cache_resolve(&(vs_cache_settings){.policy = "fora", .threshold = -1}, NULL, &out, NULL));
    CHECK(out.threshold == 3);
    /* TeaCache on a checkpoint without a published fit: the embedded model. */
    vs_dit *dit = NULL;
    CHECK_OK(vs_dit_load(TINY, VS_CPU, &dit));
    vs_test_defer(free_dit, dit);
    CHECK_FAILS(vs_cache_resolve(&(vs_cache_settings){.policy = "teacache", .threshold = -1}, dit, &out, NULL), VS_ERR_UNSUPPORTED,
                "teacache has published coefficients for Wan 2.1 T2V 1.3B and 14B only, not for this Wan DiT (dim 128");
    CHECK(!strchr(vs_last_error(), '\n'));
    return 0;
}

/* The public pipeline: the policy resolved at load (unknown names and teacache without a fit refused
 * there), the passes in the stats. */
TEST(pipeline_api_counts_passes) {
    vs_pipeline_params params = vs_pipeline_default_params();
    params.device = VS_PIPELINE_CPU;
    params.attention.method = "dense";
    vs_pipeline *p = NULL;
    params.cache = "nope";
    CHECK_FAILS(vs_pipeline_load(&p, NULL, &params), VS_ERR_INVALID_ARG, "unknown cache policy 'nope'");
    params.cache = "teacache";
    CHECK_FAILS(vs_pipeline_load(&p, NULL, &params), VS_ERR_UNSUPPORTED, "published coefficients");
    CHECK(p == NULL);
    params.cache = "fora";
    CHECK_OK(vs_pipeline_load(&p, NULL, &params));
    vs_test_defer(free_pipeline, p);
    const vs_pipeline_info info = vs_pipeline_get_info(p);
    CHECK(!strcmp(info.cache, "fora") && info.cache_threshold == 3);
    vs_generate_request r = vs_generate_default_request();
    r.prompt = "a red circle moving right on a blue background";
    r.frames = 2, r.height = 16, r.width = 16, r.steps = 7, r.guidance = 4;
    vs_video *video = NULL;
    CHECK_OK(vs_pipeline_generate(p, &r, &video));
    vs_video_free(video);
    const vs_pipeline_stats st = vs_pipeline_get_stats(p);
    /* Steps 0, 3, 6 run (6 counted down: 6, 3, 0), both CFG branches. */
    CHECK_MSG(st.passes_run == 6 && st.passes_reused == 8, "%lld run, %lld reused", (long long)st.passes_run,
              (long long)st.passes_reused);
    return 0;
}

/* ---- the loop on thread ranks: every rank makes the same decisions ---- */

typedef struct {
    vs_comm *comm;
    const vs_text_embedding *cond, *uncond;
    const char *policy;
    double threshold;
    vs_tensor *latents; /* noise in, result out */
    vs_dit_timing timing;
    vs_status status;
    char error[256];
} loop_rank;

static void *loop_main(void *arg) {
    loop_rank *l = arg;
    vs_dit *dit = NULL;
    vs_denoise_settings set;
    memset(&set, 0, sizeof set);
    set.scheduler = vs_scheduler_config_unipc(3.0);
    set.steps = 12, set.guidance = 4.0f;
    set.attention = (vs_attention_params){.method = "svg", .density = 0.5, .dense_steps = 0.2};
    set.cache = (vs_cache_settings){.policy = l->policy, .threshold = l->threshold};
    l->status = vs_dit_load(TINY, VS_CPU, &dit);
    if (!l->status) l->status = vs_dit_set_comm(dit, l->comm);
    if (!l->status) l->status = vs_denoise(dit, &set, l->cond, l->uncond, l->latents, &l->timing);
    if (l->status) snprintf(l->error, sizeof l->error, "%s", vs_last_error());
    vs_dit_free(dit);
    return l->status ? l : NULL;
}


static int check_ranks(const char *policy, double threshold) {
    const int64_t lat_shape[5] = {1, 3, 4, 16, 16}, text_shape[3] = {1, 32, 128};
    vs_text_embedding *cond = vs_test_malloc(sizeof *cond), *uncond = vs_test_malloc(sizeof *uncond);
    memset(cond, 0, sizeof *cond), memset(uncond, 0, sizeof *uncond);
    vs_tensor *noise = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(noise, VS_F32, VS_CPU, 5, lat_shape));
    vs_noise_gaussian(noise->data, vs_tensor_numel(noise), 5);
    vs_tensor *texts[2] = {&cond->hidden, &uncond->hidden};
    for (int i = 0; i < 2; i++) {
        vs_tensor *t = vs_test_tensor();
        CHECK_OK(vs_tensor_alloc(t, VS_F32, VS_CPU, 3, text_shape));
        vs_noise_gaussian(t->data, vs_tensor_numel(t), 10 + (uint64_t)i);
        for (int64_t j = 0; j < vs_tensor_numel(t); j++) ((float *)t->data)[j] *= 0.1f;
        *texts[i] = vs_tensor_view(t->data, VS_F32, VS_CPU, 3, text_shape);
    }
    const int ranks = 2; /* the embedded model has 2 heads */
    vs_comm_group *g = NULL;
    CHECK_OK(vs_comm_group_create(&g, ranks));
    vs_test_defer(free_group, g);
    loop_rank l[2];
    for (int r = 0; r < ranks; r++) {
        memset(&l[r], 0, sizeof l[r]);
        l[r].cond = cond, l[r].uncond = uncond, l[r].policy = policy, l[r].threshold = threshold;
        CHECK_OK(vs_comm_threads(g, r, &l[r].comm));
        vs_test_defer(free_comm, l[r].comm);
        l[r].latents = vs_test_tensor();
        CHECK_OK(vs_tensor_alloc(l[r].latents, VS_F32, VS_CPU, 5, lat_shape));
        memcpy(l[r].latents->data, noise->data, sizeof(float) * (size_t)vs_tensor_numel(noise));
    }
    CHECK_MSG(vs_test_run_ranks(ranks, loop_main, l, sizeof l[0]) == 0, "%s: %s", policy, l[0].error[0] ? l[0].error : l[1].error);
    CHECK_MSG(l[0].timing.passes_reused > 0, "%s reused nothing", policy);
    CHECK(l[0].timing.passes_run + l[0].timing.passes_reused == 24);
    CHECK(l[1].timing.passes_run == l[0].timing.passes_run && l[1].timing.passes_reused == l[0].timing.passes_reused);
    CHECK(!memcmp(l[0].latents->data, l[1].latents->data, sizeof(float) * (size_t)vs_tensor_numel(noise)));
    return 0;
}

TEST(sequence_parallel_ranks_decide_alike) {
    return check_ranks("easycache", 0.2) || check_ranks("fora", 2);
}

RUN_TESTS(T(easycache_matches_the_reference_on_a_recording), T(fora_matches_the_reference_on_a_recording),
          T(teacache_matches_the_reference_on_recorded_signals), T(teacache_signal_is_the_forwards_time_embedding),
          T(hunyuan_teacache_signal_matches_diffusers), T(easycache_takes_the_familys_settings),
          T(rules_on_synthetic_steps),
          T(bad_settings_are_one_line_errors), T(pipeline_api_counts_passes), T(sequence_parallel_ranks_decide_alike))
