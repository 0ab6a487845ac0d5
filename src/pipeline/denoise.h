/* The text-to-video denoising loop of the diffusers pipelines, for any model
 * family: at each step the DiT predicts for the prompt and (with guidance > 1)
 * the negative prompt, as one batch of 2B, and the scheduler advances:
 *     v = v_uncond + guidance * (v_cond - v_uncond)
 *     latents = scheduler.step(v, latents)
 * (guidance fixed, or varying by step with dynamic_cfg; the scheduler is whichever the settings'
 * config names, e.g. CogVideoX's DPM sampler, which also adds seeded noise each step). 
 * With a step cache (cache.h), a step may reuse the last pass's transformation
 * instead of running the DiT. Shows progress on stderr and reports where the
 * time went. */
#ifndef VS_PIPELINE_DENOISE_H
#define VS_PIPELINE_DENOISE_H

#include <stdatomic.h>

#include "models/family.h"
#include "pipeline/cache.h"
#include "pipeline/scheduler.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vs_denoise_step;

typedef struct vs_denoise_settings {
    vs_scheduler_config scheduler;
    int steps;
    float guidance;           /* classifier-free guidance scale; <= 1 runs the prompt alone */
    int dynamic_cfg;          /* the CogVideoX pipelines' use_dynamic_cfg: the scale varies by step (vs_guidance_scale) */
    /* Image-to-video: f32 [B, Cc, F, H, W] (e.g. vs_cogvideox_vae_image_condition) the model sees after the
     * latents' channels at every step, in both CFG branches; the DiT takes C + Cc channels in and gives C
     * out. NULL: none. */
    const vs_tensor *condition;
    float embedded_guidance;  /* the scale a DiT with a guidance embedder gets (x 1000, HunyuanVideo's
                                 guidance_scale); <= 0: the DiT's default; ignored by other DiTs */
    vs_attention_params attention; /* method and warm-up, every field resolved */
    int show_progress;
    /* After each step: progress(progress_user, steps done, steps); non-zero stops the
     * loop with VS_ERR_CANCELLED. NULL: no callback. */
    int (*progress)(void *user, int step, int steps);
    void *progress_user;
    /* Read before each step: non-zero stops the loop with VS_ERR_CANCELLED. NULL: never. */
    const atomic_int *cancel;
    vs_cache_settings cache; /* step caching; zeroed: none */
    /* After each step's pass or reuse, before guidance: on_step(on_step_user, what the step saw and made);
     * NULL: none (vidsparse denoise --cache-record). */
    void (*on_step)(void *user, const struct vs_denoise_step *step);
    void *on_step_user;
} vs_denoise_settings;

/* One step as on_step sees it; the pointers are valid during the call. */
typedef struct vs_denoise_step {
    int step, ran; /* ran: 1 the DiT ran, 0 the step cache gave the output */
    float timestep;
    int branches;          /* CFG branches: 2 with guidance, else 1 */
    int64_t n;             /* latent values (all batch entries) */
    const float *latents;  /* the step's input, n values */
    const float *output;   /* branches x n: the DiT's output or the cache's, the prompt's branch first */
} vs_denoise_step;

/* latents: f32 [B, C, F, H, W], the initial noise in, the result out.
 * cond, uncond: embeddings of B prompts, hidden f32 [B, L, text_dim] (uncond
 * may be NULL when guidance <= 1; both must have the same shapes). `timing`
 * (may be NULL) accumulates the DiT's time and the passes run and reused. */
vs_status vs_denoise(vs_dit *dit, const vs_denoise_settings *settings, const vs_text_embedding *cond,
                     const vs_text_embedding *uncond, vs_tensor *latents, vs_dit_timing *timing);

#ifdef __cplusplus
}
#endif
#endif
