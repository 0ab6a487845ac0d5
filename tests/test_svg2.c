/* Sparse VideoGen 2 on the CPU (backend/cpu/svg2_cpu.h, src/sparse/svg2_method.c): k-means against a plain
 * double-precision Lloyd from the same initial centroids, the selection (key pages per query cluster) and
 * the chunks against the rule written out plainly, the permutation round trip, attention against the f64
 * masked reference, and the method through the sparse-attention object (warm-up, statistics). Sizes are
 * ragged on purpose: clusters whose sizes are not multiples of a chunk, empty clusters, text or none. */
#include "backend/cpu/svg2_cpu.h"
#include "check.h"
#include "core/status.h"
#include "sparse/sparse_attention.h"
#include "sparse/svg2.h"

/* ---- helpers ------------------------------------------------------------------ */

static vs_attn_args make_args(int batch, int heads, int len, int dim, const float *q, const float *k,
                              const float *v, float *out) {
    vs_attn_args a = {0};
    a.dtype = VS_F32;
    a.q = q, a.k = k, a.v = v, a.out = out;
    a.batch = batch, a.heads = heads, a.seq_len = len, a.head_dim = dim;
    a.scale = 1.0f / sqrtf((float)dim);
    vs_attn_args_contiguous(&a);
    return a;
}

static float *random_floats(int64_t n, unsigned long long seed) {
    float *x = vs_test_malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(2 * vs_test_uniform(&seed) - 1);
    return x;
}

/* Points around `groups` far-apart centres ([B, N, H, D]); token t belongs to group (t * 7) % groups. */
static float *separated_points(int batch, int len, int heads, int dim, int groups, unsigned long long seed) {
    float *centres = random_floats((int64_t)groups * dim, seed);
    float *x = random_floats((int64_t)batch * len * heads * dim, seed + 1);
    for (int64_t r = 0; r < (int64_t)batch * len * heads; r++) {
        const int t = (int)(r / heads % len), g = (t * 7) % groups;
        for (int d = 0; d < dim; d++) x[r * dim + d] = 20 * centres[g * dim + d] + 0.05f * x[r * dim + d];
    }
    return x;
}

/* A plan in host memory for batch x heads over len tokens. */
static vs_svg2_plan host_plan(const vs_svg2_config *cfg, int bh, int len) {
    vs_svg2_plan p;
    p.q_order = vs_test_malloc(sizeof(int32_t) * (size_t)bh * len);
    p.k_order = vs_test_malloc(sizeof(int32_t) * (size_t)bh * len);
    p.q_cluster = vs_test_malloc(sizeof(int32_t) * (size_t)bh * len);
    p.k_cluster = vs_test_malloc(sizeof(int32_t) * (size_t)bh * len);
    p.q_start = vs_test_malloc(sizeof(int32_t) * (size_t)bh * (cfg->query_clusters + 2));
    p.k_start = vs_test_malloc(sizeof(int32_t) * (size_t)bh * (cfg->key_clusters + 2));
    const int pages = vs_svg2_pages(len), rows = cfg->query_clusters + 1;
    const int slots = vs_svg2_chunks(len, cfg->video_tokens, cfg->query_clusters);
    p.pages = vs_test_malloc(sizeof(int32_t) * (size_t)bh * rows * pages);
    p.keys = vs_test_malloc(sizeof(int32_t) * (size_t)bh * rows);
    p.chunk_first = vs_test_malloc(sizeof(int32_t) * (size_t)bh * slots);
    p.chunk_rows = vs_test_malloc(sizeof(int32_t) * (size_t)bh * slots);
    p.kept = vs_test_malloc(sizeof *p.kept);
    *p.kept = 0;
    return p;
}

static vs_svg2_config config(int cq, int ck, int video) {
    vs_svg2_config c = {cq, ck, 0.9, 0.1, 0, video};
    return c;
}

/* Plain Lloyd in double for one (batch, head): the same initial centroids (tokens floor((c + 0.5) V / C)),
 * `iterations` of assign-then-update; labels of the last assignment, centroids after the last update. */
