/* Model families behind one interface. A family (Wan 2.1, HunyuanVideo,
 * CogVideoX 1.5) is a table of functions filled by its folder
 * models/<family>/ and listed once in models/family.c. pipeline/ and cli/
 * reach models only through this header, so a new family adds a folder and
 * one registry line, never a branch above models/.
 *
 * The components of a text-to-video pipeline, each behind a handle that
 * remembers its family:
 *     vs_text_encoder   prompt -> embeddings (hidden states, mask, pooled vector)
 *     vs_dit            the denoiser: noisy latents, timesteps, text -> prediction
 *     vs_vae            latents -> frames (absent for pixel-space models)
 * A family is found from a folder: model_index.json's `_class_name` (a
 * diffusers pipeline folder), else config.json's (a bare component folder). */
#ifndef VS_MODELS_FAMILY_H
#define VS_MODELS_FAMILY_H

#include <stddef.h>
#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_comm vs_comm;

/* ---- what a family tells the pipeline ------------------------------------------------------- */

/* What a request leaves out takes these: the family's reference settings,
 * overridden by the model folder's vidsparse.json (vs_family_defaults). */
typedef struct vs_generation_defaults {
    int frames, height, width, steps;
    float guidance;   /* classifier-free guidance scale; <= 1: none */
    int text_length;  /* prompts are padded / truncated to this many tokens */
    int fps;
    vs_attention_params attention; /* every field resolved (no negative values) */
    const char *negative_prompt;   /* used when a request gives none */
    const char *scheduler;         /* scheduler_config.json text for folders without scheduler/ */
    float embedded_guidance;       /* the guidance scale the DiT embeds (HunyuanVideo's guidance_scale); 0: none */
    int linear_sigmas;             /* the pipeline gives Euler sigmas linspace(1, 0, steps + 1)[:-1]
                                      (vs_scheduler_config.linear_sigmas) */
    /* EasyCache (pipeline/cache.h) as its authors' script for this family runs it: the threshold when the
     * request gives none (0: the policy's 0.05), and the steps that always run first (0: steps / 5) */
    double easycache_threshold;
    int easycache_warmup;
} vs_generation_defaults;

typedef struct vs_dit_info {
    int in_channels, out_channels;
    int patch[3]; /* t, h, w */
    int num_layers, num_heads, head_dim;
    int text_dim; /* width of the text embeddings it takes */
    int pooled_dim; /* width of the pooled text vector it takes (HunyuanVideo's CLIP); 0: none */
    /* 1: the text tokens join the video's in self-attention, one batch entry at a time (common/joint_dit.c);
     * 0: self-attention over the video alone, the whole batch at once (Wan) */
    int joint_attention;
} vs_dit_info;

typedef struct vs_vae_info {
    int latent_channels;
    int temporal_ratio, spatial_ratio; /* pixels per latent along time and space */
} vs_vae_info;

/* Embeddings of one prompt, f32 on the host. */
typedef struct vs_text_embedding {
    vs_tensor hidden; /* [1, L, D] */
    vs_tensor mask;   /* I32 [1, L], 1 for real tokens; unallocated when the family needs none */
    vs_tensor pooled; /* [1, P]; unallocated when the family has none */
} vs_text_embedding;
void vs_text_embedding_free(vs_text_embedding *e);

/* One denoiser call: a batch of B latents at B timesteps with B texts. */
typedef struct vs_dit_input {
    const vs_tensor *latents;   /* f32 [B, C, F, H, W] on the host or the model's device */
    const float *timesteps;     /* B host values */
    const vs_tensor *text;      /* f32 [B, L, text_dim] */
    const vs_tensor *text_mask; /* I32 [B, L] or NULL */
    const vs_tensor *pooled;    /* f32 [B, P] or NULL */
    int step, num_steps;        /* where the call sits in the denoising loop (sparse warm-up) */
    const float *guidance;      /* B embedded-guidance values (guidance scale x 1000) or NULL: the family's
                                   default scale (models that embed the guidance: HunyuanVideo) */
} vs_dit_input;

/* Seconds and SVG head choices, accumulated over calls. */
typedef struct vs_dit_timing {
    double attention_s; /* attention kernels (CUDA events on the GPU) */
    double total_s;     /* whole forwards, until the output is ready */
    int64_t heads_spatial, heads_temporal; /* (batch entry, layer, head) choices of SVG's profiling */
    /* Counted by the denoising loop (pipeline/denoise.c), per CFG branch: DiT passes run, and reused
     * from the step cache (pipeline/cache.h) */
    int64_t passes_run, passes_reused;
    /* Layer calls whose kept fraction a sparse method selected (SVG2), and the sum of those fractions. */
    int64_t selected_calls;
    double selected_density_sum;
} vs_dit_timing;

