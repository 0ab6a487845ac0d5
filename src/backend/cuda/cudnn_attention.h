/* Dense attention through cuDNN's fused flash-attention engines (cuDNN 9
 * backend graph API). Semantics are those of src/ops/attention.h for dense
 * arguments: no block list, no head layout; kv_len may differ from seq_len
 * (cross-attention). Paged keys and values (any list of key blocks per batch
 * entry) carry block-sparse attention. All pointers in `args` are device pointers, dtype BF16
 * or F16, head_dim 64 or 128. */
#ifndef VS_BACKEND_CUDA_CUDNN_ATTENTION_H
#define VS_BACKEND_CUDA_CUDNN_ATTENTION_H

#include "backend/attention_args.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs out = softmax(scale q k^T) v on `stream` (a cudaStream_t; NULL: the
 * default stream). The execution plan of each shape (batch, lengths, heads,
 * head_dim, dtype, strides) is built on first use and cached with the
 * workspace it needs. VS_ERR_UNSUPPORTED, with cuDNN's status and the step
 * that failed, when cuDNN has no fused engine for the shape (the answer is
 * cached too): callers then use another kernel. */
vs_status vs_cudnn_attention(const vs_attn_args *args, void *stream);
/* The same, also writing each row's softmax log-sum-exp, log sum_j exp(scale
 * q k_j) (natural log), to lse: f32 [B, H, N] contiguous, 16-byte aligned.
 * Two attentions of one query over disjoint key sets merge exactly through it. */
vs_status vs_cudnn_attention_lse(const vs_attn_args *args, float *lse, void *stream);
/* The same with per-entry lengths: batch entry b's queries are its first
 * seq_len_q[b] rows and its keys and values its first seq_len_kv[b] (at least
 * 1) of kv_len; INT32 [batch] arrays in device memory, 16-byte aligned. Rows
 * of out and lse past seq_len_q[b] hold unspecified values. The batch strides
 * may overlap or be 0 (entries sharing their keys). */
vs_status vs_cudnn_attention_lengths(const vs_attn_args *args, const int32_t *seq_len_q, const int32_t *seq_len_kv,
                                     float *lse, void *stream);
/* VS_OK when cuDNN has a fused engine for the dense attention `args`
 * describes (building and caching its plan, so the run that follows finds
 * it), VS_ERR_UNSUPPORTED with the reason otherwise; other errors (no
 * cuDNN handle) as they come. */
vs_status vs_cudnn_attention_supported(const vs_attn_args *args);

/* Paged K/V: the keys and values of batch entry b are the pages
 * table[b * pages_per_row + j], j < ceil(seq_len_kv[b] / VS_ATTN_BLOCK), of two
 * containers [num_pages, H, VS_ATTN_BLOCK, D] (args->k and args->v, D
 * contiguous, page, head and token strides in elements as given), in that
 * order; query rows beyond seq_len_q[b] are padding. All three arrays are
 * INT32 in device memory (table [batch, pages_per_row], lengths [batch]).
 * Token positions past seq_len_kv[b] in its last page must hold finite values. */
typedef struct vs_cudnn_pages {
    const int32_t *table, *seq_len_q, *seq_len_kv;
    int pages_per_row, num_pages;
    int64_t page_stride, head_stride, token_stride;
} vs_cudnn_pages;

/* out = softmax(scale q k^T) v with paged keys and values: q and out as in
 * args ([batch, seq_len, H, D] with their strides), args->k_* / v_* strides
 * and kv_len ignored. Each entry's padded query rows of out are written with
 * unspecified values. VS_ERR_UNSUPPORTED as vs_cudnn_attention. */
vs_status vs_cudnn_paged_attention(const vs_attn_args *args, const vs_cudnn_pages *pages, void *stream);

/* FP8 attention. cuDNN's FP8 fused attention (Hopper or newer) comes in several graph forms, and which of
 * them a cuDNN version has an engine for is not documented per version (docs/fp8.md), so the form is a
 * parameter, and vs_cudnn_fp8_pick tries them in order:
 *   out_e4m3        O is written as E4M3 codes of O * scale_o (else BF16, in the model's layout);
 *   stats           the softmax statistics (log-sum-exp per row) are an output, as in training graphs;
 *   padded          the token counts are rounded up to VS_CUDNN_FP8_PAD and device lengths (seq_len_q,
 *                   seq_len_kv) bound the matmuls and mask the padded keys (out_e4m3 only);
 *   scale_o_value   scale_o is the by-value constant 1 (BF16 out only), not a device scalar.
 * Operands: args->q / k / v hold E4M3 codes, [batch, rows, heads, head_dim] with args' strides (in codes;
 * rows: seq_len or kv_len, rounded up to VS_CUDNN_FP8_PAD when padded, so the strides must leave room for
 * that; padded rows must hold finite codes), whose values are codes times descale_q / descale_k / descale_v.
 * out = softmax(scale q k^T) v with args' out strides: BF16, or E4M3 codes of out * scale_o when out_e4m3.
 * The probabilities enter the second product as E4M3 codes of P * scale_s, undone by descale_s (448 and
 * 1/448); amax_s and amax_o receive max |P| and max |out| (cuDNN's FP8 pattern writes them). Every scalar is
 * an f32 in device memory, 16-byte aligned; stats f32 [batch, heads, rows_q] (log-sum-exp of each row's
 * scaled logits, as vs_cudnn_attention_lse); seq_len_q / seq_len_kv INT32 [batch]. */
#define VS_CUDNN_FP8_PAD 128
typedef struct vs_cudnn_fp8_form {
    int out_e4m3, stats, padded, scale_o_value;
} vs_cudnn_fp8_form;
typedef struct vs_cudnn_fp8_scales {
    const float *descale_q, *descale_k, *descale_v, *descale_s, *scale_s, *scale_o;
    float *amax_s, *amax_o;
    float *stats;                         /* form.stats */
    const int32_t *seq_len_q, *seq_len_kv; /* form.padded */
} vs_cudnn_fp8_scales;
vs_status vs_cudnn_attention_fp8(const vs_attn_args *args, const vs_cudnn_fp8_form *form,
                                 const vs_cudnn_fp8_scales *scales, void *stream);
/* VS_OK when cuDNN has an engine for `form` at the shape of args (building and caching its plan), else
 * VS_ERR_UNSUPPORTED with cuDNN's answer (the probe of tests/gpu/test_fp8_attention.c). */
vs_status vs_cudnn_fp8_supported(const vs_attn_args *args, const vs_cudnn_fp8_form *form);
/* The first form cuDNN serves at the shape of args, in the order of vs_cudnn_fp8_forms; VS_ERR_UNSUPPORTED
 * naming the shape and cuDNN's answer to the first form when none. */
vs_status vs_cudnn_fp8_pick(const vs_attn_args *args, vs_cudnn_fp8_form *form);
/* The forms tried, cheapest first (BF16 out needs no conversion pass, unpadded no copy). */
extern const vs_cudnn_fp8_form vs_cudnn_fp8_forms[];
extern const int vs_cudnn_fp8_form_count;

#ifdef __cplusplus
}
#endif
#endif
