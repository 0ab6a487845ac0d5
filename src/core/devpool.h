/* A pool of device buffers for work whose buffer sizes repeat (a VAE decode: layer after layer, tile after
 * tile): a request takes the smallest free buffer that fits, or allocates one; buffers handed back stay
 * allocated for the next request until the pool is emptied. Not thread-safe. */
#ifndef VS_CORE_DEVPOOL_H
#define VS_CORE_DEVPOOL_H

#include <stddef.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VS_DEVPOOL_MAX 128

typedef struct vs_devpool {
    void *ptr[VS_DEVPOOL_MAX];
    size_t cap[VS_DEVPOOL_MAX];
    int used[VS_DEVPOOL_MAX];
    int n;
    size_t bytes; /* all the pool holds */
} vs_devpool;

/* *out = a buffer of at least `bytes` (vs_device_malloc's error when none is free and allocating fails). */
vs_status vs_devpool_get(vs_devpool *p, size_t bytes, void **out);
/* Hands back a buffer of the pool (NULL or a foreign pointer: nothing). */
void vs_devpool_put(vs_devpool *p, const void *ptr);
/* Frees every buffer and empties the pool. */
void vs_devpool_free(vs_devpool *p);

#ifdef __cplusplus
}
#endif
#endif
