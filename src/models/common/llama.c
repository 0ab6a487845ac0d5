/* The Llama text encoder (see llama.h for the math and the load-time layout). */
#include "models/common/llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/json.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/common/text_weights.h"
#include "ops/ops.h"

typedef struct {
    vs_tensor q, k, v, o, attn_norm;
    vs_tensor gate, up, down, mlp_norm;
} llama_layer;

struct vs_llama {
    vs_llama_config cfg;
    vs_device device;
    int layers_run, final_norm_applied; /* the layers that feed the chosen hidden state */
    vs_tensor embed, norm;
    vs_tensor causal; /* F32 [2, heads]: bias 0 for keys at or before the query, -1e30 after */
    llama_layer *layers;
    vs_arena *arena; /* activations of one encode */
};

static vs_status read_config(vs_llama_config *c, const char *dir) {
    char path[4096 + 16];
    snprintf(path, sizeof path, "%s/config.json", dir);
    vs_json_doc *doc;
    VS_TRY(vs_json_parse_file(&doc, path));
    const vs_json *r = vs_json_root(doc);
    struct { const char *key; int *dst; int64_t fallback; } ints[] = {
        {"vocab_size", &c->vocab_size, -1}, {"hidden_size", &c->hidden_size, -1},
        {"intermediate_size", &c->intermediate_size, -1}, {"num_hidden_layers", &c->num_layers, -1},
        {"num_attention_heads", &c->num_heads, -1},
    };
    vs_status s = VS_OK;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && s == VS_OK; i++) {
        int64_t v = vs_json_get_int(r, ints[i].key, ints[i].fallback);
        if (v <= 0 || v > (1 << 24)) s = vs_fail(VS_ERR_FORMAT, "%s: \"%s\" is missing or out of range", path, ints[i].key);
        *ints[i].dst = (int)v;
    }
    if (s == VS_OK) {
        c->num_kv_heads = (int)vs_json_get_int(r, "num_key_value_heads", c->num_heads);
        c->head_dim = (int)vs_json_get_int(r, "head_dim", c->hidden_size / c->num_heads);
        if (c->num_kv_heads <= 0 || c->num_heads % c->num_kv_heads || c->head_dim <= 0 || c->head_dim % 2)
            s = vs_fail(VS_ERR_FORMAT, "%s: %d attention heads, %d key/value heads and head_dim %d do not fit", path,
                        c->num_heads, c->num_kv_heads, c->head_dim);
    }
    c->eps = (float)vs_json_get_number(r, "rms_norm_eps", 1e-6);
    /* RoPE: top-level rope_theta / rope_scaling, or transformers 5's rope_parameters */
    const vs_json *rope = vs_json_get(r, "rope_parameters");
    if (!rope || vs_json_typeof(rope) != VS_JSON_OBJECT) rope = vs_json_get(r, "rope_scaling");
    c->rope_theta = (float)vs_json_get_number(r, "rope_theta", vs_json_get_number(rope, "rope_theta", 10000.0));
    const char *rope_type = rope ? vs_json_get_string(rope, "rope_type", vs_json_get_string(rope, "type", "default")) : "default";
    if (s == VS_OK && !strcmp(rope_type, "llama3")) {
        c->rope_factor = (float)vs_json_get_number(rope, "factor", 0);
        c->rope_low_freq_factor = (float)vs_json_get_number(rope, "low_freq_factor", 1);
        c->rope_high_freq_factor = (float)vs_json_get_number(rope, "high_freq_factor", 4);
        c->rope_original_max_positions = (int)vs_json_get_int(rope, "original_max_position_embeddings", 8192);
        if (!(c->rope_factor > 0) || !(c->rope_high_freq_factor > c->rope_low_freq_factor) || c->rope_original_max_positions <= 0)
            s = vs_fail(VS_ERR_FORMAT, "%s: llama3 rope_scaling needs factor > 0 and high_freq_factor > low_freq_factor", path);
    } else if (s == VS_OK && strcmp(rope_type, "default")) {
        s = vs_fail(VS_ERR_UNSUPPORTED, "%s: rope type \"%s\" is not supported (default or llama3)", path, rope_type);
    }
    const char *act = vs_json_get_string(r, "hidden_act", "silu");
    if (s == VS_OK && strcmp(act, "silu"))
        s = vs_fail(VS_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (Llama uses silu)", path, act);
    const vs_json *ab = vs_json_get(r, "attention_bias"), *mb = vs_json_get(r, "mlp_bias");
    if (s == VS_OK && ((ab && vs_json_bool(ab)) || (mb && vs_json_bool(mb))))
        s = vs_fail(VS_ERR_UNSUPPORTED, "%s: attention_bias / mlp_bias are not supported", path);
    vs_json_free(doc);
    return s;
}

