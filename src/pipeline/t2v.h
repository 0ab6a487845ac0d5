/* Text to video, the whole chain of a diffusers Wan pipeline folder:
 *     tokenizer/ + text_encoder/   prompt -> umT5 embeddings (and the negative prompt)
 *     transformer/ + scheduler/    seeded noise -> denoised latents (CFG, dense or SVG attention)
 *     vae/                         latents -> frames; absent for pixel-space models
 *                                  (transformer in = out = 3 channels), whose output is the video
 * Generation defaults (size, steps, guidance, text length, SVG settings) come
 * from the folder's vidsparse.json when present, else Wan 2.1's (81 x 480 x
 * 832, 50 steps, guidance 5, 512 text tokens). */
#ifndef VS_PIPELINE_T2V_H
#define VS_PIPELINE_T2V_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "models/wan/transformer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_t2v_defaults {
    int frames, height, width, steps;
    float guidance;
    int text_length; /* max_sequence_length: prompts are padded / truncated to it */
    int fps;
    /* SVG: target density and dense warm-up (fractions of the steps and layers);
     * vidsparse.json's svg_density, svg_dense_steps, svg_dense_layers, else
     * 0.25 and the reference's Wan settings 0.2 and 0.03. */
    double svg_density;
    float svg_dense_steps, svg_dense_layers;
} vs_t2v_defaults;

/* The model folder to use: `given` (--model) if not NULL, else $VS_MODEL_DIR,
 * else the embedded model: models/vidsparse-tiny of the source tree, then
 * <prefix>/share/vidsparse/models/vidsparse-tiny (both compiled in). Fails
 * with one line naming what was tried. */
vs_status vs_t2v_locate(const char *given, char *out, size_t size);

typedef struct vs_t2v vs_t2v;
typedef struct vs_comm vs_comm;

vs_status vs_t2v_load(const char *dir, vs_device device, vs_t2v **out);
void vs_t2v_free(vs_t2v *t2v);
const vs_t2v_defaults *vs_t2v_get_defaults(const vs_t2v *t2v);
/* Runs the DiT as one rank of `comm` (vs_wan_model_set_comm): the text encoder,
 * scheduler and decoder run whole on every rank, the DiT's forwards sequence-parallel. */
vs_status vs_t2v_set_comm(vs_t2v *t2v, vs_comm *comm);
/* 1 when the model has no VAE (its transformer works on pixels). */
int vs_t2v_pixel_space(const vs_t2v *t2v);

typedef struct vs_t2v_request {
    const char *prompt;
    const char *negative_prompt; /* NULL: "" (diffusers' default) */
    uint64_t seed;
    int steps, frames, height, width; /* 0: the model's default */
    float guidance;                   /* < 0: the model's default; <= 1: no CFG */
    vs_wan_attention attention;
    int show_progress;
    /* Initial latents f32 CPU [1, C, F', H', W'] (vs_t2v_latent_shape) instead of the seeded noise; NULL: seeded. */
    const vs_tensor *noise;
    /* Passed to the denoising loop (vs_denoise_settings): a per-step callback and a cancel flag. */
    int (*progress)(void *user, int step, int steps);
    void *progress_user;
    const atomic_int *cancel;
} vs_t2v_request;

/* A request with the model's defaults, dense attention, seed 0. */
vs_t2v_request vs_t2v_request_default(const char *prompt);
/* SVG attention with the given density and warm-up fractions; a negative
 * value takes the model's default (vs_t2v_defaults). */
vs_wan_attention vs_t2v_svg_attention(const vs_t2v *t2v, double density, double dense_steps, double dense_layers);

/* The latent shape [1, C, F', H', W'] of a request, checking its sizes against the model. */
vs_status vs_t2v_latent_shape(const vs_t2v *t2v, const vs_t2v_request *request, int64_t shape[5]);

typedef struct vs_t2v_stats {
    double encode_s, denoise_s, decode_s;
    vs_wan_timing dit; /* the DiT's time, attention share and SVG head classes */
} vs_t2v_stats;

/* *video receives f32 [T, 3, H, W] in [-1, 1] (free with vs_tensor_free);
 * `stats` may be NULL. */
vs_status vs_t2v_generate(const vs_t2v *t2v, const vs_t2v_request *request, vs_tensor *video, vs_t2v_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
