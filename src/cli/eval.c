#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "core/bench.h"
#include "eval/metrics.h"
#include "eval/scene.h"
#include "io/video.h"
#include "pipeline/t2v.h"

/* PSNR of identical videos is infinite; averages cap each video at this. */
#define PSNR_CAP 100.0

typedef struct {
    float *ms;             /* per video */
    int videos, exact;     /* videos whose every attribute matched */
    int attributes, matched;
    double attention_s, dit_s;
    int64_t spatial, temporal;
    int64_t passes_run, passes_reused;
    int64_t selected_calls; /* SVG2's sparse layer calls and the sum of their kept fractions */
    double selected_density_sum;
    double psnr_sum, psnr_min, ssim_sum; /* against the reference mode's videos (compare) */
} mode_result;

/* At most this many step-cache policies in one eval (--cache a,b,...). */
#define MAX_POLICIES 4

/* Generates one video and checks it against its prompt; *frames receives it as u8. */
static vs_status run_one(vs_t2v *t2v, vs_t2v_request *req, mode_result *r, vs_tensor *frames) {
    vs_tensor video = {0};
    vs_t2v_stats st;
    double t0 = vs_bench_now_ms();
    VS_TRY(vs_t2v_generate(t2v, req, &video, &st));
    r->ms[r->videos] = (float)(vs_bench_now_ms() - t0);
    vs_status s = vs_video_frames_u8(&video, frames);
    vs_tensor_free(&video);
    VS_TRY(s);
    vs_scene_check c;
    VS_TRY(vs_scene_check_video(frames, req->prompt, &c));
    r->videos++;
    r->exact += c.matched == c.checked;
    r->attributes += c.checked, r->matched += c.matched;
    r->attention_s += st.dit.attention_s, r->dit_s += st.dit.total_s;
    r->spatial += st.dit.heads_spatial, r->temporal += st.dit.heads_temporal;
    r->passes_run += st.dit.passes_run, r->passes_reused += st.dit.passes_reused;
    r->selected_calls += st.dit.selected_calls, r->selected_density_sum += st.dit.selected_density_sum;
    return VS_OK;
}

/* PSNR (capped) and SSIM of the video just made in `r` against `ref`'s of the same prompt and seed. */
static vs_status compare(mode_result *r, const vs_tensor *got, const vs_tensor *ref, double *psnr, double *ssim) {
    VS_TRY(vs_video_psnr(got, ref, psnr));
    VS_TRY(vs_video_ssim(got, ref, ssim));
    *psnr = *psnr < PSNR_CAP ? *psnr : PSNR_CAP;
    if (r->videos == 1 || *psnr < r->psnr_min) r->psnr_min = *psnr;
    r->psnr_sum += *psnr, r->ssim_sum += *ssim;
    return VS_OK;
}

static vs_status report_mode(vs_bench_report *rep, const char *name, const mode_result *r) {
    vs_bench_stats st;
    VS_TRY(vs_bench_summarize(r->ms, r->videos, &st));
    VS_TRY(vs_bench_report_add(rep, name, &st));
    VS_TRY(vs_bench_report_number(rep, "prompt_accuracy", (double)r->exact / r->videos));
    VS_TRY(vs_bench_report_number(rep, "attribute_accuracy", (double)r->matched / r->attributes));
    VS_TRY(vs_bench_report_number(rep, "attention_share", r->dit_s > 0 ? r->attention_s / r->dit_s : 0));
    if (r->spatial + r->temporal)
        VS_TRY(vs_bench_report_number(rep, "temporal_head_fraction", (double)r->temporal / (double)(r->spatial + r->temporal)));
    if (r->selected_calls)
        VS_TRY(vs_bench_report_number(rep, "selected_density", r->selected_density_sum / (double)r->selected_calls));
    VS_TRY(vs_bench_report_number(rep, "passes_run", (double)r->passes_run));
    return vs_bench_report_number(rep, "passes_reused", (double)r->passes_reused);
}

/* Median time per video: robust to the first video's one-time set-up (cuDNN plans, allocations). */
static double median_ms(const mode_result *r) {
    vs_bench_stats st;
    return vs_bench_summarize(r->ms, r->videos, &st) == VS_OK ? st.median_ms : 0.0;
}

