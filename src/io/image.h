/* Still images in: PNG (libpng) and JPEG (libjpeg-turbo) decoded to 8-bit
 * RGB, as PIL's Image.open(...).convert("RGB") gives them (grey and palette
 * images expanded, alpha dropped, 16-bit samples cut to their high byte; no
 * gamma or colour management), and the image-to-video pipelines' resize to
 * the video size.
 *
 * A file that is not a PNG or a JPEG, truncated, corrupt or too large
 * (VS_IMAGE_MAX_SIDE) fails with one line naming the file and the problem. */
#ifndef VS_IO_IMAGE_H
#define VS_IO_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VS_IMAGE_MAX_SIDE 16384

typedef struct vs_image {
    int width, height;
    uint8_t *rgb; /* height rows of width pixels of R, G, B */
} vs_image;

vs_status vs_image_load(const char *path, vs_image *out);
/* The same from bytes in memory; `label` names them in errors. */
vs_status vs_image_decode(const void *data, size_t size, const char *label, vs_image *out);
void vs_image_free(vs_image *img);

/* PIL's Image.resize((width, height), Image.LANCZOS) on an RGB image, exactly: separable
 * Lanczos-3 (the support widened by the scale when shrinking), the horizontal pass first, each pass
 * with PIL's 22-bit fixed-point coefficients and rounding to 8 bits. The image is stretched to the
 * size (no crop), as diffusers' VaeImageProcessor.resize does with resize_mode "default". */
vs_status vs_image_resize_lanczos(const vs_image *in, int width, int height, vs_image *out);

/* The CogVideoX image-to-video pipelines' image preprocessing (VideoProcessor.preprocess): the image
 * resized to width x height as above, then each value v / 255 * 2 - 1 into a new f32 tensor
 * [3, height, width] in [-1, 1]. */
vs_status vs_image_to_pixels(const vs_image *img, int width, int height, vs_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
