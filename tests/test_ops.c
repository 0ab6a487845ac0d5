/* The ops layer on the CPU: semantics of the model ops, argument checks that
 * name the op and the argument, deterministic fills, random-weight models. */
#include "check.h"
#include "models/wan/transformer.h"
#include "ops/ops.h"

static vs_tensor view(float *x, int ndim, const int64_t *shape) { return vs_tensor_view(x, VS_F32, VS_CPU, ndim, shape); }

TEST(linear_and_its_checks) {
    float x[2 * 3] = {1, 2, 3, -1, 0, 2}, w[4 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}, b[4] = {0.5f, 0, 0, -1};
    float y[2 * 4];
    vs_tensor tx = view(x, 2, (int64_t[]){2, 3}), tw = view(w, 2, (int64_t[]){4, 3}), tb = view(b, 1, (int64_t[]){4});
    vs_tensor ty = view(y, 2, (int64_t[]){2, 4});
    CHECK_OK(vs_op_linear(&ty, &tx, &tw, &tb, VS_EPILOGUE_NONE));
    const float want[8] = {1.5f, 2, 3, 5, -0.5f, 0, 2, 0};
    for (int i = 0; i < 8; i++) CHECK_MSG(fabsf(y[i] - want[i]) < 1e-6f, "y[%d] = %g", i, y[i]);
    CHECK_OK(vs_op_linear(&ty, &tx, &tw, &tb, VS_EPILOGUE_GELU_TANH));
    CHECK(fabsf(y[3] - 5.0f) < 1e-4f && fabsf(y[4] + 0.1543f) < 1e-3f);
    vs_tensor bad = view(y, 2, (int64_t[]){2, 3});
    CHECK_FAILS(vs_op_linear(&bad, &tx, &tw, &tb, VS_EPILOGUE_NONE), VS_ERR_SHAPE, "linear: y must be");
    bad = view(x, 2, (int64_t[]){3, 2});
    CHECK_FAILS(vs_op_linear(&ty, &bad, &tw, &tb, VS_EPILOGUE_NONE), VS_ERR_SHAPE, "input size");
    bad = view(b, 1, (int64_t[]){3});
    CHECK_FAILS(vs_op_linear(&ty, &tx, &tw, &bad, VS_EPILOGUE_NONE), VS_ERR_SHAPE, "bias");
    bad = tw;
    bad.dtype = VS_BF16;
    CHECK_FAILS(vs_op_linear(&ty, &tx, &bad, NULL, VS_EPILOGUE_NONE), VS_ERR_INVALID_ARG, "weight is [4, 3] BF16 on cpu");
    CHECK_FAILS(vs_op_linear(&ty, &tx, NULL, NULL, VS_EPILOGUE_NONE), VS_ERR_INVALID_ARG, "weight is missing");
    return 0;
}

/* x += gate * (h W^T + b), one gate row per batch entry, as the formula says; shape errors name the op. */
TEST(linear_residual_matches_the_formula) {
    float h[2 * 3] = {1, 2, 3, -1, 0, 2}, w[4 * 3] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1}, b[4] = {0.5f, 0, 0, -1};
    float x[2 * 4] = {1, 1, 1, 1, 0, 0, 0, 0}, gate[2 * 4] = {1, 2, 0, -1, 0.5f, 0.5f, 0.5f, 0.5f};
    vs_tensor th = view(h, 3, (int64_t[]){2, 1, 3}), tw = view(w, 2, (int64_t[]){4, 3}), tb = view(b, 1, (int64_t[]){4});
    vs_tensor tx = view(x, 3, (int64_t[]){2, 1, 4}), tg = view(gate, 2, (int64_t[]){2, 4});
    CHECK_OK(vs_op_linear_residual(&tx, &th, &tw, &tb, &tg));
    const float want[8] = {1 + 1.5f, 1 + 4, 1, 1 - 5, -0.25f, 0, 1, 0};
    for (int i = 0; i < 8; i++) CHECK_MSG(fabsf(x[i] - want[i]) < 1e-6f, "x[%d] = %g", i, x[i]);
    CHECK_OK(vs_op_linear_residual(&tx, &th, &tw, NULL, NULL));
    CHECK(fabsf(x[3] - (-4 + 6)) < 1e-6f && fabsf(x[4] - (-0.25f - 1)) < 1e-6f);
    vs_tensor bad = view(x, 2, (int64_t[]){2, 3});
    CHECK_FAILS(vs_op_linear_residual(&bad, &th, &tw, NULL, NULL), VS_ERR_SHAPE, "linear_residual: x must be");
    bad = view(gate, 2, (int64_t[]){3, 4});
    CHECK_FAILS(vs_op_linear_residual(&tx, &th, &tw, NULL, &bad), VS_ERR_SHAPE, "batch entries of gate");
    return 0;
}

