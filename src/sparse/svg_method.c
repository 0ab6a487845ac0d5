/* The "svg" method (Sparse VideoGen, docs/svg.md): one block list for the
 * shape (the band mask of src/sparse/svg.h), and per layer the last online
 * profile: which heads run it in frame-major (spatial) and which in
 * token-major (temporal) order. The count of temporal choices stays on the
 * device until the statistics are taken. */
#include <stdlib.h>
#include <string.h>

#include "backend/sparse_kernels.h"
#include "core/status.h"
#include "ops/attention.h"
#include "sparse/method.h"
#include "sparse/svg.h"

typedef struct {
    const vs_sparse_kernels *kernels;
    vs_attn_block_list blocks; /* the mask, on the host */
    vs_sparse_blocks *placed;  /* the mask where the kernels read it */
    void *workspace;           /* profiling scratch */
    size_t workspace_bytes;
    unsigned long long *temporal_count; /* on the device: temporal choices since the last take */
    int64_t heads_profiled;             /* (batch, head) pairs profiled since the last take */
} svg_context;

typedef struct {
    uint8_t *head_layout; /* [B*H] on the device: VS_LAYOUT_* of the last profile */
    float *mse;           /* [2][B*H] on the device: spatial, then temporal */
    int profiled;         /* a profile has run */
} svg_layer;

static size_t batch_heads(const vs_sparse_setup *setup) {
    return (size_t)setup->batch * setup->heads;
}

static void context_free(const vs_sparse_setup *setup, void *context) {
    (void)setup;
    svg_context *c = context;
    if (!c) return;
    if (c->kernels) {
        c->kernels->blocks_free(c->placed);
        c->kernels->release(c->workspace);
        c->kernels->release(c->temporal_count);
    }
    vs_attn_block_list_free(&c->blocks);
    free(c);
}

static vs_status context_create(const vs_sparse_setup *setup, void **context) {
    *context = NULL;
    if (!setup->has_video)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "attention method svg needs the video's token layout (a vs_svg_config)");
    svg_context *c = calloc(1, sizeof *c);
    if (!c) return vs_fail(VS_ERR_OOM, "out of host memory");
    const char *sparse_backend = NULL;
    vs_status s = vs_sparse_kernels_for(setup->device, &c->kernels);
    if (!s) s = vs_svg_blocks_build(&setup->video, setup->seq_len, &c->blocks);
    if (!s) s = c->kernels->alloc((void **)&c->temporal_count, sizeof *c->temporal_count);
    if (!s) s = c->kernels->zero(c->temporal_count, sizeof *c->temporal_count);
    if (!s) s = vs_attention_sparse_backend(setup->device, &sparse_backend);
    if (!s)
        s = c->kernels->blocks_create(&c->placed, &c->blocks.view, setup->seq_len, setup->heads,
                                      setup->head_dim, !strcmp(sparse_backend, "cudnn"));
    if (!s) {
        const vs_attn_args shape = vs_sparse_setup_shape(setup);
        c->workspace_bytes = c->kernels->svg_profile_workspace(&shape, &setup->video);
        s = c->kernels->alloc(&c->workspace, c->workspace_bytes);
    }
    if (s) {
        context_free(setup, c);
        return s;
    }
    *context = c;
    return VS_OK;
}

static void layer_free(const vs_sparse_setup *setup, void *context, void *layer) {
    (void)setup;
    const svg_context *c = context;
    svg_layer *l = layer;
    if (!l) return;
    c->kernels->release(l->head_layout);
    c->kernels->release(l->mse);
    free(l);
}

static vs_status layer_create(const vs_sparse_setup *setup, void *context, void **layer) {
    *layer = NULL;
    const svg_context *c = context;
    svg_layer *l = calloc(1, sizeof *l);
    if (!l) return vs_fail(VS_ERR_OOM, "out of host memory");
    const size_t bh = batch_heads(setup);
    vs_status s = c->kernels->alloc((void **)&l->head_layout, bh);
    if (!s) s = c->kernels->alloc((void **)&l->mse, 2 * bh * sizeof(float));
    if (s) {
        layer_free(setup, context, l);
        return s;
    }
    *layer = l;
    return VS_OK;
}

