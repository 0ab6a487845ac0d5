/* The public attention entry point: one object per shape holding the SVG
 * block list and the profiling buffers, dispatching to the CPU reference or
 * the CUDA kernels by device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/attention_cpu.h"
#include "core/devmem.h"
#include "core/log.h"
#include "core/status.h"
#include "ops/attention.h"
#include "sparse/profile.h"
#include "sparse/svg.h"
#if VS_HAVE_CUDA
#include "backend/cuda/attention_cuda.h"
#include "backend/cuda/band_attention.h"
#include "backend/cuda/cudnn_attention.h"
#include "backend/cuda/svg_profile.h"
#endif

struct vs_attention {
    vs_device device;
    int batch, heads, seq_len, head_dim;
    int has_svg;
    vs_svg_config svg;
    vs_attn_block_list blocks;        /* host CSR */
    vs_attn_blocks device_blocks; /* CUDA: the same CSR in device memory */
    uint8_t *head_layout;        /* [B*H] on the attention's device */
    float *mse;                  /* [2][B*H] on the attention's device: spatial, then temporal */
    unsigned long long *temporal_count; /* on the attention's device: temporal choices since the last take */
    int64_t heads_profiled;      /* (batch, head) pairs profiled since the last take */
    void *workspace;             /* CUDA profiling scratch */
    size_t workspace_bytes;
    struct vs_cuda_band *band;   /* CUDA: the block list through cuDNN (NULL: all rows on our kernel) */
    int profiled;                /* an SVG run has happened */
};

static vs_status device_alloc(vs_device device, void **p, size_t bytes) {
    if (device == VS_CPU) {
        *p = calloc(1, bytes ? bytes : 1);
        return *p ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory (%zu bytes)", bytes);
    }
    return vs_device_malloc(p, bytes ? bytes : 1);
}

static void device_release(vs_device device, void *p) {
    if (device == VS_CPU) free(p);
    else vs_device_free(p);
}

void vs_attention_free(vs_attention *a) {
    if (!a) return;
    vs_attn_block_list_free(&a->blocks);
    if (a->device == VS_CUDA) {
#if VS_HAVE_CUDA
        vs_cuda_band_free(a->band);
#endif
        vs_device_free((void *)a->device_blocks.row_ptr);
        vs_device_free((void *)a->device_blocks.col_idx);
    }
    device_release(a->device, a->head_layout);
    device_release(a->device, a->mse);
    device_release(a->device, a->temporal_count);
    device_release(a->device, a->workspace);
    free(a);
}

/* Fills the dense fields of vs_attn_args from [B, N, H, D] tensors. */
static vs_status describe(const vs_attention *a, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                          const vs_tensor *out, vs_attn_args *args) {
    const vs_tensor *t[4] = {q, k, v, out};
    const char *names[4] = {"q", "k", "v", "out"};
    vs_dtype want = a->device == VS_CPU ? VS_F32 : q->dtype;
    if (a->device == VS_CUDA && want != VS_BF16 && want != VS_F16)
        return vs_fail(VS_ERR_UNSUPPORTED, "attention on CUDA takes BF16 or F16, q is %s", vs_dtype_name(want));
    for (int i = 0; i < 4; i++) {
        const vs_tensor *x = t[i];
        if (x->ndim != 4 || x->shape[0] != a->batch || x->shape[1] != a->seq_len || x->shape[2] != a->heads ||
            x->shape[3] != a->head_dim)
            return vs_fail(VS_ERR_SHAPE, "attention: %s must be [%d, %d, %d, %d] (B, N, H, D)", names[i], a->batch,
                           a->seq_len, a->heads, a->head_dim);
        if (x->device != a->device || x->dtype != want)
            return vs_fail(VS_ERR_INVALID_ARG, "attention: %s is %s on %s, expected %s on %s", names[i],
                           vs_dtype_name(x->dtype), x->device == VS_CPU ? "cpu" : "cuda", vs_dtype_name(want),
                           a->device == VS_CPU ? "cpu" : "cuda");
        if (x->stride[3] != 1 || x->stride[2] != a->head_dim)
            return vs_fail(VS_ERR_SHAPE, "attention: %s needs contiguous heads (strides [.., .., D, 1])", names[i]);
    }
    memset(args, 0, sizeof *args);
    args->dtype = want;
    args->q = q->data, args->k = k->data, args->v = v->data, args->out = out->data;
    args->batch = a->batch, args->heads = a->heads, args->seq_len = a->seq_len, args->head_dim = a->head_dim;
    args->q_stride_b = q->stride[0], args->q_stride_n = q->stride[1];
    args->k_stride_b = k->stride[0], args->k_stride_n = k->stride[1];
    args->v_stride_b = v->stride[0], args->v_stride_n = v->stride[1];
    args->o_stride_b = out->stride[0], args->o_stride_n = out->stride[1];
    args->scale = 1.0f / sqrtf((float)a->head_dim);
    if (a->has_svg) args->frames = a->svg.frames, args->tokens_per_frame = a->svg.tokens_per_frame;
    return vs_attn_args_validate(args);
}

