/* The sparse kernels on the CPU: host memory, the block list used where it is,
 * the f32 reference attention and the double-precision profiler. */
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/attention_cpu.h"
#include "backend/cpu/svg2_cpu.h"
#include "backend/cpu/svg_profile_cpu.h"
#include "backend/sparse_kernels.h"
#include "core/status.h"

static vs_status host_alloc(void **p, size_t bytes) {
    *p = calloc(1, bytes ? bytes : 1);
    return *p ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory (%zu bytes)", bytes);
}

static void host_release(void *p) {
    free(p);
}

static vs_status host_read(void *host, const void *src, size_t bytes) {
    memcpy(host, src, bytes);
    return VS_OK;
}

static vs_status host_zero(void *p, size_t bytes) {
    memset(p, 0, bytes);
    return VS_OK;
}

/* The CPU kernels read the host list itself; it must outlive the placed one. */
static vs_status blocks_create(vs_sparse_blocks **out, const vs_attn_blocks *host, int seq_len, int heads,
                               int head_dim, int band_path) {
    (void)seq_len, (void)heads, (void)head_dim, (void)band_path;
    *out = calloc(1, sizeof **out);
    if (!*out) return vs_fail(VS_ERR_OOM, "out of host memory");
    (*out)->view = *host;
    return VS_OK;
}

static void blocks_free(vs_sparse_blocks *blocks) {
    free(blocks);
}

static vs_status attend(const vs_sparse_blocks *blocks, vs_attn_args *args, void *stream) {
    (void)stream;
    args->blocks = &blocks->view;
    return vs_cpu_attention(args);
}

static size_t profile_workspace(const vs_attn_args *args, const vs_svg_config *cfg) {
    (void)args, (void)cfg;
    return 0;
}

static vs_status profile(const vs_attn_args *args, const vs_svg_config *cfg, const vs_sparse_blocks *blocks,
                         const vs_svg_profile_out *out, void *workspace, size_t workspace_bytes,
                         void *stream) {
    (void)workspace, (void)workspace_bytes, (void)stream;
    VS_TRY(
        vs_svg_profile_cpu(args, cfg, &blocks->view, out->head_layout, out->mse_spatial, out->mse_temporal));
    const size_t heads = (size_t)args->batch * args->heads;
    for (size_t i = 0; i < heads; i++)
        *out->temporal_count += out->head_layout[i] == VS_LAYOUT_TOKEN_MAJOR;
    return VS_OK;
}

static size_t svg2_workspace(const vs_attn_args *args, const vs_svg2_config *cfg) {
    (void)args, (void)cfg;
    return 0;
}

static vs_status svg2_kmeans(const vs_attn_args *args, const vs_svg2_config *cfg, int which, float *centroids,
                             int init, int iterations, const vs_svg2_plan *plan, void *workspace,
                             size_t workspace_bytes, void *stream) {
    (void)workspace, (void)workspace_bytes, (void)stream;
    return vs_svg2_kmeans_cpu(args, cfg, which, centroids, init, iterations, plan);
}

static vs_status svg2_select(const vs_attn_args *args, const vs_svg2_config *cfg, const float *q_centroids,
                             const float *k_centroids, const vs_svg2_plan *plan, void *workspace,
                             size_t workspace_bytes, void *stream) {
    (void)workspace, (void)workspace_bytes, (void)stream;
    return vs_svg2_select_cpu(args, cfg, q_centroids, k_centroids, plan);
}

static vs_status svg2_attend(const vs_attn_args *args, const vs_svg2_config *cfg, const vs_svg2_plan *plan,
                             void *workspace, size_t workspace_bytes, void *stream) {
    (void)workspace, (void)workspace_bytes, (void)stream;
    return vs_svg2_attend_cpu(args, cfg, plan);
}

const vs_sparse_kernels vs_sparse_kernels_cpu = {
    .device = VS_CPU,
    .alloc = host_alloc,
    .release = host_release,
    .read = host_read,
    .zero = host_zero,
    .blocks_create = blocks_create,
    .blocks_free = blocks_free,
    .attend = attend,
    .svg_profile_workspace = profile_workspace,
    .svg_profile = profile,
    .svg2_workspace = svg2_workspace,
    .svg2_kmeans = svg2_kmeans,
    .svg2_select = svg2_select,
    .svg2_attend = svg2_attend,
};
