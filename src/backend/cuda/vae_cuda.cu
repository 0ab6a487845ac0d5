/* The Wan VAE decoder's convolutions (cuDNN) and small kernels, see vae_cuda.h. */
#include <cuda_bf16.h>
#include <cudnn.h>
#include <pthread.h>
#include <stdio.h>

#include "backend/cuda/bf16_vec.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/vae_cuda.h"
#include "core/bench.h"
#include "core/log.h"

namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t n, int threads) {
    int64_t blocks = (n + threads - 1) / threads;
    return (unsigned)(blocks < 65535 * 8 ? (blocks > 0 ? blocks : 1) : 65535 * 8);
}

/* ---- cuDNN convolutions ------------------------------------------------------------ */

/* Workspaces beyond this are not considered (FFT algorithms can ask for gigabytes). */
constexpr size_t kMaxWorkspace = 256u << 20;
constexpr int kMaxShapes = 1024; /* tiles of several sizes make a few hundred */

/* A 2D plan (kt 0): n images [h][w][cin], "same" zero padding. A 3D plan (kt > 0): one clip of n frames
 * [n][h][w][cin] (already padded), no padding, kt x kh x kw filters. */
struct conv_plan {
    int64_t n;
    int h, w, cin, cout, kh, kw, kt;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t f;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t algo;
    size_t workspace;
};

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
cudnnHandle_t g_handle = nullptr;
conv_plan g_plans[kMaxShapes];
int g_n_plans = 0;
void *g_workspace = nullptr;
size_t g_workspace_bytes = 0;

