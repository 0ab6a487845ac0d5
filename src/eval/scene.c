#include "eval/scene.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

/* The same names and values as tools/tiny_data.py's COLOURS. */
const char *const vs_scene_colour_names[VS_SCENE_COLOURS] = {"red",   "green", "blue",   "yellow",
                                                             "white", "black", "purple", "orange"};
const uint8_t vs_scene_palette[VS_SCENE_COLOURS][3] = {
    {220, 40, 40}, {40, 180, 60}, {40, 70, 220}, {240, 220, 40},
    {245, 245, 245}, {15, 15, 15}, {195, 100, 240}, {245, 140, 30},
};
const char *const vs_scene_shape_names[VS_SCENE_SHAPES] = {"circle", "square", "triangle"};
const char *const vs_scene_direction_names[VS_SCENE_DIRECTIONS + 1] = {"left", "right", "up", "down", "still"};
const char *const vs_scene_attribute_names[VS_SCENE_ATTRIBUTES] = {"count", "colour", "shape", "direction",
                                                                   "background"};
static const char *const count_words[VS_SCENE_MAX_COUNT] = {"a", "two", "three"};

static int lookup(const char *word, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(word, names[i])) return i;
    return -1;
}

vs_status vs_scene_parse(const char *prompt, vs_scene *out) {
    vs_scene s = {-1, -1, -1, -1, -1};
    if (!prompt) return vs_fail(VS_ERR_INVALID_ARG, "scene prompt: no prompt given");
    /* Lower-cased words, in order. */
    enum { MAX_WORDS = 64, WORD = 32 };
    char words[MAX_WORDS][WORD];
    int n = 0;
    for (const char *p = prompt; *p && n < MAX_WORDS;) {
        if (!isalpha((unsigned char)*p)) {
            p++;
            continue;
        }
        int len = 0;
        for (; isalpha((unsigned char)*p); p++)
            if (len < WORD - 1) words[n][len++] = (char)tolower((unsigned char)*p);
        words[n++][len] = 0;
    }
    for (int i = 0; i < n; i++) {
        const char *w = words[i];
        int colour = lookup(w, vs_scene_colour_names, VS_SCENE_COLOURS);
        if (colour >= 0) {
            if (i + 1 < n && !strcmp(words[i + 1], "background")) s.background = colour;
            else if (s.colour < 0) s.colour = colour;
            continue;
        }
        char singular[WORD];
        memcpy(singular, w, sizeof singular);
        size_t len = strlen(singular);
        if (len > 1 && singular[len - 1] == 's') singular[len - 1] = 0;
        int shape = lookup(singular, vs_scene_shape_names, VS_SCENE_SHAPES);
        if (shape >= 0 && s.shape < 0) s.shape = shape;
        int direction = lookup(w, vs_scene_direction_names, VS_SCENE_DIRECTIONS);
        if (direction >= 0 && s.direction < 0) s.direction = direction;
        /* A count word counts when an object colour or a shape follows ("on a blue background" names none). */
        int count = lookup(w, count_words, VS_SCENE_MAX_COUNT);
        if (!strcmp(w, "an") || !strcmp(w, "one")) count = 0;
        if (count >= 0 && s.count < 0 && i + 1 < n) {
            char next[WORD];
            memcpy(next, words[i + 1], sizeof next);
            size_t nlen = strlen(next);
            if (nlen > 1 && next[nlen - 1] == 's') next[nlen - 1] = 0;
            int colour_next = lookup(words[i + 1], vs_scene_colour_names, VS_SCENE_COLOURS) >= 0 &&
                              !(i + 2 < n && !strcmp(words[i + 2], "background"));
            if (colour_next || lookup(next, vs_scene_shape_names, VS_SCENE_SHAPES) >= 0) s.count = count + 1;
        }
    }
    if (s.count < 0 && s.colour < 0 && s.shape < 0 && s.direction < 0 && s.background < 0)
        return vs_fail(VS_ERR_INVALID_ARG,
                       "prompt '%s' names no count, colour, shape, direction or background the checker knows", prompt);
    *out = s;
    return VS_OK;
}

