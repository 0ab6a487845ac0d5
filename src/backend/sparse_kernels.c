#include "backend/sparse_kernels.h"

#include "core/status.h"

vs_status vs_sparse_kernels_for(vs_device device, const vs_sparse_kernels **out) {
    const vs_backend *backend = vs_backend_for(device);
    *out = backend ? backend->sparse : NULL;
    if (!*out) return vs_fail(VS_ERR_UNSUPPORTED, "this vidsparse build has no CUDA support");
    return VS_OK;
}
