#include "pipeline/t2v.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/bench.h"
#include "core/devmem.h"
#include "core/log.h"
#include "core/status.h"
#include "io/image.h"
#include "pipeline/denoise.h"
#include "pipeline/noise.h"

/* Set by CMake for this file. */
#ifndef VS_SOURCE_MODEL_DIR
#define VS_SOURCE_MODEL_DIR "models/vidsparse-tiny"
#endif
#ifndef VS_INSTALL_MODEL_DIR
#define VS_INSTALL_MODEL_DIR "/usr/local/share/vidsparse/models/vidsparse-tiny"
#endif

#define PATH_CAP 4096

struct vs_t2v {
    const vs_family *family;
    vs_t2v_defaults defaults;
    vs_t2v_source source;      /* its strings point into dir and preset */
    char dir[PATH_CAP], preset[64];
    vs_device device;
    size_t budget;             /* bytes of device memory generations may hold; 0: no limit (the CPU) */
    vs_dit_info dit_info;      /* from the configuration: known before the DiT is loaded */
    vs_vae_info vae_info;
    int pixel_space;           /* no VAE */
    int image_channels;        /* channels of the image condition an image-to-video DiT takes; 0: text to video */
    vs_comm *comm;             /* given to the DiT whenever it is loaded */
    vs_scheduler_config scheduler;
    /* Loaded when needed; NULL while not loaded (the memory plan decides) */
    vs_text_encoder *text_encoder;
    vs_dit *transformer;
    vs_vae *vae;
};

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static vs_status copy_path(char *out, size_t size, const char *path) {
    if ((size_t)snprintf(out, size, "%s", path) >= size) return vs_fail(VS_ERR_INVALID_ARG, "model path too long: %s", path);
    return VS_OK;
}

vs_status vs_t2v_locate(const char *given, char *out, size_t size) {
    if (given) {
        if (!is_dir(given)) return vs_fail(VS_ERR_NOT_FOUND, "model folder %s: %s", given, strerror(ENOENT));
        return copy_path(out, size, given);
    }
    const char *env = getenv("VS_MODEL_DIR");
    if (env && *env) {
        if (!is_dir(env)) return vs_fail(VS_ERR_NOT_FOUND, "VS_MODEL_DIR=%s is not a folder", env);
        return copy_path(out, size, env);
    }
    if (is_dir(VS_SOURCE_MODEL_DIR)) return copy_path(out, size, VS_SOURCE_MODEL_DIR);
    if (is_dir(VS_INSTALL_MODEL_DIR)) return copy_path(out, size, VS_INSTALL_MODEL_DIR);
    return vs_fail(VS_ERR_NOT_FOUND,
                   "no model: give --model DIR or set VS_MODEL_DIR (the embedded model is not at %s nor at %s)",
                   VS_SOURCE_MODEL_DIR, VS_INSTALL_MODEL_DIR);
}

static void free_component(vs_t2v *m, vs_stage stage) {
    if (stage == VS_STAGE_TEXT) vs_text_encoder_free(m->text_encoder), m->text_encoder = NULL;
    if (stage == VS_STAGE_DENOISE) vs_dit_free(m->transformer), m->transformer = NULL;
    if (stage == VS_STAGE_DECODE) vs_vae_free(m->vae), m->vae = NULL;
}

/* The component of `stage` from the source, unless it is loaded already, set up right after it loads: the
 * text encoder and the DiT at the source's precision, the DiT on the pipeline's comm. One that fails any of
 * it is freed (not kept half set up for the next stage). */
static vs_status load_component(vs_t2v *m, vs_stage stage) {
    const vs_t2v_source *src = &m->source;
    char path[PATH_CAP];
    vs_status s = VS_OK;
    switch (stage) {
    case VS_STAGE_TEXT:
        if (m->text_encoder) return VS_OK;
        s = src->dir ? vs_text_encoder_load(src->dir, m->device, &m->text_encoder)
                     : vs_text_encoder_random(src->preset, m->device, src->seed + 1, &m->text_encoder);
        if (s == VS_OK) s = vs_text_encoder_set_precision(m->text_encoder, src->precision);
        break;
    case VS_STAGE_DENOISE:
        if (m->transformer) return VS_OK;
        s = src->dir ? vs_dit_load_as(src->dir, m->device, src->precision, &m->transformer)
                     : vs_dit_random_as(src->preset, 0, m->device, src->seed + 2, src->precision, &m->transformer);
        if (s == VS_OK && m->comm) s = vs_dit_set_comm(m->transformer, m->comm);
        break;
    case VS_STAGE_DECODE:
        if (m->vae || m->pixel_space) return VS_OK;
        snprintf(path, sizeof path, "%s/vae", src->dir ? src->dir : "");
        s = src->dir ? vs_vae_load(path, m->device, &m->vae) /* the VAE decodes where the DiT runs */
                     : vs_vae_random(src->preset, m->device, src->seed + 3, &m->vae);
        break;
    default: return vs_fail(VS_ERR_INVALID_ARG, "no pipeline stage %d", (int)stage);
    }
    if (s != VS_OK) free_component(m, stage);
    return s;
}

