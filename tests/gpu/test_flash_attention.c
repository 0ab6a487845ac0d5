/* The CUDA flash-attention kernel against an f64 CPU reference: dense,
 * block-sparse (random block lists, empty rows included) and with temporal
 * heads read through the token-major layout; sequence lengths that are not
 * multiples of the tiles; poisoned (NaN) output buffers; fresh random inputs.
 * The dense cases run again through cuDNN's fused attention, also on token
 * rows wider than H x D (the strided layout of packed projections), and SVG
 * and random block lists through the band path (band rows as cuDNN's strided
 * windows, the others through its paged attention). */
#include <cuda_runtime.h>
#include <stdlib.h>

#include "backend/cuda/attention_cuda.h"
#include "check.h"
#include "core/dtype.h"
#include "core/status.h"
#include "backend/cuda/band_attention.h"
#include "backend/cuda/cudnn_attention.h"
#include "ops/attention.h"
#include "sparse/svg.h"

typedef struct {
    int batch, heads, seq_len, head_dim;
    int frames, tokens_per_frame; /* 0: no layout test */
    double density;               /* < 1: random block list */
    int half;                     /* F16 instead of BF16 */
    int check_rows;               /* rows checked per head (0: all) */
    int kv_len;                   /* cross-attention keys (0: self-attention) */
    double svg_density;           /* > 0: SVG's block list for frames x tokens_per_frame (text after) instead */
    int frame_major;              /* with svg_density: every head frame-major (no layout) */
} case_desc;

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

/* The implementation under test, and extra elements at the end of every
 * token row of q, k, v and out on the device (0: contiguous). */
static vs_status (*attend)(const vs_attn_args *, void *) = vs_cuda_flash_attention;
static const char *attend_name = "ours";
static int row_pad = 0;

/* Host copies (rounded to the storage type, as the GPU sees them). */
typedef struct {
    uint16_t *q, *k, *v;
    int32_t *row_ptr, *col_idx;
    uint8_t *layout;
    int nb;
} host_inputs;

static void free_device(void *p) { cudaFree(p); }
static void free_block_list(void *b) { vs_attn_block_list_free(b); }
static void free_band(void *band) { vs_cuda_band_free(band); }

/* cudaMalloc, the memory cudaFree'd after the case (or at run_case's end) when the call succeeded. */
static cudaError_t device_alloc(void **p, size_t bytes) {
    *p = NULL;
    const cudaError_t e = cudaMalloc(p, bytes);
    if (e == cudaSuccess) vs_test_defer(free_device, *p);
    return e;
}

static double to_double(uint16_t x, int half) { return half ? vs_f16_to_f32(x) : vs_bf16_to_f32(x); }

/* Reference for output position r (sequence position in the head's layout)
 * of (b, h): returns the stored row and fills out[D]. scores and keys: room
 * for every key, the caller's scratch. */
