#include "core/devpool.h"

#include <string.h>

#include "core/devmem.h"
#include "core/status.h"

vs_status vs_devpool_get(vs_devpool *p, size_t bytes, void **out) {
    int best = -1;
    for (int i = 0; i < p->n; i++)
        if (!p->used[i] && p->cap[i] >= bytes && (best < 0 || p->cap[i] < p->cap[best])) best = i;
    if (best < 0) {
        if (p->n == VS_DEVPOOL_MAX)
            return vs_fail(VS_ERR_OOM, "device buffer pool: more than %d buffers", VS_DEVPOOL_MAX);
        VS_TRY(vs_device_malloc(&p->ptr[p->n], bytes));
        p->cap[p->n] = bytes;
        p->bytes += bytes;
        best = p->n++;
    }
    p->used[best] = 1;
    *out = p->ptr[best];
    return VS_OK;
}

void vs_devpool_put(vs_devpool *p, const void *ptr) {
    for (int i = 0; ptr && i < p->n; i++)
        if (p->ptr[i] == ptr) p->used[i] = 0;
}

void vs_devpool_free(vs_devpool *p) {
    for (int i = 0; i < p->n; i++)
        vs_device_free(p->ptr[i]);
    memset(p, 0, sizeof *p);
}
