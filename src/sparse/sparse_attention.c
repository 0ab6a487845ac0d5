#include "sparse/sparse_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/sparse_kernels.h"
#include "core/status.h"
#include "ops/attention.h"

struct vs_sparse_attention {
    vs_sparse_setup setup;
    const vs_sparse_method *method;
    vs_attention_params params; /* resolved; method points at the method's own name */
    void *context;
    int num_layers;
    void **layers; /* [num_layers]: the method's layer states (NULL entries without layer_create) */
};

void vs_sparse_attention_free(vs_sparse_attention *a) {
    if (!a) return;
    for (int l = 0; a->layers && l < a->num_layers; l++)
        if (a->layers[l]) a->method->layer_free(&a->setup, a->context, a->layers[l]);
    free(a->layers);
    if (a->context) a->method->context_free(&a->setup, a->context);
    free(a);
}

size_t vs_sparse_attention_device_bytes(const vs_sparse_setup *setup, const vs_attention_params *params,
                                        int num_layers) {
    const vs_sparse_method *method;
    if (!params || vs_sparse_method_find(params->method, &method) != VS_OK) return 0;
    vs_sparse_setup s = *setup;
    s.video.density = params->density, s.params = *params;
    size_t bytes = method->device_bytes ? method->device_bytes(&s, num_layers) : 0;
    const vs_sparse_kernels *kernels;
    if (params->precision == VS_PRECISION_FP8 && vs_sparse_kernels_for(setup->device, &kernels) == VS_OK &&
        kernels->fp8_attention_workspace) {
        const vs_attn_args shape = vs_sparse_setup_shape(&s);
        bytes += kernels->fp8_attention_workspace(&shape);
    }
    return bytes;
}

vs_status vs_sparse_attention_create(vs_sparse_attention **out, const vs_sparse_setup *setup,
                                     const vs_attention_params *params, int num_layers) {
    *out = NULL;
    const vs_sparse_kernels *kernels; /* fails where the build lacks the device */
    VS_TRY(vs_sparse_kernels_for(setup->device, &kernels));
    if (setup->batch < 1 || setup->heads < 1 || setup->seq_len < 1 ||
        (setup->head_dim != 64 && setup->head_dim != 128))
        return vs_fail(VS_ERR_SHAPE, "attention: batch %d, heads %d, sequence %d, head_dim %d (64 or 128)",
                       setup->batch, setup->heads, setup->seq_len, setup->head_dim);
    if (num_layers < 1) return vs_fail(VS_ERR_INVALID_ARG, "attention: %d layers", num_layers);
    const vs_sparse_method *method;
    VS_TRY(vs_sparse_method_find(params ? params->method : NULL, &method));
    vs_attention_params p = params ? *params : (vs_attention_params){0};
    if (p.dense_steps < 0 || p.dense_layers < 0)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "attention: warm-up fractions %g of the steps and %g of the layers "
                       "(negative: the model's default, to be resolved first)",
                       p.dense_steps, p.dense_layers);
    p.method = method->name;
    vs_sparse_attention *a = calloc(1, sizeof *a);
    if (!a) return vs_fail(VS_ERR_OOM, "out of host memory");
    a->setup = *setup;
    if (params) a->setup.video.density = params->density;
    a->setup.params = p;
    a->method = method, a->params = p, a->num_layers = num_layers;
    vs_status s = VS_OK;
    if (method->context_create) s = method->context_create(&a->setup, &a->context);
    if (!s && method->layer_create) {
        a->layers = calloc((size_t)num_layers, sizeof *a->layers);
        if (!a->layers) s = vs_fail(VS_ERR_OOM, "out of host memory");
        for (int l = 0; !s && l < num_layers; l++)
            s = method->layer_create(&a->setup, a->context, &a->layers[l]);
    }
    if (s) {
        vs_sparse_attention_free(a);
        return s;
    }
    *out = a;
    return VS_OK;
}

vs_status vs_sparse_attention_settings(const vs_attention_params *params, const vs_attention_params *now,
                                       const char *model, vs_attention_params *out, int *changed) {
    vs_attention_params p = params ? *params : (vs_attention_params){0};
    const vs_sparse_method *method;
    VS_TRY(vs_sparse_method_find(p.method, &method));
    if (p.dense_steps < 0 || p.dense_layers < 0 || (method != &vs_sparse_method_dense && !(p.density > 0)))
        return vs_fail(VS_ERR_INVALID_ARG, "%s attention %s: density %g, warm-up %g of the steps, %g of the layers "
                       "(resolve the model's defaults first)", model, method->name, p.density, p.dense_steps,
                       p.dense_layers);
    if (p.precision != VS_PRECISION_DEFAULT && p.precision != VS_PRECISION_FP8)
        return vs_fail(VS_ERR_INVALID_ARG, "%s attention precision %d (the default or FP8)", model, (int)p.precision);
    p.method = method->name;
    *changed = now->method != p.method || now->density != p.density || now->dense_steps != p.dense_steps ||
               now->dense_layers != p.dense_layers || now->svg2_query_clusters != p.svg2_query_clusters ||
               now->svg2_key_clusters != p.svg2_key_clusters || now->svg2_top_p != p.svg2_top_p ||
               now->svg2_min_key_ratio != p.svg2_min_key_ratio || now->svg2_budget != p.svg2_budget || now->precision != p.precision;
    *out = p;
    return VS_OK;
}

int vs_sparse_warmup_is_dense(const vs_attention_params *params, int layer, int num_layers, int step,
                              int num_steps) {
    /* The products are taken in float, as the Wan forward always has, so the rounding of the floors stays. */
    const float steps = (float)params->dense_steps, layers = (float)params->dense_layers;
    const int dense_steps = (int)floor(steps * num_steps);
    const int dense_layers = (int)floor(layers * num_layers);
    return step < dense_steps || layer < dense_layers;
}

