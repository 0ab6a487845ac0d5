/* The T5-family encoder (umT5, T5 v1.1) on every device (see umt5.h for the math). */
#include "models/common/umt5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/json.h"
#include "core/status.h"
#include "io/safetensors.h"
#include "models/common/fp8_linear.h"
#include "ops/ops.h"

/* The seven matrices of a layer, in the order of umt5_layer's fields and scales. */
enum { Q, K, V, O, WI0, WI1, WO, MATRICES };

typedef struct {
    vs_tensor q, k, v, o, rel_bias, attn_norm; /* layer.0 */
    vs_tensor wi0, wi1, wo, ffn_norm;          /* layer.1 */
    vs_tensor scale[MATRICES];                 /* F32 [out] of each matrix stored E4M3 (FP8), else empty */
} umt5_layer;

/* State reused between encodes (the model is const to its callers). */
typedef struct {
    vs_arena *arena; /* activations of one encode */
} umt5_cache;

struct vs_umt5 {
    vs_umt5_config cfg;
    vs_device device;
    vs_tensor embed, final_norm;
    umt5_layer *layers;
    umt5_cache *cache;
};

int vs_umt5_relative_bucket(int relative_position, int num_buckets, int max_distance) {
    int half = num_buckets / 2, bucket = relative_position > 0 ? half : 0;
    int dist = abs(relative_position), max_exact = half / 2;
    if (dist < max_exact) return bucket + dist;
    /* In float, as transformers computes it (the truncation is sensitive to rounding). */
    float ratio = logf((float)dist / (float)max_exact) / (float)log((double)max_distance / max_exact);
    int large = max_exact + (int)(ratio * (float)(half - max_exact));
    return bucket + (large < half - 1 ? large : half - 1);
}

vs_status vs_umt5_read_config(const char *dir, vs_umt5_config *c) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    vs_json_doc *doc;
    VS_TRY(vs_json_parse_file(&doc, path));
    const vs_json *r = vs_json_root(doc);
    struct { const char *key; int *dst; int64_t fallback; } ints[] = {
        {"vocab_size", &c->vocab_size, -1}, {"d_model", &c->d_model, -1}, {"d_kv", &c->d_kv, -1},
        {"d_ff", &c->d_ff, -1}, {"num_heads", &c->num_heads, -1}, {"num_layers", &c->num_layers, -1},
        {"relative_attention_num_buckets", &c->num_buckets, 32}, {"relative_attention_max_distance", &c->max_distance, 128},
    };
    vs_status s = VS_OK;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0] && s == VS_OK; i++) {
        int64_t v = vs_json_get_int(r, ints[i].key, ints[i].fallback);
        if (v <= 0 || v > (1 << 24))
            s = vs_fail(VS_ERR_FORMAT, "%s: \"%s\" is missing or out of range", path, ints[i].key);
        *ints[i].dst = (int)v;
    }
    c->eps = (float)vs_json_get_number(r, "layer_norm_epsilon", 1e-6);
    /* T5EncoderModel keeps one bias table (layer 0's); UMT5EncoderModel one per layer */
    const vs_json *arch = vs_json_get(r, "architectures");
    const char *model_type = vs_json_get_string(r, "model_type", "umt5"),
               *first_arch = arch && vs_json_size(arch) > 0 ? vs_json_string(vs_json_at(arch, 0), NULL) : NULL;
    c->shared_position_bias = !strcmp(model_type, "t5") || (first_arch && !strcmp(first_arch, "T5EncoderModel"));
    const char *ffn = vs_json_get_string(r, "feed_forward_proj", "gated-gelu");
    if (s == VS_OK && strcmp(ffn, "gated-gelu"))
        s = vs_fail(VS_ERR_UNSUPPORTED, "%s: feed_forward_proj \"%s\" is not supported (T5 v1.1 and umT5 use gated-gelu)", path, ffn);
    if (s == VS_OK && (c->num_buckets < 4 || c->max_distance <= c->num_buckets / 4))
        s = vs_fail(VS_ERR_FORMAT, "%s: relative attention buckets %d / max distance %d do not fit", path,
                    c->num_buckets, c->max_distance);
    vs_json_free(doc);
    return s;
}

/* The dtype of GEMM weights and activations on `device`. */
static vs_dtype act_dtype(vs_device device) { return device == VS_CPU ? VS_F32 : VS_BF16; }

