/* The CogVideoX 1.5 DiT on the GPU (bf16) against the diffusers golden files of
 * tests/data/cogvideox (tools/make_cogvideox_fixtures.py) and against the f32 CPU
 * forward: every intermediate, host or device tensors with a poisoned output, the
 * image-to-video model, SVG, a random model with several attention tiles; and, when
 * VS_COGVIDEOX_REAL_DIR names a folder made by tools/cogvideox_gpu_check.py, one
 * block at the real 1.5 dimensions (48 heads of 64, text 4096, time 512) against
 * diffusers' f32 forward of the same bf16 weights. Also CogVideoX's text encoder, T5 v1.1
 * (models/common/umt5.c with one shared position bias), against transformers (tests/data/t5). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cogvideox_fixture.h"
#include "io/safetensors.h"
#include "models/cogvideox/transformer.h"
#include "models/common/umt5.h"
#include "tensor_util.h"
#include "wan_intermediates.h"

#define DATA "tests/data/cogvideox/"

static void free_model(void *m) {
    vs_cogvideox_model_free(m);
}

/* The probe: intermediates are device tensors, f32 or bf16. */
static void compare_intermediate(void *user, const char *name, const vs_tensor *t) {
    float *got = to_host(t);
    wan_intermediate_check(user, name, got, vs_tensor_numel(t));
    free(got);
}

/* The model against a fixture on the GPU, every intermediate it has on the way; rel L2 of the output in *err. */
static int check_on_gpu(const char *model_dir, const char *fixture_path, int intermediates, double *err) {
    vs_cogvideox_model *m = NULL;
    cogvideox_fixture fx;
    CHECK_OK(vs_cogvideox_model_load(model_dir, VS_CUDA, &m));
    vs_test_defer(free_model, m);
    if (cogvideox_fixture_open(fixture_path, &fx)) return 1;
    vs_tensor *out = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(out, VS_F32, VS_CPU, 5, fx.output->shape));
    float *o = out->data;
    for (int64_t i = 0; i < vs_tensor_numel(out); i++)
        o[i] = NAN;
    wan_intermediates probe = {.st = fx.st, .tol = 2e-2};
    if (intermediates) vs_cogvideox_model_set_probe(m, compare_intermediate, &probe);
    const vs_cogvideox_input in = cogvideox_fixture_input(&fx);
    vs_dit_timing timing = {0};
    CHECK_OK(vs_cogvideox_forward(m, &in, out, &timing));
    vs_cogvideox_model_set_probe(m, NULL, NULL);
    *err = vs_test_rel_l2_f32(out->data, fx.output->data, vs_tensor_numel(out));
    printf("  %s: rel L2 %.2e against diffusers f32, %d intermediates checked, %.1f ms (attention %.1f ms)\n",
           fixture_path, *err, probe.seen, timing.total_s * 1e3, timing.attention_s * 1e3);
    CHECK_MSG(!probe.first_bad[0], "first divergence from diffusers: %s", probe.first_bad);
    return 0;
}

TEST(golden_forward_on_the_gpu) {
    double err;
    if (check_on_gpu(DATA "t2v", DATA "t2v_forward.safetensors", 1, &err)) return 1;
    CHECK_MSG(err <= 2e-2, "text-to-video: rel L2 %g", err);
    if (check_on_gpu(DATA "i2v", DATA "i2v_forward.safetensors", 0, &err)) return 1;
    CHECK_MSG(err <= 2e-2, "image-to-video, batch of 2: rel L2 %g", err);
    return 0;
}

