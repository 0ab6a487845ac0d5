#include "models/common/vae_weights.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ops.h"

vs_status vs_vae_weight(vs_vae_weights *w, const char *name, int ndim, const int64_t *shape, int norm_scale,
                        vs_tensor *out) {
    if (!w->st) {
        VS_TRY(vs_tensor_alloc(out, VS_F32, VS_CPU, ndim, shape));
        const float bound = ndim == 1 ? 0.1f : (float)(1.0 / sqrt((double)vs_tensor_numel(out) / (double)shape[0]));
        w->seed = w->seed * 6364136223846793005ull + 1442695040888963407ull;
        return vs_op_fill_uniform(out, w->seed, norm_scale ? 0.9f : -bound, norm_scale ? 1.1f : bound);
    }
    VS_TRY(vs_safetensors_load(w->st, name, VS_F32, VS_CPU, ndim, shape, out));
    if (w->n_used == w->cap_used) {
        size_t cap = w->cap_used ? 2 * w->cap_used : 256;
        const char **grown = realloc(w->used, cap * sizeof *grown);
        if (!grown) return vs_fail(VS_ERR_OOM, "out of memory loading the VAE");
        w->used = grown;
        w->cap_used = cap;
    }
    w->used[w->n_used++] = vs_safetensors_find(w->st, name)->name;
    return VS_OK;
}

vs_status vs_vae_weights_check_used(const vs_vae_weights *w, const char *const *prefixes, int n, const char *what) {
    for (size_t i = 0; w->st && i < vs_safetensors_count(w->st); i++) {
        const char *name = vs_safetensors_entry(w->st, i)->name;
        int ours = 0;
        for (int p = 0; p < n && !ours; p++) ours = !strncmp(name, prefixes[p], strlen(prefixes[p]));
        if (!ours) continue;
        size_t j = 0;
        while (j < w->n_used && strcmp(w->used[j], name)) j++;
        if (j == w->n_used) return vs_fail(VS_ERR_FORMAT, "weight %s is not part of the %s config.json describes", name, what);
    }
    return VS_OK;
}

void vs_vae_weights_release(vs_vae_weights *w) {
    free(w->used);
    w->used = NULL;
    w->n_used = w->cap_used = 0;
}

vs_status vs_vae_name(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) return vs_fail(VS_ERR_INVALID_ARG, "VAE tensor name too long: %s...", buf);
    return VS_OK;
}
