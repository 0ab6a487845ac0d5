#include "pipeline/denoise.h"

#include <string.h>

#include "core/devmem.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/status.h"
#include "core/threadpool.h"

static int is_cpu(const vs_tensor *t, vs_dtype dtype, int ndim) {
    return t && t->data && t->dtype == dtype && t->device == VS_CPU && t->ndim == ndim && vs_tensor_is_contiguous(t);
}

static int same_shape(const vs_tensor *a, const vs_tensor *b) {
    return a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}

/* One prompt's embeddings against the batch of B latents; `what` names them in errors. */
static vs_status check_text(const vs_text_embedding *e, int64_t batch, const char *what) {
    if (!is_cpu(&e->hidden, VS_F32, 3) || e->hidden.shape[0] != batch)
        return vs_fail(VS_ERR_SHAPE, "denoise: %s embeddings must be a contiguous f32 CPU [%lld, L, text_dim]", what,
                       (long long)batch);
    if (e->mask.data && (!is_cpu(&e->mask, VS_I32, 2) || e->mask.shape[0] != batch ||
                         e->mask.shape[1] != e->hidden.shape[1]))
        return vs_fail(VS_ERR_SHAPE, "denoise: the %s mask must be I32 [%lld, %lld]", what, (long long)batch,
                       (long long)e->hidden.shape[1]);
    if (e->pooled.data && (!is_cpu(&e->pooled, VS_F32, 2) || e->pooled.shape[0] != batch))
        return vs_fail(VS_ERR_SHAPE, "denoise: the %s pooled embedding must be f32 [%lld, P]", what,
                       (long long)batch);
    return VS_OK;
}

static vs_status check_inputs(const vs_dit *dit, const vs_denoise_settings *set, const vs_text_embedding *cond,
                              const vs_text_embedding *uncond, const vs_tensor *latents, int cfg) {
    if (!is_cpu(latents, VS_F32, 5)) return vs_fail(VS_ERR_SHAPE, "denoise: latents must be a contiguous f32 CPU [B, C, F, H, W]");
    const vs_tensor *c = set->condition;
    if (c && (!is_cpu(c, VS_F32, 5) || c->shape[0] != latents->shape[0] ||
              memcmp(c->shape + 2, latents->shape + 2, 3 * sizeof(int64_t))))
        return vs_fail(VS_ERR_SHAPE, "denoise: the condition must be a contiguous f32 CPU [%lld, Cc, %lld, %lld, %lld] "
                       "like the latents", (long long)latents->shape[0], (long long)latents->shape[2],
                       (long long)latents->shape[3], (long long)latents->shape[4]);
    if (c && latents->shape[1] + c->shape[1] != vs_dit_get_info(dit)->in_channels)
        return vs_fail(VS_ERR_SHAPE, "denoise: the model takes %d channels, not %lld latent + %lld condition channels",
                       vs_dit_get_info(dit)->in_channels, (long long)latents->shape[1], (long long)c->shape[1]);
    if (latents->shape[1] != vs_dit_get_info(dit)->out_channels)
        return vs_fail(VS_ERR_SHAPE, "denoise: the model predicts %d channels for %lld latent channels",
                       vs_dit_get_info(dit)->out_channels, (long long)latents->shape[1]);
    VS_TRY(check_text(cond, latents->shape[0], "prompt"));
    if (!cfg) return VS_OK;
    if (!uncond) return vs_fail(VS_ERR_INVALID_ARG, "denoise: guidance %g needs negative prompt embeddings", set->guidance);
    VS_TRY(check_text(uncond, latents->shape[0], "negative prompt"));
    const vs_tensor *a = &uncond->hidden, *b = &cond->hidden;
    if (!same_shape(a, b) || !uncond->mask.data != !cond->mask.data || !uncond->pooled.data != !cond->pooled.data ||
        (cond->pooled.data && !same_shape(&uncond->pooled, &cond->pooled)))
        return vs_fail(VS_ERR_SHAPE,
                       "denoise: negative prompt embeddings [%lld, %lld, %lld] must have the prompt's shape "
                       "[%lld, %lld, %lld] (pad both to the same length)",
                       (long long)a->shape[0], (long long)a->shape[1], (long long)a->shape[2], (long long)b->shape[0],
                       (long long)b->shape[1], (long long)b->shape[2]);
    return VS_OK;
}

