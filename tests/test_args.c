#include <unistd.h>

#include "check.h"
#include "cli/args.h"

typedef struct {
    int steps, quiet;
    int64_t seed;
    double shift;
    const char *model;
} opts;

#define SPEC(o)                                                                                 \
    const vs_option options[] = {                                                               \
        {"steps", 's', VS_OPT_INT, &(o).steps, "denoising steps", NULL},                        \
        {"seed", 0, VS_OPT_INT64, &(o).seed, "random seed", NULL},                              \
        {"shift", 0, VS_OPT_DOUBLE, &(o).shift, "flow-matching time shift", NULL},              \
        {"model", 'm', VS_OPT_STRING, &(o).model, "checkpoint folder (diffusers layout)", "DIR"}, \
        {"quiet", 'q', VS_OPT_FLAG, &(o).quiet, "no progress bars", NULL},                      \
    };                                                                                          \
    const vs_command_spec spec = {"generate", "[options] PROMPT", "Text to video.", options, 5}

static vs_status parse(opts *o, vs_args *a, int argc, char **argv) {
    *o = (opts){.steps = 50, .seed = 0, .shift = 5.0, .model = NULL, .quiet = 0};
    SPEC(*o);
    return vs_args_parse(&spec, argc, argv, a);
}

TEST(accepted_forms) {
    opts o;
    vs_args a;
    char *argv[] = {"a cat", "--steps", "20", "--shift=3.5", "-m", "/models/wan", "-q",
                    "--seed=-9000000000", "--", "--not-an-option", "-"};
    CHECK_OK(parse(&o, &a, 11, argv));
    CHECK(o.steps == 20 && o.shift == 3.5 && strcmp(o.model, "/models/wan") == 0 && o.quiet == 1);
    CHECK(o.seed == -9000000000LL);
    CHECK(a.help == 0 && a.positional_count == 3);
    CHECK(strcmp(a.positional[0], "a cat") == 0 && strcmp(a.positional[1], "--not-an-option") == 0 &&
          strcmp(a.positional[2], "-") == 0);
    char *argv2[] = {"-s", "7", "--model=", "--steps", "-3", "--quiet", "-h"};
    CHECK_OK(parse(&o, &a, 7, argv2));
    CHECK(o.steps == -3 && strcmp(o.model, "") == 0 && o.quiet && a.help && a.positional_count == 0);
    CHECK_OK(parse(&o, &a, 0, NULL));
    CHECK(o.steps == 50 && o.shift == 5.0 && o.model == NULL && a.positional_count == 0);
    return 0;
}

TEST(errors_name_the_option) {
    opts o;
    vs_args a;
    char *unknown[] = {"--stepz", "3"}, *unknown_eq[] = {"--stepz=3"}, *unknown_short[] = {"-x"};
    char *grouped[] = {"-qs", "3"}, *missing[] = {"--steps"}, *missing_short[] = {"-m"};
    char *not_int[] = {"--steps", "12abc"}, *big[] = {"-s", "3000000000"}, *not_num[] = {"--shift=fast"};
    char *inf[] = {"--shift", "inf"}, *flag_value[] = {"--quiet=yes"}, *empty[] = {"--steps="};
    CHECK_FAILS(parse(&o, &a, 2, unknown), VS_ERR_INVALID_ARG, "unknown option '--stepz'");
    CHECK_FAILS(parse(&o, &a, 1, unknown_eq), VS_ERR_INVALID_ARG, "unknown option '--stepz'");
    CHECK(strchr(vs_last_error(), '=') == NULL);
    CHECK_FAILS(parse(&o, &a, 1, unknown_short), VS_ERR_INVALID_ARG, "unknown option '-x'");
    CHECK_FAILS(parse(&o, &a, 2, grouped), VS_ERR_INVALID_ARG, "unknown option '-qs'");
    CHECK_FAILS(parse(&o, &a, 1, missing), VS_ERR_INVALID_ARG, "option --steps needs a value (N)");
    CHECK_FAILS(parse(&o, &a, 1, missing_short), VS_ERR_INVALID_ARG, "option -m needs a value (DIR)");
    CHECK_FAILS(parse(&o, &a, 2, not_int), VS_ERR_INVALID_ARG, "option --steps: '12abc' is not an integer");
    CHECK_FAILS(parse(&o, &a, 2, big), VS_ERR_INVALID_ARG, "option -s: 3000000000 is out of range");
    CHECK_FAILS(parse(&o, &a, 1, not_num), VS_ERR_INVALID_ARG, "option --shift: 'fast' is not a number");
    CHECK_FAILS(parse(&o, &a, 2, inf), VS_ERR_INVALID_ARG, "option --shift: inf is out of range");
    CHECK_FAILS(parse(&o, &a, 1, flag_value), VS_ERR_INVALID_ARG, "option --quiet takes no value");
    CHECK_FAILS(parse(&o, &a, 1, empty), VS_ERR_INVALID_ARG, "option --steps: '' is not an integer");
    char *many[VS_ARGS_MAX_POSITIONAL + 1];
    for (int i = 0; i <= VS_ARGS_MAX_POSITIONAL; i++) many[i] = "x";
    CHECK_FAILS(parse(&o, &a, VS_ARGS_MAX_POSITIONAL + 1, many), VS_ERR_INVALID_ARG, "too many arguments");
    return 0;
}

TEST(help_is_formatted_from_the_table) {
    opts o = {.steps = 50, .seed = 42, .shift = 5.0, .model = NULL};
    SPEC(o);
    char buf[2048] = "";
    FILE *f = tmpfile();
    CHECK(f != NULL);
    vs_args_print_help(&spec, f);
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *expect = "usage: vidsparse generate [options] PROMPT\n"
                         "\n"
                         "Text to video.\n"
                         "\n"
                         "options:\n"
                         "  -s, --steps N             denoising steps (default: 50)\n"
                         "      --seed N              random seed (default: 42)\n"
                         "      --shift X             flow-matching time shift (default: 5)\n"
                         "  -m, --model DIR           checkpoint folder (diffusers layout)\n"
                         "  -q, --quiet               no progress bars\n"
                         "  -h, --help                show this help\n";
    CHECK_MSG(strcmp(buf, expect) == 0, "got:\n%s", buf);
    return 0;
}

TEST(cli_entry_returns_exit_codes) {
    opts o = {.steps = 50};
    SPEC(o);
    vs_args a;
    char *ok[] = {"prompt"}, *bad[] = {"--nope"};
    CHECK(vs_args_cli(&spec, 1, ok, &a) == -1 && a.positional_count == 1);
    fprintf(stderr, "  (an expected usage error follows)\n");
    CHECK(vs_args_cli(&spec, 1, bad, &a) == 2);
    return 0;
}

RUN_TESTS(T(accepted_forms), T(errors_name_the_option), T(help_is_formatted_from_the_table),
          T(cli_entry_returns_exit_codes))
