/* FP8 dense attention (--attention-precision fp8): Q, K and V quantised to E4M3, then cuDNN's FP8 fused
 * flash attention (cudnn_attention.h), BF16 out.
 *
 * Scales. K and V get one scale per head, amax_h / 448 (amax_h: the head's largest magnitude over every
 * batch entry and token), so one loud head does not crush the others' resolution. cuDNN's FP8 graph takes
 * one descale per tensor, so the per-head scales are folded where one value can stand for all heads:
 *   - K_h = Kc_h * sk_h, and q . K_h = (q sk_h) . Kc_h: Q's codes are those of Q_h * sk_h / sq, one sq for
 *     every head (sq = max_h amax(Q_h) sk_h / 448), so every head's logits are sq * Qc_h . Kc_h: descale_q
 *     sq, descale_k 1. E4M3 is a floating-point format: a head whose Q_h sk_h is smaller than another's
 *     keeps its relative precision (down to E4M3's subnormals, 1/28672 of the largest normal magnitude).
 *   - V_h = Vc_h * sv_h: with E4M3 out, cuDNN writes P.Vc_h times one scale_o, and the conversion to BF16,
 *     which runs per head anyway, multiplies by sv_h. With BF16 out (no such pass) the heads run one per
 *     call, descale_v sv_h.
 * So one cuDNN call serves a group of heads (as many as a 256 MiB scratch of codes holds), not one head.
 *
 * K smoothing. Before quantising, K loses its mean over the tokens, per batch entry, head and channel:
 * q . (k_j - mean) = q . k_j - q . mean, a constant per query row, which the softmax cancels exactly. Keys
 * of DiTs share a large common component (a few channels far from zero for every token); without it the
 * scale is set by that component and the differences between keys, which are all the softmax sees, fall
 * into E4M3's coarse steps (SageAttention's observation). Q and V are not shifted (V's mean would have to
 * be added back to the output; Q's is not softmax-invariant).
 *
 * Passes: the column sums of K, then every head's amax of Q, K - mean and V (atomics on the float bits:
 * non-negative floats order as their unsigned bits), the scales, then per group of heads one quantising
 * kernel per tensor writing the group's [B, rows, heads, D] codes and the cuDNN call.
 *
 * The graph form (cudnn_attention.h) is the first cuDNN serves at the shape. In the forms with an E4M3
 * output, O's codes are P.Vc_h * kOutRange / 448: every output row is a convex combination of Vc_h's rows,
 * so |P.Vc_h| <= 448, with headroom for the rounding of P; one more kernel then writes them to out in BF16
 * (codes * amax_v / kOutRange per head). The padded form rounds the token counts up to VS_CUDNN_FP8_PAD:
 * the padded rows of the codes are zeros, cuDNN masks the padded keys, and the conversion skips the padded
 * query rows. */
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <pthread.h>
#include <stdlib.h>

#include <algorithm>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cudnn_attention.h"
#include "backend/cuda/fp8_attention.h"
#include "backend/cuda/fp8_codes.cuh"
#include "backend/cuda/vec8.cuh"
#include "core/devmem.h"
#include "core/log.h"

namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerChunk = 256; /* tokens one block of the statistics kernels walks */

/* sums[b, c] += sum over this block's tokens of x[b, n, c] (c = h * D + d < cols). */
__global__ void column_sums_kernel(float *sums, const __nv_bfloat16 *x, int64_t stride_b, int64_t stride_n,
                                   int rows, int cols) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.z;
    if (c >= cols) return;
    const int r0 = blockIdx.y * kRowsPerChunk, r1 = min(rows, r0 + kRowsPerChunk);
    const __nv_bfloat16 *xb = x + b * stride_b + c;
    float acc = 0.0f;
    for (int r = r0; r < r1; r++)
        acc += __bfloat162float(xb[(int64_t)r * stride_n]);
    atomicAdd(&sums[(int64_t)b * cols + c], acc);
}

/* amax_bits[c / D] = max(amax_bits[c / D], |x[b, n, c] - mean[b, c]|) over this block's tokens (mean:
 * sums * inv_rows, or 0 when sums is NULL). A warp's 32 columns lie in one head (D % 32 == 0), and cols % 32
 * == 0, so whole warps leave together before the shuffles. */
