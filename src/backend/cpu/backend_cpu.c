/* The CPU backend table: every op in f32 (channel-first images), on the
 * kernels of cpu_ops.h, conv_cpu.h and attention_cpu.h. The CPU reference
 * takes every argument ops.c lets through, so `supports` always agrees; the
 * checks that need the data (ids and buckets inside their tables) are here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/sparse_kernels.h"
#include "backend/cpu/attention_cpu.h"
#include "backend/cpu/conv_cpu.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/fp8_cpu.h"
#include "backend/cpu/vae_cpu.h"
#include "core/dtype.h"
#include "core/hash.h"
#include "core/status.h"

static int64_t last_dim(const vs_tensor *t) {
    return t->shape[t->ndim - 1];
}
static int64_t rows_of(const vs_tensor *t) {
    return last_dim(t) ? vs_tensor_numel(t) / last_dim(t) : 0;
}

static vs_status supports(const vs_op_desc *desc) {
    (void)desc;
    return VS_OK;
}

static vs_status linear(vs_tensor *y, const vs_tensor *x, const vs_tensor *w, const vs_tensor *bias,
                        vs_epilogue ep) {
    const int64_t out = w->shape[0], in = last_dim(x), rows = rows_of(x);
    vs_cpu_gemm(0, 1, rows, out, in, 1.0f, x->data, in, w->data, in, 0.0f, y->data, out);
    if (bias) vs_cpu_add_bias(y->data, bias->data, rows, out);
    if (ep == VS_EPILOGUE_GELU_TANH) vs_cpu_gelu_tanh(y->data, rows * out);
    if (ep == VS_EPILOGUE_SILU) vs_cpu_silu(y->data, rows * out);
    return VS_OK;
}

/* x[r] += y[r] * gate[r / tokens] (or + y[r]); the modulation rows lie gate->stride[0] apart. */
static vs_status gated_residual(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate) {
    const int64_t dim = last_dim(x), rows = rows_of(x), tokens = gate ? rows / gate->shape[0] : rows;
    float *xd = x->data;
    const float *yd = y->data;
    for (int64_t r = 0; r < rows; r++) {
        float *xr = xd + r * dim;
        const float *yr = yd + r * dim;
        if (gate) {
            const float *g = (const float *)gate->data + r / tokens * gate->stride[0];
            for (int64_t i = 0; i < dim; i++)
                xr[i] += yr[i] * g[i];
        } else {
            for (int64_t i = 0; i < dim; i++)
                xr[i] += yr[i];
        }
    }
    return VS_OK;
}

static vs_status quantize_fp8(vs_tensor *q, vs_tensor *scale, const vs_tensor *x) {
    vs_cpu_quantize_fp8(q->data, scale->data, x->data, rows_of(x), last_dim(x));
    return VS_OK;
}

static vs_status linear_fp8(vs_tensor *y, const vs_tensor *xq, const vs_tensor *x_scale, const vs_tensor *wq,
                            const vs_tensor *w_scale, const vs_tensor *bias, vs_epilogue ep, vs_tensor *q,
                            vs_tensor *q_scale) {
    VS_TRY(vs_cpu_linear_fp8(y->data, xq->data, x_scale->data, wq->data, w_scale->data,
                             bias ? bias->data : NULL, rows_of(xq), wq->shape[0], last_dim(xq),
                             ep == VS_EPILOGUE_GELU_TANH));
    if (q) vs_cpu_quantize_fp8(q->data, q_scale->data, y->data, rows_of(xq), wq->shape[0]);
    return VS_OK;
}

/* The two steps through a temporary: y = h W^T + bias (the FP8 product when hq is given), then
 * x += y * gate. */
