#include "core/bench.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/device_info.h"

#ifndef VS_GIT_COMMIT
#define VS_GIT_COMMIT "unknown"
#endif

/* ---- statistics and timing ------------------------------------------------------ */

static int compare_floats(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

vs_status vs_bench_summarize(const float *samples_ms, int n, vs_bench_stats *out) {
    memset(out, 0, sizeof *out);
    if (n < 1 || !samples_ms) return vs_fail(VS_ERR_INVALID_ARG, "benchmark statistics need at least one sample");
    float *sorted = malloc(sizeof(float) * (size_t)n);
    if (!sorted) return vs_fail(VS_ERR_OOM, "out of memory sorting %d samples", n);
    memcpy(sorted, samples_ms, sizeof(float) * (size_t)n);
    qsort(sorted, (size_t)n, sizeof(float), compare_floats);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += sorted[i];
    double mean = sum / n, sq = 0;
    for (int i = 0; i < n; i++) sq += (sorted[i] - mean) * (sorted[i] - mean);
    out->count = n;
    out->min_ms = sorted[0];
    out->max_ms = sorted[n - 1];
    out->median_ms = n % 2 ? sorted[n / 2] : 0.5 * ((double)sorted[n / 2 - 1] + sorted[n / 2]);
    out->mean_ms = mean;
    out->stddev_ms = n > 1 ? sqrt(sq / (n - 1)) : 0.0;
    free(sorted);
    return VS_OK;
}

static double mean_after_first(const float *ms, int n) {
    double sum = 0;
    for (int i = n > 1; i < n; i++)
        sum += ms[i];
    return n > 0 ? sum / (n - (n > 1)) : 0.0;
}

vs_bench_schedule vs_bench_estimate_schedule(const float *step_ms, int timed, double timed_dense_fraction,
                                             int steps, double dense_fraction) {
    const int timed_dense = (int)floor((float)timed_dense_fraction * timed);
    vs_bench_schedule x = {.dense_steps = (int)floor((float)dense_fraction * steps)};
    x.dense_step_ms = mean_after_first(step_ms, timed_dense);
    x.sparse_step_ms = mean_after_first(step_ms + timed_dense, timed - timed_dense);
    if (x.dense_steps > 0 && timed_dense == 0) x.missing = "dense";
    if (steps > x.dense_steps && timed_dense == timed) x.missing = "sparse";
    x.steps_s = (x.dense_steps * x.dense_step_ms + (steps - x.dense_steps) * x.sparse_step_ms) / 1e3;
    return x;
}

double vs_bench_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

vs_status vs_bench_time_host(void (*fn)(void *ctx), void *ctx, int warmup, int repeats, float *samples_ms) {
    if (!fn || !samples_ms || warmup < 0 || repeats < 1)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "vs_bench_time_host: need a function, warmup >= 0 and repeats >= 1 (got %d, %d)", warmup,
                       repeats);
    for (int i = 0; i < warmup; i++) fn(ctx);
    for (int i = 0; i < repeats; i++) {
        double t0 = vs_bench_now_ms();
        fn(ctx);
        samples_ms[i] = (float)(vs_bench_now_ms() - t0);
    }
    return VS_OK;
}

const char *vs_bench_commit(void) {
    const char *env = getenv("VS_GIT_COMMIT");
    return env && *env ? env : VS_GIT_COMMIT;
}

char *vs_bench_format_date(char *buf, size_t size, time_t t) {
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) snprintf(buf, size, "unknown");
    return buf;
}

/* ---- the report: its JSON text is built as rows are added --------------------------- */

typedef struct {
    char *data;
    size_t len, cap;
    int failed; /* out of memory at some point: the text is incomplete */
} text;

static void append(text *t, const char *fmt, ...) VS_PRINTF(2, 3);
static void append(text *t, const char *fmt, ...) {
    if (t->failed) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->len + (size_t)n + 1) * 2;
        char *data = realloc(t->data, cap);
        if (!data) {
            t->failed = 1;
            return;
        }
        t->data = data;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A JSON string literal: quotes, backslashes and control characters escaped;
 * other bytes (UTF-8) pass through. */
static void append_string(text *t, const char *s) {
    append(t, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') append(t, "\\%c", *p);
        else if (*p == '\n') append(t, "\\n");
        else if (*p == '\t') append(t, "\\t");
        else if (*p < 0x20) append(t, "\\u%04x", *p);
        else append(t, "%c", *p);
    }
    append(t, "\"");
}

static void append_number(text *t, double v) {
    if (isfinite(v)) append(t, "%.9g", v);
    else append(t, "null");
}

/* Arguments made only of these characters need no shell quoting. */
static int shell_safe(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=/.,:@%", *s)) return 0;
    return 1;
}

struct vs_bench_report {
    char *benchmark, *device, *command;
    char commit[64], date[32];
    text rows;
    int row_count;
};

static vs_status report_oom(const char *what) { return vs_fail(VS_ERR_OOM, "benchmark report: out of memory (%s)", what); }

