#include "backend/cpu/attention_cpu.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu_ops.h"
#include "core/status.h"
#include "core/threadpool.h"

vs_status vs_cpu_attn_blocks_check(const vs_attn_blocks *blocks, int seq_len) {
    int nb = (int)(((int64_t)seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK);
    if (blocks->num_q_blocks != nb || blocks->num_k_blocks != nb)
        return vs_fail(VS_ERR_SHAPE, "attention: block list is for %d x %d blocks, sequence %d needs %d",
                       blocks->num_q_blocks, blocks->num_k_blocks, seq_len, nb);
    if (!blocks->row_ptr || (!blocks->col_idx && blocks->row_ptr[nb] > 0))
        return vs_fail(VS_ERR_INVALID_ARG, "attention: block list lacks row_ptr or col_idx");
    if (blocks->row_ptr[0] != 0)
        return vs_fail(VS_ERR_INVALID_ARG, "attention: block list row_ptr[0] is %d, not 0",
                       blocks->row_ptr[0]);
    for (int i = 0; i < nb; i++) {
        int32_t begin = blocks->row_ptr[i], end = blocks->row_ptr[i + 1];
        if (end < begin)
            return vs_fail(VS_ERR_INVALID_ARG,
                           "attention: block list row_ptr decreases at query block %d (%d -> %d)", i, begin,
                           end);
        for (int32_t e = begin; e < end; e++) {
            int32_t c = blocks->col_idx[e];
            if (c < 0 || c >= nb)
                return vs_fail(VS_ERR_INVALID_ARG,
                               "attention: query block %d lists key block %d, outside [0, %d)", i, c, nb);
            if (e > begin && c <= blocks->col_idx[e - 1])
                return vs_fail(
                    VS_ERR_INVALID_ARG,
                    "attention: key blocks of query block %d are not sorted without repeats (%d after %d)", i,
                    c, blocks->col_idx[e - 1]);
        }
    }
    return VS_OK;
}

static vs_status check_args(const vs_attn_args *a) {
    VS_TRY(vs_attn_args_validate(a));
    if (a->blocks) VS_TRY(vs_cpu_attn_blocks_check(a->blocks, a->seq_len));
    if (a->head_layout)
        for (int i = 0; i < a->batch * a->heads; i++)
            if (a->head_layout[i] != VS_LAYOUT_FRAME_MAJOR && a->head_layout[i] != VS_LAYOUT_TOKEN_MAJOR)
                return vs_fail(VS_ERR_INVALID_ARG,
                               "attention: head_layout[%d] = %d is neither frame- nor token-major", i,
                               a->head_layout[i]);
    return VS_OK;
}

/* One query row against the keys stored at rows[0..n): q and o point at the
 * row's head, k and v at row 0 of the same batch entry and head. The f64
 * reference, one row at a time. */
static void row_f64(const double *q, const double *k, int64_t k_stride, const double *v, int64_t v_stride,
                    const int64_t *rows, int n, int dim, double scale, double *scores, double *o) {
    memset(o, 0, sizeof(double) * dim);
    if (n == 0) return;
    double max = -INFINITY;
    for (int j = 0; j < n; j++) {
        const double *kr = k + rows[j] * k_stride;
        double dot = 0;
        for (int d = 0; d < dim; d++)
            dot += q[d] * kr[d];
        scores[j] = dot * scale;
        if (scores[j] > max) max = scores[j];
    }
    double sum = 0;
    for (int j = 0; j < n; j++) {
        double p = exp(scores[j] - max);
        sum += p;
        const double *vr = v + rows[j] * v_stride;
        for (int d = 0; d < dim; d++)
            o[d] += p * vr[d];
    }
    for (int d = 0; d < dim; d++)
        o[d] /= sum;
}

/* Stored rows of the keys query block qb of head bh attends, in the head's
 * position order; returns their count. */
static int attended_rows(const vs_attn_args *a, int qb, int bh, int64_t *rows) {
    const int klen = vs_attn_kv_len(a), layout = a->head_layout ? a->head_layout[bh] : VS_LAYOUT_FRAME_MAJOR;
    const int kv_blocks = (klen + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    int n = 0;
    int kb_count = a->blocks ? a->blocks->row_ptr[qb + 1] - a->blocks->row_ptr[qb] : kv_blocks;
    for (int e = 0; e < kb_count; e++) {
        int kb = a->blocks ? a->blocks->col_idx[a->blocks->row_ptr[qb] + e] : e;
        int kend = (kb + 1) * VS_ATTN_BLOCK < klen ? (kb + 1) * VS_ATTN_BLOCK : klen;
        for (int r = kb * VS_ATTN_BLOCK; r < kend; r++) rows[n++] = vs_attn_row(r, layout, a->frames, a->tokens_per_frame);
    }
    return n;
}

typedef struct {
    const vs_attn_args *a; /* q, k, v and out point at f64 data */
    atomic_int out_of_memory;
} attention_job;

/* f64 work items are (batch, head, query block), one query row at a time. */
static void attention_items_f64(void *ctx, int64_t begin, int64_t end) {
    attention_job *job = ctx;
    const vs_attn_args *a = job->a;
    int len = a->seq_len, klen = vs_attn_kv_len(a), dim = a->head_dim, nb = (len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)klen);
    double *scores = malloc(sizeof(double) * (size_t)klen);
    if (!rows || !scores) {
        atomic_store(&job->out_of_memory, 1);
        free(rows);
        free(scores);
        return;
    }
    for (int64_t item = begin; item < end; item++) {
        int qb = (int)(item % nb), bh = (int)(item / nb), b = bh / a->heads, h = bh % a->heads;
        int layout = a->head_layout ? a->head_layout[bh] : VS_LAYOUT_FRAME_MAJOR;
        int64_t k_base = b * a->k_stride_b + (int64_t)h * dim, v_base = b * a->v_stride_b + (int64_t)h * dim;
        int n = attended_rows(a, qb, bh, rows);
        int qend = (qb + 1) * VS_ATTN_BLOCK < len ? (qb + 1) * VS_ATTN_BLOCK : len;
        for (int r = qb * VS_ATTN_BLOCK; r < qend; r++) {
            int64_t row = vs_attn_row(r, layout, a->frames, a->tokens_per_frame);
            int64_t q_off = b * a->q_stride_b + row * a->q_stride_n + (int64_t)h * dim;
            int64_t o_off = b * a->o_stride_b + row * a->o_stride_n + (int64_t)h * dim;
            row_f64((const double *)a->q + q_off, (const double *)a->k + k_base, a->k_stride_n,
                    (const double *)a->v + v_base, a->v_stride_n, rows, n, dim, a->scale, scores,
                    (double *)a->out + o_off);
        }
    }
    free(rows);
    free(scores);
}

/* f32: per (batch, head, query block), gather the block's queries and the
 * keys and values it attends into contiguous matrices and let the GEMM do the
 * work: S = scale Q K^T, softmax over each row, O = S V, rows scattered back
 * through the head's layout. The GEMM and the softmax thread themselves. */
static vs_status run_f32(const vs_attn_args *a) {
    const int len = a->seq_len, klen = vs_attn_kv_len(a), dim = a->head_dim;
    const int nb = (len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)klen);
    float *keys = malloc(sizeof(float) * (size_t)klen * dim), *values = malloc(sizeof(float) * (size_t)klen * dim);
    float *scores = malloc(sizeof(float) * (size_t)VS_ATTN_BLOCK * klen);
    float *queries = malloc(sizeof(float) * VS_ATTN_BLOCK * dim), *outs = malloc(sizeof(float) * VS_ATTN_BLOCK * dim);
    vs_status status = VS_OK;
    if (!rows || !keys || !values || !scores || !queries || !outs)
        status = vs_fail(VS_ERR_OOM, "attention: no memory for %d-key scratch matrices", klen);
    const float *q = a->q, *k = a->k, *v = a->v;
    float *o = a->out;
    for (int bh = 0; !status && bh < a->batch * a->heads; bh++) {
        const int b = bh / a->heads, h = bh % a->heads;
        const int layout = a->head_layout ? a->head_layout[bh] : VS_LAYOUT_FRAME_MAJOR;
        const float *kh = k + b * a->k_stride_b + (int64_t)h * dim, *vh = v + b * a->v_stride_b + (int64_t)h * dim;
        for (int qb = 0; qb < nb; qb++) {
            const int first = qb * VS_ATTN_BLOCK, m = (first + VS_ATTN_BLOCK < len ? VS_ATTN_BLOCK : len - first);
            const int n = attended_rows(a, qb, bh, rows);
            for (int j = 0; j < n; j++) {
                memcpy(keys + (int64_t)j * dim, kh + rows[j] * a->k_stride_n, sizeof(float) * dim);
                memcpy(values + (int64_t)j * dim, vh + rows[j] * a->v_stride_n, sizeof(float) * dim);
            }
            for (int i = 0; i < m; i++) {
                int64_t row = vs_attn_row(first + i, layout, a->frames, a->tokens_per_frame);
                memcpy(queries + (int64_t)i * dim, q + b * a->q_stride_b + row * a->q_stride_n + (int64_t)h * dim,
                       sizeof(float) * dim);
            }
            if (n > 0) {
                vs_cpu_gemm(0, 1, m, n, dim, a->scale, queries, dim, keys, dim, 0.0f, scores, n);
                vs_cpu_softmax_rows(scores, m, n);
                vs_cpu_gemm(0, 0, m, dim, n, 1.0f, scores, n, values, dim, 0.0f, outs, dim);
            } else {
                memset(outs, 0, sizeof(float) * (size_t)m * dim); /* no key blocks: zeros */
            }
            for (int i = 0; i < m; i++) {
                int64_t row = vs_attn_row(first + i, layout, a->frames, a->tokens_per_frame);
                memcpy(o + b * a->o_stride_b + row * a->o_stride_n + (int64_t)h * dim, outs + (int64_t)i * dim,
                       sizeof(float) * dim);
            }
        }
    }
    free(rows), free(keys), free(values), free(scores), free(queries), free(outs);
    return status;
}

vs_status vs_cpu_attention(const vs_attn_args *a) {
    if (!a) return vs_fail(VS_ERR_INVALID_ARG, "attention: arguments are required");
    if (a->dtype != VS_F32)
        return vs_fail(VS_ERR_UNSUPPORTED, "attention: the CPU backend computes f32, got %s",
                       vs_dtype_name(a->dtype));
    VS_TRY(check_args(a));
    return run_f32(a);
}

vs_status vs_cpu_attention_f64(const double *q, const double *k, const double *v, double *out,
                               const vs_attn_args *shape) {
    if (!shape) return vs_fail(VS_ERR_INVALID_ARG, "attention (f64): shape arguments are required");
    vs_attn_args a = *shape;
    a.q = q, a.k = k, a.v = v, a.out = out;
    VS_TRY(check_args(&a));
    attention_job job = {&a, 0};
    int64_t nb = (a.seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    vs_parallel_for((int64_t)a.batch * a.heads * nb, 1, attention_items_f64, &job);
    if (atomic_load(&job.out_of_memory))
        return vs_fail(VS_ERR_OOM, "attention (f64): no memory for %d-key scratch rows", vs_attn_kv_len(&a));
    return VS_OK;
}
