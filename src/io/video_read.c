/* Reading videos back (for checking and evaluation): Y4M and folders of PNG frames. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/status.h"
#include "io/video.h"

#if VS_HAVE_PNG
#include <png.h>
#endif

#define MAX_SIDE 16384
#define MAX_FRAMES 100000

static int ends_with_ci(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* Grows the frame buffer to hold `frames` frames of `frame_bytes`. */
static vs_status reserve(uint8_t **buf, int64_t *cap, int64_t frames, int64_t frame_bytes) {
    if (frames <= *cap) return VS_OK;
    int64_t n = *cap ? *cap * 2 : 16;
    while (n < frames) n *= 2;
    uint8_t *p = realloc(*buf, (size_t)(n * frame_bytes));
    if (!p) return vs_fail(VS_ERR_OOM, "out of memory for %lld video frames", (long long)n);
    *buf = p, *cap = n;
    return VS_OK;
}

static uint8_t clamp_byte(double v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : (int)(v + 0.5)); }

/* BT.601 YCbCr -> RGB, the inverse of vs_rgb_to_yuv420's matrix (limited or full range). */
static void ycbcr_to_rgb(int y, int cb, int cr, int full, uint8_t *rgb) {
    double Y = full ? y : (y - 16) * (255.0 / 219.0);
    double scale = full ? 1.0 : 255.0 / 224.0;
    double B = (cb - 128) * scale, R = (cr - 128) * scale;
    rgb[0] = clamp_byte(Y + 1.402 * R);
    rgb[1] = clamp_byte(Y - 0.344136 * B - 0.714136 * R);
    rgb[2] = clamp_byte(Y + 1.772 * B);
}

static vs_status read_y4m(const char *path, vs_tensor *out) {
    FILE *f = fopen(path, "rb");
    if (!f) return vs_fail(VS_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char header[512];
    vs_status s = VS_OK;
    uint8_t *yuv = NULL, *rgb = NULL;
    int64_t cap = 0, frames = 0;
    if (!fgets(header, sizeof header, f) || strncmp(header, "YUV4MPEG2 ", 10) || !strchr(header, '\n')) {
        s = vs_fail(VS_ERR_FORMAT, "%s: not a YUV4MPEG2 file (or its header line is too long)", path);
        goto done;
    }
    long w = 0, h = 0;
    int chroma_420 = 1, mono = 0, full = 0;
    for (char *tok = strtok(header + 10, " \n"); tok; tok = strtok(NULL, " \n")) {
        if (tok[0] == 'W') w = strtol(tok + 1, NULL, 10);
        else if (tok[0] == 'H') h = strtol(tok + 1, NULL, 10);
        else if (tok[0] == 'I' && tok[1] != 'p' && tok[1] != '?') {
            s = vs_fail(VS_ERR_UNSUPPORTED, "%s: interlaced Y4M (%s) is not supported", path, tok);
            goto done;
        } else if (tok[0] == 'C') {
            if (!strcmp(tok, "C420") || !strcmp(tok, "C420jpeg") || !strcmp(tok, "C420paldv") || !strcmp(tok, "C420mpeg2"))
                chroma_420 = 1;
            else if (!strcmp(tok, "C444")) chroma_420 = 0;
            else if (!strcmp(tok, "Cmono")) mono = 1, chroma_420 = 0;
            else {
                s = vs_fail(VS_ERR_UNSUPPORTED, "%s: Y4M colour space %s (8-bit 420, 444 or mono only)", path, tok);
                goto done;
            }
        } else if (!strcmp(tok, "XCOLORRANGE=FULL")) full = 1;
    }
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE) {
        s = vs_fail(VS_ERR_FORMAT, "%s: Y4M frame size %ldx%ld outside 1..%d", path, w, h, MAX_SIDE);
        goto done;
    }
    const int64_t plane = (int64_t)w * h, cw = chroma_420 ? (w + 1) / 2 : w, ch = chroma_420 ? (h + 1) / 2 : h;
    const int64_t frame_bytes = plane + (mono ? 0 : 2 * cw * ch);
    if (!(yuv = malloc((size_t)frame_bytes))) {
        s = vs_fail(VS_ERR_OOM, "out of memory for a %ldx%ld frame", w, h);
        goto done;
    }
    for (;;) {
        char line[256];
        if (!fgets(line, sizeof line, f)) break; /* end of file */
        if (strncmp(line, "FRAME", 5) || !strchr(line, '\n')) {
            s = vs_fail(VS_ERR_FORMAT, "%s: frame %lld does not start with a FRAME line", path, (long long)frames);
            break;
        }
        if (fread(yuv, 1, (size_t)frame_bytes, f) != (size_t)frame_bytes) {
            s = vs_fail(VS_ERR_FORMAT, "%s: frame %lld is truncated", path, (long long)frames);
            break;
        }
        if (frames >= MAX_FRAMES) {
            s = vs_fail(VS_ERR_FORMAT, "%s: more than %d frames", path, MAX_FRAMES);
            break;
        }
        if ((s = reserve(&rgb, &cap, frames + 1, plane * 3)) != VS_OK) break;
        uint8_t *dst = rgb + frames * plane * 3;
        const uint8_t *u = yuv + plane, *v = u + cw * ch;
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) {
                int64_t c = chroma_420 ? (y / 2) * cw + x / 2 : y * w + x;
                ycbcr_to_rgb(yuv[y * w + x], mono ? 128 : u[c], mono ? 128 : v[c], full, dst + (y * w + x) * 3);
            }
        frames++;
    }
    if (s == VS_OK && frames == 0) s = vs_fail(VS_ERR_FORMAT, "%s: no frames", path);
    if (s == VS_OK) {
        *out = vs_tensor_view(rgb, VS_U8, VS_CPU, 4, (int64_t[]){frames, h, w, 3});
        out->owned = 1;
        rgb = NULL;
    }
