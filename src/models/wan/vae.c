/* Wan 2.1 VAE decoder: loading, the f32 CPU decode and tiling. On the CPU
 * activations are frame-major, [t][c][h][w], so a frame is one contiguous
 * [c, h, w] block: convolutions, norms and the attention work frame by frame,
 * and the causal caches are whole frames. A model on the GPU decodes each
 * (tile's) latents through vae_cuda.c instead; tiling, de-normalisation,
 * post_quant_conv and the final clamp stay here, on the host. */
#include "models/wan/vae.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "core/json.h"
#include "core/status.h"
#include "ops/ops.h"
#include "io/safetensors.h"
#include "models/common/vae_tiles.h"
#include "models/wan/vae_internal.h"

int vs_wan_vae_z_dim(const vs_wan_vae *vae) { return vae->z_dim; }
int vs_wan_vae_spatial_ratio(const vs_wan_vae *vae) { return vae->spatial_ratio; }
int vs_wan_vae_temporal_ratio(const vs_wan_vae *vae) { return vae->temporal_ratio; }
vs_device vs_wan_vae_device(const vs_wan_vae *vae) { return vae->device; }

vs_wan_vae_memory vs_wan_vae_device_memory(const vs_wan_vae *vae) {
    vs_wan_vae_memory none = {0, 0, 0, 0};
    return vae->gpu_memory ? *vae->gpu_memory : none;
}

/* ---- loading ---------------------------------------------------------------------- */

typedef struct {
    const vs_safetensors *st; /* NULL: seeded random weights (vs_wan_vae_random) */
    uint64_t seed;
    int n_slots;
    const char **used; /* names loaded so far (pointing into st) */
    size_t n_used, cap_used;
} loader;

/* Roughly torch's initialization: weights uniform in +-1/sqrt(fan_in), biases in +-0.1, norm scales 1 +- 0.1. */
static vs_status random_f32(loader *L, const char *name, int ndim, const int64_t *shape, vs_tensor *out) {
    VS_TRY(vs_tensor_alloc(out, VS_F32, VS_CPU, ndim, shape));
    const int gamma = strstr(name, ".gamma") != NULL;
    const float bound = ndim == 1 ? 0.1f : (float)(1.0 / sqrt((double)vs_tensor_numel(out) / (double)shape[0]));
    L->seed = L->seed * 6364136223846793005ull + 1442695040888963407ull;
    return vs_op_fill_uniform(out, L->seed, gamma ? 0.9f : -bound, gamma ? 1.1f : bound);
}

static vs_status load_f32(loader *L, const char *name, int ndim, const int64_t *shape, vs_tensor *out) {
    if (!L->st) return random_f32(L, name, ndim, shape, out);
    VS_TRY(vs_safetensors_load(L->st, name, VS_F32, VS_CPU, ndim, shape, out));
    if (L->n_used == L->cap_used) {
        size_t cap = L->cap_used ? 2 * L->cap_used : 256;
        const char **grown = realloc(L->used, cap * sizeof *grown);
        if (!grown) return vs_fail(VS_ERR_OOM, "out of memory loading the VAE");
        L->used = grown;
        L->cap_used = cap;
    }
    L->used[L->n_used++] = vs_safetensors_find(L->st, name)->name;
    return VS_OK;
}

/* A decoder weight the config does not account for means config and weights disagree. */
static vs_status check_all_used(const loader *L) {
    for (size_t i = 0; i < vs_safetensors_count(L->st); i++) {
        const char *name = vs_safetensors_entry(L->st, i)->name;
        if (strncmp(name, "decoder.", 8) && strncmp(name, "post_quant_conv.", 16)) continue;
        size_t j = 0;
        while (j < L->n_used && strcmp(L->used[j], name)) j++;
        if (j == L->n_used)
            return vs_fail(VS_ERR_FORMAT, "weight %s is not part of the decoder config.json describes", name);
    }
    return VS_OK;
}

/* buf = printf(fmt, ...), failing rather than truncating. */
static vs_status VS_PRINTF(3, 4) tensor_name(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) return vs_fail(VS_ERR_INVALID_ARG, "VAE tensor name too long: %s...", buf);
    return VS_OK;
}

/* prefix.weight / prefix.bias. kt = 0 loads a Conv2d [cout, cin, k, k]; else a
 * Conv3d [cout, cin, kt, k, k]. */
static vs_status load_conv(loader *L, vae_conv *cv, const char *prefix, int cin, int cout, int kt, int k) {
    char name[256];
    int64_t shape5[5] = {cout, cin, kt, k, k}, shape4[4] = {cout, cin, k, k}, bshape[1] = {cout};
    VS_TRY(tensor_name(name, sizeof name, "%s.weight", prefix));
    VS_TRY(load_f32(L, name, kt ? 5 : 4, kt ? shape5 : shape4, &cv->weight));
    VS_TRY(tensor_name(name, sizeof name, "%s.bias", prefix));
    VS_TRY(load_f32(L, name, 1, bshape, &cv->bias));
    cv->cin = cin;
    cv->cout = cout;
    cv->kt = kt ? kt : 1;
    cv->kh = cv->kw = k;
    cv->slot = cv->kt == 1 + CACHE_T ? L->n_slots++ : -1;
    return VS_OK;
}

