"""The vidsparse package on the embedded tiny model, on the CPU: generate, save_video, errors, cancel, Ctrl-C.
Run by tests/run.sh with PYTHONPATH=build/python (the module the main CMake build makes), or against an
installed package (`pip install ./python`)."""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import vidsparse

SMALL = dict(frames=5, height=16, width=16, steps=2, progress=False)


@pytest.fixture(scope="module")
def pipe():
    with vidsparse.Pipeline(device="cpu") as p:
        yield p


def test_version_and_methods():
    assert vidsparse.version() == vidsparse.__version__
    assert {"dense", "svg"} <= set(vidsparse.attention_methods())
    assert vidsparse.cuda_device_count() >= 0


def test_info_has_the_model_defaults(pipe):
    info = pipe.info
    assert info["device"] == "cpu" and os.path.isdir(info["model_dir"])
    assert info["frames"] > 0 and info["height"] > 0 and info["width"] > 0 and info["fps"] > 0
    assert info["attention"]["method"] == "svg" and 0 < info["attention"]["density"] <= 1


def test_generate_returns_uint8_frames_seeded(pipe):
    a = pipe.generate("a red circle moving right", seed=3, **SMALL)
    assert a.dtype == np.uint8 and a.shape == (5, 16, 16, 3)
    assert a.flags.c_contiguous and a.std() > 0
    b = pipe.generate("a red circle moving right", seed=3, **SMALL)
    np.testing.assert_array_equal(a, b)
    c = pipe.generate("a red circle moving right", seed=4, **SMALL)
    assert not np.array_equal(a, c)
    stats = pipe.stats
    assert stats["denoise_s"] > 0 and stats["heads_spatial"] + stats["heads_temporal"] > 0


def test_generate_from_given_noise(pipe):
    shape = pipe.latent_shape(width=16, height=16, frames=5)
    assert len(shape) == 5 and shape[0] == 1
    noise = np.random.default_rng(0).standard_normal(shape)  # float64: converted
    a = pipe.generate("x", seed=1, noise=noise, **SMALL)
    b = pipe.generate("x", seed=2, noise=noise.astype(np.float32), **SMALL)
    np.testing.assert_array_equal(a, b)  # the noise, not the seed
    with pytest.raises(vidsparse.Error, match="noise"):
        pipe.generate("x", noise=np.zeros((1, 2, 3, 4, 5), np.float32), **SMALL)
    with pytest.raises(ValueError, match="noise"):
        pipe.generate("x", noise=np.zeros((2, 3)), **SMALL)
    with pytest.raises(vidsparse.Error, match="width"):
        pipe.latent_shape(width=-1)


def test_generate_with_a_progress_bar(pipe):
    frames = pipe.generate("a blue square", **dict(SMALL, progress=True))  # tqdm when installed
    assert frames.shape[0] == 5


def test_save_video_y4m_png_mp4(pipe, tmp_path):
    frames = pipe.generate("a green ball", **SMALL)
    y4m = tmp_path / "out.y4m"
    vidsparse.save_video(frames, y4m, fps=8)
    header = y4m.read_bytes()[:64]
    assert header.startswith(b"YUV4MPEG2 W%d H%d F8:1" % (frames.shape[2], frames.shape[1]))
    try:
        vidsparse.save_video(frames, str(tmp_path / "frames") + "/", fps=8)
        assert len(list((tmp_path / "frames").glob("*.png"))) == 5
    except vidsparse.Error as e:  # a build without libpng
        assert e.status == "unsupported"
    try:
        vidsparse.save_video(frames, tmp_path / "out.mp4", fps=8)
        assert (tmp_path / "out.mp4").stat().st_size > 0
    except vidsparse.Error as e:  # a build without FFmpeg
        assert e.status == "unsupported"


