/* The ops layer on the CPU: argument checks that name the op and the
 * argument, broadcast strides, deterministic fills, random-weight models. */
#include "check.h"
#include "models/wan/transformer.h"
#include "backend/backend.h"
#include "ops/ops.h"

static void free_wan_model(void *m) { vs_wan_model_free(m); }

static vs_tensor view(float *x, int ndim, const int64_t *shape) { return vs_tensor_view(x, VS_F32, VS_CPU, ndim, shape); }

/* The arithmetic of every op is tests/test_backend_ops.c's; these are the argument checks, which name the op
 * and the argument at fault, and what the table does not reach (broadcast strides, fills' determinism). */

TEST(linear_checks_name_the_op_and_argument) {
    float x[2 * 3] = {0}, w[4 * 3] = {0}, b[4] = {0}, y[2 * 4];
    vs_tensor tx = view(x, 2, (int64_t[]){2, 3}), tw = view(w, 2, (int64_t[]){4, 3}), tb = view(b, 1, (int64_t[]){4});
    vs_tensor ty = view(y, 2, (int64_t[]){2, 4});
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
    CHECK_FAILS(vs_op_linear(&ty, &tx, &tw, NULL, (vs_epilogue)7), VS_ERR_INVALID_ARG, "unknown epilogue");
    return 0;
}

TEST(residual_and_norm_checks) {
    float h[2 * 3] = {0}, w[4 * 3] = {0}, x[2 * 4] = {0}, gate[2 * 4] = {0};
    vs_tensor th = view(h, 3, (int64_t[]){2, 1, 3}), tw = view(w, 2, (int64_t[]){4, 3});
    vs_tensor tx = view(x, 3, (int64_t[]){2, 1, 4});
    vs_tensor bad = view(x, 2, (int64_t[]){2, 3});
    CHECK_FAILS(vs_op_linear_residual(&bad, &th, &tw, NULL, NULL), VS_ERR_SHAPE, "linear_residual: x must be");
    bad = view(gate, 2, (int64_t[]){3, 4});
    CHECK_FAILS(vs_op_linear_residual(&tx, &th, &tw, NULL, &bad), VS_ERR_SHAPE, "batch entries of gate");
    float y[2 * 4], mod[2 * 4] = {0};
    vs_tensor ty = view(y, 3, (int64_t[]){2, 1, 4}), shift = view(mod, 2, (int64_t[]){2, 4});
    CHECK_FAILS(vs_op_layernorm_modulate(&ty, &tx, NULL, NULL, &shift, NULL, 1e-6f), VS_ERR_INVALID_ARG, "both");
    vs_tensor odd = view(mod, 2, (int64_t[]){4, 2});
    CHECK_FAILS(vs_op_layernorm_modulate(&ty, &tx, NULL, NULL, &odd, &odd, 1e-6f), VS_ERR_SHAPE, "shift");
    CHECK_FAILS(vs_op_layernorm_modulate(&ty, &tx, NULL, NULL, NULL, NULL, 0), VS_ERR_INVALID_ARG, "eps");
    float ones[4] = {1, 1, 1, 1}, c[2] = {0, 0};
    vs_tensor tone = view(ones, 1, (int64_t[]){4}), tc = view(c, 2, (int64_t[]){1, 2});
    vs_tensor flat = view(x, 2, (int64_t[]){2, 4});
    CHECK_FAILS(vs_op_qk_norm_rope(&flat, &tone, NULL, &tc, &tc, 3, 1e-6f), VS_ERR_SHAPE, "heads");
    CHECK_FAILS(vs_op_qk_norm_rope(&flat, &tone, NULL, &tc, NULL, 1, 1e-6f), VS_ERR_INVALID_ARG,
                "cos and sin");
    /* LayerNorm of each head (a bias): 2 heads of 2, so tone is [dim] and hw [head_dim] */
    vs_tensor hw = view(ones, 1, (int64_t[]){2}), hw16 = hw;
    hw16.dtype = VS_BF16;
    CHECK_FAILS(vs_op_qk_norm_rope(&flat, NULL, &hw, NULL, NULL, 2, 1e-6f), VS_ERR_INVALID_ARG,
                "a bias (LayerNorm of each head) needs a weight [head_dim]");
    CHECK_FAILS(vs_op_qk_norm_rope(&flat, &tone, &hw, NULL, NULL, 2, 1e-6f), VS_ERR_SHAPE,
                "needs a weight [head_dim], not [dim]");
    CHECK_FAILS(vs_op_qk_norm_rope(&flat, &hw, &tone, NULL, NULL, 2, 1e-6f), VS_ERR_SHAPE,
                "bias must be [head_dim]");
    CHECK_FAILS(vs_op_qk_norm_rope(&flat, &hw, &hw16, NULL, NULL, 2, 1e-6f), VS_ERR_INVALID_ARG,
                "bias is [2] BF16 on cpu, expected F32");
    vs_tensor half = view(x + 1, 2, (int64_t[]){2, 4});
    CHECK_FAILS(vs_op_rmsnorm(&half, &flat, &tone, 1e-6f), VS_ERR_INVALID_ARG, "overlaps");
    return 0;
}

