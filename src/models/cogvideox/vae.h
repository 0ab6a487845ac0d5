/* The CogVideoX video VAE (diffusers' AutoencoderKLCogVideoX), f32 on the CPU:
 *   decode  DiT latents [C, F, h, w] -> frames [T, 3, H, W] in [-1, 1]
 *   encode  frames [T, 3, H, W] in [-1, 1] -> the latent distribution (mean, logvar) [1, C, F, h, w]
 * H = r h, W = r w with r = 2^(blocks - 1) (8 for CogVideoX); in time the first
 * frame stays alone and the others compress by the config's
 * temporal_compression_ratio (4: 81 frames <-> 21 latent frames).
 *
 * Both run as diffusers does, so the results match it and not merely look
 * alike: causal 3D convolutions padded in time with the first frame, their
 * last two input frames carried from one frame batch to the next (the
 * conv_cache), and group norms whose statistics span each batch's frames; so
 * the frame batching is part of the math: latents decode 2 frames at a time
 * (an odd count puts 3 in the first batch), frames encode 8 at a time (the
 * remainder joins the first batch). The decoder's norms are spatial norms
 * conditioned on the batch's latents (CogVideoXSpatialNorm3D); the first frame
 * is scaled in space only, in time as in space (nearest-neighbour up, average
 * down). Tiling splits the picture into overlapping tiles (diffusers'
 * tiled_decode / tiled_encode), each run through all its frame batches, and
 * blends the overlaps linearly. */
#ifndef VS_MODELS_COGVIDEOX_VAE_H
#define VS_MODELS_COGVIDEOX_VAE_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VS_COGVIDEOX_VAE_MAX_BLOCKS 6

typedef struct vs_cogvideox_vae_config {
    int in_channels, out_channels, latent_channels;
    int num_blocks;                                   /* len(block_out_channels) */
    int block_out_channels[VS_COGVIDEOX_VAE_MAX_BLOCKS];
    int layers_per_block;                             /* encoder blocks: this many resnets; decoder: one more */
    int groups;                                       /* norm_num_groups */
    double eps;                                       /* norm_eps (the spatial norms' group norms use 1e-6) */
    int temporal_compression;                         /* temporal_compression_ratio: 1, 2, 4, ... */
    int sample_height, sample_width;                  /* tiles are half of these */
    double scaling_factor;
    int invert_scale_latents;                         /* CogVideoX 1.5: the I2V image latent is divided by it */
} vs_cogvideox_vae_config;

typedef struct vs_cogvideox_vae vs_cogvideox_vae;

/* `dir`: a diffusers vae/ folder, config.json (AutoencoderKLCogVideoX) and safetensors holding
 * encoder.* and decoder.*. Options this code does not follow (quant convs, other block types or
 * activations) are VS_ERR_UNSUPPORTED naming the key; weights missing, misshapen or not described by
 * the config are errors naming the weight. On VS_CUDA both run on the GPU in bf16 (cuDNN convolutions,
 * f32 accumulation; about 1e-2 relative difference from the CPU); latents and video stay on the host
 * either way. A model decodes one video at a time (on CUDA its
 * activation buffers are kept from tile to tile and from one decode to the next, and freed with it). */
vs_status vs_cogvideox_vae_load(vs_cogvideox_vae **out, const char *dir, vs_device device);
/* CogVideoX 1.5's VAE (block_out_channels 128, 256, 256, 512; 3 layers per block; 16 latent channels;
 * scaling factor 0.7, invert_scale_latents) with seeded random weights, for benchmarks. */
vs_status vs_cogvideox_vae_random(vs_cogvideox_vae **out, vs_device device, uint64_t seed);
void vs_cogvideox_vae_free(vs_cogvideox_vae *vae);
const vs_cogvideox_vae_config *vs_cogvideox_vae_get_config(const vs_cogvideox_vae *vae);
int vs_cogvideox_vae_spatial_ratio(const vs_cogvideox_vae *vae);  /* 8 for CogVideoX */
/* Frames of `latent_frames` latent frames decoded as one batch series: 1 + ratio (F - 1) for odd F,
 * ratio F for even F (diffusers' batching doubles an even first batch's first frame too). */
int vs_cogvideox_vae_frames_for(const vs_cogvideox_vae *vae, int latent_frames);

