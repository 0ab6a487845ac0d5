/* FP8 attention's scheme on the CPU (tests/fp8_attention_sim.h: per-head E4M3 scales, K smoothed by its mean,
 * P in E4M3 at scale 448, O in E4M3 at 384 / amax(V) when cuDNN writes E4M3) against the exact f64 attention
 * of the BF16 inputs, on the GPU test's cases: outlier channels, a large common offset in K, ragged sizes,
 * cross-attention, head dims 64 and 128. It checks the error the scheme itself costs (which bounds
 * tests/gpu/test_fp8_attention.c can hold the kernel to) and that smoothing K is what keeps an offset key
 * usable. Prints the relative L2 distances docs/fp8.md quotes. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "fp8_attention_sim.h"

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

typedef struct {
    int batch, heads, seq_len, kv_len, head_dim;
    float q_outliers, v_outliers, k_offset;
} sim_case;

/* Relative L2 distances from the exact attention: *scheme of the model (out in BF16 or E4M3), *inputs of the
 * exact attention of the quantised inputs alone. */
static void simulate(const sim_case *c, int smooth, int out_e4m3, double *scheme, double *inputs) {
    const int B = c->batch, H = c->heads, N = c->seq_len, L = c->kv_len, D = c->head_dim;
    const int64_t row = (int64_t)H * D, out_n = (int64_t)B * N * H * D;
    uint16_t *bits;
    float *q = fp8_sim_input(&rng, B, N, H, D, 0, c->q_outliers, 0, &bits);
    float *k = fp8_sim_input(&rng, B, L, H, D, 0, 1, c->k_offset, &bits);
    float *v = fp8_sim_input(&rng, B, L, H, D, 0, c->v_outliers, 0, &bits);
    double *exact = vs_test_malloc(sizeof(double) * (size_t)out_n),
           *got = vs_test_malloc(sizeof(double) * (size_t)out_n);
    float *got_f = vs_test_malloc(sizeof(float) * (size_t)out_n);
    fp8_sim_attention(q, k, v, B, N, L, H, D, row, 0, 0, exact);
    fp8_sim_quantise_qk(q, k, B, N, L, H, D, row, smooth);
    fp8_sim_quantise(v, B, L, H, D, row, 0);
    fp8_sim_attention(q, k, v, B, N, L, H, D, row, 0, 0, got);
    for (int64_t i = 0; i < out_n; i++)
        got_f[i] = (float)got[i];
    *inputs = vs_test_rel_l2(got_f, exact, out_n);
    fp8_sim_attention(q, k, v, B, N, L, H, D, row, 1, out_e4m3, got);
    for (int64_t i = 0; i < out_n; i++)
        got_f[i] = vs_bf16_to_f32(vs_f32_to_bf16((float)got[i]));
    *scheme = vs_test_rel_l2(got_f, exact, out_n);
}

static int check_case(const sim_case *c, double bound) {
    for (int out_e4m3 = 0; out_e4m3 <= 1; out_e4m3++) {
        double scheme, inputs;
        simulate(c, 1, out_e4m3, &scheme, &inputs);
        printf("  B %d H %d N %d L %d D %d (q x%g, v x%g, k offset %g), %s out: rel L2 vs exact %.4f (the "
               "quantised inputs alone %.4f)\n",
               c->batch, c->heads, c->seq_len, c->kv_len, c->head_dim, c->q_outliers, c->v_outliers,
               c->k_offset, out_e4m3 ? "E4M3" : "BF16", scheme, inputs);
        CHECK_MSG(scheme < bound, "FP8 attention's scheme is %.4f from the exact attention (bound %.2f)",
                  scheme, bound);
        CHECK(inputs <= scheme * 1.05);
    }
    return 0;
}

/* Uniform random attention is FP8's hard case (near-uniform weights average V down, so rounding stands out).
 */
