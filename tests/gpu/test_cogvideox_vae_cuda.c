/* The CogVideoX VAE decoder and encoder on the GPU (bf16, cuDNN) against the float64 diffusers references of
 * tests/data/cogvideox_vae and the f32 CPU decode: untiled (5 latent frames: batches of 3 and 2) and
 * tiled, 2e-2 relative L2; device memory is NaN-filled before each decode, so a buffer element a kernel
 * fails to write poisons the output. The encoder likewise (17 frames: batches of 9 and 8; one image,
 * untiled and tiled). Then the group norm kernel alone against a double reference on
 * random input with channels that are no multiple of anything but 8, with and without the spatial
 * modulation, into a NaN-filled output. */
#include <math.h>

#include "backend/cuda/vae_group_norm.h"
#include "check.h"
#include "cogvideox_vae_fixture.h"
#include "core/devmem.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/cogvideox/vae.h"
#include "tensor_util.h"

#define DATA COGVAE_DATA

static void free_vae(void *v) { vs_cogvideox_vae_free(v); }



static int check_decode(const char *latents_name, const char *video_name, int tiled) {
    vs_cogvideox_vae *gpu = NULL, *cpu = NULL;
    CHECK_OK(vs_cogvideox_vae_load(&gpu, DATA "vae", VS_CUDA));
    vs_test_defer(free_vae, gpu);
    CHECK_OK(vs_cogvideox_vae_load(&cpu, DATA "vae", VS_CPU));
    vs_test_defer(free_vae, cpu);
    vs_tensor *z = cogvae_fixture(latents_name), *ref = cogvae_fixture(video_name), *got = vs_test_tensor(), *want = vs_test_tensor();
    CHECK(z && ref);
    vs_cogvideox_vae_tiling tiling = vs_cogvideox_vae_default_tiling(gpu);
    CHECK_OK(poison_free_memory());
    CHECK_OK(vs_cogvideox_vae_decode(gpu, z, tiled ? &tiling : NULL, got));
    CHECK_OK(vs_cogvideox_vae_decode(cpu, z, tiled ? &tiling : NULL, want));
    const int64_t n = vs_tensor_numel(want);
    CHECK(vs_tensor_numel(got) == n);
    int finite = 1;
    for (int64_t i = 0; i < n; i++) finite &= isfinite(((float *)got->data)[i]);
    const double e_ref = cogvae_rel_l2_frames(got, ref), e_cpu = vs_test_rel_l2_f32(got->data, want->data, n);
    const vs_cogvideox_vae_memory mem = vs_cogvideox_vae_device_memory(gpu);
    printf("  decode %s: %lld frames %lldx%lld, rel L2 %.3g to diffusers, %.3g to the CPU; weights %.2f MiB, "
           "activations %.2f MiB\n", tiled ? "tiled" : "untiled", (long long)got->shape[0], (long long)got->shape[2],
           (long long)got->shape[3], e_ref, e_cpu, mem.weights / 1048576.0, mem.peak_activations / 1048576.0);
    CHECK_MSG(finite, "non-finite output (an unwritten buffer element)");
    CHECK_MSG(e_ref < 2e-2 && e_cpu < 2e-2, "rel L2 %g to diffusers, %g to the CPU", e_ref, e_cpu);
    if (!tiled) { /* the estimate from the config: the weights exactly; the pool's, printed beside the measured one */
        size_t weights, work;
        CHECK_OK(vs_cogvideox_vae_estimate(DATA "vae", (int)z->shape[3], (int)z->shape[4], &weights, &work));
        printf("  estimate: weights %zu bytes (uploaded %zu), activations %.2f MiB (pool %.2f MiB)\n", weights,
               mem.weights, work / 1048576.0, mem.peak_activations / 1048576.0);
        CHECK_MSG(weights == mem.weights, "estimated weights %zu, uploaded %zu", weights, mem.weights);
        CHECK(work > 0);
    }
    return 0;
}


