#include "models/common/self_attention.h"

#include <time.h>

#include "core/status.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

vs_status vs_attention_clock_start(vs_attention_clock *c) {
    c->started = now_s();
    return c->timer ? vs_gpu_timer_start(c->timer) : VS_OK;
}

vs_status vs_attention_clock_stop(vs_attention_clock *c) {
    if (c->timer) return vs_gpu_timer_stop(c->timer);
    c->host_s += now_s() - c->started;
    return VS_OK;
}

vs_tensor vs_heads_view(const vs_tensor *t, int heads) {
    const int64_t dim = t->shape[2];
    return vs_tensor_view(t->data, t->dtype, t->device, 4, (int64_t[]){t->shape[0], t->shape[1], heads, dim / heads});
}

/* Attention of the heads in q4 .. o4 ([B, N, heads, D], all tokens), timed. */
static vs_status attend(vs_sparse_attention *attention, int layer, int step, int num_steps, vs_tensor *q4,
                        vs_tensor *k4, vs_tensor *v4, vs_tensor *o4, vs_attention_clock *clock) {
    VS_TRY(vs_attention_clock_start(clock));
    VS_TRY(vs_sparse_attention_run(attention, layer, step, num_steps, q4, k4, v4, o4, NULL));
    return vs_attention_clock_stop(clock);
}

vs_status vs_dit_self_attention(const vs_ulysses *u, vs_arena *arena, vs_sparse_attention *attention, int layer,
                                int step, int num_steps, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                vs_tensor *scratch, vs_tensor *out, vs_attention_clock *clock) {
    if (!u->comm) {
        const int H = u->heads;
        vs_tensor q4 = vs_heads_view(q, H), k4 = vs_heads_view(k, H), v4 = vs_heads_view(v, H);
        vs_tensor o4 = vs_heads_view(out, H);
        return attend(attention, layer, step, num_steps, &q4, &k4, &v4, &o4, clock);
    }
    /* The heads of this rank over all tokens: [B, N, k*D] each. */
    const int64_t shape[3] = {u->batch, u->tokens, (int64_t)u->local_heads * u->head_dim};
    const size_t mark = vs_arena_mark(arena);
    vs_tensor qh, kh, vh, oh;
    VS_TRY(vs_arena_tensor(arena, q->dtype, 3, shape, &qh));
    VS_TRY(vs_arena_tensor(arena, q->dtype, 3, shape, &kh));
    VS_TRY(vs_arena_tensor(arena, q->dtype, 3, shape, &vh));
    VS_TRY(vs_arena_tensor(arena, q->dtype, 3, shape, &oh));
    VS_TRY(vs_ulysses_to_heads(u, arena, q, scratch, &qh));
    VS_TRY(vs_ulysses_to_heads(u, arena, k, scratch, &kh));
    VS_TRY(vs_ulysses_to_heads(u, arena, v, scratch, &vh));
    vs_tensor q4 = vs_heads_view(&qh, u->local_heads), k4 = vs_heads_view(&kh, u->local_heads);
    vs_tensor v4 = vs_heads_view(&vh, u->local_heads), o4 = vs_heads_view(&oh, u->local_heads);
    VS_TRY(attend(attention, layer, step, num_steps, &q4, &k4, &v4, &o4, clock));
    VS_TRY(vs_ulysses_to_tokens(u, arena, &oh, scratch, out));
    vs_arena_release(arena, mark);
    return VS_OK;
}
