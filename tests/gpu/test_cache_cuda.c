/* Step caching on the GPU: vs_op_rel_l1 (TeaCache's signal change, reduced on the device) against a double
 * reference and the CPU op, and HunyuanVideo's TeaCache signal (bf16 forward pieces) against diffusers' f32
 * values with its change reduced where it lies (tests/hunyuan_teacache_check.h). */
#include <stdio.h>

#include "check.h"
#include "hunyuan_teacache_check.h"
#include "ops/ops.h"
#include "tensor_util.h"

/* n random BF16 values on the device, in the first n of n + 37 elements whose tail is NaN (a read past n
 * poisons the result); the rounded host values in *host (freed after the test). */
static vs_tensor *poisoned_tail_bf16(unsigned long long *rng, int64_t n, float lo, float hi, float **host) {
    *host = vs_test_free_later(random_array(rng, n, lo, hi));
    vs_tensor *full = vs_test_tensor(), *view = vs_test_tensor();
    if (!*host || vs_tensor_alloc(full, VS_BF16, VS_CUDA, 1, (int64_t[]){n + 37}) != VS_OK ||
        poison(full) != VS_OK)
        return NULL;
    round_to(*host, n, VS_BF16);
    void *buf = vs_test_malloc((size_t)n * 2);
    vs_convert(buf, VS_BF16, *host, VS_F32, n);
    if (vs_device_memcpy_h2d(full->data, buf, (size_t)n * 2) != VS_OK) return NULL;
    *view = vs_tensor_view(full->data, VS_BF16, VS_CUDA, 1, (int64_t[]){n});
    return view;
}

TEST(rel_l1_matches_double_and_the_cpu) {
    unsigned long long rng = 21;
    /* sizes below one block, ragged, and above the grid (grid-stride loops) */
    static const int64_t sizes[] = {1, 255, 1000003, 7 * 13 * 257 * 31, 3 * 1024 * 1024 + 5};
    for (int i = 0; i < 5; i++) {
        const int64_t n = sizes[i];
        float *a, *b;
        vs_tensor *ad = poisoned_tail_bf16(&rng, n, -2.0f, 2.0f, &a),
                  *bd = poisoned_tail_bf16(&rng, n, -2.5f, 1.5f, &b);
        CHECK(ad && bd);
        for (int64_t j = 0; j < n; j += 3)
            a[j] = b[j]; /* some equal entries */
        void *buf = vs_test_malloc((size_t)n * 2);
        vs_convert(buf, VS_BF16, a, VS_F32, n);
        CHECK_OK(vs_device_memcpy_h2d(ad->data, buf, (size_t)n * 2));
        double diff = 0, norm = 0;
        for (int64_t j = 0; j < n; j++)
            diff += fabs((double)a[j] - b[j]), norm += fabs((double)b[j]);
        const double want = diff / norm;
        double got = NAN, cpu = NAN;
        CHECK_OK(vs_op_rel_l1(ad, bd, &got));
        const vs_tensor ah = vs_tensor_view(a, VS_F32, VS_CPU, 1, (int64_t[]){n}),
                        bh = vs_tensor_view(b, VS_F32, VS_CPU, 1, (int64_t[]){n});
        CHECK_OK(vs_op_rel_l1(&ah, &bh, &cpu));
        printf("  %lld values: GPU %.9f, CPU %.9f, double %.9f\n", (long long)n, got, cpu, want);
        CHECK_MSG(isfinite(got) && fabs(got - want) <= 1e-5 * want, "GPU %.9g, want %.9g", got, want);
        CHECK_MSG(fabs(cpu - want) <= 1e-12 * want, "CPU %.12g, want %.12g", cpu, want);
    }
    /* mismatched operands are refused with the op's name */
    vs_tensor *x = vs_test_tensor(), *y = vs_test_tensor(), *z = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(x, VS_BF16, VS_CUDA, 1, (int64_t[]){16}));
    CHECK_OK(vs_tensor_alloc(y, VS_BF16, VS_CUDA, 1, (int64_t[]){17}));
    CHECK_OK(vs_tensor_alloc(z, VS_F32, VS_CUDA, 1, (int64_t[]){16}));
    double r;
    CHECK_FAILS(vs_op_rel_l1(x, y, &r), VS_ERR_SHAPE, "rel_l1: a and b differ");
    CHECK_FAILS(vs_op_rel_l1(x, z, &r), VS_ERR_INVALID_ARG, "rel_l1: b is");
    return 0;
}

TEST(hunyuan_teacache_signal_on_the_gpu) {
    return check_hunyuan_teacache(VS_CUDA, 2e-2);
}

RUN_TESTS(T(rel_l1_matches_double_and_the_cpu), T(hunyuan_teacache_signal_on_the_gpu))
