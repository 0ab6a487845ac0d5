#!/usr/bin/env python3
"""Where the HunyuanVideo VAE's CUDA bf16 decode loses precision, measured on the CPU.

Runs the fixture of tools/make_hunyuan_vae_fixtures.py (tests/data/hunyuan_vae) through diffusers'
AutoencoderKLHunyuanVideo in float64, with its decoder's forward replaced by one that rounds to bf16 at
exactly the points src/models/hunyuan/vae_cuda.c stores bf16 (diffusers' own tiling and blending run around
it unchanged, in f64 as the GPU path's host side runs in f32). Each rounding point can be switched off, so
the table says which one costs the most. It also decodes with diffusers itself in torch bf16 (CPU), the
error a user of diffusers' bf16 VAE gets on the same fixture. Relative L2 against the fixture's f64 decode,
both clamped to [-1, 1] as the pipeline and the tests do.

Rounding points (names for --only / --without):
  weights  conv filters and attention matrices/biases in bf16 (norm affines and conv biases stay f32)
  input    a convolution's bf16 input read straight from the residual stream: the latents after
           post_quant_conv, the upsampled frames, a shortcut's input
  taps     a 3x3x3 convolution accumulated as three 2D convolutions into a bf16 buffer (rounded after each
           temporal tap; off = one f32 accumulation over all 27 taps)
  conv     a convolution's result rounded before the bias and residual are added (what a separate bias +
           residual kernel after cuDNN costs; a 1x1 convolution's always is)
  act      a stored activation off the residual stream: conv1's and the shortcut's outputs
  stream   the residual stream between layers: conv_in's, conv2's (after the residual) and the upsampler's
           outputs, the attention's sum, in bf16 (off: kept in f32)
  norm     group-norm outputs (with SiLU)
  attn     the mid-block attention's q, k, v, scores, probabilities, output and its residual sum

Usage: /work/venv/bin/python tools/hunyuan_vae_bf16_error.py [--config current|fixed|NAME=0,...]
"""
import argparse
import datetime
import json
import os
import sys

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKLHunyuanVideo
from diffusers.utils import logging
from safetensors.torch import load_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data", "hunyuan_vae")
TILE = dict(tile_sample_min_height=32, tile_sample_min_width=32, tile_sample_min_num_frames=8,
            tile_sample_stride_height=24, tile_sample_stride_width=16, tile_sample_stride_num_frames=4)
POINTS = ("weights", "input", "taps", "conv", "act", "stream", "norm", "attn")
# The CUDA path before this change (three bf16-accumulated taps, bias and residual in the crop), steps on
# the way, and after it ("new": src/models/hunyuan/vae_cuda.c now).
CONFIGS = {
    "current": dict(weights=1, input=1, taps=1, conv=0, act=1, stream=1, norm=1, attn=1),
    # one cuDNN 3D convolution (f32 accumulation over all 27 taps, one bf16 rounding), bias and residual after
    "conv3d": dict(weights=1, input=1, taps=0, conv=1, act=1, stream=1, norm=1, attn=1),
    # and the residual stream in f32
    "conv3d_f32_stream": dict(weights=1, input=1, taps=0, conv=1, act=1, stream=0, norm=1, attn=1),
    # the three taps as before, the residual stream in f32
    "taps_f32_stream": dict(weights=1, input=1, taps=1, conv=0, act=1, stream=0, norm=1, attn=1),
    # and conv1's output in f32 until norm2 reads it
    "new": dict(weights=1, input=1, taps=0, conv=1, act=0, stream=0, norm=1, attn=1),
}


