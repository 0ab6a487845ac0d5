/* The HunyuanVideo DiT (src/models/hunyuan/) on the CPU against diffusers'
 * HunyuanVideoTransformer3DModel: the golden files of tools/make_hunyuan_fixtures.py
 * (tests/data/hunyuan/), every intermediate on the way, padded text, SVG, the
 * 13B configuration, and bad input (missing or misshapen weights, configs of
 * other variants, wrong shapes, bad masks) giving one-line errors. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "damaged_checkpoint.h"
#include "hunyuan_fixture.h"
#include "io/safetensors.h"
#include "models/hunyuan/transformer.h"
#include "wan_intermediates.h"

#define DATA "tests/data/hunyuan/"

static void free_model(void *m) {
    vs_hunyuan_model_free(m);
}

static vs_status load_model(const char *path, vs_hunyuan_model **m) {
    vs_status s = vs_hunyuan_model_load(path, VS_CPU, m);
    if (s == VS_OK) vs_test_defer(free_model, *m);
    return s;
}

static void compare_intermediate(void *user, const char *name, const vs_tensor *t) {
    const int host_f32 = t->dtype == VS_F32 && t->device == VS_CPU;
    wan_intermediate_check(user, name, host_f32 ? t->data : NULL, vs_tensor_numel(t));
}

static vs_tensor *output_like(const hunyuan_fixture *fx) {
    vs_tensor *out = vs_test_tensor();
    return vs_tensor_alloc(out, VS_F32, VS_CPU, 5, fx->output->shape) == VS_OK ? out : NULL;
}

TEST(forward_matches_diffusers_with_every_intermediate) {
    vs_hunyuan_model *m = NULL;
    hunyuan_fixture fx;
    CHECK_OK(load_model(DATA "tiny_hd64", &m)); /* sharded: an index and three files */
    CHECK(m->config.dim == 64 && m->config.num_layers == 1 && m->config.num_single_layers == 2 &&
          m->config.mlp_dim == 64 && m->config.guidance_embeds);
    if (hunyuan_fixture_open(DATA "forward_hd64.safetensors", &fx)) return 1;
    vs_tensor *out = output_like(&fx);
    CHECK(out);
    wan_intermediates probe = {.st = fx.st, .tol = 1e-4};
    vs_hunyuan_model_set_probe(m, compare_intermediate, &probe);
    const vs_hunyuan_input in = hunyuan_fixture_input(&fx);
    vs_dit_timing timing = {0};
    CHECK_OK(vs_hunyuan_forward(m, &in, out, &timing));
    vs_hunyuan_model_set_probe(m, NULL, NULL);
    const double err = vs_test_rel_l2_f32(out->data, fx.output->data, vs_tensor_numel(out));
    printf("  1 head of 64: rel L2 %.2e against diffusers, %d intermediates checked\n", err, probe.seen);
    CHECK_MSG(!probe.first_bad[0], "first divergence from diffusers: %s", probe.first_bad);
    CHECK_MSG(probe.seen == 3 + 1 + 2 + 1, "%d intermediates", probe.seen);
    CHECK_MSG(err <= 1e-4, "rel L2 %g", err);
    CHECK(timing.total_s > 0);
    return 0;
}

TEST(batch_with_unequal_text_lengths) {
    vs_hunyuan_model *m = NULL;
    hunyuan_fixture fx;
    CHECK_OK(load_model(DATA "tiny_hd64", &m));
    if (hunyuan_fixture_open(DATA "forward_b2.safetensors", &fx)) return 1;
    vs_tensor *out = output_like(&fx);
    CHECK(out);
    vs_hunyuan_input in = hunyuan_fixture_input(&fx);
    CHECK_OK(vs_hunyuan_forward(m, &in, out, NULL));
    double err = vs_test_rel_l2_f32(out->data, fx.output->data, vs_tensor_numel(out));
    printf("  batch 2 with 6 and 3 of 8 text tokens: rel L2 %.2e against diffusers\n", err);
    CHECK_MSG(err <= 1e-4, "rel L2 %g", err);
    /* padded text takes no part: other values there leave the output as it was */
    const int64_t L = fx.text->shape[1], dim = fx.text->shape[2];
    float *text = fx.text->data;
    for (int64_t b = 0; b < 2; b++)
        for (int64_t r = b ? 3 : 6; r < L; r++)
            for (int64_t j = 0; j < dim; j++)
                text[(b * L + r) * dim + j] = 100.0f;
    vs_tensor *again = output_like(&fx);
    CHECK(again);
    CHECK_OK(vs_hunyuan_forward(m, &in, again, NULL));
    CHECK(memcmp(again->data, out->data, (size_t)vs_tensor_numel(out) * sizeof(float)) == 0);
    return 0;
}

