/* Dense attention through cuDNN's fused flash-attention engines, built with
 * the cuDNN 9 backend graph API (plain C: descriptors, attributes, finalize).
 *
 * cuDNN recognises scaled-dot-product attention as an operation graph of the
 * following shape and runs all of it in one fused kernel; the score-sized
 * tensors are virtual and never materialised. Tensors are [B, H, rows, cols]:
 *
 *   S     = Q K^T          matmul (f32)      Q [B,H,N,D], K^T [B,H,D,L]
 *   S'    = S * scale      pointwise MUL by a by-value f32 scalar
 *   M     = max_j S'       reduction MAX ->  [B,H,N,1]
 *   E     = exp(S' - M)    pointwise SUB, EXP
 *   Z     = sum_j E        reduction ADD ->  [B,H,N,1]
 *   stats = M + log Z      pointwise LOG, ADD: the softmax statistics (log-sum-exp
 *                          of each row), part of the pattern; virtual, or an
 *                          f32 [B, H, N, 1] output for callers that merge
 *                          attention over separate key sets
 *   P     = E / Z          pointwise DIV, stored in the input type (bf16/f16),
 *                          which is the second matmul's operand type
 *   O     = P V            matmul            V [B,H,L,D], O [B,H,N,D]
 *
 * Our [B, N, H, D] tensors with token stride s_n and batch stride s_b are the
 * [B, H, N, D] tensors with strides [s_b, D, s_n, 1], and K^T is K with its
 * last two dimensions (and strides) swapped, so nothing is copied.
 *
 * Plans are cached per shape (dtype, batch, lengths, heads, head_dim,
 * strides); a shape cuDNN cannot serve is cached with its error. One handle
 * and one workspace serve the process, under a lock, as the cuBLASLt GEMMs do. */
#include <cudnn_graph.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cudnn_attention.h"
#include "core/bench.h"
#include "core/devmem.h"
#include "core/log.h"
#include "core/status.h"

enum {
    UID_Q = 1,
    UID_K,
    UID_V,
    UID_O,
    UID_SCALE,
    UID_STATS,
    UID_SEQ_Q,
    UID_SEQ_KV,
    UID_TABLE_K,
    UID_TABLE_V,
    UID_NEG_INF, /* paged K/V only */
    UID_DESCALE_Q, /* FP8 only, from here on */
    UID_DESCALE_K,
    UID_DESCALE_V,
    UID_DESCALE_S,
    UID_SCALE_S,
    UID_SCALE_O,
    UID_AMAX_S,
    UID_AMAX_O,
    UID_FIRST_VIRTUAL = 100
};

#define MAX_PLANS 64 /* room for the FP8 forms refused on the way to the one served */
#define MAX_DESCRIPTORS 96
#define MAX_ENGINE_CONFIGS 16
/* The fused engines need a few MiB at most; an engine asking for more than
 * this would be one that materialises the score matrix, which we never want. */
#define MAX_WORKSPACE_BYTES ((int64_t)1 << 30)

typedef struct plan_key {
    vs_dtype dtype;
    int batch, heads, seq_len, kv_len, head_dim;
    int with_stats;     /* the log-sum-exp statistics are an output */
    int lengths;        /* per-entry lengths (seq_len_q, seq_len_kv) bound the products and mask the scores */
    int pages_per_row;  /* paged K/V: page-table entries per batch entry (0: plain strided K and V) */
    int num_pages;      /* paged K/V: pages in each container */
    int fp8;            /* E4M3 Q, K, V with descales (fp8_attention_graph), in the form fp8_form */
    vs_cudnn_fp8_form fp8_form;
    int64_t strides[8]; /* batch, token stride of q, k, v, out; paged: page, head, token of k, v */
} plan_key;

typedef struct plan_entry {
    plan_key key;
    cudnnBackendDescriptor_t plan; /* NULL: no engine; `error` says what cuDNN answered */
    int64_t workspace_bytes;
    char error[512];
} plan_entry;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static cudnnHandle_t g_handle;
static plan_entry g_plans[MAX_PLANS];
static int g_plan_count, g_next_evicted;
static void *g_workspace;
static size_t g_workspace_bytes;

/* ---- building a graph: descriptors owned by the builder, first failure kept ---- */

typedef struct graph {
    cudnnBackendDescriptor_t owned[MAX_DESCRIPTORS];
    int count;
    int64_t next_uid;
    cudnnStatus_t status;
    char failed[128]; /* the call (and attribute) that failed first */
} graph;

static void record(graph *g, cudnnStatus_t st, const char *what) {
    if (g->status == CUDNN_STATUS_SUCCESS && st != CUDNN_STATUS_SUCCESS) {
        g->status = st;
        snprintf(g->failed, sizeof g->failed, "%s", what);
    }
}

static cudnnBackendDescriptor_t make(graph *g, cudnnBackendDescriptorType_t type, const char *what) {
    cudnnBackendDescriptor_t d = NULL;
    if (g->status) return NULL;
    if (g->count == MAX_DESCRIPTORS) {
        record(g, CUDNN_STATUS_INTERNAL_ERROR, "descriptor table full");
        return NULL;
    }
    record(g, cudnnBackendCreateDescriptor(type, &d), what);
    if (!g->status) g->owned[g->count++] = d;
    return g->status ? NULL : d;
}

static void set(graph *g, cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name, const char *what,
                cudnnBackendAttributeType_t type, int64_t count, const void *value) {
    if (!g->status) record(g, cudnnBackendSetAttribute(d, name, type, count, value), what);
}
#define SET(g, d, name, type, count, value) set((g), (d), (name), "setting " #name, (type), (count), (value))

static void finalize(graph *g, cudnnBackendDescriptor_t d, const char *what) {
    if (!g->status) record(g, cudnnBackendFinalize(d), what);
}

static void graph_free(graph *g) {
    for (int i = g->count - 1; i >= 0; i--)
        cudnnBackendDestroyDescriptor(g->owned[i]);
    g->count = 0;
}

/* A 4-D tensor; uid 0 makes a virtual one with the next free id. */
static cudnnBackendDescriptor_t tensor(graph *g, int64_t uid, cudnnDataType_t type, const int64_t dims[4],
                                       const int64_t strides[4], bool by_value) {
    const bool is_virtual = uid == 0;
    const int64_t alignment = 16;
    if (is_virtual) uid = g->next_uid++;
    cudnnBackendDescriptor_t t = make(g, CUDNN_BACKEND_TENSOR_DESCRIPTOR, "creating a tensor descriptor");
    SET(g, t, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid);
    SET(g, t, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &type);
    SET(g, t, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims);
    SET(g, t, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides);
    SET(g, t, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment);
    if (is_virtual) SET(g, t, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &is_virtual);
    if (by_value) SET(g, t, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value);
    finalize(g, t, "finalizing a tensor descriptor");
    return t;
}

