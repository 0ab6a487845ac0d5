#include "models/common/component.h"
#include "models/wan/transformer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/block_list.h"
#include "core/arena.h"
#include "core/gpu_timer.h"
#include "core/log.h"
#include "core/status.h"
#include "io/path.h"
#include "models/common/adaln.h"
#include "models/common/fp8_linear.h"
#include "models/common/rope.h"
#include "models/common/self_attention.h"
#include "models/common/timestep.h"
#include "models/common/ulysses.h"
#include "ops/ops.h"
#include "parallel/comm.h"
#include "sparse/sparse_attention.h"

/* ---- per-model state reused between forwards ------------------------------------------ */

struct vs_wan_cache {
    vs_arena *arena;           /* activations: persistent part, then per-phase scratch */
    vs_tensor rope_cos, rope_sin; /* [N, head_dim / 2] for the grid below */
    int rope_grid[3];
    vs_attention_params attention; /* resolved (vs_wan_model_set_attention); method NULL: dense */
    vs_sparse_attention *sparse;   /* self-attention under `attention` for (batch, grid, heads) below */
    int sparse_batch, sparse_grid[3], sparse_head0, sparse_heads;
    vs_gpu_timer *timer;       /* CUDA: attention intervals of one forward */
};

/* Frees the forward's working memory; the attention settings stay (prepare_cache makes the rest again). */
static void cache_release_work(vs_wan_cache *c) {
    vs_arena_free(c->arena);
    vs_tensor_free(&c->rope_cos);
    vs_tensor_free(&c->rope_sin);
    vs_sparse_attention_free(c->sparse);
    vs_gpu_timer_free(c->timer);
    const vs_attention_params attention = c->attention;
    memset(c, 0, sizeof *c);
    c->attention = attention;
}

static void cache_free(vs_wan_cache *c) {
    if (!c) return;
    cache_release_work(c);
    free(c);
}

/* ---- loading ------------------------------------------------------------------ */

vs_status vs_wan_model_load(const char *path, vs_device device, vs_wan_model **out) {
    return vs_wan_model_load_as(path, device, VS_PRECISION_DEFAULT, out);
}

/* What `precision` quantises, for the log. */
static const char *quantised_layers(vs_precision precision) {
    return precision == VS_PRECISION_FP8_FFN ? "the blocks' feed-forward layers" : "block linear layers";
}

vs_status vs_wan_model_load_as(const char *path, vs_device device, vs_precision precision, vs_wan_model **out) {
    *out = NULL;
    vs_component_path where;
    VS_TRY(vs_component_find(path, "transformer", "a Wan model", &where));
    const char *dir = where.dir, *config_path = where.config;
    vs_wan_model *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "out of memory");
    m->device = device;
    m->cache = calloc(1, sizeof *m->cache);
    vs_safetensors *st = NULL;
    vs_status s = m->cache ? vs_wan_config_load(config_path, &m->config) : vs_fail(VS_ERR_OOM, "out of memory");
    if (s == VS_OK) s = vs_safetensors_open(&st, dir);
    if (s == VS_OK) s = vs_wan_detect_layout(st, &m->layout, &(const char *){NULL});
    if (s == VS_OK)
        s = vs_wan_weights_load(&m->config, st, device == VS_CPU ? VS_F32 : VS_BF16, precision, device, &m->weights);
    vs_safetensors_close(st);
    if (s != VS_OK) {
        free(m->cache);
        free(m);
        return vs_fail_context(s, "loading the Wan transformer from %s", dir);
    }
    if (precision != VS_PRECISION_DEFAULT)
        VS_INFO("Wan DiT: %s quantised to FP8 as they loaded (E4M3, per-channel scales)", quantised_layers(precision));
    VS_INFO("Wan DiT: %d layers, dim %d (%d heads x %d), ffn %d, %s layout", m->config.num_layers, m->config.dim,
            m->config.num_heads, m->config.head_dim, m->config.ffn_dim,
            m->layout == VS_WAN_LAYOUT_DIFFUSERS ? "diffusers" : "original Wan");
    *out = m;
    return VS_OK;
}

vs_status vs_wan_model_random(const vs_wan_config *config, vs_device device, uint64_t seed, vs_wan_model **out) {
    return vs_wan_model_random_as(config, device, seed, VS_PRECISION_DEFAULT, out);
}

vs_status vs_wan_model_random_as(const vs_wan_config *config, vs_device device, uint64_t seed, vs_precision precision,
                                 vs_wan_model **out) {
    *out = NULL;
    vs_wan_model *m = calloc(1, sizeof *m);
    if (!m || !(m->cache = calloc(1, sizeof *m->cache))) {
        free(m);
        return vs_fail(VS_ERR_OOM, "out of memory");
    }
    m->config = *config;
    m->device = device;
    m->layout = VS_WAN_LAYOUT_DIFFUSERS;
    vs_status s = vs_wan_weights_random(config, device == VS_CPU ? VS_F32 : VS_BF16, precision, device, seed,
                                        &m->weights);
    if (s == VS_OK) s = vs_op_sync(device);
    if (s != VS_OK) {
        vs_wan_model_free(m);
        return vs_fail_context(s, "random Wan transformer (dim %d, %d layers)", config->dim, config->num_layers);
    }
    if (precision != VS_PRECISION_DEFAULT)
        VS_INFO("Wan DiT: %s quantised to FP8 as they were made (E4M3, per-channel scales)",
                quantised_layers(precision));
    *out = m;
    return VS_OK;
}

