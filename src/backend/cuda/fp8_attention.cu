/* FP8 dense attention (--attention-precision fp8): Q, K and V quantised to E4M3 with one scale per head,
 * then cuDNN's FP8 fused flash attention (cudnn_attention.h), BF16 out.
 *
 * Scales. Each head h of Q, K and V gets its own scale amax_h / 448 (amax_h: the head's largest magnitude
 * over every batch entry and token), so one loud head does not crush the others' resolution. cuDNN's FP8
 * graph takes one descale per tensor, so the attention runs head by head, each call reading its head's
 * descales (device scalars) and its head's codes.
 *
 * K smoothing. Before quantising, K loses its mean over the tokens, per batch entry, head and channel:
 * q . (k_j - mean) = q . k_j - q . mean, a constant per query row, which the softmax cancels exactly. Keys
 * of DiTs share a large common component (a few channels far from zero for every token); without it the
 * scale is set by that component and the differences between keys, which are all the softmax sees, fall
 * into E4M3's coarse steps (SageAttention's observation). Q and V are not shifted (V's mean would have to
 * be added back to the output; Q's is not softmax-invariant).
 *
 * Passes: the column sums of K, then every head's amax of Q, K - mean and V (atomics on the float bits:
 * non-negative floats order as their unsigned bits), then per head one quantising kernel writing that
 * head's [B, rows, D] codes (a scratch of three heads, not of three tensors) and the cuDNN call.
 *
 * The graph form (cudnn_attention.h) is the first cuDNN serves at the shape. In the forms with an E4M3
 * output, O's codes carry the scale scale_o = kOutRange / amax_v: every output row is a convex combination
 * of V's rows, so |O| <= amax_v, with headroom for the rounding of P; one more kernel then writes them to
 * out in BF16 (codes * amax_v / kOutRange). The padded form rounds the token counts up to VS_CUDNN_FP8_PAD:
 * the padded rows of the codes are zeros, cuDNN masks the padded keys, and the conversion skips the padded
 * query rows. */
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <pthread.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cudnn_attention.h"
#include "backend/cuda/fp8_attention.h"
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

/* Every scalar cuDNN reads sits in its own 16-byte slot (the alignment its tensors declare). */
constexpr int kSlot = 4;

/* The largest magnitude O's E4M3 codes are scaled to (E4M3's largest is 448): headroom for P's rounding. */
constexpr float kOutRange = 384.0f;

/* descale[i] = amax[i] / 448 (1 for an all-zero head) for the 3H heads of Q, K and V; scale_o[h] =
 * kOutRange / amax of V's head h (1 for a zero head); the constants of the P quantisation: scale_s 448,
 * descale_s 1/448, and scale_o 1 (BF16 out); the lengths of the padded form. */
__global__ void descales_kernel(float *descale, float *scale_o, float *constants, int32_t *lengths,
                                const unsigned *amax_bits, int heads, int batch, int seq_len, int kv_len) {
    for (int i = threadIdx.x; i < 3 * heads; i += blockDim.x) {
        const float amax = __uint_as_float(amax_bits[i]);
        descale[i * kSlot] = amax > 0.0f ? amax / 448.0f : 1.0f;
        if (i >= 2 * heads) scale_o[(i - 2 * heads) * kSlot] = amax > 0.0f ? kOutRange / amax : 1.0f;
    }
    for (int b = threadIdx.x; b < batch; b += blockDim.x)
        lengths[b] = seq_len, lengths[batch + b] = kv_len;
    if (threadIdx.x == 0)
        constants[0] = 448.0f, constants[kSlot] = 1.0f / 448.0f, constants[2 * kSlot] = 1.0f;
}

/* codes[b, r, :] = e4m3((x[b, r, head, :] - mean[b, head, :]) * 448 / amax) for r < rows, zeros for the
 * padding rows up to rows_padded; eight values per thread. */
