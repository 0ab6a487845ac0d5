/* Every op of src/ops/ops.h on every backend this build and machine have,
 * table-driven in the spirit of llama.cpp's test-backend-ops. A row names an
 * op, its sizes (ragged where the op allows: not multiples of tile or
 * vector widths), its flags and its tolerances. Each row runs on the CPU
 * and, when the build has CUDA and a GPU is present, on CUDA: fresh random
 * inputs (a new seed per run, printed; VS_TEST_SEED repeats one), rounded to
 * the operand's dtype on that backend, outputs poisoned with NaN so every
 * element must be written, compared by relative L2 error against a plain
 * double-precision reference computed here from the same rounded inputs.
 * Rows a backend does not support (its `supports` says why) are skipped and
 * counted.
 *
 * Adding a test of an existing op is one row in `rows`; a new op adds a
 * `kind` (its operands, its call, its reference) as well. */
#include <stdint.h>
#include <time.h>

#include "backend/backend.h"
#include "check.h"
#include "core/dtype.h"
#include "core/hash.h"
#include "core/status.h"
#include "ops/ops.h"

enum { MAX_OPERANDS = VS_OP_MAX_TENSORS };
typedef enum { ABSENT = 0, IN, OUT, INOUT, SCRATCH } role;

typedef struct {
    vs_op_id op;
    int64_t d[7];  /* sizes, per op (see its kind) */
    int p[3];      /* flags, per op */
    double tol[2]; /* rel L2 tolerance: F32 activations, BF16 activations (0: 1e-5, 1e-2) */
} row;

typedef struct {
    role role;
    vs_dtype dtype;
    int ndim;
    int64_t shape[5];
    double lo, hi; /* uniform inputs; integer operands draw from [lo, hi) */
    int64_t
        row_stride; /* 0: contiguous; else a 2-D view whose rows lie this far apart (a modulation table) */
} operand;

typedef struct {
    const row *r;
    const vs_backend *be;
    operand o[MAX_OPERANDS];
    double *x[MAX_OPERANDS]; /* host values: inputs as rounded, outputs as the reference computes them */
} problem;

typedef struct {
    void (*plan)(problem *pb);
    vs_status (*run)(const problem *pb, vs_tensor *const *t);
    void (*reference)(problem *pb);
} kind;

static void set(problem *pb, int i, role ro, vs_dtype dtype, int ndim, const int64_t *shape, double lo,
                double hi) {
    operand *o = &pb->o[i];
    o->role = ro, o->dtype = dtype, o->ndim = ndim, o->lo = lo, o->hi = hi;
    for (int k = 0; k < ndim; k++)
        o->shape[k] = shape[k];
}
#define SET(pb, i, ro, dt, lo, hi, ...)                                                                      \
    set(pb, i, ro, dt, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__},  \
        lo, hi)

static int64_t count(const operand *o) {
    int64_t n = 1;
    for (int k = 0; k < o->ndim; k++)
        n *= o->shape[k];
    return n;
}

static vs_dtype act(const problem *pb) {
    return pb->be->activations;
}

/* A [B, dim] modulation operand read as the model reads it: a view into a [B, 6, dim] table. */
static void set_modulation(problem *pb, int i, int64_t batch, int64_t dim) {
    SET(pb, i, IN, VS_F32, -1, 1, batch, dim);
    pb->o[i].row_stride = 6 * dim;
}
static vs_tensor *opt(vs_tensor *const *t, int i) {
    return t[i];
}

/* ---- image layouts ------------------------------------------------------------------- */

/* [N, C, H, W] channel-first or [N, H, W, C] channels-last, as the backend takes images. */
static void set_image(problem *pb, int i, role ro, int64_t n, int64_t c, int64_t h, int64_t w) {
    if (pb->be->channels_last)
        SET(pb, i, ro, act(pb), -1, 1, n, h, w, c);
    else
        SET(pb, i, ro, act(pb), -1, 1, n, c, h, w);
}
static int64_t img(const problem *pb, int64_t c_, int64_t h_, int64_t w_, int64_t n, int64_t c, int64_t y,
                   int64_t x) {
    return pb->be->channels_last ? ((n * h_ + y) * w_ + x) * c_ + c : ((n * c_ + c) * h_ + y) * w_ + x;
}

/* ---- the kinds ------------------------------------------------------------------------- */

static double gelu_tanh(double x) {
    return 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/* linear: d = {rows, in, out}; p = {bias, epilogue (0 none, 1 GELU-tanh, 2 SiLU), F32 x and y (few-rows path)} */
static void linear_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    const vs_dtype io = pb->r->p[2] ? VS_F32 : act(pb);
    SET(pb, 0, OUT, io, 0, 0, d[0], d[2]);
    SET(pb, 1, IN, io, -1, 1, d[0], d[1]);
    SET(pb, 2, IN, act(pb), -0.5, 0.5, d[2], d[1]);
    if (pb->r->p[0]) SET(pb, 3, IN, act(pb), -1, 1, d[2]);
}
static vs_status linear_run(const problem *pb, vs_tensor *const *t) {
    static const vs_epilogue epilogues[3] = {VS_EPILOGUE_NONE, VS_EPILOGUE_GELU_TANH, VS_EPILOGUE_SILU};
    return vs_op_linear(t[0], t[1], t[2], opt(t, 3), epilogues[pb->r->p[1]]);
}
static void linear_ref(problem *pb) {
    const int64_t rows = pb->r->d[0], in = pb->r->d[1], out = pb->r->d[2];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++) {
            double s = pb->x[3] ? pb->x[3][o] : 0;
            for (int64_t i = 0; i < in; i++)
                s += pb->x[1][r * in + i] * pb->x[2][o * in + i];
            pb->x[0][r * out + o] = pb->r->p[1] == 1 ? gelu_tanh(s) : pb->r->p[1] == 2 ? s / (1 + exp(-s)) : s;
        }
}

/* linear_residual: d = {B, N, in, out}; p = {bias, gate} */
static void linear_residual_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    SET(pb, 0, INOUT, VS_F32, -1, 1, d[0], d[1], d[3]);
    SET(pb, 1, IN, act(pb), -1, 1, d[0], d[1], d[2]);
    SET(pb, 2, IN, act(pb), -0.5, 0.5, d[3], d[2]);
    if (pb->r->p[0]) SET(pb, 3, IN, act(pb), -1, 1, d[3]);
    if (pb->r->p[1]) set_modulation(pb, 4, d[0], d[3]);
}
static vs_status linear_residual_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_linear_residual(t[0], t[1], t[2], opt(t, 3), opt(t, 4));
}
static void linear_residual_ref(problem *pb) {
    const int64_t B = pb->r->d[0], N = pb->r->d[1], in = pb->r->d[2], out = pb->r->d[3];
    for (int64_t r = 0; r < B * N; r++)
        for (int64_t o = 0; o < out; o++) {
            double s = pb->x[3] ? pb->x[3][o] : 0;
            for (int64_t i = 0; i < in; i++)
                s += pb->x[1][r * in + i] * pb->x[2][o * in + i];
            pb->x[0][r * out + o] += s * (pb->x[4] ? pb->x[4][r / N * out + o] : 1);
        }
}

/* layernorm_modulate: d = {B, N, dim}; p = {weight and bias, shift and scale} */
/* layernorm_modulate: d = {B, N, dim}; p = {weight and bias, modulation, FP8 codes: 0 none, 1 with y, 2
 * alone} */
static void layernorm_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    if (pb->r->p[2] != 2) SET(pb, 0, OUT, act(pb), 0, 0, d[0], d[1], d[2]);
    SET(pb, 1, IN, VS_F32, -2, 3, d[0], d[1], d[2]);
    if (pb->r->p[0]) SET(pb, 2, IN, VS_F32, 0.5, 1.5, d[2]), SET(pb, 3, IN, VS_F32, -1, 1, d[2]);
    if (pb->r->p[1]) set_modulation(pb, 4, d[0], d[2]), set_modulation(pb, 5, d[0], d[2]);
    if (pb->r->p[2])
        SET(pb, 6, OUT, VS_F8E4M3, 0, 0, d[0], d[1], d[2]), SET(pb, 7, OUT, VS_F32, 0, 0, d[0] * d[1]);
}
static vs_status layernorm_run(const problem *pb, vs_tensor *const *t) {
    if (pb->r->p[2])
        return vs_op_layernorm_modulate_fp8(opt(t, 0), t[6], t[7], t[1], opt(t, 2), opt(t, 3), opt(t, 4),
                                            opt(t, 5), 1e-6f);
    return vs_op_layernorm_modulate(t[0], t[1], opt(t, 2), opt(t, 3), opt(t, 4), opt(t, 5), 1e-6f);
}
/* Row r of `cols` values quantised as vs_op_quantize_fp8 does (codes decoded into q, the scale into *scale).
 */
