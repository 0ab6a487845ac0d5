/* The CUDA SVG profiler against vs_svg_profile_cpu on the same (BF16-rounded)
 * inputs: same layouts, same MSEs up to f32 rounding. Heads come in three
 * kinds: spatial (queries and keys share a per-frame direction), temporal
 * (they share a per-position direction) and plain random. Also: sequences
 * that are not multiples of 128, text tokens, head_dim 64 and 128, a
 * Wan-sized sequence (window of 10000 rows), F16 inputs, bit-identical
 * repeats, poisoned outputs and refused bad arguments. */
#include <cuda_runtime.h>

#include "backend/cpu/svg_profile_cpu.h"
#include "backend/cuda/svg_profile.h"
#include "check.h"
#include "core/dtype.h"
#include "core/status.h"
#include "sparse/svg.h"

#define CUDA_OK(call)                                                                                        \
    do {                                                                                                     \
        cudaError_t cuda_e_ = (call);                                                                        \
        CHECK_MSG(cuda_e_ == cudaSuccess, "%s: %s", #call, cudaGetErrorString(cuda_e_));                     \
    } while (0)

typedef struct {
    int batch, heads, frames, per_frame, text, head_dim;
    double band_frames;
    int half; /* F16 instead of BF16 */
} case_desc;

static unsigned long long rng = 0x1234567ULL;

static void free_device(void *p) { cudaFree(p); }
static void destroy_event(void *e) { cudaEventDestroy((cudaEvent_t)e); }
static void free_block_list(void *b) { vs_attn_block_list_free(b); }

/* cudaMalloc, the memory cudaFree'd after the case when the call succeeded. */
static cudaError_t device_alloc(void **p, size_t bytes) {
    *p = NULL;
    const cudaError_t e = cudaMalloc(p, bytes);
    if (e == cudaSuccess) vs_test_defer(free_device, *p);
    return e;
}

/* cudaEventCreate, the event destroyed after the case when the call succeeded. */
static cudaError_t event_create(cudaEvent_t *e) {
    const cudaError_t r = cudaEventCreate(e);
    if (r == cudaSuccess) vs_test_defer(destroy_event, (void *)*e);
    return r;
}

static float uniform(void) {
    return (float)(2 * vs_test_uniform(&rng) - 1);
}

/* Fills storage-typed q, k, v and their exact f32 values. */
static void make_inputs(const case_desc *c, uint16_t *qs, uint16_t *ks, uint16_t *vs, float *q, float *k,
                        float *v) {
    int F = c->frames, P = c->per_frame, N = F * P + c->text, H = c->heads, D = c->head_dim;
    float *frame_dir = vs_test_malloc(sizeof(float) * F * D), *place_dir = vs_test_malloc(sizeof(float) * P * D);
    for (int i = 0; i < F * D; i++)
        frame_dir[i] = uniform();
    for (int i = 0; i < P * D; i++)
        place_dir[i] = uniform();
    float strength = 2.5f * sqrtf(64.0f / D); /* same peakiness at D = 64 and 128 */
    for (int b = 0; b < c->batch; b++)
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++)
                for (int d = 0; d < D; d++) {
                    int kind = (b * H + h) % 3; /* 0 spatial, 1 temporal, 2 random */
                    float shared = 0;
                    if (n < F * P && kind == 0) shared = strength * frame_dir[(n / P) * D + d];
                    if (n < F * P && kind == 1) shared = strength * place_dir[(n % P) * D + d];
                    float noise = kind == 2 ? 1.0f : 0.3f;
                    int64_t i = (((int64_t)b * N + n) * H + h) * D + d;
                    float x[3] = {shared + noise * uniform(), shared + noise * uniform(), uniform()};
                    uint16_t *dst[3] = {qs, ks, vs};
                    float *val[3] = {q, k, v};
                    for (int t = 0; t < 3; t++) {
                        dst[t][i] = c->half ? vs_f32_to_f16(x[t]) : vs_f32_to_bf16(x[t]);
                        val[t][i] = c->half ? vs_f16_to_f32(dst[t][i]) : vs_bf16_to_f32(dst[t][i]);
                    }
                }
}

