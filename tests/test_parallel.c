/* Sequence parallelism on the CPU: the threads-as-ranks communicator, and the
 * Wan DiT run as 2, 3 and 4 thread-ranks against the one-rank forward, dense
 * and SVG, with token counts (385) and heads (4 over 3 ranks) that do not
 * divide evenly. */
#include "check.h"
#include "core/status.h"
#include "models/wan/transformer.h"
#include "ops/ops.h"
#include "parallel/comm.h"
#include "thread_ranks.h"

#include <stdint.h>
#include <stdlib.h>

static void free_comm(void *c) { vs_comm_free(c); }
static void free_group(void *g) { vs_comm_group_free(g); }
static void free_wan_model(void *m) { vs_wan_model_free(m); }


/* ---- the communicator ---------------------------------------------------------------- */

typedef struct {
    vs_comm *comm;
    int ranks;
    unsigned char send[4 * 64], recv[4 * 64 * 4], gathered[4 * 64];
    size_t send_off[4], send_bytes[4], recv_off[4], recv_bytes[4];
    size_t gather_off[4], gather_bytes[4];
    vs_status status;
} exchange_rank;

/* Message sizes that differ for every (from, to) pair, some of them zero. */
static size_t message_bytes(int from, int to) {
    return (size_t)((from * 7 + to * 13) % 11) * 3;
}
static unsigned char message_byte(int from, int to, size_t i) {
    return (unsigned char)(from * 59 + to * 17 + i * 5 + 1);
}
static size_t gather_bytes(int from) {
    return (size_t)(5 + from * 9);
}

static void *exchange_main(void *arg) {
    exchange_rank *e = arg;
    const int me = vs_comm_rank(e->comm);
    size_t off = 0, roff = 0, goff = 0;
    for (int p = 0; p < e->ranks; p++) {
        e->send_off[p] = off, e->send_bytes[p] = message_bytes(me, p);
        for (size_t i = 0; i < e->send_bytes[p]; i++)
            e->send[off + i] = message_byte(me, p, i);
        off += e->send_bytes[p];
        e->recv_off[p] = roff, e->recv_bytes[p] = message_bytes(p, me);
        roff += e->recv_bytes[p] + 2; /* gaps stay untouched */
        e->gather_off[p] = goff, e->gather_bytes[p] = gather_bytes(p);
        goff += gather_bytes(p);
    }
    memset(e->recv, 0xEE, sizeof e->recv);
    memset(e->gathered, 0xEE, sizeof e->gathered);
    e->status =
        vs_comm_all_to_all(e->comm, e->send, e->send_off, e->send_bytes, e->recv, e->recv_off, e->recv_bytes);
    unsigned char mine[64];
    for (size_t i = 0; i < gather_bytes(me); i++)
        mine[i] = (unsigned char)(me * 31 + i);
    if (!e->status)
        e->status = vs_comm_all_gather(e->comm, mine, e->gathered, e->gather_off, e->gather_bytes);
    return e->status ? e : NULL;
}

TEST(threads_all_to_all_and_all_gather_with_uneven_sizes) {
    for (int ranks = 1; ranks <= 4; ranks++) {
        vs_comm_group *g = NULL;
        exchange_rank *e = vs_test_malloc((size_t)ranks * sizeof *e);
        memset(e, 0, (size_t)ranks * sizeof *e);
        CHECK(e);
        CHECK_OK(vs_comm_group_create(&g, ranks));
        vs_test_defer(free_group, g); /* after the communicators: newest first */
        for (int r = 0; r < ranks; r++) {
            CHECK_OK(vs_comm_threads(g, r, &e[r].comm));
            vs_test_defer(free_comm, e[r].comm);
            CHECK(vs_comm_rank(e[r].comm) == r && vs_comm_size(e[r].comm) == ranks);
            CHECK(vs_comm_device(e[r].comm) == VS_CPU);
            e[r].ranks = ranks;
        }
        CHECK(vs_test_run_ranks(ranks, exchange_main, e, sizeof *e) == 0);
        for (int r = 0; r < ranks; r++) {
            const unsigned char *recv = e[r].recv;
            for (int s = 0; s < ranks; s++) {
                for (size_t i = 0; i < e[r].recv_bytes[s]; i++)
                    CHECK_MSG(recv[e[r].recv_off[s] + i] == message_byte(s, r, i),
                              "%d ranks: rank %d from %d", ranks, r, s);
                CHECK(recv[e[r].recv_off[s] + e[r].recv_bytes[s]] == 0xEE); /* the gap */
                for (size_t i = 0; i < gather_bytes(s); i++)
                    CHECK(e[r].gathered[e[r].gather_off[s] + i] == (unsigned char)(s * 31 + i));
            }
        }
    }
    return 0;
}

