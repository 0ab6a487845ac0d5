/* The HunyuanVideo VAE decoder on the GPU (bf16, cuDNN) against diffusers' float64 decodes of
 * tests/data/hunyuan_vae and the f32 CPU decode: untiled (5x7 latent pixels: 105 attention tokens, padded to
 * 112 inside), diffusers' framewise temporal tiles, and spatial + temporal tiling with tiny tiles. Free
 * device memory is filled with NaN before each decode, so pool buffers start as NaN and any element a kernel
 * fails to write poisons the output.
 *
 * With VS_HYVAE_BENCH_JSON=path it also decodes random latents of a 720x1280, 129-frame video with the
 * released configuration's random weights, tiled as diffusers' enable_tiling(), and writes the median time
 * and the GPU memory to that JSON file (a measurement for bench/hunyuan_vae_vs_diffusers.py, no assertion). */
#include <time.h>

#include "check.h"
#include "core/devmem.h"
#include "core/status.h"
#include "hunyuan_vae_fixture.h"
#include "ops/ops.h"

static vs_status poison_free_memory(void) {
    size_t free_bytes, total;
    VS_TRY(vs_device_mem_info(&free_bytes, &total));
    size_t bytes = free_bytes / 2 < ((size_t)4 << 30) ? free_bytes / 2 : ((size_t)4 << 30);
    void *p;
    VS_TRY(vs_device_malloc(&p, bytes));
    vs_status s = vs_device_memset(p, 0xff, bytes);
    vs_device_free(p);
    return s;
}

static int check_case(const char *key, int tiled) {
    vs_hunyuan_vae *cpu, *gpu;
    CHECK_OK(vs_hunyuan_vae_load(&cpu, HV_VAE_DIR, VS_CPU));
    vs_test_defer(hv_free_vae, cpu);
    CHECK_OK(vs_hunyuan_vae_load(&gpu, HV_VAE_DIR, VS_CUDA));
    vs_test_defer(hv_free_vae, gpu);
    if (tiled) {
        CHECK_OK(vs_hunyuan_vae_set_tiling(cpu, HV_TILE));
        CHECK_OK(vs_hunyuan_vae_set_tiling(gpu, HV_TILE));
    }
    vs_tensor *latents = vs_test_tensor(), *want = vs_test_tensor(), *got = vs_test_tensor();
    int64_t shape[4];
    const double *expect = hv_load_case(key, latents, shape);
    CHECK_MSG(expect, "fixture case %s: %s", key, vs_last_error());
    CHECK_OK(vs_hunyuan_vae_decode(cpu, latents, tiled, want));
    CHECK_OK(poison_free_memory());
    CHECK_OK(vs_hunyuan_vae_decode(gpu, latents, tiled, got));
    CHECK(hv_same_shape(got, shape));
    const int64_t n = vs_tensor_numel(got);
    int finite = 1;
    for (int64_t i = 0; i < n; i++) finite &= isfinite(((const float *)got->data)[i]) != 0;
    const double vs_diffusers = vs_test_rel_l2(got->data, expect, n);
    const double vs_cpu = vs_test_rel_l2_f32(got->data, want->data, n);
    vs_vae_memory mem = vs_hunyuan_vae_memory(gpu);
    printf("  case %s (tiled %d): rel L2 %.2e vs diffusers f64, %.2e vs our CPU; peak activations %.1f MiB\n", key,
           tiled, vs_diffusers, vs_cpu, mem.peak_activations / 1048576.0);
    CHECK_MSG(finite, "NaN or Inf in the GPU decode (an unwritten element)");
    CHECK(vs_diffusers <= 2e-2 && vs_cpu <= 2e-2);
    return 0;
}

TEST(untiled_matches_diffusers_and_cpu) { return check_case("a", 0); }
TEST(framewise_matches_diffusers_and_cpu) { return check_case("b", 0); }
TEST(tiled_matches_diffusers_and_cpu) { return check_case("c", 1); }

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

TEST(released_config_720p_129_frames) {
    const char *path = getenv("VS_HYVAE_BENCH_JSON");
    if (!path) return 0;
    const char *r = getenv("VS_HYVAE_BENCH_REPEATS");
    const int repeats = r && atoi(r) > 0 && atoi(r) <= 8 ? atoi(r) : 1;
    vs_hunyuan_vae *vae;
    CHECK_OK(vs_hunyuan_vae_random(&vae, VS_CUDA, 5));
    vs_test_defer(hv_free_vae, vae);
    vs_tensor *latents = vs_test_tensor(), *video = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(latents, VS_F32, VS_CPU, 5, (int64_t[]){1, 16, 33, 90, 160}));
    CHECK_OK(vs_op_fill_uniform(latents, 21, -0.83f, 0.83f)); /* about the DiT's scale times scaling_factor */
    double ms[1 + 8];
    for (int i = 0; i < 1 + repeats; i++) {
        vs_tensor_free(video);
        double t0 = now_ms();
        CHECK_OK(vs_hunyuan_vae_decode(vae, latents, 1, video));
        ms[i] = now_ms() - t0;
        printf("  720x1280x129 tiled decode %d%s: %.1f ms\n", i + 1, i ? "" : " (warm-up)", ms[i]);
    }
    CHECK(video->shape[0] == 129 && video->shape[2] == 720 && video->shape[3] == 1280);
    qsort(ms + 1, repeats, sizeof(double), cmp_double);
    const double median = (ms[1 + (repeats - 1) / 2] + ms[1 + repeats / 2]) / 2;
    vs_vae_memory mem = vs_hunyuan_vae_memory(vae);
    size_t est_w = 0, est_work = 0;
    CHECK_OK(vs_hunyuan_vae_estimate(NULL, 33, 90, 160, 1, &est_w, &est_work));
    const double mib = 1048576.0;
    printf("  ours: median %.1f ms of %d; weights %.1f MiB, peak activations %.1f MiB (estimate %.1f), cuDNN workspace "
           "%.1f MiB, device in use %.1f MiB\n",
           median, repeats, mem.weights / mib, mem.peak_activations / mib, est_work / mib,
           mem.workspace / mib, mem.device_used / mib);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fprintf(f,
            "{\"median_ms\": %.1f, \"min_ms\": %.1f, \"max_ms\": %.1f, \"repeats\": %d, \"weights_mib\": %.1f, "
            "\"activations_mib\": %.1f, \"estimate_work_mib\": %.1f, \"workspace_mib\": %.1f, \"device_used_mib\": %.1f}\n",
            median, ms[1], ms[repeats], repeats, mem.weights / mib, mem.peak_activations / mib,
            est_work / mib, mem.workspace / mib, mem.device_used / mib);
    fclose(f);
    return 0;
}

RUN_TESTS(T(untiled_matches_diffusers_and_cpu), T(framewise_matches_diffusers_and_cpu),
          T(tiled_matches_diffusers_and_cpu), T(released_config_720p_129_frames))