#define DNN_TRY(call, what)                                                                                  \
    do {                                                                                                     \
        cudnnStatus_t dnn_s_ = (call);                                                                       \
        if (dnn_s_ != CUDNN_STATUS_SUCCESS)                                                                  \
            return vs_fail(dnn_s_ == CUDNN_STATUS_ALLOC_FAILED ? VS_ERR_OOM : VS_ERR_CUDA,                   \
                           "%s failed: %s (%s)", #call, cudnnGetErrorString(dnn_s_), what);                  \
    } while (0)

/* "conv 3x3, [4, 60, 104, 384] -> 384 channels" for messages. */
struct shape_text {
    char s[128];
    shape_text(int64_t n, int h, int w, int cin, int cout, int kh, int kw, int kt) {
        if (kt)
            snprintf(s, sizeof s, "cuDNN conv %dx%dx%d, bf16 NDHWC [%lld, %d, %d, %d] -> %d channels", kt, kh, kw,
                     (long long)n, h, w, cin, cout);
        else
            snprintf(s, sizeof s, "cuDNN conv %dx%d, bf16 NHWC [%lld, %d, %d, %d] -> %d channels", kh, kw,
                     (long long)n, h, w, cin, cout);
    }
};

/* The descriptors of a 3D plan: 5D NDHWC tensors (cuDNN's NHWC format at rank 5), KTRSC filters. */
vs_status describe_3d(conv_plan *p, const char *what) {
    const int x_dims[5] = {1, p->cin, (int)p->n, p->h, p->w};
    const int y_dims[5] = {1, p->cout, (int)p->n - p->kt + 1, p->h - p->kh + 1, p->w - p->kw + 1};
    const int f_dims[5] = {p->cout, p->cin, p->kt, p->kh, p->kw};
    const int pad[3] = {0, 0, 0}, one[3] = {1, 1, 1};
    DNN_TRY(cudnnSetTensorNdDescriptorEx(p->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, 5, x_dims), what);
    DNN_TRY(cudnnSetTensorNdDescriptorEx(p->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, 5, y_dims), what);
    DNN_TRY(cudnnSetFilterNdDescriptor(p->f, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_NHWC, 5, f_dims), what);
    DNN_TRY(cudnnSetConvolutionNdDescriptor(p->conv, 3, pad, one, one, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            what);
    return VS_OK;
}

vs_status ensure_workspace(size_t bytes, const char *what);

/* Descriptors and the fastest algorithm (within kMaxWorkspace) for one shape. `y` is the output of the call
 * that needs the plan when that call overwrites it (NULL when it accumulates into it). */
vs_status make_plan(conv_plan *p, const char *what, const uint16_t *x, const uint16_t *w, uint16_t *y) {
    DNN_TRY(cudnnCreateTensorDescriptor(&p->x), what);
    DNN_TRY(cudnnCreateTensorDescriptor(&p->y), what);
    DNN_TRY(cudnnCreateFilterDescriptor(&p->f), what);
    DNN_TRY(cudnnCreateConvolutionDescriptor(&p->conv), what);
    /* bf16 data with f32 compute: cuDNN's PSEUDO_BFLOAT16 configuration. */
    if (p->kt) {
        VS_TRY(describe_3d(p, what));
    } else {
        DNN_TRY(cudnnSetTensor4dDescriptor(p->x, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, (int)p->n, p->cin, p->h,
                                           p->w),
                what);
        DNN_TRY(cudnnSetTensor4dDescriptor(p->y, CUDNN_TENSOR_NHWC, CUDNN_DATA_BFLOAT16, (int)p->n, p->cout, p->h,
                                           p->w),
                what);
        DNN_TRY(cudnnSetFilter4dDescriptor(p->f, CUDNN_DATA_BFLOAT16, CUDNN_TENSOR_NHWC, p->cout, p->cin, p->kh,
                                           p->kw),
                what);
        DNN_TRY(cudnnSetConvolution2dDescriptor(p->conv, p->kh / 2, p->kw / 2, 1, 1, 1, 1,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                what);
    }
    DNN_TRY(cudnnSetConvolutionMathType(p->conv, CUDNN_TENSOR_OP_MATH), what);
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int found = 0;
    /* Times every algorithm (once per shape) on the call's own buffers and our workspace of kMaxWorkspace:
     * cudnnFindConvolutionForwardAlgorithm would allocate its own copies of x and y and each algorithm's
     * workspace (gigabytes at 720p), beyond what the memory plan counts. A call that accumulates into y
     * (which timing would overwrite), or a failed search, takes the heuristic ranking. Both lists come best
     * first. A 3D plan takes the heuristic ranking straight away: it keeps to the two implicit GEMMs (below),
     * and timing the FFT ones on every tile shape of a 720p decode would cost more than the decode. */
    cudnnStatus_t found_st = CUDNN_STATUS_NOT_SUPPORTED;
    if (!p->kt && y && ensure_workspace(kMaxWorkspace, what) == VS_OK)
        found_st = cudnnFindConvolutionForwardAlgorithmEx(g_handle, p->x, x, p->f, w, p->conv, p->y, y,
                                                          CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf,
                                                          g_workspace, g_workspace_bytes);
    if (found_st != CUDNN_STATUS_SUCCESS)
        DNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(g_handle, p->x, p->f, p->conv, p->y,
                                                       CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf),
                what);
    for (int i = 0; i < found; i++) {
        /* A 3D plan keeps to the implicit GEMMs: one f32 sum per output, no FFT / Winograd transforms (the
         * HunyuanVideo VAE's precision, docs/hunyuan.md). */
        const cudnnConvolutionFwdAlgo_t a = perf[i].algo;
        if (p->kt && a != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM &&
            a != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM)
            continue;
        if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= kMaxWorkspace) {
            p->algo = perf[i].algo;
            p->workspace = perf[i].memory;
            DNN_TRY(cudnnSetConvolutionMathType(p->conv, perf[i].mathType), what);
            return VS_OK;
        }
    }
    return vs_fail(VS_ERR_UNSUPPORTED, "cuDNN has no %salgorithm within %zu MiB of workspace for %s",
                   p->kt ? "implicit-GEMM " : "", kMaxWorkspace >> 20, what);
}

vs_status find_plan(conv_plan **out, int64_t n, int h, int w, int cin, int cout, int kh, int kw, int kt,
                    const char *what, const uint16_t *x, const uint16_t *weights, uint16_t *y) {
    if (!g_handle) DNN_TRY(cudnnCreate(&g_handle), what);
    for (int i = 0; i < g_n_plans; i++) {
        conv_plan *p = &g_plans[i];
        if (p->n == n && p->h == h && p->w == w && p->cin == cin && p->cout == cout && p->kh == kh &&
            p->kw == kw && p->kt == kt) {
            *out = p;
            return VS_OK;
        }
    }
    if (g_n_plans == kMaxShapes)
        return vs_fail(VS_ERR_UNSUPPORTED, "more than %d convolution shapes in one process (%s)", kMaxShapes,
                       what);
    conv_plan *p = &g_plans[g_n_plans];
    *p = conv_plan{n,       h,       w,       cin,     cout, kh, kw, kt, nullptr, nullptr, nullptr, nullptr,
                   CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, 0};
    const double start_ms = vs_bench_now_ms();
    vs_status s = make_plan(p, what, x, weights, y);
    VS_DEBUG("%s: algorithm %d chosen in %.1f ms (%s)", what, (int)p->algo, vs_bench_now_ms() - start_ms,
             !p->kt && y ? "timed" : "heuristic");
    if (s != VS_OK) {
        if (p->conv) cudnnDestroyConvolutionDescriptor(p->conv);
        if (p->f) cudnnDestroyFilterDescriptor(p->f);
        if (p->y) cudnnDestroyTensorDescriptor(p->y);
        if (p->x) cudnnDestroyTensorDescriptor(p->x);
        return s;
    }
    g_n_plans++;
    *out = p;
    return VS_OK;
}

vs_status ensure_workspace(size_t bytes, const char *what) {
    if (bytes <= g_workspace_bytes) return VS_OK;
    VS_CUDA_TRY(cudaFree(g_workspace));
    g_workspace = nullptr, g_workspace_bytes = 0;
    cudaError_t e = cudaMalloc(&g_workspace, bytes);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return vs_fail(VS_ERR_OOM, "out of GPU memory for a %zu MiB cuDNN workspace (%s)", bytes >> 20, what);
    }
    g_workspace_bytes = bytes;
    return VS_OK;
}

