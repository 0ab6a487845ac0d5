/* The Wan VAE decoder on CUDA: the same chunked causal decode as the CPU path
 * (vae.c), with bf16 channels-last activations ([t][h][w][c]: a pixel's
 * channels are one row), cuDNN convolutions and cuBLASLt GEMMs accumulating
 * in f32, and the kernels of backend/cuda/vae_cuda.h.
 *
 * A causal 3x3x3 convolution over the frames [history (CACHE_T), x...] is
 * the sum over its three temporal taps of 2D convolutions of frame runs
 * shifted by one: with the history and x copied into one buffer (the cache
 * concat), tap dt reads the run starting at frame dt, and cuDNN accumulates
 * the taps into the output (beta = 1). Activation buffers come from a pool
 * that keeps them for the next layer and the next chunk, so after the first
 * chunks a decode allocates nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/vae_cuda.h"
#include "core/devmem.h"
#include "core/devpool.h"
#include "core/dtype.h"
#include "core/status.h"
#include "models/wan/vae_internal.h"
#include "ops/ops.h"

/* ---- weights on the device ------------------------------------------------------------ */

static vs_status upload(vs_tensor *dst, vs_dtype dtype, const float *host, int ndim, const int64_t *shape) {
    VS_TRY(vs_tensor_alloc(dst, dtype, VS_CUDA, ndim, shape));
    int64_t n = vs_tensor_numel(dst);
    void *buf = malloc((size_t)n * vs_dtype_size(dtype) + 1);
    if (!buf) return vs_fail(VS_ERR_OOM, "out of host memory uploading the VAE");
    vs_convert(buf, dtype, host, VS_F32, n);
    vs_status s = vs_device_memcpy_h2d(dst->data, buf, (size_t)n * vs_dtype_size(dtype));
    free(buf);
    return s;
}

static vs_status check_width(const char *what, int channels) {
    if (channels % 8)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "the CUDA VAE needs channel widths that are multiples of 8; %s has %d", what,
                       channels);
    return VS_OK;
}

/* [cout][cin][kt][kh][kw] -> [kt][cout_pad][kh][kw][cin], zero filters beyond cout. */
static vs_status upload_conv(vae_conv *cv, const char *what, int pad_out) {
    VS_TRY(check_width(what, cv->cin));
    if (!pad_out) VS_TRY(check_width(what, cv->cout));
    cv->cout_pad = (cv->cout + 7) / 8 * 8;
    int kt = cv->kt, kh = cv->kh, kw = cv->kw, ci = cv->cin, co = cv->cout, cp = cv->cout_pad;
    size_t n = (size_t)kt * cp * kh * kw * ci;
    float *w = calloc(n, sizeof *w), *b = calloc((size_t)cp, sizeof *b);
    vs_status s = w && b ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory uploading the VAE");
    const float *src = cv->weight.data;
    for (int o = 0; s == VS_OK && o < co; o++) {
        b[o] = ((const float *)cv->bias.data)[o];
        for (int i = 0; i < ci; i++)
            for (int t = 0; t < kt; t++)
                for (int y = 0; y < kh; y++)
                    for (int x = 0; x < kw; x++)
                        w[((((size_t)t * cp + o) * kh + y) * kw + x) * ci + i] =
                            src[((((size_t)o * ci + i) * kt + t) * kh + y) * kw + x];
    }
    if (s == VS_OK) s = upload(&cv->dweight, VS_BF16, w, 5, (int64_t[]){kt, cp, kh, kw, ci});
    if (s == VS_OK) s = upload(&cv->dbias, VS_F32, b, 1, (int64_t[]){cp});
    free(w);
    free(b);
    return s;
}

static vs_status upload_norm(vae_norm *n) {
    VS_TRY(upload(&n->dgamma, VS_F32, n->gamma.data, 1, (int64_t[]){n->dim}));
    if (n->bias.data) VS_TRY(upload(&n->dbias, VS_F32, n->bias.data, 1, (int64_t[]){n->dim}));
    return VS_OK;
}

static vs_status upload_res(vae_res *r) {
    VS_TRY(upload_norm(&r->norm1));
    VS_TRY(upload_norm(&r->norm2));
    VS_TRY(upload_conv(&r->conv1, "a residual block's conv1", 0));
    VS_TRY(upload_conv(&r->conv2, "a residual block's conv2", 0));
    if (r->has_shortcut) VS_TRY(upload_conv(&r->shortcut, "a residual block's shortcut", 0));
    return VS_OK;
}

