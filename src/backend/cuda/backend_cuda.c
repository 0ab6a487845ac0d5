/* The CUDA backend table: BF16 activations, F32 residual stream and
 * parameters, channels-last BF16 images, on the launchers of ops_cuda.h,
 * vae_cuda.h and the attention kernels. `supports` holds what the kernels
 * need beyond ops.h's contract: 16-byte vectors along the last dimension
 * (multiples of 8 BF16 or 4 F32), 16-byte aligned modulation rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/sparse_kernels.h"
#include "backend/cuda/attention_cuda.h"
#include "backend/cuda/cudnn_attention.h"
#include "backend/cuda/fp8_attention.h"
#include "backend/cuda/ops_cuda.h"
#include "backend/cuda/reduce_cuda.h"
#include "backend/cuda/vae_cuda.h"
#include "core/devmem.h"
#include "core/dtype.h"
#include "core/status.h"

static int64_t last_dim(const vs_tensor *t) {
    return t->shape[t->ndim - 1];
}
static int64_t rows_of(const vs_tensor *t) {
    return last_dim(t) ? vs_tensor_numel(t) / last_dim(t) : 0;
}
static const void *data_or_null(const vs_tensor *t) {
    return t ? t->data : NULL;
}

/* ---- supports ---------------------------------------------------------------------- */

/* The kernels read and write 16-byte vectors along the last dimension. */
static vs_status vector_dim(vs_op_id op, const char *what, int64_t dim) {
    if (dim % 8)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: %s %lld is not a multiple of 8 (CUDA kernels)",
                       vs_op_name(op), what, (long long)dim);
    return VS_OK;
}

/* A [B, dim] F32 modulation view is read 16 bytes at a time from each row. */
static vs_status modulation_rows(vs_op_id op, const char *arg, const vs_tensor *m) {
    if (m && m->stride[0] % 4)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: %s rows must be 16-byte aligned (stride %lld)",
                       vs_op_name(op), arg, (long long)m->stride[0]);
    return VS_OK;
}

/* Whether qk_norm_rope's norm runs over each head of a dim-wide row: with a bias (LayerNorm, always per head)
 * or a weight narrower than the row; no weight and no bias: the rotation alone. */
static int qk_norm_per_head(const vs_tensor *weight, const vs_tensor *bias, int64_t dim) {
    return bias || (weight && weight->shape[0] != dim);
}

