/* The CogVideoX 1.5 DiT (src/models/cogvideox/) on the CPU against diffusers'
 * CogVideoXTransformer3DModel: the golden files of tools/make_cogvideox_fixtures.py
 * (tests/data/cogvideox/), text-to-video with every intermediate on the way and
 * image-to-video (the ofs embedding, a batch of 2), SVG, the 1.5 presets and the
 * family's latent grid, and bad input (missing or misshapen weights, 1.0 configs,
 * wrong shapes) giving one-line errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cogvideox_fixture.h"
#include "damaged_checkpoint.h"
#include "models/cogvideox/transformer.h"
#include "wan_intermediates.h"

#define DATA "tests/data/cogvideox/"

static void free_model(void *m) {
    vs_cogvideox_model_free(m);
}

static vs_status load_model(const char *path, vs_cogvideox_model **m) {
    vs_status s = vs_cogvideox_model_load(path, VS_CPU, m);
    if (s == VS_OK) vs_test_defer(free_model, *m);
    return s;
}

static void compare_intermediate(void *user, const char *name, const vs_tensor *t) {
    const int host_f32 = t->dtype == VS_F32 && t->device == VS_CPU;
    wan_intermediate_check(user, name, host_f32 ? t->data : NULL, vs_tensor_numel(t));
}

static vs_tensor *output_like(const cogvideox_fixture *fx) {
    vs_tensor *out = vs_test_tensor();
    return vs_tensor_alloc(out, VS_F32, VS_CPU, 5, fx->output->shape) == VS_OK ? out : NULL;
}

TEST(t2v_forward_matches_diffusers_with_every_intermediate) {
    vs_cogvideox_model *m = NULL;
    cogvideox_fixture fx;
    CHECK_OK(load_model(DATA "t2v", &m));
    CHECK(m->config.dim == 64 && m->config.num_layers == 2 && m->config.mlp_dim == 256 &&
          m->config.time_embed_dim == 32 && m->config.ofs_embed_dim == 0 && m->config.patch_size[0] == 2 &&
          m->config.rope_axes[0] == 16 && m->config.rope_axes[1] == 24 && m->config.rope_axes[2] == 24);
    if (cogvideox_fixture_open(DATA "t2v_forward.safetensors", &fx)) return 1;
    vs_tensor *out = output_like(&fx);
    CHECK(out);
    wan_intermediates probe = {.st = fx.st, .tol = 1e-4};
    vs_cogvideox_model_set_probe(m, compare_intermediate, &probe);
    const vs_cogvideox_input in = cogvideox_fixture_input(&fx);
    vs_dit_timing timing = {0};
    CHECK_OK(vs_cogvideox_forward(m, &in, out, &timing));
    vs_cogvideox_model_set_probe(m, NULL, NULL);
    const double err = vs_test_rel_l2_f32(out->data, fx.output->data, vs_tensor_numel(out));
    printf("  text-to-video, 1 head of 64: rel L2 %.2e against diffusers, %d intermediates checked\n", err,
           probe.seen);
    CHECK_MSG(!probe.first_bad[0], "first divergence from diffusers: %s", probe.first_bad);
    CHECK_MSG(probe.seen == 2 + 2 + 1, "%d intermediates", probe.seen);
    CHECK_MSG(err <= 1e-4, "rel L2 %g", err);
    CHECK(timing.total_s > 0);
    return 0;
}

TEST(i2v_forward_with_ofs_and_a_batch_of_two) {
    vs_cogvideox_model *m = NULL;
    cogvideox_fixture fx;
    CHECK_OK(load_model(DATA "i2v", &m));
    CHECK(m->config.in_channels == 8 && m->config.out_channels == 4 && m->config.ofs_embed_dim == 32);
    if (cogvideox_fixture_open(DATA "i2v_forward.safetensors", &fx)) return 1;
    CHECK(fx.ofs);
    vs_tensor *out = output_like(&fx);
    CHECK(out);
    vs_cogvideox_input in = cogvideox_fixture_input(&fx);
    CHECK_OK(vs_cogvideox_forward(m, &in, out, NULL));
    const double err = vs_test_rel_l2_f32(out->data, fx.output->data, vs_tensor_numel(out));
    printf("  image-to-video, batch 2 with ofs 2.0 and 1.5: rel L2 %.2e against diffusers\n", err);
    CHECK_MSG(err <= 1e-4, "rel L2 %g", err);
    /* ofs matters, and NULL means the pipeline's 2.0: entry 0 (ofs 2.0) stays, entry 1 (1.5) moves */
    vs_tensor *again = output_like(&fx);
    CHECK(again);
    in.ofs = NULL;
    CHECK_OK(vs_cogvideox_forward(m, &in, again, NULL));
    const int64_t half = vs_tensor_numel(out) / 2;
    CHECK(memcmp(again->data, out->data, (size_t)half * sizeof(float)) == 0);
    CHECK(memcmp((float *)again->data + half, (float *)out->data + half, (size_t)half * sizeof(float)) != 0);
    return 0;
}