__global__ void head_amax_kernel(unsigned *amax_bits, const __nv_bfloat16 *x, int64_t stride_b, int64_t stride_n,
                                 int rows, int cols, int head_dim, const float *sums, float inv_rows) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x, b = blockIdx.z;
    if (c >= cols) return;
    const int r0 = blockIdx.y * kRowsPerChunk, r1 = min(rows, r0 + kRowsPerChunk);
    const __nv_bfloat16 *xb = x + b * stride_b + c;
    const float mean = sums ? sums[(int64_t)b * cols + c] * inv_rows : 0.0f;
    float m = 0.0f;
    for (int r = r0; r < r1; r++)
        m = fmaxf(m, fabsf(__bfloat162float(xb[(int64_t)r * stride_n]) - mean));
    for (int offset = 16; offset > 0; offset /= 2)
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, offset));
    if (threadIdx.x % 32 == 0) atomicMax(&amax_bits[c / head_dim], __float_as_uint(m));
}

constexpr int kSlot = VS_FP8_SLOT;

/* The largest magnitude O's E4M3 codes are scaled to (E4M3's largest is 448): headroom for P's rounding. */
constexpr float kOutRange = 384.0f;

/* The scales, from the amaxes of Q, K - mean and V (amax_bits [3H]; a zero head takes the scale 1):
 *   mul[h], mul[H + h], mul[2H + h]: what the quantising kernel multiplies head h of Q, K - mean and V by
 *     (sk_h / sq, 448 / amax_k, 448 / amax_v);
 *   descale_v[h] = sv_h = amax_v / 448 (the BF16-out forms' per-head calls), out_mul[h] = amax_v / kOutRange
 *     (E4M3 out codes to values);
 *   constants: scale_s 448, descale_s 1/448, one, sq (descale_q), scale_o kOutRange / 448; the lengths of the
 *   padded form. */
__global__ void scales_kernel(float *mul, float *descale_v, float *out_mul, float *constants,
                              int32_t *lengths, const unsigned *amax_bits, int heads, int batch, int seq_len,
                              int kv_len) {
    __shared__ unsigned sq_bits_max; /* the largest amax(Q_h) sk_h, as float bits (non-negative) */
    if (threadIdx.x == 0) sq_bits_max = 0;
    __syncthreads();
    for (int h = threadIdx.x; h < heads; h += blockDim.x) {
        const float amax_q = __uint_as_float(amax_bits[h]), amax_k = __uint_as_float(amax_bits[heads + h]),
                    amax_v = __uint_as_float(amax_bits[2 * heads + h]);
        atomicMax(&sq_bits_max, __float_as_uint(amax_q * vs_fp8_row_scale(amax_k)));
        mul[heads + h] = vs_fp8_row_multiplier(amax_k);
        mul[2 * heads + h] = vs_fp8_row_multiplier(amax_v);
        descale_v[h * kSlot] = vs_fp8_row_scale(amax_v);
        out_mul[h] = amax_v > 0.0f ? amax_v / kOutRange : 1.0f;
    }
    __syncthreads();
    const float sq = vs_fp8_row_scale(__uint_as_float(sq_bits_max));
    for (int h = threadIdx.x; h < heads; h += blockDim.x)
        mul[h] = vs_fp8_row_scale(__uint_as_float(amax_bits[heads + h])) / sq;
    for (int b = threadIdx.x; b < batch; b += blockDim.x)
        lengths[b] = seq_len, lengths[batch + b] = kv_len;
    if (threadIdx.x == 0) {
        constants[0] = 448.0f, constants[kSlot] = 1.0f / 448.0f, constants[2 * kSlot] = 1.0f;
        constants[3 * kSlot] = sq, constants[4 * kSlot] = kOutRange / 448.0f;
    }
}

/* codes[b, r, g, :] = e4m3((x[b, r, first + g, :] - mean[b, first + g, :]) * mul[first + g]) for the
 * group's heads g < count and r < rows, zeros for the padding rows up to rows_padded; eight values per
 * thread. */
