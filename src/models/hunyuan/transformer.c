#include "models/common/component.h"
#include "models/hunyuan/transformer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/arena.h"
#include "core/log.h"
#include "core/status.h"
#include "io/path.h"
#include "models/common/adaln.h"
#include "models/common/joint_dit.h"
#include "models/common/self_attention.h"
#include "models/common/timestep.h"
#include "models/common/ulysses.h"
#include "ops/ops.h"
#include "sparse/sparse_attention.h"

enum { SINUSOID_DIM = 256 }; /* diffusers' Timesteps(256) in every embedder */

/* ---- per-model state reused between forwards ------------------------------------------ */

struct vs_hunyuan_cache {
    vs_joint_dit_cache joint; /* arena, RoPE tables, attention settings and sparse state, timer */
};

static void cache_free(vs_hunyuan_cache *c) {
    if (!c) return;
    vs_joint_dit_cache_release(&c->joint);
    free(c);
}

/* ---- loading -------------------------------------------------------------------------- */

static vs_status model_new(vs_device device, vs_hunyuan_model **out) {
    vs_hunyuan_model *m = calloc(1, sizeof *m);
    if (!m || !(m->cache = calloc(1, sizeof *m->cache))) {
        free(m);
        return vs_fail(VS_ERR_OOM, "out of memory");
    }
    m->device = device;
    *out = m;
    return VS_OK;
}

vs_status vs_hunyuan_model_load(const char *path, vs_device device, vs_hunyuan_model **out) {
    *out = NULL;
    vs_component_path where;
    VS_TRY(vs_component_find(path, "transformer", "a HunyuanVideo model", &where));
    const char *dir = where.dir, *config_path = where.config;
    vs_hunyuan_model *m = NULL;
    VS_TRY(model_new(device, &m));
    vs_safetensors *st = NULL;
    vs_status s = vs_hunyuan_config_load(config_path, &m->config);
    if (s == VS_OK) s = vs_safetensors_open(&st, dir);
    if (s == VS_OK)
        s = vs_hunyuan_weights_load(&m->config, st, device == VS_CPU ? VS_F32 : VS_BF16, device, &m->weights);
    vs_safetensors_close(st);
    if (s != VS_OK) {
        vs_hunyuan_model_free(m);
        return vs_fail_context(s, "loading the HunyuanVideo transformer from %s", dir);
    }
    const vs_hunyuan_config *c = &m->config;
    VS_INFO("HunyuanVideo DiT: %d dual + %d single blocks, dim %d (%d heads x %d), mlp %d, %d refiner blocks",
            c->num_layers, c->num_single_layers, c->dim, c->num_heads, c->head_dim, c->mlp_dim,
            c->num_refiner_layers);
    *out = m;
    return VS_OK;
}

vs_status vs_hunyuan_model_random(const vs_hunyuan_config *config, vs_device device, uint64_t seed,
                                  vs_hunyuan_model **out) {
    *out = NULL;
    vs_hunyuan_model *m = NULL;
    VS_TRY(model_new(device, &m));
    m->config = *config;
    vs_status s =
        vs_hunyuan_weights_random(config, device == VS_CPU ? VS_F32 : VS_BF16, device, seed, &m->weights);
    if (s == VS_OK) s = vs_op_sync(device);
    if (s != VS_OK) {
        vs_hunyuan_model_free(m);
        return vs_fail_context(s, "random HunyuanVideo transformer (dim %d, %d + %d blocks)", config->dim,
                               config->num_layers, config->num_single_layers);
    }
    *out = m;
    return VS_OK;
}

void vs_hunyuan_model_free(vs_hunyuan_model *model) {
    if (!model) return;
    cache_free(model->cache);
    vs_hunyuan_weights_free(&model->weights);
    free(model);
}

void vs_hunyuan_model_release_work(vs_hunyuan_model *model) { vs_joint_dit_cache_release_work(&model->cache->joint); }

void vs_hunyuan_model_set_probe(vs_hunyuan_model *m, vs_hunyuan_probe_fn fn, void *user) {
    m->probe = fn;
    m->probe_user = user;
}

vs_attention_params vs_hunyuan_svg_defaults(void) {
    return (vs_attention_params){.method = "svg", .density = 0.25, .dense_steps = 0.1, .dense_layers = 0.03};
}

vs_status vs_hunyuan_model_set_attention(vs_hunyuan_model *model, const vs_attention_params *params) {
    return vs_joint_dit_set_attention(&model->cache->joint, params, "HunyuanVideo");
}

/* ---- one batch entry's forward ---------------------------------------------------------------- */


typedef struct {
    const vs_hunyuan_config *c;
    const vs_hunyuan_weights *w;
    vs_device dev;
    vs_arena *arena;
    int grid[3];         /* F, H, W after patching */
    int64_t N, L;        /* video tokens, valid text tokens */
    vs_tensor x;         /* the residual stream F32 [1, N + L, dim]: video, then text */
    vs_tensor silu_temb; /* F32 [1, dim]: what every modulation reads */
    const vs_tensor *rope_cos, *rope_sin;
    vs_sparse_attention *attention;
    vs_ulysses seq; /* one rank: the shape vs_dit_self_attention takes */
    int step, num_steps;
    vs_attention_clock clock;
    vs_hunyuan_probe_fn probe;
    void *probe_user;
} forward_state;

static vs_status take(vs_arena *arena, vs_dtype dtype, int ndim, const int64_t *shape, vs_tensor *out) {
    return vs_arena_tensor(arena, dtype, ndim, shape, out);
}
#define TAKE(arena, dtype, out, ...)                                                                         \
    take(arena, dtype, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__},  \
         out)

static vs_tensor tokens(const vs_tensor *t, int64_t r0, int64_t n) {
    return vs_joint_dit_tokens(t, r0, n);
}
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static vs_status probe_point(const forward_state *f, const char *name, int index, const vs_tensor *t) {
    if (!f->probe) return VS_OK;
    VS_TRY(vs_op_sync(f->dev));
    char full[64];
    if (index >= 0) snprintf(full, sizeof full, "%s.%d", name, index);
    f->probe(f->probe_user, index >= 0 ? full : name, t);
    return VS_OK;
}

