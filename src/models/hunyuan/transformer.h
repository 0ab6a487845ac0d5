/* The HunyuanVideo text-to-video DiT (diffusers HunyuanVideoTransformer3DModel):
 * f32 on the CPU; bf16 weights and activations with f32 accumulation, an f32
 * residual stream and f32 norms / modulation / RoPE / embedders on CUDA; one
 * forward written with src/ops/ops.h serves both. A forward maps noisy latents
 * [B, C, F, H, W] at one timestep per batch entry, conditioned on the Llama text
 * states [B, L, text_dim] with their mask, CLIP's pooled vector [B, pooled_dim]
 * and the embedded guidance, to the flow-matching velocity of the latents' shape.
 *
 *   cond     temb = MLP(sin(t)) + MLP(sin(guidance)) + MLP_silu(pooled)       [B, dim]
 *   text     refiner: c = Linear(text); per refiner block, with r = MLP(sin(t)) + MLP_silu(mean of the valid
 * text): c += g1 * Attn(LN_affine(c));  c += g2 * FFN_silu(LN_affine(c)),  (g1, g2) = Linear(silu(r)) video
 * x = Conv3d_patch(latents); 3D RoPE (axes 16/56/56, theta 256) on the video tokens only dual     (per
 * stream: shift, scale, gate, shift2, scale2, gate2) = Linear(silu(temb)), one for video, one for text [x; c]
 * += gate * Proj(JointAttn(LN(.) * (1 + scale) + shift))  per-stream q/k/v, per-head RMSNorm q/k [x; c] +=
 * gate2 * FFN_gelu_tanh(LN(.) * (1 + scale2) + shift2)  per-stream FFN single   s = [x; c]; (shift, scale,
 * gate) = Linear(silu(temb)); h = LN(s) * (1 + scale) + shift s += gate * Linear([Attn(h);
 * gelu_tanh(Linear(h))])        attention and MLP in parallel output   (scale, shift) = Linear(silu(temb));
 * unpatchify(Linear(LN(x) * (1 + scale) + shift))
 *
 * Padded text. Joint attention has the video tokens first and the text after
 * them; diffusers masks the keys past the valid text (the mask counts the valid
 * tokens, padding at the end), and the refiner masks padded queries and keys.
 * Padded tokens thus never reach a valid token, so each batch entry runs on its
 * video tokens and its valid text tokens only: the same numbers, a shorter
 * sequence, and the attention (dense or sparse) needs no key mask. Batch entries
 * run one after another (their text lengths may differ).
 *
 * Attention layers are numbered 0 .. num_layers - 1 for the dual-stream blocks and
 * num_layers .. for the single-stream ones, for the sparse method's warm-up. */
#ifndef VS_MODELS_HUNYUAN_TRANSFORMER_H
#define VS_MODELS_HUNYUAN_TRANSFORMER_H

#include "models/family.h"
#include "models/hunyuan/config.h"
#include "models/hunyuan/weights.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_hunyuan_cache vs_hunyuan_cache;

/* A test's look at the forward's intermediates (vs_hunyuan_model_set_probe): called in
 * each batch entry's forward with a name and a tensor on the model's device, computed
 * and synced, valid only during the call, in this order:
 *   temb [1, dim]                      f32: timestep + guidance + pooled-text embedding
 *   context [1, Lv, dim]               f32: the valid text tokens after the token refiner
 *   tokens [1, N, dim]                 f32: the patch embedding
 *   dual.<i>, single.<i> [1, N + Lv, dim]  f32: the residual stream after block i (video, then text)
 *   norm_out [1, N, dim]               the final modulated norm (activation dtype)
 * tools/make_hunyuan_fixtures.py saves diffusers' values under the same names. */
typedef void (*vs_hunyuan_probe_fn)(void *user, const char *name, const vs_tensor *t);

typedef struct vs_hunyuan_model {
    vs_hunyuan_config config;
    vs_hunyuan_weights weights;
    vs_device device;
    vs_hunyuan_cache *cache; /* activations, RoPE tables, sparse attention of the last shape */
    vs_hunyuan_probe_fn probe;
    void *probe_user;
} vs_hunyuan_model;