/* The inverse frequency of RoPE pair j, in f32 as transformers computes it
 * (the llama3 rope type rescales the long wavelengths). */
static float inv_freq(const vs_llama_config *c, int j) {
    float f = 1.0f / powf(c->rope_theta, (float)(2 * j) / (float)c->head_dim);
    if (c->rope_factor <= 0) return f;
    const float wavelen = 2.0f * (float)M_PI / f, old = (float)c->rope_original_max_positions;
    const float low_wavelen = old / c->rope_low_freq_factor, high_wavelen = old / c->rope_high_freq_factor;
    if (wavelen < high_wavelen) return f;
    if (wavelen > low_wavelen) return f / c->rope_factor;
    const float smooth = (old / wavelen - c->rope_low_freq_factor) / (c->rope_high_freq_factor - c->rope_low_freq_factor);
    return (1 - smooth) * f / c->rope_factor + smooth * f;
}

/* Q or K rows [heads * D, in] reordered within each head, rotate-half pairs
 * (j, j + D/2) made interleaved (2j, 2j + 1), scaled; K's heads repeated
 * `repeat` times (GQA). Returns a new host array of heads * repeat * D rows. */
static float *rope_rows(const float *w, int heads, int repeat, int D, int64_t in, float scale) {
    float *out = malloc((size_t)heads * repeat * D * in * sizeof *out);
    if (!out) return NULL;
    for (int h = 0; h < heads * repeat; h++) {
        const float *src = w + (int64_t)(h / repeat) * D * in;
        for (int j = 0; j < D / 2; j++)
            for (int half = 0; half < 2; half++) {
                const float *row = src + (int64_t)(j + half * D / 2) * in;
                float *dst = out + ((int64_t)h * D + 2 * j + half) * in;
                for (int64_t i = 0; i < in; i++) dst[i] = row[i] * scale;
            }
    }
    return out;
}

/* V rows [heads * D, in] with each head repeated `repeat` times. */
static float *repeat_rows(const float *w, int heads, int repeat, int D, int64_t in) {
    float *out = malloc((size_t)heads * repeat * D * in * sizeof *out);
    if (!out) return NULL;
    for (int h = 0; h < heads * repeat; h++)
        memcpy(out + (int64_t)h * D * in, w + (int64_t)(h / repeat) * D * in, (size_t)(D * in) * sizeof *out);
    return out;
}

typedef float *(*rows_fn)(const float *w, const vs_llama_config *c);
static float *q_rows(const float *w, const vs_llama_config *c) {
    return rope_rows(w, c->num_heads, 1, c->head_dim, c->hidden_size, 1.0f / sqrtf((float)c->head_dim));
}
static float *k_rows(const float *w, const vs_llama_config *c) {
    return rope_rows(w, c->num_kv_heads, c->num_heads / c->num_kv_heads, c->head_dim, c->hidden_size, 1.0f);
}
static float *v_rows(const float *w, const vs_llama_config *c) {
    return repeat_rows(w, c->num_kv_heads, c->num_heads / c->num_kv_heads, c->head_dim, c->hidden_size);
}

/* An attention projection: read [kv_or_q_heads * D, hidden] as f32, rearranged, then placed. */
static vs_status load_attn(const vs_llama *m, const vs_safetensors *st, const char *name, int heads, rows_fn fn,
                           vs_tensor *out) {
    const vs_llama_config *c = &m->cfg;
    vs_tensor host;
    VS_TRY(vs_safetensors_load(st, name, VS_F32, VS_CPU, 2, (int64_t[]){(int64_t)heads * c->head_dim, c->hidden_size}, &host));
    float *w = fn(host.data, c);
    vs_tensor_free(&host);
    if (!w) return vs_fail(VS_ERR_OOM, "Llama: out of memory rearranging %s", name);
    vs_status s = vs_text_weight_place(w, 2, (int64_t[]){(int64_t)c->num_heads * c->head_dim, c->hidden_size},
                                       vs_text_act_dtype(m->device), m->device, out);
    free(w);
    return s;
}

