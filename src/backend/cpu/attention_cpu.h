/* CPU attention: the reference for every attention kernel. Semantics are
 * exactly those of src/ops/attention.h (dense, block list, per-head
 * token-major layout). Rows use a two-pass softmax; (batch, head, query
 * block) items are spread over the thread pool. */
#ifndef VS_BACKEND_CPU_ATTENTION_H
#define VS_BACKEND_CPU_ATTENTION_H

#include "backend/attention_args.h"

#ifdef __cplusplus
extern "C" {
#endif

/* a->dtype must be VS_F32 and q, k, v, out host memory. */
vs_status vs_cpu_attention(const vs_attn_args *a);

/* The same computation in double precision on double buffers laid out as
 * `shape` describes ([B, N, H, D], its strides in elements); shape's dtype
 * and q/k/v/out pointers are ignored. The reference for tests. */
vs_status vs_cpu_attention_f64(const double *q, const double *k, const double *v, double *out,
                               const vs_attn_args *shape);

/* Checks a host block list for seq_len tokens: sizes, row_ptr starting at 0
 * and non-decreasing, column indices in range, sorted and without repeats. */
vs_status vs_cpu_attn_blocks_check(const vs_attn_blocks *blocks, int seq_len);

#ifdef __cplusplus
}
#endif
#endif
