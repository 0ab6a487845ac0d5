/* The public pipeline (vidsparse.h) on the embedded tiny model, on the CPU, at
 * a reduced size; this file uses the public header alone. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "vidsparse.h"

static void free_pipeline(void *p) { vs_pipeline_free(p); }
static void free_video(void *v) { vs_video_free(v); }

/* What the callbacks saw and did. */
typedef struct {
    int calls, last_step, steps;
    int cancel_at;        /* the progress callback returns 1 at this step (0: never) */
    atomic_int step_done; /* for the cancelling thread: a step has finished */
    atomic_int cancelled; /* the cancelling thread has called vs_pipeline_cancel */
    vs_pipeline *pipeline;
    int log_lines;
} observer;

static int on_progress(void *user, int step, int steps) {
    observer *o = user;
    o->calls++;
    o->last_step = step, o->steps = steps;
    if (step == 1) {
        /* Hand over to the cancelling thread (when there is one) and wait until it has cancelled. */
        atomic_store(&o->step_done, 1);
        while (o->pipeline && !atomic_load(&o->cancelled))
            nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return step == o->cancel_at;
}

static void on_log(void *user, vs_log_level level, const char *message) {
    observer *o = user;
    if (level <= VS_LOG_INFO && *message) o->log_lines++;
}

static vs_status load(vs_pipeline **p, observer *o, const char *method) {
    vs_pipeline_params params = vs_pipeline_default_params();
    params.device = VS_PIPELINE_CPU;
    params.attention.method = method;
    params.progress = on_progress;
    params.progress_user = o;
    return vs_pipeline_load(p, NULL, &params);
}

static vs_generate_request small_request(void) {
    vs_generate_request r = vs_generate_default_request();
    r.prompt = "a red circle moving right on a blue background";
    r.frames = 2, r.height = 16, r.width = 16, r.steps = 2, r.seed = 7;
    return r;
}

TEST(loads_with_defaults_and_generates) {
    CHECK(!strcmp(vs_status_name(VS_ERR_CANCELLED), "cancelled"));
    observer o = {0};
    vs_pipeline_params params = vs_pipeline_default_params();
    CHECK(params.device == VS_PIPELINE_AUTO && !strcmp(params.attention.method, "svg") &&
          params.attention.density < 0);
    params.device = VS_PIPELINE_CPU;
    params.progress = on_progress, params.progress_user = &o;
    params.log = on_log, params.log_user = &o;
    vs_pipeline *p;
    CHECK_OK(vs_pipeline_load(&p, NULL, &params));
    vs_test_defer(free_pipeline, p);
    CHECK(o.log_lines > 0); /* the loader's info lines came through the callback */
    const vs_pipeline_info info = vs_pipeline_get_info(p);
    CHECK(strstr(info.model_dir, "vidsparse-tiny") != NULL && info.device == VS_CPU && info.pixel_space);
    CHECK(info.frames == 16 && info.height == 32 && info.width == 32 && info.steps == 20 && info.fps == 8 &&
          info.guidance == 4.0f);
    /* The model's SVG settings (vidsparse.json), svg_dense_layers at the reference's 0.03. */
    CHECK(!strcmp(info.attention.method, "svg") && info.attention.density == 0.4 &&
          fabs(info.attention.dense_steps - 0.4) < 1e-6 && fabs(info.attention.dense_layers - 0.03) < 1e-6);

    vs_generate_request r = small_request();
    vs_video *v = NULL;
    CHECK_OK(vs_pipeline_generate(p, &r, &v));
    vs_test_defer(free_video, v);
    CHECK(v && v->frames == 2 && v->height == 16 && v->width == 16 && v->fps == 8 && v->rgb);
    CHECK(o.calls == 2 && o.last_step == 2 && o.steps == 2);
    const vs_pipeline_stats st = vs_pipeline_get_stats(p);
    CHECK(st.load_s > 0 && st.denoise_s > 0 && st.dit_s > 0 && st.attention_s > 0 &&
          st.attention_s <= st.dit_s);
    /* 0.4 of 2 steps and 0.03 of 4 layers round down to none dense: every (CFG entry, layer, step, head)
     * profiled. */
    CHECK_MSG(st.heads_spatial + st.heads_temporal == 2 * 4 * 2 * 2, "%lld + %lld",
              (long long)st.heads_spatial, (long long)st.heads_temporal);
    return 0;
}

TEST(cancel_from_the_progress_callback) {
    observer o = {0};
    o.cancel_at = 1;
    vs_pipeline *p;
    CHECK_OK(load(&p, &o, "dense"));
    vs_test_defer(free_pipeline, p);
    vs_generate_request r = small_request();
    r.steps = 3;
    vs_video *v = (vs_video *)&o; /* anything: a failed generate sets it to NULL */
    CHECK_FAILS(vs_pipeline_generate(p, &r, &v), VS_ERR_CANCELLED, "generation cancelled at step 1 of 3");
    CHECK(v == NULL && o.calls == 1);
    /* The next generate runs whole. */
    o.cancel_at = 0, o.calls = 0;
    CHECK_OK(vs_pipeline_generate(p, &r, &v));
    vs_test_defer(free_video, v);
    CHECK(v && o.calls == 3);
    return 0;
}

static void *cancel_after_first_step(void *arg) {
    observer *o = arg;
    while (!atomic_load(&o->step_done))
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    vs_pipeline_cancel(o->pipeline);
    atomic_store(&o->cancelled, 1);
    return NULL;
}

TEST(cancel_from_another_thread) {
    observer o = {0};
    vs_pipeline *p;
    CHECK_OK(load(&p, &o, "dense"));
    vs_test_defer(free_pipeline, p);
    /* A cancel before a generate begins does not count. */
    vs_pipeline_cancel(p);
    o.pipeline = p;
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, cancel_after_first_step, &o) == 0);
    vs_generate_request r = small_request();
    r.steps = 4;
    vs_video *v = NULL;
    const vs_status s = vs_pipeline_generate(p, &r, &v);
    pthread_join(thread, NULL);
    CHECK_MSG(s == VS_ERR_CANCELLED, "%s: %s", vs_status_name(s), vs_last_error());
    CHECK(strstr(vs_last_error(), "cancelled at step 2 of 4") != NULL && v == NULL && o.calls == 1);
    return 0;
}