/* TeaCache's calibration of a checkpoint (step caching, pipeline/cache.h): the polynomial its authors fitted
 * from the relative L1 change of the time embedding to the change of the output. */
typedef struct vs_teacache_fit {
    const char *checkpoint;  /* what it was fitted for: "Wan 2.1 T2V 14B" */
    double coefficients[5];  /* rescale(d) = c[0] d^4 + c[1] d^3 + ... + c[4] (numpy.poly1d's order) */
    double threshold;        /* the authors' default threshold for it */
} vs_teacache_fit;

/* Device memory a VAE holds, for reports (all 0 on the CPU). */
typedef struct vs_vae_memory {
    size_t weights, peak_activations, workspace, device_used;
} vs_vae_memory;

/* The stages of a text-to-video generation, in order, and the device memory one needs. */
typedef enum { VS_STAGE_TEXT, VS_STAGE_DENOISE, VS_STAGE_DECODE, VS_STAGE_COUNT } vs_stage;
typedef struct vs_stage_memory {
    size_t weights; /* the stage's component */
    size_t work;    /* its activations, caches and buffers while it runs */
    size_t work_tiled; /* the decode's work when it tiles (vae_decode's tiled 1); 0: no smaller tiled decode */
} vs_stage_memory;

/* ---- the table a family fills ---------------------------------------------------------------- */

typedef struct vs_family {
    const char *name;               /* "wan" */
    const char *const *class_names; /* NULL-terminated `_class_name`s it runs: pipelines and components */
    const char *presets;            /* DiT configurations for random-weight benchmarks: "a, b" */
    vs_generation_defaults defaults;
    vs_vae_info reference_vae;      /* the VAE the family's checkpoints ship, for folders without vae/ */

    vs_status (*text_load)(const char *dir, vs_device device, void **out);
    vs_status (*text_encode)(void *encoder, const char *prompt, int max_length, vs_text_embedding *out);
    void (*text_free)(void *encoder);

    vs_status (*dit_load)(const char *dir, vs_device device, void **out, vs_dit_info *info);
    vs_status (*dit_preset)(const char *preset, vs_dit_info *info);
    vs_status (*dit_info)(const char *dir, vs_dit_info *info); /* from the config alone */
    /* layers > 0 keeps only the first `layers` layers of the preset (for quick benchmarks). */
    vs_status (*dit_random)(const char *preset, int layers, vs_device device, uint64_t seed, void **out,
                            vs_dit_info *info);
    /* Optional: dit_load / dit_random with the weights at `precision` from the start (FP8 quantised as they
     * load, the peak FP8-sized); what the memory plan counts for FP8 (memory_need). NULL: load, then
     * dit_set_precision. */
    vs_status (*dit_load_as)(const char *dir, vs_device device, vs_precision precision, void **out,
                             vs_dit_info *info);
    vs_status (*dit_random_as)(const char *preset, int layers, vs_device device, uint64_t seed,
                               vs_precision precision, void **out, vs_dit_info *info);
    vs_status (*dit_set_attention)(void *dit, const vs_attention_params *params);
    vs_status (*dit_set_comm)(void *dit, vs_comm *comm);
    vs_status (*dit_forward)(void *dit, const vs_dit_input *in, vs_tensor *out, vs_dit_timing *timing);
    void (*dit_free)(void *dit);
    /* Optional: frees the forward's working memory (activations, RoPE tables, sparse attention state) and keeps
     * the weights; the next forward makes it again. The pipeline calls it before the VAE decodes beside the
     * DiT. NULL: the working memory stays until dit_free. */
    void (*dit_release_work)(void *dit);
    /* Optional (TeaCache step caching): with `signal`, what TeaCache watches in the family's forward on `in`
     * (Wan: the time embedding at in->timesteps[0]; HunyuanVideo: the first block's modulated input of the
     * video tokens of every batch entry), into a tensor it allocates (host f32, or the model's device and
     * activation dtype: the step cache reduces it with vs_op_rel_l1 where it lies); with `fit`, the published
     * calibration of this checkpoint, or VS_ERR_UNSUPPORTED naming the checkpoints that have one (in may
     * be NULL when signal is). */
    vs_status (*dit_teacache)(void *dit, const vs_dit_input *in, vs_tensor *signal, vs_teacache_fit *fit);

    /* The latent grid [1, C, F', H', W'] of a video of frames x height x width
     * (vae NULL: a pixel-space model), or a one-line error naming the sizes it takes. */
    vs_status (*latent_shape)(const vs_dit_info *dit, const vs_vae_info *vae, int frames, int height, int width,
                              int64_t shape[5]);

    vs_status (*vae_info)(const char *dir, vs_vae_info *info); /* from the config alone */
    vs_status (*vae_load)(const char *dir, vs_device device, void **out, vs_vae_info *info);
    /* latents f32 host [1, C, F', H', W'] -> frames f32 host [T, 3, H, W] in [-1, 1];
     * tiled: 1 or 0, or -1 for the family's choice for the VAE's device. */
    vs_status (*vae_decode)(void *vae, const vs_tensor *latents, int tiled, vs_tensor *video);
    vs_vae_memory (*vae_memory)(const void *vae);
    void (*vae_free)(void *vae);
    /* The DiT's and the text encoder's weight precision from now on (docs/fp8.md); NULL: the family has
     * only the default. */
    vs_status (*dit_set_precision)(void *dit, vs_precision precision);
    vs_status (*text_set_precision)(void *encoder, vs_precision precision);

    /* Seeded random weights at the family's real configurations, for whole-pipeline benchmarks (no
     * checkpoint): the text encoder that goes with DiT preset `preset` (without a tokenizer, the family maps
     * the prompt's bytes to token ids) and the VAE. */
    vs_status (*text_random)(const char *preset, vs_device device, uint64_t seed, void **out);
    vs_status (*vae_random)(const char *preset, vs_device device, uint64_t seed, void **out, vs_vae_info *info);
    /* Each stage's device memory (bytes) for a denoising batch of latents [B, C, F', H', W'] and text_length
     * tokens, from the configurations alone (nothing loaded): the components of pipeline folder `dir`, or
     * (dir NULL) the random ones of `preset`. All 0 on the CPU. Library workspaces are not counted. With
     * `precision` FP8 the work counts the FP8 layers' input codes; weights are counted as they load (the
     * checkpoint's dtype, quantised in place afterwards). */
    vs_status (*memory_need)(const char *dir, const char *preset, vs_device device, vs_precision precision,
                             const int64_t latents[5], int text_length, vs_stage_memory need[VS_STAGE_COUNT]);
    /* Optional: latent frames latent_shape puts before the video's (CogVideoX 1.5 pads them to a multiple of
     * its temporal patch) that the pipeline drops before decoding; NULL: none. */
    int (*padding_frames)(const vs_dit_info *dit, const vs_vae_info *vae, int frames);
    /* Optional, image-to-video models (their DiT takes in_channels - out_channels condition channels after
     * the latents'): the condition the denoising loop concatenates at every step, from the first frame's
     * pixels f32 host [3, H, W] in [-1, 1] at the video's size, encoded with `vae` (its latent sampled with
     * `noise`, standard normal [1, C, 1, H', W']), for latents of `shape` [1, C, F', H', W']; into a new host
     * f32 tensor [1, Cc, F', H', W']. NULL: the family has no image-to-video models. */
    vs_status (*image_condition)(void *vae, const vs_dit_info *dit, const vs_tensor *pixels, const vs_tensor *noise,
                                 const int64_t shape[5], vs_tensor *condition);
} vs_family;

