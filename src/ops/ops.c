/* Argument checks and dispatch of src/ops/ops.h: each op checks its
 * arguments against the contract of ops.h, asks the backend of the tensors'
 * device whether it supports them (src/backend/backend.h), then calls the
 * backend's entry. */
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"

/* ---- checks ------------------------------------------------------------------------ */

static const char *device_name(vs_device d) {
    return d == VS_CPU ? "cpu" : "cuda";
}

/* "[2, 18, 128] bf16 on cuda" */
static const char *describe(const vs_tensor *t, char *buf, size_t size) {
    int n = snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && n < (int)size; i++)
        n += snprintf(buf + n, size - (size_t)n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    if (n < (int)size)
        snprintf(buf + n, size - (size_t)n, "] %s on %s", vs_dtype_name(t->dtype), device_name(t->device));
    return buf;
}

/* Present, on `device`, of `dtype`, contiguous unless `strided`. */
static vs_status check(const char *op, const char *arg, const vs_tensor *t, vs_device device, vs_dtype dtype,
                       int strided) {
    char buf[128];
    if (!t || !t->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: %s is missing", op, arg);
    if (t->device != device || t->dtype != dtype)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: %s is %s, expected %s on %s", op, arg,
                       describe(t, buf, sizeof buf), vs_dtype_name(dtype), device_name(device));
    if (t->ndim < 1) return vs_fail(VS_ERR_SHAPE, "%s: %s is a scalar", op, arg);
    if (!strided && !vs_tensor_is_contiguous(t))
        return vs_fail(VS_ERR_SHAPE, "%s: %s %s must be contiguous", op, arg, describe(t, buf, sizeof buf));
    return VS_OK;
}

static int64_t last_dim(const vs_tensor *t) {
    return t->shape[t->ndim - 1];
}
static int64_t rows_of(const vs_tensor *t) {
    return last_dim(t) ? vs_tensor_numel(t) / last_dim(t) : 0;
}

static int same_shape(const vs_tensor *a, const vs_tensor *b) {
    return a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}

static vs_status shape_mismatch(const char *op, const char *what, const vs_tensor *a, const vs_tensor *b) {
    char x[128], y[128];
    return vs_fail(VS_ERR_SHAPE, "%s: %s: %s vs %s", op, what, describe(a, x, sizeof x),
                   describe(b, y, sizeof y));
}

/* An output of E4M3 codes: q of `of`'s shape and its row scales (F32 [rows of `of`]), the messages naming
 * them as `scale_name` and `of_name`. */
static vs_status check_codes_of(const char *op, const vs_tensor *q, const char *scale_name,
                                const vs_tensor *scale, const vs_tensor *of, const char *of_name,
                                vs_device device) {
    VS_TRY(check(op, "q", q, device, VS_F8E4M3, 0));
    VS_TRY(check(op, scale_name, scale, device, VS_F32, 0));
    char what[64];
    snprintf(what, sizeof what, "q must have %s's shape", of_name);
    if (!same_shape(q, of)) return shape_mismatch(op, what, q, of);
    snprintf(what, sizeof what, "%s must be [rows of %s]", scale_name, of_name);
    if (scale->ndim != 1 || scale->shape[0] != rows_of(of)) return shape_mismatch(op, what, scale, of);
    return VS_OK;
}

/* The backend of `device`, or a failure naming the op when this build has none. */
static vs_status backend_of(vs_op_id op, vs_device device, const vs_backend **be) {
    *be = vs_backend_for(device);
    if (!*be)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: this vidsparse build has no %s support", vs_op_name(op),
                       device == VS_CUDA ? "CUDA" : "such device");
    return VS_OK;
}

/* Asks `be` whether it runs `op` on its n tensors (in signature order) with first integer parameter param0.
 */
static vs_status supported(const vs_backend *be, vs_op_id op, const vs_tensor *const *t, int n, int param0) {
    vs_op_desc d;
    memset(&d, 0, sizeof d);
    d.op = op;
    for (int i = 0; i < n; i++)
        d.t[i] = t[i];
    d.param[0] = param0;
    return be->supports(&d);
}

/* A [B, dim] modulation view (shift, scale, gate): F32, unit stride along dim. */
static vs_status check_modulation(const char *op, const char *arg, const vs_tensor *m, vs_device device,
                                  int64_t batch, int64_t dim) {
    VS_TRY(check(op, arg, m, device, VS_F32, 1));
    if (m->ndim != 2 || m->shape[0] != batch || m->shape[1] != dim || (dim > 1 && m->stride[1] != 1)) {
        char buf[128];
        return vs_fail(VS_ERR_SHAPE, "%s: %s %s must be a [%lld, %lld] view with unit stride along dim", op,
                       arg, describe(m, buf, sizeof buf), (long long)batch, (long long)dim);
    }
    return VS_OK;
}

/* The batch entries of a [B, dim] modulation view `m` over `rows` rows (rows % B == 0), checked. */
static vs_status modulation_batch(const char *op, const char *arg, const vs_tensor *m, vs_device device,
                                  int64_t rows, int64_t dim, int64_t *batch) {
    *batch = m->ndim == 2 ? m->shape[0] : 0;
    if (*batch < 1 || rows % *batch)
        return vs_fail(VS_ERR_SHAPE, "%s: %lld rows do not split into the %lld batch entries of %s", op,
                       (long long)rows, (long long)*batch, arg);
    return check_modulation(op, arg, m, device, *batch, dim);
}

/* ---- linear ------------------------------------------------------------------------ */

