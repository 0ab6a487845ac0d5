#!/usr/bin/env python3
"""Writes the T5 v1.1 encoder test assets (CogVideoX's text encoder) under tests/data/t5/:

  text_encoder/   a tiny random T5EncoderModel (transformers; one relative position bias table, in layer 0,
                  shared by every layer; gated-GELU feed-forward) in the diffusers layout (config.json +
                  model.safetensors, f32), 3 layers
  reference.safetensors:
    prompt_ids_K     [1, 226] i32: the ids of prompt K as CogVideoXPipeline._get_t5_prompt_embeds asks its
                     T5Tokenizer for them (padded to 226, truncated, EOS), from sentencepiece on
                     tests/data/tokenizer/spiece.model: the slow T5Tokenizer (legacy) is sentencepiece's encode plus
                     EOS; transformers 5 converts it to a tokenizers model, which turns this fixture's spiece.model
                     into ids like [3, 2, 3, 2, ..] (not what sentencepiece or CogVideoX's tokenizer give)
    prompt_embeds_K  [1, 226, 64] f32: that method's output: the encoder on all 226 ids WITHOUT an attention
                     mask (the pipeline passes none, so the padding takes part); prompts in the metadata

    python3 tools/make_t5_fixtures.py
"""
import os
import types

import torch
from safetensors.torch import save_file
import sentencepiece
from transformers import T5Config, T5EncoderModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "data", "t5")
SPIECE = os.path.join(ROOT, "tests", "data", "tokenizer", "spiece.model")
PROMPTS = ["a cat wearing sunglasses rides a skateboard",
           "  A  panda,   eating bamboo\tin a forest; caf\u00e9 \u65e5\u672c ",
           ""]


class SpmT5Tokenizer:
    """What the pipeline calls on its T5Tokenizer (legacy): sentencepiece's ids, then EOS; truncated keeping the EOS
    last, padded with the pad id."""

    def __init__(self, path):
        self.sp = sentencepiece.SentencePieceProcessor(model_file=path)

    def __len__(self):
        return self.sp.get_piece_size()

    def __call__(self, prompt, padding="longest", max_length=None, truncation=False, add_special_tokens=True,
                 return_tensors="pt"):
        (prompt,) = [prompt] if isinstance(prompt, str) else prompt  # one prompt at a time
        ids = self.sp.encode(prompt)
        if truncation and max_length and len(ids) > max_length - 1:
            ids = ids[:max_length - 1]
        ids = ids + [self.sp.eos_id()]
        if padding == "max_length":
            ids = ids + [self.sp.pad_id()] * (max_length - len(ids))
        return types.SimpleNamespace(input_ids=torch.tensor([ids]))


def main():
    torch.manual_seed(0)
    tokenizer = SpmT5Tokenizer(SPIECE)
    config = T5Config(vocab_size=len(tokenizer), d_model=64, d_kv=16, d_ff=96, num_layers=3, num_heads=4,
                      relative_attention_num_buckets=32, relative_attention_max_distance=128,
                      feed_forward_proj="gated-gelu", dropout_rate=0.0, layer_norm_epsilon=1e-6, pad_token_id=0,
                      eos_token_id=1, decoder_start_token_id=0)
    model = T5EncoderModel(config).eval()
    with torch.no_grad():  # random everything, norms and the bias table included, at sizes that keep activations O(1)
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif "relative_attention_bias" in name:
                p.copy_(torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5)
    os.makedirs(os.path.join(OUT, "text_encoder"), exist_ok=True)
    model.save_pretrained(os.path.join(OUT, "text_encoder"), safe_serialization=True)

    from diffusers.pipelines.cogvideo.pipeline_cogvideox import CogVideoXPipeline
    pipe = types.SimpleNamespace(tokenizer=tokenizer, text_encoder=model, _execution_device=torch.device("cpu"))
    ref, meta = {}, {}
    with torch.no_grad():
        for k, prompt in enumerate(PROMPTS):
            ids = tokenizer(prompt, padding="max_length", max_length=226, truncation=True, add_special_tokens=True,
                            return_tensors="pt").input_ids
            embeds = CogVideoXPipeline._get_t5_prompt_embeds(pipe, prompt, max_sequence_length=226)
            ref[f"prompt_ids_{k}"] = ids.to(torch.int32).contiguous()
            ref[f"prompt_embeds_{k}"] = embeds.float().contiguous()
            meta[f"prompt_{k}"] = prompt
    save_file(ref, os.path.join(OUT, "reference.safetensors"), metadata=meta)


if __name__ == "__main__":
    main()