static void plain_kmeans(const float *x, int64_t stride_n, int video, int dim, int clusters, int iterations,
                         int *labels, double *centroids) {
    for (int c = 0; c < clusters; c++)
        for (int d = 0; d < dim; d++) centroids[c * dim + d] = x[(int64_t)((c + 0.5) * video / clusters) * stride_n + d];
    double *sum = vs_test_malloc(sizeof(double) * (size_t)clusters * dim);
    int *count = vs_test_malloc(sizeof(int) * (size_t)clusters);
    for (int it = 0; it < iterations; it++) {
        memset(sum, 0, sizeof(double) * (size_t)clusters * dim);
        memset(count, 0, sizeof(int) * (size_t)clusters);
        for (int t = 0; t < video; t++) {
            double best = INFINITY;
            for (int c = 0; c < clusters; c++) {
                double dist = 0;
                for (int d = 0; d < dim; d++) {
                    const double e = x[t * stride_n + d] - centroids[c * dim + d];
                    dist += e * e;
                }
                if (dist < best) best = dist, labels[t] = c;
            }
            count[labels[t]]++;
            for (int d = 0; d < dim; d++) sum[labels[t] * dim + d] += x[t * stride_n + d];
        }
        for (int c = 0; c < clusters; c++)
            for (int d = 0; d < dim && count[c]; d++) centroids[c * dim + d] = sum[c * dim + d] / count[c];
    }
}

/* Sum of squared distances of the tokens to the centroids of their labels. */
static double objective(const float *x, int64_t stride_n, int video, int dim, const int *labels,
                        const double *centroids) {
    double total = 0;
    for (int t = 0; t < video; t++)
        for (int d = 0; d < dim; d++) {
            const double e = x[t * stride_n + d] - centroids[labels[t] * dim + d];
            total += e * e;
        }
    return total;
}

/* The plan's order is a permutation with the clusters contiguous and in token order, text in place. */
static int order_is_consistent(const int32_t *order, const int32_t *cluster, const int32_t *start, int clusters,
                               int video, int len, const int *labels) {
    if (start[0] != 0 || start[clusters] != video || start[clusters + 1] != len) return 0;
    for (int c = 0; c < clusters; c++)
        for (int p = start[c]; p < start[c + 1]; p++)
            if (cluster[p] != c || (labels && labels[order[p]] != c) || (p > start[c] && order[p] <= order[p - 1]))
                return 0;
    for (int p = video; p < len; p++)
        if (order[p] != p || cluster[p] != clusters) return 0;
    return 1;
}

/* ---- k-means ------------------------------------------------------------------- */

TEST(kmeans_on_separated_points_gives_the_plain_labels) {
    enum { B = 2, H = 2, F = 3, P = 41, T = 3, N = F * P + T, D = 64, C = 9, ITER = 6 };
    const float *x = separated_points(B, N, H, D, C, 11);
    vs_attn_args a = make_args(B, H, N, D, x, x, x, NULL);
    vs_svg2_config cfg = config(C, C, F * P);
    vs_svg2_plan plan = host_plan(&cfg, B * H, N);
    float *centroids = vs_test_malloc(sizeof(float) * B * H * C * D);
    CHECK_OK(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_QUERIES, centroids, 1, ITER, &plan));
    int *labels = vs_test_malloc(sizeof(int) * N);
    double *ref = vs_test_malloc(sizeof(double) * C * D);
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        plain_kmeans(x + (int64_t)b * N * H * D + h * D, H * D, F * P, D, C, ITER, labels, ref);
        CHECK(order_is_consistent(plan.q_order + bh * N, plan.q_cluster + bh * N, plan.q_start + bh * (C + 2), C,
                                  F * P, N, labels));
        for (int i = 0; i < C * D; i++) CHECK(fabs(centroids[bh * C * D + i] - ref[i]) < 1e-4 * (1 + fabs(ref[i])));
    }
    return 0;
}

TEST(kmeans_over_several_gemm_chunks_gives_the_plain_labels) {
    /* More video tokens than one assignment GEMM takes (1024), not a multiple of it, text after them. */
    enum { H = 1, V = 2 * 1024 + 77, T = 5, N = V + T, D = 64, C = 11, ITER = 4 };
    const float *x = separated_points(1, N, H, D, C, 31);
    vs_attn_args a = make_args(1, H, N, D, x, x, x, NULL);
    vs_svg2_config cfg = config(C, C, V);
    vs_svg2_plan plan = host_plan(&cfg, H, N);
    float *centroids = vs_test_malloc(sizeof(float) * C * D);
    CHECK_OK(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_KEYS, centroids, 1, ITER, &plan));
    int *labels = vs_test_malloc(sizeof(int) * V);
    double *ref = vs_test_malloc(sizeof(double) * C * D);
    plain_kmeans(x, H * D, V, D, C, ITER, labels, ref);
    CHECK(order_is_consistent(plan.k_order, plan.k_cluster, plan.k_start, C, V, N, labels));
    for (int i = 0; i < C * D; i++) CHECK(fabs(centroids[i] - ref[i]) < 1e-4 * (1 + fabs(ref[i])));
    return 0;
}

