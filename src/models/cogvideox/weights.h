/* The CogVideoX 1.5 DiT's weights, one field per checkpoint tensor under its
 * diffusers name, every shape checked against the config. The final proj_out's
 * rows, in diffusers' (channel, t, h, w) patch order, are permuted on loading to
 * (t, h, w, channel), the order vs_op_unpatchify reads; patch_embed.proj already
 * reads patches in the (channel, t, h, w) order vs_op_patchify writes. Norm
 * weights and the time and ofs embedders are F32 on every device, the rest the
 * activation dtype. */
#ifndef VS_MODELS_COGVIDEOX_WEIGHTS_H
#define VS_MODELS_COGVIDEOX_WEIGHTS_H

#include "io/safetensors.h"
#include "models/cogvideox/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_cogvideox_linear {
    vs_tensor weight; /* [out, in] */
    vs_tensor bias;   /* [out]; unallocated where the layer has none */
} vs_cogvideox_linear;

/* An affine LayerNorm's weight and bias [dim]. */
typedef struct vs_cogvideox_norm {
    vs_tensor weight, bias;
} vs_cogvideox_norm;

/* CogVideoXLayerNormZero: shift, scale, gate for the video, then for the text, from one linear layer. */
typedef struct vs_cogvideox_adanorm {
    vs_cogvideox_linear linear; /* [6 dim, time_embed_dim] */
    vs_cogvideox_norm norm;     /* one LayerNorm for both streams */
} vs_cogvideox_adanorm;

typedef struct vs_cogvideox_block {
    vs_cogvideox_adanorm norm1, norm2;
    vs_cogvideox_linear q, k, v, o;     /* attn1.to_q, to_k, to_v, to_out.0: shared by text and video */
    vs_cogvideox_norm norm_q, norm_k;   /* per-head LayerNorm [head_dim] */
    vs_cogvideox_linear ff_in, ff_out;  /* ff.net.0.proj (GELU-tanh), ff.net.2: shared */
} vs_cogvideox_block;

typedef struct vs_cogvideox_weights {
    vs_cogvideox_linear patch_embed;         /* patch_embed.proj [dim, C pt ph pw] */
    vs_cogvideox_linear text_proj;           /* patch_embed.text_proj [dim, text_dim] */
    vs_cogvideox_linear time_in, time_out;   /* time_embedding.linear_1 [T, dim], linear_2 [T, T] */
    vs_cogvideox_linear ofs_in, ofs_out;     /* ofs_embedding (image-to-video only) */
    vs_cogvideox_block *blocks;              /* [num_layers] */
    vs_cogvideox_norm norm_final;            /* [dim] */
    vs_cogvideox_linear norm_out;            /* norm_out.linear [2 dim, T]: shift, then scale */
    vs_cogvideox_norm norm_out_norm;         /* norm_out.norm */
    vs_cogvideox_linear proj_out;            /* [pt ph pw C, dim], rows in (t, h, w, c) order */
    int num_blocks;
} vs_cogvideox_weights;

/* Loads every tensor of `st` as described above, `dtype` the activation dtype on `device`. On failure
 * nothing stays allocated and the message names the tensor. */
vs_status vs_cogvideox_weights_load(const vs_cogvideox_config *cfg, const vs_safetensors *st, vs_dtype dtype,
                                    vs_device device, vs_cogvideox_weights *out);
/* Seeded random weights of the config's shapes (benchmarks, tests): uniform in +-1/sqrt(fan_in), norm
 * weights 1 +- 0.1, made on `device`, in the dtypes vs_cogvideox_weights_load gives them. */
vs_status vs_cogvideox_weights_random(const vs_cogvideox_config *cfg, vs_dtype dtype, vs_device device,
                                      uint64_t seed, vs_cogvideox_weights *out);
void vs_cogvideox_weights_free(vs_cogvideox_weights *w);

#ifdef __cplusplus
}
#endif
#endif
