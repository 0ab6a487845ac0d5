/* The attention entry points of ops/: the dense backend choice and the two
 * halves of an SVG run. The argument block all attention kernels share is
 * src/backend/attention_args.h. */
#ifndef VS_OPS_ATTENTION_H
#define VS_OPS_ATTENTION_H

#include "backend/attention_args.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Dense attention on CUDA (args->blocks and head_layout NULL): cuDNN's fused
 * flash attention where the build has cuDNN and cuDNN has an engine for the
 * shape, our flash kernel otherwise or when VS_DENSE_ATTN=ours. */
vs_status vs_attention_dense_cuda(const vs_attn_args *args, void *stream);
/* Names the dense attention backend used on `device`: "cudnn" or "ours" on
 * CUDA (environment VS_DENSE_ATTN=cudnn|ours; default cudnn where the build
 * has it), "cpu" on the CPU. Fails on any other VS_DENSE_ATTN value. */
vs_status vs_attention_dense_backend(vs_device device, const char **name);
/* The sparse (SVG) attention backend on `device`: "cudnn" (the block list
 * through cuDNN, src/backend/cuda/band_attention.h: the band rows as strided
 * windows, the others paged; the default) or "ours" (every row on our kernel), from
 * VS_SPARSE_ATTN=cudnn|ours; "cpu" on the CPU. Read when an attention is
 * created. */
vs_status vs_attention_sparse_backend(vs_device device, const char **name);

/* The two halves of an SVG run of the public vs_attention (for benchmarks
 * and callers that profile less often than they attend): profiling fills the
 * per-head layouts; the sparse run uses them (profiled_layout) or treats
 * every head as spatial. */
vs_status vs_attention_profile(vs_attention *attn, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                               void *stream);
vs_status vs_attention_sparse(vs_attention *attn, int profiled_layout, const vs_tensor *q, const vs_tensor *k,
                              const vs_tensor *v, vs_tensor *out, void *stream);

#ifdef __cplusplus
}
#endif
#endif
