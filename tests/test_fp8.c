/* FP8 linears end to end on every backend present: activations and weights
 * with outliers (a few input channels and output channels 100x larger) are
 * quantised by vs_op_quantize_fp8 (per token, per output channel) and run
 * through vs_op_linear_fp8 / vs_op_linear_residual_fp8; the result is compared
 * with the double-precision product of the unquantised values, which bounds
 * what E4M3 costs (the op-level checks against the quantised reference are
 * rows of test_backend_ops.c). Outputs are poisoned with NaN; sizes are
 * ragged in the token count. On CUDA the codes must also equal the CPU's
 * byte for byte. */
#include <stdint.h>

#include "backend/backend.h"
#include "check.h"
#include "core/dtype.h"
#include "core/hash.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/common/fp8_linear.h"
#include "models/common/umt5.h"
#include "models/wan/transformer.h"
#include "ops/ops.h"
#include "ops/attention.h"
#include "sparse/sparse_attention.h"

/* Uniform values in [lo, hi) with `outliers` of the columns (every 37th, from 5) 100x larger. */
static float *random_matrix(uint64_t seed, int64_t rows, int64_t cols, float lo, float hi, int outliers) {
    float *m = vs_test_malloc(sizeof(float) * (size_t)(rows * cols));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            const float v = lo + (hi - lo) * vs_hash_uniform(seed, (uint64_t)(r * cols + c));
            m[r * cols + c] = outliers && c % 37 == 5 ? 100.0f * v : v;
        }
    return m;
}

/* A tensor of `dtype` on `device` holding the f32 host values (rounded to the dtype in place, so the
 * reference sees what the device sees). */
static vs_status upload(vs_tensor *t, float *host, vs_dtype dtype, vs_device device, int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++)
        n *= shape[d];
    void *bytes = vs_test_malloc((size_t)n * 4);
    vs_convert(bytes, dtype, host, VS_F32, n);
    vs_convert(host, VS_F32, bytes, dtype, n);
    VS_TRY(vs_tensor_alloc(t, dtype, device, ndim, shape));
    vs_tensor h = vs_tensor_view(bytes, dtype, VS_CPU, ndim, shape);
    return vs_op_copy(t, &h);
}

/* The tensor's values as f32 on the host (freed after the case). */
static float *download(const vs_tensor *t) {
    const int64_t n = vs_tensor_numel(t);
    void *bytes = vs_test_malloc((size_t)n * 4 + 4);
    float *f = vs_test_malloc((size_t)n * 4 + 4);
    vs_tensor h = vs_tensor_view(bytes, t->dtype, VS_CPU, t->ndim, t->shape);
    if (vs_op_copy(&h, t) != VS_OK) return NULL;
    vs_convert(f, VS_F32, bytes, t->dtype, n);
    return f;
}

/* A NaN-filled output of `dtype` on the backend's device (dimensions up to 3). */
static vs_status poisoned(vs_tensor *t, vs_dtype dtype, vs_device device, int ndim, const int64_t *shape) {
    const int64_t n = shape[0] * (ndim > 1 ? shape[1] : 1) * (ndim > 2 ? shape[2] : 1);
    float *nan = vs_test_malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++)
        nan[i] = NAN;
    return upload(t, nan, dtype, device, ndim, shape);
}

static const vs_backend *g_backends[2];
static int backend_count(void) {
    g_backends[0] = vs_backend_for(VS_CPU);
    g_backends[1] = vs_cuda_device_count() > 0 ? vs_backend_for(VS_CUDA) : NULL;
    return g_backends[1] ? 2 : 1;
}

static double gelu_tanh(double x) {
    return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/* x [rows, in] and W [out, in] with outliers quantised on the device, y = GELU(x W^T + b) in FP8 against
 * the f64 product of the unquantised values. */
TEST(linear_fp8_with_outliers_tracks_the_exact_product) {
    const int64_t rows = 67, in = 256, out = 72;
    for (int b = 0; b < backend_count(); b++) {
        const vs_backend *be = g_backends[b];
        const vs_device dev = be->device;
        float *xh = random_matrix(1, rows, in, -1, 1, 1), *wh = random_matrix(2, out, in, -0.06f, 0.06f, 1);
        float *bh = random_matrix(3, 1, out, -0.5f, 0.5f, 0);
        for (int64_t i = 0; i < in; i++) /* two output channels 100x larger as well */
            wh[7 * in + i] *= 100, wh[40 * in + i] *= 100;
        vs_tensor *x = vs_test_tensor(), *w = vs_test_tensor(), *bias = vs_test_tensor(), *y = vs_test_tensor();
        vs_tensor *xq = vs_test_tensor(), *xs = vs_test_tensor(), *wq = vs_test_tensor(), *ws = vs_test_tensor();
        CHECK_OK(upload(x, xh, be->activations, dev, 2, (int64_t[]){rows, in}));
        CHECK_OK(upload(w, wh, be->activations, dev, 2, (int64_t[]){out, in}));
        CHECK_OK(upload(bias, bh, be->activations, dev, 1, (int64_t[]){out}));
        CHECK_OK(poisoned(y, be->activations, dev, 2, (int64_t[]){rows, out}));
        CHECK_OK(poisoned(xq, VS_F8E4M3, dev, 2, (int64_t[]){rows, in}));
        CHECK_OK(poisoned(xs, VS_F32, dev, 1, (int64_t[]){rows}));
        CHECK_OK(poisoned(wq, VS_F8E4M3, dev, 2, (int64_t[]){out, in}));
        CHECK_OK(poisoned(ws, VS_F32, dev, 1, (int64_t[]){out}));
        CHECK_OK(vs_op_quantize_fp8(xq, xs, x));
        CHECK_OK(vs_op_quantize_fp8(wq, ws, w));
        CHECK_OK(vs_op_linear_fp8(y, xq, xs, wq, ws, bias, VS_EPILOGUE_GELU_TANH));
        CHECK_OK(vs_op_sync(dev));
        float *got = download(y);
        CHECK(got);
        double *want = vs_test_malloc(sizeof(double) * (size_t)(rows * out));
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < out; o++) {
                double s = bh[o];
                for (int64_t i = 0; i < in; i++)
                    s += (double)xh[r * in + i] * wh[o * in + i];
                want[r * out + o] = gelu_tanh(s);
            }
        for (int64_t i = 0; i < rows * out; i++)
            CHECK_MSG(isfinite(got[i]), "%s: y[%lld] = %g (not written?)", be->name, (long long)i, got[i]);
        const double err = vs_test_rel_l2(got, want, rows * out);
        printf("  %s: FP8 linear with outliers vs the exact product: rel L2 %.3g\n", be->name, err);
        CHECK_MSG(err < 5e-2, "%s: rel L2 %.3g", be->name, err);
    }
    return 0;
}

