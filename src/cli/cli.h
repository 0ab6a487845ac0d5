/* Subcommands of the vidsparse command. Each takes the arguments after its
 * name, returns the process exit code (0 ok, 1 failure, 2 usage error) and
 * prints a one-line error on failure. */
#ifndef VS_CLI_H
#define VS_CLI_H

#include "core/bench.h"
#include "vidsparse.h"

int vs_cmd_generate(int argc, char **argv);
int vs_cmd_encode(int argc, char **argv);
int vs_cmd_bench(int argc, char **argv);
int vs_cmd_denoise(int argc, char **argv);
int vs_cmd_inspect(int argc, char **argv);
int vs_cmd_decode(int argc, char **argv);
int vs_cmd_check(int argc, char **argv);
int vs_cmd_eval(int argc, char **argv);
/* vidsparse bench dit (bench_dit.c), bench vae (bench_vae.c), bench gemm and bench generate, reached through
 * vs_cmd_bench. */
int vs_cmd_bench_dit(int argc, char **argv);
int vs_cmd_bench_vae(int argc, char **argv);
/* vidsparse bench gemm (bench_gemm.c): BF16 against FP8 linear layers at a DiT's shapes. */
int vs_cmd_bench_gemm(int argc, char **argv);
int vs_cmd_bench_generate(int argc, char **argv);
/* "480p" (480 x 832), "720p" (720 x 1280) or "HxW" in pixels, multiples of 16: 1, else 0. */
int vs_cli_parse_resolution(const char *text, int *height, int *width);

/* "vidsparse: error: <context>: <vs_last_error()>" on stderr; returns 1. */
int vs_cli_report(const char *context);
/* The device a --device option names ("cuda" or "cpu"; NULL: cuda when a
 * GPU is present, else cpu). Returns 0, or prints a usage error and returns 2. */
int vs_cli_device(const char *command, const char *name, vs_device *out);
/* Checks an --attention value against the registered methods (vs_attention_method_name).
 * Returns 0, or prints a usage error listing them and returns 2. */
int vs_cli_attention_method(const char *command, const char *name);
/* A --precision value: "bf16" (the device's default: BF16 on CUDA, F32 on the CPU), "fp8" or "fp8-ffn"
 * (docs/fp8.md). Returns 0, or prints a usage error and returns 2. */
int vs_cli_precision(const char *command, const char *name, vs_precision *out);
/* --precision's table row for the commands that run the whole model (generate, denoise, bench generate). */
#define VS_CLI_PRECISION_OPTION(name)                                                                      \
    {"precision", 0, VS_OPT_STRING, &(name),                                                               \
     "weights of the DiT and the text encoder: bf16 (the device's default), fp8 (E4M3 linears), or "         \
     "fp8-ffn (only the feed-forward layers in E4M3: closer to bf16, less memory saved; docs/fp8.md)", "P"}
/* --attention-precision: "bf16" (the default) or "fp8" (dense attention in E4M3 on Hopper, docs/fp8.md) into
 * p->precision. Returns 0, or prints a usage error and returns 2. */
int vs_cli_attention_precision(const char *command, const char *name, vs_attention_params *p);
/* A bench JSON's precision fields: "precision", "attention_precision" and, with FP8 weights, "fp8_fast_accum"
 * (vs_fp8_fast_accumulation: whether the FP8 GEMMs used Hopper's fast accumulation). */
vs_status vs_cli_report_precision(vs_bench_report *report, const char *precision, const char *attention_precision);
#define VS_CLI_ATTENTION_PRECISION_OPTION(name)                                                            \
    {"attention-precision", 0, VS_OPT_STRING, &(name),                                                     \
     "self-attention: bf16, or fp8 (dense attention and SVG's band in E4M3 through cuDNN, Hopper; SVG's "  \
     "profiling stays bf16; docs/fp8.md)", "P"}
/* SVG settings of generate and eval: a negative value means the model's
 * default (vidsparse.json, else 0.25 / 0.2 / 0.03). */
typedef struct vs_cli_svg {
    double density, dense_steps, dense_layers;
} vs_cli_svg;
/* clang-format off */
#define VS_CLI_SVG_UNSET {-1.0, -1.0, -1.0}
/* The three options' table rows, for a command's option table. */
#define VS_CLI_SVG_OPTIONS(svg)                                                                            \
    {"density", 0, VS_OPT_DOUBLE, &(svg).density,                                                          \
     "SVG: kept fraction of the attention map, in (0, 1] (negative: the model's default)", NULL},          \
    {"dense-steps", 0, VS_OPT_DOUBLE, &(svg).dense_steps,                                                  \
     "SVG: fraction of the first denoising steps that stay dense (negative: the model's default)",         \
     NULL},                                                                                                \
    {"dense-layers", 0, VS_OPT_DOUBLE, &(svg).dense_layers,                                                \
     "SVG: fraction of the first DiT layers that stay dense (negative: the model's default)", NULL}
/* clang-format on */
/* Checks the ranges; returns 0, or prints a usage error and returns 2. */
int vs_cli_check_svg(const char *command, const vs_cli_svg *svg);
/* Step caching (docs/caching.md): --cache POLICY and --cache-threshold X, the table rows and their check
 * (the policy against vs_cache_policy_name; the threshold's range is the policy's, checked at load). */
#define VS_CLI_CACHE_OPTIONS(policy, threshold)                                                            \
    {"cache", 0, VS_OPT_STRING, &(policy),                                                                 \
     "step caching: none, easycache, teacache (Wan 2.1 T2V 1.3B / 14B, HunyuanVideo T2V) or fora", "POLICY"}, \
    {"cache-threshold", 0, VS_OPT_DOUBLE, &(threshold),                                                    \
     "the policy's threshold (fora: run every N-th step; negative: the default, easycache's the family's: "    \
     "HunyuanVideo 0.025, else 0.05)", "X"}
int vs_cli_cache_policy(const char *command, const char *name);
/* SVG2 settings (docs/svg2.md); 0 means the default. */
typedef struct vs_cli_svg2 {
    int query_clusters, key_clusters;
    double top_p, min_key_ratio, budget;
} vs_cli_svg2;
/* clang-format off */
#define VS_CLI_SVG2_OPTIONS(o)                                                                             \
    {"svg2-query-clusters", 0, VS_OPT_INT, &(o).query_clusters,                                          \
     "SVG2: query clusters per head (0: 300 per 75600 video tokens)", "N"},                              \
    {"svg2-key-clusters", 0, VS_OPT_INT, &(o).key_clusters,                                              \
     "SVG2: key clusters per head (0: 1000 per 75600 video tokens)", "N"},                               \
    {"svg2-top-p", 0, VS_OPT_DOUBLE, &(o).top_p,                                                         \
     "SVG2: keep key clusters until this share of the estimated attention (0: 0.9)", "P"},               \
    {"svg2-min-key-ratio", 0, VS_OPT_DOUBLE, &(o).min_key_ratio,                                         \
     "SVG2: and at least this fraction of the key clusters (0: 0.1)", "R"},                              \
    {"svg2-budget", 0, VS_OPT_DOUBLE, &(o).budget,                                                       \
     "SVG2: fixed budget instead of top-p: keep key clusters until this fraction of the keys (0: off)", "F"}
/* clang-format on */
/* Checks the ranges and copies the settings into p; returns 0, or prints a usage error and returns 2. */
int vs_cli_svg2_apply(const char *command, const vs_cli_svg2 *svg2, vs_attention_params *p);
/* Prints a usage error and returns 2. */
int vs_cli_usage_error(const char *command, const char *fmt, ...);

#endif
