/* Argument checks and dispatch of src/ops/ops.h. */
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/attention_cpu.h"
#include "backend/cpu/cpu_ops.h"
#include "core/devmem.h"
#include "core/dtype.h"
#include "core/hash.h"
#include "core/status.h"
#include "ops/attention.h"
#if VS_HAVE_CUDA
#include "backend/cuda/ops_cuda.h"
#endif

/* ---- checks ------------------------------------------------------------------------ */

static const char *device_name(vs_device d) { return d == VS_CPU ? "cpu" : "cuda"; }

/* The dtype of GEMM and attention inputs and outputs on `device`. */
static vs_dtype act_dtype(vs_device device) { return device == VS_CPU ? VS_F32 : VS_BF16; }

/* "[2, 18, 128] bf16 on cuda" */
static const char *describe(const vs_tensor *t, char *buf, size_t size) {
    int n = snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && n < (int)size; i++)
        n += snprintf(buf + n, size - (size_t)n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (n < (int)size) snprintf(buf + n, size - (size_t)n, "] %s on %s", vs_dtype_name(t->dtype), device_name(t->device));
    return buf;
}

/* Present, on `device`, of `dtype`, contiguous unless `strided`. */
static vs_status check(const char *op, const char *arg, const vs_tensor *t, vs_device device, vs_dtype dtype,
                       int strided) {
    char buf[128];
    if (!t || !t->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: %s is missing", op, arg);
    if (t->device != device || t->dtype != dtype)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: %s is %s, expected %s on %s", op, arg, describe(t, buf, sizeof buf),
                       vs_dtype_name(dtype), device_name(device));
    if (t->ndim < 1) return vs_fail(VS_ERR_SHAPE, "%s: %s is a scalar", op, arg);
    if (!strided && !vs_tensor_is_contiguous(t))
        return vs_fail(VS_ERR_SHAPE, "%s: %s %s must be contiguous", op, arg, describe(t, buf, sizeof buf));
    return VS_OK;
}

static int64_t last_dim(const vs_tensor *t) { return t->shape[t->ndim - 1]; }
static int64_t rows_of(const vs_tensor *t) { return last_dim(t) ? vs_tensor_numel(t) / last_dim(t) : 0; }

static int same_shape(const vs_tensor *a, const vs_tensor *b) {
    return a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}

static vs_status shape_mismatch(const char *op, const char *what, const vs_tensor *a, const vs_tensor *b) {
    char x[128], y[128];
    return vs_fail(VS_ERR_SHAPE, "%s: %s: %s vs %s", op, what, describe(a, x, sizeof x), describe(b, y, sizeof y));
}

/* CUDA kernels read and write 16-byte vectors along the last dimension. */
static vs_status check_vector_dim(const char *op, vs_device device, int64_t dim) {
    if (device == VS_CUDA && dim % 8)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: last dimension %lld is not a multiple of 8 (CUDA kernels)", op,
                       (long long)dim);
    return VS_OK;
}

#if !VS_HAVE_CUDA
static vs_status no_cuda(const char *op) {
    return vs_fail(VS_ERR_UNSUPPORTED, "%s: this vidsparse build has no CUDA support", op);
}
#endif

/* A [B, dim] modulation view (shift, scale, gate): F32, unit stride along dim. */
static vs_status check_modulation(const char *op, const char *arg, const vs_tensor *m, vs_device device,
                                  int64_t batch, int64_t dim) {
    VS_TRY(check(op, arg, m, device, VS_F32, 1));
    if (m->ndim != 2 || m->shape[0] != batch || m->shape[1] != dim || (dim > 1 && m->stride[1] != 1)) {
        char buf[128];
        return vs_fail(VS_ERR_SHAPE, "%s: %s %s must be a [%lld, %lld] view with unit stride along dim", op, arg,
                       describe(m, buf, sizeof buf), (long long)batch, (long long)dim);
    }
    if (device == VS_CUDA && m->stride[0] % 4)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: %s rows must be 16-byte aligned (stride %lld)", op, arg,
                       (long long)m->stride[0]);
    return VS_OK;
}

/* The batch entries of a [B, dim] modulation view `m` over `rows` rows (rows % B == 0), checked. */
static vs_status modulation_batch(const char *op, const char *arg, const vs_tensor *m, vs_device device, int64_t rows,
                                  int64_t dim, int64_t *batch) {
    *batch = m->ndim == 2 ? m->shape[0] : 0;
    if (*batch < 1 || rows % *batch)
        return vs_fail(VS_ERR_SHAPE, "%s: %lld rows do not split into the %lld batch entries of %s", op,
                       (long long)rows, (long long)*batch, arg);
    return check_modulation(op, arg, m, device, *batch, dim);
}

