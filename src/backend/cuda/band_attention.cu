/* SVG's band rows on cuDNN's fused attention: the plan of band_attention.h.
 *
 * Per batch entry b, with X' the head-wise token-major copy of X (the stored
 * tensor itself when no head is temporal) and rows [r0, r1) = the band's
 * query blocks:
 *   band:  O_b[e] = attention(Q'[block first+e], K', V'[blocks first+e-half ..
 *          first+e+half])                    e = 0 .. count-1, one cuDNN batch
 *   sink:  O_s    = attention(Q'[r0, r1), K', V'[0, sink * 128))
 *   merge: O = (O_b e^{L_b} + O_s e^{L_s}) / (e^{L_b} + e^{L_s}),
 *          written to the stored row of each position.
 * The other rows run on our kernel with their part of the list. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdlib.h>

#include "backend/cuda/attention_cuda.h"
#include "backend/cuda/band_attention.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cudnn_attention.h"
#include "backend/cuda/stored_row.cuh"
#include "core/devmem.h"

struct vs_cuda_band {
    vs_svg_band rows;
    int seq_len, heads, head_dim;
    vs_attn_blocks rest; /* device CSR: the list with the band rows emptied */
    /* Scratch of one batch entry: q', k', v' [seq_len, H, D]; the band and sink outputs [count * 128, H, D];
     * their log-sum-exps f32 [count, H, 128] and [H, count * 128]. */
    void *qkv[3], *out_band, *out_sink;
    float *lse_band, *lse_sink;
};

