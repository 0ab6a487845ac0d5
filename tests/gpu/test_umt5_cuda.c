/* The umT5 encoder on CUDA (bf16) against the CPU f32 path: its new ops
 * (rmsnorm, mul, embedding, attention with relative position bias) one by
 * one, the transformers fixture of tests/test_umt5.c, and a random
 * checkpoint of odd sizes (sequence length not a multiple of 16, d_kv 64,
 * padding, batch 2). Fresh random inputs rounded to bf16 where the GPU stores
 * bf16, NaN-poisoned outputs; tolerance rel L2 2e-2 for whole encoders, 1e-2
 * for single bf16 ops, 1e-5 for f32 ones. */
#include "check.h"
#include "io/safetensors.h"
#include "models/common/umt5.h"
#include "ops/ops.h"
#include "tensor_util.h"

static unsigned long long rng = 0x13198a2e03707344ULL;

static vs_tensor host(void *x, vs_dtype dtype, int ndim, const int64_t *shape) {
    return vs_tensor_view(x, dtype, VS_CPU, ndim, shape);
}

/* An I32 device tensor holding host values. */
static vs_status ints_to_device(vs_tensor *t, const int32_t *x, int ndim, const int64_t *shape) {
    vs_status s = vs_tensor_alloc(t, VS_I32, VS_CUDA, ndim, shape);
    return s != VS_OK ? s : vs_device_memcpy_h2d(t->data, x, (size_t)vs_tensor_numel(t) * 4);
}

static int rmsnorm_case(int64_t rows, int64_t dim, vs_dtype y_dtype, int in_place) {
    const int64_t n = rows * dim, xs[2] = {rows, dim};
    float *x = vs_test_free_later(random_array(&rng, n, -3, 4));
    float *w = vs_test_free_later(random_array(&rng, dim, 0.5f, 1.5f)), *y = vs_test_malloc(sizeof(float) * n);
    vs_tensor hx = host(x, VS_F32, 2, xs), hy = host(y, VS_F32, 2, xs), hw = host(w, VS_F32, 1, &dim);
    vs_tensor *dx = vs_test_tensor(), *dy = vs_test_tensor(), *dw = vs_test_tensor();
    CHECK_OK(to_device(dx, x, VS_F32, 2, xs));
    CHECK_OK(to_device(dw, w, VS_F32, 1, &dim));
    CHECK_OK(vs_op_rmsnorm(&hy, &hx, &hw, 1e-6f));
    if (in_place) {
        *dy = *dx;
        dy->owned = 0;
    } else {
        CHECK_OK(vs_tensor_alloc(dy, y_dtype, VS_CUDA, 2, xs));
        CHECK_OK(poison(dy));
    }
    CHECK_OK(vs_op_rmsnorm(dy, dx, dw, 1e-6f));
    float *got = vs_test_free_later(to_host(dy));
    CHECK(got);
    const double err = vs_test_rel_l2_f32(got, y, n), tol = y_dtype == VS_BF16 ? 1e-2 : 1e-5;
    printf("  rmsnorm [%lld, %lld] -> %s%s: rel L2 %.2e\n", (long long)rows, (long long)dim, vs_dtype_name(y_dtype),
           in_place ? " in place" : "", err);
    CHECK_MSG(err < tol, "rel L2 %g", err);
    return 0;
}

TEST(rmsnorm_op) {
    CHECK(!rmsnorm_case(37, 4096, VS_BF16, 0));
    CHECK(!rmsnorm_case(5, 136, VS_F32, 0));
    CHECK(!rmsnorm_case(3, 32768, VS_F32, 1));
    /* y must be F32 or the activation dtype; a BF16 input is rejected */
    vs_tensor *x = vs_test_tensor(), *y = vs_test_tensor(), *w = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(x, VS_BF16, VS_CUDA, 2, (int64_t[]){2, 8}));
    CHECK_OK(vs_tensor_alloc(y, VS_BF16, VS_CUDA, 2, (int64_t[]){2, 8}));
    CHECK_OK(vs_tensor_alloc(w, VS_F32, VS_CUDA, 1, (int64_t[]){8}));
    CHECK_FAILS(vs_op_rmsnorm(y, x, w, 1e-6f), VS_ERR_INVALID_ARG, "rmsnorm: x is");
    return 0;
}

