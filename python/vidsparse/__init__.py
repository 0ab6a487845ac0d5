"""vidsparse from Python: text-to-video with vidsparse's C engine.

    import vidsparse
    pipe = vidsparse.Pipeline()                 # the embedded tiny model
    frames = pipe.generate("a red circle moving right", steps=8)
    vidsparse.save_video(frames, "out.mp4", fps=pipe.info["fps"])

Everything goes through the public C API (vidsparse.h) by the extension
module vidsparse._native. Long calls release the GIL; Ctrl-C stops a generate
between two denoising steps. vidsparse.diffusers runs diffusers' Wan
pipelines with SVG attention.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from . import _native

__all__ = ["Pipeline", "save_video", "Error", "Cancelled", "version", "cuda_device_count", "attention_methods"]

__version__ = _native.version()


class Error(RuntimeError):
    """A failure of the vidsparse library: the message is the library's (vs_last_error), `status` the
    vs_status name (for example "VS_ERR_NOT_FOUND")."""

    def __init__(self, message: str, status: str = "VS_ERR_INVALID_ARG"):
        super().__init__(message)
        self.status = status


class Cancelled(Error):
    """A generate stopped by Pipeline.cancel() or by a progress callback returning True."""


_native.set_error_types(Error, Cancelled)

_DEVICES = {"auto": 0, "cpu": 1, "cuda": 2}  # vs_pipeline_device

ProgressCallback = Callable[[int, int], Optional[bool]]


def version() -> str:
    """The C library's version."""
    return _native.version()


def cuda_device_count() -> int:
    """CUDA devices this build can use (0 when it was built without CUDA)."""
    return _native.cuda_device_count()


def attention_methods() -> list[str]:
    """The attention methods of the library's registry ("dense", "svg", ...)."""
    return _native.attention_methods()


def _default_model_dir() -> Optional[str]:
    """The embedded model installed with the package, unless $VS_MODEL_DIR names another; None lets the
    library look (the source tree's models/vidsparse-tiny)."""
    bundled = Path(__file__).parent / "models" / "vidsparse-tiny"
    if os.environ.get("VS_MODEL_DIR") or not bundled.is_dir():
        return None
    return str(bundled)


def _as_setting(value: Optional[float]) -> float:
    return -1.0 if value is None else float(value)  # negative: the model's default


