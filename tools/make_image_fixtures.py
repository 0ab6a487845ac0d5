#!/usr/bin/env python3
"""Golden files for tests/test_image.c, written with PIL and diffusers on the CPU.

    python3 tools/make_image_fixtures.py   # writes tests/data/image/

  rgb.png, rgba.png, gray.png, palette.png (with transparency), bilevel.png (1 bit),
  rgb.jpg (4:2:0), gray.jpg, progressive.jpg     small seeded images (37 x 23)
  reference.safetensors
    <file>          U8 [h, w, 3]   PIL's Image.open(file).convert("RGB")
    resize_<W>x<H>  U8 [H, W, 3]   rgb.png resized by PIL's Image.resize((W, H), Image.LANCZOS)
    pixels_24x16    F32 [1, 3, 16, 24]  diffusers' VideoProcessor().preprocess(image, 16, 24) of rgb.png
                                   (what CogVideoXImageToVideoPipeline feeds the VAE)
"""
import os

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from diffusers.video_processor import VideoProcessor

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "image")
W, H = 37, 23
SIZES = [(61, 45), (20, 13), (50, 11), (37, 40), (9, 23)]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(3)
    # smooth content with some noise, so JPEG and resampling have structure to work on
    y, x = np.mgrid[0:H, 0:W]
    base = np.stack([128 + 100 * np.sin(x / 5.0), 128 + 100 * np.cos(y / 4.0), (x * 7 + y * 3) % 256], axis=-1)
    rgb = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    img = Image.fromarray(rgb, "RGB")
    img.save(os.path.join(OUT, "rgb.png"))
    alpha = rng.integers(0, 256, (H, W), dtype=np.uint8)
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(os.path.join(OUT, "rgba.png"))
    img.convert("L").save(os.path.join(OUT, "gray.png"))
    pal = img.quantize(16)
    pal.info["transparency"] = 3
    pal.save(os.path.join(OUT, "palette.png"), transparency=3)
    img.convert("1").save(os.path.join(OUT, "bilevel.png"))
    img.save(os.path.join(OUT, "rgb.jpg"), quality=90)
    img.convert("L").save(os.path.join(OUT, "gray.jpg"), quality=85)
    img.save(os.path.join(OUT, "progressive.jpg"), quality=80, progressive=True)
    ref = {}
    for name in ["rgb.png", "rgba.png", "gray.png", "palette.png", "bilevel.png", "rgb.jpg", "gray.jpg",
                 "progressive.jpg"]:
        ref[name] = torch.from_numpy(np.array(Image.open(os.path.join(OUT, name)).convert("RGB"))).contiguous()
    for w, h in SIZES:
        ref[f"resize_{w}x{h}"] = torch.from_numpy(np.array(img.resize((w, h), Image.LANCZOS))).contiguous()
    ref["pixels_24x16"] = VideoProcessor(vae_scale_factor=8).preprocess(Image.open(os.path.join(OUT, "rgb.png")),
                                                                        height=16, width=24).float().contiguous()
    save_file(ref, os.path.join(OUT, "reference.safetensors"))


if __name__ == "__main__":
    main()
