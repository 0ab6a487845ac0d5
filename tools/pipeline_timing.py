"""Stage timing shared by the diffusers pipeline benchmarks (tools/cogvideox_pipeline_bench.py,
tools/hunyuan_pipeline_bench.py; tools/wan_pipeline_bench.py uses steady_mean): every time is taken after
torch.cuda.synchronize(), every peak is torch.cuda.max_memory_allocated since the stage began, and each stage
writes its fields into the result dict `res` and calls save() (a run cut short keeps what it has). The JSON
field names and the printed lines are what tools/run_*_gpu.sh read: keep them.

The scripts run as `python3 tools/NAME.py`, so this folder is on sys.path and `import pipeline_timing` works.
"""
import argparse
import json
import time

import torch

GIB = float(1 << 30)
SCHEDULE_STEPS = 50  # the schedule the timed steps are taken from, and extrapolated to


def now():
    """Seconds, after the GPU has finished what was queued."""
    torch.cuda.synchronize()
    return time.perf_counter()


def parse_args(frames, height, width):
    """OUT.json and the options both end-to-end benchmarks take, with the model's default video size."""
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--frames", type=int, default=frames)
    ap.add_argument("--height", type=int, default=height)
    ap.add_argument("--width", type=int, default=width)
    ap.add_argument("--steps", type=int, default=2, help="denoising steps run and timed (of a 50-step schedule)")
    ap.add_argument("--no-decode", action="store_true")
    return ap.parse_args()


def saver(res, path):
    """A function that writes res to path as JSON (indent 1), called after each stage."""
    def save():
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
    return save


def steady_mean(step_s):
    """The mean step time after the first (which pays for warm-up); the only one when one step was timed."""
    steady = step_s[1:] or step_s
    return sum(steady) / len(steady)


def time_build(res, save, build, dev):
    """build(dev) timed: build_s, weights_gib (what is allocated after it). Returns what build returns."""
    t0 = now()
    components = build(dev)
    res["build_s"] = now() - t0
    res["weights_gib"] = torch.cuda.memory_allocated() / GIB
    print("built in %.1f s, weights %.1f GiB" % (res["build_s"], res["weights_gib"]), flush=True)
    save()
    return components


def time_text(res, save, encode, repeats=3):
    """encode() run `repeats` times without gradients: text_s, the fastest run after the first, and
    text_peak_gib. Returns the last run's result."""
    times = []
    torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        for _ in range(repeats):
            t = now()
            out = encode()
            times.append(now() - t)
    res["text_s"] = min(times[1:])
    res["text_peak_gib"] = torch.cuda.max_memory_allocated() / GIB
    print("text encoding %.3f s (of %s)" % (res["text_s"], ["%.3f" % x for x in times]), flush=True)
    save()
    return out


def time_steps(res, save, steps, run, first_note=""):
    """run(on_step) calls the pipeline with callback_on_step_end=on_step and a SCHEDULE_STEPS-step schedule;
    on_step interrupts it after `steps` steps. step_s (per step, from the call's start), step_steady_s
    (steady_mean), denoise_50_steps_s_extrapolated (the first step + 49 steady ones), denoise_peak_gib.
    first_note follows the step times in the printed line (what the first step includes). Returns what run
    returns."""
    marks = []

    def on_step(p, i, t, kw):
        marks.append(now())
        if len(marks) >= steps:
            p._interrupt = True  # the rest of the 50-step schedule is skipped
        return kw

    torch.cuda.reset_peak_memory_stats()
    start = now()
    with torch.no_grad():
        out = run(on_step)
    step_s = [m - p for m, p in zip(marks, [start] + marks[:-1])]
    res["step_s"] = step_s
    res["step_steady_s"] = steady_mean(step_s)
    res["denoise_50_steps_s_extrapolated"] = step_s[0] + (SCHEDULE_STEPS - 1) * res["step_steady_s"]
    res["denoise_peak_gib"] = torch.cuda.max_memory_allocated() / GIB
    print("steps %s s%s; 50 steps extrapolated %.1f s; peak %.1f GiB" %
          (["%.2f" % x for x in step_s], first_note, res["denoise_50_steps_s_extrapolated"], res["denoise_peak_gib"]),
          flush=True)
    save()
    return out


def time_decode(res, decode):
    """decode() timed without gradients (the VAE, tiled): decode_s, decode_peak_gib, video_shape, then
    end_to_end_50_steps_s_extrapolated = text_s + denoise_50_steps_s_extrapolated + decode_s. Saved by finish."""
    torch.cuda.reset_peak_memory_stats()
    t = now()
    with torch.no_grad():
        video = decode()
    res["decode_s"] = now() - t
    res["decode_peak_gib"] = torch.cuda.max_memory_allocated() / GIB
    res["video_shape"] = list(video.shape)
    print("VAE decode (tiled) %.1f s, peak %.1f GiB, video %s" %
          (res["decode_s"], res["decode_peak_gib"], tuple(video.shape)), flush=True)
    res["end_to_end_50_steps_s_extrapolated"] = res["text_s"] + res["denoise_50_steps_s_extrapolated"] + \
        res["decode_s"]


def finish(res, save):
    """peak_gib, the largest of the stages' peaks, and the last save."""
    res["peak_gib"] = max(res.get(k, 0) for k in ("text_peak_gib", "denoise_peak_gib", "decode_peak_gib"))
    save()