/* An image-to-video DiT takes the image condition's channels after the latents': a family that makes one. */
static vs_status image_channels_of(vs_t2v *m) {
    return vs_family_image_channels(m->family, &m->dit_info, &m->image_channels);
}

/* The DiT's and the VAE's shapes from their configurations, checked against each other. */
static vs_status read_infos(vs_t2v *m) {
    const vs_t2v_source *src = &m->source;
    char path[PATH_CAP];
    if (!src->dir) {
        VS_TRY(m->family->dit_preset(src->preset, &m->dit_info));
        m->vae_info = m->family->reference_vae;
        return image_channels_of(m);
    }
    VS_TRY(m->family->dit_info(src->dir, &m->dit_info));
    const vs_dit_info *c = &m->dit_info;
    snprintf(path, sizeof path, "%s/vae", src->dir);
    m->pixel_space = !is_dir(path);
    if (m->pixel_space) {
        if (c->in_channels != 3 || c->out_channels != 3)
            return vs_fail(VS_ERR_NOT_FOUND, "%s has no vae/ and its transformer works on %d channels, not RGB pixels",
                           src->dir, c->in_channels);
        return VS_OK;
    }
    VS_TRY(m->family->vae_info(path, &m->vae_info));
    if (m->vae_info.latent_channels != c->out_channels)
        return vs_fail(VS_ERR_SHAPE, "%s: the VAE's %d latent channels are not the transformer's %d", src->dir,
                       m->vae_info.latent_channels, c->out_channels);
    return image_channels_of(m);
}

/* Device memory in use now (cudaMemGetInfo); 0 on the CPU. */
static size_t device_in_use(vs_device device, size_t *total) {
    size_t free_bytes = 0, total_bytes = 0;
    *total = 0;
    if (device == VS_CPU || vs_device_mem_info(&free_bytes, &total_bytes) != VS_OK) return 0;
    *total = total_bytes;
    return total_bytes - free_bytes;
}

/* The plan for a video of frames x height x width with `guidance` and `attention` (resolved) against the
 * pipeline's budget. Components loaded for a resident plan (at another size) that this plan does not keep are
 * freed, and the plan made again with what the device holds then (an FP8 text encoder holds less than the
 * plan counts for it). */
static vs_status plan_for(vs_t2v *m, int frames, int height, int width, float guidance,
                          const vs_attention_params *attention, vs_memory_plan *plan) {
    int64_t shape[5];
    VS_TRY(m->family->latent_shape(&m->dit_info, m->pixel_space ? NULL : &m->vae_info, frames, height, width, shape));
    if (guidance > 1.0f) shape[0] = 2; /* the prompt and the negative prompt in one batch */
    vs_stage_memory need[VS_STAGE_COUNT];
    VS_TRY(vs_family_memory_need(m->family, m->source.dir, m->source.preset, &m->dit_info, m->device,
                                 m->source.precision, attention, shape, m->defaults.text_length, need));
    /* What this pipeline holds already is not "in use by others". */
    size_t total, in_use = device_in_use(m->device, &total), held = 0;
    if (m->text_encoder) held += need[VS_STAGE_TEXT].weights;
    if (m->transformer) held += need[VS_STAGE_DENOISE].weights;
    if (m->vae) held += need[VS_STAGE_DECODE].weights;
    in_use = in_use > held ? in_use - held : 0;
    VS_TRY(vs_memory_plan_make(need, m->budget, in_use, plan));
    if (plan->resident || !held) return VS_OK;
    for (int i = 0; i < VS_STAGE_COUNT; i++) free_component(m, (vs_stage)i);
    return vs_memory_plan_make(need, m->budget, device_in_use(m->device, &total), plan);
}

