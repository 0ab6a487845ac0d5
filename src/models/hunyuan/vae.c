/* HunyuanVideo VAE decoder: configuration, loading, the f32 CPU decode of one tile, and diffusers' spatial
 * and temporal tiling around it (shared by both devices: a model on the GPU decodes each tile through
 * vae_cuda.c). On the CPU activations are frame-major vs_frames, [t][c][h][w]: a frame is one contiguous
 * [c, h, w] block, the shape the convolution kernel takes its time taps in. */
#include "models/hunyuan/vae.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv_cpu.h"
#include "backend/cpu/cpu_ops.h"
#include "core/json.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/common/vae_tiles.h"
#include "models/hunyuan/vae_internal.h"
#include "ops/ops.h"

/* ---- configuration ------------------------------------------------------------------------------ */

/* The released checkpoint's vae/config.json (and diffusers' AutoencoderKLHunyuanVideo defaults). */
static const hv_config released_config = {16, 3, 32, 2, 4, 1, {128, 256, 512, 512}, 8, 4, 0.476986};

/* diffusers' default tiling: 256 x 256 pixels every 192, 16 frames every 12. */
static const hv_tiling default_tiling = {256, 256, 16, 192, 192, 12};

static vs_status config_int(const vs_json *root, const char *key, int fallback, int lo, int hi, int *out) {
    const vs_json *v = vs_json_get(root, key);
    int64_t x = fallback;
    if (v && vs_json_typeof(v) != VS_JSON_NULL && (!vs_json_int64(v, &x) || x < lo || x > hi))
        return vs_fail(VS_ERR_FORMAT, "config.json: \"%s\" must be an integer in %d..%d", key, lo, hi);
    *out = (int)x;
    return VS_OK;
}

/* The block types must all be `want` (the only kind diffusers builds). */
static vs_status check_block_types(const vs_json *root, const char *key, const char *want, int n) {
    const vs_json *v = vs_json_get(root, key);
    if (!v) return VS_OK;
    if (vs_json_typeof(v) != VS_JSON_ARRAY || (int)vs_json_size(v) != n)
        return vs_fail(VS_ERR_FORMAT, "config.json: \"%s\" must list %d block types", key, n);
    for (int i = 0; i < n; i++) {
        const char *s = vs_json_string(vs_json_at(v, (size_t)i), NULL);
        if (!s || strcmp(s, want))
            return vs_fail(VS_ERR_UNSUPPORTED, "config.json: %s[%d] is %s; only %s is supported", key, i,
                           s ? s : "not a string", want);
    }
    return VS_OK;
}

static vs_status parse_config(const vs_json *root, hv_config *c) {
    if (vs_json_typeof(root) != VS_JSON_OBJECT) return vs_fail(VS_ERR_FORMAT, "config.json is not an object");
    const char *cls = vs_json_get_string(root, "_class_name", "AutoencoderKLHunyuanVideo");
    if (strcmp(cls, "AutoencoderKLHunyuanVideo"))
        return vs_fail(VS_ERR_FORMAT, "config.json: _class_name is %s, not AutoencoderKLHunyuanVideo", cls);
    *c = released_config;
    const vs_json *boc = vs_json_get(root, "block_out_channels");
    if (boc) {
        if (vs_json_typeof(boc) != VS_JSON_ARRAY || vs_json_size(boc) < 1 ||
            vs_json_size(boc) > HV_MAX_BLOCKS)
            return vs_fail(VS_ERR_FORMAT,
                           "config.json: \"block_out_channels\" must be an array of 1..%d integers",
                           HV_MAX_BLOCKS);
        c->n_blocks = (int)vs_json_size(boc);
        for (int i = 0; i < c->n_blocks; i++) {
            int64_t x;
            if (!vs_json_int64(vs_json_at(boc, (size_t)i), &x) || x < 1 || x > 4096)
                return vs_fail(VS_ERR_FORMAT,
                               "config.json: block_out_channels[%d] must be an integer in 1..4096", i);
            c->block_out[i] = (int)x;
        }
    }
    VS_TRY(check_block_types(root, "up_block_types", "HunyuanVideoUpBlock3D", c->n_blocks));
    VS_TRY(config_int(root, "latent_channels", c->latent_channels, 1, 1024, &c->latent_channels));
    VS_TRY(config_int(root, "out_channels", c->out_channels, 1, 64, &c->out_channels));
    VS_TRY(config_int(root, "norm_num_groups", c->groups, 1, 1024, &c->groups));
    VS_TRY(
        config_int(root, "layers_per_block", c->layers_per_block, 0, HV_MAX_RES - 1, &c->layers_per_block));
    VS_TRY(config_int(root, "spatial_compression_ratio", c->spatial_ratio, 1, 64, &c->spatial_ratio));
    VS_TRY(config_int(root, "temporal_compression_ratio", c->temporal_ratio, 1, 64, &c->temporal_ratio));
    const vs_json *attn = vs_json_get(root, "mid_block_add_attention");
    if (attn && vs_json_typeof(attn) == VS_JSON_BOOL) c->mid_attention = vs_json_bool(attn);
    c->scaling_factor = vs_json_get_number(root, "scaling_factor", c->scaling_factor);
    if (!(c->scaling_factor > 0) || !isfinite(c->scaling_factor))
        return vs_fail(VS_ERR_FORMAT, "config.json: \"scaling_factor\" must be a positive number");
    const char *act = vs_json_get_string(root, "act_fn", "silu");
    if (strcmp(act, "silu") && strcmp(act, "swish"))
        return vs_fail(VS_ERR_UNSUPPORTED, "config.json: act_fn %s; only silu is supported", act);
    if (c->temporal_ratio != 4)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "config.json: temporal_compression_ratio %d; diffusers decodes only 4",
                       c->temporal_ratio);
    for (int i = 0; i < c->n_blocks; i++)
        if (c->block_out[i] % c->groups)
            return vs_fail(VS_ERR_FORMAT,
                           "config.json: block_out_channels[%d] = %d is not a multiple of norm_num_groups %d",
                           i, c->block_out[i], c->groups);
    return VS_OK;
}

