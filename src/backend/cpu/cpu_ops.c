#include "backend/cpu/cpu_ops.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "backend/cpu/gemm_loop.h"
#include "core/threadpool.h"

#if VS_HAVE_OPENBLAS
#include <cblas.h>
#endif

/* Work below this many elements (or multiply-adds) is not worth another thread. */
#define MIN_PARALLEL_WORK 16384

static int64_t rows_per_chunk(int64_t cols) { return cols >= MIN_PARALLEL_WORK ? 1 : MIN_PARALLEL_WORK / (cols > 0 ? cols : 1); }

/* ---- GEMM ----------------------------------------------------------------------- */

/* C is cut into TILE_M x TILE_N tiles, one task each. A task walks k in TILE_K
 * steps, copying alpha * op(A)[tile rows, k step] into a small contiguous buffer
 * so both layouts of A are read the same way; B is used in place: its rows are
 * contiguous along n (no transpose) or along k (transpose), and each case gets
 * the inner loop that runs along the contiguous direction. */
enum { TILE_M = 32, TILE_N = 256, TILE_K = 256 };

typedef struct {
    int trans_a, trans_b;
    int64_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc;
    int64_t tiles_n;
} gemm_args;

/* Eight independent partial sums so the loop vectorizes without reassociation flags. */
static float dot(const float *restrict x, const float *restrict y, int64_t n) {
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += x[i + j] * y[i + j];
    float tail = 0;
    for (; i < n; i++) tail += x[i] * y[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])) + tail;
}

static void gemm_tiles(void *ctx, int64_t begin, int64_t end) {
    const gemm_args *g = ctx;
    float apack[TILE_M * TILE_K];
    for (int64_t t = begin; t < end; t++) {
        int64_t i0 = t / g->tiles_n * TILE_M, j0 = t % g->tiles_n * TILE_N;
        int64_t mt = g->m - i0 < TILE_M ? g->m - i0 : TILE_M;
        int64_t nt = g->n - j0 < TILE_N ? g->n - j0 : TILE_N;
        for (int64_t i = 0; i < mt; i++) {
            float *crow = g->c + (i0 + i) * g->ldc + j0;
            if (g->beta == 0.0f) memset(crow, 0, sizeof(float) * (size_t)nt); /* C may hold NaN: not read */
            else if (g->beta != 1.0f)
                for (int64_t j = 0; j < nt; j++) crow[j] *= g->beta;
        }
        for (int64_t p0 = 0; p0 < g->k; p0 += TILE_K) {
            int64_t kt = g->k - p0 < TILE_K ? g->k - p0 : TILE_K;
            if (g->trans_a) {
                for (int64_t p = 0; p < kt; p++)
                    for (int64_t i = 0; i < mt; i++) apack[i * TILE_K + p] = g->alpha * g->a[(p0 + p) * g->lda + i0 + i];
            } else {
                for (int64_t i = 0; i < mt; i++)
                    for (int64_t p = 0; p < kt; p++) apack[i * TILE_K + p] = g->alpha * g->a[(i0 + i) * g->lda + p0 + p];
            }
            for (int64_t i = 0; i < mt; i++) {
                float *restrict crow = g->c + (i0 + i) * g->ldc + j0;
                const float *arow = apack + i * TILE_K;
                if (g->trans_b) {
                    for (int64_t j = 0; j < nt; j++) crow[j] += dot(arow, g->b + (j0 + j) * g->ldb + p0, kt);
                } else {
                    for (int64_t p = 0; p < kt; p++) {
                        const float *restrict brow = g->b + (p0 + p) * g->ldb + j0;
                        float s = arow[p];
                        for (int64_t j = 0; j < nt; j++) crow[j] += s * brow[j];
                    }
                }
            }
        }
    }
}

void vs_cpu_gemm_loop(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    if (k < 0) k = 0;
    gemm_args g = {trans_a, trans_b, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc, (n + TILE_N - 1) / TILE_N};
    int64_t tiles = (m + TILE_M - 1) / TILE_M * g.tiles_n;
    int64_t grain = m * n * (k + 1) < MIN_PARALLEL_WORK ? tiles : 1;
    vs_parallel_for(tiles, grain, gemm_tiles, &g);
}

#if VS_HAVE_OPENBLAS
/* OpenBLAS runs its own threads; VS_THREADS bounds them as it bounds the pool. */
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_init(void) { openblas_set_num_threads(vs_thread_count()); }

