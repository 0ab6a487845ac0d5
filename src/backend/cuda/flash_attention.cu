/* Flash attention forward (dense and block-sparse) with the SVG layout
 * transformation fused into its loads and stores.
 *
 * Two kernels share the contract and the tile walk: on Hopper (sm_90a) one
 * on warpgroup MMA (wgmma, further down), elsewhere (sm_80+) one on
 * mma.sync. Both compute a 128-row query tile of one (batch, head) per
 * thread block; keys and values stream through shared memory in 64-row
 * tiles, double-buffered with cp.async, and the scores never leave
 * registers (online softmax, FlashAttention-2 style), f32 accumulation.
 * The mma.sync kernel runs 4 warps of 32 query rows, operands fed by
 * ldmatrix; VS_ATTN_KERNEL=mma selects it on Hopper too.
 *
 * The tricks, in the order the code meets them:
 *  - Shared-memory tiles are rows of D halves cut into 16-byte chunks; chunk
 *    c of row r is stored at chunk c ^ (r % 8). ldmatrix reads 8 rows at one
 *    logical chunk, which the XOR spreads over all 32 banks.
 *  - Temporal heads: tile row r is fetched from stored row vs_attn_row(r), so
 *    the token-major permutation costs one index computation per row and no
 *    copy; the output is written back through the same map.
 *  - Block sparsity: the key tiles visited are the two 64-row halves of each
 *    128-row key block listed for this query block (a half that starts past
 *    the sequence is skipped).
 *  - The score accumulators of two adjacent 8-key tiles are laid out exactly
 *    as the A operand of the next m16n8k16 product, so P goes from the
 *    softmax straight into P.V without shared memory.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/attention_cuda.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/mma_utils.cuh"
#include "backend/cuda/stored_row.cuh"
#include "backend/cuda/wgmma.cuh"
#include "core/device_info.h"

namespace {

using namespace vs_mma;

constexpr int kBlockM = 128; /* query rows per thread block (= VS_ATTN_BLOCK) */
constexpr int kBlockN = 64;  /* key rows per shared-memory tile */

static_assert(kBlockM == VS_ATTN_BLOCK, "a query tile is one SVG block");
static_assert(VS_ATTN_BLOCK % kBlockN == 0, "key blocks split into whole tiles");

struct Params {
    const char *q, *k, *v; /* byte pointers: the element type is a template argument */
    char *o;
    int heads, seq_len, kv_len, frames, tokens_per_frame;
    float inv_frames; /* 1 / frames, for the token-major row map */
    int64_t q_stride_b, q_stride_n, k_stride_b, k_stride_n, v_stride_b, v_stride_n, o_stride_b, o_stride_n;
    float scale_log2; /* scale * log2(e): softmax in base 2 */
    const int32_t *row_ptr, *col_idx; /* NULL: dense */
    const uint8_t *head_layout;       /* NULL: all frame-major */
};

/* Element offset of 16-byte chunk `chunk` of row `row` in a ROWS-row tile:
 * rows of D halves (the mma.sync kernel) or, with PANELS, 64-column panels
 * in wgmma's 128-byte-swizzle layout ([panel][row][64]). Both XOR the chunk
 * with row % 8 so that 8 rows read at one column hit all 32 banks. */
template <int D, int ROWS, bool PANELS> __device__ __forceinline__ int swizzled(int row, int chunk) {
    return PANELS ? panel_offset<ROWS>(row, chunk) : tile_offset<D>(row, chunk);
}

/* Copies rows [first, first + ROWS) of one head into a swizzled tile;
 * rows at or past `limit` are zero-filled. */
template <typename T, int D, int ROWS, int THREADS, bool PANELS>
__device__ __forceinline__ void load_tile(T *tile, const char *base, int64_t stride_n, int first, int limit,
                                          int token_major, const Params &p) {
    constexpr int kChunks = D / 8;
    for (int i = threadIdx.x; i < ROWS * kChunks; i += THREADS) {
        int row = i / kChunks, chunk = i % kChunks;
        int r = first + row;
        int valid = r < limit;
        int src_row = valid ? stored_row(r, token_major, p.frames, p.inv_frames, p.tokens_per_frame) : 0;
        const char *src = base + ((int64_t)src_row * stride_n + chunk * 8) * (int64_t)sizeof(T);
        cp_async_16(tile + swizzled<D, ROWS, PANELS>(row, chunk), src, valid ? 16 : 0);
    }
}

