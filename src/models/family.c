/* The family registry and the component handles of models/family.h. */
#include "models/family.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/status.h"
#include "io/path.h"
#include "sparse/sparse_attention.h"

extern const vs_family vs_family_wan;
extern const vs_family vs_family_hunyuan;
extern const vs_family vs_family_cogvideox;

/* Every family this build runs: adding one is a line here. */
static const vs_family *const families[] = {&vs_family_wan, &vs_family_hunyuan, &vs_family_cogvideox};

#define FAMILY_COUNT ((int)(sizeof families / sizeof families[0]))

/* "WanPipeline, WanTransformer3DModel, ..." of every family, for errors. */
static void known_classes(char *buf, size_t size) {
    size_t n = 0;
    buf[0] = 0;
    for (int f = 0; f < FAMILY_COUNT; f++)
        for (const char *const *c = families[f]->class_names; *c && n < size; c++)
            n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", *c);
}

/* The class a config names: diffusers' `_class_name`, or transformers' first `architectures`. */
static const char *class_of(const vs_json *root) {
    const char *name = vs_json_get_string(root, "_class_name", NULL);
    const vs_json *arch = vs_json_get(root, "architectures");
    if (!name && arch && vs_json_size(arch) > 0) name = vs_json_string(vs_json_at(arch, 0), NULL);
    return name;
}

vs_status vs_family_detect(const char *dir, const vs_family **out) {
    *out = NULL;
    /* A pipeline folder names its class in model_index.json; a component folder in config.json; a
     * folder holding only some components (text encoder and tokenizer, say) in theirs. */
    static const char *const where[] = {"model_index.json", "config.json", "transformer/config.json",
                                        "text_encoder/config.json", "vae/config.json"};
    char path[4096];
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, where[i]) >= sizeof path)
            return vs_fail(VS_ERR_INVALID_ARG, "model path too long: %s", dir);
        if (!vs_is_file(path)) continue;
        vs_json_doc *doc = NULL;
        VS_TRY(vs_json_parse_file(&doc, path));
        const char *name = class_of(vs_json_root(doc));
        vs_status s = VS_OK;
        if (!name) {
            s = vs_fail(VS_ERR_FORMAT, "%s names no model class (_class_name)", path);
        } else {
            for (int f = 0; f < FAMILY_COUNT && !*out; f++)
                for (const char *const *c = families[f]->class_names; *c; c++)
                    if (!strcmp(*c, name)) *out = families[f];
            if (!*out) {
                char known[1024];
                known_classes(known, sizeof known);
                s = vs_fail(VS_ERR_UNSUPPORTED, "%s: %s is a model this build does not run (it runs %s)", path, name,
                            known);
            }
        }
        vs_json_free(doc);
        return s;
    }
    return vs_fail(VS_ERR_NOT_FOUND, "%s: no model_index.json or config.json: not a model folder", dir);
}

vs_status vs_family_for_preset(const char *preset, const vs_family **out) {
    *out = NULL;
    char all[512];
    size_t n = 0;
    all[0] = 0;
    for (int f = 0; f < FAMILY_COUNT; f++) {
        const vs_family *family = families[f];
        const char *list = family->presets; /* "a, b, c" */
        const size_t len = strlen(preset);
        for (const char *p = strstr(list, preset); p; p = strstr(p + 1, preset))
            if ((p == list || p[-1] == ' ') && (p[len] == ',' || p[len] == 0)) {
                *out = family;
                return VS_OK;
            }
        n += (size_t)snprintf(all + n, n < sizeof all ? sizeof all - n : 0, "%s%s", n ? ", " : "", list);
    }
    return vs_fail(VS_ERR_INVALID_ARG, "unknown model configuration '%s' (known: %s)", preset, all);
}

vs_attention_params vs_attention_resolve(const vs_attention_params *p, const vs_attention_params *d) {
    vs_attention_params r = *d;
    if (!p) return r;
    if (p->method) r.method = p->method;
    if (p->density >= 0) r.density = p->density;
    if (p->dense_steps >= 0) r.dense_steps = p->dense_steps;
    if (p->dense_layers >= 0) r.dense_layers = p->dense_layers;
    if (p->svg2_query_clusters > 0) r.svg2_query_clusters = p->svg2_query_clusters;
    if (p->svg2_key_clusters > 0) r.svg2_key_clusters = p->svg2_key_clusters;
    if (p->svg2_top_p > 0) r.svg2_top_p = p->svg2_top_p;
    if (p->svg2_min_key_ratio > 0) r.svg2_min_key_ratio = p->svg2_min_key_ratio;
    if (p->svg2_budget > 0) r.svg2_budget = p->svg2_budget;
    if (p->precision != VS_PRECISION_DEFAULT) r.precision = p->precision;
    return r;
}

