/* CogVideoX 1.5 text-to-video and image-to-video as a model family (models/family.h), as diffusers'
 * CogVideoXPipeline and CogVideoXImageToVideoPipeline run them: the T5 v1.1 encoder over 226 padded tokens,
 * the CogVideoX DiT (with the ofs embedding and the image latents concatenated to the noise for
 * image-to-video), CogVideoXDPMScheduler, and the CogVideoX VAE (its encoder makes the image condition). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/path.h"
#include "models/common/component.h"
#include "models/common/t5_text.h"
#include "models/cogvideox/prompt.h"
#include "models/cogvideox/transformer.h"
#include "models/cogvideox/vae.h"
#include "models/family.h"

/* ---- text: the T5 tokenizer and encoder of a pipeline folder (models/common/t5_text.h) ------------- */

/* T5 v1.1 XXL's encoder (google/t5-v1_1-xxl, CogVideoX's text_encoder/): d_model 4096, 24 layers, 64 heads of 64,
 * gated-GELU d_ff 10240, vocabulary 32128, one relative position bias shared by every layer. */
static const vs_umt5_config t5_xxl = {32128, 4096, 64, 10240, 64, 24, 32, 128, 1e-6f, 1};

static vs_status text_random(const char *preset, vs_device device, uint64_t seed, void **out) {
    (void)preset; /* both 1.5 models read T5-XXL's states */
    return vs_t5_text_random(&t5_xxl, device, seed, out);
}

/* A random encoder has no tokenizer (vs_t5_byte_ids); every token takes part, as the pipeline passes no mask. */
static vs_status encode_bytes(const vs_umt5 *encoder, const char *prompt, int max_length, float *out) {
    int32_t *ids = calloc((size_t)max_length * 2, sizeof *ids);
    if (!ids) return vs_fail(VS_ERR_OOM, "prompt: out of memory");
    int32_t *all = ids + max_length;
    vs_t5_byte_ids(prompt, max_length, ids, NULL);
    for (int i = 0; i < max_length; i++) all[i] = 1;
    vs_status s = vs_umt5_encode(encoder, ids, all, max_length, out);
    free(ids);
    return s;
}

/* The pipeline's prompt_embeds [1, max_length, 4096]: every row, padding included (no mask). */
static vs_status text_encode(void *p, const char *prompt, int max_length, vs_text_embedding *out) {
    const vs_t5_text *t = p;
    if (max_length <= 0) return vs_fail(VS_ERR_INVALID_ARG, "prompt: max_length must be positive, got %d", max_length);
    const int64_t shape[3] = {1, max_length, vs_umt5_get_config(t->encoder)->d_model};
    VS_TRY(vs_tensor_alloc(&out->hidden, VS_F32, VS_CPU, 3, shape));
    vs_status s = t->tokenizer
                      ? vs_cogvideox_encode_prompt(t->tokenizer, t->encoder, prompt, max_length, out->hidden.data, NULL)
                      : encode_bytes(t->encoder, prompt, max_length, out->hidden.data);
    if (s != VS_OK) vs_tensor_free(&out->hidden);
    return s;
}

/* ---- the DiT ----------------------------------------------------------------------------------- */

static void dit_free(void *p) { vs_cogvideox_model_free(p); }

static vs_dit_info info_of(const vs_cogvideox_config *c) {
    vs_dit_info i = {c->in_channels,
                     c->out_channels,
                     {c->patch_size[0], c->patch_size[1], c->patch_size[2]},
                     c->num_layers,
                     c->num_heads,
                     c->head_dim,
                     c->text_dim,
                     0,
                     1};
    return i;
}

static vs_status dit_config_of(const char *dir, vs_cogvideox_config *c) {
    vs_component_path where;
    VS_TRY(vs_component_find(dir, "transformer", "a CogVideoX model", &where));
    return vs_cogvideox_config_load(where.config, c);
}

