#!/usr/bin/env python3
"""Writes the umT5 encoder test assets under tests/data/umt5/:

  text_encoder/   a tiny random UMT5EncoderModel in the diffusers layout
                  (config.json + model.safetensors, f32), vocabulary of the
                  tokenizer fixture (tests/data/tokenizer, made first)
  tokenizer/      that fixture's tokenizer.json, so the folder is a model
  reference.safetensors:
    ids, mask            [1, 24] i32: a padded random sequence
    hidden               [1, 24, 64] f32: last_hidden_state for them
    buckets              [1201] i32: relative position bucket of -600..600
    prompt_embeds_K      [1, 512, 64] f32: WanPipeline._get_t5_prompt_embeds of
                         prompt K (max_sequence_length 512); prompts in metadata

    python3 tools/make_tokenizer_fixtures.py   # first, if not done
    python3 tools/make_umt5_fixtures.py
"""
import json
import os
import shutil
import types

import torch
from safetensors.torch import save_file
from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "data", "umt5")
TOKENIZER = os.path.join(ROOT, "tests", "data", "tokenizer", "tokenizer.json")
PROMPTS = ["a cat wearing sunglasses rides a skateboard",
           "  A  camera &amp; a dog\t\u65e5\u672c\u8a9e \U0001f600  &lt;b&gt; caf\u00e9 &#233; ",
           ""]


def main():
    torch.manual_seed(0)
    config = UMT5Config(vocab_size=2000, d_model=64, d_kv=16, d_ff=96, num_layers=2, num_heads=4,
                        relative_attention_num_buckets=32, relative_attention_max_distance=128,
                        feed_forward_proj="gated-gelu", dropout_rate=0.0, layer_norm_epsilon=1e-6,
                        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    model = UMT5EncoderModel(config).eval()
    with torch.no_grad():  # random everything, norms and biases included, at sizes that keep activations O(1)
        for name, p in model.named_parameters():
            if "layer_norm" in name:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif "relative_attention_bias" in name:
                p.copy_(torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5)

    te_dir = os.path.join(OUT, "text_encoder")
    os.makedirs(te_dir, exist_ok=True)
    model.save_pretrained(te_dir, safe_serialization=True)
    tok_dir = os.path.join(OUT, "tokenizer")
    os.makedirs(tok_dir, exist_ok=True)
    shutil.copy(TOKENIZER, os.path.join(tok_dir, "tokenizer.json"))

    ref = {}
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, 2000, (1, 24), generator=g, dtype=torch.int64)
    mask = torch.ones(1, 24, dtype=torch.int64)
    ids[0, 16] = 1
    ids[0, 17:] = 0
    mask[0, 17:] = 0
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    ref["ids"] = ids.to(torch.int32)
    ref["mask"] = mask.to(torch.int32)
    ref["hidden"] = hidden.float().contiguous()

    attn = model.encoder.block[0].layer[0].SelfAttention
    rel = torch.arange(-600, 601)
    ref["buckets"] = attn._relative_position_bucket(rel).to(torch.int32)  # the encoder's: bidirectional

    from diffusers.pipelines.wan.pipeline_wan import WanPipeline
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(tok_dir, "tokenizer.json"), eos_token="</s>",
                                        unk_token="<unk>", pad_token="<pad>")
    fake_pipe = types.SimpleNamespace(tokenizer=tokenizer, text_encoder=model, _execution_device=torch.device("cpu"))
    with torch.no_grad():
        for k, prompt in enumerate(PROMPTS):
            emb = WanPipeline._get_t5_prompt_embeds(fake_pipe, prompt=prompt, max_sequence_length=512,
                                                    device=torch.device("cpu"), dtype=torch.float32)
            ref["prompt_embeds_%d" % k] = emb.contiguous()
    save_file(ref, os.path.join(OUT, "reference.safetensors"),
              metadata={"prompt_%d" % k: p for k, p in enumerate(PROMPTS)})
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("wrote %s (%d bytes)" % (OUT, total))


if __name__ == "__main__":
    main()