TEST(device_tensors_and_svg) {
    vs_cogvideox_model *m = NULL;
    cogvideox_fixture fx;
    CHECK_OK(vs_cogvideox_model_load(DATA "t2v", VS_CUDA, &m));
    vs_test_defer(free_model, m);
    if (cogvideox_fixture_open(DATA "t2v_forward.safetensors", &fx)) return 1;
    const int64_t n = vs_tensor_numel(fx.output);
    vs_tensor *host_out = vs_test_tensor(), *dlat = vs_test_tensor(), *dtext = vs_test_tensor();
    vs_tensor *dout = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(host_out, VS_F32, VS_CPU, 5, fx.output->shape));
    vs_cogvideox_input in = cogvideox_fixture_input(&fx);
    CHECK_OK(vs_cogvideox_forward(m, &in, host_out, NULL));
    CHECK_OK(to_device(dlat, fx.latents->data, VS_F32, 5, fx.latents->shape));
    CHECK_OK(to_device(dtext, fx.text->data, VS_F32, 3, fx.text->shape));
    CHECK_OK(vs_tensor_alloc(dout, VS_F32, VS_CUDA, 5, fx.output->shape));
    CHECK_OK(poison(dout));
    in.latents = dlat, in.text = dtext;
    CHECK_OK(vs_cogvideox_forward(m, &in, dout, NULL));
    float *got = to_host(dout);
    vs_test_defer(free, got);
    CHECK(got && vs_test_rel_l2_f32(got, host_out->data, n) == 0); /* the same computation */
    /* SVG: 24 video and 7 text tokens are one 128-token block, so sparse equals dense */
    vs_attention_params svg = vs_cogvideox_svg_defaults();
    svg.dense_steps = 0, svg.dense_layers = 0;
    CHECK_OK(vs_cogvideox_model_set_attention(m, &svg));
    vs_dit_timing timing = {0};
    CHECK_OK(poison(dout));
    CHECK_OK(vs_cogvideox_forward(m, &in, dout, &timing));
    got = to_host(dout);
    vs_test_defer(free, got);
    CHECK(got);
    const double err = vs_test_rel_l2_f32(got, fx.output->data, n);
    printf("  SVG on the GPU: rel L2 %.2e, %lld spatial + %lld temporal heads\n", err, (long long)timing.heads_spatial,
           (long long)timing.heads_temporal);
    CHECK_MSG(err <= 2e-2, "rel L2 %g", err);
    CHECK(timing.heads_spatial + timing.heads_temporal == 2);
    return 0;
}

/* A random image-to-video model with several attention tiles (5 x 6 x 9 = 270 video + 37 text tokens, 2 heads
 * of 64, an odd text length and a grid that fills no tile): GPU vs CPU, dense and SVG. */
TEST(random_model_gpu_matches_cpu) {
    vs_cogvideox_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = 8, c.out_channels = 4, c.num_heads = 2, c.head_dim = 64, c.dim = 128, c.num_layers = 2;
    c.mlp_dim = 512, c.time_embed_dim = 48, c.ofs_embed_dim = 48, c.text_dim = 40, c.text_length = 37;
    c.patch_size[0] = c.patch_size[1] = c.patch_size[2] = 2, c.attention_bias = 1, c.norm_eps = 1e-5;
    c.rope_axes[0] = 16, c.rope_axes[1] = c.rope_axes[2] = 24, c.rope_theta = 1e4;
    vs_cogvideox_model *cpu = NULL, *gpu = NULL;
    CHECK_OK(vs_cogvideox_model_random(&c, VS_CPU, 7, &cpu));
    vs_test_defer(free_model, cpu);
    CHECK_OK(vs_cogvideox_model_random(&c, VS_CUDA, 7, &gpu));
    vs_test_defer(free_model, gpu);
    const int64_t ls[5] = {1, 8, 10, 12, 18}, os[5] = {1, 4, 10, 12, 18}, xs[3] = {1, 37, 40};
    const int64_t n_in = 8 * 10 * 12 * 18, n = 4 * 10 * 12 * 18;
    unsigned long long rng = 99;
    float *lat = random_array(&rng, n_in, -1.7f, 1.7f), *text = random_array(&rng, 37 * 40, -1, 1);
    vs_test_defer(free, lat);
    vs_test_defer(free, text);
    float *ref = vs_test_malloc(sizeof(float) * (size_t)n), *out = vs_test_malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        out[i] = NAN;
    const float t = 900, ofs = 2.0f;
    vs_tensor hl = vs_tensor_view(lat, VS_F32, VS_CPU, 5, ls), ht = vs_tensor_view(text, VS_F32, VS_CPU, 3, xs);
    vs_tensor hr = vs_tensor_view(ref, VS_F32, VS_CPU, 5, os), ho = vs_tensor_view(out, VS_F32, VS_CPU, 5, os);
    const vs_cogvideox_input in = {&hl, &t, &ofs, &ht, 0, 1};
    CHECK_OK(vs_cogvideox_forward(cpu, &in, &hr, NULL));
    CHECK_OK(vs_cogvideox_forward(gpu, &in, &ho, NULL));
    double err = vs_test_rel_l2_f32(out, ref, n);
    printf("  random image-to-video model (307 tokens, 2 blocks): GPU vs CPU rel L2 %.2e\n", err);
    CHECK_MSG(err < 2e-2, "rel L2 %g", err);
    /* SVG in every layer on both devices: the same selection rule, so close; GPU sanity against dense too */
    const vs_attention_params svg = {.method = "svg", .density = 0.5};
    CHECK_OK(vs_cogvideox_model_set_attention(gpu, &svg));
    CHECK_OK(vs_cogvideox_forward(gpu, &in, &ho, NULL));
    err = vs_test_rel_l2_f32(out, ref, n);
    printf("  SVG density 0.5 vs dense: rel L2 %.2e\n", err);
    CHECK_MSG(err < 0.5, "SVG far from dense: rel L2 %g", err);
    return 0;
}