/* Writes a finished ROWS-row output tile (staged in shared memory) to the
 * rows it belongs to, through the head's layout. */
template <typename T, int D, int ROWS, int THREADS, bool PANELS>
__device__ __forceinline__ void store_tile(const T *tile, char *o_base, int q_block, int token_major,
                                           const Params &p) {
    constexpr int kChunks = D / 8;
    for (int i = threadIdx.x; i < ROWS * kChunks; i += THREADS) {
        int row = i / kChunks, chunk = i % kChunks;
        int r = q_block * ROWS + row;
        if (r >= p.seq_len) continue;
        int dst_row = stored_row(r, token_major, p.frames, p.inv_frames, p.tokens_per_frame);
        *reinterpret_cast<uint4 *>(o_base + ((int64_t)dst_row * p.o_stride_n + chunk * 8) * (int64_t)sizeof(T)) =
            *reinterpret_cast<const uint4 *>(tile + swizzled<D, ROWS, PANELS>(row, chunk));
    }
}

/* The key tiles of KEYS rows one query block visits: every tile when dense;
 * else the VS_ATTN_BLOCK / KEYS tiles of each listed key block, less a last
 * tile that would start past the sequence. */
template <int KEYS> struct KeyTiles {
    const int32_t *col_idx;
    int first_entry, count;
    __device__ KeyTiles(const Params &p, int q_block) : col_idx(p.row_ptr ? p.col_idx : nullptr), first_entry(0) {
        constexpr int per_block = VS_ATTN_BLOCK / KEYS;
        if (!p.row_ptr) {
            count = (p.kv_len + KEYS - 1) / KEYS;
            return;
        }
        first_entry = p.row_ptr[q_block];
        int entries = p.row_ptr[q_block + 1] - first_entry;
        count = 0;
        if (entries > 0) {
            int last_keys = p.seq_len - col_idx[first_entry + entries - 1] * VS_ATTN_BLOCK; /* short last block */
            int last_tiles = min(per_block, (last_keys + KEYS - 1) / KEYS);
            count = (entries - 1) * per_block + last_tiles;
        }
    }
    __device__ int start(int t) const {
        constexpr int per_block = VS_ATTN_BLOCK / KEYS;
        if (!col_idx) return t * KEYS;
        return col_idx[first_entry + t / per_block] * VS_ATTN_BLOCK + (t % per_block) * KEYS;
    }
};

/* MT: 16-row m-tiles per warp, so kBlockM / (16 MT) warps per block. With
 * MT = 2 a warp uses every K and V operand it loads from shared memory for
 * two m-tiles (half the ldmatrix traffic per product); Q is re-read from
 * shared memory each tile instead of living in registers, which keeps the
 * register count in reach. */
