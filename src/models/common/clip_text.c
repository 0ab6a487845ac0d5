/* CLIP's text transformer (see clip_text.h). */
#include "models/common/clip_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/common/text_weights.h"
#include "ops/ops.h"

#define QUICK_GELU_ALPHA 1.702f

typedef struct {
    vs_tensor q, q_bias, k, k_bias, v, v_bias, o, o_bias, ln1, ln1_bias;
    vs_tensor fc1, fc1_bias, fc2, fc2_bias, ln2, ln2_bias;
} clip_layer;

struct vs_clip_text {
    vs_clip_text_config cfg;
    vs_device device;
    vs_tensor token_embed, pos_embed, final_ln, final_ln_bias, causal;
    clip_layer *layers;
    vs_arena *arena;
};

static vs_status read_config(vs_clip_text_config *c, const char *dir) {
    char path[4096 + 16];
    snprintf(path, sizeof path, "%s/config.json", dir);
    vs_json_doc *doc;
    VS_TRY(vs_json_parse_file(&doc, path));
    const vs_json *r = vs_json_root(doc);
    const vs_json *text = vs_json_get(r, "text_config"); /* a full CLIPConfig nests the text part */
    if (text && vs_json_typeof(text) == VS_JSON_OBJECT) r = text;
    struct { const char *key; int *dst; int64_t fallback; } ints[] = {
        {"vocab_size", &c->vocab_size, -1}, {"hidden_size", &c->hidden_size, -1},
        {"intermediate_size", &c->intermediate_size, -1}, {"num_hidden_layers", &c->num_layers, -1},
        {"num_attention_heads", &c->num_heads, -1}, {"max_position_embeddings", &c->max_positions, 77},
        {"eos_token_id", &c->eos_token_id, 2},
    };
    vs_status s = VS_OK;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && s == VS_OK; i++) {
        int64_t v = vs_json_get_int(r, ints[i].key, ints[i].fallback);
        if (v <= 0 || v > (1 << 24)) s = vs_fail(VS_ERR_FORMAT, "%s: \"%s\" is missing or out of range", path, ints[i].key);
        *ints[i].dst = (int)v;
    }
    if (s == VS_OK && c->hidden_size % c->num_heads)
        s = vs_fail(VS_ERR_FORMAT, "%s: hidden_size %d does not split into %d heads", path, c->hidden_size, c->num_heads);
    c->eps = (float)vs_json_get_number(r, "layer_norm_eps", 1e-5);
    const char *act = vs_json_get_string(r, "hidden_act", "quick_gelu");
    c->quick_gelu = !strcmp(act, "quick_gelu");
    if (s == VS_OK && !c->quick_gelu && strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh"))
        s = vs_fail(VS_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (quick_gelu, gelu_new, gelu_pytorch_tanh)",
                    path, act);
    vs_json_free(doc);
    return s;
}

/* A weight read as f32 and scaled before it is placed (the folded constants). */
static vs_status load_scaled(const vs_clip_text *m, const vs_safetensors *st, const char *name, int ndim, const int64_t *shape,
                             vs_dtype dtype, float scale, vs_tensor *out) {
    if (scale == 1.0f) return vs_safetensors_load(st, name, dtype, m->device, ndim, shape, out);
    vs_tensor host;
    VS_TRY(vs_safetensors_load(st, name, VS_F32, VS_CPU, ndim, shape, &host));
    float *w = host.data;
    for (int64_t i = 0; i < vs_tensor_numel(&host); i++) w[i] *= scale;
    vs_status s = vs_text_weight_place(w, ndim, shape, dtype, m->device, out);
    vs_tensor_free(&host);
    return s;
}