/* out [1, dim] = linear_2(silu(linear_1(x))), F32 (TimestepEmbedding, PixArtAlphaTextProjection). */
static vs_status embed(forward_state *f, const vs_hunyuan_mlp *m, const vs_tensor *x, vs_tensor *out) {
    const size_t mark = vs_arena_mark(f->arena);
    vs_tensor hidden;
    VS_TRY(TAKE(f->arena, VS_F32, &hidden, 1, f->c->dim));
    VS_TRY(vs_op_linear(&hidden, x, &m->in.weight, &m->in.bias, VS_EPILOGUE_SILU));
    VS_TRY(vs_op_linear(out, &hidden, &m->out.weight, &m->out.bias, VS_EPILOGUE_NONE));
    vs_arena_release(f->arena, mark);
    return VS_OK;
}

/* The sinusoid of one timestep value, F32 [1, 256] on the device. */
static vs_status sinusoid(forward_state *f, float t, vs_tensor *out) {
    float host[SINUSOID_DIM];
    vs_timestep_embedding(host, t, SINUSOID_DIM);
    VS_TRY(TAKE(f->arena, VS_F32, out, 1, SINUSOID_DIM));
    const vs_tensor h = vs_tensor_view(host, VS_F32, VS_CPU, 2, (int64_t[]){1, SINUSOID_DIM});
    return vs_op_copy(out, &h);
}

/* mod [1, K, dim] F32 = Linear(silu(temb)): a block's K modulation chunks. */
static vs_status modulation(forward_state *f, const vs_tensor *silu_emb, const vs_hunyuan_linear *l, int K,
                            vs_tensor *mod) {
    const int64_t D = f->c->dim;
    VS_TRY(TAKE(f->arena, VS_F32, mod, 1, K, D));
    vs_tensor flat = vs_tensor_view(mod->data, VS_F32, f->dev, 2, (int64_t[]){1, K * D});
    return vs_op_linear(&flat, silu_emb, &l->weight, &l->bias, VS_EPILOGUE_NONE);
}

/* temb = time(sin(t)) + guidance(sin(g)) + pooled(pooled); silu_temb = silu(temb). */
static vs_status embed_conditions(forward_state *f, float t, const float *guidance, const vs_tensor *pooled) {
    const int64_t D = f->c->dim;
    vs_tensor temb, part, sin_t;
    VS_TRY(TAKE(f->arena, VS_F32, &temb, 1, D));
    VS_TRY(TAKE(f->arena, VS_F32, &f->silu_temb, 1, D));
    const size_t mark = vs_arena_mark(f->arena);
    VS_TRY(TAKE(f->arena, VS_F32, &part, 1, D));
    VS_TRY(sinusoid(f, t, &sin_t));
    VS_TRY(embed(f, &f->w->time, &sin_t, &temb));
    if (f->c->guidance_embeds) {
        vs_tensor sin_g;
        VS_TRY(sinusoid(f, *guidance, &sin_g));
        VS_TRY(embed(f, &f->w->guidance, &sin_g, &part));
        VS_TRY(vs_op_add(&temb, &temb, &part));
    }
    VS_TRY(embed(f, &f->w->pooled, pooled, &part));
    VS_TRY(vs_op_add(&temb, &temb, &part));
    VS_TRY(vs_op_silu(&f->silu_temb, &temb));
    VS_TRY(probe_point(f, "temb", -1, &temb));
    vs_arena_release(f->arena, mark);
    return VS_OK;
}

/* Dense attention of q, k, v [1, n, dim] into a, on the forward's attention clock. */
static vs_status dense_attention(forward_state *f, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                 vs_tensor *a) {
    const int H = f->c->num_heads;
    vs_tensor q4 = vs_heads_view(q, H), k4 = vs_heads_view(k, H), v4 = vs_heads_view(v, H),
              a4 = vs_heads_view(a, H);
    VS_TRY(vs_attention_clock_start(&f->clock));
    VS_TRY(vs_op_attention(&a4, &q4, &k4, &v4));
    return vs_attention_clock_stop(&f->clock);
}

/* The token refiner over the valid text, into the text rows of the stream:
 *   c = proj_in(text); r = time(sin(t)) + text_proj(mean of text)
 *   per block: c += g1 * o(Attn(LN_affine(c)));  c += g2 * FFN_silu(LN_affine(c)),  (g1, g2) =
 * Linear(silu(r)) */
