/* vidsparse bench attention: times dense attention, SVG profiling, the
 * block-sparse kernel with all heads spatial and with the profiled mix of
 * spatial and temporal heads, on random inputs of a reference shape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "core/bench.h"
#include "core/devmem.h"
#include "core/device_info.h"
#include "core/dtype.h"
#include "ops/attention.h"
#include "sparse/sparse_attention.h"
#include "sparse/svg.h"

typedef struct {
    const char *name;
    int frames, tokens_per_frame, text_tokens, heads, head_dim;
} shape_preset;

static const shape_preset presets[] = {
    {"wan1.3b-480p", 21, 1560, 0, 12, 128},
    {"wan14b-720p", 21, 3600, 0, 40, 128},
    {"hunyuan-720p", 33, 3600, 256, 24, 128},
    {"cogvideox1.5-768p", 11, 4080, 226, 48, 64},
};

/* A preset name or "F,P,H,D[,C]". */
static int parse_shape(const char *text, shape_preset *out) {
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(text, presets[i].name)) {
            *out = presets[i];
            return 1;
        }
    shape_preset s = {text, 0, 0, 0, 0, 0};
    int n = sscanf(text, "%d,%d,%d,%d,%d", &s.frames, &s.tokens_per_frame, &s.heads, &s.head_dim, &s.text_tokens);
    if (n < 4 || s.frames < 1 || s.tokens_per_frame < 1 || s.heads < 1 || s.text_tokens < 0) return 0;
    *out = s;
    return 1;
}

/* Random values in [-2, 2) in the tensor's dtype, generated on the host. */
static vs_status fill_random(vs_tensor *t, unsigned long long seed) {
    int64_t n = vs_tensor_numel(t);
    size_t bytes = (size_t)n * vs_dtype_size(t->dtype);
    void *host = t->device == VS_CPU ? t->data : malloc(bytes);
    if (!host) return vs_fail(VS_ERR_OOM, "out of host memory for random inputs");
    unsigned long long x = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (int64_t i = 0; i < n; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        float f = (float)((x * 2685821657736338717ULL) >> 40) / 16777216.0f * 4.0f - 2.0f;
        if (t->dtype == VS_F32) ((float *)host)[i] = f;
        else ((uint16_t *)host)[i] = vs_f32_to_bf16(f);
    }
    vs_status s = VS_OK;
    if (t->device != VS_CPU) {
        s = vs_device_memcpy_h2d(t->data, host, bytes);
        free(host);
    }
    return s;
}

/* The attention has two layers: layer 0 runs SVG and is profiled; layer 1 is never profiled, so its sparse
 * calls treat every head as spatial. */
typedef struct {
    vs_sparse_attention *attn;
    int part; /* 0 dense, 1 full SVG, 2 profiling, 3 sparse all spatial, 4 sparse profiled layout */
    vs_tensor *q, *k, *v, *o;
    vs_status status;
} timed_call;

static void run_part(void *ctx) {
    timed_call *c = ctx;
    if (c->status) return;
    switch (c->part) {
    case 0: c->status = vs_sparse_attention_dense(c->attn, c->q, c->k, c->v, c->o, NULL); break;
    case 1: c->status = vs_sparse_attention_run(c->attn, 0, 0, 1, c->q, c->k, c->v, c->o, NULL); break;
    case 2: c->status = vs_sparse_attention_plan(c->attn, 0, c->q, c->k, c->v, NULL); break;
    case 3: c->status = vs_sparse_attention_attend(c->attn, 1, c->q, c->k, c->v, c->o, NULL); break;
    default: c->status = vs_sparse_attention_attend(c->attn, 0, c->q, c->k, c->v, c->o, NULL); break;
    }
}

/* The relative L2 distance of FP8 dense attention (attn's) from BF16 dense attention (reference's) on the same
 * inputs: the accuracy beside the speed. */
static vs_status fp8_distance(vs_sparse_attention *attn, vs_sparse_attention *reference, vs_tensor *t, double *out) {
    const int64_t n = vs_tensor_numel(&t[3]);
    float *got = malloc(sizeof(float) * (size_t)n), *want = malloc(sizeof(float) * (size_t)n);
    uint16_t *raw = malloc(sizeof(uint16_t) * (size_t)n);
    vs_status s = got && want && raw ? VS_OK : vs_fail(VS_ERR_OOM, "out of host memory");
    float *dst[2] = {got, want};
    vs_sparse_attention *arms[2] = {attn, reference};
    for (int arm = 0; arm < 2 && !s; arm++) {
        s = vs_sparse_attention_dense(arms[arm], &t[0], &t[1], &t[2], &t[3], NULL);
        if (!s) s = vs_device_memcpy_d2h(raw, t[3].data, sizeof(uint16_t) * (size_t)n);
        for (int64_t i = 0; !s && i < n; i++) dst[arm][i] = vs_bf16_to_f32(raw[i]);
    }
    double diff = 0, norm = 0;
    for (int64_t i = 0; !s && i < n; i++)
        diff += ((double)got[i] - want[i]) * ((double)got[i] - want[i]), norm += (double)want[i] * want[i];
    if (!s) *out = norm > 0 ? sqrt(diff / norm) : 0;
    free(got), free(want), free(raw);
    return s;
}

