"""Sparse VideoGen attention inside diffusers.

    import torch
    from diffusers import WanPipeline
    from vidsparse.diffusers import enable_svg, disable_svg

    pipe = WanPipeline.from_pretrained("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", torch_dtype=torch.bfloat16).to("cuda")
    enable_svg(pipe, density=0.25)            # every self-attention through vidsparse's SVG kernels
    video = pipe("a cat walks on the grass", num_frames=81).frames[0]
    disable_svg(pipe)                         # diffusers' own attention again

enable_svg installs an attention processor on each transformer block's self-attention (attn1). It does
exactly what diffusers' WanAttnProcessor does (the same projections, RMS norms over all heads, RoPE on
[B, N, H, D]) up to the attention itself, which runs through vidsparse's public attention API
(vs_attention_run_layer) on the pipeline's own CUDA tensors: their device pointers, shapes and strides, on
PyTorch's current stream, no copies. The layer is the block's index; the denoising step comes from the
pipeline's step callback (callback_on_step_end, chained before any the caller passes), so the dense warm-up
(the first dense_steps of the steps and dense_layers of the layers run dense) follows vidsparse's own
forward. Cross-attention stays diffusers'.
"""
from __future__ import annotations

import contextlib
import inspect
from typing import Any, Optional

import torch

from . import _native

__all__ = ["enable_svg", "disable_svg", "SVGState"]


class SVGState:
    """What one pipeline's SVG processors share: the settings, where the denoising loop is (`step` of
    `num_steps`, set by the pipeline's step callback or by hand around a bare transformer's forward), the
    latent grid of the current forward, and one vidsparse attention per attention shape."""

    def __init__(self, density: float, dense_steps: float, dense_layers: float, method: str = "svg"):
        for name, value in (("density", density), ("dense_steps", dense_steps), ("dense_layers", dense_layers)):
            low = 0 < value if name == "density" else 0 <= value
            if not (low and value <= 1):
                interval = "(0, 1]" if name == "density" else "[0, 1]"
                raise ValueError(f"{name} must be a fraction in {interval}, got {value}")
        self.method, self.density, self.dense_steps, self.dense_layers = method, density, dense_steps, dense_layers
        self.step, self.num_steps = 0, 1
        self.grid: Optional[tuple[int, int, int]] = None  # (frames, height, width) in tokens, of the running forward
        self._attention: dict[tuple, _native.Attention] = {}
        self._num_layers = 0
        self._rotary: Optional[tuple[torch.Tensor, torch.Tensor]] = None  # (diffusers' cos, the complex factors)

    def rotary(self, rotary_emb: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """The complex RoPE factors of this forward's (cos, sin), made by the first layer for all."""
        if self._rotary is None or self._rotary[0] is not rotary_emb[0]:
            self._rotary = (rotary_emb[0], _rotary_freqs(*rotary_emb))
        return self._rotary[1]

    def set_step(self, step: int, num_steps: int) -> None:
        """Where the next forwards sit in the denoising loop (0-based `step` of `num_steps`)."""
        if num_steps < 1 or not 0 <= step < num_steps:
            raise ValueError(f"step {step} of {num_steps}")
        self.step, self.num_steps = step, num_steps

    def head_counts(self) -> tuple[int, int]:
        """(spatial, temporal): the (batch entry, head) pairs SVG profiled since the last call, summed over
        layers and forwards (waits for the queued GPU work)."""
        counts = [attention.take_head_counts() for attention in self._attention.values()]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def kept_fraction(self) -> float:
        """The fraction of the attention map a sparse call computes (1 before any call)."""
        return min((a.density() for a in self._attention.values()), default=1.0)

    def attend(self, layer: int, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """Self-attention of `layer` on [B, N, H, D] tensors (D contiguous, heads D apart) through vidsparse."""
        batch, tokens, heads, head_dim = query.shape
        if self.grid is None or self.grid[0] * self.grid[1] * self.grid[2] != tokens:
            raise RuntimeError(f"vidsparse SVG: {tokens} tokens, but the transformer's grid is {self.grid}")
        cuda = query.is_cuda
        if not cuda and query.dtype != torch.float32:
            raise TypeError(f"vidsparse SVG on the CPU takes float32 tensors, got {query.dtype}")
        query, key, value = (_rows(t) for t in (query, key, value))
        shape = (batch, tokens, heads, head_dim, query.dtype, query.device, self.grid)
        attention = self._attention.get(shape)
        with torch.cuda.device(query.device) if cuda else contextlib.nullcontext():
            if attention is None:
                frames, height, width = self.grid
                attention = _native.Attention(cuda, batch, heads, tokens, head_dim, self._num_layers, self.method,
                                              self.density, self.dense_steps, self.dense_layers, frames,
                                              height * width, 0)
                self._attention[shape] = attention
            out = torch.empty(query.shape, dtype=query.dtype, device=query.device)
            stream = torch.cuda.current_stream(query.device).cuda_stream if cuda else 0
            step = min(self.step, self.num_steps - 1)
            attention.run(layer, step, self.num_steps, _describe(query), _describe(key), _describe(value),
                          _describe(out), stream)
        return out


def _rows(t: torch.Tensor) -> torch.Tensor:
    """t itself when vidsparse can read it in place (D contiguous, heads D apart), else a contiguous copy."""
    return t if t.stride(3) == 1 and t.stride(2) == t.shape[3] else t.contiguous()


def _describe(t: torch.Tensor) -> tuple:
    """(device pointer, dtype, shape, strides in elements): what vidsparse._native.Attention.run reads."""
    return t.data_ptr(), str(t.dtype).removeprefix("torch."), tuple(t.shape), tuple(t.stride())


def _apply_rotary(x: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """Wan's RoPE on interleaved pairs (x[2i], x[2i+1]) of [B, N, H, D], as diffusers' WanAttnProcessor:
    (x[2i] + i x[2i+1]) (cos + i sin) in f32, rounded to x's dtype; as one complex product (three passes over
    x rather than diffusers' eight)."""
    pairs = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)))
    return torch.view_as_real(pairs * freqs).flatten(-2).type_as(x)


