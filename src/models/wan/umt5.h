/* The umT5 text encoder of Wan 2.1 (transformers' UMT5EncoderModel), f32 on
 * the CPU. Per layer, in the T5 convention:
 *     h = RMSNorm(x);  x += O . Attention(Q h, K h, V h; bias_layer + mask)
 *     h = RMSNorm(x);  x += Wo . (gelu_tanh(Wi0 h) * (Wi1 h))
 * with unscaled scores, a relative position bias of its own in every layer
 * (umT5; T5 shares layer 0's), padding keys masked out, and a final RMSNorm. */
#ifndef VS_MODELS_WAN_UMT5_H
#define VS_MODELS_WAN_UMT5_H

#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_umt5_config {
    int vocab_size, d_model, d_kv, d_ff, num_heads, num_layers;
    int num_buckets, max_distance; /* relative_attention_num_buckets / _max_distance */
    float eps;                     /* layer_norm_epsilon */
} vs_umt5_config;

typedef struct vs_umt5 vs_umt5;

/* `dir`: the diffusers text_encoder/ folder (config.json + safetensors,
 * any float dtype; converted to f32). */
vs_status vs_umt5_load(vs_umt5 **out, const char *dir);
void vs_umt5_free(vs_umt5 *model);
const vs_umt5_config *vs_umt5_get_config(const vs_umt5 *model);

/* last_hidden_state for one sequence: ids[n], mask[n] (1 token, 0 padding),
 * out[n * d_model]. Ids must lie in the vocabulary. */
vs_status vs_umt5_encode(const vs_umt5 *model, const int32_t *ids, const int32_t *mask, int n, float *out);

/* T5's bidirectional relative position bucket of key - query. */
int vs_umt5_relative_bucket(int relative_position, int num_buckets, int max_distance);

#ifdef __cplusplus
}
#endif
#endif
