/* The public pipeline of vidsparse.h on top of the text-to-video chain (t2v.h). */
#include "pipeline/api.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/bench.h"
#include "core/log.h"
#include "core/status.h"
#include "io/image.h"
#include "io/video.h"
#include "pipeline/t2v.h"
#include "sparse/method.h"

#define PATH_CAP 4096

struct vs_pipeline {
    vs_t2v *t2v;
    char model_dir[PATH_CAP];
    vs_device device;
    vs_attention_params attention; /* the method and settings with the model's defaults filled in */
    vs_cache_settings cache;       /* the step-cache policy, default threshold filled in */
    vs_progress_callback progress;
    void *progress_user;
    int installed_log; /* this pipeline installed the process-wide log callback */
    atomic_int cancel;
    vs_pipeline_stats stats;
};

vs_pipeline_params vs_pipeline_default_params(void) {
    vs_pipeline_params p;
    memset(&p, 0, sizeof p);
    p.device = VS_PIPELINE_AUTO;
    p.attention = (vs_attention_params){.method = "svg", .density = -1.0, .dense_steps = -1.0, .dense_layers = -1.0};
    p.cache = "none";
    p.cache_threshold = -1.0;
    return p;
}

vs_generate_request vs_generate_default_request(void) {
    vs_generate_request r;
    memset(&r, 0, sizeof r);
    r.guidance = -1.0f;
    return r;
}

static vs_status choose_device(vs_pipeline_device choice, vs_device *out) {
    switch (choice) {
    case VS_PIPELINE_AUTO: *out = vs_cuda_device_count() > 0 ? VS_CUDA : VS_CPU; return VS_OK;
    case VS_PIPELINE_CPU: *out = VS_CPU; return VS_OK;
    case VS_PIPELINE_CUDA: *out = VS_CUDA; return VS_OK;
    }
    return vs_fail(VS_ERR_INVALID_ARG, "pipeline device %d is none of auto, cpu and cuda", (int)choice);
}

/* The attention settings against the model's defaults: p->attention. */
static vs_status resolve_attention(vs_pipeline *p, const vs_attention_params *a) {
    const vs_sparse_method *method;
    VS_TRY(vs_sparse_method_find(a->method ? a->method : "dense", &method));
    if (a->density >= 0 && !(a->density > 0 && a->density <= 1))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "attention density must be in (0, 1] (negative: the model's), got %g", a->density);
    if (a->dense_steps > 1 || a->dense_layers > 1)
        return vs_fail(
            VS_ERR_INVALID_ARG,
            "attention dense_steps and dense_layers are fractions in [0, 1] (negative: the model's), got "
            "%g and %g",
            a->dense_steps, a->dense_layers);
    p->attention = vs_t2v_resolve_attention(p->t2v, a);
    p->attention.method = method->name;
    return VS_OK;
}

vs_status vs_pipeline_load(vs_pipeline **out, const char *model_dir, const vs_pipeline_params *params) {
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "vs_pipeline_load: no place for the pipeline");
    *out = NULL;
    const vs_pipeline_params defaults = vs_pipeline_default_params();
    if (!params) params = &defaults;
    const double t0 = vs_bench_now_ms();
    vs_pipeline *p = calloc(1, sizeof *p);
    if (!p) return vs_fail(VS_ERR_OOM, "out of memory");
    atomic_init(&p->cancel, 0);
    p->progress = params->progress;
    p->progress_user = params->progress_user;
    if (params->log) {
        vs_log_set_callback(params->log, params->log_user);
        p->installed_log = 1;
    }
    vs_status s = choose_device(params->device, &p->device);
    if (s == VS_OK) s = vs_t2v_locate(model_dir, p->model_dir, sizeof p->model_dir);
    const vs_t2v_source source = {p->model_dir, NULL, 0, params->precision};
    if (s == VS_OK) s = vs_t2v_open(&source, p->device, params->gpu_memory, &p->t2v);
    if (s == VS_OK) s = resolve_attention(p, &params->attention);
    if (s == VS_OK)
        s = vs_t2v_resolve_cache(
            p->t2v, &(vs_cache_settings){.policy = params->cache, .threshold = params->cache_threshold}, &p->cache);
    if (s != VS_OK) {
        vs_pipeline_free(p);
        return s;
    }
    p->stats.load_s = (vs_bench_now_ms() - t0) / 1e3;
    *out = p;
    return VS_OK;
}