vs_status vs_family_defaults(const vs_family *family, const char *dir, vs_generation_defaults *out) {
    vs_generation_defaults d = family->defaults;
    *out = d;
    char path[4096];
    snprintf(path, sizeof path, "%s/vidsparse.json", dir);
    if (!vs_is_file(path)) return VS_OK;
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, path));
    const vs_json *root = vs_json_root(doc);
    const int64_t frames = vs_json_get_int(root, "num_frames", d.frames), height = vs_json_get_int(root, "height", d.height),
                  width = vs_json_get_int(root, "width", d.width),
                  steps = vs_json_get_int(root, "num_inference_steps", d.steps),
                  length = vs_json_get_int(root, "max_sequence_length", d.text_length),
                  fps = vs_json_get_int(root, "fps", d.fps);
    const double guidance = vs_json_get_number(root, "guidance_scale", d.guidance),
                 embedded = vs_json_get_number(root, "embedded_guidance_scale", d.embedded_guidance),
                 density = vs_json_get_number(root, "svg_density", d.attention.density),
                 dense_steps = vs_json_get_number(root, "svg_dense_steps", d.attention.dense_steps),
                 dense_layers = vs_json_get_number(root, "svg_dense_layers", d.attention.dense_layers);
    vs_json_free(doc);
    if (frames < 1 || frames > 10000 || height < 1 || height > 16384 || width < 1 || width > 16384 || steps < 1 ||
        steps > 10000 || length < 1 || length > 4096 || fps < 1 || fps > 240 || !(guidance >= 0 && guidance <= 100) ||
        !(embedded >= 0 && embedded <= 100))
        return vs_fail(VS_ERR_FORMAT, "%s: a generation default is out of range", path);
    if (!(density > 0 && density <= 1) || !(dense_steps >= 0 && dense_steps <= 1) ||
        !(dense_layers >= 0 && dense_layers <= 1))
        return vs_fail(VS_ERR_FORMAT, "%s: svg_density must be in (0, 1], svg_dense_steps and svg_dense_layers in "
                       "[0, 1]", path);
    d.frames = (int)frames, d.height = (int)height, d.width = (int)width, d.steps = (int)steps;
    d.text_length = (int)length, d.fps = (int)fps, d.guidance = (float)guidance, d.embedded_guidance = (float)embedded;
    d.attention.density = density, d.attention.dense_steps = dense_steps, d.attention.dense_layers = dense_layers;
    *out = d;
    return VS_OK;
}

void vs_text_embedding_free(vs_text_embedding *e) {
    if (!e) return;
    vs_tensor_free(&e->hidden);
    vs_tensor_free(&e->mask);
    vs_tensor_free(&e->pooled);
}

/* ---- component handles: a family's object and the family ---------------------------------------- */

struct vs_text_encoder {
    const vs_family *family;
    void *impl;
};

struct vs_dit {
    const vs_family *family;
    void *impl;
    vs_dit_info info;
    vs_device device;
};

struct vs_vae {
    const vs_family *family;
    void *impl;
    vs_vae_info info;
};

/* A handle around a text encoder or VAE that `made` produced, or nothing on failure. */
static vs_status make_text(const vs_family *family, vs_text_encoder **out, vs_status made, void *impl) {
    if (made != VS_OK) return made;
    vs_text_encoder *e = calloc(1, sizeof *e);
    if (!e) {
        family->text_free(impl);
        return vs_fail(VS_ERR_OOM, "out of memory");
    }
    *e = (vs_text_encoder){family, impl};
    *out = e;
    return VS_OK;
}

vs_status vs_text_encoder_load(const char *dir, vs_device device, vs_text_encoder **out) {
    *out = NULL;
    const vs_family *family;
    VS_TRY(vs_family_detect(dir, &family));
    void *impl = NULL;
    vs_status s = family->text_load(dir, device, &impl);
    return make_text(family, out, s, impl);
}

vs_status vs_text_encoder_random(const char *preset, vs_device device, uint64_t seed, vs_text_encoder **out) {
    *out = NULL;
    const vs_family *family;
    VS_TRY(vs_family_for_preset(preset, &family));
    void *impl = NULL;
    vs_status s = family->text_random(preset, device, seed, &impl);
    return make_text(family, out, s, impl);
}

vs_status vs_text_encode(vs_text_encoder *e, const char *prompt, int max_length, vs_text_embedding *out) {
    memset(out, 0, sizeof *out);
    return e->family->text_encode(e->impl, prompt, max_length, out);
}

vs_status vs_text_encoder_set_precision(vs_text_encoder *e, vs_precision precision) {
    if (precision == VS_PRECISION_DEFAULT && !e->family->text_set_precision) return VS_OK;
    if (!e->family->text_set_precision)
        return vs_fail(VS_ERR_UNSUPPORTED, "the %s family's text encoder has no FP8 weights", e->family->name);
    return e->family->text_set_precision(e->impl, precision);
}