void vs_wan_model_release_work(vs_wan_model *model) { cache_release_work(model->cache); }

void vs_wan_model_free(vs_wan_model *model) {
    if (!model) return;
    cache_free(model->cache);
    vs_wan_weights_free(&model->weights);
    free(model);
}

vs_status vs_wan_model_set_comm(vs_wan_model *m, vs_comm *comm) {
    if (comm) {
        const vs_device want = vs_comm_device(comm);
        if (want != m->device)
            return vs_fail(VS_ERR_INVALID_ARG, "Wan sequence parallelism: the communicator moves %s buffers, the model "
                           "is on %s", want == VS_CPU ? "host" : "GPU", m->device == VS_CPU ? "the CPU" : "a GPU");
        if (vs_comm_size(comm) > m->config.num_heads)
            return vs_fail(VS_ERR_INVALID_ARG, "Wan sequence parallelism: %d ranks for %d attention heads (at most one "
                           "rank per head)", vs_comm_size(comm), m->config.num_heads);
    }
    m->comm = comm;
    return VS_OK;
}

void vs_wan_model_set_probe(vs_wan_model *m, vs_wan_probe_fn fn, void *user) {
    m->probe = fn;
    m->probe_user = user;
}

/* ---- precision ------------------------------------------------------------------ */

vs_precision vs_wan_model_precision(const vs_wan_model *m) {
    const vs_wan_weights *w = &m->weights;
    if (w->num_blocks == 0) return VS_PRECISION_DEFAULT;
    if (vs_wan_weights_all_fp8(w, VS_PRECISION_FP8)) return VS_PRECISION_FP8;
    return vs_wan_weights_all_fp8(w, VS_PRECISION_FP8_FFN) ? VS_PRECISION_FP8_FFN : VS_PRECISION_DEFAULT;
}

vs_status vs_wan_model_set_precision(vs_wan_model *m, vs_precision precision) {
    if (precision == VS_PRECISION_DEFAULT || vs_wan_weights_all_fp8(&m->weights, precision)) return VS_OK;
    VS_TRY(vs_wan_weights_quantize_fp8(&m->weights, precision));
    VS_INFO("Wan DiT: %s quantised to FP8 (E4M3, per-channel scales)", quantised_layers(precision));
    return VS_OK;
}

/* ---- attention settings --------------------------------------------------------- */

vs_status vs_wan_model_set_attention(vs_wan_model *model, const vs_attention_params *params) {
    vs_wan_cache *cache = model->cache;
    vs_attention_params p;
    int changed;
    VS_TRY(vs_sparse_attention_settings(params, &cache->attention, "Wan", &p, &changed));
    if (!changed) return VS_OK; /* the same settings: the layers keep their state */
    vs_sparse_attention_free(cache->sparse); /* made again, with these settings, by the next forward */
    cache->sparse = NULL;
    cache->attention = p;
    return VS_OK;
}

/* ---- the pieces ------------------------------------------------------------------- */

/* Wan's 3D RoPE: a head of D dimensions in frame, row and column runs of D - 4(D/6), 2(D/6), 2(D/6),
 * theta 1e4 (models/common/rope.h). */
static void rope_axes(int head_dim, int axis_dims[3]) {
    const int hw_dim = 2 * (head_dim / 6);
    axis_dims[0] = head_dim - 2 * hw_dim, axis_dims[1] = hw_dim, axis_dims[2] = hw_dim;
}

/* ---- the forward ---------------------------------------------------------------------- */

typedef struct {
    int64_t text_len; /* L */
    int grid[3];      /* F, H, W after patching */
    /* B x N video tokens and the heads, and this rank's share of them (one rank: all) */
    vs_ulysses seq;
} fwd_shape;

/* Rows of the FFN hidden layer computed at a time, to bound its memory. On CUDA a batch entry of up to
 * 2^17 tokens (Wan 720p, 81 frames: 75600) is one chunk: two GEMMs, and the gate folded into the output
 * layer's weights once (vs_op_linear_residual), for 2.1 GB of hidden activations at 14B. */
static int64_t ffn_chunk_rows(vs_device device) { return device == VS_CPU ? 4096 : 131072; }

/* The dtype GEMMs and attention read and write on `device`. */
static vs_dtype act_dtype(vs_device device) { return device == VS_CPU ? VS_F32 : VS_BF16; }

static size_t aligned(int64_t bytes) { return ((size_t)bytes + VS_ARENA_ALIGN - 1) / VS_ARENA_ALIGN * VS_ARENA_ALIGN; }
static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Arena bytes one forward takes: the persistent tensors plus the largest phase
 * (the four allocations lists in vs_wan_forward, block_forward and their helpers). */
