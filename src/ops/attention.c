/* The attention backends: environment choices and dense attention by device. */
#include "ops/attention.h"

#include <stdlib.h>
#include <string.h>

#include "backend/cpu/attention_cpu.h"
#include "core/status.h"
#if VS_HAVE_CUDA
#include "backend/cuda/attention_cuda.h"
#include "backend/cuda/cudnn_attention.h"
#endif

/* VS_DENSE_ATTN / VS_SPARSE_ATTN: cudnn (the default) or ours. */
static vs_status cuda_backend(const char *variable, vs_device device, const char **name) {
    const char *env = getenv(variable);
    const int set = env && *env;
    if (set && strcmp(env, "cudnn") && strcmp(env, "ours"))
        return vs_fail(VS_ERR_INVALID_ARG, "%s must be cudnn or ours, not '%s'", variable, env);
    if (device == VS_CPU)
        *name = "cpu";
    else if (set && !strcmp(env, "ours"))
        *name = "ours";
    else
        *name = "cudnn"; /* every CUDA build links cuDNN */
    return VS_OK;
}

vs_status vs_attention_dense_backend(vs_device device, const char **name) {
    return cuda_backend("VS_DENSE_ATTN", device, name);
}

vs_status vs_attention_sparse_backend(vs_device device, const char **name) {
    return cuda_backend("VS_SPARSE_ATTN", device, name);
}

vs_status vs_attention_dense_cuda(const vs_attn_args *args, void *stream) {
#if VS_HAVE_CUDA
    const char *backend = NULL; /* set on success; initialised for the inliner, which cannot see that */
    VS_TRY(vs_attention_dense_backend(VS_CUDA, &backend));
    if (!strcmp(backend, "cudnn")) {
        vs_status s = vs_cudnn_attention(args, stream);
        if (s != VS_ERR_UNSUPPORTED) return s; /* no cuDNN engine for this shape: our kernel below */
    }
    return vs_cuda_flash_attention(args, stream);
#else
    (void)args, (void)stream;
    return vs_fail(VS_ERR_UNSUPPORTED, "this vidsparse build has no CUDA support");
#endif
}

vs_status vs_attention_dense(vs_device device, const vs_attn_args *args, void *stream) {
    if (device == VS_CPU) return vs_cpu_attention(args);
    return vs_attention_dense_cuda(args, stream);
}
