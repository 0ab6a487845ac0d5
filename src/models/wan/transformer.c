#include "models/wan/transformer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "backend/cpu/attention_cpu.h"
#include "backend/cpu/cpu_ops.h"
#include "core/log.h"
#include "core/status.h"
#include "ops/attention.h"
#include "sparse/profile.h"
#include "sparse/svg.h"

/* ---- loading ------------------------------------------------------------------ */

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

vs_status vs_wan_model_load(const char *path, vs_device device, vs_wan_model **out) {
    *out = NULL;
    char dir[4096], config_path[4160];
    /* A diffusers pipeline folder keeps the DiT under transformer/. */
    snprintf(dir, sizeof dir, "%s/transformer", path);
    snprintf(config_path, sizeof config_path, "%s/config.json", dir);
    if (!is_file(config_path)) {
        snprintf(dir, sizeof dir, "%s", path);
        snprintf(config_path, sizeof config_path, "%s/config.json", dir);
        if (!is_file(config_path))
            return vs_fail(VS_ERR_NOT_FOUND, "%s: no config.json (nor transformer/config.json): not a Wan model folder",
                           path);
    }
    vs_wan_model *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "out of memory");
    m->device = device;
    vs_safetensors *st = NULL;
    vs_status s = vs_wan_config_load(config_path, &m->config);
    if (s == VS_OK) s = vs_safetensors_open(&st, dir);
    if (s == VS_OK) s = vs_wan_detect_layout(st, &m->layout, &(const char *){NULL});
    if (s == VS_OK)
        s = vs_wan_weights_load(&m->config, st, device == VS_CPU ? VS_F32 : VS_BF16, device, &m->weights);
    vs_safetensors_close(st);
    if (s != VS_OK) {
        free(m);
        return vs_fail_context(s, "loading the Wan transformer from %s", dir);
    }
    VS_INFO("Wan DiT: %d layers, dim %d (%d heads x %d), ffn %d, %s layout", m->config.num_layers, m->config.dim,
            m->config.num_heads, m->config.head_dim, m->config.ffn_dim,
            m->layout == VS_WAN_LAYOUT_DIFFUSERS ? "diffusers" : "original Wan");
    *out = m;
    return VS_OK;
}

void vs_wan_model_free(vs_wan_model *model) {
    if (!model) return;
    vs_wan_weights_free(&model->weights);
    free(model);
}

/* ---- attention settings --------------------------------------------------------- */

vs_wan_attention vs_wan_attention_dense(void) {
    vs_wan_attention a = {VS_WAN_ATTN_DENSE, 0.2f, 0.03f, 1.0, 0, 1};
    return a;
}

vs_wan_attention vs_wan_attention_svg(double density) {
    vs_wan_attention a = {VS_WAN_ATTN_SVG, 0.2f, 0.03f, density, 0, 1};
    return a;
}

int vs_wan_layer_is_dense(const vs_wan_attention *attn, int layer, int num_layers) {
    if (!attn || attn->mode == VS_WAN_ATTN_DENSE) return 1;
    int dense_steps = (int)floor(attn->dense_step_fraction * attn->num_steps);
    int dense_layers = (int)floor(attn->dense_layer_fraction * num_layers);
    return attn->step < dense_steps || layer < dense_layers;
}

/* ---- the pieces ------------------------------------------------------------------- */

void vs_wan_timestep_embedding(float *out, float t, int dim) {
    /* f32 throughout, in the order torch evaluates it. */
    const int half = dim / 2;
    const float log_period = (float)-log(10000.0);
    for (int i = 0; i < half; i++) {
        float freq = expf(log_period * (float)i / (float)half);
        float arg = t * freq;
        out[i] = cosf(arg);
        out[half + i] = sinf(arg);
    }
}

