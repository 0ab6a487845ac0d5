/* SVG online profiling on tensor cores: for each (batch entry, head), S
 * sampled query rows, their exact attention output and their outputs under
 * the spatial and temporal masks; the squared differences choose the head's
 * layout (same decision as vs_svg_profile_cpu, src/backend/cpu/svg_profile_cpu.h).
 *
 * The sampled rows of one head form a 64-row query tile, so the work is a
 * small flash attention with three softmax variants sharing one score tile:
 *   kernel 1 (profile_partials): one thread block per (key chunk, b*h, row
 *     group of 64). 8 warps: warp w owns rows 16*(w%4).. and head dims
 *     64*(w/4).., so each variant's output accumulator fits in registers.
 *     Each warp computes S = Q K^T for its 16 rows on tensor cores, masks it
 *     per variant (spatial: bit of the key's block in the row's spatial block
 *     list; temporal: bit of the block of the key's token-major position in
 *     the list of the row's token-major block), and accumulates P.V three
 *     times against the same V operands. All three variants share the exact
 *     variant's running max (a masked row's max can only be lower, so its
 *     probabilities stay <= 1 and its normaliser is rescaled identically).
 *     The chunk's (max, three sums, three outputs) go to the workspace.
 *   kernel 2 (combine_and_choose): one block per b*h merges the chunks of
 *     each row in order, forms the errors, sums them over rows in order, and
 *     picks the layout. Fixed reduction orders: the result is deterministic.
 * Splitting the keys into chunks (flash-decoding style) keeps every
 * multiprocessor busy although only S rows per head are computed. */

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

#include <algorithm>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/mma_utils.cuh"
#include "backend/cuda/svg_profile.h"

