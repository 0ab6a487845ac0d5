/* The sequence-parallel Wan DiT through NCCL on GPUs: one rank through the
 * real exchange code against the plain single-GPU forward, and two ranks (one
 * process per GPU, as `--gpus 2` runs them) against it when two GPUs are
 * present. The two-rank case runs first: it forks before this process touches
 * CUDA. Also vs_op_copy_rows, the packing copy, against the CPU. */
#include "check.h"
#include "cli/ranks.h"
#include "core/status.h"
#include "models/wan/transformer.h"
#include "ops/ops.h"
#include "parallel/comm.h"
#include "tensor_util.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* 5 heads of 128 (3 + 2 on two ranks); latents 5 x 30 x 42 -> 5 x 15 x 21 = 1575 tokens
 * (odd; 13 attention blocks, the last short), 23 text tokens. */
static vs_wan_config test_config(void) {
    vs_wan_config c;
    memset(&c, 0, sizeof c);
    c.patch_size[0] = 1, c.patch_size[1] = 2, c.patch_size[2] = 2;
    c.num_heads = 5, c.head_dim = 128, c.dim = 640, c.in_channels = c.out_channels = 16, c.text_dim = 64;
    c.freq_dim = 256, c.ffn_dim = 1024, c.num_layers = 3, c.cross_attn_norm = 1, c.eps = 1e-6f;
    c.rope_max_seq_len = 1024;
    return c;
}

static void free_wan_model(void *m) { vs_wan_model_free(m); }
static void free_comm(void *c) { vs_comm_free(c); }

/* lat and text: freed after the case. */
typedef struct {
    float *lat, *text, t[2];
    int64_t ls[5], xs[3], n;
} inputs;

static int make_inputs(inputs *in, int batch) {
    in->ls[0] = batch, in->ls[1] = 16, in->ls[2] = 5, in->ls[3] = 30, in->ls[4] = 42;
    in->xs[0] = batch, in->xs[1] = 23, in->xs[2] = 64;
    in->n = (int64_t)batch * 16 * 5 * 30 * 42;
    unsigned long long rng = 4242 + (unsigned long long)batch;
    in->lat = vs_test_free_later(random_array(&rng, in->n, -1.7f, 1.7f));
    in->text = vs_test_free_later(random_array(&rng, in->xs[0] * in->xs[1] * in->xs[2], -1, 1));
    in->t[0] = 810, in->t[1] = 260;
    return in->lat && in->text;
}

/* out = model(in) with `attn` (host tensors, output poisoned first). */
static vs_status forward(vs_wan_model *m, const inputs *in, const vs_attention_params *attn, float *out,
                         vs_dit_timing *timing) {
    for (int64_t i = 0; i < in->n; i++)
        out[i] = NAN;
    vs_tensor l = vs_tensor_view(in->lat, VS_F32, VS_CPU, 5, in->ls),
              x = vs_tensor_view(in->text, VS_F32, VS_CPU, 3, in->xs);
    vs_tensor o = vs_tensor_view(out, VS_F32, VS_CPU, 5, in->ls);
    VS_TRY(vs_wan_model_set_attention(m, attn));
    return vs_wan_forward(m, &l, in->t, &x, 0, 1, &o, timing);
}

/* The model with and without `comm` on the same inputs, batch 1 and 2, dense and SVG;
 * returns the worst rel L2 in *worst and whether every output was bit-identical. */
static int compare_with_plain(vs_comm *comm, double tol, double *worst, int *identical) {
    const vs_wan_config c = test_config();
    vs_wan_model *plain = NULL, *parallel = NULL;
    CHECK_OK(vs_wan_model_random(&c, VS_CUDA, 5, &plain));
    vs_test_defer(free_wan_model, plain);
    CHECK_OK(vs_wan_model_random(&c, VS_CUDA, 5, &parallel));
    vs_test_defer(free_wan_model, parallel);
    CHECK_OK(vs_wan_model_set_comm(parallel, comm));
    *worst = 0, *identical = 1;
    for (int batch = 1; batch <= 2; batch++) {
        inputs in;
        CHECK(make_inputs(&in, batch));
        float *ref = vs_test_malloc(sizeof(float) * (size_t)in.n), *out = vs_test_malloc(sizeof(float) * (size_t)in.n);
        CHECK(ref && out);
        for (int svg = 0; svg <= 1; svg++) {
            const vs_attention_params a = {.method = svg ? "svg" : "dense", .density = 0.3, .dense_steps = 0, .dense_layers = 0};
            vs_dit_timing t_plain = {0}, t_par = {0};
            CHECK_OK(forward(plain, &in, &a, ref, &t_plain));
            CHECK_OK(forward(parallel, &in, &a, out, &t_par));
            double err = vs_test_rel_l2_f32(out, ref, in.n);
            int same = !memcmp(out, ref, sizeof(float) * (size_t)in.n);
            printf("  rank %d of %d, batch %d, %s: rel L2 %.2e%s", vs_comm_rank(comm), vs_comm_size(comm),
                   batch, svg ? "svg" : "dense", err, same ? " (bit-identical)" : "");
            if (svg)
                printf(", this rank's heads %lld spatial %lld temporal (one GPU: %lld, %lld)",
                       (long long)t_par.heads_spatial, (long long)t_par.heads_temporal,
                       (long long)t_plain.heads_spatial, (long long)t_plain.heads_temporal);
            printf("\n");
            CHECK_MSG(err < tol, "rel L2 %g", err);
            if (err > *worst) *worst = err;
            *identical &= same;
        }
    }
    return 0;
}

