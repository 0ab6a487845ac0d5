/* Which attention kernels run, and dense attention through the device's backend table. */
#include "ops/attention.h"

#include "backend/backend.h"
#include "core/status.h"

vs_status vs_attention_dense_backend(vs_device device, const char **name) {
    return vs_attention_kernels("VS_DENSE_ATTN", device, name);
}

vs_status vs_attention_sparse_backend(vs_device device, const char **name) {
    return vs_attention_kernels("VS_SPARSE_ATTN", device, name);
}

vs_status vs_attention_dense(vs_device device, const vs_attn_args *args, void *stream) {
    const vs_backend *backend = vs_backend_for(device);
    if (!backend) return vs_fail(VS_ERR_UNSUPPORTED, "attention: this vidsparse build has no CUDA support");
    return backend->attention(args, stream);
}
