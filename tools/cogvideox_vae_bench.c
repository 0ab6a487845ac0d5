/* Times CogVideoX VAE decodes (and the image-to-video encode of one frame) on the GPU, the counterpart of bench/cogvideox_vae_vs_diffusers.py until
 * the CogVideoX family is registered (then `vidsparse bench vae` covers it): the 1.5 VAE with seeded
 * random weights, seeded random latents of unit variance for `frames` frames of height x width
 * (diffusers' tiling on unless --no-tile), host latents in and host video out; then the encode of one
 * frame of that size (the image of image-to-video), host in and host out.
 *
 *     cogvideox_vae_bench [--height 768] [--width 1360] [--frames 81] [--warmup 1] [--repeats 1]
 *                         [--no-tile] [-o results.json]
 * Built by the CMake target cogvideox_vae_bench (CUDA builds). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bench.h"
#include "core/device_info.h"
#include "core/status.h"
#include "models/cogvideox/vae.h"
#include "ops/ops.h"

static double mib(size_t bytes) { return (double)bytes / 1048576.0; }

int main(int argc, char **argv) {
    int height = 768, width = 1360, frames = 81, warmup = 1, repeats = 1, tile = 1;
    const char *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        int *target = !strcmp(argv[i], "--height") ? &height : !strcmp(argv[i], "--width") ? &width
                    : !strcmp(argv[i], "--frames") ? &frames : !strcmp(argv[i], "--warmup") ? &warmup
                    : !strcmp(argv[i], "--repeats") ? &repeats : NULL;
        if (target && i + 1 < argc) *target = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-tile")) tile = 0;
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) out_path = argv[++i];
        else {
            fprintf(stderr, "cogvideox_vae_bench: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    vs_cogvideox_vae *vae = NULL;
    vs_tensor lat = {0}, video = {0};
    float *ms = calloc((size_t)(repeats > 0 ? repeats : 1), sizeof(float));
    vs_status s = ms ? vs_cogvideox_vae_random(&vae, VS_CUDA, 7) : vs_fail(VS_ERR_OOM, "out of host memory");
    const int r = s ? 8 : vs_cogvideox_vae_spatial_ratio(vae);
    const int64_t shape[5] = {1, 16, (frames - 1) / 4 + 1, height / r, width / r};
    if (!s && (repeats < 1 || warmup < 0 || (frames - 1) % 4 || height % r || width % r))
        s = vs_fail(VS_ERR_INVALID_ARG, "need frames = 4k + 1, sizes that are multiples of %d, repeats >= 1", r);
    if (!s) s = vs_tensor_alloc(&lat, VS_F32, VS_CPU, 5, shape);
    if (!s) s = vs_op_fill_uniform(&lat, 21, -1.7f, 1.7f); /* unit variance */
    vs_cogvideox_vae_tiling tiling = s ? (vs_cogvideox_vae_tiling){0} : vs_cogvideox_vae_default_tiling(vae);
    tiling.enabled = tile;
    for (int i = 0; !s && i < warmup + repeats; i++) {
        const double t0 = vs_bench_now_ms();
        s = vs_cogvideox_vae_decode(vae, &lat, &tiling, &video);
        const double t = vs_bench_now_ms() - t0;
        if (!s) printf("decode %d%s: %.1f ms, %lld frames\n", i + 1, i < warmup ? " (warm-up)" : "", t, (long long)video.shape[0]);
        if (!s && i >= warmup) ms[i - warmup] = (float)t;
        vs_tensor_free(&video);
    }
    vs_bench_stats st, est;
    if (!s) s = vs_bench_summarize(ms, repeats, &st);
    /* one frame in [-1, 1] through the encoder */
    vs_tensor image = {0}, mean = {0}, logvar = {0};
    if (!s) s = vs_tensor_alloc(&image, VS_F32, VS_CPU, 4, (int64_t[]){1, 3, height, width});
    if (!s) s = vs_op_fill_uniform(&image, 5, -1.0f, 1.0f);
    for (int i = 0; !s && i < warmup + repeats; i++) {
        const double t0 = vs_bench_now_ms();
        s = vs_cogvideox_vae_encode(vae, &image, &tiling, &mean, &logvar);
        const double t = vs_bench_now_ms() - t0;
        if (!s) printf("encode %d%s: %.1f ms\n", i + 1, i < warmup ? " (warm-up)" : "", t);
        if (!s && i >= warmup) ms[i - warmup] = (float)t;
        vs_tensor_free(&mean);
        vs_tensor_free(&logvar);
    }
    vs_tensor_free(&image);
    if (!s) s = vs_bench_summarize(ms, repeats, &est);
    if (!s) {
        const vs_cogvideox_vae_memory mem = vs_cogvideox_vae_device_memory(vae);
        char name[160], ename[160];
        snprintf(name, sizeof name, "cogvideox1.5 vae decode %dx%d %d frames%s", width, height, frames, tile ? " tiled" : "");
        snprintf(ename, sizeof ename, "cogvideox1.5 vae encode %dx%d 1 frame%s", width, height, tile ? " tiled" : "");
        printf("%s: %.1f ms (median of %d)\n%s: %.1f ms\nGPU memory: weights %.1f MiB, activations and caches %.1f MiB, cuDNN "
               "workspace %.1f MiB, device in use at the end %.1f MiB\n", name, st.median_ms, repeats, ename, est.median_ms,
               mib(mem.weights),
               mib(mem.peak_activations), mib(mem.workspace), mib(mem.device_used));
        /* the config-only estimate for one tile, against the pool measured */
        size_t est_weights = 0, est_work = 0;
        const int eh = tile ? tiling.tile_height / r : height / r, ew = tile ? tiling.tile_width / r : width / r;
        if (vs_cogvideox_vae_estimate(NULL, eh, ew, &est_weights, &est_work) == VS_OK)
            printf("estimate for %dx%d latents: weights %.1f MiB, activations %.1f MiB\n", ew, eh, mib(est_weights),
                   mib(est_work));
        if (out_path) {
            vs_bench_report *report = NULL;
            s = vs_bench_report_create(&report, "cogvideox_vae", argc, argv);
            if (!s) s = vs_bench_report_set_device(report, vs_cuda_device_name());
            if (!s) s = vs_bench_report_add(report, name, &st);
            if (!s) s = vs_bench_report_add(report, ename, &est);
            if (!s) s = vs_bench_report_number(report, "weights_mib", mib(mem.weights));
            if (!s) s = vs_bench_report_number(report, "activations_mib", mib(mem.peak_activations));
            if (!s) s = vs_bench_report_number(report, "workspace_mib", mib(mem.workspace));
            if (!s) s = vs_bench_report_number(report, "device_used_mib", mib(mem.device_used));
            if (!s) s = vs_bench_report_number(report, "estimated_activations_mib", mib(est_work));
            if (!s) s = vs_bench_json(report, out_path);
            vs_bench_report_free(report);
        }
    }
    if (s) fprintf(stderr, "cogvideox_vae_bench: %s\n", vs_last_error());
    free(ms);
    vs_tensor_free(&lat);
    vs_tensor_free(&video);
    vs_cogvideox_vae_free(vae);
    return s ? 1 : 0;
}
