#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/ranks.h"
#include "core/bench.h"
#include "core/progress.h"
#include "io/video.h"
#include "pipeline/api.h"
#include "sparse/svg2.h"

#define DEFAULT_PROMPT "a red circle moving right on a blue background"

/* The pipeline a SIGINT cancels, whether one came (also while the pipeline was loading), and the progress
 * bar the steps advance (this process's one generate). */
static vs_pipeline *volatile running;
static volatile sig_atomic_t interrupted;
static vs_progress *progress;

static void cancel_on_signal(int signal_number) {
    (void)signal_number;
    interrupted = 1;
    vs_pipeline_cancel(running); /* an atomic store: safe in a signal handler */
}

static int show_progress(void *user, int step, int steps) {
    (void)user, (void)steps;
    vs_progress_update(progress, step);
    return interrupted; /* a Ctrl-C during loading cancels at the first step */
}

int vs_cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = DEFAULT_PROMPT, *negative = NULL, *output = NULL, *attention = "svg";
    const char *device_name = NULL, *cache = "none", *precision_name = "bf16", *attention_precision = "bf16";
    const char *image = NULL;
    double cache_threshold = -1.0;
    int64_t seed = 0;
    int steps = 0, frames = 0, height = 0, width = 0, fps = 0, gpus = 0, dynamic_cfg = 0;
    double cfg = -1.0, gpu_memory = 0.0, embedded_guidance = 0.0;
    vs_cli_svg svg = VS_CLI_SVG_UNSET;
    vs_cli_svg2 svg2 = {0};
    const vs_option options[] = {
        {"prompt", 'p', VS_OPT_STRING, &prompt, "what the video shows", "TEXT"},
        {"negative", 0, VS_OPT_STRING, &negative, "negative prompt (default: empty)", "TEXT"},
        {"image", 0, VS_OPT_STRING, &image,
         "the first frame (PNG or JPEG) for an image-to-video model (CogVideoX 1.5 I2V), resized to the video's size",
         "FILE"},
        {"output", 'o', VS_OPT_STRING, &output,
         VS_HAVE_FFMPEG ? "out.mp4, out.y4m or a folder frames/ of PNGs (default vidsparse.mp4)"
                        : "out.y4m or a folder frames/ of PNGs (default vidsparse.y4m; MP4 needs FFmpeg)",
         "OUT"},
        {"model", 'm', VS_OPT_STRING, &model,
         "diffusers pipeline folder: Wan 2.1, HunyuanVideo, CogVideoX 1.5 (T2V or I2V) (default: $VS_MODEL_DIR, else "
         "the embedded vidsparse-tiny)",
         "DIR"},
        {"seed", 0, VS_OPT_INT64, &seed, "noise seed", NULL},
        {"steps", 0, VS_OPT_INT, &steps, "denoising steps (0: the model's default)", NULL},
        {"cfg", 0, VS_OPT_DOUBLE, &cfg,
         "classifier-free guidance scale with the negative prompt (HunyuanVideo: its true CFG, default off; "
         "negative: the model's default)", NULL},
        {"dynamic-cfg", 0, VS_OPT_FLAG, &dynamic_cfg,
         "vary the guidance scale by step as the CogVideoX pipelines' use_dynamic_cfg does", NULL},
        {"embedded-guidance", 0, VS_OPT_DOUBLE, &embedded_guidance,
         "the guidance scale a DiT embeds (HunyuanVideo's guidance_scale, default 6; 0: the model's)", "G"},
        {"frames", 0, VS_OPT_INT, &frames, "video frames (0: the model's default)", NULL},
        {"height", 0, VS_OPT_INT, &height, "video height in pixels (0: the model's default)", NULL},
        {"width", 0, VS_OPT_INT, &width, "video width in pixels (0: the model's default)", NULL},
        {"attention", 0, VS_OPT_STRING, &attention, "dense, svg or svg2 (Sparse VideoGen 1 or 2 after a dense warm-up)", "MODE"},
        VS_CLI_SVG_OPTIONS(svg),
        VS_CLI_PRECISION_OPTION(precision_name),
        VS_CLI_ATTENTION_PRECISION_OPTION(attention_precision),
        VS_CLI_CACHE_OPTIONS(cache, cache_threshold),
        VS_CLI_SVG2_OPTIONS(svg2),
        {"fps", 0, VS_OPT_INT, &fps, "frames per second of the file (0: the model's default)", NULL},
        {"device", 0, VS_OPT_STRING, &device_name, "the DiT's device: cuda (bf16; the default with a GPU) or cpu (f32)",
         "DEV"},
        {"gpu-memory", 0, VS_OPT_DOUBLE, &gpu_memory,
         "GiB of GPU memory to plan within: components load when needed and free when done (0: the device's)",
         "GIB"},
        {"gpus", 0, VS_OPT_INT, &gpus, "the DiT sequence-parallel over N GPUs, one process each, through NCCL", "N"},
    };
    const vs_command_spec spec = {
        "generate", "[-p PROMPT] [-o OUT] [options]",
        "Text (or image) to video: encodes the prompt (and the first frame), denoises seeded noise with the model's "
        "DiT and writes the video. "
        "Without --model it runs the embedded tiny model (16 frames of 32x32 simple moving shapes).",
        options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int rc = vs_args_cli(&spec, argc, argv, &args);
    if (rc >= 0) return rc;
    if (args.positional_count) return vs_cli_usage_error("generate", "unexpected argument '%s'", args.positional[0]);
    if (vs_cli_attention_method("generate", attention)) return 2;
    if (vs_cli_check_svg("generate", &svg)) return 2;
    vs_precision precision;
    if (vs_cli_precision("generate", precision_name, &precision)) return 2;
    if (vs_cli_cache_policy("generate", cache)) return 2;
    vs_attention_params attention_params = {
        .method = attention, .density = svg.density, .dense_steps = svg.dense_steps, .dense_layers = svg.dense_layers};
    if (vs_cli_svg2_apply("generate", &svg2, &attention_params)) return 2;
    if (vs_cli_attention_precision("generate", attention_precision, &attention_params)) return 2;
    if (steps < 0 || steps > 10000 || frames < 0 || height < 0 || width < 0 || frames > 10000 || height > 16384 ||
        width > 16384 || fps < 0 || fps > 240)
        return vs_cli_usage_error("generate", "--steps, --frames, --height, --width and --fps must be positive");
    if (!output) output = VS_HAVE_FFMPEG ? "vidsparse.mp4" : "vidsparse.y4m";
    vs_video_format format;
    if (vs_video_format_from_path(output, &format) != VS_OK) return vs_cli_report("output");

    if (gpus < 0) return vs_cli_usage_error("generate", "--gpus must be >= 0, not %d", gpus);
    if (gpus && device_name && strcmp(device_name, "cuda"))
        return vs_cli_usage_error("generate", "--gpus runs on CUDA GPUs, not --device %s", device_name);
    /* --gpus: the rank processes fork here, before any CUDA call; rank 0 alone writes the video. */
    vs_comm *comm = NULL;
    int rank = 0;
    if (gpus && (rc = vs_cli_spawn_ranks("generate", gpus, &comm, &rank)) >= 0) return rc;
    vs_device device = VS_CUDA;
    if (!gpus && vs_cli_device("generate", device_name, &device)) return 2;
    vs_pipeline_params params = vs_pipeline_default_params();
    params.device = device == VS_CUDA ? VS_PIPELINE_CUDA : VS_PIPELINE_CPU;
    params.attention = attention_params;
    params.progress = show_progress;
    params.precision = precision;
    params.cache = cache, params.cache_threshold = cache_threshold;
    params.gpu_memory = gpu_memory;
    /* Ctrl-C (one process, no --gpus: ranks must stop at the same step) cancels at the next denoising step,
     * or at the first one when it comes while the pipeline loads; a second one ends the process. */
    struct sigaction cancel = {0}, previous;
    cancel.sa_handler = cancel_on_signal;
    cancel.sa_flags = SA_RESETHAND;
    sigemptyset(&cancel.sa_mask);
    if (!gpus) sigaction(SIGINT, &cancel, &previous);
    vs_pipeline *pipeline = NULL;
    if (vs_pipeline_load(&pipeline, model, &params) != VS_OK || vs_pipeline_set_comm(pipeline, comm) != VS_OK) {
        if (!gpus) sigaction(SIGINT, &previous, NULL);
        vs_pipeline_free(pipeline);
        vs_comm_free(comm);
        return vs_cli_report("generate");
    }
    const vs_pipeline_info info = vs_pipeline_get_info(pipeline);
    vs_generate_request req = vs_generate_default_request();
    req.prompt = prompt;
    req.negative_prompt = negative;
    req.seed = (uint64_t)seed;
    req.steps = steps, req.frames = frames, req.height = height, req.width = width;
    req.guidance = (float)cfg;
    req.embedded_guidance = (float)embedded_guidance;
    req.image_path = image;
    req.dynamic_cfg = dynamic_cfg;
    int64_t latent_shape[5];
    if (vs_pipeline_latent_shape(pipeline, &req, latent_shape) != VS_OK) { /* a size the model cannot make */
        if (!gpus) sigaction(SIGINT, &previous, NULL);
        vs_pipeline_free(pipeline);
        vs_comm_free(comm);
        return vs_cli_report("generate");
    }
    if (rank == 0) {
        fprintf(stderr, "model %s on the %s\nprompt \"%s\"%s%s, seed %lld, %s attention", info.model_dir,
                info.device == VS_CUDA ? "GPU" : "CPU", prompt, image ? ", first frame " : "", image ? image : "",
                (long long)seed, info.attention.method);
        const vs_svg2_config svg2_settings = vs_svg2_config_resolve(&info.attention, 1);
        if (!strcmp(info.attention.method, "svg2"))
            fprintf(stderr, " (%s %g", svg2_settings.budget > 0 ? "fixed budget" : "top-p",
                    svg2_settings.budget > 0 ? svg2_settings.budget : svg2_settings.top_p);
        else if (strcmp(info.attention.method, "dense"))
            fprintf(stderr, " (density %g", info.attention.density);
        if (strcmp(info.attention.method, "dense"))
            fprintf(stderr, "; dense: the first %g of the steps and %g of the layers)", info.attention.dense_steps,
                    info.attention.dense_layers);
        if (strcmp(info.cache, "none")) fprintf(stderr, ", step cache %s (threshold %g)", info.cache, info.cache_threshold);
        if (info.embedded_guidance > 0)
            fprintf(stderr, ", embedded guidance %g", embedded_guidance > 0 ? embedded_guidance : info.embedded_guidance);
        fputc('\n', stderr);
    }
    running = pipeline;
    progress = rank == 0 ? vs_progress_start("denoise", steps ? steps : info.steps) : NULL;
    vs_video *video = NULL;
    const vs_status s = vs_pipeline_generate(pipeline, &req, &video);
    vs_progress_finish(progress);
    progress = NULL;
    if (!gpus) sigaction(SIGINT, &previous, NULL);
    running = NULL;
    rc = 1;
    if (s != VS_OK) {
        vs_cli_report("generate");
    } else if (rank > 0) {
        rc = 0; /* every rank holds the same video; rank 0 writes it */
    } else {
        const double t0 = vs_bench_now_ms();
        const vs_tensor rgb =
            vs_tensor_view(video->rgb, VS_U8, VS_CPU, 4, (int64_t[]){video->frames, video->height, video->width, 3});
        if (vs_video_write(output, &rgb, fps ? fps : video->fps) != VS_OK) {
            vs_cli_report("writing the video");
        } else {
            const vs_pipeline_stats st = vs_pipeline_get_stats(pipeline);
            const double write_s = (vs_bench_now_ms() - t0) / 1e3;
            const double total = st.load_s + st.text_s + st.denoise_s + st.decode_s + write_s;
            fprintf(stderr, "time: load %.2f s, text %.2f s, denoise %.2f s, %s %.2f s, write %.2f s; total %.2f s\n",
                    st.load_s, st.text_s, st.denoise_s, info.pixel_space ? "frames" : "VAE decode", st.decode_s,
                    write_s, total);
            fprintf(stderr, "DiT %.2f s, of which attention %.2f s (%.0f%%)\n", st.dit_s, st.attention_s,
                    st.dit_s > 0 ? 100.0 * st.attention_s / st.dit_s : 0.0);
            fprintf(stderr, "DiT passes (steps x CFG branches): %lld run, %lld reused\n", (long long)st.passes_run,
                    (long long)st.passes_reused);
            const int64_t profiled = st.heads_spatial + st.heads_temporal;
            if (profiled)
                fprintf(stderr, "SVG heads (batch entries x layers x steps): %lld spatial, %lld temporal (%.0f%% temporal)\n",
                        (long long)st.heads_spatial, (long long)st.heads_temporal,
                        100.0 * (double)st.heads_temporal / (double)profiled);
            if (st.selected_density > 0)
                fprintf(stderr, "%s selected %.1f%% of the attention map (mean over its sparse layer calls)\n",
                        info.attention.method, 100.0 * st.selected_density);
            printf("wrote %d frames of %dx%d to %s\n", video->frames, video->width, video->height, output);
            rc = 0;
        }
    }
    vs_video_free(video);
    vs_pipeline_free(pipeline);
    vs_comm_free(comm);
    return rc;
}