static int fits_blasint(int64_t v) { return v >= 0 && v <= INT_MAX; }
#endif

void vs_cpu_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                 int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
#if VS_HAVE_OPENBLAS
    if (k > 0 && fits_blasint(m) && fits_blasint(n) && fits_blasint(k) && fits_blasint(lda) &&
        fits_blasint(ldb) && fits_blasint(ldc)) {
        pthread_once(&blas_once, blas_init);
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c,
                    (blasint)ldc);
        return;
    }
#endif
    vs_cpu_gemm_loop(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ---- row-wise norms (y may be x: each row is read in full before it is written) -- */

typedef struct {
    float *y;
    const float *x, *weight, *bias;
    int64_t dim;
    float eps;
} norm_args;

static void rmsnorm_rows(void *ctx, int64_t begin, int64_t end) {
    const norm_args *g = ctx;
    for (int64_t r = begin; r < end; r++) {
        const float *x = g->x + r * g->dim;
        float *y = g->y + r * g->dim;
        double sum_sq = 0;
        for (int64_t i = 0; i < g->dim; i++) sum_sq += (double)x[i] * x[i];
        float inv_rms = (float)(1.0 / sqrt(sum_sq / (double)g->dim + g->eps));
        for (int64_t i = 0; i < g->dim; i++) y[i] = x[i] * inv_rms * (g->weight ? g->weight[i] : 1.0f);
    }
}

void vs_cpu_rmsnorm(float *y, const float *x, const float *weight, int64_t rows, int64_t dim, float eps) {
    if (dim <= 0) return;
    norm_args g = {y, x, weight, NULL, dim, eps};
    vs_parallel_for(rows, rows_per_chunk(dim), rmsnorm_rows, &g);
}

/* Two passes (mean, then variance about the mean): no cancellation for rows far from zero. */
static void layernorm_rows(void *ctx, int64_t begin, int64_t end) {
    const norm_args *g = ctx;
    for (int64_t r = begin; r < end; r++) {
        const float *x = g->x + r * g->dim;
        float *y = g->y + r * g->dim;
        double sum = 0;
        for (int64_t i = 0; i < g->dim; i++) sum += x[i];
        double mean = sum / (double)g->dim, var = 0;
        for (int64_t i = 0; i < g->dim; i++) var += (x[i] - mean) * (x[i] - mean);
        var /= (double)g->dim;
        float inv_std = (float)(1.0 / sqrt(var + g->eps));
        float fmean = (float)mean;
        for (int64_t i = 0; i < g->dim; i++)
            y[i] = (x[i] - fmean) * inv_std * (g->weight ? g->weight[i] : 1.0f) + (g->bias ? g->bias[i] : 0.0f);
    }
}

void vs_cpu_layernorm(float *y, const float *x, const float *weight, const float *bias, int64_t rows, int64_t dim,
                      float eps) {
    if (dim <= 0) return;
    norm_args g = {y, x, weight, bias, dim, eps};
    vs_parallel_for(rows, rows_per_chunk(dim), layernorm_rows, &g);
}

/* ---- elementwise activations ------------------------------------------------------ */

static void gelu_tanh_range(void *ctx, int64_t begin, int64_t end) {
    float *x = ctx;
    const float sqrt_2_over_pi = 0.7978845608028654f;
    for (int64_t i = begin; i < end; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(sqrt_2_over_pi * (v + 0.044715f * v * v * v)));
    }
}

static void gelu_erf_range(void *ctx, int64_t begin, int64_t end) {
    float *x = ctx;
    for (int64_t i = begin; i < end; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.7071067811865476f));
}