vs_status vs_bench_report_create(vs_bench_report **out, const char *benchmark, int argc, char *const *argv) {
    *out = NULL;
    if (!benchmark || !*benchmark) return vs_fail(VS_ERR_INVALID_ARG, "benchmark report: empty benchmark name");
    vs_bench_report *r = calloc(1, sizeof *r);
    if (!r) return report_oom("report");
    text cmd = {0};
    for (int i = 0; i < argc; i++) {
        if (i) append(&cmd, " ");
        if (shell_safe(argv[i])) {
            append(&cmd, "%s", argv[i]);
            continue;
        }
        append(&cmd, "'");
        for (const char *p = argv[i]; *p; p++)
            if (*p == '\'') append(&cmd, "'\\''"); /* close, escaped quote, reopen */
            else append(&cmd, "%c", *p);
        append(&cmd, "'");
    }
    append(&cmd, "%s", "");
    r->benchmark = strdup(benchmark);
    r->device = strdup(vs_cuda_device_name());
    r->command = cmd.data;
    if (cmd.failed || !r->benchmark || !r->device) {
        free(cmd.data);
        r->command = NULL;
        vs_bench_report_free(r);
        return report_oom("command line");
    }
    snprintf(r->commit, sizeof r->commit, "%s", vs_bench_commit());
    vs_bench_format_date(r->date, sizeof r->date, time(NULL));
    *out = r;
    return VS_OK;
}

void vs_bench_report_free(vs_bench_report *report) {
    if (!report) return;
    free(report->benchmark);
    free(report->device);
    free(report->command);
    free(report->rows.data);
    free(report);
}

vs_status vs_bench_report_set_device(vs_bench_report *report, const char *device) {
    char *copy = strdup(device ? device : "");
    if (!copy) return report_oom("device");
    free(report->device);
    report->device = copy;
    return VS_OK;
}

vs_status vs_bench_report_add(vs_bench_report *report, const char *name, const vs_bench_stats *stats) {
    text *t = &report->rows;
    append(t, "%s\n    {\"name\": ", report->row_count ? "}," : "");
    append_string(t, name ? name : "");
    const char *keys[] = {"median_ms", "min_ms", "mean_ms", "stddev_ms", "max_ms"};
    const double values[] = {stats->median_ms, stats->min_ms, stats->mean_ms, stats->stddev_ms, stats->max_ms};
    for (int i = 0; i < 5; i++) {
        append(t, ", \"%s\": ", keys[i]);
        append_number(t, values[i]);
    }
    append(t, ", \"repeats\": %d", stats->count);
    report->row_count++;
    return t->failed ? report_oom("results") : VS_OK;
}

static vs_status begin_field(vs_bench_report *report, const char *key) {
    if (report->row_count == 0)
        return vs_fail(VS_ERR_INVALID_ARG, "benchmark report: field '%s' added before any result row", key);
    append(&report->rows, ", ");
    append_string(&report->rows, key);
    append(&report->rows, ": ");
    return VS_OK;
}

vs_status vs_bench_report_number(vs_bench_report *report, const char *key, double value) {
    VS_TRY(begin_field(report, key));
    append_number(&report->rows, value);
    return report->rows.failed ? report_oom("results") : VS_OK;
}

vs_status vs_bench_report_string(vs_bench_report *report, const char *key, const char *value) {
    VS_TRY(begin_field(report, key));
    append_string(&report->rows, value ? value : "");
    return report->rows.failed ? report_oom("results") : VS_OK;
}

vs_status vs_bench_json(const vs_bench_report *report, const char *path) {
    text t = {0};
    append(&t, "{\n  \"benchmark\": ");
    append_string(&t, report->benchmark);
    append(&t, ",\n  \"device\": ");
    append_string(&t, report->device);
    append(&t, ",\n  \"commit\": ");
    append_string(&t, report->commit);
    append(&t, ",\n  \"date\": ");
    append_string(&t, report->date);
    append(&t, ",\n  \"command\": ");
    append_string(&t, report->command);
    append(&t, ",\n  \"results\": [");
    if (report->row_count) append(&t, "%s}\n  ", report->rows.data);
    append(&t, "]\n}\n");
    if (t.failed || report->rows.failed) {
        free(t.data);
        return report_oom("writing");
    }

    /* Write next to the target, then rename: readers see the old file or the whole new one. */
    size_t tmp_len = strlen(path) + 32;
    char *tmp = malloc(tmp_len);
    if (!tmp) {
        free(t.data);
        return report_oom("file name");
    }
    snprintf(tmp, tmp_len, "%s.tmp.%ld", path, (long)getpid());
    vs_status status = VS_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        status = vs_fail(VS_ERR_IO, "cannot write benchmark results %s: %s", tmp, strerror(errno));
    } else {
        int ok = fwrite(t.data, 1, t.len, f) == t.len && fflush(f) == 0 && fsync(fileno(f)) == 0;
        if (fclose(f) != 0) ok = 0;
        if (!ok) status = vs_fail(VS_ERR_IO, "cannot write benchmark results %s: %s", tmp, strerror(errno));
        else if (rename(tmp, path) != 0)
            status = vs_fail(VS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        if (status != VS_OK) unlink(tmp);
    }
    free(tmp);
    free(t.data);
    return status;
}
