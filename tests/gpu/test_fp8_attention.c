/* FP8 dense attention (--attention-precision fp8, backend/cuda/fp8_attention.cu) against two f64 references
 * on fresh random inputs: the exact attention of the BF16 inputs (what FP8 costs in all), and the exact
 * attention of the inputs as our quantisation leaves them (per-head E4M3 scales, K minus its mean over the
 * tokens, decoded on the host), which isolates the kernel: what remains is cuDNN's E4M3 rounding of the
 * probabilities. Inputs have outlier channels (100x in V, a large common offset in K that only smoothing
 * removes, 100x in Q), ragged token counts, cross-attention, token rows wider than H x D, and NaN-poisoned
 * outputs. Prints the relative L2 distances (the FP8-against-exact report). */
#include <cuda_runtime.h>
#include <math.h>
#include <stdlib.h>

#include "backend/cuda/cudnn_attention.h"
#include "check.h"
#include "fp8_attention_sim.h"
#include "core/dtype.h"
#include "core/status.h"
#include "ops/attention.h"
#include "sparse/sparse_attention.h"
#include "sparse/svg.h"

typedef struct {
    int batch, heads, seq_len, kv_len, head_dim;
    float q_outliers, v_outliers; /* every 37th channel from 5 scaled by this */
    float k_offset;               /* a per-channel constant of up to this much added to every key */
    int row_pad;                  /* extra elements per token row */
    double max_vs_exact;          /* bound against the exact attention (0: reported only) */
} case_desc;

static unsigned long long rng = 0x2545f4914f6cdd1dULL;

static void free_device(void *p) { cudaFree(p); }

/* A [B, rows, H, D] BF16 tensor with `pad` extra elements per row (fp8_sim_input): host copy (the BF16 values
 * as floats) and device copy. */
static int make_input(int B, int rows, int H, int D, int pad, float outliers, float offset, float **host,
                      uint16_t **device) {
    const int64_t n = (int64_t)B * rows * ((int64_t)H * D + pad);
    uint16_t *bits;
    float *h = fp8_sim_input(&rng, B, rows, H, D, pad, outliers, offset, &bits);
    void *d = NULL;
    if (cudaMalloc(&d, sizeof(uint16_t) * (size_t)n) != cudaSuccess) return 0;
    vs_test_defer(free_device, d);
    if (cudaMemcpy(d, bits, sizeof(uint16_t) * (size_t)n, cudaMemcpyHostToDevice) != cudaSuccess) return 0;
    *host = h, *device = d;
    return 1;
}

/* One head of FP8 attention as fp8_attention.cu hands it to cuDNN (codes contiguous, out [B, N, H, D]);
 * `device` only has to be a valid aligned pointer: nothing runs. */
static vs_attn_args one_head(void *device, int B, int N, int L, int H, int D) {
    vs_attn_args a = {.dtype = VS_BF16, .q = device, .k = device, .v = device, .out = device, .batch = B,
                      .heads = 1, .seq_len = N, .kv_len = L, .head_dim = D, .scale = 1.0f / sqrtf((float)D)};
    a.q_stride_b = (int64_t)N * D, a.q_stride_n = D, a.k_stride_b = a.v_stride_b = (int64_t)L * D;
    a.k_stride_n = a.v_stride_n = D, a.o_stride_b = (int64_t)N * H * D, a.o_stride_n = (int64_t)H * D;
    return a;
}

/* Which of cuDNN's FP8 graph forms have an engine, per head dim and token counts (among them 75,600 tokens,
 * Wan 14B 720p, and 1.3B 480p's cross-attention with CFG: 2 x 32,760 queries, 512 keys): a table for
 * docs/fp8.md, and cuDNN's answer to each refused form once. Reports only; the cases below fail when no
 * form serves them. */
TEST(probe_cudnn_fp8_forms) {
    void *device = NULL;
    CHECK(cudaMalloc(&device, 256) == cudaSuccess);
    vs_test_defer(free_device, device);
    static const int sizes[][4] = {{128, 1, 260, 260},     {128, 1, 1500, 77}, {128, 2, 32760, 512},
                                   {128, 1, 75600, 75600}, {64, 1, 1024, 1024}}; /* D, B, N, L */
    char said[8] = {0};
    printf("  forms: ");
    for (int f = 0; f < vs_cudnn_fp8_form_count; f++) {
        const vs_cudnn_fp8_form *x = &vs_cudnn_fp8_forms[f];
        printf("%d = %s out%s%s%s; ", f, x->out_e4m3 ? "E4M3" : "BF16", x->stats ? " +stats" : "",
               x->padded ? " +padded" : "", x->scale_o_value ? " +scale_o value" : "");
    }
    printf("\n");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const vs_attn_args a = one_head(device, sizes[i][1], sizes[i][2], sizes[i][3], 12, sizes[i][0]);
        const int d = a.head_dim;
        printf("  D %3d B %d N %5d L %5d:", d, a.batch, a.seq_len, a.kv_len);
        for (int f = 0; f < vs_cudnn_fp8_form_count; f++) {
            const vs_status s = vs_cudnn_fp8_supported(&a, &vs_cudnn_fp8_forms[f]);
            printf(" %d %s", f, s == VS_OK ? "OK" : "no");
            if (s != VS_OK && !said[f]) said[f] = 1, printf(" [%s]", vs_last_error());
        }
        printf("\n");
    }
    return 0;
}

