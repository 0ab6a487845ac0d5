/* The scene grammar of the embedded tiny model and a checker that tells
 * whether a video shows what its prompt says.
 *
 * Prompts read "a red circle moving left on a blue background", "two yellow
 * squares moving up on a black background": a count (a/one, two, three), an
 * object colour, a shape (circle, square, triangle), a direction (left,
 * right, up, down) and a background colour, from the palette below. The
 * training clips come from tools/tiny_data.py, which shares these tables.
 *
 * The checker, per video (u8 RGB frames):
 *   1. every pixel takes the nearest palette colour (distance in YCbCr with
 *      luma weighted 4x: 4:2:0 video blurs chroma across edges, not luma);
 *   2. background = the most frequent colour over all frames, object colour =
 *      the most frequent of the others; from then on each pixel is object or
 *      background, whichever of the two is nearer in luma (in the whole colour
 *      when their lumas differ by less than 10);
 *   3. per frame, the object pixels form 8-connected components; those under
 *      VS_SCENE_MIN_AREA pixels are noise. Count = the most frequent number of
 *      components per frame;
 *   4. shape, per component not touching the border, voted over components
 *      and frames: square when it fills >= 85% of its bounding box and 3 of
 *      the box's corners, triangle when it fills < 72% and its top quarter is
 *      under 45% as wide as its bottom quarter, else circle;
 *   5. motion: least-squares velocity of the object pixels' centroid over the
 *      frames; the larger axis and its sign give the direction, a total
 *      displacement under 2 pixels gives "still". */
#ifndef VS_EVAL_SCENE_H
#define VS_EVAL_SCENE_H

#include <stddef.h>
#include <stdint.h>

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { VS_SCENE_COLOURS = 8, VS_SCENE_SHAPES = 3, VS_SCENE_DIRECTIONS = 4, VS_SCENE_MAX_COUNT = 3 };
enum { VS_SCENE_MIN_AREA = 4 };
enum { VS_SCENE_ATTRIBUTES = 5 };

/* A scene's attributes; -1 means unknown (not in the prompt, or not found).
 * count 1..3 (0: no object found); direction 4 means still (found only). */
typedef struct vs_scene {
    int count, colour, shape, direction, background;
} vs_scene;

extern const char *const vs_scene_colour_names[VS_SCENE_COLOURS];
extern const uint8_t vs_scene_palette[VS_SCENE_COLOURS][3];
extern const char *const vs_scene_shape_names[VS_SCENE_SHAPES];
extern const char *const vs_scene_direction_names[VS_SCENE_DIRECTIONS + 1]; /* + "still" */
extern const char *const vs_scene_attribute_names[VS_SCENE_ATTRIBUTES];

/* Reads the attributes a prompt names (case-insensitive words; others are
 * ignored). The background colour is the one followed by "background".
 * VS_ERR_INVALID_ARG when the prompt names none of them. */
vs_status vs_scene_parse(const char *prompt, vs_scene *out);
/* The grammar's sentence for a fully known scene. */
void vs_scene_caption(const vs_scene *scene, char *buf, size_t size);
/* Scene `index` of the fixed evaluation set: attributes drawn from a hash of
 * the index (same on every machine), background != object colour. */
void vs_scene_eval_prompt(int index, vs_scene *out);

/* Analyses frames: rgb u8 [frames, height, width, 3]. */
vs_status vs_scene_analyze(const uint8_t *rgb, int frames, int height, int width, vs_scene *found);

typedef struct vs_scene_check {
    vs_scene expected, found;
    int checked;                         /* attributes the prompt names */
    int matched;                         /* of those, the ones the video shows */
    int match[VS_SCENE_ATTRIBUTES];      /* per attribute: 1 match, 0 mismatch, -1 not checked */
} vs_scene_check;

/* Parses the prompt, analyses `video` (u8 [T, H, W, 3] host) and compares. */
vs_status vs_scene_check_video(const vs_tensor *video, const char *prompt, vs_scene_check *out);
/* An attribute's value as text ("red", "3", "left", "?"). */
const char *vs_scene_value_name(const vs_scene *scene, int attribute, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