/* c = a b; with variable lengths, m_len / n_len / k_len (INT32 [B, 1, 1, 1] tensors, or NULL) give each
 * batch entry's actual m, n and k. */
static cudnnBackendDescriptor_t matmul(graph *g, cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b,
                                       cudnnBackendDescriptor_t c, cudnnBackendDescriptor_t m_len,
                                       cudnnBackendDescriptor_t n_len, cudnnBackendDescriptor_t k_len) {
    const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t desc = make(g, CUDNN_BACKEND_MATMUL_DESCRIPTOR, "creating a matmul descriptor");
    SET(g, desc, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
    finalize(g, desc, "finalizing a matmul descriptor");
    cudnnBackendDescriptor_t op =
        make(g, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, "creating a matmul operation");
    SET(g, op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &a);
    SET(g, op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b);
    SET(g, op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c);
    SET(g, op, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &desc);
    if (m_len)
        SET(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_M_OVERRIDE_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
            &m_len);
    if (n_len)
        SET(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_N_OVERRIDE_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
            &n_len);
    if (k_len)
        SET(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_K_OVERRIDE_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
            &k_len);
    finalize(g, op, "finalizing a matmul operation");
    return op;
}

/* y = x (mode) b, or y = mode(x) when b is NULL; `t` is BINARY_SELECT's condition (y = t ? x : b) and
 * `axis` GEN_INDEX's dimension. `precision` is the type the operation computes in. */
static cudnnBackendDescriptor_t pointwise_full(graph *g, cudnnPointwiseMode_t mode, cudnnDataType_t precision,
                                               cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b,
                                               cudnnBackendDescriptor_t t, int64_t axis,
                                               cudnnBackendDescriptor_t y) {
    cudnnBackendDescriptor_t desc =
        make(g, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, "creating a pointwise descriptor");
    SET(g, desc, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
    SET(g, desc, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &precision);
    if (mode == CUDNN_POINTWISE_GEN_INDEX)
        SET(g, desc, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis);
    finalize(g, desc, "finalizing a pointwise descriptor");
    cudnnBackendDescriptor_t op =
        make(g, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, "creating a pointwise operation");
    SET(g, op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &desc);
    SET(g, op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
    if (b) SET(g, op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b);
    if (t) SET(g, op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &t);
    SET(g, op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
    finalize(g, op, "finalizing a pointwise operation");
    return op;
}

/* The f32 arithmetic of the softmax. */
static cudnnBackendDescriptor_t pointwise(graph *g, cudnnPointwiseMode_t mode, cudnnBackendDescriptor_t x,
                                          cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t y) {
    return pointwise_full(g, mode, CUDNN_DATA_FLOAT, x, b, NULL, 0, y);
}

/* y = the pages `table` picks from `container`: one [B, H, ...] tensor of each entry's keys (or values). */
static cudnnBackendDescriptor_t paged_load(graph *g, cudnnBackendDescriptor_t container,
                                           cudnnBackendDescriptor_t table, cudnnBackendDescriptor_t lengths,
                                           cudnnBackendDescriptor_t y) {
    cudnnBackendDescriptor_t op =
        make(g, CUDNN_BACKEND_OPERATION_PAGED_CACHE_LOAD_DESCRIPTOR, "creating a paged cache load");
    SET(g, op, CUDNN_ATTR_OPERATION_PAGED_CACHE_LOAD_CONTAINER_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
        &container);
    SET(g, op, CUDNN_ATTR_OPERATION_PAGED_CACHE_LOAD_PAGE_TABLE_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
        &table);
    SET(g, op, CUDNN_ATTR_OPERATION_PAGED_CACHE_LOAD_SEQUENCE_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
        &lengths);
    SET(g, op, CUDNN_ATTR_OPERATION_PAGED_CACHE_LOAD_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
    finalize(g, op, "finalizing a paged cache load");
    return op;
}

/* y = reduction of x over the dimensions where y has extent 1. */
static cudnnBackendDescriptor_t reduction(graph *g, cudnnReduceTensorOp_t mode, cudnnBackendDescriptor_t x,
                                          cudnnBackendDescriptor_t y) {
    const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t desc =
        make(g, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, "creating a reduction descriptor");
    SET(g, desc, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &mode);
    SET(g, desc, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute);
    finalize(g, desc, "finalizing a reduction descriptor");
    cudnnBackendDescriptor_t op =
        make(g, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, "creating a reduction operation");
    SET(g, op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x);
    SET(g, op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y);
    SET(g, op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &desc);
    finalize(g, op, "finalizing a reduction operation");
    return op;
}

/* Appends the softmax of `logits` [B, H, N, L] into `probs` to ops (max, sub, exp, sum, log, add, div: the
 * pattern cuDNN's fused engines recognise); the log-sum-exp statistics are the output `stats_uid`, or virtual
 * when it is 0. */
static void append_softmax(graph *g, const int64_t score_dims[4], const int64_t score_str[4],
                           const int64_t row_dims[4], const int64_t row_str[4], cudnnBackendDescriptor_t logits,
                           int64_t stats_uid, cudnnBackendDescriptor_t probs, cudnnBackendDescriptor_t *ops, int *n) {
    cudnnBackendDescriptor_t row_max = tensor(g, 0, CUDNN_DATA_FLOAT, row_dims, row_str, false);
    cudnnBackendDescriptor_t shifted = tensor(g, 0, CUDNN_DATA_FLOAT, score_dims, score_str, false);
    cudnnBackendDescriptor_t expd = tensor(g, 0, CUDNN_DATA_FLOAT, score_dims, score_str, false);
    cudnnBackendDescriptor_t row_sum = tensor(g, 0, CUDNN_DATA_FLOAT, row_dims, row_str, false);
    cudnnBackendDescriptor_t log_sum = tensor(g, 0, CUDNN_DATA_FLOAT, row_dims, row_str, false);
    cudnnBackendDescriptor_t stats = tensor(g, stats_uid, CUDNN_DATA_FLOAT, row_dims, row_str, false);
    ops[(*n)++] = reduction(g, CUDNN_REDUCE_TENSOR_MAX, logits, row_max);
    ops[(*n)++] = pointwise(g, CUDNN_POINTWISE_SUB, logits, row_max, shifted);
    ops[(*n)++] = pointwise(g, CUDNN_POINTWISE_EXP, shifted, NULL, expd);
    ops[(*n)++] = reduction(g, CUDNN_REDUCE_TENSOR_ADD, expd, row_sum);
    ops[(*n)++] = pointwise(g, CUDNN_POINTWISE_LOG, row_sum, NULL, log_sum);
    ops[(*n)++] = pointwise(g, CUDNN_POINTWISE_ADD, row_max, log_sum, stats);
    ops[(*n)++] = pointwise(g, CUDNN_POINTWISE_DIV, expd, row_sum, probs);
}

/* The operation graph of ops, finalized (or NULL with g->status set). */
static cudnnBackendDescriptor_t finish_graph(graph *g, cudnnBackendDescriptor_t *ops, int n) {
    cudnnBackendDescriptor_t op_graph =
        make(g, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "creating the operation graph");
    SET(g, op_graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &g_handle);
    SET(g, op_graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, n, ops);
    finalize(g, op_graph, "finalizing the operation graph");
    return g->status ? NULL : op_graph;
}

/* Appends scaled = (row < seq_len_q && col < seq_len_kv) ? scaled : -inf to ops; returns the masked scores.
 * seq_q and seq_kv are the INT32 [B, 1, 1, 1] lengths; -inf is the by-value UID_NEG_INF. */
static cudnnBackendDescriptor_t append_length_mask(graph *g, const int64_t score_dims[4], const int64_t score_str[4],
                                                   cudnnBackendDescriptor_t scaled, cudnnBackendDescriptor_t seq_q,
                                                   cudnnBackendDescriptor_t seq_kv, cudnnBackendDescriptor_t *ops,
                                                   int *n) {
    const int64_t *sd = score_dims, *ss = score_str, one[4] = {1, 1, 1, 1};
    const cudnnDataType_t i32 = CUDNN_DATA_INT32, b8 = CUDNN_DATA_BOOLEAN, f32 = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t rows = tensor(g, 0, i32, sd, ss, false), cols = tensor(g, 0, i32, sd, ss, false);
    cudnnBackendDescriptor_t row_ok = tensor(g, 0, b8, sd, ss, false), col_ok = tensor(g, 0, b8, sd, ss, false);
    cudnnBackendDescriptor_t inside = tensor(g, 0, b8, sd, ss, false), masked = tensor(g, 0, f32, sd, ss, false);
    cudnnBackendDescriptor_t neg_inf = tensor(g, UID_NEG_INF, f32, one, one, true);
    ops[(*n)++] = pointwise_full(g, CUDNN_POINTWISE_GEN_INDEX, i32, scaled, NULL, NULL, 2, rows);
    ops[(*n)++] = pointwise_full(g, CUDNN_POINTWISE_GEN_INDEX, i32, scaled, NULL, NULL, 3, cols);
    ops[(*n)++] = pointwise_full(g, CUDNN_POINTWISE_CMP_LT, b8, rows, seq_q, NULL, 0, row_ok);
    ops[(*n)++] = pointwise_full(g, CUDNN_POINTWISE_CMP_LT, b8, cols, seq_kv, NULL, 0, col_ok);
    ops[(*n)++] = pointwise_full(g, CUDNN_POINTWISE_LOGICAL_AND, b8, row_ok, col_ok, NULL, 0, inside);
    ops[(*n)++] = pointwise_full(g, CUDNN_POINTWISE_BINARY_SELECT, f32, scaled, neg_inf, inside, 0, masked);
    return masked;
}

/* The operation graph of the file comment; returns it finalized (or NULL with g->status set). With lengths
 * (always when paged), each batch entry's actual lengths (seq_len_q, seq_len_kv) bound both matmuls and mask
 * the scores beyond them; paged (k->pages_per_row > 0): K^T and V are loaded page by page from their
 * containers. */
static cudnnBackendDescriptor_t attention_graph(graph *g, const plan_key *k) {
    const cudnnDataType_t io = k->dtype == VS_BF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_HALF;
    const int64_t B = k->batch, H = k->heads, N = k->seq_len, L = k->kv_len, D = k->head_dim;
    const int64_t *s = k->strides;
    const int64_t q_dims[4] = {B, H, N, D}, q_str[4] = {s[0], D, s[1], 1};
    const int64_t kt_dims[4] = {B, H, D, L}, kt_str[4] = {s[2], D, 1, s[3]};
    const int64_t v_dims[4] = {B, H, L, D}, v_str[4] = {s[4], D, s[5], 1};
    const int64_t o_str[4] = {s[6], D, s[7], 1};
    const int64_t one[4] = {1, 1, 1, 1};
    const int64_t score_dims[4] = {B, H, N, L}, score_str[4] = {H * N * L, N * L, L, 1};
    const int64_t row_dims[4] = {B, H, N, 1}, row_str[4] = {H * N, N, 1, 1};
    const bool paged = k->pages_per_row > 0;

    cudnnBackendDescriptor_t q = tensor(g, UID_Q, io, q_dims, q_str, false);
    cudnnBackendDescriptor_t o = tensor(g, UID_O, io, q_dims, o_str, false);
    cudnnBackendDescriptor_t scale = tensor(g, UID_SCALE, CUDNN_DATA_FLOAT, one, one, true);
    cudnnBackendDescriptor_t ops[20];
    int n = 0;

    cudnnBackendDescriptor_t kt, v, seq_q = NULL, seq_kv = NULL;
    if (k->lengths) {
        const int64_t len_dims[4] = {B, 1, 1, 1};
        seq_q = tensor(g, UID_SEQ_Q, CUDNN_DATA_INT32, len_dims, one, false);
        seq_kv = tensor(g, UID_SEQ_KV, CUDNN_DATA_INT32, len_dims, one, false);
    }
    if (paged) {
        const int64_t P = k->pages_per_row, page = VS_ATTN_BLOCK;
        const int64_t table_dims[4] = {B, 1, P, 1}, table_str[4] = {P, P, 1, 1};
        const int64_t container_dims[4] = {k->num_pages, H, page, D},
                      container_str[4] = {s[2], s[3], s[4], 1};
        const int64_t kt_virtual_str[4] = {H * D * L, D * L, 1, D},
                      v_virtual_str[4] = {H * L * D, L * D, D, 1};
        cudnnBackendDescriptor_t table_k =
            tensor(g, UID_TABLE_K, CUDNN_DATA_INT32, table_dims, table_str, false);
        cudnnBackendDescriptor_t table_v =
            tensor(g, UID_TABLE_V, CUDNN_DATA_INT32, table_dims, table_str, false);
        cudnnBackendDescriptor_t k_pages = tensor(g, UID_K, io, container_dims, container_str, false);
        cudnnBackendDescriptor_t v_pages = tensor(g, UID_V, io, container_dims, container_str, false);
        kt = tensor(g, 0, io, kt_dims, kt_virtual_str, false);
        v = tensor(g, 0, io, v_dims, v_virtual_str, false);
        ops[n++] = paged_load(g, k_pages, table_k, seq_kv, kt);
        ops[n++] = paged_load(g, v_pages, table_v, seq_kv, v);
    } else {
        kt = tensor(g, UID_K, io, kt_dims, kt_str, false);
        v = tensor(g, UID_V, io, v_dims, v_str, false);
    }

    cudnnBackendDescriptor_t scores = tensor(g, 0, CUDNN_DATA_FLOAT, score_dims, score_str, false);
    cudnnBackendDescriptor_t scaled = tensor(g, 0, CUDNN_DATA_FLOAT, score_dims, score_str, false);
    ops[n++] = matmul(g, q, kt, scores, seq_q, seq_kv, NULL);
    ops[n++] = pointwise(g, CUDNN_POINTWISE_MUL, scores, scale, scaled);
    if (k->lengths) scaled = append_length_mask(g, score_dims, score_str, scaled, seq_q, seq_kv, ops, &n);
    cudnnBackendDescriptor_t probs = tensor(g, 0, io, score_dims, score_str, false);
    append_softmax(g, score_dims, score_str, row_dims, row_str, scaled, k->with_stats ? UID_STATS : 0, probs, ops, &n);
    ops[n++] = matmul(g, probs, v, o, seq_q, NULL, seq_kv);
    return finish_graph(g, ops, n);
}

/* FP8 attention (cuDNN's FP8 fused flash attention, the graph cuDNN's frontend builds for its FP8 SDPA
 * forward): E4M3 Q, K, V whose values are codes * descale, one head ([B, 1, rows, D]). Every scale is an
 * f32 [1,1,1,1] device tensor (scale_o by value in the form scale_o_value):
 *
 *   S  = Q K^T * scale * descale_q * descale_k       f32, the real-valued logits
 *   (padded form: S = -inf outside row < seq_len_q, col < seq_len_kv; both matmuls bounded by them)
 *   P  = softmax(S)                                  (the same max / exp / sum / log / div chain; the
 *                                                    log-sum-exp an output in the form stats)
 *   amax_s = max |P|                                 (an output the pattern requires)
 *   P8 = e4m3(P * scale_s)                           scale_s = 448: P's largest value, 1, maps to E4M3's
 *   O  = (P8 V) * descale_s * descale_v * scale_o    descale_s = 1/448; O BF16, or E4M3 (form out_e4m3)
 *   amax_o = max |(P8 V) * descale_s * descale_v|
 *
 * The fused kernel quantises each tile's unnormalised exp(S - running max), whose largest value is 1, so a
 * fixed scale_s of 448 uses E4M3's whole range (what cuDNN's own FP8 samples do). */
static cudnnBackendDescriptor_t fp8_attention_graph(graph *g, const plan_key *k) {
    const cudnnDataType_t f8 = CUDNN_DATA_FP8_E4M3, f32 = CUDNN_DATA_FLOAT;
    const vs_cudnn_fp8_form *form = &k->fp8_form;
    const int64_t B = k->batch, H = k->heads, N = k->seq_len, L = k->kv_len, D = k->head_dim;
    const int64_t *s = k->strides;
    const int64_t q_dims[4] = {B, H, N, D}, q_str[4] = {s[0], D, s[1], 1};
    const int64_t kt_dims[4] = {B, H, D, L}, kt_str[4] = {s[2], D, 1, s[3]};
    const int64_t v_dims[4] = {B, H, L, D}, v_str[4] = {s[4], D, s[5], 1};
    const int64_t o_str[4] = {s[6], D, s[7], 1};
    const int64_t one[4] = {1, 1, 1, 1}, len_dims[4] = {B, 1, 1, 1};
    const int64_t score_dims[4] = {B, H, N, L}, score_str[4] = {H * N * L, N * L, L, 1};
    const int64_t row_dims[4] = {B, H, N, 1}, row_str[4] = {H * N, N, 1, 1};
    const int64_t o_virtual_str[4] = {H * N * D, N * D, D, 1};

    cudnnBackendDescriptor_t q = tensor(g, UID_Q, f8, q_dims, q_str, false);
    cudnnBackendDescriptor_t kt = tensor(g, UID_K, f8, kt_dims, kt_str, false);
    cudnnBackendDescriptor_t v = tensor(g, UID_V, f8, v_dims, v_str, false);
    cudnnBackendDescriptor_t o = tensor(g, UID_O, form->out_e4m3 ? f8 : CUDNN_DATA_BFLOAT16, q_dims, o_str, false);
    cudnnBackendDescriptor_t scale = tensor(g, UID_SCALE, f32, one, one, true);
    cudnnBackendDescriptor_t descale_q = tensor(g, UID_DESCALE_Q, f32, one, one, false);
    cudnnBackendDescriptor_t descale_k = tensor(g, UID_DESCALE_K, f32, one, one, false);
    cudnnBackendDescriptor_t descale_v = tensor(g, UID_DESCALE_V, f32, one, one, false);
    cudnnBackendDescriptor_t descale_s = tensor(g, UID_DESCALE_S, f32, one, one, false);
    cudnnBackendDescriptor_t scale_s = tensor(g, UID_SCALE_S, f32, one, one, false);
    cudnnBackendDescriptor_t scale_o = tensor(g, UID_SCALE_O, f32, one, one, form->scale_o_value != 0);
    cudnnBackendDescriptor_t amax_s = tensor(g, UID_AMAX_S, f32, one, one, false);
    cudnnBackendDescriptor_t amax_o = tensor(g, UID_AMAX_O, f32, one, one, false);
    cudnnBackendDescriptor_t seq_q = NULL, seq_kv = NULL;
    if (form->padded) {
        seq_q = tensor(g, UID_SEQ_Q, CUDNN_DATA_INT32, len_dims, one, false);
        seq_kv = tensor(g, UID_SEQ_KV, CUDNN_DATA_INT32, len_dims, one, false);
    }
    cudnnBackendDescriptor_t ops[32];
    int n = 0;

    cudnnBackendDescriptor_t scores = tensor(g, 0, f32, score_dims, score_str, false);
    cudnnBackendDescriptor_t scaled = tensor(g, 0, f32, score_dims, score_str, false);
    cudnnBackendDescriptor_t scaled_q = tensor(g, 0, f32, score_dims, score_str, false);
    cudnnBackendDescriptor_t logits = tensor(g, 0, f32, score_dims, score_str, false);
    ops[n++] = matmul(g, q, kt, scores, seq_q, seq_kv, NULL);
    ops[n++] = pointwise(g, CUDNN_POINTWISE_MUL, scores, scale, scaled);
    ops[n++] = pointwise(g, CUDNN_POINTWISE_MUL, scaled, descale_q, scaled_q);
    ops[n++] = pointwise(g, CUDNN_POINTWISE_MUL, scaled_q, descale_k, logits);
    if (form->padded) logits = append_length_mask(g, score_dims, score_str, logits, seq_q, seq_kv, ops, &n);

    cudnnBackendDescriptor_t probs = tensor(g, 0, f32, score_dims, score_str, false);
    cudnnBackendDescriptor_t probs8 = tensor(g, 0, f8, score_dims, score_str, false);
    append_softmax(g, score_dims, score_str, row_dims, row_str, logits, form->stats ? UID_STATS : 0, probs, ops,
                   &n);
    ops[n++] = reduction(g, CUDNN_REDUCE_TENSOR_AMAX, probs, amax_s);
    ops[n++] = pointwise(g, CUDNN_POINTWISE_MUL, probs, scale_s, probs8);

    cudnnBackendDescriptor_t pv = tensor(g, 0, f32, q_dims, o_virtual_str, false);
    cudnnBackendDescriptor_t pv_s = tensor(g, 0, f32, q_dims, o_virtual_str, false);
    cudnnBackendDescriptor_t pv_sv = tensor(g, 0, f32, q_dims, o_virtual_str, false);
    ops[n++] = matmul(g, probs8, v, pv, seq_q, NULL, seq_kv);
    ops[n++] = pointwise(g, CUDNN_POINTWISE_MUL, pv, descale_s, pv_s);
    ops[n++] = pointwise(g, CUDNN_POINTWISE_MUL, pv_s, descale_v, pv_sv);
    ops[n++] = pointwise(g, CUDNN_POINTWISE_MUL, pv_sv, scale_o, o);
    ops[n++] = reduction(g, CUDNN_REDUCE_TENSOR_AMAX, pv_sv, amax_o);
    return finish_graph(g, ops, n);
}

static const char *status_text(cudnnStatus_t st) {
    return cudnnGetErrorString(st);
}

/* VS_CUDNN_ENGINE_CONFIG=i in the environment, read once: the heuristics' i-th engine config is tried first
 * (a diagnostic for timing cuDNN's alternatives on one shape; -1, unset: the ranked order). */
static int64_t preferred_engine_config(void) {
    static int64_t index = -2;
    if (index == -2) {
        const char *v = getenv("VS_CUDNN_ENGINE_CONFIG");
        index = v && *v ? strtoll(v, NULL, 10) : -1;
    }
    return index;
}

/* Names the engine config a plan took (its index in the heuristics' ranking and cuDNN's global engine index). */
static void log_engine_config(graph *g, cudnnBackendDescriptor_t config, int64_t rank, int64_t offered) {
    cudnnBackendDescriptor_t engine = make(g, CUDNN_BACKEND_ENGINE_DESCRIPTOR, "creating an engine descriptor");
    int64_t n = 0, global_index = -1;
    if (!g->status)
        record(g, cudnnBackendGetAttribute(config, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n,
                                           &engine),
               "reading an engine config's engine");
    if (!g->status)
        record(g, cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n,
                                           &global_index),
               "reading an engine's global index");
    VS_INFO("cuDNN attention: engine config %lld of the %lld offered (cuDNN engine %lld)", (long long)rank,
            (long long)offered, (long long)global_index);
    g->status = CUDNN_STATUS_SUCCESS; /* a diagnostic: its failure does not fail the plan */
}

/* Builds e->plan for e->key: heuristics (mode A) rank the engine configs; the
 * first that finalizes into a plan with a sane workspace wins. On failure
 * e->plan stays NULL and e->error names the step and cuDNN's status. */
static void build_plan(plan_entry *e) {
    graph g = {.next_uid = UID_FIRST_VIRTUAL};
    char detail[256] = "";
    cudnnBackendDescriptor_t op_graph =
        e->key.fp8 ? fp8_attention_graph(&g, &e->key) : attention_graph(&g, &e->key);
    cudnnBackendDescriptor_t heur =
        make(&g, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "creating the engine heuristics");
    const cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
    SET(&g, heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &op_graph);
    SET(&g, heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
    finalize(&g, heur, "finalizing the engine heuristics");
    int64_t available = 0, got = 0;
    if (!g.status)
        record(&g,
               cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                                        &available, NULL),
               "counting the heuristics' engine configs");
    if (!g.status && available == 0) record(&g, CUDNN_STATUS_NOT_SUPPORTED, "heuristics: no engine config");
    cudnnBackendDescriptor_t configs[MAX_ENGINE_CONFIGS] = {0};
    const int64_t wanted = available < MAX_ENGINE_CONFIGS ? available : MAX_ENGINE_CONFIGS;
    for (int64_t i = 0; i < wanted; i++)
        configs[i] = make(&g, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "creating an engine config");
    if (!g.status)
        record(&g,
               cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                        wanted, &got, configs),
               "reading the heuristics' engine configs");

    /* Try the ranked configs (VS_CUDNN_ENGINE_CONFIG's first); remember why the last one was refused. */
    cudnnStatus_t refused = CUDNN_STATUS_NOT_SUPPORTED;
    int64_t refused_workspace = -1;
    const int64_t preferred = preferred_engine_config() < got ? preferred_engine_config() : -1;
    for (int64_t tried = 0; !g.status && tried < got && !e->plan; tried++) {
        const int64_t i = preferred < 0 ? tried : tried == 0 ? preferred : tried <= preferred ? tried - 1 : tried;
        cudnnBackendDescriptor_t plan = NULL;
        int64_t workspace = 0, n = 0;
        cudnnStatus_t st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan);
        if (!st)
            st = cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1,
                                          &g_handle);
        if (!st)
            st = cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                          CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &configs[i]);
        if (!st) st = cudnnBackendFinalize(plan);
        if (!st)
            st = cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                          &n, &workspace);
        if (!st && workspace <= MAX_WORKSPACE_BYTES) {
            e->plan = plan;
            e->workspace_bytes = workspace;
            if (preferred >= 0) log_engine_config(&g, configs[i], i, got);
        } else {
            if (st) cudnnGetLastErrorString(detail, sizeof detail);
            refused = st;
            refused_workspace = st ? -1 : workspace;
            if (plan) cudnnBackendDestroyDescriptor(plan);
        }
    }
    if (g.status) cudnnGetLastErrorString(detail, sizeof detail);
    const plan_key *k = &e->key;
    const vs_cudnn_fp8_form *f = &k->fp8_form;
    char shape[160], fp8_form[80];
    snprintf(fp8_form, sizeof fp8_form, "E4M3 in, %s out%s%s%s", f->out_e4m3 ? "E4M3" : "BF16",
             f->stats ? ", stats out" : "", f->padded ? ", padded with lengths" : "",
             f->scale_o_value ? ", scale_o by value" : "");
    snprintf(shape, sizeof shape, "B %d, N %d, L %d, H %d, D %d, %s%s", k->batch, k->seq_len, k->kv_len,
             k->heads, k->head_dim, k->fp8 ? fp8_form : vs_dtype_name(k->dtype),
             k->pages_per_row ? ", paged K/V" : k->lengths ? ", per-entry lengths" : "");
    if (g.status)
        snprintf(e->error, sizeof e->error, "cuDNN has no fused attention for %s: %s returned %s (%d)%s%s",
                 shape, g.failed, status_text(g.status), (int)g.status, detail[0] ? ": " : "", detail);
    else if (!e->plan && refused_workspace >= 0)
        snprintf(
            e->error, sizeof e->error,
            "cuDNN has no fused attention for %s: the %lld engine configs offered need up to %lld MiB of "
            "workspace (a non-fused engine)",
            shape, (long long)got, (long long)(refused_workspace >> 20));
    else if (!e->plan)
        snprintf(e->error, sizeof e->error,
                 "cuDNN has no fused attention for %s: none of the %lld engine configs finalized into a plan "
                 "(last: %s (%d)%s%s)",
                 shape, (long long)got, status_text(refused), (int)refused, detail[0] ? ": " : "", detail);
    graph_free(&g);
}

