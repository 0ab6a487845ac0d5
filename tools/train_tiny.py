#!/usr/bin/env python3
"""Trains vidsparse's embedded text-to-video model (docs/tiny-model.md) and
exports it as a diffusers pipeline folder.

The model is Wan 2.1's architecture at a toy size, in pixel space: a
SentencePiece unigram tokenizer trained on the caption grammar, a umT5 text
encoder (transformers UMT5EncoderModel) trained jointly with a Wan DiT
(diffusers WanTransformer3DModel, in = out = 3 channels, patch (1, 2, 2)) on
16 x 32 x 32 clips drawn fresh at every step by tools/tiny_data.py.

Objective: rectified flow as Wan trains it. With u ~ U(0, 1) and the
scheduler's shift s, sigma = s u / (1 + (s - 1) u), x_t = (1 - sigma) x0 +
sigma noise, the DiT sees timestep 1000 sigma and regresses the velocity
noise - x0 (the UniPC flow_prediction it is sampled with). 10% of captions are
replaced by the empty prompt (the negative prompt at inference) so that
classifier-free guidance works. Text embeddings past the caption's tokens
are zeroed, as diffusers' WanPipeline does.

Runs in chunks: --minutes bounds one call, checkpoints (model, EMA,
optimizer, step) go to --ckpt DIR every --ckpt-every minutes and at the end,
and a later call with the same --ckpt resumes where it stopped. Data for step
i comes from a generator seeded with (seed, i), so a run split into chunks
draws the same clips as one long run. --export DIR writes the pipeline
(EMA weights, bf16) at the end of the call.

    # untrained pipeline of the real architecture (what models/vidsparse-tiny holds until trained)
    python3 tools/train_tiny.py --steps 0 --export models/vidsparse-tiny
    # training, resumable, e.g. on a GPU in calls of 8 minutes
    python3 tools/train_tiny.py --ckpt ckpt --minutes 7.5 --steps 60000
    python3 tools/train_tiny.py --ckpt ckpt --minutes 7.5 --steps 60000 --export models/vidsparse-tiny
    # continuing from an exported folder when the checkpoint is gone (fresh optimizer; new clips)
    python3 tools/train_tiny.py --init models/vidsparse-tiny --seed 2 --ckpt ckpt2 --minutes 8 --steps 60000
    # a quick CPU check of the whole loop at a reduced size
    python3 tools/train_tiny.py --ckpt /tmp/ck --steps 6 --batch 2 --small --export /tmp/tiny
"""
import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tokenizer_fixtures  # noqa: E402
import tiny_data  # noqa: E402

TEXT_LENGTH = 32  # max_sequence_length of this model (tokenizer_config.json model_max_length)
FLOW_SHIFT = 3.0
NUM_TRAIN_TIMESTEPS = 1000

# The model's shape. --small shrinks it for a CPU check of the loop.
ARCH = {
    "text": dict(d_model=128, d_kv=32, num_heads=4, d_ff=256, num_layers=2),
    "dit": dict(num_attention_heads=2, attention_head_dim=64, ffn_dim=512, num_layers=4, freq_dim=128),
}
SMALL = {
    "text": dict(d_model=32, d_kv=8, num_heads=4, d_ff=64, num_layers=1),
    "dit": dict(num_attention_heads=2, attention_head_dim=12, ffn_dim=48, num_layers=1, freq_dim=32),
}


def log(msg):
    print(msg, flush=True)


# ---- tokenizer ----------------------------------------------------------------------