/* GEMM weights and the embedding table (ndim 2) in the activation dtype; norms and bias tables F32. A layer
 * matrix stored as E4M3 (an FP8 checkpoint; fp8_scale given) keeps its codes, with its scales. */
static vs_status load(const vs_umt5 *m, const vs_safetensors *st, const char *name, int ndim, int64_t d0, int64_t d1,
                      int f32, vs_tensor *out, vs_tensor *fp8_scale) {
    int64_t shape[2] = {d0, d1};
    const vs_st_entry *e = vs_safetensors_find(st, name);
    if (e && e->dtype == VS_F8E4M3)
        return vs_fp8_checkpoint_load(st, name, fp8_scale ? VS_F8E4M3 : f32 ? VS_F32 : act_dtype(m->device),
                                      m->device, ndim, shape, out, fp8_scale);
    return vs_safetensors_load(st, name, f32 ? VS_F32 : act_dtype(m->device), m->device, ndim, shape, out);
}

static vs_status load_weights(vs_umt5 *m, const vs_safetensors *st) {
    const vs_umt5_config *c = &m->cfg;
    int64_t d = c->d_model, inner = (int64_t)c->num_heads * c->d_kv, ff = c->d_ff;
    const char *embed = vs_safetensors_find(st, "shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
    VS_TRY(load(m, st, embed, 2, c->vocab_size, d, 0, &m->embed, NULL));
    VS_TRY(load(m, st, "encoder.final_layer_norm.weight", 1, d, 0, 1, &m->final_norm, NULL));
    for (int i = 0; i < c->num_layers; i++) {
        umt5_layer *l = &m->layers[i];
        char n[160];
#define W(field, suffix, ndim, a, b, f32, scale)                                       \
    snprintf(n, sizeof n, "encoder.block.%d.layer.%s", i, suffix);                    \
    VS_TRY(load(m, st, n, ndim, a, b, f32, &l->field, scale))
        W(q, "0.SelfAttention.q.weight", 2, inner, d, 0, &l->scale[Q]);
        W(k, "0.SelfAttention.k.weight", 2, inner, d, 0, &l->scale[K]);
        W(v, "0.SelfAttention.v.weight", 2, inner, d, 0, &l->scale[V]);
        W(o, "0.SelfAttention.o.weight", 2, d, inner, 0, &l->scale[O]);
        if (i == 0 || !c->shared_position_bias) {
            W(rel_bias, "0.SelfAttention.relative_attention_bias.weight", 2, c->num_buckets, c->num_heads, 1, NULL);
        }
        W(attn_norm, "0.layer_norm.weight", 1, d, 0, 1, NULL);
        W(wi0, "1.DenseReluDense.wi_0.weight", 2, ff, d, 0, &l->scale[WI0]);
        W(wi1, "1.DenseReluDense.wi_1.weight", 2, ff, d, 0, &l->scale[WI1]);
        W(wo, "1.DenseReluDense.wo.weight", 2, d, ff, 0, &l->scale[WO]);
        W(ffn_norm, "1.layer_norm.weight", 1, d, 0, 1, NULL);
#undef W
    }
    return VS_OK;
}

vs_status vs_umt5_load(vs_umt5 **out, const char *dir, vs_device device) {
    *out = NULL;
    vs_umt5 *m = calloc(1, sizeof *m);
    if (!m || !(m->cache = calloc(1, sizeof *m->cache))) {
        free(m);
        return vs_fail(VS_ERR_OOM, "umT5: out of memory");
    }
    m->device = device;
    vs_status s = vs_umt5_read_config(dir, &m->cfg);
    if (s == VS_OK) {
        m->layers = calloc((size_t)m->cfg.num_layers, sizeof *m->layers);
        if (!m->layers) s = vs_fail(VS_ERR_OOM, "umT5: out of memory");
    }
    vs_safetensors *st = NULL;
    if (s == VS_OK) s = vs_safetensors_open(&st, dir);
    if (s == VS_OK) s = load_weights(m, st);
    vs_safetensors_close(st);
    if (s != VS_OK) {
        vs_fail_context(s, "loading the umT5 encoder from %s", dir);
        vs_umt5_free(m);
        return s;
    }
    *out = m;
    return VS_OK;
}

/* One weight of `shape` (ndim 1 or 2), GEMM dtype unless f32, uniform in [lo, hi). */
static vs_status random_weight(const vs_umt5 *m, uint64_t seed, int ndim, int64_t d0, int64_t d1, int f32, float lo,
                               float hi, vs_tensor *out) {
    const int64_t shape[2] = {d0, d1};
    VS_TRY(vs_tensor_alloc(out, f32 ? VS_F32 : act_dtype(m->device), m->device, ndim, shape));
    return vs_op_fill_uniform(out, seed, lo, hi);
}

vs_status vs_umt5_random(vs_umt5 **out, const vs_umt5_config *config, vs_device device, uint64_t seed) {
    *out = NULL;
    vs_umt5 *m = calloc(1, sizeof *m);
    if (!m || !(m->cache = calloc(1, sizeof *m->cache)) ||
        !(m->layers = calloc((size_t)config->num_layers, sizeof *m->layers))) {
        vs_umt5_free(m);
        return vs_fail(VS_ERR_OOM, "umT5: out of memory");
    }
    m->cfg = *config;
    m->device = device;
    const vs_umt5_config *c = config;
    const int64_t d = c->d_model, inner = (int64_t)c->num_heads * c->d_kv, ff = c->d_ff;
    const float wd = 1.0f / sqrtf((float)d), wi = 1.0f / sqrtf((float)inner), wf = 1.0f / sqrtf((float)ff);
    uint64_t k = seed * 0x9e3779b97f4a7c15ull;
    vs_status s = random_weight(m, k++, 2, c->vocab_size, d, 0, -1.0f, 1.0f, &m->embed);
    if (s == VS_OK) s = random_weight(m, k++, 1, d, 0, 1, 0.9f, 1.1f, &m->final_norm);
    for (int i = 0; i < c->num_layers && s == VS_OK; i++) {
        umt5_layer *l = &m->layers[i];
        struct { vs_tensor *t; int ndim; int64_t d0, d1; int f32; float scale; } w[] = {
            {&l->q, 2, inner, d, 0, wd},  {&l->k, 2, inner, d, 0, wd}, {&l->v, 2, inner, d, 0, wd},
            {&l->o, 2, d, inner, 0, wi},  {&l->rel_bias, 2, c->num_buckets, c->num_heads, 1, 0.1f},
            {&l->wi0, 2, ff, d, 0, wd},   {&l->wi1, 2, ff, d, 0, wd},  {&l->wo, 2, d, ff, 0, wf},
        };
        for (size_t j = 0; j < sizeof w / sizeof w[0] && s == VS_OK; j++)
            if (w[j].t != &l->rel_bias || i == 0 || !c->shared_position_bias)
                s = random_weight(m, k++, w[j].ndim, w[j].d0, w[j].d1, w[j].f32, -w[j].scale, w[j].scale, w[j].t);
        if (s == VS_OK) s = random_weight(m, k++, 1, d, 0, 1, 0.9f, 1.1f, &l->attn_norm);
        if (s == VS_OK) s = random_weight(m, k++, 1, d, 0, 1, 0.9f, 1.1f, &l->ffn_norm);
    }
    if (s == VS_OK) s = vs_op_sync(device);
    if (s != VS_OK) {
        vs_umt5_free(m);
        return vs_fail_context(s, "random umT5 encoder (d_model %d, %d layers)", c->d_model, c->num_layers);
    }
    *out = m;
    return VS_OK;
}

void vs_umt5_free(vs_umt5 *m) {
    if (!m) return;
    vs_tensor_free(&m->embed);
    vs_tensor_free(&m->final_norm);
    for (int i = 0; m->layers && i < m->cfg.num_layers; i++) {
        umt5_layer *l = &m->layers[i];
        vs_tensor *all[] = {&l->q, &l->k, &l->v, &l->o, &l->rel_bias, &l->attn_norm, &l->wi0, &l->wi1, &l->wo, &l->ffn_norm};
        for (size_t t = 0; t < sizeof all / sizeof all[0]; t++) vs_tensor_free(all[t]);
        for (int t = 0; t < MATRICES; t++) vs_tensor_free(&l->scale[t]);
    }
    free(m->layers);
    if (m->cache) vs_arena_free(m->cache->arena);
    free(m->cache);
    free(m);
}

/* A layer's matrices in the order of its scales. */
static void layer_matrices(umt5_layer *l, vs_tensor *out[MATRICES]) {
    vs_tensor *all[MATRICES] = {&l->q, &l->k, &l->v, &l->o, &l->wi0, &l->wi1, &l->wo};
    memcpy(out, all, sizeof all);
}

/* FP8 quantises the feed-forward matrices only: T5's attention logits are unscaled, and E4M3 rounding of
 * Q and K moves them enough to change the softmax (docs/fp8.md has the measurements). */
vs_status vs_umt5_set_precision(vs_umt5 *m, vs_precision precision) {
    if (precision == VS_PRECISION_DEFAULT) return VS_OK;
    for (int i = 0; i < m->cfg.num_layers; i++) {
        vs_tensor *w[MATRICES];
        layer_matrices(&m->layers[i], w);
        for (int t = WI0; t < MATRICES; t++) {
            if (w[t]->dtype == VS_F8E4M3) continue;
            vs_status s = vs_linear_quantize_weight(w[t], &m->layers[i].scale[t]);
            if (s) return vs_fail_context(s, "quantising umT5 layer %d to FP8", i);
        }
    }
    return VS_OK;
}

/* Whether any matrix is E4M3: then the forward quantises their inputs. */
static int has_fp8(const vs_umt5 *m) {
    for (int i = 0; i < m->cfg.num_layers; i++)
        for (int t = 0; t < MATRICES; t++)
            if (m->layers[i].scale[t].data) return 1;
    return 0;
}

const vs_umt5_config *vs_umt5_get_config(const vs_umt5 *m) { return &m->cfg; }
vs_device vs_umt5_device(const vs_umt5 *m) { return m->device; }

/* ---- the forward ---------------------------------------------------------------------- */

static size_t aligned(int64_t bytes) { return ((size_t)bytes + VS_ARENA_ALIGN - 1) / VS_ARENA_ALIGN * VS_ARENA_ALIGN; }

/* Arena bytes of one encode: the persistent tensors, then the larger of the
 * attention and feed-forward phases (the allocations of encode()). */
static size_t encode_bytes(const vs_umt5_config *c, vs_device dev, int fp8, int64_t B, int64_t N, int x_in_arena) {
    const int64_t R = B * N, act = (int64_t)vs_dtype_size(act_dtype(dev)), inner = (int64_t)c->num_heads * c->d_kv;
    const int64_t ld = (N + 7) / 8 * 8;
    size_t persistent = 3 * aligned(R * 4) + aligned((2 * N - 1) * 4) + aligned(R * c->d_model * act);
    if (x_in_arena) persistent += aligned(R * c->d_model * 4);
    if (fp8) { /* the E4M3 codes and row scales of one FP8 layer's input at a time */
        const int64_t widest = c->d_ff > inner ? (c->d_ff > c->d_model ? c->d_ff : c->d_model)
                                               : (inner > c->d_model ? inner : c->d_model);
        persistent += aligned(R * widest) + aligned(R * 4);
    }
    size_t attention = 4 * aligned(R * inner * act) + aligned(B * c->num_heads * N * ld * 4);
    size_t ffn = 2 * aligned(R * c->d_ff * act);
    return persistent + (attention > ffn ? attention : ffn);
}

void vs_umt5_memory(const vs_umt5_config *c, vs_device device, int fp8, int batch, int n, size_t *weights,
                    size_t *activations) {
    const int64_t d = c->d_model, inner = (int64_t)c->num_heads * c->d_kv, act = (int64_t)vs_dtype_size(act_dtype(device));
    const int64_t matrices = (int64_t)c->vocab_size * d + (int64_t)c->num_layers * (4 * inner * d + 3 * (int64_t)c->d_ff * d);
    const int64_t tables = c->shared_position_bias ? 1 : c->num_layers;
    const int64_t f32 = d + (int64_t)c->num_layers * 2 * d + tables * c->num_buckets * c->num_heads;
    *weights = (size_t)(matrices * act + f32 * 4);
    *activations = encode_bytes(c, device, fp8, batch, n, 1);
}

#define TAKE(arena, dtype, out, ...) \
    vs_arena_tensor(arena, dtype, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}, out)