static vs_status load_weights(vs_llama *m, const vs_safetensors *st) {
    const vs_llama_config *c = &m->cfg;
    const int64_t d = c->hidden_size, ff = c->intermediate_size, qd = (int64_t)c->num_heads * c->head_dim;
    const vs_dtype act = vs_text_act_dtype(m->device);
    const char *prefix = vs_safetensors_find(st, "model.embed_tokens.weight") ? "model." : "";
    char n[200];
    snprintf(n, sizeof n, "%sembed_tokens.weight", prefix);
    VS_TRY(vs_safetensors_load(st, n, act, m->device, 2, (int64_t[]){c->vocab_size, d}, &m->embed));
    if (m->final_norm_applied) {
        snprintf(n, sizeof n, "%snorm.weight", prefix);
        VS_TRY(vs_safetensors_load(st, n, VS_F32, m->device, 1, &d, &m->norm));
    }
    for (int i = 0; i < m->layers_run; i++) {
        llama_layer *l = &m->layers[i];
#define NAME(suffix) (snprintf(n, sizeof n, "%slayers.%d.%s", prefix, i, suffix), n)
        VS_TRY(load_attn(m, st, NAME("self_attn.q_proj.weight"), c->num_heads, q_rows, &l->q));
        VS_TRY(load_attn(m, st, NAME("self_attn.k_proj.weight"), c->num_kv_heads, k_rows, &l->k));
        VS_TRY(load_attn(m, st, NAME("self_attn.v_proj.weight"), c->num_kv_heads, v_rows, &l->v));
        VS_TRY(vs_safetensors_load(st, NAME("self_attn.o_proj.weight"), act, m->device, 2, (int64_t[]){d, qd}, &l->o));
        VS_TRY(vs_safetensors_load(st, NAME("mlp.gate_proj.weight"), act, m->device, 2, (int64_t[]){ff, d}, &l->gate));
        VS_TRY(vs_safetensors_load(st, NAME("mlp.up_proj.weight"), act, m->device, 2, (int64_t[]){ff, d}, &l->up));
        VS_TRY(vs_safetensors_load(st, NAME("mlp.down_proj.weight"), act, m->device, 2, (int64_t[]){d, ff}, &l->down));
        VS_TRY(vs_safetensors_load(st, NAME("input_layernorm.weight"), VS_F32, m->device, 1, &d, &l->attn_norm));
        VS_TRY(vs_safetensors_load(st, NAME("post_attention_layernorm.weight"), VS_F32, m->device, 1, &d, &l->mlp_norm));
#undef NAME
    }
    return vs_text_causal_table(c->num_heads, m->device, &m->causal);
}

vs_status vs_llama_load(vs_llama **out, const char *dir, vs_device device, int skip) {
    *out = NULL;
    vs_llama *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "Llama: out of memory");
    m->device = device;
    vs_status s = read_config(&m->cfg, dir);
    if (s == VS_OK && (skip < 0 || skip >= m->cfg.num_layers))
        s = vs_fail(VS_ERR_INVALID_ARG, "Llama: num_hidden_layers_to_skip %d is outside 0..%d", skip, m->cfg.num_layers - 1);
    if (s == VS_OK) {
        m->layers_run = m->cfg.num_layers - skip;
        m->final_norm_applied = skip == 0;
        if (!(m->layers = calloc((size_t)m->layers_run, sizeof *m->layers))) s = vs_fail(VS_ERR_OOM, "Llama: out of memory");
    }
    vs_safetensors *st = NULL;
    if (s == VS_OK) s = vs_safetensors_open(&st, dir);
    if (s == VS_OK) s = load_weights(m, st);
    vs_safetensors_close(st);
    if (s != VS_OK) {
        vs_fail_context(s, "loading the Llama text encoder from %s", dir);
        vs_llama_free(m);
        return s;
    }
    *out = m;
    return VS_OK;
}

/* Every weight in its loaded layout (K and V already per query head), uniform in +-1/sqrt(columns); norms in
 * 1 +- 0.1. */
static vs_status random_weights(vs_llama *m, uint64_t seed) {
    const vs_llama_config *c = &m->cfg;
    const int64_t d = c->hidden_size, ff = c->intermediate_size, qd = (int64_t)c->num_heads * c->head_dim;
    const vs_dtype act = vs_text_act_dtype(m->device);
#define RAND(t, dtype, rows, cols)                                                                          \
    VS_TRY(vs_text_weight_random((cols) ? 2 : 1, (int64_t[]){rows, cols}, dtype, m->device, seed++,        \
                                 (cols) ? -1.0f / sqrtf((float)(cols)) : 0.9f, (cols) ? 1.0f / sqrtf((float)(cols)) : 1.1f, t))
    RAND(&m->embed, act, c->vocab_size, d);
    if (m->final_norm_applied) RAND(&m->norm, VS_F32, d, 0);
    for (int i = 0; i < m->layers_run; i++) {
        llama_layer *l = &m->layers[i];
        RAND(&l->q, act, qd, d);
        RAND(&l->k, act, qd, d);
        RAND(&l->v, act, qd, d);
        RAND(&l->o, act, d, qd);
        RAND(&l->gate, act, ff, d);
        RAND(&l->up, act, ff, d);
        RAND(&l->down, act, d, ff);
        RAND(&l->attn_norm, VS_F32, d, 0);
        RAND(&l->mlp_norm, VS_F32, d, 0);
    }
#undef RAND
    return vs_text_causal_table(c->num_heads, m->device, &m->causal);
}