static void quantize_row_ref(const double *x, int64_t cols, double *q, double *scale) {
    double amax = 0;
    for (int64_t i = 0; i < cols; i++)
        amax = fmax(amax, fabs(x[i]));
    const float inv = amax > 0 ? 448.0f / (float)amax : 1.0f;
    *scale = amax > 0 ? (float)amax / 448.0f : 1.0f;
    for (int64_t i = 0; i < cols; i++)
        q[i] = vs_f8e4m3_to_f32(vs_f32_to_f8e4m3((float)x[i] * inv));
}
static void layernorm_ref(problem *pb) {
    const int64_t N = pb->r->d[1], dim = pb->r->d[2], rows = pb->r->d[0] * N;
    double *y_row = vs_test_malloc((size_t)dim * sizeof *y_row);
    for (int64_t r = 0; r < rows; r++) {
        const double *x = pb->x[1] + r * dim;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < dim; i++)
            mean += x[i] / dim;
        for (int64_t i = 0; i < dim; i++)
            var += (x[i] - mean) * (x[i] - mean) / dim;
        for (int64_t i = 0; i < dim; i++) {
            double y = (x[i] - mean) / sqrt(var + 1e-6);
            if (pb->x[2]) y = y * pb->x[2][i] + pb->x[3][i];
            if (pb->x[4]) y = y * (1 + pb->x[5][r / N * dim + i]) + pb->x[4][r / N * dim + i];
            y_row[i] = act(pb) == VS_BF16 ? vs_bf16_to_f32(vs_f32_to_bf16((float)y))
                                          : y; /* as the device stores it */
            if (pb->x[0]) pb->x[0][r * dim + i] = y;
        }
        if (pb->x[6]) quantize_row_ref(y_row, dim, pb->x[6] + r * dim, &pb->x[7][r]);
    }
}

/* rms over a row of n values */
static double rms(const double *x, int64_t n, double eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
        ss += x[i] * x[i];
    return sqrt(ss / n + eps);
}

/* qk_norm_rope: d = {B, N, heads, head_dim}; p = {rope, norm: 0 RMS over the row, 1 none, 2 RMS over each
 * head, 3 LayerNorm over each head (weight and bias)} */
enum { NORM_ROW, NORM_NONE, NORM_HEAD, NORM_LAYER };
static void qk_norm_rope_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    const int norm = pb->r->p[1];
    if (norm == NORM_LAYER) /* off-centre values: the mean subtraction counts */
        SET(pb, 0, INOUT, act(pb), -1, 3, d[0], d[1], d[2] * d[3]);
    else
        SET(pb, 0, INOUT, act(pb), -2, 2, d[0], d[1], d[2] * d[3]);
    if (norm != NORM_NONE) SET(pb, 1, IN, VS_F32, 0.5, 1.5, norm == NORM_ROW ? d[2] * d[3] : d[3]);
    if (norm == NORM_LAYER) SET(pb, 2, IN, VS_F32, -1, 1, d[3]);
    if (pb->r->p[0])
        SET(pb, 3, IN, VS_F32, -1, 1, d[1], d[3] / 2), SET(pb, 4, IN, VS_F32, -1, 1, d[1], d[3] / 2);
}
static vs_status qk_norm_rope_run(const problem *pb, vs_tensor *const *t) {
    return vs_op_qk_norm_rope(t[0], opt(t, 1), opt(t, 2), opt(t, 3), opt(t, 4), (int)pb->r->d[2], 1e-6f);
}
static void qk_norm_rope_ref(problem *pb) {
    const int64_t N = pb->r->d[1], H = pb->r->d[2], D = pb->r->d[3], dim = H * D;
    for (int64_t r = 0; r < pb->r->d[0] * N; r++) {
        double *x = pb->x[0] + r * dim;
        if (pb->r->p[1] == NORM_HEAD)
            for (int64_t h = 0; h < H; h++) {
                const double inv = 1 / rms(x + h * D, D, 1e-6);
                for (int64_t i = 0; i < D; i++)
                    x[h * D + i] *= inv * pb->x[1][i];
            }
        else if (pb->r->p[1] == NORM_ROW) {
            const double inv = 1 / rms(x, dim, 1e-6);
            for (int64_t i = 0; i < dim; i++)
                x[i] *= inv * pb->x[1][i];
        } else if (pb->r->p[1] == NORM_LAYER)
            for (int64_t h = 0; h < H; h++) {
                double *v = x + h * D, mean = 0, var = 0;
                for (int64_t i = 0; i < D; i++)
                    mean += v[i] / D;
                for (int64_t i = 0; i < D; i++)
                    var += (v[i] - mean) * (v[i] - mean) / D;
                for (int64_t i = 0; i < D; i++)
                    v[i] = (v[i] - mean) / sqrt(var + 1e-6) * pb->x[1][i] + pb->x[2][i];
            }
        if (!pb->x[3]) continue;
        for (int64_t h = 0; h < H; h++)
            for (int64_t j = 0; j < D / 2; j++) {
                double c = pb->x[3][r % N * (D / 2) + j], s = pb->x[4][r % N * (D / 2) + j];
                double a = x[h * D + 2 * j], b = x[h * D + 2 * j + 1];
                x[h * D + 2 * j] = a * c - b * s;
                x[h * D + 2 * j + 1] = a * s + b * c;
            }
    }
}

/* rmsnorm: d = {rows, dim}; p = {F32 y} */
static void rmsnorm_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    SET(pb, 0, OUT, pb->r->p[0] ? VS_F32 : act(pb), 0, 0, d[0], d[1]);
    SET(pb, 1, IN, VS_F32, -2, 2, d[0], d[1]);
    SET(pb, 2, IN, VS_F32, 0.5, 1.5, d[1]);
}
static vs_status rmsnorm_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_rmsnorm(t[0], t[1], t[2], 1e-6f);
}
static void rmsnorm_ref(problem *pb) {
    const int64_t dim = pb->r->d[1];
    for (int64_t r = 0; r < pb->r->d[0]; r++) {
        const double inv = 1 / rms(pb->x[1] + r * dim, dim, 1e-6);
        for (int64_t i = 0; i < dim; i++)
            pb->x[0][r * dim + i] = pb->x[1][r * dim + i] * inv * pb->x[2][i];
    }
}

/* gated_residual: d = {B, N, dim}; p = {gate} */
static void gated_residual_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    SET(pb, 0, INOUT, VS_F32, -1, 1, d[0], d[1], d[2]);
    SET(pb, 1, IN, act(pb), -1, 1, d[0], d[1], d[2]);
    if (pb->r->p[0]) set_modulation(pb, 2, d[0], d[2]);
}
static vs_status gated_residual_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_gated_residual(t[0], t[1], opt(t, 2));
}
static void gated_residual_ref(problem *pb) {
    const int64_t N = pb->r->d[1], dim = pb->r->d[2];
    for (int64_t r = 0; r < pb->r->d[0] * N; r++)
        for (int64_t i = 0; i < dim; i++)
            pb->x[0][r * dim + i] += pb->x[1][r * dim + i] * (pb->x[2] ? pb->x[2][r / N * dim + i] : 1);
}