void vs_wan_rope_table(int head_dim, int frames, int height, int width, float *cos_out, float *sin_out) {
    const int hw_dim = 2 * (head_dim / 6), t_dim = head_dim - 2 * hw_dim, pairs = head_dim / 2;
    const double theta = 10000.0;
    int64_t n = 0;
    for (int f = 0; f < frames; f++)
        for (int h = 0; h < height; h++)
            for (int w = 0; w < width; w++, n++)
                for (int j = 0; j < pairs; j++) {
                    /* Pair j belongs to the time, row or column part, each with its own frequencies. */
                    int i = j, part_dim = t_dim, pos = f;
                    if (j >= t_dim / 2 + hw_dim / 2) i = j - t_dim / 2 - hw_dim / 2, part_dim = hw_dim, pos = w;
                    else if (j >= t_dim / 2) i = j - t_dim / 2, part_dim = hw_dim, pos = h;
                    double angle = pos * (1.0 / pow(theta, (double)(2 * i) / part_dim));
                    cos_out[n * pairs + j] = (float)cos(angle);
                    sin_out[n * pairs + j] = (float)sin(angle);
                }
}

void vs_wan_rope_apply(float *x, int64_t batch, int64_t tokens, int heads, int head_dim, const float *cos_table,
                       const float *sin_table) {
    const int pairs = head_dim / 2;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t n = 0; n < tokens; n++) {
            const float *c = cos_table + n * pairs, *s = sin_table + n * pairs;
            for (int h = 0; h < heads; h++) {
                float *v = x + ((b * tokens + n) * heads + h) * head_dim;
                for (int j = 0; j < pairs; j++) {
                    float x1 = v[2 * j], x2 = v[2 * j + 1];
                    v[2 * j] = x1 * c[j] - x2 * s[j];
                    v[2 * j + 1] = x1 * s[j] + x2 * c[j];
                }
            }
        }
}

/* y[rows, out] = x[rows, in] W^T + b, W [out, in...] (a Conv3d weight flattens to [out, in]). */
static void linear(float *y, const float *x, int64_t rows, const vs_wan_linear *l) {
    const int64_t out = l->weight.shape[0], in = vs_tensor_numel(&l->weight) / out;
    vs_cpu_gemm(0, 1, rows, out, in, 1.0f, x, in, l->weight.data, in, 0.0f, y, out);
    vs_cpu_add_bias(y, l->bias.data, rows, out);
}

/* y = LN(x) * (1 + scale) + shift for each batch entry's `tokens` rows. */
static void norm_modulate(float *y, const float *x, int64_t batch, int64_t tokens, int64_t dim, float eps,
                          const float *shift, const float *scale, int64_t mod_stride) {
    vs_cpu_layernorm(y, x, NULL, NULL, batch * tokens, dim, eps);
    for (int64_t b = 0; b < batch; b++) {
        const float *sh = shift + b * mod_stride, *sc = scale + b * mod_stride;
        for (int64_t n = 0; n < tokens; n++) {
            float *row = y + (b * tokens + n) * dim;
            for (int64_t i = 0; i < dim; i++) row[i] = row[i] * (1.0f + sc[i]) + sh[i];
        }
    }
}

/* x += y * gate (gate per batch entry; NULL: plain residual). */
static void residual(float *x, const float *y, int64_t batch, int64_t tokens, int64_t dim, const float *gate,
                     int64_t mod_stride) {
    for (int64_t b = 0; b < batch; b++)
        for (int64_t n = 0; n < tokens; n++) {
            float *xr = x + (b * tokens + n) * dim;
            const float *yr = y + (b * tokens + n) * dim;
            if (gate) {
                const float *g = gate + b * mod_stride;
                for (int64_t i = 0; i < dim; i++) xr[i] += yr[i] * g[i];
            } else {
                for (int64_t i = 0; i < dim; i++) xr[i] += yr[i];
            }
        }
}

/* patches[b, (f,h,w), (c,i,j,k)] = latents[b, c, f*pt+i, h*ph+j, w*pw+k], the order of a flattened Conv3d weight. */
static void patchify(float *patches, const float *lat, int64_t batch, int64_t channels, int64_t frames,
                     int64_t height, int64_t width, const int *p) {
    const int64_t fp = frames / p[0], hp = height / p[1], wp = width / p[2];
    const int64_t patch = channels * p[0] * p[1] * p[2];
    for (int64_t b = 0; b < batch; b++)
        for (int64_t f = 0; f < fp; f++)
            for (int64_t h = 0; h < hp; h++)
                for (int64_t w = 0; w < wp; w++) {
                    float *dst = patches + (((b * fp + f) * hp + h) * wp + w) * patch;
                    for (int64_t c = 0; c < channels; c++)
                        for (int i = 0; i < p[0]; i++)
                            for (int j = 0; j < p[1]; j++)
                                for (int k = 0; k < p[2]; k++)
                                    *dst++ = lat[(((b * channels + c) * frames + f * p[0] + i) * height + h * p[1] + j) *
                                                     width + w * p[2] + k];
                }
}

