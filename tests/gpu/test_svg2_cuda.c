/* SVG2's CUDA kernels (backend/cuda/svg2_cuda.h) against the CPU reference (backend/cpu/svg2_cpu.h) on the
 * same (BF16/F16-rounded) inputs: k-means from the same initial centroids (identical labels on separated
 * points, the objective within 2e-3 of the reference's on random ones: the GPU measures distances to the
 * centroids rounded to the input type), the cluster order (a permutation, clusters contiguous, tokens in
 * order), the selection (key pages per query cluster) against the CPU rule on the GPU's centroids, the
 * chunks (identical to the CPU's), the kept count, attention in chunks through cuDNN's paged attention and
 * through our kernel against the CPU attention with the GPU's plan (poisoned outputs, bit-identical
 * repeats), and the method end to end. Sizes: ragged token counts, text tokens, cluster counts that divide
 * nothing (clusters whose last chunk is short), head_dim 64 and 128. */
#include <cuda_runtime.h>

#include "backend/cpu/svg2_cpu.h"
#include "backend/cuda/svg2_cuda.h"
#include "check.h"
#include "core/dtype.h"
#include "core/status.h"
#include "sparse/sparse_attention.h"
#include "tensor_util.h"

typedef struct {
    int batch, heads, frames, per_frame, text, head_dim, cq, ck;
    double top_p, budget;
    int half;      /* F16 instead of BF16 */
    int separated; /* points around far-apart centres: the labels must match exactly */
} case_desc;

static void free_device(void *p) { cudaFree(p); }

static void *device_buffer(size_t bytes) {
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) return NULL;
    vs_test_defer(free_device, p);
    return p;
}

static void *from_device(const void *d, size_t bytes) {
    void *h = vs_test_malloc(bytes ? bytes : 1);
    return cudaMemcpy(h, d, bytes, cudaMemcpyDeviceToHost) == cudaSuccess ? h : NULL;
}

/* The plan's arrays, sized for the case (on the device or the host). */
typedef struct {
    size_t order, start_q, start_k, pages, keys, chunks;
} plan_bytes;

static plan_bytes sizes(const case_desc *c, int N) {
    const size_t bh = (size_t)c->batch * c->heads, rows = (size_t)c->cq + 1;
    const size_t P = (size_t)vs_svg2_pages(N);
    const int V = c->frames * c->per_frame;
    plan_bytes s = {bh * N * 4,        bh * (c->cq + 2) * 4, bh * (c->ck + 2) * 4,
                    bh * rows * P * 4, bh * rows * 4,        bh * (size_t)vs_svg2_chunks(N, V, c->cq) * 4};
    return s;
}

static vs_svg2_plan device_plan(const plan_bytes *s) {
    vs_svg2_plan p = {device_buffer(s->order),  device_buffer(s->order),   device_buffer(s->order),
                      device_buffer(s->order),  device_buffer(s->start_q), device_buffer(s->start_k),
                      device_buffer(s->pages),  device_buffer(s->keys),    device_buffer(s->chunks),
                      device_buffer(s->chunks), device_buffer(8)};
    cudaMemset(p.kept, 0, 8);
    return p;
}

static vs_svg2_plan host_copy(const vs_svg2_plan *d, const plan_bytes *s) {
    vs_svg2_plan p = {from_device(d->q_order, s->order),         from_device(d->k_order, s->order),
                      from_device(d->q_cluster, s->order),       from_device(d->k_cluster, s->order),
                      from_device(d->q_start, s->start_q),       from_device(d->k_start, s->start_k),
                      from_device(d->pages, s->pages),           from_device(d->keys, s->keys),
                      from_device(d->chunk_first, s->chunks),    from_device(d->chunk_rows, s->chunks),
                      from_device(d->kept, 8)};
    return p;
}

