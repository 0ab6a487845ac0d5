/* vidsparse bench generate: the whole text-to-video pipeline (src/pipeline) of a model configuration
 * with seeded random weights for all three components at their real configurations (for Wan: umT5-XXL,
 * the DiT preset, the Wan 2.1 VAE decoder), timed stage by stage: loading, text encoding (prompt and
 * negative prompt), each denoising step (with CFG: one batch of two), the VAE decode and the file write.
 * GPU memory comes from the device's own report: cudaMemGetInfo (used = total - free, the whole device),
 * sampled by a host thread every 2 ms and at every stage and step boundary, per stage and overall. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/bench.h"
#include "core/device_info.h"
#include "core/devmem.h"
#include "core/log.h"
#include "io/video.h"
#include "pipeline/t2v.h"

#define MAX_STEPS 1000

/* A width x height RGB gradient: the first frame of image-to-video configurations (its content does not change
 * the work). */
static vs_status gradient_image(int width, int height, vs_image *out) {
    if (!(out->rgb = malloc((size_t)width * (size_t)height * 3))) return vs_fail(VS_ERR_OOM, "out of host memory");
    out->width = width, out->height = height;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            uint8_t *p = out->rgb + ((size_t)y * width + x) * 3;
            p[0] = (uint8_t)(255 * x / width), p[1] = (uint8_t)(255 * y / height), p[2] = 128;
        }
    return VS_OK;
}

/* The device's memory in use, sampled; `stage` says which stage a sample belongs to. */
typedef struct {
    atomic_int stage, stop;
    atomic_size_t peak[VS_STAGE_COUNT + 2], peak_all; /* [VS_STAGE_COUNT]: after the generation, then OPENING */
    int on_gpu;
    pthread_t thread;
    int running;
    double step_ms[MAX_STEPS + 1]; /* time at the end of each step (from the progress callback) */
} sampler;

/* The sampler's slot for opening the pipeline (which loads every component when the plan at the model's default
 * size is resident). */
enum { OPENING = VS_STAGE_COUNT + 1 };

static size_t used_now(void) {
    size_t free_bytes = 0, total = 0;
    return vs_device_mem_info(&free_bytes, &total) == VS_OK ? total - free_bytes : 0;
}

static void raise_to(atomic_size_t *peak, size_t value) {
    size_t old = atomic_load(peak);
    while (value > old && !atomic_compare_exchange_weak(peak, &old, value)) {
    }
}

static void sample(sampler *s) {
    if (!s->on_gpu) return;
    const size_t used = used_now();
    raise_to(&s->peak[atomic_load(&s->stage)], used);
    raise_to(&s->peak_all, used);
}

