#!/usr/bin/env python3
"""Golden files for tests/test_cogvideox_vae.c, written with diffusers on the CPU.

    python3 tools/make_cogvideox_vae_fixtures.py   # writes tests/data/cogvideox_vae/

A tiny random AutoencoderKLCogVideoX (3 blocks: spatial ratio 4, temporal compression 4, so the first two
up/down blocks also scale time; 8 groups; norms perturbed away from 1/0) in the diffusers vae/ layout,
and its references computed in float64 from the stored float32 weights, stored as float32:

  vae/config.json, vae/diffusion_pytorch_model.safetensors
  reference.safetensors
    dec_latents  [1, 4, 5, 5, 7]    DiT latents (scaled): decode(latents / scaling_factor), clamped to
    dec_video    [1, 3, 17, 20, 28] [-1, 1] as the pipelines' postprocessing does. 5 latent frames decode
                                    as diffusers batches them, (0, 1, 2) then (3, 4)
    tdec_latents [1, 4, 3, 13, 19]  the same with enable_tiling() (the config's sample size 48 x 80:
    tdec_video   [1, 3, 9, 52, 76]  latent tiles of 6 x 10 every 5 x 8, blended over 4 x 8 pixels)
    enc_frames   [1, 3, 17, 20, 27] frames in [-1, 1]: encoded as diffusers batches them (9 then 8)
    enc_mean, enc_logvar [1, 4, 5, 5, 6]   the latent distribution
    img_frames   [1, 3, 1, 19, 26]  one image (the image-to-video condition)
    img_mean, img_logvar [1, 4, 1, 4, 6]
    img_noise, img_sample           latent = mean + exp(logvar / 2) * noise
    timg_frames  [1, 3, 1, 52, 76]  one image, enable_tiling()
    timg_mean, timg_logvar [1, 4, 1, 13, 19]
    cond_<F>_<p>_noise, cond_<F>_<p>   CogVideoXImageToVideoPipeline.prepare_latents' image latents for
                                    img_frames, num_frames 4 (F - 1) + 1 and the transformer's patch_size_t
                                    p (0: None, CogVideoX 1.0), [1, 4, F', 4, 6] (channels first), with the
                                    noise its latent_dist.sample drew
"""
import json
import os
from types import SimpleNamespace

import torch
import diffusers.models.autoencoders.vae as vae_module
from diffusers import AutoencoderKLCogVideoX, CogVideoXImageToVideoPipeline
from safetensors.torch import load_file, save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "cogvideox_vae")
CONFIG = dict(in_channels=3, out_channels=3, down_block_types=["CogVideoXDownBlock3D"] * 3,
              up_block_types=["CogVideoXUpBlock3D"] * 3, block_out_channels=[16, 24, 32], latent_channels=4,
              layers_per_block=1, act_fn="silu", norm_eps=1e-6, norm_num_groups=8, temporal_compression_ratio=4,
              sample_height=48, sample_width=80, scaling_factor=0.7, invert_scale_latents=True,
              use_quant_conv=False, use_post_quant_conv=False)


def main():
    torch.manual_seed(20261203)
    vae = AutoencoderKLCogVideoX(**CONFIG)
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if "norm" in name and p.ndim == 1:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn_like(p))
    folder = os.path.join(OUT, "vae")
    vae.save_pretrained(folder, safe_serialization=True)
    os.remove(os.path.join(folder, "config.json"))
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(dict(_class_name="AutoencoderKLCogVideoX", **CONFIG), f, indent=2)
    # References in float64 from the stored weights.
    ref = AutoencoderKLCogVideoX(**CONFIG)
    ref.load_state_dict(load_file(os.path.join(folder, "diffusion_pytorch_model.safetensors")))
    ref = ref.double().eval()
    g = torch.Generator().manual_seed(5)
    sf = CONFIG["scaling_factor"]
    out = {}
    with torch.no_grad():
        out["dec_latents"] = torch.randn(1, 4, 5, 5, 7, generator=g)
        out["dec_video"] = ref.decode(out["dec_latents"].double() / sf).sample.clamp(-1, 1)
        out["enc_frames"] = torch.rand(1, 3, 17, 20, 27, generator=g) * 2 - 1
        dist = ref.encode(out["enc_frames"].double()).latent_dist
        out["enc_mean"], out["enc_logvar"] = dist.mean, dist.logvar
        out["img_frames"] = torch.rand(1, 3, 1, 19, 26, generator=g) * 2 - 1
        dist = ref.encode(out["img_frames"].double()).latent_dist
        out["img_mean"], out["img_logvar"] = dist.mean, dist.logvar
        out["img_noise"] = torch.randn(dist.mean.shape, generator=g)
        out["img_sample"] = dist.mean + dist.std * out["img_noise"].double()
        ref.enable_tiling()
        out["tdec_latents"] = torch.randn(1, 4, 3, 13, 19, generator=g)
        out["tdec_video"] = ref.decode(out["tdec_latents"].double() / sf).sample.clamp(-1, 1)
        out["timg_frames"] = torch.rand(1, 3, 1, 52, 76, generator=g) * 2 - 1
        dist = ref.encode(out["timg_frames"].double()).latent_dist
        out["timg_mean"], out["timg_logvar"] = dist.mean, dist.logvar
        ref.disable_tiling()
        original = vae_module.randn_tensor
        for frames, patch_t in [(3, 2), (4, 2), (3, 0)]:
            drawn = []

            def recording(*args, **kwargs):
                drawn.append(original(*args, **kwargs))
                return drawn[-1]

            vae_module.randn_tensor = recording
            pipe = SimpleNamespace(vae=ref, vae_scale_factor_temporal=4, vae_scale_factor_spatial=4,
                                   vae_scaling_factor_image=sf, scheduler=SimpleNamespace(init_noise_sigma=1.0),
                                   transformer=SimpleNamespace(config=SimpleNamespace(patch_size_t=patch_t or None)))
            _, cond = CogVideoXImageToVideoPipeline.prepare_latents(
                pipe, out["img_frames"][:, :, 0].double(), 1, 4, 4 * (frames - 1) + 1, 19, 26, torch.float64, "cpu",
                g)
            vae_module.randn_tensor = original
            out[f"cond_{frames}_{patch_t}_noise"] = drawn[0]
            out[f"cond_{frames}_{patch_t}"] = cond.permute(0, 2, 1, 3, 4)
    out = {k: v.float().contiguous() for k, v in out.items()}
    for k, v in out.items():
        print(k, tuple(v.shape))
    save_file(out, os.path.join(OUT, "reference.safetensors"))


if __name__ == "__main__":
    main()