/* add, mul: d = {rows, cols}; silu: d = {n} */
static void add_plan(problem *pb) {
    for (int i = 0; i < 3; i++)
        SET(pb, i, i ? IN : OUT, VS_F32, -2, 2, pb->r->d[0], pb->r->d[1]);
}
static vs_status add_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_add(t[0], t[1], t[2]);
}
static void add_ref(problem *pb) {
    for (int64_t i = 0; i < pb->r->d[0] * pb->r->d[1]; i++)
        pb->x[0][i] = pb->x[1][i] + pb->x[2][i];
}
static void mul_plan(problem *pb) {
    for (int i = 0; i < 3; i++)
        SET(pb, i, i ? IN : OUT, act(pb), -2, 2, pb->r->d[0], pb->r->d[1]);
}
static vs_status mul_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_mul(t[0], t[1], t[2]);
}
static void mul_ref(problem *pb) {
    for (int64_t i = 0; i < pb->r->d[0] * pb->r->d[1]; i++)
        pb->x[0][i] = pb->x[1][i] * pb->x[2][i];
}
static void silu_plan(problem *pb) {
    SET(pb, 0, OUT, VS_F32, 0, 0, pb->r->d[0]);
    SET(pb, 1, IN, VS_F32, -6, 6, pb->r->d[0]);
}
static vs_status silu_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_silu(t[0], t[1]);
}
static void silu_ref(problem *pb) {
    for (int64_t i = 0; i < pb->r->d[0]; i++)
        pb->x[0][i] = pb->x[1][i] / (1 + exp(-pb->x[1][i]));
}

/* embedding: d = {vocab, dim, ids}; p = {F32 table} */
static void embedding_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    SET(pb, 0, OUT, VS_F32, 0, 0, d[2], d[1]);
    SET(pb, 1, IN, pb->r->p[0] ? VS_F32 : act(pb), -1, 1, d[0], d[1]);
    SET(pb, 2, IN, VS_I32, 0, (double)d[0], d[2]);
}
static vs_status embedding_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_embedding(t[0], t[1], t[2]);
}
static void embedding_ref(problem *pb) {
    const int64_t dim = pb->r->d[1];
    for (int64_t r = 0; r < pb->r->d[2]; r++)
        for (int64_t i = 0; i < dim; i++)
            pb->x[0][r * dim + i] = pb->x[1][(int64_t)pb->x[2][r] * dim + i];
}

/* patchify, unpatchify: d = {B, C, F, H, W}; p = the patch (pt, ph, pw) */
static int64_t patch_index(const row *r, int64_t b, int64_t c, int64_t f, int64_t y, int64_t x,
                           int channels_last, int64_t *token) {
    const int64_t C = r->d[1], H = r->d[3], W = r->d[4];
    const int pt = r->p[0], ph = r->p[1], pw = r->p[2];
    const int64_t tokens = r->d[2] / pt * (H / ph) * (W / pw);
    const int64_t i = f % pt, j = y % ph, k = x % pw;
    *token = b * tokens + (f / pt * (H / ph) + y / ph) * (W / pw) + x / pw;
    return channels_last ? ((i * ph + j) * pw + k) * C + c : ((c * pt + i) * ph + j) * pw + k;
}
static void patches_plan(problem *pb, int unpatch) {
    const int64_t *d = pb->r->d;
    const int64_t tokens = d[2] / pb->r->p[0] * (d[3] / pb->r->p[1]) * (d[4] / pb->r->p[2]);
    SET(pb, unpatch ? 0 : 1, unpatch ? OUT : IN, VS_F32, -1, 1, d[0], d[1], d[2], d[3], d[4]);
    SET(pb, unpatch ? 1 : 0, unpatch ? IN : OUT, act(pb), -1, 1, d[0], tokens,
        d[1] * pb->r->p[0] * pb->r->p[1] * pb->r->p[2]);
}
static void patchify_plan(problem *pb) {
    patches_plan(pb, 0);
}
static void unpatchify_plan(problem *pb) {
    patches_plan(pb, 1);
}
static vs_status patchify_run(const problem *pb, vs_tensor *const *t) {
    return vs_op_patchify(t[0], t[1], pb->r->p);
}
static vs_status unpatchify_run(const problem *pb, vs_tensor *const *t) {
    return vs_op_unpatchify(t[0], t[1], pb->r->p);
}
static void patches_ref(problem *pb, int unpatch) {
    const int64_t *d = pb->r->d, patch = d[1] * pb->r->p[0] * pb->r->p[1] * pb->r->p[2];
    double *lat = pb->x[unpatch ? 0 : 1], *pat = pb->x[unpatch ? 1 : 0];
    int64_t l = 0;
    for (int64_t b = 0; b < d[0]; b++)
        for (int64_t c = 0; c < d[1]; c++)
            for (int64_t f = 0; f < d[2]; f++)
                for (int64_t y = 0; y < d[3]; y++)
                    for (int64_t x = 0; x < d[4]; x++, l++) {
                        int64_t token, k = patch_index(pb->r, b, c, f, y, x, unpatch, &token);
                        if (unpatch)
                            lat[l] = pat[token * patch + k];
                        else
                            pat[token * patch + k] = lat[l];
                    }
}
static void patchify_ref(problem *pb) {
    patches_ref(pb, 0);
}
static void unpatchify_ref(problem *pb) {
    patches_ref(pb, 1);
}

/* softmax(s) in place over n entries; entries at -inf get 0, a row of them all zeros */
static void softmax(double *s, int64_t n) {
    double m = -INFINITY, sum = 0;
    for (int64_t j = 0; j < n; j++)
        m = s[j] > m ? s[j] : m;
    for (int64_t j = 0; j < n; j++)
        sum += s[j] = m == -INFINITY ? 0 : exp(s[j] - m);
    for (int64_t j = 0; j < n; j++)
        s[j] = sum > 0 ? s[j] / sum : 0;
}

/* o[e] = sum_j p[j] v[j * stride + e] for e < D: one output row of attention from its probabilities. */
static void weighted_values(double *o, const double *p, const double *v, int64_t keys, int64_t stride, int64_t D) {
    for (int64_t e = 0; e < D; e++) {
        o[e] = 0;
        for (int64_t j = 0; j < keys; j++) o[e] += p[j] * v[j * stride + e];
    }
}

/* attention: d = {B, N, L, H, D} */
static void attention_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    SET(pb, 0, OUT, act(pb), 0, 0, d[0], d[1], d[3], d[4]);
    SET(pb, 1, IN, act(pb), -1, 1, d[0], d[1], d[3], d[4]);
    SET(pb, 2, IN, act(pb), -1, 1, d[0], d[2], d[3], d[4]);
    SET(pb, 3, IN, act(pb), -1, 1, d[0], d[2], d[3], d[4]);
}
static vs_status attention_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_attention(t[0], t[1], t[2], t[3]);
}
static void attention_ref(problem *pb) {
    const int64_t B = pb->r->d[0], N = pb->r->d[1], L = pb->r->d[2], H = pb->r->d[3], D = pb->r->d[4];
    double *s = vs_test_malloc(sizeof(double) * (size_t)L);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < N; i++) {
                const double *q = pb->x[1] + ((b * N + i) * H + h) * D;
                for (int64_t j = 0; j < L; j++) {
                    const double *k = pb->x[2] + ((b * L + j) * H + h) * D;
                    s[j] = 0;
                    for (int64_t e = 0; e < D; e++)
                        s[j] += q[e] * k[e] / sqrt((double)D);
                }
                softmax(s, L);
                weighted_values(pb->x[0] + ((b * N + i) * H + h) * D, s, pb->x[3] + (b * L * H + h) * D, L,
                                H * D, D);
            }
}