def _rotary_freqs(cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """diffusers' (cos, sin) [1, N, 1, D], each value repeated for the two members of a pair, as complex
    [1, N, 1, D/2]."""
    return torch.complex(cos[..., 0::2].float(), sin[..., 1::2].float())


class SVGAttnProcessor:
    """diffusers' WanAttnProcessor for self-attention with the attention itself through vidsparse; any other
    call (cross-attention, a mask) goes to the processor it replaced."""

    def __init__(self, state: SVGState, layer: int, original: Any):
        self.state, self.layer, self.original = state, layer, original

    def __call__(self, attn, hidden_states: torch.Tensor, encoder_hidden_states: Optional[torch.Tensor] = None,
                 attention_mask: Optional[torch.Tensor] = None, rotary_emb=None) -> torch.Tensor:
        if encoder_hidden_states is not None or attention_mask is not None:
            return self.original(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)
        from diffusers.models.transformers.transformer_wan import _get_qkv_projections

        query, key, value = _get_qkv_projections(attn, hidden_states, None)
        query, key = attn.norm_q(query), attn.norm_k(key)  # RMS norm over all heads, before the split
        query, key, value = (t.unflatten(2, (attn.heads, -1)) for t in (query, key, value))
        if rotary_emb is not None:
            freqs = self.state.rotary(rotary_emb)
            query, key = _apply_rotary(query, freqs), _apply_rotary(key, freqs)
        hidden_states = self.state.attend(self.layer, query, key, value).flatten(2, 3).type_as(query)
        hidden_states = attn.to_out[0](hidden_states)
        return attn.to_out[1](hidden_states)


def _transformers(pipe) -> list:
    """The Wan transformers of a pipeline (transformer, and transformer_2 of Wan 2.2), or a bare transformer."""
    if hasattr(pipe, "blocks") and hasattr(pipe, "rope"):
        return [pipe]
    models = [getattr(pipe, name, None) for name in ("transformer", "transformer_2")]
    models = [m for m in models if m is not None]
    if not models or not all(hasattr(m, "blocks") and hasattr(m, "rope") for m in models):
        raise TypeError(f"vidsparse SVG: {type(pipe).__name__} is no Wan pipeline or WanTransformer3DModel")
    return models


def _wrap_call(pipe, state: SVGState) -> None:
    """Makes the pipeline's __call__ set state.num_steps and chain a step callback that advances state.step."""
    cls = type(pipe)
    signature = inspect.signature(cls.__call__)

    def __call__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        steps = bound.arguments.get("num_inference_steps") or 1
        user = bound.arguments.get("callback_on_step_end")
        if user is not None and hasattr(user, "tensor_inputs"):  # a PipelineCallback: keep what it reads
            bound.arguments["callback_on_step_end_tensor_inputs"] = user.tensor_inputs

        def on_step_end(pipeline, i, t, callback_kwargs):
            state.step = i + 1
            return user(pipeline, i, t, callback_kwargs) if user is not None else {}

        bound.arguments["callback_on_step_end"] = on_step_end
        state.set_step(0, steps)
        return cls.__call__(*bound.args, **bound.kwargs)

    pipe.__class__ = type(cls.__name__, (cls,), {"__call__": __call__, "_vidsparse_base_class": cls})


def enable_svg(pipe, density: float = 0.25, dense_steps: float = 0.2, dense_layers: float = 0.03) -> SVGState:
    """Runs the self-attention of a diffusers Wan pipeline (WanPipeline; or a bare WanTransformer3DModel)
    through vidsparse's Sparse VideoGen kernels.

    Args:
        pipe: the pipeline (its `transformer`, and `transformer_2` when it has one) or a transformer.
        density: the kept fraction of the attention map, in (0, 1].
        dense_steps: fraction of the first denoising steps that run dense attention.
        dense_layers: fraction of the first layers (blocks) that run dense attention.

    Returns:
        The SVGState the processors share. A pipeline advances its step by itself; around a bare
        transformer's forward call state.set_step(step, num_steps).

    Raises:
        TypeError: `pipe` is no Wan pipeline or transformer.
        ValueError: a setting out of range.
    """
    if getattr(pipe, "_vidsparse_svg", None) is not None:
        disable_svg(pipe)
    state = SVGState(float(density), float(dense_steps), float(dense_layers))
    installed = []
    for model in _transformers(pipe):
        state._num_layers = max(state._num_layers, len(model.blocks))

        def record_grid(module, args, kwargs):
            latents = args[0] if args else kwargs["hidden_states"]
            p_t, p_h, p_w = module.config.patch_size
            state.grid = (latents.shape[2] // p_t, latents.shape[3] // p_h, latents.shape[4] // p_w)

        hook = model.register_forward_pre_hook(record_grid, with_kwargs=True)
        originals = []
        for layer, block in enumerate(model.blocks):
            originals.append(block.attn1.processor)
            block.attn1.set_processor(SVGAttnProcessor(state, layer, block.attn1.processor))
        installed.append((model, hook, originals))
    if not (hasattr(pipe, "blocks") and hasattr(pipe, "rope")):
        _wrap_call(pipe, state)
    pipe._vidsparse_svg = (state, installed)
    return state


def disable_svg(pipe) -> None:
    """Puts back the attention processors enable_svg replaced (nothing when SVG is not enabled)."""
    enabled = getattr(pipe, "_vidsparse_svg", None)
    if enabled is None:
        return
    _, installed = enabled
    for model, hook, originals in installed:
        hook.remove()
        for block, original in zip(model.blocks, originals):
            block.attn1.set_processor(original)
    base = getattr(type(pipe), "_vidsparse_base_class", None)
    if base is not None:
        pipe.__class__ = base
    pipe._vidsparse_svg = None
