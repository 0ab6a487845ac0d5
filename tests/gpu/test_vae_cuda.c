/* The Wan VAE decoder on the GPU (bf16, cuDNN) against the f32 CPU decode and
 * the float64 diffusers reference of tests/data/vae: the fixture latents,
 * random latents of a size that is no multiple of anything (7x9 latent
 * pixels: 63 attention pixels, padded to 64 inside), and tiled decoding.
 * Device memory is filled with NaN before each decode, so activation buffers
 * the pool hands out start as NaN and any element a kernel fails to write
 * poisons the output. */
#include "check.h"
#include "core/devmem.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/wan/vae.h"
#include "tensor_util.h"

#define VAE_DIR "tests/data/vae/vae"
#define REF_FILE "tests/data/vae/reference.safetensors"

static double rel_vs(const vs_tensor *got, const vs_tensor *ref) {
    return vs_test_rel_l2_f32(got->data, ref->data, vs_tensor_numel(ref));
}

static int same_shape4(const vs_tensor *a, const vs_tensor *b) {
    return a->ndim == 4 && b->ndim == 4 && !memcmp(a->shape, b->shape, sizeof(int64_t) * 4);
}

static void free_vae(void *vae) { vs_wan_vae_free(vae); }
static void close_safetensors(void *st) { vs_safetensors_close(st); }

/* The fixture's VAE on the CPU and on the GPU, freed after the case. */
static vs_status load_both(vs_wan_vae **cpu, vs_wan_vae **gpu) {
    VS_TRY(vs_wan_vae_load(cpu, VAE_DIR, VS_CPU));
    vs_test_defer(free_vae, *cpu);
    VS_TRY(vs_wan_vae_load(gpu, VAE_DIR, VS_CUDA));
    vs_test_defer(free_vae, *gpu);
    return VS_OK;
}

TEST(fixture_decode_matches_cpu_and_diffusers) {
    vs_wan_vae *cpu, *gpu;
    vs_safetensors *ref;
    vs_tensor *latents = vs_test_tensor(), *want = vs_test_tensor(), *got = vs_test_tensor();
    vs_tensor *diffusers = vs_test_tensor();
    CHECK_OK(load_both(&cpu, &gpu));
    CHECK(vs_wan_vae_device(gpu) == VS_CUDA);
    CHECK_OK(vs_safetensors_open(&ref, REF_FILE));
    vs_test_defer(close_safetensors, ref);
    CHECK_OK(vs_safetensors_load(ref, "latents", VS_F32, VS_CPU, 0, NULL, latents));
    CHECK_OK(vs_safetensors_load(ref, "video", VS_F32, VS_CPU, 0, NULL, diffusers)); /* [1, C, T, H, W] */
    CHECK_OK(vs_wan_vae_decode(cpu, latents, NULL, want));
    CHECK_OK(poison_free_memory());
    CHECK_OK(vs_wan_vae_decode(gpu, latents, NULL, got));
    CHECK(same_shape4(got, want));
    double err = rel_vs(got, want);
    /* diffusers' [C, T, H, W] in our [T, C, H, W] order */
    int64_t c = diffusers->shape[1], t = diffusers->shape[2], hw = diffusers->shape[3] * diffusers->shape[4];
    float *ref_tc = vs_test_malloc(sizeof(float) * (size_t)(c * t * hw));
    for (int64_t ch = 0; ch < c; ch++)
        for (int64_t f = 0; f < t; f++)
            memcpy(ref_tc + (f * c + ch) * hw, (float *)diffusers->data + (ch * t + f) * hw,
                   sizeof(float) * (size_t)hw);
    double err_ref = vs_test_rel_l2_f32(got->data, ref_tc, c * t * hw);
    vs_wan_vae_memory mem = vs_wan_vae_device_memory(gpu);
    printf("  fixture 3x8x10 latents -> %lldx%lldx%lld: GPU vs CPU rel L2 %.2e, vs diffusers f64 %.2e "
           "(weights %zu KiB, activations %zu KiB)\n",
           (long long)got->shape[0], (long long)got->shape[2], (long long)got->shape[3], err, err_ref,
           mem.weights >> 10, mem.peak_activations >> 10);
    CHECK_MSG(err < 2e-2, "rel L2 %g", err);
    CHECK_MSG(err_ref < 2e-2, "rel L2 vs diffusers %g", err_ref);
    CHECK(mem.weights > 0 && mem.peak_activations > 0 && mem.device_used > 0);
    CHECK(vs_wan_vae_device_memory(cpu).weights == 0);

    /* Decoding again (cached cuDNN plans, reused buffers) gives the same video. */
    vs_tensor *again = vs_test_tensor();
    CHECK_OK(poison_free_memory());
    CHECK_OK(vs_wan_vae_decode(gpu, latents, NULL, again));
    CHECK(rel_vs(again, got) == 0);
    return 0;
}

TEST(odd_size_random_latents_and_tiles_match_cpu) {
    vs_wan_vae *cpu, *gpu;
    CHECK_OK(load_both(&cpu, &gpu));
    unsigned long long rng = 77;
    const int64_t shape[5] = {1, 16, 4, 7, 9};
    float *data = random_array(&rng, 16 * 4 * 7 * 9, -1.7f, 1.7f); /* unit variance */
    vs_test_defer(free, data);
    CHECK(data);
    vs_tensor latents = vs_tensor_view(data, VS_F32, VS_CPU, 5, shape);
    vs_tensor *want = vs_test_tensor(), *got = vs_test_tensor();
    CHECK_OK(vs_wan_vae_decode(cpu, &latents, NULL, want));
    CHECK_OK(poison_free_memory());
    CHECK_OK(vs_wan_vae_decode(gpu, &latents, NULL, got));
    CHECK(same_shape4(got, want) && got->shape[0] == 13 && got->shape[2] == 56 && got->shape[3] == 72);
    double err = rel_vs(got, want);
    printf("  random 4x7x9 latents -> 13x56x72: GPU vs CPU rel L2 %.2e\n", err);
    CHECK_MSG(err < 2e-2, "rel L2 %g", err);

    /* Tiled: 32x32-pixel tiles every 24 pixels, edge tiles of other sizes. */
    vs_wan_vae_tiling tiling = {1, 32, 32, 24, 24};
    vs_tensor *want_tiled = vs_test_tensor(), *got_tiled = vs_test_tensor();
    CHECK_OK(vs_wan_vae_decode(cpu, &latents, &tiling, want_tiled));
    CHECK_OK(poison_free_memory());
    CHECK_OK(vs_wan_vae_decode(gpu, &latents, &tiling, got_tiled));
    CHECK(same_shape4(got_tiled, want_tiled));
    err = rel_vs(got_tiled, want_tiled);
    printf("  tiled (32/24 px): GPU vs CPU rel L2 %.2e\n", err);
    CHECK_MSG(err < 2e-2, "rel L2 %g", err);
    return 0;
}

RUN_TESTS(T(fixture_decode_matches_cpu_and_diffusers), T(odd_size_random_latents_and_tiles_match_cpu))
