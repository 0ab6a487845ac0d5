/* The NCCL side of comm.c: comm_nccl.c in builds with NCCL, comm_nccl_absent.c otherwise. */
#ifndef VS_PARALLEL_COMM_NCCL_H
#define VS_PARALLEL_COMM_NCCL_H

#include <stddef.h>

#include "parallel/comm.h"

typedef struct vs_nccl vs_nccl;

vs_status vs_nccl_open(vs_nccl **out, const vs_comm_id *id, int rank, int size);
/* One grouped send / receive per peer with a non-empty message. */
vs_status vs_nccl_exchange(vs_nccl *nccl, int size, const void *send, const size_t *send_off,
                           const size_t *send_bytes, void *recv, const size_t *recv_off,
                           const size_t *recv_bytes);
void vs_nccl_close(vs_nccl *nccl);

#endif