static void silu_range(void *ctx, int64_t begin, int64_t end) {
    float *x = ctx;
    for (int64_t i = begin; i < end; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

void vs_cpu_gelu_tanh(float *x, int64_t n) { vs_parallel_for(n, MIN_PARALLEL_WORK, gelu_tanh_range, x); }
void vs_cpu_gelu_erf(float *x, int64_t n) { vs_parallel_for(n, MIN_PARALLEL_WORK, gelu_erf_range, x); }
void vs_cpu_silu(float *x, int64_t n) { vs_parallel_for(n, MIN_PARALLEL_WORK, silu_range, x); }

/* ---- softmax, bias ------------------------------------------------------------------ */

typedef struct {
    float *x;
    const float *bias;
    int64_t cols;
} row_args;

/* A row that is -inf everywhere (every key masked) becomes all zeros: it
 * attends to nothing, rather than spreading NaN through the output. */
static void softmax_range(void *ctx, int64_t begin, int64_t end) {
    const row_args *g = ctx;
    for (int64_t r = begin; r < end; r++) {
        float *x = g->x + r * g->cols;
        float max = -INFINITY;
        for (int64_t i = 0; i < g->cols; i++) max = x[i] > max ? x[i] : max;
        if (max == -INFINITY) {
            memset(x, 0, sizeof(float) * (size_t)g->cols);
            continue;
        }
        double sum = 0;
        for (int64_t i = 0; i < g->cols; i++) {
            x[i] = expf(x[i] - max);
            sum += x[i];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < g->cols; i++) x[i] *= inv;
    }
}

void vs_cpu_softmax_rows(float *x, int64_t rows, int64_t cols) {
    if (cols <= 0) return;
    row_args g = {x, NULL, cols};
    vs_parallel_for(rows, rows_per_chunk(cols), softmax_range, &g);
}

static void add_bias_range(void *ctx, int64_t begin, int64_t end) {
    const row_args *g = ctx;
    for (int64_t r = begin; r < end; r++) {
        float *restrict y = g->x + r * g->cols;
        for (int64_t i = 0; i < g->cols; i++) y[i] += g->bias[i];
    }
}

void vs_cpu_add_bias(float *y, const float *bias, int64_t rows, int64_t cols) {
    if (cols <= 0) return;
    row_args g = {y, bias, cols};
    vs_parallel_for(rows, rows_per_chunk(cols), add_bias_range, &g);
}

/* ---- rotary embedding, patches ------------------------------------------------------ */

void vs_cpu_rope_pairs(float *x, int64_t rows, int64_t tokens, int heads, int head_dim, const float *cos_table,
                       const float *sin_table) {
    const int pairs = head_dim / 2;
    for (int64_t r = 0; r < rows; r++) {
        const float *c = cos_table + r % tokens * pairs, *s = sin_table + r % tokens * pairs;
        for (int h = 0; h < heads; h++) {
            float *v = x + (r * heads + h) * head_dim;
            for (int j = 0; j < pairs; j++) {
                float x1 = v[2 * j], x2 = v[2 * j + 1];
                v[2 * j] = x1 * c[j] - x2 * s[j];
                v[2 * j + 1] = x1 * s[j] + x2 * c[j];
            }
        }
    }
}

void vs_cpu_patchify(float *patches, const float *lat, int64_t batch, int64_t channels, int64_t frames,
                     int64_t height, int64_t width, const int p[3]) {
    const int64_t fp = frames / p[0], hp = height / p[1], wp = width / p[2];
    const int64_t patch = channels * p[0] * p[1] * p[2];
    for (int64_t b = 0; b < batch; b++)
        for (int64_t f = 0; f < fp; f++)
            for (int64_t h = 0; h < hp; h++)
                for (int64_t w = 0; w < wp; w++) {
                    float *dst = patches + (((b * fp + f) * hp + h) * wp + w) * patch;
                    for (int64_t c = 0; c < channels; c++)
                        for (int i = 0; i < p[0]; i++)
                            for (int j = 0; j < p[1]; j++)
                                for (int k = 0; k < p[2]; k++)
                                    *dst++ = lat[(((b * channels + c) * frames + f * p[0] + i) * height + h * p[1] + j) *
                                                     width + w * p[2] + k];
                }
}

void vs_cpu_unpatchify(float *out, const float *y, int64_t batch, int64_t channels, int64_t frames, int64_t height,
                       int64_t width, const int p[3]) {
    const int64_t fp = frames / p[0], hp = height / p[1], wp = width / p[2];
    const int64_t patch = channels * p[0] * p[1] * p[2];
    for (int64_t b = 0; b < batch; b++)
        for (int64_t f = 0; f < fp; f++)
            for (int64_t h = 0; h < hp; h++)
                for (int64_t w = 0; w < wp; w++) {
                    const float *src = y + (((b * fp + f) * hp + h) * wp + w) * patch;
                    for (int i = 0; i < p[0]; i++)
                        for (int j = 0; j < p[1]; j++)
                            for (int k = 0; k < p[2]; k++)
                                for (int64_t c = 0; c < channels; c++)
                                    out[(((b * channels + c) * frames + f * p[0] + i) * height + h * p[1] + j) * width +
                                        w * p[2] + k] = *src++;
                }
}
