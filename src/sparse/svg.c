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

vs_status vs_svg_blocks_build(const vs_svg_config *cfg, int seq_len, vs_attn_block_list *out) {
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "svg: output block list is required");
    *out = (vs_attn_block_list){0};
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
        vs_attn_block_list_free(out);
        return vs_fail(VS_ERR_OOM, "svg: no memory for a block list of %d x %d blocks", nb, nb);
    }
    int32_t n = 0;
    double elements = 0;
    for (int i = 0; i < nb; i++) {
        out->row_ptr[i] = n;
        for (int j = 0; j < nb; j++) {
            if (!block_allowed(cfg, band, seq_len, i, j)) continue;
            out->col_idx[n++] = j;
            elements += (double)vs_attn_block_tokens(i, seq_len) * (double)vs_attn_block_tokens(j, seq_len);
        }
    }
    out->row_ptr[nb] = n;
    out->view = (vs_attn_blocks){nb, nb, out->row_ptr, out->col_idx};
    out->density = elements / ((double)seq_len * seq_len);
    return VS_OK;
}

