/* Sparse VideoGen 2 on CUDA: k-means, selection and the cluster-sparse
 * attention (the contract: backend/sparse_kernels.h; the reference:
 * backend/cpu/svg2_cpu.c).
 *
 * k-means, one iteration for every (batch, head) at once:
 *  1. the f32 centroids are rounded to the input type with their squared norms
 *     (padded to whole 64-centroid tiles with infinite norms);
 *  2. the assignment: a tensor-core tile loop like the flash kernel's
 *     against 64-centroid tiles in shared memory, keeping per row the
 *     arg-min of |c|^2 - 2 x.c (the lowest index on ties) instead of a
 *     softmax, so no distance matrix is ever stored (assign_wgmma_kernel on
 *     Hopper, assign_kernel's mma.sync loop elsewhere);
 *  3. a radix sort (CUB, stable) of the keys bh * C + label with the token
 *     indices as values gives every head's cluster order at once;
 *  4. cluster starts, then each centroid moves to the mean of its span (an
 *     empty one stays).
 *
 * Selection: the key weights of every (query cluster, key cluster) pair, then
 * one block per query cluster ranks the key pages by the cluster's mass and
 * keeps them by top-p or the budget; one block per head cuts the query
 * clusters' spans into chunks of VS_SVG2_CHUNK rows.
 *
 * Attention, one chunk at a time (a chunk's rows all belong to one query
 * cluster, so they share its pages): through cuDNN's paged attention, q is
 * gathered chunk by chunk into tiles of VS_SVG2_CHUNK rows (padding rows
 * zero), k and v into cluster order padded to whole pages (the page
 * containers), every chunk is one batch entry whose page table is its
 * cluster's and whose query length is its real row count, and the rows are
 * scattered back to their tokens. Our kernel (where cuDNN has no paged
 * engine) runs one thread block per chunk over the same pages, reading q, k
 * and v through the cluster order, so nothing is copied. */
#include <climits>
#include <cub/cub.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/mma_utils.cuh"
#include "backend/cuda/wgmma.cuh"
#include "backend/cuda/cudnn_attention.h"
#include "backend/cuda/svg2_cuda.h"
#include "core/device_info.h"

