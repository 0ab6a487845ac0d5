#include "check.h"
#include "core/log.h"
#include "core/progress.h"

TEST(durations) {
    char b[32];
    CHECK(strcmp(vs_progress_format_duration(b, sizeof b, 0), "0:00") == 0);
    CHECK(strcmp(vs_progress_format_duration(b, sizeof b, 7.4), "0:07") == 0);
    CHECK(strcmp(vs_progress_format_duration(b, sizeof b, 59.6), "1:00") == 0);
    CHECK(strcmp(vs_progress_format_duration(b, sizeof b, 754), "12:34") == 0);
    CHECK(strcmp(vs_progress_format_duration(b, sizeof b, 3723), "1:02:03") == 0);
    CHECK(strcmp(vs_progress_format_duration(b, sizeof b, 100 * 3600.0), "100:00:00") == 0);
    CHECK(strcmp(vs_progress_format_duration(b, sizeof b, -1), "--:--") == 0);
    CHECK(strcmp(vs_progress_format_duration(b, sizeof b, NAN), "--:--") == 0);
    CHECK(strcmp(vs_progress_format_duration(b, sizeof b, INFINITY), "--:--") == 0);
    char tiny[4];
    CHECK(strcmp(vs_progress_format_duration(tiny, sizeof tiny, 754), "12:") == 0);
    return 0;
}

TEST(rates_switch_to_seconds_per_step_when_slow) {
    char b[32];
    CHECK(strcmp(vs_progress_format_rate(b, sizeof b, 10, 4.0), "2.50 it/s") == 0);
    CHECK(strcmp(vs_progress_format_rate(b, sizeof b, 1000, 2.0), "500.0 it/s") == 0);
    CHECK(strcmp(vs_progress_format_rate(b, sizeof b, 4, 18.24), "4.56 s/it") == 0);
    CHECK(strcmp(vs_progress_format_rate(b, sizeof b, 0, 3.0), "-- it/s") == 0);
    CHECK(strcmp(vs_progress_format_rate(b, sizeof b, 3, 0.0), "-- it/s") == 0);
    return 0;
}

TEST(status_lines) {
    char b[256];
    vs_progress_format_line(b, sizeof b, "denoise", 9, 20, 13.68, 20);
    CHECK_MSG(strcmp(b, "denoise [#########-----------]  9/20  1.52 s/it  ETA 0:17") == 0, "%s", b);
    vs_progress_format_line(b, sizeof b, "vae", 50, 50, 5.0, 4);
    CHECK_MSG(strcmp(b, "vae [####] 50/50  10.00 it/s  ETA 0:00") == 0, "%s", b);
    vs_progress_format_line(b, sizeof b, "load", 0, 7, 0.5, 0);
    CHECK_MSG(strcmp(b, "load 0/7  -- it/s  ETA --:--") == 0, "%s", b);
    vs_progress_format_line(b, sizeof b, "scan", 12, 0, 3.0, 10);
    CHECK_MSG(strcmp(b, "scan 12  4.00 it/s  0:03") == 0, "%s", b);
    vs_progress_format_line(b, sizeof b, "big", 5, 3, 1.0, 500); /* clamped, no overflow */
    CHECK(strstr(b, "3/3") != NULL);
    return 0;
}

TEST(reporter_runs_and_can_be_silenced) {
    vs_progress *p = vs_progress_start("test", 3);
    CHECK(p != NULL);
    for (int i = 1; i <= 3; i++) vs_progress_update(p, i);
    vs_progress_finish(p);
    vs_log_set_level(VS_LOG_ERROR);
    CHECK(vs_progress_start("quiet", 3) == NULL);
    vs_progress_update(NULL, 1);
    vs_progress_finish(NULL);
    vs_log_set_level(VS_LOG_INFO);
    return 0;
}

RUN_TESTS(T(durations), T(rates_switch_to_seconds_per_step_when_slow), T(status_lines),
          T(reporter_runs_and_can_be_silenced))
