#!/usr/bin/env python3
"""HunyuanVideo's Llama text encoder, ours (bf16 on CUDA, through libvidsparse_bench.so)
against what HunyuanVideoPipeline runs: transformers' LlamaModel in bf16 (SDPA) with
output_hidden_states=True, taking hidden_states[-3]. Same random weights (transformers'
init, bf16, saved to safetensors and loaded by ours), same ids: the pipeline's 351 tokens
(crop_start 95 + 256), batch 1 and batch 2 (prompt + negative prompt, the second padded).

Llama-3-8B dimensions (hidden 4096, 32 heads of 128, 8 key/value heads, ff 14336) with
--layers of them (32 in the real model; fewer keep the checkpoint small: the time per
layer is what compares). Ours runs layers - 2 (the skipped layers feed nothing), as the
pipeline's output needs; transformers runs all of them, as the pipeline does.

    python3 bench/llama_vs_transformers.py --lib build-gpu/libvidsparse_bench.so --layers 8 \
        --out bench/results/llama_text_h200.json
"""
import argparse
import ctypes
import datetime
import json
import os
import sys
import time

import torch
import transformers
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaModel
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umt5_vs_transformers import VS_CUDA, Tensor, as_vs_tensor, cuda_time, rel_l2  # noqa: E402

SKIP = 2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lib", default="build-gpu/libvidsparse_bench.so")
    p.add_argument("--dir", default="/tmp/llama-text", help="where the random checkpoint is written")
    p.add_argument("--vocab", type=int, default=32000, help="embedding rows (128256 in Llama 3; the lookup's cost does not depend on it)")
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--tokens", type=int, default=351)
    p.add_argument("--negative-tokens", type=int, default=120, help="real tokens of batch entry 2, then padding")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--out", default="bench/results/llama_text_h200.json")
    args = p.parse_args()
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    N = args.tokens
    config = LlamaConfig(vocab_size=args.vocab, hidden_size=4096, intermediate_size=14336, num_hidden_layers=args.layers,
                         num_attention_heads=32, num_key_value_heads=8, head_dim=128, rms_norm_eps=1e-5,
                         rope_theta=500000.0, max_position_embeddings=8192)
    t0 = time.time()
    with torch.device("cuda"):
        model = LlamaModel(config)
    model = model.to(torch.bfloat16).eval()
    # .to() rounded RoPE's inv_freq buffer to bf16 too (an angle error of up to 0.7 rad at position 350);
    # from_pretrained(torch_dtype=bf16), which the pipeline uses, keeps it in f32: so does this model.
    model.rotary_emb = LlamaRotaryEmbedding(config).to("cuda")
    os.makedirs(args.dir, exist_ok=True)
    config.to_json_file(os.path.join(args.dir, "config.json"))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(args.dir, "model.safetensors"))
    print(f"random Llama ({args.layers} layers) made and saved in {time.time() - t0:.1f} s", flush=True)

    ids = torch.randint(0, args.vocab, (2, N), dtype=torch.int32, device="cuda")
    mask = torch.ones(2, N, dtype=torch.int32, device="cuda")
    mask[1, args.negative_tokens:] = 0
    result = {"device": torch.cuda.get_device_name(), "commit": os.environ.get("VS_GIT_COMMIT", "unknown"),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "command": "python3 bench/llama_vs_transformers.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
              "torch": torch.__version__, "transformers": transformers.__version__,
              "model": {"hidden": 4096, "heads": 32, "kv_heads": 8, "head_dim": 128, "ff": 14336, "layers": args.layers,
                        "vocab": args.vocab, "skipped_layers": SKIP,
                        "note": "Llama-3-8B dims, fewer layers; weights from transformers' init, bf16"},
              "tokens": N, "batch2_entry1_tokens": args.negative_tokens, "warmup": args.warmup,
              "repeats": args.repeats, "time_ms": {}, "rel_l2_vs_transformers_f32": {}}
    with torch.no_grad():
        def hf(batch):  # as HunyuanVideoPipeline._get_llama_prompt_embeds calls it
            return model(input_ids=ids[:batch].long(), attention_mask=mask[:batch].long(),
                         output_hidden_states=True).hidden_states[-(SKIP + 1)]
        for batch in (1, 2):
            med, samples = cuda_time(lambda: hf(batch), args.warmup, args.repeats)
            result["time_ms"][f"transformers_bf16_b{batch}"] = {"median": med, "samples": samples}
            print(f"transformers bf16, batch {batch}: {med:.2f} ms", flush=True)
        out_hf = hf(2).float()
        model = model.float()
        ref = hf(2).float()
        del model
        torch.cuda.empty_cache()

    lib = ctypes.CDLL(os.path.abspath(args.lib))
    lib.vs_last_error.restype = ctypes.c_char_p
    lib.vs_llama_load.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    lib.vs_llama_encode_batch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                          ctypes.c_int, ctypes.POINTER(Tensor)]
    lib.vs_llama_free.argtypes = [ctypes.c_void_p]

    def ok(status):
        if status != 0:
            raise RuntimeError(lib.vs_last_error().decode())

    enc = ctypes.c_void_p()
    t0 = time.time()
    ok(lib.vs_llama_load(ctypes.byref(enc), args.dir.encode(), VS_CUDA, SKIP))
    print(f"ours: loaded in {time.time() - t0:.1f} s", flush=True)
    ids_h, mask_h = ids.cpu().contiguous(), mask.cpu().contiguous()
    outs = {b: torch.empty(b, N, 4096, dtype=torch.float32, device="cuda") for b in (1, 2)}
    views = {b: as_vs_tensor(outs[b]) for b in (1, 2)}

    def ours(batch):
        ok(lib.vs_llama_encode_batch(enc, ids_h.data_ptr(), mask_h.data_ptr(), batch, N, ctypes.byref(views[batch])))
    for batch in (1, 2):
        med, samples = cuda_time(lambda: ours(batch), args.warmup, args.repeats)
        result["time_ms"][f"ours_bf16_b{batch}"] = {"median": med, "samples": samples}
        print(f"ours bf16, batch {batch}: {med:.2f} ms", flush=True)
    outs[2].fill_(float("nan"))
    ours(2)
    lib.vs_llama_free(enc)

    real = mask.bool()  # padding rows mean nothing in either
    acc = result["rel_l2_vs_transformers_f32"]
    acc["ours_bf16_real_tokens"] = rel_l2(outs[2][real], ref[real])
    acc["transformers_bf16_real_tokens"] = rel_l2(out_hf[real], ref[real])
    result["speedup"] = {f"b{b}": result["time_ms"][f"transformers_bf16_b{b}"]["median"] /
                         result["time_ms"][f"ours_bf16_b{b}"]["median"] for b in (1, 2)}
    print(json.dumps({k: result[k] for k in ("speedup", "rel_l2_vs_transformers_f32")}, indent=1))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
