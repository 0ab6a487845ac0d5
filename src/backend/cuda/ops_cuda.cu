/* Element-wise and row-wise kernels of the model ops (src/ops/ops.h): norms
 * with modulation, q/k norms + RoPE, gated residuals, patches, conversions.
 * All math in f32; bf16 stored as uint16_t and moved 8 at a time (16 bytes). */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "backend/cuda/block_reduce.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/fp8_codes.cuh"
#include "backend/cuda/ops_cuda.h"
#include "backend/cuda/vec8.cuh"
#include "core/hash.h"

namespace {

constexpr int kThreads = 256;
/* Row kernels keep a row in registers: each thread holds up to kRowChunks
 * groups of 8 values, so one block of <= 1024 threads covers 32768 columns. */
constexpr int kRowChunks = 4;
constexpr int64_t kMaxRowDim = 1024 * 8 * kRowChunks;

/* Threads for a row of `dim` values: enough for kRowChunks groups of 8 each, whole warps. */
int row_threads(int64_t dim) {
    int64_t groups = (dim / 8 + kRowChunks - 1) / kRowChunks;
    int64_t t = (groups + 31) / 32 * 32;
    return (int)(t < 32 ? 32 : t);
}

int grid_for(int64_t n, int threads) {
    int64_t blocks = (n + threads - 1) / threads;
    return (int)(blocks > 65536 ? 65536 : blocks < 1 ? 1 : blocks);
}

/* One block per row: mean, then variance about the mean from the registers, then the affine and modulation.
 * With q: the row's BF16 values (what y holds) stay in the registers, and their E4M3 codes and scale follow
 * from the row's largest magnitude (vs_op_quantize_fp8's, bit for bit); y is written only when given.
 * MaxThreads: the launch's bound (rows over 16384 values take 1024 threads, which caps the registers). */
template <int MaxThreads>
__global__ void __launch_bounds__(MaxThreads)
    layernorm_modulate_kernel(uint16_t *y, uint8_t *q, float *q_scale, const float *x, const float *weight,
                              const float *bias, const float *shift, const float *scale, int64_t mod_stride,
                              int64_t tokens, int dim, float eps) {
    __shared__ float scratch[32];
    const int64_t row = blockIdx.x;
    const float *xr = x + row * dim;
    float v[kRowChunks][8];
    float sum = 0.0f;
#pragma unroll
    for (int c = 0; c < kRowChunks; c++) {
        const int i = (c * blockDim.x + threadIdx.x) * 8;
        if (i < dim) {
            vs_load8(xr + i, v[c]);
#pragma unroll
            for (int j = 0; j < 8; j++) sum += v[c][j];
        }
    }
    const float mean = vs_block_sum(sum, scratch) / dim;
    float sq = 0.0f;
#pragma unroll
    for (int c = 0; c < kRowChunks; c++) {
        const int i = (c * blockDim.x + threadIdx.x) * 8;
        if (i < dim)
#pragma unroll
            for (int j = 0; j < 8; j++) sq += (v[c][j] - mean) * (v[c][j] - mean);
    }
    const float rstd = rsqrtf(vs_block_sum(sq, scratch) / dim + eps);
    const int64_t b = row / tokens;
#pragma unroll
    for (int c = 0; c < kRowChunks; c++) {
        const int i = (c * blockDim.x + threadIdx.x) * 8;
        if (i >= dim) continue;
        float o[8], p[8];
#pragma unroll
        for (int j = 0; j < 8; j++) o[j] = (v[c][j] - mean) * rstd;
        if (weight) {
            vs_load8(weight + i, p);
#pragma unroll
            for (int j = 0; j < 8; j++) o[j] *= p[j];
        }
        if (bias) {
            vs_load8(bias + i, p);
#pragma unroll
            for (int j = 0; j < 8; j++) o[j] += p[j];
        }
        if (scale) {
            float s[8];
            vs_load8(scale + b * mod_stride + i, s);
            vs_load8(shift + b * mod_stride + i, p);
#pragma unroll
            for (int j = 0; j < 8; j++) o[j] = o[j] * (1.0f + s[j]) + p[j];
        }
        if (y) vs_store8(y + row * dim + i, o);
        if (q)
#pragma unroll
            for (int j = 0; j < 8; j++)
                v[c][j] = vs_round_to_bf16(o[j]);
    }
    if (q) vs_fp8_block_row_codes(v, dim, q + row * dim, q_scale + row, scratch);
}

/* Sum over the `group` neighbouring lanes (a power of two <= 32, aligned) that hold one head's values. */
__device__ __forceinline__ float group_sum(float v, int group) {
    for (int o = group / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* One block per row: the norm (RMS over the row when the weight spans it, RMS over each head (per_head), or
 * with a bias LayerNorm over each head; none without a weight), then each head's pairs rotated. A group of 8
 * values is 4 whole pairs of one head (head_dim % 8 == 0), whose angles are 4 consecutive floats of the
 * table row: one float4 each. Per head, the head_dim / 8 threads holding a head's groups of a chunk are
 * neighbouring lanes of one warp (head_dim / 8 a power of two <= 32, blocks of whole warps), so a butterfly
 * over them sums the head; LayerNorm takes two (the mean, then the variance about it from the registers:
 * no cancellation for heads far from zero). The row is normed and rotated in f32 and rounded to BF16 once:
 * a norm op followed by a rotation would round twice, as diffusers' BF16 attention processors do; once is
 * closer to the f32 math. */
__global__ void qk_norm_rope_kernel(uint16_t *x, const float *weight, const float *bias, const float *cos_table,
                                    const float *sin_table, int64_t tokens, int dim, int head_dim, int per_head,
                                    float eps) {
    __shared__ float scratch[32];
    const int64_t row = blockIdx.x;
    uint16_t *xr = x + row * dim;
    const int group = head_dim / 8;
    float v[kRowChunks][8], mean[kRowChunks], rstd[kRowChunks];
    float total = 0.0f; /* the row's sum of squares */
#pragma unroll
    for (int c = 0; c < kRowChunks; c++) {
        const int i = (c * blockDim.x + threadIdx.x) * 8;
        float sum = 0.0f, sq = 0.0f;
        if (i < dim) {
            vs_load8(xr + i, v[c]);
#pragma unroll
            for (int j = 0; j < 8; j++) sum += v[c][j], sq += v[c][j] * v[c][j];
        }
        total += sq;
        mean[c] = 0.0f, rstd[c] = 1.0f;
        if (bias) { /* whole warps take every branch: the lanes past the row add zeros */
            mean[c] = group_sum(sum, group) / head_dim;
            float dev = 0.0f;
            if (i < dim)
#pragma unroll
                for (int j = 0; j < 8; j++) dev += (v[c][j] - mean[c]) * (v[c][j] - mean[c]);
            rstd[c] = rsqrtf(group_sum(dev, group) / head_dim + eps);
        } else if (weight && per_head) {
            rstd[c] = rsqrtf(group_sum(sq, group) / head_dim + eps);
        }
    }
    if (weight && !per_head) {
        const float r = rsqrtf(vs_block_sum(total, scratch) / dim + eps);
#pragma unroll
        for (int c = 0; c < kRowChunks; c++) rstd[c] = r;
    }
    const int half = head_dim / 2;
    const int64_t n = row % tokens;
#pragma unroll
    for (int c = 0; c < kRowChunks; c++) {
        const int i = (c * blockDim.x + threadIdx.x) * 8;
        if (i >= dim) continue;
        float o[8], w[8] = {1, 1, 1, 1, 1, 1, 1, 1}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (weight) vs_load8(weight + (per_head ? i % head_dim : i), w);
        if (bias) vs_load8(bias + i % head_dim, b);
#pragma unroll
        for (int j = 0; j < 8; j++) o[j] = (v[c][j] - mean[c]) * rstd[c] * w[j] + b[j];
        if (cos_table) {
            const int pair = (i % head_dim) / 2;
            const float4 cs = *reinterpret_cast<const float4 *>(cos_table + n * half + pair);
            const float4 sn = *reinterpret_cast<const float4 *>(sin_table + n * half + pair);
            const float cv[4] = {cs.x, cs.y, cs.z, cs.w}, sv[4] = {sn.x, sn.y, sn.z, sn.w};
#pragma unroll
            for (int p = 0; p < 4; p++) {
                const float x1 = o[2 * p], x2 = o[2 * p + 1];
                o[2 * p] = x1 * cv[p] - x2 * sv[p];
                o[2 * p + 1] = x1 * sv[p] + x2 * cv[p];
            }
        }
        vs_store8(xr + i, o);
    }
}

/* T5's RMSNorm, one block per row: no mean, f32 statistics from the registers, weight. */
template <typename Y>
__global__ void rmsnorm_kernel(Y *y, const float *x, const float *weight, int dim, float eps) {
    __shared__ float scratch[32];
    const int64_t row = blockIdx.x;
    float v[kRowChunks][8];
    float sq = 0.0f;
#pragma unroll
    for (int c = 0; c < kRowChunks; c++) {
        const int i = (c * blockDim.x + threadIdx.x) * 8;
        if (i < dim) {
            vs_load8(x + row * dim + i, v[c]);
#pragma unroll
            for (int j = 0; j < 8; j++) sq += v[c][j] * v[c][j];
        }
    }
    const float rstd = rsqrtf(vs_block_sum(sq, scratch) / dim + eps);
#pragma unroll
    for (int c = 0; c < kRowChunks; c++) {
        const int i = (c * blockDim.x + threadIdx.x) * 8;
        if (i >= dim) continue;
        float o[8], w[8];
        vs_load8(weight + i, w);
#pragma unroll
        for (int j = 0; j < 8; j++) o[j] = v[c][j] * rstd * w[j];
        vs_store8(y + row * dim + i, o); /* y may be x (F32): the row was read above */
    }
}

__global__ void mul_bf16_kernel(uint16_t *out, const uint16_t *a, const uint16_t *b, int64_t groups) {
    for (int64_t g = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; g < groups; g += (int64_t)gridDim.x * blockDim.x) {
        float av[8], bv[8];
        vs_load8(a + g * 8, av);
        vs_load8(b + g * 8, bv);
#pragma unroll
        for (int j = 0; j < 8; j++) av[j] *= bv[j];
        vs_store8(out + g * 8, av);
    }
}

/* One thread per 8 values of an output row. */
template <typename T>
__global__ void embedding_kernel(float *out, const T *table, const int32_t *ids, int64_t vocab, int64_t dim,
                                 int64_t groups) {
    for (int64_t g = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; g < groups; g += (int64_t)gridDim.x * blockDim.x) {
        const int64_t row = g / (dim / 8), col = g % (dim / 8) * 8;
        const int64_t id = ids[row];
        float v[8];
        if (id >= 0 && id < vocab)
            vs_load8(table + id * dim + col, v);
        else
#pragma unroll
            for (int j = 0; j < 8; j++) v[j] = __int_as_float(0x7fc00000);
        vs_store8(out + row * dim + col, v);
    }
}

/* One block per score row (query i of head h, entry b). The row, with bias and
 * mask applied, is kept in shared memory, so the BF16 probabilities can then
 * be written over the first half of the row's own bytes: every read of the
 * F32 row happens before the reductions' barriers, every write after. */
__global__ void relpos_softmax_kernel(float *scores, const float *rel_table, const int32_t *buckets,
                                      const int32_t *mask, int heads, int n, int64_t ld) {
    extern __shared__ float row_s[];
    __shared__ float scratch[32];
    const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    float *row = scores + (((int64_t)b * heads + h) * n + i) * ld;
    const int32_t *keep = mask + (int64_t)b * n;
    float m = -INFINITY;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float v = keep[j] ? row[j] + rel_table[(int64_t)buckets[j - i + n - 1] * heads + h] : -INFINITY;
        row_s[j] = v;
        m = fmaxf(m, v);
    }
    m = vs_block_max(m, scratch);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float e = m == -INFINITY ? 0.0f : __expf(row_s[j] - m);
        row_s[j] = e;
        sum += e;
    }
    sum = vs_block_sum(sum, scratch);
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    uint16_t *p = reinterpret_cast<uint16_t *>(row);
    for (int j = threadIdx.x; j < n; j += blockDim.x)
        p[j] = vs_f32_to_bf16_bits(row_s[j] * inv);
}

__global__ void gated_residual_kernel(float *x, const uint16_t *y, const float *gate, int64_t gate_stride,
                                      int64_t groups, int64_t groups_per_row, int64_t tokens) {
    for (int64_t g = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; g < groups; g += (int64_t)gridDim.x * blockDim.x) {
        const int64_t row = g / groups_per_row, col = g % groups_per_row * 8, e = g * 8;
        float xv[8], yv[8];
        vs_load8(x + e, xv);
        vs_load8(y + e, yv);
        if (gate) {
            float gv[8];
            vs_load8(gate + row / tokens * gate_stride + col, gv);
#pragma unroll
            for (int j = 0; j < 8; j++) xv[j] += yv[j] * gv[j];
        } else {
#pragma unroll
            for (int j = 0; j < 8; j++) xv[j] += yv[j];
        }
        vs_store8(x + e, xv);
    }
}

struct strided5 {
    int ndim;
    int64_t shape[VS_MAX_DIMS], a[VS_MAX_DIMS], b[VS_MAX_DIMS];
};

__global__ void add_kernel(float *out, const float *a, const float *b, strided5 s, int64_t n) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        int64_t rest = e, oa = 0, ob = 0;
        for (int d = s.ndim - 1; d >= 0; d--) {
            const int64_t i = rest % s.shape[d];
            rest /= s.shape[d];
            oa += i * s.a[d], ob += i * s.b[d];
        }
        out[e] = a[oa] + b[ob];
    }
}

