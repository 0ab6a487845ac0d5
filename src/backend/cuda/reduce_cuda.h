/* Reductions whose result comes back to the host as a few numbers (ops.h's vs_op_rel_l1). */
#ifndef VS_BACKEND_CUDA_REDUCE_CUDA_H
#define VS_BACKEND_CUDA_REDUCE_CUDA_H

#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* *out = sum |a - b| / sum |b| over n BF16 values on the device; waits for the result. */
vs_status vs_cuda_rel_l1(const uint16_t *a, const uint16_t *b, int64_t n, double *out);

#ifdef __cplusplus
}
#endif
#endif