vs_status vs_op_linear(vs_tensor *y, const vs_tensor *x, const vs_tensor *w, const vs_tensor *bias,
                       vs_epilogue ep) {
    const char *op = "linear";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "linear: x is missing");
    const vs_device dev = x->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_LINEAR, dev, &be));
    /* x is the device's activations, or F32 (a few rows, F32 or activation weights). */
    const vs_dtype xt = x->dtype == VS_F32 ? VS_F32 : be->activations;
    const vs_dtype wt = xt == be->activations ? xt : (w && w->dtype == VS_F32 ? VS_F32 : be->activations);
    if (x->dtype != VS_F32 && x->dtype != be->activations)
        return vs_fail(VS_ERR_INVALID_ARG, "linear: x is %s; %s takes %s (or F32 for a few rows)",
                       vs_dtype_name(x->dtype), be->name, vs_dtype_name(be->activations));
    VS_TRY(check(op, "x", x, dev, xt, 0));
    VS_TRY(check(op, "weight", w, dev, wt, 0));
    VS_TRY(check(op, "y", y, dev, xt, 0));
    if (w->ndim < 2) return vs_fail(VS_ERR_SHAPE, "linear: weight must have rank >= 2");
    const int64_t out = w->shape[0], in = vs_tensor_numel(w) / (out ? out : 1), rows = rows_of(x);
    if (last_dim(x) != in)
        return shape_mismatch(op, "x's last dimension is not the weight's input size", x, w);
    if (last_dim(y) != out || rows_of(y) != rows)
        return shape_mismatch(op, "y must be [rows of x, out]", y, w);
    if (bias) {
        VS_TRY(check(op, "bias", bias, dev, wt, 0));
        if (bias->ndim != 1 || bias->shape[0] != out)
            return shape_mismatch(op, "bias must be [out]", bias, w);
    }
    if (ep != VS_EPILOGUE_NONE && ep != VS_EPILOGUE_GELU_TANH && ep != VS_EPILOGUE_SILU)
        return vs_fail(VS_ERR_INVALID_ARG, "linear: unknown epilogue %d", (int)ep);
    VS_TRY(supported(be, VS_OP_LINEAR, (const vs_tensor *[]){y, x, w, bias}, 4, (int)ep));
    if (rows == 0 || out == 0) return VS_OK;
    return be->linear(y, x, w, bias, ep);
}

/* ---- norms ------------------------------------------------------------------------- */

/* vs_op_layernorm_modulate, with the output's codes (q, q_scale; y optional then) or without. */
static vs_status layernorm_modulate(const char *op, vs_tensor *y, vs_tensor *q, vs_tensor *q_scale,
                                    const vs_tensor *x, const vs_tensor *weight, const vs_tensor *bias,
                                    const vs_tensor *shift, const vs_tensor *scale, float eps) {
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_LAYERNORM_MODULATE, dev, &be));
    VS_TRY(check(op, "x", x, dev, VS_F32, 0));
    if (y || !q) {
        VS_TRY(check(op, "y", y, dev, be->activations, 0));
        if (!same_shape(x, y)) return shape_mismatch(op, "x and y differ", x, y);
    }
    const int64_t dim = last_dim(x), rows = rows_of(x);
    if (q) VS_TRY(check_codes_of(op, q, "q_scale", q_scale, x, "x", dev));
    const vs_tensor *params[2] = {weight, bias};
    for (int i = 0; i < 2; i++) {
        if (!params[i]) continue;
        VS_TRY(check(op, i ? "bias" : "weight", params[i], dev, VS_F32, 0));
        if (params[i]->ndim != 1 || params[i]->shape[0] != dim)
            return shape_mismatch(op, i ? "bias must be [dim]" : "weight must be [dim]", params[i], x);
    }
    if (!shift != !scale) return vs_fail(VS_ERR_INVALID_ARG, "%s: give both shift and scale, or neither", op);
    if (shift) {
        int64_t batch;
        VS_TRY(modulation_batch(op, "shift", shift, dev, rows, dim, &batch));
        VS_TRY(check_modulation(op, "scale", scale, dev, batch, dim));
        if (shift->stride[0] != scale->stride[0])
            return vs_fail(VS_ERR_SHAPE, "%s: shift and scale rows must be equally strided", op);
    }
    if (!(eps > 0)) return vs_fail(VS_ERR_INVALID_ARG, "%s: eps must be positive", op);
    VS_TRY(supported(be, VS_OP_LAYERNORM_MODULATE,
                     (const vs_tensor *[]){y, x, weight, bias, shift, scale, q, q_scale}, 8, 0));
    if (rows == 0) return VS_OK;
    return be->layernorm_modulate(y, x, weight, bias, shift, scale, eps, q, q_scale);
}

vs_status vs_op_layernorm_modulate(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight,
                                   const vs_tensor *bias, const vs_tensor *shift, const vs_tensor *scale,
                                   float eps) {
    return layernorm_modulate("layernorm_modulate", y, NULL, NULL, x, weight, bias, shift, scale, eps);
}

vs_status vs_op_layernorm_modulate_fp8(vs_tensor *y, vs_tensor *q, vs_tensor *q_scale, const vs_tensor *x,
                                       const vs_tensor *weight, const vs_tensor *bias, const vs_tensor *shift,
                                       const vs_tensor *scale, float eps) {
    if (!q || !q_scale)
        return vs_fail(VS_ERR_INVALID_ARG, "layernorm_modulate_fp8: q and q_scale are required");
    return layernorm_modulate("layernorm_modulate_fp8", y, q, q_scale, x, weight, bias, shift, scale, eps);
}

