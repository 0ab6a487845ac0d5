/* The text-to-video denoising loop of the diffusers pipelines, for any model
 * family: at each step the DiT predicts for the prompt and (with guidance > 1)
 * the negative prompt, as one batch of 2B, and the scheduler advances:
 *     v = v_uncond + guidance * (v_cond - v_uncond)
 *     latents = scheduler.step(v, latents)
 * Shows progress on stderr and reports where the time went. */
#ifndef VS_PIPELINE_DENOISE_H
#define VS_PIPELINE_DENOISE_H

#include <stdatomic.h>

#include "models/family.h"
#include "pipeline/scheduler.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_denoise_settings {
    vs_scheduler_config scheduler;
    int steps;
    float guidance;           /* classifier-free guidance scale; <= 1 runs the prompt alone */
    vs_attention_params attention; /* method and warm-up, every field resolved */
    int show_progress;
    /* After each step: progress(progress_user, steps done, steps); non-zero stops the
     * loop with VS_ERR_CANCELLED. NULL: no callback. */
    int (*progress)(void *user, int step, int steps);
    void *progress_user;
    /* Read before each step: non-zero stops the loop with VS_ERR_CANCELLED. NULL: never. */
    const atomic_int *cancel;
} vs_denoise_settings;

/* latents: f32 [B, C, F, H, W], the initial noise in, the result out.
 * cond, uncond: embeddings of B prompts, hidden f32 [B, L, text_dim] (uncond
 * may be NULL when guidance <= 1; both must have the same shapes). `timing`
 * (may be NULL) accumulates the DiT's time. */
vs_status vs_denoise(vs_dit *dit, const vs_denoise_settings *settings, const vs_text_embedding *cond,
                     const vs_text_embedding *uncond, vs_tensor *latents, vs_dit_timing *timing);

#ifdef __cplusplus
}
#endif
#endif