namespace {

constexpr int kThreads = 256;
constexpr int kChunk = 8;        /* elements of a 16-bit type in one 16-byte access */
constexpr int kRowsPerBlock = 4; /* token rows a thread block copies (each heads x D/8 chunks) */

int grid_for(int rows) {
    return (rows + kRowsPerBlock - 1) / kRowsPerBlock;
}

struct GatherArgs {
    const char *src[3];
    int64_t stride_n[3]; /* elements */
    char *dst[3];
};

/* dst_t[n, h, :] = src_t[stored row of n for head h, h, :] for t = q, k, v (blockIdx.y). Consecutive
 * threads take consecutive 16-byte chunks of a token row, so whole head rows move per warp; the index
 * arithmetic is 32-bit and the row map division-free (stored_row.cuh). */
__global__ void gather_token_major(GatherArgs g, const uint8_t *layout, int n_tokens, int heads, int head_dim,
                                   int frames, float inv_frames, int tokens_per_frame) {
    const int t = blockIdx.y, chunks = head_dim / kChunk, per_row = heads * chunks;
    const int n0 = blockIdx.x * kRowsPerBlock;
    for (int j = threadIdx.x; j < kRowsPerBlock * per_row; j += blockDim.x) {
        const int n = n0 + j / per_row, in_row = j % per_row, h = in_row / chunks, c = in_row % chunks;
        if (n >= n_tokens) break;
        const int row =
            stored_row(n, layout[h] == VS_LAYOUT_TOKEN_MAJOR, frames, inv_frames, tokens_per_frame);
        const uint4 *src = reinterpret_cast<const uint4 *>(
            g.src[t] + 2 * ((int64_t)row * g.stride_n[t] + h * head_dim + c * kChunk));
        uint4 *dst = reinterpret_cast<uint4 *>(g.dst[t] + 2 * ((int64_t)n * per_row + in_row) * kChunk);
        *dst = *src;
    }
}

struct MergeArgs {
    const char *out_band, *out_sink;  /* [rows, H, D] */
    const float *lse_band, *lse_sink; /* [count, H, 128], [H, rows] */
    char *out;                        /* this batch entry's output, token stride o_stride_n */
    int64_t o_stride_n;
    const uint8_t *layout; /* this batch entry's heads; NULL: frame-major */
    int first_row, rows, heads, head_dim, frames, tokens_per_frame;
    float inv_frames;
};

template <typename T> __device__ __forceinline__ float to_f32(T x);
template <> __device__ __forceinline__ float to_f32(__nv_bfloat16 x) {
    return __bfloat162float(x);
}
template <> __device__ __forceinline__ float to_f32(__half x) {
    return __half2float(x);
}
template <typename T> __device__ __forceinline__ T from_f32(float x);
template <> __device__ __forceinline__ __nv_bfloat16 from_f32(float x) {
    return __float2bfloat16(x);
}
template <> __device__ __forceinline__ __half from_f32(float x) {
    return __float2half(x);
}

/* Both partial softmaxes are normalised by their own sums e^{L}; weighting each by its share of the
 * total e^{L_b} + e^{L_s} (computed against the larger L, so nothing overflows) gives the softmax over
 * the union of the key sets. Threads walk the rows as the gather does. */
template <typename T> __global__ void merge_band_and_sink(MergeArgs m) {
    const int chunks = m.head_dim / kChunk, per_row = m.heads * chunks;
    const int r0 = blockIdx.x * kRowsPerBlock;
    for (int j = threadIdx.x; j < kRowsPerBlock * per_row; j += blockDim.x) {
        const int r = r0 + j / per_row, in_row = j % per_row, h = in_row / chunks, c = in_row % chunks;
        if (r >= m.rows) break;
        const float lb = m.lse_band[((r / VS_ATTN_BLOCK) * m.heads + h) * VS_ATTN_BLOCK + r % VS_ATTN_BLOCK];
        const float ls = m.lse_sink[h * m.rows + r];
        const float top = fmaxf(lb, ls), wb = __expf(lb - top), ws = __expf(ls - top), inv = 1.f / (wb + ws);
        const int64_t at = ((int64_t)r * per_row + in_row) * kChunk;
        const uint4 band = *reinterpret_cast<const uint4 *>(m.out_band + 2 * at);
        const uint4 sink = *reinterpret_cast<const uint4 *>(m.out_sink + 2 * at);
        const T *xb = reinterpret_cast<const T *>(&band), *xs = reinterpret_cast<const T *>(&sink);
        uint4 merged;
        T *y = reinterpret_cast<T *>(&merged);
#pragma unroll
        for (int e = 0; e < kChunk; e++)
            y[e] = from_f32<T>((wb * to_f32(xb[e]) + ws * to_f32(xs[e])) * inv);
        const int token_major = m.layout && m.layout[h] == VS_LAYOUT_TOKEN_MAJOR;
        const int row = stored_row(m.first_row + r, token_major, m.frames, m.inv_frames, m.tokens_per_frame);
        *reinterpret_cast<uint4 *>(m.out + 2 * ((int64_t)row * m.o_stride_n + h * m.head_dim + c * kChunk)) =
            merged;
    }
}

/* args with its tensors moved to batch entry b: one entry of batch, strides as given. */
vs_attn_args entry(const vs_attn_args *a, int b) {
    vs_attn_args e = *a;
    e.q = static_cast<const char *>(a->q) + 2 * b * a->q_stride_b;
    e.k = static_cast<const char *>(a->k) + 2 * b * a->k_stride_b;
    e.v = static_cast<const char *>(a->v) + 2 * b * a->v_stride_b;
    e.out = static_cast<char *>(a->out) + 2 * b * a->o_stride_b;
    e.batch = 1;
    e.blocks = nullptr;
    e.head_layout = a->head_layout ? a->head_layout + (int64_t)b * a->heads : nullptr;
    return e;
}

/* The band and the sink of one batch entry `e` (already gathered when it has layouts) into the scratch. */
vs_status band_and_sink(const vs_cuda_band *band, const vs_attn_args *e, cudaStream_t stream) {
    const vs_svg_band &r = band->rows;
    const int64_t block = VS_ATTN_BLOCK, row_bytes_q = 2 * e->q_stride_n, row_bytes_k = 2 * e->k_stride_n,
                  row_bytes_v = 2 * e->v_stride_n, out_row = (int64_t)band->heads * band->head_dim;
    vs_attn_args b = *e;
    b.head_layout = nullptr; /* the tensors are in the band's order already */
    b.q = static_cast<const char *>(e->q) + r.first * block * row_bytes_q;
    b.k = static_cast<const char *>(e->k) + (r.first - r.half) * block * row_bytes_k;
    b.v = static_cast<const char *>(e->v) + (r.first - r.half) * block * row_bytes_v;
    b.out = band->out_band;
    b.batch = r.count, b.seq_len = (int)block, b.kv_len = (int)((2 * r.half + 1) * block);
    b.q_stride_b = block * e->q_stride_n, b.k_stride_b = block * e->k_stride_n,
    b.v_stride_b = block * e->v_stride_n;
    b.o_stride_n = out_row, b.o_stride_b = block * out_row;
    VS_TRY(vs_cudnn_attention_lse(&b, band->lse_band, stream));

    vs_attn_args s = b;
    s.k = e->k, s.v = e->v, s.out = band->out_sink;
    s.batch = 1, s.seq_len = (int)(r.count * block), s.kv_len = (int)(r.sink * block);
    s.q_stride_b = s.seq_len * e->q_stride_n, s.k_stride_b = s.kv_len * e->k_stride_n,
    s.v_stride_b = s.kv_len * e->v_stride_n;
    s.o_stride_n = out_row, s.o_stride_b = s.seq_len * out_row;
    return vs_cudnn_attention_lse(&s, band->lse_sink, stream);
}

/* Entry b's q, k, v in its heads' orders into the scratch; `e` then points at the copies. */
vs_status gather(const vs_cuda_band *band, vs_attn_args *e, cudaStream_t stream) {
    GatherArgs g;
    const void *src[3] = {e->q, e->k, e->v};
    const int64_t strides[3] = {e->q_stride_n, e->k_stride_n, e->v_stride_n};
    for (int t = 0; t < 3; t++) {
        g.src[t] = static_cast<const char *>(src[t]);
        g.stride_n[t] = strides[t];
        g.dst[t] = static_cast<char *>(band->qkv[t]);
    }
    gather_token_major<<<dim3(grid_for(band->seq_len), 3), kThreads, 0, stream>>>(
        g, e->head_layout, band->seq_len, band->heads, band->head_dim, e->frames, 1.0f / (float)e->frames,
        e->tokens_per_frame);
    VS_CUDA_LAUNCH_CHECK("gather_token_major");
    const int64_t row = (int64_t)band->heads * band->head_dim;
    e->q = band->qkv[0], e->k = band->qkv[1], e->v = band->qkv[2];
    e->q_stride_n = e->k_stride_n = e->v_stride_n = row;
    e->q_stride_b = e->k_stride_b = e->v_stride_b = row * band->seq_len;
    return VS_OK;
}

vs_status merge(const vs_cuda_band *band, const vs_attn_args *e, cudaStream_t stream) {
    MergeArgs m;
    m.out_band = static_cast<const char *>(band->out_band),
    m.out_sink = static_cast<const char *>(band->out_sink);
    m.lse_band = band->lse_band, m.lse_sink = band->lse_sink;
    m.out = static_cast<char *>(e->out), m.o_stride_n = e->o_stride_n;
    m.layout = e->head_layout;
    m.first_row = band->rows.first * VS_ATTN_BLOCK, m.rows = band->rows.count * VS_ATTN_BLOCK;
    m.heads = band->heads, m.head_dim = band->head_dim;
    m.frames = e->frames, m.tokens_per_frame = e->tokens_per_frame;
    m.inv_frames = e->frames > 0 ? 1.0f / (float)e->frames : 0.f;
    const int grid = grid_for(m.rows);
    if (e->dtype == VS_BF16)
        merge_band_and_sink<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(m);
    else
        merge_band_and_sink<__half><<<grid, kThreads, 0, stream>>>(m);
    VS_CUDA_LAUNCH_CHECK("merge_band_and_sink");
    return VS_OK;
}

} // namespace

