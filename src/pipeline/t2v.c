#include "pipeline/t2v.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/bench.h"
#include "core/status.h"
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
    vs_text_encoder *text_encoder;
    vs_dit *transformer;
    vs_scheduler_config scheduler;
    vs_vae *vae; /* NULL in pixel space */
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

vs_status vs_t2v_load(const char *dir, vs_device device, vs_t2v **out) {
    *out = NULL;
    vs_t2v *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "out of memory");
    char path[PATH_CAP];
    vs_status s = vs_family_detect(dir, &m->family);
    if (s == VS_OK) s = vs_family_defaults(m->family, dir, &m->defaults);
    if (s == VS_OK) s = vs_text_encoder_load(dir, device, &m->text_encoder);
    if (s == VS_OK) s = vs_dit_load(dir, device, &m->transformer);
    if (s == VS_OK) s = vs_scheduler_config_for(dir, m->defaults.scheduler, &m->scheduler);
    if (s == VS_OK) {
        const vs_dit_info *c = vs_dit_get_info(m->transformer);
        snprintf(path, sizeof path, "%s/vae", dir);
        if (is_dir(path)) {
            s = vs_vae_load(path, device, &m->vae); /* the VAE decodes where the DiT runs */
            if (s == VS_OK && vs_vae_get_info(m->vae)->latent_channels != c->in_channels)
                s = vs_fail(VS_ERR_SHAPE, "%s: the VAE's %d latent channels are not the transformer's %d", dir,
                            vs_vae_get_info(m->vae)->latent_channels, c->in_channels);
        } else if (c->in_channels != 3 || c->out_channels != 3) {
            s = vs_fail(VS_ERR_NOT_FOUND, "%s has no vae/ and its transformer works on %d channels, not RGB pixels",
                        dir, c->in_channels);
        }
    }
    if (s != VS_OK) {
        vs_t2v_free(m);
        return vs_fail_context(s, "loading the pipeline %s", dir);
    }
    *out = m;
    return VS_OK;
}

void vs_t2v_free(vs_t2v *m) {
    if (!m) return;
    vs_text_encoder_free(m->text_encoder);
    vs_dit_free(m->transformer);
    vs_vae_free(m->vae);
    free(m);
}

const vs_t2v_defaults *vs_t2v_get_defaults(const vs_t2v *m) { return &m->defaults; }
int vs_t2v_pixel_space(const vs_t2v *m) { return m->vae == NULL; }

vs_status vs_t2v_set_comm(vs_t2v *m, vs_comm *comm) { return vs_dit_set_comm(m->transformer, comm); }
vs_status vs_t2v_set_precision(vs_t2v *m, vs_precision precision) {
    VS_TRY(vs_text_encoder_set_precision(m->text_encoder, precision));
    return vs_dit_set_precision(m->transformer, precision);
}

vs_t2v_request vs_t2v_request_default(const char *prompt) {
    vs_t2v_request r;
    memset(&r, 0, sizeof r);
    r.prompt = prompt;
    r.guidance = -1.0f;
    r.attention = (vs_attention_params){"dense", -1, -1, -1};
    return r;
}

vs_attention_params vs_t2v_resolve_attention(const vs_t2v *m, const vs_attention_params *params) {
    return vs_attention_resolve(params, &m->defaults.attention);
}

/* The embeddings of one prompt, [1, L, D]. */
static vs_status encode(const vs_t2v *m, const char *prompt, vs_text_embedding *out) {
    return vs_text_encode(m->text_encoder, prompt, m->defaults.text_length, out);
}

/* Latent shape [1, C, F', H', W'] for a video of frames x height x width, as the family lays it out. */
static vs_status latent_shape(const vs_t2v *m, int frames, int height, int width, int64_t *shape) {
    return m->family->latent_shape(vs_dit_get_info(m->transformer), m->vae ? vs_vae_get_info(m->vae) : NULL, frames,
                                   height, width, shape);
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

    vs_text_embedding cond = {0}, uncond = {0};
    vs_tensor latents = {0};
    double t0 = vs_bench_now_ms();
    vs_status s = encode(m, r->prompt, &cond);
    if (s == VS_OK && guidance > 1.0f)
        s = encode(m, r->negative_prompt ? r->negative_prompt : d->negative_prompt, &uncond);
    stats->encode_s = (vs_bench_now_ms() - t0) / 1e3;
    if (s == VS_OK) s = vs_tensor_alloc(&latents, VS_F32, VS_CPU, 5, shape);
    if (s == VS_OK) {
        if (r->noise) memcpy(latents.data, r->noise->data, sizeof(float) * (size_t)vs_tensor_numel(&latents));
        else vs_noise_gaussian(latents.data, vs_tensor_numel(&latents), r->seed);
        vs_denoise_settings set;
        memset(&set, 0, sizeof set);
        set.scheduler = m->scheduler;
        set.steps = steps;
        set.guidance = guidance;
        set.attention = vs_t2v_resolve_attention(m, &r->attention);
        set.show_progress = r->show_progress;
        set.progress = r->progress;
        set.progress_user = r->progress_user;
        set.cancel = r->cancel;
        t0 = vs_bench_now_ms();
        s = vs_denoise(m->transformer, &set, &cond, guidance > 1.0f ? &uncond : NULL, &latents, &stats->dit);
        stats->denoise_s = (vs_bench_now_ms() - t0) / 1e3;
    }
    if (s == VS_OK) {
        t0 = vs_bench_now_ms();
        s = m->vae ? vs_vae_decode(m->vae, &latents, -1, video) : pixels_to_frames(&latents, video);
        stats->decode_s = (vs_bench_now_ms() - t0) / 1e3;
    }
    vs_text_embedding_free(&cond);
    vs_text_embedding_free(&uncond);
    vs_tensor_free(&latents);
    return s;
}
