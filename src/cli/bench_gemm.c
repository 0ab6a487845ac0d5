/* vidsparse bench gemm: the linear layers of a Wan DiT at their real shapes,
 * BF16 (vs_op_linear) against FP8 (vs_op_linear_fp8 on pre-quantised
 * activations, and with the per-token quantisation of the activations
 * included), in TFLOP/s; seeded random operands, weights quantised once. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "core/bench.h"
#include "core/device_info.h"
#include "ops/ops.h"

typedef struct {
    const char *name;
    int64_t in, out;
    int gelu;
} gemm_shape;

/* Wan 2.1's block linears: attention projections (q, k, v, o), the FFN's two layers. */
static const struct {
    const char *config;
    int64_t tokens; /* video tokens at the config's reference resolution, 81 frames */
    gemm_shape shapes[3];
} configs[] = {
    {"wan14b", 75600, {{"attn_proj", 5120, 5120, 0}, {"ffn_in", 5120, 13824, 1}, {"ffn_out", 13824, 5120, 0}}},
    {"wan1.3b", 32760, {{"attn_proj", 1536, 1536, 0}, {"ffn_in", 1536, 8960, 1}, {"ffn_out", 8960, 1536, 0}}},
};

typedef struct {
    vs_tensor x, w, bias, y, xq, xs, wq, ws;
    int gelu, mode; /* mode 0: BF16, 1: FP8 GEMM alone, 2: FP8 with the activations' quantisation */
    vs_status status;
} gemm_run;

static void run_once(void *ctx) {
    gemm_run *g = ctx;
    const vs_epilogue ep = g->gelu ? VS_EPILOGUE_GELU_TANH : VS_EPILOGUE_NONE;
    if (g->status) return;
    if (g->mode == 0) {
        g->status = vs_op_linear(&g->y, &g->x, &g->w, &g->bias, ep);
        return;
    }
    if (g->mode == 2) g->status = vs_op_quantize_fp8(&g->xq, &g->xs, &g->x);
    if (!g->status) g->status = vs_op_linear_fp8(&g->y, &g->xq, &g->xs, &g->wq, &g->ws, &g->bias, ep);
}

static void free_run(gemm_run *g) {
    vs_tensor *all[] = {&g->x, &g->w, &g->bias, &g->y, &g->xq, &g->xs, &g->wq, &g->ws};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vs_tensor_free(all[i]);
}

static vs_status make_run(gemm_run *g, int64_t rows, const gemm_shape *sh) {
    memset(g, 0, sizeof *g);
    g->gelu = sh->gelu;
    VS_TRY(vs_tensor_alloc(&g->x, VS_BF16, VS_CUDA, 2, (int64_t[]){rows, sh->in}));
    VS_TRY(vs_tensor_alloc(&g->w, VS_BF16, VS_CUDA, 2, (int64_t[]){sh->out, sh->in}));
    VS_TRY(vs_tensor_alloc(&g->bias, VS_BF16, VS_CUDA, 1, (int64_t[]){sh->out}));
    VS_TRY(vs_tensor_alloc(&g->y, VS_BF16, VS_CUDA, 2, (int64_t[]){rows, sh->out}));
    VS_TRY(vs_tensor_alloc(&g->xq, VS_F8E4M3, VS_CUDA, 2, (int64_t[]){rows, sh->in}));
    VS_TRY(vs_tensor_alloc(&g->xs, VS_F32, VS_CUDA, 1, (int64_t[]){rows}));
    VS_TRY(vs_tensor_alloc(&g->wq, VS_F8E4M3, VS_CUDA, 2, (int64_t[]){sh->out, sh->in}));
    VS_TRY(vs_tensor_alloc(&g->ws, VS_F32, VS_CUDA, 1, (int64_t[]){sh->out}));
    VS_TRY(vs_op_fill_uniform(&g->x, 1, -1.0f, 1.0f));
    const float bound = 1.0f / sqrtf((float)sh->in);
    VS_TRY(vs_op_fill_uniform(&g->w, 2, -bound, bound));
    VS_TRY(vs_op_fill_uniform(&g->bias, 3, -bound, bound));
    VS_TRY(vs_op_quantize_fp8(&g->wq, &g->ws, &g->w));
    VS_TRY(vs_op_quantize_fp8(&g->xq, &g->xs, &g->x));
    return vs_op_sync(VS_CUDA);
}

