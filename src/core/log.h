/* Levelled logging to stderr, or to the callback vs_log_set_callback
 * (vidsparse.h) installs. The level comes from VS_LOG (error|warn|info|debug,
 * default info) or vs_log_set_level; vs_log_level is in vidsparse.h. */
#ifndef VS_CORE_LOG_H
#define VS_CORE_LOG_H

#include "core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

void vs_log_set_level(vs_log_level level);
vs_log_level vs_log_get_level(void);
void vs_log(vs_log_level level, const char *fmt, ...) VS_PRINTF(2, 3);

#define VS_ERROR(...) vs_log(VS_LOG_ERROR, __VA_ARGS__)
#define VS_WARN(...) vs_log(VS_LOG_WARN, __VA_ARGS__)
#define VS_INFO(...) vs_log(VS_LOG_INFO, __VA_ARGS__)
#define VS_DEBUG(...) vs_log(VS_LOG_DEBUG, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
