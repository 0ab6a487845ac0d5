/* The CogVideoX VAE decoder and encoder on CUDA: the frame batches of vae.c's CPU code
 * with bf16 channels-last activations ([t][h][w][c]: a pixel's channels are
 * one row), cuDNN convolutions accumulating in f32 (ops' conv_frames), the
 * group norm of backend/cuda/vae_group_norm.h with the spatial norm's
 * modulation and the SiLU fused into it, and vae_cuda.h's upsampling and
 * layout kernels.
 *
 * A causal 3x3x3 convolution is the sum of three 2D convolutions over frame
 * runs shifted by one: the batch is copied after its two history frames (the
 * last two input frames of the previous batch, or twice its own first frame
 * on the first batch) and tap dt reads the run starting at frame dt. The
 * spatial norms' 1x1 convolutions of the latents run at latent resolution;
 * the norm kernel reads them through the nearest-neighbour map. Latent
 * channels are zero-padded to a multiple of 8 (cuDNN's 16-byte rows), as is
 * the RGB output's 3. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/vae_cuda.h"
#include "backend/cuda/vae_group_norm.h"
#include "backend/cuda/vae_resample.h"
#include "core/devmem.h"
#include "core/dtype.h"
#include "core/status.h"
#include "models/cogvideox/vae_internal.h"
#include "models/common/vae_device.h"
#include "ops/ops.h"

static int pad8(int c) { return (c + 7) / 8 * 8; }

/* ---- weights on the device ------------------------------------------------------------ */

/* cuDNN's layout, both channel counts padded to multiples of 8 (vs_vae_upload_conv). */
static vs_status upload_conv(conv *c) {
    c->cin_pad = pad8(c->cin), c->cout_pad = pad8(c->cout);
    return vs_vae_upload_conv(c->weight.data, c->bias.data, c->cout, c->cin, c->kt, c->k, c->k, &c->dweight, &c->dbias);
}

static vs_status upload_norm(norm *n) {
    if (n->channels % 8)
        return vs_fail(VS_ERR_UNSUPPORTED, "the CUDA VAE needs widths that are multiples of 8, not %d", n->channels);
    VS_TRY(vs_vae_upload(&n->dweight, VS_F32, n->weight.data, 1, (int64_t[]){n->channels}));
    VS_TRY(vs_vae_upload(&n->dbias, VS_F32, n->bias.data, 1, (int64_t[]){n->channels}));
    if (!n->spatial) return VS_OK;
    VS_TRY(upload_conv(&n->conv_y));
    return upload_conv(&n->conv_b);
}

static vs_status upload_resnet(resnet *r) {
    VS_TRY(upload_norm(&r->norm1));
    VS_TRY(upload_norm(&r->norm2));
    VS_TRY(upload_conv(&r->conv1));
    VS_TRY(upload_conv(&r->conv2));
    return r->has_shortcut ? upload_conv(&r->shortcut) : VS_OK;
}

static size_t bytes_of(const vs_tensor *t) { return t->data ? (size_t)vs_tensor_numel(t) * vs_dtype_size(t->dtype) : 0; }
static size_t conv_bytes(const conv *c) { return bytes_of(&c->dweight) + bytes_of(&c->dbias); }
static size_t norm_bytes(const norm *n) {
    return bytes_of(&n->dweight) + bytes_of(&n->dbias) + conv_bytes(&n->conv_y) + conv_bytes(&n->conv_b);
}
static size_t resnet_bytes(const resnet *r) {
    return norm_bytes(&r->norm1) + norm_bytes(&r->norm2) + conv_bytes(&r->conv1) + conv_bytes(&r->conv2) +
           conv_bytes(&r->shortcut);
}

/* One coder's weights to the device; *bytes += their size. */
static vs_status upload_coder(coder *d, int num_blocks, size_t *bytes) {
    VS_TRY(upload_conv(&d->conv_in));
    *bytes += conv_bytes(&d->conv_in);
    for (int j = 0; j < 2; j++) {
        VS_TRY(upload_resnet(&d->mid[j]));
        *bytes += resnet_bytes(&d->mid[j]);
    }
    for (int i = 0; i < num_blocks; i++) {
        block *b = &d->blocks[i];
        for (int j = 0; j < b->n_resnets; j++) {
            VS_TRY(upload_resnet(&b->resnets[j]));
            *bytes += resnet_bytes(&b->resnets[j]);
        }
        if (b->resample) VS_TRY(upload_conv(&b->sampler));
        *bytes += conv_bytes(&b->sampler);
    }
    VS_TRY(upload_norm(&d->norm_out));
    VS_TRY(upload_conv(&d->conv_out));
    *bytes += norm_bytes(&d->norm_out) + conv_bytes(&d->conv_out);
    return VS_OK;
}

