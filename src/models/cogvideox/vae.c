/* CogVideoX VAE: loading, the f32 CPU encoder and decoder, frame batching and
 * tiling. Activations are frame-major, [t][c][h][w], so a frame is one
 * contiguous [c, h, w] block: convolutions run frame by frame (a causal 3D
 * convolution is three 2D convolutions over consecutive frames, summed) and
 * the causal caches are whole frames. */
#include "models/cogvideox/vae.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/cogvideox/vae_internal.h"
#include "models/common/vae_tiles.h"
#include "models/common/vae_weights.h"
#include "ops/ops.h"

/* ---- loading --------------------------------------------------------------------- */

typedef struct {
    vs_vae_weights w;
    coder *coder; /* assigns cache slots */
} loader;

/* prefix.weight [cout, cin, kt, k, k] (kt = 0: a Conv2d's [cout, cin, k, k]) and prefix.bias. */
static vs_status load_conv(loader *L, conv *c, const char *prefix, int cin, int cout, int kt, int k) {
    char name[256];
    const int64_t w5[5] = {cout, cin, kt, k, k}, w4[4] = {cout, cin, k, k}, b[1] = {cout};
    VS_TRY(vs_vae_name(name, sizeof name, "%s.weight", prefix));
    VS_TRY(vs_vae_weight(&L->w, name, kt ? 5 : 4, kt ? w5 : w4, 0, &c->weight));
    VS_TRY(vs_vae_name(name, sizeof name, "%s.bias", prefix));
    VS_TRY(vs_vae_weight(&L->w, name, 1, b, 0, &c->bias));
    c->cin = cin, c->cout = cout, c->kt = kt ? kt : 1, c->k = k;
    c->slot = c->kt > 1 ? L->coder->n_slots++ : -1;
    return VS_OK;
}

/* A CogVideoXCausalConv3d: its Conv3d is prefix.conv. */
static vs_status load_causal(loader *L, conv *c, const char *prefix, int cin, int cout, int k) {
    char name[256];
    VS_TRY(vs_vae_name(name, sizeof name, "%s.conv", prefix));
    return load_conv(L, c, name, cin, cout, k, k);
}

/* zq_channels 0: a GroupNorm at prefix; else a spatial norm (prefix.norm_layer, prefix.conv_y, prefix.conv_b). */
static vs_status load_norm(loader *L, norm *n, const char *prefix, int channels, int zq_channels, float eps) {
    char name[256];
    const int64_t shape[1] = {channels};
    const char *sub = zq_channels ? ".norm_layer" : "";
    VS_TRY(vs_vae_name(name, sizeof name, "%s%s.weight", prefix, sub));
    VS_TRY(vs_vae_weight(&L->w, name, 1, shape, 1, &n->weight));
    VS_TRY(vs_vae_name(name, sizeof name, "%s%s.bias", prefix, sub));
    VS_TRY(vs_vae_weight(&L->w, name, 1, shape, 0, &n->bias));
    n->channels = channels, n->spatial = zq_channels > 0, n->eps = zq_channels ? 1e-6f : eps;
    if (!zq_channels) return VS_OK;
    VS_TRY(vs_vae_name(name, sizeof name, "%s.conv_y", prefix));
    VS_TRY(load_causal(L, &n->conv_y, name, zq_channels, channels, 1));
    VS_TRY(vs_vae_name(name, sizeof name, "%s.conv_b", prefix));
    return load_causal(L, &n->conv_b, name, zq_channels, channels, 1);
}

static vs_status load_resnet(loader *L, const vs_cogvideox_vae_config *c, resnet *r, const char *prefix, int cin,
                             int cout, int zq_channels) {
    char name[256];
    VS_TRY(vs_vae_name(name, sizeof name, "%s.norm1", prefix));
    VS_TRY(load_norm(L, &r->norm1, name, cin, zq_channels, (float)c->eps));
    VS_TRY(vs_vae_name(name, sizeof name, "%s.conv1", prefix));
    VS_TRY(load_causal(L, &r->conv1, name, cin, cout, 3));
    VS_TRY(vs_vae_name(name, sizeof name, "%s.norm2", prefix));
    VS_TRY(load_norm(L, &r->norm2, name, cout, zq_channels, (float)c->eps));
    VS_TRY(vs_vae_name(name, sizeof name, "%s.conv2", prefix));
    VS_TRY(load_causal(L, &r->conv2, name, cout, cout, 3));
    r->has_shortcut = cin != cout;
    if (!r->has_shortcut) return VS_OK;
    VS_TRY(vs_vae_name(name, sizeof name, "%s.conv_shortcut", prefix));
    return load_conv(L, &r->shortcut, name, cin, cout, 1, 1);
}

/* One coder's blocks and resnets. The encoder: conv_in to block_out_channels[0], down blocks of
 * layers_per_block resnets (GroupNorm) each followed but the last by a downsampler, which also halves
 * time in the first log2(temporal_compression) blocks; mid, norm_out, conv_out to 2 C. The decoder
 * mirrors it with one more resnet per block and spatial norms conditioned on the latents. */
static vs_status load_coder(loader *L, const vs_cogvideox_vae_config *c, int decoder) {
    const char *top = decoder ? "decoder" : "encoder";
    coder *m = L->coder;
    const int nb = c->num_blocks, zq = decoder ? c->latent_channels : 0;
    int time_levels = 0;
    while ((1 << (time_levels + 1)) <= c->temporal_compression) time_levels++;
    char name[256];
    const int widest = c->block_out_channels[nb - 1];
    VS_TRY(vs_vae_name(name, sizeof name, "%s.conv_in", top));
    VS_TRY(load_causal(L, &m->conv_in, name, decoder ? c->latent_channels : c->in_channels,
                       decoder ? widest : c->block_out_channels[0], 3));
    if (decoder) { /* mid first */
        for (int j = 0; j < 2; j++) {
            VS_TRY(vs_vae_name(name, sizeof name, "decoder.mid_block.resnets.%d", j));
            VS_TRY(load_resnet(L, c, &m->mid[j], name, widest, widest, zq));
        }
    }
    int channels = decoder ? widest : c->block_out_channels[0];
    for (int i = 0; i < nb; i++) {
        block *b = &m->blocks[i];
        const int out = c->block_out_channels[decoder ? nb - 1 - i : i];
        b->n_resnets = c->layers_per_block + (decoder ? 1 : 0);
        b->resnets = calloc((size_t)b->n_resnets, sizeof *b->resnets);
        if (!b->resnets) return vs_fail(VS_ERR_OOM, "out of memory loading the VAE");
        for (int j = 0; j < b->n_resnets; j++) {
            VS_TRY(vs_vae_name(name, sizeof name, "%s.%s_blocks.%d.resnets.%d", top, decoder ? "up" : "down", i, j));
            VS_TRY(load_resnet(L, c, &b->resnets[j], name, j ? out : channels, out, zq));
        }
        channels = out;
        b->resample = i < nb - 1;
        b->compress_time = i < time_levels;
        if (b->resample) {
            VS_TRY(vs_vae_name(name, sizeof name, "%s.%s_blocks.%d.%s.0.conv", top, decoder ? "up" : "down", i,
                               decoder ? "upsamplers" : "downsamplers"));
            VS_TRY(load_conv(L, &b->sampler, name, out, out, 0, 3));
        }
    }
    if (!decoder) {
        for (int j = 0; j < 2; j++) {
            VS_TRY(vs_vae_name(name, sizeof name, "encoder.mid_block.resnets.%d", j));
            VS_TRY(load_resnet(L, c, &m->mid[j], name, widest, widest, 0));
        }
    }
    VS_TRY(vs_vae_name(name, sizeof name, "%s.norm_out", top));
    VS_TRY(load_norm(L, &m->norm_out, name, channels, zq, 1e-6f));
    VS_TRY(vs_vae_name(name, sizeof name, "%s.conv_out", top));
    return load_causal(L, &m->conv_out, name, channels, decoder ? c->out_channels : 2 * c->latent_channels, 3);
}