namespace {

using namespace vs_mma;

constexpr int kRowsPerGroup = 64; /* sampled rows per thread block */
constexpr int kBlockN = 64;       /* keys per shared-memory tile */
constexpr int kThreads = 256;
constexpr int kVariants = 3; /* exact, spatial, temporal */

struct Params {
    const char *q, *k, *v;
    int heads, seq_len, bitset_words, chunks, tiles_per_chunk;
    int64_t q_stride_b, q_stride_n, k_stride_b, k_stride_n, v_stride_b, v_stride_n;
    float scale_log2, inv_tokens_per_frame;
    const int32_t *row_ptr, *col_idx;
    vs_svg_config cfg;
    float *partials; /* [B*H][samples][chunks][4 + 3 D]: max, sums x3, outputs x3 */
};

/* Floats per (row, chunk) partial record. */
__host__ __device__ constexpr int partial_floats(int dim) { return 4 + kVariants * dim; }

/* Token-major position of stored row r (video tokens; text stays), with
 * the quotient r / P from a float reciprocal (exact below 2^22 tokens, see
 * flash_attention.cu). */
__device__ __forceinline__ int token_major_position(int r, int frames, int tokens_per_frame, float inv_p) {
    if (r >= frames * tokens_per_frame) return r;
    int f = (int)(((float)r + 0.5f) * inv_p);
    return (r - f * tokens_per_frame) * frames + f;
}

/* Thread blocks a multiprocessor holds: two at head size 64 (registers for both), one at 128. */
__host__ __device__ constexpr int blocks_per_sm(int dim) { return dim == 64 ? 2 : 1; }

template <typename T, int D>
__global__ void __launch_bounds__(kThreads, blocks_per_sm(D)) profile_partials(const Params p) {
    extern __shared__ __align__(128) unsigned char smem_raw[];
    T *sQ = reinterpret_cast<T *>(smem_raw);
    T *sK = sQ + kRowsPerGroup * D; /* two buffers each */
    T *sV = sK + 2 * kBlockN * D;
    uint32_t *mask_bits = reinterpret_cast<uint32_t *>(sV + 2 * kBlockN * D); /* [2][64 rows][words] */

    const int chunk = blockIdx.x, bh = blockIdx.y, group = blockIdx.z;
    const int b = bh / p.heads, h = bh % p.heads;
    const int model_bh = vs_svg_model_batch_head(&p.cfg, bh, p.heads); /* draws rows as the unsplit model */
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int row_tile = warp % 4, dim_half = warp / 4;
    const int frames = p.cfg.frames, tpf = p.cfg.tokens_per_frame;
    const int first_sample = group * kRowsPerGroup;
    const int rows_here = min(kRowsPerGroup, p.cfg.samples - first_sample);

    const char *q_base = p.q + (b * p.q_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    const char *k_base = p.k + (b * p.k_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);
    const char *v_base = p.v + (b * p.v_stride_b + (int64_t)h * D) * (int64_t)sizeof(T);

    /* Gather the sampled query rows (rows past the sample count: zeros). */
    constexpr int kChunks = D / 8;
    for (int i = threadIdx.x; i < kRowsPerGroup * kChunks; i += kThreads) {
        int row = i / kChunks, c = i % kChunks;
        int valid = row < rows_here;
        int r = valid ? vs_svg_sample_row(&p.cfg, p.seq_len, model_bh, first_sample + row) : 0;
        cp_async_16(sQ + tile_offset<D>(row, c), q_base + ((int64_t)r * p.q_stride_n + c * 8) * (int64_t)sizeof(T),
                    valid ? 16 : 0);
    }
    /* Block bitsets: which key blocks each row's spatial / temporal mask admits. */
    for (int i = threadIdx.x; i < 2 * kRowsPerGroup * p.bitset_words; i += kThreads) mask_bits[i] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < 2 * kRowsPerGroup; i += kThreads) {
        int variant = i / kRowsPerGroup, row = i % kRowsPerGroup;
        if (row >= rows_here) continue;
        int r = vs_svg_sample_row(&p.cfg, p.seq_len, model_bh, first_sample + row);
        int pos = variant == 0 ? r : (int)vs_svg_token_major_position(r, frames, tpf);
        int qb = pos / VS_ATTN_BLOCK;
        uint32_t *bits = mask_bits + (variant * kRowsPerGroup + row) * p.bitset_words;
        for (int e = p.row_ptr[qb]; e < p.row_ptr[qb + 1]; e++) {
            int kb = p.col_idx[e];
            bits[kb / 32] |= 1u << (kb % 32);
        }
    }

    const int first_tile = chunk * p.tiles_per_chunk;
    const int num_tiles = min(p.tiles_per_chunk, (p.seq_len + kBlockN - 1) / kBlockN - first_tile);
    auto load_kv = [&](int t, int buffer) {
        int start = (first_tile + t) * kBlockN;
        for (int i = threadIdx.x; i < kBlockN * kChunks; i += kThreads) {
            int row = i / kChunks, c = i % kChunks;
            int r = start + row, valid = r < p.seq_len, src = valid ? r : 0;
            cp_async_16(sK + buffer * kBlockN * D + tile_offset<D>(row, c),
                        k_base + ((int64_t)src * p.k_stride_n + c * 8) * (int64_t)sizeof(T), valid ? 16 : 0);
            cp_async_16(sV + buffer * kBlockN * D + tile_offset<D>(row, c),
                        v_base + ((int64_t)src * p.v_stride_n + c * 8) * (int64_t)sizeof(T), valid ? 16 : 0);
        }
    };
    if (num_tiles > 0) load_kv(0, 0);
    cp_async_commit();

    constexpr int kSteps = D / 16;
    constexpr int kKeyTiles = kBlockN / 8;
    constexpr int kDimTiles = D / 16; /* 8-dim tiles in this warp's half of the head dims */
    float o[kVariants][kDimTiles][4];
#pragma unroll
    for (int x = 0; x < kVariants; x++)
#pragma unroll
        for (int d = 0; d < kDimTiles; d++) o[x][d][0] = o[x][d][1] = o[x][d][2] = o[x][d][3] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY};
    float sums[kVariants][2] = {{0.f, 0.f}, {0.f, 0.f}, {0.f, 0.f}};
    const int local_row[2] = {row_tile * 16 + lane / 4, row_tile * 16 + lane / 4 + 8};
    /* Each row's bitsets in mask_bits, as word offsets (fewer registers than pointers). */
    int spatial_bits[2], temporal_bits[2];
#pragma unroll
    for (int i = 0; i < 2; i++) {
        spatial_bits[i] = local_row[i] * p.bitset_words;
        temporal_bits[i] = (kRowsPerGroup + local_row[i]) * p.bitset_words;
    }

