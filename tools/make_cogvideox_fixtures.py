#!/usr/bin/env python3
"""Golden files for tests/test_cogvideox.c (and tests/gpu/test_cogvideox_cuda.c), written with diffusers on the CPU.

    python3 tools/make_cogvideox_fixtures.py        # writes tests/data/cogvideox/

Seeded, tiny and random (nothing is downloaded):
  t2v/   a CogVideoXTransformer3DModel in the 1.5 layout (patch_size_t 2, rotary embeddings) of 1 head of 64
         (rope axes 16/24/24), 2 blocks, time_embed_dim 32, text_embed_dim 32; save_pretrained with bf16 weights
  i2v/   the same with 8 input channels (noise and image latents) and the ofs embedder (ofs_embed_dim 32)
  t2v_forward.safetensors   batch 1, computed in f32 from the stored weights: latents [1,4,4,6,8] in OUR layout
         [B, C, F, H, W] (diffusers takes [B, F, C, H, W]), timesteps, text [1,7,32], the output [B, C, F, H, W],
         and the forward's intermediates by the names vs_cogvideox_model_set_probe gives them, in its token
         order (video first, then text):
           temb [1,32]             the time embedding
           tokens [1,N+7,dim]      the patch and text embeddings (N = 2*3*4 = 24)
           block.<i> [1,N+7,dim]   the residual stream after block i
           norm_out [1,N,dim]      the final modulated norm, before proj_out
  i2v_forward.safetensors   batch 2 of the i2v model, per-entry timesteps and ofs: the output only
The rotary tables are the pipeline's (CogVideoXPipeline._prepare_rotary_positional_embeddings for 1.5).
"""
import os

import torch
from safetensors.torch import save_file
from diffusers import CogVideoXTransformer3DModel
from diffusers.models.embeddings import get_3d_rotary_pos_embed

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "cogvideox")
FRAMES, HEIGHT, WIDTH = 4, 6, 8  # latent frames, height, width
TEXT_LEN, TEXT_DIM = 7, 32


def random_model(seed, device="cpu", **cfg):
    """A CogVideoXTransformer3DModel (the tiny config here, cfg overriding it) with every weight random (norms
    near 1, biases small) and rounded to bf16, computing in f32."""
    torch.manual_seed(seed)
    config = dict(num_attention_heads=1, attention_head_dim=64, out_channels=4, time_embed_dim=32,
                  text_embed_dim=TEXT_DIM, num_layers=2, patch_size=2, patch_size_t=2, sample_height=60,
                  sample_width=60, sample_frames=81, max_text_seq_length=TEXT_LEN,
                  use_rotary_positional_embeddings=True)
    config.update(cfg)
    with torch.device(device):
        model = CogVideoXTransformer3DModel(**config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and p.ndim == 1:  # default init leaves norms at 1/0: make every weight matter
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn_like(p))
            elif p.ndim == 1:  # biases: diffusers' init zeroes some
                p.copy_(0.05 * torch.randn_like(p))
            p.copy_(p.to(torch.bfloat16).float())  # as stored
    return model.eval()


def rotary(model, frames, height, width, device="cpu"):
    """The pipeline's 3D RoPE for 1.5: grid_type "slice" over the patched grid."""
    cfg = model.config
    p, pt = cfg.patch_size, cfg.patch_size_t
    return get_3d_rotary_pos_embed(embed_dim=cfg.attention_head_dim, crops_coords=None,
                                   grid_size=(height // p, width // p), temporal_size=(frames + pt - 1) // pt,
                                   grid_type="slice", max_size=(cfg.sample_height // p, cfg.sample_width // p),
                                   device=device)


def video_first(text, video):
    return torch.cat([video, text], dim=1)


def record(model, found, text_len):
    def save(name, t):
        found[name] = t.detach().contiguous()

    def on_tokens(module, args, out):
        save("tokens", video_first(out[:, :text_len], out[:, text_len:]))

    def on_block(name):
        def hook(module, args, out):
            video, text = out
            save(name, video_first(text, video))
        return hook

    handles = [model.patch_embed.register_forward_hook(on_tokens),
               model.norm_out.register_forward_hook(lambda m, a, out: save("norm_out", out))]
    handles += [b.register_forward_hook(on_block(f"block.{i}")) for i, b in enumerate(model.transformer_blocks)]
    return handles


def forward(model, latents, timesteps, text, ofs=None, found=None):
    """latents in our [B, C, F, H, W]; returns the output in the same layout."""
    dev = next(model.parameters()).device
    _, _, frames, height, width = latents.shape
    rope = tuple(r.to(dev) for r in rotary(model, frames, height, width, dev))
    handles = record(model, found, text.shape[1]) if found is not None else []
    with torch.no_grad():
        if found is not None:
            t_emb = model.time_proj(timesteps.to(dev))
            emb = model.time_embedding(t_emb)
            if model.ofs_embedding is not None:
                emb = emb + model.ofs_embedding(model.ofs_proj(ofs.to(dev)))
            found["temb"] = emb.contiguous()
        out = model(latents.permute(0, 2, 1, 3, 4).to(dev), text.to(dev), timesteps.to(dev),
                    ofs=None if ofs is None else ofs.to(dev), image_rotary_emb=rope, return_dict=False)[0]
    for h in handles:
        h.remove()
    return out.permute(0, 2, 1, 3, 4).contiguous()


def save(path, tensors):
    save_file({k: v.detach().float().cpu().contiguous() for k, v in tensors.items()}, path)


def main():
    os.makedirs(OUT, exist_ok=True)
    t2v = random_model(1, in_channels=4)
    t2v.to(torch.bfloat16).save_pretrained(os.path.join(OUT, "t2v"))
    t2v = t2v.float()
    g = torch.Generator().manual_seed(11)
    latents = torch.randn((1, 4, FRAMES, HEIGHT, WIDTH), generator=g)
    text = torch.randn((1, TEXT_LEN, TEXT_DIM), generator=g)
    timesteps = torch.tensor([937.0])
    found = {}
    out = forward(t2v, latents, timesteps, text, found=found)
    save(os.path.join(OUT, "t2v_forward.safetensors"),
         {"latents": latents, "timesteps": timesteps, "text": text, "output": out, **found})

    i2v = random_model(2, in_channels=8, ofs_embed_dim=32)
    i2v.to(torch.bfloat16).save_pretrained(os.path.join(OUT, "i2v"))
    i2v = i2v.float()
    g = torch.Generator().manual_seed(12)
    latents = torch.randn((2, 8, FRAMES, HEIGHT, WIDTH), generator=g)
    text = torch.randn((2, TEXT_LEN, TEXT_DIM), generator=g)
    timesteps, ofs = torch.tensor([999.0, 250.0]), torch.tensor([2.0, 1.5])
    out = forward(i2v, latents, timesteps, text, ofs=ofs)
    save(os.path.join(OUT, "i2v_forward.safetensors"),
         {"latents": latents, "timesteps": timesteps, "ofs": ofs, "text": text, "output": out})


if __name__ == "__main__":
    main()