/* One forward's inputs. */
typedef struct vs_hunyuan_input {
    const vs_tensor *latents;   /* f32 [B, in_channels, F, H, W], F, H, W multiples of the patch */
    const float *timesteps;     /* B host values */
    const float *guidance;      /* B host values (guidance_scale * 1000); required with guidance_embeds */
    const vs_tensor *text;      /* f32 [B, L, text_dim] */
    const vs_tensor *text_mask; /* I32 [B, L]: each row ones then zeros, at least one; NULL: all valid */
    const vs_tensor *pooled;    /* f32 [B, pooled_dim] */
    int step, num_steps;        /* where the call sits in the denoising loop (the sparse warm-up) */
} vs_hunyuan_input;

/* `path`: a transformer folder (config.json + diffusion_pytorch_model*.safetensors) or a
 * diffusers pipeline folder holding transformer/. */
vs_status vs_hunyuan_model_load(const char *path, vs_device device, vs_hunyuan_model **out);
/* A model of `config`'s shapes with seeded random weights made on `device`. */
vs_status vs_hunyuan_model_random(const vs_hunyuan_config *config, vs_device device, uint64_t seed,
                                  vs_hunyuan_model **out);
void vs_hunyuan_model_free(vs_hunyuan_model *model);
/* Calls fn at the intermediates listed at vs_hunyuan_probe_fn (NULL: none again). */
void vs_hunyuan_model_set_probe(vs_hunyuan_model *model, vs_hunyuan_probe_fn fn, void *user);
/* Frees the forward's working memory (arena, RoPE tables, sparse attention state); weights and attention
 * settings stay, and the next forward makes the rest again. */
void vs_hunyuan_model_release_work(vs_hunyuan_model *model);
/* How joint attention runs in the following forwards: a sparse method by name with its
 * settings, resolved (no negative numbers); NULL or "dense": dense. A sparse method keeps
 * the first floor(dense_steps * num_steps) steps and floor(dense_layers * layers) layers
 * dense (this family's reference: 0.1 and 0.03, density 0.25: vs_hunyuan_svg_defaults). */
vs_status vs_hunyuan_model_set_attention(vs_hunyuan_model *model, const vs_attention_params *params);
/* The reference's SVG settings for HunyuanVideo: svg, kept fraction 0.25, warm-up 0.1 of the
 * steps and 0.03 of the layers. */
vs_attention_params vs_hunyuan_svg_defaults(void);

/* out: f32 contiguous [B, out_channels, F, H, W]. Tensors on the CPU or the model's
 * device; `timing` may be NULL. */
vs_status vs_hunyuan_forward(const vs_hunyuan_model *model, const vs_hunyuan_input *in, vs_tensor *out,
                             vs_dit_timing *timing);

/* TeaCache (step caching, pipeline/cache.h) as TeaCache4HunyuanVideo/teacache_sample_video.py watches this
 * model: the first dual-stream block's modulated input of the video tokens,
 *     LN(Conv3d_patch(latents)) * (1 + scale) + shift,  (shift, scale) = its first chunks of Linear(silu(temb))
 * of every batch entry (text not needed), into `signal`: [B * N * dim] it allocates on the model's device in
 * its activation dtype (BF16 on the GPU, where the step cache reduces it: 0.7 GB a 720p entry stays there). */
vs_status vs_hunyuan_teacache_signal(const vs_hunyuan_model *model, const vs_hunyuan_input *in, vs_tensor *signal);
/* The authors' TeaCache fit for HunyuanVideo T2V (recognised by the transformer's shape), or VS_ERR_UNSUPPORTED. */
vs_status vs_hunyuan_teacache_fit(const vs_hunyuan_config *config, vs_teacache_fit *out);
/* HunyuanVideoPipeline's default guidance_scale 6, embedded as guidance x 1000. */
#define VS_HUNYUAN_DEFAULT_GUIDANCE 6000.0f
/* models/family.h's dit_teacache for this family (in->guidance NULL: the default above). */
vs_status vs_hunyuan_dit_teacache(void *model, const vs_dit_input *in, vs_tensor *signal, vs_teacache_fit *fit);

#ifdef __cplusplus
}
#endif
#endif