__global__ void silu_kernel(float *y, const float *x, int64_t n) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x)
        y[e] = x[e] / (1.0f + expf(-x[e]));
}

__global__ void silu_bf16_kernel(uint16_t *x, int64_t n) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const float v = vs_bf16_bits_to_f32(x[e]);
        x[e] = vs_f32_to_bf16_bits(v / (1.0f + expf(-v)));
    }
}

__device__ __forceinline__ float gelu_tanh(float v) {
    return 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
}

__device__ __forceinline__ float load_w(const float *w, int64_t i) { return w[i]; }
__device__ __forceinline__ float load_w(const uint16_t *w, int64_t i) {
    return vs_bf16_bits_to_f32(w[i]);
}

/* y = x W^T + b for a few f32 rows: one warp per output column reads its weight
 * row once per 8 input rows (coalesced along `in`) and keeps 8 sums. */
template <typename W>
__global__ void linear_f32_kernel(float *y, const float *x, const W *w, const W *bias, int64_t rows, int64_t out,
                                  int64_t in, int gelu) {
    const int64_t o = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x & 31;
    if (o >= out) return;
    const W *wr = w + o * in;
    for (int64_t r0 = 0; r0 < rows; r0 += 8) {
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int64_t i = lane; i < in; i += 32) {
            const float wv = load_w(wr, i);
#pragma unroll
            for (int r = 0; r < 8; r++)
                if (r0 + r < rows) acc[r] += wv * x[(r0 + r) * in + i];
        }
#pragma unroll
        for (int r = 0; r < 8; r++) {
            float s = acc[r];
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
            if (lane == 0 && r0 + r < rows) {
                if (bias) s += load_w(bias, o);
                y[(r0 + r) * out + o] = gelu ? gelu_tanh(s) : s;
            }
        }
    }
}

