#!/usr/bin/env python3
"""diffusers' HunyuanVideoPipeline end to end with random bf16 weights at the released configurations
(Llama 3 8B text encoder, CLIP-L, the 13B HunyuanVideoTransformer3DModel, AutoencoderKLHunyuanVideo), timed
stage by stage on one GPU, for the end-to-end target of issue 17 (tools/run_hypipe_gpu.sh runs it beside
`vidsparse bench generate --config hunyuan13b`).

    python3 tools/hunyuan_pipeline_bench.py OUT.json [--frames 129 --height 720 --width 1280 --steps 2]

Stages, each written to OUT.json as soon as it is measured (a run cut short keeps what it has):
  text    the pipeline's two encoders on token ids as its tokenizers make them (no tokenizer files exist for
          random weights): Llama on 95 + 256 = 351 tokens, hidden_states[-3]; CLIP on 77 tokens, pooled
  steps   HunyuanVideoPipeline.__call__ with those embeddings for a 50-step schedule (embedded guidance 6,
          no true CFG), stopped after --steps steps through the step callback; per-step seconds (the first
          pays for warm-up), the mean of the others extrapolated to 50
  decode  vae.decode of the latents with diffusers' tiling (enable_tiling; untiled, 720p x 129 frames would
          not fit), as the pipeline's output_type="pt" path calls it
Peak memory: torch.cuda.max_memory_allocated over the whole run (all components resident, as the
pipeline holds them without offloading) and per stage.
"""
import datetime

import torch
from transformers import CLIPTextConfig, CLIPTextModel, LlamaConfig, LlamaModel
from diffusers import (AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler, HunyuanVideoPipeline,
                       HunyuanVideoTransformer3DModel)

from pipeline_timing import SCHEDULE_STEPS, finish, parse_args, saver, time_build, time_decode, time_steps, time_text


def build(dev):
    """The four components at the released sizes, random, bf16, created on the GPU."""
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device(dev):
        llama = LlamaModel(LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                                       num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                                       rms_norm_eps=1e-5, rope_theta=500000.0, max_position_embeddings=8192))
        clip = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                            num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77,
                                            hidden_act="quick_gelu", projection_dim=768))
        transformer = HunyuanVideoTransformer3DModel()  # the class's defaults are the 13B model's
        vae = AutoencoderKLHunyuanVideo()  # likewise the released VAE's
    torch.set_default_dtype(torch.float32)
    for m in (llama, clip, transformer, vae):
        m.eval().requires_grad_(False)
    return llama, clip, transformer, vae


def main():
    a = parse_args(frames=129, height=720, width=1280)
    dev = torch.device("cuda")
    res = {"what": "diffusers HunyuanVideoPipeline, random bf16 weights at the released configurations",
           "device": torch.cuda.get_device_name(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
           "torch": torch.__version__, "frames": a.frames, "height": a.height, "width": a.width,
           "text_tokens": 256, "schedule_steps": SCHEDULE_STEPS, "embedded_guidance": 6.0, "true_cfg": False,
           "attention": "SDPA (diffusers' default)"}
    import diffusers
    res["diffusers"] = diffusers.__version__
    save = saver(res, a.out)
    llama, clip, transformer, vae = time_build(res, save, build, dev)

    # text: the pipeline's _get_llama_prompt_embeds / _get_clip_prompt_embeds on token ids
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 128000, (1, 95 + 256), generator=g).to(dev)
    mask = torch.ones_like(ids)
    mask[:, 95 + 40:] = 0  # a 40-token prompt, padded
    clip_ids = torch.randint(0, 49406, (1, 77), generator=g).to(dev)
    clip_ids[0, 41] = 49407  # the EOS

    def encode():
        hidden = llama(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[-3]
        pooled = clip(input_ids=clip_ids, output_hidden_states=False).pooler_output
        return hidden[:, 95:], mask[:, 95:], pooled

    prompt_embeds, prompt_mask, pooled = time_text(res, save, encode)

    pipe = HunyuanVideoPipeline(text_encoder=llama, tokenizer=None, transformer=transformer, vae=vae,
                                scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0), text_encoder_2=clip,
                                tokenizer_2=None)
    pipe.set_progress_bar_config(disable=True)

    def denoise(on_step):
        return pipe(prompt_embeds=prompt_embeds, pooled_prompt_embeds=pooled, prompt_attention_mask=prompt_mask,
                    height=a.height, width=a.width, num_frames=a.frames, num_inference_steps=SCHEDULE_STEPS,
                    guidance_scale=6.0, output_type="latent", return_dict=False,
                    callback_on_step_end=on_step, generator=torch.Generator(dev).manual_seed(2))[0]

    latents = time_steps(res, save, a.steps, denoise)

    if not a.no_decode:
        vae.enable_tiling()
        time_decode(res, lambda: vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor, return_dict=False)[0])
        print("end to end (text + 50 steps + decode), extrapolated: %.1f s" % res["end_to_end_50_steps_s_extrapolated"])
    finish(res, save)


if __name__ == "__main__":
    main()
