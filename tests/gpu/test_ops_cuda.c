/* Every CUDA model op against the CPU op on fresh random inputs (rounded to
 * what the GPU stores, so both see the same values), sizes that are not
 * multiples of the kernels' tiles, and NaN-poisoned outputs. Tolerances: bf16
 * outputs about 1e-2 relative L2 (8 mantissa bits), f32 outputs 1e-5. */
#include <string.h>

#include "check.h"
#include "models/wan/transformer.h"
#include "ops/ops.h"
#include "tensor_util.h"

static unsigned long long rng = 0x243f6a8885a308d3ULL;

static vs_tensor host(float *x, int ndim, const int64_t *shape) { return vs_tensor_view(x, VS_F32, VS_CPU, ndim, shape); }

/* Runs y = x W^T + b on both devices; x and W in `dtype` on the GPU. */
static int linear_case(int64_t rows, int64_t in, int64_t out, int with_bias, vs_epilogue ep, vs_dtype x_dtype,
                       vs_dtype w_dtype) {
    float *x = random_array(&rng, rows * in, -1, 1), *w = random_array(&rng, out * in, -0.2f, 0.2f);
    float *b = random_array(&rng, out, -0.5f, 0.5f), *y = malloc(sizeof(float) * (size_t)(rows * out));
    round_to(x, rows * in, x_dtype), round_to(w, out * in, w_dtype), round_to(b, out, w_dtype);
    const int64_t xs[2] = {rows, in}, ws[2] = {out, in}, ys[2] = {rows, out};
    vs_tensor hx = host(x, 2, xs), hw = host(w, 2, ws), hb = host(b, 1, &out), hy = host(y, 2, ys);
    CHECK_OK(vs_op_linear(&hy, &hx, &hw, with_bias ? &hb : NULL, ep));
    vs_tensor dx, dw, db, dy;
    CHECK_OK(to_device(&dx, x, x_dtype, 2, xs));
    CHECK_OK(to_device(&dw, w, w_dtype, 2, ws));
    CHECK_OK(to_device(&db, b, w_dtype, 1, &out));
    CHECK_OK(vs_tensor_alloc(&dy, x_dtype, VS_CUDA, 2, ys));
    CHECK_OK(poison(&dy));
    CHECK_OK(vs_op_linear(&dy, &dx, &dw, with_bias ? &db : NULL, ep));
    float *got = to_host(&dy);
    CHECK(got);
    const double err = rel_err(got, y, rows * out), tol = x_dtype == VS_BF16 ? 1e-2 : 1e-5;
    printf("  linear %s x, %s W [%lld x %lld] -> %lld%s%s: rel L2 %.2e\n", vs_dtype_name(x_dtype),
           vs_dtype_name(w_dtype), (long long)rows, (long long)in, (long long)out, with_bias ? " +bias" : "",
           ep == VS_EPILOGUE_GELU_TANH ? " gelu" : "", err);
    CHECK_MSG(err < tol, "rel L2 %g", err);
    free(x), free(w), free(b), free(y), free(got);
    vs_tensor_free(&dx), vs_tensor_free(&dw), vs_tensor_free(&db), vs_tensor_free(&dy);
    return 0;
}

TEST(linear_bf16_cublaslt) {
    CHECK(!linear_case(77, 136, 200, 1, VS_EPILOGUE_NONE, VS_BF16, VS_BF16));
    CHECK(!linear_case(77, 136, 200, 1, VS_EPILOGUE_GELU_TANH, VS_BF16, VS_BF16));
    CHECK(!linear_case(1, 4096, 1544, 0, VS_EPILOGUE_NONE, VS_BF16, VS_BF16));
    CHECK(!linear_case(3001, 64, 24, 1, VS_EPILOGUE_GELU_TANH, VS_BF16, VS_BF16));
    /* rows that are not 16-byte multiples: a pixel-space patch of 12 values, in and out */
    CHECK(!linear_case(1000, 128, 12, 1, VS_EPILOGUE_NONE, VS_BF16, VS_BF16));
    CHECK(!linear_case(999, 12, 128, 1, VS_EPILOGUE_GELU_TANH, VS_BF16, VS_BF16));
    return 0;
}