static void free_conv(conv *c) {
    vs_tensor_free(&c->weight);
    vs_tensor_free(&c->bias);
    vs_tensor_free(&c->dweight);
    vs_tensor_free(&c->dbias);
}

static void free_norm(norm *n) {
    vs_tensor_free(&n->weight);
    vs_tensor_free(&n->bias);
    vs_tensor_free(&n->dweight);
    vs_tensor_free(&n->dbias);
    free_conv(&n->conv_y);
    free_conv(&n->conv_b);
}

static void free_resnet(resnet *r) {
    free_norm(&r->norm1);
    free_norm(&r->norm2);
    free_conv(&r->conv1);
    free_conv(&r->conv2);
    free_conv(&r->shortcut);
}

static void free_coder(coder *m) {
    free_conv(&m->conv_in);
    free_conv(&m->conv_out);
    for (int i = 0; i < VS_COGVIDEOX_VAE_MAX_BLOCKS; i++) {
        for (int j = 0; j < m->blocks[i].n_resnets; j++) free_resnet(&m->blocks[i].resnets[j]);
        free(m->blocks[i].resnets);
        free_conv(&m->blocks[i].sampler);
    }
    free_resnet(&m->mid[0]);
    free_resnet(&m->mid[1]);
    free_norm(&m->norm_out);
}

void vs_cogvideox_vae_free(vs_cogvideox_vae *vae) {
    if (!vae) return;
    free_coder(&vae->enc);
    free_coder(&vae->dec);
    if (vae->pool) vs_devpool_free(vae->pool);
    free(vae->pool);
    free(vae);
}

/* CogVideoX 1.5's VAE (vae/config.json of CogVideoX1.5-5B). */
static const vs_cogvideox_vae_config v15_config = {3, 3, 16, 4, {128, 256, 256, 512}, 3, 32, 1e-6, 4, 480, 720, 0.7, 1};

static vs_status check_device(vs_device device) {
    if (device != VS_CPU && device != VS_CUDA) return vs_fail(VS_ERR_INVALID_ARG, "VAE: unknown device %d", (int)device);
#if !VS_HAVE_CUDA
    if (device == VS_CUDA)
        return vs_fail(VS_ERR_UNSUPPORTED, "VAE on cuda: this vidsparse build has no CUDA support (rebuild with -DVS_CUDA=ON)");
#endif
    return VS_OK;
}

/* The weights (host f32), then on VS_CUDA the decoder's on the device as well. */
static vs_status build(vs_cogvideox_vae *m, const vs_safetensors *st, uint64_t seed, vs_device device) {
    loader L = {{st, seed, NULL, 0, 0}, &m->enc};
    vs_status s = load_coder(&L, &m->cfg, 0);
    L.coder = &m->dec;
    if (s == VS_OK) s = load_coder(&L, &m->cfg, 1);
    /* A weight the config does not account for means config and weights disagree. */
    if (s == VS_OK) s = vs_vae_weights_check_used(&L.w, (const char *const[]){""}, 1, "VAE");
    vs_vae_weights_release(&L.w);
    m->device = device;
#if VS_HAVE_CUDA
    if (s == VS_OK && device == VS_CUDA) s = vs_cogvideox_vae_cuda_upload(m);
#endif
    return s;
}

static vs_status get_int(const vs_json *root, const char *key, int fallback, int min, int max, int *out) {
    const vs_json *v = vs_json_get(root, key);
    int64_t x = fallback;
    if (v && vs_json_typeof(v) != VS_JSON_NULL && !vs_json_int64(v, &x))
        return vs_fail(VS_ERR_FORMAT, "VAE config: \"%s\" must be an integer", key);
    if (x < min || x > max) return vs_fail(VS_ERR_FORMAT, "VAE config: \"%s\" = %lld is outside %d..%d", key, (long long)x, min, max);
    *out = (int)x;
    return VS_OK;
}

static int json_true(const vs_json *v) { return v && vs_json_typeof(v) == VS_JSON_BOOL && vs_json_bool(v); }

