#include "pipeline/t2v.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/bench.h"
#include "core/json.h"
#include "core/log.h"
#include "core/status.h"
#include "models/wan/prompt.h"
#include "models/wan/vae.h"
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
    vs_t2v_defaults defaults;
    vs_tokenizer *tokenizer;
    vs_umt5 *text_encoder;
    vs_wan_model *transformer;
    vs_scheduler_config scheduler;
    vs_wan_vae *vae; /* NULL in pixel space */
};

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
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

/* vidsparse.json's generation defaults over Wan 2.1's. */
static vs_status read_defaults(const char *dir, vs_t2v_defaults *d) {
    const vs_wan_attention reference = vs_wan_attention_svg(0.25);
    *d = (vs_t2v_defaults){81, 480, 832, 50, 5.0f, VS_WAN_TEXT_LENGTH, 16, reference.density,
                           reference.dense_step_fraction, reference.dense_layer_fraction};
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/vidsparse.json", dir);
    if (!is_file(path)) return VS_OK;
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, path));
    const vs_json *root = vs_json_root(doc);
    const int64_t frames = vs_json_get_int(root, "num_frames", d->frames), height = vs_json_get_int(root, "height", d->height),
                  width = vs_json_get_int(root, "width", d->width),
                  steps = vs_json_get_int(root, "num_inference_steps", d->steps),
                  length = vs_json_get_int(root, "max_sequence_length", d->text_length),
                  fps = vs_json_get_int(root, "fps", d->fps);
    const double guidance = vs_json_get_number(root, "guidance_scale", d->guidance),
                 density = vs_json_get_number(root, "svg_density", d->svg_density),
                 dense_steps = vs_json_get_number(root, "svg_dense_steps", d->svg_dense_steps),
                 dense_layers = vs_json_get_number(root, "svg_dense_layers", d->svg_dense_layers);
    vs_json_free(doc);
    if (frames < 1 || frames > 10000 || height < 1 || height > 16384 || width < 1 || width > 16384 || steps < 1 ||
        steps > 10000 || length < 1 || length > 4096 || fps < 1 || fps > 240 || !(guidance >= 0 && guidance <= 100))
        return vs_fail(VS_ERR_FORMAT, "%s: a generation default is out of range", path);
    if (!(density > 0 && density <= 1) || !(dense_steps >= 0 && dense_steps <= 1) ||
        !(dense_layers >= 0 && dense_layers <= 1))
        return vs_fail(VS_ERR_FORMAT, "%s: svg_density must be in (0, 1], svg_dense_steps and svg_dense_layers in "
                       "[0, 1]", path);
    *d = (vs_t2v_defaults){(int)frames,  (int)height, (int)width,          (int)steps,         (float)guidance,
                           (int)length, (int)fps,    density,             (float)dense_steps, (float)dense_layers};
    return VS_OK;
}

