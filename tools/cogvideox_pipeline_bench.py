#!/usr/bin/env python3
"""diffusers' CogVideoXImageToVideoPipeline end to end with random bf16 weights at the released CogVideoX 1.5
I2V configurations (T5-XXL v1.1 encoder, the 5B I2V CogVideoXTransformer3DModel, AutoencoderKLCogVideoX),
timed stage by stage on one GPU, for the end-to-end target of issue 18 (tools/run_cogfam_gpu.sh runs it
beside `vidsparse bench generate --config cogvideox1.5-5b-i2v`).

    python3 tools/cogvideox_pipeline_bench.py OUT.json [--frames 81 --height 768 --width 1360 --steps 2]

Stages, each written to OUT.json as soon as it is measured (a run cut short keeps what it has):
  text    the pipeline's _get_t5_prompt_embeds on 226 token ids (no tokenizer files exist for random weights),
          for the prompt and the negative prompt, no mask
  steps   CogVideoXImageToVideoPipeline.__call__ with those embeddings and a first frame for a 50-step schedule
          (guidance 6 with CFG: a batch of 2 per step), with vae.enable_tiling() as the reference scripts run
          it, stopped after --steps steps through the step callback; the first step's time includes the
          image's VAE encode (prepare_latents); the mean of the others extrapolated to 50 steps
  decode  vae.decode of the latents (the padding frame dropped, tiled), as the pipeline's decode_latents does
Peak memory: torch.cuda.max_memory_allocated per stage (all components resident, as the pipeline holds them
without offloading).
"""
import datetime

import PIL.Image
import torch
from transformers import T5Config, T5EncoderModel
from diffusers import (AutoencoderKLCogVideoX, CogVideoXDPMScheduler, CogVideoXImageToVideoPipeline,
                       CogVideoXTransformer3DModel)

from pipeline_timing import SCHEDULE_STEPS, finish, parse_args, saver, time_build, time_decode, time_steps, time_text

# google/t5-v1_1-xxl's encoder, as CogVideoX ships it in text_encoder/ (from the public config).
T5_XXL = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
              relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="gated-gelu",
              layer_norm_epsilon=1e-6, is_encoder_decoder=False, use_cache=False)
# The shape-defining members of the released CogVideoX1.5-5B-I2V transformer/config.json.
DIT_15_I2V = dict(num_attention_heads=48, attention_head_dim=64, in_channels=32, out_channels=16, time_embed_dim=512,
                  ofs_embed_dim=512, text_embed_dim=4096, num_layers=42, patch_size=2, patch_size_t=2,
                  sample_height=300, sample_width=300, sample_frames=81, max_text_seq_length=226,
                  use_rotary_positional_embeddings=True, patch_bias=False)
# The released vae/config.json (block_out_channels 128, 256, 256, 512; scaling 0.7, invert_scale_latents).
VAE_15 = dict(block_out_channels=(128, 256, 256, 512), latent_channels=16, layers_per_block=3, norm_num_groups=32,
              temporal_compression_ratio=4, sample_height=480, sample_width=720, scaling_factor=0.7,
              invert_scale_latents=True)
SCHEDULER_15 = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", prediction_type="v_prediction",
                    rescale_betas_zero_snr=True, set_alpha_to_one=True, snr_shift_scale=1.0,
                    timestep_spacing="trailing")


def build(dev):
    """The three components at the released sizes, random, bf16, created on the GPU."""
    torch.manual_seed(0)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device(dev):
        t5 = T5EncoderModel(T5Config(**T5_XXL))
        transformer = CogVideoXTransformer3DModel(**DIT_15_I2V)
        vae = AutoencoderKLCogVideoX(**VAE_15)
    torch.set_default_dtype(torch.float32)
    for m in (t5, transformer, vae):
        m.eval().requires_grad_(False)
    return t5, transformer, vae


def main():
    a = parse_args(frames=81, height=768, width=1360)
    dev = torch.device("cuda")
    import diffusers
    res = {"what": "diffusers CogVideoXImageToVideoPipeline, random bf16 weights at the released CogVideoX 1.5 I2V "
                   "configurations", "device": torch.cuda.get_device_name(),
           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(), "torch": torch.__version__,
           "diffusers": diffusers.__version__, "frames": a.frames, "height": a.height, "width": a.width,
           "text_tokens": 226, "schedule_steps": SCHEDULE_STEPS, "guidance": 6.0, "cfg": True, "vae_tiling": True,
           "attention": "SDPA (diffusers' default)", "steps_timed": a.steps}
    save = saver(res, a.out)
    t5, transformer, vae = time_build(res, save, build, dev)

    # text: _get_t5_prompt_embeds on 226 ids (a 30-token prompt then EOS and padding), prompt and negative prompt
    g = torch.Generator().manual_seed(1)
    ids = torch.zeros(2, 226, dtype=torch.long)
    ids[0, :30] = torch.randint(3, 32000, (30,), generator=g)
    ids[0, 30] = 1
    ids[1, 0] = 1  # the empty negative prompt: EOS, then padding
    ids = ids.to(dev)
    # the pipeline encodes each prompt on its own
    prompt_embeds, negative_embeds = time_text(res, save, lambda: [t5(ids[i:i + 1])[0] for i in range(2)])

    pipe = CogVideoXImageToVideoPipeline(tokenizer=None, text_encoder=t5, vae=vae, transformer=transformer,
                                         scheduler=CogVideoXDPMScheduler(**SCHEDULER_15))
    pipe.set_progress_bar_config(disable=True)
    vae.enable_tiling()
    image = PIL.Image.new("RGB", (a.width, a.height), (128, 96, 64))

    def denoise(on_step):
        return pipe(image=image, prompt_embeds=prompt_embeds, negative_prompt_embeds=negative_embeds,
                    height=a.height, width=a.width, num_frames=a.frames, num_inference_steps=SCHEDULE_STEPS,
                    guidance_scale=6.0, output_type="latent", return_dict=False, callback_on_step_end=on_step,
                    generator=torch.Generator(dev).manual_seed(2))[0]

    latents = time_steps(res, save, a.steps, denoise, first_note=" (the first with the image encode)")

    if not a.no_decode:
        latent_frames = (a.frames - 1) // 4 + 1
        padding = (2 - latent_frames % 2) % 2
        time_decode(res, lambda: pipe.decode_latents(latents[:, padding:]))
        res["extrapolation"] = ("end_to_end_50_steps_s_extrapolated = text + the first step (with the image encode) "
                                "+ 49 x the mean of the timed steps after it + VAE decode: %d timed steps of the "
                                "50-step schedule, not a full run" % a.steps)
        print("end to end (text + image + 50 steps + decode), extrapolated: %.1f s" %
              res["end_to_end_50_steps_s_extrapolated"])
    finish(res, save)


if __name__ == "__main__":
    main()
