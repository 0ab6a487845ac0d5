/* The random components of bench generate on the GPU against the same seeds on the CPU (bf16 against f32),
 * and the memory estimates against what the GPU components hold. */
#include <math.h>
#include <stdio.h>

#include "check.h"
#include "core/devmem.h"
#include "models/common/umt5.h"
#include "models/wan/vae.h"

static void free_vae(void *v) { vs_wan_vae_free(v); }
static void free_umt5(void *m) { vs_umt5_free(m); }

TEST(random_vae_on_the_gpu_matches_the_cpu) {
    vs_wan_vae *cpu, *gpu;
    CHECK_OK(vs_wan_vae_random(&cpu, VS_CPU, 3));
    vs_test_defer(free_vae, cpu);
    CHECK_OK(vs_wan_vae_random(&gpu, VS_CUDA, 3));
    vs_test_defer(free_vae, gpu);
    vs_tensor *lat = vs_test_tensor(), *ref = vs_test_tensor(), *got = vs_test_tensor();
    /* 2 latent frames of 6 x 10: sizes that are not powers of two */
    CHECK_OK(vs_tensor_alloc(lat, VS_F32, VS_CPU, 5, (int64_t[]){1, 16, 2, 6, 10}));
    float *z = lat->data;
    unsigned long long state = 11;
    for (int64_t i = 0; i < vs_tensor_numel(lat); i++) z[i] = (float)(2 * vs_test_uniform(&state) - 1);
    CHECK_OK(vs_wan_vae_decode(cpu, lat, NULL, ref));
    CHECK_OK(vs_wan_vae_decode(gpu, lat, NULL, got));
    CHECK(got->ndim == 4 && got->shape[0] == 5 && got->shape[2] == 48 && got->shape[3] == 80);
    const double err = vs_test_rel_l2_f32(got->data, ref->data, vs_tensor_numel(ref));
    printf("  random VAE, GPU bf16 vs CPU f32: rel L2 %.2e\n", err);
    CHECK(err < 3e-2);
    /* The estimate of the weights is what the upload holds. */
    size_t weights, work;
    CHECK_OK(vs_wan_vae_estimate(NULL, 6, 10, &weights, &work));
    const vs_wan_vae_memory mem = vs_wan_vae_device_memory(gpu);
    printf("  VAE weights: estimated %zu, held %zu bytes; pool: estimated %zu, held %zu bytes\n", weights,
           mem.weights, work, mem.peak_activations);
    CHECK(mem.weights == weights);
    /* The pool is an estimate (its best-fit reuse depends on the order of requests): within 2x either way. */
    CHECK(mem.peak_activations <= 2 * work && mem.peak_activations >= work / 2);
    return 0;
}

TEST(random_umt5_on_the_gpu_matches_the_cpu) {
    const vs_umt5_config small = {1000, 256, 32, 384, 8, 3, 32, 128, 1e-6f, 0};
    vs_umt5 *cpu, *gpu;
    CHECK_OK(vs_umt5_random(&cpu, &small, VS_CPU, 9));
    vs_test_defer(free_umt5, cpu);
    size_t free0, total;
    CHECK_OK(vs_device_mem_info(&free0, &total));
    CHECK_OK(vs_umt5_random(&gpu, &small, VS_CUDA, 9));
    vs_test_defer(free_umt5, gpu);
    enum { N = 37 };
    int32_t ids[N], mask[N];
    for (int i = 0; i < N; i++) ids[i] = (i * 37 + 5) % small.vocab_size, mask[i] = i < 30;
    float *ref = vs_test_malloc(N * 256 * sizeof *ref), *got = vs_test_malloc(N * 256 * sizeof *got);
    for (int i = 0; i < N * 256; i++) got[i] = NAN; /* poisoned */
    CHECK_OK(vs_umt5_encode(cpu, ids, mask, N, ref));
    CHECK_OK(vs_umt5_encode(gpu, ids, mask, N, got));
    const double err = vs_test_rel_l2_f32(got, ref, N * 256);
    printf("  random umT5, GPU bf16 vs CPU f32: rel L2 %.2e\n", err);
    CHECK(err < 3e-2);
    return 0;
}

RUN_TESTS(T(random_vae_on_the_gpu_matches_the_cpu), T(random_umt5_on_the_gpu_matches_the_cpu))
