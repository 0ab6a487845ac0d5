#include "backend/cpu/attention_cpu.h"
#include "check.h"
#include "core/status.h"
#include "backend/cpu/svg_profile_cpu.h"
#include "sparse/svg.h"

/* ---- helpers ------------------------------------------------------------------ */

/* Token-level SVG rule over positions (the reference's mask plus text). */
static int token_allowed(const vs_svg_config *cfg, int64_t band, int64_t q, int64_t k) {
    int64_t video = (int64_t)cfg->frames * cfg->tokens_per_frame;
    if (q >= video || k >= video) return 1;
    return k < cfg->tokens_per_frame || llabs(q - k) <= band;
}

static int brute_block_allowed(const vs_svg_config *cfg, int seq_len, int qb, int kb) {
    int64_t band = vs_svg_band_tokens(cfg);
    for (int q = qb * VS_ATTN_BLOCK; q < (qb + 1) * VS_ATTN_BLOCK && q < seq_len; q++)
        for (int k = kb * VS_ATTN_BLOCK; k < (kb + 1) * VS_ATTN_BLOCK && k < seq_len; k++)
            if (token_allowed(cfg, band, q, k)) return 1;
    return 0;
}

static vs_svg_config config(int frames, int per_frame, int text, double band_frames) {
    vs_svg_config cfg = vs_svg_config_default(frames, per_frame, text, 0.25);
    cfg.band_frames = band_frames;
    return cfg;
}

static void fill_uniform(float *x, int64_t n, unsigned long long *state) {
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(2 * vs_test_uniform(state) - 1);
}

static void fill_nan(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        x[i] = NAN;
}

static int all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static void free_block_list(void *b) { vs_attn_block_list_free(b); }

/* An empty block list, vs_attn_block_list_free'd (and its struct freed) after the case. */
static vs_attn_block_list *test_block_list(void) {
    vs_attn_block_list *b = vs_test_malloc(sizeof *b);
    memset(b, 0, sizeof *b);
    vs_test_defer(free_block_list, b);
    return b;
}

/* x as doubles, freed after the case. */
static double *to_f64(const float *x, int64_t n) {
    double *y = vs_test_malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i];
    return y;
}

/* Contiguous [B, N, H, D] arguments over caller buffers. */
static vs_attn_args make_args(int batch, int heads, int len, int dim, const float *q, const float *k,
                              const float *v, float *out) {
    vs_attn_args a = {0};
    a.dtype = VS_F32;
    a.q = q, a.k = k, a.v = v, a.out = out;
    a.batch = batch, a.heads = heads, a.seq_len = len, a.head_dim = dim;
    a.scale = 1.0f / sqrtf((float)dim);
    vs_attn_args_contiguous(&a);
    return a;
}

/* Naive masked attention in double: stored row i attends stored row j when
 * mask[(i/128) * nb + j/128] (frame-major only). Rows with no key give zeros. */
static void naive_masked(const vs_attn_args *a, const double *q, const double *k, const double *v,
                         const uint8_t *mask, double *out) {
    int len = a->seq_len, dim = a->head_dim, nb = (len + 127) / 128;
    double *p = vs_test_malloc(sizeof(double) * (size_t)len);
    for (int b = 0; b < a->batch; b++)
        for (int h = 0; h < a->heads; h++)
            for (int i = 0; i < len; i++) {
                const double *qi = q + b * a->q_stride_b + i * a->q_stride_n + h * dim;
                double *oi = out + b * a->o_stride_b + i * a->o_stride_n + h * dim;
                double max = -INFINITY, sum = 0;
                for (int j = 0; j < len; j++) {
                    p[j] = -INFINITY;
                    if (!mask[(i / 128) * nb + j / 128]) continue;
                    const double *kj = k + b * a->k_stride_b + j * a->k_stride_n + h * dim;
                    double s = 0;
                    for (int d = 0; d < dim; d++)
                        s += qi[d] * kj[d];
                    p[j] = s * a->scale;
                    if (p[j] > max) max = p[j];
                }
                for (int d = 0; d < dim; d++)
                    oi[d] = 0;
                if (max == -INFINITY) continue;
                for (int j = 0; j < len; j++) {
                    if (p[j] == -INFINITY) continue;
                    double w = exp(p[j] - max);
                    sum += w;
                    const double *vj = v + b * a->v_stride_b + j * a->v_stride_n + h * dim;
                    for (int d = 0; d < dim; d++)
                        oi[d] += w * vj[d];
                }
                for (int d = 0; d < dim; d++)
                    oi[d] /= sum;
            }
}

/* ---- masks -------------------------------------------------------------------- */

