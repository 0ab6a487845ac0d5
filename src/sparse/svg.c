#include "sparse/svg.h"

#include <math.h>
#include <stdlib.h>

#include "core/status.h"

vs_svg_config vs_svg_config_default(int frames, int tokens_per_frame, int text_tokens, double density) {
    vs_svg_config cfg = {0};
    cfg.frames = frames;
    cfg.tokens_per_frame = tokens_per_frame;
    cfg.text_tokens = text_tokens;
    cfg.band_frames = 0;
    cfg.density = density;
    cfg.samples = 64;
    cfg.sample_window = 10000;
    cfg.seed = 0;
    return cfg;
}

vs_status vs_svg_config_validate(const vs_svg_config *cfg, int seq_len) {
    if (!cfg) return vs_fail(VS_ERR_INVALID_ARG, "svg: config is required");
    if (cfg->frames < 1 || cfg->tokens_per_frame < 1 || cfg->text_tokens < 0)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "svg: frames %d and tokens per frame %d must be positive, text tokens %d >= 0",
                       cfg->frames, cfg->tokens_per_frame, cfg->text_tokens);
    int64_t total = (int64_t)cfg->frames * cfg->tokens_per_frame + cfg->text_tokens;
    if (total != seq_len)
        return vs_fail(VS_ERR_SHAPE,
                       "svg: %d frames x %d tokens + %d text tokens = %lld, but the sequence has %d",
                       cfg->frames, cfg->tokens_per_frame, cfg->text_tokens, (long long)total, seq_len);
    if (!(cfg->band_frames >= 0) || isinf(cfg->band_frames))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "svg: band_frames %g must be finite and >= 0 (0 derives it from density)",
                       cfg->band_frames);
    if (cfg->band_frames == 0 && !(cfg->density > 0 && cfg->density <= 1))
        return vs_fail(VS_ERR_INVALID_ARG, "svg: density %g must be in (0, 1]", cfg->density);
    if (cfg->samples < 1 || cfg->sample_window < 1)
        return vs_fail(VS_ERR_INVALID_ARG, "svg: samples %d and sample_window %d must be positive",
                       cfg->samples, cfg->sample_window);
    if (cfg->head_offset < 0 || cfg->model_heads < 0 || (cfg->model_heads == 0 && cfg->head_offset != 0))
        return vs_fail(VS_ERR_INVALID_ARG, "svg: head_offset %d and model_heads %d must be >= 0 (offset 0 without "
                       "model_heads)", cfg->head_offset, cfg->model_heads);
    return VS_OK;
}

int64_t vs_svg_band_tokens(const vs_svg_config *cfg) {
    double width; /* m * P, in tokens */
    if (cfg->band_frames > 0) {
        width = cfg->band_frames * cfg->tokens_per_frame;
    } else {
        double len = (double)cfg->frames * cfg->tokens_per_frame + cfg->text_tokens;
        double video_density = cfg->density - 2.0 * cfg->text_tokens / len;
        width = video_density > 0 ? len * (1.0 - sqrt(1.0 - video_density)) : 0.0;
    }
    return (int64_t)ceil(width / VS_ATTN_BLOCK) * VS_ATTN_BLOCK;
}

static int block_allowed(const vs_svg_config *cfg, int64_t band, int seq_len, int qb, int kb) {
    int64_t video = (int64_t)cfg->frames * cfg->tokens_per_frame;
    int64_t q0 = (int64_t)qb * VS_ATTN_BLOCK, k0 = (int64_t)kb * VS_ATTN_BLOCK;
    int64_t q1 =
        (q0 + VS_ATTN_BLOCK < seq_len ? q0 + VS_ATTN_BLOCK : seq_len) - 1; /* last position, inclusive */
    int64_t k1 = (k0 + VS_ATTN_BLOCK < seq_len ? k0 + VS_ATTN_BLOCK : seq_len) - 1;
    if (q1 >= video || k1 >= video) return 1;                /* the block holds a text row or column: dense */
    if (k0 < cfg->tokens_per_frame) return 1;                /* first-frame sink */
    int64_t gap = k0 > q1 ? k0 - q1 : q0 > k1 ? q0 - k1 : 0; /* closest |q - k| inside the block */
    return gap <= band;
}

int vs_svg_block_allowed(const vs_svg_config *cfg, int seq_len, int qb, int kb) {
    return block_allowed(cfg, vs_svg_band_tokens(cfg), seq_len, qb, kb);
}

static int64_t block_size(int b, int seq_len) {
    int64_t start = (int64_t)b * VS_ATTN_BLOCK;
    return seq_len - start < VS_ATTN_BLOCK ? seq_len - start : VS_ATTN_BLOCK;
}