static vs_status dit_info(const char *dir, vs_dit_info *info) {
    vs_cogvideox_config config;
    VS_TRY(dit_config_of(dir, &config));
    *info = info_of(&config);
    return VS_OK;
}

static vs_status dit_load(const char *dir, vs_device device, void **out, vs_dit_info *info) {
    vs_cogvideox_model *model = NULL;
    VS_TRY(vs_cogvideox_model_load(dir, device, &model));
    *info = info_of(&model->config);
    *out = model;
    return VS_OK;
}

static vs_status dit_preset(const char *preset, vs_dit_info *info) {
    vs_cogvideox_config config;
    VS_TRY(vs_cogvideox_config_preset(preset, &config));
    *info = info_of(&config);
    return VS_OK;
}

/* layers > 0 keeps the first `layers` blocks. */
static vs_status dit_random(const char *preset, int layers, vs_device device, uint64_t seed, void **out,
                            vs_dit_info *info) {
    vs_cogvideox_config config;
    VS_TRY(vs_cogvideox_config_preset(preset, &config));
    if (layers > 0 && layers < config.num_layers) config.num_layers = layers;
    vs_cogvideox_model *model = NULL;
    VS_TRY(vs_cogvideox_model_random(&config, device, seed, &model));
    *info = info_of(&config);
    *out = model;
    return VS_OK;
}

static vs_status dit_set_attention(void *p, const vs_attention_params *params) {
    return vs_cogvideox_model_set_attention(p, params);
}

static vs_status dit_set_comm(void *p, vs_comm *comm) {
    (void)p;
    if (comm) return vs_fail(VS_ERR_UNSUPPORTED, "the CogVideoX DiT runs on one GPU (no sequence parallelism yet)");
    return VS_OK;
}

/* The text mask is not read: CogVideoX attends to all of its padded prompt. ofs: the I2V pipeline's 2.0. */
static vs_status dit_forward(void *p, const vs_dit_input *in, vs_tensor *out, vs_dit_timing *timing) {
    const vs_cogvideox_input input = {in->latents, in->timesteps, NULL, in->text, in->step, in->num_steps};
    return vs_cogvideox_forward(p, &input, out, timing);
}

/* The latent frames of a video of `frames` frames (1 + 4k frames from 1 + k latent frames), and how many the
 * 1.5 pipelines add at the start to make them a multiple of patch_size_t (dropped before decoding). */
static int latent_frames(const vs_vae_info *vae, int frames) { return (frames - 1) / vae->temporal_ratio + 1; }

static int padding_frames(const vs_dit_info *dit, const vs_vae_info *vae, int frames) {
    const int pt = dit->patch[0];
    return (pt - latent_frames(vae, frames) % pt) % pt;
}

/* The noise latents [1, C, F', H / 8, W / 8]: C the DiT's output channels (the image-to-video DiT takes as many
 * again of the image condition), F' the latent frames padded to a multiple of patch_size_t (22 for 81). */
static vs_status latent_shape(const vs_dit_info *dit, const vs_vae_info *vae, int frames, int height, int width,
                              int64_t shape[5]) {
    if (!vae) return vs_fail(VS_ERR_INVALID_ARG, "CogVideoX needs its VAE (vae/): it has no pixel-space models");
    const int tr = vae->temporal_ratio, sr = vae->spatial_ratio;
    if (frames < 1 || (frames - 1) % tr || height < 1 || width < 1 || height % (sr * dit->patch[1]) ||
        width % (sr * dit->patch[2]))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "CogVideoX makes 1 + %d k frames of a height and width that are multiples of %d, not %d x %d "
                       "x %d",
                       tr, sr * dit->patch[1], frames, height, width);
    shape[0] = 1, shape[1] = dit->out_channels, shape[2] = latent_frames(vae, frames) + padding_frames(dit, vae, frames);
    shape[3] = height / sr, shape[4] = width / sr;
    return VS_OK;
}

/* ---- the VAE ------------------------------------------------------------------------------------ */

typedef struct {
    vs_cogvideox_vae *vae;
    vs_device device;
} cogvideox_vae;