void vs_scene_caption(const vs_scene *s, char *buf, size_t size) {
    snprintf(buf, size, "%s %s %s%s moving %s on a %s background", count_words[s->count - 1],
             vs_scene_colour_names[s->colour], vs_scene_shape_names[s->shape], s->count > 1 ? "s" : "",
             vs_scene_direction_names[s->direction], vs_scene_colour_names[s->background]);
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void vs_scene_eval_prompt(int index, vs_scene *out) {
    uint64_t h = splitmix64(0x5CE4E5u + (uint64_t)index);
    /* Mixed radix over the hash: count 3, colour 8, shape 3, direction 4, background 7 (skipping the colour). */
    out->count = (int)(h % 3) + 1, h /= 3;
    out->colour = (int)(h % VS_SCENE_COLOURS), h /= VS_SCENE_COLOURS;
    out->shape = (int)(h % VS_SCENE_SHAPES), h /= VS_SCENE_SHAPES;
    out->direction = (int)(h % VS_SCENE_DIRECTIONS), h /= VS_SCENE_DIRECTIONS;
    int bg = (int)(h % (VS_SCENE_COLOURS - 1));
    out->background = bg >= out->colour ? bg + 1 : bg;
}

/* ---- analysis ---------------------------------------------------------------------- */

static void ycbcr(const uint8_t *px, double *out) {
    out[0] = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
    out[1] = -0.168736 * px[0] - 0.331264 * px[1] + 0.5 * px[2];
    out[2] = 0.5 * px[0] - 0.418688 * px[1] - 0.081312 * px[2];
}

/* Whether a pixel is nearer the object colour than the background. 4:2:0 video
 * (Y4M, MP4) shares chroma among 2x2 pixels, blurring it across the object's
 * edge, but keeps luma per pixel: so luma alone decides when the two colours
 * differ enough in it, the whole colour only otherwise (red on purple). */
static int is_object(const uint8_t *px, const double *obj, const double *bg) {
    double p[3];
    ycbcr(px, p);
    if (fabs(obj[0] - bg[0]) >= 10.0) return fabs(p[0] - obj[0]) < fabs(p[0] - bg[0]);
    double d_obj = 0, d_bg = 0;
    for (int i = 0; i < 3; i++) d_obj += (p[i] - obj[i]) * (p[i] - obj[i]), d_bg += (p[i] - bg[i]) * (p[i] - bg[i]);
    return d_obj < d_bg;
}

/* Nearest palette colour, in YCbCr with luma weighted 4x (it is the sharp part of 4:2:0 video). */
static int nearest_colour(const uint8_t *px) {
    double p[3];
    ycbcr(px, p);
    int best = 0;
    double best_d = INFINITY;
    for (int c = 0; c < VS_SCENE_COLOURS; c++) {
        double q[3], d = 0;
        ycbcr(vs_scene_palette[c], q);
        for (int i = 0; i < 3; i++) d += (i == 0 ? 4.0 : 1.0) * (p[i] - q[i]) * (p[i] - q[i]);
        if (d < best_d) best_d = d, best = c;
    }
    return best;
}

static int argmax(const int64_t *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

typedef struct {
    int area, x0, y0, x1, y1; /* bounding box, inclusive */
    int touches_border;
} component;

/* Shape of one component of `mask` (the pixels labelled `id` in `labels`). */
static int classify_shape(const int *labels, int id, const component *c, int width) {
    int bw = c->x1 - c->x0 + 1, bh = c->y1 - c->y0 + 1;
    /* Widths of the top and bottom quarters of the box (at least one row each). */
    int quarter = bh / 4 > 0 ? bh / 4 : 1, top = 0, bottom = 0;
    for (int y = c->y0; y <= c->y1; y++)
        for (int x = c->x0; x <= c->x1; x++) {
            if (labels[y * width + x] != id) continue;
            if (y < c->y0 + quarter) top++;
            if (y > c->y1 - quarter) bottom++;
        }
    /* A square fills its box, corners included; a triangle half of it, with a narrow top and a wide base;
     * a disc about pi/4 of it, never reaching the box's corners. */
    const double fill = (double)c->area / (bw * bh);
    const int corners = (labels[c->y0 * width + c->x0] == id) + (labels[c->y0 * width + c->x1] == id) +
                        (labels[c->y1 * width + c->x0] == id) + (labels[c->y1 * width + c->x1] == id);
    if (corners >= 3 && fill >= 0.85) return 1;
    return top < 0.45 * bottom && fill < 0.72 ? 2 : 0;
}

vs_status vs_scene_analyze(const uint8_t *rgb, int frames, int height, int width, vs_scene *found) {
    if (!rgb || frames < 1 || height < 1 || width < 1)
        return vs_fail(VS_ERR_INVALID_ARG, "scene analysis: empty video");
    const int64_t plane = (int64_t)height * width, total = plane * frames;
    uint8_t *colour = malloc((size_t)total);
    int *labels = malloc(sizeof(int) * (size_t)plane), *stack = malloc(sizeof(int) * (size_t)plane);
    component *comps = malloc(sizeof(component) * (size_t)plane);
    vs_status st = VS_OK;
    if (!colour || !labels || !stack || !comps) {
        st = vs_fail(VS_ERR_OOM, "scene analysis: out of memory for %d frames of %dx%d", frames, width, height);
        goto done;
    }
    int64_t hist[VS_SCENE_COLOURS] = {0};
    for (int64_t i = 0; i < total; i++) hist[colour[i] = (uint8_t)nearest_colour(rgb + 3 * i)]++;
    vs_scene s = {0, -1, -1, -1, argmax(hist, VS_SCENE_COLOURS)};
    hist[s.background] = -1;
    int obj = argmax(hist, VS_SCENE_COLOURS);
    if (hist[obj] <= 0) goto found; /* one colour everywhere: no object */
    s.colour = obj;
    /* From here on, a pixel is object or background: the two-colour decision of is_object. */
    double obj_ycc[3], bg_ycc[3];
    ycbcr(vs_scene_palette[obj], obj_ycc);
    ycbcr(vs_scene_palette[s.background], bg_ycc);
    for (int64_t i = 0; i < total; i++) colour[i] = (uint8_t)is_object(rgb + 3 * i, obj_ycc, bg_ycc);

    int64_t count_votes[VS_SCENE_MAX_COUNT + 2] = {0}; /* 0, 1, 2, 3, more */
    int64_t shape_votes[VS_SCENE_SHAPES] = {0};
    double sum_t = 0, sum_tt = 0, sum_x = 0, sum_y = 0, sum_tx = 0, sum_ty = 0;
    int present = 0;
    for (int f = 0; f < frames; f++) {
        const uint8_t *cf = colour + f * plane;
        for (int64_t p = 0; p < plane; p++) labels[p] = -1;
        int ncomp = 0, kept = 0;
        double mx = 0, my = 0;
        int64_t mass = 0;
        for (int64_t p0 = 0; p0 < plane; p0++) {
            if (!cf[p0] || labels[p0] >= 0) continue;
            /* Flood fill of one 8-connected component. */
            component c = {0, width, height, -1, -1, 0};
            int top = 0;
            stack[top++] = (int)p0;
            labels[p0] = ncomp;
            while (top > 0) {
                int p = stack[--top], x = p % width, y = p / width;
                c.area++;
                if (x < c.x0) c.x0 = x;
                if (x > c.x1) c.x1 = x;
                if (y < c.y0) c.y0 = y;
                if (y > c.y1) c.y1 = y;
                if (x == 0 || y == 0 || x == width - 1 || y == height - 1) c.touches_border = 1;
                mx += x, my += y, mass++;
                for (int dy = -1; dy <= 1; dy++)
                    for (int dx = -1; dx <= 1; dx++) {
                        int nx = x + dx, ny = y + dy;
                        if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
                        int q = ny * width + nx;
                        if (cf[q] && labels[q] < 0) labels[q] = ncomp, stack[top++] = q;
                    }
            }
            comps[ncomp++] = c;
        }
        for (int i = 0; i < ncomp; i++) {
            if (comps[i].area < VS_SCENE_MIN_AREA) continue;
            kept++;
            if (!comps[i].touches_border) shape_votes[classify_shape(labels, i, &comps[i], width)]++;
        }
        count_votes[kept > VS_SCENE_MAX_COUNT ? VS_SCENE_MAX_COUNT + 1 : kept]++;
        if (mass > 0) {
            double x = mx / (double)mass, y = my / (double)mass;
            sum_t += f, sum_tt += (double)f * f, sum_x += x, sum_y += y, sum_tx += f * x, sum_ty += f * y;
            present++;
        }
    }
    int count = argmax(count_votes, VS_SCENE_MAX_COUNT + 2);
    s.count = count > VS_SCENE_MAX_COUNT ? VS_SCENE_MAX_COUNT + 1 : count;
    if (shape_votes[0] + shape_votes[1] + shape_votes[2] > 0) s.shape = argmax(shape_votes, VS_SCENE_SHAPES);
    if (present >= 2) {
        double denom = present * sum_tt - sum_t * sum_t;
        double vx = denom > 0 ? (present * sum_tx - sum_t * sum_x) / denom : 0;
        double vy = denom > 0 ? (present * sum_ty - sum_t * sum_y) / denom : 0;
        double span = (double)(frames - 1);
        if (fabs(vx) * span < 2.0 && fabs(vy) * span < 2.0) s.direction = VS_SCENE_DIRECTIONS; /* still */
        else if (fabs(vx) >= fabs(vy)) s.direction = vx < 0 ? 0 : 1;
        else s.direction = vy < 0 ? 2 : 3;
    }
found:
    *found = s;
done:
    free(colour);
    free(labels);
    free(stack);
    free(comps);
    return st;
}

static int attribute(const vs_scene *s, int i) {
    switch (i) {
    case 0: return s->count;
    case 1: return s->colour;
    case 2: return s->shape;
    case 3: return s->direction;
    default: return s->background;
    }
}

const char *vs_scene_value_name(const vs_scene *s, int i, char *buf, size_t size) {
    int v = attribute(s, i);
    if (v < 0) snprintf(buf, size, "?");
    else if (i == 0) snprintf(buf, size, v > VS_SCENE_MAX_COUNT ? "more than %d" : "%d", v > VS_SCENE_MAX_COUNT ? VS_SCENE_MAX_COUNT : v);
    else if (i == 2) snprintf(buf, size, "%s", vs_scene_shape_names[v]);
    else if (i == 3) snprintf(buf, size, "%s", vs_scene_direction_names[v]);
    else snprintf(buf, size, "%s", vs_scene_colour_names[v]);
    return buf;
}

vs_status vs_scene_check_video(const vs_tensor *video, const char *prompt, vs_scene_check *out) {
    if (!video || !video->data || video->dtype != VS_U8 || video->device != VS_CPU || video->ndim != 4 ||
        video->shape[3] != 3 || !vs_tensor_is_contiguous(video))
        return vs_fail(VS_ERR_SHAPE, "scene check: the video must be contiguous u8 [T, H, W, 3] in host memory");
    if (video->shape[0] > 100000 || video->shape[1] > 16384 || video->shape[2] > 16384)
        return vs_fail(VS_ERR_SHAPE, "scene check: video of %lld frames of %lldx%lld is too large",
                       (long long)video->shape[0], (long long)video->shape[2], (long long)video->shape[1]);
    vs_scene_check c;
    memset(&c, 0, sizeof c);
    VS_TRY(vs_scene_parse(prompt, &c.expected));
    VS_TRY(vs_scene_analyze(video->data, (int)video->shape[0], (int)video->shape[1], (int)video->shape[2], &c.found));
    for (int i = 0; i < VS_SCENE_ATTRIBUTES; i++) {
        int want = attribute(&c.expected, i);
        c.match[i] = want < 0 ? -1 : want == attribute(&c.found, i);
        if (want >= 0) c.checked++, c.matched += c.match[i];
    }
    *out = c;
    return VS_OK;
}
