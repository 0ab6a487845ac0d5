#include "io/video.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/status.h"

#if VS_HAVE_PNG
#include <png.h>
#endif
#if VS_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#endif

#define MAX_SIDE 16384
#define PATH_CAP 4096

/* ---- frames ------------------------------------------------------------------ */

typedef struct {
    const vs_tensor *t;
    int count, h, w;
} frames_in;

static vs_status check_frames(const vs_tensor *t, frames_in *f) {
    if (!t || !t->data) return vs_fail(VS_ERR_INVALID_ARG, "video frames: no tensor given");
    if (t->device != VS_CPU) return vs_fail(VS_ERR_INVALID_ARG, "video frames must be in host memory");
    if (!vs_tensor_is_contiguous(t)) return vs_fail(VS_ERR_INVALID_ARG, "video frames must be contiguous");
    int f32 = t->dtype == VS_F32 && t->ndim == 4 && t->shape[1] == 3;
    int u8 = t->dtype == VS_U8 && t->ndim == 4 && t->shape[3] == 3;
    if (!f32 && !u8) {
        char dims[96] = "";
        for (int i = 0, n = 0; i < t->ndim && i < VS_MAX_DIMS; i++)
            n += snprintf(dims + n, sizeof dims - (size_t)n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        return vs_fail(VS_ERR_SHAPE, "video frames must be f32 [T, 3, H, W] or u8 [T, H, W, 3], got %s [%s]",
                       vs_dtype_name(t->dtype), dims);
    }
    int64_t h = f32 ? t->shape[2] : t->shape[1], w = f32 ? t->shape[3] : t->shape[2];
    if (t->shape[0] < 1 || t->shape[0] > 1000000)
        return vs_fail(VS_ERR_SHAPE, "video must have 1..1000000 frames, got %lld", (long long)t->shape[0]);
    if (h < 1 || w < 1 || h > MAX_SIDE || w > MAX_SIDE)
        return vs_fail(VS_ERR_SHAPE, "video frame size %lldx%lld outside 1..%d", (long long)w, (long long)h, MAX_SIDE);
    f->t = t;
    f->count = (int)t->shape[0];
    f->h = (int)h;
    f->w = (int)w;
    return VS_OK;
}

/* Frame `i` as packed 8-bit RGB: f32 values in [-1, 1] map to round((x + 1) * 127.5). */
static vs_status frame_rgb(const frames_in *f, int i, uint8_t *rgb) {
    size_t plane = (size_t)f->h * f->w;
    if (f->t->dtype == VS_U8) {
        memcpy(rgb, (const uint8_t *)f->t->data + (size_t)i * plane * 3, plane * 3);
        return VS_OK;
    }
    const float *src = (const float *)f->t->data + (size_t)i * plane * 3;
    for (int c = 0; c < 3; c++) {
        for (size_t p = 0; p < plane; p++) {
            float x = src[c * plane + p];
            if (isnan(x)) return vs_fail(VS_ERR_INVALID_ARG, "video frame %d holds a NaN", i);
            float v = (x + 1.0f) * 127.5f;
            v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
            rgb[p * 3 + c] = (uint8_t)(v + 0.5f);
        }
    }
    return VS_OK;
}

static uint8_t to_byte(float v) {
    return (uint8_t)(v < 0.0f ? 0 : v > 255.0f ? 255 : (int)(v + 0.5f));
}

/* BT.601 with the 8-bit studio-swing ranges: Y in 16..235, Cb/Cr in 16..240. */
void vs_rgb_to_yuv420(const uint8_t *rgb, int w, int h, uint8_t *y, uint8_t *u, uint8_t *v) {
    for (int64_t p = 0; p < (int64_t)w * h; p++) {
        const uint8_t *px = rgb + p * 3;
        y[p] = to_byte(16.0f + (65.481f * px[0] + 128.553f * px[1] + 24.966f * px[2]) / 255.0f);
    }
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    for (int cy = 0; cy < ch; cy++) {
        for (int cx = 0; cx < cw; cx++) {
            float cb = 0, cr = 0;
            int n = 0;
            for (int yy = 2 * cy; yy < 2 * cy + 2 && yy < h; yy++) {
                for (int xx = 2 * cx; xx < 2 * cx + 2 && xx < w; xx++) {
                    const uint8_t *px = rgb + ((int64_t)yy * w + xx) * 3;
                    cb += -37.797f * px[0] - 74.203f * px[1] + 112.0f * px[2];
                    cr += 112.0f * px[0] - 93.786f * px[1] - 18.214f * px[2];
                    n++;
                }
            }
            u[cy * cw + cx] = to_byte(128.0f + cb / (255.0f * n));
            v[cy * cw + cx] = to_byte(128.0f + cr / (255.0f * n));
        }
    }
}

/* ---- temporary files ------------------------------------------------------------ */

/* Creates "<path>.tmp-<pid>-<n>" exclusively (mode 0666 less the umask) and
 * returns its descriptor; `tmp` receives the name. */
static vs_status open_temp(const char *path, char *tmp, size_t cap, int *fd) {
    static atomic_uint counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned n = atomic_fetch_add(&counter, 1u);
        if ((size_t)snprintf(tmp, cap, "%s.tmp-%ld-%u", path, (long)getpid(), n) >= cap)
            return vs_fail(VS_ERR_INVALID_ARG, "output path too long: %s", path);
        *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (*fd >= 0) return VS_OK;
        if (errno != EEXIST) return vs_fail(VS_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    }
    return vs_fail(VS_ERR_IO, "cannot find a free temporary name next to %s", path);
}

static vs_status commit_temp(const char *tmp, const char *path) {
    if (rename(tmp, path) != 0) {
        vs_status s = vs_fail(VS_ERR_IO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        return s;
    }
    return VS_OK;
}

/* ---- Y4M ------------------------------------------------------------------------- */

static vs_status write_y4m(const char *path, const frames_in *f, int fps) {
    char tmp[PATH_CAP];
    int fd = -1;
    VS_TRY(open_temp(path, tmp, sizeof tmp, &fd));
    FILE *out = fdopen(fd, "wb");
    if (!out) {
        close(fd);
        remove(tmp);
        return vs_fail(VS_ERR_IO, "cannot open %s: %s", tmp, strerror(errno));
    }
    size_t plane = (size_t)f->w * f->h, cplane = (size_t)((f->w + 1) / 2) * ((f->h + 1) / 2);
    uint8_t *rgb = malloc(plane * 3), *yuv = malloc(plane + 2 * cplane);
    vs_status s = VS_OK;
    if (!rgb || !yuv) s = vs_fail(VS_ERR_OOM, "out of memory writing %s", path);
    /* C420jpeg: 4:2:0 with centre-sited chroma; XCOLORRANGE=LIMITED: studio swing (FFmpeg reads both). */
    if (s == VS_OK && fprintf(out, "YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420jpeg XCOLORRANGE=LIMITED\n", f->w, f->h, fps) < 0)
        s = vs_fail(VS_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    for (int i = 0; s == VS_OK && i < f->count; i++) {
        s = frame_rgb(f, i, rgb);
        if (s != VS_OK) break;
        vs_rgb_to_yuv420(rgb, f->w, f->h, yuv, yuv + plane, yuv + plane + cplane);
        if (fputs("FRAME\n", out) == EOF || fwrite(yuv, 1, plane + 2 * cplane, out) != plane + 2 * cplane)
            s = vs_fail(VS_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    free(rgb);
    free(yuv);
    if (fclose(out) != 0 && s == VS_OK) s = vs_fail(VS_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (s != VS_OK) {
        remove(tmp);
        return s;
    }
    return commit_temp(tmp, path);
}

/* ---- PNG frames ------------------------------------------------------------------- */

/* A frame-name pattern: prefix, a frame number zero-padded to `width` digits, suffix. */
typedef struct {
    char prefix[PATH_CAP];
    char suffix[PATH_CAP];
    int width;
} name_pattern;

static int ends_with_ci(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcasecmp(s + n - m, tail) == 0;
}

static int is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* "dir/img_%04d.png" or "img_%d.png": exactly one %d / %0Nd and no other '%'. */
static vs_status parse_pattern(const char *path, name_pattern *p) {
    const char *pct = strchr(path, '%');
    if (!pct || strchr(pct + 1, '%'))
        return vs_fail(VS_ERR_INVALID_ARG,
                       "PNG output '%s' needs one frame-number field such as %%04d (e.g. frames/%%04d.png) "
                       "or a folder (e.g. frames/)", path);
    const char *q = pct + 1;
    int width = 0;
    if (*q == '0') {
        q++;
        while (*q >= '0' && *q <= '9' && width < 100) width = width * 10 + (*q++ - '0');
        if (width < 1 || width > 9) return vs_fail(VS_ERR_INVALID_ARG, "bad frame-number width in '%s'", path);
    }
    if (*q != 'd')
        return vs_fail(VS_ERR_INVALID_ARG, "the frame-number field in '%s' must be %%d or %%0Nd", path);
    size_t plen = (size_t)(pct - path);
    if (plen >= sizeof p->prefix || strlen(q + 1) >= sizeof p->suffix)
        return vs_fail(VS_ERR_INVALID_ARG, "output path too long: %s", path);
    memcpy(p->prefix, path, plen);
    p->prefix[plen] = '\0';
    strcpy(p->suffix, q + 1);
    p->width = width;
    return VS_OK;
}

#if VS_HAVE_PNG
static vs_status pattern_name(const name_pattern *p, int i, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s%0*d%s", p->prefix, p->width, i, p->suffix);
    if (n < 0 || (size_t)n >= cap) return vs_fail(VS_ERR_INVALID_ARG, "frame file name too long: %s...", p->prefix);
    return VS_OK;
}

/* Writes one RGB image to an open stream; libpng reports errors by longjmp. */
static vs_status png_encode(FILE *out, const char *label, const uint8_t *rgb, int w, int h) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return vs_fail(VS_ERR_OOM, "out of memory writing %s", label);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return vs_fail(VS_ERR_IO, "libpng failed writing %s", label);
    }
    png_init_io(png, out);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, rgb + (size_t)y * w * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return VS_OK;
}

/* Every frame goes to its own temporary file; only when all are written are
 * they renamed into place, so a failure leaves the folder as it was. */
static vs_status write_png_frames(const char *path, const frames_in *f) {
    name_pattern pat;
    int made_dir = 0;
    if (ends_with_ci(path, ".png")) {
        VS_TRY(parse_pattern(path, &pat));
    } else {
        size_t n = strlen(path);
        if (n + 1 >= sizeof pat.prefix) return vs_fail(VS_ERR_INVALID_ARG, "output path too long: %s", path);
        if (!is_directory(path)) {
            if (mkdir(path, 0777) != 0) return vs_fail(VS_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
            made_dir = 1;
        }
        snprintf(pat.prefix, sizeof pat.prefix, "%s%sframe_", path, path[n - 1] == '/' ? "" : "/");
        strcpy(pat.suffix, ".png");
        pat.width = 4;
    }
    char **tmps = calloc((size_t)f->count, sizeof *tmps);
    uint8_t *rgb = malloc((size_t)f->w * f->h * 3);
    vs_status s = tmps && rgb ? VS_OK : vs_fail(VS_ERR_OOM, "out of memory writing %s", path);
    char name[PATH_CAP], tmp[PATH_CAP];
    for (int i = 0; s == VS_OK && i < f->count; i++) {
        int fd = -1;
        s = pattern_name(&pat, i, name, sizeof name);
        if (s == VS_OK) s = open_temp(name, tmp, sizeof tmp, &fd);
        if (s != VS_OK) break;
        if (!(tmps[i] = strdup(tmp))) {
            close(fd);
            remove(tmp);
            s = vs_fail(VS_ERR_OOM, "out of memory writing %s", path);
            break;
        }
        FILE *out = fdopen(fd, "wb");
        if (!out) {
            close(fd);
            s = vs_fail(VS_ERR_IO, "cannot open %s: %s", tmps[i], strerror(errno));
            break;
        }
        s = frame_rgb(f, i, rgb);
        if (s == VS_OK) s = png_encode(out, name, rgb, f->w, f->h);
        if (fclose(out) != 0 && s == VS_OK) s = vs_fail(VS_ERR_IO, "cannot write %s: %s", tmps[i], strerror(errno));
    }
    for (int i = 0; s == VS_OK && i < f->count; i++) {
        s = pattern_name(&pat, i, name, sizeof name);
        if (s == VS_OK) s = commit_temp(tmps[i], name);
        if (s == VS_OK) {
            free(tmps[i]);
            tmps[i] = NULL;
        }
    }
    for (int i = 0; tmps && i < f->count; i++) {
        if (tmps[i]) remove(tmps[i]);
        free(tmps[i]);
    }
    if (s != VS_OK && made_dir) rmdir(path);
    free(tmps);
    free(rgb);
    return s;
}
#endif

/* ---- MP4 --------------------------------------------------------------------------- */

#if VS_HAVE_FFMPEG
static vs_status av_failure(int err, const char *what, const char *path) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(err, buf, sizeof buf);
    return vs_fail(VS_ERR_IO, "%s for %s: %s", what, path, buf);
}

static AVCodecContext *open_encoder(const AVCodec *codec, int w, int h, int fps, int global_header) {
    AVCodecContext *c = avcodec_alloc_context3(codec);
    if (!c) return NULL;
    c->width = w;
    c->height = h;
    c->time_base = (AVRational){1, fps};
    c->framerate = (AVRational){fps, 1};
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->gop_size = fps;
    c->color_range = AVCOL_RANGE_MPEG;
    c->colorspace = AVCOL_SPC_SMPTE170M;
    c->color_primaries = AVCOL_PRI_SMPTE170M;
    c->color_trc = AVCOL_TRC_SMPTE170M;
    c->chroma_sample_location = AVCHROMA_LOC_CENTER;
    if (global_header) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (!strcmp(codec->name, "libx264")) {
        av_opt_set(c->priv_data, "crf", "17", 0); /* visually lossless */
        av_opt_set(c->priv_data, "preset", "medium", 0);
    } else if (codec->id == AV_CODEC_ID_MPEG4) {
        c->flags |= AV_CODEC_FLAG_QSCALE;
        c->global_quality = FF_QP2LAMBDA * 2;
    } else {
        c->bit_rate = (int64_t)w * h * fps / 2; /* half a bit per pixel */
    }
    if (avcodec_open2(c, codec, NULL) < 0) avcodec_free_context(&c);
    return c;
}

/* libx264 if present, else the first other H.264 encoder that opens (hardware
 * ones fail to open without their device), else MPEG-4 part 2. */
static AVCodecContext *pick_encoder(int w, int h, int fps, int global_header) {
    const AVCodec *x264 = avcodec_find_encoder_by_name("libx264");
    AVCodecContext *c = x264 ? open_encoder(x264, w, h, fps, global_header) : NULL;
    void *it = NULL;
    const AVCodec *codec;
    while (!c && (codec = av_codec_iterate(&it)))
        if (av_codec_is_encoder(codec) && codec->id == AV_CODEC_ID_H264 && codec != x264)
            c = open_encoder(codec, w, h, fps, global_header);
    if (c) return c;
    codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    c = codec ? open_encoder(codec, w, h, fps, global_header) : NULL;
    if (c) VS_WARN("no usable H.264 encoder in this FFmpeg build: writing MPEG-4 part 2 video instead");
    return c;
}

/* Sends one frame (NULL to flush) and writes every packet the encoder returns. */
static vs_status encode(AVFormatContext *fmt, AVStream *st, AVCodecContext *c, AVFrame *frame, AVPacket *pkt,
                        const char *path) {
    int err = avcodec_send_frame(c, frame);
    if (err < 0) return av_failure(err, "encoding failed", path);
    for (;;) {
        err = avcodec_receive_packet(c, pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return VS_OK;
        if (err < 0) return av_failure(err, "encoding failed", path);
        if (pkt->duration == 0) pkt->duration = 1;
        av_packet_rescale_ts(pkt, c->time_base, st->time_base);
        pkt->stream_index = st->index;
        err = av_interleaved_write_frame(fmt, pkt);
        if (err < 0) return av_failure(err, "cannot write", path);
    }
}

static vs_status write_mp4(const char *path, const frames_in *f, int fps) {
    if (f->w % 2 || f->h % 2)
        return vs_fail(VS_ERR_SHAPE, "MP4 (yuv420p) needs an even width and height, got %dx%d; write .y4m or PNG frames",
                       f->w, f->h);
    /* libx264 prints its statistics at FFmpeg's default "info" level: keep FFmpeg to errors unless debugging. */
    av_log_set_level(vs_log_get_level() >= VS_LOG_DEBUG ? AV_LOG_INFO : AV_LOG_ERROR);
    char tmp[PATH_CAP];
    int fd = -1;
    VS_TRY(open_temp(path, tmp, sizeof tmp, &fd));
    close(fd); /* FFmpeg reopens it by name */

    AVFormatContext *fmt = NULL;
    AVCodecContext *c = NULL;
    AVFrame *frame = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    uint8_t *rgb = malloc((size_t)f->w * f->h * 3);
    vs_status s = VS_OK;
    int err;
    if (!frame || !pkt || !rgb) s = vs_fail(VS_ERR_OOM, "out of memory writing %s", path);
    if (s == VS_OK && (err = avformat_alloc_output_context2(&fmt, NULL, "mp4", tmp)) < 0)
        s = av_failure(err, "no MP4 muxer", path);
    if (s == VS_OK && !(c = pick_encoder(f->w, f->h, fps, fmt->oformat->flags & AVFMT_GLOBALHEADER)))
        s = vs_fail(VS_ERR_UNSUPPORTED, "this FFmpeg build has no usable H.264 or MPEG-4 encoder for %s", path);
    AVStream *st = s == VS_OK ? avformat_new_stream(fmt, NULL) : NULL;
    if (s == VS_OK && !st) s = vs_fail(VS_ERR_OOM, "out of memory writing %s", path);
    if (s == VS_OK) {
        VS_DEBUG("writing %s with the %s encoder", path, c->codec->name);
        st->time_base = c->time_base;
        st->avg_frame_rate = c->framerate;
        if ((err = avcodec_parameters_from_context(st->codecpar, c)) < 0) s = av_failure(err, "encoder setup", path);
    }
    if (s == VS_OK && (err = avio_open(&fmt->pb, tmp, AVIO_FLAG_WRITE)) < 0) s = av_failure(err, "cannot open", tmp);
    if (s == VS_OK && (err = avformat_write_header(fmt, NULL)) < 0) s = av_failure(err, "cannot write header", path);
    if (s == VS_OK) {
        frame->format = AV_PIX_FMT_YUV420P;
        frame->width = f->w;
        frame->height = f->h;
        if ((err = av_frame_get_buffer(frame, 0)) < 0) s = av_failure(err, "frame buffer", path);
    }
    uint8_t *planes = s == VS_OK ? malloc((size_t)f->w * f->h * 3 / 2) : NULL;
    if (s == VS_OK && !planes) s = vs_fail(VS_ERR_OOM, "out of memory writing %s", path);
    for (int i = 0; s == VS_OK && i < f->count; i++) {
        s = frame_rgb(f, i, rgb);
        if (s != VS_OK) break;
        if ((err = av_frame_make_writable(frame)) < 0) {
            s = av_failure(err, "frame buffer", path);
            break;
        }
        /* Same conversion as Y4M (documented in docs/video.md), then copied into FFmpeg's padded planes. */
        size_t plane = (size_t)f->w * f->h, cplane = plane / 4;
        vs_rgb_to_yuv420(rgb, f->w, f->h, planes, planes + plane, planes + plane + cplane);
        for (int y = 0; y < f->h; y++) memcpy(frame->data[0] + (size_t)y * frame->linesize[0], planes + (size_t)y * f->w, (size_t)f->w);
        for (int y = 0; y < f->h / 2; y++) {
            memcpy(frame->data[1] + (size_t)y * frame->linesize[1], planes + plane + (size_t)y * f->w / 2, (size_t)f->w / 2);
            memcpy(frame->data[2] + (size_t)y * frame->linesize[2], planes + plane + cplane + (size_t)y * f->w / 2,
                   (size_t)f->w / 2);
        }
        frame->pts = i;
        s = encode(fmt, st, c, frame, pkt, path);
    }
    if (s == VS_OK) s = encode(fmt, st, c, NULL, pkt, path);
    if (s == VS_OK && (err = av_write_trailer(fmt)) < 0) s = av_failure(err, "cannot finish", path);
    if (fmt && fmt->pb && (err = avio_closep(&fmt->pb)) < 0 && s == VS_OK) s = av_failure(err, "cannot write", tmp);
    free(planes);
    free(rgb);
    avformat_free_context(fmt);
    avcodec_free_context(&c);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    if (s != VS_OK) {
        remove(tmp);
        return s;
    }
    return commit_temp(tmp, path);
}
#endif

/* ---- entry points ------------------------------------------------------------------- */

vs_status vs_video_format_from_path(const char *path, vs_video_format *out) {
    if (!path || !*path) return vs_fail(VS_ERR_INVALID_ARG, "no output path given");
    size_t n = strlen(path);
    if (ends_with_ci(path, ".y4m")) {
        *out = VS_VIDEO_Y4M;
    } else if (ends_with_ci(path, ".mp4")) {
        if (!VS_HAVE_FFMPEG)
            return vs_fail(VS_ERR_UNSUPPORTED,
                           "%s: this build has no MP4 output (FFmpeg libraries missing: apt-get install "
                           "libavformat-dev libavcodec-dev libswscale-dev, then rebuild); write .y4m instead", path);
        *out = VS_VIDEO_MP4;
    } else if (ends_with_ci(path, ".png") || path[n - 1] == '/' || is_directory(path)) {
        if (!VS_HAVE_PNG)
            return vs_fail(VS_ERR_UNSUPPORTED,
                           "%s: this build has no PNG output (apt-get install libpng-dev, then rebuild); "
                           "write .y4m instead", path);
        if (ends_with_ci(path, ".png")) {
            name_pattern p;
            VS_TRY(parse_pattern(path, &p));
        }
        *out = VS_VIDEO_PNG;
    } else {
        return vs_fail(VS_ERR_INVALID_ARG,
                       "cannot tell the video format of '%s': use a .mp4 or .y4m file, a folder ending in '/' "
                       "or a PNG pattern such as frames/%%04d.png", path);
    }
    return VS_OK;
}

vs_status vs_video_write(const char *path, const vs_tensor *frames, int fps) {
    vs_video_format format;
    frames_in f;
    VS_TRY(vs_video_format_from_path(path, &format));
    VS_TRY(check_frames(frames, &f));
    if (fps < 1 || fps > 240) return vs_fail(VS_ERR_INVALID_ARG, "frame rate %d outside 1..240", fps);
    switch (format) {
    case VS_VIDEO_Y4M: return write_y4m(path, &f, fps);
#if VS_HAVE_FFMPEG
    case VS_VIDEO_MP4: return write_mp4(path, &f, fps);
#endif
#if VS_HAVE_PNG
    case VS_VIDEO_PNG: return write_png_frames(path, &f);
#endif
    default: break;
    }
    return vs_fail(VS_ERR_UNSUPPORTED, "%s: format not available in this build", path);
}
