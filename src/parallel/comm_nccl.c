/* NCCL communicators: one process per GPU (see src/cli/ranks.c for why). */
#include <cuda_runtime.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "parallel/comm_nccl.h"

_Static_assert(sizeof(ncclUniqueId) == sizeof(vs_comm_id), "vs_comm_id must hold an ncclUniqueId");

struct vs_nccl {
    ncclComm_t comm;
};

#define NCCL_TRY(call)                                                                                       \
    do {                                                                                                     \
        ncclResult_t nccl_r_ = (call);                                                                       \
        if (nccl_r_ != ncclSuccess)                                                                          \
            return vs_fail(VS_ERR_CUDA, "%s: %s (%s)", #call, ncclGetErrorString(nccl_r_),                   \
                           ncclGetLastError(NULL));                                                          \
    } while (0)

vs_status vs_comm_nccl_id(vs_comm_id *id) {
    ncclUniqueId uid;
    NCCL_TRY(ncclGetUniqueId(&uid));
    memcpy(id->bytes, &uid, sizeof uid);
    return VS_OK;
}

vs_status vs_nccl_open(vs_nccl **out, const vs_comm_id *id, int rank, int size) {
    *out = NULL;
    /* NVLink multicast (NVLS) stays off unless the user asks for it. */
    if (setenv("NCCL_NVLS_ENABLE", "0", 0) != 0) return vs_fail(VS_ERR_OOM, "setenv NCCL_NVLS_ENABLE failed");
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) return vs_fail(VS_ERR_CUDA, "cudaGetDeviceCount: %s", cudaGetErrorString(e));
    if (rank >= count)
        return vs_fail(VS_ERR_INVALID_ARG, "rank %d of %d needs GPU %d, but %d GPU%s present", rank, size,
                       rank, count, count == 1 ? " is" : "s are");
    e = cudaSetDevice(rank);
    if (e != cudaSuccess) return vs_fail(VS_ERR_CUDA, "cudaSetDevice(%d): %s", rank, cudaGetErrorString(e));
    vs_nccl *n = calloc(1, sizeof *n);
    if (!n) return vs_fail(VS_ERR_OOM, "out of memory");
    ncclUniqueId uid;
    memcpy(&uid, id->bytes, sizeof uid);
    ncclResult_t r = ncclCommInitRank(&n->comm, size, uid, rank);
    if (r != ncclSuccess) {
        free(n);
        return vs_fail(VS_ERR_CUDA, "ncclCommInitRank (rank %d of %d): %s", rank, size,
                       ncclGetErrorString(r));
    }
    *out = n;
    return VS_OK;
}

vs_status vs_nccl_exchange(vs_nccl *n, int size, const void *send, const size_t *send_off,
                           const size_t *send_bytes, void *recv, const size_t *recv_off,
                           const size_t *recv_bytes) {
    /* Sends and receives of one group progress together (and a rank's message to
     * itself is a local copy), so no ordering of the peers can deadlock. */
    NCCL_TRY(ncclGroupStart());
    for (int p = 0; p < size; p++) {
        if (send_bytes[p])
            NCCL_TRY(ncclSend((const char *)send + send_off[p], send_bytes[p], ncclUint8, p, n->comm, 0));
        if (recv_bytes[p])
            NCCL_TRY(ncclRecv((char *)recv + recv_off[p], recv_bytes[p], ncclUint8, p, n->comm, 0));
    }
    NCCL_TRY(ncclGroupEnd());
    return VS_OK;
}

void vs_nccl_close(vs_nccl *n) {
    if (!n) return;
    ncclCommDestroy(n->comm);
    free(n);
}

const char *vs_comm_nccl_version(void) {
    static char text[32];
    int v = 0;
    if (ncclGetVersion(&v) != ncclSuccess) return "NCCL (version unknown)";
    snprintf(text, sizeof text, "NCCL %d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    return text;
}