TEST(kmeans_objective_matches_the_plain_one_on_random_points) {
    /* 203 video tokens into 7 and 13 clusters (neither divides), warm-started after 3 iterations. */
    enum { H = 3, V = 203, T = 0, N = V + T, D = 64, CQ = 7, CK = 13 };
    const float *q = random_floats((int64_t)N * H * D, 21), *k = random_floats((int64_t)N * H * D, 22);
    vs_attn_args a = make_args(1, H, N, D, q, k, k, NULL);
    vs_svg2_config cfg = config(CQ, CK, V);
    vs_svg2_plan plan = host_plan(&cfg, H, N);
    float *qc = vs_test_malloc(sizeof(float) * H * CQ * D), *kc = vs_test_malloc(sizeof(float) * H * CK * D);
    CHECK_OK(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_QUERIES, qc, 1, 3, &plan));
    CHECK_OK(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_QUERIES, qc, 0, 2, &plan)); /* = 5 iterations from scratch */
    CHECK_OK(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_KEYS, kc, 1, 5, &plan));
    int *labels = vs_test_malloc(sizeof(int) * V), *got = vs_test_malloc(sizeof(int) * V);
    double *ref = vs_test_malloc(sizeof(double) * CK * D), *mine = vs_test_malloc(sizeof(double) * CK * D);
    for (int h = 0; h < H; h++)
        for (int which = 0; which < 2; which++) {
            const int C = which ? CK : CQ;
            const float *x = (which ? k : q) + h * D;
            const float *cent = (which ? kc : qc) + (int64_t)h * C * D;
            const int32_t *order = (which ? plan.k_order : plan.q_order) + h * N;
            const int32_t *cluster = (which ? plan.k_cluster : plan.q_cluster) + h * N;
            const int32_t *start = (which ? plan.k_start : plan.q_start) + h * (C + 2);
            plain_kmeans(x, H * D, V, D, C, 5, labels, ref);
            CHECK(order_is_consistent(order, cluster, start, C, V, N, NULL));
            for (int p = 0; p < V; p++) got[order[p]] = cluster[p];
            for (int i = 0; i < C * D; i++) mine[i] = cent[i];
            const double want = objective(x, H * D, V, D, labels, ref), have = objective(x, H * D, V, D, got, mine);
            CHECK_MSG(fabs(have - want) <= 1e-4 * want, "head %d %s: objective %.8g, plain %.8g", h,
                      which ? "keys" : "queries", have, want);
        }
    return 0;
}

TEST(kmeans_keeps_the_centroid_of_an_empty_cluster) {
    /* Every token the same point: cluster 0 takes them all (the lowest index on ties), the others stay
     * empty and keep their (identical) initial centroids. */
    enum { V = 50, N = V, D = 64, C = 4 };
    float *x = vs_test_malloc(sizeof(float) * N * D);
    for (int i = 0; i < N * D; i++) x[i] = (float)(i % D) * 0.01f;
    vs_attn_args a = make_args(1, 1, N, D, x, x, x, NULL);
    vs_svg2_config cfg = config(C, C, V);
    vs_svg2_plan plan = host_plan(&cfg, 1, N);
    float *cent = vs_test_malloc(sizeof(float) * C * D);
    CHECK_OK(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_KEYS, cent, 1, 3, &plan));
    CHECK(plan.k_start[0] == 0 && plan.k_start[1] == V && plan.k_start[C] == V && plan.k_start[C + 1] == N);
    for (int i = 0; i < C * D; i++) CHECK(cent[i] == x[i % D]);
    /* Bad settings fail with a message. */
    cfg.key_clusters = V + 1;
    CHECK_FAILS(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_KEYS, cent, 1, 3, &plan), VS_ERR_INVALID_ARG, "51 key clusters");
    cfg.key_clusters = C;
    CHECK_FAILS(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_KEYS, cent, 1, 0, &plan), VS_ERR_INVALID_ARG, "0 iterations");
    return 0;
}

/* ---- selection ----------------------------------------------------------------- */