/* The gated residual in FP8 (two batch entries, each with its gate row) against the exact product. */
TEST(linear_residual_fp8_tracks_the_exact_product) {
    const int64_t B = 2, N = 29, in = 128, out = 48;
    for (int b = 0; b < backend_count(); b++) {
        const vs_backend *be = g_backends[b];
        const vs_device dev = be->device;
        float *x0 = random_matrix(4, B * N, out, -1, 1, 0), *hh = random_matrix(5, B * N, in, -2, 2, 1);
        float *wh = random_matrix(6, out, in, -0.1f, 0.1f, 0), *bh = random_matrix(7, 1, out, -1, 1, 0);
        float *gh = random_matrix(8, B, out, -1, 1, 0);
        vs_tensor *x = vs_test_tensor(), *h = vs_test_tensor(), *w = vs_test_tensor(), *bias = vs_test_tensor();
        vs_tensor *gate = vs_test_tensor(), *hq = vs_test_tensor(), *hs = vs_test_tensor(), *wq = vs_test_tensor(),
                  *ws = vs_test_tensor();
        CHECK_OK(upload(x, x0, VS_F32, dev, 3, (int64_t[]){B, N, out}));
        CHECK_OK(upload(h, hh, be->activations, dev, 3, (int64_t[]){B, N, in}));
        CHECK_OK(upload(w, wh, be->activations, dev, 2, (int64_t[]){out, in}));
        CHECK_OK(upload(bias, bh, be->activations, dev, 1, (int64_t[]){out}));
        CHECK_OK(upload(gate, gh, VS_F32, dev, 2, (int64_t[]){B, out}));
        CHECK_OK(poisoned(hq, VS_F8E4M3, dev, 3, (int64_t[]){B, N, in}));
        CHECK_OK(poisoned(hs, VS_F32, dev, 1, (int64_t[]){B * N}));
        CHECK_OK(poisoned(wq, VS_F8E4M3, dev, 2, (int64_t[]){out, in}));
        CHECK_OK(poisoned(ws, VS_F32, dev, 1, (int64_t[]){out}));
        CHECK_OK(vs_op_quantize_fp8(hq, hs, h));
        CHECK_OK(vs_op_quantize_fp8(wq, ws, w));
        CHECK_OK(vs_op_linear_residual_fp8(x, hq, hs, wq, ws, bias, gate));
        CHECK_OK(vs_op_sync(dev));
        float *got = download(x);
        CHECK(got);
        double *want = vs_test_malloc(sizeof(double) * (size_t)(B * N * out));
        for (int64_t r = 0; r < B * N; r++)
            for (int64_t o = 0; o < out; o++) {
                double s = bh[o];
                for (int64_t i = 0; i < in; i++)
                    s += (double)hh[r * in + i] * wh[o * in + i];
                want[r * out + o] = x0[r * out + o] + gh[r / N * out + o] * s;
            }
        const double err = vs_test_rel_l2(got, want, B * N * out);
        printf("  %s: FP8 gated residual vs the exact product: rel L2 %.3g\n", be->name, err);
        CHECK_MSG(err < 5e-2, "%s: rel L2 %.3g", be->name, err);
    }
    return 0;
}

/* A host copy of a device tensor's E4M3 codes. */
static uint8_t *download_codes(const vs_tensor *q) {
    uint8_t *codes = vs_test_malloc((size_t)vs_tensor_numel(q));
    vs_tensor h = vs_tensor_view(codes, VS_F8E4M3, VS_CPU, q->ndim, q->shape);
    return vs_op_copy(&h, q) ? NULL : codes;
}

/* The CUDA codes and scales equal the CPU reference's byte for byte on the same (BF16-rounded) values. */
TEST(cuda_codes_equal_the_cpu_codes) {
    if (backend_count() < 2) {
        printf("  (no CUDA device: skipped)\n");
        return 0;
    }
    const int64_t rows = 53, cols = 1544;
    float *xh = random_matrix(9, rows, cols, -3, 3, 1);
    xh[0] = 0, xh[1] = 1e-30f; /* a tiny value under the subnormal range */
    for (int64_t i = 0; i < cols; i++) xh[17 * cols + i] = 0; /* a row of zeros: scale 1, codes 0 */
    vs_tensor *xc = vs_test_tensor(), *xg = vs_test_tensor();
    vs_tensor *qc = vs_test_tensor(), *sc = vs_test_tensor(), *qg = vs_test_tensor(), *sg = vs_test_tensor();
    CHECK_OK(upload(xg, xh, VS_BF16, VS_CUDA, 2, (int64_t[]){rows, cols})); /* rounds xh to BF16 */
    CHECK_OK(upload(xc, xh, VS_F32, VS_CPU, 2, (int64_t[]){rows, cols}));
    CHECK_OK(poisoned(qc, VS_F8E4M3, VS_CPU, 2, (int64_t[]){rows, cols}));
    CHECK_OK(poisoned(sc, VS_F32, VS_CPU, 1, (int64_t[]){rows}));
    CHECK_OK(poisoned(qg, VS_F8E4M3, VS_CUDA, 2, (int64_t[]){rows, cols}));
    CHECK_OK(poisoned(sg, VS_F32, VS_CUDA, 1, (int64_t[]){rows}));
    CHECK_OK(vs_op_quantize_fp8(qc, sc, xc));
    CHECK_OK(vs_op_quantize_fp8(qg, sg, xg));
    uint8_t *codes = download_codes(qg);
    float *scales = download(sg);
    CHECK(codes && scales);
    const uint8_t *want = qc->data;
    int64_t differ = 0;
    for (int64_t i = 0; i < rows * cols; i++)
        differ += codes[i] != want[i];
    CHECK_MSG(differ == 0, "%lld of %lld codes differ", (long long)differ, (long long)(rows * cols));
    for (int64_t r = 0; r < rows; r++)
        CHECK_MSG(scales[r] == ((float *)sc->data)[r], "row %lld: scale %g vs %g", (long long)r, scales[r],
                  ((float *)sc->data)[r]);
    return 0;
}