vs_status vs_svg_blocks_build(const vs_svg_config *cfg, int seq_len, vs_svg_blocks *out) {
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "svg: output block list is required");
    *out = (vs_svg_blocks){0};
    if (seq_len < 1) return vs_fail(VS_ERR_SHAPE, "svg: sequence length %d must be positive", seq_len);
    VS_TRY(vs_svg_config_validate(cfg, seq_len));
    int nb = (int)(((int64_t)seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK);
    int64_t band = vs_svg_band_tokens(cfg);

    int64_t nnz = 0;
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < nb; j++)
            nnz += block_allowed(cfg, band, seq_len, i, j);
    if (nnz > INT32_MAX)
        return vs_fail(VS_ERR_UNSUPPORTED, "svg: %lld blocks for a sequence of %d do not fit 32-bit indices",
                       (long long)nnz, seq_len);

    out->row_ptr = malloc(sizeof(int32_t) * ((size_t)nb + 1));
    out->col_idx = malloc(sizeof(int32_t) * (nnz > 0 ? (size_t)nnz : 1));
    if (!out->row_ptr || !out->col_idx) {
        vs_svg_blocks_free(out);
        return vs_fail(VS_ERR_OOM, "svg: no memory for a block list of %d x %d blocks", nb, nb);
    }
    int32_t n = 0;
    double elements = 0;
    for (int i = 0; i < nb; i++) {
        out->row_ptr[i] = n;
        for (int j = 0; j < nb; j++) {
            if (!block_allowed(cfg, band, seq_len, i, j)) continue;
            out->col_idx[n++] = j;
            elements += (double)block_size(i, seq_len) * (double)block_size(j, seq_len);
        }
    }
    out->row_ptr[nb] = n;
    out->view = (vs_attn_blocks){nb, nb, out->row_ptr, out->col_idx};
    out->density = elements / ((double)seq_len * seq_len);
    return VS_OK;
}

void vs_svg_blocks_free(vs_svg_blocks *blocks) {
    if (!blocks) return;
    free(blocks->row_ptr);
    free(blocks->col_idx);
    *blocks = (vs_svg_blocks){0};
}

/* Row i's (sink, half) when its key blocks are [0, sink) and [i - half, i + half] as vs_svg_band
 * wants; 0 when the row has another shape. */
static int band_row(const vs_attn_blocks *b, int full_blocks, int i, int *sink, int *half) {
    const int32_t *col = b->col_idx + b->row_ptr[i];
    const int n = b->row_ptr[i + 1] - b->row_ptr[i];
    int s = 0;
    while (s < n && col[s] == s) s++; /* the run that starts at key block 0 */
    const int band = n - s, lo = band > 0 ? col[s] : 0, hi = lo + band - 1;
    if (s == 0 || band == 0 || lo <= s || col[n - 1] != hi || (band - 1) % 2 || lo + (band - 1) / 2 != i ||
        hi >= full_blocks || i >= full_blocks)
        return 0;
    *sink = s, *half = (band - 1) / 2;
    return 1;
}

vs_svg_band vs_svg_find_band(const vs_attn_blocks *blocks, int seq_len) {
    vs_svg_band best = {0, 0, 0, 0}, run = {0, 0, 0, 0};
    const int full_blocks = seq_len / VS_ATTN_BLOCK;
    for (int i = 0; i < blocks->num_q_blocks; i++) {
        int sink, half;
        if (!band_row(blocks, full_blocks, i, &sink, &half)) {
            run.count = 0;
            continue;
        }
        if (run.count > 0 && run.sink == sink && run.half == half) run.count++;
        else run = (vs_svg_band){i, 1, sink, half};
        if (run.count > best.count) best = run;
    }
    return best;
}

vs_status vs_svg_blocks_without_rows(const vs_attn_blocks *blocks, int seq_len, int first, int count,
                                     vs_svg_blocks *out) {
    *out = (vs_svg_blocks){0};
    const int nb = blocks->num_q_blocks;
    out->row_ptr = malloc(sizeof(int32_t) * ((size_t)nb + 1));
    out->col_idx = malloc(sizeof(int32_t) * ((size_t)blocks->row_ptr[nb] + 1));
    if (!out->row_ptr || !out->col_idx) {
        vs_svg_blocks_free(out);
        return vs_fail(VS_ERR_OOM, "svg: no memory for a block list of %d rows", nb);
    }
    int32_t n = 0;
    double elements = 0;
    for (int i = 0; i < nb; i++) {
        out->row_ptr[i] = n;
        if (i >= first && i < first + count) continue;
        for (int e = blocks->row_ptr[i]; e < blocks->row_ptr[i + 1]; e++) {
            out->col_idx[n++] = blocks->col_idx[e];
            elements += (double)block_size(i, seq_len) * (double)block_size(blocks->col_idx[e], seq_len);
        }
    }
    out->row_ptr[nb] = n;
    out->view = (vs_attn_blocks){nb, blocks->num_k_blocks, out->row_ptr, out->col_idx};
    out->density = elements / ((double)seq_len * seq_len);
    return VS_OK;
}
