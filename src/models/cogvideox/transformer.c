#include "models/common/component.h"
#include "models/cogvideox/transformer.h"

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

/* ---- loading -------------------------------------------------------------------------- */

static vs_status model_new(vs_device device, vs_cogvideox_model **out) {
    vs_cogvideox_model *m = calloc(1, sizeof *m);
    if (!m || !(m->cache = calloc(1, sizeof *m->cache))) {
        free(m);
        return vs_fail(VS_ERR_OOM, "out of memory");
    }
    m->device = device;
    *out = m;
    return VS_OK;
}

vs_status vs_cogvideox_model_load(const char *path, vs_device device, vs_cogvideox_model **out) {
    *out = NULL;
    vs_component_path where;
    VS_TRY(vs_component_find(path, "transformer", "a CogVideoX model", &where));
    const char *dir = where.dir, *config_path = where.config;
    vs_cogvideox_model *m = NULL;
    VS_TRY(model_new(device, &m));
    vs_safetensors *st = NULL;
    vs_status s = vs_cogvideox_config_load(config_path, &m->config);
    if (s == VS_OK) s = vs_safetensors_open(&st, dir);
    if (s == VS_OK)
        s = vs_cogvideox_weights_load(&m->config, st, device == VS_CPU ? VS_F32 : VS_BF16, device, &m->weights);
    vs_safetensors_close(st);
    if (s != VS_OK) {
        vs_cogvideox_model_free(m);
        return vs_fail_context(s, "loading the CogVideoX transformer from %s", dir);
    }
    const vs_cogvideox_config *c = &m->config;
    VS_INFO("CogVideoX DiT: %d blocks, dim %d (%d heads x %d), %d input channels%s", c->num_layers, c->dim,
            c->num_heads, c->head_dim, c->in_channels, c->ofs_embed_dim ? ", ofs embedding (image-to-video)" : "");
    *out = m;
    return VS_OK;
}

vs_status vs_cogvideox_model_random(const vs_cogvideox_config *config, vs_device device, uint64_t seed,
                                    vs_cogvideox_model **out) {
    *out = NULL;
    vs_cogvideox_model *m = NULL;
    VS_TRY(model_new(device, &m));
    m->config = *config;
    vs_status s =
        vs_cogvideox_weights_random(config, device == VS_CPU ? VS_F32 : VS_BF16, device, seed, &m->weights);
    if (s == VS_OK) s = vs_op_sync(device);
    if (s != VS_OK) {
        vs_cogvideox_model_free(m);
        return vs_fail_context(s, "random CogVideoX transformer (dim %d, %d blocks)", config->dim,
                               config->num_layers);
    }
    *out = m;
    return VS_OK;
}

void vs_cogvideox_model_free(vs_cogvideox_model *model) {
    if (!model) return;
    if (model->cache) vs_joint_dit_cache_release(model->cache);
    free(model->cache);
    vs_cogvideox_weights_free(&model->weights);
    free(model);
}

void vs_cogvideox_model_set_probe(vs_cogvideox_model *m, vs_cogvideox_probe_fn fn, void *user) {
    m->probe = fn;
    m->probe_user = user;
}

vs_attention_params vs_cogvideox_svg_defaults(void) {
    return (vs_attention_params){.method = "svg", .density = 0.25, .dense_steps = 0.2, .dense_layers = 0.025};
}

vs_status vs_cogvideox_model_set_attention(vs_cogvideox_model *model, const vs_attention_params *params) {
    return vs_joint_dit_set_attention(model->cache, params, "CogVideoX");
}

/* ---- one batch entry's forward ---------------------------------------------------------------- */


typedef struct {
    const vs_cogvideox_config *c;
    const vs_cogvideox_weights *w;
    vs_device dev;
    vs_arena *arena;
    int grid[3];         /* F, H, W after patching */
    int64_t N, L;        /* video tokens, text tokens */
    vs_tensor x;         /* the residual stream F32 [1, N + L, dim]: video, then text */
    vs_tensor silu_temb; /* F32 [1, time_embed_dim]: what every modulation reads */
    const vs_tensor *rope_cos, *rope_sin;
    vs_sparse_attention *attention;
    vs_ulysses seq; /* one rank: the shape vs_dit_self_attention takes */
    int step, num_steps;
    vs_attention_clock clock;
    vs_cogvideox_probe_fn probe;
    void *probe_user;
} forward_state;

