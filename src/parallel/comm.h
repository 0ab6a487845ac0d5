/* Communicators between the ranks of one sequence-parallel computation
 * (docs/multi-gpu.md). Two kinds behind one interface:
 *
 *   NCCL     one process per GPU, rank r on GPU r; buffers in device memory;
 *            exchanges are enqueued on the legacy default stream, the CUDA
 *            backend's only stream, so they are ordered with the kernels
 *            around them. CUDA builds with NCCL only.
 *   threads  P threads of one process as ranks, host buffers, shared-memory
 *            copies: the CPU counterpart, so the sequence-parallel math runs
 *            (and is tested) without GPUs.
 *
 * Exchanges are collective: every rank makes the same ones in the same order.
 * A rank that fails between two exchanges leaves the others waiting in the
 * next one; the CLI's process model ends the other ranks' processes then. */
#ifndef VS_PARALLEL_COMM_H
#define VS_PARALLEL_COMM_H

#include <stddef.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VS_COMM_MAX_RANKS 64

typedef struct vs_comm vs_comm;

int vs_comm_rank(const vs_comm *comm);
int vs_comm_size(const vs_comm *comm);
/* Where the buffers live: VS_CUDA for NCCL, VS_CPU for threads. */
vs_device vs_comm_device(const vs_comm *comm);

/* All-to-all with per-peer sizes: this rank sends send_bytes[d] bytes at
 * send + send_off[d] to every rank d and receives recv_bytes[s] bytes into
 * recv + recv_off[s] from every rank s (itself included). recv_bytes[s] here
 * must equal send_bytes[rank] on rank s. Arrays have vs_comm_size entries;
 * send and recv regions must not overlap. */
vs_status vs_comm_all_to_all(vs_comm *comm, const void *send, const size_t *send_off,
                             const size_t *send_bytes, void *recv, const size_t *recv_off,
                             const size_t *recv_bytes);

/* All-gather with per-rank sizes: rank s's recv_bytes[s] bytes at its `send`
 * land at recv + recv_off[s] on every rank. */
vs_status vs_comm_all_gather(vs_comm *comm, const void *send, void *recv, const size_t *recv_off,
                             const size_t *recv_bytes);

void vs_comm_free(vs_comm *comm);

/* Threads as ranks: one group shared by `size` threads, then one
 * communicator per rank, each used by its own thread. Free the group after
 * every rank's communicator. */
typedef struct vs_comm_group vs_comm_group;
vs_status vs_comm_group_create(vs_comm_group **out, int size);
vs_status vs_comm_threads(vs_comm_group *group, int rank, vs_comm **out);
void vs_comm_group_free(vs_comm_group *group);

/* NCCL: rank 0 draws the id, every process gets a copy of it (the CLI passes
 * it through pipes) and creates its communicator, which sets
 * NCCL_NVLS_ENABLE=0 unless the environment sets it and makes GPU `rank` the
 * process's device: call it before any other CUDA work of the process. */
typedef struct vs_comm_id {
    unsigned char bytes[128]; /* ncclUniqueId */
} vs_comm_id;
vs_status vs_comm_nccl_id(vs_comm_id *id);
vs_status vs_comm_nccl_create(vs_comm **out, const vs_comm_id *id, int rank, int size);
/* "NCCL 2.28.9", or a sentence saying this build has none. */
const char *vs_comm_nccl_version(void);

#ifdef __cplusplus
}
#endif
#endif