/* The form vs_cudnn_fp8_pick chooses for the per-head shape of a case (E4M3 out rounds O once more). */
static int out_in_e4m3(void *device, int B, int N, int L, int H, int D) {
    const vs_attn_args a = one_head(device, B, N, L, H, D);
    vs_cudnn_fp8_form form = {0};
    if (vs_cudnn_fp8_pick(&a, &form) != VS_OK) return -1;
    printf("  form for B %d N %d L %d D %d: %s out%s%s%s\n", B, N, L, D, form.out_e4m3 ? "E4M3" : "BF16",
           form.stats ? ", statistics out" : "", form.padded ? ", padded" : "",
           form.scale_o_value ? ", scale_o by value" : "");
    return form.out_e4m3;
}

static int run_case(const case_desc *c) {
    const int B = c->batch, H = c->heads, N = c->seq_len, L = c->kv_len ? c->kv_len : N, D = c->head_dim;
    const int64_t row = (int64_t)H * D + c->row_pad, out_n = (int64_t)B * N * H * D;
    float *q, *k, *v;
    uint16_t *dq, *dk, *dv, *dout;
    CHECK(make_input(B, N, H, D, c->row_pad, c->q_outliers, 0, &q, &dq));
    CHECK(make_input(B, L, H, D, c->row_pad, 1, c->k_offset, &k, &dk));
    CHECK(make_input(B, L, H, D, c->row_pad, c->v_outliers, 0, &v, &dv));
    CHECK(cudaMalloc((void **)&dout, sizeof(uint16_t) * (size_t)out_n) == cudaSuccess);
    vs_test_defer(free_device, dout);
    CHECK(cudaMemset(dout, 0xff, sizeof(uint16_t) * (size_t)out_n) == cudaSuccess); /* NaN */

    vs_attn_args a = {.dtype = VS_BF16, .q = dq, .k = dk, .v = dv, .out = dout, .batch = B, .heads = H,
                      .seq_len = N, .head_dim = D, .kv_len = c->kv_len, .scale = 1.0f / sqrtf((float)D), .fp8 = 1};
    a.q_stride_n = a.k_stride_n = a.v_stride_n = row, a.o_stride_n = (int64_t)H * D;
    a.q_stride_b = N * row, a.k_stride_b = a.v_stride_b = L * row, a.o_stride_b = (int64_t)N * H * D;
    CHECK_OK(vs_attention_dense(VS_CUDA, &a, NULL));
    uint16_t *bits = vs_test_malloc(sizeof(uint16_t) * (size_t)out_n);
    float *got = vs_test_malloc(sizeof(float) * (size_t)out_n);
    CHECK(cudaMemcpy(bits, dout, sizeof(uint16_t) * (size_t)out_n, cudaMemcpyDeviceToHost) == cudaSuccess);
    for (int64_t i = 0; i < out_n; i++) got[i] = vs_bf16_to_f32(bits[i]);

    double *exact = vs_test_malloc(sizeof(double) * (size_t)out_n), *quant = vs_test_malloc(sizeof(double) * (size_t)out_n);
    fp8_sim_attention(q, k, v, B, N, L, H, D, row, 0, 0, exact);
    fp8_sim_quantise(q, B, N, H, D, row, 0);
    fp8_sim_quantise(k, B, L, H, D, row, 1);
    fp8_sim_quantise(v, B, L, H, D, row, 0);
    fp8_sim_attention(q, k, v, B, N, L, H, D, row, 0, 0, quant);
    const int out_e4m3 = out_in_e4m3(dout, B, N, L, H, D) == 1;
    double *model = vs_test_malloc(sizeof(double) * (size_t)out_n);
    fp8_sim_attention(q, k, v, B, N, L, H, D, row, 1, out_e4m3, model);
    const double vs_exact = vs_test_rel_l2(got, exact, out_n), vs_quant = vs_test_rel_l2(got, quant, out_n);
    printf("  B %d H %d N %d L %d D %d (q x%g, v x%g, k offset %g, pad %d): rel L2 vs exact %.4f, vs the "
           "quantised inputs' exact attention %.4f, vs the host model of the kernel %.4f\n",
           B, H, N, L, D, c->q_outliers, c->v_outliers, c->k_offset, c->row_pad, vs_exact, vs_quant,
           vs_test_rel_l2(got, model, out_n));
    /* What remains against the quantised inputs is the E4M3 rounding of P (0.022 simulated), and of O when
     * cuDNN writes it in E4M3 (2^-4 relative steps: about 0.036 more; tests/test_fp8_attention_sim.c). */
    const double bound = out_e4m3 ? 0.06 : 0.04;
    CHECK_MSG(vs_quant < bound, "FP8 attention differs from its quantised inputs' exact attention by %.4f (bound %.2f)",
              vs_quant, bound);
    if (c->max_vs_exact > 0)
        CHECK_MSG(vs_exact < c->max_vs_exact, "FP8 attention is %.4f from the exact one (bound %.2f)", vs_exact,
                  c->max_vs_exact);
    return 0;
}