/* y = x W^T + b in bf16 for shapes cuBLASLt's aligned path cannot take
 * (rows not a multiple of 16 bytes, such as a pixel-space patch of 12
 * values): one thread per output element, f32 sums. Only small layers
 * (patch embedding, output projection) meet it. */
__global__ void linear_bf16_unaligned_kernel(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *bias,
                                             int64_t rows, int64_t out, int64_t in, int gelu) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < rows * out;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = e / out, o = e % out;
        float s = bias ? vs_bf16_bits_to_f32(bias[o]) : 0.f;
        for (int64_t i = 0; i < in; i++)
            s += vs_bf16_bits_to_f32(x[r * in + i]) * vs_bf16_bits_to_f32(w[o * in + i]);
        y[e] = vs_f32_to_bf16_bits(gelu ? gelu_tanh(s) : s);
    }
}

struct patch_shape {
    int64_t batch, channels, frames, height, width;
    int pt, ph, pw;
};

/* One thread per patch element e = ((b*N + n) * patch + col): patchify reads the
 * latent it comes from (col = (c, i, j, k)); unpatchify writes it (col = (i, j, k, c)). */
__device__ __forceinline__ int64_t latent_index(const patch_shape &s, int64_t e, bool channels_last) {
    const int64_t vol = (int64_t)s.pt * s.ph * s.pw, patch = s.channels * vol;
    const int64_t fp = s.frames / s.pt, hp = s.height / s.ph, wp = s.width / s.pw;
    int64_t col = e % patch, token = e / patch;
    const int64_t w = token % wp, h = token / wp % hp, f = token / (wp * hp) % fp, b = token / (wp * hp * fp);
    int64_t c, ijk;
    if (channels_last) c = col % s.channels, ijk = col / s.channels;
    else c = col / vol, ijk = col % vol;
    const int k = (int)(ijk % s.pw), j = (int)(ijk / s.pw % s.ph), i = (int)(ijk / ((int64_t)s.pw * s.ph));
    return (((b * s.channels + c) * s.frames + f * s.pt + i) * s.height + h * s.ph + j) * s.width + w * s.pw + k;
}