vs_status vs_cogvideox_vae_cuda_upload(vs_cogvideox_vae *m) {
    size_t bytes = 0;
    VS_TRY(upload_coder(&m->enc, m->cfg.num_blocks, &bytes));
    VS_TRY(upload_coder(&m->dec, m->cfg.num_blocks, &bytes));
    m->memory.weights = bytes;
    return VS_OK;
}

/* ---- activations ------------------------------------------------------------------------- */

/* t channels-last BF16 frames [t][h][w][c]. */
typedef struct {
    uint16_t *d;
    int t, c, h, w;
} gact;

static size_t frame_bytes(const gact *a) { return sizeof(uint16_t) * (size_t)a->h * a->w * a->c; }

#define MAX_SLOTS 256

/* One tile's decode in progress. */
typedef struct {
    vs_devpool *pool; /* the model's */
    uint16_t *hist[MAX_SLOTS]; /* per causal convolution: its 2 history frames, NULL before the first batch */
    void *norm_scratch;
    int groups;
} gstate;

static vs_status gact_alloc(gstate *st, gact *a, int t, int c, int h, int w) {
    *a = (gact){NULL, t, c, h, w};
    void *p = NULL;
    vs_status s = vs_devpool_get(st->pool, (size_t)t * frame_bytes(a), &p);
    if (s != VS_OK)
        return vs_fail_context(s, "GPU memory for a %dx%dx%dx%d VAE activation (%zu MiB held)", t, c, h, w,
                               st->pool->bytes >> 20);
    a->d = p;
    return VS_OK;
}

static void gact_free(gstate *st, gact *a) {
    vs_devpool_put(st->pool, a->d);
    a->d = NULL;
}

/* *x = *y, releasing x's buffer. */
static void replace(gstate *st, gact *x, gact *y) {
    gact_free(st, x);
    *x = *y;
}

static vs_tensor frames_of(const gact *a) {
    return vs_tensor_view(a->d, VS_BF16, VS_CUDA, 4, (int64_t[]){a->t, a->h, a->w, a->c});
}


/* ---- the layers ---------------------------------------------------------------------------- */

/* y = conv(x) (+ bias when with_bias) (+ res); causal convolutions read [history, x] and keep its last two
 * frames as the next batch's history. */
static vs_status conv_step(gstate *st, const conv *c, const gact *x, const gact *res, int with_bias, gact *y) {
    if (x->c != c->cin_pad) return vs_fail(VS_ERR_SHAPE, "VAE conv expects %d channels, got %d", c->cin_pad, x->c);
    const int pad = c->kt - 1;
    const size_t fb = frame_bytes(x), fv = fb / sizeof(uint16_t);
    gact in = *x, cat = {0};
    vs_status s = VS_OK;
    if (pad) {
        uint16_t **hist = &st->hist[c->slot];
        s = gact_alloc(st, &cat, x->t + pad, x->c, x->h, x->w);
        for (int i = 0; s == VS_OK && i < pad; i++) s = vs_vae_copy_bf16(cat.d + i * fv, *hist ? *hist + i * fv : x->d, fv);
        if (s == VS_OK) s = vs_vae_copy_bf16(cat.d + pad * fv, x->d, (size_t)x->t * fv);
        if (s == VS_OK && !*hist) {
            void *p = NULL;
            s = vs_devpool_get(st->pool, (size_t)pad * fb, &p);
            *hist = p;
        }
        if (s == VS_OK) s = vs_vae_copy_bf16(*hist, cat.d + (size_t)x->t * fv, (size_t)pad * fv);
        in = cat;
    }
    if (s == VS_OK) s = gact_alloc(st, y, x->t, c->cout_pad, x->h, x->w);
    if (s == VS_OK) {
        vs_tensor tap[3], out = frames_of(y), rest = res ? frames_of(res) : out;
        const vs_tensor *taps[3];
        for (int dt = 0; dt < c->kt; dt++) {
            gact from = {in.d + dt * fv, x->t, x->c, x->h, x->w};
            tap[dt] = frames_of(&from);
            taps[dt] = &tap[dt];
        }
        s = vs_op_conv_frames(&out, taps, c->kt, &c->dweight, NULL);
        if (s == VS_OK && (with_bias || res)) s = vs_op_bias_residual(&out, with_bias ? &c->dbias : NULL, res ? &rest : NULL);
        if (s != VS_OK) gact_free(st, y);
    }
    if (cat.d) gact_free(st, &cat);
    return s;
}