static vs_status parse_config(const vs_json *root, vs_cogvideox_vae_config *c) {
    if (!root || vs_json_typeof(root) != VS_JSON_OBJECT) return vs_fail(VS_ERR_FORMAT, "VAE config: not a JSON object");
    const char *cls = vs_json_get_string(root, "_class_name", "AutoencoderKLCogVideoX");
    if (strcmp(cls, "AutoencoderKLCogVideoX"))
        return vs_fail(VS_ERR_UNSUPPORTED, "VAE config: _class_name \"%s\" is not AutoencoderKLCogVideoX", cls);
    static const char *const refused[] = {"use_quant_conv", "use_post_quant_conv"};
    for (size_t i = 0; i < 2; i++)
        if (json_true(vs_json_get(root, refused[i])))
            return vs_fail(VS_ERR_UNSUPPORTED, "VAE config: \"%s\" is set; not supported", refused[i]);
    const char *act = vs_json_get_string(root, "act_fn", "silu");
    if (strcmp(act, "silu") && strcmp(act, "swish"))
        return vs_fail(VS_ERR_UNSUPPORTED, "VAE config: act_fn \"%s\" (only silu)", act);
    VS_TRY(get_int(root, "in_channels", 3, 1, 64, &c->in_channels));
    VS_TRY(get_int(root, "out_channels", 3, 1, 64, &c->out_channels));
    VS_TRY(get_int(root, "latent_channels", 16, 1, 1024, &c->latent_channels));
    VS_TRY(get_int(root, "layers_per_block", 3, 1, 16, &c->layers_per_block));
    VS_TRY(get_int(root, "norm_num_groups", 32, 1, 1024, &c->groups));
    VS_TRY(get_int(root, "sample_height", 480, 2, 1 << 16, &c->sample_height));
    VS_TRY(get_int(root, "sample_width", 720, 2, 1 << 16, &c->sample_width));
    c->eps = vs_json_get_number(root, "norm_eps", 1e-6);
    c->scaling_factor = vs_json_get_number(root, "scaling_factor", 1.15258426);
    c->temporal_compression = (int)vs_json_get_number(root, "temporal_compression_ratio", 4);
    c->invert_scale_latents = json_true(vs_json_get(root, "invert_scale_latents"));
    if (!(c->eps > 0 && c->eps < 1)) return vs_fail(VS_ERR_FORMAT, "VAE config: norm_eps %g is outside (0, 1)", c->eps);
    if (!(c->scaling_factor > 0) || !isfinite(c->scaling_factor))
        return vs_fail(VS_ERR_FORMAT, "VAE config: scaling_factor %g must be positive", c->scaling_factor);
    const int tc = c->temporal_compression;
    if (tc < 1 || tc > 64 || (tc & (tc - 1)))
        return vs_fail(VS_ERR_FORMAT, "VAE config: temporal_compression_ratio must be a power of 2 (1..64)");
    const vs_json *boc = vs_json_get(root, "block_out_channels");
    if (!boc || vs_json_typeof(boc) != VS_JSON_ARRAY || vs_json_size(boc) < 1 ||
        vs_json_size(boc) > VS_COGVIDEOX_VAE_MAX_BLOCKS)
        return vs_fail(VS_ERR_FORMAT, "VAE config: \"block_out_channels\" must be an array of 1..%d widths",
                       VS_COGVIDEOX_VAE_MAX_BLOCKS);
    c->num_blocks = (int)vs_json_size(boc);
    if ((1 << (c->num_blocks - 1)) < tc)
        return vs_fail(VS_ERR_FORMAT, "VAE config: %d blocks cannot compress time %dx", c->num_blocks, tc);
    for (int i = 0; i < c->num_blocks; i++) {
        int64_t w;
        if (!vs_json_int64(vs_json_at(boc, (size_t)i), &w) || w < 1 || w > 65536 || w % c->groups)
            return vs_fail(VS_ERR_FORMAT, "VAE config: block_out_channels[%d] must be a positive multiple of "
                           "norm_num_groups %d", i, c->groups);
        c->block_out_channels[i] = (int)w;
    }
    static const char *const types[2][2] = {{"down_block_types", "CogVideoXDownBlock3D"},
                                            {"up_block_types", "CogVideoXUpBlock3D"}};
    for (int t = 0; t < 2; t++) {
        const vs_json *a = vs_json_get(root, types[t][0]);
        if (!a) continue;
        if (vs_json_typeof(a) != VS_JSON_ARRAY || (int)vs_json_size(a) != c->num_blocks)
            return vs_fail(VS_ERR_FORMAT, "VAE config: \"%s\" must list %d blocks", types[t][0], c->num_blocks);
        for (size_t i = 0; i < vs_json_size(a); i++) {
            const char *name = vs_json_string(vs_json_at(a, i), NULL);
            if (!name || strcmp(name, types[t][1]))
                return vs_fail(VS_ERR_UNSUPPORTED, "VAE config: %s[%zu] is not %s", types[t][0], i, types[t][1]);
        }
    }
    return VS_OK;
}

vs_status vs_cogvideox_vae_read_config(const char *dir, vs_cogvideox_vae_config *cfg) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
        return vs_fail(VS_ERR_INVALID_ARG, "VAE folder path too long");
    memset(cfg, 0, sizeof *cfg);
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, path));
    vs_status s = parse_config(vs_json_root(doc), cfg);
    vs_json_free(doc);
    return s;
}

vs_status vs_cogvideox_vae_load(vs_cogvideox_vae **out, const char *dir, vs_device device) {
    *out = NULL;
    VS_TRY(check_device(device));
    vs_cogvideox_vae *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "out of memory loading the VAE");
    vs_safetensors *st = NULL;
    vs_status s = vs_cogvideox_vae_read_config(dir, &m->cfg);
    if (s == VS_OK) s = vs_safetensors_open(&st, dir);
    if (s == VS_OK) s = build(m, st, 0, device);
    vs_safetensors_close(st);
    if (s != VS_OK) {
        vs_cogvideox_vae_free(m);
        return vs_fail_context(s, "loading the CogVideoX VAE from %s", dir);
    }
    *out = m;
    return VS_OK;
}

vs_status vs_cogvideox_vae_random(vs_cogvideox_vae **out, vs_device device, uint64_t seed) {
    *out = NULL;
    VS_TRY(check_device(device));
    vs_cogvideox_vae *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "out of memory making the VAE");
    m->cfg = v15_config;
    vs_status s = build(m, NULL, seed, device);
    if (s != VS_OK) {
        vs_cogvideox_vae_free(m);
        return vs_fail_context(s, "random CogVideoX VAE");
    }
    *out = m;
    return VS_OK;
}

/* Bytes of a convolution as vs_cogvideox_vae_cuda_upload stores it: BF16 filters and F32 biases, channels
 * padded to multiples of 8. */
static size_t conv_bytes(int cin, int cout, int taps) {
    const size_t ci = (size_t)(cin + 7) / 8 * 8, co = (size_t)(cout + 7) / 8 * 8;
    return ci * co * (size_t)taps * 2 + co * 4;
}

/* A resnet's weights; zq > 0: spatial norms on zq latent channels. */
static size_t resnet_bytes(int cin, int cout, int zq) {
    const size_t norms = (size_t)(cin + cout) * 8 + (zq ? 2 * (conv_bytes(zq, cin, 1) + conv_bytes(zq, cout, 1)) : 0);
    return norms + conv_bytes(cin, cout, 27) + conv_bytes(cout, cout, 27) + (cin != cout ? conv_bytes(cin, cout, 1) : 0);
}