/* Splits --cache's comma list into at most MAX_POLICIES names (in `buf`), "none" left out; returns the count,
 * or -1 for too many, -2 for an unknown name (the usage error printed). */
static int split_policies(const char *list, char *buf, size_t size, const char *names[MAX_POLICIES]) {
    if (strlen(list) >= size) return -1;
    strcpy(buf, list);
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (vs_cli_cache_policy("eval", tok)) return -2;
        if (n == MAX_POLICIES) return -1;
        if (strcmp(tok, "none")) names[n++] = tok;
    }
    return n;
}

int vs_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *output = NULL, *device_name = NULL, *cache_list = "none", *precision_name = "bf16",
               *method = NULL, *attention_precision = "bf16";
    double cache_threshold = -1.0;
    int prompts = 32, seeds = 2, steps = 0, frames = 0, height = 0, width = 0;
    double cfg = -1.0;
    vs_cli_svg svg_opts = VS_CLI_SVG_UNSET;
    vs_cli_svg2 svg2_opts = {0};
    const vs_option options[] = {
        {"model", 'm', VS_OPT_STRING, &model, "pipeline folder (default: $VS_MODEL_DIR, else the embedded model)", "DIR"},
        {"prompts", 0, VS_OPT_INT, &prompts, "prompts of the fixed evaluation set", NULL},
        {"seeds", 0, VS_OPT_INT, &seeds, "seeds per prompt (0, 1, ...)", NULL},
        {"steps", 0, VS_OPT_INT, &steps, "denoising steps (0: the model's default)", NULL},
        {"cfg", 0, VS_OPT_DOUBLE, &cfg, "guidance scale (negative: the model's default)", NULL},
        {"frames", 0, VS_OPT_INT, &frames, "video frames (0: the model's default)", NULL},
        {"height", 0, VS_OPT_INT, &height, "video height (0: the model's default)", NULL},
        {"width", 0, VS_OPT_INT, &width, "video width (0: the model's default)", NULL},
        {"attention", 0, VS_OPT_STRING, &method,
         "the sparse method compared with dense: svg (the default) or svg2; with --precision or "
         "--attention-precision fp8, the attention both precision arms use (default: dense)",
         "MODE"},
        VS_CLI_SVG_OPTIONS(svg_opts),
        VS_CLI_SVG2_OPTIONS(svg2_opts),
        {"cache", 0, VS_OPT_STRING, &cache_list,
         "also run each of these step-cache policies (comma-separated: easycache, teacache, fora) in both arms "
         "(dense and the sparse method; with --precision fp8, BF16 and FP8), against the same arm without a cache",
         "LIST"},
        {"cache-threshold", 0, VS_OPT_DOUBLE, &cache_threshold, "the policies' threshold (negative: each one's default)",
         "X"},
        {"output", 'o', VS_OPT_STRING, &output, "write the results as JSON (bench report format)", "FILE"},
        {"device", 0, VS_OPT_STRING, &device_name, "the DiT's device: cuda (bf16; the default with a GPU) or cpu (f32)",
         "DEV"},
        {"precision", 0, VS_OPT_STRING, &precision_name,
         "fp8 (or fp8-ffn: only the feed-forward layers): compare the model with FP8 weights against the default "
         "precision (both dense) instead of SVG against dense (docs/fp8.md)", "P"},
        {"attention-precision", 0, VS_OPT_STRING, &attention_precision,
         "fp8: the second arm's attention in FP8 (with --precision fp8 too: FP8 weights and attention; alone: BF16 "
         "weights), against the default precision, both dense (CUDA, Hopper; docs/fp8.md)", "P"},
    };
    const vs_command_spec spec = {
        "eval", "[--model DIR] [--prompts N] [--seeds S] [-o results.json]",
        "Runs the fixed prompt set of the tiny model's grammar in two arms with the same seeds: dense and SVG "
        "(or --attention svg2) attention, or (--precision fp8) the default precision and FP8 weights, both "
        "dense (or both --attention). Checks every video "
        "against its prompt ('vidsparse check') and reports the prompt accuracy of both arms, PSNR and SSIM of the "
        "second against the first, and the end-to-end speedup; with --cache, the same for each step-cache policy "
        "in each arm against that arm without a cache, and the DiT passes it reused.",
        options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int rc = vs_args_cli(&spec, argc, argv, &args);
    if (rc >= 0) return rc;
    if (args.positional_count) return vs_cli_usage_error("eval", "unexpected argument '%s'", args.positional[0]);
    if (prompts < 1 || prompts > 100000 || seeds < 1 || seeds > 1000 || steps < 0 || steps > 10000 || frames < 0 ||
        frames > 10000 || height < 0 || height > 16384 || width < 0 || width > 16384)
        return vs_cli_usage_error("eval", "--prompts, --seeds, --steps, --frames, --height and --width must be positive");
    if (vs_cli_check_svg("eval", &svg_opts)) return 2;
    const int method_given = method != NULL;
    if (!method_given) method = "svg";
    if (vs_cli_attention_method("eval", method)) return 2;
    vs_attention_params asked = {.method = method, .density = svg_opts.density, .dense_steps = svg_opts.dense_steps,
                                 .dense_layers = svg_opts.dense_layers};
    if (vs_cli_svg2_apply("eval", &svg2_opts, &asked)) return 2;
    vs_precision precision;
    if (vs_cli_precision("eval", precision_name, &precision)) return 2;
    vs_attention_params fp8_attention = {0};
    if (vs_cli_attention_precision("eval", attention_precision, &fp8_attention)) return 2;
    /* fp8: the precision arms (the default against FP8 weights and / or FP8 attention) */
    const int fp8 = precision != VS_PRECISION_DEFAULT || fp8_attention.precision == VS_PRECISION_FP8;
    char policy_buf[256];
    const char *policy_names[MAX_POLICIES];
    const int policies = split_policies(cache_list, policy_buf, sizeof policy_buf, policy_names);
    if (policies == -2) return 2;
    if (policies < 0) return vs_cli_usage_error("eval", "--cache takes at most %d known policies, comma-separated", MAX_POLICIES);

    vs_device device;
    if (vs_cli_device("eval", device_name, &device)) return 2;
    char dir[4096];
    if (vs_t2v_locate(model, dir, sizeof dir) != VS_OK) return vs_cli_report("eval");
    vs_t2v *t2v = NULL, *t2v_fp8 = NULL;
    if (vs_t2v_load(dir, device, &t2v) != VS_OK) return vs_cli_report("eval");
    if (precision != VS_PRECISION_DEFAULT &&
        vs_t2v_open(&(vs_t2v_source){dir, NULL, 0, precision}, device, 0, &t2v_fp8) != VS_OK) {
        vs_t2v_free(t2v);
        return vs_cli_report("eval");
    }
    const vs_attention_params svg_attention = vs_t2v_resolve_attention(t2v, &asked);
    const vs_attention_params dense_attention = vs_t2v_request_default("").attention;
    /* The two arms: dense against SVG on one pipeline, or (fp8) the default precision against FP8 weights and
     * / or attention, both dense or both the --attention asked. The second arm is compared with the first;
     * each cached run with its arm's. */
    const vs_attention_params precision_base = method_given ? svg_attention : dense_attention;
    const char *precision_base_name = method_given ? method : "dense";
    vs_attention_params precision_fp8 = precision_base;
    precision_fp8.precision = fp8_attention.precision;
    const char *arm_name[2] = {fp8 ? "bf16" : "dense",
                               !fp8 ? method : precision == VS_PRECISION_FP8_FFN ? "fp8-ffn" : "fp8"};
    vs_t2v *arm_t2v[2] = {t2v, t2v_fp8 ? t2v_fp8 : t2v};
    const vs_attention_params arm_attention[2] = {fp8 ? precision_base : dense_attention,
                                                  fp8 ? precision_fp8 : svg_attention};
    const int n = prompts * seeds;
    mode_result arm[2], cached[2 * MAX_POLICIES]; /* policy k: [2k] in the first arm, [2k + 1] in the second */
    memset(arm, 0, sizeof arm);
    memset(cached, 0, sizeof cached);
    vs_cache_settings caching[MAX_POLICIES];
    int allocated = 1;
    for (int i = 0; i < 2; i++) allocated &= (arm[i].ms = malloc(sizeof(float) * (size_t)n)) != NULL;
    for (int k = 0; k < 2 * policies; k++) allocated &= (cached[k].ms = malloc(sizeof(float) * (size_t)n)) != NULL;
    vs_bench_report *rep = NULL;
    vs_status s = allocated ? VS_OK : vs_fail(VS_ERR_OOM, "out of memory");
    for (int k = 0; k < policies && s == VS_OK; k++)
        s = vs_t2v_resolve_cache(
            t2v, &(vs_cache_settings){.policy = policy_names[k], .threshold = cache_threshold}, &caching[k]);
    if (fp8)
        fprintf(stderr,
                "model %s: %d prompts x %d seeds, %s attention, the default precision against %s weights and %s "
                "attention\n",
                dir, prompts, seeds, precision_base_name, precision_name, attention_precision);
    else
        fprintf(stderr, "model %s: %d prompts x %d seeds, dense and %s (density %g, dense steps %g, dense layers %g)\n",
                dir, prompts, seeds, method, svg_attention.density, svg_attention.dense_steps, svg_attention.dense_layers);
    for (int p = 0; p < prompts && s == VS_OK; p++) {
        vs_scene scene;
        char prompt[160];
        vs_scene_eval_prompt(p, &scene);
        vs_scene_caption(&scene, prompt, sizeof prompt);
        for (int seed = 0; seed < seeds && s == VS_OK; seed++) {
            vs_t2v_request req = vs_t2v_request_default(prompt);
            req.seed = (uint64_t)seed, req.steps = steps, req.guidance = (float)cfg;
            req.frames = frames, req.height = height, req.width = width;
            vs_tensor video[2] = {{0}}, c = {0};
            const int exact[2] = {arm[0].exact, arm[1].exact};
            for (int i = 0; i < 2 && s == VS_OK; i++) {
                req.attention = arm_attention[i];
                s = run_one(arm_t2v[i], &req, &arm[i], &video[i]);
            }
            double psnr = 0, ssim = 0;
            if (s == VS_OK) s = compare(&arm[1], &video[1], &video[0], &psnr, &ssim);
            if (s == VS_OK)
                fprintf(stderr, "[%d/%d] \"%s\" seed %d: %s %s %.1f s, %s %s %.1f s, PSNR %.1f dB, SSIM %.3f\n",
                        p * seeds + seed + 1, n, prompt, seed, arm_name[0], arm[0].exact > exact[0] ? "ok" : "--",
                        arm[0].ms[arm[0].videos - 1] / 1e3, arm_name[1], arm[1].exact > exact[1] ? "ok" : "--",
                        arm[1].ms[arm[1].videos - 1] / 1e3, psnr, ssim);
            /* Each policy in each arm, against the same arm without a cache. */
            for (int k = 0; k < 2 * policies && s == VS_OK; k++) {
                req.attention = arm_attention[k % 2];
                req.cache = caching[k / 2];
                s = run_one(arm_t2v[k % 2], &req, &cached[k], &c);
                if (s == VS_OK) s = compare(&cached[k], &c, &video[k % 2], &psnr, &ssim);
                vs_tensor_free(&c);
            }
            vs_tensor_free(&video[0]);
            vs_tensor_free(&video[1]);
        }
    }
    if (s == VS_OK) {
        const double base_ms = median_ms(&arm[0]), other_ms = median_ms(&arm[1]), speedup = base_ms / other_ms;
        printf("prompt accuracy   %s %5.1f%%   %s %5.1f%%   (all attributes right)\n", arm_name[0],
               100.0 * arm[0].exact / n, arm_name[1], 100.0 * arm[1].exact / n);
        printf("attribute accuracy %s %5.1f%%   %s %5.1f%%\n", arm_name[0], 100.0 * arm[0].matched / arm[0].attributes,
               arm_name[1], 100.0 * arm[1].matched / arm[1].attributes);
        printf("%s vs %s      PSNR %.2f dB (min %.2f), SSIM %.4f\n", arm_name[1], arm_name[0], arm[1].psnr_sum / n,
               arm[1].psnr_min, arm[1].ssim_sum / n);
        if (arm[1].selected_calls)
            printf("%s selected %.1f%% of the attention map (mean over its sparse layer calls)\n", arm_name[1],
                   100.0 * arm[1].selected_density_sum / (double)arm[1].selected_calls);
        printf("time per video    %s %.2f s   %s %.2f s   speedup %.2fx (medians)\n", arm_name[0], base_ms / 1e3,
               arm_name[1], other_ms / 1e3, speedup);
        for (int k = 0; k < 2 * policies; k++) {
            const mode_result *r = &cached[k], *uncached = &arm[k % 2];
            printf("%-5s + %-9s prompt accuracy %5.1f%% (no cache %5.1f%%), PSNR vs no cache %.2f dB (min %.2f), "
                   "SSIM %.4f, passes reused %lld of %lld (%.0f%%), time %.2fx\n",
                   arm_name[k % 2], caching[k / 2].policy, 100.0 * r->exact / n, 100.0 * uncached->exact / n,
                   r->psnr_sum / n, r->psnr_min, r->ssim_sum / n, (long long)r->passes_reused,
                   (long long)(r->passes_run + r->passes_reused),
                   100.0 * (double)r->passes_reused / (double)(r->passes_run + r->passes_reused),
                   median_ms(uncached) / median_ms(r));
        }
        if (output) {
            s = vs_bench_report_create(&rep, "eval", argc, argv);
            if (s == VS_OK && device == VS_CPU) s = vs_bench_report_set_device(rep, "cpu");
            if (s == VS_OK) s = report_mode(rep, arm_name[0], &arm[0]);
            if (s == VS_OK) s = vs_bench_report_string(rep, "model", dir);
            if (s == VS_OK) s = report_mode(rep, arm_name[1], &arm[1]);
            if (s == VS_OK) s = vs_cli_report_precision(rep, precision_name, attention_precision);
            if (s == VS_OK && fp8) s = vs_bench_report_string(rep, "attention", precision_base_name);
            if (s == VS_OK && !fp8) s = vs_bench_report_number(rep, "density", svg_attention.density);
            if (s == VS_OK && !fp8) s = vs_bench_report_number(rep, "dense_steps", svg_attention.dense_steps);
            if (s == VS_OK && !fp8) s = vs_bench_report_number(rep, "dense_layers", svg_attention.dense_layers);
            if (s == VS_OK) s = vs_bench_report_number(rep, "psnr_db", arm[1].psnr_sum / n);
            if (s == VS_OK) s = vs_bench_report_number(rep, "psnr_min_db", arm[1].psnr_min);
            if (s == VS_OK) s = vs_bench_report_number(rep, "ssim", arm[1].ssim_sum / n);
            if (s == VS_OK) s = vs_bench_report_number(rep, "speedup", speedup);
            for (int k = 0; k < 2 * policies && s == VS_OK; k++) {
                const mode_result *r = &cached[k], *uncached = &arm[k % 2];
                char name[64];
                snprintf(name, sizeof name, "%s+%s", arm_name[k % 2], caching[k / 2].policy);
                s = report_mode(rep, name, r);
                if (s == VS_OK) s = vs_bench_report_number(rep, "cache_threshold", caching[k / 2].threshold);
                if (s == VS_OK) s = vs_bench_report_number(rep, "psnr_db", r->psnr_sum / n);
                if (s == VS_OK) s = vs_bench_report_number(rep, "psnr_min_db", r->psnr_min);
                if (s == VS_OK) s = vs_bench_report_number(rep, "ssim", r->ssim_sum / n);
                if (s == VS_OK)
                    s = vs_bench_report_number(rep, "passes_fraction_run",
                                               (double)r->passes_run / (double)(r->passes_run + r->passes_reused));
                if (s == VS_OK)
                    s = vs_bench_report_number(rep, "prompt_accuracy_change", (double)(r->exact - uncached->exact) / n);
                if (s == VS_OK) s = vs_bench_report_number(rep, "speedup", median_ms(uncached) / median_ms(r));
            }
            if (s == VS_OK) s = vs_bench_json(rep, output);
            if (s == VS_OK) fprintf(stderr, "wrote %s\n", output);
        }
    }
    rc = s == VS_OK ? 0 : vs_cli_report("eval");
    vs_bench_report_free(rep);
    for (int i = 0; i < 2; i++) free(arm[i].ms);
    for (int k = 0; k < 2 * policies; k++) free(cached[k].ms);
    vs_t2v_free(t2v);
    vs_t2v_free(t2v_fp8);
    return rc;
}
