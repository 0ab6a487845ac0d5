/* vidsparse bench vae: times whole VAE decodes (host latents in, host
 * video out, as `vidsparse decode` and the pipeline use it) of seeded random
 * latents, and reports the GPU memory the decode held. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/bench.h"
#include "core/device_info.h"
#include "core/log.h"
#include "models/family.h"
#include "ops/ops.h"

static double mib(size_t bytes) {
    return (double)bytes / 1048576.0;
}

int vs_cmd_bench_vae(int argc, char **argv) {
    const char *model = NULL, *config = NULL, *out_path = NULL, *device_name = NULL;
    int frames = 81, height = 480, width = 832, repeats = 3, warmup = 1, tile = 0;
    const vs_option options[] = {
        {"model", 'm', VS_OPT_STRING, &model, "a diffusers vae/ folder (config.json + safetensors)", "DIR"},
        {"config", 0, VS_OPT_STRING, &config,
         "instead of --model: the VAE of a DiT preset's family (wan1.3b, hunyuan13b) with seeded random weights",
         "PRESET"},
        {"frames", 0, VS_OPT_INT, &frames, "video frames (4k + 1)", NULL},
        {"height", 0, VS_OPT_INT, &height, "video height in pixels (multiple of 8)", NULL},
        {"width", 0, VS_OPT_INT, &width, "video width in pixels (multiple of 8)", NULL},
        {"tile", 0, VS_OPT_FLAG, &tile, "decode in diffusers' default 256x256-pixel tiles", NULL},
        {"device", 0, VS_OPT_STRING, &device_name, "cuda (bf16) or cpu (f32)", "DEV"},
        {"warmup", 0, VS_OPT_INT, &warmup, "untimed decodes first (the first finds the cuDNN algorithms)",
         NULL},
        {"repeats", 'r', VS_OPT_INT, &repeats, "timed decodes (the median is reported)", NULL},
        {"output", 'o', VS_OPT_STRING, &out_path, "write the results as JSON here", "FILE"},
    };
    const vs_command_spec spec = {
        "bench vae", "--model DIR | --config PRESET [options]",
        "Times the VAE decodes of a model folder on seeded random latents (host in, host out) and reports the "
        "GPU memory held.",
        options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int r = vs_args_cli(&spec, argc, argv, &args);
    if (r >= 0) return r;
    if (!model == !config) return vs_cli_usage_error(spec.command, "give one of --model DIR and --config PRESET");
    vs_device device;
    if (vs_cli_device(spec.command, device_name, &device)) return 2;
    if (frames < 1 || height < 1 || width < 1 || repeats < 1 || warmup < 0)
        return vs_cli_usage_error(spec.command, "need positive frames, height and width, repeats >= 1 and warmup >= 0");

    vs_vae *vae = NULL;
    vs_tensor lat = {0}, video = {0};
    float *ms = calloc((size_t)repeats, sizeof(float));
    vs_status s = ms ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory");
    const vs_family *family = NULL;
    if (!s && config) s = vs_family_for_preset(config, &family);
    if (!s && config && !family->vae_random)
        s = vs_fail(VS_ERR_UNSUPPORTED, "the %s family has no random-weight VAE yet", family->name);
    if (!s) s = config ? vs_vae_random(config, device, 1, &vae) : vs_vae_load(model, device, &vae);
    int64_t shape[5] = {1, 0, 0, 0, 0};
    if (!s) {
        const vs_vae_info *info = vs_vae_get_info(vae);
        const int sr = info->spatial_ratio, tr = info->temporal_ratio;
        shape[1] = info->latent_channels, shape[2] = (frames - 1) / tr + 1, shape[3] = height / sr,
        shape[4] = width / sr;
        if ((frames - 1) % tr || height % sr || width % sr)
            s = vs_fail(VS_ERR_INVALID_ARG,
                        "this VAE needs frames = %dk + 1 and sizes that are multiples of %d", tr, sr);
    }
    if (!s) s = vs_tensor_alloc(&lat, VS_F32, VS_CPU, 5, shape);
    if (!s) s = vs_op_fill_uniform(&lat, 21, -1.7f, 1.7f); /* unit variance */
    const char *where = device == VS_CUDA ? vs_cuda_device_name() : "cpu";
    if (!s)
        VS_INFO("bench vae: latents %lldx%lldx%lldx%lld -> %d frames of %dx%d on %s%s", (long long)shape[1],
                (long long)shape[2], (long long)shape[3], (long long)shape[4], frames, width, height, where,
                tile ? ", tiled" : "");
    for (int i = 0; !s && i < warmup + repeats; i++) {
        double t0 = vs_bench_now_ms();
        s = vs_vae_decode(vae, &lat, tile, &video);
        double t = vs_bench_now_ms() - t0;
        if (!s) VS_INFO("decode %d%s: %.1f ms", i + 1, i < warmup ? " (warm-up)" : "", t);
        if (!s && i >= warmup) ms[i - warmup] = (float)t;
        vs_tensor_free(&video);
    }
    vs_bench_stats st;
    if (!s) s = vs_bench_summarize(ms, repeats, &st);
    int code = 0;
    if (s) {
        code = vs_cli_report("bench vae");
    } else {
        vs_vae_memory mem = vs_vae_get_memory(vae);
        char name[160];
        snprintf(name, sizeof name, "%s vae decode %dx%d %d frames%s", vs_vae_family(vae)->name, width, height,
                 frames, tile ? " tiled" : "");
        printf("%s on %s: %.1f ms (median of %d; min %.1f, max %.1f)\n", name, where, st.median_ms, repeats,
               st.min_ms, st.max_ms);
        if (device == VS_CUDA)
            printf("GPU memory: weights %.1f MiB, activations and caches %.1f MiB, cuDNN workspace %.1f MiB; "
                   "device in use at the end of a decode %.1f MiB\n",
                   mib(mem.weights), mib(mem.peak_activations), mib(mem.workspace), mib(mem.device_used));
        if (out_path) {
            vs_bench_report *report = NULL;
            s = vs_bench_report_create(&report, "vae", argc, argv);
            if (!s) s = vs_bench_report_set_device(report, where);
            if (!s) s = vs_bench_report_add(report, name, &st);
            if (!s) s = vs_bench_report_number(report, "frames", frames);
            if (!s) s = vs_bench_report_number(report, "height", height);
            if (!s) s = vs_bench_report_number(report, "width", width);
            if (!s) s = vs_bench_report_number(report, "weights_mib", mib(mem.weights));
            if (!s) s = vs_bench_report_number(report, "activations_mib", mib(mem.peak_activations));
            if (!s) s = vs_bench_report_number(report, "workspace_mib", mib(mem.workspace));
            if (!s) s = vs_bench_report_number(report, "device_used_mib", mib(mem.device_used));
            if (!s) s = vs_bench_json(report, out_path);
            vs_bench_report_free(report);
            if (s) code = vs_cli_report("writing the results");
        }
    }
    free(ms);
    vs_tensor_free(&lat);
    vs_tensor_free(&video);
    vs_vae_free(vae);
    return code;
}