static vs_status refine_text(forward_state *f, float t, const vs_tensor *text, const vs_tensor *text_mean) {
    const vs_hunyuan_config *c = f->c;
    const vs_hunyuan_weights *w = f->w;
    const int64_t L = f->L, D = c->dim;
    const vs_dtype act = vs_joint_dit_act_dtype(f->dev);
    const float eps = 1e-6f;
    vs_tensor ctx = tokens(&f->x, f->N, L);
    const size_t mark = vs_arena_mark(f->arena);
    vs_tensor r, silu_r, part, sin_t, text_act, h, q, k, v, a, hidden;
    VS_TRY(TAKE(f->arena, VS_F32, &r, 1, D));
    VS_TRY(TAKE(f->arena, VS_F32, &silu_r, 1, D));
    VS_TRY(TAKE(f->arena, VS_F32, &part, 1, D));
    VS_TRY(sinusoid(f, t, &sin_t));
    VS_TRY(embed(f, &w->refiner_time, &sin_t, &r));
    VS_TRY(embed(f, &w->refiner_text, text_mean, &part));
    VS_TRY(vs_op_add(&r, &r, &part));
    VS_TRY(vs_op_silu(&silu_r, &r));

    VS_TRY(TAKE(f->arena, act, &h, 1, L, D));
    {
        const size_t in_mark = vs_arena_mark(f->arena);
        VS_TRY(TAKE(f->arena, act, &text_act, 1, L, c->text_dim));
        VS_TRY(vs_op_convert(&text_act, text));
        VS_TRY(vs_op_linear(&h, &text_act, &w->refiner_in.weight, &w->refiner_in.bias, VS_EPILOGUE_NONE));
        VS_TRY(vs_op_convert(&ctx, &h));
        vs_arena_release(f->arena, in_mark);
    }
    VS_TRY(TAKE(f->arena, act, &q, 1, L, D));
    VS_TRY(TAKE(f->arena, act, &k, 1, L, D));
    VS_TRY(TAKE(f->arena, act, &v, 1, L, D));
    VS_TRY(TAKE(f->arena, act, &a, 1, L, D));
    VS_TRY(TAKE(f->arena, act, &hidden, 1, L, c->refiner_mlp_dim));
    for (int i = 0; i < c->num_refiner_layers; i++) {
        const vs_hunyuan_refiner_block *b = &w->refiner[i];
        const size_t block_mark = vs_arena_mark(f->arena);
        vs_tensor gates;
        VS_TRY(modulation(f, &silu_r, &b->gates, 2, &gates));
        vs_tensor g_attn = vs_adaln_chunk(&gates, 0), g_mlp = vs_adaln_chunk(&gates, 1);
        VS_TRY(vs_op_layernorm_modulate(&h, &ctx, &b->norm1_weight, &b->norm1_bias, NULL, NULL, eps));
        VS_TRY(vs_op_linear(&q, &h, &b->q.weight, &b->q.bias, VS_EPILOGUE_NONE));
        VS_TRY(vs_op_linear(&k, &h, &b->k.weight, &b->k.bias, VS_EPILOGUE_NONE));
        VS_TRY(vs_op_linear(&v, &h, &b->v.weight, &b->v.bias, VS_EPILOGUE_NONE));
        VS_TRY(dense_attention(f, &q, &k, &v, &a));
        VS_TRY(vs_op_linear_residual(&ctx, &a, &b->o.weight, &b->o.bias, &g_attn));
        VS_TRY(vs_op_layernorm_modulate(&h, &ctx, &b->norm2_weight, &b->norm2_bias, NULL, NULL, eps));
        VS_TRY(vs_op_linear(&hidden, &h, &b->ff_in.weight, &b->ff_in.bias, VS_EPILOGUE_SILU));
        VS_TRY(vs_op_linear_residual(&ctx, &hidden, &b->ff_out.weight, &b->ff_out.bias, &g_mlp));
        vs_arena_release(f->arena, block_mark);
    }
    vs_arena_release(f->arena, mark);
    return probe_point(f, "context", -1, &ctx);
}

/* x_rows += gate * W2 gelu_tanh(W1 h_rows + b1) + b2 over the rows in chunks (W2's bias may be absent). */
static vs_status mlp_residual(forward_state *f, vs_tensor *x, const vs_tensor *h, const vs_hunyuan_linear *in,
                              const vs_hunyuan_linear *out, const vs_tensor *gate) {
    const int64_t rows = x->shape[1], chunk = vs_joint_dit_min64(rows, vs_joint_dit_mlp_chunk_rows(f->dev));
    const size_t mark = vs_arena_mark(f->arena);
    vs_tensor hidden;
    VS_TRY(TAKE(f->arena, vs_joint_dit_act_dtype(f->dev), &hidden, 1, chunk, in->weight.shape[0]));
    for (int64_t r = 0; r < rows; r += chunk) {
        const int64_t n = vs_joint_dit_min64(chunk, rows - r);
        vs_tensor hr = tokens(h, r, n), xr = tokens(x, r, n), hid = tokens(&hidden, 0, n);
        VS_TRY(vs_op_linear(&hid, &hr, &in->weight, &in->bias, VS_EPILOGUE_GELU_TANH));
        VS_TRY(vs_op_linear_residual(&xr, &hid, &out->weight, out->bias.data ? &out->bias : NULL, gate));
    }
    vs_arena_release(f->arena, mark);
    return VS_OK;
}

