/* The HunyuanVideo VAE decoder on the GPU (bf16, cuDNN) against diffusers' float64 decodes of
 * tests/data/hunyuan_vae and the f32 CPU decode: untiled (5x7 latent pixels: 105 attention tokens, padded to
 * 112 inside), diffusers' framewise temporal tiles, and spatial + temporal tiling with tiny tiles. Free
 * device memory is filled with NaN before each decode, so pool buffers start as NaN and any element a kernel
 * fails to write poisons the output. First the new kernels alone, against host references.
 *
 * With VS_HYVAE_BENCH_JSON=path it also decodes random latents of a 720x1280, 129-frame video with the
 * released configuration's random weights, tiled as diffusers' enable_tiling(), and writes the median time
 * and the GPU memory to that JSON file (a measurement for bench/hunyuan_vae_vs_diffusers.py, no assertion).
 */
#include <time.h>

#include "backend/cuda/hunyuan_vae_cuda.h"
#include "backend/cuda/vae_cuda.h"
#include "check.h"
#include "core/devmem.h"
#include "core/status.h"
#include "hunyuan_vae_fixture.h"
#include "ops/ops.h"
#include "tensor_util.h"

/* ---- the kernels against f64 / exact host references: random inputs, odd sizes, NaN-poisoned outputs ----
 */

/* A BF16 device copy of n random values in [-2, 2) (rounded to BF16 in *host), freed after the case. */
static vs_tensor *random_bf16(unsigned long long *rng, int64_t n, float **host) {
    vs_tensor *t = vs_test_tensor();
    *host = vs_test_free_later(random_array(rng, n, -2.0f, 2.0f));
    if (!*host) return NULL;
    round_to(*host, n, VS_BF16);
    if (to_device(t, *host, VS_BF16, 1, (int64_t[]){n}) != VS_OK) return NULL;
    return t;
}

/* An F32 device copy of n random values in [-2, 2) (in *host), freed after the case. */
static vs_tensor *random_f32(unsigned long long *rng, int64_t n, float **host) {
    vs_tensor *t = vs_test_tensor();
    *host = vs_test_free_later(random_array(rng, n, -2.0f, 2.0f));
    if (!*host || to_device(t, *host, VS_F32, 1, (int64_t[]){n}) != VS_OK) return NULL;
    return t;
}

/* A NaN-filled device tensor of n values, freed after the case. */
static vs_tensor *poisoned(vs_dtype dtype, int64_t n) {
    vs_tensor *t = vs_test_tensor();
    if (vs_tensor_alloc(t, dtype, VS_CUDA, 1, (int64_t[]){n}) != VS_OK || poison(t) != VS_OK) return NULL;
    return t;
}

/* A NaN-filled BF16 device tensor of n values, freed after the case. */
static vs_tensor *poisoned_bf16(int64_t n) {
    vs_tensor *t = vs_test_tensor();
    if (vs_tensor_alloc(t, VS_BF16, VS_CUDA, 1, (int64_t[]){n}) != VS_OK || poison(t) != VS_OK) return NULL;
    return t;
}

static double max_abs_diff(const float *a, const double *ref, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        m = isfinite(a[i]) ? fmax(m, fabs(a[i] - ref[i])) : INFINITY;
    return m;
}

/* Group norm of `pixels` pixels of c channels in `groups` groups (cg = c / groups below, at and above the
 * kernel's 8-channel vectors), of BF16 or F32 input (x_f32), with and without SiLU, in place or not. */
