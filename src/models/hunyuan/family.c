/* HunyuanVideo text-to-video as a model family (models/family.h), as diffusers' HunyuanVideoPipeline runs
 * it: the Llama and CLIP text encoders with the pipeline's prompt template, the HunyuanVideo DiT with
 * embedded guidance, FlowMatchEuler on the pipeline's sigmas, and the pipeline's settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/status.h"
#include "io/path.h"
#include "models/common/text_prompt.h"
#include "models/common/component.h"
#include "models/family.h"
#include "models/hunyuan/transformer.h"
#include "models/hunyuan/vae.h"

/* HunyuanVideoPipeline's default guidance_scale, embedded as guidance x 1000. */
#define DEFAULT_EMBEDDED_GUIDANCE 6.0f

/* ---- text: the Llama and CLIP tokenizers and encoders of a pipeline folder ------------------------- */

typedef struct {
    vs_bpe *llama_tokenizer, *clip_tokenizer; /* NULL for random encoders (no tokenizer) */
    vs_llama *llama;
    vs_clip_text *clip;
} hunyuan_text;

static void text_free(void *p) {
    hunyuan_text *t = p;
    if (!t) return;
    vs_bpe_free(t->llama_tokenizer);
    vs_bpe_free(t->clip_tokenizer);
    vs_llama_free(t->llama);
    vs_clip_text_free(t->clip);
    free(t);
}

/* dir/tokenizer, dir/text_encoder (Llama, the pipeline's 2 last layers skipped), dir/tokenizer_2 and
 * dir/text_encoder_2 (CLIP). */