/* The rule for query cluster i of one head, written out plainly: each video key u weighs
 * exp(s(i, cluster(u))) / sum_u' exp(s(i, cluster(u'))) (s: the scaled centroid score); a video page's mass
 * is the sum over its keys; pages ranked by repeated arg-max (the lower index on ties); rank r kept when
 * r = 0, when the shares ranked before it sum to at most top_p, or r < floor(ratio * video pages); with a
 * budget, while the keys of the pages ranked before it are fewer than budget * V. Pages holding text are
 * kept, and the text rows (i = Cq) keep every page. */
enum { MAX_PAGES = 64 };
static void plain_select(const float *qc, const float *kc, const int32_t *k_cluster, const vs_svg2_config *cfg, int N,
                         int dim, int i, uint8_t *keep) {
    const int V = cfg->video_tokens, P = vs_svg2_pages(N), VP = N == V ? P : V / VS_ATTN_BLOCK;
    double mass[MAX_PAGES] = {0}, total = 0, z = 0;
    int used[MAX_PAGES] = {0};
    for (int g = 0; g < P; g++) keep[g] = 1;
    if (i == cfg->query_clusters) return; /* text rows: everything */
    const float *q = qc + (int64_t)i * dim;
    for (int u = 0; u < V; u++) {
        double s = 0;
        for (int d = 0; d < dim; d++) s += (double)q[d] * kc[(int64_t)k_cluster[u] * dim + d];
        z += exp(s / sqrt(dim));
    }
    for (int u = 0; u < VP * VS_ATTN_BLOCK && u < V; u++) {
        double s = 0;
        for (int d = 0; d < dim; d++) s += (double)q[d] * kc[(int64_t)k_cluster[u] * dim + d];
        mass[u / VS_ATTN_BLOCK] += exp(s / sqrt(dim)) / z;
    }
    for (int g = 0; g < VP; g++) total += mass[g];
    double before = 0, keys = 0;
    for (int r = 0; r < VP; r++) {
        int best = -1;
        for (int g = 0; g < VP; g++)
            if (!used[g] && (best < 0 || mass[g] > mass[best])) best = g;
        used[best] = 1;
        const int kept = cfg->budget > 0 ? keys < cfg->budget * V
                                         : before <= cfg->top_p || r < (int)(cfg->min_key_ratio * VP);
        keep[best] = (uint8_t)(r == 0 || kept);
        before += mass[best] / total;
        keys += V - best * VS_ATTN_BLOCK < VS_ATTN_BLOCK ? V - best * VS_ATTN_BLOCK : VS_ATTN_BLOCK;
    }
}

/* The chunks of head bh written out plainly: walking the positions, a chunk starts where the cluster
 * changes or the current chunk has VS_SVG2_CHUNK rows; the slots after the last start at N with 0 rows.
 * Returns how many chunks (0 on a mismatch). */
static int chunks_follow_the_rule(const vs_svg2_plan *plan, const vs_svg2_config *cfg, int bh, int N) {
    const int slots = vs_svg2_chunks(N, cfg->video_tokens, cfg->query_clusters);
    const int32_t *cluster = plan->q_cluster + (int64_t)bh * N;
    const int32_t *first = plan->chunk_first + (int64_t)bh * slots, *rows = plan->chunk_rows + (int64_t)bh * slots;
    int c = -1, start = 0;
    for (int p = 0; p < N; p++) {
        if (p == 0 || cluster[p] != cluster[p - 1] || p - start == VS_SVG2_CHUNK) {
            if (c >= 0 && rows[c] != p - start) return 0;
            start = p;
            if (++c >= slots || first[c] != p) return 0;
        }
    }
    if (rows[c] != N - start) return 0;
    for (int i = c + 1; i < slots; i++)
        if (first[i] != N || rows[i] != 0) return 0;
    return c + 1;
}

/* The selection of every (head, query cluster) and the head's chunks against the plain rules; the kept count
 * is the sum of rows x keys. Returns the number of failures. */
