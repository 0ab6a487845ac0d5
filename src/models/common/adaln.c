#include "models/common/adaln.h"

#include "core/status.h"
#include "ops/ops.h"

vs_status vs_adaln_modulation(vs_tensor *mod, const vs_tensor *table, const vs_tensor *emb) {
    if (mod->ndim != 3 || table->ndim < 2 || (emb->ndim != 2 && emb->ndim != 3))
        return vs_fail(VS_ERR_SHAPE, "adaLN modulation: [B, K, dim] from a [1, K, dim] table and a [B, (K,) dim] "
                                     "embedding");
    const int64_t B = mod->shape[0], K = mod->shape[1], dim = mod->shape[2];
    /* The table repeats over the batch, a [B, dim] embedding over the chunks: stride 0 along the repeat. */
    vs_tensor t = vs_tensor_view(table->data, VS_F32, table->device, 3, (int64_t[]){B, K, dim});
    t.stride[0] = 0;
    vs_tensor e = vs_tensor_view(emb->data, VS_F32, emb->device, 3, (int64_t[]){B, K, dim});
    if (emb->ndim == 2) e.stride[0] = dim, e.stride[1] = 0;
    return vs_op_add(mod, &t, &e);
}

vs_tensor vs_adaln_chunk(const vs_tensor *mod, int k) {
    const int64_t K = mod->shape[1], dim = mod->shape[2];
    vs_tensor v = vs_tensor_view((float *)mod->data + k * dim, VS_F32, mod->device, 2, (int64_t[]){mod->shape[0], dim});
    v.stride[0] = K * dim;
    return v;
}

vs_tensor vs_adaln_entry(const vs_tensor *chunk, int64_t b) {
    vs_tensor v = vs_tensor_view((float *)chunk->data + b * chunk->stride[0], VS_F32, chunk->device, 2,
                                 (int64_t[]){1, chunk->shape[1]});
    v.stride[0] = chunk->stride[0];
    return v;
}
