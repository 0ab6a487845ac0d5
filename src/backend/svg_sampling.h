/* How SVG's online profiling draws its query rows: a counter-based draw that
 * the CPU reference (src/backend/cpu/svg_profile.c) and the CUDA profiler
 * (src/backend/cuda/svg_profile.cu) evaluate identically. The settings are
 * the public vs_svg_config. */
#ifndef VS_BACKEND_SVG_SAMPLING_H
#define VS_BACKEND_SVG_SAMPLING_H

#include <stdint.h>

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

/* Checks the config against a sequence of seq_len tokens (F*P + C must equal it). */
vs_status vs_svg_config_validate(const vs_svg_config *cfg, int seq_len);

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
