/* Subcommands of the vidsparse command. Each takes the arguments after its
 * name, returns the process exit code (0 ok, 1 failure, 2 usage error) and
 * prints a one-line error on failure. */
#ifndef VS_CLI_H
#define VS_CLI_H

#include "vidsparse.h"

int vs_cmd_generate(int argc, char **argv);
int vs_cmd_encode(int argc, char **argv);
int vs_cmd_bench(int argc, char **argv);
int vs_cmd_denoise(int argc, char **argv);
int vs_cmd_inspect(int argc, char **argv);
int vs_cmd_decode(int argc, char **argv);
int vs_cmd_check(int argc, char **argv);
int vs_cmd_eval(int argc, char **argv);
/* vidsparse bench dit (bench_dit.c) and bench vae (bench_vae.c), reached through vs_cmd_bench. */
int vs_cmd_bench_dit(int argc, char **argv);
int vs_cmd_bench_vae(int argc, char **argv);

/* "vidsparse: error: <context>: <vs_last_error()>" on stderr; returns 1. */
int vs_cli_report(const char *context);
/* The device a --device option names ("cuda" or "cpu"; NULL: cuda when a
 * GPU is present, else cpu). Returns 0, or prints a usage error and returns 2. */
int vs_cli_device(const char *command, const char *name, vs_device *out);
/* Prints a usage error and returns 2. */
int vs_cli_usage_error(const char *command, const char *fmt, ...);

#endif