/* Up block i's upsampling factors, by diffusers' rule for temporal ratio 4: space doubles in the first
 * log2(spatial_ratio) blocks, time in the log2(4) = 2 blocks before the last. */
static void up_factors(const hv_config *c, int i, int *up_t, int *up_s) {
    int spatial_layers = 0, n = c->n_blocks;
    while ((1 << (spatial_layers + 1)) <= c->spatial_ratio)
        spatial_layers++;
    *up_s = i < spatial_layers ? 2 : 1;
    *up_t = i >= n - 1 - 2 && i != n - 1 ? 2 : 1;
}

/* The decoder's actual ratios must be the config's: tiling converts between pixels and latents with them. */
static vs_status check_ratios(const hv_config *c) {
    int s = 1, t = 1;
    for (int i = 0; i < c->n_blocks; i++) {
        int ut, us;
        up_factors(c, i, &ut, &us);
        s *= us, t *= ut;
    }
    if (s != c->spatial_ratio || t != c->temporal_ratio)
        return vs_fail(
            VS_ERR_FORMAT,
            "config.json: %d up blocks upsample %dx in space and %dx in time, not the configured %dx and %dx",
            c->n_blocks, s, t, c->spatial_ratio, c->temporal_ratio);
    return VS_OK;
}

static vs_status config_from_dir(const char *dir, hv_config *c) {
    if (!dir) {
        *c = released_config;
        return VS_OK;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
        return vs_fail(VS_ERR_INVALID_ARG, "VAE folder path too long");
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, path));
    vs_status s = parse_config(vs_json_root(doc), c);
    if (s == VS_OK) s = check_ratios(c);
    vs_json_free(doc);
    if (s != VS_OK) return vs_fail_context(s, "%s", path);
    return VS_OK;
}

static void info_of(const hv_config *c, vs_vae_info *info) {
    info->latent_channels = c->latent_channels;
    info->temporal_ratio = c->temporal_ratio;
    info->spatial_ratio = c->spatial_ratio;
}

vs_status vs_hunyuan_vae_info(const char *dir, vs_vae_info *info) {
    hv_config c;
    VS_TRY(config_from_dir(dir, &c));
    info_of(&c, info);
    return VS_OK;
}

void vs_hunyuan_vae_get_info(const vs_hunyuan_vae *vae, vs_vae_info *info) {
    info_of(&vae->cfg, info);
}

vs_vae_memory vs_hunyuan_vae_memory(const vs_hunyuan_vae *vae) {
    return vae->gpu_memory;
}

/* ---- loading ----------------------------------------------------------------------------------- */

typedef struct {
    const vs_safetensors *st; /* NULL: seeded random weights */
    uint64_t seed;
    size_t n_used; /* checkpoint tensors read so far */
} loader;

/* Roughly torch's initialization: weights uniform in +-1/sqrt(fan_in), biases in +-0.1, norm scales 1 +- 0.1.
 */
static vs_status load(loader *L, const char *name, int ndim, const int64_t *shape, vs_tensor *out) {
    if (L->st) {
        VS_TRY(vs_safetensors_load(L->st, name, VS_F32, VS_CPU, ndim, shape, out));
        L->n_used++;
        return VS_OK;
    }
    VS_TRY(vs_tensor_alloc(out, VS_F32, VS_CPU, ndim, shape));
    const int scale = strstr(name, "norm") && strstr(name, ".weight");
    const float bound =
        ndim == 1 ? 0.1f : (float)(1.0 / sqrt((double)vs_tensor_numel(out) / (double)shape[0]));
    L->seed = L->seed * 6364136223846793005ull + 1442695040888963407ull;
    return vs_op_fill_uniform(out, L->seed, scale ? 0.9f : -bound, scale ? 1.1f : bound);
}

static vs_status VS_PRINTF(3, 4) tensor_name(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) return vs_fail(VS_ERR_INVALID_ARG, "VAE tensor name too long: %s...", buf);
    return VS_OK;
}

/* prefix.weight [cout, cin, k, k, k] and prefix.bias. */
static vs_status load_conv(loader *L, hv_conv *cv, const char *prefix, int cin, int cout, int k) {
    char name[256];
    VS_TRY(tensor_name(name, sizeof name, "%s.weight", prefix));
    VS_TRY(load(L, name, 5, (int64_t[]){cout, cin, k, k, k}, &cv->weight));
    VS_TRY(tensor_name(name, sizeof name, "%s.bias", prefix));
    VS_TRY(load(L, name, 1, (int64_t[]){cout}, &cv->bias));
    cv->cin = cin, cv->cout = cout, cv->k = k;
    return VS_OK;
}

