/* The Wan 2.1 DiT's weights, one struct field per checkpoint tensor, named
 * after the diffusers layout. Loading maps both checkpoint layouts onto it:
 *   diffusers:     blocks.N.attn1.to_q.weight, blocks.N.norm2 (cross-attention norm), ...
 *   original Wan:  blocks.N.self_attn.q.weight, blocks.N.norm3 (cross-attention norm), ...
 * (optionally under "model.diffusion_model."), and checks every shape
 * against the config. */
#ifndef VS_MODELS_WAN_WEIGHTS_H
#define VS_MODELS_WAN_WEIGHTS_H

#include "io/safetensors.h"
#include "models/wan/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_wan_linear {
    vs_tensor weight; /* [out, in] */
    vs_tensor bias;   /* [out] */
    vs_tensor scale;  /* F32 [out] when weight is E4M3 (FP8, per output channel); else empty */
} vs_wan_linear;

typedef struct vs_wan_attn_weights {
    vs_wan_linear q, k, v, o;
    vs_tensor norm_q, norm_k; /* RMSNorm weights over all heads, [dim] */
} vs_wan_attn_weights;

typedef struct vs_wan_block_weights {
    vs_tensor modulation;            /* scale_shift_table [1, 6, dim] */
    vs_wan_attn_weights self_attn;   /* attn1 */
    vs_tensor norm2_weight, norm2_bias; /* cross-attention LayerNorm [dim] (cross_attn_norm only) */
    vs_wan_attn_weights cross_attn;  /* attn2: keys and values from the text */
    vs_wan_linear ffn_in, ffn_out;   /* ffn.net.0.proj [ffn, dim], ffn.net.2 [dim, ffn] */
} vs_wan_block_weights;

typedef struct vs_wan_weights {
    vs_wan_linear patch_embed;       /* Conv3d weight [dim, in_channels, pt, ph, pw] */
    vs_wan_linear time_in, time_out; /* time_embedder linear_1 [dim, freq_dim], linear_2 */
    vs_wan_linear time_proj;         /* [6 dim, dim] */
    vs_wan_linear text_in, text_out; /* text_embedder linear_1 [dim, text_dim], linear_2 */
    vs_wan_block_weights *blocks;    /* [num_layers] */
    int num_blocks;
    vs_tensor head_modulation;       /* scale_shift_table [1, 2, dim] */
    vs_wan_linear head;              /* proj_out [out_channels * pt * ph * pw, dim] */
} vs_wan_weights;

typedef enum vs_wan_layout { VS_WAN_LAYOUT_DIFFUSERS, VS_WAN_LAYOUT_ORIGINAL } vs_wan_layout;

/* Which layout `st` holds; VS_ERR_FORMAT if neither. */
vs_status vs_wan_detect_layout(const vs_safetensors *st, vs_wan_layout *layout, const char **prefix);
/* Loads every tensor, converted to `dtype` on `device`, except the norms'
 * parameters, the modulation tables and the time embedder's MLP, which are F32
 * (the reference keeps them in f32). VS_PRECISION_FP8: each block linear's weight is quantised to E4M3
 * (per-channel scales) right after it loads, so the peak is the FP8 model plus one `dtype` weight;
 * VS_PRECISION_FP8_FFN: only the feed-forward pair's. On failure nothing stays allocated and the message
 * names the tensor. */
vs_status vs_wan_weights_load(const vs_wan_config *cfg, const vs_safetensors *st, vs_dtype dtype,
                              vs_precision precision, vs_device device, vs_wan_weights *out);
/* Seeded random weights of the config's shapes (benchmarks, tests): uniform in
 * +-1/sqrt(fan_in), norm weights near 1, generated on `device`. Norms and
 * modulation tables are F32, the rest `dtype`, as vs_wan_weights_load makes them. */
vs_status vs_wan_weights_random(const vs_wan_config *cfg, vs_dtype dtype, vs_precision precision, vs_device device,
                                uint64_t seed, vs_wan_weights *out);
/* Quantises the blocks' linear layers that `precision` names (VS_PRECISION_FP8: self- and cross-attention
 * projections and FFN; VS_PRECISION_FP8_FFN: the FFN) to E4M3 with per-output-channel scales, in place, one
 * layer at a time (docs/fp8.md); the embedders and the head stay as they are. Layers already in E4M3 stay as
 * they are. */
vs_status vs_wan_weights_quantize_fp8(vs_wan_weights *w, vs_precision precision);
/* Whether any block's linear layer holds E4M3 codes (some FP8 checkpoints keep whole blocks in BF16). */
int vs_wan_weights_any_fp8(const vs_wan_weights *w);
/* Whether every block linear that `precision` quantises (as vs_wan_weights_quantize_fp8) holds E4M3 codes. */
int vs_wan_weights_all_fp8(const vs_wan_weights *w, vs_precision precision);
/* The bytes vs_wan_weights_load / _random would allocate for `cfg` at `precision` (norms and modulation tables
 * f32; the quantised block linears as E4M3 codes and scales). */
vs_status vs_wan_weights_bytes(const vs_wan_config *cfg, vs_dtype dtype, vs_precision precision, size_t *bytes);
void vs_wan_weights_free(vs_wan_weights *w);

#ifdef __cplusplus
}
#endif
#endif
