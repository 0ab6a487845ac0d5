/* Dense attention in FP8 on Hopper (fp8_attention.cu): per-head E4M3 scales, K smoothed by its mean over
 * the tokens, cuDNN's FP8 fused attention. Arguments as vs_cuda_flash_attention's dense ones, BF16, strides
 * multiples of 8 elements, pointers 16-byte aligned; VS_ERR_UNSUPPORTED where cuDNN has no FP8 engine
 * (before Hopper, an old cuDNN), with cuDNN's answer. */
#ifndef VS_BACKEND_CUDA_FP8_ATTENTION_H
#define VS_BACKEND_CUDA_FP8_ATTENTION_H

#include "backend/attention_args.h"

#ifdef __cplusplus
extern "C" {
#endif

vs_status vs_cuda_fp8_attention(const vs_attn_args *args, void *stream);

#ifdef __cplusplus
}
#endif
#endif