static vs_status load_norm(loader *L, vae_norm *n, const char *prefix, int dim, int images) {
    char name[256];
    int64_t shape[4] = {dim, 1, 1, 1};
    int ndim = images ? 3 : 4;
    VS_TRY(tensor_name(name, sizeof name, "%s.gamma", prefix));
    VS_TRY(load_f32(L, name, ndim, shape, &n->gamma));
    VS_TRY(tensor_name(name, sizeof name, "%s.bias", prefix));
    if (L->st && vs_safetensors_find(L->st, name)) VS_TRY(load_f32(L, name, ndim, shape, &n->bias));
    n->dim = dim;
    return VS_OK;
}

static vs_status load_res(loader *L, vae_res *r, const char *prefix, int in, int out) {
    char name[256];
    VS_TRY(tensor_name(name, sizeof name, "%s.norm1", prefix));
    VS_TRY(load_norm(L, &r->norm1, name, in, 0));
    VS_TRY(tensor_name(name, sizeof name, "%s.conv1", prefix));
    VS_TRY(load_conv(L, &r->conv1, name, in, out, 3, 3));
    VS_TRY(tensor_name(name, sizeof name, "%s.norm2", prefix));
    VS_TRY(load_norm(L, &r->norm2, name, out, 0));
    VS_TRY(tensor_name(name, sizeof name, "%s.conv2", prefix));
    VS_TRY(load_conv(L, &r->conv2, name, out, out, 3, 3));
    r->has_shortcut = in != out;
    if (r->has_shortcut) {
        VS_TRY(tensor_name(name, sizeof name, "%s.conv_shortcut", prefix));
        VS_TRY(load_conv(L, &r->shortcut, name, in, out, 1, 1));
    }
    return VS_OK;
}

static void free_conv(vae_conv *cv) {
    vs_tensor_free(&cv->weight);
    vs_tensor_free(&cv->bias);
    vs_tensor_free(&cv->dweight);
    vs_tensor_free(&cv->dbias);
}

static void free_norm(vae_norm *n) {
    vs_tensor_free(&n->gamma);
    vs_tensor_free(&n->bias);
    vs_tensor_free(&n->dgamma);
    vs_tensor_free(&n->dbias);
}

static void free_res(vae_res *r) {
    free_norm(&r->norm1);
    free_norm(&r->norm2);
    free_conv(&r->conv1);
    free_conv(&r->conv2);
    free_conv(&r->shortcut);
}

void vs_wan_vae_free(vs_wan_vae *m) {
    if (!m) return;
    free_conv(&m->post_quant);
    free_conv(&m->conv_in);
    free_conv(&m->conv_out);
    for (int i = 0; i < 2; i++) free_res(&m->mid_res[i]);
    free_norm(&m->mid_attn.norm);
    free_conv(&m->mid_attn.to_qkv);
    free_conv(&m->mid_attn.proj);
    vs_tensor *attn[4] = {&m->mid_attn.dqkv_w, &m->mid_attn.dqkv_b, &m->mid_attn.dproj_w, &m->mid_attn.dproj_b};
    for (int i = 0; i < 4; i++) vs_tensor_free(attn[i]);
    for (int i = 0; i < MAX_LEVELS; i++) {
        for (int j = 0; j < MAX_LEVELS + 1; j++) free_res(&m->up[i].res[j]);
        free_conv(&m->up[i].resample);
        free_conv(&m->up[i].time_conv);
    }
    free_norm(&m->norm_out);
    free(m->gpu_memory);
    free(m);
}

/* The architecture numbers read from config.json. */
typedef struct {
    int64_t base_dim, z_dim, num_res_blocks, out_channels;
    int64_t dim_mult[MAX_LEVELS];
    int n_mult;
    int temporal_up[MAX_LEVELS]; /* temperal_downsample reversed */
} vae_config;

static vs_status config_int(const vs_json *root, const char *key, int64_t fallback, int64_t lo, int64_t hi,
                            int64_t *out) {
    const vs_json *v = vs_json_get(root, key);
    if (!v || vs_json_typeof(v) == VS_JSON_NULL) {
        if (fallback < 0) return vs_fail(VS_ERR_NOT_FOUND, "config.json has no \"%s\"", key);
        *out = fallback;
        return VS_OK;
    }
    if (!vs_json_int64(v, out) || *out < lo || *out > hi)
        return vs_fail(VS_ERR_FORMAT, "config.json: \"%s\" must be an integer in %lld..%lld", key, (long long)lo,
                       (long long)hi);
    return VS_OK;
}

static vs_status config_array(const vs_json *root, const char *key, vs_json_type type, size_t min, size_t max,
                              const vs_json **out) {
    const vs_json *v = vs_json_get(root, key);
    if (!v) return vs_fail(VS_ERR_NOT_FOUND, "config.json has no \"%s\"", key);
    if (vs_json_typeof(v) != VS_JSON_ARRAY || vs_json_size(v) < min || vs_json_size(v) > max)
        return vs_fail(VS_ERR_FORMAT, "config.json: \"%s\" must be an array of %zu..%zu entries", key, min, max);
    for (size_t i = 0; i < vs_json_size(v); i++)
        if (vs_json_typeof(vs_json_at(v, i)) != type)
            return vs_fail(VS_ERR_FORMAT, "config.json: \"%s\"[%zu] must be a %s", key, i, vs_json_type_name(type));
    *out = v;
    return VS_OK;
}

