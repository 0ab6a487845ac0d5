/* A backend is a table of operations for one device, in the spirit of
 * ggml's backend interface: src/ops/ops.c checks an op's arguments (ranks,
 * shapes, dtypes, devices: the contract of src/ops/ops.h), asks the backend
 * of the tensors' device whether it `supports` them, then calls its entry.
 * The entries take the already validated tensors and trust them; each
 * computes what the vs_op_* of the same name documents in ops.h.
 *
 * Adding an operation: an id in vs_op_id (and its name in backend.c), an
 * entry here, the function in backend/cpu/backend_cpu.c and in
 * backend/cuda/backend_cuda.c, its device limits in each `supports`, its
 * checks and dispatch in ops.c, and one row in tests/test_backend_ops.c. */
#ifndef VS_BACKEND_BACKEND_H
#define VS_BACKEND_BACKEND_H

#include <stdint.h>

#include "backend/attention_args.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vs_epilogue {
    VS_EPILOGUE_NONE = 0,
    VS_EPILOGUE_GELU_TANH, /* y = gelu_tanh(x W^T + b) */
    VS_EPILOGUE_SILU,      /* y = silu(x W^T + b) = v * sigmoid(v) */
} vs_epilogue;

typedef enum vs_op_id {
    VS_OP_LINEAR,
    VS_OP_LINEAR_RESIDUAL,
    VS_OP_LAYERNORM_MODULATE,
    VS_OP_QK_NORM_ROPE,
    VS_OP_RMSNORM,
    VS_OP_GATED_RESIDUAL,
    VS_OP_ADD,
    VS_OP_SILU,
    VS_OP_MUL,
    VS_OP_EMBEDDING,
    VS_OP_PATCHIFY,
    VS_OP_UNPATCHIFY,
    VS_OP_ATTENTION,
    VS_OP_ATTENTION_RELPOS,
    VS_OP_CONVERT,
    VS_OP_COPY,
    VS_OP_COPY_ROWS,
    VS_OP_FILL_UNIFORM,
    VS_OP_CONV_FRAMES,
    VS_OP_VAE_RMSNORM,
    VS_OP_UPSAMPLE2X,
    VS_OP_BIAS_RESIDUAL,
    VS_OP_SOFTMAX_ROWS,
    VS_OP_IMAGE_FROM_PLANES,
    VS_OP_PLANES_FROM_IMAGE,
    VS_OP_QUANTIZE_FP8,
    VS_OP_LINEAR_FP8,
    VS_OP_LINEAR_RESIDUAL_FP8,
    VS_OP_REL_L1,
    VS_OP_COUNT
} vs_op_id;

/* "linear", "attention_relpos", ...: the name error messages use. */
const char *vs_op_name(vs_op_id op);

/* One call of an operation, as `supports` sees it: the tensors in the order
 * of the vs_op_* signature (outputs first, NULL where an optional operand is
 * absent; the taps of conv_frames after y, weight and bias), its integer
 * parameters (epilogue, heads, kt, interleaved, ...) in signature order, and
 * for attention the argument block. */
#define VS_OP_MAX_TENSORS 8
typedef struct vs_op_desc {
    vs_op_id op;
    const vs_tensor *t[VS_OP_MAX_TENSORS];
    int param[4];
    const vs_attn_args *attn;
} vs_op_desc;

typedef struct vs_sparse_kernels vs_sparse_kernels;

