/* The HunyuanVideo DiT's weights, one field per checkpoint tensor under its
 * diffusers name, every shape checked against the config. Two are rearranged on
 * loading, so the forward stays a plain sequence of ops:
 *   - a single-stream block's proj_out [dim, dim + mlp] (applied to the
 *     concatenation of the attention output and the MLP hidden state) is split
 *     into its two column blocks, one linear for each input;
 *   - the final proj_out's rows, in diffusers' (channel, t, h, w) patch order,
 *     are permuted to (t, h, w, channel), the order vs_op_unpatchify reads.
 * Norm weights and the time, guidance and pooled-text embedders are F32 on every
 * device (the reference keeps them in f32), the rest the activation dtype. */
#ifndef VS_MODELS_HUNYUAN_WEIGHTS_H
#define VS_MODELS_HUNYUAN_WEIGHTS_H

#include "io/safetensors.h"
#include "models/hunyuan/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_hunyuan_linear {
    vs_tensor weight; /* [out, in] */
    vs_tensor bias;   /* [out]; unallocated where the layer has none */
} vs_hunyuan_linear;

/* A two-layer MLP: diffusers' TimestepEmbedding and PixArtAlphaTextProjection (SiLU between). */
typedef struct vs_hunyuan_mlp {
    vs_hunyuan_linear in, out; /* linear_1, linear_2 */
} vs_hunyuan_mlp;

typedef struct vs_hunyuan_refiner_block {
    vs_tensor norm1_weight, norm1_bias, norm2_weight, norm2_bias; /* affine LayerNorms [dim] */
    vs_hunyuan_linear q, k, v, o;                                 /* attn.to_q .. to_out.0 */
    vs_hunyuan_linear ff_in, ff_out;                              /* ff.net.0.proj (SiLU), ff.net.2 */
    vs_hunyuan_linear gates;                                      /* norm_out.linear [2 dim, dim] */
} vs_hunyuan_refiner_block;

typedef struct vs_hunyuan_dual_block {
    vs_hunyuan_linear mod, context_mod;           /* norm1.linear, norm1_context.linear [6 dim, dim] */
    vs_hunyuan_linear q, k, v, o;                 /* video: attn.to_q, to_k, to_v, to_out.0 */
    vs_hunyuan_linear add_q, add_k, add_v, add_o; /* text: attn.add_q_proj .. to_add_out */
    vs_tensor norm_q, norm_k, norm_added_q, norm_added_k; /* per-head RMSNorm weights [head_dim] */
    vs_hunyuan_linear ff_in, ff_out;                      /* ff.net.0.proj (GELU-tanh), ff.net.2 */
    vs_hunyuan_linear context_ff_in, context_ff_out;      /* ff_context */
} vs_hunyuan_dual_block;

typedef struct vs_hunyuan_single_block {
    vs_hunyuan_linear mod;      /* norm.linear [3 dim, dim] */
    vs_hunyuan_linear q, k, v;  /* attn.to_q, to_k, to_v */
    vs_tensor norm_q, norm_k;   /* [head_dim] */
    vs_hunyuan_linear mlp_in;   /* proj_mlp [mlp, dim] (GELU-tanh) */
    vs_hunyuan_linear out_attn; /* proj_out's first dim columns [dim, dim], with proj_out's bias */
    vs_hunyuan_linear out_mlp;  /* proj_out's last mlp columns [dim, mlp], no bias */
} vs_hunyuan_single_block;

typedef struct vs_hunyuan_weights {
    vs_hunyuan_linear patch_embed;             /* x_embedder.proj: Conv3d [dim, C, pt, ph, pw] */
    vs_hunyuan_mlp time, guidance, pooled;     /* time_text_embed.{timestep,guidance,text}_embedder */
    vs_hunyuan_mlp refiner_time, refiner_text; /* context_embedder.time_text_embed.* */
    vs_hunyuan_linear refiner_in;              /* context_embedder.proj_in [dim, text_dim] */
    vs_hunyuan_refiner_block *refiner;         /* [num_refiner_layers] */
    vs_hunyuan_dual_block *dual;               /* [num_layers] */
    vs_hunyuan_single_block *single;           /* [num_single_layers] */
    vs_hunyuan_linear norm_out;                /* norm_out.linear [2 dim, dim]: scale, then shift */
    vs_hunyuan_linear proj_out;                /* [pt ph pw C, dim], rows in (t, h, w, c) order */
    int num_refiner, num_dual, num_single;
} vs_hunyuan_weights;

/* Loads every tensor of `st` (a diffusers HunyuanVideoTransformer3DModel) as
 * described above, `dtype` being the activation dtype on `device`. On failure
 * nothing stays allocated and the message names the tensor. */
vs_status vs_hunyuan_weights_load(const vs_hunyuan_config *cfg, const vs_safetensors *st, vs_dtype dtype,
                                  vs_device device, vs_hunyuan_weights *out);
/* Seeded random weights of the config's shapes (benchmarks, tests): uniform in
 * +-1/sqrt(fan_in), norm weights 1 +- 0.1, made on `device`, in the dtypes
 * vs_hunyuan_weights_load gives them. */
vs_status vs_hunyuan_weights_random(const vs_hunyuan_config *cfg, vs_dtype dtype, vs_device device,
                                    uint64_t seed, vs_hunyuan_weights *out);
void vs_hunyuan_weights_free(vs_hunyuan_weights *w);

#ifdef __cplusplus
}
#endif
#endif