/* The norm that writes its output's codes in the same pass (vs_op_layernorm_modulate_fp8) gives the bytes the
 * two passes give (the norm's BF16 output, then vs_op_quantize_fp8), with y and without it. */
TEST(cuda_norm_codes_equal_the_two_pass_codes) {
    if (backend_count() < 2) {
        printf("  (no CUDA device: skipped)\n");
        return 0;
    }
    const int64_t batch = 2, tokens = 37, dim = 5120, rows = batch * tokens;
    float *xh = random_matrix(11, rows, dim, -2, 3, 1), *mh = random_matrix(12, batch, 2 * dim, -1, 1, 0);
    vs_tensor *x = vs_test_tensor(), *mod = vs_test_tensor(), *y = vs_test_tensor(), *y2 = vs_test_tensor();
    vs_tensor *q[3], *s[3];
    CHECK_OK(upload(x, xh, VS_F32, VS_CUDA, 3, (int64_t[]){batch, tokens, dim}));
    CHECK_OK(upload(mod, mh, VS_F32, VS_CUDA, 2, (int64_t[]){batch, 2 * dim}));
    CHECK_OK(poisoned(y, VS_BF16, VS_CUDA, 3, (int64_t[]){batch, tokens, dim}));
    CHECK_OK(poisoned(y2, VS_BF16, VS_CUDA, 3, (int64_t[]){batch, tokens, dim}));
    for (int i = 0; i < 3; i++) {
        q[i] = vs_test_tensor(), s[i] = vs_test_tensor();
        CHECK_OK(poisoned(q[i], VS_F8E4M3, VS_CUDA, 3, (int64_t[]){batch, tokens, dim}));
        CHECK_OK(poisoned(s[i], VS_F32, VS_CUDA, 1, (int64_t[]){rows}));
    }
    vs_tensor shift = *mod, scale = *mod; /* [batch, dim] views into the [batch, 2 * dim] table */
    shift.owned = scale.owned = 0, shift.ndim = scale.ndim = 2, shift.shape[1] = scale.shape[1] = dim;
    scale.data = (float *)mod->data + dim;
    CHECK_OK(vs_op_layernorm_modulate(y, x, NULL, NULL, &shift, &scale, 1e-6f));
    CHECK_OK(vs_op_quantize_fp8(q[0], s[0], y));
    CHECK_OK(vs_op_layernorm_modulate_fp8(y2, q[1], s[1], x, NULL, NULL, &shift, &scale, 1e-6f));
    CHECK_OK(vs_op_layernorm_modulate_fp8(NULL, q[2], s[2], x, NULL, NULL, &shift, &scale, 1e-6f));
    float *y_want = download(y), *y_got = download(y2), *s_want = download(s[0]);
    uint8_t *q_want = download_codes(q[0]);
    CHECK(y_want && y_got && s_want && q_want);
    CHECK(!memcmp(y_want, y_got, sizeof(float) * (size_t)(rows * dim)));
    for (int i = 1; i < 3; i++) {
        float *s_got = download(s[i]);
        uint8_t *q_got = download_codes(q[i]);
        CHECK(s_got && q_got);
        CHECK_MSG(!memcmp(q_got, q_want, (size_t)(rows * dim)), "%s y: the codes differ",
                  i == 1 ? "with" : "without");
        CHECK_MSG(!memcmp(s_got, s_want, sizeof(float) * (size_t)rows), "%s y: the scales differ",
                  i == 1 ? "with" : "without");
    }
    return 0;
}

/* The FP8 linear whose epilogue writes its output's codes (vs_op_linear_fp8_codes, the feed-forward's GELU
 * into the second layer's input) gives the bytes vs_op_linear_fp8 and vs_op_quantize_fp8 give. */
TEST(cuda_linear_codes_equal_the_two_pass_codes) {
    if (backend_count() < 2) {
        printf("  (no CUDA device: skipped)\n");
        return 0;
    }
    const int64_t rows = 37, in = 64, out = 13824;
    float *xh = random_matrix(13, rows, in, -448, 448, 0), *wh = random_matrix(14, out, in, -448, 448, 0);
    float *xs = random_matrix(15, rows, 1, 1e-4f, 4e-3f, 0), *ws = random_matrix(16, out, 1, 1e-4f, 2e-3f, 0);
    float *bh = random_matrix(17, out, 1, -1, 1, 0);
    vs_tensor *x = vs_test_tensor(), *w = vs_test_tensor(), *x_scale = vs_test_tensor(),
              *w_scale = vs_test_tensor();
    vs_tensor *bias = vs_test_tensor(), *y = vs_test_tensor(), *work = vs_test_tensor();
    vs_tensor *q[2] = {vs_test_tensor(), vs_test_tensor()}, *qs[2] = {vs_test_tensor(), vs_test_tensor()};
    CHECK_OK(upload(x, xh, VS_F8E4M3, VS_CUDA, 2, (int64_t[]){rows, in}));
    CHECK_OK(upload(w, wh, VS_F8E4M3, VS_CUDA, 2, (int64_t[]){out, in}));
    CHECK_OK(upload(x_scale, xs, VS_F32, VS_CUDA, 1, (int64_t[]){rows}));
    CHECK_OK(upload(w_scale, ws, VS_F32, VS_CUDA, 1, (int64_t[]){out}));
    CHECK_OK(upload(bias, bh, VS_BF16, VS_CUDA, 1, (int64_t[]){out}));
    CHECK_OK(poisoned(y, VS_BF16, VS_CUDA, 2, (int64_t[]){rows, out}));
    CHECK_OK(poisoned(work, VS_BF16, VS_CUDA, 2, (int64_t[]){rows, out}));
    for (int i = 0; i < 2; i++) {
        CHECK_OK(poisoned(q[i], VS_F8E4M3, VS_CUDA, 2, (int64_t[]){rows, out}));
        CHECK_OK(poisoned(qs[i], VS_F32, VS_CUDA, 1, (int64_t[]){rows}));
    }
    CHECK_OK(vs_op_linear_fp8(y, x, x_scale, w, w_scale, bias, VS_EPILOGUE_GELU_TANH));
    CHECK_OK(vs_op_quantize_fp8(q[0], qs[0], y));
    CHECK_OK(vs_op_linear_fp8_codes(q[1], qs[1], work, x, x_scale, w, w_scale, bias, VS_EPILOGUE_GELU_TANH));
    uint8_t *want = download_codes(q[0]), *got = download_codes(q[1]);
    float *s_want = download(qs[0]), *s_got = download(qs[1]);
    CHECK(want && got && s_want && s_got);
    CHECK_MSG(!memcmp(got, want, (size_t)(rows * out)), "the codes differ");
    CHECK_MSG(!memcmp(s_got, s_want, sizeof(float) * (size_t)rows), "the scales differ");
    return 0;
}