namespace {

using namespace vs_mma;

constexpr int kAssignWarps = 8; /* k-means' assignment: 32 tokens a warp, 256 a block */
constexpr int kTile = 64;      /* centroids / keys per shared-memory tile */
constexpr int kThreads = 128;  /* 4 warps: the centroid update; attention, VS_SVG2_CHUNK / 4 rows each */
constexpr int kSelectThreads = 256, kSelectItems = 8; /* selection: Ck <= 2048 */
constexpr int kWeightRows = 16, kKeyTile = 64; /* weights: query clusters per block, key centroids per tile */

size_t align_up(size_t n) { return (n + 255) & ~(size_t)255; }

/* The workspace: sort keys and values in and out [BH * V], the rounded centroids [BH][Cpad][D] and their
 * norms [BH][Cpad], CUB's scratch; the selection's key weights [BH][Cq][Ck]; the cuDNN path's entries (one per
 * chunk slot, entry_slots per head: the slots rounded up to 4, so every head's lengths start 16-byte aligned):
 * their query and key lengths [BH][entry_slots] and page tables [BH][entry_slots][P], q and out chunk by chunk
 * [BH][entry_slots][R][D], k and v in cluster order padded to whole pages [BH][P * 128][D]. */
struct Workspace {
    uint32_t *keys_in, *keys_out;
    int32_t *values_in, *values_out;
    void *centroids; /* of the input type */
    float *norms;
    void *sort_scratch;
    float *weights;
    int32_t *seq_q, *seq_kv, *table;
    void *packed[4]; /* q, k, v, out */
    size_t sort_bytes, total;
};

/* Chunk slots per head in the cuDNN path's entries. */
int entry_slots(const vs_attn_args *a, const vs_svg2_config *cfg) {
    return (vs_svg2_chunks(a->seq_len, cfg->video_tokens, cfg->query_clusters) + 3) / 4 * 4;
}

int padded_clusters(const vs_svg2_config *cfg) {
    const int c = cfg->query_clusters > cfg->key_clusters ? cfg->query_clusters : cfg->key_clusters;
    return (c + kTile - 1) / kTile * kTile;
}

Workspace layout(const vs_attn_args *a, const vs_svg2_config *cfg, void *base) {
    Workspace w = {};
    const size_t items = (size_t)a->batch * a->heads * cfg->video_tokens;
    const size_t bh = (size_t)a->batch * a->heads, cpad = (size_t)padded_clusters(cfg);
    cub::DeviceRadixSort::SortPairs(nullptr, w.sort_bytes, (const uint32_t *)nullptr, (uint32_t *)nullptr,
                                    (const int32_t *)nullptr, (int32_t *)nullptr, (int64_t)items);
    char *p = (char *)base;
    size_t at = 0;
    auto take = [&](size_t bytes) {
        void *r = p ? p + at : nullptr;
        at += align_up(bytes);
        return r;
    };
    w.keys_in = (uint32_t *)take(items * 4), w.keys_out = (uint32_t *)take(items * 4);
    w.values_in = (int32_t *)take(items * 4), w.values_out = (int32_t *)take(items * 4);
    w.centroids = take(bh * cpad * a->head_dim * 2);
    w.norms = (float *)take(bh * cpad * 4);
    w.sort_scratch = take(w.sort_bytes);
    w.weights = (float *)take(bh * cfg->query_clusters * cfg->key_clusters * sizeof(float));
    const size_t pages = (size_t)vs_svg2_pages(a->seq_len), entries = bh * (size_t)entry_slots(a, cfg);
    w.seq_q = (int32_t *)take(entries * sizeof(int32_t)), w.seq_kv = (int32_t *)take(entries * sizeof(int32_t));
    w.table = (int32_t *)take(entries * pages * sizeof(int32_t));
    const size_t q_bytes = entries * VS_SVG2_CHUNK * a->head_dim * 2;
    const size_t kv_bytes = bh * pages * VS_ATTN_BLOCK * a->head_dim * 2;
    for (int i = 0; i < 4; i++) w.packed[i] = take(i == 1 || i == 2 ? kv_bytes : q_bytes);
    w.total = at;
    return w;
}

template <typename T> __device__ __forceinline__ T from_float(float x);
template <> __device__ __forceinline__ __nv_bfloat16 from_float(float x) { return __float2bfloat16(x); }
template <> __device__ __forceinline__ __half from_float(float x) { return __float2half(x); }

/* ---- k-means --------------------------------------------------------------------- */

struct KmeansParams {
    const char *x; /* q or k, bytes */
    int64_t stride_b, stride_n;
    int heads, video, seq_len, clusters, cpad;
    float *centroids; /* [BH][C][D] */
    void *rounded;    /* [BH][Cpad][D] */
    float *norms;     /* [BH][Cpad] */
    uint32_t *keys;   /* sort keys in: bh * C + label */
    int32_t *tokens;  /* sort values in: the token */
    const uint32_t *sorted_keys;
    const int32_t *sorted_tokens;
    int32_t *order, *cluster, *start; /* the plan's arrays of this tensor */
};

template <typename T>
__device__ __forceinline__ const T *token_row(const KmeansParams &p, int bh, int64_t t, int dim) {
    const int b = bh / p.heads, h = bh % p.heads;
    return reinterpret_cast<const T *>(p.x) + b * p.stride_b + t * p.stride_n + (int64_t)h * dim;
}

/* Centroid c starts as token floor((c + 0.5) V / C). Grid (C, BH), D threads. */
template <typename T> __global__ void init_kernel(KmeansParams p) {
    const int c = blockIdx.x, bh = blockIdx.y, d = threadIdx.x, dim = blockDim.x;
    const int64_t t = (int64_t)((c + 0.5) * p.video / p.clusters);
    p.centroids[((int64_t)bh * p.clusters + c) * dim + d] = (float)token_row<T>(p, bh, t, dim)[d];
}

/* The centroids in the input type and their squared norms; padding centroids get an infinite norm.
 * Grid (Cpad, BH), D threads. */
template <typename T> __global__ void round_kernel(KmeansParams p) {
    const int c = blockIdx.x, bh = blockIdx.y, d = threadIdx.x, dim = blockDim.x;
    __shared__ float partial[4];
    const float x = c < p.clusters ? p.centroids[((int64_t)bh * p.clusters + c) * dim + d] : 0.f;
    reinterpret_cast<T *>(p.rounded)[((int64_t)bh * p.cpad + c) * dim + d] = from_float<T>(x);
    float sq = x * x;
    for (int o = 16; o > 0; o /= 2) sq += __shfl_xor_sync(0xffffffffu, sq, o);
    if (d % 32 == 0) partial[d / 32] = sq;
    __syncthreads();
    if (d == 0) {
        float norm = 0;
        for (int w = 0; w < dim / 32; w++) norm += partial[w];
        p.norms[(int64_t)bh * p.cpad + c] = c < p.clusters ? norm : INFINITY;
    }
}

/* Copies ROWS rows into a swizzled tile (mma.sync's rows, or with PANELS wgmma's panels); row i of the tile
 * is row `first + i` of `base` (stride in elements), rows at or past `limit` zero-filled. */
template <typename T, int D, int ROWS, int THREADS = kThreads, bool PANELS = false>
__device__ __forceinline__ void load_rows(T *tile, const T *base, int64_t stride, int first, int limit) {
    constexpr int kChunks = D / 8;
    for (int i = threadIdx.x; i < ROWS * kChunks; i += THREADS) {
        const int row = i / kChunks, chunk = i % kChunks, r = first + row;
        const T *src = base + (int64_t)(r < limit ? r : 0) * stride + chunk * 8;
        const int at = PANELS ? panel_offset<ROWS>(row, chunk) : tile_offset<D>(row, chunk);
        cp_async_16(tile + at, src, r < limit ? 16 : 0);
    }
}

/* S = A B^T for this warp's MT * 16 rows (from warp_row) of the tile sA and the 64 rows of the tile sB (both
 * swizzled, D columns): s[m][n] is the m16n8 accumulator of m-tile m and 8-column tile n. */
template <typename T, int D, int MT>
__device__ __forceinline__ void tile_scores(float (&s)[MT][kTile / 8][4], const T *sA, const T *sB, int warp_row,
                                            int lane) {
#pragma unroll
    for (int m = 0; m < MT; m++)
#pragma unroll
        for (int n = 0; n < kTile / 8; n++) s[m][n][0] = s[m][n][1] = s[m][n][2] = s[m][n][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
        uint32_t af[MT][4];
#pragma unroll
        for (int m = 0; m < MT; m++)
            ldmatrix_x4(af[m], sA + tile_offset<D>(warp_row + m * 16 + lane % 16, kk * 2 + lane / 16));
#pragma unroll
        for (int n = 0; n < kTile / 8; n += 2) {
            uint32_t bf[4];
            ldmatrix_x4(bf, sB + tile_offset<D>(n * 8 + (lane % 8) + (lane / 16) * 8, kk * 2 + (lane / 8) % 2));
#pragma unroll
            for (int m = 0; m < MT; m++) {
                Mma<T>::run(s[m][n], af[m], bf[0], bf[1]);
                Mma<T>::run(s[m][n + 1], af[m], bf[2], bf[3]);
            }
        }
    }
}

/* A row's label: the four lanes of a quad hold the best of interleaved columns of the same row; the quad's best
 * (the lowest index on ties) becomes the row's sort key. Every lane calls it (the shuffles). */
__device__ __forceinline__ void store_label(const KmeansParams &p, int bh, int row, float v, int c, int lane) {
    for (int o = 1; o < 4; o *= 2) {
        const float ov = __shfl_xor_sync(0xffffffffu, v, o);
        const int oc = __shfl_xor_sync(0xffffffffu, c, o);
        if (ov < v || (ov == v && oc < c)) v = ov, c = oc;
    }
    if (lane % 4 == 0 && row < p.video) {
        const int64_t at = (int64_t)bh * p.video + row;
        p.keys[at] = (uint32_t)(bh * p.clusters + c);
        p.tokens[at] = row;
    }
}

/* Each token's nearest centroid. Grid (ceil(V / 256), BH). Every centroid tile is read from L2 by every
 * block, so a block takes 256 tokens (8 warps of 32) to halve that traffic against 128; a warp's tokens are
 * loaded once, straight into registers as mma A fragments, so shared memory holds only the double-buffered
 * centroid tiles. Each tile is scored 32 centroids at a time to keep the scores in 32 registers. */
template <typename T, int D>
__global__ void __launch_bounds__(kAssignWarps * 32, 2) assign_kernel(KmeansParams p) {
    extern __shared__ __align__(128) unsigned char smem_raw[];
    T *sC = reinterpret_cast<T *>(smem_raw); /* two buffers */
    constexpr int kThreadsHere = kAssignWarps * 32;
    const int bh = blockIdx.y, first = blockIdx.x * kThreadsHere;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warp_row = warp * 32;
    const int b = bh / p.heads, h = bh % p.heads;
    const T *x = reinterpret_cast<const T *>(p.x) + b * p.stride_b + (int64_t)h * D;
    const T *cent = reinterpret_cast<const T *>(p.rounded) + (int64_t)bh * p.cpad * D;
    const float *norms = p.norms + (int64_t)bh * p.cpad;
    const int num_tiles = (p.clusters + kTile - 1) / kTile; /* this tensor's centroids, not the larger set's */
    auto load_c = [&](int t, int buffer) {
        load_rows<T, D, kTile, kThreadsHere>(sC + buffer * kTile * D, cent + (int64_t)t * kTile * D, D, 0,
                                             kTile);
    };
    load_c(0, 0);
    cp_async_commit();

    /* The A fragment of m16n8k16 (row-major): registers 0-3 hold rows g, g + 8, g, g + 8 and columns 2t, 2t,
     * 2t + 8, 2t + 8 (two elements each) of the 16 x 16 slice, g = lane / 4, t = lane % 4. */
    uint32_t af[2][D / 16][4];
#pragma unroll
    for (int m = 0; m < 2; m++)
#pragma unroll
        for (int half_row = 0; half_row < 2; half_row++) {
            const int r = first + warp_row + m * 16 + lane / 4 + 8 * half_row;
            const T *row = x + (int64_t)(r < p.video ? r : 0) * p.stride_n + (lane % 4) * 2;
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
                for (int col_half = 0; col_half < 2; col_half++)
                    af[m][kk][half_row + 2 * col_half] =
                        r < p.video ? *reinterpret_cast<const uint32_t *>(row + kk * 16 + col_half * 8) : 0u;
        }

    constexpr int kHalf = kTile / 2, kHalfTiles = kHalf / 8;
    float best[2][2];
    int best_index[2][2];
#pragma unroll
    for (int m = 0; m < 2; m++) best[m][0] = best[m][1] = INFINITY, best_index[m][0] = best_index[m][1] = 0;
    for (int t = 0; t < num_tiles; t++) {
        const int buffer = t & 1;
        prefetch_next_and_wait(t, num_tiles, load_c);
        __syncthreads();
        const T *sB = sC + buffer * kTile * D;
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const int col0 = t * kTile + half * kHalf + (lane % 4) * 2;
            float norm[kHalfTiles][2];
#pragma unroll
            for (int n = 0; n < kHalfTiles; n++)
                norm[n][0] = norms[col0 + n * 8], norm[n][1] = norms[col0 + n * 8 + 1];
            float s[2][kHalfTiles][4] = {};
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++)
#pragma unroll
                for (int n = 0; n < kHalfTiles; n += 2) {
                    uint32_t bf[4];
                    ldmatrix_x4(bf, sB + tile_offset<D>(half * kHalf + n * 8 + (lane % 8) + (lane / 16) * 8,
                                                        kk * 2 + (lane / 8) % 2));
#pragma unroll
                    for (int m = 0; m < 2; m++) {
                        Mma<T>::run(s[m][n], af[m][kk], bf[0], bf[1]);
                        Mma<T>::run(s[m][n + 1], af[m][kk], bf[2], bf[3]);
                    }
                }
            /* |x - c|^2 - |x|^2 = |c|^2 - 2 x.c; ascending columns: strict < keeps the lowest index. */
#pragma unroll
            for (int n = 0; n < kHalfTiles; n++)
#pragma unroll
                for (int e = 0; e < 2; e++)
#pragma unroll
                    for (int m = 0; m < 2; m++)
#pragma unroll
                        for (int i = 0; i < 2; i++) {
                            const float dist = fmaf(-2.f, s[m][n][2 * i + e], norm[n][e]);
                            if (dist < best[m][i]) best[m][i] = dist, best_index[m][i] = col0 + n * 8 + e;
                        }
        }
        __syncthreads();
    }
#pragma unroll
    for (int m = 0; m < 2; m++)
#pragma unroll
        for (int i = 0; i < 2; i++)
            store_label(p, bh, first + warp_row + m * 16 + lane / 4 + 8 * i, best[m][i], best_index[m][i], lane);
}

/* ---- k-means' assignment on Hopper: warpgroup MMA ---------------------------------- */

/* The same assignment with S = X C^T on wgmma (sm_90a): two warpgroups of 64 token rows each, X and the
 * double-buffered 64-centroid tiles in shared memory in wgmma's 128-byte-swizzle layout (the flash kernel's
 * S = Q K^T: 64-column panels, [panel][row][64 halves], chunk c of row r at c ^ (r % 8), descriptors
 * 1024 bytes per 8-row group). The instruction runs asynchronously on the whole 64 x 64 tile, so the
 * arg-min is no longer waiting on one mma.sync after another (Nsight Compute found that loop latency-bound).
 * Grid (ceil(V / 128), BH). */