vs_status vs_attention_create(vs_attention **out, vs_device device, int batch, int heads, int seq_len, int head_dim,
                              const vs_svg_config *svg) {
    *out = NULL;
    if (device == VS_CUDA && !VS_HAVE_CUDA)
        return vs_fail(VS_ERR_UNSUPPORTED, "this vidsparse build has no CUDA support");
    if (batch < 1 || heads < 1 || seq_len < 1 || (head_dim != 64 && head_dim != 128))
        return vs_fail(VS_ERR_SHAPE, "attention: batch %d, heads %d, sequence %d, head_dim %d (64 or 128)", batch,
                       heads, seq_len, head_dim);
    vs_attention *a = calloc(1, sizeof *a);
    if (!a) return vs_fail(VS_ERR_OOM, "out of host memory");
    a->device = device;
    a->batch = batch, a->heads = heads, a->seq_len = seq_len, a->head_dim = head_dim;
    vs_status s = VS_OK;
    if (svg) {
        a->has_svg = 1;
        a->svg = *svg;
        s = vs_svg_blocks_build(svg, seq_len, &a->blocks);
        const size_t bh = (size_t)batch * heads;
        if (!s) s = device_alloc(device, (void **)&a->head_layout, bh);
        if (!s) s = device_alloc(device, (void **)&a->mse, 2 * bh * sizeof(float));
        if (!s) s = device_alloc(device, (void **)&a->temporal_count, sizeof *a->temporal_count);
        if (!s && device == VS_CUDA) s = vs_device_memset(a->temporal_count, 0, sizeof *a->temporal_count);
#if VS_HAVE_CUDA
        if (!s && device == VS_CUDA) {
            const vs_attn_blocks *hb = &a->blocks.view;
            size_t row_bytes = sizeof(int32_t) * (hb->num_q_blocks + 1);
            size_t col_bytes = sizeof(int32_t) * (hb->row_ptr[hb->num_q_blocks] + 1);
            void *row = NULL, *col = NULL;
            s = vs_device_malloc(&row, row_bytes);
            if (!s) s = vs_device_malloc(&col, col_bytes);
            a->device_blocks = (vs_attn_blocks){hb->num_q_blocks, hb->num_k_blocks, row, col};
            if (!s) s = vs_device_memcpy_h2d(row, hb->row_ptr, row_bytes);
            if (!s) s = vs_device_memcpy_h2d(col, hb->col_idx, col_bytes - sizeof(int32_t));
            vs_attn_args shape = {0};
            shape.batch = batch, shape.heads = heads, shape.seq_len = seq_len, shape.head_dim = head_dim;
            a->workspace_bytes = vs_cuda_svg_profile_workspace(&shape, svg);
            if (!s) s = vs_device_malloc(&a->workspace, a->workspace_bytes);
            const char *sparse = NULL;
            if (!s) s = vs_attention_sparse_backend(VS_CUDA, &sparse);
            if (!s && !strcmp(sparse, "cudnn")) {
                s = vs_cuda_band_create(&a->band, hb, seq_len, heads, head_dim);
                if (s == VS_ERR_OOM) { /* the band path is an optimisation: without its scratch, our kernel */
                    VS_WARN("%s: SVG attention runs on our kernel alone", vs_last_error());
                    s = VS_OK;
                }
            }
        }
#endif
    }
    if (s) {
        vs_attention_free(a);
        return s;
    }
    *out = a;
    return VS_OK;
}

vs_status vs_attention_profile(vs_attention *a, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                               void *stream) {
    if (!a->has_svg) return vs_fail(VS_ERR_INVALID_ARG, "attention: SVG mode needs an SVG configuration at creation");
    vs_attn_args args;
    VS_TRY(describe(a, q, k, v, q, &args));
    const size_t bh = (size_t)a->batch * a->heads;
    if (a->device == VS_CPU) {
        VS_TRY(vs_svg_profile_cpu(&args, &a->svg, &a->blocks.view, a->head_layout, a->mse, a->mse + bh));
        for (size_t i = 0; i < bh; i++) *a->temporal_count += a->head_layout[i] == VS_LAYOUT_TOKEN_MAJOR;
    } else {
#if VS_HAVE_CUDA
        const vs_cuda_svg_profile_out out = {a->head_layout, a->mse, a->mse + bh, a->temporal_count};
        VS_TRY(vs_cuda_svg_profile(&args, &a->svg, &a->device_blocks, &out, a->workspace, a->workspace_bytes,
                                   stream));
#endif
    }
    a->profiled = 1;
    a->heads_profiled += (int64_t)bh;
    return VS_OK;
}

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

