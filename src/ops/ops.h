/* One function per operation of the model code, on vs_tensor arguments,
 * dispatching by the tensors' device through that device's backend table
 * (src/backend/backend.h: backend/cpu, backend/cuda). Every argument must
 * live on the same device; each op checks ranks, shapes, dtypes and devices
 * and names the op and the argument at fault, then asks the backend whether
 * it supports the arguments (VS_ERR_UNSUPPORTED with the reason if not).
 *
 * Dtypes. On the CPU everything is F32. On CUDA, "activations" (the inputs
 * and outputs of GEMMs and attention) are BF16; the residual stream, norms'
 * statistics and parameters, modulation and RoPE tables are F32, as the
 * reference pipelines keep them. All arithmetic is f32.
 *
 * Layouts. Row-major; the last dimension is contiguous. "Rows" are all
 * leading dimensions flattened. A [B, K, dim] modulation operand (shift,
 * scale, gate) is read through its strides, so a view into a larger table
 * or a broadcast (stride 0) works; its row b applies to the tokens of batch
 * entry b. CUDA kernels read 16 bytes at a time and need the last dimension
 * to be a multiple of 8 (4096, 5120, ... in practice). */
#ifndef VS_OPS_OPS_H
#define VS_OPS_OPS_H

#include <stdint.h>

#include "backend/backend.h" /* vs_epilogue */
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[rows, out] = epilogue(x[rows, in] W^T + bias) (epilogue: none, GELU-tanh or SiLU); W [out, in, ...] (trailing
 * dimensions flatten into `in`: a Conv3d weight is a linear map on patches),
 * bias [out] or NULL. CPU: all F32. CUDA: x, W, bias, y BF16 through cuBLASLt
 * (f32 accumulation, bias and GELU fused in the epilogue); or x and y F32 with
 * W and bias F32 or BF16, a GEMV-like kernel meant for a few rows (the time
 * embedding). */
vs_status vs_op_linear(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight, const vs_tensor *bias,
                       vs_epilogue epilogue);

/* y = LayerNorm(x) * (weight or 1) + (bias or 0), then, when given,
 * y = y * (1 + scale) + shift (diffusers' modulated norm). x F32 [B, N, dim];
 * y [B, N, dim] (F32 on the CPU, BF16 on CUDA); weight, bias F32 [dim] or
 * NULL; shift, scale F32 [B, dim] views (both or neither). */
vs_status vs_op_layernorm_modulate(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight,
                                   const vs_tensor *bias, const vs_tensor *shift, const vs_tensor *scale,
                                   float eps);
/* vs_op_layernorm_modulate and vs_op_quantize_fp8 of its y in one pass: q F8E4M3 [B, N, dim] and q_scale
 * F32 [B * N] hold y's codes and row scales, bit for bit as vs_op_quantize_fp8 gives them for the y this
 * device writes (BF16 on CUDA). y itself is written when given; NULL when the codes are all the layers
 * reading it take (FP8 weights), which saves a pass over it. */
vs_status vs_op_layernorm_modulate_fp8(vs_tensor *y, vs_tensor *q, vs_tensor *q_scale, const vs_tensor *x,
                                       const vs_tensor *weight, const vs_tensor *bias, const vs_tensor *shift,
                                       const vs_tensor *scale, float eps);

/* The norm of a DiT's (or a text encoder's) q or k, then RoPE, in place on
 * x [B, N, heads * head_dim] (activations), statistics in f32:
 *   - weight F32 [dim], bias NULL: RMSNorm over the whole row (all heads), times
 *     weight (Wan's q/k norm);
 *   - weight F32 [head_dim], bias NULL: RMSNorm over each head, one weight for
 *     all heads (diffusers' per-head "rms_norm": HunyuanVideo);
 *   - weight and bias F32 [head_dim]: LayerNorm over each head (its mean
 *     subtracted, divided by sqrt(variance + eps)) times weight plus bias, one
 *     affine pair for all heads (CogVideoX's per-head "layer_norm");
 *   - weight and bias NULL: no norm (the rotation alone);
 * then, when cos and sin are given (F32 [N, head_dim / 2]), the rotation of
 * interleaved pairs (2j, 2j+1) of every head by the angle of token n, pair j.
 * CUDA: one kernel, one read and one write of x, rounded to BF16 once (after
 * the rotation). */