TEST(svg_on_a_one_block_sequence_equals_dense) {
    vs_cogvideox_model *m = NULL;
    cogvideox_fixture fx;
    CHECK_OK(load_model(DATA "t2v", &m));
    if (cogvideox_fixture_open(DATA "t2v_forward.safetensors", &fx)) return 1;
    vs_tensor *out = output_like(&fx);
    CHECK(out);
    /* 24 video and 7 text tokens are one 128-token block: SVG's mask keeps it all */
    vs_attention_params svg = vs_cogvideox_svg_defaults();
    CHECK(!strcmp(svg.method, "svg") && svg.density == 0.25 && svg.dense_steps == 0.2 && svg.dense_layers == 0.025);
    svg.dense_steps = 0, svg.dense_layers = 0;
    CHECK_OK(vs_cogvideox_model_set_attention(m, &svg));
    const vs_cogvideox_input in = cogvideox_fixture_input(&fx);
    vs_dit_timing timing = {0};
    CHECK_OK(vs_cogvideox_forward(m, &in, out, &timing));
    const double err = vs_test_rel_l2_f32(out->data, fx.output->data, vs_tensor_numel(out));
    CHECK_MSG(err <= 1e-4, "SVG rel L2 %g", err);
    CHECK_MSG(timing.heads_spatial + timing.heads_temporal == 2, "%lld + %lld heads profiled",
              (long long)timing.heads_spatial, (long long)timing.heads_temporal);
    return 0;
}

/* SVG over several attention tiles (a random model: 6 x 12 x 15 = 1080 video tokens, then 37 text tokens: 9 tiles,
 * 2 heads): every head of every layer profiled, the output near dense but not equal; and at density 1 the band
 * covers everything, so SVG equals dense. */
