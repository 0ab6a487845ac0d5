#!/usr/bin/env python3
"""One Wan 2.1 DiT forward, ours against diffusers' WanTransformer3DModel on
the same GPU in one call (issue #4's side-by-side table). Random weights, real
shapes, batch 1, 81 frames, 512 text tokens, bf16.

    bash tests/gpu/run.sh                                  # build-gpu/vidsparse
    python3 bench/dit_vs_diffusers.py --bin build-gpu/vidsparse -o dit_vs_diffusers.json

For each setting (1.3B 480p, 14B 720p): `vidsparse bench dit` dense (cuDNN
fused attention) and SVG (every layer sparse, density 0.15), each in its own
process; then diffusers' eager forward with PyTorch's default SDPA choice
(on the H100 it measured the same as SDPA forced to its cuDNN backend:
bench/results/history/dit_vs_diffusers_h100.json) and with SDPA forced to its
flash backend (what a user can
reach by configuration). CUDA events, warm-up, median. diffusers is not on the
accelerator image: carry its wheel (see the device README).
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

SETTINGS = {
    # name: (our --config, --resolution, diffusers config, latent [C, F, H, W])
    "wan1.3b-480p": ("wan1.3b", "480p", dict(num_attention_heads=12, ffn_dim=8960, num_layers=30), (16, 21, 60, 104)),
    "wan14b-720p": ("wan14b", "720p", dict(num_attention_heads=40, ffn_dim=13824, num_layers=40), (16, 21, 90, 160)),
}


def ours(binary, config, resolution, attention, repeats, density=0.15, layers=0, extra=()):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "r.json")
        cmd = [binary, "bench", "dit", "--config", config, "--resolution", resolution, "--attention", attention,
               "--density", str(density), "--warmup", "1", "--repeats", str(repeats), "--layers", str(layers),
               "-o", path, *extra]
        subprocess.run(cmd, check=True)
        with open(path) as f:
            return json.load(f)["results"][0]


def time_ms(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def diffusers_forward_ms(model_config, latent, repeats):
    from diffusers import WanTransformer3DModel
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device("cuda"):
        model = WanTransformer3DModel(
            patch_size=(1, 2, 2), attention_head_dim=128, in_channels=16, out_channels=16, text_dim=4096,
            freq_dim=256, cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, **model_config).eval()
    torch.set_default_dtype(torch.float32)
    x = torch.randn(1, *latent, device="cuda", dtype=torch.bfloat16)
    text = torch.randn(1, 512, 4096, device="cuda", dtype=torch.bfloat16)
    t = torch.tensor([500.0], device="cuda")

    @torch.inference_mode()
    def forward():
        model(x, t, text, return_dict=False)

    times = {"default": time_ms(forward, 1, repeats)}
    with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
        times["sdpa_flash"] = time_ms(forward, 1, repeats)
    del model
    torch.cuda.empty_cache()
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build-gpu/vidsparse")
    ap.add_argument("--settings", default="wan1.3b-480p,wan14b-720p")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--density", type=float, default=0.15, help="SVG kept fraction")
    ap.add_argument("--layers", type=int, default=0, help="time this many layers of both models (0: all)")
    ap.add_argument("--repeats", type=int, default=0, help="timed forwards (0: 5 at 1.3B, 2 at 14B)")
    ap.add_argument("--fp8", action="store_true",
                    help="also ours with --precision fp8 --attention-precision fp8, dense and SVG")
    ap.add_argument("--fp8-only", action="store_true",
                    help="with --fp8: ours only with FP8 weights and attention, without the BF16 comparison forward "
                         "(a shorter call; the BF16 rows and rel_l2_vs_bf16 are left out)")
    ap.add_argument("--svg2-budget", type=float, default=0,
                    help="also time ours with SVG2 at this fixed budget (docs/svg2.md; 0: no SVG2 run)")
    args = ap.parse_args()
    import diffusers

    results = []
    for name in args.settings.split(","):
        config, resolution, model_config, latent = SETTINGS[name]
        repeats = args.repeats or (5 if config == "wan1.3b" else 2)
        if args.layers:
            model_config = dict(model_config, num_layers=args.layers)
        bf16 = not (args.fp8 and args.fp8_only)
        dense = ours(args.bin, config, resolution, "dense", repeats, args.density, args.layers) if bf16 else None
        svg = ours(args.bin, config, resolution, "svg", repeats, args.density, args.layers) if bf16 else None
        svg2 = ours(args.bin, config, resolution, "svg2", repeats, args.density, args.layers,
                    ("--svg2-budget", str(args.svg2_budget))) if args.svg2_budget else None
        fp8_flags = ("--precision", "fp8", "--attention-precision", "fp8") + (("--compare-precision",) if bf16 else ())
        fp8 = {a: ours(args.bin, config, resolution, a, repeats, args.density, args.layers, fp8_flags)
               for a in ("dense", "svg")} if args.fp8 else {}
        ref = diffusers_forward_ms(model_config, latent, repeats)
        row = {
            "name": name, "repeats": repeats, "density": args.density,
            "diffusers_ms": ref["default"], "diffusers_sdpa_flash_ms": ref["sdpa_flash"],
            "layers": args.layers or model_config["num_layers"],
        }
        if bf16:
            row.update({
                "ours_dense_ms": dense["median_ms"], "ours_dense_attention_share": dense["attention_share"],
                "ours_dense_attention": dense.get("dense_attention"),
                "ours_sparse_attention": svg.get("sparse_attention"), "ours_cudnn_version": svg.get("cudnn_version"),
                "ours_svg_ms": svg["median_ms"], "ours_svg_attention_share": svg["attention_share"],
                "svg_density": svg["density"],
                "speedup_dense": ref["default"] / dense["median_ms"], "speedup_svg": ref["default"] / svg["median_ms"],
            })
        if svg2:
            row.update({"ours_svg2_ms": svg2["median_ms"], "ours_svg2_attention_share": svg2["attention_share"],
                        "svg2_density": svg2["density"], "svg2_budget": args.svg2_budget,
                        "speedup_svg2": ref["default"] / svg2["median_ms"]})
        for a, res in fp8.items():
            row[f"ours_{a}_fp8_ms"] = res["median_ms"]
            row[f"ours_{a}_fp8_attention_share"] = res["attention_share"]
            row[f"ours_{a}_fp8_attention_ms"] = res.get("attention_ms")
            row[f"ours_{a}_fp8_rel_l2_vs_bf16"] = res.get("rel_l2_vs_bf16")
            row[f"speedup_{a}_fp8"] = ref["default"] / res["median_ms"]
            print(f"{name} ({row['layers']} layers): ours {a} fp8 weights + fp8 attention {res['median_ms']:.0f} ms "
                  f"({row[f'speedup_{a}_fp8']:.2f}x diffusers), rel L2 vs bf16 {res.get('rel_l2_vs_bf16')}", flush=True)
        results.append(row)
        if not bf16:
            print(f"{name} ({row['layers']} layers): diffusers {ref['default']:.0f} ms (SDPA flash "
                  f"{ref['sdpa_flash']:.0f})", flush=True)
            continue
        print(f"{name} ({row['layers']} layers, density {args.density}): diffusers {ref['default']:.0f} ms (SDPA flash {ref['sdpa_flash']:.0f}); ours dense {dense['median_ms']:.0f} ms ({row['speedup_dense']:.2f}x), "
              f"SVG {svg['median_ms']:.0f} ms ({row['speedup_svg']:.2f}x, attention "
              f"{100 * svg['attention_share']:.0f}%)"
              + (f", SVG2 {svg2['median_ms']:.0f} ms ({row['speedup_svg2']:.2f}x, attention "
                 f"{100 * svg2['attention_share']:.0f}%, density {svg2['density']:.3f})" if svg2 else "")
              + f" [{model_config['num_layers']} layers]", flush=True)
    report = {
        "benchmark": "dit_vs_diffusers", "device": torch.cuda.get_device_name(),
        "commit": os.environ.get("VS_GIT_COMMIT", "unknown"),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python3 bench/dit_vs_diffusers.py " + " ".join(sys.argv[1:]),
        "diffusers": diffusers.__version__, "torch": torch.__version__, "torch_cudnn_version": torch.backends.cudnn.version(),
        "results": results,
    }
    with open(args.output, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