vs_status vs_t2v_open(const vs_t2v_source *source, vs_device device, double budget_gib, vs_t2v **out) {
    *out = NULL;
    const char *what = source->dir ? source->dir : source->preset ? source->preset : "(none)";
    if (!(budget_gib >= 0 && budget_gib < 1e6))
        return vs_fail(VS_ERR_INVALID_ARG, "the GPU memory budget must be >= 0 GiB (0: the device's), got %g", budget_gib);
    vs_t2v *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "out of memory");
    m->device = device;
    m->source = *source;
    vs_status s = VS_OK;
    if (source->dir) {
        s = copy_path(m->dir, sizeof m->dir, source->dir);
        m->source.dir = m->dir, m->source.preset = NULL;
    } else if (!source->preset || strlen(source->preset) >= sizeof m->preset) {
        s = vs_fail(VS_ERR_INVALID_ARG, "a pipeline needs a model folder or a model configuration name");
    } else {
        snprintf(m->preset, sizeof m->preset, "%s", source->preset);
        m->source.preset = m->preset;
    }
    if (s == VS_OK) s = source->dir ? vs_family_detect(m->dir, &m->family) : vs_family_for_preset(m->preset, &m->family);
    if (s == VS_OK) m->defaults = m->family->defaults;
    if (s == VS_OK && source->dir) s = vs_family_defaults(m->family, m->dir, &m->defaults);
    if (s == VS_OK) s = vs_scheduler_config_for(source->dir ? m->dir : NULL, m->defaults.scheduler, &m->scheduler);
    if (s == VS_OK) m->scheduler.linear_sigmas = m->defaults.linear_sigmas;
    if (s == VS_OK) s = read_infos(m);
    /* Refused here even when the plan loads nothing yet, not at the first generate. */
    if (s == VS_OK && source->precision != VS_PRECISION_DEFAULT && source->precision != VS_PRECISION_FP8 &&
        source->precision != VS_PRECISION_FP8_FFN)
        s = vs_fail(VS_ERR_INVALID_ARG, "weight precision %d is none of the default, FP8 and FP8 FFN",
                    (int)source->precision);
    if (s == VS_OK && source->precision != VS_PRECISION_DEFAULT &&
        !(m->family->dit_set_precision && m->family->text_set_precision))
        s = vs_fail(VS_ERR_UNSUPPORTED, "the %s family has no FP8 weights", m->family->name);
    size_t total = 0;
    device_in_use(device, &total);
    m->budget = budget_gib > 0 ? (size_t)(budget_gib * (double)(1ull << 30)) : total; /* 0 on the CPU: no limit */
    /* The plan at the model's default size decides whether everything loads now (resident) or
     * each component when its stage comes; a budget that cannot work refuses here, before loading. */
    vs_memory_plan plan;
    const vs_t2v_defaults *d = &m->defaults;
    if (s == VS_OK) s = plan_for(m, d->frames, d->height, d->width, d->guidance, &d->attention, &plan);
    for (int i = 0; s == VS_OK && plan.resident && i < VS_STAGE_COUNT; i++) s = load_component(m, (vs_stage)i);
    if (s != VS_OK) {
        vs_t2v_free(m);
        return vs_fail_context(s, "loading the pipeline %s", what);
    }
    *out = m;
    return VS_OK;
}

vs_status vs_t2v_load(const char *dir, vs_device device, vs_t2v **out) {
    const vs_t2v_source source = {dir, NULL, 0, VS_PRECISION_DEFAULT};
    return vs_t2v_open(&source, device, 0, out);
}

void vs_t2v_free(vs_t2v *m) {
    if (!m) return;
    for (int i = 0; i < VS_STAGE_COUNT; i++) free_component(m, (vs_stage)i);
    free(m);
}

const vs_t2v_defaults *vs_t2v_get_defaults(const vs_t2v *m) { return &m->defaults; }
int vs_t2v_pixel_space(const vs_t2v *m) { return m->pixel_space; }
int vs_t2v_takes_image(const vs_t2v *m) { return m->image_channels > 0; }

vs_status vs_t2v_set_comm(vs_t2v *m, vs_comm *comm) {
    m->comm = comm;
    return m->transformer ? vs_dit_set_comm(m->transformer, comm) : VS_OK;
}