static void estimate(const vs_cogvideox_vae_config *c, int64_t latent_pixels, size_t *weights, size_t *work) {
    const int nb = c->num_blocks, widest = c->block_out_channels[nb - 1], zq = c->latent_channels;
    int time_levels = 0;
    while ((1 << (time_levels + 1)) <= c->temporal_compression) time_levels++;
    /* weights: the encoder, then the decoder */
    size_t w = conv_bytes(c->in_channels, c->block_out_channels[0], 27) + 2 * resnet_bytes(widest, widest, 0) +
               (size_t)widest * 8 + conv_bytes(widest, 2 * zq, 27);
    for (int i = 0, ch = c->block_out_channels[0]; i < nb; i++) {
        const int out = c->block_out_channels[i];
        for (int j = 0; j < c->layers_per_block; j++) w += resnet_bytes(j ? out : ch, out, 0);
        if (i < nb - 1) w += conv_bytes(out, out, 9);
        ch = out;
    }
    w += conv_bytes(zq, widest, 27) + 2 * resnet_bytes(widest, widest, zq);
    /* the decoder's activations per latent pixel: history is channels x pixels of one frame over the causal
     * convolutions' inputs (each keeps two frames), largest the channels x pixels x frames of the biggest
     * buffer of a 3-latent-frame batch (a convolution's input with its history in front) */
    int64_t history = (zq + 7) / 8 * 8 + 2 * (2 * widest), largest = 0, scale = 1, frames = 3;
    for (int i = 0, ch = widest; i < nb; i++) {
        const int out = c->block_out_channels[nb - 1 - i];
        for (int j = 0; j <= c->layers_per_block; j++) {
            const int rin = j ? out : ch;
            w += resnet_bytes(rin, out, zq);
            history += (rin + out) * scale * scale;
            if (rin * scale * scale * (frames + 2) > largest) largest = rin * scale * scale * (frames + 2);
        }
        ch = out;
        if (i == nb - 1) break;
        w += conv_bytes(out, out, 9);
        if (i < time_levels) frames = 1 + 2 * (frames - 1);
        scale *= 2;
    }
    const int first = c->block_out_channels[0];
    w += (size_t)first * 8 + 2 * conv_bytes(zq, first, 1) + conv_bytes(first, c->out_channels, 27);
    history += first * scale * scale; /* conv_out */
    *weights = w;
    *work = (size_t)((2 * history + 6 * largest) * 2 + (int64_t)frames * c->out_channels * scale * scale * 4) *
            (size_t)latent_pixels;
}

vs_status vs_cogvideox_vae_estimate(const char *dir, int latent_height, int latent_width, size_t *weights,
                                    size_t *work) {
    vs_cogvideox_vae_config c = v15_config;
    if (dir) VS_TRY(vs_cogvideox_vae_read_config(dir, &c));
    estimate(&c, (int64_t)latent_height * latent_width, weights, work);
    return VS_OK;
}

vs_cogvideox_vae_memory vs_cogvideox_vae_device_memory(const vs_cogvideox_vae *vae) { return vae->memory; }

const vs_cogvideox_vae_config *vs_cogvideox_vae_get_config(const vs_cogvideox_vae *vae) { return &vae->cfg; }
int vs_cogvideox_vae_spatial_ratio(const vs_cogvideox_vae *vae) { return 1 << (vae->cfg.num_blocks - 1); }

int vs_cogvideox_vae_frames_for(const vs_cogvideox_vae *vae, int latent_frames) {
    const int r = vae->cfg.temporal_compression;
    return latent_frames % 2 ? 1 + r * (latent_frames - 1) : r * latent_frames;
}

vs_cogvideox_vae_tiling vs_cogvideox_vae_default_tiling(const vs_cogvideox_vae *vae) {
    vs_cogvideox_vae_tiling t = {1, vae->cfg.sample_height / 2, vae->cfg.sample_width / 2, 1.0 / 6, 1.0 / 5};
    return t;
}

/* ---- activations and the layers -------------------------------------------------- */

/* t frames of [c][h][w], frame-major. */
typedef struct {
    int t, c, h, w;
    float *d;
} act;

static size_t frame_size(const act *x) { return (size_t)x->c * (size_t)x->h * (size_t)x->w; }
static size_t act_size(const act *x) { return (size_t)x->t * frame_size(x); }

static vs_status act_new(act *x, int t, int c, int h, int w) {
    x->t = t, x->c = c, x->h = h, x->w = w;
    x->d = malloc(act_size(x) * sizeof(float));
    if (!x->d) return vs_fail(VS_ERR_OOM, "out of memory for VAE activations [%d, %d, %d, %d]", t, c, h, w);
    return VS_OK;
}

/* The causal caches of one run of frame batches: each 3-tap convolution's last two input frames. */
typedef struct {
    float **frames; /* [n_slots]: 2 frames each, NULL before the first batch */
    int n_slots;
} caches;

/* y[f] = bias + sum over dt of conv2d(frames[f + dt], weight[:, :, dt]) for f < t, "same" zero padding. */
static vs_status conv_run(const conv *c, const float *frames, int t, int h, int w, float *y) {
    const vs_tensor *taps[VS_OP_MAX_TENSORS];
    vs_tensor tap[3];
    for (int dt = 0; dt < c->kt; dt++) {
        tap[dt] = vs_tensor_view((void *)(frames + (size_t)dt * c->cin * h * w), VS_F32, VS_CPU, 4,
                                 (int64_t[]){t, c->cin, h, w});
        taps[dt] = &tap[dt];
    }
    vs_tensor out = vs_tensor_view(y, VS_F32, VS_CPU, 4, (int64_t[]){t, c->cout, h, w});
    vs_tensor weight = vs_tensor_view(c->weight.data, VS_F32, VS_CPU, 5, (int64_t[]){c->cout, c->cin, c->kt, c->k, c->k});
    return vs_op_conv_frames(&out, taps, c->kt, &weight, &c->bias);
}

/* CogVideoXCausalConv3d: the input is preceded in time by the cached last two frames of the previous
 * batch's input, or on the first batch by two copies of its first frame. */
static vs_status causal_conv(const conv *c, caches *cc, const act *x, act *y) {
    const size_t fs = frame_size(x);
    VS_TRY(act_new(y, x->t, c->cout, x->h, x->w));
    if (c->kt == 1) return conv_run(c, x->d, x->t, x->h, x->w, y->d);
    const int pad = c->kt - 1;
    float *in = malloc((size_t)(x->t + pad) * fs * sizeof(float));
    if (!in) return vs_fail(VS_ERR_OOM, "out of memory for a VAE convolution");
    float **cache = &cc->frames[c->slot];
    for (int i = 0; i < pad; i++) memcpy(in + i * fs, *cache ? *cache + i * fs : x->d, fs * sizeof(float));
    memcpy(in + pad * fs, x->d, act_size(x) * sizeof(float));
    vs_status s = conv_run(c, in, x->t, x->h, x->w, y->d);
    if (s == VS_OK && !*cache && !(*cache = malloc((size_t)pad * fs * sizeof(float))))
        s = vs_fail(VS_ERR_OOM, "out of memory for a VAE cache");
    if (s == VS_OK) memcpy(*cache, in + (size_t)x->t * fs, (size_t)pad * fs * sizeof(float));
    free(in);
    return s;
}

/* GroupNorm over each group's channels of all t frames (statistics in double), then the affine. */
static void group_norm(const norm *n, int groups, act *x) {
    const int cg = x->c / groups;
    const size_t hw = (size_t)x->h * x->w, fs = frame_size(x);
    const float *wt = n->weight.data, *b = n->bias.data;
    for (int g = 0; g < groups; g++) {
        double sum = 0, sq = 0;
        for (int f = 0; f < x->t; f++)
            for (size_t i = 0; i < cg * hw; i++) {
                double v = x->d[f * fs + (size_t)g * cg * hw + i];
                sum += v, sq += v * v;
            }
        const double count = (double)x->t * cg * hw, mean = sum / count;
        const double var = sq / count - mean * mean;
        const float inv = (float)(1.0 / sqrt((var > 0 ? var : 0) + n->eps)), m = (float)mean;
        for (int f = 0; f < x->t; f++)
            for (int c = g * cg; c < (g + 1) * cg; c++) {
                float *p = x->d + f * fs + c * hw;
                for (size_t i = 0; i < hw; i++) p[i] = (p[i] - m) * inv * wt[c] + b[c];
            }
    }
}

