/* Step caching: the denoising loop skips DiT passes whose result would barely
 * change and reuses the transformation of the last pass instead (docs/caching.md).
 * A policy decides, before each step, whether the DiT runs; a reused step gives
 * each CFG branch
 *     output = latents + (output - latents of the branch at the last run)
 * (EasyCache's "transformation vector"; the same reuse serves every policy here).
 * Policies, each the published rule of its method:
 *   none       every step runs
 *   easycache  runtime-adaptive (EasyCache, Zhou et al. 2025): after a warm-up, accumulates the predicted
 *              relative change of the output, k * mean|x_t - x_t-1| / mean|v_last|, with k the rate
 *              mean|dv| / mean|dx| between the last two runs; runs when it reaches the threshold (0.05 and
 *              steps / 5 warm-up steps as in its Wan script; a family's own, vs_generation_defaults, where
 *              its authors published a script for it: HunyuanVideo 0.025 and 5)
 *   teacache   TeaCache (Liu et al. 2025): accumulates a fitted polynomial of the relative L1 change of
 *              the DiT's time embedding; runs when it reaches the threshold (the fit's own default).
 *              Needs the published fit of the checkpoint (vs_dit_teacache), refused otherwise
 *   fora       FORA (Selvaraju et al. 2024): runs every N-th step counted back from the last (N = 3),
 *              and the first
 * The first step and the last step always run. Decisions are made once per step for both CFG branches,
 * from data every rank of a sequence-parallel DiT holds identically (the whole latents and output, the
 * timestep), so all ranks decide alike. tools/cache_reference.py is each rule in numpy. */
#ifndef VS_PIPELINE_CACHE_H
#define VS_PIPELINE_CACHE_H

#include <stdint.h>

#include "models/family.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A policy by name (NULL: "none") and its threshold (negative: the policy's default). */
typedef struct vs_cache_settings {
    const char *policy;
    double threshold;
    int warmup; /* easycache: steps that always run first; 0: the model family's, else steps / 5 */
} vs_cache_settings;

/* Checks `in` against the policies and, for teacache, `dit` (its published fit; dit NULL: not checked).
 * out: the registered name with the default threshold filled in (may be `in`): for easycache the family's
 * of `dit` where it has one (HunyuanVideo's 0.025), and the family's warm-up (HunyuanVideo: 5 steps) unless
 * `in` gives one; fit, when not NULL, receives TeaCache's fit (zeroed for the other policies). */
vs_status vs_cache_resolve(const vs_cache_settings *in, vs_dit *dit, vs_cache_settings *out, vs_teacache_fit *fit);

/* What one denoising run keeps: `steps` steps, `branches` CFG branches (1 or 2) sharing latents of
 * `n` values. `settings` resolved; `fit`: TeaCache's (NULL for the other policies). */
typedef struct vs_step_cache vs_step_cache;
vs_status vs_step_cache_create(const vs_cache_settings *settings, const vs_teacache_fit *fit, int steps, int64_t n,
                               int branches, vs_step_cache **out);
void vs_step_cache_free(vs_step_cache *cache);
/* 1 when decide needs TeaCache's signal (vs_dit_teacache) */
int vs_step_cache_needs_signal(const vs_step_cache *cache);
/* Before step `step` (0, 1, ... in order) on latents x (n values): *run = 1 to run the DiT, 0 to reuse.
 * signal: the step's TeaCache signal (vs_dit_teacache: on the model's device, where its change from the
 * previous step's is reduced and the cache keeps a copy) when the policy needs one, else NULL. */
vs_status vs_step_cache_decide(vs_step_cache *cache, int step, const float *x, const vs_tensor *signal, int *run);
/* After a run: out = the DiT's output on x, branches x n values (the prompt's branch first). */
void vs_step_cache_store(vs_step_cache *cache, const float *x, const float *out);
/* After a decision to reuse: out (branches x n) = x + each branch's cached transformation. */
void vs_step_cache_reuse(const vs_step_cache *cache, const float *x, float *out);

#ifdef __cplusplus
}
#endif
#endif