static vs_status text_load(const char *dir, vs_device device, void **out) {
    *out = NULL;
    hunyuan_text *t = calloc(1, sizeof *t);
    if (!t) return vs_fail(VS_ERR_OOM, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer", dir);
    vs_status s = vs_bpe_load(&t->llama_tokenizer, path);
    snprintf(path, sizeof path, "%s/tokenizer_2", dir);
    if (s == VS_OK) s = vs_bpe_load(&t->clip_tokenizer, path);
    snprintf(path, sizeof path, "%s/text_encoder", dir);
    if (s == VS_OK) s = vs_llama_load(&t->llama, path, device, VS_HUNYUAN_SKIP_LAYERS);
    snprintf(path, sizeof path, "%s/text_encoder_2", dir);
    if (s == VS_OK) s = vs_clip_text_load(&t->clip, path, device);
    if (s != VS_OK) {
        text_free(t);
        return s;
    }
    *out = t;
    return VS_OK;
}

/* Llama 3 8B and CLIP ViT-L/14's text model as HunyuanVideo ships them (text_encoder/, text_encoder_2/). */
static const vs_llama_config llama_8b_config = {128256, 4096, 14336, 32, 32, 8, 128, 1e-5f, 500000.0f, 8.0f, 1.0f, 4.0f, 8192};
static const vs_clip_text_config clip_l_config = {49408, 768, 3072, 12, 12, 77, 2, 1, 1e-5f};

static vs_status text_random(const char *preset, vs_device device, uint64_t seed, void **out) {
    (void)preset; /* the 13B DiT reads these two */
    *out = NULL;
    hunyuan_text *t = calloc(1, sizeof *t);
    if (!t) return vs_fail(VS_ERR_OOM, "out of memory");
    vs_status s = vs_llama_random(&t->llama, &llama_8b_config, device, VS_HUNYUAN_SKIP_LAYERS, seed);
    if (s == VS_OK) s = vs_clip_text_random(&t->clip, &clip_l_config, device, seed + 1000);
    if (s != VS_OK) {
        text_free(t);
        return s;
    }
    *out = t;
    return VS_OK;
}

/* Random encoders have no tokenizer: the Llama sequence is crop_start template tokens then the prompt's bytes
 * (id = byte + 3), one token each, padded to crop_start + max_length; CLIP's is the bytes then its EOS (the
 * largest id) to 77. The encoders' work is the same for any ids. */
static vs_status encode_bytes(const hunyuan_text *t, const char *prompt, int max_length, float *embeds, int32_t *mask,
                              float *pooled) {
    const int total = VS_HUNYUAN_CROP_START + max_length, clip_n = VS_HUNYUAN_CLIP_TOKENS;
    const int n = (int)(strlen(prompt) + 1 < (size_t)max_length ? strlen(prompt) + 1 : (size_t)max_length);
    int32_t *ids = calloc((size_t)(2 * total + clip_n), sizeof *ids);
    if (!ids) return vs_fail(VS_ERR_OOM, "prompt: out of memory");
    int32_t *full_mask = ids + total, *clip_ids = ids + 2 * total;
    for (int i = 0; i < VS_HUNYUAN_CROP_START + n; i++) {
        const int byte = i >= VS_HUNYUAN_CROP_START && i - VS_HUNYUAN_CROP_START < n - 1
                             ? (unsigned char)prompt[i - VS_HUNYUAN_CROP_START]
                             : i % 256;
        ids[i] = byte + 3, full_mask[i] = 1;
    }
    const int clip_vocab = vs_clip_text_get_config(t->clip)->vocab_size;
    for (int i = 0; i < clip_n; i++)
        clip_ids[i] = i < n - 1 && i < clip_n - 1 ? (unsigned char)prompt[i] + 3 : clip_vocab - 1;
    vs_status s = vs_llama_encode_cropped(t->llama, ids, full_mask, VS_HUNYUAN_CROP_START, max_length, embeds, mask);
    if (s == VS_OK) s = vs_clip_text_encode(t->clip, clip_ids, 1, clip_n, pooled, NULL);
    free(ids);
    return s;
}

/* The pipeline's prompt_embeds [1, max_length, hidden] with prompt_attention_mask (the Llama side) and
 * pooled_prompt_embeds [1, P] (CLIP), for one prompt (the pipeline's prompt_2 defaults to it). */
static vs_status text_encode(void *p, const char *prompt, int max_length, vs_text_embedding *out) {
    const hunyuan_text *t = p;
    if (max_length <= 0) return vs_fail(VS_ERR_INVALID_ARG, "prompt: max_length must be positive, got %d", max_length);
    const int64_t d = vs_llama_get_config(t->llama)->hidden_size, pooled = vs_clip_text_get_config(t->clip)->hidden_size;
    vs_status s = vs_tensor_alloc(&out->hidden, VS_F32, VS_CPU, 3, (int64_t[]){1, max_length, d});
    if (s == VS_OK) s = vs_tensor_alloc(&out->mask, VS_I32, VS_CPU, 2, (int64_t[]){1, max_length});
    if (s == VS_OK) s = vs_tensor_alloc(&out->pooled, VS_F32, VS_CPU, 2, (int64_t[]){1, pooled});
    if (s == VS_OK && !t->llama_tokenizer)
        s = encode_bytes(t, prompt, max_length, out->hidden.data, out->mask.data, out->pooled.data);
    else if (s == VS_OK)
        s = vs_llama_prompt_encode(t->llama_tokenizer, t->llama, vs_hunyuan_prompt_template, VS_HUNYUAN_CROP_START,
                                   max_length, prompt, out->hidden.data, out->mask.data);
    if (s == VS_OK && t->clip_tokenizer)
        s = vs_clip_prompt_encode(t->clip_tokenizer, t->clip, prompt, VS_HUNYUAN_CLIP_TOKENS, out->pooled.data);
    if (s != VS_OK) vs_text_embedding_free(out);
    return s;
}

/* ---- the DiT ----------------------------------------------------------------------------------- */

static void dit_free(void *p) { vs_hunyuan_model_free(p); }
static void dit_release_work(void *p) { vs_hunyuan_model_release_work(p); }

static vs_dit_info info_of(const vs_hunyuan_config *c) {
    vs_dit_info i = {c->in_channels,
                     c->out_channels,
                     {c->patch_size[0], c->patch_size[1], c->patch_size[2]},
                     c->num_layers + c->num_single_layers,
                     c->num_heads,
                     c->head_dim,
                     c->text_dim,
                     c->pooled_dim,
                     1};
    return i;
}

/* The DiT's configuration: dir/transformer/config.json, else dir/config.json (a transformer folder). */
static vs_status dit_config_of(const char *dir, vs_hunyuan_config *c) {
    vs_component_path where;
    VS_TRY(vs_component_find(dir, "transformer", "a HunyuanVideo model", &where));
    return vs_hunyuan_config_load(where.config, c);
}

static vs_status dit_info(const char *dir, vs_dit_info *info) {
    vs_hunyuan_config config;
    VS_TRY(dit_config_of(dir, &config));
    *info = info_of(&config);
    return VS_OK;
}

static vs_status dit_load(const char *dir, vs_device device, void **out, vs_dit_info *info) {
    vs_hunyuan_model *model = NULL;
    VS_TRY(vs_hunyuan_model_load(dir, device, &model));
    *info = info_of(&model->config);
    *out = model;
    return VS_OK;
}

static vs_status dit_preset(const char *preset, vs_dit_info *info) {
    vs_hunyuan_config config;
    VS_TRY(vs_hunyuan_config_preset(preset, &config));
    *info = info_of(&config);
    return VS_OK;
}

/* layers > 0 keeps the first `layers` blocks: dual-stream ones first, then single-stream ones. */
static vs_status dit_random(const char *preset, int layers, vs_device device, uint64_t seed, void **out,
                            vs_dit_info *info) {
    vs_hunyuan_config config;
    VS_TRY(vs_hunyuan_config_preset(preset, &config));
    if (layers > 0 && layers < config.num_layers + config.num_single_layers) {
        if (layers <= config.num_layers)
            config.num_layers = layers, config.num_single_layers = 0;
        else
            config.num_single_layers = layers - config.num_layers;
    }
    vs_hunyuan_model *model = NULL;
    VS_TRY(vs_hunyuan_model_random(&config, device, seed, &model));
    *info = info_of(&config);
    *out = model;
    return VS_OK;
}

static vs_status dit_set_attention(void *p, const vs_attention_params *params) {
    return vs_hunyuan_model_set_attention(p, params);
}

static vs_status dit_set_comm(void *p, vs_comm *comm) {
    (void)p;
    if (comm)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "the HunyuanVideo DiT runs on one GPU (no sequence parallelism yet)");
    return VS_OK;
}

