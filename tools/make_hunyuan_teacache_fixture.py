#!/usr/bin/env python3
"""Golden TeaCache signal of the HunyuanVideo DiT, for tests/test_cache.c, written with diffusers on the CPU.

    python3 tools/make_hunyuan_teacache_fixture.py    # writes tests/data/hunyuan/teacache_b2.safetensors

TeaCache's HunyuanVideo rule (ali-vilab/TeaCache, TeaCache4HunyuanVideo/teacache_sample_video.py) watches the
first dual-stream block's modulated input of the video tokens, LN(img_in(latents)) * (1 + scale) + shift with
(shift, scale) from that block's modulation of the conditioning vector (time + guidance + pooled text). In
diffusers' HunyuanVideoTransformer3DModel that is transformer_blocks[0].norm1(x_embedder(latents), temb)'s first
output. Computed here on the inputs of tests/data/hunyuan/forward_b2.safetensors (batch 2, per-entry timesteps
and guidance) with the stored tiny model of tools/make_hunyuan_fixtures.py, in f32: signal [2, N, dim].
"""
import os

import torch
from diffusers import HunyuanVideoTransformer3DModel
from safetensors.torch import load_file, save_file

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "hunyuan")


def main():
    model = HunyuanVideoTransformer3DModel.from_pretrained(os.path.join(DATA, "tiny_hd64"), torch_dtype=torch.float32)
    inputs = load_file(os.path.join(DATA, "forward_b2.safetensors"))
    with torch.no_grad():
        temb, _ = model.time_text_embed(inputs["timesteps"], inputs["pooled"], inputs["guidance"])
        tokens = model.x_embedder(inputs["latents"])
        signal = model.transformer_blocks[0].norm1(tokens, emb=temb)[0]
    save_file({"signal": signal.contiguous()}, os.path.join(DATA, "teacache_b2.safetensors"))
    print("signal", tuple(signal.shape), f"mean |s| {signal.abs().mean().item():.4f}")


if __name__ == "__main__":
    main()