__global__ void quantize_heads_kernel(uint8_t *codes, const __nv_bfloat16 *x, int64_t stride_b,
                                      int64_t stride_n, int batch, int rows, int rows_padded, int heads,
                                      int first, int count, int head_dim, const float *sums, float inv_rows,
                                      const float *mul) {
    const int groups = head_dim / 8;
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= (int64_t)batch * rows_padded * count * groups) return;
    const int g8 = (int)(i % groups);
    const int64_t brh = i / groups, br = brh / count;
    const int h = first + (int)(brh % count);
    const int b = (int)(br / rows_padded), r = (int)(br % rows_padded);
    if (r >= rows) {
        *reinterpret_cast<uint2 *>(codes + brh * head_dim + g8 * 8) = make_uint2(0, 0);
        return;
    }
    const int c = h * head_dim + g8 * 8;
    const uint4 x8 = *reinterpret_cast<const uint4 *>(x + b * stride_b + (int64_t)r * stride_n + c);
    const uint2 out =
        vs_fp8_codes8(x8, sums ? sums + (int64_t)b * heads * head_dim + c : nullptr, inv_rows, mul[h]);
    *reinterpret_cast<uint2 *>(codes + brh * head_dim + g8 * 8) = out;
}

/* out[b, r, first + g, :] = bf16(codes[b, r, g, :] * out_mul[first + g]) for r < rows and the group's heads
 * g < count (codes [B, rows_padded, count, D], cuDNN's E4M3 out); eight values per thread. */
__global__ void dequantize_heads_kernel(__nv_bfloat16 *out, int64_t stride_b, int64_t stride_n,
                                        const uint8_t *codes, int batch, int rows, int rows_padded, int first,
                                        int count, int head_dim, const float *out_mul) {
    const int groups = head_dim / 8;
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= (int64_t)batch * rows * count * groups) return;
    const int g8 = (int)(i % groups);
    const int64_t brh = i / groups, br = brh / count;
    const int g = (int)(brh % count), b = (int)(br / rows), r = (int)(br % rows);
    const uint2 packed = *reinterpret_cast<const uint2 *>(
        codes + (((int64_t)b * rows_padded + r) * count + g) * head_dim + g8 * 8);
    float values[8];
    vs_fp8_decode8(packed, out_mul[first + g], values);
    vs_store8(out + b * stride_b + (int64_t)r * stride_n + (int64_t)(first + g) * head_dim + g8 * 8, values);
}

/* One scratch for the process, grown on demand, under a lock (as cuDNN's workspace). */
pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
void *g_scratch;
size_t g_scratch_bytes;

/* The codes of a group of heads take at most this much (or one head's, when that is more). */
constexpr size_t kCodesBudget = 256u << 20;

size_t round_up(size_t n) { return (n + 255) / 256 * 256; }

struct scratch {
    uint8_t *q, *k, *v, *o;
    float *stats;
    vs_cuda_fp8_scales scales;
};

/* The scratch's parts: codes of `heads` heads of Q, K, V and O (rows_q, rows_kv: token counts, padded or
 * not), their statistics and the scales; returns their total. */
enum { kParts = 6 };
size_t scratch_sizes(const vs_attn_args *a, int heads, int rows_q, int rows_kv, size_t sizes[kParts]) {
    const size_t B = a->batch, D = a->head_dim, G = heads, N = rows_q, L = rows_kv;
    const size_t parts[kParts] = {
        round_up(B * N * G * D), round_up(B * L * G * D),
        round_up(B * L * G * D), round_up(B * N * G * D),
        round_up(B * G * N * 4), vs_cuda_fp8_scales_bytes(a->batch, a->heads, a->head_dim)};
    size_t total = 0;
    for (int i = 0; i < kParts; i++)
        total += sizes[i] = parts[i];
    return total;
}

vs_status take_scratch(const vs_attn_args *a, int heads, int rows_q, int rows_kv, scratch *s) {
    size_t sizes[kParts];
    const size_t total = scratch_sizes(a, heads, rows_q, rows_kv, sizes);
    if (total > g_scratch_bytes) {
        vs_device_free(g_scratch); /* waits for the work using it */
        g_scratch = nullptr, g_scratch_bytes = 0;
        VS_TRY(vs_device_malloc(&g_scratch, total));
        g_scratch_bytes = total;
    }
    uint8_t *p = static_cast<uint8_t *>(g_scratch);
    uint8_t *parts[kParts];
    for (int i = 0; i < kParts; i++)
        parts[i] = p, p += sizes[i];
    s->q = parts[0], s->k = parts[1], s->v = parts[2], s->o = parts[3];
    s->stats = reinterpret_cast<float *>(parts[4]);
    vs_cuda_fp8_scales_carve(parts[5], a->batch, a->heads, a->head_dim, &s->scales);
    return VS_OK;
}

