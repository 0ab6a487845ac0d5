/* The T5-family text encoders: umT5 of Wan 2.1 (transformers' UMT5EncoderModel)
 * and T5 v1.1 of CogVideoX (T5EncoderModel), f32 on the CPU or bf16 on CUDA (one
 * model code path through src/ops/ops.h). Per layer, in the T5 convention:
 *     h = RMSNorm(x);  x += O . Attention(Q h, K h, V h; bias_layer + mask)
 *     h = RMSNorm(x);  x += Wo . (gelu_tanh(Wi0 h) * (Wi1 h))
 * with unscaled scores, a relative position bias (umT5: each layer its own;
 * T5: layer 0's table, the only one the checkpoint has, for every layer;
 * vs_umt5_config.shared_position_bias), padding keys masked out, and a final
 * RMSNorm.
 * On CUDA the weights and GEMM activations are BF16, the residual stream,
 * norms, position biases and the output F32. */
#ifndef VS_MODELS_COMMON_UMT5_H
#define VS_MODELS_COMMON_UMT5_H

#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_umt5_config {
    int vocab_size, d_model, d_kv, d_ff, num_heads, num_layers;
    int num_buckets, max_distance; /* relative_attention_num_buckets / _max_distance */
    float eps;                     /* layer_norm_epsilon */
    int shared_position_bias;      /* T5 (model_type "t5"): every layer uses layer 0's bias table; 0: umT5 */
} vs_umt5_config;

typedef struct vs_umt5 vs_umt5;

/* `dir`: the diffusers text_encoder/ folder (config.json + safetensors, any
 * float dtype; converted to f32 on the CPU, bf16 on CUDA but for the norms'
 * weights and the position bias tables, which stay f32). */
vs_status vs_umt5_load(vs_umt5 **out, const char *dir, vs_device device);
/* A model of `config`'s shapes with seeded random weights made on `device`
 * (benchmarks; no checkpoint): matrices uniform in +-1/sqrt(fan_in), the
 * embedding table in +-1, norm weights 1 +- 0.1, position biases +-0.1. */
vs_status vs_umt5_random(vs_umt5 **out, const vs_umt5_config *config, vs_device device, uint64_t seed);
/* dir/config.json's shape (vs_umt5_load reads it the same way). */
vs_status vs_umt5_read_config(const char *dir, vs_umt5_config *out);
/* Bytes on `device` of the weights and of the activations of one encode of
 * `batch` sequences of n tokens into a host output, from the config alone;
 * fp8: with the FP8 layers' input codes. */
void vs_umt5_memory(const vs_umt5_config *config, vs_device device, int fp8, int batch, int n, size_t *weights,
                    size_t *activations);
void vs_umt5_free(vs_umt5 *model);
const vs_umt5_config *vs_umt5_get_config(const vs_umt5 *model);
/* VS_PRECISION_FP8: the layers' feed-forward matrices (wi_0, wi_1, wo: two thirds of the weights) quantised
 * to E4M3 per output channel, in place; the attention projections stay BF16 (docs/fp8.md). The encodes
 * quantise the inputs of E4M3 matrices per token. DEFAULT keeps the weights as they are (E4M3 where an FP8
 * checkpoint stores them, with its scales, any of the seven matrices). */
vs_status vs_umt5_set_precision(vs_umt5 *model, vs_precision precision);

vs_device vs_umt5_device(const vs_umt5 *model);

/* last_hidden_state of `batch` sequences of n tokens: ids[batch * n] and
 * mask[batch * n] (1 token, 0 padding) on the host; out F32 [batch, n,
 * d_model], contiguous, on the CPU or the model's device. Ids must lie in the
 * vocabulary and every sequence must have a token. Not thread-safe (the
 * model keeps its activation buffer). */
vs_status vs_umt5_encode_batch(const vs_umt5 *model, const int32_t *ids, const int32_t *mask, int batch, int n,
                               vs_tensor *out);
/* The same for one sequence into host memory out[n * d_model]. */
vs_status vs_umt5_encode(const vs_umt5 *model, const int32_t *ids, const int32_t *mask, int n, float *out);

/* T5's bidirectional relative position bucket of key - query. */
int vs_umt5_relative_bucket(int relative_position, int num_buckets, int max_distance);

#ifdef __cplusplus
}
#endif
#endif
