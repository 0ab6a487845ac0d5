#!/usr/bin/env python3
"""The step-cache policies of src/pipeline/cache.c, each written again from its published rule in plain
numpy, checked against recordings of real runs (`vidsparse denoise --cache P --cache-record FILE`).

For each recording it replays the recorded step inputs through the reference rule (the DiT outputs it
needs are the recorded ones at the steps the run computed) and compares the decisions with the ones
vidsparse made; at reused steps it also checks the output is the latents plus the last run's
transformation. TeaCache's rule is run on each recording's signals (the time embedding) with both
published Wan 2.1 fits. Writes the patterns ("R" ran, "-" reused) as JSON for tests/test_cache.c.

The rules, from the public code (read, not copied):
  EasyCache  H-EmbodVis/EasyCache, EasyCache4Wan2.1/easycache_generate.py: decided on the prompt branch,
             first ret_steps (10 of 50 steps there; steps // 5 here) and the last step run; else
             E += k * mean|x_t - x_{t-1}| / mean|v_last|, run and E = 0 once E >= thresh (0.05);
             k = mean|v - v_last| / mean|x - x_last| at each run after the first.
  TeaCache   ali-vilab/TeaCache, TeaCache4Wan2.1/teacache_generate.py (default mode, signal = time
             embedding e): step 0 and the last step run; else A += poly(mean|e - e_prev| / mean|e_prev|),
             run and A = 0 once A >= thresh.
  FORA       prathebaselva/FORA, src/models.py (boost_infer_static): with the step counted down
             (i = steps - 1 ... 0), compute at i = steps - 1 and wherever i % N == 0.

Usage: python3 tools/cache_reference.py tests/data/cache/*.safetensors -o tests/data/cache/expected.json
       python3 tools/cache_reference.py --sweep 0.025,0.05,0.1 none20.safetensors none50.safetensors
With --sweep, on recordings made with `--cache none` (every step's output known): the relative output change
of each step, mean|v_t - v_{t-1}| / mean|v_{t-1}|, and EasyCache's pattern at each threshold (the outputs of
the uncached trajectory stand in for the cached run's, so the patterns are estimates).
"""
import argparse
import json
import struct
import sys

import numpy as np

TEACACHE_FITS = {  # TeaCache4Wan2.1/teacache_generate.py, use_ret_steps False; thresholds: its README's commands
    "wan2.1-t2v-1.3b": ([2.39676752e+03, -1.31110545e+03, 2.01331979e+02, -8.29855975e+00, 1.37887774e-01], 0.08),
    "wan2.1-t2v-14b": ([-5784.54975374, 5449.50911966, -1811.16591783, 256.27178429, -13.02252404], 0.2),
}


def read_safetensors(path):
    """(tensors as numpy arrays, metadata) of a safetensors file."""
    dtypes = {"F32": np.float32, "I32": np.int32}
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        a, b = e["data_offsets"]
        tensors[name] = np.frombuffer(data[a:b], dtype=dtypes[e["dtype"]]).reshape(e["shape"])
    return tensors, meta


def mean_abs(a, b=None):
    a = a.astype(np.float64)
    return float(np.abs(a - b.astype(np.float64)).mean() if b is not None else np.abs(a).mean())


def easycache(x, out, thresh):
    """Decisions of EasyCache on step inputs x[i] with the DiT's outputs out[i] where it runs."""
    steps = len(x)
    ret_steps, runs = steps // 5, []
    prev_x = run_x = run_out = k = None
    acc = 0.0
    for i in range(steps):
        run = True
        if i < ret_steps or i >= steps - 1:
            acc = 0.0
        elif prev_x is not None and run_out is not None and k is not None:
            acc += k * mean_abs(x[i], prev_x) / mean_abs(run_out)
            run = not (acc < thresh)
            if run:
                acc = 0.0
        prev_x = x[i]
        if run:
            if run_out is not None:
                dx = mean_abs(x[i], run_x)
                if dx > 0:
                    k = mean_abs(out[i], run_out) / dx
            run_x, run_out = x[i], out[i]
        runs.append(run)
    return runs


