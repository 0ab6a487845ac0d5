/* The CogVideoX 1.5 DiT's shape (diffusers CogVideoXTransformer3DModel), read from
 * the checkpoint's config.json; absent keys take that class's defaults. Only the
 * 1.5 layout is supported: patches of patch_size_t frames x patch_size^2 pixels
 * through a linear layer, and 3D RoPE instead of sin-cos position embeddings
 * (use_rotary_positional_embeddings). The 1.0 checkpoints (patch_size_t null)
 * get a one-line error. The image-to-video model differs by its input channels
 * (noise and image latents concatenated) and its `ofs` embedder. */
#ifndef VS_MODELS_COGVIDEOX_CONFIG_H
#define VS_MODELS_COGVIDEOX_CONFIG_H

#include "core/json.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_cogvideox_config {
    int in_channels, out_channels;
    int num_heads, head_dim, dim; /* dim = num_heads * head_dim */
    int num_layers;
    int mlp_dim;          /* 4 dim (FeedForward's default inner width) */
    int time_embed_dim;   /* width of the time embedding every modulation reads */
    int ofs_embed_dim;    /* the image-to-video model's ofs embedder; 0: none */
    int text_dim;         /* text_embed_dim: T5's hidden states */
    int text_length;      /* max_text_seq_length: the pipeline pads the prompt to this */
    int patch_size[3];    /* t, h, w: patch_size_t, patch_size, patch_size */
    int attention_bias;   /* q, k, v projections with a bias */
    double norm_eps;      /* the blocks' and the output's LayerNorms */
    int rope_axes[3];     /* frame, row, column dims of each head: head_dim / 4, 3 head_dim / 8 twice */
    double rope_theta;    /* 10000 */
} vs_cogvideox_config;

/* Reads `path` (a config.json). */
vs_status vs_cogvideox_config_load(const char *path, vs_cogvideox_config *cfg);
/* Reads an already parsed config object; `label` names it in errors. */
vs_status vs_cogvideox_config_parse(const vs_json *root, const char *label, vs_cogvideox_config *cfg);
/* A named configuration for random-weight benchmarks: "cogvideox1.5-5b" (text-to-video) and
 * "cogvideox1.5-5b-i2v" (image-to-video): 42 blocks, 48 heads x 64, the released config.json. */
vs_status vs_cogvideox_config_preset(const char *name, vs_cogvideox_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
