#!/usr/bin/env python3
"""vidsparse.diffusers on the accelerator (issue #22's verification), in one process:

1. check: diffusers' WanTransformer3DModel with seeded random bf16 weights at the real Wan 2.1 1.3B
   dimensions, 480p (81 frames), with enable_svg(density 0.25, dense_steps 0.2, dense_layers 0.03) at
   denoising step 10 of 50 (the first step past the warm-up), against our own C forward (vs_wan_forward of
   libvidsparse_bench.so, through ctypes) on the same weights (written by save_pretrained, read by
   vidsparse), inputs and SVG settings. Passes when the relative L2 between the two is at most 2e-2. Also
   reported: the same pair dense (diffusers' SDPA against our dense forward), and SVG against dense.
2. speed: diffusers' forward without and with the processor, side by side (CUDA events, warm-up, median),
   at 1.3B 480p and 14B 720p, kept fractions 0.25 (the default) and 0.15, at a step past the warm-up
   (14B: its first layer, floor(0.03 * 40) = 1, stays dense as in a real run).

    source tools/gpu_env.sh   # diffusers from the carried wheel
    PYTHONPATH=build-gpu/python python3 tools/python_gpu_check.py --lib build-gpu/libvidsparse_bench.so --out "$OUT"

Writes python_gpu_check.json to --out; exits 1 when the check fails.
"""
import argparse
import ctypes
import datetime
import json
import os
import sys
import time

import numpy as np
import torch

import vidsparse
from vidsparse.diffusers import disable_svg, enable_svg

here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.join(here, "..", "bench")]
from dit_vs_diffusers import time_ms  # noqa: E402
from wan_gpu_check import AttentionParams, Tensor, host_tensor  # noqa: E402

SETTINGS = {  # name: (diffusers config, latent [C, F, H, W])
    "wan1.3b-480p": (dict(num_attention_heads=12, ffn_dim=8960, num_layers=30), (16, 21, 60, 104)),
    "wan14b-720p": (dict(num_attention_heads=40, ffn_dim=13824, num_layers=40), (16, 21, 90, 160)),
}
STEP, STEPS = 10, 50  # floor(0.2 * 50) = 10 warm-up steps: step 10 is the first sparse one
# --smoke: the same code on the CPU in f32 at a tiny size (a rehearsal without a GPU; nothing timed)
DEVICE, DTYPE = "cuda", torch.bfloat16
SMOKE = (dict(num_attention_heads=2, ffn_dim=256, num_layers=2), (16, 13, 12, 16))


def rel_l2(a, b):
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).norm() / b.norm())


def make_model(config):
    from diffusers import WanTransformer3DModel

    torch.manual_seed(0)
    torch.set_default_dtype(DTYPE)
    with torch.device(DEVICE):
        model = WanTransformer3DModel(patch_size=(1, 2, 2), attention_head_dim=128, in_channels=16, out_channels=16,
                                      text_dim=4096, freq_dim=256, cross_attn_norm=True,
                                      qk_norm="rms_norm_across_heads", eps=1e-6, **config).eval()
    torch.set_default_dtype(torch.float32)
    return model


def make_inputs(latent):
    g = torch.Generator(device=DEVICE).manual_seed(7)
    x = torch.randn(1, *latent, device=DEVICE, generator=g).to(DTYPE)
    text = (0.5 * torch.randn(1, 512, 4096, device=DEVICE, generator=g)).to(DTYPE)
    return x, torch.tensor([500.0], device=DEVICE), text


