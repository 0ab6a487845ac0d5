/* libFuzzer target: any byte string given to vs_safetensors_open_buffer is
 * either rejected with a message or yields entries that can all be read,
 * looked up and loaded, without crashes, leaks or undefined behaviour; an
 * E4M3 matrix also goes through the FP8 checkpoint loader (its scale
 * tensors), which either fails with a message or yields positive scales.
 * Seed corpus: fuzz/corpus/safetensors (tools/make_fuzz_corpus.py). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io/safetensors.h"
#include "models/common/fp8_linear.h"

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
        if (e->dtype == VS_F8E4M3 && e->ndim >= 2 && e->nbytes <= (1u << 20)) {
            vs_tensor w, scale;
            if (vs_fp8_checkpoint_load(st, e->name, VS_F8E4M3, VS_CPU, e->ndim, e->shape, &w, &scale) == VS_OK) {
                for (int64_t j = 0; j < vs_tensor_numel(&scale); j++)
                    if (!(((const float *)scale.data)[j] > 0)) __builtin_trap();
                vs_tensor_free(&w);
                vs_tensor_free(&scale);
            }
            if (vs_fp8_checkpoint_load(st, e->name, VS_F32, VS_CPU, e->ndim, e->shape, &w, NULL) == VS_OK)
                vs_tensor_free(&w);
        }
    }
    vs_safetensors_close(st);
    return 0;
}
