/* HunyuanVideoPipeline's prompt encoding (see text_prompt.h). */
#include "models/common/text_prompt.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

const char vs_hunyuan_prompt_template[] =
    "<|start_header_id|>system<|end_header_id|>\n\nDescribe the video by detailing the following aspects: "
    "1. The main content and theme of the video."
    "2. The color, shape, size, texture, quantity, text, and spatial relationships of the objects."
    "3. Actions, events, behaviors temporal relationships, physical movement changes of the objects."
    "4. background environment, light, style and atmosphere."
    "5. camera angles, movements, and transitions used in the video:<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\n{}<|eot_id|>";

vs_status vs_prompt_format(const char *template_text, const char *prompt, char **out) {
    *out = NULL;
    const size_t tl = strlen(template_text), pl = strlen(prompt);
    char *s = malloc(tl + pl + 1), *w = s;
    if (!s) return vs_fail(VS_ERR_OOM, "prompt template: out of memory");
    int fields = 0;
    for (const char *t = template_text; *t; t++) {
        if ((t[0] == '{' && t[1] == '{') || (t[0] == '}' && t[1] == '}')) {
            *w++ = *t++;
        } else if (t[0] == '{' && t[1] == '}') {
            memcpy(w, prompt, pl);
            w += pl;
            t++;
            fields++;
        } else if (*t == '{' || *t == '}') {
            free(s);
            return vs_fail(VS_ERR_INVALID_ARG, "prompt template: a lone '%c' at byte %zu (only \"{}\", \"{{\" and \"}}\")",
                           *t, (size_t)(t - template_text));
        } else {
            *w++ = *t;
        }
    }
    *w = 0;
    if (fields != 1) {
        free(s);
        return vs_fail(VS_ERR_INVALID_ARG, "prompt template: %d \"{}\" fields, expected one", fields);
    }
    *out = s;
    return VS_OK;
}

vs_status vs_llama_prompt_tokens(const vs_bpe *tok, const char *template_text, int crop_start, int max_length,
                                 const char *prompt, int32_t *ids, int32_t *mask) {
    if (crop_start < 0 || max_length <= 0)
        return vs_fail(VS_ERR_INVALID_ARG, "Llama prompt: crop_start %d / max_length %d out of range", crop_start, max_length);
    char *text;
    VS_TRY(vs_prompt_format(template_text, prompt, &text));
    int n;
    vs_status s = vs_bpe_encode_padded(tok, text, strlen(text), crop_start + max_length, ids, mask, &n);
    free(text);
    return s;
}

vs_status vs_llama_prompt_encode(const vs_bpe *tok, const vs_llama *model, const char *template_text, int crop_start,
                                 int max_length, const char *prompt, float *embeds, int32_t *mask) {
    const int64_t total = (int64_t)crop_start + max_length;
    if (crop_start < 0 || max_length <= 0)
        return vs_fail(VS_ERR_INVALID_ARG, "Llama prompt: crop_start %d / max_length %d out of range", crop_start, max_length);
    int32_t *ids = malloc((size_t)total * 2 * sizeof *ids);
    if (!ids) return vs_fail(VS_ERR_OOM, "Llama prompt: out of memory");
    vs_status s = vs_llama_prompt_tokens(tok, template_text, crop_start, max_length, prompt, ids, ids + total);
    if (s == VS_OK) s = vs_llama_encode_cropped(model, ids, ids + total, crop_start, max_length, embeds, mask);
    free(ids);
    return s;
}

vs_status vs_llama_encode_cropped(const vs_llama *model, const int32_t *ids, const int32_t *full_mask, int crop_start,
                                  int max_length, float *embeds, int32_t *mask) {
    const int64_t total = (int64_t)crop_start + max_length, d = vs_llama_get_config(model)->hidden_size;
    float *hidden = malloc((size_t)(total * d) * sizeof *hidden);
    vs_status s = hidden ? VS_OK : vs_fail(VS_ERR_OOM, "Llama prompt: out of memory");
    if (s == VS_OK) {
        vs_tensor out = vs_tensor_view(hidden, VS_F32, VS_CPU, 3, (int64_t[]){1, total, d});
        s = vs_llama_encode_batch(model, ids, full_mask, 1, (int)total, &out);
    }
    for (int64_t i = 0; i < max_length && s == VS_OK; i++) { /* the rows after the template's prefix */
        mask[i] = full_mask[crop_start + i];
        if (mask[i]) memcpy(embeds + i * d, hidden + (crop_start + i) * d, (size_t)d * sizeof *embeds);
        else memset(embeds + i * d, 0, (size_t)d * sizeof *embeds);
    }
    free(hidden);
    return s;
}

vs_status vs_clip_prompt_encode(const vs_bpe *tok, const vs_clip_text *model, const char *prompt, int max_length,
                                float *pooled) {
    if (max_length <= 0) return vs_fail(VS_ERR_INVALID_ARG, "CLIP prompt: max_length %d", max_length);
    int32_t *ids = malloc((size_t)max_length * 2 * sizeof *ids);
    if (!ids) return vs_fail(VS_ERR_OOM, "CLIP prompt: out of memory");
    int n;
    vs_status s = vs_bpe_encode_padded(tok, prompt, strlen(prompt), max_length, ids, ids + max_length, &n);
    if (s == VS_OK) s = vs_clip_text_encode(model, ids, 1, max_length, pooled, NULL);
    free(ids);
    return s;
}
