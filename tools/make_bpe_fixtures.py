#!/usr/bin/env python3
"""Writes the byte-level BPE tokenizer test assets under tests/data/hunyuan_text/:

  llama_tokenizer/tokenizer.json, tokenizer_config.json
        a small Llama-3-style tokenizer trained here with the tokenizers library:
        Llama 3's pre-tokenizer regex (Split, isolated) then ByteLevel, BPE with
        ignore_merges, its special tokens (<|begin_of_text|>, <|eot_id|>, ...) and
        the "<|begin_of_text|> $A" template; a few whole words sit in the
        vocabulary without merges, so ignore_merges matters
  clip_tokenizer/vocab.json, merges.txt, tokenizer.json
        a small CLIP-style BPE (lower-cased training text, CLIP's regex, "</w>"
        word ends, every byte and byte</w> in the vocabulary); tokenizer.json is
        what transformers' CLIPTokenizer builds from vocab.json + merges.txt
  fuzz/corpus/bpe/
        seeds of fuzz/fuzz_bpe.c: small tokenizers of both kinds ('J' tokenizer.json NUL text,
        'V' vocab.json NUL merges.txt NUL text)
  bpe_corpus.bin
        10,000+ varied strings with the ids of both (special tokens added):
    "VSBP" u32 version=1 u32 count
    per string: u32 nbytes, bytes (UTF-8), u32 n_llama, u16 ids[], u32 n_clip, u16 ids[]

The strings come from tools/make_tokenizer_fixtures.py's generator plus
contractions, special tokens and long runs. CPU only. The BPE trainer may
order merges of equal count differently between runs, so rerun
tools/make_hunyuan_text_fixtures.py after this script:

    /work/venv/bin/python tools/make_bpe_fixtures.py
"""
import io
import json
import os
import random
import struct
import sys

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixtures import SPECIAL, random_sentence, random_string  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "data", "hunyuan_text")

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                   "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|step_id|>",
                   "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
# Whole words added to the Llama vocabulary without merges (ignore_merges finds them).
DIRECT_WORDS = ["\u0120cinematic", "\u0120astronaut", "camera", "\u0120skateboard"]

EXTRA = [
    "it's", "IT'S", "we're", "they've", "I'm", "you'll", "he'd", "don't", "DON'T", "it\u2019s", "'s", "'S",
    "x'\u017f", "'\u017ft", "''s", "'''", "a'b'c", "'ll'll", "'d'", "He said 'hello'", "rock'n'roll",
    "<|begin_of_text|>", "<|eot_id|>a<|eot_id|>", "x<|start_header_id|>user<|end_header_id|>\n\nhi",
    "<|startoftext|>", "<|endoftext|>", "<|STARTOFTEXT|>", "a<|endoftext|>b", "<|endoftext", "<|end_of_text|",
    "12345678", "3.14159", "1,000,000", "\u0661\u0662\u0663\u0664", "\u00b2\u00b3", "v1.2.3-rc4",
    "\r\n\r\n", " \n \n ", "a  \n  b", "a\r\rb", "\t\tx", "x  ", "x \u3000y", " \u00a0x", "\n\n\nx",
    "....!!!???", "--->", "(a)[b]{c}", "$100 & 50%", "email@example.com", "https://example.com/a?b=c",
    "Hello WORLD HeLLo", "\u0130stanbul", "\u1e9e\u00df", "\u03a3\u0391\u03a3", "\u2126\u212b",
    "Cafe\u0301 cafe\u0301", "A\u030a", "\u1100\u1161\u11a8", "\uff21\uff22\uff23",
]


def corpus_lines(rng, n):
    return [random_sentence(rng) for _ in range(n)]


def train_llama(lines):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    trainer = trainers.BpeTrainer(vocab_size=3000, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    spec = json.loads(tok.to_str())
    vocab, merges = spec["model"]["vocab"], spec["model"]["merges"]
    for w in DIRECT_WORDS:
        vocab.setdefault(w, len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]
    model = models.BPE(vocab=vocab, merges=merges, ignore_merges=True)
    out = Tokenizer(model)
    out.pre_tokenizer = tok.pre_tokenizer
    out.decoder = decoders.ByteLevel()
    out.add_special_tokens(LLAMA3_SPECIALS)
    bos = out.token_to_id("<|begin_of_text|>")
    out.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
        special_tokens=[("<|begin_of_text|>", bos)])
    return out