vs_status vs_llama_random(vs_llama **out, const vs_llama_config *config, vs_device device, int skip, uint64_t seed) {
    *out = NULL;
    vs_llama *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "Llama: out of memory");
    m->device = device, m->cfg = *config;
    vs_status s = VS_OK;
    if (skip < 0 || skip >= config->num_layers)
        s = vs_fail(VS_ERR_INVALID_ARG, "Llama: num_hidden_layers_to_skip %d is outside 0..%d", skip, config->num_layers - 1);
    m->layers_run = config->num_layers - skip, m->final_norm_applied = skip == 0;
    if (s == VS_OK && !(m->layers = calloc((size_t)m->layers_run, sizeof *m->layers)))
        s = vs_fail(VS_ERR_OOM, "Llama: out of memory");
    if (s == VS_OK) s = random_weights(m, seed);
    if (s != VS_OK) {
        vs_llama_free(m);
        return s;
    }
    *out = m;
    return VS_OK;
}

void vs_llama_free(vs_llama *m) {
    if (!m) return;
    vs_tensor_free(&m->embed);
    vs_tensor_free(&m->norm);
    vs_tensor_free(&m->causal);
    for (int i = 0; m->layers && i < m->layers_run; i++) {
        llama_layer *l = &m->layers[i];
        vs_tensor *all[] = {&l->q, &l->k, &l->v, &l->o, &l->attn_norm, &l->gate, &l->up, &l->down, &l->mlp_norm};
        for (size_t t = 0; t < sizeof all / sizeof all[0]; t++) vs_tensor_free(all[t]);
    }
    free(m->layers);
    vs_arena_free(m->arena);
    free(m);
}

const vs_llama_config *vs_llama_get_config(const vs_llama *m) { return &m->cfg; }

/* ---- the forward ---------------------------------------------------------------------- */

#define TAKE VS_TEXT_TAKE

/* Arena bytes of one encode (the allocations of encode(), phase by phase). */
static size_t encode_bytes(const vs_llama_config *c, vs_device dev, int64_t B, int64_t N, int x_in_arena) {
    const int64_t R = B * N, act = (int64_t)vs_dtype_size(vs_text_act_dtype(dev));
    size_t persistent = 2 * vs_text_aligned(R * 4) + vs_text_aligned((2 * N - 1) * 4) + 2 * vs_text_aligned(N * c->head_dim / 2 * 4) +
                        vs_text_aligned(R * c->hidden_size * act);
    if (x_in_arena) persistent += vs_text_aligned(R * c->hidden_size * 4);
    size_t attention = vs_text_attention_bytes(B, N, c->num_heads, c->head_dim, dev);
    size_t mlp = 2 * vs_text_aligned(R * c->intermediate_size * act) + vs_text_aligned(R * c->intermediate_size * 4);
    return persistent + (attention > mlp ? attention : mlp);
}