done:
    free(rgb);
    free(yuv);
    fclose(f);
    return s;
}

#if VS_HAVE_PNG
static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Every *.png of the folder, in name order. */
static vs_status read_png_folder(const char *dir, vs_tensor *out) {
    DIR *d = opendir(dir);
    if (!d) return vs_fail(VS_ERR_IO, "cannot open the folder %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, names_cap = 0;
    vs_status s = VS_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (!ends_with_ci(e->d_name, ".png") || e->d_name[0] == '.') continue;
        if (n == names_cap) {
            size_t c = names_cap ? 2 * names_cap : 64;
            char **p = n < MAX_FRAMES ? realloc(names, c * sizeof *names) : NULL;
            if (!p) {
                s = vs_fail(VS_ERR_OOM, "%s: too many PNG files", dir);
                break;
            }
            names = p, names_cap = c;
        }
        if (!(names[n] = strdup(e->d_name))) {
            s = vs_fail(VS_ERR_OOM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (s == VS_OK && n == 0) s = vs_fail(VS_ERR_NOT_FOUND, "%s: no .png frames in the folder", dir);
    if (s == VS_OK) qsort(names, n, sizeof *names, compare_names);
    uint8_t *rgb = NULL;
    int64_t cap = 0, w = 0, h = 0;
    for (size_t i = 0; i < n && s == VS_OK; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        png_image img;
        memset(&img, 0, sizeof img);
        img.version = PNG_IMAGE_VERSION;
        if (!png_image_begin_read_from_file(&img, path)) {
            s = vs_fail(VS_ERR_FORMAT, "%s: %s", path, img.message);
            break;
        }
        if (i == 0) w = img.width, h = img.height;
        if ((int64_t)img.width != w || (int64_t)img.height != h || w > MAX_SIDE || h > MAX_SIDE) {
            s = vs_fail(VS_ERR_FORMAT, "%s: %ux%u frame in a video of %lldx%lld frames (at most %d a side)", path,
                        img.width, img.height, (long long)w, (long long)h, MAX_SIDE);
            png_image_free(&img);
            break;
        }
        img.format = PNG_FORMAT_RGB;
        if ((s = reserve(&rgb, &cap, (int64_t)i + 1, w * h * 3)) != VS_OK) {
            png_image_free(&img);
            break;
        }
        if (!png_image_finish_read(&img, NULL, rgb + (int64_t)i * w * h * 3, 0, NULL))
            s = vs_fail(VS_ERR_FORMAT, "%s: %s", path, img.message);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (s != VS_OK) {
        free(rgb);
        return s;
    }
    *out = vs_tensor_view(rgb, VS_U8, VS_CPU, 4, (int64_t[]){(int64_t)n, h, w, 3});
    out->owned = 1;
    return VS_OK;
}
#endif

vs_status vs_video_frames_u8(const vs_tensor *frames, vs_tensor *out) {
    memset(out, 0, sizeof *out);
    if (!frames || !frames->data || frames->dtype != VS_F32 || frames->device != VS_CPU || frames->ndim != 4 ||
        frames->shape[1] != 3 || !vs_tensor_is_contiguous(frames))
        return vs_fail(VS_ERR_SHAPE, "video frames must be contiguous f32 [T, 3, H, W] in host memory");
    const int64_t T = frames->shape[0], H = frames->shape[2], W = frames->shape[3], plane = H * W;
    VS_TRY(vs_tensor_alloc(out, VS_U8, VS_CPU, 4, (int64_t[]){T, H, W, 3}));
    const float *src = frames->data;
    uint8_t *dst = out->data;
    for (int64_t t = 0; t < T; t++)
        for (int c = 0; c < 3; c++)
            for (int64_t p = 0; p < plane; p++) {
                float x = src[(t * 3 + c) * plane + p];
                float v = (x + 1.0f) * 127.5f; /* NaN falls to 0 */
                dst[(t * plane + p) * 3 + c] = (uint8_t)(v > 0.0f ? (v < 255.0f ? v + 0.5f : 255.0f) : 0.0f);
            }
    return VS_OK;
}

vs_status vs_video_read(const char *path, vs_tensor *out) {
    memset(out, 0, sizeof *out);
    if (!path || !*path) return vs_fail(VS_ERR_INVALID_ARG, "no video path given");
    struct stat st;
    if (stat(path, &st) != 0) return vs_fail(VS_ERR_NOT_FOUND, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
#if VS_HAVE_PNG
        return read_png_folder(path, out);
#else
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: this build reads no PNG frames (apt-get install libpng-dev, then rebuild)",
                       path);
#endif
    }
    if (ends_with_ci(path, ".y4m")) return read_y4m(path, out);
    if (ends_with_ci(path, ".mp4"))
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: reading MP4 is not implemented; write the video as .y4m or PNG frames",
                       path);
    return vs_fail(VS_ERR_INVALID_ARG, "%s: cannot tell the video format: give a .y4m file or a folder of PNG frames",
                   path);
}