TEST(mul_and_embedding_ops) {
    const int64_t n = 3 * 41 * 104, s[2] = {123, 104};
    float *a = vs_test_free_later(random_array(&rng, n, -2, 2));
    float *b = vs_test_free_later(random_array(&rng, n, -2, 2));
    float *want = vs_test_malloc(sizeof(float) * n);
    round_to(a, n, VS_BF16), round_to(b, n, VS_BF16);
    for (int64_t i = 0; i < n; i++) want[i] = a[i] * b[i];
    vs_tensor *da = vs_test_tensor(), *db = vs_test_tensor(), *dout = vs_test_tensor();
    CHECK_OK(to_device(da, a, VS_BF16, 2, s));
    CHECK_OK(to_device(db, b, VS_BF16, 2, s));
    CHECK_OK(vs_tensor_alloc(dout, VS_BF16, VS_CUDA, 2, s));
    CHECK_OK(poison(dout));
    CHECK_OK(vs_op_mul(dout, da, db));
    float *got = vs_test_free_later(to_host(dout));
    CHECK(got);
    double err = vs_test_rel_l2_f32(got, want, n);
    printf("  mul [123, 104] bf16: rel L2 %.2e\n", err);
    CHECK_MSG(err < 1e-2, "rel L2 %g", err);
    CHECK_OK(vs_op_mul(da, da, db)); /* in place */
    got = vs_test_free_later(to_host(da));
    CHECK(got);
    err = vs_test_rel_l2_f32(got, want, n);
    CHECK_MSG(err < 1e-2, "in place: rel L2 %g", err);

    /* embedding: a BF16 table of 301 rows, 77 ids (one out of range gives a NaN row) */
    const int64_t vocab = 301, dim = 136, rows = 77, ts[2] = {vocab, dim}, os[2] = {rows, dim};
    float *table = vs_test_free_later(random_array(&rng, vocab * dim, -1, 1));
    float *ref = vs_test_malloc(sizeof(float) * rows * dim);
    round_to(table, vocab * dim, VS_BF16);
    int32_t ids[77];
    for (int i = 0; i < rows; i++) ids[i] = (int32_t)(vs_test_uniform(&rng) * vocab);
    vs_tensor ht = host(table, VS_F32, 2, ts), hi = host(ids, VS_I32, 1, &rows), hr = host(ref, VS_F32, 2, os);
    CHECK_OK(vs_op_embedding(&hr, &ht, &hi));
    vs_tensor *dt = vs_test_tensor(), *di = vs_test_tensor(), *de = vs_test_tensor();
    CHECK_OK(to_device(dt, table, VS_BF16, 2, ts));
    CHECK_OK(ints_to_device(di, ids, 1, &rows));
    CHECK_OK(vs_tensor_alloc(de, VS_F32, VS_CUDA, 2, os));
    CHECK_OK(poison(de));
    CHECK_OK(vs_op_embedding(de, dt, di));
    got = vs_test_free_later(to_host(de));
    CHECK(got);
    err = vs_test_rel_l2_f32(got, ref, rows * dim);
    printf("  embedding %lld ids of a [%lld, %lld] bf16 table: rel L2 %.2e\n", (long long)rows, (long long)vocab,
           (long long)dim, err);
    CHECK(err == 0.0);
    ids[5] = (int32_t)vocab;
    CHECK_FAILS(vs_op_embedding(&hr, &ht, &hi), VS_ERR_INVALID_ARG, "outside the table");
    vs_tensor *di_bad = vs_test_tensor();
    CHECK_OK(ints_to_device(di_bad, ids, 1, &rows));
    CHECK_OK(vs_op_embedding(de, dt, di_bad));
    got = vs_test_free_later(to_host(de));
    CHECK(got);
    CHECK(isnan(got[5 * dim]) && isnan(got[6 * dim - 1]) && !isnan(got[4 * dim]) && !isnan(got[6 * dim]));
    return 0;
}

