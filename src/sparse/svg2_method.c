/* The "svg2" method (Sparse VideoGen 2, docs/svg2.md): per (batch entry,
 * head) the video queries and keys are clustered by k-means, each query
 * cluster keeps the key pages (128 positions of the keys' cluster order) that
 * carry the top-p of its estimated attention mass, and attention runs over
 * the kept pages; text tokens stay dense. Each layer keeps
 * its centroids across denoising steps: 50 k-means iterations at its first
 * sparse call, then 2 warm-started ones per call. The batch holds the CFG
 * branches, so every branch keeps its own centroids. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/sparse_kernels.h"
#include "core/log.h"
#include "core/status.h"
#include "sparse/method.h"
#include "sparse/svg2.h"

enum { INIT_ITERATIONS = 50, STEP_ITERATIONS = 2 };

/* The reference's settings at Wan 720p (75600 video tokens): the counts of every shorter video (at least
 * MIN_TOKENS_PER_CLUSTER tokens per cluster); longer ones keep the tokens per cluster (docs/svg2.md). */
enum { ANCHOR_TOKENS = 75600, ANCHOR_QUERY_CLUSTERS = 300, ANCHOR_KEY_CLUSTERS = 1000 };
enum { MIN_TOKENS_PER_CLUSTER = 4 };

typedef struct {
    const vs_sparse_kernels *kernels;
    vs_svg2_config cfg;
    vs_svg2_plan plan; /* the last call's, on the device */
    void *workspace;
    size_t workspace_bytes;
    int64_t calls; /* sparse calls since the last take */
} svg2_context;

typedef struct {
    float *q_centroids, *k_centroids; /* [BH][C][D] on the device */
    int clustered;                    /* the centroids hold a previous call's */
} svg2_layer;

static size_t batch_heads(const vs_sparse_setup *setup) {
    return (size_t)setup->batch * setup->heads;
}

/* The plan's device arrays (sparse_kernels.h): where each goes and its bytes, so that context_create
 * allocates exactly what device_bytes counts. */
enum { PLAN_ARRAYS = 11 };
static void plan_arrays(const vs_sparse_setup *setup, const vs_svg2_config *cfg, vs_svg2_plan *plan,
                        void **where[PLAN_ARRAYS], size_t bytes[PLAN_ARRAYS]) {
    const size_t bh = batch_heads(setup), i32 = sizeof(int32_t), tokens = bh * (size_t)setup->seq_len * i32;
    const size_t rows = (size_t)cfg->query_clusters + 1, pages = (size_t)vs_svg2_pages(setup->seq_len);
    const size_t chunks =
        bh * (size_t)vs_svg2_chunks(setup->seq_len, cfg->video_tokens, cfg->query_clusters) * i32;
    void **const w[PLAN_ARRAYS] = {
        (void **)&plan->q_order,    (void **)&plan->k_order, (void **)&plan->q_cluster,
        (void **)&plan->k_cluster,  (void **)&plan->q_start, (void **)&plan->k_start,
        (void **)&plan->pages,      (void **)&plan->keys,    (void **)&plan->chunk_first,
        (void **)&plan->chunk_rows, (void **)&plan->kept};
    const size_t b[PLAN_ARRAYS] = {tokens,
                                   tokens,
                                   tokens,
                                   tokens,
                                   bh * (cfg->query_clusters + 2) * i32,
                                   bh * (cfg->key_clusters + 2) * i32,
                                   bh * rows * pages * i32,
                                   bh * rows * i32,
                                   chunks,
                                   chunks,
                                   sizeof *plan->kept};
    memcpy(where, w, sizeof w);
    memcpy(bytes, b, sizeof b);
}

/* A layer's centroids of `clusters` clusters, [BH][C][D] f32. */
static size_t centroid_bytes(const vs_sparse_setup *setup, int clusters) {
    return batch_heads(setup) * (size_t)setup->head_dim * sizeof(float) * (size_t)clusters;
}