/* Bad operands fail with one line naming the problem. */
TEST(bad_operands_fail_with_a_message) {
    vs_tensor *x = vs_test_tensor(), *q = vs_test_tensor(), *s = vs_test_tensor(), *w = vs_test_tensor();
    vs_tensor *y = vs_test_tensor(), *ws = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(x, VS_F32, VS_CPU, 2, (int64_t[]){4, 32}));
    CHECK_OK(vs_tensor_alloc(q, VS_F8E4M3, VS_CPU, 2, (int64_t[]){4, 32}));
    CHECK_OK(vs_tensor_alloc(s, VS_F32, VS_CPU, 1, (int64_t[]){3}));
    CHECK_OK(vs_tensor_alloc(w, VS_F32, VS_CPU, 2, (int64_t[]){16, 32}));
    CHECK_OK(vs_tensor_alloc(ws, VS_F32, VS_CPU, 1, (int64_t[]){16}));
    CHECK_OK(vs_tensor_alloc(y, VS_F32, VS_CPU, 2, (int64_t[]){4, 16}));
    CHECK_FAILS(vs_op_quantize_fp8(q, s, x), VS_ERR_SHAPE, "scale must be [rows of x]");
    CHECK_FAILS(vs_op_quantize_fp8(x, s, x), VS_ERR_INVALID_ARG, "q is");
    vs_tensor_free(s);
    CHECK_OK(vs_tensor_alloc(s, VS_F32, VS_CPU, 1, (int64_t[]){4}));
    CHECK_FAILS(vs_op_linear_fp8(y, q, s, w, ws, NULL, VS_EPILOGUE_NONE), VS_ERR_INVALID_ARG, "weight is");
    CHECK_FAILS(vs_op_linear_fp8(y, q, ws, q, ws, NULL, VS_EPILOGUE_NONE), VS_ERR_SHAPE, "x_scale must be");
    CHECK(!strchr(vs_last_error(), '\n'));
    return 0;
}

static void free_wan(void *m) {
    vs_wan_model_free(m);
}

/* The Wan forward tests' inputs (batch 2, a ragged 3 x 6 x 10 latent grid, 7 text tokens of 48) and `n` outputs
 * of the latents' shape, NaN-poisoned. 0, or 1 after a failed check. */
static int wan_test_inputs(vs_tensor *lat, vs_tensor *text, vs_tensor *const *outs, int n) {
    const int64_t lat_shape[5] = {2, 16, 3, 6, 10}, text_shape[3] = {2, 7, 48};
    CHECK_OK(vs_tensor_alloc(lat, VS_F32, VS_CPU, 5, lat_shape));
    CHECK_OK(vs_tensor_alloc(text, VS_F32, VS_CPU, 3, text_shape));
    CHECK_OK(vs_op_fill_uniform(lat, 5, -1.7f, 1.7f));
    CHECK_OK(vs_op_fill_uniform(text, 6, -1, 1));
    for (int i = 0; i < n; i++) {
        CHECK_OK(vs_tensor_alloc(outs[i], VS_F32, VS_CPU, 5, lat_shape));
        for (int64_t j = 0; j < vs_tensor_numel(outs[i]); j++) ((float *)outs[i]->data)[j] = NAN;
    }
    return 0;
}

/* A small random Wan DiT (two layers, ragged token grid) on each backend: after vs_wan_model_set_precision
 * the blocks' linears are E4M3 with per-channel scales, the embedders and head are not, and the forward
 * stays within 5e-2 (relative L2) of the BF16 / F32 one; the default precision then keeps them. */
TEST(wan_forward_in_fp8_tracks_the_default_precision) {
    const vs_wan_config cfg = {{1, 2, 2}, 2, 64, 128, 16, 16, 48, 256, 160, 2, 1, 1e-6f, 1024};
    for (int b = 0; b < backend_count(); b++) {
        const vs_device dev = g_backends[b]->device;
        vs_wan_model *m = NULL;
        CHECK_OK(vs_wan_model_random(&cfg, dev, 77, &m));
        vs_test_defer(free_wan, m);
        vs_tensor *lat = vs_test_tensor(), *text = vs_test_tensor(), *ref = vs_test_tensor(), *out = vs_test_tensor();
        CHECK(!wan_test_inputs(lat, text, (vs_tensor *[]){ref, out}, 2));
        const float t[2] = {700, 300};
        CHECK_OK(vs_wan_forward(m, lat, t, text, 0, 1, ref, NULL));
        CHECK(vs_wan_model_precision(m) == VS_PRECISION_DEFAULT);
        CHECK_OK(vs_wan_model_set_precision(m, VS_PRECISION_FP8));
        CHECK(vs_wan_model_precision(m) == VS_PRECISION_FP8);
        const vs_wan_block_weights *blk = &m->weights.blocks[1];
        CHECK(blk->ffn_out.weight.dtype == VS_F8E4M3 && blk->ffn_out.scale.shape[0] == cfg.dim);
        CHECK(blk->cross_attn.k.weight.dtype == VS_F8E4M3 && m->weights.head.weight.dtype != VS_F8E4M3);
        CHECK_OK(vs_wan_forward(m, lat, t, text, 0, 1, out, NULL));
        double *want = vs_test_malloc(sizeof(double) * (size_t)vs_tensor_numel(ref));
        for (int64_t i = 0; i < vs_tensor_numel(ref); i++) want[i] = ((float *)ref->data)[i];
        const double err = vs_test_rel_l2(out->data, want, vs_tensor_numel(ref));
        printf("  %s: Wan forward, FP8 linears vs %s: rel L2 %.3g\n", g_backends[b]->name,
               dev == VS_CPU ? "F32" : "BF16", err);
        CHECK_MSG(err < 5e-2, "rel L2 %.3g", err);
        CHECK_OK(vs_wan_model_set_precision(m, VS_PRECISION_DEFAULT)); /* keeps the weights as they are */
        CHECK(vs_wan_model_precision(m) == VS_PRECISION_FP8);
    }
    return 0;
}