static vs_status parse_config(const vs_json *root, vs_wan_vae *m, vae_config *c) {
    if (vs_json_typeof(root) != VS_JSON_OBJECT) return vs_fail(VS_ERR_FORMAT, "config.json is not an object");
    const vs_json *v = vs_json_get(root, "is_residual");
    if (v && vs_json_typeof(v) == VS_JSON_BOOL && vs_json_bool(v))
        return vs_fail(VS_ERR_UNSUPPORTED, "config.json: is_residual (the Wan 2.2 VAE) is not supported");
    v = vs_json_get(root, "patch_size");
    if (v && vs_json_typeof(v) != VS_JSON_NULL)
        return vs_fail(VS_ERR_UNSUPPORTED, "config.json: patch_size (the Wan 2.2 VAE) is not supported");
    int64_t base, dec_base;
    VS_TRY(config_int(root, "base_dim", -1, 1, 4096, &base));
    VS_TRY(config_int(root, "decoder_base_dim", base, 1, 4096, &dec_base));
    c->base_dim = dec_base;
    VS_TRY(config_int(root, "z_dim", -1, 1, MAX_Z, &c->z_dim));
    VS_TRY(config_int(root, "num_res_blocks", -1, 0, MAX_LEVELS, &c->num_res_blocks));
    VS_TRY(config_int(root, "out_channels", 3, 1, 64, &c->out_channels));

    const vs_json *mult, *tdown, *mean, *std;
    VS_TRY(config_array(root, "dim_mult", VS_JSON_NUMBER, 1, MAX_LEVELS, &mult));
    c->n_mult = (int)vs_json_size(mult);
    for (int i = 0; i < c->n_mult; i++) {
        if (!vs_json_int64(vs_json_at(mult, (size_t)i), &c->dim_mult[i]) || c->dim_mult[i] < 1 || c->dim_mult[i] > 64)
            return vs_fail(VS_ERR_FORMAT, "config.json: dim_mult[%d] must be an integer in 1..64", i);
    }
    VS_TRY(config_array(root, "temperal_downsample", VS_JSON_BOOL, (size_t)c->n_mult - 1, MAX_LEVELS, &tdown));
    size_t nt = vs_json_size(tdown);
    for (int i = 0; i + 1 < c->n_mult; i++) c->temporal_up[i] = vs_json_bool(vs_json_at(tdown, nt - 1 - (size_t)i));
    VS_TRY(config_array(root, "latents_mean", VS_JSON_NUMBER, (size_t)c->z_dim, (size_t)c->z_dim, &mean));
    VS_TRY(config_array(root, "latents_std", VS_JSON_NUMBER, (size_t)c->z_dim, (size_t)c->z_dim, &std));
    for (int i = 0; i < c->z_dim; i++) {
        m->latents_mean[i] = (float)vs_json_number(vs_json_at(mean, (size_t)i));
        m->latents_std[i] = (float)vs_json_number(vs_json_at(std, (size_t)i));
    }
    m->z_dim = (int)c->z_dim;
    m->out_channels = (int)c->out_channels;
    return VS_OK;
}

/* The decoder of diffusers' WanDecoder3d: channel widths dims = base * [mult[-1], mult reversed...];
 * every up block but the last ends in an upsampler whose conv halves the width. */
