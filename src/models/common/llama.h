/* The Llama decoder as a text encoder (transformers' LlamaModel: HunyuanVideo's
 * text_encoder/), f32 on the CPU or bf16 on CUDA through src/ops/ops.h. Per
 * layer:
 *     h = RMSNorm(x);  x += O . Attention(RoPE(Q h), RoPE(K h), V h; causal + padding mask)
 *     h = RMSNorm(x);  x += Down . (silu(Gate h) * (Up h))
 * with grouped-query attention (num_key_value_heads <= num_attention_heads),
 * rotate-half RoPE (rope_theta, optional "llama3" rope_scaling) at positions
 * 0..n-1, and a final RMSNorm. A pipeline takes hidden_states[-(skip + 1)]:
 * the output of layer num_hidden_layers - skip (skip >= 1, no final norm), or
 * the normed output of the last layer (skip 0); only the layers that feed it
 * are loaded.
 *
 * Layout tricks, done once at load: K and V rows are repeated per query head
 * (GQA as plain multi-head attention), Q and K rows are reordered within each
 * head so rotate-half RoPE becomes the rotation of interleaved pairs that
 * vs_op_qk_norm_rope applies, and 1/sqrt(head_dim) is folded into Q (the
 * attention op is unscaled; its position-bias table carries the causal mask). */
#ifndef VS_MODELS_COMMON_LLAMA_H
#define VS_MODELS_COMMON_LLAMA_H

#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_llama_config {
    int vocab_size, hidden_size, intermediate_size, num_layers, num_heads, num_kv_heads, head_dim;
    float eps, rope_theta;
    /* rope_scaling of type "llama3" (factor 0: none) */
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_positions;
} vs_llama_config;

typedef struct vs_llama vs_llama;

/* `dir`: a folder with config.json and (sharded) safetensors of a LlamaModel
 * or LlamaForCausalLM ("model." prefixes are accepted). `skip`: the
 * pipeline's num_hidden_layers_to_skip (0 .. num_hidden_layers - 1). */
vs_status vs_llama_load(vs_llama **out, const char *dir, vs_device device, int skip);
/* A model of `config` with seeded random weights (uniform, +-1/sqrt(fan-in); norms near 1), for benchmarks. */
vs_status vs_llama_random(vs_llama **out, const vs_llama_config *config, vs_device device, int skip, uint64_t seed);
void vs_llama_free(vs_llama *model);
const vs_llama_config *vs_llama_get_config(const vs_llama *model);

/* hidden_states[-(skip + 1)] of `batch` sequences of n tokens: ids and mask
 * [batch * n] on the host (mask 1 token, 0 padding); out F32 [batch, n,
 * hidden_size], contiguous, on the CPU or the model's device. Rows of padding
 * are not meaningful (callers mask them). Not thread-safe. */
vs_status vs_llama_encode_batch(const vs_llama *model, const int32_t *ids, const int32_t *mask, int batch, int n,
                                vs_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
