/* Dense attention in FP8 on Hopper (fp8_attention.cu): per-head E4M3 scales, K smoothed by its mean over
 * the tokens, cuDNN's FP8 fused attention. Arguments as vs_cuda_flash_attention's dense ones, BF16, strides
 * multiples of 8 elements, pointers 16-byte aligned; VS_ERR_UNSUPPORTED where cuDNN has no FP8 engine
 * (before Hopper, an old cuDNN), with cuDNN's answer.
 *
 * The scales (fp8_attention.cu's comment has the scheme) are shared with SVG's band path in FP8
 * (band_attention.cu): vs_cuda_fp8_scales. */
#ifndef VS_BACKEND_CUDA_FP8_ATTENTION_H
#define VS_BACKEND_CUDA_FP8_ATTENTION_H

#include "backend/attention_args.h"
#include "backend/cuda/cudnn_attention.h"

#ifdef __cplusplus
extern "C" {
#endif

vs_status vs_cuda_fp8_attention(const vs_attn_args *args, void *stream);
/* The scratch vs_cuda_fp8_attention grows to for args' shape, with E4M3 out (the most it takes). */
size_t vs_cuda_fp8_attention_workspace(const vs_attn_args *args);

/* The FP8 scales of one attention call, in device memory (vs_cuda_fp8_scales_carve lays them out over
 * vs_cuda_fp8_scales_bytes): every f32 cuDNN reads sits in a 16-byte slot of VS_FP8_SLOT floats. */
#define VS_FP8_SLOT 4
typedef struct vs_cuda_fp8_scales {
    float *sums; /* [batch, heads * head_dim]: K's column sums over the keys (its mean times kv_len) */
    unsigned *amax_bits; /* [3 heads]: the largest |Q|, |K - mean|, |V| of each head, as float bits */
    float *mul;          /* [3 heads]: what each head of Q, K - mean and V is multiplied by before rounding */
    float *descale_v;    /* [heads] slots: V's scale per head (BF16-out forms, one head a call) */
    float *out_mul;      /* [heads]: E4M3 out codes to values */
    float *constants;    /* slots: scale_s 448, descale_s 1/448, one, descale_q, scale_o of E4M3 out */
    float *amax_out;     /* 2 slots: what cuDNN writes as amax_s and amax_o */
    int32_t *lengths;    /* [2 batch]: seq_len, then kv_len of every entry (the padded forms) */
} vs_cuda_fp8_scales;
size_t vs_cuda_fp8_scales_bytes(int batch, int heads, int head_dim);
/* Lays the arrays out from base into *out and returns their bytes (base and out NULL: the bytes alone). */
size_t vs_cuda_fp8_scales_carve(void *base, int batch, int heads, int head_dim, vs_cuda_fp8_scales *out);
/* The scales of a's BF16 q, k and v (over all its batch entries and tokens), on the stream. */
vs_status vs_cuda_fp8_scales_compute(const vs_attn_args *a, const vs_cuda_fp8_scales *s, void *stream);
/* cuDNN's scalars for one call in `form` on the heads from first_head (one head with BF16 out); stats and
 * the lengths as the form needs them. */
vs_cudnn_fp8_scales vs_cuda_fp8_cudnn_scales(const vs_cuda_fp8_scales *s, const vs_cudnn_fp8_form *form,
                                             int first_head, float *stats, const int32_t *seq_len_q,
                                             const int32_t *seq_len_kv);

#ifdef __cplusplus
}
#endif
#endif
