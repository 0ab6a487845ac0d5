/* The pipeline's memory plan (pipeline/memory_plan.h) and the estimates it plans with, on the CPU: the plan
 * is arithmetic on the stages' needs; the weight estimates must equal what the checkpoints hold; the
 * random components of bench generate make finite outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/block_list.h"
#include "backend/sparse_kernels.h"
#include "check.h"
#include "io/safetensors.h"
#include "models/common/umt5.h"
#include "models/family.h"
#include "models/wan/config.h"
#include "models/wan/transformer.h"
#include "models/wan/vae.h"
#include "pipeline/memory_plan.h"
#include "pipeline/t2v.h"
#include "sparse/svg.h"

#define GIB ((size_t)1 << 30)

/* Wan 14B at 720p in bf16, roughly: umT5 11 GiB, the DiT 27 GiB + 14 GiB, the VAE 0.2 GiB + 12 GiB. */
static const vs_stage_memory wan14b[VS_STAGE_COUNT] = {
    {11 * GIB, 1 * GIB, 0}, {27 * GIB, 14 * GIB, 0}, {GIB / 4, 12 * GIB, 0}};

TEST(everything_stays_when_it_fits) {
    vs_memory_plan p;
    CHECK_OK(vs_memory_plan_make(wan14b, 0, GIB / 2, &p)); /* no budget */
    CHECK(p.resident);
    /* 11 + 27 + 0.25 weights + 14 work + 0.5 in use + the 1 GiB workspace allowance */
    CHECK(p.peak[VS_STAGE_DENOISE] == 11 * GIB + 27 * GIB + GIB / 4 + 14 * GIB + GIB / 2 + VS_PLAN_WORKSPACE);
    CHECK_OK(vs_memory_plan_make(wan14b, 141 * GIB, GIB / 2, &p));
    CHECK(p.resident && p.peak[VS_STAGE_TEXT] < p.peak[VS_STAGE_DENOISE]);
    CHECK(p.budget == 141 * GIB && p.in_use == GIB / 2 && p.need[VS_STAGE_DECODE].work == 12 * GIB);
    return 0;
}

TEST(stages_load_alone_when_short) {
    vs_memory_plan p;
    /* 48 GiB: not all together (53.75), the DiT alone (42.5) and DiT + VAE (40.75) fit: the DiT stays. */
    CHECK_OK(vs_memory_plan_make(wan14b, 48 * GIB, GIB / 2, &p));
    CHECK(!p.resident && p.keep_dit_for_decode);
    CHECK(p.peak[VS_STAGE_TEXT] == 11 * GIB + GIB + GIB / 2 + VS_PLAN_WORKSPACE);
    CHECK(p.peak[VS_STAGE_DENOISE] == 27 * GIB + 14 * GIB + GIB / 2 + VS_PLAN_WORKSPACE);
    CHECK(p.peak[VS_STAGE_DECODE] == 27 * GIB + GIB / 4 + 12 * GIB + GIB / 2 + VS_PLAN_WORKSPACE);
    /* A VAE that needs more than the DiT's activations: the DiT alone (25) fits 30 GiB, beside the VAE
     * (37.25) it does not, so it is freed first. */
    const vs_stage_memory vae_heavy[VS_STAGE_COUNT] = {{GIB, GIB, 0}, {20 * GIB, 4 * GIB, 0}, {GIB / 4, 16 * GIB, 0}};
    CHECK_OK(vs_memory_plan_make(vae_heavy, 30 * GIB, 0, &p));
    CHECK(!p.resident && !p.keep_dit_for_decode);
    CHECK(p.peak[VS_STAGE_DECODE] == GIB / 4 + 16 * GIB + VS_PLAN_WORKSPACE);
    CHECK(!p.tile_vae);
    /* Its untiled 16 GiB do not fit 12 GiB even alone; tiles of 3 GiB do: the VAE tiles. Without a tiled
     * estimate the budget is refused. */
    const vs_stage_memory tiles[VS_STAGE_COUNT] = {{GIB, GIB, 0}, {8 * GIB, 2 * GIB, 0}, {GIB / 4, 16 * GIB, 3 * GIB}};
    CHECK_OK(vs_memory_plan_make(tiles, 12 * GIB, 0, &p));
    CHECK(!p.resident && !p.keep_dit_for_decode && p.tile_vae);
    CHECK(p.peak[VS_STAGE_DECODE] == GIB / 4 + 3 * GIB + VS_PLAN_WORKSPACE);
    const vs_stage_memory untiled[VS_STAGE_COUNT] = {tiles[0], tiles[1], {GIB / 4, 16 * GIB, 0}};
    CHECK_FAILS(vs_memory_plan_make(untiled, 12 * GIB, 0, &p), VS_ERR_OOM, "too small for VAE decoding");
    return 0;
}

