#!/usr/bin/env python3
"""Golden files for tests/test_wan.c, written with diffusers on the CPU.

    python3 tools/make_wan_fixtures.py        # writes tests/data/wan/

Everything is seeded, tiny and random (nothing is downloaded):
  tiny_hd64/        WanTransformer3DModel, 2 layers, dim 128 = 2 heads x 64, diffusers layout,
                    bf16, sharded (index + 2 shards)
  tiny_hd128_orig/  1 layer, dim 128 = 1 head of 128 (one layer keeps tests/data/wan at about 2 MB),
                    original Wan release layout (WanModel key names, its config.json keys), f16
  forward_hd64.safetensors, forward_hd128.safetensors
                    a batch of 2 latents [2,16,3,4,6], per-entry timesteps, text [2,8,32] and the
                    model's output, computed in f32 from the stored (rounded) weights, plus the
                    forward's intermediates (read off diffusers' modules by forward hooks), by the
                    names vs_wan_model_set_probe reports them under:
                      temb [B,dim], timestep_proj [B,6,dim]     the time embedding and its projection
                      context [B,L,dim]                          the text after the text embedder
                      tokens [B,N,dim]                           the patch embedding
                      block.<i>.after_self_attn, .after_cross_attn, .after_ffn [B,N,dim]
                                                                 the residual stream in block i
                      head [B,N,out*patch volume]                the output layer, before unpatchify
  scheduler_*/scheduler_config.json + schedulers.safetensors
                    flow UniPC (Wan's config, and an order-3 bh1 variant) and flow Euler run on
                    fixed random "model outputs", every intermediate sample kept
  denoise.safetensors
                    a 3-step CFG denoise (UniPC, guidance 5) with tiny_hd64, as the Wan pipeline
                    runs it (cond and uncond calls, noise = uncond + g * (cond - uncond))
  embeds.safetensors
                    its prompts as prompt_embeds / negative_prompt_embeds, for the CLI smoke test
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler, WanTransformer3DModel

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "wan")
LATENT = (16, 3, 4, 6)  # channels, frames, height, width
TEXT_LEN, TEXT_DIM = 8, 32
SCHED_SAMPLE = (1, 4, 2, 4, 4)  # the scheduler math is elementwise: a small sample will do


def tiny_model(heads, head_dim, layers, seed):
    torch.manual_seed(seed)
    model = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=heads, attention_head_dim=head_dim, in_channels=16,
        out_channels=16, text_dim=TEXT_DIM, freq_dim=256, ffn_dim=64, num_layers=layers, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
    # Default init leaves norms at 1/0; perturb them so every weight matters.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
    return model.eval()


def rounded(model, dtype):
    """The model with weights rounded to `dtype` (as stored), computing in f32."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).float())
    return model


def record_intermediates(model, found):
    """Hooks that store the forward's intermediates in `found` by name; returns their handles.

    The residual stream after self-attention is what the block's norm2 reads, after
    cross-attention what its norm3 reads, after the FFN the block's output."""
    def output(name, reshape=lambda t: t):
        return lambda module, args, out: found.__setitem__(name, reshape(out).contiguous())

    def norm_input(name):
        return lambda module, args: found.__setitem__(name, args[0].contiguous())

    def conditions(module, args, out):
        temb, timestep_proj, context = out[0], out[1], out[2]
        found["temb"] = temb.contiguous()
        found["timestep_proj"] = timestep_proj.unflatten(1, (6, -1)).contiguous()
        found["context"] = context.contiguous()

    handles = [model.patch_embedding.register_forward_hook(output("tokens", lambda t: t.flatten(2).transpose(1, 2))),
               model.condition_embedder.register_forward_hook(conditions),
               model.proj_out.register_forward_hook(output("head"))]
    for i, block in enumerate(model.blocks):
        handles += [block.norm2.register_forward_pre_hook(norm_input(f"block.{i}.after_self_attn")),
                    block.norm3.register_forward_pre_hook(norm_input(f"block.{i}.after_cross_attn")),
                    block.register_forward_hook(output(f"block.{i}.after_ffn"))]
    return handles


def forward_fixture(model, path, seed):
    g = torch.Generator().manual_seed(seed)
    latents = torch.randn((2,) + LATENT, generator=g)
    timesteps = torch.tensor([999.0, 412.5])
    text = torch.randn((2, TEXT_LEN, TEXT_DIM), generator=g)
    found = {}
    handles = record_intermediates(model, found)
    with torch.no_grad():
        out = model(latents, timesteps, text, return_dict=False)[0]
    for h in handles:
        h.remove()
    save_file({"latents": latents, "timesteps": timesteps, "text": text, "output": out.contiguous(), **found}, path)


# diffusers -> original Wan names: the inverse of diffusers' convert_wan_transformer_to_diffusers.
ORIGINAL_NAMES = [
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("attn1", "self_attn"), ("attn2", "cross_attn"),
    (".to_out.0.", ".o."), (".to_q.", ".q."), (".to_k.", ".k."), (".to_v.", ".v."),
    ("ffn.net.0.proj", "ffn.0"), ("ffn.net.2", "ffn.2"), ("proj_out", "head.head"),
    ("norm2", "norm__swap"), ("norm3", "norm2"), ("norm__swap", "norm3"),
]


