#!/usr/bin/env python3
"""Writes tests/data/hunyuan_pipeline/: a tiny random HunyuanVideoPipeline folder and diffusers' output
for fixed initial noise (after tools/make_hunyuan_text_fixtures.py, whose tokenizers and text encoders it
uses):

  model_index.json, scheduler/       saved by HunyuanVideoPipeline.save_pretrained (FlowMatchEuler, shift 7)
  transformer/                       a tiny random HunyuanVideoTransformer3DModel (1 head of 64, 1 dual and
                                     2 single blocks, 1 refiner block, text 64 = the tiny Llama's, pooled 48
                                     = the tiny CLIP's), bf16 weights (diffusers computes in f32)
  vae/                               a tiny random AutoencoderKLHunyuanVideo (8x in space, 4x in time), bf16
  tokenizer/, text_encoder/,         links to ../hunyuan_text/{llama_tokenizer, text_encoder, clip_tokenizer,
  tokenizer_2/, text_encoder_2/      text_encoder_2} (the same files, stored once); tokenizer_2/ keeps the
                                     tokenizer_config.json save_pretrained writes, as released folders have
  reference.safetensors:
    noise                 [1, 16, 3, 4, 6] f32: the initial latents (9 frames of 32 x 48)
    latents               [1, 16, 3, 4, 6]: output_type="latent", 3 steps, guidance_scale 6 (embedded)
    latents_cfg           the same with true_cfg_scale 3 and negative prompt NEGATIVE
    latents_g35           the same as latents with guidance_scale 3.5
    video                 [9, 3, 32, 48]: vae.decode(latents / scaling_factor) clamped to [-1, 1]
  (prompt, negative prompt, steps and sizes in the metadata)

    /work/venv/bin/python tools/make_hunyuan_pipeline_fixtures.py
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, CLIPTextModel, CLIPTokenizer, LlamaModel
from diffusers import (AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler, HunyuanVideoPipeline,
                       HunyuanVideoTransformer3DModel)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TEXT = os.path.join(ROOT, "tests", "data", "hunyuan_text")
OUT = os.path.join(ROOT, "tests", "data", "hunyuan_pipeline")
PROMPT, NEGATIVE = "A cat walks on the grass, realistic", "blurry, low quality"
FRAMES, HEIGHT, WIDTH, STEPS = 9, 32, 48, 3
LINKS = {"tokenizer": "llama_tokenizer", "text_encoder": "text_encoder", "tokenizer_2": "clip_tokenizer",
         "text_encoder_2": "text_encoder_2"}


def randomize(model, seed):
    """Every weight random (norms near 1, biases small) and rounded to bf16, computing in f32."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and p.ndim == 1:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
            elif p.ndim == 1:
                p.copy_(0.05 * torch.randn_like(p))
            elif "vae" in str(type(model)).lower():
                p.copy_(torch.randn_like(p) / (p[0].numel() ** 0.5))
            p.copy_(p.to(torch.bfloat16).float())
    return model.eval()


def main():
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(TEXT, "llama_tokenizer"))
    tokenizer_2 = CLIPTokenizer.from_pretrained(os.path.join(TEXT, "clip_tokenizer"))
    text_encoder = LlamaModel.from_pretrained(os.path.join(TEXT, "text_encoder"), torch_dtype=torch.float32)
    text_encoder_2 = CLIPTextModel.from_pretrained(os.path.join(TEXT, "text_encoder_2"), torch_dtype=torch.float32)
    torch.manual_seed(0)
    transformer = randomize(HunyuanVideoTransformer3DModel(
        in_channels=16, out_channels=16, num_attention_heads=1, attention_head_dim=64, num_layers=1,
        num_single_layers=2, num_refiner_layers=1, mlp_ratio=1.0, patch_size=2, patch_size_t=1,
        qk_norm="rms_norm", guidance_embeds=True, text_embed_dim=text_encoder.config.hidden_size,
        pooled_projection_dim=text_encoder_2.config.hidden_size, rope_theta=256.0, rope_axes_dim=(16, 24, 24)), 1)
    vae = randomize(AutoencoderKLHunyuanVideo(
        in_channels=3, out_channels=3, latent_channels=16, block_out_channels=(8, 8, 16, 16), layers_per_block=1,
        norm_num_groups=4, spatial_compression_ratio=8, temporal_compression_ratio=4), 2)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=7.0)
    pipe = HunyuanVideoPipeline(text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer, vae=vae,
                                scheduler=scheduler, text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2)
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    transformer.to(torch.bfloat16), vae.to(torch.bfloat16)  # stored in bf16 (the weights are bf16 values)
    pipe.save_pretrained(OUT, safe_serialization=True)
    transformer.float(), vae.float()
    for name, target in LINKS.items():  # the text side is hunyuan_text's, stored once
        if name == "tokenizer_2":  # keep the tokenizer_config.json save_pretrained wrote; link the vocabulary
            for f in os.listdir(os.path.join(OUT, name)):
                if f != "tokenizer_config.json":
                    os.remove(os.path.join(OUT, name, f))
            for f in os.listdir(os.path.join(TEXT, target)):
                os.symlink(os.path.join("..", "..", "hunyuan_text", target, f), os.path.join(OUT, name, f))
            continue
        shutil.rmtree(os.path.join(OUT, name))
        os.symlink(os.path.join("..", "hunyuan_text", target), os.path.join(OUT, name))

    g = torch.Generator().manual_seed(3)
    noise = torch.randn(1, 16, (FRAMES - 1) // 4 + 1, HEIGHT // 8, WIDTH // 8, generator=g)
    ref = {"noise": noise}

    def run(**kw):
        with torch.no_grad():
            return pipe(prompt=PROMPT, height=HEIGHT, width=WIDTH, num_frames=FRAMES, num_inference_steps=STEPS,
                        latents=noise.clone(), output_type="latent", return_dict=False, **kw)[0].contiguous()

    ref["latents"] = run(guidance_scale=6.0)
    ref["latents_cfg"] = run(guidance_scale=6.0, true_cfg_scale=3.0, negative_prompt=NEGATIVE)
    ref["latents_g35"] = run(guidance_scale=3.5)
    with torch.no_grad():
        video = vae.decode(ref["latents"] / vae.config.scaling_factor, return_dict=False)[0]
    ref["video"] = video[0].permute(1, 0, 2, 3).clamp(-1, 1).contiguous()  # [C, T, H, W] -> [T, C, H, W]
    meta = {"prompt": PROMPT, "negative_prompt": NEGATIVE, "steps": str(STEPS), "frames": str(FRAMES),
            "height": str(HEIGHT), "width": str(WIDTH)}
    save_file(ref, os.path.join(OUT, "reference.safetensors"), metadata=meta)
    with open(os.path.join(OUT, "scheduler", "scheduler_config.json")) as f:
        print("scheduler:", json.load(f).get("shift"))
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("wrote %s (%d bytes, text side linked); latents %s, video %s" %
          (OUT, total, tuple(ref["latents"].shape), tuple(ref["video"].shape)))


if __name__ == "__main__":
    main()
