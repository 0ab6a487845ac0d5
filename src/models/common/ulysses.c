#include "models/common/ulysses.h"

#include <string.h>

#include "core/status.h"
#include "ops/ops.h"

void vs_ulysses_split(int64_t n, int parts, int i, int64_t *start, int64_t *count) {
    const int64_t base = n / parts, extra = n % parts;
    *count = base + (i < extra);
    *start = i * base + (i < extra ? i : extra);
}

vs_status vs_ulysses_init(vs_ulysses *u, vs_comm *comm, int64_t batch, int64_t tokens, int heads, int head_dim) {
    *u = (vs_ulysses){comm, batch, tokens, heads, head_dim, 0, tokens, 0, heads};
    if (!comm) return VS_OK;
    const int P = vs_comm_size(comm), r = vs_comm_rank(comm);
    if (tokens < P)
        return vs_fail(VS_ERR_SHAPE, "sequence parallelism: %lld tokens cannot be split over %d ranks",
                       (long long)tokens, P);
    int64_t h0, k;
    vs_ulysses_split(heads, P, r, &h0, &k);
    vs_ulysses_split(tokens, P, r, &u->tok0, &u->local);
    u->head0 = (int)h0, u->local_heads = (int)k;
    return VS_OK;
}

/* Byte offsets and sizes of the blocks each peer sends and receives, on both sides. */
typedef struct {
    size_t tok_off[VS_COMM_MAX_RANKS], tok_bytes[VS_COMM_MAX_RANKS];   /* token side, per peer */
    size_t head_off[VS_COMM_MAX_RANKS], head_bytes[VS_COMM_MAX_RANKS]; /* head side, per peer */
} exchange_plan;

static void plan_exchange(const vs_ulysses *u, int64_t element_size, exchange_plan *x) {
    const int P = vs_comm_size(u->comm), hd = u->head_dim;
    size_t tok = 0, head = 0;
    for (int p = 0; p < P; p++) {
        int64_t t0, n, h0, k;
        vs_ulysses_split(u->tokens, P, p, &t0, &n);
        vs_ulysses_split(u->heads, P, p, &h0, &k);
        x->tok_off[p] = tok, x->tok_bytes[p] = (size_t)(u->batch * u->local * k * hd * element_size);
        x->head_off[p] = head, x->head_bytes[p] = (size_t)(u->batch * n * u->local_heads * hd * element_size);
        tok += x->tok_bytes[p], head += x->head_bytes[p];
    }
}

/* A [rows, cols] view of `t`'s storage from element `offset`, rows `stride` apart. */
static vs_tensor rows_at(const vs_tensor *t, int64_t offset, int64_t rows, int64_t cols, int64_t stride) {
    vs_tensor v = vs_tensor_view((char *)t->data + offset * (int64_t)vs_dtype_size(t->dtype), t->dtype, t->device, 2,
                                 (int64_t[]){rows, cols});
    v.stride[0] = stride;
    return v;
}

/* What both directions of the exchange start from: the plan for `dtype` and, for B > 1, the head-side
 * reordering buffer from the arena (B = 1 receives in place). */
static vs_status begin_exchange(const vs_ulysses *u, vs_arena *arena, vs_dtype dtype, exchange_plan *x,
                                vs_tensor *head) {
    plan_exchange(u, (int64_t)vs_dtype_size(dtype), x);
    memset(head, 0, sizeof *head);
    if (u->batch == 1) return VS_OK;
    const int64_t shape[3] = {u->batch, u->tokens, (int64_t)u->local_heads * u->head_dim};
    return vs_arena_tensor(arena, dtype, 3, shape, head);
}

vs_status vs_ulysses_to_heads(const vs_ulysses *u, vs_arena *arena, const vs_tensor *in, vs_tensor *tok,
                              vs_tensor *out) {
    const int P = vs_comm_size(u->comm), hd = u->head_dim;
    const int64_t B = u->batch, n = u->local, N = u->tokens, H = u->heads, k = u->local_heads;
    const int64_t es = (int64_t)vs_dtype_size(in->dtype);
    const size_t mark = vs_arena_mark(arena);
    exchange_plan x;
    vs_tensor head;
    VS_TRY(begin_exchange(u, arena, in->dtype, &x, &head));
    for (int d = 0; d < P; d++) {
        int64_t h0, kd;
        vs_ulysses_split(H, P, d, &h0, &kd);
        vs_tensor dst = rows_at(tok, (int64_t)x.tok_off[d] / es, B * n, kd * hd, kd * hd);
        vs_tensor src = rows_at(in, h0 * hd, B * n, kd * hd, H * hd);
        VS_TRY(vs_op_copy_rows(&dst, &src));
    }
    vs_tensor *recv = B == 1 ? out : &head;
    VS_TRY(vs_comm_all_to_all(u->comm, tok->data, x.tok_off, x.tok_bytes, recv->data, x.head_off, x.head_bytes));
    for (int s = 0; B > 1 && s < P; s++) {
        int64_t t0, ns;
        vs_ulysses_split(N, P, s, &t0, &ns);
        vs_tensor src = rows_at(&head, (int64_t)x.head_off[s] / es, B, ns * k * hd, ns * k * hd);
        vs_tensor dst = rows_at(out, t0 * k * hd, B, ns * k * hd, N * k * hd);
        VS_TRY(vs_op_copy_rows(&dst, &src));
    }
    vs_arena_release(arena, mark);
    return VS_OK;
}