    for (int t = 0; t < num_tiles; t++) {
        const int buffer = t & 1;
        prefetch_next_and_wait(t, num_tiles, load_kv);
        __syncthreads();
        const T *tK = sK + buffer * kBlockN * D, *tV = sV + buffer * kBlockN * D;
        const int key0 = (first_tile + t) * kBlockN;

        float s[kKeyTiles][4];
#pragma unroll
        for (int n = 0; n < kKeyTiles; n++) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < kSteps; kk++) {
            uint32_t qf[4];
            ldmatrix_x4(qf, sQ + tile_offset<D>(row_tile * 16 + lane % 16, kk * 2 + lane / 16));
#pragma unroll
            for (int n = 0; n < kKeyTiles; n += 2) {
                uint32_t kf[4];
                ldmatrix_x4(kf, tK + tile_offset<D>(n * 8 + (lane % 8) + (lane / 16) * 8, kk * 2 + (lane / 8) % 2));
                Mma<T>::run(s[n], qf, kf[0], kf[1]);
                Mma<T>::run(s[n + 1], qf, kf[2], kf[3]);
            }
        }

        /* Masks. The whole 64-key tile lies in one 128-key block, so the
         * spatial test is one bit per row; the temporal test is per key. */
        const int block = key0 / VS_ATTN_BLOCK;
        float spatial_ok[2];
#pragma unroll
        for (int i = 0; i < 2; i++) spatial_ok[i] = (mask_bits[spatial_bits[i] + block / 32] >> (block % 32)) & 1u ? 1.f : 0.f;
        float exact_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int n = 0; n < kKeyTiles; n++) {
            int key = key0 + n * 8 + (lane % 4) * 2;
            if (key >= p.seq_len) s[n][0] = s[n][2] = -INFINITY;
            if (key + 1 >= p.seq_len) s[n][1] = s[n][3] = -INFINITY;
            exact_max[0] = fmaxf(exact_max[0], fmaxf(s[n][0], s[n][1]));
            exact_max[1] = fmaxf(exact_max[1], fmaxf(s[n][2], s[n][3]));
        }
        float alpha[2], shift[2];
#pragma unroll
        for (int i = 0; i < 2; i++) {
            exact_max[i] = fmaxf(exact_max[i], __shfl_xor_sync(0xffffffffu, exact_max[i], 1));
            exact_max[i] = fmaxf(exact_max[i], __shfl_xor_sync(0xffffffffu, exact_max[i], 2));
            float new_max = fmaxf(row_max[i], exact_max[i] * p.scale_log2);
            alpha[i] = fast_exp2(row_max[i] - new_max);
            row_max[i] = shift[i] = new_max;
#pragma unroll
            for (int x = 0; x < kVariants; x++) sums[x][i] *= alpha[i];
        }
#pragma unroll
        for (int x = 0; x < kVariants; x++)
#pragma unroll
            for (int d = 0; d < kDimTiles; d++) {
                o[x][d][0] *= alpha[0], o[x][d][1] *= alpha[0];
                o[x][d][2] *= alpha[1], o[x][d][3] *= alpha[1];
            }

        /* The exact probabilities replace the scores in place; the temporal mask of each of this thread's 32
         * (row, key) entries is one bit of `temporal`, at entry 4 n + 2 i + j. */
        uint32_t temporal = 0;
#pragma unroll
        for (int n = 0; n < kKeyTiles; n++) {
            int key = key0 + n * 8 + (lane % 4) * 2;
#pragma unroll
            for (int j = 0; j < 2; j++) {
                int kb_t = token_major_position(min(key + j, p.seq_len - 1), frames, tpf, p.inv_tokens_per_frame) /
                           VS_ATTN_BLOCK;
#pragma unroll
                for (int i = 0; i < 2; i++) {
                    float e = fast_exp2(s[n][2 * i + j] * p.scale_log2 - shift[i]);
                    uint32_t ok = (mask_bits[temporal_bits[i] + kb_t / 32] >> (kb_t % 32)) & 1u;
                    s[n][2 * i + j] = e;
                    temporal |= ok << (4 * n + 2 * i + j);
                    sums[0][i] += e;
                    sums[1][i] += e * spatial_ok[i];
                    sums[2][i] += ok ? e : 0.f;
                }
            }
        }
        /* P.V per 16-key step: the three variants' A operands are packed from the exact probabilities as they
         * are used (12 registers, not 48 for whole tiles), against one load of the V operands. */