constexpr int kWgAssignRows = 128, kWgAssignThreads = 256;

template <typename T, int D>
__global__ void __launch_bounds__(kWgAssignThreads, 2) assign_wgmma_kernel(KmeansParams p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ unsigned char smem_raw[];
    /* Panels start on 1024-byte boundaries (the swizzle repeats every 8 rows of 128 bytes). */
    T *sX = reinterpret_cast<T *>(smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023));
    T *sC = sX + kWgAssignRows * D; /* two buffers */
    const int bh = blockIdx.y, first = blockIdx.x * kWgAssignRows;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, group = warp / 4;
    const int b = bh / p.heads, h = bh % p.heads;
    const T *x = reinterpret_cast<const T *>(p.x) + b * p.stride_b + (int64_t)h * D;
    const T *cent = reinterpret_cast<const T *>(p.rounded) + (int64_t)bh * p.cpad * D;
    const float *norms = p.norms + (int64_t)bh * p.cpad;
    const int num_tiles = (p.clusters + kTile - 1) / kTile;
    auto load_c = [&](int t, int buffer) {
        load_rows<T, D, kTile, kWgAssignThreads, true>(sC + buffer * kTile * D, cent + (int64_t)t * kTile * D, D, 0,
                                                       kTile);
    };
    load_rows<T, D, kWgAssignRows, kWgAssignThreads, true>(sX, x, p.stride_n, first, p.video);
    load_c(0, 0);
    cp_async_commit();

    float best[2] = {INFINITY, INFINITY};
    int best_index[2] = {0, 0};
    for (int t = 0; t < num_tiles; t++) {
        const int buffer = t & 1;
        prefetch_next_and_wait(t, num_tiles, load_c);
        fence_proxy_async();
        __syncthreads();
        const char *tile = reinterpret_cast<const char *>(sC + buffer * kTile * D);
        /* S = X C^T, 64 rows x 64 centroids per warpgroup: thread's s[4n + 2i + e] is row i (lane / 4, + 8)
         * of its warp's 16, column 8n + 2 (lane % 4) + e. */
        float s[kTile / 2];
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            const int panel = kk / 4, within = (kk % 4) * 32;
            const char *x_panel = reinterpret_cast<const char *>(sX) + panel * kWgAssignRows * 128 + group * 64 * 128;
            Wgmma<T, kTile>::ss(s, smem_desc(x_panel + within, 16, 1024),
                                smem_desc(tile + panel * kTile * 128 + within, 16, 1024), kk > 0);
        }
        wgmma_commit();
        wgmma_wait<0>();
        /* |x - c|^2 - |x|^2 = |c|^2 - 2 x.c; ascending columns: strict < keeps the lowest index. */
#pragma unroll
        for (int n = 0; n < kTile / 8; n++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int c = t * kTile + n * 8 + (lane % 4) * 2 + e;
                const float norm = norms[c];
#pragma unroll
                for (int i = 0; i < 2; i++) {
                    const float dist = fmaf(-2.f, s[4 * n + 2 * i + e], norm);
                    if (dist < best[i]) best[i] = dist, best_index[i] = c;
                }
            }
        __syncthreads(); /* the buffer is loaded again two tiles on */
    }
#pragma unroll
    for (int i = 0; i < 2; i++)
        store_label(p, bh, first + group * 64 + (warp % 4) * 16 + lane / 4 + 8 * i, best[i], best_index[i], lane);
#else
    __trap(); /* launched only on sm_90 devices */
#endif
}

/* The sorted keys into the plan: order and cluster per position, text positions in place. Grid over BH * N. */
__global__ void place_kernel(KmeansParams p, int64_t total) {
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= total) return;
    const int bh = (int)(i / p.seq_len), pos = (int)(i % p.seq_len);
    if (pos < p.video) {
        const int64_t at = (int64_t)bh * p.video + pos;
        p.order[i] = p.sorted_tokens[at];
        p.cluster[i] = (int32_t)(p.sorted_keys[at] - (uint32_t)bh * p.clusters);
    } else {
        p.order[i] = pos, p.cluster[i] = p.clusters;
    }
}

/* start[c]: the first position of cluster c (empty clusters: the next one's), start[C] = V, start[C+1] = N.
 * Grid over BH * V. */
__global__ void starts_kernel(KmeansParams p, int64_t total) {
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= total) return;
    const int bh = (int)(i / p.video), pos = (int)(i % p.video);
    const int32_t *cluster = p.cluster + (int64_t)bh * p.seq_len;
    int32_t *start = p.start + (int64_t)bh * (p.clusters + 2);
    const int c = cluster[pos], prev = pos ? cluster[pos - 1] : -1;
    for (int k = prev + 1; k <= c; k++) start[k] = pos;
    if (pos == p.video - 1) {
        for (int k = c + 1; k <= p.clusters; k++) start[k] = p.video;
        start[p.clusters + 1] = p.seq_len;
    }
}

/* Each centroid to the mean of its tokens (an empty cluster keeps it). The span's tokens are dealt to the
 * block's warps in turn, each lane summing D / 32 of the dimensions, so a warp reads whole rows and the loads
 * of successive tokens overlap (one thread per dimension walking the span alone waited on every load); the
 * warps' partial sums are added in shared memory. Grid (C, BH). */
template <typename T, int D> __global__ void __launch_bounds__(kThreads) update_kernel(KmeansParams p) {
    constexpr int kWarps = kThreads / 32, kPerLane = D / 32;
    __shared__ float partial[kWarps][D];
    const int c = blockIdx.x, bh = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int32_t *start = p.start + (int64_t)bh * (p.clusters + 2);
    const int begin = start[c], end = start[c + 1];
    if (begin == end) return;
    const int32_t *order = p.order + (int64_t)bh * p.seq_len;
    float sum[kPerLane] = {};
#pragma unroll 4
    for (int pos = begin + warp; pos < end; pos += kWarps) {
        const T *row = token_row<T>(p, bh, order[pos], D) + lane * kPerLane;
#pragma unroll
        for (int i = 0; i < kPerLane; i++)
            sum[i] += (float)row[i];
    }
#pragma unroll
    for (int i = 0; i < kPerLane; i++)
        partial[warp][lane * kPerLane + i] = sum[i];
    __syncthreads();
    for (int d = threadIdx.x; d < D; d += kThreads) {
        float total = 0;
#pragma unroll
        for (int w = 0; w < kWarps; w++)
            total += partial[w][d];
        p.centroids[((int64_t)bh * p.clusters + c) * D + d] = total / (float)(end - begin);
    }
}

/* ---- selection -------------------------------------------------------------------- */

struct SelectParams {
    const float *q_centroids, *k_centroids;
    const int32_t *q_start, *k_start, *q_cluster, *k_cluster;
    float *weights; /* [BH][Cq][Ck] */
    int32_t *pages, *keys, *chunk_first, *chunk_rows;
    unsigned long long *kept;
    int cq, ck, dim, video, seq_len, num_pages, video_pages, slots;
    float scale, top_p, min_key_ratio, budget;
};

/* weights[i][j]: the estimated weight of one key of cluster j for a query of cluster i, the softmax of
 * the centroid scores weighted by the cluster sizes (sum_j n_j weights[i][j] = 1). kWeightRows query
 * clusters of one (batch, head) per block: first their scores against each tile of kKeyTile key centroids
 * staged in shared memory (warp w: query clusters w and w + 8; lane l: key centroids l and l + 32, whose
 * rows, kKeyStride floats apart, fall in distinct banks for a quarter-warp's float4 reads), written to
 * `weights`; then each warp turns its two rows into the weighted softmax in place.
 * Grid (ceil(Cq / kWeightRows), BH). */
