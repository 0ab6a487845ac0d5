#include "backend/cpu/svg2_cpu.h"

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

typedef struct {
    const vs_attn_args *args;
    const vs_svg2_config *cfg;
    int which, init, iterations, clusters;
    float *centroids;
    const vs_svg2_plan *plan;
    vs_status status; /* VS_ERR_OOM where a worker had no scratch */
} kmeans_job;

/* The nearest centroid of row x (squared distance; the lowest index on ties). */
static int nearest(const float *x, const float *centroids, int clusters, int dim) {
    int best = 0;
    float best_dist = INFINITY;
    for (int c = 0; c < clusters; c++) {
        const float *m = centroids + (int64_t)c * dim;
        float dist = 0;
        for (int d = 0; d < dim; d++) dist += (x[d] - m[d]) * (x[d] - m[d]);
        if (dist < best_dist) best_dist = dist, best = c;
    }
    return best;
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

static void kmeans_heads(void *ctx, int64_t begin, int64_t end) {
    kmeans_job *j = ctx;
    const vs_attn_args *a = j->args;
    const int C = j->clusters, D = a->head_dim, V = j->cfg->video_tokens, N = a->seq_len;
    const float *x = j->which == VS_SVG2_KEYS ? a->k : a->q;
    const int64_t stride_b = j->which == VS_SVG2_KEYS ? a->k_stride_b : a->q_stride_b;
    const int64_t stride_n = j->which == VS_SVG2_KEYS ? a->k_stride_n : a->q_stride_n;
    int32_t *labels = malloc(sizeof *labels * (size_t)(V > 0 ? V : 1));
    int32_t *fill = malloc(sizeof *fill * (size_t)C);
    double *sum = malloc(sizeof *sum * (size_t)D);
    if (!labels || !fill || !sum) {
        j->status = VS_ERR_OOM;
        goto done;
    }
    for (int64_t bh = begin; bh < end; bh++) {
        const int b = (int)(bh / a->heads), h = (int)(bh % a->heads);
        float *centroids = j->centroids + bh * C * D;
        int32_t *order = (j->which == VS_SVG2_KEYS ? j->plan->k_order : j->plan->q_order) + bh * N;
        int32_t *cluster = (j->which == VS_SVG2_KEYS ? j->plan->k_cluster : j->plan->q_cluster) + bh * N;
        int32_t *start = (j->which == VS_SVG2_KEYS ? j->plan->k_start : j->plan->q_start) + bh * (C + 2);
        if (j->init)
            for (int c = 0; c < C; c++) {
                const int64_t t = (int64_t)((c + 0.5) * V / C);
                memcpy(centroids + (int64_t)c * D, token_row(x, stride_b, stride_n, b, h, D, t),
                       sizeof(float) * (size_t)D);
            }
        for (int it = 0; it < j->iterations; it++) {
            for (int t = 0; t < V; t++)
                labels[t] = nearest(token_row(x, stride_b, stride_n, b, h, D, t), centroids, C, D);
            cluster_order(labels, C, V, N, order, cluster, start, fill);
            for (int c = 0; c < C; c++) {
                if (start[c + 1] == start[c]) continue; /* empty: keeps its centroid */
                memset(sum, 0, sizeof *sum * (size_t)D);
                for (int p = start[c]; p < start[c + 1]; p++) {
                    const float *row = token_row(x, stride_b, stride_n, b, h, D, order[p]);
                    for (int d = 0; d < D; d++) sum[d] += row[d];
                }
                for (int d = 0; d < D; d++) centroids[(int64_t)c * D + d] = (float)(sum[d] / (start[c + 1] - start[c]));
            }
        }
    }
done:
    free(labels), free(fill), free(sum);
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
    kmeans_job job = {args, cfg, which, init, iterations,
                      which == VS_SVG2_KEYS ? cfg->key_clusters : cfg->query_clusters, centroids, plan, VS_OK};
    vs_parallel_for((int64_t)args->batch * args->heads, 1, kmeans_heads, &job);
    return job.status ? vs_fail(job.status, "out of host memory for SVG2's k-means") : VS_OK;
}

/* ---- selection ------------------------------------------------------------------- */

int64_t vs_svg2_kept_elements(const vs_svg2_config *cfg, int seq_len, const int32_t *q_start,
                              const int32_t *k_start, const uint8_t *keep) {
    const int Cq = cfg->query_clusters, Ck = cfg->key_clusters;
    const int64_t text = seq_len - cfg->video_tokens;
    int64_t kept = text * seq_len;
    for (int i = 0; i < Cq; i++) {
        int64_t keys = text;
        for (int j = 0; j < Ck; j++)
            if (keep[(int64_t)i * (Ck + 1) + j]) keys += k_start[j + 1] - k_start[j];
        kept += keys * (q_start[i + 1] - q_start[i]);
    }
    return kept;
}

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

static void select_heads(void *ctx, int64_t begin, int64_t end) {
    select_job *j = ctx;
    const vs_svg2_config *cfg = j->cfg;
    const int Cq = cfg->query_clusters, Ck = cfg->key_clusters, D = j->args->head_dim, N = j->args->seq_len;
    const int min_keep = (int)(cfg->min_key_ratio * Ck);
    ranked *r = malloc(sizeof *r * (size_t)Ck);
    if (!r) {
        j->status = VS_ERR_OOM;
        return;
    }
    for (int64_t bh = begin; bh < end; bh++) {
        const float *qc = j->q_centroids + bh * Cq * D, *kc = j->k_centroids + bh * Ck * D;
        const int32_t *k_start = j->plan->k_start + bh * (Ck + 2);
        uint8_t *keep = j->plan->keep + bh * (Cq + 1) * (Ck + 1);
        for (int i = 0; i < Cq; i++) {
            /* The mass of key cluster j for query centroid i: softmax of the centroid scores weighted by the
             * cluster sizes (a cluster of n keys near its centroid holds about n times one key's weight). */
            double max_score = -INFINITY, total = 0;
            for (int c = 0; c < Ck; c++) {
                double dot = 0;
                for (int d = 0; d < D; d++) dot += (double)qc[(int64_t)i * D + d] * kc[(int64_t)c * D + d];
                r[c].p = dot * j->args->scale, r[c].index = c;
                if (r[c].p > max_score) max_score = r[c].p;
            }
            for (int c = 0; c < Ck; c++) {
                r[c].p = (k_start[c + 1] - k_start[c]) * exp(r[c].p - max_score);
                total += r[c].p;
            }
            for (int c = 0; c < Ck; c++) r[c].p /= total;
            qsort(r, (size_t)Ck, sizeof *r, by_share);
            uint8_t *row = keep + (int64_t)i * (Ck + 1);
            double share = 0, keys = 0; /* of the clusters ranked before this one */
            for (int c = 0; c < Ck; c++) {
                const int keep_it = cfg->budget > 0 ? keys < cfg->budget * cfg->video_tokens
                                                    : share <= cfg->top_p || c < min_keep;
                row[r[c].index] = (uint8_t)(c == 0 || keep_it);
                share += r[c].p;
                keys += k_start[r[c].index + 1] - k_start[r[c].index];
            }
            row[Ck] = 1; /* text keys */
        }
        memset(keep + (int64_t)Cq * (Ck + 1), 1, (size_t)Ck + 1); /* text queries */
        j->kept[bh] = vs_svg2_kept_elements(cfg, N, j->plan->q_start + bh * (Cq + 2), k_start, keep);
    }
    free(r);
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

/* One query cluster (the text rows: cluster Cq) of packed [N][D] q, k, v in cluster order: its rows are
 * contiguous, the keys of its kept clusters are gathered into `keys` and `values`, and the GEMM does the
 * work: S = scale Q K^T, a softmax per row, O = S V. `scores` holds rows x N. */
static void attend_cluster(const vs_attn_args *a, const vs_svg2_config *cfg, const int32_t *q_start,
                           const int32_t *k_start, const uint8_t *keep, int cluster, const float *q,
                           const float *k, const float *v, float *out, float *keys, float *values, float *scores) {
    const int D = a->head_dim, rows = q_start[cluster + 1] - q_start[cluster];
    if (!rows) return;
    int n = 0;
    for (int c = 0; c <= cfg->key_clusters; c++) {
        if (!keep[c]) continue;
        const int span = k_start[c + 1] - k_start[c];
        memcpy(keys + (int64_t)n * D, k + (int64_t)k_start[c] * D, sizeof(float) * (size_t)span * D);
        memcpy(values + (int64_t)n * D, v + (int64_t)k_start[c] * D, sizeof(float) * (size_t)span * D);
        n += span;
    }
    float *o = out + (int64_t)q_start[cluster] * D;
    if (!n) {
        memset(o, 0, sizeof(float) * (size_t)rows * D); /* nothing kept: zeros */
        return;
    }
    vs_cpu_gemm(0, 1, rows, n, D, a->scale, q + (int64_t)q_start[cluster] * D, D, keys, D, 0.0f, scores, n);
    vs_cpu_softmax_rows(scores, rows, n);
    vs_cpu_gemm(0, 0, rows, D, n, 1.0f, scores, n, values, D, 0.0f, o, D);
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
    const int Cq = cfg->query_clusters, Ck = cfg->key_clusters, N = a->seq_len, D = a->head_dim;
    float *keys = malloc(sizeof(float) * (size_t)(2 * (int64_t)N * D));
    int max_rows = 0;
    for (int64_t i = 0; i < bh; i++)
        for (int c = 0; c <= Cq; c++) {
            const int rows = plan->q_start[i * (Cq + 2) + c + 1] - plan->q_start[i * (Cq + 2) + c];
            if (rows > max_rows) max_rows = rows;
        }
    float *scores = malloc(sizeof(float) * (size_t)((int64_t)max_rows * N + 1));
    vs_status status = keys && scores ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory for SVG2's attention");
    for (int64_t i = 0; !status && i < bh; i++)
        for (int c = 0; c <= Cq; c++)
            attend_cluster(a, cfg, plan->q_start + i * (Cq + 2), plan->k_start + i * (Ck + 2),
                           plan->keep + (i * (Cq + 1) + c) * (Ck + 1), c, q + i * N * D, k + i * N * D,
                           v + i * N * D, out + i * N * D, keys, keys + (int64_t)N * D, scores);
    if (!status)
        vs_svg2_scatter_cpu(out, plan->q_order, a->batch, a->heads, a->seq_len, a->head_dim, a->out, a->o_stride_b,
                            a->o_stride_n);
    free(keys), free(scores);
    free(packed);
    return status;
}