/* The cached entry for `key`, building it (and evicting the oldest) on a miss. */
static plan_entry *find_or_build(const plan_key *key) {
    for (int i = 0; i < g_plan_count; i++)
        if (!memcmp(&g_plans[i].key, key, sizeof *key)) return &g_plans[i];
    plan_entry *e;
    if (g_plan_count < MAX_PLANS) {
        e = &g_plans[g_plan_count++];
    } else {
        e = &g_plans[g_next_evicted];
        g_next_evicted = (g_next_evicted + 1) % MAX_PLANS;
        if (e->plan) cudnnBackendDestroyDescriptor(e->plan);
    }
    memset(e, 0, sizeof *e);
    e->key = *key;
    const double start_ms = vs_bench_now_ms();
    build_plan(e);
    VS_DEBUG("cuDNN attention plan built in %.1f ms (batch %d, %d heads, %d x %d tokens%s%s%s)",
             vs_bench_now_ms() - start_ms, key->batch, key->heads,
             key->seq_len, key->kv_len, key->lengths ? ", lengths" : "", key->pages_per_row ? ", paged" : "",
             key->fp8 ? ", fp8" : "");
    if (!e->plan && !key->fp8) /* FP8 forms: vs_cudnn_fp8_pick reports */
        VS_WARN("%s (this attention falls back to our flash kernel)", e->error);
    return e;
}