/* dst = [cond entries, uncond entries] (uncond NULL: cond alone); dst unallocated when cond is. */
static vs_status stack(const vs_tensor *cond, const vs_tensor *uncond, vs_tensor *dst) {
    if (!cond->data) return VS_OK;
    int64_t shape[VS_MAX_DIMS];
    memcpy(shape, cond->shape, sizeof shape);
    if (uncond) shape[0] *= 2;
    VS_TRY(vs_tensor_alloc(dst, cond->dtype, VS_CPU, cond->ndim, shape));
    const size_t bytes = (size_t)vs_tensor_numel(cond) * vs_dtype_size(cond->dtype);
    memcpy(dst->data, cond->data, bytes);
    if (uncond) memcpy((char *)dst->data + bytes, uncond->data, bytes);
    return VS_OK;
}

/* The model's input: `copies` batches (the CFG branches) of the B entries, each entry's latents (per_entry
 * values) followed by its condition's (per_cond; none when cond is NULL): channels concatenated. The condition is
 * the same at every step, so it is written once (write_condition) and each step writes the latents (fill_input). */
static void write_condition(float *in, const vs_tensor *cond, int64_t B, int64_t per_entry, int copies) {
    if (!cond) return;
    const int64_t per_cond = vs_tensor_numel(cond) / B;
    for (int64_t e = 0; e < copies * B; e++)
        memcpy(in + e * (per_entry + per_cond) + per_entry, (const float *)cond->data + (e % B) * per_cond,
               (size_t)per_cond * sizeof(float));
}

static void fill_input(float *in, const float *x, const vs_tensor *cond, int64_t B, int64_t per_entry, int copies) {
    const int64_t per_cond = cond ? vs_tensor_numel(cond) / B : 0;
    for (int64_t e = 0; e < copies * B; e++)
        memcpy(in + e * (per_entry + per_cond), x + (e % B) * per_entry, (size_t)per_entry * sizeof(float));
}

/* Classifier-free guidance in place on [cond, uncond] predictions: v = uncond + g (cond - uncond). */
typedef struct {
    float *v;
    int64_t n;
    float g;
} guidance_job;

static void guide(void *ctx, int64_t begin, int64_t end) {
    const guidance_job *job = ctx;
    float *v = job->v;
    for (int64_t j = begin; j < end; j++) v[j] = v[job->n + j] + job->g * (v[j] - v[job->n + j]);
}

/* A host buffer the DiT reads its input from or writes its output to at every step: page-locked where the DiT runs
 * on the GPU, so those copies run at the bus's rate (ordinary memory where that is refused). */
static vs_status staging(const vs_dit *dit, const int64_t shape[5], vs_tensor *out) {
    if (vs_dit_device(dit) != VS_CPU && vs_tensor_alloc_host_pinned(out, VS_F32, 5, shape) == VS_OK) return VS_OK;
    return vs_tensor_alloc(out, VS_F32, VS_CPU, 5, shape);
}