TEST(svg_on_a_one_block_sequence_equals_dense) {
    vs_hunyuan_model *m = NULL;
    hunyuan_fixture fx;
    CHECK_OK(load_model(DATA "tiny_hd64", &m));
    if (hunyuan_fixture_open(DATA "forward_hd64.safetensors", &fx)) return 1;
    vs_tensor *out = output_like(&fx);
    CHECK(out);
    /* 18 video and 5 text tokens are one 128-token block: SVG's mask keeps it all */
    vs_attention_params svg = vs_hunyuan_svg_defaults();
    CHECK(!strcmp(svg.method, "svg") && svg.density == 0.25 && svg.dense_steps == 0.1 &&
          svg.dense_layers == 0.03);
    svg.dense_steps = 0, svg.dense_layers = 0;
    CHECK_OK(vs_hunyuan_model_set_attention(m, &svg));
    const vs_hunyuan_input in = hunyuan_fixture_input(&fx);
    vs_dit_timing timing = {0};
    CHECK_OK(vs_hunyuan_forward(m, &in, out, &timing));
    const double err = vs_test_rel_l2_f32(out->data, fx.output->data, vs_tensor_numel(out));
    CHECK_MSG(err <= 1e-4, "SVG rel L2 %g", err);
    CHECK_MSG(timing.heads_spatial + timing.heads_temporal == 3, "%lld + %lld heads profiled",
              (long long)timing.heads_spatial, (long long)timing.heads_temporal);
    svg.density = 0;
    CHECK_FAILS(vs_hunyuan_model_set_attention(m, &svg), VS_ERR_INVALID_ARG, "density");
    return 0;
}

TEST(config_13b_preset) {
    vs_hunyuan_config c;
    CHECK_OK(vs_hunyuan_config_preset("hunyuan13b", &c));
    CHECK(c.num_layers == 20 && c.num_single_layers == 40 && c.num_refiner_layers == 2 && c.num_heads == 24 &&
          c.head_dim == 128 && c.dim == 3072 && c.mlp_dim == 12288 && c.text_dim == 4096 &&
          c.pooled_dim == 768 && c.in_channels == 16 && c.out_channels == 16 && c.guidance_embeds &&
          c.patch_size[0] == 1 && c.patch_size[1] == 2 && c.patch_size[2] == 2 && c.rope_theta == 256.0 &&
          c.rope_axes[0] == 16 && c.rope_axes[1] == 56 && c.rope_axes[2] == 56);
    CHECK_FAILS(vs_hunyuan_config_preset("hunyuan7b", &c), VS_ERR_NOT_FOUND, "hunyuan13b");
    /* bench dit finds the family by its preset; a transformer folder is detected as HunyuanVideo */
    const vs_family *family = NULL, *detected = NULL;
    vs_dit_info info;
    CHECK_OK(vs_family_for_preset("hunyuan13b", &family));
    CHECK(!strcmp(family->name, "hunyuan"));
    CHECK_OK(family->dit_preset("hunyuan13b", &info));
    CHECK(info.num_layers == 60 && info.num_heads == 24 && info.text_dim == 4096 && info.pooled_dim == 768);
    int64_t shape[5];
    CHECK_OK(family->latent_shape(&info, &family->reference_vae, 129, 720, 1280, shape));
    CHECK(shape[1] == 16 && shape[2] == 33 && shape[3] == 90 && shape[4] == 160);
    CHECK_FAILS(family->latent_shape(&info, &family->reference_vae, 128, 720, 1280, shape),
                VS_ERR_INVALID_ARG, "1 + 4 k frames");
    CHECK_OK(vs_family_detect(DATA "tiny_hd64", &detected));
    CHECK(detected == family);
    return 0;
}

TEST(forward_rejects_bad_inputs) {
    vs_hunyuan_model *m = NULL;
    hunyuan_fixture fx;
    CHECK_OK(load_model(DATA "tiny_hd64", &m));
    if (hunyuan_fixture_open(DATA "forward_hd64.safetensors", &fx)) return 1;
    vs_tensor *out = output_like(&fx);
    CHECK(out);
    vs_hunyuan_input in = hunyuan_fixture_input(&fx);
    in.guidance = NULL;
    CHECK_FAILS(vs_hunyuan_forward(m, &in, out, NULL), VS_ERR_INVALID_ARG, "guidance");
    in = hunyuan_fixture_input(&fx);
    vs_tensor lat = *fx.latents;
    lat.shape[3] = 3; /* an odd latent height */
    lat.stride[2] = 3 * lat.shape[4], lat.stride[1] = lat.shape[2] * lat.stride[2],
    lat.stride[0] = 16 * lat.stride[1];
    in.latents = &lat;
    CHECK_FAILS(vs_hunyuan_forward(m, &in, out, NULL), VS_ERR_SHAPE, "height 3");
    in = hunyuan_fixture_input(&fx);
    vs_tensor text = *fx.text;
    text.shape[2] = 16, text.stride[1] = 16, text.stride[0] = 16 * text.shape[1];
    in.text = &text;
    CHECK_FAILS(vs_hunyuan_forward(m, &in, out, NULL), VS_ERR_SHAPE, "text_embed_dim 32");
    in = hunyuan_fixture_input(&fx);
    int32_t *mask = fx.mask->data;
    mask[6] = 1; /* a valid token after the padding */
    CHECK_FAILS(vs_hunyuan_forward(m, &in, out, NULL), VS_ERR_INVALID_ARG, "padding must come last");
    memset(mask, 0, 8 * sizeof *mask);
    CHECK_FAILS(vs_hunyuan_forward(m, &in, out, NULL), VS_ERR_INVALID_ARG, "no valid token");
    in.text_mask = NULL;
    in.pooled = fx.text;
    CHECK_FAILS(vs_hunyuan_forward(m, &in, out, NULL), VS_ERR_SHAPE, "pooled");
    return 0;
}

