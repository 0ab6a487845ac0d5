/* Progress of a long loop (denoising steps, VAE frames) on stderr.
 *
 *     vs_progress *p = vs_progress_start("denoise", steps);
 *     for (int s = 0; s < steps; s++) { ...; vs_progress_update(p, s + 1); }
 *     vs_progress_finish(p);
 *
 * On a terminal: one bar redrawn in place with step/total, rate and ETA. Otherwise
 * (logs, pipes): a plain line at most every 2 seconds, plus a final one. Silent when
 * the log level is below info (VS_LOG=error or warn). One thread drives a reporter. */
#ifndef VS_CORE_PROGRESS_H
#define VS_CORE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_progress vs_progress;

/* total <= 0: unknown, shown as a count without bar or ETA. Returns NULL when
 * silenced or out of memory; the other calls accept NULL and then do nothing. */
vs_progress *vs_progress_start(const char *label, int64_t total);
void vs_progress_update(vs_progress *p, int64_t done);
/* Prints the final state (total time, mean rate) and frees the reporter. */
void vs_progress_finish(vs_progress *p);

/* Formatting helpers (pure, exposed for tests). Each writes a NUL-terminated
 * string of at most size-1 characters into buf and returns buf. */

/* "0:07", "12:34", "1:02:03" (h:mm:ss from an hour on); "--:--" when not finite or negative. */
char *vs_progress_format_duration(char *buf, size_t size, double seconds);
/* Steps per second as "12.3 it/s", or "4.56 s/it" when slower than one step a second;
 * "-- it/s" before any step has finished. */
char *vs_progress_format_rate(char *buf, size_t size, int64_t steps, double seconds);
/* The whole status line without terminal codes, e.g.
 * "denoise [#########-----------]  9/20  1.52 s/it  ETA 0:17"; bar_width 0 leaves the bar out. */
char *vs_progress_format_line(char *buf, size_t size, const char *label, int64_t done, int64_t total,
                              double elapsed, int bar_width);

#ifdef __cplusplus
}
#endif
#endif
