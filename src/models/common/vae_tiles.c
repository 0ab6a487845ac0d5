#include "models/common/vae_tiles.h"

#include <stdlib.h>
#include <string.h>

#include "core/status.h"

size_t vs_frames_size(const vs_frames *a) {
    return (size_t)a->c * a->h * a->w;
}

vs_status vs_frames_alloc(vs_frames *a, int t, int c, int h, int w) {
    a->t = t, a->c = c, a->h = h, a->w = w;
    a->d = malloc(sizeof(float) * ((size_t)t * vs_frames_size(a) + 1));
    if (!a->d) return vs_fail(VS_ERR_OOM, "out of memory for a %dx%dx%dx%d VAE activation", t, c, h, w);
    return VS_OK;
}

void vs_frames_free(vs_frames *a) {
    free(a->d);
    a->d = NULL;
}

void vs_frames_blend_rows(const vs_frames *a, vs_frames *b, int e) {
    e = e < a->h ? e : a->h;
    e = e < b->h ? e : b->h;
    for (int f = 0; f < b->t; f++)
        for (int ch = 0; ch < b->c; ch++)
            for (int y = 0; y < e; y++) {
                const float *ra = a->d + (((size_t)f * a->c + ch) * a->h + a->h - e + y) * a->w;
                float *rb = b->d + (((size_t)f * b->c + ch) * b->h + y) * b->w;
                const float wb = (float)y / (float)e;
                for (int x = 0; x < b->w; x++)
                    rb[x] = ra[x] * (1.0f - wb) + rb[x] * wb;
            }
}

void vs_frames_blend_cols(const vs_frames *a, vs_frames *b, int e) {
    e = e < a->w ? e : a->w;
    e = e < b->w ? e : b->w;
    for (int f = 0; f < b->t; f++)
        for (int ch = 0; ch < b->c; ch++)
            for (int y = 0; y < b->h; y++) {
                const float *ra = a->d + (((size_t)f * a->c + ch) * a->h + y) * a->w + a->w - e;
                float *rb = b->d + (((size_t)f * b->c + ch) * b->h + y) * b->w;
                for (int x = 0; x < e; x++) {
                    const float wb = (float)x / (float)e;
                    rb[x] = ra[x] * (1.0f - wb) + rb[x] * wb;
                }
            }
}

void vs_frames_blend_frames(const vs_frames *a, vs_frames *b, int e) {
    e = e < a->t ? e : a->t;
    e = e < b->t ? e : b->t;
    const size_t fs = vs_frames_size(b);
    for (int f = 0; f < e; f++) {
        const float *fa = a->d + (size_t)(a->t - e + f) * fs;
        float *fb = b->d + (size_t)f * fs;
        const float wb = (float)f / (float)e;
        for (size_t i = 0; i < fs; i++)
            fb[i] = fa[i] * (1.0f - wb) + fb[i] * wb;
    }
}

/* dst's window at (y0, x0) of size h x w = src's at (sy, sx), every frame and channel. */
static void copy_window(vs_frames *dst, int y0, int x0, const vs_frames *src, int sy, int sx, int h, int w) {
    for (int f = 0; f < src->t; f++)
        for (int ch = 0; ch < src->c; ch++)
            for (int y = 0; y < h; y++)
                memcpy(dst->d + (((size_t)f * dst->c + ch) * dst->h + y0 + y) * dst->w + x0,
                       src->d + (((size_t)f * src->c + ch) * src->h + sy + y) * src->w + sx,
                       sizeof(float) * (size_t)w);
}

vs_status vs_frames_decode_tiled(const vs_frames *z, int ratio, int tile_h, int tile_w, int stride_h,
                                 int stride_w, vs_frames_decoder decode, void *decoder, vs_frames *out) {
    const int th = tile_h / ratio, tw = tile_w / ratio, step_h = stride_h / ratio, step_w = stride_w / ratio;
    const int rows = (z->h + step_h - 1) / step_h, cols = (z->w + step_w - 1) / step_w;
    vs_frames *tiles = calloc((size_t)rows * cols, sizeof *tiles);
    if (!tiles) return vs_fail(VS_ERR_OOM, "out of memory for VAE tiles");
    vs_status s = VS_OK;
    for (int i = 0; s == VS_OK && i < rows; i++)
        for (int j = 0; s == VS_OK && j < cols; j++) {
            const int y0 = i * step_h, x0 = j * step_w;
            const int h = z->h - y0 < th ? z->h - y0 : th, w = z->w - x0 < tw ? z->w - x0 : tw;
            vs_frames part;
            s = vs_frames_alloc(&part, z->t, z->c, h, w);
            if (s != VS_OK) break;
            copy_window(&part, 0, 0, z, y0, x0, h, w);
            s = decode(decoder, &part, &tiles[i * cols + j]);
            vs_frames_free(&part);
        }
    if (s == VS_OK) s = vs_frames_alloc(out, tiles[0].t, tiles[0].c, z->h * ratio, z->w * ratio);
    for (int i = 0; s == VS_OK && i < rows; i++)
        for (int j = 0; j < cols; j++) {
            vs_frames *tile = &tiles[i * cols + j];
            if (i > 0) vs_frames_blend_rows(&tiles[(i - 1) * cols + j], tile, tile_h - stride_h);
            if (j > 0) vs_frames_blend_cols(&tiles[i * cols + j - 1], tile, tile_w - stride_w);
            const int y0 = i * stride_h, x0 = j * stride_w;
            int kh = tile->h < stride_h ? tile->h : stride_h, kw = tile->w < stride_w ? tile->w : stride_w;
            if (y0 + kh > out->h) kh = out->h - y0;
            if (x0 + kw > out->w) kw = out->w - x0;
            copy_window(out, y0, x0, tile, 0, 0, kh, kw);
        }
    for (int i = 0; i < rows * cols; i++)
        vs_frames_free(&tiles[i]);
    free(tiles);
    return s;
}