static int attention_case(int64_t B, int64_t N, int64_t H, int64_t D, int buckets_n) {
    const int64_t n = B * N * H * D, qs[4] = {B, N, H, D}, ld = (N + 7) / 8 * 8, ss[4] = {B, H, N, ld};
    const int64_t rs[2] = {buckets_n, H}, bs = 2 * N - 1, ms[2] = {B, N};
    float *q = vs_test_free_later(random_array(&rng, n, -1, 1));
    float *k = vs_test_free_later(random_array(&rng, n, -1, 1));
    float *v = vs_test_free_later(random_array(&rng, n, -1, 1));
    float *rel = vs_test_free_later(random_array(&rng, buckets_n * H, -2, 2));
    float *ref = vs_test_malloc(sizeof(float) * n);
    float *scores = vs_test_malloc(sizeof(float) * (size_t)(B * H * N * ld));
    round_to(q, n, VS_BF16), round_to(k, n, VS_BF16), round_to(v, n, VS_BF16);
    int32_t *bucket = vs_test_malloc(sizeof(int32_t) * bs), *mask = vs_test_malloc(sizeof(int32_t) * B * N);
    for (int64_t r = -(N - 1); r <= N - 1; r++) bucket[r + N - 1] = vs_umt5_relative_bucket((int)r, buckets_n, 128);
    for (int64_t b = 0; b < B; b++) /* entry b keeps N - 7b tokens, then padding */
        for (int64_t j = 0; j < N; j++) mask[b * N + j] = j < N - 7 * b;
    vs_tensor hq = host(q, VS_F32, 4, qs), hk = host(k, VS_F32, 4, qs), hv = host(v, VS_F32, 4, qs);
    vs_tensor hr = host(rel, VS_F32, 2, rs), hb = host(bucket, VS_I32, 1, &bs), hm = host(mask, VS_I32, 2, ms);
    vs_tensor ho = host(ref, VS_F32, 4, qs), hs = host(scores, VS_F32, 4, ss);
    CHECK_OK(vs_op_attention_relpos(&ho, &hq, &hk, &hv, &hr, &hb, &hm, &hs));
    vs_tensor *dq = vs_test_tensor(), *dk = vs_test_tensor(), *dv = vs_test_tensor(), *dr = vs_test_tensor();
    vs_tensor *db = vs_test_tensor(), *dm = vs_test_tensor(), *dout = vs_test_tensor(), *ds = vs_test_tensor();
    CHECK_OK(to_device(dq, q, VS_BF16, 4, qs));
    CHECK_OK(to_device(dk, k, VS_BF16, 4, qs));
    CHECK_OK(to_device(dv, v, VS_BF16, 4, qs));
    CHECK_OK(to_device(dr, rel, VS_F32, 2, rs));
    CHECK_OK(ints_to_device(db, bucket, 1, &bs));
    CHECK_OK(ints_to_device(dm, mask, 2, ms));
    CHECK_OK(vs_tensor_alloc(dout, VS_BF16, VS_CUDA, 4, qs));
    CHECK_OK(vs_tensor_alloc(ds, VS_F32, VS_CUDA, 4, ss));
    CHECK_OK(poison(dout));
    CHECK_OK(poison(ds));
    CHECK_OK(vs_op_attention_relpos(dout, dq, dk, dv, dr, db, dm, ds));
    float *got = vs_test_free_later(to_host(dout));
    CHECK(got);
    const double err = vs_test_rel_l2_f32(got, ref, n);
    printf("  attention_relpos B %lld, N %lld, H %lld, D %lld: rel L2 %.2e\n", (long long)B, (long long)N,
           (long long)H, (long long)D, err);
    CHECK_MSG(err < 1e-2, "rel L2 %g", err);
    /* the scores scratch must have its shape */
    vs_tensor bad = *ds;
    bad.shape[3] = N;
    if (N % 8) CHECK_FAILS(vs_op_attention_relpos(dout, dq, dk, dv, dr, db, dm, &bad), VS_ERR_SHAPE, "scores");
    return 0;
}

