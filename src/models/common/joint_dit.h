/* What the joint-attention DiTs (HunyuanVideo, CogVideoX: one attention over the
 * video tokens, frame-major, then the text tokens) keep between forwards and do
 * around each batch entry: the activation arena, the RoPE tables of the last
 * video grid, the attention settings and the sparse attention of the last
 * (grid, text length), the GPU timer of the attention intervals; token-row and
 * batch-entry views; the attention time and head choices of an entry. */
#ifndef VS_MODELS_COMMON_JOINT_DIT_H
#define VS_MODELS_COMMON_JOINT_DIT_H

#include "core/arena.h"
#include "core/gpu_timer.h"
#include "models/common/self_attention.h"
#include "sparse/sparse_attention.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Small sizing rules both joint DiTs (HunyuanVideo, CogVideoX) use. */
/* Rows of the MLP hidden layer computed at a time, to bound its memory (as the Wan DiT). */
static inline int64_t vs_joint_dit_mlp_chunk_rows(vs_device device) {
    return device == VS_CPU ? 4096 : 131072;
}
/* Activations are f32 on the CPU and bf16 on the GPU. */
static inline vs_dtype vs_joint_dit_act_dtype(vs_device device) {
    return device == VS_CPU ? VS_F32 : VS_BF16;
}
/* bytes rounded up to the arena's alignment. */
static inline size_t vs_joint_dit_aligned(int64_t bytes) {
    return ((size_t)bytes + VS_ARENA_ALIGN - 1) / VS_ARENA_ALIGN * VS_ARENA_ALIGN;
}
static inline size_t vs_joint_dit_max_size(size_t a, size_t b) {
    return a > b ? a : b;
}
static inline int64_t vs_joint_dit_min64(int64_t a, int64_t b) {
    return a < b ? a : b;
}

typedef struct vs_joint_dit_cache {
    vs_arena *arena;              /* activations: persistent part, then per-phase scratch */
    vs_tensor rope_cos, rope_sin; /* [N, head_dim / 2] for the grid below */
    int rope_grid[3];
    vs_attention_params attention; /* resolved; method NULL: dense */
    vs_sparse_attention *sparse;   /* joint attention for (grid, text length) below; NULL when dense */
    int sparse_grid[3], sparse_text;
    vs_gpu_timer *timer; /* CUDA: attention intervals of one forward */
} vs_joint_dit_cache;

/* What one entry's forward needs the cache to hold. */
typedef struct vs_joint_dit_shape {
    vs_device device;
    const char *label;   /* "HunyuanVideo": names the arena and errors */
    size_t arena_bytes;  /* the forward's activations */
    const int *rope_axes; /* frame, row, column dims of a head (vs_rope3d_table) */
    double rope_theta;
    int grid[3];         /* F, H, W after patching */
    int text;            /* text tokens after the video */
    int heads, head_dim, layers;
    int timer_intervals; /* attention intervals one forward times on CUDA */
} vs_joint_dit_shape;

/* Frees what the cache holds (not the cache) and zeroes it. */
void vs_joint_dit_cache_release(vs_joint_dit_cache *c);
/* Frees the forward's working memory (arena, RoPE tables, sparse attention state, timer) but keeps the attention
 * settings: the next vs_joint_dit_prepare makes them again (the pipeline calls it before the VAE decodes beside
 * the DiT's weights). */
void vs_joint_dit_cache_release_work(vs_joint_dit_cache *c);

/* The attention of the following forwards (vs_sparse_attention_settings): the sparse state is dropped, to be
 * made again by the next vs_joint_dit_prepare, unless the settings are the same. */
vs_status vs_joint_dit_set_attention(vs_joint_dit_cache *c, const vs_attention_params *params, const char *model);

/* Brings the cache to a shape: an arena of at least arena_bytes, RoPE tables of the grid, the sparse attention
 * of (grid, text) when the method is sparse (SVG's frames F, tokens per frame H x W and the text after them),
 * the timer on CUDA. */
vs_status vs_joint_dit_prepare(vs_joint_dit_cache *c, const vs_joint_dit_shape *s);

/* Tokens r0 .. r0 + n of a [1, T, dim] tensor, as a [1, n, dim] view. */
vs_tensor vs_joint_dit_tokens(const vs_tensor *t, int64_t r0, int64_t n);
/* Batch entry b of a contiguous [B, ...] tensor as a [1, ...] view, with `rows` rows in dimension 1 when > 0. */
vs_tensor vs_joint_dit_entry(const vs_tensor *t, int64_t b, int64_t rows);

/* After one entry's forward (status st): its attention seconds (the timer's intervals, or the host clock) and
 * the sparse method's statistics (density 1 and no heads when dense), both read and cleared even after a
 * failure; returns st, or the first error of reading them. */
vs_status vs_joint_dit_collect(const vs_attention_clock *clock, vs_sparse_attention *attention, vs_status st,
                               double *attention_s, vs_sparse_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