/* out[b, c, f*pt+i, h*ph+j, w*pw+k] = y[b, (f,h,w), (i,j,k,c)], the inverse of the output projection's layout. */
static void unpatchify(float *out, const float *y, int64_t batch, int64_t channels, int64_t frames, int64_t height,
                       int64_t width, const int *p) {
    const int64_t fp = frames / p[0], hp = height / p[1], wp = width / p[2];
    const int64_t patch = channels * p[0] * p[1] * p[2];
    for (int64_t b = 0; b < batch; b++)
        for (int64_t f = 0; f < fp; f++)
            for (int64_t h = 0; h < hp; h++)
                for (int64_t w = 0; w < wp; w++) {
                    const float *src = y + (((b * fp + f) * hp + h) * wp + w) * patch;
                    for (int i = 0; i < p[0]; i++)
                        for (int j = 0; j < p[1]; j++)
                            for (int k = 0; k < p[2]; k++)
                                for (int64_t c = 0; c < channels; c++)
                                    out[(((b * channels + c) * frames + f * p[0] + i) * height + h * p[1] + j) * width +
                                        w * p[2] + k] = *src++;
                }
}

/* Cross-attention to the text: softmax(q k^T / sqrt(D)) v per (batch, head), q [B, N, H, D],
 * k, v [B, L, H, D]. `scores` holds one [N, L] matrix. */