class Pipeline:
    """A text-to-video model loaded once, then any number of videos (vs_pipeline).

    Args:
        model_dir: a model folder in diffusers' layout (for example Wan2.1-T2V-1.3B-Diffusers); None: the
            folder $VS_MODEL_DIR names, else the embedded tiny model.
        device: "auto" (CUDA when a GPU is usable), "cpu" or "cuda".
        attention: the self-attention method ("svg", "dense", see attention_methods()).
        density: SVG's kept fraction of the attention map, in (0, 1]; None: the model's (0.25 for Wan).
        dense_steps: fraction of the first denoising steps run dense; None: the model's (0.2 for Wan).
        dense_layers: fraction of the first layers run dense; None: the model's (0.03 for Wan).

    Raises:
        Error: the folder is no model, the device is unavailable, a setting is out of range.
    """

    def __init__(self, model_dir: Union[str, os.PathLike, None] = None, device: str = "auto", *,
                 attention: str = "svg", density: Optional[float] = None, dense_steps: Optional[float] = None,
                 dense_layers: Optional[float] = None):
        if device not in _DEVICES:
            raise ValueError(f"device must be one of {', '.join(_DEVICES)}, got {device!r}")
        folder = os.fspath(model_dir) if model_dir is not None else _default_model_dir()
        self._native = _native.Pipeline(folder, _DEVICES[device], attention, _as_setting(density),
                                        _as_setting(dense_steps), _as_setting(dense_layers))

    @property
    def info(self) -> dict:
        """What was loaded and the model's defaults: model_dir, device, frames, height, width, steps, fps,
        guidance, and attention (method, density, dense_steps, dense_layers as they resolved)."""
        return self._native.info()

    @property
    def stats(self) -> dict:
        """Where the last generate's time went (seconds: load_s, text_s, denoise_s, decode_s, dit_s,
        attention_s) and the heads SVG profiled as spatial / temporal."""
        return self._native.stats()

    def generate(self, prompt: str, *, negative_prompt: Optional[str] = None, width: int = 0, height: int = 0,
                 frames: int = 0, steps: int = 0, guidance: Optional[float] = None, seed: int = 0,
                 noise: Optional[np.ndarray] = None, progress: Union[bool, ProgressCallback] = True,
                 embedded_guidance: Optional[float] = None, image: Optional[str] = None) -> np.ndarray:
        """Generates a video from `prompt` (and, for an image-to-video model, its first frame).

        Args:
            prompt: what the video shows.
            negative_prompt: what it should not; None: the model's default.
            width, height, frames, steps: 0 takes the model's default (see `info`).
            guidance: classifier-free guidance scale; None: the model's; at most 1 runs without CFG
                (HunyuanVideo: its true CFG with the negative prompt, off by default).
            embedded_guidance: the guidance scale a DiT embeds (HunyuanVideo's guidance_scale); None: the
                model's (6); ignored by models without a guidance embedder (Wan).
            image: the first frame, a PNG or JPEG file, for an image-to-video model (CogVideoX 1.5 I2V;
                info["takes_image"]), resized to the video's size; None for text-to-video models.
            seed: seeds the initial noise.
            noise: the initial latents instead of seeded noise, float32 of latent_shape()'s shape.
            progress: True shows a tqdm bar over the denoising steps (when tqdm is installed), False none,
                or a callable(step, steps) called after each step that returns True to cancel.

        Returns:
            The frames, numpy uint8 [frames, height, width, 3] RGB.

        Raises:
            Error: a bad request (size, steps, guidance) or a failure of the engine.
            Cancelled: cancel() or the progress callable stopped it.
            KeyboardInterrupt: Ctrl-C, honoured after the running denoising step.
        """
        bar = None
        if progress is True:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                bar = tqdm(total=steps or self.info["steps"], unit="step", desc="denoising", leave=False)

                def callback(step: int, total: int) -> bool:
                    bar.total = total
                    bar.update(step - bar.n)
                    return False
            else:
                callback = None
        else:
            callback = progress or None
        try:
            latents = None if noise is None else np.ascontiguousarray(noise, dtype=np.float32)
            video = self._native.generate(prompt, negative_prompt, int(width), int(height), int(frames), int(steps),
                                          _as_setting(guidance), int(seed), callback, latents,
                                          0.0 if embedded_guidance is None else float(embedded_guidance),
                                          None if image is None else str(image))
        finally:
            if bar is not None:
                bar.close()
        return np.asarray(video)  # the C video, no copy: the array keeps it alive

    def latent_shape(self, *, width: int = 0, height: int = 0, frames: int = 0) -> tuple[int, int, int, int, int]:
        """The shape [1, C, F, H, W] of the initial latents (generate's `noise`) at this size (0: the model's).

        Raises:
            Error: a size the model cannot take.
        """
        return self._native.latent_shape("", None, int(width), int(height), int(frames))

    def cancel(self) -> None:
        """Stops the running generate before its next denoising step (callable from any thread); it then
        raises Cancelled. Does nothing when no generate runs."""
        self._native.cancel()

    def close(self) -> None:
        """Frees the model's weights and buffers now rather than when the object is collected."""
        self._native.close()

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def save_video(frames: np.ndarray, path: Union[str, os.PathLike], fps: int = 16) -> None:
    """Writes frames (uint8 [frames, height, width, 3] RGB, as Pipeline.generate returns) to `path` in the
    format its name asks for: .mp4 (H.264; builds with FFmpeg), .y4m, or PNG frames ("dir/" or
    "dir/frame_%04d.png"). Nothing half-written is left behind when it fails.

    Raises:
        ValueError: frames of another type or shape.
        Error: an unknown or unsupported format, fps outside 1..240, a failed write.
    """
    array = np.asarray(frames)
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[3] != 3 or 0 in array.shape:
        raise ValueError(f"frames must be uint8 [frames, height, width, 3], got {array.dtype} {list(array.shape)}")
    _native.save_video(np.ascontiguousarray(array), os.fspath(path), int(fps))