static vs_status load_weights(vs_clip_text *m, const vs_safetensors *st) {
    const vs_clip_text_config *c = &m->cfg;
    const int64_t d = c->hidden_size, ff = c->intermediate_size;
    const vs_dtype act = vs_text_act_dtype(m->device);
    const float q_scale = 1.0f / sqrtf((float)(d / c->num_heads)), in_scale = c->quick_gelu ? QUICK_GELU_ALPHA : 1.0f;
    /* saved as "text_model.*" by CLIPTextModel until transformers 5, without the prefix since */
    const char *prefix = vs_safetensors_find(st, "text_model.embeddings.token_embedding.weight") ? "text_model." : "";
    char n[160];
#define NAME(suffix) (snprintf(n, sizeof n, "%s%s", prefix, suffix), n)
    VS_TRY(vs_safetensors_load(st, NAME("embeddings.token_embedding.weight"), act, m->device, 2,
                               (int64_t[]){c->vocab_size, d}, &m->token_embed));
    VS_TRY(vs_safetensors_load(st, NAME("embeddings.position_embedding.weight"), VS_F32, m->device, 2,
                               (int64_t[]){c->max_positions, d}, &m->pos_embed));
    VS_TRY(vs_safetensors_load(st, NAME("final_layer_norm.weight"), VS_F32, m->device, 1, &d, &m->final_ln));
    VS_TRY(vs_safetensors_load(st, NAME("final_layer_norm.bias"), VS_F32, m->device, 1, &d, &m->final_ln_bias));
#undef NAME
    for (int i = 0; i < c->num_layers; i++) {
        clip_layer *l = &m->layers[i];
#define W(field, suffix, ndim, a, b, dtype, scale)                                   \
    snprintf(n, sizeof n, "%sencoder.layers.%d.%s", prefix, i, suffix);           \
    VS_TRY(load_scaled(m, st, n, ndim, (int64_t[]){a, b}, dtype, scale, &l->field))
        W(q, "self_attn.q_proj.weight", 2, d, d, act, q_scale);
        W(q_bias, "self_attn.q_proj.bias", 1, d, 0, act, q_scale);
        W(k, "self_attn.k_proj.weight", 2, d, d, act, 1.0f);
        W(k_bias, "self_attn.k_proj.bias", 1, d, 0, act, 1.0f);
        W(v, "self_attn.v_proj.weight", 2, d, d, act, 1.0f);
        W(v_bias, "self_attn.v_proj.bias", 1, d, 0, act, 1.0f);
        W(o, "self_attn.out_proj.weight", 2, d, d, act, 1.0f);
        W(o_bias, "self_attn.out_proj.bias", 1, d, 0, act, 1.0f);
        W(ln1, "layer_norm1.weight", 1, d, 0, VS_F32, 1.0f);
        W(ln1_bias, "layer_norm1.bias", 1, d, 0, VS_F32, 1.0f);
        W(fc1, "mlp.fc1.weight", 2, ff, d, act, in_scale);
        W(fc1_bias, "mlp.fc1.bias", 1, ff, 0, act, in_scale);
        W(fc2, "mlp.fc2.weight", 2, d, ff, act, 1.0f / in_scale);
        W(fc2_bias, "mlp.fc2.bias", 1, d, 0, act, 1.0f);
        W(ln2, "layer_norm2.weight", 1, d, 0, VS_F32, 1.0f);
        W(ln2_bias, "layer_norm2.bias", 1, d, 0, VS_F32, 1.0f);
#undef W
    }
    return vs_text_causal_table(c->num_heads, m->device, &m->causal);
}

vs_status vs_clip_text_load(vs_clip_text **out, const char *dir, vs_device device) {
    *out = NULL;
    vs_clip_text *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "CLIP text: out of memory");
    m->device = device;
    vs_status s = read_config(&m->cfg, dir);
    if (s == VS_OK && !(m->layers = calloc((size_t)m->cfg.num_layers, sizeof *m->layers)))
        s = vs_fail(VS_ERR_OOM, "CLIP text: out of memory");
    vs_safetensors *st = NULL;
    if (s == VS_OK) s = vs_safetensors_open(&st, dir);
    if (s == VS_OK) s = load_weights(m, st);
    vs_safetensors_close(st);
    if (s != VS_OK) {
        vs_fail_context(s, "loading the CLIP text encoder from %s", dir);
        vs_clip_text_free(m);
        return s;
    }
    *out = m;
    return VS_OK;
}

/* Every weight in its loaded layout, uniform in +-1/sqrt(columns) (biases +-0.02); norms in 1 +- 0.1. */
static vs_status random_weights(vs_clip_text *m, uint64_t seed) {
    const vs_clip_text_config *c = &m->cfg;
    const int64_t d = c->hidden_size, ff = c->intermediate_size;
    const vs_dtype act = vs_text_act_dtype(m->device);
#define RAND(t, dtype, rows, cols, lo, hi)                                                                  \
    VS_TRY(vs_text_weight_random((cols) ? 2 : 1, (int64_t[]){rows, cols}, dtype, m->device, seed++, lo, hi, t))
#define MATRIX(t, rows, cols) RAND(t, act, rows, cols, -1.0f / sqrtf((float)(cols)), 1.0f / sqrtf((float)(cols)))
#define BIAS(t, dtype, n) RAND(t, dtype, n, 0, -0.02f, 0.02f)
#define NORM(t, n) RAND(t, VS_F32, n, 0, 0.9f, 1.1f)
    RAND(&m->token_embed, act, c->vocab_size, d, -1.0f, 1.0f);
    RAND(&m->pos_embed, VS_F32, c->max_positions, d, -1.0f, 1.0f);
    NORM(&m->final_ln, d);
    BIAS(&m->final_ln_bias, VS_F32, d);
    for (int i = 0; i < c->num_layers; i++) {
        clip_layer *l = &m->layers[i];
        vs_tensor *const matrices[] = {&l->q, &l->k, &l->v, &l->o}, *const biases[] = {&l->q_bias, &l->k_bias, &l->v_bias, &l->o_bias};
        for (int j = 0; j < 4; j++) {
            MATRIX(matrices[j], d, d);
            BIAS(biases[j], act, d);
        }
        MATRIX(&l->fc1, ff, d);
        MATRIX(&l->fc2, d, ff);
        BIAS(&l->fc1_bias, act, ff);
        BIAS(&l->fc2_bias, act, d);
        NORM(&l->ln1, d);
        NORM(&l->ln2, d);
        BIAS(&l->ln1_bias, VS_F32, d);
        BIAS(&l->ln2_bias, VS_F32, d);
    }
#undef NORM
#undef BIAS
#undef MATRIX
#undef RAND
    return vs_text_causal_table(c->num_heads, m->device, &m->causal);
}