/* attention_relpos: d = {B, N, H, D, buckets} */
static void relpos_plan(problem *pb) {
    const int64_t *d = pb->r->d, ld = (d[1] + 7) / 8 * 8;
    for (int i = 0; i < 4; i++)
        SET(pb, i, i ? IN : OUT, act(pb), -1, 1, d[0], d[1], d[2], d[3]);
    SET(pb, 4, IN, VS_F32, -2, 2, d[4], d[2]);
    SET(pb, 5, IN, VS_I32, 0, (double)d[4], 2 * d[1] - 1);
    SET(pb, 6, IN, VS_I32, 0, 4, d[0], d[1]); /* a key is masked a quarter of the time */
    SET(pb, 7, SCRATCH, VS_F32, 0, 0, d[0], d[2], d[1], ld);
}
static vs_status relpos_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_attention_relpos(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]);
}
static void relpos_ref(problem *pb) {
    const int64_t B = pb->r->d[0], N = pb->r->d[1], H = pb->r->d[2], D = pb->r->d[3];
    double *s = vs_test_malloc(sizeof(double) * (size_t)N);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < N; i++) {
                const double *q = pb->x[1] + ((b * N + i) * H + h) * D;
                for (int64_t j = 0; j < N; j++) {
                    const double *k = pb->x[2] + ((b * N + j) * H + h) * D;
                    s[j] = pb->x[4][(int64_t)pb->x[5][j - i + N - 1] * H + h];
                    for (int64_t e = 0; e < D; e++)
                        s[j] += q[e] * k[e];
                    if (pb->x[6][b * N + j] == 0) s[j] = -INFINITY;
                }
                softmax(s, N);
                weighted_values(pb->x[0] + ((b * N + i) * H + h) * D, s, pb->x[3] + (b * N * H + h) * D, N,
                                H * D, D);
            }
}

/* convert: d = {n}; p = {dst dtype, src dtype}; copy: d = {n} F32 */
static void convert_plan(problem *pb) {
    SET(pb, 0, OUT, (vs_dtype)pb->r->p[0], 0, 0, pb->r->d[0]);
    SET(pb, 1, IN, (vs_dtype)pb->r->p[1], -3, 3, pb->r->d[0]);
}
static vs_status convert_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_convert(t[0], t[1]);
}
static void copy_plan(problem *pb) {
    SET(pb, 0, OUT, VS_F32, 0, 0, pb->r->d[0]);
    SET(pb, 1, IN, VS_F32, -3, 3, pb->r->d[0]);
}
static vs_status copy_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_copy(t[0], t[1]);
}
static void identity_ref(problem *pb) {
    memcpy(pb->x[0], pb->x[1], sizeof(double) * (size_t)pb->r->d[0]);
}

/* copy_rows: d = {rows, cols}: rows 3 apart beyond cols in y, 5 in x */
static void copy_rows_plan(problem *pb) {
    SET(pb, 0, OUT, VS_F32, 0, 0, pb->r->d[0], pb->r->d[1]);
    SET(pb, 1, IN, VS_F32, -3, 3, pb->r->d[0], pb->r->d[1]);
    pb->o[0].row_stride = pb->r->d[1] + 3, pb->o[1].row_stride = pb->r->d[1] + 5;
}
static vs_status copy_rows_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_copy_rows(t[0], t[1]);
}
static void copy_rows_ref(problem *pb) {
    memcpy(pb->x[0], pb->x[1], sizeof(double) * (size_t)(pb->r->d[0] * pb->r->d[1]));
}

/* fill_uniform: d = {n}; p = {dtype} */
static void fill_plan(problem *pb) {
    SET(pb, 0, OUT, (vs_dtype)pb->r->p[0], 0, 0, pb->r->d[0]);
}
static vs_status fill_run(const problem *pb, vs_tensor *const *t) {
    return vs_op_fill_uniform(t[0], (uint64_t)pb->r->d[0], -2.0f, 3.0f);
}
static void fill_ref(problem *pb) {
    for (int64_t i = 0; i < pb->r->d[0]; i++)
        pb->x[0][i] = vs_hash_uniform_range((uint64_t)pb->r->d[0], (uint64_t)i, -2.0f, 3.0f);
}

/* conv_frames: d = {N, Cin, Cout, H, W, kt, k}; p = {bias}; operands y, weight, bias, taps */
static void conv_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    set_image(pb, 0, OUT, d[0], d[2], d[3], d[4]);
    if (pb->be->channels_last)
        SET(pb, 1, IN, act(pb), -0.3, 0.3, d[5], d[2], d[6], d[6], d[1]);
    else
        SET(pb, 1, IN, act(pb), -0.3, 0.3, d[2], d[1], d[5], d[6], d[6]);
    if (pb->r->p[0]) SET(pb, 2, IN, VS_F32, -1, 1, d[2]);
    for (int dt = 0; dt < d[5]; dt++)
        set_image(pb, 3 + dt, IN, d[0], d[1], d[3], d[4]);
}
static vs_status conv_run(const problem *pb, vs_tensor *const *t) {
    const vs_tensor *taps[MAX_OPERANDS];
    for (int dt = 0; dt < pb->r->d[5]; dt++)
        taps[dt] = t[3 + dt];
    return vs_op_conv_frames(t[0], taps, (int)pb->r->d[5], t[1], opt(t, 2));
}
static void conv_ref(problem *pb) {
    const int64_t *d = pb->r->d, N = d[0], ci_ = d[1], co_ = d[2], H = d[3], W = d[4], kt = d[5], k = d[6];
    for (int64_t n = 0; n < N; n++)
        for (int64_t co = 0; co < co_; co++)
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++) {
                    double s = pb->x[2] ? pb->x[2][co] : 0;
                    for (int64_t dt = 0; dt < kt; dt++)
                        for (int64_t ci = 0; ci < ci_; ci++)
                            for (int64_t dy = 0; dy < k; dy++)
                                for (int64_t dx = 0; dx < k; dx++) {
                                    const int64_t iy = y + dy - k / 2, ix = x + dx - k / 2;
                                    if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                    const int64_t w = pb->be->channels_last
                                                          ? (((dt * co_ + co) * k + dy) * k + dx) * ci_ + ci
                                                          : (((co * ci_ + ci) * kt + dt) * k + dy) * k + dx;
                                    s += pb->x[1][w] * pb->x[3 + dt][img(pb, ci_, H, W, n, ci, iy, ix)];
                                }
                    pb->x[0][img(pb, co_, H, W, n, co, y, x)] = s;
                }
}

/* vae_rmsnorm: d = {N, C, H, W}; p = {silu, beta} */
static void vae_norm_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    set_image(pb, 0, OUT, d[0], d[1], d[2], d[3]);
    set_image(pb, 1, IN, d[0], d[1], d[2], d[3]);
    SET(pb, 2, IN, VS_F32, 0.5, 1.5, d[1]);
    if (pb->r->p[1]) SET(pb, 3, IN, VS_F32, -1, 1, d[1]);
}
static vs_status vae_norm_run(const problem *pb, vs_tensor *const *t) {
    return vs_op_vae_rmsnorm(t[0], t[1], t[2], opt(t, 3), sqrtf((float)pb->r->d[1]), pb->r->p[0]);
}
static void vae_norm_ref(problem *pb) {
    const int64_t *d = pb->r->d, C = d[1], H = d[2], W = d[3];
    for (int64_t n = 0; n < d[0]; n++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++) {
                double ss = 0;
                for (int64_t c = 0; c < C; c++)
                    ss += pow(pb->x[1][img(pb, C, H, W, n, c, y, x)], 2);
                const double inv = sqrtf((float)C) / fmax(sqrt(ss), 1e-12);
                for (int64_t c = 0; c < C; c++) {
                    const int64_t i = img(pb, C, H, W, n, c, y, x);
                    double v = pb->x[1][i] * inv * pb->x[2][c] + (pb->x[3] ? pb->x[3][c] : 0);
                    pb->x[0][i] = pb->r->p[0] ? v / (1 + exp(-v)) : v;
                }
            }
}

/* upsample2x: d = {N, C, H, W} of the output frames; p = {interleaved} */
static void upsample_plan(problem *pb) {
    const int64_t *d = pb->r->d, k = pb->r->p[0] ? 2 : 1;
    set_image(pb, 0, OUT, d[0], d[1], 2 * d[2], 2 * d[3]);
    set_image(pb, 1, IN, d[0] / k, d[1] * k, d[2], d[3]);
}
static vs_status upsample_run(const problem *pb, vs_tensor *const *t) {
    return vs_op_upsample2x(t[0], t[1], pb->r->p[0]);
}
static void upsample_ref(problem *pb) {
    const int64_t *d = pb->r->d, C = d[1], H = d[2], W = d[3];
    const int il = pb->r->p[0];
    for (int64_t n = 0; n < d[0]; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < 2 * H; y++)
                for (int64_t x = 0; x < 2 * W; x++)
                    pb->x[0][img(pb, C, 2 * H, 2 * W, n, c, y, x)] =
                        pb->x[1][il ? img(pb, 2 * C, H, W, n / 2, n % 2 * C + c, y / 2, x / 2)
                                    : img(pb, C, H, W, n, c, y / 2, x / 2)];
}

