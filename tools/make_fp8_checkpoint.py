#!/usr/bin/env python3
"""Writes tests/data/tiny-wan-fp8/: the tiny transformer tests/data/wan/tiny_hd64 as the FP8
single-file checkpoints users have for Wan (ComfyUI's "fp8_scaled" files), for
the FP8 loader's tests (tests/test_fp8.c, docs/fp8.md):

  transformer/config.json               the tiny transformer's, unchanged
  transformer/wan_tiny_fp8_scaled.safetensors
      original-Wan key names under "model.diffusion_model." (blocks.N.self_attn.q.weight, ...);
      every block linear's weight as float8_e4m3fn with a per-tensor F32 "<layer>.scale_weight"
      (max |w| / 448), the other tensors as they were (F32); the marker tensor "scaled_fp8"
      (an empty float8_e4m3fn tensor, as ComfyUI writes it) and a "<layer>.scale_input" of 1
      on the first layer (ignored by vidsparse: it scales activations per token itself).
  Layer 1's FFN output weight instead carries a per-output-channel scale (some converters
  write those), layer 0's cross-attention value weight is a plain cast (no scale), and the
  time projection (outside the blocks, which vidsparse runs in F32) is FP8 too.

    python3 tools/make_fp8_checkpoint.py [OUT_DIR]
"""
import glob
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

SRC = "tests/data/wan/tiny_hd64"

# diffusers -> original Wan names, inside a block and at the top level
BLOCK = [("attn1.", "self_attn."), ("attn2.", "cross_attn."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."),
         ("to_out.0.", "o."), ("ffn.net.0.proj.", "ffn.0."), ("ffn.net.2.", "ffn.2."), ("norm2.", "norm3."),
         ("scale_shift_table", "modulation")]
TOP = {"condition_embedder.time_embedder.linear_1.": "time_embedding.0.",
       "condition_embedder.time_embedder.linear_2.": "time_embedding.2.",
       "condition_embedder.time_proj.": "time_projection.1.",
       "condition_embedder.text_embedder.linear_1.": "text_embedding.0.",
       "condition_embedder.text_embedder.linear_2.": "text_embedding.2.",
       "proj_out.": "head.head.", "scale_shift_table": "head.modulation"}
LINEARS = ("self_attn.q.", "self_attn.k.", "self_attn.v.", "self_attn.o.", "cross_attn.q.", "cross_attn.k.",
           "cross_attn.v.", "cross_attn.o.", "ffn.0.", "ffn.2.")


def original_name(name):
    if name.startswith("blocks."):
        head, rest = name.split(".", 2)[:2], name.split(".", 2)[2]
        for a, b in BLOCK:
            rest = rest.replace(a, b)
        return ".".join(head) + "." + rest
    for a, b in TOP.items():
        if name.startswith(a):
            return b + name[len(a):]
    return name


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/data/tiny-wan-fp8"
    os.makedirs(os.path.join(out, "transformer"), exist_ok=True)
    shutil.copy(os.path.join(SRC, "config.json"), os.path.join(out, "transformer", "config.json"))
    sd = {}
    for shard in sorted(glob.glob(os.path.join(SRC, "*.safetensors"))):
        sd.update(load_file(shard))
    prefix = "model.diffusion_model."
    result = {prefix + "scaled_fp8": torch.empty(0, dtype=torch.float8_e4m3fn)}
    for name, w in sd.items():
        orig = original_name(name)
        layer = orig[: -len(".weight")]
        block_linear = orig.startswith("blocks.") and any(l in orig for l in LINEARS)
        if orig.endswith(".weight") and (block_linear or orig == "time_projection.1.weight"):
            if layer == "blocks.1.ffn.2":
                scale = w.abs().amax(dim=1).float() / 448  # per output channel
                codes = (w.float() / scale[:, None]).to(torch.float8_e4m3fn)
            elif layer == "blocks.0.cross_attn.v":
                scale, codes = None, w.to(torch.float8_e4m3fn)  # a plain cast
            else:
                scale = (w.abs().max().float() / 448).reshape(1)
                codes = (w.float() / scale).to(torch.float8_e4m3fn)
            result[prefix + orig] = codes
            if scale is not None:
                result[prefix + layer + ".scale_weight"] = scale
            if layer == "blocks.0.self_attn.q":
                result[prefix + layer + ".scale_input"] = torch.ones(1)
        else:
            result[prefix + orig] = w
    save_file(result, os.path.join(out, "transformer", "wan_tiny_fp8_scaled.safetensors"))
    print(f"wrote {out}/transformer: {len(result)} tensors")


if __name__ == "__main__":
    main()