static vs_status build(loader *L, vs_wan_vae *m, const vae_config *c) {
    int64_t dims[MAX_LEVELS + 1];
    dims[0] = c->base_dim * c->dim_mult[c->n_mult - 1];
    for (int i = 0; i < c->n_mult; i++) dims[i + 1] = c->base_dim * c->dim_mult[c->n_mult - 1 - i];
    int z = m->z_dim;
    VS_TRY(load_conv(L, &m->post_quant, "post_quant_conv", z, z, 1, 1));
    VS_TRY(load_conv(L, &m->conv_in, "decoder.conv_in", z, (int)dims[0], 3, 3));
    VS_TRY(load_res(L, &m->mid_res[0], "decoder.mid_block.resnets.0", (int)dims[0], (int)dims[0]));
    VS_TRY(load_norm(L, &m->mid_attn.norm, "decoder.mid_block.attentions.0.norm", (int)dims[0], 1));
    VS_TRY(load_conv(L, &m->mid_attn.to_qkv, "decoder.mid_block.attentions.0.to_qkv", (int)dims[0], 3 * (int)dims[0], 0, 1));
    VS_TRY(load_conv(L, &m->mid_attn.proj, "decoder.mid_block.attentions.0.proj", (int)dims[0], (int)dims[0], 0, 1));
    VS_TRY(load_res(L, &m->mid_res[1], "decoder.mid_block.resnets.1", (int)dims[0], (int)dims[0]));
    m->n_up = c->n_mult;
    m->spatial_ratio = 1;
    m->temporal_ratio = 1;
    char name[256];
    for (int i = 0; i < c->n_mult; i++) {
        vae_up *u = &m->up[i];
        int in = (int)(i > 0 ? dims[i] / 2 : dims[i]), out = (int)dims[i + 1];
        u->n_res = (int)c->num_res_blocks + 1;
        for (int j = 0; j < u->n_res; j++) {
            VS_TRY(tensor_name(name, sizeof name, "decoder.up_blocks.%d.resnets.%d", i, j));
            VS_TRY(load_res(L, &u->res[j], name, j ? out : in, out));
        }
        u->mode = i == c->n_mult - 1 ? UP_NONE : c->temporal_up[i] ? UP_3D : UP_2D;
        if (u->mode == UP_NONE) continue;
        if (out % 2) return vs_fail(VS_ERR_FORMAT, "config.json: up block %d has odd width %d", i, out);
        VS_TRY(tensor_name(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.resample.1", i));
        VS_TRY(load_conv(L, &u->resample, name, out, out / 2, 0, 3));
        m->spatial_ratio *= 2;
        if (u->mode == UP_3D) {
            VS_TRY(tensor_name(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.time_conv", i));
            VS_TRY(load_conv(L, &u->time_conv, name, out, 2 * out, 3, 1));
            m->temporal_ratio *= 2;
        }
    }
    int last = (int)dims[c->n_mult];
    VS_TRY(load_norm(L, &m->norm_out, "decoder.norm_out", last, 0));
    VS_TRY(load_conv(L, &m->conv_out, "decoder.conv_out", last, m->out_channels, 3, 3));
    m->n_slots = L->n_slots;
    return VS_OK;
}

static vs_status check_device(vs_device device) {
    if (device != VS_CPU && device != VS_CUDA)
        return vs_fail(VS_ERR_INVALID_ARG, "VAE: unknown device %d", (int)device);
#if !VS_HAVE_CUDA
    if (device == VS_CUDA)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "VAE on cuda: this vidsparse build has no CUDA support (rebuild with -DVS_CUDA=ON)");
#endif
    return VS_OK;
}

/* The decoder of config `c` from `st` (NULL: seeded random weights), on `device`. */
static vs_status build_on(vs_wan_vae *m, const vae_config *c, const vs_safetensors *st, uint64_t seed,
                          vs_device device) {
    loader L = {st, seed, 0, NULL, 0, 0};
    vs_status s = build(&L, m, c);
    if (s == VS_OK && st) s = check_all_used(&L);
    free(L.used);
    m->device = device;
#if VS_HAVE_CUDA
    if (s == VS_OK && device == VS_CUDA) {
        m->gpu_memory = calloc(1, sizeof *m->gpu_memory);
        s = m->gpu_memory ? vs_wan_vae_cuda_upload(m) : vs_fail(VS_ERR_OOM, "out of memory loading the VAE");
    }
#endif
    return s;
}

vs_status vs_wan_vae_load(vs_wan_vae **out, const char *dir, vs_device device) {
    *out = NULL;
    VS_TRY(check_device(device));
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
        return vs_fail(VS_ERR_INVALID_ARG, "VAE folder path too long");
    vs_wan_vae *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "out of memory loading the VAE");
    vs_json_doc *doc = NULL;
    vs_safetensors *st = NULL;
    vae_config c;
    memset(&c, 0, sizeof c);
    vs_status s = vs_json_parse_file(&doc, path);
    if (s == VS_OK) s = parse_config(vs_json_root(doc), m, &c);
    if (s == VS_OK) s = vs_safetensors_open(&st, dir);
    if (s == VS_OK) s = build_on(m, &c, st, 0, device);
    vs_safetensors_close(st);
    vs_json_free(doc);
    if (s != VS_OK) {
        vs_wan_vae_free(m);
        return vs_fail_context(s, "loading the Wan VAE from %s", dir);
    }
    *out = m;
    return VS_OK;
}

/* The Wan 2.1 VAE of diffusers' AutoencoderKLWan defaults: base_dim 96, z_dim 16, dim_mult [1, 2, 4, 4],
 * 2 res blocks, temperal_downsample [false, true, true] (so time is upsampled in the first two up blocks). */
static const vae_config wan21_config = {96, 16, 2, 3, {1, 2, 4, 4}, 4, {1, 1, 0}};

vs_status vs_wan_vae_random(vs_wan_vae **out, vs_device device, uint64_t seed) {
    *out = NULL;
    VS_TRY(check_device(device));
    vs_wan_vae *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "out of memory making the VAE");
    m->z_dim = (int)wan21_config.z_dim, m->out_channels = (int)wan21_config.out_channels;
    for (int i = 0; i < m->z_dim; i++) m->latents_mean[i] = 0.0f, m->latents_std[i] = 1.0f;
    vs_status s = build_on(m, &wan21_config, NULL, seed, device);
    if (s != VS_OK) {
        vs_wan_vae_free(m);
        return vs_fail_context(s, "random Wan VAE");
    }
    *out = m;
    return VS_OK;
}

/* GPU bytes of one causal or plain convolution's weights (BF16, output channels padded to 8) and bias. */
static size_t conv_weight_bytes(int64_t cin, int64_t cout, int taps) {
    const int64_t pad = (cout + 7) / 8 * 8;
    return (size_t)(pad * cin * taps * 2 + pad * 4);
}

/* The CUDA decode's memory from the config alone (see vs_wan_vae_estimate), walking the decoder as build()
 * lays it out: per latent pixel, every causal convolution's history (CACHE_T frames of its input) and the
 * buffers of the chunk in flight, the largest of which holds 4 frames at up to 8x8 pixels per latent pixel. */
static void estimate(const vae_config *c, int64_t latent_pixels, size_t *weights, size_t *work) {
    int64_t dims[MAX_LEVELS + 1];
    dims[0] = c->base_dim * c->dim_mult[c->n_mult - 1];
    for (int i = 0; i < c->n_mult; i++) dims[i + 1] = c->base_dim * c->dim_mult[c->n_mult - 1 - i];
    /* As vs_wan_vae_cuda_upload lays them out: F32 norm scales, the attention's folded BF16 matrices and
     * biases; post_quant_conv runs on the host. Norm biases (absent in Wan's VAEs) are not counted. */
    const int64_t d0 = dims[0];
    size_t w = conv_weight_bytes(c->z_dim, d0, 27) + 2 * (2 * conv_weight_bytes(d0, d0, 27) + 2 * (size_t)d0 * 4) +
               (size_t)(d0 * 4 + (4 * d0 * d0 + 4 * d0) * 2);
    int64_t history = c->z_dim + 4 * dims[0]; /* channels x scale^2 held by causal convs, per latent pixel */
    int64_t largest = 0, scale = 1, frames = 1;  /* the largest activation of a chunk, channels x pixels x frames */
    for (int i = 0; i < c->n_mult; i++) {
        const int64_t in = i > 0 ? dims[i] / 2 : dims[i], out = dims[i + 1];
        for (int j = 0; j <= c->num_res_blocks; j++) {
            const int64_t rin = j ? out : in;
            w += conv_weight_bytes(rin, out, 27) + conv_weight_bytes(out, out, 27) + (size_t)(rin + out) * 4 +
                 (rin != out ? conv_weight_bytes(rin, out, 1) : 0);
            history += (rin + out) * scale * scale;
        }
        if (out * scale * scale * (frames + CACHE_T) > largest) largest = out * scale * scale * (frames + CACHE_T);
        if (i == c->n_mult - 1) break;
        const int temporal = c->temporal_up[i];
        w += conv_weight_bytes(out, out / 2, 9) + (temporal ? conv_weight_bytes(out, 2 * out, 3) : 0);
        if (temporal) history += out * scale * scale, frames *= 2;
        scale *= 2;
        if (out * scale * scale * frames > largest) largest = out * scale * scale * frames; /* upsampled */
    }
    history += dims[c->n_mult] * scale * scale; /* conv_out */
    w += conv_weight_bytes(dims[c->n_mult], c->out_channels, 27) + (size_t)dims[c->n_mult] * 4;
    *weights = w;
    /* BF16 values; six buffers of the largest size cover a residual block's input, normalised copy, history
     * concatenation, output and shortcut with the pool's best-fit reuse (checked against the measured pool);
     * plus the F32 latent frame going up and the decoded frames coming down. */
    *work = (size_t)(((CACHE_T * history + 6 * largest) * 2 + (c->z_dim + frames * c->out_channels * scale * scale) * 4) *
                     latent_pixels);
}

vs_status vs_wan_vae_estimate(const char *dir, int latent_height, int latent_width, size_t *weights, size_t *work) {
    if (!dir) {
        estimate(&wan21_config, (int64_t)latent_height * latent_width, weights, work);
        return VS_OK;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
        return vs_fail(VS_ERR_INVALID_ARG, "VAE folder path too long");
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, path));
    vs_wan_vae *m = calloc(1, sizeof *m); /* parse_config fills a model's fields; nothing is loaded */
    vae_config c;
    memset(&c, 0, sizeof c);
    vs_status s = m ? parse_config(vs_json_root(doc), m, &c) : vs_fail(VS_ERR_OOM, "out of memory");
    if (s == VS_OK) estimate(&c, (int64_t)latent_height * latent_width, weights, work);
    free(m);
    vs_json_free(doc);
    if (s != VS_OK) return vs_fail_context(s, "%s", path);
    return VS_OK;
}

