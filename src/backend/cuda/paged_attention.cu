/* Block-sparse attention on cuDNN's paged attention: the plan of paged_attention.h.
 *
 * Per batch entry, with r(n, h) the stored row of sequence position n for head h:
 *   gather:  q'[n, h] = q[r(n, h), h]                       token-major rows [blocks * 128, H, D]
 *            k'[n / 128, h, n % 128] = k[r(n, h), h]        pages [blocks, H, 128, D], v' alike
 *   cuDNN:   o'[block i] = attention(q'[block i], pages of row i of the list)
 *   scatter: out[r(n, h), h] = o'[n, h]                     (0 where row n / 128 has no key blocks)
 * Positions past seq_len in q', k', v' stay zero from creation: the last
 * page is read whole, and its tail must not be NaN. */
#include <stdlib.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cudnn_attention.h"
#include "backend/cuda/paged_attention.h"
#include "backend/cuda/stored_row.cuh"
#include "core/devmem.h"

struct vs_cuda_paged {
    int seq_len, heads, head_dim, blocks, pages_per_row;
    int32_t *table, *seq_len_q, *seq_len_kv; /* device: [blocks, pages_per_row], [blocks], [blocks] */
    void *q, *k, *v, *out;                   /* scratch, each blocks * 128 * heads * head_dim 16-bit */
};

namespace {

constexpr int kThreads = 256;
constexpr int kChunk = 8;        /* elements of a 16-bit type in one 16-byte access */
constexpr int kRowsPerBlock = 4; /* token rows a thread block moves (each heads x D/8 chunks) */

struct RowMap {
    const uint8_t *layout; /* this batch entry's heads; NULL: all frame-major */
    int frames, tokens_per_frame;
    float inv_frames;
    __device__ int stored(int n, int h) const {
        return stored_row(n, layout && layout[h] == VS_LAYOUT_TOKEN_MAJOR, frames, inv_frames, tokens_per_frame);
    }
};

struct GatherArgs {
    const char *src[3]; /* q, k, v of the batch entry */
    int64_t stride_n[3];
    char *dst[3]; /* q' (token-major), k', v' (pages) */
};

/* blockIdx.y picks q, k or v. Consecutive threads take consecutive 16-byte chunks of a token row, so
 * whole head rows move per warp; the index arithmetic is 32-bit and the row map division-free. */
__global__ void gather_to_pages(GatherArgs g, RowMap map, int n_tokens, int heads, int head_dim) {
    const int t = blockIdx.y, chunks = head_dim / kChunk, per_row = heads * chunks;
    const int n0 = blockIdx.x * kRowsPerBlock;
    for (int j = threadIdx.x; j < kRowsPerBlock * per_row; j += blockDim.x) {
        const int n = n0 + j / per_row, in_row = j % per_row, h = in_row / chunks, c = in_row % chunks;
        if (n >= n_tokens) break;
        const uint4 *src = reinterpret_cast<const uint4 *>(
            g.src[t] + 2 * ((int64_t)map.stored(n, h) * g.stride_n[t] + h * head_dim + c * kChunk));
        const int64_t at = t == 0 ? (int64_t)n * per_row + in_row /* token-major, in chunks */
                                  : (((int64_t)(n / VS_ATTN_BLOCK) * heads + h) * VS_ATTN_BLOCK +
                                     n % VS_ATTN_BLOCK) * chunks + c;
        reinterpret_cast<uint4 *>(g.dst[t])[at] = *src;
    }
}

__global__ void scatter_rows(char *out, int64_t o_stride_n, const char *computed, const int32_t *seq_len_kv,
                             RowMap map, int n_tokens, int heads, int head_dim) {
    const int chunks = head_dim / kChunk, per_row = heads * chunks;
    const int n0 = blockIdx.x * kRowsPerBlock;
    for (int j = threadIdx.x; j < kRowsPerBlock * per_row; j += blockDim.x) {
        const int n = n0 + j / per_row, in_row = j % per_row, h = in_row / chunks, c = in_row % chunks;
        if (n >= n_tokens) break;
        uint4 row = make_uint4(0, 0, 0, 0);
        if (seq_len_kv[n / VS_ATTN_BLOCK] > 0)
            row = reinterpret_cast<const uint4 *>(computed)[(int64_t)n * per_row + in_row];
        *reinterpret_cast<uint4 *>(out + 2 * ((int64_t)map.stored(n, h) * o_stride_n + h * head_dim + c * kChunk)) =
            row;
    }
}

int grid_for(int rows) {
    return (rows + kRowsPerBlock - 1) / kRowsPerBlock;
}

/* Batch entry b of `a`: its tensors, its heads' layouts. */
RowMap row_map(const vs_attn_args *a, int b) {
    RowMap m;
    m.layout = a->head_layout ? a->head_layout + (int64_t)b * a->heads : nullptr;
    m.frames = a->frames, m.tokens_per_frame = a->tokens_per_frame;
    m.inv_frames = a->frames > 0 ? 1.0f / (float)a->frames : 0.f;
    return m;
}

} // namespace

