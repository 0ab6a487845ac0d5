#include "backend/cpu/svg_profile_cpu.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/attention_cpu.h"
#include "core/status.h"
#include "core/threadpool.h"

enum { EXACT, SPATIAL, TEMPORAL, VARIANTS };

/* Marks in `allowed` the key blocks that query block qb attends. */
static void mark_blocks(const vs_attn_blocks *blocks, int qb, uint8_t *allowed) {
    memset(allowed, 0, (size_t)blocks->num_k_blocks);
    for (int32_t e = blocks->row_ptr[qb]; e < blocks->row_ptr[qb + 1]; e++)
        allowed[blocks->col_idx[e]] = 1;
}

/* softmax(scores over keys with keep[j]) . v for one head; zeros when no key is kept. */
static void masked_output(const double *scores, const uint8_t *keep, int len, const float *v,
                          int64_t v_stride, int dim, double *o) {
    memset(o, 0, sizeof(double) * dim);
    double max = -INFINITY, sum = 0;
    for (int j = 0; j < len; j++)
        if (keep[j] && scores[j] > max) max = scores[j];
    if (max == -INFINITY) return;
    for (int j = 0; j < len; j++) {
        if (!keep[j]) continue;
        double p = exp(scores[j] - max);
        sum += p;
        const float *vr = v + j * v_stride;
        for (int d = 0; d < dim; d++)
            o[d] += p * vr[d];
    }
    for (int d = 0; d < dim; d++)
        o[d] /= sum;
}

typedef struct {
    const vs_attn_args *a;
    const vs_svg_config *cfg;
    const vs_attn_blocks *blocks;
    uint8_t *layout;
    float *mse_spatial, *mse_temporal;
    atomic_int out_of_memory;
} profile_job;

/* Work items are (batch, head) pairs, b*H + h. */
static void profile_heads(void *ctx, int64_t begin, int64_t end) {
    profile_job *job = ctx;
    const vs_attn_args *a = job->a;
    const vs_svg_config *cfg = job->cfg;
    int len = a->seq_len, dim = a->head_dim, F = cfg->frames, P = cfg->tokens_per_frame;
    double *scores = malloc(sizeof(double) * (size_t)len);
    uint8_t *keep = malloc((size_t)VARIANTS * len);
    uint8_t *block_ok = malloc((size_t)job->blocks->num_k_blocks);
    double *o = malloc(sizeof(double) * VARIANTS * dim);
    if (!scores || !keep || !block_ok || !o) {
        atomic_store(&job->out_of_memory, 1);
        free(scores), free(keep), free(block_ok), free(o);
        return;
    }
    memset(keep, 1, (size_t)len); /* exact: every key */
    for (int64_t item = begin; item < end; item++) {
        int bh = (int)item, b = bh / a->heads, h = bh % a->heads;
        const float *k = (const float *)a->k + b * a->k_stride_b + (int64_t)h * dim;
        const float *v = (const float *)a->v + b * a->v_stride_b + (int64_t)h * dim;
        double err[VARIANTS] = {0};
        for (int i = 0; i < cfg->samples; i++) {
            int r = vs_svg_sample_row(cfg, len, vs_svg_model_batch_head(cfg, bh, a->heads), i);
            const float *q = (const float *)a->q + b * a->q_stride_b + r * a->q_stride_n + (int64_t)h * dim;
            for (int j = 0; j < len; j++) {
                const float *kr = k + j * a->k_stride_n;
                double dot = 0;
                for (int d = 0; d < dim; d++)
                    dot += (double)q[d] * kr[d];
                scores[j] = dot * a->scale;
            }
            /* Spatial: stored rows are frame-major positions. */
            mark_blocks(job->blocks, r / VS_ATTN_BLOCK, block_ok);
            for (int j = 0; j < len; j++)
                keep[SPATIAL * len + j] = block_ok[j / VS_ATTN_BLOCK];
            /* Temporal: the same token, masked at its token-major position. */
            mark_blocks(job->blocks, (int)(vs_svg_token_major_position(r, F, P) / VS_ATTN_BLOCK), block_ok);
            for (int j = 0; j < len; j++)
                keep[TEMPORAL * len + j] = block_ok[vs_svg_token_major_position(j, F, P) / VS_ATTN_BLOCK];
            for (int x = 0; x < VARIANTS; x++)
                masked_output(scores, keep + x * len, len, v, a->v_stride_n, dim, o + x * dim);
            for (int x = SPATIAL; x <= TEMPORAL; x++)
                for (int d = 0; d < dim; d++) {
                    double diff = o[x * dim + d] - o[EXACT * dim + d];
                    err[x] += diff * diff;
                }
        }
        double mse_s = err[SPATIAL] / ((double)cfg->samples * dim);
        double mse_t = err[TEMPORAL] / ((double)cfg->samples * dim);
        job->layout[bh] = mse_t < mse_s ? VS_LAYOUT_TOKEN_MAJOR : VS_LAYOUT_FRAME_MAJOR;
        if (job->mse_spatial) job->mse_spatial[bh] = (float)mse_s;
        if (job->mse_temporal) job->mse_temporal[bh] = (float)mse_t;
    }
    free(scores), free(keep), free(block_ok), free(o);
}

vs_status vs_svg_profile_cpu(const vs_attn_args *a, const vs_svg_config *cfg, const vs_attn_blocks *blocks,
                             uint8_t *head_layout_out, float *mse_spatial, float *mse_temporal) {
    if (!a || !blocks || !head_layout_out)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "svg profile: arguments, block list and head_layout_out are required");
    if (a->dtype != VS_F32)
        return vs_fail(VS_ERR_UNSUPPORTED, "svg profile: the CPU profiler reads f32, got %s",
                       vs_dtype_name(a->dtype));
    /* Only the dense fields matter; out is unused but validation wants one. */
    vs_attn_args dense = *a;
    dense.out = a->out ? a->out : (void *)a->q;
    dense.blocks = NULL;
    dense.head_layout = NULL;
    VS_TRY(vs_attn_args_validate(&dense));
    VS_TRY(vs_svg_config_validate(cfg, a->seq_len));
    VS_TRY(vs_cpu_attn_blocks_check(blocks, a->seq_len));

    profile_job job = {a, cfg, blocks, head_layout_out, mse_spatial, mse_temporal, 0};
    vs_parallel_for((int64_t)a->batch * a->heads, 1, profile_heads, &job);
    if (atomic_load(&job.out_of_memory))
        return vs_fail(VS_ERR_OOM, "svg profile: no memory for %d-key scratch rows", a->seq_len);
    return VS_OK;
}