TEST(two_ranks_match_one_gpu) {
    /* Count the GPUs in a child, so this process stays free of CUDA until the ranks fork. */
    fflush(stdout);
    pid_t probe = fork();
    if (probe == 0) _exit(vs_cuda_device_count() > 100 ? 100 : vs_cuda_device_count());
    int status = 0;
    CHECK(probe > 0 && waitpid(probe, &status, 0) == probe && WIFEXITED(status));
    const int gpus = WEXITSTATUS(status);
    if (gpus < 2) {
        printf("  skipped: the 2-rank NCCL test needs 2 GPUs, %d present\n", gpus);
        return 0;
    }
    vs_comm *comm = NULL;
    int rank = 0;
    int code = vs_cli_spawn_ranks("test_wan_nccl", 2, &comm, &rank);
    if (code < 0) {
        /* A rank process: compare, report through the exit code, never return to the harness (so what
         * compare_with_plain registered is left to the exit; the communicator is freed here). */
        double worst;
        int identical;
        int failed = compare_with_plain(comm, 2e-2, &worst, &identical);
        fflush(stdout);
        vs_comm_free(comm);
        _exit(failed);
    }
    CHECK_MSG(code == 0, "a rank failed (exit code %d)", code);
    return 0;
}

TEST(one_rank_through_nccl_matches_plain_forward) {
    vs_comm_id id;
    vs_comm *comm = NULL;
    CHECK_OK(vs_comm_nccl_id(&id));
    CHECK_OK(vs_comm_nccl_create(&comm, &id, 0, 1));
    vs_test_defer(free_comm, comm);
    CHECK(vs_comm_rank(comm) == 0 && vs_comm_size(comm) == 1 && vs_comm_device(comm) == VS_CUDA);
    printf("  %s, NCCL_NVLS_ENABLE=%s\n", vs_comm_nccl_version(), getenv("NCCL_NVLS_ENABLE"));
    double worst;
    int identical;
    int failed = compare_with_plain(comm, 1e-3, &worst, &identical);
    printf("  one rank vs plain: worst rel L2 %.2e, %s\n", worst,
           identical ? "bit-identical" : "not bit-identical");
    return failed;
}

TEST(copy_rows_matches_cpu) {
    unsigned long long rng = 17;
    const int64_t rows = 37, cols = 72, src_stride = 200, dst_stride = 81, n_src = rows * src_stride,
                  n_dst = rows * dst_stride;
    float *src = vs_test_free_later(random_array(&rng, n_src, -3, 3));
    float *dst = vs_test_free_later(random_array(&rng, n_dst, -3, 3));
    round_to(src, n_src, VS_BF16), round_to(dst, n_dst, VS_BF16);
    vs_tensor *ds = vs_test_tensor(), *dd = vs_test_tensor();
    CHECK_OK(to_device(ds, src, VS_BF16, 1, &n_src));
    CHECK_OK(to_device(dd, dst, VS_BF16, 1, &n_dst));
    vs_tensor vs = vs_tensor_view((uint16_t *)ds->data + 3, VS_BF16, VS_CUDA, 2, (int64_t[]){rows, cols});
    vs_tensor vd = vs_tensor_view((uint16_t *)dd->data + 5, VS_BF16, VS_CUDA, 2, (int64_t[]){rows, cols});
    vs.stride[0] = src_stride, vd.stride[0] = dst_stride;
    CHECK_OK(vs_op_copy_rows(&vd, &vs));
    vs_tensor hs = vs_tensor_view(src + 3, VS_F32, VS_CPU, 2, (int64_t[]){rows, cols});
    vs_tensor hd = vs_tensor_view(dst + 5, VS_F32, VS_CPU, 2, (int64_t[]){rows, cols});
    hs.stride[0] = src_stride, hd.stride[0] = dst_stride;
    CHECK_OK(vs_op_copy_rows(&hd, &hs));
    float *got = vs_test_free_later(to_host(dd));
    CHECK(got && !memcmp(got, dst, sizeof(float) * (size_t)n_dst)); /* copied rows and untouched gaps */
    vs_tensor bad = vd;
    bad.stride[0] = cols - 1;
    CHECK_FAILS(vs_op_copy_rows(&bad, &vs), VS_ERR_SHAPE, "contiguous rows");
    return 0;
}

RUN_TESTS(T(two_ranks_match_one_gpu), T(one_rank_through_nccl_matches_plain_forward),
          T(copy_rows_matches_cpu))