/* The ten linears of one block, quantised in place (a checkpoint that keeps other blocks in BF16). */
static vs_status quantise_block(vs_wan_block_weights *blk) {
    vs_wan_linear *all[] = {&blk->self_attn.q,  &blk->self_attn.k,  &blk->self_attn.v,  &blk->self_attn.o,
                            &blk->cross_attn.q, &blk->cross_attn.k, &blk->cross_attn.v, &blk->cross_attn.o,
                            &blk->ffn_in,       &blk->ffn_out};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        VS_TRY(vs_linear_quantize_weight(&all[i]->weight, &all[i]->scale));
    return VS_OK;
}

/* A checkpoint may keep whole blocks in BF16 beside E4M3 ones (the forward used to read the precision off
 * block 0 and then refused block 1's E4M3 layers: "its input was not quantised"). Block 0 left as made,
 * block 1's ten linears quantised: the forward runs on each backend and stays within 5e-2 of the default.
 * The other way round (block 0 in E4M3, block 1 not), asking for FP8 quantises block 1 too (it used to stop
 * at block 0's precision). */
TEST(wan_forward_with_only_later_blocks_in_fp8) {
    const vs_wan_config cfg = {{1, 2, 2}, 2, 64, 128, 16, 16, 48, 256, 160, 2, 1, 1e-6f, 1024};
    for (int b = 0; b < backend_count(); b++) {
        vs_wan_model *m = NULL;
        CHECK_OK(vs_wan_model_random(&cfg, g_backends[b]->device, 77, &m));
        vs_test_defer(free_wan, m);
        vs_tensor *lat = vs_test_tensor(), *text = vs_test_tensor(), *ref = vs_test_tensor(),
                  *out = vs_test_tensor();
        CHECK(!wan_test_inputs(lat, text, (vs_tensor *[]){ref, out}, 2));
        const float t[2] = {700, 300};
        CHECK_OK(vs_wan_forward(m, lat, t, text, 0, 1, ref, NULL));
        CHECK_OK(quantise_block(&m->weights.blocks[1]));
        CHECK(vs_wan_model_precision(m) == VS_PRECISION_DEFAULT); /* not every block in FP8 */
        CHECK_OK(vs_wan_forward(m, lat, t, text, 0, 1, out, NULL));
        double *want = vs_test_malloc(sizeof(double) * (size_t)vs_tensor_numel(ref));
        for (int64_t i = 0; i < vs_tensor_numel(ref); i++)
            want[i] = ((float *)ref->data)[i];
        const double err = vs_test_rel_l2(out->data, want, vs_tensor_numel(ref));
        printf("  %s: Wan forward, block 1 in FP8 vs none: rel L2 %.3g\n", g_backends[b]->name, err);
        CHECK_MSG(err < 5e-2, "rel L2 %.3g", err);
        vs_wan_model *first = NULL;
        CHECK_OK(vs_wan_model_random(&cfg, g_backends[b]->device, 77, &first));
        vs_test_defer(free_wan, first);
        CHECK_OK(quantise_block(&first->weights.blocks[0]));
        CHECK(vs_wan_model_precision(first) == VS_PRECISION_DEFAULT &&
              first->weights.blocks[1].ffn_out.weight.dtype != VS_F8E4M3);
        CHECK_OK(vs_wan_model_set_precision(first, VS_PRECISION_FP8));
        CHECK(first->weights.blocks[1].ffn_out.weight.dtype == VS_F8E4M3 &&
              first->weights.blocks[1].self_attn.q.weight.dtype == VS_F8E4M3);
        CHECK(vs_wan_model_precision(first) == VS_PRECISION_FP8);
    }
    return 0;
}

/* The same block linears' codes and scales, byte for byte. */
static int same_linears(const vs_wan_weights *a, const vs_wan_weights *b) {
    for (int blk = 0; blk < a->num_blocks; blk++) {
        const vs_wan_linear *la[3] = {&a->blocks[blk].self_attn.q, &a->blocks[blk].cross_attn.v, &a->blocks[blk].ffn_in};
        const vs_wan_linear *lb[3] = {&b->blocks[blk].self_attn.q, &b->blocks[blk].cross_attn.v, &b->blocks[blk].ffn_in};
        for (int i = 0; i < 3; i++) {
            CHECK(la[i]->weight.dtype == VS_F8E4M3 && lb[i]->weight.dtype == VS_F8E4M3);
            CHECK(!memcmp(la[i]->weight.data, lb[i]->weight.data, (size_t)vs_tensor_numel(&la[i]->weight)));
            CHECK(!memcmp(la[i]->scale.data, lb[i]->scale.data, sizeof(float) * (size_t)la[i]->weight.shape[0]));
        }
    }
    return 0;
}

/* One small Wan DiT four ways at `precision` (on the CPU): made at the default and quantised after, made
 * quantised, tests/data/wan/tiny_hd64 loaded and quantised after, loaded quantised. 0, or 1 after a failed
 * check. */
static int wan_four_ways(const vs_wan_config *cfg, vs_precision precision, vs_wan_model *m[4]) {
    for (int i = 0; i < 4; i++) m[i] = NULL;
    CHECK_OK(vs_wan_model_random(cfg, VS_CPU, 77, &m[0]));
    vs_test_defer(free_wan, m[0]);
    CHECK_OK(vs_wan_model_set_precision(m[0], precision));
    CHECK_OK(vs_wan_model_random_as(cfg, VS_CPU, 77, precision, &m[1]));
    vs_test_defer(free_wan, m[1]);
    CHECK_OK(vs_wan_model_load("tests/data/wan/tiny_hd64", VS_CPU, &m[2]));
    vs_test_defer(free_wan, m[2]);
    CHECK_OK(vs_wan_model_set_precision(m[2], precision));
    CHECK_OK(vs_wan_model_load_as("tests/data/wan/tiny_hd64", VS_CPU, precision, &m[3]));
    vs_test_defer(free_wan, m[3]);
    return 0;
}

/* Quantising each block linear as it loads (vs_wan_model_load_as / _random_as, what the pipeline does for
 * --precision fp8 so the load's peak is FP8-sized) gives the model quantising after the load gives, and the
 * memory plan's byte count (vs_wan_weights_bytes with fp8) is the BF16 / F32 count less what E4M3 saves. */
