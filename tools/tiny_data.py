#!/usr/bin/env python3
"""Procedural training clips for the embedded tiny text-to-video model.

A clip is 16 frames of 32x32 RGB pixels: one, two or three objects of one
colour and one shape (circle, square, triangle) moving in one direction (left,
right, up, down) over a plain background, with the caption the grammar gives:

    "a red circle moving left on a blue background"
    "two yellow squares moving up on a black background"

Objects have hard edges (no anti-aliasing), so each pixel is exactly the
background or the object colour, move 0.7-1.0 pixel per frame and stay fully
inside the frame; several objects move in parallel lanes and never overlap.
The colours, shape, count and direction here are the ones the C checker
(src/eval/scene.c) knows: keep the two in step.

Rendering is vectorised in torch, so training draws fresh clips on the GPU
at every step. As a script it writes a few clips as .y4m files (the checker's
test fixtures):

    python3 tools/tiny_data.py --clips tests/data/scenes     # fixture clips
    python3 tools/tiny_data.py --list | head                 # all captions
"""
import argparse
import json
import os

import torch

FRAMES, HEIGHT, WIDTH = 16, 32, 32

# name -> RGB; the checker's palette (src/eval/scene.c) has the same values.
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 70, 220),
    "yellow": (240, 220, 40),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
    "purple": (195, 100, 240),
    "orange": (245, 140, 30),
}
COLOUR_NAMES = list(COLOURS)
SHAPES = ["circle", "square", "triangle"]
COUNTS = ["a", "two", "three"]
DIRECTIONS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
DIRECTION_NAMES = list(DIRECTIONS)
# Object size (diameter / side, pixels) by count: smaller when they share the frame in lanes.
SIZES = {1: (9.0, 12.0), 2: (8.0, 10.0), 3: (8.0, 9.0)}
SPEED = (0.7, 1.0)  # pixels per frame


def caption(count, colour, shape, direction, background):
    """count 1..3, the rest names. The grammar's only sentence form."""
    plural = "s" if count > 1 else ""
    return f"{COUNTS[count - 1]} {colour} {shape}{plural} moving {direction} on a {background} background"


def all_scenes():
    """Every (count, colour, shape, direction, background) of the grammar, background != colour (2016)."""
    out = []
    for count in (1, 2, 3):
        for colour in COLOUR_NAMES:
            for shape in SHAPES:
                for direction in DIRECTION_NAMES:
                    for background in COLOUR_NAMES:
                        if background != colour:
                            out.append((count, colour, shape, direction, background))
    return out