static vs_svg2_plan host_plan(const plan_bytes *s) {
    vs_svg2_plan p = {vs_test_malloc(s->order),  vs_test_malloc(s->order),   vs_test_malloc(s->order),
                      vs_test_malloc(s->order),  vs_test_malloc(s->start_q), vs_test_malloc(s->start_k),
                      vs_test_malloc(s->pages),  vs_test_malloc(s->keys),    vs_test_malloc(s->chunks),
                      vs_test_malloc(s->chunks), vs_test_malloc(8)};
    *p.kept = 0;
    return p;
}

static unsigned long long rng = 0x5eed2ULL;

static float *inputs(const case_desc *c, int N, int separated) {
    const int64_t rows = (int64_t)c->batch * N * c->heads, D = c->head_dim;
    float *x = vs_test_free_later(random_array(&rng, rows * D, -1, 1));
    if (separated) {
        enum { GROUPS = 9 };
        float *centres = vs_test_free_later(random_array(&rng, GROUPS * D, -1, 1));
        for (int64_t r = 0; r < rows; r++) {
            const int g = (int)((r / c->heads % N) * 7 % GROUPS);
            for (int d = 0; d < D; d++) x[r * D + d] = 8 * centres[g * D + d] + 0.05f * x[r * D + d];
        }
    }
    if (c->half)
        for (int64_t i = 0; i < rows * D; i++) x[i] = vs_f16_to_f32(vs_f32_to_f16(x[i]));
    else
        round_to(x, rows * D, VS_BF16);
    return x;
}

/* Sum over every (batch, head) of the squared distances of the video tokens to their clusters' centroids. */
static double objective(const case_desc *c, int N, int V, const float *x, const int32_t *order,
                        const int32_t *cluster, const float *centroids, int clusters) {
    const int D = c->head_dim;
    double total = 0;
    for (int bh = 0; bh < c->batch * c->heads; bh++)
        for (int p = 0; p < V; p++) {
            const float *row = x + (((int64_t)(bh / c->heads) * N + order[bh * N + p]) * c->heads + bh % c->heads) * D;
            const float *cent = centroids + ((int64_t)bh * clusters + cluster[bh * N + p]) * D;
            for (int d = 0; d < D; d++) total += (double)(row[d] - cent[d]) * (row[d] - cent[d]);
        }
    return total;
}

static int order_is_consistent(const int32_t *order, const int32_t *cluster, const int32_t *start, int clusters,
                               int video, int len) {
    if (start[0] != 0 || start[clusters] != video || start[clusters + 1] != len) return 0;
    for (int c = 0; c < clusters; c++)
        for (int p = start[c]; p < start[c + 1]; p++)
            if (cluster[p] != c || (p > start[c] && order[p] <= order[p - 1])) return 0;
    for (int p = video; p < len; p++)
        if (order[p] != p || cluster[p] != clusters) return 0;
    return 1;
}