int padded_rows(int rows) {
    return (rows + VS_CUDNN_FP8_PAD - 1) / VS_CUDNN_FP8_PAD * VS_CUDNN_FP8_PAD;
}

/* Heads a cuDNN call takes: as many as kCodesBudget holds the codes of (Q, K, V and O), or
 * $VS_FP8_ATTENTION_HEADS (tests), spread evenly over the calls; one with BF16 out (per-head descale_v). */
int heads_per_call(const vs_attn_args *a, const vs_cudnn_fp8_form &form) {
    if (!form.out_e4m3) return 1;
    const size_t per_head =
        (size_t)a->batch * a->head_dim *
        (2 * (size_t)padded_rows(a->seq_len) + 2 * (size_t)padded_rows(vs_attn_kv_len(a)));
    const char *env = getenv("VS_FP8_ATTENTION_HEADS");
    const size_t asked = env && atoi(env) > 0 ? (size_t)atoi(env) : kCodesBudget / per_head;
    const int most = (int)std::max<size_t>(1, std::min<size_t>(a->heads, asked));
    const int calls = (a->heads + most - 1) / most;
    return (a->heads + calls - 1) / calls;
}

/* The form last reported in the log (under g_lock), so each change of form is said once. */
int g_reported_form = -1;

void report_form(const vs_cudnn_fp8_form &f, int batch, int seq_len, int kv_len, int head_dim, int heads) {
    const int id = f.out_e4m3 | f.stats << 1 | f.padded << 2 | f.scale_o_value << 3;
    if (id == g_reported_form) return;
    g_reported_form = id;
    VS_INFO("FP8 attention (B %d, N %d, L %d, D %d): cuDNN's form with %s out%s%s%s, %d heads a call", batch,
            seq_len, kv_len, head_dim, f.out_e4m3 ? "E4M3" : "BF16", f.stats ? ", statistics out" : "",
            f.padded ? ", lengths padded and masked" : "", f.scale_o_value ? ", scale_o by value" : "",
            heads);
}

