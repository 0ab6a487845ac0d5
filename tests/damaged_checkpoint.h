/* Writing broken checkpoints for the load-error tests of tests/test_wan.c and tests/test_hunyuan.c. */
#ifndef VS_TEST_DAMAGED_CHECKPOINT_H
#define VS_TEST_DAMAGED_CHECKPOINT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/safetensors.h"

/* Writes `text` to `path`; nonzero on failure. */
static inline int vs_test_write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fputs(text, f);
    return fclose(f) != 0;
}

/* Rewrites the checkpoint at `src` (a file, an index or a folder) as dir/diffusion_pytorch_model.safetensors
 * (f32) without tensor `drop`, or with tensor `reshape` replaced by zeros of shape [rows, cols]. */
static inline vs_status vs_test_write_damaged(const char *src, const char *dir, const char *drop,
                                              const char *reshape, int64_t rows, int64_t cols) {
    vs_safetensors *st = NULL;
    VS_TRY(vs_safetensors_open(&st, src));
    size_t n = vs_safetensors_count(st), kept = 0;
    const char **names = calloc(n, sizeof *names);
    vs_tensor *tensors = calloc(n, sizeof *tensors);
    float *junk = calloc((size_t)(rows * cols) + 1, sizeof *junk);
    vs_status s = names && tensors && junk ? VS_OK : vs_fail(VS_ERR_OOM, "out of memory");
    for (size_t i = 0; i < n && s == VS_OK; i++) {
        const vs_st_entry *e = vs_safetensors_entry(st, i);
        if (drop && !strcmp(e->name, drop)) continue;
        names[kept] = e->name;
        if (reshape && !strcmp(e->name, reshape))
            tensors[kept++] = vs_tensor_view(junk, VS_F32, VS_CPU, 2, (int64_t[]){rows, cols});
        else
            s = vs_safetensors_load(st, e->name, VS_F32, VS_CPU, 0, NULL, &tensors[kept++]);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", dir);
    if (s == VS_OK) s = vs_safetensors_write(path, kept, names, tensors, 0, NULL, NULL);
    for (size_t i = 0; i < kept; i++)
        if (tensors[i].data != junk) vs_tensor_free(&tensors[i]);
    free(names);
    free(tensors);
    free(junk);
    vs_safetensors_close(st);
    return s;
}

#endif