static void silu(act *x) {
    const size_t n = act_size(x);
    for (size_t i = 0; i < n; i++) x->d[i] = x->d[i] / (1.0f + expf(-x->d[i]));
}

/* PyTorch's nearest index for output i of an in -> out resize (scale in / out in f32). */
static int nearest(int i, int in, int out) {
    int s = (int)floorf((float)i * ((float)in / (float)out));
    return s < in - 1 ? s : in - 1;
}

/* CogVideoXSpatialNorm3D: group_norm(f) * conv_y(zq) + conv_b(zq), zq the latents resized to f's frames
 * and pixels by nearest neighbour, the first latent frame onto the first frame alone when f has an odd
 * number of frames above 1. The 1x1 convolutions commute with the resize, so they run on the latents. */
static vs_status spatial_norm(const norm *n, int groups, act *f, const act *zq) {
    act y = {0}, b = {0};
    vs_status s = act_new(&y, zq->t, f->c, zq->h, zq->w);
    if (s == VS_OK) s = act_new(&b, zq->t, f->c, zq->h, zq->w);
    if (s == VS_OK) s = conv_run(&n->conv_y, zq->d, zq->t, zq->h, zq->w, y.d);
    if (s == VS_OK) s = conv_run(&n->conv_b, zq->d, zq->t, zq->h, zq->w, b.d);
    if (s == VS_OK) {
        group_norm(n, groups, f);
        const int split = f->t > 1 && f->t % 2 == 1 && zq->t > 1;
        const size_t hw = (size_t)f->h * f->w, zhw = (size_t)zq->h * zq->w;
        for (int t = 0; t < f->t; t++) {
            const int zt = split ? (t == 0 ? 0 : 1 + nearest(t - 1, zq->t - 1, f->t - 1)) : nearest(t, zq->t, f->t);
            for (int c = 0; c < f->c; c++) {
                float *p = f->d + (size_t)t * frame_size(f) + c * hw;
                const float *py = y.d + ((size_t)zt * f->c + c) * zhw, *pb = b.d + ((size_t)zt * f->c + c) * zhw;
                for (int i = 0; i < f->h; i++) {
                    const int zi = nearest(i, zq->h, f->h);
                    for (int j = 0; j < f->w; j++) {
                        const int zj = nearest(j, zq->w, f->w);
                        p[i * f->w + j] = p[i * f->w + j] * py[zi * zq->w + zj] + pb[zi * zq->w + zj];
                    }
                }
            }
        }
    }
    free(y.d);
    free(b.d);
    return s;
}

static vs_status apply_norm(const norm *n, int groups, act *x, const act *zq) {
    if (n->spatial) return spatial_norm(n, groups, x, zq);
    group_norm(n, groups, x);
    return VS_OK;
}

/* CogVideoXResnetBlock3D: x + conv2(silu(norm2(conv1(silu(norm1(x)))))), the shortcut 1x1 when the width changes. */
static vs_status resnet_run(const resnet *r, int groups, caches *cc, act *x, const act *zq) {
    act h = {0}, h1 = {0}, h2 = {0}, sc = {0};
    vs_status s = act_new(&h, x->t, x->c, x->h, x->w);
    if (s == VS_OK) {
        memcpy(h.d, x->d, act_size(x) * sizeof(float));
        s = apply_norm(&r->norm1, groups, &h, zq);
    }
    if (s == VS_OK) silu(&h), s = causal_conv(&r->conv1, cc, &h, &h1);
    if (s == VS_OK) s = apply_norm(&r->norm2, groups, &h1, zq);
    if (s == VS_OK) silu(&h1), s = causal_conv(&r->conv2, cc, &h1, &h2);
    if (s == VS_OK && r->has_shortcut) s = causal_conv(&r->shortcut, cc, x, &sc);
    if (s == VS_OK) {
        const float *res = r->has_shortcut ? sc.d : x->d;
        for (size_t i = 0; i < act_size(&h2); i++) h2.d[i] += res[i];
        free(x->d);
        *x = h2;
        h2.d = NULL;
    }
    free(h.d);
    free(h1.d);
    free(h2.d);
    free(sc.d);
    return s;
}

/* CogVideoXUpsample3D: nearest 2x in space; with compress_time also in time, the first frame of an odd
 * count above 1 alone (t -> 1 + 2 (t - 1)), an even count doubled (t -> 2t); then the 3x3 Conv2d. */
static vs_status upsample(const block *b, act *x) {
    const int time = b->compress_time && x->t > 1;
    const int t2 = !time ? x->t : x->t % 2 ? 1 + 2 * (x->t - 1) : 2 * x->t;
    act up = {0}, y = {0};
    VS_TRY(act_new(&up, t2, x->c, 2 * x->h, 2 * x->w));
    for (int t = 0; t < t2; t++) {
        const int src = !time ? t : x->t % 2 ? (t == 0 ? 0 : 1 + (t - 1) / 2) : t / 2;
        for (int c = 0; c < x->c; c++) {
            const float *in = x->d + (size_t)src * frame_size(x) + (size_t)c * x->h * x->w;
            float *o = up.d + (size_t)t * frame_size(&up) + (size_t)c * up.h * up.w;
            for (int i = 0; i < up.h; i++)
                for (int j = 0; j < up.w; j++) o[i * up.w + j] = in[(i / 2) * x->w + j / 2];
        }
    }
    vs_status s = act_new(&y, t2, b->sampler.cout, up.h, up.w);
    if (s == VS_OK) s = conv_run(&b->sampler, up.d, t2, up.h, up.w, y.d);
    free(up.d);
    if (s != VS_OK) return free(y.d), s;
    free(x->d);
    *x = y;
    return VS_OK;
}

/* CogVideoXDownsample3D: with compress_time, frames averaged in pairs (the first of an odd count kept
 * alone); then the 3x3 Conv2d of stride 2 on the picture zero-padded by one pixel at the bottom and
 * right, which is the stride-1 "same" convolution read at the odd pixels. */