TEST(a_budget_too_small_is_refused_naming_the_stage) {
    vs_memory_plan p;
    CHECK_FAILS(vs_memory_plan_make(wan14b, 32 * GIB, GIB / 2, &p), VS_ERR_OOM, "too small for denoising");
    CHECK(strstr(vs_last_error(), "32.00 GiB") && strstr(vs_last_error(), "needs 42.50 GiB") &&
          strstr(vs_last_error(), "weights 27.00") && strstr(vs_last_error(), "activations 14.00"));
    CHECK_FAILS(vs_memory_plan_make(wan14b, 10 * GIB, 0, &p), VS_ERR_OOM, "too small for text encoding");
    /* The first stage that does not fit is named; here the VAE, which alone needs 22 GiB. */
    const vs_stage_memory vae_heavy[VS_STAGE_COUNT] = {{GIB, GIB, 0}, {2 * GIB, GIB, 0}, {GIB, 20 * GIB, 0}};
    CHECK_FAILS(vs_memory_plan_make(vae_heavy, 8 * GIB, 0, &p), VS_ERR_OOM, "too small for VAE decoding");
    CHECK(strstr(vs_last_error(), "needs 22.00 GiB") != NULL);
    return 0;
}

/* The number of values a checkpoint holds. */
static int64_t checkpoint_values(const char *dir) {
    vs_safetensors *st = NULL;
    if (vs_safetensors_open(&st, dir) != VS_OK) return -1;
    int64_t n = 0;
    for (size_t i = 0; i < vs_safetensors_count(st); i++) {
        const vs_st_entry *e = vs_safetensors_entry(st, i);
        int64_t v = 1;
        for (int d = 0; d < e->ndim; d++) v *= e->shape[d];
        n += v;
    }
    vs_safetensors_close(st);
    return n;
}

TEST(weight_estimates_match_the_checkpoints) {
    /* On the CPU every weight is f32: the estimates are 4 bytes per stored value. */
    vs_umt5_config text;
    CHECK_OK(vs_umt5_read_config("models/vidsparse-tiny/text_encoder", &text));
    size_t weights, work;
    vs_umt5_memory(&text, VS_CPU, 0, 1, 32, &weights, &work);
    CHECK(weights == (size_t)checkpoint_values("models/vidsparse-tiny/text_encoder") * 4 && work > 0);
    vs_wan_config dit;
    CHECK_OK(vs_wan_config_load("models/vidsparse-tiny/transformer/config.json", &dit));
    const int64_t latents[5] = {2, dit.in_channels, 4, 8, 8};
    CHECK_OK(vs_wan_memory(&dit, VS_CPU, VS_PRECISION_DEFAULT, latents, 32, &weights, &work));
    CHECK(weights == (size_t)checkpoint_values("models/vidsparse-tiny/transformer") * 4 && work > 0);
    /* The activations grow with the batch and the video. */
    size_t w2, work2;
    const int64_t bigger[5] = {2, dit.in_channels, 8, 8, 8};
    CHECK_OK(vs_wan_memory(&dit, VS_CPU, VS_PRECISION_DEFAULT, bigger, 32, &w2, &work2));
    CHECK(w2 == weights && work2 > work);
    return 0;
}