static size_t forward_bytes(const vs_wan_config *c, const fwd_shape *sh, vs_device dev, int fp8, const vs_tensor *lat,
                            const vs_tensor *text, const vs_tensor *out) {
    const int64_t B = sh->seq.batch, bn = B * sh->seq.local, bl = B * sh->text_len, D = c->dim, act = (int64_t)vs_dtype_size(act_dtype(dev));
    const int64_t all = B * sh->seq.tokens, heads_part = all * sh->seq.local_heads * c->head_dim; /* one rank's heads, all tokens */
    const int parallel = sh->seq.comm != NULL;
    const int64_t vol = (int64_t)c->patch_size[0] * c->patch_size[1] * c->patch_size[2];
    size_t persistent = aligned(bn * D * 4);                         /* x (this rank's tokens) */
    if (lat->device != dev) persistent += aligned(vs_tensor_numel(lat) * 4);
    if (out->device != dev) persistent += aligned(vs_tensor_numel(out) * 4);
    if (text->device != dev) persistent += aligned(vs_tensor_numel(text) * 4);
    persistent += aligned(B * c->freq_dim * 4) + 3 * aligned(B * D * 4) + 2 * aligned(B * 6 * D * 4) +
                  aligned(B * 2 * D * 4);                            /* sinusoid, temb x3, tproj, mod, head mod */
    persistent += 4 * aligned(bl * D * act);                         /* ctx, ck, cv, ctx hidden */
    const int64_t chunk = sh->seq.local < ffn_chunk_rows(dev) ? sh->seq.local : ffn_chunk_rows(dev);
    /* FP8 layers: the E4M3 codes and per-row scales of their inputs (the text context for the whole forward) */
    const size_t codes = fp8 ? aligned(bn * D) + aligned(bn * 4) : 0;
    const size_t hidden_codes = fp8 ? aligned(chunk * c->ffn_dim) + aligned(chunk * 4) : 0;
    if (fp8) persistent += aligned(bl * D) + aligned(bl * 4);
    size_t phase = aligned(bl * c->text_dim * act);                  /* text in the activation dtype */
    phase = max_size(phase, aligned(all * c->in_channels * vol * act) + aligned(bn * D * act) +
                                (parallel ? aligned(bn * c->in_channels * vol * act) : 0)); /* patches (+ local), x */
    if (!parallel) phase = max_size(phase, 5 * aligned(bn * D * act) + codes); /* h, q, k, v, a */
    else phase = max_size(phase, 5 * aligned(bn * D * act) + codes + (4 + (B > 1)) * aligned(heads_part * act)); /* + q, k, v, o by heads, exchange */
    phase = max_size(phase, aligned(bn * D * act) + aligned(chunk * c->ffn_dim * act) + codes + hidden_codes); /* h, hidden */
    phase = max_size(phase, aligned(bn * D * act) + aligned(bn * c->out_channels * vol * act) +
                                (parallel ? 2 * aligned(all * c->out_channels * vol * act) : 0)); /* h, patches (+ gathered) */
    return persistent + phase;
}

vs_status vs_wan_memory(const vs_wan_config *c, vs_device device, vs_precision precision,
                        const int64_t latents[5], int64_t text_len, size_t *weights, size_t *activations) {
    VS_TRY(vs_wan_weights_bytes(c, act_dtype(device), precision, weights)); /* FP8: quantised as they load */
    const int fp8 = precision != VS_PRECISION_DEFAULT;
    fwd_shape sh;
    memset(&sh, 0, sizeof sh);
    sh.text_len = text_len;
    for (int i = 0; i < 3; i++) sh.grid[i] = (int)(latents[2 + i] / c->patch_size[i]);
    const int64_t tokens = (int64_t)sh.grid[0] * sh.grid[1] * sh.grid[2];
    VS_TRY(vs_ulysses_init(&sh.seq, NULL, latents[0], tokens, c->num_heads, c->head_dim));
    /* Host latents, text and output, as the denoising loop passes them; then the RoPE tables. */
    const vs_tensor lat = vs_tensor_view(NULL, VS_F32, VS_CPU, 5, latents);
    const vs_tensor text = vs_tensor_view(NULL, VS_F32, VS_CPU, 3, (int64_t[]){latents[0], text_len, c->text_dim});
    *activations =
        forward_bytes(c, &sh, device, fp8, &lat, &text, &lat) + 2 * aligned(tokens * c->head_dim / 2 * 4);
    return VS_OK;
}

/* A tensor from the arena; every arena tensor of the forward is made here. */
static vs_status take(vs_arena *arena, vs_dtype dtype, int ndim, const int64_t *shape, vs_tensor *out) {
    return vs_arena_tensor(arena, dtype, ndim, shape, out);
}
#define TAKE(arena, dtype, out, ...) \
    take(arena, dtype, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}, out)

/* Rows r0 .. r0 + rows of a [.., dim] tensor, as a [rows, dim] view. */
static vs_tensor row_view(const vs_tensor *t, int64_t r0, int64_t rows) {
    const int64_t dim = t->shape[t->ndim - 1];
    vs_tensor v = vs_tensor_view((char *)t->data + r0 * dim * (int64_t)vs_dtype_size(t->dtype), t->dtype, t->device,
                                 2, (int64_t[]){rows, dim});
    return v;
}

typedef struct {
    const vs_wan_config *c;
    vs_device dev;
    vs_arena *arena;
    fwd_shape sh;
    vs_tensor x;                 /* residual stream F32 [B, N, dim] */
    vs_tensor ctx, ck, cv;       /* text context and one layer's cross keys / values [B, L, dim] */
    int fp8;                     /* the blocks' linear layers are E4M3 (docs/fp8.md) */
    vs_linear_input ctx_in;      /* ctx as the cross-attention's K and V projections read it */
    vs_tensor temb, tproj, mod;  /* F32 [B, dim], [B, 6, dim], [B, 6, dim] */
    const vs_tensor *rope_cos, *rope_sin;
    vs_sparse_attention *attention; /* self-attention of this forward's shape */
    int step, num_steps;         /* where this forward sits in the denoising loop */
    vs_attention_clock clock;    /* self- and cross-attention time */
    vs_wan_probe_fn probe;       /* the model's test probe, NULL: none */
    void *probe_user;
} forward_state;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Shows the test probe, if any, intermediate `name` (of block `layer` when layer >= 0) once it is computed. */
static vs_status probe_point(const forward_state *f, int layer, const char *name, const vs_tensor *t) {
    if (!f->probe) return VS_OK;
    VS_TRY(vs_op_sync(f->dev));
    char block_name[64];
    if (layer >= 0) snprintf(block_name, sizeof block_name, "block.%d.%s", layer, name);
    f->probe(f->probe_user, layer >= 0 ? block_name : name, t);
    return VS_OK;
}

