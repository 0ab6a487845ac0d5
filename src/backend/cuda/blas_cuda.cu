/* bf16 and FP8 GEMMs through cuBLASLt: y[M, N] = x[M, K] W^T + bias, row-major, f32
 * accumulation, bias and GELU fused in the epilogue. FP8 (E4M3) operands carry
 * f32 scales per row of x (token) and per row of W (output channel). A plan takes
 * the first form cuBLASLt offers for its shape (fp8_form): the outer-vector scale
 * mode (CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F: D[i, j] = scale_A[i] scale_B[j]
 * (A B)[i, j], before the epilogue) with the bias / GELU epilogue; the same mode
 * without epilogue into BF16, then our epilogue kernel; or the plain FP8 GEMM of the
 * codes into BF16 and our kernel applying both scales, bias and GELU.
 *
 * cuBLASLt is column-major. A row-major [R, C] matrix is the column-major
 * [C, R] matrix with the same bytes, so y^T (col-major N x M) = W x^T reads:
 * A = W stored col-major K x N (lda K) used transposed, B = x stored col-major
 * K x M (ldb K) used as is, D = y col-major N x M (ldd N). The bias vector
 * runs along D's rows, i.e. along y's columns, as wanted. */
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <new>

#include "backend/backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/fp8_codes.cuh"
#include "backend/cuda/ops_cuda.h"
#include "backend/cuda/vec8.cuh"
#include "core/log.h"