/* The request's embedded guidance (guidance_scale x 1000 per batch entry), else the pipeline's default. */
static vs_status dit_forward(void *p, const vs_dit_input *in, vs_tensor *out, vs_dit_timing *timing) {
    const vs_hunyuan_model *model = p;
    const int64_t B = in->latents ? in->latents->shape[0] : 0;
    float *guidance = NULL;
    if (!in->guidance && model->config.guidance_embeds && B > 0) {
        if (!(guidance = malloc((size_t)B * sizeof *guidance))) return vs_fail(VS_ERR_OOM, "out of memory");
        for (int64_t b = 0; b < B; b++)
            guidance[b] = DEFAULT_EMBEDDED_GUIDANCE * 1000.0f;
    }
    const vs_hunyuan_input input = {in->latents, in->timesteps, in->guidance ? in->guidance : guidance,
                                    in->text,    in->text_mask, in->pooled,
                                    in->step,    in->num_steps};
    vs_status s = vs_hunyuan_forward(model, &input, out, timing);
    free(guidance);
    return s;
}

/* HunyuanVideo's causal VAE makes 1 + 4k frames from 1 + k latent frames, 8x in space; the pipeline takes
 * heights and widths that are multiples of 16 (the VAE's 8 x the DiT's patch of 2). */
static vs_status latent_shape(const vs_dit_info *dit, const vs_vae_info *vae, int frames, int height,
                              int width, int64_t shape[5]) {
    if (!vae) return vs_fail(VS_ERR_INVALID_ARG, "HunyuanVideo works on VAE latents, not pixels");
    const int tr = vae->temporal_ratio, sr = vae->spatial_ratio;
    if (frames < 1 || (frames - 1) % tr || height < 1 || width < 1 || height % (sr * dit->patch[1]) ||
        width % (sr * dit->patch[2]))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "HunyuanVideo makes 1 + %d k frames of a height and width that are "
                       "multiples of %d, not %d x %d x %d",
                       tr, sr * dit->patch[1], frames, height, width);
    shape[0] = 1, shape[1] = dit->in_channels, shape[2] = (frames - 1) / tr + 1, shape[3] = height / sr,
    shape[4] = width / sr;
    return VS_OK;
}

/* ---- the VAE (models/hunyuan/vae.h) ----------------------------------------------------------- */

static vs_status vae_info(const char *dir, vs_vae_info *info) { return vs_hunyuan_vae_info(dir, info); }

static vs_status vae_load(const char *dir, vs_device device, void **out, vs_vae_info *info) {
    vs_hunyuan_vae *vae = NULL;
    VS_TRY(vs_hunyuan_vae_load(&vae, dir, device));
    vs_hunyuan_vae_get_info(vae, info);
    *out = vae;
    return VS_OK;
}

static vs_status vae_random(const char *preset, vs_device device, uint64_t seed, void **out, vs_vae_info *info) {
    (void)preset; /* the 13B DiT decodes through the released VAE */
    vs_hunyuan_vae *vae = NULL;
    VS_TRY(vs_hunyuan_vae_random(&vae, device, seed));
    vs_hunyuan_vae_get_info(vae, info);
    *out = vae;
    return VS_OK;
}