static int check_group_norm(unsigned long long *rng, int64_t pixels, int c, int groups, int x_f32) {
    const int cg = c / groups;
    float *x, *gamma = vs_test_free_later(random_array(rng, c, 0.5f, 1.5f)),
              *beta = vs_test_free_later(random_array(rng, c, -0.5f, 0.5f));
    vs_tensor *xd = x_f32 ? random_f32(rng, pixels * c, &x) : random_bf16(rng, pixels * c, &x),
              *yd = poisoned_bf16(pixels * c);
    vs_tensor *gd = vs_test_tensor(), *bd = vs_test_tensor(), *stats = vs_test_tensor();
    CHECK(xd && yd && gamma && beta);
    CHECK_OK(to_device(gd, gamma, VS_F32, 1, (int64_t[]){c}));
    CHECK_OK(to_device(bd, beta, VS_F32, 1, (int64_t[]){c}));
    CHECK_OK(vs_tensor_alloc(stats, VS_F32, VS_CUDA, 1, (int64_t[]){6 * groups}));
    double *want = vs_test_malloc(sizeof(double) * (size_t)(pixels * c));
    for (int silu = 0; silu < 2; silu++) {
        for (int g = 0; g < groups; g++) {
            double sum = 0, sq = 0;
            for (int64_t p = 0; p < pixels; p++)
                for (int ch = g * cg; ch < (g + 1) * cg; ch++)
                    sum += x[p * c + ch], sq += (double)x[p * c + ch] * x[p * c + ch];
            const double mean = sum / (pixels * cg), inv = 1 / sqrt(sq / (pixels * cg) - mean * mean + 1e-6);
            for (int64_t p = 0; p < pixels; p++)
                for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                    double v = (x[p * c + ch] - mean) * inv * gamma[ch] + beta[ch];
                    want[p * c + ch] = silu ? v / (1 + exp(-v)) : v;
                }
        }
        CHECK_OK(poison(yd));
        CHECK_OK(vs_cuda_hv_group_norm(yd->data, xd->data, x_f32, gd->data, bd->data, pixels, c, groups, 1e-6f,
                                       silu, stats->data));
        float *got = vs_test_free_later(to_host(yd));
        CHECK(got);
        double err = max_abs_diff(got, want, pixels * c);
        CHECK_MSG(err < 0.05, "%d channels in %d groups, silu %d, f32 %d: max abs error %g", c, groups, silu,
                  x_f32, err);
        if (silu && !x_f32) { /* in place, on a copy of x */
            CHECK_OK(vs_op_copy(yd, xd));
            CHECK_OK(vs_cuda_hv_group_norm(yd->data, yd->data, 0, gd->data, bd->data, pixels, c, groups, 1e-6f,
                                           1, stats->data));
            got = vs_test_free_later(to_host(yd));
            CHECK(got);
            err = max_abs_diff(got, want, pixels * c);
            CHECK_MSG(err < 0.05, "%d channels in %d groups, in place: max abs error %g", c, groups, err);
        }
    }
    return 0;
}

TEST(group_norm_kernel) {
    unsigned long long rng = 11;
    static const int shapes[][3] = {
        {3 * 7 * 9, 24, 6}, {3 * 7 * 9, 40, 5}, {5 * 11, 48, 3}, {20000, 128, 32}};
    for (int i = 0; i < 4; i++)
        for (int x_f32 = 0; x_f32 < 2; x_f32++)
            if (check_group_norm(&rng, shapes[i][0], shapes[i][1], shapes[i][2], x_f32)) return 1;
    return 0;
}

