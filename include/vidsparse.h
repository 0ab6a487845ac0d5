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

/* VS_API marks what the shared library exports: it is built with
 * -fvisibility=hidden, so everything else in it stays internal. */
#if defined(__GNUC__)
#define VS_API __attribute__((visibility("default")))
#else
#define VS_API
#endif

typedef enum vs_status {
    VS_OK = 0,
    VS_ERR_INVALID_ARG, /* a caller passed something that cannot be right */
    VS_ERR_IO,          /* open/read/write/mmap failed */
    VS_ERR_FORMAT,      /* a file is malformed */
    VS_ERR_NOT_FOUND,   /* a named tensor, key or file is missing */
    VS_ERR_SHAPE,       /* shapes or dtypes do not fit together */
    VS_ERR_OOM,         /* host or device memory exhausted */
    VS_ERR_CUDA,        /* a CUDA / cuBLAS / cuDNN call failed */
    VS_ERR_UNSUPPORTED, /* valid request this build cannot serve */
    VS_ERR_CANCELLED,   /* vs_pipeline_cancel or a progress callback stopped the work */
} vs_status;

/* Message describing the last failure on this thread ("" if none). */
VS_API const char *vs_last_error(void);
VS_API const char *vs_status_name(vs_status status);
VS_API const char *vs_version(void);

typedef enum vs_dtype { VS_F32 = 0, VS_F16, VS_BF16, VS_F8E4M3, VS_I32, VS_I64, VS_U8 } vs_dtype;
typedef enum vs_device { VS_CPU = 0, VS_CUDA } vs_device;

#define VS_MAX_DIMS 5

/* A strided view of memory. Strides are in elements. A tensor owns its
 * memory when `owned` is set (vs_tensor_free releases it: 1 for malloc or
 * device memory, 2 for page-locked host memory); views do not. */
typedef struct vs_tensor {
    vs_dtype dtype;
    vs_device device;
    int ndim;
    int64_t shape[VS_MAX_DIMS];
    int64_t stride[VS_MAX_DIMS];
    void *data;
    int owned;
} vs_tensor;

VS_API size_t vs_dtype_size(vs_dtype dtype);
VS_API const char *vs_dtype_name(vs_dtype dtype);
VS_API int64_t vs_tensor_numel(const vs_tensor *t);
/* Allocates a contiguous tensor; *out is left zeroed on failure. */
VS_API vs_status vs_tensor_alloc(vs_tensor *out, vs_dtype dtype, vs_device device, int ndim,
                                 const int64_t *shape);
VS_API void vs_tensor_free(vs_tensor *t);
/* Wraps caller memory as a contiguous view (not owned). */
VS_API vs_tensor vs_tensor_view(void *data, vs_dtype dtype, vs_device device, int ndim, const int64_t *shape);
VS_API int vs_tensor_is_contiguous(const vs_tensor *t);

/* Number of CUDA devices usable by this build (0 when built without CUDA). */
VS_API int vs_cuda_device_count(void);

/* Numeric precision of a model's weights (vs_pipeline_params.precision): DEFAULT keeps the checkpoint's
 * (BF16 on CUDA, F32 on the CPU; E4M3 where an FP8 checkpoint stores them); FP8 quantises the DiT's block
 * linears to E4M3 with per-output-channel scales; FP8_FFN only the blocks' feed-forward layers (the attention
 * projections keep the default: closer to it, less memory saved); FP8 layers quantise their inputs per token
 * (docs/fp8.md). The text encoder's FP8 layers are its feed-forward ones under either. */
typedef enum vs_precision { VS_PRECISION_DEFAULT = 0, VS_PRECISION_FP8 = 1, VS_PRECISION_FP8_FFN = 2 } vs_precision;

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
    /* Method "svg2" (docs/svg2.md); 0 or negative: the default. */
    int svg2_query_clusters;   /* query clusters per head (300 per 75600 video tokens, Wan 720p's) */
    int svg2_key_clusters;     /* key clusters per head (1000 per 75600 video tokens) */
    double svg2_top_p;         /* keep key clusters until this share of the estimated mass (0.9) */
    double svg2_min_key_ratio; /* and at least this fraction of the key clusters (0.1) */
    double svg2_budget;        /* in (0, 1]: fixed budget instead of top-p, this kept fraction of the keys */
    vs_precision precision;    /* FP8: attention in E4M3, dense and SVG's band rows (CUDA, Hopper; docs/fp8.md);
                                  SVG's profiling and the rows outside the band stay BF16 */
} vs_attention_params;