__global__ void quantize_head_kernel(uint8_t *codes, const __nv_bfloat16 *x, int64_t stride_b, int64_t stride_n,
                                     int batch, int rows, int rows_padded, int heads, int head, int head_dim,
                                     const float *sums, float inv_rows, const unsigned *amax_bits) {
    const int groups = head_dim / 8;
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= (int64_t)batch * rows_padded * groups) return;
    const int g = (int)(i % groups);
    const int64_t br = i / groups;
    const int b = (int)(br / rows_padded), r = (int)(br % rows_padded);
    if (r >= rows) {
        *reinterpret_cast<uint2 *>(codes + br * head_dim + g * 8) = make_uint2(0, 0);
        return;
    }
    const int c = head * head_dim + g * 8;
    const float amax = __uint_as_float(*amax_bits), inv = amax > 0.0f ? 448.0f / amax : 1.0f;
    uint4 packed = *reinterpret_cast<const uint4 *>(x + b * stride_b + (int64_t)r * stride_n + c);
    const __nv_bfloat16 *h = reinterpret_cast<const __nv_bfloat16 *>(&packed);
    float v[8];
    for (int k = 0; k < 8; k++)
        v[k] = __bfloat162float(h[k]) - (sums ? sums[(int64_t)b * heads * head_dim + c + k] * inv_rows : 0.0f);
    uint2 out;
    uint16_t *pairs = reinterpret_cast<uint16_t *>(&out);
    for (int k = 0; k < 4; k++)
        pairs[k] = __nv_cvt_float2_to_fp8x2(make_float2(v[2 * k] * inv, v[2 * k + 1] * inv), __NV_SATFINITE,
                                            __NV_E4M3);
    *reinterpret_cast<uint2 *>(codes + br * head_dim + g * 8) = out;
}

/* out[b, r, head, :] = bf16(codes[b, r, :] / scale_o) for r < rows (codes [B, rows_padded, D], written by
 * cuDNN as O * scale_o); eight values per thread. */
__global__ void dequantize_head_kernel(__nv_bfloat16 *out, int64_t stride_b, int64_t stride_n, const uint8_t *codes,
                                       int batch, int rows, int rows_padded, int head, int head_dim,
                                       const float *scale_o) {
    const int groups = head_dim / 8;
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= (int64_t)batch * rows * groups) return;
    const int g = (int)(i % groups);
    const int64_t br = i / groups;
    const int b = (int)(br / rows), r = (int)(br % rows);
    const uint2 packed = *reinterpret_cast<const uint2 *>(codes + ((int64_t)b * rows_padded + r) * head_dim + g * 8);
    const __nv_fp8x2_storage_t *pairs = reinterpret_cast<const __nv_fp8x2_storage_t *>(&packed);
    const float scale = 1.0f / *scale_o;
    uint4 result;
    __nv_bfloat162 *h = reinterpret_cast<__nv_bfloat162 *>(&result);
    for (int k = 0; k < 4; k++) {
        const float2 f = __half22float2(__half2(__nv_cvt_fp8x2_to_halfraw2(pairs[k], __NV_E4M3)));
        h[k] = __floats2bfloat162_rn(f.x * scale, f.y * scale);
    }
    *reinterpret_cast<uint4 *>(out + b * stride_b + (int64_t)r * stride_n + (int64_t)head * head_dim + g * 8) = result;
}

/* One scratch for the process, grown on demand, under a lock (as cuDNN's workspace). */
pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
void *g_scratch;
size_t g_scratch_bytes;

size_t round_up(size_t n) { return (n + 255) / 256 * 256; }

struct scratch {
    uint8_t *q, *k, *v, *o;
    float *sums, *descale, *scale_o, *constants, *amax_out, *stats;
    int32_t *lengths;
    unsigned *amax_bits;
};

