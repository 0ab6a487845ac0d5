/* What the video VAE decoders share on the host: runs of frames, frame-major f32 [t][c][h][w] (the CPU
 * decoders' activations, every decoder's tiles and output), and diffusers' tiled decoding: overlapping
 * tiles decoded separately, blended linearly over their overlap (blend_v, blend_h, blend_t) and cut to the
 * stride. */
#ifndef VS_MODELS_COMMON_VAE_TILES_H
#define VS_MODELS_COMMON_VAE_TILES_H

#include <stddef.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vs_frames {
    float *d; /* [t][c][h][w] */
    int t, c, h, w;
} vs_frames;

/* Values in one frame, c h w. */
size_t vs_frames_size(const vs_frames *a);
/* a->d = malloc'd [t][c][h][w] (uninitialised); a one-line error naming the size when out of memory. */
vs_status vs_frames_alloc(vs_frames *a, int t, int c, int h, int w);
void vs_frames_free(vs_frames *a);

/* diffusers' blend_v / blend_h / blend_t, in place on b: its first e rows (columns, frames) fade in from the
 * last e of a, b's weight rising as i / e (e capped by both sizes). */
void vs_frames_blend_rows(const vs_frames *a, vs_frames *b, int e);
void vs_frames_blend_cols(const vs_frames *a, vs_frames *b, int e);
void vs_frames_blend_frames(const vs_frames *a, vs_frames *b, int e);

/* Decodes latent frames z into *out (allocated by the callee). */
typedef vs_status (*vs_frames_decoder)(void *decoder, const vs_frames *z, vs_frames *out);

/* diffusers' tiled_decode: latent tiles of tile_h x tile_w output pixels (sizes divided by `ratio`, the
 * decoder's spatial ratio) start every stride_h / stride_w pixels; each is decoded on its own, then in raster
 * order blended in place with the (already blended) tile above and the one to the left, and its top-left
 * stride x stride pixels are kept. *out: [frames of a tile][c][ratio z->h][ratio z->w]. */
vs_status vs_frames_decode_tiled(const vs_frames *z, int ratio, int tile_h, int tile_w, int stride_h,
                                 int stride_w, vs_frames_decoder decode, void *decoder, vs_frames *out);

#ifdef __cplusplus
}
#endif
#endif