#pragma unroll
        for (int kk = 0; kk < kBlockN / 16; kk++) {
            uint32_t a[kVariants][4];
#pragma unroll
            for (int half = 0; half < 2; half++) { /* 8-key tile 2 kk + half: registers 2 half, 2 half + 1 */
                const int n = 2 * kk + half;
#pragma unroll
                for (int i = 0; i < 2; i++) {
                    const float e0 = s[n][2 * i], e1 = s[n][2 * i + 1];
                    const uint32_t t0 = (temporal >> (4 * n + 2 * i)) & 1u, t1 = (temporal >> (4 * n + 2 * i + 1)) & 1u;
                    a[0][2 * half + i] = Mma<T>::pack(e0, e1);
                    a[1][2 * half + i] = Mma<T>::pack(e0 * spatial_ok[i], e1 * spatial_ok[i]);
                    a[2][2 * half + i] = Mma<T>::pack(t0 ? e0 : 0.f, t1 ? e1 : 0.f);
                }
            }
#pragma unroll
            for (int d = 0; d < kDimTiles; d += 2) {
                uint32_t vf[4];
                int key = kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8;
                ldmatrix_x4_trans(vf, tV + tile_offset<D>(key, dim_half * kDimTiles + d + lane / 16));
#pragma unroll
                for (int x = 0; x < kVariants; x++) {
                    Mma<T>::run(o[x][d], a[x], vf[0], vf[1]);
                    Mma<T>::run(o[x][d + 1], a[x], vf[2], vf[3]);
                }
            }
        }
        __syncthreads();
    }

    /* Partial record of each row for this chunk. */
#pragma unroll
    for (int i = 0; i < 2; i++) {
#pragma unroll
        for (int x = 0; x < kVariants; x++) {
            sums[x][i] += __shfl_xor_sync(0xffffffffu, sums[x][i], 1);
            sums[x][i] += __shfl_xor_sync(0xffffffffu, sums[x][i], 2);
        }
        const int row = local_row[i];
        if (row >= rows_here) continue;
        float *rec = p.partials +
                     (((int64_t)bh * p.cfg.samples + first_sample + row) * p.chunks + chunk) * partial_floats(D);
        if (dim_half == 0 && lane % 4 == 0) {
            rec[0] = row_max[i];
            for (int x = 0; x < kVariants; x++) rec[1 + x] = sums[x][i];
        }
#pragma unroll
        for (int x = 0; x < kVariants; x++)
#pragma unroll
            for (int d = 0; d < kDimTiles; d++) {
                int col = dim_half * (D / 2) + d * 8 + (lane % 4) * 2;
                rec[4 + x * D + col] = o[x][d][2 * i];
                rec[4 + x * D + col + 1] = o[x][d][2 * i + 1];
            }
    }
}

/* One block per b*h, a warp per sampled row (at most 32 warps, which then take rows in turn): only B*H
 * blocks run, so each spreads its rows wide. A warp merges its row's chunks and forms the squared errors
 * (lanes own head dimensions; warp sums in a fixed butterfly order); one thread then sums the rows in
 * order and chooses. */
template <int D>
__global__ void combine_and_choose(const float *partials, int samples, int chunks,
                                   vs_cuda_svg_profile_out out) {
    extern __shared__ float row_err[]; /* [samples][2] */
    constexpr int kDimsPerLane = D / 32;
    const int bh = blockIdx.x, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int r = warp; r < samples; r += blockDim.x / 32) {
        const float *rec = partials + ((int64_t)bh * samples + r) * chunks * partial_floats(D);
        float m = -INFINITY;
        for (int c = 0; c < chunks; c++) m = fmaxf(m, rec[c * partial_floats(D)]);
        float l[kVariants] = {0.f, 0.f, 0.f}, out[kVariants][kDimsPerLane] = {};
        for (int c = 0; c < chunks; c++) {
            const float *pc = rec + c * partial_floats(D);
            const float w = exp2f(pc[0] - m);
#pragma unroll
            for (int x = 0; x < kVariants; x++) {
                l[x] += w * pc[1 + x];
#pragma unroll
                for (int j = 0; j < kDimsPerLane; j++) out[x][j] += w * pc[4 + x * D + lane + 32 * j];
            }
        }
        float err_s = 0.f, err_t = 0.f;
#pragma unroll
        for (int j = 0; j < kDimsPerLane; j++) {
            float e = l[0] > 0.f ? out[0][j] / l[0] : 0.f;
            float sp = l[1] > 0.f ? out[1][j] / l[1] : 0.f; /* an empty mask gives zeros */
            float tm = l[2] > 0.f ? out[2][j] / l[2] : 0.f;
            err_s += (sp - e) * (sp - e);
            err_t += (tm - e) * (tm - e);
        }
        for (int o = 16; o > 0; o /= 2) {
            err_s += __shfl_xor_sync(0xffffffffu, err_s, o);
            err_t += __shfl_xor_sync(0xffffffffu, err_t, o);
        }
        if (lane == 0) row_err[2 * r] = err_s, row_err[2 * r + 1] = err_t;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double total_s = 0, total_t = 0;
        for (int r = 0; r < samples; r++) total_s += row_err[2 * r], total_t += row_err[2 * r + 1];
        const double mse_s = total_s / ((double)samples * D), mse_t = total_t / ((double)samples * D);
        const int temporal = mse_t < mse_s;
        out.head_layout[bh] = temporal ? VS_LAYOUT_TOKEN_MAJOR : VS_LAYOUT_FRAME_MAJOR;
        if (temporal && out.temporal_count) atomicAdd(out.temporal_count, 1ull);
        if (out.mse_spatial) out.mse_spatial[bh] = (float)mse_s;
        if (out.mse_temporal) out.mse_temporal[bh] = (float)mse_t;
    }
}

