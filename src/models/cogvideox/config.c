#include "models/cogvideox/config.h"

#include <string.h>

#include "core/status.h"
#include "models/common/config_field.h"

/* A string member that must have one value (absent or null: the class's default, which is that value). */
static vs_status require_string(const vs_json *root, const char *label, const char *key, const char *value) {
    const char *s = vs_json_get_string(root, key, value);
    if (strcmp(s, value) != 0)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: \"%s\" \"%s\" is not supported (%s only)", label, key, s, value);
    return VS_OK;
}

vs_status vs_cogvideox_config_parse(const vs_json *root, const char *label, vs_cogvideox_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (!root || vs_json_typeof(root) != VS_JSON_OBJECT)
        return vs_fail(VS_ERR_FORMAT, "%s: a transformer config must be a JSON object", label);
    const char *cls = vs_json_get_string(root, "_class_name", "CogVideoXTransformer3DModel");
    if (strcmp(cls, "CogVideoXTransformer3DModel") != 0)
        return vs_fail(VS_ERR_FORMAT, "%s: _class_name \"%s\" is not CogVideoXTransformer3DModel", label, cls);
    const int big = 1 << 20;
    VS_TRY(vs_config_int(root, label, "in_channels", 16, 1, 4096, &cfg->in_channels));
    VS_TRY(vs_config_int(root, label, "out_channels", 16, 1, 4096, &cfg->out_channels));
    VS_TRY(vs_config_int(root, label, "num_attention_heads", 30, 1, 1024, &cfg->num_heads));
    VS_TRY(vs_config_int(root, label, "attention_head_dim", 64, 8, 1024, &cfg->head_dim));
    VS_TRY(vs_config_int(root, label, "num_layers", 30, 0, 1024, &cfg->num_layers));
    VS_TRY(vs_config_int(root, label, "time_embed_dim", 512, 1, big, &cfg->time_embed_dim));
    VS_TRY(vs_config_int(root, label, "ofs_embed_dim", 0, 0, big, &cfg->ofs_embed_dim));
    VS_TRY(vs_config_int(root, label, "text_embed_dim", 4096, 1, big, &cfg->text_dim));
    VS_TRY(vs_config_int(root, label, "max_text_seq_length", 226, 1, big, &cfg->text_length));
    VS_TRY(vs_config_int(root, label, "patch_size", 2, 1, 16, &cfg->patch_size[1]));
    VS_TRY(vs_config_int(root, label, "patch_size_t", 0, 0, 16, &cfg->patch_size[0]));
    cfg->patch_size[2] = cfg->patch_size[1];
    VS_TRY(vs_config_bool(root, label, "attention_bias", 1, &cfg->attention_bias));
    VS_TRY(vs_config_number(root, label, "norm_eps", 1e-5, 1e-12, 1.0, &cfg->norm_eps));
    int rotary, learned, affine, flip, shift;
    VS_TRY(vs_config_bool(root, label, "use_rotary_positional_embeddings", 0, &rotary));
    VS_TRY(vs_config_bool(root, label, "use_learned_positional_embeddings", 0, &learned));
    VS_TRY(vs_config_bool(root, label, "norm_elementwise_affine", 1, &affine));
    VS_TRY(vs_config_bool(root, label, "flip_sin_to_cos", 1, &flip));
    VS_TRY(vs_config_int(root, label, "freq_shift", 0, -big, big, &shift));
    VS_TRY(require_string(root, label, "activation_fn", "gelu-approximate"));
    VS_TRY(require_string(root, label, "timestep_activation_fn", "silu"));
    if (cfg->patch_size[0] == 0 || !rotary || learned)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "%s: a CogVideoX 1.0 transformer (patch_size_t null or sin-cos/learned position embeddings) "
                       "is not supported: CogVideoX 1.5 only (patch_size_t set, rotary position embeddings)",
                       label);
    if (!affine || !flip || shift != 0)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "%s: norm_elementwise_affine false, flip_sin_to_cos false or freq_shift %d is not supported "
                       "(the released checkpoints: true, true, 0)",
                       label, shift);
    if (cfg->head_dim % 8)
        return vs_fail(VS_ERR_FORMAT, "%s: attention_head_dim %d must be a multiple of 8 (its 3D RoPE axes)", label,
                       cfg->head_dim);
    if (cfg->ofs_embed_dim && cfg->ofs_embed_dim != cfg->time_embed_dim)
        return vs_fail(VS_ERR_FORMAT, "%s: ofs_embed_dim %d must equal time_embed_dim %d (the two are added)", label,
                       cfg->ofs_embed_dim, cfg->time_embed_dim);
    cfg->dim = cfg->num_heads * cfg->head_dim;
    cfg->mlp_dim = 4 * cfg->dim;
    /* get_3d_rotary_pos_embed: head_dim / 4 for the frame, 3 head_dim / 8 each for the row and column */
    cfg->rope_axes[0] = cfg->head_dim / 4;
    cfg->rope_axes[1] = cfg->rope_axes[2] = cfg->head_dim / 8 * 3;
    cfg->rope_theta = 10000.0;
    return VS_OK;
}

vs_status vs_cogvideox_config_load(const char *path, vs_cogvideox_config *cfg) {
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse_file(&doc, path));
    vs_status s = vs_cogvideox_config_parse(vs_json_root(doc), path, cfg);
    vs_json_free(doc);
    return s;
}

vs_status vs_cogvideox_config_preset(const char *name, vs_cogvideox_config *cfg) {
    /* The shape-defining members of the released transformer/config.json files. */
    static const char t2v[] = "{\"_class_name\": \"CogVideoXTransformer3DModel\", \"num_attention_heads\": 48, "
                              "\"num_layers\": 42, \"patch_size_t\": 2, \"use_rotary_positional_embeddings\": true, "
                              "\"in_channels\": 16, \"ofs_embed_dim\": null}";
    static const char i2v[] = "{\"_class_name\": \"CogVideoXTransformer3DModel\", \"num_attention_heads\": 48, "
                              "\"num_layers\": 42, \"patch_size_t\": 2, \"use_rotary_positional_embeddings\": true, "
                              "\"in_channels\": 32, \"ofs_embed_dim\": 512}";
    const char *text = NULL;
    size_t len = 0;
    if (name && strcmp(name, "cogvideox1.5-5b") == 0)
        text = t2v, len = sizeof t2v - 1;
    else if (name && strcmp(name, "cogvideox1.5-5b-i2v") == 0)
        text = i2v, len = sizeof i2v - 1;
    else
        return vs_fail(VS_ERR_NOT_FOUND,
                       "unknown CogVideoX configuration \"%s\" (known: cogvideox1.5-5b, cogvideox1.5-5b-i2v)",
                       name ? name : "(null)");
    vs_json_doc *doc = NULL;
    VS_TRY(vs_json_parse(&doc, text, len, name));
    vs_status s = vs_cogvideox_config_parse(vs_json_root(doc), name, cfg);
    vs_json_free(doc);
    return s;
}
