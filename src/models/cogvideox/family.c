/* CogVideoX 1.5's DiT behind the model-family interface (models/family.h), for `bench dit --config
 * cogvideox1.5-5b | cogvideox1.5-5b-i2v` and vs_dit_random. Only the DiT so far: the table has no text encoder
 * or VAE and names no classes, and models/family.c lists it among the DiT-only families, so no folder is
 * detected as CogVideoX until the whole family works (docs/cogvideox.md). */
#include "core/status.h"
#include "models/cogvideox/transformer.h"
#include "models/family.h"

static void dit_free(void *p) {
    vs_cogvideox_model_free(p);
}

static vs_dit_info info_of(const vs_cogvideox_config *c) {
    vs_dit_info i = {c->in_channels,
                     c->out_channels,
                     {c->patch_size[0], c->patch_size[1], c->patch_size[2]},
                     c->num_layers,
                     c->num_heads,
                     c->head_dim,
                     c->text_dim,
                     0};
    return i;
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

/* CogVideoX's VAE: 16 latent channels, 1 + 4k frames from 1 + k latent frames, 8x in space. For the 1.5
 * models the pipeline makes the latent frames a multiple of patch_size_t by adding frames at the start (it
 * drops their latents after denoising). */
static vs_status latent_shape(const vs_dit_info *dit, const vs_vae_info *vae, int frames, int height, int width,
                              int64_t shape[5]) {
    const int tr = vae->temporal_ratio, sr = vae->spatial_ratio, pt = dit->patch[0];
    if (frames < 1 || (frames - 1) % tr || height < 1 || width < 1 || height % (sr * dit->patch[1]) ||
        width % (sr * dit->patch[2]))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "CogVideoX makes 1 + %d k frames of a height and width that are multiples of %d, not %d x %d "
                       "x %d",
                       tr, sr * dit->patch[1], frames, height, width);
    const int latent_frames = (frames - 1) / tr + 1;
    shape[0] = 1, shape[1] = dit->in_channels, shape[2] = (latent_frames + pt - 1) / pt * pt;
    shape[3] = height / sr, shape[4] = width / sr;
    return VS_OK;
}

static const char *const no_classes[] = {NULL};

/* CogVideoXPipeline / CogVideoXImageToVideoPipeline for 1.5: 81 x 768 x 1360, 50 steps, guidance 6, 226 text
 * tokens, 16 fps; SVG as the reference's CogVideoX 1.5 script runs it: density 0.25 after 0.2 of the steps and
 * 0.025 of the layers. */
const vs_family vs_family_cogvideox_dit = {
    .name = "cogvideox",
    .class_names = no_classes,
    .presets = "cogvideox1.5-5b, cogvideox1.5-5b-i2v",
    .defaults = {81, 768, 1360, 50, 6.0f, 226, 16, {"svg", 0.25, 0.2, 0.025}, "", NULL},
    .reference_vae = {16, 4, 8},
    .dit_preset = dit_preset,
    .dit_random = dit_random,
    .dit_set_attention = dit_set_attention,
    .dit_set_comm = dit_set_comm,
    .dit_forward = dit_forward,
    .dit_free = dit_free,
    .latent_shape = latent_shape,
};