static vs_status ensure_handle(void) {
    if (g_handle) return VS_OK;
    cudnnStatus_t st = cudnnCreate(&g_handle);
    if (st) {
        g_handle = NULL;
        return vs_fail(VS_ERR_CUDA, "cudnnCreate failed: %s (%d)", status_text(st), (int)st);
    }
    return VS_OK;
}

/* Grows the shared workspace; freeing the old one waits for the work using it. */
static vs_status ensure_workspace(int64_t bytes) {
    if ((size_t)bytes <= g_workspace_bytes) return VS_OK;
    vs_device_free(g_workspace);
    g_workspace = NULL, g_workspace_bytes = 0;
    VS_TRY(vs_device_malloc(&g_workspace, (size_t)bytes));
    g_workspace_bytes = (size_t)bytes;
    return VS_OK;
}

/* Per-entry lengths of a plan with lengths: INT32 [batch] device arrays. */
typedef struct lengths {
    const int32_t *q, *kv;
} lengths;

static vs_status execute(const plan_entry *e, const vs_attn_args *a, float *lse, const lengths *len,
                         const vs_cudnn_pages *pages, const vs_cudnn_fp8_scales *fp8, void *stream) {
    float scale = a->scale, neg_inf = -INFINITY, scale_o_value = 1.0f;
    int64_t uids[24] = {UID_Q, UID_K, UID_V, UID_O, UID_SCALE};
    void *pointers[24] = {(void *)a->q, (void *)a->k, (void *)a->v, a->out, &scale};
    int64_t tensors = 5;
    if (lse) uids[tensors] = UID_STATS, pointers[tensors++] = lse;
    if (fp8) {
        const vs_cudnn_fp8_form *form = &e->key.fp8_form;
        const int64_t fp8_uids[8] = {UID_DESCALE_Q, UID_DESCALE_K, UID_DESCALE_V, UID_DESCALE_S,
                                     UID_SCALE_S,   UID_SCALE_O,   UID_AMAX_S,    UID_AMAX_O};
        void *fp8_pointers[8] = {(void *)fp8->descale_q, (void *)fp8->descale_k, (void *)fp8->descale_v,
                                 (void *)fp8->descale_s, (void *)fp8->scale_s,
                                 form->scale_o_value ? &scale_o_value : (void *)fp8->scale_o,
                                 fp8->amax_s,            fp8->amax_o};
        for (int i = 0; i < 8; i++)
            uids[tensors] = fp8_uids[i], pointers[tensors++] = fp8_pointers[i];
        if (form->stats) uids[tensors] = UID_STATS, pointers[tensors++] = fp8->stats;
    }
    if (len) {
        uids[tensors] = UID_SEQ_Q, pointers[tensors++] = (void *)len->q;
        uids[tensors] = UID_SEQ_KV, pointers[tensors++] = (void *)len->kv;
        uids[tensors] = UID_NEG_INF, pointers[tensors++] = &neg_inf;
    }
    if (pages) {
        uids[tensors] = UID_TABLE_K, pointers[tensors++] = (void *)pages->table;
        uids[tensors] = UID_TABLE_V, pointers[tensors++] = (void *)pages->table;
    }
    void *workspace = g_workspace;
    cudnnBackendDescriptor_t pack = NULL;
    const char *step = "cudnnSetStream";
    cudnnStatus_t st = cudnnSetStream(g_handle, (cudaStream_t)stream);
    if (!st) {
        step = "building the variant pack";
        st = cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &pack);
    }
    if (!st)
        st = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, tensors,
                                      uids);
    if (!st)
        st = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR,
                                      tensors, pointers);
    if (!st)
        st = cudnnBackendSetAttribute(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1,
                                      &workspace);
    if (!st) st = cudnnBackendFinalize(pack);
    if (!st) {
        step = "cudnnBackendExecute";
        st = cudnnBackendExecute(g_handle, e->plan, pack);
    }
    if (pack) cudnnBackendDestroyDescriptor(pack);
    if (!st) return VS_OK;
    char detail[256] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    return vs_fail(VS_ERR_CUDA, "cuDNN attention (B %d, N %d, L %d, H %d, D %d): %s failed: %s (%d)%s%s",
                   a->batch, a->seq_len, vs_attn_kv_len(a), a->heads, a->head_dim, step, status_text(st),
                   (int)st, detail[0] ? ": " : "", detail);
}

