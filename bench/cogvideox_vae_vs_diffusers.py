#!/usr/bin/env python3
"""diffusers' AutoencoderKLCogVideoX decode (and one-frame encode) on the GPU, the baseline of our CogVideoX VAE decode
(tools/cogvideox_vae_bench.c; tools/run_cogvae_gpu.sh runs both in one call and combines them).

CogVideoX 1.5's VAE configuration with diffusers' random initialisation in bf16, latents of unit
variance for `frames` frames of height x width, enable_tiling() (as the SVG reference scripts run it;
--no-tile for none), timed around decode() and the copy of the video to the host as f32 (ours also
returns host f32 frames), after warm-up decodes (cuDNN autotuning); peak memory from
torch.cuda.max_memory_allocated over the timed decodes.

    python3 bench/cogvideox_vae_vs_diffusers.py --height 768 --width 1360 --frames 81 --out d.json
"""
import argparse
import json
import statistics
import time

import torch
import diffusers
from diffusers import AutoencoderKLCogVideoX

# CogVideoX1.5-5B's vae/config.json (the sample size sets diffusers' tiles: 240 x 360 pixels)
V15 = dict(in_channels=3, out_channels=3, down_block_types=["CogVideoXDownBlock3D"] * 4,
           up_block_types=["CogVideoXUpBlock3D"] * 4, block_out_channels=[128, 256, 256, 512], latent_channels=16,
           layers_per_block=3, act_fn="silu", norm_eps=1e-6, norm_num_groups=32, temporal_compression_ratio=4,
           sample_height=480, sample_width=720, scaling_factor=0.7, invert_scale_latents=True,
           use_quant_conv=False, use_post_quant_conv=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--width", type=int, default=1360)
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--no-tile", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    with torch.device("cuda"):
        vae = AutoencoderKLCogVideoX(**V15).to(torch.bfloat16).eval()
    if not a.no_tile:
        vae.enable_tiling()
    g = torch.Generator("cuda").manual_seed(21)
    z = (torch.rand(1, 16, (a.frames - 1) // 4 + 1, a.height // 8, a.width // 8, generator=g, device="cuda") * 3.4
         - 1.7).to(torch.bfloat16)
    samples = []
    for i in range(a.warmup + a.repeats):
        if i == a.warmup:
            torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            video = vae.decode(z / V15["scaling_factor"]).sample.float().cpu()
        torch.cuda.synchronize()
        ms = (time.perf_counter() - t0) * 1e3
        print(f"diffusers decode {i + 1}{' (warm-up)' if i < a.warmup else ''}: {ms:.1f} ms, "
              f"{video.shape[2]} frames", flush=True)
        if i >= a.warmup:
            samples.append(ms)
        del video
    peak = torch.cuda.max_memory_allocated() / 2**20
    # the image-to-video encode: one frame of that size, host in and host out, as the pipeline encodes it
    image = torch.rand(1, 3, 1, a.height, a.width, generator=g, device="cuda").to(torch.bfloat16) * 2 - 1
    encode_ms = []
    for i in range(a.warmup + a.repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.no_grad():
            dist = vae.encode(image).latent_dist
            mean, logvar = dist.mean.float().cpu(), dist.logvar.float().cpu()
        torch.cuda.synchronize()
        ms = (time.perf_counter() - t0) * 1e3
        print(f"diffusers encode {i + 1}{' (warm-up)' if i < a.warmup else ''}: {ms:.1f} ms", flush=True)
        if i >= a.warmup:
            encode_ms.append(ms)
    row = {"name": f"diffusers cogvideox1.5 vae decode {a.width}x{a.height} {a.frames} frames"
                   f"{'' if a.no_tile else ' tiled'}",
           "median_ms": statistics.median(samples), "min_ms": min(samples), "max_ms": max(samples),
           "repeats": len(samples), "peak_allocated_mib": peak, "diffusers": diffusers.__version__,
           "torch": torch.__version__, "device": torch.cuda.get_device_name(),
           "encode_1_frame_median_ms": statistics.median(encode_ms)}
    print(f"{row['name']}: {row['median_ms']:.1f} ms, peak allocated {peak:.0f} MiB")
    if a.out:
        json.dump(row, open(a.out, "w"), indent=2)


if __name__ == "__main__":
    main()
