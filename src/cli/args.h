/* Declarative option parsing for the subcommands. A command lists its options
 * once; the table drives parsing, error messages and --help:
 *
 *     int steps = 50; double shift = 5.0; const char *model = NULL; int quiet = 0;
 *     const vs_option options[] = {
 *         {"steps", 's', VS_OPT_INT, &steps, "denoising steps", NULL},
 *         {"shift", 0, VS_OPT_DOUBLE, &shift, "flow-matching time shift", NULL},
 *         {"model", 'm', VS_OPT_STRING, &model, "checkpoint folder (diffusers layout)", "DIR"},
 *         {"quiet", 'q', VS_OPT_FLAG, &quiet, "no progress bars", NULL},
 *     };
 *     const vs_command_spec spec = {"generate", "[options] PROMPT", "Text to video.", options, 4};
 *     vs_args args;
 *     int rc = vs_args_cli(&spec, argc, argv, &args);
 *     if (rc >= 0) return rc;
 *
 * Accepted forms: --name value, --name=value, -x value, flags as --name or -x,
 * and "--" to end the options. The values already in the destinations are the
 * defaults, shown by --help. */
#ifndef VS_CLI_ARGS_H
#define VS_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "vidsparse.h"

typedef enum vs_opt_kind {
    VS_OPT_FLAG,   /* int *: set to 1 when present */
    VS_OPT_INT,    /* int * */
    VS_OPT_INT64,  /* int64_t * (seeds) */
    VS_OPT_DOUBLE, /* double *, finite */
    VS_OPT_STRING, /* const char **: points into argv */
} vs_opt_kind;

typedef struct vs_option {
    const char *name; /* long name without dashes */
    char short_name;  /* 'x' for -x, or 0 */
    vs_opt_kind kind;
    void *dest;
    const char *help;
    const char *metavar; /* the value's name in --help ("DIR"); NULL: N, X or STR by kind */
} vs_option;

typedef struct vs_command_spec {
    const char *command;     /* "generate": in messages and the usage line */
    const char *usage;       /* what follows "usage: vidsparse generate " */
    const char *description; /* a paragraph under the usage line, or NULL */
    const vs_option *options;
    int option_count;
} vs_command_spec;

#define VS_ARGS_MAX_POSITIONAL 32

typedef struct vs_args {
    int help; /* -h or --help was given */
    int positional_count;
    char *positional[VS_ARGS_MAX_POSITIONAL]; /* in order; pointers into argv */
} vs_args;

/* Parses argv[0..argc) (the arguments after the command name) into the option
 * destinations and *out. Unknown options, missing values, bad numbers and
 * flags given a value fail with VS_ERR_INVALID_ARG and a one-line message
 * naming the option; destinations set before the error keep their new values. */
vs_status vs_args_parse(const vs_command_spec *spec, int argc, char **argv, vs_args *out);

/* Usage line, description, and one line per option (plus -h, --help) with defaults. */
void vs_args_print_help(const vs_command_spec *spec, FILE *f);

/* vs_args_parse for a subcommand's entry point: prints the help to stdout and
 * returns 0, or prints "vidsparse <command>: <message> (see ...)" to stderr and
 * returns 2, or returns -1 when the command should go on. */
int vs_args_cli(const vs_command_spec *spec, int argc, char **argv, vs_args *out);

#endif