vs_status vs_op_qk_norm_rope(vs_tensor *x, const vs_tensor *weight, const vs_tensor *bias,
                             const vs_tensor *cos, const vs_tensor *sin, int heads, float eps);

/* y = x / sqrt(mean(x^2) + eps) * weight over each row (T5's RMSNorm: no mean
 * subtraction, f32 statistics). x F32 [.., dim]; y of x's shape, F32, or
 * BF16 on CUDA (activations for a GEMM); weight F32 [dim]. y may alias x when
 * both are F32. */
vs_status vs_op_rmsnorm(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight, float eps);

/* x += y * gate: x F32 [B, N, dim], y activations [B, N, dim], gate F32 [B, dim]
 * view, or NULL for a plain residual. */
vs_status vs_op_gated_residual(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate);

/* x += gate * (h W^T + bias), a linear layer into a gated residual without the
 * intermediate: x F32 [B, N, out], h activations [B, N, in], W and bias as in
 * vs_op_linear, gate F32 [B, out] view or NULL (then x += h W^T + bias). CUDA:
 * one cuBLASLt GEMM per batch entry that accumulates into x in F32 (x is its
 * C and D), the gate folded into a BF16 copy of W's rows (that rounding takes
 * the place of the two-step form's BF16 rounding of the layer's output). */
vs_status vs_op_linear_residual(vs_tensor *x, const vs_tensor *h, const vs_tensor *weight,
                                const vs_tensor *bias, const vs_tensor *gate);

/* FP8 (E4M3, "fn": max 448, no infinities) linear layers, docs/fp8.md.
 *
 * Row-wise quantisation: scale[r] = max_i |x[r, i]| / 448 (1 for a row of
 * zeros), q[r, i] = e4m3(x[r, i] * (448 / max_i |x[r, i]|)), rounded to
 * nearest even and saturated, in f32 arithmetic on every device. For
 * activations a row is a token (per-token scales); for a weight [out, in] a
 * row is an output channel (per-channel scales). x F32 or the device's
 * activations [.., in], contiguous; q F8E4M3 of x's shape; scale F32 [rows]. */
vs_status vs_op_quantize_fp8(vs_tensor *q, vs_tensor *scale, const vs_tensor *x);

/* y = epilogue((xq[r, :] . wq[o, :]) * x_scale[r] * w_scale[o] + bias[o]): vs_op_linear
 * on quantised operands. xq F8E4M3 [.., in] with x_scale F32 [rows] (from
 * vs_op_quantize_fp8); wq F8E4M3 [out, in] with w_scale F32 [out]; bias the
 * device's activations [out] or NULL; y activations [rows of xq, out]. f32
 * accumulation; CUDA: one cuBLASLt FP8 GEMM (in % 16 == 0, out % 8 == 0). */
vs_status vs_op_linear_fp8(vs_tensor *y, const vs_tensor *xq, const vs_tensor *x_scale, const vs_tensor *wq,
                           const vs_tensor *w_scale, const vs_tensor *bias, vs_epilogue epilogue);
/* vs_op_linear_fp8 whose result is the next FP8 layer's input: q F8E4M3 and q_scale F32 [rows] hold the
 * codes and row scales vs_op_quantize_fp8 gives for the y vs_op_linear_fp8 writes, bit for bit; `work` (y's
 * shape and dtype) is the space the product passes through, its contents afterwards unspecified. CUDA:
 * the epilogue kernel writes the codes in place of y (out <= 32768), which saves two passes over y. */
vs_status vs_op_linear_fp8_codes(vs_tensor *q, vs_tensor *q_scale, vs_tensor *work, const vs_tensor *xq,
                                 const vs_tensor *x_scale, const vs_tensor *wq, const vs_tensor *w_scale,
                                 const vs_tensor *bias, vs_epilogue epilogue);