static vs_status block_forward(forward_state *f, const vs_wan_block_weights *w, int layer) {
    const vs_wan_config *c = f->c;
    const int64_t B = f->sh.seq.batch, N = f->sh.seq.local, D = c->dim; /* this rank's tokens */
    const vs_dtype act = act_dtype(f->dev);
    const float eps = c->eps;

    /* (shift, scale, gate, c_shift, c_scale, c_gate) = table + time projection */
    VS_TRY(vs_adaln_modulation(&f->mod, &w->modulation, &f->tproj));
    vs_tensor shift = vs_adaln_chunk(&f->mod, 0), scale = vs_adaln_chunk(&f->mod, 1), gate = vs_adaln_chunk(&f->mod, 2);
    vs_tensor c_shift = vs_adaln_chunk(&f->mod, 3), c_scale = vs_adaln_chunk(&f->mod, 4);
    vs_tensor c_gate = vs_adaln_chunk(&f->mod, 5);

    const size_t mark = vs_arena_mark(f->arena);
    vs_tensor h, q, k, v, a, codes, scales; /* codes, scales: an FP8 layer's input (one at a time) */
    VS_TRY(TAKE(f->arena, act, &h, B, N, D));
    VS_TRY(TAKE(f->arena, act, &q, B, N, D));
    VS_TRY(TAKE(f->arena, act, &k, B, N, D));
    VS_TRY(TAKE(f->arena, act, &v, B, N, D));
    VS_TRY(TAKE(f->arena, act, &a, B, N, D));
    if (f->fp8) {
        VS_TRY(TAKE(f->arena, VS_F8E4M3, &codes, B, N, D));
        VS_TRY(TAKE(f->arena, VS_F32, &scales, B * N));
    }
    const vs_tensor *cb = f->fp8 ? &codes : NULL, *sb = f->fp8 ? &scales : NULL;
    vs_linear_input in;

    /* 1. self-attention: x += gate * o(attn(rope(rms(q)), rope(rms(k)), v)), inputs LN(x) * (1 + scale) + shift;
     *    RoPE by the tokens' places in the whole video */
    const vs_wan_attn_weights *sa = &w->self_attn;
    const vs_tensor *qkv_weights[3] = {&sa->q.weight, &sa->k.weight, &sa->v.weight};
    VS_TRY(vs_linear_input_norm(&in, &h, &f->x, NULL, NULL, &shift, &scale, eps, cb, sb, qkv_weights, 3));
    VS_TRY(vs_linear(&q, &in, &sa->q.weight, &sa->q.scale, &sa->q.bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_linear(&k, &in, &sa->k.weight, &sa->k.scale, &sa->k.bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_linear(&v, &in, &sa->v.weight, &sa->v.scale, &sa->v.bias, VS_EPILOGUE_NONE));
    vs_tensor cos = row_view(f->rope_cos, f->sh.seq.tok0, N), sin = row_view(f->rope_sin, f->sh.seq.tok0, N);
    VS_TRY(vs_op_qk_norm_rope(&q, &sa->norm_q, NULL, &cos, &sin, c->num_heads, eps));
    VS_TRY(vs_op_qk_norm_rope(&k, &sa->norm_k, NULL, &cos, &sin, c->num_heads, eps));
    VS_TRY(vs_dit_self_attention(&f->sh.seq, f->arena, f->attention, layer, f->step, f->num_steps, &q, &k, &v, &h, &a,
                                 &f->clock));
    VS_TRY(vs_linear_input_prepare(&in, &a, cb, sb));
    VS_TRY(vs_linear_residual(&f->x, &in, &sa->o.weight, &sa->o.scale, &sa->o.bias, &gate));
    VS_TRY(probe_point(f, layer, "after_self_attn", &f->x));

    /* 2. cross-attention to the text: x += o(attn(rms(q), rms(k_text), v_text)), inputs LN_affine(x) */
    const vs_wan_attn_weights *ca = &w->cross_attn;
    if (c->cross_attn_norm) {
        const vs_tensor *q_weight[1] = {&ca->q.weight};
        VS_TRY(vs_linear_input_norm(&in, &h, &f->x, &w->norm2_weight, &w->norm2_bias, NULL, NULL, eps, cb, sb,
                                    q_weight, 1));
    } else {
        VS_TRY(vs_op_convert(&h, &f->x));
        VS_TRY(vs_linear_input_prepare(&in, &h, cb, sb));
    }
    VS_TRY(vs_linear(&q, &in, &ca->q.weight, &ca->q.scale, &ca->q.bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_op_qk_norm_rope(&q, &ca->norm_q, NULL, NULL, NULL, c->num_heads, eps));
    VS_TRY(vs_linear(&f->ck, &f->ctx_in, &ca->k.weight, &ca->k.scale, &ca->k.bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_op_qk_norm_rope(&f->ck, &ca->norm_k, NULL, NULL, NULL, c->num_heads, eps));
    VS_TRY(vs_linear(&f->cv, &f->ctx_in, &ca->v.weight, &ca->v.scale, &ca->v.bias, VS_EPILOGUE_NONE));
    vs_tensor q4 = vs_heads_view(&q, c->num_heads), a4 = vs_heads_view(&a, c->num_heads);
    vs_tensor k4 = vs_heads_view(&f->ck, c->num_heads), v4 = vs_heads_view(&f->cv, c->num_heads);
    VS_TRY(vs_attention_clock_start(&f->clock));
    VS_TRY(vs_op_attention(&a4, &q4, &k4, &v4));
    VS_TRY(vs_attention_clock_stop(&f->clock));
    VS_TRY(vs_linear_input_prepare(&in, &a, cb, sb));
    VS_TRY(vs_linear_residual(&f->x, &in, &ca->o.weight, &ca->o.scale, &ca->o.bias, NULL));
    VS_TRY(probe_point(f, layer, "after_cross_attn", &f->x));
    vs_arena_release(f->arena, mark);

    /* 3. feed-forward: x += c_gate * W2 gelu_tanh(W1 (LN(x) * (1 + c_scale) + c_shift)); each batch
     *    entry's rows in chunks */
    vs_tensor hidden, hidden_codes, hidden_scales;
    const int64_t chunk = N < ffn_chunk_rows(f->dev) ? N : ffn_chunk_rows(f->dev);
    VS_TRY(TAKE(f->arena, act, &h, B, N, D));
    VS_TRY(TAKE(f->arena, act, &hidden, chunk, c->ffn_dim));
    if (f->fp8) {
        VS_TRY(TAKE(f->arena, VS_F8E4M3, &codes, B, N, D));
        VS_TRY(TAKE(f->arena, VS_F32, &scales, B * N));
        VS_TRY(TAKE(f->arena, VS_F8E4M3, &hidden_codes, chunk, c->ffn_dim));
        VS_TRY(TAKE(f->arena, VS_F32, &hidden_scales, chunk));
    }
    const vs_tensor *ffn_in_weight[1] = {&w->ffn_in.weight};
    VS_TRY(
        vs_linear_input_norm(&in, &h, &f->x, NULL, NULL, &c_shift, &c_scale, eps, cb, sb, ffn_in_weight, 1));
    for (int64_t b = 0; b < B; b++) {
        vs_tensor gate_b = vs_adaln_entry(&c_gate, b);
        for (int64_t r = b * N; r < (b + 1) * N; r += chunk) {
            const int64_t rows = (b + 1) * N - r < chunk ? (b + 1) * N - r : chunk;
            vs_tensor xr = row_view(&f->x, r, rows), hid = row_view(&hidden, 0, rows);
            vs_linear_input hr = vs_linear_input_rows(&in, r, rows), hid_in;
            VS_TRY(vs_linear_to_input(&hid_in, &hid, &hr, &w->ffn_in.weight, &w->ffn_in.scale,
                                      &w->ffn_in.bias, VS_EPILOGUE_GELU_TANH, f->fp8 ? &hidden_codes : NULL,
                                      f->fp8 ? &hidden_scales : NULL, &w->ffn_out.weight));
            VS_TRY(vs_linear_residual(&xr, &hid_in, &w->ffn_out.weight, &w->ffn_out.scale, &w->ffn_out.bias, &gate_b));
        }
    }
    vs_arena_release(f->arena, mark);
    return probe_point(f, layer, "after_ffn", &f->x);
}

/* temb = time_out(silu(time_in(sinusoid))), in f32. */
static vs_status time_mlp(const vs_wan_weights *w, const vs_tensor *sinusoid, vs_tensor *hidden, vs_tensor *temb) {
    VS_TRY(vs_op_linear(hidden, sinusoid, &w->time_in.weight, &w->time_in.bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_op_silu(hidden, hidden));
    return vs_op_linear(temb, hidden, &w->time_out.weight, &w->time_out.bias, VS_EPILOGUE_NONE);
}

/* temb = MLP(sinusoid(t)), tproj = Linear(silu(temb)) in f32; ctx = MLP_gelu_tanh(text). */
static vs_status embed_conditions(forward_state *f, const vs_wan_weights *w, const float *timesteps,
                                  const vs_tensor *text) {
    const vs_wan_config *c = f->c;
    const int64_t B = f->sh.seq.batch, L = f->sh.text_len, D = c->dim;
    vs_tensor sinusoid, hidden, act_in;
    VS_TRY(TAKE(f->arena, VS_F32, &sinusoid, B, c->freq_dim));
    VS_TRY(TAKE(f->arena, VS_F32, &hidden, B, D));
    VS_TRY(TAKE(f->arena, VS_F32, &f->temb, B, D));
    VS_TRY(TAKE(f->arena, VS_F32, &act_in, B, D));
    VS_TRY(TAKE(f->arena, VS_F32, &f->tproj, B, 6, D));
    VS_TRY(TAKE(f->arena, VS_F32, &f->mod, B, 6, D));
    float *host = malloc((size_t)(B * c->freq_dim) * sizeof(float));
    if (!host) return vs_fail(VS_ERR_OOM, "out of memory");
    for (int64_t b = 0; b < B; b++) vs_timestep_embedding(host + b * c->freq_dim, timesteps[b], c->freq_dim);
    vs_tensor host_t = vs_tensor_view(host, VS_F32, VS_CPU, 2, (int64_t[]){B, c->freq_dim});
    vs_status s = vs_op_copy(&sinusoid, &host_t);
    free(host);
    VS_TRY(s);
    VS_TRY(time_mlp(w, &sinusoid, &hidden, &f->temb));
    VS_TRY(vs_op_silu(&act_in, &f->temb));
    vs_tensor tproj2 = vs_tensor_view(f->tproj.data, VS_F32, f->dev, 2, (int64_t[]){B, 6 * D});
    VS_TRY(vs_op_linear(&tproj2, &act_in, &w->time_proj.weight, &w->time_proj.bias, VS_EPILOGUE_NONE));
    VS_TRY(probe_point(f, -1, "temb", &f->temb));
    VS_TRY(probe_point(f, -1, "timestep_proj", &f->tproj));

    const vs_dtype act = act_dtype(f->dev);
    vs_tensor text_d = *text, text_act, ctx_hidden;
    VS_TRY(TAKE(f->arena, act, &f->ctx, B, L, D));
    VS_TRY(TAKE(f->arena, act, &f->ck, B, L, D));
    VS_TRY(TAKE(f->arena, act, &f->cv, B, L, D));
    VS_TRY(TAKE(f->arena, act, &ctx_hidden, B, L, D));
    if (text->device != f->dev) {
        VS_TRY(TAKE(f->arena, VS_F32, &text_d, B, L, c->text_dim));
        VS_TRY(vs_op_copy(&text_d, text));
    }
    const size_t mark = vs_arena_mark(f->arena);
    VS_TRY(TAKE(f->arena, act, &text_act, B, L, c->text_dim));
    VS_TRY(vs_op_convert(&text_act, &text_d));
    VS_TRY(vs_op_linear(&ctx_hidden, &text_act, &w->text_in.weight, &w->text_in.bias, VS_EPILOGUE_GELU_TANH));
    VS_TRY(vs_op_linear(&f->ctx, &ctx_hidden, &w->text_out.weight, &w->text_out.bias, VS_EPILOGUE_NONE));
    vs_arena_release(f->arena, mark);
    vs_tensor ctx_codes, ctx_scales; /* kept for the forward: every layer's K and V read them */
    if (f->fp8) {
        VS_TRY(TAKE(f->arena, VS_F8E4M3, &ctx_codes, B, L, D));
        VS_TRY(TAKE(f->arena, VS_F32, &ctx_scales, B * L));
    }
    VS_TRY(vs_linear_input_prepare(&f->ctx_in, &f->ctx, f->fp8 ? &ctx_codes : NULL, f->fp8 ? &ctx_scales : NULL));
    return probe_point(f, -1, "context", &f->ctx);
}

static vs_status check_inputs(const vs_wan_model *m, const vs_tensor *lat, const float *timesteps,
                              const vs_tensor *text, const vs_tensor *out) {
    static const char *const axes[3] = {"frames", "height", "width"};
    const vs_wan_config *c = &m->config;
    if (!timesteps) return vs_fail(VS_ERR_INVALID_ARG, "Wan forward: timesteps are required");
    const vs_tensor *ts[3] = {lat, text, out};
    const char *names[3] = {"latents", "text embeddings", "output"};
    const int ranks[3] = {5, 3, 5};
    for (int i = 0; i < 3; i++) {
        if (!ts[i] || !ts[i]->data || ts[i]->dtype != VS_F32 || ts[i]->ndim != ranks[i] ||
            !vs_tensor_is_contiguous(ts[i]) || (ts[i]->device != VS_CPU && ts[i]->device != m->device))
            return vs_fail(VS_ERR_SHAPE, "Wan forward: %s must be a contiguous f32 tensor of rank %d on the CPU%s",
                           names[i], ranks[i], m->device == VS_CPU ? "" : " or the model's GPU");
    }
    const int64_t *s = lat->shape;
    if (s[0] < 1 || s[1] != c->in_channels)
        return vs_fail(VS_ERR_SHAPE, "Wan forward: latents have %lld channels, the model takes %d", (long long)s[1],
                       c->in_channels);
    for (int i = 0; i < 3; i++) {
        if (s[2 + i] < 1 || s[2 + i] % c->patch_size[i])
            return vs_fail(VS_ERR_SHAPE, "Wan forward: latent %s %lld is not a positive multiple of the patch size %d",
                           axes[i], (long long)s[2 + i], c->patch_size[i]);
        if (s[2 + i] / c->patch_size[i] > c->rope_max_seq_len)
            return vs_fail(VS_ERR_SHAPE, "Wan forward: %lld patches along %s exceed rope_max_seq_len %d",
                           (long long)(s[2 + i] / c->patch_size[i]), axes[i], c->rope_max_seq_len);
    }
    if (text->shape[0] != s[0] || text->shape[2] != c->text_dim || text->shape[1] < 1)
        return vs_fail(VS_ERR_SHAPE,
                       "Wan forward: text embeddings [%lld, %lld, %lld] do not fit a batch of %lld and text_dim %d",
                       (long long)text->shape[0], (long long)text->shape[1], (long long)text->shape[2],
                       (long long)s[0], c->text_dim);
    if (out->shape[0] != s[0] || out->shape[1] != c->out_channels || out->shape[2] != s[2] ||
        out->shape[3] != s[3] || out->shape[4] != s[4])
        return vs_fail(VS_ERR_SHAPE, "Wan forward: output must be [%lld, %d, %lld, %lld, %lld]", (long long)s[0],
                       c->out_channels, (long long)s[2], (long long)s[3], (long long)s[4]);
    const int64_t tokens = s[2] / c->patch_size[0] * (s[3] / c->patch_size[1]) * (s[4] / c->patch_size[2]);
    if (tokens > INT32_MAX / 2 || text->shape[1] > INT32_MAX / 2)
        return vs_fail(VS_ERR_SHAPE, "Wan forward: %lld tokens is too many", (long long)tokens);
    return VS_OK;
}

/* Brings the cache to this forward's shape: arena size, RoPE tables, sparse attention, timer. */
static vs_status prepare_cache(const vs_wan_model *m, const fwd_shape *sh, size_t arena_bytes) {
    vs_wan_cache *cache = m->cache;
    const vs_wan_config *c = &m->config;
    if (!cache->arena || vs_arena_capacity(cache->arena) < arena_bytes) {
        vs_arena_free(cache->arena);
        cache->arena = NULL;
        VS_TRY(vs_arena_create(&cache->arena, "Wan activations", m->device, arena_bytes));
        VS_DEBUG("Wan forward: %.1f MiB of activations", arena_bytes / 1048576.0);
    }
    if (memcmp(cache->rope_grid, sh->grid, sizeof sh->grid) != 0 || !cache->rope_cos.data) {
        vs_tensor_free(&cache->rope_cos);
        vs_tensor_free(&cache->rope_sin);
        memset(cache->rope_grid, 0, sizeof cache->rope_grid);
        int axis_dims[3];
        rope_axes(c->head_dim, axis_dims);
        VS_TRY(vs_rope3d_tensors(axis_dims, 10000.0, sh->grid, m->device, &cache->rope_cos, &cache->rope_sin));
        memcpy(cache->rope_grid, sh->grid, sizeof sh->grid);
    }
    if (!cache->sparse || cache->sparse_batch != sh->seq.batch || memcmp(cache->sparse_grid, sh->grid, sizeof sh->grid) != 0 ||
        cache->sparse_head0 != sh->seq.head0 || cache->sparse_heads != sh->seq.local_heads) {
        vs_sparse_attention_free(cache->sparse);
        cache->sparse = NULL;
        /* Frames F and tokens per frame P of the latent grid; Wan has no text tokens in self-attention. */
        vs_sparse_setup setup = {m->device, (int)sh->seq.batch, sh->seq.local_heads, (int)sh->seq.tokens, c->head_dim, 1, {0}, {0}};
        setup.video = vs_svg_config_default(sh->grid[0], sh->grid[1] * sh->grid[2], 0, cache->attention.density);
        /* This rank's heads profile the rows the whole model's heads would. */
        if (sh->seq.comm) setup.video.head_offset = sh->seq.head0, setup.video.model_heads = c->num_heads;
        VS_TRY(vs_sparse_attention_create(&cache->sparse, &setup, &cache->attention, c->num_layers));
        cache->sparse_batch = (int)sh->seq.batch;
        cache->sparse_head0 = sh->seq.head0, cache->sparse_heads = sh->seq.local_heads;
        memcpy(cache->sparse_grid, sh->grid, sizeof sh->grid);
    }
    if (m->device == VS_CUDA && !cache->timer) VS_TRY(vs_gpu_timer_create(&cache->timer, 2 * c->num_layers));
    return VS_OK;
}

static vs_status forward(const vs_wan_model *model, forward_state *f, const vs_tensor *latents,
                         const float *timesteps, const vs_tensor *text, vs_tensor *out) {
    const vs_wan_config *c = &model->config;
    const vs_wan_weights *w = &model->weights;
    const int *p = c->patch_size;
    const int64_t B = f->sh.seq.batch, N = f->sh.seq.tokens, n = f->sh.seq.local, D = c->dim;
    const int64_t vol = (int64_t)p[0] * p[1] * p[2];
    const vs_dtype act = act_dtype(f->dev);

    vs_tensor lat = *latents, out_d = *out;
    if (latents->device != f->dev) {
        VS_TRY(take(f->arena, VS_F32, 5, latents->shape, &lat));
        VS_TRY(vs_op_copy(&lat, latents));
    }
    if (out->device != f->dev) VS_TRY(take(f->arena, VS_F32, 5, out->shape, &out_d));
    VS_TRY(TAKE(f->arena, VS_F32, &f->x, B, n, D));
    VS_TRY(embed_conditions(f, w, timesteps, text));

    /* tokens: x = Conv3d_patch(latents), kept in f32; this rank's tokens only */
    size_t mark = vs_arena_mark(f->arena);
    const int64_t K = c->in_channels * vol;
    vs_tensor patches, mine, x_act;
    VS_TRY(TAKE(f->arena, act, &patches, B, N, K));
    VS_TRY(TAKE(f->arena, act, &x_act, B, n, D));
    VS_TRY(vs_op_patchify(&patches, &lat, p));
    mine = patches;
    if (f->sh.seq.comm) {
        VS_TRY(TAKE(f->arena, act, &mine, B, n, K));
        VS_TRY(vs_ulysses_my_tokens(&f->sh.seq, &patches, &mine));
    }
    VS_TRY(vs_op_linear(&x_act, &mine, &w->patch_embed.weight, &w->patch_embed.bias, VS_EPILOGUE_NONE));
    VS_TRY(vs_op_convert(&f->x, &x_act));
    vs_arena_release(f->arena, mark);
    VS_TRY(probe_point(f, -1, "tokens", &f->x));

    for (int l = 0; l < c->num_layers; l++) {
        vs_status s = block_forward(f, &w->blocks[l], l);
        if (s != VS_OK) return vs_fail_context(s, "Wan block %d", l);
    }

    /* output head: (shift, scale) = head table + temb (not the time projection) */
    vs_tensor head_mod, h, y;
    VS_TRY(TAKE(f->arena, VS_F32, &head_mod, B, 2, D));
    VS_TRY(vs_adaln_modulation(&head_mod, &w->head_modulation, &f->temb));
    vs_tensor shift = vs_adaln_chunk(&head_mod, 0), scale = vs_adaln_chunk(&head_mod, 1);
    const int64_t Y = c->out_channels * vol;
    VS_TRY(TAKE(f->arena, act, &h, B, n, D));
    VS_TRY(TAKE(f->arena, act, &y, B, n, Y));
    VS_TRY(vs_op_layernorm_modulate(&h, &f->x, NULL, NULL, &shift, &scale, c->eps));
    VS_TRY(vs_op_linear(&y, &h, &w->head.weight, &w->head.bias, VS_EPILOGUE_NONE));
    VS_TRY(probe_point(f, -1, "head", &y));
    if (f->sh.seq.comm) VS_TRY(vs_ulysses_gather_tokens(&f->sh.seq, f->arena, &y, &y));
    VS_TRY(vs_op_unpatchify(&out_d, &y, p));
    if (out->device != f->dev) VS_TRY(vs_op_copy(out, &out_d));
    return vs_op_sync(f->dev);
}

vs_status vs_wan_forward(const vs_wan_model *model, const vs_tensor *latents, const float *timesteps,
                         const vs_tensor *text, int step, int num_steps, vs_tensor *out, vs_dit_timing *timing) {
    VS_TRY(check_inputs(model, latents, timesteps, text, out));
    const vs_wan_config *c = &model->config;
    const int *p = c->patch_size;
    const int64_t *s = latents->shape;
    const double start = now_s();

    forward_state f;
    memset(&f, 0, sizeof f);
    f.c = c, f.dev = model->device, f.step = step, f.num_steps = num_steps;
    f.sh.text_len = text->shape[1];
    for (int i = 0; i < 3; i++) f.sh.grid[i] = (int)(s[2 + i] / p[i]);
    const int64_t tokens = (int64_t)f.sh.grid[0] * f.sh.grid[1] * f.sh.grid[2];
    vs_status split = vs_ulysses_init(&f.sh.seq, model->comm, s[0], tokens, c->num_heads, c->head_dim);
    if (split != VS_OK) return vs_fail_context(split, "Wan forward");
    f.fp8 = vs_wan_weights_any_fp8(&model->weights); /* some linears take quantised inputs */
    VS_TRY(prepare_cache(model, &f.sh, forward_bytes(c, &f.sh, f.dev, f.fp8, latents, text, out)));
    vs_wan_cache *cache = model->cache;
    f.arena = cache->arena;
    f.rope_cos = &cache->rope_cos, f.rope_sin = &cache->rope_sin;
    f.attention = cache->sparse;
    f.clock.timer = cache->timer;
    f.probe = model->probe, f.probe_user = model->probe_user;
    vs_arena_reset(f.arena);

    vs_status st = forward(model, &f, latents, timesteps, text, out);
    /* Collect (and clear) the attention intervals and the method's head counts even after a failure, so the
     * next forward starts empty. */
    double attention_ms = 0;
    if (f.clock.timer) {
        vs_status ts = vs_gpu_timer_collect(f.clock.timer, &attention_ms);
        if (st == VS_OK) st = ts;
    }
    vs_sparse_stats stats;
    vs_status cs = vs_sparse_attention_take_stats(f.attention, &stats);
    if (st == VS_OK) st = cs;
    if (timing && st == VS_OK) {
        timing->attention_s += f.clock.timer ? attention_ms * 1e-3 : f.clock.host_s;
        timing->total_s += now_s() - start;
        timing->heads_spatial += stats.heads_spatial, timing->heads_temporal += stats.heads_temporal;
        timing->selected_calls += stats.selected_calls;
        timing->selected_density_sum += stats.density * (double)stats.selected_calls;
    }
    return st;
}

vs_status vs_wan_time_embedding(const vs_wan_model *model, float timestep, float *out) {
    const vs_wan_config *c = &model->config;
    float *host = malloc(sizeof(float) * (size_t)c->freq_dim);
    if (!host) return vs_fail(VS_ERR_OOM, "out of memory");
    vs_timestep_embedding(host, timestep, c->freq_dim);
    const vs_tensor host_t = vs_tensor_view(host, VS_F32, VS_CPU, 2, (int64_t[]){1, c->freq_dim});
    vs_tensor sinusoid = {0}, hidden = {0}, temb = {0};
    vs_status s = vs_tensor_alloc(&sinusoid, VS_F32, model->device, 2, (int64_t[]){1, c->freq_dim});
    if (s == VS_OK) s = vs_tensor_alloc(&hidden, VS_F32, model->device, 2, (int64_t[]){1, c->dim});
    if (s == VS_OK) s = vs_tensor_alloc(&temb, VS_F32, model->device, 2, (int64_t[]){1, c->dim});
    if (s == VS_OK) s = vs_op_copy(&sinusoid, &host_t);
    if (s == VS_OK) s = time_mlp(&model->weights, &sinusoid, &hidden, &temb);
    vs_tensor out_t = vs_tensor_view(out, VS_F32, VS_CPU, 2, (int64_t[]){1, c->dim});
    if (s == VS_OK) s = vs_op_copy(&out_t, &temb);
    if (s == VS_OK) s = vs_op_sync(model->device);
    vs_tensor_free(&sinusoid);
    vs_tensor_free(&hidden);
    vs_tensor_free(&temb);
    free(host);
    return s;
}