static vs_status load_norm(loader *L, hv_norm *n, const char *prefix, int c) {
    char name[256];
    VS_TRY(tensor_name(name, sizeof name, "%s.weight", prefix));
    VS_TRY(load(L, name, 1, (int64_t[]){c}, &n->gamma));
    VS_TRY(tensor_name(name, sizeof name, "%s.bias", prefix));
    VS_TRY(load(L, name, 1, (int64_t[]){c}, &n->beta));
    n->c = c;
    return VS_OK;
}

static vs_status load_res(loader *L, hv_res *r, const char *prefix, int in, int out) {
    char name[256];
    VS_TRY(tensor_name(name, sizeof name, "%s.norm1", prefix));
    VS_TRY(load_norm(L, &r->norm1, name, in));
    VS_TRY(tensor_name(name, sizeof name, "%s.conv1.conv", prefix));
    VS_TRY(load_conv(L, &r->conv1, name, in, out, 3));
    VS_TRY(tensor_name(name, sizeof name, "%s.norm2", prefix));
    VS_TRY(load_norm(L, &r->norm2, name, out));
    VS_TRY(tensor_name(name, sizeof name, "%s.conv2.conv", prefix));
    VS_TRY(load_conv(L, &r->conv2, name, out, out, 3));
    r->has_shortcut = in != out;
    if (r->has_shortcut) {
        VS_TRY(tensor_name(name, sizeof name, "%s.conv_shortcut.conv", prefix));
        VS_TRY(load_conv(L, &r->shortcut, name, in, out, 1));
    }
    return VS_OK;
}

static vs_status load_attn(loader *L, hv_attn *a, const char *prefix, int c) {
    char name[256];
    const char *proj[4] = {"to_q", "to_k", "to_v", "to_out.0"};
    vs_tensor *w[4] = {&a->wq, &a->wk, &a->wv, &a->wo}, *b[4] = {&a->bq, &a->bk, &a->bv, &a->bo};
    VS_TRY(tensor_name(name, sizeof name, "%s.group_norm", prefix));
    VS_TRY(load_norm(L, &a->norm, name, c));
    for (int i = 0; i < 4; i++) {
        VS_TRY(tensor_name(name, sizeof name, "%s.%s.weight", prefix, proj[i]));
        VS_TRY(load(L, name, 2, (int64_t[]){c, c}, w[i]));
        VS_TRY(tensor_name(name, sizeof name, "%s.%s.bias", prefix, proj[i]));
        VS_TRY(load(L, name, 1, (int64_t[]){c}, b[i]));
    }
    return VS_OK;
}

/* HunyuanVideoDecoder3D: conv_in to the widest channels, the mid block, the up blocks along
 * block_out_channels reversed, then GroupNorm, SiLU and conv_out. */
