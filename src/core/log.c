#include "core/log.h"

#include <pthread.h>
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

/* The process-wide callback; the mutex keeps the function and its user data a pair. */
static pthread_mutex_t callback_lock = PTHREAD_MUTEX_INITIALIZER;
static vs_log_callback callback;
static void *callback_user;

void vs_log_set_level(vs_log_level level) {
    current_level = (int)level;
}

vs_log_level vs_log_get_level(void) {
    if (current_level < 0) current_level = level_from_env();
    return (vs_log_level)current_level;
}

void vs_log_set_callback(vs_log_callback fn, void *user) {
    pthread_mutex_lock(&callback_lock);
    callback = fn;
    callback_user = user;
    pthread_mutex_unlock(&callback_lock);
}

void vs_log(vs_log_level level, const char *fmt, ...) {
    if (level > vs_log_get_level()) return;
    pthread_mutex_lock(&callback_lock);
    const vs_log_callback fn = callback;
    void *user = callback_user;
    pthread_mutex_unlock(&callback_lock);
    va_list ap;
    va_start(ap, fmt);
    if (fn) {
        char message[1024];
        vsnprintf(message, sizeof message, fmt, ap);
        fn(user, level, message);
    } else {
        static const char *tags[] = {"error", "warning", "info", "debug"};
        fprintf(stderr, "vidsparse %s: ", tags[level]);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
}
