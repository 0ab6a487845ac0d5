/* The process model of --gpus N: one process per GPU, forked before any CUDA
 * call. The CUDA backend keeps per-process state for the device it runs on
 * (the cuBLASLt handle and workspace, the legacy default stream every kernel
 * and exchange is ordered on, arenas made with cudaMalloc on the current
 * device); one process per GPU leaves all of it as it is, where one process
 * driving several GPUs would need that state per device and a thread per GPU.
 *
 *   parent ──fork──> rank 0 .. rank N-1
 *   rank 0: counts the GPUs, draws the NCCL id, sends both up a pipe
 *   parent: checks the count, passes the id down to ranks 1 .. N-1, waits
 *   ranks:  NCCL communicator (GPU r), then the command as usual; rank 0
 *           alone prints results and writes files */
#include "cli/ranks.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/status.h"

typedef struct {
    int gpus_present;
    int ok; /* the id below is valid */
    vs_comm_id id;
} hello;

static int write_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w <= 0) return 0;
        c += w, n -= (size_t)w;
    }
    return 1;
}

static int read_all(int fd, void *p, size_t n) {
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r <= 0) return 0;
        c += r, n -= (size_t)r;
    }
    return 1;
}

/* In rank `rank`'s process: joins the communicator or exits. */
static void rank_main(const char *command, int rank, int gpus, int up, int down, vs_comm **comm) {
    hello h;
    memset(&h, 0, sizeof h);
    if (rank == 0) {
        h.gpus_present = vs_cuda_device_count();
        vs_status s = h.gpus_present >= gpus ? vs_comm_nccl_id(&h.id) : VS_OK;
        h.ok = h.gpus_present >= gpus && s == VS_OK;
        if (!write_all(up, &h, sizeof h)) _exit(1);
        close(up);
        if (s != VS_OK) {
            fprintf(stderr, "vidsparse: error: %s: %s\n", command, vs_last_error());
            _exit(1);
        }
        if (!h.ok) _exit(2);
    } else if (!read_all(down, &h, sizeof h)) {
        _exit(1); /* the parent gave up (and said why) */
    }
    close(down);
    if (vs_comm_nccl_create(comm, &h.id, rank, gpus) != VS_OK) {
        fprintf(stderr, "vidsparse: error: %s: rank %d: %s\n", command, rank, vs_last_error());
        _exit(1);
    }
    if (rank > 0) vs_log_set_level(VS_LOG_WARN); /* rank 0 tells the story */
}

/* Waits for every rank; the first failure ends the others, which may wait on it in NCCL. */
static int wait_ranks(const pid_t *pids, int n) {
    int code = 0, left = n;
    while (left > 0) {
        int status = 0;
        pid_t p = wait(&status);
        if (p < 0) break;
        left--;
        int failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        if (failed && code == 0) {
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
            for (int i = 0; i < n; i++)
                if (pids[i] != p) kill(pids[i], SIGTERM);
        }
    }
    return code;
}

int vs_cli_spawn_ranks(const char *command, int gpus, vs_comm **comm, int *rank) {
    *comm = NULL, *rank = 0;
    if (gpus < 1 || gpus > VS_COMM_MAX_RANKS) {
        fprintf(stderr, "vidsparse %s: --gpus must be 1 to %d, not %d\n", command, VS_COMM_MAX_RANKS, gpus);
        return 2;
    }
    if (!VS_HAVE_NCCL) {
        fprintf(stderr,
                "vidsparse: error: %s: --gpus needs NCCL, and this vidsparse build has none (configure "
                "with CUDA and NCCL)\n",
                command);
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    int up[2], (*down)[2] = calloc((size_t)gpus, sizeof *down);
    pid_t *pids = calloc((size_t)gpus, sizeof *pids);
    if (!down || !pids || pipe(up) != 0) {
        free(down), free(pids);
        fprintf(stderr, "vidsparse: error: %s: no pipes for %d ranks\n", command, gpus);
        return 1;
    }
    int spawned = 0;
    for (; spawned < gpus; spawned++) {
        if (pipe(down[spawned]) != 0) break;
        pid_t p = fork();
        if (p < 0) break;
        if (p == 0) {
            for (int i = 0; i < spawned; i++)
                close(down[i][1]);
            close(up[0]);
            if (spawned > 0) close(up[1]); /* only rank 0 writes up: the parent must see EOF if it dies */
            close(down[spawned][1]);
            const int r = spawned, dn = down[spawned][0];
            free(down), free(pids);
            rank_main(command, r, gpus, up[1], dn, comm);
            *rank = r;
            return -1;
        }
        pids[spawned] = p;
        close(down[spawned][0]);
    }
    close(up[1]);
    int code = 1;
    hello h;
    if (spawned < gpus) {
        fprintf(stderr, "vidsparse: error: %s: could not start rank %d of %d\n", command, spawned, gpus);
    } else if (read_all(up[0], &h, sizeof h)) {
        if (h.gpus_present < gpus)
            fprintf(stderr, "vidsparse: error: %s: --gpus %d, but %d GPU%s present\n", command, gpus,
                    h.gpus_present, h.gpus_present == 1 ? " is" : "s are");
        for (int r = 1; h.ok && r < gpus; r++)
            if (!write_all(down[r][1], &h, sizeof h)) h.ok = 0;
        code = h.ok ? 0 : h.gpus_present < gpus ? 2 : 1;
    }
    close(up[0]);
    for (int r = 0; r < spawned; r++) {
        close(down[r][1]);                /* ranks still waiting read EOF and stop */
        if (code) kill(pids[r], SIGTERM); /* rank 0 may be in NCCL's setup, waiting for the others */
    }
    int ranks_code = wait_ranks(pids, spawned);
    free(down), free(pids);
    return code ? code : ranks_code;
}
