/* The CogVideoX VAE against diffusers' AutoencoderKLCogVideoX (tools/make_cogvideox_vae_fixtures.py):
 * decode and encode, untiled and tiled, odd sizes and frame counts that exercise diffusers' frame
 * batching; then bad input. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cogvideox_vae_fixture.h"
#include "io/safetensors.h"
#include "models/cogvideox/vae.h"

#define DATA COGVAE_DATA

static void free_vae(void *v) { vs_cogvideox_vae_free(v); }

static vs_cogvideox_vae *load_vae(void) {
    vs_cogvideox_vae *m = NULL;
    if (vs_cogvideox_vae_load(&m, DATA "vae", VS_CPU) != VS_OK) return NULL;
    vs_test_defer(free_vae, m);
    return m;
}




static int check_decode(const char *latents_name, const char *video_name, int tiled) {
    vs_cogvideox_vae *m = load_vae();
    CHECK_MSG(m, "%s", vs_last_error());
    vs_tensor *z = cogvae_fixture(latents_name), *ref = cogvae_fixture(video_name), *video = vs_test_tensor();
    CHECK(z && ref);
    vs_cogvideox_vae_tiling tiling = vs_cogvideox_vae_default_tiling(m);
    CHECK_OK(vs_cogvideox_vae_decode(m, z, tiled ? &tiling : NULL, video));
    CHECK(video->shape[0] == vs_cogvideox_vae_frames_for(m, (int)z->shape[2]));
    const double err = cogvae_rel_l2_frames(video, ref);
    printf("  decode %s %lldx%lld latents of %lld frames -> %lld frames: rel L2 %.3g\n", tiled ? "tiled" : "untiled",
           (long long)z->shape[3], (long long)z->shape[4], (long long)z->shape[2], (long long)video->shape[0], err);
    CHECK_MSG(err < 1e-4, "rel L2 %g", err);
    return 0;
}

static int check_encode(const char *frames_name, const char *prefix, int tiled) {
    vs_cogvideox_vae *m = load_vae();
    CHECK_MSG(m, "%s", vs_last_error());
    char name[64];
    vs_tensor *x = cogvae_fixture(frames_name);
    CHECK(x);
    snprintf(name, sizeof name, "%s_mean", prefix);
    vs_tensor *ref_mean = cogvae_fixture(name);
    snprintf(name, sizeof name, "%s_logvar", prefix);
    vs_tensor *ref_logvar = cogvae_fixture(name), *mean = vs_test_tensor(), *logvar = vs_test_tensor();
    CHECK(ref_mean && ref_logvar);
    vs_tensor *frames = cogvae_frames_of(x);
    vs_cogvideox_vae_tiling tiling = vs_cogvideox_vae_default_tiling(m);
    CHECK_OK(vs_cogvideox_vae_encode(m, frames, tiled ? &tiling : NULL, mean, logvar));
    CHECK(vs_tensor_numel(mean) == vs_tensor_numel(ref_mean));
    for (int d = 0; d < 5; d++) CHECK(mean->shape[d] == ref_mean->shape[d]);
    const int64_t n = vs_tensor_numel(mean);
    const double em = vs_test_rel_l2_f32(mean->data, ref_mean->data, n);
    const double el = vs_test_rel_l2_f32(logvar->data, ref_logvar->data, n);
    printf("  encode %s %lld frames of %lldx%lld: mean rel L2 %.3g, logvar %.3g\n", tiled ? "tiled" : "untiled",
           (long long)x->shape[2], (long long)x->shape[3], (long long)x->shape[4], em, el);
    CHECK_MSG(em < 1e-4 && el < 1e-4, "mean %g logvar %g", em, el);
    return 0;
}

TEST(decode_batches_frames_like_diffusers) { return check_decode("dec_latents", "dec_video", 0); }
TEST(decode_tiled) { return check_decode("tdec_latents", "tdec_video", 1); }
TEST(encode_batches_frames_like_diffusers) { return check_encode("enc_frames", "enc", 0); }
TEST(encode_one_image) { return check_encode("img_frames", "img", 0); }
TEST(encode_one_image_tiled) { return check_encode("timg_frames", "timg", 1); }

TEST(sample_from_the_distribution) {
    vs_cogvideox_vae *m = load_vae();
    CHECK_MSG(m, "%s", vs_last_error());
    vs_tensor *mean = cogvae_fixture("img_mean"), *logvar = cogvae_fixture("img_logvar"), *noise = cogvae_fixture("img_noise");
    vs_tensor *ref = cogvae_fixture("img_sample"), *got = vs_test_tensor();
    CHECK(mean && logvar && noise && ref);
    CHECK_OK(vs_cogvideox_vae_sample(mean, logvar, noise, got));
    const double err = vs_test_rel_l2_f32(got->data, ref->data, vs_tensor_numel(ref));
    CHECK_MSG(err < 1e-6, "rel L2 %g", err);
    vs_tensor *bad = vs_test_tensor(), *none = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(bad, VS_F32, VS_CPU, 1, (int64_t[]){3}));
    CHECK_FAILS(vs_cogvideox_vae_sample(mean, logvar, bad, none), VS_ERR_SHAPE, "one size");
    return 0;
}

/* The image-to-video condition as CogVideoXImageToVideoPipeline.prepare_latents builds it: 1.5's padding
 * to the patch (an odd latent frame count repeats the image frame), an even count, and 1.0 (no patch). */