namespace {

/* One handle and workspace for the process, made on first use. */
pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
cublasLtHandle_t g_handle = nullptr;
void *g_workspace = nullptr;
constexpr size_t kWorkspaceBytes = 32u << 20;

vs_status ensure_handle() {
    pthread_mutex_lock(&g_lock);
    vs_status s = VS_OK;
    if (!g_handle) {
        cublasStatus_t st = cublasLtCreate(&g_handle);
        if (st != CUBLAS_STATUS_SUCCESS) {
            g_handle = nullptr;
            s = vs_fail(VS_ERR_CUDA, "cublasLtCreate failed: %s", cublasLtGetStatusString(st));
        } else {
            cudaError_t e = cudaMalloc(&g_workspace, kWorkspaceBytes);
            if (e != cudaSuccess) {
                cublasLtDestroy(g_handle);
                g_handle = nullptr, g_workspace = nullptr;
                s = vs_fail(VS_ERR_OOM, "cuBLASLt workspace (%zu MiB): %s", kWorkspaceBytes >> 20, cudaGetErrorString(e));
            }
        }
    }
    pthread_mutex_unlock(&g_lock);
    return s;
}

/* Largest power of two (<= 256) dividing the address: what the algorithm may assume. */
uint32_t alignment(const void *p) {
    uintptr_t a = reinterpret_cast<uintptr_t>(p);
    uint32_t align = 256;
    while (align > 1 && a % align) align /= 2;
    return align;
}

struct lt_objects {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    ~lt_objects() {
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
        if (d) cublasLtMatrixLayoutDestroy(d);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (desc) cublasLtMatmulDescDestroy(desc);
    }
};

/* One GEMM of the linear layers: y[rows, out] = x[rows, in] W^T + beta * y + bias, GELU after when
 * `gelu`; x and W BF16, or E4M3 (ab_type) with their row scales x_scale [rows] and w_scale [out]; y (C
 * and D at once) and bias of their own types. */
struct linear_gemm {
    const void *x, *w;
    void *y;
    cudaDataType_t y_type;
    const void *bias;
    cudaDataType_t bias_type;
    int gelu;
    float beta;
    int64_t rows, out, in;
    cudaDataType_t ab_type = CUDA_R_16BF;
    const float *x_scale = nullptr, *w_scale = nullptr;
    /* FP8 with codes: the output is y's E4M3 codes and row scales (vs_op_quantize_fp8's of the BF16 y), and
     * y only the space the product passes through. */
    uint8_t *codes = nullptr;
    float *code_scale = nullptr;
};

/* "y[rows, out] += x[rows, in] W^T + bias, GELU": the GEMM, for error messages. */
struct gemm_text {
    char text[128];
    explicit gemm_text(const linear_gemm &g) {
        snprintf(text, sizeof text, "y[%lld, %lld] %s= x[%lld, %lld] W^T%s%s%s", (long long)g.rows,
                 (long long)g.out, g.beta != 0 ? "+" : "", (long long)g.rows, (long long)g.in,
                 g.bias ? " + bias" : "", g.gelu ? ", GELU" : "", g.ab_type == CUDA_R_8F_E4M3 ? ", FP8" : "");
    }
};

/* Turns a cuBLASLt status into a message naming the call and the GEMM `g`. */
#define LT_TRY(call)                                                                                              \
    do {                                                                                                          \
        cublasStatus_t lt_s_ = (call);                                                                            \
        if (lt_s_ != CUBLAS_STATUS_SUCCESS)                                                                       \
            return vs_fail(VS_ERR_CUDA, "%s failed: %s (GEMM %s)", #call, cublasLtGetStatusString(lt_s_),          \
                           gemm_text(g).text);                                                                    \
    } while (0)

/* What a linear GEMM's cuBLASLt objects and algorithm depend on; compared bytewise. */
struct linear_key {
    int64_t rows, out, in;
    int32_t y_type, bias_type, has_bias, gelu, accumulate, ab_type;
    uint32_t align_w, align_x, align_y;
};

/* A shape's descriptor, layouts and the heuristic's algorithm, kept for the process: building them and
 * asking the heuristic costs more CPU time than launching the GEMM. The bias pointer, the one
 * per-call attribute, is set on the descriptor before each use, under the lock. */
struct linear_plan {
    linear_key key;
    lt_objects o;
    cublasLtMatmulAlgo_t algo;
    int form; /* fp8_form; FUSED for BF16 GEMMs */
    cublasStatus_t heuristic_status; /* of the last form tried, for the error when none is offered */
};
constexpr int kMaxPlans = 64;
linear_plan *g_plans[kMaxPlans];
int g_plan_count = 0, g_next_evicted = 0;

/* How an FP8 GEMM runs, in the order a plan tries them (the first cuBLASLt offers for the shape wins). */
enum fp8_form {
    FUSED,       /* outer-vector scales and the bias / GELU epilogue in cuBLASLt, into y as asked */
    OUTER_PLAIN, /* outer-vector scales, no epilogue, into BF16; fp8_epilogue_kernel adds bias, GELU */
    UNSCALED,    /* the codes' product into BF16; fp8_epilogue_kernel applies both scales, bias, GELU */
    FORMS
};
const char *const fp8_form_names[FORMS] = {"outer-vector scales, fused epilogue",
                                           "outer-vector scales, epilogue kernel", "scales in the epilogue kernel"};

/* For an FP8 form, a cuBLASLt call that fails marks the form unavailable (found = 0) and keeps the status
 * for the error when no form is left. */
#define FORM_TRY(call)                                                                                            \
    do {                                                                                                          \
        const cublasStatus_t form_s_ = (call);                                                                    \
        if (form_s_ != CUBLAS_STATUS_SUCCESS) {                                                                   \
            p->heuristic_status = form_s_;                                                                        \
            return VS_OK;                                                                                         \
        }                                                                                                         \
    } while (0)

/* The plan's objects and algorithm for `form` (FUSED: the GEMM g as asked; the other forms: no epilogue,
 * BF16 D, beta 0, outer-vector scales only for OUTER_PLAIN); found = 0 when cuBLASLt has none. */
vs_status build_plan(const linear_gemm &asked, linear_plan *p, int form, int *found) {
    lt_objects &o = p->o;
    o.~lt_objects();
    new (&o) lt_objects();
    *found = 0;
    p->form = form;
    linear_gemm g = asked;
    if (form != FUSED) g.y_type = CUDA_R_16BF, g.bias = nullptr, g.gelu = 0, g.beta = 0.0f;
    LT_TRY(cublasLtMatmulDescCreate(&o.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t trans = CUBLAS_OP_T, no_trans = CUBLAS_OP_N;
    LT_TRY(cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans, sizeof trans));
    LT_TRY(cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_TRANSB, &no_trans, sizeof no_trans));
    if (g.ab_type == CUDA_R_8F_E4M3) {
        if (form != UNSCALED) {
            /* cuBLASLt's A is W (its rows, our output channels, are A's M), its B is x (our tokens, B's N). */
            const int32_t outer = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
            FORM_TRY(cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &outer, sizeof outer));
            FORM_TRY(cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &outer, sizeof outer));
        }
        /* Hopper's fast FP8 accumulation unless VS_FP8_FAST_ACCUM=0 (vs_fp8_fast_accumulation). */
        const int8_t fast = (int8_t)vs_fp8_fast_accumulation();
        FORM_TRY(cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM, &fast, sizeof fast));
    }
    cublasLtEpilogue_t epilogue = g.bias ? (g.gelu ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                                         : (g.gelu ? CUBLASLT_EPILOGUE_GELU : CUBLASLT_EPILOGUE_DEFAULT);
    LT_TRY(cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
    if (g.bias) {
        const int32_t bias_type = g.bias_type;
        LT_TRY(cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                              sizeof bias_type));
    }
    LT_TRY(cublasLtMatrixLayoutCreate(&o.a, g.ab_type, (uint64_t)g.in, (uint64_t)g.out, g.in));
    LT_TRY(cublasLtMatrixLayoutCreate(&o.b, g.ab_type, (uint64_t)g.in, (uint64_t)g.rows, g.in));
    LT_TRY(cublasLtMatrixLayoutCreate(&o.d, g.y_type, (uint64_t)g.out, (uint64_t)g.rows, g.out));

    LT_TRY(cublasLtMatmulPreferenceCreate(&o.pref));
    const size_t ws = kWorkspaceBytes;
    LT_TRY(cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    /* The heuristic assumes 256-byte aligned operands unless told otherwise (row chunks are less aligned). */
    const linear_key &k = p->key;
    const uint32_t align_d = form == FUSED ? k.align_y : 256; /* the other forms write the BF16 scratch */
    LT_TRY(cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &k.align_w, sizeof k.align_w));
    LT_TRY(cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &k.align_x, sizeof k.align_x));
    LT_TRY(cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_d, sizeof align_d));
    LT_TRY(cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_d, sizeof align_d));

    cublasLtMatmulHeuristicResult_t heuristic = {};
    /* An FP8 combination cuBLASLt does not offer fails here (NOT_SUPPORTED, INVALID_VALUE) rather than with
     * found = 0: the caller tries the next form, and names this status if none is left. */
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(g_handle, o.desc, o.a, o.b, o.d, o.d, o.pref, 1, &heuristic, found);
    if (g.ab_type == CUDA_R_8F_E4M3) FORM_TRY(st);
    else LT_TRY(st);
    p->algo = heuristic.algo;
    return VS_OK;
}
#undef FORM_TRY