/* Method "svg" with every setting at the model's default. */
VS_API vs_attention_params vs_attention_default_params(void);
/* The i-th registered method's name, NULL past the last. */
VS_API const char *vs_attention_method_name(int i);

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
VS_API vs_svg_config vs_svg_config_default(int frames, int tokens_per_frame, int text_tokens, double density);

/* One attention shape under one method (params->method; NULL params: "dense"),
 * holding what the method keeps (SVG: the block list, built once, profiling
 * buffers and the last profile; SVG2: the centroids). `svg`: the video's token layout and SVG's
 * profiling settings, required by "svg" and "svg2", may be NULL for "dense".
 * params->density, when not negative, replaces svg->density; the warm-up
 * fractions do not apply (a model's layers and steps do: every run here runs
 * the method). */
typedef struct vs_attention vs_attention;
VS_API vs_status vs_attention_create(vs_attention **out, vs_device device, int batch, int heads, int seq_len,
                                     int head_dim, const vs_attention_params *params, const vs_svg_config *svg);
/* Runs the method: dense; or SVG: profile every (batch, head) on the sampled
 * rows, pick spatial or temporal, run the block-sparse kernel with temporal
 * heads in token-major order. `stream` is a cudaStream_t for CUDA tensors
 * (NULL: default stream), ignored on the CPU. */
VS_API vs_status vs_attention_run(vs_attention *attn, const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                  vs_tensor *out, void *stream);
/* A model's self-attention: the shape of vs_attention_create shared by
 * `num_layers` layers, each keeping its own state (SVG: its last profile),
 * with DESIGN.md's dense warm-up of `params`: the first
 * floor(dense_steps * num_steps) denoising steps and the first
 * floor(dense_layers * num_layers) layers run dense (negative fractions: no
 * warm-up). For an engine outside vidsparse (vidsparse.diffusers) to run
 * every layer of its model as vidsparse's own forward does. */
VS_API vs_status vs_attention_create_layers(vs_attention **out, vs_device device, int batch, int heads,
                                            int seq_len, int head_dim, int num_layers,
                                            const vs_attention_params *params, const vs_svg_config *svg);
/* vs_attention_run for `layer` (0 .. num_layers - 1) at denoising step
 * `step` (0 .. num_steps - 1): dense under the warm-up, else the method. */
VS_API vs_status vs_attention_run_layer(vs_attention *attn, int layer, int step, int num_steps,
                                        const vs_tensor *q, const vs_tensor *k, const vs_tensor *v,
                                        vs_tensor *out, void *stream);
/* The method's registered name. */
VS_API const char *vs_attention_method(const vs_attention *attn);
/* The last SVG run's choice per (batch, head) (0 spatial, 1 temporal) and
 * the profiling errors, copied to host arrays of B*H (any may be NULL). */
VS_API vs_status vs_attention_last_profile(const vs_attention *attn, uint8_t *head_class, float *mse_spatial,
                                           float *mse_temporal);
/* How many (batch, head) pairs the SVG runs since the previous call chose
 * spatial and temporal; the counts then restart (0, 0 for dense). The runs
 * keep the count on the attention's device, so none of them waits for the
 * host; this call waits for the work queued before it. */
VS_API vs_status vs_attention_take_head_counts(vs_attention *attn, int64_t *spatial, int64_t *temporal);
/* Fraction of the N x N attention map the method computes (1 for dense). */
VS_API double vs_attention_density(const vs_attention *attn);
VS_API void vs_attention_free(vs_attention *attn);

/* ---- logging ---------------------------------------------------------------
 * The library's messages (warnings, notes on what it loaded) up to the level
 * VS_LOG=error|warn|info|debug sets (default info) go to stderr, or to the
 * log callback when one is installed. The callback is process-wide: every
 * message of every thread goes to the one installed last, called on the
 * thread that logs, one line without its newline. */
typedef enum vs_log_level { VS_LOG_ERROR = 0, VS_LOG_WARN, VS_LOG_INFO, VS_LOG_DEBUG } vs_log_level;
typedef void (*vs_log_callback)(void *user, vs_log_level level, const char *message);
/* NULL restores stderr. */
VS_API void vs_log_set_callback(vs_log_callback callback, void *user);