/* The attention's folded weights (see vae_attn). */
static vs_status upload_attn(vae_attn *a) {
    int c = a->norm.dim;
    VS_TRY(check_width("the mid-block attention", c));
    VS_TRY(upload_norm(&a->norm));
    const float *wqkv = a->to_qkv.weight.data, *bqkv = a->to_qkv.bias.data;
    const float *wp = a->proj.weight.data, *bp = a->proj.bias.data;
    size_t cc = (size_t)c * c;
    float *w = malloc(sizeof(float) * 3 * cc), *b = malloc(sizeof(float) * 3 * (size_t)c);
    float *pb = malloc(sizeof(float) * (size_t)c);
    vs_status s = w && b && pb ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory uploading the VAE");
    if (s == VS_OK) {
        float q_scale = 1.0f / sqrtf((float)c);
        memcpy(w, wqkv, sizeof(float) * 3 * cc);
        memcpy(b, bqkv, sizeof(float) * 3 * (size_t)c);
        for (size_t i = 0; i < cc; i++)
            w[i] *= q_scale;
        for (int i = 0; i < c; i++)
            b[i] *= q_scale;
        for (int o = 0; o < c; o++) {
            double sum = bp[o];
            for (int i = 0; i < c; i++)
                sum += (double)wp[(size_t)o * c + i] * bqkv[2 * c + i];
            pb[o] = (float)sum;
        }
        s = upload(&a->dqkv_w, VS_BF16, w, 2, (int64_t[]){3 * c, c});
    }
    if (s == VS_OK) s = upload(&a->dqkv_b, VS_BF16, b, 1, (int64_t[]){3 * c});
    if (s == VS_OK) s = upload(&a->dproj_w, VS_BF16, wp, 2, (int64_t[]){c, c});
    if (s == VS_OK) s = upload(&a->dproj_b, VS_BF16, pb, 1, (int64_t[]){c});
    free(w);
    free(b);
    free(pb);
    return s;
}

static size_t tensor_bytes(const vs_tensor *t) {
    return t->data ? (size_t)vs_tensor_numel(t) * vs_dtype_size(t->dtype) : 0;
}

static size_t conv_bytes(const vae_conv *cv) {
    return tensor_bytes(&cv->dweight) + tensor_bytes(&cv->dbias);
}
static size_t norm_bytes(const vae_norm *n) {
    return tensor_bytes(&n->dgamma) + tensor_bytes(&n->dbias);
}
static size_t res_bytes(const vae_res *r) {
    return norm_bytes(&r->norm1) + norm_bytes(&r->norm2) + conv_bytes(&r->conv1) + conv_bytes(&r->conv2) +
           conv_bytes(&r->shortcut);
}

vs_status vs_wan_vae_cuda_upload(vs_wan_vae *m) {
    VS_TRY(upload_conv(&m->conv_in, "conv_in", 0));
    for (int i = 0; i < 2; i++)
        VS_TRY(upload_res(&m->mid_res[i]));
    VS_TRY(upload_attn(&m->mid_attn));
    for (int i = 0; i < m->n_up; i++) {
        vae_up *u = &m->up[i];
        for (int j = 0; j < u->n_res; j++)
            VS_TRY(upload_res(&u->res[j]));
        if (u->mode != UP_NONE) VS_TRY(upload_conv(&u->resample, "an upsampler", 0));
        if (u->mode == UP_3D) VS_TRY(upload_conv(&u->time_conv, "a time_conv", 0));
    }
    VS_TRY(upload_norm(&m->norm_out));
    VS_TRY(upload_conv(&m->conv_out, "conv_out", 1));

    const vae_attn *a = &m->mid_attn;
    size_t bytes = conv_bytes(&m->conv_in) + res_bytes(&m->mid_res[0]) + res_bytes(&m->mid_res[1]) +
                   norm_bytes(&a->norm) + tensor_bytes(&a->dqkv_w) + tensor_bytes(&a->dqkv_b) +
                   tensor_bytes(&a->dproj_w) + tensor_bytes(&a->dproj_b) + norm_bytes(&m->norm_out) +
                   conv_bytes(&m->conv_out);
    for (int i = 0; i < m->n_up; i++) {
        for (int j = 0; j < m->up[i].n_res; j++)
            bytes += res_bytes(&m->up[i].res[j]);
        bytes += conv_bytes(&m->up[i].resample) + conv_bytes(&m->up[i].time_conv);
    }
    m->gpu_memory->weights = bytes;
    return VS_OK;
}