TEST(mismatched_sizes_and_bad_ranks_are_errors) {
    vs_comm_group *g = NULL;
    vs_comm *c = NULL;
    CHECK_FAILS(vs_comm_group_create(&g, 0), VS_ERR_INVALID_ARG, "0 ranks");
    CHECK_FAILS(vs_comm_group_create(&g, VS_COMM_MAX_RANKS + 1), VS_ERR_INVALID_ARG, "ranks");
    CHECK_OK(vs_comm_group_create(&g, 1));
    vs_test_defer(free_group, g);
    CHECK_FAILS(vs_comm_threads(g, 1, &c), VS_ERR_INVALID_ARG, "rank 1 of a group of 1");
    CHECK_OK(vs_comm_threads(g, 0, &c));
    vs_test_defer(free_comm, c);
    char send[4] = {1, 2, 3, 4}, recv[4];
    size_t off = 0, sent = 4, expected = 3;
    CHECK_FAILS(vs_comm_all_to_all(c, send, &off, &sent, recv, &off, &expected), VS_ERR_SHAPE,
                "expects 3 bytes from rank 0, which sends 4");
#if !VS_HAVE_NCCL
    vs_comm_id id;
    CHECK_FAILS(vs_comm_nccl_id(&id), VS_ERR_UNSUPPORTED, "no NCCL");
    CHECK_FAILS(vs_comm_nccl_create(&c, &id, 0, 1), VS_ERR_UNSUPPORTED, "no NCCL");
#endif
    return 0;
}

/* ---- the sequence-parallel DiT ------------------------------------------------------- */

/* 4 heads of 64, 2 layers; latents 5 x 14 x 22 -> 5 x 7 x 11 = 385 tokens (odd for 2, 3 and 4 ranks)
 * in four 128-token blocks, so SVG's masks leave blocks out. */
static vs_wan_config tiny_config(void) {
    vs_wan_config c;
    memset(&c, 0, sizeof c);
    c.patch_size[0] = 1, c.patch_size[1] = 2, c.patch_size[2] = 2;
    c.num_heads = 4, c.head_dim = 64, c.dim = 256;
    c.in_channels = c.out_channels = 16, c.text_dim = 32, c.freq_dim = 256, c.ffn_dim = 320, c.num_layers = 2;
    c.cross_attn_norm = 1, c.eps = 1e-6f, c.rope_max_seq_len = 1024;
    return c;
}

typedef struct {
    vs_comm *comm;
    const vs_tensor *lat, *text;
    const float *timesteps;
    const vs_attention_params *attn;
    vs_tensor *out;
    vs_dit_timing timing;
    vs_status status;
    char error[256];
} dit_rank;

static void *dit_main(void *arg) {
    dit_rank *d = arg;
    vs_wan_config cfg = tiny_config();
    vs_wan_model *m = NULL;
    d->status = vs_wan_model_random(&cfg, VS_CPU, 77, &m);
    if (!d->status) d->status = vs_wan_model_set_comm(m, d->comm);
    if (!d->status) d->status = vs_wan_model_set_attention(m, d->attn);
    if (!d->status) d->status = vs_wan_forward(m, d->lat, d->timesteps, d->text, 0, 1, d->out, &d->timing);
    if (d->status) snprintf(d->error, sizeof d->error, "%s", vs_last_error());
    vs_wan_model_free(m);
    return d->status ? d : NULL;
}