TEST(missing_or_misshapen_weights_and_other_configs_are_named) {
    char dir[] = "/tmp/vs_hunyuan_XXXXXX", path[512], weights[512];
    CHECK(mkdtemp(dir));
    vs_test_remove(dir);
    snprintf(weights, sizeof weights, "%s/diffusion_pytorch_model.safetensors", dir);
    vs_test_remove(weights);
    snprintf(path, sizeof path, "%s/config.json", dir);
    vs_test_remove(path);
    const char *config = "{\"_class_name\": \"HunyuanVideoTransformer3DModel\", \"num_attention_heads\": 1, "
                         "\"attention_head_dim\": 64, \"num_layers\": 1, \"num_single_layers\": 2, "
                         "\"num_refiner_layers\": 1, \"text_embed_dim\": 32, \"pooled_projection_dim\": 16, "
                         "\"rope_axes_dim\": [16, 24, 24]%s}";
    char text[1024];
    snprintf(text, sizeof text, config, ", \"mlp_ratio\": 1.0");
    CHECK(!vs_test_write_text(path, text));
    vs_hunyuan_model *m = NULL;
    CHECK_OK(vs_test_write_damaged(DATA "tiny_hd64", dir, "single_transformer_blocks.1.proj_out.weight", NULL,
                                   7, 5));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_NOT_FOUND, "single_transformer_blocks.1.proj_out.weight");
    CHECK(m == NULL);
    CHECK_OK(vs_test_write_damaged(DATA "tiny_hd64", dir, NULL, "transformer_blocks.0.attn.add_k_proj.weight",
                                   7, 5));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_SHAPE, "transformer_blocks.0.attn.add_k_proj.weight");
    CHECK_OK(vs_test_write_damaged(DATA "tiny_hd64", dir, "time_text_embed.guidance_embedder.linear_2.bias",
                                   NULL, 7, 5));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_NOT_FOUND, "guidance_embedder.linear_2.bias");
    CHECK_OK(vs_test_write_damaged(DATA "tiny_hd64", dir, NULL, NULL, 7, 5));
    CHECK_OK(load_model(dir, &m));
    /* a config that disagrees with the weights names the first tensor that does not fit (mlp_ratio 4: the
     * default) */
    snprintf(text, sizeof text, config, "");
    CHECK(!vs_test_write_text(path, text));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_SHAPE, "transformer_blocks.0.ff.net.0.proj.weight");
    snprintf(text, sizeof text, config, ", \"image_condition_type\": \"token_replace\"");
    CHECK(!vs_test_write_text(path, text));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_UNSUPPORTED, "image-to-video");
    snprintf(text, sizeof text, config, ", \"qk_norm\": \"layer_norm\"");
    CHECK(!vs_test_write_text(path, text));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_UNSUPPORTED, "qk_norm");
    CHECK(!vs_test_write_text(
        path, "{\"_class_name\": \"HunyuanVideoTransformer3DModel\", \"attention_head_dim\": 16}"));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_FORMAT, "does not sum to attention_head_dim 16");
    CHECK(!vs_test_write_text(path, "{\"_class_name\": \"WanTransformer3DModel\"}"));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_FORMAT, "not HunyuanVideoTransformer3DModel");
    CHECK_FAILS(load_model("/nonexistent/hunyuan", &m), VS_ERR_NOT_FOUND, "config.json");
    return 0;
}

RUN_TESTS(T(forward_matches_diffusers_with_every_intermediate), T(batch_with_unequal_text_lengths),
          T(svg_on_a_one_block_sequence_equals_dense), T(config_13b_preset), T(forward_rejects_bad_inputs),
          T(missing_or_misshapen_weights_and_other_configs_are_named))
