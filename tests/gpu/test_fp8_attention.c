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
    float q_head0;                /* head 0 of q scaled by this (a power of two; 0: not) */
    int heads_per_call;           /* VS_FP8_ATTENTION_HEADS for the case (0: the default) */
} case_desc;

static unsigned long long rng = 0x2545f4914f6cdd1dULL;

static void free_device(void *p) { cudaFree(p); }

/* A [B, rows, H, D] BF16 tensor with `pad` extra elements per row (fp8_sim_input), head 0 times head0 (a
 * power of two, exact in BF16; 0: as made): host copy (the BF16 values as floats) and device copy. */
static int make_input(int B, int rows, int H, int D, int pad, float outliers, float offset, float head0,
                      float **host, uint16_t **device) {
    const int64_t row = (int64_t)H * D + pad, n = (int64_t)B * rows * row;
    uint16_t *bits;
    float *h = fp8_sim_input(&rng, B, rows, H, D, pad, outliers, offset, &bits);
    for (int64_t i = 0; head0 != 0 && i < n; i++)
        if (i % row < D) h[i] *= head0, bits[i] = vs_f32_to_bf16(h[i]);
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
    CHECK(make_input(B, N, H, D, c->row_pad, c->q_outliers, 0, c->q_head0, &q, &dq));
    CHECK(make_input(B, L, H, D, c->row_pad, 1, c->k_offset, 0, &k, &dk));
    CHECK(make_input(B, L, H, D, c->row_pad, c->v_outliers, 0, 0, &v, &dv));
    CHECK(cudaMalloc((void **)&dout, sizeof(uint16_t) * (size_t)out_n) == cudaSuccess);
    vs_test_defer(free_device, dout);
    CHECK(cudaMemset(dout, 0xff, sizeof(uint16_t) * (size_t)out_n) == cudaSuccess); /* NaN */

    vs_attn_args a = {.dtype = VS_BF16, .q = dq, .k = dk, .v = dv, .out = dout, .batch = B, .heads = H,
                      .seq_len = N, .head_dim = D, .kv_len = c->kv_len, .scale = 1.0f / sqrtf((float)D), .fp8 = 1};
    a.q_stride_n = a.k_stride_n = a.v_stride_n = row, a.o_stride_n = (int64_t)H * D;
    a.q_stride_b = N * row, a.k_stride_b = a.v_stride_b = L * row, a.o_stride_b = (int64_t)N * H * D;
    char heads_per_call[16];
    snprintf(heads_per_call, sizeof heads_per_call, "%d", c->heads_per_call);
    if (c->heads_per_call) setenv("VS_FP8_ATTENTION_HEADS", heads_per_call, 1);
    const vs_status run = vs_attention_dense(VS_CUDA, &a, NULL);
    unsetenv("VS_FP8_ATTENTION_HEADS");
    CHECK_OK(run);
    uint16_t *bits = vs_test_malloc(sizeof(uint16_t) * (size_t)out_n);
    float *got = vs_test_malloc(sizeof(float) * (size_t)out_n);
    CHECK(cudaMemcpy(bits, dout, sizeof(uint16_t) * (size_t)out_n, cudaMemcpyDeviceToHost) == cudaSuccess);
    for (int64_t i = 0; i < out_n; i++) got[i] = vs_bf16_to_f32(bits[i]);

    double *exact = vs_test_malloc(sizeof(double) * (size_t)out_n), *quant = vs_test_malloc(sizeof(double) * (size_t)out_n);
    fp8_sim_attention(q, k, v, B, N, L, H, D, row, 0, 0, exact);
    fp8_sim_quantise_qk(q, k, B, N, L, H, D, row, 1);
    fp8_sim_quantise(v, B, L, H, D, row, 0);
    fp8_sim_attention(q, k, v, B, N, L, H, D, row, 0, 0, quant);
    const int out_e4m3 = out_in_e4m3(dout, B, N, L, H, D) == 1;
    double *model = vs_test_malloc(sizeof(double) * (size_t)out_n);
    fp8_sim_attention(q, k, v, B, N, L, H, D, row, 1, out_e4m3, model);
    const double vs_exact = vs_test_rel_l2(got, exact, out_n), vs_quant = vs_test_rel_l2(got, quant, out_n);
    printf("  B %d H %d N %d L %d D %d (q x%g, v x%g, k offset %g, pad %d, q head 0 x%g, %d heads a call): "
           "rel L2 "
           "vs exact %.4f, vs the quantised inputs' exact attention %.4f, vs the host model of the kernel "
           "%.4f\n",
           B, H, N, L, D, c->q_outliers, c->v_outliers, c->k_offset, c->row_pad, c->q_head0,
           c->heads_per_call, vs_exact, vs_quant, vs_test_rel_l2(got, model, out_n));
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
TEST(small_self_attention) {
    return run_case(&(case_desc){1, 2, 300, 0, 128, 1, 1, 0, 0, 0.10, 0, 0});
}
TEST(ragged_batch_two_outlier_v_offset_k) {
    return run_case(&(case_desc){2, 3, 517, 0, 128, 1, 100, 20, 0, 0.10, 0, 0});
}
TEST(cross_attention_head_dim_64_padded_rows) {
    return run_case(&(case_desc){1, 2, 333, 77, 64, 1, 1, 5, 8, 0.10, 0, 0});
}
TEST(outlier_q_channels) {
    return run_case(&(case_desc){1, 2, 260, 0, 128, 100, 1, 0, 0, 0, 0, 0});
}
/* Heads in groups (here 2 + 2 + 1 a cuDNN call), one of them 16x louder in q: Q's scale is one for all heads
 * (K's per-head scales folded into it), which E4M3's exponent absorbs. The loud head's logits are 16x larger,
 * so its Q rounding moves them by 16x more (against the exact attention: reported, as outlier_q_channels). */
TEST(head_groups_with_a_loud_q_head) {
    return run_case(&(case_desc){2, 5, 300, 0, 128, 1, 1, 3, 0, 0, 16, 2});
}

/* SVG with FP8 attention: step 0 dense in FP8, step 1 the band path in FP8 (gathered E4M3 codes, cuDNN's FP8
 * graph with statistics, the FP8 merge), each against the same step in BF16 on the same inputs (the profile,
 * in BF16 either way, picks the same head layouts). Ragged: 5 frames of 300 tokens (11.7 blocks), with and
 * without 77 text tokens after the video (a dense tail: the rows outside the band run on our kernel in
 * BF16). */
static int svg_fp8_against_bf16(int text) {
    enum { F = 5, P = 300, H = 2, D = 128 };
    const int N = F * P + text;
    vs_sparse_attention *attn[2] = {NULL, NULL};
    for (int fp8 = 0; fp8 <= 1; fp8++) {
        vs_sparse_setup setup = {VS_CUDA, 1, H, N, D, 1, vs_svg_config_default(F, P, text, 0.25), {0}};
        vs_attention_params params = {.method = "svg",
                                      .density = 0.25,
                                      .dense_steps = 0.5,
                                      .dense_layers = 0,
                                      .precision = fp8 ? VS_PRECISION_FP8 : VS_PRECISION_DEFAULT};
        CHECK_OK(vs_sparse_attention_create(&attn[fp8], &setup, &params, 1));
        vs_test_defer((void (*)(void *))vs_sparse_attention_free, attn[fp8]);
    }
    const int64_t shape[4] = {1, N, H, D}, n = (int64_t)N * H * D;
    vs_tensor *t[5];
    float *host;
    uint16_t *dev;
    for (int i = 0; i < 5; i++) {
        CHECK(make_input(1, N, H, D, 0, 1, i == 1 ? 3 : 0, 0, &host, &dev));
        t[i] = vs_test_tensor();
        *t[i] = vs_tensor_view(dev, VS_BF16, VS_CUDA, 4, shape);
    }
    uint16_t *bits = vs_test_malloc(sizeof(uint16_t) * (size_t)n);
    float *out[2] = {vs_test_malloc(sizeof(float) * (size_t)n), vs_test_malloc(sizeof(float) * (size_t)n)};
    for (int step = 0; step < 2; step++) {
        for (int fp8 = 0; fp8 <= 1; fp8++) {
            vs_tensor *o = t[3 + fp8];
            CHECK(cudaMemset(o->data, 0xff, sizeof(uint16_t) * (size_t)n) == cudaSuccess); /* NaN */
            CHECK_OK(vs_sparse_attention_run(attn[fp8], 0, step, 2, t[0], t[1], t[2], o, NULL));
            CHECK(cudaMemcpy(bits, o->data, sizeof(uint16_t) * (size_t)n, cudaMemcpyDeviceToHost) ==
                  cudaSuccess);
            for (int64_t i = 0; i < n; i++) {
                out[fp8][i] = vs_bf16_to_f32(bits[i]);
                CHECK_MSG(isfinite(out[fp8][i]), "step %d, %s: output %lld is not finite", step,
                          fp8 ? "FP8" : "BF16", (long long)i);
            }
        }
        const double d = vs_test_rel_l2_f32(out[1], out[0], n);
        printf("  %d text tokens, step %d (%s): FP8 against BF16 rel L2 %.4f\n", text, step,
               step ? "SVG, the band path" : "dense", d);
        /* random inputs: FP8 dense attention is 0.067 from BF16 at Wan's sizes */
        CHECK_MSG(d < 0.10, "SVG in FP8 differs from BF16 by %.4f at step %d", d, step);
    }
    return 0;
}

TEST(svg_band_path_in_fp8) {
    return svg_fp8_against_bf16(0);
}
TEST(svg_band_path_in_fp8_with_text_tail) {
    return svg_fp8_against_bf16(77);
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
          T(cross_attention_head_dim_64_padded_rows), T(outlier_q_channels),
          T(head_groups_with_a_loud_q_head), T(svg_band_path_in_fp8), T(svg_band_path_in_fp8_with_text_tail),
          T(refused_where_unsupported))