class Emulation:
    def __init__(self, on):
        self.on = on

    def r(self, point, x):
        return x.to(torch.bfloat16).to(x.dtype) if self.on[point] else x

    def conv(self, cv, x, res=None, stream=False):
        """A HunyuanVideoCausalConv3d on channels-first x [1, c, t, h, w] as vae_cuda.c's conv() runs it;
        stream: its output is the residual stream's."""
        w = self.r("weights", cv.conv.weight)
        xp = F.pad(x, cv.time_causal_padding, mode="replicate")
        k = w.shape[2]
        if k == 1:  # cuDNN's bf16 output, then the bias (and residual) kernel: rounded either way
            y = self.r("conv" if self.on["conv"] else "act", F.conv3d(xp, w))
        elif self.on["taps"]:
            y = None
            for dt in range(k):  # tap dt: frames dt .. dt + t - 1 of the padded input, into a bf16 buffer
                tap = F.conv3d(xp[:, :, dt:dt + x.shape[2]], w[:, :, dt:dt + 1])
                y = self.r("taps", tap if y is None else y + tap)
        else:
            y = F.conv3d(xp, w)
        y = self.r("conv", y)
        y = y + cv.conv.bias.view(1, -1, 1, 1, 1)
        if res is not None:
            y = y + res
        return self.r("stream" if stream else "act", y)

    def norm(self, n, x, silu):
        y = F.group_norm(x, n.num_groups, n.weight, n.bias, n.eps)
        return self.r("norm", F.silu(y) if silu else y)

    def resnet(self, r, x):
        h = self.norm(r.norm1, x, True)
        a = self.conv(r.conv1, h)
        a = self.norm(r.norm2, a, True)
        sc = self.conv(r.conv_shortcut, self.r("input", x)) if r.conv_shortcut is not None else x
        return self.conv(r.conv2, a, sc, stream=True)

    def attention(self, at, x):
        b, c, t, h, w = x.shape
        xn = self.norm(at.group_norm, x, False).permute(0, 2, 3, 4, 1).reshape(-1, c)
        ra = lambda v: self.r("attn", v)
        rw = lambda v: self.r("weights", v)
        scale = c ** -0.5
        q = ra(xn @ rw(at.to_q.weight * scale).T + rw(at.to_q.bias * scale))
        k = ra(xn @ rw(at.to_k.weight).T + rw(at.to_k.bias))
        v = ra(xn @ rw(at.to_v.weight).T)  # the value bias moves into the output bias
        out_b = rw(at.to_out[0].bias + at.to_out[0].weight @ at.to_v.bias)
        px = h * w
        o = torch.empty_like(q)
        for f in range(t):
            s = ra(q[f * px:(f + 1) * px] @ k.T)
            s[:, (f + 1) * px:] = float("-inf")
            o[f * px:(f + 1) * px] = ra(ra(torch.softmax(s, dim=-1)) @ v)
        out = ra(o @ rw(at.to_out[0].weight).T + out_b)
        out = out.reshape(b, t, h, w, c).permute(0, 4, 1, 2, 3)
        return self.r("stream", x + out)

    def decoder(self, d, z):
        x = self.conv(d.conv_in, self.r("input", z), stream=True)
        mid = d.mid_block
        x = self.resnet(mid.resnets[0], x)
        for at, r in zip(mid.attentions, mid.resnets[1:]):
            if at is not None:
                x = self.attention(at, x)
            x = self.resnet(r, x)
        for up in d.up_blocks:
            for r in up.resnets:
                x = self.resnet(r, x)
            if up.upsamplers is not None:
                u = up.upsamplers[0]
                first = F.interpolate(x[:, :, :1].squeeze(2), scale_factor=u.upsample_factor[1:],
                                      mode="nearest").unsqueeze(2)
                if x.shape[2] > 1:
                    rest = F.interpolate(x[:, :, 1:], scale_factor=u.upsample_factor, mode="nearest")
                    first = torch.cat((first, rest), dim=2)
                x = self.conv(u.conv, self.r("input", first), stream=True)
        x = self.norm(d.conv_norm_out, x, True)
        w = self.r("weights", d.conv_out.conv.weight)
        xp = F.pad(x, d.conv_out.time_causal_padding, mode="replicate")
        if self.on["taps"]:  # conv_out: no bias in the crop (added in f32 on the way out)
            y = None
            for dt in range(3):
                tap = F.conv3d(xp[:, :, dt:dt + x.shape[2]], w[:, :, dt:dt + 1])
                y = self.r("taps", tap if y is None else y + tap)
        else:
            y = F.conv3d(xp, w)
        y = self.r("act", self.r("conv", y))
        return y + d.conv_out.conv.bias.view(1, -1, 1, 1, 1)