TEST(linear_f32_few_rows) {
    CHECK(!linear_case(2, 264, 1000, 1, VS_EPILOGUE_NONE, VS_F32, VS_BF16));
    CHECK(!linear_case(11, 256, 136, 1, VS_EPILOGUE_GELU_TANH, VS_F32, VS_F32));
    CHECK(!linear_case(9, 8, 5, 0, VS_EPILOGUE_NONE, VS_F32, VS_F32));
    return 0;
}

/* x += gate * (h W^T + b) on both devices, x [B, N, out] F32 random, the gate a view into a [B, 6, out]
 * table (a different gate per batch entry); compared on the increment, which both accumulate in f32. */
static int linear_residual_case(int64_t B, int64_t N, int64_t in, int64_t out, int with_bias, int gated) {
    const int64_t rows = B * N, xs[3] = {B, N, out}, hs[3] = {B, N, in}, ws[2] = {out, in}, gs[3] = {B, 6, out};
    float *x = random_array(&rng, rows * out, -1, 1), *h = random_array(&rng, rows * in, -1, 1);
    float *w = random_array(&rng, out * in, -0.2f, 0.2f), *b = random_array(&rng, out, -0.5f, 0.5f);
    float *g = random_array(&rng, B * 6 * out, -1, 1), *x0 = malloc(sizeof(float) * (size_t)(rows * out));
    round_to(h, rows * in, VS_BF16), round_to(w, out * in, VS_BF16), round_to(b, out, VS_BF16);
    memcpy(x0, x, sizeof(float) * (size_t)(rows * out));
    vs_tensor dx, dh, dw, db, dg;
    CHECK_OK(to_device(&dx, x, VS_F32, 3, xs));
    CHECK_OK(to_device(&dh, h, VS_BF16, 3, hs));
    CHECK_OK(to_device(&dw, w, VS_BF16, 2, ws));
    CHECK_OK(to_device(&db, b, VS_BF16, 1, &out));
    CHECK_OK(to_device(&dg, g, VS_F32, 3, gs));
    vs_tensor hx = host(x, 3, xs), hh = host(h, 3, hs), hw = host(w, 2, ws), hb = host(b, 1, &out);
    vs_tensor hgate = vs_tensor_view(g + 2 * out, VS_F32, VS_CPU, 2, (int64_t[]){B, out});
    vs_tensor dgate = vs_tensor_view((float *)dg.data + 2 * out, VS_F32, VS_CUDA, 2, (int64_t[]){B, out});
    hgate.stride[0] = dgate.stride[0] = 6 * out;
    CHECK_OK(vs_op_linear_residual(&hx, &hh, &hw, with_bias ? &hb : NULL, gated ? &hgate : NULL));
    CHECK_OK(vs_op_linear_residual(&dx, &dh, &dw, with_bias ? &db : NULL, gated ? &dgate : NULL));
    float *got = to_host(&dx);
    CHECK(got);
    for (int64_t i = 0; i < rows * out; i++) got[i] -= x0[i], x[i] -= x0[i];
    const double err = rel_err(got, x, rows * out);
    printf("  linear_residual [%lld x %lld, %lld] -> %lld%s%s: rel L2 of the increment %.2e\n", (long long)B,
           (long long)N, (long long)in, (long long)out, with_bias ? " +bias" : "", gated ? " gated" : "", err);
    CHECK_MSG(err < (gated ? 1e-2 : 1e-4), "rel L2 %g", err); /* the gated weights are rounded to BF16 */
    free(x), free(h), free(w), free(b), free(g), free(x0), free(got);
    vs_tensor *all[] = {&dx, &dh, &dw, &db, &dg};
    for (int i = 0; i < 5; i++) vs_tensor_free(all[i]);
    return 0;
}

