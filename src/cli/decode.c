#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/status.h"
#include "io/path.h"
#include "io/safetensors.h"
#include "io/video.h"
#include "models/family.h"
#include "pipeline/t2v.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The latents of `path` without the leading padding frames its metadata "padding_frames" counts (written by
 * denoise; absent: none), into *out (vs_t2v_drop_leading_frames: a view of latents when none); a value that
 * is not a count below the latent frames is a one-line error naming the file and the key. */
static vs_status drop_padding(const char *path, const vs_safetensors *st, const vs_tensor *latents, vs_tensor *out,
                              int *dropped) {
    const char *value = vs_safetensors_metadata(st, "padding_frames");
    long n = 0;
    if (value) {
        char *end = NULL;
        errno = 0;
        n = strtol(value, &end, 10);
        const int64_t frames = latents->ndim == 5 ? latents->shape[2] : 0;
        if (errno || end == value || *end || n < 0 || n >= frames)
            return vs_fail(VS_ERR_FORMAT, "%s: metadata \"padding_frames\" is \"%s\", not a count of leading latent "
                           "frames below the %lld of its [1, C, F, H, W] latents", path, value, (long long)frames);
    }
    *dropped = (int)n;
    return vs_t2v_drop_leading_frames(latents, (int)n, out);
}

int vs_cmd_decode(int argc, char **argv) {
    const char *model = NULL, *output = NULL, *device_name = NULL;
    int fps = VS_VIDEO_DEFAULT_FPS, tile = 0;
    const vs_option options[] = {
        {"model", 'm', VS_OPT_STRING, &model, "a diffusers pipeline folder (its vae/ is used) or a vae/ folder", "DIR"},
        {"output", 'o', VS_OPT_STRING, &output, "out.mp4 (H.264), out.y4m, a folder frames/ or a pattern frames/%04d.png",
         "OUT"},
        {"fps", 0, VS_OPT_INT, &fps, "frames per second of the video (1..240)", NULL},
        {"tile", 0, VS_OPT_FLAG, &tile, "decode in overlapping 256x256-pixel tiles (less memory, blended seams)", NULL},
        {"device", 0, VS_OPT_STRING, &device_name, "cuda (bf16, cuDNN) or cpu (f32); default cuda when a GPU is present",
         "DEV"},
    };
    const vs_command_spec spec = {
        "decode", "--model DIR LATENTS.safetensors -o OUT [options]",
        "Decodes latents (tensor \"latents\", [1, C, T, h, w], as the transformer hands them over: diffusers' "
        "output_type=\"latent\", which for CogVideoX 1.5 keeps its leading padding frames) with the model's VAE (for "
        "Wan: 16 channels into 1 + 4(T-1) frames of 8h x 8w pixels). First it drops the leading latent frames the "
        "file's metadata \"padding_frames\" counts (denoise writes it; absent: none), as generate does.",
        options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int rc = vs_args_cli(&spec, argc, argv, &args);
    if (rc >= 0) return rc;
    if (!model) return vs_cli_usage_error("decode", "--model DIR is required");
    if (args.positional_count != 1)
        return vs_cli_usage_error("decode", "wants exactly one latents file, got %d", args.positional_count);
    if (!output) return vs_cli_usage_error("decode", "-o OUT is required");
    if (fps < 1 || fps > 240) return vs_cli_usage_error("decode", "--fps must be in 1..240, got %d", fps);
    vs_device device;
    if (vs_cli_device("decode", device_name, &device)) return 2;
    const char *input = args.positional[0];
    vs_video_format format;
    if (vs_video_format_from_path(output, &format) != VS_OK) return vs_cli_report("output");

    char vae_dir[4096];
    snprintf(vae_dir, sizeof vae_dir, "%s/vae/config.json", model);
    if (vs_is_file(vae_dir)) snprintf(vae_dir, sizeof vae_dir, "%s/vae", model);
    else snprintf(vae_dir, sizeof vae_dir, "%s", model);

    vs_safetensors *st = NULL;
    vs_vae *vae = NULL;
    vs_tensor latents = {0}, trimmed = {0}, video = {0};
    int dropped = 0;
    rc = 1;
    double t0 = now_seconds();
    if (vs_safetensors_open(&st, input) != VS_OK) {
        vs_cli_report(input);
    } else if (vs_safetensors_load(st, "latents", VS_F32, VS_CPU, 0, NULL, &latents) != VS_OK) {
        vs_cli_report(input);
    } else if (drop_padding(input, st, &latents, &trimmed, &dropped) != VS_OK) {
        vs_cli_report("decode");
    } else if (vs_vae_load(vae_dir, device, &vae) != VS_OK) {
        vs_cli_report("model");
    } else if (vs_vae_decode(vae, &trimmed, tile, &video) != VS_OK) {
        vs_cli_report("decode");
    } else if (video.shape[1] != 3) {
        fprintf(stderr, "vidsparse: error: the VAE outputs %lld channels, a video needs 3\n", (long long)video.shape[1]);
    } else if (vs_video_write(output, &video, fps) != VS_OK) {
        vs_cli_report("writing video");
    } else {
        fprintf(stderr,
                "decoded %lld latent frames (%d padding frames dropped) into %lld frames of %lldx%lld in %.1f s: %s\n",
                (long long)trimmed.shape[trimmed.ndim - 3], dropped, (long long)video.shape[0],
                (long long)video.shape[3], (long long)video.shape[2], now_seconds() - t0, output);
        rc = 0;
    }
    vs_tensor_free(&video);
    vs_tensor_free(&trimmed);
    vs_tensor_free(&latents);
    vs_vae_free(vae);
    vs_safetensors_close(st);
    return rc;
}