/* x (F32 [B, N, d_model] on the model's device) = the encoder's output for ids / mask. */
static vs_status encode(const vs_umt5 *m, vs_arena *arena, int fp8, const int32_t *ids, const int32_t *mask,
                        int64_t B, int64_t N, vs_tensor *x) {
    const vs_umt5_config *c = &m->cfg;
    const vs_device dev = m->device;
    const vs_dtype act = act_dtype(dev);
    const int64_t H = c->num_heads, dk = c->d_kv, d = c->d_model, inner = H * dk, R = B * N;

    /* token ids, padding mask and the bucket of every key - query distance, on the device */
    vs_tensor ids_d, mask_d, buckets_d, h;
    VS_TRY(TAKE(arena, VS_I32, &ids_d, R));
    VS_TRY(TAKE(arena, VS_I32, &mask_d, B, N));
    VS_TRY(TAKE(arena, VS_I32, &buckets_d, 2 * N - 1));
    int32_t *bucket = malloc((size_t)(2 * N - 1) * sizeof *bucket);
    if (!bucket) return vs_fail(VS_ERR_OOM, "umT5: out of memory");
    for (int64_t r = -(N - 1); r <= N - 1; r++) bucket[r + N - 1] = vs_umt5_relative_bucket((int)r, c->num_buckets, c->max_distance);
    vs_tensor ids_h = vs_tensor_view((void *)ids, VS_I32, VS_CPU, 1, (int64_t[]){R});
    vs_tensor mask_h = vs_tensor_view((void *)mask, VS_I32, VS_CPU, 2, (int64_t[]){B, N});
    vs_tensor buckets_h = vs_tensor_view(bucket, VS_I32, VS_CPU, 1, (int64_t[]){2 * N - 1});
    vs_status s = vs_op_copy(&ids_d, &ids_h);
    if (s == VS_OK) s = vs_op_copy(&mask_d, &mask_h);
    if (s == VS_OK) s = vs_op_copy(&buckets_d, &buckets_h);
    if (s == VS_OK) s = vs_op_sync(dev); /* the host arrays are released next */
    free(bucket);
    VS_TRY(s);
    VS_TRY(TAKE(arena, act, &h, B, N, d));
    vs_tensor codes, scales; /* FP8 matrices: their input's codes and row scales */
    if (fp8) {
        const int64_t widest = c->d_ff > inner ? (c->d_ff > d ? c->d_ff : d) : (inner > d ? inner : d);
        VS_TRY(TAKE(arena, VS_F8E4M3, &codes, R * widest));
        VS_TRY(TAKE(arena, VS_F32, &scales, R));
    }
    const vs_tensor *cb = fp8 ? &codes : NULL, *sb = fp8 ? &scales : NULL;
    vs_linear_input in;

    VS_TRY(vs_op_embedding(x, &m->embed, &ids_d));
    for (int li = 0; li < c->num_layers; li++) {
        const umt5_layer *l = &m->layers[li];
        const size_t mark = vs_arena_mark(arena);
        /* x += O . softmax(Q K^T + bias_layer(key - query) + mask) V, on h = RMSNorm(x); scores unscaled */
        vs_tensor q, k, v, att, scores;
        VS_TRY(TAKE(arena, act, &q, B, N, H, dk));
        VS_TRY(TAKE(arena, act, &k, B, N, H, dk));
        VS_TRY(TAKE(arena, act, &v, B, N, H, dk));
        VS_TRY(TAKE(arena, act, &att, B, N, H, dk));
        VS_TRY(TAKE(arena, VS_F32, &scores, B, H, N, (N + 7) / 8 * 8));
        vs_tensor q2 = vs_tensor_view(q.data, act, dev, 2, (int64_t[]){R, inner});
        vs_tensor k2 = vs_tensor_view(k.data, act, dev, 2, (int64_t[]){R, inner});
        vs_tensor v2 = vs_tensor_view(v.data, act, dev, 2, (int64_t[]){R, inner});
        vs_tensor att2 = vs_tensor_view(att.data, act, dev, 2, (int64_t[]){R, inner});
        VS_TRY(vs_op_rmsnorm(&h, x, &l->attn_norm, c->eps));
        VS_TRY(vs_linear_input_prepare(&in, &h, cb, sb));
        VS_TRY(vs_linear(&q2, &in, &l->q, &l->scale[Q], NULL, VS_EPILOGUE_NONE));
        VS_TRY(vs_linear(&k2, &in, &l->k, &l->scale[K], NULL, VS_EPILOGUE_NONE));
        VS_TRY(vs_linear(&v2, &in, &l->v, &l->scale[V], NULL, VS_EPILOGUE_NONE));
        const vs_tensor *bias = c->shared_position_bias ? &m->layers[0].rel_bias : &l->rel_bias;
        VS_TRY(vs_op_attention_relpos(&att, &q, &k, &v, bias, &buckets_d, &mask_d, &scores));
        VS_TRY(vs_linear_input_prepare(&in, &att2, cb, sb));
        VS_TRY(vs_linear(&h, &in, &l->o, &l->scale[O], NULL, VS_EPILOGUE_NONE));
        VS_TRY(vs_op_gated_residual(x, &h, NULL));
        vs_arena_release(arena, mark);

        /* x += Wo . (gelu_tanh(Wi0 h) * (Wi1 h)), on h = RMSNorm(x) */
        vs_tensor a, b;
        VS_TRY(TAKE(arena, act, &a, B, N, c->d_ff));
        VS_TRY(TAKE(arena, act, &b, B, N, c->d_ff));
        VS_TRY(vs_op_rmsnorm(&h, x, &l->ffn_norm, c->eps));
        VS_TRY(vs_linear_input_prepare(&in, &h, cb, sb));
        VS_TRY(vs_linear(&a, &in, &l->wi0, &l->scale[WI0], NULL, VS_EPILOGUE_GELU_TANH));
        VS_TRY(vs_linear(&b, &in, &l->wi1, &l->scale[WI1], NULL, VS_EPILOGUE_NONE));
        VS_TRY(vs_op_mul(&a, &a, &b));
        VS_TRY(vs_linear_input_prepare(&in, &a, cb, sb));
        VS_TRY(vs_linear(&h, &in, &l->wo, &l->scale[WO], NULL, VS_EPILOGUE_NONE));
        VS_TRY(vs_op_gated_residual(x, &h, NULL));
        vs_arena_release(arena, mark);
    }
    return vs_op_rmsnorm(x, x, &m->final_norm, c->eps);
}