static int check_encode(const char *frames_name, const char *prefix, int tiled) {
    vs_cogvideox_vae *gpu = NULL;
    CHECK_OK(vs_cogvideox_vae_load(&gpu, DATA "vae", VS_CUDA));
    vs_test_defer(free_vae, gpu);
    char name[64];
    vs_tensor *x = cogvae_fixture(frames_name);
    snprintf(name, sizeof name, "%s_mean", prefix);
    vs_tensor *ref_mean = cogvae_fixture(name);
    snprintf(name, sizeof name, "%s_logvar", prefix);
    vs_tensor *ref_logvar = cogvae_fixture(name), *mean = vs_test_tensor(), *logvar = vs_test_tensor();
    CHECK(x && ref_mean && ref_logvar);
    vs_tensor *frames = cogvae_frames_of(x);
    CHECK(frames);
    vs_cogvideox_vae_tiling tiling = vs_cogvideox_vae_default_tiling(gpu);
    CHECK_OK(poison_free_memory());
    CHECK_OK(vs_cogvideox_vae_encode(gpu, frames, tiled ? &tiling : NULL, mean, logvar));
    CHECK(vs_tensor_numel(mean) == vs_tensor_numel(ref_mean));
    const int64_t n = vs_tensor_numel(mean);
    int finite = 1;
    for (int64_t i = 0; i < n; i++) finite &= isfinite(((float *)mean->data)[i]) && isfinite(((float *)logvar->data)[i]);
    const double em = vs_test_rel_l2_f32(mean->data, ref_mean->data, n);
    const double el = vs_test_rel_l2_f32(logvar->data, ref_logvar->data, n);
    printf("  encode %s %lld frames of %lldx%lld: mean rel L2 %.3g, logvar %.3g to diffusers\n", tiled ? "tiled" : "untiled",
           (long long)x->shape[2], (long long)x->shape[3], (long long)x->shape[4], em, el);
    CHECK_MSG(finite, "non-finite output (an unwritten buffer element)");
    CHECK_MSG(em < 2e-2 && el < 2e-2, "mean %g logvar %g", em, el);
    return 0;
}

TEST(decode_matches_diffusers) { return check_decode("dec_latents", "dec_video", 0); }
TEST(encode_matches_diffusers) {
    if (check_encode("enc_frames", "enc", 0)) return 1; /* 17 frames: batches of 9 and 8 */
    if (check_encode("img_frames", "img", 0)) return 1;
    return check_encode("timg_frames", "timg", 1);
}
TEST(decode_tiled_matches_diffusers) { return check_decode("tdec_latents", "tdec_video", 1); }

/* One group norm on x [t][h][w][c] (f32 host) in double, with the modulation when mul. */
static void reference_norm(double *y, const float *x, int t, int h, int w, int c, int groups, float eps,
                           const float *gamma, const float *beta, const float *mul, const float *add, int zt, int zh,
                           int zw, int split, int silu) {
    const int cg = c / groups;
    const int64_t p = (int64_t)t * h * w;
    for (int g = 0; g < groups; g++) {
        double s = 0, q = 0;
        for (int64_t i = 0; i < p; i++)
            for (int k = g * cg; k < (g + 1) * cg; k++) s += x[i * c + k], q += (double)x[i * c + k] * x[i * c + k];
        const double n = (double)p * cg, mean = s / n, inv = 1 / sqrt(q / n - mean * mean + eps);
        for (int64_t i = 0; i < p; i++)
            for (int k = g * cg; k < (g + 1) * cg; k++) {
                double v = (x[i * c + k] - mean) * inv * gamma[k] + beta[k];
                if (mul) {
                    const int f = (int)(i / (h * w)), pi = (int)(i % (h * w)) / w, pj = (int)(i % (h * w)) % w;
                    const int zf = split ? (f == 0 ? 0 : 1 + (f - 1) * (zt - 1) / (t - 1)) : f * zt / t;
                    const int64_t at = (((int64_t)zf * zh + pi * zh / h) * zw + pj * zw / w) * c + k;
                    v = v * mul[at] + add[at];
                }
                y[i * c + k] = silu ? v / (1 + exp(-v)) : v;
            }
    }
}

