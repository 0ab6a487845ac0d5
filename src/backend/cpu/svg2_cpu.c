#include "backend/cpu/svg2_cpu.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "core/status.h"
#include "core/threadpool.h"

/* Row of token t of head h of batch entry b of a [B, N, H, D] tensor. */
static const float *token_row(const float *x, int64_t stride_b, int64_t stride_n, int b, int h, int head_dim,
                              int64_t t) {
    return x + b * stride_b + t * stride_n + (int64_t)h * head_dim;
}

/* ---- k-means ---------------------------------------------------------------------- */

/* Tokens assigned per GEMM: their dot products with every centroid fit ASSIGN_CHUNK x C floats. */
enum { ASSIGN_CHUNK = 1024 };

typedef struct {
    const vs_attn_args *args;
    const vs_svg2_config *cfg;
    int which, init, iterations, clusters;
    float *centroids;
    const vs_svg2_plan *plan;
} kmeans_job;

typedef struct {
    const float *rows, *centroids; /* the chunk's first row (token stride `stride`), [C][D] */
    int64_t stride;
    const float *dots, *norms; /* [rows][C] row . centroid, [C] |centroid|^2 */
    float max_norm;            /* the largest of norms */
    int clusters, dim;
    int32_t *labels;
} assign_job;

/* |x - c|^2 summed term by term, as a plain loop does. */
static float squared_distance(const float *x, const float *c, int dim) {
    float dist = 0;
    for (int d = 0; d < dim; d++) dist += (x[d] - c[d]) * (x[d] - c[d]);
    return dist;
}

/* The nearest centroid of each row, the lowest index on ties. |c|^2 - 2 x.c from the GEMM (|x - c|^2 less
 * the row's own |x|^2) ranks the centroids; it cancels where |x| and |c| are large next to their distance,
 * so the centroids within its rounding bound of the best (about D eps (|x|^2 + |c|^2)) are compared again
 * by the plain squared distance. Most rows have one such centroid. */
static void assign_rows(void *ctx, int64_t begin, int64_t end) {
    const assign_job *j = ctx;
    const int C = j->clusters, D = j->dim;
    for (int64_t r = begin; r < end; r++) {
        const float *dot = j->dots + r * C, *x = j->rows + r * j->stride;
        float best_rank = INFINITY, x_norm = 0;
        for (int c = 0; c < C; c++)
            if (j->norms[c] - 2 * dot[c] < best_rank) best_rank = j->norms[c] - 2 * dot[c];
        for (int d = 0; d < D; d++) x_norm += x[d] * x[d];
        const float margin = 4.0f * (D + 2) * FLT_EPSILON * (x_norm + j->max_norm);
        int best = 0;
        float best_dist = INFINITY;
        for (int c = 0; c < C; c++) {
            if (j->norms[c] - 2 * dot[c] > best_rank + margin) continue;
            const float dist = squared_distance(x, j->centroids + (int64_t)c * D, D);
            if (dist < best_dist) best_dist = dist, best = c;
        }
        j->labels[r] = best;
    }
}

/* The cluster order of `labels` (a stable counting sort): order, cluster and start of one (batch, head),
 * text positions after the video ones, in place. `fill` is scratch of `clusters` ints. */
static void cluster_order(const int32_t *labels, int clusters, int video, int seq_len, int32_t *order,
                          int32_t *cluster, int32_t *start, int32_t *fill) {
    memset(fill, 0, sizeof *fill * (size_t)clusters);
    for (int t = 0; t < video; t++) fill[labels[t]]++;
    start[0] = 0;
    for (int c = 0; c < clusters; c++) start[c + 1] = start[c] + fill[c], fill[c] = start[c];
    start[clusters + 1] = seq_len;
    for (int t = 0; t < video; t++) {
        const int pos = fill[labels[t]]++;
        order[pos] = t, cluster[pos] = labels[t];
    }
    for (int t = video; t < seq_len; t++) order[t] = t, cluster[t] = clusters;
}

/* Lloyd on the video rows of one (batch, head), `rows` with token stride `stride`: the assignment is a GEMM
 * per chunk of tokens (threaded by the GEMM, the arg-min over the pool), the update one pass over the tokens
 * summing in double. Scratch: dots [ASSIGN_CHUNK][C], norms [C], sum [C][D], count [C]. */