static int selection_matches(const vs_svg2_plan *plan, const vs_svg2_config *cfg, const float *qc, const float *kc,
                             int heads, int N, int dim, const char *what) {
    const int P = vs_svg2_pages(N), Cq = cfg->query_clusters, Ck = cfg->key_clusters, V = cfg->video_tokens;
    uint8_t want[MAX_PAGES];
    int64_t kept = 0;
    for (int h = 0; h < heads; h++) {
        const int32_t *q_start = plan->q_start + h * (Cq + 2);
        for (int i = 0; i <= Cq; i++) {
            plain_select(qc + (int64_t)h * Cq * dim, kc + (int64_t)h * Ck * dim, plan->k_cluster + h * N, cfg, N,
                         dim, i, want);
            const int32_t *row = plan->pages + ((int64_t)h * (Cq + 1) + i) * P;
            int n = 0, keys = 0;
            for (int g = 0; g < P; g++)
                if (want[g]) {
                    CHECK_MSG(n < P && row[n] == h * P + g, "%s head %d cluster %d: page %d", what, h, i, g);
                    n++, keys += (int)vs_attn_block_tokens(g, N);
                }
            for (int j = n; j < P; j++) CHECK(row[j] == row[0]);
            CHECK_MSG(plan->keys[h * (Cq + 1) + i] == keys, "%s cluster %d: %d keys, want %d", what, i,
                      plan->keys[h * (Cq + 1) + i], keys);
            if (cfg->budget > 0) CHECK(keys >= cfg->budget * V);
            kept += (int64_t)(q_start[i + 1] - q_start[i]) * keys;
        }
        const int chunks = chunks_follow_the_rule(plan, cfg, h, N);
        CHECK_MSG(chunks > 0, "%s head %d: the chunks", what, h);
    }
    CHECK_MSG(*plan->kept == (unsigned long long)kept, "%s: kept %llu, want %lld", what, *plan->kept, (long long)kept);
    return 0;
}

TEST(selection_follows_the_reference_rule) {
    enum { B = 1, H = 2, D = 64, CQ = 5, CK = 23 };
    /* with text (the page across V holds text), and without (the last page short) */
    const int videos[2] = {1000, 1100}, texts[2] = {4, 0};
    for (int shape = 0; shape < 2; shape++) {
        const int V = videos[shape], N = V + texts[shape];
        const float *q = random_floats((int64_t)N * H * D, 31), *k = random_floats((int64_t)N * H * D, 32);
        vs_attn_args a = make_args(B, H, N, D, q, k, k, NULL);
        const double top_ps[4] = {0.9, 0.3, 0.99, 0.9}, budgets[4] = {0, 0, 0, 0.25};
        for (int mode = 0; mode < 4; mode++) {
            vs_svg2_config cfg = config(CQ, CK, V);
            cfg.top_p = top_ps[mode], cfg.budget = budgets[mode];
            vs_svg2_plan plan = host_plan(&cfg, B * H, N);
            float *qc = vs_test_malloc(sizeof(float) * H * CQ * D), *kc = vs_test_malloc(sizeof(float) * H * CK * D);
            CHECK_OK(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_QUERIES, qc, 1, 4, &plan));
            CHECK_OK(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_KEYS, kc, 1, 4, &plan));
            CHECK_OK(vs_svg2_select_cpu(&a, &cfg, qc, kc, &plan));
            char what[64];
            snprintf(what, sizeof what, "shape %d mode %d", shape, mode);
            if (selection_matches(&plan, &cfg, qc, kc, H, N, D, what)) return 1;
            int dropped = 0;
            for (int i = 0; i < B * H * CQ; i++) dropped += plan.keys[i / CQ * (CQ + 1) + i % CQ] < N;
            CHECK_MSG(dropped > 0 || top_ps[mode] > 0.5, "mode %d: nothing dropped", mode); /* random data: flat */
        }
    }
    return 0;
}

/* ---- permutation and attention ----------------------------------------------------- */

TEST(permutation_round_trip) {
    enum { B = 2, H = 3, N = 37, D = 64 };
    const float *x = random_floats((int64_t)B * N * H * D, 41);
    int32_t *order = vs_test_malloc(sizeof(int32_t) * B * H * N);
    unsigned long long rng = 42;
    for (int bh = 0; bh < B * H; bh++) {
        for (int p = 0; p < N; p++) order[bh * N + p] = p;
        for (int p = N - 1; p > 0; p--) { /* Fisher-Yates */
            const int r = (int)(vs_test_uniform(&rng) * (p + 1)), t = order[bh * N + p];
            order[bh * N + p] = order[bh * N + r], order[bh * N + r] = t;
        }
    }
    float *packed = vs_test_malloc(sizeof(float) * B * H * N * D), *back = vs_test_malloc(sizeof(float) * B * N * H * D);
    vs_svg2_gather_cpu(x, (int64_t)N * H * D, H * D, order, B, H, N, D, packed);
    for (int bh = 0; bh < B * H; bh++)
        for (int p = 0; p < N; p++)
            CHECK(!memcmp(packed + ((int64_t)bh * N + p) * D, x + ((int64_t)(bh / H) * N + order[bh * N + p]) * H * D + (bh % H) * D,
                          sizeof(float) * D));
    for (int i = 0; i < B * N * H * D; i++) back[i] = NAN;
    vs_svg2_scatter_cpu(packed, order, B, H, N, D, back, (int64_t)N * H * D, H * D);
    CHECK(!memcmp(back, x, sizeof(float) * B * N * H * D));
    return 0;
}