/* ---- the text-to-video pipeline ---------------------------------------------
 * A model folder (diffusers layout) loaded once, then any number of videos:
 *
 *     vs_pipeline_params params = vs_pipeline_default_params();
 *     vs_pipeline *p;
 *     if (vs_pipeline_load(&p, NULL, &params) != VS_OK) die(vs_last_error());
 *     vs_generate_request r = vs_generate_default_request();
 *     r.prompt = "a red circle moving right on a blue background";
 *     vs_video *video;
 *     if (vs_pipeline_generate(p, &r, &video) == VS_OK) { ...; vs_video_free(video); }
 *     vs_pipeline_free(p);
 *
 * Ownership: the pipeline owns its weights and buffers; a video belongs to
 * the caller (vs_video_free). Strings given to the API are copied or only
 * read during the call.
 * Threads: one vs_pipeline_generate at a time per pipeline (the caller
 * serialises calls on one pipeline; separate pipelines are independent);
 * vs_pipeline_cancel may be called from any thread, including a signal
 * handler; callbacks run on the thread that called generate. */
typedef struct vs_pipeline vs_pipeline;

typedef enum vs_pipeline_device {
    VS_PIPELINE_AUTO = 0, /* CUDA when a GPU is usable, else the CPU */
    VS_PIPELINE_CPU,      /* f32 */
    VS_PIPELINE_CUDA,     /* bf16 weights and activations, f32 accumulation */
} vs_pipeline_device;

/* Called after each denoising step with the steps done so far (1..steps);
 * returning non-zero cancels the generate (VS_ERR_CANCELLED, no video). */
typedef int (*vs_progress_callback)(void *user, int step, int steps);

typedef struct vs_pipeline_params {
    vs_pipeline_device device;
    /* The self-attention method and its settings; negative numbers take the
     * model's defaults (vs_pipeline_info.attention shows what they became). */
    vs_attention_params attention;
    /* NULL: messages stay where they go. Else vs_pipeline_load installs it process-wide (as
     * vs_log_set_callback does) and vs_pipeline_free of this pipeline puts stderr back. */
    vs_log_callback log;
    void *log_user;
    vs_progress_callback progress; /* NULL: none */
    void *progress_user;
    /* The text encoder's and the denoiser's weights: DEFAULT keeps the checkpoint's, FP8 quantises their
     * linears to E4M3 as each component loads (docs/fp8.md). */
    vs_precision precision;
    /* Step caching (docs/caching.md): a policy by name ("none", "easycache", "teacache", "fora";
     * NULL: none; vs_cache_policy_name lists them) and its threshold (negative: the policy's default;
     * teacache takes it from the model's published fit and refuses models without one). */
    const char *cache;
    double cache_threshold;
    /* GiB of GPU memory the pipeline may hold (0: the device's total). Components are loaded when needed and
     * freed when done if they do not fit together; a budget a stage cannot fit in fails vs_pipeline_load,
     * before anything is loaded, or the generate whose size needs more (docs/memory.md). */
    double gpu_memory;
} vs_pipeline_params;

/* The i-th step-cache policy's name, NULL past the last. */
VS_API const char *vs_cache_policy_name(int i);

/* Auto device, SVG attention at the model's settings, the checkpoint's precision, no callbacks, no step cache,
 * the whole GPU. */
VS_API vs_pipeline_params vs_pipeline_default_params(void);

/* Loads the model folder `model_dir`, or with NULL the default model: the
 * folder $VS_MODEL_DIR names, else the embedded tiny model (from the source
 * tree, then <prefix>/share/vidsparse/models/vidsparse-tiny). `params` NULL
 * takes the defaults. *out is NULL on failure. */
VS_API vs_status vs_pipeline_load(vs_pipeline **out, const char *model_dir, const vs_pipeline_params *params);
VS_API void vs_pipeline_free(vs_pipeline *pipeline);

/* What a loaded pipeline is and the model's generation defaults (its
 * vidsparse.json, else its family's reference settings: for Wan 2.1 81 x 480 x 832, 50 steps,
 * guidance 5, 16 fps). */
typedef struct vs_pipeline_info {
    const char *model_dir; /* the folder loaded; owned by the pipeline */
    vs_device device;
    int pixel_space; /* 1: no VAE, the transformer works on RGB pixels */
    int frames, height, width, steps, fps;
    float guidance;
    vs_attention_params attention; /* the method and settings generate uses, defaults filled in */
    const char *cache;             /* the step-cache policy and its threshold, default filled in */
    double cache_threshold;
    float embedded_guidance; /* the guidance scale the DiT embeds (HunyuanVideo: 6); 0: the model has none */
    int takes_image; /* 1: an image-to-video model (CogVideoX 1.5 I2V): requests must give the first frame */
} vs_pipeline_info;
VS_API vs_pipeline_info vs_pipeline_get_info(const vs_pipeline *pipeline);