vs_status vs_op_qk_norm_rope(vs_tensor *x, const vs_tensor *weight, const vs_tensor *bias,
                             const vs_tensor *cos_t, const vs_tensor *sin_t, int heads, float eps) {
    const char *op = "qk_norm_rope";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_QK_NORM_ROPE, dev, &be));
    VS_TRY(check(op, "x", x, dev, be->activations, 0));
    const int64_t dim = last_dim(x), rows = rows_of(x);
    if (weight)
        VS_TRY(check(op, "weight", weight, dev, VS_F32, 0));
    else if (bias)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: a bias (LayerNorm of each head) needs a weight [head_dim]",
                       op);
    else if (!cos_t)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: neither a norm weight nor rotation tables", op);
    if (heads < 1 || dim % heads || (dim / heads) % 2)
        return vs_fail(VS_ERR_SHAPE, "%s: %lld channels do not split into %d heads of an even size", op,
                       (long long)dim, heads);
    const int64_t head_dim = dim / heads;
    if (weight && (weight->ndim != 1 || (weight->shape[0] != dim && weight->shape[0] != head_dim)))
        return shape_mismatch(op, "weight must be [dim] (norm over the row) or [head_dim] (over each head)",
                              weight, x);
    if (bias) {
        VS_TRY(check(op, "bias", bias, dev, VS_F32, 0));
        if (weight->shape[0] != head_dim)
            return shape_mismatch(op, "a bias (LayerNorm of each head) needs a weight [head_dim], not [dim]",
                                  weight, x);
        if (bias->ndim != 1 || bias->shape[0] != head_dim)
            return shape_mismatch(op, "bias must be [head_dim]", bias, x);
    }
    if (!(eps > 0)) return vs_fail(VS_ERR_INVALID_ARG, "%s: eps must be positive", op);
    if (!cos_t != !sin_t)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: give both cos and sin tables, or neither", op);
    if (cos_t) {
        VS_TRY(check(op, "cos", cos_t, dev, VS_F32, 0));
        VS_TRY(check(op, "sin", sin_t, dev, VS_F32, 0));
        const int64_t tokens = cos_t->ndim == 2 ? cos_t->shape[0] : 0;
        if (!same_shape(cos_t, sin_t) || cos_t->ndim != 2 || cos_t->shape[1] != head_dim / 2 || tokens < 1 ||
            rows % tokens)
            return shape_mismatch(op, "cos/sin must be [tokens, head_dim / 2] with rows a multiple of tokens",
                                  cos_t, x);
    }
    VS_TRY(supported(be, VS_OP_QK_NORM_ROPE, (const vs_tensor *[]){x, weight, bias, cos_t, sin_t}, 5, heads));
    if (rows == 0) return VS_OK;
    return be->qk_norm_rope(x, weight, bias, cos_t, sin_t, heads, eps);
}

vs_status vs_op_rmsnorm(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight, float eps) {
    const char *op = "rmsnorm";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_RMSNORM, dev, &be));
    VS_TRY(check(op, "x", x, dev, VS_F32, 0));
    VS_TRY(check(op, "y", y, dev, y && y->dtype == VS_F32 ? VS_F32 : be->activations, 0));
    if (!same_shape(x, y)) return shape_mismatch(op, "x and y differ", x, y);
    const int64_t dim = last_dim(x), rows = rows_of(x);
    VS_TRY(check(op, "weight", weight, dev, VS_F32, 0));
    if (weight->ndim != 1 || weight->shape[0] != dim)
        return shape_mismatch(op, "weight must be [dim]", weight, x);
    if (!(eps > 0)) return vs_fail(VS_ERR_INVALID_ARG, "%s: eps must be positive", op);
    if (y->data != x->data && y->dtype == VS_F32 &&
        (char *)y->data < (char *)x->data + vs_tensor_numel(x) * 4 &&
        (char *)x->data < (char *)y->data + vs_tensor_numel(y) * 4)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: y overlaps x without being x", op);
    VS_TRY(supported(be, VS_OP_RMSNORM, (const vs_tensor *[]){y, x, weight}, 3, 0));
    if (rows == 0) return VS_OK;
    return be->rmsnorm(y, x, weight, eps);
}

/* ---- elementwise ------------------------------------------------------------------- */

vs_status vs_op_gated_residual(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate) {
    const char *op = "gated_residual";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_GATED_RESIDUAL, dev, &be));
    VS_TRY(check(op, "x", x, dev, VS_F32, 0));
    VS_TRY(check(op, "y", y, dev, be->activations, 0));
    if (!same_shape(x, y)) return shape_mismatch(op, "x and y differ", x, y);
    const int64_t dim = last_dim(x), rows = rows_of(x);
    if (gate) {
        int64_t batch;
        VS_TRY(modulation_batch(op, "gate", gate, dev, rows, dim, &batch));
    }
    VS_TRY(supported(be, VS_OP_GATED_RESIDUAL, (const vs_tensor *[]){x, y, gate}, 3, 0));
    if (rows == 0) return VS_OK;
    return be->gated_residual(x, y, gate);
}

vs_status vs_op_linear_residual(vs_tensor *x, const vs_tensor *h, const vs_tensor *w, const vs_tensor *bias,
                                const vs_tensor *gate) {
    const char *op = "linear_residual";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_LINEAR_RESIDUAL, dev, &be));
    VS_TRY(check(op, "x", x, dev, VS_F32, 0));
    VS_TRY(check(op, "h", h, dev, be->activations, 0));
    VS_TRY(check(op, "weight", w, dev, be->activations, 0));
    if (w->ndim < 2) return vs_fail(VS_ERR_SHAPE, "%s: weight must have rank >= 2", op);
    const int64_t out = w->shape[0], in = vs_tensor_numel(w) / (out ? out : 1), rows = rows_of(h);
    if (last_dim(h) != in)
        return shape_mismatch(op, "h's last dimension is not the weight's input size", h, w);
    if (last_dim(x) != out || rows_of(x) != rows)
        return shape_mismatch(op, "x must be [rows of h, out]", x, w);
    if (bias) {
        VS_TRY(check(op, "bias", bias, dev, be->activations, 0));
        if (bias->ndim != 1 || bias->shape[0] != out)
            return shape_mismatch(op, "bias must be [out]", bias, w);
    }
    if (gate) {
        int64_t batch;
        VS_TRY(modulation_batch(op, "gate", gate, dev, rows, out, &batch));
    }
    VS_TRY(supported(be, VS_OP_LINEAR_RESIDUAL, (const vs_tensor *[]){x, h, w, bias, gate}, 5, 0));
    if (rows == 0 || out == 0) return VS_OK;
    return be->linear_residual(x, h, w, bias, gate);
}

/* ---- FP8 linears ------------------------------------------------------------------- */