static vs_status take(vs_arena *arena, vs_dtype dtype, int ndim, const int64_t *shape, vs_tensor *out) {
    return vs_arena_tensor(arena, dtype, ndim, shape, out);
}
#define TAKE(arena, dtype, out, ...)                                                                               \
    take(arena, dtype, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}, out)

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

static const vs_tensor *bias_of(const vs_cogvideox_linear *l) {
    return l->bias.data ? &l->bias : NULL;
}

/* out [1, T] = linear_2(silu(linear_1(sin_dim(value)))), F32 (Timesteps + TimestepEmbedding). */
static vs_status embed_value(forward_state *f, float value, int dim, const vs_cogvideox_linear *in,
                             const vs_cogvideox_linear *out_l, vs_tensor *out) {
    const size_t mark = vs_arena_mark(f->arena);
    float *host = malloc((size_t)dim * sizeof *host);
    if (!host) return vs_fail(VS_ERR_OOM, "out of memory");
    vs_timestep_embedding(host, value, dim);
    vs_tensor sin_d, hidden;
    vs_status s = TAKE(f->arena, VS_F32, &sin_d, 1, dim);
    if (s == VS_OK) {
        const vs_tensor h = vs_tensor_view(host, VS_F32, VS_CPU, 2, (int64_t[]){1, dim});
        s = vs_op_copy(&sin_d, &h);
    }
    free(host);
    VS_TRY(s);
    VS_TRY(TAKE(f->arena, VS_F32, &hidden, 1, in->weight.shape[0]));
    VS_TRY(vs_op_linear(&hidden, &sin_d, &in->weight, bias_of(in), VS_EPILOGUE_SILU));
    VS_TRY(vs_op_linear(out, &hidden, &out_l->weight, bias_of(out_l), VS_EPILOGUE_NONE));
    vs_arena_release(f->arena, mark);
    return VS_OK;
}

/* temb = time(sin(t)) (+ ofs(sin(ofs))); silu_temb = silu(temb). */
static vs_status embed_conditions(forward_state *f, float t, float ofs) {
    const vs_cogvideox_config *c = f->c;
    const int64_t T = c->time_embed_dim;
    vs_tensor temb, part;
    VS_TRY(TAKE(f->arena, VS_F32, &temb, 1, T));
    VS_TRY(TAKE(f->arena, VS_F32, &f->silu_temb, 1, T));
    const size_t mark = vs_arena_mark(f->arena);
    VS_TRY(embed_value(f, t, c->dim, &f->w->time_in, &f->w->time_out, &temb));
    if (c->ofs_embed_dim) {
        VS_TRY(TAKE(f->arena, VS_F32, &part, 1, T));
        VS_TRY(embed_value(f, ofs, c->ofs_embed_dim, &f->w->ofs_in, &f->w->ofs_out, &part));
        VS_TRY(vs_op_add(&temb, &temb, &part));
    }
    VS_TRY(vs_op_silu(&f->silu_temb, &temb));
    VS_TRY(probe_point(f, "temb", -1, &temb));
    vs_arena_release(f->arena, mark);
    return VS_OK;
}

/* mod [1, K, dim] F32 = Linear(silu(temb)): K modulation chunks. */
static vs_status modulation(forward_state *f, const vs_cogvideox_linear *l, int K, vs_tensor *mod) {
    const int64_t D = f->c->dim;
    VS_TRY(TAKE(f->arena, VS_F32, mod, 1, K, D));
    vs_tensor flat = vs_tensor_view(mod->data, VS_F32, f->dev, 2, (int64_t[]){1, K * D});
    return vs_op_linear(&flat, &f->silu_temb, &l->weight, bias_of(l), VS_EPILOGUE_NONE);
}

/* CogVideoXLayerNormZero into h: the video rows with chunks (0, 1) = (shift, scale) of mod, the text rows
 * with chunks (3, 4); chunks 2 and 5 are the gates. */