__global__ void __launch_bounds__(kSelectThreads) weights_kernel(SelectParams p) {
    constexpr int kKeyStride = 128 + 4;
    __shared__ __align__(16) float s_q[kWeightRows][128];
    __shared__ __align__(16) float s_k[kKeyTile * kKeyStride];
    const int bh = blockIdx.y, row0 = blockIdx.x * kWeightRows, tid = threadIdx.x;
    const int warp = tid / 32, lane = tid % 32, dim = p.dim, Cq = p.cq, Ck = p.ck;
    const int rows = min(kWeightRows, Cq - row0);
    const int32_t *k_start = p.k_start + (int64_t)bh * (Ck + 2);
    float *w_rows = p.weights + ((int64_t)bh * Cq + row0) * Ck;
    for (int i = tid; i < kWeightRows * dim; i += kSelectThreads)
        s_q[i / dim][i % dim] = i / dim < rows ? p.q_centroids[((int64_t)bh * Cq + row0) * dim + i] : 0.f;
    for (int k0 = 0; k0 < Ck; k0 += kKeyTile) {
        __syncthreads(); /* s_q written, or the previous tile read */
        for (int i = tid; i < kKeyTile * dim / 4; i += kSelectThreads) { /* a warp copies whole rows */
            const int j = i / (dim / 4), d = i % (dim / 4) * 4;
            *reinterpret_cast<float4 *>(&s_k[j * kKeyStride + d]) =
                k0 + j < Ck
                    ? *reinterpret_cast<const float4 *>(p.k_centroids + ((int64_t)bh * Ck + k0 + j) * dim + d)
                    : make_float4(0.f, 0.f, 0.f, 0.f);
        }
        __syncthreads();
        float dot[2][2] = {};
        for (int d = 0; d < dim; d += 4) {
            const float4 q0 = *reinterpret_cast<const float4 *>(&s_q[warp][d]);
            const float4 q1 = *reinterpret_cast<const float4 *>(&s_q[warp + 8][d]);
            const float4 k0v = *reinterpret_cast<const float4 *>(&s_k[lane * kKeyStride + d]);
            const float4 k1v = *reinterpret_cast<const float4 *>(&s_k[(lane + 32) * kKeyStride + d]);
            dot[0][0] += q0.x * k0v.x + q0.y * k0v.y + q0.z * k0v.z + q0.w * k0v.w;
            dot[0][1] += q0.x * k1v.x + q0.y * k1v.y + q0.z * k1v.z + q0.w * k1v.w;
            dot[1][0] += q1.x * k0v.x + q1.y * k0v.y + q1.z * k0v.z + q1.w * k0v.w;
            dot[1][1] += q1.x * k1v.x + q1.y * k1v.y + q1.z * k1v.z + q1.w * k1v.w;
        }
        for (int r = 0; r < 2; r++)
            for (int e = 0; e < 2; e++) {
                const int row = warp + 8 * r, j = k0 + lane + 32 * e;
                if (row < rows && j < Ck) w_rows[(int64_t)row * Ck + j] = dot[r][e] * p.scale;
            }
    }
    __syncthreads(); /* the block's scores written */
    for (int row = warp; row < rows; row += kSelectThreads / 32) {
        float *w = w_rows + (int64_t)row * Ck;
        float max_score = -INFINITY;
        for (int j = lane; j < Ck; j += 32)
            max_score = fmaxf(max_score, w[j]);
        for (int o = 16; o > 0; o /= 2)
            max_score = fmaxf(max_score, __shfl_xor_sync(0xffffffffu, max_score, o));
        float total = 0;
        for (int j = lane; j < Ck; j += 32)
            total += (float)(k_start[j + 1] - k_start[j]) * expf(w[j] - max_score);
        for (int o = 16; o > 0; o /= 2)
            total += __shfl_xor_sync(0xffffffffu, total, o);
        const float inv_total = 1.f / total;
        for (int j = lane; j < Ck; j += 32)
            w[j] = expf(w[j] - max_score) * inv_total;
    }
}

/* The pages one query cluster keeps (docs/svg2.md; the reference: select_cluster in svg2_cpu.c). Thread t
 * holds pages t * items + i: their masses (the cluster's weights of their keys, summed key-cluster segment by
 * segment), ranked by a stable block radix sort (descending, so ties keep the lower index first), the top-p
 * (or budget) rule on the running sums, then the kept pages in ascending order. Block Cq (the text rows)
 * keeps every page. ITEMS: pages per thread, the fewest that hold a head's pages (the sort's cost grows with
 * them). Grid (Cq + 1, BH). */
template <int ITEMS> __global__ void __launch_bounds__(kSelectThreads) pages_kernel(SelectParams p) {
    using Sort = cub::BlockRadixSort<float, kSelectThreads, ITEMS, int>;
    using Scan = cub::BlockScan<float, kSelectThreads>;
    using IntScan = cub::BlockScan<int, kSelectThreads>;
    using Reduce = cub::BlockReduce<float, kSelectThreads>;
    __shared__ union {
        typename Sort::TempStorage sort;
        typename Scan::TempStorage scan;
        typename IntScan::TempStorage int_scan;
        typename Reduce::TempStorage reduce;
    } temp;
    __shared__ float s_unit[kSelectThreads * kSelectItems]; /* per key cluster: one key's weight for the cluster */
    __shared__ uint8_t s_keep[kSelectThreads * ITEMS];
    __shared__ float s_total;
    __shared__ int s_first;
    const int bh = blockIdx.y, cluster = blockIdx.x, tid = threadIdx.x;
    const int Cq = p.cq, Ck = p.ck, N = p.seq_len, V = p.video, P = p.num_pages;
    const int32_t *q_start = p.q_start + (int64_t)bh * (Cq + 2), *k_start = p.k_start + (int64_t)bh * (Ck + 2);
    const int32_t *k_cluster = p.k_cluster + (int64_t)bh * N;
    for (int g = tid; g < P; g += kSelectThreads) s_keep[g] = 1; /* text rows attend everything; text pages kept */
    if (tid == 0) s_first = P;
    if (cluster < Cq) {
        const float *w = p.weights + ((int64_t)bh * Cq + cluster) * Ck;
        for (int c = tid; c < Ck; c += kSelectThreads) s_unit[c] = w[c];
        __syncthreads();
        float mass[ITEMS];
        int index[ITEMS];
        float local = 0;
        for (int i = 0; i < ITEMS; i++) {
            const int g = tid * ITEMS + i;
            index[i] = g, mass[i] = -1.f; /* not ranked: after every page */
            if (g >= p.video_pages) continue;
            const int lo = g * VS_ATTN_BLOCK, hi = min(lo + VS_ATTN_BLOCK, V);
            float m = 0;
            for (int c = k_cluster[lo]; c <= k_cluster[hi - 1]; c++)
                m += (float)max(min(k_start[c + 1], hi) - max(k_start[c], lo), 0) * s_unit[c];
            mass[i] = m, local += m;
        }
        const float total = Reduce(temp.reduce).Sum(local);
        if (tid == 0) s_total = total;
        __syncthreads();
        for (int i = 0; i < ITEMS; i++)
            if (mass[i] >= 0.f) mass[i] /= s_total;
        Sort(temp.sort).SortDescending(mass, index); /* blocked: this thread holds ranks tid * items + i */
        __syncthreads();
        const int min_keep = (int)(p.min_key_ratio * p.video_pages);
        auto page_keys = [&](int g) { return (float)min(VS_ATTN_BLOCK, V - g * VS_ATTN_BLOCK); };
        float mine = 0; /* the shares (or keys) of this thread's ranks */
        for (int i = 0; i < ITEMS; i++)
            if (index[i] < p.video_pages) mine += p.budget > 0 ? page_keys(index[i]) : mass[i];
        float before;
        Scan(temp.scan).ExclusiveSum(mine, before);
        for (int i = 0; i < ITEMS; i++) {
            const int rank = tid * ITEMS + i, g = index[i];
            if (g >= p.video_pages) continue;
            const bool keep_it = rank == 0 || (p.budget > 0 ? before < p.budget * V
                                                            : before <= p.top_p || rank < min_keep);
            s_keep[g] = keep_it;
            before += p.budget > 0 ? page_keys(g) : mass[i];
        }
    }
    __syncthreads();
    /* The kept pages in ascending order, then the rest of the row filled with the first. */
    int count = 0, keys = 0;
    for (int i = 0; i < ITEMS; i++) {
        const int g = tid * ITEMS + i;
        if (g < P && s_keep[g]) count++, keys += (int)min(VS_ATTN_BLOCK, N - g * VS_ATTN_BLOCK);
    }
    int at, kept_pages;
    IntScan(temp.int_scan).ExclusiveSum(count, at, kept_pages);
    const int64_t slot = (int64_t)bh * (Cq + 1) + cluster;
    int32_t *row = p.pages + slot * P;
    for (int i = 0; i < ITEMS; i++) {
        const int g = tid * ITEMS + i;
        if (g < P && s_keep[g]) {
            if (at == 0) s_first = g;
            row[at++] = bh * P + g;
        }
    }
    __syncthreads();
    int total_keys;
    IntScan(temp.int_scan).ExclusiveSum(keys, keys, total_keys);
    for (int i = kept_pages + tid; i < P; i += kSelectThreads) row[i] = bh * P + s_first;
    if (tid == 0) {
        p.keys[slot] = total_keys;
        const int rows = q_start[cluster + 1] - q_start[cluster];
        atomicAdd(p.kept, (unsigned long long)rows * (unsigned long long)total_keys);
    }
}

/* The chunks of one head (sparse_kernels.h; the reference: fill_chunks in svg2_cpu.c): thread t takes
 * clusters base + t (cluster Cq: the text), its chunk count ceil(rows / R) placed by a block scan, the
 * running total carried from one round of kSelectThreads clusters to the next. Grid BH. */
