#include "core/status.h"
#include "backend/attention_args.h"

#include <stdlib.h>
#include <string.h>

void vs_attn_args_contiguous(vs_attn_args *a) {
    int64_t row = (int64_t)a->heads * a->head_dim;
    a->q_stride_n = a->k_stride_n = a->v_stride_n = a->o_stride_n = row;
    a->q_stride_b = a->o_stride_b = row * a->seq_len;
    a->k_stride_b = a->v_stride_b = row * vs_attn_kv_len(a);
}

vs_status vs_attn_args_validate(const vs_attn_args *a) {
    if (!a->q || !a->k || !a->v || !a->out) return vs_fail(VS_ERR_INVALID_ARG, "attention: q, k, v and out are required");
    if (a->batch < 1 || a->heads < 1 || a->seq_len < 1)
        return vs_fail(VS_ERR_SHAPE, "attention: batch %d, heads %d, sequence %d must all be positive", a->batch,
                       a->heads, a->seq_len);
    if (a->head_dim != 64 && a->head_dim != 128)
        return vs_fail(VS_ERR_UNSUPPORTED, "attention: head_dim %d not supported (64 or 128)", a->head_dim);
    if (a->kv_len < 0) return vs_fail(VS_ERR_SHAPE, "attention: negative key count %d", a->kv_len);
    if (vs_attn_kv_len(a) != a->seq_len && (a->blocks || a->head_layout))
        return vs_fail(VS_ERR_INVALID_ARG, "attention: block lists and head layouts need self-attention (kv_len == seq_len)");
    int64_t row = (int64_t)a->heads * a->head_dim;
    const int64_t strides[4] = {a->q_stride_n, a->k_stride_n, a->v_stride_n, a->o_stride_n};
    for (int i = 0; i < 4; i++)
        if (strides[i] < row)
            return vs_fail(VS_ERR_SHAPE, "attention: %s token stride %lld is smaller than heads x head_dim = %lld",
                           (const char[][2]){"q", "k", "v", "o"}[i], (long long)strides[i], (long long)row);
    if (a->head_layout) {
        if (a->frames < 1 || a->tokens_per_frame < 1 || (int64_t)a->frames * a->tokens_per_frame > a->seq_len)
            return vs_fail(VS_ERR_SHAPE, "attention: %d frames x %d tokens do not fit in a sequence of %d",
                           a->frames, a->tokens_per_frame, a->seq_len);
    }
    if (a->blocks) {
        int nb = (a->seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
        if (a->blocks->num_q_blocks != nb || a->blocks->num_k_blocks != nb)
            return vs_fail(VS_ERR_SHAPE, "attention: block list is for %d x %d blocks, sequence %d needs %d",
                           a->blocks->num_q_blocks, a->blocks->num_k_blocks, a->seq_len, nb);
    }
    return VS_OK;
}

vs_status vs_attention_kernels(const char *variable, vs_device device, const char **name) {
    const char *env = getenv(variable);
    const int set = env && *env;
    if (set && strcmp(env, "cudnn") && strcmp(env, "ours"))
        return vs_fail(VS_ERR_INVALID_ARG, "%s must be cudnn or ours, not '%s'", variable, env);
    if (device == VS_CPU) *name = "cpu";
    else *name = set && !strcmp(env, "ours") ? "ours" : "cudnn"; /* every CUDA build links cuDNN */
    return VS_OK;
}