static int run_case(const case_desc *c) {
    const int F = c->frames, P = c->per_frame, V = F * P, N = V + c->text, H = c->heads, D = c->head_dim;
    const int BH = c->batch * H, iterations = 4;
    const vs_dtype dtype = c->half ? VS_F16 : VS_BF16;
    const int64_t shape[4] = {c->batch, N, H, D}, n = (int64_t)c->batch * N * H * D;
    const float *q = inputs(c, N, c->separated), *k = inputs(c, N, c->separated), *v = inputs(c, N, 0);
    vs_tensor *tq = vs_test_tensor(), *tk = vs_test_tensor(), *tv = vs_test_tensor(), *to = vs_test_tensor();
    CHECK_OK(to_device(tq, q, dtype, 4, shape));
    CHECK_OK(to_device(tk, k, dtype, 4, shape));
    CHECK_OK(to_device(tv, v, dtype, 4, shape));
    CHECK_OK(vs_tensor_alloc(to, dtype, VS_CUDA, 4, shape));
    CHECK_OK(poison(to));
    vs_attn_args g = {0};
    g.dtype = dtype, g.q = tq->data, g.k = tk->data, g.v = tv->data, g.out = to->data;
    g.batch = c->batch, g.heads = H, g.seq_len = N, g.head_dim = D, g.scale = 1.0f / sqrtf((float)D);
    vs_attn_args_contiguous(&g);
    const vs_svg2_config cfg = {c->cq, c->ck, c->top_p, 0.1, c->budget, V};
    const plan_bytes bytes = sizes(c, N);
    const vs_svg2_plan dplan = device_plan(&bytes);
    float *dqc = device_buffer(sizeof(float) * BH * c->cq * D), *dkc = device_buffer(sizeof(float) * BH * c->ck * D);
    const size_t ws_bytes = vs_cuda_svg2_workspace(&g, &cfg);
    void *ws = device_buffer(ws_bytes);
    CHECK(dplan.pages && dqc && dkc && ws);

    /* k-means, warm-started once (as the method does), against the CPU from the same initial centroids. */
    CHECK_OK(vs_cuda_svg2_kmeans(&g, &cfg, VS_SVG2_QUERIES, dqc, 1, iterations - 2, &dplan, ws, ws_bytes, NULL));
    CHECK_OK(vs_cuda_svg2_kmeans(&g, &cfg, VS_SVG2_QUERIES, dqc, 0, 2, &dplan, ws, ws_bytes, NULL));
    CHECK_OK(vs_cuda_svg2_kmeans(&g, &cfg, VS_SVG2_KEYS, dkc, 1, iterations, &dplan, ws, ws_bytes, NULL));
    CHECK_OK(vs_cuda_svg2_select(&g, &cfg, dqc, dkc, &dplan, ws, ws_bytes, NULL));
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    const vs_svg2_plan gp = host_copy(&dplan, &bytes);
    const float *gqc = from_device(dqc, sizeof(float) * BH * c->cq * D);
    const float *gkc = from_device(dkc, sizeof(float) * BH * c->ck * D);

    vs_attn_args h = g;
    h.dtype = VS_F32, h.q = q, h.k = k, h.v = v;
    float *cpu_out = vs_test_malloc(sizeof(float) * (size_t)n);
    h.out = cpu_out;
    const vs_svg2_plan cp = host_plan(&bytes);
    float *cqc = vs_test_malloc(sizeof(float) * BH * c->cq * D), *ckc = vs_test_malloc(sizeof(float) * BH * c->ck * D);
    CHECK_OK(vs_svg2_kmeans_cpu(&h, &cfg, VS_SVG2_QUERIES, cqc, 1, iterations, &cp));
    CHECK_OK(vs_svg2_kmeans_cpu(&h, &cfg, VS_SVG2_KEYS, ckc, 1, iterations, &cp));
    for (int bh = 0; bh < BH; bh++) {
        CHECK(order_is_consistent(gp.q_order + bh * N, gp.q_cluster + bh * N, gp.q_start + bh * (c->cq + 2), c->cq, V, N));
        CHECK(order_is_consistent(gp.k_order + bh * N, gp.k_cluster + bh * N, gp.k_start + bh * (c->ck + 2), c->ck, V, N));
    }
    if (c->separated) {
        CHECK(!memcmp(gp.q_order, cp.q_order, bytes.order) && !memcmp(gp.q_cluster, cp.q_cluster, bytes.order));
        CHECK(!memcmp(gp.k_order, cp.k_order, bytes.order) && !memcmp(gp.k_cluster, cp.k_cluster, bytes.order));
    }
    const double oq_gpu = objective(c, N, V, q, gp.q_order, gp.q_cluster, gqc, c->cq);
    const double oq_cpu = objective(c, N, V, q, cp.q_order, cp.q_cluster, cqc, c->cq);
    const double ok_gpu = objective(c, N, V, k, gp.k_order, gp.k_cluster, gkc, c->ck);
    const double ok_cpu = objective(c, N, V, k, cp.k_order, cp.k_cluster, ckc, c->ck);
    printf("  N %d, %d/%d clusters: objective q %.6g (cpu %.6g, rel %.2g), k %.6g (cpu %.6g, rel %.2g)\n", N, c->cq,
           c->ck, oq_gpu, oq_cpu, fabs(oq_gpu / oq_cpu - 1), ok_gpu, ok_cpu, fabs(ok_gpu / ok_cpu - 1));
    CHECK(fabs(oq_gpu - oq_cpu) <= 2e-3 * oq_cpu && fabs(ok_gpu - ok_cpu) <= 2e-3 * ok_cpu);

    /* Selection: the CPU rule on the GPU's centroids and cluster order. Masses summed in f32 against f64
     * may put a page on the other side of top-p where the running sum is within rounding of it; the chunks
     * depend on the cluster order alone and must be identical. */
    const int pages = vs_svg2_pages(N), rows = c->cq + 1;
    vs_svg2_plan sp = gp;
    sp.pages = vs_test_malloc(bytes.pages), sp.keys = vs_test_malloc(bytes.keys);
    sp.chunk_first = vs_test_malloc(bytes.chunks), sp.chunk_rows = vs_test_malloc(bytes.chunks);
    sp.kept = vs_test_malloc(8), *sp.kept = 0;
    CHECK_OK(vs_svg2_select_cpu(&h, &cfg, gqc, gkc, &sp));
    int64_t differ = 0, kept = 0;
    for (int64_t row = 0; row < (int64_t)BH * rows; row++) {
        const int bh = (int)(row / rows), i = (int)(row % rows);
        const int32_t *q_start = gp.q_start + (int64_t)bh * (c->cq + 2);
        differ += gp.keys[row] != sp.keys[row] ||
                  memcmp(gp.pages + row * pages, sp.pages + row * pages, sizeof(int32_t) * pages);
        kept += (int64_t)(q_start[i + 1] - q_start[i]) * gp.keys[row];
    }
    printf("  selection: %lld of %d query clusters' pages differ from the CPU rule; density %.4f\n",
           (long long)differ, BH * rows, (double)kept / ((double)BH * N * N));
    CHECK(differ <= BH * rows / 100 + 2);
    CHECK(*gp.kept == (unsigned long long)kept);
    CHECK(!memcmp(gp.chunk_first, sp.chunk_first, bytes.chunks) && !memcmp(gp.chunk_rows, sp.chunk_rows, bytes.chunks));
    int short_last = 0;
    for (int bh = 0; bh < BH; bh++)
        for (int i = 0; i < c->cq; i++) {
            const int size = gp.q_start[bh * (c->cq + 2) + i + 1] - gp.q_start[bh * (c->cq + 2) + i];
            short_last += size > VS_SVG2_CHUNK && size % VS_SVG2_CHUNK != 0;
        }
    printf("  chunks: %d query clusters of more than one chunk end in a short one\n", short_last);

    /* Attention with the GPU's plan against the CPU attention on the same plan, through cuDNN and through
     * our kernel, each into a poisoned output; the default path repeats bit for bit. */
    CHECK_OK(vs_svg2_attend_cpu(&h, &cfg, &gp));
    const vs_status paths[2] = {vs_cuda_svg2_attend_cudnn(&g, &cfg, &dplan, ws, ws_bytes, NULL), VS_OK};
    for (int path = 0; path < 2; path++) {
        if (path == 0 && paths[0] == VS_ERR_UNSUPPORTED) {
            printf("  attention (cuDNN): no paged engine: %s\n", vs_last_error());
            continue;
        }
        if (path == 1) {
            CHECK_OK(poison(to));
            CHECK_OK(vs_cuda_svg2_attend_own(&g, &cfg, &dplan, NULL));
        }
        CHECK_OK(paths[path]);
        float *got = vs_test_free_later(to_host(to));
        CHECK(got);
        const double err = vs_test_rel_l2_f32(got, cpu_out, n);
        printf("  attention (%s): relative L2 %.3g against the CPU\n", path ? "own kernel" : "cuDNN", err);
        CHECK(err < 1.5e-2);
    }
    CHECK_OK(poison(to));
    CHECK_OK(vs_cuda_svg2_attend(&g, &cfg, &dplan, ws, ws_bytes, NULL));
    float *got = vs_test_free_later(to_host(to));
    CHECK_OK(poison(to));
    CHECK_OK(vs_cuda_svg2_attend(&g, &cfg, &dplan, ws, ws_bytes, NULL));
    float *again = vs_test_free_later(to_host(to));
    CHECK(got && again && !memcmp(got, again, sizeof(float) * (size_t)n));
    return 0;
}