vs_status vs_op_quantize_fp8(vs_tensor *q, vs_tensor *scale, const vs_tensor *x) {
    const char *op = "quantize_fp8";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_QUANTIZE_FP8, dev, &be));
    if (x->dtype != VS_F32 && x->dtype != be->activations)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: x is %s; %s takes F32 or %s", op, vs_dtype_name(x->dtype),
                       be->name, vs_dtype_name(be->activations));
    VS_TRY(check(op, "x", x, dev, x->dtype, 0));
    VS_TRY(check_codes_of(op, q, "scale", scale, x, "x", dev));
    VS_TRY(supported(be, VS_OP_QUANTIZE_FP8, (const vs_tensor *[]){q, scale, x}, 3, 0));
    if (vs_tensor_numel(x) == 0) return VS_OK;
    return be->quantize_fp8(q, scale, x);
}

/* A quantised operand and its row scales: `q` F8E4M3 [.., cols], `scale` F32 [rows of q]. */
static vs_status check_quantised(const char *op, const char *q_name, const vs_tensor *q, const char *s_name,
                                 const vs_tensor *scale, vs_device dev) {
    VS_TRY(check(op, q_name, q, dev, VS_F8E4M3, 0));
    VS_TRY(check(op, s_name, scale, dev, VS_F32, 0));
    if (scale->ndim != 1 || scale->shape[0] != rows_of(q)) {
        char what[96];
        snprintf(what, sizeof what, "%s must be [rows of %s]", s_name, q_name);
        return shape_mismatch(op, what, scale, q);
    }
    return VS_OK;
}

/* The weight side of an FP8 linear, shared by both ops: wq [out, in] against the input's last dimension
 * `in`, and the bias. */
static vs_status check_fp8_weight(const char *op, const vs_backend *be, vs_device dev, const vs_tensor *xq,
                                  const vs_tensor *wq, const vs_tensor *w_scale, const vs_tensor *bias) {
    VS_TRY(check_quantised(op, "weight", wq, "w_scale", w_scale, dev));
    if (wq->ndim != 2) return vs_fail(VS_ERR_SHAPE, "%s: weight must be [out, in]", op);
    if (last_dim(xq) != wq->shape[1])
        return shape_mismatch(op, "the input's last dimension is not the weight's input size", xq, wq);
    if (bias) {
        VS_TRY(check(op, "bias", bias, dev, be->activations, 0));
        if (bias->ndim != 1 || bias->shape[0] != wq->shape[0])
            return shape_mismatch(op, "bias must be [out]", bias, wq);
    }
    return VS_OK;
}

/* vs_op_linear_fp8, with the output's codes (q, q_scale; y the work space then) or without. */
static vs_status linear_fp8(const char *op, vs_tensor *y, vs_tensor *q, vs_tensor *q_scale,
                            const vs_tensor *xq, const vs_tensor *x_scale, const vs_tensor *wq,
                            const vs_tensor *w_scale, const vs_tensor *bias, vs_epilogue ep) {
    if (!xq || !xq->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: xq is missing", op);
    const vs_device dev = xq->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_LINEAR_FP8, dev, &be));
    VS_TRY(check_quantised(op, "xq", xq, "x_scale", x_scale, dev));
    VS_TRY(check_fp8_weight(op, be, dev, xq, wq, w_scale, bias));
    VS_TRY(check(op, "y", y, dev, be->activations, 0));
    if (last_dim(y) != wq->shape[0] || rows_of(y) != rows_of(xq))
        return shape_mismatch(op, "y must be [rows of xq, out]", y, wq);
    if (ep != VS_EPILOGUE_NONE && ep != VS_EPILOGUE_GELU_TANH)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: unknown epilogue %d", op, (int)ep);
    if (q) VS_TRY(check_codes_of(op, q, "q_scale", q_scale, y, "y", dev));
    VS_TRY(supported(be, VS_OP_LINEAR_FP8,
                     (const vs_tensor *[]){y, xq, x_scale, wq, w_scale, bias, q, q_scale}, 8, (int)ep));
    if (rows_of(xq) == 0 || wq->shape[0] == 0) return VS_OK;
    return be->linear_fp8(y, xq, x_scale, wq, w_scale, bias, ep, q, q_scale);
}

vs_status vs_op_linear_fp8(vs_tensor *y, const vs_tensor *xq, const vs_tensor *x_scale, const vs_tensor *wq,
                           const vs_tensor *w_scale, const vs_tensor *bias, vs_epilogue ep) {
    return linear_fp8("linear_fp8", y, NULL, NULL, xq, x_scale, wq, w_scale, bias, ep);
}

vs_status vs_op_linear_fp8_codes(vs_tensor *q, vs_tensor *q_scale, vs_tensor *work, const vs_tensor *xq,
                                 const vs_tensor *x_scale, const vs_tensor *wq, const vs_tensor *w_scale,
                                 const vs_tensor *bias, vs_epilogue ep) {
    if (!q || !q_scale) return vs_fail(VS_ERR_INVALID_ARG, "linear_fp8_codes: q and q_scale are required");
    return linear_fp8("linear_fp8_codes", work, q, q_scale, xq, x_scale, wq, w_scale, bias, ep);
}

vs_status vs_op_linear_residual_fp8(vs_tensor *x, const vs_tensor *hq, const vs_tensor *h_scale,
                                    const vs_tensor *wq, const vs_tensor *w_scale, const vs_tensor *bias,
                                    const vs_tensor *gate) {
    const char *op = "linear_residual_fp8";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_device dev = x->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_LINEAR_RESIDUAL_FP8, dev, &be));
    VS_TRY(check(op, "x", x, dev, VS_F32, 0));
    VS_TRY(check_quantised(op, "hq", hq, "h_scale", h_scale, dev));
    VS_TRY(check_fp8_weight(op, be, dev, hq, wq, w_scale, bias));
    const int64_t rows = rows_of(hq), out = wq->shape[0];
    if (last_dim(x) != out || rows_of(x) != rows) return shape_mismatch(op, "x must be [rows of hq, out]", x, wq);
    if (gate) {
        int64_t batch;
        VS_TRY(modulation_batch(op, "gate", gate, dev, rows, out, &batch));
    }
    VS_TRY(supported(be, VS_OP_LINEAR_RESIDUAL_FP8, (const vs_tensor *[]){x, hq, h_scale, wq, w_scale, bias, gate},
                     7, 0));
    if (rows == 0 || out == 0) return VS_OK;
    return be->linear_residual_fp8(x, hq, h_scale, wq, w_scale, bias, gate);
}