TEST(pad_upsample_stream_kernels) {
    unsigned long long rng = 12;
    const int t = 3, h = 5, w = 7, c = 16;
    float *x, *xf, *res, *conv;
    vs_tensor *xd = random_bf16(&rng, (int64_t)t * h * w * c, &x);
    /* replicate padding: 2 frames before, 1 pixel around */
    const int64_t np = (int64_t)(t + 2) * (h + 2) * (w + 2) * c;
    vs_tensor *pd = poisoned_bf16(np);
    CHECK(xd && pd);
    CHECK_OK(vs_cuda_hv_replicate_pad(pd->data, xd->data, t, h, w, c, 2, 1));
    float *got = vs_test_free_later(to_host(pd));
    CHECK(got);
    for (int f = 0; f < t + 2; f++)
        for (int y = 0; y < h + 2; y++)
            for (int xx = 0; xx < w + 2; xx++)
                for (int ch = 0; ch < c; ch++) {
                    const int sf = f < 2 ? 0 : f - 2,
                              sy = y == 0  ? 0
                                   : y > h ? h - 1
                                           : y - 1,
                              sx = xx == 0  ? 0
                                   : xx > w ? w - 1
                                            : xx - 1;
                    CHECK(got[(((int64_t)f * (h + 2) + y) * (w + 2) + xx) * c + ch] ==
                          x[(((int64_t)sf * h + sy) * w + sx) * c + ch]);
                }
    /* upsampling of the F32 stream by (2, 2, 2) into BF16, frame 0 in space only */
    const int t2 = 1 + 2 * (t - 1);
    vs_tensor *xfd = random_f32(&rng, (int64_t)t * h * w * c, &xf), *ud = poisoned_bf16((int64_t)t2 * 2 * h * 2 * w * c);
    CHECK(xfd && ud);
    CHECK_OK(vs_cuda_hv_upsample(ud->data, xfd->data, t, h, w, c, 2, 2));
    got = vs_test_free_later(to_host(ud));
    CHECK(got);
    round_to(xf, (int64_t)t * h * w * c, VS_BF16);
    for (int f = 0; f < t2; f++)
        for (int y = 0; y < 2 * h; y++)
            for (int xx = 0; xx < 2 * w; xx++)
                for (int ch = 0; ch < c; ch++) {
                    const int sf = f == 0 ? 0 : 1 + (f - 1) / 2;
                    CHECK(got[(((int64_t)f * 2 * h + y) * 2 * w + xx) * c + ch] ==
                          xf[(((int64_t)sf * h + y / 2) * w + xx / 2) * c + ch]);
                }
    /* the residual stream: y = conv + bias + res in f32, into a new buffer and in place on res */
    const int64_t n = (int64_t)t * h * w * c;
    vs_tensor *cd = random_bf16(&rng, n, &conv), *rd = random_f32(&rng, n, &res), *yd = poisoned(VS_F32, n);
    float *bias = vs_test_free_later(random_array(&rng, c, -1.0f, 1.0f));
    vs_tensor *bd = vs_test_tensor();
    CHECK(cd && rd && yd && bias);
    CHECK_OK(to_device(bd, bias, VS_F32, 1, (int64_t[]){c}));
    for (int in_place = 0; in_place < 2; in_place++) {
        vs_tensor *out = in_place ? rd : yd;
        CHECK_OK(vs_cuda_hv_stream_add(out->data, cd->data, bd->data, rd->data, (int64_t)t * h * w, c));
        got = vs_test_free_later(to_host(out));
        CHECK(got);
        double err = 0;
        for (int64_t e = 0; e < n; e++)
            err = isfinite(got[e]) ? fmax(err, fabs(got[e] - ((double)conv[e] + bias[e % c] + res[e]))) : INFINITY;
        CHECK_MSG(err < 1e-5, "stream add (in place %d): max abs error %g", in_place, err);
    }
    return 0;
}

/* The 3x3x3 cuDNN convolution without padding against an f64 loop over the same BF16 values: odd sizes,
 * more output channels than input, a NaN-poisoned output. */
