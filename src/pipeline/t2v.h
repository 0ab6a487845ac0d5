/* Text to video (and image to video), the whole chain of a diffusers pipeline
 * folder of any model family (models/family.h):
 *     text encoder                 prompt -> embeddings (and the negative prompt)
 *     vae/ (image to video)        the first frame -> the condition the DiT sees at every step
 *     transformer/ + scheduler/    seeded noise -> denoised latents (CFG, dense or sparse attention)
 *     vae/                         latents -> frames; absent for pixel-space models
 *                                  (transformer in = out = 3 channels), whose output is the video
 * Generation defaults (size, steps, guidance, text length, attention settings)
 * come from the folder's vidsparse.json when present, else the family's
 * reference settings (vs_family_defaults). */
#ifndef VS_PIPELINE_T2V_H
#define VS_PIPELINE_T2V_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "io/image.h"
#include "models/family.h"
#include "pipeline/cache.h"
#include "pipeline/memory_plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef vs_generation_defaults vs_t2v_defaults;

/* The model folder to use: `given` (--model) if not NULL, else $VS_MODEL_DIR,
 * else the embedded model: models/vidsparse-tiny of the source tree, then
 * <prefix>/share/vidsparse/models/vidsparse-tiny (both compiled in). Fails
 * with one line naming what was tried. */
vs_status vs_t2v_locate(const char *given, char *out, size_t size);

typedef struct vs_t2v vs_t2v;
typedef struct vs_comm vs_comm;

/* Where the components come from: a pipeline folder, or (dir NULL) seeded random weights at the real
 * configurations of DiT preset `preset` (its family's text encoder and VAE too), for benchmarks; and the
 * precision the text encoder and the DiT are set to right after each loads (vs_text_encoder_set_precision,
 * vs_dit_set_precision; a family without FP8 weights refuses FP8 in vs_t2v_open). */
typedef struct vs_t2v_source {
    const char *dir;
    const char *preset;
    uint64_t seed;
    vs_precision precision;
} vs_t2v_source;

/* Plans device memory against budget_gib GiB (0: the device's total memory; ignored on the CPU) at the
 * model's default size (memory_plan.h): loads every component now when they fit together, else none (each
 * is then loaded for its stage); refuses, before loading anything, a budget a stage cannot fit in. */
vs_status vs_t2v_open(const vs_t2v_source *source, vs_device device, double budget_gib, vs_t2v **out);
/* vs_t2v_open of folder `dir` with the device's memory as the budget. */
vs_status vs_t2v_load(const char *dir, vs_device device, vs_t2v **out);
void vs_t2v_free(vs_t2v *t2v);
const vs_t2v_defaults *vs_t2v_get_defaults(const vs_t2v *t2v);
/* Runs the DiT as one rank of `comm` (vs_dit_set_comm): the text encoder,
 * scheduler and decoder run whole on every rank, the DiT's forwards sequence-parallel. */
vs_status vs_t2v_set_comm(vs_t2v *t2v, vs_comm *comm);
/* 1 when the model has no VAE (its transformer works on pixels). */
int vs_t2v_pixel_space(const vs_t2v *t2v);
/* 1 for an image-to-video model (a request must give the first frame), 0 for text to video. */
int vs_t2v_takes_image(const vs_t2v *t2v);

/* The seed of the noise that samples the first frame's latent (image to video): another stream than the
 * initial latents' (vs_noise_gaussian(seed)) and the scheduler's. */
static inline uint64_t vs_t2v_image_noise_seed(uint64_t seed) { return seed ^ 0x696D616765ull; }

