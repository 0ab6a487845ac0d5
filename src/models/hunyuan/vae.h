/* HunyuanVideo's video VAE decoder (diffusers AutoencoderKLHunyuanVideo.decode), f32 on the CPU or bf16 on
 * CUDA (cuDNN convolutions, f32 accumulation): latents [1, C, F', H', W'] -> frames [1 + 4(F'-1), 3, 8H',
 * 8W'] in [-1, 1] (the factors come from the config's temporal_compression_ratio and block_out_channels).
 *
 * The decoder is causal in time: each 3D convolution pads the past by replicating the first frame, and the
 * up-sampling blocks keep the first frame apart (it is up-sampled in space only). Optional tiling follows
 * diffusers: overlapping tiles in space and in time, decoded separately and blended linearly, so memory
 * grows with the tile, not the video. */
#ifndef VS_MODELS_HUNYUAN_VAE_H
#define VS_MODELS_HUNYUAN_VAE_H

#include <stddef.h>
#include <stdint.h>

#include "models/family.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_hunyuan_vae vs_hunyuan_vae;

/* `dir`: a diffusers vae/ folder (config.json and safetensors holding decoder.* and post_quant_conv.*). */
vs_status vs_hunyuan_vae_load(vs_hunyuan_vae **out, const char *dir, vs_device device);
/* The released HunyuanVideo VAE's configuration with seeded random weights (benchmarks, no checkpoint). */
vs_status vs_hunyuan_vae_random(vs_hunyuan_vae **out, vs_device device, uint64_t seed);
/* The ratios and channels from dir/config.json alone; dir NULL: the released configuration. */
vs_status vs_hunyuan_vae_info(const char *dir, vs_vae_info *info);
void vs_hunyuan_vae_get_info(const vs_hunyuan_vae *vae, vs_vae_info *info);
/* latents: f32 host [1, C, F', H', W'] as the DiT produces them (this divides by the config's
 * scaling_factor) -> *video: a new f32 host tensor [T, 3, H, W] clamped to [-1, 1].
 * tiled: 1 diffusers' spatial and temporal tiling, 0 none, -1 the device's choice (tiled on CUDA). */
vs_status vs_hunyuan_vae_decode(vs_hunyuan_vae *vae, const vs_tensor *latents, int tiled, vs_tensor *video);
/* Device memory (all 0 on the CPU): weights, the most activation memory one decode held, workspace, and the
 * device's use at the end of the last decode. */
vs_vae_memory vs_hunyuan_vae_memory(const vs_hunyuan_vae *vae);
/* The CUDA decode's device memory for a latent grid, from the config alone (dir NULL: the released one):
 * weights' bytes and activations' (tiled: of one tile). */
vs_status vs_hunyuan_vae_estimate(const char *dir, int latent_frames, int latent_h, int latent_w, int tiled,
                                  size_t *weights, size_t *work);
void vs_hunyuan_vae_free(vs_hunyuan_vae *vae);
/* diffusers' enable_tiling sizes, in output pixels and frames (tile_sample_min_* and tile_sample_stride_*:
 * tiles of tile x tile pixels start every stride, tiles of tile_frames + 1 frames every stride_frames;
 * neighbours blend over tile - stride). Defaults 256, 256, 16, 192, 192, 12. Spatial sizes must be multiples
 * of the spatial ratio, frame counts of the temporal ratio, 0 < stride <= tile. */
vs_status vs_hunyuan_vae_set_tiling(vs_hunyuan_vae *vae, int tile_h, int tile_w, int tile_frames,
                                    int stride_h, int stride_w, int stride_frames);

#ifdef __cplusplus
}
#endif
#endif