/* x += gate * ((hq . wq^T) * h_scale * w_scale + bias): vs_op_linear_residual on
 * quantised operands (hq, h_scale, wq, w_scale as in vs_op_linear_fp8; x F32
 * [B, N, out]; gate F32 [B, out] view or NULL). CUDA: the gate is folded into
 * the per-channel weight scale, so no weight copy is made. */
vs_status vs_op_linear_residual_fp8(vs_tensor *x, const vs_tensor *hq, const vs_tensor *h_scale,
                                    const vs_tensor *wq, const vs_tensor *w_scale, const vs_tensor *bias,
                                    const vs_tensor *gate);

/* out = a + b elementwise, F32, same shape, any strides (broadcast with stride 0); out contiguous. */
vs_status vs_op_add(vs_tensor *out, const vs_tensor *a, const vs_tensor *b);
/* y = silu(x) = x * sigmoid(x), F32, same shape, contiguous. */
vs_status vs_op_silu(vs_tensor *y, const vs_tensor *x);

/* out = a * b elementwise on activations of one shape (contiguous; out may alias a or b). */
vs_status vs_op_mul(vs_tensor *out, const vs_tensor *a, const vs_tensor *b);

/* out[r, :] = table[ids[r], :]: an embedding lookup into the F32 residual
 * stream. ids I32 [rows] on the table's device; table [vocab, dim] F32 on
 * the CPU, BF16 or F32 on CUDA; out F32 [rows, dim]. The CPU rejects ids
 * outside the table; a CUDA kernel cannot report them and writes NaN rows. */
vs_status vs_op_embedding(vs_tensor *out, const vs_tensor *table, const vs_tensor *ids);

/* Conv3d-with-stride-=-kernel input: latents F32 [B, C, F, H, W] -> patches
 * [B, N, C * pt * ph * pw] (activations), tokens frame-major (f, h, w), each
 * patch flattened as (c, t, h, w) like the Conv3d weight. */
vs_status vs_op_patchify(vs_tensor *patches, const vs_tensor *latents, const int patch[3]);
/* The output head's inverse: patches [B, N, pt * ph * pw * C] (activations),
 * each flattened as (t, h, w, c) -> latents F32 [B, C, F, H, W]. */
vs_status vs_op_unpatchify(vs_tensor *latents, const vs_tensor *patches, const int patch[3]);

/* Dense attention out = softmax(q k^T / sqrt(D)) v per (batch, head): q, out
 * [B, N, H, D], k, v [B, L, H, D] (L = N for self-attention, the text length
 * for cross-attention); contiguous activations. */
vs_status vs_op_attention(vs_tensor *out, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v);

/* T5 self-attention through GEMMs, per (batch b, head h), unscaled:
 *     out = softmax(q k^T + bias[bucket[j - i + N - 1], h] + mask) v
 * q, k, v, out [B, N, H, D] contiguous activations (D % 8 == 0 on CUDA);
 * rel_table F32 [num_buckets, H] (one layer's relative_attention_bias);
 * buckets I32 [2N - 1], the bucket of each key - query distance; mask I32
 * [B, N], key j of entry b is attended when mask[b, j] != 0 (a query row
 * whose keys are all masked gets zeros). scores: F32 scratch [B, H, N, ld]
 * with ld = N rounded up to a multiple of 8; on CUDA the softmax writes the
 * BF16 probabilities over it (row i's probabilities in the first half of its
 * bytes) for the P v GEMM. */
vs_status vs_op_attention_relpos(vs_tensor *out, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                 const vs_tensor *rel_table, const vs_tensor *buckets, const vs_tensor *mask,
                                 vs_tensor *scores);

/* Elementwise dtype conversion between F32, F16 and BF16 on one device; same shape, contiguous. */
vs_status vs_op_convert(vs_tensor *dst, const vs_tensor *src);
/* Copies between devices (or within one); same dtype and shape, contiguous. */
vs_status vs_op_copy(vs_tensor *dst, const vs_tensor *src);

/* dst[r, :] = src[r, :] for [rows, cols] views on one device, same dtype, whose
 * rows may lie apart (stride[0] >= cols, stride[1] == 1): the packing and
 * unpacking around the sequence-parallel exchanges. Regions must not overlap. */
vs_status vs_op_copy_rows(vs_tensor *dst, const vs_tensor *src);