vs_t2v_request vs_t2v_request_default(const char *prompt) {
    vs_t2v_request r;
    memset(&r, 0, sizeof r);
    r.prompt = prompt;
    r.guidance = -1.0f;
    r.attention = (vs_attention_params){.method = "dense", .density = -1, .dense_steps = -1, .dense_layers = -1};
    return r;
}

vs_attention_params vs_t2v_resolve_attention(const vs_t2v *m, const vs_attention_params *params) {
    return vs_attention_resolve(params, &m->defaults.attention);
}

vs_status vs_t2v_resolve_cache(const vs_t2v *m, const vs_cache_settings *in, vs_cache_settings *out) {
    return vs_cache_resolve(in, m->transformer, out, NULL);
}

/* The embeddings of one prompt, [1, L, D]. */
static vs_status encode(const vs_t2v *m, const char *prompt, vs_text_embedding *out) {
    return vs_text_encode(m->text_encoder, prompt, m->defaults.text_length, out);
}

/* Latent shape [1, C, F', H', W'] for a video of frames x height x width, as the family lays it out. */
static vs_status latent_shape(const vs_t2v *m, int frames, int height, int width, int64_t *shape) {
    return m->family->latent_shape(&m->dit_info, m->pixel_space ? NULL : &m->vae_info, frames, height, width, shape);
}

/* Pixel-space output [1, 3, T, H, W] -> frames [T, 3, H, W]. */
static vs_status pixels_to_frames(const vs_tensor *x, vs_tensor *video) {
    const int64_t C = x->shape[1], T = x->shape[2], HW = x->shape[3] * x->shape[4];
    VS_TRY(vs_tensor_alloc(video, VS_F32, VS_CPU, 4, (int64_t[]){T, C, x->shape[3], x->shape[4]}));
    const float *src = x->data;
    float *dst = video->data;
    for (int64_t c = 0; c < C; c++)
        for (int64_t t = 0; t < T; t++) memcpy(dst + (t * C + c) * HW, src + (c * T + t) * HW, sizeof(float) * (size_t)HW);
    return VS_OK;
}

vs_status vs_t2v_latent_shape(const vs_t2v *m, const vs_t2v_request *r, int64_t shape[5]) {
    const vs_t2v_defaults *d = &m->defaults;
    return latent_shape(m, r->frames > 0 ? r->frames : d->frames, r->height > 0 ? r->height : d->height,
                        r->width > 0 ? r->width : d->width, shape);
}

/* The request's initial latents, when given, must be host f32 of the request's latent shape. */
static vs_status check_noise(const vs_tensor *noise, const int64_t *shape) {
    const int fits = noise->dtype == VS_F32 && noise->device == VS_CPU && noise->data && noise->ndim == 5 &&
                     vs_tensor_is_contiguous(noise) && !memcmp(noise->shape, shape, 5 * sizeof shape[0]);
    if (fits) return VS_OK;
    char got[160] = "";
    for (int i = 0, n = 0; i < noise->ndim && i < VS_MAX_DIMS && n < (int)sizeof got; i++)
        n += snprintf(got + n, sizeof got - (size_t)n, "%s%lld", i ? ", " : "", (long long)noise->shape[i]);
    return vs_fail(VS_ERR_SHAPE,
                   "the initial noise must be contiguous host f32 [%lld, %lld, %lld, %lld, %lld] for this request, "
                   "got %s %s [%s]",
                   (long long)shape[0], (long long)shape[1], (long long)shape[2], (long long)shape[3],
                   (long long)shape[4], noise->device == VS_CPU ? "host" : "device", vs_dtype_name(noise->dtype), got);
}

vs_status vs_t2v_check_image_kind(const char *model, int image_channels, int has_image) {
    if (has_image && !image_channels)
        return vs_fail(VS_ERR_INVALID_ARG, "%s is a text-to-video model: it takes no image", model);
    if (!has_image && image_channels)
        return vs_fail(VS_ERR_INVALID_ARG, "%s is an image-to-video model: give the first frame (--image)", model);
    return VS_OK;
}

vs_status vs_t2v_check_image(const vs_t2v *m, const vs_t2v_request *r) {
    const char *what = m->source.dir ? m->source.dir : m->source.preset;
    return vs_t2v_check_image_kind(what, m->image_channels, r->image != NULL);
}