static vs_status build(loader *L, vs_hunyuan_vae *m) {
    const hv_config *c = &m->cfg;
    const int top = c->block_out[c->n_blocks - 1];
    char name[256];
    VS_TRY(load_conv(L, &m->post_quant, "post_quant_conv", c->latent_channels, c->latent_channels, 1));
    VS_TRY(load_conv(L, &m->conv_in, "decoder.conv_in.conv", c->latent_channels, top, 3));
    VS_TRY(load_res(L, &m->mid_res[0], "decoder.mid_block.resnets.0", top, top));
    if (c->mid_attention) VS_TRY(load_attn(L, &m->mid_attn, "decoder.mid_block.attentions.0", top));
    VS_TRY(load_res(L, &m->mid_res[1], "decoder.mid_block.resnets.1", top, top));
    int prev = top;
    for (int i = 0; i < c->n_blocks; i++) {
        hv_up *u = &m->up[i];
        const int out = c->block_out[c->n_blocks - 1 - i];
        u->n_res = c->layers_per_block + 1;
        for (int j = 0; j < u->n_res; j++) {
            VS_TRY(tensor_name(name, sizeof name, "decoder.up_blocks.%d.resnets.%d", i, j));
            VS_TRY(load_res(L, &u->res[j], name, j ? out : prev, out));
        }
        up_factors(c, i, &u->up_t, &u->up_s);
        if (u->up_t > 1 || u->up_s > 1) {
            VS_TRY(tensor_name(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0.conv.conv", i));
            VS_TRY(load_conv(L, &u->conv, name, out, out, 3));
        }
        prev = out;
    }
    VS_TRY(load_norm(L, &m->norm_out, "decoder.conv_norm_out", c->block_out[0]));
    VS_TRY(load_conv(L, &m->conv_out, "decoder.conv_out.conv", c->block_out[0], c->out_channels, 3));
    return VS_OK;
}

/* A decoder weight the config does not account for means config and weights disagree. */
static vs_status check_all_used(const loader *L) {
    size_t n = 0;
    const char *extra = NULL;
    for (size_t i = 0; i < vs_safetensors_count(L->st); i++) {
        const char *name = vs_safetensors_entry(L->st, i)->name;
        if (strncmp(name, "decoder.", 8) && strncmp(name, "post_quant_conv.", 16)) continue;
        n++;
        extra = name;
    }
    if (n != L->n_used)
        return vs_fail(VS_ERR_FORMAT, "%zu decoder weights but config.json describes %zu (e.g. %s)", n,
                       L->n_used, extra ? extra : "?");
    return VS_OK;
}

static void free_conv(hv_conv *cv) {
    vs_tensor *t[4] = {&cv->weight, &cv->bias, &cv->dweight, &cv->dbias};
    for (int i = 0; i < 4; i++)
        vs_tensor_free(t[i]);
}

static void free_norm(hv_norm *n) {
    vs_tensor *t[4] = {&n->gamma, &n->beta, &n->dgamma, &n->dbeta};
    for (int i = 0; i < 4; i++)
        vs_tensor_free(t[i]);
}

static void free_res(hv_res *r) {
    free_norm(&r->norm1);
    free_norm(&r->norm2);
    free_conv(&r->conv1);
    free_conv(&r->conv2);
    free_conv(&r->shortcut);
}

void vs_hunyuan_vae_free(vs_hunyuan_vae *m) {
    if (!m) return;
#if VS_HAVE_CUDA
    vs_hunyuan_vae_cuda_release(m);
#endif
    free_conv(&m->post_quant);
    free_conv(&m->conv_in);
    free_conv(&m->conv_out);
    for (int i = 0; i < 2; i++)
        free_res(&m->mid_res[i]);
    hv_attn *a = &m->mid_attn;
    free_norm(&a->norm);
    vs_tensor *t[12] = {&a->wq, &a->bq, &a->wk,     &a->bk,     &a->wv,     &a->bv,
                        &a->wo, &a->bo, &a->dqkv_w, &a->dqkv_b, &a->dout_w, &a->dout_b};
    for (int i = 0; i < 12; i++)
        vs_tensor_free(t[i]);
    for (int i = 0; i < HV_MAX_BLOCKS; i++) {
        for (int j = 0; j < HV_MAX_RES; j++)
            free_res(&m->up[i].res[j]);
        free_conv(&m->up[i].conv);
    }
    free_norm(&m->norm_out);
    free(m);
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

/* A model of config `c` from `st` (NULL: seeded random weights) on `device`. */
static vs_status make(vs_hunyuan_vae **out, const hv_config *c, const vs_safetensors *st, uint64_t seed,
                      vs_device device) {
    vs_hunyuan_vae *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "out of memory loading the VAE");
    m->cfg = *c;
    m->tiling = default_tiling;
    m->device = device;
    loader L = {st, seed, 0};
    vs_status s = build(&L, m);
    if (s == VS_OK && st) s = check_all_used(&L);
#if VS_HAVE_CUDA
    if (s == VS_OK && device == VS_CUDA) s = vs_hunyuan_vae_cuda_upload(m);
#endif
    if (s != VS_OK) {
        vs_hunyuan_vae_free(m);
        return s;
    }
    *out = m;
    return VS_OK;
}

vs_status vs_hunyuan_vae_load(vs_hunyuan_vae **out, const char *dir, vs_device device) {
    *out = NULL;
    VS_TRY(check_device(device));
    hv_config c;
    VS_TRY(config_from_dir(dir, &c));
    vs_safetensors *st = NULL;
    vs_status s = vs_safetensors_open(&st, dir);
    if (s == VS_OK) s = make(out, &c, st, 0, device);
    vs_safetensors_close(st);
    if (s != VS_OK) return vs_fail_context(s, "loading the HunyuanVideo VAE from %s", dir);
    return VS_OK;
}

vs_status vs_hunyuan_vae_random(vs_hunyuan_vae **out, vs_device device, uint64_t seed) {
    *out = NULL;
    VS_TRY(check_device(device));
    vs_status s = make(out, &released_config, NULL, seed, device);
    if (s != VS_OK) return vs_fail_context(s, "random HunyuanVideo VAE");
    return VS_OK;
}

vs_status vs_hunyuan_vae_set_tiling(vs_hunyuan_vae *vae, int tile_h, int tile_w, int tile_frames,
                                    int stride_h, int stride_w, int stride_frames) {
    const int sr = vae->cfg.spatial_ratio, tr = vae->cfg.temporal_ratio;
    const int v[6] = {tile_h, tile_w, stride_h, stride_w, tile_frames, stride_frames};
    for (int i = 0; i < 6; i++) {
        int unit = i < 4 ? sr : tr;
        if (v[i] < unit || v[i] % unit)
            return vs_fail(VS_ERR_INVALID_ARG, "VAE tile %s must be positive multiples of %d, got %d",
                           i < 4 ? "sizes and strides" : "frame counts", unit, v[i]);
    }
    if (stride_h > tile_h || stride_w > tile_w || stride_frames > tile_frames)
        return vs_fail(VS_ERR_INVALID_ARG, "VAE tile strides %dx%dx%d exceed the tile %dx%dx%d",
                       stride_frames, stride_h, stride_w, tile_frames, tile_h, tile_w);
    hv_tiling t = {tile_h, tile_w, tile_frames, stride_h, stride_w, stride_frames};
    vae->tiling = t;
    return VS_OK;
}

/* ---- the CPU decode of one tile ---------------------------------------------------------------- */

/* *x = y, freeing the old x. */
static void act_replace(vs_frames *x, vs_frames *y) {
    vs_frames_free(x);
    *x = *y;
}

/* y = conv(x) (+ res): every frame replicate-padded by one pixel (k = 3), then a "same" convolution of the
 * padded frame whose interior is the valid result; output frame i reads input frames max(i - dt, 0)
 * (the causal replicate padding in time is a clamp of the frame index). */
static vs_status conv_step(const hv_conv *cv, const vs_frames *x, const vs_frames *res, vs_frames *y) {
    if (x->c != cv->cin) return vs_fail(VS_ERR_SHAPE, "VAE conv expects %d channels, got %d", cv->cin, x->c);
    const int p = cv->k / 2, ph = x->h + 2 * p, pw = x->w + 2 * p;
    vs_frames padded = *x, full = {0};
    vs_status s = vs_frames_alloc(y, x->t, cv->cout, x->h, x->w);
    if (s == VS_OK && p) s = vs_frames_alloc(&padded, x->t, x->c, ph, pw);
    if (s == VS_OK && p) s = vs_frames_alloc(&full, 1, cv->cout, ph, pw);
    for (int f = 0; s == VS_OK && p && f < x->t; f++)
        for (int ch = 0; ch < x->c; ch++)
            for (int yy = 0; yy < ph; yy++) {
                int sy = yy - p < 0 ? 0 : yy - p >= x->h ? x->h - 1 : yy - p;
                const float *src = x->d + (((size_t)f * x->c + ch) * x->h + sy) * x->w;
                float *dst = padded.d + (((size_t)f * x->c + ch) * ph + yy) * pw;
                for (int xx = 0; xx < pw; xx++)
                    dst[xx] = src[xx - p < 0 ? 0 : xx - p >= x->w ? x->w - 1 : xx - p];
            }
    for (int f = 0; s == VS_OK && f < x->t; f++) {
        const float *taps[3];
        for (int dt = 0; dt < cv->k; dt++) {
            int src = f - (cv->k - 1) + dt;
            taps[dt] = padded.d + (size_t)(src < 0 ? 0 : src) * vs_frames_size(&padded);
        }
        float *out = p ? full.d : y->d + (size_t)f * vs_frames_size(y);
        s = vs_cpu_conv_frame(out, taps, cv->k, cv->cin, ph, pw, cv->weight.data, cv->bias.data, cv->cout,
                              cv->k, cv->k);
        for (int ch = 0; s == VS_OK && p && ch < cv->cout; ch++)
            for (int yy = 0; yy < x->h; yy++)
                memcpy(y->d + (((size_t)f * cv->cout + ch) * x->h + yy) * x->w,
                       full.d + ((size_t)ch * ph + yy + p) * pw + p, sizeof(float) * (size_t)x->w);
    }
    if (p) vs_frames_free(&padded);
    vs_frames_free(&full);
    if (s == VS_OK && res) {
        size_t n = (size_t)y->t * vs_frames_size(y);
        for (size_t i = 0; i < n; i++)
            y->d[i] += res->d[i];
    }
    if (s != VS_OK) vs_frames_free(y);
    return s;
}

/* GroupNorm over the whole tile (each group's channels, all frames and pixels; f64 statistics), then SiLU
 * when silu; y may be x. */
static void group_norm(const hv_norm *n, int groups, const vs_frames *x, float *y, int silu) {
    const int cg = x->c / groups;
    const size_t hw = (size_t)x->h * x->w;
    const float *gamma = n->gamma.data, *beta = n->beta.data;
    for (int g = 0; g < groups; g++) {
        double sum = 0, sq = 0;
        for (int f = 0; f < x->t; f++)
            for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                const float *v = x->d + ((size_t)f * x->c + ch) * hw;
                for (size_t i = 0; i < hw; i++)
                    sum += v[i], sq += (double)v[i] * v[i];
            }
        const double count = (double)x->t * cg * hw, mean = sum / count;
        const double var = sq / count - mean * mean;
        const float inv = (float)(1.0 / sqrt((var > 0 ? var : 0) + HV_GROUP_EPS));
        for (int f = 0; f < x->t; f++)
            for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                const size_t off = ((size_t)f * x->c + ch) * hw;
                const float a = inv * gamma[ch], b = beta[ch] - (float)mean * a;
                for (size_t i = 0; i < hw; i++) {
                    float t = x->d[off + i] * a + b;
                    y[off + i] = silu ? t / (1.0f + expf(-t)) : t;
                }
            }
    }
}