/* ---- activations and the causal caches ---------------------------------------------- */

/* Activations: vs_frames, [t][c][h][w]. */

/* One decode (one tile) in progress: the history frames of every causal conv. */
typedef struct {
    float **hist; /* [n_slots], each CACHE_T frames, zero until written */
    size_t *hist_frame;
    int n_slots;
    int chunk; /* index of the latent frame being decoded */
} decode_state;

static vs_status state_init(decode_state *st, int n_slots) {
    st->hist = calloc((size_t)n_slots + 1, sizeof *st->hist);
    st->hist_frame = calloc((size_t)n_slots + 1, sizeof *st->hist_frame);
    st->n_slots = n_slots;
    st->chunk = 0;
    if (!st->hist || !st->hist_frame) {
        free(st->hist);
        free(st->hist_frame);
        return vs_fail(VS_ERR_OOM, "out of memory for the VAE caches");
    }
    return VS_OK;
}

static void state_free(decode_state *st) {
    for (int i = 0; i < st->n_slots; i++) free(st->hist[i]);
    free(st->hist);
    free(st->hist_frame);
}

/* ---- the layers: each replaces *x by its output, and frees *x on failure -------- */

/* One output frame y [cout, h, w] of cv from its kt input frames `taps`, each [cin, h, w]. */
static vs_status conv_frame(const vae_conv *cv, float *y, const float *const *taps, int h, int w) {
    vs_tensor tap[1 + CACHE_T];
    const vs_tensor *taps_t[1 + CACHE_T];
    for (int j = 0; j < cv->kt; j++) {
        tap[j] = vs_tensor_view((void *)taps[j], VS_F32, VS_CPU, 4, (int64_t[]){1, cv->cin, h, w});
        taps_t[j] = &tap[j];
    }
    vs_tensor weight = vs_tensor_view(cv->weight.data, VS_F32, VS_CPU, 5,
                                      (int64_t[]){cv->cout, cv->cin, cv->kt, cv->kh, cv->kw});
    vs_tensor out = vs_tensor_view(y, VS_F32, VS_CPU, 4, (int64_t[]){1, cv->cout, h, w});
    return vs_op_conv_frames(&out, taps_t, cv->kt, &weight, &cv->bias);
}

/* Causal convolution over the frames of x. With a history slot the frame
 * sequence seen is [history (CACHE_T frames, zeros at the start), x...], which is
 * exactly diffusers' causal padding plus its feat_cache across chunks. */