TEST(svg_over_several_tiles) {
    vs_cogvideox_config c;
    memset(&c, 0, sizeof c);
    c.in_channels = 4, c.out_channels = 4, c.num_heads = 2, c.head_dim = 64, c.dim = 128, c.num_layers = 2;
    c.mlp_dim = 512, c.time_embed_dim = 48, c.text_dim = 40, c.text_length = 37, c.attention_bias = 1;
    c.patch_size[0] = c.patch_size[1] = c.patch_size[2] = 2, c.norm_eps = 1e-5;
    c.rope_axes[0] = 16, c.rope_axes[1] = c.rope_axes[2] = 24, c.rope_theta = 1e4;
    vs_cogvideox_model *m = NULL;
    CHECK_OK(vs_cogvideox_model_random(&c, VS_CPU, 5, &m));
    vs_test_defer(free_model, m);
    const int64_t ls[5] = {1, 4, 12, 24, 30}, xs[3] = {1, 37, 40}, n = 4 * 12 * 24 * 30;
    float *lat = vs_test_malloc(sizeof(float) * n), *text = vs_test_malloc(sizeof(float) * 37 * 40);
    float *dense = vs_test_malloc(sizeof(float) * n), *sparse = vs_test_malloc(sizeof(float) * n);
    unsigned s = 7;
    for (int64_t i = 0; i < n; i++)
        lat[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / (float)(1u << 24) * 3.0f - 1.5f;
    for (int64_t i = 0; i < 37 * 40; i++)
        text[i] = (float)((s = s * 1103515245u + 12345u) >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    vs_tensor hl = vs_tensor_view(lat, VS_F32, VS_CPU, 5, ls), ht = vs_tensor_view(text, VS_F32, VS_CPU, 3, xs);
    vs_tensor hd = vs_tensor_view(dense, VS_F32, VS_CPU, 5, ls), hs = vs_tensor_view(sparse, VS_F32, VS_CPU, 5, ls);
    const float t = 600;
    const vs_cogvideox_input in = {&hl, &t, NULL, &ht, 0, 1};
    CHECK_OK(vs_cogvideox_forward(m, &in, &hd, NULL));
    vs_attention_params svg = {.method = "svg", .density = 0.25};
    CHECK_OK(vs_cogvideox_model_set_attention(m, &svg));
    vs_dit_timing timing = {0};
    for (int64_t i = 0; i < n; i++)
        sparse[i] = NAN;
    CHECK_OK(vs_cogvideox_forward(m, &in, &hs, &timing));
    double err = vs_test_rel_l2_f32(sparse, dense, n);
    printf("  SVG 0.25 over 1117 tokens: rel L2 %.2e against dense, %lld spatial + %lld temporal heads\n", err,
           (long long)timing.heads_spatial, (long long)timing.heads_temporal);
    CHECK_MSG(err > 0 && err < 0.5, "SVG against dense: rel L2 %g", err);
    CHECK(timing.heads_spatial + timing.heads_temporal == 4);
    svg.density = 1.0;
    CHECK_OK(vs_cogvideox_model_set_attention(m, &svg));
    CHECK_OK(vs_cogvideox_forward(m, &in, &hs, NULL));
    err = vs_test_rel_l2_f32(sparse, dense, n);
    CHECK_MSG(err < 1e-5, "SVG at density 1: rel L2 %g against dense", err);
    return 0;
}

TEST(presets_and_the_latent_grid) {
    vs_cogvideox_config c;
    CHECK_OK(vs_cogvideox_config_preset("cogvideox1.5-5b", &c));
    CHECK(c.num_layers == 42 && c.num_heads == 48 && c.head_dim == 64 && c.dim == 3072 && c.mlp_dim == 12288 &&
          c.text_dim == 4096 && c.time_embed_dim == 512 && c.ofs_embed_dim == 0 && c.in_channels == 16 &&
          c.out_channels == 16 && c.patch_size[0] == 2 && c.patch_size[1] == 2 && c.text_length == 226 &&
          c.attention_bias && c.rope_theta == 10000.0);
    CHECK_OK(vs_cogvideox_config_preset("cogvideox1.5-5b-i2v", &c));
    CHECK(c.in_channels == 32 && c.out_channels == 16 && c.ofs_embed_dim == 512);
    CHECK_FAILS(vs_cogvideox_config_preset("cogvideox-5b", &c), VS_ERR_NOT_FOUND, "cogvideox1.5-5b-i2v");
    const vs_family *family = NULL;
    vs_dit_info info;
    CHECK_OK(vs_family_for_preset("cogvideox1.5-5b-i2v", &family));
    CHECK(!strcmp(family->name, "cogvideox") && family->text_load && family->vae_load && family->image_condition);
    CHECK_OK(vs_family_for_preset("cogvideox1.5-5b", &family));
    CHECK_OK(family->dit_preset("cogvideox1.5-5b", &info));
    CHECK(info.num_layers == 42 && info.num_heads == 48 && info.head_dim == 64 && info.pooled_dim == 0);
    CHECK(family->defaults.frames == 81 && family->defaults.height == 768 && family->defaults.width == 1360 &&
          family->defaults.steps == 50 && family->defaults.guidance == 6.0f && family->defaults.text_length == 226 &&
          family->defaults.attention.density == 0.25 && family->defaults.attention.dense_steps == 0.2 &&
          family->defaults.attention.dense_layers == 0.025);
    /* 81 frames: 21 latent frames, padded to 22 (patch_size_t 2) as the pipeline does; 11 x 48 x 85 tokens */
    int64_t shape[5];
    CHECK_OK(family->latent_shape(&info, &family->reference_vae, 81, 768, 1360, shape));
    CHECK(shape[1] == 16 && shape[2] == 22 && shape[3] == 96 && shape[4] == 170);
    CHECK_OK(family->latent_shape(&info, &family->reference_vae, 85, 768, 1360, shape));
    CHECK(shape[2] == 22);
    /* The first latent frame of 81 frames' 22 is padding, dropped before decoding; 85 frames have none. */
    CHECK(family->padding_frames(&info, &family->reference_vae, 81) == 1);
    CHECK(family->padding_frames(&info, &family->reference_vae, 85) == 0);
    /* The image-to-video DiT predicts the 16 latent channels (and takes 16 more of the image condition). */
    CHECK_OK(family->dit_preset("cogvideox1.5-5b-i2v", &info));
    CHECK_OK(family->latent_shape(&info, &family->reference_vae, 81, 768, 1360, shape));
    CHECK(info.in_channels == 32 && shape[1] == 16);
    CHECK_FAILS(family->latent_shape(&info, &family->reference_vae, 80, 768, 1360, shape), VS_ERR_INVALID_ARG,
                "1 + 4 k frames");
    CHECK_FAILS(family->latent_shape(&info, &family->reference_vae, 81, 760, 1360, shape), VS_ERR_INVALID_ARG,
                "multiples of 16");
    CHECK_OK(vs_family_detect(DATA "t2v", &family)); /* a transformer folder of the registered family */
    CHECK(!strcmp(family->name, "cogvideox"));
    return 0;
}

TEST(forward_rejects_bad_inputs) {
    vs_cogvideox_model *m = NULL;
    cogvideox_fixture fx;
    CHECK_OK(load_model(DATA "t2v", &m));
    if (cogvideox_fixture_open(DATA "t2v_forward.safetensors", &fx)) return 1;
    vs_tensor *out = output_like(&fx);
    CHECK(out);
    vs_cogvideox_input in = cogvideox_fixture_input(&fx);
    in.timesteps = NULL;
    CHECK_FAILS(vs_cogvideox_forward(m, &in, out, NULL), VS_ERR_INVALID_ARG, "timesteps");
    in = cogvideox_fixture_input(&fx);
    vs_tensor lat = *fx.latents; /* [1, 4, 4, 6, 8] read as 3 frames: not a multiple of patch_size_t */
    lat.shape[2] = 3;
    lat.stride[1] = 3 * lat.stride[2], lat.stride[0] = 4 * lat.stride[1];
    in.latents = &lat;
    CHECK_FAILS(vs_cogvideox_forward(m, &in, out, NULL), VS_ERR_SHAPE, "frames 3");
    lat = *fx.latents; /* 2 channels of 4 */
    lat.shape[1] = 2, lat.stride[0] = 2 * lat.stride[1];
    CHECK_FAILS(vs_cogvideox_forward(m, &in, out, NULL), VS_ERR_SHAPE, "2 channels");
    in = cogvideox_fixture_input(&fx);
    vs_tensor text = *fx.text;
    text.shape[2] = 16, text.stride[1] = 16, text.stride[0] = 16 * text.shape[1];
    in.text = &text;
    CHECK_FAILS(vs_cogvideox_forward(m, &in, out, NULL), VS_ERR_SHAPE, "text_embed_dim 32");
    in = cogvideox_fixture_input(&fx);
    vs_tensor small = *out;
    small.shape[1] = 3, small.stride[0] = 3 * small.stride[1];
    CHECK_FAILS(vs_cogvideox_forward(m, &in, &small, NULL), VS_ERR_SHAPE, "output must be");
    return 0;
}

TEST(missing_or_misshapen_weights_and_other_configs_are_named) {
    char dir[] = "/tmp/vs_cogvideox_XXXXXX", path[512], weights[512];
    CHECK(mkdtemp(dir));
    vs_test_remove(dir);
    snprintf(weights, sizeof weights, "%s/diffusion_pytorch_model.safetensors", dir);
    vs_test_remove(weights);
    snprintf(path, sizeof path, "%s/config.json", dir);
    vs_test_remove(path);
    const char *config = "{\"_class_name\": \"CogVideoXTransformer3DModel\", \"num_attention_heads\": 1, "
                         "\"attention_head_dim\": 64, \"num_layers\": 2, \"in_channels\": 4, \"out_channels\": 4, "
                         "\"time_embed_dim\": 32, \"text_embed_dim\": 32%s}";
    char text[1024];
    snprintf(text, sizeof text, config, ", \"patch_size_t\": 2, \"use_rotary_positional_embeddings\": true");
    CHECK(!vs_test_write_text(path, text));
    vs_cogvideox_model *m = NULL;
    CHECK_OK(vs_test_write_damaged(DATA "t2v", dir, "transformer_blocks.1.attn1.norm_k.bias", NULL, 7, 5));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_NOT_FOUND, "transformer_blocks.1.attn1.norm_k.bias");
    CHECK(m == NULL);
    CHECK_OK(vs_test_write_damaged(DATA "t2v", dir, NULL, "transformer_blocks.0.norm1.linear.weight", 7, 5));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_SHAPE, "transformer_blocks.0.norm1.linear.weight");
    CHECK_OK(vs_test_write_damaged(DATA "t2v", dir, NULL, NULL, 7, 5));
    CHECK_OK(load_model(dir, &m));
    /* an I2V config on T2V weights: the ofs embedder is missing */
    snprintf(text, sizeof text, config,
             ", \"patch_size_t\": 2, \"use_rotary_positional_embeddings\": true, \"ofs_embed_dim\": 32");
    CHECK(!vs_test_write_text(path, text));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_NOT_FOUND, "ofs_embedding.linear_1.weight");
    snprintf(text, sizeof text, config, ", \"use_rotary_positional_embeddings\": true");
    CHECK(!vs_test_write_text(path, text));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_UNSUPPORTED, "CogVideoX 1.5 only");
    snprintf(text, sizeof text, config, ", \"patch_size_t\": 2");
    CHECK(!vs_test_write_text(path, text));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_UNSUPPORTED, "CogVideoX 1.5 only");
    snprintf(text, sizeof text, config,
             ", \"patch_size_t\": 2, \"use_rotary_positional_embeddings\": true, \"activation_fn\": \"gelu\"");
    CHECK(!vs_test_write_text(path, text));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_UNSUPPORTED, "activation_fn");
    snprintf(text, sizeof text, config, ", \"patch_size_t\": \"two\"");
    CHECK(!vs_test_write_text(path, text));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_FORMAT, "patch_size_t");
    CHECK(!vs_test_write_text(path, "{\"_class_name\": \"WanTransformer3DModel\"}"));
    CHECK_FAILS(load_model(dir, &m), VS_ERR_FORMAT, "not CogVideoXTransformer3DModel");
    CHECK_FAILS(load_model("/nonexistent/cogvideox", &m), VS_ERR_NOT_FOUND, "config.json");
    return 0;
}