def render(scenes, generator, device="cpu"):
    """Clips for a list of scenes: f32 [B, 3, FRAMES, HEIGHT, WIDTH] in [-1, 1].

    Object sizes, speeds and start positions are drawn from `generator`
    (a torch.Generator on `device`)."""
    B = len(scenes)
    rand = lambda *shape: torch.rand(*shape, generator=generator, device=device)
    count = torch.tensor([s[0] for s in scenes], device=device)
    colour = torch.tensor([COLOURS[s[1]] for s in scenes], device=device, dtype=torch.float32)
    shape = torch.tensor([SHAPES.index(s[2]) for s in scenes], device=device)
    dvec = torch.tensor([DIRECTIONS[s[3]] for s in scenes], device=device, dtype=torch.float32)
    background = torch.tensor([COLOURS[s[4]] for s in scenes], device=device, dtype=torch.float32)

    lo = torch.tensor([SIZES[int(c)][0] for c in count.tolist()], device=device)
    hi = torch.tensor([SIZES[int(c)][1] for c in count.tolist()], device=device)
    size = lo + (hi - lo) * rand(B)
    speed = SPEED[0] + (SPEED[1] - SPEED[0]) * rand(B)
    travel = speed * (FRAMES - 1)
    horizontal = dvec[:, 0] != 0

    # Up to 3 objects per clip; object k exists when k < count. Along the motion each starts
    # anywhere that keeps it inside for the whole clip; across it, object k sits in lane k of `count`.
    K = 3
    half = size[:, None] / 2
    extent = WIDTH  # square frames: the same bound along either axis
    along_min = torch.where(dvec.sum(1) < 0, half[:, 0] + travel, half[:, 0])
    along_max = torch.where(dvec.sum(1) < 0, extent - half[:, 0], extent - half[:, 0] - travel)
    along0 = along_min[:, None] + (along_max - along_min)[:, None] * rand(B, K)
    lane = extent / count[:, None].float()
    k = torch.arange(K, device=device)[None, :].float()
    slack = (lane - size[:, None]).clamp(min=0) / 2
    across = (k + 0.5) * lane + (rand(B, K) * 2 - 1) * slack * 0.8
    across = torch.maximum(torch.minimum(across, extent - half), half)

    t = torch.arange(FRAMES, device=device, dtype=torch.float32)
    moved = along0[:, :, None] + (dvec.sum(1) * speed)[:, None, None] * t[None, None, :]  # [B, K, T]
    fixed = across[:, :, None].expand(-1, -1, FRAMES)
    cx = torch.where(horizontal[:, None, None], moved, fixed)
    cy = torch.where(horizontal[:, None, None], fixed, moved)

    ys = torch.arange(HEIGHT, device=device, dtype=torch.float32) + 0.5
    xs = torch.arange(WIDTH, device=device, dtype=torch.float32) + 0.5
    dx = xs[None, None, None, None, :] - cx[..., None, None]  # [B, K, T, 1, W]
    dy = ys[None, None, None, :, None] - cy[..., None, None]  # [B, K, T, H, 1]
    h = half[:, :, None, None, None]
    circle = dx * dx + dy * dy <= h * h
    square = (dx.abs() <= h) & (dy.abs() <= h)
    # Triangle pointing up: apex at the top centre, base along the bottom edge.
    triangle = (dy <= h) & (dy >= -h) & (dx.abs() <= (dy + h) / 2)
    sel = shape[:, None, None, None, None]
    mask = torch.where(sel == 0, circle, torch.where(sel == 1, square, triangle))
    present = k[:, :, None, None, None] < count[:, None, None, None, None]
    mask = (mask & present).any(1)  # [B, T, H, W]

    m = mask[:, None].float()
    video = m * colour[:, :, None, None, None] + (1 - m) * background[:, :, None, None, None]
    return video / 127.5 - 1.0


def to_u8(video):
    """[3, T, H, W] in [-1, 1] -> uint8 [T, H, W, 3] as vidsparse's writers round it."""
    v = ((video.clamp(-1, 1) + 1) * 127.5 + 0.5).floor().clamp(0, 255).to(torch.uint8)
    return v.permute(1, 2, 3, 0).contiguous()


def write_y4m(path, frames_u8, fps=16):
    """Y4M as vidsparse writes it (src/io/video.c): BT.601 studio swing, 4:2:0 with 2x2 mean chroma."""
    T, H, W, _ = frames_u8.shape
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F{fps}:1 Ip A1:1 C420jpeg XCOLORRANGE=LIMITED\n".encode())
        for i in range(T):
            rgb = frames_u8[i].float()
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
            cb = (-37.797 * r - 74.203 * g + 112.0 * b) / 255
            cr = (112.0 * r - 93.786 * g - 18.214 * b) / 255
            pool = lambda c: c.reshape(H // 2, 2, W // 2, 2).mean((1, 3))
            plane = lambda c: (c + 0.5).floor().clamp(0, 255).to(torch.uint8).numpy().tobytes()
            f.write(b"FRAME\n" + plane(y) + plane(128 + pool(cb)) + plane(128 + pool(cr)))


# The fixture clips: one of each shape, count, direction, and varied colours.
FIXTURES = [
    (1, "red", "circle", "left", "blue"),
    (2, "yellow", "square", "up", "black"),
    (3, "white", "triangle", "right", "green"),
    (1, "orange", "square", "down", "purple"),
    (2, "black", "circle", "right", "yellow"),
    (1, "purple", "triangle", "up", "white"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", metavar="DIR", help="write the fixture clips (.y4m) and prompts.json there")
    ap.add_argument("--list", action="store_true", help="print every caption of the grammar")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if args.list:
        for s in all_scenes():
            print(caption(*s))
    if args.clips:
        os.makedirs(args.clips, exist_ok=True)
        g = torch.Generator().manual_seed(args.seed)
        videos = render(FIXTURES, g)
        index = []
        for i, (scene, video) in enumerate(zip(FIXTURES, videos)):
            name = f"clip{i}.y4m"
            write_y4m(os.path.join(args.clips, name), to_u8(video))
            index.append({"file": name, "prompt": caption(*scene)})
        with open(os.path.join(args.clips, "prompts.json"), "w") as f:
            json.dump(index, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
