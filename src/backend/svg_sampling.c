#include "backend/svg_sampling.h"

#include <math.h>

#include "core/status.h"

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