/* Key chunks per (b*h, row group). The multiprocessors hold blocks_per_sm blocks each (launch bounds), so
 * the time goes as the waves, ceil(units * chunks / slots), times each block's share of the keys, 1 / chunks:
 * the fewest chunks within 2% of the best such cost (each chunk keeps at least 8 key tiles). 40 heads on 132
 * SMs at one block each: 13 chunks, 4 full waves, where filling "two waves" took 7 chunks and 3 waves of
 * which one was 12% full. */
int chunk_count(int batch_heads, int samples, int seq_len, int head_dim) {
    static int sms = 0;
    if (!sms) {
        int dev = 0;
        if (cudaGetDevice(&dev) != cudaSuccess ||
            cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
            sms = 132;
        cudaGetLastError();
    }
    const int slots = sms * blocks_per_sm(head_dim);
    const int groups = (samples + kRowsPerGroup - 1) / kRowsPerGroup;
    const int tiles = (seq_len + kBlockN - 1) / kBlockN;
    const int64_t units = (int64_t)batch_heads * groups;
    const int most = tiles / 8 > 1 ? tiles / 8 : 1;
    auto cost = [&](int c) { return (double)((units * c + slots - 1) / slots) / c; };
    double best = 1e300;
    for (int c = 1; c <= most; c++)
        if (cost(c) < best) best = cost(c);
    for (int c = 1; c <= most; c++)
        if (cost(c) <= best * 1.02) return c;
    return 1;
}

template <typename T, int D>
vs_status launch(Params p, int batch_heads, cudaStream_t stream, const vs_cuda_svg_profile_out &out) {
    const size_t smem = (size_t)(kRowsPerGroup + 4 * kBlockN) * D * sizeof(T) +
                        sizeof(uint32_t) * 2 * kRowsPerGroup * p.bitset_words;
    auto kernel = profile_partials<T, D>;
    VS_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    const int tiles = (p.seq_len + kBlockN - 1) / kBlockN;
    p.tiles_per_chunk = (tiles + p.chunks - 1) / p.chunks;
    p.chunks = (tiles + p.tiles_per_chunk - 1) / p.tiles_per_chunk; /* no empty chunk */
    dim3 grid(p.chunks, batch_heads, (p.cfg.samples + kRowsPerGroup - 1) / kRowsPerGroup);
    kernel<<<grid, kThreads, smem, stream>>>(p);
    VS_CUDA_TRY(cudaGetLastError());
    const int combine_threads = 32 * std::min(p.cfg.samples, 32);
    combine_and_choose<D><<<batch_heads, combine_threads, sizeof(float) * 2 * p.cfg.samples, stream>>>(
        p.partials, p.cfg.samples, p.chunks, out);
    VS_CUDA_TRY(cudaGetLastError());
    return VS_OK;
}

} // namespace

extern "C" size_t vs_cuda_svg_profile_workspace(const vs_attn_args *a, const vs_svg_config *cfg) {
    const int bh = a->batch * a->heads;
    return sizeof(float) * (size_t)bh * cfg->samples * chunk_count(bh, cfg->samples, a->seq_len, a->head_dim) *
           partial_floats(a->head_dim);
}