/* The cached plan for g's shape, built (evicting the oldest when full) on a miss; NULL with the error
 * when cuBLASLt has none. Called under g_lock. */
vs_status find_plan(const linear_gemm &g, linear_plan **out) {
    linear_key key;
    memset(&key, 0, sizeof key);
    key.rows = g.rows, key.out = g.out, key.in = g.in;
    key.y_type = g.y_type, key.bias_type = g.bias ? g.bias_type : 0, key.has_bias = g.bias != nullptr;
    key.gelu = g.gelu, key.accumulate = g.beta != 0, key.ab_type = g.ab_type;
    key.align_w = alignment(g.w), key.align_x = alignment(g.x), key.align_y = alignment(g.y);
    for (int i = 0; i < g_plan_count; i++)
        if (!memcmp(&g_plans[i]->key, &key, sizeof key)) return *out = g_plans[i], VS_OK;
    linear_plan *p = new (std::nothrow) linear_plan();
    if (!p) return vs_fail(VS_ERR_OOM, "out of host memory for a cuBLASLt plan");
    p->key = key;
    int found = 0;
    vs_status s = VS_OK;
    const int forms = g.ab_type == CUDA_R_8F_E4M3 ? FORMS : 1;
    for (int form = FUSED; !s && !found && form < forms; form++) s = build_plan(g, p, form, &found);
    if (!s && !found)
        s = vs_fail(VS_ERR_UNSUPPORTED, "cuBLASLt has no algorithm for %s (%s; last status: %s)", gemm_text(g).text,
                    g.ab_type == CUDA_R_8F_E4M3 ? "E4M3, in any of its forms" : "bf16",
                    cublasLtGetStatusString(p->heuristic_status));
    static int logged_forms; /* each form is announced once per process */
    if (!s && g.ab_type == CUDA_R_8F_E4M3 && !(logged_forms & 1 << p->form)) {
        logged_forms |= 1 << p->form;
        VS_INFO("FP8 GEMM %s runs with %s", gemm_text(g).text, fp8_form_names[p->form]);
    }
    if (s) {
        delete p;
        return s;
    }
    if (g_plan_count < kMaxPlans) {
        g_plans[g_plan_count++] = p;
    } else {
        delete g_plans[g_next_evicted];
        g_plans[g_next_evicted] = p;
        g_next_evicted = (g_next_evicted + 1) % kMaxPlans;
    }
    *out = p;
    return VS_OK;
}

/* Sets a per-call pointer attribute of the plan's descriptor (bias, scales). */
vs_status set_pointer(linear_plan *p, cublasLtMatmulDescAttributes_t attribute, const void *pointer, const char *what) {
    const cublasStatus_t st = cublasLtMatmulDescSetAttribute(p->o.desc, attribute, &pointer, sizeof pointer);
    if (st != CUBLAS_STATUS_SUCCESS)
        return vs_fail(VS_ERR_CUDA, "setting the cuBLASLt %s pointer failed: %s", what, cublasLtGetStatusString(st));
    return VS_OK;
}

/* The rest of an FP8 GEMM that cuBLASLt did not fuse, for eight outputs o0 .. o0 + 8 of a row whose BF16
 * result starts at acc8: v = acc, times row_scale * col_scale[o] when col_scale is given (the UNSCALED form),
 * plus bias[o] (F32 or BF16), GELU-tanh when `gelu`. Every access 16 bytes wide (out % 8 == 0). */