static vs_status supports(const vs_op_desc *d) {
    const vs_tensor *const *t = d->t;
    const char *op = vs_op_name(d->op);
    switch (d->op) {
    /* Operands in signature order. Linear: y, x, weight, bias; F32 x: the few-rows kernel (16-byte rows). */
    case VS_OP_LINEAR: return t[1]->dtype == VS_F32 ? vector_dim(d->op, "input size", last_dim(t[1])) : VS_OK;
    case VS_OP_LINEAR_RESIDUAL: { /* x, h, weight, bias, gate */
        const int64_t in = last_dim(t[1]), out = last_dim(t[0]);
        if (in % 8 || out % 8)
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: sizes %lld -> %lld must be multiples of 8 on CUDA", op,
                           (long long)in, (long long)out);
        return modulation_rows(d->op, "gate", t[4]);
    }
    case VS_OP_QUANTIZE_FP8: /* q, scale, x */ return vector_dim(d->op, "last dimension", last_dim(t[2]));
    case VS_OP_LINEAR_FP8:          /* y, xq, x_scale, wq, w_scale, bias */
    case VS_OP_LINEAR_RESIDUAL_FP8: { /* x, hq, h_scale, wq, w_scale, bias, gate */
        /* cuBLASLt's FP8 GEMMs want 16-byte leading dimensions: of the E4M3 operands and of y. */
        const int64_t in = last_dim(t[1]), out = t[3]->shape[0];
        if (in % 16 || out % 8)
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: sizes %lld -> %lld must be multiples of 16 -> 8 on CUDA (FP8 GEMM)",
                           op, (long long)in, (long long)out);
        return d->op == VS_OP_LINEAR_RESIDUAL_FP8 ? modulation_rows(d->op, "gate", t[6]) : VS_OK;
    }
    case VS_OP_LAYERNORM_MODULATE: /* y, x, weight, bias, shift, scale */
        VS_TRY(vector_dim(d->op, "last dimension", last_dim(t[1])));
        VS_TRY(modulation_rows(d->op, "shift", t[4]));
        return modulation_rows(d->op, "scale", t[5]);
    case VS_OP_QK_NORM_ROPE: { /* x, weight, bias, cos, sin; heads */
        VS_TRY(vector_dim(d->op, "last dimension", last_dim(t[0])));
        const int64_t head_dim = last_dim(t[0]) / d->param[0], group = head_dim / 8;
        const int per_head = qk_norm_per_head(t[1], t[2], last_dim(t[0]));
        if ((t[3] || per_head) && head_dim % 8)
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: head_dim %lld is not a multiple of 8 (CUDA kernel)", op,
                           (long long)head_dim);
        if (per_head && (group > 32 || (group & (group - 1))))
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: a per-head norm takes head_dim 8, 16, .., 256 (CUDA kernel), not %lld",
                           op, (long long)head_dim);
        return VS_OK;
    }
    case VS_OP_RMSNORM: /* y, x, weight */ return vector_dim(d->op, "last dimension", last_dim(t[1]));
    case VS_OP_GATED_RESIDUAL: /* x, y, gate */
        VS_TRY(vector_dim(d->op, "last dimension", last_dim(t[0])));
        return modulation_rows(d->op, "gate", t[2]);
    case VS_OP_MUL: return vector_dim(d->op, "last dimension", last_dim(t[0]));
    case VS_OP_EMBEDDING: /* out, table, ids */ return vector_dim(d->op, "last dimension", last_dim(t[1]));
    case VS_OP_ADD:
        if (t[0]->ndim > 5)
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: rank %d above 5 (CUDA kernel)", op, t[0]->ndim);
        return VS_OK;
    case VS_OP_ATTENTION:
        if (d->attn->dtype != VS_BF16 && d->attn->dtype != VS_F16)
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: CUDA takes BF16 or F16, not %s", op,
                           vs_dtype_name(d->attn->dtype));
        return VS_OK;
    case VS_OP_ATTENTION_RELPOS: /* out, q, ... */ return vector_dim(d->op, "head_dim", last_dim(t[1]));
    case VS_OP_CONV_FRAMES: /* y, weight, bias, taps...: channels are the 16-byte rows of a pixel */
        VS_TRY(vector_dim(d->op, "output channel count", last_dim(t[0])));
        return vector_dim(d->op, "input channel count", last_dim(t[3]));
    case VS_OP_SOFTMAX_ROWS: /* a block per row */
        if (rows_of(t[0]) > INT32_MAX)
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: %lld rows (CUDA grid)", op, (long long)rows_of(t[0]));
        return VS_OK;
    case VS_OP_VAE_RMSNORM:
    case VS_OP_UPSAMPLE2X:
    case VS_OP_BIAS_RESIDUAL: return vector_dim(d->op, "channel count", last_dim(t[0]));
    default: return VS_OK;
    }
}

/* ---- the operations ---------------------------------------------------------------- */

/* "[2, 18, 128] bf16" for error context. */
static const char *describe(const vs_tensor *t, char *buf, size_t size) {
    int n = snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && n < (int)size; i++)
        n += snprintf(buf + n, size - (size_t)n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (n < (int)size) snprintf(buf + n, size - (size_t)n, "] %s on cuda", vs_dtype_name(t->dtype));
    return buf;
}

/* BF16 rows that are not 16-byte multiples go through the unaligned kernel, F32 x through the few-rows one.
 */
static vs_status linear(vs_tensor *y, const vs_tensor *x, const vs_tensor *w, const vs_tensor *bias,
                        vs_epilogue ep) {
    const int64_t out = w->shape[0], in = last_dim(x), rows = rows_of(x);
    const int gelu = ep == VS_EPILOGUE_GELU_TANH;
    if (rows == 0 || out == 0) return VS_OK;
    vs_status s;
    if (x->dtype == VS_BF16 && (in % 8 || out % 8))
        s = vs_cuda_linear_bf16_unaligned(y->data, x->data, w->data, data_or_null(bias), rows, out, in, gelu);
    else if (x->dtype == VS_BF16)
        s = vs_cuda_linear_bf16(y->data, x->data, w->data, data_or_null(bias), rows, out, in, gelu);
    else
        s = vs_cuda_linear_f32(y->data, x->data, w->data, data_or_null(bias), w->dtype, rows, out, in, gelu);
    /* cuBLASLt has no SiLU epilogue: a pass over y after the GEMM */
    if (s == VS_OK && ep == VS_EPILOGUE_SILU)
        s = x->dtype == VS_BF16 ? vs_cuda_silu_bf16(y->data, rows * out) : vs_cuda_silu_f32(y->data, y->data, rows * out);
    if (s != VS_OK) {
        char a[128], b[128];
        return vs_fail_context(s, "linear x %s, weight %s", describe(x, a, sizeof a),
                               describe(w, b, sizeof b));
    }
    return VS_OK;
}

