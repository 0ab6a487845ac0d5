/* Sparse VideoGen 2 on CUDA: the kernels behind vs_sparse_kernels' svg2_*
 * entries (backend/sparse_kernels.h states what each computes; the CPU
 * reference is backend/cpu/svg2_cpu.h). args' tensors are BF16 or F16 on the
 * device; centroids are f32. */
#ifndef VS_BACKEND_CUDA_SVG2_CUDA_H
#define VS_BACKEND_CUDA_SVG2_CUDA_H

#include "backend/sparse_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

size_t vs_cuda_svg2_workspace(const vs_attn_args *args, const vs_svg2_config *cfg);
vs_status vs_cuda_svg2_kmeans(const vs_attn_args *args, const vs_svg2_config *cfg, int which, float *centroids,
                              int init, int iterations, const vs_svg2_plan *plan, void *workspace,
                              size_t workspace_bytes, void *stream);
vs_status vs_cuda_svg2_select(const vs_attn_args *args, const vs_svg2_config *cfg, const float *q_centroids,
                              const float *k_centroids, const vs_svg2_plan *plan, void *workspace,
                              size_t workspace_bytes, void *stream);
/* The attention through cuDNN's paged attention, or where cuDNN has no engine for the shape our kernel. */
vs_status vs_cuda_svg2_attend(const vs_attn_args *args, const vs_svg2_config *cfg, const vs_svg2_plan *plan,
                              void *workspace, size_t workspace_bytes, void *stream);
/* Each path alone (tests and benchmarks): cuDNN (VS_ERR_UNSUPPORTED before writing where it has no
 * engine) and our kernel. */
vs_status vs_cuda_svg2_attend_cudnn(const vs_attn_args *args, const vs_svg2_config *cfg, const vs_svg2_plan *plan,
                                    void *workspace, size_t workspace_bytes, void *stream);
vs_status vs_cuda_svg2_attend_own(const vs_attn_args *args, const vs_svg2_config *cfg, const vs_svg2_plan *plan,
                                  void *stream);

#ifdef __cplusplus
}
#endif
#endif
