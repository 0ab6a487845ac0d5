#include "models/wan/weights.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "models/common/fp8_linear.h"
#include "ops/ops.h"

/* Shapes, in terms of the config. */
typedef enum { S_DIM, S_DIM_DIM, S_MOD6, S_FFN, S_FFN_DIM, S_DIM_FFN } shape_kind;

typedef struct {
    const char *diffusers, *original; /* names after "blocks.N." */
    size_t offset;                    /* of the vs_tensor in vs_wan_block_weights */
    shape_kind shape;
    int cross_norm_only;              /* present only when cross_attn_norm */
    int f32;                          /* kept in f32 on every device (norms, modulation) */
    int linear;                       /* a linear layer's weight: it may be stored FP8 (docs/fp8.md) */
} block_tensor;

#define B(field) offsetof(vs_wan_block_weights, field)
#define ATTN(DN, ON, F)                                                                            \
    {DN ".to_q.weight", ON ".q.weight", B(F.q.weight), S_DIM_DIM, 0, 0, 1},                        \
    {DN ".to_q.bias", ON ".q.bias", B(F.q.bias), S_DIM, 0, 0, 0},                                  \
    {DN ".to_k.weight", ON ".k.weight", B(F.k.weight), S_DIM_DIM, 0, 0, 1},                        \
    {DN ".to_k.bias", ON ".k.bias", B(F.k.bias), S_DIM, 0, 0, 0},                                  \
    {DN ".to_v.weight", ON ".v.weight", B(F.v.weight), S_DIM_DIM, 0, 0, 1},                        \
    {DN ".to_v.bias", ON ".v.bias", B(F.v.bias), S_DIM, 0, 0, 0},                                  \
    {DN ".to_out.0.weight", ON ".o.weight", B(F.o.weight), S_DIM_DIM, 0, 0, 1},                    \
    {DN ".to_out.0.bias", ON ".o.bias", B(F.o.bias), S_DIM, 0, 0, 0},                              \
    {DN ".norm_q.weight", ON ".norm_q.weight", B(F.norm_q), S_DIM, 0, 1, 0},                       \
    {DN ".norm_k.weight", ON ".norm_k.weight", B(F.norm_k), S_DIM, 0, 1, 0}

static const block_tensor block_tensors[] = {
    {"scale_shift_table", "modulation", B(modulation), S_MOD6, 0, 1, 0},
    ATTN("attn1", "self_attn", self_attn),
    /* The original release calls the cross-attention norm norm3 (and the FFN's norm2). */
    {"norm2.weight", "norm3.weight", B(norm2_weight), S_DIM, 1, 1, 0},
    {"norm2.bias", "norm3.bias", B(norm2_bias), S_DIM, 1, 1, 0},
    ATTN("attn2", "cross_attn", cross_attn),
    {"ffn.net.0.proj.weight", "ffn.0.weight", B(ffn_in.weight), S_FFN_DIM, 0, 0, 1},
    {"ffn.net.0.proj.bias", "ffn.0.bias", B(ffn_in.bias), S_FFN, 0, 0, 0},
    {"ffn.net.2.weight", "ffn.2.weight", B(ffn_out.weight), S_DIM_FFN, 0, 0, 1},
    {"ffn.net.2.bias", "ffn.2.bias", B(ffn_out.bias), S_DIM, 0, 0, 0},
};
#undef ATTN
#undef B
enum { BLOCK_TENSORS = (int)(sizeof block_tensors / sizeof block_tensors[0]) };

/* Called once per weight with its names in both layouts, its shape, whether it stays f32, and for a block's
 * linear layer the place of its FP8 scales (else NULL). */
typedef struct {
    vs_status (*fn)(void *ctx, vs_tensor *dst, vs_tensor *fp8_scale, const char *diffusers, const char *original,
                    int f32, int ndim, const int64_t *shape);
    void *ctx;
} visitor;

static vs_status visit(const visitor *v, vs_tensor *dst, const char *diffusers, const char *original, int f32,
                       int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int64_t d4) {
    const int64_t shape[5] = {d0, d1, d2, d3, d4};
    return v->fn(v->ctx, dst, NULL, diffusers, original, f32, ndim, shape);
}

