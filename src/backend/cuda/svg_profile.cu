/* SVG online profiling: for each (batch entry, head) and sampled query row,
 * the exact, spatial-masked and temporal-masked attention outputs, and from
 * their squared differences the head's layout (see src/sparse/profile.h).
 *
 * Kernel 1 (profile_rows): one thread block handles kRows sampled rows of one
 * (b, h) and streams all keys in 128-key chunks (one SVG key block each):
 *   A. each thread scores one key against kRows / 2 of the rows (q rows sit
 *      in shared memory, the key row is read once per block) and writes the
 *      score three times, with the spatial and temporal masks applied (-inf);
 *   B. warp g updates row g's online-softmax state (max, sum) for the three
 *      variants and turns the chunk's scores into probabilities;
 *   C. each thread owns one head dimension of several rows and accumulates
 *      P.V for the three variants in registers.
 * So every score is computed once and reused by all three softmaxes. The
 * masks are bitsets over key blocks: the row's own query block (spatial) and
 * the query block of its token-major position (temporal); a key is tested at
 * its own token-major position for the temporal variant.
 * Each row's two squared errors (summed over head dims in a fixed order) go
 * to the workspace; kernel 2 (choose_layouts) sums them over rows in order,
 * so the result does not depend on scheduling. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/svg_profile.h"

namespace {

constexpr int kRows = 8; /* sampled rows per thread block: one per warp in phase B */
constexpr int kThreads = 256;
constexpr int kChunk = VS_ATTN_BLOCK; /* keys per chunk: one key block, so the spatial mask is per chunk */
constexpr int kVariants = 3;          /* exact, spatial, temporal */

static_assert(kThreads / 32 == kRows, "phase B gives each warp one row");
static_assert(kThreads % kChunk == 0 && kRows % (kThreads / kChunk) == 0, "phase A: whole rows per thread");

struct Params {
    const char *q, *k, *v;
    int heads, seq_len, bitset_words;
    int64_t q_stride_b, q_stride_n, k_stride_b, k_stride_n, v_stride_b, v_stride_n;
    float scale;
    const int32_t *row_ptr, *col_idx;
    vs_svg_config cfg;
    float *row_err; /* [B*H][samples][2]: spatial, temporal */
};

__device__ __forceinline__ float to_f32(__nv_bfloat16 x) {
    return __bfloat162float(x);
}
__device__ __forceinline__ float to_f32(__half x) {
    return __half2float(x);
}