__global__ void __launch_bounds__(kSelectThreads) chunks_kernel(SelectParams p) {
    using IntScan = cub::BlockScan<int, kSelectThreads>;
    __shared__ typename IntScan::TempStorage temp;
    constexpr int R = VS_SVG2_CHUNK;
    const int bh = blockIdx.x, tid = threadIdx.x, Cq = p.cq;
    const int32_t *q_start = p.q_start + (int64_t)bh * (Cq + 2);
    int32_t *first = p.chunk_first + (int64_t)bh * p.slots, *rows = p.chunk_rows + (int64_t)bh * p.slots;
    int carry = 0;
    for (int base = 0; base <= Cq; base += kSelectThreads) {
        const int i = base + tid, lo = i <= Cq ? q_start[i] : 0, hi = i <= Cq ? q_start[i + 1] : 0;
        const int count = (hi - lo + R - 1) / R;
        int at, total;
        IntScan(temp).ExclusiveSum(count, at, total);
        for (int c = 0; c < count; c++)
            first[carry + at + c] = lo + c * R, rows[carry + at + c] = min(R, hi - lo - c * R);
        carry += total;
        __syncthreads(); /* temp again */
    }
    for (int c = carry + tid; c < p.slots; c += kSelectThreads) first[c] = p.seq_len, rows[c] = 0;
}

/* ---- attention --------------------------------------------------------------------- */
struct AttendParams {
    const char *q, *k, *v;
    char *o;
    int heads, seq_len, num_pages, cq, slots;
    int64_t q_stride_b, q_stride_n, k_stride_b, k_stride_n, v_stride_b, v_stride_n, o_stride_b, o_stride_n;
    float scale_log2;
    const int32_t *q_order, *k_order, *q_cluster, *pages, *keys, *chunk_first, *chunk_rows;
};

/* Our kernel's rows: one chunk, 16 * kChunkTiles rows per warp. */
static_assert(VS_SVG2_CHUNK % 64 == 0 && VS_SVG2_CHUNK <= 128, "a chunk is 64 or 128 rows: 1 or 2 m-tiles a warp");
constexpr int kChunkTiles = VS_SVG2_CHUNK / 64;

/* Copies rows `order[first + i]` of base into a swizzled tile; positions at or past `limit` zero-filled. */
template <typename T, int D, int ROWS>
__device__ __forceinline__ void load_ordered(T *tile, const char *base, int64_t stride_n, const int32_t *order,
                                             int first, int limit) {
    constexpr int kChunks = D / 8;
    for (int i = threadIdx.x; i < ROWS * kChunks; i += kThreads) {
        const int row = i / kChunks, chunk = i % kChunks, pos = first + row;
        const int src_row = pos < limit ? order[pos] : 0;
        const char *src = base + ((int64_t)src_row * stride_n + chunk * 8) * (int64_t)sizeof(T);
        cp_async_16(tile + tile_offset<D>(row, chunk), src, pos < limit ? 16 : 0);
    }
}

/* Our kernel, for shapes cuDNN has no paged engine for: one chunk (at most VS_SVG2_CHUNK query positions of
 * one cluster) per thread block, its keys its cluster's kept pages one after another (key v of the run is
 * position v % 128 of page pages[v / 128]), read through the cluster order, so nothing is copied. Rows past
 * the chunk's are zero and never written. Grid (chunk slots, BH); empty slots return at once. */