static vs_status residual_two_steps(vs_tensor *x, const vs_tensor *h, const vs_tensor *h_scale,
                                    const vs_tensor *w, const vs_tensor *w_scale, const vs_tensor *bias,
                                    const vs_tensor *gate) {
    const int64_t rows = rows_of(h), out = w->shape[0];
    vs_tensor y = vs_tensor_view(malloc(sizeof(float) * (size_t)(rows * out)), VS_F32, VS_CPU, 2,
                                 (int64_t[]){rows, out});
    if (!y.data)
        return vs_fail(VS_ERR_OOM, "linear_residual: no memory for %lld x %lld floats", (long long)rows,
                       (long long)out);
    vs_tensor xr = vs_tensor_view(x->data, VS_F32, VS_CPU, 2, (int64_t[]){rows, out});
    vs_status s = h_scale ? linear_fp8(&y, h, h_scale, w, w_scale, bias, VS_EPILOGUE_NONE, NULL, NULL)
                          : linear(&y, h, w, bias, VS_EPILOGUE_NONE);
    if (!s) s = gated_residual(&xr, &y, gate);
    free(y.data);
    return s;
}

static vs_status linear_residual(vs_tensor *x, const vs_tensor *h, const vs_tensor *w, const vs_tensor *bias,
                                 const vs_tensor *gate) {
    return residual_two_steps(x, h, NULL, w, NULL, bias, gate);
}

static vs_status linear_residual_fp8(vs_tensor *x, const vs_tensor *hq, const vs_tensor *h_scale,
                                     const vs_tensor *wq, const vs_tensor *w_scale, const vs_tensor *bias,
                                     const vs_tensor *gate) {
    return residual_two_steps(x, hq, h_scale, wq, w_scale, bias, gate);
}

/* The norm into y (or, for codes alone, a scratch row block), then the codes of y when asked. */
static vs_status layernorm_modulate(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight,
                                    const vs_tensor *bias, const vs_tensor *shift, const vs_tensor *scale,
                                    float eps, vs_tensor *q, vs_tensor *q_scale) {
    const int64_t dim = last_dim(x), rows = rows_of(x);
    float *out = y ? y->data : malloc((size_t)(rows * dim) * sizeof(float));
    if (!out)
        return vs_fail(VS_ERR_OOM, "layernorm_modulate_fp8: out of memory for %lld x %lld values",
                       (long long)rows, (long long)dim);
    vs_cpu_layernorm(out, x->data, weight ? weight->data : NULL, bias ? bias->data : NULL, rows, dim, eps);
    const int64_t tokens = shift ? rows / shift->shape[0] : rows, mod_stride = shift ? shift->stride[0] : 0;
    for (int64_t r = 0; shift && r < rows; r++) {
        const float *sh = (const float *)shift->data + r / tokens * mod_stride;
        const float *sc = (const float *)scale->data + r / tokens * mod_stride;
        float *row = out + r * dim;
        for (int64_t i = 0; i < dim; i++)
            row[i] = row[i] * (1.0f + sc[i]) + sh[i];
    }
    if (q) vs_cpu_quantize_fp8(q->data, q_scale->data, out, rows, dim);
    if (!y) free(out);
    return VS_OK;
}

/* The norm in place (each head a row of the norm kernel unless the weight spans the row), then the
 * rotation. */
static vs_status qk_norm_rope(vs_tensor *x, const vs_tensor *weight, const vs_tensor *bias,
                              const vs_tensor *cos_t, const vs_tensor *sin_t, int heads, float eps) {
    const int64_t dim = last_dim(x), rows = rows_of(x), head_dim = dim / heads;
    if (bias)
        vs_cpu_layernorm(x->data, x->data, weight->data, bias->data, rows * heads, head_dim, eps);
    else if (weight && weight->shape[0] == dim)
        vs_cpu_rmsnorm(x->data, x->data, weight->data, rows, dim, eps);
    else if (weight)
        vs_cpu_rmsnorm(x->data, x->data, weight->data, rows * heads, head_dim, eps);
    if (cos_t)
        vs_cpu_rope_pairs(x->data, rows, cos_t->shape[0], heads, (int)head_dim, cos_t->data, sin_t->data);
    return VS_OK;
}

static vs_status rmsnorm(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight, float eps) {
    vs_cpu_rmsnorm(y->data, x->data, weight->data, rows_of(x), last_dim(x), eps);
    return VS_OK;
}

/* Walks out's index space in order, reading a and b through their strides. */
static vs_status add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    const int nd = out->ndim;
    int64_t idx[VS_MAX_DIMS] = {0}, n = vs_tensor_numel(out);
    float *o = out->data;
    const float *pa = a->data, *pb = b->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t oa = 0, ob = 0;
        for (int d = 0; d < nd; d++)
            oa += idx[d] * a->stride[d], ob += idx[d] * b->stride[d];
        o[i] = pa[oa] + pb[ob];
        for (int d = nd - 1; d >= 0 && ++idx[d] == out->shape[d]; d--)
            idx[d] = 0;
    }
    return VS_OK;
}

