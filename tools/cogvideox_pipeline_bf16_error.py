#!/usr/bin/env python3
"""How far diffusers' own CogVideoX 1.5 pipeline lands from its f32 output when it runs in bf16, on the CPU.

Runs the fixture of tools/make_cogvideox_pipeline_fixtures.py (tests/data/cogvideox_pipeline/{t2v,i2v}: 3 DPM
steps, CFG 6, random weights) from the same noise (our ported streams, imported from that script) with the
text encoder, transformer and VAE each in bf16 or f32, and compares the decoded frames (clamped to [-1, 1],
as the reference's `video`) and the final latents with reference.safetensors by relative L2. This is the
error floor for tests/gpu/test_cogvideox_pipeline_cuda (bound 2e-2): what bf16 costs in the reference
implementation itself. torch on the CPU computes bf16 matmuls and convolutions with f32 accumulation and
one bf16 rounding of the result, as cuBLAS / cuDNN do on the GPU.

Variants (flags: te, tr, vae = module dtypes; pred = the transformer's output projection computed and
returned in f32 instead of rounded to bf16 (diffusers already upcasts the noise prediction before CFG, so
the guidance arithmetic is f32 in every variant); state = the latents kept in f32 between steps instead of
cast to the prompt embeddings' dtype as the pipeline does):
  bf16            diffusers' pipeline with every module in bf16, as a user gets it
  bf16_pred32     and the noise prediction in f32
  bf16_vae32      bf16 text encoder and transformer, the VAE (encode and decode) in f32
  bf16_ours       bf16 modules, noise prediction, CFG and latents in f32 (src/pipeline/denoise.c keeps the
                  latents and CFG in f32)
  tr_only_bf16    only the transformer in bf16 (noise prediction and latents f32)
  vae_only_bf16   only the VAE in bf16
  f32             everything f32: must reproduce the reference (sanity check)
Then one transformer pass in bf16 on the inputs the f32 run gave it at each step, against the f32 pass: its
unconditional, conditional and guided predictions (CFG multiplies the pass's error by about the guidance
scale when the conditional and unconditional predictions are close, as they are with these random weights).

Usage: /work/venv/bin/python tools/cogvideox_pipeline_bf16_error.py [--variants NAME ...]
           [-o bench/results/cogvideox_pipeline_bf16_error_cpu.json]
"""
import argparse
import datetime
import json
import os
import sys

import PIL.Image
import diffusers
import torch
import torch.nn.functional as F
from diffusers import (AutoencoderKLCogVideoX, CogVideoXDPMScheduler, CogVideoXImageToVideoPipeline, CogVideoXPipeline,
                       CogVideoXTransformer3DModel)
from diffusers.utils import logging
from safetensors.torch import load_file
from transformers import T5EncoderModel
import transformers
import diffusers.pipelines.cogvideo.pipeline_cogvideox_image2video as i2v_module

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_cogvideox_pipeline_fixtures import (  # noqa: E402
    DATA, FRAMES, GUIDANCE, HEIGHT, OUT, PROMPT, SEED, STEPS, WIDTH, OurSchedulerNoise, SpmT5Tokenizer,
    our_image_sample, ours)

BF, FP = torch.bfloat16, torch.float32
VARIANTS = {  # name: (te, tr, vae, pred, state)
    "bf16": (BF, BF, BF, BF, BF),
    "bf16_pred32": (BF, BF, BF, FP, BF),
    "bf16_vae32": (BF, BF, FP, BF, BF),
    "bf16_ours": (BF, BF, BF, FP, FP),
    "tr_only_bf16": (FP, BF, FP, FP, FP),
    "vae_only_bf16": (FP, FP, BF, FP, FP),
    "f32": (FP, FP, FP, FP, FP),
}
RUNS = (("t2v", "video", False), ("t2v", "video_dynamic_cfg", True), ("i2v", "video", False))