typedef struct vs_backend {
    const char *name; /* "cpu", "cuda" */
    /* What sparse attention methods call on this device (backend/sparse_kernels.h). */
    const vs_sparse_kernels *sparse;
    vs_device device;
    /* Activations: the dtype of GEMM and attention inputs and outputs (F32 on the CPU, BF16 on CUDA). */
    vs_dtype activations;
    /* Image layout of the VAE ops: 0 channel-first ([N, C, H, W]), 1 channels-last ([N, H, W, C]). */
    int channels_last;

    /* VS_OK, or VS_ERR_UNSUPPORTED with a one-line reason naming the op
     * ("rmsnorm: last dimension 13 is not a multiple of 8 (CUDA kernels)"),
     * for arguments that already passed ops.c's checks. */
    vs_status (*supports)(const vs_op_desc *desc);

    vs_status (*linear)(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight, const vs_tensor *bias,
                        vs_epilogue epilogue);
    vs_status (*linear_residual)(vs_tensor *x, const vs_tensor *h, const vs_tensor *weight,
                                 const vs_tensor *bias, const vs_tensor *gate);
    /* q, q_scale: the output's E4M3 codes and row scales too (vs_op_layernorm_modulate_fp8; y then may be
     * NULL), or both NULL. */
    vs_status (*layernorm_modulate)(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight,
                                    const vs_tensor *bias, const vs_tensor *shift, const vs_tensor *scale,
                                    float eps, vs_tensor *q, vs_tensor *q_scale);
    vs_status (*qk_norm_rope)(vs_tensor *x, const vs_tensor *weight, const vs_tensor *bias,
                              const vs_tensor *cos, const vs_tensor *sin, int heads, float eps);
    vs_status (*rmsnorm)(vs_tensor *y, const vs_tensor *x, const vs_tensor *weight, float eps);
    vs_status (*gated_residual)(vs_tensor *x, const vs_tensor *y, const vs_tensor *gate);
    vs_status (*add)(vs_tensor *out, const vs_tensor *a, const vs_tensor *b);
    vs_status (*silu)(vs_tensor *y, const vs_tensor *x);
    vs_status (*mul)(vs_tensor *out, const vs_tensor *a, const vs_tensor *b);
    vs_status (*embedding)(vs_tensor *out, const vs_tensor *table, const vs_tensor *ids);
    vs_status (*patchify)(vs_tensor *patches, const vs_tensor *latents, const int patch[3]);
    vs_status (*unpatchify)(vs_tensor *latents, const vs_tensor *patches, const int patch[3]);
    /* Dense attention (no block list, no head layout) on this device's memory; `stream` a cudaStream_t or
     * NULL. */
    vs_status (*attention)(const vs_attn_args *args, void *stream);
    vs_status (*attention_relpos)(vs_tensor *out, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                  const vs_tensor *rel_table, const vs_tensor *buckets, const vs_tensor *mask,
                                  vs_tensor *scores);
    vs_status (*convert)(vs_tensor *dst, const vs_tensor *src);
    /* Either tensor may be on the CPU: the CUDA table also copies between host and device. */
    vs_status (*copy)(vs_tensor *dst, const vs_tensor *src);
    vs_status (*copy_rows)(vs_tensor *dst, const vs_tensor *src);
    vs_status (*fill_uniform)(vs_tensor *t, uint64_t seed, float lo, float hi);
    vs_status (*sync)(void);
    vs_status (*conv_frames)(vs_tensor *y, const vs_tensor *const *taps, int kt, const vs_tensor *weight,
                             const vs_tensor *bias);
    vs_status (*vae_rmsnorm)(vs_tensor *y, const vs_tensor *x, const vs_tensor *gamma, const vs_tensor *beta,
                             float scale, int silu);
    vs_status (*upsample2x)(vs_tensor *y, const vs_tensor *x, int interleaved);
    vs_status (*bias_residual)(vs_tensor *y, const vs_tensor *bias, const vs_tensor *res);
    vs_status (*softmax_rows)(vs_tensor *s, int64_t cols);
    vs_status (*image_from_planes)(vs_tensor *y, const vs_tensor *x);
    vs_status (*planes_from_image)(vs_tensor *y, const vs_tensor *x, const vs_tensor *bias);
    vs_status (*quantize_fp8)(vs_tensor *q, vs_tensor *scale, const vs_tensor *x);
    /* q, q_scale: the output's E4M3 codes and row scales are the result (vs_op_linear_fp8_codes; y the
     * space the product passes through), or both NULL. */
    vs_status (*linear_fp8)(vs_tensor *y, const vs_tensor *xq, const vs_tensor *x_scale, const vs_tensor *wq,
                            const vs_tensor *w_scale, const vs_tensor *bias, vs_epilogue epilogue,
                            vs_tensor *q, vs_tensor *q_scale);
    vs_status (*linear_residual_fp8)(vs_tensor *x, const vs_tensor *hq, const vs_tensor *h_scale,
                                     const vs_tensor *wq, const vs_tensor *w_scale, const vs_tensor *bias,
                                     const vs_tensor *gate);
    vs_status (*rel_l1)(const vs_tensor *a, const vs_tensor *b, double *out);
} vs_backend;

/* The backend of `device`, or NULL when this build has none for it. */
const vs_backend *vs_backend_for(vs_device device);

/* Whether FP8 GEMMs on Hopper use its fast accumulation (the tensor cores' partial sums are not promoted to
 * full f32 every few k-steps): on unless VS_FP8_FAST_ACCUM=0 is in the environment (read as each GEMM
 * shape's plan is made). On the H200 it makes Wan 14B's FP8 GEMMs 6-9% faster and moves a whole 720p
 * forward's distance from BF16 by 0.3% (docs/fp8.md). The CPU reference always sums exact products in f32. */
int vs_fp8_fast_accumulation(void);

#ifdef __cplusplus
}
#endif
#endif
