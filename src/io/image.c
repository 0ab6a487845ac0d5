#include "io/image.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

#if VS_HAVE_PNG
#include <png.h>
#endif
#if VS_HAVE_JPEG
#include <jpeglib.h>
#include <jerror.h>
#endif

void vs_image_free(vs_image *img) {
    if (!img) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

static vs_status check_size(const char *label, long long width, long long height) {
    if (width < 1 || height < 1 || width > VS_IMAGE_MAX_SIDE || height > VS_IMAGE_MAX_SIDE)
        return vs_fail(VS_ERR_FORMAT, "%s: a %lldx%lld image (1..%d pixels a side)", label, width, height,
                       VS_IMAGE_MAX_SIDE);
    return VS_OK;
}

static vs_status alloc_rgb(vs_image *img, const char *label, int width, int height) {
    img->rgb = malloc((size_t)width * height * 3);
    if (!img->rgb) return vs_fail(VS_ERR_OOM, "%s: out of memory for a %dx%d image", label, width, height);
    img->width = width, img->height = height;
    return VS_OK;
}

/* ---- PNG ------------------------------------------------------------------------------ */

#if VS_HAVE_PNG
typedef struct {
    const uint8_t *data;
    size_t size, at;
    char message[200];
} png_source;

/* libpng reports errors by longjmp from here; the message is kept for vs_fail. */
static void png_on_error(png_structp png, png_const_charp msg) {
    png_source *src = png_get_error_ptr(png);
    snprintf(src->message, sizeof src->message, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png, (void)msg; /* benign (e.g. an unknown chunk); errors still longjmp */
}

static void png_read(png_structp png, png_bytep out, size_t n) {
    png_source *src = png_get_io_ptr(png);
    if (n > src->size - src->at) png_error(png, "the file is truncated");
    memcpy(out, src->data + src->at, n);
    src->at += n;
}

static vs_status decode_png(const uint8_t *data, size_t size, const char *label, vs_image *out) {
    png_source src = {data, size, 0, {0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return vs_fail(VS_ERR_OOM, "%s: out of memory for the PNG decoder", label);
    }
    /* Volatile: assigned between setjmp and a longjmp back to it. */
    uint8_t *volatile rgb = NULL;
    png_bytep *volatile rows = NULL;
    vs_status volatile s = VS_OK;
    if (setjmp(png_jmpbuf(png))) {
        s = vs_fail(VS_ERR_FORMAT, "%s: corrupt PNG: %s", label, src.message);
    } else {
        png_set_read_fn(png, &src, png_read);
        png_set_user_limits(png, VS_IMAGE_MAX_SIDE, VS_IMAGE_MAX_SIDE);
        png_read_info(png, info);
        png_uint_32 width, height;
        int depth, color;
        png_get_IHDR(png, info, &width, &height, &depth, &color, NULL, NULL, NULL);
        /* To 8-bit RGB as PIL's convert("RGB"): palette and grey expanded, 16 bits cut to the high byte
         * (PIL reads 16-bit samples so), alpha and transparency dropped. */
        if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (depth == 16) png_set_strip_16(png);
        if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
        /* palette_to_rgb also turns a tRNS chunk into alpha */
        if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
        png_set_interlace_handling(png);
        png_read_update_info(png, info);
        if (png_get_rowbytes(png, info) != (size_t)width * 3) png_error(png, "unexpected row layout");
        if ((s = check_size(label, width, height)) != VS_OK) {
        } else if (!(rgb = malloc((size_t)width * height * 3)) || !(rows = malloc(height * sizeof *rows))) {
            s = vs_fail(VS_ERR_OOM, "%s: out of memory for a %ux%u image", label, (unsigned)width, (unsigned)height);
        } else {
            for (png_uint_32 y = 0; y < height; y++) rows[y] = rgb + (size_t)y * width * 3;
            png_read_image(png, rows);
            png_read_end(png, NULL);
            out->width = (int)width, out->height = (int)height, out->rgb = rgb;
            rgb = NULL;
        }
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);
    free(rgb);
    return s;
}
#endif

/* ---- JPEG ----------------------------------------------------------------------------- */

#if VS_HAVE_JPEG
typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_errors;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_errors *e = (jpeg_errors *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* A premature end of the data is an error here, as PIL refuses truncated files (libjpeg would only warn
 * and fill the rest with grey); other warnings are let pass, as PIL does. */
static void jpeg_on_message(j_common_ptr cinfo, int level) {
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(cinfo);
}

static vs_status decode_jpeg(const uint8_t *data, size_t size, const char *label, vs_image *out) {
    struct jpeg_decompress_struct cinfo;
    jpeg_errors err;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_error;
    err.mgr.emit_message = jpeg_on_message;
    uint8_t *volatile rgb = NULL;
    vs_status volatile s = VS_OK;
    if (setjmp(err.jump)) {
        s = vs_fail(VS_ERR_FORMAT, "%s: corrupt JPEG: %s", label, err.message);
    } else {
        jpeg_create_decompress(&cinfo);
        jpeg_mem_src(&cinfo, data, (unsigned long)size);
        jpeg_read_header(&cinfo, TRUE);
        if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
            s = vs_fail(VS_ERR_UNSUPPORTED, "%s: a CMYK JPEG (only RGB and greyscale)", label);
        } else if ((s = check_size(label, cinfo.image_width, cinfo.image_height)) == VS_OK) {
            cinfo.out_color_space = JCS_RGB; /* greyscale expands; libjpeg's defaults otherwise, as PIL's */
            jpeg_start_decompress(&cinfo);
            if (!(rgb = malloc((size_t)cinfo.output_width * cinfo.output_height * 3))) {
                s = vs_fail(VS_ERR_OOM, "%s: out of memory for a %ux%u image", label, cinfo.output_width,
                            cinfo.output_height);
            } else {
                while (cinfo.output_scanline < cinfo.output_height) {
                    JSAMPROW row = rgb + (size_t)cinfo.output_scanline * cinfo.output_width * 3;
                    jpeg_read_scanlines(&cinfo, &row, 1);
                }
                jpeg_finish_decompress(&cinfo);
                out->width = (int)cinfo.output_width, out->height = (int)cinfo.output_height, out->rgb = rgb;
                rgb = NULL;
            }
        }
    }
    jpeg_destroy_decompress(&cinfo);
    free(rgb);
    return s;
}
#endif

/* ---- by signature ------------------------------------------------------------------------ */

vs_status vs_image_decode(const void *data, size_t size, const char *label, vs_image *out) {
    memset(out, 0, sizeof *out);
    const uint8_t *b = data;
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (size >= 8 && !memcmp(b, png_magic, 8)) {
#if VS_HAVE_PNG
        return decode_png(b, size, label, out);
#else
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: PNG images need a build with libpng (apt-get install libpng-dev)", label);
#endif
    }
    if (size >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) {
#if VS_HAVE_JPEG
        return decode_jpeg(b, size, label, out);
#else
        return vs_fail(VS_ERR_UNSUPPORTED, "%s: JPEG images need a build with libjpeg (apt-get install libjpeg-dev)",
                       label);
#endif
    }
    return vs_fail(VS_ERR_FORMAT, "%s: not a PNG or JPEG image", label);
}

vs_status vs_image_load(const char *path, vs_image *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return vs_fail(VS_ERR_NOT_FOUND, "%s: cannot open the image", path);
    uint8_t *data = NULL;
    size_t size = 0, cap = 0;
    vs_status s = VS_OK;
    for (;;) {
        if (size == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            uint8_t *grown = cap <= ((size_t)1 << 31) ? realloc(data, cap) : NULL;
            if (!grown) {
                s = vs_fail(VS_ERR_OOM, "%s: the image file is too large to read", path);
                break;
            }
            data = grown;
        }
        size_t n = fread(data + size, 1, cap - size, f);
        size += n;
        if (n == 0) {
            if (ferror(f)) s = vs_fail(VS_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (s == VS_OK) s = vs_image_decode(data, size, path, out);
    free(data);
    return s;
}

/* ---- PIL's Lanczos resize --------------------------------------------------------------------- */

enum { PRECISION_BITS = 32 - 8 - 2 };

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double lanczos(double x) { return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0; }

/* PIL's precompute_coeffs + normalize_coeffs_8bpc: output i reads inputs bounds[2i] .. + bounds[2i+1] with
 * fixed-point weights k[i * ksize + ..]. */
typedef struct {
    int ksize;
    int *bounds;
    int32_t *k;
} coeffs;

static vs_status make_coeffs(int in_size, int out_size, coeffs *c) {
    const double scale = (double)in_size / out_size, filterscale = scale < 1.0 ? 1.0 : scale;
    const double support = 3.0 * filterscale;
    c->ksize = (int)ceil(support) * 2 + 1;
    c->bounds = malloc((size_t)out_size * 2 * sizeof *c->bounds);
    c->k = calloc((size_t)out_size * c->ksize, sizeof *c->k);
    double *w = malloc((size_t)c->ksize * sizeof *w);
    if (!c->bounds || !c->k || !w) {
        free(w);
        return vs_fail(VS_ERR_OOM, "out of memory for a resize");
    }
    for (int i = 0; i < out_size; i++) {
        const double center = (i + 0.5) * scale, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double total = 0;
        for (int x = 0; x < xmax; x++) total += w[x] = lanczos((x + xmin - center + 0.5) * ss);
        for (int x = 0; x < xmax; x++) {
            const double v = total != 0.0 ? w[x] / total : w[x];
            c->k[(size_t)i * c->ksize + x] = (int32_t)(v < 0 ? -0.5 + v * (1 << PRECISION_BITS) : 0.5 + v * (1 << PRECISION_BITS));
        }
        c->bounds[2 * i] = xmin, c->bounds[2 * i + 1] = xmax;
    }
    free(w);
    return VS_OK;
}

static uint8_t clip8(int64_t v) {
    if (v <= 0) return 0;
    v >>= PRECISION_BITS;
    return (uint8_t)(v > 255 ? 255 : v);
}

/* One pass along rows (horizontal) or columns: out[line][i] from in[line][bounds..] (stride-aware). */
static void resample_pass(const uint8_t *in, int in_pitch, int in_step, uint8_t *out, int out_pitch, int out_step,
                          int lines, int out_size, const coeffs *c) {
    for (int line = 0; line < lines; line++)
        for (int i = 0; i < out_size; i++) {
            const int32_t *k = c->k + (size_t)i * c->ksize;
            const int lo = c->bounds[2 * i], n = c->bounds[2 * i + 1];
            for (int ch = 0; ch < 3; ch++) {
                int64_t acc = 1 << (PRECISION_BITS - 1);
                for (int x = 0; x < n; x++) acc += (int64_t)in[(size_t)line * in_pitch + (size_t)(lo + x) * in_step + ch] * k[x];
                out[(size_t)line * out_pitch + (size_t)i * out_step + ch] = clip8(acc);
            }
        }
}

vs_status vs_image_resize_lanczos(const vs_image *in, int width, int height, vs_image *out) {
    memset(out, 0, sizeof *out);
    VS_TRY(check_size("resize", width, height));
    if (!in->rgb || in->width < 1 || in->height < 1) return vs_fail(VS_ERR_INVALID_ARG, "resize: an empty image");
    VS_TRY(alloc_rgb(out, "resize", width, height));
    if (width == in->width && height == in->height) { /* PIL copies */
        memcpy(out->rgb, in->rgb, (size_t)width * height * 3);
        return VS_OK;
    }
    coeffs h = {0}, v = {0};
    vs_image mid = {0};
    vs_status s = make_coeffs(in->width, width, &h);
    if (s == VS_OK) s = make_coeffs(in->height, height, &v);
    const uint8_t *src = in->rgb;
    int rows = in->height;
    if (s == VS_OK && width != in->width) { /* horizontal first, into 8 bits, as PIL does */
        s = alloc_rgb(&mid, "resize", width, in->height);
        if (s == VS_OK) resample_pass(in->rgb, in->width * 3, 3, mid.rgb, width * 3, 3, in->height, width, &h);
        src = mid.rgb;
    }
    if (s == VS_OK) {
        if (height != rows) resample_pass(src, 3, width * 3, out->rgb, 3, width * 3, width, height, &v);
        else memcpy(out->rgb, src, (size_t)width * height * 3);
    }
    free(h.bounds), free(h.k), free(v.bounds), free(v.k);
    vs_image_free(&mid);
    if (s != VS_OK) vs_image_free(out);
    return s;
}

vs_status vs_image_to_pixels(const vs_image *img, int width, int height, vs_tensor *out) {
    memset(out, 0, sizeof *out);
    vs_image sized;
    VS_TRY(vs_image_resize_lanczos(img, width, height, &sized));
    vs_status s = vs_tensor_alloc(out, VS_F32, VS_CPU, 3, (int64_t[]){3, height, width});
    if (s == VS_OK) {
        float *p = out->data;
        const size_t plane = (size_t)width * height;
        for (size_t i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++) p[c * plane + i] = (float)sized.rgb[3 * i + c] / 255.0f * 2.0f - 1.0f;
    }
    vs_image_free(&sized);
    return s;
}