TEST(uniform_self_attention) {
    return check_case(&(sim_case){1, 2, 300, 300, 128, 1, 1, 0}, 0.10);
}
TEST(ragged_batch_outlier_v_offset_k) {
    return check_case(&(sim_case){2, 1, 133, 133, 128, 1, 100, 20}, 0.10);
}
TEST(cross_attention_head_dim_64) {
    return check_case(&(sim_case){1, 2, 133, 77, 64, 1, 1, 5}, 0.10);
}

/* Without smoothing, a common offset of up to 20 in every key channel sets K's scale, and the differences
 * between keys fall into E4M3's coarse steps. */
TEST(smoothing_k_is_what_keeps_an_offset_key) {
    const sim_case c = {1, 1, 200, 200, 128, 1, 1, 20};
    double smoothed, plain, inputs;
    simulate(&c, 1, 1, &smoothed, &inputs);
    simulate(&c, 0, 1, &plain, &inputs);
    printf("  k offset 20: rel L2 vs exact %.4f with smoothing, %.4f without\n", smoothed, plain);
    CHECK(smoothed < 0.10);
    CHECK(plain > 3 * smoothed);
    return 0;
}

/* Q's one scale for all heads (K's per-head scales folded in, so that one cuDNN call serves many heads)
 * against a scale per head of Q, with heads far apart: q's head 0 x64, k's head 1 x16, head 2 of both /32. */
TEST(folded_q_scale_with_unequal_heads) {
    enum { B = 1, H = 4, N = 150, D = 128 };
    const int64_t row = H * D, n = (int64_t)B * N * row;
    uint16_t *bits;
    float *q = fp8_sim_input(&rng, B, N, H, D, 0, 1, 0, &bits),
          *k = fp8_sim_input(&rng, B, N, H, D, 0, 1, 3, &bits);
    float *v = fp8_sim_input(&rng, B, N, H, D, 0, 1, 0, &bits);
    for (int64_t i = 0; i < n; i++) {
        const int h = (int)(i % row / D);
        q[i] *= h == 0 ? 64.0f : h == 2 ? 1 / 32.0f : 1.0f;
        k[i] *= h == 1 ? 16.0f : h == 2 ? 1 / 32.0f : 1.0f;
    }
    double *exact = vs_test_malloc(sizeof(double) * (size_t)n),
           *got = vs_test_malloc(sizeof(double) * (size_t)n);
    float *got_f = vs_test_malloc(sizeof(float) * (size_t)n);
    fp8_sim_attention(q, k, v, B, N, N, H, D, row, 0, 0, exact);
    double err[2];
    for (int folded = 0; folded <= 1; folded++) {
        float *qq = vs_test_malloc(sizeof(float) * (size_t)n),
              *kk = vs_test_malloc(sizeof(float) * (size_t)n);
        memcpy(qq, q, sizeof(float) * (size_t)n), memcpy(kk, k, sizeof(float) * (size_t)n);
        if (folded) {
            fp8_sim_quantise_qk(qq, kk, B, N, N, H, D, row, 1);
        } else {
            fp8_sim_quantise(qq, B, N, H, D, row, 0);
            fp8_sim_quantise(kk, B, N, H, D, row, 1);
        }
        fp8_sim_attention(qq, kk, v, B, N, N, H, D, row, 0, 0, got);
        for (int64_t i = 0; i < n; i++)
            got_f[i] = (float)got[i];
        err[folded] = vs_test_rel_l2(got_f, exact, n);
    }
    printf("  heads apart by up to 2^16 in q.k: rel L2 of the quantised Q, K vs exact %.4f with a scale per "
           "head of "
           "Q, %.4f with one folded scale\n",
           err[0], err[1]);
    CHECK(err[1] < err[0] * 1.10 + 0.002);
    return 0;
}

RUN_TESTS(T(uniform_self_attention), T(ragged_batch_outlier_v_offset_k), T(cross_attention_head_dim_64),
          T(smoothing_k_is_what_keeps_an_offset_key), T(folded_q_scale_with_unequal_heads))
