/* safetensors checkpoints: memory-mapped reading of one file, a sharded set
 * (*.safetensors.index.json) or a folder holding either, with strict
 * validation; and writing (atomically: temporary file, then rename).
 *
 * Validation on open: 8-byte header length within bounds and the file; the
 * header is well-formed UTF-8 JSON of objects; every dtype known; shape x
 * dtype size equals the byte range; ranges inside the data section, sorted,
 * non-overlapping and covering it; no duplicate names (also across shards).
 * Every violation is VS_ERR_FORMAT with a message naming file and tensor. */
#ifndef VS_IO_SAFETENSORS_H
#define VS_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_st_entry {
    const char *name;
    vs_dtype dtype;
    int ndim;
    int64_t shape[VS_MAX_DIMS];
    const void *data; /* inside the mapping; valid until vs_safetensors_close */
    size_t nbytes;
    const char *file; /* path of the shard holding it */
} vs_st_entry;

typedef struct vs_safetensors vs_safetensors;

/* `path`: a .safetensors file, a .safetensors.index.json, or a folder with
 * one of: model.safetensors.index.json / diffusion_pytorch_model.safetensors.index.json
 * / any single *.safetensors file (several unindexed files are all opened). */
vs_status vs_safetensors_open(vs_safetensors **out, const char *path);
/* Parses an in-memory image of one file (the fuzz target uses this); the
 * buffer must outlive the handle. */
vs_status vs_safetensors_open_buffer(vs_safetensors **out, const void *data, size_t len, const char *label);
void vs_safetensors_close(vs_safetensors *st);

size_t vs_safetensors_count(const vs_safetensors *st);
const vs_st_entry *vs_safetensors_entry(const vs_safetensors *st, size_t i);
const vs_st_entry *vs_safetensors_find(const vs_safetensors *st, const char *name); /* NULL if absent */
/* The "__metadata__" string map of the first file, as "key" -> "value"; NULL if absent. */
const char *vs_safetensors_metadata(const vs_safetensors *st, const char *key);

/* Copies a tensor into a new tensor of `dtype` on `device`, converting
 * between F32/F16/BF16/F8E4M3. If `ndim` > 0 the stored shape must equal
 * `shape` (error VS_ERR_SHAPE naming the tensor and both shapes); a missing
 * name is VS_ERR_NOT_FOUND naming it. */
vs_status vs_safetensors_load(const vs_safetensors *st, const char *name, vs_dtype dtype, vs_device device,
                              int ndim, const int64_t *shape, vs_tensor *out);

/* Writes host tensors (contiguous) to `path` with optional metadata pairs
 * (meta_keys/meta_values, n_meta of them). Writes `path`.tmp then renames,
 * so an existing file is never left half-written. */
vs_status vs_safetensors_write(const char *path, size_t count, const char *const *names,
                               const vs_tensor *tensors, size_t n_meta, const char *const *meta_keys,
                               const char *const *meta_values);

#ifdef __cplusplus
}
#endif
#endif
