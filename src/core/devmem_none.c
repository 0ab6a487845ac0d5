/* Built only without CUDA: device memory requests fail with a clear message. */
#include "core/devmem.h"
#include "core/status.h"

static vs_status no_cuda(void) {
    return vs_fail(VS_ERR_UNSUPPORTED, "this vidsparse build has no CUDA support (rebuild with -DVS_CUDA=ON)");
}

vs_status vs_device_malloc(void **ptr, size_t bytes) { (void)bytes; *ptr = NULL; return no_cuda(); }
void vs_device_free(void *ptr) { (void)ptr; }
vs_status vs_device_memcpy_h2d(void *dst, const void *src, size_t bytes) { (void)dst; (void)src; (void)bytes; return no_cuda(); }
vs_status vs_device_memcpy_d2h(void *dst, const void *src, size_t bytes) { (void)dst; (void)src; (void)bytes; return no_cuda(); }
vs_status vs_device_memset(void *dst, int value, size_t bytes) { (void)dst; (void)value; (void)bytes; return no_cuda(); }
vs_status vs_host_pinned_malloc(void **ptr, size_t bytes) { (void)bytes; *ptr = NULL; return no_cuda(); }
void vs_host_pinned_free(void *ptr) { (void)ptr; }
vs_status vs_device_mem_info(size_t *free_bytes, size_t *total_bytes) { *free_bytes = *total_bytes = 0; return no_cuda(); }
int vs_cuda_device_count(void) { return 0; }