def train_tokenizer(folder):
    """SentencePiece unigram on the grammar's captions (T5 ids: pad 0, eos 1, unk 2; byte fallback),
    written as spiece.model and as tokenizer.json (transformers' T5 converter), as the tokenizer
    fixtures are (tools/make_tokenizer_fixtures.py)."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    os.makedirs(folder, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "captions.txt")
        with open(corpus, "w") as f:
            for scene in tiny_data.all_scenes():
                f.write(tiny_data.caption(*scene) + "\n")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=os.path.join(tmp, "spiece"), vocab_size=320, model_type="unigram",
            byte_fallback=True, normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
            hard_vocab_limit=False, character_coverage=1.0, minloglevel=2, num_threads=1)
        proto = sentencepiece_model_pb2.ModelProto()
        with open(os.path.join(tmp, "spiece.model"), "rb") as f:
            proto.ParseFromString(f.read())
    # The model records where it was trained; blank the temporary paths so it regenerates byte for byte.
    del proto.trainer_spec.input[:]
    proto.trainer_spec.model_prefix = "spiece"
    model_path = os.path.join(folder, "spiece.model")
    with open(model_path, "wb") as f:
        f.write(proto.SerializeToString())

    make_tokenizer_fixtures.convert(model_path).save(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "T5Tokenizer", "model_max_length": TEXT_LENGTH, "pad_token": "<pad>",
                   "eos_token": "</s>", "unk_token": "<unk>", "extra_ids": 0}, f, indent=2)
        f.write("\n")
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump({"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}, f, indent=2)
        f.write("\n")
    return len(proto.pieces)


def encode_captions(folder, captions):
    """ids, mask [len(captions), TEXT_LENGTH] as WanPipeline tokenizes (EOS appended, padded, truncated)."""
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=os.path.join(folder, "spiece.model"))
    ids = torch.zeros(len(captions), TEXT_LENGTH, dtype=torch.long)
    mask = torch.zeros(len(captions), TEXT_LENGTH, dtype=torch.long)
    for i, text in enumerate(captions):
        seq = (sp.encode(text) + [1])[:TEXT_LENGTH]
        seq[-1] = 1
        ids[i, :len(seq)] = torch.tensor(seq)
        mask[i, :len(seq)] = 1
    return ids, mask


# ---- model ------------------------------------------------------------------------------


def build(vocab_size, arch):
    from diffusers import WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    t = arch["text"]
    text_config = UMT5Config(vocab_size=vocab_size, d_model=t["d_model"], d_kv=t["d_kv"], d_ff=t["d_ff"],
                             num_layers=t["num_layers"], num_heads=t["num_heads"],
                             relative_attention_num_buckets=32, relative_attention_max_distance=128,
                             feed_forward_proj="gated-gelu", dropout_rate=0.0, layer_norm_epsilon=1e-6,
                             tie_word_embeddings=False)
    text_encoder = UMT5EncoderModel(text_config)
    d = arch["dit"]
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=d["num_attention_heads"], attention_head_dim=d["attention_head_dim"],
        in_channels=3, out_channels=3, text_dim=t["d_model"], freq_dim=d["freq_dim"], ffn_dim=d["ffn_dim"],
        num_layers=d["num_layers"], cross_attn_norm=True, qk_norm="rms_norm_across_heads", eps=1e-6,
        rope_max_seq_len=1024)
    return text_encoder, transformer


def embed(text_encoder, ids, mask):
    """umT5 states with the rows past each caption zeroed, as WanPipeline hands them to the DiT."""
    states = text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    return states * mask[..., None].to(states.dtype)


def scheduler():
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                   num_train_timesteps=NUM_TRAIN_TIMESTEPS, flow_shift=FLOW_SHIFT)


# ---- export -------------------------------------------------------------------------------


def export(folder, tokenizer_dir, text_encoder, transformer):
    """The diffusers pipeline folder, weights in bf16, written next to `folder` and renamed into place."""
    import diffusers

    folder = os.path.abspath(folder)
    tmp = folder + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    shutil.copytree(tokenizer_dir, os.path.join(tmp, "tokenizer"))
    text_encoder.to(torch.bfloat16).save_pretrained(os.path.join(tmp, "text_encoder"))
    transformer.to(torch.bfloat16).save_pretrained(os.path.join(tmp, "transformer"))
    scheduler().save_pretrained(os.path.join(tmp, "scheduler"))
    index = {
        "_class_name": "WanPipeline",
        "_diffusers_version": diffusers.__version__,
        "boundary_ratio": None,
        "expand_timesteps": False,
        "scheduler": ["diffusers", "UniPCMultistepScheduler"],
        "text_encoder": ["transformers", "UMT5EncoderModel"],
        "tokenizer": ["transformers", "T5TokenizerFast"],
        "transformer": ["diffusers", "WanTransformer3DModel"],
        "transformer_2": [None, None],
        "vae": [None, None],  # pixel space: the DiT's output is the video
    }
    # vidsparse's generation defaults for this model (diffusers ignores the file): guidance and SVG
    # settings as chosen by `vidsparse eval` (docs/tiny-model.md).
    with open(os.path.join(tmp, "vidsparse.json"), "w") as f:
        json.dump({"num_frames": tiny_data.FRAMES, "height": tiny_data.HEIGHT, "width": tiny_data.WIDTH,
                   "num_inference_steps": 20, "guidance_scale": 4.0, "max_sequence_length": TEXT_LENGTH,
                   "fps": 8, "svg_density": 0.4, "svg_dense_steps": 0.4}, f, indent=2)
        f.write("\n")
    with open(os.path.join(tmp, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.rename(tmp, folder)
    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(folder) for n in names)
    log(f"exported the pipeline to {folder} ({size / 2**20:.1f} MiB)")


# ---- training ---------------------------------------------------------------------------------


def save_checkpoint(path, state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def sample_sigmas(generator, batch, device):
    u = torch.rand(batch, generator=generator, device=device)
    return FLOW_SHIFT * u / (1 + (FLOW_SHIFT - 1) * u)


def learning_rate(args, step):
    """Linear warm-up, then constant or a cosine from lr to lr_min at args.steps."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    if args.schedule == "constant":
        return args.lr
    progress = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
    return args.lr_min + 0.5 * (args.lr - args.lr_min) * (1 + math.cos(math.pi * progress))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", metavar="DIR", help="checkpoint folder (resumed from when it holds one)")
    ap.add_argument("--export", metavar="DIR", help="write the pipeline folder here at the end")
    ap.add_argument("--steps", type=int, default=60000, help="total optimizer steps of the run (0: export untrained)")
    ap.add_argument("--minutes", type=float, default=0, help="stop this call after this many minutes (0: no limit)")
    ap.add_argument("--ckpt-every", type=float, default=2.0, help="minutes between checkpoints")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--warmup", type=int, default=500, help="linear learning-rate warm-up steps")
    ap.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                    help="learning rate after the warm-up: constant, or a cosine from --lr down to --lr-min at --steps")
    ap.add_argument("--lr-min", type=float, default=1e-5, help="final learning rate of the cosine schedule")
    ap.add_argument("--fit", action="store_true", help="with --minutes: every 200 steps, set --steps (at most the "
                    "given one) from the speed so far so that the run and its cosine end when the minutes do; the "
                    "count is printed (give the last one as --steps to reproduce the run)")
    ap.add_argument("--ema", type=float, default=0.999, help="EMA decay of the exported weights")
    ap.add_argument("--cfg-dropout", type=float, default=0.1, help="fraction of captions replaced by the empty prompt")
    ap.add_argument("--seed", type=int, default=20251124)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--init", metavar="DIR", help="start from the weights and tokenizer of an exported pipeline "
                    "folder (when --ckpt holds no checkpoint yet; the optimizer starts fresh)")
    ap.add_argument("--small", action="store_true", help="a reduced model, to check the loop on a CPU")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--compile", action="store_true", help="torch.compile the DiT")
    args = ap.parse_args()
    if args.steps > 0 and not args.ckpt:
        ap.error("training needs --ckpt DIR")
    if args.steps == 0 and not args.export:
        ap.error("--steps 0 only exports: give --export DIR")
    if args.fit and not args.minutes:
        ap.error("--fit needs --minutes")

    device = torch.device(args.device)
    arch = SMALL if args.small else ARCH
    torch.manual_seed(args.seed)
    work = args.ckpt or tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    tok_dir = os.path.join(work, "tokenizer")
    ckpt_path = os.path.join(work, "checkpoint.pt")
    state = torch.load(ckpt_path, map_location="cpu", weights_only=False) if os.path.exists(ckpt_path) else None
    if state is None and args.init:
        shutil.rmtree(tok_dir, ignore_errors=True)
        shutil.copytree(os.path.join(args.init, "tokenizer"), tok_dir)
        with open(os.path.join(args.init, "text_encoder", "config.json")) as f:
            vocab = json.load(f)["vocab_size"]
    elif state is None or not os.path.exists(os.path.join(tok_dir, "spiece.model")):
        vocab = train_tokenizer(tok_dir)
    else:
        vocab = state["vocab_size"]
        if state["arch"] != arch:
            sys.exit(f"{ckpt_path} holds a model of another size ({'--small' if args.small else 'no --small'} given)")

    text_encoder, transformer = build(vocab, arch)
    if state is None and args.init:
        from diffusers import WanTransformer3DModel
        from transformers import UMT5EncoderModel

        text_encoder.load_state_dict(UMT5EncoderModel.from_pretrained(
            os.path.join(args.init, "text_encoder")).float().state_dict())
        transformer.load_state_dict(WanTransformer3DModel.from_pretrained(
            os.path.join(args.init, "transformer")).float().state_dict())
        log(f"initialised from the exported pipeline {args.init}")
    ema_text, ema_dit = build(vocab, arch)
    ema_text.load_state_dict(text_encoder.state_dict())
    ema_dit.load_state_dict(transformer.state_dict())
    params = list(text_encoder.parameters()) + list(transformer.parameters())
    ema_params = list(ema_text.parameters()) + list(ema_dit.parameters())
    n_text = sum(p.numel() for p in text_encoder.parameters())
    n_dit = sum(p.numel() for p in transformer.parameters())
    log(f"text encoder {n_text / 1e6:.2f} M parameters, DiT {n_dit / 1e6:.2f} M, vocabulary {vocab}")
    for m in (text_encoder, transformer, ema_text, ema_dit):
        m.to(device)
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.99), weight_decay=0.01)
    step = 0
    if state is not None:
        text_encoder.load_state_dict(state["text_encoder"])
        transformer.load_state_dict(state["transformer"])
        ema_text.load_state_dict(state["ema_text_encoder"])
        ema_dit.load_state_dict(state["ema_transformer"])
        opt.load_state_dict(state["optimizer"])
        step = state["step"]
        log(f"resumed from {ckpt_path} at step {step}")

    def checkpoint():
        if not args.ckpt:
            return
        save_checkpoint(ckpt_path, {
            "step": step, "arch": arch, "vocab_size": vocab, "args": vars(args),
            "text_encoder": text_encoder.state_dict(), "transformer": transformer.state_dict(),
            "ema_text_encoder": ema_text.state_dict(), "ema_transformer": ema_dit.state_dict(),
            "optimizer": opt.state_dict()})
        log(f"checkpoint at step {step}: {ckpt_path}")

    scenes = tiny_data.all_scenes()
    captions = [tiny_data.caption(*s) for s in scenes] + [""]
    all_ids, all_mask = encode_captions(tok_dir, captions)
    all_ids, all_mask = all_ids.to(device), all_mask.to(device)
    empty = len(scenes)

    dit = torch.compile(transformer) if args.compile else transformer
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    start = last_ckpt = time.time()
    first_step, step_cap = step, args.steps
    window_loss, window_n = 0.0, 0
    text_encoder.train(), transformer.train()
    while step < args.steps:
        if args.minutes and time.time() - start > args.minutes * 60:
            log(f"time budget of {args.minutes} minutes reached at step {step}")
            break
        g = torch.Generator(device=device).manual_seed(args.seed * 1000003 + step)
        pick = torch.randint(len(scenes), (args.batch,), generator=g, device=device)
        x0 = tiny_data.render([scenes[i] for i in pick.tolist()], g, device)
        drop = torch.rand(args.batch, generator=g, device=device) < args.cfg_dropout
        text_idx = torch.where(drop, torch.full_like(pick, empty), pick)
        noise = torch.randn(x0.shape, generator=g, device=device)
        sigma = sample_sigmas(g, args.batch, device)
        s = sigma[:, None, None, None, None]
        xt = (1 - s) * x0 + s * noise
        for group in opt.param_groups:
            group["lr"] = learning_rate(args, step)
        with autocast:
            context = embed(text_encoder, all_ids[text_idx], all_mask[text_idx])
            pred = dit(xt, sigma * NUM_TRAIN_TIMESTEPS, context, return_dict=False)[0]
        loss = F.mse_loss(pred.float(), noise - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(args.ema, (1 + step) / (10 + step))
            torch._foreach_lerp_(ema_params, params, 1 - decay)
        step += 1
        if args.fit and (step - first_step) % 200 == 0:  # the speed changes while other work shares the GPU
            rate = (step - first_step) / (time.time() - start)
            left = args.minutes * 60 - (time.time() - start) - 30  # the checkpoint and export
            fitted = min(step_cap, step + int(rate * left))
            if fitted != args.steps:
                args.steps = fitted
                log(f"--fit: {rate:.2f} it/s so far, the run ends at step {args.steps}")
        window_loss += loss.detach()
        window_n += 1
        if step % args.log_every == 0 or step == args.steps:
            elapsed = time.time() - start
            log(f"step {step}/{args.steps}  loss {window_loss.item() / window_n:.4f}  "
                f"lr {opt.param_groups[0]['lr']:.2e}  {elapsed / 60:.1f} min  {(step - first_step) / elapsed:.2f} it/s")
            window_loss, window_n = 0.0, 0
        if time.time() - last_ckpt > args.ckpt_every * 60:
            checkpoint()
            last_ckpt = time.time()
    if args.steps > 0:
        checkpoint()
    if args.export:
        export(args.export, tok_dir, ema_text.float().cpu(), ema_dit.float().cpu())


if __name__ == "__main__":
    main()
