#!/usr/bin/env python3
"""Writes tests/data/cogvideox_pipeline/{t2v,i2v}/: tiny random CogVideoXPipeline and
CogVideoXImageToVideoPipeline folders and what diffusers makes with them, for the whole-pipeline tests
(tests/test_cogvideox_pipeline.c, tests/gpu/test_cogvideox_pipeline_cuda.c). Run after
tools/make_t5_fixtures.py and tools/make_cogvideox_vae_fixtures.py, whose text encoder and VAE it uses:

  model_index.json          the pipeline's class and components (written by hand: the tokenizer is a
                            sentencepiece stand-in that save_pretrained cannot save)
  scheduler/                CogVideoXDPMScheduler as CogVideoX 1.5 ships it (v-prediction, zero-SNR betas,
                            trailing timesteps), save_pretrained
  transformer/              a tiny random CogVideoXTransformer3DModel 1.5 (2 heads of 64, 2 blocks, patches
                            2 x 2 x 2, text 64 = the tiny T5's; I2V: 8 input channels and the ofs embedder),
                            bf16 weights
  text_encoder/, vae/       links to ../../t5/text_encoder and ../../cogvideox_vae/vae (stored once)
  tokenizer/                spiece.model, a link to tests/data/tokenizer/spiece.model (the T5 test's tokenizer),
                            and a tokenizer_config.json as released folders have
  reference.safetensors:
    latents   [1, 4, 4, 8, 12] f32: the pipeline's final latents (output_type="latent"; the first of the 4
              latent frames is the 1.5 pipelines' padding), in our [B, C, F, H, W] order
    video     [9, 3, 32, 48] f32: vae.decode of the latents without the padding frame / scaling factor,
              clamped to [-1, 1] (what the pipeline's postprocessing converts to pixels)
    video_dynamic_cfg  (t2v) the same with use_dynamic_cfg=True
  (prompt, seed, steps and sizes in the metadata)

Every random draw is vidsparse's (src/pipeline/noise.h, ported below), so our pipeline reproduces the run
from the seed alone: the initial latents are vs_noise_gaussian(SEED); CogVideoXDPMScheduler's per-step noise
is the stream vs_scheduler_step draws (SEED + 0x9E3779B97F4A7C15 (step + 1)); the image latent's sample
(I2V) is mean + std * vs_noise_gaussian(SEED ^ 0x696D616765) (vs_t2v_image_noise_seed). The first frame is
tests/data/image/rgb.jpg, resized by the pipeline's video processor (PIL Lanczos).

    /work/venv/bin/python tools/make_cogvideox_pipeline_fixtures.py
"""
import json
import os
import shutil
import sys

import numpy as np
import PIL.Image
import diffusers
import torch
from safetensors.torch import save_file
from transformers import T5EncoderModel
from diffusers import AutoencoderKLCogVideoX, CogVideoXDPMScheduler, CogVideoXImageToVideoPipeline, CogVideoXPipeline
import diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video as i2v_module
import diffusers.schedulers.scheduling_dpm_cogvideox as dpm_module

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_cogvideox_fixtures import random_model  # noqa: E402
from make_t5_fixtures import SpmT5Tokenizer  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data")
OUT = os.path.join(DATA, "cogvideox_pipeline")
PROMPT = "a cat wearing sunglasses rides a skateboard"
SEED, FRAMES, HEIGHT, WIDTH, STEPS, GUIDANCE = 7, 9, 32, 48, 3, 6.0
IMAGE_SEED_XOR = 0x696D616765
SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
                 prediction_type="v_prediction", rescale_betas_zero_snr=True, set_alpha_to_one=True,
                 snr_shift_scale=1.0, steps_offset=0, timestep_spacing="trailing")
MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def noise_gaussian(n, seed):
    """vs_noise_gaussian: splitmix64-mixed counters, Box-Muller over pairs (src/pipeline/noise.c)."""
    def mix64(x):
        x = x + np.uint64(GOLDEN)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))

    base = np.uint64((seed * GOLDEN) & MASK64)
    k = np.arange((n + 1) // 2 * 2, dtype=np.uint64)
    with np.errstate(over="ignore"):
        u = ((mix64(base + k) >> np.uint64(11)).astype(np.float64) + 0.5) / 9007199254740992.0
    r = np.sqrt(-2.0 * np.log(u[0::2]))
    a = 2 * np.pi * u[1::2]
    out = np.empty(len(k), dtype=np.float64)
    out[0::2], out[1::2] = r * np.cos(a), r * np.sin(a)
    return out[:n].astype(np.float32)


def ours(shape, seed):
    """Our noise of shape [B, C, F, H, W] as diffusers' [B, F, C, H, W]."""
    x = torch.from_numpy(noise_gaussian(int(np.prod(shape)), seed)).reshape(shape)
    return x.permute(0, 2, 1, 3, 4).contiguous()


class OurSchedulerNoise:
    """CogVideoXDPMScheduler.step draws its noise with randn_tensor (a second draw after the first step, which
    replaces the first): both give the step's stream of vs_scheduler_step."""

    def __init__(self, scheduler):
        self.step_index = 0
        step = scheduler.step

        def counted(*args, **kw):
            out = step(*args, **kw)
            self.step_index += 1
            return out

        scheduler.step = counted
        dpm_module.randn_tensor = self.randn

    def randn(self, shape, generator=None, device=None, dtype=None, **kw):
        b, f, c, h, w = shape
        seed = (SEED + GOLDEN * (self.step_index + 1)) & MASK64
        return ours((b, c, f, h, w), seed).to(dtype)


def our_image_sample(encoder_output, generator=None, sample_mode="sample"):
    """retrieve_latents with the latent sampled from our image noise stream."""
    dist = encoder_output.latent_dist
    return dist.mean + dist.std * ours(tuple(dist.mean.shape), SEED ^ IMAGE_SEED_XOR).permute(0, 2, 1, 3, 4)


def write_folder(out, pipeline_class, transformer, scheduler):
    os.makedirs(out)
    transformer.to(torch.bfloat16)  # stored in bf16 (the weights are bf16 values); diffusers computes in f32
    transformer.save_pretrained(os.path.join(out, "transformer"), safe_serialization=True)
    transformer.float()
    scheduler.save_pretrained(os.path.join(out, "scheduler"))
    index = {"_class_name": pipeline_class, "_diffusers_version": diffusers.__version__, "scheduler": ["diffusers", "CogVideoXDPMScheduler"],
             "text_encoder": ["transformers", "T5EncoderModel"], "tokenizer": ["transformers", "T5Tokenizer"],
             "transformer": ["diffusers", "CogVideoXTransformer3DModel"], "vae": ["diffusers", "AutoencoderKLCogVideoX"]}
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
    os.symlink(os.path.join("..", "..", "t5", "text_encoder"), os.path.join(out, "text_encoder"))
    os.symlink(os.path.join("..", "..", "cogvideox_vae", "vae"), os.path.join(out, "vae"))
    os.makedirs(os.path.join(out, "tokenizer"))
    os.symlink(os.path.join("..", "..", "..", "tokenizer", "spiece.model"), os.path.join(out, "tokenizer", "spiece.model"))
    with open(os.path.join(out, "tokenizer", "tokenizer_config.json"), "w") as f:  # as released folders have
        json.dump({"tokenizer_class": "T5Tokenizer", "model_max_length": 226, "eos_token": "</s>",
                   "pad_token": "<pad>", "unk_token": "<unk>", "legacy": True}, f, indent=2)


def main():
    tokenizer = SpmT5Tokenizer(os.path.join(DATA, "tokenizer", "spiece.model"))
    text_encoder = T5EncoderModel.from_pretrained(os.path.join(DATA, "t5", "text_encoder"), torch_dtype=torch.float32)
    vae = AutoencoderKLCogVideoX.from_pretrained(os.path.join(DATA, "cogvideox_vae", "vae"), torch_dtype=torch.float32)
    text_dim = text_encoder.config.d_model
    latent = vae.config.latent_channels
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    i2v_module.retrieve_latents = our_image_sample
    image = PIL.Image.open(os.path.join(DATA, "image", "rgb.jpg")).convert("RGB")
    for kind, seed in (("t2v", 11), ("i2v", 12)):
        extra = dict(in_channels=2 * latent, ofs_embed_dim=32) if kind == "i2v" else dict(in_channels=latent)
        transformer = random_model(seed, num_attention_heads=2, out_channels=latent, text_embed_dim=text_dim,
                                   max_text_seq_length=226, **extra)
        scheduler = CogVideoXDPMScheduler(**SCHEDULER)
        out = os.path.join(OUT, kind)
        write_folder(out, "CogVideoXImageToVideoPipeline" if kind == "i2v" else "CogVideoXPipeline", transformer,
                     scheduler)
        parts = dict(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer,
                     scheduler=scheduler)
        pipe = CogVideoXImageToVideoPipeline(**parts) if kind == "i2v" else CogVideoXPipeline(**parts)
        OurSchedulerNoise(scheduler)
        latent_frames = (FRAMES - 1) // 4 + 1
        padding = (2 - latent_frames % 2) % 2
        shape = (1, latent, latent_frames + padding, HEIGHT // 4, WIDTH // 4)
        kw = dict(image=image) if kind == "i2v" else {}
        with torch.no_grad():
            latents = pipe(prompt=PROMPT, height=HEIGHT, width=WIDTH, num_frames=FRAMES, num_inference_steps=STEPS,
                           guidance_scale=GUIDANCE, latents=ours(shape, SEED), output_type="latent",
                           return_dict=False, **kw)[0]
            video = vae.decode(latents[:, padding:].permute(0, 2, 1, 3, 4) / vae.config.scaling_factor).sample
        ref = {"latents": latents.permute(0, 2, 1, 3, 4).contiguous().float(),
               "video": video[0].permute(1, 0, 2, 3).clamp(-1, 1).contiguous().float()}
        if kind == "t2v":  # the same with the pipelines' use_dynamic_cfg
            OurSchedulerNoise(scheduler)
            with torch.no_grad():
                latents = pipe(prompt=PROMPT, height=HEIGHT, width=WIDTH, num_frames=FRAMES,
                               num_inference_steps=STEPS, guidance_scale=GUIDANCE, use_dynamic_cfg=True,
                               latents=ours(shape, SEED), output_type="latent", return_dict=False)[0]
                video = vae.decode(latents[:, padding:].permute(0, 2, 1, 3, 4) / vae.config.scaling_factor).sample
            ref["video_dynamic_cfg"] = video[0].permute(1, 0, 2, 3).clamp(-1, 1).contiguous().float()
        meta = {"prompt": PROMPT, "seed": str(SEED), "steps": str(STEPS), "frames": str(FRAMES),
                "height": str(HEIGHT), "width": str(WIDTH), "guidance": str(GUIDANCE),
                "image": "tests/data/image/rgb.jpg" if kind == "i2v" else ""}
        save_file(ref, os.path.join(out, "reference.safetensors"), metadata=meta)
        print("%s: latents %s, video %s" % (kind, tuple(ref["latents"].shape), tuple(ref["video"].shape)))
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs
                if not os.path.islink(os.path.join(d, f)))
    print("wrote %s (%d bytes; text encoder, VAE and tokenizer linked)" % (OUT, total))


if __name__ == "__main__":
    main()