/* CogVideoX's q/k path on the CPU against double precision: LayerNorm of each head (one affine pair for
 * all heads), then RoPE on the video rows only, through views of one tensor as the model calls it. The
 * table of test_backend_ops draws values near zero; here one head sits at 100 (an offset the norm must
 * remove without losing the spread of about 1) and one is constant (variance 0: the output is the bias). */
TEST(qk_layernorm_rope_matches_double_reference) {
    enum { VIDEO = 5, TEXT = 3, T = VIDEO + TEXT, H = 3, D = 64, DIM = H * D };
    static float x[T * DIM], w[D], b[D], cs[VIDEO * D / 2], sn[VIDEO * D / 2];
    static double want[T * DIM];
    for (int i = 0; i < T * DIM; i++) {
        const int head = i % DIM / D;
        x[i] = head == 0 ? sinf(0.37f * (float)i) : head == 1 ? 100.0f + cosf(0.11f * (float)i) : 0.25f;
    }
    for (int i = 0; i < D; i++) w[i] = 0.5f + (float)i / D, b[i] = 0.01f * (float)(i - D / 2);
    for (int i = 0; i < VIDEO * D / 2; i++) cs[i] = cosf(0.05f * (float)i), sn[i] = sinf(0.05f * (float)i);
    for (int r = 0; r < T; r++)
        for (int h = 0; h < H; h++) {
            const float *v = x + r * DIM + h * D;
            double *o = want + r * DIM + h * D, mean = 0, var = 0;
            for (int i = 0; i < D; i++) mean += v[i];
            mean /= D;
            for (int i = 0; i < D; i++) var += (v[i] - mean) * (v[i] - mean);
            var /= D;
            for (int i = 0; i < D; i++) o[i] = (v[i] - mean) / sqrt(var + 1e-6) * w[i] + b[i];
            for (int j = 0; r < VIDEO && j < D / 2; j++) {
                const double c = cs[r * D / 2 + j], s = sn[r * D / 2 + j], p = o[2 * j], q = o[2 * j + 1];
                o[2 * j] = p * c - q * s, o[2 * j + 1] = p * s + q * c;
            }
        }
    vs_tensor video = view(x, 3, (int64_t[]){1, VIDEO, DIM});
    vs_tensor text = view(x + VIDEO * DIM, 3, (int64_t[]){1, TEXT, DIM});
    vs_tensor tw = view(w, 1, (int64_t[]){D}), tb = view(b, 1, (int64_t[]){D});
    vs_tensor tc = view(cs, 2, (int64_t[]){VIDEO, D / 2}), ts = view(sn, 2, (int64_t[]){VIDEO, D / 2});
    CHECK_OK(vs_op_qk_norm_rope(&video, &tw, &tb, &tc, &ts, H, 1e-6f));
    CHECK_OK(vs_op_qk_norm_rope(&text, &tw, &tb, NULL, NULL, H, 1e-6f));
    double worst = 0;
    for (int i = 0; i < T * DIM; i++) worst = fmax(worst, fabs(x[i] - want[i]));
    CHECK_MSG(worst < 2e-5, "max error %g", worst);
    CHECK(x[VIDEO * DIM + 2 * D + 5] == b[5]); /* a constant head of a text row: exactly its bias */
    return 0;
}