/* Clusters for `video` tokens: `asked` when positive, else the anchor's count, grown with the tokens past
 * the anchor's and capped at MIN_TOKENS_PER_CLUSTER tokens per cluster (and at least one). */
static int cluster_count(int asked, int anchor, int video) {
    if (asked > 0) return asked;
    int n = video > ANCHOR_TOKENS ? (int)lround((double)anchor * video / ANCHOR_TOKENS) : anchor;
    if (n > video / MIN_TOKENS_PER_CLUSTER) n = video / MIN_TOKENS_PER_CLUSTER;
    return n > 0 ? n : 1;
}

vs_svg2_config vs_svg2_config_resolve(const vs_attention_params *p, int video_tokens) {
    vs_svg2_config c;
    c.query_clusters = cluster_count(p->svg2_query_clusters, ANCHOR_QUERY_CLUSTERS, video_tokens);
    c.key_clusters = cluster_count(p->svg2_key_clusters, ANCHOR_KEY_CLUSTERS, video_tokens);
    c.top_p = p->svg2_top_p > 0 ? p->svg2_top_p : 0.9;
    c.min_key_ratio = p->svg2_min_key_ratio > 0 ? p->svg2_min_key_ratio : 0.1;
    c.budget = p->svg2_budget > 0 ? p->svg2_budget : 0;
    c.video_tokens = video_tokens;
    return c;
}

static void context_free(const vs_sparse_setup *setup, void *context) {
    (void)setup;
    svg2_context *c = context;
    if (!c) return;
    if (c->kernels) {
        void *const buffers[] = {c->plan.q_order, c->plan.k_order, c->plan.q_cluster, c->plan.k_cluster,
                                 c->plan.q_start, c->plan.k_start, c->plan.pages,   c->plan.keys,
                                 c->plan.chunk_first, c->plan.chunk_rows, c->plan.kept,
                                 c->workspace};
        for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++) c->kernels->release(buffers[i]);
    }
    free(c);
}

static vs_status context_create(const vs_sparse_setup *setup, void **context) {
    *context = NULL;
    if (!setup->has_video)
        return vs_fail(VS_ERR_INVALID_ARG, "attention method svg2 needs the video's token layout (a vs_svg_config)");
    const int video = setup->video.frames * setup->video.tokens_per_frame;
    if (video < 1 || video > setup->seq_len)
        return vs_fail(VS_ERR_SHAPE, "attention method svg2: %d video tokens in a sequence of %d", video,
                       setup->seq_len);
    const vs_attention_params *p = &setup->params;
    if (p->svg2_top_p > 1 || p->svg2_min_key_ratio > 1 || p->svg2_budget > 1)
        return vs_fail(VS_ERR_INVALID_ARG, "attention method svg2: top-p %g, minimum key ratio %g and budget %g "
                       "must be at most 1", p->svg2_top_p, p->svg2_min_key_ratio, p->svg2_budget);
    svg2_context *c = calloc(1, sizeof *c);
    if (!c) return vs_fail(VS_ERR_OOM, "out of host memory");
    c->cfg = vs_svg2_config_resolve(p, video);
    const vs_svg2_config *cfg = &c->cfg;
    vs_status s = VS_OK;
    if (cfg->query_clusters > video || cfg->key_clusters > video)
        s = vs_fail(VS_ERR_INVALID_ARG, "attention method svg2: %d query and %d key clusters for %d video tokens",
                    cfg->query_clusters, cfg->key_clusters, video);
    if (!s) s = vs_sparse_kernels_for(setup->device, &c->kernels);
    void **where[PLAN_ARRAYS];
    size_t bytes[PLAN_ARRAYS];
    plan_arrays(setup, cfg, &c->plan, where, bytes);
    for (int i = 0; !s && i < PLAN_ARRAYS; i++)
        s = c->kernels->alloc(where[i], bytes[i]);
    if (!s) s = c->kernels->zero(c->plan.kept, sizeof *c->plan.kept);
    if (!s) {
        const vs_attn_args shape = vs_sparse_setup_shape(setup);
        c->workspace_bytes = c->kernels->svg2_workspace(&shape, cfg);
        s = c->kernels->alloc(&c->workspace, c->workspace_bytes);
    }
    if (s) {
        context_free(setup, c);
        return s;
    }
    *context = c;
    return VS_OK;
}

