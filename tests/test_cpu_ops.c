#include <stdlib.h>

#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/gemm_loop.h"
#include "check.h"

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

/* n uniform values in [lo, hi), freed after the case. */
static float *random_floats(int64_t n, float lo, float hi) {
    float *v = vs_test_malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    for (int64_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * (float)vs_test_uniform(&rng);
    return v;
}

typedef void (*gemm_fn)(int, int, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t,
                        float, float *, int64_t);

/* One GEMM against a double-precision loop. Leading dimensions exceed the row
 * lengths and the padding holds garbage that must neither be read nor written. */
static int check_gemm(gemm_fn gemm, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, float beta) {
    int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
    int64_t lda = a_cols + 3, ldb = b_cols + 5, ldc = n + 2;
    float *a = random_floats(a_rows * lda, -1, 1), *b = random_floats(b_rows * ldb, -1, 1);
    float *c = random_floats(m * ldc, -1, 1);
    double *ref = vs_test_malloc(sizeof(double) * (size_t)(m * n > 0 ? m * n : 1));
    float *got = vs_test_malloc(sizeof(float) * (size_t)(m * n > 0 ? m * n : 1));
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < ldc; j++)
            if (j >= n) c[r * ldc + j] = 12345.0f; /* padding sentinel */
            else if (beta == 0.0f) c[r * ldc + j] = NAN; /* beta = 0 must not read C */
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            ref[i * n + j] = alpha * s + (beta == 0.0f ? 0.0 : (double)beta * c[i * ldc + j]);
        }
    gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    int pad_ok = 1;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++)
            if (j < n) got[i * n + j] = c[i * ldc + j];
            else pad_ok &= c[i * ldc + j] == 12345.0f;
    double err = vs_test_rel_l2(got, ref, m * n);
    CHECK_MSG(pad_ok, "gemm ta=%d tb=%d m=%lld n=%lld k=%lld wrote past n", ta, tb, (long long)m, (long long)n,
              (long long)k);
    CHECK_MSG(err < 1e-5, "gemm ta=%d tb=%d m=%lld n=%lld k=%lld alpha=%g beta=%g: rel err %g", ta, tb, (long long)m,
              (long long)n, (long long)k, alpha, beta, err);
    return 0;
}

static int check_gemm_shapes(gemm_fn gemm) {
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {37, 301, 19}, {67, 13, 523}, {129, 259, 67}, {1, 517, 300},
                                 {45, 1, 263}, {5, 7, 0}};
    const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 1.0f}, {-1.25f, 0.75f}};
    for (int s = 0; s < 8; s++)
        for (int t = 0; t < 4; t++)
            CHECK(check_gemm(gemm, t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2], ab[(s + t) % 3][0],
                             ab[(s + t) % 3][1]) == 0);
    return 0;
}

TEST(gemm_matches_double_reference) { return check_gemm_shapes(vs_cpu_gemm); }
TEST(gemm_loop_matches_double_reference) { return check_gemm_shapes(vs_cpu_gemm_loop); }

TEST(gemm_with_empty_output_touches_nothing) {
    float c = 7.0f;
    vs_cpu_gemm(0, 0, 0, 1, 4, 1.0f, NULL, 4, NULL, 1, 0.0f, &c, 1);
    vs_cpu_gemm_loop(0, 1, 1, 0, 4, 1.0f, NULL, 4, NULL, 4, 0.0f, &c, 1);
    CHECK(c == 7.0f);
    return 0;
}

