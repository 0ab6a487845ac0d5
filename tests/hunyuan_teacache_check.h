/* HunyuanVideo's TeaCache signal, the first block's modulated input of the video tokens, against diffusers'
 * transformer_blocks[0].norm1 on the batch-of-2 fixture (tools/make_hunyuan_teacache_fixture.py), through the
 * family's dit_teacache, on the CPU (tests/test_cache.c) or the GPU (tests/gpu/test_cache_cuda.c); the tiny
 * model has no published fit. */
#ifndef VS_TEST_HUNYUAN_TEACACHE_CHECK_H
#define VS_TEST_HUNYUAN_TEACACHE_CHECK_H

#include <math.h>

#include "hunyuan_fixture.h"
#include "ops/ops.h"

static inline void hunyuan_teacache_free_model(void *m) { vs_hunyuan_model_free(m); }

/* Relative L2 distance of got from want (same count); infinite when got has a value that is not finite. */
static inline double hunyuan_teacache_rel_l2(const vs_tensor *got, const vs_tensor *want) {
    double diff = 0, norm = 0;
    for (int64_t i = 0; i < vs_tensor_numel(want); i++) {
        const double a = ((float *)got->data)[i], b = ((float *)want->data)[i];
        if (!isfinite(a)) return INFINITY;
        diff += (a - b) * (a - b), norm += b * b;
    }
    return sqrt(diff / norm);
}

/* A host f32 copy of a signal (the family leaves it on the model's device, in its activation dtype), freed
 * after the test; NULL on failure. */
static inline vs_tensor *hunyuan_teacache_host(const vs_tensor *signal) {
    if (signal->device == VS_CPU && signal->dtype == VS_F32) return (vs_tensor *)signal;
    vs_tensor *f32 = vs_test_tensor(), *host = vs_test_tensor();
    if (vs_tensor_alloc(f32, VS_F32, signal->device, signal->ndim, signal->shape) != VS_OK ||
        vs_op_convert(f32, signal) != VS_OK ||
        vs_tensor_alloc(host, VS_F32, VS_CPU, signal->ndim, signal->shape) != VS_OK || vs_op_copy(host, f32) != VS_OK)
        return NULL;
    return host;
}

/* sum |a - b| / sum |b| in double on host f32 tensors: vs_op_rel_l1's reference. */
static inline double hunyuan_teacache_rel_l1(const vs_tensor *a, const vs_tensor *b) {
    double diff = 0, norm = 0;
    for (int64_t i = 0; i < vs_tensor_numel(a); i++) {
        const double x = ((float *)a->data)[i], r = ((float *)b->data)[i];
        diff += fabs(x - r), norm += fabs(r);
    }
    return diff / norm;
}

/* 0 when the signal on `device` is within relative L2 `tol` of diffusers' f32 values, and its change between
 * two timesteps reduced where it lies (vs_op_rel_l1, what the step cache does) matches the host's; else 1. */
static inline int check_hunyuan_teacache(vs_device device, double tol) {
    vs_hunyuan_model *m = NULL;
    CHECK_OK(vs_hunyuan_model_load("tests/data/hunyuan/tiny_hd64", device, &m));
    vs_test_defer(hunyuan_teacache_free_model, m);
    hunyuan_fixture fx;
    if (hunyuan_fixture_open("tests/data/hunyuan/forward_b2.safetensors", &fx)) return 1;
    vs_safetensors *st = NULL;
    CHECK_OK(vs_safetensors_open(&st, "tests/data/hunyuan/teacache_b2.safetensors"));
    vs_test_defer(hunyuan_fixture_close, st);
    vs_tensor *want = hunyuan_fixture_tensor(st, "signal");
    CHECK(want && want->ndim == 3 && want->shape[0] == 2);
    const vs_dit_input in = {fx.latents, fx.timesteps->data, fx.text, fx.mask, fx.pooled, 0, 1, fx.guidance->data};
    vs_tensor *got = vs_test_tensor();
    CHECK_OK(vs_hunyuan_dit_teacache(m, &in, got, NULL));
    CHECK(got->ndim == 1 && got->shape[0] == vs_tensor_numel(want));
    CHECK(got->device == device);
    vs_tensor *got_host = hunyuan_teacache_host(got);
    CHECK(got_host);
    const double err = hunyuan_teacache_rel_l2(got_host, want);
    printf("  HunyuanVideo TeaCache signal on the %s: relative L2 %.2e against diffusers\n",
           device == VS_CPU ? "CPU" : "GPU", err);
    CHECK_MSG(err < tol, "relative L2 %.3g", err);
    /* again after a forward, in the forward's arena (the loop's case from its second step on) */
    vs_tensor *out = vs_test_tensor(), *again = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(out, VS_F32, VS_CPU, 5, fx.output->shape));
    const vs_hunyuan_input forward_in = hunyuan_fixture_input(&fx);
    CHECK_OK(vs_hunyuan_forward(m, &forward_in, out, NULL));
    CHECK_OK(vs_hunyuan_dit_teacache(m, &in, again, NULL));
    vs_tensor *again_host = hunyuan_teacache_host(again);
    CHECK(again_host);
    CHECK_MSG(hunyuan_teacache_rel_l2(again_host, want) < tol, "after a forward: relative L2 %.3g",
              hunyuan_teacache_rel_l2(again_host, want));
    /* the next step's signal (timesteps 0.8 x the fixture's) and its change from this one */
    const int64_t B = fx.timesteps->shape[0];
    float later_t[8];
    CHECK(B <= 8);
    for (int64_t b = 0; b < B; b++) later_t[b] = 0.8f * ((const float *)fx.timesteps->data)[b];
    vs_dit_input later = in;
    later.timesteps = later_t;
    vs_tensor *next = vs_test_tensor();
    CHECK_OK(vs_hunyuan_dit_teacache(m, &later, next, NULL));
    vs_tensor *next_host = hunyuan_teacache_host(next);
    CHECK(next_host);
    double change;
    CHECK_OK(vs_op_rel_l1(next, got, &change));
    const double want_change = hunyuan_teacache_rel_l1(next_host, got_host);
    printf("  relative L1 change of the signal over a step: %.6e (%s), %.6e (host, double)\n", change,
           device == VS_CPU ? "CPU" : "GPU", want_change);
    CHECK_MSG(want_change > 1e-3 && fabs(change - want_change) <= 1e-4 * want_change,
              "relative L1 change %.9g, host %.9g", change, want_change);
    vs_teacache_fit fit;
    CHECK_FAILS(vs_hunyuan_dit_teacache(m, &in, NULL, &fit), VS_ERR_UNSUPPORTED,
                "teacache has published coefficients for HunyuanVideo T2V (dim 3072, 20 + 40 layers) only, not for "
                "this HunyuanVideo DiT (dim 64");
    const vs_dit_input no_latents = {.timesteps = fx.timesteps->data};
    CHECK_FAILS(vs_hunyuan_dit_teacache(m, &no_latents, got, NULL), VS_ERR_INVALID_ARG, "needs the latents");
    return 0;
}

#endif