vs_status vs_t2v_load(const char *dir, vs_device device, vs_t2v **out) {
    *out = NULL;
    vs_t2v *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "out of memory");
    char path[PATH_CAP];
    vs_status s = read_defaults(dir, &m->defaults);
    if (s == VS_OK) {
        snprintf(path, sizeof path, "%s/tokenizer", dir);
        s = vs_tokenizer_load(&m->tokenizer, path);
    }
    if (s == VS_OK) {
        snprintf(path, sizeof path, "%s/text_encoder", dir);
        s = vs_umt5_load(&m->text_encoder, path, device);
    }
    if (s == VS_OK) s = vs_wan_model_load(dir, device, &m->transformer);
    if (s == VS_OK) {
        snprintf(path, sizeof path, "%s/scheduler/scheduler_config.json", dir);
        s = vs_scheduler_config_load(path, &m->scheduler);
    }
    if (s == VS_OK) {
        const vs_wan_config *c = &m->transformer->config;
        const vs_umt5_config *t = vs_umt5_get_config(m->text_encoder);
        snprintf(path, sizeof path, "%s/vae", dir);
        if (t->d_model != c->text_dim) {
            s = vs_fail(VS_ERR_SHAPE, "%s: the text encoder's width %d is not the transformer's text_dim %d", dir,
                        t->d_model, c->text_dim);
        } else if (is_dir(path)) {
            s = vs_wan_vae_load(&m->vae, path, device); /* the VAE decodes where the DiT runs */
            if (s == VS_OK && vs_wan_vae_z_dim(m->vae) != c->in_channels)
                s = vs_fail(VS_ERR_SHAPE, "%s: the VAE's %d latent channels are not the transformer's %d", dir,
                            vs_wan_vae_z_dim(m->vae), c->in_channels);
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
    vs_tokenizer_free(m->tokenizer);
    vs_umt5_free(m->text_encoder);
    vs_wan_model_free(m->transformer);
    vs_wan_vae_free(m->vae);
    free(m);
}

const vs_t2v_defaults *vs_t2v_get_defaults(const vs_t2v *m) { return &m->defaults; }
int vs_t2v_pixel_space(const vs_t2v *m) { return m->vae == NULL; }

vs_status vs_t2v_set_comm(vs_t2v *m, vs_comm *comm) { return vs_wan_model_set_comm(m->transformer, comm); }

vs_t2v_request vs_t2v_request_default(const char *prompt) {
    vs_t2v_request r;
    memset(&r, 0, sizeof r);
    r.prompt = prompt;
    r.guidance = -1.0f;
    r.attention = vs_wan_attention_dense();
    return r;
}

vs_wan_attention vs_t2v_svg_attention(const vs_t2v *m, double density, double dense_steps, double dense_layers) {
    const vs_t2v_defaults *d = &m->defaults;
    vs_wan_attention a = vs_wan_attention_svg(density < 0 ? d->svg_density : density);
    a.dense_step_fraction = dense_steps < 0 ? d->svg_dense_steps : (float)dense_steps;
    a.dense_layer_fraction = dense_layers < 0 ? d->svg_dense_layers : (float)dense_layers;
    return a;
}

/* [1, L, d_model] embeddings of one prompt. */
static vs_status encode(const vs_t2v *m, const char *prompt, vs_tensor *out) {
    const int L = m->defaults.text_length, D = vs_umt5_get_config(m->text_encoder)->d_model;
    VS_TRY(vs_tensor_alloc(out, VS_F32, VS_CPU, 3, (int64_t[]){1, L, D}));
    vs_status s = vs_wan_encode_prompt(m->tokenizer, m->text_encoder, prompt, L, out->data, NULL);
    if (s != VS_OK) vs_tensor_free(out);
    return s;
}

/* Latent shape [1, C, F', H', W'] for a video of frames x height x width, checking the divisibility. */
static vs_status latent_shape(const vs_t2v *m, int frames, int height, int width, int64_t *shape) {
    const vs_wan_config *c = &m->transformer->config;
    const int tr = m->vae ? vs_wan_vae_temporal_ratio(m->vae) : 1, sr = m->vae ? vs_wan_vae_spatial_ratio(m->vae) : 1;
    if (m->vae && (frames - 1) % tr)
        return vs_fail(VS_ERR_INVALID_ARG, "this model makes 1 + %d k frames, not %d", tr, frames);
    const int lf = m->vae ? (frames - 1) / tr + 1 : frames;
    if (lf % c->patch_size[0] || height % (sr * c->patch_size[1]) || width % (sr * c->patch_size[2]))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "this model needs the height and width to be multiples of %d and %d (and the frames of %d), "
                       "got %d x %d x %d",
                       sr * c->patch_size[1], sr * c->patch_size[2], (m->vae ? tr : 1) * c->patch_size[0], frames,
                       height, width);
    shape[0] = 1, shape[1] = c->in_channels, shape[2] = lf, shape[3] = height / sr, shape[4] = width / sr;
    return VS_OK;
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

vs_status vs_t2v_generate(const vs_t2v *m, const vs_t2v_request *r, vs_tensor *video, vs_t2v_stats *stats) {
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

    vs_tensor cond = {0}, uncond = {0}, latents = {0};
    double t0 = vs_bench_now_ms();
    vs_status s = encode(m, r->prompt, &cond);
    if (s == VS_OK && guidance > 1.0f)
        s = encode(m, r->negative_prompt ? r->negative_prompt : VS_WAN_DEFAULT_NEGATIVE_PROMPT, &uncond);
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
        set.attention = r->attention;
        set.show_progress = r->show_progress;
        set.progress = r->progress;
        set.progress_user = r->progress_user;
        set.cancel = r->cancel;
        t0 = vs_bench_now_ms();
        s = vs_wan_denoise(m->transformer, &set, &cond, guidance > 1.0f ? &uncond : NULL, &latents, &stats->dit);
        stats->denoise_s = (vs_bench_now_ms() - t0) / 1e3;
    }
    if (s == VS_OK) {
        t0 = vs_bench_now_ms();
        if (m->vae) {
            /* Tiles bound the CPU decode's memory; on the GPU a whole 480p or 720p frame fits. */
            vs_wan_vae_tiling tiling = vs_wan_vae_default_tiling();
            s = vs_wan_vae_decode(m->vae, &latents, vs_wan_vae_device(m->vae) == VS_CPU ? &tiling : NULL, video);
        } else {
            s = pixels_to_frames(&latents, video);
        }
        stats->decode_s = (vs_bench_now_ms() - t0) / 1e3;
    }
    vs_tensor_free(&cond);
    vs_tensor_free(&uncond);
    vs_tensor_free(&latents);
    return s;
}