extern "C" void vs_cuda_band_free(vs_cuda_band *band) {
    if (!band) return;
    vs_device_free((void *)band->rest.row_ptr);
    vs_device_free((void *)band->rest.col_idx);
    for (int t = 0; t < 3; t++)
        vs_device_free(band->qkv[t]);
    vs_device_free(band->out_band);
    vs_device_free(band->out_sink);
    vs_device_free(band->lse_band);
    vs_device_free(band->lse_sink);
    free(band);
}

extern "C" vs_status vs_cuda_band_create(vs_cuda_band **out, const vs_attn_blocks *host_blocks, int seq_len,
                                         int heads, int head_dim) {
    *out = nullptr;
    const vs_svg_band rows = vs_svg_find_band(host_blocks, seq_len);
    if (rows.count == 0) return VS_OK;
    vs_cuda_band *band = static_cast<vs_cuda_band *>(calloc(1, sizeof *band));
    if (!band) return vs_fail(VS_ERR_OOM, "out of host memory");
    band->rows = rows;
    band->seq_len = seq_len, band->heads = heads, band->head_dim = head_dim;
    vs_svg_blocks rest;
    vs_status s = vs_svg_blocks_without_rows(host_blocks, seq_len, rows.first, rows.count, &rest);
    const size_t row_bytes = sizeof(int32_t) * ((size_t)rest.view.num_q_blocks + 1);
    const size_t col_bytes = sizeof(int32_t) * ((size_t)(s ? 0 : rest.row_ptr[rest.view.num_q_blocks]) + 1);
    void *row = nullptr, *col = nullptr;
    if (!s) s = vs_device_malloc(&row, row_bytes);
    if (!s) s = vs_device_malloc(&col, col_bytes);
    band->rest = vs_attn_blocks{host_blocks->num_q_blocks, host_blocks->num_k_blocks,
                                static_cast<const int32_t *>(row), static_cast<const int32_t *>(col)};
    if (!s) s = vs_device_memcpy_h2d(row, rest.row_ptr, row_bytes);
    if (!s) s = vs_device_memcpy_h2d(col, rest.col_idx, col_bytes - sizeof(int32_t));
    vs_svg_blocks_free(&rest);
    const size_t all = 2 * (size_t)seq_len * heads * head_dim,
                 part = 2 * (size_t)rows.count * VS_ATTN_BLOCK * heads * head_dim,
                 lse = sizeof(float) * (size_t)rows.count * VS_ATTN_BLOCK * heads;
    for (int t = 0; t < 3 && !s; t++)
        s = vs_device_malloc(&band->qkv[t], all);
    if (!s) s = vs_device_malloc(&band->out_band, part);
    if (!s) s = vs_device_malloc(&band->out_sink, part);
    if (!s) s = vs_device_malloc((void **)&band->lse_band, lse);
    if (!s) s = vs_device_malloc((void **)&band->lse_sink, lse);
    if (s) {
        vs_cuda_band_free(band);
        return vs_fail_context(s, "the band attention's scratch (%.0f MiB)",
                               (3.0 * all + 2.0 * (part + lse)) / 1048576.0);
    }
    *out = band;
    return VS_OK;
}