__global__ void patchify_kernel(uint16_t *patches, const float *lat, patch_shape s, int64_t n) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x)
        patches[e] = vs_f32_to_bf16_bits(lat[latent_index(s, e, false)]);
}

__global__ void unpatchify_kernel(float *lat, const uint16_t *patches, patch_shape s, int64_t n) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x)
        lat[latent_index(s, e, true)] = vs_bf16_bits_to_f32(patches[e]);
}

__device__ __forceinline__ float load_any(const void *p, vs_dtype t, int64_t i) {
    if (t == VS_F32) return static_cast<const float *>(p)[i];
    if (t == VS_BF16) return vs_bf16_bits_to_f32(static_cast<const uint16_t *>(p)[i]);
    return __half2float(__ushort_as_half(static_cast<const uint16_t *>(p)[i]));
}
__device__ __forceinline__ void store_any(void *p, vs_dtype t, int64_t i, float v) {
    if (t == VS_F32) static_cast<float *>(p)[i] = v;
    else if (t == VS_BF16)
        static_cast<uint16_t *>(p)[i] = vs_f32_to_bf16_bits(v);
    else static_cast<uint16_t *>(p)[i] = __half_as_ushort(__float2half_rn(v));
}

__global__ void convert_kernel(void *dst, vs_dtype dt, const void *src, vs_dtype st, int64_t n) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x)
        store_any(dst, dt, e, load_any(src, st, e));
}

