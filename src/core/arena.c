#include "core/arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/devmem.h"
#include "core/status.h"

struct vs_arena {
    char name[64];
    vs_device device;
    unsigned char *base;
    size_t capacity, used, peak;
};

static size_t align_up(size_t v) { return (v + VS_ARENA_ALIGN - 1) / VS_ARENA_ALIGN * VS_ARENA_ALIGN; }

/* "512 B", "3.00 KiB", "1.50 GiB". */
static const char *format_bytes(char *buf, size_t size, size_t bytes) {
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        snprintf(buf, size, "%zu B", bytes);
        return buf;
    }
    double v = (double)bytes / 1024;
    int u = 0;
    while (v >= 1024 && u < 3) v /= 1024, u++;
    snprintf(buf, size, "%.2f %s", v, units[u]);
    return buf;
}

vs_status vs_arena_create(vs_arena **out, const char *name, vs_device device, size_t capacity) {
    *out = NULL;
    name = name ? name : "";
    if (capacity == 0 || capacity > SIZE_MAX - VS_ARENA_ALIGN)
        return vs_fail(VS_ERR_INVALID_ARG, "arena '%s': capacity %zu bytes is not usable", name, capacity);
    if (device != VS_CPU && device != VS_CUDA)
        return vs_fail(VS_ERR_INVALID_ARG, "arena '%s': unknown device %d", name, (int)device);
    vs_arena *a = calloc(1, sizeof *a);
    if (!a) return vs_fail(VS_ERR_OOM, "arena '%s': out of host memory", name);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->device = device;
    a->capacity = align_up(capacity);
    char size_text[32];
    if (device == VS_CPU) {
        a->base = aligned_alloc(VS_ARENA_ALIGN, a->capacity);
        if (!a->base) {
            free(a);
            return vs_fail(VS_ERR_OOM, "arena '%s': cannot reserve %s of host memory", name,
                           format_bytes(size_text, sizeof size_text, capacity));
        }
    } else {
        void *p = NULL;
        vs_status s = vs_device_malloc(&p, a->capacity);
        if (s != VS_OK) {
            free(a);
            return vs_fail_context(s, "arena '%s' (%s on the GPU)", name,
                                   format_bytes(size_text, sizeof size_text, capacity));
        }
        a->base = p;
    }
    *out = a;
    return VS_OK;
}

void vs_arena_free(vs_arena *arena) {
    if (!arena) return;
    if (arena->device == VS_CPU) free(arena->base);
    else vs_device_free(arena->base);
    free(arena);
}

vs_status vs_arena_alloc(vs_arena *arena, size_t bytes, void **out) {
    *out = NULL;
    size_t start = align_up(arena->used);
    if (start > arena->capacity || bytes > arena->capacity - start) {
        char asked[32], left[32], total[32];
        size_t remaining = start < arena->capacity ? arena->capacity - start : 0;
        return vs_fail(VS_ERR_OOM, "arena '%s' (%s) is full: asked for %s, %s of %s remain", arena->name,
                       arena->device == VS_CPU ? "cpu" : "cuda", format_bytes(asked, sizeof asked, bytes),
                       format_bytes(left, sizeof left, remaining),
                       format_bytes(total, sizeof total, arena->capacity));
    }
    arena->used = start + bytes;
    if (arena->used > arena->peak) arena->peak = arena->used;
    *out = arena->base + start;
    return VS_OK;
}

vs_status vs_arena_tensor(vs_arena *arena, vs_dtype dtype, int ndim, const int64_t *shape, vs_tensor *out) {
    memset(out, 0, sizeof *out);
    if (ndim < 0 || ndim > VS_MAX_DIMS)
        return vs_fail(VS_ERR_INVALID_ARG, "arena '%s': tensor rank %d outside 0..%d", arena->name, ndim, VS_MAX_DIMS);
    size_t elem = vs_dtype_size(dtype), bytes = elem;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return vs_fail(VS_ERR_INVALID_ARG, "arena '%s': negative tensor dimension %lld", arena->name,
                           (long long)shape[i]);
        if (shape[i] > 0 && bytes > SIZE_MAX / (size_t)shape[i])
            return vs_fail(VS_ERR_INVALID_ARG, "arena '%s': tensor size overflows", arena->name);
        bytes *= (size_t)shape[i];
    }
    void *data;
    VS_TRY(vs_arena_alloc(arena, bytes, &data));
    *out = vs_tensor_view(data, dtype, arena->device, ndim, shape);
    return VS_OK;
}

size_t vs_arena_mark(const vs_arena *arena) { return arena->used; }

void vs_arena_release(vs_arena *arena, size_t mark) {
    if (mark <= arena->used) arena->used = mark;
}

void vs_arena_reset(vs_arena *arena) { arena->used = 0; }
size_t vs_arena_used(const vs_arena *arena) { return arena->used; }
size_t vs_arena_peak(const vs_arena *arena) { return arena->peak; }
size_t vs_arena_capacity(const vs_arena *arena) { return arena->capacity; }
vs_device vs_arena_device(const vs_arena *arena) { return arena->device; }
