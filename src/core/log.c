#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int level_from_env(void) {
    const char *env = getenv("VS_LOG");
    if (!env || !*env) return VS_LOG_INFO;
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(env, names[i]) == 0) return i;
    return VS_LOG_INFO;
}

static int current_level = -1;

void vs_log_set_level(vs_log_level level) { current_level = (int)level; }

vs_log_level vs_log_get_level(void) {
    if (current_level < 0) current_level = level_from_env();
    return (vs_log_level)current_level;
}

void vs_log(vs_log_level level, const char *fmt, ...) {
    if (level > vs_log_get_level()) return;
    static const char *tags[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "vidsparse %s: ", tags[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