__global__ void fill_uniform_kernel(void *dst, vs_dtype dt, int64_t n, uint64_t seed, float lo, float hi) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x)
        store_any(dst, dt, e, vs_hash_uniform_range(seed, (uint64_t)e, lo, hi));
}

vs_status check_row_dim(const char *op, int64_t dim) {
    if (dim % 8 || dim > kMaxRowDim)
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: row length %lld must be a multiple of 8 and at most %lld", op,
                       (long long)dim, (long long)kMaxRowDim);
    return VS_OK;
}

vs_status check_rows(const char *op, int64_t rows) {
    if (rows > 0x7fffffffLL) return vs_fail(VS_ERR_UNSUPPORTED, "%s: %lld rows exceed the grid", op, (long long)rows);
    return VS_OK;
}

} // namespace

extern "C" vs_status vs_cuda_layernorm_modulate(uint16_t *y, uint8_t *q, float *q_scale, const float *x,
                                                const float *weight, const float *bias, const float *shift,
                                                const float *scale, int64_t mod_stride, int64_t rows,
                                                int64_t tokens, int64_t dim, float eps) {
    VS_TRY(check_row_dim("layernorm_modulate", dim));
    VS_TRY(check_rows("layernorm_modulate", rows));
    if (rows == 0) return VS_OK;
    const int threads = row_threads(dim);
    auto *kernel = threads > 512 ? layernorm_modulate_kernel<1024> : layernorm_modulate_kernel<512>;
    kernel<<<(unsigned)rows, threads>>>(y, q, q_scale, x, weight, bias, shift, scale, mod_stride, tokens, (int)dim,
                                        eps);
    VS_CUDA_LAUNCH_CHECK("layernorm_modulate");
    return VS_OK;
}

