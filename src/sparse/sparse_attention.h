/* A model's self-attention under one sparse method: made for one attention
 * shape and a model's number of layers, it holds the method's shared context
 * and one state per layer, and applies DESIGN.md's dense warm-up: the first
 * floor(dense_steps * num_steps) denoising steps and the first
 * floor(dense_layers * num_layers) layers run dense, every other call plans
 * and attends with the method. Statistics add up on the device until taken
 * (once per forward), so no call waits for the host. */
#ifndef VS_SPARSE_SPARSE_ATTENTION_H
#define VS_SPARSE_SPARSE_ATTENTION_H

#include "sparse/method.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_sparse_attention vs_sparse_attention;

/* `params` resolved: a registered method (NULL: dense), the density (used as
 * setup->video.density by sparse methods) and non-negative warm-up fractions. */
vs_status vs_sparse_attention_create(vs_sparse_attention **out, const vs_sparse_setup *setup,
                                     const vs_attention_params *params, int num_layers);
void vs_sparse_attention_free(vs_sparse_attention *attn);
/* The device memory vs_sparse_attention_create(setup, params, num_layers) would allocate for the method's
 * context and layer states, and with FP8 attention the scratch its codes take, for memory plans (0: dense in
 * BF16, an unknown method, or a build without the device). */
size_t vs_sparse_attention_device_bytes(const vs_sparse_setup *setup, const vs_attention_params *params,
                                        int num_layers);

/* A model's attention settings from a caller's: params (NULL: dense) checked (a registered method,
 * non-negative warm-up fractions, a positive density for a sparse method) into *out, out->method
 * pointing at the method's own name; *changed says whether they differ from *now, the settings the
 * model's sparse attention was made with (then it must be made again). `model` names the model in
 * errors. */
vs_status vs_sparse_attention_settings(const vs_attention_params *params, const vs_attention_params *now,
                                       const char *model, vs_attention_params *out, int *changed);

/* Whether `layer` (of num_layers) at denoising `step` (of num_steps) runs dense under params' warm-up. */
int vs_sparse_warmup_is_dense(const vs_attention_params *params, int layer, int num_layers, int step,
                              int num_steps);

/* One self-attention call: q, k, v, out [B, N, H, D] of the setup's shape (D contiguous, heads D apart),
 * F32 on the CPU, BF16 or F16 on CUDA; dense under the warm-up, else the method's plan and attend.
 * `stream`: a cudaStream_t on CUDA (NULL: the default stream). */
vs_status vs_sparse_attention_run(vs_sparse_attention *attn, int layer, int step, int num_steps,
                                  const vs_tensor *q, const vs_tensor *k, const vs_tensor *v, vs_tensor *out,
                                  void *stream);
/* The pieces of a call, for benchmarks: dense attention, the method's plan for `layer`, its attend. */
vs_status vs_sparse_attention_dense(vs_sparse_attention *attn, const vs_tensor *q, const vs_tensor *k,
                                    const vs_tensor *v, vs_tensor *out, void *stream);
vs_status vs_sparse_attention_plan(vs_sparse_attention *attn, int layer, const vs_tensor *q,
                                   const vs_tensor *k, const vs_tensor *v, void *stream);
vs_status vs_sparse_attention_attend(vs_sparse_attention *attn, int layer, const vs_tensor *q,
                                     const vs_tensor *k, const vs_tensor *v, vs_tensor *out, void *stream);

/* The method's statistics since the last take (see vs_sparse_stats); waits for the queued work. */
vs_status vs_sparse_attention_take_stats(vs_sparse_attention *attn, vs_sparse_stats *stats);
/* Fraction of the attention map a sparse call computes (1 for dense). */
double vs_sparse_attention_density(const vs_sparse_attention *attn);
/* `layer`'s last plan as head classes and errors (vs_sparse_method.head_classes). */
vs_status vs_sparse_attention_head_classes(const vs_sparse_attention *attn, int layer, uint8_t *head_class,
                                           float *mse_spatial, float *mse_temporal);
/* The method's name. */
const char *vs_sparse_attention_method(const vs_sparse_attention *attn);

#ifdef __cplusplus
}
#endif
#endif