/* HunyuanVideoResnetBlockCausal3D: shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))). */
static vs_status res_step(const hv_res *r, int groups, vs_frames *x) {
    vs_frames h = {0}, a = {0}, sc = *x, y = {0};
    vs_status s = vs_frames_alloc(&h, x->t, x->c, x->h, x->w);
    if (s == VS_OK) group_norm(&r->norm1, groups, x, h.d, 1);
    if (s == VS_OK) s = conv_step(&r->conv1, &h, NULL, &a);
    vs_frames_free(&h);
    if (s == VS_OK) group_norm(&r->norm2, groups, &a, a.d, 1);
    if (s == VS_OK && r->has_shortcut) s = conv_step(&r->shortcut, x, NULL, &sc);
    if (s == VS_OK) s = conv_step(&r->conv2, &a, &sc, &y);
    vs_frames_free(&a);
    if (sc.d != x->d) vs_frames_free(&sc);
    if (s == VS_OK) act_replace(x, &y);
    return s;
}

/* out[n][o] = in[n][:] . w[o][:] + b[o] over n tokens of width c. */
static void linear(float *out, const float *in, const vs_tensor *w, const vs_tensor *b, int64_t n, int c) {
    const float *bias = b->data;
    for (int64_t i = 0; i < n; i++)
        memcpy(out + i * c, bias, sizeof(float) * (size_t)c);
    vs_cpu_gemm(0, 1, n, c, c, 1.0f, in, c, w->data, c, 1.0f, out, c);
}

/* The mid-block attention over the n = t h w pixels of the tile, tokens frame by frame: the queries of
 * frame f attend to the keys of frames 0..f (diffusers' prepare_causal_attention_mask). */