TEST(layernorm_modulate_matches_the_formula) {
    enum { B = 2, N = 3, D = 4 };
    float x[B * N * D], y[B * N * D], mod[B * 6 * D];
    unsigned long long rng = 5;
    for (int i = 0; i < B * N * D; i++) x[i] = (float)vs_test_uniform(&rng) * 4 - 1;
    for (int i = 0; i < B * 6 * D; i++) mod[i] = (float)vs_test_uniform(&rng) - 0.5f;
    vs_tensor tx = view(x, 3, (int64_t[]){B, N, D}), ty = view(y, 3, (int64_t[]){B, N, D});
    vs_tensor shift = view(mod, 2, (int64_t[]){B, D}), scale = view(mod + D, 2, (int64_t[]){B, D});
    shift.stride[0] = scale.stride[0] = 6 * D;
    CHECK_OK(vs_op_layernorm_modulate(&ty, &tx, NULL, NULL, &shift, &scale, 1e-6f));
    for (int r = 0; r < B * N; r++) {
        double mean = 0, var = 0;
        for (int i = 0; i < D; i++) mean += x[r * D + i] / (double)D;
        for (int i = 0; i < D; i++) var += (x[r * D + i] - mean) * (x[r * D + i] - mean) / D;
        const float *sh = mod + r / N * 6 * D, *sc = sh + D;
        for (int i = 0; i < D; i++) {
            double want = (x[r * D + i] - mean) / sqrt(var + 1e-6) * (1 + sc[i]) + sh[i];
            CHECK_MSG(fabs(y[r * D + i] - want) < 1e-5, "row %d col %d: %g vs %g", r, i, y[r * D + i], want);
        }
    }
    CHECK_FAILS(vs_op_layernorm_modulate(&ty, &tx, NULL, NULL, &shift, NULL, 1e-6f), VS_ERR_INVALID_ARG, "both");
    vs_tensor odd = view(mod, 2, (int64_t[]){4, D});
    CHECK_FAILS(vs_op_layernorm_modulate(&ty, &tx, NULL, NULL, &odd, &odd, 1e-6f), VS_ERR_SHAPE, "batch entries");
    return 0;
}

