/* The CogVideoX VAE's layers, shared by the CPU code (vae.c) and the CUDA decoder (vae_cuda.c). */
#ifndef VS_MODELS_COGVIDEOX_VAE_INTERNAL_H
#define VS_MODELS_COGVIDEOX_VAE_INTERNAL_H

#include "models/cogvideox/vae.h"
#include "core/devpool.h"

typedef struct {
    vs_tensor weight, bias; /* F32 [cout, cin, kt, k, k], [cout] */
    int cin, cout, kt, k;
    int slot; /* causal (kt > 1): its cache's index, else -1 */
    /* VS_CUDA: BF16 [kt, cout_pad, k, k, cin_pad] (cuDNN's NHWC filters per tap, zero-padded), F32 [cout_pad] */
    vs_tensor dweight, dbias;
    int cin_pad, cout_pad;
} conv;

/* GroupNorm, or with conv_y / conv_b (1x1, from the latents) CogVideoXSpatialNorm3D. */
typedef struct {
    vs_tensor weight, bias;
    int channels, spatial;
    float eps;
    conv conv_y, conv_b;
    vs_tensor dweight, dbias; /* VS_CUDA: F32 [channels] */
} norm;

typedef struct {
    norm norm1, norm2;
    conv conv1, conv2, shortcut; /* shortcut: 1x1, when in != out */
    int has_shortcut;
} resnet;

typedef struct {
    resnet *resnets;
    int n_resnets;
    int resample, compress_time; /* a down/upsampler after the resnets; it also scales time */
    conv sampler;                /* its 3x3 Conv2d */
} block;

typedef struct {
    conv conv_in, conv_out;
    block blocks[VS_COGVIDEOX_VAE_MAX_BLOCKS];
    resnet mid[2];
    norm norm_out;
    int n_slots;
} coder;

struct vs_cogvideox_vae {
    vs_cogvideox_vae_config cfg;
    coder enc, dec;
    vs_device device;               /* VS_CUDA: both coders run there */
    vs_cogvideox_vae_memory memory; /* VS_CUDA: updated by decodes */
    vs_devpool *pool;               /* VS_CUDA: activation buffers, kept from tile to tile and decode to decode */
};

/* VS_CUDA builds (vae_cuda.c): both coders' weights to the device; one tile through all its frame batches
 * of the decoder (latents already divided by the scaling factor) or the encoder (frames): x f32 host,
 * frame-major [t][c][h][w]; *out a new (malloc'd) f32 host frame-major buffer of dims = frames,
 * channels, height, width (the decoder's RGB not clamped; the encoder's mean and logvar channels). */
vs_status vs_cogvideox_vae_cuda_upload(vs_cogvideox_vae *m);
vs_status vs_cogvideox_vae_cuda_run(vs_cogvideox_vae *m, int decoder, const float *x, int t, int h, int w,
                                    float **out, int dims[4]);

#endif
