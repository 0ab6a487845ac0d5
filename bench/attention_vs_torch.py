#!/usr/bin/env python3
"""Side-by-side attention timing on one GPU, in one process, same inputs:
PyTorch SDPA (flash and cuDNN backends), FlexAttention with the identical
SVG block mask, and vidsparse's dense kernel, its cuDNN fused-attention
path (vs_cudnn_attention, the default dense backend), the sparse and
sparse+layout kernels and the band path (the band rows of the block list as
cuDNN's strided windows, the other rows through its paged attention:
vs_cuda_band_attention, the default sparse backend), all called through
libvidsparse_bench.so in this process (so on PyTorch's cuDNN). Writes a JSON table
to bench/results/.

    python3 bench/attention_vs_torch.py --lib build-gpu/libvidsparse_bench.so \
        --shapes wan1.3b-480p,wan14b-720p --density 0.15 --out bench/results/attention.json
"""
import argparse
import ctypes
import datetime
import json
import math
import os
import statistics
import subprocess

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

SHAPES = {  # name: (frames, tokens per frame, text tokens, heads, head_dim)
    "wan1.3b-480p": (21, 1560, 0, 12, 128),
    "wan14b-720p": (21, 3600, 0, 40, 128),
    "hunyuan-720p": (33, 3600, 256, 24, 128),
}
BLOCK = 128
VS_BF16 = 2


class Blocks(ctypes.Structure):
    _fields_ = [("num_q_blocks", ctypes.c_int), ("num_k_blocks", ctypes.c_int),
                ("row_ptr", ctypes.c_void_p), ("col_idx", ctypes.c_void_p)]


class AttnArgs(ctypes.Structure):  # mirrors vs_attn_args in src/backend/attention_args.h
    _fields_ = [("dtype", ctypes.c_int), ("q", ctypes.c_void_p), ("k", ctypes.c_void_p),
                ("v", ctypes.c_void_p), ("out", ctypes.c_void_p), ("batch", ctypes.c_int),
                ("heads", ctypes.c_int), ("seq_len", ctypes.c_int), ("head_dim", ctypes.c_int),
                ("kv_len", ctypes.c_int)] + \
               [(n, ctypes.c_int64) for n in ("q_stride_b", "q_stride_n", "k_stride_b", "k_stride_n",
                                                "v_stride_b", "v_stride_n", "o_stride_b", "o_stride_n")] + \
               [("scale", ctypes.c_float), ("blocks", ctypes.POINTER(Blocks)),
                ("head_layout", ctypes.c_void_p), ("frames", ctypes.c_int), ("tokens_per_frame", ctypes.c_int),
                ("fp8", ctypes.c_int)]


def svg_block_mask(frames, P, text, density):
    """Block mask of DESIGN.md: band of ceil_to_128(m*P) tokens around the
    diagonal, first-frame sink, text rows/columns dense; a block is kept
    when any of its elements is."""
    n = frames * P + text
    nb = (n + BLOCK - 1) // BLOCK
    band = math.ceil(n * (1 - math.sqrt(1 - density)) / BLOCK) * BLOCK
    i = torch.arange(nb).view(-1, 1)
    j = torch.arange(nb).view(1, -1)
    gap = ((i - j).abs() - 1).clamp(min=0) * BLOCK + ((i - j).abs() > 0).long()  # closest pair distance
    keep = (gap <= band) | (j * BLOCK < P)
    video = frames * P
    keep |= ((i + 1) * BLOCK > video) | ((j + 1) * BLOCK > video) if text else torch.zeros_like(keep)
    return keep


def time_ms(fn, warmup=3, reps=10):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        samples.append(a.elapsed_time(b))
    return statistics.median(samples), min(samples)