/* In place: group norm (the spatial norm's modulation by the latents zq when n->spatial), then SiLU. */
static vs_status norm_step(gstate *st, const norm *n, gact *x, const gact *zq, int silu) {
    gact y = {0}, b = {0};
    vs_cuda_norm_modulation mod = {0};
    vs_status s = VS_OK;
    if (n->spatial) {
        s = conv_step(st, &n->conv_y, zq, NULL, 1, &y);
        if (s == VS_OK) s = conv_step(st, &n->conv_b, zq, NULL, 1, &b);
        mod = (vs_cuda_norm_modulation){y.d, b.d, zq->t, zq->h, zq->w, x->t > 1 && x->t % 2 == 1 && zq->t > 1};
    }
    if (s == VS_OK)
        s = vs_cuda_group_norm(x->d, x->d, x->t, x->h, x->w, x->c, st->groups, n->eps, n->dweight.data, n->dbias.data,
                               n->spatial ? &mod : NULL, silu, st->norm_scratch);
    if (y.d) gact_free(st, &y);
    if (b.d) gact_free(st, &b);
    return s;
}

/* CogVideoXResnetBlock3D: x + conv2(silu(norm2(conv1(silu(norm1(x)))))), the 1x1 shortcut when widths differ. */
static vs_status resnet_step(gstate *st, const resnet *r, gact *x, const gact *zq) {
    gact h = {0}, a = {0}, out = {0}, sc = *x;
    vs_status s = gact_alloc(st, &h, x->t, x->c, x->h, x->w);
    if (s == VS_OK) s = vs_vae_copy_bf16(h.d, x->d, (size_t)x->t * frame_bytes(x) / sizeof(uint16_t));
    if (s == VS_OK) s = norm_step(st, &r->norm1, &h, zq, 1);
    if (s == VS_OK) s = conv_step(st, &r->conv1, &h, NULL, 1, &a);
    gact_free(st, &h);
    if (s == VS_OK) s = norm_step(st, &r->norm2, &a, zq, 1);
    if (s == VS_OK && r->has_shortcut) s = conv_step(st, &r->shortcut, x, NULL, 1, &sc);
    if (s == VS_OK) s = conv_step(st, &r->conv2, &a, &sc, 1, &out);
    if (sc.d != x->d) gact_free(st, &sc);
    gact_free(st, &a);
    if (s == VS_OK) replace(st, x, &out);
    return s;
}

/* CogVideoXUpsample3D: nearest 2x in space (and with compress_time in time: an odd count above 1 keeps
 * its first frame single), then the 3x3 Conv2d. */
static vs_status upsample_step(gstate *st, const block *b, gact *x) {
    const int time = b->compress_time && x->t > 1;
    const int t2 = !time ? x->t : x->t % 2 ? 1 + 2 * (x->t - 1) : 2 * x->t;
    gact up = {0}, y = {0};
    vs_status s = gact_alloc(st, &up, t2, x->c, 2 * x->h, 2 * x->w);
    for (int t = 0; s == VS_OK && t < t2; t++) {
        const int src = !time ? t : x->t % 2 ? (t == 0 ? 0 : 1 + (t - 1) / 2) : t / 2;
        gact from = {x->d + (size_t)src * frame_bytes(x) / sizeof(uint16_t), 1, x->c, x->h, x->w};
        gact to = {up.d + (size_t)t * frame_bytes(&up) / sizeof(uint16_t), 1, x->c, up.h, up.w};
        vs_tensor ft = frames_of(&from), tt = frames_of(&to);
        s = vs_op_upsample2x(&tt, &ft, 0);
    }
    if (s == VS_OK) s = conv_step(st, &b->sampler, &up, NULL, 1, &y);
    gact_free(st, &up);
    if (s == VS_OK) replace(st, x, &y);
    return s;
}


/* CogVideoXDownsample3D: with compress_time, frames averaged in pairs (an odd count keeps its first frame
 * single); then the 3x3 Conv2d of stride 2 with one pixel of zeros at the bottom and right, which is the
 * stride-1 "same" convolution read at the odd pixels. */
