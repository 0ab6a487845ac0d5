/* The kernels sparse attention methods (src/sparse/) call, one table per
 * device: memory for a method's state, a block list placed where the
 * device's kernels read it, block-sparse attention over it and SVG's online
 * profiling. backend/cpu/sparse_kernels_cpu.c and
 * backend/cuda/sparse_kernels_cuda.c fill the tables, each a member of its
 * device's vs_backend; vs_sparse_kernels_for picks one, so no method needs
 * to know which device it runs on. Dense
 * attention is ops' (vs_attention_dense, src/ops/attention.h). */
#ifndef VS_BACKEND_SPARSE_KERNELS_H
#define VS_BACKEND_SPARSE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "backend/attention_args.h"
#include "backend/backend.h"
#include "backend/block_list.h"
#include "backend/svg_sampling.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A block list as one device's kernels read it, with that device's scratch
 * for it (CUDA: the band path's padded copies of q, k and v, large, so one
 * per shape). Made by vs_sparse_kernels.blocks_create. */
typedef struct vs_sparse_blocks {
    vs_attn_blocks view; /* in the device's memory (on the CPU: the host list it was made from) */
    void *scratch;       /* the device's own (CUDA: the band path; NULL: every row on the flash kernel) */
} vs_sparse_blocks;

/* Where SVG profiling writes, all in the device's memory: per (batch, head)
 * the chosen layout (VS_LAYOUT_*) and the two mean squared errors, and a
 * running count of temporal choices that each profile adds to. */
typedef struct vs_svg_profile_out {
    uint8_t *head_layout;
    float *mse_spatial, *mse_temporal;
    unsigned long long *temporal_count;
} vs_svg_profile_out;

/* Sparse VideoGen 2 (docs/svg2.md). The first video_tokens tokens are
 * clustered per (batch entry, head): queries into query_clusters and keys
 * into key_clusters by k-means; the tokens after them (text) stay dense. */
typedef struct vs_svg2_config {
    int query_clusters, key_clusters; /* Cq, Ck */
    double top_p;                     /* keep key pages until this share of a query cluster's mass */
    double min_key_ratio;             /* and at least floor(ratio * video pages) of them */
    double budget;                    /* (0, 1]: fixed budget, keep until this fraction of the keys; 0: top-p */
    int video_tokens;                 /* V; seq_len - V text tokens after them */
} vs_svg2_config;

/* One call's clustering and selection, in the device's memory, per (batch,
 * head) bh of B*H, over the N = seq_len tokens. Positions are the cluster
 * order: clusters one after another (tokens of a cluster in token order),
 * then the text tokens in place; cluster Cq (queries) and Ck (keys) stands
 * for the text. Keys are selected in pages: key positions cut into
 * VS_ATTN_BLOCK-position pages (vs_svg2_pages of them per head, the last may
 * be short). Each query cluster i < Cq keeps its own pages; slot Cq holds the
 * text rows, which keep every page. pages[bh][i] lists the key pages of query
 * cluster i in ascending order as indices bh * vs_svg2_pages + page (the rest
 * of the row repeats its first entry) and keys[bh][i] is how many keys they
 * hold (only the last page can be short).
 *
 * The attention runs in chunks of at most VS_SVG2_CHUNK query positions that
 * never straddle two clusters: each cluster's span (the text span too) is cut
 * from its first position into chunks of VS_SVG2_CHUNK, the last one short.
 * chunk_first[bh][c] and chunk_rows[bh][c] give chunk c's first position and
 * its rows (1 to VS_SVG2_CHUNK), chunks in position order; the slots after a
 * head's last chunk start at N with 0 rows. A chunk's pages are those of the cluster of
 * its first position. There are at most vs_svg2_chunks slots per head:
 * sum_i ceil(n_i / R) <= (V + Cq (R - 1)) / R <= ceil(V / R) + Cq over the
 * video clusters, plus ceil(text / R). */
typedef struct vs_svg2_plan {
    int32_t *q_order, *k_order;     /* [BH][N]: token (row) at each position */
    int32_t *q_cluster, *k_cluster; /* [BH][N]: cluster of each position */
    int32_t *q_start, *k_start;     /* [BH][C + 2]: first position of each cluster (text: C), then N */
    int32_t *pages;                 /* [BH][Cq + 1][P], P = vs_svg2_pages(N) */
    int32_t *keys;                  /* [BH][Cq + 1] */
    int32_t *chunk_first;           /* [BH][vs_svg2_chunks] */
    int32_t *chunk_rows;            /* [BH][vs_svg2_chunks] */
    unsigned long long *kept;       /* score elements computed, added to by each selection */
} vs_svg2_plan;

/* Query rows per attention chunk (R). CUDA runs each chunk as one cuDNN paged-attention entry of R rows with its
 * real row count as the entry's query length. 128, not 64: on the H200 cuDNN ran 64-row entries at about half
 * the rate (SVG2's attention at Wan 14B 720p 143 ms against 82 ms at 128), more than the padding of up to 127
 * rows a cluster costs (docs/svg2.md). */
