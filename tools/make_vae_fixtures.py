#!/usr/bin/env python3
"""Writes the Wan-VAE decoder golden files under tests/data/vae/.

A tiny random AutoencoderKLWan (diffusers) is saved in the diffusers vae/
layout (config.json + diffusion_pytorch_model.safetensors), together with a
random latent input and the reference decodes (untiled and spatially tiled)
computed in float64 and stored as float32:

  tests/data/vae/vae/config.json
  tests/data/vae/vae/diffusion_pytorch_model.safetensors   (decoder.* and post_quant_conv.* only)
  tests/data/vae/reference.safetensors
      latents        [1, 16, T, h, w]   what the DiT hands over (normalised)
      video          [1, 3, 1+4(T-1), 8h, 8w]  AutoencoderKLWan.decode(latents * std + mean)
      video_tiled    same, with enable_tiling(32, 32, 24, 24)

Run from the repository root (CPU only, a few seconds):
  python3 tools/make_vae_fixtures.py
"""
import json
import os

import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import load_file, save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "vae")
TILE = dict(tile_sample_min_height=32, tile_sample_min_width=32,
            tile_sample_stride_height=24, tile_sample_stride_width=24)


def main():
    torch.manual_seed(20251124)
    gen = torch.Generator().manual_seed(7)
    z_dim = 16
    vae = AutoencoderKLWan(
        base_dim=8,
        z_dim=z_dim,
        dim_mult=[1, 2, 2, 2],
        num_res_blocks=1,
        attn_scales=[],
        temperal_downsample=[False, True, True],
        latents_mean=[round(float(v), 4) for v in torch.randn(z_dim, generator=gen) * 0.5],
        latents_std=[round(float(v), 4) for v in torch.rand(z_dim, generator=gen) * 2 + 0.5],
    ).eval()
    # Random RMS-norm gains (the default is all ones, which would hide a missing gamma).
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
    vae.save_pretrained(os.path.join(OUT, "vae"), safe_serialization=True)
    # The engine only decodes: drop the encoder half to keep the fixture small
    # (the folder then no longer loads back into diffusers, which does not matter here).
    weights = os.path.join(OUT, "vae", "diffusion_pytorch_model.safetensors")
    kept = {k: v for k, v in load_file(weights).items() if k.startswith(("decoder.", "post_quant_conv."))}
    save_file(kept, weights, metadata={"format": "pt"})

    cfg = vae.config
    latents = torch.randn(1, z_dim, 3, 8, 10, generator=gen)
    mean = torch.tensor(cfg.latents_mean).view(1, z_dim, 1, 1, 1)
    std = torch.tensor(cfg.latents_std).view(1, z_dim, 1, 1, 1)
    z = (latents * std + mean).double()  # the Wan pipeline's de-normalisation

    vae64 = vae.double()
    with torch.no_grad():
        video = vae64.decode(z).sample
        vae64.enable_tiling(**TILE)
        video_tiled = vae64.decode(z).sample

    save_file({"latents": latents.float().contiguous(),
               "video": video.float().contiguous(),
               "video_tiled": video_tiled.float().contiguous()},
              os.path.join(OUT, "reference.safetensors"),
              metadata={"tiling": json.dumps(TILE)})
    clamped = (video.abs() >= 1).double().mean().item()
    diff = (video_tiled - video).norm() / video.norm()
    print(f"video {tuple(video.shape)}, {100 * clamped:.1f}% clamped, "
          f"tiled vs untiled rel L2 {diff.item():.4f}, max abs {(video_tiled - video).abs().max().item():.4f}")


if __name__ == "__main__":
    main()
