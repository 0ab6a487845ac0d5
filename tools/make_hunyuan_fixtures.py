#!/usr/bin/env python3
"""Golden files for tests/test_hunyuan.c (and tests/gpu/test_hunyuan_cuda.c), written with diffusers on the CPU.

    python3 tools/make_hunyuan_fixtures.py        # writes tests/data/hunyuan/

Seeded, tiny and random (nothing is downloaded); under 1 MB in all:
  tiny_hd64/   a HunyuanVideoTransformer3DModel of 1 head of 64 (the smallest head the attention kernels
               take), rope axes 16/24/24, 1 dual-stream and 2 single-stream blocks, 1 refiner layer,
               mlp_ratio 1, guidance embedder; save_pretrained with bf16 weights, sharded (index + 3 files)
  forward_hd64.safetensors   batch 1, computed in f32 from the stored weights: latents [1,16,3,4,6],
               timesteps, guidance (x 1000), text [1,8,32] of which the first 5 tokens are valid
               (text_mask), pooled [1,16], the output, and the forward's intermediates (forward hooks)
               by the names vs_hunyuan_model_set_probe gives them:
                 temb [1,dim]                 timestep + guidance + pooled-text embedding
                 context [1,5,dim]            the valid text tokens after the token refiner
                 tokens [1,N,dim]             the patch embedding (N = 3*2*3 = 18)
                 dual.<i>, single.<i> [1,N+5,dim]  the residual stream after block i: the video tokens,
                                              then the valid text tokens
                 norm_out [1,N,dim]           the final modulated norm, before proj_out
  forward_b2.safetensors     batch 2 with 6 and 3 valid text tokens of 8, per-entry timesteps and
               guidance: the output only
"""
import os

import torch
from safetensors.torch import save_file
from diffusers import HunyuanVideoTransformer3DModel

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "hunyuan")
LATENT = (16, 3, 4, 6)  # channels, frames, height, width
TEXT_LEN, TEXT_DIM, POOLED_DIM = 8, 32, 16


def random_model(seed, device="cpu", **cfg):
    """A HunyuanVideoTransformer3DModel with every weight random (norms near 1, biases small) and rounded
    to bf16, computing in f32."""
    torch.manual_seed(seed)
    with torch.device(device):
        model = HunyuanVideoTransformer3DModel(**cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and p.ndim == 1:  # default init leaves norms at 1/0: make every weight matter
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
            elif p.ndim == 1:  # biases: diffusers' init zeroes some
                p.copy_(0.05 * torch.randn_like(p))
            p.copy_(p.to(torch.bfloat16).float())  # as stored
    return model.eval()


def record(model, found, valid):
    """Forward hooks storing the intermediates by name (text rows cut to the valid ones)."""
    n_video = {}

    def save(name, t):
        found[name] = t.detach().contiguous()

    def on_time(module, args, out):
        save("temb", out[0])

    def on_tokens(module, args, out):
        n_video["n"] = out.shape[1]
        save("tokens", out)

    def on_context(module, args, out):
        save("context", out[:, :valid])

    def on_block(name):
        def hook(module, args, out):
            video, text = out
            save(name, torch.cat([video, text[:, :valid]], dim=1))
        return hook

    def on_norm_out(module, args, out):
        save("norm_out", out)

    handles = [model.time_text_embed.register_forward_hook(on_time),
               model.x_embedder.register_forward_hook(on_tokens),
               model.context_embedder.register_forward_hook(on_context),
               model.norm_out.register_forward_hook(on_norm_out)]
    handles += [b.register_forward_hook(on_block(f"dual.{i}")) for i, b in enumerate(model.transformer_blocks)]
    handles += [b.register_forward_hook(on_block(f"single.{i}"))
                for i, b in enumerate(model.single_transformer_blocks)]
    return handles


def forward_fixture(model, path, seed, valid, timesteps, guidance, intermediates, latent=LATENT, text_len=TEXT_LEN):
    """Runs the model on seeded inputs (on its device) and saves inputs, output and, if asked, the
    intermediates; returns the inputs."""
    cfg = model.config
    g = torch.Generator().manual_seed(seed)
    batch = len(valid)
    latents = torch.randn((batch,) + latent, generator=g)
    text = torch.randn((batch, text_len, cfg.text_embed_dim), generator=g)
    mask = torch.zeros((batch, text_len), dtype=torch.int32)
    for b, v in enumerate(valid):
        mask[b, :v] = 1
    pooled = torch.randn((batch, cfg.pooled_projection_dim), generator=g)
    timesteps = torch.tensor(timesteps)
    tensors = {"latents": latents, "timesteps": timesteps, "text": text, "text_mask": mask, "pooled": pooled}
    kwargs = {}
    if guidance is not None:
        tensors["guidance"] = kwargs["guidance"] = torch.tensor(guidance)
    found = {}
    handles = record(model, found, valid[0]) if intermediates else []
    dev = next(model.parameters()).device
    on = {k: v.to(dev) for k, v in kwargs.items()}
    with torch.no_grad():
        out = model(latents.to(dev), timesteps.to(dev), text.to(dev), mask.to(dev), pooled.to(dev),
                    return_dict=False, **on)[0]
    for h in handles:
        h.remove()
    tensors["output"] = out.contiguous()
    save_file({k: v.detach().float().cpu().contiguous() if v.is_floating_point() else v.cpu().contiguous()
               for k, v in {**tensors, **found}.items()}, path)
    return tensors, found


def main():
    os.makedirs(OUT, exist_ok=True)
    model = random_model(1, in_channels=16, out_channels=16, patch_size=2, patch_size_t=1, text_embed_dim=TEXT_DIM,
                         pooled_projection_dim=POOLED_DIM, rope_theta=256.0, num_attention_heads=1, attention_head_dim=64, num_layers=1, num_single_layers=2,
                       num_refiner_layers=1, mlp_ratio=1.0, guidance_embeds=True, rope_axes_dim=(16, 24, 24))
    model.to(torch.bfloat16).save_pretrained(os.path.join(OUT, "tiny_hd64"), max_shard_size="300KB")
    model = model.float()
    forward_fixture(model, os.path.join(OUT, "forward_hd64.safetensors"), 11, [5], [937.5], [6000.0], True)
    forward_fixture(model, os.path.join(OUT, "forward_b2.safetensors"), 12, [6, 3], [999.0, 250.0], [6000.0, 3500.0],
                    False)


if __name__ == "__main__":
    main()
