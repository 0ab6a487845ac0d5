#!/usr/bin/env python3
"""umT5-XXL encoder, ours (bf16 on CUDA, through libvidsparse_bench.so) against
transformers' UMT5EncoderModel in bf16 on the same GPU, in one process, with
the same random weights (transformers' own initialisation, rounded to bf16,
saved to safetensors and loaded by ours) and the same token ids.

Timing: CUDA events around whole encodes, warm-up first, median of repeats,
batch 1 (512 tokens) and batch 2 (prompt + negative prompt for CFG).
Accuracy: both against transformers in f32 on the same (bf16-valued) weights.

    python3 bench/umt5_vs_transformers.py --lib build-gpu/libvidsparse_bench.so \
        --dir /tmp/umt5-xxl --out bench/results/umt5_h100.json
"""
import argparse
import ctypes
import datetime
import json
import os
import statistics
import time

import torch
import transformers
from safetensors.torch import save_file
from transformers import UMT5Config, UMT5EncoderModel

VS_F32, VS_CUDA = 0, 1


class Tensor(ctypes.Structure):  # mirrors vs_tensor in include/vidsparse.h
    _fields_ = [("dtype", ctypes.c_int), ("device", ctypes.c_int), ("ndim", ctypes.c_int),
                ("shape", ctypes.c_int64 * 5), ("stride", ctypes.c_int64 * 5),
                ("data", ctypes.c_void_p), ("owned", ctypes.c_int)]


def as_vs_tensor(t):
    assert t.is_cuda and t.dtype == torch.float32 and t.is_contiguous()
    v = Tensor(VS_F32, VS_CUDA, t.dim())
    for i, (n, s) in enumerate(zip(t.shape, t.stride())):
        v.shape[i], v.stride[i] = n, s
    v.data = t.data_ptr()
    return v


def cuda_time(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        samples.append(a.elapsed_time(b))
    return statistics.median(samples), samples


def rel_l2(a, ref):
    a, ref = a.double(), ref.double()
    return float((a - ref).norm() / ref.norm())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", default="build-gpu/libvidsparse_bench.so")
    p.add_argument("--dir", default="/tmp/umt5-xxl", help="where the random checkpoint is written")
    p.add_argument("--vocab", type=int, default=32128,
                   help="embedding rows (umT5-XXL has 256384; the lookup's cost does not depend on it)")
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--negative-tokens", type=int, default=200, help="real tokens of batch entry 2, then padding")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--out", default="bench/results/umt5_h100.json")
    args = p.parse_args()
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    N = args.tokens

    config = UMT5Config(vocab_size=args.vocab, d_model=4096, d_kv=64, d_ff=10240, num_layers=args.layers,
                        num_heads=64, relative_attention_num_buckets=32, relative_attention_max_distance=128,
                        feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6, tie_word_embeddings=False)
    t0 = time.time()
    with torch.device("cuda"):
        model = UMT5EncoderModel(config)
    model = model.to(torch.bfloat16).eval()
    os.makedirs(args.dir, exist_ok=True)
    config.to_json_file(os.path.join(args.dir, "config.json"))
    state = {k: v.contiguous() for k, v in model.state_dict().items() if k != "encoder.embed_tokens.weight"}
    save_file(state, os.path.join(args.dir, "model.safetensors"))
    del state
    print(f"random umT5 ({args.layers} layers, vocab {args.vocab}) made and saved in {time.time() - t0:.1f} s", flush=True)

    ids = torch.randint(1, args.vocab, (2, N), dtype=torch.int32, device="cuda")
    mask = torch.ones(2, N, dtype=torch.int32, device="cuda")
    mask[1, args.negative_tokens:] = 0
    ids[1, args.negative_tokens:] = 0

    result = {"device": torch.cuda.get_device_name(), "commit": os.environ.get("VS_GIT_COMMIT", "unknown"),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": "python3 bench/umt5_vs_transformers.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
              "torch": torch.__version__, "transformers": transformers.__version__,
              "model": {"d_model": 4096, "d_kv": 64, "heads": 64, "d_ff": 10240, "layers": args.layers,
                        "vocab": args.vocab, "note": "umT5-XXL dims but a smaller embedding table (vocab 256384 in "
                                                    "the real model); weights from transformers' init, bf16"},
              "tokens": N, "batch2_entry1_tokens": args.negative_tokens, "warmup": args.warmup,
              "repeats": args.repeats, "time_ms": {}, "rel_l2_vs_transformers_f32": {}}

    with torch.no_grad():
        def hf(batch):
            return model(input_ids=ids[:batch].long(), attention_mask=mask[:batch].long()).last_hidden_state
        for batch in (1, 2):
            med, samples = cuda_time(lambda: hf(batch), args.warmup, args.repeats)
            result["time_ms"][f"transformers_bf16_b{batch}"] = {"median": med, "samples": samples}
            print(f"transformers bf16, batch {batch}: {med:.2f} ms", flush=True)
        out_hf = hf(2).float()
        model = model.float()
        ref = model(input_ids=ids.long(), attention_mask=mask.long()).last_hidden_state.float()
        del model
        torch.cuda.empty_cache()

    lib = ctypes.CDLL(os.path.abspath(args.lib))
    lib.vs_last_error.restype = ctypes.c_char_p
    lib.vs_umt5_load.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_int]
    lib.vs_umt5_encode_batch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                         ctypes.c_int, ctypes.POINTER(Tensor)]
    lib.vs_umt5_free.argtypes = [ctypes.c_void_p]

    def ok(status):
        if status != 0:
            raise RuntimeError(lib.vs_last_error().decode())

    enc = ctypes.c_void_p()
    t0 = time.time()
    ok(lib.vs_umt5_load(ctypes.byref(enc), args.dir.encode(), VS_CUDA))
    print(f"ours: loaded in {time.time() - t0:.1f} s", flush=True)
    ids_h, mask_h = ids.cpu().contiguous(), mask.cpu().contiguous()
    outs = {b: torch.empty(b, N, 4096, dtype=torch.float32, device="cuda") for b in (1, 2)}
    views = {b: as_vs_tensor(outs[b]) for b in (1, 2)}

    def ours(batch):
        ok(lib.vs_umt5_encode_batch(enc, ids_h.data_ptr(), mask_h.data_ptr(), batch, N, ctypes.byref(views[batch])))
    for batch in (1, 2):
        med, samples = cuda_time(lambda: ours(batch), args.warmup, args.repeats)
        result["time_ms"][f"ours_bf16_b{batch}"] = {"median": med, "samples": samples}
        print(f"ours bf16, batch {batch}: {med:.2f} ms", flush=True)
    outs[2].fill_(float("nan"))
    ours(2)
    lib.vs_umt5_free(enc)

    real = mask.bool()
    acc = result["rel_l2_vs_transformers_f32"]
    acc["ours_bf16"] = rel_l2(outs[2], ref)
    acc["transformers_bf16"] = rel_l2(out_hf, ref)
    acc["ours_bf16_real_tokens"] = rel_l2(outs[2][real], ref[real])
    acc["transformers_bf16_real_tokens"] = rel_l2(out_hf[real], ref[real])
    result["rel_l2_ours_vs_transformers_bf16"] = rel_l2(outs[2], out_hf)
    result["speedup"] = {f"b{b}": result["time_ms"][f"transformers_bf16_b{b}"]["median"] /
                         result["time_ms"][f"ours_bf16_b{b}"]["median"] for b in (1, 2)}
    print(json.dumps({k: result[k] for k in ("speedup", "rel_l2_vs_transformers_f32",
                                             "rel_l2_ours_vs_transformers_bf16")}, indent=1))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
