/* The HunyuanVideo VAE decoder on CUDA, one tile at a time (vae.c does the tiling): channels-last
 * activations ([t][h][w][c]: the frames' pixels in order are the mid-block attention's tokens), cuDNN
 * convolutions and cuBLASLt GEMMs accumulating in f32, the kernels of backend/cuda/hunyuan_vae_cuda.h.
 *
 * Precision (docs/hunyuan.md, tools/hunyuan_vae_bf16_error.py): what a convolution or GEMM reads is BF16
 * (group-norm outputs, the upsampled frames, the latents), but the residual stream between layers and the
 * sums into it are F32: a convolution's BF16 result gets its bias and residual added in f32 (one rounding
 * per convolution, none per residual add). A causal 3x3x3 convolution with replicate padding: the input is
 * copied once, padded (two copies of frame 0 before, one edge pixel around), and one cuDNN 3D convolution
 * without padding sums all 27 taps in f32. Buffers come from a pool that keeps them for the next layer and
 * the next tile (all tiles of a decode have the same sizes but the edges'); it is emptied when the decode
 * ends (vs_hunyuan_vae_cuda_release). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/hunyuan_vae_cuda.h"
#include "backend/cuda/vae_cuda.h"
#include "core/devmem.h"
#include "core/devpool.h"
#include "core/dtype.h"
#include "core/status.h"
#include "models/common/text_weights.h"
#include "models/hunyuan/vae_internal.h"
#include "ops/ops.h"

/* ---- weights on the device ------------------------------------------------------------------------ */

/* A new `dtype` tensor on the GPU holding host f32 values. */
static vs_status upload(vs_tensor *dst, vs_dtype dtype, const float *host, int ndim, const int64_t *shape) {
    return vs_text_weight_place(host, ndim, shape, dtype, VS_CUDA, dst);
}

static size_t bytes_of(const vs_tensor *t) {
    return t->data ? (size_t)vs_tensor_numel(t) * vs_dtype_size(t->dtype) : 0;
}

/* [cout][cin][k][k][k] -> [cout_pad][k][k][k][cin], zero filters beyond cout. */
static vs_status upload_conv(vs_hunyuan_vae *m, hv_conv *cv, const char *what) {
    const int out_ok = cv->cout % 8 == 0 || cv == &m->conv_out; /* conv_out's 3 channels are padded */
    if (cv->cin % 8 || !out_ok)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "the CUDA VAE needs channel counts that are multiples of 8; %s maps %d to %d", what,
                       cv->cin, cv->cout);
    cv->cout_pad = (cv->cout + 7) / 8 * 8;
    const int k = cv->k, ci = cv->cin, co = cv->cout, cp = cv->cout_pad;
    const size_t n = (size_t)k * cp * k * k * ci;
    float *w = calloc(n, sizeof *w), *b = calloc((size_t)cp, sizeof *b);
    vs_status s = w && b ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory uploading the VAE");
    const float *src = cv->weight.data;
    for (int o = 0; s == VS_OK && o < co; o++) {
        b[o] = ((const float *)cv->bias.data)[o];
        for (int i = 0; i < ci; i++)
            for (int t = 0; t < k; t++)
                for (int y = 0; y < k; y++)
                    for (int x = 0; x < k; x++)
                        w[((((size_t)o * k + t) * k + y) * k + x) * ci + i] =
                            src[((((size_t)o * ci + i) * k + t) * k + y) * k + x];
    }
    if (s == VS_OK) s = upload(&cv->dweight, VS_BF16, w, 5, (int64_t[]){cp, k, k, k, ci});
    if (s == VS_OK) s = upload(&cv->dbias, VS_F32, b, 1, (int64_t[]){cp});
    free(w);
    free(b);
    m->gpu_memory.weights += bytes_of(&cv->dweight) + bytes_of(&cv->dbias);
    return s;
}

static vs_status upload_norm(vs_hunyuan_vae *m, hv_norm *n) {
    VS_TRY(upload(&n->dgamma, VS_F32, n->gamma.data, 1, (int64_t[]){n->c}));
    VS_TRY(upload(&n->dbeta, VS_F32, n->beta.data, 1, (int64_t[]){n->c}));
    m->gpu_memory.weights += bytes_of(&n->dgamma) + bytes_of(&n->dbeta);
    return VS_OK;
}