/* bias_residual: d = {N, C, H, W}; p = {bias, res} */
static void bias_residual_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    set_image(pb, 0, INOUT, d[0], d[1], d[2], d[3]);
    if (pb->r->p[0]) SET(pb, 1, IN, VS_F32, -1, 1, d[1]);
    if (pb->r->p[1]) set_image(pb, 2, IN, d[0], d[1], d[2], d[3]);
}
static vs_status bias_residual_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_bias_residual(t[0], opt(t, 1), opt(t, 2));
}
static void bias_residual_ref(problem *pb) {
    const int64_t *d = pb->r->d, C = d[1], H = d[2], W = d[3];
    for (int64_t n = 0; n < d[0]; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++) {
                    const int64_t i = img(pb, C, H, W, n, c, y, x);
                    pb->x[0][i] += (pb->x[1] ? pb->x[1][c] : 0) + (pb->x[2] ? pb->x[2][i] : 0);
                }
}

/* softmax_rows: d = {rows, ld, cols} */
static void softmax_rows_plan(problem *pb) {
    SET(pb, 0, INOUT, act(pb), -4, 4, pb->r->d[0], pb->r->d[1]);
}
static vs_status softmax_rows_run(const problem *pb, vs_tensor *const *t) {
    return vs_op_softmax_rows(t[0], pb->r->d[2]);
}
static void softmax_rows_ref(problem *pb) {
    const int64_t ld = pb->r->d[1], cols = pb->r->d[2];
    for (int64_t r = 0; r < pb->r->d[0]; r++) {
        softmax(pb->x[0] + r * ld, cols);
        for (int64_t j = cols; j < ld; j++)
            pb->x[0][r * ld + j] = 0;
    }
}

/* image_from_planes, planes_from_image: d = {N, C, H, W}, the image with Cs = C + d[4] channels */
static void from_planes_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    set_image(pb, 0, OUT, d[0], d[1], d[2], d[3]);
    SET(pb, 1, IN, VS_F32, -2, 2, d[0], d[1], d[2], d[3]);
}
static vs_status from_planes_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_image_from_planes(t[0], t[1]);
}
static void from_planes_ref(problem *pb) {
    const int64_t *d = pb->r->d;
    int64_t i = 0;
    for (int64_t n = 0; n < d[0]; n++)
        for (int64_t c = 0; c < d[1]; c++)
            for (int64_t y = 0; y < d[2]; y++)
                for (int64_t x = 0; x < d[3]; x++)
                    pb->x[0][img(pb, d[1], d[2], d[3], n, c, y, x)] = pb->x[1][i++];
}
static void to_planes_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    SET(pb, 0, OUT, VS_F32, 0, 0, d[0], d[1], d[2], d[3]);
    set_image(pb, 1, IN, d[0], d[1] + d[4], d[2], d[3]);
    SET(pb, 2, IN, VS_F32, -1, 1, d[1]);
}
static vs_status to_planes_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_planes_from_image(t[0], t[1], t[2]);
}
static void to_planes_ref(problem *pb) {
    const int64_t *d = pb->r->d;
    int64_t i = 0;
    for (int64_t n = 0; n < d[0]; n++)
        for (int64_t c = 0; c < d[1]; c++)
            for (int64_t y = 0; y < d[2]; y++)
                for (int64_t x = 0; x < d[3]; x++)
                    pb->x[0][i++] = pb->x[1][img(pb, d[1] + d[4], d[2], d[3], n, c, y, x)] + pb->x[2][c];
}

/* quantize_fp8: d = {rows, cols}; the codes must match the reference's bit for bit. */
static void quantize_fp8_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    SET(pb, 0, OUT, VS_F8E4M3, 0, 0, d[0], d[1]);
    SET(pb, 1, OUT, VS_F32, 0, 0, d[0]);
    SET(pb, 2, IN, act(pb), -3, 3, d[0], d[1]);
}
static vs_status quantize_fp8_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_quantize_fp8(t[0], t[1], t[2]);
}
static void quantize_fp8_ref(problem *pb) {
    const int64_t rows = pb->r->d[0], cols = pb->r->d[1];
    for (int64_t r = 0; r < rows; r++)
        quantize_row_ref(pb->x[2] + r * cols, cols, pb->x[0] + r * cols, &pb->x[1][r]);
}

/* linear_fp8: d = {rows, in, out}; p = {bias, gelu, the output's codes (vs_op_linear_fp8_codes; y the work
 * space)}. Codes over E4M3's range, scales of both signs' size. */
static void linear_fp8_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    SET(pb, 0, pb->r->p[2] ? SCRATCH : OUT, act(pb), 0, 0, d[0], d[2]);
    if (pb->r->p[2]) SET(pb, 6, OUT, VS_F8E4M3, 0, 0, d[0], d[2]), SET(pb, 7, OUT, VS_F32, 0, 0, d[0]);
    SET(pb, 1, IN, VS_F8E4M3, -448, 448, d[0], d[1]);
    SET(pb, 2, IN, VS_F32, 1e-4, 4e-3, d[0]);
    SET(pb, 3, IN, VS_F8E4M3, -448, 448, d[2], d[1]);
    SET(pb, 4, IN, VS_F32, 1e-4, 2e-3, d[2]);
    if (pb->r->p[0]) SET(pb, 5, IN, act(pb), -1, 1, d[2]);
}
static vs_status linear_fp8_run(const problem *pb, vs_tensor *const *t) {
    const vs_epilogue ep = pb->r->p[1] ? VS_EPILOGUE_GELU_TANH : VS_EPILOGUE_NONE;
    if (pb->r->p[2]) return vs_op_linear_fp8_codes(t[6], t[7], t[0], t[1], t[2], t[3], t[4], opt(t, 5), ep);
    return vs_op_linear_fp8(t[0], t[1], t[2], t[3], t[4], opt(t, 5), ep);
}
/* The scaled product of row r of the quantised x (operands xi, si) and channel o of the weight (wi, vi). */
static double fp8_dot(const problem *pb, int xi, int si, int wi, int vi, int64_t r, int64_t o, int64_t in) {
    double s = 0;
    for (int64_t i = 0; i < in; i++)
        s += pb->x[xi][r * in + i] * pb->x[wi][o * in + i];
    return s * pb->x[si][r] * pb->x[vi][o];
}
static void linear_fp8_ref(problem *pb) {
    const int64_t rows = pb->r->d[0], in = pb->r->d[1], out = pb->r->d[2];
    for (int64_t r = 0; r < rows; r++) {
        double *y = pb->x[0] + r * out;
        for (int64_t o = 0; o < out; o++) {
            const double s = fp8_dot(pb, 1, 2, 3, 4, r, o, in) + (pb->x[5] ? pb->x[5][o] : 0);
            y[o] = pb->r->p[1] ? gelu_tanh(s) : s;
        }
        if (!pb->r->p[2]) continue;
        for (int64_t o = 0; o < out; o++) /* the codes are those of y as the device stores it */
            y[o] = act(pb) == VS_BF16 ? vs_bf16_to_f32(vs_f32_to_bf16((float)y[o])) : (float)y[o];
        quantize_row_ref(y, out, pb->x[6] + r * out, &pb->x[7][r]);
    }
}

