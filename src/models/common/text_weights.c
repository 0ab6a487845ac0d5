/* Shared pieces of the transformer text encoders (see text_weights.h). */
#include "models/common/text_weights.h"

#include <stdlib.h>

#include "core/status.h"
#include "ops/ops.h"

vs_dtype vs_text_act_dtype(vs_device device) { return device == VS_CPU ? VS_F32 : VS_BF16; }

vs_status vs_text_weight_place(const float *host, int ndim, const int64_t *shape, vs_dtype dtype, vs_device device,
                               vs_tensor *out) {
    vs_tensor src = vs_tensor_view((void *)host, VS_F32, VS_CPU, ndim, shape), f32 = {0};
    VS_TRY(vs_tensor_alloc(out, dtype, device, ndim, shape));
    vs_status s = VS_OK;
    if (dtype == VS_F32) {
        s = vs_op_copy(out, &src);
    } else { /* to the device in f32, converted there */
        s = vs_tensor_alloc(&f32, VS_F32, device, ndim, shape);
        if (s == VS_OK) s = vs_op_copy(&f32, &src);
        if (s == VS_OK) s = vs_op_convert(out, &f32);
        if (s == VS_OK) s = vs_op_sync(device);
        vs_tensor_free(&f32);
    }
    if (s != VS_OK) vs_tensor_free(out);
    return s;
}

vs_status vs_text_weight_random(int ndim, const int64_t *shape, vs_dtype dtype, vs_device device, uint64_t seed,
                                float lo, float hi, vs_tensor *out) {
    VS_TRY(vs_tensor_alloc(out, dtype, device, ndim, shape));
    vs_status s = vs_op_fill_uniform(out, seed, lo, hi);
    if (s != VS_OK) vs_tensor_free(out);
    return s;
}

vs_status vs_text_causal_table(int heads, vs_device device, vs_tensor *out) {
    float *table = malloc((size_t)(2 * heads) * sizeof *table);
    if (!table) return vs_fail(VS_ERR_OOM, "text encoder: out of memory");
    for (int h = 0; h < heads; h++) {
        table[h] = 0.0f;
        table[heads + h] = -1e30f;
    }
    vs_status s = vs_text_weight_place(table, 2, (int64_t[]){2, heads}, VS_F32, device, out);
    free(table);
    return s;
}

vs_status vs_text_upload_ids(vs_arena *arena, const int32_t *ids, const int32_t *mask, int64_t B, int64_t N,
                             vs_tensor *ids_d, vs_tensor *mask_d, vs_tensor *buckets_d) {
    VS_TRY(VS_TEXT_TAKE(arena, VS_I32, ids_d, B * N));
    VS_TRY(VS_TEXT_TAKE(arena, VS_I32, mask_d, B, N));
    VS_TRY(VS_TEXT_TAKE(arena, VS_I32, buckets_d, 2 * N - 1));
    int32_t *host = malloc((size_t)(2 * N - 1 + (mask ? 0 : B * N)) * sizeof *host);
    if (!host) return vs_fail(VS_ERR_OOM, "text encoder: out of memory");
    for (int64_t r = -(N - 1); r <= N - 1; r++) host[r + N - 1] = r > 0; /* key after the query: masked */
    int32_t *ones = host + 2 * N - 1;
    for (int64_t i = 0; !mask && i < B * N; i++) ones[i] = 1;
    vs_tensor ids_h = vs_tensor_view((void *)ids, VS_I32, VS_CPU, 1, (int64_t[]){B * N});
    vs_tensor mask_h = vs_tensor_view(mask ? (void *)mask : ones, VS_I32, VS_CPU, 2, (int64_t[]){B, N});
    vs_tensor buckets_h = vs_tensor_view(host, VS_I32, VS_CPU, 1, (int64_t[]){2 * N - 1});
    vs_status s = vs_op_copy(ids_d, &ids_h);
    if (s == VS_OK) s = vs_op_copy(mask_d, &mask_h);
    if (s == VS_OK) s = vs_op_copy(buckets_d, &buckets_h);
    if (s == VS_OK) s = vs_op_sync(ids_d->device); /* the host arrays are released next */
    free(host);
    return s;
}

