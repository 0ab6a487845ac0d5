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
} mode_result;

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
    return VS_OK;
}

/* Median time per video: robust to the first video's one-time set-up (cuDNN plans, allocations). */
static double median_ms(const mode_result *r) {
    vs_bench_stats st;
    return vs_bench_summarize(r->ms, r->videos, &st) == VS_OK ? st.median_ms : 0.0;
}

int vs_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *output = NULL, *device_name = NULL, *precision_name = "bf16";
    int prompts = 32, seeds = 2, steps = 0, frames = 0, height = 0, width = 0;
    double cfg = -1.0;
    vs_cli_svg svg_opts = VS_CLI_SVG_UNSET;
    const vs_option options[] = {
        {"model", 'm', VS_OPT_STRING, &model, "pipeline folder (default: $VS_MODEL_DIR, else the embedded model)", "DIR"},
        {"prompts", 0, VS_OPT_INT, &prompts, "prompts of the fixed evaluation set", NULL},
        {"seeds", 0, VS_OPT_INT, &seeds, "seeds per prompt (0, 1, ...)", NULL},
        {"steps", 0, VS_OPT_INT, &steps, "denoising steps (0: the model's default)", NULL},
        {"cfg", 0, VS_OPT_DOUBLE, &cfg, "guidance scale (negative: the model's default)", NULL},
        {"frames", 0, VS_OPT_INT, &frames, "video frames (0: the model's default)", NULL},
        {"height", 0, VS_OPT_INT, &height, "video height (0: the model's default)", NULL},
        {"width", 0, VS_OPT_INT, &width, "video width (0: the model's default)", NULL},
        VS_CLI_SVG_OPTIONS(svg_opts),
        {"output", 'o', VS_OPT_STRING, &output, "write the results as JSON (bench report format)", "FILE"},
        {"device", 0, VS_OPT_STRING, &device_name, "the DiT's device: cuda (bf16; the default with a GPU) or cpu (f32)",
         "DEV"},
        {"precision", 0, VS_OPT_STRING, &precision_name,
         "fp8: compare the model with FP8 weights against the default precision (both dense) instead of SVG "
         "against dense (docs/fp8.md)", "P"},
    };
    const vs_command_spec spec = {
        "eval", "[--model DIR] [--prompts N] [--seeds S] [-o results.json]",
        "Runs the fixed prompt set of the tiny model's grammar with dense and with SVG attention (same seeds), "
        "checks every video against its prompt ('vidsparse check') and reports the prompt accuracy of both, "
        "PSNR and SSIM of SVG against dense, and the end-to-end speedup.",
        options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int rc = vs_args_cli(&spec, argc, argv, &args);
    if (rc >= 0) return rc;
    if (args.positional_count) return vs_cli_usage_error("eval", "unexpected argument '%s'", args.positional[0]);
    if (prompts < 1 || prompts > 100000 || seeds < 1 || seeds > 1000 || steps < 0 || steps > 10000 || frames < 0 ||
        frames > 10000 || height < 0 || height > 16384 || width < 0 || width > 16384)
        return vs_cli_usage_error("eval", "--prompts, --seeds, --steps, --frames, --height and --width must be positive");
    if (vs_cli_check_svg("eval", &svg_opts)) return 2;
    vs_precision precision;
    if (vs_cli_precision("eval", precision_name, &precision)) return 2;
    const int fp8 = precision == VS_PRECISION_FP8;
    /* The two arms: dense against SVG, or (--precision fp8) BF16 against FP8 weights, both dense. */
    const char *base_name = fp8 ? "bf16" : "dense", *other_name = fp8 ? "fp8" : "svg";

    vs_device device;
    if (vs_cli_device("eval", device_name, &device)) return 2;
    char dir[4096];
    if (vs_t2v_locate(model, dir, sizeof dir) != VS_OK) return vs_cli_report("eval");
    vs_t2v *t2v = NULL, *t2v_fp8 = NULL;
    if (vs_t2v_load(dir, device, &t2v) != VS_OK) return vs_cli_report("eval");
    if (fp8 && (vs_t2v_load(dir, device, &t2v_fp8) != VS_OK || vs_t2v_set_precision(t2v_fp8, precision) != VS_OK)) {
        vs_t2v_free(t2v);
        vs_t2v_free(t2v_fp8);
        return vs_cli_report("eval");
    }
    vs_t2v *other_t2v = fp8 ? t2v_fp8 : t2v;
    const int n = prompts * seeds;
    mode_result dense = {0}, svg = {0};
    dense.ms = malloc(sizeof(float) * (size_t)n), svg.ms = malloc(sizeof(float) * (size_t)n);
    double psnr_sum = 0, psnr_min = INFINITY, ssim_sum = 0;
    vs_bench_report *rep = NULL;
    vs_status s = dense.ms && svg.ms ? VS_OK : vs_fail(VS_ERR_OOM, "out of memory");
    const vs_attention_params asked = {"svg", svg_opts.density, svg_opts.dense_steps, svg_opts.dense_layers};
    const vs_attention_params svg_attention = vs_t2v_resolve_attention(t2v, &asked);
    if (fp8)
        fprintf(stderr, "model %s: %d prompts x %d seeds, dense attention, default precision and FP8 weights\n", dir,
                prompts, seeds);
    else
        fprintf(stderr, "model %s: %d prompts x %d seeds, dense and SVG (density %g, dense steps %g, dense layers %g)\n",
                dir, prompts, seeds, svg_attention.density, svg_attention.dense_steps, svg_attention.dense_layers);
    for (int p = 0; p < prompts && s == VS_OK; p++) {
        vs_scene scene;
        char prompt[160];
        vs_scene_eval_prompt(p, &scene);
        vs_scene_caption(&scene, prompt, sizeof prompt);
        for (int seed = 0; seed < seeds && s == VS_OK; seed++) {
            vs_t2v_request req = vs_t2v_request_default(prompt);
            req.seed = (uint64_t)seed, req.steps = steps, req.guidance = (float)cfg;
            req.frames = frames, req.height = height, req.width = width;
            vs_tensor a = {0}, b = {0};
            const int exact_d = dense.exact, exact_s = svg.exact;
            s = run_one(t2v, &req, &dense, &a);
            if (!fp8) req.attention = svg_attention;
            if (s == VS_OK) s = run_one(other_t2v, &req, &svg, &b);
            double psnr = 0, ssim = 0;
            if (s == VS_OK) s = vs_video_psnr(&b, &a, &psnr);
            if (s == VS_OK) s = vs_video_ssim(&b, &a, &ssim);
            if (s == VS_OK) {
                psnr = psnr < PSNR_CAP ? psnr : PSNR_CAP;
                psnr_sum += psnr, ssim_sum += ssim;
                if (psnr < psnr_min) psnr_min = psnr;
                fprintf(stderr, "[%d/%d] \"%s\" seed %d: %s %s %.1f s, %s %s %.1f s, PSNR %.1f dB, SSIM %.3f\n",
                        p * seeds + seed + 1, n, prompt, seed, base_name, dense.exact > exact_d ? "ok" : "--",
                        dense.ms[dense.videos - 1] / 1e3, other_name, svg.exact > exact_s ? "ok" : "--",
                        svg.ms[svg.videos - 1] / 1e3, psnr, ssim);
            }
            vs_tensor_free(&a);
            vs_tensor_free(&b);
        }
    }
    if (s == VS_OK) {
        const double dense_ms = median_ms(&dense), svg_ms = median_ms(&svg), speedup = dense_ms / svg_ms;
        printf("prompt accuracy   %s %5.1f%%   %s %5.1f%%   (all attributes right)\n", base_name,
               100.0 * dense.exact / n, other_name, 100.0 * svg.exact / n);
        printf("attribute accuracy %s %5.1f%%   %s %5.1f%%\n", base_name, 100.0 * dense.matched / dense.attributes,
               other_name, 100.0 * svg.matched / svg.attributes);
        printf("%s vs %s      PSNR %.2f dB (min %.2f), SSIM %.4f\n", other_name, base_name, psnr_sum / n, psnr_min,
               ssim_sum / n);
        printf("time per video    %s %.2f s   %s %.2f s   speedup %.2fx (medians)\n", base_name, dense_ms / 1e3,
               other_name, svg_ms / 1e3, speedup);
        if (output) {
            s = vs_bench_report_create(&rep, "eval", argc, argv);
            if (s == VS_OK && device == VS_CPU) s = vs_bench_report_set_device(rep, "cpu");
            if (s == VS_OK) s = report_mode(rep, base_name, &dense);
            if (s == VS_OK) s = vs_bench_report_string(rep, "model", dir);
            if (s == VS_OK) s = report_mode(rep, other_name, &svg);
            if (s == VS_OK) s = vs_bench_report_string(rep, "precision", precision_name);
            if (s == VS_OK && !fp8) s = vs_bench_report_number(rep, "density", svg_attention.density);
            if (s == VS_OK && !fp8) s = vs_bench_report_number(rep, "dense_steps", svg_attention.dense_steps);
            if (s == VS_OK && !fp8) s = vs_bench_report_number(rep, "dense_layers", svg_attention.dense_layers);
            if (s == VS_OK) s = vs_bench_report_number(rep, "psnr_db", psnr_sum / n);
            if (s == VS_OK) s = vs_bench_report_number(rep, "psnr_min_db", psnr_min);
            if (s == VS_OK) s = vs_bench_report_number(rep, "ssim", ssim_sum / n);
            if (s == VS_OK) s = vs_bench_report_number(rep, "speedup", speedup);
            if (s == VS_OK) s = vs_bench_json(rep, output);
            if (s == VS_OK) fprintf(stderr, "wrote %s\n", output);
        }
    }
    rc = s == VS_OK ? 0 : vs_cli_report("eval");
    vs_bench_report_free(rep);
    free(dense.ms);
    free(svg.ms);
    vs_t2v_free(t2v);
    vs_t2v_free(t2v_fp8);
    return rc;
}