/* The family that runs the model in `dir`; a one-line error naming the
 * class and the known ones otherwise. */
vs_status vs_family_detect(const char *dir, const vs_family **out);
/* The family whose `presets` list has `preset` (bench dit's --config, bench generate's). */
vs_status vs_family_for_preset(const char *preset, const vs_family **out);
/* family->defaults overridden by dir/vidsparse.json (num_frames, height, width,
 * num_inference_steps, guidance_scale, embedded_guidance_scale, max_sequence_length, fps, svg_density,
 * svg_dense_steps, svg_dense_layers), each range-checked. */
vs_status vs_family_defaults(const vs_family *family, const char *dir, vs_generation_defaults *out);
/* The image condition's channels DiT `dit` takes after the latents' (in_channels - out_channels): 0 for text
 * to video; a one-line error for a count the family cannot make (no image_condition, or fewer inputs). */
vs_status vs_family_image_channels(const vs_family *family, const vs_dit_info *dit, int *channels);
/* The family's padding_frames for a video of `frames` frames: leading latent frames that latent_shape adds
 * and the pipeline drops before decoding; 0 when it has none or for a pixel-space model (vae NULL). */
int vs_family_padding_frames(const vs_family *family, const vs_dit_info *dit, const vs_vae_info *vae, int frames);
/* What a memory plan counts for a denoising batch of latents [B, C, F', H', W'] with text_length text tokens:
 * the family's memory_need plus, on a GPU, the state of the sparse method `attention` in the denoising stage
 * (vs_dit_attention_memory). */
vs_status vs_family_memory_need(const vs_family *family, const char *dir, const char *preset,
                                const vs_dit_info *dit, vs_device device, vs_precision precision,
                                const vs_attention_params *attention, const int64_t latents[5],
                                int text_length, vs_stage_memory need[VS_STAGE_COUNT]);

/* ---- the components, each with its family ------------------------------------------------------ */

typedef struct vs_text_encoder vs_text_encoder;
typedef struct vs_dit vs_dit;
typedef struct vs_vae vs_vae;

