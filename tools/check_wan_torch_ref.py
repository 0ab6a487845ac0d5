#!/usr/bin/env python3
"""Checks tools/wan_torch_ref.py against diffusers' WanTransformer3DModel on the
CPU at tiny configs (both head sizes, with and without the cross-attention
norm), in f32: the plain-torch reference must reproduce diffusers exactly, so
tools/wan_gpu_check.py can stand in for diffusers on the accelerator.

    python3 tools/check_wan_torch_ref.py      # prints one line per config, exits 1 on a mismatch
"""
import sys

import torch
from diffusers import WanTransformer3DModel

from wan_torch_ref import param_shapes, random_state_dict, wan_forward


def check(heads, head_dim, layers, cross_attn_norm, seed):
    cfg = dict(patch_size=(1, 2, 2), num_attention_heads=heads, attention_head_dim=head_dim, in_channels=16,
               out_channels=16, text_dim=32, freq_dim=256, ffn_dim=96, num_layers=layers,
               cross_attn_norm=cross_attn_norm, qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
    model = WanTransformer3DModel(**cfg).eval()
    sd = random_state_dict(cfg, seed, dtype=torch.float32)
    theirs = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert theirs == param_shapes(cfg), "weight names or shapes differ from diffusers'"
    model.load_state_dict(sd)
    g = torch.Generator().manual_seed(seed)
    lat = torch.randn(2, 16, 3, 6, 8, generator=g)
    t = torch.tensor([999.0, 321.5])
    text = torch.randn(2, 7, 32, generator=g)
    with torch.no_grad():
        ref = model(lat, t, text, return_dict=False)[0]
        ours = wan_forward(sd, cfg, lat, t, text)
    err = ((ours - ref).norm() / ref.norm()).item()
    print(f"heads {heads} x {head_dim}, {layers} layers, cross_attn_norm {cross_attn_norm}: rel L2 {err:.2e}")
    return err < 1e-5


if __name__ == "__main__":
    ok = all([check(2, 64, 2, True, 1), check(1, 128, 1, True, 2), check(3, 64, 2, False, 3)])
    sys.exit(0 if ok else 1)