/* latents as the DiT makes them (the decoder divides by the scaling factor); tiled -1: tiled on CUDA. */
static vs_status vae_decode(void *p, const vs_tensor *latents, int tiled, vs_tensor *video) {
    return vs_hunyuan_vae_decode(p, latents, tiled, video);
}

static vs_vae_memory vae_memory(const void *p) { return vs_hunyuan_vae_memory(p); }

static void vae_free(void *p) { vs_hunyuan_vae_free(p); }

/* ---- memory ------------------------------------------------------------------------------------ */

/* The encoders' and the DiT's sizes that decide their device memory, from their config.json. */
typedef struct {
    int64_t vocab, hidden, ffn, layers, heads, head_dim;
} text_shape;


static vs_status read_text_shape(const char *dir, const char *component, int skip, text_shape *t) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/config.json", dir, component);
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, path));
    const vs_json *r = vs_json_root(doc);
    t->vocab = vs_json_get_int(r, "vocab_size", 0), t->hidden = vs_json_get_int(r, "hidden_size", 0);
    t->ffn = vs_json_get_int(r, "intermediate_size", 0), t->layers = vs_json_get_int(r, "num_hidden_layers", 0) - skip;
    t->heads = vs_json_get_int(r, "num_attention_heads", 1);
    t->head_dim = vs_json_get_int(r, "head_dim", t->heads > 0 ? t->hidden / t->heads : 0);
    vs_json_free(doc);
    if (t->vocab < 1 || t->hidden < 1 || t->ffn < 1 || t->layers < 1 || t->heads < 1 || t->head_dim < 1)
        return vs_fail(VS_ERR_FORMAT, "%s: a size is missing or out of range", path);
    return VS_OK;
}

/* bf16 weights of a text transformer (K and V stored per query head, as the Llama loader repeats them) and
 * its activations for n tokens: the f32 residual stream and a layer's bf16 projections and MLP. */
static void text_memory(const text_shape *t, int64_t n, size_t *weights, size_t *work) {
    const int64_t qd = t->heads * t->head_dim;
    *weights += (size_t)(2 * (t->vocab * t->hidden + t->layers * (4 * qd * t->hidden + 3 * t->ffn * t->hidden)));
    const size_t w = (size_t)(n * (8 * t->hidden + 2 * (4 * qd + 3 * t->ffn)) + 4 * t->heads * n * n);
    if (w > *work) *work = w;
}

/* bf16 weights of the DiT (dual blocks: two streams of modulation, q/k/v/o and MLP; single blocks:
 * modulation, q/k/v, MLP in, and the output over [attention; MLP]; the token refiner and the embedders) and
 * its activations for one batch entry (entries run one after another): per token the f32 residual and
 * modulated streams and the bf16 q/k/v/attention output and MLP hidden state (a sparse method's state, SVG's
 * gathered copies among it, is the pipeline's to add: vs_dit_attention_memory). */
static void dit_memory(const vs_hunyuan_config *c, const int64_t latents[5], int text_length, size_t *weights,
                       size_t *work) {
    const int64_t D = c->dim, M = c->mlp_dim;
    const int64_t dual = 2 * (10 * D * D + 2 * D * M), single = 7 * D * D + 2 * D * M,
                  refiner = 6 * D * D + 2 * D * c->refiner_mlp_dim;
    const int64_t params = c->num_layers * dual + c->num_single_layers * single + c->num_refiner_layers * refiner +
                           (int64_t)c->text_dim * D + 4 * D * D + (int64_t)c->pooled_dim * D;
    *weights = (size_t)(2 * params);
    const int64_t video = latents[1] ? latents[2] / c->patch_size[0] * (latents[3] / c->patch_size[1]) *
                                           (latents[4] / c->patch_size[2])
                                     : 0;
    const int64_t n = video + text_length;
    *work = (size_t)(n * (3 * 4 * D + 2 * (5 * D + M))) +
            (size_t)(2 * 4 * latents[0] * latents[1] * latents[2] * latents[3] * latents[4]);
}

