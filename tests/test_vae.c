/* The Wan VAE decoder against diffusers' AutoencoderKLWan (float64 references
 * written by tools/make_vae_fixtures.py). */
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/safetensors.h"
#include "models/wan/vae.h"

#define VAE_DIR "tests/data/vae/vae"
#define REF_FILE "tests/data/vae/reference.safetensors"

/* Loads a reference [1, C, T, H, W] as doubles in our frame-major [T, C, H, W]. */
static double *load_reference(const vs_safetensors *st, const char *name, int64_t *shape) {
    vs_tensor t;
    if (vs_safetensors_load(st, name, VS_F32, VS_CPU, 0, NULL, &t) != VS_OK || t.ndim != 5) return NULL;
    int64_t c = t.shape[1], f = t.shape[2], hw = t.shape[3] * t.shape[4];
    double *out = malloc(sizeof(double) * (size_t)(c * f * hw));
    const float *src = t.data;
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t i = 0; i < f; i++)
            for (int64_t p = 0; p < hw; p++) out[(i * c + ch) * hw + p] = src[(ch * f + i) * hw + p];
    shape[0] = f;
    shape[1] = c;
    shape[2] = t.shape[3];
    shape[3] = t.shape[4];
    vs_tensor_free(&t);
    return out;
}

static int same_shape(const vs_tensor *t, const int64_t *shape) {
    return t->ndim == 4 && t->shape[0] == shape[0] && t->shape[1] == shape[1] && t->shape[2] == shape[2] &&
           t->shape[3] == shape[3];
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static void free_vae(void *vae) { vs_wan_vae_free(vae); }
static void close_safetensors(void *st) { vs_safetensors_close(st); }

/* The fixture's VAE and reference file, released after the case (NULL if either fails to open). */
static vs_wan_vae *open_fixture(vs_safetensors **ref) {
    vs_wan_vae *vae;
    if (vs_wan_vae_load(&vae, VAE_DIR, VS_CPU) != VS_OK) return NULL;
    vs_test_defer(free_vae, vae);
    if (vs_safetensors_open(ref, REF_FILE) != VS_OK) return NULL;
    vs_test_defer(close_safetensors, *ref);
    return vae;
}

TEST(decode_matches_diffusers) {
    vs_safetensors *ref;
    vs_wan_vae *vae = open_fixture(&ref);
    CHECK_MSG(vae, "%s", vs_last_error());
    CHECK(vs_wan_vae_z_dim(vae) == 16 && vs_wan_vae_spatial_ratio(vae) == 8 && vs_wan_vae_temporal_ratio(vae) == 4);
    vs_tensor *latents = vs_test_tensor(), *video = vs_test_tensor();
    CHECK_OK(vs_safetensors_load(ref, "latents", VS_F32, VS_CPU, 0, NULL, latents));
    int64_t shape[4];
    double *expect = load_reference(ref, "video", shape);
    vs_test_defer(free, expect);
    CHECK(expect);
    CHECK(shape[0] == 1 + 4 * (latents->shape[2] - 1) && shape[2] == 8 * latents->shape[3]);

    CHECK_OK(vs_wan_vae_decode(vae, latents, NULL, video));
    CHECK(same_shape(video, shape));
    double err = vs_test_rel_l2(video->data, expect, vs_tensor_numel(video));
    printf("  untiled: rel L2 %.3g vs diffusers (%lld frames %lldx%lld)\n", err, (long long)shape[0],
           (long long)shape[3], (long long)shape[2]);
    CHECK_MSG(err < 1e-4, "rel L2 %g", err);

    /* A [z, T, h, w] view of the same latents decodes the same. */
    vs_tensor v4 = vs_tensor_view(latents->data, VS_F32, VS_CPU, 4, latents->shape + 1), *again = vs_test_tensor();
    CHECK_OK(vs_wan_vae_decode(vae, &v4, NULL, again));
    CHECK(memcmp(again->data, video->data, sizeof(float) * (size_t)vs_tensor_numel(video)) == 0);

    /* Causality: the first two latent frames alone give the first 1 + 4 video frames. */
    int64_t two[5] = {1, 16, 2, latents->shape[3], latents->shape[4]};
    float *part = vs_test_malloc(sizeof(float) * (size_t)(16 * 2 * two[3] * two[4]));
    int64_t hw = two[3] * two[4];
    for (int c = 0; c < 16; c++)
        memcpy(part + c * 2 * hw, (float *)latents->data + c * latents->shape[2] * hw, sizeof(float) * (size_t)(2 * hw));
    vs_tensor lat2 = vs_tensor_view(part, VS_F32, VS_CPU, 5, two), *video2 = vs_test_tensor();
    CHECK_OK(vs_wan_vae_decode(vae, &lat2, NULL, video2));
    CHECK(video2->shape[0] == 5);
    double d = max_abs_diff(video2->data, video->data, vs_tensor_numel(video2));
    CHECK_MSG(d < 1e-5, "prefix decode differs by %g", d);
    return 0;
}

TEST(tiled_decode_matches_diffusers_tiled) {
    vs_safetensors *ref;
    vs_wan_vae *vae = open_fixture(&ref);
    CHECK_MSG(vae, "%s", vs_last_error());
    vs_tensor *latents = vs_test_tensor(), *tiled = vs_test_tensor(), *plain = vs_test_tensor();
    CHECK_OK(vs_safetensors_load(ref, "latents", VS_F32, VS_CPU, 0, NULL, latents));
    int64_t shape[4];
    double *expect = load_reference(ref, "video_tiled", shape);
    vs_test_defer(free, expect);
    CHECK(expect);
    /* The fixture's tiling: 32x32-pixel tiles (4x4 latents) every 24 pixels, 8-pixel blends. */
    vs_wan_vae_tiling tiling = {1, 32, 32, 24, 24};
    CHECK_OK(vs_wan_vae_decode(vae, latents, &tiling, tiled));
    CHECK(same_shape(tiled, shape));
    int64_t n = vs_tensor_numel(tiled);
    double err = vs_test_rel_l2(tiled->data, expect, n);
    CHECK_MSG(err < 1e-4, "rel L2 %g", err);

    /* Tiled against untiled: with random weights and 4x4-latent tiles the
     * receptive field far exceeds a tile, so they differ a lot; the bound only
     * guards against garbage (values stay in [-1, 1], mean difference small). */
    CHECK_OK(vs_wan_vae_decode(vae, latents, NULL, plain));
    double *plain_d = vs_test_malloc(sizeof(double) * (size_t)n), sum = 0;
    for (int64_t i = 0; i < n; i++) {
        plain_d[i] = ((float *)plain->data)[i];
        sum += fabs(((float *)tiled->data)[i] - plain_d[i]);
    }
    double diff = vs_test_rel_l2(tiled->data, plain_d, n), maxd = max_abs_diff(tiled->data, plain->data, n);
    printf("  tiled (32/24 px) vs diffusers tiled: rel L2 %.3g; tiled vs untiled: rel L2 %.3f, mean abs %.4f, max abs %.3f\n",
           err, diff, sum / n, maxd);
    CHECK(diff < 1.0 && maxd <= 2.0 && sum / n < 0.2);

    /* Tiles that cover the whole latent: tiling does not kick in, output is identical. */
    vs_wan_vae_tiling big = {1, 128, 128, 96, 96};
    vs_tensor *whole = vs_test_tensor();
    CHECK_OK(vs_wan_vae_decode(vae, latents, &big, whole));
    CHECK(memcmp(whole->data, plain->data, sizeof(float) * (size_t)n) == 0);

    /* Larger overlap relative to the tile: report how the seam error shrinks. */
    vs_wan_vae_tiling wide = {1, 48, 48, 16, 16};
    vs_tensor *overlapped = vs_test_tensor();
    CHECK_OK(vs_wan_vae_decode(vae, latents, &wide, overlapped));
    printf("  tiled (48/16 px) vs untiled: rel L2 %.3f\n", vs_test_rel_l2(overlapped->data, plain_d, n));

    vs_tensor *refused = vs_test_tensor();
    vs_wan_vae_tiling bad = {1, 30, 32, 24, 24};
    CHECK_FAILS(vs_wan_vae_decode(vae, latents, &bad, refused), VS_ERR_INVALID_ARG, "multiples of 8");
    bad = (vs_wan_vae_tiling){1, 32, 32, 40, 24};
    CHECK_FAILS(vs_wan_vae_decode(vae, latents, &bad, refused), VS_ERR_INVALID_ARG, "exceeds the tile");
    return 0;
}

TEST(bad_latents_are_refused) {
    vs_wan_vae *vae;
    CHECK_OK(vs_wan_vae_load(&vae, VAE_DIR, VS_CPU));
    vs_test_defer(free_vae, vae);
    static float data[16 * 2 * 4 * 4];
    vs_tensor out;
    int64_t wrong_z[5] = {1, 8, 2, 4, 4};
    vs_tensor t = vs_tensor_view(data, VS_F32, VS_CPU, 5, wrong_z);
    CHECK_FAILS(vs_wan_vae_decode(vae, &t, NULL, &out), VS_ERR_SHAPE, "[1, 16, T, h, w]");
    int64_t batch2[5] = {2, 16, 1, 4, 4};
    t = vs_tensor_view(data, VS_F32, VS_CPU, 5, batch2);
    CHECK_FAILS(vs_wan_vae_decode(vae, &t, NULL, &out), VS_ERR_SHAPE, "latents");
    int64_t ok[5] = {1, 16, 2, 4, 4};
    t = vs_tensor_view(data, VS_BF16, VS_CPU, 5, ok);
    CHECK_FAILS(vs_wan_vae_decode(vae, &t, NULL, &out), VS_ERR_SHAPE, "got BF16");
    CHECK_FAILS(vs_wan_vae_decode(vae, NULL, NULL, &out), VS_ERR_INVALID_ARG, "no model or latents");
    CHECK(out.data == NULL);
    return 0;
}

/* A VAE folder whose config.json is `config` and whose weights are the fixture's, removed after the case. */
static char broken_dir[64];

static int make_broken(const char *config) {
    snprintf(broken_dir, sizeof broken_dir, "/tmp/vs_test_vae_XXXXXX");
    if (!mkdtemp(broken_dir)) return 0;
    vs_test_remove(broken_dir);
    char path[128], weights[4096], cwd[2048];
    snprintf(path, sizeof path, "%s/config.json", broken_dir);
    FILE *f = fopen(path, "w");
    if (!f) return 0;
    vs_test_remove(path);
    fputs(config, f);
    fclose(f);
    if (!getcwd(cwd, sizeof cwd)) return 0;
    snprintf(weights, sizeof weights, "%s/" VAE_DIR "/diffusion_pytorch_model.safetensors", cwd);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", broken_dir);
    if (symlink(weights, path) != 0) return 0;
    vs_test_remove(path);
    return 1;
}

#define MEAN_STD                                                                                       \
    "\"latents_mean\": [0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0], \"latents_std\": [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]"

TEST(bad_checkpoints_give_clear_errors) {
    vs_wan_vae *vae = (vs_wan_vae *)1;
    CHECK_FAILS(vs_wan_vae_load(&vae, "/nonexistent/vae", VS_CPU), VS_ERR_NOT_FOUND, "/nonexistent/vae/config.json");
    CHECK(vae == NULL);
    static const struct {
        const char *config;
        vs_status status;
        const char *needle;
    } cases[] = {
        {"{\"base_dim\": 16, \"z_dim\": 16, \"dim_mult\": [1,2,2,2], \"num_res_blocks\": 1, "
         "\"temperal_downsample\": [false,true,true], " MEAN_STD "}",
         VS_ERR_SHAPE, "decoder.conv_in.weight"},
        {"{\"base_dim\": 8, \"z_dim\": 16, \"dim_mult\": [1,2,2,2], \"num_res_blocks\": 2, "
         "\"temperal_downsample\": [false,true,true], " MEAN_STD "}",
         VS_ERR_NOT_FOUND, "decoder.up_blocks.0.resnets.2"},
        {"{\"base_dim\": 8, \"z_dim\": 16, \"dim_mult\": [1,2,2,2], \"num_res_blocks\": 1, "
         "\"temperal_downsample\": [false,true,false], " MEAN_STD "}",
         VS_ERR_FORMAT, "weight decoder.up_blocks.0.upsamplers.0.time_conv.bias is not part of the decoder"},
        {"{\"base_dim\": 8, \"z_dim\": 16, \"dim_mult\": [1,2,2,2], \"num_res_blocks\": 1, "
         "\"temperal_downsample\": [false,true,true]}",
         VS_ERR_NOT_FOUND, "latents_mean"},
        {"{\"base_dim\": 8, \"z_dim\": 16, \"dim_mult\": [1,2,2,2], \"num_res_blocks\": 1, "
         "\"temperal_downsample\": [false,true], " MEAN_STD "}",
         VS_ERR_FORMAT, "temperal_downsample"},
        {"{\"base_dim\": 8, \"z_dim\": 16, \"dim_mult\": [1,2,\"x\"], \"num_res_blocks\": 1, "
         "\"temperal_downsample\": [false,true], " MEAN_STD "}",
         VS_ERR_FORMAT, "dim_mult"},
        {"{\"base_dim\": -8, \"z_dim\": 16}", VS_ERR_FORMAT, "base_dim"},
        {"{\"base_dim\": 8, \"z_dim\": 16, \"is_residual\": true}", VS_ERR_UNSUPPORTED, "is_residual"},
        {"[1, 2]", VS_ERR_FORMAT, "not an object"},
        {"{\"base_dim\": 8,", VS_ERR_FORMAT, "config.json"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(make_broken(cases[i].config));
        vs_status s = vs_wan_vae_load(&vae, broken_dir, VS_CPU);
        if (s == VS_OK) vs_test_defer(free_vae, vae);
        CHECK_MSG(s == cases[i].status && strstr(vs_last_error(), cases[i].needle) && vae == NULL,
                  "case %zu: %s: %s", i, vs_status_name(s), vs_last_error());
    }
    return 0;
}

/* Without a GPU (or without CUDA in the build) a VAE for cuda fails to load, saying why. */
TEST(cuda_without_gpu_is_refused) {
    if (vs_cuda_device_count() > 0) return 0; /* tests/gpu/test_vae_cuda.c covers it */
    vs_wan_vae *vae = (vs_wan_vae *)1;
    CHECK_FAILS(vs_wan_vae_load(&vae, VAE_DIR, VS_CUDA), VS_ERR_UNSUPPORTED, "CUDA");
    CHECK(vae == NULL);
    return 0;
}

RUN_TESTS(T(decode_matches_diffusers), T(tiled_decode_matches_diffusers_tiled), T(bad_latents_are_refused), T(cuda_without_gpu_is_refused),
          T(bad_checkpoints_give_clear_errors))
