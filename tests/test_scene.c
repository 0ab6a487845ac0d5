/* The scene checker, the video reader and the quality metrics, on the data
 * generator's own clips (tests/data/scenes, written by tools/tiny_data.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/status.h"
#include "eval/metrics.h"
#include "eval/scene.h"
#include "io/video.h"

static const char *const clips[][2] = {
    {"tests/data/scenes/clip0.y4m", "a red circle moving left on a blue background"},
    {"tests/data/scenes/clip1.y4m", "two yellow squares moving up on a black background"},
    {"tests/data/scenes/clip2.y4m", "three white triangles moving right on a green background"},
    {"tests/data/scenes/clip3.y4m", "a orange square moving down on a purple background"},
    {"tests/data/scenes/clip4.y4m", "two black circles moving right on a yellow background"},
    {"tests/data/scenes/clip5.y4m", "a purple triangle moving up on a white background"},
};
enum { CLIPS = sizeof clips / sizeof clips[0] };

TEST(parse_prompts) {
    vs_scene s;
    CHECK_OK(vs_scene_parse("Two Yellow squares, moving UP on a black background.", &s));
    CHECK(s.count == 2 && s.colour == 3 && s.shape == 1 && s.direction == 2 && s.background == 5);
    CHECK_OK(vs_scene_parse("a circle", &s));
    CHECK(s.count == 1 && s.shape == 0 && s.colour < 0 && s.direction < 0 && s.background < 0);
    CHECK_OK(vs_scene_parse("something on a green background", &s));
    CHECK(s.count < 0 && s.background == 1 && s.colour < 0);
    CHECK_FAILS(vs_scene_parse("a cat riding a skateboard", &s), VS_ERR_INVALID_ARG, "names no count");
    char buf[128];
    vs_scene e = {3, 6, 2, 1, 4};
    vs_scene_caption(&e, buf, sizeof buf);
    CHECK(!strcmp(buf, "three purple triangles moving right on a white background"));
    CHECK_OK(vs_scene_parse(buf, &s));
    CHECK(!memcmp(&s, &e, sizeof s));
    return 0;
}

TEST(eval_prompts_cover_the_grammar) {
    int seen_count[4] = {0}, seen_shape[3] = {0}, seen_dir[4] = {0}, seen_colour[8] = {0};
    for (int i = 0; i < 64; i++) {
        vs_scene s, t;
        vs_scene_eval_prompt(i, &s);
        vs_scene_eval_prompt(i, &t);
        CHECK(!memcmp(&s, &t, sizeof s));
        CHECK(s.count >= 1 && s.count <= 3 && s.background != s.colour && s.background >= 0 && s.background < 8);
        seen_count[s.count]++, seen_shape[s.shape]++, seen_dir[s.direction]++, seen_colour[s.colour]++;
    }
    for (int i = 1; i < 4; i++) CHECK(seen_count[i] > 0);
    for (int i = 0; i < 3; i++) CHECK(seen_shape[i] > 0);
    for (int i = 0; i < 4; i++) CHECK(seen_dir[i] > 0);
    for (int i = 0; i < 8; i++) CHECK(seen_colour[i] > 0);
    return 0;
}

TEST(generator_clips_match_their_prompts) {
    for (int i = 0; i < CLIPS; i++) {
        vs_tensor *v = vs_test_tensor();
        CHECK_OK(vs_video_read(clips[i][0], v));
        CHECK(v->dtype == VS_U8 && v->shape[0] == 16 && v->shape[1] == 32 && v->shape[2] == 32 && v->shape[3] == 3);
        vs_scene_check c;
        CHECK_OK(vs_scene_check_video(v, clips[i][1], &c));
        CHECK_MSG(c.checked == 5 && c.matched == 5, "%s: %d of %d", clips[i][0], c.matched, c.checked);
    }
    return 0;
}

TEST(wrong_prompts_do_not_match) {
    vs_tensor *v = vs_test_tensor();
    CHECK_OK(vs_video_read(clips[1][0], v)); /* two yellow squares moving up on black */
    vs_scene_check c;
    CHECK_OK(vs_scene_check_video(v, "three red circles moving down on a white background", &c));
    CHECK(c.checked == 5 && c.matched == 0);
    CHECK_OK(vs_scene_check_video(v, "yellow squares", &c));
    CHECK(c.checked == 2 && c.matched == 2 && c.match[0] == -1);
    return 0;
}

TEST(plain_frames_have_no_object) {
    uint8_t rgb[4 * 8 * 8 * 3];
    for (int i = 0; i < 4 * 8 * 8; i++) rgb[3 * i] = 40, rgb[3 * i + 1] = 180, rgb[3 * i + 2] = 60;
    vs_scene s;
    CHECK_OK(vs_scene_analyze(rgb, 4, 8, 8, &s));
    CHECK(s.background == 1 && s.count == 0 && s.colour < 0 && s.shape < 0 && s.direction < 0);
    return 0;
}

/* Writes `bytes` to a temporary file named *.y4m and reads it back. */
static vs_status read_bytes(const char *bytes, size_t n, vs_tensor *out) {
    char path[] = "/tmp/vs_test_scene_XXXXXX.y4m";
    int fd = mkstemps(path, 4);
    if (fd < 0) return vs_fail(VS_ERR_IO, "mkstemps");
    ssize_t w = write(fd, bytes, n);
    close(fd);
    vs_status s = w == (ssize_t)n ? vs_video_read(path, out) : VS_ERR_IO;
    remove(path);
    return s;
}