/* ---- linear ------------------------------------------------------------------------ */

vs_status vs_op_linear(vs_tensor *y, const vs_tensor *x, const vs_tensor *w, const vs_tensor *bias, vs_epilogue ep) {
    const char *op = "linear";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "linear: x is missing");
    const vs_device dev = x->device;
    const vs_dtype xt = dev == VS_CPU ? VS_F32 : x->dtype;
    if (xt != VS_F32 && xt != VS_BF16)
        return vs_fail(VS_ERR_INVALID_ARG, "linear: x is %s; CUDA takes BF16 (or F32 for a few rows)",
                       vs_dtype_name(xt));
    const vs_dtype wt = dev == VS_CPU || xt == VS_BF16 ? xt : (w && w->dtype == VS_F32 ? VS_F32 : VS_BF16);
    VS_TRY(check(op, "x", x, dev, xt, 0));
    VS_TRY(check(op, "weight", w, dev, wt, 0));
    VS_TRY(check(op, "y", y, dev, xt, 0));
    if (w->ndim < 2) return vs_fail(VS_ERR_SHAPE, "linear: weight must have rank >= 2");
    const int64_t out = w->shape[0], in = vs_tensor_numel(w) / (out ? out : 1), rows = rows_of(x);
    if (last_dim(x) != in) return shape_mismatch(op, "x's last dimension is not the weight's input size", x, w);
    if (last_dim(y) != out || rows_of(y) != rows) return shape_mismatch(op, "y must be [rows of x, out]", y, w);
    if (bias) {
        VS_TRY(check(op, "bias", bias, dev, wt, 0));
        if (bias->ndim != 1 || bias->shape[0] != out) return shape_mismatch(op, "bias must be [out]", bias, w);
    }
    if (ep != VS_EPILOGUE_NONE && ep != VS_EPILOGUE_GELU_TANH)
        return vs_fail(VS_ERR_INVALID_ARG, "linear: unknown epilogue %d", (int)ep);
    if (rows == 0 || out == 0) return VS_OK;
    if (dev == VS_CPU) {
        vs_cpu_gemm(0, 1, rows, out, in, 1.0f, x->data, in, w->data, in, 0.0f, y->data, out);
        if (bias) vs_cpu_add_bias(y->data, bias->data, rows, out);
        if (ep == VS_EPILOGUE_GELU_TANH) vs_cpu_gelu_tanh(y->data, rows * out);
        return VS_OK;
    }
#if VS_HAVE_CUDA
    const int gelu = ep == VS_EPILOGUE_GELU_TANH;
    vs_status s;
    if (xt == VS_BF16 && (in % 8 || out % 8)) {
        s = vs_cuda_linear_bf16_unaligned(y->data, x->data, w->data, bias ? bias->data : NULL, rows, out, in, gelu);
    } else if (xt == VS_BF16) {
        s = vs_cuda_linear_bf16(y->data, x->data, w->data, bias ? bias->data : NULL, rows, out, in, gelu);
    } else {
        VS_TRY(check_vector_dim(op, dev, in));
        s = vs_cuda_linear_f32(y->data, x->data, w->data, bias ? bias->data : NULL, wt, rows, out, in, gelu);
    }
    if (s != VS_OK) {
        char a[128], b[128];
        return vs_fail_context(s, "linear x %s, weight %s", describe(x, a, sizeof a), describe(w, b, sizeof b));
    }
    return VS_OK;
#else
    return no_cuda(op);
#endif
}

/* ---- norms ------------------------------------------------------------------------- */

