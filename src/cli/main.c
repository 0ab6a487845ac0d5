#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"bench", vs_cmd_bench, "benchmarks: attention (dense vs SVG, profiling, layout), dit (Wan forward), vae (Wan VAE decode), generate (whole pipeline)"},
    {"generate", vs_cmd_generate, "text to video (embedded default model or --model DIR)"},
    {"encode", vs_cmd_encode, "prompt to umT5 text embeddings (safetensors)"},
    {"denoise", vs_cmd_denoise, "prompt embeddings -> video latents with the Wan DiT (CUDA or CPU)"},
    {"inspect", vs_cmd_inspect, "list a checkpoint's components, configs, tensors and parameter counts"},
    {"decode", vs_cmd_decode, "latents to video with the Wan VAE (mp4, y4m or png frames)"},
    {"check", vs_cmd_check, "does a video show its prompt? (the tiny model's scene grammar)"},
    {"eval", vs_cmd_eval, "prompt accuracy, PSNR/SSIM and speed of SVG against dense attention"},
};
static const int command_count = (int)(sizeof commands / sizeof commands[0]);

static void print_help(FILE *f) {
    fprintf(f,
            "usage: vidsparse [-v] [--version] [--help] <command> [options]\n\n"
            "Video diffusion transformers with Sparse VideoGen attention.\n\ncommands:\n");
    for (int i = 0; i < command_count; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'vidsparse <command> --help' for a command's options.\n"
               "Environment: VS_LOG=error|warn|info|debug sets the log level.\n");
}

int vs_cli_report(const char *context) {
    fprintf(stderr, "vidsparse: error: %s: %s\n", context, vs_last_error());
    return 1;
}

int vs_cli_device(const char *cmd, const char *name, vs_device *out) {
    if (!name) *out = vs_cuda_device_count() > 0 ? VS_CUDA : VS_CPU;
    else if (!strcmp(name, "cuda")) *out = VS_CUDA;
    else if (!strcmp(name, "cpu")) *out = VS_CPU;
    else return vs_cli_usage_error(cmd, "--device must be cuda or cpu, not '%s'", name);
    return 0;
}

/* 0 when `name` is one of listed(0), listed(1), ...; else a usage error listing them, 2. */
static int check_listed(const char *cmd, const char *option, const char *name, const char *(*listed)(int)) {
    char known[256] = "";
    for (int i = 0; listed(i); i++) {
        if (!strcmp(name, listed(i))) return 0;
        const size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", listed(i));
    }
    return vs_cli_usage_error(cmd, "%s must be one of %s, not '%s'", option, known, name);
}

int vs_cli_attention_method(const char *cmd, const char *name) {
    return check_listed(cmd, "--attention", name, vs_attention_method_name);
}

int vs_cli_cache_policy(const char *cmd, const char *name) {
    return check_listed(cmd, "--cache", name, vs_cache_policy_name);
}

int vs_cli_precision(const char *cmd, const char *name, vs_precision *out) {
    if (!strcmp(name, "bf16")) *out = VS_PRECISION_DEFAULT;
    else if (!strcmp(name, "fp8")) *out = VS_PRECISION_FP8;
    else if (!strcmp(name, "fp8-ffn")) *out = VS_PRECISION_FP8_FFN;
    else return vs_cli_usage_error(cmd, "--precision must be bf16, fp8 or fp8-ffn, not '%s'", name);
    return 0;
}

int vs_cli_attention_precision(const char *cmd, const char *name, vs_attention_params *p) {
    if (!strcmp(name, "bf16")) p->precision = VS_PRECISION_DEFAULT;
    else if (!strcmp(name, "fp8")) p->precision = VS_PRECISION_FP8;
    else return vs_cli_usage_error(cmd, "--attention-precision must be bf16 or fp8, not '%s'", name);
    return 0;
}

int vs_cli_check_svg(const char *cmd, const vs_cli_svg *svg) {
    if (svg->density >= 0 && !(svg->density > 0 && svg->density <= 1))
        return vs_cli_usage_error(cmd, "--density must be in (0, 1], not %g", svg->density);
    if (svg->dense_steps > 1 || svg->dense_layers > 1)
        return vs_cli_usage_error(cmd, "--dense-steps and --dense-layers are fractions, at most 1");
    return 0;
}

int vs_cli_svg2_apply(const char *cmd, const vs_cli_svg2 *o, vs_attention_params *p) {
    if (o->query_clusters < 0 || o->key_clusters < 0)
        return vs_cli_usage_error(cmd, "--svg2-query-clusters and --svg2-key-clusters must not be negative");
    if (o->top_p < 0 || o->top_p > 1 || o->min_key_ratio < 0 || o->min_key_ratio > 1 || o->budget < 0 ||
        o->budget > 1)
        return vs_cli_usage_error(cmd, "--svg2-top-p, --svg2-min-key-ratio and --svg2-budget must be in [0, 1]");
    p->svg2_query_clusters = o->query_clusters, p->svg2_key_clusters = o->key_clusters;
    p->svg2_top_p = o->top_p, p->svg2_min_key_ratio = o->min_key_ratio, p->svg2_budget = o->budget;
    return 0;
}

int vs_cli_usage_error(const char *cmd, const char *fmt, ...) {
    fprintf(stderr, "vidsparse %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'vidsparse %s --help')\n", cmd);
    return 2;
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            print_help(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--version")) {
            printf("vidsparse %s (CUDA %s)\n", vs_version(), VS_HAVE_CUDA ? "enabled" : "disabled");
            return 0;
        } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            vs_log_set_level(VS_LOG_DEBUG);
        } else {
            fprintf(stderr, "vidsparse: unknown option '%s' (see 'vidsparse --help')\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        print_help(stderr);
        return 2;
    }
    for (int c = 0; c < command_count; c++)
        if (!strcmp(argv[i], commands[c].name)) return commands[c].run(argc - i - 1, argv + i + 1);
    fprintf(stderr, "vidsparse: unknown command '%s' (see 'vidsparse --help')\n", argv[i]);
    return 2;
}