static vs_status encode(const vs_llama *m, const int32_t *ids, const int32_t *mask, int64_t B, int64_t N, vs_tensor *x) {
    const vs_llama_config *c = &m->cfg;
    const vs_device dev = m->device;
    const vs_dtype act = vs_text_act_dtype(dev);
    const int64_t H = c->num_heads, D = c->head_dim, half = D / 2;
    vs_arena *arena = m->arena;

    /* ids, mask, causal buckets and the RoPE tables (angles in f32, as transformers computes them) */
    vs_tensor ids_d, mask_d, buckets_d, cos_d, sin_d, h;
    VS_TRY(vs_text_upload_ids(arena, ids, mask, B, N, &ids_d, &mask_d, &buckets_d));
    VS_TRY(TAKE(arena, VS_F32, &cos_d, N, half));
    VS_TRY(TAKE(arena, VS_F32, &sin_d, N, half));
    float *table = malloc((size_t)(2 * N * half) * sizeof *table);
    if (!table) return vs_fail(VS_ERR_OOM, "Llama: out of memory");
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < half; j++) {
            const float angle = inv_freq(c, (int)j) * (float)n;
            table[n * half + j] = cosf(angle);
            table[N * half + n * half + j] = sinf(angle);
        }
    vs_tensor cos_h = vs_tensor_view(table, VS_F32, VS_CPU, 2, (int64_t[]){N, half});
    vs_tensor sin_h = vs_tensor_view(table + N * half, VS_F32, VS_CPU, 2, (int64_t[]){N, half});
    vs_status s = vs_op_copy(&cos_d, &cos_h);
    if (s == VS_OK) s = vs_op_copy(&sin_d, &sin_h);
    if (s == VS_OK) s = vs_op_sync(dev);
    free(table);
    VS_TRY(s);
    VS_TRY(TAKE(arena, act, &h, B, N, c->hidden_size));

    VS_TRY(vs_op_embedding(x, &m->embed, &ids_d));
    for (int li = 0; li < m->layers_run; li++) {
        const llama_layer *l = &m->layers[li];
        const size_t mark = vs_arena_mark(arena);
        /* x += O . softmax(RoPE(Q h) RoPE(K h)^T / sqrt(D) + causal + padding) V h, on h = RMSNorm(x) */
        const vs_text_attn_weights w = {.q = &l->q, .k = &l->k, .v = &l->v, .o = &l->o};
        VS_TRY(vs_op_rmsnorm(&h, x, &l->attn_norm, c->eps));
        VS_TRY(vs_text_causal_attention(arena, x, &h, &w, (int)H, (int)D, &cos_d, &sin_d, &m->causal, &buckets_d, &mask_d));
        vs_arena_release(arena, mark);

        /* x += Down . (silu(Gate h) * Up h), on h = RMSNorm(x) */
        vs_tensor a, b, f32;
        VS_TRY(TAKE(arena, act, &a, B, N, c->intermediate_size));
        VS_TRY(TAKE(arena, act, &b, B, N, c->intermediate_size));
        VS_TRY(TAKE(arena, VS_F32, &f32, B, N, c->intermediate_size));
        VS_TRY(vs_op_rmsnorm(&h, x, &l->mlp_norm, c->eps));
        VS_TRY(vs_op_linear(&a, &h, &l->gate, NULL, VS_EPILOGUE_NONE));
        VS_TRY(vs_op_linear(&b, &h, &l->up, NULL, VS_EPILOGUE_NONE));
        VS_TRY(vs_text_silu(&a, &f32));
        VS_TRY(vs_op_mul(&a, &a, &b));
        VS_TRY(vs_op_linear_residual(x, &a, &l->down, NULL, NULL));
        vs_arena_release(arena, mark);
    }
    return m->final_norm_applied ? vs_op_rmsnorm(x, x, &m->norm, c->eps) : VS_OK;
}

vs_status vs_llama_encode_batch(const vs_llama *m, const int32_t *ids, const int32_t *mask, int batch, int n,
                                vs_tensor *out) {
    const vs_llama_config *c = &m->cfg;
    VS_TRY(vs_text_check_tokens("Llama", ids, mask, batch, n, c->vocab_size));
    if (!out || !out->data || out->dtype != VS_F32 || out->ndim != 3 || out->shape[0] != batch || out->shape[1] != n ||
        out->shape[2] != c->hidden_size || !vs_tensor_is_contiguous(out) || (out->device != VS_CPU && out->device != m->device))
        return vs_fail(VS_ERR_SHAPE, "Llama: the output must be a contiguous f32 [%d, %d, %d] tensor on the CPU or the "
                       "model's device", batch, n, c->hidden_size);
    const int x_in_arena = out->device != m->device;
    vs_llama *mm = (vs_llama *)m; /* the arena is a cache of the otherwise const model */
    VS_TRY(vs_text_arena_reserve(&mm->arena, "Llama activations", m->device, encode_bytes(c, m->device, batch, n, x_in_arena)));
    vs_tensor x = *out;
    if (x_in_arena) VS_TRY(TAKE(m->arena, VS_F32, &x, batch, n, c->hidden_size));
    vs_status s = encode(m, ids, mask, batch, n, &x);
    if (s == VS_OK && x_in_arena) s = vs_op_copy(out, &x);
    if (s == VS_OK) s = vs_op_sync(m->device);
    if (s != VS_OK) return vs_fail_context(s, "Llama encoder, %d x %d tokens", batch, n);
    return VS_OK;
}