TEST(bad_params_and_requests) {
    observer o = {0};
    vs_pipeline *p = (vs_pipeline *)&o;
    CHECK_FAILS(load(&p, &o, "flash"), VS_ERR_INVALID_ARG, "attention method 'flash'");
    CHECK(p == NULL);
    vs_pipeline_params params = vs_pipeline_default_params();
    params.device = VS_PIPELINE_CPU;
    params.attention.density = 1.5;
    CHECK_FAILS(vs_pipeline_load(&p, NULL, &params), VS_ERR_INVALID_ARG, "density must be in (0, 1]");
    params = vs_pipeline_default_params();
    params.device = (vs_pipeline_device)7;
    CHECK_FAILS(vs_pipeline_load(&p, NULL, &params), VS_ERR_INVALID_ARG, "device 7");
    CHECK_FAILS(vs_pipeline_load(&p, "tests/data/no-such-model", NULL), VS_ERR_NOT_FOUND, "no-such-model");

    CHECK_OK(load(&p, &o, "dense"));
    vs_test_defer(free_pipeline, p);
    vs_video *v = NULL;
    vs_generate_request r = small_request();
    r.prompt = NULL;
    CHECK_FAILS(vs_pipeline_generate(p, &r, &v), VS_ERR_INVALID_ARG, "no prompt");
    r = small_request(), r.width = -16;
    CHECK_FAILS(vs_pipeline_generate(p, &r, &v), VS_ERR_INVALID_ARG, "width must be in [1, 16384]");
    r = small_request(), r.steps = 20000;
    CHECK_FAILS(vs_pipeline_generate(p, &r, &v), VS_ERR_INVALID_ARG, "steps must be in [1, 10000]");
    r = small_request(), r.guidance = NAN;
    CHECK_FAILS(vs_pipeline_generate(p, &r, &v), VS_ERR_INVALID_ARG, "guidance");
    r = small_request(), r.height = 15;
    CHECK_FAILS(vs_pipeline_generate(p, &r, &v), VS_ERR_INVALID_ARG, "multiples of 2");
    CHECK_MSG(v == NULL && o.calls == 0, "%p %d", (void *)v, o.calls);
    CHECK_FAILS(vs_pipeline_generate(p, NULL, &v), VS_ERR_INVALID_ARG, "none given");
    return 0;
}

