#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/bench.h"
#include "core/device_info.h"

TEST(statistics) {
    const float odd[5] = {4, 1, 3, 5, 2};
    vs_bench_stats s;
    CHECK_OK(vs_bench_summarize(odd, 5, &s));
    CHECK(s.count == 5 && s.median_ms == 3 && s.min_ms == 1 && s.max_ms == 5 && s.mean_ms == 3);
    CHECK(fabs(s.stddev_ms - sqrt(2.5)) < 1e-12);
    const float even[4] = {10, 2, 4, 8};
    CHECK_OK(vs_bench_summarize(even, 4, &s));
    CHECK(s.median_ms == 6 && s.mean_ms == 6);
    CHECK(odd[0] == 4); /* the samples are not reordered */
    CHECK_OK(vs_bench_summarize(odd, 1, &s));
    CHECK(s.median_ms == 4 && s.stddev_ms == 0);
    CHECK_FAILS(vs_bench_summarize(odd, 0, &s), VS_ERR_INVALID_ARG, "at least one sample");
    return 0;
}

/* Timed steps: one dense (plans: 9 s) and three sparse (the first 5 s, then 3 and 4): the reference's 50-step
 * schedule with 10 dense steps is 10 x 9 + 40 x 3.5 s. */
TEST(schedule_extrapolation) {
    const float ms[4] = {9000, 5000, 3000, 4000};
    vs_bench_schedule x = vs_bench_estimate_schedule(ms, 4, 0.25, 50, 0.2);
    CHECK(!x.missing && x.dense_steps == 10 && x.dense_step_ms == 9000 && x.sparse_step_ms == 3500);
    CHECK(fabs(x.steps_s - (10 * 9.0 + 40 * 3.5)) < 1e-9);
    /* two dense steps timed: the second stands for them */
    const float two_dense[4] = {12000, 8000, 5000, 3000};
    x = vs_bench_estimate_schedule(two_dense, 4, 0.5, 50, 0.2);
    CHECK(x.dense_step_ms == 8000 && x.sparse_step_ms == 3000);
    /* all dense (dense attention): every step one kind */
    x = vs_bench_estimate_schedule(ms, 4, 1.0, 50, 1.0);
    CHECK(!x.missing && x.dense_steps == 50 && fabs(x.dense_step_ms - 4000) < 1e-9);
    /* the schedule wants dense steps and none was timed, or sparse ones and all were dense */
    CHECK(vs_bench_estimate_schedule(ms, 2, 0.2, 50, 0.2).missing != NULL);
    CHECK(vs_bench_estimate_schedule(ms, 2, 1.0, 50, 0.2).missing != NULL);
    CHECK(!vs_bench_estimate_schedule(ms, 2, 0.2, 50, 0.0).missing);
    return 0;
}

static void spin(void *ctx) {
    volatile double *x = ctx;
    for (int i = 0; i < 100000; i++) *x += 1e-3;
}

TEST(host_timing) {
    double x = 0;
    float ms[3];
    CHECK_OK(vs_bench_time_host(spin, &x, 1, 3, ms));
    CHECK(x > 399.0 && ms[0] > 0 && ms[2] > 0);
    CHECK_FAILS(vs_bench_time_host(spin, &x, 0, 0, ms), VS_ERR_INVALID_ARG, "repeats >= 1");
#if !VS_HAVE_CUDA
    CHECK_FAILS(vs_cuda_time(spin, &x, 0, 3, ms), VS_ERR_UNSUPPORTED, "no CUDA");
    CHECK(strcmp(vs_cuda_device_name(), "cpu") == 0);
#endif
    return 0;
}