static vs_status upload_res(vs_hunyuan_vae *m, hv_res *r) {
    VS_TRY(upload_norm(m, &r->norm1));
    VS_TRY(upload_norm(m, &r->norm2));
    VS_TRY(upload_conv(m, &r->conv1, "a resnet's conv1"));
    VS_TRY(upload_conv(m, &r->conv2, "a resnet's conv2"));
    if (r->has_shortcut) VS_TRY(upload_conv(m, &r->shortcut, "a resnet's shortcut"));
    return VS_OK;
}

/* The attention's GEMM weights: dqkv_w BF16 [3c, c] (to_q scaled by 1/sqrt(c), to_k, to_v), dqkv_b BF16
 * [3c] likewise (the value bias is 0 there: softmax rows sum to 1, so it moves into the output bias),
 * dout_w BF16 [c, c], dout_b BF16 [c] = to_out.bias + to_out.weight to_v.bias. */
static vs_status upload_attn(vs_hunyuan_vae *m, hv_attn *a) {
    const int c = a->norm.c;
    VS_TRY(upload_norm(m, &a->norm));
    const size_t cc = (size_t)c * c;
    float *w = malloc(sizeof(float) * 3 * cc), *b = calloc(3 * (size_t)c, sizeof(float)),
          *ob = malloc(sizeof(float) * (size_t)c);
    vs_status s = w && b && ob ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory uploading the VAE");
    if (s == VS_OK) {
        const float scale = 1.0f / sqrtf((float)c);
        const float *wq = a->wq.data, *bq = a->bq.data, *wo = a->wo.data, *bo = a->bo.data, *bv = a->bv.data;
        for (size_t i = 0; i < cc; i++)
            w[i] = wq[i] * scale;
        memcpy(w + cc, a->wk.data, sizeof(float) * cc);
        memcpy(w + 2 * cc, a->wv.data, sizeof(float) * cc);
        for (int i = 0; i < c; i++)
            b[i] = bq[i] * scale, b[c + i] = ((const float *)a->bk.data)[i];
        for (int o = 0; o < c; o++) {
            double sum = bo[o];
            for (int i = 0; i < c; i++)
                sum += (double)wo[(size_t)o * c + i] * bv[i];
            ob[o] = (float)sum;
        }
        s = upload(&a->dqkv_w, VS_BF16, w, 2, (int64_t[]){3 * c, c});
    }
    if (s == VS_OK) s = upload(&a->dqkv_b, VS_BF16, b, 1, (int64_t[]){3 * c});
    if (s == VS_OK) s = upload(&a->dout_w, VS_BF16, a->wo.data, 2, (int64_t[]){c, c});
    if (s == VS_OK) s = upload(&a->dout_b, VS_BF16, ob, 1, (int64_t[]){c});
    free(w);
    free(b);
    free(ob);
    m->gpu_memory.weights +=
        bytes_of(&a->dqkv_w) + bytes_of(&a->dqkv_b) + bytes_of(&a->dout_w) + bytes_of(&a->dout_b);
    return s;
}

vs_status vs_hunyuan_vae_cuda_upload(vs_hunyuan_vae *m) {
    const hv_config *c = &m->cfg;
    if (c->latent_channels % 8)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "the CUDA VAE needs latent channels that are a multiple of 8, not %d",
                       c->latent_channels);
    VS_TRY(upload_conv(m, &m->conv_in, "conv_in"));
    for (int i = 0; i < 2; i++)
        VS_TRY(upload_res(m, &m->mid_res[i]));
    if (c->mid_attention) VS_TRY(upload_attn(m, &m->mid_attn));
    for (int i = 0; i < c->n_blocks; i++) {
        for (int j = 0; j < m->up[i].n_res; j++)
            VS_TRY(upload_res(m, &m->up[i].res[j]));
        if (m->up[i].up_t > 1 || m->up[i].up_s > 1) VS_TRY(upload_conv(m, &m->up[i].conv, "an upsampler"));
    }
    VS_TRY(upload_norm(m, &m->norm_out));
    VS_TRY(upload_conv(m, &m->conv_out, "conv_out"));
    return VS_OK;
}

/* ---- device buffers --------------------------------------------------------------------------------- */

/* A run of channels-last frames [t][h][w][c]: BF16 (what convolutions read) or F32 (the residual stream). */
typedef struct {
    void *d;
    int t, c, h, w;
    int f32;
} gact;

static int64_t pixels_of(const gact *a) {
    return (int64_t)a->t * a->h * a->w;
}

