/* The blocked, threaded C GEMM behind vs_cpu_gemm when OpenBLAS is missing (or
 * a dimension exceeds OpenBLAS's 32-bit integers). Same contract as vs_cpu_gemm;
 * declared here so that tests check it in OpenBLAS builds as well. */
#ifndef VS_BACKEND_CPU_GEMM_LOOP_H
#define VS_BACKEND_CPU_GEMM_LOOP_H

#include <stdint.h>

void vs_cpu_gemm_loop(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

#endif