TEST(wan_estimates_at_the_real_sizes) {
    /* Wan 2.1 14B in bf16: 14.3e9 parameters (the checkpoint's count) -> 28.6 GB. */
    const vs_family *wan;
    CHECK_OK(vs_family_for_preset("wan14b", &wan));
    vs_stage_memory need[VS_STAGE_COUNT];
    const int64_t latents[5] = {2, 16, 21, 90, 160};
    CHECK_OK(wan->memory_need(NULL, "wan14b", VS_CUDA, VS_PRECISION_DEFAULT, latents, 512, need));
    CHECK(need[VS_STAGE_DENOISE].weights > 28.0e9 && need[VS_STAGE_DENOISE].weights < 29.0e9);
    /* umT5-XXL's encoder: 5.68e9 parameters -> 11.4 GB. */
    CHECK(need[VS_STAGE_TEXT].weights > 11.0e9 && need[VS_STAGE_TEXT].weights < 11.7e9);
    /* The Wan VAE decoder: 73e6 parameters -> 0.15 GB; its buffers at 720p about 12 GB (the measured
     * 480p pool was 5.0 GiB; the buffers scale with the pixels). */
    CHECK(need[VS_STAGE_DECODE].weights > 0.12e9 && need[VS_STAGE_DECODE].weights < 0.2e9);
    size_t w480, work480;
    CHECK_OK(vs_wan_vae_estimate(NULL, 60, 104, &w480, &work480));
    CHECK(work480 > 4.5 * GIB && work480 < 6.5 * GIB);
    CHECK(need[VS_STAGE_DECODE].work > 2 * work480 && need[VS_STAGE_DECODE].work < 2.5 * work480);
    /* Tiled, one 256 x 256 pixel tile at a time (32 x 32 latents): a small fraction of the 720p work. */
    size_t w_tile, work_tile;
    CHECK_OK(vs_wan_vae_estimate(NULL, 32, 32, &w_tile, &work_tile));
    CHECK(need[VS_STAGE_DECODE].work_tiled == work_tile && work_tile < need[VS_STAGE_DECODE].work / 10);
    /* FP8: the DiT's block linears are quantised as they load (E4M3 codes and per-channel scales: 14.5 GB),
     * the text encoder loads in bf16 and is quantised after; the work adds the FP8 layers' input codes. */
    vs_stage_memory fp8[VS_STAGE_COUNT];
    CHECK_OK(wan->memory_need(NULL, "wan14b", VS_CUDA, VS_PRECISION_FP8, latents, 512, fp8));
    CHECK(fp8[VS_STAGE_DENOISE].weights > 14.0e9 && fp8[VS_STAGE_DENOISE].weights < 15.0e9);
    CHECK(fp8[VS_STAGE_TEXT].weights == need[VS_STAGE_TEXT].weights);
    CHECK(fp8[VS_STAGE_DENOISE].work > need[VS_STAGE_DENOISE].work && fp8[VS_STAGE_TEXT].work > need[VS_STAGE_TEXT].work);
    CHECK(fp8[VS_STAGE_DECODE].work == need[VS_STAGE_DECODE].work);
    /* The CPU plans nothing. */
    CHECK_OK(wan->memory_need(NULL, "wan14b", VS_CPU, VS_PRECISION_DEFAULT, latents, 512, need));
    CHECK(need[VS_STAGE_DENOISE].weights == 0 && need[VS_STAGE_TEXT].work == 0);
    return 0;
}

static void free_vae(void *v) { vs_wan_vae_free(v); }
static void free_umt5(void *m) { vs_umt5_free(m); }