static vs_status conv_step(decode_state *st, const vae_conv *cv, vs_frames *x) {
    vs_frames y = {0};
    size_t fs = vs_frames_size(x);
    float *hist = NULL;
    vs_status s = x->c == cv->cin ? VS_OK
                                  : vs_fail(VS_ERR_SHAPE, "VAE conv expects %d channels, got %d", cv->cin, x->c);
    if (s == VS_OK) s = vs_frames_alloc(&y, x->t, cv->cout, x->h, x->w);
    if (s == VS_OK && cv->slot >= 0) {
        if (!st->hist[cv->slot]) {
            st->hist[cv->slot] = calloc(CACHE_T * fs, sizeof(float));
            st->hist_frame[cv->slot] = fs;
            if (!st->hist[cv->slot]) s = vs_fail(VS_ERR_OOM, "out of memory for the VAE caches");
        } else if (st->hist_frame[cv->slot] != fs) {
            s = vs_fail(VS_ERR_SHAPE, "VAE cache frame size changed between chunks");
        }
        hist = st->hist[cv->slot];
    }
    for (int i = 0; s == VS_OK && i < x->t; i++) {
        const float *taps[1 + CACHE_T];
        for (int j = 0; j < cv->kt; j++) {
            int k = hist ? i + j : i; /* index into [history..., x...] */
            taps[j] = !hist ? x->d + (size_t)i * fs : k < CACHE_T ? hist + (size_t)k * fs : x->d + (size_t)(k - CACHE_T) * fs;
        }
        s = conv_frame(cv, y.d + (size_t)i * vs_frames_size(&y), taps, x->h, x->w);
    }
    if (s == VS_OK && hist) { /* keep the last CACHE_T frames of [history, x] */
        if (x->t >= CACHE_T) {
            memcpy(hist, x->d + (size_t)(x->t - CACHE_T) * fs, sizeof(float) * CACHE_T * fs);
        } else {
            memmove(hist, hist + (size_t)x->t * fs, sizeof(float) * (size_t)(CACHE_T - x->t) * fs);
            memcpy(hist + (size_t)(CACHE_T - x->t) * fs, x->d, sizeof(float) * (size_t)x->t * fs);
        }
    }
    vs_frames_free(x);
    if (s != VS_OK) {
        vs_frames_free(&y);
        return s;
    }
    *x = y;
    return VS_OK;
}

/* In place; silu fuses the SiLU that follows every norm but the attention's. */
static vs_status norm_step(const vae_norm *n, vs_frames *x, int silu) {
    vs_tensor t = vs_tensor_view(x->d, VS_F32, VS_CPU, 4, (int64_t[]){x->t, x->c, x->h, x->w});
    vs_tensor gamma = vs_tensor_view(n->gamma.data, VS_F32, VS_CPU, 1, (int64_t[]){x->c});
    vs_tensor beta = vs_tensor_view(n->bias.data, VS_F32, VS_CPU, 1, (int64_t[]){x->c});
    return vs_op_vae_rmsnorm(&t, &t, &gamma, n->bias.data ? &beta : NULL, sqrtf((float)n->dim), silu);
}

/* conv(silu(norm(x))), freeing x on failure like conv_step. */
static vs_status norm_conv_step(decode_state *st, const vae_norm *n, const vae_conv *cv, vs_frames *x) {
    vs_status s = norm_step(n, x, 1);
    if (s != VS_OK) {
        vs_frames_free(x);
        return s;
    }
    return conv_step(st, cv, x);
}

static vs_status act_copy(vs_frames *dst, const vs_frames *src) {
    VS_TRY(vs_frames_alloc(dst, src->t, src->c, src->h, src->w));
    memcpy(dst->d, src->d, sizeof(float) * (size_t)src->t * vs_frames_size(src));
    return VS_OK;
}

/* WanResidualBlock: shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))). */
static vs_status res_step(decode_state *st, const vae_res *r, vs_frames *x) {
    vs_frames y;
    vs_status s = act_copy(&y, x);
    if (s != VS_OK) {
        vs_frames_free(x);
        return s;
    }
    if (r->has_shortcut && (s = conv_step(st, &r->shortcut, x)) != VS_OK) {
        vs_frames_free(&y);
        return s;
    }
    s = norm_conv_step(st, &r->norm1, &r->conv1, &y);
    if (s == VS_OK) s = norm_conv_step(st, &r->norm2, &r->conv2, &y);
    if (s != VS_OK) {
        vs_frames_free(x);
        return s;
    }
    size_t n = (size_t)y.t * vs_frames_size(&y);
    for (size_t i = 0; i < n; i++) y.d[i] += x->d[i];
    vs_frames_free(x);
    *x = y;
    return VS_OK;
}

/* Queries per band of the attention matrix (bounded to about 64 MiB). */
static int64_t attn_band(int64_t p) { return p * p <= ((int64_t)16 << 20) ? p : ((int64_t)16 << 20) / p + 1; }

/* WanAttentionBlock: per frame, single-head attention over the h*w pixels with
 * head size c, then a 1x1 projection, plus the input. */