TEST(attention_relpos_op) {
    CHECK(!attention_case(2, 37, 3, 64, 32));
    CHECK(!attention_case(1, 300, 5, 16, 32));
    CHECK(!attention_case(2, 9, 2, 8, 8));
    return 0;
}

#define DATA "tests/data/umt5/"

static void free_umt5(void *m) { vs_umt5_free(m); }
static void close_safetensors(void *st) { vs_safetensors_close(st); }

TEST(fixture_encoder_on_cuda) {
    vs_umt5 *m;
    CHECK_OK(vs_umt5_load(&m, DATA "text_encoder", VS_CUDA));
    vs_test_defer(free_umt5, m);
    CHECK(vs_umt5_device(m) == VS_CUDA);
    vs_safetensors *st;
    CHECK_OK(vs_safetensors_open(&st, DATA "reference.safetensors"));
    vs_test_defer(close_safetensors, st);
    const vs_st_entry *ids = vs_safetensors_find(st, "ids"), *mask = vs_safetensors_find(st, "mask"),
                      *hidden = vs_safetensors_find(st, "hidden");
    CHECK(ids && mask && hidden && ids->shape[1] == 24);
    float *out = vs_test_malloc(24 * 64 * sizeof *out);
    for (int i = 0; i < 24 * 64; i++) out[i] = NAN;
    CHECK_OK(vs_umt5_encode(m, ids->data, mask->data, 24, out));
    double err = vs_test_rel_l2_f32(out, hidden->data, 24 * 64);
    printf("  fixture (transformers f32) vs ours bf16 on CUDA: rel L2 %.2e\n", err);
    CHECK_MSG(err < 2e-2, "rel L2 %g", err);
    /* the same into a device tensor */
    vs_tensor *d = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(d, VS_F32, VS_CUDA, 3, (int64_t[]){1, 24, 64}));
    CHECK_OK(poison(d));
    CHECK_OK(vs_umt5_encode_batch(m, ids->data, mask->data, 1, 24, d));
    float *got = vs_test_free_later(to_host(d));
    CHECK(got && vs_test_rel_l2_f32(got, out, 24 * 64) == 0.0);
    int32_t none[2] = {0, 0}, two[2] = {5, 6};
    CHECK_FAILS(vs_umt5_encode(m, two, none, 2, out), VS_ERR_INVALID_ARG, "no token");
    return 0;
}

/* A random umT5 checkpoint in `dir`: d_model 136, 3 heads of 64, d_ff 328,
 * 3 layers, vocab 500; values rounded to bf16 so both devices read the same. */
static int write_random_checkpoint(const char *dir) {
    const int d = 136, H = 3, dk = 64, ff = 328, layers = 3, vocab = 500, buckets = 32, inner = H * dk;
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    vs_test_remove(path);
    fprintf(f, "{\"vocab_size\": %d, \"d_model\": %d, \"d_kv\": %d, \"d_ff\": %d, \"num_heads\": %d, "
               "\"num_layers\": %d, \"relative_attention_num_buckets\": %d, \"relative_attention_max_distance\": 128, "
               "\"layer_norm_epsilon\": 1e-6, \"feed_forward_proj\": \"gated-gelu\"}\n",
            vocab, d, dk, ff, H, layers, buckets);
    fclose(f);
    enum { count = 2 + 10 * 3 };
    char names[count][96];
    vs_tensor tensors[count];
    float *data[count];
    const char *parts[10] = {"0.SelfAttention.q.weight", "0.SelfAttention.k.weight", "0.SelfAttention.v.weight",
                             "0.SelfAttention.o.weight", "0.SelfAttention.relative_attention_bias.weight",
                             "0.layer_norm.weight", "1.DenseReluDense.wi_0.weight", "1.DenseReluDense.wi_1.weight",
                             "1.DenseReluDense.wo.weight", "1.layer_norm.weight"};
    const int64_t shapes[10][2] = {{inner, d}, {inner, d}, {inner, d}, {d, inner}, {buckets, H},
                                   {d, 0}, {ff, d}, {ff, d}, {d, ff}, {d, 0}};
    int t = 0;
    for (int l = -1; l < layers; l++)
        for (int p = 0; p < (l < 0 ? 2 : 10); p++, t++) {
            int64_t shape[2] = {0, 0};
            if (l < 0) {
                snprintf(names[t], sizeof names[t], p ? "encoder.final_layer_norm.weight" : "shared.weight");
                shape[0] = p ? d : vocab, shape[1] = d;
            } else {
                snprintf(names[t], sizeof names[t], "encoder.block.%d.layer.%s", l, parts[p]);
                shape[0] = shapes[p][0], shape[1] = shapes[p][1];
            }
            const int norm = (l < 0 && p == 1) || (l >= 0 && (p == 5 || p == 9)), ndim = norm ? 1 : 2;
            const int64_t numel = norm ? shape[0] : shape[0] * shape[1];
            const float r = norm ? 0 : l < 0 ? 1.0f : p == 4 ? 2.0f : 1.0f / sqrtf((float)shape[1]);
            data[t] = norm ? random_array(&rng, numel, 0.6f, 1.4f) : random_array(&rng, numel, -r, r);
            vs_test_defer(free, data[t]);
            round_to(data[t], numel, VS_BF16);
            tensors[t] = host(data[t], VS_F32, ndim, shape);
        }
    const char *name_ptrs[count];
    for (int i = 0; i < count; i++) name_ptrs[i] = names[i];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    vs_test_remove(path);
    CHECK_OK(vs_safetensors_write(path, count, name_ptrs, tensors, 0, NULL, NULL));
    return 0;
}

