#include "models/wan/config.h"

#include <string.h>

#include "core/status.h"

/* Reads integer member `key` into *out; `fallback` < 0 makes it required. */
static vs_status get_int(const vs_json *root, const char *label, const char *key, int64_t fallback, int64_t min,
                         int64_t max, int *out) {
    const vs_json *v = vs_json_get(root, key);
    int64_t value = fallback;
    if (!v || vs_json_typeof(v) == VS_JSON_NULL) {
        if (fallback < 0) return vs_fail(VS_ERR_FORMAT, "%s: required key \"%s\" is missing", label, key);
    } else if (vs_json_typeof(v) != VS_JSON_NUMBER || !vs_json_int64(v, &value)) {
        return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" must be an integer", label, key);
    }
    if (value < min || value > max)
        return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" = %lld is outside %lld..%lld", label, key, (long long)value,
                       (long long)min, (long long)max);
    *out = (int)value;
    return VS_OK;
}

static vs_status get_bool(const vs_json *root, const char *label, const char *key, int fallback, int *out) {
    const vs_json *v = vs_json_get(root, key);
    if (!v || vs_json_typeof(v) == VS_JSON_NULL) *out = fallback;
    else if (vs_json_typeof(v) == VS_JSON_BOOL) *out = vs_json_bool(v);
    else return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" must be true or false", label, key);
    return VS_OK;
}

/* Features of other Wan variants (image conditioning, VACE, ...) this model code does not have. */
static vs_status reject_present(const vs_json *root, const char *label, const char *key, const char *what) {
    const vs_json *v = vs_json_get(root, key);
    if (v && vs_json_typeof(v) != VS_JSON_NULL)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: \"%s\" is set: %s is not supported (text-to-video Wan 2.1 only)",
                       label, key, what);
    return VS_OK;
}

static vs_status parse_patch_size(const vs_json *root, const char *label, vs_wan_config *cfg) {
    const vs_json *v = vs_json_get(root, "patch_size");
    cfg->patch_size[0] = 1, cfg->patch_size[1] = 2, cfg->patch_size[2] = 2;
    if (!v || vs_json_typeof(v) == VS_JSON_NULL) return VS_OK;
    if (vs_json_typeof(v) != VS_JSON_ARRAY || vs_json_size(v) != 3)
        return vs_fail(VS_ERR_FORMAT, "%s: \"patch_size\" must be an array of 3 integers", label);
    for (int i = 0; i < 3; i++) {
        int64_t p;
        if (!vs_json_int64(vs_json_at(v, (size_t)i), &p) || p < 1 || p > 16)
            return vs_fail(VS_ERR_FORMAT, "%s: \"patch_size\"[%d] must be an integer in 1..16", label, i);
        cfg->patch_size[i] = (int)p;
    }
    return VS_OK;
}

static vs_status parse_eps(const vs_json *root, const char *label, vs_wan_config *cfg) {
    const vs_json *v = vs_json_get(root, "eps");
    cfg->eps = 1e-6f;
    if (!v || vs_json_typeof(v) == VS_JSON_NULL) return VS_OK;
    if (vs_json_typeof(v) != VS_JSON_NUMBER || !(vs_json_number(v) > 0 && vs_json_number(v) < 1))
        return vs_fail(VS_ERR_FORMAT, "%s: \"eps\" must be a number in (0, 1)", label);
    cfg->eps = (float)vs_json_number(v);
    return VS_OK;
}

