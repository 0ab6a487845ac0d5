/* vidsparse bench dit: times whole DiT forwards of a model configuration (a family preset)
 * with seeded random bf16 weights made on the GPU (no checkpoint; --precision fp8
 * quantises them, docs/fp8.md), dense or with SVG in every layer (warm-up rules off),
 * and reports the median time per forward and the share of it spent in attention;
 * --compare-precision also runs one BF16 forward first and reports the relative L2
 * distance of the FP8 output from it. With --steps N it times the denoising loop
 * instead (random text, CFG, a step-cache policy): the steps that ran the DiT against
 * those that reused its transformation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/bench.h"
#include "core/device_info.h"
#include "core/log.h"
#include "models/family.h"
#include "ops/attention.h"
#include "ops/ops.h"
#include "cli/ranks.h"
#include "pipeline/denoise.h"
#include "pipeline/noise.h"

int vs_cli_parse_resolution(const char *text, int *height, int *width) {
    if (!strcmp(text, "480p")) *height = 480, *width = 832;
    else if (!strcmp(text, "720p")) *height = 720, *width = 1280;
    else if (sscanf(text, "%dx%d", height, width) != 2) return 0;
    return *height > 0 && *width > 0 && *height % 16 == 0 && *width % 16 == 0;
}

/* --steps: when each step ended (ms since the loop began) and whether the DiT ran. */
typedef struct {
    double t0;
    float *end_ms;
    int *ran;
} loop_clock;

static int step_done(void *user, int step, int steps) {
    (void)steps;
    loop_clock *c = user;
    c->end_ms[step - 1] = (float)(vs_bench_now_ms() - c->t0);
    return 0;
}

static void step_seen(void *user, const vs_denoise_step *st) { ((loop_clock *)user)->ran[st->step] = st->ran; }

/* The denoising loop over `steps` steps with random text embeddings and guidance `cfg`: each step's time
 * (the first, which makes the kernels' plans, left out of the medians) by whether it ran the DiT; printed
 * and reported when `show` (rank 0). */
