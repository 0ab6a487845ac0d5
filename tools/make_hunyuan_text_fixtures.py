#!/usr/bin/env python3
"""Writes the HunyuanVideo text-encoder test assets under tests/data/hunyuan_text/
(after tools/make_bpe_fixtures.py, whose tokenizers they use):

  text_encoder/     a tiny random LlamaModel (f32): 4 layers, hidden 64, 4 heads of 16,
                    2 key/value heads (GQA), llama3 rope_scaling, vocabulary of llama_tokenizer/
  text_encoder_2/   a tiny random CLIPTextModel (f32): 3 layers, hidden 48, 3 heads,
                    quick_gelu, 77 positions, legacy eos_token_id 2, vocabulary of clip_tokenizer/
  reference.safetensors:
    llama_ids, llama_mask      [2, 40] i32: random ids, the second sequence right-padded
    llama_hidden_K             [2, 40, 64] f32: LlamaModel hidden_states[K], K = 0..4
                               (K = 4 is after the final norm)
    clip_ids                   [2, 77] i32: random ids with an EOS (the largest id)
    clip_hidden, clip_pooled   [2, 77, 48], [2, 48] f32: last_hidden_state, pooler_output
    prompt_embeds_P, prompt_mask_P   [1, 256, 64] f32, [1, 256] i32: HunyuanVideoPipeline.
                               _get_llama_prompt_embeds of prompt P (default template,
                               crop_start 95, max_sequence_length 256, 2 layers skipped)
    pooled_P                   [1, 48] f32: _get_clip_prompt_embeds of prompt P
  (prompts in the metadata)

    /work/venv/bin/python tools/make_bpe_fixtures.py   # first, if not done
    /work/venv/bin/python tools/make_hunyuan_text_fixtures.py
"""
import os
import types

import torch
from safetensors.torch import save_file
from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModel, CLIPTokenizer, LlamaConfig, LlamaModel

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "data", "hunyuan_text")
PROMPTS = ["A cat walks on the grass, realistic",
           "  a Dog\t\u65e5\u672c\u8a9e \U0001f600 it's <|eot_id|> caf\u00e9 " + "long " * 300,
           ""]


def randomize(model):
    with torch.no_grad():  # everything random at sizes that keep activations O(1)
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
            elif "embedding" in name or "embed_tokens" in name:
                p.copy_(torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) / p.shape[-1] ** 0.5)


def main():
    torch.manual_seed(0)
    llama_tok = AutoTokenizer.from_pretrained(os.path.join(OUT, "llama_tokenizer"))
    clip_tok = CLIPTokenizer.from_pretrained(os.path.join(OUT, "clip_tokenizer"))
    lcfg = LlamaConfig(vocab_size=len(llama_tok), hidden_size=64, intermediate_size=88, num_hidden_layers=4,
                       num_attention_heads=4, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5,
                       max_position_embeddings=512, rope_theta=10000.0,
                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
                       attention_bias=False, mlp_bias=False, hidden_act="silu")
    lcfg._attn_implementation = "eager"
    llama = LlamaModel(lcfg).eval()
    randomize(llama)
    llama.save_pretrained(os.path.join(OUT, "text_encoder"), safe_serialization=True)

    ccfg = CLIPTextConfig(vocab_size=len(clip_tok), hidden_size=48, intermediate_size=72, num_hidden_layers=3,
                          num_attention_heads=3, max_position_embeddings=77, hidden_act="quick_gelu",
                          layer_norm_eps=1e-5, eos_token_id=2, bos_token_id=0, pad_token_id=1)
    ccfg._attn_implementation = "eager"
    clip = CLIPTextModel(ccfg).eval()
    randomize(clip)
    clip.save_pretrained(os.path.join(OUT, "text_encoder_2"), safe_serialization=True)

    ref = {}
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, lcfg.vocab_size, (2, 40), generator=g)
    mask = torch.ones(2, 40, dtype=torch.int64)
    mask[1, 29:] = 0
    ids[1, 29:] = llama_tok.pad_token_id
    with torch.no_grad():
        hs = llama(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    ref["llama_ids"], ref["llama_mask"] = ids.to(torch.int32), mask.to(torch.int32)
    for k, h in enumerate(hs):
        ref["llama_hidden_%d" % k] = h.float().contiguous()

    cids = torch.randint(0, ccfg.vocab_size - 2, (2, 77), generator=g)
    cids[0, 30], cids[1, 76] = ccfg.vocab_size - 1, ccfg.vocab_size - 1  # <|endoftext|>, the largest id
    with torch.no_grad():
        out = clip(input_ids=cids)
    ref["clip_ids"] = cids.to(torch.int32)
    ref["clip_hidden"], ref["clip_pooled"] = out.last_hidden_state.contiguous(), out.pooler_output.contiguous()

    from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video import DEFAULT_PROMPT_TEMPLATE, HunyuanVideoPipeline
    pipe = types.SimpleNamespace(tokenizer=llama_tok, text_encoder=llama, tokenizer_2=clip_tok, text_encoder_2=clip,
                                 _execution_device=torch.device("cpu"))
    with torch.no_grad():
        for k, prompt in enumerate(PROMPTS):
            emb, m = HunyuanVideoPipeline._get_llama_prompt_embeds(
                pipe, prompt, DEFAULT_PROMPT_TEMPLATE, 1, device=torch.device("cpu"), dtype=torch.float32,
                max_sequence_length=256, num_hidden_layers_to_skip=2)
            ref["prompt_embeds_%d" % k], ref["prompt_mask_%d" % k] = emb.contiguous(), m.to(torch.int32).contiguous()
            ref["pooled_%d" % k] = HunyuanVideoPipeline._get_clip_prompt_embeds(
                pipe, prompt, 1, device=torch.device("cpu"), dtype=torch.float32, max_sequence_length=77).contiguous()
    save_file(ref, os.path.join(OUT, "reference.safetensors"), metadata={"prompt_%d" % k: p for k, p in enumerate(PROMPTS)})
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("wrote %s (%d bytes in all)" % (OUT, total))


if __name__ == "__main__":
    main()