/* ---- device buffers ---------------------------------------------------------------------- */

/* A run of channels-last frames [t][h][w][c], BF16. */
typedef struct {
    uint16_t *d;
    int t, c, h, w;
} gact;

static int64_t pixels(const gact *a) {
    return (int64_t)a->h * a->w;
}
static size_t frame_bytes(const gact *a) {
    return sizeof(uint16_t) * (size_t)(pixels(a) * a->c);
}

/* Causal convolutions a decoder can have: two per residual block, one per time_conv, conv_in and conv_out. */
#define MAX_SLOTS (2 * (2 + MAX_LEVELS * (MAX_LEVELS + 1)) + MAX_LEVELS + 2)

/* One decode (one tile) in progress. */
typedef struct {
    vs_devpool pool; /* nothing is freed before the decode ends */
    uint16_t *hist[MAX_SLOTS]; /* per slot: CACHE_T frames, zero at the start */
    size_t hist_frame[MAX_SLOTS];
    int chunk;
} gstate;

static vs_status gact_alloc(gstate *st, gact *a, int t, int c, int h, int w) {
    a->t = t, a->c = c, a->h = h, a->w = w;
    a->d = NULL;
    void *p = NULL;
    vs_status s = vs_devpool_get(&st->pool, (size_t)t * frame_bytes(a), &p);
    if (s != VS_OK)
        return vs_fail_context(s, "GPU memory for a %dx%dx%dx%d VAE activation (%zu MiB held)", t, c, h, w,
                               st->pool.bytes >> 20);
    a->d = p;
    return VS_OK;
}

static void gact_free(gstate *st, gact *a) {
    vs_devpool_put(&st->pool, a->d);
    a->d = NULL;
}

/* ---- the layers ---------------------------------------------------------------------------- */

/* a as a [t, h, w, c] BF16 tensor (channels-last frames). */
static vs_tensor frames_of(const gact *a) {
    return vs_tensor_view(a->d, VS_BF16, VS_CUDA, 4, (int64_t[]){a->t, a->h, a->w, a->c});
}

/* n BF16 values device to device. */
static vs_status copy_values(void *dst, const void *src, size_t n) {
    vs_tensor d = vs_tensor_view(dst, VS_BF16, VS_CUDA, 1, (int64_t[]){(int64_t)n});
    vs_tensor t = vs_tensor_view((void *)src, VS_BF16, VS_CUDA, 1, (int64_t[]){(int64_t)n});
    return vs_op_copy(&d, &t);
}

/* y = conv(x) + bias (+ res), y allocated here; bias left out when !with_bias
 * (the output convolution adds it while leaving channels-last). Causal convs
 * read [history, x] and then keep its last CACHE_T frames as the history. */