static vs_status gact_alloc(vs_devpool *p, gact *a, int t, int c, int h, int w, int f32) {
    a->t = t, a->c = c, a->h = h, a->w = w, a->f32 = f32;
    a->d = NULL;
    const size_t bytes = (f32 ? sizeof(float) : sizeof(uint16_t)) * (size_t)((int64_t)t * h * w * c);
    vs_status s = vs_devpool_get(p, bytes, &a->d);
    if (s != VS_OK)
        return vs_fail_context(s, "GPU memory for a %dx%dx%dx%d %s VAE activation (%zu MiB held)", t, c, h, w,
                               f32 ? "F32" : "BF16", p->bytes >> 20);
    return VS_OK;
}

/* *x = *y, handing x's buffer back. */
static void replace(vs_devpool *p, gact *x, const gact *y) {
    vs_devpool_put(p, x->d);
    *x = *y;
}

/* ---- the layers --------------------------------------------------------------------------------------- */

/* The convolution of BF16 x, its raw BF16 result (cout_pad channels, no bias) into *raw. */
static vs_status conv_raw(vs_devpool *p, const hv_conv *cv, const gact *x, gact *raw) {
    if (x->c != cv->cin || x->f32)
        return vs_fail(VS_ERR_SHAPE, "VAE conv expects BF16 with %d channels, got %d", cv->cin, x->c);
    VS_TRY(gact_alloc(p, raw, x->t, cv->cout_pad, x->h, x->w, 0));
    const uint16_t *w = cv->dweight.data;
    if (cv->k == 1) return vs_cuda_conv2d_nhwc(raw->d, x->d, w, x->t, x->h, x->w, cv->cin, cv->cout_pad, 1, 1, 0);
    gact padded;
    VS_TRY(gact_alloc(p, &padded, x->t + 2, x->c, x->h + 2, x->w + 2, 0));
    vs_status s = vs_cuda_hv_replicate_pad(padded.d, x->d, x->t, x->h, x->w, x->c, 2, 1);
    if (s == VS_OK)
        s = vs_cuda_conv3d_valid_ndhwc(raw->d, padded.d, w, padded.t, padded.h, padded.w, x->c, cv->cout_pad, 3);
    vs_devpool_put(p, padded.d);
    return s;
}

/* *y (F32, allocated here unless it is *res) = conv(x) + bias (+ res, F32 with cout channels). */
static vs_status conv(vs_devpool *p, const hv_conv *cv, const gact *x, const gact *res, gact *y) {
    gact raw;
    VS_TRY(conv_raw(p, cv, x, &raw));
    vs_status s = VS_OK;
    if (res && res->f32 && res->c == cv->cout && pixels_of(res) == pixels_of(&raw))
        *y = *res;
    else if (res)
        s = vs_fail(VS_ERR_SHAPE, "VAE conv residual: %d channels, F32 %d", res->c, res->f32);
    else
        s = gact_alloc(p, y, x->t, cv->cout, x->h, x->w, 1);
    if (s == VS_OK)
        s = vs_cuda_hv_stream_add(y->d, raw.d, cv->dbias.data, res ? res->d : NULL, pixels_of(y), cv->cout);
    vs_devpool_put(p, raw.d);
    return s;
}

/* y (BF16, x's size) = GroupNorm(x) (then SiLU). */
static vs_status group_norm(vs_devpool *p, const hv_norm *n, int groups, const gact *x, void *y, int silu) {
    double *stats = NULL;
    VS_TRY(vs_devpool_get(p, sizeof(double) * 3 * (size_t)groups, (void **)&stats));
    vs_status s = vs_cuda_hv_group_norm(y, x->d, x->f32, n->dgamma.data, n->dbeta.data, pixels_of(x), x->c,
                                        groups, HV_GROUP_EPS, silu, stats);
    vs_devpool_put(p, stats);
    return s;
}

/* A BF16 copy of the F32 stream x (a shortcut convolution's input). */
static vs_status to_bf16(vs_devpool *p, const gact *x, gact *y) {
    VS_TRY(gact_alloc(p, y, x->t, x->c, x->h, x->w, 0));
    const int64_t n = pixels_of(x) * x->c;
    vs_tensor src = vs_tensor_view(x->d, VS_F32, VS_CUDA, 1, &n), dst = vs_tensor_view(y->d, VS_BF16, VS_CUDA, 1, &n);
    return vs_op_convert(&dst, &src);
}

/* x (the F32 stream) = conv2(silu(norm2(conv1(silu(norm1(x)))))) + shortcut(x). conv1's output (with its
 * bias) stays F32 until norm2 reads it into a BF16 buffer of its size (the pool hands back conv1's raw one). */