void vs_text_encoder_free(vs_text_encoder *e) {
    if (!e) return;
    e->family->text_free(e->impl);
    free(e);
}

/* A handle around a DiT that `make` fills, or nothing on failure. */
static vs_status make_dit(const vs_family *family, vs_dit **out, vs_status made, void *impl, const vs_dit_info *info,
                          vs_device device) {
    if (made != VS_OK) return made;
    vs_dit *d = calloc(1, sizeof *d);
    if (!d) {
        family->dit_free(impl);
        return vs_fail(VS_ERR_OOM, "out of memory");
    }
    *d = (vs_dit){family, impl, *info, device};
    *out = d;
    return VS_OK;
}

vs_status vs_dit_load(const char *dir, vs_device device, vs_dit **out) {
    *out = NULL;
    const vs_family *family;
    VS_TRY(vs_family_detect(dir, &family));
    void *impl = NULL;
    vs_dit_info info;
    vs_status s = family->dit_load(dir, device, &impl, &info);
    return make_dit(family, out, s, impl, &info, device);
}

vs_status vs_dit_random(const char *preset, int layers, vs_device device, uint64_t seed, vs_dit **out) {
    *out = NULL;
    const vs_family *family;
    VS_TRY(vs_family_for_preset(preset, &family));
    void *impl = NULL;
    vs_dit_info info;
    vs_status s = family->dit_random(preset, layers, device, seed, &impl, &info);
    return make_dit(family, out, s, impl, &info, device);
}

/* The DiT made by `made` (the status of the family's call) set to `precision` (nothing left to do where the
 * family made it so). */
static vs_status at_precision(vs_status made, vs_dit **out, vs_precision precision) {
    if (made != VS_OK) return made;
    vs_status s = vs_dit_set_precision(*out, precision);
    if (s != VS_OK) {
        vs_dit_free(*out);
        *out = NULL;
    }
    return s;
}

vs_status vs_dit_load_as(const char *dir, vs_device device, vs_precision precision, vs_dit **out) {
    *out = NULL;
    const vs_family *family;
    VS_TRY(vs_family_detect(dir, &family));
    if (!family->dit_load_as) return at_precision(vs_dit_load(dir, device, out), out, precision);
    void *impl = NULL;
    vs_dit_info info;
    vs_status s = family->dit_load_as(dir, device, precision, &impl, &info);
    return at_precision(make_dit(family, out, s, impl, &info, device), out, precision);
}

vs_status vs_dit_random_as(const char *preset, int layers, vs_device device, uint64_t seed, vs_precision precision,
                           vs_dit **out) {
    *out = NULL;
    const vs_family *family;
    VS_TRY(vs_family_for_preset(preset, &family));
    if (!family->dit_random_as)
        return at_precision(vs_dit_random(preset, layers, device, seed, out), out, precision);
    void *impl = NULL;
    vs_dit_info info;
    vs_status s = family->dit_random_as(preset, layers, device, seed, precision, &impl, &info);
    return at_precision(make_dit(family, out, s, impl, &info, device), out, precision);
}

const vs_dit_info *vs_dit_get_info(const vs_dit *d) { return &d->info; }
vs_device vs_dit_device(const vs_dit *d) { return d->device; }
const vs_family *vs_dit_family(const vs_dit *d) { return d->family; }

vs_status vs_dit_set_attention(vs_dit *d, const vs_attention_params *params) {
    return d->family->dit_set_attention(d->impl, params);
}

vs_status vs_dit_set_precision(vs_dit *d, vs_precision precision) {
    if (precision == VS_PRECISION_DEFAULT && !d->family->dit_set_precision) return VS_OK;
    if (!d->family->dit_set_precision)
        return vs_fail(VS_ERR_UNSUPPORTED, "the %s family has no FP8 weights", d->family->name);
    return d->family->dit_set_precision(d->impl, precision);
}

size_t vs_dit_attention_memory(const vs_dit_info *info, vs_device device,
                               const vs_attention_params *attention, const int64_t latents[5],
                               int text_length) {
    const int frames = (int)(latents[2] / info->patch[0]);
    const int per_frame = (int)((latents[3] / info->patch[1]) * (latents[4] / info->patch[2]));
    const int text = info->joint_attention ? text_length : 0;
    vs_sparse_setup setup = {
        .device = device, .heads = info->num_heads, .head_dim = info->head_dim, .has_video = 1};
    setup.batch = info->joint_attention ? 1 : (int)latents[0], setup.seq_len = frames * per_frame + text;
    setup.video = vs_svg_config_default(frames, per_frame, text, attention->density);
    return vs_sparse_attention_device_bytes(&setup, attention, info->num_layers);
}