vs_status vs_clip_text_random(vs_clip_text **out, const vs_clip_text_config *config, vs_device device, uint64_t seed) {
    *out = NULL;
    vs_clip_text *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "CLIP text: out of memory");
    m->device = device, m->cfg = *config;
    vs_status s = (m->layers = calloc((size_t)config->num_layers, sizeof *m->layers)) ? VS_OK
                                                                                      : vs_fail(VS_ERR_OOM, "CLIP text: out of memory");
    if (s == VS_OK) s = random_weights(m, seed);
    if (s != VS_OK) {
        vs_clip_text_free(m);
        return s;
    }
    *out = m;
    return VS_OK;
}

void vs_clip_text_free(vs_clip_text *m) {
    if (!m) return;
    vs_tensor *top[] = {&m->token_embed, &m->pos_embed, &m->final_ln, &m->final_ln_bias, &m->causal};
    for (size_t t = 0; t < sizeof top / sizeof top[0]; t++) vs_tensor_free(top[t]);
    for (int i = 0; m->layers && i < m->cfg.num_layers; i++) {
        clip_layer *l = &m->layers[i];
        vs_tensor *all[] = {&l->q, &l->q_bias, &l->k, &l->k_bias, &l->v, &l->v_bias, &l->o, &l->o_bias, &l->ln1, &l->ln1_bias,
                            &l->fc1, &l->fc1_bias, &l->fc2, &l->fc2_bias, &l->ln2, &l->ln2_bias};
        for (size_t t = 0; t < sizeof all / sizeof all[0]; t++) vs_tensor_free(all[t]);
    }
    free(m->layers);
    vs_arena_free(m->arena);
    free(m);
}

const vs_clip_text_config *vs_clip_text_get_config(const vs_clip_text *m) { return &m->cfg; }

/* ---- the forward ---------------------------------------------------------------------- */

#define TAKE VS_TEXT_TAKE

static size_t encode_bytes(const vs_clip_text_config *c, vs_device dev, int64_t B, int64_t N) {
    const int64_t R = B * N, act = (int64_t)vs_dtype_size(vs_text_act_dtype(dev)), d = c->hidden_size;
    size_t persistent = 2 * vs_text_aligned(R * 4) + vs_text_aligned((2 * N - 1) * 4) + vs_text_aligned(R * d * 4) +
                        vs_text_aligned(R * d * act) + vs_text_aligned(R * d * 4);
    size_t attention = vs_text_attention_bytes(B, N, c->num_heads, d / c->num_heads, dev);
    size_t mlp = vs_text_aligned(R * c->intermediate_size * act) + vs_text_aligned(R * c->intermediate_size * 4);
    return persistent + (attention > mlp ? attention : mlp);
}

