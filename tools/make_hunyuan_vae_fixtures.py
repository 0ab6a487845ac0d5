#!/usr/bin/env python3
"""Writes the HunyuanVideo-VAE decoder golden files under tests/data/hunyuan_vae/.

A tiny random AutoencoderKLHunyuanVideo (diffusers) is saved in the diffusers vae/ layout (config.json +
diffusion_pytorch_model.safetensors holding decoder.* and post_quant_conv.* only), with random latents as the
DiT hands them over and diffusers' decodes of latents / scaling_factor, clamped to [-1, 1] (what the pipeline
keeps), computed in float64 and stored as float32:

  tests/data/hunyuan_vae/vae/config.json, diffusion_pytorch_model.safetensors
  tests/data/hunyuan_vae/reference.safetensors
      latents_a, video_a   [1, 8, 3, 5, 7]   no tiling (3 latent frames: one decoder pass)
      latents_b, video_b   [1, 8, 7, 4, 6]   diffusers' default framewise decoding: temporal tiles of 5
                                             latent frames every 3 (the last one a single frame)
      latents_c, video_c   [1, 8, 6, 9, 11]  enable_tiling with the tiny tiles of TILE: spatial and temporal
  video_* are [1, 3, T, H, W].

Run from the repository root (CPU only, a few seconds):
  /work/venv/bin/python tools/make_hunyuan_vae_fixtures.py
"""
import os

import torch
from diffusers import AutoencoderKLHunyuanVideo
from safetensors.torch import load_file, save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "hunyuan_vae")
TILE = dict(tile_sample_min_height=32, tile_sample_min_width=32, tile_sample_min_num_frames=8,
            tile_sample_stride_height=24, tile_sample_stride_width=16, tile_sample_stride_num_frames=4)
SHAPES = {"a": (3, 5, 7), "b": (7, 4, 6), "c": (6, 9, 11)}


def main():
    torch.manual_seed(20261203)
    gen = torch.Generator().manual_seed(17)
    vae = AutoencoderKLHunyuanVideo(
        latent_channels=8,
        block_out_channels=(8, 16, 16, 32),
        layers_per_block=1,
        norm_num_groups=4,
    ).eval()
    # Random norm affines (the defaults 1 and 0 would hide a missing or misplaced one); a smaller conv_out
    # keeps most decoded values inside [-1, 1] so the clamp hides little.
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if "norm" in name:
                p.copy_((1 if name.endswith("weight") else 0) + 0.2 * torch.randn(p.shape, generator=gen))
        vae.decoder.conv_out.conv.weight.mul_(0.3)
    vae.save_pretrained(os.path.join(OUT, "vae"), safe_serialization=True)
    weights = os.path.join(OUT, "vae", "diffusion_pytorch_model.safetensors")
    kept = {k: v for k, v in load_file(weights).items() if k.startswith(("decoder.", "post_quant_conv."))}
    save_file(kept, weights, metadata={"format": "pt"})

    vae = vae.double()
    sf = vae.config.scaling_factor
    out = {}
    with torch.no_grad():
        for key, (t, h, w) in SHAPES.items():
            latents = torch.randn(1, 8, t, h, w, generator=gen)
            if key == "c":
                vae.enable_tiling(**TILE)
            video = vae.decode(latents.double() / sf).sample
            vae.disable_tiling()
            clipped = (video.abs() > 1).float().mean().item()
            print(f"{key}: latents {list(latents.shape)} -> video {list(video.shape)}, {100 * clipped:.1f}% clamped")
            out["latents_" + key] = latents.contiguous()
            out["video_" + key] = video.clamp(-1, 1).float().contiguous()
    save_file(out, os.path.join(OUT, "reference.safetensors"))


if __name__ == "__main__":
    main()