vs_status vs_op_add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    const char *op = "add";
    if (!out || !out->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: out is missing", op);
    const vs_device dev = out->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_ADD, dev, &be));
    VS_TRY(check(op, "out", out, dev, VS_F32, 0));
    VS_TRY(check(op, "a", a, dev, VS_F32, 1));
    VS_TRY(check(op, "b", b, dev, VS_F32, 1));
    if (!same_shape(out, a) || !same_shape(out, b))
        return shape_mismatch(op, "a, b and out must have one shape", a, b);
    VS_TRY(supported(be, VS_OP_ADD, (const vs_tensor *[]){out, a, b}, 3, 0));
    return be->add(out, a, b);
}

vs_status vs_op_silu(vs_tensor *y, const vs_tensor *x) {
    const char *op = "silu";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_SILU, x->device, &be));
    VS_TRY(check(op, "x", x, x->device, VS_F32, 0));
    VS_TRY(check(op, "y", y, x->device, VS_F32, 0));
    if (!same_shape(x, y)) return shape_mismatch(op, "x and y differ", x, y);
    VS_TRY(supported(be, VS_OP_SILU, (const vs_tensor *[]){y, x}, 2, 0));
    return be->silu(y, x);
}

vs_status vs_op_mul(vs_tensor *out, const vs_tensor *a, const vs_tensor *b) {
    const char *op = "mul";
    if (!out || !out->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: out is missing", op);
    const vs_device dev = out->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_MUL, dev, &be));
    VS_TRY(check(op, "out", out, dev, be->activations, 0));
    VS_TRY(check(op, "a", a, dev, be->activations, 0));
    VS_TRY(check(op, "b", b, dev, be->activations, 0));
    if (!same_shape(out, a) || !same_shape(out, b))
        return shape_mismatch(op, "a, b and out must have one shape", a, b);
    VS_TRY(supported(be, VS_OP_MUL, (const vs_tensor *[]){out, a, b}, 3, 0));
    return be->mul(out, a, b);
}

vs_status vs_op_embedding(vs_tensor *out, const vs_tensor *table, const vs_tensor *ids) {
    const char *op = "embedding";
    if (!table || !table->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: table is missing", op);
    const vs_device dev = table->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_EMBEDDING, dev, &be));
    VS_TRY(check(op, "table", table, dev, table->dtype == VS_F32 ? VS_F32 : be->activations, 0));
    VS_TRY(check(op, "ids", ids, dev, VS_I32, 0));
    VS_TRY(check(op, "out", out, dev, VS_F32, 0));
    if (table->ndim != 2) return vs_fail(VS_ERR_SHAPE, "%s: table must be [vocab, dim]", op);
    const int64_t dim = table->shape[1], rows = vs_tensor_numel(ids);
    if (last_dim(out) != dim || rows_of(out) != rows)
        return shape_mismatch(op, "out must be [ids, dim]", out, table);
    VS_TRY(supported(be, VS_OP_EMBEDDING, (const vs_tensor *[]){out, table, ids}, 3, 0));
    return be->embedding(out, table, ids);
}

/* ---- patches ----------------------------------------------------------------------- */

static vs_status check_patches(const char *op, const vs_tensor *lat, const vs_tensor *patches, const int p[3],
                               const vs_backend *be) {
    const vs_device dev = be->device;
    VS_TRY(check(op, "latents", lat, dev, VS_F32, 0));
    VS_TRY(check(op, "patches", patches, dev, be->activations, 0));
    if (lat->ndim != 5) return vs_fail(VS_ERR_SHAPE, "%s: latents must be [B, C, F, H, W]", op);
    for (int i = 0; i < 3; i++)
        if (p[i] < 1 || lat->shape[2 + i] % p[i])
            return vs_fail(VS_ERR_SHAPE,
                           "%s: latent size %lld along axis %d is not a multiple of the patch %d", op,
                           (long long)lat->shape[2 + i], 2 + i, p[i]);
    const int64_t *s = lat->shape;
    const int64_t tokens = s[2] / p[0] * (s[3] / p[1]) * (s[4] / p[2]), patch = s[1] * p[0] * p[1] * p[2];
    if (patches->ndim != 3 || patches->shape[0] != s[0] || patches->shape[1] != tokens ||
        patches->shape[2] != patch)
        return vs_fail(VS_ERR_SHAPE, "%s: patches must be [%lld, %lld, %lld] for these latents", op,
                       (long long)s[0], (long long)tokens, (long long)patch);
    return VS_OK;
}

vs_status vs_op_patchify(vs_tensor *patches, const vs_tensor *lat, const int p[3]) {
    if (!lat || !lat->data) return vs_fail(VS_ERR_INVALID_ARG, "patchify: latents are missing");
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_PATCHIFY, lat->device, &be));
    VS_TRY(check_patches("patchify", lat, patches, p, be));
    VS_TRY(supported(be, VS_OP_PATCHIFY, (const vs_tensor *[]){patches, lat}, 2, 0));
    return be->patchify(patches, lat, p);
}

vs_status vs_op_unpatchify(vs_tensor *lat, const vs_tensor *patches, const int p[3]) {
    if (!lat || !lat->data) return vs_fail(VS_ERR_INVALID_ARG, "unpatchify: latents are missing");
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_UNPATCHIFY, lat->device, &be));
    VS_TRY(check_patches("unpatchify", lat, patches, p, be));
    VS_TRY(supported(be, VS_OP_UNPATCHIFY, (const vs_tensor *[]){lat, patches}, 2, 0));
    return be->unpatchify(lat, patches, p);
}

/* ---- attention --------------------------------------------------------------------- */