TEST(config_validation) {
    vs_svg_config cfg = config(4, 50, 3, 1);
    CHECK_OK(vs_svg_config_validate(&cfg, 203));
    CHECK_FAILS(vs_svg_config_validate(&cfg, 200), VS_ERR_SHAPE,
                "4 frames x 50 tokens + 3 text tokens = 203");
    cfg.band_frames = -1;
    CHECK_FAILS(vs_svg_config_validate(&cfg, 203), VS_ERR_INVALID_ARG, "band_frames -1");
    cfg.band_frames = NAN;
    CHECK_FAILS(vs_svg_config_validate(&cfg, 203), VS_ERR_INVALID_ARG, "band_frames");
    cfg.band_frames = 0;
    cfg.density = 0;
    CHECK_FAILS(vs_svg_config_validate(&cfg, 203), VS_ERR_INVALID_ARG, "density 0 must be in (0, 1]");
    cfg.density = 1.5;
    CHECK_FAILS(vs_svg_config_validate(&cfg, 203), VS_ERR_INVALID_ARG, "density 1.5");
    cfg.density = 1;
    CHECK_OK(vs_svg_config_validate(&cfg, 203));
    cfg.samples = 0;
    CHECK_FAILS(vs_svg_config_validate(&cfg, 203), VS_ERR_INVALID_ARG, "samples 0");
    cfg = config(0, 50, 0, 1);
    CHECK_FAILS(vs_svg_config_validate(&cfg, 0), VS_ERR_INVALID_ARG, "frames 0");
    cfg = config(4, 50, 0, 1);
    vs_attn_block_list blocks;
    CHECK_FAILS(vs_svg_blocks_build(&cfg, 201, &blocks), VS_ERR_SHAPE, "sequence has 201");
    CHECK(blocks.row_ptr == NULL && blocks.col_idx == NULL);
    CHECK_FAILS(vs_svg_blocks_build(NULL, 200, &blocks), VS_ERR_INVALID_ARG, "config is required");
    return 0;
}

TEST(band_width_from_frames_and_density) {
    vs_svg_config cfg = config(21, 1560, 0, 2);
    CHECK(vs_svg_band_tokens(&cfg) == 3200); /* 3120 rounded up to 128 */
    cfg = config(8, 128, 0, 1);
    CHECK(vs_svg_band_tokens(&cfg) == 128); /* exact multiples stay */
    cfg = config(8, 100, 0, 0.5);
    CHECK(vs_svg_band_tokens(&cfg) == 128);
    /* Derived from density: w = N (1 - sqrt(1 - d)). */
    cfg = vs_svg_config_default(21, 1560, 0, 0.25);
    double w = 32760 * (1 - sqrt(0.75));
    CHECK(vs_svg_band_tokens(&cfg) == (int64_t)ceil(w / 128) * 128);
    /* With text, the reference first takes the dense text rows and columns off. */
    cfg = vs_svg_config_default(33, 3600, 256, 0.3);
    double len = 33 * 3600 + 256, d = 0.3 - 2 * 256 / len;
    CHECK(vs_svg_band_tokens(&cfg) == (int64_t)ceil(len * (1 - sqrt(1 - d)) / 128) * 128);
    /* Text alone above the target: band 0 (diagonal blocks only). */
    cfg = vs_svg_config_default(2, 10, 100, 0.1);
    CHECK(vs_svg_band_tokens(&cfg) == 0);
    return 0;
}