vs_status vs_cudnn_attention(const vs_attn_args *a, void *stream) {
    return vs_cudnn_attention_lse(a, NULL, stream);
}

/* Looks up (or builds) the plan of `key` and runs it, under the lock. */
static vs_status run(const plan_key *key, const vs_attn_args *a, float *lse, const lengths *len,
                     const vs_cudnn_pages *pages, const vs_cudnn_fp8_scales *fp8, void *stream) {
    pthread_mutex_lock(&g_lock);
    vs_status s = ensure_handle();
    const plan_entry *e = s ? NULL : find_or_build(key);
    if (e && !e->plan) s = vs_fail(VS_ERR_UNSUPPORTED, "%s", e->error);
    if (!s) s = ensure_workspace(e->workspace_bytes);
    if (!s) s = execute(e, a, lse, len, pages, fp8, stream);
    pthread_mutex_unlock(&g_lock);
    return s;
}

/* The key fields both entry points share; strides must be multiples of 8 elements and pointers 16-byte
 * aligned. */
static vs_status key_for(const vs_attn_args *a, const int64_t strides[8], const void *const ptrs[5],
                         plan_key *key) {
    if (a->dtype != VS_BF16 && a->dtype != VS_F16)
        return vs_fail(VS_ERR_UNSUPPORTED, "cuDNN attention takes BF16 or F16 tensors, not %s",
                       vs_dtype_name(a->dtype));
    memset(key, 0, sizeof *key); /* padding too: keys are compared bytewise */
    key->dtype = a->dtype;
    key->batch = a->batch, key->heads = a->heads, key->seq_len = a->seq_len, key->kv_len = vs_attn_kv_len(a);
    key->head_dim = a->head_dim;
    memcpy(key->strides, strides, sizeof key->strides);
    for (int i = 0; i < 8; i++)
        if (strides[i] % 8 != 0)
            return vs_fail(VS_ERR_UNSUPPORTED,
                           "cuDNN attention needs strides that are multiples of 8 elements");
    for (int i = 0; i < 5; i++)
        if ((uintptr_t)ptrs[i] % 16 != 0)
            return vs_fail(VS_ERR_UNSUPPORTED,
                           "cuDNN attention needs 16-byte aligned q, k, v, out and statistics");
    return VS_OK;
}