static int64_t reference_row(const case_desc *c, const host_inputs *in, int b, int h, int r, double *out,
                             double *scores, int *keys) {
    const int D = c->head_dim, H = c->heads, N = c->seq_len, NK = c->kv_len ? c->kv_len : N;
    int layout = in->layout ? in->layout[b * H + h] : VS_LAYOUT_FRAME_MAJOR;
    int64_t qrow = vs_attn_row(r, layout, c->frames, c->tokens_per_frame);
    const uint16_t *q = in->q + ((int64_t)b * N + qrow) * H * D + h * D;
    int nk = 0;
    const int qb = r / VS_ATTN_BLOCK;
    if (in->row_ptr) { /* the row's key blocks, in order */
        for (int e = in->row_ptr[qb]; e < in->row_ptr[qb + 1]; e++)
            for (int j = in->col_idx[e] * VS_ATTN_BLOCK; j < NK && j < (in->col_idx[e] + 1) * VS_ATTN_BLOCK; j++)
                keys[nk++] = j;
    } else {
        for (int j = 0; j < NK; j++) keys[nk++] = j;
    }
    double mx = -1e300;
    for (int i = 0; i < nk; i++) {
        int64_t krow = vs_attn_row(keys[i], layout, c->frames, c->tokens_per_frame);
        const uint16_t *k = in->k + ((int64_t)b * NK + krow) * H * D + h * D;
        double s = 0;
        for (int d = 0; d < D; d++) s += to_double(q[d], c->half) * to_double(k[d], c->half);
        scores[i] = s / sqrt((double)D);
        if (scores[i] > mx) mx = scores[i];
    }
    double sum = 0;
    for (int i = 0; i < nk; i++) sum += scores[i] = exp(scores[i] - mx);
    for (int d = 0; d < D; d++) out[d] = 0;
    for (int i = 0; i < nk; i++) {
        int64_t vrow = vs_attn_row(keys[i], layout, c->frames, c->tokens_per_frame);
        const uint16_t *v = in->v + ((int64_t)b * NK + vrow) * H * D + h * D;
        for (int d = 0; d < D; d++) out[d] += scores[i] / sum * to_double(v[d], c->half);
    }
    return qrow;
}

