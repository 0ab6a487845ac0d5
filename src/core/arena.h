/* A bump allocator over one block of CPU or GPU memory, for activations and
 * scratch buffers whose lifetimes nest: take a mark, allocate, release to the
 * mark. Every allocation starts on a 256-byte boundary (what cuBLASLt and
 * vector loads want). Nothing is freed individually; the block is freed with
 * the arena. Peak usage says how large the arena needed to be. Not thread-safe. */
#ifndef VS_CORE_ARENA_H
#define VS_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VS_ARENA_ALIGN 256

typedef struct vs_arena vs_arena;

/* Reserves `capacity` bytes on `device` (host memory, or vs_device_malloc for
 * VS_CUDA). `name` appears in error messages ("arena 'activations': ..."). */
vs_status vs_arena_create(vs_arena **out, const char *name, vs_device device, size_t capacity);
void vs_arena_free(vs_arena *arena);

/* `bytes` from the top of the arena (0 bytes gives a valid, aligned pointer).
 * VS_ERR_OOM when it does not fit, saying how much was asked and what remains. */
vs_status vs_arena_alloc(vs_arena *arena, size_t bytes, void **out);
/* A contiguous tensor in the arena: a view (owned = 0), valid until released. */
vs_status vs_arena_tensor(vs_arena *arena, vs_dtype dtype, int ndim, const int64_t *shape, vs_tensor *out);

/* The current top; vs_arena_release(arena, mark) frees everything allocated
 * since. A mark above the current top (already released past) is ignored. */
size_t vs_arena_mark(const vs_arena *arena);
void vs_arena_release(vs_arena *arena, size_t mark);
void vs_arena_reset(vs_arena *arena);

size_t vs_arena_used(const vs_arena *arena);
size_t vs_arena_peak(const vs_arena *arena);
size_t vs_arena_capacity(const vs_arena *arena);
vs_device vs_arena_device(const vs_arena *arena);

#ifdef __cplusplus
}
#endif
#endif
