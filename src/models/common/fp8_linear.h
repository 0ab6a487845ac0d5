/* Linear layers in either precision for model code (docs/fp8.md). A layer
 * whose weight is E4M3 (quantised per output channel, its scales beside it)
 * reads its input as E4M3 codes with per-token scales; a BF16 / F32 layer
 * reads the activations themselves. The input is quantised once and feeds
 * every layer that reads it (Q, K and V from one normed x):
 *
 *     vs_linear_input in;
 *     VS_TRY(vs_linear_input_prepare(&in, &h, fp8 ? &codes : NULL, fp8 ? &scales : NULL));
 *     VS_TRY(vs_linear(&q, &in, &wq, &wq_scale, &bq, VS_EPILOGUE_NONE));
 *     VS_TRY(vs_linear(&k, &in, &wk, &wk_scale, &bk, VS_EPILOGUE_NONE)); */
#ifndef VS_MODELS_COMMON_FP8_LINEAR_H
#define VS_MODELS_COMMON_FP8_LINEAR_H

#include "io/safetensors.h"
#include "ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_linear_input {
    vs_tensor x;        /* the activations [.., in] */
    vs_tensor q, scale; /* their E4M3 codes (x's shape) and per-row scales F32 [rows]; q.data NULL: none */
} vs_linear_input;

/* in = x, and when `codes` and `scales` are given (buffers of at least x's element count and row count,
 * E4M3 and F32, on x's device), x's codes and scales written into them (vs_op_quantize_fp8). */
vs_status vs_linear_input_prepare(vs_linear_input *in, const vs_tensor *x, const vs_tensor *codes,
                                  const vs_tensor *scales);
/* in = vs_op_layernorm_modulate(x, weight, bias, shift, scale) as the layers `readers` (their weights) read
 * it. With `codes` and `scales` the norm writes the E4M3 codes in its own pass
 * (vs_op_layernorm_modulate_fp8), and writes h only when a reader is not E4M3 (in->x has no data
 * otherwise); without them it writes h alone. */
vs_status vs_linear_input_norm(vs_linear_input *in, vs_tensor *h, const vs_tensor *x, const vs_tensor *weight,
                               const vs_tensor *bias, const vs_tensor *shift, const vs_tensor *scale,
                               float eps, const vs_tensor *codes, const vs_tensor *scales,
                               const vs_tensor *const *readers, int reader_count);
/* Rows r0 .. r0 + rows of an input of rank 2 or more, as a [rows, in] input (views). */
vs_linear_input vs_linear_input_rows(const vs_linear_input *in, int64_t r0, int64_t rows);

/* y = epilogue(x W^T + bias): vs_op_linear_fp8 on the input's codes when the weight is E4M3 (w_scale its
 * per-channel scales), vs_op_linear on x otherwise (w_scale unused). */
vs_status vs_linear(vs_tensor *y, const vs_linear_input *in, const vs_tensor *weight, const vs_tensor *w_scale,
                    const vs_tensor *bias, vs_epilogue epilogue);
/* next = vs_linear(y, in, weight, ..) as the layer `reader` (its weight) reads it, y of the output's shape.
 * With `codes` and `scales`, both layers E4M3: the GEMM's epilogue writes the codes in place of y
 * (vs_op_linear_fp8_codes; y is its work space and next->x has no data); otherwise vs_linear, then
 * vs_linear_input_prepare. */
vs_status vs_linear_to_input(vs_linear_input *next, vs_tensor *y, const vs_linear_input *in,
                             const vs_tensor *weight, const vs_tensor *w_scale, const vs_tensor *bias,
                             vs_epilogue epilogue, const vs_tensor *codes, const vs_tensor *scales,
                             const vs_tensor *reader);
/* x += gate * (in W^T + bias), likewise (vs_op_linear_residual_fp8 / vs_op_linear_residual). */
vs_status vs_linear_residual(vs_tensor *x, const vs_linear_input *in, const vs_tensor *weight,
                             const vs_tensor *w_scale, const vs_tensor *bias, const vs_tensor *gate);

/* Replaces *weight (F32 or the device's activations, [out, in]) by its E4M3 codes, per output channel,
 * and allocates their scales F32 [out] in *scale, on the weight's device. On failure *weight is as it was
 * and *scale empty. */
vs_status vs_linear_quantize_weight(vs_tensor *weight, vs_tensor *scale);

/* A linear layer's weight stored as E4M3 in a checkpoint (ComfyUI's and Kijai's FP8 files, docs/fp8.md):
 * `name` ("<layer>.weight") F8_E4M3 [out, in] with its scale "<layer>.scale_weight" or
 * "<layer>.weight_scale": one value for the tensor or one per output channel, a positive finite float
 * (absent: 1). dtype VS_F8E4M3: the codes as they are into *out and the scales per output channel into
 * *fp8_scale (F32 [out]); any other float dtype: the weight dequantised (codes x scale) into *out, and
 * fp8_scale unused. `shape` as vs_safetensors_load checks it. Bad or mismatched scales are
 * VS_ERR_FORMAT naming the tensor; on failure nothing stays allocated. */
vs_status vs_fp8_checkpoint_load(const vs_safetensors *st, const char *name, vs_dtype dtype, vs_device device,
                                 int ndim, const int64_t *shape, vs_tensor *out, vs_tensor *fp8_scale);

#ifdef __cplusplus
}
#endif
#endif