static void lloyd(const float *rows, int64_t stride, int V, int C, int D, int iterations, float *centroids,
                  int32_t *labels, float *dots, float *norms, double *sum, int32_t *count) {
    for (int it = 0; it < iterations; it++) {
        float max_norm = 0;
        for (int c = 0; c < C; c++) {
            double n = 0;
            for (int d = 0; d < D; d++) n += (double)centroids[(int64_t)c * D + d] * centroids[(int64_t)c * D + d];
            norms[c] = (float)n;
            if (norms[c] > max_norm) max_norm = norms[c];
        }
        for (int t = 0; t < V; t += ASSIGN_CHUNK) {
            const int n = V - t < ASSIGN_CHUNK ? V - t : ASSIGN_CHUNK;
            vs_cpu_gemm(0, 1, n, C, D, 1.0f, rows + t * stride, stride, centroids, D, 0.0f, dots, C);
            assign_job job = {rows + t * stride, centroids, stride, dots, norms, max_norm, C, D, labels + t};
            vs_parallel_for(n, 64, assign_rows, &job);
        }
        memset(sum, 0, sizeof *sum * (size_t)C * D);
        memset(count, 0, sizeof *count * (size_t)C);
        for (int t = 0; t < V; t++) {
            const float *x = rows + t * stride;
            double *s = sum + (int64_t)labels[t] * D;
            for (int d = 0; d < D; d++) s[d] += x[d];
            count[labels[t]]++;
        }
        for (int c = 0; c < C; c++) /* an empty cluster keeps its centroid */
            for (int d = 0; d < D && count[c]; d++)
                centroids[(int64_t)c * D + d] = (float)(sum[(int64_t)c * D + d] / count[c]);
    }
}

/* The heads one after the other: the GEMM and the arg-min spread each over the threads. */
static vs_status kmeans_heads(const kmeans_job *j) {
    const vs_attn_args *a = j->args;
    const int C = j->clusters, D = a->head_dim, V = j->cfg->video_tokens, N = a->seq_len;
    const float *x = j->which == VS_SVG2_KEYS ? a->k : a->q;
    const int64_t stride_b = j->which == VS_SVG2_KEYS ? a->k_stride_b : a->q_stride_b;
    const int64_t stride_n = j->which == VS_SVG2_KEYS ? a->k_stride_n : a->q_stride_n;
    const int chunk = V < ASSIGN_CHUNK ? V : ASSIGN_CHUNK;
    int32_t *labels = malloc(sizeof *labels * (size_t)V), *count = malloc(sizeof *count * (size_t)C);
    float *dots = malloc(sizeof *dots * (size_t)chunk * C), *norms = malloc(sizeof *norms * (size_t)C);
    double *sum = malloc(sizeof *sum * (size_t)C * D);
    vs_status status = labels && count && dots && norms && sum ? VS_OK : VS_ERR_OOM;
    for (int64_t bh = 0; !status && bh < (int64_t)a->batch * a->heads; bh++) {
        const float *rows = x + (bh / a->heads) * stride_b + (bh % a->heads) * D;
        float *centroids = j->centroids + bh * C * D;
        if (j->init)
            for (int c = 0; c < C; c++)
                memcpy(centroids + (int64_t)c * D, rows + (int64_t)((c + 0.5) * V / C) * stride_n,
                       sizeof(float) * (size_t)D);
        lloyd(rows, stride_n, V, C, D, j->iterations, centroids, labels, dots, norms, sum, count);
        const int which_keys = j->which == VS_SVG2_KEYS;
        cluster_order(labels, C, V, N, (which_keys ? j->plan->k_order : j->plan->q_order) + bh * N,
                      (which_keys ? j->plan->k_cluster : j->plan->q_cluster) + bh * N,
                      (which_keys ? j->plan->k_start : j->plan->q_start) + bh * (C + 2), count);
    }
    free(labels), free(count), free(dots), free(norms), free(sum);
    return status;
}

static vs_status check_config(const vs_attn_args *a, const vs_svg2_config *cfg) {
    if (a->dtype != VS_F32) return vs_fail(VS_ERR_UNSUPPORTED, "SVG2 on the CPU takes F32");
    if (cfg->query_clusters < 1 || cfg->key_clusters < 1 || cfg->video_tokens < 1 ||
        cfg->video_tokens > a->seq_len || cfg->query_clusters > cfg->video_tokens ||
        cfg->key_clusters > cfg->video_tokens)
        return vs_fail(VS_ERR_INVALID_ARG, "SVG2: %d query and %d key clusters for %d video tokens of %d",
                       cfg->query_clusters, cfg->key_clusters, cfg->video_tokens, a->seq_len);
    return VS_OK;
}