vs_status run_locked(const vs_attn_args *a, cudaStream_t st) {
    const int B = a->batch, H = a->heads, D = a->head_dim, N = a->seq_len, L = vs_attn_kv_len(a);

    /* A group of `heads` heads' arguments for cuDNN: the codes [B, rows, heads, D] with the token counts
     * rounded up to VS_CUDNN_FP8_PAD (room for the padded forms; the others skip the padding rows), out in
     * the model's layout or, with E4M3 out, codes as q's. */
    const int rows_q = padded_rows(N), rows_kv = padded_rows(L);
    scratch s_codes = {};
    const auto group_args = [&](int first, int heads, int e4m3_out) {
        vs_attn_args g = {};
        g.dtype = VS_BF16;
        g.batch = B, g.heads = heads, g.seq_len = N, g.kv_len = L, g.head_dim = D;
        g.q = s_codes.q, g.k = s_codes.k, g.v = s_codes.v;
        g.q_stride_n = g.k_stride_n = g.v_stride_n = (int64_t)heads * D;
        g.q_stride_b = (int64_t)rows_q * heads * D,
        g.k_stride_b = g.v_stride_b = (int64_t)rows_kv * heads * D;
        g.out = e4m3_out ? static_cast<void *>(s_codes.o)
                         : static_cast<void *>(static_cast<__nv_bfloat16 *>(a->out) + (int64_t)first * D);
        g.o_stride_b = e4m3_out ? g.q_stride_b : a->o_stride_b,
        g.o_stride_n = e4m3_out ? g.q_stride_n : a->o_stride_n;
        g.scale = a->scale;
        return g;
    };
    /* The form: the first cuDNN serves for one head (Hopper: E4M3 out), then again for a call's heads (the
     * scratch taken first: cuDNN checks the pointers it is shown). */
    vs_cudnn_fp8_form form;
    VS_TRY(take_scratch(a, 1, rows_q, rows_kv, &s_codes));
    vs_attn_args probe = group_args(0, 1, 1);
    VS_TRY(vs_cudnn_fp8_pick(&probe, &form));
    const int per_call = heads_per_call(a, form);
    VS_TRY(take_scratch(a, per_call, rows_q, rows_kv, &s_codes));
    probe = group_args(0, per_call, form.out_e4m3);
    VS_TRY(vs_cudnn_fp8_pick(&probe, &form));
    report_form(form, B, N, L, D, per_call);
    const scratch &s = s_codes;

    const __nv_bfloat16 *q = static_cast<const __nv_bfloat16 *>(a->q), *k = static_cast<const __nv_bfloat16 *>(a->k),
                        *v = static_cast<const __nv_bfloat16 *>(a->v);
    const vs_cuda_fp8_scales &sc = s.scales;
    VS_TRY(vs_cuda_fp8_scales_compute(a, &sc, st));
    const float inv_l = 1.0f / (float)L;

    const int groups = D / 8;
    const auto blocks = [](int64_t threads) { return (unsigned)((threads + kThreads - 1) / kThreads); };
    for (int first = 0; first < H; first += per_call) {
        const int count = std::min(per_call, H - first);
        quantize_heads_kernel<<<blocks((int64_t)B * rows_q * count * groups), kThreads, 0, st>>>(
            s.q, q, a->q_stride_b, a->q_stride_n, B, N, rows_q, H, first, count, D, nullptr, 0.0f, sc.mul);
        quantize_heads_kernel<<<blocks((int64_t)B * rows_kv * count * groups), kThreads, 0, st>>>(
            s.k, k, a->k_stride_b, a->k_stride_n, B, L, rows_kv, H, first, count, D, sc.sums, inv_l,
            sc.mul + H);
        quantize_heads_kernel<<<blocks((int64_t)B * rows_kv * count * groups), kThreads, 0, st>>>(
            s.v, v, a->v_stride_b, a->v_stride_n, B, L, rows_kv, H, first, count, D, nullptr, 0.0f,
            sc.mul + 2 * H);
        VS_CUDA_LAUNCH_CHECK("quantize_heads_kernel");
        const vs_attn_args group = group_args(first, count, form.out_e4m3);
        const vs_cudnn_fp8_scales scales =
            vs_cuda_fp8_cudnn_scales(&sc, &form, first, s.stats, sc.lengths, sc.lengths + B);
        VS_TRY(vs_cudnn_attention_fp8(&group, &form, &scales, st));
        if (form.out_e4m3) {
            dequantize_heads_kernel<<<blocks((int64_t)B * N * count * groups), kThreads, 0, st>>>(
                static_cast<__nv_bfloat16 *>(a->out), a->o_stride_b, a->o_stride_n, s.o, B, N, rows_q, first,
                count, D, sc.out_mul);
            VS_CUDA_LAUNCH_CHECK("dequantize_heads_kernel");
        }
    }
    return VS_OK;
}

} // namespace

extern "C" size_t vs_cuda_fp8_scales_bytes(int batch, int heads, int head_dim) {
    return vs_cuda_fp8_scales_carve(nullptr, batch, heads, head_dim, nullptr);
}

extern "C" size_t vs_cuda_fp8_attention_workspace(const vs_attn_args *a) {
    const vs_cudnn_fp8_form e4m3_out = {1, 0, 0, 0};
    size_t sizes[kParts];
    return scratch_sizes(a, heads_per_call(a, e4m3_out), padded_rows(a->seq_len), padded_rows(vs_attn_kv_len(a)),
                         sizes);
}

extern "C" size_t vs_cuda_fp8_scales_carve(void *base, int batch, int heads, int head_dim,
                                           vs_cuda_fp8_scales *out) {
    const size_t B = batch, H = heads, D = head_dim;
    size_t at = 0; /* bytes laid out so far */
    auto take = [&](size_t bytes) {
        void *p = base ? static_cast<uint8_t *>(base) + at : nullptr;
        at += round_up(bytes);
        return p;
    };
    vs_cuda_fp8_scales s;
    s.sums = static_cast<float *>(take(B * H * D * 4));
    s.amax_bits = static_cast<unsigned *>(take(3 * H * 4));
    s.mul = static_cast<float *>(take(3 * H * 4));
    s.descale_v = static_cast<float *>(take(H * kSlot * 4));
    s.out_mul = static_cast<float *>(take(H * 4));
    s.constants = static_cast<float *>(take(5 * kSlot * 4));
    s.amax_out = static_cast<float *>(take(2 * kSlot * 4));
    s.lengths = static_cast<int32_t *>(take(2 * B * 4));
    if (out) *out = s;
    return at;
}

