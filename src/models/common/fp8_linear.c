#include "models/common/fp8_linear.h"

#include <string.h>

#include "core/status.h"

static int64_t last_dim(const vs_tensor *t) {
    return t->shape[t->ndim - 1];
}

vs_status vs_linear_input_prepare(vs_linear_input *in, const vs_tensor *x, const vs_tensor *codes,
                                  const vs_tensor *scales) {
    memset(in, 0, sizeof *in);
    in->x = *x;
    in->x.owned = 0;
    if (!codes) return VS_OK;
    const int64_t n = vs_tensor_numel(x), rows = last_dim(x) ? n / last_dim(x) : 0;
    if (vs_tensor_numel(codes) < n || vs_tensor_numel(scales) < rows)
        return vs_fail(VS_ERR_SHAPE, "FP8 input buffers hold %lld codes and %lld scales, %lld and %lld needed",
                       (long long)vs_tensor_numel(codes), (long long)vs_tensor_numel(scales), (long long)n,
                       (long long)rows);
    in->q = vs_tensor_view(codes->data, VS_F8E4M3, codes->device, x->ndim, x->shape);
    in->scale = vs_tensor_view(scales->data, VS_F32, scales->device, 1, (int64_t[]){rows});
    return vs_op_quantize_fp8(&in->q, &in->scale, x);
}

/* Rows r0 .. r0 + rows of a [.., cols] tensor as a [rows, cols] view. */
static vs_tensor rows_of(const vs_tensor *t, int64_t r0, int64_t rows) {
    const int64_t cols = last_dim(t);
    return vs_tensor_view((char *)t->data + r0 * cols * (int64_t)vs_dtype_size(t->dtype), t->dtype, t->device, 2,
                          (int64_t[]){rows, cols});
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