TEST(separated_points_bf16_d128) {
    const case_desc c = {1, 2, 3, 300, 0, 128, 9, 9, 0.9, 0, 0, 1};
    return run_case(&c);
}

TEST(random_points_with_text_f16_d64) {
    const case_desc c = {2, 3, 5, 211, 7, 64, 13, 37, 0.9, 0, 1, 0};
    return run_case(&c);
}

TEST(fixed_budget_bf16_d128) {
    const case_desc c = {1, 2, 4, 517, 0, 128, 20, 70, 0.9, 0.25, 0, 0};
    return run_case(&c);
}

TEST(wan_like_rows_bf16_d128) {
    /* 21 frames of 390 tokens (Wan's frame count), 300 / 1000 clusters as scaled would give at 75600 tokens. */
    const case_desc c = {1, 2, 21, 390, 0, 128, 33, 108, 0.9, 0, 0, 0};
    return run_case(&c);
}

TEST(text_longer_than_a_chunk_bf16_d64) {
    /* 130 text rows: two whole chunks and a short one, every page kept. */
    const case_desc c = {1, 2, 4, 250, 130, 64, 17, 40, 0.9, 0, 0, 0};
    return run_case(&c);
}

TEST(many_heads_split_the_cudnn_calls_bf16_d64) {
    /* 1024 (batch, head) pairs of 68 entry slots each: more than one cuDNN call's 65535 entries. */
    const case_desc c = {4, 256, 2, 128, 0, 64, 64, 32, 0.9, 0, 0, 0};
    return run_case(&c);
}

