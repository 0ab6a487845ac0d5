#include "models/cogvideox/weights.h"

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

/* prefix.suffix, d0 [x d1] */
static vs_status visit(const visitor *v, vs_tensor *dst, const char *prefix, const char *suffix, int f32,
                       int64_t d0, int64_t d1) {
    char name[256];
    if (snprintf(name, sizeof name, "%s.%s", prefix, suffix) >= (int)sizeof name)
        return vs_fail(VS_ERR_INVALID_ARG, "weight name %s.%s is too long", prefix, suffix);
    const int64_t shape[2] = {d0, d1};
    return v->fn(v->ctx, dst, name, f32, d1 ? 2 : 1, shape);
}

static vs_status visit_linear(const visitor *v, vs_cogvideox_linear *l, const char *prefix, int f32, int64_t out,
                              int64_t in, int bias) {
    VS_TRY(visit(v, &l->weight, prefix, "weight", f32, out, in));
    return bias ? visit(v, &l->bias, prefix, "bias", f32, out, 0) : VS_OK;
}

static vs_status visit_norm(const visitor *v, vs_cogvideox_norm *n, const char *prefix, int64_t dim) {
    VS_TRY(visit(v, &n->weight, prefix, "weight", 1, dim, 0));
    return visit(v, &n->bias, prefix, "bias", 1, dim, 0);
}

static vs_status visit_block(const visitor *v, const vs_cogvideox_config *c, int i, vs_cogvideox_block *b) {
    const int64_t D = c->dim, T = c->time_embed_dim, hd = c->head_dim;
    const int qkv_bias = c->attention_bias;
    static const char *const parts[] = {"norm1.linear", "norm1.norm",    "norm2.linear",  "norm2.norm",
                                        "attn1.to_q",   "attn1.to_k",    "attn1.to_v",    "attn1.to_out.0",
                                        "attn1.norm_q", "attn1.norm_k",  "ff.net.0.proj", "ff.net.2"};
    char n[12][96];
    for (int j = 0; j < 12; j++)
        snprintf(n[j], sizeof n[j], "transformer_blocks.%d.%s", i, parts[j]);
    VS_TRY(visit_linear(v, &b->norm1.linear, n[0], 0, 6 * D, T, 1));
    VS_TRY(visit_norm(v, &b->norm1.norm, n[1], D));
    VS_TRY(visit_linear(v, &b->norm2.linear, n[2], 0, 6 * D, T, 1));
    VS_TRY(visit_norm(v, &b->norm2.norm, n[3], D));
    VS_TRY(visit_linear(v, &b->q, n[4], 0, D, D, qkv_bias));
    VS_TRY(visit_linear(v, &b->k, n[5], 0, D, D, qkv_bias));
    VS_TRY(visit_linear(v, &b->v, n[6], 0, D, D, qkv_bias));
    VS_TRY(visit_linear(v, &b->o, n[7], 0, D, D, 1));
    VS_TRY(visit_norm(v, &b->norm_q, n[8], hd));
    VS_TRY(visit_norm(v, &b->norm_k, n[9], hd));
    VS_TRY(visit_linear(v, &b->ff_in, n[10], 0, c->mlp_dim, D, 1));
    return visit_linear(v, &b->ff_out, n[11], 0, D, c->mlp_dim, 1);
}

static vs_status visit_all(const visitor *v, const vs_cogvideox_config *c, vs_cogvideox_weights *w) {
    const int64_t D = c->dim, T = c->time_embed_dim;
    const int *p = c->patch_size;
    const int64_t vol = (int64_t)p[0] * p[1] * p[2];
    VS_TRY(visit_linear(v, &w->patch_embed, "patch_embed.proj", 0, D, c->in_channels * vol, 1));
    VS_TRY(visit_linear(v, &w->text_proj, "patch_embed.text_proj", 0, D, c->text_dim, 1));
    VS_TRY(visit_linear(v, &w->time_in, "time_embedding.linear_1", 1, T, D, 1));
    VS_TRY(visit_linear(v, &w->time_out, "time_embedding.linear_2", 1, T, T, 1));
    if (c->ofs_embed_dim) {
        VS_TRY(visit_linear(v, &w->ofs_in, "ofs_embedding.linear_1", 1, c->ofs_embed_dim, c->ofs_embed_dim, 1));
        VS_TRY(visit_linear(v, &w->ofs_out, "ofs_embedding.linear_2", 1, c->ofs_embed_dim, c->ofs_embed_dim, 1));
    }
    for (int i = 0; i < c->num_layers; i++)
        VS_TRY(visit_block(v, c, i, &w->blocks[i]));
    VS_TRY(visit_norm(v, &w->norm_final, "norm_final", D));
    VS_TRY(visit_linear(v, &w->norm_out, "norm_out.linear", 0, 2 * D, T, 1));
    VS_TRY(visit_norm(v, &w->norm_out_norm, "norm_out.norm", D));
    VS_TRY(visit_linear(v, &w->proj_out, "proj_out", 0, vol * c->out_channels, D, 1));
    VS_TRY(vs_dit_rows_channel_last(&w->proj_out.weight, c->out_channels));
    return vs_dit_rows_channel_last(&w->proj_out.bias, c->out_channels);
}