static vs_status res_step(vs_devpool *p, const hv_res *r, int groups, gact *x) {
    gact h, raw = {0}, a = {0}, sc = {0}, xb;
    VS_TRY(gact_alloc(p, &h, x->t, x->c, x->h, x->w, 0));
    vs_status s = group_norm(p, &r->norm1, groups, x, h.d, 1);
    if (s == VS_OK) s = conv(p, &r->conv1, &h, NULL, &a);
    vs_devpool_put(p, h.d);
    if (s == VS_OK) s = gact_alloc(p, &raw, a.t, a.c, a.h, a.w, 0);
    if (s == VS_OK) s = group_norm(p, &r->norm2, groups, &a, raw.d, 1);
    vs_devpool_put(p, a.d);
    if (s == VS_OK && r->has_shortcut) {
        s = to_bf16(p, x, &xb);
        if (s == VS_OK) s = conv(p, &r->shortcut, &xb, NULL, &sc);
        vs_devpool_put(p, xb.d);
    }
    gact sum = r->has_shortcut ? sc : *x;
    if (s == VS_OK) s = conv(p, &r->conv2, &raw, &sum, &sum);
    vs_devpool_put(p, raw.d);
    if (s == VS_OK && r->has_shortcut) replace(p, x, &sum);
    else if (r->has_shortcut) vs_devpool_put(p, sc.d);
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

/* The mid-block attention over the n = t p tokens (p pixels a frame), as GEMMs: q, k [n, c], v^T [c, nn]
 * (nn = n rounded up to 8 for 16-byte rows; padded tokens are zero rows of the normed input). The queries
 * of frame f score all nn keys, the softmax keeps the first (f + 1) p (the causal mask) and zeroes the rest,
 * so o_f = s v needs no slicing. x (F32) += o W_out^T + b_out. */
static vs_status attn_step(vs_devpool *p, const hv_attn *a, int groups, gact *x) {
    const int c = x->c;
    const int64_t px = (int64_t)x->h * x->w, n = pixels_of(x), nn = (n + 7) / 8 * 8;
    const uint16_t *wqkv = a->dqkv_w.data, *bqkv = a->dqkv_b.data;
    void *buf[6] = {0};
    const size_t nc = sizeof(uint16_t) * (size_t)(nn * c);
    const size_t sizes[6] = {nc, nc, nc, nc, sizeof(uint16_t) * (size_t)(px * nn), nc};
    vs_status s = VS_OK;
    for (int i = 0; s == VS_OK && i < 6; i++)
        s = vs_devpool_get(p, sizes[i], &buf[i]);
    uint16_t *xn = buf[0], *q = buf[1], *k = buf[2], *vt = buf[3], *sm = buf[4], *o = buf[5];
    if (s == VS_OK && nn > n) s = vs_device_memset(xn + n * c, 0, sizeof(uint16_t) * (size_t)((nn - n) * c));
    if (s == VS_OK) s = group_norm(p, &a->norm, groups, x, xn, 0);
    if (s == VS_OK) s = gemm(q, xn, wqkv, bqkv, nn, c, c);
    if (s == VS_OK) s = gemm(k, xn, wqkv + (size_t)c * c, bqkv + c, nn, c, c);
    if (s == VS_OK) s = gemm(vt, wqkv + 2 * (size_t)c * c, xn, NULL, c, nn, c);
    for (int f = 0; s == VS_OK && f < x->t; f++) {
        s = gemm(sm, q + (size_t)(f * px * c), k, NULL, px, nn, c);
        if (s == VS_OK) s = vs_cuda_vae_softmax_rows(sm, px, (f + 1) * px, nn);
        if (s == VS_OK) s = gemm(o + (size_t)(f * px * c), sm, vt, NULL, px, c, nn);
    }
    if (s == VS_OK) s = gemm(q, o, a->dout_w.data, a->dout_b.data, n, c, c);
    if (s == VS_OK) s = vs_cuda_hv_stream_add(x->d, q, NULL, x->d, n, c);
    for (int i = 0; i < 6; i++)
        vs_devpool_put(p, buf[i]);
    return s;
}

static vs_status upsample_step(vs_devpool *p, const hv_up *u, gact *x) {
    gact up, y;
    VS_TRY(gact_alloc(p, &up, 1 + u->up_t * (x->t - 1), x->c, x->h * u->up_s, x->w * u->up_s, 0));
    vs_status s = vs_cuda_hv_upsample(up.d, x->d, x->t, x->h, x->w, x->c, u->up_t, u->up_s);
    if (s == VS_OK) s = conv(p, &u->conv, &up, NULL, &y);
    vs_devpool_put(p, up.d);
    if (s == VS_OK) replace(p, x, &y);
    return s;
}

static vs_status decode_tile(vs_hunyuan_vae *m, vs_devpool *p, const float *z, int t, int h, int w,
                             float *video) {
    const hv_config *c = &m->cfg;
    const int zc = c->latent_channels, oc = c->out_channels;
    const int64_t zp = (int64_t)h * w;
    float *zd = NULL;
    gact x, y;
    VS_TRY_CONTEXT(vs_devpool_get(p, sizeof(float) * (size_t)(t * zp * zc), (void **)&zd), "VAE latents");
    VS_TRY_CONTEXT(vs_device_memcpy_h2d(zd, z, sizeof(float) * (size_t)(t * zp * zc)), "VAE latents");
    VS_TRY_CONTEXT(gact_alloc(p, &x, t, zc, h, w, 0), "VAE latents");
    for (int f = 0; f < t; f++)
        VS_TRY_CONTEXT(vs_cuda_vae_to_channels_last((uint16_t *)x.d + (size_t)(f * zp * zc),
                                                    zd + (size_t)(f * zp * zc), zc, zp),
                       "VAE latents");
    vs_devpool_put(p, zd);
    VS_TRY_CONTEXT(conv(p, &m->conv_in, &x, NULL, &y), "VAE conv_in");
    replace(p, &x, &y);
    VS_TRY_CONTEXT(res_step(p, &m->mid_res[0], c->groups, &x), "VAE mid block");
    if (c->mid_attention)
        VS_TRY_CONTEXT(attn_step(p, &m->mid_attn, c->groups, &x), "VAE mid-block attention");
    VS_TRY_CONTEXT(res_step(p, &m->mid_res[1], c->groups, &x), "VAE mid block");
    for (int i = 0; i < c->n_blocks; i++) {
        for (int j = 0; j < m->up[i].n_res; j++)
            VS_TRY_CONTEXT(res_step(p, &m->up[i].res[j], c->groups, &x), "VAE up block %d", i);
        if (m->up[i].up_t > 1 || m->up[i].up_s > 1)
            VS_TRY_CONTEXT(upsample_step(p, &m->up[i], &x), "VAE up block %d upsampler", i);
    }
    VS_TRY_CONTEXT(gact_alloc(p, &y, x.t, x.c, x.h, x.w, 0), "VAE conv_norm_out");
    VS_TRY_CONTEXT(group_norm(p, &m->norm_out, c->groups, &x, y.d, 1), "VAE conv_norm_out");
    replace(p, &x, &y);
    /* conv_out's bias waits for the conversion to planes (its 3 channels are padded to 8) */
    VS_TRY_CONTEXT(conv_raw(p, &m->conv_out, &x, &y), "VAE conv_out");
    replace(p, &x, &y);
    const int64_t op = (int64_t)x.h * x.w;
    float *rgb = NULL;
    VS_TRY_CONTEXT(vs_devpool_get(p, sizeof(float) * (size_t)(x.t * oc * op), (void **)&rgb), "VAE output");
    VS_TRY_CONTEXT(vs_cuda_vae_to_planes(rgb, x.d, m->conv_out.dbias.data, x.t, oc, x.c, op), "VAE output");
    VS_TRY_CONTEXT(vs_device_memcpy_d2h(video, rgb, sizeof(float) * (size_t)(x.t * oc * op)), "VAE output");
    vs_devpool_put(p, rgb);
    vs_devpool_put(p, x.d);
    return VS_OK;
}

vs_status vs_hunyuan_vae_cuda_decode_tile(vs_hunyuan_vae *m, const float *z, int t, int h, int w,
                                          float *video) {
    vs_devpool *p = &m->gpu_pool;
    vs_status s = decode_tile(m, p, z, t, h, w, video);
    if (s == VS_OK) s = vs_op_sync(VS_CUDA);
    vs_vae_memory *mem = &m->gpu_memory;
    if (p->bytes > mem->peak_activations) mem->peak_activations = p->bytes;
    mem->workspace = vs_cuda_conv_workspace_bytes();
    size_t free_bytes, total_bytes;
    if (s == VS_OK && vs_device_mem_info(&free_bytes, &total_bytes) == VS_OK)
        mem->device_used = total_bytes - free_bytes;
    return s;
}

void vs_hunyuan_vae_cuda_release(vs_hunyuan_vae *m) {
    vs_devpool_free(&m->gpu_pool);
}