def rel_l2(a, b):
    return ((a - b).norm() / b.norm()).item()


def decode(vae, latents, tiled):
    """diffusers' decode of one fixture case: its default framewise decoding, or the fixture's tiles."""
    saved = {k: getattr(vae, k) for k in TILE}
    if tiled:
        vae.enable_tiling(**TILE)
    video = vae.decode(latents / vae.config.scaling_factor).sample
    vae.disable_tiling()
    for k, v in saved.items():
        setattr(vae, k, v)
    return video


def measure(vae, ref, on):
    emu = Emulation(on)
    vae.decoder.forward = lambda z: emu.decoder(vae.decoder, z)
    errs = {}
    with torch.no_grad():
        for key, tiled in (("a", 0), ("b", 0), ("c", 1)):
            video = decode(vae, ref["latents_" + key].double(), tiled)
            errs[key] = rel_l2(video.clamp(-1, 1), ref["video_" + key].double())
    del vae.decoder.forward
    return errs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sweep", action="store_true", help="each rounding point alone and each one left out")
    ap.add_argument("--config", nargs="*", choices=sorted(CONFIGS), help="only these configurations")
    ap.add_argument("--no-diffusers", action="store_true", help="skip diffusers' own bf16 decode")
    ap.add_argument("-o", "--output", help="the rows as JSON too")
    args = ap.parse_args()
    logging.set_verbosity_error()  # the fixture holds the decoder only; the encoder's absence is expected
    vae = AutoencoderKLHunyuanVideo.from_pretrained(os.path.join(DATA, "vae")).eval()
    ref = load_file(os.path.join(DATA, "reference.safetensors"))
    vae.disable_tiling()

    rows = []

    def row(name, errs):
        print(f"{name:<28} " + "  ".join(f"{k}: {v:.2e}" for k, v in errs.items()), flush=True)
        rows.append({"name": name, "rel_l2_vs_diffusers_f64": errs})

    # diffusers itself in bf16 on the CPU
    bf = None if args.no_diffusers else AutoencoderKLHunyuanVideo.from_pretrained(os.path.join(DATA, "vae")).eval().to(torch.bfloat16)
    errs = {}
    with torch.no_grad():
        for key, tiled in (("a", 0), ("b", 0), ("c", 1)) if bf else ():
            video = decode(bf, ref["latents_" + key].to(torch.bfloat16), tiled)
            errs[key] = rel_l2(video.double().clamp(-1, 1), ref["video_" + key].double())
    if bf:
        row("diffusers torch bf16 (CPU)", errs)

    vae = vae.double()
    if not args.config:
        row("emulation f64 (no rounding)", measure(vae, ref, {p: 0 for p in POINTS}))
    for name, on in CONFIGS.items():
        if args.config and name not in args.config:
            continue
        row(f"emulation {name}", measure(vae, ref, on))
    if args.sweep:
        base = CONFIGS["current"]
        for p in POINTS:
            if base[p]:
                row(f"current without {p}", measure(vae, ref, {**base, p: 0}))
        new = CONFIGS["new"]
        for p in POINTS:
            if new[p]:
                row(f"new without {p}", measure(vae, ref, {**new, p: 0}))
        for p in POINTS:
            row(f"only {p}", measure(vae, ref, {q: int(q == p) for q in POINTS}))
    if args.output:
        doc = {"benchmark": "hunyuan_vae_bf16_error", "device": "CPU (torch f64 with bf16 roundings)",
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "commit": os.popen(f"git -C {ROOT} rev-parse --short HEAD").read().strip(),
               "command": "python3 tools/hunyuan_vae_bf16_error.py " + " ".join(sys.argv[1:]),
               "fixture": "tests/data/hunyuan_vae (a: untiled, b: framewise, c: tiled); the GPU test's bound 2e-2",
               "configs": CONFIGS, "results": rows}
        with open(args.output, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
