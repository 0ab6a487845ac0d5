"""HunyuanVideo VAE decode at 720x1280, 129 frames, tiled: ours against diffusers' AutoencoderKLHunyuanVideo
(bf16, enable_tiling() with its default 256-pixel / 16-frame tiles), on the same GPU in one run: median
time and peak GPU memory side by side, random weights at the released configuration (diffusers' defaults).

Ours runs first, while the GPU holds nothing else: `vidsparse bench vae --config hunyuan13b --tile` once the
HunyuanVideo family table has its VAE, else the measuring case of tests/gpu/test_hunyuan_vae_cuda
(VS_HYVAE_BENCH_JSON), the same decode through vs_hunyuan_vae_decode. Both take host f32 latents and
return the host f32 video; diffusers' latents and video stay on the GPU.

    python3 bench/hunyuan_vae_vs_diffusers.py --bin build-gpu -o bench/results/hunyuan_vae_720p_h200.json
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

from vae_vs_diffusers import time_diffusers  # the Wan VAE benchmark's timing loop (same folder)


def ours(build, frames, height, width, warmup, repeats, scratch):
    """(our row, how it was measured): the CLI when it can, else the GPU test's measuring case."""
    out = os.path.join(scratch, "ours.json")
    cli = [os.path.join(build, "vidsparse"), "bench", "vae", "--config", "hunyuan13b", "--tile", "--device", "cuda",
           "--frames", str(frames), "--height", str(height), "--width", str(width), "--warmup", str(warmup),
           "-r", str(repeats), "-o", out]
    print(" ".join(cli), flush=True)
    if subprocess.run(cli).returncode == 0:
        with open(out) as f:
            doc = json.load(f)
        return dict(doc["results"][0], command=doc.get("command"), commit=doc.get("commit")), "vidsparse bench vae"
    print("the CLI cannot make a random HunyuanVideo VAE yet: measuring through the GPU test", flush=True)
    env = dict(os.environ, VS_HYVAE_BENCH_JSON=out, VS_HYVAE_BENCH_REPEATS=str(repeats))
    test = [os.path.join(build, "test_hunyuan_vae_cuda")]
    subprocess.run(test, env=env)  # its other cases' failures are the GPU test's to report
    if not os.path.exists(out):
        return {"error": "the measuring case wrote nothing (see the log)"}, "tests/gpu/test_hunyuan_vae_cuda"
    with open(out) as f:
        return dict(json.load(f), command="VS_HYVAE_BENCH_JSON=... " + test[0]), "tests/gpu/test_hunyuan_vae_cuda"


def diffusers_decode(frames, height, width, warmup, repeats):
    from diffusers import AutoencoderKLHunyuanVideo
    torch.manual_seed(1234)
    vae = AutoencoderKLHunyuanVideo().to("cuda", torch.bfloat16).eval()
    vae.enable_tiling()
    g = torch.Generator(device="cuda").manual_seed(21)
    shape = (1, 16, (frames - 1) // 4 + 1, height // 8, width // 8)
    latents = torch.empty(shape, device="cuda").uniform_(-1.7, 1.7, generator=g).to(torch.bfloat16)
    ms, peak_alloc, peak_reserved = time_diffusers(vae, latents, warmup, repeats)
    mib = 1 << 20
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "repeats": len(ms),
            "peak_allocated_mib": peak_alloc / mib, "peak_reserved_mib": peak_reserved / mib,
            "note": "vae.decode of bf16 latents on the GPU with enable_tiling(); output stays on the GPU"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build-gpu", help="the CUDA build folder")
    ap.add_argument("--frames", type=int, default=129)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--diffusers-warmup", type=int, default=None,
                    help="diffusers' untimed decodes (default --warmup; it finds no algorithms, so 0 costs little)")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    result = {
        "benchmark": "hunyuan_vae_vs_diffusers",
        "device": torch.cuda.get_device_name(),
        "commit": os.environ.get("VS_GIT_COMMIT"),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join(["python3"] + sys.argv),
        "shape": {"latents": [1, 16, (a.frames - 1) // 4 + 1, a.height // 8, a.width // 8], "frames": a.frames,
                  "height": a.height, "width": a.width},
        "config": "AutoencoderKLHunyuanVideo defaults (the released VAE): block_out_channels [128,256,512,512], "
                  "layers_per_block 2, 32 groups; random weights; tiles 256x256 px every 192, 16 frames every 12",
        "versions": {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version()},
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)

    def write():
        with open(a.output, "w") as f:
            json.dump(result, f, indent=2)

    result["ours"], result["ours_measured_by"] = ours(a.bin, a.frames, a.height, a.width, a.warmup, a.repeats,
                                                      tempfile.mkdtemp(prefix="hyvae_"))
    write()
    d_warmup = a.warmup if a.diffusers_warmup is None else a.diffusers_warmup
    result["diffusers_bf16"] = dict(diffusers_decode(a.frames, a.height, a.width, d_warmup, a.repeats),
                                    warmup=d_warmup)
    result["versions"]["diffusers"] = __import__("diffusers").__version__
    if "median_ms" in result["ours"]:
        result["speedup_vs_diffusers"] = result["diffusers_bf16"]["median_ms"] / result["ours"]["median_ms"]
    write()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