static vs_status allocate_blocks(const vs_cogvideox_config *c, vs_cogvideox_weights *w) {
    memset(w, 0, sizeof *w);
    w->blocks = calloc((size_t)c->num_layers + 1, sizeof *w->blocks);
    w->num_blocks = c->num_layers;
    if (!w->blocks) return vs_fail(VS_ERR_OOM, "out of memory for the CogVideoX blocks");
    return VS_OK;
}

typedef struct {
    const vs_safetensors *st;
    vs_dtype dtype;
    vs_device device;
} loader;

static vs_status load_one(void *ctx, vs_tensor *dst, const char *name, int f32, int ndim, const int64_t *shape) {
    const loader *l = ctx;
    return vs_safetensors_load(l->st, name, f32 ? VS_F32 : l->dtype, l->device, ndim, shape, dst);
}

vs_status vs_cogvideox_weights_load(const vs_cogvideox_config *cfg, const vs_safetensors *st, vs_dtype dtype,
                                    vs_device device, vs_cogvideox_weights *out) {
    VS_TRY(allocate_blocks(cfg, out));
    loader l = {st, dtype, device};
    const visitor v = {load_one, &l};
    vs_status s = visit_all(&v, cfg, out);
    if (s != VS_OK) vs_cogvideox_weights_free(out);
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

vs_status vs_cogvideox_weights_random(const vs_cogvideox_config *cfg, vs_dtype dtype, vs_device device,
                                      uint64_t seed, vs_cogvideox_weights *out) {
    VS_TRY(allocate_blocks(cfg, out));
    random_init r = {dtype, device, seed, 0};
    const visitor v = {random_one, &r};
    vs_status s = visit_all(&v, cfg, out);
    if (s != VS_OK) vs_cogvideox_weights_free(out);
    return s;
}

static void free_linear(vs_cogvideox_linear *l) {
    vs_tensor_free(&l->weight);
    vs_tensor_free(&l->bias);
}
static void free_norm(vs_cogvideox_norm *n) {
    vs_tensor_free(&n->weight);
    vs_tensor_free(&n->bias);
}

void vs_cogvideox_weights_free(vs_cogvideox_weights *w) {
    for (int i = 0; w->blocks && i < w->num_blocks; i++) {
        vs_cogvideox_block *b = &w->blocks[i];
        vs_cogvideox_linear *l[] = {&b->norm1.linear, &b->norm2.linear, &b->q,     &b->k,
                                    &b->v,            &b->o,            &b->ff_in, &b->ff_out};
        for (size_t j = 0; j < sizeof l / sizeof l[0]; j++)
            free_linear(l[j]);
        vs_cogvideox_norm *n[] = {&b->norm1.norm, &b->norm2.norm, &b->norm_q, &b->norm_k};
        for (size_t j = 0; j < sizeof n / sizeof n[0]; j++)
            free_norm(n[j]);
    }
    free(w->blocks);
    vs_cogvideox_linear *l[] = {&w->patch_embed, &w->text_proj, &w->time_in,  &w->time_out,
                                &w->ofs_in,      &w->ofs_out,   &w->norm_out, &w->proj_out};
    for (size_t j = 0; j < sizeof l / sizeof l[0]; j++)
        free_linear(l[j]);
    free_norm(&w->norm_final);
    free_norm(&w->norm_out_norm);
    memset(w, 0, sizeof *w);
}