TEST(wan_quantised_as_it_loads_equals_quantised_after) {
    const vs_wan_config cfg = {{1, 2, 2}, 2, 64, 128, 16, 16, 48, 256, 160, 2, 1, 1e-6f, 1024};
    vs_wan_model *m[4];
    CHECK(!wan_four_ways(&cfg, VS_PRECISION_FP8, m));
    CHECK(vs_wan_model_precision(m[1]) == VS_PRECISION_FP8 && m[1]->weights.head.weight.dtype == VS_F32);
    CHECK(!same_linears(&m[0]->weights, &m[1]->weights));
    CHECK(!same_linears(&m[2]->weights, &m[3]->weights));
    size_t plain = 0, fp8 = 0;
    CHECK_OK(vs_wan_weights_bytes(&cfg, VS_F32, VS_PRECISION_DEFAULT, &plain));
    CHECK_OK(vs_wan_weights_bytes(&cfg, VS_F32, VS_PRECISION_FP8, &fp8));
    const size_t dim = (size_t)cfg.dim, ffn = (size_t)cfg.ffn_dim;
    const size_t values = 8 * dim * dim + 2 * ffn * dim, channels = 9 * dim + ffn; /* per block */
    CHECK(plain - fp8 == (size_t)cfg.num_layers * (values * 3 - channels * 4));
    return 0;
}

/* FP8_FFN (--precision fp8-ffn) quantises only the blocks' feed-forward pair: made, loaded or set after, the
 * same codes; the attention projections keep the default precision; the forward on each backend stays within
 * 5e-2 of the default one and is no further from it than all block linears in FP8; the byte count saves E4M3
 * on the FFN alone; asking for FP8 afterwards quantises the rest. */
TEST(wan_fp8_ffn_quantises_only_the_feed_forward_layers) {
    const vs_wan_config cfg = {{1, 2, 2}, 2, 64, 128, 16, 16, 48, 256, 160, 2, 1, 1e-6f, 1024};
    for (int b = 0; b < backend_count(); b++) {
        const vs_device dev = g_backends[b]->device;
        vs_wan_model *ffn = NULL, *all = NULL;
        CHECK_OK(vs_wan_model_random(&cfg, dev, 77, &ffn));
        vs_test_defer(free_wan, ffn);
        CHECK_OK(vs_wan_model_random(&cfg, dev, 77, &all));
        vs_test_defer(free_wan, all);
        vs_tensor *lat = vs_test_tensor(), *text = vs_test_tensor(), *ref = vs_test_tensor();
        vs_tensor *out_ffn = vs_test_tensor(), *out_all = vs_test_tensor();
        CHECK(!wan_test_inputs(lat, text, (vs_tensor *[]){ref, out_ffn, out_all}, 3));
        const float t[2] = {700, 300};
        CHECK_OK(vs_wan_forward(ffn, lat, t, text, 0, 1, ref, NULL));
        CHECK_OK(vs_wan_model_set_precision(ffn, VS_PRECISION_FP8_FFN));
        CHECK_OK(vs_wan_model_set_precision(all, VS_PRECISION_FP8));
        CHECK(vs_wan_model_precision(ffn) == VS_PRECISION_FP8_FFN);
        for (int blk = 0; blk < cfg.num_layers; blk++) {
            const vs_wan_block_weights *w = &ffn->weights.blocks[blk];
            CHECK(w->ffn_in.weight.dtype == VS_F8E4M3 && w->ffn_out.weight.dtype == VS_F8E4M3);
            CHECK(w->self_attn.q.weight.dtype != VS_F8E4M3 && w->self_attn.o.weight.dtype != VS_F8E4M3 &&
                  w->cross_attn.k.weight.dtype != VS_F8E4M3 && w->cross_attn.o.weight.dtype != VS_F8E4M3);
        }
        CHECK_OK(vs_wan_forward(ffn, lat, t, text, 0, 1, out_ffn, NULL));
        CHECK_OK(vs_wan_forward(all, lat, t, text, 0, 1, out_all, NULL));
        double *want = vs_test_malloc(sizeof(double) * (size_t)vs_tensor_numel(ref));
        for (int64_t i = 0; i < vs_tensor_numel(ref); i++) want[i] = ((float *)ref->data)[i];
        const double err_ffn = vs_test_rel_l2(out_ffn->data, want, vs_tensor_numel(ref));
        const double err_all = vs_test_rel_l2(out_all->data, want, vs_tensor_numel(ref));
        printf("  %s: Wan forward against %s: FP8 FFN rel L2 %.3g, FP8 block linears %.3g\n", g_backends[b]->name,
               dev == VS_CPU ? "F32" : "BF16", err_ffn, err_all);
        CHECK_MSG(err_ffn < 5e-2 && err_ffn <= err_all, "rel L2 %.3g (all linears %.3g)", err_ffn, err_all);
        CHECK_OK(vs_wan_model_set_precision(ffn, VS_PRECISION_FP8)); /* the attention projections too, now */
        CHECK(vs_wan_model_precision(ffn) == VS_PRECISION_FP8);
    }
    /* made as FP8_FFN, and loaded as it, equal quantising after */
    vs_wan_model *m[4];
    CHECK(!wan_four_ways(&cfg, VS_PRECISION_FP8_FFN, m));
    const vs_wan_weights *pairs[2][2] = {{&m[0]->weights, &m[1]->weights}, {&m[2]->weights, &m[3]->weights}};
    for (int p = 0; p < 2; p++)
        for (int blk = 0; blk < pairs[p][0]->num_blocks; blk++) {
            const vs_wan_linear *a = &pairs[p][0]->blocks[blk].ffn_out, *c = &pairs[p][1]->blocks[blk].ffn_out;
            CHECK(a->weight.dtype == VS_F8E4M3 && c->weight.dtype == VS_F8E4M3);
            CHECK(!memcmp(a->weight.data, c->weight.data, (size_t)vs_tensor_numel(&a->weight)));
            CHECK(!memcmp(a->scale.data, c->scale.data, sizeof(float) * (size_t)a->weight.shape[0]));
            CHECK(pairs[p][1]->blocks[blk].self_attn.v.weight.dtype == VS_F32);
        }
    size_t plain = 0, ffn_bytes = 0;
    CHECK_OK(vs_wan_weights_bytes(&cfg, VS_F32, VS_PRECISION_DEFAULT, &plain));
    CHECK_OK(vs_wan_weights_bytes(&cfg, VS_F32, VS_PRECISION_FP8_FFN, &ffn_bytes));
    const size_t dim = (size_t)cfg.dim, ffn_dim = (size_t)cfg.ffn_dim;
    CHECK(plain - ffn_bytes == (size_t)cfg.num_layers * (2 * ffn_dim * dim * 3 - (dim + ffn_dim) * 4));
    return 0;
}

