#!/usr/bin/env python3
"""diffusers' WanPipeline, timed stage by stage, with seeded random weights built from the real
configurations, as `vidsparse bench generate` runs ours: umT5-XXL (transformers' UMT5EncoderModel), the
WanTransformer3DModel of Wan 2.1 1.3B or 14B, the Wan 2.1 AutoencoderKLWan; UniPC with flow shift 3;
everything on the GPU in bf16 (diffusers' default placement: no offloading).

Stages: building the components (random weights made on the GPU directly, in bf16), text encoding (prompt
and negative prompt: encode_prompt), each denoising step (callback_on_step_end, synchronised; with CFG two
transformer calls of batch 1, as WanPipeline does), the VAE decode (vae.decode), the post-processing to
frames, and writing the frames as a Y4M file (what ours writes). GPU memory: torch.cuda.max_memory_allocated
per stage (PyTorch's allocator) and the device's own report, cudaMemGetInfo (torch.cuda.mem_get_info: total
- free), sampled every 2 ms by a thread, per stage.

No tokenizer can be downloaded: the embedded model's (models/vidsparse-tiny/tokenizer, a T5 tokenizer of
310 ids) splits the prompt; the encoder runs its full 512 tokens either way.

Usage: python3 tools/wan_pipeline_bench.py --config wan14b --resolution 720p --steps 2 -o r.json
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import torch

from pipeline_timing import steady_mean

CONFIGS = {
    "wan1.3b": dict(num_attention_heads=12, ffn_dim=8960, num_layers=30),
    "wan14b": dict(num_attention_heads=40, ffn_dim=13824, num_layers=40),
}
RESOLUTIONS = {"480p": (480, 832), "720p": (720, 1280)}
STAGES = ("load", "text", "denoise", "vae", "postprocess", "write")


class Memory:
    """The device's memory in use (cudaMemGetInfo), sampled by a thread, and PyTorch's peak, per stage."""

    def __init__(self):
        self.stage, self.device_peak, self.torch_peak = "load", {}, {}
        self.stop = False
        free, self.total = torch.cuda.mem_get_info()
        self.before = self.total - free
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def sample(self):
        free, total = torch.cuda.mem_get_info()
        used = total - free
        self.device_peak[self.stage] = max(self.device_peak.get(self.stage, 0), used)

    def loop(self):
        while not self.stop:
            self.sample()
            time.sleep(0.002)

    def enter(self, stage):
        torch.cuda.synchronize()
        self.sample()
        self.torch_peak[self.stage] = max(self.torch_peak.get(self.stage, 0), torch.cuda.max_memory_allocated())
        torch.cuda.reset_peak_memory_stats()
        self.stage = stage
        self.sample()

    def finish(self):
        self.enter("end")
        self.stop = True
        self.thread.join()


def build(config, seed):
    """The pipeline with random bf16 weights made on the GPU (no checkpoint, no CPU init)."""
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel

    here = os.path.dirname(os.path.abspath(__file__))
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(here, "..", "models", "vidsparse-tiny", "tokenizer"))
    umt5_xxl = UMT5Config(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                          relative_attention_num_buckets=32, relative_attention_max_distance=128,
                          feed_forward_proj="gated-gelu", dense_act_fn="gelu_new", is_gated_act=True,
                          layer_norm_epsilon=1e-6, tie_word_embeddings=False)
    torch.manual_seed(seed)
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):
            text_encoder = UMT5EncoderModel(umt5_xxl).eval()
            transformer = WanTransformer3DModel(
                patch_size=(1, 2, 2), attention_head_dim=128, in_channels=16, out_channels=16, text_dim=4096,
                freq_dim=256, cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6,
                **CONFIGS[config]).eval()
            vae = AutoencoderKLWan().eval()
    finally:
        torch.set_default_dtype(torch.float32)
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0,
                                        num_train_timesteps=1000)
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler,
                       transformer=transformer)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def write_y4m(path, frames, fps=16):
    """frames float [T, H, W, 3] in [0, 1] -> Y4M 4:2:0, BT.601 limited range (as ours writes)."""
    rgb = (np.clip(frames, 0, 1) * 255 + 0.5).astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    t, h, w = y.shape
    sub = lambda c: c.reshape(t, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    y, cb, cr = (np.clip(c + 0.5, 0, 255).astype(np.uint8) for c in (y, sub(cb), sub(cr)))
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(t):
            f.write(b"FRAME\n")
            f.write(y[i].tobytes())
            f.write(cb[i].tobytes())
            f.write(cr[i].tobytes())


def commit():
    """$VS_GIT_COMMIT when set (the accelerator's copy of the tree can carry an older HEAD), else git's."""
    if os.environ.get("VS_GIT_COMMIT"):
        return os.environ["VS_GIT_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="wan1.3b")
    ap.add_argument("--resolution", default="480p", help="480p, 720p or HxW")
    ap.add_argument("--frames", type=int, default=81)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--cfg", type=float, default=5.0)
    ap.add_argument("--extrapolate", type=int, default=50, help="also report this many steps, extrapolated")
    ap.add_argument("--prompt", default="A cat walks on the grass, realistic style.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--video", default="/tmp/wan_pipeline_bench.y4m")
    ap.add_argument("-o", "--output")
    args = ap.parse_args()
    height, width = RESOLUTIONS.get(args.resolution) or map(int, args.resolution.split("x"))

    mem = Memory()
    times, steps = {}, []
    t0 = time.perf_counter()
    pipe = build(args.config, args.seed)
    torch.cuda.synchronize()
    times["load"] = time.perf_counter() - t0

    # Stage boundaries: encode_prompt and vae.decode wrapped, each step's end from the callback.
    encode_prompt, decode = pipe.encode_prompt, pipe.vae.decode
    marks = {}

    def timed(fn, stage, next_stage):
        """fn timed as `stage` (synchronised), then `next_stage` begins."""
        def run(*a, **k):
            mem.enter(stage)
            start = time.perf_counter()
            out = fn(*a, **k)
            torch.cuda.synchronize()
            times[stage] = time.perf_counter() - start
            mem.enter(next_stage)
            marks[next_stage] = time.perf_counter()
            return out
        return run

    def on_step(pipeline, i, t, kwargs):
        torch.cuda.synchronize()
        now = time.perf_counter()
        steps.append(now - marks.get("step", marks["denoise"]))
        marks["step"] = now
        return {}

    pipe.encode_prompt = timed(encode_prompt, "text", "denoise")
    pipe.vae.decode = timed(decode, "vae", "postprocess")
    generator = torch.Generator("cuda").manual_seed(args.seed)
    with torch.inference_mode():
        video = pipe(prompt=args.prompt, negative_prompt="", height=height, width=width, num_frames=args.frames,
                     num_inference_steps=args.steps, guidance_scale=args.cfg, generator=generator,
                     output_type="np", max_sequence_length=512, callback_on_step_end=on_step).frames[0]
    times["postprocess"] = time.perf_counter() - marks["postprocess"]
    times["denoise"] = sum(steps)
    mem.enter("write")
    start = time.perf_counter()
    write_y4m(args.video, np.asarray(video, dtype=np.float32))
    times["write"] = time.perf_counter() - start
    mem.finish()
    os.remove(args.video)
    total = time.perf_counter() - t0

    step_mean = steady_mean(steps)
    extrapolated = total - times["denoise"] + args.extrapolate * step_mean
    mib = lambda b: b / 2**20
    row = {
        "name": f"diffusers WanPipeline {args.config} {args.resolution}",
        "median_ms": float(np.median(steps)) * 1e3, "min_ms": min(steps) * 1e3, "max_ms": max(steps) * 1e3,
        "mean_ms": float(np.mean(steps)) * 1e3, "stddev_ms": float(np.std(steps, ddof=1)) * 1e3 if len(steps) > 1 else 0,
        "repeats": len(steps), "config": args.config, "resolution": args.resolution, "frames": args.frames,
        "height": height, "width": width, "steps": args.steps, "cfg": args.cfg, "attention": "dense (SDPA default)",
        "density": 1.0, "precision": "bf16", "vae_dtype": "bf16",
        **{f"{k}_s": v for k, v in times.items()}, "total_s": total,
        **{f"step_{i + 1}_s": s for i, s in enumerate(steps)},
        "steady_step_ms": step_mean * 1e3, "extrapolated_steps": args.extrapolate,
        "extrapolated_total_s": extrapolated,
        "device_total_mib": mib(mem.total), "in_use_before_mib": mib(mem.before),
        "peak_mib": mib(max(mem.device_peak.values())),
        **{f"peak_{k}_mib": mib(v) for k, v in mem.device_peak.items() if k in STAGES},
        "torch_max_allocated_mib": mib(max(mem.torch_peak.values())),
        **{f"torch_max_allocated_{k}_mib": mib(v) for k, v in mem.torch_peak.items() if k in STAGES},
        "torch_max_reserved_mib": mib(torch.cuda.max_memory_reserved()),
    }
    doc = {
        "benchmark": "generate_diffusers", "device": torch.cuda.get_device_name(), "commit": commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
        "versions": {"torch": torch.__version__, "diffusers": __import__("diffusers").__version__,
                     "transformers": __import__("transformers").__version__, "cudnn": torch.backends.cudnn.version()},
        "weights": "seeded random, all three components at their real configurations, made on the GPU in bf16",
        "memory_source": "device: cudaMemGetInfo (torch.cuda.mem_get_info, total - free) sampled every 2 ms by a "
                         "thread; torch: torch.cuda.max_memory_allocated per stage",
        "extrapolation": "extrapolated_total_s = the measured total with the timed steps replaced by "
                         "extrapolated_steps x the mean of the steps after the first: timed steps, not a full run",
        "results": [row],
    }
    print(f"diffusers {args.config} {args.resolution}: load {times['load']:.1f} s, text {times['text']:.3f} s, steps "
          + " ".join(f"{s:.2f}" for s in steps) + f" s, VAE {times['vae']:.2f} s, post {times['postprocess']:.2f} s, "
          f"write {times['write']:.2f} s; {args.extrapolate} steps ~ {extrapolated:.1f} s; peak device "
          f"{row['peak_mib']:.0f} MiB, torch allocated {row['torch_max_allocated_mib']:.0f} MiB")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
