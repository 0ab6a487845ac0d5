/* umT5 encoder, CPU f32 reference path (see umt5.h for the math). */
#include "models/wan/umt5.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "core/json.h"
#include "core/status.h"
#include "io/safetensors.h"

typedef struct {
    vs_tensor q, k, v, o, rel_bias, attn_norm; /* layer.0 */
    vs_tensor wi0, wi1, wo, ffn_norm;          /* layer.1 */
} umt5_layer;

struct vs_umt5 {
    vs_umt5_config cfg;
    vs_tensor embed, final_norm;
    umt5_layer *layers;
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

static vs_status read_config(vs_umt5_config *c, const char *dir) {
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
    const char *ffn = vs_json_get_string(r, "feed_forward_proj", "gated-gelu");
    if (s == VS_OK && strcmp(ffn, "gated-gelu"))
        s = vs_fail(VS_ERR_UNSUPPORTED, "%s: feed_forward_proj \"%s\" is not supported (umT5 uses gated-gelu)", path, ffn);
    if (s == VS_OK && (c->num_buckets < 4 || c->max_distance <= c->num_buckets / 4))
        s = vs_fail(VS_ERR_FORMAT, "%s: relative attention buckets %d / max distance %d do not fit", path,
                    c->num_buckets, c->max_distance);
    vs_json_free(doc);
    return s;
}

static vs_status load(const vs_safetensors *st, const char *name, int ndim, int64_t d0, int64_t d1, vs_tensor *out) {
    int64_t shape[2] = {d0, d1};
    return vs_safetensors_load(st, name, VS_F32, VS_CPU, ndim, shape, out);
}

static vs_status load_weights(vs_umt5 *m, const vs_safetensors *st) {
    const vs_umt5_config *c = &m->cfg;
    int64_t d = c->d_model, inner = (int64_t)c->num_heads * c->d_kv, ff = c->d_ff;
    const char *embed = vs_safetensors_find(st, "shared.weight") ? "shared.weight" : "encoder.embed_tokens.weight";
    VS_TRY(load(st, embed, 2, c->vocab_size, d, &m->embed));
    VS_TRY(load(st, "encoder.final_layer_norm.weight", 1, d, 0, &m->final_norm));
    for (int i = 0; i < c->num_layers; i++) {
        umt5_layer *l = &m->layers[i];
        char n[160];
#define W(field, suffix, ndim, a, b)                                                  \
    snprintf(n, sizeof n, "encoder.block.%d.layer.%s", i, suffix);                    \
    VS_TRY(load(st, n, ndim, a, b, &l->field))
        W(q, "0.SelfAttention.q.weight", 2, inner, d);
        W(k, "0.SelfAttention.k.weight", 2, inner, d);
        W(v, "0.SelfAttention.v.weight", 2, inner, d);
        W(o, "0.SelfAttention.o.weight", 2, d, inner);
        W(rel_bias, "0.SelfAttention.relative_attention_bias.weight", 2, c->num_buckets, c->num_heads);
        W(attn_norm, "0.layer_norm.weight", 1, d, 0);
        W(wi0, "1.DenseReluDense.wi_0.weight", 2, ff, d);
        W(wi1, "1.DenseReluDense.wi_1.weight", 2, ff, d);
        W(wo, "1.DenseReluDense.wo.weight", 2, d, ff);
        W(ffn_norm, "1.layer_norm.weight", 1, d, 0);
#undef W
    }
    return VS_OK;
}

vs_status vs_umt5_load(vs_umt5 **out, const char *dir) {
    *out = NULL;
    vs_umt5 *m = calloc(1, sizeof *m);
    if (!m) return vs_fail(VS_ERR_OOM, "umT5: out of memory");
    vs_status s = read_config(&m->cfg, dir);
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

void vs_umt5_free(vs_umt5 *m) {
    if (!m) return;
    vs_tensor_free(&m->embed);
    vs_tensor_free(&m->final_norm);
    for (int i = 0; m->layers && i < m->cfg.num_layers; i++) {
        umt5_layer *l = &m->layers[i];
        vs_tensor *all[] = {&l->q, &l->k, &l->v, &l->o, &l->rel_bias, &l->attn_norm, &l->wi0, &l->wi1, &l->wo, &l->ffn_norm};
        for (size_t t = 0; t < sizeof all / sizeof all[0]; t++) vs_tensor_free(all[t]);
    }
    free(m->layers);
    free(m);
}

const vs_umt5_config *vs_umt5_get_config(const vs_umt5 *m) { return &m->cfg; }

/* y[n, out] = x[n, in] . W^T for a torch Linear weight W[out, in]. */
static void linear(float *y, const float *x, const vs_tensor *w, int64_t n) {
    int64_t out = w->shape[0], in = w->shape[1];
    vs_cpu_gemm(0, 1, n, out, in, 1.0f, x, in, w->data, in, 0.0f, y, out);
}

vs_status vs_umt5_encode(const vs_umt5 *m, const int32_t *ids, const int32_t *mask, int n, float *out) {
    const vs_umt5_config *c = &m->cfg;
    if (n <= 0) return vs_fail(VS_ERR_INVALID_ARG, "umT5: sequence length must be positive, got %d", n);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return vs_fail(VS_ERR_INVALID_ARG, "umT5: token %d at position %d is outside the vocabulary of %d", ids[i],
                           i, c->vocab_size);
    const int64_t d = c->d_model, dk = c->d_kv, H = c->num_heads, inner = H * dk, N = n;
    size_t floats = (size_t)(N * d + 4 * N * inner + 2 * N * c->d_ff + N * N + 2 * N - 1);
    float *buf = malloc(floats * sizeof(float));
    int *bucket = malloc((size_t)(2 * N - 1) * sizeof(int));
    if (!buf || !bucket) {
        free(buf);
        free(bucket);
        return vs_fail(VS_ERR_OOM, "umT5: out of memory for a sequence of %d tokens", n);
    }
    float *x = out, *h = buf, *q = h + N * d, *k = q + N * inner, *v = k + N * inner, *att = v + N * inner;
    float *a = att + N * inner, *b = a + N * c->d_ff, *scores = b + N * c->d_ff;
    for (int64_t r = -(N - 1); r <= N - 1; r++) bucket[r + N - 1] = vs_umt5_relative_bucket((int)r, c->num_buckets, c->max_distance);

    for (int64_t i = 0; i < N; i++) memcpy(x + i * d, (const float *)m->embed.data + (int64_t)ids[i] * d, (size_t)d * sizeof(float));
    for (int li = 0; li < c->num_layers; li++) {
        const umt5_layer *l = &m->layers[li];
        const float *rel = l->rel_bias.data; /* [num_buckets, heads] */
        vs_cpu_rmsnorm(h, x, l->attn_norm.data, N, d, c->eps);
        linear(q, h, &l->q, N);
        linear(k, h, &l->k, N);
        linear(v, h, &l->v, N);
        for (int64_t hd = 0; hd < H; hd++) {
            /* scores = Q_h K_h^T (no 1/sqrt(d_kv) in T5) + bias(key - query); padding keys masked */
            vs_cpu_gemm(0, 1, N, N, dk, 1.0f, q + hd * dk, inner, k + hd * dk, inner, 0.0f, scores, N);
            for (int64_t i = 0; i < N; i++)
                for (int64_t j = 0; j < N; j++)
                    scores[i * N + j] = mask[j] ? scores[i * N + j] + rel[bucket[j - i + N - 1] * H + hd] : -INFINITY;
            vs_cpu_softmax_rows(scores, N, N);
            vs_cpu_gemm(0, 0, N, dk, N, 1.0f, scores, N, v + hd * dk, inner, 0.0f, att + hd * dk, inner);
        }
        linear(h, att, &l->o, N);
        for (int64_t i = 0; i < N * d; i++) x[i] += h[i];

        vs_cpu_rmsnorm(h, x, l->ffn_norm.data, N, d, c->eps);
        linear(a, h, &l->wi0, N);
        linear(b, h, &l->wi1, N);
        vs_cpu_gelu_tanh(a, N * c->d_ff);
        for (int64_t i = 0; i < N * c->d_ff; i++) a[i] *= b[i];
        linear(h, a, &l->wo, N);
        for (int64_t i = 0; i < N * d; i++) x[i] += h[i];
    }
    vs_cpu_rmsnorm(x, x, m->final_norm.data, N, d, c->eps);
    free(buf);
    free(bucket);
    return VS_OK;
}