static vs_status expert_norm(forward_state *f, const vs_cogvideox_norm *n, const vs_tensor *mod, vs_tensor *h) {
    const float eps = (float)f->c->norm_eps;
    vs_tensor x_v = tokens(&f->x, 0, f->N), x_t = tokens(&f->x, f->N, f->L);
    vs_tensor h_v = tokens(h, 0, f->N), h_t = tokens(h, f->N, f->L);
    vs_tensor shift = vs_adaln_chunk(mod, 0), scale = vs_adaln_chunk(mod, 1);
    vs_tensor c_shift = vs_adaln_chunk(mod, 3), c_scale = vs_adaln_chunk(mod, 4);
    VS_TRY(vs_op_layernorm_modulate(&h_v, &x_v, &n->weight, &n->bias, &shift, &scale, eps));
    return vs_op_layernorm_modulate(&h_t, &x_t, &n->weight, &n->bias, &c_shift, &c_scale, eps);
}

/* In place on t [1, T, heads * head_dim] (q or k): LayerNorm of each head (eps 1e-6, one affine [head_dim]
 * for all heads), then RoPE on the video rows; one pass over each region (the text rows are not rotated). */
static vs_status head_norm_rope(forward_state *f, vs_tensor *t, const vs_cogvideox_norm *n) {
    const int H = f->c->num_heads;
    vs_tensor video = tokens(t, 0, f->N), text = tokens(t, f->N, f->L);
    VS_TRY(vs_op_qk_norm_rope(&video, &n->weight, &n->bias, f->rope_cos, f->rope_sin, H, 1e-6f));
    return vs_op_qk_norm_rope(&text, &n->weight, &n->bias, NULL, NULL, H, 1e-6f);
}

/* Joint attention of q, k, v [1, T, dim] into a: dense (one op call), or through the sparse method with its
 * warm-up (one rank: the exchange's scratch buffer is never used, so none is passed). */
static vs_status joint_attention(forward_state *f, int layer, vs_tensor *q, vs_tensor *k, vs_tensor *v,
                                 vs_tensor *a) {
    if (f->attention)
        return vs_dit_self_attention(&f->seq, f->arena, f->attention, layer, f->step, f->num_steps, q, k, v, NULL,
                                     a, &f->clock);
    const int H = f->c->num_heads;
    vs_tensor q4 = vs_heads_view(q, H), k4 = vs_heads_view(k, H), v4 = vs_heads_view(v, H), a4 = vs_heads_view(a, H);
    VS_TRY(vs_attention_clock_start(&f->clock));
    VS_TRY(vs_op_attention(&a4, &q4, &k4, &v4));
    return vs_attention_clock_stop(&f->clock);
}

/* x_rows += gate * ff_out(gelu_tanh(ff_in(h_rows))) over the rows in chunks. */
static vs_status ffn_residual(forward_state *f, vs_tensor *x, const vs_tensor *h, const vs_cogvideox_block *b,
                              const vs_tensor *gate) {
    const int64_t rows = x->shape[1], chunk = vs_joint_dit_min64(rows, vs_joint_dit_mlp_chunk_rows(f->dev));
    const size_t mark = vs_arena_mark(f->arena);
    vs_tensor hidden;
    VS_TRY(TAKE(f->arena, vs_joint_dit_act_dtype(f->dev), &hidden, 1, chunk, f->c->mlp_dim));
    for (int64_t r = 0; r < rows; r += chunk) {
        const int64_t n = vs_joint_dit_min64(chunk, rows - r);
        vs_tensor hr = tokens(h, r, n), xr = tokens(x, r, n), hid = tokens(&hidden, 0, n);
        VS_TRY(vs_op_linear(&hid, &hr, &b->ff_in.weight, bias_of(&b->ff_in), VS_EPILOGUE_GELU_TANH));
        VS_TRY(vs_op_linear_residual(&xr, &hid, &b->ff_out.weight, bias_of(&b->ff_out), gate));
    }
    vs_arena_release(f->arena, mark);
    return VS_OK;
}