void vs_pipeline_free(vs_pipeline *p) {
    if (!p) return;
    if (p->installed_log) vs_log_set_callback(NULL, NULL);
    vs_t2v_free(p->t2v);
    free(p);
}

vs_status vs_pipeline_set_comm(vs_pipeline *p, vs_comm *comm) {
    return vs_t2v_set_comm(p->t2v, comm);
}

vs_pipeline_info vs_pipeline_get_info(const vs_pipeline *p) {
    const vs_t2v_defaults *d = vs_t2v_get_defaults(p->t2v);
    vs_pipeline_info info;
    memset(&info, 0, sizeof info);
    info.model_dir = p->model_dir;
    info.device = p->device;
    info.pixel_space = vs_t2v_pixel_space(p->t2v);
    info.frames = d->frames, info.height = d->height, info.width = d->width, info.steps = d->steps;
    info.fps = d->fps;
    info.guidance = d->guidance;
    info.embedded_guidance = d->embedded_guidance;
    info.takes_image = vs_t2v_takes_image(p->t2v);
    info.attention = p->attention;
    info.cache = p->cache.policy, info.cache_threshold = p->cache.threshold;
    return info;
}

vs_pipeline_stats vs_pipeline_get_stats(const vs_pipeline *p) {
    return p->stats;
}

void vs_pipeline_cancel(vs_pipeline *p) {
    if (p) atomic_store(&p->cancel, 1);
}

void vs_video_free(vs_video *video) {
    if (!video) return;
    free(video->rgb);
    free(video);
}

vs_status vs_video_save(const vs_video *video, const char *path, int fps) {
    if (!video || !video->rgb || video->frames < 1 || video->height < 1 || video->width < 1)
        return vs_fail(VS_ERR_INVALID_ARG, "vs_video_save: no frames given");
    if (!path || !*path) return vs_fail(VS_ERR_INVALID_ARG, "vs_video_save: no path given");
    const int64_t shape[4] = {video->frames, video->height, video->width, 3};
    const vs_tensor frames = vs_tensor_view(video->rgb, VS_U8, VS_CPU, 4, shape);
    return vs_video_write(path, &frames, fps ? fps : video->fps);
}

static vs_status check_size(const char *name, int value, int max) {
    if (value < 0 || value > max)
        return vs_fail(VS_ERR_INVALID_ARG, "request: %s must be in [1, %d] (0: the model's default), got %d",
                       name, max, value);
    return VS_OK;
}

/* The request's first frame into *image (nothing when it gives none); *out->image points at it. */
static vs_status load_image(const vs_generate_request *r, vs_image *image, vs_t2v_request *out) {
    memset(image, 0, sizeof *image);
    if (r->image_path && r->image_rgb)
        return vs_fail(VS_ERR_INVALID_ARG, "request: give the first frame as a file or as pixels, not both");
    if (r->image_path) VS_TRY(vs_image_load(r->image_path, image));
    if (r->image_rgb) {
        if (r->image_width < 1 || r->image_height < 1 || r->image_width > VS_IMAGE_MAX_SIDE ||
            r->image_height > VS_IMAGE_MAX_SIDE)
            return vs_fail(VS_ERR_INVALID_ARG, "request: image pixels of %d x %d (1 to %d per side)", r->image_width,
                           r->image_height, VS_IMAGE_MAX_SIDE);
        const size_t bytes = (size_t)r->image_width * (size_t)r->image_height * 3;
        if (!(image->rgb = malloc(bytes))) return vs_fail(VS_ERR_OOM, "request: out of memory for the image");
        memcpy(image->rgb, r->image_rgb, bytes);
        image->width = r->image_width, image->height = r->image_height;
    }
    out->image = image->rgb ? image : NULL;
    return VS_OK;
}