/* GPU memory of a model on VS_CUDA (all 0 on the CPU), in bytes: the weights, the activation
 * and cache buffers its decodes hold (kept between tiles and decodes), the cuDNN workspace, and the device's use
 * (cudaMemGetInfo) at the end of the last tile's decode, its buffers still held. */
typedef struct vs_cogvideox_vae_memory {
    size_t weights, peak_activations, workspace, device_used;
} vs_cogvideox_vae_memory;
vs_cogvideox_vae_memory vs_cogvideox_vae_device_memory(const vs_cogvideox_vae *vae);

/* The config of a vae/ folder alone (nothing loaded), e.g. for the family's vae_info. */
vs_status vs_cogvideox_vae_read_config(const char *dir, vs_cogvideox_vae_config *cfg);

/* The GPU memory a CUDA decode of latent_height x latent_width latents needs (per tile when tiling: pass
 * a tile's latent size), from dir/config.json alone (dir NULL: the 1.5 VAE of vs_cogvideox_vae_random):
 * both coders' weights as uploaded, and an estimate of the activation pool (every causal convolution's
 * two history frames and six buffers of the largest activation of the first, three-latent-frame batch,
 * plus the frames coming down; the cuDNN workspace is not counted). */
vs_status vs_cogvideox_vae_estimate(const char *dir, int latent_height, int latent_width, size_t *weights,
                                    size_t *work);

/* diffusers' enable_tiling(): tiles of tile_height x tile_width pixels (the config's sample size
 * halved), overlapping by overlap_height / overlap_width of a tile (1/6 and 1/5). Tiling happens when
 * the picture is larger than a tile. */
typedef struct vs_cogvideox_vae_tiling {
    int enabled;
    int tile_height, tile_width;
    double overlap_height, overlap_width;
} vs_cogvideox_vae_tiling;
vs_cogvideox_vae_tiling vs_cogvideox_vae_default_tiling(const vs_cogvideox_vae *vae);

/* latents: f32 host [1, C, F, h, w] or [C, F, h, w], the DiT's (scaled) latents; they are divided by
 * the config's scaling_factor first, as the pipelines do before vae.decode. tiling may be NULL (none).
 * *video: a new f32 tensor [T, out_channels, r h, r w] clamped to [-1, 1] (the pipelines' video
 * processor clamps when it converts). */
vs_status vs_cogvideox_vae_decode(const vs_cogvideox_vae *vae, const vs_tensor *latents,
                                  const vs_cogvideox_vae_tiling *tiling, vs_tensor *video);
/* frames: f32 host [T, in_channels, H, W] in [-1, 1] (H, W at least 2 r). *mean, *logvar: new f32
 * tensors [1, C, F, h, w], the DiagonalGaussianDistribution's (logvar clamped to [-30, 20]). */
vs_status vs_cogvideox_vae_encode(const vs_cogvideox_vae *vae, const vs_tensor *frames,
                                  const vs_cogvideox_vae_tiling *tiling, vs_tensor *mean, vs_tensor *logvar);
/* latent = mean + exp(logvar / 2) * noise, elementwise into a new tensor of mean's shape (noise: standard
 * normal values of that shape). */
vs_status vs_cogvideox_vae_sample(const vs_tensor *mean, const vs_tensor *logvar, const vs_tensor *noise,
                                  vs_tensor *latent);

/* The image condition of CogVideoXImageToVideoPipeline.prepare_latents: pixels (f32 host [3, H, W] in
 * [-1, 1], as vs_image_to_pixels makes them) encoded as a one-frame video, the latent sampled with
 * `noise` (standard normal, [1, C, 1, H / r, W / r]), multiplied by the scaling factor (divided with
 * invert_scale_latents, as CogVideoX 1.5 does), followed by latent_frames - 1 zero frames; with
 * patch_t > 1 (the DiT's patch_size_t: 2 in CogVideoX 1.5) the first latent_frames % patch_t frames are
 * repeated in front, as the noise latents are padded to a multiple of patch_t. tiling may be NULL.
 * *out: a new f32 tensor [1, C, F', H / r, W / r], F' = latent_frames + latent_frames % patch_t; the
 * denoising loop concatenates it after the noisy latents' channels at every step. */
vs_status vs_cogvideox_vae_image_condition(const vs_cogvideox_vae *vae, const vs_tensor *pixels, const vs_tensor *noise,
                                           int latent_frames, int patch_t, const vs_cogvideox_vae_tiling *tiling,
                                           vs_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