static vs_status memory_need(const char *dir, const char *preset, vs_device device, vs_precision precision,
                             const int64_t latents[5], int text_length, vs_stage_memory need[VS_STAGE_COUNT]) {
    memset(need, 0, sizeof(vs_stage_memory) * VS_STAGE_COUNT);
    if (device == VS_CPU) return VS_OK;
    if (precision != VS_PRECISION_DEFAULT)
        return vs_fail(VS_ERR_UNSUPPORTED, "the hunyuan family has only its default (bf16) weights");
    vs_hunyuan_config dit;
    const vs_llama_config *l = &llama_8b_config;
    const vs_clip_text_config *c = &clip_l_config;
    text_shape llama = {l->vocab_size, l->hidden_size, l->intermediate_size, l->num_layers - VS_HUNYUAN_SKIP_LAYERS,
                        l->num_heads, l->head_dim},
               clip = {c->vocab_size, c->hidden_size, c->intermediate_size, c->num_layers, c->num_heads,
                       c->hidden_size / c->num_heads};
    char path[4096];
    if (dir) {
        snprintf(path, sizeof path, "%s/text_encoder/config.json", dir);
        if (vs_is_file(path)) { /* a transformer folder has no text side */
            VS_TRY(read_text_shape(dir, "text_encoder", VS_HUNYUAN_SKIP_LAYERS, &llama));
            VS_TRY(read_text_shape(dir, "text_encoder_2", 0, &clip));
        } else {
            llama.layers = clip.layers = 0, llama.vocab = clip.vocab = 0;
        }
        VS_TRY(dit_config_of(dir, &dit));
    } else {
        VS_TRY(vs_hunyuan_config_preset(preset, &dit));
    }
    text_memory(&llama, VS_HUNYUAN_CROP_START + text_length, &need[VS_STAGE_TEXT].weights, &need[VS_STAGE_TEXT].work);
    text_memory(&clip, VS_HUNYUAN_CLIP_TOKENS, &need[VS_STAGE_TEXT].weights, &need[VS_STAGE_TEXT].work);
    dit_memory(&dit, latents, text_length, &need[VS_STAGE_DENOISE].weights, &need[VS_STAGE_DENOISE].work);
    if (dir) {
        snprintf(path, sizeof path, "%s/vae/config.json", dir);
        if (!vs_is_file(path)) return VS_OK; /* a transformer folder: nothing to decode with */
        snprintf(path, sizeof path, "%s/vae", dir);
    }
    return vs_hunyuan_vae_estimate(dir ? path : NULL, (int)latents[2], (int)latents[3], (int)latents[4], 1,
                                   &need[VS_STAGE_DECODE].weights, &need[VS_STAGE_DECODE].work);
}

/* ---- the table ---------------------------------------------------------------------------------- */

static const char *const hunyuan_classes[] = {"HunyuanVideoPipeline", "HunyuanVideoTransformer3DModel",
                                              "AutoencoderKLHunyuanVideo", NULL};

/* HunyuanVideoPipeline: 129 x 720 x 1280, 50 steps, embedded guidance 6 without true CFG (true_cfg_scale 1),
 * 256 text tokens, 24 fps, FlowMatchEuler with the released checkpoint's shift 7 on the pipeline's sigmas;
 * SVG as the reference's HunyuanVideo scripts run it: density 0.25 after 0.1 of the steps and 0.03 of the
 * layers; EasyCache as EasyCache4HunyuanVideo/easycache_sample_video.py sets it: threshold 0.025, the first
 * 5 steps always run (ret_steps). */
const vs_family vs_family_hunyuan = {
    .name = "hunyuan",
    .class_names = hunyuan_classes,
    .presets = "hunyuan13b",
    .defaults = {129, 720, 1280, 50, 1.0f, VS_HUNYUAN_MAX_TOKENS, 24, {"svg", 0.25, 0.1, 0.03}, "",
                 "{\"_class_name\": \"FlowMatchEulerDiscreteScheduler\", \"shift\": 7.0}", DEFAULT_EMBEDDED_GUIDANCE,
                 1, 0.025, 5},
    .reference_vae = {16, 4, 8},
    .text_load = text_load,
    .text_encode = text_encode,
    .text_free = text_free,
    .dit_load = dit_load,
    .dit_preset = dit_preset,
    .dit_info = dit_info,
    .dit_random = dit_random,
    .dit_set_attention = dit_set_attention,
    .dit_set_comm = dit_set_comm,
    .dit_forward = dit_forward,
    .dit_teacache = vs_hunyuan_dit_teacache,
    .dit_free = dit_free,
    .dit_release_work = dit_release_work,
    .latent_shape = latent_shape,
    .vae_info = vae_info,
    .vae_load = vae_load,
    .vae_decode = vae_decode,
    .vae_memory = vae_memory,
    .vae_free = vae_free,
    .text_random = text_random,
    .vae_random = vae_random,
    .memory_need = memory_need,
};
