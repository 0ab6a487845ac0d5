/* A sparse attention method: how one self-attention call of a video model
 * skips parts of the attention map. A method is a table of functions over
 * two kinds of state:
 *   - a context per attention shape, shared by every layer of a model (block
 *     lists, kernel scratch: large, so one per shape, not per layer);
 *   - a layer state per layer, kept across denoising steps (SVG: the last
 *     profile of the layer's heads).
 * Each sparse call plans from q and k (SVG: online profiling), then attends.
 * The registry (src/sparse/registry.c) lists the methods by name; the dense
 * warm-up and the per-layer bookkeeping are src/sparse/sparse_attention.h's,
 * so a method only says how one layer attends. Device-specific kernels come
 * from src/backend/sparse_kernels.h. */
#ifndef VS_SPARSE_METHOD_H
#define VS_SPARSE_METHOD_H

#include <stddef.h>
#include <stdint.h>

#include "backend/attention_args.h"
#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a method is made for: one attention shape of a model. */
typedef struct vs_sparse_setup {
    vs_device device;
    int batch, heads, seq_len, head_dim; /* q, k, v, out: [batch, seq_len, heads, head_dim] */
    /* The video's token layout (frames F, tokens per frame P, text tokens C), the
     * target density and SVG's profiling details; set when has_video. */
    int has_video;
    vs_svg_config video;
    vs_attention_params params; /* the method's settings (vs_sparse_attention_create sets them) */
} vs_sparse_setup;

/* The attention shape of a setup, for the kernels' workspace queries. */
static inline vs_attn_args vs_sparse_setup_shape(const vs_sparse_setup *setup) {
    vs_attn_args shape = {0};
    shape.batch = setup->batch, shape.heads = setup->heads;
    shape.seq_len = setup->seq_len, shape.head_dim = setup->head_dim;
    return shape;
}

/* What a method reports. */
typedef struct vs_sparse_stats {
    double density; /* fraction of the attention map a sparse call computes (1: dense) */
    /* (batch entry, head) pairs the calls since the last take classed as spatial / temporal (SVG) */
    int64_t heads_spatial, heads_temporal;
    /* sparse calls since the last take whose selection `density` averages (SVG2; 0: the density is fixed) */
    int64_t selected_calls;
} vs_sparse_stats;

/* Every function gets the setup and the context it was made with. Entries
 * marked optional may be NULL (nothing to make, plan or report). */
typedef struct vs_sparse_method {
    const char *name; /* as users pass it (vs_attention_params.method) */
    /* Optional: the per-shape context (*context stays NULL without one). */
    vs_status (*context_create)(const vs_sparse_setup *setup, void **context);
    void (*context_free)(const vs_sparse_setup *setup, void *context);
    /* Optional: one layer's state, kept across steps. */
    vs_status (*layer_create)(const vs_sparse_setup *setup, void *context, void **layer);
    void (*layer_free)(const vs_sparse_setup *setup, void *context, void *layer);
    /* Optional: decides this call's sparsity from args' q and k (args->out is q; not written). */
    vs_status (*plan)(const vs_sparse_setup *setup, void *context, void *layer, const vs_attn_args *args,
                      void *stream);
    /* Attention of args (dense fields set) with the layer's plan; before any plan, a method's
     * default (SVG: every head spatial). */
    vs_status (*attend)(const vs_sparse_setup *setup, void *context, void *layer, vs_attn_args *args,
                        void *stream);
    /* Optional: the statistics since the last take (counters then restart; waits for queued work);
     * without it, density 1 and no head classes. */
    vs_status (*take_stats)(const vs_sparse_setup *setup, void *context, vs_sparse_stats *stats);
    /* Optional: the fraction of the map a call computes, without taking statistics (NULL: 1). */
    double (*density)(const vs_sparse_setup *setup, const void *context);
    /* Optional: the layer's last plan per (batch, head) as head classes (0 spatial, 1 temporal) and
     * SVG's profiling errors, copied to host arrays of batch*heads (any may be NULL). */
    vs_status (*head_classes)(const vs_sparse_setup *setup, const void *context, const void *layer,
                              uint8_t *head_class, float *mse_spatial, float *mse_temporal);
    /* Optional: the device memory the context and num_layers layer states take for `setup` (the kernels'
     * workspaces included), for memory plans; NULL: none. */
    size_t (*device_bytes)(const vs_sparse_setup *setup, int num_layers);
} vs_sparse_method;

/* The registered methods (src/sparse/registry.c). */
extern const vs_sparse_method vs_sparse_method_dense; /* src/sparse/dense.c */
extern const vs_sparse_method vs_sparse_method_svg;   /* src/sparse/svg_method.c */
extern const vs_sparse_method vs_sparse_method_svg2;  /* src/sparse/svg2_method.c */

/* The method called `name` (NULL: "dense"); the error lists the known names. */
vs_status vs_sparse_method_find(const char *name, const vs_sparse_method **out);

#ifdef __cplusplus
}
#endif
#endif