static vs_status time_loop(vs_dit *model, const vs_family *family, const int64_t *lat_shape, int text_len, int steps,
                           double cfg, const vs_attention_params *attn, const vs_cache_settings *cache, int show,
                           vs_bench_report *report, const char *name) {
    const vs_dit_info *info = vs_dit_get_info(model);
    const int64_t text_shape[3] = {1, text_len, info->text_dim};
    vs_text_embedding cond = {0}, uncond = {0};
    vs_tensor latents = {0};
    loop_clock clock = {0};
    float *run_ms = calloc((size_t)steps, sizeof(float)), *reuse_ms = calloc((size_t)steps, sizeof(float));
    clock.end_ms = calloc((size_t)steps, sizeof(float)), clock.ran = calloc((size_t)steps, sizeof(int));
    vs_status s = run_ms && reuse_ms && clock.end_ms && clock.ran ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory");
    if (!s) s = vs_tensor_alloc(&latents, VS_F32, VS_CPU, 5, lat_shape);
    if (!s) s = vs_tensor_alloc(&cond.hidden, VS_F32, VS_CPU, 3, text_shape);
    if (!s) s = vs_tensor_alloc(&uncond.hidden, VS_F32, VS_CPU, 3, text_shape);
    /* a pooled text vector too where the DiT takes one (HunyuanVideo's CLIP embedding) */
    if (!s && info->pooled_dim > 0) s = vs_tensor_alloc(&cond.pooled, VS_F32, VS_CPU, 2, (int64_t[]){1, info->pooled_dim});
    if (!s && info->pooled_dim > 0) s = vs_tensor_alloc(&uncond.pooled, VS_F32, VS_CPU, 2, (int64_t[]){1, info->pooled_dim});
    if (!s) {
        vs_noise_gaussian(latents.data, vs_tensor_numel(&latents), 11);
        vs_noise_gaussian(cond.hidden.data, vs_tensor_numel(&cond.hidden), 12);
        vs_noise_gaussian(uncond.hidden.data, vs_tensor_numel(&uncond.hidden), 13);
        if (cond.pooled.data) vs_noise_gaussian(cond.pooled.data, info->pooled_dim, 14);
        if (uncond.pooled.data) vs_noise_gaussian(uncond.pooled.data, info->pooled_dim, 15);
    }
    vs_denoise_settings set;
    memset(&set, 0, sizeof set);
    if (!s) s = vs_scheduler_config_for(NULL, family->defaults.scheduler, &set.scheduler);
    set.scheduler.linear_sigmas = family->defaults.linear_sigmas;
    set.steps = steps, set.guidance = (float)cfg, set.attention = *attn, set.cache = *cache;
    set.progress = step_done, set.progress_user = &clock;
    set.on_step = step_seen, set.on_step_user = &clock;
    vs_dit_timing timing = {0};
    clock.t0 = vs_bench_now_ms();
    if (!s) s = vs_denoise(model, &set, &cond, cfg > 1 ? &uncond : NULL, &latents, &timing);
    int runs = 0, reuses = 0;
    char pattern[1024] = "";
    for (int i = 0; !s && i < steps; i++) {
        const float ms = clock.end_ms[i] - (i ? clock.end_ms[i - 1] : 0.0f);
        if (i < (int)sizeof pattern - 1) pattern[i] = clock.ran[i] ? 'R' : '-';
        if (show) VS_INFO("step %d: %s %.1f ms", i + 1, clock.ran[i] ? "ran" : "reused", ms);
        if (i > 0 && clock.ran[i]) run_ms[runs++] = ms;
        else if (i > 0) reuse_ms[reuses++] = ms;
    }
    vs_bench_stats run = {0}, reuse = {0};
    if (!s && runs) s = vs_bench_summarize(run_ms, runs, &run);
    if (!s && reuses) s = vs_bench_summarize(reuse_ms, reuses, &reuse);
    if (!s && show) {
        const float total = clock.end_ms[steps - 1];
        printf("%s, %d steps, cfg %g, cache %s (threshold %g): %s\n", name, steps, cfg, cache->policy, cache->threshold,
               pattern);
        printf("loop %.1f ms; ran step %.1f ms (median of %d), reused step %.2f ms (median of %d) = %.3f%% of a ran "
               "step; passes %lld run, %lld reused\n",
               total, run.median_ms, runs, reuse.median_ms, reuses,
               runs && reuses ? 100.0 * reuse.median_ms / run.median_ms : 0.0, (long long)timing.passes_run,
               (long long)timing.passes_reused);
        if (report) {
            char label[200];
            snprintf(label, sizeof label, "%s ran step", name);
            if (runs) s = vs_bench_report_add(report, label, &run);
            snprintf(label, sizeof label, "%s reused step", name);
            if (!s && reuses) s = vs_bench_report_add(report, label, &reuse);
            if (!s) s = vs_bench_report_number(report, "steps", steps);
            if (!s) s = vs_bench_report_number(report, "guidance", cfg);
            if (!s) s = vs_bench_report_string(report, "cache", cache->policy);
            if (!s) s = vs_bench_report_number(report, "cache_threshold", cache->threshold);
            if (!s) s = vs_bench_report_string(report, "pattern", pattern);
            if (!s) s = vs_bench_report_number(report, "loop_ms", total);
            if (!s) s = vs_bench_report_number(report, "first_step_ms", clock.end_ms[0]);
            if (!s) s = vs_bench_report_number(report, "passes_run", (double)timing.passes_run);
            if (!s) s = vs_bench_report_number(report, "passes_reused", (double)timing.passes_reused);
            if (!s && runs && reuses) s = vs_bench_report_number(report, "reused_over_ran", reuse.median_ms / run.median_ms);
        }
    }
    vs_text_embedding_free(&cond);
    vs_text_embedding_free(&uncond);
    vs_tensor_free(&latents);
    free(run_ms);
    free(reuse_ms);
    free(clock.end_ms);
    free(clock.ran);
    return s;
}

