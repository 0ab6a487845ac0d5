/* The attention backends of ops/: which dense and sparse kernels run on a
 * device, and dense attention over an argument block. The argument block all
 * attention kernels share is src/backend/attention_args.h; sparse methods
 * and the public vs_attention are src/sparse/. */
#ifndef VS_OPS_ATTENTION_H
#define VS_OPS_ATTENTION_H

#include "backend/attention_args.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Dense attention of args (blocks and head_layout NULL) on `device`, through
 * its backend table: the CPU reference; on CUDA cuDNN's fused flash attention
 * where cuDNN has an engine for the shape, our flash kernel otherwise or when
 * VS_DENSE_ATTN=ours. */
vs_status vs_attention_dense(vs_device device, const vs_attn_args *args, void *stream);
/* Names the dense attention backend used on `device`: "cudnn" or "ours" on
 * CUDA (environment VS_DENSE_ATTN=cudnn|ours; default cudnn where the build
 * has it), "cpu" on the CPU. Fails on any other VS_DENSE_ATTN value. */
vs_status vs_attention_dense_backend(vs_device device, const char **name);
/* The sparse attention backend on `device`: "cudnn" (the block list
 * through cuDNN, src/backend/cuda/band_attention.h: the band rows as strided
 * windows, the others paged; the default) or "ours" (every row on our kernel), from
 * VS_SPARSE_ATTN=cudnn|ours; "cpu" on the CPU. Read when a sparse method
 * places its block list. */
vs_status vs_attention_sparse_backend(vs_device device, const char **name);

#ifdef __cplusplus
}
#endif
#endif