/* Profiles every (batch entry, head): spatial or temporal, whichever loses least against exact attention. */
static vs_status plan(const vs_sparse_setup *setup, void *context, void *layer, const vs_attn_args *args,
                      void *stream) {
    svg_context *c = context;
    svg_layer *l = layer;
    const size_t bh = batch_heads(setup);
    vs_attn_args a = *args;
    a.frames = setup->video.frames, a.tokens_per_frame = setup->video.tokens_per_frame;
    const vs_svg_profile_out out = {l->head_layout, l->mse, l->mse + bh, c->temporal_count};
    VS_TRY(c->kernels->svg_profile(&a, &setup->video, c->placed, &out, c->workspace, c->workspace_bytes,
                                   stream));
    l->profiled = 1;
    c->heads_profiled += (int64_t)bh;
    return VS_OK;
}

/* The band mask, temporal heads in token-major order; every head spatial before the first profile. */
static vs_status attend(const vs_sparse_setup *setup, void *context, void *layer, vs_attn_args *args,
                        void *stream) {
    const svg_context *c = context;
    const svg_layer *l = layer;
    args->frames = setup->video.frames, args->tokens_per_frame = setup->video.tokens_per_frame;
    args->head_layout = l->profiled ? l->head_layout : NULL;
    return c->kernels->attend(c->placed, args, stream);
}

static vs_status take_stats(const vs_sparse_setup *setup, void *context, vs_sparse_stats *stats) {
    (void)setup;
    svg_context *c = context;
    unsigned long long temporal = 0;
    VS_TRY(c->kernels->read(&temporal, c->temporal_count, sizeof temporal));
    VS_TRY(c->kernels->zero(c->temporal_count, sizeof temporal));
    stats->density = c->blocks.density;
    stats->heads_temporal = (int64_t)temporal;
    stats->heads_spatial = c->heads_profiled - (int64_t)temporal;
    c->heads_profiled = 0;
    return VS_OK;
}

static double density(const vs_sparse_setup *setup, const void *context) {
    (void)setup;
    return ((const svg_context *)context)->blocks.density;
}

static vs_status head_classes(const vs_sparse_setup *setup, const void *context, const void *layer,
                              uint8_t *head_class, float *mse_spatial, float *mse_temporal) {
    const svg_context *c = context;
    const svg_layer *l = layer;
    if (!l->profiled) return vs_fail(VS_ERR_INVALID_ARG, "attention: no SVG run has been profiled yet");
    const size_t bh = batch_heads(setup);
    if (head_class) VS_TRY(c->kernels->read(head_class, l->head_layout, bh));
    if (mse_spatial) VS_TRY(c->kernels->read(mse_spatial, l->mse, bh * sizeof(float)));
    if (mse_temporal) VS_TRY(c->kernels->read(mse_temporal, l->mse + bh, bh * sizeof(float)));
    return VS_OK;
}

/* On CUDA the band path's scratch (at most vs_attn_band_scratch_max: the block list is made from the density
 * later) and the profiling workspace; the layer states are a few bytes a head. */
static size_t device_bytes(const vs_sparse_setup *setup, int num_layers) {
    (void)num_layers;
    const vs_sparse_kernels *kernels = NULL;
    if (setup->device != VS_CUDA || vs_sparse_kernels_for(setup->device, &kernels) != VS_OK) return 0;
    const vs_attn_args shape = vs_sparse_setup_shape(setup);
    return vs_attn_band_scratch_max(setup->seq_len, setup->heads, setup->head_dim) +
           kernels->svg_profile_workspace(&shape, &setup->video);
}

const vs_sparse_method vs_sparse_method_svg = {
    .name = "svg",
    .context_create = context_create,
    .context_free = context_free,
    .layer_create = layer_create,
    .layer_free = layer_free,
    .plan = plan,
    .attend = attend,
    .take_stats = take_stats,
    .density = density,
    .head_classes = head_classes,
    .device_bytes = device_bytes,
};