TEST(method_end_to_end_on_cuda) {
    enum { F = 5, P = 300, N = F * P, H = 4, D = 128 };
    vs_sparse_setup setup = {VS_CUDA, 2, H, N, D, 1, vs_svg_config_default(F, P, 0, 0.25), {0}};
    vs_attention_params params = {.method = "svg2", .density = 0.25, .dense_steps = 0.25, .dense_layers = 0};
    vs_sparse_attention *attn = NULL;
    CHECK_OK(vs_sparse_attention_create(&attn, &setup, &params, 1));
    vs_test_defer((void (*)(void *))vs_sparse_attention_free, attn);
    const int64_t shape[4] = {2, N, H, D};
    vs_tensor *t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = vs_test_tensor();
        float *x = vs_test_free_later(random_array(&rng, 2 * N * H * D, -2, 2));
        CHECK_OK(to_device(t[i], x, VS_BF16, 4, shape));
    }
    for (int step = 0; step < 4; step++) {
        CHECK_OK(poison(t[3]));
        CHECK_OK(vs_sparse_attention_run(attn, 0, step, 4, t[0], t[1], t[2], t[3], NULL));
        float *o = vs_test_free_later(to_host(t[3]));
        CHECK(o);
        for (int64_t i = 0; i < 2 * N * H * D; i++) CHECK(isfinite(o[i]));
        vs_sparse_stats st;
        CHECK_OK(vs_sparse_attention_take_stats(attn, &st));
        printf("  step %d: density %.4f\n", step, st.density);
        CHECK(step == 0 ? st.density == 1.0 : st.density > 0.05 && st.density < 1.0);
    }
    return 0;
}

RUN_TESTS(T(separated_points_bf16_d128), T(random_points_with_text_f16_d64), T(fixed_budget_bf16_d128),
          T(wan_like_rows_bf16_d128), T(text_longer_than_a_chunk_bf16_d64),
          T(many_heads_split_the_cudnn_calls_bf16_d64), T(method_end_to_end_on_cuda))