/* The plan key of a dense attention (with statistics when lse is given), after its checks. */
static vs_status dense_key(const vs_attn_args *a, const float *lse, plan_key *key) {
    VS_TRY(vs_attn_args_validate(a));
    if (a->blocks || a->head_layout)
        return vs_fail(VS_ERR_UNSUPPORTED, "cuDNN attention is dense only (no block list, no head layout)");
    const int64_t strides[8] = {a->q_stride_b, a->q_stride_n, a->k_stride_b, a->k_stride_n,
                                a->v_stride_b, a->v_stride_n, a->o_stride_b, a->o_stride_n};
    const void *const ptrs[5] = {a->q, a->k, a->v, a->out, lse};
    VS_TRY(key_for(a, strides, ptrs, key));
    key->with_stats = lse != NULL;
    return VS_OK;
}

vs_status vs_cudnn_attention_lse(const vs_attn_args *a, float *lse, void *stream) {
    plan_key key;
    VS_TRY(dense_key(a, lse, &key));
    return run(&key, a, lse, NULL, NULL, NULL, stream);
}

vs_status vs_cudnn_attention_lengths(const vs_attn_args *a, const int32_t *seq_len_q, const int32_t *seq_len_kv,
                                     float *lse, void *stream) {
    if (!seq_len_q || !seq_len_kv || (uintptr_t)seq_len_q % 16 || (uintptr_t)seq_len_kv % 16)
        return vs_fail(VS_ERR_INVALID_ARG, "cuDNN attention with lengths: 16-byte aligned length arrays are required");
    plan_key key;
    VS_TRY(dense_key(a, lse, &key));
    key.lengths = 1;
    const lengths len = {seq_len_q, seq_len_kv};
    return run(&key, a, lse, &len, NULL, NULL, stream);
}