__device__ __forceinline__ float warp_max(float x) {
    for (int o = 16; o > 0; o /= 2)
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}
/* Butterfly: every lane ends with the same, order-fixed sum. */
__device__ __forceinline__ float warp_sum(float x) {
    for (int o = 16; o > 0; o /= 2)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

__device__ __forceinline__ int has_bit(const uint32_t *bits, int i) {
    return (bits[i / 32] >> (i % 32)) & 1u;
}

template <typename T, int D> __global__ void __launch_bounds__(kThreads) profile_rows(const Params p) {
    constexpr int kDimGroups = kThreads / D; /* phase C: threads per head dim */
    constexpr int kRowsPerThread = kRows / kDimGroups;
    constexpr int kScoreGroups = kThreads / kChunk; /* phase A: threads per key */
    constexpr int kScoreRows = kRows / kScoreGroups;

    extern __shared__ __align__(16) unsigned char smem_raw[];
    float *s_q = reinterpret_cast<float *>(smem_raw);  /* [kRows][D] */
    float *s_p = s_q + kRows * D;                      /* [kVariants][kRows][kChunk] */
    float *s_alpha = s_p + kVariants * kRows * kChunk; /* [kVariants][kRows] */
    float *s_sum = s_alpha + kVariants * kRows;        /* [kVariants][kRows] */
    uint32_t *s_bits = reinterpret_cast<uint32_t *>(s_sum + kVariants * kRows); /* [2][kRows][words] */

    const int bh = blockIdx.y, b = bh / p.heads, h = bh % p.heads;
    const int first = blockIdx.x * kRows;
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int F = p.cfg.frames, P = p.cfg.tokens_per_frame, S = p.cfg.samples;
    const int words = p.bitset_words;

    /* Rows past S (last block) repeat row S-1 and are not written. */
    int rows[kRows];
    for (int g = 0; g < kRows; g++)
        rows[g] = vs_svg_sample_row(&p.cfg, p.seq_len, bh, min(first + g, S - 1));

    const T *k_base = reinterpret_cast<const T *>(p.k) + b * p.k_stride_b + (int64_t)h * D;
    const T *v_base = reinterpret_cast<const T *>(p.v) + b * p.v_stride_b + (int64_t)h * D;
    for (int i = tid; i < kRows * D; i += kThreads) {
        int g = i / D, d = i % D;
        const T *q =
            reinterpret_cast<const T *>(p.q) + b * p.q_stride_b + rows[g] * p.q_stride_n + (int64_t)h * D;
        s_q[i] = to_f32(q[d]);
    }
    for (int i = tid; i < 2 * kRows * words; i += kThreads)
        s_bits[i] = 0;
    __syncthreads();
    /* Key-block bitsets: [0][g] spatial (frame-major query block), [1][g] temporal. */
    for (int list = warp; list < 2 * kRows; list += kThreads / 32) {
        int g = list % kRows, temporal = list / kRows;
        int64_t pos = temporal ? vs_svg_token_major_position(rows[g], F, P) : rows[g];
        int qb = (int)(pos / VS_ATTN_BLOCK);
        uint32_t *bits = s_bits + (temporal * kRows + g) * words;
        for (int e = p.row_ptr[qb] + lane; e < p.row_ptr[qb + 1]; e += 32) {
            int kb = p.col_idx[e];
            /* Bits commute, so the result is deterministic; an out-of-range block is ignored
             * rather than written past the bitset (device lists are not validated). */
            if (kb >= 0 && kb < words * 32) atomicOr(&bits[kb / 32], 1u << (kb % 32));
        }
    }
    __syncthreads();

    float run_max[kVariants], run_sum[kVariants]; /* row `warp`'s softmax state, same in every lane */
    for (int x = 0; x < kVariants; x++)
        run_max[x] = -INFINITY, run_sum[x] = 0;
    float acc[kVariants][kRowsPerThread];
    for (int x = 0; x < kVariants; x++)
        for (int u = 0; u < kRowsPerThread; u++)
            acc[x][u] = 0;
    const int dim = tid % D, dim_group = tid / D;

    const int chunks = (p.seq_len + kChunk - 1) / kChunk;
    for (int c = 0; c < chunks; c++) {
        /* A: scores of key j against this thread's rows, masked three ways. */
        {
            const int jj = tid % kChunk, score_group = tid / kChunk;
            const int j = c * kChunk + jj;
            float dot[kScoreRows];
            for (int u = 0; u < kScoreRows; u++)
                dot[u] = 0;
            if (j < p.seq_len) {
                const T *krow = k_base + j * p.k_stride_n;
                for (int d0 = 0; d0 < D; d0 += 8) {
                    uint4 raw = *reinterpret_cast<const uint4 *>(krow + d0);
                    const T *kv = reinterpret_cast<const T *>(&raw);
                    float kf[8];
                    for (int e = 0; e < 8; e++)
                        kf[e] = to_f32(kv[e]);
                    for (int u = 0; u < kScoreRows; u++) {
                        const float *q = s_q + (score_group + u * kScoreGroups) * D + d0;
                        for (int e = 0; e < 8; e++)
                            dot[u] += q[e] * kf[e];
                    }
                }
            }
            const int key_block_t = (int)(vs_svg_token_major_position(j, F, P) / VS_ATTN_BLOCK);
            for (int u = 0; u < kScoreRows; u++) {
                const int g = score_group + u * kScoreGroups;
                const float s = j < p.seq_len ? dot[u] * p.scale : -INFINITY;
                const int spatial = j < p.seq_len && has_bit(s_bits + g * words, c);
                const int temporal = j < p.seq_len && has_bit(s_bits + (kRows + g) * words, key_block_t);
                s_p[(0 * kRows + g) * kChunk + jj] = s;
                s_p[(1 * kRows + g) * kChunk + jj] = spatial ? s : -INFINITY;
                s_p[(2 * kRows + g) * kChunk + jj] = temporal ? s : -INFINITY;
            }
        }
        __syncthreads();
        /* B: warp g rescales row g's softmax state and turns scores into probabilities. */
        {
            const int g = warp;
            for (int x = 0; x < kVariants; x++) {
                float *row = s_p + (x * kRows + g) * kChunk;
                float chunk_max = -INFINITY;
                for (int jj = lane; jj < kChunk; jj += 32)
                    chunk_max = fmaxf(chunk_max, row[jj]);
                const float new_max = fmaxf(run_max[x], warp_max(chunk_max));
                /* A variant with no key yet keeps max -inf: nothing to rescale, probabilities 0. */
                const int none = new_max == -INFINITY;
                const float alpha = none ? 1.0f : expf(run_max[x] - new_max);
                float part = 0;
                for (int jj = lane; jj < kChunk; jj += 32) {
                    const float pr = none ? 0.0f : expf(row[jj] - new_max);
                    row[jj] = pr;
                    part += pr;
                }
                run_sum[x] = run_sum[x] * alpha + warp_sum(part);
                run_max[x] = new_max;
                if (lane == 0) s_alpha[x * kRows + g] = alpha;
            }
        }
        __syncthreads();
        /* C: P.V for the three variants, one head dim per thread. */
        {
            const int keys = min(kChunk, p.seq_len - c * kChunk);
            for (int x = 0; x < kVariants; x++)
                for (int u = 0; u < kRowsPerThread; u++)
                    acc[x][u] *= s_alpha[x * kRows + dim_group + u * kDimGroups];
            const T *vcol = v_base + (int64_t)c * kChunk * p.v_stride_n + dim;
            /* Four keys at a time: one 16-byte shared load per row and variant. Probabilities
             * past the sequence are 0, so their values may be anything finite (0 here). */
            for (int jj = 0; jj < keys; jj += 4) {
                float val[4];
                for (int e = 0; e < 4; e++)
                    val[e] = jj + e < keys ? to_f32(vcol[(int64_t)(jj + e) * p.v_stride_n]) : 0.0f;
                for (int x = 0; x < kVariants; x++)
                    for (int u = 0; u < kRowsPerThread; u++) {
                        const float4 pr = *reinterpret_cast<const float4 *>(
                            s_p + (x * kRows + dim_group + u * kDimGroups) * kChunk + jj);
                        acc[x][u] += pr.x * val[0] + pr.y * val[1] + pr.z * val[2] + pr.w * val[3];
                    }
            }
        }
        __syncthreads();
    }

    /* Outputs and squared errors; the score buffer becomes [2][kRows][D] of errors. */
    if (lane == 0)
        for (int x = 0; x < kVariants; x++)
            s_sum[x * kRows + warp] = run_sum[x];
    __syncthreads();
    float *s_err = s_p;
    for (int u = 0; u < kRowsPerThread; u++) {
        const int g = dim_group + u * kDimGroups;
        float o[kVariants];
        for (int x = 0; x < kVariants; x++) {
            const float sum = s_sum[x * kRows + g];
            o[x] = sum > 0 ? acc[x][u] / sum : 0.0f; /* no allowed key: zero output */
        }
        s_err[(0 * kRows + g) * D + dim] = (o[1] - o[0]) * (o[1] - o[0]);
        s_err[(1 * kRows + g) * D + dim] = (o[2] - o[0]) * (o[2] - o[0]);
    }
    __syncthreads();
    {
        const int g = warp;
        for (int x = 0; x < 2; x++) {
            float part = 0;
            for (int d = lane; d < D; d += 32)
                part += s_err[(x * kRows + g) * D + d];
            const float total = warp_sum(part);
            if (lane == 0 && first + g < S) p.row_err[((int64_t)bh * S + first + g) * 2 + x] = total;
        }
    }
}

/* One thread per (b, h): sums the rows' errors in order and decides. */
__global__ void choose_layouts(const float *row_err, int batch_heads, int samples, int dim, uint8_t *layout,
                               float *mse_spatial, float *mse_temporal) {
    const int bh = blockIdx.x * blockDim.x + threadIdx.x;
    if (bh >= batch_heads) return;
    double err_s = 0, err_t = 0;
    for (int i = 0; i < samples; i++) {
        err_s += row_err[((int64_t)bh * samples + i) * 2 + 0];
        err_t += row_err[((int64_t)bh * samples + i) * 2 + 1];
    }
    const double mse_s = err_s / ((double)samples * dim), mse_t = err_t / ((double)samples * dim);
    layout[bh] = mse_t < mse_s ? VS_LAYOUT_TOKEN_MAJOR : VS_LAYOUT_FRAME_MAJOR;
    if (mse_spatial) mse_spatial[bh] = (float)mse_s;
    if (mse_temporal) mse_temporal[bh] = (float)mse_t;
}

template <typename T, int D> vs_status launch(const Params &p, int batch_heads, cudaStream_t stream) {
    const size_t smem =
        sizeof(float) * ((size_t)kRows * D + kVariants * kRows * kChunk + 2 * kVariants * kRows) +
        sizeof(uint32_t) * 2 * kRows * (size_t)p.bitset_words;
    static_assert(2 * kRows * D <= kVariants * kRows * kChunk, "errors fit in the score buffer");
    if (smem > 48 * 1024)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "svg profile (CUDA): a sequence of %d tokens needs %zu bytes of shared memory",
                       p.seq_len, smem);
    dim3 grid((p.cfg.samples + kRows - 1) / kRows, batch_heads);
    profile_rows<T, D><<<grid, kThreads, smem, stream>>>(p);
    VS_CUDA_TRY(cudaGetLastError());
    return VS_OK;
}

} // namespace

