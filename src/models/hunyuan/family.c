/* HunyuanVideo's DiT behind the model-family interface (models/family.h), for `bench dit
 * --config hunyuan13b` and vs_dit_random. Only the DiT so far: the table has no text encoder
 * or VAE and names no classes, and models/family.c lists it among the DiT-only families, so no
 * folder is detected as HunyuanVideo until the whole family works (docs/hunyuan.md). */
#include <stdlib.h>

#include "core/status.h"
#include "models/family.h"
#include "models/hunyuan/transformer.h"

/* HunyuanVideoPipeline's default guidance_scale, embedded as guidance x 1000. */
#define DEFAULT_EMBEDDED_GUIDANCE 6000.0f

static void dit_free(void *p) {
    vs_hunyuan_model_free(p);
}

static vs_dit_info info_of(const vs_hunyuan_config *c) {
    vs_dit_info i = {c->in_channels,
                     c->out_channels,
                     {c->patch_size[0], c->patch_size[1], c->patch_size[2]},
                     c->num_layers + c->num_single_layers,
                     c->num_heads,
                     c->head_dim,
                     c->text_dim,
                     c->pooled_dim};
    return i;
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

static vs_status dit_forward(void *p, const vs_dit_input *in, vs_tensor *out, vs_dit_timing *timing) {
    const vs_hunyuan_model *model = p;
    const int64_t B = in->latents ? in->latents->shape[0] : 0;
    float *guidance = NULL;
    if (!in->guidance && model->config.guidance_embeds && B > 0) {
        if (!(guidance = malloc((size_t)B * sizeof *guidance))) return vs_fail(VS_ERR_OOM, "out of memory");
        for (int64_t b = 0; b < B; b++)
            guidance[b] = DEFAULT_EMBEDDED_GUIDANCE;
    }
    const vs_hunyuan_input input = {in->latents, in->timesteps, in->guidance ? in->guidance : guidance,
                                    in->text,    in->text_mask, in->pooled,
                                    in->step,    in->num_steps};
    vs_status s = vs_hunyuan_forward(model, &input, out, timing);
    free(guidance);
    return s;
}

/* HunyuanVideo's causal VAE: 16 latent channels, 1 + 4k frames from 1 + k latent frames, 8x in space. */
static vs_status latent_shape(const vs_dit_info *dit, const vs_vae_info *vae, int frames, int height,
                              int width, int64_t shape[5]) {
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

static const char *const no_classes[] = {NULL};

/* HunyuanVideoPipeline: 129 x 720 x 1280, 50 steps, embedded guidance 6, 256 text tokens, 24 fps; SVG as the
 * reference's HunyuanVideo scripts run it: density 0.25 after 0.1 of the steps and 0.03 of the layers. */
const vs_family vs_family_hunyuan_dit = {
    .name = "hunyuan",
    .class_names = no_classes,
    .presets = "hunyuan13b",
    .defaults = {129, 720, 1280, 50, 1.0f, 256, 24, {"svg", 0.25, 0.1, 0.03}, "", NULL},
    .reference_vae = {16, 4, 8},
    .dit_preset = dit_preset,
    .dit_random = dit_random,
    .dit_set_attention = dit_set_attention,
    .dit_set_comm = dit_set_comm,
    .dit_forward = dit_forward,
    .dit_teacache = vs_hunyuan_dit_teacache,
    .dit_free = dit_free,
    .latent_shape = latent_shape,
};
