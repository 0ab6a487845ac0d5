/* Wan 2.1 text-to-video as a model family (models/family.h): umT5 text,
 * the Wan DiT, the Wan VAE, and the reference pipeline's settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/json.h"
#include "core/status.h"
#include "models/common/component.h"
#include "models/common/t5_text.h"
#include "models/family.h"
#include "models/wan/prompt.h"
#include "models/wan/transformer.h"
#include "models/wan/vae.h"

/* ---- text: the tokenizer and umT5 of a pipeline folder (models/common/t5_text.h) ------------------ */

/* umT5-XXL, Wan 2.1's text encoder (google/umt5-xxl's encoder). */
static const vs_umt5_config umt5_xxl = {256384, 4096, 64, 10240, 64, 24, 32, 128, 1e-6f, 0};

static vs_status text_random(const char *preset, vs_device device, uint64_t seed, void **out) {
    (void)preset; /* every Wan 2.1 DiT reads umT5-XXL's embeddings */
    return vs_t5_text_random(&umt5_xxl, device, seed, out);
}

/* A random encoder has no tokenizer (vs_t5_byte_ids); the padded rows are zeroed as vs_wan_encode_prompt does. */
static vs_status encode_bytes(const vs_umt5 *encoder, const char *prompt, int max_length, float *out) {
    int32_t *ids = calloc((size_t)max_length * 2, sizeof *ids);
    if (!ids) return vs_fail(VS_ERR_OOM, "prompt: out of memory");
    const int n = vs_t5_byte_ids(prompt, max_length, ids, ids + max_length);
    vs_status s = vs_umt5_encode(encoder, ids, ids + max_length, max_length, out);
    free(ids);
    const int d = vs_umt5_get_config(encoder)->d_model;
    if (s == VS_OK) memset(out + (size_t)n * d, 0, (size_t)(max_length - n) * d * sizeof(float));
    return s;
}

/* Wan's embeddings keep the padded rows as zeros, so they need no mask. */
static vs_status text_encode(void *p, const char *prompt, int max_length, vs_text_embedding *out) {
    const vs_t5_text *t = p;
    if (max_length <= 0) return vs_fail(VS_ERR_INVALID_ARG, "prompt: max_length must be positive, got %d", max_length);
    const int64_t shape[3] = {1, max_length, vs_umt5_get_config(t->encoder)->d_model};
    VS_TRY(vs_tensor_alloc(&out->hidden, VS_F32, VS_CPU, 3, shape));
    vs_status s = t->tokenizer ? vs_wan_encode_prompt(t->tokenizer, t->encoder, prompt, max_length, out->hidden.data, NULL)
                               : encode_bytes(t->encoder, prompt, max_length, out->hidden.data);
    if (s != VS_OK) vs_tensor_free(&out->hidden);
    return s;
}

/* ---- the DiT ----------------------------------------------------------------------------------- */

static void dit_free(void *p) { vs_wan_model_free(p); }
static void dit_release_work(void *p) { vs_wan_model_release_work(p); }

static vs_dit_info info_of(const vs_wan_config *c) {
    vs_dit_info i = {.in_channels = c->in_channels, .out_channels = c->out_channels, .num_layers = c->num_layers,
                     .num_heads = c->num_heads, .head_dim = c->head_dim, .text_dim = c->text_dim};
    for (int k = 0; k < 3; k++) i.patch[k] = c->patch_size[k]; /* no pooled text; self-attention over the video */
    return i;
}

/* The loaded model as the family's DiT. */
static vs_status hand_over(vs_status made, vs_wan_model *model, void **out, vs_dit_info *info) {
    if (made != VS_OK) return made;
    *info = info_of(&model->config);
    *out = model;
    return VS_OK;
}

static vs_status dit_load_as(const char *dir, vs_device device, vs_precision precision, void **out,
                             vs_dit_info *info) {
    vs_wan_model *model = NULL;
    vs_status s = vs_wan_model_load_as(dir, device, precision, &model);
    return hand_over(s, model, out, info);
}

static vs_status dit_load(const char *dir, vs_device device, void **out, vs_dit_info *info) {
    return dit_load_as(dir, device, VS_PRECISION_DEFAULT, out, info);
}