TEST(y4m_reader_round_trip_and_bad_input) {
    /* vs_video_write then vs_video_read: colours survive up to 4:2:0 of flat areas and rounding. */
    uint8_t rgb[2 * 4 * 6 * 3];
    for (int i = 0; i < 2 * 4 * 6; i++) rgb[3 * i] = 200, rgb[3 * i + 1] = 30, rgb[3 * i + 2] = (uint8_t)(100 + i % 2);
    vs_tensor in = vs_tensor_view(rgb, VS_U8, VS_CPU, 4, (int64_t[]){2, 4, 6, 3}), *back = vs_test_tensor(), out;
    char path[] = "/tmp/vs_test_scene_rt_XXXXXX.y4m";
    int fd = mkstemps(path, 4);
    CHECK(fd >= 0);
    close(fd);
    vs_test_remove(path);
    CHECK_OK(vs_video_write(path, &in, 8));
    CHECK_OK(vs_video_read(path, back));
    CHECK(back->shape[0] == 2 && back->shape[1] == 4 && back->shape[2] == 6);
    const uint8_t *o = back->data;
    for (int i = 0; i < 2 * 4 * 6 * 3; i++) CHECK_MSG(abs(o[i] - rgb[i]) <= 3, "value %d: %d vs %d", i, o[i], rgb[i]);

    static const char bad_magic[] = "YUV4MPEG W2 H2\nFRAME\n......";
    CHECK_FAILS(read_bytes(bad_magic, sizeof bad_magic - 1, &out), VS_ERR_FORMAT, "not a YUV4MPEG2");
    static const char truncated[] = "YUV4MPEG2 W4 H2 F8:1 C420jpeg\nFRAME\n0123456789";
    CHECK_FAILS(read_bytes(truncated, sizeof truncated - 1, &out), VS_ERR_FORMAT, "truncated");
    static const char no_frames[] = "YUV4MPEG2 W4 H2 F8:1\n";
    CHECK_FAILS(read_bytes(no_frames, sizeof no_frames - 1, &out), VS_ERR_FORMAT, "no frames");
    static const char huge[] = "YUV4MPEG2 W99999999 H2\n";
    CHECK_FAILS(read_bytes(huge, sizeof huge - 1, &out), VS_ERR_FORMAT, "frame size");
    static const char garbage[] = "YUV4MPEG2 W2 H2 C420jpeg\nFRAM\n\1\2\3\4\5\6";
    CHECK_FAILS(read_bytes(garbage, sizeof garbage - 1, &out), VS_ERR_FORMAT, "FRAME");
    static const char c10[] = "YUV4MPEG2 W2 H2 C420p10\nFRAME\n";
    CHECK_FAILS(read_bytes(c10, sizeof c10 - 1, &out), VS_ERR_UNSUPPORTED, "C420p10");
    CHECK_FAILS(vs_video_read("tests/data/scenes/missing.y4m", &out), VS_ERR_NOT_FOUND, "missing.y4m");
    CHECK_FAILS(vs_video_read("tests/data/scenes/prompts.json", &out), VS_ERR_INVALID_ARG, "format");
    return 0;
}

TEST(psnr_and_ssim) {
    vs_tensor *a = vs_test_tensor(), *b = vs_test_tensor(), *c = vs_test_tensor();
    CHECK_OK(vs_video_read(clips[0][0], a));
    CHECK_OK(vs_video_read(clips[0][0], b));
    double psnr, ssim;
    CHECK_OK(vs_video_psnr(a, b, &psnr));
    CHECK(isinf(psnr) && psnr > 0);
    CHECK_OK(vs_video_ssim(a, b, &ssim));
    CHECK(fabs(ssim - 1.0) < 1e-12);
    /* A constant offset of 5 everywhere: MSE 25, PSNR 10 log10(255^2 / 25) = 34.15 dB. */
    uint8_t *p = b->data;
    for (int64_t i = 0; i < vs_tensor_numel(b); i++) p[i] = (uint8_t)(p[i] < 250 ? p[i] + 5 : p[i] - 5);
    CHECK_OK(vs_video_psnr(a, b, &psnr));
    CHECK_MSG(fabs(psnr - 34.1514) < 1e-3, "psnr %f", psnr);
    CHECK_OK(vs_video_ssim(a, b, &ssim));
    CHECK(ssim > 0.9 && ssim < 1.0);
    CHECK_OK(vs_video_read(clips[1][0], c));
    CHECK_OK(vs_video_ssim(a, c, &ssim));
    CHECK(ssim < 0.9);
    vs_tensor small = vs_tensor_view(p, VS_U8, VS_CPU, 4, (int64_t[]){1, 8, 8, 3});
    CHECK_FAILS(vs_video_ssim(&small, &small, &ssim), VS_ERR_SHAPE, "window");
    CHECK_FAILS(vs_video_psnr(&small, a, &psnr), VS_ERR_SHAPE, "reference");
    return 0;
}

TEST(frames_to_u8) {
    float f[1 * 3 * 1 * 2] = {-1.0f, 1.0f, 0.0f, 2.0f, -3.0f, NAN};
    vs_tensor in = vs_tensor_view(f, VS_F32, VS_CPU, 4, (int64_t[]){1, 3, 1, 2}), *out = vs_test_tensor();
    CHECK_OK(vs_video_frames_u8(&in, out));
    const uint8_t *o = out->data; /* [1, 1, 2, 3]: pixel 0 = (-1, 0, -3), pixel 1 = (1, 2, NaN) */
    CHECK(o[0] == 0 && o[1] == 128 && o[2] == 0 && o[3] == 255 && o[4] == 255 && o[5] == 0);
    return 0;
}

RUN_TESTS(T(parse_prompts), T(eval_prompts_cover_the_grammar), T(generator_clips_match_their_prompts),
          T(wrong_prompts_do_not_match), T(plain_frames_have_no_object), T(y4m_reader_round_trip_and_bad_input),
          T(psnr_and_ssim), T(frames_to_u8))