/* Deterministic values, not a Gaussian: any initial latents will do. */
static void fill(vs_tensor *t, uint32_t state) {
    float *x = t->data;
    for (int64_t i = 0; i < vs_tensor_numel(t); i++) {
        state = state * 1664525u + 1013904223u;
        x[i] = (float)(state >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
}

TEST(initial_noise) {
    observer o = {0};
    vs_pipeline *p;
    CHECK_OK(load(&p, &o, "dense"));
    vs_test_defer(free_pipeline, p);
    vs_generate_request r = small_request();
    int64_t shape[5];
    CHECK_OK(vs_pipeline_latent_shape(p, &r, shape));
    CHECK(shape[0] == 1 && shape[1] == 3 && shape[2] == 2 && shape[3] == 16 && shape[4] == 16);
    vs_tensor *noise = vs_test_tensor(), *other = vs_test_tensor();
    CHECK_OK(vs_tensor_alloc(noise, VS_F32, VS_CPU, 5, shape));
    fill(noise, 1);
    r.noise = noise;
    vs_video *a = NULL, *b = NULL, *seeded = NULL;
    CHECK_OK(vs_pipeline_generate(p, &r, &a));
    vs_test_defer(free_video, a);
    r.seed = 99; /* ignored with initial noise */
    CHECK_OK(vs_pipeline_generate(p, &r, &b));
    vs_test_defer(free_video, b);
    const size_t bytes = (size_t)a->frames * (size_t)a->height * (size_t)a->width * 3;
    CHECK(!memcmp(a->rgb, b->rgb, bytes));
    r.noise = NULL;
    CHECK_OK(vs_pipeline_generate(p, &r, &seeded));
    vs_test_defer(free_video, seeded);
    CHECK(memcmp(a->rgb, seeded->rgb, bytes) != 0);

    /* A wrong shape fails naming both shapes, and leaves no video. */
    shape[4] = 8;
    CHECK_OK(vs_tensor_alloc(other, VS_F32, VS_CPU, 5, shape));
    r.noise = other;
    vs_video *c = NULL;
    CHECK_FAILS(vs_pipeline_generate(p, &r, &c), VS_ERR_SHAPE,
                "[1, 3, 2, 16, 16] for this request, got host F32 [1, 3, 2, 16, 8]");
    CHECK(c == NULL);
    return 0;
}

/* vs_video_save on frames the caller made: the format from the name, fps 0 takes the video's, and
 * failures leave no file. */
TEST(saves_a_video) {
    char dir[] = "/tmp/vs_test_save_XXXXXX", path[64], header[32] = {0};
    CHECK(mkdtemp(dir) != NULL);
    uint8_t rgb[2 * 8 * 6 * 3];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 7);
    const vs_video video = {2, 8, 6, 12, rgb};
    snprintf(path, sizeof path, "%s/out.y4m", dir);
    CHECK_OK(vs_video_save(&video, path, 0));
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK(fread(header, 1, sizeof header - 1, f) > 0);
    fclose(f);
    CHECK_MSG(!strncmp(header, "YUV4MPEG2 W6 H8 F12:1", 21), "header %s", header);
    remove(path);
    CHECK_FAILS(vs_video_save(NULL, path, 8), VS_ERR_INVALID_ARG, "no frames");
    CHECK_FAILS(vs_video_save(&video, NULL, 8), VS_ERR_INVALID_ARG, "no path");
    CHECK_FAILS(vs_video_save(&video, path, 1000), VS_ERR_INVALID_ARG, "frame rate 1000");
    snprintf(path, sizeof path, "%s/out.gif", dir);
    CHECK(vs_video_save(&video, path, 8) != VS_OK);
    CHECK(rmdir(dir) == 0); /* empty: nothing half-written */
    return 0;
}

static void count_quantised(void *user, vs_log_level level, const char *message) {
    (void)level;
    if (strstr(message, "quantised to FP8")) (*(int *)user)++;
}

TEST(fp8_weights) {
    /* The DiT is quantised as the pipeline loads it (docs/fp8.md); the video stays near the default's. */
    vs_pipeline_params params = vs_pipeline_default_params();
    params.device = VS_PIPELINE_CPU;
    params.attention.method = "dense";
    params.precision = (vs_precision)7;
    vs_pipeline *p = NULL;
    CHECK_FAILS(vs_pipeline_load(&p, NULL, &params), VS_ERR_INVALID_ARG, "precision 7");
    int quantised = 0;
    params.log = count_quantised, params.log_user = &quantised;
    vs_video *v[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        params.precision = i ? VS_PRECISION_FP8 : VS_PRECISION_DEFAULT;
        CHECK_OK(vs_pipeline_load(&p, NULL, &params));
        vs_test_defer(free_pipeline, p);
        CHECK_MSG(quantised == i, "%d quantisations after %d loads", quantised, i + 1);
        vs_generate_request r = small_request();
        CHECK_OK(vs_pipeline_generate(p, &r, &v[i]));
        vs_test_defer(free_video, v[i]);
    }
    const size_t n = (size_t)v[0]->frames * v[0]->height * v[0]->width * 3;
    double diff = 0;
    for (size_t i = 0; i < n; i++) diff += fabs((double)v[0]->rgb[i] - v[1]->rgb[i]);
    CHECK_MSG(diff / (double)n < 8.0, "mean |FP8 - default| %.2f of 255", diff / (double)n);
    return 0;
}

RUN_TESTS(T(loads_with_defaults_and_generates), T(cancel_from_the_progress_callback),
          T(cancel_from_another_thread), T(bad_params_and_requests), T(initial_noise), T(saves_a_video),
          T(fp8_weights))