static vs_status attn_step(const hv_attn *a, int groups, vs_frames *x) {
    const int c = x->c;
    const int64_t p = (int64_t)x->h * x->w, n = (int64_t)x->t * p;
    float *xn = malloc(sizeof(float) * (size_t)(c * n)), *tok = malloc(sizeof(float) * (size_t)(c * n));
    float *q = malloc(sizeof(float) * (size_t)(c * n)), *k = malloc(sizeof(float) * (size_t)(c * n));
    float *v = malloc(sizeof(float) * (size_t)(c * n)), *s = malloc(sizeof(float) * (size_t)(p * n));
    vs_status st =
        xn && tok && q && k && v && s ? VS_OK : vs_fail(VS_ERR_OOM, "out of memory for VAE attention");
    if (st == VS_OK) {
        group_norm(&a->norm, groups, x, xn, 0);
        for (int f = 0; f < x->t; f++) /* [c][p] planes -> [p][c] tokens */
            for (int ch = 0; ch < c; ch++)
                for (int64_t i = 0; i < p; i++)
                    tok[(f * p + i) * c + ch] = xn[((int64_t)f * c + ch) * p + i];
        linear(q, tok, &a->wq, &a->bq, n, c);
        linear(k, tok, &a->wk, &a->bk, n, c);
        linear(v, tok, &a->wv, &a->bv, n, c);
        for (int f = 0; f < x->t; f++) {
            const int64_t keys = (int64_t)(f + 1) * p;
            vs_cpu_gemm(0, 1, p, keys, c, 1.0f / sqrtf((float)c), q + f * p * c, c, k, c, 0.0f, s, keys);
            vs_cpu_softmax_rows(s, p, keys);
            vs_cpu_gemm(0, 0, p, c, keys, 1.0f, s, keys, v, c, 0.0f, tok + f * p * c, c);
        }
        linear(q, tok, &a->wo, &a->bo, n, c);
        for (int f = 0; f < x->t; f++)
            for (int ch = 0; ch < c; ch++)
                for (int64_t i = 0; i < p; i++)
                    x->d[((int64_t)f * c + ch) * p + i] += q[(f * p + i) * c + ch];
    }
    free(xn);
    free(tok);
    free(q);
    free(k);
    free(v);
    free(s);
    return st;
}

/* HunyuanVideoUpsampleCausal3D: nearest upsampling, frame 0 in space only, the others by (up_t, up_s, up_s);
 * then the causal conv. */
static vs_status upsample_step(const hv_up *u, vs_frames *x) {
    const int t2 = 1 + u->up_t * (x->t - 1), h2 = x->h * u->up_s, w2 = x->w * u->up_s;
    vs_frames up, y;
    VS_TRY(vs_frames_alloc(&up, t2, x->c, h2, w2));
    for (int f = 0; f < t2; f++) {
        const int src = f == 0 ? 0 : 1 + (f - 1) / u->up_t;
        for (int ch = 0; ch < x->c; ch++)
            for (int yy = 0; yy < h2; yy++) {
                const float *row = x->d + (((size_t)src * x->c + ch) * x->h + yy / u->up_s) * x->w;
                float *dst = up.d + (((size_t)f * x->c + ch) * h2 + yy) * w2;
                for (int xx = 0; xx < w2; xx++)
                    dst[xx] = row[xx / u->up_s];
            }
    }
    vs_status s = conv_step(&u->conv, &up, NULL, &y);
    vs_frames_free(&up);
    if (s == VS_OK) act_replace(x, &y);
    return s;
}

/* HunyuanVideoDecoder3D.forward on one tile z [t][C][h][w] (after post_quant_conv) -> [1 + tr (t -
 * 1)][3][H][W]. */
static vs_status decode_tile_cpu(const vs_hunyuan_vae *m, const float *z, int t, int h, int w, float *video) {
    const hv_config *c = &m->cfg;
    vs_frames zin = {(float *)z, t, c->latent_channels, h, w}, x;
    VS_TRY(conv_step(&m->conv_in, &zin, NULL, &x));
    vs_status s = res_step(&m->mid_res[0], c->groups, &x);
    if (s == VS_OK && c->mid_attention) s = attn_step(&m->mid_attn, c->groups, &x);
    if (s == VS_OK) s = res_step(&m->mid_res[1], c->groups, &x);
    for (int i = 0; s == VS_OK && i < c->n_blocks; i++) {
        for (int j = 0; s == VS_OK && j < m->up[i].n_res; j++)
            s = res_step(&m->up[i].res[j], c->groups, &x);
        if (s == VS_OK && (m->up[i].up_t > 1 || m->up[i].up_s > 1)) s = upsample_step(&m->up[i], &x);
    }
    vs_frames y = {0};
    if (s == VS_OK) group_norm(&m->norm_out, c->groups, &x, x.d, 1);
    if (s == VS_OK) s = conv_step(&m->conv_out, &x, NULL, &y);
    vs_frames_free(&x);
    if (s == VS_OK) memcpy(video, y.d, sizeof(float) * (size_t)y.t * vs_frames_size(&y));
    vs_frames_free(&y);
    return s;
}

static vs_status decode_tile(vs_hunyuan_vae *m, const float *z, int t, int h, int w, float *video) {
#if VS_HAVE_CUDA
    if (m->device == VS_CUDA) return vs_hunyuan_vae_cuda_decode_tile(m, z, t, h, w, video);
#endif
    return decode_tile_cpu(m, z, t, h, w, video);
}

/* ---- tiling ----------------------------------------------------------------------------------- */