TEST(linear_residual_fused) {
    CHECK(!linear_residual_case(2, 77, 200, 136, 1, 1));
    CHECK(!linear_residual_case(2, 77, 200, 136, 0, 1));
    CHECK(!linear_residual_case(1, 3001, 64, 24, 1, 0));
    CHECK(!linear_residual_case(1, 5, 1544, 4096, 0, 0));
    /* sizes the GEMM cannot take on CUDA are an error, not a crash */
    vs_tensor dx, dh, dw;
    CHECK_OK(vs_tensor_alloc(&dx, VS_F32, VS_CUDA, 2, (int64_t[]){4, 12}));
    CHECK_OK(vs_tensor_alloc(&dh, VS_BF16, VS_CUDA, 2, (int64_t[]){4, 16}));
    CHECK_OK(vs_tensor_alloc(&dw, VS_BF16, VS_CUDA, 2, (int64_t[]){12, 16}));
    CHECK_FAILS(vs_op_linear_residual(&dx, &dh, &dw, NULL, NULL), VS_ERR_UNSUPPORTED, "multiples of 8");
    vs_tensor_free(&dx), vs_tensor_free(&dh), vs_tensor_free(&dw);
    return 0;
}

/* [B, N, dim] rows; modulation views into a [B, 6, dim] table (rows 6*dim apart). */
static int layernorm_case(int64_t B, int64_t N, int64_t dim, int affine, int modulate) {
    const int64_t n = B * N * dim, xs[3] = {B, N, dim}, ms[3] = {B, 6, dim};
    float *x = random_array(&rng, n, -3, 5), *mod = random_array(&rng, B * 6 * dim, -1, 1);
    float *w = random_array(&rng, dim, 0.5f, 1.5f), *b = random_array(&rng, dim, -1, 1);
    float *y = malloc(sizeof(float) * (size_t)n);
    vs_tensor hx = host(x, 3, xs), hy = host(y, 3, xs), hw = host(w, 1, &dim), hb = host(b, 1, &dim), hm = host(mod, 3, ms);
    vs_tensor dx, dy, dw, db, dm;
    CHECK_OK(to_device(&dx, x, VS_F32, 3, xs));
    CHECK_OK(to_device(&dw, w, VS_F32, 1, &dim));
    CHECK_OK(to_device(&db, b, VS_F32, 1, &dim));
    CHECK_OK(to_device(&dm, mod, VS_F32, 3, ms));
    CHECK_OK(vs_tensor_alloc(&dy, VS_BF16, VS_CUDA, 3, xs));
    CHECK_OK(poison(&dy));
    vs_tensor views[2][2]; /* [device][shift, scale] */
    const vs_tensor *tables[2] = {&hm, &dm};
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < 2; k++) {
            views[d][k] = vs_tensor_view((float *)tables[d]->data + (3 + k) * dim, VS_F32, tables[d]->device, 2,
                                         (int64_t[]){B, dim});
            views[d][k].stride[0] = 6 * dim;
        }
    CHECK_OK(vs_op_layernorm_modulate(&hy, &hx, affine ? &hw : NULL, affine ? &hb : NULL, modulate ? &views[0][0] : NULL,
                                      modulate ? &views[0][1] : NULL, 1e-6f));
    CHECK_OK(vs_op_layernorm_modulate(&dy, &dx, affine ? &dw : NULL, affine ? &db : NULL, modulate ? &views[1][0] : NULL,
                                      modulate ? &views[1][1] : NULL, 1e-6f));
    float *got = to_host(&dy);
    CHECK(got);
    const double err = rel_err(got, y, n);
    printf("  layernorm [%lld, %lld, %lld]%s%s: rel L2 %.2e\n", (long long)B, (long long)N, (long long)dim,
           affine ? " affine" : "", modulate ? " modulated" : "", err);
    CHECK_MSG(err < 1e-2, "rel L2 %g", err);
    free(x), free(mod), free(w), free(b), free(y), free(got);
    vs_tensor *all[] = {&dx, &dy, &dw, &db, &dm};
    for (int i = 0; i < 5; i++) vs_tensor_free(all[i]);
    return 0;
}