/* Fills the dense fields of vs_attn_args from [B, N, H, D] tensors. */
static vs_status describe(const vs_sparse_attention *attn, const vs_tensor *q, const vs_tensor *k,
                          const vs_tensor *v, const vs_tensor *out, vs_attn_args *args) {
    const vs_sparse_setup *a = &attn->setup;
    const vs_tensor *t[4] = {q, k, v, out};
    const char *names[4] = {"q", "k", "v", "out"};
    vs_dtype want = a->device == VS_CPU ? VS_F32 : q->dtype;
    if (a->device == VS_CUDA && want != VS_BF16 && want != VS_F16)
        return vs_fail(VS_ERR_UNSUPPORTED, "attention on CUDA takes BF16 or F16, q is %s",
                       vs_dtype_name(want));
    for (int i = 0; i < 4; i++) {
        const vs_tensor *x = t[i];
        if (x->ndim != 4 || x->shape[0] != a->batch || x->shape[1] != a->seq_len || x->shape[2] != a->heads ||
            x->shape[3] != a->head_dim)
            return vs_fail(VS_ERR_SHAPE, "attention: %s must be [%d, %d, %d, %d] (B, N, H, D)", names[i],
                           a->batch, a->seq_len, a->heads, a->head_dim);
        if (x->device != a->device || x->dtype != want)
            return vs_fail(VS_ERR_INVALID_ARG, "attention: %s is %s on %s, expected %s on %s", names[i],
                           vs_dtype_name(x->dtype), x->device == VS_CPU ? "cpu" : "cuda", vs_dtype_name(want),
                           a->device == VS_CPU ? "cpu" : "cuda");
        if (x->stride[3] != 1 || x->stride[2] != a->head_dim)
            return vs_fail(VS_ERR_SHAPE, "attention: %s needs contiguous heads (strides [.., .., D, 1])",
                           names[i]);
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
    args->fp8 = a->params.precision == VS_PRECISION_FP8;
    return vs_attn_args_validate(args);
}

static vs_status check_layer(const vs_sparse_attention *a, int layer) {
    if (layer < 0 || layer >= a->num_layers)
        return vs_fail(VS_ERR_INVALID_ARG, "attention: layer %d of %d", layer, a->num_layers);
    return VS_OK;
}

static void *layer_state(const vs_sparse_attention *a, int layer) {
    return a->layers ? a->layers[layer] : NULL;
}

vs_status vs_sparse_attention_dense(vs_sparse_attention *a, const vs_tensor *q, const vs_tensor *k,
                                    const vs_tensor *v, vs_tensor *out, void *stream) {
    vs_attn_args args;
    VS_TRY(describe(a, q, k, v, out, &args));
    return vs_attention_dense(a->setup.device, &args, stream);
}

vs_status vs_sparse_attention_plan(vs_sparse_attention *a, int layer, const vs_tensor *q, const vs_tensor *k,
                                   const vs_tensor *v, void *stream) {
    VS_TRY(check_layer(a, layer));
    if (!a->method->plan) return VS_OK;
    vs_attn_args args;
    VS_TRY(describe(a, q, k, v, q, &args));
    args.fp8 = 0; /* profiling stays BF16 */
    return a->method->plan(&a->setup, a->context, layer_state(a, layer), &args, stream);
}

vs_status vs_sparse_attention_attend(vs_sparse_attention *a, int layer, const vs_tensor *q,
                                     const vs_tensor *k, const vs_tensor *v, vs_tensor *out, void *stream) {
    VS_TRY(check_layer(a, layer));
    vs_attn_args args;
    VS_TRY(describe(a, q, k, v, out, &args));
    return a->method->attend(&a->setup, a->context, layer_state(a, layer), &args, stream);
}

vs_status vs_sparse_attention_run(vs_sparse_attention *a, int layer, int step, int num_steps,
                                  const vs_tensor *q, const vs_tensor *k, const vs_tensor *v, vs_tensor *out,
                                  void *stream) {
    VS_TRY(check_layer(a, layer));
    if (vs_sparse_warmup_is_dense(&a->params, layer, a->num_layers, step, num_steps))
        return vs_sparse_attention_dense(a, q, k, v, out, stream);
    VS_TRY(vs_sparse_attention_plan(a, layer, q, k, v, stream));
    return vs_sparse_attention_attend(a, layer, q, k, v, out, stream);
}

vs_status vs_sparse_attention_take_stats(vs_sparse_attention *a, vs_sparse_stats *stats) {
    *stats = (vs_sparse_stats){1.0, 0, 0, 0};
    return a->method->take_stats ? a->method->take_stats(&a->setup, a->context, stats) : VS_OK;
}

double vs_sparse_attention_density(const vs_sparse_attention *a) {
    return a->method->density ? a->method->density(&a->setup, a->context) : 1.0;
}

vs_status vs_sparse_attention_head_classes(const vs_sparse_attention *a, int layer, uint8_t *head_class,
                                           float *mse_spatial, float *mse_temporal) {
    VS_TRY(check_layer(a, layer));
    if (!a->method->head_classes)
        return vs_fail(VS_ERR_INVALID_ARG, "attention: method %s keeps no head classes", a->method->name);
    return a->method->head_classes(&a->setup, a->context, layer_state(a, layer), head_class, mse_spatial,
                                   mse_temporal);
}

const char *vs_sparse_attention_method(const vs_sparse_attention *a) {
    return a->method->name;
}
