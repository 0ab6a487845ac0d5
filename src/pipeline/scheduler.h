/* Samplers, step for step as diffusers computes them:
 *   UniPC  UniPCMultistepScheduler with use_flow_sigmas and prediction_type
 *          "flow_prediction" (Wan 2.1's default: order 2, bh2, flow_shift),
 *          predictor-corrector in f32 with the same scalar formulas;
 *   Euler  FlowMatchEulerDiscreteScheduler with a static shift;
 *   CogVideoX DPM  CogVideoXDPMScheduler (CogVideoX's): discrete DDPM
 *          timesteps over scaled-linear betas (optionally SNR-shifted and
 *          rescaled to zero terminal SNR), a DPM-Solver++(2M)-like
 *          stochastic update that carries the previous step's x0 prediction
 *          and adds fresh Gaussian noise every step.
 * All are configured from a diffusers scheduler_config.json. The model
 * sees vs_scheduler_timestep(i) at step i (UniPC truncates it to an integer,
 * as diffusers does); its output is the flow velocity (UniPC, Euler) or the
 * config's prediction_type (CogVideoX DPM: v, epsilon or x0). */
#ifndef VS_PIPELINE_SCHEDULER_H
#define VS_PIPELINE_SCHEDULER_H

#include <stdint.h>

#include "core/json.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vs_scheduler_kind { VS_SCHEDULER_UNIPC, VS_SCHEDULER_EULER, VS_SCHEDULER_COGVIDEOX_DPM } vs_scheduler_kind;

/* What a CogVideoX DPM model predicts. */
typedef enum vs_prediction_type { VS_PREDICT_EPSILON, VS_PREDICT_V, VS_PREDICT_SAMPLE } vs_prediction_type;
/* How discrete timesteps are spread over the training ones (diffusers' timestep_spacing). */
typedef enum vs_timestep_spacing { VS_SPACING_LEADING, VS_SPACING_TRAILING, VS_SPACING_LINSPACE } vs_timestep_spacing;

#define VS_SCHEDULER_MAX_ORDER 3
#define VS_SCHEDULER_MAX_DISABLED 32

typedef struct vs_scheduler_config {
    vs_scheduler_kind kind;
    int num_train_timesteps;
    double shift;          /* UniPC flow_shift / Euler shift */
    /* Euler only: 1 when the pipeline passes sigmas = linspace(1, 0, steps + 1)[:-1] (HunyuanVideoPipeline),
     * shifted once; 0: the scheduler's own schedule */
    int linear_sigmas;
    /* UniPC only */
    int solver_order;      /* 1..VS_SCHEDULER_MAX_ORDER */
    int bh2;               /* solver_type "bh2" (else "bh1") */
    int lower_order_final;
    int final_sigma_zero;  /* final_sigmas_type "zero" (else "sigma_min") */
    int disable_corrector[VS_SCHEDULER_MAX_DISABLED]; /* step indices whose corrector is skipped */
    int num_disable_corrector;
    /* CogVideoX DPM only */
    double beta_start, beta_end;
    int scaled_linear;            /* beta_schedule "scaled_linear" (else "linear") */
    double snr_shift_scale;       /* alphas_cumprod / (s + (1 - s) alphas_cumprod) */
    int rescale_zero_snr;         /* rescale_betas_zero_snr */
    int set_alpha_to_one;         /* the alpha product after the last step: 1 (else the first one's) */
    int steps_offset;
    vs_prediction_type prediction;
    vs_timestep_spacing spacing;
    uint64_t noise_seed;          /* the seed of the noise vs_scheduler_step adds (not from the config) */
} vs_scheduler_config;

/* UniPCMultistepScheduler's defaults on flow sigmas (order 2, bh2, lower_order_final, final sigma zero),
 * the scheduler Wan 2.1 ships. */
vs_scheduler_config vs_scheduler_config_unipc(double flow_shift);
/* `path`: a scheduler_config.json, a folder holding one, or a pipeline folder
 * holding scheduler/scheduler_config.json. Options this code does not
 * implement (Karras sigmas, dynamic shifting, thresholding, ...) are refused
 * with VS_ERR_UNSUPPORTED naming the key. */
vs_status vs_scheduler_config_load(const char *path, vs_scheduler_config *cfg);
vs_status vs_scheduler_config_parse(const vs_json *root, const char *label, vs_scheduler_config *cfg);
/* The scheduler of a pipeline folder: DIR/scheduler/scheduler_config.json, else (or with dir NULL) `fallback`
 * (a scheduler_config.json text: the family's default, vs_generation_defaults.scheduler). */
vs_status vs_scheduler_config_for(const char *dir, const char *fallback, vs_scheduler_config *cfg);

typedef struct vs_scheduler vs_scheduler;

/* A sampler for `num_steps` steps over samples of `numel` f32 values. */
vs_status vs_scheduler_create(const vs_scheduler_config *cfg, int num_steps, int64_t numel, vs_scheduler **out);
void vs_scheduler_free(vs_scheduler *s);
int vs_scheduler_num_steps(const vs_scheduler *s);
/* Timestep the model gets at step i (0 <= i < num_steps). */
float vs_scheduler_timestep(const vs_scheduler *s, int i);
/* Noise level before step i (0 <= i <= num_steps; the last is the final one): the flow sigma, or for
 * CogVideoX DPM the noise's standard deviation sqrt(1 - alphas_cumprod[t]) (0 at the end). */
float vs_scheduler_sigma(const vs_scheduler *s, int i);
/* One step: sample (in place) from sigma(i) to sigma(i+1) given the model's output at sigma(i). A
 * stochastic sampler (vs_scheduler_adds_noise) adds noise drawn with vs_noise_gaussian from the
 * config's noise_seed and the step index. */
vs_status vs_scheduler_step(vs_scheduler *s, const float *model_output, float *sample);
/* Whether each step adds fresh noise (CogVideoX DPM). */
int vs_scheduler_adds_noise(const vs_scheduler *s);
/* vs_scheduler_step with the step's standard normal noise given (numel values; ignored by the
 * deterministic samplers, and may then be NULL). */
vs_status vs_scheduler_step_noise(vs_scheduler *s, const float *model_output, const float *noise, float *sample);

/* The classifier-free guidance scale at a step with timestep t of `num_steps`: `guidance`, or with
 * `dynamic` the CogVideoX pipelines' use_dynamic_cfg schedule (computed, as they do, on the timestep
 * value itself): 1 + guidance * (1 - cos(pi * ((num_steps - t) / num_steps)^5)) / 2. */
double vs_guidance_scale(double guidance, int dynamic, double t, int num_steps);

#ifdef __cplusplus
}
#endif
#endif
