#include "backend/sparse_kernels.h"

#include "core/status.h"

vs_status vs_sparse_kernels_for(vs_device device, const vs_sparse_kernels **out) {
    *out = NULL;
    if (device == VS_CPU) *out = &vs_sparse_kernels_cpu;
#if VS_HAVE_CUDA
    if (device == VS_CUDA) *out = &vs_sparse_kernels_cuda;
#endif
    if (!*out) return vs_fail(VS_ERR_UNSUPPORTED, "this vidsparse build has no CUDA support");
    return VS_OK;
}