@torch.inference_mode()
def check(lib_path, workdir, smoke, layers):
    config, latent = SMOKE if smoke else SETTINGS["wan1.3b-480p"]
    config = dict(config, num_layers=layers or config["num_layers"])
    model = make_model(config)
    x, t, text = make_inputs(latent)
    t0 = time.time()
    folder = os.path.join(workdir, "transformer")
    model.save_pretrained(folder, safe_serialization=True)
    print(f"check: {config['num_layers']} layers of 1.3B written in {time.time() - t0:.1f} s", flush=True)

    diffusers_dense = model(x, t, text, return_dict=False)[0].float()
    state = enable_svg(model, density=0.25, dense_steps=0.2, dense_layers=0.03)
    state.set_step(STEP, STEPS)
    diffusers_svg = model(x, t, text, return_dict=False)[0].float()
    diffusers_svg_again = model(x, t, text, return_dict=False)[0].float()
    spatial, temporal = state.head_counts()
    kept = state.kept_fraction()
    disable_svg(model)
    del model
    torch.cuda.empty_cache()

    lib = ctypes.CDLL(os.path.abspath(lib_path))
    lib.vs_last_error.restype = ctypes.c_char_p
    lib.vs_wan_model_load.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
    lib.vs_wan_model_set_attention.argtypes = [ctypes.c_void_p, ctypes.POINTER(AttentionParams)]
    lib.vs_wan_forward.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor), ctypes.POINTER(ctypes.c_float),
                                   ctypes.POINTER(Tensor), ctypes.c_int, ctypes.c_int, ctypes.POINTER(Tensor),
                                   ctypes.c_void_p]
    lib.vs_wan_model_free.argtypes = [ctypes.c_void_p]
    ours_model = ctypes.c_void_p()
    if lib.vs_wan_model_load(folder.encode(), int(DEVICE == "cuda"), ctypes.byref(ours_model)) != 0:  # VS_CUDA: 1
        sys.exit("vidsparse: " + lib.vs_last_error().decode())
    lat_np = x.float().cpu().numpy()
    text_np = text.float().cpu().numpy()
    out_np = np.zeros(lat_np.shape, dtype=np.float32)
    ts = (ctypes.c_float * 1)(500.0)
    lat_t, text_t, out_t = host_tensor(lat_np), host_tensor(text_np), host_tensor(out_np)

    def ours(params):
        if lib.vs_wan_model_set_attention(ours_model, ctypes.byref(params)) != 0 or \
                lib.vs_wan_forward(ours_model, ctypes.byref(lat_t), ts, ctypes.byref(text_t), STEP, STEPS,
                                   ctypes.byref(out_t), None) != 0:
            sys.exit("vidsparse: " + lib.vs_last_error().decode())
        return torch.from_numpy(out_np.copy())

    ours_dense = ours(AttentionParams(b"dense", 0.25, 0.2, 0.03))
    ours_svg = ours(AttentionParams(b"svg", 0.25, 0.2, 0.03))
    lib.vs_wan_model_free(ours_model)

    result = dict(
        setting="wan1.3b-480p", layers=config["num_layers"], step=STEP, steps=STEPS, density=0.25, dense_steps=0.2, dense_layers=0.03,
        svg_kept_fraction=kept, heads_spatial=spatial, heads_temporal=temporal,
        rel_l2_svg_diffusers_vs_ours=rel_l2(diffusers_svg, ours_svg),
        rel_l2_dense_diffusers_vs_ours=rel_l2(diffusers_dense, ours_dense),
        rel_l2_diffusers_svg_vs_dense=rel_l2(diffusers_svg, diffusers_dense),
        rel_l2_ours_svg_vs_dense=rel_l2(ours_svg, ours_dense),
        svg_repeatable=bool(torch.equal(diffusers_svg, diffusers_svg_again)))
    result["pass"] = result["rel_l2_svg_diffusers_vs_ours"] <= 2e-2
    for k, v in result.items():
        print(f"check: {k} = {v}", flush=True)
    return result


@torch.inference_mode()
def speed(name, repeats):
    config, latent = SETTINGS[name]
    model = make_model(config)
    x, t, text = make_inputs(latent)

    def forward():
        model(x, t, text, return_dict=False)

    row = dict(name=name, repeats=repeats, step=25, steps=STEPS, dense_steps=0.2, dense_layers=0.03)
    row["diffusers_ms"] = time_ms(forward, 1, repeats)
    print(f"{name}: diffusers {row['diffusers_ms']:.0f} ms", flush=True)
    for density in (0.25, 0.15):
        state = enable_svg(model, density=density, dense_steps=0.2, dense_layers=0.03)
        state.set_step(25, STEPS)
        ms = time_ms(forward, 1, repeats)
        spatial, temporal = state.head_counts()
        key = f"svg{density}"
        row[key] = dict(ms=ms, speedup=row["diffusers_ms"] / ms, kept_fraction=state.kept_fraction(),
                        heads_spatial=spatial, heads_temporal=temporal)
        print(f"{name}: diffusers + enable_svg(density={density}) {ms:.0f} ms, {row['diffusers_ms'] / ms:.2f}x "
              f"(kept {state.kept_fraction():.3f})", flush=True)
        disable_svg(model)
    del model
    torch.cuda.empty_cache()
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", default="build-gpu/libvidsparse_bench.so")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--workdir", default="/tmp/vidsparse_python_check")
    ap.add_argument("--phases", default="check,speed")
    ap.add_argument("--smoke", action="store_true", help="the check on the CPU in f32 at a tiny size")
    ap.add_argument("--layers", type=int, default=0, help="the check with this many of 1.3B's layers (0: all 30)")
    args = ap.parse_args()
    global DEVICE, DTYPE
    if args.smoke:
        DEVICE, DTYPE, args.phases = "cpu", torch.float32, "check"
    import diffusers

    report = dict(benchmark="python_diffusers_svg", device=torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu",
                  commit=os.environ.get("VS_GIT_COMMIT", "unknown"),
                  date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  command="bash tools/run_python_gpu.sh", diffusers=diffusers.__version__, torch=torch.__version__,
                  vidsparse=vidsparse.version(),
                  note="diffusers' WanTransformer3DModel, random bf16 weights, batch 1, 81 frames, 512 text tokens; "
                       "one forward at a denoising step past SVG's warm-up; diffusers' default SDPA against "
                       "the same model with vidsparse.diffusers.enable_svg")
    ok = True
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "python_gpu_check.json")
    if "check" in args.phases:
        report["check"] = check(args.lib, args.workdir, args.smoke, args.layers)
        ok = report["check"]["pass"]
        json.dump(report, open(path, "w"), indent=1)
    if "speed" in args.phases:
        report["speed"] = []
        for name, repeats in (("wan1.3b-480p", 3), ("wan14b-720p", 1)):
            report["speed"].append(speed(name, repeats))
            json.dump(report, open(path, "w"), indent=1)
    print("PASS" if ok else "FAIL", "(diffusers + enable_svg against our C forward with SVG: rel L2 <= 2e-2)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