extern "C" vs_svg_band vs_cuda_band_rows(const vs_cuda_band *band) {
    return band->rows;
}

extern "C" vs_status vs_cuda_band_attention(const vs_cuda_band *band, const vs_attn_args *a, void *stream) {
    VS_TRY(vs_attn_args_validate(a));
    if (!a->blocks || a->seq_len != band->seq_len || a->heads != band->heads ||
        a->head_dim != band->head_dim || vs_attn_kv_len(a) != a->seq_len ||
        (a->dtype != VS_BF16 && a->dtype != VS_F16))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "band attention: made for self-attention over %d tokens x %d heads x %d, "
                       "called with %d x %d x %d",
                       band->seq_len, band->heads, band->head_dim, a->seq_len, a->heads, a->head_dim);
    if (a->head_layout && (int64_t)a->frames * a->tokens_per_frame >= (1 << 22))
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "band attention: token-major layout needs fewer than 2^22 video tokens");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    /* Order on the stream: entry 0's band and sink (the only calls that may find no cuDNN engine, before
     * anything is written to out), our kernel on the other rows (it writes zeros to the band rows), then
     * the merges that overwrite those zeros. Later entries reuse the scratch after the previous merge. */
    for (int b = 0; b < a->batch; b++) {
        vs_attn_args e = entry(a, b);
        if (e.head_layout) VS_TRY(gather(band, &e, s));
        VS_TRY(band_and_sink(band, &e, s));
        if (b == 0) {
            vs_attn_args rest = *a;
            rest.blocks = &band->rest;
            VS_TRY(vs_cuda_flash_attention(&rest, stream));
        }
        VS_TRY(merge(band, &e, s));
    }
    return VS_OK;
}