/* linear_residual_fp8: d = {B, N, in, out}; p = {bias, gate} */
static void linear_residual_fp8_plan(problem *pb) {
    const int64_t *d = pb->r->d;
    SET(pb, 0, INOUT, VS_F32, -1, 1, d[0], d[1], d[3]);
    SET(pb, 1, IN, VS_F8E4M3, -448, 448, d[0], d[1], d[2]);
    SET(pb, 2, IN, VS_F32, 1e-4, 4e-3, d[0] * d[1]);
    SET(pb, 3, IN, VS_F8E4M3, -448, 448, d[3], d[2]);
    SET(pb, 4, IN, VS_F32, 1e-4, 2e-3, d[3]);
    if (pb->r->p[0]) SET(pb, 5, IN, act(pb), -1, 1, d[3]);
    if (pb->r->p[1]) set_modulation(pb, 6, d[0], d[3]);
}
static vs_status linear_residual_fp8_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    return vs_op_linear_residual_fp8(t[0], t[1], t[2], t[3], t[4], opt(t, 5), opt(t, 6));
}
static void linear_residual_fp8_ref(problem *pb) {
    const int64_t N = pb->r->d[1], in = pb->r->d[2], out = pb->r->d[3];
    for (int64_t r = 0; r < pb->r->d[0] * N; r++)
        for (int64_t o = 0; o < out; o++) {
            const double s = fp8_dot(pb, 1, 2, 3, 4, r, o, in) + (pb->x[5] ? pb->x[5][o] : 0);
            pb->x[0][r * out + o] += s * (pb->x[6] ? pb->x[6][r / N * out + o] : 1);
        }
}

/* rel_l1: d = {n}; the one number comes back as a one-element F32 output */
static void rel_l1_plan(problem *pb) {
    SET(pb, 0, OUT, VS_F32, 0, 0, 1);
    SET(pb, 1, IN, act(pb), -2, 2, pb->r->d[0]);
    SET(pb, 2, IN, act(pb), -1.5, 2.5, pb->r->d[0]);
}
static vs_status rel_l1_run(const problem *pb, vs_tensor *const *t) {
    (void)pb;
    double change;
    VS_TRY(vs_op_rel_l1(t[1], t[2], &change));
    float value = (float)change;
    const vs_tensor host = vs_tensor_view(&value, VS_F32, VS_CPU, 1, (int64_t[]){1});
    return vs_op_copy(t[0], &host);
}
static void rel_l1_ref(problem *pb) {
    double diff = 0, norm = 0;
    for (int64_t i = 0; i < pb->r->d[0]; i++)
        diff += fabs(pb->x[1][i] - pb->x[2][i]), norm += fabs(pb->x[2][i]);
    pb->x[0][0] = diff / norm;
}

static const kind kinds[VS_OP_COUNT] = {
    [VS_OP_LINEAR] = {linear_plan, linear_run, linear_ref},
    [VS_OP_LINEAR_RESIDUAL] = {linear_residual_plan, linear_residual_run, linear_residual_ref},
    [VS_OP_LAYERNORM_MODULATE] = {layernorm_plan, layernorm_run, layernorm_ref},
    [VS_OP_QK_NORM_ROPE] = {qk_norm_rope_plan, qk_norm_rope_run, qk_norm_rope_ref},
    [VS_OP_RMSNORM] = {rmsnorm_plan, rmsnorm_run, rmsnorm_ref},
    [VS_OP_GATED_RESIDUAL] = {gated_residual_plan, gated_residual_run, gated_residual_ref},
    [VS_OP_ADD] = {add_plan, add_run, add_ref},
    [VS_OP_SILU] = {silu_plan, silu_run, silu_ref},
    [VS_OP_MUL] = {mul_plan, mul_run, mul_ref},
    [VS_OP_EMBEDDING] = {embedding_plan, embedding_run, embedding_ref},
    [VS_OP_PATCHIFY] = {patchify_plan, patchify_run, patchify_ref},
    [VS_OP_UNPATCHIFY] = {unpatchify_plan, unpatchify_run, unpatchify_ref},
    [VS_OP_ATTENTION] = {attention_plan, attention_run, attention_ref},
    [VS_OP_ATTENTION_RELPOS] = {relpos_plan, relpos_run, relpos_ref},
    [VS_OP_CONVERT] = {convert_plan, convert_run, identity_ref},
    [VS_OP_COPY] = {copy_plan, copy_run, identity_ref},
    [VS_OP_COPY_ROWS] = {copy_rows_plan, copy_rows_run, copy_rows_ref},
    [VS_OP_FILL_UNIFORM] = {fill_plan, fill_run, fill_ref},
    [VS_OP_CONV_FRAMES] = {conv_plan, conv_run, conv_ref},
    [VS_OP_VAE_RMSNORM] = {vae_norm_plan, vae_norm_run, vae_norm_ref},
    [VS_OP_UPSAMPLE2X] = {upsample_plan, upsample_run, upsample_ref},
    [VS_OP_BIAS_RESIDUAL] = {bias_residual_plan, bias_residual_run, bias_residual_ref},
    [VS_OP_SOFTMAX_ROWS] = {softmax_rows_plan, softmax_rows_run, softmax_rows_ref},
    [VS_OP_IMAGE_FROM_PLANES] = {from_planes_plan, from_planes_run, from_planes_ref},
    [VS_OP_PLANES_FROM_IMAGE] = {to_planes_plan, to_planes_run, to_planes_ref},
    [VS_OP_QUANTIZE_FP8] = {quantize_fp8_plan, quantize_fp8_run, quantize_fp8_ref},
    [VS_OP_LINEAR_FP8] = {linear_fp8_plan, linear_fp8_run, linear_fp8_ref},
    [VS_OP_LINEAR_RESIDUAL_FP8] = {linear_residual_fp8_plan, linear_residual_fp8_run, linear_residual_fp8_ref},
    [VS_OP_REL_L1] = {rel_l1_plan, rel_l1_run, rel_l1_ref},
};

/* ---- the rows ------------------------------------------------------------------------- */

