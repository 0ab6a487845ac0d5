"""Wan 2.1 VAE decode, ours (`vidsparse bench vae`) vs diffusers AutoencoderKLWan.decode in bf16,
on the same GPU in one run, with the same random weights.

It builds the real Wan 2.1 VAE config with seeded random weights, saves it as a diffusers vae/
folder (config.json + safetensors) that both load, times diffusers' decode of random latents
[1, 16, 21, 60, 104] (480x832, 81 frames) with CUDA events (warm-up, median of repeats) and its
peak memory (torch.cuda.max_memory_allocated / _reserved), runs `vidsparse bench vae` on the same
folder, and writes both into one JSON file. With --fixture tests/data/vae it also records how far
diffusers' own bf16 decode of that fixture is from its float64 reference (the yardstick for the
bf16 tolerance of tests/gpu/test_vae_cuda.c).

    python3 bench/vae_vs_diffusers.py --bin build-gpu/vidsparse -o bench/results/vae_decode_h100.json
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile

import torch
from diffusers import AutoencoderKLWan


def wan21_vae(seed):
    torch.manual_seed(seed)
    return AutoencoderKLWan(base_dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                            temperal_downsample=[False, True, True], dropout=0.0)


def time_diffusers(vae, latents, warmup, repeats):
    ms = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            torch.cuda.synchronize()
            if i == warmup:
                torch.cuda.reset_peak_memory_stats()
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            video = vae.decode(latents, return_dict=False)[0]
            stop.record()
            torch.cuda.synchronize()
            if i >= warmup:
                ms.append(start.elapsed_time(stop))
            print(f"diffusers decode {i + 1}{' (warm-up)' if i < warmup else ''}: {start.elapsed_time(stop):.1f} ms",
                  flush=True)
            del video
    return ms, torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()


def fixture_bf16_error(folder):
    """rel L2 of diffusers' bf16 decode of the fixture latents against its float64 reference."""
    from safetensors.torch import load_file
    with open(os.path.join(folder, "vae", "config.json")) as f:
        cfg = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    vae = AutoencoderKLWan.from_config(cfg)
    vae.load_state_dict(load_file(os.path.join(folder, "vae", "diffusion_pytorch_model.safetensors")), strict=False)
    vae = vae.to("cuda", torch.bfloat16).eval()
    ref = load_file(os.path.join(folder, "reference.safetensors"))
    mean = torch.tensor(cfg["latents_mean"]).view(1, -1, 1, 1, 1)
    std = torch.tensor(cfg["latents_std"]).view(1, -1, 1, 1, 1)
    z = (ref["latents"] * std + mean).to("cuda", torch.bfloat16)
    with torch.no_grad():
        video = vae.decode(z, return_dict=False)[0].float().cpu()
    want = ref["video"].float()
    return float((video - want).norm() / want.norm())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build-gpu/vidsparse")
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where the random-weight vae/ folder goes (default: a temporary one)")
    ap.add_argument("--fixture", default=None, help="tests/data/vae: also measure diffusers' bf16 error there")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    folder = a.dir or tempfile.mkdtemp(prefix="wan_vae_")
    vae = wan21_vae(1234)
    vae.save_pretrained(folder, safe_serialization=True)

    # Ours first, while the GPU holds nothing else: its memory numbers are then its own.
    ours_json = os.path.join(folder, "ours.json")
    cmd = [a.bin, "bench", "vae", "--model", folder, "--device", "cuda", "--frames", str(a.frames), "--height",
           str(a.height), "--width", str(a.width), "--warmup", str(a.warmup), "-r", str(a.repeats), "-o", ours_json]
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    with open(ours_json) as f:
        ours = json.load(f)
    ours_row = ours["results"][0]

    vae = vae.to("cuda", torch.bfloat16).eval()
    t = (a.frames - 1) // 4 + 1
    g = torch.Generator(device="cuda").manual_seed(21)
    latents = torch.empty(1, 16, t, a.height // 8, a.width // 8, device="cuda").uniform_(-1.7, 1.7, generator=g)
    latents = latents.to(torch.bfloat16)
    ms, peak_alloc, peak_reserved = time_diffusers(vae, latents, a.warmup, a.repeats)
    d_median = statistics.median(ms)
    mib = 1 << 20
    result = {
        "benchmark": "vae_vs_diffusers",
        "device": torch.cuda.get_device_name(),
        "commit": ours.get("commit"),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["python3"] + sys.argv),
        "shape": {"latents": [1, 16, t, a.height // 8, a.width // 8], "frames": a.frames, "height": a.height,
                  "width": a.width},
        "config": "Wan 2.1 VAE: base_dim 96, z_dim 16, dim_mult [1,2,4,4], num_res_blocks 2, "
                  "temperal_downsample [False,True,True]; random weights (seed 1234)",
        "versions": {"torch": torch.__version__, "diffusers": __import__("diffusers").__version__,
                     "cudnn": torch.backends.cudnn.version()},
        "diffusers_bf16": {"median_ms": d_median, "min_ms": min(ms), "max_ms": max(ms), "repeats": len(ms),
                           "samples_ms": ms, "peak_allocated_mib": peak_alloc / mib,
                           "peak_reserved_mib": peak_reserved / mib,
                           "note": "vae.decode on bf16 latents already on the GPU; output stays on the GPU"},
        "ours": dict(ours_row, command=ours.get("command"),
                     note="host f32 latents in, host f32 video out (uploads and downloads included)"),
        "speedup_vs_diffusers": d_median / ours_row["median_ms"],
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with open(a.output, "w") as f:
        json.dump(result, f, indent=2)
    if a.fixture:  # after the timings are safely written
        result["fixture_diffusers_bf16_rel_l2"] = fixture_bf16_error(a.fixture)
        with open(a.output, "w") as f:
            json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