static vs_status conv(gstate *st, const vae_conv *cv, const gact *x, const gact *res, int with_bias,
                      gact *y) {
    if (x->c != cv->cin) return vs_fail(VS_ERR_SHAPE, "VAE conv expects %d channels, got %d", cv->cin, x->c);
    gact in = *x, cat = {0};
    size_t fb = frame_bytes(x);
    if (cv->slot >= 0) {
        if (!st->hist[cv->slot]) {
            void *p = NULL;
            VS_TRY(vs_devpool_get(&st->pool, CACHE_T * fb, &p));
            VS_TRY(vs_device_memset(p, 0, CACHE_T * fb));
            st->hist[cv->slot] = p;
            st->hist_frame[cv->slot] = fb;
        } else if (st->hist_frame[cv->slot] != fb) {
            return vs_fail(VS_ERR_SHAPE, "VAE cache frame size changed between chunks");
        }
        VS_TRY(gact_alloc(st, &cat, x->t + CACHE_T, x->c, x->h, x->w));
        const size_t fv = fb / sizeof(uint16_t); /* values per frame */
        vs_status s = copy_values(cat.d, st->hist[cv->slot], CACHE_T * fv);
        if (s == VS_OK) s = copy_values(cat.d + CACHE_T * fv, x->d, (size_t)x->t * fv);
        if (s == VS_OK) s = copy_values(st->hist[cv->slot], cat.d + (size_t)x->t * fv, CACHE_T * fv);
        if (s != VS_OK) {
            gact_free(st, &cat);
            return s;
        }
        in = cat;
    }
    vs_status s = gact_alloc(st, y, x->t, cv->cout_pad, x->h, x->w);
    vs_tensor tap[1 + CACHE_T], out = frames_of(y), rest = res ? frames_of(res) : out;
    const vs_tensor *taps[1 + CACHE_T];
    for (int dt = 0; dt < cv->kt; dt++) { /* tap dt: the x->t frames from frame dt of [history, x] */
        gact from = {(uint16_t *)((const char *)in.d + dt * fb), x->t, x->c, x->h, x->w};
        tap[dt] = frames_of(&from);
        taps[dt] = &tap[dt];
    }
    vs_tensor bias = vs_tensor_view(cv->dbias.data, VS_F32, VS_CUDA, 1, (int64_t[]){cv->cout_pad});
    if (s == VS_OK) s = vs_op_conv_frames(&out, taps, cv->kt, &cv->dweight, NULL);
    if (s == VS_OK && (with_bias || res)) s = vs_op_bias_residual(&out, with_bias ? &bias : NULL, res ? &rest : NULL);
    if (cat.d) gact_free(st, &cat);
    if (s != VS_OK) gact_free(st, y);
    return s;
}

static vs_status norm(const vae_norm *n, uint16_t *y, const gact *x, int silu) {
    gact out = {y, x->t, x->c, x->h, x->w};
    vs_tensor xt = frames_of(x), yt = frames_of(&out);
    return vs_op_vae_rmsnorm(&yt, &xt, &n->dgamma, n->dbias.data ? &n->dbias : NULL, sqrtf((float)n->dim), silu);
}

/* *x = y, releasing x's buffer (on success; on failure the pool still holds it). */
static void replace(gstate *st, gact *x, gact *y) {
    gact_free(st, x);
    *x = *y;
}

/* WanResidualBlock: shortcut(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))). */
static vs_status res_step(gstate *st, const vae_res *r, gact *x) {
    gact h = {0}, a = {0}, b = {0}, sc = *x;
    vs_status s = gact_alloc(st, &h, x->t, x->c, x->h, x->w);
    if (s == VS_OK) s = norm(&r->norm1, h.d, x, 1);
    if (s == VS_OK) s = conv(st, &r->conv1, &h, NULL, 1, &a);
    gact_free(st, &h);
    if (s == VS_OK) s = norm(&r->norm2, a.d, &a, 1);
    if (s == VS_OK && r->has_shortcut) s = conv(st, &r->shortcut, x, NULL, 1, &sc);
    if (s == VS_OK) s = conv(st, &r->conv2, &a, &sc, 1, &b);
    if (sc.d != x->d) gact_free(st, &sc);
    gact_free(st, &a);
    if (s == VS_OK) replace(st, x, &b);
    return s;
}

/* y[rows, out] = x[rows, in] w[out, in]^T (+ bias[out]) on BF16 device matrices. */
static vs_status gemm(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *bias, int64_t rows,
                      int64_t out, int64_t in) {
    vs_tensor yt = vs_tensor_view(y, VS_BF16, VS_CUDA, 2, (int64_t[]){rows, out});
    vs_tensor xt = vs_tensor_view((void *)x, VS_BF16, VS_CUDA, 2, (int64_t[]){rows, in});
    vs_tensor wt = vs_tensor_view((void *)w, VS_BF16, VS_CUDA, 2, (int64_t[]){out, in});
    vs_tensor bt = vs_tensor_view((void *)bias, VS_BF16, VS_CUDA, 1, (int64_t[]){out});
    return vs_op_linear(&yt, &xt, &wt, bias ? &bt : NULL, VS_EPILOGUE_NONE);
}

/* WanAttentionBlock, per frame: single-head attention over the p pixels with
 * head size c, as GEMMs: q, k [p, c]; v^T [c, p] (the value bias is folded
 * into the projection's); s = q k^T [p, p] (1/sqrt(c) folded into q);
 * o = softmax(s) v [p, c]; x += proj(o). The pixel count is padded to a
 * multiple of 8 (16-byte GEMM rows): padded rows of the normed input are
 * zero, padded key columns get probability 0. */