/* q, k, v = Linear(h) for one stream's rows (or both streams' in a single-stream block). */
static vs_status project_qkv(const vs_tensor *h, const vs_hunyuan_linear *wq, const vs_hunyuan_linear *wk,
                             const vs_hunyuan_linear *wv, vs_tensor *q, vs_tensor *k, vs_tensor *v) {
    VS_TRY(vs_op_linear(q, h, &wq->weight, &wq->bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_op_linear(k, h, &wk->weight, &wk->bias, VS_EPILOGUE_NONE));
    return vs_op_linear(v, h, &wv->weight, &wv->bias, VS_EPILOGUE_NONE);
}

/* Per-head RMSNorm of q and k rows, then RoPE when the rows are video tokens (video: 1). */
static vs_status qk_norm(const forward_state *f, vs_tensor *q, vs_tensor *k, const vs_tensor *norm_q,
                         const vs_tensor *norm_k, int video) {
    const int H = f->c->num_heads;
    const float eps = 1e-6f;
    const vs_tensor *cos = video ? f->rope_cos : NULL, *sin = video ? f->rope_sin : NULL;
    VS_TRY(vs_op_qk_norm_rope(q, norm_q, NULL, cos, sin, H, eps));
    return vs_op_qk_norm_rope(k, norm_k, NULL, cos, sin, H, eps);
}

/* Joint attention over all N + L tokens of q, k, v into a: dense, or through the sparse method with its
 * warm-up (one rank: the exchange's scratch buffer is never used, so none is passed). */
static vs_status joint_attention(forward_state *f, int layer, vs_tensor *q, vs_tensor *k, vs_tensor *v,
                                 vs_tensor *a) {
    if (!f->attention) return dense_attention(f, q, k, v, a);
    return vs_dit_self_attention(&f->seq, f->arena, f->attention, layer, f->step, f->num_steps, q, k, v, NULL,
                                 a, &f->clock);
}

static vs_status dual_block(forward_state *f, const vs_hunyuan_dual_block *b, int layer) {
    const int64_t N = f->N, L = f->L, T = N + L, D = f->c->dim;
    const vs_dtype act = vs_joint_dit_act_dtype(f->dev);
    const float eps = 1e-6f;
    const size_t mark = vs_arena_mark(f->arena);
    /* chunks: shift, scale, gate (attention), shift, scale, gate (MLP), for each stream */
    vs_tensor mod, cmod, h, q, k, v, a;
    VS_TRY(modulation(f, &f->silu_temb, &b->mod, 6, &mod));
    VS_TRY(modulation(f, &f->silu_temb, &b->context_mod, 6, &cmod));
    VS_TRY(TAKE(f->arena, act, &h, 1, T, D));
    VS_TRY(TAKE(f->arena, act, &q, 1, T, D));
    VS_TRY(TAKE(f->arena, act, &k, 1, T, D));
    VS_TRY(TAKE(f->arena, act, &v, 1, T, D));
    VS_TRY(TAKE(f->arena, act, &a, 1, T, D));
    vs_tensor x_v = tokens(&f->x, 0, N), x_t = tokens(&f->x, N, L);
    vs_tensor h_v = tokens(&h, 0, N), h_t = tokens(&h, N, L);
    vs_tensor q_v = tokens(&q, 0, N), q_t = tokens(&q, N, L), k_v = tokens(&k, 0, N), k_t = tokens(&k, N, L);
    vs_tensor v_v = tokens(&v, 0, N), v_t = tokens(&v, N, L), a_v = tokens(&a, 0, N), a_t = tokens(&a, N, L);
    vs_tensor m[6], cm[6];
    for (int i = 0; i < 6; i++)
        m[i] = vs_adaln_chunk(&mod, i), cm[i] = vs_adaln_chunk(&cmod, i);

    /* 1. joint attention: each stream's q, k, v from its own modulated norm and projections; RoPE on video */
    VS_TRY(vs_op_layernorm_modulate(&h_v, &x_v, NULL, NULL, &m[0], &m[1], eps));
    VS_TRY(vs_op_layernorm_modulate(&h_t, &x_t, NULL, NULL, &cm[0], &cm[1], eps));
    VS_TRY(project_qkv(&h_v, &b->q, &b->k, &b->v, &q_v, &k_v, &v_v));
    VS_TRY(qk_norm(f, &q_v, &k_v, &b->norm_q, &b->norm_k, 1));
    VS_TRY(project_qkv(&h_t, &b->add_q, &b->add_k, &b->add_v, &q_t, &k_t, &v_t));
    VS_TRY(qk_norm(f, &q_t, &k_t, &b->norm_added_q, &b->norm_added_k, 0));
    VS_TRY(joint_attention(f, layer, &q, &k, &v, &a));
    VS_TRY(vs_op_linear_residual(&x_v, &a_v, &b->o.weight, &b->o.bias, &m[2]));
    VS_TRY(vs_op_linear_residual(&x_t, &a_t, &b->add_o.weight, &b->add_o.bias, &cm[2]));

    /* 2. each stream's feed-forward */
    VS_TRY(vs_op_layernorm_modulate(&h_v, &x_v, NULL, NULL, &m[3], &m[4], eps));
    VS_TRY(vs_op_layernorm_modulate(&h_t, &x_t, NULL, NULL, &cm[3], &cm[4], eps));
    VS_TRY(mlp_residual(f, &x_v, &h_v, &b->ff_in, &b->ff_out, &m[5]));
    VS_TRY(mlp_residual(f, &x_t, &h_t, &b->context_ff_in, &b->context_ff_out, &cm[5]));
    vs_arena_release(f->arena, mark);
    return probe_point(f, "dual", layer, &f->x);
}

static vs_status single_block(forward_state *f, const vs_hunyuan_single_block *b, int index, int layer) {
    const int64_t N = f->N, L = f->L, T = N + L, D = f->c->dim;
    const vs_dtype act = vs_joint_dit_act_dtype(f->dev);
    const float eps = 1e-6f;
    const size_t mark = vs_arena_mark(f->arena);
    vs_tensor mod, h, q, k, v, a;
    VS_TRY(modulation(f, &f->silu_temb, &b->mod, 3, &mod));
    vs_tensor shift = vs_adaln_chunk(&mod, 0), scale = vs_adaln_chunk(&mod, 1),
              gate = vs_adaln_chunk(&mod, 2);
    VS_TRY(TAKE(f->arena, act, &h, 1, T, D));
    VS_TRY(vs_op_layernorm_modulate(&h, &f->x, NULL, NULL, &shift, &scale, eps));

    /* attention and MLP read the same h; proj_out's two column blocks add each into the stream */
    const size_t attn_mark = vs_arena_mark(f->arena);
    VS_TRY(TAKE(f->arena, act, &q, 1, T, D));
    VS_TRY(TAKE(f->arena, act, &k, 1, T, D));
    VS_TRY(TAKE(f->arena, act, &v, 1, T, D));
    VS_TRY(TAKE(f->arena, act, &a, 1, T, D));
    VS_TRY(project_qkv(&h, &b->q, &b->k, &b->v, &q, &k, &v));
    vs_tensor q_v = tokens(&q, 0, N), k_v = tokens(&k, 0, N), q_t = tokens(&q, N, L), k_t = tokens(&k, N, L);
    VS_TRY(qk_norm(f, &q_v, &k_v, &b->norm_q, &b->norm_k, 1));
    VS_TRY(qk_norm(f, &q_t, &k_t, &b->norm_q, &b->norm_k, 0));
    VS_TRY(joint_attention(f, layer, &q, &k, &v, &a));
    VS_TRY(vs_op_linear_residual(&f->x, &a, &b->out_attn.weight, &b->out_attn.bias, &gate));
    vs_arena_release(f->arena, attn_mark);
    VS_TRY(mlp_residual(f, &f->x, &h, &b->mlp_in, &b->out_mlp, &gate));
    vs_arena_release(f->arena, mark);
    return probe_point(f, "single", index, &f->x);
}

/* One batch entry: latents [1, C, F, H, W], its valid text [1, L, text_dim] and the text's mean
 * [1, text_dim] (both F32 on the device), pooled [1, P] F32 on the device; out [1, C', F, H, W]. */
static vs_status forward_entry(forward_state *f, const vs_tensor *latents, float t, const float *guidance,
                               const vs_tensor *text, const vs_tensor *text_mean, const vs_tensor *pooled,
                               vs_tensor *out) {
    const vs_hunyuan_config *c = f->c;
    const vs_hunyuan_weights *w = f->w;
    const int *p = c->patch_size;
    const int64_t N = f->N, L = f->L, D = c->dim, vol = (int64_t)p[0] * p[1] * p[2];
    const vs_dtype act = vs_joint_dit_act_dtype(f->dev);
    VS_TRY(TAKE(f->arena, VS_F32, &f->x, 1, N + L, D));
    VS_TRY(embed_conditions(f, t, guidance, pooled));
    VS_TRY(refine_text(f, t, text, text_mean));

    /* video tokens: x = Conv3d_patch(latents), kept in f32 */
    size_t mark = vs_arena_mark(f->arena);
    vs_tensor patches, x_act, x_v = tokens(&f->x, 0, N);
    VS_TRY(TAKE(f->arena, act, &patches, 1, N, c->in_channels * vol));
    VS_TRY(TAKE(f->arena, act, &x_act, 1, N, D));
    VS_TRY(vs_op_patchify(&patches, latents, p));
    VS_TRY(vs_op_linear(&x_act, &patches, &w->patch_embed.weight, &w->patch_embed.bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_op_convert(&x_v, &x_act));
    vs_arena_release(f->arena, mark);
    VS_TRY(probe_point(f, "tokens", -1, &x_v));

    for (int i = 0; i < c->num_layers; i++) {
        vs_status s = dual_block(f, &w->dual[i], i);
        if (s != VS_OK) return vs_fail_context(s, "HunyuanVideo dual-stream block %d", i);
    }
    for (int i = 0; i < c->num_single_layers; i++) {
        vs_status s = single_block(f, &w->single[i], i, c->num_layers + i);
        if (s != VS_OK) return vs_fail_context(s, "HunyuanVideo single-stream block %d", i);
    }

    /* output: (scale, shift) = Linear(silu(temb)) (AdaLayerNormContinuous: scale first), the video tokens
     * only */
    vs_tensor mod, h, y;
    VS_TRY(modulation(f, &f->silu_temb, &w->norm_out, 2, &mod));
    vs_tensor scale = vs_adaln_chunk(&mod, 0), shift = vs_adaln_chunk(&mod, 1);
    VS_TRY(TAKE(f->arena, act, &h, 1, N, D));
    VS_TRY(TAKE(f->arena, act, &y, 1, N, c->out_channels * vol));
    VS_TRY(vs_op_layernorm_modulate(&h, &x_v, NULL, NULL, &shift, &scale, 1e-6f));
    VS_TRY(probe_point(f, "norm_out", -1, &h));
    VS_TRY(vs_op_linear(&y, &h, &w->proj_out.weight, &w->proj_out.bias, VS_EPILOGUE_NONE));
    return vs_op_unpatchify(out, &y, p);
}

/* Arena bytes of one entry's forward: the persistent tensors (the stream, copies of host inputs and
 * output) plus the largest phase (the allocations of forward_entry and the functions it calls), with
 * room for the small ones. */
static size_t forward_bytes(const vs_hunyuan_config *c, vs_device dev, int64_t N, int64_t L) {
    const int64_t T = N + L, D = c->dim, act = (int64_t)vs_dtype_size(vs_joint_dit_act_dtype(dev));
    const int64_t vol = (int64_t)c->patch_size[0] * c->patch_size[1] * c->patch_size[2];
    const size_t small = 64 * vs_joint_dit_aligned((int64_t)6 * D * 4); /* embeddings, modulations, sinusoids */
    const size_t io = vs_joint_dit_aligned(N * vol * c->in_channels * 4) + vs_joint_dit_aligned(N * vol * c->out_channels * 4) +
                      vs_joint_dit_aligned(L * c->text_dim * 4) + 2 * vs_joint_dit_aligned((int64_t)(c->text_dim + c->pooled_dim) * 4);
    const size_t persistent = vs_joint_dit_aligned(T * D * 4) + io + small;
    size_t phase = 2 * vs_joint_dit_aligned(L * D * act) + vs_joint_dit_aligned(L * c->text_dim * act); /* refiner input */
    phase = vs_joint_dit_max_size(phase, 5 * vs_joint_dit_aligned(L * D * act) + vs_joint_dit_aligned(L * c->refiner_mlp_dim * act)); /* refiner */
    phase = vs_joint_dit_max_size(phase, vs_joint_dit_aligned(N * c->in_channels * vol * act) + vs_joint_dit_aligned(N * D * act));   /* patches */
    const int64_t chunk = vs_joint_dit_min64(T, vs_joint_dit_mlp_chunk_rows(dev));
    phase = vs_joint_dit_max_size(phase, 5 * vs_joint_dit_aligned(T * D * act) + vs_joint_dit_aligned(chunk * c->mlp_dim * act));    /* blocks */
    phase = vs_joint_dit_max_size(phase, vs_joint_dit_aligned(N * D * act) + vs_joint_dit_aligned(N * c->out_channels * vol * act)); /* output */
    return persistent + phase + small;
}

/* Brings the cache to this entry's shape: arena, RoPE tables, sparse attention, timer. */
static vs_status prepare_cache(const vs_hunyuan_model *m, const int grid[3], int64_t L) {
    const vs_hunyuan_config *c = &m->config;
    const int64_t N = (int64_t)grid[0] * grid[1] * grid[2];
    const int layers = c->num_layers + c->num_single_layers;
    vs_joint_dit_shape shape = {m->device, "HunyuanVideo", forward_bytes(c, m->device, N, L), c->rope_axes,
                                c->rope_theta, {grid[0], grid[1], grid[2]}, (int)L, c->num_heads, c->head_dim,
                                layers, 2 * (layers + c->num_refiner_layers)};
    return vs_joint_dit_prepare(&m->cache->joint, &shape);
}

static vs_status check_tensor(const vs_hunyuan_model *m, const vs_tensor *t, const char *name, vs_dtype dtype,
                              int rank) {
    if (!t || !t->data || t->dtype != dtype || t->ndim != rank || !vs_tensor_is_contiguous(t) ||
        (t->device != VS_CPU && t->device != m->device))
        return vs_fail(VS_ERR_SHAPE,
                       "HunyuanVideo forward: %s must be a contiguous %s tensor of rank %d on the CPU%s",
                       name, vs_dtype_name(dtype), rank, m->device == VS_CPU ? "" : " or the model's GPU");
    return VS_OK;
}

static vs_status check_inputs(const vs_hunyuan_model *m, const vs_hunyuan_input *in, const vs_tensor *out) {
    static const char *const axes[3] = {"frames", "height", "width"};
    const vs_hunyuan_config *c = &m->config;
    if (!in || !in->timesteps)
        return vs_fail(VS_ERR_INVALID_ARG, "HunyuanVideo forward: timesteps are required");
    if (c->guidance_embeds && !in->guidance)
        return vs_fail(VS_ERR_INVALID_ARG, "HunyuanVideo forward: this model embeds the guidance scale; give "
                                           "guidance (guidance_scale x 1000) per batch entry");
    VS_TRY(check_tensor(m, in->latents, "latents", VS_F32, 5));
    VS_TRY(check_tensor(m, in->text, "text embeddings", VS_F32, 3));
    VS_TRY(check_tensor(m, in->pooled, "pooled text embeddings", VS_F32, 2));
    VS_TRY(check_tensor(m, out, "output", VS_F32, 5));
    if (in->text_mask) VS_TRY(check_tensor(m, in->text_mask, "text mask", VS_I32, 2));
    const int64_t *s = in->latents->shape, B = s[0];
    if (B < 1 || s[1] != c->in_channels)
        return vs_fail(VS_ERR_SHAPE, "HunyuanVideo forward: latents have %lld channels, the model takes %d",
                       (long long)s[1], c->in_channels);
    for (int i = 0; i < 3; i++)
        if (s[2 + i] < 1 || s[2 + i] % c->patch_size[i])
            return vs_fail(
                VS_ERR_SHAPE,
                "HunyuanVideo forward: latent %s %lld is not a positive multiple of the patch size %d",
                axes[i], (long long)s[2 + i], c->patch_size[i]);
    const vs_tensor *text = in->text;
    if (text->shape[0] != B || text->shape[2] != c->text_dim || text->shape[1] < 1)
        return vs_fail(
            VS_ERR_SHAPE,
            "HunyuanVideo forward: text embeddings [%lld, %lld, %lld] do not fit a batch of %lld and "
            "text_embed_dim %d",
            (long long)text->shape[0], (long long)text->shape[1], (long long)text->shape[2], (long long)B,
            c->text_dim);
    if (in->pooled->shape[0] != B || in->pooled->shape[1] != c->pooled_dim)
        return vs_fail(VS_ERR_SHAPE, "HunyuanVideo forward: pooled embeddings must be [%lld, %d]",
                       (long long)B, c->pooled_dim);
    if (in->text_mask && (in->text_mask->shape[0] != B || in->text_mask->shape[1] != text->shape[1]))
        return vs_fail(VS_ERR_SHAPE, "HunyuanVideo forward: the text mask must be [%lld, %lld]", (long long)B,
                       (long long)text->shape[1]);
    if (out->shape[0] != B || out->shape[1] != c->out_channels || out->shape[2] != s[2] ||
        out->shape[3] != s[3] || out->shape[4] != s[4])
        return vs_fail(VS_ERR_SHAPE, "HunyuanVideo forward: output must be [%lld, %d, %lld, %lld, %lld]",
                       (long long)B, c->out_channels, (long long)s[2], (long long)s[3], (long long)s[4]);
    const int64_t video = s[2] / c->patch_size[0] * (s[3] / c->patch_size[1]) * (s[4] / c->patch_size[2]);
    if (video + text->shape[1] > INT32_MAX / 2)
        return vs_fail(VS_ERR_SHAPE, "HunyuanVideo forward: %lld tokens is too many", (long long)video);
    return VS_OK;
}

/* Valid text tokens of each entry: the mask's leading ones (the pipeline pads at the end, and
 * diffusers' joint attention counts them so). */
static vs_status valid_lengths(const vs_tensor *mask, int64_t B, int64_t L, int64_t *valid) {
    if (!mask) {
        for (int64_t b = 0; b < B; b++)
            valid[b] = L;
        return VS_OK;
    }
    int32_t *host = malloc((size_t)(B * L) * sizeof *host);
    if (!host) return vs_fail(VS_ERR_OOM, "out of memory");
    vs_tensor h = vs_tensor_view(host, VS_I32, VS_CPU, 2, (int64_t[]){B, L});
    vs_status s = mask->device == VS_CPU ? VS_OK : vs_op_copy(&h, mask);
    const int32_t *m = mask->device == VS_CPU ? mask->data : host;
    for (int64_t b = 0; s == VS_OK && b < B; b++) {
        int64_t n = 0;
        while (n < L && m[b * L + n])
            n++;
        for (int64_t j = n; j < L && s == VS_OK; j++)
            if (m[b * L + j])
                s = vs_fail(VS_ERR_INVALID_ARG,
                            "HunyuanVideo forward: text mask row %lld has a valid token after "
                            "padding (position %lld): padding must come last",
                            (long long)b, (long long)j);
        if (s == VS_OK && n == 0)
            s = vs_fail(VS_ERR_INVALID_ARG, "HunyuanVideo forward: text mask row %lld has no valid token",
                        (long long)b);
        valid[b] = n;
    }
    free(host);
    return s;
}

static vs_tensor entry(const vs_tensor *t, int64_t b, int64_t rows) {
    return vs_joint_dit_entry(t, b, rows);
}
/* The mean of the valid text rows [rows, dim] (f32, on the host or the device) into mean [1, dim] on the
 * device. */
static vs_status text_mean(const vs_tensor *text, vs_tensor *mean) {
    const int64_t rows = text->shape[1], dim = text->shape[2];
    float *host = malloc((size_t)((text->device == VS_CPU ? 0 : rows * dim) + dim) * sizeof(float));
    if (!host) return vs_fail(VS_ERR_OOM, "out of memory");
    float *acc = host, *copy = host + dim;
    vs_status s = VS_OK;
    const float *t = text->data;
    if (text->device != VS_CPU) {
        vs_tensor h = vs_tensor_view(copy, VS_F32, VS_CPU, 3, text->shape);
        s = vs_op_copy(&h, text);
        t = copy;
    }
    for (int64_t j = 0; j < dim; j++)
        acc[j] = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < dim; j++)
            acc[j] += t[r * dim + j];
    for (int64_t j = 0; j < dim; j++)
        acc[j] /= (float)rows;
    const vs_tensor h = vs_tensor_view(acc, VS_F32, VS_CPU, 2, (int64_t[]){1, dim});
    if (s == VS_OK) s = vs_op_copy(mean, &h);
    free(host);
    return s;
}

/* An entry's f32 tensor where the model computes: itself, or a copy in the arena. */
static vs_status on_device(forward_state *f, const vs_tensor *t, vs_tensor *out) {
    if (t->device == f->dev) {
        *out = *t;
        return VS_OK;
    }
    VS_TRY(take(f->arena, t->dtype, t->ndim, t->shape, out));
    return vs_op_copy(out, t);
}

static vs_status run_entry(const vs_hunyuan_model *m, forward_state *f, const vs_hunyuan_input *in, int64_t b,
                           int64_t L, vs_tensor *out) {
    vs_tensor lat_b = entry(in->latents, b, 0), text_b = entry(in->text, b, L),
              pooled_b = entry(in->pooled, b, 0);
    vs_tensor out_b = entry(out, b, 0), lat, text, pooled, mean, out_d;
    VS_TRY(on_device(f, &lat_b, &lat));
    VS_TRY(on_device(f, &text_b, &text));
    VS_TRY(on_device(f, &pooled_b, &pooled));
    VS_TRY(TAKE(f->arena, VS_F32, &mean, 1, m->config.text_dim));
    VS_TRY(text_mean(&text_b, &mean));
    out_d = out_b;
    if (out->device != f->dev) VS_TRY(take(f->arena, VS_F32, 5, out_b.shape, &out_d));
    VS_TRY(forward_entry(f, &lat, in->timesteps[b], in->guidance ? &in->guidance[b] : NULL, &text, &mean,
                         &pooled, &out_d));
    if (out->device != f->dev) VS_TRY(vs_op_copy(&out_b, &out_d));
    return vs_op_sync(f->dev);
}

vs_status vs_hunyuan_forward(const vs_hunyuan_model *model, const vs_hunyuan_input *in, vs_tensor *out,
                             vs_dit_timing *timing) {
    VS_TRY(check_inputs(model, in, out));
    const vs_hunyuan_config *c = &model->config;
    const int64_t B = in->latents->shape[0], L = in->text->shape[1];
    int64_t *valid = malloc((size_t)B * sizeof *valid);
    if (!valid) return vs_fail(VS_ERR_OOM, "out of memory");
    vs_status st = valid_lengths(in->text_mask, B, L, valid);
    const double start = now_s();
    vs_dit_timing sum = {0};
    for (int64_t b = 0; st == VS_OK && b < B; b++) {
        forward_state f;
        memset(&f, 0, sizeof f);
        f.c = c, f.w = &model->weights, f.dev = model->device, f.step = in->step, f.num_steps = in->num_steps;
        for (int i = 0; i < 3; i++)
            f.grid[i] = (int)(in->latents->shape[2 + i] / c->patch_size[i]);
        f.N = (int64_t)f.grid[0] * f.grid[1] * f.grid[2], f.L = valid[b];
        st = vs_ulysses_init(&f.seq, NULL, 1, f.N + f.L, c->num_heads, c->head_dim);
        if (st == VS_OK) st = prepare_cache(model, f.grid, f.L);
        if (st != VS_OK) break;
        vs_joint_dit_cache *cache = &model->cache->joint;
        f.arena = cache->arena, f.rope_cos = &cache->rope_cos, f.rope_sin = &cache->rope_sin;
        f.attention = cache->sparse, f.clock.timer = cache->timer;
        f.probe = model->probe, f.probe_user = model->probe_user;
        vs_arena_reset(f.arena);
        st = run_entry(model, &f, in, b, f.L, out);
        /* collect (and clear) the attention intervals and head counts even after a failure */
        double attention_s;
        vs_sparse_stats stats;
        st = vs_joint_dit_collect(&f.clock, f.attention, st, &attention_s, &stats);
        sum.attention_s += attention_s;
        sum.heads_spatial += stats.heads_spatial, sum.heads_temporal += stats.heads_temporal;
        sum.selected_calls += stats.selected_calls;
        sum.selected_density_sum += stats.density * (double)stats.selected_calls;
    }
    free(valid);
    if (timing && st == VS_OK) {
        timing->attention_s += sum.attention_s;
        timing->total_s += now_s() - start;
        timing->heads_spatial += sum.heads_spatial, timing->heads_temporal += sum.heads_temporal;
        timing->selected_calls += sum.selected_calls, timing->selected_density_sum += sum.selected_density_sum;
    }
    return st;
}

/* ---- TeaCache's signal and fit (step caching, pipeline/cache.h) ---------------------------------------- */

/* One entry's signal: LN(Conv3d_patch(latents)) * (1 + scale) + shift, (shift, scale) the first two chunks of
 * the first dual-stream block's video modulation, as that block computes it; into `signal` [N * dim], on the
 * model's device in its activation dtype (the step cache reduces it there: no copy to the host). */
static vs_status teacache_entry(forward_state *f, const vs_tensor *latents, float t, const float *guidance,
                                const vs_tensor *pooled, void *signal) {
    const vs_hunyuan_config *c = f->c;
    const int *p = c->patch_size;
    const int64_t N = f->N, D = c->dim, vol = (int64_t)p[0] * p[1] * p[2];
    const vs_dtype act = vs_joint_dit_act_dtype(f->dev);
    vs_tensor lat, pooled_d, mod, patches, x_act, x, h;
    VS_TRY(on_device(f, latents, &lat));
    VS_TRY(on_device(f, pooled, &pooled_d));
    VS_TRY(embed_conditions(f, t, guidance, &pooled_d));
    VS_TRY(modulation(f, &f->silu_temb, &f->w->dual[0].mod, 6, &mod));
    vs_tensor shift = vs_adaln_chunk(&mod, 0), scale = vs_adaln_chunk(&mod, 1);
    VS_TRY(TAKE(f->arena, act, &patches, 1, N, c->in_channels * vol));
    VS_TRY(TAKE(f->arena, act, &x_act, 1, N, D));
    VS_TRY(TAKE(f->arena, VS_F32, &x, 1, N, D));
    VS_TRY(vs_op_patchify(&patches, &lat, p));
    VS_TRY(vs_op_linear(&x_act, &patches, &f->w->patch_embed.weight, &f->w->patch_embed.bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_op_convert(&x, &x_act));
    h = vs_tensor_view(signal, act, f->dev, 3, (int64_t[]){1, N, D});
    return vs_op_layernorm_modulate(&h, &x, NULL, NULL, &shift, &scale, 1e-6f);
}

vs_status vs_hunyuan_teacache_signal(const vs_hunyuan_model *m, const vs_hunyuan_input *in, vs_tensor *signal) {
    const vs_hunyuan_config *c = &m->config;
    if (!in || !in->timesteps || (c->guidance_embeds && !in->guidance))
        return vs_fail(VS_ERR_INVALID_ARG, "HunyuanVideo TeaCache signal: needs the timesteps%s",
                       c->guidance_embeds ? " and the embedded guidance" : "");
    VS_TRY(check_tensor(m, in->latents, "latents", VS_F32, 5));
    VS_TRY(check_tensor(m, in->pooled, "pooled text embeddings", VS_F32, 2));
    const int64_t *s = in->latents->shape, B = s[0];
    if (B < 1 || s[1] != c->in_channels || in->pooled->shape[0] != B || in->pooled->shape[1] != c->pooled_dim)
        return vs_fail(VS_ERR_SHAPE, "HunyuanVideo TeaCache signal: latents [%lld, %lld, ...] and pooled [%lld, %lld] "
                       "do not fit the model (%d channels, pooled %d)", (long long)s[0], (long long)s[1],
                       (long long)in->pooled->shape[0], (long long)in->pooled->shape[1], c->in_channels, c->pooled_dim);
    forward_state f;
    memset(&f, 0, sizeof f);
    f.c = c, f.w = &m->weights, f.dev = m->device;
    for (int i = 0; i < 3; i++) {
        if (s[2 + i] < 1 || s[2 + i] % c->patch_size[i])
            return vs_fail(VS_ERR_SHAPE, "HunyuanVideo TeaCache signal: latent size %lld is not a multiple of the "
                           "patch size %d", (long long)s[2 + i], c->patch_size[i]);
        f.grid[i] = (int)(s[2 + i] / c->patch_size[i]);
    }
    f.N = (int64_t)f.grid[0] * f.grid[1] * f.grid[2];
    const int64_t N = f.N, D = c->dim, act = (int64_t)vs_dtype_size(vs_joint_dit_act_dtype(m->device)),
                  vol = (int64_t)c->patch_size[0] * c->patch_size[1] * c->patch_size[2];
    /* the forward's arena when it is large enough (it is reset at every forward), else one of this size */
    const size_t bytes = vs_joint_dit_aligned(N * vol * c->in_channels * 4) + vs_joint_dit_aligned((int64_t)c->pooled_dim * 4) +
                         vs_joint_dit_aligned(N * vol * c->in_channels * act) + vs_joint_dit_aligned(N * D * act) +
                         vs_joint_dit_aligned(N * D * 4) + 64 * vs_joint_dit_aligned((int64_t)6 * D * 4);
    vs_arena *own = NULL;
    f.arena = m->cache->joint.arena;
    if (!f.arena || vs_arena_capacity(f.arena) < bytes) {
        VS_TRY(vs_arena_create(&own, "HunyuanVideo TeaCache signal", m->device, bytes));
        f.arena = own;
    }
    const vs_dtype dtype = vs_joint_dit_act_dtype(m->device);
    vs_status st = vs_tensor_alloc(signal, dtype, m->device, 1, (int64_t[]){B * N * D});
    for (int64_t b = 0; st == VS_OK && b < B; b++) {
        vs_arena_reset(f.arena);
        const vs_tensor lat_b = entry(in->latents, b, 0), pooled_b = entry(in->pooled, b, 0);
        st = teacache_entry(&f, &lat_b, in->timesteps[b], in->guidance ? &in->guidance[b] : NULL, &pooled_b,
                            (char *)signal->data + b * N * D * (int64_t)vs_dtype_size(dtype));
    }
    if (st == VS_OK) st = vs_op_sync(m->device);
    vs_arena_free(own);
    if (st != VS_OK) vs_tensor_free(signal);
    return st;
}

/* TeaCache's fit for HunyuanVideo T2V (TeaCache4HunyuanVideo/teacache_sample_video.py: its coefficients, and
 * its threshold 0.15, "0.1 for 1.6x speedup, 0.15 for 2.1x"), for the released checkpoint's shape. */
vs_status vs_hunyuan_teacache_fit(const vs_hunyuan_config *c, vs_teacache_fit *out) {
    static const vs_teacache_fit fit = {
        "HunyuanVideo T2V", {7.33226126e+02, -4.01131952e+02, 6.75869174e+01, -3.14987800e+00, 9.61237896e-02}, 0.15};
    if (c->dim != 3072 || c->num_layers != 20 || c->num_single_layers != 40 || c->in_channels != 16)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "teacache has published coefficients for HunyuanVideo T2V (dim 3072, 20 + 40 layers) only, not "
                       "for this HunyuanVideo DiT (dim %d, %d + %d layers, %d input channels)",
                       c->dim, c->num_layers, c->num_single_layers, c->in_channels);
    *out = fit;
    return VS_OK;
}

vs_status vs_hunyuan_dit_teacache(void *model, const vs_dit_input *in, vs_tensor *signal, vs_teacache_fit *fit) {
    const vs_hunyuan_model *m = model;
    if (fit) VS_TRY(vs_hunyuan_teacache_fit(&m->config, fit));
    if (!signal) return VS_OK;
    if (!in->latents) return vs_fail(VS_ERR_INVALID_ARG, "HunyuanVideo TeaCache signal: needs the latents");
    const int64_t B = in->latents->shape[0];
    float *guidance = NULL;
    if (!in->guidance && m->config.guidance_embeds) { /* family.c's dit_forward does the same */
        if (!(guidance = malloc((size_t)B * sizeof *guidance))) return vs_fail(VS_ERR_OOM, "out of memory");
        for (int64_t b = 0; b < B; b++) guidance[b] = VS_HUNYUAN_DEFAULT_GUIDANCE;
    }
    const vs_hunyuan_input input = {in->latents, in->timesteps, in->guidance ? in->guidance : guidance, in->text,
                                    in->text_mask, in->pooled, in->step, in->num_steps};
    vs_status s = vs_hunyuan_teacache_signal(m, &input, signal);
    free(guidance);
    return s;
}