static void vae_free(void *p) {
    cogvideox_vae *v = p;
    if (!v) return;
    vs_cogvideox_vae_free(v->vae);
    free(v);
}

static vs_vae_info vae_info_of(const vs_cogvideox_vae_config *c) {
    const vs_vae_info info = {c->latent_channels, c->temporal_compression, 1 << (c->num_blocks - 1)};
    return info;
}

static vs_status vae_info(const char *dir, vs_vae_info *info) {
    vs_cogvideox_vae_config config;
    VS_TRY(vs_cogvideox_vae_read_config(dir, &config));
    *info = vae_info_of(&config);
    return VS_OK;
}

/* The loaded (or random, made: its status) VAE as the family's. */
static vs_status hand_over_vae(vs_status made, vs_cogvideox_vae *vae, vs_device device, void **out,
                               vs_vae_info *info) {
    if (made != VS_OK) return made;
    cogvideox_vae *v = calloc(1, sizeof *v);
    if (!v) {
        vs_cogvideox_vae_free(vae);
        return vs_fail(VS_ERR_OOM, "out of memory");
    }
    *v = (cogvideox_vae){vae, device};
    *info = vae_info_of(vs_cogvideox_vae_get_config(vae));
    *out = v;
    return VS_OK;
}

static vs_status vae_load(const char *dir, vs_device device, void **out, vs_vae_info *info) {
    vs_cogvideox_vae *vae = NULL;
    vs_status s = vs_cogvideox_vae_load(&vae, dir, device);
    return hand_over_vae(s, vae, device, out, info);
}

static vs_status vae_random(const char *preset, vs_device device, uint64_t seed, void **out, vs_vae_info *info) {
    (void)preset; /* both 1.5 models decode through the released VAE */
    vs_cogvideox_vae *vae = NULL;
    vs_status s = vs_cogvideox_vae_random(&vae, device, seed);
    return hand_over_vae(s, vae, device, out, info);
}

/* diffusers' tiling (enable_tiling) for pictures of height x width pixels: tiled 1 or 0, or -1: on the GPU
 * when the picture is larger than the VAE's training sample (480 x 720 for 1.5), as the reference scripts
 * enable it for 768 x 1360; the CPU never needs to. */
static vs_cogvideox_vae_tiling tiling_for(const cogvideox_vae *v, int tiled, int64_t height, int64_t width) {
    const vs_cogvideox_vae_config *c = vs_cogvideox_vae_get_config(v->vae);
    const int larger = height * width > (int64_t)c->sample_height * c->sample_width;
    vs_cogvideox_vae_tiling t = vs_cogvideox_vae_default_tiling(v->vae);
    t.enabled = tiled == 1 || (tiled < 0 && v->device == VS_CUDA && larger);
    return t;
}

/* latents as the DiT makes them, its padding frames dropped (the decoder divides by the scaling factor). */
static vs_status vae_decode(void *p, const vs_tensor *latents, int tiled, vs_tensor *video) {
    const cogvideox_vae *v = p;
    const int r = vs_cogvideox_vae_spatial_ratio(v->vae);
    const int64_t h = latents->ndim >= 2 ? latents->shape[latents->ndim - 2] : 0, w = latents->shape[latents->ndim - 1];
    const vs_cogvideox_vae_tiling tiling = tiling_for(v, tiled, h * r, w * r);
    return vs_cogvideox_vae_decode(v->vae, latents, &tiling, video);
}

static vs_vae_memory vae_memory(const void *p) {
    const vs_cogvideox_vae_memory m = vs_cogvideox_vae_device_memory(((const cogvideox_vae *)p)->vae);
    const vs_vae_memory out = {m.weights, m.peak_activations, m.workspace, m.device_used};
    return out;
}

/* CogVideoXImageToVideoPipeline.prepare_latents' image_latents for latents of `shape` (F' already padded, so
 * nothing is repeated in front): the first frame encoded, sampled with `noise`, scaled, then zero frames. */