static vs_status silu(vs_tensor *y, const vs_tensor *x) {
    const int64_t n = vs_tensor_numel(x);
    if (y->data != x->data) memcpy(y->data, x->data, (size_t)n * sizeof(float));
    vs_cpu_silu(y->data, n);
    return VS_OK;
}

static vs_status mul(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    const int64_t n = vs_tensor_numel(out);
    float *o = out->data;
    const float *pa = a->data, *pb = b->data;
    for (int64_t i = 0; i < n; i++)
        o[i] = pa[i] * pb[i];
    return VS_OK;
}

static vs_status embedding(vs_tensor *out, const vs_tensor *table, const vs_tensor *ids) {
    const int64_t vocab = table->shape[0], dim = table->shape[1], rows = vs_tensor_numel(ids);
    const int32_t *id = ids->data;
    for (int64_t r = 0; r < rows; r++) {
        if (id[r] < 0 || id[r] >= vocab)
            return vs_fail(VS_ERR_INVALID_ARG,
                           "embedding: id %d at position %lld is outside the table of %lld rows", id[r],
                           (long long)r, (long long)vocab);
        memcpy((float *)out->data + r * dim, (const float *)table->data + id[r] * dim,
               (size_t)dim * sizeof(float));
    }
    return VS_OK;
}

static vs_status patchify(vs_tensor *patches, const vs_tensor *lat, const int p[3]) {
    const int64_t *s = lat->shape;
    vs_cpu_patchify(patches->data, lat->data, s[0], s[1], s[2], s[3], s[4], p);
    return VS_OK;
}

static vs_status unpatchify(vs_tensor *lat, const vs_tensor *patches, const int p[3]) {
    const int64_t *s = lat->shape;
    vs_cpu_unpatchify(lat->data, patches->data, s[0], s[1], s[2], s[3], s[4], p);
    return VS_OK;
}

static vs_status attention(const vs_attn_args *args, void *stream) {
    (void)stream;
    if (args->fp8) return vs_fail(VS_ERR_UNSUPPORTED, "FP8 attention runs on CUDA only (Hopper GPUs, cuDNN's FP8 engine)");
    return vs_cpu_attention(args);
}

/* The same steps as the CUDA kernels: S = q k^T, bias + mask + softmax, P v, per (batch, head). */
static vs_status attention_relpos(vs_tensor *out_t, const vs_tensor *q_t, const vs_tensor *k_t,
                                  const vs_tensor *v_t, const vs_tensor *rel_t, const vs_tensor *buckets_t,
                                  const vs_tensor *mask_t, vs_tensor *scores_t) {
    const int64_t batch = q_t->shape[0], n = q_t->shape[1], heads = q_t->shape[2], head_dim = q_t->shape[3];
    const int64_t inner = heads * head_dim, ld = (n + 7) / 8 * 8;
    const int32_t *buckets = buckets_t->data, *mask = mask_t->data;
    for (int64_t i = 0; i < 2 * n - 1;
         i++) /* buckets index the table: checked here, as the loop trusts them */
        if (buckets[i] < 0 || buckets[i] >= rel_t->shape[0])
            return vs_fail(VS_ERR_INVALID_ARG, "attention_relpos: bucket %d outside the table of %lld",
                           buckets[i], (long long)rel_t->shape[0]);
    const float *q = q_t->data, *k = k_t->data, *v = v_t->data, *rel = rel_t->data;
    float *out = out_t->data, *scores = scores_t->data;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t h = 0; h < heads; h++) {
            const int64_t off = b * n * inner + h * head_dim;
            float *s = scores + (b * heads + h) * n * ld;
            vs_cpu_gemm(0, 1, n, n, head_dim, 1.0f, q + off, inner, k + off, inner, 0.0f, s, ld);
            for (int64_t i = 0; i < n; i++) {
                float *row = s + i * ld, m = -INFINITY, sum = 0.0f;
                for (int64_t j = 0; j < n; j++) {
                    row[j] = mask[b * n + j] ? row[j] + rel[buckets[j - i + n - 1] * heads + h] : -INFINITY;
                    m = row[j] > m ? row[j] : m;
                }
                for (int64_t j = 0; j < n; j++)
                    sum += row[j] = m == -INFINITY ? 0.0f : expf(row[j] - m);
                for (int64_t j = 0; j < n; j++)
                    row[j] = sum > 0 ? row[j] / sum : 0.0f;
            }
            vs_cpu_gemm(0, 0, n, head_dim, n, 1.0f, s, ld, v + off, inner, 0.0f, out + off, inner);
        }
    return VS_OK;
}

