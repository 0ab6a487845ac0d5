#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "io/video.h"

#if VS_HAVE_PNG
#include <png.h>
#endif
#if VS_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#endif

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) remove_tree(path);
        else remove(path);
    }
    closedir(d);
    rmdir(dir);
}

static void remove_tree_copy(void *dir) {
    remove_tree(dir);
    free(dir);
}

/* A fresh empty folder under /tmp for each test, removed with what it holds after the case. */
static char scratch[256];

static int make_scratch(void) {
    snprintf(scratch, sizeof scratch, "/tmp/vs_test_video_XXXXXX");
    if (!mkdtemp(scratch)) return 0;
    vs_test_defer(remove_tree_copy, strdup(scratch));
    return 1;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The file's bytes, freed after the case (NULL if it cannot be read). */
static unsigned char *read_all(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)*len + 1);
    if (buf && fread(buf, 1, (size_t)*len, f) != (size_t)*len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    vs_test_defer(free, buf);
    return buf;
}

/* u8 [T, H, W, 3] frames, each filled with one colour. */
static void fill_solid(uint8_t *rgb, int t, int h, int w, const uint8_t colours[][3]) {
    for (int i = 0; i < t; i++)
        for (int p = 0; p < h * w; p++) memcpy(rgb + ((size_t)i * h * w + p) * 3, colours[i], 3);
}

TEST(y4m_header_and_frames_are_exact) {
    CHECK(make_scratch());
    enum { T = 5, H = 3, W = 5 };
    /* white, black, red, green, blue: BT.601 studio-swing values worked out by hand. */
    static const uint8_t colours[T][3] = {{255, 255, 255}, {0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
    static const uint8_t yuv[T][3] = {{235, 128, 128}, {16, 128, 128}, {81, 90, 240}, {145, 54, 34}, {41, 240, 110}};
    static uint8_t rgb[T * H * W * 3];
    fill_solid(rgb, T, H, W, colours);
    int64_t shape[4] = {T, H, W, 3};
    vs_tensor frames = vs_tensor_view(rgb, VS_U8, VS_CPU, 4, shape);
    char path[300];
    snprintf(path, sizeof path, "%s/out.y4m", scratch);
    CHECK_OK(vs_video_write(path, &frames, 16));

    long len;
    unsigned char *data = read_all(path, &len);
    CHECK(data);
    const char *header = "YUV4MPEG2 W5 H3 F16:1 Ip A1:1 C420jpeg XCOLORRANGE=LIMITED\n";
    size_t hl = strlen(header);
    const int cw = 3, ch = 2; /* chroma planes round up for odd sizes */
    size_t frame_bytes = 6 + W * H + 2 * cw * ch;
    CHECK_MSG(len == (long)(hl + T * frame_bytes), "size %ld", len);
    CHECK(memcmp(data, header, hl) == 0);
    for (int i = 0; i < T; i++) {
        const unsigned char *f = data + hl + i * frame_bytes;
        CHECK(memcmp(f, "FRAME\n", 6) == 0);
        for (int p = 0; p < W * H; p++) CHECK_MSG(f[6 + p] == yuv[i][0], "frame %d Y %d", i, f[6 + p]);
        for (int p = 0; p < cw * ch; p++) {
            CHECK_MSG(f[6 + W * H + p] == yuv[i][1], "frame %d U %d", i, f[6 + W * H + p]);
            CHECK_MSG(f[6 + W * H + cw * ch + p] == yuv[i][2], "frame %d V", i);
        }
    }
    CHECK(count_entries(scratch) == 1); /* no temporary file left */
    return 0;
}

TEST(f32_frames_map_minus_one_to_one_onto_bytes) {
    /* Columns alternate red and green: a 2x2 chroma block averages the two. */
    enum { H = 2, W = 2 };
    float f[3 * H * W];
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            f[0 * H * W + y * W + x] = x == 0 ? 1.0f : -1.0f;
            f[1 * H * W + y * W + x] = x == 0 ? -1.5f : 2.0f; /* clamped */
            f[2 * H * W + y * W + x] = -1.0f;
        }
    }
    CHECK(make_scratch());
    int64_t shape[4] = {1, 3, H, W};
    vs_tensor frames = vs_tensor_view(f, VS_F32, VS_CPU, 4, shape);
    char path[300];
    snprintf(path, sizeof path, "%s/rg.y4m", scratch);
    CHECK_OK(vs_video_write(path, &frames, 24));
    long len;
    unsigned char *data = read_all(path, &len);
    CHECK(data);
    const char *header = "YUV4MPEG2 W2 H2 F24:1 Ip A1:1 C420jpeg XCOLORRANGE=LIMITED\nFRAME\n";
    size_t hl = strlen(header);
    CHECK(len == (long)hl + 6 && memcmp(data, header, hl) == 0);
    const unsigned char *p = data + hl;
    /* Y: red 81, green 145; Cb = 128 + (-37.797 - 74.203)/2 = 72; Cr = 128 + (112 - 93.786)/2 = 137.1. */
    CHECK(p[0] == 81 && p[1] == 145 && p[2] == 81 && p[3] == 145);
    CHECK_MSG(p[4] == 72 && p[5] == 137, "U %d V %d", p[4], p[5]);
    /* 0.0 lands on 128 (127.5 rounded up). */
    uint8_t rgb[3];
    float grey[3] = {0, 0, 0};
    int64_t one[4] = {1, 3, 1, 1};
    vs_tensor g = vs_tensor_view(grey, VS_F32, VS_CPU, 4, one);
    snprintf(path, sizeof path, "%s/grey.y4m", scratch);
    CHECK_OK(vs_video_write(path, &g, 16));
    data = read_all(path, &len);
    CHECK(data);
    uint8_t y, u, v;
    rgb[0] = rgb[1] = rgb[2] = 128;
    vs_rgb_to_yuv420(rgb, 1, 1, &y, &u, &v);
    CHECK(data[len - 3] == y && data[len - 2] == u && data[len - 1] == v && y == 126);
    return 0;
}