TEST(rmsnorm_rope_gated_residual_add) {
    /* RoPE by a quarter turn maps each pair (a, b) to (-b, a). */
    float x[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8}, w[4] = {1, 1, 1, 1}, c[2] = {0, 0}, s[2] = {1, 1};
    vs_tensor tx = view(x, 2, (int64_t[]){2, 4}), tw = view(w, 1, (int64_t[]){4});
    vs_tensor tc = view(c, 2, (int64_t[]){1, 2}), ts = view(s, 2, (int64_t[]){1, 2});
    CHECK_OK(vs_op_rmsnorm_rope(&tx, &tw, &tc, &ts, 1, 1e-12f));
    const float r0 = 1.0f / sqrtf(7.5f);
    CHECK(fabsf(x[0] + 2 * r0) < 1e-6f && fabsf(x[1] - 1 * r0) < 1e-6f && fabsf(x[2] + 4 * r0) < 1e-6f);
    CHECK_FAILS(vs_op_rmsnorm_rope(&tx, &tw, &tc, &ts, 3, 1e-6f), VS_ERR_SHAPE, "heads");
    float acc[2 * 4] = {0}, g[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8}, y[2 * 4] = {1, 1, 1, 1, 2, 2, 2, 2};
    vs_tensor ta = view(acc, 3, (int64_t[]){2, 1, 4}), ty = view(y, 3, (int64_t[]){2, 1, 4});
    vs_tensor tg = view(g, 2, (int64_t[]){2, 4});
    CHECK_OK(vs_op_gated_residual(&ta, &ty, &tg));
    CHECK_OK(vs_op_gated_residual(&ta, &ty, NULL));
    CHECK(acc[0] == 2 && acc[7] == 18);
    /* add: a [1, 2, 4] table broadcast over a batch of 2, plus a [2, 4] row repeated twice */
    float table[8] = {0, 1, 2, 3, 4, 5, 6, 7}, out[16];
    vs_tensor tt = view(table, 3, (int64_t[]){2, 2, 4}), tr = view(g, 3, (int64_t[]){2, 2, 4});
    tt.stride[0] = 0, tr.stride[0] = 4, tr.stride[1] = 0;
    vs_tensor to = view(out, 3, (int64_t[]){2, 2, 4});
    CHECK_OK(vs_op_add(&to, &tt, &tr));
    CHECK(out[0] == 1 && out[5] == 7 && out[8] == 5 && out[15] == 15);
    return 0;
}

TEST(patches_round_trip_and_fills) {
    /* With one channel the patch orders (c,t,h,w) and (t,h,w,c) agree, so unpatchify inverts patchify. */
    enum { F = 2, H = 4, W = 6, N = F * H * W };
    float lat[N], patches[N], back[N];
    for (int i = 0; i < N; i++) lat[i] = (float)i;
    const int p[3] = {1, 2, 2};
    vs_tensor tl = view(lat, 5, (int64_t[]){1, 1, F, H, W}), tp = view(patches, 3, (int64_t[]){1, N / 4, 4});
    vs_tensor tb = view(back, 5, (int64_t[]){1, 1, F, H, W});
    CHECK_OK(vs_op_patchify(&tp, &tl, p));
    CHECK(patches[0] == 0 && patches[1] == 1 && patches[2] == W && patches[3] == W + 1 && patches[4] == 2);
    CHECK_OK(vs_op_unpatchify(&tb, &tp, p));
    CHECK(!memcmp(lat, back, sizeof lat));
    vs_tensor bad = view(lat, 5, (int64_t[]){1, 1, F, H, W - 1});
    CHECK_FAILS(vs_op_patchify(&tp, &bad, p), VS_ERR_SHAPE, "not a multiple of the patch");

    float a[1000], b[1000];
    vs_tensor ta = view(a, 1, (int64_t[]){1000}), tb2 = view(b, 1, (int64_t[]){1000});
    CHECK_OK(vs_op_fill_uniform(&ta, 3, -2, 1));
    CHECK_OK(vs_op_fill_uniform(&tb2, 3, -2, 1));
    CHECK(!memcmp(a, b, sizeof a));
    double mean = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK(a[i] >= -2 && a[i] < 1);
        mean += a[i] / 1000;
    }
    CHECK(fabs(mean + 0.5) < 0.1);
    CHECK_OK(vs_op_fill_uniform(&tb2, 4, -2, 1));
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK_FAILS(vs_op_fill_uniform(&ta, 3, 1, -1), VS_ERR_INVALID_ARG, "range");
#if !VS_HAVE_CUDA
    vs_tensor fake = ta;
    fake.device = VS_CUDA;
    CHECK_FAILS(vs_op_fill_uniform(&fake, 3, 0, 1), VS_ERR_UNSUPPORTED, "no CUDA support");
#endif
    return 0;
}