TEST(layernorm_modulate) {
    CHECK(!layernorm_case(2, 37, 1544, 0, 1));
    CHECK(!layernorm_case(1, 5, 5120, 1, 0));
    CHECK(!layernorm_case(3, 1, 8, 1, 1));
    CHECK(!layernorm_case(1, 2, 32768, 0, 1)); /* the longest row a block holds */
    return 0;
}

static int rmsnorm_rope_case(int64_t B, int grid[3], int heads, int head_dim, int rope) {
    const int64_t N = (int64_t)grid[0] * grid[1] * grid[2], dim = (int64_t)heads * head_dim, n = B * N * dim;
    const int64_t xs[3] = {B, N, dim}, ts[2] = {N, head_dim / 2};
    float *x = random_array(&rng, n, -2, 2), *w = random_array(&rng, dim, 0.5f, 1.5f);
    float *c = malloc(sizeof(float) * (size_t)(N * head_dim / 2)), *s = malloc(sizeof(float) * (size_t)(N * head_dim / 2));
    vs_wan_rope_table(head_dim, grid[0], grid[1], grid[2], c, s);
    round_to(x, n, VS_BF16);
    vs_tensor dx, dw, dc, ds;
    CHECK_OK(to_device(&dx, x, VS_BF16, 3, xs));
    CHECK_OK(to_device(&dw, w, VS_F32, 1, &dim));
    CHECK_OK(to_device(&dc, c, VS_F32, 2, ts));
    CHECK_OK(to_device(&ds, s, VS_F32, 2, ts));
    vs_tensor hx = host(x, 3, xs), hw = host(w, 1, &dim), hc = host(c, 2, ts), hs = host(s, 2, ts);
    CHECK_OK(vs_op_rmsnorm_rope(&hx, &hw, rope ? &hc : NULL, rope ? &hs : NULL, heads, 1e-6f));
    CHECK_OK(vs_op_rmsnorm_rope(&dx, &dw, rope ? &dc : NULL, rope ? &ds : NULL, heads, 1e-6f));
    float *got = to_host(&dx);
    CHECK(got);
    const double err = rel_err(got, x, n);
    printf("  rmsnorm%s [%lld, %lld, %d x %d]: rel L2 %.2e\n", rope ? "+rope" : "", (long long)B, (long long)N, heads,
           head_dim, err);
    CHECK_MSG(err < 1e-2, "rel L2 %g", err);
    free(x), free(w), free(c), free(s), free(got);
    vs_tensor *all[] = {&dx, &dw, &dc, &ds};
    for (int i = 0; i < 4; i++) vs_tensor_free(all[i]);
    return 0;
}

TEST(rmsnorm_rope) {
    CHECK(!rmsnorm_rope_case(2, (int[]){3, 5, 7}, 3, 64, 1));
    CHECK(!rmsnorm_rope_case(1, (int[]){2, 3, 3}, 40, 128, 1));
    CHECK(!rmsnorm_rope_case(2, (int[]){1, 1, 13}, 12, 128, 0));
    return 0;
}