/* Fills a contiguous F32, F16 or BF16 tensor with uniform values in [lo, hi):
 * element i gets lo + (hi - lo) * u(seed, i) from a counter-based hash, so
 * the CPU and the GPU produce the same values (up to the storage rounding). */
vs_status vs_op_fill_uniform(vs_tensor *t, uint64_t seed, float lo, float hi);

/* Waits for the device's queued work (no-op on the CPU); reports asynchronous kernel errors. */
vs_status vs_op_sync(vs_device device);

/* The video VAE's image ops. A batch of N frames (or N images) is
 * channel-first F32 on the CPU, [N, C, H, W], and channels-last BF16 on
 * CUDA, [N, H, W, C], every pixel's channels one 16-byte-multiple row
 * (C % 8 == 0); per-channel parameters are F32 [C] on both. */

/* y = bias + sum over dt < kt of conv2d(taps[dt], weight[:, dt]): stride 1,
 * zero padding kh/2, kw/2 (odd kh, kw: "same" size). A causal 3D convolution
 * hands in its kt time taps, each [N, Cin, H, W] (the caller owns the
 * temporal padding and caches: output frame i reads frame i of every tap);
 * kt = 1 is a Conv2d. y [N, Cout, H, W]; weight [Cout, Cin, kt, kh, kw] F32
 * on the CPU (PyTorch's Conv3d layout), [kt, Cout, kh, kw, Cin] BF16 on
 * CUDA (one NHWC filter bank per tap, through cuDNN, f32 accumulation); bias F32 [Cout] or NULL. At most
 * VS_OP_MAX_TENSORS - 3 taps. */
vs_status vs_op_conv_frames(vs_tensor *y, const vs_tensor *const *taps, int kt, const vs_tensor *weight,
                            const vs_tensor *bias);
/* WanRMS_norm of each pixel over its channels:
 *     y = x / max(||x||_2, 1e-12) * scale * gamma + (beta or 0), then SiLU when silu;
 * gamma, beta F32 [C]; y may be x (in place). */
vs_status vs_op_vae_rmsnorm(vs_tensor *y, const vs_tensor *x, const vs_tensor *gamma, const vs_tensor *beta,
                            float scale, int silu);
/* Nearest 2x upsampling, out[y][x] = in[y / 2][x / 2]: y [N, C, 2H, 2W] from
 * x [N, C, H, W]. interleaved: x holds N / 2 frames of 2C channels and
 * output frame f takes channels (f % 2) C .. of input frame f / 2 (the time
 * convolution's frame doubling). */
vs_status vs_op_upsample2x(vs_tensor *y, const vs_tensor *x, int interleaved);
/* y += bias (per channel) + res (y's shape), each NULL when absent; f32 math. */
vs_status vs_op_bias_residual(vs_tensor *y, const vs_tensor *bias, const vs_tensor *res);
/* In place on s [rows, ld] (activations, any rank; ld the last dimension):
 * softmax of the first cols entries of each row (f32 math, max-subtracted),
 * entries cols .. ld - 1 set to 0 (the padding of an attention matrix). */
vs_status vs_op_softmax_rows(vs_tensor *s, int64_t cols);
/* y = x, an image batch in the device's layout and dtype from F32 planes x
 * [N, C, H, W] (latents entering the decoder). */
vs_status vs_op_image_from_planes(vs_tensor *y, const vs_tensor *x);
/* y [N, C, H, W] F32 planes = the first C channels of image x (Cs >= C
 * channels: padded convolution outputs) + bias (F32 [C], required). */
vs_status vs_op_planes_from_image(vs_tensor *y, const vs_tensor *x, const vs_tensor *bias);

/* *out = sum |a - b| / sum |b| over every element: the relative L1 change of a from b (TeaCache's signal
 * distance), on the device that holds them, with only the result coming back. Activations of one device,
 * same shape, contiguous; sums in double (the GPU: f32 within a thread, double across threads). A zero b
 * gives Inf or NaN, as the division does. */
vs_status vs_op_rel_l1(const vs_tensor *a, const vs_tensor *b, double *out);

#ifdef __cplusplus
}
#endif
#endif
