#!/usr/bin/env python3
"""Our CUDA Wan DiT against a plain-torch reference at the real Wan 2.1 1.3B
shapes, with seeded random weights (nothing downloaded, nothing big kept).
Runs on the accelerator machine (torch + CUDA, no diffusers needed):

    bash tests/gpu/run.sh     # builds build-gpu/libvidsparse_bench.so
    python3 tools/wan_gpu_check.py --lib build-gpu/libvidsparse_bench.so --out "$OUT"

1. Random bf16 weights (tools/wan_torch_ref.py, torch's init scales) are written
   as a diffusers transformer folder under /tmp and loaded by vidsparse.
2. Reference: tools/wan_torch_ref.py (diffusers' math step by step; checked
   against diffusers by tools/check_wan_torch_ref.py) in f32 from the same bf16
   weights, TF32 off.
3. Our GPU forward through ctypes (dense, then SVG in every layer), and torch
   eager bf16 (what diffusers runs), both timed after warm-up; rel L2 of both
   against the f32 reference. Writes $OUT/wan_gpu_check.json; exits 1 when our
   dense error is 2e-2 or more.
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wan_torch_ref import random_state_dict, wan_forward  # noqa: E402


class Tensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("device", ctypes.c_int), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * 5), ("stride", ctypes.c_int64 * 5), ("data", ctypes.c_void_p),
                ("owned", ctypes.c_int)]


class Timing(ctypes.Structure):  # vs_dit_timing (models/family.h)
    _fields_ = [("attention_s", ctypes.c_double), ("total_s", ctypes.c_double), ("heads_spatial", ctypes.c_int64),
                ("heads_temporal", ctypes.c_int64)]


class AttentionParams(ctypes.Structure):  # vs_attention_params
    _fields_ = [("method", ctypes.c_char_p), ("density", ctypes.c_double), ("dense_steps", ctypes.c_double),
                ("dense_layers", ctypes.c_double)]


def host_tensor(a):
    """A vs_tensor view of a contiguous float32 numpy array (VS_F32 = 0, VS_CPU = 0)."""
    assert a.dtype == np.float32 and a.flags["C_CONTIGUOUS"]
    t = Tensor(0, 0, a.ndim)
    stride = 1
    for i in reversed(range(a.ndim)):
        t.shape[i], t.stride[i] = a.shape[i], stride
        stride *= a.shape[i]
    t.data = a.ctypes.data
    return t


def rel_l2(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lib", default="build-gpu/libvidsparse_bench.so")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--layers", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--density", type=float, default=0.15)
    ap.add_argument("--workdir", default="/tmp/vidsparse_wan_check")
    args = ap.parse_args()

    cfg = dict(patch_size=[1, 2, 2], num_attention_heads=12, attention_head_dim=128, in_channels=16,
               out_channels=16, text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=args.layers,
               cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
    dev = "cuda"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    # 1. weights, written where vidsparse reads them
    t0 = time.time()
    sd = random_state_dict(cfg, seed=2024, device=dev, dtype=torch.bfloat16)
    folder = os.path.join(args.workdir, "transformer")
    os.makedirs(folder, exist_ok=True)
    save_file({k: v.cpu().contiguous() for k, v in sd.items()}, os.path.join(folder, "diffusion_pytorch_model.safetensors"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"_class_name": "WanTransformer3DModel", **cfg}, f)
    print(f"weights: {sum(v.numel() for v in sd.values()) / 1e9:.2f} B parameters, written in {time.time() - t0:.1f} s")

    g = torch.Generator().manual_seed(7)
    lat_shape = (1, 16, (args.frames - 1) // 4 + 1, args.height // 8, args.width // 8)
    latents = torch.randn(lat_shape, generator=g)
    text = 0.5 * torch.randn(1, 512, 4096, generator=g)
    timesteps = torch.tensor([500.0])
    tokens = lat_shape[2] * lat_shape[3] // 2 * lat_shape[4] // 2
    print(f"latents {list(lat_shape)} -> {tokens} tokens, {args.layers} layers")

    # 2. f32 reference
    with torch.no_grad():
        sd32 = {k: v.float() for k, v in sd.items()}
        t0 = time.time()
        ref = wan_forward(sd32, cfg, latents.to(dev), timesteps.to(dev), text.to(dev)).cpu()
        print(f"torch f32 reference: {time.time() - t0:.1f} s")
        del sd32
        torch.cuda.empty_cache()

        # 3a. torch eager bf16
        def torch_bf16():
            return wan_forward(sd, cfg, latents.to(dev), timesteps.to(dev), text.to(dev))

        out_bf16 = torch_bf16().cpu()
        times = []
        for _ in range(args.repeats):
            start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            torch_bf16()
            stop.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(stop))
        torch_ms = statistics.median(times)
    del sd
    torch.cuda.empty_cache()

    # 3b. ours
    lib = ctypes.CDLL(os.path.abspath(args.lib))
    lib.vs_last_error.restype = ctypes.c_char_p
    lib.vs_wan_model_load.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p)]
    lib.vs_wan_model_set_attention.argtypes = [ctypes.c_void_p, ctypes.POINTER(AttentionParams)]
    lib.vs_wan_forward.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor), ctypes.POINTER(ctypes.c_float),
                                   ctypes.POINTER(Tensor), ctypes.c_int, ctypes.c_int, ctypes.POINTER(Tensor),
                                   ctypes.POINTER(Timing)]
    lib.vs_wan_model_free.argtypes = [ctypes.c_void_p]
    model = ctypes.c_void_p()
    if lib.vs_wan_model_load(folder.encode(), 1, ctypes.byref(model)) != 0:
        sys.exit("vidsparse: " + lib.vs_last_error().decode())
    lat_np, text_np = latents.numpy().astype(np.float32), text.numpy().astype(np.float32)
    out_np = np.zeros(lat_shape, dtype=np.float32)
    ts = (ctypes.c_float * 1)(500.0)
    lat_t, text_t, out_t = host_tensor(lat_np), host_tensor(text_np), host_tensor(out_np)

    def ours(attn):
        timing = Timing(0, 0)
        if lib.vs_wan_model_set_attention(model, ctypes.byref(attn)) != 0 or \
                lib.vs_wan_forward(model, ctypes.byref(lat_t), ts, ctypes.byref(text_t), 0, 1, ctypes.byref(out_t),
                                   ctypes.byref(timing)) != 0:
            sys.exit("vidsparse: " + lib.vs_last_error().decode())
        return timing.total_s * 1e3, timing.attention_s * 1e3

    results = {}
    for mode in ("dense", "svg"):
        attn = AttentionParams(mode.encode(), args.density, 0.0, 0.0)  # no warm-up: every layer runs the method
        ours(attn)  # warm-up (arena, tables, cuBLASLt)
        runs = [ours(attn) for _ in range(args.repeats)]
        total = statistics.median(r[0] for r in runs)
        attention = statistics.median(r[1] for r in runs)
        err = rel_l2(torch.from_numpy(out_np.copy()), ref)
        results[mode] = dict(ms=total, attention_ms=attention, rel_l2_vs_f32_reference=err)
        print(f"vidsparse {mode}: {total:.1f} ms per forward (attention {attention:.1f} ms), rel L2 {err:.2e}")
    lib.vs_wan_model_free(model)

    err_bf16 = rel_l2(out_bf16, ref)
    print(f"torch eager bf16: {torch_ms:.1f} ms per forward, rel L2 {err_bf16:.2e}")
    print(f"speedup vs torch bf16: dense {torch_ms / results['dense']['ms']:.2f}x, svg {torch_ms / results['svg']['ms']:.2f}x")
    commit = os.environ.get("VS_GIT_COMMIT", "")  # as the C benchmarks: the environment overrides git
    if not commit:
        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        except OSError:
            commit = "unknown"
    backend = ctypes.c_char_p()
    if lib.vs_attention_dense_backend(1, ctypes.byref(backend)) != 0:  # 1: VS_CUDA
        sys.exit("vidsparse: " + lib.vs_last_error().decode())
    report = dict(benchmark="wan_gpu_check", device=torch.cuda.get_device_name(), commit=commit or "unknown",
                  dense_attention=backend.value.decode(),
                  date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), config="wan1.3b random bf16 weights",
                  layers=args.layers, latents=list(lat_shape), tokens=tokens, text_len=512, density=args.density,
                  torch_bf16=dict(ms=torch_ms, rel_l2_vs_f32_reference=err_bf16), vidsparse=results,
                  speedup_dense=torch_ms / results["dense"]["ms"], speedup_svg=torch_ms / results["svg"]["ms"])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "wan_gpu_check.json"), "w") as f:
        json.dump(report, f, indent=2)
    ok = results["dense"]["rel_l2_vs_f32_reference"] < 2e-2
    print("PASS" if ok else "FAIL", "(dense rel L2 < 2e-2)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