TEST(conv3d_kernel) {
    unsigned long long rng = 13;
    const int t = 5, h = 6, w = 9, cin = 16, cout = 24, k = 3, to = t - 2, ho = h - 2, wo = w - 2;
    float *x, *wt;
    vs_tensor *xd = random_bf16(&rng, (int64_t)t * h * w * cin, &x),
              *wd = random_bf16(&rng, (int64_t)cout * k * k * k * cin, &wt),
              *yd = poisoned_bf16((int64_t)to * ho * wo * cout);
    CHECK(xd && wd && yd);
    CHECK_OK(vs_cuda_conv3d_valid_ndhwc(yd->data, xd->data, wd->data, t, h, w, cin, cout, k));
    float *got = vs_test_free_later(to_host(yd));
    CHECK(got);
    double err = 0, scale = 0;
    for (int f = 0; f < to; f++)
        for (int y = 0; y < ho; y++)
            for (int xx = 0; xx < wo; xx++)
                for (int o = 0; o < cout; o++) {
                    double sum = 0;
                    for (int dt = 0; dt < k; dt++)
                        for (int dy = 0; dy < k; dy++)
                            for (int dx = 0; dx < k; dx++)
                                for (int i = 0; i < cin; i++)
                                    sum += (double)x[(((int64_t)(f + dt) * h + y + dy) * w + xx + dx) * cin + i] *
                                           wt[((((int64_t)o * k + dt) * k + dy) * k + dx) * cin + i];
                    const float g = got[(((int64_t)f * ho + y) * wo + xx) * cout + o];
                    err = isfinite(g) ? fmax(err, fabs(g - sum)) : INFINITY;
                    scale = fmax(scale, fabs(sum));
                }
    printf("  conv3d: max abs error %.3g of values up to %.3g\n", err, scale);
    CHECK_MSG(err <= scale / 128, "conv3d: max abs error %g (values up to %g)", err, scale);
    CHECK_FAILS(vs_cuda_conv3d_valid_ndhwc(yd->data, xd->data, wd->data, 2, h, w, cin, cout, k), VS_ERR_UNSUPPORTED,
                "sizes at least the kernel");
    return 0;
}

/* ---- the decoder --------------------------------------------------------------------------------------- */

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
    for (int64_t i = 0; i < n; i++)
        finite &= isfinite(((const float *)got->data)[i]) != 0;
    const double vs_diffusers = vs_test_rel_l2(got->data, expect, n);
    const double vs_cpu = vs_test_rel_l2_f32(got->data, want->data, n);
    vs_vae_memory mem = vs_hunyuan_vae_memory(gpu);
    printf("  case %s (tiled %d): rel L2 %.2e vs diffusers f64, %.2e vs our CPU; peak activations %.1f MiB\n",
           key, tiled, vs_diffusers, vs_cpu, mem.peak_activations / 1048576.0);
    CHECK_MSG(finite, "NaN or Inf in the GPU decode (an unwritten element)");
    CHECK(vs_diffusers <= 2e-2 && vs_cpu <= 2e-2);
    return 0;
}

TEST(untiled_matches_diffusers_and_cpu) {
    return check_case("a", 0);
}
TEST(framewise_matches_diffusers_and_cpu) {
    return check_case("b", 0);
}
TEST(tiled_matches_diffusers_and_cpu) {
    return check_case("c", 1);
}

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
    printf("  ours: median %.1f ms of %d; weights %.1f MiB, peak activations %.1f MiB (estimate %.1f), cuDNN "
           "workspace "
           "%.1f MiB, device in use %.1f MiB\n",
           median, repeats, mem.weights / mib, mem.peak_activations / mib, est_work / mib,
           mem.workspace / mib, mem.device_used / mib);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fprintf(
        f,
        "{\"median_ms\": %.1f, \"min_ms\": %.1f, \"max_ms\": %.1f, \"repeats\": %d, \"weights_mib\": %.1f, "
        "\"activations_mib\": %.1f, \"estimate_work_mib\": %.1f, \"workspace_mib\": %.1f, "
        "\"device_used_mib\": %.1f}\n",
        median, ms[1], ms[repeats], repeats, mem.weights / mib, mem.peak_activations / mib, est_work / mib,
        mem.workspace / mib, mem.device_used / mib);
    fclose(f);
    return 0;
}

RUN_TESTS(T(group_norm_kernel), T(pad_upsample_stream_kernels), T(conv3d_kernel), T(untiled_matches_diffusers_and_cpu),
          T(framewise_matches_diffusers_and_cpu), T(tiled_matches_diffusers_and_cpu),
          T(released_config_720p_129_frames))