extern "C" vs_status vs_cuda_fp8_scales_compute(const vs_attn_args *a, const vs_cuda_fp8_scales *s,
                                                void *stream) {
    const int B = a->batch, H = a->heads, D = a->head_dim, N = a->seq_len, L = vs_attn_kv_len(a),
              cols = H * D;
    cudaStream_t st = static_cast<cudaStream_t>(stream);
    const __nv_bfloat16 *q = static_cast<const __nv_bfloat16 *>(a->q),
                        *k = static_cast<const __nv_bfloat16 *>(a->k),
                        *v = static_cast<const __nv_bfloat16 *>(a->v);
    VS_CUDA_TRY(cudaMemsetAsync(s->sums, 0, sizeof(float) * B * cols, st));
    VS_CUDA_TRY(cudaMemsetAsync(s->amax_bits, 0, sizeof(unsigned) * 3 * H, st));
    const unsigned col_blocks = (unsigned)((cols + kThreads - 1) / kThreads);
    const dim3 grid_n(col_blocks, (unsigned)((N + kRowsPerChunk - 1) / kRowsPerChunk), (unsigned)B);
    const dim3 grid_l(col_blocks, (unsigned)((L + kRowsPerChunk - 1) / kRowsPerChunk), (unsigned)B);
    column_sums_kernel<<<grid_l, kThreads, 0, st>>>(s->sums, k, a->k_stride_b, a->k_stride_n, L, cols);
    head_amax_kernel<<<grid_n, kThreads, 0, st>>>(s->amax_bits, q, a->q_stride_b, a->q_stride_n, N, cols, D,
                                                  nullptr, 0.0f);
    head_amax_kernel<<<grid_l, kThreads, 0, st>>>(s->amax_bits + H, k, a->k_stride_b, a->k_stride_n, L, cols,
                                                  D, s->sums, 1.0f / (float)L);
    head_amax_kernel<<<grid_l, kThreads, 0, st>>>(s->amax_bits + 2 * H, v, a->v_stride_b, a->v_stride_n, L,
                                                  cols, D, nullptr, 0.0f);
    scales_kernel<<<1, kThreads, 0, st>>>(s->mul, s->descale_v, s->out_mul, s->constants, s->lengths,
                                          s->amax_bits, H, B, N, L);
    VS_CUDA_LAUNCH_CHECK("fp8 attention scales");
    return VS_OK;
}

extern "C" vs_cudnn_fp8_scales vs_cuda_fp8_cudnn_scales(const vs_cuda_fp8_scales *s,
                                                        const vs_cudnn_fp8_form *form, int first_head,
                                                        float *stats, const int32_t *seq_len_q,
                                                        const int32_t *seq_len_kv) {
    const float *one = s->constants + 2 * kSlot;
    return vs_cudnn_fp8_scales{s->constants + 3 * kSlot,
                               one,
                               form->out_e4m3 ? one : s->descale_v + first_head * kSlot,
                               s->constants + kSlot,
                               s->constants,
                               form->out_e4m3 ? s->constants + 4 * kSlot : one,
                               s->amax_out,
                               s->amax_out + kSlot,
                               stats,
                               seq_len_q,
                               seq_len_kv};
}

extern "C" vs_status vs_cuda_fp8_attention(const vs_attn_args *a, void *stream) {
    VS_TRY(vs_attn_args_validate(a));
    if (a->blocks || a->head_layout)
        return vs_fail(VS_ERR_UNSUPPORTED, "FP8 attention is dense only (no block list, no head layout)");
    if (a->dtype != VS_BF16)
        return vs_fail(VS_ERR_UNSUPPORTED, "FP8 attention takes BF16 q, k, v and out, not %s", vs_dtype_name(a->dtype));
    const int64_t strides[8] = {a->q_stride_b, a->q_stride_n, a->k_stride_b, a->k_stride_n,
                                a->v_stride_b, a->v_stride_n, a->o_stride_b, a->o_stride_n};
    for (int64_t s : strides)
        if (s % 8)
            return vs_fail(VS_ERR_UNSUPPORTED, "FP8 attention needs strides that are multiples of 8 elements");
    const void *ptrs[4] = {a->q, a->k, a->v, a->out};
    for (const void *p : ptrs)
        if ((uintptr_t)p % 16)
            return vs_fail(VS_ERR_UNSUPPORTED, "FP8 attention needs 16-byte aligned q, k, v and out");
    pthread_mutex_lock(&g_lock);
    const vs_status s = run_locked(a, static_cast<cudaStream_t>(stream));
    pthread_mutex_unlock(&g_lock);
    return s;
}