vs_status vs_t2v_image_condition(vs_vae *vae, const vs_dit_info *dit, const vs_image *image, uint64_t seed,
                                 const int64_t shape[5], vs_tensor *out) {
    const int ratio = vs_vae_get_info(vae)->spatial_ratio;
    const int height = (int)(shape[3] * ratio), width = (int)(shape[4] * ratio);
    vs_tensor pixels = {0}, noise = {0};
    vs_status s = vs_image_to_pixels(image, width, height, &pixels);
    if (s == VS_OK) s = vs_tensor_alloc(&noise, VS_F32, VS_CPU, 5, (int64_t[]){1, shape[1], 1, shape[3], shape[4]});
    if (s == VS_OK) {
        vs_noise_gaussian(noise.data, vs_tensor_numel(&noise), vs_t2v_image_noise_seed(seed));
        s = vs_vae_image_condition(vae, dit, &pixels, &noise, shape, out);
    }
    vs_tensor_free(&pixels);
    vs_tensor_free(&noise);
    if (s != VS_OK) return vs_fail_context(s, "encoding the first frame");
    return VS_OK;
}

vs_status vs_t2v_drop_leading_frames(const vs_tensor *x, int n, vs_tensor *out) {
    if (n == 0) { /* a view: any layout the VAE takes */
        *out = vs_tensor_view(x->data, x->dtype, x->device, x->ndim, x->shape);
        return VS_OK;
    }
    if (x->ndim != 5 || x->shape[0] != 1 || x->dtype != VS_F32 || x->device != VS_CPU)
        return vs_fail(VS_ERR_SHAPE, "latents must be host f32 [1, C, F, H, W] to drop leading frames of");
    if (n < 0 || n >= x->shape[2])
        return vs_fail(VS_ERR_SHAPE, "cannot drop %d leading frames of %lld latent frames", n,
                       (long long)x->shape[2]);
    const int64_t C = x->shape[1], F = x->shape[2], HW = x->shape[3] * x->shape[4];
    VS_TRY(vs_tensor_alloc(out, VS_F32, VS_CPU, 5, (int64_t[]){1, C, F - n, x->shape[3], x->shape[4]}));
    for (int64_t c = 0; c < C; c++)
        memcpy((float *)out->data + c * (F - n) * HW, (const float *)x->data + (c * F + n) * HW,
               sizeof(float) * (size_t)((F - n) * HW));
    return VS_OK;
}

/* The stage begins: its component loaded (timed into stats->load_s), the others the plan lets go freed. */
static vs_status begin_stage(vs_t2v *m, const vs_t2v_request *r, const vs_memory_plan *plan, vs_stage stage,
                             vs_t2v_stats *stats) {
    if (r->stage) r->stage(r->stage_user, stage);
    if (!plan->resident)
        for (int i = 0; i < VS_STAGE_COUNT; i++)
            if (i != (int)stage && !(i == VS_STAGE_DENOISE && stage == VS_STAGE_DECODE && plan->keep_dit_for_decode))
                free_component(m, (vs_stage)i);
    /* A DiT kept through the decode keeps only its weights: the plan counts its work in the denoising stage. */
    if (stage == VS_STAGE_DECODE && m->transformer) vs_dit_release_work(m->transformer);
    const double t0 = vs_bench_now_ms();
    vs_status s = load_component(m, stage);
    stats->load_s[stage] = (vs_bench_now_ms() - t0) / 1e3;
    if (s != VS_OK) return vs_fail_context(s, "loading the component for %s", vs_stage_name(stage));
    return VS_OK;
}

