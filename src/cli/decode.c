#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "io/safetensors.h"
#include "io/video.h"
#include "models/wan/vae.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: vidsparse decode --model DIR LATENTS.safetensors -o OUT [--fps N] [--tile]\n\n"
            "Decodes latents (tensor \"latents\", [1, 16, T, h, w], as the transformer hands them over) with\n"
            "the Wan VAE into 1 + 4(T-1) frames of 8h x 8w pixels.\n\n"
            "  --model DIR   a diffusers pipeline folder (its vae/ is used) or a vae/ folder itself\n"
            "  -o OUT        out.mp4 (H.264), out.y4m, a folder frames/ or a pattern frames/%%04d.png\n"
            "  --fps N       frame rate of the video, default %d\n"
            "  --tile        decode in overlapping 256x256-pixel tiles (less memory, blended seams)\n",
            VS_VIDEO_DEFAULT_FPS);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int vs_cmd_decode(int argc, char **argv) {
    const char *model = NULL, *input = NULL, *output = NULL;
    int fps = VS_VIDEO_DEFAULT_FPS, tile = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--model") || !strcmp(a, "-o") || !strcmp(a, "--fps")) {
            if (i + 1 >= argc) return vs_cli_usage_error("decode", "%s needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--model")) {
                model = v;
            } else if (!strcmp(a, "-o")) {
                output = v;
            } else {
                char *end;
                long n = strtol(v, &end, 10);
                if (*v == '\0' || *end != '\0' || n < 1 || n > 240)
                    return vs_cli_usage_error("decode", "--fps wants a whole number in 1..240, got '%s'", v);
                fps = (int)n;
            }
        } else if (!strcmp(a, "--tile")) {
            tile = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return vs_cli_usage_error("decode", "unknown option '%s'", a);
        } else if (!input) {
            input = a;
        } else {
            return vs_cli_usage_error("decode", "unexpected argument '%s'", a);
        }
    }
    if (!model) return vs_cli_usage_error("decode", "--model DIR is required");
    if (!input) return vs_cli_usage_error("decode", "no latents file given");
    if (!output) return vs_cli_usage_error("decode", "-o OUT is required");
    vs_video_format format;
    if (vs_video_format_from_path(output, &format) != VS_OK) return vs_cli_report("output");

    char vae_dir[4096];
    snprintf(vae_dir, sizeof vae_dir, "%s/vae/config.json", model);
    if (is_file(vae_dir)) snprintf(vae_dir, sizeof vae_dir, "%s/vae", model);
    else snprintf(vae_dir, sizeof vae_dir, "%s", model);

    vs_safetensors *st = NULL;
    vs_wan_vae *vae = NULL;
    vs_tensor latents = {0}, video = {0};
    vs_wan_vae_tiling tiling = vs_wan_vae_default_tiling();
    int rc = 1;
    double t0 = now_seconds();
    if (vs_safetensors_open(&st, input) != VS_OK) {
        vs_cli_report(input);
    } else if (vs_safetensors_load(st, "latents", VS_F32, VS_CPU, 0, NULL, &latents) != VS_OK) {
        vs_cli_report(input);
    } else if (vs_wan_vae_load(&vae, vae_dir) != VS_OK) {
        vs_cli_report("model");
    } else if (vs_wan_vae_decode(vae, &latents, tile ? &tiling : NULL, &video) != VS_OK) {
        vs_cli_report("decode");
    } else if (video.shape[1] != 3) {
        fprintf(stderr, "vidsparse: error: the VAE outputs %lld channels, a video needs 3\n", (long long)video.shape[1]);
    } else if (vs_video_write(output, &video, fps) != VS_OK) {
        vs_cli_report("writing video");
    } else {
        fprintf(stderr, "decoded %lld latent frames into %lld frames of %lldx%lld in %.1f s: %s\n",
                (long long)latents.shape[latents.ndim - 3], (long long)video.shape[0], (long long)video.shape[3],
                (long long)video.shape[2], now_seconds() - t0, output);
        rc = 0;
    }
    vs_tensor_free(&video);
    vs_tensor_free(&latents);
    vs_wan_vae_free(vae);
    vs_safetensors_close(st);
    return rc;
}
