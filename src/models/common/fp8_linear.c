#include "models/common/fp8_linear.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"

static int64_t last_dim(const vs_tensor *t) {
    return t->shape[t->ndim - 1];
}

/* An input reading x (a view), without codes yet. */
static void input_of(vs_linear_input *in, const vs_tensor *x) {
    memset(in, 0, sizeof *in);
    in->x = *x;
    in->x.owned = 0;
}

/* The FP8 codes of x, shaped as x, and its row scales, in the given buffers (checked to be big enough). */
static vs_status code_views(vs_linear_input *in, const vs_tensor *x, const vs_tensor *codes,
                            const vs_tensor *scales) {
    const int64_t n = vs_tensor_numel(x), rows = last_dim(x) ? n / last_dim(x) : 0;
    if (vs_tensor_numel(codes) < n || vs_tensor_numel(scales) < rows)
        return vs_fail(VS_ERR_SHAPE, "FP8 input buffers hold %lld codes and %lld scales, %lld and %lld needed",
                       (long long)vs_tensor_numel(codes), (long long)vs_tensor_numel(scales), (long long)n,
                       (long long)rows);
    in->q = vs_tensor_view(codes->data, VS_F8E4M3, codes->device, x->ndim, x->shape);
    in->scale = vs_tensor_view(scales->data, VS_F32, scales->device, 1, (int64_t[]){rows});
    return VS_OK;
}

vs_status vs_linear_input_prepare(vs_linear_input *in, const vs_tensor *x, const vs_tensor *codes,
                                  const vs_tensor *scales) {
    input_of(in, x);
    if (!codes) return VS_OK;
    VS_TRY(code_views(in, x, codes, scales));
    return vs_op_quantize_fp8(&in->q, &in->scale, x);
}

vs_status vs_linear_input_norm(vs_linear_input *in, vs_tensor *h, const vs_tensor *x, const vs_tensor *weight,
                               const vs_tensor *bias, const vs_tensor *shift, const vs_tensor *scale,
                               float eps, const vs_tensor *codes, const vs_tensor *scales,
                               const vs_tensor *const *readers, int reader_count) {
    input_of(in, h);
    if (!codes) return vs_op_layernorm_modulate(h, x, weight, bias, shift, scale, eps);
    int bf16_reader = 0;
    for (int i = 0; i < reader_count; i++)
        bf16_reader |= readers[i]->dtype != VS_F8E4M3;
    if (!bf16_reader) in->x.data = NULL; /* a BF16 layer handed this input fails on the missing x */
    VS_TRY(code_views(in, h, codes, scales));
    return vs_op_layernorm_modulate_fp8(bf16_reader ? h : NULL, &in->q, &in->scale, x, weight, bias, shift,
                                        scale, eps);
}

/* Rows r0 .. r0 + rows of a [.., cols] tensor as a [rows, cols] view (no data for a tensor without). */
static vs_tensor rows_of(const vs_tensor *t, int64_t r0, int64_t rows) {
    const int64_t cols = last_dim(t);
    return vs_tensor_view(t->data ? (char *)t->data + r0 * cols * (int64_t)vs_dtype_size(t->dtype) : NULL,
                          t->dtype, t->device, 2, (int64_t[]){rows, cols});
}

vs_linear_input vs_linear_input_rows(const vs_linear_input *in, int64_t r0, int64_t rows) {
    vs_linear_input part;
    memset(&part, 0, sizeof part);
    part.x = rows_of(&in->x, r0, rows);
    if (in->q.data) {
        part.q = rows_of(&in->q, r0, rows);
        part.scale = vs_tensor_view((float *)in->scale.data + r0, VS_F32, in->scale.device, 1, (int64_t[]){rows});
    }
    return part;
}

/* An E4M3 layer needs the quantised input. */
static vs_status check_codes(const vs_linear_input *in, const char *op) {
    if (!in->q.data)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: the layer's weights are FP8 but its input was not quantised", op);
    return VS_OK;
}