/* Codes of one head (rows_q, rows_kv: the token counts, padded or not), the statistics and the scalars. */
vs_status take_scratch(const vs_attn_args *a, int rows_q, int rows_kv, scratch *s) {
    const size_t B = a->batch, H = a->heads, D = a->head_dim, N = rows_q, L = rows_kv;
    enum { kParts = 12 };
    const size_t sizes[kParts] = {round_up(B * N * D),          round_up(B * L * D),      round_up(B * L * D),
                                  round_up(B * N * D),          round_up(B * H * D * 4),  round_up(3 * H * kSlot * 4),
                                  round_up(H * kSlot * 4),      round_up(3 * kSlot * 4),  round_up(2 * kSlot * 4),
                                  round_up(B * N * 4),          round_up(2 * B * 4),      round_up(3 * H * 4)};
    size_t total = 0;
    for (size_t n : sizes)
        total += n;
    if (total > g_scratch_bytes) {
        vs_device_free(g_scratch); /* waits for the work using it */
        g_scratch = nullptr, g_scratch_bytes = 0;
        VS_TRY(vs_device_malloc(&g_scratch, total));
        g_scratch_bytes = total;
    }
    uint8_t *p = static_cast<uint8_t *>(g_scratch);
    void *parts[kParts];
    for (int i = 0; i < kParts; i++)
        parts[i] = p, p += sizes[i];
    s->q = static_cast<uint8_t *>(parts[0]), s->k = static_cast<uint8_t *>(parts[1]);
    s->v = static_cast<uint8_t *>(parts[2]), s->o = static_cast<uint8_t *>(parts[3]);
    s->sums = static_cast<float *>(parts[4]), s->descale = static_cast<float *>(parts[5]);
    s->scale_o = static_cast<float *>(parts[6]), s->constants = static_cast<float *>(parts[7]);
    s->amax_out = static_cast<float *>(parts[8]), s->stats = static_cast<float *>(parts[9]);
    s->lengths = static_cast<int32_t *>(parts[10]), s->amax_bits = static_cast<unsigned *>(parts[11]);
    return VS_OK;
}

int padded_rows(int rows, const vs_cudnn_fp8_form &form) {
    return form.padded ? (rows + VS_CUDNN_FP8_PAD - 1) / VS_CUDNN_FP8_PAD * VS_CUDNN_FP8_PAD : rows;
}

/* The form last reported in the log (under g_lock), so each change of form is said once. */
int g_reported_form = -1;

void report_form(const vs_cudnn_fp8_form &f, int batch, int seq_len, int kv_len, int head_dim) {
    const int id = f.out_e4m3 | f.stats << 1 | f.padded << 2 | f.scale_o_value << 3;
    if (id == g_reported_form) return;
    g_reported_form = id;
    VS_INFO("FP8 attention (B %d, N %d, L %d, D %d): cuDNN's form with %s out%s%s%s", batch, seq_len, kv_len,
            head_dim, f.out_e4m3 ? "E4M3" : "BF16", f.stats ? ", statistics out" : "",
            f.padded ? ", lengths padded and masked" : "", f.scale_o_value ? ", scale_o by value" : "");
}

