#include "models/cogvideox/prompt.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

vs_status vs_cogvideox_encode_prompt(const vs_tokenizer *tok, const vs_umt5 *encoder, const char *prompt,
                                     int max_length, float *out, int *count) {
    if (!prompt) return vs_fail(VS_ERR_INVALID_ARG, "CogVideoX prompt: no prompt");
    if (max_length < 1) return vs_fail(VS_ERR_INVALID_ARG, "CogVideoX prompt: max_length %d", max_length);
    int32_t *ids = malloc(sizeof(int32_t) * 3 * (size_t)max_length);
    if (!ids) return vs_fail(VS_ERR_OOM, "CogVideoX prompt: out of memory");
    int32_t *mask = ids + max_length, *ones = mask + max_length;
    for (int i = 0; i < max_length; i++)
        ones[i] = 1; /* the pipeline passes no attention mask: every id takes part */
    int n = 0;
    vs_status s = vs_tokenizer_encode_padded(tok, prompt, strlen(prompt), max_length, ids, mask, &n);
    if (s == VS_OK) s = vs_umt5_encode(encoder, ids, ones, max_length, out);
    free(ids);
    if (s != VS_OK) return vs_fail_context(s, "encoding a CogVideoX prompt");
    if (count) *count = n;
    return VS_OK;
}
