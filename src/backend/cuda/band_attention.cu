/* SVG's rows on cuDNN's fused attention: the plan of band_attention.h.
 *
 * Per batch entry b, with X' the head-wise token-major copy of X ([blocks * 128,
 * H, D], rows past the sequence zero) and the band's query blocks i in [first,
 * first + count):
 *   band:  O_b[i] = attention(Q'[block i], K', V'[blocks lo(i) .. hi(i)]), as up
 *          to three cuDNN batches (band_group): the rows whose band starts at the
 *          sink (keys from one block for all, lengths per entry), the rows with a
 *          whole band (keys advancing a block per entry), and the rows whose band
 *          ends at the tail or the last block (the same, lengths per entry);
 *   sink:  O_s    = attention(Q'[band rows], K', V'[the tail, then 0 .. sink * 128)),
 *          one range because k and v are gathered behind a copy of the tail;
 *   merge: O = (O_b e^{L_b} + O_s e^{L_s}) / (e^{L_b} + e^{L_s}),
 *          written to the stored row of each position;
 *   rest:  for each run of the other query blocks, one paged attention (a
 *          batch entry per query block, its key blocks the pages of K', V'),
 *          scattered to the stored rows.
 * When cuDNN has no paged engine, the other rows run on our kernel with their
 * part of the list instead.
 *
 * In FP8 (args->fp8, BF16 tensors): the gather writes E4M3 codes with the scales of FP8 dense attention
 * (fp8_attention.h: K per head and smoothed, V per head, Q with K's scales folded into one scale, so one
 * cuDNN call serves all heads), into the first half of the same scratch; the band and the sink run on
 * cuDNN's FP8 graph with E4M3 out and the statistics, and the merge decodes both outputs. The other rows
 * run on our kernel in BF16 (SVG's lists have none outside the band, bar text rows). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdlib.h>

#include "backend/cuda/attention_cuda.h"
#include "backend/cuda/band_attention.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cudnn_attention.h"
#include "backend/cuda/fp8_attention.h"
#include "backend/cuda/fp8_codes.cuh"
#include "backend/cuda/stored_row.cuh"
#include "backend/cuda/vec8.cuh"
#include "core/devmem.h"
#include "core/log.h"

/* A run of query blocks outside the band: [first, first + count), its page-table rows and lengths from
 * `entry` on. Runs start at multiples of 4 entries, so each run's arrays keep the 16-byte alignment their
 * cuDNN tensors declare. */
struct rest_run {
    int first, count, entry;
};

/* One cuDNN batch of band rows: query blocks [first, first + count); entry e's keys start at block key_first +
 * key_step * e (key_step 0: all at one block), kv_len tokens, or fewer where `lengths` (then entry e's lengths
 * are band_len_q / band_len_kv [len_entry + e], each group's from a multiple of 4: 16-byte aligned). */
struct band_group {
    int first, count, key_first, key_step, kv_len, lengths, len_entry;
};

struct vs_cuda_band {
    vs_attn_band rows;
    int seq_len, heads, head_dim, blocks;
    int tail_tokens;        /* tokens of the dense tail, copied in front of k' and v' */
    band_group groups[3];   /* the band rows: band starting at the sink, whole, ending at the tail or the end */
    int32_t *band_len_q, *band_len_kv; /* device: the groups' lengths */
    vs_attn_blocks rest;    /* device CSR: the list with the band rows emptied (our kernel's part) */
    rest_run runs[2];       /* the query blocks before and after the band (count 0: none) */
    int pages_per_row;      /* the longest list among them */
    int32_t *table, *seq_len_q, *seq_len_kv; /* device: their page table and lengths, run after run */
    /* Scratch of one batch entry: `gathered` holds [tail of k][k'][tail of v][v'][q'], each of k', v', q'
     * [blocks * 128, H, D]; a band window reading past the end of k' (or v') stays inside the buffer, on
     * finite values, which its lengths mask. The band and sink outputs [count * 128, H, D]; their
     * log-sum-exps f32 [count, H, 128] and [H, count * 128]; the other rows' output [entries * 128, H, D]
     * (rest_entries). */
    void *gathered, *out_band, *out_sink, *out_rest;
    float *lse_band, *lse_sink;
    void *fp8_memory; /* the FP8 scales of one batch entry (fp8) */
    vs_cuda_fp8_scales fp8;
};

namespace {

constexpr int kThreads = 256;
constexpr int kChunk = 8;        /* elements of a 16-bit type in one 16-byte access */
constexpr int kRowsPerBlock = 4; /* token rows a thread block copies (each heads x D/8 chunks) */

int grid_for(int rows) {
    return (rows + kRowsPerBlock - 1) / kRowsPerBlock;
}

/* The stored row of each sequence position, per head: a batch entry's head layouts and frame grid. */
struct RowMap {
    const uint8_t *layout; /* this batch entry's heads; NULL: frame-major */
    int frames, tokens_per_frame;
    float inv_frames; /* 1 / frames (0 when there are no frames: then no head is token-major) */