vs_status vs_op_attention(vs_tensor *out, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v) {
    const char *op = "attention";
    if (!q || !q->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: q is missing", op);
    const vs_device dev = q->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_ATTENTION, dev, &be));
    const vs_tensor *t[4] = {q, k, v, out};
    const char *names[4] = {"q", "k", "v", "out"};
    for (int i = 0; i < 4; i++) {
        VS_TRY(check(op, names[i], t[i], dev, be->activations, 0));
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
    a.dtype = be->activations;
    a.q = q->data, a.k = k->data, a.v = v->data, a.out = out->data;
    a.batch = (int)q->shape[0], a.seq_len = (int)q->shape[1], a.heads = (int)q->shape[2];
    a.head_dim = (int)q->shape[3], a.kv_len = (int)k->shape[1];
    a.scale = 1.0f / sqrtf((float)a.head_dim);
    vs_attn_args_contiguous(&a);
    VS_TRY(vs_attn_args_validate(&a));
    vs_op_desc d;
    memset(&d, 0, sizeof d);
    d.op = VS_OP_ATTENTION;
    d.t[0] = out, d.t[1] = q, d.t[2] = k, d.t[3] = v;
    d.attn = &a;
    VS_TRY(be->supports(&d));
    return be->attention(&a, NULL);
}

vs_status vs_op_attention_relpos(vs_tensor *out, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                 const vs_tensor *rel_table, const vs_tensor *buckets, const vs_tensor *mask,
                                 vs_tensor *scores) {
    const char *op = "attention_relpos";
    if (!q || !q->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: q is missing", op);
    const vs_device dev = q->device;
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_ATTENTION_RELPOS, dev, &be));
    const vs_tensor *t[4] = {q, k, v, out};
    const char *names[4] = {"q", "k", "v", "out"};
    for (int i = 0; i < 4; i++) {
        VS_TRY(check(op, names[i], t[i], dev, be->activations, 0));
        if (t[i]->ndim != 4) return vs_fail(VS_ERR_SHAPE, "%s: %s must be [B, N, H, D]", op, names[i]);
        if (!same_shape(t[i], q)) return shape_mismatch(op, "q, k, v and out must have one shape", t[i], q);
    }
    const int64_t B = q->shape[0], N = q->shape[1], H = q->shape[2], D = q->shape[3], ld = (N + 7) / 8 * 8;
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
        return vs_fail(VS_ERR_SHAPE, "%s: scores must be [%lld, %lld, %lld, %lld]", op, (long long)B,
                       (long long)H, (long long)N, (long long)ld);
    VS_TRY(supported(be, VS_OP_ATTENTION_RELPOS,
                     (const vs_tensor *[]){out, q, k, v, rel_table, buckets, mask, scores}, 8, 0));
    if (B * N * H * D == 0) return VS_OK;
    return be->attention_relpos(out, q, k, v, rel_table, buckets, mask, scores);
}

/* ---- conversion, copies, fills ------------------------------------------------------ */

static int is_float_storage(vs_dtype t) {
    return t == VS_F32 || t == VS_F16 || t == VS_BF16;
}

vs_status vs_op_convert(vs_tensor *dst, const vs_tensor *src) {
    const char *op = "convert";
    if (!src || !src->data || !dst || !dst->data)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: missing tensor", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_CONVERT, src->device, &be));
    if (!is_float_storage(src->dtype) || !is_float_storage(dst->dtype))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: %s to %s (F32, F16 and BF16 only)", op,
                       vs_dtype_name(src->dtype), vs_dtype_name(dst->dtype));
    VS_TRY(check(op, "src", src, src->device, src->dtype, 0));
    VS_TRY(check(op, "dst", dst, src->device, dst->dtype, 0));
    if (!same_shape(src, dst)) return shape_mismatch(op, "src and dst differ", src, dst);
    VS_TRY(supported(be, VS_OP_CONVERT, (const vs_tensor *[]){dst, src}, 2, 0));
    return be->convert(dst, src);
}

/* Runs on the backend of the device that is not the CPU, when one is not: it moves the bytes. */
vs_status vs_op_copy(vs_tensor *dst, const vs_tensor *src) {
    const char *op = "copy";
    if (!src || !src->data || !dst || !dst->data)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: missing tensor", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_COPY, src->device == VS_CPU ? dst->device : src->device, &be));
    VS_TRY(check(op, "src", src, src->device, src->dtype, 0));
    VS_TRY(check(op, "dst", dst, dst->device, src->dtype, 0));
    if (!same_shape(src, dst)) return shape_mismatch(op, "src and dst differ", src, dst);
    VS_TRY(supported(be, VS_OP_COPY, (const vs_tensor *[]){dst, src}, 2, 0));
    return be->copy(dst, src);
}

vs_status vs_op_copy_rows(vs_tensor *dst, const vs_tensor *src) {
    const char *op = "copy_rows";
    if (!src || !src->data || !dst || !dst->data)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: missing tensor", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_COPY_ROWS, src->device, &be));
    VS_TRY(check(op, "src", src, src->device, src->dtype, 1));
    VS_TRY(check(op, "dst", dst, src->device, src->dtype, 1));
    if (!same_shape(src, dst) || src->ndim != 2)
        return shape_mismatch(op, "need two [rows, cols] views", src, dst);
    const vs_tensor *t[2] = {src, dst};
    for (int i = 0; i < 2; i++)
        if (t[i]->stride[1] != 1 || t[i]->stride[0] < t[i]->shape[1])
            return vs_fail(VS_ERR_SHAPE,
                           "%s: %s needs contiguous rows (strides [%lld, 1], %lld >= %lld columns)", op,
                           i ? "dst" : "src", (long long)t[i]->stride[0], (long long)t[i]->stride[0],
                           (long long)t[i]->shape[1]);
    VS_TRY(supported(be, VS_OP_COPY_ROWS, (const vs_tensor *[]){dst, src}, 2, 0));
    if (src->shape[0] == 0 || src->shape[1] == 0) return VS_OK;
    return be->copy_rows(dst, src);
}