vs_status vs_t2v_generate(vs_t2v *m, const vs_t2v_request *r, vs_tensor *video, vs_t2v_stats *stats) {
    memset(video, 0, sizeof *video);
    vs_t2v_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    if (!r || !r->prompt) return vs_fail(VS_ERR_INVALID_ARG, "generate: no prompt given");
    const vs_t2v_defaults *d = &m->defaults;
    const int steps = r->steps > 0 ? r->steps : d->steps;
    const float guidance = r->guidance >= 0 ? r->guidance : d->guidance;
    int64_t shape[5];
    VS_TRY(vs_t2v_latent_shape(m, r, shape));
    if (r->noise) VS_TRY(check_noise(r->noise, shape));
    VS_TRY(vs_t2v_check_image(m, r));
    const vs_attention_params attention = vs_t2v_resolve_attention(m, &r->attention);
    VS_TRY(plan_for(m, r->frames > 0 ? r->frames : d->frames, r->height > 0 ? r->height : d->height,
                    r->width > 0 ? r->width : d->width, guidance, &attention, &stats->plan));
    const vs_memory_plan *plan = &stats->plan;
    if (!plan->resident)
        VS_DEBUG("memory plan: staged (%s the DiT for the decode), budget %.2f GiB",
                 plan->keep_dit_for_decode ? "keeping" : "freeing", (double)plan->budget / (double)(1ull << 30));

    vs_text_embedding cond = {0}, uncond = {0};
    vs_tensor latents = {0}, condition = {0}, decoded = {0};
    vs_status s = begin_stage(m, r, plan, VS_STAGE_TEXT, stats);
    double t0 = vs_bench_now_ms();
    if (s == VS_OK) s = encode(m, r->prompt, &cond);
    if (s == VS_OK && guidance > 1.0f)
        s = encode(m, r->negative_prompt ? r->negative_prompt : d->negative_prompt, &uncond);
    stats->encode_s = (vs_bench_now_ms() - t0) / 1e3;
    if (s == VS_OK && r->image) s = begin_stage(m, r, plan, VS_STAGE_DECODE, stats); /* the VAE encodes it */
    if (s == VS_OK && r->image) {
        t0 = vs_bench_now_ms();
        s = vs_t2v_image_condition(m->vae, &m->dit_info, r->image, r->seed, shape, &condition);
        stats->image_s = (vs_bench_now_ms() - t0) / 1e3;
    }
    if (s == VS_OK) s = begin_stage(m, r, plan, VS_STAGE_DENOISE, stats);
    if (s == VS_OK) s = vs_tensor_alloc(&latents, VS_F32, VS_CPU, 5, shape);
    if (s == VS_OK) {
        if (r->noise) memcpy(latents.data, r->noise->data, sizeof(float) * (size_t)vs_tensor_numel(&latents));
        else vs_noise_gaussian(latents.data, vs_tensor_numel(&latents), r->seed);
        vs_denoise_settings set;
        memset(&set, 0, sizeof set);
        set.scheduler = m->scheduler;
        set.scheduler.noise_seed = r->seed; /* a stochastic scheduler's per-step noise */
        set.steps = steps;
        set.guidance = guidance;
        set.dynamic_cfg = r->dynamic_cfg;
        set.embedded_guidance = r->embedded_guidance > 0 ? r->embedded_guidance : d->embedded_guidance;
        set.attention = vs_t2v_resolve_attention(m, &r->attention);
        set.show_progress = r->show_progress;
        set.progress = r->progress;
        set.progress_user = r->progress_user;
        set.cancel = r->cancel;
        set.cache = r->cache;
        set.condition = condition.data ? &condition : NULL;
        t0 = vs_bench_now_ms();
        s = vs_denoise(m->transformer, &set, &cond, guidance > 1.0f ? &uncond : NULL, &latents, &stats->dit);
        stats->denoise_s = (vs_bench_now_ms() - t0) / 1e3;
    }
    if (s == VS_OK) s = begin_stage(m, r, plan, VS_STAGE_DECODE, stats);
    if (s == VS_OK) {
        t0 = vs_bench_now_ms();
        const int padding = vs_family_padding_frames(m->family, &m->dit_info, m->pixel_space ? NULL : &m->vae_info,
                                                     r->frames > 0 ? r->frames : d->frames);
        s = vs_t2v_drop_leading_frames(&latents, padding, &decoded);
        if (s == VS_OK) s = m->vae ? vs_vae_decode(m->vae, &decoded, plan->tile_vae ? 1 : -1, video) : pixels_to_frames(&decoded, video);
        stats->decode_s = (vs_bench_now_ms() - t0) / 1e3;
    }
    if (s == VS_OK && m->vae) stats->vae = vs_vae_get_memory(m->vae);
    if (!plan->resident)
        for (int i = 0; i < VS_STAGE_COUNT; i++) free_component(m, (vs_stage)i);
    if (r->stage) r->stage(r->stage_user, VS_STAGE_COUNT);
    vs_text_embedding_free(&cond);
    vs_text_embedding_free(&uncond);
    vs_tensor_free(&latents);
    vs_tensor_free(&condition);
    vs_tensor_free(&decoded);
    return s;
}
