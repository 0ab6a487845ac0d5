#include "models/hunyuan/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "models/common/dit_weights.h"
#include "ops/ops.h"

/* Called once per checkpoint tensor with its diffusers name, shape and whether it stays F32. */
typedef struct {
    vs_status (*fn)(void *ctx, vs_tensor *dst, const char *name, int f32, int ndim, const int64_t *shape);
    void *ctx;
} visitor;

static vs_status visit(const visitor *v, vs_tensor *dst, const char *name, int f32, int64_t d0, int64_t d1) {
    const int64_t shape[2] = {d0, d1};
    return v->fn(v->ctx, dst, name, f32, d1 ? 2 : 1, shape);
}

/* name = prefix.part */
static vs_status join(char *name, size_t size, const char *prefix, const char *part) {
    if (snprintf(name, size, "%s.%s", prefix, part) >= (int)size)
        return vs_fail(VS_ERR_INVALID_ARG, "weight name %s.%s is too long", prefix, part);
    return VS_OK;
}

/* prefix.weight [out, in] and, when bias, prefix.bias [out]. */
static vs_status visit_linear(const visitor *v, vs_hunyuan_linear *l, const char *prefix, int f32,
                              int64_t out, int64_t in, int bias) {
    char name[256];
    VS_TRY(join(name, sizeof name, prefix, "weight"));
    VS_TRY(visit(v, &l->weight, name, f32, out, in));
    if (!bias) return VS_OK;
    VS_TRY(join(name, sizeof name, prefix, "bias"));
    return visit(v, &l->bias, name, f32, out, 0);
}

static vs_status visit_mlp(const visitor *v, vs_hunyuan_mlp *m, const char *prefix, int64_t dim, int64_t in) {
    char name[256];
    VS_TRY(join(name, sizeof name, prefix, "linear_1"));
    VS_TRY(visit_linear(v, &m->in, name, 1, dim, in, 1));
    VS_TRY(join(name, sizeof name, prefix, "linear_2"));
    return visit_linear(v, &m->out, name, 1, dim, dim, 1);
}

/* "<block>.<part>" for the visits of one block. */
typedef struct {
    char buf[192];
    const char *block;
} namer;
static const char *at(namer *n, const char *part) {
    if (join(n->buf, sizeof n->buf, n->block, part) != VS_OK) n->buf[0] = 0; /* block names are short */
    return n->buf;
}

