/* libFuzzer target: any byte string given to vs_image_decode is either rejected with a one-line
 * message or yields an RGB image whose every byte can be read, and which resizes and converts to
 * [-1, 1] pixels; no crashes, leaks or undefined behaviour (libpng's and libjpeg's longjmp error paths
 * included). Seed corpus: fuzz/corpus/image (the test images of tests/data/image and truncated copies). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vs_image img;
    if (vs_image_decode(data, size, "fuzz input", &img) != VS_OK) {
        if (strchr(vs_last_error(), '\n')) __builtin_trap();
        return 0;
    }
    if (img.width < 1 || img.height < 1 || img.width > VS_IMAGE_MAX_SIDE || img.height > VS_IMAGE_MAX_SIDE)
        __builtin_trap();
    volatile unsigned sink = 0;
    for (size_t i = 0; i < (size_t)img.width * img.height * 3; i++) sink += img.rgb[i];
    if ((size_t)img.width * img.height <= (1u << 16)) { /* small enough to resample cheaply */
        vs_tensor pixels;
        if (vs_image_to_pixels(&img, 1 + img.width / 3, 2 + img.height / 2, &pixels) != VS_OK) __builtin_trap();
        const float *p = pixels.data;
        for (int64_t i = 0; i < vs_tensor_numel(&pixels); i++)
            if (!(p[i] >= -1.0f && p[i] <= 1.0f)) __builtin_trap();
        vs_tensor_free(&pixels);
    }
    vs_image_free(&img);
    return 0;
}