template <typename T, int D, int MT>
__global__ void __launch_bounds__(kBlockM / (16 * MT) * 32, 1) flash_attention_kernel(const Params p) {
    constexpr int kThreads = kBlockM / (16 * MT) * 32;
    extern __shared__ __align__(128) unsigned char smem_raw[];
    T *sQ = reinterpret_cast<T *>(smem_raw);
    T *sK = sQ + kBlockM * D; /* two buffers */
    T *sV = sK + 2 * kBlockN * D;

    const int q_block = blockIdx.x;
    const int bh = blockIdx.y;
    const int b = bh / p.heads, h = bh % p.heads;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int token_major = p.head_layout ? p.head_layout[bh] == VS_LAYOUT_TOKEN_MAJOR : 0;

    const char *q_base = p.q + (b * p.q_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    const char *k_base = p.k + (b * p.k_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    const char *v_base = p.v + (b * p.v_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);

    const KeyTiles<kBlockN> tiles(p, q_block);
    const int num_tiles = tiles.count;
    auto load_kv = [&](int t, int buffer) {
        int start = tiles.start(t);
        load_tile<T, D, kBlockN, kThreads, false>(sK + buffer * kBlockN * D, k_base, p.k_stride_n, start, p.kv_len,
                                                  token_major, p);
        load_tile<T, D, kBlockN, kThreads, false>(sV + buffer * kBlockN * D, v_base, p.v_stride_n, start, p.kv_len,
                                                  token_major, p);
    };

    load_tile<T, D, kBlockM, kThreads, false>(sQ, q_base, p.q_stride_n, q_block * kBlockM, p.seq_len, token_major, p);
    if (num_tiles > 0) load_kv(0, 0);
    cp_async_commit();

    constexpr int kSteps = D / 16;         /* k-steps of Q.K^T over the head dimension */
    constexpr int kKeyTiles = kBlockN / 8; /* 8-key column tiles of S */
    constexpr int kDimTiles = D / 8;       /* 8-dim column tiles of O */
    const int warp_row = warp * 16 * MT;   /* first query row of this warp in the tile */

    float o_acc[MT][kDimTiles][4];
#pragma unroll
    for (int m = 0; m < MT; m++)
#pragma unroll
        for (int i = 0; i < kDimTiles; i++) o_acc[m][i][0] = o_acc[m][i][1] = o_acc[m][i][2] = o_acc[m][i][3] = 0.f;
    /* Each thread holds two rows of each m-tile: lane/4 and lane/4 + 8. */
    float row_max[MT][2], row_sum[MT][2];
#pragma unroll
    for (int m = 0; m < MT; m++) {
        row_max[m][0] = row_max[m][1] = -INFINITY;
        row_sum[m][0] = row_sum[m][1] = 0.f;
    }

    for (int t = 0; t < num_tiles; t++) {
        const int buffer = t & 1;
        prefetch_next_and_wait(t, num_tiles, load_kv);
        __syncthreads();

        const T *tK = sK + buffer * kBlockN * D;
        const T *tV = sV + buffer * kBlockN * D;

        /* S = Q K^T for this warp's rows and the tile's 64 keys. */
        float s[MT][kKeyTiles][4];
#pragma unroll
        for (int m = 0; m < MT; m++)
#pragma unroll
            for (int n = 0; n < kKeyTiles; n++) s[m][n][0] = s[m][n][1] = s[m][n][2] = s[m][n][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < kSteps; kk++) {
            uint32_t qf[MT][4];
#pragma unroll
            for (int m = 0; m < MT; m++)
                ldmatrix_x4(qf[m], sQ + tile_offset<D>(warp_row + m * 16 + lane % 16, kk * 2 + lane / 16));
#pragma unroll
            for (int n = 0; n < kKeyTiles; n += 2) {
                uint32_t kf[4];
                int key = n * 8 + (lane % 8) + (lane / 16) * 8;
                ldmatrix_x4(kf, tK + tile_offset<D>(key, kk * 2 + (lane / 8) % 2));
#pragma unroll
                for (int m = 0; m < MT; m++) {
                    Mma<T>::run(s[m][n], qf[m], kf[0], kf[1]);
                    Mma<T>::run(s[m][n + 1], qf[m], kf[2], kf[3]);
                }
            }
        }

        /* Keys past the end of the sequence do not exist. */
        const int key0 = tiles.start(t);
        if (key0 + kBlockN > p.kv_len) {
#pragma unroll
            for (int n = 0; n < kKeyTiles; n++) {
                int key = key0 + n * 8 + (lane % 4) * 2;
#pragma unroll
                for (int m = 0; m < MT; m++) {
                    if (key >= p.kv_len) s[m][n][0] = s[m][n][2] = -INFINITY;
                    if (key + 1 >= p.kv_len) s[m][n][1] = s[m][n][3] = -INFINITY;
                }
            }
        }

        /* Online softmax (base 2): new running max, rescale what was summed so far. */
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
                /* the four lanes of a quad share a row */
                tile_max[i] = fmaxf(tile_max[i], __shfl_xor_sync(0xffffffffu, tile_max[i], 1));
                tile_max[i] = fmaxf(tile_max[i], __shfl_xor_sync(0xffffffffu, tile_max[i], 2));
                float new_max = fmaxf(row_max[m][i], tile_max[i] * p.scale_log2);
                scale_old[i] = fast_exp2(row_max[m][i] - new_max); /* 0 on the first tile: row_max = -inf */
                row_max[m][i] = new_max;
                shift[i] = new_max;
                row_sum[m][i] *= scale_old[i];
            }
#pragma unroll
            for (int d = 0; d < kDimTiles; d++) {
                o_acc[m][d][0] *= scale_old[0];
                o_acc[m][d][1] *= scale_old[0];
                o_acc[m][d][2] *= scale_old[1];
                o_acc[m][d][3] *= scale_old[1];
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

        /* O += P V: two 8-key tiles of P form one A operand. */
#pragma unroll
        for (int kk = 0; kk < kBlockN / 16; kk++) {
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
                int key = kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8;
                ldmatrix_x4_trans(vf, tV + tile_offset<D>(key, d + lane / 16));
#pragma unroll
                for (int m = 0; m < MT; m++) {
                    Mma<T>::run(o_acc[m][d], a[m], vf[0], vf[1]);
                    Mma<T>::run(o_acc[m][d + 1], a[m], vf[2], vf[3]);
                }
            }
        }
        __syncthreads(); /* the buffer is refilled by the next iteration's prefetch */
    }
    cp_async_wait<0>(); /* with no key tiles the Q copy may still be in flight */
    __syncthreads();

    /* Normalise and stage the tile in shared memory (sQ is free now). */
#pragma unroll
    for (int m = 0; m < MT; m++) {
#pragma unroll
        for (int i = 0; i < 2; i++) {
            float sum = row_sum[m][i];
            sum += __shfl_xor_sync(0xffffffffu, sum, 1);
            sum += __shfl_xor_sync(0xffffffffu, sum, 2);
            row_sum[m][i] = sum > 0.f ? 1.f / sum : 0.f; /* no key blocks: zeros */
        }
        const int r0 = warp_row + m * 16 + lane / 4;
#pragma unroll
        for (int d = 0; d < kDimTiles; d++) {
            int col = d * 8 + (lane % 4) * 2;
            uint32_t lo = Mma<T>::pack(o_acc[m][d][0] * row_sum[m][0], o_acc[m][d][1] * row_sum[m][0]);
            uint32_t hi = Mma<T>::pack(o_acc[m][d][2] * row_sum[m][1], o_acc[m][d][3] * row_sum[m][1]);
            *reinterpret_cast<uint32_t *>(sQ + tile_offset<D>(r0, col / 8) + col % 8) = lo;
            *reinterpret_cast<uint32_t *>(sQ + tile_offset<D>(r0 + 8, col / 8) + col % 8) = hi;
        }
    }
    __syncthreads();

    char *o_base = p.o + (b * p.o_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    store_tile<T, D, kBlockM, kThreads, false>(sQ, o_base, q_block, token_major, p);
}

template <typename T, int D, int MT> vs_status launch(const Params &p, int batch_heads, cudaStream_t stream) {
    const size_t smem = (size_t)(kBlockM + 4 * kBlockN) * D * sizeof(T);
    auto kernel = flash_attention_kernel<T, D, MT>;
    VS_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid((p.seq_len + kBlockM - 1) / kBlockM, batch_heads);
    kernel<<<grid, kBlockM / (16 * MT) * 32, smem, stream>>>(p);
    VS_CUDA_TRY(cudaGetLastError());
    return VS_OK;
}

/* ---- Hopper kernel: warpgroup MMA (wgmma) ---------------------------------
 * Same contract, same tile walk, with the products on Hopper's warpgroup
 * tensor-core instructions: two warpgroups of 4 warps each own 64 query rows
 * of the 128-row block; key/value tiles are one 128-row SVG block, so the
 * block list is walked one entry per tile.
 *
 *  - Shared-memory tiles use the 128-byte-swizzle layout wgmma reads: each
 *    tile is split into 64-column panels ([panel][row][64 halves]); inside a
 *    panel, 16-byte chunk c of row r sits at chunk c ^ (r % 8), and 8-row
 *    groups are 1024 bytes apart. Matrix descriptors point into these panels.
 *  - S = Q K^T: A (Q) and B (K) from shared memory, both K-major; a k-step
 *    of 16 elements moves the descriptor 32 bytes along the swizzled row.
 *  - O += P V: A (P) straight from the registers that hold the softmax (the
 *    accumulator layout of two 8-column groups is the A-fragment layout), B
 *    (V, stored [key][dim]) from shared memory, MN-major (transposed).
 *  - cp.async writes go through the generic proxy; each thread fences them
 *    to the async proxy before the barrier that precedes the wgmma reads. */

constexpr int kWgRows = 128;  /* query rows per block: 2 warpgroups x 64 */
constexpr int kWgThreads = 256;

/* KEYS: keys per tile. 64 (half an SVG block) keeps registers and shared
 * memory small enough for two blocks per SM; whole 128-key blocks (one block
 * per SM) measured 20% slower (bench/README.md). */
template <typename T, int D, int KEYS>
__global__ void __launch_bounds__(kWgThreads, KEYS == 64 ? 2 : 1) flash_attention_wgmma_kernel(const Params p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int kWgKeys = KEYS;
    extern __shared__ unsigned char smem_raw[];
    /* Panels must start on 1024-byte boundaries (the swizzle pattern repeats every 8 rows of 128 bytes). */
    T *sQ = reinterpret_cast<T *>(smem_raw + ((1024 - (smem_addr(smem_raw) & 1023)) & 1023));
    T *sK = sQ + kWgRows * D; /* two buffers each */
    T *sV = sK + 2 * kWgKeys * D;

    const int q_block = blockIdx.x, bh = blockIdx.y;
    const int b = bh / p.heads, h = bh % p.heads;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int group = warp / 4; /* warpgroup: query rows group*64 .. +64 */
    const int token_major = p.head_layout ? p.head_layout[bh] == VS_LAYOUT_TOKEN_MAJOR : 0;

    const char *q_base = p.q + (b * p.q_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    const char *k_base = p.k + (b * p.k_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    const char *v_base = p.v + (b * p.v_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);

    const KeyTiles<kWgKeys> tiles(p, q_block);
    const int num_tiles = tiles.count;
    auto load_kv = [&](int t, int buffer) {
        int start = tiles.start(t);
        load_tile<T, D, kWgKeys, kWgThreads, true>(sK + buffer * kWgKeys * D, k_base, p.k_stride_n, start, p.kv_len, token_major, p);
        load_tile<T, D, kWgKeys, kWgThreads, true>(sV + buffer * kWgKeys * D, v_base, p.v_stride_n, start, p.kv_len, token_major, p);
    };

    load_tile<T, D, kWgRows, kWgThreads, true>(sQ, q_base, p.q_stride_n, q_block * kWgRows, p.seq_len, token_major, p);
    if (num_tiles > 0) load_kv(0, 0);
    cp_async_commit();

    constexpr int kSteps = D / 16;       /* k-steps of S = Q K^T */
    constexpr int kKeySteps = kWgKeys / 16; /* k-steps of O += P V */
    constexpr int kPanelBytes = kWgKeys * 128;
    float o[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};

    for (int t = 0; t < num_tiles; t++) {
        const int buffer = t & 1;
        prefetch_next_and_wait(t, num_tiles, load_kv);
        fence_proxy_async();
        __syncthreads();
        const T *tK = sK + buffer * kWgKeys * D, *tV = sV + buffer * kWgKeys * D;

        /* S = Q K^T: 64 rows x 128 keys per warpgroup. */
        float s[kWgKeys / 2];
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kSteps; kk++) {
            const int panel = kk / 4, within = (kk % 4) * 32;
            const char *q_panel = reinterpret_cast<const char *>(sQ) + panel * kWgRows * 128 + group * 64 * 128;
            const char *k_panel = reinterpret_cast<const char *>(tK) + panel * kPanelBytes;
            Wgmma<T, kWgKeys>::ss(s, smem_desc(q_panel + within, 16, 1024), smem_desc(k_panel + within, 16, 1024),
                                  kk > 0);
        }
        wgmma_commit();
        wgmma_wait<0>();

        const int key0 = tiles.start(t);
        if (key0 + kWgKeys > p.kv_len) {
#pragma unroll
            for (int n = 0; n < kWgKeys / 8; n++) {
                int key = key0 + n * 8 + (lane % 4) * 2;
                if (key >= p.kv_len) s[4 * n] = s[4 * n + 2] = -INFINITY;
                if (key + 1 >= p.kv_len) s[4 * n + 1] = s[4 * n + 3] = -INFINITY;
            }
        }

        /* Online softmax, as in the mma.sync kernel. */
        float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int n = 0; n < kWgKeys / 8; n++) {
            tile_max[0] = fmaxf(tile_max[0], fmaxf(s[4 * n], s[4 * n + 1]));
            tile_max[1] = fmaxf(tile_max[1], fmaxf(s[4 * n + 2], s[4 * n + 3]));
        }
        float scale_old[2];
#pragma unroll
        for (int i = 0; i < 2; i++) {
            tile_max[i] = fmaxf(tile_max[i], __shfl_xor_sync(0xffffffffu, tile_max[i], 1));
            tile_max[i] = fmaxf(tile_max[i], __shfl_xor_sync(0xffffffffu, tile_max[i], 2));
            float new_max = fmaxf(row_max[i], tile_max[i] * p.scale_log2);
            scale_old[i] = fast_exp2(row_max[i] - new_max);
            row_max[i] = new_max;
            row_sum[i] *= scale_old[i];
        }
#pragma unroll
        for (int n = 0; n < D / 8; n++) {
            o[4 * n] *= scale_old[0], o[4 * n + 1] *= scale_old[0];
            o[4 * n + 2] *= scale_old[1], o[4 * n + 3] *= scale_old[1];
        }
        uint32_t a[kKeySteps][4];
#pragma unroll
        for (int n = 0; n < kWgKeys / 8; n++) {
            float e0 = fast_exp2(s[4 * n] * p.scale_log2 - row_max[0]);
            float e1 = fast_exp2(s[4 * n + 1] * p.scale_log2 - row_max[0]);
            float e2 = fast_exp2(s[4 * n + 2] * p.scale_log2 - row_max[1]);
            float e3 = fast_exp2(s[4 * n + 3] * p.scale_log2 - row_max[1]);
            row_sum[0] += e0 + e1;
            row_sum[1] += e2 + e3;
            a[n / 2][(n % 2) * 2] = Mma<T>::pack(e0, e1);
            a[n / 2][(n % 2) * 2 + 1] = Mma<T>::pack(e2, e3);
        }

        /* O += P V: V is [key][dim], so B is MN-major. A k-step of 16 keys is
         * 16 rows of every panel; panels (64 dims each) are the leading stride. */
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < kKeySteps; kk++) {
            const char *v_rows = reinterpret_cast<const char *>(tV) + kk * 16 * 128;
            Wgmma<T, D>::rs(o, a[kk], smem_desc(v_rows, kPanelBytes, 1024), 1);
        }
        wgmma_commit();
        wgmma_wait<0>();
        __syncthreads(); /* the buffer is refilled by the next iteration's prefetch */
    }
    cp_async_wait<0>(); /* with no key tiles the Q copy may still be in flight */
    __syncthreads();

    /* Normalise; stage in sQ (its last readers finished before the final barrier). */
    const int r0 = group * 64 + (warp % 4) * 16 + lane / 4;
#pragma unroll
    for (int i = 0; i < 2; i++) {
        row_sum[i] += __shfl_xor_sync(0xffffffffu, row_sum[i], 1);
        row_sum[i] += __shfl_xor_sync(0xffffffffu, row_sum[i], 2);
        row_sum[i] = row_sum[i] > 0.f ? 1.f / row_sum[i] : 0.f;
    }
#pragma unroll
    for (int n = 0; n < D / 8; n++) {
        int col = n * 8 + (lane % 4) * 2;
        *reinterpret_cast<uint32_t *>(sQ + swizzled<D, kWgRows, true>(r0, col / 8) + col % 8) =
            Mma<T>::pack(o[4 * n] * row_sum[0], o[4 * n + 1] * row_sum[0]);
        *reinterpret_cast<uint32_t *>(sQ + swizzled<D, kWgRows, true>(r0 + 8, col / 8) + col % 8) =
            Mma<T>::pack(o[4 * n + 2] * row_sum[1], o[4 * n + 3] * row_sum[1]);
    }
    __syncthreads();
    char *o_base = p.o + (b * p.o_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    store_tile<T, D, kWgRows, kWgThreads, true>(sQ, o_base, q_block, token_major, p);
#else
    __trap(); /* launched only on sm_90 devices */
#endif
}

template <typename T, int D, int KEYS> vs_status launch_wgmma(const Params &p, int batch_heads, cudaStream_t stream) {
    const size_t smem = (size_t)(kWgRows + 4 * KEYS) * D * sizeof(T) + 1024; /* + alignment slack */
    auto kernel = flash_attention_wgmma_kernel<T, D, KEYS>;
    VS_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid((p.seq_len + kWgRows - 1) / kWgRows, batch_heads);
    kernel<<<grid, kWgThreads, smem, stream>>>(p);
    VS_CUDA_TRY(cudaGetLastError());
    return VS_OK;
}

/* The Hopper kernel where the device has wgmma (compute capability 9.0),
 * unless VS_ATTN_KERNEL=mma asks for the mma.sync kernel. */
int use_wgmma() {
    static const int choice = [] {
        const char *env = getenv("VS_ATTN_KERNEL");
        return vs_cuda_has_wgmma() && !(env && !strcmp(env, "mma"));
    }();
    return choice;
}

template <typename T, int D> vs_status launch_dim(const Params &p, int batch_heads, cudaStream_t stream) {
    if (use_wgmma()) return launch_wgmma<T, D, 64>(p, batch_heads, stream);
    return launch<T, D, 2>(p, batch_heads, stream);
}

} // namespace

extern "C" vs_status vs_cuda_flash_attention(const vs_attn_args *a, void *stream) {
    VS_TRY(vs_attn_args_validate(a));
    if (a->dtype != VS_BF16 && a->dtype != VS_F16)
        return vs_fail(VS_ERR_UNSUPPORTED, "CUDA attention takes BF16 or F16 tensors, not %s", vs_dtype_name(a->dtype));
    const int64_t strides[8] = {a->q_stride_b, a->q_stride_n, a->k_stride_b, a->k_stride_n,
                                a->v_stride_b, a->v_stride_n, a->o_stride_b, a->o_stride_n};
    for (int i = 0; i < 8; i++)
        if (strides[i] % 8 != 0)
            return vs_fail(VS_ERR_INVALID_ARG, "CUDA attention needs strides that are multiples of 8 elements (16 bytes)");
    const void *ptrs[4] = {a->q, a->k, a->v, a->out};
    for (int i = 0; i < 4; i++)
        if ((uintptr_t)ptrs[i] % 16 != 0)
            return vs_fail(VS_ERR_INVALID_ARG, "CUDA attention needs 16-byte aligned q, k, v and out");
    if (a->head_layout && (int64_t)a->frames * a->tokens_per_frame >= (1 << 22))
        return vs_fail(VS_ERR_UNSUPPORTED, "CUDA attention: token-major layout needs fewer than 2^22 video tokens");
    if ((int64_t)a->batch * a->heads > 65535)
        return vs_fail(VS_ERR_UNSUPPORTED, "CUDA attention: batch x heads = %lld exceeds 65535",
                       (long long)a->batch * a->heads);

    Params p;
    p.q = static_cast<const char *>(a->q);
    p.k = static_cast<const char *>(a->k);
    p.v = static_cast<const char *>(a->v);
    p.o = static_cast<char *>(a->out);
    p.heads = a->heads;
    p.seq_len = a->seq_len;
    p.kv_len = vs_attn_kv_len(a);
    p.frames = a->frames;
    p.tokens_per_frame = a->tokens_per_frame;
    p.inv_frames = a->frames > 0 ? 1.0f / (float)a->frames : 0.f;
    p.q_stride_b = a->q_stride_b, p.q_stride_n = a->q_stride_n;
    p.k_stride_b = a->k_stride_b, p.k_stride_n = a->k_stride_n;
    p.v_stride_b = a->v_stride_b, p.v_stride_n = a->v_stride_n;
    p.o_stride_b = a->o_stride_b, p.o_stride_n = a->o_stride_n;
    p.scale_log2 = a->scale * 1.4426950408889634f;
    p.row_ptr = a->blocks ? a->blocks->row_ptr : nullptr;
    p.col_idx = a->blocks ? a->blocks->col_idx : nullptr;
    p.head_layout = a->head_layout;

    cudaStream_t s = static_cast<cudaStream_t>(stream);
    const int bh = a->batch * a->heads;
    if (a->dtype == VS_BF16)
        return a->head_dim == 64 ? launch_dim<__nv_bfloat16, 64>(p, bh, s) : launch_dim<__nv_bfloat16, 128>(p, bh, s);
    return a->head_dim == 64 ? launch_dim<__half, 64>(p, bh, s) : launch_dim<__half, 128>(p, bh, s);
}