static int all_finite(const vs_tensor *t) {
    const float *x = t->data;
    for (int64_t i = 0; i < vs_tensor_numel(t); i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

TEST(random_components_run) {
    /* The Wan 2.1 VAE with random weights decodes 2 latent frames of 4 x 4 into 5 frames of 32 x 32. */
    vs_wan_vae *vae;
    CHECK_OK(vs_wan_vae_random(&vae, VS_CPU, 3));
    vs_test_defer(free_vae, vae);
    CHECK(vs_wan_vae_z_dim(vae) == 16 && vs_wan_vae_spatial_ratio(vae) == 8 && vs_wan_vae_temporal_ratio(vae) == 4);
    vs_tensor *lat = vs_test_tensor(), *video = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(lat, VS_F32, VS_CPU, 5, (int64_t[]){1, 16, 2, 4, 4}));
    float *z = lat->data;
    unsigned long long state = 5;
    for (int64_t i = 0; i < vs_tensor_numel(lat); i++) z[i] = (float)(2 * vs_test_uniform(&state) - 1);
    CHECK_OK(vs_wan_vae_decode(vae, lat, NULL, video));
    CHECK(video->ndim == 4 && video->shape[0] == 5 && video->shape[1] == 3 && video->shape[2] == 32 &&
          video->shape[3] == 32 && all_finite(video));
    /* A random umT5 of a small configuration encodes finite rows. */
    const vs_umt5_config small = {300, 64, 16, 96, 4, 2, 32, 128, 1e-6f, 0};
    vs_umt5 *text;
    CHECK_OK(vs_umt5_random(&text, &small, VS_CPU, 9));
    vs_test_defer(free_umt5, text);
    int32_t ids[8] = {5, 9, 200, 1, 0, 0, 0, 0}, mask[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    float *out = vs_test_malloc(8 * 64 * sizeof *out);
    CHECK_OK(vs_umt5_encode(text, ids, mask, 8, out));
    vs_tensor view = vs_tensor_view(out, VS_F32, VS_CPU, 1, (int64_t[]){8 * 64});
    CHECK(all_finite(&view));
    return 0;
}

TEST(the_pipeline_checks_the_budget) {
    vs_t2v *m = NULL;
    const vs_t2v_source tiny = {"models/vidsparse-tiny", NULL, 0, VS_PRECISION_DEFAULT};
    CHECK_FAILS(vs_t2v_open(&tiny, VS_CPU, -1, &m), VS_ERR_INVALID_ARG, "budget must be >= 0");
    const vs_t2v_source none = {NULL, NULL, 0, VS_PRECISION_DEFAULT};
    CHECK_FAILS(vs_t2v_open(&none, VS_CPU, 0, &m), VS_ERR_INVALID_ARG, "model folder or a model configuration");
    const vs_t2v_source unknown = {NULL, "wan99b", 0, VS_PRECISION_DEFAULT};
    CHECK_FAILS(vs_t2v_open(&unknown, VS_CPU, 0, &m), VS_ERR_INVALID_ARG, "wan99b");
    CHECK(m == NULL);
    return 0;
}

/* The band attention's scratch: the sizes its CUDA path allocates (vs_attn_band_scratch_of) for SVG's real
 * block lists, and for every band of a ragged block count, never exceed the bound the plans count. */
TEST(band_scratch_within_its_bound) {
    /* Wan 14B 720p: 21 frames of 45 x 80 tokens, 40 heads of 128. */
    const int frames = 21, per_frame = 45 * 80, seq = frames * per_frame, heads = 40, head_dim = 128;
    const size_t bound = vs_attn_band_scratch_max(seq, heads, head_dim);
    const size_t all = 2 * (size_t)heads * head_dim * 128 * (size_t)((seq + 127) / 128);
    /* q, k, v, the two partial outputs, the longest tail copied twice (591 / 8 + 2 blocks), the log-sum-exps and
     * 3 blocks */
    CHECK(bound >= 5 * all + all / 4 && bound < 5 * all + all / 3);
    const double densities[] = {0.05, 0.15, 0.25, 0.5, 1.0};
    int banded = 0;
    for (size_t i = 0; i < sizeof densities / sizeof densities[0]; i++) {
        const vs_svg_config cfg = vs_svg_config_default(frames, per_frame, 0, densities[i]);
        vs_attn_block_list blocks;
        CHECK_OK(vs_svg_blocks_build(&cfg, seq, &blocks));
        const vs_attn_band rows = vs_attn_find_band(&blocks.view);
        const vs_attn_band_scratch sc = vs_attn_band_scratch_of(&rows, seq, heads, head_dim);
        vs_attn_block_list_free(&blocks);
        banded += rows.count > 0;
        CHECK(sc.gathered == 3 * all && vs_attn_band_scratch_total(&sc) <= bound);
    }
    CHECK(banded > 0);
    /* Every band of 37 blocks (the last one ragged): the rest entries are the runs before and after the band,
     * the second aligned to 4. */
    const int seq2 = 36 * 128 + 5, nb = 37;
    for (int first = 0; first < nb; first++)
        for (int count = 0; first + count <= nb; count++) {
            const vs_attn_band rows = {first, count, 1, 1, nb};
            const vs_attn_band_scratch sc = vs_attn_band_scratch_of(&rows, seq2, 3, 64);
            const int before = count ? first : nb, after = count ? nb - first - count : 0;
            CHECK(sc.rest_entries == (after ? (before + 3) / 4 * 4 + after : before));
            CHECK(vs_attn_band_scratch_total(&sc) <= vs_attn_band_scratch_max(seq2, 3, 64));
        }
    return 0;
}

/* Wan 14B's needs at 81 frames of height x width latents with CFG, FP8 weights, under `attention` (the
 * pipeline's plan: the family's needs plus the sparse method's state). */
static vs_status wan14b_fp8_need(int64_t h, int64_t w, const vs_attention_params *attention,
                                 vs_stage_memory need[VS_STAGE_COUNT]) {
    const vs_family *wan;
    VS_TRY(vs_family_for_preset("wan14b", &wan));
    vs_dit_info info;
    VS_TRY(wan->dit_preset("wan14b", &info));
    const int64_t latents[5] = {2, 16, 21, h, w};
    return vs_family_memory_need(wan, NULL, "wan14b", &info, VS_CUDA, VS_PRECISION_FP8, attention, latents,
                                 512, need);
}

/* Issue 20's targets: Wan 14B with FP8 weights and FP8 attention, 81 frames with CFG and SVG (the family's
 * default attention), plans within 32 GiB at 720p and 24 GiB at 480p (0.5 GiB in use before loading), every
 * stage's planned peak inside the budget. */
TEST(wan14b_fp8_plans_within_the_targets) {
    const vs_family *wan;
    CHECK_OK(vs_family_for_preset("wan14b", &wan));
    vs_attention_params attention = wan->defaults.attention;
    attention.precision = VS_PRECISION_FP8;
    const struct { int64_t h, w; size_t budget; } targets[] = {{90, 160, 32 * GIB}, {60, 104, 24 * GIB}};
    for (int i = 0; i < 2; i++) {
        vs_stage_memory need[VS_STAGE_COUNT];
        CHECK_OK(wan14b_fp8_need(targets[i].h, targets[i].w, &attention, need));
        vs_memory_plan p;
        CHECK_OK(vs_memory_plan_make(need, targets[i].budget, GIB / 2, &p));
        CHECK(!p.resident);
        for (int st = 0; st < VS_STAGE_COUNT; st++) CHECK(p.peak[st] <= targets[i].budget);
    }
    return 0;
}

/* The sparse method's state in the plan (vs_dit_attention_memory): none for dense; SVG's band scratch on
 * CUDA; SVG2's plan, workspace and every layer's centroids, which at Wan 14B 720p with CFG (the workspace
 * holds q and out in 128-row chunks and k and v in pages for 80 (entry, head) pairs; 40 layers of 1300
 * centroids) come to about 10 GiB, so the 32 GiB plan that SVG meets refuses SVG2 up front, naming the
 * denoising stage. */
TEST(sparse_state_in_the_plan) {
    const vs_sparse_kernels *cuda;
    if (vs_sparse_kernels_for(VS_CUDA, &cuda) != VS_OK) {
        printf("  no CUDA in this build: skipped\n");
        return 0;
    }
    const vs_family *wan;
    CHECK_OK(vs_family_for_preset("wan14b", &wan));
    vs_dit_info info;
    CHECK_OK(wan->dit_preset("wan14b", &info));
    const int64_t latents[5] = {2, 16, 21, 90, 160};
    vs_attention_params dense = wan->defaults.attention, svg = dense, svg2 = dense;
    dense.method = "dense", svg2.method = "svg2";
    const size_t d = vs_dit_attention_memory(&info, VS_CUDA, &dense, latents, 512);
    const size_t s1 = vs_dit_attention_memory(&info, VS_CUDA, &svg, latents, 512);
    const size_t s2 = vs_dit_attention_memory(&info, VS_CUDA, &svg2, latents, 512);
    printf("  Wan 14B 720p with CFG: dense %.2f GiB, SVG %.2f GiB, SVG2 %.2f GiB of sparse state\n",
           (double)d / GIB, (double)s1 / GIB, (double)s2 / GIB);
    CHECK(d == 0 && s1 >= vs_attn_band_scratch_max(75600, 40, 128));
    CHECK(s2 > 8 * GIB && s2 < 12 * GIB);
    /* FP8 attention's codes: a group of heads of Q, K, V and O, at most 256 MiB (3 heads a call with CFG) */
    vs_attention_params dense8 = dense, svg8 = svg;
    dense8.precision = svg8.precision = VS_PRECISION_FP8;
    const size_t d8 = vs_dit_attention_memory(&info, VS_CUDA, &dense8, latents, 512);
    const size_t s8 = vs_dit_attention_memory(&info, VS_CUDA, &svg8, latents, 512);
    printf("  with FP8 attention: dense %.0f MiB, SVG %.0f MiB more\n", (double)d8 / (1 << 20),
           (double)(s8 - s1) / (1 << 20));
    const double codes = 3.0 * 2 * 128 * 4 * 75648; /* heads x batch x head_dim x (Q, K, V, O) x rows */
    CHECK(d8 >= codes && d8 < codes + 4e6 && d8 <= 256.0 * (1 << 20) + 4e6 && s8 == s1 + d8);
    CHECK(vs_dit_attention_memory(&info, VS_CPU, &svg, latents, 512) == 0); /* no band path on the CPU */
    vs_stage_memory need[VS_STAGE_COUNT];
    vs_memory_plan p;
    CHECK_OK(wan14b_fp8_need(90, 160, &svg2, need));
    CHECK_FAILS(vs_memory_plan_make(need, 32 * GIB, GIB / 2, &p), VS_ERR_OOM, "denoising");
    return 0;
}

RUN_TESTS(T(everything_stays_when_it_fits), T(stages_load_alone_when_short),
          T(a_budget_too_small_is_refused_naming_the_stage), T(weight_estimates_match_the_checkpoints),
          T(wan_estimates_at_the_real_sizes), T(random_components_run), T(the_pipeline_checks_the_budget),
          T(band_scratch_within_its_bound), T(wan14b_fp8_plans_within_the_targets),
          T(sparse_state_in_the_plan))
