/* Error reporting inside the library: vs_fail records a message for
 * vs_last_error() and returns the status, so call sites read
 *     if (n < 0) return vs_fail(VS_ERR_INVALID_ARG, "n must be >= 0, got %d", n);
 */
#ifndef VS_CORE_STATUS_H
#define VS_CORE_STATUS_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VS_PRINTF(a, b)
#endif

vs_status vs_fail(vs_status status, const char *fmt, ...) VS_PRINTF(2, 3);
/* Prefixes the current message with context ("loading x: <old message>"). */
vs_status vs_fail_context(vs_status status, const char *fmt, ...) VS_PRINTF(2, 3);
void vs_clear_error(void);

/* Propagate a failure from a callee whose message is already set. */
#define VS_TRY(expr)                       \
    do {                                   \
        vs_status vs_try_s_ = (expr);      \
        if (vs_try_s_ != VS_OK) return vs_try_s_; \
    } while (0)

/* VS_TRY that prefixes the message with context (printf arguments), e.g. the stage a failure happened in. */
#define VS_TRY_CONTEXT(expr, ...)                                                  \
    do {                                                                           \
        vs_status vs_try_s_ = (expr);                                              \
        if (vs_try_s_ != VS_OK) return vs_fail_context(vs_try_s_, __VA_ARGS__);    \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