static vs_status downsample(const block *b, act *x) {
    if (x->h < 2 || x->w < 2)
        return vs_fail(VS_ERR_SHAPE, "VAE encoder: a %dx%d picture is too small to downsample", x->h, x->w);
    if (b->compress_time && x->t > 1) {
        const int keep = x->t % 2, t2 = keep + (x->t - keep) / 2;
        const size_t fs = frame_size(x);
        for (int t = keep; t < t2; t++) {
            const float *a = x->d + (size_t)(keep + 2 * (t - keep)) * fs, *c = a + fs;
            float *o = x->d + (size_t)t * fs;
            for (size_t i = 0; i < fs; i++) o[i] = (a[i] + c[i]) / 2;
        }
        x->t = t2;
    }
    const int h2 = (x->h - 2) / 2 + 1, w2 = (x->w - 2) / 2 + 1;
    act full = {0}, y = {0};
    vs_status s = act_new(&full, x->t, b->sampler.cout, x->h, x->w);
    if (s == VS_OK) s = conv_run(&b->sampler, x->d, x->t, x->h, x->w, full.d);
    if (s == VS_OK) s = act_new(&y, x->t, b->sampler.cout, h2, w2);
    if (s == VS_OK)
        for (int t = 0; t < x->t; t++)
            for (int c = 0; c < y.c; c++) {
                const float *in = full.d + (size_t)t * frame_size(&full) + (size_t)c * full.h * full.w;
                float *o = y.d + (size_t)t * frame_size(&y) + (size_t)c * h2 * w2;
                for (int i = 0; i < h2; i++)
                    for (int j = 0; j < w2; j++) o[i * w2 + j] = in[(2 * i + 1) * full.w + 2 * j + 1];
            }
    free(full.d);
    if (s != VS_OK) return free(y.d), s;
    free(x->d);
    *x = y;
    return VS_OK;
}

/* One frame batch through the decoder (zq = the batch's latents) or the encoder (zq NULL); x is replaced. */
static vs_status coder_run(const vs_cogvideox_vae *vae, const coder *m, int decoder, caches *cc, act *x) {
    const int groups = vae->cfg.groups, nb = vae->cfg.num_blocks;
    const act *zq = decoder ? x : NULL;
    act h = {0};
    VS_TRY(causal_conv(&m->conv_in, cc, x, &h));
    vs_status s = VS_OK;
    for (int j = 0; decoder && j < 2 && s == VS_OK; j++) s = resnet_run(&m->mid[j], groups, cc, &h, zq);
    for (int i = 0; i < nb && s == VS_OK; i++) {
        const block *b = &m->blocks[i];
        for (int j = 0; j < b->n_resnets && s == VS_OK; j++) s = resnet_run(&b->resnets[j], groups, cc, &h, zq);
        if (s == VS_OK && b->resample) s = decoder ? upsample(b, &h) : downsample(b, &h);
    }
    for (int j = 0; !decoder && j < 2 && s == VS_OK; j++) s = resnet_run(&m->mid[j], groups, cc, &h, NULL);
    if (s == VS_OK) s = apply_norm(&m->norm_out, groups, &h, zq);
    act y = {0};
    if (s == VS_OK) silu(&h), s = causal_conv(&m->conv_out, cc, &h, &y);
    free(h.d);
    if (s != VS_OK) return free(y.d), s;
    free(x->d);
    *x = y;
    return VS_OK;
}

/* diffusers' frame batches of `batch` frames over t: batch k covers [start, end), the remainder
 * (t % batch) joining the first; fewer than `batch` frames make one batch. */
static int batch_count(int t, int batch) { return t / batch > 1 ? t / batch : 1; }
static void batch_range(int t, int batch, int k, int *start, int *end) {
    const int rem = t % batch;
    *start = batch * k + (k ? rem : 0);
    *end = batch * (k + 1) + rem;
    if (*end > t) *end = t;
}

/* All frame batches of one tile's frames x (frame-major) through one coder with fresh caches; *out gets
 * the concatenated output frames. */
static vs_status coder_batches(const vs_cogvideox_vae *vae, int decoder, const act *x, act *out) {
    const coder *m = decoder ? &vae->dec : &vae->enc;
    const int batch = decoder ? 2 : 8, nb = batch_count(x->t, batch);
    caches cc = {calloc((size_t)m->n_slots, sizeof(float *)), m->n_slots};
    if (!cc.frames) return vs_fail(VS_ERR_OOM, "out of memory for the VAE caches");
    act acc = {0};
    vs_status s = VS_OK;
    for (int k = 0; k < nb && s == VS_OK; k++) {
        int start, end;
        batch_range(x->t, batch, k, &start, &end);
        act b = {0};
        s = act_new(&b, end - start, x->c, x->h, x->w);
        if (s == VS_OK) memcpy(b.d, x->d + (size_t)start * frame_size(x), act_size(&b) * sizeof(float));
        if (s == VS_OK) s = coder_run(vae, m, decoder, &cc, &b);
        if (s == VS_OK) { /* append */
            const int t0 = acc.d ? acc.t : 0;
            float *grown = realloc(acc.d, ((size_t)t0 + b.t) * frame_size(&b) * sizeof(float));
            if (!grown) s = vs_fail(VS_ERR_OOM, "out of memory for VAE output frames");
            else {
                memcpy(grown + (size_t)t0 * frame_size(&b), b.d, act_size(&b) * sizeof(float));
                acc = (act){t0 + b.t, b.c, b.h, b.w, grown};
            }
        }
        free(b.d);
    }
    for (int i = 0; i < cc.n_slots; i++) free(cc.frames[i]);
    free(cc.frames);
    if (s != VS_OK) return free(acc.d), s;
    *out = acc;
    return VS_OK;
}

/* The tile of src at rows y0.., columns x0.. (th x tw pixels, all frames) through one coder, on the GPU for
 * a model on VS_CUDA (vs_cogvideox_vae_cuda_run casts away const to keep its buffers and statistics). */
static vs_status coder_tile(const vs_cogvideox_vae *vae, int decoder, const act *src, int y0, int x0, int th, int tw,
                            act *out) {
    act x = {0};
    VS_TRY(act_new(&x, src->t, src->c, th, tw));
    for (int t = 0; t < src->t; t++)
        for (int c = 0; c < src->c; c++)
            for (int i = 0; i < th; i++)
                memcpy(x.d + (((size_t)t * src->c + c) * th + i) * tw,
                       src->d + (((size_t)t * src->c + c) * src->h + y0 + i) * src->w + x0, (size_t)tw * sizeof(float));
    vs_status s;
#if VS_HAVE_CUDA
    if (vae->device == VS_CUDA) {
        int dims[4];
        s = vs_cogvideox_vae_cuda_run((vs_cogvideox_vae *)vae, decoder, x.d, x.t, th, tw, &out->d, dims);
        if (s == VS_OK) out->t = dims[0], out->c = dims[1], out->h = dims[2], out->w = dims[3];
        free(x.d);
        return s;
    }
#endif
    s = coder_batches(vae, decoder, &x, out);
    free(x.d);
    return s;
}

/* diffusers' tiled_decode / tiled_encode: tiles of `tile` input pixels every `stride`, each run through
 * all frames; in output space each tile blends into the one above and the one to its left (already
 * blended, as diffusers blends in place in row-major order) over `blend` pixels, keeps its first
 * `limit` rows and columns, and the kept parts are laid side by side. */