/* One accumulating GEMM per batch entry, each with its own gate row. */
static vs_status linear_residual(vs_tensor *x, const vs_tensor *h, const vs_tensor *w, const vs_tensor *bias,
                                 const vs_tensor *gate) {
    const int64_t out = w->shape[0], in = last_dim(h), rows = rows_of(h);
    const int64_t batch = gate ? gate->shape[0] : 1, tokens = rows / batch;
    if (rows == 0 || out == 0) return VS_OK;
    for (int64_t b = 0; b < batch; b++) {
        vs_status s = vs_cuda_linear_residual_bf16(
            (float *)x->data + b * tokens * out, (const uint16_t *)h->data + b * tokens * in, w->data,
            data_or_null(bias), gate ? (const float *)gate->data + b * gate->stride[0] : NULL, tokens, out,
            in);
        if (s != VS_OK) {
            char a[128], c[128];
            return vs_fail_context(s, "linear_residual h %s, weight %s", describe(h, a, sizeof a),
                                   describe(w, c, sizeof c));
        }
    }
    return VS_OK;
}

static vs_status quantize_fp8(vs_tensor *q, vs_tensor *scale, const vs_tensor *x) {
    return vs_cuda_quantize_fp8(q->data, scale->data, x->data, x->dtype, rows_of(x), last_dim(x));
}

static vs_status linear_fp8(vs_tensor *y, const vs_tensor *xq, const vs_tensor *x_scale, const vs_tensor *wq,
                            const vs_tensor *w_scale, const vs_tensor *bias, vs_epilogue ep, vs_tensor *q,
                            vs_tensor *q_scale) {
    vs_status s =
        vs_cuda_linear_fp8(y->data, xq->data, x_scale->data, wq->data, w_scale->data, data_or_null(bias),
                           rows_of(xq), wq->shape[0], last_dim(xq), ep == VS_EPILOGUE_GELU_TANH,
                           q ? q->data : NULL, q ? q_scale->data : NULL);
    if (s != VS_OK) {
        char a[128], b[128];
        return vs_fail_context(s, "linear_fp8 x %s, weight %s", describe(xq, a, sizeof a), describe(wq, b, sizeof b));
    }
    return VS_OK;
}

/* One accumulating GEMM per batch entry, each with its own gate row folded into the scales. */
static vs_status linear_residual_fp8(vs_tensor *x, const vs_tensor *hq, const vs_tensor *h_scale,
                                     const vs_tensor *wq, const vs_tensor *w_scale, const vs_tensor *bias,
                                     const vs_tensor *gate) {
    const int64_t out = wq->shape[0], in = last_dim(hq), rows = rows_of(hq);
    const int64_t batch = gate ? gate->shape[0] : 1, tokens = rows / batch;
    for (int64_t b = 0; b < batch; b++) {
        vs_status s = vs_cuda_linear_residual_fp8(
            (float *)x->data + b * tokens * out, (const uint8_t *)hq->data + b * tokens * in,
            (const float *)h_scale->data + b * tokens, wq->data, w_scale->data, data_or_null(bias),
            gate ? (const float *)gate->data + b * gate->stride[0] : NULL, tokens, out, in);
        if (s != VS_OK) {
            char a[128], c[128];
            return vs_fail_context(s, "linear_residual_fp8 h %s, weight %s", describe(hq, a, sizeof a),
                                   describe(wq, c, sizeof c));
        }
    }
    return VS_OK;
}

static vs_status layernorm_modulate(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight,
                                    const vs_tensor *bias, const vs_tensor *shift, const vs_tensor *scale,
                                    float eps, vs_tensor *q, vs_tensor *q_scale) {
    const int64_t rows = rows_of(x), tokens = shift ? rows / shift->shape[0] : rows;
    if (rows == 0) return VS_OK;
    return vs_cuda_layernorm_modulate(y ? y->data : NULL, q ? q->data : NULL, q ? q_scale->data : NULL,
                                      x->data, data_or_null(weight), data_or_null(bias), data_or_null(shift),
                                      data_or_null(scale), shift ? shift->stride[0] : 0, rows, tokens,
                                      last_dim(x), eps);
}

