/* The HunyuanVideo DiT's shape (diffusers HunyuanVideoTransformer3DModel), read
 * from the checkpoint's config.json; absent keys take that class's defaults.
 * Text-to-video only: the image-conditioned variants (image_condition_type) are
 * refused with a one-line error. */
#ifndef VS_MODELS_HUNYUAN_CONFIG_H
#define VS_MODELS_HUNYUAN_CONFIG_H

#include "core/json.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_hunyuan_config {
    int in_channels, out_channels;
    int num_heads, head_dim, dim; /* dim = num_heads * head_dim */
    int num_layers;               /* dual-stream blocks */
    int num_single_layers;        /* single-stream blocks */
    int num_refiner_layers;       /* token refiner blocks */
    int mlp_dim;                  /* int(dim * mlp_ratio), the blocks' MLP width */
    int refiner_mlp_dim;          /* 4 dim (the refiner's fixed ratio) */
    int patch_size[3];            /* t, h, w: patch_size_t, patch_size, patch_size */
    int guidance_embeds;          /* a guidance embedder (embedded guidance) */
    int text_dim;                 /* text_embed_dim: the Llama hidden states */
    int pooled_dim;               /* pooled_projection_dim: CLIP's pooled output */
    double rope_theta;
    int rope_axes[3]; /* frame, row, column dims of each head, summing to head_dim */
} vs_hunyuan_config;

/* Reads `path` (a config.json). */
vs_status vs_hunyuan_config_load(const char *path, vs_hunyuan_config *cfg);
/* Reads an already parsed config object; `label` names it in errors. */
vs_status vs_hunyuan_config_parse(const vs_json *root, const char *label, vs_hunyuan_config *cfg);
/* A named configuration for random-weight benchmarks: "hunyuan13b" (the released
 * 13B text-to-video model: 20 dual + 40 single blocks, 24 heads x 128). */
vs_status vs_hunyuan_config_preset(const char *name, vs_hunyuan_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