static vs_status visit_refiner(const visitor *v, const vs_hunyuan_config *c, int i,
                               vs_hunyuan_refiner_block *b) {
    char block[128];
    snprintf(block, sizeof block, "context_embedder.token_refiner.refiner_blocks.%d", i);
    namer n = {{0}, block};
    const int64_t D = c->dim;
    VS_TRY(visit(v, &b->norm1_weight, at(&n, "norm1.weight"), 1, D, 0));
    VS_TRY(visit(v, &b->norm1_bias, at(&n, "norm1.bias"), 1, D, 0));
    VS_TRY(visit_linear(v, &b->q, at(&n, "attn.to_q"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->k, at(&n, "attn.to_k"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->v, at(&n, "attn.to_v"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->o, at(&n, "attn.to_out.0"), 0, D, D, 1));
    VS_TRY(visit(v, &b->norm2_weight, at(&n, "norm2.weight"), 1, D, 0));
    VS_TRY(visit(v, &b->norm2_bias, at(&n, "norm2.bias"), 1, D, 0));
    VS_TRY(visit_linear(v, &b->ff_in, at(&n, "ff.net.0.proj"), 0, c->refiner_mlp_dim, D, 1));
    VS_TRY(visit_linear(v, &b->ff_out, at(&n, "ff.net.2"), 0, D, c->refiner_mlp_dim, 1));
    return visit_linear(v, &b->gates, at(&n, "norm_out.linear"), 0, 2 * D, D, 1);
}

static vs_status visit_dual(const visitor *v, const vs_hunyuan_config *c, int i, vs_hunyuan_dual_block *b) {
    char block[128];
    snprintf(block, sizeof block, "transformer_blocks.%d", i);
    namer n = {{0}, block};
    const int64_t D = c->dim, hd = c->head_dim, mlp = c->mlp_dim;
    VS_TRY(visit_linear(v, &b->mod, at(&n, "norm1.linear"), 0, 6 * D, D, 1));
    VS_TRY(visit_linear(v, &b->context_mod, at(&n, "norm1_context.linear"), 0, 6 * D, D, 1));
    VS_TRY(visit_linear(v, &b->q, at(&n, "attn.to_q"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->k, at(&n, "attn.to_k"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->v, at(&n, "attn.to_v"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->o, at(&n, "attn.to_out.0"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->add_q, at(&n, "attn.add_q_proj"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->add_k, at(&n, "attn.add_k_proj"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->add_v, at(&n, "attn.add_v_proj"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->add_o, at(&n, "attn.to_add_out"), 0, D, D, 1));
    VS_TRY(visit(v, &b->norm_q, at(&n, "attn.norm_q.weight"), 1, hd, 0));
    VS_TRY(visit(v, &b->norm_k, at(&n, "attn.norm_k.weight"), 1, hd, 0));
    VS_TRY(visit(v, &b->norm_added_q, at(&n, "attn.norm_added_q.weight"), 1, hd, 0));
    VS_TRY(visit(v, &b->norm_added_k, at(&n, "attn.norm_added_k.weight"), 1, hd, 0));
    VS_TRY(visit_linear(v, &b->ff_in, at(&n, "ff.net.0.proj"), 0, mlp, D, 1));
    VS_TRY(visit_linear(v, &b->ff_out, at(&n, "ff.net.2"), 0, D, mlp, 1));
    VS_TRY(visit_linear(v, &b->context_ff_in, at(&n, "ff_context.net.0.proj"), 0, mlp, D, 1));
    return visit_linear(v, &b->context_ff_out, at(&n, "ff_context.net.2"), 0, D, mlp, 1);
}

/* Rows of a [rows, cols] tensor's column range c0 .. c0 + cols_out, as a strided view. */
static vs_tensor columns(const vs_tensor *t, int64_t c0, int64_t cols_out) {
    vs_tensor v = vs_tensor_view((char *)t->data + c0 * (int64_t)vs_dtype_size(t->dtype), t->dtype, t->device,
                                 2, (int64_t[]){t->shape[0], cols_out});
    v.stride[0] = t->shape[1];
    return v;
}

/* proj_out [dim, dim + mlp] -> out_attn.weight [dim, dim], out_mlp.weight [dim, mlp]. */
static vs_status split_proj_out(const vs_tensor *joint, int64_t dim, vs_hunyuan_single_block *b) {
    const int64_t mlp = joint->shape[1] - dim;
    VS_TRY(vs_tensor_alloc(&b->out_attn.weight, joint->dtype, joint->device, 2, (int64_t[]){dim, dim}));
    VS_TRY(vs_tensor_alloc(&b->out_mlp.weight, joint->dtype, joint->device, 2, (int64_t[]){dim, mlp}));
    vs_tensor a = columns(joint, 0, dim), m = columns(joint, dim, mlp);
    VS_TRY(vs_op_copy_rows(&b->out_attn.weight, &a));
    return vs_op_copy_rows(&b->out_mlp.weight, &m);
}

static vs_status visit_single(const visitor *v, const vs_hunyuan_config *c, int i,
                              vs_hunyuan_single_block *b) {
    char block[128];
    snprintf(block, sizeof block, "single_transformer_blocks.%d", i);
    namer n = {{0}, block};
    const int64_t D = c->dim, hd = c->head_dim, mlp = c->mlp_dim;
    VS_TRY(visit_linear(v, &b->mod, at(&n, "norm.linear"), 0, 3 * D, D, 1));
    VS_TRY(visit_linear(v, &b->q, at(&n, "attn.to_q"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->k, at(&n, "attn.to_k"), 0, D, D, 1));
    VS_TRY(visit_linear(v, &b->v, at(&n, "attn.to_v"), 0, D, D, 1));
    VS_TRY(visit(v, &b->norm_q, at(&n, "attn.norm_q.weight"), 1, hd, 0));
    VS_TRY(visit(v, &b->norm_k, at(&n, "attn.norm_k.weight"), 1, hd, 0));
    VS_TRY(visit_linear(v, &b->mlp_in, at(&n, "proj_mlp"), 0, mlp, D, 1));
    vs_tensor joint = {0};
    vs_status s = visit(v, &joint, at(&n, "proj_out.weight"), 0, D, D + mlp);
    if (s == VS_OK) s = split_proj_out(&joint, D, b);
    vs_tensor_free(&joint);
    VS_TRY(s);
    return visit(v, &b->out_attn.bias, at(&n, "proj_out.bias"), 0, D, 0);
}

static vs_status visit_all(const visitor *v, const vs_hunyuan_config *c, vs_hunyuan_weights *w) {
    const int64_t D = c->dim;
    const int *p = c->patch_size;
    const int64_t vol = (int64_t)p[0] * p[1] * p[2];
    {
        const int64_t shape[5] = {D, c->in_channels, p[0], p[1], p[2]};
        VS_TRY(v->fn(v->ctx, &w->patch_embed.weight, "x_embedder.proj.weight", 0, 5, shape));
        VS_TRY(visit(v, &w->patch_embed.bias, "x_embedder.proj.bias", 0, D, 0));
    }
    VS_TRY(visit_mlp(v, &w->refiner_time, "context_embedder.time_text_embed.timestep_embedder", D, 256));
    VS_TRY(visit_mlp(v, &w->refiner_text, "context_embedder.time_text_embed.text_embedder", D, c->text_dim));
    VS_TRY(visit_linear(v, &w->refiner_in, "context_embedder.proj_in", 0, D, c->text_dim, 1));
    for (int i = 0; i < c->num_refiner_layers; i++)
        VS_TRY(visit_refiner(v, c, i, &w->refiner[i]));
    VS_TRY(visit_mlp(v, &w->time, "time_text_embed.timestep_embedder", D, 256));
    VS_TRY(visit_mlp(v, &w->pooled, "time_text_embed.text_embedder", D, c->pooled_dim));
    if (c->guidance_embeds) VS_TRY(visit_mlp(v, &w->guidance, "time_text_embed.guidance_embedder", D, 256));
    for (int i = 0; i < c->num_layers; i++)
        VS_TRY(visit_dual(v, c, i, &w->dual[i]));
    for (int i = 0; i < c->num_single_layers; i++)
        VS_TRY(visit_single(v, c, i, &w->single[i]));
    VS_TRY(visit_linear(v, &w->norm_out, "norm_out.linear", 0, 2 * D, D, 1));
    VS_TRY(visit_linear(v, &w->proj_out, "proj_out", 0, vol * c->out_channels, D, 1));
    VS_TRY(vs_dit_rows_channel_last(&w->proj_out.weight, c->out_channels));
    return vs_dit_rows_channel_last(&w->proj_out.bias, c->out_channels);
}

static vs_status allocate_blocks(const vs_hunyuan_config *c, vs_hunyuan_weights *w) {
    memset(w, 0, sizeof *w);
    w->refiner = calloc((size_t)c->num_refiner_layers + 1, sizeof *w->refiner);
    w->dual = calloc((size_t)c->num_layers + 1, sizeof *w->dual);
    w->single = calloc((size_t)c->num_single_layers + 1, sizeof *w->single);
    w->num_refiner = c->num_refiner_layers, w->num_dual = c->num_layers, w->num_single = c->num_single_layers;
    if (!w->refiner || !w->dual || !w->single) {
        vs_hunyuan_weights_free(w);
        return vs_fail(VS_ERR_OOM, "out of memory for the HunyuanVideo blocks");
    }
    return VS_OK;
}

typedef struct {
    const vs_safetensors *st;
    vs_dtype dtype;
    vs_device device;
} loader;

static vs_status load_one(void *ctx, vs_tensor *dst, const char *name, int f32, int ndim,
                          const int64_t *shape) {
    const loader *l = ctx;
    return vs_safetensors_load(l->st, name, f32 ? VS_F32 : l->dtype, l->device, ndim, shape, dst);
}

vs_status vs_hunyuan_weights_load(const vs_hunyuan_config *cfg, const vs_safetensors *st, vs_dtype dtype,
                                  vs_device device, vs_hunyuan_weights *out) {
    VS_TRY(allocate_blocks(cfg, out));
    loader l = {st, dtype, device};
    const visitor v = {load_one, &l};
    vs_status s = visit_all(&v, cfg, out);
    if (s != VS_OK) vs_hunyuan_weights_free(out);
    return s;
}

typedef struct {
    vs_dtype dtype;
    vs_device device;
    uint64_t seed;
    int64_t count; /* tensors made so far: each its own stream of numbers */
} random_init;

static vs_status random_one(void *ctx, vs_tensor *dst, const char *name, int f32, int ndim, const int64_t *shape) {
    random_init *r = ctx;
    return vs_dit_random_weight(dst, name, f32 ? VS_F32 : r->dtype, r->device, ndim, shape, r->seed, r->count++);
}

vs_status vs_hunyuan_weights_random(const vs_hunyuan_config *cfg, vs_dtype dtype, vs_device device,
                                    uint64_t seed, vs_hunyuan_weights *out) {
    VS_TRY(allocate_blocks(cfg, out));
    random_init r = {dtype, device, seed, 0};
    const visitor v = {random_one, &r};
    vs_status s = visit_all(&v, cfg, out);
    if (s != VS_OK) vs_hunyuan_weights_free(out);
    return s;
}

static void free_linear(vs_hunyuan_linear *l) {
    vs_tensor_free(&l->weight);
    vs_tensor_free(&l->bias);
}
static void free_mlp(vs_hunyuan_mlp *m) {
    free_linear(&m->in);
    free_linear(&m->out);
}

void vs_hunyuan_weights_free(vs_hunyuan_weights *w) {
    for (int i = 0; w->refiner && i < w->num_refiner; i++) {
        vs_hunyuan_refiner_block *b = &w->refiner[i];
        vs_tensor *t[] = {&b->norm1_weight, &b->norm1_bias, &b->norm2_weight, &b->norm2_bias};
        for (size_t j = 0; j < sizeof t / sizeof t[0]; j++)
            vs_tensor_free(t[j]);
        vs_hunyuan_linear *l[] = {&b->q, &b->k, &b->v, &b->o, &b->ff_in, &b->ff_out, &b->gates};
        for (size_t j = 0; j < sizeof l / sizeof l[0]; j++)
            free_linear(l[j]);
    }
    for (int i = 0; w->dual && i < w->num_dual; i++) {
        vs_hunyuan_dual_block *b = &w->dual[i];
        vs_tensor *t[] = {&b->norm_q, &b->norm_k, &b->norm_added_q, &b->norm_added_k};
        for (size_t j = 0; j < sizeof t / sizeof t[0]; j++)
            vs_tensor_free(t[j]);
        vs_hunyuan_linear *l[] = {
            &b->mod,           &b->context_mod,   &b->q,     &b->k,     &b->v,     &b->o,
            &b->add_q,         &b->add_k,         &b->add_v, &b->add_o, &b->ff_in, &b->ff_out,
            &b->context_ff_in, &b->context_ff_out};
        for (size_t j = 0; j < sizeof l / sizeof l[0]; j++)
            free_linear(l[j]);
    }
    for (int i = 0; w->single && i < w->num_single; i++) {
        vs_hunyuan_single_block *b = &w->single[i];
        vs_tensor_free(&b->norm_q);
        vs_tensor_free(&b->norm_k);
        vs_hunyuan_linear *l[] = {&b->mod, &b->q, &b->k, &b->v, &b->mlp_in, &b->out_attn, &b->out_mlp};
        for (size_t j = 0; j < sizeof l / sizeof l[0]; j++)
            free_linear(l[j]);
    }
    free(w->refiner);
    free(w->dual);
    free(w->single);
    vs_hunyuan_mlp *m[] = {&w->time, &w->guidance, &w->pooled, &w->refiner_time, &w->refiner_text};
    for (size_t j = 0; j < sizeof m / sizeof m[0]; j++)
        free_mlp(m[j]);
    vs_hunyuan_linear *l[] = {&w->patch_embed, &w->refiner_in, &w->norm_out, &w->proj_out};
    for (size_t j = 0; j < sizeof l / sizeof l[0]; j++)
        free_linear(l[j]);
    memset(w, 0, sizeof *w);
}