enum { VS_SVG2_CHUNK = 128 };

/* Pages of VS_ATTN_BLOCK positions in a sequence of seq_len. */
static inline int vs_svg2_pages(int seq_len) {
    return (seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
}

/* Chunk slots per (batch, head): the bound above for video_tokens of seq_len and query_clusters. */
static inline int vs_svg2_chunks(int seq_len, int video_tokens, int query_clusters) {
    return (video_tokens + VS_SVG2_CHUNK - 1) / VS_SVG2_CHUNK + query_clusters +
           (seq_len - video_tokens + VS_SVG2_CHUNK - 1) / VS_SVG2_CHUNK;
}

/* Which of a k-means call's tensors: the queries (args->q, Cq clusters) or the keys (args->k, Ck). */
enum { VS_SVG2_QUERIES = 0, VS_SVG2_KEYS = 1 };

struct vs_sparse_kernels {
    vs_device device;
    /* Memory on the device (at least one byte; contents undefined) and its release. */
    vs_status (*alloc)(void **p, size_t bytes);
    void (*release)(void *p);
    /* Copies device memory to the host, after the work queued before it. */
    vs_status (*read)(void *host, const void *src, size_t bytes);
    vs_status (*zero)(void *p, size_t bytes);

    /* Places `host` (a block list over seq_len tokens) for this device's kernels.
     * band_path: also prepare CUDA's cuDNN band path for heads x head_dim (an
     * optimisation: without memory for it, every row runs on the flash kernel). */
    vs_status (*blocks_create)(vs_sparse_blocks **out, const vs_attn_blocks *host, int seq_len, int heads,
                               int head_dim, int band_path);
    void (*blocks_free)(vs_sparse_blocks *blocks);
    /* Block-sparse attention of args (args->head_layout as given) over `blocks`. */
    vs_status (*attend)(const vs_sparse_blocks *blocks, vs_attn_args *args, void *stream);

    /* Scratch bytes svg_profile needs for args' shape. */
    size_t (*svg_profile_workspace)(const vs_attn_args *args, const vs_svg_config *cfg);
    /* Device bytes FP8 attention holds for args' shape (its codes and scales); NULL where it does not run. */
    size_t (*fp8_attention_workspace)(const vs_attn_args *args);
    /* SVG's online profiling of every (batch, head) of args against `blocks`
     * (src/backend/cpu/svg_profile_cpu.h defines it; the CUDA profiler makes the same choices). */
    vs_status (*svg_profile)(const vs_attn_args *args, const vs_svg_config *cfg,
                             const vs_sparse_blocks *blocks, const vs_svg_profile_out *out, void *workspace,
                             size_t workspace_bytes, void *stream);

    /* SVG2's scratch bytes for args' shape. */
    size_t (*svg2_workspace)(const vs_attn_args *args, const vs_svg2_config *cfg);
    /* `iterations` of k-means (assign each video token of every (batch, head) to the nearest centroid,
     * then move each centroid to the mean of its tokens; an empty cluster keeps its centroid) on the
     * queries or keys (`which`), from centroids [BH][C][D] (f32; init: first set to the tokens at
     * positions floor((c + 0.5) V / C)). Leaves the updated centroids and, from the last assignment,
     * the cluster order in plan (order, cluster, start of `which`). iterations >= 1. */
    vs_status (*svg2_kmeans)(const vs_attn_args *args, const vs_svg2_config *cfg, int which, float *centroids,
                             int init, int iterations, const vs_svg2_plan *plan, void *workspace,
                             size_t workspace_bytes, void *stream);
    /* The selection (docs/svg2.md) from both centroid sets and the cluster order in plan: plan->pages,
     * plan->keys, the chunks (chunk_first, chunk_rows) and plan->kept. */
    vs_status (*svg2_select)(const vs_attn_args *args, const vs_svg2_config *cfg, const float *q_centroids,
                             const float *k_centroids, const vs_svg2_plan *plan, void *workspace,
                             size_t workspace_bytes, void *stream);
    /* Attention of every query position of args over the keys of the pages its query cluster keeps in plan
     * (the text rows: every key). */
    vs_status (*svg2_attend)(const vs_attn_args *args, const vs_svg2_config *cfg, const vs_svg2_plan *plan,
                             void *workspace, size_t workspace_bytes, void *stream);
};

/* The table of `device` (vs_backend_for(device)->sparse); fails where this build has no such device. */
vs_status vs_sparse_kernels_for(vs_device device, const vs_sparse_kernels **out);

/* The tables themselves, members of the device backends (the CUDA one in CUDA builds only). */
extern const vs_sparse_kernels vs_sparse_kernels_cpu;
extern const vs_sparse_kernels vs_sparse_kernels_cuda;

#ifdef __cplusplus
}
#endif
#endif