vs_status vs_linear(vs_tensor *y, const vs_linear_input *in, const vs_tensor *weight, const vs_tensor *w_scale,
                    const vs_tensor *bias, vs_epilogue epilogue) {
    if (weight->dtype != VS_F8E4M3) return vs_op_linear(y, &in->x, weight, bias, epilogue);
    VS_TRY(check_codes(in, "linear_fp8"));
    return vs_op_linear_fp8(y, &in->q, &in->scale, weight, w_scale, bias, epilogue);
}

vs_status vs_linear_to_input(vs_linear_input *next, vs_tensor *y, const vs_linear_input *in,
                             const vs_tensor *weight, const vs_tensor *w_scale, const vs_tensor *bias,
                             vs_epilogue epilogue, const vs_tensor *codes, const vs_tensor *scales,
                             const vs_tensor *reader) {
    if (!codes || weight->dtype != VS_F8E4M3 || reader->dtype != VS_F8E4M3) {
        VS_TRY(vs_linear(y, in, weight, w_scale, bias, epilogue));
        return vs_linear_input_prepare(next, y, codes, scales);
    }
    VS_TRY(check_codes(in, "linear_fp8_codes"));
    input_of(next, y);
    next->x.data = NULL; /* y only carried the product */
    VS_TRY(code_views(next, y, codes, scales));
    return vs_op_linear_fp8_codes(&next->q, &next->scale, y, &in->q, &in->scale, weight, w_scale, bias,
                                  epilogue);
}

vs_status vs_linear_residual(vs_tensor *x, const vs_linear_input *in, const vs_tensor *weight,
                             const vs_tensor *w_scale, const vs_tensor *bias, const vs_tensor *gate) {
    if (weight->dtype != VS_F8E4M3) return vs_op_linear_residual(x, &in->x, weight, bias, gate);
    VS_TRY(check_codes(in, "linear_residual_fp8"));
    return vs_op_linear_residual_fp8(x, &in->q, &in->scale, weight, w_scale, bias, gate);
}

vs_status vs_linear_quantize_weight(vs_tensor *weight, vs_tensor *scale) {
    memset(scale, 0, sizeof *scale);
    if (weight->ndim != 2) return vs_fail(VS_ERR_SHAPE, "FP8 weights must be [out, in] matrices");
    vs_tensor codes = {0};
    VS_TRY(vs_tensor_alloc(&codes, VS_F8E4M3, weight->device, 2, weight->shape));
    vs_status s = vs_tensor_alloc(scale, VS_F32, weight->device, 1, weight->shape);
    if (!s) s = vs_op_quantize_fp8(&codes, scale, weight);
    if (!s) s = vs_op_sync(weight->device);
    if (s) {
        vs_tensor_free(&codes);
        vs_tensor_free(scale);
        return s;
    }
    vs_tensor_free(weight);
    *weight = codes;
    return VS_OK;
}

