/* Writing decoded videos: MP4 (H.264 through the FFmpeg libraries, when the
 * build has them), a folder of PNG frames (libpng, when the build has it) and
 * Y4M (YUV4MPEG2, always available).
 *
 * Frames come as f32 [T, 3, H, W] with values in [-1, 1] (what the VAE
 * decoder returns; clamped, then mapped to 0..255 with rounding) or as u8
 * [T, H, W, 3] packed RGB. Host memory, contiguous.
 *
 * Nothing half-written is ever left behind: each file is written under a
 * temporary name in its destination folder and renamed into place at the
 * end; on failure the temporary file is removed and an existing file of the
 * same name is left as it was. PNG frames are all written to temporary names
 * before any is renamed (a folder the call created is removed on failure).
 * docs/video.md describes the formats and the colour conversion. */
#ifndef VS_IO_VIDEO_H
#define VS_IO_VIDEO_H

#include "vidsparse.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VS_VIDEO_DEFAULT_FPS 16

typedef enum vs_video_format {
    VS_VIDEO_Y4M, /* "x.y4m" */
    VS_VIDEO_MP4, /* "x.mp4" */
    VS_VIDEO_PNG, /* "dir/" or an existing folder (frames dir/frame_0000.png, ...),
                     or a pattern "dir/img_%04d.png" / "img_%d.png" (numbered from 0) */
} vs_video_format;

/* The format a path asks for (extension checks ignore case). Paths that name
 * none of the above are VS_ERR_INVALID_ARG; formats this build lacks are
 * VS_ERR_UNSUPPORTED with the package to install. */
vs_status vs_video_format_from_path(const char *path, vs_video_format *out);

/* Writes `frames` to `path` in the format the path asks for, at `fps` frames
 * per second (1..240; PNG sequences ignore it). */
vs_status vs_video_write(const char *path, const vs_tensor *frames, int fps);

/* Reads a video back as u8 [T, H, W, 3] packed RGB into *out (owned; free it
 * with vs_tensor_free): a .y4m file (8-bit 4:2:0, 4:4:4 or mono, limited or
 * XCOLORRANGE=FULL range, converted with the inverse of the writer's BT.601
 * matrix) or a folder of .png frames taken in name order. MP4 is not read. */
vs_status vs_video_read(const char *path, vs_tensor *out);

/* f32 [T, 3, H, W] frames in [-1, 1] -> u8 [T, H, W, 3] as the writers store
 * them (clamped, round((x + 1) * 127.5)); *out is owned. */
vs_status vs_video_frames_u8(const vs_tensor *frames, vs_tensor *out);

/* BT.601 limited-range ("studio swing") conversion of one packed RGB image to
 * planar 4:2:0: y is w*h bytes, u and v are ceil(w/2)*ceil(h/2) bytes each,
 * chroma being the mean over each 2x2 block (centre-sited, as JPEG/MPEG-1). */
void vs_rgb_to_yuv420(const uint8_t *rgb, int w, int h, uint8_t *y, uint8_t *u, uint8_t *v);

#ifdef __cplusplus
}
#endif
#endif
