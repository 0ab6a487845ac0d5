/* The Wan 2.1 DiT's shape, read from the checkpoint's config.json. Both the
 * diffusers WanTransformer3DModel keys and the original Wan release keys
 * (WanModel: dim, num_heads, in_dim, ...) are understood; absent keys take
 * the defaults of the class that wrote the file. */
#ifndef VS_MODELS_WAN_CONFIG_H
#define VS_MODELS_WAN_CONFIG_H

#include "core/json.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_wan_config {
    int patch_size[3];   /* t, h, w */
    int num_heads;
    int head_dim;
    int dim;             /* num_heads * head_dim */
    int in_channels, out_channels;
    int text_dim;        /* width of the text encoder's embeddings */
    int freq_dim;        /* sinusoidal timestep embedding width */
    int ffn_dim;
    int num_layers;
    int cross_attn_norm; /* affine LayerNorm before cross-attention */
    float eps;           /* of every LayerNorm and RMSNorm */
    int rope_max_seq_len;
} vs_wan_config;

/* Reads `path` (a config.json). */
vs_status vs_wan_config_load(const char *path, vs_wan_config *cfg);
/* Reads an already parsed config object; `label` names it in errors. */
vs_status vs_wan_config_parse(const vs_json *root, const char *label, vs_wan_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