__device__ __forceinline__ void epilogue8(float v[8], const __nv_bfloat16 *acc8, float row_scale,
                                          const float *col_scale, const void *bias, int bias_f32, int gelu,
                                          int o0) {
    vs_load8(acc8, v);
    float c[8];
    if (col_scale) {
        vs_load8(col_scale + o0, c);
#pragma unroll
        for (int k = 0; k < 8; k++)
            v[k] *= row_scale * c[k];
    }
    if (bias) {
        if (bias_f32)
            vs_load8(static_cast<const float *>(bias) + o0, c);
        else
            vs_load8(static_cast<const __nv_bfloat16 *>(bias) + o0, c);
#pragma unroll
        for (int k = 0; k < 8; k++)
            v[k] += c[k];
    }
    if (gelu)
#pragma unroll
        for (int k = 0; k < 8; k++)
            v[k] =
                0.5f * v[k] * (1.0f + tanhf(0.7978845608028654f * (v[k] + 0.044715f * v[k] * v[k] * v[k])));
}

/* epilogue8 over acc[rows, out], then y = v in BF16 (acc may be y) or, when `accumulate`, y += v in F32. A
 * block per row, a thread per 8 values at a time: the kernel is a pass over memory, and per-element accesses
 * of the F32 residual and 64-bit index divisions made it run at a third of the bandwidth. */
constexpr int kEpilogueThreads = 128;
__global__ void __launch_bounds__(kEpilogueThreads)
    fp8_epilogue_kernel(void *y, int accumulate, const __nv_bfloat16 *acc, const float *row_scale,
                        const float *col_scale, const void *bias, int bias_f32, int gelu, int out) {
    const int64_t r = blockIdx.x;
    const float rs = row_scale ? row_scale[r] : 1.0f;
    for (int o0 = threadIdx.x * 8; o0 < out; o0 += kEpilogueThreads * 8) {
        const int64_t i0 = r * out + o0;
        float v[8];
        epilogue8(v, acc + i0, rs, col_scale, bias, bias_f32, gelu, o0);
        if (accumulate) {
            float *yf = static_cast<float *>(y) + i0, sum[8];
            vs_load8(yf, sum);
#pragma unroll
            for (int k = 0; k < 8; k++)
                sum[k] += v[k];
            vs_store8(yf, sum);
        } else {
            vs_store8(static_cast<__nv_bfloat16 *>(y) + i0, v);
        }
    }
}

/* The same epilogue with the row's E4M3 codes as its output (the next layer's input) in place of BF16 y:
 * each thread keeps up to kCodeChunks groups of 8 of the row in registers, rounded to BF16 as y would hold
 * them, so the row's largest magnitude and then the codes (vs_op_quantize_fp8's of y, bit for bit) need no
 * second read. blockDim.x threads cover out <= blockDim.x * 8 * kCodeChunks. */
constexpr int kCodeChunks = 4;
__global__ void __launch_bounds__(1024)
    fp8_epilogue_codes_kernel(uint8_t *codes, float *code_scale, const __nv_bfloat16 *acc,
                              const float *row_scale, const float *col_scale, const void *bias, int bias_f32,
                              int gelu, int out) {
    __shared__ float scratch[32];
    const int64_t r = blockIdx.x;
    const float rs = row_scale ? row_scale[r] : 1.0f;
    float v[kCodeChunks][8];
#pragma unroll
    for (int c = 0; c < kCodeChunks; c++) {
        const int o0 = (c * blockDim.x + threadIdx.x) * 8;
        if (o0 >= out) continue;
        epilogue8(v[c], acc + r * out + o0, rs, col_scale, bias, bias_f32, gelu, o0);
#pragma unroll
        for (int k = 0; k < 8; k++)
            v[c][k] = vs_round_to_bf16(v[c][k]);
    }
    vs_fp8_block_row_codes(v, out, codes + r * out, code_scale + r, scratch);
}
/* Threads for fp8_epilogue_codes_kernel's rows of `out` values: whole warps, at least one. */
int code_threads(int64_t out) {
    const int64_t groups = (out / 8 + kCodeChunks - 1) / kCodeChunks, t = (groups + 31) / 32 * 32;
    return (int)(t < 32 ? 32 : t);
}
constexpr int64_t kMaxCodeRow = 1024 * 8 * kCodeChunks;

int grid_for(int64_t n) {
    const int64_t blocks = (n + 255) / 256;
    return (int)(blocks < 4096 ? blocks : 4096);
}

/* The BF16 result of an accumulating FP8 GEMM in a non-fused form, grown on demand (one for the process,
 * each use ordered on the stream before the next). */
__nv_bfloat16 *g_fp8_acc = nullptr;
int64_t g_fp8_acc_len = 0;
vs_status grow(void **buffer, int64_t *len, int64_t want, size_t elem, const char *what);