/* `dir`: a pipeline folder (its tokenizer and text encoder). */
vs_status vs_text_encoder_load(const char *dir, vs_device device, vs_text_encoder **out);
/* The text encoder of DiT preset `preset` with seeded random weights (vs_family_for_preset), for benchmarks. */
vs_status vs_text_encoder_random(const char *preset, vs_device device, uint64_t seed, vs_text_encoder **out);
vs_status vs_text_encode(vs_text_encoder *encoder, const char *prompt, int max_length, vs_text_embedding *out);
void vs_text_encoder_free(vs_text_encoder *encoder);
/* The encoder's weight precision from now on (VS_PRECISION_FP8 quantises in place). */
vs_status vs_text_encoder_set_precision(vs_text_encoder *encoder, vs_precision precision);

/* `dir`: a pipeline folder or a transformer folder. */
vs_status vs_dit_load(const char *dir, vs_device device, vs_dit **out);
/* A DiT of a named configuration (vs_family_for_preset) with seeded random weights, for
 * benchmarks; layers > 0 keeps the first `layers` layers. */
vs_status vs_dit_random(const char *preset, int layers, vs_device device, uint64_t seed, vs_dit **out);
/* vs_dit_load / vs_dit_random, then vs_dit_set_precision, in one step: through the family's dit_load_as /
 * dit_random_as where it has them (an FP8 model never exists in BF16 first), else load and quantise. */
vs_status vs_dit_load_as(const char *dir, vs_device device, vs_precision precision, vs_dit **out);
vs_status vs_dit_random_as(const char *preset, int layers, vs_device device, uint64_t seed, vs_precision precision,
                           vs_dit **out);
const vs_dit_info *vs_dit_get_info(const vs_dit *dit);
vs_device vs_dit_device(const vs_dit *dit);
const vs_family *vs_dit_family(const vs_dit *dit);
/* How self-attention runs from now on; params fully resolved (vs_attention_resolve). */
vs_status vs_dit_set_attention(vs_dit *dit, const vs_attention_params *params);
/* The weights' precision from now on (VS_PRECISION_FP8 quantises in place); a one-line error for a family
 * or device without it. */
vs_status vs_dit_set_precision(vs_dit *dit, vs_precision precision);
/* Device memory a sparse attention method's state takes in this DiT (vs_sparse_attention_device_bytes: with
 * FP8 attention, its scratch of codes too) for a denoising batch of latents [B, C, F', H', W'] with
 * text_length text tokens: what the memory plan adds to the family's denoising need for `attention` (0 for
 * dense in BF16). */
size_t vs_dit_attention_memory(const vs_dit_info *info, vs_device device,
                               const vs_attention_params *attention, const int64_t latents[5],
                               int text_length);
/* Sequence-parallel forwards as one rank of `comm` (borrowed; NULL: alone). */
vs_status vs_dit_set_comm(vs_dit *dit, vs_comm *comm);
/* out: f32 [B, out_channels, F, H, W] on the host or the model's device; timing may be NULL. */
vs_status vs_dit_forward(vs_dit *dit, const vs_dit_input *in, vs_tensor *out, vs_dit_timing *timing);
/* The family's dit_teacache, or VS_ERR_UNSUPPORTED when the family has none. */
vs_status vs_dit_teacache(vs_dit *dit, const vs_dit_input *in, vs_tensor *signal, vs_teacache_fit *fit);
/* The family's dit_release_work, if it has one. */
void vs_dit_release_work(vs_dit *dit);
void vs_dit_free(vs_dit *dit);

/* `dir`: a VAE folder. */
vs_status vs_vae_load(const char *dir, vs_device device, vs_vae **out);
/* The VAE of DiT preset `preset`'s family with seeded random weights, for benchmarks. */
vs_status vs_vae_random(const char *preset, vs_device device, uint64_t seed, vs_vae **out);
const vs_vae_info *vs_vae_get_info(const vs_vae *vae);
const vs_family *vs_vae_family(const vs_vae *vae);
vs_status vs_vae_decode(vs_vae *vae, const vs_tensor *latents, int tiled, vs_tensor *video);
/* The family's image_condition (models/family.h's table), or VS_ERR_UNSUPPORTED when it has none. */
vs_status vs_vae_image_condition(vs_vae *vae, const vs_dit_info *dit, const vs_tensor *pixels, const vs_tensor *noise,
                                 const int64_t shape[5], vs_tensor *condition);
vs_vae_memory vs_vae_get_memory(const vs_vae *vae);
void vs_vae_free(vs_vae *vae);

/* `params` with each negative or missing field taken from `defaults`. */
vs_attention_params vs_attention_resolve(const vs_attention_params *params, const vs_attention_params *defaults);

#ifdef __cplusplus
}
#endif
#endif