TEST(random_odd_sizes_batch_of_two) {
    char dir[] = "/tmp/vs_umt5_cuda_XXXXXX";
    CHECK(mkdtemp(dir));
    vs_test_remove(dir);
    CHECK(!write_random_checkpoint(dir));
    vs_umt5 *cpu, *gpu;
    CHECK_OK(vs_umt5_load(&cpu, dir, VS_CPU));
    vs_test_defer(free_umt5, cpu);
    CHECK_OK(vs_umt5_load(&gpu, dir, VS_CUDA));
    vs_test_defer(free_umt5, gpu);
    enum { B = 2, N = 45, D = 136 };
    int32_t ids[B * N], mask[B * N];
    for (int i = 0; i < B * N; i++) ids[i] = 1 + (int32_t)(vs_test_uniform(&rng) * 499);
    for (int b = 0; b < B; b++) /* 45 and 29 tokens */
        for (int j = 0; j < N; j++) mask[b * N + j] = j < N - 16 * b;
    float *ref = vs_test_malloc(sizeof(float) * B * N * D);
    vs_tensor href = host(ref, VS_F32, 3, (int64_t[]){B, N, D}), *d = vs_test_tensor();
    CHECK_OK(vs_umt5_encode_batch(cpu, ids, mask, B, N, &href));
    CHECK_OK(vs_tensor_alloc(d, VS_F32, VS_CUDA, 3, (int64_t[]){B, N, D}));
    CHECK_OK(poison(d));
    CHECK_OK(vs_umt5_encode_batch(gpu, ids, mask, B, N, d));
    float *got = vs_test_free_later(to_host(d));
    CHECK(got);
    const double err = vs_test_rel_l2_f32(got, ref, B * N * D);
    printf("  random umT5 (d_model 136, 3 x 64 heads, d_ff 328, 3 layers), 2 x 45 tokens: CUDA vs CPU rel L2 %.2e\n",
           err);
    CHECK_MSG(err < 2e-2, "rel L2 %g", err);
    /* entry 1 alone gives entry 1 of the batch (the padding of one entry does not leak into another) */
    float *one = vs_test_malloc(sizeof(float) * N * D);
    CHECK_OK(vs_umt5_encode(gpu, ids + N, mask + N, N, one));
    const double err1 = vs_test_rel_l2_f32(one, got + N * D, N * D);
    printf("  entry 1 alone vs in the batch: rel L2 %.2e\n", err1);
    CHECK_MSG(err1 < 1e-5, "rel L2 %g", err1);
    return 0;
}

RUN_TESTS(T(rmsnorm_op), T(mul_and_embedding_ops), T(attention_relpos_op), T(fixture_encoder_on_cuda),
          T(random_odd_sizes_batch_of_two))
