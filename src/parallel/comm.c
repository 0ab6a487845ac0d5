/* The communicator interface and its threads-as-ranks kind (shared-memory copies). */
#include "parallel/comm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "parallel/comm_nccl.h"

/* What each rank of a threads group publishes for one exchange. */
typedef struct {
    const char *send;
    const size_t *send_off, *send_bytes;
} posting;

struct vs_comm_group {
    int size;
    pthread_barrier_t barrier;
    posting post[VS_COMM_MAX_RANKS];
};

struct vs_comm {
    int rank, size;
    vs_comm_group *group; /* threads */
    vs_nccl *nccl;        /* NCCL */
};

int vs_comm_rank(const vs_comm *c) {
    return c->rank;
}
int vs_comm_size(const vs_comm *c) {
    return c->size;
}
vs_device vs_comm_device(const vs_comm *c) {
    return c->nccl ? VS_CUDA : VS_CPU;
}

static vs_status check_size(int size) {
    if (size < 1 || size > VS_COMM_MAX_RANKS)
        return vs_fail(VS_ERR_INVALID_ARG, "communicator: %d ranks (1 to %d)", size, VS_COMM_MAX_RANKS);
    return VS_OK;
}

vs_status vs_comm_group_create(vs_comm_group **out, int size) {
    *out = NULL;
    VS_TRY(check_size(size));
    vs_comm_group *g = calloc(1, sizeof *g);
    if (!g) return vs_fail(VS_ERR_OOM, "out of memory");
    g->size = size;
    if (pthread_barrier_init(&g->barrier, NULL, (unsigned)size) != 0) {
        free(g);
        return vs_fail(VS_ERR_OOM, "communicator: no barrier for %d threads", size);
    }
    *out = g;
    return VS_OK;
}

void vs_comm_group_free(vs_comm_group *g) {
    if (!g) return;
    pthread_barrier_destroy(&g->barrier);
    free(g);
}

vs_status vs_comm_threads(vs_comm_group *g, int rank, vs_comm **out) {
    *out = NULL;
    if (!g || rank < 0 || rank >= g->size)
        return vs_fail(VS_ERR_INVALID_ARG, "communicator: rank %d of a group of %d", rank, g ? g->size : 0);
    vs_comm *c = calloc(1, sizeof *c);
    if (!c) return vs_fail(VS_ERR_OOM, "out of memory");
    c->rank = rank, c->size = g->size, c->group = g;
    *out = c;
    return VS_OK;
}

vs_status vs_comm_nccl_create(vs_comm **out, const vs_comm_id *id, int rank, int size) {
    *out = NULL;
    VS_TRY(check_size(size));
    if (rank < 0 || rank >= size)
        return vs_fail(VS_ERR_INVALID_ARG, "communicator: rank %d of %d", rank, size);
    vs_comm *c = calloc(1, sizeof *c);
    if (!c) return vs_fail(VS_ERR_OOM, "out of memory");
    c->rank = rank, c->size = size;
    vs_status s = vs_nccl_open(&c->nccl, id, rank, size);
    if (s) {
        free(c);
        return s;
    }
    *out = c;
    return VS_OK;
}

void vs_comm_free(vs_comm *c) {
    if (!c) return;
    vs_nccl_close(c->nccl);
    free(c);
}

/* Threads: every rank posts its send side, then, between two barriers, copies
 * what each peer posted for it; the second barrier keeps the send buffers
 * alive until every peer has read them. */
static vs_status threads_exchange(vs_comm *c, const void *send, const size_t *send_off,
                                  const size_t *send_bytes, void *recv, const size_t *recv_off,
                                  const size_t *recv_bytes) {
    vs_comm_group *g = c->group;
    g->post[c->rank] = (posting){send, send_off, send_bytes};
    pthread_barrier_wait(&g->barrier);
    int bad = -1;
    for (int s = 0; s < c->size; s++) {
        const posting *p = &g->post[s];
        if (p->send_bytes[c->rank] != recv_bytes[s]) {
            bad = s;
            continue;
        }
        memcpy((char *)recv + recv_off[s], p->send + p->send_off[c->rank], recv_bytes[s]);
    }
    pthread_barrier_wait(&g->barrier);
    if (bad >= 0)
        return vs_fail(VS_ERR_SHAPE, "all-to-all: rank %d expects %zu bytes from rank %d, which sends %zu",
                       c->rank, recv_bytes[bad], bad, g->post[bad].send_bytes[c->rank]);
    return VS_OK;
}

vs_status vs_comm_all_to_all(vs_comm *c, const void *send, const size_t *send_off, const size_t *send_bytes,
                             void *recv, const size_t *recv_off, const size_t *recv_bytes) {
    if (c->group) return threads_exchange(c, send, send_off, send_bytes, recv, recv_off, recv_bytes);
    return vs_nccl_exchange(c->nccl, c->size, send, send_off, send_bytes, recv, recv_off, recv_bytes);
}

vs_status vs_comm_all_gather(vs_comm *c, const void *send, void *recv, const size_t *recv_off,
                             const size_t *recv_bytes) {
    /* An all-to-all whose every message is this rank's whole buffer. */
    size_t zero[VS_COMM_MAX_RANKS], mine[VS_COMM_MAX_RANKS];
    for (int d = 0; d < c->size; d++)
        zero[d] = 0, mine[d] = recv_bytes[c->rank];
    return vs_comm_all_to_all(c, send, zero, mine, recv, recv_off, recv_bytes);
}