static vs_status visit_linear(const visitor *v, vs_wan_linear *lin, const char *diffusers, const char *original,
                              int f32, int64_t out, int64_t in) {
    char dw[128], db[128], ow[128], ob[128];
    snprintf(dw, sizeof dw, "%s.weight", diffusers), snprintf(db, sizeof db, "%s.bias", diffusers);
    snprintf(ow, sizeof ow, "%s.weight", original), snprintf(ob, sizeof ob, "%s.bias", original);
    VS_TRY(visit(v, &lin->weight, dw, ow, f32, 2, out, in, 0, 0, 0));
    return visit(v, &lin->bias, db, ob, f32, 1, out, 0, 0, 0, 0);
}

static vs_status visit_block(const visitor *v, const vs_wan_config *cfg, int index, vs_wan_block_weights *blk) {
    const int64_t dim = cfg->dim, ffn = cfg->ffn_dim;
    for (int i = 0; i < BLOCK_TENSORS; i++) {
        const block_tensor *t = &block_tensors[i];
        if (t->cross_norm_only && !cfg->cross_attn_norm) continue;
        char d[128], o[128];
        snprintf(d, sizeof d, "blocks.%d.%s", index, t->diffusers);
        snprintf(o, sizeof o, "blocks.%d.%s", index, t->original);
        vs_tensor *dst = (vs_tensor *)((char *)blk + t->offset);
        if (t->linear) { /* [out, in]: the weight of a vs_wan_linear, whose scale follows */
            vs_tensor *scale = (vs_tensor *)((char *)dst + offsetof(vs_wan_linear, scale));
            const int64_t shape[2] = {t->shape == S_FFN_DIM ? ffn : dim, t->shape == S_DIM_FFN ? ffn : dim};
            VS_TRY(v->fn(v->ctx, dst, scale, d, o, t->f32, 2, shape));
            continue;
        }
        switch (t->shape) {
        case S_DIM: VS_TRY(visit(v, dst, d, o, t->f32, 1, dim, 0, 0, 0, 0)); break;
        case S_DIM_DIM: VS_TRY(visit(v, dst, d, o, t->f32, 2, dim, dim, 0, 0, 0)); break;
        case S_MOD6: VS_TRY(visit(v, dst, d, o, t->f32, 3, 1, 6, dim, 0, 0)); break;
        case S_FFN: VS_TRY(visit(v, dst, d, o, t->f32, 1, ffn, 0, 0, 0, 0)); break;
        case S_FFN_DIM: VS_TRY(visit(v, dst, d, o, t->f32, 2, ffn, dim, 0, 0, 0)); break;
        case S_DIM_FFN: VS_TRY(visit(v, dst, d, o, t->f32, 2, dim, ffn, 0, 0, 0)); break;
        }
    }
    return VS_OK;
}

/* Every weight of the model, in checkpoint order. The time embedder's MLP stays
 * f32 (diffusers keeps it so); its projection to the modulation is a large
 * matrix and is stored like the others, but computed in f32 too (transformer.c). */
static vs_status visit_all(const visitor *v, const vs_wan_config *cfg, vs_wan_weights *w) {
    const int64_t dim = cfg->dim;
    const int *p = cfg->patch_size;
    VS_TRY(visit(v, &w->patch_embed.weight, "patch_embedding.weight", "patch_embedding.weight", 0, 5, dim,
                 cfg->in_channels, p[0], p[1], p[2]));
    VS_TRY(visit(v, &w->patch_embed.bias, "patch_embedding.bias", "patch_embedding.bias", 0, 1, dim, 0, 0, 0, 0));
    VS_TRY(visit_linear(v, &w->time_in, "condition_embedder.time_embedder.linear_1", "time_embedding.0", 1, dim,
                        cfg->freq_dim));
    VS_TRY(visit_linear(v, &w->time_out, "condition_embedder.time_embedder.linear_2", "time_embedding.2", 1, dim,
                        dim));
    VS_TRY(visit_linear(v, &w->time_proj, "condition_embedder.time_proj", "time_projection.1", 0, 6 * dim, dim));
    VS_TRY(visit_linear(v, &w->text_in, "condition_embedder.text_embedder.linear_1", "text_embedding.0", 0, dim,
                        cfg->text_dim));
    VS_TRY(visit_linear(v, &w->text_out, "condition_embedder.text_embedder.linear_2", "text_embedding.2", 0, dim,
                        dim));
    for (int i = 0; i < cfg->num_layers; i++) VS_TRY(visit_block(v, cfg, i, &w->blocks[i]));
    VS_TRY(visit(v, &w->head_modulation, "scale_shift_table", "head.modulation", 1, 3, 1, 2, dim, 0, 0));
    return visit_linear(v, &w->head, "proj_out", "head.head", 0, (int64_t)cfg->out_channels * p[0] * p[1] * p[2],
                        dim);
}