static void layer_free(const vs_sparse_setup *setup, void *context, void *layer) {
    (void)setup;
    const svg2_context *c = context;
    svg2_layer *l = layer;
    if (!l) return;
    c->kernels->release(l->q_centroids);
    c->kernels->release(l->k_centroids);
    free(l);
}

static vs_status layer_create(const vs_sparse_setup *setup, void *context, void **layer) {
    *layer = NULL;
    const svg2_context *c = context;
    svg2_layer *l = calloc(1, sizeof *l);
    if (!l) return vs_fail(VS_ERR_OOM, "out of host memory");
    vs_status s = c->kernels->alloc((void **)&l->q_centroids, centroid_bytes(setup, c->cfg.query_clusters));
    if (!s) s = c->kernels->alloc((void **)&l->k_centroids, centroid_bytes(setup, c->cfg.key_clusters));
    if (s) {
        layer_free(setup, context, l);
        return s;
    }
    *layer = l;
    return VS_OK;
}

/* Debug logging: how much a tensor-core kernel computes for this plan beyond what it keeps. Hopper's
 * warpgroup MMA (and cuDNN's attention kernel on the H200) works on tiles of 64 query rows, so a chunk of r
 * rows costs ceil(r / 64) * 64 rows against its keys; the log gives those pairs over the kept ones. Reads
 * the plan back, so it waits for the stream: debug only. */