extern "C" vs_status vs_cuda_qk_norm_rope(uint16_t *x, const float *weight, const float *bias,
                                          const float *cos_table, const float *sin_table, int64_t rows,
                                          int64_t tokens, int64_t dim, int head_dim, int per_head, float eps) {
    VS_TRY(check_row_dim("qk_norm_rope", dim));
    VS_TRY(check_rows("qk_norm_rope", rows));
    if ((cos_table || per_head) && head_dim % 8)
        return vs_fail(VS_ERR_UNSUPPORTED, "qk_norm_rope: head_dim %d is not a multiple of 8", head_dim);
    const int group = head_dim / 8;
    if (per_head && (group > 32 || (group & (group - 1))))
        return vs_fail(VS_ERR_UNSUPPORTED, "qk_norm_rope: a per-head norm takes head_dim 8, 16, .., 256, not %d",
                       head_dim);
    if (rows == 0) return VS_OK;
    qk_norm_rope_kernel<<<(unsigned)rows, row_threads(dim)>>>(x, weight, bias, cos_table, sin_table, tokens,
                                                              (int)dim, head_dim, per_head, eps);
    VS_CUDA_LAUNCH_CHECK("qk_norm_rope");
    return VS_OK;
}

extern "C" vs_status vs_cuda_rmsnorm(void *y, vs_dtype y_dtype, const float *x, const float *weight, int64_t rows,
                                     int64_t dim, float eps) {
    VS_TRY(check_row_dim("rmsnorm", dim));
    VS_TRY(check_rows("rmsnorm", rows));
    if (rows == 0) return VS_OK;
    if (y_dtype == VS_BF16)
        rmsnorm_kernel<<<(unsigned)rows, row_threads(dim)>>>(static_cast<uint16_t *>(y), x, weight, (int)dim, eps);
    else
        rmsnorm_kernel<<<(unsigned)rows, row_threads(dim)>>>(static_cast<float *>(y), x, weight, (int)dim, eps);
    VS_CUDA_LAUNCH_CHECK("rmsnorm");
    return VS_OK;
}

extern "C" vs_status vs_cuda_mul_bf16(uint16_t *out, const uint16_t *a, const uint16_t *b, int64_t n) {
    if (n % 8) return vs_fail(VS_ERR_UNSUPPORTED, "mul: %lld values is not a multiple of 8", (long long)n);
    if (n == 0) return VS_OK;
    mul_bf16_kernel<<<grid_for(n / 8, kThreads), kThreads>>>(out, a, b, n / 8);
    VS_CUDA_LAUNCH_CHECK("mul");
    return VS_OK;
}

extern "C" vs_status vs_cuda_embedding(float *out, const void *table, vs_dtype table_dtype, const int32_t *ids,
                                       int64_t rows, int64_t vocab, int64_t dim) {
    if (dim % 8) return vs_fail(VS_ERR_UNSUPPORTED, "embedding: row length %lld is not a multiple of 8", (long long)dim);
    const int64_t groups = rows * dim / 8;
    if (groups == 0) return VS_OK;
    if (table_dtype == VS_BF16)
        embedding_kernel<<<grid_for(groups, kThreads), kThreads>>>(out, static_cast<const uint16_t *>(table), ids,
                                                                   vocab, dim, groups);
    else
        embedding_kernel<<<grid_for(groups, kThreads), kThreads>>>(out, static_cast<const float *>(table), ids, vocab,
                                                                   dim, groups);
    VS_CUDA_LAUNCH_CHECK("embedding");
    return VS_OK;
}