/* VS_OK when the plan of `key` exists (building it), VS_ERR_UNSUPPORTED with its error when cuDNN has none. */
static vs_status supported(const plan_key *key) {
    pthread_mutex_lock(&g_lock);
    vs_status s = ensure_handle();
    const plan_entry *e = s ? NULL : find_or_build(key);
    if (e && !e->plan) s = vs_fail(VS_ERR_UNSUPPORTED, "%s", e->error);
    pthread_mutex_unlock(&g_lock);
    return s;
}

vs_status vs_cudnn_attention_supported(const vs_attn_args *a) {
    plan_key key;
    VS_TRY(dense_key(a, NULL, &key));
    return supported(&key);
}

vs_status vs_cudnn_paged_attention(const vs_attn_args *a, const vs_cudnn_pages *pages, void *stream) {
    if (!pages || !pages->table || !pages->seq_len_q || !pages->seq_len_kv || pages->pages_per_row < 1 ||
        pages->num_pages < 1)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "cuDNN paged attention: page table, lengths and page counts are required");
    if (a->blocks || a->head_layout)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "cuDNN paged attention: the pages are the block list (no block list, "
                       "no head layout in the arguments)");
    if (!a->q || !a->k || !a->v || !a->out || a->batch < 1 || a->heads < 1 || a->seq_len < 1 ||
        (a->head_dim != 64 && a->head_dim != 128) || a->q_stride_n < (int64_t)a->heads * a->head_dim ||
        a->o_stride_n < (int64_t)a->heads * a->head_dim)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "cuDNN paged attention: batch %d, heads %d, rows %d, head_dim %d and "
                       "the q and out token strides do not describe [B, N, H, D] tensors",
                       a->batch, a->heads, a->seq_len, a->head_dim);
    vs_attn_args shape = *a;
    shape.kv_len = pages->pages_per_row * VS_ATTN_BLOCK;
    const int64_t strides[8] = {a->q_stride_b,      a->q_stride_n,       pages->page_stride,
                                pages->head_stride, pages->token_stride, 0,
                                a->o_stride_b,      a->o_stride_n};
    const void *const ptrs[5] = {a->q, a->k, a->v, a->out, NULL};
    plan_key key;
    VS_TRY(key_for(&shape, strides, ptrs, &key));
    key.pages_per_row = pages->pages_per_row, key.num_pages = pages->num_pages, key.lengths = 1;
    const lengths len = {pages->seq_len_q, pages->seq_len_kv};
    return run(&key, &shape, NULL, &len, pages, NULL, stream);
}