typedef struct vs_t2v_request {
    const char *prompt;
    const char *negative_prompt; /* NULL: "" (diffusers' default) */
    uint64_t seed;
    int steps, frames, height, width; /* 0: the model's default */
    float guidance;                   /* < 0: the model's default; <= 1: no CFG */
    int dynamic_cfg;                  /* the CogVideoX pipelines' use_dynamic_cfg: the scale varies by step */
    float embedded_guidance;          /* the scale a DiT embeds (HunyuanVideo); <= 0: the model's default */
    vs_attention_params attention; /* negative fields: the model's default (vs_t2v_resolve_attention) */
    vs_cache_settings cache;       /* step caching (pipeline/cache.h); zeroed: none */
    int show_progress;
    /* Initial latents f32 CPU [1, C, F', H', W'] (vs_t2v_latent_shape) instead of the seeded noise; NULL: seeded. */
    const vs_tensor *noise;
    /* Image to video: the first frame (any size: resized to the video's as the pipeline does); NULL for
     * text to video. A model of the other kind refuses the request with one line. */
    const vs_image *image;
    /* Passed to the denoising loop (vs_denoise_settings): a per-step callback and a cancel flag. */
    int (*progress)(void *user, int step, int steps);
    void *progress_user;
    const atomic_int *cancel;
    /* Called as each stage begins, before its component is loaded, and with VS_STAGE_COUNT once the
     * generation ends (for memory sampling; image to video: VS_STAGE_DECODE also before denoising, while the
     * VAE encodes the first frame); NULL: none. */
    void (*stage)(void *user, vs_stage stage);
    void *stage_user;
} vs_t2v_request;

/* A request with the model's defaults, dense attention, seed 0. */
vs_t2v_request vs_t2v_request_default(const char *prompt);
/* `params` with every missing or negative field taken from the model's defaults. */
vs_attention_params vs_t2v_resolve_attention(const vs_t2v *t2v, const vs_attention_params *params);

/* `in` checked against the policies and this model's DiT (vs_cache_resolve). */
vs_status vs_t2v_resolve_cache(const vs_t2v *t2v, const vs_cache_settings *in, vs_cache_settings *out);

/* Whether the request gives a first frame exactly when the model takes one (one line naming the model). */
vs_status vs_t2v_check_image(const vs_t2v *t2v, const vs_t2v_request *request);
/* The same check for a model `model` whose DiT takes `image_channels` condition channels
 * (vs_family_image_channels; 0: text to video), with or without a first frame (`denoise --image`). */
vs_status vs_t2v_check_image_kind(const char *model, int image_channels, int has_image);
/* The condition image-to-video DiT `dit` sees at every step, for latents of `shape` [1, C, F', H', W']: `image`
 * resized to the video's size (H' x W' times the VAE's spatial ratio), encoded by `vae` with its latent sampled
 * from noise seeded with vs_t2v_image_noise_seed(seed); into a new host f32 tensor. What vs_t2v_generate and
 * `denoise --image` do. */
vs_status vs_t2v_image_condition(vs_vae *vae, const vs_dit_info *dit, const vs_image *image, uint64_t seed,
                                 const int64_t shape[5], vs_tensor *out);
/* Host f32 latents x [1, C, F, H, W] without their first n (0 <= n < F) frames (the family's padding frames,
 * vs_family_padding_frames), into a new tensor; a view of x, whatever its layout, when n is 0. What
 * vs_t2v_generate and `decode` do before decoding. */
vs_status vs_t2v_drop_leading_frames(const vs_tensor *x, int n, vs_tensor *out);

/* The latent shape [1, C, F', H', W'] of a request, checking its sizes against the model. */
vs_status vs_t2v_latent_shape(const vs_t2v *t2v, const vs_t2v_request *request, int64_t shape[5]);

typedef struct vs_t2v_stats {
    double encode_s, denoise_s, decode_s;
    double image_s;                /* encoding the first frame (image to video) */
    double load_s[VS_STAGE_COUNT]; /* loading each stage's component in this generation (0: it was loaded) */
    vs_memory_plan plan;           /* this generation's, with the estimated needs */
    vs_vae_memory vae;             /* the VAE's own report after the decode */
    vs_dit_timing dit; /* the DiT's time, attention share, SVG head classes, passes run and reused */
} vs_t2v_stats;

/* *video receives f32 [T, 3, H, W] in [-1, 1] (free with vs_tensor_free);
 * `stats` may be NULL. */
vs_status vs_t2v_generate(vs_t2v *t2v, const vs_t2v_request *request, vs_tensor *video, vs_t2v_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
