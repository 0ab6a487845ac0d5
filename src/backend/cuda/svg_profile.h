/* SVG online profiling on the GPU: the same decision as vs_svg_profile_cpu
 * (src/backend/cpu/svg_profile_cpu.h), same sampled rows, computed in f32 from BF16 or
 * F16 inputs. Deterministic: repeated runs give bit-identical results. */
#ifndef VS_BACKEND_CUDA_SVG_PROFILE_H
#define VS_BACKEND_CUDA_SVG_PROFILE_H

#include <stddef.h>

#include "backend/attention_args.h"
#include "backend/svg_sampling.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of workspace vs_cuda_svg_profile needs: batch x heads x samples x 2 floats. */
size_t vs_cuda_svg_profile_workspace(const vs_attn_args *a, const vs_svg_config *cfg);

/* Where vs_cuda_svg_profile writes, all in device memory: head_layout[B*H]
 * receives VS_LAYOUT_FRAME_MAJOR or VS_LAYOUT_TOKEN_MAJOR; the MSE arrays
 * ([B*H]) may be NULL; temporal_count, if not NULL, is increased by the
 * number of token-major choices (a running count the caller reads when it
 * likes, so no run has to wait for the host). */
typedef struct {
    uint8_t *head_layout;
    float *mse_spatial, *mse_temporal;
    unsigned long long *temporal_count;
} vs_cuda_svg_profile_out;

/* a: dense fields only (device q, k, v; out, blocks and head_layout unused).
 * blocks_device: a host struct whose row_ptr / col_idx are device pointers.
 * stream is a cudaStream_t (NULL: the default stream). Needs 16-byte aligned
 * q, k, v and strides that are multiples of 8 elements. */
vs_status vs_cuda_svg_profile(const vs_attn_args *a, const vs_svg_config *cfg,
                              const vs_attn_blocks *blocks_device, const vs_cuda_svg_profile_out *out,
                              void *workspace, size_t workspace_bytes, void *stream);

#ifdef __cplusplus
}
#endif
#endif
