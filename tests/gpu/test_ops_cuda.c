/* What tests/test_backend_ops.c's table does not reach on CUDA (it runs
 * every op's arithmetic there, against a double reference, when a GPU is
 * present): sizes the CUDA table refuses, broadcast strides in add, fills
 * that match the CPU's, copies between host and device, mixed devices. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "ops/ops.h"
#include "tensor_util.h"

static unsigned long long rng = 0x243f6a8885a308d3ULL;

static vs_tensor host(float *x, int ndim, const int64_t *shape) { return vs_tensor_view(x, VS_F32, VS_CPU, ndim, shape); }

/* The CUDA table's `supports` names the limit. */
TEST(unsupported_sizes_are_errors) {
    vs_tensor *dx = vs_test_tensor(), *dh = vs_test_tensor(), *dw = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(dx, VS_F32, VS_CUDA, 2, (int64_t[]){4, 12}));
    CHECK_OK(vs_tensor_alloc(dh, VS_BF16, VS_CUDA, 2, (int64_t[]){4, 16}));
    CHECK_OK(vs_tensor_alloc(dw, VS_BF16, VS_CUDA, 2, (int64_t[]){12, 16}));
    CHECK_FAILS(vs_op_linear_residual(dx, dh, dw, NULL, NULL), VS_ERR_UNSUPPORTED, "multiples of 8");
    vs_tensor *dn = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(dn, VS_F32, VS_CUDA, 1, (int64_t[]){12}));
    CHECK_FAILS(vs_op_rmsnorm(dx, dx, dn, 1e-6f), VS_ERR_UNSUPPORTED, "rmsnorm: last dimension 12 is not a multiple of 8");
    return 0;
}

/* add: a [B, 6, D] table broadcast over the batch plus a [B, D] row repeated 6 times, against the CPU; silu. */
TEST(add_broadcast_and_silu) {
    const int64_t B = 2, D = 136, n = B * D, gs[3] = {B, 6, D};
    float *x = vs_test_free_later(random_array(&rng, n, -1, 1));
    float *g = vs_test_free_later(random_array(&rng, B * 6 * D, -1, 1));
    vs_tensor *dx = vs_test_tensor(), *dg = vs_test_tensor();
    CHECK_OK(to_device(dx, x, VS_F32, 2, (int64_t[]){B, D}));
    CHECK_OK(to_device(dg, g, VS_F32, 3, gs));
    float *sum = vs_test_malloc(sizeof(float) * (size_t)(B * 6 * D));
    vs_tensor ht = vs_tensor_view(g, VS_F32, VS_CPU, 3, (int64_t[]){B, 6, D}), dt = *dg;
    ht.stride[0] = dt.stride[0] = 0;
    vs_tensor hr = vs_tensor_view(x, VS_F32, VS_CPU, 3, (int64_t[]){B, 6, D}), dr = *dx;
    hr.stride[0] = dr.stride[0] = D, hr.stride[1] = dr.stride[1] = 0;
    dr.ndim = 3, dr.shape[1] = 6, dr.shape[2] = D, dr.stride[2] = 1;
    vs_tensor hs = host(sum, 3, gs), *ds = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(ds, VS_F32, VS_CUDA, 3, gs));
    CHECK_OK(poison(ds));
    CHECK_OK(vs_op_add(&hs, &ht, &hr));
    CHECK_OK(vs_op_add(ds, &dt, &dr));
    float *got = vs_test_free_later(to_host(ds));
    CHECK(got && vs_test_rel_l2_f32(got, sum, B * 6 * D) < 1e-6);
    CHECK_OK(vs_op_silu(&hs, &hs));
    CHECK_OK(vs_op_silu(ds, ds));
    got = vs_test_free_later(to_host(ds));
    CHECK(got && vs_test_rel_l2_f32(got, sum, B * 6 * D) < 1e-5);
    printf("  add (broadcast) and silu ok\n");
    return 0;
}

TEST(fill_convert_copy) {
    const int64_t n = 100003;
    float *h = vs_test_malloc(sizeof(float) * (size_t)n);
    vs_tensor ht = host(h, 1, &n), *d32 = vs_test_tensor(), *d16 = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(d32, VS_F32, VS_CUDA, 1, &n));
    CHECK_OK(vs_tensor_alloc(d16, VS_BF16, VS_CUDA, 1, &n));
    CHECK_OK(vs_op_fill_uniform(&ht, 77, -3, 2));
    CHECK_OK(vs_op_fill_uniform(d32, 77, -3, 2));
    float *got = vs_test_free_later(to_host(d32));
    CHECK(got && vs_test_rel_l2_f32(got, h, n) < 1e-7); /* the same numbers on both devices */
    CHECK_OK(vs_op_convert(d16, d32));
    round_to(h, n, VS_BF16);
    got = vs_test_free_later(to_host(d16));
    CHECK(got && vs_test_rel_l2_f32(got, h, n) < 1e-7);
    CHECK_OK(vs_op_copy(d32, &ht));
    CHECK_OK(vs_op_copy(&ht, d32));
    CHECK_OK(vs_op_sync(VS_CUDA));
    /* mixing devices is refused with the argument named */
    CHECK_FAILS(vs_op_convert(&ht, d32), VS_ERR_INVALID_ARG, "dst");
    return 0;
}

/* Page-locked host tensors (the denoising loop's staging buffers): a round trip through the device, then freed. */
TEST(pinned_host_round_trip) {
    const int64_t shape[2] = {3, 40001}, n = shape[0] * shape[1];
    vs_tensor pinned, *d = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc_host_pinned(&pinned, VS_F32, 2, shape));
    CHECK(pinned.owned == 2 && pinned.device == VS_CPU);
    CHECK_OK(vs_op_fill_uniform(&pinned, 5, -1, 1));
    float *want = vs_test_malloc(sizeof(float) * (size_t)n);
    memcpy(want, pinned.data, sizeof(float) * (size_t)n);
    CHECK_OK(vs_tensor_alloc(d, VS_F32, VS_CUDA, 2, shape));
    CHECK_OK(vs_op_copy(d, &pinned));
    for (int64_t i = 0; i < n; i++) ((float *)pinned.data)[i] = NAN; /* poisoned before the copy back */
    CHECK_OK(vs_op_copy(&pinned, d));
    CHECK_OK(vs_op_sync(VS_CUDA));
    CHECK(memcmp(pinned.data, want, sizeof(float) * (size_t)n) == 0);
    vs_tensor_free(&pinned);
    CHECK(pinned.data == NULL);
    CHECK_FAILS(vs_tensor_alloc_host_pinned(&pinned, VS_F32, 1, (int64_t[]){-1}), VS_ERR_INVALID_ARG, "negative");
    return 0;
}

RUN_TESTS(T(unsupported_sizes_are_errors), T(add_broadcast_and_silu), T(fill_convert_copy), T(pinned_host_round_trip))