vs_status conv_locked(uint16_t *y, const uint16_t *x, const uint16_t *w, int64_t n, int h, int w_, int cin,
                      int cout, int kh, int kw, int kt, int accumulate) {
    shape_text what(n, h, w_, cin, cout, kh, kw, kt);
    conv_plan *p;
    VS_TRY(find_plan(&p, n, h, w_, cin, cout, kh, kw, kt, what.s, x, w, accumulate ? nullptr : y));
    VS_TRY(ensure_workspace(p->workspace, what.s));
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    DNN_TRY(cudnnConvolutionForward(g_handle, &alpha, p->x, x, p->f, w, p->conv, p->algo, g_workspace,
                                    p->workspace, &beta, p->y, y),
            what.s);
    return VS_OK;
}

/* ---- kernels ----------------------------------------------------------------------- */

__global__ void bias_residual_kernel(uint16_t *y, const float *bias, const uint16_t *res, int64_t vectors,
                                     int c) {
    for (int64_t v = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; v < vectors;
         v += (int64_t)gridDim.x * blockDim.x) {
        float a[8], r[8];
        unpack8(reinterpret_cast<const uint4 *>(y)[v], a);
        if (res) {
            unpack8(reinterpret_cast<const uint4 *>(res)[v], r);
            for (int i = 0; i < 8; i++)
                a[i] += r[i];
        }
        if (bias) {
            const int ch = (int)(v * 8 % c);
            for (int i = 0; i < 8; i++)
                a[i] += bias[ch + i];
        }
        reinterpret_cast<uint4 *>(y)[v] = pack8(a);
    }
}

/* One warp per pixel: the sum of squares over its channel row, then a second
 * pass (the row is in L1) scales, shifts and applies SiLU. */
__global__ void rmsnorm_kernel(uint16_t *y, const uint16_t *x, const float *gamma, const float *beta,
                               int64_t pixels, int c, float scale, int silu) {
    const int lane = threadIdx.x % 32, vecs = c / 8;
    for (int64_t p = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32; p < pixels;
         p += (int64_t)gridDim.x * blockDim.x / 32) {
        const uint4 *row = reinterpret_cast<const uint4 *>(x + p * c);
        float ss = 0.f, v[8];
        for (int i = lane; i < vecs; i += 32) {
            unpack8(row[i], v);
            for (int j = 0; j < 8; j++)
                ss += v[j] * v[j];
        }
        for (int o = 16; o > 0; o /= 2)
            ss += __shfl_xor_sync(0xffffffffu, ss, o);
        const float inv = scale / fmaxf(sqrtf(ss), 1e-12f);
        uint4 *out = reinterpret_cast<uint4 *>(y + p * c);
        for (int i = lane; i < vecs; i += 32) {
            unpack8(row[i], v);
            for (int j = 0; j < 8; j++) {
                const int ch = 8 * i + j;
                float t = v[j] * inv * gamma[ch] + (beta ? beta[ch] : 0.f);
                v[j] = silu ? t / (1.f + __expf(-t)) : t;
            }
            out[i] = pack8(v);
        }
    }
}