def original_name(name):
    if name == "scale_shift_table":
        return "head.modulation"
    name = name.replace("scale_shift_table", "modulation")
    for a, b in ORIGINAL_NAMES:
        name = name.replace(a, b)
    return name


def save_original_layout(model, folder, dtype):
    os.makedirs(folder, exist_ok=True)
    cfg = model.config
    tensors = {original_name(k): v.to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, os.path.join(folder, "diffusion_pytorch_model.safetensors"))
    heads = cfg.num_attention_heads
    config = {"_class_name": "WanModel", "_diffusers_version": "0.30.0", "model_type": "t2v",
              "dim": heads * cfg.attention_head_dim, "eps": cfg.eps, "ffn_dim": cfg.ffn_dim,
              "freq_dim": cfg.freq_dim, "in_dim": cfg.in_channels, "num_heads": heads,
              "num_layers": cfg.num_layers, "out_dim": cfg.out_channels, "text_dim": cfg.text_dim,
              "text_len": 512}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def scheduler_run(scheduler, steps, name, tensors, seed):
    """Steps the scheduler on fixed random model outputs, recording everything."""
    scheduler.set_timesteps(steps)
    scheduler.set_begin_index(0)
    g = torch.Generator().manual_seed(seed)
    sample = torch.randn(SCHED_SAMPLE, generator=g)
    samples, outputs = [sample], []
    for t in scheduler.timesteps:
        out = torch.randn(SCHED_SAMPLE, generator=g)
        sample = scheduler.step(out, t, sample, return_dict=False)[0]
        outputs.append(out)
        samples.append(sample)
    tensors[name + ".timesteps"] = scheduler.timesteps.float().contiguous()
    tensors[name + ".sigmas"] = scheduler.sigmas.float().contiguous()
    tensors[name + ".model_outputs"] = torch.cat(outputs).contiguous()
    tensors[name + ".samples"] = torch.cat(samples).contiguous()


def wan_unipc(**overrides):
    # The scheduler_config.json of the Wan 2.1 diffusers checkpoints.
    cfg = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
               solver_order=2, prediction_type="flow_prediction", thresholding=False, predict_x0=True,
               solver_type="bh2", lower_order_final=True, disable_corrector=[], use_flow_sigmas=True,
               flow_shift=3.0, timestep_spacing="linspace", steps_offset=0, final_sigmas_type="zero")
    cfg.update(overrides)
    return UniPCMultistepScheduler(**cfg)


def schedulers():
    tensors = {}
    runs = [("unipc", wan_unipc(), 8),
            ("unipc_o3", wan_unipc(solver_order=3, solver_type="bh1", flow_shift=5.0,
                                   final_sigmas_type="sigma_min", disable_corrector=[2]), 7),
            ("euler", FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=5.0), 6)]
    for i, (name, sched, steps) in enumerate(runs):
        folder = os.path.join(OUT, "scheduler_" + name)
        os.makedirs(folder, exist_ok=True)
        sched.save_config(folder)
        scheduler_run(sched, steps, name, tensors, 100 + i)
    save_file(tensors, os.path.join(OUT, "schedulers.safetensors"))


def denoise(model, steps=3, guidance=5.0):
    g = torch.Generator().manual_seed(7)
    noise = torch.randn((1,) + LATENT, generator=g)
    cond = torch.randn((1, TEXT_LEN, TEXT_DIM), generator=g)
    uncond = torch.randn((1, TEXT_LEN, TEXT_DIM), generator=g)
    sched = UniPCMultistepScheduler.from_pretrained(os.path.join(OUT, "scheduler_unipc"))
    sched.set_timesteps(steps)
    sched.set_begin_index(0)
    latents = noise.clone()
    with torch.no_grad():
        for t in sched.timesteps:
            timestep = t.expand(1)
            c = model(latents, timestep, cond, return_dict=False)[0]
            u = model(latents, timestep, uncond, return_dict=False)[0]
            latents = sched.step(u + guidance * (c - u), t, latents, return_dict=False)[0]
    save_file({"noise": noise, "cond": cond, "uncond": uncond, "latents": latents.contiguous()},
              os.path.join(OUT, "denoise.safetensors"),
              metadata={"steps": str(steps), "guidance": str(guidance), "scheduler": "scheduler_unipc"})
    # The same prompts as `vidsparse encode` writes them, for the CLI smoke test.
    save_file({"prompt_embeds": cond, "negative_prompt_embeds": uncond}, os.path.join(OUT, "embeds.safetensors"))


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    torch.set_grad_enabled(False)

    a = rounded(tiny_model(heads=2, head_dim=64, layers=2, seed=1), torch.bfloat16)
    a.to(torch.bfloat16).save_pretrained(os.path.join(OUT, "tiny_hd64"), max_shard_size="400KB")
    a = rounded(tiny_model(heads=2, head_dim=64, layers=2, seed=1), torch.bfloat16).float()
    forward_fixture(a, os.path.join(OUT, "forward_hd64.safetensors"), seed=11)

    b = rounded(tiny_model(heads=1, head_dim=128, layers=1, seed=2), torch.float16)
    save_original_layout(b, os.path.join(OUT, "tiny_hd128_orig"), torch.float16)
    forward_fixture(b, os.path.join(OUT, "forward_hd128.safetensors"), seed=12)

    schedulers()
    denoise(a)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