extern "C" void vs_cuda_paged_free(vs_cuda_paged *p) {
    if (!p) return;
    vs_device_free(p->table);
    vs_device_free(p->seq_len_q);
    vs_device_free(p->seq_len_kv);
    vs_device_free(p->q);
    vs_device_free(p->k);
    vs_device_free(p->v);
    vs_device_free(p->out);
    free(p);
}

extern "C" vs_status vs_cuda_paged_create(vs_cuda_paged **out, const vs_attn_blocks *host_blocks, int seq_len,
                                          int heads, int head_dim) {
    *out = nullptr;
    const int nb = host_blocks->num_q_blocks;
    if (seq_len < 1 || nb != (seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK || host_blocks->num_k_blocks != nb)
        return vs_fail(VS_ERR_SHAPE, "paged attention: a %d x %d block list does not cover %d tokens", nb,
                       host_blocks->num_k_blocks, seq_len);
    vs_cuda_paged *p = static_cast<vs_cuda_paged *>(calloc(1, sizeof *p));
    if (!p) return vs_fail(VS_ERR_OOM, "out of host memory");
    p->seq_len = seq_len, p->heads = heads, p->head_dim = head_dim, p->blocks = nb;
    const int32_t *row_ptr = host_blocks->row_ptr, *col = host_blocks->col_idx;
    int longest = 1; /* a table of at least one entry, even when every row is empty */
    for (int i = 0; i < nb; i++)
        if (row_ptr[i + 1] - row_ptr[i] > longest) longest = row_ptr[i + 1] - row_ptr[i];
    p->pages_per_row = longest;

    const size_t table_bytes = sizeof(int32_t) * (size_t)nb * longest, len_bytes = sizeof(int32_t) * (size_t)nb;
    int32_t *table = static_cast<int32_t *>(calloc((size_t)nb * longest, sizeof(int32_t)));
    int32_t *len_q = static_cast<int32_t *>(malloc(len_bytes)), *len_kv = static_cast<int32_t *>(malloc(len_bytes));
    vs_status s = table && len_q && len_kv ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory");
    for (int i = 0; !s && i < nb; i++) {
        const int last = seq_len - (nb - 1) * VS_ATTN_BLOCK; /* tokens in the last block */
        len_q[i] = i == nb - 1 ? last : VS_ATTN_BLOCK;
        len_kv[i] = 0;
        for (int e = row_ptr[i]; e < row_ptr[i + 1]; e++) {
            table[(size_t)i * longest + (e - row_ptr[i])] = col[e];
            len_kv[i] += col[e] == nb - 1 ? last : VS_ATTN_BLOCK; /* sorted: the short block comes last */
        }
    }
    if (!s) s = vs_device_malloc((void **)&p->table, table_bytes);
    if (!s) s = vs_device_malloc((void **)&p->seq_len_q, len_bytes);
    if (!s) s = vs_device_malloc((void **)&p->seq_len_kv, len_bytes);
    if (!s) s = vs_device_memcpy_h2d(p->table, table, table_bytes);
    if (!s) s = vs_device_memcpy_h2d(p->seq_len_q, len_q, len_bytes);
    if (!s) s = vs_device_memcpy_h2d(p->seq_len_kv, len_kv, len_bytes);
    free(table);
    free(len_q);
    free(len_kv);
    const size_t scratch = 2 * (size_t)nb * VS_ATTN_BLOCK * heads * head_dim;
    void **buffers[4] = {&p->q, &p->k, &p->v, &p->out};
    for (int i = 0; i < 4 && !s; i++) {
        s = vs_device_malloc(buffers[i], scratch);
        if (!s) s = vs_device_memset(*buffers[i], 0, scratch);
    }
    if (s) {
        vs_cuda_paged_free(p);
        return vs_fail_context(s, "the paged attention's scratch (%.0f MiB)", 4.0 * scratch / 1048576.0);
    }
    *out = p;
    return VS_OK;
}

extern "C" vs_status vs_cuda_paged_attention(const vs_cuda_paged *p, const vs_attn_args *a, void *stream) {
    VS_TRY(vs_attn_args_validate(a));
    if (!a->blocks || a->seq_len != p->seq_len || a->heads != p->heads || a->head_dim != p->head_dim ||
        vs_attn_kv_len(a) != a->seq_len || (a->dtype != VS_BF16 && a->dtype != VS_F16))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "paged attention: made for block-sparse self-attention over %d tokens x %d heads x %d, "
                       "called with %d x %d x %d",
                       p->seq_len, p->heads, p->head_dim, a->seq_len, a->heads, a->head_dim);
    if (a->head_layout && (int64_t)a->frames * a->tokens_per_frame >= (1 << 22))
        return vs_fail(VS_ERR_UNSUPPORTED, "paged attention: token-major layout needs fewer than 2^22 video tokens");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    const int64_t row = (int64_t)p->heads * p->head_dim;
    vs_attn_args pages_args = *a;
    pages_args.blocks = nullptr, pages_args.head_layout = nullptr;
    pages_args.q = p->q, pages_args.k = p->k, pages_args.v = p->v, pages_args.out = p->out;
    pages_args.batch = p->blocks, pages_args.seq_len = VS_ATTN_BLOCK, pages_args.kv_len = 0;
    pages_args.q_stride_n = pages_args.o_stride_n = row;
    pages_args.q_stride_b = pages_args.o_stride_b = VS_ATTN_BLOCK * row;
    const vs_cudnn_pages pages = {p->table, p->seq_len_q, p->seq_len_kv, p->pages_per_row, p->blocks,
                                  VS_ATTN_BLOCK * row, VS_ATTN_BLOCK * p->head_dim, p->head_dim};
    /* Batch entries run one after another through the one scratch; the first cuDNN call (the only one
     * that may find no engine) comes before anything is written to out. */
    for (int b = 0; b < a->batch; b++) {
        const RowMap map = row_map(a, b);
        GatherArgs g;
        const void *src[3] = {a->q, a->k, a->v};
        const int64_t stride_b[3] = {a->q_stride_b, a->k_stride_b, a->v_stride_b},
                      stride_n[3] = {a->q_stride_n, a->k_stride_n, a->v_stride_n};
        void *dst[3] = {p->q, p->k, p->v};
        for (int t = 0; t < 3; t++) {
            g.src[t] = static_cast<const char *>(src[t]) + 2 * b * stride_b[t];
            g.stride_n[t] = stride_n[t];
            g.dst[t] = static_cast<char *>(dst[t]);
        }
        gather_to_pages<<<dim3(grid_for(p->seq_len), 3), kThreads, 0, s>>>(g, map, p->seq_len, p->heads,
                                                                           p->head_dim);
        VS_CUDA_LAUNCH_CHECK("gather_to_pages");
        VS_TRY(vs_cudnn_paged_attention(&pages_args, &pages, stream));
        char *out = static_cast<char *>(a->out) + 2 * b * a->o_stride_b;
        scatter_rows<<<grid_for(p->seq_len), kThreads, 0, s>>>(out, a->o_stride_n, static_cast<const char *>(p->out),
                                                               p->seq_len_kv, map, p->seq_len, p->heads,
                                                               p->head_dim);
        VS_CUDA_LAUNCH_CHECK("scatter_rows");
    }
    return VS_OK;
}