def rel_l2(a, b):
    a, b = a.float(), b.float()
    return ((a - b).norm() / b.norm()).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default="build-gpu/libvidsparse_bench.so")
    ap.add_argument("--shapes", default="wan1.3b-480p,wan14b-720p,hunyuan-720p")
    ap.add_argument("--density", type=float, default=0.15)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--out", default="")
    ap.add_argument("--qk-std", type=float, default=1.0, help="standard deviation of q and k (score spread)")
    ap.add_argument("--skip-flex", action="store_true", help="leave FlexAttention out (saves its compile time)")
    ap.add_argument("--fp8", action="store_true", help="also time our dense FP8 attention (vs_cuda_fp8_attention)")
    args = ap.parse_args()

    lib = ctypes.CDLL(os.path.abspath(args.lib))
    lib.vs_cuda_flash_attention.argtypes = [ctypes.POINTER(AttnArgs), ctypes.c_void_p]
    lib.vs_cudnn_attention.argtypes = [ctypes.POINTER(AttnArgs), ctypes.c_void_p]
    lib.vs_cuda_fp8_attention.argtypes = [ctypes.POINTER(AttnArgs), ctypes.c_void_p]
    lib.vs_last_error.restype = ctypes.c_char_p
    lib.vs_cuda_band_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(Blocks), ctypes.c_int,
                                        ctypes.c_int, ctypes.c_int]
    lib.vs_cuda_band_attention.argtypes = [ctypes.c_void_p, ctypes.POINTER(AttnArgs), ctypes.c_void_p]
    lib.vs_cuda_band_free.argtypes = [ctypes.c_void_p]
    from torch.nn.attention.flex_attention import BlockMask, flex_attention
    flex = torch.compile(flex_attention, dynamic=False)

    def check(status):
        if status:
            raise RuntimeError(lib.vs_last_error().decode())

    torch.manual_seed(0)
    dev = torch.device("cuda")
    rows = []
    for name in args.shapes.split(","):
        frames, P, text, H, D = SHAPES[name]
        N, B = frames * P + text, args.batch
        q, k, v = (torch.randn(B, N, H, D, device=dev, dtype=torch.bfloat16) for _ in range(3))
        q.mul_(args.qk_std), k.mul_(args.qk_std)
        out = torch.empty_like(q)
        keep = svg_block_mask(frames, P, text, args.density)
        nb = keep.shape[0]
        row_ptr = torch.zeros(nb + 1, dtype=torch.int32)
        row_ptr[1:] = keep.sum(1).cumsum(0)
        col_idx = keep.nonzero()[:, 1].to(torch.int32)
        d_row, d_col = row_ptr.to(dev), col_idx.to(dev)
        blocks = Blocks(nb, nb, d_row.data_ptr(), d_col.data_ptr())
        # computed elements with real block sizes (last block short)
        sizes = torch.full((nb,), BLOCK)
        sizes[-1] = N - (nb - 1) * BLOCK
        computed = (keep.double() * sizes.view(-1, 1) * sizes.view(1, -1)).sum().item()
        density = computed / (N * N)
        layout = torch.tensor([i % 2 for i in range(B * H)], dtype=torch.uint8, device=dev)

        host_blocks = Blocks(nb, nb, row_ptr.data_ptr(), col_idx.data_ptr())

        def ours(sparse, mixed_layout, fn=lib.vs_cuda_flash_attention):
            a = AttnArgs()
            a.dtype = VS_BF16
            a.q, a.k, a.v, a.out = q.data_ptr(), k.data_ptr(), v.data_ptr(), out.data_ptr()
            a.batch, a.heads, a.seq_len, a.head_dim = B, H, N, D
            for t in "qkvo":
                setattr(a, f"{t}_stride_b", N * H * D)
                setattr(a, f"{t}_stride_n", H * D)
            a.scale = 1 / math.sqrt(D)
            a.blocks = ctypes.pointer(blocks) if sparse else None
            a.head_layout = layout.data_ptr() if mixed_layout else None
            a.frames, a.tokens_per_frame = frames, P
            return lambda: check(fn(ctypes.byref(a), None))

        qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))  # [B, H, N, D] views, as diffusers passes them
        result = {"shape": name, "batch": B, "seq_len": N, "heads": H, "head_dim": D, "density": density}
        dense_flops = 4.0 * B * H * N * N * D
        for backend, label in ((SDPBackend.FLASH_ATTENTION, "sdpa_flash"), (SDPBackend.CUDNN_ATTENTION, "sdpa_cudnn")):
            try:
                with sdpa_kernel(backend):
                    med, _ = time_ms(lambda: F.scaled_dot_product_attention(qt, kt, vt), reps=args.reps)
                result[label + "_ms"] = med
            except RuntimeError as e:
                result[label + "_error"] = str(e)[:200]
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            reference = F.scaled_dot_product_attention(qt, kt, vt).transpose(1, 2)

        dense = ours(False, False)
        result["ours_dense_ms"], _ = time_ms(dense, reps=args.reps)
        dense()
        result["ours_dense_vs_sdpa_rel_l2"] = rel_l2(out, reference)
        cudnn = ours(False, False, lib.vs_cudnn_attention)
        try:
            result["ours_cudnn_ms"], _ = time_ms(cudnn, reps=args.reps)
            out.fill_(float("nan"))
            cudnn()
            result["ours_cudnn_vs_sdpa_rel_l2"] = rel_l2(out, reference)
        except RuntimeError as e:  # cuDNN's answer is the result
            result["ours_cudnn_error"] = str(e)[:400]
        if args.fp8:  # E4M3 inside, BF16 in and out (docs/fp8.md); its distance from BF16 SDPA beside the time
            fp8 = ours(False, False, lib.vs_cuda_fp8_attention)
            try:
                result["ours_fp8_ms"], _ = time_ms(fp8, reps=args.reps)
                out.fill_(float("nan"))
                fp8()
                result["ours_fp8_vs_sdpa_rel_l2"] = rel_l2(out, reference)
                for label in ("sdpa_flash", "sdpa_cudnn"):
                    if label + "_ms" in result:
                        result[f"speedup_ours_fp8_vs_{label}"] = result[label + "_ms"] / result["ours_fp8_ms"]
            except RuntimeError as e:
                result["ours_fp8_error"] = str(e)[:400]

        kv_num = keep.sum(1).to(torch.int32).view(1, 1, nb).expand(B, H, nb).contiguous().to(dev)
        kv_idx = torch.zeros(nb, nb, dtype=torch.int32)
        for i in range(nb):
            cols = keep[i].nonzero().flatten()
            kv_idx[i, :len(cols)] = cols.to(torch.int32)
        kv_idx = kv_idx.view(1, 1, nb, nb).expand(B, H, nb, nb).contiguous().to(dev)
        block_mask = BlockMask.from_kv_blocks(kv_num, kv_idx, BLOCK_SIZE=BLOCK, seq_lengths=(N, N))
        try:
            if args.skip_flex:
                raise RuntimeError("skipped (--skip-flex)")
            med, _ = time_ms(lambda: flex(qt, kt, vt, block_mask=block_mask), reps=args.reps)
            result["flex_sparse_ms"] = med
            flex_out = flex(qt, kt, vt, block_mask=block_mask).transpose(1, 2)
        except Exception as e:  # FlexAttention compile problems are reported, not fatal
            result["flex_error"] = str(e)[:300]
            flex_out = None

        sparse = ours(True, False)
        result["ours_sparse_ms"], _ = time_ms(sparse, reps=args.reps)
        sparse()
        if flex_out is not None:
            result["ours_sparse_vs_flex_rel_l2"] = rel_l2(out, flex_out)
        mixed = ours(True, True)
        result["ours_sparse_mixed_layout_ms"], _ = time_ms(mixed, reps=args.reps)
        band = ctypes.c_void_p()  # the default sparse path: the block list through cuDNN
        check(lib.vs_cuda_band_create(ctypes.byref(band), ctypes.byref(host_blocks), N, H, D))
        for mixed_layout, label in ((False, "ours_band"), (True, "ours_band_mixed_layout")):
            run = ours(True, mixed_layout, lambda a, stream: lib.vs_cuda_band_attention(band, a, stream))
            result[label + "_ms"], _ = time_ms(run, reps=args.reps)
            if not mixed_layout:
                out.fill_(float("nan"))
                run()
                if flex_out is not None:
                    result["ours_band_vs_flex_rel_l2"] = rel_l2(out, flex_out)
        result["ours_band_tflops"] = dense_flops * density / result["ours_band_ms"] / 1e9
        result["speedup_ours_band_vs_ours_sparse"] = result["ours_sparse_mixed_layout_ms"] / result[
            "ours_band_mixed_layout_ms"]
        if "flex_sparse_ms" in result:
            result["speedup_ours_band_vs_flex"] = result["flex_sparse_ms"] / result["ours_band_ms"]
        lib.vs_cuda_band_free(band)

        result["ours_dense_tflops"] = dense_flops / result["ours_dense_ms"] / 1e9
        if "ours_cudnn_ms" in result:
            result["ours_cudnn_tflops"] = dense_flops / result["ours_cudnn_ms"] / 1e9
            result["speedup_ours_cudnn_vs_ours_dense"] = result["ours_dense_ms"] / result["ours_cudnn_ms"]
        result["ours_sparse_tflops"] = dense_flops * density / result["ours_sparse_ms"] / 1e9
        for label in ("sdpa_flash", "sdpa_cudnn"):
            if label + "_ms" in result:
                result[label + "_tflops"] = dense_flops / result[label + "_ms"] / 1e9
                result[f"speedup_ours_dense_vs_{label}"] = result[label + "_ms"] / result["ours_dense_ms"]
                if "ours_cudnn_ms" in result:
                    result[f"speedup_ours_cudnn_vs_{label}"] = result[label + "_ms"] / result["ours_cudnn_ms"]
        if "flex_sparse_ms" in result:
            result["speedup_ours_sparse_vs_flex"] = result["flex_sparse_ms"] / result["ours_sparse_ms"]
        result["ours_sparse_over_dense"] = result["ours_sparse_ms"] / result["ours_dense_ms"]
        result["layout_overhead"] = result["ours_sparse_mixed_layout_ms"] / result["ours_sparse_ms"] - 1
        rows.append(result)
        print(json.dumps(result), flush=True)
        del q, k, v, out, reference, flex_out
        torch.cuda.empty_cache()

    commit = os.environ.get("VS_GIT_COMMIT", "")  # as the C benchmarks: the environment overrides git
    if not commit:
        try:
            commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
        except Exception:
            commit = "unknown"
    doc = {"benchmark": "attention_vs_torch", "kernel": os.environ.get("VS_ATTN_KERNEL", "default"),
           "device": torch.cuda.get_device_name(), "commit": commit,
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "torch": torch.__version__, "cudnn_version": torch.backends.cudnn.version(), "command": "python3 bench/attention_vs_torch.py " + " ".join(
               f"--{k.replace('_', '-')} {v}" if v is not True else f"--{k.replace('_', '-')}"
               for k, v in vars(args).items() if v not in ("", False)), "results": rows}
    print(f"{'shape':14} {'dens':>5} {'flash':>7} {'cudnn':>7} {'ours':>7} {'ours-cd':>7} {'flex':>7} {'ours-sp':>7} "
          f"{'+layout':>7} {'band':>7} {'+layout':>7}  (ms)")
    for r in rows:
        print(f"{r['shape']:14} {r['density']:5.2f} {r.get('sdpa_flash_ms', float('nan')):7.2f} "
              f"{r.get('sdpa_cudnn_ms', float('nan')):7.2f} {r['ours_dense_ms']:7.2f} "
              f"{r.get('ours_cudnn_ms', float('nan')):7.2f} "
              f"{r.get('flex_sparse_ms', float('nan')):7.2f} {r['ours_sparse_ms']:7.2f} "
              f"{r['ours_sparse_mixed_layout_ms']:7.2f} {r.get('ours_band_ms', float('nan')):7.2f} "
              f"{r.get('ours_band_mixed_layout_ms', float('nan')):7.2f}")
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