/* One GEMM with plan p in its form; the cuBLASLt status of the matmul in *st (SUCCESS when it ran). Called
 * under g_lock. */
vs_status launch(const linear_gemm &g, linear_plan *p, cublasStatus_t *st) {
    const int form = p->form;
    *st = CUBLAS_STATUS_SUCCESS;
    /* FUSED writes y as asked; the other forms write BF16: y itself, or the scratch for an F32 accumulation. */
    void *d = g.y;
    if (form != FUSED && g.y_type == CUDA_R_32F) {
        VS_TRY(grow(reinterpret_cast<void **>(&g_fp8_acc), &g_fp8_acc_len, g.rows * g.out, 2, "FP8 GEMM result"));
        d = g_fp8_acc;
    }
    if (g.bias && form == FUSED) VS_TRY(set_pointer(p, CUBLASLT_MATMUL_DESC_BIAS_POINTER, g.bias, "bias"));
    if (g.ab_type == CUDA_R_8F_E4M3 && form != UNSCALED) {
        VS_TRY(set_pointer(p, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, g.w_scale, "weight scale"));
        VS_TRY(set_pointer(p, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, g.x_scale, "activation scale"));
    }
    const float alpha = 1.0f, beta = form == FUSED ? g.beta : 0.0f;
    *st = cublasLtMatmul(g_handle, p->o.desc, &alpha, g.w, p->o.a, g.x, p->o.b, &beta, d, p->o.d, d, p->o.d, &p->algo,
                         g_workspace, kWorkspaceBytes, 0);
    if (*st != CUBLAS_STATUS_SUCCESS)
        return vs_fail(VS_ERR_CUDA, "cublasLtMatmul failed: %s (GEMM %s, %s)", cublasLtGetStatusString(*st),
                       gemm_text(g).text, g.ab_type == CUDA_R_8F_E4M3 ? fp8_form_names[form] : "bf16");
    const int unscaled = form == UNSCALED;
    const float *row_scale = unscaled ? g.x_scale : nullptr, *col_scale = unscaled ? g.w_scale : nullptr;
    const __nv_bfloat16 *acc = static_cast<const __nv_bfloat16 *>(d);
    if (g.codes && form == FUSED)
        return vs_cuda_quantize_fp8(g.codes, g.code_scale, g.y, VS_BF16, g.rows, g.out);
    if (g.codes) {
        fp8_epilogue_codes_kernel<<<(unsigned)g.rows, code_threads(g.out)>>>(
            g.codes, g.code_scale, acc, row_scale, col_scale, g.bias, g.bias_type == CUDA_R_32F, g.gelu,
            (int)g.out);
        VS_CUDA_LAUNCH_CHECK("fp8_epilogue_codes_kernel");
    } else if (form != FUSED) {
        fp8_epilogue_kernel<<<(unsigned)g.rows, kEpilogueThreads>>>(
            g.y, g.y_type == CUDA_R_32F, acc, row_scale, col_scale, g.bias, g.bias_type == CUDA_R_32F, g.gelu,
            (int)g.out);
        VS_CUDA_LAUNCH_CHECK("fp8_epilogue_kernel");
    }
    return VS_OK;
}

/* Runs g with its cached plan. An FP8 form the heuristic offered but the matmul then refuses moves the plan
 * to the next form, and the GEMM runs again. */
vs_status run_linear(const linear_gemm &g) {
    VS_TRY(ensure_handle());
    pthread_mutex_lock(&g_lock);
    linear_plan *p = nullptr;
    vs_status s = find_plan(g, &p);
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (!s) s = launch(g, p, &st);
    while (s && st != CUBLAS_STATUS_SUCCESS && g.ab_type == CUDA_R_8F_E4M3 && p->form < UNSCALED) {
        const int refused = p->form;
        int found = 0;
        vs_status b = VS_OK;
        for (int form = refused + 1; !b && !found && form < FORMS; form++) b = build_plan(g, p, form, &found);
        if (b || !found) break; /* keep the matmul's error */
        VS_WARN("FP8 GEMM %s: the matmul refused %s (%s); using %s", gemm_text(g).text, fp8_form_names[refused],
                cublasLtGetStatusString(st), fp8_form_names[p->form]);
        s = launch(g, p, &st);
    }
    pthread_mutex_unlock(&g_lock);
    return s;
}

/* The gate folded into the layer: w_scaled[j, :] = gate[j] * w[j, :] (rounded to BF16, as the
 * two-step form rounds the layer's output) and bias_scaled[j] = gate[j] * bias[j] in F32; gate NULL
 * leaves w alone and only widens the bias. One thread per 8 weights of a row, or per bias entry. */
