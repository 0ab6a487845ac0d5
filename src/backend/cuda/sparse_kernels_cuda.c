/* The sparse kernels on CUDA: device memory, the block list copied to the
 * device (plus the cuDNN band path's scratch), the band path or our flash
 * kernel, and the tensor-core profiler. */
#include <stdlib.h>

#include "backend/cuda/attention_cuda.h"
#include "backend/cuda/band_attention.h"
#include "backend/cuda/fp8_attention.h"
#include "backend/cuda/svg2_cuda.h"
#include "backend/cuda/svg_profile.h"
#include "backend/sparse_kernels.h"
#include "core/devmem.h"
#include "core/log.h"
#include "core/status.h"

static vs_status device_alloc(void **p, size_t bytes) {
    return vs_device_malloc(p, bytes ? bytes : 1);
}

static vs_status device_zero(void *p, size_t bytes) {
    return vs_device_memset(p, 0, bytes);
}

static void blocks_free(vs_sparse_blocks *blocks) {
    if (!blocks) return;
    vs_cuda_band_free(blocks->scratch);
    vs_device_free((void *)blocks->view.row_ptr);
    vs_device_free((void *)blocks->view.col_idx);
    free(blocks);
}

static vs_status blocks_create(vs_sparse_blocks **out, const vs_attn_blocks *host, int seq_len, int heads,
                               int head_dim, int band_path) {
    *out = NULL;
    vs_sparse_blocks *b = calloc(1, sizeof *b);
    if (!b) return vs_fail(VS_ERR_OOM, "out of host memory");
    const size_t row_bytes = sizeof(int32_t) * (host->num_q_blocks + 1);
    const size_t col_bytes = sizeof(int32_t) * (host->row_ptr[host->num_q_blocks] + 1);
    void *row = NULL, *col = NULL;
    vs_status s = vs_device_malloc(&row, row_bytes);
    if (!s) s = vs_device_malloc(&col, col_bytes);
    b->view = (vs_attn_blocks){host->num_q_blocks, host->num_k_blocks, row, col};
    if (!s) s = vs_device_memcpy_h2d(row, host->row_ptr, row_bytes);
    if (!s) s = vs_device_memcpy_h2d(col, host->col_idx, col_bytes - sizeof(int32_t));
    if (!s && band_path) {
        vs_cuda_band *band = NULL;
        s = vs_cuda_band_create(&band, host, seq_len, heads, head_dim);
        b->scratch = band;
        if (s == VS_ERR_OOM) { /* the band path is an optimisation: without its scratch, our kernel */
            VS_WARN("%s: SVG attention runs on our kernel alone", vs_last_error());
            s = VS_OK;
        }
    }
    if (s) {
        blocks_free(b);
        return s;
    }
    *out = b;
    return VS_OK;
}

static vs_status attend(const vs_sparse_blocks *blocks, vs_attn_args *args, void *stream) {
    args->blocks = &blocks->view;
    if (blocks->scratch) {
        vs_status s = vs_cuda_band_attention(blocks->scratch, args, stream);
        if (s != VS_ERR_UNSUPPORTED) return s; /* no cuDNN engine for the band's shapes: our kernel below */
    }
    return vs_cuda_flash_attention(args, stream);
}

static vs_status profile(const vs_attn_args *args, const vs_svg_config *cfg, const vs_sparse_blocks *blocks,
                         const vs_svg_profile_out *out, void *workspace, size_t workspace_bytes,
                         void *stream) {
    const vs_cuda_svg_profile_out to = {out->head_layout, out->mse_spatial, out->mse_temporal,
                                        out->temporal_count};
    return vs_cuda_svg_profile(args, cfg, &blocks->view, &to, workspace, workspace_bytes, stream);
}

const vs_sparse_kernels vs_sparse_kernels_cuda = {
    .device = VS_CUDA,
    .alloc = device_alloc,
    .release = vs_device_free,
    .read = vs_device_memcpy_d2h,
    .zero = device_zero,
    .blocks_create = blocks_create,
    .blocks_free = blocks_free,
    .attend = attend,
    .svg_profile_workspace = vs_cuda_svg_profile_workspace,
    .fp8_attention_workspace = vs_cuda_fp8_attention_workspace,
    .svg_profile = profile,
    .svg2_workspace = vs_cuda_svg2_workspace,
    .svg2_kmeans = vs_cuda_svg2_kmeans,
    .svg2_select = vs_cuda_svg2_select,
    .svg2_attend = vs_cuda_svg2_attend,
};