static vs_status qk_norm_rope(vs_tensor *x, const vs_tensor *weight, const vs_tensor *bias,
                              const vs_tensor *cos_t, const vs_tensor *sin_t, int heads, float eps) {
    const int64_t dim = last_dim(x), rows = rows_of(x);
    if (rows == 0) return VS_OK;
    const int per_head = qk_norm_per_head(weight, bias, dim);
    return vs_cuda_qk_norm_rope(x->data, data_or_null(weight), data_or_null(bias), data_or_null(cos_t),
                                data_or_null(sin_t), rows, cos_t ? cos_t->shape[0] : 1, dim, (int)(dim / heads),
                                per_head, eps);
}

static vs_status rmsnorm(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight, float eps) {
    if (rows_of(x) == 0) return VS_OK;
    return vs_cuda_rmsnorm(y->data, y->dtype, x->data, weight->data, rows_of(x), last_dim(x), eps);
}

static vs_status gated_residual(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate) {
    const int64_t rows = rows_of(x), tokens = gate ? rows / gate->shape[0] : rows;
    if (rows == 0) return VS_OK;
    return vs_cuda_gated_residual(x->data, y->data, data_or_null(gate), gate ? gate->stride[0] : 0, rows,
                                  tokens, last_dim(x));
}

static vs_status add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    return vs_cuda_add_f32(out->data, a->data, a->stride, b->data, b->stride, out->shape, out->ndim);
}

static vs_status silu(vs_tensor *y, const vs_tensor *x) {
    return vs_cuda_silu_f32(y->data, x->data, vs_tensor_numel(x));
}

static vs_status mul(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    return vs_cuda_mul_bf16(out->data, a->data, b->data, vs_tensor_numel(out));
}

static vs_status embedding(vs_tensor *out, const vs_tensor *table, const vs_tensor *ids) {
    return vs_cuda_embedding(out->data, table->data, table->dtype, ids->data, vs_tensor_numel(ids),
                             table->shape[0], table->shape[1]);
}

static vs_status patchify(vs_tensor *patches, const vs_tensor *lat, const int p[3]) {
    const int64_t *s = lat->shape;
    return vs_cuda_patchify(patches->data, lat->data, s[0], s[1], s[2], s[3], s[4], p);
}

static vs_status unpatchify(vs_tensor *lat, const vs_tensor *patches, const int p[3]) {
    const int64_t *s = lat->shape;
    return vs_cuda_unpatchify(lat->data, patches->data, s[0], s[1], s[2], s[3], s[4], p);
}

/* cuDNN's fused engine where it has one for the shape (a cached answer after the first ask), our flash kernel
 * otherwise or on request (VS_DENSE_ATTN=ours); FP8 (args->fp8) always through cuDNN's FP8 engine. */
static vs_status attention(const vs_attn_args *args, void *stream) {
    if (args->fp8) return vs_cuda_fp8_attention(args, stream);
    const char *kernels;
    VS_TRY(vs_attention_kernels("VS_DENSE_ATTN", VS_CUDA, &kernels));
    if (!strcmp(kernels, "cudnn")) {
        vs_status s = vs_cudnn_attention_supported(args);
        if (s == VS_OK) return vs_cudnn_attention(args, stream);
        if (s != VS_ERR_UNSUPPORTED) return s;
    }
    return vs_cuda_flash_attention(args, stream);
}

static vs_status attention_relpos(vs_tensor *out, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                  const vs_tensor *rel_table, const vs_tensor *buckets, const vs_tensor *mask,
                                  vs_tensor *scores) {
    return vs_cuda_attention_relpos(out->data, q->data, k->data, v->data, rel_table->data, buckets->data,
                                    mask->data, scores->data, q->shape[0], q->shape[1], q->shape[2],
                                    q->shape[3]);
}

static vs_status convert(vs_tensor *dst, const vs_tensor *src) {
    return vs_cuda_convert(dst->data, dst->dtype, src->data, src->dtype, vs_tensor_numel(src));
}

static vs_status copy(vs_tensor *dst, const vs_tensor *src) {
    const size_t bytes = (size_t)vs_tensor_numel(src) * vs_dtype_size(src->dtype);
    if (src->device == VS_CPU && dst->device == VS_CPU) {
        memmove(dst->data, src->data, bytes);
        return VS_OK;
    }
    if (src->device == VS_CPU) return vs_device_memcpy_h2d(dst->data, src->data, bytes);
    if (dst->device == VS_CPU) return vs_device_memcpy_d2h(dst->data, src->data, bytes);
    return vs_cuda_copy(dst->data, src->data, bytes);
}