static void cross_attention(float *out, const float *q, const float *k, const float *v, int64_t batch,
                            int64_t tokens, int64_t text_len, int heads, int head_dim, float *scores) {
    const int64_t dim = (int64_t)heads * head_dim;
    const float scale = 1.0f / sqrtf((float)head_dim);
    for (int64_t b = 0; b < batch; b++)
        for (int h = 0; h < heads; h++) {
            const float *qb = q + b * tokens * dim + h * head_dim;
            const float *kb = k + b * text_len * dim + h * head_dim, *vb = v + b * text_len * dim + h * head_dim;
            vs_cpu_gemm(0, 1, tokens, text_len, head_dim, scale, qb, dim, kb, dim, 0.0f, scores, text_len);
            vs_cpu_softmax_rows(scores, tokens, text_len);
            vs_cpu_gemm(0, 0, tokens, head_dim, text_len, 1.0f, scores, text_len, vb, dim, 0.0f,
                        out + b * tokens * dim + h * head_dim, dim);
        }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the forward ---------------------------------------------------------------------- */

/* Rows of the FFN hidden layer computed at a time, to bound its memory. */
#define FFN_CHUNK 4096

typedef struct {
    int64_t batch, tokens, text_len; /* B, N, L */
    int fp, hp, wp;                  /* token grid after patching */
    float *x, *h, *q, *k, *v, *a;    /* [B*N, dim] */
    float *ctx, *ck, *cv;            /* [B*L, dim] */
    float *patches;                  /* [B*N, channels * patch volume]: patches in, then the head's output */
    float *ffn;                      /* [min(B*N, FFN_CHUNK), ffn_dim] */
    float *scores;                   /* [N, L] */
    float *sinusoid;                 /* [B, freq_dim] */
    float *temb, *temb_act;          /* [B, dim] */
    float *tproj, *mod;              /* [B, 6*dim]: time projection, one block's modulation */
    float *rope_cos, *rope_sin;      /* [N, head_dim/2] */
    float *block;                    /* the single allocation */
    /* SVG: one block mask for the whole forward, head layouts chosen per layer */
    vs_svg_config svg;
    vs_svg_blocks svg_blocks;
    uint8_t *head_layout;            /* [B*H] */
} workspace;

static vs_status workspace_alloc(workspace *ws, const vs_wan_config *c) {
    const int64_t B = ws->batch, bn = B * ws->tokens, bl = B * ws->text_len, D = c->dim;
    const int64_t volume = (int64_t)c->patch_size[0] * c->patch_size[1] * c->patch_size[2];
    const int64_t patch = volume * (c->in_channels > c->out_channels ? c->in_channels : c->out_channels);
    const int64_t ffn_rows = bn < FFN_CHUNK ? bn : FFN_CHUNK, half = c->head_dim / 2;
    float **slots[] = {&ws->x,        &ws->h,       &ws->q,        &ws->k,       &ws->v,     &ws->a,
                       &ws->ctx,      &ws->ck,      &ws->cv,       &ws->patches, &ws->ffn,   &ws->scores,
                       &ws->sinusoid, &ws->temb,    &ws->temb_act, &ws->tproj,   &ws->mod,   &ws->rope_cos,
                       &ws->rope_sin};
    const int64_t sizes[] = {bn * D,       bn * D, bn * D,   bn * D, bn * D, bn * D, bl * D,
                             bl * D,       bl * D, bn * patch, ffn_rows * c->ffn_dim, ws->tokens * ws->text_len,
                             B * c->freq_dim, B * D, B * D, B * 6 * D, B * 6 * D, ws->tokens * half,
                             ws->tokens * half};
    enum { SLOTS = sizeof sizes / sizeof sizes[0] };
    int64_t total = 0;
    for (int i = 0; i < SLOTS; i++) total += sizes[i];
    ws->block = malloc((size_t)total * sizeof(float));
    if (!ws->block)
        return vs_fail(VS_ERR_OOM, "out of memory for the Wan forward workspace (%lld MiB)",
                       (long long)(total * 4 >> 20));
    float *p = ws->block;
    for (int i = 0; i < SLOTS; i++) *slots[i] = p, p += sizes[i];
    return VS_OK;
}

static vs_status check_inputs(const vs_wan_model *m, const vs_tensor *lat, const float *timesteps,
                              const vs_tensor *text, const vs_tensor *out) {
    static const char *const axes[3] = {"frames", "height", "width"};
    const vs_wan_config *c = &m->config;
    if (m->device != VS_CPU)
        return vs_fail(VS_ERR_UNSUPPORTED, "Wan forward: this path runs on the CPU; the model was loaded for CUDA");
    if (!timesteps) return vs_fail(VS_ERR_INVALID_ARG, "Wan forward: timesteps are required");
    const vs_tensor *ts[3] = {lat, text, out};
    const char *names[3] = {"latents", "text embeddings", "output"};
    const int ranks[3] = {5, 3, 5};
    for (int i = 0; i < 3; i++) {
        if (!ts[i] || !ts[i]->data || ts[i]->dtype != VS_F32 || ts[i]->device != VS_CPU ||
            ts[i]->ndim != ranks[i] || !vs_tensor_is_contiguous(ts[i]))
            return vs_fail(VS_ERR_SHAPE, "Wan forward: %s must be a contiguous f32 CPU tensor of rank %d", names[i],
                           ranks[i]);
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
    return VS_OK;
}

/* Self-attention over the video tokens: q, k, v [B, N, H, D] -> out. */
static vs_status self_attention(const workspace *ws, const vs_wan_config *c, const vs_wan_attention *attn,
                                int layer, float *out, vs_wan_timing *timing) {
    vs_attn_args args;
    memset(&args, 0, sizeof args);
    args.dtype = VS_F32;
    args.q = ws->q, args.k = ws->k, args.v = ws->v, args.out = out;
    args.batch = (int)ws->batch, args.heads = c->num_heads, args.seq_len = (int)ws->tokens;
    args.head_dim = c->head_dim;
    args.scale = 1.0f / sqrtf((float)c->head_dim);
    vs_attn_args_contiguous(&args);
    if (!vs_wan_layer_is_dense(attn, layer, c->num_layers)) {
        /* SVG: profile each head (spatial or temporal), then run the shared band mask. */
        VS_TRY(vs_svg_profile_cpu(&args, &ws->svg, &ws->svg_blocks.view, ws->head_layout, NULL, NULL));
        for (int i = 0; i < args.batch * args.heads; i++) {
            if (ws->head_layout[i] == VS_LAYOUT_TOKEN_MAJOR) timing->heads_temporal++;
            else timing->heads_spatial++;
        }
        args.blocks = &ws->svg_blocks.view;
        args.head_layout = ws->head_layout;
        args.frames = ws->fp, args.tokens_per_frame = ws->hp * ws->wp;
    }
    return vs_cpu_attention(&args);
}

/* q, k from x (through their projections and the RMSNorm over all heads). */
static void project_qk(float *q, float *k, const float *xq, int64_t q_rows, const float *xk, int64_t k_rows,
                       const vs_wan_attn_weights *w, const vs_wan_config *c) {
    linear(q, xq, q_rows, &w->q);
    linear(k, xk, k_rows, &w->k);
    vs_cpu_rmsnorm(q, q, w->norm_q.data, q_rows, c->dim, c->eps);
    vs_cpu_rmsnorm(k, k, w->norm_k.data, k_rows, c->dim, c->eps);
}

static vs_status block_forward(workspace *ws, const vs_wan_config *c, const vs_wan_block_weights *w,
                               const vs_wan_attention *attn, int layer, vs_wan_timing *timing) {
    const int64_t B = ws->batch, N = ws->tokens, L = ws->text_len, bn = B * N, D = c->dim, stride = 6 * D;
    const float *table = w->modulation.data;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < 6 * D; i++) ws->mod[b * stride + i] = table[i] + ws->tproj[b * stride + i];
    const float *shift = ws->mod, *scale = ws->mod + D, *gate = ws->mod + 2 * D;
    const float *c_shift = ws->mod + 3 * D, *c_scale = ws->mod + 4 * D, *c_gate = ws->mod + 5 * D;

    /* 1. self-attention with 3D RoPE, gated residual */
    norm_modulate(ws->h, ws->x, B, N, D, c->eps, shift, scale, stride);
    project_qk(ws->q, ws->k, ws->h, bn, ws->h, bn, &w->self_attn, c);
    linear(ws->v, ws->h, bn, &w->self_attn.v);
    vs_wan_rope_apply(ws->q, B, N, c->num_heads, c->head_dim, ws->rope_cos, ws->rope_sin);
    vs_wan_rope_apply(ws->k, B, N, c->num_heads, c->head_dim, ws->rope_cos, ws->rope_sin);
    double t0 = now_s();
    VS_TRY(self_attention(ws, c, attn, layer, ws->a, timing));
    timing->attention_s += now_s() - t0;
    linear(ws->h, ws->a, bn, &w->self_attn.o);
    residual(ws->x, ws->h, B, N, D, gate, stride);

    /* 2. cross-attention to the text, plain residual */
    if (c->cross_attn_norm) vs_cpu_layernorm(ws->h, ws->x, w->norm2_weight.data, w->norm2_bias.data, bn, D, c->eps);
    else memcpy(ws->h, ws->x, (size_t)(bn * D) * sizeof(float));
    project_qk(ws->q, ws->ck, ws->h, bn, ws->ctx, B * L, &w->cross_attn, c);
    linear(ws->cv, ws->ctx, B * L, &w->cross_attn.v);
    t0 = now_s();
    cross_attention(ws->a, ws->q, ws->ck, ws->cv, B, N, L, c->num_heads, c->head_dim, ws->scores);
    timing->attention_s += now_s() - t0;
    linear(ws->h, ws->a, bn, &w->cross_attn.o);
    residual(ws->x, ws->h, B, N, D, NULL, 0);

    /* 3. feed-forward (GELU tanh), gated residual; rows in chunks to bound the hidden layer */
    norm_modulate(ws->h, ws->x, B, N, D, c->eps, c_shift, c_scale, stride);
    for (int64_t r = 0; r < bn; r += FFN_CHUNK) {
        const int64_t rows = bn - r < FFN_CHUNK ? bn - r : FFN_CHUNK;
        linear(ws->ffn, ws->h + r * D, rows, &w->ffn_in);
        vs_cpu_gelu_tanh(ws->ffn, rows * c->ffn_dim);
        linear(ws->a + r * D, ws->ffn, rows, &w->ffn_out);
    }
    residual(ws->x, ws->a, B, N, D, c_gate, stride);
    return VS_OK;
}

/* temb = MLP(sinusoid(t)), tproj = Linear(silu(temb)); ctx = MLP_gelu_tanh(text). */
static void embed_conditions(workspace *ws, const vs_wan_config *c, const vs_wan_weights *w,
                             const float *timesteps, const float *text) {
    const int64_t B = ws->batch, bl = B * ws->text_len;
    for (int64_t b = 0; b < B; b++) vs_wan_timestep_embedding(ws->sinusoid + b * c->freq_dim, timesteps[b], c->freq_dim);
    linear(ws->temb_act, ws->sinusoid, B, &w->time_in);
    vs_cpu_silu(ws->temb_act, B * c->dim);
    linear(ws->temb, ws->temb_act, B, &w->time_out);
    memcpy(ws->temb_act, ws->temb, (size_t)(B * c->dim) * sizeof(float));
    vs_cpu_silu(ws->temb_act, B * c->dim);
    linear(ws->tproj, ws->temb_act, B, &w->time_proj);

    linear(ws->ck, text, bl, &w->text_in);
    vs_cpu_gelu_tanh(ws->ck, bl * c->dim);
    linear(ws->ctx, ws->ck, bl, &w->text_out);
}

vs_status vs_wan_forward(const vs_wan_model *model, const vs_tensor *latents, const float *timesteps,
                         const vs_tensor *text, const vs_wan_attention *attn, vs_tensor *out,
                         vs_wan_timing *timing) {
    VS_TRY(check_inputs(model, latents, timesteps, text, out));
    const vs_wan_config *c = &model->config;
    const vs_wan_weights *w = &model->weights;
    const int *p = c->patch_size;
    const int64_t *s = latents->shape;
    vs_wan_timing local = {0};
    if (!timing) timing = &local;
    double start = now_s();

    workspace ws;
    memset(&ws, 0, sizeof ws);
    ws.batch = s[0], ws.text_len = text->shape[1];
    ws.fp = (int)(s[2] / p[0]), ws.hp = (int)(s[3] / p[1]), ws.wp = (int)(s[4] / p[2]);
    ws.tokens = (int64_t)ws.fp * ws.hp * ws.wp;
    VS_TRY(workspace_alloc(&ws, c));

    vs_status st = VS_OK;
    if (attn && attn->mode == VS_WAN_ATTN_SVG) {
        ws.svg = vs_svg_config_default(ws.fp, ws.hp * ws.wp, 0, attn->density);
        st = vs_svg_blocks_build(&ws.svg, (int)ws.tokens, &ws.svg_blocks);
        if (st == VS_OK && !(ws.head_layout = malloc((size_t)(ws.batch * c->num_heads))))
            st = vs_fail(VS_ERR_OOM, "out of memory");
        if (st != VS_OK) goto done;
    }

    patchify(ws.patches, latents->data, ws.batch, c->in_channels, s[2], s[3], s[4], p);
    linear(ws.x, ws.patches, ws.batch * ws.tokens, &w->patch_embed);
    embed_conditions(&ws, c, w, timesteps, text->data);
    vs_wan_rope_table(c->head_dim, ws.fp, ws.hp, ws.wp, ws.rope_cos, ws.rope_sin);

    for (int l = 0; l < c->num_layers && st == VS_OK; l++) {
        st = block_forward(&ws, c, &w->blocks[l], attn, l, timing);
        if (st != VS_OK) vs_fail_context(st, "Wan block %d", l);
    }
    if (st == VS_OK) {
        /* Output head: (shift, scale) = table + temb (not the time projection). */
        const int64_t D = c->dim, bn = ws.batch * ws.tokens;
        const float *table = w->head_modulation.data;
        for (int64_t b = 0; b < ws.batch; b++)
            for (int64_t i = 0; i < 2 * D; i++) ws.mod[b * 2 * D + i] = table[i] + ws.temb[b * D + i % D];
        norm_modulate(ws.h, ws.x, ws.batch, ws.tokens, D, c->eps, ws.mod, ws.mod + D, 2 * D);
        linear(ws.patches, ws.h, bn, &w->head);
        unpatchify(out->data, ws.patches, ws.batch, c->out_channels, s[2], s[3], s[4], p);
    }
done:
    free(ws.block);
    free(ws.head_layout);
    vs_svg_blocks_free(&ws.svg_blocks);
    timing->total_s += now_s() - start;
    return st;
}