def train_clip(lines, path):
    tok = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    clip = (r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]"
            r"|[^\s\p{L}\p{N}]+")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(clip), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    trainer = trainers.BpeTrainer(vocab_size=2500, min_frequency=2, show_progress=False,
                                  end_of_word_suffix="</w>", initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([" ".join(l.lower().split()) for l in lines], trainer)
    spec = json.loads(tok.to_str())
    trained, merges = spec["model"]["vocab"], spec["model"]["merges"]
    # CLIP's layout: every byte character, then each with </w>, then the merges' results, specials last.
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {}
    for ch in alphabet + [c + "</w>" for c in alphabet]:
        vocab.setdefault(ch, len(vocab))
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    for t in sorted(trained, key=trained.get):
        vocab.setdefault(t, len(vocab))
    for t in ["<|startoftext|>", "<|endoftext|>"]:
        vocab.setdefault(t, len(vocab))
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(path, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("%s %s\n" % (a, b))
    from transformers import CLIPTokenizer
    clip_tok = CLIPTokenizer.from_pretrained(path)
    clip_tok.backend_tokenizer.save(os.path.join(path, "tokenizer.json"))
    return clip_tok


def main():
    rng = random.Random(2024)
    lines = corpus_lines(rng, 20000)
    lpath = os.path.join(OUT, "llama_tokenizer")
    os.makedirs(lpath, exist_ok=True)
    llama = train_llama(lines)
    llama.save(os.path.join(lpath, "tokenizer.json"))
    with open(os.path.join(lpath, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|begin_of_text|>",
                   "eos_token": "<|eot_id|>", "pad_token": "<|finetune_right_pad_id|>",
                   "padding_side": "right", "model_max_length": 131072}, f, indent=2)
    clip = train_clip(lines, os.path.join(OUT, "clip_tokenizer"))
    llama = Tokenizer.from_file(os.path.join(lpath, "tokenizer.json"))  # as a user would load it

    rng = random.Random(77)
    corpus = EXTRA + SPECIAL + [" " + s + " " for s in SPECIAL] + [s.upper() for s in EXTRA]
    corpus += ["x" * 3000, "\u00e9" * 2000, "日本" * 800, "a1" * 900, " " * 500, "\n" * 300 + "z"]
    while len(corpus) < 10200:
        s = random_string(rng)
        if rng.random() < 0.1:  # special tokens and contractions inside ordinary text
            k = rng.randrange(len(s) + 1)
            s = s[:k] + rng.choice(EXTRA[:40]) + s[k:]
        corpus.append(s)
    out = io.BytesIO()
    out.write(b"VSBP" + struct.pack("<II", 1, len(corpus)))
    for s in corpus:
        a = llama.encode(s).ids
        b = clip(s)["input_ids"]
        raw = s.encode("utf-8")
        out.write(struct.pack("<I", len(raw)) + raw)
        out.write(struct.pack("<I%dH" % len(a), len(a), *a))
        out.write(struct.pack("<I%dH" % len(b), len(b), *b))
    with open(os.path.join(OUT, "bpe_corpus.bin"), "wb") as f:
        f.write(out.getvalue())
    print("%d strings; corpus %d bytes" % (len(corpus), out.tell()), file=sys.stderr)
    write_fuzz_seeds(lines)


def write_fuzz_seeds(lines):
    """Small tokenizers (a few hundred tokens) with texts, for fuzz/fuzz_bpe.c."""
    seeds = os.path.join(ROOT, "fuzz", "corpus", "bpe")
    os.makedirs(seeds, exist_ok=True)
    texts = ["a cat it's <|eot_id|>\r\n 123456 caf\u00e9 \u65e5\u672c \U0001f600", "<|startoftext|>X  y'LL", ""]
    small = lines[:300]
    llama = Tokenizer(models.BPE())
    llama.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    llama.train_from_iterator(small, trainers.BpeTrainer(vocab_size=320, show_progress=False,
                                                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    llama.add_special_tokens(["<|begin_of_text|>", "<|eot_id|>"])
    llama.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                         special_tokens=[("<|begin_of_text|>", 320)])
    clip_dir = os.path.join(OUT, "clip_tokenizer")
    from transformers import CLIPTokenizer
    clip_json = CLIPTokenizer.from_pretrained(clip_dir).backend_tokenizer.to_str()
    vocab = json.load(open(os.path.join(clip_dir, "vocab.json"), encoding="utf-8"))
    merges = open(os.path.join(clip_dir, "merges.txt"), encoding="utf-8").read().split("\n")[:60]
    small_vocab = {t: i for t, i in vocab.items() if i < 512 or t in ("<|startoftext|>", "<|endoftext|>")}
    keep = ["#version: 0.2"] + [m for m in merges[1:] if m and all(x in small_vocab for x in m.split(" ")) and
                                 "".join(m.split(" ")) in small_vocab]
    for k, text in enumerate(texts):
        t = text.encode("utf-8")
        with open(os.path.join(seeds, "llama_%d" % k), "wb") as f:
            f.write(b"J" + llama.to_str().encode("utf-8") + b"\0" + t)
        with open(os.path.join(seeds, "clip_vocab_%d" % k), "wb") as f:
            f.write(b"V" + json.dumps(small_vocab, ensure_ascii=False).encode("utf-8") + b"\0" +
                    "\n".join(keep).encode("utf-8") + b"\0" + t)
    if len(clip_json) < 60000:
        with open(os.path.join(seeds, "clip_json"), "wb") as f:
            f.write(b"J" + clip_json.encode("utf-8") + b"\0" + texts[0].encode("utf-8"))


if __name__ == "__main__":
    main()
