/* Sparse VideoGen 2 on the CPU: the reference of every piece the CUDA
 * kernels compute (backend/sparse_kernels.h states the contract of each).
 * f32 inputs. k-means assigns through the f32 GEMM (|c|^2 - 2 x.c) and sums
 * the means in double, head after head; the selection accumulates in double
 * with (batch, head) pairs spread over the thread pool; attention runs on the
 * f32 GEMM. */
#ifndef VS_BACKEND_CPU_SVG2_CPU_H
#define VS_BACKEND_CPU_SVG2_CPU_H

#include "backend/sparse_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* vs_sparse_kernels.svg2_kmeans on host memory (args->dtype VS_F32). */
vs_status vs_svg2_kmeans_cpu(const vs_attn_args *args, const vs_svg2_config *cfg, int which, float *centroids,
                             int init, int iterations, const vs_svg2_plan *plan);
/* vs_sparse_kernels.svg2_select on host memory. */
vs_status vs_svg2_select_cpu(const vs_attn_args *args, const vs_svg2_config *cfg, const float *q_centroids,
                             const float *k_centroids, const vs_svg2_plan *plan);
/* vs_sparse_kernels.svg2_attend on host memory: gathers q, k and v into cluster order, attends each query
 * cluster's rows (and the text rows) to the keys of its kept pages (gathered), scatters the output back. */
vs_status vs_svg2_attend_cpu(const vs_attn_args *args, const vs_svg2_config *cfg, const vs_svg2_plan *plan);

/* The permutation: rows of head h of batch b of a [B, N, H, D] f32 tensor x (token stride stride_n, batch
 * stride stride_b) in the order `order` ([BH][N]) gives, into packed [BH][N][D]; and back. */
void vs_svg2_gather_cpu(const float *x, int64_t stride_b, int64_t stride_n, const int32_t *order, int batch,
                        int heads, int seq_len, int head_dim, float *packed);
void vs_svg2_scatter_cpu(const float *packed, const int32_t *order, int batch, int heads, int seq_len,
                         int head_dim, float *x, int64_t stride_b, int64_t stride_n);

/* Pages of the cluster order that hold video keys only (ranked by the selection; the others hold text
 * keys and are always kept): all of them without text, else the whole pages before the text. */
int vs_svg2_video_pages(int seq_len, int video_tokens);

#ifdef __cplusplus
}
#endif
#endif
