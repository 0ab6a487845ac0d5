/* Row-wise E4M3 quantisation (vs_op_quantize_fp8): one warp per row finds the
 * row's largest magnitude, then writes the codes. The arithmetic is the CPU
 * reference's (backend/cpu/fp8_cpu.c), in the same order with IEEE-rounded
 * division and product, and the conversion rounds to nearest even and
 * saturates at 448 like vs_f32_to_f8e4m3, so both devices produce the same
 * bytes from the same inputs. */
#include <cuda_bf16.h>
#include <cuda_fp8.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/fp8_codes.cuh"
#include "backend/cuda/ops_cuda.h"
#include "backend/cuda/vec8.cuh"

namespace {

/* Rows of `cols` values (cols % 8 == 0): lane l handles the 8-value groups l, l + 32, ... */
template <typename T>
__global__ void quantize_rows_kernel(uint8_t *q, float *scale, const T *x, int64_t rows, int64_t cols) {
    const int lane = threadIdx.x % 32;
    const int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
    if (row >= rows) return;
    const T *xr = x + row * cols;
    float amax = 0.0f, v[8];
    for (int64_t i = lane * 8; i < cols; i += 32 * 8) {
        vs_load8(xr + i, v);
        for (int k = 0; k < 8; k++) amax = fmaxf(amax, fabsf(v[k]));
    }
    for (int offset = 16; offset > 0; offset /= 2)
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
    const float multiplier = vs_fp8_row_multiplier(amax);
    if (lane == 0) scale[row] = vs_fp8_row_scale(amax);
    uint8_t *qr = q + row * cols;
    for (int64_t i = lane * 8; i < cols; i += 32 * 8) { /* the second pass reads the row from cache */
        vs_load8(xr + i, v);
        *reinterpret_cast<uint2 *>(qr + i) = vs_fp8_row_codes8(v, multiplier);
    }
}

} // namespace

extern "C" vs_status vs_cuda_quantize_fp8(uint8_t *q, float *scale, const void *x, vs_dtype x_dtype, int64_t rows,
                                          int64_t cols) {
    if (rows == 0 || cols == 0) return VS_OK;
    if (cols % 8) return vs_fail(VS_ERR_UNSUPPORTED, "quantize_fp8: %lld columns are not a multiple of 8", (long long)cols);
    const int warps = 8;
    const int64_t blocks = (rows + warps - 1) / warps;
    if (x_dtype == VS_F32)
        quantize_rows_kernel<<<(unsigned)blocks, warps * 32>>>(q, scale, static_cast<const float *>(x), rows, cols);
    else
        quantize_rows_kernel<<<(unsigned)blocks, warps * 32>>>(q, scale, static_cast<const __nv_bfloat16 *>(x), rows,
                                                                 cols);
    VS_CUDA_LAUNCH_CHECK("quantize_rows_kernel");
    return VS_OK;
}