typedef struct {
    int tile_h, tile_w, stride_h, stride_w, blend_h, blend_w, limit_h, limit_w;
} tiling_plan;

/* act as the shared tiling code's frames (the same layout). */
static vs_frames frames_view(const act *a) { return (vs_frames){a->d, a->t, a->c, a->h, a->w}; }

static vs_status run_tiled(const vs_cogvideox_vae *vae, int decoder, const act *src, const tiling_plan *p, act *out) {
    const int rows = (src->h + p->stride_h - 1) / p->stride_h, cols = (src->w + p->stride_w - 1) / p->stride_w;
    act *tiles = calloc((size_t)rows * cols, sizeof *tiles);
    if (!tiles) return vs_fail(VS_ERR_OOM, "out of memory for VAE tiles");
    vs_status s = VS_OK;
    for (int i = 0; i < rows && s == VS_OK; i++)
        for (int j = 0; j < cols && s == VS_OK; j++) {
            const int y0 = i * p->stride_h, x0 = j * p->stride_w;
            const int th = src->h - y0 < p->tile_h ? src->h - y0 : p->tile_h;
            const int tw = src->w - x0 < p->tile_w ? src->w - x0 : p->tile_w;
            s = coder_tile(vae, decoder, src, y0, x0, th, tw, &tiles[i * cols + j]);
            vs_frames here = frames_view(&tiles[i * cols + j]);
            if (s == VS_OK && i > 0) {
                const vs_frames above = frames_view(&tiles[(i - 1) * cols + j]);
                vs_frames_blend_rows(&above, &here, p->blend_h);
            }
            if (s == VS_OK && j > 0) {
                const vs_frames left = frames_view(&tiles[i * cols + j - 1]);
                vs_frames_blend_cols(&left, &here, p->blend_w);
            }
        }
    if (s == VS_OK) {
        int h = 0, w = 0;
        for (int i = 0; i < rows; i++) h += tiles[i * cols].h < p->limit_h ? tiles[i * cols].h : p->limit_h;
        for (int j = 0; j < cols; j++) w += tiles[j].w < p->limit_w ? tiles[j].w : p->limit_w;
        s = act_new(out, tiles[0].t, tiles[0].c, h, w);
        for (int i = 0, y = 0; s == VS_OK && i < rows; i++) {
            int kh = 0;
            for (int j = 0, x = 0; j < cols; j++) {
                const act *a = &tiles[i * cols + j];
                kh = a->h < p->limit_h ? a->h : p->limit_h;
                const int kw = a->w < p->limit_w ? a->w : p->limit_w;
                for (int t = 0; t < a->t; t++)
                    for (int c = 0; c < a->c; c++)
                        for (int r = 0; r < kh; r++)
                            memcpy(out->d + (((size_t)t * out->c + c) * h + y + r) * w + x,
                                   a->d + (((size_t)t * a->c + c) * a->h + r) * a->w, (size_t)kw * sizeof(float));
                x += kw;
            }
            y += kh;
        }
    }
    for (int i = 0; i < rows * cols; i++) free(tiles[i].d);
    free(tiles);
    return s;
}

/* Runs a coder on the whole picture or, when tiling applies, tile by tile (diffusers' sizes: the tile
 * in input pixels, the overlap in input pixels, the blend and the kept part in output pixels). */
static vs_status run(const vs_cogvideox_vae *vae, int decoder, const act *src, const vs_cogvideox_vae_tiling *tiling,
                     act *out) {
    const int r = vs_cogvideox_vae_spatial_ratio(vae);
    if (tiling && tiling->enabled) {
        if (tiling->tile_height < r || tiling->tile_width < r || !(tiling->overlap_height >= 0 && tiling->overlap_height < 1) ||
            !(tiling->overlap_width >= 0 && tiling->overlap_width < 1))
            return vs_fail(VS_ERR_INVALID_ARG, "VAE tiling: tiles of at least %d pixels, overlaps in [0, 1)", r);
        const int sample_h = tiling->tile_height, sample_w = tiling->tile_width;
        const int latent_h = (int)(sample_h / (double)r), latent_w = (int)(sample_w / (double)r);
        const int in_h = decoder ? latent_h : sample_h, in_w = decoder ? latent_w : sample_w;
        const int out_h = decoder ? sample_h : latent_h, out_w = decoder ? sample_w : latent_w;
        if (src->w > in_w || src->h > in_h) {
            tiling_plan p;
            p.tile_h = in_h, p.tile_w = in_w;
            p.stride_h = (int)(in_h * (1 - tiling->overlap_height));
            p.stride_w = (int)(in_w * (1 - tiling->overlap_width));
            p.blend_h = (int)(out_h * tiling->overlap_height);
            p.blend_w = (int)(out_w * tiling->overlap_width);
            p.limit_h = out_h - p.blend_h, p.limit_w = out_w - p.blend_w;
            if (p.stride_h < 1 || p.stride_w < 1)
                return vs_fail(VS_ERR_INVALID_ARG, "VAE tiling: %dx%d tiles overlapping that much never advance", in_h, in_w);
            return run_tiled(vae, decoder, src, &p, out);
        }
    }
    return coder_tile(vae, decoder, src, 0, 0, src->h, src->w, out);
}

/* ---- decode and encode ------------------------------------------------------------ */

static int is_host_f32(const vs_tensor *t) {
    return t && t->data && t->dtype == VS_F32 && t->device == VS_CPU && vs_tensor_is_contiguous(t);
}

vs_status vs_cogvideox_vae_decode(const vs_cogvideox_vae *vae, const vs_tensor *latents,
                                  const vs_cogvideox_vae_tiling *tiling, vs_tensor *video) {
    memset(video, 0, sizeof *video);
    const int C = vae->cfg.latent_channels;
    const int lead = latents && latents->ndim == 5;
    if (!is_host_f32(latents) || (latents->ndim != 4 && !(lead && latents->shape[0] == 1)) || latents->shape[lead] != C)
        return vs_fail(VS_ERR_SHAPE, "VAE decode: latents must be contiguous f32 host [1, %d, F, h, w] or [%d, F, h, w]",
                       C, C);
    const int64_t F = latents->shape[lead + 1], h = latents->shape[lead + 2], w = latents->shape[lead + 3];
    const int r = vs_cogvideox_vae_spatial_ratio(vae);
    if (F < 1 || h < 1 || w < 1 || F > 4096 || h * r > 16384 || w * r > 16384)
        return vs_fail(VS_ERR_SHAPE, "VAE decode: latents of %lld frames of %lldx%lld are out of range", (long long)F,
                       (long long)h, (long long)w);
    act z = {0}, out = {0};
    VS_TRY(act_new(&z, (int)F, C, (int)h, (int)w));
    /* [C][F][h][w] -> frame-major, divided by the scaling factor. */
    const float *src = latents->data;
    const float inv = (float)(1.0 / vae->cfg.scaling_factor);
    const size_t hw = (size_t)h * w;
    for (int c = 0; c < C; c++)
        for (int f = 0; f < F; f++)
            for (size_t i = 0; i < hw; i++) z.d[((size_t)f * C + c) * hw + i] = src[((size_t)c * F + f) * hw + i] * inv;
    vs_status s = run(vae, 1, &z, tiling, &out);
    free(z.d);
    if (s != VS_OK) return vs_fail_context(s, "decoding %lld latent frames of %lldx%lld", (long long)F, (long long)h,
                                           (long long)w);
    for (size_t i = 0; i < act_size(&out); i++) out.d[i] = fminf(1.0f, fmaxf(-1.0f, out.d[i]));
    int64_t shape[4] = {out.t, out.c, out.h, out.w};
    *video = vs_tensor_view(out.d, VS_F32, VS_CPU, 4, shape);
    video->owned = 1;
    return VS_OK;
}

