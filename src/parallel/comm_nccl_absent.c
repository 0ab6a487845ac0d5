/* Builds without NCCL: the NCCL communicator reports that it is missing. */
#include "core/status.h"
#include "parallel/comm_nccl.h"

static vs_status absent(void) {
    return vs_fail(VS_ERR_UNSUPPORTED,
                   "this vidsparse build has no NCCL (it needs CUDA and NCCL at configure time)");
}

vs_status vs_comm_nccl_id(vs_comm_id *id) {
    (void)id;
    return absent();
}

vs_status vs_nccl_open(vs_nccl **out, const vs_comm_id *id, int rank, int size) {
    (void)id, (void)rank, (void)size;
    *out = NULL;
    return absent();
}

vs_status vs_nccl_exchange(vs_nccl *nccl, int size, const void *send, const size_t *send_off,
                           const size_t *send_bytes, void *recv, const size_t *recv_off,
                           const size_t *recv_bytes) {
    (void)nccl, (void)size, (void)send, (void)send_off, (void)send_bytes, (void)recv, (void)recv_off,
        (void)recv_bytes;
    return absent();
}

void vs_nccl_close(vs_nccl *nccl) {
    (void)nccl;
}

const char *vs_comm_nccl_version(void) {
    return "no NCCL in this build";
}