template <typename T, int D> __global__ void __launch_bounds__(kThreads) attend_kernel(const AttendParams p) {
    extern __shared__ __align__(128) unsigned char smem_raw[];
    T *sQ = reinterpret_cast<T *>(smem_raw);
    T *sK = sQ + VS_SVG2_CHUNK * D; /* two buffers */
    T *sV = sK + 2 * kTile * D;
    constexpr int MT = kChunkTiles;

    const int bh = blockIdx.y, N = p.seq_len, P = p.num_pages;
    const int64_t slot = (int64_t)bh * p.slots + blockIdx.x;
    const int q0 = p.chunk_first[slot], rows = p.chunk_rows[slot];
    if (rows == 0) return; /* past the head's last chunk: the whole block leaves */
    const int b = bh / p.heads, h = bh % p.heads;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warp_row = warp * 16 * MT;
    const int32_t *q_order = p.q_order + (int64_t)bh * N, *k_order = p.k_order + (int64_t)bh * N;
    const int64_t cluster = (int64_t)bh * (p.cq + 1) + p.q_cluster[(int64_t)bh * N + q0];
    const int32_t *pages = p.pages + cluster * P;
    const int num_keys = p.keys[cluster], num_tiles = (num_keys + kTile - 1) / kTile;
    const char *q_base = p.q + (b * p.q_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    const char *k_base = p.k + (b * p.k_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    const char *v_base = p.v + (b * p.v_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);

    load_ordered<T, D, VS_SVG2_CHUNK>(sQ, q_base, p.q_stride_n, q_order, q0, q0 + rows);
    cp_async_commit();
    auto load_kv = [&](int t, int buffer) {
        constexpr int kChunks = D / 8;
        for (int i = threadIdx.x; i < kTile * kChunks; i += kThreads) {
            const int row = i / kChunks, chunk = i % kChunks, v = t * kTile + row;
            const bool valid = v < num_keys;
            const int src_row =
                valid ? k_order[(pages[v / VS_ATTN_BLOCK] - bh * P) * VS_ATTN_BLOCK + v % VS_ATTN_BLOCK] : 0;
            const int at = tile_offset<D>(row, chunk);
            cp_async_16(sK + buffer * kTile * D + at,
                        k_base + ((int64_t)src_row * p.k_stride_n + chunk * 8) * (int64_t)sizeof(T), valid ? 16 : 0);
            cp_async_16(sV + buffer * kTile * D + at,
                        v_base + ((int64_t)src_row * p.v_stride_n + chunk * 8) * (int64_t)sizeof(T), valid ? 16 : 0);
        }
    };
    if (num_tiles > 0) load_kv(0, 0);
    cp_async_commit();

    constexpr int kKeyTiles = kTile / 8, kDimTiles = D / 8;
    float o_acc[MT][kDimTiles][4];
#pragma unroll
    for (int m = 0; m < MT; m++)
#pragma unroll
        for (int i = 0; i < kDimTiles; i++) o_acc[m][i][0] = o_acc[m][i][1] = o_acc[m][i][2] = o_acc[m][i][3] = 0.f;
    float row_max[MT][2], row_sum[MT][2];
#pragma unroll
    for (int m = 0; m < MT; m++) row_max[m][0] = row_max[m][1] = -INFINITY, row_sum[m][0] = row_sum[m][1] = 0.f;

    for (int t = 0; t < num_tiles; t++) {
        const int buffer = t & 1;
        prefetch_next_and_wait(t, num_tiles, load_kv);
        __syncthreads();
        const T *tK = sK + buffer * kTile * D, *tV = sV + buffer * kTile * D;

        float s[MT][kKeyTiles][4];
        tile_scores<T, D, MT>(s, sQ, tK, warp_row, lane);
        if ((t + 1) * kTile > num_keys) /* the last tile: keys past the run masked */
#pragma unroll
            for (int n = 0; n < kKeyTiles; n++)
#pragma unroll
                for (int e = 0; e < 2; e++)
                    if (t * kTile + n * 8 + (lane % 4) * 2 + e >= num_keys)
#pragma unroll
                        for (int m = 0; m < MT; m++) s[m][n][e] = s[m][n][2 + e] = -INFINITY;

        /* Online softmax (base 2). A row with every key so far masked keeps max -inf: shift by 0 then. */
#pragma unroll
        for (int m = 0; m < MT; m++) {
            float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
            for (int n = 0; n < kKeyTiles; n++) {
                tile_max[0] = fmaxf(tile_max[0], fmaxf(s[m][n][0], s[m][n][1]));
                tile_max[1] = fmaxf(tile_max[1], fmaxf(s[m][n][2], s[m][n][3]));
            }
            float scale_old[2], shift[2];
#pragma unroll
            for (int i = 0; i < 2; i++) {
                tile_max[i] = fmaxf(tile_max[i], __shfl_xor_sync(0xffffffffu, tile_max[i], 1));
                tile_max[i] = fmaxf(tile_max[i], __shfl_xor_sync(0xffffffffu, tile_max[i], 2));
                const float new_max = fmaxf(row_max[m][i], tile_max[i] * p.scale_log2);
                shift[i] = new_max == -INFINITY ? 0.f : new_max;
                scale_old[i] = fast_exp2(row_max[m][i] - shift[i]);
                row_max[m][i] = new_max;
                row_sum[m][i] *= scale_old[i];
            }
#pragma unroll
            for (int d = 0; d < kDimTiles; d++) {
                o_acc[m][d][0] *= scale_old[0], o_acc[m][d][1] *= scale_old[0];
                o_acc[m][d][2] *= scale_old[1], o_acc[m][d][3] *= scale_old[1];
            }
#pragma unroll
            for (int n = 0; n < kKeyTiles; n++) {
                s[m][n][0] = fast_exp2(s[m][n][0] * p.scale_log2 - shift[0]);
                s[m][n][1] = fast_exp2(s[m][n][1] * p.scale_log2 - shift[0]);
                s[m][n][2] = fast_exp2(s[m][n][2] * p.scale_log2 - shift[1]);
                s[m][n][3] = fast_exp2(s[m][n][3] * p.scale_log2 - shift[1]);
                row_sum[m][0] += s[m][n][0] + s[m][n][1];
                row_sum[m][1] += s[m][n][2] + s[m][n][3];
            }
        }

        /* O += P V, P straight from the score registers. */
#pragma unroll
        for (int kk = 0; kk < kTile / 16; kk++) {
            uint32_t a[MT][4];
#pragma unroll
            for (int m = 0; m < MT; m++) {
                a[m][0] = Mma<T>::pack(s[m][2 * kk][0], s[m][2 * kk][1]);
                a[m][1] = Mma<T>::pack(s[m][2 * kk][2], s[m][2 * kk][3]);
                a[m][2] = Mma<T>::pack(s[m][2 * kk + 1][0], s[m][2 * kk + 1][1]);
                a[m][3] = Mma<T>::pack(s[m][2 * kk + 1][2], s[m][2 * kk + 1][3]);
            }
#pragma unroll
            for (int d = 0; d < kDimTiles; d += 2) {
                uint32_t vf[4];
                ldmatrix_x4_trans(vf, tV + tile_offset<D>(kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8, d + lane / 16));
#pragma unroll
                for (int m = 0; m < MT; m++) {
                    Mma<T>::run(o_acc[m][d], a[m], vf[0], vf[1]);
                    Mma<T>::run(o_acc[m][d + 1], a[m], vf[2], vf[3]);
                }
            }
        }
        __syncthreads();
    }
    cp_async_wait<0>();
    __syncthreads();

    /* Normalise, stage in sQ, write each row back to its token. */
#pragma unroll
    for (int m = 0; m < MT; m++) {
#pragma unroll
        for (int i = 0; i < 2; i++) {
            float sum = row_sum[m][i];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            row_sum[m][i] = sum > 0.f ? 1.f / sum : 0.f;
        }
        const int r0 = warp_row + m * 16 + lane / 4;
#pragma unroll
        for (int d = 0; d < kDimTiles; d++) {
            const int col = d * 8 + (lane % 4) * 2;
            *reinterpret_cast<uint32_t *>(sQ + tile_offset<D>(r0, col / 8) + col % 8) =
                Mma<T>::pack(o_acc[m][d][0] * row_sum[m][0], o_acc[m][d][1] * row_sum[m][0]);
            *reinterpret_cast<uint32_t *>(sQ + tile_offset<D>(r0 + 8, col / 8) + col % 8) =
                Mma<T>::pack(o_acc[m][d][2] * row_sum[m][1], o_acc[m][d][3] * row_sum[m][1]);
        }
    }
    __syncthreads();
    char *o_base = p.o + (b * p.o_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    constexpr int kChunks = D / 8;
    for (int i = threadIdx.x; i < VS_SVG2_CHUNK * kChunks; i += kThreads) {
        const int row = i / kChunks, chunk = i % kChunks, pos = q0 + row;
        if (row >= rows) continue;
        *reinterpret_cast<uint4 *>(o_base + ((int64_t)q_order[pos] * p.o_stride_n + chunk * 8) * (int64_t)sizeof(T)) =
            *reinterpret_cast<const uint4 *>(sQ + tile_offset<D>(row, chunk));
    }
}

/* The cuDNN path's copies of k and v between a [B, N, H, D] tensor and packed [BH][padded][D] in cluster
 * order (positions past N: padding), one 16-byte chunk per thread: chunk i of packed is at element
 * token_chunk(i) of the tensor, -1 for padding. */
template <int D>
__device__ __forceinline__ int64_t token_chunk(int64_t i, int64_t stride_b, int64_t stride_n, const int32_t *order,
                                               int heads, int N, int padded) {
    constexpr int kChunks = D / 8;
    const int64_t row = i / kChunks;
    const int bh = (int)(row / padded), pos = (int)(row % padded);
    if (pos >= N) return -1;
    return (int64_t)(bh / heads) * stride_b + (int64_t)order[(int64_t)bh * N + pos] * stride_n +
           (int64_t)(bh % heads) * D + (i % kChunks) * 8;
}

/* packed = x in cluster order, padding zero-filled. */
template <typename T, int D>
__global__ void gather_kernel(const T *x, int64_t stride_b, int64_t stride_n, const int32_t *order, int heads, int N,
                              int padded, T *packed, int64_t total) {
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= total) return;
    const int64_t at = token_chunk<D>(i, stride_b, stride_n, order, heads, N, padded);
    reinterpret_cast<uint4 *>(packed)[i] = at < 0 ? make_uint4(0, 0, 0, 0) : *reinterpret_cast<const uint4 *>(x + at);
}

/* The cuDNN path's q and out, chunk by chunk: packed [BH][entry_slots][R][D], row r of entry (bh, c) the
 * position chunk_first + r of chunk c of head bh when r < chunk_rows, else padding (zero in q, never copied
 * out); the slots past vs_svg2_chunks are padding too. chunk_token(i): the element of the [B, N, H, D]
 * tensor that 16-byte chunk i of packed holds, -1 for padding. */
struct ChunkMap {
    const int32_t *order, *chunk_first, *chunk_rows;
    int heads, seq_len, slots, entry_slots;
};

template <int D>
__device__ __forceinline__ int64_t chunk_token(int64_t i, int64_t stride_b, int64_t stride_n, const ChunkMap &m) {
    constexpr int kChunks = D / 8;
    const int64_t row = i / kChunks, entry = row / VS_SVG2_CHUNK;
    const int r = (int)(row % VS_SVG2_CHUNK), bh = (int)(entry / m.entry_slots), c = (int)(entry % m.entry_slots);
    if (c >= m.slots) return -1;
    const int64_t slot = (int64_t)bh * m.slots + c;
    if (r >= m.chunk_rows[slot]) return -1;
    const int pos = m.chunk_first[slot] + r;
    return (int64_t)(bh / m.heads) * stride_b + (int64_t)m.order[(int64_t)bh * m.seq_len + pos] * stride_n +
           (int64_t)(bh % m.heads) * D + (i % kChunks) * 8;
}

template <typename T, int D>
__global__ void gather_chunks_kernel(const T *x, int64_t stride_b, int64_t stride_n, const ChunkMap m, T *packed,
                                     int64_t total) {
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= total) return;
    const int64_t at = chunk_token<D>(i, stride_b, stride_n, m);
    reinterpret_cast<uint4 *>(packed)[i] = at < 0 ? make_uint4(0, 0, 0, 0) : *reinterpret_cast<const uint4 *>(x + at);
}

template <typename T, int D>
__global__ void scatter_chunks_kernel(const T *packed, const ChunkMap m, T *out, int64_t stride_b, int64_t stride_n,
                                      int64_t total) {
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= total) return;
    const int64_t at = chunk_token<D>(i, stride_b, stride_n, m);
    if (at >= 0) *reinterpret_cast<uint4 *>(out + at) = reinterpret_cast<const uint4 *>(packed)[i];
}

/* Each cuDNN entry's page table (the pages of its chunk's cluster) and lengths (its rows, the cluster's keys).
 * A padding entry (a slot past the head's last chunk) attends with one zero query row to the first key of
 * page bh * P (finite: a gathered key), so that no entry has a length of 0; its output is never copied out.
 * Grid (entry_slots, BH). */
struct EntryParams {
    const int32_t *q_cluster, *pages, *keys, *chunk_first, *chunk_rows;
    int32_t *table, *seq_q, *seq_kv;
    int cq, seq_len, num_pages, slots, entry_slots;
};

__global__ void entries_kernel(const EntryParams p) {
    const int bh = blockIdx.y, c = blockIdx.x, P = p.num_pages;
    const int64_t entry = (int64_t)bh * p.entry_slots + c, slot = (int64_t)bh * p.slots + c;
    const int rows = c < p.slots ? p.chunk_rows[slot] : 0;
    const int64_t cluster =
        rows ? (int64_t)bh * (p.cq + 1) + p.q_cluster[(int64_t)bh * p.seq_len + p.chunk_first[slot]] : 0;
    int32_t *row = p.table + entry * P;
    for (int j = threadIdx.x; j < P; j += blockDim.x) row[j] = rows ? p.pages[cluster * P + j] : bh * P;
    if (threadIdx.x == 0) p.seq_q[entry] = rows ? rows : 1, p.seq_kv[entry] = rows ? p.keys[cluster] : 1;
}