/* One thread per 8 output channels of one output pixel. */
__global__ void upsample2x_kernel(uint16_t *y, const uint16_t *x, int frames, int h, int w, int c,
                                  int interleaved) {
    const int vecs = c / 8;
    const int64_t n = (int64_t)frames * 4 * h * w * vecs;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int cv = (int)(e % vecs);
        const int64_t px = e / vecs;
        const int xo = (int)(px % (2 * w)), yo = (int)(px / (2 * w) % (2 * h));
        const int f = (int)(px / (4 * (int64_t)h * w));
        const int64_t src_pixel = ((int64_t)(interleaved ? f / 2 : f) * h + yo / 2) * w + xo / 2;
        const int cs = interleaved ? 2 * c : c, c0 = interleaved ? (f % 2) * c : 0;
        reinterpret_cast<uint4 *>(y)[e] = *reinterpret_cast<const uint4 *>(x + src_pixel * cs + c0 + 8 * cv);
    }
}

__device__ float block_reduce(float v, bool is_max, float *scratch) {
    for (int o = 16; o > 0; o /= 2) {
        float other = __shfl_xor_sync(0xffffffffu, v, o);
        v = is_max ? fmaxf(v, other) : v + other;
    }
    const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
    __syncthreads();
    if (threadIdx.x % 32 == 0) scratch[warp] = v;
    __syncthreads();
    v = scratch[0];
    for (int i = 1; i < warps; i++)
        v = is_max ? fmaxf(v, scratch[i]) : v + scratch[i];
    return v;
}

/* One block per row. */
__global__ void softmax_rows_kernel(uint16_t *s, int64_t cols, int64_t ld) {
    __shared__ float scratch[32];
    uint16_t *row = s + blockIdx.x * ld;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
        m = fmaxf(m, bf16_to_f32(row[j]));
    m = block_reduce(m, true, scratch);
    float sum = 0.f;
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x)
        sum += __expf(bf16_to_f32(row[j]) - m);
    sum = block_reduce(sum, false, scratch);
    const float inv = 1.f / sum;
    for (int64_t j = threadIdx.x; j < ld; j += blockDim.x)
        row[j] = j < cols ? f32_to_bf16(__expf(bf16_to_f32(row[j]) - m) * inv) : 0;
}

__global__ void to_channels_last_kernel(uint16_t *y, const float *x, int c, int64_t pixels) {
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < pixels * c;
         e += (int64_t)gridDim.x * blockDim.x)
        y[e] = f32_to_bf16(x[e % c * pixels + e / c]);
}

__global__ void to_planes_kernel(float *y, const uint16_t *x, const float *bias, int frames, int c, int cs,
                                 int64_t pixels) {
    const int64_t n = (int64_t)frames * c * pixels;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n;
         e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t p = e % pixels, t = e / pixels / c;
        const int ch = (int)(e / pixels % c);
        y[e] = bf16_to_f32(x[(t * pixels + p) * cs + ch]) + bias[ch];
    }
}

} // namespace

extern "C" vs_status vs_cuda_conv2d_nhwc(uint16_t *y, const uint16_t *x, const uint16_t *w, int64_t n, int h,
                                         int w_, int cin, int cout, int kh, int kw, int accumulate) {
    if (n == 0) return VS_OK;
    if (n > 0x7fffffff || cin % 8 || cout % 8)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "cuDNN conv: %lld images of %d -> %d channels (channels must be multiples of 8)",
                       (long long)n, cin, cout);
    pthread_mutex_lock(&g_lock);
    vs_status s = conv_locked(y, x, w, n, h, w_, cin, cout, kh, kw, 0, accumulate);
    pthread_mutex_unlock(&g_lock);
    return s;
}