/* The public request as t2v's (but for the cancel flag and the image), checking what t2v takes on trust. */
static vs_status to_t2v_request(const vs_pipeline *p, const vs_generate_request *r, vs_t2v_request *out) {
    if (!r) return vs_fail(VS_ERR_INVALID_ARG, "request: none given");
    if (!r->prompt) return vs_fail(VS_ERR_INVALID_ARG, "request: no prompt given");
    VS_TRY(check_size("width", r->width, 16384));
    VS_TRY(check_size("height", r->height, 16384));
    VS_TRY(check_size("frames", r->frames, 10000));
    VS_TRY(check_size("steps", r->steps, 10000));
    if (!(r->guidance <= 100))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "request: guidance must be at most 100 (negative: the model's), got %g", r->guidance);
    if (!(r->embedded_guidance <= 100))
        return vs_fail(VS_ERR_INVALID_ARG, "request: embedded guidance must be at most 100 (<= 0: the model's), got %g",
                       r->embedded_guidance);
    *out = vs_t2v_request_default(r->prompt);
    out->negative_prompt = r->negative_prompt;
    out->seed = r->seed;
    out->steps = r->steps, out->frames = r->frames, out->height = r->height, out->width = r->width;
    out->guidance = r->guidance;
    out->dynamic_cfg = r->dynamic_cfg != 0;
    out->embedded_guidance = r->embedded_guidance;
    out->attention = p->attention;
    out->cache = p->cache;
    out->noise = r->noise;
    out->progress = p->progress;
    out->progress_user = p->progress_user;
    return VS_OK;
}

vs_status vs_pipeline_latent_shape(const vs_pipeline *p, const vs_generate_request *r, int64_t shape[5]) {
    vs_t2v_request t;
    VS_TRY(to_t2v_request(p, r, &t));
    /* The first frame against the model's kind, before any image is read (vs_t2v_generate checks it again). */
    const vs_image stand_in = {1, 1, NULL};
    t.image = r->image_path || r->image_rgb ? &stand_in : NULL;
    VS_TRY(vs_t2v_check_image(p->t2v, &t));
    return vs_t2v_latent_shape(p->t2v, &t, shape);
}

/* f32 [T, 3, H, W] frames in [-1, 1] -> a caller-owned vs_video. */
static vs_status to_video(const vs_tensor *frames, int fps, vs_video **out) {
    vs_video *v = calloc(1, sizeof *v);
    if (!v) return vs_fail(VS_ERR_OOM, "out of memory");
    vs_tensor rgb = {0};
    const vs_status s = vs_video_frames_u8(frames, &rgb);
    if (s != VS_OK) {
        free(v);
        return s;
    }
    v->frames = (int)rgb.shape[0], v->height = (int)rgb.shape[1], v->width = (int)rgb.shape[2], v->fps = fps;
    v->rgb = rgb.data; /* host memory from malloc: vs_video_free releases it */
    *out = v;
    return VS_OK;
}

vs_status vs_pipeline_generate(vs_pipeline *p, const vs_generate_request *r, vs_video **out) {
    if (!out) return vs_fail(VS_ERR_INVALID_ARG, "vs_pipeline_generate: no place for the video");
    *out = NULL;
    if (!p) return vs_fail(VS_ERR_INVALID_ARG, "vs_pipeline_generate: no pipeline");
    atomic_store(&p->cancel, 0);
    const double load_s = p->stats.load_s;
    memset(&p->stats, 0, sizeof p->stats);
    p->stats.load_s = load_s;
    vs_t2v_request t;
    VS_TRY(to_t2v_request(p, r, &t));
    t.cancel = &p->cancel;
    vs_image image;
    vs_tensor frames = {0};
    vs_t2v_stats st;
    vs_status s = load_image(r, &image, &t);
    if (s == VS_OK) s = vs_t2v_generate(p->t2v, &t, &frames, &st);
    vs_image_free(&image);
    if (s == VS_OK) {
        p->stats.text_s = st.encode_s + st.image_s, p->stats.denoise_s = st.denoise_s, p->stats.decode_s = st.decode_s;
        p->stats.dit_s = st.dit.total_s, p->stats.attention_s = st.dit.attention_s;
        p->stats.heads_spatial = st.dit.heads_spatial, p->stats.heads_temporal = st.dit.heads_temporal;
        p->stats.passes_run = st.dit.passes_run, p->stats.passes_reused = st.dit.passes_reused;
        if (st.dit.selected_calls)
            p->stats.selected_density = st.dit.selected_density_sum / (double)st.dit.selected_calls;
        s = to_video(&frames, vs_t2v_get_defaults(p->t2v)->fps, out);
    }
    vs_tensor_free(&frames);
    return s;
}