/* add reads its operands through their strides: a [2, 4] table broadcast over a batch of 2, plus a [2, 4]
 * table whose rows each repeat twice. */
TEST(add_reads_broadcast_strides) {
    float table[8] = {0, 1, 2, 3, 4, 5, 6, 7}, g[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[16];
    vs_tensor tt = view(table, 3, (int64_t[]){2, 2, 4}), tr = view(g, 3, (int64_t[]){2, 2, 4});
    tt.stride[0] = 0, tr.stride[0] = 4, tr.stride[1] = 0;
    vs_tensor to = view(out, 3, (int64_t[]){2, 2, 4});
    CHECK_OK(vs_op_add(&to, &tt, &tr));
    CHECK(out[0] == 1 && out[5] == 7 && out[8] == 5 && out[15] == 15);
    return 0;
}

TEST(patch_checks_and_fills) {
    enum { F = 2, H = 4, W = 6, N = F * H * W };
    float lat[N] = {0}, patches[N];
    const int p[3] = {1, 2, 2};
    vs_tensor tp = view(patches, 3, (int64_t[]){1, N / 4, 4});
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
    if (!vs_backend_for(VS_CUDA)) { /* a build without CUDA says so */
        vs_tensor fake = ta;
        fake.device = VS_CUDA;
        CHECK_FAILS(vs_op_fill_uniform(&fake, 3, 0, 1), VS_ERR_UNSUPPORTED, "no CUDA support");
    }
    return 0;
}

/* The VAE ops check their images in the backend's layout (channel-first on the CPU). */
TEST(vae_op_checks) {
    float x[2 * 8 * 3 * 3] = {0}, y[2 * 8 * 6 * 6], w[8 * 8 * 9] = {0}, g[8] = {0};
    vs_tensor tx = view(x, 4, (int64_t[]){2, 8, 3, 3}), ty = view(y, 4, (int64_t[]){2, 8, 6, 6});
    vs_tensor tw = view(w, 5, (int64_t[]){8, 8, 1, 3, 3}), tg = view(g, 1, (int64_t[]){8});
    const vs_tensor *taps[1] = {&tx};
    CHECK_FAILS(vs_op_conv_frames(&ty, taps, 1, &tw, NULL), VS_ERR_SHAPE, "each tap");
    CHECK_FAILS(vs_op_conv_frames(&tx, taps, 1, &tx, NULL), VS_ERR_SHAPE, "weight must be [Cout, Cin, kt, kh, kw]");
    CHECK_FAILS(vs_op_conv_frames(&tx, taps, 0, &tw, NULL), VS_ERR_INVALID_ARG, "time taps");
    vs_tensor even = view(w, 5, (int64_t[]){8, 8, 1, 2, 2});
    CHECK_FAILS(vs_op_conv_frames(&tx, taps, 1, &even, NULL), VS_ERR_SHAPE, "odd kh and kw");
    CHECK_FAILS(vs_op_vae_rmsnorm(&tx, &tx, &tw, NULL, 1, 0), VS_ERR_SHAPE, "gamma must be [8]");
    CHECK_OK(vs_op_vae_rmsnorm(&tx, &tx, &tg, NULL, 1, 0));
    CHECK_FAILS(vs_op_upsample2x(&ty, &tx, 1), VS_ERR_SHAPE, "twice x's frames");
    CHECK_OK(vs_op_upsample2x(&ty, &tx, 0));
    CHECK_FAILS(vs_op_bias_residual(&ty, &tg, &tx), VS_ERR_SHAPE, "res and y differ");
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
    vs_test_defer(free_wan_model, m);
    CHECK_OK(vs_wan_model_random(&c, VS_CPU, 2, &m2));
    vs_test_defer(free_wan_model, m2);
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
    return 0;
}

RUN_TESTS(T(linear_checks_name_the_op_and_argument), T(residual_and_norm_checks),
          T(qk_layernorm_rope_matches_double_reference), T(add_reads_broadcast_strides),
          T(patch_checks_and_fills), T(vae_op_checks), T(copy_rows_between_strided_views),
          T(random_model_forward_is_deterministic))