/* tests/data/tiny-wan-fp8 (tools/make_fp8_checkpoint.py): tests/data/wan/tiny_hd64 as a ComfyUI "fp8_scaled"
 * single file with original-Wan key names. Loaded on the CPU: the block linears keep their E4M3 codes with
 * the file's scales (per tensor, per channel, or none), their dequantised values are tiny-wan's weights to
 * E4M3's rounding, and the forward tracks the F32 model's. */
TEST(fp8_checkpoint_loads_as_users_have_it) {
    vs_wan_model *m32 = NULL, *m8 = NULL;
    CHECK_OK(vs_wan_model_load("tests/data/wan/tiny_hd64", VS_CPU, &m32));
    vs_test_defer(free_wan, m32);
    CHECK_OK(vs_wan_model_load("tests/data/tiny-wan-fp8/transformer", VS_CPU, &m8));
    vs_test_defer(free_wan, m8);
    CHECK(m8->layout == VS_WAN_LAYOUT_ORIGINAL && vs_wan_model_precision(m8) == VS_PRECISION_FP8);
    CHECK(m8->weights.head.weight.dtype == VS_F32 && m8->weights.blocks[0].self_attn.q.bias.dtype == VS_F32);
    const vs_tensor *tp8 = &m8->weights.time_proj.weight, *tp32 = &m32->weights.time_proj.weight; /* dequantised */
    CHECK(tp8->dtype == VS_F32 && vs_test_rel_l2_f32(tp8->data, tp32->data, vs_tensor_numel(tp32)) < 4e-2);
    const float *plain = m8->weights.blocks[0].cross_attn.v.scale.data, *per_channel = m8->weights.blocks[1].ffn_out.scale.data;
    CHECK(plain[0] == 1.0f && per_channel[0] != per_channel[1]);
    for (int b = 0; b < m8->weights.num_blocks; b++) {
        const vs_wan_linear *l8[2] = {&m8->weights.blocks[b].self_attn.k, &m8->weights.blocks[b].ffn_out};
        const vs_wan_linear *l32[2] = {&m32->weights.blocks[b].self_attn.k, &m32->weights.blocks[b].ffn_out};
        for (int i = 0; i < 2; i++) {
            CHECK(l8[i]->weight.dtype == VS_F8E4M3);
            const int64_t out = l8[i]->weight.shape[0], n = vs_tensor_numel(&l8[i]->weight), in = n / out;
            float *deq = vs_test_malloc(sizeof(float) * (size_t)n);
            for (int64_t j = 0; j < n; j++)
                deq[j] = vs_f8e4m3_to_f32(((const uint8_t *)l8[i]->weight.data)[j]) * ((const float *)l8[i]->scale.data)[j / in];
            const double err = vs_test_rel_l2_f32(deq, l32[i]->weight.data, n);
            CHECK_MSG(err < 4e-2, "block %d linear %d: dequantised weights off by %.3g (%g vs %g, scale %g)", b, i, err,
                      deq[0], ((const float *)l32[i]->weight.data)[0], ((const float *)l8[i]->scale.data)[0]);
        }
    }
    vs_tensor *lat = vs_test_tensor(), *text = vs_test_tensor(), *y32 = vs_test_tensor(), *y8 = vs_test_tensor();
    const int64_t lat_shape[5] = {1, m8->config.in_channels, 2, 4, 6}, text_shape[3] = {1, 5, m8->config.text_dim};
    CHECK_OK(vs_tensor_alloc(lat, VS_F32, VS_CPU, 5, lat_shape));
    CHECK_OK(vs_tensor_alloc(text, VS_F32, VS_CPU, 3, text_shape));
    CHECK_OK(vs_tensor_alloc(y32, VS_F32, VS_CPU, 5, lat_shape));
    CHECK_OK(vs_tensor_alloc(y8, VS_F32, VS_CPU, 5, lat_shape));
    CHECK_OK(vs_op_fill_uniform(lat, 8, -1.7f, 1.7f));
    CHECK_OK(vs_op_fill_uniform(text, 9, -1, 1));
    const float t = 600;
    CHECK_OK(vs_wan_forward(m32, lat, &t, text, 0, 1, y32, NULL));
    CHECK_OK(vs_wan_forward(m8, lat, &t, text, 0, 1, y8, NULL));
    const double err = vs_test_rel_l2_f32(y8->data, y32->data, vs_tensor_numel(y32));
    printf("  FP8 checkpoint forward vs the F32 one: rel L2 %.3g\n", err);
    CHECK_MSG(err < 5e-2, "rel L2 %.3g", err);
    if (backend_count() > 1) { /* the same file on CUDA: BF16 activations, cuBLASLt's FP8 GEMMs */
        vs_wan_model *g8 = NULL;
        CHECK_OK(vs_wan_model_load("tests/data/tiny-wan-fp8/transformer", VS_CUDA, &g8));
        vs_test_defer(free_wan, g8);
        for (int64_t i = 0; i < vs_tensor_numel(y32); i++) ((float *)y32->data)[i] = NAN;
        CHECK_OK(vs_wan_forward(g8, lat, &t, text, 0, 1, y32, NULL));
        const double gpu_err = vs_test_rel_l2_f32(y32->data, y8->data, vs_tensor_numel(y8));
        printf("  FP8 checkpoint forward on CUDA vs the CPU's: rel L2 %.3g\n", gpu_err);
        CHECK_MSG(gpu_err < 3e-2, "rel L2 %.3g", gpu_err);
    }
    return 0;
}

/* Writes one FP8 weight "l.weight" [4, 16] with the scale tensor "l.scale_weight" of `dtype` holding the
 * `n` values, and tries to load it; returns the status. */