static vs_status attn_step(gstate *st, const vae_attn *a, gact *x) {
    int c = x->c;
    int64_t p = pixels(x), pp = (p + 7) / 8 * 8;
    const uint16_t *wqkv = a->dqkv_w.data, *bqkv = a->dqkv_b.data;
    void *buf[6] = {0};
    const size_t pc = sizeof(uint16_t) * (size_t)(pp * c);
    const size_t sizes[6] = {pc, pc, pc, pc, sizeof(uint16_t) * (size_t)(pp * pp), pc};
    vs_status s = VS_OK;
    for (int i = 0; s == VS_OK && i < 6; i++)
        s = vs_devpool_get(&st->pool, sizes[i], &buf[i]);
    uint16_t *xn = buf[0], *q = buf[1], *k = buf[2], *vt = buf[3], *sm = buf[4], *o = buf[5];
    if (s == VS_OK && pp > p) s = vs_device_memset(xn + p * c, 0, sizeof(uint16_t) * (size_t)((pp - p) * c));
    for (int f = 0; s == VS_OK && f < x->t; f++) {
        gact frame = {x->d + (size_t)f * (size_t)(p * c), 1, c, x->h, x->w};
        s = norm(&a->norm, xn, &frame, 0);
        if (s == VS_OK) s = gemm(q, xn, wqkv, bqkv, pp, c, c);
        if (s == VS_OK) s = gemm(k, xn, wqkv + (size_t)c * c, bqkv + c, pp, c, c);
        if (s == VS_OK) s = gemm(vt, wqkv + 2 * (size_t)c * c, xn, NULL, c, pp, c);
        if (s == VS_OK) s = gemm(sm, q, k, NULL, pp, pp, c);
        vs_tensor scores = vs_tensor_view(sm, VS_BF16, VS_CUDA, 2, (int64_t[]){pp, pp});
        if (s == VS_OK) s = vs_op_softmax_rows(&scores, p); /* padded key columns get probability 0 */
        if (s == VS_OK) s = gemm(o, sm, vt, NULL, pp, c, pp);
        if (s == VS_OK) s = gemm(q, o, a->dproj_w.data, a->dproj_b.data, pp, c, c);
        gact proj = {q, 1, c, x->h, x->w};
        vs_tensor ft = frames_of(&frame), pt = frames_of(&proj);
        if (s == VS_OK) s = vs_op_bias_residual(&ft, NULL, &pt);
    }
    for (int i = 0; i < 6; i++)
        vs_devpool_put(&st->pool, buf[i]);
    return s;
}

/* WanResample upsample2d / upsample3d: (time_conv doubling the frames,) nearest
 * 2x, a 3x3 conv halving the channels. */
static vs_status upsample_step(gstate *st, const vae_up *u, gact *x) {
    /* The first chunk skips the time_conv, as diffusers does (its cache then
     * starts from zeros). Its output [t][p][2c] holds frame 2i in channels
     * 0..c-1 and frame 2i+1 in c..2c-1: the upsampling kernel reads it so. */
    int interleaved = u->mode == UP_3D && st->chunk > 0;
    gact src = *x, up = {0}, y = {0};
    if (interleaved) VS_TRY(conv(st, &u->time_conv, x, NULL, 1, &src));
    int frames = interleaved ? 2 * x->t : x->t;
    vs_status s = gact_alloc(st, &up, frames, x->c, 2 * x->h, 2 * x->w);
    vs_tensor from = frames_of(&src), to = frames_of(&up);
    if (s == VS_OK) s = vs_op_upsample2x(&to, &from, interleaved);
    if (interleaved) gact_free(st, &src);
    if (s == VS_OK) s = conv(st, &u->resample, &up, NULL, 1, &y);
    gact_free(st, &up);
    if (s == VS_OK) replace(st, x, &y);
    return s;
}

/* WanDecoder3d.forward on one chunk, into x: channels-last conv_out rows
 * without the bias (cout_pad channels). */
