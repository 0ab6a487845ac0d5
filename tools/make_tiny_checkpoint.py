#!/usr/bin/env python3
"""Writes tests/data/tiny-wan/: a tiny Wan 2.1 text-to-video pipeline in the
diffusers folder layout, with random weights, for loader and CLI tests.

    python3 tools/make_tiny_checkpoint.py [OUT_DIR]

Components (as diffusers saves them):
  transformer/   WanTransformer3DModel, 2 layers, 2 heads of dim 12 (f32)
  vae/           AutoencoderKLWan, base_dim 4, z_dim 16 (f32)
  text_encoder/  UMT5EncoderModel, 2 layers, d_model 32, vocab 384 (bf16, as
                 the released Wan text encoder is stored)
  scheduler/     UniPCMultistepScheduler with flow sigmas (shift 3), as Wan 2.1
  model_index.json (tokenizer entry null: no tokenizer files yet)

Seeded: the same library versions give byte-identical weights. Every
parameter gets noise added to its default initialisation, so no weight is
an exact 0 or 1 and a wrong mapping in a loader shows up in its output.
"""
import json
import os
import shutil
import sys

import torch
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
from transformers import UMT5Config, UMT5EncoderModel

SEED = 20251123


def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.add_(torch.randn(p.shape, generator=g, dtype=torch.float32).to(p.dtype) * 0.05)
    return model


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "tiny-wan")
    out = os.path.abspath(out)
    torch.manual_seed(SEED)

    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=32, ffn_dim=48, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        eps=1e-6, rope_max_seq_len=1024)
    perturb(transformer, SEED + 1)

    vae = AutoencoderKLWan(base_dim=4, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=1, attn_scales=[],
                           temperal_downsample=[False, True, True],
                           latents_mean=[round(0.1 * i - 0.8, 4) for i in range(16)],
                           latents_std=[round(1.0 + 0.1 * i, 4) for i in range(16)])
    perturb(vae, SEED + 2)

    text_config = UMT5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                             relative_attention_num_buckets=32, relative_attention_max_distance=128,
                             feed_forward_proj="gated-gelu", dropout_rate=0.0, layer_norm_epsilon=1e-6,
                             tie_word_embeddings=False)
    text_encoder = perturb(UMT5EncoderModel(text_config), SEED + 3).to(torch.bfloat16)

    scheduler = UniPCMultistepScheduler(num_train_timesteps=1000, prediction_type="flow_prediction",
                                        use_flow_sigmas=True, flow_shift=3.0)

    pipe = WanPipeline(tokenizer=None, text_encoder=text_encoder, vae=vae, scheduler=scheduler,
                       transformer=transformer)
    if os.path.exists(out):
        shutil.rmtree(out)
    pipe.save_pretrained(out, safe_serialization=True)

    total = 0
    for root, _, files in os.walk(out):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    counts = {name: sum(p.numel() for p in m.parameters())
              for name, m in [("transformer", transformer), ("vae", vae), ("text_encoder", text_encoder)]}
    print(json.dumps({"out": out, "bytes": total, "parameters": counts}))


if __name__ == "__main__":
    main()
