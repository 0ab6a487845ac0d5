#include "models/common/t5_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

void vs_t5_text_free(void *p) {
    vs_t5_text *t = p;
    if (!t) return;
    vs_tokenizer_free(t->tokenizer);
    vs_umt5_free(t->encoder);
    free(t);
}

vs_status vs_t5_text_load(const char *dir, vs_device device, void **out) {
    *out = NULL;
    vs_t5_text *t = calloc(1, sizeof *t);
    if (!t) return vs_fail(VS_ERR_OOM, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer", dir);
    vs_status s = vs_tokenizer_load(&t->tokenizer, path);
    snprintf(path, sizeof path, "%s/text_encoder", dir);
    if (s == VS_OK) s = vs_umt5_load(&t->encoder, path, device);
    if (s != VS_OK) {
        vs_t5_text_free(t);
        return s;
    }
    *out = t;
    return VS_OK;
}

vs_status vs_t5_text_random(const vs_umt5_config *config, vs_device device, uint64_t seed, void **out) {
    *out = NULL;
    vs_t5_text *t = calloc(1, sizeof *t);
    if (!t) return vs_fail(VS_ERR_OOM, "out of memory");
    vs_status s = vs_umt5_random(&t->encoder, config, device, seed);
    if (s != VS_OK) {
        vs_t5_text_free(t);
        return s;
    }
    *out = t;
    return VS_OK;
}

vs_status vs_t5_text_set_precision(void *p, vs_precision precision) {
    return vs_umt5_set_precision(((vs_t5_text *)p)->encoder, precision);
}

int vs_t5_byte_ids(const char *prompt, int max_length, int32_t *ids, int32_t *mask) {
    const size_t len = strlen(prompt);
    const int n = (int)(len + 1 < (size_t)max_length ? len + 1 : (size_t)max_length);
    for (int i = 0; i < max_length; i++) {
        ids[i] = i + 1 < n ? 3 + (unsigned char)prompt[i] : i + 1 == n ? 1 : 0;
        if (mask) mask[i] = i < n;
    }
    return n;
}