    __device__ int row(int position, int h) const {
        return stored_row(position, layout && layout[h] == VS_LAYOUT_TOKEN_MAJOR, frames, inv_frames,
                          tokens_per_frame);
    }
};

RowMap row_map(const vs_attn_args *e) {
    return RowMap{e->head_layout, e->frames, e->tokens_per_frame,
                  e->frames > 0 ? 1.0f / (float)e->frames : 0.f};
}

struct GatherArgs {
    const char *src[3];
    int64_t stride_n[3]; /* elements */
    char *dst[3];
};

/* One 16-byte chunk of a [rows, heads, head_dim] tensor of a 16-bit type: chunk c of head h of row r,
 * the at-th chunk of the tensor. */
struct Chunk {
    int r, h, c;
    int64_t at;
};

/* fn(chunk) for each chunk of this thread block's kRowsPerBlock rows below `rows`. Consecutive threads
 * take consecutive chunks of a row, so whole head rows move per warp; the index arithmetic is 32-bit. The
 * gather, the merge and the scatter all walk their rows this way. */
template <typename Fn> __device__ __forceinline__ void for_each_chunk(int rows, int heads, int head_dim, Fn fn) {
    const int chunks = head_dim / kChunk, per_row = heads * chunks, r0 = blockIdx.x * kRowsPerBlock;
    for (int j = threadIdx.x; j < kRowsPerBlock * per_row; j += blockDim.x) {
        const int r = r0 + j / per_row, in_row = j % per_row;
        if (r >= rows) break;
        fn(Chunk{r, in_row / chunks, in_row % chunks, (int64_t)r * per_row + in_row});
    }
}

/* dst_t[n, h, :] = src_t[stored row of n for head h, h, :] for t = q, k, v (blockIdx.y); the row map
 * is division-free (stored_row.cuh). */
__global__ void gather_token_major(GatherArgs g, RowMap map, int n_tokens, int heads, int head_dim) {
    const int t = blockIdx.y;
    for_each_chunk(n_tokens, heads, head_dim, [&](const Chunk &x) {
        const int row = map.row(x.r, x.h);
        const uint4 *src = reinterpret_cast<const uint4 *>(
            g.src[t] + 2 * ((int64_t)row * g.stride_n[t] + x.h * head_dim + x.c * kChunk));
        reinterpret_cast<uint4 *>(g.dst[t])[x.at] = *src;
    });
}

/* The FP8 gather: dst_t[n, h, :] = E4M3 codes of src_t[stored row of n for head h, h, :] (K less its mean)
 * times the head's multiplier, for t = q, k, v (blockIdx.y) and n < seq_len; zeros for the rows up to
 * `rows` (whole blocks: cuDNN's padded forms read them). */
struct GatherFp8Args {
    GatherArgs to;     /* dst: the codes */
    const float *mul;  /* [3 heads] */
    const float *sums; /* K's column sums [heads * head_dim] */
    float inv_rows;
};

__global__ void gather_token_major_fp8(GatherFp8Args g, RowMap map, int n_tokens, int rows, int heads,
                                       int head_dim) {
    const int t = blockIdx.y;
    for_each_chunk(rows, heads, head_dim, [&](const Chunk &x) {
        uint2 codes = make_uint2(0, 0);
        if (x.r < n_tokens) {
            const int row = map.row(x.r, x.h), c = x.h * head_dim + x.c * kChunk;
            const uint4 bf16x8 =
                *reinterpret_cast<const uint4 *>(g.to.src[t] + 2 * ((int64_t)row * g.to.stride_n[t] + c));
            codes = vs_fp8_codes8(bf16x8, t == 1 ? g.sums + c : nullptr, g.inv_rows, g.mul[t * heads + x.h]);
        }
        reinterpret_cast<uint2 *>(g.to.dst[t])[x.at] = codes;
    });
}

/* Where row r of a part of the band path's output goes: head h of it to the stored row of position
 * first_row + r in this batch entry's output. The merge and the scatter write through it. */
struct OutputRows {
    char *out; /* token stride o_stride_n */
    int64_t o_stride_n;
    RowMap map;
    int first_row, rows, heads, head_dim;

