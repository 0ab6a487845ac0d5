"""A plain-torch Wan 2.1 DiT forward, step for step as diffusers'
WanTransformer3DModel computes it, on a state dict with diffusers' weight
names. No diffusers import, so it runs where only torch is installed (the
accelerator machine). tools/check_wan_torch_ref.py checks it against diffusers.

Numerics follow diffusers with the pipeline's fp32 modules: the time embedder
runs in f32, modulation tables and LayerNorms in f32 (hidden states cast back
to the compute dtype after each), everything else in the weights' dtype.
"""
import math

import torch
import torch.nn.functional as F


def param_shapes(cfg):
    """name -> shape of every weight, diffusers layout."""
    dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    ffn, pt, ph, pw = cfg["ffn_dim"], *cfg["patch_size"]
    cin, cout = cfg["in_channels"], cfg["out_channels"]
    s = {
        "patch_embedding.weight": (dim, cin, pt, ph, pw), "patch_embedding.bias": (dim,),
        "condition_embedder.time_embedder.linear_1.weight": (dim, cfg["freq_dim"]),
        "condition_embedder.time_embedder.linear_1.bias": (dim,),
        "condition_embedder.time_embedder.linear_2.weight": (dim, dim),
        "condition_embedder.time_embedder.linear_2.bias": (dim,),
        "condition_embedder.time_proj.weight": (6 * dim, dim), "condition_embedder.time_proj.bias": (6 * dim,),
        "condition_embedder.text_embedder.linear_1.weight": (dim, cfg["text_dim"]),
        "condition_embedder.text_embedder.linear_1.bias": (dim,),
        "condition_embedder.text_embedder.linear_2.weight": (dim, dim),
        "condition_embedder.text_embedder.linear_2.bias": (dim,),
        "scale_shift_table": (1, 2, dim), "proj_out.weight": (cout * pt * ph * pw, dim),
        "proj_out.bias": (cout * pt * ph * pw,),
    }
    for i in range(cfg["num_layers"]):
        p = f"blocks.{i}."
        s[p + "scale_shift_table"] = (1, 6, dim)
        for a in ("attn1", "attn2"):
            for proj in ("to_q", "to_k", "to_v", "to_out.0"):
                s[f"{p}{a}.{proj}.weight"], s[f"{p}{a}.{proj}.bias"] = (dim, dim), (dim,)
            s[f"{p}{a}.norm_q.weight"] = s[f"{p}{a}.norm_k.weight"] = (dim,)
        if cfg.get("cross_attn_norm", True):
            s[p + "norm2.weight"] = s[p + "norm2.bias"] = (dim,)
        s[p + "ffn.net.0.proj.weight"], s[p + "ffn.net.0.proj.bias"] = (ffn, dim), (ffn,)
        s[p + "ffn.net.2.weight"], s[p + "ffn.net.2.bias"] = (dim, ffn), (dim,)
    return s


