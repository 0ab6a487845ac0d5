#include "check.h"
#include "core/dtype.h"
#include "core/status.h"

TEST(error_messages_are_kept_per_call) {
    vs_status s = vs_fail(VS_ERR_SHAPE, "q has %d heads, k has %d", 12, 8);
    CHECK(s == VS_ERR_SHAPE);
    CHECK(strcmp(vs_last_error(), "q has 12 heads, k has 8") == 0);
    vs_fail_context(s, "layer %d", 3);
    CHECK(strcmp(vs_last_error(), "layer 3: q has 12 heads, k has 8") == 0);
    return 0;
}

TEST(half_precision_round_trips) {
    const float values[] = {0.0f, 1.0f, -2.5f, 3.140625f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, -1e-3f};
    for (int i = 0; i < 8; i++) {
        CHECK(vs_f16_to_f32(vs_f32_to_f16(values[i])) == values[i] || fabsf(values[i]) < 1e-7f ||
              fabsf(vs_f16_to_f32(vs_f32_to_f16(values[i])) - values[i]) <= fabsf(values[i]) * 1e-3f);
    }
    CHECK(vs_f32_to_f16(1.0f) == 0x3c00);
    CHECK(vs_f32_to_f16(-2.0f) == 0xc000);
    CHECK(vs_f32_to_f16(1e6f) == 0x7c00);
    CHECK(vs_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(vs_bf16_to_f32(0x4049) == 3.140625f);
    CHECK(vs_f8e4m3_to_f32(vs_f32_to_f8e4m3(448.0f)) == 448.0f);
    CHECK(vs_f8e4m3_to_f32(vs_f32_to_f8e4m3(1000.0f)) == 448.0f);
    CHECK(vs_f8e4m3_to_f32(vs_f32_to_f8e4m3(0.5f)) == 0.5f);
    CHECK(vs_f8e4m3_to_f32(vs_f32_to_f8e4m3(-0.0625f)) == -0.0625f);
    return 0;
}

TEST(every_f16_value_round_trips_through_f32) {
    for (unsigned h = 0; h < 65536; h++) {
        float f = vs_f16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        CHECK_MSG(vs_f32_to_f16(f) == h, "0x%04x -> %g -> 0x%04x", h, f, vs_f32_to_f16(f));
    }
    return 0;
}

TEST(bf16_rounds_to_nearest_even) {
    /* 1 + 2^-8 is exactly between two bf16 values: ties go to the even one (1.0). */
    CHECK(vs_f32_to_bf16(1.00390625f) == 0x3f80);
    CHECK(vs_f32_to_bf16(1.01171875f) == 0x3f82);
    return 0;
}

TEST(tensor_alloc_and_views) {
    vs_tensor *t = vs_test_tensor();
    int64_t shape[3] = {2, 3, 4};
    CHECK_OK(vs_tensor_alloc(t, VS_BF16, VS_CPU, 3, shape));
    CHECK(vs_tensor_numel(t) == 24);
    CHECK(t->stride[0] == 12 && t->stride[1] == 4 && t->stride[2] == 1);
    CHECK(vs_tensor_is_contiguous(t));
    vs_tensor_free(t);
    CHECK(t->data == NULL);
    int64_t bad[2] = {4, -1};
    CHECK_FAILS(vs_tensor_alloc(t, VS_F32, VS_CPU, 2, bad), VS_ERR_INVALID_ARG, "negative");
    CHECK_FAILS(vs_tensor_alloc(t, VS_F32, VS_CPU, 6, shape), VS_ERR_INVALID_ARG, "rank");
    return 0;
}

RUN_TESTS(T(error_messages_are_kept_per_call), T(half_precision_round_trips),
          T(every_f16_value_round_trips_through_f32), T(bf16_rounds_to_nearest_even),
          T(tensor_alloc_and_views))