static vs_status downsample_step(gstate *st, const block *b, gact *x) {
    if (x->h < 2 || x->w < 2)
        return vs_fail(VS_ERR_SHAPE, "VAE encoder: a %dx%d picture is too small to downsample", x->h, x->w);
    vs_status s = VS_OK;
    if (b->compress_time && x->t > 1) {
        const int keep = x->t % 2, pairs = (x->t - keep) / 2;
        const size_t fv = frame_bytes(x) / sizeof(uint16_t);
        gact p = {0};
        s = gact_alloc(st, &p, keep + pairs, x->c, x->h, x->w);
        if (s == VS_OK && keep) s = vs_vae_copy_bf16(p.d, x->d, fv);
        if (s == VS_OK) s = vs_cuda_vae_mean_frame_pairs(p.d + keep * fv, x->d + keep * fv, pairs, (int64_t)fv);
        if (s != VS_OK) {
            if (p.d) gact_free(st, &p);
            return s;
        }
        replace(st, x, &p);
    }
    gact full = {0}, y = {0};
    s = conv_step(st, &b->sampler, x, NULL, 1, &full);
    if (s == VS_OK) s = gact_alloc(st, &y, x->t, full.c, (x->h - 2) / 2 + 1, (x->w - 2) / 2 + 1);
    if (s == VS_OK) s = vs_cuda_vae_odd_pixels(y.d, full.d, x->t, x->h, x->w, full.c);
    if (full.d) gact_free(st, &full);
    if (s == VS_OK) replace(st, x, &y);
    else if (y.d) gact_free(st, &y);
    return s;
}

/* One frame batch through the decoder (CogVideoXDecoder3D.forward, zq the batch's latents) or the encoder;
 * x ends as conv_out's rows without the bias (cout_pad channels). */
static vs_status coder_batch(const vs_cogvideox_vae *m, gstate *st, int decoder, const gact *in, gact *x) {
    const coder *d = decoder ? &m->dec : &m->enc;
    const gact *zq = decoder ? in : NULL;
    VS_TRY_CONTEXT(conv_step(st, &d->conv_in, in, NULL, 1, x), "VAE conv_in");
    for (int j = 0; decoder && j < 2; j++) VS_TRY_CONTEXT(resnet_step(st, &d->mid[j], x, zq), "VAE mid block");
    for (int i = 0; i < m->cfg.num_blocks; i++) {
        const block *b = &d->blocks[i];
        for (int j = 0; j < b->n_resnets; j++) VS_TRY_CONTEXT(resnet_step(st, &b->resnets[j], x, zq), "VAE block %d", i);
        if (b->resample)
            VS_TRY_CONTEXT(decoder ? upsample_step(st, b, x) : downsample_step(st, b, x), "VAE block %d resampler", i);
    }
    for (int j = 0; !decoder && j < 2; j++) VS_TRY_CONTEXT(resnet_step(st, &d->mid[j], x, NULL), "VAE mid block");
    VS_TRY_CONTEXT(norm_step(st, &d->norm_out, x, zq, 1), "VAE norm_out");
    gact y;
    VS_TRY_CONTEXT(conv_step(st, &d->conv_out, x, NULL, 0, &y), "VAE conv_out");
    replace(st, x, &y);
    return VS_OK;
}

/* All frame batches of x (f32 host frame-major [t][c][h][w]) through one coder: diffusers' batches of 2
 * latent frames (decoder) or 8 frames (encoder), the remainder joining the first. */