vs_status vs_umt5_encode_batch(const vs_umt5 *m, const int32_t *ids, const int32_t *mask, int batch, int n,
                               vs_tensor *out) {
    const vs_umt5_config *c = &m->cfg;
    if (n <= 0 || batch <= 0)
        return vs_fail(VS_ERR_INVALID_ARG, "umT5: %d sequences of %d tokens; both must be positive", batch, n);
    const int64_t B = batch, N = n;
    if (!out || !out->data || out->dtype != VS_F32 || out->ndim != 3 || out->shape[0] != B || out->shape[1] != N ||
        out->shape[2] != c->d_model || !vs_tensor_is_contiguous(out) || (out->device != VS_CPU && out->device != m->device))
        return vs_fail(VS_ERR_SHAPE, "umT5: the output must be a contiguous f32 [%d, %d, %d] tensor on the CPU or the "
                       "model's device", batch, n, c->d_model);
    for (int64_t b = 0; b < B; b++) {
        int tokens = 0;
        for (int64_t i = 0; i < N; i++) {
            const int32_t id = ids[b * N + i];
            if (id < 0 || id >= c->vocab_size)
                return vs_fail(VS_ERR_INVALID_ARG, "umT5: token %d at position %lld is outside the vocabulary of %d",
                               id, (long long)(b * N + i), c->vocab_size);
            tokens += mask[b * N + i] != 0;
        }
        if (!tokens) return vs_fail(VS_ERR_INVALID_ARG, "umT5: sequence %lld has no token (its mask is all padding)", (long long)b);
    }
    /* The output is the residual stream when it lives on the model's device. */
    const int x_in_arena = out->device != m->device;
    const int fp8 = has_fp8(m);
    const size_t bytes = encode_bytes(c, m->device, fp8, B, N, x_in_arena);
    umt5_cache *cache = m->cache;
    if (!cache->arena || vs_arena_capacity(cache->arena) < bytes) {
        vs_arena_free(cache->arena);
        cache->arena = NULL;
        VS_TRY(vs_arena_create(&cache->arena, "umT5 activations", m->device, bytes));
    }
    vs_arena_reset(cache->arena);
    vs_tensor x = *out;
    if (x_in_arena) VS_TRY(TAKE(cache->arena, VS_F32, &x, B, N, c->d_model));
    vs_status s = encode(m, cache->arena, fp8, ids, mask, B, N, &x);
    if (s == VS_OK && x_in_arena) s = vs_op_copy(out, &x);
    if (s == VS_OK) s = vs_op_sync(m->device);
    if (s != VS_OK) return vs_fail_context(s, "umT5 encoder, %d x %d tokens", batch, n);
    return VS_OK;
}

vs_status vs_umt5_encode(const vs_umt5 *m, const int32_t *ids, const int32_t *mask, int n, float *out) {
    vs_tensor t = vs_tensor_view(out, VS_F32, VS_CPU, 3, (int64_t[]){1, n > 0 ? n : 0, m->cfg.d_model});
    return vs_umt5_encode_batch(m, ids, mask, 1, n, &t);
}