/* BF16 out is what cuDNN's frontend sample for "current scaling" builds, and that sample says Blackwell and
 * cuDNN 9.13 or newer; on Hopper its FP8 sample writes E4M3 out (statistics virtual, 512 tokens). */
const vs_cudnn_fp8_form vs_cudnn_fp8_forms[] = {
    /* out_e4m3, stats, padded, scale_o_value */
    {0, 1, 0, 1}, /* BF16 out, statistics out, scale_o 1 by value: the current-scaling sample */
    {0, 0, 0, 1}, /* the same for inference */
    {1, 0, 0, 0}, /* E4M3 out: the Hopper sample */
    {1, 1, 0, 0},
    {1, 0, 1, 0}, /* E4M3 out, token counts rounded up to VS_CUDNN_FP8_PAD, the padding masked */
    {1, 1, 1, 0},
};
const int vs_cudnn_fp8_form_count = (int)(sizeof vs_cudnn_fp8_forms / sizeof vs_cudnn_fp8_forms[0]);

static int64_t round_to_pad(int64_t n) {
    return (n + VS_CUDNN_FP8_PAD - 1) / VS_CUDNN_FP8_PAD * VS_CUDNN_FP8_PAD;
}

/* The plan key of FP8 attention in `form` (header: the codes' strides as given, token counts rounded up
 * when padded), and in *shape the arguments describing the tensors cuDNN sees. */
static vs_status fp8_key(const vs_attn_args *a, const vs_cudnn_fp8_form *form, vs_attn_args *shape, plan_key *key) {
    if (form->padded && !form->out_e4m3)
        return vs_fail(VS_ERR_INVALID_ARG, "cuDNN FP8 attention: the padded form writes E4M3 out");
    if (a->dtype != VS_BF16)
        return vs_fail(VS_ERR_UNSUPPORTED, "cuDNN FP8 attention takes BF16 arguments, not %s",
                       vs_dtype_name(a->dtype));
    *shape = *a;
    if (form->padded)
        shape->seq_len = (int)round_to_pad(a->seq_len), shape->kv_len = (int)round_to_pad(vs_attn_kv_len(a));
    VS_TRY(dense_key(shape, NULL, key));
    /* E4M3 rows: 16-byte alignment of every token row takes strides that are multiples of 16 codes. */
    if (a->head_dim % 16 != 0)
        return vs_fail(VS_ERR_UNSUPPORTED, "cuDNN FP8 attention needs a head_dim that is a multiple of 16");
    key->fp8 = 1, key->fp8_form = *form;
    return VS_OK;
}

vs_status vs_cudnn_attention_fp8(const vs_attn_args *a, const vs_cudnn_fp8_form *form,
                                 const vs_cudnn_fp8_scales *scales, void *stream) {
    if (!form || !scales || !scales->descale_q || !scales->descale_k || !scales->descale_v || !scales->descale_s ||
        !scales->scale_s || (!scales->scale_o && !form->scale_o_value) || !scales->amax_s || !scales->amax_o ||
        (form->stats && !scales->stats) || (form->padded && (!scales->seq_len_q || !scales->seq_len_kv)))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "cuDNN FP8 attention: a scale, descale, amax, statistics or length array is missing");
    vs_attn_args shape;
    plan_key key;
    VS_TRY(fp8_key(a, form, &shape, &key));
    const lengths len = {scales->seq_len_q, scales->seq_len_kv};
    return run(&key, &shape, NULL, form->padded ? &len : NULL, NULL, scales, stream);
}

vs_status vs_cudnn_fp8_supported(const vs_attn_args *a, const vs_cudnn_fp8_form *form) {
    vs_attn_args shape;
    plan_key key;
    VS_TRY(fp8_key(a, form, &shape, &key));
    return supported(&key);
}

vs_status vs_cudnn_fp8_pick(const vs_attn_args *a, vs_cudnn_fp8_form *form) {
    char first[512] = "";
    for (int i = 0; i < vs_cudnn_fp8_form_count; i++) {
        const vs_status s = vs_cudnn_fp8_supported(a, &vs_cudnn_fp8_forms[i]);
        if (s == VS_OK) {
            *form = vs_cudnn_fp8_forms[i];
            return VS_OK;
        }
        if (s != VS_ERR_UNSUPPORTED) return s;
        if (!first[0]) snprintf(first, sizeof first, "%s", vs_last_error());
    }
    return vs_fail(VS_ERR_UNSUPPORTED, "none of cuDNN's %d FP8 attention forms has an engine (the first: %s)",
                   vs_cudnn_fp8_form_count, first);
}