/* The median and spread of `repeats` timed calls after `warmup` untimed ones. */
static vs_status time_part(vs_device device, timed_call *call, int warmup, int repeats, float *samples,
                           vs_bench_stats *stats) {
    vs_status s = device == VS_CUDA ? vs_cuda_time(run_part, call, warmup, repeats, samples)
                                    : vs_bench_time_host(run_part, call, warmup, repeats, samples);
    if (!s) s = call->status;
    if (!s) s = vs_bench_summarize(samples, repeats, stats);
    return s;
}

vs_status vs_cli_report_precision(vs_bench_report *report, const char *precision,
                                  const char *attention_precision) {
    VS_TRY(vs_bench_report_string(report, "precision", precision));
    VS_TRY(vs_bench_report_string(report, "attention_precision", attention_precision));
    if (!strncmp(precision, "fp8", 3))
        VS_TRY(vs_bench_report_number(report, "fp8_fast_accum", vs_fp8_fast_accumulation()));
    return VS_OK;
}

static int bench_attention(int argc, char **argv) {
    const char *shape_text = "wan1.3b-480p", *device_name = VS_HAVE_CUDA ? "cuda" : "cpu", *out_path = NULL;
    const char *attention_precision = "bf16";
    double density = 0.15, band = 0;
    int batch = 1, warmup = 3, repeats = 10, with_svg2 = 0;
    vs_cli_svg2 svg2 = {0};
    const vs_option options[] = {
        {"shape", 0, VS_OPT_STRING, &shape_text, "wan1.3b-480p | wan14b-720p | hunyuan-720p | cogvideox1.5-768p | F,P,H,D[,C]", "SHAPE"},
        {"density", 0, VS_OPT_DOUBLE, &density, "target fraction of the attention map kept by the SVG mask", NULL},
        {"band", 0, VS_OPT_DOUBLE, &band, "band half-width in frames (overrides --density when > 0)", "M"},
        {"batch", 'b', VS_OPT_INT, &batch, "batch entries (2 for classifier-free guidance)", NULL},
        {"device", 0, VS_OPT_STRING, &device_name, "cuda (bf16) or cpu (f32, small shapes)", NULL},
        {"warmup", 0, VS_OPT_INT, &warmup, "untimed runs before timing", NULL},
        {"repeats", 'r', VS_OPT_INT, &repeats, "timed runs (the median is reported)", NULL},
        {"output", 'o', VS_OPT_STRING, &out_path, "write the results as JSON here", "FILE"},
        {"svg2", 0, VS_OPT_FLAG, &with_svg2, "also time SVG2 (k-means and selection, attention; docs/svg2.md)", NULL},
        VS_CLI_SVG2_OPTIONS(svg2),
        VS_CLI_ATTENTION_PRECISION_OPTION(attention_precision),
    };
    const vs_command_spec spec = {"bench attention", "[options]",
                                  "Times dense attention against SVG (profiling, sparse kernel, layout) on random "
                                  "inputs. Reports milliseconds (median), TFLOP/s on computed blocks and density.",
                                  options, (int)(sizeof options / sizeof options[0])};
    vs_args args;
    int r = vs_args_cli(&spec, argc, argv, &args);
    if (r >= 0) return r;
    shape_preset shape;
    if (!parse_shape(shape_text, &shape))
        return vs_cli_usage_error("bench attention", "--shape '%s' is neither a preset nor F,P,H,D[,C]", shape_text);
    vs_device device;
    if (vs_cli_device("bench attention", device_name, &device)) return 2;
    if (batch < 1 || repeats < 1 || warmup < 0 || density <= 0 || density > 1)
        return vs_cli_usage_error("bench attention", "need batch >= 1, repeats >= 1, warmup >= 0, 0 < density <= 1");

    const int N = shape.frames * shape.tokens_per_frame + shape.text_tokens;
    vs_svg_config cfg = vs_svg_config_default(shape.frames, shape.tokens_per_frame, shape.text_tokens, density);
    cfg.band_frames = band;
    vs_dtype dtype = device == VS_CUDA ? VS_BF16 : VS_F32;
    int64_t dims[4] = {batch, N, shape.heads, shape.head_dim};
    vs_tensor t[4] = {0};
    vs_sparse_attention *attn = NULL;
    const vs_sparse_setup setup = {device, batch, shape.heads, N, shape.head_dim, 1, cfg, {0}};
    /* no warm-up */
    vs_attention_params params = {.method = "svg", .density = density, .dense_steps = 0, .dense_layers = 0};
    if (vs_cli_attention_precision("bench attention", attention_precision, &params)) return 2;
    const int fp8 = params.precision == VS_PRECISION_FP8;
    vs_attention_params bf16_params = params;
    bf16_params.precision = VS_PRECISION_DEFAULT;
    double fp8_rel_l2 = -1;
    vs_attention_params params2 = params;
    params2.method = "svg2";
    if (vs_cli_svg2_apply("bench attention", &svg2, &params2)) return 2;
    if (with_svg2 && warmup < 1) return vs_cli_usage_error("bench attention", "--svg2 needs --warmup >= 1 (the first "
                                                           "call clusters from scratch)");
    const char *dense_backend = NULL, *sparse_backend = NULL;
    vs_status s = vs_attention_dense_backend(device, &dense_backend);
    if (!s) s = vs_attention_sparse_backend(device, &sparse_backend);
    if (!s) s = vs_sparse_attention_create(&attn, &setup, &params, 2);
    for (int i = 0; i < 4 && !s; i++) s = vs_tensor_alloc(&t[i], dtype, device, 4, dims);
    for (int i = 0; i < 3 && !s; i++) s = fill_random(&t[i], 1000 + (unsigned long long)i);

    static const char *part_names[5] = {"dense", "svg", "svg_profiling", "sparse_spatial", "sparse_profiled_layout"};
    float *samples = calloc((size_t)repeats, sizeof(float));
    vs_bench_stats stats[5] = {0};
    if (!s && !samples) s = vs_fail(VS_ERR_OOM, "out of host memory");
    for (int p = 0; p < 5 && !s; p++) {
        timed_call call = {attn, p, &t[0], &t[1], &t[2], &t[3], VS_OK};
        s = time_part(device, &call, warmup, repeats, samples, &stats[p]);
    }
    /* SVG2 on its layer 0 (the warm-up clusters it from scratch, the timed calls warm-start): the whole call,
     * its plan (k-means on q and k, the selection) and its attention (permutation fused). */
    static const char *svg2_names[3] = {"svg2", "svg2_kmeans_selection", "svg2_attention"};
    static const int svg2_parts[3] = {1, 2, 4};
    vs_sparse_attention *attn2 = NULL;
    vs_bench_stats stats2[3] = {0};
    vs_sparse_stats selected = {1.0, 0, 0, 0};
    if (!s && with_svg2) s = vs_sparse_attention_create(&attn2, &setup, &params2, 2);
    for (int p = 0; p < 3 && !s && with_svg2; p++) {
        timed_call call = {attn2, svg2_parts[p], &t[0], &t[1], &t[2], &t[3], VS_OK};
        s = time_part(device, &call, warmup, repeats, samples, &stats2[p]);
    }
    if (!s && with_svg2) s = vs_sparse_attention_take_stats(attn2, &selected);
    int spatial = 0, heads_total = batch * shape.heads;
    uint8_t *classes = malloc((size_t)heads_total);
    if (!s && !classes) s = vs_fail(VS_ERR_OOM, "out of host memory");
    if (!s) s = vs_sparse_attention_head_classes(attn, 0, classes, NULL, NULL);
    vs_sparse_attention *bf16_attn = NULL;
    if (!s && fp8) s = vs_sparse_attention_create(&bf16_attn, &setup, &bf16_params, 1);
    if (!s && fp8) s = fp8_distance(attn, bf16_attn, t, &fp8_rel_l2);
    vs_sparse_attention_free(bf16_attn);
    for (int i = 0; !s && i < heads_total; i++) spatial += classes[i] == 0;

    int code = 0;
    if (s) {
        code = vs_cli_report("bench attention");
    } else {
        const double dens = vs_sparse_attention_density(attn);
        const double dense_flop = 4.0 * batch * shape.heads * (double)N * N * shape.head_dim;
        printf("shape %s: batch %d, %d frames x %d tokens + %d text = %d tokens, %d heads x %d, %s on %s\n",
               shape.name, batch, shape.frames, shape.tokens_per_frame, shape.text_tokens, N, shape.heads,
               shape.head_dim, vs_dtype_name(dtype), device == VS_CUDA ? vs_cuda_device_name() : "cpu");
        printf("dense attention: %s (VS_DENSE_ATTN=cudnn|ours), sparse: %s (VS_SPARSE_ATTN=cudnn|ours)\n",
               fp8 ? "cudnn fp8" : dense_backend, sparse_backend);
        if (fp8)
            printf("attention precision fp8: dense and SVG's band rows in E4M3 (per-head scales, K "
                   "smoothed), relative L2 from BF16 dense %.4g; SVG's profiling in BF16\n",
                   fp8_rel_l2);
        printf("SVG mask: band %lld tokens, density %.3f; profiled heads: %d spatial, %d temporal\n",
               (long long)vs_svg_band_tokens(&cfg), dens, spatial, heads_total - spatial);
        printf("%-24s %10s %10s\n", "part", "median ms", "TFLOP/s");
        for (int p = 0; p < 5; p++) {
            double flop = p == 0 ? dense_flop : p == 2 ? 0 : dense_flop * dens;
            printf("%-24s %10.3f %10.1f\n", part_names[p], stats[p].median_ms,
                   flop > 0 ? flop / stats[p].median_ms / 1e9 : 0.0);
        }
        printf("sparse/dense %.3f, profiling %.1f%% and layout %.1f%% of the sparse kernel time\n",
               stats[1].median_ms / stats[0].median_ms, 100 * stats[2].median_ms / stats[3].median_ms,
               100 * (stats[4].median_ms / stats[3].median_ms - 1));
        if (with_svg2) {
            for (int p = 0; p < 3; p++)
                printf("%-24s %10.3f %10.1f\n", svg2_names[p], stats2[p].median_ms,
                       p == 1 ? 0.0 : dense_flop * selected.density / stats2[p].median_ms / 1e9);
            printf("SVG2 density %.3f; svg2/svg %.3f; k-means and selection %.1f%% of SVG2\n", selected.density,
                   stats2[0].median_ms / stats[1].median_ms, 100 * stats2[1].median_ms / stats2[0].median_ms);
        }
        if (out_path) {
            vs_bench_report *report = NULL;
            s = vs_bench_report_create(&report, "attention", argc, argv);
            if (!s) s = vs_bench_report_set_device(report, device == VS_CUDA ? vs_cuda_device_name() : "cpu");
            for (int p = 0; p < 5 && !s; p++) {
                s = vs_bench_report_add(report, part_names[p], &stats[p]);
                if (!s) s = vs_bench_report_string(report, "shape", shape.name);
                if (!s) s = vs_bench_report_string(report, "dense_attention", fp8 ? "cudnn fp8" : dense_backend);
                if (!s) s = vs_bench_report_string(report, "attention_precision", attention_precision);
                if (!s && p == 0 && fp8) s = vs_bench_report_number(report, "rel_l2_vs_bf16", fp8_rel_l2);
                if (!s) s = vs_bench_report_string(report, "sparse_attention", sparse_backend);
                if (!s && device == VS_CUDA) s = vs_bench_report_number(report, "cudnn_version", vs_cudnn_version());
                if (!s) s = vs_bench_report_number(report, "seq_len", N);
                if (!s) s = vs_bench_report_number(report, "density", p == 0 ? 1.0 : dens);
                if (!s) s = vs_bench_report_number(report, "spatial_heads", spatial);
            }
            for (int p = 0; p < 3 && !s && with_svg2; p++) {
                s = vs_bench_report_add(report, svg2_names[p], &stats2[p]);
                if (!s) s = vs_bench_report_string(report, "shape", shape.name);
                if (!s) s = vs_bench_report_number(report, "seq_len", N);
                if (!s) s = vs_bench_report_number(report, "density", selected.density);
                if (!s) s = vs_bench_report_number(report, "budget", params2.svg2_budget);
            }
            if (!s) s = vs_bench_json(report, out_path);
            vs_bench_report_free(report);
            if (s) code = vs_cli_report("writing the results");
        }
    }
    free(samples);
    free(classes);
    for (int i = 0; i < 4; i++) vs_tensor_free(&t[i]);
    vs_sparse_attention_free(attn);
    vs_sparse_attention_free(attn2);
    return code;
}

int vs_cmd_bench(int argc, char **argv) {
    if (argc >= 1 && !strcmp(argv[0], "attention")) return bench_attention(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "dit")) return vs_cmd_bench_dit(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "vae")) return vs_cmd_bench_vae(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "generate")) return vs_cmd_bench_generate(argc - 1, argv + 1);
    if (argc >= 1 && !strcmp(argv[0], "gemm")) return vs_cmd_bench_gemm(argc - 1, argv + 1);
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        printf("usage: vidsparse bench attention|dit|vae|generate|gemm [options]\n"
               "Benchmarks; 'vidsparse bench NAME --help' lists the options of each (generate: the whole pipeline "
               "with random weights; gemm: BF16 against FP8 linear layers at a DiT's shapes, CUDA).\n");
        return 0;
    }
    return vs_cli_usage_error("bench", "expected a benchmark name: attention, dit, vae, generate or gemm");
}