static vs_status image_condition(void *p, const vs_dit_info *dit, const vs_tensor *pixels, const vs_tensor *noise,
                                 const int64_t shape[5], vs_tensor *condition) {
    const cogvideox_vae *v = p;
    const vs_cogvideox_vae_tiling tiling = tiling_for(v, -1, pixels->shape[1], pixels->shape[2]);
    VS_TRY(vs_cogvideox_vae_image_condition(v->vae, pixels, noise, (int)shape[2], dit->patch[0], &tiling, condition));
    if (condition->shape[1] != dit->in_channels - dit->out_channels) {
        const int64_t got = condition->shape[1];
        vs_tensor_free(condition);
        return vs_fail(VS_ERR_SHAPE, "the VAE's %lld latent channels are not the %d image channels the DiT takes",
                       (long long)got, dit->in_channels - dit->out_channels);
    }
    return VS_OK;
}

/* ---- memory ------------------------------------------------------------------------------------ */

/* bf16 weights of the DiT (per block: two expert adaLN modulations of time_embed_dim -> 6 dim, q/k/v/o, the
 * GELU FFN; the patch, text, time and ofs embedders and the output) and its activations for one batch entry
 * (entries run one after another): per token the f32 residual and modulated streams, the bf16 q/k/v,
 * attention output and FFN hidden state, plus the latents in and out (a sparse method's state, SVG's gathered
 * copies among it, is the pipeline's to add: vs_dit_attention_memory). */
static void dit_memory(const vs_cogvideox_config *c, const int64_t latents[5], int text_length, size_t *weights,
                       size_t *work) {
    const int64_t D = c->dim, M = c->mlp_dim, T = c->time_embed_dim;
    const int64_t patch = (int64_t)c->patch_size[0] * c->patch_size[1] * c->patch_size[2];
    const int64_t block = 2 * 6 * T * D + 4 * D * D + 2 * D * M;
    const int64_t params = c->num_layers * block + patch * (c->in_channels + c->out_channels) * D +
                           (int64_t)c->text_dim * D + 2 * (D * T + T * T) + 2 * T * D;
    *weights = (size_t)(2 * params);
    const int64_t video = latents[2] / c->patch_size[0] * (latents[3] / c->patch_size[1]) * (latents[4] / c->patch_size[2]);
    const int64_t n = video + text_length, values = latents[0] * latents[2] * latents[3] * latents[4];
    *work = (size_t)(n * (3 * 4 * D + 2 * (5 * D + M))) +
            (size_t)(4 * values * (c->in_channels + 2 * c->out_channels));
}

static vs_status memory_need(const char *dir, const char *preset, vs_device device, vs_precision precision,
                             const int64_t latents[5], int text_length, vs_stage_memory need[VS_STAGE_COUNT]) {
    memset(need, 0, sizeof(vs_stage_memory) * VS_STAGE_COUNT);
    if (device == VS_CPU) return VS_OK;
    if (precision != VS_PRECISION_DEFAULT)
        return vs_fail(VS_ERR_UNSUPPORTED, "the cogvideox family has only its default (bf16) weights");
    vs_cogvideox_config dit;
    vs_umt5_config text = t5_xxl;
    char path[4096];
    int has_text = 1;
    if (dir) {
        snprintf(path, sizeof path, "%s/text_encoder/config.json", dir);
        has_text = vs_is_file(path); /* a transformer folder has no text side */
        snprintf(path, sizeof path, "%s/text_encoder", dir);
        if (has_text) VS_TRY(vs_umt5_read_config(path, &text));
        VS_TRY(dit_config_of(dir, &dit));
    } else {
        VS_TRY(vs_cogvideox_config_preset(preset, &dit));
    }
    if (has_text)
        vs_umt5_memory(&text, device, 0, 1, text_length, &need[VS_STAGE_TEXT].weights, &need[VS_STAGE_TEXT].work);
    dit_memory(&dit, latents, text_length, &need[VS_STAGE_DENOISE].weights, &need[VS_STAGE_DENOISE].work);
    /* The released VAE's sample size (480 x 720) and 8x ratio for random weights. */
    vs_cogvideox_vae_config vae = {.num_blocks = 4, .sample_height = 480, .sample_width = 720};
    if (dir) {
        snprintf(path, sizeof path, "%s/vae/config.json", dir);
        if (!vs_is_file(path)) return VS_OK; /* a transformer folder: nothing to decode with */
        snprintf(path, sizeof path, "%s/vae", dir);
        VS_TRY(vs_cogvideox_vae_read_config(path, &vae));
    }
    /* On the GPU a picture larger than the training sample decodes in tiles of half of it (tiling_for). */
    const int r = 1 << (vae.num_blocks - 1);
    const int tiled = latents[3] * r * latents[4] * r > (int64_t)vae.sample_height * vae.sample_width;
    const int lh = tiled ? vae.sample_height / 2 / r : (int)latents[3];
    const int lw = tiled ? vae.sample_width / 2 / r : (int)latents[4];
    return vs_cogvideox_vae_estimate(dir ? path : NULL, lh, lw, &need[VS_STAGE_DECODE].weights,
                                     &need[VS_STAGE_DECODE].work);
}