static vs_status block(forward_state *f, const vs_cogvideox_block *b, int layer) {
    const int64_t N = f->N, L = f->L, T = N + L, D = f->c->dim;
    const vs_dtype act = vs_joint_dit_act_dtype(f->dev);
    const size_t mark = vs_arena_mark(f->arena);
    vs_tensor mod, h, q, k, v, a;
    VS_TRY(TAKE(f->arena, act, &h, 1, T, D));
    vs_tensor x_v = tokens(&f->x, 0, N), x_t = tokens(&f->x, N, L);

    /* 1. joint attention: expert-modulated norms, shared projections, per-head LayerNorm, RoPE on video */
    {
        const size_t attn_mark = vs_arena_mark(f->arena);
        VS_TRY(modulation(f, &b->norm1.linear, 6, &mod));
        VS_TRY(expert_norm(f, &b->norm1.norm, &mod, &h));
        VS_TRY(TAKE(f->arena, act, &q, 1, T, D));
        VS_TRY(TAKE(f->arena, act, &k, 1, T, D));
        VS_TRY(TAKE(f->arena, act, &v, 1, T, D));
        VS_TRY(TAKE(f->arena, act, &a, 1, T, D));
        VS_TRY(vs_op_linear(&q, &h, &b->q.weight, bias_of(&b->q), VS_EPILOGUE_NONE));
        VS_TRY(vs_op_linear(&k, &h, &b->k.weight, bias_of(&b->k), VS_EPILOGUE_NONE));
        VS_TRY(vs_op_linear(&v, &h, &b->v.weight, bias_of(&b->v), VS_EPILOGUE_NONE));
        VS_TRY(head_norm_rope(f, &q, &b->norm_q));
        VS_TRY(head_norm_rope(f, &k, &b->norm_k));
        VS_TRY(joint_attention(f, layer, &q, &k, &v, &a));
        vs_tensor a_v = tokens(&a, 0, N), a_t = tokens(&a, N, L);
        vs_tensor gate = vs_adaln_chunk(&mod, 2), c_gate = vs_adaln_chunk(&mod, 5);
        VS_TRY(vs_op_linear_residual(&x_v, &a_v, &b->o.weight, bias_of(&b->o), &gate));
        VS_TRY(vs_op_linear_residual(&x_t, &a_t, &b->o.weight, bias_of(&b->o), &c_gate));
        vs_arena_release(f->arena, attn_mark);
    }

    /* 2. the shared feed-forward on both streams, each with its own modulation and gate */
    VS_TRY(modulation(f, &b->norm2.linear, 6, &mod));
    VS_TRY(expert_norm(f, &b->norm2.norm, &mod, &h));
    vs_tensor h_v = tokens(&h, 0, N), h_t = tokens(&h, N, L);
    vs_tensor gate = vs_adaln_chunk(&mod, 2), c_gate = vs_adaln_chunk(&mod, 5);
    VS_TRY(ffn_residual(f, &x_v, &h_v, b, &gate));
    VS_TRY(ffn_residual(f, &x_t, &h_t, b, &c_gate));
    vs_arena_release(f->arena, mark);
    return probe_point(f, "block", layer, &f->x);
}