extern "C" vs_status vs_cuda_relpos_softmax(float *scores, const float *rel_table, const int32_t *buckets,
                                            const int32_t *mask, int64_t batch, int64_t heads, int64_t n, int64_t ld) {
    /* The row lives in shared memory: 48 KiB, the default limit, is 12288 keys. */
    const size_t smem = (size_t)n * sizeof(float);
    if (smem > 48 * 1024 || heads > 65535 || batch > 65535)
        return vs_fail(VS_ERR_UNSUPPORTED, "attention_relpos: %lld keys, %lld heads, batch %lld exceed the kernel's "
                       "limits (12288 keys, 65535 heads and entries)", (long long)n, (long long)heads, (long long)batch);
    if (n == 0 || heads == 0 || batch == 0) return VS_OK;
    const dim3 grid((unsigned)n, (unsigned)heads, (unsigned)batch);
    relpos_softmax_kernel<<<grid, 128, smem>>>(scores, rel_table, buckets, mask, (int)heads, (int)n, ld);
    VS_CUDA_LAUNCH_CHECK("attention_relpos softmax");
    return VS_OK;
}

extern "C" vs_status vs_cuda_gated_residual(float *x, const uint16_t *y, const float *gate, int64_t gate_stride,
                                            int64_t rows, int64_t tokens, int64_t dim) {
    if (dim % 8) return vs_fail(VS_ERR_UNSUPPORTED, "gated_residual: row length %lld is not a multiple of 8", (long long)dim);
    const int64_t groups = rows * dim / 8;
    if (groups == 0) return VS_OK;
    gated_residual_kernel<<<grid_for(groups, kThreads), kThreads>>>(x, y, gate, gate_stride, groups, dim / 8, tokens);
    VS_CUDA_LAUNCH_CHECK("gated_residual");
    return VS_OK;
}

extern "C" vs_status vs_cuda_add_f32(float *out, const float *a, const int64_t *a_stride, const float *b,
                                     const int64_t *b_stride, const int64_t *shape, int ndim) {
    strided5 s = {};
    s.ndim = ndim;
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) s.shape[d] = shape[d], s.a[d] = a_stride[d], s.b[d] = b_stride[d], n *= shape[d];
    if (n == 0) return VS_OK;
    add_kernel<<<grid_for(n, kThreads), kThreads>>>(out, a, b, s, n);
    VS_CUDA_LAUNCH_CHECK("add");
    return VS_OK;
}

extern "C" vs_status vs_cuda_silu_f32(float *y, const float *x, int64_t n) {
    if (n == 0) return VS_OK;
    silu_kernel<<<grid_for(n, kThreads), kThreads>>>(y, x, n);
    VS_CUDA_LAUNCH_CHECK("silu");
    return VS_OK;
}

extern "C" vs_status vs_cuda_silu_bf16(uint16_t *x, int64_t n) {
    if (n == 0) return VS_OK;
    silu_bf16_kernel<<<grid_for(n, kThreads), kThreads>>>(x, n);
    VS_CUDA_LAUNCH_CHECK("silu");
    return VS_OK;
}

extern "C" vs_status vs_cuda_linear_bf16_unaligned(uint16_t *y, const uint16_t *x, const uint16_t *w,
                                                   const uint16_t *bias, int64_t rows, int64_t out, int64_t in,
                                                   int gelu) {
    const int64_t n = rows * out;
    if (n == 0) return VS_OK;
    linear_bf16_unaligned_kernel<<<grid_for(n, kThreads), kThreads>>>(y, x, w, bias, rows, out, in, gelu);
    VS_CUDA_LAUNCH_CHECK("linear (bf16, unaligned)");
    return VS_OK;
}