def random_state_dict(cfg, seed, device="cpu", dtype=torch.bfloat16):
    """Seeded random weights at torch's default scales: matrices and biases
    uniform in +-1/sqrt(fan_in), norm weights 1 + 0.1 N(0,1), tables N(0,1)/sqrt(dim)."""
    g = torch.Generator(device=device).manual_seed(seed)
    sd = {}
    shapes = param_shapes(cfg)
    fan_in = {}
    for name, shape in shapes.items():
        if name.endswith(".weight") and len(shape) >= 2:
            fan_in[name[: -len(".weight")]] = math.prod(shape[1:])
    for name, shape in shapes.items():
        if "norm" in name:
            t = (1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(shape, generator=g, device=device)
        elif name.endswith("scale_shift_table"):
            t = torch.randn(shape, generator=g, device=device) / math.sqrt(shape[-1])
        else:
            bound = 1.0 / math.sqrt(fan_in[name.rsplit(".", 1)[0]])
            t = (torch.rand(shape, generator=g, device=device) * 2 - 1) * bound
        sd[name] = t.to(dtype)
    return sd


def timestep_sinusoid(t, dim):
    """Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0): [cos, sin]."""
    half = dim // 2
    exponent = -math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    arg = t.float()[:, None] * torch.exp(exponent)[None]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


def rope_tables(head_dim, f, h, w, device):
    """cos, sin [f*h*w, head_dim/2]: pairs split t / h / w, angles in float64 as diffusers builds them."""
    hw = 2 * (head_dim // 6)
    td = head_dim - 2 * hw

    def angles(dim, n):
        freqs = 1.0 / (10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float64)[: dim // 2] / dim))
        return torch.outer(torch.arange(n, dtype=torch.float64), freqs)

    at, ah, aw = angles(td, f), angles(hw, h), angles(hw, w)
    ang = torch.cat([at[:, None, None].expand(f, h, w, -1), ah[None, :, None].expand(f, h, w, -1),
                     aw[None, None].expand(f, h, w, -1)], dim=-1).reshape(f * h * w, head_dim // 2)
    return torch.cos(ang).float().to(device), torch.sin(ang).float().to(device)


def apply_rope(x, cos, sin):
    """x [B, N, H, D]: rotate interleaved pairs (2j, 2j+1) in f32, back to x's dtype."""
    x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)
    c, s = cos[None, :, None], sin[None, :, None]
    return torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1).flatten(-2).type_as(x)


def wan_forward(sd, cfg, latents, timesteps, text):
    """Velocity [B, C, F, H, W] (f32) for latents [B, C, F, H, W], timesteps [B], text [B, L, text_dim]."""
    dt = sd["patch_embedding.weight"].dtype
    heads, eps = cfg["num_attention_heads"], cfg.get("eps", 1e-6)
    pt, ph, pw = cfg["patch_size"]

    def lin(x, name, f32=False):
        w, b = sd[name + ".weight"], sd[name + ".bias"]
        if f32:
            w, b = w.float(), b.float()
        return F.linear(x, w, b)

    def attention(xq, xkv, p, rope=None):
        q, k, v = lin(xq, p + "to_q"), lin(xkv, p + "to_k"), lin(xkv, p + "to_v")
        q = F.rms_norm(q, (q.shape[-1],), sd[p + "norm_q.weight"], eps)
        k = F.rms_norm(k, (k.shape[-1],), sd[p + "norm_k.weight"], eps)
        q, k, v = (t.unflatten(2, (heads, -1)) for t in (q, k, v))
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return lin(o.transpose(1, 2).flatten(2, 3).type_as(xq), p + "to_out.0")

    x = F.conv3d(latents.to(dt), sd["patch_embedding.weight"], sd["patch_embedding.bias"], stride=(pt, ph, pw))
    B, dim, f, h, w = x.shape
    x = x.flatten(2).transpose(1, 2).contiguous()
    rope = rope_tables(cfg["attention_head_dim"], f, h, w, x.device)

    sin_t = timestep_sinusoid(timesteps, cfg["freq_dim"])
    temb = lin(F.silu(lin(sin_t, "condition_embedder.time_embedder.linear_1", True)),
               "condition_embedder.time_embedder.linear_2", True).to(dt)
    tproj = lin(F.silu(temb), "condition_embedder.time_proj").unflatten(1, (6, -1))
    ctx = lin(F.gelu(lin(text.to(dt), "condition_embedder.text_embedder.linear_1"), approximate="tanh"),
              "condition_embedder.text_embedder.linear_2")

    for i in range(cfg["num_layers"]):
        p = f"blocks.{i}."
        shift, scale, gate, c_shift, c_scale, c_gate = (sd[p + "scale_shift_table"].float() + tproj.float()).chunk(6, 1)
        n = (F.layer_norm(x.float(), (dim,), eps=eps) * (1 + scale) + shift).type_as(x)
        x = (x.float() + attention(n, n, p + "attn1.", rope) * gate).type_as(x)
        if cfg.get("cross_attn_norm", True):
            n = F.layer_norm(x.float(), (dim,), sd[p + "norm2.weight"].float(), sd[p + "norm2.bias"].float(),
                             eps).type_as(x)
        else:
            n = x
        x = x + attention(n, ctx, p + "attn2.")
        n = (F.layer_norm(x.float(), (dim,), eps=eps) * (1 + c_scale) + c_shift).type_as(x)
        ff = lin(F.gelu(lin(n, p + "ffn.net.0.proj"), approximate="tanh"), p + "ffn.net.2")
        x = (x.float() + ff.float() * c_gate).type_as(x)

    shift, scale = (sd["scale_shift_table"].float() + temb.float()[:, None]).chunk(2, dim=1)
    x = (F.layer_norm(x.float(), (dim,), eps=eps) * (1 + scale) + shift).type_as(x)
    x = lin(x, "proj_out")
    x = x.reshape(B, f, h, w, pt, ph, pw, -1).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return x.flatten(6, 7).flatten(4, 5).flatten(2, 3).float()