/* y (F32 [B, N, d]) = final LayerNorm of the transformer's output for ids. */
static vs_status encode(const vs_clip_text *m, const int32_t *ids, int64_t B, int64_t N, vs_tensor *y) {
    const vs_clip_text_config *c = &m->cfg;
    const vs_device dev = m->device;
    const vs_dtype act = vs_text_act_dtype(dev);
    const int64_t d = c->hidden_size, H = c->num_heads, D = d / H;
    vs_arena *arena = m->arena;
    vs_tensor ids_d, mask_d, buckets_d, x, h;
    VS_TRY(vs_text_upload_ids(arena, ids, NULL, B, N, &ids_d, &mask_d, &buckets_d));
    VS_TRY(TAKE(arena, VS_F32, &x, B, N, d));
    VS_TRY(TAKE(arena, act, &h, B, N, d));
    VS_TRY(vs_op_embedding(&x, &m->token_embed, &ids_d));
    vs_tensor pos = m->pos_embed; /* rows 0..N-1, the same for every sequence */
    pos.ndim = 3;
    pos.shape[0] = B, pos.shape[1] = N, pos.shape[2] = d;
    pos.stride[0] = 0, pos.stride[1] = d, pos.stride[2] = 1;
    VS_TRY(vs_op_add(&x, &x, &pos));
    for (int li = 0; li < c->num_layers; li++) {
        const clip_layer *l = &m->layers[li];
        const size_t mark = vs_arena_mark(arena);
        /* x += Out . softmax(Q K^T / sqrt(D) + causal) V, on h = LayerNorm1(x) */
        const vs_text_attn_weights w = {&l->q, &l->q_bias, &l->k, &l->k_bias, &l->v, &l->v_bias, &l->o, &l->o_bias};
        VS_TRY(vs_op_layernorm_modulate(&h, &x, &l->ln1, &l->ln1_bias, NULL, NULL, c->eps));
        VS_TRY(vs_text_causal_attention(arena, &x, &h, &w, (int)H, (int)D, NULL, NULL, &m->causal, &buckets_d, &mask_d));
        vs_arena_release(arena, mark);

        /* x += fc2 . act(fc1 h), on h = LayerNorm2(x) */
        vs_tensor a, f32;
        VS_TRY(TAKE(arena, act, &a, B, N, c->intermediate_size));
        VS_TRY(TAKE(arena, VS_F32, &f32, B, N, c->intermediate_size));
        VS_TRY(vs_op_layernorm_modulate(&h, &x, &l->ln2, &l->ln2_bias, NULL, NULL, c->eps));
        VS_TRY(vs_op_linear(&a, &h, &l->fc1, &l->fc1_bias, c->quick_gelu ? VS_EPILOGUE_NONE : VS_EPILOGUE_GELU_TANH));
        if (c->quick_gelu) VS_TRY(vs_text_silu(&a, &f32)); /* silu(1.702 u) = 1.702 quick_gelu(u) */
        VS_TRY(vs_op_linear_residual(&x, &a, &l->fc2, &l->fc2_bias, NULL));
        vs_arena_release(arena, mark);
    }
    VS_TRY(vs_op_layernorm_modulate(&h, &x, &m->final_ln, &m->final_ln_bias, NULL, NULL, c->eps));
    return h.dtype == VS_F32 ? vs_op_copy(y, &h) : vs_op_convert(y, &h);
}

vs_status vs_clip_text_encode(const vs_clip_text *m, const int32_t *ids, int batch, int n, float *pooled, float *hidden) {
    const vs_clip_text_config *c = &m->cfg;
    VS_TRY(vs_text_check_tokens("CLIP text", ids, NULL, batch, n, c->vocab_size));
    if (n > c->max_positions)
        return vs_fail(VS_ERR_INVALID_ARG, "CLIP text: %d tokens exceed max_position_embeddings %d", n, c->max_positions);
    const int64_t B = batch, N = n, d = c->hidden_size;
    vs_clip_text *mm = (vs_clip_text *)m; /* the arena is a cache of the otherwise const model */
    VS_TRY(vs_text_arena_reserve(&mm->arena, "CLIP text activations", m->device, encode_bytes(c, m->device, B, N)));
    float *last = hidden ? hidden : malloc((size_t)(B * N * d) * sizeof *last);
    if (!last) return vs_fail(VS_ERR_OOM, "CLIP text: out of memory");
    vs_tensor y, y_host = vs_tensor_view(last, VS_F32, VS_CPU, 3, (int64_t[]){B, N, d});
    vs_status s = TAKE(m->arena, VS_F32, &y, B, N, d);
    if (s == VS_OK) s = encode(m, ids, B, N, &y);
    if (s == VS_OK) s = vs_op_copy(&y_host, &y);
    if (s == VS_OK) s = vs_op_sync(m->device);
    for (int64_t b = 0; b < B && s == VS_OK; b++) { /* pooled: the EOS token's row, as transformers picks it */
        const int32_t *row = ids + b * N;
        int64_t at = 0;
        for (int64_t i = 1; i < N; i++)
            if (c->eos_token_id == 2 ? row[i] > row[at] : (row[at] != c->eos_token_id && row[i] == c->eos_token_id)) at = i;
        if (c->eos_token_id != 2 && row[at] != c->eos_token_id) at = 0;
        memcpy(pooled + b * d, last + (b * N + at) * d, (size_t)d * sizeof *pooled);
    }
    if (!hidden) free(last);
    if (s != VS_OK) return vs_fail_context(s, "CLIP text encoder, %d x %d tokens", batch, n);
    return VS_OK;
}