static vs_status copy_rows(vs_tensor *dst, const vs_tensor *src) {
    const size_t es = vs_dtype_size(src->dtype);
    return vs_cuda_copy_2d(dst->data, (size_t)dst->stride[0] * es, src->data, (size_t)src->stride[0] * es,
                           (size_t)src->shape[1] * es, (size_t)src->shape[0]);
}

static vs_status fill_uniform(vs_tensor *t, uint64_t seed, float lo, float hi) {
    return vs_cuda_fill_uniform(t->data, t->dtype, vs_tensor_numel(t), seed, lo, hi);
}

/* y (+)= conv2d(tap dt, weight[:, dt]) for each time tap, then the bias. */
static vs_status conv_frames(vs_tensor *y, const vs_tensor *const *taps, int kt, const vs_tensor *weight,
                             const vs_tensor *bias) {
    const int64_t frames = y->shape[0];
    const int h = (int)y->shape[1], w = (int)y->shape[2], cout = (int)y->shape[3],
              cin = (int)taps[0]->shape[3];
    const int kh = (int)weight->shape[2], kw = (int)weight->shape[3]; /* [kt, cout, kh, kw, cin] */
    const size_t tap = (size_t)cout * kh * kw * cin;
    for (int dt = 0; dt < kt; dt++)
        VS_TRY(vs_cuda_conv2d_nhwc(y->data, taps[dt]->data, (const uint16_t *)weight->data + dt * tap, frames,
                                   h, w, cin, cout, kh, kw, dt > 0));
    if (bias) VS_TRY(vs_cuda_vae_bias_residual(y->data, bias->data, NULL, frames * h * w, cout));
    return VS_OK;
}

static vs_status vae_rmsnorm(vs_tensor *y, const vs_tensor *x, const vs_tensor *gamma, const vs_tensor *beta,
                             float scale, int silu_after) {
    return vs_cuda_vae_rmsnorm(y->data, x->data, gamma->data, data_or_null(beta), rows_of(x),
                               (int)last_dim(x), scale, silu_after);
}

static vs_status upsample2x(vs_tensor *y, const vs_tensor *x, int interleaved) {
    return vs_cuda_vae_upsample2x(y->data, x->data, (int)y->shape[0], (int)y->shape[1] / 2,
                                  (int)y->shape[2] / 2, (int)y->shape[3], interleaved);
}

static vs_status bias_residual(vs_tensor *y, const vs_tensor *bias, const vs_tensor *res) {
    return vs_cuda_vae_bias_residual(y->data, data_or_null(bias), data_or_null(res), rows_of(y),
                                     (int)last_dim(y));
}

static vs_status softmax_rows(vs_tensor *s, int64_t cols) {
    return vs_cuda_vae_softmax_rows(s->data, rows_of(s), cols, last_dim(s));
}

/* Frame by frame: F32 planes [c][pixels] into BF16 channels-last rows. */
static vs_status image_from_planes(vs_tensor *y, const vs_tensor *x) {
    const int64_t frames = x->shape[0], c = x->shape[1], pixels = x->shape[2] * x->shape[3];
    for (int64_t f = 0; f < frames; f++)
        VS_TRY(vs_cuda_vae_to_channels_last((uint16_t *)y->data + f * pixels * c,
                                            (const float *)x->data + f * c * pixels, (int)c, pixels));
    return VS_OK;
}

static vs_status planes_from_image(vs_tensor *y, const vs_tensor *x, const vs_tensor *bias) {
    return vs_cuda_vae_to_planes(y->data, x->data, bias->data, (int)y->shape[0], (int)y->shape[1],
                                 (int)last_dim(x), y->shape[2] * y->shape[3]);
}

static vs_status rel_l1(const vs_tensor *a, const vs_tensor *b, double *out) {
    return vs_cuda_rel_l1(a->data, b->data, vs_tensor_numel(a), out);
}

const vs_backend vs_backend_cuda = {
    .sparse = &vs_sparse_kernels_cuda,
    .name = "cuda",
    .device = VS_CUDA,
    .activations = VS_BF16,
    .channels_last = 1,
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
    .sync = vs_cuda_sync,
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