vs_status vs_family_memory_need(const vs_family *family, const char *dir, const char *preset,
                                const vs_dit_info *dit, vs_device device, vs_precision precision,
                                const vs_attention_params *attention, const int64_t latents[5],
                                int text_length, vs_stage_memory need[VS_STAGE_COUNT]) {
    VS_TRY(family->memory_need(dir, preset, device, precision, latents, text_length, need));
    if (device != VS_CPU) /* the sparse method's state beside the forward's working memory */
        need[VS_STAGE_DENOISE].work += vs_dit_attention_memory(dit, device, attention, latents, text_length);
    return VS_OK;
}

vs_status vs_dit_set_comm(vs_dit *d, vs_comm *comm) { return d->family->dit_set_comm(d->impl, comm); }

vs_status vs_dit_forward(vs_dit *d, const vs_dit_input *in, vs_tensor *out, vs_dit_timing *timing) {
    return d->family->dit_forward(d->impl, in, out, timing);
}

vs_status vs_dit_teacache(vs_dit *d, const vs_dit_input *in, vs_tensor *signal, vs_teacache_fit *fit) {
    if (!d->family->dit_teacache)
        return vs_fail(VS_ERR_UNSUPPORTED, "the %s family has no TeaCache signal or calibration", d->family->name);
    if (signal && (!in || !in->timesteps))
        return vs_fail(VS_ERR_INVALID_ARG, "TeaCache signal: no DiT input (timesteps) given");
    return d->family->dit_teacache(d->impl, in, signal, fit);
}

void vs_dit_release_work(vs_dit *d) {
    if (d->family->dit_release_work) d->family->dit_release_work(d->impl);
}

void vs_dit_free(vs_dit *d) {
    if (!d) return;
    d->family->dit_free(d->impl);
    free(d);
}

static vs_status make_vae(const vs_family *family, vs_vae **out, vs_status made, void *impl, const vs_vae_info *info) {
    if (made != VS_OK) return made;
    vs_vae *v = calloc(1, sizeof *v);
    if (!v) {
        family->vae_free(impl);
        return vs_fail(VS_ERR_OOM, "out of memory");
    }
    *v = (vs_vae){family, impl, *info};
    *out = v;
    return VS_OK;
}

vs_status vs_vae_load(const char *dir, vs_device device, vs_vae **out) {
    *out = NULL;
    const vs_family *family;
    VS_TRY(vs_family_detect(dir, &family));
    void *impl = NULL;
    vs_vae_info info;
    vs_status s = family->vae_load(dir, device, &impl, &info);
    return make_vae(family, out, s, impl, &info);
}

vs_status vs_vae_random(const char *preset, vs_device device, uint64_t seed, vs_vae **out) {
    *out = NULL;
    const vs_family *family;
    VS_TRY(vs_family_for_preset(preset, &family));
    void *impl = NULL;
    vs_vae_info info;
    vs_status s = family->vae_random(preset, device, seed, &impl, &info);
    return make_vae(family, out, s, impl, &info);
}

const vs_vae_info *vs_vae_get_info(const vs_vae *v) { return &v->info; }
const vs_family *vs_vae_family(const vs_vae *v) { return v->family; }

vs_status vs_vae_decode(vs_vae *v, const vs_tensor *latents, int tiled, vs_tensor *video) {
    return v->family->vae_decode(v->impl, latents, tiled, video);
}

vs_status vs_vae_image_condition(vs_vae *v, const vs_dit_info *dit, const vs_tensor *pixels, const vs_tensor *noise,
                                 const int64_t shape[5], vs_tensor *condition) {
    if (!v->family->image_condition)
        return vs_fail(VS_ERR_UNSUPPORTED, "the %s family has no image-to-video models", v->family->name);
    return v->family->image_condition(v->impl, dit, pixels, noise, shape, condition);
}

vs_vae_memory vs_vae_get_memory(const vs_vae *v) { return v->family->vae_memory(v->impl); }

void vs_vae_free(vs_vae *v) {
    if (!v) return;
    v->family->vae_free(v->impl);
    free(v);
}

vs_status vs_family_image_channels(const vs_family *family, const vs_dit_info *dit, int *channels) {
    *channels = dit->in_channels - dit->out_channels;
    if (*channels < 0 || (*channels > 0 && !family->image_condition))
        return vs_fail(VS_ERR_SHAPE,
                       "the %s transformer takes %d channels and predicts %d, which this family does not run",
                       family->name, dit->in_channels, dit->out_channels);
    return VS_OK;
}

int vs_family_padding_frames(const vs_family *family, const vs_dit_info *dit, const vs_vae_info *vae, int frames) {
    return family->padding_frames && vae ? family->padding_frames(dit, vae, frames) : 0;
}