typedef struct vs_generate_request {
    const char *prompt;          /* required */
    const char *negative_prompt; /* NULL: the model's default negative prompt */
    int width, height, frames;   /* 0: the model's default */
    int steps;                   /* 0: the model's default */
    float guidance;              /* negative: the model's default; <= 1 runs without CFG */
    uint64_t seed;               /* seeds the initial noise when `noise` is NULL */
    /* Initial latents instead of seeded noise: host f32 [1, C, F', H', W'],
     * the shape vs_pipeline_latent_shape gives for this request; read only. */
    const vs_tensor *noise;
    /* The guidance scale a DiT with a guidance embedder gets (HunyuanVideo's guidance_scale, embedded x 1000;
     * `guidance` is then its optional true CFG with the negative prompt); <= 0: the model's default (6);
     * ignored by models without one (Wan). */
    float embedded_guidance;
    /* Image-to-video models (vs_pipeline_info.takes_image): the first frame, either a PNG or JPEG file
     * (image_path) or packed 8-bit RGB pixels (image_rgb, image_width x image_height, rows of R, G, B; read
     * only), resized to the video's size as the model's pipeline does. Neither: text to video. A model of the
     * other kind, both given, or an unreadable image fail with one line. */
    const char *image_path;
    const uint8_t *image_rgb;
    int image_width, image_height;
    /* 1: the guidance scale varies by step as the CogVideoX pipelines' use_dynamic_cfg makes it
     * (1 + guidance (1 - cos(pi ((steps - t) / steps)^5)) / 2 at timestep t); 0: fixed (their default). */
    int dynamic_cfg;
} vs_generate_request;

/* No prompt, the model's defaults, seed 0, seeded noise. */
VS_API vs_generate_request vs_generate_default_request(void);

/* The latent shape [1, C, F', H', W'] a request denoises (checks its sizes). */
VS_API vs_status vs_pipeline_latent_shape(const vs_pipeline *pipeline, const vs_generate_request *request,
                                          int64_t shape[5]);

/* A video the caller owns: frames x height x width packed RGB, 8 bits per
 * channel, rgb[((f * height + y) * width + x) * 3 + c]. */
typedef struct vs_video {
    int frames, height, width, fps;
    uint8_t *rgb;
} vs_video;
VS_API void vs_video_free(vs_video *video);
/* Writes a video to `path` in the format its name asks for: .mp4 (H.264,
 * builds with FFmpeg), .y4m, or PNG frames ("dir/" or "dir/img_%04d.png"),
 * at `fps` frames per second (0: video->fps; PNG ignores it). Nothing
 * half-written is left behind on failure. `video` may be any caller's frames
 * in vs_video's layout, not only a generated one. */
VS_API vs_status vs_video_save(const vs_video *video, const char *path, int fps);

/* Encodes the prompt, denoises, decodes: *out receives the video (NULL on
 * failure). VS_ERR_CANCELLED when vs_pipeline_cancel or the progress callback
 * stopped it; a cancel that came before this call began does not count. */
VS_API vs_status vs_pipeline_generate(vs_pipeline *pipeline, const vs_generate_request *request,
                                      vs_video **out);

/* Asks the running generate to stop before its next denoising step.
 * Async-signal-safe and callable from any thread; does nothing when no
 * generate runs. */
VS_API void vs_pipeline_cancel(vs_pipeline *pipeline);

/* Where the time of the pipeline's last generate went (load: vs_pipeline_load). */
typedef struct vs_pipeline_stats {
    double load_s, text_s, denoise_s, decode_s; /* text_s: with the first frame's encoding (image to video) */
    double dit_s, attention_s; /* the DiT forwards, and their attention kernels */
    /* (batch entry, layer, step, head) self-attentions SVG profiled as spatial / temporal */
    int64_t heads_spatial, heads_temporal;
    /* DiT passes per CFG branch and step: run, and reused from the step cache */
    int64_t passes_run, passes_reused;
    /* Mean kept fraction of the attention map a selecting method (SVG2) chose over its sparse layer
     * calls; 0 when none ran. */
    double selected_density;
} vs_pipeline_stats;
VS_API vs_pipeline_stats vs_pipeline_get_stats(const vs_pipeline *pipeline);

#ifdef __cplusplus
}
#endif
#endif
