#include "models/hunyuan/config.h"

#include <string.h>

#include "core/status.h"

/* Reads integer member `key` into *out, `fallback` when absent. */
static vs_status get_int(const vs_json *root, const char *label, const char *key, int fallback, int min,
                         int max, int *out) {
    const vs_json *v = vs_json_get(root, key);
    int64_t value = fallback;
    if (v && vs_json_typeof(v) != VS_JSON_NULL &&
        (vs_json_typeof(v) != VS_JSON_NUMBER || !vs_json_int64(v, &value)))
        return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" must be an integer", label, key);
    if (value < min || value > max)
        return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" = %lld is outside %d..%d", label, key, (long long)value,
                       min, max);
    *out = (int)value;
    return VS_OK;
}

static vs_status get_number(const vs_json *root, const char *label, const char *key, double fallback,
                            double min, double max, double *out) {
    const vs_json *v = vs_json_get(root, key);
    double value = fallback;
    if (v && vs_json_typeof(v) != VS_JSON_NULL) {
        if (vs_json_typeof(v) != VS_JSON_NUMBER)
            return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" must be a number", label, key);
        value = vs_json_number(v);
    }
    if (!(value >= min && value <= max))
        return vs_fail(VS_ERR_FORMAT, "%s: \"%s\" = %g is outside %g..%g", label, key, value, min, max);
    *out = value;
    return VS_OK;
}

static vs_status parse_rope_axes(const vs_json *root, const char *label, vs_hunyuan_config *cfg) {
    const vs_json *v = vs_json_get(root, "rope_axes_dim");
    const int defaults[3] = {16, 56, 56};
    memcpy(cfg->rope_axes, defaults, sizeof defaults);
    if (!v || vs_json_typeof(v) == VS_JSON_NULL) return VS_OK;
    if (vs_json_typeof(v) != VS_JSON_ARRAY || vs_json_size(v) != 3)
        return vs_fail(VS_ERR_FORMAT, "%s: \"rope_axes_dim\" must be an array of 3 integers", label);
    for (int i = 0; i < 3; i++) {
        int64_t d;
        if (!vs_json_int64(vs_json_at(v, (size_t)i), &d) || d < 0 || d > 4096 || d % 2)
            return vs_fail(VS_ERR_FORMAT, "%s: \"rope_axes_dim\"[%d] must be an even integer in 0..4096",
                           label, i);
        cfg->rope_axes[i] = (int)d;
    }
    return VS_OK;
}

vs_status vs_hunyuan_config_parse(const vs_json *root, const char *label, vs_hunyuan_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (!root || vs_json_typeof(root) != VS_JSON_OBJECT)
        return vs_fail(VS_ERR_FORMAT, "%s: a transformer config must be a JSON object", label);
    const char *cls = vs_json_get_string(root, "_class_name", "HunyuanVideoTransformer3DModel");
    if (strcmp(cls, "HunyuanVideoTransformer3DModel") != 0)
        return vs_fail(VS_ERR_FORMAT, "%s: _class_name \"%s\" is not HunyuanVideoTransformer3DModel", label,
                       cls);
    const int big = 1 << 20;
    VS_TRY(get_int(root, label, "in_channels", 16, 1, 4096, &cfg->in_channels));
    VS_TRY(get_int(root, label, "out_channels", cfg->in_channels, 1, 4096, &cfg->out_channels));
    VS_TRY(get_int(root, label, "num_attention_heads", 24, 1, 1024, &cfg->num_heads));
    VS_TRY(get_int(root, label, "attention_head_dim", 128, 2, 1024, &cfg->head_dim));
    VS_TRY(get_int(root, label, "num_layers", 20, 0, 1024, &cfg->num_layers));
    VS_TRY(get_int(root, label, "num_single_layers", 40, 0, 1024, &cfg->num_single_layers));
    VS_TRY(get_int(root, label, "num_refiner_layers", 2, 0, 1024, &cfg->num_refiner_layers));
    VS_TRY(get_int(root, label, "patch_size", 2, 1, 16, &cfg->patch_size[1]));
    VS_TRY(get_int(root, label, "patch_size_t", 1, 1, 16, &cfg->patch_size[0]));
    cfg->patch_size[2] = cfg->patch_size[1];
    VS_TRY(get_int(root, label, "text_embed_dim", 4096, 1, big, &cfg->text_dim));
    VS_TRY(get_int(root, label, "pooled_projection_dim", 768, 1, big, &cfg->pooled_dim));
    double mlp_ratio;
    VS_TRY(get_number(root, label, "mlp_ratio", 4.0, 1.0 / 64, 64, &mlp_ratio));
    VS_TRY(get_number(root, label, "rope_theta", 256.0, 1.0, 1e9, &cfg->rope_theta));
    VS_TRY(parse_rope_axes(root, label, cfg));
    const vs_json *g = vs_json_get(root, "guidance_embeds");
    if (g && vs_json_typeof(g) != VS_JSON_NULL && vs_json_typeof(g) != VS_JSON_BOOL)
        return vs_fail(VS_ERR_FORMAT, "%s: \"guidance_embeds\" must be true or false", label);
    cfg->guidance_embeds = g && vs_json_typeof(g) == VS_JSON_BOOL ? vs_json_bool(g) : 1;
    const char *qk = vs_json_get_string(root, "qk_norm", "rms_norm");
    if (strcmp(qk, "rms_norm") != 0)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: \"qk_norm\" \"%s\" is not supported (rms_norm only)", label,
                       qk);
    const vs_json *image = vs_json_get(root, "image_condition_type");
    if (image && vs_json_typeof(image) != VS_JSON_NULL)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "%s: \"image_condition_type\" is set: image-to-video HunyuanVideo is not "
                       "supported (text-to-video only)",
                       label);
    cfg->dim = cfg->num_heads * cfg->head_dim;
    cfg->mlp_dim = (int)(cfg->dim * mlp_ratio); /* Python's int(): toward zero */
    cfg->refiner_mlp_dim = 4 * cfg->dim;
    if (cfg->rope_axes[0] + cfg->rope_axes[1] + cfg->rope_axes[2] != cfg->head_dim)
        return vs_fail(VS_ERR_FORMAT,
                       "%s: \"rope_axes_dim\" %d + %d + %d does not sum to attention_head_dim %d", label,
                       cfg->rope_axes[0], cfg->rope_axes[1], cfg->rope_axes[2], cfg->head_dim);
    if (cfg->mlp_dim < 1) return vs_fail(VS_ERR_FORMAT, "%s: \"mlp_ratio\" leaves no MLP width", label);
    return VS_OK;
}

vs_status vs_hunyuan_config_load(const char *path, vs_hunyuan_config *cfg) {
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, path));
    vs_status s = vs_hunyuan_config_parse(vs_json_root(doc), path, cfg);
    vs_json_free(doc);
    return s;
}

vs_status vs_hunyuan_config_preset(const char *name, vs_hunyuan_config *cfg) {
    if (!name || strcmp(name, "hunyuan13b") != 0)
        return vs_fail(VS_ERR_NOT_FOUND, "unknown HunyuanVideo configuration \"%s\" (known: hunyuan13b)",
                       name ? name : "(null)");
    /* The config.json of the released 13B text-to-video transformer, which is every default of the class. */
    static const char defaults[] = "{\"_class_name\": \"HunyuanVideoTransformer3DModel\"}";
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse(&doc, defaults, sizeof defaults - 1, name));
    vs_status s = vs_hunyuan_config_parse(vs_json_root(doc), name, cfg);
    vs_json_free(doc);
    return s;
}