vs_status vs_svg2_kmeans_cpu(const vs_attn_args *args, const vs_svg2_config *cfg, int which, float *centroids,
                             int init, int iterations, const vs_svg2_plan *plan) {
    VS_TRY(check_config(args, cfg));
    if (iterations < 1) return vs_fail(VS_ERR_INVALID_ARG, "SVG2 k-means: %d iterations", iterations);
    const kmeans_job job = {args, cfg, which, init, iterations,
                            which == VS_SVG2_KEYS ? cfg->key_clusters : cfg->query_clusters, centroids, plan};
    return kmeans_heads(&job) ? vs_fail(VS_ERR_OOM, "out of host memory for SVG2's k-means") : VS_OK;
}

/* ---- selection ------------------------------------------------------------------- */

typedef struct {
    double p;
    int index;
} ranked;

/* Larger share first, the lower index first on ties. */
static int by_share(const void *x, const void *y) {
    const ranked *a = x, *b = y;
    if (a->p != b->p) return a->p > b->p ? -1 : 1;
    return a->index - b->index;
}

typedef struct {
    const vs_attn_args *args;
    const vs_svg2_config *cfg;
    const float *q_centroids, *k_centroids;
    const vs_svg2_plan *plan;
    int64_t *kept; /* [BH] */
    vs_status status;
} select_job;

int vs_svg2_video_pages(int seq_len, int video_tokens) {
    return seq_len == video_tokens ? vs_svg2_pages(seq_len) : video_tokens / VS_ATTN_BLOCK;
}

/* weight[i][j]: the estimated attention weight of one key of cluster j for a query of cluster i, the
 * softmax of the centroid scores weighted by the cluster sizes (a cluster of n keys near its centroid
 * holds about n times one key's weight), so that sum_j n_j weight[i][j] = 1. */
static void key_weights(const float *qc, const float *kc, const int32_t *k_start, int Cq, int Ck, int D,
                        double scale, double *weight) {
    for (int i = 0; i < Cq; i++) {
        double *w = weight + (int64_t)i * Ck, max_score = -INFINITY, total = 0;
        for (int c = 0; c < Ck; c++) {
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)qc[(int64_t)i * D + d] * kc[(int64_t)c * D + d];
            w[c] = dot * scale;
            if (w[c] > max_score) max_score = w[c];
        }
        for (int c = 0; c < Ck; c++) {
            w[c] = exp(w[c] - max_score);
            total += (k_start[c + 1] - k_start[c]) * w[c];
        }
        for (int c = 0; c < Ck; c++) w[c] /= total;
    }
}

/* The pages query cluster i of one (batch, head) keeps (docs/svg2.md), written to `row` as global page
 * indices (page_base + page); returns their keys. The mass of a video page is the sum of w[i][cluster] over
 * its keys; the pages are ranked by their share of the video pages' mass (ties: the lower index) and kept
 * by top-p (at least the first and floor(min_key_ratio * video pages) of them) or by the budget; pages
 * holding text keys are always kept. i == Cq (the text rows) keeps every page. `r` [P] and `keep` [P] are
 * scratch. */
static int select_cluster(const vs_svg2_config *cfg, int N, const double *weight, const int32_t *k_cluster, int i,
                          int32_t page_base, int32_t *row, ranked *r, uint8_t *keep) {
    const int Ck = cfg->key_clusters, V = cfg->video_tokens, P = vs_svg2_pages(N);
    const int video_pages = vs_svg2_video_pages(N, V), min_keep = (int)(cfg->min_key_ratio * video_pages);
    memset(keep, 1, (size_t)P); /* text rows attend everything; pages holding text are always kept */
    if (i < cfg->query_clusters) {
        const double *w = weight + (int64_t)i * Ck;
        double total = 0;
        for (int g = 0; g < video_pages; g++) {
            r[g].p = 0, r[g].index = g;
            for (int pos = g * VS_ATTN_BLOCK; pos < (g + 1) * VS_ATTN_BLOCK && pos < V; pos++)
                r[g].p += w[k_cluster[pos]];
            total += r[g].p;
        }
        for (int g = 0; g < video_pages; g++) r[g].p /= total;
        qsort(r, (size_t)video_pages, sizeof *r, by_share);
        double share = 0, keys = 0; /* of the pages ranked before this one */
        for (int g = 0; g < video_pages; g++) {
            const int keep_it = cfg->budget > 0 ? keys < cfg->budget * V : share <= cfg->top_p || g < min_keep;
            keep[r[g].index] = (uint8_t)(g == 0 || keep_it);
            share += r[g].p;
            keys += VS_ATTN_BLOCK < V - r[g].index * VS_ATTN_BLOCK ? VS_ATTN_BLOCK : V - r[g].index * VS_ATTN_BLOCK;
        }
    }
    int n = 0, keys = 0;
    for (int g = 0; g < P; g++)
        if (keep[g]) row[n++] = page_base + g, keys += (int)vs_attn_block_tokens(g, N);
    for (int g = n; g < P; g++) row[g] = row[0];
    return keys;
}