/* ---- launchers ----------------------------------------------------------------------- */

vs_status check(const vs_attn_args *a, const vs_svg2_config *cfg) {
    if (a->dtype != VS_BF16 && a->dtype != VS_F16)
        return vs_fail(VS_ERR_UNSUPPORTED, "SVG2 on CUDA takes BF16 or F16");
    if (a->head_dim != 64 && a->head_dim != 128)
        return vs_fail(VS_ERR_UNSUPPORTED, "SVG2 on CUDA: head_dim %d (64 or 128)", a->head_dim);
    if (cfg->query_clusters < 1 || cfg->key_clusters < 1 || cfg->video_tokens < 1 || cfg->video_tokens > a->seq_len ||
        cfg->query_clusters > cfg->video_tokens || cfg->key_clusters > cfg->video_tokens)
        return vs_fail(VS_ERR_INVALID_ARG, "SVG2: %d query and %d key clusters for %d video tokens of %d",
                       cfg->query_clusters, cfg->key_clusters, cfg->video_tokens, a->seq_len);
    if (cfg->key_clusters > kSelectThreads * kSelectItems)
        return vs_fail(VS_ERR_UNSUPPORTED, "SVG2 on CUDA: %d key clusters (at most %d)", cfg->key_clusters,
                       kSelectThreads * kSelectItems);
    if (vs_svg2_pages(a->seq_len) > kSelectThreads * kSelectItems)
        return vs_fail(VS_ERR_UNSUPPORTED, "SVG2 on CUDA: %d tokens (at most %d)", a->seq_len,
                       kSelectThreads * kSelectItems * VS_ATTN_BLOCK);
    if ((int64_t)a->batch * a->heads * cfg->key_clusters >= ((int64_t)1 << 31))
        return vs_fail(VS_ERR_UNSUPPORTED, "SVG2 on CUDA: too many (batch, head, cluster) triples");
    return VS_OK;
}