__global__ void scale_rows_kernel(uint16_t *w_scaled, float *bias_scaled, const uint16_t *w, const uint16_t *bias,
                                  const float *gate, int64_t out, int64_t in) {
    const int64_t groups = gate ? out * (in / 8) : 0;
    for (int64_t t = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; t < groups + out;
         t += (int64_t)gridDim.x * blockDim.x) {
        if (t >= groups) {
            const int64_t j = t - groups;
            if (bias) bias_scaled[j] = __uint_as_float((uint32_t)bias[j] << 16) * (gate ? gate[j] : 1.0f);
            continue;
        }
        const int64_t j = t / (in / 8);
        uint4 v = reinterpret_cast<const uint4 *>(w)[t];
        uint16_t *e = reinterpret_cast<uint16_t *>(&v);
        for (int i = 0; i < 8; i++) {
            const float x = __uint_as_float((uint32_t)e[i] << 16) * gate[j];
            e[i] = __bfloat16_as_ushort(__float2bfloat16(x));
        }
        reinterpret_cast<uint4 *>(w_scaled)[t] = v;
    }
}

/* The scaled weight and bias buffers, grown on demand; one of each for the process, like the workspace.
 * Each use is ordered on the stream before the next call overwrites it. */
uint16_t *g_scaled_w = nullptr;
float *g_scaled_bias = nullptr;
int64_t g_scaled_w_len = 0, g_scaled_bias_len = 0;

vs_status grow(void **buffer, int64_t *len, int64_t want, size_t elem, const char *what) {
    if (want <= *len) return VS_OK;
    cudaFree(*buffer);
    *buffer = nullptr, *len = 0;
    cudaError_t e = cudaMalloc(buffer, elem * (size_t)want);
    if (e != cudaSuccess)
        return vs_fail(VS_ERR_OOM, "%s (%lld values): %s", what, (long long)want, cudaGetErrorString(e));
    *len = want;
    return VS_OK;
}

vs_status ensure_scaled(int64_t weights, int64_t biases) {
    pthread_mutex_lock(&g_lock);
    vs_status s = grow(reinterpret_cast<void **>(&g_scaled_w), &g_scaled_w_len, weights, 2, "gated layer weights");
    if (!s) s = grow(reinterpret_cast<void **>(&g_scaled_bias), &g_scaled_bias_len, biases, 4, "gated layer bias");
    pthread_mutex_unlock(&g_lock);
    return s;
}

} // namespace

extern "C" vs_status vs_cuda_linear_bf16(uint16_t *y, const uint16_t *x, const uint16_t *w, const uint16_t *bias,
                                         int64_t rows, int64_t out, int64_t in, int gelu) {
    if (rows == 0 || out == 0) return VS_OK;
    return run_linear({x, w, y, CUDA_R_16BF, bias, CUDA_R_16BF, gelu, 0.0f, rows, out, in});
}

extern "C" vs_status vs_cuda_linear_residual_bf16(float *x, const uint16_t *h, const uint16_t *w, const uint16_t *bias,
                                                  const float *gate, int64_t rows, int64_t out, int64_t in) {
    if (rows == 0 || out == 0) return VS_OK;
    if (gate || bias) {
        VS_TRY(ensure_scaled(gate ? out * in : 0, out));
        const int threads = 256;
        const int64_t work = (gate ? out * (in / 8) : 0) + out, blocks = (work + threads - 1) / threads;
        scale_rows_kernel<<<(int)(blocks < 4096 ? blocks : 4096), threads>>>(g_scaled_w, g_scaled_bias, w, bias, gate,
                                                                            out, in);
        VS_CUDA_LAUNCH_CHECK("scale_rows_kernel");
    }
    return run_linear({h, gate ? g_scaled_w : w, x, CUDA_R_32F, bias ? g_scaled_bias : nullptr, CUDA_R_32F, 0, 1.0f,
                       rows, out, in});
}
namespace {

/* The gate folded into an FP8 layer's per-channel scale and its bias: scale_gated[j] = gate[j] * w_scale[j],
 * bias_gated[j] = gate[j] * bias[j] (F32; bias NULL leaves it alone). */
__global__ void gate_scales_kernel(float *scale_gated, float *bias_gated, const float *w_scale,
                                   const uint16_t *bias, const float *gate, int64_t out) {
    for (int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; j < out; j += (int64_t)gridDim.x * blockDim.x) {
        const float g = gate ? gate[j] : 1.0f;
        scale_gated[j] = w_scale[j] * g;
        if (bias) bias_gated[j] = __uint_as_float((uint32_t)bias[j] << 16) * g;
    }
}

float *g_gated_scale = nullptr;
int64_t g_gated_scale_len = 0;

/* fp8_epilogue_kernel's 16-byte accesses of y, the bias and the weight scales; a block per row. */
vs_status check_fp8_operands(const void *y, const void *bias, const float *w_scale, int64_t rows) {
    if ((uintptr_t)y % 16 || (uintptr_t)bias % 16 || (uintptr_t)w_scale % 16)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "FP8 linear: y, the bias and the weight scales must be 16-byte aligned");
    if (rows >= (1ll << 31))
        return vs_fail(VS_ERR_UNSUPPORTED, "FP8 linear: %lld rows (at most 2^31 - 1)", (long long)rows);
    return VS_OK;
}

} // namespace