/* Uniform random attention is FP8's hard case (near-uniform weights average the values down to a tenth of their
 * norm, so the rounding stands out: 0.058 in a host simulation); q x100 makes logits that E4M3's 2^-4 steps
 * move by whole units (0.23 simulated): reported, not bounded. */
TEST(small_self_attention) { return run_case(&(case_desc){1, 2, 300, 0, 128, 1, 1, 0, 0, 0.10}); }
TEST(ragged_batch_two_outlier_v_offset_k) { return run_case(&(case_desc){2, 3, 517, 0, 128, 1, 100, 20, 0, 0.10}); }
TEST(cross_attention_head_dim_64_padded_rows) { return run_case(&(case_desc){1, 2, 333, 77, 64, 1, 1, 5, 8, 0.10}); }
TEST(outlier_q_channels) { return run_case(&(case_desc){1, 2, 260, 0, 128, 100, 1, 0, 0, 0}); }

TEST(svg_with_fp8_dense_warmup) {
    enum { F = 5, P = 300, N = F * P, H = 2, D = 128 };
    vs_sparse_setup setup = {VS_CUDA, 1, H, N, D, 1, vs_svg_config_default(F, P, 0, 0.25), {0}};
    vs_attention_params params = {.method = "svg", .density = 0.25, .dense_steps = 0.5, .dense_layers = 0,
                                  .precision = VS_PRECISION_FP8};
    vs_sparse_attention *attn = NULL;
    CHECK_OK(vs_sparse_attention_create(&attn, &setup, &params, 1));
    vs_test_defer((void (*)(void *))vs_sparse_attention_free, attn);
    const int64_t shape[4] = {1, N, H, D};
    vs_tensor *t[4];
    float *host;
    uint16_t *dev;
    for (int i = 0; i < 4; i++) {
        CHECK(make_input(1, N, H, D, 0, 1, 0, &host, &dev));
        t[i] = vs_test_tensor();
        *t[i] = vs_tensor_view(dev, VS_BF16, VS_CUDA, 4, shape);
    }
    uint16_t *bits = vs_test_malloc(sizeof(uint16_t) * N * H * D);
    for (int step = 0; step < 2; step++) { /* step 0 dense in FP8, step 1 SVG (BF16 sparse rows) */
        CHECK(cudaMemset(t[3]->data, 0xff, sizeof(uint16_t) * N * H * D) == cudaSuccess);
        CHECK_OK(vs_sparse_attention_run(attn, 0, step, 2, t[0], t[1], t[2], t[3], NULL));
        CHECK(cudaMemcpy(bits, t[3]->data, sizeof(uint16_t) * N * H * D, cudaMemcpyDeviceToHost) == cudaSuccess);
        for (int64_t i = 0; i < (int64_t)N * H * D; i++) CHECK(isfinite(vs_bf16_to_f32(bits[i])));
    }
    return 0;
}

TEST(refused_where_unsupported) {
    float x[4 * 64] = {0}, o[4 * 64];
    vs_attn_args a = {.dtype = VS_F32, .q = x, .k = x, .v = x, .out = o, .batch = 1, .heads = 1, .seq_len = 4,
                      .head_dim = 64, .scale = 0.125f, .fp8 = 1};
    vs_attn_args_contiguous(&a);
    CHECK_FAILS(vs_attention_dense(VS_CPU, &a, NULL), VS_ERR_UNSUPPORTED, "FP8 attention runs on CUDA");
    a.dtype = VS_F16;
    uint16_t *d = NULL;
    CHECK(cudaMalloc((void **)&d, 4 * 64 * 2) == cudaSuccess);
    vs_test_defer(free_device, d);
    a.q = a.k = a.v = a.out = d;
    CHECK_FAILS(vs_attention_dense(VS_CUDA, &a, NULL), VS_ERR_UNSUPPORTED, "takes BF16");
    return 0;
}

RUN_TESTS(T(probe_cudnn_fp8_forms), T(small_self_attention), T(ragged_batch_two_outlier_v_offset_k),
          T(cross_attention_head_dim_64_padded_rows),
          T(outlier_q_channels), T(svg_with_fp8_dense_warmup), T(refused_where_unsupported))
