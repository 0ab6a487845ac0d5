#include "models/common/joint_dit.h"

#include <stdio.h>
#include <string.h>

#include "core/bench.h"
#include "core/log.h"
#include "core/status.h"
#include "models/common/rope.h"

void vs_joint_dit_cache_release_work(vs_joint_dit_cache *c) {
    vs_arena_free(c->arena);
    vs_tensor_free(&c->rope_cos);
    vs_tensor_free(&c->rope_sin);
    vs_sparse_attention_free(c->sparse);
    vs_gpu_timer_free(c->timer);
    const vs_attention_params attention = c->attention;
    memset(c, 0, sizeof *c);
    c->attention = attention;
}

void vs_joint_dit_cache_release(vs_joint_dit_cache *c) {
    vs_joint_dit_cache_release_work(c);
    memset(c, 0, sizeof *c);
}

vs_status vs_joint_dit_set_attention(vs_joint_dit_cache *c, const vs_attention_params *params, const char *model) {
    vs_attention_params p;
    int changed;
    VS_TRY(vs_sparse_attention_settings(params, &c->attention, model, &p, &changed));
    if (!changed) return VS_OK; /* the same settings: the layers keep their state */
    vs_sparse_attention_free(c->sparse);
    c->sparse = NULL;
    c->attention = p;
    return VS_OK;
}

vs_status vs_joint_dit_prepare(vs_joint_dit_cache *c, const vs_joint_dit_shape *s) {
    if (!c->arena || vs_arena_capacity(c->arena) < s->arena_bytes) {
        vs_arena_free(c->arena);
        c->arena = NULL;
        char name[96];
        snprintf(name, sizeof name, "%s activations", s->label);
        VS_TRY(vs_arena_create(&c->arena, name, s->device, s->arena_bytes));
    }
    if (memcmp(c->rope_grid, s->grid, sizeof c->rope_grid) != 0 || !c->rope_cos.data) {
        vs_tensor_free(&c->rope_cos);
        vs_tensor_free(&c->rope_sin);
        memset(c->rope_grid, 0, sizeof c->rope_grid);
        VS_TRY(vs_rope3d_tensors(s->rope_axes, s->rope_theta, s->grid, s->device, &c->rope_cos, &c->rope_sin));
        memcpy(c->rope_grid, s->grid, sizeof c->rope_grid);
    }
    /* dense attention is one op call; a sparse method keeps its context and layer states for the shape */
    const int sparse = c->attention.method && strcmp(c->attention.method, "dense") != 0;
    if (sparse &&
        (!c->sparse || memcmp(c->sparse_grid, s->grid, sizeof c->sparse_grid) != 0 || c->sparse_text != s->text)) {
        vs_sparse_attention_free(c->sparse);
        c->sparse = NULL;
        const int64_t per_frame = (int64_t)s->grid[1] * s->grid[2], video = s->grid[0] * per_frame;
        vs_sparse_setup setup = {s->device, 1, s->heads, (int)(video + s->text), s->head_dim, 1, {0}, {0}};
        setup.video = vs_svg_config_default(s->grid[0], (int)per_frame, s->text, c->attention.density);
        const double start_ms = vs_bench_now_ms();
        VS_TRY(vs_sparse_attention_create(&c->sparse, &setup, &c->attention, s->layers));
        VS_DEBUG("%s: %s attention set up in %.1f ms", s->label, c->attention.method, vs_bench_now_ms() - start_ms);
        memcpy(c->sparse_grid, s->grid, sizeof c->sparse_grid);
        c->sparse_text = s->text;
    }
    if (s->device == VS_CUDA && !c->timer) VS_TRY(vs_gpu_timer_create(&c->timer, s->timer_intervals));
    return VS_OK;
}

vs_tensor vs_joint_dit_tokens(const vs_tensor *t, int64_t r0, int64_t n) {
    const int64_t dim = t->shape[t->ndim - 1];
    return vs_tensor_view((char *)t->data + r0 * dim * (int64_t)vs_dtype_size(t->dtype), t->dtype, t->device, 3,
                          (int64_t[]){1, n, dim});
}

vs_tensor vs_joint_dit_entry(const vs_tensor *t, int64_t b, int64_t rows) {
    int64_t shape[VS_MAX_DIMS];
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    const int64_t per = vs_tensor_numel(t) / t->shape[0];
    shape[0] = 1;
    if (rows > 0) shape[1] = rows;
    return vs_tensor_view((char *)t->data + b * per * (int64_t)vs_dtype_size(t->dtype), t->dtype, t->device,
                          t->ndim, shape);
}

vs_status vs_joint_dit_collect(const vs_attention_clock *clock, vs_sparse_attention *attention, vs_status st,
                               double *attention_s, vs_sparse_stats *stats) {
    double ms = 0;
    if (clock->timer) {
        vs_status ts = vs_gpu_timer_collect(clock->timer, &ms);
        if (st == VS_OK) st = ts;
    }
    *attention_s = clock->timer ? ms * 1e-3 : clock->host_s;
    *stats = (vs_sparse_stats){.density = 1.0};
    if (attention) {
        vs_status cs = vs_sparse_attention_take_stats(attention, stats);
        if (st == VS_OK) st = cs;
    }
    return st;
}