/* ---- the table ---------------------------------------------------------------------------------- */

static const char *const cogvideox_classes[] = {"CogVideoXPipeline", "CogVideoXImageToVideoPipeline",
                                                "CogVideoXTransformer3DModel", "AutoencoderKLCogVideoX", NULL};

/* The released CogVideoX 1.5 scheduler/scheduler_config.json, for folders without scheduler/ and random
 * weights: v-prediction, zero-terminal-SNR rescaled scaled-linear betas, trailing timesteps. */
#define COGVIDEOX_SCHEDULER                                                                                    \
    "{\"_class_name\": \"CogVideoXDPMScheduler\", \"beta_start\": 0.00085, \"beta_end\": 0.012, "             \
    "\"beta_schedule\": \"scaled_linear\", \"num_train_timesteps\": 1000, \"prediction_type\": "              \
    "\"v_prediction\", \"rescale_betas_zero_snr\": true, \"set_alpha_to_one\": true, \"snr_shift_scale\": "    \
    "1.0, \"steps_offset\": 0, \"timestep_spacing\": \"trailing\"}"

/* CogVideoXPipeline / CogVideoXImageToVideoPipeline for 1.5: 81 x 768 x 1360, 50 steps, guidance 6 (no dynamic
 * CFG), 226 text tokens, 16 fps; SVG as the reference's CogVideoX 1.5 script runs it: density 0.25 after 0.2 of
 * the steps and 0.025 of the layers. */
const vs_family vs_family_cogvideox = {
    .name = "cogvideox",
    .class_names = cogvideox_classes,
    .presets = "cogvideox1.5-5b, cogvideox1.5-5b-i2v",
    .defaults = {81, 768, 1360, 50, 6.0f, VS_COGVIDEOX_TEXT_LENGTH, 16, {"svg", 0.25, 0.2, 0.025}, "",
                 COGVIDEOX_SCHEDULER, 0.0f, 0},
    .reference_vae = {16, 4, 8},
    .text_load = vs_t5_text_load,
    .text_encode = text_encode,
    .text_free = vs_t5_text_free,
    .dit_load = dit_load,
    .dit_preset = dit_preset,
    .dit_info = dit_info,
    .dit_random = dit_random,
    .dit_set_attention = dit_set_attention,
    .dit_set_comm = dit_set_comm,
    .dit_forward = dit_forward,
    .dit_free = dit_free,
    .latent_shape = latent_shape,
    .vae_info = vae_info,
    .vae_load = vae_load,
    .vae_decode = vae_decode,
    .vae_memory = vae_memory,
    .vae_free = vae_free,
    .text_random = text_random,
    .vae_random = vae_random,
    .memory_need = memory_need,
    .padding_frames = padding_frames,
    .image_condition = image_condition,
};
