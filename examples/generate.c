/* A short video from C with vidsparse's public API (vidsparse.h) alone:
 *
 *     generate [--cpu] [--steps N] [--frames N] [--model DIR] OUT.ppm [PROMPT]
 *
 * Loads a model (by default the embedded tiny one), generates a clip with a
 * progress line per denoising step, writes its frames one after another as a
 * multi-image PPM (view with e.g. `ffmpeg -i OUT.ppm out.mp4` or any netpbm
 * tool), and prints where the time went.
 * Build: cc generate.c $(pkg-config --cflags --libs vidsparse) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vidsparse.h>

static int show_step(void *user, int step, int steps) {
    fprintf(stderr, "%s: step %d of %d\n", (const char *)user, step, steps);
    return 0; /* non-zero would cancel */
}

static int write_ppm(const char *path, const vs_video *video) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    const size_t frame_bytes = (size_t)video->height * (size_t)video->width * 3;
    int ok = 1;
    for (int i = 0; i < video->frames && ok; i++) {
        ok = fprintf(f, "P6\n%d %d\n255\n", video->width, video->height) > 0 &&
             fwrite(video->rgb + (size_t)i * frame_bytes, 1, frame_bytes, f) == frame_bytes;
    }
    return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv) {
    vs_pipeline_params params = vs_pipeline_default_params();
    params.progress = show_step;
    params.progress_user = "denoise";
    vs_generate_request request = vs_generate_default_request();
    request.prompt = "a red circle moving right on a blue background";
    const char *model = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpu"))
            params.device = VS_PIPELINE_CPU;
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            request.steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc)
            request.frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!out)
            out = argv[i];
        else
            request.prompt = argv[i];
    }
    if (!out) {
        fprintf(stderr, "usage: %s [--cpu] [--steps N] [--frames N] [--model DIR] OUT.ppm [PROMPT]\n",
                argv[0]);
        return 2;
    }

    vs_pipeline *pipeline = NULL;
    if (vs_pipeline_load(&pipeline, model, &params) != VS_OK) {
        fprintf(stderr, "loading: %s\n", vs_last_error());
        return 1;
    }
    const vs_pipeline_info info = vs_pipeline_get_info(pipeline);
    printf("model %s: %d frames of %dx%d, %d steps by default\n", info.model_dir, info.frames, info.width,
           info.height, info.steps);

    vs_video *video = NULL;
    int rc = 1;
    if (vs_pipeline_generate(pipeline, &request, &video) != VS_OK) {
        fprintf(stderr, "generating: %s\n", vs_last_error());
    } else if (write_ppm(out, video) != 0) {
        fprintf(stderr, "writing %s failed\n", out);
    } else {
        const vs_pipeline_stats st = vs_pipeline_get_stats(pipeline);
        printf("wrote %d frames of %dx%d to %s\n", video->frames, video->width, video->height, out);
        printf("time: load %.2f s, text %.2f s, denoise %.2f s, decode %.2f s; attention %.0f%% of the DiT\n",
               st.load_s, st.text_s, st.denoise_s, st.decode_s,
               st.dit_s > 0 ? 100.0 * st.attention_s / st.dit_s : 0.0);
        rc = 0;
    }
    vs_video_free(video);
    vs_pipeline_free(pipeline);
    return rc;
}