int vs_cmd_bench_gemm(int argc, char **argv) {
    const char *config = "wan14b", *out_path = NULL;
    int rows = 0, repeats = 20, warmup = 3;
    const vs_option options[] = {
        {"config", 0, VS_OPT_STRING, &config, "the layer shapes: wan14b or wan1.3b", "NAME"},
        {"rows", 0, VS_OPT_INT, &rows, "tokens (0: the config's 720p / 480p 81-frame count)", NULL},
        {"warmup", 0, VS_OPT_INT, &warmup, "untimed calls first", NULL},
        {"repeats", 'r', VS_OPT_INT, &repeats, "timed calls (the median is reported)", NULL},
        {"output", 'o', VS_OPT_STRING, &out_path, "write the results as JSON here", "FILE"},
    };
    const vs_command_spec spec = {"bench gemm", "[options]",
                                  "Times a Wan DiT's linear layers at their real shapes on CUDA: BF16 against FP8 "
                                  "(E4M3, per-token and per-channel scales), with and without the activations' "
                                  "quantisation.",
                                  options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int r = vs_args_cli(&spec, argc, argv, &args);
    if (r >= 0) return r;
    int c = -1;
    for (int i = 0; i < (int)(sizeof configs / sizeof configs[0]); i++)
        if (!strcmp(config, configs[i].config)) c = i;
    if (c < 0) return vs_cli_usage_error(spec.command, "--config '%s' is neither wan14b nor wan1.3b", config);
    if (rows < 0 || repeats < 1 || warmup < 0)
        return vs_cli_usage_error(spec.command, "need rows >= 0, repeats >= 1 and warmup >= 0");
    if (vs_cuda_device_count() < 1) {
        fprintf(stderr, "bench gemm: needs a CUDA device\n");
        return 1;
    }
    const int64_t tokens = rows ? rows : configs[c].tokens;
    const int fast = vs_fp8_fast_accumulation();
    printf("FP8 GEMMs with%s fast accumulation (VS_FP8_FAST_ACCUM=%s)\n", fast ? "" : "out", fast ? "1" : "0");
    static const char *const modes[3] = {"bf16", "fp8", "fp8_with_quantize"};
    vs_bench_report *report = NULL;
    float *ms = calloc((size_t)repeats, sizeof(float));
    vs_status s = ms ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory");
    if (!s && out_path) s = vs_bench_report_create(&report, "gemm", argc, argv);
    for (int i = 0; !s && i < 3; i++) {
        const gemm_shape *sh = &configs[c].shapes[i];
        gemm_run g;
        s = make_run(&g, tokens, sh);
        double bf16_ms = 0;
        for (int mode = 0; !s && mode < 3; mode++) {
            g.mode = mode;
            s = vs_cuda_time(run_once, &g, warmup, repeats, ms);
            if (!s) s = g.status;
            vs_bench_stats st;
            if (!s) s = vs_bench_summarize(ms, repeats, &st);
            if (s) break;
            const double tflops = 2.0 * (double)tokens * (double)sh->in * (double)sh->out / st.median_ms / 1e9;
            if (mode == 0) bf16_ms = st.median_ms;
            printf("%s %-9s [%lld x %lld] -> %lld%s %-18s %8.3f ms  %7.1f TFLOP/s  x%.2f vs bf16\n", configs[c].config,
                   sh->name, (long long)tokens, (long long)sh->in, (long long)sh->out, sh->gelu ? " gelu" : "     ",
                   modes[mode], st.median_ms, tflops, bf16_ms / st.median_ms);
            if (report) {
                char name[96];
                snprintf(name, sizeof name, "%s %s %s", configs[c].config, sh->name, modes[mode]);
                s = vs_bench_report_add(report, name, &st);
                if (!s) s = vs_bench_report_string(report, "precision", mode ? "fp8" : "bf16");
                if (!s) s = vs_bench_report_number(report, "rows", (double)tokens);
                if (!s) s = vs_bench_report_number(report, "in", (double)sh->in);
                if (!s) s = vs_bench_report_number(report, "out", (double)sh->out);
                if (!s) s = vs_bench_report_number(report, "tflops", tflops);
                if (!s) s = vs_bench_report_number(report, "fp8_fast_accum", fast);
            }
        }
        free_run(&g);
    }
    if (!s && report) s = vs_bench_json(report, out_path);
    vs_bench_report_free(report);
    free(ms);
    return s ? vs_cli_report("bench gemm") : 0;
}