static vs_status convert(vs_tensor *dst, const vs_tensor *src) {
    vs_convert(dst->data, dst->dtype, src->data, src->dtype, vs_tensor_numel(src));
    return VS_OK;
}

static vs_status copy(vs_tensor *dst, const vs_tensor *src) {
    memmove(dst->data, src->data, (size_t)vs_tensor_numel(src) * vs_dtype_size(src->dtype));
    return VS_OK;
}

static vs_status copy_rows(vs_tensor *dst, const vs_tensor *src) {
    const int64_t es = (int64_t)vs_dtype_size(src->dtype);
    const size_t width = (size_t)(src->shape[1] * es);
    for (int64_t r = 0; r < src->shape[0]; r++)
        memcpy((char *)dst->data + r * dst->stride[0] * es, (const char *)src->data + r * src->stride[0] * es,
               width);
    return VS_OK;
}

static vs_status fill_uniform(vs_tensor *t, uint64_t seed, float lo, float hi) {
    const int64_t n = vs_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        float v = vs_hash_uniform_range(seed, (uint64_t)i, lo, hi);
        if (t->dtype == VS_F32)
            ((float *)t->data)[i] = v;
        else
            vs_convert((uint16_t *)t->data + i, t->dtype, &v, VS_F32, 1);
    }
    return VS_OK;
}

static vs_status sync(void) {
    return VS_OK;
}

/* Frame by frame: output frame i reads frame i of every tap. */
static vs_status conv_frames(vs_tensor *y, const vs_tensor *const *taps, int kt, const vs_tensor *weight,
                             const vs_tensor *bias) {
    const int64_t frames = y->shape[0], cin = taps[0]->shape[1], h = y->shape[2], w = y->shape[3];
    const int cout = (int)weight->shape[0], kh = (int)weight->shape[3], kw = (int)weight->shape[4];
    const float *in[VS_OP_MAX_TENSORS];
    for (int64_t i = 0; i < frames; i++) {
        for (int dt = 0; dt < kt; dt++)
            in[dt] = (const float *)taps[dt]->data + i * cin * h * w;
        VS_TRY(vs_cpu_conv_frame((float *)y->data + i * cout * h * w, in, kt, (int)cin, (int)h, (int)w,
                                 weight->data, bias ? bias->data : NULL, cout, kh, kw));
    }
    return VS_OK;
}

static vs_status vae_rmsnorm(vs_tensor *y, const vs_tensor *x, const vs_tensor *gamma, const vs_tensor *beta,
                             float scale, int silu_after) {
    const int64_t *s = x->shape;
    if (y->data != x->data) memcpy(y->data, x->data, (size_t)vs_tensor_numel(x) * sizeof(float));
    vs_cpu_vae_rmsnorm(y->data, gamma->data, beta ? beta->data : NULL, s[0], (int)s[1], s[2] * s[3], scale,
                       silu_after);
    return VS_OK;
}

/* Nearest 2x. Channel-first, the interleaved input [frames / 2][2c][h][w] is
 * already [frames][c][h][w] in memory, so both modes are one loop. */
static vs_status upsample2x(vs_tensor *y, const vs_tensor *x, int interleaved) {
    (void)interleaved;
    const int64_t planes = y->shape[0] * y->shape[1], h2 = y->shape[2], w2 = y->shape[3], h = h2 / 2,
                  w = w2 / 2;
    const float *src = x->data;
    float *dst = y->data;
    for (int64_t c = 0; c < planes; c++) /* nearest-exact at scale 2: out[y][x] = in[y/2][x/2] */
        for (int64_t yy = 0; yy < h2; yy++)
            for (int64_t xx = 0; xx < w2; xx++)
                dst[(c * h2 + yy) * w2 + xx] = src[(c * h + yy / 2) * w + xx / 2];
    return VS_OK;
}

