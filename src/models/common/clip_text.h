/* CLIP's text transformer (transformers' CLIPTextModel: HunyuanVideo's
 * text_encoder_2/), f32 on the CPU or bf16 on CUDA through src/ops/ops.h:
 *     x = token_embedding[ids] + position_embedding[0..n)
 *     per layer:  x += Out . Attention(Q h, K h, V h; causal),  h = LayerNorm1(x)
 *                 x += fc2 . act(fc1 h),                       h = LayerNorm2(x)
 *     last_hidden_state = final LayerNorm(x);  pooled = last_hidden_state at the EOS token
 * (the first eos_token_id, or the largest id when the config's eos_token_id is
 * the legacy 2). act: quick_gelu (x sigmoid(1.702 x), run as SiLU with 1.702
 * folded into fc1 and its inverse into fc2), or gelu_new / gelu_pytorch_tanh.
 * 1/sqrt(head_dim) is folded into q_proj; no padding mask (the pipeline passes none). */
#ifndef VS_MODELS_COMMON_CLIP_TEXT_H
#define VS_MODELS_COMMON_CLIP_TEXT_H

#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_clip_text_config {
    int vocab_size, hidden_size, intermediate_size, num_layers, num_heads, max_positions, eos_token_id;
    int quick_gelu; /* else the tanh approximation of gelu */
    float eps;
} vs_clip_text_config;

typedef struct vs_clip_text vs_clip_text;

/* `dir`: config.json + safetensors of a CLIPTextModel (a CLIPTextModelWithProjection's text weights load too). */
vs_status vs_clip_text_load(vs_clip_text **out, const char *dir, vs_device device);
/* A model of `config` with seeded random weights (uniform, +-1/sqrt(fan-in); norms near 1), for benchmarks. */
vs_status vs_clip_text_random(vs_clip_text **out, const vs_clip_text_config *config, vs_device device, uint64_t seed);
void vs_clip_text_free(vs_clip_text *model);
const vs_clip_text_config *vs_clip_text_get_config(const vs_clip_text *model);

/* pooler_output F32 [batch, hidden_size] into host memory `pooled`, and when
 * `hidden` is not NULL last_hidden_state [batch, n, hidden_size] (host), for
 * ids [batch * n] (host), n <= max_position_embeddings. Not thread-safe. */
vs_status vs_clip_text_encode(const vs_clip_text *model, const int32_t *ids, int batch, int n, float *pooled, float *hidden);

#ifdef __cplusplus
}
#endif
#endif