vs_status vs_denoise(vs_dit *dit, const vs_denoise_settings *set, const vs_text_embedding *cond,
                     const vs_text_embedding *uncond, vs_tensor *latents, vs_dit_timing *timing) {
    const int cfg = set->guidance > 1.0f; /* as diffusers' do_classifier_free_guidance */
    VS_TRY(check_inputs(dit, set, cond, uncond, latents, cfg));
    VS_TRY(vs_dit_set_attention(dit, &set->attention));
    const int64_t B = latents->shape[0], n = vs_tensor_numel(latents);
    const int64_t batch = cfg ? 2 * B : B;
    int64_t shape[5], in_shape[5];
    memcpy(shape, latents->shape, sizeof shape);
    shape[0] = batch;
    memcpy(in_shape, shape, sizeof in_shape);
    if (set->condition) in_shape[1] += set->condition->shape[1];

    vs_scheduler *sched = NULL;
    vs_step_cache *cache = NULL;
    vs_tensor in = {0}, out = {0}, text = {0}, mask = {0}, pooled = {0}, ts = {0}, signal = {0}, embedded = {0};
    vs_cache_settings caching;
    vs_teacache_fit fit;
    vs_status s = vs_cache_resolve(&set->cache, dit, &caching, &fit);
    if (s == VS_OK) s = vs_step_cache_create(&caching, &fit, set->steps, n, cfg ? 2 : 1, &cache);
    if (s == VS_OK) s = vs_scheduler_create(&set->scheduler, set->steps, n, &sched);
    if (s == VS_OK) s = staging(dit, in_shape, &in);
    if (s == VS_OK) s = staging(dit, shape, &out);
    if (s == VS_OK) s = vs_tensor_alloc(&ts, VS_F32, VS_CPU, 1, &batch);
    /* Embedded guidance: guidance_scale x 1000 for every batch entry, as HunyuanVideoPipeline gives it. */
    if (s == VS_OK && set->embedded_guidance > 0) s = vs_tensor_alloc(&embedded, VS_F32, VS_CPU, 1, &batch);
    for (int64_t b = 0; s == VS_OK && embedded.data && b < batch; b++)
        ((float *)embedded.data)[b] = set->embedded_guidance * 1000.0f;
    /* The batch: [prompt entries, negative prompt entries]. */
    if (s == VS_OK) s = stack(&cond->hidden, cfg ? &uncond->hidden : NULL, &text);
    if (s == VS_OK) s = stack(&cond->mask, cfg ? &uncond->mask : NULL, &mask);
    if (s == VS_OK) s = stack(&cond->pooled, cfg ? &uncond->pooled : NULL, &pooled);
    if (s != VS_OK) goto done;

    vs_progress *progress = set->show_progress ? vs_progress_start("denoise", set->steps) : NULL;
    vs_dit_input input = {&in, ts.data, &text, mask.data ? &mask : NULL, pooled.data ? &pooled : NULL, 0,
                          set->steps, embedded.data};
    float *x = latents->data, *v = out.data;
    write_condition(in.data, set->condition, B, n / B, cfg ? 2 : 1);
    for (int i = 0; i < set->steps && s == VS_OK; i++) {
        if (set->cancel && atomic_load(set->cancel)) {
            s = vs_fail(VS_ERR_CANCELLED, "generation cancelled at step %d of %d", i + 1, set->steps);
            break;
        }
        input.step = i;
        const float t = vs_scheduler_timestep(sched, i);
        for (int64_t b = 0; b < batch; b++) ((float *)ts.data)[b] = t;
        int run = 1;
        if (vs_step_cache_needs_signal(cache)) { /* the signal may read the latents (HunyuanVideo's) */
            fill_input(in.data, x, set->condition, B, n / B, cfg ? 2 : 1);
            s = vs_dit_teacache(dit, &input, &signal, NULL);
        }
        if (s == VS_OK) s = vs_step_cache_decide(cache, i, x, signal.data ? &signal : NULL, &run);
        vs_tensor_free(&signal);
        if (s == VS_OK && run) {
            fill_input(in.data, x, set->condition, B, n / B, cfg ? 2 : 1);
            s = vs_dit_forward(dit, &input, &out, timing);
            if (s == VS_OK) vs_step_cache_store(cache, x, v);
        } else if (s == VS_OK) {
            vs_step_cache_reuse(cache, x, v);
        }
        if (s != VS_OK) {
            vs_fail_context(s, "denoising step %d of %d", i + 1, set->steps);
            break;
        }
        if (timing) *(run ? &timing->passes_run : &timing->passes_reused) += cfg ? 2 : 1;
        if (set->on_step) {
            const vs_denoise_step step = {i, run, t, cfg ? 2 : 1, n, x, v};
            set->on_step(set->on_step_user, &step);
        }
        if (cfg) {
            guidance_job job = {v, n, (float)vs_guidance_scale(set->guidance, set->dynamic_cfg, t, set->steps)};
            vs_parallel_for(n, 1 << 16, guide, &job);
        }
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
    vs_tensor_free(&mask);
    vs_tensor_free(&pooled);
    vs_tensor_free(&ts);
    vs_tensor_free(&embedded);
    vs_scheduler_free(sched);
    vs_step_cache_free(cache);
    return s;
}