vs_status run_locked(const vs_attn_args *a, cudaStream_t st) {
    const int B = a->batch, H = a->heads, D = a->head_dim, N = a->seq_len, L = vs_attn_kv_len(a), cols = H * D;
    const vs_cudnn_fp8_form widest = {1, 1, 1, 0};
    scratch s;
    VS_TRY(take_scratch(a, padded_rows(N, widest), padded_rows(L, widest), &s));

    /* One head's arguments for cuDNN: the codes (strides set by the form), out in the model's layout. */
    vs_attn_args one = {};
    one.dtype = VS_BF16;
    one.q = s.q, one.k = s.k, one.v = s.v, one.out = a->out;
    one.batch = B, one.heads = 1, one.seq_len = N, one.kv_len = L, one.head_dim = D;
    one.q_stride_b = (int64_t)N * D, one.q_stride_n = D;
    one.k_stride_b = one.v_stride_b = (int64_t)L * D, one.k_stride_n = one.v_stride_n = D;
    one.o_stride_b = a->o_stride_b, one.o_stride_n = a->o_stride_n;
    one.scale = a->scale;
    vs_cudnn_fp8_form form;
    VS_TRY(vs_cudnn_fp8_pick(&one, &form));
    report_form(form, B, N, L, D);
    const int rows_q = padded_rows(N, form), rows_kv = padded_rows(L, form);

    const __nv_bfloat16 *q = static_cast<const __nv_bfloat16 *>(a->q), *k = static_cast<const __nv_bfloat16 *>(a->k),
                        *v = static_cast<const __nv_bfloat16 *>(a->v);
    VS_CUDA_TRY(cudaMemsetAsync(s.sums, 0, sizeof(float) * B * cols, st));
    VS_CUDA_TRY(cudaMemsetAsync(s.amax_bits, 0, sizeof(unsigned) * 3 * H, st));
    const unsigned col_blocks = (unsigned)((cols + kThreads - 1) / kThreads);
    const dim3 grid_n(col_blocks, (unsigned)((N + kRowsPerChunk - 1) / kRowsPerChunk), (unsigned)B);
    const dim3 grid_l(col_blocks, (unsigned)((L + kRowsPerChunk - 1) / kRowsPerChunk), (unsigned)B);
    const float inv_l = 1.0f / (float)L;
    column_sums_kernel<<<grid_l, kThreads, 0, st>>>(s.sums, k, a->k_stride_b, a->k_stride_n, L, cols);
    head_amax_kernel<<<grid_n, kThreads, 0, st>>>(s.amax_bits, q, a->q_stride_b, a->q_stride_n, N, cols, D, nullptr,
                                                  0.0f);
    head_amax_kernel<<<grid_l, kThreads, 0, st>>>(s.amax_bits + H, k, a->k_stride_b, a->k_stride_n, L, cols, D,
                                                  s.sums, inv_l);
    head_amax_kernel<<<grid_l, kThreads, 0, st>>>(s.amax_bits + 2 * H, v, a->v_stride_b, a->v_stride_n, L, cols, D,
                                                  nullptr, 0.0f);
    descales_kernel<<<1, kThreads, 0, st>>>(s.descale, s.scale_o, s.constants, s.lengths, s.amax_bits, H, B, N, L);
    VS_CUDA_LAUNCH_CHECK("fp8 attention statistics");

    const int groups = D / 8;
    const auto blocks = [](int64_t threads) { return (unsigned)((threads + kThreads - 1) / kThreads); };
    for (int h = 0; h < H; h++) {
        quantize_head_kernel<<<blocks((int64_t)B * rows_q * groups), kThreads, 0, st>>>(
            s.q, q, a->q_stride_b, a->q_stride_n, B, N, rows_q, H, h, D, nullptr, 0.0f, s.amax_bits + h);
        quantize_head_kernel<<<blocks((int64_t)B * rows_kv * groups), kThreads, 0, st>>>(
            s.k, k, a->k_stride_b, a->k_stride_n, B, L, rows_kv, H, h, D, s.sums, inv_l, s.amax_bits + H + h);
        quantize_head_kernel<<<blocks((int64_t)B * rows_kv * groups), kThreads, 0, st>>>(
            s.v, v, a->v_stride_b, a->v_stride_n, B, L, rows_kv, H, h, D, nullptr, 0.0f, s.amax_bits + 2 * H + h);
        VS_CUDA_LAUNCH_CHECK("quantize_head_kernel");
        __nv_bfloat16 *out_head = static_cast<__nv_bfloat16 *>(a->out) + (int64_t)h * D;
        one.out = form.out_e4m3 ? static_cast<void *>(s.o) : static_cast<void *>(out_head);
        const vs_cudnn_fp8_scales scales = {s.descale + h * kSlot,
                                            s.descale + (H + h) * kSlot,
                                            s.descale + (2 * H + h) * kSlot,
                                            s.constants + kSlot,
                                            s.constants,
                                            form.out_e4m3 ? s.scale_o + h * kSlot : s.constants + 2 * kSlot,
                                            s.amax_out,
                                            s.amax_out + kSlot,
                                            s.stats,
                                            s.lengths,
                                            s.lengths + B};
        VS_TRY(vs_cudnn_attention_fp8(&one, &form, &scales, st));
        if (form.out_e4m3) {
            dequantize_head_kernel<<<blocks((int64_t)B * N * groups), kThreads, 0, st>>>(
                static_cast<__nv_bfloat16 *>(a->out), a->o_stride_b, a->o_stride_n, s.o, B, N, rows_q, h, D,
                s.scale_o + h * kSlot);
            VS_CUDA_LAUNCH_CHECK("dequantize_head_kernel");
        }
    }
    return VS_OK;
}

} // namespace

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
