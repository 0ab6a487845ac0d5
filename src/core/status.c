#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *vs_last_error(void) { return last_error; }

void vs_clear_error(void) { last_error[0] = '\0'; }

vs_status vs_fail(vs_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

vs_status vs_fail_context(vs_status status, const char *fmt, ...) {
    char previous[sizeof last_error];
    memcpy(previous, last_error, sizeof previous);
    char context[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(context, sizeof context, fmt, ap);
    va_end(ap);
    int n = snprintf(last_error, sizeof last_error, "%s: %s", context, previous);
    if (n >= (int)sizeof last_error) memcpy(last_error + sizeof last_error - 4, "...", 4); /* mark the cut */
    return status;
}

const char *vs_status_name(vs_status status) {
    switch (status) {
    case VS_OK: return "ok";
    case VS_ERR_INVALID_ARG: return "invalid argument";
    case VS_ERR_IO: return "I/O error";
    case VS_ERR_FORMAT: return "malformed file";
    case VS_ERR_NOT_FOUND: return "not found";
    case VS_ERR_SHAPE: return "shape mismatch";
    case VS_ERR_OOM: return "out of memory";
    case VS_ERR_CUDA: return "CUDA error";
    case VS_ERR_UNSUPPORTED: return "unsupported";
    case VS_ERR_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

const char *vs_version(void) { return VS_VERSION_STRING; }