/* One block at the real dimensions with random bf16 weights, against diffusers' f32 forward of those weights. */
TEST(real_dimensions_against_diffusers) {
    const char *dir = getenv("VS_COGVIDEOX_REAL_DIR");
    if (!dir || !*dir) {
        printf("  VS_COGVIDEOX_REAL_DIR unset (tools/run_cogdit_gpu.sh makes it): skipped\n");
        return 0;
    }
    char model[4096], fixture_path[4200];
    snprintf(model, sizeof model, "%s/transformer", dir);
    snprintf(fixture_path, sizeof fixture_path, "%s/forward.safetensors", dir);
    double err;
    if (check_on_gpu(model, fixture_path, 1, &err)) return 1;
    CHECK_MSG(err <= 2e-2, "rel L2 %g", err);
    return 0;
}

static void free_encoder(void *m) {
    vs_umt5_free(m);
}

/* The T5 encoder in bf16 on the prompt ids of tests/data/t5 (226 each, no mask: the pipeline passes none), a
 * batch of the three prompts into a poisoned device tensor, against transformers' f32 output. */
TEST(t5_encoder_on_the_gpu) {
    vs_umt5 *m = NULL;
    CHECK_OK(vs_umt5_load(&m, "tests/data/t5/text_encoder", VS_CUDA));
    vs_test_defer(free_encoder, m);
    CHECK(vs_umt5_get_config(m)->shared_position_bias);
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, "tests/data/t5/reference.safetensors"));
    vs_test_defer(cogvideox_fixture_close, st);
    enum { B = 3, L = 226, D = 64 };
    int32_t *ids = vs_test_malloc(sizeof(int32_t) * B * L), *ones = vs_test_malloc(sizeof(int32_t) * B * L);
    float *want = vs_test_malloc(sizeof(float) * B * L * D);
    for (int k = 0; k < B; k++) {
        char key[32];
        snprintf(key, sizeof key, "prompt_ids_%d", k);
        const vs_st_entry *e = vs_safetensors_find(st, key);
        snprintf(key, sizeof key, "prompt_embeds_%d", k);
        const vs_st_entry *r = vs_safetensors_find(st, key);
        CHECK(e && r);
        memcpy(ids + k * L, e->data, sizeof(int32_t) * L);
        memcpy(want + k * L * D, r->data, sizeof(float) * L * D);
    }
    for (int i = 0; i < B * L; i++)
        ones[i] = 1;
    vs_tensor *out = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(out, VS_F32, VS_CUDA, 3, (int64_t[]){B, L, D}));
    CHECK_OK(poison(out));
    CHECK_OK(vs_umt5_encode_batch(m, ids, ones, B, L, out));
    float *got = to_host(out);
    vs_test_defer(free, got);
    CHECK(got);
    const double err = vs_test_rel_l2_f32(got, want, B * L * D);
    printf("  T5 encoder, 3 prompts x 226 tokens on the GPU: rel L2 %.2e against transformers f32\n", err);
    CHECK_MSG(err <= 2e-2, "rel L2 %g", err);
    return 0;
}

RUN_TESTS(T(golden_forward_on_the_gpu), T(t5_encoder_on_the_gpu), T(device_tensors_and_svg), T(random_model_gpu_matches_cpu),
          T(real_dimensions_against_diffusers))