/* One batch entry: latents [1, C, F, H, W] and text [1, L, text_dim], F32 on the device; out [1, C', F, H, W]. */
static vs_status forward_entry(forward_state *f, const vs_tensor *latents, float t, float ofs, const vs_tensor *text,
                               vs_tensor *out) {
    const vs_cogvideox_config *c = f->c;
    const vs_cogvideox_weights *w = f->w;
    const int *p = c->patch_size;
    const int64_t N = f->N, L = f->L, D = c->dim, vol = (int64_t)p[0] * p[1] * p[2];
    const vs_dtype act = vs_joint_dit_act_dtype(f->dev);
    const float eps = (float)c->norm_eps;
    VS_TRY(TAKE(f->arena, VS_F32, &f->x, 1, N + L, D));
    VS_TRY(embed_conditions(f, t, ofs));

    /* tokens: video x = Linear(patches), text c = Linear(text), kept in f32 */
    size_t mark = vs_arena_mark(f->arena);
    vs_tensor patches, x_act, text_act, x_v = tokens(&f->x, 0, N), x_t = tokens(&f->x, N, L);
    VS_TRY(TAKE(f->arena, act, &patches, 1, N, c->in_channels * vol));
    VS_TRY(TAKE(f->arena, act, &x_act, 1, N, D));
    VS_TRY(vs_op_patchify(&patches, latents, p));
    VS_TRY(vs_op_linear(&x_act, &patches, &w->patch_embed.weight, bias_of(&w->patch_embed), VS_EPILOGUE_NONE));
    VS_TRY(vs_op_convert(&x_v, &x_act));
    vs_arena_release(f->arena, mark);
    VS_TRY(TAKE(f->arena, act, &text_act, 1, L, c->text_dim));
    VS_TRY(TAKE(f->arena, act, &x_act, 1, L, D));
    VS_TRY(vs_op_convert(&text_act, text));
    VS_TRY(vs_op_linear(&x_act, &text_act, &w->text_proj.weight, bias_of(&w->text_proj), VS_EPILOGUE_NONE));
    VS_TRY(vs_op_convert(&x_t, &x_act));
    vs_arena_release(f->arena, mark);
    VS_TRY(probe_point(f, "tokens", -1, &f->x));

    for (int i = 0; i < c->num_layers; i++) {
        vs_status s = block(f, &w->blocks[i], i);
        if (s != VS_OK) return vs_fail_context(s, "CogVideoX block %d", i);
    }

    /* output: norm_final, then AdaLayerNorm (chunk_dim 1: shift first) over the video tokens only */
    vs_tensor mod, h, y;
    VS_TRY(TAKE(f->arena, VS_F32, &mod, 1, 2, D));
    vs_tensor flat = vs_tensor_view(mod.data, VS_F32, f->dev, 2, (int64_t[]){1, 2 * D});
    VS_TRY(vs_op_linear(&flat, &f->silu_temb, &w->norm_out.weight, bias_of(&w->norm_out), VS_EPILOGUE_NONE));
    vs_tensor shift = vs_adaln_chunk(&mod, 0), scale = vs_adaln_chunk(&mod, 1);
    VS_TRY(TAKE(f->arena, act, &h, 1, N, D));
    VS_TRY(TAKE(f->arena, act, &y, 1, N, c->out_channels * vol));
    VS_TRY(vs_op_layernorm_modulate(&h, &x_v, &w->norm_final.weight, &w->norm_final.bias, NULL, NULL, eps));
    VS_TRY(h.dtype == VS_F32 ? vs_op_copy(&x_v, &h) : vs_op_convert(&x_v, &h)); /* the next norm reads f32 */
    VS_TRY(vs_op_layernorm_modulate(&h, &x_v, &w->norm_out_norm.weight, &w->norm_out_norm.bias, &shift, &scale,
                                    eps));
    VS_TRY(probe_point(f, "norm_out", -1, &h));
    VS_TRY(vs_op_linear(&y, &h, &w->proj_out.weight, bias_of(&w->proj_out), VS_EPILOGUE_NONE));
    return vs_op_unpatchify(out, &y, p);
}

/* Arena bytes of one entry's forward: the persistent tensors (the stream, copies of host inputs and output)
 * plus the largest phase, with room for the small ones. */
static size_t forward_bytes(const vs_cogvideox_config *c, vs_device dev, int64_t N, int64_t L) {
    const int64_t T = N + L, D = c->dim, act = (int64_t)vs_dtype_size(vs_joint_dit_act_dtype(dev));
    const int64_t vol = (int64_t)c->patch_size[0] * c->patch_size[1] * c->patch_size[2];
    const size_t small = 64 * vs_joint_dit_aligned((int64_t)6 * D * 4) + 8 * vs_joint_dit_aligned((int64_t)(D + c->time_embed_dim) * 4);
    const size_t io = vs_joint_dit_aligned(N * vol * c->in_channels * 4) + vs_joint_dit_aligned(N * vol * c->out_channels * 4) +
                      vs_joint_dit_aligned(L * c->text_dim * 4);
    const size_t persistent = vs_joint_dit_aligned(T * D * 4) + io + small;
    size_t phase = vs_joint_dit_aligned(N * c->in_channels * vol * act) + vs_joint_dit_aligned(N * D * act);      /* patches */
    phase = vs_joint_dit_max_size(phase, vs_joint_dit_aligned(L * c->text_dim * act) + vs_joint_dit_aligned(L * D * act));     /* text */
    const size_t attention = 5 * vs_joint_dit_aligned(T * D * act);                                               /* h, q, k, v, a */
    const int64_t chunk = vs_joint_dit_min64(T, vs_joint_dit_mlp_chunk_rows(dev));
    phase = vs_joint_dit_max_size(phase, attention);
    phase = vs_joint_dit_max_size(phase, vs_joint_dit_aligned(T * D * act) + vs_joint_dit_aligned(chunk * c->mlp_dim * act)); /* FFN */
    phase = vs_joint_dit_max_size(phase, vs_joint_dit_aligned(N * D * act) + vs_joint_dit_aligned(N * c->out_channels * vol * act)); /* output */
    return persistent + phase + small;
}