static int check_parallel(int batch, int svg) {
    const vs_wan_config cfg = tiny_config();
    const int64_t lat_shape[5] = {batch, 16, 5, 14, 22}, text_shape[3] = {batch, 7, cfg.text_dim};
    vs_tensor *lat = vs_test_tensor(), *text = vs_test_tensor(), *ref = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(lat, VS_F32, VS_CPU, 5, lat_shape));
    CHECK_OK(vs_tensor_alloc(text, VS_F32, VS_CPU, 3, text_shape));
    CHECK_OK(vs_tensor_alloc(ref, VS_F32, VS_CPU, 5, lat_shape));
    CHECK_OK(vs_op_fill_uniform(lat, 1000 + batch * 10 + svg, -1.7f, 1.7f));
    CHECK_OK(vs_op_fill_uniform(text, 2000 + batch * 10 + svg, -1.0f, 1.0f));
    const float timesteps[2] = {730.0f, 410.0f};
    const vs_attention_params attn = {svg ? "svg" : "dense", 0.3, 0, 0};

    dit_rank one;
    memset(&one, 0, sizeof one);
    one.lat = lat, one.text = text, one.timesteps = timesteps, one.attn = &attn, one.out = ref;
    CHECK_MSG(dit_main(&one) == NULL, "one rank: %s", one.error);
    if (svg) {
        /* Both patterns occur, and the masks leave out enough to change the output. */
        CHECK(one.timing.heads_spatial + one.timing.heads_temporal == (int64_t)batch * 4 * cfg.num_layers);
        CHECK(one.timing.heads_spatial > 0 && one.timing.heads_temporal > 0);
        const vs_attention_params dense = {"dense", 0.3, 0, 0};
        dit_rank full = one;
        full.out = vs_test_tensor();
        CHECK_OK(vs_tensor_alloc(full.out, VS_F32, VS_CPU, 5, lat_shape));
        full.attn = &dense;
        CHECK_MSG(dit_main(&full) == NULL, "dense: %s", full.error);
        CHECK(vs_test_rel_l2_f32(full.out->data, ref->data, vs_tensor_numel(ref)) > 1e-3);
    }

    for (int ranks = 2; ranks <= 4; ranks++) {
        vs_comm_group *g = NULL;
        dit_rank d[4];
        CHECK_OK(vs_comm_group_create(&g, ranks));
        vs_test_defer(free_group, g);
        for (int r = 0; r < ranks; r++) {
            d[r] = one;
            CHECK_OK(vs_comm_threads(g, r, &d[r].comm));
            vs_test_defer(free_comm, d[r].comm);
            d[r].out = vs_test_tensor();
            CHECK_OK(vs_tensor_alloc(d[r].out, VS_F32, VS_CPU, 5, lat_shape));
            for (int64_t i = 0; i < vs_tensor_numel(d[r].out); i++)
                ((float *)d[r].out->data)[i] = NAN;
            memset(&d[r].timing, 0, sizeof d[r].timing);
        }
        CHECK(vs_test_run_ranks(ranks, dit_main, d, sizeof d[0]) == 0 || (fprintf(stderr, "  %s\n", d[0].error), 0));
        int64_t spatial = 0, temporal = 0;
        for (int r = 0; r < ranks; r++) {
            double err = vs_test_rel_l2_f32(d[r].out->data, ref->data, vs_tensor_numel(ref));
            CHECK_MSG(err < 1e-5, "batch %d, %s, %d ranks: rank %d rel L2 %.3g", batch, svg ? "svg" : "dense",
                      ranks, r, err);
            spatial += d[r].timing.heads_spatial, temporal += d[r].timing.heads_temporal;
        }
        /* Each head was profiled on the rank holding it, on the rows the one-rank run drew. */
        CHECK(spatial == one.timing.heads_spatial && temporal == one.timing.heads_temporal);
    }
    return 0;
}

TEST(dense_sequence_parallel_matches_one_rank) {
    return check_parallel(1, 0) || check_parallel(2, 0);
}
TEST(svg_sequence_parallel_matches_one_rank) {
    return check_parallel(1, 1) || check_parallel(2, 1);
}

TEST(more_ranks_than_heads_is_an_error) {
    vs_wan_config cfg = tiny_config();
    vs_wan_model *m = NULL;
    vs_comm_group *g = NULL;
    vs_comm *c = NULL;
    CHECK_OK(vs_wan_model_random(&cfg, VS_CPU, 1, &m));
    vs_test_defer(free_wan_model, m);
    CHECK_OK(vs_comm_group_create(&g, 5));
    vs_test_defer(free_group, g);
    CHECK_OK(vs_comm_threads(g, 0, &c));
    vs_test_defer(free_comm, c);
    CHECK_FAILS(vs_wan_model_set_comm(m, c), VS_ERR_INVALID_ARG, "5 ranks for 4 attention heads");
    /* The SVG head mapping is checked where attention is made. */
    vs_svg_config svg = vs_svg_config_default(2, 64, 0, 0.5);
    vs_attention *a = NULL;
    svg.head_offset = 1;
    const vs_attention_params params = {"svg", -1, 0, 0};
    CHECK_FAILS(vs_attention_create(&a, VS_CPU, 1, 2, 128, 64, &params, &svg), VS_ERR_INVALID_ARG, "head_offset 1");
    return 0;
}

RUN_TESTS(T(threads_all_to_all_and_all_gather_with_uneven_sizes),
          T(mismatched_sizes_and_bad_ranks_are_errors), T(dense_sequence_parallel_matches_one_rank),
          T(svg_sequence_parallel_matches_one_rank), T(more_ranks_than_heads_is_an_error))