def test_save_video_rejects_bad_frames_and_paths(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        vidsparse.save_video(np.zeros((2, 8, 8, 3), np.float32), tmp_path / "a.y4m")
    with pytest.raises(ValueError, match="uint8"):
        vidsparse.save_video(np.zeros((2, 8, 8), np.uint8), tmp_path / "a.y4m")
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(vidsparse.Error):
        vidsparse.save_video(frames, tmp_path / "a.unknown")
    with pytest.raises(vidsparse.Error, match="frame rate"):
        vidsparse.save_video(frames, tmp_path / "a.y4m", fps=0 - 1)
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    vidsparse.save_video(frames[:, ::2, ::2], tmp_path / "strided.y4m")  # a strided view is copied, not refused


def test_bad_model_dir_raises_with_the_library_message(tmp_path):
    with pytest.raises(vidsparse.Error, match="nonexistent") as e:
        vidsparse.Pipeline(tmp_path / "nonexistent", device="cpu")
    assert e.value.status == "not found"
    with pytest.raises(ValueError, match="device"):
        vidsparse.Pipeline(device="tpu")
    with pytest.raises(vidsparse.Error, match="density"):
        vidsparse.Pipeline(device="cpu", density=2.0)
    with pytest.raises(vidsparse.Error, match="attention method"):
        vidsparse.Pipeline(device="cpu", attention="nope")


def test_bad_request_raises(pipe):
    with pytest.raises(vidsparse.Error, match="width") as e:
        pipe.generate("x", **dict(SMALL, width=-8))
    assert e.value.status == "invalid argument"
    with pytest.raises(vidsparse.Error, match="guidance"):
        pipe.generate("x", guidance=1000.0, **SMALL)
    with pytest.raises(vidsparse.Error, match="embedded guidance"):
        pipe.generate("x", embedded_guidance=1000.0, **SMALL)
    with pytest.raises(TypeError):
        pipe.generate(None)


def test_progress_callback_cancels(pipe):
    seen = []

    def progress(step, steps):
        seen.append((step, steps))
        return step == 1

    with pytest.raises(vidsparse.Cancelled, match="cancel"):
        pipe.generate("x", **dict(SMALL, steps=4, progress=progress))
    assert seen == [(1, 4)]
    assert pipe.generate("x", **SMALL).shape[0] == 5  # usable afterwards


def test_callback_exception_propagates(pipe):
    def progress(step, steps):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        pipe.generate("x", **dict(SMALL, steps=3, progress=progress))


def test_cancel_from_another_thread_and_gil_released(pipe):
    started = threading.Event()
    ticks = []

    def progress(step, steps):
        started.set()

    def other():
        started.wait(30)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.05:  # runs while generate works: the GIL is free
            ticks.append(1)
        pipe.cancel()

    thread = threading.Thread(target=other)
    thread.start()
    with pytest.raises(vidsparse.Cancelled):
        pipe.generate("x", **dict(SMALL, steps=1000, progress=progress))
    thread.join()
    assert len(ticks) > 100


# Ctrl-C as a terminal delivers it. The child restores Python's KeyboardInterrupt handler first: a parent that
# ignores SIGINT (a shell's background job, with no job control) passes the ignoring on, and Python then
# installs no handler.
CTRL_C = """
import signal, sys, vidsparse
signal.signal(signal.SIGINT, signal.default_int_handler)
p = vidsparse.Pipeline(device="cpu")
def progress(step, steps):
    print("step", step, flush=True)
try:
    p.generate("x", frames=5, height=16, width=16, steps=5000, progress=progress)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


def test_ctrl_c_stops_generate():
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=os.environ.copy())
    assert proc.stdout.readline().startswith("step")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "interrupted" in out


def test_image_to_video_takes_its_first_frame():
    """The tiny CogVideoX 1.5 I2V folder: a first frame makes a video; none, or a text-only model given one, is
    an error naming the problem."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
    folder, image = os.path.join(root, "cogvideox_pipeline"), os.path.join(root, "image", "rgb.jpg")
    size = dict(frames=9, height=32, width=48, steps=1, progress=False)
    with vidsparse.Pipeline(os.path.join(folder, "i2v"), device="cpu") as p:
        assert p.info["takes_image"]
        assert p.generate("a cat", image=image, **size).shape == (9, 32, 48, 3)
        with pytest.raises(vidsparse.Error, match="give the first frame"):
            p.generate("a cat", **size)
    with vidsparse.Pipeline(os.path.join(folder, "t2v"), device="cpu") as p:
        assert not p.info["takes_image"]
        with pytest.raises(vidsparse.Error, match="takes no image"):
            p.generate("a cat", image=image, **size)