/* The norms with weights are test_backend_ops' rows; what the ops never ask: no weight, and y = x. */
TEST(rmsnorm_without_weight_and_in_place) {
    const int64_t rows = 37, dim = 333;
    float *x = random_floats(rows * dim, -3, 5), *w = random_floats(dim, 0.5f, 1.5f);
    float *y = vs_test_malloc(sizeof(float) * rows * dim), *y2 = vs_test_malloc(sizeof(float) * rows * dim);
    double *ref = vs_test_malloc(sizeof(double) * rows * dim);
    for (int64_t r = 0; r < rows; r++) {
        double sq = 0;
        for (int64_t i = 0; i < dim; i++) sq += (double)x[r * dim + i] * x[r * dim + i];
        for (int64_t i = 0; i < dim; i++) ref[r * dim + i] = x[r * dim + i] / sqrt(sq / dim + 1e-6);
    }
    vs_cpu_rmsnorm(y, x, NULL, rows, dim, 1e-6f);
    double err = vs_test_rel_l2(y, ref, rows * dim);
    CHECK_MSG(err < 1e-5, "rel err %g", err);
    memcpy(y, x, sizeof(float) * rows * dim);
    vs_cpu_rmsnorm(y, y, w, rows, dim, 1e-6f);
    vs_cpu_rmsnorm(y2, x, w, rows, dim, 1e-6f);
    CHECK(memcmp(y, y2, sizeof(float) * rows * dim) == 0);
    return 0;
}

TEST(activations_match_double_reference) {
    const int64_t n = 70001; /* several pool chunks */
    float *x = random_floats(n, -8, 8), *y = vs_test_malloc(sizeof(float) * n);
    double *ref = vs_test_malloc(sizeof(double) * n);
    for (int f = 0; f < 3; f++) {
        memcpy(y, x, sizeof(float) * n);
        for (int64_t i = 0; i < n; i++) {
            double v = x[i];
            ref[i] = f == 0   ? 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)))
                     : f == 1 ? 0.5 * v * (1 + erf(v / sqrt(2.0)))
                              : v / (1 + exp(-v));
        }
        if (f == 0) vs_cpu_gelu_tanh(y, n);
        else if (f == 1) vs_cpu_gelu_erf(y, n);
        else vs_cpu_silu(y, n);
        double err = vs_test_rel_l2(y, ref, n);
        CHECK_MSG(err < 1e-5, "activation %d: rel err %g", f, err);
    }
    return 0;
}

TEST(softmax_and_bias_match_double_reference) {
    const int64_t rows = 29, cols = 1031;
    float *x = random_floats(rows * cols, -20, 20), *bias = random_floats(cols, -1, 1);
    double *ref = vs_test_malloc(sizeof(double) * rows * cols);
    for (int64_t r = 0; r < rows; r++) {
        double max = -INFINITY, sum = 0;
        for (int64_t i = 0; i < cols; i++) max = fmax(max, x[r * cols + i] + (double)bias[i]);
        for (int64_t i = 0; i < cols; i++) sum += exp(x[r * cols + i] + (double)bias[i] - max);
        for (int64_t i = 0; i < cols; i++) ref[r * cols + i] = exp(x[r * cols + i] + (double)bias[i] - max) / sum;
    }
    vs_cpu_add_bias(x, bias, rows, cols);
    vs_cpu_softmax_rows(x, rows, cols);
    double err = vs_test_rel_l2(x, ref, rows * cols);
    CHECK_MSG(err < 1e-5, "rel err %g", err);
    /* Large logits do not overflow; a fully masked row becomes zeros. */
    float row[4] = {1000.0f, 999.0f, -INFINITY, 1000.0f}, masked[3] = {-INFINITY, -INFINITY, -INFINITY};
    vs_cpu_softmax_rows(row, 1, 4);
    CHECK(fabsf(row[0] + row[1] + row[3] - 1.0f) < 1e-6f && row[2] == 0.0f && row[0] == row[3]);
    vs_cpu_softmax_rows(masked, 1, 3);
    CHECK(masked[0] == 0.0f && masked[1] == 0.0f && masked[2] == 0.0f);
    return 0;
}

RUN_TESTS(T(gemm_matches_double_reference), T(gemm_loop_matches_double_reference),
          T(gemm_with_empty_output_touches_nothing), T(rmsnorm_without_weight_and_in_place),
          T(activations_match_double_reference), T(softmax_and_bias_match_double_reference))
