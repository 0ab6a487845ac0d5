/* The registry of backend tables: the one place that knows which backends this build compiled. */
#include "backend/backend.h"

#include <stdlib.h>
#include <string.h>

extern const vs_backend vs_backend_cpu;
#if VS_HAVE_CUDA
extern const vs_backend vs_backend_cuda;
static const vs_backend *const cuda_backend = &vs_backend_cuda;
#else
static const vs_backend *const cuda_backend = NULL;
#endif

const vs_backend *vs_backend_for(vs_device device) {
    switch (device) {
    case VS_CPU: return &vs_backend_cpu;
    case VS_CUDA: return cuda_backend;
    default: return NULL;
    }
}

int vs_fp8_fast_accumulation(void) {
    const char *v = getenv("VS_FP8_FAST_ACCUM");
    return !(v && !strcmp(v, "0"));
}

const char *vs_op_name(vs_op_id op) {
    static const char *const names[VS_OP_COUNT] = {
        [VS_OP_LINEAR] = "linear",
        [VS_OP_LINEAR_RESIDUAL] = "linear_residual",
        [VS_OP_LAYERNORM_MODULATE] = "layernorm_modulate",
        [VS_OP_QK_NORM_ROPE] = "qk_norm_rope",
        [VS_OP_RMSNORM] = "rmsnorm",
        [VS_OP_GATED_RESIDUAL] = "gated_residual",
        [VS_OP_ADD] = "add",
        [VS_OP_SILU] = "silu",
        [VS_OP_MUL] = "mul",
        [VS_OP_EMBEDDING] = "embedding",
        [VS_OP_PATCHIFY] = "patchify",
        [VS_OP_UNPATCHIFY] = "unpatchify",
        [VS_OP_ATTENTION] = "attention",
        [VS_OP_ATTENTION_RELPOS] = "attention_relpos",
        [VS_OP_CONVERT] = "convert",
        [VS_OP_COPY] = "copy",
        [VS_OP_COPY_ROWS] = "copy_rows",
        [VS_OP_FILL_UNIFORM] = "fill_uniform",
        [VS_OP_CONV_FRAMES] = "conv_frames",
        [VS_OP_VAE_RMSNORM] = "vae_rmsnorm",
        [VS_OP_UPSAMPLE2X] = "upsample2x",
        [VS_OP_BIAS_RESIDUAL] = "bias_residual",
        [VS_OP_SOFTMAX_ROWS] = "softmax_rows",
        [VS_OP_IMAGE_FROM_PLANES] = "image_from_planes",
        [VS_OP_PLANES_FROM_IMAGE] = "planes_from_image",
        [VS_OP_QUANTIZE_FP8] = "quantize_fp8",
        [VS_OP_LINEAR_FP8] = "linear_fp8",
        [VS_OP_LINEAR_RESIDUAL_FP8] = "linear_residual_fp8",
        [VS_OP_REL_L1] = "rel_l1",
    };
    return op >= 0 && op < VS_OP_COUNT && names[op] ? names[op] : "unknown op";
}
