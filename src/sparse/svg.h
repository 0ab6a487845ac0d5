/* Sparse VideoGen (SVG) block masks, as this engine computes them.
 * docs/svg.md explains the algorithm and where it departs from the
 * reference implementation.
 *
 * The sequence is F*P video tokens (frame-major, index f*P + p) followed by C
 * text tokens. One block mask serves every sparse head: a position q attends
 * a position k when
 *     |q - k| <= band (both video)   or   k < P (first-frame sink)
 *     or q or k is a text position,
 * where band = ceil_to_128(m * P). Spatial heads read positions in
 * frame-major order, temporal heads in token-major order (vs_attn_row); the
 * mask is the same. The mask is block-granular: the 128x128 block (qb, kb) is
 * computed, whole, when any pair of positions in it is allowed. */
#ifndef VS_SPARSE_SVG_H
#define VS_SPARSE_SVG_H

#include <stdint.h>

#include "ops/attention.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Lets the CUDA profiler draw exactly the rows the CPU profiler draws. */
#ifdef __CUDACC__
#define VS_HOST_DEVICE __host__ __device__
#else
#define VS_HOST_DEVICE
#endif

/* vs_svg_config and vs_svg_config_default are public: include/vidsparse.h. */


/* Checks the config against a sequence of seq_len tokens (F*P + C must equal it). */
vs_status vs_svg_config_validate(const vs_svg_config *cfg, int seq_len);

/* Band half-width m*P in tokens, rounded up to a multiple of 128. With m = 0,
 * m comes from density the way the reference's sparsity_to_width does it:
 * with L = F*P + C, d' = d - 2*C/L (text rows and columns are dense),
 * w = L * (1 - sqrt(1 - d')), m = w / P. Assumes a valid config. */
int64_t vs_svg_band_tokens(const vs_svg_config *cfg);

/* 1 when query block qb attends key block kb: the single definition of the
 * mask. Assumes a valid config and blocks inside the sequence. */
int vs_svg_block_allowed(const vs_svg_config *cfg, int seq_len, int qb, int kb);

/* An owned block list and a view of it for vs_attn_args.blocks. */
typedef struct vs_svg_blocks {
    int32_t *row_ptr;    /* [num_q_blocks + 1] */
    int32_t *col_idx;    /* [row_ptr[num_q_blocks]] */
    vs_attn_blocks view; /* points at row_ptr / col_idx */
    double density;      /* computed score elements / seq_len^2 (short last blocks at their real size) */
} vs_svg_blocks;

vs_status vs_svg_blocks_build(const vs_svg_config *cfg, int seq_len, vs_svg_blocks *out);
void vs_svg_blocks_free(vs_svg_blocks *blocks);

/* The rows of a block list that are one uniform band beside the sink: query
 * blocks i in [first, first + count) whose key blocks are exactly [0, sink)
 * and [i - half, i + half], with a gap between the two ranges and every block
 * involved full (128 tokens). Such rows are a batch of equal-shaped dense
 * attentions (each query block against its 2 half + 1 band blocks) plus one
 * dense attention of all of them to the sink, which lets the CUDA path run
 * them on cuDNN's fused kernels. count 0: no such rows. The longest run of
 * consecutive such rows is taken. */
typedef struct vs_svg_band {
    int first, count, sink, half;
} vs_svg_band;
vs_svg_band vs_svg_find_band(const vs_attn_blocks *blocks, int seq_len);

/* A copy of `blocks` whose query blocks [first, first + count) attend
 * nothing (their output is zeros), e.g. the rows left once a band is done
 * elsewhere. out->density counts what the copy computes. */
vs_status vs_svg_blocks_without_rows(const vs_attn_blocks *blocks, int seq_len, int first, int count,
                                     vs_svg_blocks *out);

/* splitmix64's output function: a counter-based generator, so row i of any
 * head can be drawn independently and identically on CPU and GPU. */
static inline VS_HOST_DEVICE uint64_t vs_svg_mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Position of stored row `row` in the token-major order of temporal heads
 * (the inverse of vs_attn_row): video row f*P + p sits at p*F + f, text stays. */
static inline VS_HOST_DEVICE int64_t vs_svg_token_major_position(int64_t row, int frames,
                                                                 int tokens_per_frame) {
    if (row >= (int64_t)frames * tokens_per_frame) return row;
    return (row % tokens_per_frame) * frames + row / tokens_per_frame;
}

/* Number of rows that profiling draws from: min(sample_window, F*P, seq_len). */
static inline VS_HOST_DEVICE int vs_svg_sample_range(const vs_svg_config *cfg, int seq_len) {
    int64_t n = (int64_t)cfg->frames * cfg->tokens_per_frame;
    if (n > seq_len) n = seq_len;
    if (n > cfg->sample_window) n = cfg->sample_window;
    return (int)n;
}

/* The i-th sampled query row (a frame-major position, i.e. a stored row) of
 * batch_head = b*H + h: mix64(seed ^ (batch_head * 2^32 + i)) mod range.
 * Draws are independent, so rows may repeat (sampling with replacement). */
static inline VS_HOST_DEVICE int vs_svg_sample_row(const vs_svg_config *cfg, int seq_len, int batch_head,
                                                   int i) {
    uint64_t counter = ((uint64_t)(uint32_t)batch_head << 32) | (uint32_t)i;
    return (int)(vs_svg_mix64(cfg->seed ^ counter) % (uint64_t)vs_svg_sample_range(cfg, seq_len));
}

/* The model's batch_head for this attention's batch_head b*heads + h (see
 * vs_svg_config.head_offset): b*model_heads + head_offset + h. */
static inline VS_HOST_DEVICE int vs_svg_model_batch_head(const vs_svg_config *cfg, int batch_head, int heads) {
    if (cfg->model_heads <= 0) return batch_head;
    return batch_head / heads * cfg->model_heads + cfg->head_offset + batch_head % heads;
}

#ifdef __cplusplus
}
#endif
#endif