vs_status vs_op_fill_uniform(vs_tensor *t, uint64_t seed, float lo, float hi) {
    const char *op = "fill_uniform";
    if (!t || !t->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: tensor is missing", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_FILL_UNIFORM, t->device, &be));
    if (!is_float_storage(t->dtype))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: %s tensors (F32, F16 and BF16 only)", op,
                       vs_dtype_name(t->dtype));
    VS_TRY(check(op, "tensor", t, t->device, t->dtype, 0));
    if (!isfinite(lo) || !isfinite(hi) || hi < lo)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: bad range [%g, %g)", op, lo, hi);
    VS_TRY(supported(be, VS_OP_FILL_UNIFORM, (const vs_tensor *[]){t}, 1, 0));
    return be->fill_uniform(t, seed, lo, hi);
}

vs_status vs_op_sync(vs_device device) {
    const vs_backend *be = vs_backend_for(device);
    if (!be) return vs_fail(VS_ERR_UNSUPPORTED, "sync: this vidsparse build has no CUDA support");
    return be->sync();
}

/* ---- the VAE's image ops ------------------------------------------------------------ */

/* A rank-4 image batch of the backend's layout, and its [N, C, H, W] sizes. */
static vs_status check_image(const char *op, const char *arg, const vs_tensor *t, const vs_backend *be,
                             vs_dtype dtype, int64_t nchw[4]) {
    VS_TRY(check(op, arg, t, be->device, dtype, 0));
    if (t->ndim != 4)
        return vs_fail(VS_ERR_SHAPE, "%s: %s must be %s", op, arg,
                       be->channels_last ? "[N, H, W, C]" : "[N, C, H, W]");
    const int64_t *s = t->shape;
    nchw[0] = s[0];
    nchw[1] = be->channels_last ? s[3] : s[1];
    nchw[2] = be->channels_last ? s[1] : s[2];
    nchw[3] = be->channels_last ? s[2] : s[3];
    if (nchw[1] > INT32_MAX || nchw[2] > INT32_MAX || nchw[3] > INT32_MAX)
        return vs_fail(VS_ERR_SHAPE, "%s: %s is too large", op, arg);
    return VS_OK;
}

/* A [C] F32 parameter (gain, bias); NULL passes when optional. */
static vs_status check_channels(const char *op, const char *arg, const vs_tensor *t, const vs_backend *be,
                                int64_t channels) {
    VS_TRY(check(op, arg, t, be->device, VS_F32, 0));
    if (t->ndim != 1 || t->shape[0] != channels)
        return vs_fail(VS_ERR_SHAPE, "%s: %s must be [%lld]", op, arg, (long long)channels);
    return VS_OK;
}

vs_status vs_op_conv_frames(vs_tensor *y, const vs_tensor *const *taps, int kt, const vs_tensor *weight,
                            const vs_tensor *bias) {
    const char *op = "conv_frames";
    if (!y || !y->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: y is missing", op);
    if (kt < 1 || kt > VS_OP_MAX_TENSORS - 3 || !taps)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: %d time taps (1 to %d)", op, kt, VS_OP_MAX_TENSORS - 3);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_CONV_FRAMES, y->device, &be));
    int64_t out[4], in[4];
    VS_TRY(check_image(op, "y", y, be, be->activations, out));
    for (int dt = 0; dt < kt; dt++) {
        VS_TRY(check_image(op, "tap", taps[dt], be, be->activations, in));
        if (in[0] != out[0] || in[2] != out[2] || in[3] != out[3])
            return shape_mismatch(op, "each tap must have y's frames, height and width", taps[dt], y);
        if (!same_shape(taps[dt], taps[0])) return shape_mismatch(op, "the taps differ", taps[dt], taps[0]);
    }
    VS_TRY(check(op, "weight", weight, be->device, be->activations, 0));
    const char *layout = be->channels_last ? "[kt, Cout, kh, kw, Cin]" : "[Cout, Cin, kt, kh, kw]";
    if (weight->ndim != 5) return vs_fail(VS_ERR_SHAPE, "%s: weight must be %s", op, layout);
    const int64_t *ws = weight->shape;
    const int64_t wcout = be->channels_last ? ws[1] : ws[0], wcin = be->channels_last ? ws[4] : ws[1];
    const int64_t wkt = be->channels_last ? ws[0] : ws[2];
    const int64_t kh = be->channels_last ? ws[2] : ws[3], kw = be->channels_last ? ws[3] : ws[4];
    if (wcout != out[1] || wcin != in[1] || wkt != kt || kh % 2 == 0 || kw % 2 == 0)
        return vs_fail(VS_ERR_SHAPE,
                       "%s: weight must be %s with odd kh and kw for %lld -> %lld channels and %d taps", op,
                       layout, (long long)in[1], (long long)out[1], kt);
    if (bias) VS_TRY(check_channels(op, "bias", bias, be, out[1]));
    vs_op_desc d;
    memset(&d, 0, sizeof d);
    d.op = VS_OP_CONV_FRAMES;
    d.t[0] = y, d.t[1] = weight, d.t[2] = bias;
    for (int dt = 0; dt < kt; dt++)
        d.t[3 + dt] = taps[dt];
    d.param[0] = kt;
    VS_TRY(be->supports(&d));
    if (vs_tensor_numel(y) == 0) return VS_OK;
    return be->conv_frames(y, taps, kt, weight, bias);
}

vs_status vs_op_vae_rmsnorm(vs_tensor *y, const vs_tensor *x, const vs_tensor *gamma, const vs_tensor *beta,
                            float scale, int silu) {
    const char *op = "vae_rmsnorm";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_VAE_RMSNORM, x->device, &be));
    int64_t xs[4], ys[4];
    VS_TRY(check_image(op, "x", x, be, be->activations, xs));
    VS_TRY(check_image(op, "y", y, be, be->activations, ys));
    if (!same_shape(x, y)) return shape_mismatch(op, "x and y differ", x, y);
    VS_TRY(check_channels(op, "gamma", gamma, be, xs[1]));
    if (beta) VS_TRY(check_channels(op, "beta", beta, be, xs[1]));
    if (!isfinite(scale)) return vs_fail(VS_ERR_INVALID_ARG, "%s: scale %g is not finite", op, scale);
    VS_TRY(supported(be, VS_OP_VAE_RMSNORM, (const vs_tensor *[]){y, x, gamma, beta}, 4, silu));
    if (vs_tensor_numel(x) == 0) return VS_OK;
    return be->vae_rmsnorm(y, x, gamma, beta, scale, silu != 0);
}

