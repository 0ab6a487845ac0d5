#!/usr/bin/env python3
"""A video's frames side by side in one PNG (the strips under docs/images/):
each frame scaled up by an integer factor with nearest-neighbour sampling,
white gaps between them. Reads a folder of PNG frames as `vidsparse generate
-o frames/` writes it.

    vidsparse generate --device cpu -p "a red circle moving left on a blue background" -o /tmp/frames/
    python3 tools/clip_strip.py /tmp/frames docs/images/tiny-red-circle-left.png
"""
import argparse
import os

from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("frames", help="folder of frame_NNNN.png files")
    ap.add_argument("output", help="the strip, a PNG file")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--gap", type=int, default=2, help="white pixels between frames")
    args = ap.parse_args()
    names = sorted(n for n in os.listdir(args.frames) if n.endswith(".png"))
    if not names:
        ap.error(f"{args.frames} holds no PNG frames")
    frames = [Image.open(os.path.join(args.frames, n)).convert("RGB") for n in names]
    w, h = frames[0].size
    w, h = w * args.scale, h * args.scale
    strip = Image.new("RGB", (len(frames) * w + (len(frames) - 1) * args.gap, h), "white")
    for i, f in enumerate(frames):
        strip.paste(f.resize((w, h), Image.NEAREST), (i * (w + args.gap), 0))
    strip.save(args.output, optimize=True)
    print(f"{len(frames)} frames of {w // args.scale}x{h // args.scale} -> {args.output} ({strip.size[0]}x{h})")


if __name__ == "__main__":
    main()
