/* libFuzzer target: any byte string given to vs_safetensors_open_buffer is
 * either rejected with a message or yields entries that can all be read,
 * looked up and loaded, without crashes, leaks or undefined behaviour.
 * Seed corpus: fuzz/corpus/safetensors (tools/make_fuzz_corpus.py). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vs_safetensors *st;
    if (vs_safetensors_open_buffer(&st, data, size, "fuzz input") != VS_OK) return 0;
    volatile unsigned sink = 0;
    (void)vs_safetensors_metadata(st, "format");
    for (size_t i = 0; i < vs_safetensors_count(st); i++) {
        const vs_st_entry *e = vs_safetensors_entry(st, i);
        /* every byte of the claimed range must lie inside the input */
        const uint8_t *bytes = e->data;
        if (e->nbytes && (bytes < data || bytes + e->nbytes > data + size)) __builtin_trap();
        for (size_t k = 0; k < e->nbytes; k++) sink += bytes[k];
        if (vs_safetensors_find(st, e->name) != e) __builtin_trap();
        /* load (converting floats to F32) when small enough to be cheap */
        if (e->nbytes <= (1u << 20)) {
            vs_tensor t;
            vs_dtype want = e->dtype == VS_F16 || e->dtype == VS_BF16 || e->dtype == VS_F8E4M3 ? VS_F32 : e->dtype;
            if (vs_safetensors_load(st, e->name, want, VS_CPU, e->ndim, e->shape, &t) != VS_OK) __builtin_trap();
            vs_tensor_free(&t);
        }
    }
    vs_safetensors_close(st);
    return 0;
}