static const row rows[] = {
    {VS_OP_LINEAR, {37, 72, 40}, {1, 0, 0}, {0}},
    {VS_OP_LINEAR, {5, 13, 11}, {1, 1, 0}, {0}}, /* sizes off the 16-byte grid */
    {VS_OP_LINEAR, {3, 64, 24}, {0, 1, 1}, {0, 1e-4}},
    {VS_OP_LINEAR_RESIDUAL, {2, 19, 48, 40}, {1, 1}, {0}},
    {VS_OP_LINEAR_RESIDUAL, {1, 7, 24, 16}, {0, 0}, {0}},
    {VS_OP_LAYERNORM_MODULATE, {2, 13, 40}, {1, 1}, {0}},
    {VS_OP_LAYERNORM_MODULATE, {1, 9, 24}, {0, 0}, {0}},
    /* with the FP8 codes of y (a code flipped by the device's f32 norm against the double one moves the
     * relative L2 by about 0.06 / sqrt(row)) */
    {VS_OP_LAYERNORM_MODULATE, {2, 13, 40}, {1, 1, 1}, {1e-2, 1e-2}},
    {VS_OP_LAYERNORM_MODULATE, {2, 7, 5120}, {0, 1, 2}, {1e-2, 1e-2}},
    {VS_OP_LAYERNORM_MODULATE, {1, 3, 13}, {0, 0, 2}, {1e-2, 1e-2}}, /* off the 8-value grid: the CPU only */
    {VS_OP_QK_NORM_ROPE, {2, 11, 3, 16}, {1}, {0}},
    {VS_OP_QK_NORM_ROPE, {1, 5, 2, 8}, {0}, {0}},
    {VS_OP_QK_NORM_ROPE, {2, 7, 3, 16}, {1, NORM_NONE}, {0}}, /* rotation only (Llama's RoPE) */
    {VS_OP_RMSNORM, {17, 40}, {0}, {0}},
    {VS_OP_RMSNORM, {9, 24}, {1}, {0, 1e-5}},
    {VS_OP_GATED_RESIDUAL, {2, 15, 24}, {1}, {0}},
    {VS_OP_GATED_RESIDUAL, {1, 7, 16}, {0}, {0}},
    {VS_OP_ADD, {7, 13}, {0}, {0, 1e-6}},
    {VS_OP_SILU, {1001}, {0}, {0, 1e-6}},
    {VS_OP_MUL, {9, 24}, {0}, {0}},
    {VS_OP_EMBEDDING, {50, 24, 13}, {0}, {0}},
    {VS_OP_EMBEDDING, {31, 16, 7}, {1}, {0, 1e-6}},
    {VS_OP_PATCHIFY, {2, 3, 3, 6, 10}, {1, 2, 2}, {0}},
    {VS_OP_UNPATCHIFY, {1, 5, 4, 4, 6}, {2, 2, 2}, {0}},
    {VS_OP_ATTENTION, {2, 37, 37, 3, 64}, {0}, {0}},
    {VS_OP_ATTENTION, {1, 45, 13, 2, 128}, {0}, {0}},
    {VS_OP_ATTENTION_RELPOS, {2, 13, 3, 16, 9}, {0}, {0}},
    {VS_OP_CONVERT, {1003}, {VS_BF16, VS_F32}, {1e-2, 1e-2}},
    {VS_OP_CONVERT, {517}, {VS_F32, VS_F16}, {0, 1e-6}},
    {VS_OP_COPY, {777}, {0}, {0, 1e-7}},
    {VS_OP_COPY_ROWS, {7, 13}, {0}, {0, 1e-7}},
    {VS_OP_FILL_UNIFORM, {1001}, {VS_F32}, {0, 1e-6}},
    {VS_OP_FILL_UNIFORM, {333}, {VS_BF16}, {1e-2, 1e-2}},
    {VS_OP_CONV_FRAMES, {2, 8, 16, 7, 9, 3, 3}, {1}, {0}},
    {VS_OP_CONV_FRAMES, {1, 24, 8, 5, 11, 1, 1}, {0}, {0}},
    {VS_OP_VAE_RMSNORM, {2, 16, 5, 7}, {1, 1}, {0}},
    {VS_OP_VAE_RMSNORM, {1, 24, 3, 9}, {0, 0}, {0}},
    {VS_OP_UPSAMPLE2X, {2, 8, 3, 5}, {0}, {0, 1e-7}},
    {VS_OP_UPSAMPLE2X, {4, 16, 2, 3}, {1}, {0, 1e-7}},
    {VS_OP_BIAS_RESIDUAL, {2, 16, 3, 5}, {1, 1}, {0}},
    {VS_OP_BIAS_RESIDUAL, {1, 8, 4, 4}, {0, 1}, {0}},
    {VS_OP_SOFTMAX_ROWS, {13, 40, 37}, {0}, {0}},
    {VS_OP_SOFTMAX_ROWS, {5, 24, 24}, {0}, {0}},
    /* TeaCache's signal change: below one CUDA block, and a grid-stride size (the F32 result: 1e-7) */
    {VS_OP_REL_L1, {37}, {0}, {1e-6, 1e-6}},
    {VS_OP_REL_L1, {1000003}, {0}, {1e-6, 1e-5}},
    /* F32 planes into a BF16 image round each value: at most half a BF16 ulp, 2^-9 relative */
    {VS_OP_IMAGE_FROM_PLANES, {2, 16, 3, 7}, {0}, {0, 0x1p-9}},
    {VS_OP_PLANES_FROM_IMAGE, {2, 3, 5, 7, 5}, {0}, {0, 1e-6}},
    /* shapes the CUDA kernels branch on: one row, many rows, the longest norm row a block holds, Wan's heads
     */
    {VS_OP_LINEAR, {1, 4096, 1544}, {0, 0, 0}, {0}},
    {VS_OP_LINEAR, {3001, 64, 24}, {1, 1, 0}, {0}},
    {VS_OP_LINEAR, {999, 12, 128}, {1, 1, 0}, {0}},
    {VS_OP_LINEAR, {2, 264, 1000}, {1, 0, 1}, {0, 1e-4}},
    {VS_OP_LINEAR_RESIDUAL, {1, 5, 1544, 4096}, {0, 0}, {0}},
    {VS_OP_LAYERNORM_MODULATE, {1, 2, 32768}, {0, 1}, {0}},
    {VS_OP_LAYERNORM_MODULATE, {1, 5, 5120}, {1, 0}, {0}},
    {VS_OP_QK_NORM_ROPE, {1, 18, 40, 128}, {1}, {0}},
    /* per-head norms (HunyuanVideo's q/k): its 24 heads of 128, and small heads with a ragged token count */
    {VS_OP_QK_NORM_ROPE, {1, 13, 24, 128}, {1, NORM_HEAD}, {0}},
    {VS_OP_QK_NORM_ROPE, {2, 7, 5, 16}, {1, NORM_HEAD}, {0}},
    {VS_OP_QK_NORM_ROPE, {1, 9, 3, 64}, {0, NORM_HEAD}, {0}},
    /* per-head LayerNorm (CogVideoX's q/k): its heads of 64 and 128-wide ones, rotated (the video rows)
     * or not (the text rows), ragged token counts; its 48 heads: a row of many warps */
    {VS_OP_QK_NORM_ROPE, {2, 11, 3, 64}, {1, NORM_LAYER}, {0}},
    {VS_OP_QK_NORM_ROPE, {1, 13, 3, 64}, {0, NORM_LAYER}, {0}},
    {VS_OP_QK_NORM_ROPE, {1, 7, 3, 128}, {1, NORM_LAYER}, {0}},
    {VS_OP_QK_NORM_ROPE, {2, 9, 3, 128}, {0, NORM_LAYER}, {0}},
    {VS_OP_QK_NORM_ROPE, {1, 5, 48, 64}, {1, NORM_LAYER}, {0}},
    /* the SiLU epilogue (HunyuanVideo's token refiner): BF16 GEMM, off the 16-byte grid, the F32 few-rows
       path */
    {VS_OP_LINEAR, {37, 72, 40}, {1, 2, 0}, {0}},
    {VS_OP_LINEAR, {5, 13, 11}, {1, 2, 0}, {0}},
    {VS_OP_LINEAR, {3, 64, 24}, {1, 2, 1}, {0, 1e-4}},
    {VS_OP_ATTENTION, {2, 131, 13, 3, 64}, {0}, {0}},
    /* FP8: the codes exactly (any ulp is 2^-4 relative: far above 1e-7); the GEMMs on exact E4M3 products */
    {VS_OP_QUANTIZE_FP8, {37, 48}, {0}, {1e-7, 1e-7}},
    {VS_OP_QUANTIZE_FP8, {3, 5120}, {0}, {1e-7, 1e-7}},
    {VS_OP_QUANTIZE_FP8, {5, 13}, {0}, {1e-7, 1e-7}}, /* off the 8-value grid: the CPU only */
    {VS_OP_LINEAR_FP8, {37, 48, 40}, {1, 0}, {0}},
    {VS_OP_LINEAR_FP8, {19, 64, 24}, {1, 1}, {0}},
    {VS_OP_LINEAR_FP8, {7, 32, 16}, {0, 1}, {0}},
    {VS_OP_LINEAR_FP8, {5, 13, 11}, {1, 1}, {0}}, /* off the 16-byte grid: the CPU only */
    {VS_OP_LINEAR_FP8, {301, 1536, 1000}, {1, 1}, {0}},
    /* into the output's codes: a code the f32 sum moves across a rounding boundary against the double one
     * shifts the relative L2 by about 0.06 / sqrt(out) */
    {VS_OP_LINEAR_FP8, {37, 48, 40}, {1, 1, 1}, {1e-2, 3e-2}},
    {VS_OP_LINEAR_FP8, {19, 64, 13824}, {1, 1, 1}, {1e-2, 3e-2}},
    {VS_OP_LINEAR_FP8, {7, 32, 24}, {0, 0, 1}, {1e-2, 3e-2}},
    {VS_OP_LINEAR_RESIDUAL_FP8, {2, 19, 48, 40}, {1, 1}, {0}},
    {VS_OP_LINEAR_RESIDUAL_FP8, {1, 7, 32, 16}, {0, 0}, {0}},
    {VS_OP_LINEAR_RESIDUAL_FP8, {2, 33, 64, 24}, {0, 1}, {0}},
    {VS_OP_LINEAR_RESIDUAL_FP8, {1, 9, 96, 56}, {1, 0}, {0}},
};

/* ---- the harness ---------------------------------------------------------------------- */

static uint64_t g_seed;

static uint64_t next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* v as the dtype stores it */
static double rounded(double v, vs_dtype dtype) {
    if (dtype == VS_I32) return v;
    float f = (float)v, back;
    uint16_t half;
    if (dtype == VS_F32) return f;
    vs_convert(&half, dtype, &f, VS_F32, 1);
    vs_convert(&back, VS_F32, &half, dtype, 1);
    return back;
}

