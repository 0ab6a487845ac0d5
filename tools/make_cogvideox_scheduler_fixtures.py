#!/usr/bin/env python3
"""Golden files for tests/test_cogvideox_scheduler.c, written with diffusers on the CPU.

    python3 tools/make_cogvideox_scheduler_fixtures.py   # writes tests/data/cogvideox_scheduler/

CogVideoXDPMScheduler run step for step as the CogVideoX pipelines call it (the previous step's x0 and
the previous timestep passed back in), on fixed random model outputs:
  <name>/scheduler_config.json   the configuration
  schedulers.safetensors         <name>.timesteps [steps], <name>.model_outputs [steps, ...],
                                 <name>.noise [steps, ...] (the variance noise each step added: the step
                                 draws one normal tensor on the first step and two on later ones, of
                                 which it uses the last), <name>.samples [steps + 1, ...]
  cfg.safetensors                the pipelines' guidance scale per step, plain and use_dynamic_cfg
  tiny_wan_i2v/                   a 1-layer random WanTransformer3DModel taking 32 channels in and giving 16
                                 out: the denoising-loop test's stand-in for an image-to-video DiT (the
                                 image condition concatenated after the latents' channels)
Runs: "v15" is CogVideoX 1.5's scheduler_config.json (v-prediction, zero-terminal-SNR rescale,
trailing spacing); "v2b" the 2B model's (snr_shift_scale 3); "eps_leading" and "sample_linspace"
exercise the other prediction types and spacings.
"""
import math
import os

import torch
from safetensors.torch import save_file
import diffusers.schedulers.scheduling_dpm_cogvideox as dpm_module
from diffusers import CogVideoXDPMScheduler, WanTransformer3DModel

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "cogvideox_scheduler")
SAMPLE = (1, 3, 4, 2, 5)  # the scheduler math is elementwise: a small sample will do

# CogVideoX1.5-5B's scheduler/scheduler_config.json
V15 = dict(beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085, clip_sample=False,
           clip_sample_range=1.0, num_train_timesteps=1000, prediction_type="v_prediction",
           rescale_betas_zero_snr=True, sample_max_value=1.0, set_alpha_to_one=True, snr_shift_scale=1.0,
           steps_offset=0, timestep_spacing="trailing", trained_betas=None)


def run(name, config, steps, seed, tensors):
    sched = CogVideoXDPMScheduler(**config)
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    sched.save_config(folder)
    sched.set_timesteps(steps)
    g = torch.Generator().manual_seed(seed)
    sample = torch.randn(SAMPLE, generator=g)
    drawn = []
    original = dpm_module.randn_tensor

    def recording(*args, **kwargs):
        drawn.append(original(*args, **kwargs))
        return drawn[-1]

    dpm_module.randn_tensor = recording
    samples, outputs, noises, old = [sample], [], [], None
    timesteps = sched.timesteps
    for i, t in enumerate(timesteps):
        out = torch.randn(SAMPLE, generator=g)
        drawn.clear()
        sample, old = sched.step(out, old, t, timesteps[i - 1] if i > 0 else None, sample, generator=g,
                                 return_dict=False)
        outputs.append(out)
        noises.append(drawn[-1])
        samples.append(sample)
    dpm_module.randn_tensor = original
    tensors[name + ".timesteps"] = timesteps.float().contiguous()
    tensors[name + ".model_outputs"] = torch.cat(outputs).contiguous()
    tensors[name + ".noise"] = torch.cat(noises).contiguous()
    tensors[name + ".samples"] = torch.cat(samples).contiguous()


def guidance_scales(steps, guidance, timesteps):
    """The CogVideoX pipelines' scale at each step (their loop's use_dynamic_cfg formula, on t itself)."""
    return [1 + guidance * ((1 - math.cos(math.pi * ((steps - float(t)) / steps) ** 5.0)) / 2) for t in timesteps]


def main():
    tensors = {}
    run("v15", V15, 10, 1, tensors)
    run("v2b", dict(V15, snr_shift_scale=3.0), 7, 2, tensors)
    run("eps_leading", dict(V15, prediction_type="epsilon", timestep_spacing="leading", steps_offset=1,
                            rescale_betas_zero_snr=False, beta_schedule="linear", set_alpha_to_one=False), 6, 3,
        tensors)
    run("sample_linspace", dict(V15, prediction_type="sample", timestep_spacing="linspace"), 9, 4, tensors)
    save_file(tensors, os.path.join(OUT, "schedulers.safetensors"))
    sched = CogVideoXDPMScheduler(**V15)
    sched.set_timesteps(50)
    torch.manual_seed(9)
    WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=64, in_channels=32,
                          out_channels=16, text_dim=32, freq_dim=256, ffn_dim=64, num_layers=1, cross_attn_norm=True,
                          qk_norm="rms_norm_across_heads", eps=1e-6,
                          rope_max_seq_len=1024).to(torch.bfloat16).save_pretrained(os.path.join(OUT, "tiny_wan_i2v"))
    save_file({"timesteps": sched.timesteps.float().contiguous(),
               "dynamic_6": torch.tensor(guidance_scales(50, 6.0, sched.timesteps), dtype=torch.float32)},
              os.path.join(OUT, "cfg.safetensors"))


if __name__ == "__main__":
    main()