/* Whether a block linear (one with an FP8 scale, `fp8_scale` non-NULL) is quantised at `precision`: every one
 * at VS_PRECISION_FP8, the feed-forward pair (diffusers' names "blocks.N.ffn.*") at VS_PRECISION_FP8_FFN. */
static int quantised(vs_precision precision, const vs_tensor *fp8_scale, const char *diffusers) {
    if (!fp8_scale) return 0;
    return precision == VS_PRECISION_FP8 || (precision == VS_PRECISION_FP8_FFN && strstr(diffusers, ".ffn."));
}

typedef struct {
    const vs_safetensors *st;
    vs_wan_layout layout;
    const char *prefix;
    vs_dtype dtype;
    vs_device device;
    vs_precision precision; /* which of the blocks' linear layers are quantised as they load */
} loader;

/* A block linear's weight just made in its float type, replaced by its E4M3 codes and per-channel scales
 * right away, so loading an FP8 model never holds more than one float weight beside the codes. */
static vs_status quantize_as_made(vs_tensor *weight, vs_tensor *scale, const char *name) {
    vs_status s = vs_linear_quantize_weight(weight, scale);
    if (s != VS_OK) vs_fail_context(s, "quantising %s to FP8 as it loads", name);
    return s;
}

static vs_status load_one(void *ctx, vs_tensor *dst, vs_tensor *fp8_scale, const char *diffusers,
                          const char *original, int f32, int ndim, const int64_t *shape) {
    const loader *l = ctx;
    char name[256];
    snprintf(name, sizeof name, "%s%s", l->prefix, l->layout == VS_WAN_LAYOUT_DIFFUSERS ? diffusers : original);
    const vs_st_entry *e = vs_safetensors_find(l->st, name);
    if (e && e->dtype == VS_F8E4M3) /* an FP8 checkpoint's weight: E4M3 codes and their scale */
        return vs_fp8_checkpoint_load(l->st, name, fp8_scale ? VS_F8E4M3 : f32 ? VS_F32 : l->dtype, l->device,
                                      ndim, shape, dst, fp8_scale);
    VS_TRY(vs_safetensors_load(l->st, name, f32 ? VS_F32 : l->dtype, l->device, ndim, shape, dst));
    return quantised(l->precision, fp8_scale, diffusers) ? quantize_as_made(dst, fp8_scale, name) : VS_OK;
}

vs_status vs_wan_detect_layout(const vs_safetensors *st, vs_wan_layout *layout, const char **prefix) {
    static const char *const prefixes[] = {"", "model.diffusion_model."};
    char name[128];
    for (int i = 0; i < 2; i++) {
        *prefix = prefixes[i];
        snprintf(name, sizeof name, "%scondition_embedder.time_proj.weight", prefixes[i]);
        if (vs_safetensors_find(st, name)) {
            *layout = VS_WAN_LAYOUT_DIFFUSERS;
            return VS_OK;
        }
        snprintf(name, sizeof name, "%stime_projection.1.weight", prefixes[i]);
        if (vs_safetensors_find(st, name)) {
            *layout = VS_WAN_LAYOUT_ORIGINAL;
            return VS_OK;
        }
    }
    return vs_fail(VS_ERR_FORMAT,
                   "not a Wan transformer checkpoint: neither \"condition_embedder.time_proj.weight\" (diffusers) "
                   "nor \"time_projection.1.weight\" (original Wan) is present");
}