static vs_status decode_chunk(const vs_wan_vae *m, gstate *st, gact *x) {
    gact y;
    VS_TRY_CONTEXT(conv(st, &m->conv_in, x, NULL, 1, &y), "VAE conv_in");
    replace(st, x, &y);
    VS_TRY_CONTEXT(res_step(st, &m->mid_res[0], x), "VAE mid block");
    VS_TRY_CONTEXT(attn_step(st, &m->mid_attn, x), "VAE mid-block attention");
    VS_TRY_CONTEXT(res_step(st, &m->mid_res[1], x), "VAE mid block");
    for (int i = 0; i < m->n_up; i++) {
        for (int j = 0; j < m->up[i].n_res; j++)
            VS_TRY_CONTEXT(res_step(st, &m->up[i].res[j], x), "VAE up block %d", i);
        if (m->up[i].mode != UP_NONE) VS_TRY_CONTEXT(upsample_step(st, &m->up[i], x), "VAE up block %d upsampler", i);
    }
    VS_TRY_CONTEXT(norm(&m->norm_out, x->d, x, 1), "VAE norm_out");
    VS_TRY_CONTEXT(conv(st, &m->conv_out, x, NULL, 0, &y), "VAE conv_out");
    replace(st, x, &y);
    return VS_OK;
}

static vs_status decode_all(const vs_wan_vae *m, gstate *st, const float *z, int t, int h, int w,
                            float *video) {
    int zc = m->z_dim, oc = m->out_channels, tr = m->temporal_ratio, sr = m->spatial_ratio;
    int64_t zp = (int64_t)h * w, op = zp * sr * sr;
    float *zd = NULL, *out = NULL;
    VS_TRY(vs_devpool_get(&st->pool, sizeof(float) * (size_t)(zp * zc), (void **)&zd));
    VS_TRY(vs_devpool_get(&st->pool, sizeof(float) * (size_t)(tr * oc * op), (void **)&out));
    int done = 0;
    for (int k = 0; k < t; k++) {
        gact x;
        st->chunk = k;
        VS_TRY(gact_alloc(st, &x, 1, zc, h, w));
        VS_TRY(
            vs_device_memcpy_h2d(zd, z + (size_t)k * (size_t)(zp * zc), sizeof(float) * (size_t)(zp * zc)));
        vs_tensor planes = vs_tensor_view(zd, VS_F32, VS_CUDA, 4, (int64_t[]){1, zc, h, w}), image = frames_of(&x);
        VS_TRY(vs_op_image_from_planes(&image, &planes));
        VS_TRY(decode_chunk(m, st, &x));
        if (x.t != (k ? tr : 1) || x.h != h * sr || x.w != w * sr)
            return vs_fail(VS_ERR_SHAPE, "VAE chunk %d decoded to %dx%dx%dx%d", k, x.t, x.c, x.h, x.w);
        vs_tensor rgb = vs_tensor_view(out, VS_F32, VS_CUDA, 4, (int64_t[]){x.t, oc, x.h, x.w}), last = frames_of(&x);
        vs_tensor bias = vs_tensor_view(m->conv_out.dbias.data, VS_F32, VS_CUDA, 1, (int64_t[]){oc});
        VS_TRY(vs_op_planes_from_image(&rgb, &last, &bias));
        VS_TRY(vs_device_memcpy_d2h(video + (size_t)done * (size_t)(oc * op), out,
                                    sizeof(float) * (size_t)(x.t * oc * op)));
        done += x.t;
        gact_free(st, &x);
    }
    return VS_OK;
}

vs_status vs_wan_vae_cuda_decode(const vs_wan_vae *m, const float *z, int t, int h, int w, float *video) {
    gstate *st = calloc(1, sizeof *st);
    if (!st) return vs_fail(VS_ERR_OOM, "out of host memory for the VAE decode");
    if (m->n_slots > MAX_SLOTS) {
        free(st);
        return vs_fail(VS_ERR_UNSUPPORTED, "VAE: %d causal convolutions, at most %d on the GPU", m->n_slots,
                       MAX_SLOTS);
    }
    vs_status s = decode_all(m, st, z, t, h, w, video);
    if (s == VS_OK) s = vs_op_sync(VS_CUDA);
    vs_wan_vae_memory *mem = m->gpu_memory;
    if (st->pool.bytes > mem->peak_activations) mem->peak_activations = st->pool.bytes;
    mem->workspace = vs_cuda_conv_workspace_bytes();
    size_t free_bytes, total_bytes;
    if (s == VS_OK && vs_device_mem_info(&free_bytes, &total_bytes) == VS_OK)
        mem->device_used = total_bytes - free_bytes;
    vs_devpool_free(&st->pool);
    free(st);
    return s;
}
