"""vidsparse.diffusers on the CPU with a tiny random WanTransformer3DModel (f32): through vidsparse's dense
path the processor reproduces diffusers' own forward; SVG runs sparse; disable_svg restores diffusers'
processors; a pipeline's step callback drives the dense warm-up; with a GPU, the same in bf16 on CUDA on
PyTorch's current stream. Skipped where torch or diffusers is missing (CI's Debian has neither); the
real-size check against our C forward is tools/run_python_gpu.sh."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
from diffusers import WanTransformer3DModel  # noqa: E402

import vidsparse  # noqa: E402
from vidsparse.diffusers import SVGState, disable_svg, enable_svg  # noqa: E402


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=64, in_channels=4,
                                 out_channels=4, text_dim=32, freq_dim=32, ffn_dim=128, num_layers=3,
                                 cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6,
                                 rope_max_seq_len=64).eval()


@pytest.fixture(scope="module")
def inputs():
    g = torch.Generator().manual_seed(1)
    # 13 frames of 6 x 7 tokens: a sequence no tile size divides
    return torch.randn(1, 4, 13, 12, 14, generator=g), torch.tensor([500.0]), torch.randn(1, 7, 32, generator=g)


def rel_l2(a, b):
    return float((a - b).norm() / b.norm())


@torch.no_grad()
def test_dense_warmup_matches_diffusers(model, inputs):
    ref = model(*inputs, return_dict=False)[0]
    state = enable_svg(model, density=0.25, dense_steps=0.5)
    try:
        state.set_step(0, 10)  # inside the warm-up: every layer through vidsparse's dense attention
        assert rel_l2(model(*inputs, return_dict=False)[0], ref) < 1e-5
    finally:
        disable_svg(model)


@torch.no_grad()
def test_svg_runs_sparse_and_disable_restores(model, inputs):
    ref = model(*inputs, return_dict=False)[0]
    processors = [b.attn1.processor for b in model.blocks]
    state = enable_svg(model, density=0.25, dense_steps=0.0, dense_layers=0.0)
    out = model(*inputs, return_dict=False)[0]
    assert torch.isfinite(out).all()
    err = rel_l2(out, ref)
    assert 0 < err < 0.1, err  # sparse, so not equal, but close on random weights
    spatial, temporal = state.head_counts()
    assert spatial + temporal == 3 * 2  # layers x heads, batch 1
    assert state.kept_fraction() < 0.9
    disable_svg(model)
    assert [b.attn1.processor for b in model.blocks] == processors
    assert torch.equal(model(*inputs, return_dict=False)[0], ref)
    disable_svg(model)  # twice: nothing


def test_rotary_matches_diffusers():
    from vidsparse.diffusers import _apply_rotary, _rotary_freqs

    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 30, 3, 64, generator=g).bfloat16()
    angles = torch.randn(30, 32, generator=g).repeat_interleave(2, dim=1).reshape(1, 30, 1, 64)
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)  # diffusers' WanAttnProcessor, step by step
    ref = torch.empty_like(x)
    ref[..., 0::2] = x1 * cos[..., 0::2] - x2 * sin[..., 1::2]
    ref[..., 1::2] = x1 * sin[..., 1::2] + x2 * cos[..., 0::2]
    out = _apply_rotary(x, _rotary_freqs(cos, sin))
    assert out.dtype == torch.bfloat16
    assert (out.float() - ref.float()).abs().max() <= 2 ** -8 * ref.float().abs().max()  # at most a bf16 rounding


def test_bad_settings():
    with pytest.raises(ValueError, match="density"):
        SVGState(0.0, 0.2, 0.03)
    with pytest.raises(ValueError, match="dense_steps"):
        SVGState(0.25, 1.5, 0.03)
    with pytest.raises(TypeError, match="no Wan"):
        enable_svg(torch.nn.Linear(2, 2))


class FakePipeline:
    """The parts of diffusers' WanPipeline loop that enable_svg relies on: num_inference_steps, the transformer
    called per step, callback_on_step_end(pipe, i, t, kwargs) after each."""

    def __init__(self, transformer):
        self.transformer = transformer
        self.seen = []

    def __call__(self, inputs, num_inference_steps=50, callback_on_step_end=None,
                 callback_on_step_end_tensor_inputs=("latents",)):
        for i in range(num_inference_steps):
            self.transformer(*inputs, return_dict=False)
            self.seen.append(self._vidsparse_svg[0].step)
            if callback_on_step_end is not None:
                callback_on_step_end(self, i, 0, {"latents": None})
        return "done"


@torch.no_grad()
def test_pipeline_step_callback_drives_the_step(model, inputs):
    pipe = FakePipeline(model)
    user_steps = []
    state = enable_svg(pipe, dense_steps=0.5)
    assert pipe(inputs, num_inference_steps=3,
                callback_on_step_end=lambda p, i, t, kw: user_steps.append(i) or kw) == "done"
    assert pipe.seen == [0, 1, 2] and user_steps == [0, 1, 2] and state.num_steps == 3
    disable_svg(pipe)
    assert type(pipe) is FakePipeline


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available() or vidsparse.cuda_device_count() == 0,
                                reason="no CUDA device, or a vidsparse build without CUDA")


@needs_cuda
@torch.no_grad()
def test_cuda_bf16_dense_matches_and_svg_runs_on_the_current_stream():
    torch.manual_seed(0)
    model = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=128,
                                  in_channels=4, out_channels=4, text_dim=32, freq_dim=32, ffn_dim=128, num_layers=3,
                                  cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6,
                                  rope_max_seq_len=64).eval().to("cuda", torch.bfloat16)
    g = torch.Generator().manual_seed(1)
    inputs = (torch.randn(1, 4, 13, 12, 14, generator=g).to("cuda", torch.bfloat16), torch.tensor([500.0]).cuda(),
              torch.randn(1, 7, 32, generator=g).to("cuda", torch.bfloat16))
    ref = model(*inputs, return_dict=False)[0].float()
    state = enable_svg(model, density=0.25, dense_steps=0.5, dense_layers=0.0)
    state.set_step(0, 10)  # the warm-up: vidsparse's dense attention (cuDNN) against diffusers' SDPA, both bf16
    assert rel_l2(model(*inputs, return_dict=False)[0].float(), ref) < 2e-2
    state.set_step(5, 10)
    sparse = model(*inputs, return_dict=False)[0]
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):  # the kernels follow PyTorch's current stream
        on_stream = model(*inputs, return_dict=False)[0]
    stream.synchronize()
    assert torch.isfinite(sparse).all() and rel_l2(on_stream.float(), sparse.float()) < 1e-3
    assert rel_l2(sparse.float(), ref) < 0.1
    spatial, temporal = state.head_counts()
    assert spatial + temporal == 2 * 3 * 2  # two SVG forwards x layers x heads
    disable_svg(model)