vs_status vs_wan_weights_load(const vs_wan_config *cfg, const vs_safetensors *st, vs_dtype dtype,
                              vs_precision precision, vs_device device, vs_wan_weights *out) {
    memset(out, 0, sizeof *out);
    loader l = {st, VS_WAN_LAYOUT_DIFFUSERS, "", dtype, device, precision};
    VS_TRY(vs_wan_detect_layout(st, &l.layout, &l.prefix));
    out->blocks = calloc((size_t)cfg->num_layers, sizeof *out->blocks);
    if (!out->blocks) return vs_fail(VS_ERR_OOM, "out of memory for %d Wan blocks", cfg->num_layers);
    out->num_blocks = cfg->num_layers;
    const visitor v = {load_one, &l};
    vs_status s = visit_all(&v, cfg, out);
    if (s != VS_OK) vs_wan_weights_free(out);
    return s;
}

typedef struct {
    vs_dtype dtype;
    vs_device device;
    uint64_t seed;
    int64_t count; /* tensors made so far: each gets its own stream of numbers */
    vs_precision precision; /* which of the blocks' linear layers are quantised as they are made */
} random_init;

/* Roughly torch's initialization, so activations keep a sane scale through the
 * layers: matrices and biases uniform in +-1/sqrt(fan_in), norm weights 1 +- 0.1,
 * modulation tables +-1/sqrt(dim). */
static vs_status random_one(void *ctx, vs_tensor *dst, vs_tensor *fp8_scale, const char *diffusers,
                            const char *original, int f32, int ndim, const int64_t *shape) {
    random_init *r = ctx;
    VS_TRY(vs_tensor_alloc(dst, f32 ? VS_F32 : r->dtype, r->device, ndim, shape));
    float lo, hi;
    if (strstr(diffusers, "norm") && strstr(diffusers, ".weight")) {
        lo = 0.9f, hi = 1.1f;
    } else {
        double fan_in = ndim == 1 ? 1024.0 : (double)vs_tensor_numel(dst) / (double)shape[0];
        if (ndim == 3) fan_in = (double)shape[2]; /* scale_shift_table [1, K, dim] */
        hi = (float)(1.0 / sqrt(fan_in)), lo = -hi;
    }
    vs_status s = vs_op_fill_uniform(dst, r->seed + (uint64_t)r->count++ * 0x100000001b3ull, lo, hi);
    if (s != VS_OK) return vs_fail_context(s, "random weight %s", diffusers);
    return quantised(r->precision, fp8_scale, diffusers) ? quantize_as_made(dst, fp8_scale, diffusers) : VS_OK;
}

vs_status vs_wan_weights_random(const vs_wan_config *cfg, vs_dtype dtype, vs_precision precision, vs_device device,
                                uint64_t seed, vs_wan_weights *out) {
    memset(out, 0, sizeof *out);
    out->blocks = calloc((size_t)cfg->num_layers, sizeof *out->blocks);
    if (!out->blocks) return vs_fail(VS_ERR_OOM, "out of memory for %d Wan blocks", cfg->num_layers);
    out->num_blocks = cfg->num_layers;
    random_init r = {dtype, device, seed, 0, precision};
    const visitor v = {random_one, &r};
    vs_status s = visit_all(&v, cfg, out);
    if (s != VS_OK) vs_wan_weights_free(out);
    return s;
}

typedef struct {
    vs_dtype dtype;
    vs_precision precision; /* the quantised block linears as E4M3 codes and F32 per-channel scales */
    size_t bytes;
} byte_count;

static vs_status count_one(void *ctx, vs_tensor *dst, vs_tensor *fp8_scale, const char *diffusers, const char *original,
                           int f32, int ndim, const int64_t *shape) {
    (void)dst, (void)original;
    byte_count *c = ctx;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (quantised(c->precision, fp8_scale, diffusers)) c->bytes += (size_t)n + sizeof(float) * (size_t)shape[0];
    else c->bytes += (size_t)n * vs_dtype_size(f32 ? VS_F32 : c->dtype);
    return VS_OK;
}

vs_status vs_wan_weights_bytes(const vs_wan_config *cfg, vs_dtype dtype, vs_precision precision, size_t *bytes) {
    vs_wan_weights w;
    memset(&w, 0, sizeof w);
    w.blocks = calloc((size_t)cfg->num_layers, sizeof *w.blocks); /* visited, never filled */
    if (!w.blocks) return vs_fail(VS_ERR_OOM, "out of memory for %d Wan blocks", cfg->num_layers);
    byte_count c = {dtype, precision, 0};
    const visitor v = {count_one, &c};
    vs_status s = visit_all(&v, cfg, &w);
    free(w.blocks);
    *bytes = c.bytes;
    return s;
}

