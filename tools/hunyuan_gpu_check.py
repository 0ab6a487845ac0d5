#!/usr/bin/env python3
"""diffusers' HunyuanVideoTransformer3DModel on the accelerator, for tools/run_hunyuan_gpu.sh.

    python3 tools/hunyuan_gpu_check.py blocks DIR
        One dual-stream and one single-stream block (and the 2 refiner blocks, the embedders and the
        output layer) at the real 13B dimensions, random weights rounded to bf16: saves the model
        (DIR/transformer, diffusers layout) and an f32 forward of it with its intermediates
        (DIR/forward.safetensors, the names of tools/make_hunyuan_fixtures.py) for
        tests/gpu/test_hunyuan_cuda.c; latents [1,16,5,32,32] (1280 video tokens), 256 text tokens
        of which 200 are valid. Prints diffusers' own bf16 forward against the f32 one, for scale.
    python3 tools/hunyuan_gpu_check.py time OUT.json [--frames 129 --height 720 --width 1280 --text 256]
        diffusers' forward of the whole 13B model with random bf16 weights (SDPA), one warm-up and one
        timed call, and its peak memory.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_hunyuan_fixtures as fixtures  # noqa: E402
from diffusers import HunyuanVideoTransformer3DModel  # noqa: E402


def rel_l2(a, b):
    a, b = a.float(), b.float()
    return float((a - b).norm() / b.norm())


def blocks(folder):
    torch.backends.cudnn.allow_tf32 = False  # an f32 reference: no TF32 in the patch embedding's Conv3d
    torch.backends.cuda.matmul.allow_tf32 = False
    model = fixtures.random_model(5, "cuda", num_layers=1, num_single_layers=1)
    model.to(torch.bfloat16).save_pretrained(os.path.join(folder, "transformer"), max_shard_size="2GB")
    model = model.float()
    path = os.path.join(folder, "forward.safetensors")
    tensors, found = fixtures.forward_fixture(model, path, 21, [200], [937.5], [6000.0], True, latent=(16, 5, 32, 32),
                                              text_len=256)
    # diffusers' own bf16 forward against its f32 one: the error a bf16 run carries anyway
    dev = torch.device("cuda")
    model = model.to(torch.bfloat16)
    bf16 = {}
    handles = fixtures.record(model, bf16, 200)
    with torch.no_grad():
        out = model(tensors["latents"].to(dev, torch.bfloat16), tensors["timesteps"].to(dev),
                    tensors["text"].to(dev, torch.bfloat16), tensors["text_mask"].to(dev),
                    tensors["pooled"].to(dev, torch.bfloat16), guidance=tensors["guidance"].to(dev),
                    return_dict=False)[0]
    for h in handles:
        h.remove()
    print(f"diffusers bf16 vs f32 at the real dimensions: output rel L2 {rel_l2(out.cpu(), tensors['output'].cpu()):.2e}; "
          + ", ".join(f"{k} {rel_l2(bf16[k].cpu(), found[k].cpu()):.2e}" for k in found))


def timed(out_path, frames, height, width, text_len):
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = HunyuanVideoTransformer3DModel().eval()
    torch.set_default_dtype(torch.float32)
    dev, bf = torch.device("cuda"), torch.bfloat16
    latent_frames = (frames - 1) // 4 + 1
    latents = torch.randn(1, 16, latent_frames, height // 8, width // 8, device=dev, dtype=bf)
    text = torch.randn(1, text_len, 4096, device=dev, dtype=bf) * 0.2
    mask = torch.ones(1, text_len, device=dev, dtype=torch.int64)
    pooled = torch.randn(1, 768, device=dev, dtype=bf)
    t, g = torch.tensor([500.0], device=dev), torch.tensor([6000.0], device=dev)
    times = []
    torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        for _ in range(2):
            torch.cuda.synchronize()
            start = time.perf_counter()
            model(latents, t, text, mask, pooled, guidance=g, return_dict=False)
            torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    result = {"implementation": "diffusers HunyuanVideoTransformer3DModel (SDPA), random bf16 weights",
              "frames": frames, "height": height, "width": width, "text_tokens": text_len,
              "warmup_s": times[0], "forward_s": times[1],
              "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
              "torch": torch.__version__, "device": torch.cuda.get_device_name()}
    json.dump(result, open(out_path, "w"), indent=1)
    print(f"diffusers forward {times[1]:.2f} s (warm-up call {times[0]:.2f} s), peak {result['peak_memory_gib']:.1f} GiB")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["blocks", "time"])
    p.add_argument("path")
    p.add_argument("--frames", type=int, default=129)
    p.add_argument("--height", type=int, default=720)
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--text", type=int, default=256)
    a = p.parse_args()
    if a.mode == "blocks":
        blocks(a.path)
    else:
        timed(a.path, a.frames, a.height, a.width, a.text)


if __name__ == "__main__":
    main()