/* What one case allocates is registered with check.h and released when it ends (or with the TEST on a failure). */
static int run_case(const case_desc *c) {
    const int mark = vs_test_mark();
    const int64_t n = (int64_t)c->batch * c->seq_len * c->heads * c->head_dim;
    const int64_t nkv = (int64_t)c->batch * (c->kv_len ? c->kv_len : c->seq_len) * c->heads * c->head_dim;
    const size_t bytes = (size_t)n * 2, kv_bytes = (size_t)nkv * 2;
    const int64_t row_elems = (int64_t)c->heads * c->head_dim, stride_n = row_elems + row_pad; /* elements */
    const int64_t q_rows = (int64_t)c->batch * c->seq_len,
                  kv_rows = (int64_t)c->batch * (c->kv_len ? c->kv_len : c->seq_len);
    const size_t dev_bytes = (size_t)(q_rows * stride_n) * 2, dev_kv_bytes = (size_t)(kv_rows * stride_n) * 2;
    host_inputs in = {0};
    in.q = vs_test_malloc(bytes), in.k = vs_test_malloc(kv_bytes), in.v = vs_test_malloc(kv_bytes);
    uint16_t *o = vs_test_malloc(bytes);
    for (int64_t i = 0; i < n; i++) {
        float a = (float)(vs_test_uniform(&rng) * 4 - 2);
        in.q[i] = c->half ? vs_f32_to_f16(a) : vs_f32_to_bf16(a);
    }
    for (int64_t i = 0; i < nkv; i++) {
        float b = (float)(vs_test_uniform(&rng) * 4 - 2), v = (float)(vs_test_uniform(&rng) * 2 - 1);
        in.k[i] = c->half ? vs_f32_to_f16(b) : vs_f32_to_bf16(b);
        in.v[i] = c->half ? vs_f32_to_f16(v) : vs_f32_to_bf16(v);
    }
    in.nb = (c->seq_len + VS_ATTN_BLOCK - 1) / VS_ATTN_BLOCK;
    if (c->svg_density > 0) {
        const int text = c->seq_len - c->frames * c->tokens_per_frame;
        vs_svg_config cfg = vs_svg_config_default(c->frames, c->tokens_per_frame, text, c->svg_density);
        vs_attn_block_list *svg = vs_test_malloc(sizeof *svg);
        memset(svg, 0, sizeof *svg);
        vs_test_defer(free_block_list, svg);
        CHECK_OK(vs_svg_blocks_build(&cfg, c->seq_len, svg));
        in.row_ptr = svg->row_ptr, in.col_idx = svg->col_idx;
    } else if (c->density < 1) {
        in.row_ptr = vs_test_malloc(sizeof(int32_t) * (in.nb + 1));
        in.col_idx = vs_test_malloc(sizeof(int32_t) * in.nb * in.nb);
        in.row_ptr[0] = 0;
        for (int i = 0; i < in.nb; i++) {
            int e = in.row_ptr[i];
            if (i != 1) /* query block 1 stays empty: its output must be zeros */
                for (int j = 0; j < in.nb; j++)
                    if (j == in.nb - 1 || vs_test_uniform(&rng) < c->density) in.col_idx[e++] = j;
            in.row_ptr[i + 1] = e;
        }
    }
    if (c->frames && !c->frame_major) {
        in.layout = vs_test_malloc((size_t)c->batch * c->heads);
        for (int i = 0; i < c->batch * c->heads; i++) in.layout[i] = (uint8_t)(i % 2);
    }

    void *dq, *dk, *dv, *dout, *drow = NULL, *dcol = NULL, *dlayout = NULL;
    CHECK(device_alloc(&dq, dev_bytes) == cudaSuccess && device_alloc(&dk, dev_kv_bytes) == cudaSuccess &&
          device_alloc(&dv, dev_kv_bytes) == cudaSuccess && device_alloc(&dout, dev_bytes) == cudaSuccess);
    const size_t pitch = (size_t)stride_n * 2, width = (size_t)row_elems * 2;
    CHECK(cudaMemcpy2D(dq, pitch, in.q, width, width, (size_t)q_rows, cudaMemcpyHostToDevice) == cudaSuccess);
    CHECK(cudaMemcpy2D(dk, pitch, in.k, width, width, (size_t)kv_rows, cudaMemcpyHostToDevice) ==
          cudaSuccess);
    CHECK(cudaMemcpy2D(dv, pitch, in.v, width, width, (size_t)kv_rows, cudaMemcpyHostToDevice) ==
          cudaSuccess);
    CHECK(cudaMemset(dout, 0xff, dev_bytes) == cudaSuccess); /* NaN in both bf16 and f16 */
    vs_attn_blocks blocks = {in.nb, in.nb, NULL, NULL};
    if (in.row_ptr) {
        size_t rb = sizeof(int32_t) * (in.nb + 1), cb = sizeof(int32_t) * (in.row_ptr[in.nb] + 1);
        CHECK(device_alloc(&drow, rb) == cudaSuccess && device_alloc(&dcol, cb) == cudaSuccess);
        cudaMemcpy(drow, in.row_ptr, rb, cudaMemcpyHostToDevice);
        cudaMemcpy(dcol, in.col_idx, cb, cudaMemcpyHostToDevice);
        blocks.row_ptr = drow, blocks.col_idx = dcol;
    }
    if (in.layout) {
        CHECK(device_alloc(&dlayout, (size_t)c->batch * c->heads) == cudaSuccess);
        cudaMemcpy(dlayout, in.layout, (size_t)c->batch * c->heads, cudaMemcpyHostToDevice);
    }

    vs_attn_args a = {0};
    a.dtype = c->half ? VS_F16 : VS_BF16;
    a.q = dq, a.k = dk, a.v = dv, a.out = dout;
    a.batch = c->batch, a.heads = c->heads, a.seq_len = c->seq_len, a.head_dim = c->head_dim;
    a.kv_len = c->kv_len;
    vs_attn_args_contiguous(&a);
    a.q_stride_n = a.k_stride_n = a.v_stride_n = a.o_stride_n = stride_n;
    a.q_stride_b = a.o_stride_b = (int64_t)c->seq_len * stride_n;
    a.k_stride_b = a.v_stride_b = (int64_t)(c->kv_len ? c->kv_len : c->seq_len) * stride_n;
    a.scale = 1.0f / sqrtf((float)c->head_dim);
    a.blocks = in.row_ptr ? &blocks : NULL;
    a.head_layout = dlayout;
    a.frames = c->frames, a.tokens_per_frame = c->tokens_per_frame;
    CHECK_OK(attend(&a, NULL));
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    CHECK(cudaMemcpy2D(o, width, dout, pitch, width, (size_t)q_rows, cudaMemcpyDeviceToHost) == cudaSuccess);
    if (row_pad) { /* the padding between token rows stays untouched (NaN) */
        uint16_t *pad = vs_test_malloc((size_t)row_pad * 2);
        for (int64_t r = 0; r < q_rows; r += q_rows / 7 + 1) {
            cudaMemcpy(pad, (uint16_t *)dout + r * stride_n + row_elems, (size_t)row_pad * 2,
                       cudaMemcpyDeviceToHost);
            for (int i = 0; i < row_pad; i++)
                CHECK_MSG(pad[i] == 0xffff, "padding after token row %lld written", (long long)r);
        }
    }

    /* Every element written and finite. */
    for (int64_t i = 0; i < n; i++) CHECK_MSG(isfinite(to_double(o[i], c->half)), "output element %lld unwritten", (long long)i);

    /* Reference on all rows or a sample of rows of every (b, h). */
    const int D = c->head_dim;
    const int rows = c->check_rows ? c->check_rows : c->seq_len, NK = c->kv_len ? c->kv_len : c->seq_len;
    const int64_t checked = (int64_t)c->batch * c->heads * rows * D;
    double *ref = vs_test_malloc(sizeof(double) * (size_t)checked); /* the checked rows, and what the GPU gave */
    float *gpu = vs_test_malloc(sizeof(float) * (size_t)checked);
    double *scores = vs_test_malloc(sizeof(double) * NK);
    int *keys = vs_test_malloc(sizeof(int) * NK);
    int64_t at = 0;
    for (int b = 0; b < c->batch; b++)
        for (int h = 0; h < c->heads; h++) {
            for (int i = 0; i < rows; i++, at += D) {
                int r = c->check_rows ? (int)(vs_test_uniform(&rng) * c->seq_len) : i;
                if (i == 0 && c->check_rows) r = c->seq_len - 1; /* always check the ragged end */
                int64_t row = reference_row(c, &in, b, h, r, ref + at, scores, keys);
                const uint16_t *got = o + ((int64_t)b * c->seq_len + row) * c->heads * D + h * D;
                for (int d = 0; d < D; d++) gpu[at + d] = (float)to_double(got[d], c->half);
                if (in.row_ptr && !c->svg_density && r / VS_ATTN_BLOCK == 1)
                    for (int d = 0; d < D; d++) CHECK_MSG(got[d] == 0, "empty query block must give zeros");
            }
        }
    double rel = vs_test_rel_l2(gpu, ref, checked);
    printf("  %s B=%d H=%d N=%d kv=%d D=%d %s density=%.2f%s layout=%s row pad %d: rel L2 %.2e\n", attend_name,
           c->batch, c->heads, c->seq_len, c->kv_len, D, c->half ? "f16" : "bf16",
           c->svg_density ? c->svg_density : c->density, c->svg_density ? " (SVG)" : "",
           in.layout ? "mixed" : "frame-major", row_pad, rel);
    CHECK_MSG(rel < 1e-2, "relative L2 error %.3e", rel);
    vs_test_release_to(mark);
    return 0;
}