/* One head's chunks (sparse_kernels.h): every cluster's span, the text's too, cut from its first position
 * into VS_SVG2_CHUNK rows; the slots after the last chunk start at N with 0 rows. */
static void fill_chunks(const int32_t *q_start, int Cq, int slots, int32_t *first, int32_t *rows) {
    int c = 0;
    for (int i = 0; i <= Cq; i++)
        for (int at = q_start[i]; at < q_start[i + 1]; at += VS_SVG2_CHUNK, c++)
            first[c] = at, rows[c] = q_start[i + 1] - at < VS_SVG2_CHUNK ? q_start[i + 1] - at : VS_SVG2_CHUNK;
    for (; c < slots; c++) first[c] = q_start[Cq + 1], rows[c] = 0;
}

static void select_heads(void *ctx, int64_t begin, int64_t end) {
    select_job *j = ctx;
    const vs_svg2_config *cfg = j->cfg;
    const int Cq = cfg->query_clusters, Ck = cfg->key_clusters, D = j->args->head_dim, N = j->args->seq_len;
    const int P = vs_svg2_pages(N), slots = vs_svg2_chunks(N, cfg->video_tokens, Cq);
    double *weight = malloc(sizeof *weight * (size_t)Cq * Ck);
    ranked *r = malloc(sizeof *r * (size_t)P);
    uint8_t *keep = malloc((size_t)P);
    if (!weight || !r || !keep) {
        j->status = VS_ERR_OOM;
        goto done;
    }
    for (int64_t bh = begin; bh < end; bh++) {
        const vs_svg2_plan *plan = j->plan;
        const int32_t *q_start = plan->q_start + bh * (Cq + 2);
        key_weights(j->q_centroids + bh * Cq * D, j->k_centroids + bh * Ck * D, plan->k_start + bh * (Ck + 2), Cq,
                    Ck, D, j->args->scale, weight);
        j->kept[bh] = 0;
        for (int i = 0; i <= Cq; i++) { /* i = Cq: the text rows */
            const int64_t at = bh * (Cq + 1) + i;
            plan->keys[at] = select_cluster(cfg, N, weight, plan->k_cluster + bh * N, i, (int32_t)(bh * P),
                                            plan->pages + at * P, r, keep);
            j->kept[bh] += (int64_t)(q_start[i + 1] - q_start[i]) * plan->keys[at];
        }
        fill_chunks(q_start, Cq, slots, plan->chunk_first + bh * slots, plan->chunk_rows + bh * slots);
    }
done:
    free(weight), free(r), free(keep);
}

vs_status vs_svg2_select_cpu(const vs_attn_args *args, const vs_svg2_config *cfg, const float *q_centroids,
                             const float *k_centroids, const vs_svg2_plan *plan) {
    VS_TRY(check_config(args, cfg));
    const int64_t bh = (int64_t)args->batch * args->heads;
    int64_t *kept = calloc((size_t)bh, sizeof *kept);
    if (!kept) return vs_fail(VS_ERR_OOM, "out of host memory");
    select_job job = {args, cfg, q_centroids, k_centroids, plan, kept, VS_OK};
    vs_parallel_for(bh, 1, select_heads, &job);
    for (int64_t i = 0; i < bh; i++) *plan->kept += (unsigned long long)kept[i];
    free(kept);
    return job.status ? vs_fail(job.status, "out of host memory for SVG2's selection") : VS_OK;
}

/* ---- permutation and attention --------------------------------------------------------- */

void vs_svg2_gather_cpu(const float *x, int64_t stride_b, int64_t stride_n, const int32_t *order, int batch,
                        int heads, int seq_len, int head_dim, float *packed) {
    for (int64_t bh = 0; bh < (int64_t)batch * heads; bh++)
        for (int p = 0; p < seq_len; p++)
            memcpy(packed + (bh * seq_len + p) * head_dim,
                   token_row(x, stride_b, stride_n, (int)(bh / heads), (int)(bh % heads), head_dim,
                             order[bh * seq_len + p]),
                   sizeof(float) * (size_t)head_dim);
}

