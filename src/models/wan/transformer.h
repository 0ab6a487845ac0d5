/* The Wan 2.1 text-to-video DiT (diffusers WanTransformer3DModel): f32 on
 * the CPU, bf16 weights and activations with f32 accumulation, an f32
 * residual stream and f32 norms / modulation / RoPE / time embedding on
 * CUDA; one forward written with src/ops/ops.h serves both. One forward maps noisy latents [B, C, F, H, W] at one timestep
 * per batch entry, conditioned on text embeddings [B, L, text_dim], to the
 * flow-matching velocity of the same shape as the latents.
 *
 *   tokens   x = Conv3d_patch(latents)                    [B, N, dim], N = F/pt * H/ph * W/pw
 *   time     e = MLP(sinusoid(t)); m = Linear(silu(e))     [B, dim], [B, 6, dim]
 *   text     c = MLP_gelu_tanh(text)                       [B, L, dim]
 *   block    (shift, scale, gate, c_shift, c_scale, c_gate) = table + m
 *            x += gate   * SelfAttn(LN(x) * (1 + scale) + shift)      (RMSNorm q/k, 3D RoPE)
 *            x +=          CrossAttn(LN_affine(x), c)                 (RMSNorm q/k)
 *            x += c_gate * FFN_gelu_tanh(LN(x) * (1 + c_scale) + c_shift)
 *   output   (shift, scale) = head_table + e; unpatchify(Linear(LN(x) * (1 + scale) + shift))
 */
#ifndef VS_MODELS_WAN_TRANSFORMER_H
#define VS_MODELS_WAN_TRANSFORMER_H

#include "models/family.h"
#include "models/wan/config.h"
#include "models/wan/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_wan_cache vs_wan_cache;
typedef struct vs_comm vs_comm;

/* A test's look at the forward's intermediates (vs_wan_model_set_probe): called during
 * each forward with a name and the tensor on the model's device, computed and synced,
 * valid only during the call:
 *   temb [B, dim], timestep_proj [B, 6, dim]          f32: the time embedding and its projection
 *   context [B, L, dim]                                the text after the text embedder
 *   tokens [B, N, dim]                                 f32: the patch embedding
 *   block.<i>.after_self_attn, block.<i>.after_cross_attn, block.<i>.after_ffn [B, N, dim]
 *                                                      f32: the residual stream in block i
 *   head [B, N, out_channels * patch volume]           the output layer, before unpatchify
 * in that order. Non-f32 ones are in the activation dtype (bf16 on CUDA); with a
 * communicator, N is this rank's tokens. tools/make_wan_fixtures.py saves diffusers'
 * values under the same names. */
typedef void (*vs_wan_probe_fn)(void *user, const char *name, const vs_tensor *t);

typedef struct vs_wan_model {
    vs_wan_config config;
    vs_wan_weights weights;
    vs_wan_layout layout; /* of the checkpoint it came from */
    vs_device device;
    /* Reused between forwards: the activation arena (grown on demand), RoPE tables
     * and the sparse attention of the last shape, attention timers. One forward at
     * a time per model. */
    vs_wan_cache *cache;
    vs_comm *comm; /* sequence parallelism (vs_wan_model_set_comm); NULL: one rank */
    vs_wan_probe_fn probe; /* vs_wan_model_set_probe; NULL: none */
    void *probe_user;
} vs_wan_model;

/* `path`: a transformer folder (config.json + diffusion_pytorch_model*.safetensors, in
 * either layout) or a diffusers pipeline folder holding transformer/. Weights are
 * converted to f32 on the CPU, bf16 on CUDA. */
vs_status vs_wan_model_load(const char *path, vs_device device, vs_wan_model **out);
/* The same with the blocks' linear layers at `precision`: FP8 quantises each as it loads (docs/memory.md), so
 * the load's peak is the FP8 model plus one BF16 weight, not the BF16 model. */
vs_status vs_wan_model_load_as(const char *path, vs_device device, vs_precision precision, vs_wan_model **out);
/* A model of `config`'s shapes with seeded random weights made on `device`
 * (vs_wan_weights_random): for benchmarks and tests, no checkpoint needed. */
vs_status vs_wan_model_random(const vs_wan_config *config, vs_device device, uint64_t seed, vs_wan_model **out);
/* The same, quantised as made (as vs_wan_model_load_as). */
vs_status vs_wan_model_random_as(const vs_wan_config *config, vs_device device, uint64_t seed, vs_precision precision,
                                 vs_wan_model **out);