/* Decodes z [t][C][h][w] whole into *out. */
static vs_status decode_whole(vs_hunyuan_vae *m, const vs_frames *z, vs_frames *out) {
    const int sr = m->cfg.spatial_ratio;
    VS_TRY(vs_frames_alloc(out, 1 + m->cfg.temporal_ratio * (z->t - 1), m->cfg.out_channels, z->h * sr,
                           z->w * sr));
    vs_status s = decode_tile(m, z->d, z->t, z->h, z->w, out->d);
    if (s != VS_OK) vs_frames_free(out);
    return s;
}

/* vs_frames_decoder for diffusers' tiled_decode (vs_frames_decode_tiled). */
static vs_status decode_part(void *m, const vs_frames *z, vs_frames *out) {
    return decode_whole(m, z, out);
}

/* One tile of frames: spatially tiled when `tiled` and the frame is larger than a tile. */
static vs_status decode_frames(vs_hunyuan_vae *m, const vs_frames *z, int tiled, vs_frames *out) {
    const int sr = m->cfg.spatial_ratio;
    if (tiled && (z->w > m->tiling.tile_w / sr || z->h > m->tiling.tile_h / sr))
        return vs_frames_decode_tiled(z, sr, m->tiling.tile_h, m->tiling.tile_w, m->tiling.stride_h,
                                      m->tiling.stride_w, decode_part, m, out);
    return decode_whole(m, z, out);
}

/* diffusers' _temporal_tiled_decode (its framewise decoding, on whatever `tiled` says): tiles of
 * tile_t / tr + 1 latent frames start every stride_t / tr; each decoded tile but the first loses its first
 * frame, fades in over the previous (blended) tile's last tile_t - stride_t frames, and gives its first
 * stride_t frames (the first tile stride_t + 1). Streams: only the previous tile is held. */
static vs_status decode_temporal_tiles(vs_hunyuan_vae *m, const vs_frames *z, int tiled, vs_frames *video) {
    const hv_tiling *T = &m->tiling;
    const int tr = m->cfg.temporal_ratio, sr = m->cfg.spatial_ratio;
    const int tile = T->tile_t / tr, step = T->stride_t / tr, total = 1 + tr * (z->t - 1);
    VS_TRY(vs_frames_alloc(video, total, m->cfg.out_channels, z->h * sr, z->w * sr));
    const size_t zfs = vs_frames_size(z), vfs = vs_frames_size(video);
    vs_frames prev = {0};
    int done = 0;
    vs_status s = VS_OK;
    for (int i = 0; s == VS_OK && i < z->t; i += step) {
        const int n = z->t - i < tile + 1 ? z->t - i : tile + 1;
        vs_frames part = {z->d + (size_t)i * zfs, n, z->c, z->h, z->w}, cur;
        s = decode_frames(m, &part, tiled, &cur);
        if (s != VS_OK) break;
        if (i > 0) { /* drop the first frame (latent frame i alone, which the previous tile covers too) */
            memmove(cur.d, cur.d + vfs, sizeof(float) * (size_t)(cur.t - 1) * vfs);
            cur.t--;
            vs_frames_blend_frames(&prev, &cur, T->tile_t - T->stride_t);
        }
        int keep = i > 0 ? T->stride_t : T->stride_t + 1;
        if (keep > cur.t) keep = cur.t;
        if (keep > total - done) keep = total - done;
        memcpy(video->d + (size_t)done * vfs, cur.d, sizeof(float) * (size_t)keep * vfs);
        done += keep;
        act_replace(&prev, &cur);
    }
    vs_frames_free(&prev);
    if (s == VS_OK && done != total)
        s = vs_fail(VS_ERR_SHAPE, "VAE temporal tiles gave %d of %d frames", done, total);
    if (s != VS_OK) vs_frames_free(video);
    return s;
}

vs_status vs_hunyuan_vae_decode(vs_hunyuan_vae *m, const vs_tensor *latents, int tiled, vs_tensor *video) {
    memset(video, 0, sizeof *video);
    if (!m || !latents || !latents->data)
        return vs_fail(VS_ERR_INVALID_ARG, "VAE decode: no model or latents");
    const int zc = m->cfg.latent_channels;
    const int64_t *sh = latents->shape;
    if (latents->dtype != VS_F32 || latents->device != VS_CPU || !vs_tensor_is_contiguous(latents) ||
        latents->ndim != 5 || sh[0] != 1 || sh[1] != zc || sh[2] < 1 || sh[3] < 1 || sh[4] < 1 ||
        sh[2] > 100000 || sh[3] > 4096 || sh[4] > 4096)
        return vs_fail(
            VS_ERR_SHAPE,
            "HunyuanVideo VAE decode wants contiguous host f32 latents [1, %d, F, H, W], got %s of rank %d "
            "[%lld, %lld, ...]",
            zc, vs_dtype_name(latents->dtype), latents->ndim, (long long)sh[0],
            (long long)(latents->ndim > 1 ? sh[1] : 0));
    if (tiled < 0) tiled = m->device == VS_CUDA;

    /* The pipeline's latents / scaling_factor, frame-major, then post_quant_conv: a 1x1x1 conv, pointwise, so
     * it commutes with tiling and runs once here. */
    const int t = (int)sh[2], h = (int)sh[3], w = (int)sh[4];
    vs_frames z, zq;
    VS_TRY(vs_frames_alloc(&z, t, zc, h, w));
    const float *src = latents->data, inv = (float)(1.0 / m->cfg.scaling_factor);
    const size_t hw = (size_t)h * w;
    for (int ch = 0; ch < zc; ch++)
        for (int f = 0; f < t; f++)
            for (size_t p = 0; p < hw; p++)
                z.d[((size_t)f * zc + ch) * hw + p] = src[((size_t)ch * t + f) * hw + p] * inv;
    vs_status s = conv_step(&m->post_quant, &z, NULL, &zq);
    vs_frames_free(&z);
    if (s != VS_OK) return s;
    vs_frames out = {0};
    if (t > m->tiling.tile_t / m->cfg.temporal_ratio)
        s = decode_temporal_tiles(m, &zq, tiled, &out);
    else
        s = decode_frames(m, &zq, tiled, &out);
    vs_frames_free(&zq);
#if VS_HAVE_CUDA
    if (m->device == VS_CUDA) vs_hunyuan_vae_cuda_release(m);
#endif
    if (s != VS_OK) return s;
    const size_t n = (size_t)out.t * vs_frames_size(&out);
    for (size_t i = 0; i < n; i++)
        out.d[i] = out.d[i] < -1.0f ? -1.0f : out.d[i] > 1.0f ? 1.0f : out.d[i];
    *video = vs_tensor_view(out.d, VS_F32, VS_CPU, 4, (int64_t[]){out.t, out.c, out.h, out.w});
    video->owned = 1;
    return VS_OK;
}