TEST(image_condition_matches_prepare_latents) {
    vs_cogvideox_vae *m = load_vae();
    CHECK_MSG(m, "%s", vs_last_error());
    vs_tensor *img = cogvae_fixture("img_frames");
    CHECK(img);
    vs_tensor pixels = vs_tensor_view(img->data, VS_F32, VS_CPU, 3, (int64_t[]){3, img->shape[3], img->shape[4]});
    static const int cases[][2] = {{3, 2}, {4, 2}, {3, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "cond_%d_%d_noise", cases[i][0], cases[i][1]);
        vs_tensor *noise = cogvae_fixture(name);
        snprintf(name, sizeof name, "cond_%d_%d", cases[i][0], cases[i][1]);
        vs_tensor *ref = cogvae_fixture(name), *got = vs_test_tensor();
        CHECK(noise && ref);
        CHECK_OK(vs_cogvideox_vae_image_condition(m, &pixels, noise, cases[i][0], cases[i][1], NULL, got));
        CHECK(got->ndim == 5 && !memcmp(got->shape, ref->shape, 5 * sizeof(int64_t)));
        const double err = vs_test_rel_l2_f32(got->data, ref->data, vs_tensor_numel(ref));
        printf("  %s: [1, %lld, %lld, %lld, %lld], rel L2 %.3g\n", name, (long long)got->shape[1],
               (long long)got->shape[2], (long long)got->shape[3], (long long)got->shape[4], err);
        CHECK_MSG(err < 1e-4, "%s: rel L2 %g", name, err);
    }
    return 0;
}

TEST(bad_input_is_refused) {
    vs_cogvideox_vae *m = load_vae();
    CHECK_MSG(m, "%s", vs_last_error());
    vs_tensor *out = vs_test_tensor(), *lv = vs_test_tensor(), *z = vs_test_tensor(), *tiny = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(z, VS_F32, VS_CPU, 5, (int64_t[]){1, 3, 2, 4, 4})); /* 3 channels for 4 */
    CHECK_FAILS(vs_cogvideox_vae_decode(m, z, NULL, out), VS_ERR_SHAPE, "latents must be");
    CHECK_FAILS(vs_cogvideox_vae_encode(m, z, NULL, out, lv), VS_ERR_SHAPE, "frames must be");
    CHECK_OK(vs_tensor_alloc(tiny, VS_F32, VS_CPU, 4, (int64_t[]){1, 3, 5, 40}));
    CHECK_FAILS(vs_cogvideox_vae_encode(m, tiny, NULL, out, lv), VS_ERR_SHAPE, "at least 8x8");
    vs_cogvideox_vae_tiling t = vs_cogvideox_vae_default_tiling(m);
    t.overlap_width = 1.0;
    vs_tensor *zz = cogvae_fixture("tdec_latents");
    CHECK(zz);
    CHECK_FAILS(vs_cogvideox_vae_decode(m, zz, &t, out), VS_ERR_INVALID_ARG, "overlaps");
    return 0;
}

/* Loading names what is wrong: a missing folder, an unsupported option, a missing weight. */
TEST(bad_folders_are_refused) {
    vs_cogvideox_vae *m = NULL;
    CHECK_FAILS(vs_cogvideox_vae_load(&m, DATA "missing", VS_CPU), VS_ERR_NOT_FOUND, "config.json");
    CHECK(!m);
    const char *dir = "build/test_cogvideox_vae_bad";
    char path[256];
    CHECK(system("mkdir -p build/test_cogvideox_vae_bad") == 0);
    vs_test_remove(dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    vs_test_remove(path);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("{\"_class_name\": \"AutoencoderKLCogVideoX\", \"block_out_channels\": [16, 24, 32], \"latent_channels\": 4,"
          " \"layers_per_block\": 1, \"norm_num_groups\": 8, \"use_quant_conv\": true}", f);
    fclose(f);
    CHECK_FAILS(vs_cogvideox_vae_load(&m, dir, VS_CPU), VS_ERR_UNSUPPORTED, "use_quant_conv");
    f = fopen(path, "w");
    CHECK(f);
    fputs("{\"_class_name\": \"AutoencoderKLCogVideoX\", \"block_out_channels\": [16, 24, 32], \"latent_channels\": 4,"
          " \"layers_per_block\": 2, \"norm_num_groups\": 8}", f); /* the weights have 1 layer per block */
    fclose(f);
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    vs_test_remove(path);
    CHECK(system("cp " DATA "vae/diffusion_pytorch_model.safetensors build/test_cogvideox_vae_bad/") == 0);
    CHECK_FAILS(vs_cogvideox_vae_load(&m, dir, VS_CPU), VS_ERR_NOT_FOUND, "resnets.1");
    CHECK(!m);
    return 0;
}

RUN_TESTS(T(decode_batches_frames_like_diffusers), T(decode_tiled), T(encode_batches_frames_like_diffusers),
          T(encode_one_image), T(encode_one_image_tiled), T(sample_from_the_distribution), T(image_condition_matches_prepare_latents),
          T(bad_input_is_refused),
          T(bad_folders_are_refused))
