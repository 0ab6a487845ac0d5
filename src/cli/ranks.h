/* --gpus N: one process per GPU for sequence-parallel DiT runs (docs/multi-gpu.md). */
#ifndef VS_CLI_RANKS_H
#define VS_CLI_RANKS_H

#include "parallel/comm.h"

/* Forks `gpus` rank processes; this process must not have touched CUDA yet.
 * Rank r takes GPU r and an NCCL communicator of all ranks, and goes on with
 * the command: there the call returns -1 with *comm and *rank set. The
 * parent stays to wait for the ranks (ending the others when one fails) and
 * gets the command's exit code: 0 when every rank succeeded. Fewer GPUs than
 * `gpus` is an error naming both numbers. */
int vs_cli_spawn_ranks(const char *command, int gpus, vs_comm **comm, int *rank);

#endif