TEST(gated_residual_add_silu) {
    const int64_t B = 2, N = 29, D = 136, n = B * N * D, xs[3] = {B, N, D}, gs[3] = {B, 6, D};
    float *x = random_array(&rng, n, -1, 1), *y = random_array(&rng, n, -1, 1), *g = random_array(&rng, B * 6 * D, -1, 1);
    round_to(y, n, VS_BF16);
    vs_tensor dx, dy, dg;
    CHECK_OK(to_device(&dx, x, VS_F32, 3, xs));
    CHECK_OK(to_device(&dy, y, VS_BF16, 3, xs));
    CHECK_OK(to_device(&dg, g, VS_F32, 3, gs));
    vs_tensor hx = host(x, 3, xs), hy = host(y, 3, xs);
    for (int gated = 0; gated < 2; gated++) {
        vs_tensor hgate = vs_tensor_view(g + 2 * D, VS_F32, VS_CPU, 2, (int64_t[]){B, D});
        vs_tensor dgate = vs_tensor_view((float *)dg.data + 2 * D, VS_F32, VS_CUDA, 2, (int64_t[]){B, D});
        hgate.stride[0] = dgate.stride[0] = 6 * D;
        CHECK_OK(vs_op_gated_residual(&hx, &hy, gated ? &hgate : NULL));
        CHECK_OK(vs_op_gated_residual(&dx, &dy, gated ? &dgate : NULL));
        float *got = to_host(&dx);
        CHECK(got);
        const double err = rel_err(got, x, n);
        printf("  residual%s: rel L2 %.2e\n", gated ? " gated" : "", err);
        CHECK_MSG(err < 1e-6, "rel L2 %g", err);
        free(got);
    }
    /* add: [B, 6, D] table broadcast over the batch plus a [B, D] row repeated 6 times; silu. */
    float *sum = malloc(sizeof(float) * (size_t)(B * 6 * D));
    vs_tensor ht = vs_tensor_view(g, VS_F32, VS_CPU, 3, (int64_t[]){B, 6, D}), dt = dg;
    ht.stride[0] = dt.stride[0] = 0;
    vs_tensor hr = vs_tensor_view(x, VS_F32, VS_CPU, 3, (int64_t[]){B, 6, D}), dr = dx;
    hr.stride[0] = dr.stride[0] = D, hr.stride[1] = dr.stride[1] = 0;
    dr.shape[1] = 6;
    dr.ndim = dt.ndim = 3;
    vs_tensor hs = host(sum, 3, gs), ds;
    CHECK_OK(vs_tensor_alloc(&ds, VS_F32, VS_CUDA, 3, gs));
    CHECK_OK(poison(&ds));
    CHECK_OK(vs_op_add(&hs, &ht, &hr));
    CHECK_OK(vs_op_add(&ds, &dt, &dr));
    float *got = to_host(&ds);
    CHECK(got && rel_err(got, sum, B * 6 * D) < 1e-6);
    free(got);
    CHECK_OK(vs_op_silu(&hs, &hs));
    CHECK_OK(vs_op_silu(&ds, &ds));
    got = to_host(&ds);
    CHECK(got && rel_err(got, sum, B * 6 * D) < 1e-5);
    printf("  add (broadcast) and silu ok\n");
    free(got), free(sum), free(x), free(y), free(g);
    vs_tensor *all[] = {&dx, &dy, &dg, &ds};
    for (int i = 0; i < 4; i++) vs_tensor_free(all[i]);
    return 0;
}

TEST(patchify_unpatchify) {
    const int p[3] = {1, 2, 2};
    const int64_t ls[5] = {2, 16, 3, 6, 10}, n = 2 * 16 * 3 * 6 * 10, ps[3] = {2, 3 * 3 * 5, 64};
    float *lat = random_array(&rng, n, -2, 2), *patches = malloc(sizeof(float) * (size_t)n);
    float *back = malloc(sizeof(float) * (size_t)n);
    round_to(lat, n, VS_BF16);
    vs_tensor hl = host(lat, 5, ls), hp = host(patches, 3, ps), hb = host(back, 5, ls), dl, dp, db;
    CHECK_OK(to_device(&dl, lat, VS_F32, 5, ls));
    CHECK_OK(vs_tensor_alloc(&dp, VS_BF16, VS_CUDA, 3, ps));
    CHECK_OK(vs_tensor_alloc(&db, VS_F32, VS_CUDA, 5, ls));
    CHECK_OK(poison(&dp));
    CHECK_OK(poison(&db));
    CHECK_OK(vs_op_patchify(&hp, &hl, p));
    CHECK_OK(vs_op_patchify(&dp, &dl, p));
    float *got = to_host(&dp);
    CHECK(got && rel_err(got, patches, n) == 0);
    free(got);
    /* the output head's (t, h, w, c) order */
    CHECK_OK(vs_op_unpatchify(&hb, &hp, p));
    CHECK_OK(vs_op_unpatchify(&db, &dp, p));
    got = to_host(&db);
    CHECK(got && rel_err(got, back, n) == 0);
    printf("  patchify / unpatchify exact\n");
    free(got), free(lat), free(patches), free(back);
    vs_tensor_free(&dl), vs_tensor_free(&dp), vs_tensor_free(&db);
    return 0;
}