/* Rows of a strided view into another: copied rows match, gaps between them stay. */
TEST(copy_rows_between_strided_views) {
    float src[7 * 11], dst[7 * 9];
    for (int i = 0; i < 7 * 11; i++) src[i] = (float)(i * 37 % 101) - 50.5f;
    for (int i = 0; i < 7 * 9; i++) dst[i] = NAN;
    vs_tensor s = view(src + 2, 2, (int64_t[]){7, 6}), d = view(dst + 1, 2, (int64_t[]){7, 6});
    s.stride[0] = 11, d.stride[0] = 9;
    CHECK_OK(vs_op_copy_rows(&d, &s));
    for (int r = 0; r < 7; r++)
        for (int c = 0; c < 9; c++) {
            if (c >= 1 && c < 7) CHECK(dst[r * 9 + c] == src[r * 11 + 2 + c - 1]);
            else CHECK(isnan(dst[r * 9 + c]));
        }
    d.stride[0] = 5;
    CHECK_FAILS(vs_op_copy_rows(&d, &s), VS_ERR_SHAPE, "dst needs contiguous rows");
    vs_tensor flat = view(dst, 1, (int64_t[]){6});
    CHECK_FAILS(vs_op_copy_rows(&flat, &s), VS_ERR_SHAPE, "two [rows, cols] views");
    return 0;
}

TEST(random_model_forward_is_deterministic) {
    vs_wan_config c;
    memset(&c, 0, sizeof c);
    c.patch_size[0] = 1, c.patch_size[1] = 2, c.patch_size[2] = 2;
    c.num_heads = 2, c.head_dim = 64, c.dim = 128, c.in_channels = c.out_channels = 16, c.text_dim = 24;
    c.freq_dim = 32, c.ffn_dim = 96, c.num_layers = 2, c.cross_attn_norm = 1, c.eps = 1e-6f, c.rope_max_seq_len = 64;
    vs_wan_model *m = NULL, *m2 = NULL;
    CHECK_OK(vs_wan_model_random(&c, VS_CPU, 1, &m));
    CHECK_OK(vs_wan_model_random(&c, VS_CPU, 2, &m2));
    enum { N = 16 * 3 * 4 * 4 };
    static float lat[N], out[N], out2[N], text[5 * 24];
    for (int i = 0; i < N; i++) lat[i] = sinf((float)i);
    for (int i = 0; i < 5 * 24; i++) text[i] = cosf((float)i);
    vs_tensor tl = view(lat, 5, (int64_t[]){1, 16, 3, 4, 4}), tt = view(text, 3, (int64_t[]){1, 5, 24});
    vs_tensor to = view(out, 5, (int64_t[]){1, 16, 3, 4, 4}), to2 = view(out2, 5, (int64_t[]){1, 16, 3, 4, 4});
    float t = 400;
    CHECK_OK(vs_wan_forward(m, &tl, &t, &tt, 0, 1, &to, NULL));
    for (int i = 0; i < N; i++) CHECK(isfinite(out[i]));
    CHECK_OK(vs_wan_forward(m, &tl, &t, &tt, 0, 1, &to2, NULL));
    CHECK(!memcmp(out, out2, sizeof out));
    CHECK_OK(vs_wan_forward(m2, &tl, &t, &tt, 0, 1, &to2, NULL));
    CHECK(memcmp(out, out2, sizeof out) != 0);
    /* a second shape reuses the cache (arena regrown, RoPE tables rebuilt) */
    vs_tensor tl2 = view(lat, 5, (int64_t[]){1, 16, 2, 4, 6}), to3 = view(out2, 5, (int64_t[]){1, 16, 2, 4, 6});
    CHECK_OK(vs_wan_forward(m, &tl2, &t, &tt, 0, 1, &to3, NULL));
    CHECK_OK(vs_wan_forward(m, &tl, &t, &tt, 0, 1, &to2, NULL));
    CHECK(!memcmp(out, out2, sizeof out));
    vs_wan_model_free(m);
    vs_wan_model_free(m2);
    return 0;
}

RUN_TESTS(T(linear_and_its_checks), T(linear_residual_matches_the_formula), T(copy_rows_between_strided_views), T(layernorm_modulate_matches_the_formula), T(rmsnorm_rope_gated_residual_add),
          T(patches_round_trip_and_fills), T(random_model_forward_is_deterministic))
