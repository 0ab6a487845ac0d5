#!/usr/bin/env python3
"""diffusers' CogVideoXTransformer3DModel (1.5) on the accelerator, for tools/run_cogdit_gpu.sh.

    python3 tools/cogvideox_gpu_check.py blocks DIR
        One block at the real 1.5 dimensions (48 heads of 64, text_embed_dim 4096, time_embed_dim 512, the
        embedders and the output layer), random weights rounded to bf16: saves the model (DIR/transformer,
        diffusers layout) and an f32 forward of it with its intermediates (DIR/forward.safetensors, the names
        of tools/make_cogvideox_fixtures.py) for tests/gpu/test_cogvideox_cuda.c; latents [1,16,4,32,48]
        (768 video tokens), 226 text tokens. Prints diffusers' own bf16 forward against the f32 one, for scale.
    python3 tools/cogvideox_gpu_check.py time OUT.json [--frames 81 --height 768 --width 1360 --text 226] [--compile]
        diffusers' forward of the whole 1.5 5B text-to-video model with random bf16 weights (SDPA, the
        pipeline's rotary tables), one warm-up and two timed calls (CUDA events, median), and its peak memory;
        --compile: the model under torch.compile (the warm-up call compiles it).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_cogvideox_fixtures as fixtures  # noqa: E402
from diffusers import CogVideoXTransformer3DModel  # noqa: E402

# The shape-defining members of the released CogVideoX1.5-5B transformer/config.json.
CONFIG_15 = dict(num_attention_heads=48, attention_head_dim=64, in_channels=16, out_channels=16, time_embed_dim=512,
                 text_embed_dim=4096, num_layers=42, patch_size=2, patch_size_t=2, sample_height=300,
                 sample_width=300, sample_frames=81, max_text_seq_length=226, use_rotary_positional_embeddings=True,
                 patch_bias=False)


DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # the CPU: a check of this script only


def rel_l2(a, b):
    a, b = a.float(), b.float()
    return float((a - b).norm() / b.norm())


def blocks(folder):
    torch.backends.cuda.matmul.allow_tf32 = False  # an f32 reference
    torch.backends.cudnn.allow_tf32 = False
    model = fixtures.random_model(5, DEVICE, **{**CONFIG_15, "num_layers": 1})
    model.to(torch.bfloat16).save_pretrained(os.path.join(folder, "transformer"), max_shard_size="2GB")
    model = model.float()
    g = torch.Generator().manual_seed(21)
    latents = torch.randn((1, 16, 4, 32, 48), generator=g)
    text = torch.randn((1, 226, 4096), generator=g)
    timesteps = torch.tensor([937.0])
    found = {}
    out = fixtures.forward(model, latents, timesteps, text, found=found)
    fixtures.save(os.path.join(folder, "forward.safetensors"),
                  {"latents": latents, "timesteps": timesteps, "text": text, "output": out, **found})
    model = model.to(torch.bfloat16)
    bf16 = {}
    with torch.autocast(DEVICE, dtype=torch.bfloat16):
        out16 = fixtures.forward(model, latents.to(torch.bfloat16), timesteps, text.to(torch.bfloat16), found=bf16)
    print(f"diffusers bf16 vs f32 at the real dimensions: output rel L2 {rel_l2(out16.cpu(), out.cpu()):.2e}; "
          + ", ".join(f"{k} {rel_l2(bf16[k].cpu(), found[k].cpu()):.2e}" for k in found))


def timed(out_path, frames, height, width, text_len, compile_model):
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = CogVideoXTransformer3DModel(**CONFIG_15).eval()
    torch.set_default_dtype(torch.float32)
    forward = torch.compile(model) if compile_model else model
    dev, bf = torch.device("cuda"), torch.bfloat16
    latent_frames = (frames - 1) // 4 + 1
    latent_frames += latent_frames % 2  # the pipeline pads to a multiple of patch_size_t
    latents = torch.randn(1, latent_frames, 16, height // 8, width // 8, device=dev, dtype=bf)
    text = torch.randn(1, text_len, 4096, device=dev, dtype=bf) * 0.2
    rope = fixtures.rotary(model, latent_frames, height // 8, width // 8, dev)
    t = torch.tensor([500], device=dev)
    times = []
    torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        for _ in range(3):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            forward(latents, text, t, image_rotary_emb=rope, return_dict=False)
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
    tokens = latent_frames // 2 * (height // 16) * (width // 16)
    mode = "torch.compile" if compile_model else "eager"
    result = {"implementation": f"diffusers CogVideoXTransformer3DModel (SDPA, {mode}), random bf16 weights, "
                                "the 1.5 5B config",
              "frames": frames, "height": height, "width": width, "latent_frames": latent_frames,
              "video_tokens": tokens, "text_tokens": text_len, "warmup_s": times[0],
              "forward_s": sorted(times[1:])[len(times[1:]) // 2], "forwards_s": times[1:],
              "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
              "torch": torch.__version__, "device": torch.cuda.get_device_name()}
    json.dump(result, open(out_path, "w"), indent=1)
    print(f"diffusers ({mode}) forward {result['forward_s']:.2f} s (warm-up call {times[0]:.2f} s), {tokens} + {text_len} "
          f"tokens, peak {result['peak_memory_gib']:.1f} GiB")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["blocks", "time"])
    p.add_argument("path")
    p.add_argument("--frames", type=int, default=81)
    p.add_argument("--height", type=int, default=768)
    p.add_argument("--width", type=int, default=1360)
    p.add_argument("--text", type=int, default=226)
    p.add_argument("--compile", action="store_true")
    a = p.parse_args()
    if a.mode == "blocks":
        blocks(a.path)
    else:
        timed(a.path, a.frames, a.height, a.width, a.text, a.compile)


if __name__ == "__main__":
    main()