extern "C" vs_status vs_cuda_linear_fp8(uint16_t *y, const uint8_t *xq, const float *x_scale,
                                        const uint8_t *wq, const float *w_scale, const uint16_t *bias,
                                        int64_t rows, int64_t out, int64_t in, int gelu, uint8_t *codes,
                                        float *code_scale) {
    if (rows == 0 || out == 0) return VS_OK;
    VS_TRY(check_fp8_operands(y, bias, w_scale, rows));
    if (codes && out > kMaxCodeRow)
        return vs_fail(VS_ERR_UNSUPPORTED, "FP8 linear into codes: %lld outputs (at most %lld)",
                       (long long)out, (long long)kMaxCodeRow);
    linear_gemm g = {xq, wq, y, CUDA_R_16BF, bias, CUDA_R_16BF, gelu, 0.0f, rows, out, in};
    g.ab_type = CUDA_R_8F_E4M3, g.x_scale = x_scale, g.w_scale = w_scale, g.codes = codes,
    g.code_scale = code_scale;
    return run_linear(g);
}

extern "C" vs_status vs_cuda_linear_residual_fp8(float *x, const uint8_t *hq, const float *h_scale, const uint8_t *wq,
                                                 const float *w_scale, const uint16_t *bias, const float *gate,
                                                 int64_t rows, int64_t out, int64_t in) {
    if (rows == 0 || out == 0) return VS_OK;
    VS_TRY(check_fp8_operands(x, bias, w_scale, rows));
    if (gate || bias) {
        pthread_mutex_lock(&g_lock);
        vs_status s = grow(reinterpret_cast<void **>(&g_gated_scale), &g_gated_scale_len, out, 4, "gated FP8 scales");
        if (!s) s = grow(reinterpret_cast<void **>(&g_scaled_bias), &g_scaled_bias_len, out, 4, "gated layer bias");
        pthread_mutex_unlock(&g_lock);
        VS_TRY(s);
        gate_scales_kernel<<<grid_for(out), 256>>>(g_gated_scale, g_scaled_bias, w_scale, bias, gate, out);
        VS_CUDA_LAUNCH_CHECK("gate_scales_kernel");
    }
    linear_gemm g = {hq, wq, x, CUDA_R_32F, bias ? g_scaled_bias : nullptr, CUDA_R_32F, 0, 1.0f, rows, out, in};
    g.ab_type = CUDA_R_8F_E4M3, g.x_scale = h_scale, g.w_scale = gate || bias ? g_gated_scale : w_scale;
    return run_linear(g);
}

/* Row-major C = A op(B) is column-major C^T = op(B)^T A^T: cuBLASLt's A is our
 * B (stored n x k col-major when trans_b, so used transposed; k x n otherwise),
 * its B is our A (k x m col-major, lda), D is C^T (n x m, ldc). */
#define LT_BATCHED_TRY(call)                                                                                      \
    do {                                                                                                          \
        cublasStatus_t lt_s_ = (call);                                                                            \
        if (lt_s_ != CUBLAS_STATUS_SUCCESS)                                                                       \
            return vs_fail(VS_ERR_CUDA, "%s failed: %s (batched GEMM %d x [%lld, %lld] . [%lld, %lld]%s)", #call,     \
                           cublasLtGetStatusString(lt_s_), batch, (long long)m, (long long)k, (long long)k,         \
                           (long long)n, trans_b ? "^T" : "");                                                    \
    } while (0)