/* ---- memory estimate --------------------------------------------------------------------------- */

/* GPU bytes of a causal convolution's weights (BF16, output channels padded to 8) and F32 bias. */
static size_t conv_weight_bytes(int64_t cin, int64_t cout, int k) {
    const int64_t pad = (cout + 7) / 8 * 8;
    return (size_t)(pad * cin * k * k * k * 2 + pad * 4);
}

static size_t res_weight_bytes(int64_t in, int64_t out) {
    return conv_weight_bytes(in, out, 3) + conv_weight_bytes(out, out, 3) + (size_t)(in + out) * 8 +
           (in != out ? conv_weight_bytes(in, out, 1) : 0);
}

/* The CUDA decode of one tile of t x h x w latents as vae_cuda.c runs it: the largest BF16 activation
 * (channels x frames x padded pixels, at a resnet or an upsampler) held seven times over (a resnet's F32
 * input and F32 conv1 output, two each, its normalised copy, the replicate-padded copy and a raw convolution
 * output, as the pool's best fit keeps them: about 7.1 by hand; a replay of the pool's requests before the
 * F32 stream gave 6.8), the mid-block attention's scores for one frame of queries, and the F32 tile going
 * up and coming down. */
static void estimate(const hv_config *c, int t, int h, int w, size_t *weights, size_t *work) {
    const int64_t top = c->block_out[c->n_blocks - 1];
    size_t wb = conv_weight_bytes(c->latent_channels, top, 3) + 2 * res_weight_bytes(top, top) +
                (c->mid_attention ? (size_t)(top * 8 + 4 * top * top * 2 + 4 * top * 4) : 0);
    int64_t frames = t, hh = h, ww = w, largest = top * frames * (hh + 2) * (ww + 2), prev = top;
    for (int i = 0; i < c->n_blocks; i++) {
        const int64_t out = c->block_out[c->n_blocks - 1 - i];
        for (int j = 0; j <= c->layers_per_block; j++)
            wb += res_weight_bytes(j ? out : prev, out);
        const int64_t resnets =
            (prev > out ? prev : out) * frames * (hh + 2) * (ww + 2); /* before upsampling */
        if (resnets > largest) largest = resnets;
        int ut, us;
        up_factors(c, i, &ut, &us);
        if (ut > 1 || us > 1) {
            wb += conv_weight_bytes(out, out, 3);
            frames = 1 + ut * (frames - 1), hh *= us, ww *= us;
            const int64_t upsampled = out * frames * (hh + 2) * (ww + 2);
            if (upsampled > largest) largest = upsampled;
        }
        prev = out;
    }
    wb += conv_weight_bytes(c->block_out[0], c->out_channels, 3) + (size_t)c->block_out[0] * 8;
    *weights = wb;
    const int64_t p = (int64_t)h * w, scores = c->mid_attention ? p * (int64_t)t * p * 2 : 0;
    *work = (size_t)(7 * largest * 2 + scores +
                     ((int64_t)c->latent_channels * t * p + (int64_t)c->out_channels * frames * hh * ww) * 4);
}

vs_status vs_hunyuan_vae_estimate(const char *dir, int latent_frames, int latent_h, int latent_w, int tiled,
                                  size_t *weights, size_t *work) {
    if (latent_frames < 1 || latent_h < 1 || latent_w < 1)
        return vs_fail(VS_ERR_INVALID_ARG, "VAE estimate: latent grid %dx%dx%d", latent_frames, latent_h,
                       latent_w);
    hv_config c;
    VS_TRY(config_from_dir(dir, &c));
    /* Framewise decoding always cuts time into tiles of tile_t / tr + 1 latent frames; tiling also cuts
     * space. */
    const hv_tiling *T = &default_tiling;
    const int tile_t = T->tile_t / c.temporal_ratio + 1;
    const int t = latent_frames > tile_t - 1 ? tile_t : latent_frames;
    int h = latent_h, w = latent_w;
    if (tiled && (h > T->tile_h / c.spatial_ratio || w > T->tile_w / c.spatial_ratio)) {
        h = h < T->tile_h / c.spatial_ratio ? h : T->tile_h / c.spatial_ratio;
        w = w < T->tile_w / c.spatial_ratio ? w : T->tile_w / c.spatial_ratio;
    }
    estimate(&c, t, h, w, weights, work);
    return VS_OK;
}