extern "C" vs_status vs_cuda_svg_profile(const vs_attn_args *a, const vs_svg_config *cfg,
                                         const vs_attn_blocks *blocks_device,
                                         const vs_cuda_svg_profile_out *out, void *workspace,
                                         size_t workspace_bytes, void *stream) {
    if (!a || !blocks_device || !out || !out->head_layout || !workspace)
        return vs_fail(
            VS_ERR_INVALID_ARG,
            "svg profile (CUDA): arguments, block list, out->head_layout and workspace are required");
    /* Only the dense fields matter; out is unused but validation wants one. */
    vs_attn_args dense = *a;
    dense.out = a->out ? a->out : const_cast<void *>(a->q);
    dense.blocks = nullptr;
    dense.head_layout = nullptr;
    VS_TRY(vs_attn_args_validate(&dense));
    VS_TRY(vs_svg_config_validate(cfg, a->seq_len));
    if (a->dtype != VS_BF16 && a->dtype != VS_F16)
        return vs_fail(VS_ERR_UNSUPPORTED, "svg profile (CUDA) takes BF16 or F16 tensors, not %s",
                       vs_dtype_name(a->dtype));
    const int nb = (a->seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    if (blocks_device->num_q_blocks != nb || blocks_device->num_k_blocks != nb || !blocks_device->row_ptr ||
        !blocks_device->col_idx)
        return vs_fail(VS_ERR_SHAPE,
                       "svg profile (CUDA): block list is for %d x %d blocks, sequence %d needs %d",
                       blocks_device->num_q_blocks, blocks_device->num_k_blocks, a->seq_len, nb);
    const int64_t strides[6] = {a->q_stride_b, a->q_stride_n, a->k_stride_b,
                                a->k_stride_n, a->v_stride_b, a->v_stride_n};
    for (int i = 0; i < 6; i++)
        if (strides[i] % 8 != 0)
            return vs_fail(VS_ERR_INVALID_ARG,
                           "svg profile (CUDA) needs strides that are multiples of 8 elements");
    const void *ptrs[3] = {a->q, a->k, a->v};
    for (int i = 0; i < 3; i++)
        if ((uintptr_t)ptrs[i] % 16 != 0)
            return vs_fail(VS_ERR_INVALID_ARG, "svg profile (CUDA) needs 16-byte aligned q, k and v");
    if ((int64_t)cfg->frames * cfg->tokens_per_frame >= (1 << 22))
        return vs_fail(VS_ERR_UNSUPPORTED, "svg profile (CUDA) needs fewer than 2^22 video tokens");
    if ((int64_t)a->batch * a->heads > 65535)
        return vs_fail(VS_ERR_UNSUPPORTED, "svg profile (CUDA): batch x heads = %lld exceeds 65535",
                       (long long)a->batch * a->heads);
    const size_t need = vs_cuda_svg_profile_workspace(a, cfg);
    if (workspace_bytes < need)
        return vs_fail(VS_ERR_INVALID_ARG, "svg profile (CUDA): workspace of %zu bytes, %zu needed",
                       workspace_bytes, need);

    const int bh = a->batch * a->heads;
    Params p;
    p.q = static_cast<const char *>(a->q);
    p.k = static_cast<const char *>(a->k);
    p.v = static_cast<const char *>(a->v);
    p.heads = a->heads;
    p.seq_len = a->seq_len;
    p.bitset_words = (nb + 31) / 32;
    p.q_stride_b = a->q_stride_b, p.q_stride_n = a->q_stride_n;
    p.k_stride_b = a->k_stride_b, p.k_stride_n = a->k_stride_n;
    p.v_stride_b = a->v_stride_b, p.v_stride_n = a->v_stride_n;
    p.scale_log2 = a->scale * 1.4426950408889634f;
    p.inv_tokens_per_frame = 1.0f / (float)cfg->tokens_per_frame;
    p.chunks = chunk_count(bh, cfg->samples, a->seq_len, a->head_dim);
    p.row_ptr = blocks_device->row_ptr;
    p.col_idx = blocks_device->col_idx;
    p.cfg = *cfg;
    p.partials = static_cast<float *>(workspace);

    cudaStream_t s = static_cast<cudaStream_t>(stream);
    if (a->dtype == VS_BF16)
        return a->head_dim == 64 ? launch<__nv_bfloat16, 64>(p, bh, s, *out)
                                 : launch<__nv_bfloat16, 128>(p, bh, s, *out);
    return a->head_dim == 64 ? launch<__half, 64>(p, bh, s, *out) : launch<__half, 128>(p, bh, s, *out);
}