    /* 16-byte chunk c of head h of row r. */
    __device__ uint4 *chunk(int r, int h, int c) const {
        const int row = map.row(first_row + r, h);
        return reinterpret_cast<uint4 *>(out + 2 * ((int64_t)row * o_stride_n + h * head_dim + c * kChunk));
    }
};

struct MergeArgs {
    const char *out_band, *out_sink;  /* [count * 128, H, D] */
    const float *lse_band, *lse_sink; /* [count, H, 128], [H, count * 128] */
    int band_rows;                    /* count * 128: to.rows, and past the sequence's end when it is ragged */
    OutputRows to;
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
 * the union of the key sets. */
template <typename T> __global__ void merge_band_and_sink(MergeArgs m) {
    for_each_chunk(m.to.rows, m.to.heads, m.to.head_dim, [&](const Chunk &x) {
        const float lb =
            m.lse_band[((x.r / VS_ATTN_BLOCK) * m.to.heads + x.h) * VS_ATTN_BLOCK + x.r % VS_ATTN_BLOCK];
        const float ls = m.lse_sink[x.h * m.band_rows + x.r];
        const float top = fmaxf(lb, ls), wb = __expf(lb - top), ws = __expf(ls - top), inv = 1.f / (wb + ws);
        const uint4 band = reinterpret_cast<const uint4 *>(m.out_band)[x.at];
        const uint4 sink = reinterpret_cast<const uint4 *>(m.out_sink)[x.at];
        const T *xb = reinterpret_cast<const T *>(&band), *xs = reinterpret_cast<const T *>(&sink);
        uint4 merged;
        T *y = reinterpret_cast<T *>(&merged);
#pragma unroll
        for (int e = 0; e < kChunk; e++)
            y[e] = from_f32<T>((wb * to_f32(xb[e]) + ws * to_f32(xs[e])) * inv);
        *m.to.chunk(x.r, x.h, x.c) = merged;
    });
}

/* merge_band_and_sink on the FP8 path: both outputs are E4M3 codes, head h's decoded times out_mul[h]. */
__global__ void merge_band_and_sink_fp8(MergeArgs m, const float *out_mul) {
    for_each_chunk(m.to.rows, m.to.heads, m.to.head_dim, [&](const Chunk &x) {
        const float lb =
            m.lse_band[((x.r / VS_ATTN_BLOCK) * m.to.heads + x.h) * VS_ATTN_BLOCK + x.r % VS_ATTN_BLOCK];
        const float ls = m.lse_sink[x.h * m.band_rows + x.r];
        const float top = fmaxf(lb, ls), wb = __expf(lb - top), ws = __expf(ls - top), inv = 1.f / (wb + ws);
        float band[kChunk], sink[kChunk];
        vs_fp8_decode8(reinterpret_cast<const uint2 *>(m.out_band)[x.at], wb * inv * out_mul[x.h], band);
        vs_fp8_decode8(reinterpret_cast<const uint2 *>(m.out_sink)[x.at], ws * inv * out_mul[x.h], sink);
#pragma unroll
        for (int e = 0; e < kChunk; e++)
            band[e] += sink[e];
        vs_store8(reinterpret_cast<uint16_t *>(m.to.chunk(x.r, x.h, x.c)), band);
    });
}

/* out[stored row of position first_row + r] = rows[r] for r < count (zeros where the row's query block
 * attends nothing): the other rows' paged output put back in place. */
struct ScatterArgs {
    const char *rows;          /* [to.rows, H, D] */
    const int32_t *seq_len_kv; /* per query block of the run */
    OutputRows to;
};

__global__ void scatter_rows(ScatterArgs m) {
    for_each_chunk(m.to.rows, m.to.heads, m.to.head_dim, [&](const Chunk &x) {
        uint4 value = make_uint4(0, 0, 0, 0);
        if (m.seq_len_kv[x.r / VS_ATTN_BLOCK] > 0) value = reinterpret_cast<const uint4 *>(m.rows)[x.at];
        *m.to.chunk(x.r, x.h, x.c) = value;
    });
}

/* The output rows [first_row, first_row + rows) of batch entry `e`. */
OutputRows output_rows(const vs_cuda_band *band, const vs_attn_args *e, int first_row, int rows) {
    return OutputRows{
        static_cast<char *>(e->out), e->o_stride_n, row_map(e), first_row, rows, band->heads, band->head_dim};
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

/* The attention of band group g of entry `e` (gathered, `elem` bytes an element): the group's 128-row blocks
 * as a batch, each with its window of keys, into the band's output rows. */
vs_attn_args band_group_args(const vs_cuda_band *band, const vs_attn_args *e, const band_group &g, int elem) {
    const int64_t block = VS_ATTN_BLOCK, row = (int64_t)band->heads * band->head_dim; /* elements per token */
    vs_attn_args b = *e;
    b.head_layout = nullptr; /* the tensors are in the band's order already */
    b.q = static_cast<const char *>(e->q) + elem * g.first * block * row;
    b.k = static_cast<const char *>(e->k) + elem * g.key_first * block * row;
    b.v = static_cast<const char *>(e->v) + elem * g.key_first * block * row;
    b.out = static_cast<char *>(band->out_band) + elem * (g.first - band->rows.first) * block * row;
    b.batch = g.count, b.seq_len = (int)block, b.kv_len = g.kv_len;
    b.q_stride_b = b.o_stride_b = block * row;
    b.k_stride_b = b.v_stride_b = g.key_step * block * row;
    b.o_stride_n = row;
    return b;
}

/* The sink's attention of entry `e` (likewise): every band row against the tail and the sink's keys. */
vs_attn_args sink_args(const vs_cuda_band *band, const vs_attn_args *e, int elem) {
    const vs_attn_band &r = band->rows;
    const int64_t block = VS_ATTN_BLOCK, row = (int64_t)band->heads * band->head_dim;
    vs_attn_args s = *e;
    s.head_layout = nullptr;
    s.q = static_cast<const char *>(e->q) + elem * r.first * block * row;
    /* the keys and values: the tail, then the sink */
    s.k = static_cast<const char *>(e->k) - elem * (int64_t)band->tail_tokens * row;
    s.v = static_cast<const char *>(e->v) - elem * (int64_t)band->tail_tokens * row;
    s.out = band->out_sink;
    s.batch = 1, s.seq_len = (int)(r.count * block), s.kv_len = (int)(r.sink * block) + band->tail_tokens;
    s.q_stride_b = s.seq_len * row, s.k_stride_b = s.v_stride_b = s.kv_len * row;
    s.o_stride_n = row, s.o_stride_b = s.seq_len * row;
    return s;
}

/* Group g's statistics in the band's. */
float *band_lse(const vs_cuda_band *band, const band_group &g) {
    return band->lse_band + (g.first - band->rows.first) * band->heads * VS_ATTN_BLOCK;
}

/* The band and the sink of one batch entry `e` (already gathered) into the scratch. */
vs_status band_and_sink(const vs_cuda_band *band, const vs_attn_args *e, cudaStream_t stream) {
    for (const band_group &g : band->groups) {
        if (g.count == 0) continue;
        const vs_attn_args b = band_group_args(band, e, g, 2);
        VS_TRY(g.lengths
                   ? vs_cudnn_attention_lengths(&b, band->band_len_q + g.len_entry,
                                                band->band_len_kv + g.len_entry, band_lse(band, g), stream)
                   : vs_cudnn_attention_lse(&b, band_lse(band, g), stream));
    }
    const vs_attn_args s = sink_args(band, e, 2);
    return vs_cudnn_attention_lse(&s, band->lse_sink, stream);
}

/* Where q', k' and v' start in the gathered scratch (band_attention's layout: [tail][k'][tail][v'][q']), of
 * `elem` bytes an element (2; 1 for the FP8 codes, in the first half). */
struct Gathered {
    char *q, *k, *v;
};
Gathered gathered_tensors(const vs_cuda_band *band, int elem) {
    const int64_t token_bytes = elem * (int64_t)band->heads * band->head_dim,
                  tail = band->tail_tokens * token_bytes,
                  all = (int64_t)band->blocks * VS_ATTN_BLOCK * token_bytes;
    char *base = static_cast<char *>(band->gathered);
    return Gathered{base + 2 * (tail + all), base + tail, base + tail + all + tail};
}

/* A gather of entry e's q, k and v into the scratch at `elem` bytes an element (gathered_tensors). */
GatherArgs gather_args(const vs_cuda_band *band, const vs_attn_args *e, int elem) {
    const Gathered to = gathered_tensors(band, elem);
    return GatherArgs{
        {static_cast<const char *>(e->q), static_cast<const char *>(e->k), static_cast<const char *>(e->v)},
        {e->q_stride_n, e->k_stride_n, e->v_stride_n},
        {to.q, to.k, to.v}};
}

/* After a gather g of `elem` bytes an element: the tail's keys and values again in front of k' and v', and
 * `e` pointed at the copies. */
vs_status finish_gather(const vs_cuda_band *band, vs_attn_args *e, const GatherArgs &g, int elem,
                        cudaStream_t stream) {
    char *q = g.dst[0], *k = g.dst[1], *v = g.dst[2];
    const int64_t row = (int64_t)band->heads * band->head_dim,
                  tail_bytes = elem * (int64_t)band->tail_tokens * row,
                  tail_from = elem * (int64_t)band->rows.tail * VS_ATTN_BLOCK * row;
    if (tail_bytes) {
        VS_CUDA_TRY(
            cudaMemcpyAsync(k - tail_bytes, k + tail_from, tail_bytes, cudaMemcpyDeviceToDevice, stream));
        VS_CUDA_TRY(
            cudaMemcpyAsync(v - tail_bytes, v + tail_from, tail_bytes, cudaMemcpyDeviceToDevice, stream));
    }
    e->q = q, e->k = k, e->v = v;
    e->q_stride_n = e->k_stride_n = e->v_stride_n = row;
    e->q_stride_b = e->k_stride_b = e->v_stride_b = row * band->blocks * VS_ATTN_BLOCK;
    return VS_OK;
}

/* Entry b's q, k, v in its heads' orders into the scratch, and the tail's keys and values again in front of
 * k' and v'; `e` then points at the copies. */
vs_status gather(const vs_cuda_band *band, vs_attn_args *e, cudaStream_t stream) {
    const GatherArgs g = gather_args(band, e, 2);
    gather_token_major<<<dim3(grid_for(band->seq_len), 3), kThreads, 0, stream>>>(
        g, row_map(e), band->seq_len, band->heads, band->head_dim);
    VS_CUDA_LAUNCH_CHECK("gather_token_major");
    return finish_gather(band, e, g, 2, stream);
}

/* The runs of other rows of entry `e` (gathered) through cuDNN's paged attention into out_rest. */
vs_status rest_paged(const vs_cuda_band *band, const vs_attn_args *e, cudaStream_t stream) {
    const int64_t row = (int64_t)band->heads * band->head_dim, block = VS_ATTN_BLOCK;
    for (const rest_run &run : band->runs) {
        if (run.count == 0) continue;
        vs_attn_args p = *e;
        p.head_layout = nullptr;
        p.q = static_cast<const char *>(e->q) + 2 * run.first * block * row;
        p.out = static_cast<char *>(band->out_rest) + 2 * run.entry * block * row;
        p.batch = run.count, p.seq_len = (int)block, p.kv_len = 0;
        p.q_stride_n = p.o_stride_n = row;
        p.q_stride_b = p.o_stride_b = block * row;
        const vs_cudnn_pages pages = {band->table + (int64_t)run.entry * band->pages_per_row,
                                      band->seq_len_q + run.entry,
                                      band->seq_len_kv + run.entry,
                                      band->pages_per_row,
                                      band->blocks,
                                      block * row,
                                      band->head_dim,
                                      row};
        VS_TRY(vs_cudnn_paged_attention(&p, &pages, stream));
    }
    return VS_OK;
}

vs_status scatter_rest(const vs_cuda_band *band, const vs_attn_args *e, cudaStream_t stream) {
    const int64_t row = (int64_t)band->heads * band->head_dim;
    for (const rest_run &run : band->runs) {
        if (run.count == 0) continue;
        const int first_row = run.first * VS_ATTN_BLOCK, end = (run.first + run.count) * VS_ATTN_BLOCK;
        const ScatterArgs m = {
            static_cast<const char *>(band->out_rest) + 2 * run.entry * VS_ATTN_BLOCK * row,
            band->seq_len_kv + run.entry,
            output_rows(band, e, first_row, (end < band->seq_len ? end : band->seq_len) - first_row)};
        scatter_rows<<<grid_for(m.to.rows), kThreads, 0, stream>>>(m);
        VS_CUDA_LAUNCH_CHECK("scatter_rows");
    }
    return VS_OK;
}

/* The merge of entry e's band and sink outputs into its rows of out. */
MergeArgs merge_args(const vs_cuda_band *band, const vs_attn_args *e) {
    const int first_row = band->rows.first * VS_ATTN_BLOCK,
              end = (band->rows.first + band->rows.count) * VS_ATTN_BLOCK;
    return MergeArgs{
        static_cast<const char *>(band->out_band),
        static_cast<const char *>(band->out_sink),
        band->lse_band,
        band->lse_sink,
        end - first_row,
        output_rows(band, e, first_row, (end < band->seq_len ? end : band->seq_len) - first_row)};
}

vs_status merge(const vs_cuda_band *band, const vs_attn_args *e, cudaStream_t stream) {
    const MergeArgs m = merge_args(band, e);
    const int grid = grid_for(m.to.rows);
    if (e->dtype == VS_BF16)
        merge_band_and_sink<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(m);
    else
        merge_band_and_sink<__half><<<grid, kThreads, 0, stream>>>(m);
    VS_CUDA_LAUNCH_CHECK("merge_band_and_sink");
    return VS_OK;
}

/* Page-table entries of the runs outside the band, alignment gaps included. */
int rest_entries(const vs_cuda_band *band) {
    const rest_run &last = band->runs[1].count ? band->runs[1] : band->runs[0];
    return last.entry + last.count;
}

/* The page table and lengths of the runs outside the band, uploaded. */
vs_status upload_rest_pages(vs_cuda_band *band, const vs_attn_blocks *host_blocks) {
    const int nb = band->blocks,
              last = band->seq_len - (nb - 1) * VS_ATTN_BLOCK; /* tokens in the last block */
    const int32_t *row_ptr = host_blocks->row_ptr, *col = host_blocks->col_idx;
    const int entries = rest_entries(band);
    int longest = 1; /* a table of at least one entry, even when every row is empty */
    for (const rest_run &run : band->runs)
        for (int i = run.first; i < run.first + run.count; i++)
            if (row_ptr[i + 1] - row_ptr[i] > longest) longest = row_ptr[i + 1] - row_ptr[i];
    band->pages_per_row = longest;
    if (entries == 0) return VS_OK;
    int32_t *table = static_cast<int32_t *>(calloc((size_t)entries * longest, sizeof(int32_t)));
    int32_t *len_q = static_cast<int32_t *>(calloc(entries, sizeof(int32_t))); /* alignment gaps: empty */
    int32_t *len_kv = static_cast<int32_t *>(calloc(entries, sizeof(int32_t)));
    vs_status s = table && len_q && len_kv ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory");
    for (const rest_run &run : band->runs)
        for (int i = run.first; !s && i < run.first + run.count; i++) {
            const int e = run.entry + (i - run.first);
            len_q[e] = i == nb - 1 ? last : VS_ATTN_BLOCK;
            len_kv[e] = 0;
            for (int k = row_ptr[i]; k < row_ptr[i + 1]; k++) {
                table[(size_t)e * longest + (k - row_ptr[i])] = col[k];
                len_kv[e] += col[k] == nb - 1 ? last : VS_ATTN_BLOCK; /* sorted: the short block comes last */
            }
        }
    const size_t table_bytes = sizeof(int32_t) * (size_t)entries * longest,
                 len_bytes = sizeof(int32_t) * entries;
    if (!s) s = vs_device_malloc((void **)&band->table, table_bytes);
    if (!s) s = vs_device_malloc((void **)&band->seq_len_q, len_bytes);
    if (!s) s = vs_device_malloc((void **)&band->seq_len_kv, len_bytes);
    if (!s) s = vs_device_memcpy_h2d(band->table, table, table_bytes);
    if (!s) s = vs_device_memcpy_h2d(band->seq_len_q, len_q, len_bytes);
    if (!s) s = vs_device_memcpy_h2d(band->seq_len_kv, len_kv, len_bytes);
    free(table);
    free(len_q);
    free(len_kv);
    return s;
}

/* Key tokens of band row i: blocks lo(i) .. hi(i), the last block possibly short. */
int band_tokens(const vs_cuda_band *band, int i) {
    const int64_t end = (int64_t)(vs_attn_band_hi(&band->rows, i) + 1) * VS_ATTN_BLOCK;
    return (int)((end < band->seq_len ? end : band->seq_len) - (int64_t)vs_attn_band_lo(&band->rows, i) * VS_ATTN_BLOCK);
}

/* The band rows as up to three cuDNN batches (band_group), and the lengths of those that need them,
 * uploaded. */
vs_status make_band_groups(vs_cuda_band *band) {
    const vs_attn_band &r = band->rows;
    const int end = r.first + r.count, whole_blocks = band->seq_len / VS_ATTN_BLOCK;
    auto clamp = [&](int x) { return x < r.first ? r.first : x > end ? end : x; };
    /* Rows before `from_sink_end` have lo = sink; rows from `whole_end` on have hi < i + half or a short last
     * block. */
    const int last_whole = (r.tail < whole_blocks ? r.tail : whole_blocks) - 1;
    const int from_sink_end = clamp(r.sink + r.half), whole_end = clamp(last_whole - r.half + 1);
    const int whole_first = from_sink_end < whole_end ? from_sink_end : whole_end;
    band->groups[0] = band_group{r.first, from_sink_end - r.first, r.sink, 0, 0, 1, 0};
    band->groups[1] = band_group{whole_first, whole_end - whole_first, whole_first - r.half, 1,
                                 (2 * r.half + 1) * VS_ATTN_BLOCK, 0, 0};
    const int ends_first = whole_end > from_sink_end ? whole_end : from_sink_end;
    band->groups[2] = band_group{ends_first, end - ends_first, ends_first - r.half, 1, 0, 1,
                                 (band->groups[0].count + 3) / 4 * 4};
    const int entries = band->groups[2].len_entry + band->groups[2].count;
    if (entries == 0) return VS_OK;
    int32_t *len = static_cast<int32_t *>(calloc(2 * (size_t)entries, sizeof(int32_t)));
    if (!len) return vs_fail(VS_ERR_OOM, "out of host memory");
    for (band_group &g : band->groups) {
        if (!g.lengths) continue;
        for (int e = 0; e < g.count; e++) {
            const int tokens = band_tokens(band, g.first + e);
            len[g.len_entry + e] = VS_ATTN_BLOCK; /* query rows past the sequence are zeros, their output unused */
            len[entries + g.len_entry + e] = tokens;
            if (tokens > g.kv_len) g.kv_len = tokens;
        }
    }
    const size_t bytes = sizeof(int32_t) * entries;
    vs_status s = vs_device_malloc((void **)&band->band_len_q, bytes);
    if (!s) s = vs_device_malloc((void **)&band->band_len_kv, bytes);
    if (!s) s = vs_device_memcpy_h2d(band->band_len_q, len, bytes);
    if (!s) s = vs_device_memcpy_h2d(band->band_len_kv, len + entries, bytes);
    free(len);
    return s;
}

/* ---- FP8 -------------------------------------------------------------------------------------------- */

/* Entry b's q, k, v as E4M3 codes in its heads' orders into the scratch (the tail's again in front of k' and
 * v'), with the entry's FP8 scales computed first; `e` then points at the codes (strides in codes). */
vs_status gather_fp8(const vs_cuda_band *band, vs_attn_args *e, cudaStream_t stream) {
    VS_TRY(vs_cuda_fp8_scales_compute(e, &band->fp8, stream));
    const GatherFp8Args g = {gather_args(band, e, 1), band->fp8.mul, band->fp8.sums,
                             1.0f / (float)band->seq_len};
    const int rows = band->blocks * VS_ATTN_BLOCK;
    gather_token_major_fp8<<<dim3(grid_for(rows), 3), kThreads, 0, stream>>>(
        g, row_map(e), band->seq_len, rows, band->heads, band->head_dim);
    VS_CUDA_LAUNCH_CHECK("gather_token_major_fp8");
    return finish_gather(band, e, g.to, 1, stream);
}

/* The first of cuDNN's FP8 forms with E4M3 out and the statistics (the merge needs both), with device
 * lengths or without as asked, that has an engine at b's shape. */
vs_status pick_fp8_form(const vs_attn_args *b, int lengths, vs_cudnn_fp8_form *form) {
    for (int i = 0; i < vs_cudnn_fp8_form_count; i++) {
        const vs_cudnn_fp8_form &f = vs_cudnn_fp8_forms[i];
        if (!f.out_e4m3 || !f.stats || f.padded != lengths) continue;
        const vs_status s = vs_cudnn_fp8_supported(b, &f);
        if (s == VS_OK) {
            *form = f;
            return VS_OK;
        }
        if (s != VS_ERR_UNSUPPORTED) return s;
    }
    return vs_fail(
        VS_ERR_UNSUPPORTED,
        "SVG's band path in FP8: cuDNN has no FP8 attention with E4M3 out and statistics%s for %d x %d "
        "tokens, batch %d",
        lengths ? " and lengths" : "", b->seq_len, vs_attn_kv_len(b), b->batch);
}

/* band_and_sink on the codes of entry `e` (gather_fp8): cuDNN's FP8 graph, all heads a call (their scales
 * folded, fp8_attention.h), E4M3 out into the band and sink outputs, the statistics beside them. */
vs_status band_and_sink_fp8(const vs_cuda_band *band, const vs_attn_args *e, cudaStream_t stream) {
    vs_cudnn_fp8_form form;
    for (const band_group &g : band->groups) {
        if (g.count == 0) continue;
        const vs_attn_args b = band_group_args(band, e, g, 1);
        VS_TRY(pick_fp8_form(&b, g.lengths, &form));
        const vs_cudnn_fp8_scales scales = vs_cuda_fp8_cudnn_scales(
            &band->fp8, &form, 0, band_lse(band, g), g.lengths ? band->band_len_q + g.len_entry : nullptr,
            g.lengths ? band->band_len_kv + g.len_entry : nullptr);
        VS_TRY(vs_cudnn_attention_fp8(&b, &form, &scales, stream));
    }
    const vs_attn_args s = sink_args(band, e, 1);
    VS_TRY(pick_fp8_form(&s, 0, &form));
    const vs_cudnn_fp8_scales scales =
        vs_cuda_fp8_cudnn_scales(&band->fp8, &form, 0, band->lse_sink, nullptr, nullptr);
    return vs_cudnn_attention_fp8(&s, &form, &scales, stream);
}

vs_status merge_fp8(const vs_cuda_band *band, const vs_attn_args *e, cudaStream_t stream) {
    const MergeArgs m = merge_args(band, e);
    merge_band_and_sink_fp8<<<grid_for(m.to.rows), kThreads, 0, stream>>>(m, band->fp8.out_mul);
    VS_CUDA_LAUNCH_CHECK("merge_band_and_sink_fp8");
    return VS_OK;
}

/* The FP8 path (the file's comment): entry 0's band and sink first (the calls that may find no engine,
 * before anything is written to out), then the other rows of every entry on our kernel in BF16 (it writes
 * zeros to the band rows, which the merges then fill). */
vs_status band_attention_fp8(const vs_cuda_band *band, const vs_attn_args *a, cudaStream_t s) {
    for (int b = 0; b < a->batch; b++) {
        vs_attn_args e = entry(a, b);
        VS_TRY(gather_fp8(band, &e, s));
        if (band->rows.count) VS_TRY(band_and_sink_fp8(band, &e, s));
        if (b == 0 && band->runs[0].count + band->runs[1].count > 0) {
            vs_attn_args rest = *a;
            rest.blocks = &band->rest;
            rest.fp8 = 0;
            VS_TRY(vs_cuda_flash_attention(&rest, s));
        }
        if (band->rows.count) VS_TRY(merge_fp8(band, &e, s));
    }
    return VS_OK;
}

} // namespace

extern "C" void vs_cuda_band_free(vs_cuda_band *band) {
    if (!band) return;
    vs_device_free((void *)band->rest.row_ptr);
    vs_device_free((void *)band->rest.col_idx);
    vs_device_free(band->gathered);
    vs_device_free(band->band_len_q);
    vs_device_free(band->band_len_kv);
    vs_device_free(band->out_band);
    vs_device_free(band->out_sink);
    vs_device_free(band->out_rest);
    vs_device_free(band->table);
    vs_device_free(band->seq_len_q);
    vs_device_free(band->seq_len_kv);
    vs_device_free(band->lse_band);
    vs_device_free(band->lse_sink);
    vs_device_free(band->fp8_memory);
    free(band);
}

extern "C" vs_status vs_cuda_band_create(vs_cuda_band **out, const vs_attn_blocks *host_blocks, int seq_len,
                                         int heads, int head_dim) {
    *out = nullptr;
    const int nb = (seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    if (seq_len < 1 || host_blocks->num_q_blocks != nb || host_blocks->num_k_blocks != nb)
        return vs_fail(VS_ERR_SHAPE, "band attention: a %d x %d block list does not cover %d tokens",
                       host_blocks->num_q_blocks, host_blocks->num_k_blocks, seq_len);
    const vs_attn_band rows = vs_attn_find_band(host_blocks);
    vs_cuda_band *band = static_cast<vs_cuda_band *>(calloc(1, sizeof *band));
    if (!band) return vs_fail(VS_ERR_OOM, "out of host memory");
    band->rows = rows;
    band->seq_len = seq_len, band->heads = heads, band->head_dim = head_dim, band->blocks = nb;
    band->tail_tokens = vs_attn_band_tail_tokens(&rows, seq_len);
    const int after = rows.first + rows.count;
    band->runs[0] = rest_run{0, rows.count ? rows.first : nb, 0};
    band->runs[1] = rest_run{after, rows.count ? nb - after : 0, (band->runs[0].count + 3) / 4 * 4};
    vs_attn_block_list rest;
    vs_status s = vs_attn_blocks_without_rows(host_blocks, seq_len, rows.first, rows.count, &rest);
    const size_t row_bytes = sizeof(int32_t) * ((size_t)nb + 1);
    const size_t col_bytes = sizeof(int32_t) * ((size_t)(s ? 0 : rest.row_ptr[nb]) + 1);
    void *row = nullptr, *col = nullptr;
    if (!s) s = vs_device_malloc(&row, row_bytes);
    if (!s) s = vs_device_malloc(&col, col_bytes);
    band->rest = vs_attn_blocks{nb, nb, static_cast<const int32_t *>(row), static_cast<const int32_t *>(col)};
    if (!s) s = vs_device_memcpy_h2d(row, rest.row_ptr, row_bytes);
    if (!s) s = vs_device_memcpy_h2d(col, rest.col_idx, col_bytes - sizeof(int32_t));
    vs_attn_block_list_free(&rest);
    if (!s) s = upload_rest_pages(band, host_blocks);
    if (!s && rows.count) s = make_band_groups(band);
    /* The sizes memory plans count (vs_attn_band_scratch_max bounds them); its rest entries are the runs laid
     * out above (rest_entries). */
    const vs_attn_band_scratch sizes = vs_attn_band_scratch_of(&rows, seq_len, heads, head_dim);
    const size_t gathered = sizes.gathered, part = sizes.part, others = sizes.rest, lse = sizes.lse;
    if (!s) s = vs_device_malloc(&band->gathered, gathered);
    if (!s) s = vs_device_memset(band->gathered, 0, gathered); /* rows past seq_len are read, must be finite */
    if (!s) s = vs_device_malloc(&band->out_band, part);
    if (!s) s = vs_device_malloc(&band->out_sink, part);
    if (!s) s = vs_device_malloc(&band->out_rest, others);
    if (!s) s = vs_device_malloc((void **)&band->lse_band, lse);
    if (!s) s = vs_device_malloc((void **)&band->lse_sink, lse);
    if (!s) s = vs_device_malloc(&band->fp8_memory, vs_cuda_fp8_scales_bytes(1, heads, head_dim));
    if (!s) vs_cuda_fp8_scales_carve(band->fp8_memory, 1, heads, head_dim, &band->fp8);
    if (s) {
        vs_cuda_band_free(band);
        return vs_fail_context(s, "the band attention's scratch (%.0f MiB)",
                               vs_attn_band_scratch_total(&sizes) / 1048576.0);
    }
    *out = band;
    return VS_OK;
}

extern "C" vs_attn_band vs_cuda_band_rows(const vs_cuda_band *band) {
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
    if (a->fp8 && a->dtype == VS_BF16) {
        const vs_status st = band_attention_fp8(band, a, s);
        if (st != VS_ERR_UNSUPPORTED) return st;
        static int warned = 0; /* cuDNN has no FP8 form for the band's shapes: its BF16 path, said once */
        if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
            VS_WARN("%s: the band path runs in BF16", vs_last_error());
    }
    /* Order on the stream: entry 0's band and sink (calls that may find no cuDNN engine, before anything
     * is written to out), the other rows (paged, into scratch; where cuDNN has no paged engine, our kernel
     * on all entries at once, writing zeros to the band rows), then the merges and scatters into out.
     * Later entries reuse the scratch after the previous ones. */
    const int has_rest = band->runs[0].count + band->runs[1].count > 0;
    int paged = has_rest;
    for (int b = 0; b < a->batch; b++) {
        vs_attn_args e = entry(a, b);
        VS_TRY(gather(band, &e, s));
        if (band->rows.count) VS_TRY(band_and_sink(band, &e, s));
        if (paged) {
            const vs_status st = rest_paged(band, &e, s);
            if (st == VS_ERR_UNSUPPORTED && b == 0)
                paged = 0;
            else
                VS_TRY(st);
        }
        if (b == 0 && has_rest && !paged) {
            vs_attn_args rest = *a;
            rest.blocks = &band->rest;
            VS_TRY(vs_cuda_flash_attention(&rest, stream));
        }
        if (band->rows.count) VS_TRY(merge(band, &e, s));
        if (paged) VS_TRY(scatter_rest(band, &e, s));
    }
    return VS_OK;
}