vs_status vs_op_upsample2x(vs_tensor *y, const vs_tensor *x, int interleaved) {
    const char *op = "upsample2x";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_UPSAMPLE2X, x->device, &be));
    int64_t xs[4], ys[4];
    VS_TRY(check_image(op, "x", x, be, be->activations, xs));
    VS_TRY(check_image(op, "y", y, be, be->activations, ys));
    const int64_t k = interleaved ? 2 : 1; /* output frames per input frame */
    if (ys[0] != xs[0] * k || xs[1] != ys[1] * k || ys[2] != 2 * xs[2] || ys[3] != 2 * xs[3])
        return shape_mismatch(op,
                              interleaved
                                  ? "y must have twice x's frames, half its channels and twice its size"
                                  : "y must have x's frames and channels and twice its size",
                              y, x);
    VS_TRY(supported(be, VS_OP_UPSAMPLE2X, (const vs_tensor *[]){y, x}, 2, interleaved));
    if (vs_tensor_numel(y) == 0) return VS_OK;
    return be->upsample2x(y, x, interleaved != 0);
}

vs_status vs_op_bias_residual(vs_tensor *y, const vs_tensor *bias, const vs_tensor *res) {
    const char *op = "bias_residual";
    if (!y || !y->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: y is missing", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_BIAS_RESIDUAL, y->device, &be));
    int64_t ys[4];
    VS_TRY(check_image(op, "y", y, be, be->activations, ys));
    if (bias) VS_TRY(check_channels(op, "bias", bias, be, ys[1]));
    if (res) {
        VS_TRY(check(op, "res", res, be->device, be->activations, 0));
        if (!same_shape(res, y)) return shape_mismatch(op, "res and y differ", res, y);
    }
    VS_TRY(supported(be, VS_OP_BIAS_RESIDUAL, (const vs_tensor *[]){y, bias, res}, 3, 0));
    if (vs_tensor_numel(y) == 0) return VS_OK;
    return be->bias_residual(y, bias, res);
}

vs_status vs_op_softmax_rows(vs_tensor *s, int64_t cols) {
    const char *op = "softmax_rows";
    if (!s || !s->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: s is missing", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_SOFTMAX_ROWS, s->device, &be));
    VS_TRY(check(op, "s", s, be->device, be->activations, 0));
    if (cols < 1 || cols > last_dim(s))
        return vs_fail(VS_ERR_SHAPE, "%s: %lld columns of rows of %lld", op, (long long)cols,
                       (long long)last_dim(s));
    VS_TRY(supported(be, VS_OP_SOFTMAX_ROWS, (const vs_tensor *[]){s}, 1, 0));
    if (rows_of(s) == 0) return VS_OK;
    return be->softmax_rows(s, cols);
}

vs_status vs_op_image_from_planes(vs_tensor *y, const vs_tensor *x) {
    const char *op = "image_from_planes";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_IMAGE_FROM_PLANES, x->device, &be));
    VS_TRY(check(op, "x", x, be->device, VS_F32, 0));
    if (x->ndim != 4) return vs_fail(VS_ERR_SHAPE, "%s: x must be [N, C, H, W]", op);
    int64_t ys[4];
    VS_TRY(check_image(op, "y", y, be, be->activations, ys));
    if (ys[0] != x->shape[0] || ys[1] != x->shape[1] || ys[2] != x->shape[2] || ys[3] != x->shape[3])
        return shape_mismatch(op, "y must hold x's frames, channels, height and width", y, x);
    VS_TRY(supported(be, VS_OP_IMAGE_FROM_PLANES, (const vs_tensor *[]){y, x}, 2, 0));
    if (vs_tensor_numel(x) == 0) return VS_OK;
    return be->image_from_planes(y, x);
}

vs_status vs_op_planes_from_image(vs_tensor *y, const vs_tensor *x, const vs_tensor *bias) {
    const char *op = "planes_from_image";
    if (!x || !x->data) return vs_fail(VS_ERR_INVALID_ARG, "%s: x is missing", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_PLANES_FROM_IMAGE, x->device, &be));
    int64_t xs[4];
    VS_TRY(check_image(op, "x", x, be, be->activations, xs));
    VS_TRY(check(op, "y", y, be->device, VS_F32, 0));
    if (y->ndim != 4 || y->shape[0] != xs[0] || y->shape[1] > xs[1] || y->shape[2] != xs[2] ||
        y->shape[3] != xs[3])
        return shape_mismatch(op, "y must be [N, C, H, W] with x's frames and size and at most its channels",
                              y, x);
    VS_TRY(check_channels(op, "bias", bias, be, y->shape[1]));
    VS_TRY(supported(be, VS_OP_PLANES_FROM_IMAGE, (const vs_tensor *[]){y, x, bias}, 3, 0));
    if (vs_tensor_numel(y) == 0) return VS_OK;
    return be->planes_from_image(y, x, bias);
}

vs_status vs_op_rel_l1(const vs_tensor *a, const vs_tensor *b, double *out) {
    const char *op = "rel_l1";
    if (!a || !a->data || !out) return vs_fail(VS_ERR_INVALID_ARG, "%s: a or out is missing", op);
    const vs_backend *be;
    VS_TRY(backend_of(VS_OP_REL_L1, a->device, &be));
    VS_TRY(check(op, "a", a, be->device, be->activations, 0));
    VS_TRY(check(op, "b", b, be->device, be->activations, 0));
    if (!same_shape(a, b)) return shape_mismatch(op, "a and b differ", a, b);
    VS_TRY(supported(be, VS_OP_REL_L1, (const vs_tensor *[]){a, b}, 2, 0));
    return be->rel_l1(a, b, out);
}