/* Masked attention in double: the query at position p (of the query order) attends the key at position u
 * (of the key order) when page u / 128 is among the pages of p's query cluster (the text rows: cluster Cq). */
static void masked_reference(const vs_attn_args *a, const vs_svg2_config *cfg, const vs_svg2_plan *plan,
                             double *out) {
    const int N = a->seq_len, D = a->head_dim, P = vs_svg2_pages(N), Cq = cfg->query_clusters;
    int *qcluster = vs_test_malloc(sizeof(int) * N), *kpage = vs_test_malloc(sizeof(int) * N);
    uint8_t *keep = vs_test_malloc((size_t)(Cq + 1) * P);
    double *w = vs_test_malloc(sizeof(double) * N);
    const float *q = a->q, *k = a->k, *v = a->v;
    for (int bh = 0; bh < a->batch * a->heads; bh++) {
        const int b = bh / a->heads, h = bh % a->heads;
        for (int p = 0; p < N; p++)
            qcluster[plan->q_order[bh * N + p]] = plan->q_cluster[bh * N + p],
            kpage[plan->k_order[bh * N + p]] = p / VS_ATTN_BLOCK;
        memset(keep, 0, (size_t)(Cq + 1) * P);
        for (int c = 0; c <= Cq; c++)
            for (int i = 0; i < P; i++) keep[c * P + plan->pages[((int64_t)bh * (Cq + 1) + c) * P + i] - bh * P] = 1;
        for (int i = 0; i < N; i++) {
            const float *qi = q + b * a->q_stride_b + i * a->q_stride_n + h * D;
            double max = -INFINITY, sum = 0;
            for (int j = 0; j < N; j++) {
                w[j] = -INFINITY;
                if (!keep[qcluster[i] * P + kpage[j]]) continue;
                double s = 0;
                for (int d = 0; d < D; d++) s += (double)qi[d] * k[b * a->k_stride_b + j * a->k_stride_n + h * D + d];
                w[j] = s * a->scale;
                if (w[j] > max) max = w[j];
            }
            double *oi = out + b * a->o_stride_b + i * a->o_stride_n + h * D;
            for (int d = 0; d < D; d++) oi[d] = 0;
            for (int j = 0; j < N; j++) {
                if (w[j] == -INFINITY) continue;
                const double e = exp(w[j] - max);
                sum += e;
                for (int d = 0; d < D; d++) oi[d] += e * v[b * a->v_stride_b + j * a->v_stride_n + h * D + d];
            }
            for (int d = 0; d < D; d++) oi[d] /= sum;
        }
    }
}

/* Selection and attention on one shape: the selection and chunks against the plain rules, the output (into
 * NaNs) against the masked f64 reference. `q` may repeat points (empty clusters). Returns failures; adds to
 * counts[0] the clusters cut into several chunks whose last one is short, to counts[1] the empty ones. */
