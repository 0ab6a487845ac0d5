#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/ranks.h"
#include "core/bench.h"
#include "io/video.h"
#include "pipeline/t2v.h"

#define DEFAULT_PROMPT "a red circle moving right on a blue background"

int vs_cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = DEFAULT_PROMPT, *negative = NULL, *output = NULL, *attention = "svg";
    const char *device_name = NULL;
    int64_t seed = 0;
    int steps = 0, frames = 0, height = 0, width = 0, fps = 0, gpus = 0;
    double cfg = -1.0;
    vs_cli_svg svg = VS_CLI_SVG_UNSET;
    const vs_option options[] = {
        {"prompt", 'p', VS_OPT_STRING, &prompt, "what the video shows", "TEXT"},
        {"negative", 0, VS_OPT_STRING, &negative, "negative prompt (default: empty)", "TEXT"},
        {"output", 'o', VS_OPT_STRING, &output,
         VS_HAVE_FFMPEG ? "out.mp4, out.y4m or a folder frames/ of PNGs (default vidsparse.mp4)"
                        : "out.y4m or a folder frames/ of PNGs (default vidsparse.y4m; MP4 needs FFmpeg)",
         "OUT"},
        {"model", 'm', VS_OPT_STRING, &model,
         "diffusers Wan pipeline folder (default: $VS_MODEL_DIR, else the embedded vidsparse-tiny)", "DIR"},
        {"seed", 0, VS_OPT_INT64, &seed, "noise seed", NULL},
        {"steps", 0, VS_OPT_INT, &steps, "denoising steps (0: the model's default)", NULL},
        {"cfg", 0, VS_OPT_DOUBLE, &cfg, "classifier-free guidance scale (negative: the model's default)", NULL},
        {"frames", 0, VS_OPT_INT, &frames, "video frames (0: the model's default)", NULL},
        {"height", 0, VS_OPT_INT, &height, "video height in pixels (0: the model's default)", NULL},
        {"width", 0, VS_OPT_INT, &width, "video width in pixels (0: the model's default)", NULL},
        {"attention", 0, VS_OPT_STRING, &attention, "dense, or svg (Sparse VideoGen after a dense warm-up)", "MODE"},
        VS_CLI_SVG_OPTIONS(svg),
        {"fps", 0, VS_OPT_INT, &fps, "frames per second of the file (0: the model's default)", NULL},
        {"device", 0, VS_OPT_STRING, &device_name, "the DiT's device: cuda (bf16; the default with a GPU) or cpu (f32)",
         "DEV"},
        {"gpus", 0, VS_OPT_INT, &gpus, "the DiT sequence-parallel over N GPUs, one process each, through NCCL", "N"},
    };
    const vs_command_spec spec = {
        "generate", "[-p PROMPT] [-o OUT] [options]",
        "Text to video: encodes the prompt, denoises seeded noise with the Wan DiT and writes the video. "
        "Without --model it runs the embedded tiny model (16 frames of 32x32 simple moving shapes).",
        options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int rc = vs_args_cli(&spec, argc, argv, &args);
    if (rc >= 0) return rc;
    if (args.positional_count) return vs_cli_usage_error("generate", "unexpected argument '%s'", args.positional[0]);
    if (vs_cli_attention_method("generate", attention)) return 2;
    if (vs_cli_check_svg("generate", &svg)) return 2;
    if (steps < 0 || steps > 10000 || frames < 0 || height < 0 || width < 0 || frames > 10000 || height > 16384 ||
        width > 16384 || fps < 0 || fps > 240)
        return vs_cli_usage_error("generate", "--steps, --frames, --height, --width and --fps must be positive");
    if (!output) output = VS_HAVE_FFMPEG ? "vidsparse.mp4" : "vidsparse.y4m";
    vs_video_format format;
    if (vs_video_format_from_path(output, &format) != VS_OK) return vs_cli_report("output");

    if (gpus < 0) return vs_cli_usage_error("generate", "--gpus must be >= 0, not %d", gpus);
    if (gpus && device_name && strcmp(device_name, "cuda"))
        return vs_cli_usage_error("generate", "--gpus runs on CUDA GPUs, not --device %s", device_name);
    char dir[4096];
    if (vs_t2v_locate(model, dir, sizeof dir) != VS_OK) return vs_cli_report("generate");
    /* --gpus: the rank processes fork here, before any CUDA call; rank 0 alone writes the video. */
    vs_comm *comm = NULL;
    int rank = 0;
    if (gpus && (rc = vs_cli_spawn_ranks("generate", gpus, &comm, &rank)) >= 0) return rc;
    vs_device device = VS_CUDA;
    if (!gpus && vs_cli_device("generate", device_name, &device)) return 2;
    double t0 = vs_bench_now_ms();
    vs_t2v *t2v = NULL;
    if (vs_t2v_load(dir, device, &t2v) != VS_OK || vs_t2v_set_comm(t2v, comm) != VS_OK) {
        vs_t2v_free(t2v);
        vs_comm_free(comm);
        return vs_cli_report("generate");
    }
    const double load_s = (vs_bench_now_ms() - t0) / 1e3;

    vs_t2v_request req = vs_t2v_request_default(prompt);
    req.negative_prompt = negative;
    req.seed = (uint64_t)seed;
    req.steps = steps, req.frames = frames, req.height = height, req.width = width;
    req.guidance = (float)cfg;
    const vs_attention_params asked = {attention, svg.density, svg.dense_steps, svg.dense_layers};
    req.attention = vs_t2v_resolve_attention(t2v, &asked);
    req.show_progress = rank == 0;
    const vs_t2v_defaults *d = vs_t2v_get_defaults(t2v);
    if (rank == 0) {
        fprintf(stderr, "model %s on the %s\nprompt \"%s\", seed %lld, %s attention", dir,
                device == VS_CUDA ? "GPU" : "CPU", prompt, (long long)seed, attention);
        if (strcmp(req.attention.method, "dense"))
            fprintf(stderr, " (density %g; dense: the first %g of the steps and %g of the layers)",
                    req.attention.density, req.attention.dense_steps, req.attention.dense_layers);
        fputc('\n', stderr);
    }
    vs_tensor video = {0};
    vs_t2v_stats st;
    rc = 1;
    if (vs_t2v_generate(t2v, &req, &video, &st) != VS_OK) {
        vs_cli_report("generate");
    } else if (rank > 0) {
        rc = 0; /* every rank holds the same video; rank 0 writes it */
    } else {
        t0 = vs_bench_now_ms();
        if (vs_video_write(output, &video, fps ? fps : d->fps) != VS_OK) {
            vs_cli_report("writing the video");
        } else {
            const double write_s = (vs_bench_now_ms() - t0) / 1e3;
            const double total = load_s + st.encode_s + st.denoise_s + st.decode_s + write_s;
            fprintf(stderr, "time: load %.2f s, text %.2f s, denoise %.2f s, %s %.2f s, write %.2f s; total %.2f s\n",
                    load_s, st.encode_s, st.denoise_s, vs_t2v_pixel_space(t2v) ? "frames" : "VAE decode", st.decode_s,
                    write_s, total);
            fprintf(stderr, "DiT %.2f s, of which attention %.2f s (%.0f%%)\n", st.dit.total_s, st.dit.attention_s,
                    st.dit.total_s > 0 ? 100.0 * st.dit.attention_s / st.dit.total_s : 0.0);
            const int64_t profiled = st.dit.heads_spatial + st.dit.heads_temporal;
            if (profiled)
                fprintf(stderr, "SVG heads (batch entries x layers x steps): %lld spatial, %lld temporal (%.0f%% temporal)\n",
                        (long long)st.dit.heads_spatial, (long long)st.dit.heads_temporal,
                        100.0 * (double)st.dit.heads_temporal / (double)profiled);
            printf("wrote %lld frames of %lldx%lld to %s\n", (long long)video.shape[0], (long long)video.shape[3],
                   (long long)video.shape[2], output);
            rc = 0;
        }
    }
    vs_tensor_free(&video);
    vs_t2v_free(t2v);
    vs_comm_free(comm);
    return rc;
}