TEST(dense_small_ragged) {
    case_desc cases[] = {
        {2, 3, 200, 64, 0, 0, 1.0, 0, 0, 0, 0, 0},  {1, 2, 333, 128, 0, 0, 1.0, 0, 0, 0, 0, 0}, {1, 1, 1, 128, 0, 0, 1.0, 0, 0, 0, 0, 0},
        {2, 2, 1000, 128, 0, 0, 1.0, 1, 0, 0, 0, 0}, {1, 2, 65, 64, 0, 0, 1.0, 1, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) CHECK(run_case(&cases[i]) == 0);
    return 0;
}

TEST(block_sparse_with_empty_rows) {
    case_desc cases[] = {
        {2, 2, 1100, 128, 0, 0, 0.3, 0, 0, 0, 0, 0},
        {1, 3, 777, 64, 0, 0, 0.5, 0, 0, 0, 0, 0},
        {1, 2, 1500, 128, 0, 0, 0.15, 1, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) CHECK(run_case(&cases[i]) == 0);
    return 0;
}

TEST(temporal_heads_through_token_major_layout) {
    case_desc cases[] = {
        {2, 2, 21 * 30 + 7, 128, 21, 30, 0.3, 0, 0, 0, 0, 0}, /* 7 text tokens after the video */
        {1, 4, 5 * 52, 64, 5, 52, 1.0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) CHECK(run_case(&cases[i]) == 0);
    return 0;
}

TEST(cross_attention_to_fewer_keys) {
    case_desc cases[] = {
        {2, 3, 700, 128, 0, 0, 1.0, 0, 0, 77, 0, 0},
        {1, 2, 130, 64, 0, 0, 1.0, 1, 0, 512, 0, 0},
        {1, 12, 32760, 128, 0, 0, 1.0, 0, 32, 512, 0, 0}, /* Wan cross-attention */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) CHECK(run_case(&cases[i]) == 0);
    return 0;
}

TEST(wan_480p_shape_sampled_rows) {
    case_desc c = {1, 12, 32760, 128, 21, 1560, 0.15, 0, 48, 0, 0, 0};
    CHECK(run_case(&c) == 0);
    c.density = 1.0;
    c.frames = 0;
    CHECK(run_case(&c) == 0);
    return 0;
}

TEST(rejects_bad_arguments) {
    vs_attn_args a = {0};
    a.dtype = VS_BF16;
    a.q = a.k = a.v = (void *)16, a.out = (void *)16;
    a.batch = 1, a.heads = 1, a.seq_len = 10, a.head_dim = 96;
    vs_attn_args_contiguous(&a);
    CHECK_FAILS(vs_cuda_flash_attention(&a, NULL), VS_ERR_UNSUPPORTED, "head_dim 96");
    a.head_dim = 64;
    a.dtype = VS_F32;
    CHECK_FAILS(vs_cuda_flash_attention(&a, NULL), VS_ERR_UNSUPPORTED, "BF16 or F16");
    return 0;
}

/* Runs `cases` through `fn` with token rows padded by `pad` elements. */
/* Dense attention as ops dispatches it on CUDA: the backend table's choice between cuDNN and our kernel. */
static vs_status dense_through_backend(const vs_attn_args *args, void *stream) {
    return vs_attention_dense(VS_CUDA, args, stream);
}

static int run_with(vs_status (*fn)(const vs_attn_args *, void *), const char *name, int pad,
                    const case_desc *cases, size_t count) {
    attend = fn, attend_name = name, row_pad = pad;
    int failed = 0;
    for (size_t i = 0; i < count && !failed; i++)
        failed = run_case(&cases[i]);
    attend = vs_cuda_flash_attention, attend_name = "ours", row_pad = 0;
    return failed;
}

TEST(cudnn_dense_ragged_both_head_dims) {
    case_desc cases[] = {
        {2, 3, 200, 64, 0, 0, 1.0, 0, 0, 0, 0, 0},    {1, 2, 333, 128, 0, 0, 1.0, 0, 0, 0, 0, 0},
        {2, 2, 1000, 128, 0, 0, 1.0, 1, 0, 0, 0, 0},  {1, 2, 65, 64, 0, 0, 1.0, 1, 0, 0, 0, 0},
        {1, 3, 4100, 128, 0, 0, 1.0, 0, 64, 0, 0, 0},
    };
    CHECK(run_with(vs_cudnn_attention, "cudnn", 0, cases, sizeof cases / sizeof cases[0]) == 0);
    /* Token rows wider than H x D, as when q, k and v are views into one packed projection. */
    CHECK(run_with(vs_cudnn_attention, "cudnn", 24, cases, 3) == 0);
    return 0;
}

TEST(cudnn_cross_attention_to_fewer_keys) {
    case_desc cases[] = {
        {2, 3, 700, 128, 0, 0, 1.0, 0, 0, 77, 0, 0},
        {1, 2, 130, 64, 0, 0, 1.0, 1, 0, 512, 0, 0},
        {1, 12, 32760, 128, 0, 0, 1.0, 0, 32, 512, 0, 0}, /* Wan cross-attention */
    };
    CHECK(run_with(vs_cudnn_attention, "cudnn", 0, cases, sizeof cases / sizeof cases[0]) == 0);
    CHECK(run_with(vs_cudnn_attention, "cudnn", 8, cases, 1) == 0);
    return 0;
}

TEST(cudnn_wan_480p_shape_sampled_rows) {
    case_desc c = {1, 12, 32760, 128, 0, 0, 1.0, 0, 48, 0, 0, 0};
    CHECK(run_with(vs_cudnn_attention, "cudnn", 0, &c, 1) == 0);
    return 0;
}

/* The dense dispatch (cuDNN by default, ours with VS_DENSE_ATTN=ours) gives
 * the same function, including shapes cuDNN may refuse (one token). */
TEST(dense_dispatch_both_backends) {
    case_desc cases[] = {{1, 1, 1, 128, 0, 0, 1.0, 0, 0, 0, 0, 0}, {2, 2, 300, 64, 0, 0, 1.0, 1, 0, 40, 0, 0}};
    const char *backend = NULL;
    unsetenv("VS_DENSE_ATTN");
    CHECK_OK(vs_attention_dense_backend(VS_CUDA, &backend));
    CHECK(!strcmp(backend, "cudnn"));
    CHECK(run_with(dense_through_backend, "dispatch(cudnn)", 0, cases, 2) == 0);
    setenv("VS_DENSE_ATTN", "ours", 1);
    CHECK_OK(vs_attention_dense_backend(VS_CUDA, &backend));
    CHECK(!strcmp(backend, "ours"));
    CHECK(run_with(dense_through_backend, "dispatch(ours)", 0, cases, 2) == 0);
    setenv("VS_DENSE_ATTN", "fast", 1);
    CHECK_FAILS(vs_attention_dense_backend(VS_CUDA, &backend), VS_ERR_INVALID_ARG, "VS_DENSE_ATTN");
    unsetenv("VS_DENSE_ATTN");
    return 0;
}

TEST(cudnn_rejects_sparse_arguments) {
    vs_attn_args a = {0};
    a.dtype = VS_BF16;
    a.q = a.k = a.v = (void *)16, a.out = (void *)16;
    a.batch = 1, a.heads = 1, a.seq_len = 10, a.head_dim = 64;
    vs_attn_args_contiguous(&a);
    uint8_t layout = 0;
    a.head_layout = &layout;
    a.frames = 2, a.tokens_per_frame = 5;
    CHECK_FAILS(vs_cudnn_attention(&a, NULL), VS_ERR_UNSUPPORTED, "dense only");
    a.head_layout = NULL;
    a.q = (void *)8;
    CHECK_FAILS(vs_cudnn_attention(&a, NULL), VS_ERR_UNSUPPORTED, "16-byte aligned");
    return 0;
}

/* The band path as an attend function: the block list is read back from the device to find the band
 * rows; they run as cuDNN's strided windows, the others through its paged attention. */
static vs_status band_attend(const vs_attn_args *a, void *stream) {
    const int nb = a->blocks->num_q_blocks;
    int32_t *row_ptr = vs_test_malloc(sizeof(int32_t) * (size_t)(nb + 1)), *col_idx = NULL;
    cudaMemcpy(row_ptr, a->blocks->row_ptr, sizeof(int32_t) * (size_t)(nb + 1), cudaMemcpyDeviceToHost);
    col_idx = vs_test_malloc(sizeof(int32_t) * (size_t)(row_ptr[nb] + 1));
    cudaMemcpy(col_idx, a->blocks->col_idx, sizeof(int32_t) * (size_t)row_ptr[nb], cudaMemcpyDeviceToHost);
    const vs_attn_blocks host = {nb, nb, row_ptr, col_idx};
    vs_cuda_band *band = NULL;
    vs_status s = vs_cuda_band_create(&band, &host, a->seq_len, a->heads, a->head_dim);
    if (s == VS_OK) vs_test_defer(free_band, band); /* with run_case's allocations */
    if (s == VS_OK) {
        const vs_attn_band r = vs_cuda_band_rows(band);
        printf("  band rows: query blocks %d..%d of %d, sink %d, half width %d, tail from %d\n", r.first,
               r.first + r.count - 1, nb, r.sink, r.half, r.tail);
        s = vs_cuda_band_attention(band, a, stream);
    }
    cudaDeviceSynchronize();
    return s;
}

TEST(block_lists_through_cudnn) {
    case_desc cases[] = {
        /* random lists with an empty query block, N not a multiple of 128, both head dims, f16 */
        {2, 2, 1100, 128, 0, 0, 0.3, 0, 0, 0, 0, 0},
        {1, 3, 777, 64, 0, 0, 0.5, 0, 0, 0, 0, 0},
        {1, 2, 1500, 128, 0, 0, 0.15, 1, 0, 0, 0, 0},
        /* temporal heads with 7 text tokens after the video */
        {2, 2, 21 * 30 + 7, 128, 21, 30, 0.3, 0, 0, 0, 0, 0},
        /* SVG lists: mixed layouts, batch 2; the embedded model's shape; all frame-major; Wan 1.3B 480p */
        {2, 3, 12 * 200, 128, 12, 200, 1.0, 0, 0, 0, 0.25, 0},
        {1, 2, 16 * 256, 64, 16, 256, 1.0, 1, 0, 0, 0.25, 0},
        {2, 2, 16 * 256, 64, 16, 256, 1.0, 0, 0, 0, 0.25, 1},
        {2, 2, 21 * 1560, 128, 21, 1560, 1.0, 0, 96, 0, 0.15, 0},
        /* text after the video, SVG's dense tail: CogVideoX's layout (226 text tokens, heads of 64; band rows
         * from the sink, whole, and clipped by the tail), HunyuanVideo's (256 text tokens, frame-major) */
        {2, 2, 11 * 408 + 226, 64, 11, 408, 1.0, 0, 512, 0, 0.25, 0},
        {1, 3, 8 * 300 + 256, 128, 8, 300, 1.0, 0, 512, 0, 0.25, 1},
        {1, 2, 11 * 408 + 226, 64, 11, 408, 1.0, 1, 512, 0, 0.4, 0},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    CHECK(run_with(band_attend, "band", 0, cases, n) == 0);
    CHECK(run_with(band_attend, "band", 24, cases, 5) == 0); /* strided token rows (packed projections) */
    return 0;
}

#define CUDNN_TESTS                                                                                          \
    , T(cudnn_dense_ragged_both_head_dims), T(cudnn_cross_attention_to_fewer_keys),                          \
        T(cudnn_wan_480p_shape_sampled_rows), T(dense_dispatch_both_backends),                               \
        T(cudnn_rejects_sparse_arguments), T(block_lists_through_cudnn)

RUN_TESTS(T(dense_small_ragged), T(block_sparse_with_empty_rows),
          T(temporal_heads_through_token_major_layout), T(cross_attention_to_fewer_keys),
          T(wan_480p_shape_sampled_rows), T(rejects_bad_arguments) CUDNN_TESTS)
