/* The HunyuanVideo DiT on the GPU (bf16) against the diffusers golden files of
 * tests/data/hunyuan (tools/make_hunyuan_fixtures.py) and against the f32 CPU
 * forward: every intermediate, host or device tensors, a batch of unequal text
 * lengths, SVG, a random model with several attention tiles; and, when
 * VS_HUNYUAN_REAL_DIR names a folder made by tools/hunyuan_gpu_check.py, one
 * dual-stream and one single-stream block at the real 13B dimensions against
 * diffusers' f32 forward of the same bf16 weights. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hunyuan_fixture.h"
#include "io/safetensors.h"
#include "models/hunyuan/transformer.h"
#include "tensor_util.h"
#include "wan_intermediates.h"

#define DATA "tests/data/hunyuan/"

static void free_model(void *m) {
    vs_hunyuan_model_free(m);
}

/* The probe: intermediates are device tensors, f32 or bf16. */
static void compare_intermediate(void *user, const char *name, const vs_tensor *t) {
    float *got = to_host(t);
    wan_intermediate_check(user, name, got, vs_tensor_numel(t));
    free(got);
}

/* The model against a fixture on the GPU, every intermediate it has on the way; rel L2 of the output in *err.
 */
static int check_on_gpu(const char *model_dir, const char *fixture_path, int intermediates, double *err) {
    vs_hunyuan_model *m = NULL;
    hunyuan_fixture fx;
    CHECK_OK(vs_hunyuan_model_load(model_dir, VS_CUDA, &m));
    vs_test_defer(free_model, m);
    if (hunyuan_fixture_open(fixture_path, &fx)) return 1;
    vs_tensor *out = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(out, VS_F32, VS_CPU, 5, fx.output->shape));
    wan_intermediates probe = {.st = fx.st, .tol = 2e-2};
    if (intermediates) vs_hunyuan_model_set_probe(m, compare_intermediate, &probe);
    const vs_hunyuan_input in = hunyuan_fixture_input(&fx);
    vs_dit_timing timing = {0};
    CHECK_OK(vs_hunyuan_forward(m, &in, out, &timing));
    vs_hunyuan_model_set_probe(m, NULL, NULL);
    *err = vs_test_rel_l2_f32(out->data, fx.output->data, vs_tensor_numel(out));
    printf("  %s: rel L2 %.2e against diffusers f32, %d intermediates checked, %.1f ms (attention %.1f ms)\n",
           fixture_path, *err, probe.seen, timing.total_s * 1e3, timing.attention_s * 1e3);
    CHECK_MSG(!probe.first_bad[0], "first divergence from diffusers: %s", probe.first_bad);
    return 0;
}

TEST(golden_forward_on_the_gpu) {
    double err;
    if (check_on_gpu(DATA "tiny_hd64", DATA "forward_hd64.safetensors", 1, &err)) return 1;
    CHECK_MSG(err <= 2e-2, "rel L2 %g", err);
    if (check_on_gpu(DATA "tiny_hd64", DATA "forward_b2.safetensors", 0, &err)) return 1;
    CHECK_MSG(err <= 2e-2, "batch of 2: rel L2 %g", err);
    return 0;
}

TEST(device_tensors_and_svg) {
    vs_hunyuan_model *m = NULL;
    hunyuan_fixture fx;
    CHECK_OK(vs_hunyuan_model_load(DATA "tiny_hd64", VS_CUDA, &m));
    vs_test_defer(free_model, m);
    if (hunyuan_fixture_open(DATA "forward_hd64.safetensors", &fx)) return 1;
    const int64_t n = vs_tensor_numel(fx.output);
    vs_tensor *host_out = vs_test_tensor(), *dlat = vs_test_tensor(), *dtext = vs_test_tensor();
    vs_tensor *dpooled = vs_test_tensor(), *dout = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(host_out, VS_F32, VS_CPU, 5, fx.output->shape));
    vs_hunyuan_input in = hunyuan_fixture_input(&fx);
    CHECK_OK(vs_hunyuan_forward(m, &in, host_out, NULL));
    CHECK_OK(to_device(dlat, fx.latents->data, VS_F32, 5, fx.latents->shape));
    CHECK_OK(to_device(dtext, fx.text->data, VS_F32, 3, fx.text->shape));
    CHECK_OK(to_device(dpooled, fx.pooled->data, VS_F32, 2, fx.pooled->shape));
    CHECK_OK(vs_tensor_alloc(dout, VS_F32, VS_CUDA, 5, fx.output->shape));
    CHECK_OK(poison(dout));
    in.latents = dlat, in.text = dtext, in.pooled = dpooled;
    CHECK_OK(vs_hunyuan_forward(m, &in, dout, NULL));
    float *got = to_host(dout);
    vs_test_defer(free, got);
    CHECK(got && vs_test_rel_l2_f32(got, host_out->data, n) == 0); /* the same computation */
    /* SVG: 18 video and 5 text tokens are one 128-token block, so sparse equals dense */
    vs_attention_params svg = vs_hunyuan_svg_defaults();
    svg.dense_steps = 0, svg.dense_layers = 0;
    CHECK_OK(vs_hunyuan_model_set_attention(m, &svg));
    vs_dit_timing timing = {0};
    CHECK_OK(vs_hunyuan_forward(m, &in, dout, &timing));
    got = to_host(dout);
    vs_test_defer(free, got);
    CHECK(got);
    const double err = vs_test_rel_l2_f32(got, fx.output->data, n);
    printf("  SVG on the GPU: rel L2 %.2e, %lld spatial + %lld temporal heads\n", err,
           (long long)timing.heads_spatial, (long long)timing.heads_temporal);
    CHECK_MSG(err <= 2e-2, "rel L2 %g", err);
    CHECK(timing.heads_spatial + timing.heads_temporal == 3);
    return 0;
}