TEST(format_follows_the_path) {
    vs_video_format fmt;
    CHECK_OK(vs_video_format_from_path("a/b.Y4M", &fmt));
    CHECK(fmt == VS_VIDEO_Y4M);
    CHECK_FAILS(vs_video_format_from_path("out.avi", &fmt), VS_ERR_INVALID_ARG, "cannot tell the video format");
    CHECK_FAILS(vs_video_format_from_path("", &fmt), VS_ERR_INVALID_ARG, "no output path");
#if VS_HAVE_FFMPEG
    CHECK_OK(vs_video_format_from_path("x.mp4", &fmt));
    CHECK(fmt == VS_VIDEO_MP4);
#else
    CHECK_FAILS(vs_video_format_from_path("x.mp4", &fmt), VS_ERR_UNSUPPORTED, "libavformat");
#endif
#if VS_HAVE_PNG
    CHECK_OK(vs_video_format_from_path("frames/", &fmt));
    CHECK(fmt == VS_VIDEO_PNG);
    CHECK_OK(vs_video_format_from_path("/tmp", &fmt));
    CHECK(fmt == VS_VIDEO_PNG);
    CHECK_OK(vs_video_format_from_path("f/img_%05d.png", &fmt));
    CHECK_OK(vs_video_format_from_path("f/img_%d.png", &fmt));
    CHECK_FAILS(vs_video_format_from_path("f/img.png", &fmt), VS_ERR_INVALID_ARG, "frame-number field");
    CHECK_FAILS(vs_video_format_from_path("f/%s.png", &fmt), VS_ERR_INVALID_ARG, "%d or %0Nd");
    CHECK_FAILS(vs_video_format_from_path("f/%d_%d.png", &fmt), VS_ERR_INVALID_ARG, "frame-number field");
    CHECK_FAILS(vs_video_format_from_path("f/%4d.png", &fmt), VS_ERR_INVALID_ARG, "%d or %0Nd");
#else
    CHECK_FAILS(vs_video_format_from_path("frames/", &fmt), VS_ERR_UNSUPPORTED, "libpng");
#endif
    return 0;
}