/* diffusers WanTransformer3DModel: qk_norm is "rms_norm_across_heads". */
static vs_status parse_diffusers(const vs_json *root, const char *label, vs_wan_config *cfg) {
    const int big = 1 << 20;
    VS_TRY(get_int(root, label, "num_attention_heads", -1, 1, 1024, &cfg->num_heads));
    VS_TRY(get_int(root, label, "attention_head_dim", -1, 2, 1024, &cfg->head_dim));
    VS_TRY(get_int(root, label, "in_channels", 16, 1, 4096, &cfg->in_channels));
    VS_TRY(get_int(root, label, "out_channels", cfg->in_channels, 1, 4096, &cfg->out_channels));
    VS_TRY(get_int(root, label, "text_dim", 4096, 1, big, &cfg->text_dim));
    VS_TRY(get_int(root, label, "freq_dim", 256, 2, big, &cfg->freq_dim));
    VS_TRY(get_int(root, label, "ffn_dim", -1, 1, big, &cfg->ffn_dim));
    VS_TRY(get_int(root, label, "num_layers", -1, 1, 1024, &cfg->num_layers));
    VS_TRY(get_int(root, label, "rope_max_seq_len", 1024, 1, big, &cfg->rope_max_seq_len));
    VS_TRY(get_bool(root, label, "cross_attn_norm", 1, &cfg->cross_attn_norm));
    const vs_json *qk = vs_json_get(root, "qk_norm");
    const char *qk_name = qk ? vs_json_string(qk, NULL) : "rms_norm_across_heads";
    if (!qk_name || strcmp(qk_name, "rms_norm_across_heads") != 0)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: \"qk_norm\" must be \"rms_norm_across_heads\"", label);
    VS_TRY(reject_present(root, label, "image_dim", "image conditioning"));
    VS_TRY(reject_present(root, label, "added_kv_proj_dim", "image conditioning"));
    VS_TRY(reject_present(root, label, "pos_embed_seq_len", "image position embedding"));
    cfg->dim = cfg->num_heads * cfg->head_dim;
    return VS_OK;
}

/* Original Wan release (WanModel): dim and num_heads; qk_norm is a bool. */
static vs_status parse_original(const vs_json *root, const char *label, vs_wan_config *cfg) {
    const int big = 1 << 20;
    VS_TRY(get_int(root, label, "dim", -1, 1, big, &cfg->dim));
    VS_TRY(get_int(root, label, "num_heads", -1, 1, 1024, &cfg->num_heads));
    VS_TRY(get_int(root, label, "in_dim", 16, 1, 4096, &cfg->in_channels));
    VS_TRY(get_int(root, label, "out_dim", 16, 1, 4096, &cfg->out_channels));
    VS_TRY(get_int(root, label, "text_dim", 4096, 1, big, &cfg->text_dim));
    VS_TRY(get_int(root, label, "freq_dim", 256, 2, big, &cfg->freq_dim));
    VS_TRY(get_int(root, label, "ffn_dim", -1, 1, big, &cfg->ffn_dim));
    VS_TRY(get_int(root, label, "num_layers", -1, 1, 1024, &cfg->num_layers));
    VS_TRY(get_bool(root, label, "cross_attn_norm", 1, &cfg->cross_attn_norm));
    int qk_norm;
    VS_TRY(get_bool(root, label, "qk_norm", 1, &qk_norm));
    if (!qk_norm) return vs_fail(VS_ERR_UNSUPPORTED, "%s: \"qk_norm\" false is not supported", label);
    const char *type = vs_json_get_string(root, "model_type", "t2v");
    if (strcmp(type, "t2v") != 0)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not supported (t2v only)", label, type);
    if (cfg->dim % cfg->num_heads)
        return vs_fail(VS_ERR_FORMAT, "%s: dim %d is not a multiple of num_heads %d", label, cfg->dim,
                       cfg->num_heads);
    cfg->head_dim = cfg->dim / cfg->num_heads;
    cfg->rope_max_seq_len = 1024;
    return VS_OK;
}

vs_status vs_wan_config_parse(const vs_json *root, const char *label, vs_wan_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (!root || vs_json_typeof(root) != VS_JSON_OBJECT)
        return vs_fail(VS_ERR_FORMAT, "%s: a transformer config must be a JSON object", label);
    VS_TRY(parse_patch_size(root, label, cfg));
    VS_TRY(parse_eps(root, label, cfg));
    if (vs_json_get(root, "num_attention_heads")) VS_TRY(parse_diffusers(root, label, cfg));
    else if (vs_json_get(root, "num_heads")) VS_TRY(parse_original(root, label, cfg));
    else
        return vs_fail(VS_ERR_FORMAT,
                       "%s: not a Wan transformer config (neither \"num_attention_heads\" nor \"num_heads\")", label);
    /* RoPE splits head_dim into t/h/w parts of even sizes. */
    if (cfg->head_dim % 2 || cfg->head_dim < 6)
        return vs_fail(VS_ERR_FORMAT, "%s: head_dim %d must be even and at least 6", label, cfg->head_dim);
    if (cfg->freq_dim % 2) return vs_fail(VS_ERR_FORMAT, "%s: freq_dim %d must be even", label, cfg->freq_dim);
    return VS_OK;
}

vs_status vs_wan_config_load(const char *path, vs_wan_config *cfg) {
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, path));
    vs_status s = vs_wan_config_parse(vs_json_root(doc), path, cfg);
    vs_json_free(doc);
    return s;
}
