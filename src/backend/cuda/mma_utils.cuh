/* Building blocks shared by the tensor-core kernels (flash attention, SVG
 * profiling): asynchronous 16-byte copies, ldmatrix, mma.sync m16n8k16 with
 * f32 accumulation for bf16 and f16, the swizzled shared-memory tile layout
 * and a fast exp2. Device code only; include from .cu files. */
#ifndef VS_BACKEND_CUDA_MMA_UTILS_CUH
#define VS_BACKEND_CUDA_MMA_UTILS_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

namespace vs_mma {

__device__ __forceinline__ uint32_t smem_addr(const void *p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

/* 16-byte async copy; src_bytes = 0 zero-fills the destination. */
__device__ __forceinline__ void cp_async_16(void *dst, const void *src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
                 "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}

template <typename T> struct Mma;
template <> struct Mma<__nv_bfloat16> {
    static __device__ __forceinline__ void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                     "{%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
        __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&h);
    }
};
template <> struct Mma<__half> {
    static __device__ __forceinline__ void run(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
                     "{%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
    static __device__ __forceinline__ uint32_t pack(float lo, float hi) {
        __half2 h = __floats2half2_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&h);
    }
};

/* One step of a double-buffered tile loop: starts copying tile t + 1 into
 * the other buffer (load(t + 1, (t + 1) & 1)) and waits until tile t, copied
 * one step earlier, has landed in this thread's view. */
template <typename Load> __device__ __forceinline__ void prefetch_next_and_wait(int t, int num_tiles, Load &&load) {
    if (t + 1 < num_tiles) {
        load(t + 1, (t + 1) & 1);
        cp_async_commit();
        cp_async_wait<1>();
    } else {
        cp_async_wait<0>();
    }
}

/* Element offset of 16-byte chunk `chunk` of tile row `row` (swizzled). */
template <int D> __device__ __forceinline__ int tile_offset(int row, int chunk) {
    return row * D + ((chunk ^ (row & 7)) << 3);
}

/* Element offset of 16-byte chunk `chunk` of row `row` in wgmma's 128-byte-swizzle layout of a ROWS-row tile:
 * 64-column panels ([panel][row][64 halves]); inside a panel, chunk c of row r sits at chunk c ^ (r % 8), so
 * 8-row groups are 1024 bytes apart. */
template <int ROWS> __device__ __forceinline__ int panel_offset(int row, int chunk) {
    return (chunk / 8) * ROWS * 64 + row * 64 + (((chunk % 8) ^ (row % 8)) << 3);
}

/* wgmma shared-memory matrix descriptor of the panel layout above (128-byte swizzle). */
__device__ __forceinline__ uint64_t smem_desc(const void *p, uint32_t leading_bytes, uint32_t stride_bytes) {
    return (uint64_t)((smem_addr(p) & 0x3FFFF) >> 4) | ((uint64_t)(leading_bytes >> 4) << 16) |
           ((uint64_t)(stride_bytes >> 4) << 32) | (1ull << 62);
}

/* 2^x on the special-function unit, flushing denormal results to zero (they
 * are far below what a bf16 probability can hold). */
__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

} // namespace vs_mma

#endif
