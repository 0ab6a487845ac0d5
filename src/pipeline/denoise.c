#include "pipeline/denoise.h"

#include <string.h>

#include "core/log.h"
#include "core/progress.h"
#include "core/status.h"

static int is_f32_cpu(const vs_tensor *t, int ndim) {
    return t && t->data && t->dtype == VS_F32 && t->device == VS_CPU && t->ndim == ndim && vs_tensor_is_contiguous(t);
}

static vs_status check_inputs(const vs_wan_model *model, const vs_denoise_settings *set, const vs_tensor *cond,
                              const vs_tensor *uncond, const vs_tensor *latents, int cfg) {
    if (!is_f32_cpu(latents, 5)) return vs_fail(VS_ERR_SHAPE, "denoise: latents must be a contiguous f32 CPU [B, C, F, H, W]");
    if (latents->shape[1] != model->config.out_channels)
        return vs_fail(VS_ERR_SHAPE, "denoise: the model predicts %d channels for %lld latent channels",
                       model->config.out_channels, (long long)latents->shape[1]);
    if (!is_f32_cpu(cond, 3) || cond->shape[0] != latents->shape[0])
        return vs_fail(VS_ERR_SHAPE, "denoise: prompt embeddings must be a contiguous f32 CPU [%lld, L, text_dim]",
                       (long long)latents->shape[0]);
    if (cfg) {
        if (!uncond) return vs_fail(VS_ERR_INVALID_ARG, "denoise: guidance %g needs negative prompt embeddings", set->guidance);
        if (!is_f32_cpu(uncond, 3) || memcmp(uncond->shape, cond->shape, 3 * sizeof cond->shape[0]) != 0)
            return vs_fail(VS_ERR_SHAPE,
                           "denoise: negative prompt embeddings [%lld, %lld, %lld] must have the prompt's shape "
                           "[%lld, %lld, %lld] (pad both to the same length)",
                           (long long)uncond->shape[0], (long long)uncond->shape[1], (long long)uncond->shape[2],
                           (long long)cond->shape[0], (long long)cond->shape[1], (long long)cond->shape[2]);
    }
    return VS_OK;
}

vs_status vs_wan_denoise(const vs_wan_model *model, const vs_denoise_settings *set, const vs_tensor *cond,
                         const vs_tensor *uncond, vs_tensor *latents, vs_wan_timing *timing) {
    const int cfg = set->guidance > 1.0f; /* as diffusers' do_classifier_free_guidance */
    VS_TRY(check_inputs(model, set, cond, uncond, latents, cfg));
    const int64_t B = latents->shape[0], n = vs_tensor_numel(latents), text_n = vs_tensor_numel(cond);
    const int64_t batch = cfg ? 2 * B : B;
    int64_t shape[5];
    memcpy(shape, latents->shape, sizeof shape);
    shape[0] = batch;
    const int64_t text_shape[3] = {batch, cond->shape[1], cond->shape[2]};

    vs_scheduler *sched = NULL;
    vs_tensor in = {0}, out = {0}, text = {0}, ts = {0};
    vs_status s = vs_scheduler_create(&set->scheduler, set->steps, n, &sched);
    if (s == VS_OK) s = vs_tensor_alloc(&in, VS_F32, VS_CPU, 5, shape);
    if (s == VS_OK) s = vs_tensor_alloc(&out, VS_F32, VS_CPU, 5, shape);
    if (s == VS_OK) s = vs_tensor_alloc(&text, VS_F32, VS_CPU, 3, text_shape);
    if (s == VS_OK) s = vs_tensor_alloc(&ts, VS_F32, VS_CPU, 1, &batch);
    if (s != VS_OK) goto done;
    /* The batch: [prompt entries, negative prompt entries]. */
    memcpy(text.data, cond->data, (size_t)text_n * sizeof(float));
    if (cfg) memcpy((float *)text.data + text_n, uncond->data, (size_t)text_n * sizeof(float));

    vs_progress *progress = set->show_progress ? vs_progress_start("denoise", set->steps) : NULL;
    vs_wan_attention attn = set->attention;
    attn.num_steps = set->steps;
    float *x = latents->data, *v = out.data;
    for (int i = 0; i < set->steps && s == VS_OK; i++) {
        if (set->cancel && atomic_load(set->cancel)) {
            s = vs_fail(VS_ERR_CANCELLED, "generation cancelled at step %d of %d", i + 1, set->steps);
            break;
        }
        attn.step = i;
        for (int64_t b = 0; b < batch; b++) ((float *)ts.data)[b] = vs_scheduler_timestep(sched, i);
        memcpy(in.data, x, (size_t)n * sizeof(float));
        if (cfg) memcpy((float *)in.data + n, x, (size_t)n * sizeof(float));
        s = vs_wan_forward(model, &in, ts.data, &text, &attn, &out, timing);
        if (s != VS_OK) {
            vs_fail_context(s, "denoising step %d of %d", i + 1, set->steps);
            break;
        }
        if (cfg)
            for (int64_t j = 0; j < n; j++) v[j] = v[n + j] + set->guidance * (v[j] - v[n + j]);
        s = vs_scheduler_step(sched, v, x);
        vs_progress_update(progress, i + 1);
        if (s == VS_OK && set->progress && set->progress(set->progress_user, i + 1, set->steps))
            s = vs_fail(VS_ERR_CANCELLED, "generation cancelled at step %d of %d", i + 1, set->steps);
    }
    vs_progress_finish(progress);
done:
    vs_tensor_free(&in);
    vs_tensor_free(&out);
    vs_tensor_free(&text);
    vs_tensor_free(&ts);
    vs_scheduler_free(sched);
    return s;
}