/* The Wan 2.1 text-to-video configurations (diffusers WanTransformer3DModel). */
static vs_status preset_config(const char *name, vs_wan_config *c) {
    memset(c, 0, sizeof *c);
    c->patch_size[0] = 1, c->patch_size[1] = 2, c->patch_size[2] = 2;
    c->head_dim = 128, c->in_channels = c->out_channels = 16, c->text_dim = 4096, c->freq_dim = 256;
    c->cross_attn_norm = 1, c->eps = 1e-6f, c->rope_max_seq_len = 1024;
    if (!strcmp(name, "wan1.3b")) c->num_heads = 12, c->ffn_dim = 8960, c->num_layers = 30;
    else if (!strcmp(name, "wan14b")) c->num_heads = 40, c->ffn_dim = 13824, c->num_layers = 40;
    else return vs_fail(VS_ERR_INVALID_ARG, "Wan has no configuration '%s' (wan1.3b, wan14b)", name);
    c->dim = c->num_heads * c->head_dim;
    return VS_OK;
}

static vs_status dit_preset(const char *preset, vs_dit_info *info) {
    vs_wan_config config;
    VS_TRY(preset_config(preset, &config));
    *info = info_of(&config);
    return VS_OK;
}

/* The DiT's configuration: dir/transformer/config.json, else dir/config.json (a transformer folder). */
static vs_status dit_config_of(const char *dir, vs_wan_config *c) {
    vs_component_path where;
    VS_TRY(vs_component_find(dir, "transformer", "a Wan model", &where));
    return vs_wan_config_load(where.config, c);
}

static vs_status dit_info(const char *dir, vs_dit_info *info) {
    vs_wan_config config;
    VS_TRY(dit_config_of(dir, &config));
    *info = info_of(&config);
    return VS_OK;
}

static vs_status dit_random_as(const char *preset, int layers, vs_device device, uint64_t seed,
                               vs_precision precision, void **out, vs_dit_info *info) {
    vs_wan_config config;
    VS_TRY(preset_config(preset, &config));
    if (layers > 0 && layers < config.num_layers) config.num_layers = layers;
    vs_wan_model *model = NULL;
    vs_status s = vs_wan_model_random_as(&config, device, seed, precision, &model);
    return hand_over(s, model, out, info);
}

static vs_status dit_random(const char *preset, int layers, vs_device device, uint64_t seed, void **out,
                            vs_dit_info *info) {
    return dit_random_as(preset, layers, device, seed, VS_PRECISION_DEFAULT, out, info);
}

static vs_status dit_set_attention(void *p, const vs_attention_params *params) {
    return vs_wan_model_set_attention(p, params);
}

static vs_status dit_set_precision(void *p, vs_precision precision) {
    return vs_wan_model_set_precision(p, precision);
}

static vs_status dit_set_comm(void *p, vs_comm *comm) { return vs_wan_model_set_comm(p, comm); }

static vs_status dit_forward(void *p, const vs_dit_input *in, vs_tensor *out, vs_dit_timing *timing) {
    return vs_wan_forward(p, in->latents, in->timesteps, in->text, in->step, in->num_steps, out, timing);
}

/* TeaCache's published fits for Wan 2.1 text-to-video (TeaCache4Wan2.1/teacache_generate.py, the default mode
 * without retention steps, which watches the time embedding): by the checkpoint's shape. Thresholds: the
 * README's command for each (0.08 for 1.3B, 0.2 for 14B, also the script's default). */
static const struct {
    int dim, layers, ffn_dim;
    vs_teacache_fit fit;
} teacache_fits[] = {
    {1536, 30, 8960, {"Wan 2.1 T2V 1.3B", {2.39676752e+03, -1.31110545e+03, 2.01331979e+02, -8.29855975e+00, 1.37887774e-01}, 0.08}},
    {5120, 40, 13824, {"Wan 2.1 T2V 14B", {-5784.54975374, 5449.50911966, -1811.16591783, 256.27178429, -13.02252404}, 0.2}},
};

vs_status vs_wan_teacache_fit(const vs_wan_config *c, vs_teacache_fit *out) {
    for (size_t i = 0; i < sizeof teacache_fits / sizeof teacache_fits[0]; i++)
        if (c->in_channels == 16 && c->dim == teacache_fits[i].dim && c->num_layers == teacache_fits[i].layers &&
            c->ffn_dim == teacache_fits[i].ffn_dim) {
            *out = teacache_fits[i].fit;
            return VS_OK;
        }
    return vs_fail(VS_ERR_UNSUPPORTED,
                   "teacache has published coefficients for Wan 2.1 T2V 1.3B and 14B only, not for this Wan DiT "
                   "(dim %d, %d layers, ffn %d, %d input channels)",
                   c->dim, c->num_layers, c->ffn_dim, c->in_channels);
}

static vs_status dit_teacache(void *p, const vs_dit_input *in, vs_tensor *signal, vs_teacache_fit *fit) {
    const vs_wan_model *m = p;
    if (fit) VS_TRY(vs_wan_teacache_fit(&m->config, fit));
    if (!signal) return VS_OK;
    VS_TRY(vs_tensor_alloc(signal, VS_F32, VS_CPU, 1, (int64_t[]){m->config.dim}));
    vs_status s = vs_wan_time_embedding(m, in->timesteps[0], signal->data);
    if (s != VS_OK) vs_tensor_free(signal);
    return s;
}