/* When VS_COGVIDEOX_REAL_DIR names a folder of tools/cogvideox_gpu_check.py blocks (one block at the real 1.5
 * dimensions; it runs on the CPU too, in about 30 s): our f32 forward against diffusers' f32 forward there. */
TEST(real_dimensions_against_diffusers) {
    const char *dir = getenv("VS_COGVIDEOX_REAL_DIR");
    if (!dir || !*dir) {
        printf("  VS_COGVIDEOX_REAL_DIR unset: skipped\n");
        return 0;
    }
    char model[4096], fixture_path[4200];
    snprintf(model, sizeof model, "%s/transformer", dir);
    snprintf(fixture_path, sizeof fixture_path, "%s/forward.safetensors", dir);
    vs_cogvideox_model *m = NULL;
    cogvideox_fixture fx;
    CHECK_OK(load_model(model, &m));
    if (cogvideox_fixture_open(fixture_path, &fx)) return 1;
    vs_tensor *out = output_like(&fx);
    CHECK(out);
    wan_intermediates probe = {.st = fx.st, .tol = 1e-4};
    vs_cogvideox_model_set_probe(m, compare_intermediate, &probe);
    const vs_cogvideox_input in = cogvideox_fixture_input(&fx);
    CHECK_OK(vs_cogvideox_forward(m, &in, out, NULL));
    const double err = vs_test_rel_l2_f32(out->data, fx.output->data, vs_tensor_numel(out));
    printf("  one block at the real dimensions: rel L2 %.2e against diffusers, %d intermediates\n", err, probe.seen);
    CHECK_MSG(!probe.first_bad[0], "first divergence from diffusers: %s", probe.first_bad);
    CHECK_MSG(err <= 1e-4, "rel L2 %g", err);
    return 0;
}

RUN_TESTS(T(t2v_forward_matches_diffusers_with_every_intermediate), T(i2v_forward_with_ofs_and_a_batch_of_two),
          T(svg_on_a_one_block_sequence_equals_dense), T(svg_over_several_tiles), T(presets_and_the_latent_grid), T(forward_rejects_bad_inputs),
          T(missing_or_misshapen_weights_and_other_configs_are_named), T(real_dimensions_against_diffusers))