TEST(block_mask_matches_token_rule) {
    const struct {
        int f, p, c;
        double m;
    } cases[] = {
        {5, 60, 7, 1}, {5, 60, 7, 0.5}, {8, 64, 0, 1},   {3, 128, 0, 1},   {4, 50, 130, 2}, {1, 300, 0, 1},
        {1, 1, 0, 1},  {2, 3, 1, 1},    {10, 40, 0, 20}, {6, 100, 0, 0.2}, {7, 90, 300, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vs_svg_config cfg = config(cases[c].f, cases[c].p, cases[c].c, cases[c].m);
        int len = cases[c].f * cases[c].p + cases[c].c, nb = (len + 127) / 128;
        for (int i = 0; i < nb; i++)
            for (int j = 0; j < nb; j++)
                CHECK_MSG(vs_svg_block_allowed(&cfg, len, i, j) == brute_block_allowed(&cfg, len, i, j),
                          "case %zu block (%d, %d)", c, i, j);
    }
    return 0;
}

TEST(block_mask_shapes) {
    /* 16 frames of 128 tokens, band 1 frame (128), 200 text tokens: N = 2248, 18 blocks. */
    vs_svg_config cfg = config(16, 128, 200, 1);
    int len = 2248, nb = 18;
    for (int i = 0; i < nb; i++)
        for (int j = 0; j < nb; j++) {
            int text = i >= 16 || j >= 16; /* blocks 16 and 17 hold text */
            int expect = text || j == 0 || abs(i - j) <= 1;
            CHECK_MSG(vs_svg_block_allowed(&cfg, len, i, j) == expect, "block (%d, %d)", i, j);
        }
    /* A band of 129 tokens reaches one token into the block two away. */
    cfg.band_frames = 129.0 / 128;
    CHECK(vs_svg_band_tokens(&cfg) == 256);
    CHECK(vs_svg_block_allowed(&cfg, len, 5, 7) && !vs_svg_block_allowed(&cfg, len, 5, 8));
    /* One frame: the sink is the whole video. */
    cfg = config(1, 1000, 0, 0.1);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            CHECK(vs_svg_block_allowed(&cfg, 1000, i, j));
    /* A band as long as the sequence covers everything. */
    cfg = config(10, 100, 0, 10);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            CHECK(vs_svg_block_allowed(&cfg, 1000, i, j));
    return 0;
}

TEST(block_list_is_well_formed_with_exact_density) {
    const struct {
        int f, p, c;
        double m;
    } cases[] = {
        {5, 60, 7, 1}, {16, 128, 200, 1}, {1, 1, 0, 1}, {10, 100, 0, 10}, {21, 78, 0, 2}, {3, 77, 1, 0.3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vs_svg_config cfg = config(cases[c].f, cases[c].p, cases[c].c, cases[c].m);
        int len = cases[c].f * cases[c].p + cases[c].c, nb = (len + 127) / 128;
        vs_attn_block_list *blocks = test_block_list();
        CHECK_OK(vs_svg_blocks_build(&cfg, len, blocks));
        CHECK(blocks->view.num_q_blocks == nb && blocks->view.num_k_blocks == nb);
        CHECK(blocks->view.row_ptr == blocks->row_ptr && blocks->view.col_idx == blocks->col_idx);
        CHECK_OK(vs_cpu_attn_blocks_check(&blocks->view, len));
        /* Listed blocks are exactly the allowed ones; density counts real block sizes. */
        double elements = 0;
        int e = 0;
        for (int i = 0; i < nb; i++) {
            CHECK(blocks->row_ptr[i] == e);
            for (int j = 0; j < nb; j++) {
                if (!vs_svg_block_allowed(&cfg, len, i, j)) continue;
                CHECK(blocks->col_idx[e++] == j);
                int qi = len - i * 128 < 128 ? len - i * 128 : 128,
                    kj = len - j * 128 < 128 ? len - j * 128 : 128;
                elements += (double)qi * kj;
            }
        }
        CHECK(blocks->row_ptr[nb] == e);
        CHECK(fabs(blocks->density - elements / ((double)len * len)) < 1e-12);
        CHECK(blocks->density > 0 && blocks->density <= 1);
        vs_attn_block_list_free(blocks);
        CHECK(blocks->row_ptr == NULL);
    }
    /* Known numbers: 16 frames x 128, band 1 frame: blocks i-1..i+1 plus block 0. */
    vs_svg_config cfg = config(16, 128, 0, 1);
    vs_attn_block_list *blocks = test_block_list();
    CHECK_OK(vs_svg_blocks_build(&cfg, 2048, blocks));
    CHECK(blocks->row_ptr[16] == 16 * 3 - 2 + 14); /* tridiagonal 46 + sink column for rows 2..15 */
    CHECK(fabs(blocks->density - 60.0 / 256) < 1e-12);
    /* Everything allowed: density exactly 1 even with a short last block. */
    cfg = config(3, 100, 0, 3);
    blocks = test_block_list();
    CHECK_OK(vs_svg_blocks_build(&cfg, 300, blocks));
    CHECK(blocks->row_ptr[3] == 9 && blocks->density == 1.0);
    vs_attn_block_list_free(NULL);
    return 0;
}

TEST(malformed_block_lists_are_rejected) {
    int32_t row_ptr[4] = {0, 2, 3, 4}, col_idx[4] = {0, 1, 1, 2};
    vs_attn_blocks b = {3, 3, row_ptr, col_idx};
    CHECK_OK(vs_cpu_attn_blocks_check(&b, 300));
    CHECK_FAILS(vs_cpu_attn_blocks_check(&b, 500), VS_ERR_SHAPE, "sequence 500 needs 4");
    col_idx[1] = 0;
    CHECK_FAILS(vs_cpu_attn_blocks_check(&b, 300), VS_ERR_INVALID_ARG, "not sorted");
    col_idx[1] = 3;
    CHECK_FAILS(vs_cpu_attn_blocks_check(&b, 300), VS_ERR_INVALID_ARG, "key block 3, outside [0, 3)");
    col_idx[1] = 1;
    row_ptr[2] = 1;
    CHECK_FAILS(vs_cpu_attn_blocks_check(&b, 300), VS_ERR_INVALID_ARG, "decreases at query block 1");
    row_ptr[2] = 3;
    row_ptr[0] = 1;
    CHECK_FAILS(vs_cpu_attn_blocks_check(&b, 300), VS_ERR_INVALID_ARG, "row_ptr[0] is 1");
    return 0;
}

/* ---- CPU attention ------------------------------------------------------------ */

TEST(dense_attention_matches_f64_with_strides) {
    /* Token stride wider than H*D, batch stride wider than N rows: a fused QKV-like layout. */
    int B = 2, H = 3, N = 300, D = 64;
    int64_t sn = H * D + 16, sb = sn * N + 40, total = sb * B;
    unsigned long long rng = 1;
    float *q = vs_test_malloc(sizeof(float) * total), *k = vs_test_malloc(sizeof(float) * total),
          *v = vs_test_malloc(sizeof(float) * total);
    float *o = vs_test_malloc(sizeof(float) * total);
    fill_uniform(q, total, &rng), fill_uniform(k, total, &rng), fill_uniform(v, total, &rng);
    for (int64_t i = 0; i < total; i++)
        q[i] *= 4; /* peaky softmax */
    fill_nan(o, total);
    vs_attn_args a = make_args(B, H, N, D, q, k, v, o);
    a.q_stride_n = a.k_stride_n = a.v_stride_n = a.o_stride_n = sn;
    a.q_stride_b = a.k_stride_b = a.v_stride_b = a.o_stride_b = sb;
    CHECK_OK(vs_cpu_attention(&a));
    double *qd = to_f64(q, total), *kd = to_f64(k, total), *vd = to_f64(v, total);
    double *od = vs_test_malloc(sizeof(double) * total);
    CHECK_OK(vs_cpu_attention_f64(qd, kd, vd, od, &a));
    /* Compare the output rows only (gaps between rows are not written): gathered side by side. */
    const int64_t rows_n = (int64_t)B * N * H * D;
    float *o_rows = vs_test_malloc(sizeof(float) * rows_n);
    double *od_rows = vs_test_malloc(sizeof(double) * rows_n);
    int64_t m = 0;
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < H * D; c++, m++) {
                int64_t i = b * sb + n * sn + c;
                CHECK(isfinite(o[i]));
                o_rows[m] = o[i], od_rows[m] = od[i];
            }
    const double rel = vs_test_rel_l2(o_rows, od_rows, rows_n);
    CHECK_MSG(rel < 1e-5, "rel L2 %g", rel);
    /* The f64 path against the naive reference with every block allowed. */
    uint8_t all[9];
    memset(all, 1, sizeof all);
    double *ref = vs_test_malloc(sizeof(double) * total);
    naive_masked(&a, qd, kd, vd, all, ref);
    for (int b = 0; b < B; b++)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < H * D; c++)
                CHECK(fabs(od[b * sb + n * sn + c] - ref[b * sb + n * sn + c]) < 1e-12);
    return 0;
}

