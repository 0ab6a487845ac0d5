/* Benchmark statistics and results files.
 *
 *     float ms[20];
 *     VS_TRY(vs_cuda_time(run_once, &args, 3, 20, ms));   (or vs_bench_time_host)
 *     vs_bench_stats st;
 *     VS_TRY(vs_bench_summarize(ms, 20, &st));
 *     vs_bench_report *r;
 *     VS_TRY(vs_bench_report_create(&r, "attention", argc, argv));
 *     vs_bench_report_add(r, "wan1.3b dense", &st);
 *     vs_bench_report_number(r, "tflops", flops / st.median_ms / 1e9);
 *     vs_bench_json(r, "bench/results/attention.json");
 *     vs_bench_report_free(r);
 *
 * The file: {"benchmark", "device", "commit", "date" (UTC, ISO 8601), "command",
 * "results": [{"name", "median_ms", "min_ms", "mean_ms", "stddev_ms", "max_ms",
 * "repeats", ...extra fields}]}. */
#ifndef VS_CORE_BENCH_H
#define VS_CORE_BENCH_H

#include <stddef.h>
#include <time.h>

#include "core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_bench_stats {
    int count;
    double median_ms, min_ms, max_ms, mean_ms;
    double stddev_ms; /* sample standard deviation (n - 1), 0 for one sample */
} vs_bench_stats;

/* n >= 1 samples; the median of an even count is the mean of the middle two. */
vs_status vs_bench_summarize(const float *samples_ms, int n, vs_bench_stats *out);

/* The denoising time of a schedule of `steps` steps whose first floor(dense_fraction x steps) run dense,
 * estimated from `timed` timed steps (step_ms), of which the first floor(timed_dense_fraction x timed) ran
 * dense (the fractions in float, as the pipeline decides). Each kind's step time is the mean of its timed
 * steps after its first (which pays for plans and warm-up), or its only one. `missing` names a kind the
 * schedule needs and the timed steps lack (then steps_s is not meaningful), else NULL. */
typedef struct vs_bench_schedule {
    int dense_steps; /* of the schedule */
    double dense_step_ms, sparse_step_ms, steps_s;
    const char *missing;
} vs_bench_schedule;
vs_bench_schedule vs_bench_estimate_schedule(const float *step_ms, int timed, double timed_dense_fraction,
                                             int steps, double dense_fraction);

/* Monotonic clock in milliseconds. */
double vs_bench_now_ms(void);
/* Host-side counterpart of vs_cuda_time (core/device_info.h): fn(ctx) `warmup`
 * times, then `repeats` timed calls into samples_ms. */
vs_status vs_bench_time_host(void (*fn)(void *ctx), void *ctx, int warmup, int repeats, float *samples_ms);

/* The source commit: $VS_GIT_COMMIT if set, else `git rev-parse --short HEAD`
 * at configure time, else "unknown". */
const char *vs_bench_commit(void);
/* "2026-11-24T10:34:50Z". */
char *vs_bench_format_date(char *buf, size_t size, time_t t);

typedef struct vs_bench_report vs_bench_report;

/* Records the benchmark's name, the command line (argv, shell-quoted where
 * needed), the device (vs_cuda_device_name()), the commit and the date now. */
vs_status vs_bench_report_create(vs_bench_report **out, const char *benchmark, int argc, char *const *argv);
void vs_bench_report_free(vs_bench_report *report);
/* For CPU benchmarks in a CUDA build, or a more specific description. */
vs_status vs_bench_report_set_device(vs_bench_report *report, const char *device);
/* Starts a result row with the statistics; the calls below add to the last row. */
vs_status vs_bench_report_add(vs_bench_report *report, const char *name, const vs_bench_stats *stats);
/* Non-finite values are written as null. */
vs_status vs_bench_report_number(vs_bench_report *report, const char *key, double value);
vs_status vs_bench_report_string(vs_bench_report *report, const char *key, const char *value);

/* Writes the results file atomically (a temporary file renamed over `path`). */
vs_status vs_bench_json(const vs_bench_report *report, const char *path);

#ifdef __cplusplus
}
#endif
#endif