static void free_linear(vs_wan_linear *l) {
    vs_tensor_free(&l->weight);
    vs_tensor_free(&l->bias);
    vs_tensor_free(&l->scale);
}

/* A block's linear layers: the ones FP8 quantises; the last two, the FFN, the ones FP8_FFN quantises. */
enum { BLOCK_LINEARS = 10, FFN_LINEARS = 2 };
static void block_linears(const vs_wan_block_weights *block, vs_wan_linear *out[BLOCK_LINEARS]) {
    vs_wan_block_weights *blk = (vs_wan_block_weights *)block; /* the callers that write own the weights */
    vs_wan_linear *all[BLOCK_LINEARS] = {&blk->self_attn.q,  &blk->self_attn.k,  &blk->self_attn.v,
                                         &blk->self_attn.o,  &blk->cross_attn.q, &blk->cross_attn.k,
                                         &blk->cross_attn.v, &blk->cross_attn.o, &blk->ffn_in,
                                         &blk->ffn_out};
    memcpy(out, all, sizeof all);
}

/* The first of a block's linears that `precision` quantises (the rest follow it). */
static int first_quantised(vs_precision precision) {
    return precision == VS_PRECISION_FP8_FFN ? BLOCK_LINEARS - FFN_LINEARS : 0;
}

/* How many of the blocks' linears, from index `first` of each block on, hold E4M3 codes. */
static int count_fp8(const vs_wan_weights *w, int first) {
    int fp8 = 0;
    for (int b = 0; b < w->num_blocks; b++) {
        vs_wan_linear *linears[BLOCK_LINEARS];
        block_linears(&w->blocks[b], linears); /* only read here */
        for (int i = first; i < BLOCK_LINEARS; i++) fp8 += linears[i]->weight.dtype == VS_F8E4M3;
    }
    return fp8;
}

int vs_wan_weights_all_fp8(const vs_wan_weights *w, vs_precision precision) {
    const int first = first_quantised(precision);
    return count_fp8(w, first) == w->num_blocks * (BLOCK_LINEARS - first);
}

vs_status vs_wan_weights_quantize_fp8(vs_wan_weights *w, vs_precision precision) {
    const int first = first_quantised(precision);
    for (int b = 0; b < w->num_blocks; b++) {
        vs_wan_linear *linears[BLOCK_LINEARS];
        block_linears(&w->blocks[b], linears);
        for (int i = first; i < BLOCK_LINEARS; i++) {
            if (linears[i]->weight.dtype == VS_F8E4M3) continue;
            vs_status s = vs_linear_quantize_weight(&linears[i]->weight, &linears[i]->scale);
            if (s) return vs_fail_context(s, "quantising block %d's linear layers to FP8", b);
        }
    }
    return VS_OK;
}

int vs_wan_weights_any_fp8(const vs_wan_weights *w) { return count_fp8(w, 0) > 0; }

void vs_wan_weights_free(vs_wan_weights *w) {
    for (int b = 0; w->blocks && b < w->num_blocks; b++) {
        vs_wan_block_weights *blk = &w->blocks[b];
        for (int i = 0; i < BLOCK_TENSORS; i++)
            vs_tensor_free((vs_tensor *)((char *)blk + block_tensors[i].offset));
        vs_wan_linear *linears[BLOCK_LINEARS]; /* their weights and biases are in the table; the scales not */
        block_linears(blk, linears);
        for (int i = 0; i < BLOCK_LINEARS; i++) vs_tensor_free(&linears[i]->scale);
    }
    free(w->blocks);
    vs_wan_linear *linears[] = {&w->patch_embed, &w->time_in, &w->time_out, &w->time_proj,
                                &w->text_in,     &w->text_out, &w->head};
    for (size_t i = 0; i < sizeof linears / sizeof linears[0]; i++) free_linear(linears[i]);
    vs_tensor_free(&w->head_modulation);
    memset(w, 0, sizeof *w);
}
