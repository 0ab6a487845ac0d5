/* Sparse VideoGen 2 on the CPU: the reference of every piece the CUDA
 * kernels compute (backend/sparse_kernels.h states the contract of each).
 * f32 inputs; k-means and selection accumulate in double with (batch, head)
 * pairs spread over the thread pool, attention runs on the f32 GEMM. */
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
 * cluster's rows to the keys of its kept key clusters (gathered), scatters the output back. */
vs_status vs_svg2_attend_cpu(const vs_attn_args *args, const vs_svg2_config *cfg, const vs_svg2_plan *plan);

/* The permutation: rows of head h of batch b of a [B, N, H, D] f32 tensor x (token stride stride_n, batch
 * stride stride_b) in the order `order` ([BH][N]) gives, into packed [BH][N][D]; and back. */
void vs_svg2_gather_cpu(const float *x, int64_t stride_b, int64_t stride_n, const int32_t *order, int batch,
                        int heads, int seq_len, int head_dim, float *packed);
void vs_svg2_scatter_cpu(const float *packed, const int32_t *order, int batch, int heads, int seq_len,
                         int head_dim, float *x, int64_t stride_b, int64_t stride_n);

/* Score elements one (batch, head) computes under `keep` with these cluster sizes (q_start, k_start as in
 * vs_svg2_plan): every text row and column, and each kept pair's q_size * k_size. */
int64_t vs_svg2_kept_elements(const vs_svg2_config *cfg, int seq_len, const int32_t *q_start,
                              const int32_t *k_start, const uint8_t *keep);

#ifdef __cplusplus
}
#endif
#endif
