/* vidsparse: video diffusion transformers with Sparse VideoGen attention.
 * The public C API. Every fallible call returns a vs_status; on failure a
 * human-readable message is available from vs_last_error() (per thread). */
#ifndef VIDSPARSE_H
#define VIDSPARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VS_VERSION_STRING "0.1.0"

typedef enum vs_status {
    VS_OK = 0,
    VS_ERR_INVALID_ARG,  /* a caller passed something that cannot be right */
    VS_ERR_IO,           /* open/read/write/mmap failed */
    VS_ERR_FORMAT,       /* a file is malformed */
    VS_ERR_NOT_FOUND,    /* a named tensor, key or file is missing */
    VS_ERR_SHAPE,        /* shapes or dtypes do not fit together */
    VS_ERR_OOM,          /* host or device memory exhausted */
    VS_ERR_CUDA,         /* a CUDA / cuBLAS / cuDNN call failed */
    VS_ERR_UNSUPPORTED,  /* valid request this build cannot serve */
} vs_status;

/* Message describing the last failure on this thread ("" if none). */
const char *vs_last_error(void);
const char *vs_status_name(vs_status status);
const char *vs_version(void);

typedef enum vs_dtype { VS_F32 = 0, VS_F16, VS_BF16, VS_F8E4M3, VS_I32, VS_I64, VS_U8 } vs_dtype;
typedef enum vs_device { VS_CPU = 0, VS_CUDA } vs_device;

#define VS_MAX_DIMS 5

/* A strided view of memory. Strides are in elements. A tensor owns its
 * memory when `owned` is set (vs_tensor_free releases it); views do not. */
typedef struct vs_tensor {
    vs_dtype dtype;
    vs_device device;
    int ndim;
    int64_t shape[VS_MAX_DIMS];
    int64_t stride[VS_MAX_DIMS];
    void *data;
    int owned;
} vs_tensor;

size_t vs_dtype_size(vs_dtype dtype);
const char *vs_dtype_name(vs_dtype dtype);
int64_t vs_tensor_numel(const vs_tensor *t);
/* Allocates a contiguous tensor; *out is left zeroed on failure. */
vs_status vs_tensor_alloc(vs_tensor *out, vs_dtype dtype, vs_device device, int ndim,
                          const int64_t *shape);
void vs_tensor_free(vs_tensor *t);
/* Wraps caller memory as a contiguous view (not owned). */
vs_tensor vs_tensor_view(void *data, vs_dtype dtype, vs_device device, int ndim,
                         const int64_t *shape);
int vs_tensor_is_contiguous(const vs_tensor *t);

/* Number of CUDA devices usable by this build (0 when built without CUDA). */
int vs_cuda_device_count(void);

/* ---- how a model's self-attention runs -------------------------------------
 * A sparse method by name ("dense", "svg"; vs_attention_method_name lists the
 * registry) and the settings every method shares. A negative number means
 * the model's default (its vidsparse.json, else the family's reference
 * settings: for Wan 2.1 density 0.25, dense for the first 0.2 of the steps
 * and 0.03 of the layers). */
typedef struct vs_attention_params {
    const char *method;  /* NULL: "dense" */
    double density;      /* target kept fraction of the attention map, in (0, 1] */
    double dense_steps;  /* warm-up: fraction of the first denoising steps that run dense */
    double dense_layers; /* warm-up: fraction of the first layers that run dense */
} vs_attention_params;

/* Method "svg" with every setting at the model's default. */
vs_attention_params vs_attention_default_params(void);
/* The i-th registered method's name, NULL past the last. */
const char *vs_attention_method_name(int i);

/* ---- attention with a sparse method ----------------------------------------
 * q, k, v, out: [B, N, H, D] tensors (D contiguous, heads D apart, any token
 * and batch strides), F32 on the CPU, BF16 or F16 on CUDA. */

/* The video's token layout and SVG's settings: N = frames x tokens_per_frame + text_tokens, text last. */
typedef struct vs_svg_config {
    int frames;           /* F: latent frames after patching */
    int tokens_per_frame; /* P */
    int text_tokens;      /* C: text tokens at the end of the sequence (0 for Wan) */
    double band_frames;   /* m: band half-width in frames; 0 derives it from density */
    double density;       /* target kept fraction of the attention map, in (0, 1] */
    int samples;          /* S: query rows drawn per (batch entry, head) when profiling (64) */
    int sample_window;    /* rows are drawn among the first min(window, F*P) positions (10000) */
    uint64_t seed;
    /* Sequence parallelism: this attention holds heads head_offset .. of a model with
     * model_heads heads, and profiling draws the rows of the model's head, so a head's
     * choice does not depend on how heads are split over ranks. 0, 0: its own heads. */
    int head_offset, model_heads;
} vs_svg_config;

/* Defaults of DESIGN.md: S = 64, window 10000, band from `density`. */
vs_svg_config vs_svg_config_default(int frames, int tokens_per_frame, int text_tokens, double density);

/* One attention shape under one method (params->method; NULL params: "dense"),
 * holding what the method keeps (SVG: the block list, built once, profiling
 * buffers and the last profile). `svg`: the video's token layout and SVG's
 * profiling settings, required by "svg", may be NULL for "dense".
 * params->density, when not negative, replaces svg->density; the warm-up
 * fractions do not apply (a model's layers and steps do: every run here runs
 * the method). */
typedef struct vs_attention vs_attention;
vs_status vs_attention_create(vs_attention **out, vs_device device, int batch, int heads, int seq_len, int head_dim,
                              const vs_attention_params *params, const vs_svg_config *svg);
/* Runs the method: dense; or SVG: profile every (batch, head) on the sampled
 * rows, pick spatial or temporal, run the block-sparse kernel with temporal
 * heads in token-major order. `stream` is a cudaStream_t for CUDA tensors
 * (NULL: default stream), ignored on the CPU. */
vs_status vs_attention_run(vs_attention *attn, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                           vs_tensor *out, void *stream);
/* The method's registered name. */
const char *vs_attention_method(const vs_attention *attn);
/* The last SVG run's choice per (batch, head) (0 spatial, 1 temporal) and
 * the profiling errors, copied to host arrays of B*H (any may be NULL). */
vs_status vs_attention_last_profile(const vs_attention *attn, uint8_t *head_class, float *mse_spatial,
                                    float *mse_temporal);
/* How many (batch, head) pairs the SVG runs since the previous call chose
 * spatial and temporal; the counts then restart (0, 0 for dense). The runs
 * keep the count on the attention's device, so none of them waits for the
 * host; this call waits for the work queued before it. */
vs_status vs_attention_take_head_counts(vs_attention *attn, int64_t *spatial, int64_t *temporal);
/* Fraction of the N x N attention map the method computes (1 for dense). */
double vs_attention_density(const vs_attention *attn);
void vs_attention_free(vs_attention *attn);

#ifdef __cplusplus
}
#endif
#endif
