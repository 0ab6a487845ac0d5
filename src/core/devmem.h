/* Device memory as seen from core/: implemented by backend/cuda when the
 * build has CUDA, by devmem_none.c (VS_ERR_UNSUPPORTED) otherwise. */
#ifndef VS_CORE_DEVMEM_H
#define VS_CORE_DEVMEM_H

#include <stddef.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

vs_status vs_device_malloc(void **ptr, size_t bytes);
void vs_device_free(void *ptr);
vs_status vs_device_memcpy_h2d(void *dst, const void *src, size_t bytes);
vs_status vs_device_memcpy_d2h(void *dst, const void *src, size_t bytes);
vs_status vs_device_memset(void *dst, int value, size_t bytes);
/* Page-locked host memory (cudaHostAlloc): copies between it and the device run at the bus's rate. */
vs_status vs_host_pinned_malloc(void **ptr, size_t bytes);
void vs_host_pinned_free(void *ptr);
/* A host tensor in page-locked memory (owned = 2; vs_tensor_free releases it): for buffers copied to or from the
 * device at every step. */
vs_status vs_tensor_alloc_host_pinned(vs_tensor *out, vs_dtype dtype, int ndim, const int64_t *shape);
/* cudaMemGetInfo: free and total bytes of the current device. */
vs_status vs_device_mem_info(size_t *free_bytes, size_t *total_bytes);

#ifdef __cplusplus
}
#endif
#endif