void vs_wan_model_free(vs_wan_model *model);
/* Frees the forward's working memory (activation arena, RoPE tables, sparse attention state); the weights and
 * the attention settings stay, and the next forward makes the rest again. */
void vs_wan_model_release_work(vs_wan_model *model);
/* Runs the model's forwards sequence-parallel (Ulysses) as one rank of `comm`
 * (borrowed; NULL: alone again): each rank keeps about N/P video tokens and,
 * inside self-attention, all N tokens of about H/P heads (sizes differ by at
 * most one where P does not divide them), exchanged by all-to-all around it;
 * cross-attention and the FFN run on the rank's tokens. Every rank passes the
 * same inputs and gets the whole output. All ranks' models must be equal
 * (same weights) and make the same calls. docs/multi-gpu.md. */
vs_status vs_wan_model_set_comm(vs_wan_model *model, vs_comm *comm);
/* Calls fn(user, name, tensor) at the intermediates listed at vs_wan_probe_fn in every
 * forward from now on (for tests; fn NULL: none again, and no cost). */
void vs_wan_model_set_probe(vs_wan_model *model, vs_wan_probe_fn fn, void *user);

/* The precision of the blocks' linear layers from now on: VS_PRECISION_FP8 quantises their weights to
 * E4M3 in place (vs_wan_weights_quantize_fp8), VS_PRECISION_FP8_FFN only the feed-forward pair's; the forwards
 * then quantise those layers' inputs per token. VS_PRECISION_DEFAULT keeps the weights as they are (BF16 /
 * F32, or E4M3 where the checkpoint stores FP8 weights); quantised layers are not restored.
 * vs_wan_model_precision: FP8 when every block linear is E4M3, FP8_FFN when every block's feed-forward pair
 * is, else DEFAULT (a checkpoint with some blocks in E4M3 and others not included). */
vs_status vs_wan_model_set_precision(vs_wan_model *model, vs_precision precision);
vs_precision vs_wan_model_precision(const vs_wan_model *model);

/* How self-attention runs in the following forwards: a sparse method of
 * src/sparse/method.h by name with its settings, resolved (no negative
 * numbers; vs_t2v_resolve_attention fills the model's defaults). NULL or
 * method "dense": dense everywhere. A sparse method follows DESIGN.md's
 * warm-up: at denoising step `step` of `num_steps` (vs_wan_forward), the
 * first floor(dense_steps * num_steps) steps and the first
 * floor(dense_layers * num_layers) layers stay dense; the other layers plan
 * (SVG: profile every (batch entry, head) online) and attend with the method.
 * The method keeps one state per layer across forwards of the same shape. */
vs_status vs_wan_model_set_attention(vs_wan_model *model, const vs_attention_params *params);

/* out = model(latents, timesteps, text). latents and out: f32 contiguous
 * [B, in_channels, F, H, W] / [B, out_channels, F, H, W] with F, H, W multiples
 * of the patch size; timesteps: B host values; text: f32 [B, L, text_dim].
 * The tensors may be on the CPU or on the model's device (a CUDA model copies
 * host tensors in and out). step, num_steps: where this forward sits in the
 * denoising loop, for the attention's warm-up (vs_wan_model_set_attention);
 * `timing` may be NULL. */
vs_status vs_wan_forward(const vs_wan_model *model, const vs_tensor *latents, const float *timesteps,
                         const vs_tensor *text, int step, int num_steps, vs_tensor *out, vs_dit_timing *timing);

/* out (host, dim values) = the time embedding `temb` every block is modulated with at `timestep` (the signal
 * TeaCache watches). */
vs_status vs_wan_time_embedding(const vs_wan_model *model, float timestep, float *out);

/* TeaCache's published calibration for the checkpoint of `config`'s shape (models/wan/family.c), or
 * VS_ERR_UNSUPPORTED naming the ones that have one. */
vs_status vs_wan_teacache_fit(const vs_wan_config *config, vs_teacache_fit *out);

/* Bytes on `device` of the weights and of one forward's activations (the arena and the RoPE tables) for host
 * latents of shape `latents` [B, C, F, H, W] and text_len text tokens, one rank, from the config alone, at
 * `precision` (FP8: with the quantised layers' input codes). A sparse method's state is the pipeline's to add
 * (vs_dit_attention_memory); library workspaces are not counted. */
vs_status vs_wan_memory(const vs_wan_config *config, vs_device device, vs_precision precision,
                        const int64_t latents[5], int64_t text_len, size_t *weights, size_t *activations);

#ifdef __cplusplus
}
#endif
#endif