extern "C" size_t vs_cuda_svg_profile_workspace(const vs_attn_args *a, const vs_svg_config *cfg) {
    return sizeof(float) * 2 * (size_t)a->batch * a->heads * (size_t)cfg->samples;
}

extern "C" vs_status vs_cuda_svg_profile(const vs_attn_args *a, const vs_svg_config *cfg,
                                         const vs_attn_blocks *blocks_device, uint8_t *head_layout_out_device,
                                         float *mse_spatial_device, float *mse_temporal_device,
                                         void *workspace, size_t workspace_bytes, void *stream) {
    if (!a || !blocks_device || !head_layout_out_device || !workspace)
        return vs_fail(
            VS_ERR_INVALID_ARG,
            "svg profile (CUDA): arguments, block list, head_layout_out and workspace are required");
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
    if ((int64_t)a->batch * a->heads > 65535)
        return vs_fail(VS_ERR_UNSUPPORTED, "svg profile (CUDA): batch x heads = %lld exceeds 65535",
                       (long long)a->batch * a->heads);
    const size_t need = vs_cuda_svg_profile_workspace(a, cfg);
    if (workspace_bytes < need)
        return vs_fail(VS_ERR_INVALID_ARG, "svg profile (CUDA): workspace of %zu bytes, %zu needed",
                       workspace_bytes, need);

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
    p.scale = a->scale;
    p.row_ptr = blocks_device->row_ptr;
    p.col_idx = blocks_device->col_idx;
    p.cfg = *cfg;
    p.row_err = static_cast<float *>(workspace);

    cudaStream_t s = static_cast<cudaStream_t>(stream);
    const int bh = a->batch * a->heads;
    vs_status st;
    if (a->dtype == VS_BF16)
        st = a->head_dim == 64 ? launch<__nv_bfloat16, 64>(p, bh, s) : launch<__nv_bfloat16, 128>(p, bh, s);
    else
        st = a->head_dim == 64 ? launch<__half, 64>(p, bh, s) : launch<__half, 128>(p, bh, s);
    VS_TRY(st);
    choose_layouts<<<(bh + 127) / 128, 128, 0, s>>>(p.row_err, bh, cfg->samples, a->head_dim,
                                                    head_layout_out_device, mse_spatial_device,
                                                    mse_temporal_device);
    VS_CUDA_TRY(cudaGetLastError());
    return VS_OK;
}
