/* The Wan VAE decoder's layers, shared by the f32 CPU decode (vae.c) and the
 * bf16 CUDA decode (vae_cuda.c). Host weights are always loaded (f32, the
 * checkpoint's layouts); a model on the GPU adds device copies in the layouts
 * its kernels read (the d* fields). */
#ifndef VS_MODELS_WAN_VAE_INTERNAL_H
#define VS_MODELS_WAN_VAE_INTERNAL_H

#include <stddef.h>

#include "models/wan/vae.h"

#define MAX_LEVELS 8 /* dim_mult entries */
#define MAX_Z 256
#define CACHE_T 2 /* frames of history a causal 3x3x3 convolution sees */

/* A convolution with weight [cout, cin, kt, kh, kw]. Causal ones (kt = 3)
 * own a history slot: the last CACHE_T input frames, carried across chunks.
 * On the GPU: dweight BF16 [kt][cout_pad][kh][kw][cin] (one channels-last
 * filter per temporal tap), dbias F32 [cout_pad]; cout_pad = cout rounded up
 * to 8 (the output convolution's 3 channels), the extra filters zero. */
typedef struct {
    vs_tensor weight, bias;
    int cin, cout, kt, kh, kw;
    int slot; /* -1: no temporal history */
    vs_tensor dweight, dbias;
    int cout_pad;
} vae_conv;

/* WanRMS_norm: x / max(||x||_2 over channels, 1e-12) * sqrt(dim) * gamma (+ bias).
 * dgamma, dbias: F32 device copies. */
typedef struct {
    vs_tensor gamma, bias; /* bias.data is NULL when the checkpoint has none */
    int dim;
    vs_tensor dgamma, dbias;
} vae_norm;

typedef struct {
    vae_norm norm1, norm2;
    vae_conv conv1, conv2, shortcut; /* shortcut only when in != out */
    int has_shortcut;
} vae_res;

/* On the GPU the attention runs through GEMMs with folded constants: dqkv_w
 * BF16 [3c, c] and dqkv_b BF16 [3c] with the query third scaled by
 * 1/sqrt(c); the value bias moves into dproj_b = proj.bias + proj.weight v_bias
 * (softmax rows sum to 1), dproj_w BF16 [c, c]. */
typedef struct {
    vae_norm norm;
    vae_conv to_qkv, proj;
    vs_tensor dqkv_w, dqkv_b, dproj_w, dproj_b;
} vae_attn;

typedef enum { UP_NONE, UP_2D, UP_3D } up_mode;

typedef struct {
    vae_res res[MAX_LEVELS + 1];
    int n_res;
    up_mode mode;
    vae_conv resample;  /* nearest 2x, then this 3x3 Conv2d (out -> out / 2) */
    vae_conv time_conv; /* upsample3d: causal (3,1,1) conv out -> 2 out, doubling the frames */
} vae_up;

struct vs_wan_vae {
    int z_dim, out_channels, spatial_ratio, temporal_ratio;
    float latents_mean[MAX_Z], latents_std[MAX_Z];
    vae_conv post_quant, conv_in, conv_out;
    vae_res mid_res[2];
    vae_attn mid_attn;
    vae_up up[MAX_LEVELS];
    int n_up;
    vae_norm norm_out;
    int n_slots;
    vs_device device;
    vs_wan_vae_memory *gpu_memory; /* VS_CUDA only; updated by decodes */
};

#if VS_HAVE_CUDA
/* vae_cuda.c: device copies of every decoder weight (post_quant_conv stays on
 * the host: it runs there, before tiling). Fails with VS_ERR_UNSUPPORTED when
 * a width is not a multiple of 8. Freed by vs_wan_vae_free. */
vs_status vs_wan_vae_cuda_upload(vs_wan_vae *m);
/* Decodes frame-major host latents z [t][z_dim][h][w] (after post_quant_conv)
 * into the host video [1 + tr (t - 1)][out_channels][h sr][w sr], chunk by chunk. */
vs_status vs_wan_vae_cuda_decode(const vs_wan_vae *m, const float *z, int t, int h, int w, float *video);
#endif

#endif