TEST(dates_and_commit) {
    char b[32];
    CHECK(strcmp(vs_bench_format_date(b, sizeof b, 0), "1970-01-01T00:00:00Z") == 0);
    CHECK(strcmp(vs_bench_format_date(b, sizeof b, 1795516490), "2026-11-24T10:34:50Z") == 0);
    setenv("VS_GIT_COMMIT", "abc1234", 1);
    CHECK(strcmp(vs_bench_commit(), "abc1234") == 0);
    unsetenv("VS_GIT_COMMIT");
    CHECK(strlen(vs_bench_commit()) > 0);
    return 0;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void free_report(void *r) { vs_bench_report_free(r); }

TEST(results_file) {
    setenv("VS_GIT_COMMIT", "feedbee", 1);
    char *argv[] = {"vidsparse", "bench", "attention", "--label", "it's \"1.3B\"", "--n=3"};
    vs_bench_report *r;
    CHECK_OK(vs_bench_report_create(&r, "attention", 6, argv));
    vs_test_defer(free_report, r);
    unsetenv("VS_GIT_COMMIT");
    CHECK_OK(vs_bench_report_set_device(r, "test device"));
    CHECK_FAILS(vs_bench_report_number(r, "tflops", 1), VS_ERR_INVALID_ARG, "'tflops' added before any result row");
    const float ms[3] = {2.0f, 1.0f, 3.0f};
    vs_bench_stats s;
    CHECK_OK(vs_bench_summarize(ms, 3, &s));
    CHECK_OK(vs_bench_report_add(r, "dense", &s));
    CHECK_OK(vs_bench_report_number(r, "tflops", 512.25));
    CHECK_OK(vs_bench_report_number(r, "speedup", NAN));
    CHECK_OK(vs_bench_report_add(r, "sparse\tmixed", &s));
    CHECK_OK(vs_bench_report_string(r, "shape", "21x1560"));

    char path[64];
    snprintf(path, sizeof path, "/tmp/vs_test_bench_%ld.json", (long)getpid());
    vs_test_remove(path);
    CHECK_OK(vs_bench_json(r, path));
    const char *got = read_all(path);
    CHECK(got != NULL);
    const char *expect_head = "{\n  \"benchmark\": \"attention\",\n  \"device\": \"test device\",\n"
                              "  \"commit\": \"feedbee\",\n  \"date\": \"";
    const char *expect_tail =
        "\",\n  \"command\": \"vidsparse bench attention --label 'it'\\\\''s \\\"1.3B\\\"' --n=3\",\n"
        "  \"results\": [\n"
        "    {\"name\": \"dense\", \"median_ms\": 2, \"min_ms\": 1, \"mean_ms\": 2, \"stddev_ms\": 1, \"max_ms\": 3, "
        "\"repeats\": 3, \"tflops\": 512.25, \"speedup\": null},\n"
        "    {\"name\": \"sparse\\tmixed\", \"median_ms\": 2, \"min_ms\": 1, \"mean_ms\": 2, \"stddev_ms\": 1, "
        "\"max_ms\": 3, \"repeats\": 3, \"shape\": \"21x1560\"}\n"
        "  ]\n}\n";
    CHECK_MSG(strncmp(got, expect_head, strlen(expect_head)) == 0, "%s", got);
    const char *date = got + strlen(expect_head);
    CHECK_MSG(strlen(date) > 20 && date[4] == '-' && date[10] == 'T' && date[19] == 'Z', "%s", got);
    CHECK_MSG(strcmp(date + 20, expect_tail) == 0, "%s", got);
    /* An empty report is still a valid file; a bad directory is a clear error. */
    vs_bench_report *empty;
    CHECK_OK(vs_bench_report_create(&empty, "none", 0, NULL));
    vs_test_defer(free_report, empty);
    CHECK_OK(vs_bench_json(empty, path));
    CHECK(strstr(read_all(path), "\"command\": \"\",\n  \"results\": []\n}\n") != NULL);
    CHECK_FAILS(vs_bench_json(empty, "/nonexistent/dir/out.json"), VS_ERR_IO, "/nonexistent/dir/out.json");
    return 0;
}

RUN_TESTS(T(statistics), T(schedule_extrapolation), T(host_timing), T(dates_and_commit), T(results_file))