static int check_group_norm(int t, int h, int w, int c, int groups, int modulate) {
    unsigned long long rng = 1234 + (unsigned long long)c;
    const int zt = modulate ? (t % 2 ? (t + 1) / 2 : t / 2) : 1, zh = modulate ? h / 2 : 1, zw = modulate ? w / 2 : 1;
    const int split = modulate && t > 1 && t % 2 == 1;
    const int64_t n = (int64_t)t * h * w * c, nz = (int64_t)zt * zh * zw * c;
    float *x = vs_test_free_later(random_array(&rng, n, -2, 3));
    float *gamma = vs_test_free_later(random_array(&rng, c, 0.5f, 1.5f));
    float *beta = vs_test_free_later(random_array(&rng, c, -0.5f, 0.5f));
    float *mul = vs_test_free_later(random_array(&rng, nz, 0.5f, 1.5f));
    float *add = vs_test_free_later(random_array(&rng, nz, -1, 1));
    CHECK(x && gamma && beta && mul && add);
    round_to(x, n, VS_BF16), round_to(mul, nz, VS_BF16), round_to(add, nz, VS_BF16);
    vs_tensor *dx = vs_test_tensor(), *dy = vs_test_tensor(), *dg = vs_test_tensor(), *db = vs_test_tensor();
    vs_tensor *dm = vs_test_tensor(), *da = vs_test_tensor(), *scratch = vs_test_tensor();
    const int64_t shape[4] = {t, h, w, c}, cs[1] = {c}, zs[4] = {zt, zh, zw, c};
    CHECK_OK(to_device(dx, x, VS_BF16, 4, shape));
    CHECK_OK(vs_tensor_alloc(dy, VS_BF16, VS_CUDA, 4, shape));
    CHECK_OK(poison(dy));
    CHECK_OK(to_device(dg, gamma, VS_F32, 1, cs));
    CHECK_OK(to_device(db, beta, VS_F32, 1, cs));
    CHECK_OK(to_device(dm, mul, VS_BF16, 4, zs));
    CHECK_OK(to_device(da, add, VS_BF16, 4, zs));
    CHECK_OK(vs_tensor_alloc(scratch, VS_U8, VS_CUDA, 1, (int64_t[]){(int64_t)vs_cuda_group_norm_scratch_bytes(c)}));
    const vs_cuda_norm_modulation mod = {dm->data, da->data, zt, zh, zw, split};
    CHECK_OK(vs_cuda_group_norm(dy->data, dx->data, t, h, w, c, groups, 1e-6f, dg->data, db->data,
                                modulate ? &mod : NULL, 1, scratch->data));
    float *got = vs_test_free_later(to_host(dy));
    double *want = vs_test_malloc((size_t)n * sizeof(double));
    CHECK(got);
    reference_norm(want, x, t, h, w, c, groups, 1e-6f, gamma, beta, modulate ? mul : NULL, add, zt, zh, zw, split, 1);
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) num += (got[i] - want[i]) * (got[i] - want[i]), den += want[i] * want[i];
    const double err = sqrt(num / den);
    printf("  group norm [%d, %d, %d, %d] in %d groups%s: rel L2 %.3g\n", t, h, w, c, groups,
           modulate ? ", modulated" : "", err);
    CHECK_MSG(err < 1e-2, "rel L2 %g", err);
    return 0;
}

TEST(group_norm_kernel) {
    if (check_group_norm(3, 7, 9, 24, 8, 0)) return 1;
    if (check_group_norm(9, 10, 14, 40, 4, 1)) return 1;  /* odd frames: the first latent frame alone */
    if (check_group_norm(8, 6, 10, 512, 32, 1)) return 1; /* 64 lanes a pixel */
    return check_group_norm(1, 33, 17, 8, 2, 0);
}

RUN_TESTS(T(decode_matches_diffusers), T(decode_tiled_matches_diffusers), T(encode_matches_diffusers),
          T(group_norm_kernel))