TEST(sparse_attention_is_dense_restricted_to_the_mask) {
    /* 5 blocks (last one short); query block 2 attends nothing and must give zeros. */
    int B = 1, H = 2, N = 600, D = 128, nb = 5;
    int32_t row_ptr[6] = {0, 2, 5, 5, 6, 9}, col_idx[9] = {0, 4, 0, 1, 3, 2, 0, 3, 4};
    vs_attn_blocks blocks = {nb, nb, row_ptr, col_idx};
    uint8_t mask[25] = {0};
    for (int i = 0; i < nb; i++)
        for (int e = row_ptr[i]; e < row_ptr[i + 1]; e++)
            mask[i * nb + col_idx[e]] = 1;
    int64_t total = (int64_t)B * N * H * D;
    unsigned long long rng = 7;
    float *q = vs_test_malloc(sizeof(float) * total), *k = vs_test_malloc(sizeof(float) * total),
          *v = vs_test_malloc(sizeof(float) * total);
    float *o = vs_test_malloc(sizeof(float) * total);
    fill_uniform(q, total, &rng), fill_uniform(k, total, &rng), fill_uniform(v, total, &rng);
    fill_nan(o, total);
    vs_attn_args a = make_args(B, H, N, D, q, k, v, o);
    a.blocks = &blocks;
    CHECK_OK(vs_cpu_attention(&a));
    CHECK(all_finite(o, total));
    double *qd = to_f64(q, total), *kd = to_f64(k, total), *vd = to_f64(v, total);
    double *ref = vs_test_malloc(sizeof(double) * total), *od = vs_test_malloc(sizeof(double) * total);
    naive_masked(&a, qd, kd, vd, mask, ref);
    double rel = vs_test_rel_l2(o, ref, total);
    CHECK_MSG(rel < 1e-5, "rel L2 %g", rel);
    for (int n = 256; n < 384; n++)
        for (int c = 0; c < H * D; c++)
            CHECK(o[n * H * D + c] == 0.0f);
    CHECK_OK(vs_cpu_attention_f64(qd, kd, vd, od, &a));
    for (int64_t i = 0; i < total; i++)
        CHECK(fabs(od[i] - ref[i]) < 1e-12);
    /* Bad arguments are refused with a message, not a crash. */
    col_idx[1] = 5;
    CHECK_FAILS(vs_cpu_attention(&a), VS_ERR_INVALID_ARG, "key block 5");
    col_idx[1] = 4;
    a.dtype = VS_BF16;
    CHECK_FAILS(vs_cpu_attention(&a), VS_ERR_UNSUPPORTED, "f32");
    a.dtype = VS_F32;
    uint8_t bad_layout[2] = {0, 7};
    a.head_layout = bad_layout;
    a.frames = 6, a.tokens_per_frame = 100;
    CHECK_FAILS(vs_cpu_attention(&a), VS_ERR_INVALID_ARG, "head_layout[1] = 7");
    a.head_layout = NULL;
    a.head_dim = 96;
    CHECK_FAILS(vs_cpu_attention(&a), VS_ERR_UNSUPPORTED, "head_dim 96");
    return 0;
}