TEST(cross_attention_op) {
    const int64_t B = 2, N = 131, L = 13, H = 3, D = 64;
    const int64_t qs[4] = {B, N, H, D}, ks[4] = {B, L, H, D}, nq = B * N * H * D, nk = B * L * H * D;
    float *q = random_array(&rng, nq, -2, 2), *k = random_array(&rng, nk, -2, 2), *v = random_array(&rng, nk, -1, 1);
    float *o = malloc(sizeof(float) * (size_t)nq);
    round_to(q, nq, VS_BF16), round_to(k, nk, VS_BF16), round_to(v, nk, VS_BF16);
    vs_tensor hq = host(q, 4, qs), hk = host(k, 4, ks), hv = host(v, 4, ks), ho = host(o, 4, qs), dq, dk, dv, dout;
    CHECK_OK(to_device(&dq, q, VS_BF16, 4, qs));
    CHECK_OK(to_device(&dk, k, VS_BF16, 4, ks));
    CHECK_OK(to_device(&dv, v, VS_BF16, 4, ks));
    CHECK_OK(vs_tensor_alloc(&dout, VS_BF16, VS_CUDA, 4, qs));
    CHECK_OK(poison(&dout));
    CHECK_OK(vs_op_attention(&ho, &hq, &hk, &hv));
    CHECK_OK(vs_op_attention(&dout, &dq, &dk, &dv));
    float *got = to_host(&dout);
    CHECK(got);
    const double err = rel_err(got, o, nq);
    printf("  cross-attention N %lld, L %lld: rel L2 %.2e\n", (long long)N, (long long)L, err);
    CHECK_MSG(err < 1e-2, "rel L2 %g", err);
    free(q), free(k), free(v), free(o), free(got);
    vs_tensor *all[] = {&dq, &dk, &dv, &dout};
    for (int i = 0; i < 4; i++) vs_tensor_free(all[i]);
    return 0;
}

TEST(fill_convert_copy) {
    const int64_t n = 100003;
    float *h = malloc(sizeof(float) * (size_t)n);
    vs_tensor ht = host(h, 1, &n), d32, d16;
    CHECK_OK(vs_tensor_alloc(&d32, VS_F32, VS_CUDA, 1, &n));
    CHECK_OK(vs_tensor_alloc(&d16, VS_BF16, VS_CUDA, 1, &n));
    CHECK_OK(vs_op_fill_uniform(&ht, 77, -3, 2));
    CHECK_OK(vs_op_fill_uniform(&d32, 77, -3, 2));
    float *got = to_host(&d32);
    CHECK(got && rel_err(got, h, n) < 1e-7); /* the same numbers on both devices */
    free(got);
    CHECK_OK(vs_op_convert(&d16, &d32));
    round_to(h, n, VS_BF16);
    got = to_host(&d16);
    CHECK(got && rel_err(got, h, n) < 1e-7);
    free(got);
    CHECK_OK(vs_op_copy(&d32, &ht));
    CHECK_OK(vs_op_copy(&ht, &d32));
    CHECK_OK(vs_op_sync(VS_CUDA));
    /* mixing devices is refused with the argument named */
    CHECK_FAILS(vs_op_convert(&ht, &d32), VS_ERR_INVALID_ARG, "dst");
    free(h);
    vs_tensor_free(&d32), vs_tensor_free(&d16);
    return 0;
}

RUN_TESTS(T(linear_bf16_cublaslt), T(linear_f32_few_rows), T(linear_residual_fused), T(layernorm_modulate), T(rmsnorm_rope),
          T(gated_residual_add_silu), T(patchify_unpatchify), T(cross_attention_op), T(fill_convert_copy))
