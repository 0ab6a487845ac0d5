/* The Wan 2.1 video VAE decoder (diffusers AutoencoderKLWan.decode), f32 on
 * the CPU or bf16 on CUDA (cuDNN convolutions, f32 accumulation): latents [z, T, h, w] -> video [1 + 4(T-1), 3, 8h, 8w] in [-1, 1]
 * (the factors 4 and 8 come from the config's temperal_downsample and
 * dim_mult).
 *
 * Decoding runs one latent frame at a time, the first alone, carrying each
 * causal convolution's last two input frames from chunk to chunk, exactly as
 * diffusers does; so memory grows with the frame size, not the video length.
 * Optional spatial tiling decodes overlapping tiles separately and blends the
 * overlaps linearly (diffusers' tiled_decode), bounding memory further. */
#ifndef VS_MODELS_WAN_VAE_H
#define VS_MODELS_WAN_VAE_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_wan_vae vs_wan_vae;

/* `dir` is a diffusers vae/ folder: config.json (base_dim, decoder_base_dim,
 * z_dim, dim_mult, num_res_blocks, temperal_downsample, latents_mean,
 * latents_std, out_channels) and safetensors weights holding decoder.* and
 * post_quant_conv.* (encoder weights, if present, are not read). Weights are
 * converted to f32; on VS_CUDA, bf16 copies go to the GPU as well (every
 * channel width but the output's must then be a multiple of 8, as in all Wan
 * VAEs). Wan 2.2's residual variant (is_residual, patch_size) is
 * VS_ERR_UNSUPPORTED. */
vs_status vs_wan_vae_load(vs_wan_vae **out, const char *dir, vs_device device);
/* The Wan 2.1 VAE decoder (diffusers' AutoencoderKLWan defaults) with seeded random
 * weights, for benchmarks (no checkpoint); latents_mean 0 and latents_std 1. */
vs_status vs_wan_vae_random(vs_wan_vae **out, vs_device device, uint64_t seed);
void vs_wan_vae_free(vs_wan_vae *vae);

int vs_wan_vae_z_dim(const vs_wan_vae *vae);
int vs_wan_vae_spatial_ratio(const vs_wan_vae *vae);  /* 8 for Wan 2.1 */
int vs_wan_vae_temporal_ratio(const vs_wan_vae *vae); /* 4 for Wan 2.1 */
vs_device vs_wan_vae_device(const vs_wan_vae *vae);

/* GPU memory of a model on VS_CUDA (all 0 on the CPU), in bytes: its weights,
 * the most activation and cache memory one decode held so far, the cuDNN
 * workspace, and the whole device's use (cudaMemGetInfo) at the end of the
 * last decode (of the last tile, when tiled), when its buffers were all still
 * held. */
typedef struct vs_wan_vae_memory {
    size_t weights, peak_activations, workspace, device_used;
} vs_wan_vae_memory;
vs_wan_vae_memory vs_wan_vae_device_memory(const vs_wan_vae *vae);

/* The GPU memory a CUDA decode of latent_height x latent_width latent frames (untiled) needs, from
 * dir/config.json alone (dir NULL: the Wan 2.1 VAE of vs_wan_vae_random): the weights' bytes and the
 * activations' and caches' (an estimate of the buffer pool; the cuDNN workspace is not counted). */
vs_status vs_wan_vae_estimate(const char *dir, int latent_height, int latent_width, size_t *weights, size_t *work);

/* Spatial tiling, in output pixels (diffusers' tile_sample_min_* and
 * tile_sample_stride_*): tiles of tile_h x tile_w start every stride_h /
 * stride_w pixels, and neighbours blend over (tile - stride) pixels. All four
 * must be multiples of the spatial ratio, with 0 < stride <= tile. Tiling only
 * happens when the latent is larger than one tile. */
typedef struct vs_wan_vae_tiling {
    int enabled;
    int tile_h, tile_w, stride_h, stride_w;
} vs_wan_vae_tiling;

/* diffusers' defaults: enabled, 256 x 256 tiles every 192 pixels. */
vs_wan_vae_tiling vs_wan_vae_default_tiling(void);

/* Decodes `latents` (f32, host, contiguous; [1, z, T, h, w] or [z, T, h, w])
 * as the transformer produces them: they are first de-normalised with the
 * config's latents_mean / latents_std (z * std + mean). `tiling` may be NULL
 * (no tiling). *out receives a new f32 tensor [T', C, H, W] (C = out_channels,
 * 3 for RGB) clamped to [-1, 1]; free it with vs_tensor_free. On VS_CUDA the
 * latents and the video still live on the host: each latent frame goes up
 * and its decoded frames come back (bf16 math: about 1e-2 relative
 * difference from the CPU decode). */
vs_status vs_wan_vae_decode(const vs_wan_vae *vae, const vs_tensor *latents, const vs_wan_vae_tiling *tiling,
                            vs_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