static int attention_case(int B, int H, int V, int T, int CQ, int CK, const float *q, unsigned long long seed,
                          int counts[2]) {
    enum { D = 64 };
    const int N = V + T;
    const int64_t n = (int64_t)B * N * H * D;
    const float *k = random_floats(n, seed + 1), *v = random_floats(n, seed + 2);
    float *out = vs_test_malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) out[i] = NAN;
    vs_attn_args a = make_args(B, H, N, D, q, k, v, out);
    vs_svg2_config cfg = config(CQ, CK, V);
    cfg.top_p = 0.5; /* some pairs dropped */
    vs_svg2_plan plan = host_plan(&cfg, B * H, N);
    float *qc = vs_test_malloc(sizeof(float) * B * H * CQ * D), *kc = vs_test_malloc(sizeof(float) * B * H * CK * D);
    CHECK_OK(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_QUERIES, qc, 1, 5, &plan));
    CHECK_OK(vs_svg2_kmeans_cpu(&a, &cfg, VS_SVG2_KEYS, kc, 1, 5, &plan));
    CHECK_OK(vs_svg2_select_cpu(&a, &cfg, qc, kc, &plan));
    char what[64];
    snprintf(what, sizeof what, "attention V %d T %d", V, T);
    if (selection_matches(&plan, &cfg, qc, kc, B * H, N, D, what)) return 1;
    CHECK(*plan.kept < (unsigned long long)B * H * N * N); /* sparse */
    for (int bh = 0; bh < B * H; bh++)
        for (int c = 0; c < CQ; c++) {
            const int size = plan.q_start[bh * (CQ + 2) + c + 1] - plan.q_start[bh * (CQ + 2) + c];
            counts[0] += size > VS_SVG2_CHUNK && size % VS_SVG2_CHUNK != 0;
            counts[1] += size == 0;
        }
    CHECK_OK(vs_svg2_attend_cpu(&a, &cfg, &plan));
    double *ref = vs_test_malloc(sizeof(double) * (size_t)n);
    masked_reference(&a, &cfg, &plan, ref);
    const double err = vs_test_rel_l2(out, ref, n);
    CHECK_MSG(err < 1e-6, "%s: relative L2 %.3g", what, err);
    return 0;
}

TEST(attention_matches_the_masked_f64_reference) {
    /* 513 video tokens into query clusters of about 4/3 of a chunk (3 clusters of about 171 rows at 128-row
     * chunks: one whole chunk and a short one), with text and without. */
    enum { B = 2, H = 2, V = 3 * 171, CQ = V / (VS_SVG2_CHUNK + VS_SVG2_CHUNK / 3), CK = 11 };
    const int texts[2] = {5, 0};
    for (int shape = 0; shape < 2; shape++) {
        const int N = V + texts[shape];
        const float *q = random_floats((int64_t)B * N * H * 64, 51);
        int counts[2] = {0, 0};
        if (attention_case(B, H, V, texts[shape], CQ, CK, q, 52, counts)) return 1;
        CHECK_MSG(counts[0] > 0, "no cluster ends in a short chunk"); /* the case it is for */
    }
    return 0;
}

TEST(empty_query_clusters_select_and_attend) {
    /* Every video query one of 3 points: of 7 query clusters at least 4 stay empty (no rows, no chunks). */
    enum { B = 1, H = 2, V = 300, T = 3, N = V + T, D = 64, CQ = 7, CK = 9 };
    const float *points = random_floats(3 * D, 61), *noise = random_floats((int64_t)N * H * D, 62);
    float *q = vs_test_malloc(sizeof(float) * (size_t)N * H * D);
    for (int t = 0; t < N; t++)
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++) {
                const int64_t at = ((int64_t)t * H + h) * D + d;
                q[at] = t < V ? points[(t * 5 + h) % 3 * D + d] : noise[at];
            }
    int counts[2] = {0, 0};
    if (attention_case(B, H, V, T, CQ, CK, q, 63, counts)) return 1;
    CHECK_MSG(counts[1] >= 4 * B * H, "%d empty clusters", counts[1]);
    /* The same tokens without text. */
    return attention_case(B, H, V, 0, CQ, CK, q, 64, counts);
}

/* ---- the method ------------------------------------------------------------------- */

