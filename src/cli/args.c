#include "cli/args.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static const char *metavar(const vs_option *o) {
    if (o->metavar) return o->metavar;
    return o->kind == VS_OPT_DOUBLE ? "X" : o->kind == VS_OPT_STRING ? "STR" : "N";
}

/* "--steps" or "-s", for messages: the spelling the user typed. */
static void spelling(char *buf, size_t size, const vs_option *o, int used_short) {
    if (used_short) snprintf(buf, size, "-%c", o->short_name);
    else snprintf(buf, size, "--%s", o->name);
}

static vs_status set_value(const vs_command_spec *spec, const vs_option *o, int used_short, const char *value) {
    char opt[80];
    spelling(opt, sizeof opt, o, used_short);
    char *end;
    errno = 0;
    switch (o->kind) {
    case VS_OPT_FLAG:
        return vs_fail(VS_ERR_INVALID_ARG, "option %s takes no value", opt);
    case VS_OPT_INT:
    case VS_OPT_INT64: {
        long long v = strtoll(value, &end, 10);
        if (end == value || *end != '\0')
            return vs_fail(VS_ERR_INVALID_ARG, "option %s: '%s' is not an integer", opt, value);
        if (errno == ERANGE || (o->kind == VS_OPT_INT && (v < INT_MIN || v > INT_MAX)))
            return vs_fail(VS_ERR_INVALID_ARG, "option %s: %s is out of range", opt, value);
        if (o->kind == VS_OPT_INT) *(int *)o->dest = (int)v;
        else *(int64_t *)o->dest = (int64_t)v;
        return VS_OK;
    }
    case VS_OPT_DOUBLE: {
        double v = strtod(value, &end);
        if (end == value || *end != '\0')
            return vs_fail(VS_ERR_INVALID_ARG, "option %s: '%s' is not a number", opt, value);
        if (!isfinite(v) || errno == ERANGE)
            return vs_fail(VS_ERR_INVALID_ARG, "option %s: %s is out of range", opt, value);
        *(double *)o->dest = v;
        return VS_OK;
    }
    case VS_OPT_STRING:
        *(const char **)o->dest = value;
        return VS_OK;
    }
    return vs_fail(VS_ERR_INVALID_ARG, "%s: option --%s has an unknown kind", spec->command, o->name);
}

static const vs_option *find_long(const vs_command_spec *spec, const char *name, size_t len) {
    for (int i = 0; i < spec->option_count; i++)
        if (strlen(spec->options[i].name) == len && strncmp(spec->options[i].name, name, len) == 0)
            return &spec->options[i];
    return NULL;
}

static const vs_option *find_short(const vs_command_spec *spec, char c) {
    for (int i = 0; i < spec->option_count; i++)
        if (spec->options[i].short_name == c) return &spec->options[i];
    return NULL;
}

vs_status vs_args_parse(const vs_command_spec *spec, int argc, char **argv, vs_args *out) {
    memset(out, 0, sizeof *out);
    int only_positional = 0;
    for (int i = 0; i < argc; i++) {
        char *arg = argv[i];
        if (only_positional || arg[0] != '-' || arg[1] == '\0') { /* "-" alone names stdin/stdout */
            if (out->positional_count == VS_ARGS_MAX_POSITIONAL)
                return vs_fail(VS_ERR_INVALID_ARG, "too many arguments (at most %d)", VS_ARGS_MAX_POSITIONAL);
            out->positional[out->positional_count++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            out->help = 1;
            continue;
        }
        const vs_option *o;
        int used_short = arg[1] != '-';
        const char *inline_value = NULL;
        if (used_short) {
            o = arg[2] == '\0' ? find_short(spec, arg[1]) : NULL;
        } else {
            const char *name = arg + 2, *eq = strchr(name, '=');
            o = find_long(spec, name, eq ? (size_t)(eq - name) : strlen(name));
            if (eq) inline_value = eq + 1;
        }
        if (!o) {
            if (!used_short && inline_value) /* name the option, not its value */
                return vs_fail(VS_ERR_INVALID_ARG, "unknown option '%.*s'", (int)(inline_value - 1 - arg), arg);
            return vs_fail(VS_ERR_INVALID_ARG, "unknown option '%s'", arg);
        }
        if (o->kind == VS_OPT_FLAG && !inline_value) {
            *(int *)o->dest = 1;
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= argc) {
                char opt[80];
                spelling(opt, sizeof opt, o, used_short);
                return vs_fail(VS_ERR_INVALID_ARG, "option %s needs a value (%s)", opt, metavar(o));
            }
            inline_value = argv[++i];
        }
        VS_TRY(set_value(spec, o, used_short, inline_value));
    }
    return VS_OK;
}

#define HELP_COLUMN 28

static void print_option(FILE *f, char short_name, const char *name, const char *value, const char *help,
                         const char *default_text) {
    char left[160];
    int n = snprintf(left, sizeof left, "  %c%c%s--%s%s%s", short_name ? '-' : ' ', short_name ? short_name : ' ',
                     short_name ? ", " : "  ", name, value ? " " : "", value ? value : "");
    if (n >= HELP_COLUMN - 1) fprintf(f, "%s\n%*s", left, HELP_COLUMN, "");
    else fprintf(f, "%-*s", HELP_COLUMN, left);
    fprintf(f, "%s%s\n", help ? help : "", default_text);
}

void vs_args_print_help(const vs_command_spec *spec, FILE *f) {
    fprintf(f, "usage: vidsparse %s %s\n", spec->command, spec->usage ? spec->usage : "[options]");
    if (spec->description) fprintf(f, "\n%s\n", spec->description);
    fprintf(f, "\noptions:\n");
    for (int i = 0; i < spec->option_count; i++) {
        const vs_option *o = &spec->options[i];
        char def[96] = "";
        if (o->kind == VS_OPT_INT) snprintf(def, sizeof def, " (default: %d)", *(const int *)o->dest);
        else if (o->kind == VS_OPT_INT64)
            snprintf(def, sizeof def, " (default: %lld)", (long long)*(const int64_t *)o->dest);
        else if (o->kind == VS_OPT_DOUBLE) snprintf(def, sizeof def, " (default: %g)", *(const double *)o->dest);
        else if (o->kind == VS_OPT_STRING && *(const char *const *)o->dest)
            snprintf(def, sizeof def, " (default: %s)", *(const char *const *)o->dest);
        print_option(f, o->short_name, o->name, o->kind == VS_OPT_FLAG ? NULL : metavar(o), o->help, def);
    }
    print_option(f, 'h', "help", NULL, "show this help", "");
}

int vs_args_cli(const vs_command_spec *spec, int argc, char **argv, vs_args *out) {
    if (vs_args_parse(spec, argc, argv, out) != VS_OK) {
        fprintf(stderr, "vidsparse %s: %s (see 'vidsparse %s --help')\n", spec->command, vs_last_error(),
                spec->command);
        return 2;
    }
    if (out->help) {
        vs_args_print_help(spec, stdout);
        return 0;
    }
    return -1;
}