/* Brings the cache to this entry's shape: arena, RoPE tables, sparse attention, timer. */
static vs_status prepare_cache(const vs_cogvideox_model *m, const int grid[3], int64_t L) {
    const vs_cogvideox_config *c = &m->config;
    const int64_t N = (int64_t)grid[0] * grid[1] * grid[2];
    vs_joint_dit_shape shape = {m->device, "CogVideoX", forward_bytes(c, m->device, N, L), c->rope_axes,
                                c->rope_theta, {grid[0], grid[1], grid[2]}, (int)L, c->num_heads, c->head_dim,
                                c->num_layers, 2 * c->num_layers};
    return vs_joint_dit_prepare(m->cache, &shape);
}

static vs_status check_tensor(const vs_cogvideox_model *m, const vs_tensor *t, const char *name, int rank) {
    if (!t || !t->data || t->dtype != VS_F32 || t->ndim != rank || !vs_tensor_is_contiguous(t) ||
        (t->device != VS_CPU && t->device != m->device))
        return vs_fail(VS_ERR_SHAPE, "CogVideoX forward: %s must be a contiguous F32 tensor of rank %d on the CPU%s",
                       name, rank, m->device == VS_CPU ? "" : " or the model's GPU");
    return VS_OK;
}

static vs_status check_inputs(const vs_cogvideox_model *m, const vs_cogvideox_input *in, const vs_tensor *out) {
    static const char *const axes[3] = {"frames", "height", "width"};
    const vs_cogvideox_config *c = &m->config;
    if (!in || !in->timesteps) return vs_fail(VS_ERR_INVALID_ARG, "CogVideoX forward: timesteps are required");
    VS_TRY(check_tensor(m, in->latents, "latents", 5));
    VS_TRY(check_tensor(m, in->text, "text embeddings", 3));
    VS_TRY(check_tensor(m, out, "output", 5));
    const int64_t *s = in->latents->shape, B = s[0];
    if (B < 1 || s[1] != c->in_channels)
        return vs_fail(VS_ERR_SHAPE, "CogVideoX forward: latents have %lld channels, the model takes %d%s",
                       (long long)s[1], c->in_channels,
                       c->ofs_embed_dim ? " (image-to-video: noise and image latents concatenated)" : "");
    for (int i = 0; i < 3; i++)
        if (s[2 + i] < 1 || s[2 + i] % c->patch_size[i])
            return vs_fail(VS_ERR_SHAPE,
                           "CogVideoX forward: latent %s %lld is not a positive multiple of the patch size %d%s",
                           axes[i], (long long)s[2 + i], c->patch_size[i],
                           i == 0 ? " (the pipeline pads the latent frames)" : "");
    const vs_tensor *text = in->text;
    if (text->shape[0] != B || text->shape[2] != c->text_dim || text->shape[1] < 1)
        return vs_fail(VS_ERR_SHAPE,
                       "CogVideoX forward: text embeddings [%lld, %lld, %lld] do not fit a batch of %lld and "
                       "text_embed_dim %d",
                       (long long)text->shape[0], (long long)text->shape[1], (long long)text->shape[2], (long long)B,
                       c->text_dim);
    if (out->shape[0] != B || out->shape[1] != c->out_channels || out->shape[2] != s[2] || out->shape[3] != s[3] ||
        out->shape[4] != s[4])
        return vs_fail(VS_ERR_SHAPE, "CogVideoX forward: output must be [%lld, %d, %lld, %lld, %lld]", (long long)B,
                       c->out_channels, (long long)s[2], (long long)s[3], (long long)s[4]);
    const int64_t video = s[2] / c->patch_size[0] * (s[3] / c->patch_size[1]) * (s[4] / c->patch_size[2]);
    if (video + text->shape[1] > INT32_MAX / 2)
        return vs_fail(VS_ERR_SHAPE, "CogVideoX forward: %lld tokens is too many", (long long)video);
    return VS_OK;
}