/* (y + bias) + res, as the CUDA kernel rounds it; an absent term adds nothing (not even a zero). */
static vs_status bias_residual(vs_tensor *y, const vs_tensor *bias, const vs_tensor *res) {
    const int64_t planes = y->shape[0] * y->shape[1], c = y->shape[1], hw = y->shape[2] * y->shape[3];
    float *d = y->data;
    if (bias)
        for (int64_t pl = 0; pl < planes; pl++) {
            const float b = ((const float *)bias->data)[pl % c];
            for (int64_t p = 0; p < hw; p++)
                d[pl * hw + p] += b;
        }
    if (res) {
        const float *r = res->data;
        for (int64_t i = 0; i < planes * hw; i++)
            d[i] += r[i];
    }
    return VS_OK;
}

/* Rows of s [rows, ld]: softmax over the first cols, zeros after (one call over all rows when cols = ld). */
static vs_status softmax_rows(vs_tensor *s, int64_t cols) {
    const int64_t ld = last_dim(s), rows = rows_of(s);
    float *d = s->data;
    if (cols == ld) {
        vs_cpu_softmax_rows(d, rows, cols);
        return VS_OK;
    }
    for (int64_t r = 0; r < rows; r++) {
        vs_cpu_softmax_rows(d + r * ld, 1, cols);
        memset(d + r * ld + cols, 0, sizeof(float) * (size_t)(ld - cols));
    }
    return VS_OK;
}

/* Channel-first images are planes already. */
static vs_status image_from_planes(vs_tensor *y, const vs_tensor *x) {
    return copy(y, x);
}

/* The first C channels of each frame, plus the bias. */
static vs_status planes_from_image(vs_tensor *y, const vs_tensor *x, const vs_tensor *bias) {
    const int64_t frames = y->shape[0], c = y->shape[1], cs = x->shape[1], hw = y->shape[2] * y->shape[3];
    const float *src = x->data, *b = bias->data;
    float *dst = y->data;
    for (int64_t f = 0; f < frames; f++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < hw; p++)
                dst[(f * c + ch) * hw + p] = src[(f * cs + ch) * hw + p] + b[ch];
    return VS_OK;
}

static vs_status rel_l1(const vs_tensor *a, const vs_tensor *b, double *out) {
    const float *x = a->data, *r = b->data;
    double diff = 0, norm = 0;
    for (int64_t i = 0; i < vs_tensor_numel(a); i++)
        diff += fabs((double)x[i] - r[i]), norm += fabs((double)r[i]);
    *out = diff / norm;
    return VS_OK;
}

const vs_backend vs_backend_cpu = {
    .sparse = &vs_sparse_kernels_cpu,
    .name = "cpu",
    .device = VS_CPU,
    .activations = VS_F32,
    .channels_last = 0,
    .supports = supports,
    .linear = linear,
    .linear_residual = linear_residual,
    .layernorm_modulate = layernorm_modulate,
    .qk_norm_rope = qk_norm_rope,
    .rmsnorm = rmsnorm,
    .gated_residual = gated_residual,
    .add = add,
    .silu = silu,
    .mul = mul,
    .embedding = embedding,
    .patchify = patchify,
    .unpatchify = unpatchify,
    .attention = attention,
    .attention_relpos = attention_relpos,
    .convert = convert,
    .copy = copy,
    .copy_rows = copy_rows,
    .fill_uniform = fill_uniform,
    .sync = sync,
    .conv_frames = conv_frames,
    .vae_rmsnorm = vae_rmsnorm,
    .upsample2x = upsample2x,
    .bias_residual = bias_residual,
    .softmax_rows = softmax_rows,
    .image_from_planes = image_from_planes,
    .planes_from_image = planes_from_image,
    .quantize_fp8 = quantize_fp8,
    .linear_fp8 = linear_fp8,
    .linear_residual_fp8 = linear_residual_fp8,
    .rel_l1 = rel_l1,
};