/* The per-output-channel scales of FP8 weight `name` [out, ...] into host scales[out], validated. */
static vs_status read_scales(const vs_safetensors *st, const char *name, int64_t out, float *scales) {
    const size_t len = strlen(name), suffix = strlen(".weight");
    if (len <= suffix || strcmp(name + len - suffix, ".weight"))
        return vs_fail(VS_ERR_FORMAT, "FP8 tensor '%s' is not a layer's weight (\"<layer>.weight\")", name);
    char key[512];
    const vs_st_entry *e = NULL;
    static const char *const scale_names[2] = {"scale_weight", "weight_scale"};
    for (int i = 0; i < 2 && !e; i++) {
        snprintf(key, sizeof key, "%.*s.%s", (int)(len - suffix), name, scale_names[i]);
        e = vs_safetensors_find(st, key);
    }
    for (int64_t j = 0; j < out; j++) scales[j] = 1.0f;
    if (!e) return VS_OK; /* a plain cast to E4M3: scale 1 */
    int64_t n = 1;
    for (int d = 0; d < e->ndim; d++) n *= e->shape[d];
    if (!vs_dtype_is_float(e->dtype) || e->dtype == VS_F8E4M3)
        return vs_fail(VS_ERR_FORMAT, "%s: FP8 scale '%s' is %s, not F32, F16 or BF16", e->file, key,
                       vs_dtype_name(e->dtype));
    if (n != 1 && n != out)
        return vs_fail(VS_ERR_FORMAT, "%s: FP8 scale '%s' has %lld values; '%s' needs 1 or %lld (one per output "
                       "channel)", e->file, key, (long long)n, name, (long long)out);
    void *raw = malloc(e->nbytes ? e->nbytes : 1); /* the mapping need not be aligned for the dtype */
    if (!raw) return vs_fail(VS_ERR_OOM, "out of memory for FP8 scale '%s'", key);
    memcpy(raw, e->data, e->nbytes);
    vs_convert(scales, VS_F32, raw, e->dtype, n);
    free(raw);
    for (int64_t j = 0; j < n; j++)
        if (!(isfinite(scales[j]) && scales[j] > 0))
            return vs_fail(VS_ERR_FORMAT, "%s: FP8 scale '%s' holds %g, not a positive finite number", e->file, key,
                           scales[j]);
    for (int64_t j = n; j < out; j++) scales[j] = scales[0];
    return VS_OK;
}

vs_status vs_fp8_checkpoint_load(const vs_safetensors *st, const char *name, vs_dtype dtype, vs_device device,
                                 int ndim, const int64_t *shape, vs_tensor *out, vs_tensor *fp8_scale) {
    memset(out, 0, sizeof *out);
    const vs_st_entry *e = vs_safetensors_find(st, name);
    if (!e) return vs_fail(VS_ERR_NOT_FOUND, "FP8 weight '%s' is missing", name);
    if (e->ndim < 2) return vs_fail(VS_ERR_FORMAT, "%s: FP8 weight '%s' is not a matrix", e->file, name);
    const int64_t rows = e->shape[0];
    float *scales = malloc(sizeof(float) * (size_t)(rows ? rows : 1));
    if (!scales) return vs_fail(VS_ERR_OOM, "out of memory for the scales of '%s'", name);
    vs_status s = read_scales(st, name, rows, scales);
    vs_tensor host = {0};
    if (!s && dtype == VS_F8E4M3) { /* the codes as stored, the scales per channel beside them */
        memset(fp8_scale, 0, sizeof *fp8_scale);
        s = vs_safetensors_load(st, name, VS_F8E4M3, device, ndim, shape, out);
        vs_tensor view = vs_tensor_view(scales, VS_F32, VS_CPU, 1, &rows);
        if (!s) s = vs_tensor_alloc(fp8_scale, VS_F32, device, 1, &rows);
        if (!s) s = vs_op_copy(fp8_scale, &view);
        if (s) vs_tensor_free(fp8_scale);
    } else if (!s) { /* dequantised on the host: row j of the codes times scale j */
        s = vs_safetensors_load(st, name, VS_F32, VS_CPU, ndim, shape, &host);
        const int64_t n = vs_tensor_numel(&host), cols = rows ? n / rows : 0;
        float *v = host.data;
        for (int64_t i = 0; !s && i < n; i++) v[i] *= scales[i / cols];
        if (!s && dtype != VS_F32) vs_convert(host.data, dtype, host.data, VS_F32, n); /* narrower: in place */
        vs_tensor narrowed = vs_tensor_view(host.data, dtype, VS_CPU, host.ndim, host.shape);
        if (!s) s = vs_tensor_alloc(out, dtype, device, host.ndim, host.shape);
        if (!s) s = vs_op_copy(out, &narrowed);
    }
    if (s) vs_tensor_free(out);
    vs_tensor_free(&host);
    free(scales);
    return s;
}