static int run_case(const case_desc *c) {
    int F = c->frames, P = c->per_frame, N = F * P + c->text, H = c->heads, D = c->head_dim,
        BH = c->batch * H;
    int64_t n = (int64_t)c->batch * N * H * D;
    vs_svg_config cfg = vs_svg_config_default(F, P, c->text, 0.25);
    cfg.band_frames = c->band_frames;
    cfg.seed = 77;
    vs_attn_block_list *blocks = vs_test_malloc(sizeof *blocks);
    memset(blocks, 0, sizeof *blocks);
    vs_test_defer(free_block_list, blocks);
    CHECK_OK(vs_svg_blocks_build(&cfg, N, blocks));

    uint16_t *qs = vs_test_malloc(2 * n), *ks = vs_test_malloc(2 * n), *vs = vs_test_malloc(2 * n);
    float *q = vs_test_malloc(4 * n), *k = vs_test_malloc(4 * n), *v = vs_test_malloc(4 * n);
    make_inputs(c, qs, ks, vs, q, k, v);

    /* CPU reference. */
    vs_attn_args a = {0};
    a.dtype = VS_F32, a.q = q, a.k = k, a.v = v;
    a.batch = c->batch, a.heads = H, a.seq_len = N, a.head_dim = D;
    a.scale = 1.0f / sqrtf((float)D);
    vs_attn_args_contiguous(&a);
    uint8_t *layout_cpu = vs_test_malloc(BH), *layout_gpu = vs_test_malloc(BH), *layout_again = vs_test_malloc(BH);
    float *mse_s_cpu = vs_test_malloc(4 * BH), *mse_t_cpu = vs_test_malloc(4 * BH), *mse_s_gpu = vs_test_malloc(4 * BH);
    float *mse_t_gpu = vs_test_malloc(4 * BH), *mse_s_again = vs_test_malloc(4 * BH), *mse_t_again = vs_test_malloc(4 * BH);
    CHECK_OK(vs_svg_profile_cpu(&a, &cfg, &blocks->view, layout_cpu, mse_s_cpu, mse_t_cpu));

    /* GPU: device copies of q, k, v and the block list; outputs poisoned first. */
    void *dq, *dk, *dv, *dws;
    int32_t *d_row_ptr, *d_col_idx;
    uint8_t *d_layout;
    float *d_mse_s, *d_mse_t;
    unsigned long long *d_count;
    int nb = blocks->view.num_q_blocks, nnz = blocks->row_ptr[nb];
    CUDA_OK(device_alloc(&dq, 2 * n));
    CUDA_OK(device_alloc(&dk, 2 * n));
    CUDA_OK(device_alloc(&dv, 2 * n));
    CUDA_OK(device_alloc((void **)&d_row_ptr, 4 * (nb + 1)));
    CUDA_OK(device_alloc((void **)&d_col_idx, 4 * nnz));
    CUDA_OK(device_alloc((void **)&d_layout, BH));
    CUDA_OK(device_alloc((void **)&d_mse_s, 4 * BH));
    CUDA_OK(device_alloc((void **)&d_mse_t, 4 * BH));
    CUDA_OK(device_alloc((void **)&d_count, sizeof *d_count));
    CUDA_OK(cudaMemcpy(dq, qs, 2 * n, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dk, ks, 2 * n, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(dv, vs, 2 * n, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(d_row_ptr, blocks->row_ptr, 4 * (nb + 1), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(d_col_idx, blocks->col_idx, 4 * nnz, cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(d_layout, 0xff, BH));
    CUDA_OK(cudaMemset(d_mse_s, 0xff, 4 * BH)); /* NaN */
    CUDA_OK(cudaMemset(d_mse_t, 0xff, 4 * BH));
    CUDA_OK(cudaMemset(d_count, 0, sizeof *d_count)); /* a running count: the caller starts it */
    vs_attn_blocks d_blocks = {nb, nb, d_row_ptr, d_col_idx};

    vs_attn_args g = a;
    g.dtype = c->half ? VS_F16 : VS_BF16, g.q = dq, g.k = dk, g.v = dv;
    size_t ws_bytes = vs_cuda_svg_profile_workspace(&g, &cfg);
    CHECK(ws_bytes >= sizeof(float) * BH * 64 * (4 + 3 * D)); /* a partial record per row and key chunk */
    CUDA_OK(device_alloc(&dws, ws_bytes));
    CUDA_OK(cudaMemset(dws, 0xff, ws_bytes));

    cudaEvent_t start, stop;
    CUDA_OK(event_create(&start));
    CUDA_OK(event_create(&stop));
    CUDA_OK(cudaEventRecord(start, 0));
    const vs_cuda_svg_profile_out all = {d_layout, d_mse_s, d_mse_t, d_count};
    const vs_cuda_svg_profile_out layouts = {d_layout, NULL, NULL, NULL};
    CHECK_OK(vs_cuda_svg_profile(&g, &cfg, &d_blocks, &all, dws, ws_bytes, NULL));
    CUDA_OK(cudaEventRecord(stop, 0));
    CUDA_OK(cudaDeviceSynchronize());
    float ms = 0;
    CUDA_OK(cudaEventElapsedTime(&ms, start, stop));
    CUDA_OK(cudaMemcpy(layout_gpu, d_layout, BH, cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(mse_s_gpu, d_mse_s, 4 * BH, cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(mse_t_gpu, d_mse_t, 4 * BH, cudaMemcpyDeviceToHost));

    /* Deterministic: a second run (layouts only, no MSE outputs) and a third give the same bits. */
    CUDA_OK(cudaMemset(d_layout, 0xff, BH));
    CHECK_OK(vs_cuda_svg_profile(&g, &cfg, &d_blocks, &layouts, dws, ws_bytes, NULL));
    CUDA_OK(cudaMemcpy(layout_again, d_layout, BH, cudaMemcpyDeviceToHost));
    CHECK(memcmp(layout_again, layout_gpu, BH) == 0);
    CHECK_OK(vs_cuda_svg_profile(&g, &cfg, &d_blocks, &all, dws, ws_bytes, NULL));
    CUDA_OK(cudaMemcpy(mse_s_again, d_mse_s, 4 * BH, cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(mse_t_again, d_mse_t, 4 * BH, cudaMemcpyDeviceToHost));
    CHECK(memcmp(mse_s_again, mse_s_gpu, 4 * BH) == 0 && memcmp(mse_t_again, mse_t_gpu, 4 * BH) == 0);
    /* The count grew by the token-major choices of the two runs that were given it. */
    unsigned long long count = 0, temporal = 0;
    CUDA_OK(cudaMemcpy(&count, d_count, sizeof count, cudaMemcpyDeviceToHost));
    for (int i = 0; i < BH; i++) temporal += layout_gpu[i] == VS_LAYOUT_TOKEN_MAJOR;
    CHECK_MSG(count == 2 * temporal, "count %llu, %llu token-major heads per run", count, temporal);

    printf("  %dx%d heads, %d frames x %d + %d text, D %d, %s, density %.3f: %.3f ms\n", c->batch, H, F, P,
           c->text, D, c->half ? "f16" : "bf16", blocks->density, ms);
    for (int i = 0; i < BH; i++) {
        double ms_c = mse_s_cpu[i], mt_c = mse_t_cpu[i];
        CHECK_MSG(isfinite(mse_s_gpu[i]) && isfinite(mse_t_gpu[i]), "head %d: NaN left", i);
        /* The GPU rounds probabilities to the input type before P.V on the
         * tensor cores (as the attention kernel does); the CPU works in f64. */
        CHECK_MSG(fabs(mse_s_gpu[i] - ms_c) <= 5e-2 * ms_c + 1e-9 &&
                      fabs(mse_t_gpu[i] - mt_c) <= 5e-2 * mt_c + 1e-9,
                  "head %d: mse spatial gpu %g cpu %g, temporal gpu %g cpu %g", i, mse_s_gpu[i], ms_c,
                  mse_t_gpu[i], mt_c);
        CHECK_MSG(layout_gpu[i] <= 1, "head %d: layout %d", i, layout_gpu[i]);
        /* Layouts agree wherever the decision is not a near tie. */
        if (fabs(ms_c - mt_c) > 1e-1 * (ms_c + mt_c))
            CHECK_MSG(layout_gpu[i] == layout_cpu[i], "head %d: gpu %d cpu %d (mse %g / %g)", i,
                      layout_gpu[i], layout_cpu[i], ms_c, mt_c);
        int kind = i % 3; /* as make_inputs chose it */
        if (kind == 0) CHECK_MSG(layout_gpu[i] == VS_LAYOUT_FRAME_MAJOR, "spatial head %d", i);
        if (kind == 1) CHECK_MSG(layout_gpu[i] == VS_LAYOUT_TOKEN_MAJOR, "temporal head %d", i);
    }

    /* Bad arguments are refused before any launch. */
    CHECK_FAILS(vs_cuda_svg_profile(&g, &cfg, &d_blocks, &layouts, dws, ws_bytes - 4, NULL),
                VS_ERR_INVALID_ARG, "workspace");
    vs_attn_args misaligned = g;
    misaligned.k = (const char *)dk + 2;
    CHECK_FAILS(vs_cuda_svg_profile(&misaligned, &cfg, &d_blocks, &layouts, dws, ws_bytes, NULL),
                VS_ERR_INVALID_ARG, "16-byte aligned");
    vs_attn_blocks wrong = d_blocks;
    wrong.num_q_blocks++;
    CHECK_FAILS(vs_cuda_svg_profile(&g, &cfg, &wrong, &layouts, dws, ws_bytes, NULL),
                VS_ERR_SHAPE, "block list");
    vs_attn_args f32 = g;
    f32.dtype = VS_F32;
    CHECK_FAILS(vs_cuda_svg_profile(&f32, &cfg, &d_blocks, &layouts, dws, ws_bytes, NULL),
                VS_ERR_UNSUPPORTED, "BF16 or F16");

    return 0;
}

TEST(aligned_shapes_head_dim_128) {
    const case_desc c = {2, 3, 8, 128, 0, 128, 1, 0};
    return run_case(&c);
}

TEST(ragged_shapes_with_text_head_dim_64) {
    const case_desc c = {1, 6, 6, 150, 37, 64, 1, 0};
    return run_case(&c);
}

TEST(more_frames_than_a_block_f16) {
    const case_desc c = {1, 3, 21, 78, 5, 128, 2, 1};
    return run_case(&c);
}

TEST(wan_sized_sequence_samples_a_window) {
    /* Wan 2.1 1.3B at 480p: 21 x 1560 = 32760 tokens; rows come from the first 10000. */
    const case_desc c = {1, 3, 21, 1560, 0, 128, 0, 0};
    return run_case(&c);
}

RUN_TESTS(T(aligned_shapes_head_dim_128), T(ragged_shapes_with_text_head_dim_64),
          T(more_frames_than_a_block_f16), T(wan_sized_sequence_samples_a_window))