vs_status vs_text_check_tokens(const char *model, const int32_t *ids, const int32_t *mask, int batch, int n, int vocab) {
    if (n <= 0 || batch <= 0)
        return vs_fail(VS_ERR_INVALID_ARG, "%s: %d sequences of %d tokens; both must be positive", model, batch, n);
    for (int64_t b = 0; b < batch; b++) {
        int tokens = 0;
        for (int64_t i = 0; i < n; i++) {
            const int32_t id = ids[b * n + i];
            if (id < 0 || id >= vocab)
                return vs_fail(VS_ERR_INVALID_ARG, "%s: token %d at position %lld is outside the vocabulary of %d", model,
                               id, (long long)(b * n + i), vocab);
            tokens += !mask || mask[b * n + i] != 0;
        }
        if (!tokens) return vs_fail(VS_ERR_INVALID_ARG, "%s: sequence %lld has no token (its mask is all padding)", model, (long long)b);
    }
    return VS_OK;
}

vs_status vs_text_arena_reserve(vs_arena **arena, const char *label, vs_device device, size_t bytes) {
    if (!*arena || vs_arena_capacity(*arena) < bytes) {
        vs_arena_free(*arena);
        *arena = NULL;
        VS_TRY(vs_arena_create(arena, label, device, bytes));
    }
    vs_arena_reset(*arena);
    return VS_OK;
}

vs_status vs_text_silu(vs_tensor *a, vs_tensor *f32) {
    if (a->dtype == VS_F32) return vs_op_silu(a, a);
    VS_TRY(vs_op_convert(f32, a));
    VS_TRY(vs_op_silu(f32, f32));
    return vs_op_convert(a, f32);
}

size_t vs_text_attention_bytes(int64_t B, int64_t N, int64_t heads, int64_t head_dim, vs_device device) {
    const int64_t act = (int64_t)vs_dtype_size(vs_text_act_dtype(device));
    return 4 * vs_text_aligned(B * N * heads * head_dim * act) + vs_text_aligned(B * heads * N * ((N + 7) / 8 * 8) * 4);
}

vs_status vs_text_causal_attention(vs_arena *arena, vs_tensor *x, const vs_tensor *h, const vs_text_attn_weights *w,
                                   int heads, int head_dim, const vs_tensor *cos, const vs_tensor *sin,
                                   const vs_tensor *causal, const vs_tensor *buckets, const vs_tensor *mask) {
    const vs_device dev = h->device;
    const vs_dtype act = h->dtype;
    const int64_t B = h->shape[0], N = h->shape[1], H = heads, D = head_dim;
    vs_tensor q, k, v, att, scores;
    VS_TRY(VS_TEXT_TAKE(arena, act, &q, B, N, H, D));
    VS_TRY(VS_TEXT_TAKE(arena, act, &k, B, N, H, D));
    VS_TRY(VS_TEXT_TAKE(arena, act, &v, B, N, H, D));
    VS_TRY(VS_TEXT_TAKE(arena, act, &att, B, N, H, D));
    VS_TRY(VS_TEXT_TAKE(arena, VS_F32, &scores, B, H, N, (N + 7) / 8 * 8));
    /* the same memory as [B, N, H * D] rows for the projections */
    vs_tensor q2 = vs_tensor_view(q.data, act, dev, 3, (int64_t[]){B, N, H * D});
    vs_tensor k2 = vs_tensor_view(k.data, act, dev, 3, (int64_t[]){B, N, H * D});
    vs_tensor v2 = vs_tensor_view(v.data, act, dev, 3, (int64_t[]){B, N, H * D});
    vs_tensor att2 = vs_tensor_view(att.data, act, dev, 3, (int64_t[]){B, N, H * D});
    VS_TRY(vs_op_linear(&q2, h, w->q, w->q_bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_op_linear(&k2, h, w->k, w->k_bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_op_linear(&v2, h, w->v, w->v_bias, VS_EPILOGUE_NONE));
    if (cos) {
        VS_TRY(vs_op_qk_norm_rope(&q2, NULL, NULL, cos, sin, heads, 1e-6f));
        VS_TRY(vs_op_qk_norm_rope(&k2, NULL, NULL, cos, sin, heads, 1e-6f));
    }
    VS_TRY(vs_op_attention_relpos(&att, &q, &k, &v, causal, buckets, mask, &scores));
    return vs_op_linear_residual(x, &att2, w->o, w->o_bias, NULL);
}