extern "C" vs_status vs_cuda_gemm_bf16_batched(void *c, vs_dtype c_dtype, const uint16_t *a, const uint16_t *b,
                                               int trans_b, int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb,
                                               int64_t ldc, int64_t sa, int64_t sb, int64_t sc, int batch) {
    if (m == 0 || n == 0 || batch == 0) return VS_OK;
    VS_TRY(ensure_handle());
    lt_objects o;
    const cudaDataType_t c_type = c_dtype == VS_F32 ? CUDA_R_32F : CUDA_R_16BF;
    LT_BATCHED_TRY(cublasLtMatmulDescCreate(&o.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t op_a = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = CUBLAS_OP_N;
    LT_BATCHED_TRY(cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof op_a));
    LT_BATCHED_TRY(cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof op_b));
    if (trans_b) LT_BATCHED_TRY(cublasLtMatrixLayoutCreate(&o.a, CUDA_R_16BF, (uint64_t)k, (uint64_t)n, ldb));
    else LT_BATCHED_TRY(cublasLtMatrixLayoutCreate(&o.a, CUDA_R_16BF, (uint64_t)n, (uint64_t)k, ldb));
    LT_BATCHED_TRY(cublasLtMatrixLayoutCreate(&o.b, CUDA_R_16BF, (uint64_t)k, (uint64_t)m, lda));
    LT_BATCHED_TRY(cublasLtMatrixLayoutCreate(&o.d, c_type, (uint64_t)n, (uint64_t)m, ldc));
    const cublasLtMatrixLayout_t layouts[3] = {o.a, o.b, o.d};
    const int64_t strides[3] = {sb, sa, sc};
    for (int i = 0; i < 3; i++) {
        LT_BATCHED_TRY(cublasLtMatrixLayoutSetAttribute(layouts[i], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch,
                                                        sizeof batch));
        LT_BATCHED_TRY(cublasLtMatrixLayoutSetAttribute(layouts[i], CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                        &strides[i], sizeof strides[i]));
    }
    LT_BATCHED_TRY(cublasLtMatmulPreferenceCreate(&o.pref));
    const size_t ws = kWorkspaceBytes;
    LT_BATCHED_TRY(cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    /* Every matrix of the batch starts at base + e * stride: the alignment is what base and stride share. */
    const size_t c_size = c_dtype == VS_F32 ? 4 : 2;
    uint32_t align[3] = {alignment(b), alignment(a), alignment(c)};
    const uint32_t stride_align[3] = {alignment(reinterpret_cast<void *>((uintptr_t)(sb * 2))),
                                      alignment(reinterpret_cast<void *>((uintptr_t)(sa * 2))),
                                      alignment(reinterpret_cast<void *>((uintptr_t)(sc * (int64_t)c_size)))};
    for (int i = 0; i < 3; i++)
        if (batch > 1 && stride_align[i] < align[i]) align[i] = stride_align[i];
    LT_BATCHED_TRY(cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align[0], sizeof align[0]));
    LT_BATCHED_TRY(cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align[1], sizeof align[1]));
    LT_BATCHED_TRY(cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align[2], sizeof align[2]));
    LT_BATCHED_TRY(cublasLtMatmulPreferenceSetAttribute(o.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align[2], sizeof align[2]));
    cublasLtMatmulHeuristicResult_t heuristic = {};
    int found = 0;
    LT_BATCHED_TRY(cublasLtMatmulAlgoGetHeuristic(g_handle, o.desc, o.a, o.b, o.d, o.d, o.pref, 1, &heuristic, &found));
    if (found == 0)
        return vs_fail(VS_ERR_UNSUPPORTED, "cuBLASLt has no algorithm for the batched GEMM %d x [%lld, %lld] . [%lld, %lld]",
                       batch, (long long)m, (long long)k, (long long)k, (long long)n);
    const float alpha = 1.0f, beta = 0.0f;
    LT_BATCHED_TRY(cublasLtMatmul(g_handle, o.desc, &alpha, b, o.a, a, o.b, &beta, c, o.d, c, o.d, &heuristic.algo,
                                  g_workspace, ws, 0));
    return VS_OK;
}

/* Per batch entry, all heads as one strided batch (head h of q, k, v, out
 * starts h * D into each token's row): S = q k^T in F32, the bias + mask +
 * softmax kernel turning S into BF16 P in place (row stride 2 ld in bf16
 * elements), then out = P v. */
extern "C" vs_status vs_cuda_attention_relpos(uint16_t *out, const uint16_t *q, const uint16_t *k, const uint16_t *v,
                                              const float *rel_table, const int32_t *buckets, const int32_t *mask,
                                              float *scores, int64_t batch, int64_t n, int64_t heads,
                                              int64_t head_dim) {
    const int64_t ld = (n + 7) / 8 * 8, inner = heads * head_dim, head_scores = n * ld;
    if (heads > INT32_MAX) return vs_fail(VS_ERR_UNSUPPORTED, "attention_relpos: too many heads");
    for (int64_t b = 0; b < batch; b++) {
        const int64_t off = b * n * inner;
        VS_TRY(vs_cuda_gemm_bf16_batched(scores + b * heads * head_scores, VS_F32, q + off, k + off, 1, n, n, head_dim,
                                         inner, inner, ld, head_dim, head_dim, head_scores, (int)heads));
    }
    VS_TRY(vs_cuda_relpos_softmax(scores, rel_table, buckets, mask, batch, heads, n, ld));
    const uint16_t *p = reinterpret_cast<const uint16_t *>(scores);
    for (int64_t b = 0; b < batch; b++) {
        const int64_t off = b * n * inner;
        VS_TRY(vs_cuda_gemm_bf16_batched(out + off, VS_BF16, p + 2 * b * heads * head_scores, v + off, 0, n, head_dim,
                                         n, 2 * ld, inner, inner, 2 * head_scores, head_dim, head_dim, (int)heads));
    }
    return VS_OK;
}