/* ---- latents and the VAE ------------------------------------------------------------------------ */

/* Wan's causal VAE makes 1 + tr k frames from 1 + k latent frames; a pixel-space model works on the frames. */
static vs_status latent_shape(const vs_dit_info *dit, const vs_vae_info *vae, int frames, int height, int width,
                              int64_t shape[5]) {
    const int tr = vae ? vae->temporal_ratio : 1, sr = vae ? vae->spatial_ratio : 1;
    if (frames < 1 || height < 1 || width < 1)
        return vs_fail(VS_ERR_INVALID_ARG, "video size %d x %d x %d must be positive", frames, height, width);
    if (vae && (frames - 1) % tr) return vs_fail(VS_ERR_INVALID_ARG, "this model makes 1 + %d k frames, not %d", tr, frames);
    const int lf = vae ? (frames - 1) / tr + 1 : frames;
    if (lf % dit->patch[0] || height % (sr * dit->patch[1]) || width % (sr * dit->patch[2]))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "this model needs the height and width to be multiples of %d and %d (and the frames of %d), "
                       "got %d x %d x %d",
                       sr * dit->patch[1], sr * dit->patch[2], tr * dit->patch[0], frames, height, width);
    shape[0] = 1, shape[1] = dit->in_channels, shape[2] = lf, shape[3] = height / sr, shape[4] = width / sr;
    return VS_OK;
}

/* The Wan 2.1 VAE: 16 latent channels, 4x in time, 8x in space. */
#define WAN_VAE {16, 4, 8}

/* z_dim and the scale factors of AutoencoderKLWan's config.json (Wan 2.1's where a key is absent). */
static vs_status vae_info(const char *dir, vs_vae_info *info) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, path));
    const vs_json *root = vs_json_root(doc);
    const int64_t z = vs_json_get_int(root, "z_dim", 16), t = vs_json_get_int(root, "scale_factor_temporal", 4),
                  s = vs_json_get_int(root, "scale_factor_spatial", 8);
    vs_json_free(doc);
    if (z < 1 || z > 4096 || t < 1 || t > 64 || s < 1 || s > 64)
        return vs_fail(VS_ERR_FORMAT, "%s: z_dim %lld or a scale factor (%lld, %lld) is out of range", path,
                       (long long)z, (long long)t, (long long)s);
    *info = (vs_vae_info){(int)z, (int)t, (int)s};
    return VS_OK;
}

static vs_status vae_load(const char *dir, vs_device device, void **out, vs_vae_info *info) {
    vs_wan_vae *vae = NULL;
    VS_TRY(vs_wan_vae_load(&vae, dir, device));
    *info = (vs_vae_info){vs_wan_vae_z_dim(vae), vs_wan_vae_temporal_ratio(vae), vs_wan_vae_spatial_ratio(vae)};
    *out = vae;
    return VS_OK;
}

/* Tiles bound the CPU decode's memory; on the GPU a whole 480p or 720p frame fits. */
static vs_status vae_decode(void *p, const vs_tensor *latents, int tiled, vs_tensor *video) {
    const vs_wan_vae *vae = p;
    if (tiled < 0) tiled = vs_wan_vae_device(vae) == VS_CPU;
    const vs_wan_vae_tiling tiling = vs_wan_vae_default_tiling();
    return vs_wan_vae_decode(vae, latents, tiled ? &tiling : NULL, video);
}

static vs_vae_memory vae_memory(const void *p) {
    const vs_wan_vae_memory m = vs_wan_vae_device_memory(p);
    return (vs_vae_memory){m.weights, m.peak_activations, m.workspace, m.device_used};
}

static void vae_free(void *p) { vs_wan_vae_free(p); }

static vs_status vae_random(const char *preset, vs_device device, uint64_t seed, void **out, vs_vae_info *info) {
    (void)preset; /* both DiT sizes decode through the Wan 2.1 VAE */
    vs_wan_vae *vae = NULL;
    VS_TRY(vs_wan_vae_random(&vae, device, seed));
    *info = (vs_vae_info){vs_wan_vae_z_dim(vae), vs_wan_vae_temporal_ratio(vae), vs_wan_vae_spatial_ratio(vae)};
    *out = vae;
    return VS_OK;
}

/* ---- memory ----------------------------------------------------------------------------------- */