TEST(method_runs_after_the_dense_warm_up_and_reports_its_density) {
    enum { F = 4, P = 130, N = F * P, H = 2, D = 64, LAYERS = 2 }; /* 5 pages, the last short */
    vs_sparse_setup setup = {VS_CPU, 2, H, N, D, 1, vs_svg_config_default(F, P, 0, 0.25), {0}};
    vs_attention_params params = {.method = "svg2", .density = 0.25, .dense_steps = 0.5, .dense_layers = 0.5};
    params.svg2_top_p = 0.5;
    vs_sparse_attention *attn = NULL;
    CHECK_OK(vs_sparse_attention_create(&attn, &setup, &params, LAYERS));
    vs_test_defer((void (*)(void *))vs_sparse_attention_free, attn);
    const int64_t shape[4] = {2, N, H, D}, n = 2 * N * H * D;
    vs_tensor *t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = vs_test_tensor();
        CHECK_OK(vs_tensor_alloc(t[i], VS_F32, VS_CPU, 4, shape));
        memcpy(t[i]->data, random_floats(n, 60 + (unsigned long long)i), sizeof(float) * (size_t)n);
    }
    vs_sparse_stats st;
    for (int step = 0; step < 4; step++) {
        for (int i = 0; i < n; i++) ((float *)t[3]->data)[i] = NAN;
        CHECK_OK(vs_sparse_attention_run(attn, 1, step, 4, t[0], t[1], t[2], t[3], NULL));
        for (int i = 0; i < n; i++) CHECK(isfinite(((float *)t[3]->data)[i]));
        CHECK_OK(vs_sparse_attention_take_stats(attn, &st));
        if (step < 2) CHECK(st.density == 1.0); /* dense warm-up: nothing selected */
        else CHECK_MSG(st.density > 0.1 && st.density < 1.0, "step %d: density %g", step, st.density);
    }
    /* The settings resolve to the reference's, clusters scaled with the tokens. */
    const vs_attention_params none = {0};
    vs_svg2_config c = vs_svg2_config_resolve(&none, 75600);
    CHECK(c.query_clusters == 300 && c.key_clusters == 1000 && c.top_p == 0.9 && c.min_key_ratio == 0.1 && c.budget == 0);
    c = vs_svg2_config_resolve(&none, 32760); /* Wan 1.3B 480p: the reference's counts */
    CHECK(c.query_clusters == 300 && c.key_clusters == 1000);
    c = vs_svg2_config_resolve(&none, 4096); /* the embedded model */
    CHECK(c.query_clusters == 300 && c.key_clusters == 1000);
    c = vs_svg2_config_resolve(&none, 2000); /* at least 4 tokens per cluster */
    CHECK(c.query_clusters == 300 && c.key_clusters == 500);
    c = vs_svg2_config_resolve(&none, 151200); /* longer: the tokens per cluster of Wan 720p */
    CHECK(c.query_clusters == 600 && c.key_clusters == 2000);
    c = vs_svg2_config_resolve(&none, 3);
    CHECK(c.query_clusters == 1 && c.key_clusters == 1);
    params.svg2_top_p = 1.5;
    vs_sparse_attention *bad = NULL;
    CHECK_FAILS(vs_sparse_attention_create(&bad, &setup, &params, LAYERS), VS_ERR_INVALID_ARG, "top-p 1.5");
    return 0;
}

TEST(public_api_runs_svg2) {
    enum { F = 3, P = 40, T = 2, N = F * P + T, H = 2, D = 64 };
    const vs_svg_config video = vs_svg_config_default(F, P, T, 0.25);
    const vs_attention_params params = {.method = "svg2", .density = -1, .dense_steps = 0, .dense_layers = 0};
    vs_attention *attn = NULL;
    CHECK_OK(vs_attention_create(&attn, VS_CPU, 1, H, N, D, &params, &video));
    vs_test_defer((void (*)(void *))vs_attention_free, attn);
    CHECK(!strcmp(vs_attention_method(attn), "svg2"));
    const int64_t shape[4] = {1, N, H, D}, n = N * H * D;
    vs_tensor *t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = vs_test_tensor();
        CHECK_OK(vs_tensor_alloc(t[i], VS_F32, VS_CPU, 4, shape));
        memcpy(t[i]->data, random_floats(n, 70 + (unsigned long long)i), sizeof(float) * (size_t)n);
    }
    for (int call = 0; call < 2; call++) { /* clustered from scratch, then warm-started */
        for (int i = 0; i < n; i++) ((float *)t[3]->data)[i] = NAN;
        CHECK_OK(vs_attention_run(attn, t[0], t[1], t[2], t[3], NULL));
        for (int i = 0; i < n; i++) CHECK(isfinite(((float *)t[3]->data)[i]));
    }
    /* Without the video's layout SVG2 cannot cluster. */
    vs_attention *bad = NULL;
    CHECK_FAILS(vs_attention_create(&bad, VS_CPU, 1, H, N, D, &params, NULL), VS_ERR_INVALID_ARG, "token layout");
    return 0;
}

RUN_TESTS(T(kmeans_on_separated_points_gives_the_plain_labels), T(kmeans_over_several_gemm_chunks_gives_the_plain_labels),
          T(kmeans_objective_matches_the_plain_one_on_random_points),
          T(kmeans_keeps_the_centroid_of_an_empty_cluster), T(selection_follows_the_reference_rule),
          T(permutation_round_trip), T(attention_matches_the_masked_f64_reference),
          T(empty_query_clusters_select_and_attend),
          T(method_runs_after_the_dense_warm_up_and_reports_its_density), T(public_api_runs_svg2))
