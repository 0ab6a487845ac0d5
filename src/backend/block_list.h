/* Block lists on the host: an owned CSR for vs_attn_args.blocks, and the
 * analyses the CUDA band path makes of one (src/backend/cuda/band_attention.h).
 * Any sparse method that produces a block list can use them. */
#ifndef VS_BACKEND_BLOCK_LIST_H
#define VS_BACKEND_BLOCK_LIST_H

#include "backend/attention_args.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tokens in block b of a seq_len sequence (the last block may be short). */
static inline int64_t vs_attn_block_tokens(int b, int seq_len) {
    const int64_t rest = (int64_t)seq_len - (int64_t)b * VS_ATTN_BLOCK;
    return rest < VS_ATTN_BLOCK ? rest : VS_ATTN_BLOCK;
}

/* An owned block list and a view of it for vs_attn_args.blocks. */
typedef struct vs_attn_block_list {
    int32_t *row_ptr;    /* [num_q_blocks + 1] */
    int32_t *col_idx;    /* [row_ptr[num_q_blocks]] */
    vs_attn_blocks view; /* points at row_ptr / col_idx */
    double density;      /* computed score elements / seq_len^2 (short last blocks at their real size) */
} vs_attn_block_list;

void vs_attn_block_list_free(vs_attn_block_list *blocks);

/* The rows of a block list that are one band beside a sink and a dense tail:
 * query blocks i in [first, first + count) whose key blocks are exactly
 *   [0, sink)  (the first-frame sink),
 *   [lo(i), hi(i)]  with lo(i) = max(sink, i - half), hi(i) = min(tail - 1, i + half),
 *   [tail, nb)  (dense key blocks at the end: text after the video; tail = nb when none),
 * each range non-empty except the tail. In SVG's lists every video row has
 * this shape, the rows where the band meets the sink or the tail included
 * (their band is clipped there). Such rows are a few batches of dense
 * attentions (each query block against its band blocks) plus one dense
 * attention of all of them to the sink and the tail, which lets the CUDA path
 * run them on cuDNN's fused kernels. count 0: no such rows. The parameters
 * come from a row whose band touches neither the sink nor the tail; the
 * longest run of consecutive rows of one (sink, half, tail) is taken. */
typedef struct vs_attn_band {
    int first, count, sink, half, tail;
} vs_attn_band;
vs_attn_band vs_attn_find_band(const vs_attn_blocks *blocks);

/* Row i's band blocks: [vs_attn_band_lo, vs_attn_band_hi], inclusive. */
static inline int vs_attn_band_lo(const vs_attn_band *b, int i) {
    return i - b->half > b->sink ? i - b->half : b->sink;
}
static inline int vs_attn_band_hi(const vs_attn_band *b, int i) {
    return i + b->half < b->tail - 1 ? i + b->half : b->tail - 1;
}
/* Tokens of the band rows' dense tail over seq_len tokens (0 when there are no band rows or no tail): what the
 * CUDA path copies in front of the gathered keys and values. */
static inline int vs_attn_band_tail_tokens(const vs_attn_band *b, int seq_len) {
    const int nb = (seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    return b->count && b->tail < nb ? seq_len - b->tail * VS_ATTN_BLOCK : 0;
}

/* The CUDA band attention's device scratch for one batch entry of 16-bit values (backend/cuda/band_attention.cu
 * allocates exactly these): one buffer (`gathered` bytes) holding the gathered k and v, each preceded by a copy
 * of the tail's tokens (so the sink and the tail are one contiguous key range), then the gathered q; the band's
 * and the sink's outputs (`part` each) and their f32 log-sum-exps (`lse` each), and the other rows' output
 * (`rest`: `rest_entries` page-table rows of 128 tokens, the runs before and after the band, the second
 * starting at a multiple of 4). */
typedef struct vs_attn_band_scratch {
    size_t gathered, part, lse, rest;
    int rest_entries;
} vs_attn_band_scratch;
vs_attn_band_scratch vs_attn_band_scratch_of(const vs_attn_band *rows, int seq_len, int heads, int head_dim);
size_t vs_attn_band_scratch_total(const vs_attn_band_scratch *scratch);
/* The largest total any block list over seq_len tokens can give: what a memory plan counts before the sparse
 * method and its kept fraction are known. */
size_t vs_attn_band_scratch_max(int seq_len, int heads, int head_dim);

/* A copy of `blocks` whose query blocks [first, first + count) attend
 * nothing (their output is zeros), e.g. the rows left once a band is done
 * elsewhere. out->density counts what the copy computes. */
vs_status vs_attn_blocks_without_rows(const vs_attn_blocks *blocks, int seq_len, int first, int count,
                                     vs_attn_block_list *out);

#ifdef __cplusplus
}
#endif
#endif