static vs_status run_all(vs_cogvideox_vae *m, gstate *st, int decoder, const float *x, int t, int h, int w,
                         float **result, int dims[4]) {
    const coder *d = decoder ? &m->dec : &m->enc;
    const int c = decoder ? m->cfg.latent_channels : m->cfg.in_channels, cp = pad8(c), oc = d->conv_out.cout;
    const int batch = decoder ? 2 : 8, nb = t / batch > 1 ? t / batch : 1, rem = t % batch;
    const size_t hw = (size_t)h * w;
    uint16_t *host = calloc((size_t)(batch + rem) * hw * cp, sizeof *host);
    float *acc = NULL, *planes = NULL;
    size_t planes_cap = 0;
    vs_status s = host ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory for the VAE");
    dims[0] = 0;
    for (int k = 0; k < nb && s == VS_OK; k++) {
        const int start = batch * k + (k ? rem : 0), end = batch * (k + 1) + rem < t ? batch * (k + 1) + rem : t;
        const int tb = end - start;
        /* frame-major f32 [tb][c][h][w] -> channels-last BF16 [tb][h][w][cp] (zeros in the padding) */
        for (int f = 0; f < tb; f++)
            for (int ch = 0; ch < c; ch++)
                for (size_t p = 0; p < hw; p++)
                    vs_convert(host + ((size_t)f * hw + p) * cp + ch, VS_BF16, x + (((size_t)start + f) * c + ch) * hw + p,
                               VS_F32, 1);
        gact in = {0}, y = {0};
        s = gact_alloc(st, &in, tb, cp, h, w);
        if (s == VS_OK) s = vs_device_memcpy_h2d(in.d, host, (size_t)tb * frame_bytes(&in));
        if (s == VS_OK) s = coder_batch(m, st, decoder, &in, &y);
        const size_t bytes = s == VS_OK ? sizeof(float) * (size_t)y.t * oc * y.h * y.w : 0;
        if (s == VS_OK && bytes > planes_cap) {
            if (planes) vs_devpool_put(st->pool, planes);
            s = vs_devpool_get(st->pool, bytes, (void **)&planes);
            planes_cap = bytes;
        }
        if (s == VS_OK) {
            vs_tensor out = vs_tensor_view(planes, VS_F32, VS_CUDA, 4, (int64_t[]){y.t, oc, y.h, y.w}), last = frames_of(&y);
            vs_tensor bias = vs_tensor_view(d->conv_out.dbias.data, VS_F32, VS_CUDA, 1, (int64_t[]){oc});
            s = vs_op_planes_from_image(&out, &last, &bias);
        }
        float *grown = s == VS_OK ? realloc(acc, (size_t)(dims[0] + y.t) * oc * y.h * y.w * sizeof(float)) : NULL;
        if (s == VS_OK && !grown) s = vs_fail(VS_ERR_OOM, "out of host memory for the VAE output");
        if (s == VS_OK) {
            acc = grown;
            s = vs_device_memcpy_d2h(acc + (size_t)dims[0] * oc * y.h * y.w, planes, bytes);
            dims[0] += y.t, dims[1] = oc, dims[2] = y.h, dims[3] = y.w;
        }
        if (y.d) gact_free(st, &y);
        if (in.d) gact_free(st, &in);
    }
    free(host);
    if (s != VS_OK) {
        free(acc);
        return s;
    }
    *result = acc;
    return VS_OK;
}

vs_status vs_cogvideox_vae_cuda_run(vs_cogvideox_vae *m, int decoder, const float *x, int t, int h, int w,
                                    float **out, int dims[4]) {
    *out = NULL;
    const coder *d = decoder ? &m->dec : &m->enc;
    if (d->n_slots > MAX_SLOTS)
        return vs_fail(VS_ERR_UNSUPPORTED, "VAE: %d causal convolutions, at most %d on the GPU", d->n_slots, MAX_SLOTS);
    if (!m->pool && !(m->pool = calloc(1, sizeof *m->pool))) return vs_fail(VS_ERR_OOM, "out of host memory for the VAE");
    gstate *st = calloc(1, sizeof *st);
    if (!st) return vs_fail(VS_ERR_OOM, "out of host memory for the VAE");
    st->pool = m->pool;
    st->groups = m->cfg.groups;
    int widest = 0;
    for (int i = 0; i < m->cfg.num_blocks; i++) widest = m->cfg.block_out_channels[i] > widest ? m->cfg.block_out_channels[i] : widest;
    vs_status s = vs_devpool_get(st->pool, vs_cuda_group_norm_scratch_bytes(widest), &st->norm_scratch);
    if (s == VS_OK) s = run_all(m, st, decoder, x, t, h, w, out, dims);
    if (s == VS_OK) s = vs_op_sync(VS_CUDA);
    if (st->pool->bytes > m->memory.peak_activations) m->memory.peak_activations = st->pool->bytes;
    m->memory.workspace = vs_cuda_conv_workspace_bytes();
    size_t free_bytes, total_bytes;
    if (s == VS_OK && vs_device_mem_info(&free_bytes, &total_bytes) == VS_OK) m->memory.device_used = total_bytes - free_bytes;
    /* The buffers stay for the next tile (after a failure, out of memory above all, they go). */
    if (s == VS_OK) vs_devpool_put_all(st->pool);
    else vs_devpool_free(st->pool);
    free(st);
    if (s != VS_OK) free(*out), *out = NULL;
    return s;
}