TEST(token_major_layout_equals_explicit_permutation) {
    /* 7 frames x 90 tokens + 50 text tokens = 680 (6 blocks, last short); heads 0 and 3 temporal. */
    int B = 2, H = 2, F = 7, P = 90, C = 50, N = F * P + C, D = 64;
    vs_svg_config cfg = config(F, P, C, 1.5);
    vs_attn_block_list *blocks = test_block_list();
    CHECK_OK(vs_svg_blocks_build(&cfg, N, blocks));
    CHECK(blocks->density < 1);
    int64_t total = (int64_t)B * N * H * D, row = H * D;
    unsigned long long rng = 11;
    float *q = vs_test_malloc(sizeof(float) * total), *k = vs_test_malloc(sizeof(float) * total),
          *v = vs_test_malloc(sizeof(float) * total);
    float *o = vs_test_malloc(sizeof(float) * total), *pq = vs_test_malloc(sizeof(float) * total),
          *pk = vs_test_malloc(sizeof(float) * total);
    float *pv = vs_test_malloc(sizeof(float) * total), *po = vs_test_malloc(sizeof(float) * total);
    fill_uniform(q, total, &rng), fill_uniform(k, total, &rng), fill_uniform(v, total, &rng);
    fill_nan(o, total), fill_nan(po, total);
    uint8_t layout[4] = {VS_LAYOUT_TOKEN_MAJOR, VS_LAYOUT_FRAME_MAJOR, VS_LAYOUT_FRAME_MAJOR,
                         VS_LAYOUT_TOKEN_MAJOR};
    vs_attn_args a = make_args(B, H, N, D, q, k, v, o);
    a.blocks = &blocks->view;
    a.head_layout = layout;
    a.frames = F, a.tokens_per_frame = P;
    CHECK_OK(vs_cpu_attention(&a));
    CHECK(all_finite(o, total));
    /* Permute each head's rows by hand: position r of the head reads stored row vs_attn_row(r). */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int r = 0; r < N; r++) {
                int64_t src = b * N * row + vs_attn_row(r, layout[b * H + h], F, P) * row + h * D;
                int64_t dst = b * N * row + (int64_t)r * row + h * D;
                memcpy(pq + dst, q + src, sizeof(float) * D);
                memcpy(pk + dst, k + src, sizeof(float) * D);
                memcpy(pv + dst, v + src, sizeof(float) * D);
            }
    vs_attn_args p = make_args(B, H, N, D, pq, pk, pv, po);
    p.blocks = &blocks->view;
    CHECK_OK(vs_cpu_attention(&p));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int r = 0; r < N; r++) {
                int64_t stored = b * N * row + vs_attn_row(r, layout[b * H + h], F, P) * row + h * D;
                int64_t permuted = b * N * row + (int64_t)r * row + h * D;
                for (int d = 0; d < D; d++)
                    CHECK_MSG(o[stored + d] == po[permuted + d], "b %d h %d position %d", b, h, r);
            }
    /* The temporal heads really differ from the spatial reading of the same data. */
    float *spatial = vs_test_malloc(sizeof(float) * total);
    a.out = spatial;
    a.head_layout = NULL;
    CHECK_OK(vs_cpu_attention(&a));
    CHECK(spatial[0] != o[0] && spatial[D] == o[D]); /* (b0, h0) temporal, (b0, h1) spatial */
    return 0;
}

/* ---- profiling ---------------------------------------------------------------- */

TEST(sampled_rows_are_a_pure_counter_function) {
    CHECK(vs_svg_mix64(0) == 0xe220a8397b1dcdafull); /* splitmix64's first output from state 0 */
    vs_svg_config cfg = vs_svg_config_default(21, 1560, 0, 0.25);
    int counts[4] = {0};
    for (int i = 0; i < 64; i++) {
        int r = vs_svg_sample_row(&cfg, 32760, 5, i);
        CHECK(r >= 0 && r < 10000);
        CHECK(r == (int)(vs_svg_mix64(((uint64_t)5 << 32) | (uint64_t)i) % 10000));
        counts[r * 4 / 10000]++;
    }
    for (int i = 0; i < 4; i++)
        CHECK(counts[i] > 4); /* spread over the window */
    CHECK(vs_svg_sample_row(&cfg, 32760, 5, 0) != vs_svg_sample_row(&cfg, 32760, 6, 0));
    cfg.seed = 42;
    CHECK(vs_svg_sample_row(&cfg, 32760, 5, 0) == (int)(vs_svg_mix64(42ull ^ ((uint64_t)5 << 32)) % 10000));
    /* Short sequences: rows come from the video tokens only. */
    cfg = vs_svg_config_default(3, 10, 20, 0.5);
    CHECK(vs_svg_sample_range(&cfg, 50) == 30);
    for (int i = 0; i < 100; i++)
        CHECK(vs_svg_sample_row(&cfg, 50, 0, i) < 30);
    return 0;
}

/* Head 0: queries and keys share a per-frame direction (attention stays in
 * the frame: spatial). Head 1: they share a per-position direction (attention
 * follows one place across frames: temporal). Values are random. */
static void structured_qkv(int F, int P, int C, int D, float *q, float *k, float *v,
                           unsigned long long *rng) {
    int N = F * P + C, H = 2;
    float *frame_dir = vs_test_malloc(sizeof(float) * F * D), *place_dir = vs_test_malloc(sizeof(float) * P * D);
    fill_uniform(frame_dir, (int64_t)F * D, rng);
    fill_uniform(place_dir, (int64_t)P * D, rng);
    fill_uniform(v, (int64_t)N * H * D, rng);
    for (int n = 0; n < N; n++)
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++) {
                const float *dir = n >= F * P ? NULL
                                   : h == 0   ? frame_dir + (n / P) * D
                                              : place_dir + (n % P) * D;
                float shared = dir ? 2.5f * dir[d] : 0;
                int64_t i = ((int64_t)n * H + h) * D + d;
                q[i] = shared + 0.3f * (float)(2 * vs_test_uniform(rng) - 1);
                k[i] = shared + 0.3f * (float)(2 * vs_test_uniform(rng) - 1);
            }
}