void vs_svg2_scatter_cpu(const float *packed, const int32_t *order, int batch, int heads, int seq_len,
                         int head_dim, float *x, int64_t stride_b, int64_t stride_n) {
    for (int64_t bh = 0; bh < (int64_t)batch * heads; bh++)
        for (int p = 0; p < seq_len; p++)
            memcpy((float *)token_row(x, stride_b, stride_n, (int)(bh / heads), (int)(bh % heads), head_dim,
                                      order[bh * seq_len + p]),
                   packed + (bh * seq_len + p) * head_dim, sizeof(float) * (size_t)head_dim);
}

/* One query cluster of packed [N][D] q, k, v in cluster order (a head's rows at q, k, v, out): the keys of
 * its pages (global indices, less page_base) are gathered into `keys` and `values`, and the GEMM does the
 * work, VS_SVG2_CHUNK rows at a time: S = scale Q K^T, a softmax per row, O = S V. `scores` holds
 * VS_SVG2_CHUNK x N. */
static void attend_cluster(const vs_attn_args *a, const int32_t *pages, int num_keys, int32_t page_base, int first,
                           int end, const float *q, const float *k, const float *v, float *out, float *keys,
                           float *values, float *scores) {
    const int D = a->head_dim;
    for (int n = 0, i = 0; n < num_keys; i++) {
        const int page = pages[i] - page_base, span = (int)vs_attn_block_tokens(page, a->seq_len);
        const int64_t from = (int64_t)page * VS_ATTN_BLOCK * D;
        memcpy(keys + (int64_t)n * D, k + from, sizeof(float) * (size_t)span * D);
        memcpy(values + (int64_t)n * D, v + from, sizeof(float) * (size_t)span * D);
        n += span;
    }
    for (int row = first; row < end; row += VS_SVG2_CHUNK) {
        const int rows = end - row < VS_SVG2_CHUNK ? end - row : VS_SVG2_CHUNK;
        vs_cpu_gemm(0, 1, rows, num_keys, D, a->scale, q + (int64_t)row * D, D, keys, D, 0.0f, scores, num_keys);
        vs_cpu_softmax_rows(scores, rows, num_keys);
        vs_cpu_gemm(0, 0, rows, D, num_keys, 1.0f, scores, num_keys, values, D, 0.0f, out + (int64_t)row * D, D);
    }
}

vs_status vs_svg2_attend_cpu(const vs_attn_args *a, const vs_svg2_config *cfg, const vs_svg2_plan *plan) {
    VS_TRY(check_config(a, cfg));
    const int64_t bh = (int64_t)a->batch * a->heads, elems = bh * a->seq_len * a->head_dim;
    float *packed = malloc(sizeof(float) * (size_t)(4 * elems));
    if (!packed) return vs_fail(VS_ERR_OOM, "out of host memory for SVG2's permuted q, k, v");
    float *q = packed, *k = q + elems, *v = k + elems, *out = v + elems;
    vs_svg2_gather_cpu(a->q, a->q_stride_b, a->q_stride_n, plan->q_order, a->batch, a->heads, a->seq_len,
                       a->head_dim, q);
    vs_svg2_gather_cpu(a->k, a->k_stride_b, a->k_stride_n, plan->k_order, a->batch, a->heads, a->seq_len,
                       a->head_dim, k);
    vs_svg2_gather_cpu(a->v, a->v_stride_b, a->v_stride_n, plan->k_order, a->batch, a->heads, a->seq_len,
                       a->head_dim, v);
    const int N = a->seq_len, D = a->head_dim, P = vs_svg2_pages(N), Cq = cfg->query_clusters;
    float *keys = malloc(sizeof(float) * (size_t)(2 * (int64_t)N * D));
    float *scores = malloc(sizeof(float) * (size_t)((int64_t)VS_SVG2_CHUNK * N));
    vs_status status = keys && scores ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory for SVG2's attention");
    for (int64_t i = 0; !status && i < bh; i++) {
        const int32_t *q_start = plan->q_start + i * (Cq + 2);
        for (int c = 0; c <= Cq; c++) /* c = Cq: the text rows */
            if (q_start[c + 1] > q_start[c])
                attend_cluster(a, plan->pages + (i * (Cq + 1) + c) * P, plan->keys[i * (Cq + 1) + c], (int32_t)(i * P),
                               q_start[c], q_start[c + 1], q + i * N * D, k + i * N * D, v + i * N * D,
                               out + i * N * D, keys, keys + (int64_t)N * D, scores);
    }
    if (!status)
        vs_svg2_scatter_cpu(out, plan->q_order, a->batch, a->heads, a->seq_len, a->head_dim, a->out, a->o_stride_b,
                            a->o_stride_n);
    free(keys), free(scores);
    free(packed);
    return status;
}
