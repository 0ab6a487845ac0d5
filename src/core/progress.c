#include "core/progress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define BAR_WIDTH 24
#define PLAIN_INTERVAL_S 2.0 /* between lines when stderr is not a terminal */
#define TTY_INTERVAL_S 0.1   /* between redraws on a terminal */

struct vs_progress {
    char label[64];
    int64_t total, done;
    double start, last_print;
    int tty;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

char *vs_progress_format_duration(char *buf, size_t size, double seconds) {
    if (!isfinite(seconds) || seconds < 0 || seconds > 1e8) {
        snprintf(buf, size, "--:--");
        return buf;
    }
    long long s = llround(seconds);
    if (s >= 3600) snprintf(buf, size, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(buf, size, "%lld:%02lld", s / 60, s % 60);
    return buf;
}

char *vs_progress_format_rate(char *buf, size_t size, int64_t steps, double seconds) {
    if (steps <= 0 || !(seconds > 0)) snprintf(buf, size, "-- it/s");
    else if (seconds > (double)steps) snprintf(buf, size, "%.2f s/it", seconds / (double)steps);
    else snprintf(buf, size, "%.*f it/s", steps >= 100 * seconds ? 1 : 2, (double)steps / seconds);
    return buf;
}

char *vs_progress_format_line(char *buf, size_t size, const char *label, int64_t done, int64_t total,
                              double elapsed, int bar_width) {
    char rate[32], eta[32], bar[132] = "";
    vs_progress_format_rate(rate, sizeof rate, done, elapsed);
    if (total <= 0) {
        snprintf(buf, size, "%s %lld  %s  %s", label, (long long)done, rate,
                 vs_progress_format_duration(eta, sizeof eta, elapsed));
        return buf;
    }
    if (done > total) done = total;
    if (done < 0) done = 0;
    if (bar_width > 0) {
        if (bar_width > 128) bar_width = 128;
        int filled = (int)(bar_width * done / total);
        bar[0] = '[';
        for (int i = 0; i < bar_width; i++) bar[1 + i] = i < filled ? '#' : '-';
        bar[bar_width + 1] = ']';
        bar[bar_width + 2] = ' ';
        bar[bar_width + 3] = '\0';
    }
    int digits = snprintf(NULL, 0, "%lld", (long long)total);
    double remaining = done > 0 ? elapsed / (double)done * (double)(total - done) : NAN;
    snprintf(buf, size, "%s %s%*lld/%lld  %s  ETA %s", label, bar, digits, (long long)done, (long long)total, rate,
             vs_progress_format_duration(eta, sizeof eta, remaining));
    return buf;
}

static void print(vs_progress *p, int final) {
    char line[256];
    double elapsed = now_seconds() - p->start;
    if (final) {
        char took[32], rate[32];
        snprintf(line, sizeof line, "%s %lld/%lld done in %s (%s)", p->label, (long long)p->done,
                 (long long)(p->total > 0 ? p->total : p->done), vs_progress_format_duration(took, sizeof took, elapsed),
                 vs_progress_format_rate(rate, sizeof rate, p->done, elapsed));
    } else {
        vs_progress_format_line(line, sizeof line, p->label, p->done, p->total, elapsed, p->tty ? BAR_WIDTH : 0);
    }
    /* On a terminal: return to column 0, draw, clear what a longer previous line left. */
    if (p->tty) fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
    fflush(stderr);
    p->last_print = elapsed;
}

vs_progress *vs_progress_start(const char *label, int64_t total) {
    if (vs_log_get_level() < VS_LOG_INFO) return NULL;
    vs_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total;
    p->start = now_seconds();
    p->tty = isatty(STDERR_FILENO);
    if (p->tty) print(p, 0);
    return p;
}

void vs_progress_update(vs_progress *p, int64_t done) {
    if (!p) return;
    p->done = done;
    double elapsed = now_seconds() - p->start;
    if (elapsed - p->last_print >= (p->tty ? TTY_INTERVAL_S : PLAIN_INTERVAL_S)) print(p, 0);
}

void vs_progress_finish(vs_progress *p) {
    if (!p) return;
    print(p, 1);
    free(p);
}