static vs_status memory_need(const char *dir, const char *preset, vs_device device, vs_precision precision,
                             const int64_t latents[5], int text_length, vs_stage_memory need[VS_STAGE_COUNT]) {
    memset(need, 0, sizeof(vs_stage_memory) * VS_STAGE_COUNT);
    if (device == VS_CPU) return VS_OK;
    const int fp8 = precision != VS_PRECISION_DEFAULT; /* umT5's FP8 is its feed-forward layers either way */
    vs_umt5_config text = umt5_xxl;
    vs_wan_config dit;
    char path[4096];
    struct stat st;
    /* A folder without a text encoder (a transformer folder) or without vae/ (pixel space) needs none. */
    int has_text = 1;
    if (dir) {
        snprintf(path, sizeof path, "%s/text_encoder/config.json", dir);
        has_text = stat(path, &st) == 0;
        snprintf(path, sizeof path, "%s/text_encoder", dir);
        if (has_text) VS_TRY(vs_umt5_read_config(path, &text));
        VS_TRY(dit_config_of(dir, &dit));
    } else {
        VS_TRY(preset_config(preset, &dit));
    }
    if (has_text)
        vs_umt5_memory(&text, device, fp8, 1, text_length, &need[VS_STAGE_TEXT].weights, &need[VS_STAGE_TEXT].work);
    VS_TRY(vs_wan_memory(&dit, device, precision, latents, text_length, &need[VS_STAGE_DENOISE].weights,
                         &need[VS_STAGE_DENOISE].work));
    if (dir) snprintf(path, sizeof path, "%s/vae", dir);
    if (dir && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))) return VS_OK; /* pixel space: no decode */
    vs_stage_memory *decode = &need[VS_STAGE_DECODE];
    VS_TRY(vs_wan_vae_estimate(dir ? path : NULL, (int)latents[3], (int)latents[4], &decode->weights, &decode->work));
    /* Tiled (vae_decode's tiled 1), one tile at a time: Wan's VAEs upsample latents 8x. */
    const vs_wan_vae_tiling tiling = vs_wan_vae_default_tiling();
    const int tile_h = tiling.tile_h / 8, tile_w = tiling.tile_w / 8;
    if (latents[3] <= tile_h && latents[4] <= tile_w) return VS_OK; /* one tile: no smaller decode */
    size_t tile_weights;
    return vs_wan_vae_estimate(dir ? path : NULL, latents[3] < tile_h ? (int)latents[3] : tile_h,
                               latents[4] < tile_w ? (int)latents[4] : tile_w, &tile_weights, &decode->work_tiled);
}

/* ---- the table ---------------------------------------------------------------------------------- */

static const char *const wan_classes[] = {"WanPipeline", "WanTransformer3DModel", "WanModel", "AutoencoderKLWan",
                                          "UMT5EncoderModel", NULL};

/* diffusers' WanPipeline: 81 x 480 x 832, 50 steps, guidance 5, 512 text tokens, 16 fps, an empty negative
 * prompt, UniPC with flow shift 3 (the 480p checkpoints'); SVG as the reference's Wan scripts run it: density
 * 0.25 after 0.2 of the steps and 0.03 of the layers. */
const vs_family vs_family_wan = {
    .name = "wan",
    .class_names = wan_classes,
    .presets = "wan1.3b, wan14b",
    .defaults = {81, 480, 832, 50, 5.0f, VS_WAN_TEXT_LENGTH, 16, {"svg", 0.25, 0.2, 0.03}, VS_WAN_DEFAULT_NEGATIVE_PROMPT,
                 "{\"_class_name\": \"UniPCMultistepScheduler\", \"flow_shift\": 3.0, \"use_flow_sigmas\": true, "
                 "\"prediction_type\": \"flow_prediction\"}"},
    .reference_vae = WAN_VAE,
    .text_load = vs_t5_text_load,
    .text_encode = text_encode,
    .text_free = vs_t5_text_free,
    .dit_load = dit_load,
    .dit_preset = dit_preset,
    .dit_info = dit_info,
    .dit_random = dit_random,
    .dit_load_as = dit_load_as,
    .dit_random_as = dit_random_as,
    .dit_set_attention = dit_set_attention,
    .dit_set_comm = dit_set_comm,
    .dit_forward = dit_forward,
    .dit_free = dit_free,
    .dit_release_work = dit_release_work,
    .dit_teacache = dit_teacache,
    .latent_shape = latent_shape,
    .vae_info = vae_info,
    .vae_load = vae_load,
    .vae_decode = vae_decode,
    .vae_memory = vae_memory,
    .dit_set_precision = dit_set_precision,
    .text_set_precision = vs_t5_text_set_precision,
    .vae_free = vae_free,
    .text_random = text_random,
    .vae_random = vae_random,
    .memory_need = memory_need,
};