/* Runs the attention kernel of this device; `blocks` and `layout` may be NULL. */
static vs_status attend(vs_attention *a, vs_attn_args *args, const vs_attn_blocks *blocks, const uint8_t *layout,
                        void *stream) {
    args->blocks = blocks;
    args->head_layout = layout;
    if (a->device == VS_CPU) return vs_cpu_attention(args);
#if VS_HAVE_CUDA
    if (!blocks && !layout) return vs_attention_dense_cuda(args, stream);
    if (blocks && a->band) {
        vs_status s = vs_cuda_band_attention(a->band, args, stream);
        if (s != VS_ERR_UNSUPPORTED) return s; /* no cuDNN engine for the band's shapes: our kernel below */
    }
    return vs_cuda_flash_attention(args, stream);
#else
    (void)stream;
    return vs_fail(VS_ERR_UNSUPPORTED, "this vidsparse build has no CUDA support");
#endif
}

vs_status vs_attention_sparse(vs_attention *a, int profiled_layout, const vs_tensor *q, const vs_tensor *k,
                              const vs_tensor *v, vs_tensor *out, void *stream) {
    if (!a->has_svg) return vs_fail(VS_ERR_INVALID_ARG, "attention: SVG mode needs an SVG configuration at creation");
    if (profiled_layout && !a->profiled) return vs_fail(VS_ERR_INVALID_ARG, "attention: no SVG run has been profiled yet");
    vs_attn_args args;
    VS_TRY(describe(a, q, k, v, out, &args));
    const vs_attn_blocks *blocks = a->device == VS_CPU ? &a->blocks.view : &a->device_blocks;
    return attend(a, &args, blocks, profiled_layout ? a->head_layout : NULL, stream);
}

vs_status vs_attention_run(vs_attention *a, vs_attention_mode mode, const vs_tensor *q, const vs_tensor *k,
                           const vs_tensor *v, vs_tensor *out, void *stream) {
    if (mode == VS_ATTENTION_SVG) {
        VS_TRY(vs_attention_profile(a, q, k, v, stream));
        return vs_attention_sparse(a, 1, q, k, v, out, stream);
    }
    vs_attn_args args;
    VS_TRY(describe(a, q, k, v, out, &args));
    return attend(a, &args, NULL, NULL, stream);
}

vs_status vs_attention_last_profile(const vs_attention *a, uint8_t *head_class, float *mse_spatial,
                                    float *mse_temporal) {
    if (!a->profiled) return vs_fail(VS_ERR_INVALID_ARG, "attention: no SVG run has been profiled yet");
    const size_t bh = (size_t)a->batch * a->heads;
    struct { void *dst; const void *src; size_t bytes; } copies[3] = {
        {head_class, a->head_layout, bh}, {mse_spatial, a->mse, bh * sizeof(float)},
        {mse_temporal, a->mse + bh, bh * sizeof(float)}};
    for (int i = 0; i < 3; i++) {
        if (!copies[i].dst) continue;
        if (a->device == VS_CPU) memcpy(copies[i].dst, copies[i].src, copies[i].bytes);
        else VS_TRY(vs_device_memcpy_d2h(copies[i].dst, copies[i].src, copies[i].bytes));
    }
    return VS_OK;
}

vs_status vs_attention_take_head_counts(vs_attention *a, int64_t *spatial, int64_t *temporal) {
    unsigned long long count = 0;
    if (a->has_svg && a->device == VS_CPU) {
        count = *a->temporal_count;
        *a->temporal_count = 0;
    } else if (a->has_svg) {
        VS_TRY(vs_device_memcpy_d2h(&count, a->temporal_count, sizeof count));
        VS_TRY(vs_device_memset(a->temporal_count, 0, sizeof count));
    }
    *temporal = (int64_t)count;
    *spatial = a->heads_profiled - (int64_t)count;
    a->heads_profiled = 0;
    return VS_OK;
}

double vs_attention_density(const vs_attention *a) { return a->has_svg ? a->blocks.density : 1.0; }