template <typename T, int D>
vs_status kmeans_typed(KmeansParams &p, int bh, int init, int iterations, const Workspace &w, cudaStream_t stream) {
    const dim3 per_cluster(p.clusters, bh), per_padded((p.clusters + kTile - 1) / kTile * kTile, bh);
    if (init) init_kernel<T><<<per_cluster, D, 0, stream>>>(p);
    const bool wgmma = vs_cuda_has_wgmma();
    const size_t smem = wgmma ? (size_t)(kWgAssignRows + 2 * kTile) * D * sizeof(T) + 1024 /* alignment slack */
                              : (size_t)2 * kTile * D * sizeof(T);
    VS_CUDA_TRY(cudaFuncSetAttribute(wgmma ? assign_wgmma_kernel<T, D> : assign_kernel<T, D>,
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    const int64_t items = (int64_t)bh * p.video, positions = (int64_t)bh * p.seq_len;
    int end_bit = 1;
    while (end_bit < 32 && ((uint64_t)bh * p.clusters >> end_bit)) end_bit++;
    for (int it = 0; it < iterations; it++) {
        round_kernel<T><<<per_padded, D, 0, stream>>>(p);
        if (wgmma)
            assign_wgmma_kernel<T, D><<<dim3((p.video + kWgAssignRows - 1) / kWgAssignRows, bh), kWgAssignThreads,
                                        smem, stream>>>(p);
        else
            assign_kernel<T, D><<<dim3((p.video + kAssignWarps * 32 - 1) / (kAssignWarps * 32), bh),
                                  kAssignWarps * 32, smem, stream>>>(p);
        size_t bytes = w.sort_bytes;
        VS_CUDA_TRY(cub::DeviceRadixSort::SortPairs(w.sort_scratch, bytes, w.keys_in, w.keys_out, w.values_in,
                                                    w.values_out, items, 0, end_bit, stream));
        place_kernel<<<(unsigned)((positions + 255) / 256), 256, 0, stream>>>(p, positions);
        starts_kernel<<<(unsigned)((items + 255) / 256), 256, 0, stream>>>(p, items);
        update_kernel<T, D><<<per_cluster, kThreads, 0, stream>>>(p);
    }
    VS_CUDA_TRY(cudaGetLastError());
    return VS_OK;
}

template <typename T, int D> vs_status own_typed(const AttendParams &p, int bh, cudaStream_t stream) {
    const size_t smem = (size_t)(VS_SVG2_CHUNK + 4 * kTile) * D * sizeof(T);
    VS_CUDA_TRY(cudaFuncSetAttribute(attend_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    attend_kernel<T, D><<<dim3(p.slots, bh), kThreads, smem, stream>>>(p);
    VS_CUDA_TRY(cudaGetLastError());
    return VS_OK;
}

/* Entries per cuDNN call: a kernel's grid is limited to 65535 in y and z, and where cuDNN's engine puts the
 * batch is not documented, so the entries go in runs of whole heads of at most this many. */
constexpr int kMaxEntries = 65535;

/* cuDNN's paged attention: k and v gathered into cluster order padded to whole pages (the page containers),
 * q chunk by chunk, every chunk one batch entry of one head whose pages are its cluster's and whose query
 * length is its rows (the rows past it padding: zero in, masked, never copied out), the output scattered
 * back. VS_ERR_UNSUPPORTED (before writing out) where cuDNN has no engine. */
template <typename T, int D>
vs_status cudnn_typed(const vs_attn_args *a, const vs_svg2_config *cfg, const vs_svg2_plan *plan, const Workspace &w,
                      cudaStream_t stream) {
    const int bh = a->batch * a->heads, N = a->seq_len, P = vs_svg2_pages(N), padded = P * VS_ATTN_BLOCK;
    const int slots = vs_svg2_chunks(N, cfg->video_tokens, cfg->query_clusters), per_head = entry_slots(a, cfg);
    const int64_t kv_chunks = (int64_t)bh * padded * (D / 8);
    const int64_t q_chunks = (int64_t)bh * per_head * VS_SVG2_CHUNK * (D / 8);
    const unsigned kv_grid = (unsigned)((kv_chunks + 255) / 256), q_grid = (unsigned)((q_chunks + 255) / 256);
    T *packed[4];
    for (int i = 0; i < 4; i++) packed[i] = static_cast<T *>(w.packed[i]);
    const ChunkMap m = {plan->q_order, plan->chunk_first, plan->chunk_rows, a->heads, N, slots, per_head};
    gather_chunks_kernel<T, D><<<q_grid, 256, 0, stream>>>((const T *)a->q, a->q_stride_b, a->q_stride_n, m,
                                                          packed[0], q_chunks);
    gather_kernel<T, D><<<kv_grid, 256, 0, stream>>>((const T *)a->k, a->k_stride_b, a->k_stride_n, plan->k_order,
                                                     a->heads, N, padded, packed[1], kv_chunks);
    gather_kernel<T, D><<<kv_grid, 256, 0, stream>>>((const T *)a->v, a->v_stride_b, a->v_stride_n, plan->k_order,
                                                     a->heads, N, padded, packed[2], kv_chunks);
    const EntryParams ep = {plan->q_cluster, plan->pages, plan->keys, plan->chunk_first, plan->chunk_rows, w.table,
                            w.seq_q, w.seq_kv, cfg->query_clusters, N, P, slots, per_head};
    entries_kernel<<<dim3(per_head, bh), 128, 0, stream>>>(ep);
    VS_CUDA_TRY(cudaGetLastError());
    const int heads_per_call = kMaxEntries / per_head > 0 ? kMaxEntries / per_head : 1;
    const int64_t entry_elems = (int64_t)VS_SVG2_CHUNK * D;
    for (int h0 = 0; h0 < bh; h0 += heads_per_call) {
        const int heads = bh - h0 < heads_per_call ? bh - h0 : heads_per_call;
        const int64_t first = (int64_t)h0 * per_head; /* a multiple of 4: 16-byte aligned lengths */
        vs_attn_args e = {};
        e.dtype = a->dtype, e.q = packed[0] + first * entry_elems, e.k = packed[1], e.v = packed[2];
        e.out = packed[3] + first * entry_elems;
        e.batch = heads * per_head, e.heads = 1, e.seq_len = VS_SVG2_CHUNK, e.head_dim = D, e.scale = a->scale;
        e.q_stride_b = e.o_stride_b = entry_elems;
        e.k_stride_b = e.v_stride_b = (int64_t)VS_ATTN_BLOCK * D;
        e.q_stride_n = e.k_stride_n = e.v_stride_n = e.o_stride_n = D;
        const vs_cudnn_pages pages = {w.table + first * P, w.seq_q + first, w.seq_kv + first, P, bh * P,
                                      (int64_t)VS_ATTN_BLOCK * D, (int64_t)VS_ATTN_BLOCK * D, D};
        VS_TRY(vs_cudnn_paged_attention(&e, &pages, stream));
    }
    scatter_chunks_kernel<T, D><<<q_grid, 256, 0, stream>>>(packed[3], m, (T *)a->out, a->o_stride_b, a->o_stride_n,
                                                           q_chunks);
    VS_CUDA_TRY(cudaGetLastError());
    return VS_OK;
}

} // namespace

extern "C" size_t vs_cuda_svg2_workspace(const vs_attn_args *args, const vs_svg2_config *cfg) {
    return layout(args, cfg, nullptr).total;
}

extern "C" vs_status vs_cuda_svg2_kmeans(const vs_attn_args *a, const vs_svg2_config *cfg, int which,
                                         float *centroids, int init, int iterations, const vs_svg2_plan *plan,
                                         void *workspace, size_t workspace_bytes, void *stream) {
    VS_TRY(check(a, cfg));
    if (iterations < 1) return vs_fail(VS_ERR_INVALID_ARG, "SVG2 k-means: %d iterations", iterations);
    const Workspace w = layout(a, cfg, workspace);
    if (workspace_bytes < w.total)
        return vs_fail(VS_ERR_INVALID_ARG, "SVG2: workspace of %zu bytes, needs %zu", workspace_bytes, w.total);
    const bool keys = which == VS_SVG2_KEYS;
    KmeansParams p = {};
    p.x = (const char *)(keys ? a->k : a->q);
    p.stride_b = keys ? a->k_stride_b : a->q_stride_b, p.stride_n = keys ? a->k_stride_n : a->q_stride_n;
    p.heads = a->heads, p.video = cfg->video_tokens, p.seq_len = a->seq_len;
    p.clusters = keys ? cfg->key_clusters : cfg->query_clusters, p.cpad = padded_clusters(cfg);
    p.centroids = centroids, p.rounded = w.centroids, p.norms = w.norms;
    p.keys = w.keys_in, p.tokens = w.values_in, p.sorted_keys = w.keys_out, p.sorted_tokens = w.values_out;
    p.order = keys ? plan->k_order : plan->q_order;
    p.cluster = keys ? plan->k_cluster : plan->q_cluster;
    p.start = keys ? plan->k_start : plan->q_start;
    const int bh = a->batch * a->heads;
    cudaStream_t s = (cudaStream_t)stream;
    const bool bf16 = a->dtype == VS_BF16;
    if (a->head_dim == 64)
        return bf16 ? kmeans_typed<__nv_bfloat16, 64>(p, bh, init, iterations, w, s)
                    : kmeans_typed<__half, 64>(p, bh, init, iterations, w, s);
    return bf16 ? kmeans_typed<__nv_bfloat16, 128>(p, bh, init, iterations, w, s)
                : kmeans_typed<__half, 128>(p, bh, init, iterations, w, s);
}

extern "C" vs_status vs_cuda_svg2_select(const vs_attn_args *a, const vs_svg2_config *cfg, const float *q_centroids,
                                         const float *k_centroids, const vs_svg2_plan *plan, void *workspace,
                                         size_t workspace_bytes, void *stream) {
    VS_TRY(check(a, cfg));
    const Workspace w = layout(a, cfg, workspace);
    if (workspace_bytes < w.total)
        return vs_fail(VS_ERR_INVALID_ARG, "SVG2: workspace of %zu bytes, needs %zu", workspace_bytes, w.total);
    SelectParams p = {};
    p.q_centroids = q_centroids, p.k_centroids = k_centroids;
    p.q_start = plan->q_start, p.k_start = plan->k_start, p.q_cluster = plan->q_cluster, p.k_cluster = plan->k_cluster;
    p.weights = w.weights, p.pages = plan->pages, p.keys = plan->keys, p.kept = plan->kept;
    p.chunk_first = plan->chunk_first, p.chunk_rows = plan->chunk_rows;
    p.slots = vs_svg2_chunks(a->seq_len, cfg->video_tokens, cfg->query_clusters);
    p.cq = cfg->query_clusters, p.ck = cfg->key_clusters, p.dim = a->head_dim, p.video = cfg->video_tokens;
    p.seq_len = a->seq_len, p.num_pages = vs_svg2_pages(a->seq_len);
    p.video_pages = a->seq_len == cfg->video_tokens ? p.num_pages : cfg->video_tokens / VS_ATTN_BLOCK;
    p.scale = a->scale, p.top_p = (float)cfg->top_p, p.min_key_ratio = (float)cfg->min_key_ratio;
    p.budget = (float)cfg->budget;
    const int bh = a->batch * a->heads;
    cudaStream_t s = (cudaStream_t)stream;
    weights_kernel<<<dim3((cfg->query_clusters + kWeightRows - 1) / kWeightRows, bh), kSelectThreads, 0, s>>>(
        p);
    const dim3 per_cluster(cfg->query_clusters + 1, bh);
    if (p.num_pages <= kSelectThreads)
        pages_kernel<1><<<per_cluster, kSelectThreads, 0, s>>>(p);
    else if (p.num_pages <= 2 * kSelectThreads)
        pages_kernel<2><<<per_cluster, kSelectThreads, 0, s>>>(p);
    else if (p.num_pages <= 4 * kSelectThreads)
        pages_kernel<4><<<per_cluster, kSelectThreads, 0, s>>>(p);
    else
        pages_kernel<kSelectItems><<<per_cluster, kSelectThreads, 0, s>>>(p);
    chunks_kernel<<<bh, kSelectThreads, 0, s>>>(p);
    VS_CUDA_TRY(cudaGetLastError());
    return VS_OK;
}

extern "C" vs_status vs_cuda_svg2_attend_own(const vs_attn_args *a, const vs_svg2_config *cfg,
                                             const vs_svg2_plan *plan, void *stream) {
    VS_TRY(check(a, cfg));
    AttendParams p = {};
    p.q = (const char *)a->q, p.k = (const char *)a->k, p.v = (const char *)a->v, p.o = (char *)a->out;
    p.heads = a->heads, p.seq_len = a->seq_len, p.num_pages = vs_svg2_pages(a->seq_len);
    p.q_stride_b = a->q_stride_b, p.q_stride_n = a->q_stride_n, p.k_stride_b = a->k_stride_b;
    p.k_stride_n = a->k_stride_n, p.v_stride_b = a->v_stride_b, p.v_stride_n = a->v_stride_n;
    p.o_stride_b = a->o_stride_b, p.o_stride_n = a->o_stride_n;
    p.scale_log2 = a->scale * 1.4426950408889634f;
    p.cq = cfg->query_clusters, p.slots = vs_svg2_chunks(a->seq_len, cfg->video_tokens, cfg->query_clusters);
    p.q_order = plan->q_order, p.k_order = plan->k_order, p.q_cluster = plan->q_cluster;
    p.pages = plan->pages, p.keys = plan->keys, p.chunk_first = plan->chunk_first, p.chunk_rows = plan->chunk_rows;
    const int bh = a->batch * a->heads;
    cudaStream_t s = (cudaStream_t)stream;
    const bool bf16 = a->dtype == VS_BF16;
    if (a->head_dim == 64)
        return bf16 ? own_typed<__nv_bfloat16, 64>(p, bh, s) : own_typed<__half, 64>(p, bh, s);
    return bf16 ? own_typed<__nv_bfloat16, 128>(p, bh, s) : own_typed<__half, 128>(p, bh, s);
}

extern "C" vs_status vs_cuda_svg2_attend_cudnn(const vs_attn_args *a, const vs_svg2_config *cfg,
                                               const vs_svg2_plan *plan, void *workspace, size_t workspace_bytes,
                                               void *stream) {
    VS_TRY(check(a, cfg));
    const Workspace w = layout(a, cfg, workspace);
    if (workspace_bytes < w.total)
        return vs_fail(VS_ERR_INVALID_ARG, "SVG2: workspace of %zu bytes, needs %zu", workspace_bytes, w.total);
    cudaStream_t s = (cudaStream_t)stream;
    const bool bf16 = a->dtype == VS_BF16;
    if (a->head_dim == 64)
        return bf16 ? cudnn_typed<__nv_bfloat16, 64>(a, cfg, plan, w, s) : cudnn_typed<__half, 64>(a, cfg, plan, w, s);
    return bf16 ? cudnn_typed<__nv_bfloat16, 128>(a, cfg, plan, w, s) : cudnn_typed<__half, 128>(a, cfg, plan, w, s);
}

extern "C" vs_status vs_cuda_svg2_attend(const vs_attn_args *a, const vs_svg2_config *cfg, const vs_svg2_plan *plan,
                                         void *workspace, size_t workspace_bytes, void *stream) {
    const vs_status s = vs_cuda_svg2_attend_cudnn(a, cfg, plan, workspace, workspace_bytes, stream);
    return s == VS_ERR_UNSUPPORTED ? vs_cuda_svg2_attend_own(a, cfg, plan, stream) : s;
}
