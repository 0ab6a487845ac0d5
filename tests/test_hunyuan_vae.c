/* The HunyuanVideo VAE decoder (f32 CPU) against diffusers' AutoencoderKLHunyuanVideo: float64 references
 * written by tools/make_hunyuan_vae_fixtures.py, untiled, with diffusers' default framewise (temporal)
 * tiles, and spatially and temporally tiled with tiny tiles; odd latent sizes; bad inputs. */
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "damaged_checkpoint.h"
#include "hunyuan_vae_fixture.h"

/* Decodes case `key` on the CPU (tiled as given) and compares with diffusers. */
static int check_case(const char *key, int tiled) {
    vs_hunyuan_vae *vae;
    CHECK_OK(vs_hunyuan_vae_load(&vae, HV_VAE_DIR, VS_CPU));
    vs_test_defer(hv_free_vae, vae);
    if (tiled) CHECK_OK(vs_hunyuan_vae_set_tiling(vae, HV_TILE));
    vs_tensor *latents = vs_test_tensor(), *video = vs_test_tensor();
    int64_t shape[4];
    const double *expect = hv_load_case(key, latents, shape);
    CHECK_MSG(expect, "fixture case %s: %s", key, vs_last_error());
    CHECK_OK(vs_hunyuan_vae_decode(vae, latents, tiled, video));
    CHECK_MSG(hv_same_shape(video, shape), "case %s: got [%lld, %lld, %lld, %lld]", key,
              (long long)video->shape[0], (long long)video->shape[1], (long long)video->shape[2],
              (long long)video->shape[3]);
    double err = vs_test_rel_l2(video->data, expect, vs_tensor_numel(video));
    printf("  case %s (%lldx%lldx%lld frames x pixels, tiled %d): rel L2 %.2e\n", key, (long long)shape[0],
           (long long)shape[2], (long long)shape[3], tiled, err);
    CHECK(err <= 1e-4);
    return 0;
}

TEST(untiled_decode_matches_diffusers) {
    return check_case("a", 0);
}
TEST(framewise_decode_matches_diffusers) {
    return check_case("b", 0);
}
TEST(tiled_decode_matches_diffusers_tiled) {
    return check_case("c", 1);
}

TEST(info_from_config) {
    vs_vae_info info;
    CHECK_OK(vs_hunyuan_vae_info(NULL, &info));
    CHECK(info.latent_channels == 16 && info.spatial_ratio == 8 && info.temporal_ratio == 4);
    CHECK_OK(vs_hunyuan_vae_info(HV_VAE_DIR, &info));
    CHECK(info.latent_channels == 8 && info.spatial_ratio == 8 && info.temporal_ratio == 4);
    size_t weights = 0, work = 0, tiled_work = 0;
    CHECK_OK(vs_hunyuan_vae_estimate(NULL, 33, 90, 160, 0, &weights, &work));
    CHECK_OK(vs_hunyuan_vae_estimate(NULL, 33, 90, 160, 1, &weights, &tiled_work));
    CHECK(weights > (size_t)100 << 20 && weights < (size_t)1 << 30 && tiled_work < work);
    return 0;
}

TEST(bad_latents_are_refused) {
    vs_hunyuan_vae *vae;
    CHECK_OK(vs_hunyuan_vae_load(&vae, HV_VAE_DIR, VS_CPU));
    vs_test_defer(hv_free_vae, vae);
    vs_tensor out = {0}, *t = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(t, VS_F32, VS_CPU, 5, (int64_t[]){1, 16, 2, 3, 3}));
    CHECK_FAILS(vs_hunyuan_vae_decode(vae, t, 0, &out), VS_ERR_SHAPE, "[1, 8, F, H, W]");
    vs_tensor_free(t);
    CHECK_OK(vs_tensor_alloc(t, VS_F32, VS_CPU, 4, (int64_t[]){8, 2, 3, 3}));
    CHECK_FAILS(vs_hunyuan_vae_decode(vae, t, 0, &out), VS_ERR_SHAPE, "rank 4");
    vs_tensor_free(t);
    CHECK_OK(vs_tensor_alloc(t, VS_BF16, VS_CPU, 5, (int64_t[]){1, 8, 2, 3, 3}));
    CHECK_FAILS(vs_hunyuan_vae_decode(vae, t, 0, &out), VS_ERR_SHAPE, "got BF16");
    CHECK_FAILS(vs_hunyuan_vae_decode(vae, NULL, 0, &out), VS_ERR_INVALID_ARG, "no model or latents");
    CHECK(out.data == NULL);
    CHECK_FAILS(vs_hunyuan_vae_set_tiling(vae, 36, 32, 8, 24, 16, 4), VS_ERR_INVALID_ARG, "multiples of 8");
    CHECK_FAILS(vs_hunyuan_vae_set_tiling(vae, 32, 32, 8, 40, 16, 4), VS_ERR_INVALID_ARG, "exceed");
    return 0;
}

