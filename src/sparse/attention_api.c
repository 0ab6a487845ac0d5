/* The public vs_attention: one attention shape under one sparse method on top
 * of src/sparse/sparse_attention.h; vs_attention_create makes a single layer
 * whose every run the method plans and attends (no warm-up),
 * vs_attention_create_layers a model's layers with the warm-up. */
#include <stdlib.h>

#include "core/status.h"
#include "sparse/sparse_attention.h"

struct vs_attention {
    vs_sparse_attention *sparse;
    int num_layers;
};

vs_status vs_attention_create_layers(vs_attention **out, vs_device device, int batch, int heads, int seq_len,
                                     int head_dim, int num_layers, const vs_attention_params *params,
                                     const vs_svg_config *svg) {
    *out = NULL;
    vs_attention_params p = params ? *params : (vs_attention_params){0};
    if (!params || p.density < 0) p.density = svg ? svg->density : 1.0;
    if (p.dense_steps < 0) p.dense_steps = 0;
    if (p.dense_layers < 0) p.dense_layers = 0;
    vs_sparse_setup setup = {device, batch, heads, seq_len, head_dim, svg != NULL, {0}};
    if (svg) setup.video = *svg;
    vs_attention *a = calloc(1, sizeof *a);
    if (!a) return vs_fail(VS_ERR_OOM, "out of host memory");
    vs_status s = vs_sparse_attention_create(&a->sparse, &setup, &p, num_layers);
    if (s) {
        free(a);
        return s;
    }
    a->num_layers = num_layers;
    *out = a;
    return VS_OK;
}

vs_status vs_attention_create(vs_attention **out, vs_device device, int batch, int heads, int seq_len,
                              int head_dim, const vs_attention_params *params, const vs_svg_config *svg) {
    vs_attention_params p = params ? *params : (vs_attention_params){0};
    p.dense_steps = 0, p.dense_layers = 0; /* one layer, every run the method's */
    return vs_attention_create_layers(out, device, batch, heads, seq_len, head_dim, 1, params ? &p : NULL, svg);
}

void vs_attention_free(vs_attention *attn) {
    if (!attn) return;
    vs_sparse_attention_free(attn->sparse);
    free(attn);
}

vs_status vs_attention_run(vs_attention *attn, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                           vs_tensor *out, void *stream) {
    return vs_sparse_attention_run(attn->sparse, 0, 0, 1, q, k, v, out, stream);
}

vs_status vs_attention_run_layer(vs_attention *attn, int layer, int step, int num_steps, const vs_tensor *q,
                                 const vs_tensor *k, const vs_tensor *v, vs_tensor *out, void *stream) {
    if (layer < 0 || layer >= attn->num_layers || num_steps < 1 || step < 0 || step >= num_steps)
        return vs_fail(VS_ERR_INVALID_ARG, "attention: layer %d of %d at step %d of %d", layer,
                       attn->num_layers, step, num_steps);
    return vs_sparse_attention_run(attn->sparse, layer, step, num_steps, q, k, v, out, stream);
}

const char *vs_attention_method(const vs_attention *attn) {
    return vs_sparse_attention_method(attn->sparse);
}

vs_status vs_attention_last_profile(const vs_attention *attn, uint8_t *head_class, float *mse_spatial,
                                    float *mse_temporal) {
    return vs_sparse_attention_head_classes(attn->sparse, 0, head_class, mse_spatial, mse_temporal);
}

vs_status vs_attention_take_head_counts(vs_attention *attn, int64_t *spatial, int64_t *temporal) {
    vs_sparse_stats stats;
    VS_TRY(vs_sparse_attention_take_stats(attn->sparse, &stats));
    *spatial = stats.heads_spatial, *temporal = stats.heads_temporal;
    return VS_OK;
}

double vs_attention_density(const vs_attention *attn) {
    return vs_sparse_attention_density(attn->sparse);
}