vs_status vs_op_layernorm_modulate(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight, const vs_tensor *bias,
                                   const vs_tensor *shift, const vs_tensor *scale, float eps) {
    const char *op = "layernorm_modulate";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    VS_TRY(check(op, "x", x, dev, VS_F32, 0));
    VS_TRY(check(op, "y", y, dev, act_dtype(dev), 0));
    if (!same_shape(x, y)) return shape_mismatch(op, "x and y differ", x, y);
    const int64_t dim = last_dim(x), rows = rows_of(x);
    VS_TRY(check_vector_dim(op, dev, dim));
    const vs_tensor *params[2] = {weight, bias};
    for (int i = 0; i < 2; i++) {
        if (!params[i]) continue;
        VS_TRY(check(op, i ? "bias" : "weight", params[i], dev, VS_F32, 0));
        if (params[i]->ndim != 1 || params[i]->shape[0] != dim)
            return shape_mismatch(op, i ? "bias must be [dim]" : "weight must be [dim]", params[i], x);
    }
    if (!shift != !scale) return vs_fail(VS_ERR_INVALID_ARG, "%s: give both shift and scale, or neither", op);
    int64_t batch = 1, mod_stride = 0;
    if (shift) {
        VS_TRY(modulation_batch(op, "shift", shift, dev, rows, dim, &batch));
        VS_TRY(check_modulation(op, "scale", scale, dev, batch, dim));
        if (shift->stride[0] != scale->stride[0])
            return vs_fail(VS_ERR_SHAPE, "%s: shift and scale rows must be equally strided", op);
        mod_stride = shift->stride[0];
    }
    if (!(eps > 0)) return vs_fail(VS_ERR_INVALID_ARG, "%s: eps must be positive", op);
    const int64_t tokens = rows / batch;
    const float *w = weight ? weight->data : NULL, *b = bias ? bias->data : NULL;
    if (rows == 0) return VS_OK;
    if (dev == VS_CPU) {
        float *out = y->data;
        vs_cpu_layernorm(out, x->data, w, b, rows, dim, eps);
        if (shift)
            for (int64_t r = 0; r < rows; r++) {
                const float *sh = (const float *)shift->data + r / tokens * mod_stride;
                const float *sc = (const float *)scale->data + r / tokens * mod_stride;
                float *row = out + r * dim;
                for (int64_t i = 0; i < dim; i++) row[i] = row[i] * (1.0f + sc[i]) + sh[i];
            }
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_layernorm_modulate(y->data, x->data, w, b, shift ? shift->data : NULL,
                                      scale ? scale->data : NULL, mod_stride, rows, tokens, dim, eps);
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_rmsnorm_rope(vs_tensor *x, const vs_tensor *weight, const vs_tensor *cos_t, const vs_tensor *sin_t,
                             int heads, float eps) {
    const char *op = "rmsnorm_rope";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    VS_TRY(check(op, "x", x, dev, act_dtype(dev), 0));
    const int64_t dim = last_dim(x), rows = rows_of(x);
    VS_TRY(check_vector_dim(op, dev, dim));
    VS_TRY(check(op, "weight", weight, dev, VS_F32, 0));
    if (weight->ndim != 1 || weight->shape[0] != dim) return shape_mismatch(op, "weight must be [dim]", weight, x);
    if (heads < 1 || dim % heads || (dim / heads) % 2)
        return vs_fail(VS_ERR_SHAPE, "%s: %lld channels do not split into %d heads of an even size", op,
                       (long long)dim, heads);
    const int head_dim = (int)(dim / heads);
    if (!(eps > 0)) return vs_fail(VS_ERR_INVALID_ARG, "%s: eps must be positive", op);
    if (!cos_t != !sin_t) return vs_fail(VS_ERR_INVALID_ARG, "%s: give both cos and sin tables, or neither", op);
    int64_t tokens = 1;
    if (cos_t) {
        VS_TRY(check(op, "cos", cos_t, dev, VS_F32, 0));
        VS_TRY(check(op, "sin", sin_t, dev, VS_F32, 0));
        tokens = cos_t->ndim == 2 ? cos_t->shape[0] : 0;
        if (!same_shape(cos_t, sin_t) || cos_t->ndim != 2 || cos_t->shape[1] != head_dim / 2 || tokens < 1 ||
            rows % tokens)
            return shape_mismatch(op, "cos/sin must be [tokens, head_dim / 2] with rows a multiple of tokens", cos_t,
                                  x);
        if (dev == VS_CUDA && head_dim % 8)
            return vs_fail(VS_ERR_UNSUPPORTED, "%s: head_dim %d is not a multiple of 8 (CUDA kernel)", op, head_dim);
    }
    if (rows == 0) return VS_OK;
    if (dev == VS_CPU) {
        vs_cpu_rmsnorm(x->data, x->data, weight->data, rows, dim, eps);
        if (cos_t) vs_cpu_rope_pairs(x->data, rows, tokens, heads, head_dim, cos_t->data, sin_t->data);
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_rmsnorm_rope(x->data, weight->data, cos_t ? cos_t->data : NULL, sin_t ? sin_t->data : NULL, rows,
                                tokens, dim, head_dim, eps);
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_rmsnorm(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight, float eps) {
    const char *op = "rmsnorm";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    VS_TRY(check(op, "x", x, dev, VS_F32, 0));
    VS_TRY(check(op, "y", y, dev, y && y->dtype == VS_F32 ? VS_F32 : act_dtype(dev), 0));
    if (!same_shape(x, y)) return shape_mismatch(op, "x and y differ", x, y);
    const int64_t dim = last_dim(x), rows = rows_of(x);
    VS_TRY(check_vector_dim(op, dev, dim));
    VS_TRY(check(op, "weight", weight, dev, VS_F32, 0));
    if (weight->ndim != 1 || weight->shape[0] != dim) return shape_mismatch(op, "weight must be [dim]", weight, x);
    if (!(eps > 0)) return vs_fail(VS_ERR_INVALID_ARG, "%s: eps must be positive", op);
    if (y->data != x->data && y->dtype == VS_F32 &&
        (char *)y->data < (char *)x->data + vs_tensor_numel(x) * 4 && (char *)x->data < (char *)y->data + vs_tensor_numel(y) * 4)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: y overlaps x without being x", op);
    if (rows == 0) return VS_OK;
    if (dev == VS_CPU) {
        vs_cpu_rmsnorm(y->data, x->data, weight->data, rows, dim, eps);
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_rmsnorm(y->data, y->dtype, x->data, weight->data, rows, dim, eps);
#else
    return no_cuda(op);
#endif
}

/* ---- elementwise ------------------------------------------------------------------- */

vs_status vs_op_gated_residual(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate) {
    const char *op = "gated_residual";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    VS_TRY(check(op, "x", x, dev, VS_F32, 0));
    VS_TRY(check(op, "y", y, dev, act_dtype(dev), 0));
    if (!same_shape(x, y)) return shape_mismatch(op, "x and y differ", x, y);
    const int64_t dim = last_dim(x), rows = rows_of(x);
    VS_TRY(check_vector_dim(op, dev, dim));
    int64_t batch = 1, stride = 0;
    if (gate) {
        VS_TRY(modulation_batch(op, "gate", gate, dev, rows, dim, &batch));
        stride = gate->stride[0];
    }
    const int64_t tokens = rows / batch;
    if (rows == 0) return VS_OK;
    if (dev == VS_CPU) {
        float *xd = x->data;
        const float *yd = y->data;
        for (int64_t r = 0; r < rows; r++) {
            float *xr = xd + r * dim;
            const float *yr = yd + r * dim;
            if (gate) {
                const float *g = (const float *)gate->data + r / tokens * stride;
                for (int64_t i = 0; i < dim; i++) xr[i] += yr[i] * g[i];
            } else {
                for (int64_t i = 0; i < dim; i++) xr[i] += yr[i];
            }
        }
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_gated_residual(x->data, y->data, gate ? gate->data : NULL, stride, rows, tokens, dim);
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_linear_residual(vs_tensor *x, const vs_tensor *h, const vs_tensor *w, const vs_tensor *bias,
                                const vs_tensor *gate) {
    const char *op = "linear_residual";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    VS_TRY(check(op, "x", x, dev, VS_F32, 0));
    VS_TRY(check(op, "h", h, dev, act_dtype(dev), 0));
    VS_TRY(check(op, "weight", w, dev, act_dtype(dev), 0));
    if (w->ndim < 2) return vs_fail(VS_ERR_SHAPE, "%s: weight must have rank >= 2", op);
    const int64_t out = w->shape[0], in = vs_tensor_numel(w) / (out ? out : 1), rows = rows_of(h);
    if (last_dim(h) != in) return shape_mismatch(op, "h's last dimension is not the weight's input size", h, w);
    if (last_dim(x) != out || rows_of(x) != rows) return shape_mismatch(op, "x must be [rows of h, out]", x, w);
    if (bias) {
        VS_TRY(check(op, "bias", bias, dev, act_dtype(dev), 0));
        if (bias->ndim != 1 || bias->shape[0] != out) return shape_mismatch(op, "bias must be [out]", bias, w);
    }
    int64_t batch = 1;
    if (gate) {
        VS_TRY(modulation_batch(op, "gate", gate, dev, rows, out, &batch));
    }
    if (rows == 0 || out == 0) return VS_OK;
    if (dev == VS_CPU) { /* the two steps through a temporary */
        vs_tensor y = vs_tensor_view(malloc(sizeof(float) * (size_t)(rows * out)), VS_F32, VS_CPU, 2,
                                     (int64_t[]){rows, out});
        if (!y.data) return vs_fail(VS_ERR_OOM, "%s: no memory for %lld x %lld floats", op, (long long)rows,
                                    (long long)out);
        vs_tensor xr = vs_tensor_view(x->data, VS_F32, VS_CPU, 2, (int64_t[]){rows, out});
        vs_status s = vs_op_linear(&y, h, w, bias, VS_EPILOGUE_NONE);
        if (!s) s = vs_op_gated_residual(&xr, &y, gate);
        free(y.data);
        return s;
    }
#if VS_HAVE_CUDA
    if (in % 8 || out % 8)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: sizes %lld -> %lld must be multiples of 8 on CUDA", op,
                       (long long)in, (long long)out);
    const int64_t tokens = rows / batch;
    for (int64_t b = 0; b < batch; b++) {
        vs_status s = vs_cuda_linear_residual_bf16((float *)x->data + b * tokens * out,
                                                   (const uint16_t *)h->data + b * tokens * in, w->data,
                                                   bias ? bias->data : NULL,
                                                   gate ? (const float *)gate->data + b * gate->stride[0] : NULL,
                                                   tokens, out, in);
        if (s != VS_OK) {
            char a[128], c[128];
            return vs_fail_context(s, "linear_residual h %s, weight %s", describe(h, a, sizeof a),
                                   describe(w, c, sizeof c));
        }
    }
    return VS_OK;
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    const char *op = "add";
    if (!out || !out->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: out is missing", op);
    const vs_device dev = out->device;
    VS_TRY(check(op, "out", out, dev, VS_F32, 0));
    VS_TRY(check(op, "a", a, dev, VS_F32, 1));
    VS_TRY(check(op, "b", b, dev, VS_F32, 1));
    if (!same_shape(out, a) || !same_shape(out, b)) return shape_mismatch(op, "a, b and out must have one shape", a, b);
    if (dev == VS_CPU) {
        const int nd = out->ndim;
        int64_t idx[VS_MAX_DIMS] = {0}, n = vs_tensor_numel(out);
        float *o = out->data;
        const float *pa = a->data, *pb = b->data;
        for (int64_t i = 0; i < n; i++) {
            int64_t oa = 0, ob = 0;
            for (int d = 0; d < nd; d++) oa += idx[d] * a->stride[d], ob += idx[d] * b->stride[d];
            o[i] = pa[oa] + pb[ob];
            for (int d = nd - 1; d >= 0 && ++idx[d] == out->shape[d]; d--) idx[d] = 0;
        }
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_add_f32(out->data, a->data, a->stride, b->data, b->stride, out->shape, out->ndim);
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_silu(vs_tensor *y, const vs_tensor *x) {
    const char *op = "silu";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    VS_TRY(check(op, "x", x, x->device, VS_F32, 0));
    VS_TRY(check(op, "y", y, x->device, VS_F32, 0));
    if (!same_shape(x, y)) return shape_mismatch(op, "x and y differ", x, y);
    const int64_t n = vs_tensor_numel(x);
    if (x->device == VS_CPU) {
        if (y->data != x->data) memcpy(y->data, x->data, (size_t)n * sizeof(float));
        vs_cpu_silu(y->data, n);
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_silu_f32(y->data, x->data, n);
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_mul(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    const char *op = "mul";
    if (!out || !out->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: out is missing", op);
    const vs_device dev = out->device;
    VS_TRY(check(op, "out", out, dev, act_dtype(dev), 0));
    VS_TRY(check(op, "a", a, dev, act_dtype(dev), 0));
    VS_TRY(check(op, "b", b, dev, act_dtype(dev), 0));
    if (!same_shape(out, a) || !same_shape(out, b)) return shape_mismatch(op, "a, b and out must have one shape", a, b);
    VS_TRY(check_vector_dim(op, dev, last_dim(out)));
    const int64_t n = vs_tensor_numel(out);
    if (dev == VS_CPU) {
        float *o = out->data;
        const float *pa = a->data, *pb = b->data;
        for (int64_t i = 0; i < n; i++) o[i] = pa[i] * pb[i];
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_mul_bf16(out->data, a->data, b->data, n);
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_embedding(vs_tensor *out, const vs_tensor *table, const vs_tensor *ids) {
    const char *op = "embedding";
    if (!table || !table->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: table is missing", op);
    const vs_device dev = table->device;
    VS_TRY(check(op, "table", table, dev, dev == VS_CPU || table->dtype == VS_F32 ? VS_F32 : VS_BF16, 0));
    VS_TRY(check(op, "ids", ids, dev, VS_I32, 0));
    VS_TRY(check(op, "out", out, dev, VS_F32, 0));
    if (table->ndim != 2) return vs_fail(VS_ERR_SHAPE, "%s: table must be [vocab, dim]", op);
    const int64_t vocab = table->shape[0], dim = table->shape[1], rows = vs_tensor_numel(ids);
    if (last_dim(out) != dim || rows_of(out) != rows)
        return shape_mismatch(op, "out must be [ids, dim]", out, table);
    VS_TRY(check_vector_dim(op, dev, dim));
    if (dev == VS_CPU) {
        const int32_t *id = ids->data;
        for (int64_t r = 0; r < rows; r++) {
            if (id[r] < 0 || id[r] >= vocab)
                return vs_fail(VS_ERR_INVALID_ARG, "%s: id %d at position %lld is outside the table of %lld rows", op,
                               id[r], (long long)r, (long long)vocab);
            memcpy((float *)out->data + r * dim, (const float *)table->data + id[r] * dim, (size_t)dim * sizeof(float));
        }
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_embedding(out->data, table->data, table->dtype, ids->data, rows, vocab, dim);
#else
    return no_cuda(op);
#endif
}

/* ---- patches ----------------------------------------------------------------------- */

static vs_status check_patches(const char *op, const vs_tensor *lat, const vs_tensor *patches, const int p[3],
                               vs_device dev) {
    VS_TRY(check(op, "latents", lat, dev, VS_F32, 0));
    VS_TRY(check(op, "patches", patches, dev, act_dtype(dev), 0));
    if (lat->ndim != 5) return vs_fail(VS_ERR_SHAPE, "%s: latents must be [B, C, F, H, W]", op);
    for (int i = 0; i < 3; i++)
        if (p[i] < 1 || lat->shape[2 + i] % p[i])
            return vs_fail(VS_ERR_SHAPE, "%s: latent size %lld along axis %d is not a multiple of the patch %d", op,
                           (long long)lat->shape[2 + i], 2 + i, p[i]);
    const int64_t *s = lat->shape;
    const int64_t tokens = s[2] / p[0] * (s[3] / p[1]) * (s[4] / p[2]), patch = s[1] * p[0] * p[1] * p[2];
    if (patches->ndim != 3 || patches->shape[0] != s[0] || patches->shape[1] != tokens || patches->shape[2] != patch)
        return vs_fail(VS_ERR_SHAPE, "%s: patches must be [%lld, %lld, %lld] for these latents", op, (long long)s[0],
                       (long long)tokens, (long long)patch);
    return VS_OK;
}

vs_status vs_op_patchify(vs_tensor *patches, const vs_tensor *lat, const int p[3]) {
    if (!lat || !lat->data) return vs_fail(VS_ERR_INVALID_ARG, "patchify: latents are missing");
    VS_TRY(check_patches("patchify", lat, patches, p, lat->device));
    const int64_t *s = lat->shape;
    if (lat->device == VS_CPU) {
        vs_cpu_patchify(patches->data, lat->data, s[0], s[1], s[2], s[3], s[4], p);
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_patchify(patches->data, lat->data, s[0], s[1], s[2], s[3], s[4], p);
#else
    return no_cuda("patchify");
#endif
}

vs_status vs_op_unpatchify(vs_tensor *lat, const vs_tensor *patches, const int p[3]) {
    if (!lat || !lat->data) return vs_fail(VS_ERR_INVALID_ARG, "unpatchify: latents are missing");
    VS_TRY(check_patches("unpatchify", lat, patches, p, lat->device));
    const int64_t *s = lat->shape;
    if (lat->device == VS_CPU) {
        vs_cpu_unpatchify(lat->data, patches->data, s[0], s[1], s[2], s[3], s[4], p);
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_unpatchify(lat->data, patches->data, s[0], s[1], s[2], s[3], s[4], p);
#else
    return no_cuda("unpatchify");
#endif
}

/* ---- attention --------------------------------------------------------------------- */

vs_status vs_op_attention(vs_tensor *out, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v) {
    const char *op = "attention";
    if (!q || !q->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: q is missing", op);
    const vs_device dev = q->device;
    const vs_tensor *t[4] = {q, k, v, out};
    const char *names[4] = {"q", "k", "v", "out"};
    for (int i = 0; i < 4; i++) {
        VS_TRY(check(op, names[i], t[i], dev, act_dtype(dev), 0));
        if (t[i]->ndim != 4) return vs_fail(VS_ERR_SHAPE, "%s: %s must be [B, N, H, D]", op, names[i]);
    }
    if (!same_shape(q, out)) return shape_mismatch(op, "q and out differ", q, out);
    if (!same_shape(k, v)) return shape_mismatch(op, "k and v differ", k, v);
    if (k->shape[0] != q->shape[0] || k->shape[2] != q->shape[2] || k->shape[3] != q->shape[3])
        return shape_mismatch(op, "k must be [B, L, H, D] with q's B, H and D", k, q);
    if (q->shape[1] > INT32_MAX || k->shape[1] > INT32_MAX || q->shape[0] > INT32_MAX)
        return vs_fail(VS_ERR_SHAPE, "%s: sequence too long", op);
    vs_attn_args a;
    memset(&a, 0, sizeof a);
    a.dtype = act_dtype(dev);
    a.q = q->data, a.k = k->data, a.v = v->data, a.out = out->data;
    a.batch = (int)q->shape[0], a.seq_len = (int)q->shape[1], a.heads = (int)q->shape[2];
    a.head_dim = (int)q->shape[3], a.kv_len = (int)k->shape[1];
    a.scale = 1.0f / sqrtf((float)a.head_dim);
    vs_attn_args_contiguous(&a);
    VS_TRY(vs_attn_args_validate(&a));
    if (dev == VS_CPU) return vs_cpu_attention(&a);
#if VS_HAVE_CUDA
    return vs_attention_dense_cuda(&a, NULL);
#else
    return no_cuda(op);
#endif
}

/* The CPU reference of vs_op_attention_relpos, in the same steps as CUDA: S = q k^T, bias + mask + softmax, P v. */
static void attention_relpos_cpu(float *out, const float *q, const float *k, const float *v, const float *rel,
                                 const int32_t *buckets, const int32_t *mask, float *scores, int64_t batch, int64_t n,
                                 int64_t heads, int64_t head_dim) {
    const int64_t inner = heads * head_dim, ld = (n + 7) / 8 * 8;
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
                for (int64_t j = 0; j < n; j++) sum += row[j] = m == -INFINITY ? 0.0f : expf(row[j] - m);
                for (int64_t j = 0; j < n; j++) row[j] = sum > 0 ? row[j] / sum : 0.0f;
            }
            vs_cpu_gemm(0, 0, n, head_dim, n, 1.0f, s, ld, v + off, inner, 0.0f, out + off, inner);
        }
}

vs_status vs_op_attention_relpos(vs_tensor *out, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                 const vs_tensor *rel_table, const vs_tensor *buckets, const vs_tensor *mask,
                                 vs_tensor *scores) {
    const char *op = "attention_relpos";
    if (!q || !q->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: q is missing", op);
    const vs_device dev = q->device;
    const vs_tensor *t[4] = {q, k, v, out};
    const char *names[4] = {"q", "k", "v", "out"};
    for (int i = 0; i < 4; i++) {
        VS_TRY(check(op, names[i], t[i], dev, act_dtype(dev), 0));
        if (t[i]->ndim != 4) return vs_fail(VS_ERR_SHAPE, "%s: %s must be [B, N, H, D]", op, names[i]);
        if (!same_shape(t[i], q)) return shape_mismatch(op, "q, k, v and out must have one shape", t[i], q);
    }
    const int64_t B = q->shape[0], N = q->shape[1], H = q->shape[2], D = q->shape[3], ld = (N + 7) / 8 * 8;
    VS_TRY(check_vector_dim(op, dev, D));
    VS_TRY(check(op, "rel_table", rel_table, dev, VS_F32, 0));
    if (rel_table->ndim != 2 || rel_table->shape[1] != H || rel_table->shape[0] < 1)
        return shape_mismatch(op, "rel_table must be [num_buckets, heads]", rel_table, q);
    VS_TRY(check(op, "buckets", buckets, dev, VS_I32, 0));
    if (buckets->ndim != 1 || buckets->shape[0] != (N ? 2 * N - 1 : 0))
        return shape_mismatch(op, "buckets must be [2N - 1]", buckets, q);
    VS_TRY(check(op, "mask", mask, dev, VS_I32, 0));
    if (mask->ndim != 2 || mask->shape[0] != B || mask->shape[1] != N)
        return shape_mismatch(op, "mask must be [B, N]", mask, q);
    VS_TRY(check(op, "scores", scores, dev, VS_F32, 0));
    if (scores->ndim != 4 || scores->shape[0] != B || scores->shape[1] != H || scores->shape[2] != N ||
        scores->shape[3] != ld)
        return vs_fail(VS_ERR_SHAPE, "%s: scores must be [%lld, %lld, %lld, %lld]", op, (long long)B, (long long)H,
                       (long long)N, (long long)ld);
    if (B * N * H * D == 0) return VS_OK;
    if (dev == VS_CPU) {
        /* Buckets index the table: checked here, as the kernels trust them. */
        const int32_t *bk = buckets->data;
        for (int64_t i = 0; i < 2 * N - 1; i++)
            if (bk[i] < 0 || bk[i] >= rel_table->shape[0])
                return vs_fail(VS_ERR_INVALID_ARG, "%s: bucket %d outside the table of %lld", op, bk[i],
                               (long long)rel_table->shape[0]);
        attention_relpos_cpu(out->data, q->data, k->data, v->data, rel_table->data, bk, mask->data, scores->data, B,
                             N, H, D);
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_attention_relpos(out->data, q->data, k->data, v->data, rel_table->data, buckets->data, mask->data,
                                    scores->data, B, N, H, D);
#else
    return no_cuda(op);
#endif
}

/* ---- conversion, copies, fills ------------------------------------------------------ */

static int is_float_storage(vs_dtype t) { return t == VS_F32 || t == VS_F16 || t == VS_BF16; }

vs_status vs_op_convert(vs_tensor *dst, const vs_tensor *src) {
    const char *op = "convert";
    if (!src || !src->data || !dst || !dst->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: missing tensor", op);
    if (!is_float_storage(src->dtype) || !is_float_storage(dst->dtype))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: %s to %s (F32, F16 and BF16 only)", op, vs_dtype_name(src->dtype),
                       vs_dtype_name(dst->dtype));
    VS_TRY(check(op, "src", src, src->device, src->dtype, 0));
    VS_TRY(check(op, "dst", dst, src->device, dst->dtype, 0));
    if (!same_shape(src, dst)) return shape_mismatch(op, "src and dst differ", src, dst);
    const int64_t n = vs_tensor_numel(src);
    if (src->device == VS_CPU) {
        vs_convert(dst->data, dst->dtype, src->data, src->dtype, n);
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_convert(dst->data, dst->dtype, src->data, src->dtype, n);
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_copy(vs_tensor *dst, const vs_tensor *src) {
    const char *op = "copy";
    if (!src || !src->data || !dst || !dst->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: missing tensor", op);
    VS_TRY(check(op, "src", src, src->device, src->dtype, 0));
    VS_TRY(check(op, "dst", dst, dst->device, src->dtype, 0));
    if (!same_shape(src, dst)) return shape_mismatch(op, "src and dst differ", src, dst);
    const size_t bytes = (size_t)vs_tensor_numel(src) * vs_dtype_size(src->dtype);
    if (src->device == VS_CPU && dst->device == VS_CPU) {
        memmove(dst->data, src->data, bytes);
        return VS_OK;
    }
    if (src->device == VS_CPU) return vs_device_memcpy_h2d(dst->data, src->data, bytes);
    if (dst->device == VS_CPU) return vs_device_memcpy_d2h(dst->data, src->data, bytes);
#if VS_HAVE_CUDA
    return vs_cuda_copy(dst->data, src->data, bytes);
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_copy_rows(vs_tensor *dst, const vs_tensor *src) {
    const char *op = "copy_rows";
    if (!src || !src->data || !dst || !dst->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: missing tensor", op);
    VS_TRY(check(op, "src", src, src->device, src->dtype, 1));
    VS_TRY(check(op, "dst", dst, src->device, src->dtype, 1));
    if (!same_shape(src, dst) || src->ndim != 2) return shape_mismatch(op, "need two [rows, cols] views", src, dst);
    const vs_tensor *t[2] = {src, dst};
    for (int i = 0; i < 2; i++)
        if (t[i]->stride[1] != 1 || t[i]->stride[0] < t[i]->shape[1])
            return vs_fail(VS_ERR_SHAPE, "%s: %s needs contiguous rows (strides [%lld, 1], %lld >= %lld columns)", op,
                           i ? "dst" : "src", (long long)t[i]->stride[0], (long long)t[i]->stride[0],
                           (long long)t[i]->shape[1]);
    const size_t es = vs_dtype_size(src->dtype), width = (size_t)src->shape[1] * es;
    const int64_t rows = src->shape[0];
    if (rows == 0 || width == 0) return VS_OK;
    if (src->device == VS_CPU) {
        for (int64_t r = 0; r < rows; r++)
            memcpy((char *)dst->data + r * dst->stride[0] * (int64_t)es, (const char *)src->data + r * src->stride[0] * (int64_t)es, width);
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_copy_2d(dst->data, (size_t)dst->stride[0] * es, src->data, (size_t)src->stride[0] * es, width,
                           (size_t)rows);
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_fill_uniform(vs_tensor *t, uint64_t seed, float lo, float hi) {
    const char *op = "fill_uniform";
    if (!t || !t->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: tensor is missing", op);
    if (!is_float_storage(t->dtype))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: %s tensors (F32, F16 and BF16 only)", op, vs_dtype_name(t->dtype));
    VS_TRY(check(op, "tensor", t, t->device, t->dtype, 0));
    if (!isfinite(lo) || !isfinite(hi) || hi < lo)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: bad range [%g, %g)", op, lo, hi);
    const int64_t n = vs_tensor_numel(t);
    if (t->device == VS_CPU) {
        for (int64_t i = 0; i < n; i++) {
            float v = vs_hash_uniform_range(seed, (uint64_t)i, lo, hi);
            if (t->dtype == VS_F32) ((float *)t->data)[i] = v;
            else vs_convert((uint16_t *)t->data + i, t->dtype, &v, VS_F32, 1);
        }
        return VS_OK;
    }
#if VS_HAVE_CUDA
    return vs_cuda_fill_uniform(t->data, t->dtype, n, seed, lo, hi);
#else
    return no_cuda(op);
#endif
}

vs_status vs_op_sync(vs_device device) {
    if (device == VS_CPU) return VS_OK;
#if VS_HAVE_CUDA
    return vs_cuda_sync();
#else
    return no_cuda("sync");
#endif
}