static vs_status attn_step(const vae_attn *a, vs_frames *x) {
    int c = x->c;
    int64_t p = (int64_t)x->h * x->w, band = attn_band(p);
    float *xn = malloc(sizeof(float) * (size_t)(c * p)), *qkv = malloc(sizeof(float) * (size_t)(3 * c * p));
    float *o = malloc(sizeof(float) * (size_t)(c * p)), *proj = malloc(sizeof(float) * (size_t)(c * p));
    float *s = malloc(sizeof(float) * (size_t)(band * p));
    vs_status st = xn && qkv && o && proj && s ? VS_OK : vs_fail(VS_ERR_OOM, "out of memory for VAE attention");
    for (int f = 0; st == VS_OK && f < x->t; f++) {
        float *frame = x->d + (size_t)f * vs_frames_size(x);
        memcpy(xn, frame, sizeof(float) * (size_t)(c * p));
        vs_frames one = {xn, 1, c, x->h, x->w};
        const float *in = xn;
        st = norm_step(&a->norm, &one, 0);
        if (st == VS_OK) st = conv_frame(&a->to_qkv, qkv, &in, x->h, x->w);
        const float *q = qkv, *k = qkv + c * p, *v = qkv + 2 * c * p; /* channel thirds, each [c, p] */
        for (int64_t q0 = 0; st == VS_OK && q0 < p; q0 += band) {
            int64_t nq = p - q0 < band ? p - q0 : band;
            vs_cpu_gemm(1, 0, nq, p, c, 1.0f / sqrtf((float)c), q + q0, p, k, p, 0.0f, s, p); /* q^T k */
            vs_tensor scores = vs_tensor_view(s, VS_F32, VS_CPU, 2, (int64_t[]){nq, p});
            st = vs_op_softmax_rows(&scores, p);
            if (st == VS_OK) vs_cpu_gemm(0, 1, c, nq, p, 1.0f, v, p, s, p, 0.0f, o + q0, p); /* v s^T */
        }
        const float *oin = o;
        if (st == VS_OK)
            st = conv_frame(&a->proj, proj, &oin, x->h, x->w);
        for (int64_t i = 0; st == VS_OK && i < c * p; i++) frame[i] += proj[i];
    }
    free(xn);
    free(qkv);
    free(o);
    free(proj);
    free(s);
    if (st != VS_OK) vs_frames_free(x);
    return st;
}

/* WanResample upsample2d / upsample3d. */
static vs_status upsample_step(decode_state *st, const vae_up *u, vs_frames *x) {
    /* upsample3d doubles the frames, except on the first chunk, which diffusers
     * passes through untouched (its cache then starts from zeros, not from
     * this chunk). The conv's output [t][2c][h][w] is already [2t][c][h][w] with
     * frame 2i taking channels 0..c-1 and 2i+1 channels c..2c-1: the order in
     * which diffusers interleaves them. */
    if (u->mode == UP_3D && st->chunk > 0) {
        VS_TRY(conv_step(st, &u->time_conv, x));
        x->t *= 2;
        x->c /= 2;
    }
    int h2 = 2 * x->h, w2 = 2 * x->w;
    vs_frames y = {0};
    float *up = malloc(sizeof(float) * (size_t)x->c * h2 * w2);
    vs_status s = up ? vs_frames_alloc(&y, x->t, u->resample.cout, h2, w2) : vs_fail(VS_ERR_OOM, "out of memory upsampling");
    for (int f = 0; s == VS_OK && f < x->t; f++) { /* one upsampled frame at a time */
        vs_tensor src = vs_tensor_view(x->d + (size_t)f * vs_frames_size(x), VS_F32, VS_CPU, 4,
                                       (int64_t[]){1, x->c, x->h, x->w});
        vs_tensor dst = vs_tensor_view(up, VS_F32, VS_CPU, 4, (int64_t[]){1, x->c, h2, w2});
        const float *in = up;
        s = vs_op_upsample2x(&dst, &src, 0);
        if (s == VS_OK) s = conv_frame(&u->resample, y.d + (size_t)f * vs_frames_size(&y), &in, h2, w2);
    }
    free(up);
    vs_frames_free(x);
    if (s != VS_OK) {
        vs_frames_free(&y);
        return s;
    }
    *x = y;
    return VS_OK;
}

/* WanDecoder3d.forward on one chunk (one latent frame, after post_quant_conv). */
static vs_status decode_chunk(const vs_wan_vae *m, decode_state *st, vs_frames *x) {
    VS_TRY(conv_step(st, &m->conv_in, x));
    VS_TRY(res_step(st, &m->mid_res[0], x));
    VS_TRY(attn_step(&m->mid_attn, x));
    VS_TRY(res_step(st, &m->mid_res[1], x));
    for (int i = 0; i < m->n_up; i++) {
        for (int j = 0; j < m->up[i].n_res; j++) VS_TRY(res_step(st, &m->up[i].res[j], x));
        if (m->up[i].mode != UP_NONE) VS_TRY(upsample_step(st, &m->up[i], x));
    }
    return norm_conv_step(st, &m->norm_out, &m->conv_out, x);
}

/* ---- whole videos and tiles --------------------------------------------------------- */

/* Decodes latents z ([T][z][h][w], de-normalised and through post_quant_conv)
 * chunk by chunk into video [T'][C][H][W] (unclamped). */