/* A temporary VAE folder: config.json `config` and the fixture's weights (damaged as asked), removed after
 * the case; "" on failure. */
static const char *make_broken(const char *config, const char *drop, const char *reshape) {
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/vs_test_hyvae_XXXXXX");
    if (!mkdtemp(dir)) return "";
    vs_test_remove(dir);
    char path[128];
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (vs_test_write_text(path, config)) return "";
    vs_test_remove(path);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    if (vs_test_write_damaged(HV_VAE_DIR, dir, drop, reshape, 2, 3) != VS_OK) return "";
    vs_test_remove(path);
    return dir;
}

#define TINY "\"latent_channels\": 8, \"layers_per_block\": 1, \"norm_num_groups\": 4"

TEST(bad_checkpoints_give_clear_errors) {
    vs_hunyuan_vae *vae = (vs_hunyuan_vae *)1;
    CHECK_FAILS(vs_hunyuan_vae_load(&vae, "/nonexistent/vae", VS_CPU), VS_ERR_NOT_FOUND,
                "/nonexistent/vae/config.json");
    CHECK(vae == NULL);
    static const struct {
        const char *config, *drop, *reshape;
        vs_status status;
        const char *needle;
    } cases[] = {
        {"{\"block_out_channels\": [8, 16, 16, 32], " TINY "}", "decoder.mid_block.attentions.0.to_k.weight",
         NULL, VS_ERR_NOT_FOUND, "decoder.mid_block.attentions.0.to_k.weight"},
        {"{\"block_out_channels\": [8, 16, 16, 32], " TINY "}", NULL, "decoder.conv_in.conv.bias",
         VS_ERR_SHAPE, "decoder.conv_in.conv.bias"},
        {"{\"block_out_channels\": [8, 16, 32, 32], " TINY "}", NULL, NULL, VS_ERR_SHAPE,
         "decoder.up_blocks.1"},
        {"{\"block_out_channels\": [8, 16, 16, 32], \"latent_channels\": 16, \"layers_per_block\": 1, "
         "\"norm_num_groups\": 4}",
         NULL, NULL, VS_ERR_SHAPE, "post_quant_conv.weight"},
        {"{\"block_out_channels\": [8, 16, 16, 32], \"latent_channels\": 8, \"layers_per_block\": 0, "
         "\"norm_num_groups\": 4}",
         NULL, NULL, VS_ERR_FORMAT, "config.json describes"},
        {"{\"block_out_channels\": [8, 16, 16, 32], " TINY ", \"temporal_compression_ratio\": 8}", NULL, NULL,
         VS_ERR_UNSUPPORTED, "temporal_compression_ratio"},
        {"{\"block_out_channels\": [8, 16], " TINY "}", NULL, NULL, VS_ERR_FORMAT, "not the configured"},
        {"{\"block_out_channels\": [8, 16, 16, 30], " TINY "}", NULL, NULL, VS_ERR_FORMAT, "norm_num_groups"},
        {"{\"_class_name\": \"AutoencoderKLWan\"}", NULL, NULL, VS_ERR_FORMAT, "AutoencoderKLWan"},
        {"[1, 2]", NULL, NULL, VS_ERR_FORMAT, "not an object"},
        {"{\"block_out_channels\": 8,", NULL, NULL, VS_ERR_FORMAT, "config.json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *dir = make_broken(cases[i].config, cases[i].drop, cases[i].reshape);
        CHECK(*dir);
        vs_status s = vs_hunyuan_vae_load(&vae, dir, VS_CPU);
        if (s == VS_OK) vs_test_defer(hv_free_vae, vae);
        CHECK_MSG(s == cases[i].status && strstr(vs_last_error(), cases[i].needle) && vae == NULL,
                  "case %zu: %s: %s", i, vs_status_name(s), vs_last_error());
        CHECK(!strchr(vs_last_error(), '\n'));
    }
    return 0;
}

/* Without a GPU (or without CUDA in the build) a VAE for cuda fails to load, saying why. */
TEST(cuda_without_gpu_is_refused) {
    if (vs_cuda_device_count() > 0) return 0; /* tests/gpu/test_hunyuan_vae_cuda.c covers it */
    vs_hunyuan_vae *vae = (vs_hunyuan_vae *)1;
    vs_status s = vs_hunyuan_vae_load(&vae, HV_VAE_DIR, VS_CUDA);
    CHECK_MSG(s != VS_OK && vae == NULL, "%s", vs_last_error());
    return 0;
}

RUN_TESTS(T(untiled_decode_matches_diffusers), T(framewise_decode_matches_diffusers),
          T(tiled_decode_matches_diffusers_tiled), T(info_from_config), T(bad_latents_are_refused),
          T(bad_checkpoints_give_clear_errors), T(cuda_without_gpu_is_refused))