vs_status vs_ulysses_to_tokens(const vs_ulysses *u, vs_arena *arena, const vs_tensor *in, vs_tensor *tok,
                               vs_tensor *out) {
    const int P = vs_comm_size(u->comm), hd = u->head_dim;
    const int64_t B = u->batch, n = u->local, N = u->tokens, H = u->heads, k = u->local_heads;
    const int64_t es = (int64_t)vs_dtype_size(in->dtype);
    const size_t mark = vs_arena_mark(arena);
    exchange_plan x;
    vs_tensor head;
    VS_TRY(begin_exchange(u, arena, in->dtype, &x, &head));
    for (int d = 0; B > 1 && d < P; d++) {
        int64_t t0, nd;
        vs_ulysses_split(N, P, d, &t0, &nd);
        vs_tensor src = rows_at(in, t0 * k * hd, B, nd * k * hd, N * k * hd);
        vs_tensor dst = rows_at(&head, (int64_t)x.head_off[d] / es, B, nd * k * hd, nd * k * hd);
        VS_TRY(vs_op_copy_rows(&dst, &src));
    }
    const vs_tensor *send = B == 1 ? in : &head;
    VS_TRY(vs_comm_all_to_all(u->comm, send->data, x.head_off, x.head_bytes, tok->data, x.tok_off, x.tok_bytes));
    for (int s = 0; s < P; s++) {
        int64_t h0, ks;
        vs_ulysses_split(H, P, s, &h0, &ks);
        vs_tensor src = rows_at(tok, (int64_t)x.tok_off[s] / es, B * n, ks * hd, ks * hd);
        vs_tensor dst = rows_at(out, h0 * hd, B * n, ks * hd, H * hd);
        VS_TRY(vs_op_copy_rows(&dst, &src));
    }
    vs_arena_release(arena, mark);
    return VS_OK;
}

vs_status vs_ulysses_gather_tokens(const vs_ulysses *u, vs_arena *arena, const vs_tensor *mine_in, vs_tensor *all) {
    const vs_tensor mine_copy = *mine_in, *mine = &mine_copy; /* `all` may be `mine_in` */
    const int P = vs_comm_size(u->comm);
    const int64_t B = u->batch, N = u->tokens, Y = mine->shape[2], es = (int64_t)vs_dtype_size(mine->dtype);
    size_t off[VS_COMM_MAX_RANKS], bytes[VS_COMM_MAX_RANKS], total = 0;
    for (int s = 0; s < P; s++) {
        int64_t t0, ns;
        vs_ulysses_split(N, P, s, &t0, &ns);
        off[s] = total, bytes[s] = (size_t)(B * ns * Y * es);
        total += bytes[s];
    }
    /* Gathered as [s][B][n_s][Y]: the result itself for B = 1, else reordered. */
    const int64_t shape[3] = {B, N, Y};
    vs_tensor stacked;
    VS_TRY(vs_arena_tensor(arena, mine->dtype, 3, shape, all));
    stacked = *all;
    if (B > 1) VS_TRY(vs_arena_tensor(arena, mine->dtype, 3, shape, &stacked));
    VS_TRY(vs_comm_all_gather(u->comm, mine->data, stacked.data, off, bytes));
    for (int s = 0; B > 1 && s < P; s++) {
        int64_t t0, ns;
        vs_ulysses_split(N, P, s, &t0, &ns);
        vs_tensor src = rows_at(&stacked, (int64_t)off[s] / es, B, ns * Y, ns * Y);
        vs_tensor dst = rows_at(all, t0 * Y, B, ns * Y, N * Y);
        VS_TRY(vs_op_copy_rows(&dst, &src));
    }
    return VS_OK;
}

vs_status vs_ulysses_my_tokens(const vs_ulysses *u, const vs_tensor *whole, vs_tensor *mine) {
    const int64_t B = u->batch, N = u->tokens, n = u->local, K = whole->shape[2];
    vs_tensor src = rows_at(whole, u->tok0 * K, B, n * K, N * K), dst = rows_at(mine, 0, B, n * K, n * K);
    return vs_op_copy_rows(&dst, &src);
}