static vs_status decode_frames(const vs_wan_vae *m, const vs_frames *z, vs_frames *video) {
    int tr = m->temporal_ratio, sr = m->spatial_ratio;
    VS_TRY(vs_frames_alloc(video, 1 + tr * (z->t - 1), m->out_channels, z->h * sr, z->w * sr));
#if VS_HAVE_CUDA
    if (m->device == VS_CUDA) {
        vs_status s = vs_wan_vae_cuda_decode(m, z->d, z->t, z->h, z->w, video->d);
        if (s != VS_OK) vs_frames_free(video);
        return s;
    }
#endif
    decode_state st;
    vs_status s = state_init(&st, m->n_slots);
    if (s != VS_OK) {
        vs_frames_free(video);
        return s;
    }
    int done = 0;
    for (int k = 0; s == VS_OK && k < z->t; k++) {
        vs_frames x;
        s = vs_frames_alloc(&x, 1, z->c, z->h, z->w);
        if (s != VS_OK) break;
        memcpy(x.d, z->d + (size_t)k * vs_frames_size(z), sizeof(float) * vs_frames_size(z));
        st.chunk = k;
        s = decode_chunk(m, &st, &x);
        if (s != VS_OK) break;
        if (x.t != (k ? tr : 1) || x.c != video->c || x.h != video->h || x.w != video->w)
            s = vs_fail(VS_ERR_SHAPE, "VAE chunk %d decoded to %dx%dx%dx%d", k, x.t, x.c, x.h, x.w);
        else
            memcpy(video->d + (size_t)done * vs_frames_size(video), x.d, sizeof(float) * (size_t)x.t * vs_frames_size(&x));
        done += x.t;
        vs_frames_free(&x);
    }
    state_free(&st);
    if (s != VS_OK) vs_frames_free(video);
    return s;
}

/* vs_frames_decoder for diffusers' tiled_decode (vs_frames_decode_tiled). */
static vs_status decode_tile(void *m, const vs_frames *z, vs_frames *video) { return decode_frames(m, z, video); }

vs_wan_vae_tiling vs_wan_vae_default_tiling(void) {
    vs_wan_vae_tiling t = {1, 256, 256, 192, 192};
    return t;
}

static vs_status check_tiling(const vs_wan_vae *m, const vs_wan_vae_tiling *t) {
    int sr = m->spatial_ratio;
    const int v[4] = {t->tile_h, t->tile_w, t->stride_h, t->stride_w};
    for (int i = 0; i < 4; i++)
        if (v[i] < sr || v[i] % sr)
            return vs_fail(VS_ERR_INVALID_ARG, "VAE tile sizes and strides must be positive multiples of %d, got %d", sr,
                           v[i]);
    if (t->stride_h > t->tile_h || t->stride_w > t->tile_w)
        return vs_fail(VS_ERR_INVALID_ARG, "VAE tile stride %dx%d exceeds the tile %dx%d", t->stride_w, t->stride_h,
                       t->tile_w, t->tile_h);
    return VS_OK;
}

vs_status vs_wan_vae_decode(const vs_wan_vae *m, const vs_tensor *latents, const vs_wan_vae_tiling *tiling,
                            vs_tensor *out) {
    memset(out, 0, sizeof *out);
    if (!m || !latents || !latents->data) return vs_fail(VS_ERR_INVALID_ARG, "VAE decode: no model or latents");
    const int64_t *sh = latents->shape + (latents->ndim == 5);
    if (latents->dtype != VS_F32 || latents->device != VS_CPU || !vs_tensor_is_contiguous(latents) ||
        (latents->ndim != 4 && !(latents->ndim == 5 && latents->shape[0] == 1)) || sh[0] != m->z_dim || sh[1] < 1 ||
        sh[2] < 1 || sh[3] < 1 || sh[1] > 100000 || sh[2] > 4096 || sh[3] > 4096)
        return vs_fail(VS_ERR_SHAPE, "VAE decode wants contiguous host f32 latents [1, %d, T, h, w], got %s of rank %d [%lld, %lld, ...]",
                       m->z_dim, vs_dtype_name(latents->dtype), latents->ndim, (long long)latents->shape[0],
                       (long long)latents->shape[1]);
    int use_tiles = tiling && tiling->enabled;
    if (use_tiles) VS_TRY(check_tiling(m, tiling));

    /* De-normalise (the pipeline's latents / (1 / std) + mean), reorder to frame-major
     * and apply post_quant_conv, a 1x1x1 conv: pointwise, so it commutes with tiling. */
    vs_frames z;
    int zd = m->z_dim, t = (int)sh[1], h = (int)sh[2], w = (int)sh[3];
    VS_TRY(vs_frames_alloc(&z, t, zd, h, w));
    const float *src = latents->data;
    size_t hw = (size_t)h * w;
    for (int ch = 0; ch < zd; ch++)
        for (int f = 0; f < t; f++)
            for (size_t p = 0; p < hw; p++)
                z.d[((size_t)f * zd + ch) * hw + p] = src[((size_t)ch * t + f) * hw + p] * m->latents_std[ch] + m->latents_mean[ch];
    decode_state none = {0};
    vs_status s = conv_step(&none, &m->post_quant, &z);
    if (s != VS_OK) return s;
    vs_frames video = {0};
    int sr = m->spatial_ratio;
    if (use_tiles && (w > tiling->tile_w / sr || h > tiling->tile_h / sr))
        s = vs_frames_decode_tiled(&z, sr, tiling->tile_h, tiling->tile_w, tiling->stride_h, tiling->stride_w, decode_tile,
                                   (void *)m, &video);
    else s = decode_frames(m, &z, &video);
    vs_frames_free(&z);
    if (s != VS_OK) return s;
    size_t n = (size_t)video.t * vs_frames_size(&video);
    for (size_t i = 0; i < n; i++) video.d[i] = video.d[i] < -1.0f ? -1.0f : video.d[i] > 1.0f ? 1.0f : video.d[i];
    int64_t shape[4] = {video.t, video.c, video.h, video.w};
    *out = vs_tensor_view(video.d, VS_F32, VS_CPU, 4, shape);
    out->owned = 1;
    return VS_OK;
}