static vs_tensor entry(const vs_tensor *t, int64_t b) {
    return vs_joint_dit_entry(t, b, 0);
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

static vs_status run_entry(forward_state *f, const vs_cogvideox_input *in, int64_t b, vs_tensor *out) {
    vs_tensor lat_b = entry(in->latents, b), text_b = entry(in->text, b), out_b = entry(out, b);
    vs_tensor lat, text, out_d = out_b;
    VS_TRY(on_device(f, &lat_b, &lat));
    VS_TRY(on_device(f, &text_b, &text));
    if (out->device != f->dev) VS_TRY(take(f->arena, VS_F32, 5, out_b.shape, &out_d));
    const float ofs = in->ofs ? in->ofs[b] : VS_COGVIDEOX_DEFAULT_OFS;
    VS_TRY(forward_entry(f, &lat, in->timesteps[b], ofs, &text, &out_d));
    if (out->device != f->dev) VS_TRY(vs_op_copy(&out_b, &out_d));
    return vs_op_sync(f->dev);
}

vs_status vs_cogvideox_forward(const vs_cogvideox_model *model, const vs_cogvideox_input *in, vs_tensor *out,
                               vs_dit_timing *timing) {
    VS_TRY(check_inputs(model, in, out));
    const vs_cogvideox_config *c = &model->config;
    const int64_t B = in->latents->shape[0];
    const double start = now_s();
    vs_dit_timing sum = {0};
    vs_status st = VS_OK;
    for (int64_t b = 0; st == VS_OK && b < B; b++) {
        forward_state f;
        memset(&f, 0, sizeof f);
        f.c = c, f.w = &model->weights, f.dev = model->device, f.step = in->step, f.num_steps = in->num_steps;
        for (int i = 0; i < 3; i++)
            f.grid[i] = (int)(in->latents->shape[2 + i] / c->patch_size[i]);
        f.N = (int64_t)f.grid[0] * f.grid[1] * f.grid[2], f.L = in->text->shape[1];
        st = vs_ulysses_init(&f.seq, NULL, 1, f.N + f.L, c->num_heads, c->head_dim);
        if (st == VS_OK) st = prepare_cache(model, f.grid, f.L);
        if (st != VS_OK) break;
        vs_joint_dit_cache *cache = model->cache;
        f.arena = cache->arena, f.rope_cos = &cache->rope_cos, f.rope_sin = &cache->rope_sin;
        f.attention = cache->sparse, f.clock.timer = cache->timer;
        f.probe = model->probe, f.probe_user = model->probe_user;
        vs_arena_reset(f.arena);
        st = run_entry(&f, in, b, out);
        /* collect (and clear) the attention intervals and head counts even after a failure */
        double attention_s;
        vs_sparse_stats stats;
        st = vs_joint_dit_collect(&f.clock, f.attention, st, &attention_s, &stats);
        sum.attention_s += attention_s;
        sum.heads_spatial += stats.heads_spatial, sum.heads_temporal += stats.heads_temporal;
        sum.selected_calls += stats.selected_calls;
        sum.selected_density_sum += stats.density * (double)stats.selected_calls;
    }
    if (timing && st == VS_OK) {
        timing->attention_s += sum.attention_s;
        timing->total_s += now_s() - start;
        timing->heads_spatial += sum.heads_spatial, timing->heads_temporal += sum.heads_temporal;
        timing->selected_calls += sum.selected_calls, timing->selected_density_sum += sum.selected_density_sum;
    }
    return st;
}
