/* The CogVideoX 1.5 DiT (diffusers CogVideoXTransformer3DModel with patch_size_t and
 * rotary embeddings): f32 on the CPU; bf16 weights and activations with f32
 * accumulation, an f32 residual stream and f32 norms / modulation / RoPE / time
 * embedding on CUDA; one forward written with src/ops/ops.h serves both. A forward
 * maps noisy latents [B, C, F, H, W] at one timestep per batch entry, conditioned
 * on T5's states [B, L, text_dim] (all L tokens: the pipeline pads the prompt to
 * 226 and masks nothing), to the velocity-parameterised output of [B, C', F, H, W].
 *
 *   cond    temb = MLP(sin_dim(t)) (+ MLP(sin(ofs)) for image-to-video)            [B, T]
 *   tokens  x = Linear(patches(latents))  (patch pt x p x p);  c = Linear(text)
 *   block   (shift, scale, gate, c_shift, c_scale, c_gate) = Linear(silu(temb))   expert adaLN
 *           h = LN(x) (1 + scale) + shift;  h_c = LN(c) (1 + c_scale) + c_shift    one affine LN
 *           q, k, v = Linear([h_c; h]); per-head LayerNorm of q and k; 3D RoPE on the video rows
 *           a = Attn(q, k, v) over text and video;  x += gate Out(a_x);  c += c_gate Out(a_c)
 *           the same with norm2 around one FFN (GELU-tanh) shared by both streams
 *   output  (shift, scale) = Linear(silu(temb)); unpatchify(Linear(LN(LN_final(x)) (1 + scale) + shift))
 *
 * Token order. diffusers puts the text first; attention without a mask gives each
 * token the same result whatever the order of the keys, and every other layer works
 * token by token, so this forward keeps the video first and the text after it in
 * its buffers: [x; c]. Numbers are the same, and SVG's masks and layout apply as
 * they are written for a joint sequence (sparse/svg.h): the text rows and columns
 * dense, the band and the first-frame sink over the video, temporal heads permuting
 * the video part only.
 *
 * 3D RoPE as CogVideoXPipeline computes it for 1.5 (get_3d_rotary_pos_embed with
 * grid_type "slice"): integer positions along frames, rows and columns of the
 * patched grid, axes head_dim / 4, 3 head_dim / 8, 3 head_dim / 8, theta 1e4. */
#ifndef VS_MODELS_COGVIDEOX_TRANSFORMER_H
#define VS_MODELS_COGVIDEOX_TRANSFORMER_H

#include "models/cogvideox/config.h"
#include "models/cogvideox/weights.h"
#include "models/common/joint_dit.h"
#include "models/family.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A test's look at the forward's intermediates (vs_cogvideox_model_set_probe): called in each batch
 * entry's forward with a name and a tensor on the model's device, computed and synced, valid only during
 * the call, in this order:
 *   temb [1, time_embed_dim]   f32: the time (+ ofs) embedding
 *   tokens [1, N + L, dim]     f32: the patch and text embeddings, video first
 *   block.<i> [1, N + L, dim]  f32: the residual stream after block i (video, then text)
 *   norm_out [1, N, dim]       the final modulated norm (activation dtype)
 * tools/make_cogvideox_fixtures.py saves diffusers' values under the same names (in this token order). */
typedef void (*vs_cogvideox_probe_fn)(void *user, const char *name, const vs_tensor *t);

typedef struct vs_cogvideox_model {
    vs_cogvideox_config config;
    vs_cogvideox_weights weights;
    vs_device device;
    vs_joint_dit_cache *cache; /* arena, RoPE tables, attention settings and sparse state of the last shape */
    vs_cogvideox_probe_fn probe;
    void *probe_user;
} vs_cogvideox_model;

/* The I2V pipeline's ofs value (CogVideoXImageToVideoPipeline: latents.new_full((1,), 2.0)). */
#define VS_COGVIDEOX_DEFAULT_OFS 2.0f

/* One forward's inputs. */
typedef struct vs_cogvideox_input {
    const vs_tensor *latents; /* f32 [B, in_channels, F, H, W], F a multiple of patch_size_t, H and W of
                                 patch_size (image-to-video: noise and image latents concatenated) */
    const float *timesteps;   /* B host values */
    const float *ofs;         /* B host values for a model with ofs_embed_dim; NULL: 2.0 */
    const vs_tensor *text;    /* f32 [B, L, text_dim] */
    int step, num_steps;      /* where the call sits in the denoising loop (the sparse warm-up) */
} vs_cogvideox_input;

/* `path`: a transformer folder (config.json + diffusion_pytorch_model*.safetensors) or a
 * diffusers pipeline folder holding transformer/. */
vs_status vs_cogvideox_model_load(const char *path, vs_device device, vs_cogvideox_model **out);
/* A model of `config`'s shapes with seeded random weights made on `device`. */
vs_status vs_cogvideox_model_random(const vs_cogvideox_config *config, vs_device device, uint64_t seed,
                                    vs_cogvideox_model **out);
void vs_cogvideox_model_free(vs_cogvideox_model *model);
/* Calls fn at the intermediates listed at vs_cogvideox_probe_fn (NULL: none again). */
void vs_cogvideox_model_set_probe(vs_cogvideox_model *model, vs_cogvideox_probe_fn fn, void *user);
/* How joint attention runs in the following forwards: a sparse method by name with its settings,
 * resolved (no negative numbers); NULL or "dense": dense. */
vs_status vs_cogvideox_model_set_attention(vs_cogvideox_model *model, const vs_attention_params *params);
/* The reference's SVG settings for CogVideoX 1.5: svg, kept fraction 0.25, warm-up 0.2 of the steps and
 * 0.025 of the layers. */
vs_attention_params vs_cogvideox_svg_defaults(void);

/* out: f32 contiguous [B, out_channels, F, H, W]. Tensors on the CPU or the model's device; `timing` may
 * be NULL. */
vs_status vs_cogvideox_forward(const vs_cogvideox_model *model, const vs_cogvideox_input *in, vs_tensor *out,
                               vs_dit_timing *timing);

#ifdef __cplusplus
}
#endif
#endif