vs_status vs_cogvideox_vae_encode(const vs_cogvideox_vae *vae, const vs_tensor *frames,
                                  const vs_cogvideox_vae_tiling *tiling, vs_tensor *mean, vs_tensor *logvar) {
    memset(mean, 0, sizeof *mean);
    memset(logvar, 0, sizeof *logvar);
    const int cin = vae->cfg.in_channels, C = vae->cfg.latent_channels, r = vs_cogvideox_vae_spatial_ratio(vae);
    if (!is_host_f32(frames) || frames->ndim != 4 || frames->shape[1] != cin)
        return vs_fail(VS_ERR_SHAPE, "VAE encode: frames must be contiguous f32 host [T, %d, H, W]", cin);
    const int64_t T = frames->shape[0], H = frames->shape[2], W = frames->shape[3];
    if (T < 1 || T > 16384 || H < 2 * r || W < 2 * r || H > 16384 || W > 16384)
        return vs_fail(VS_ERR_SHAPE, "VAE encode: %lld frames of %lldx%lld (at least %dx%d pixels)", (long long)T,
                       (long long)H, (long long)W, 2 * r, 2 * r);
    act x = {(int)T, cin, (int)H, (int)W, frames->data}, out = {0};
    vs_status s = run(vae, 0, &x, tiling, &out);
    if (s != VS_OK) return vs_fail_context(s, "encoding %lld frames of %lldx%lld", (long long)T, (long long)H, (long long)W);
    /* frame-major [F][2C][h][w] -> mean, logvar [1, C, F, h, w] */
    int64_t shape[5] = {1, C, out.t, out.h, out.w};
    s = vs_tensor_alloc(mean, VS_F32, VS_CPU, 5, shape);
    if (s == VS_OK) s = vs_tensor_alloc(logvar, VS_F32, VS_CPU, 5, shape);
    if (s == VS_OK) {
        const size_t hw = (size_t)out.h * out.w;
        float *pm = mean->data, *pl = logvar->data;
        for (int c = 0; c < C; c++)
            for (int f = 0; f < out.t; f++)
                for (size_t i = 0; i < hw; i++) {
                    const size_t dst = ((size_t)c * out.t + f) * hw + i;
                    pm[dst] = out.d[((size_t)f * 2 * C + c) * hw + i];
                    pl[dst] = fminf(20.0f, fmaxf(-30.0f, out.d[((size_t)f * 2 * C + C + c) * hw + i]));
                }
    } else {
        vs_tensor_free(mean);
    }
    free(out.d);
    return s;
}

vs_status vs_cogvideox_vae_sample(const vs_tensor *mean, const vs_tensor *logvar, const vs_tensor *noise,
                                  vs_tensor *latent) {
    memset(latent, 0, sizeof *latent);
    const int64_t n = vs_tensor_numel(mean);
    if (!is_host_f32(mean) || !is_host_f32(logvar) || !is_host_f32(noise) || vs_tensor_numel(logvar) != n ||
        vs_tensor_numel(noise) != n)
        return vs_fail(VS_ERR_SHAPE, "VAE sample: mean, logvar and noise must be f32 host tensors of one size");
    VS_TRY(vs_tensor_alloc(latent, VS_F32, VS_CPU, mean->ndim, mean->shape));
    const float *m = mean->data, *l = logvar->data, *e = noise->data;
    float *o = latent->data;
    for (int64_t i = 0; i < n; i++) o[i] = m[i] + expf(0.5f * l[i]) * e[i];
    return VS_OK;
}

vs_status vs_cogvideox_vae_image_condition(const vs_cogvideox_vae *vae, const vs_tensor *pixels, const vs_tensor *noise,
                                           int latent_frames, int patch_t, const vs_cogvideox_vae_tiling *tiling,
                                           vs_tensor *out) {
    memset(out, 0, sizeof *out);
    if (!is_host_f32(pixels) || pixels->ndim != 3 || pixels->shape[0] != vae->cfg.in_channels)
        return vs_fail(VS_ERR_SHAPE, "image condition: pixels must be f32 host [%d, H, W]", vae->cfg.in_channels);
    if (latent_frames < 1 || latent_frames > 4096 || patch_t < 0 || patch_t > 16)
        return vs_fail(VS_ERR_INVALID_ARG, "image condition: %d latent frames, patch_t %d", latent_frames, patch_t);
    /* one frame [1, C, H, W]: the encoder's frame-major layout already */
    vs_tensor frame = vs_tensor_view(pixels->data, VS_F32, VS_CPU, 4,
                                     (int64_t[]){1, pixels->shape[0], pixels->shape[1], pixels->shape[2]});
    vs_tensor mean = {0}, logvar = {0}, latent = {0};
    vs_status s = vs_cogvideox_vae_encode(vae, &frame, tiling, &mean, &logvar);
    if (s == VS_OK) s = vs_cogvideox_vae_sample(&mean, &logvar, noise, &latent);
    const int lead = patch_t > 1 ? latent_frames % patch_t : 0, F = latent_frames + lead;
    if (s == VS_OK) s = vs_tensor_alloc(out, VS_F32, VS_CPU, 5, (int64_t[]){1, mean.shape[1], F, mean.shape[3], mean.shape[4]});
    if (s == VS_OK) {
        /* diffusers multiplies by the f32 rounding of sf or of 1 / sf */
        const float scale = (float)(vae->cfg.invert_scale_latents ? 1.0 / vae->cfg.scaling_factor : vae->cfg.scaling_factor);
        const int64_t C = mean.shape[1], hw = mean.shape[3] * mean.shape[4];
        const float *z = latent.data;
        float *o = out->data;
        memset(o, 0, (size_t)vs_tensor_numel(out) * sizeof(float));
        /* [first `lead` frames of (image, zeros...)] + (image, zeros...): the image at frames 0 and lead */
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < hw; i++) o[(c * F + lead) * hw + i] = o[c * F * hw + i] = z[c * hw + i] * scale;
    }
    vs_tensor_free(&mean);
    vs_tensor_free(&logvar);
    vs_tensor_free(&latent);
    return s;
}