def teacache(signal, coefficients, thresh):
    steps, runs, acc = len(signal), [], 0.0
    rescale = np.poly1d(coefficients)
    for i in range(steps):
        run = True
        if i < 1 or i >= steps - 1:
            acc = 0.0
        else:
            acc += float(rescale(mean_abs(signal[i], signal[i - 1]) / mean_abs(signal[i - 1])))
            run = not (acc < thresh)
            if run:
                acc = 0.0
        runs.append(run)
    return runs


def fora(steps, n):
    countdown = [steps - 1 - j for j in range(steps)]
    return [i == steps - 1 or i % n == 0 for i in countdown]


def pattern(runs):
    return "".join("R" if r else "-" for r in runs)


def check_reuse(x, out, ran):
    """At reused steps the output must be x + (out - x) of the last run; returns the worst relative error."""
    worst, delta = 0.0, None
    for i in range(len(x)):
        if ran[i]:
            delta = out[i].astype(np.float64) - x[i]
        else:
            want = x[i] + delta
            worst = max(worst, float(np.abs(out[i] - want).max() / (np.abs(want).max() + 1e-12)))
    return worst


def sweep(paths, thresholds):
    for path in paths:
        t, _ = read_safetensors(path)
        x, out = t["latents"], t["output"]
        steps = len(x)
        if not t["ran"].all():
            sys.exit(f"{path}: --sweep needs a recording made with --cache none")
        change = [mean_abs(out[i], out[i - 1]) / mean_abs(out[i - 1]) for i in range(1, steps)]
        after = change[steps // 5 - 1:]  # the steps after EasyCache's warm-up
        print(f"{path}: {steps} steps; relative output change per step after the warm-up: mean {np.mean(after):.4f}, "
              f"median {np.median(after):.4f}")
        print("  per step: " + " ".join(f"{c:.3f}" for c in change))
        for thresh in thresholds:
            p = pattern(easycache(x, out, thresh))
            print(f"  easycache {thresh:<6g} {p}  runs {p.count('R')} of {steps}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("recordings", nargs="+")
    ap.add_argument("-o", "--output", help="write the reference patterns here (JSON)")
    ap.add_argument("--sweep", help="EasyCache thresholds (comma-separated) to estimate on --cache none recordings")
    args = ap.parse_args()
    if args.sweep:
        sweep(args.recordings, [float(v) for v in args.sweep.split(",")])
        return
    result, ok = {}, True
    for path in args.recordings:
        t, meta = read_safetensors(path)
        x, out, ran = t["latents"], t["output"], t["ran"].astype(bool)
        steps, policy, thresh = len(x), meta["policy"], float(meta["threshold"])
        if policy == "easycache":
            ref = easycache(x, out, thresh)
        elif policy == "fora":
            ref = fora(steps, int(thresh))
        elif policy == "none":
            ref = [True] * steps
        else:
            sys.exit(f"{path}: no reference for policy {policy}")
        name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        same = ref == list(ran)
        reuse_err = check_reuse(x, out, ran)
        ok &= same and reuse_err < 1e-6
        entry = {"file": path.rsplit("/", 1)[-1], "policy": policy, "threshold": thresh, "steps": steps,
                 "reference": pattern(ref), "recorded": pattern(ran), "reuse_max_rel_err": reuse_err}
        print(f"{name:12s} {policy:9s} thresh {thresh:<6g} reference {pattern(ref)}  recorded {pattern(ran)}  "
              f"{'same' if same else 'DIFFERENT'}; reuse error {reuse_err:.1e}")
        if "signal" in t:
            entry["teacache"] = {}
            for fit, (coeffs, fit_thresh) in TEACACHE_FITS.items():
                p = pattern(teacache(t["signal"], coeffs, fit_thresh))
                entry["teacache"][fit] = {"threshold": fit_thresh, "coefficients": coeffs, "reference": p}
                print(f"{'':12s} teacache  {fit} thresh {fit_thresh}: {p}")
        result[name] = entry
    if args.output:
        with open(args.output, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