TEST(failures_leave_no_file_behind) {
    CHECK(make_scratch());
    enum { T = 3, H = 4, W = 6 };
    static float f[T * 3 * H * W];
    for (int i = 0; i < T * 3 * H * W; i++) f[i] = (float)(i % 7) / 7.0f - 0.5f;
    int64_t shape[4] = {T, 3, H, W};
    vs_tensor frames = vs_tensor_view(f, VS_F32, VS_CPU, 4, shape);
    char path[300];

    /* A folder that does not exist, and one whose "parent" is a regular file. */
    CHECK_FAILS(vs_video_write("/nonexistent_vs_dir/out.y4m", &frames, 16), VS_ERR_IO, "/nonexistent_vs_dir/out.y4m");
    snprintf(path, sizeof path, "%s/plain", scratch);
    FILE *plain = fopen(path, "wb");
    CHECK(plain);
    fclose(plain);
    snprintf(path, sizeof path, "%s/plain/out.y4m", scratch);
    CHECK_FAILS(vs_video_write(path, &frames, 16), VS_ERR_IO, "cannot create");

    /* Wrong shapes, dtypes and arguments are refused before anything is created. */
    snprintf(path, sizeof path, "%s/out.y4m", scratch);
    int64_t four[4] = {T, 4, H, W};
    vs_tensor bad = vs_tensor_view(f, VS_F32, VS_CPU, 4, four);
    CHECK_FAILS(vs_video_write(path, &bad, 16), VS_ERR_SHAPE, "[3, 4, 4, 6]");
    bad = vs_tensor_view(f, VS_BF16, VS_CPU, 4, shape);
    CHECK_FAILS(vs_video_write(path, &bad, 16), VS_ERR_SHAPE, "f32 [T, 3, H, W] or u8 [T, H, W, 3]");
    int64_t empty[4] = {0, 3, H, W};
    bad = vs_tensor_view(f, VS_F32, VS_CPU, 4, empty);
    CHECK_FAILS(vs_video_write(path, &bad, 16), VS_ERR_SHAPE, "frames");
    CHECK_FAILS(vs_video_write(path, &frames, 0), VS_ERR_INVALID_ARG, "frame rate");
    CHECK_FAILS(vs_video_write(path, NULL, 16), VS_ERR_INVALID_ARG, "no tensor");
    CHECK(file_size(path) == -1);

    /* A NaN in the last frame fails mid-file: the temporary is removed and an
     * existing file of the same name keeps its old content. */
    FILE *old = fopen(path, "wb");
    CHECK(old);
    fputs("old", old);
    fclose(old);
    f[(T - 1) * 3 * H * W + 5] = NAN;
    CHECK_FAILS(vs_video_write(path, &frames, 16), VS_ERR_INVALID_ARG, "frame 2 holds a NaN");
    CHECK(file_size(path) == 3);
#if VS_HAVE_PNG
    snprintf(path, sizeof path, "%s/png/", scratch);
    CHECK_FAILS(vs_video_write(path, &frames, 16), VS_ERR_INVALID_ARG, "NaN");
    snprintf(path, sizeof path, "%s/png", scratch);
    CHECK(file_size(path) == -1); /* the folder it created is gone too */
#endif
#if VS_HAVE_FFMPEG
    snprintf(path, sizeof path, "%s/out.mp4", scratch);
    CHECK_FAILS(vs_video_write(path, &frames, 16), VS_ERR_INVALID_ARG, "NaN");
    CHECK(file_size(path) == -1);
    int64_t odd[4] = {1, 3, 3, 4};
    bad = vs_tensor_view(f, VS_F32, VS_CPU, 4, odd);
    CHECK_FAILS(vs_video_write(path, &bad, 16), VS_ERR_SHAPE, "even width and height");
#endif
    CHECK_MSG(count_entries(scratch) == 2, "%d entries", count_entries(scratch)); /* "plain" and the old out.y4m */
    return 0;
}

#if VS_HAVE_PNG
/* Reads an 8-bit RGB PNG into a buffer freed after the case. */
static uint8_t *read_png(const char *path, int *w, int *h) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile rgb = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        free(rgb);
        return NULL;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    *w = (int)png_get_image_width(png, info);
    *h = (int)png_get_image_height(png, info);
    if (png_get_color_type(png, info) != PNG_COLOR_TYPE_RGB || png_get_bit_depth(png, info) != 8) png_error(png, "not RGB8");
    rgb = malloc((size_t)*w * *h * 3);
    for (int y = 0; y < *h; y++) png_read_row(png, rgb + (size_t)y * *w * 3, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    vs_test_defer(free, rgb);
    return rgb;
}

TEST(png_frames_round_trip) {
    CHECK(make_scratch());
    enum { T = 3, H = 5, W = 7 };
    static uint8_t rgb[T * H * W * 3];
    unsigned long long rng = 42;
    for (int i = 0; i < T * H * W * 3; i++) rgb[i] = (uint8_t)(vs_test_uniform(&rng) * 256);
    int64_t shape[4] = {T, H, W, 3};
    vs_tensor frames = vs_tensor_view(rgb, VS_U8, VS_CPU, 4, shape);
    char path[300], name[400];

    snprintf(path, sizeof path, "%s/frames/", scratch);
    CHECK_OK(vs_video_write(path, &frames, 16));
    CHECK(count_entries(path) == T);
    for (int i = 0; i < T; i++) {
        snprintf(name, sizeof name, "%sframe_%04d.png", path, i);
        int w, h;
        uint8_t *back = read_png(name, &w, &h);
        CHECK_MSG(back, "cannot read %s", name);
        CHECK(w == W && h == H);
        CHECK(memcmp(back, rgb + (size_t)i * H * W * 3, H * W * 3) == 0);
    }
    /* Into an existing folder, by pattern. */
    snprintf(path, sizeof path, "%s/img_%%03d.png", scratch);
    CHECK_OK(vs_video_write(path, &frames, 16));
    snprintf(name, sizeof name, "%s/img_002.png", scratch);
    int w, h;
    uint8_t *back = read_png(name, &w, &h);
    CHECK(back && w == W && h == H && memcmp(back, rgb + 2 * H * W * 3, H * W * 3) == 0);
    CHECK(count_entries(scratch) == 1 + T);
    return 0;
}
#endif

