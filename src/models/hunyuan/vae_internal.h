/* The HunyuanVideo VAE decoder's layers, shared by the f32 CPU decode (vae.c) and the bf16 CUDA decode
 * (vae_cuda.c). Host weights are always loaded (f32, the checkpoint's layouts); a model on the GPU adds
 * device copies in the layouts its kernels read (the d* fields). */
#ifndef VS_MODELS_HUNYUAN_VAE_INTERNAL_H
#define VS_MODELS_HUNYUAN_VAE_INTERNAL_H

#include <stddef.h>

#include "core/devpool.h"
#include "models/hunyuan/vae.h"

#define HV_MAX_BLOCKS 8 /* block_out_channels entries */
#define HV_MAX_RES 9    /* resnets per up block: layers_per_block + 1 */
#define HV_GROUP_EPS 1e-6f

/* HunyuanVideoCausalConv3d: a cubic k x k x k Conv3d (k = 3, or 1 for shortcuts) after replicate padding,
 * k - 1 frames before (the first frame repeated) and k / 2 pixels on every side (edge pixels repeated).
 * weight [cout, cin, k, k, k]. On the GPU: dweight BF16 [cout_pad][k][k][k][cin] (cuDNN's channels-last 3D
 * filters), dbias F32 [cout_pad]; cout_pad = cout rounded up to 8, extra filters zero. */
typedef struct {
    vs_tensor weight, bias;
    int cin, cout, k;
    vs_tensor dweight, dbias;
    int cout_pad;
} hv_conv;

/* GroupNorm(groups, c, eps 1e-6, affine): statistics per group over its channels, all frames and pixels. */
typedef struct {
    vs_tensor gamma, beta; /* [c] */
    int c;
    vs_tensor dgamma, dbeta; /* F32 device copies */
} hv_norm;

typedef struct {
    hv_norm norm1, norm2;
    hv_conv conv1, conv2, shortcut; /* shortcut only when in != out */
    int has_shortcut;
} hv_res;

/* The mid-block attention: one head of width c over every pixel of every frame, causal by frame (a pixel
 * sees its own frame and the earlier ones), after a GroupNorm; plus the input. w* [c, c], b* [c]. On the
 * GPU: folded copies (upload_attn in vae_cuda.c). */
typedef struct {
    hv_norm norm;
    vs_tensor wq, bq, wk, bk, wv, bv, wo, bo;
    vs_tensor dqkv_w, dqkv_b, dout_w, dout_b;
} hv_attn;

/* HunyuanVideoUpBlock3D: resnets, then (when up_s or up_t) HunyuanVideoUpsampleCausal3D: nearest
 * upsampling by (up_t, up_s, up_s) with the first frame upsampled in space only, then a causal conv. */
typedef struct {
    hv_res res[HV_MAX_RES];
    int n_res;
    int up_t, up_s; /* 1 or 2 each */
    hv_conv conv;
} hv_up;

typedef struct {
    int latent_channels, out_channels, groups, layers_per_block, n_blocks, mid_attention;
    int block_out[HV_MAX_BLOCKS];
    int spatial_ratio, temporal_ratio;
    double scaling_factor;
} hv_config;

/* Tiling in output pixels / frames (diffusers' tile_sample_min_* and tile_sample_stride_*). */
typedef struct {
    int tile_h, tile_w, tile_t, stride_h, stride_w, stride_t;
} hv_tiling;

struct vs_hunyuan_vae {
    hv_config cfg;
    hv_tiling tiling;
    hv_conv post_quant; /* 1x1x1, applied on the host before tiling (pointwise) */
    hv_conv conv_in, conv_out;
    hv_res mid_res[2];
    hv_attn mid_attn;
    hv_up up[HV_MAX_BLOCKS];
    hv_norm norm_out;
    vs_device device;
    vs_vae_memory gpu_memory; /* VS_CUDA only; updated by decodes */
    vs_devpool gpu_pool;      /* VS_CUDA: device buffers of the decode in progress (vae_cuda.c) */
};

#if VS_HAVE_CUDA
/* vae_cuda.c: device copies of every decoder weight (post_quant_conv stays on the host). Fails with
 * VS_ERR_UNSUPPORTED when a width is not a multiple of 8. Freed by vs_hunyuan_vae_free. */
vs_status vs_hunyuan_vae_cuda_upload(vs_hunyuan_vae *m);
/* Decodes one tile: host latents z [t][C][h][w] (frame-major, after post_quant_conv) -> host video
 * [1 + tr (t - 1)][out_channels][h sr][w sr] (unclamped). */
vs_status vs_hunyuan_vae_cuda_decode_tile(vs_hunyuan_vae *m, const float *z, int t, int h, int w,
                                          float *video);
/* Frees the buffers the tiles of a decode shared; called when the decode ends, and by vs_hunyuan_vae_free. */
void vs_hunyuan_vae_cuda_release(vs_hunyuan_vae *m);
#endif

#endif