/* A random model with several attention tiles (180 video + 24 of 30 text tokens, 2 heads of 128): GPU vs CPU.
 */
TEST(random_model_gpu_matches_cpu) {
    vs_hunyuan_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = c.out_channels = 16, c.num_heads = 2, c.head_dim = 128, c.dim = 256;
    c.num_layers = 1, c.num_single_layers = 2, c.num_refiner_layers = 1, c.mlp_dim = 520,
    c.refiner_mlp_dim = 1024;
    c.patch_size[0] = 1, c.patch_size[1] = 2, c.patch_size[2] = 2, c.guidance_embeds = 1, c.text_dim = 64;
    c.pooled_dim = 32, c.rope_theta = 256, c.rope_axes[0] = 32, c.rope_axes[1] = 48, c.rope_axes[2] = 48;
    vs_hunyuan_model *cpu = NULL, *gpu = NULL;
    CHECK_OK(vs_hunyuan_model_random(&c, VS_CPU, 7, &cpu));
    vs_test_defer(free_model, cpu);
    CHECK_OK(vs_hunyuan_model_random(&c, VS_CUDA, 7, &gpu));
    vs_test_defer(free_model, gpu);
    const int64_t ls[5] = {1, 16, 3, 12, 20}, xs[3] = {1, 30, 64}, ps[2] = {1, 32}, ms[2] = {1, 30};
    const int64_t n = 16 * 3 * 12 * 20;
    unsigned long long rng = 99;
    float *lat = random_array(&rng, n, -1.7f, 1.7f), *text = random_array(&rng, 30 * 64, -1, 1);
    float *pooled = random_array(&rng, 32, -1, 1);
    vs_test_defer(free, lat);
    vs_test_defer(free, text);
    vs_test_defer(free, pooled);
    int32_t mask[30];
    for (int i = 0; i < 30; i++)
        mask[i] = i < 24;
    float *ref = vs_test_malloc(sizeof(float) * (size_t)n), *out = vs_test_malloc(sizeof(float) * (size_t)n);
    const float t = 900, g = 6000;
    vs_tensor hl = vs_tensor_view(lat, VS_F32, VS_CPU, 5, ls),
              ht = vs_tensor_view(text, VS_F32, VS_CPU, 3, xs);
    vs_tensor hp = vs_tensor_view(pooled, VS_F32, VS_CPU, 2, ps),
              hm = vs_tensor_view(mask, VS_I32, VS_CPU, 2, ms);
    vs_tensor hr = vs_tensor_view(ref, VS_F32, VS_CPU, 5, ls),
              ho = vs_tensor_view(out, VS_F32, VS_CPU, 5, ls);
    const vs_hunyuan_input in = {&hl, &t, &g, &ht, &hm, &hp, 0, 1};
    CHECK_OK(vs_hunyuan_forward(cpu, &in, &hr, NULL));
    CHECK_OK(vs_hunyuan_forward(gpu, &in, &ho, NULL));
    double err = vs_test_rel_l2_f32(out, ref, n);
    printf("  random model (204 tokens, 3 blocks): GPU vs CPU rel L2 %.2e\n", err);
    CHECK_MSG(err < 2e-2, "rel L2 %g", err);
    /* SVG in every layer: profiling may choose otherwise than exact attention would, so only sanity */
    const vs_attention_params svg = {"svg", 0.5, 0, 0};
    CHECK_OK(vs_hunyuan_model_set_attention(gpu, &svg));
    CHECK_OK(vs_hunyuan_forward(gpu, &in, &ho, NULL));
    err = vs_test_rel_l2_f32(out, ref, n);
    printf("  SVG density 0.5 vs dense: rel L2 %.2e\n", err);
    CHECK_MSG(err < 0.5, "SVG far from dense: rel L2 %g", err);
    return 0;
}

/* One dual-stream and one single-stream block at the real dimensions (24 heads of 128, mlp 12288, text
 * 4096, the 2 refiner blocks) with random bf16 weights, against diffusers' f32 forward of those weights. */
TEST(real_dimensions_against_diffusers) {
    const char *dir = getenv("VS_HUNYUAN_REAL_DIR");
    if (!dir || !*dir) {
        printf("  VS_HUNYUAN_REAL_DIR unset (tools/run_hunyuan_gpu.sh makes it): skipped\n");
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

RUN_TESTS(T(golden_forward_on_the_gpu), T(device_tensors_and_svg), T(random_model_gpu_matches_cpu),
          T(real_dimensions_against_diffusers))