static vs_status load_with_scale(vs_dtype dtype, const float *values, int64_t n) {
    uint8_t codes[64];
    for (int i = 0; i < 64; i++) codes[i] = vs_f32_to_f8e4m3((float)(i % 9) - 4);
    uint8_t scale_bytes[64];
    if (dtype == VS_I32) for (int64_t i = 0; i < n; i++) ((int32_t *)scale_bytes)[i] = (int32_t)values[i];
    else vs_convert(scale_bytes, dtype, values, VS_F32, n);
    const vs_tensor tensors[2] = {vs_tensor_view(codes, VS_F8E4M3, VS_CPU, 2, (int64_t[]){4, 16}),
                                  vs_tensor_view(scale_bytes, dtype, VS_CPU, 1, &n)};
    const char *names[2] = {"l.weight", "l.scale_weight"}, *path = "test_fp8_scale.safetensors";
    vs_status s = vs_safetensors_write(path, 2, names, tensors, 0, NULL, NULL);
    vs_safetensors *st = NULL;
    if (!s) s = vs_safetensors_open(&st, path);
    vs_tensor w = {0}, scale = {0};
    if (!s) s = vs_fp8_checkpoint_load(st, "l.weight", VS_F8E4M3, VS_CPU, 2, (int64_t[]){4, 16}, &w, &scale);
    if (!s && (((float *)scale.data)[3] != values[n - 1] || w.dtype != VS_F8E4M3)) s = VS_ERR_CUDA;
    vs_tensor_free(&w);
    vs_tensor_free(&scale);
    vs_safetensors_close(st);
    remove(path);
    return s;
}

/* Bad scale tensors and mismatched FP8 weights fail with one line naming the tensor. */
TEST(bad_fp8_scales_fail_with_a_message) {
    CHECK_OK(load_with_scale(VS_F32, (float[]){0.5f}, 1));
    CHECK_OK(load_with_scale(VS_BF16, (float[]){0.5f, 1, 2, 4}, 4)); /* per output channel */
    CHECK_FAILS(load_with_scale(VS_F32, (float[]){-0.5f}, 1), VS_ERR_FORMAT, "'l.scale_weight' holds -0.5");
    CHECK_FAILS(load_with_scale(VS_F32, (float[]){NAN}, 1), VS_ERR_FORMAT, "not a positive finite number");
    CHECK_FAILS(load_with_scale(VS_F32, (float[]){1, 2, 3}, 3), VS_ERR_FORMAT, "has 3 values; 'l.weight' needs 1 or 4");
    CHECK_FAILS(load_with_scale(VS_I32, (float[]){1}, 1), VS_ERR_FORMAT, "is I32, not F32");
    CHECK(!strchr(vs_last_error(), '\n'));
    return 0;
}

static void free_umt5(void *m) {
    vs_umt5_free(m);
}
static void close_st(void *st) {
    vs_safetensors_close(st);
}

/* The umT5 encoder with its feed-forward matrices in FP8, on each backend, against transformers' output
 * (tests/data/umt5, tools/make_umt5_fixtures.py) for padded ids. The tiny random encoder is sensitive (its
 * unscaled attention logits have a spread of about 4): FP8 feed-forward layers move its output by 8e-2,
 * FP8 attention projections would move it by 2e-1 (docs/fp8.md), so the bound here is 0.1. */
TEST(umt5_in_fp8_tracks_transformers) {
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, "tests/data/umt5/reference.safetensors"));
    vs_test_defer(close_st, st);
    const vs_st_entry *ids = vs_safetensors_find(st, "ids"), *mask = vs_safetensors_find(st, "mask"),
                      *hidden = vs_safetensors_find(st, "hidden");
    CHECK(ids && mask && hidden && ids->shape[1] == 24);
    for (int b = 0; b < backend_count(); b++) {
        vs_umt5 *m;
        CHECK_OK(vs_umt5_load(&m, "tests/data/umt5/text_encoder", g_backends[b]->device));
        vs_test_defer(free_umt5, m);
        CHECK_OK(vs_umt5_set_precision(m, VS_PRECISION_FP8));
        float *out = vs_test_malloc(24 * 64 * sizeof *out);
        for (int i = 0; i < 24 * 64; i++) out[i] = NAN;
        CHECK_OK(vs_umt5_encode(m, ids->data, mask->data, 24, out));
        const double err = vs_test_rel_l2_f32(out, hidden->data, 24 * 64);
        printf("  %s: umT5 with FP8 feed-forward matrices vs transformers: rel L2 %.3g\n", g_backends[b]->name, err);
        CHECK_MSG(err < 0.1, "rel L2 %.3g", err);
    }
    return 0;
}

/* --attention-precision's value in the library: FP8 is a setting like the others (a change makes the layers'
 * attention again), anything but the two values is refused in one line, and the CPU refuses FP8 attention. */
TEST(attention_precision_settings) {
    const vs_attention_params now = {.method = "dense"};
    vs_attention_params asked = {.method = "dense", .precision = VS_PRECISION_FP8}, out;
    int changed = 0;
    CHECK_OK(vs_sparse_attention_settings(&asked, &now, "Wan", &out, &changed));
    CHECK(changed && out.precision == VS_PRECISION_FP8);
    asked.precision = (vs_precision)5;
    CHECK_FAILS(vs_sparse_attention_settings(&asked, &now, "Wan", &out, &changed), VS_ERR_INVALID_ARG,
                "attention precision 5");
    float x[3 * 64] = {0}, o[3 * 64];
    vs_attn_args a = {.dtype = VS_F32, .q = x, .k = x, .v = x, .out = o, .batch = 1, .heads = 1, .seq_len = 3,
                      .head_dim = 64, .scale = 0.125f, .fp8 = 1};
    vs_attn_args_contiguous(&a);
    CHECK_FAILS(vs_attention_dense(VS_CPU, &a, NULL), VS_ERR_UNSUPPORTED, "FP8 attention runs on CUDA only");
    return 0;
}

RUN_TESTS(T(linear_fp8_with_outliers_tracks_the_exact_product),
          T(linear_residual_fp8_tracks_the_exact_product), T(cuda_codes_equal_the_cpu_codes),
          T(cuda_norm_codes_equal_the_two_pass_codes), T(cuda_linear_codes_equal_the_two_pass_codes),
          T(bad_operands_fail_with_a_message), T(wan_forward_in_fp8_tracks_the_default_precision),
          T(wan_forward_with_only_later_blocks_in_fp8), T(wan_quantised_as_it_loads_equals_quantised_after),
          T(wan_fp8_ffn_quantises_only_the_feed_forward_layers), T(fp8_checkpoint_loads_as_users_have_it),
          T(bad_fp8_scales_fail_with_a_message), T(umt5_in_fp8_tracks_transformers),
          T(attention_precision_settings))