/* Host bytes of values x (n of them) in `dtype`, freed with the row (vs_test_malloc). */
static void *to_bytes(const double *x, int64_t n, vs_dtype dtype) {
    void *b = vs_test_malloc((size_t)n * 4 + 4);
    float *f = vs_test_malloc((size_t)n * 4 + 4);
    for (int64_t i = 0; i < n; i++) {
        if (dtype == VS_I32) ((int32_t *)b)[i] = (int32_t)x[i];
        f[i] = (float)x[i];
    }
    if (dtype != VS_I32) vs_convert(b, dtype, f, VS_F32, n);
    return b;
}

/* Moves host bytes to or from a tensor of any device (contiguous, or rows apart) through the copy ops. */
static vs_status transfer(vs_tensor *t, void *bytes, int to_device) {
    vs_tensor h = vs_tensor_view(bytes, t->dtype, VS_CPU, t->ndim, t->shape);
    if (vs_tensor_is_contiguous(t)) return to_device ? vs_op_copy(t, &h) : vs_op_copy(&h, t);
    vs_tensor *packed = vs_test_tensor(); /* the rows side by side on t's device, moved to or from t by copy_rows */
    VS_TRY(vs_tensor_alloc(packed, t->dtype, t->device, 2, t->shape));
    vs_status r = to_device ? vs_op_copy(packed, &h) : vs_op_copy_rows(packed, t);
    if (r == VS_OK) r = to_device ? vs_op_copy_rows(t, packed) : vs_op_copy(&h, packed);
    return r;
}

/* Runs row r on backend be: 0 passed, 1 failed, 2 skipped (unsupported). What the row allocates is
 * registered with check.h and released when the row ends. */
static int run_row(const row *r, int index, const vs_backend *be) {
    const int mark = vs_test_mark();
    const kind *k = &kinds[r->op];
    problem pb;
    memset(&pb, 0, sizeof pb);
    pb.r = r, pb.be = be;
    k->plan(&pb);
    uint64_t rng = g_seed ^ (uint64_t)index * 0x100000001b3ull;
    vs_tensor *store[MAX_OPERANDS], tensors[MAX_OPERANDS]; /* allocations, and the views the op sees */
    vs_tensor *t[MAX_OPERANDS] = {0};
    float *got[MAX_OPERANDS] = {0}; /* what the backend wrote, as f32 (every dtype here converts exactly) */
    int result = 0;
    for (int i = 0; i < MAX_OPERANDS && !result; i++) {
        const operand *o = &pb.o[i];
        if (o->role == ABSENT) continue;
        const int64_t n = count(o);
        pb.x[i] = vs_test_malloc(sizeof(double) * (size_t)n + 8);
        for (int64_t j = 0; j < n; j++) {
            const double u = (double)(next(&rng) >> 11) / 9007199254740992.0;
            pb.x[i][j] = o->role == OUT || o->role == SCRATCH ? NAN
                         : o->dtype == VS_I32                 ? floor(o->lo + (o->hi - o->lo) * u)
                                              : rounded(o->lo + (o->hi - o->lo) * u, o->dtype);
        }
        const int64_t *shape = o->row_stride ? (int64_t[]){o->shape[0], o->row_stride} : o->shape;
        store[i] = vs_test_tensor();
        if (vs_tensor_alloc(store[i], o->dtype, be->device, o->ndim, shape) != VS_OK) {
            fprintf(stderr, "  %s: %s\n", vs_op_name(r->op), vs_last_error());
            result = 1;
            break;
        }
        if (o->row_stride) { /* garbage between the rows: a view must not read it */
            void *fill = vs_test_malloc((size_t)(o->shape[0] * o->row_stride) * 4);
            for (int64_t j = 0; j < o->shape[0] * o->row_stride; j++)
                ((float *)fill)[j] = NAN;
            if (transfer(store[i], fill, 1) != VS_OK) result = 1;
        }
        tensors[i] = *store[i];
        tensors[i].owned = 0;
        for (int d = 0; d < o->ndim; d++)
            tensors[i].shape[d] = o->shape[d];
        t[i] = &tensors[i];
        void *bytes = to_bytes(pb.x[i], n, o->dtype); /* NaN poison for outputs and scratch */
        if (transfer(t[i], bytes, 1) != VS_OK) result = 1;
    }
    vs_status s = result ? VS_OK : k->run(&pb, t);
    if (!result && s == VS_OK) s = vs_op_sync(be->device);
    if (!result && s == VS_ERR_UNSUPPORTED) {
        printf("  skip row %d (%s) on %s: %s\n", index, vs_op_name(r->op), be->name, vs_last_error());
        result = 2;
    } else if (!result && s != VS_OK) {
        fprintf(stderr, "  row %d (%s) on %s: %s: %s\n", index, vs_op_name(r->op), be->name,
                vs_status_name(s), vs_last_error());
        result = 1;
    }
    for (int i = 0; i < MAX_OPERANDS && !result; i++) { /* what the backend wrote */
        const operand *o = &pb.o[i];
        if (o->role != OUT && o->role != INOUT) continue;
        const int64_t n = count(o);
        void *bytes = vs_test_malloc((size_t)n * 4 + 4);
        got[i] = vs_test_malloc((size_t)n * 4 + 4);
        if (transfer(t[i], bytes, 0) != VS_OK)
            result = 1;
        else
            vs_convert(got[i], VS_F32, bytes, o->dtype, n);
    }
    if (!result) k->reference(&pb);
    const double tol = r->tol[be->activations != VS_F32] > 0 ? r->tol[be->activations != VS_F32]
                       : be->activations == VS_F32           ? 1e-5
                                                             : 1e-2;
    for (int i = 0; i < MAX_OPERANDS && !result; i++) {
        if (!got[i]) continue;
        const int64_t n = count(&pb.o[i]);
        for (int64_t j = 0; j < n && !result; j++)
            if (!isfinite(got[i][j])) {
                fprintf(stderr,
                        "  row %d (%s) on %s: operand %d element %lld is %g (not written?), seed %llu\n",
                        index, vs_op_name(r->op), be->name, i, (long long)j, got[i][j],
                        (unsigned long long)g_seed);
                result = 1;
            }
        const double err = result ? 0 : vs_test_rel_l2(got[i], pb.x[i], n);
        if (!result && !(err <= tol)) {
            fprintf(stderr, "  row %d (%s) on %s: operand %d rel L2 error %.3g > %.3g, seed %llu\n", index,
                    vs_op_name(r->op), be->name, i, err, tol, (unsigned long long)g_seed);
            result = 1;
        }
    }
    vs_test_release_to(mark);
    return result;
}

/* Every row on every backend present. */
TEST(every_row_on_every_backend) {
    const char *env = getenv("VS_TEST_SEED");
    g_seed = env && *env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)clock() << 32;
    printf("  seed %llu (VS_TEST_SEED repeats it)\n", (unsigned long long)g_seed);
    const vs_backend *backends[2] = {vs_backend_for(VS_CPU),
                                     vs_cuda_device_count() > 0 ? vs_backend_for(VS_CUDA) : NULL};
    int failed = 0;
    for (int b = 0; b < 2; b++) {
        if (!backends[b]) continue;
        int passed = 0, skipped = 0, bad = 0;
        for (int i = 0; i < (int)(sizeof rows / sizeof rows[0]); i++) {
            const int res = run_row(&rows[i], i, backends[b]);
            passed += res == 0, bad += res == 1, skipped += res == 2;
        }
        printf("  %s: %d rows passed, %d skipped (unsupported), %d failed\n", backends[b]->name, passed,
               skipped, bad);
        failed += bad;
    }
    CHECK(failed == 0);
    return 0;
}

/* Every op has a kind, so a row of any op runs. */
TEST(every_op_has_a_test_kind) {
    for (int op = 0; op < VS_OP_COUNT; op++)
        CHECK_MSG(kinds[op].plan != NULL, "no kind for %s", vs_op_name((vs_op_id)op));
    return 0;
}

RUN_TESTS(T(every_row_on_every_backend), T(every_op_has_a_test_kind))