int vs_cmd_bench_dit(int argc, char **argv) {
    const char *config_name = "wan1.3b", *resolution = "480p", *attention = "dense", *out_path = NULL;
    const char *device_name = VS_HAVE_CUDA ? "cuda" : "cpu", *cache = "none", *precision_name = "bf16", *attention_precision = "bf16";
    int frames = 81, batch = 1, repeats = 5, warmup = 1, layers = 0, text_len = 0, gpus = 0, steps = 0;
    int compare_precision = 0;
    double density = 0.15, cfg_scale = 5.0, cache_threshold = -1.0;
    vs_cli_svg2 svg2 = {0};
    const vs_option options[] = {
        {"config", 0, VS_OPT_STRING, &config_name, "a model configuration: wan1.3b (dim 1536, 30 layers), wan14b (dim 5120, 40 layers), hunyuan13b (dim 3072, 20 dual + 40 single blocks), cogvideox1.5-5b and cogvideox1.5-5b-i2v (DiT only: dim 3072, 42 blocks; --resolution 768x1360 --text-len 226)", "NAME"},
        {"resolution", 0, VS_OPT_STRING, &resolution, "480p (480x832), 720p (720x1280) or HxW in pixels", "RES"},
        {"frames", 0, VS_OPT_INT, &frames, "video frames (Wan: 4k + 1, latent frames (frames - 1) / 4 + 1)", NULL},
        {"batch", 'b', VS_OPT_INT, &batch, "batch entries (2: classifier-free guidance)", NULL},
        {"attention", 0, VS_OPT_STRING, &attention, "dense, svg or svg2 in every layer (no warm-up)", "MODE"},
        {"density", 0, VS_OPT_DOUBLE, &density, "SVG target kept fraction of the attention map", NULL},
        VS_CLI_SVG2_OPTIONS(svg2),
        {"precision", 0, VS_OPT_STRING, &precision_name,
         "weights: bf16, fp8 (E4M3 block linears), or fp8-ffn (only the feed-forward layers in E4M3)", "P"},
        VS_CLI_ATTENTION_PRECISION_OPTION(attention_precision),
        {"compare-precision", 0, VS_OPT_FLAG, &compare_precision,
         "with --precision fp8 or --attention-precision fp8: one BF16 forward (BF16 weights and attention) first, "
         "and the FP8 output's relative L2 distance from it", NULL},
        {"text-len", 0, VS_OPT_INT, &text_len, "text tokens; 0: the model's prompt length (Wan 512, HunyuanVideo 256, CogVideoX 226)", NULL},
        {"layers", 0, VS_OPT_INT, &layers, "run only this many layers (0: the config's)", NULL},
        {"device", 0, VS_OPT_STRING, &device_name, "cuda (bf16) or cpu (f32, tiny runs only)", NULL},
        {"gpus", 0, VS_OPT_INT, &gpus, "sequence-parallel over N GPUs, one process each, through NCCL (0: one GPU, no NCCL)", "N"},
        {"warmup", 0, VS_OPT_INT, &warmup, "untimed forwards first", NULL},
        {"repeats", 'r', VS_OPT_INT, &repeats, "timed forwards (the median is reported)", NULL},
        {"output", 'o', VS_OPT_STRING, &out_path, "write the results as JSON here", "FILE"},
        {"steps", 0, VS_OPT_INT, &steps,
         "time the denoising loop over N steps instead (batch 1, random text, the family's scheduler)", "N"},
        {"cfg", 0, VS_OPT_DOUBLE, &cfg_scale, "with --steps: guidance scale (> 1: two CFG branches per pass)", "G"},
        VS_CLI_CACHE_OPTIONS(cache, cache_threshold),
    };
    const vs_command_spec spec = {"bench dit", "[options]",
                                  "Times DiT forwards of a model configuration with seeded random weights (no checkpoint) on random "
                                  "latents and text: median ms per forward and the attention share (CUDA events).",
                                  options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int r = vs_args_cli(&spec, argc, argv, &args);
    if (r >= 0) return r;
    const vs_family *family = NULL;
    vs_dit_info cfg;
    int height, width;
    if (vs_family_for_preset(config_name, &family) != VS_OK || family->dit_preset(config_name, &cfg) != VS_OK)
        return vs_cli_usage_error(spec.command, "--config: %s", vs_last_error());
    if (text_len == 0) text_len = family->defaults.text_length;
    if (!vs_cli_parse_resolution(resolution, &height, &width))
        return vs_cli_usage_error(spec.command, "--resolution must be 480p, 720p or HxW (multiples of 16), not '%s'",
                                  resolution);
    if (vs_cli_attention_method(spec.command, attention)) return 2;
    vs_precision precision;
    if (vs_cli_precision(spec.command, precision_name, &precision)) return 2;
    if (vs_cli_cache_policy(spec.command, cache)) return 2;
    if (steps < 0 || steps > 10000 || (steps && batch != 1))
        return vs_cli_usage_error(spec.command, "--steps must be in [0, 10000], with --batch 1 (CFG doubles it)");
    if (steps && compare_precision)
        return vs_cli_usage_error(spec.command, "--compare-precision compares single forwards, not --steps loops");
    /* --gpus forks the rank processes before this process touches CUDA. */
    vs_comm *comm = NULL;
    int rank = 0;
    if (gpus < 0) return vs_cli_usage_error(spec.command, "--gpus must be >= 0, not %d", gpus);
    if (gpus && strcmp(device_name, "cuda"))
        return vs_cli_usage_error(spec.command, "--gpus runs on CUDA GPUs, not --device %s", device_name);
    if (gpus) {
        int code = vs_cli_spawn_ranks(spec.command, gpus, &comm, &rank);
        if (code >= 0) return code;
    }
    vs_device device;
    if (vs_cli_device(spec.command, device_name, &device)) return 2;
    if (batch < 1 || repeats < 1 || warmup < 0 || layers < 0 || text_len < 1 || !(density > 0 && density <= 1))
        return vs_cli_usage_error(spec.command, "need batch >= 1, repeats >= 1, warmup >= 0, layers >= 0, "
                                                "text-len >= 1 and 0 < density <= 1");
    int64_t lat_shape[5];
    if (family->latent_shape(&cfg, &family->reference_vae, frames, height, width, lat_shape) != VS_OK)
        return vs_cli_usage_error(spec.command, "%s", vs_last_error());
    lat_shape[0] = batch;
    if (layers > 0 && layers < cfg.num_layers) cfg.num_layers = layers;
    const int64_t text_shape[3] = {batch, text_len, cfg.text_dim};
    const int64_t tokens = lat_shape[2] / cfg.patch[0] * (lat_shape[3] / cfg.patch[1]) * (lat_shape[4] / cfg.patch[2]);
    /* SVG in every layer and step: no dense warm-up, so every forward measures the sparse path. */
    vs_attention_params attn = {.method = attention, .density = density, .dense_steps = 0, .dense_layers = 0};
    if (vs_cli_svg2_apply(spec.command, &svg2, &attn)) return 2;
    if (vs_cli_attention_precision(spec.command, attention_precision, &attn)) return 2;
    const int any_fp8 = precision != VS_PRECISION_DEFAULT || attn.precision == VS_PRECISION_FP8;
    const char *dense_backend = NULL, *sparse_backend = NULL;
    if (vs_attention_dense_backend(device, &dense_backend) || vs_attention_sparse_backend(device, &sparse_backend))
        return vs_cli_report(spec.command);
    VS_INFO("bench dit: %s (%d layers), %dx%d, %d frames -> %lld tokens, batch %d, %s attention (dense: %s, "
            "sparse: %s) on %s%s",
            config_name, cfg.num_layers, height, width, frames, (long long)tokens, batch, attention,
            dense_backend, sparse_backend, device == VS_CUDA ? vs_cuda_device_name() : "cpu",
            comm ? " (sequence-parallel through NCCL)" : "");
    if (comm) VS_INFO("rank %d of %d, %s", rank, gpus, vs_comm_nccl_version());

    vs_dit *model = NULL;
    vs_tensor lat = {0}, text = {0}, out = {0}, pooled = {0}, reference = {0}, host_out = {0};
    double fp8_rel_l2 = -1;
    float *timesteps = NULL, *total_ms = NULL, *attn_ms = NULL;
    double t0 = vs_bench_now_ms();
    vs_status s = vs_dit_random(config_name, layers, device, 1234, &model);
    if (!s) VS_INFO("random weights made in %.1f s", (vs_bench_now_ms() - t0) / 1e3);
    if (!s) s = vs_dit_set_comm(model, comm);
    vs_attention_params bf16_attn = attn;
    bf16_attn.precision = VS_PRECISION_DEFAULT;
    if (!s) s = vs_dit_set_attention(model, compare_precision && any_fp8 ? &bf16_attn : &attn);
    if (!s) s = vs_tensor_alloc(&lat, VS_F32, device, 5, lat_shape);
    /* the output has the DiT's out_channels (an image-to-video model takes noise and image latents) */
    const int64_t out_shape[5] = {lat_shape[0], cfg.out_channels, lat_shape[2], lat_shape[3], lat_shape[4]};
    if (!s) s = vs_tensor_alloc(&out, VS_F32, device, 5, out_shape);
    if (!s) s = vs_tensor_alloc(&text, VS_F32, device, 3, text_shape);
    if (!s) s = vs_op_fill_uniform(&lat, 11, -1.7f, 1.7f); /* unit variance */
    if (!s) s = vs_op_fill_uniform(&text, 12, -0.2f, 0.2f);
    if (!s && cfg.pooled_dim > 0) s = vs_tensor_alloc(&pooled, VS_F32, device, 2, (int64_t[]){batch, cfg.pooled_dim});
    if (!s && cfg.pooled_dim > 0) s = vs_op_fill_uniform(&pooled, 13, -1.0f, 1.0f);
    timesteps = malloc(sizeof(float) * (size_t)batch);
    total_ms = calloc((size_t)repeats, sizeof(float));
    attn_ms = calloc((size_t)repeats, sizeof(float));
    if (!s && (!timesteps || !total_ms || !attn_ms)) s = vs_fail(VS_ERR_OOM, "out of host memory");
    for (int b = 0; !s && b < batch; b++) timesteps[b] = 500.0f + 100.0f * (float)b;
    const vs_dit_input in = {&lat, timesteps, &text, NULL, pooled.data ? &pooled : NULL, 0, 1, NULL};
    if (!s && compare_precision && any_fp8) { /* the BF16 forward, before quantising */
        s = vs_tensor_alloc(&reference, VS_F32, VS_CPU, 5, out_shape);
        if (!s) s = vs_dit_forward(model, &in, &reference, NULL);
        if (!s) s = vs_dit_set_attention(model, &attn);
    }
    if (!s && precision != VS_PRECISION_DEFAULT) {
        t0 = vs_bench_now_ms();
        s = vs_dit_set_precision(model, precision);
        if (!s) VS_INFO("weights quantised to %s in %.1f s", precision_name, (vs_bench_now_ms() - t0) / 1e3);
    }
    if (!s && steps) {
        char name[160];
        snprintf(name, sizeof name, "%s %s %s %s, attention %s", config_name, resolution, attention, precision_name,
                 attention_precision);
        vs_cache_settings caching;
        vs_bench_report *report = NULL;
        s = vs_cache_resolve(&(vs_cache_settings){.policy = cache, .threshold = cache_threshold}, model, &caching,
                             NULL);
        if (!s && out_path && rank == 0) s = vs_bench_report_create(&report, "dit_loop", argc, argv);
        if (!s && report) s = vs_bench_report_set_device(report, device == VS_CUDA ? vs_cuda_device_name() : "cpu");
        if (!s) s = time_loop(model, family, lat_shape, text_len, steps, cfg_scale, &attn, &caching, rank == 0, report, name);
        if (!s && report) s = vs_cli_report_precision(report, precision_name, attention_precision);
        if (!s && report) s = vs_bench_report_number(report, "density", strcmp(attention, "svg") ? 1.0 : density);
        if (!s && report) s = vs_bench_report_number(report, "tokens", (double)tokens);
        if (!s && report) s = vs_bench_report_number(report, "layers", cfg.num_layers);
        if (!s && report) s = vs_bench_json(report, out_path);
        vs_bench_report_free(report);
        repeats = warmup = 0; /* no single forwards */
    }
    double selected_sum = 0, selected_calls = 0; /* the density a selecting method (svg2) chose */
    for (int i = 0; !s && i < warmup + repeats; i++) {
        vs_dit_timing timing = {0};
        s = vs_dit_forward(model, &in, &out, &timing);
        if (!s && i >= warmup) {
            selected_sum += timing.selected_density_sum, selected_calls += (double)timing.selected_calls;
            total_ms[i - warmup] = (float)(timing.total_s * 1e3);
            attn_ms[i - warmup] = (float)(timing.attention_s * 1e3);
            VS_INFO("forward %d: %.1f ms (attention %.1f ms)", i - warmup + 1, timing.total_s * 1e3,
                    timing.attention_s * 1e3);
        }
    }
    if (!s && reference.data) { /* every forward has the same inputs: compare the last one */
        s = vs_tensor_alloc(&host_out, VS_F32, VS_CPU, 5, out_shape);
        if (!s) s = vs_op_copy(&host_out, &out);
        double diff = 0, norm = 0;
        const float *a = host_out.data, *b = reference.data;
        for (int64_t i = 0; !s && i < vs_tensor_numel(&out); i++)
            diff += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), norm += (double)b[i] * b[i];
        fp8_rel_l2 = norm > 0 ? sqrt(diff / norm) : 0;
    }
    vs_bench_stats total, att;
    if (!s && !steps) s = vs_bench_summarize(total_ms, repeats, &total);
    if (!s && !steps) s = vs_bench_summarize(attn_ms, repeats, &att);
    int code = 0;
    if (s) {
        code = vs_cli_report("bench dit");
    } else if (rank == 0 && !steps) {
        char name[160];
        if (comm) snprintf(name, sizeof name, "%s %s %s, %d GPU%s (NCCL)", config_name, resolution, attention, gpus,
                           gpus == 1 ? "" : "s");
        else snprintf(name, sizeof name, "%s %s %s %s, attention %s", config_name, resolution, attention, precision_name,
                      attention_precision);
        printf("%s, batch %d, %lld tokens, %d layers on %s\n", name, batch, (long long)tokens, cfg.num_layers,
               device == VS_CUDA ? vs_cuda_device_name() : "cpu");
        printf("forward %.1f ms (median of %d; min %.1f, max %.1f), attention %.1f ms = %.1f%%\n", total.median_ms,
               repeats, total.min_ms, total.max_ms, att.median_ms, 100.0 * att.median_ms / total.median_ms);
        if (selected_calls > 0) printf("%s selected %.4f of the attention map\n", attention, selected_sum / selected_calls);
        if (fp8_rel_l2 >= 0)
            printf("%s weights, %s attention: output vs the BF16 forward's: relative L2 %.4g\n", precision_name,
                   attention_precision, fp8_rel_l2);
        if (out_path) {
            vs_bench_report *report = NULL;
            s = vs_bench_report_create(&report, "dit", argc, argv);
            if (!s) s = vs_bench_report_set_device(report, device == VS_CUDA ? vs_cuda_device_name() : "cpu");
            if (!s) s = vs_bench_report_add(report, name, &total);
            if (!s) s = vs_bench_report_string(report, "config", config_name);
            if (!s) s = vs_bench_report_string(report, "resolution", resolution);
            if (!s) s = vs_bench_report_string(report, "attention", attention);
            if (!s) s = vs_cli_report_precision(report, precision_name, attention_precision);
            if (!s && fp8_rel_l2 >= 0) s = vs_bench_report_number(report, "rel_l2_vs_bf16", fp8_rel_l2);
            if (!s) s = vs_bench_report_string(report, "dense_attention", dense_backend);
            if (!s) s = vs_bench_report_string(report, "sparse_attention", sparse_backend);
            if (!s && device == VS_CUDA) s = vs_bench_report_number(report, "cudnn_version", vs_cudnn_version());
            const double kept = selected_calls > 0 ? selected_sum / selected_calls : strcmp(attention, "svg") ? 1.0 : density;
            if (!s) s = vs_bench_report_number(report, "density", kept);
            if (!s) s = vs_bench_report_number(report, "batch", batch);
            if (!s) s = vs_bench_report_number(report, "gpus", gpus);
            if (!s) s = vs_bench_report_number(report, "frames", frames);
            if (!s) s = vs_bench_report_number(report, "tokens", (double)tokens);
            if (!s) s = vs_bench_report_number(report, "text_len", text_len);
            if (!s) s = vs_bench_report_number(report, "layers", cfg.num_layers);
            if (!s) s = vs_bench_report_number(report, "attention_ms", att.median_ms);
            if (!s) s = vs_bench_report_number(report, "attention_share", att.median_ms / total.median_ms);
            if (!s) s = vs_bench_json(report, out_path);
            vs_bench_report_free(report);
            if (s) code = vs_cli_report("writing the results");
        }
    }
    free(timesteps);
    free(total_ms);
    free(attn_ms);
    vs_tensor_free(&lat);
    vs_tensor_free(&text);
    vs_tensor_free(&out);
    vs_tensor_free(&pooled);
    vs_tensor_free(&reference);
    vs_tensor_free(&host_out);
    vs_dit_free(model);
    vs_comm_free(comm);
    return code;
}