extern "C" vs_status vs_cuda_conv3d_valid_ndhwc(uint16_t *y, const uint16_t *x, const uint16_t *w, int t, int h,
                                                int w_, int cin, int cout, int k) {
    if (t < k || h < k || w_ < k || cin % 8 || cout % 8)
        return vs_fail(VS_ERR_UNSUPPORTED,
                       "cuDNN conv %dx%dx%d: %d frames of %dx%d, %d -> %d channels (channels must be multiples "
                       "of 8, sizes at least the kernel)",
                       k, k, k, t, h, w_, cin, cout);
    pthread_mutex_lock(&g_lock);
    vs_status s = conv_locked(y, x, w, t, h, w_, cin, cout, k, k, k, 0);
    pthread_mutex_unlock(&g_lock);
    return s;
}

extern "C" size_t vs_cuda_conv_workspace_bytes(void) {
    pthread_mutex_lock(&g_lock);
    size_t bytes = g_workspace_bytes;
    pthread_mutex_unlock(&g_lock);
    return bytes;
}

extern "C" vs_status vs_cuda_vae_bias_residual(uint16_t *y, const float *bias, const uint16_t *res,
                                               int64_t pixels, int c) {
    const int64_t vectors = pixels * c / 8;
    if (vectors == 0) return VS_OK;
    bias_residual_kernel<<<grid_for(vectors, kThreads), kThreads>>>(y, bias, res, vectors, c);
    VS_CUDA_LAUNCH_CHECK("VAE bias / residual");
    return VS_OK;
}

extern "C" vs_status vs_cuda_vae_rmsnorm(uint16_t *y, const uint16_t *x, const float *gamma,
                                         const float *beta, int64_t pixels, int c, float scale, int silu) {
    if (pixels == 0) return VS_OK;
    rmsnorm_kernel<<<grid_for(pixels * 32, kThreads), kThreads>>>(y, x, gamma, beta, pixels, c, scale, silu);
    VS_CUDA_LAUNCH_CHECK("VAE RMS norm");
    return VS_OK;
}

extern "C" vs_status vs_cuda_vae_upsample2x(uint16_t *y, const uint16_t *x, int frames, int h, int w, int c,
                                            int interleaved) {
    const int64_t n = (int64_t)frames * 4 * h * w * (c / 8);
    if (n == 0) return VS_OK;
    upsample2x_kernel<<<grid_for(n, kThreads), kThreads>>>(y, x, frames, h, w, c, interleaved);
    VS_CUDA_LAUNCH_CHECK("VAE upsample");
    return VS_OK;
}

extern "C" vs_status vs_cuda_vae_softmax_rows(uint16_t *s, int64_t rows, int64_t cols, int64_t ld) {
    if (rows == 0) return VS_OK;
    if (rows > 0x7fffffff) return vs_fail(VS_ERR_UNSUPPORTED, "VAE softmax: %lld rows", (long long)rows);
    softmax_rows_kernel<<<(unsigned)rows, kThreads>>>(s, cols, ld);
    VS_CUDA_LAUNCH_CHECK("VAE softmax");
    return VS_OK;
}

extern "C" vs_status vs_cuda_vae_to_channels_last(uint16_t *y, const float *x, int c, int64_t pixels) {
    if (pixels * c == 0) return VS_OK;
    to_channels_last_kernel<<<grid_for(pixels * c, kThreads), kThreads>>>(y, x, c, pixels);
    VS_CUDA_LAUNCH_CHECK("VAE latents to channels-last");
    return VS_OK;
}

extern "C" vs_status vs_cuda_vae_to_planes(float *y, const uint16_t *x, const float *bias, int frames, int c,
                                           int cs, int64_t pixels) {
    const int64_t n = (int64_t)frames * c * pixels;
    if (n == 0) return VS_OK;
    to_planes_kernel<<<grid_for(n, kThreads), kThreads>>>(y, x, bias, frames, c, cs, pixels);
    VS_CUDA_LAUNCH_CHECK("VAE output to planes");
    return VS_OK;
}