enum { TILE_ROWS = 64 };
static void log_tile_padding(const svg2_context *c, const vs_attn_args *args) {
    const int N = args->seq_len, Cq = c->cfg.query_clusters;
    const int slots = vs_svg2_chunks(N, c->cfg.video_tokens, Cq);
    const size_t bh = (size_t)args->batch * args->heads, chunk_bytes = bh * slots * sizeof(int32_t);
    int32_t *first = malloc(chunk_bytes), *rows = malloc(chunk_bytes);
    int32_t *cluster = malloc(bh * N * sizeof(int32_t)), *keys = malloc(bh * (Cq + 1) * sizeof(int32_t));
    if (first && rows && cluster && keys && !c->kernels->read(first, c->plan.chunk_first, chunk_bytes) &&
        !c->kernels->read(rows, c->plan.chunk_rows, chunk_bytes) &&
        !c->kernels->read(cluster, c->plan.q_cluster, bh * N * sizeof(int32_t)) &&
        !c->kernels->read(keys, c->plan.keys, bh * (Cq + 1) * sizeof(int32_t))) {
        double kept = 0, tiled = 0, chunks = 0;
        for (size_t h = 0; h < bh; h++)
            for (int i = 0; i < slots && rows[h * slots + i]; i++) {
                const int r = rows[h * slots + i];
                const double k = keys[h * (Cq + 1) + cluster[h * N + first[h * slots + i]]];
                kept += r * k, tiled += (double)((r + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS) * k, chunks++;
            }
        VS_DEBUG(
            "SVG2 plan: %.0f chunks a head; in %d-row tiles a kernel computes %.1f%% more pairs than kept",
            chunks / (double)bh, TILE_ROWS, 100 * (tiled / kept - 1));
    }
    free(first), free(rows), free(cluster), free(keys);
}

/* k-means on the queries and the keys (from scratch at the layer's first call, else warm-started), then
 * the selection. */
static vs_status plan(const vs_sparse_setup *setup, void *context, void *layer, const vs_attn_args *args,
                      void *stream) {
    svg2_context *c = context;
    svg2_layer *l = layer;
    const int init = !l->clustered, iterations = init ? INIT_ITERATIONS : STEP_ITERATIONS;
    (void)setup;
    VS_TRY(c->kernels->svg2_kmeans(args, &c->cfg, VS_SVG2_QUERIES, l->q_centroids, init, iterations, &c->plan,
                                   c->workspace, c->workspace_bytes, stream));
    VS_TRY(c->kernels->svg2_kmeans(args, &c->cfg, VS_SVG2_KEYS, l->k_centroids, init, iterations, &c->plan,
                                   c->workspace, c->workspace_bytes, stream));
    l->clustered = 1;
    VS_TRY(c->kernels->svg2_select(args, &c->cfg, l->q_centroids, l->k_centroids, &c->plan, c->workspace,
                                   c->workspace_bytes, stream));
    if (vs_log_get_level() >= VS_LOG_DEBUG) log_tile_padding(c, args);
    c->calls++;
    return VS_OK;
}

static vs_status attend(const vs_sparse_setup *setup, void *context, void *layer, vs_attn_args *args,
                        void *stream) {
    (void)setup;
    const svg2_context *c = context;
    if (!((const svg2_layer *)layer)->clustered)
        return vs_fail(VS_ERR_INVALID_ARG, "attention method svg2: the layer attends before any plan");
    static int told; /* FP8 asked: SVG2's clustered attention has no FP8 path, said once */
    if (args->fp8 && !__atomic_exchange_n(&told, 1, __ATOMIC_RELAXED))
        VS_WARN("attention method svg2: its clustered attention runs in BF16; --attention-precision fp8 applies to "
                "the dense warm-up steps and layers (docs/fp8.md)");
    return c->kernels->svg2_attend(args, &c->cfg, &c->plan, c->workspace, c->workspace_bytes, stream);
}

/* The density the selections since the last take computed (1 before any). */
static vs_status take_stats(const vs_sparse_setup *setup, void *context, vs_sparse_stats *stats) {
    svg2_context *c = context;
    unsigned long long kept = 0;
    VS_TRY(c->kernels->read(&kept, c->plan.kept, sizeof kept));
    VS_TRY(c->kernels->zero(c->plan.kept, sizeof kept));
    const double map = (double)setup->seq_len * setup->seq_len * (double)batch_heads(setup);
    stats->density = c->calls ? (double)kept / (map * (double)c->calls) : 1.0;
    stats->selected_calls = c->calls;
    c->calls = 0;
    return VS_OK;
}

/* What context_create and layer_create allocate: the plan's arrays, the kernels' workspace and every layer's
 * centroids. */
static size_t device_bytes(const vs_sparse_setup *setup, int num_layers) {
    const vs_sparse_kernels *kernels = NULL;
    if (!setup->has_video || vs_sparse_kernels_for(setup->device, &kernels) != VS_OK) return 0;
    const vs_svg2_config cfg =
        vs_svg2_config_resolve(&setup->params, setup->video.frames * setup->video.tokens_per_frame);
    vs_svg2_plan plan;
    void **where[PLAN_ARRAYS];
    size_t bytes[PLAN_ARRAYS], total = 0;
    plan_arrays(setup, &cfg, &plan, where, bytes);
    for (int i = 0; i < PLAN_ARRAYS; i++)
        total += bytes[i];
    const vs_attn_args shape = vs_sparse_setup_shape(setup);
    const size_t centroids =
        centroid_bytes(setup, cfg.query_clusters) + centroid_bytes(setup, cfg.key_clusters);
    return total + kernels->svg2_workspace(&shape, &cfg) + (size_t)num_layers * centroids;
}

const vs_sparse_method vs_sparse_method_svg2 = {
    .name = "svg2",
    .context_create = context_create,
    .context_free = context_free,
    .layer_create = layer_create,
    .layer_free = layer_free,
    .plan = plan,
    .attend = attend,
    .take_stats = take_stats,
    .device_bytes = device_bytes,
};