#if VS_HAVE_FFMPEG
/* Opens an MP4 and decodes every frame: count, size, frame rate, and the mean
 * luma of the first frame. */
static int probe_mp4(const char *path, int *frames, int *w, int *h, AVRational *fps, double *luma0) {
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0) return 0;
    int ok = avformat_find_stream_info(fmt, NULL) >= 0 && fmt->nb_streams == 1;
    AVStream *st = ok ? fmt->streams[0] : NULL;
    const AVCodec *codec = ok ? avcodec_find_decoder(st->codecpar->codec_id) : NULL;
    AVCodecContext *c = codec ? avcodec_alloc_context3(codec) : NULL;
    ok = c && avcodec_parameters_to_context(c, st->codecpar) >= 0 && avcodec_open2(c, codec, NULL) >= 0;
    AVPacket *pkt = av_packet_alloc();
    AVFrame *frame = av_frame_alloc();
    *frames = 0;
    if (ok) {
        *w = st->codecpar->width;
        *h = st->codecpar->height;
        *fps = st->avg_frame_rate;
        int flushing = 0;
        while (ok) {
            if (!flushing) {
                int r = av_read_frame(fmt, pkt);
                if (r < 0) {
                    flushing = 1;
                    avcodec_send_packet(c, NULL);
                } else {
                    avcodec_send_packet(c, pkt);
                    av_packet_unref(pkt);
                }
            }
            int r;
            while ((r = avcodec_receive_frame(c, frame)) >= 0) {
                if (*frames == 0) {
                    double sum = 0;
                    for (int y = 0; y < frame->height; y++)
                        for (int x = 0; x < frame->width; x++) sum += frame->data[0][y * frame->linesize[0] + x];
                    *luma0 = sum / (frame->width * frame->height);
                }
                (*frames)++;
            }
            if (r == AVERROR_EOF) break;
        }
    }
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&c);
    avformat_close_input(&fmt);
    return ok;
}

TEST(mp4_round_trip) {
    CHECK(make_scratch());
    enum { T = 10, H = 48, W = 64 };
    static float f[T * 3 * H * W];
    for (int t = 0; t < T; t++)
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < H * W; p++)
                f[((t * 3) + c) * H * W + p] = c == 0 ? (float)(p % W) / W * 2 - 1 : (float)t / T - 0.5f;
    int64_t shape[4] = {T, 3, H, W};
    vs_tensor frames = vs_tensor_view(f, VS_F32, VS_CPU, 4, shape);
    char path[300];
    snprintf(path, sizeof path, "%s/clip.mp4", scratch);
    CHECK_OK(vs_video_write(path, &frames, VS_VIDEO_DEFAULT_FPS));
    int n = 0, w = 0, h = 0;
    AVRational fps = {0, 1};
    double luma0 = 0;
    CHECK(probe_mp4(path, &n, &w, &h, &fps, &luma0));
    CHECK_MSG(n == T && w == W && h == H, "%d frames %dx%d", n, w, h);
    CHECK_MSG(fps.num == 16 * fps.den, "fps %d/%d", fps.num, fps.den);
    /* Frame 0's luma averaged over the red ramp and G = B = -0.5: about 0.299 * 127.5 + 0.701 * 64 in 0..255. */
    uint8_t rgb[W * 3];
    for (int x = 0; x < W; x++) {
        rgb[x * 3] = (uint8_t)(((float)x / W * 2 - 1 + 1) * 127.5f + 0.5f);
        rgb[x * 3 + 1] = rgb[x * 3 + 2] = 64;
    }
    double expect = 0;
    for (int x = 0; x < W; x++) expect += 16 + (65.481 * rgb[x * 3] + (128.553 + 24.966) * 64) / 255.0;
    expect /= W;
    CHECK_MSG(fabs(luma0 - expect) < 2.0, "mean luma %.2f, expected %.2f", luma0, expect);

    snprintf(path, sizeof path, "%s/clip24.mp4", scratch);
    CHECK_OK(vs_video_write(path, &frames, 24));
    CHECK(probe_mp4(path, &n, &w, &h, &fps, &luma0));
    CHECK_MSG(n == T && fps.num == 24 * fps.den, "%d frames at %d/%d", n, fps.num, fps.den);
    CHECK(count_entries(scratch) == 2);
    return 0;
}
#endif

RUN_TESTS(T(y4m_header_and_frames_are_exact), T(f32_frames_map_minus_one_to_one_onto_bytes),
          T(format_follows_the_path), T(failures_leave_no_file_behind)
#if VS_HAVE_PNG
          , T(png_frames_round_trip)
#endif
#if VS_HAVE_FFMPEG
          , T(mp4_round_trip)
#endif
)