extern "C" vs_status vs_cuda_linear_f32(float *y, const float *x, const void *w, const void *bias, vs_dtype w_dtype,
                                        int64_t rows, int64_t out, int64_t in, int gelu) {
    const int warps = kThreads / 32;
    const int64_t blocks = (out + warps - 1) / warps;
    if (blocks > 0x7fffffffLL) return vs_fail(VS_ERR_UNSUPPORTED, "linear (f32): %lld outputs", (long long)out);
    if (w_dtype == VS_F32)
        linear_f32_kernel<float><<<(unsigned)blocks, kThreads>>>(y, x, static_cast<const float *>(w),
                                                                 static_cast<const float *>(bias), rows, out, in, gelu);
    else
        linear_f32_kernel<uint16_t><<<(unsigned)blocks, kThreads>>>(y, x, static_cast<const uint16_t *>(w),
                                                                    static_cast<const uint16_t *>(bias), rows, out, in,
                                                                    gelu);
    VS_CUDA_LAUNCH_CHECK("linear (f32)");
    return VS_OK;
}

extern "C" vs_status vs_cuda_patchify(uint16_t *patches, const float *latents, int64_t batch, int64_t channels,
                                      int64_t frames, int64_t height, int64_t width, const int patch[3]) {
    const patch_shape s = {batch, channels, frames, height, width, patch[0], patch[1], patch[2]};
    const int64_t n = batch * channels * frames * height * width;
    if (n == 0) return VS_OK;
    patchify_kernel<<<grid_for(n, kThreads), kThreads>>>(patches, latents, s, n);
    VS_CUDA_LAUNCH_CHECK("patchify");
    return VS_OK;
}

extern "C" vs_status vs_cuda_unpatchify(float *latents, const uint16_t *patches, int64_t batch, int64_t channels,
                                        int64_t frames, int64_t height, int64_t width, const int patch[3]) {
    const patch_shape s = {batch, channels, frames, height, width, patch[0], patch[1], patch[2]};
    const int64_t n = batch * channels * frames * height * width;
    if (n == 0) return VS_OK;
    unpatchify_kernel<<<grid_for(n, kThreads), kThreads>>>(latents, patches, s, n);
    VS_CUDA_LAUNCH_CHECK("unpatchify");
    return VS_OK;
}

extern "C" vs_status vs_cuda_convert(void *dst, vs_dtype dst_dtype, const void *src, vs_dtype src_dtype, int64_t n) {
    if (n == 0) return VS_OK;
    if (dst_dtype == src_dtype) return vs_cuda_copy(dst, src, (size_t)n * vs_dtype_size(src_dtype));
    convert_kernel<<<grid_for(n, kThreads), kThreads>>>(dst, dst_dtype, src, src_dtype, n);
    VS_CUDA_LAUNCH_CHECK("convert");
    return VS_OK;
}

extern "C" vs_status vs_cuda_fill_uniform(void *data, vs_dtype dtype, int64_t n, uint64_t seed, float lo, float hi) {
    if (n == 0) return VS_OK;
    fill_uniform_kernel<<<grid_for(n, kThreads), kThreads>>>(data, dtype, n, seed, lo, hi);
    VS_CUDA_LAUNCH_CHECK("fill_uniform");
    return VS_OK;
}

extern "C" vs_status vs_cuda_copy(void *dst, const void *src, size_t bytes) {
    VS_CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
    return VS_OK;
}

extern "C" vs_status vs_cuda_copy_2d(void *dst, size_t dst_pitch, const void *src, size_t src_pitch, size_t width,
                                     size_t rows) {
    /* On the legacy default stream, ordered with the kernels around it. */
    VS_CUDA_TRY(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, width, rows, cudaMemcpyDeviceToDevice, 0));
    return VS_OK;
}

extern "C" vs_status vs_cuda_sync(void) {
    VS_CUDA_TRY(cudaDeviceSynchronize());
    return VS_OK;
}