static void *sample_loop(void *p) {
    sampler *s = p;
    const struct timespec pause = {0, 2000000};
    while (!atomic_load(&s->stop)) {
        sample(s);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static void on_stage(void *user, vs_stage stage) {
    sampler *s = user;
    sample(s); /* the end of the stage before */
    atomic_store(&s->stage, (int)stage);
    sample(s);
}

static int on_step(void *user, int step, int steps) {
    sampler *s = user;
    sample(s);
    if (step <= MAX_STEPS) s->step_ms[step] = vs_bench_now_ms();
    (void)steps;
    return 0;
}

static double mib(size_t bytes) { return (double)bytes / 1048576.0; }

int vs_cmd_bench_generate(int argc, char **argv) {
    const char *config_name = "wan1.3b", *resolution = "480p", *attention = "svg", *precision_name = "bf16", *attention_precision = "bf16";
    const char *out_path = NULL, *video_path = NULL, *device_name = VS_HAVE_CUDA ? "cuda" : "cpu";
    const char *prompt = "A cat walks on the grass, realistic style.";
    int frames = 81, steps = 2, extrapolate = 50;
    int64_t seed = 0;
    double cfg = -1.0, density = 0.25, gpu_memory = 0.0, extrapolate_dense_steps = -1.0;
    vs_cli_svg svg = VS_CLI_SVG_UNSET;
    const vs_option options[] = {
        {"config", 0, VS_OPT_STRING, &config_name,
         "a model configuration: wan1.3b, wan14b, hunyuan13b, cogvideox1.5-5b or cogvideox1.5-5b-i2v (its first frame: "
         "a gradient)",
         "NAME"},
        {"resolution", 0, VS_OPT_STRING, &resolution, "480p (480x832), 720p (720x1280) or HxW in pixels", "RES"},
        {"frames", 0, VS_OPT_INT, &frames, "video frames (4k + 1)", NULL},
        {"steps", 0, VS_OPT_INT, &steps, "denoising steps to run and time", NULL},
        {"extrapolate", 0, VS_OPT_INT, &extrapolate, "also report the time of this many steps, extrapolated", "N"},
        {"extrapolate-dense-steps", 0, VS_OPT_DOUBLE, &extrapolate_dense_steps,
         "SVG: fraction of the extrapolated steps that stay dense (negative: the model's warm-up)", NULL},
        {"cfg", 0, VS_OPT_DOUBLE, &cfg,
         "classifier-free guidance scale (<= 1: none; negative: the model's, 5 for Wan, none for HunyuanVideo)", NULL},
        {"attention", 0, VS_OPT_STRING, &attention, "dense, or svg (after the model's dense warm-up)", "MODE"},
        {"density", 0, VS_OPT_DOUBLE, &density, "SVG kept fraction of the attention map, in (0, 1]", NULL},
        {"dense-steps", 0, VS_OPT_DOUBLE, &svg.dense_steps,
         "SVG: fraction of the first steps that stay dense (negative: the model's default)", NULL},
        {"dense-layers", 0, VS_OPT_DOUBLE, &svg.dense_layers,
         "SVG: fraction of the first layers that stay dense (negative: the model's default)", NULL},
        VS_CLI_PRECISION_OPTION(precision_name),
        VS_CLI_ATTENTION_PRECISION_OPTION(attention_precision),
        {"gpu-memory", 0, VS_OPT_DOUBLE, &gpu_memory,
         "GiB of GPU memory to plan within (0: the device's); docs/memory.md", "GIB"},
        {"prompt", 'p', VS_OPT_STRING, &prompt, "the prompt (a random text encoder maps its bytes to tokens)", "TEXT"},
        {"seed", 0, VS_OPT_INT64, &seed, "weights and noise seed", NULL},
        {"device", 0, VS_OPT_STRING, &device_name, "cuda (bf16) or cpu (f32; the real sizes need far more memory than a desktop has)", NULL},
        {"video", 0, VS_OPT_STRING, &video_path, "write the video here (default: a temporary .y4m, removed)", "FILE"},
        {"output", 'o', VS_OPT_STRING, &out_path, "write the results as JSON here", "FILE"},
    };
    const vs_command_spec spec = {
        "bench generate", "[options]",
        "Times the whole text-to-video pipeline of a model configuration with seeded random weights for the "
        "text encoder, the DiT and the VAE (no checkpoint): each stage, each denoising step, and the GPU memory "
        "the device reports.",
        options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int r = vs_args_cli(&spec, argc, argv, &args);
    if (r >= 0) return r;
    int height, width;
    if (!vs_cli_parse_resolution(resolution, &height, &width))
        return vs_cli_usage_error(spec.command, "--resolution must be 480p, 720p or HxW (multiples of 16), not '%s'",
                                  resolution);
    if (vs_cli_attention_method(spec.command, attention)) return 2;
    vs_precision precision;
    if (vs_cli_precision(spec.command, precision_name, &precision)) return 2;
    svg.density = density;
    if (vs_cli_check_svg(spec.command, &svg)) return 2;
    if (steps < 1 || steps > MAX_STEPS || extrapolate < 0 || frames < 1 || !(cfg <= 100) ||
        !(gpu_memory >= 0) || !(extrapolate_dense_steps <= 1))
        return vs_cli_usage_error(spec.command, "need 1 <= steps <= %d, extrapolate >= 0, frames >= 1, 0 <= cfg <= "
                                                "100, gpu-memory >= 0 and extrapolate-dense-steps <= 1",
                                  MAX_STEPS);
    vs_device device;
    if (vs_cli_device(spec.command, device_name, &device)) return 2;
    char temp_video[64] = "";
    if (!video_path) {
        snprintf(temp_video, sizeof temp_video, "/tmp/vs_bench_generate_%d.y4m", (int)getpid());
        video_path = temp_video;
    }

    sampler *smp = calloc(1, sizeof *smp);
    if (!smp) {
        vs_fail(VS_ERR_OOM, "out of host memory");
        return vs_cli_report(spec.command);
    }
    smp->on_gpu = device == VS_CUDA;
    const size_t baseline = smp->on_gpu ? used_now() : 0; /* the CUDA context and others, before loading */
    size_t total_bytes = 0, free_bytes = 0;
    if (smp->on_gpu) vs_device_mem_info(&free_bytes, &total_bytes);
    atomic_store(&smp->stage, OPENING);
    if (smp->on_gpu) smp->running = pthread_create(&smp->thread, NULL, sample_loop, smp) == 0;

    const double t_open = vs_bench_now_ms();
    const vs_t2v_source source = {NULL, config_name, (uint64_t)seed, precision};
    vs_t2v *t2v = NULL;
    vs_status s = vs_t2v_open(&source, device, gpu_memory, &t2v);
    const double open_s = (vs_bench_now_ms() - t_open) / 1e3;
    on_stage(smp, VS_STAGE_TEXT);
    if (s == VS_OK && cfg < 0) cfg = vs_t2v_get_defaults(t2v)->guidance;
    vs_t2v_request req = vs_t2v_request_default(prompt);
    req.seed = (uint64_t)seed;
    req.steps = steps, req.frames = frames, req.height = height, req.width = width;
    req.guidance = (float)cfg;
    req.attention = (vs_attention_params){.method = attention, .density = density, .dense_steps = svg.dense_steps, .dense_layers = svg.dense_layers};
    if (vs_cli_attention_precision(spec.command, attention_precision, &req.attention)) return 2;
    req.progress = on_step, req.progress_user = smp;
    req.stage = on_stage, req.stage_user = smp;
    vs_image first_frame = {0}; /* image-to-video configurations: a gradient as the first frame */
    if (s == VS_OK && vs_t2v_takes_image(t2v)) s = gradient_image(width, height, &first_frame);
    req.image = first_frame.rgb ? &first_frame : NULL;
    vs_t2v_stats st;
    memset(&st, 0, sizeof st);
    vs_tensor video = {0};
    double t0 = vs_bench_now_ms(), write_s = 0;
    if (s == VS_OK) {
        VS_INFO("bench generate: %s %dx%d, %d frames, %d steps, CFG %g, %s attention, %s weights on %s", config_name,
                width, height, frames, steps, cfg, attention, precision_name,
                device == VS_CUDA ? vs_cuda_device_name() : "cpu");
        s = vs_t2v_generate(t2v, &req, &video, &st);
    }
    const double generate_s = (vs_bench_now_ms() - t0) / 1e3;
    if (s == VS_OK) {
        t0 = vs_bench_now_ms();
        s = vs_video_write(video_path, &video, vs_t2v_get_defaults(t2v)->fps);
        write_s = (vs_bench_now_ms() - t0) / 1e3;
    }
    if (temp_video[0]) remove(temp_video);
    atomic_store(&smp->stop, 1);
    if (smp->running) pthread_join(smp->thread, NULL);

    int code = 0;
    if (s != VS_OK) {
        code = vs_cli_report(spec.command);
    } else {
        /* Step i's time: between the progress callbacks; the first from the denoising start. */
        float step_ms[MAX_STEPS];
        double steps_sum = 0;
        for (int i = 1; i < steps; i++) step_ms[i] = (float)(smp->step_ms[i + 1] - smp->step_ms[i]), steps_sum += step_ms[i];
        step_ms[0] = (float)(st.denoise_s * 1e3 - steps_sum);
        const vs_attention_params used = vs_t2v_resolve_attention(t2v, &req.attention);
        const int svg_on = strcmp(attention, "dense") != 0;
        vs_bench_stats all;
        s = vs_bench_summarize(step_ms, steps, &all);
        double loads = open_s;
        for (int i = 0; i < VS_STAGE_COUNT; i++) loads += st.load_s[i];
        const double measured = open_s + generate_s + write_s;
        vs_attention_params extrapolated = req.attention; /* its warm-up: the asked fraction or the model's */
        extrapolated.dense_steps = extrapolate_dense_steps;
        const vs_bench_schedule x = vs_bench_estimate_schedule(
            step_ms, steps, svg_on ? used.dense_steps : 1.0, extrapolate,
            svg_on ? vs_t2v_resolve_attention(t2v, &extrapolated).dense_steps : 1.0);
        const double estimate = loads + st.encode_s + st.image_s + st.decode_s + write_s + x.steps_s;
        const vs_memory_plan *plan = &st.plan;
        char name[160];
        if (svg_on) snprintf(name, sizeof name, "%s %s %s %g", config_name, resolution, attention, density);
        else snprintf(name, sizeof name, "%s %s %s", config_name, resolution, attention);
        printf("bench generate %s, %d frames, %d steps, CFG %g, %s, on %s\n", name, frames, steps, cfg, precision_name,
               device == VS_CUDA ? vs_cuda_device_name() : "cpu");
        printf("load %.2f s (open %.2f, text %.2f, DiT %.2f, VAE %.2f); text %.3f s; image %.3f s; steps", loads,
               open_s, st.load_s[VS_STAGE_TEXT], st.load_s[VS_STAGE_DENOISE], st.load_s[VS_STAGE_DECODE], st.encode_s,
               st.image_s);
        for (int i = 0; i < steps; i++) printf(" %.2f", step_ms[i] / 1e3);
        printf(" s; VAE %.2f s; write %.2f s; total %.2f s\n", st.decode_s, write_s, measured);
        if (extrapolate && x.missing)
            printf("%d steps not extrapolated: their schedule has %d dense and %d sparse steps, and no %s "
                   "step was timed (time both kinds, e.g. --steps 3 --dense-steps 0.34)\n",
                   extrapolate, x.dense_steps, extrapolate - x.dense_steps, x.missing);
        else if (extrapolate)
            printf("%d steps (extrapolated: %d dense x %.2f s + %d sparse x %.2f s, each the mean of its "
                   "kind's timed steps after the kind's first): %.1f s\n",
                   extrapolate, x.dense_steps, x.dense_step_ms / 1e3, extrapolate - x.dense_steps,
                   x.sparse_step_ms / 1e3, estimate);
        if (smp->on_gpu)
            printf("GPU memory in use (cudaMemGetInfo, sampled): open %.0f MiB, text %.0f MiB, denoise %.0f MiB, VAE "
                   "%.0f MiB, peak %.0f MiB (%.0f before loading); plan %s%s, estimated peaks %.0f / %.0f / %.0f MiB\n",
                   mib(smp->peak[OPENING]), mib(smp->peak[VS_STAGE_TEXT]), mib(smp->peak[VS_STAGE_DENOISE]), mib(smp->peak[VS_STAGE_DECODE]),
                   mib(smp->peak_all), mib(baseline), plan->resident ? "resident" : "staged",
                   plan->resident ? "" : plan->keep_dit_for_decode ? " (DiT kept for the VAE)"
                                       : plan->tile_vae ? " (DiT freed, VAE tiled)" : " (DiT freed for the VAE)",
                   mib(plan->peak[VS_STAGE_TEXT]), mib(plan->peak[VS_STAGE_DENOISE]), mib(plan->peak[VS_STAGE_DECODE]));
        vs_bench_report *report = NULL;
        if (!s && out_path) {
            s = vs_bench_report_create(&report, "generate", argc, argv);
            if (!s) s = vs_bench_report_set_device(report, device == VS_CUDA ? vs_cuda_device_name() : "cpu");
            if (!s) s = vs_bench_report_add(report, name, &all);
            struct { const char *key; double value; } numbers[] = {
                {"frames", frames}, {"height", height}, {"width", width}, {"steps", steps}, {"cfg", cfg},
                {"density", svg_on ? density : 1.0}, {"dense_steps", svg_on ? used.dense_steps : 1.0},
                {"dense_layers", svg_on ? used.dense_layers : 1.0}, {"seed", (double)seed},
                {"open_s", open_s}, {"load_text_s", st.load_s[VS_STAGE_TEXT]},
                {"load_dit_s", st.load_s[VS_STAGE_DENOISE]}, {"load_vae_s", st.load_s[VS_STAGE_DECODE]},
                {"text_s", st.encode_s}, {"image_s", st.image_s}, {"denoise_s", st.denoise_s}, {"vae_s", st.decode_s}, {"write_s", write_s},
                {"total_s", measured}, {"dit_s", st.dit.total_s}, {"attention_s", st.dit.attention_s},
                {"gpu_memory_budget_gib", gpu_memory}, {"device_total_mib", mib(total_bytes)},
                {"in_use_before_mib", mib(baseline)}, {"peak_mib", mib(smp->peak_all)},
                {"peak_open_mib", mib(smp->peak[OPENING])}, {"plan_in_use_mib", mib(plan->in_use)},
                {"peak_text_mib", mib(smp->peak[VS_STAGE_TEXT])}, {"peak_denoise_mib", mib(smp->peak[VS_STAGE_DENOISE])},
                {"peak_vae_mib", mib(smp->peak[VS_STAGE_DECODE])}, {"plan_resident", plan->resident},
                {"plan_keep_dit_for_decode", plan->keep_dit_for_decode},
                {"plan_tile_vae", plan->tile_vae}, {"need_vae_work_tiled_mib", mib(plan->need[VS_STAGE_DECODE].work_tiled)},
                {"plan_peak_text_mib", mib(plan->peak[VS_STAGE_TEXT])},
                {"plan_peak_denoise_mib", mib(plan->peak[VS_STAGE_DENOISE])},
                {"plan_peak_vae_mib", mib(plan->peak[VS_STAGE_DECODE])},
                {"need_text_weights_mib", mib(plan->need[VS_STAGE_TEXT].weights)},
                {"need_text_work_mib", mib(plan->need[VS_STAGE_TEXT].work)},
                {"need_dit_weights_mib", mib(plan->need[VS_STAGE_DENOISE].weights)},
                {"need_dit_work_mib", mib(plan->need[VS_STAGE_DENOISE].work)},
                {"need_vae_weights_mib", mib(plan->need[VS_STAGE_DECODE].weights)},
                {"need_vae_work_mib", mib(plan->need[VS_STAGE_DECODE].work)},
                {"vae_reported_weights_mib", mib(st.vae.weights)},
                {"vae_reported_activations_mib", mib(st.vae.peak_activations)},
                {"vae_reported_workspace_mib", mib(st.vae.workspace)},
            };
            for (size_t i = 0; !s && i < sizeof numbers / sizeof numbers[0]; i++)
                s = vs_bench_report_number(report, numbers[i].key, numbers[i].value);
            if (!s && extrapolate && !x.missing) {
                const struct { const char *key; double value; } extrapolation[] = {
                    {"dense_step_ms", x.dense_step_ms}, {"sparse_step_ms", x.sparse_step_ms},
                    {"extrapolated_steps", extrapolate}, {"extrapolated_dense_steps", x.dense_steps},
                    {"extrapolated_total_s", estimate}};
                for (size_t i = 0; !s && i < sizeof extrapolation / sizeof extrapolation[0]; i++)
                    s = vs_bench_report_number(report, extrapolation[i].key, extrapolation[i].value);
            }
            char key[32];
            for (int i = 0; !s && i < steps; i++) {
                snprintf(key, sizeof key, "step_%d_s", i + 1);
                s = vs_bench_report_number(report, key, step_ms[i] / 1e3);
            }
            if (!s) s = vs_bench_report_string(report, "config", config_name);
            if (!s) s = vs_bench_report_string(report, "resolution", resolution);
            if (!s) s = vs_bench_report_string(report, "attention", attention);
            if (!s) s = vs_cli_report_precision(report, precision_name, attention_precision);
            if (!s) s = vs_bench_report_string(report, "weights", "seeded random, all three components at their real "
                                                                  "configurations (no checkpoint)");
            if (!s) s = vs_bench_report_string(report, "memory_source",
                                               "cudaMemGetInfo (total - free, the whole device), sampled every 2 ms by "
                                               "a host thread and at each stage and step boundary");
            if (!s)
                s = vs_bench_report_string(
                    report, "extrapolation",
                    "extrapolated_total_s = loads + text + image + extrapolated_dense_steps x dense_step_ms + the "
                    "other extrapolated steps x sparse_step_ms + VAE + write, each step time the mean of its kind's "
                    "timed steps after the kind's first (the only one if one): timed steps, not a full run; absent "
                    "when the run timed no step of a kind the schedule needs");
            if (!s) s = vs_bench_json(report, out_path);
            vs_bench_report_free(report);
        }
        if (s) code = vs_cli_report("writing the results");
    }
    vs_tensor_free(&video);
    vs_image_free(&first_frame);
    vs_t2v_free(t2v);
    free(smp);
    return code;
}