TEST(profiling_tells_spatial_from_temporal_heads) {
    const struct {
        int f, p, c, d;
        double m;
    } cases[] = {{8, 128, 0, 64, 1}, {6, 150, 37, 128, 1}, {12, 64, 0, 64, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int F = cases[c].f, P = cases[c].p, C = cases[c].c, D = cases[c].d, N = F * P + C, H = 2;
        vs_svg_config cfg = config(F, P, C, cases[c].m);
        vs_attn_block_list *blocks = test_block_list();
        CHECK_OK(vs_svg_blocks_build(&cfg, N, blocks));
        int64_t total = (int64_t)N * H * D;
        float *q = vs_test_malloc(sizeof(float) * total), *k = vs_test_malloc(sizeof(float) * total),
              *v = vs_test_malloc(sizeof(float) * total);
        unsigned long long rng = 100 + c;
        structured_qkv(F, P, C, D, q, k, v, &rng);
        vs_attn_args a = make_args(1, H, N, D, q, k, v, NULL);
        uint8_t layout[2] = {9, 9};
        float mse_s[2] = {NAN, NAN}, mse_t[2] = {NAN, NAN};
        CHECK_OK(vs_svg_profile_cpu(&a, &cfg, &blocks->view, layout, mse_s, mse_t));
        CHECK_MSG(layout[0] == VS_LAYOUT_FRAME_MAJOR && layout[1] == VS_LAYOUT_TOKEN_MAJOR,
                  "case %zu: layouts %d %d, mse spatial %g %g temporal %g %g", c, layout[0], layout[1],
                  mse_s[0], mse_s[1], mse_t[0], mse_t[1]);
        CHECK(mse_s[0] >= 0 && mse_s[0] * 4 < mse_t[0] && mse_t[1] >= 0 && mse_t[1] * 4 < mse_s[1]);
        /* Layouts only: the MSE outputs are optional. */
        CHECK_OK(vs_svg_profile_cpu(&a, &cfg, &blocks->view, layout, NULL, NULL));
        CHECK(layout[0] == VS_LAYOUT_FRAME_MAJOR && layout[1] == VS_LAYOUT_TOKEN_MAJOR);
    }
    return 0;
}

TEST(profiling_matches_a_direct_computation) {
    /* One head; recompute the MSEs from vs_cpu_attention_f64 over the sampled rows. */
    int F = 12, P = 60, C = 7, N = F * P + C, D = 64, H = 1;
    vs_svg_config cfg = config(F, P, C, 1);
    cfg.samples = 16;
    cfg.seed = 3;
    vs_attn_block_list *blocks = test_block_list();
    CHECK_OK(vs_svg_blocks_build(&cfg, N, blocks));
    int64_t total = (int64_t)N * H * D;
    unsigned long long rng = 5;
    float *q = vs_test_malloc(sizeof(float) * total), *k = vs_test_malloc(sizeof(float) * total),
          *v = vs_test_malloc(sizeof(float) * total);
    fill_uniform(q, total, &rng), fill_uniform(k, total, &rng), fill_uniform(v, total, &rng);
    for (int64_t i = 0; i < total; i++)
        q[i] *= 6;
    double *qd = to_f64(q, total), *kd = to_f64(k, total), *vd = to_f64(v, total);
    double *exact = vs_test_malloc(sizeof(double) * total), *sp = vs_test_malloc(sizeof(double) * total);
    double *tp = vs_test_malloc(sizeof(double) * total);
    vs_attn_args a = make_args(1, H, N, D, q, k, v, NULL);
    a.frames = F, a.tokens_per_frame = P;
    CHECK_OK(vs_cpu_attention_f64(qd, kd, vd, exact, &a));
    a.blocks = &blocks->view;
    CHECK_OK(vs_cpu_attention_f64(qd, kd, vd, sp, &a));
    uint8_t temporal = VS_LAYOUT_TOKEN_MAJOR;
    a.head_layout = &temporal;
    CHECK_OK(vs_cpu_attention_f64(qd, kd, vd, tp, &a));
    double err_s = 0, err_t = 0;
    for (int i = 0; i < cfg.samples; i++) {
        int r = vs_svg_sample_row(&cfg, N, 0, i);
        for (int d = 0; d < D; d++) {
            err_s += (sp[r * D + d] - exact[r * D + d]) * (sp[r * D + d] - exact[r * D + d]);
            err_t += (tp[r * D + d] - exact[r * D + d]) * (tp[r * D + d] - exact[r * D + d]);
        }
    }
    err_s /= cfg.samples * D, err_t /= cfg.samples * D;
    uint8_t layout;
    float mse_s, mse_t;
    a.blocks = NULL, a.head_layout = NULL;
    CHECK_OK(vs_svg_profile_cpu(&a, &cfg, &blocks->view, &layout, &mse_s, &mse_t));
    CHECK_MSG(fabs(mse_s - err_s) <= 1e-6 * err_s && fabs(mse_t - err_t) <= 1e-6 * err_t,
              "%g vs %g, %g vs %g", mse_s, err_s, mse_t, err_t);
    CHECK(err_s > 0 && err_t > 0 &&
          layout == (err_t < err_s ? VS_LAYOUT_TOKEN_MAJOR : VS_LAYOUT_FRAME_MAJOR));
    return 0;
}

TEST(profiling_degenerate_and_bad_input) {
    /* Every block allowed: both errors are zero and the tie goes to spatial. */
    int F = 3, P = 100, N = 300, D = 64;
    vs_svg_config cfg = config(F, P, 0, 3);
    vs_attn_block_list *blocks = test_block_list();
    CHECK_OK(vs_svg_blocks_build(&cfg, N, blocks));
    int64_t total = (int64_t)N * D;
    unsigned long long rng = 9;
    float *x = vs_test_malloc(sizeof(float) * total);
    fill_uniform(x, total, &rng);
    vs_attn_args a = make_args(1, 1, N, D, x, x, x, NULL);
    uint8_t layout = 9;
    float mse_s = NAN, mse_t = NAN;
    CHECK_OK(vs_svg_profile_cpu(&a, &cfg, &blocks->view, &layout, &mse_s, &mse_t));
    CHECK(layout == VS_LAYOUT_FRAME_MAJOR && mse_s == 0 && mse_t == 0);
    /* Wrong sizes and missing arguments. */
    vs_svg_config other = config(4, 100, 0, 1);
    CHECK_FAILS(vs_svg_profile_cpu(&a, &other, &blocks->view, &layout, NULL, NULL), VS_ERR_SHAPE,
                "sequence has 300");
    CHECK_FAILS(vs_svg_profile_cpu(&a, &cfg, &blocks->view, NULL, NULL, NULL), VS_ERR_INVALID_ARG,
                "head_layout_out");
    a.seq_len = 400;
    cfg = config(4, 100, 0, 3);
    CHECK_FAILS(vs_svg_profile_cpu(&a, &cfg, &blocks->view, &layout, NULL, NULL), VS_ERR_SHAPE, "needs 4");
    a.seq_len = 300;
    a.dtype = VS_F16;
    CHECK_FAILS(vs_svg_profile_cpu(&a, &cfg, &blocks->view, &layout, NULL, NULL), VS_ERR_UNSUPPORTED, "f32");
    return 0;
}

TEST(band_rows_of_a_wan_mask) {
    /* Wan 1.3B 480p at density 0.15: sink = blocks 0..12 (k < 1560), band 2560 tokens = 20 blocks each side
     * (a block 20 away still holds a pair 2433 apart), 255 full blocks and a short one; every row is a band
     * row (those near the start with their band from the sink on, those near the end clipped by it). */
    vs_svg_config cfg = vs_svg_config_default(21, 1560, 0, 0.15);
    const int N = 32760;
    vs_attn_block_list *b = test_block_list();
    CHECK_OK(vs_svg_blocks_build(&cfg, N, b));
    vs_attn_band band = vs_attn_find_band(&b->view);
    CHECK_MSG(band.sink == 13 && band.half == 20 && band.first == 0 && band.count == 256 && band.tail == 256,
              "band first %d count %d sink %d half %d tail %d", band.first, band.count, band.sink, band.half,
              band.tail);
    for (int i = band.first; i < band.first + band.count; i++)
        for (int j = 0; j < b->view.num_k_blocks; j++)
            CHECK(vs_svg_block_allowed(&cfg, N, i, j) == (j < band.sink || abs(j - i) <= band.half));

    /* The rest of the list without the rows whose band is whole (34 .. 234): those rows empty, every other row
     * as before. */
    vs_attn_block_list *rest = test_block_list();
    band.first = 34, band.count = 201;
    CHECK_OK(vs_attn_blocks_without_rows(&b->view, N, band.first, band.count, rest));
    double kept = 0;
    for (int i = 0; i < b->view.num_q_blocks; i++) {
        const int n = rest->row_ptr[i + 1] - rest->row_ptr[i];
        if (i >= band.first && i < band.first + band.count) {
            CHECK(n == 0);
            continue;
        }
        CHECK(n == b->row_ptr[i + 1] - b->row_ptr[i]);
        CHECK(!memcmp(rest->col_idx + rest->row_ptr[i], b->col_idx + b->row_ptr[i], sizeof(int32_t) * (size_t)n));
        kept += n;
    }
    const double band_elements = (double)band.count * (band.sink + 2 * band.half + 1) * 128.0 * 128.0;
    CHECK(fabs(rest->density + band_elements / ((double)N * N) - b->density) < 1e-12);
    CHECK(kept > 0);

    /* Text after the video (16 frames of 128 tokens, 200 text tokens: blocks 16 and 17) is the dense tail:
     * every video row is a band row, every key block of the text rows is kept. */
    cfg = config(16, 128, 200, 1);
    b = test_block_list();
    CHECK_OK(vs_svg_blocks_build(&cfg, 2248, b));
    band = vs_attn_find_band(&b->view);
    CHECK_MSG(band.first == 0 && band.count == 16 && band.sink == 1 && band.half == 1 && band.tail == 16,
              "band first %d count %d sink %d half %d tail %d", band.first, band.count, band.sink, band.half,
              band.tail);
    for (int i = 0; i < 18; i++)
        for (int j = 0; j < 18; j++) {
            const int in_band = i < 16 && j >= vs_attn_band_lo(&band, i) && j <= vs_attn_band_hi(&band, i);
            CHECK(vs_svg_block_allowed(&cfg, 2248, i, j) == (i >= 16 || j < band.sink || in_band || j >= band.tail));
        }
    return 0;
}

/* A CSR of nb rows from rows[i] (each ended by -1). */
static vs_attn_blocks csr_of(int nb, const int32_t rows[][16], int32_t *row_ptr, int32_t *col_idx) {
    int n = 0;
    for (int i = 0; i < nb; i++) {
        row_ptr[i] = n;
        for (int e = 0; rows[i][e] >= 0; e++) col_idx[n++] = rows[i][e];
    }
    row_ptr[nb] = n;
    return (vs_attn_blocks){nb, nb, row_ptr, col_idx};
}

TEST(band_rows_of_a_hand_made_list) {
    /* 10 blocks. Rows 2-4: sink 1, half 1 (row 2's band starts at the sink); rows 6-9: sink 2, half 0 (the
     * longer run); row 5 is no band row of either. */
    int32_t row_ptr[13], col_idx[160];
    const int32_t rows[10][16] = {{0, -1}, {0, 1, -1}, {0, 1, 2, 3, -1}, {0, 2, 3, 4, -1}, {0, 3, 4, 5, -1},
                                  {0, 1, 2, -1}, {0, 1, 6, -1}, {0, 1, 7, -1}, {0, 1, 8, -1}, {0, 1, 9, -1}};
    vs_attn_blocks b = csr_of(10, rows, row_ptr, col_idx);
    vs_attn_band band = vs_attn_find_band(&b);
    CHECK_MSG(band.first == 6 && band.count == 4 && band.sink == 2 && band.half == 0 && band.tail == 10,
              "first %d count %d", band.first, band.count);

    /* 12 blocks, the last two dense columns (text after the video): every video row is a band row, its band
     * clipped by the sink (rows 0-1) or the tail (row 9); the text rows (10, 11) attend everything. */
    const int32_t with_text[12][16] = {
        {0, 1, 10, 11, -1},       {0, 1, 2, 10, 11, -1},    {0, 1, 2, 3, 10, 11, -1}, {0, 2, 3, 4, 10, 11, -1},
        {0, 3, 4, 5, 10, 11, -1}, {0, 4, 5, 6, 10, 11, -1}, {0, 5, 6, 7, 10, 11, -1}, {0, 6, 7, 8, 10, 11, -1},
        {0, 7, 8, 9, 10, 11, -1}, {0, 8, 9, 10, 11, -1},
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -1}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -1}};
    b = csr_of(12, with_text, row_ptr, col_idx);
    band = vs_attn_find_band(&b);
    CHECK_MSG(band.first == 0 && band.count == 10 && band.sink == 1 && band.half == 1 && band.tail == 10,
              "first %d count %d sink %d half %d tail %d", band.first, band.count, band.sink, band.half, band.tail);
    CHECK(vs_attn_band_lo(&band, 0) == 1 && vs_attn_band_hi(&band, 0) == 1);
    CHECK(vs_attn_band_lo(&band, 9) == 8 && vs_attn_band_hi(&band, 9) == 9);
    /* Row 3 of 12 blocks with a tail of 3 (a band row), with a gap in the tail, with a tail longer than the
     * path copies (12 / 8 + 2 blocks): band rows only in the first. */
    const int32_t tails[3][16] = {{0, 2, 3, 4, 9, 10, 11, -1}, {0, 2, 3, 4, 9, 11, -1}, {0, 2, 3, 4, 8, 9, 10, 11, -1}};
    for (int t = 0; t < 3; t++) {
        int32_t one_row[4][16] = {{0, -1}, {0, -1}, {0, -1}};
        memcpy(one_row[3], tails[t], sizeof tails[t]);
        b = csr_of(4, (const int32_t(*)[16])one_row, row_ptr, col_idx);
        b.num_k_blocks = 12;
        band = vs_attn_find_band(&b);
        CHECK_MSG(band.count == (t == 0), "tail case %d: %d band rows", t, band.count);
    }
    return 0;
}

RUN_TESTS(T(config_validation), T(band_width_from_frames_and_density), T(block_mask_matches_token_rule),
          T(block_mask_shapes), T(block_list_is_well_formed_with_exact_density),
          T(malformed_block_lists_are_rejected), T(dense_attention_matches_f64_with_strides),
          T(sparse_attention_is_dense_restricted_to_the_mask),
          T(token_major_layout_equals_explicit_permutation), T(sampled_rows_are_a_pure_counter_function),
          T(profiling_tells_spatial_from_temporal_heads), T(profiling_matches_a_direct_computation),
          T(profiling_degenerate_and_bad_input), T(band_rows_of_a_wan_mask), T(band_rows_of_a_hand_made_list))