def rel_l2(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()


def transformer(kind, dtype, pred, record=None):
    """The fixture's transformer in dtype; its inputs cast to dtype (the latents may be f32); with pred=f32
    the final projection runs in f32 on the bf16 normed activations, so the noise prediction is not rounded.
    record: a list that gets each call's inputs."""
    model = CogVideoXTransformer3DModel.from_pretrained(os.path.join(OUT, kind, "transformer"),
                                                        torch_dtype=dtype).eval()
    forward = model.forward

    def cast(hidden_states, encoder_hidden_states, **kw):
        if record is not None:
            record.append((hidden_states, encoder_hidden_states, kw))
        return forward(hidden_states.to(dtype), encoder_hidden_states.to(dtype), **kw)

    model.forward = cast
    if pred == FP:
        p = model.proj_out
        p.forward = lambda x: F.linear(x.float(), p.weight.float(), p.bias.float())
    return model


def vae_in(dtype):
    """The VAE in dtype; encode casts the image (preprocessed in the prompt embeddings' dtype) to it."""
    vae = AutoencoderKLCogVideoX.from_pretrained(os.path.join(DATA, "cogvideox_vae", "vae"), torch_dtype=dtype).eval()
    encode = vae.encode
    vae.encode = lambda x, *a, **kw: encode(x.to(dtype), *a, **kw)
    return vae


def run(kind, dynamic, te, tr, vae_dtype, pred, state, image, tokenizer, record=None):
    """One pipeline run: (final latents [B, C, F, H, W], clamped frames [F, 3, H, W]), both f32."""
    text_encoder = T5EncoderModel.from_pretrained(os.path.join(DATA, "t5", "text_encoder"), torch_dtype=te).eval()
    vae = vae_in(vae_dtype)
    scheduler = CogVideoXDPMScheduler.from_pretrained(os.path.join(OUT, kind, "scheduler"))
    parts = dict(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, scheduler=scheduler,
                 transformer=transformer(kind, tr, pred, record))
    pipe = CogVideoXImageToVideoPipeline(**parts) if kind == "i2v" else CogVideoXPipeline(**parts)
    pipe.set_progress_bar_config(disable=True)
    OurSchedulerNoise(scheduler)
    latent = vae.config.latent_channels
    latent_frames = (FRAMES - 1) // 4 + 1
    padding = (2 - latent_frames % 2) % 2
    shape = (1, latent, latent_frames + padding, HEIGHT // 4, WIDTH // 4)
    kw = dict(image=image) if kind == "i2v" else {}
    with torch.no_grad():
        # The pipeline keeps the latents (and the i2v image) in the prompt embeddings' dtype: encode the prompt
        # in te's dtype, then hand the embeddings over in the state dtype.
        cond, uncond = pipe.encode_prompt(PROMPT, do_classifier_free_guidance=True, device=torch.device("cpu"))
        latents = pipe(prompt_embeds=cond.to(state), negative_prompt_embeds=uncond.to(state), height=HEIGHT,
                       width=WIDTH, num_frames=FRAMES, num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                       use_dynamic_cfg=dynamic, latents=ours(shape, SEED).to(state), output_type="latent",
                       return_dict=False, **kw)[0]
        z = latents[:, padding:].permute(0, 2, 1, 3, 4).to(vae_dtype)
        video = vae.decode(z / vae.config.scaling_factor).sample
    return latents.permute(0, 2, 1, 3, 4).float(), video[0].permute(1, 0, 2, 3).clamp(-1, 1).float()


def one_pass(kind, calls):
    """The bf16 transformer (output in f32) on the f32 run's inputs at each step: relative L2 of its
    unconditional and conditional predictions and of the guided one, uncond + GUIDANCE (cond - uncond), against
    the f32 transformer's; and how far the f32 cond and uncond predictions are apart."""
    ref, bf = transformer(kind, FP, FP), transformer(kind, BF, FP)
    out = []
    with torch.no_grad():
        for hs, ehs, kw in calls:
            a, b = (m(hidden_states=hs, encoder_hidden_states=ehs, **kw)[0].float() for m in (ref, bf))
            guided = [x[:1] + GUIDANCE * (x[1:] - x[:1]) for x in (a, b)]
            out.append({"uncond": rel_l2(b[:1], a[:1]), "cond": rel_l2(b[1:], a[1:]),
                        "guided": rel_l2(guided[1], guided[0]), "f32_cond_vs_uncond": rel_l2(a[1:], a[:1])})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="*", choices=sorted(VARIANTS), help="only these variants")
    ap.add_argument("-o", "--output", help="the rows as JSON too")
    args = ap.parse_args()
    logging.set_verbosity_error()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(0)  # nothing random should be drawn from torch; fixed all the same
    i2v_module.retrieve_latents = our_image_sample
    tokenizer = SpmT5Tokenizer(os.path.join(DATA, "tokenizer", "spiece.model"))
    image = PIL.Image.open(os.path.join(DATA, "image", "rgb.jpg")).convert("RGB")
    refs = {kind: load_file(os.path.join(OUT, kind, "reference.safetensors")) for kind in ("t2v", "i2v")}
    names = [v for v in VARIANTS if not args.variants or v in args.variants]
    rows = {}
    f32_latents, calls = {}, {}  # the reference has no latents for video_dynamic_cfg: the f32 run's stand in
    print(f"{'variant':<15} {'run':<22} {'video rel L2':>13} {'latents rel L2':>15}")
    for name in ["f32"] + [v for v in names if v != "f32"]:
        for kind, key, dynamic in RUNS:
            record = calls.setdefault(kind, []) if name == "f32" and not dynamic else None
            latents, video = run(kind, dynamic, *VARIANTS[name], image, tokenizer, record)
            run_name = f"{kind} {key}"
            if name == "f32":
                f32_latents[run_name] = latents
            ref_latents = f32_latents[run_name] if dynamic else refs[kind]["latents"]
            errs = {"video_rel_l2": rel_l2(video, refs[kind][key]), "latents_rel_l2": rel_l2(latents, ref_latents)}
            if name in names:
                rows.setdefault(name, {})[run_name] = errs
                print(f"{name:<15} {run_name:<22} {errs['video_rel_l2']:13.3e} {errs['latents_rel_l2']:15.3e}",
                      flush=True)
    passes = {kind: one_pass(kind, c) for kind, c in calls.items()}
    print("one transformer pass in bf16 on the f32 run's inputs (rel L2 vs f32): uncond, cond, guided; "
          "f32 cond vs uncond")
    for kind, steps in passes.items():
        for i, e in enumerate(steps):
            print(f"  {kind} step {i}: {e['uncond']:.2e} {e['cond']:.2e} {e['guided']:.2e}; "
                  f"{e['f32_cond_vs_uncond']:.2e}")
    if args.output:
        doc = {"benchmark": "cogvideox_pipeline_bf16_error",
               "command": "python3 tools/cogvideox_pipeline_bf16_error.py " + " ".join(sys.argv[1:]),
               "commit": os.popen(f"git -C {DATA} rev-parse --short HEAD").read().strip(),
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "torch": torch.__version__, "diffusers": diffusers.__version__, "device": "cpu",
               "fixture": "tests/data/cogvideox_pipeline/{t2v,i2v} (3 DPM steps, CFG 6, random weights); relative "
                          "L2 against reference.safetensors (f32): frames clamped to [-1, 1], final latents (for "
                          "video_dynamic_cfg against the f32 run's); the CUDA test's bound 2e-2",
               "variants": {k: dict(zip(("text_encoder", "transformer", "vae", "noise_pred", "latents"),
                                        (str(d).replace("torch.", "") for d in v))) for k, v in VARIANTS.items()
                            if k in names},
               "results": rows, "one_transformer_pass_bf16": passes}
        with open(args.output, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
