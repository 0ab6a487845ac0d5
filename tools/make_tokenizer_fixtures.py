#!/usr/bin/env python3
"""Writes the tokenizer test assets under tests/data/tokenizer/:

  spiece.model      a small SentencePiece unigram model trained here (nmt_nfkc
                    normalization, byte fallback, T5 ids: pad 0, eos 1, unk 2)
  tokenizer.json    the same model converted to the Hugging Face tokenizers
                    format with transformers' T5 converter (byte fallback kept)
  corpus.bin        10,000+ varied strings and the reference ids of both
                    libraries (EOS appended, no truncation):

    "VSTK" u32 version=1 u32 count
    per string: u32 nbytes, bytes (UTF-8),
                u32 n_spm, u16 ids[n_spm]          (sentencepiece + eos)
                u32 n_hf,  u16 ids[n_hf]           (tokenizers, add_special_tokens)
                (n_hf = 0xFFFFFFFF means "same as the spm ids")

  padded.bin        pipeline-style encodings (padding="max_length",
                    max_length=512, truncation=True) of a few strings:
    "VSTP" u32 version=1 u32 count u32 max_length
    per string: u32 nbytes, bytes, u16 ids[max_length], u8 mask[max_length]

Needs sentencepiece, tokenizers and transformers (CPU only; nothing is
downloaded). Deterministic:

    python3 tools/make_tokenizer_fixtures.py
"""
import io
import os
import random
import struct
import sys
import tempfile

import sentencepiece as spm

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "data", "tokenizer")

ENGLISH = """a camera slowly pans across a quiet mountain lake at sunrise while mist rises
from the water and birds fly over the pine trees in the distance the scene is shot
in cinematic lighting with soft shadows warm colors and a shallow depth of field a
cat wearing sunglasses rides a skateboard through a busy city street people walk by
cars honk and neon signs reflect on the wet pavement after the rain a golden
retriever runs along the beach chasing waves the ocean sparkles under a bright blue
sky with white clouds an astronaut floats inside a space station looking at the earth
through a round window close up of hands kneading dough on a wooden table flour dust
in the air time lapse of flowers blooming in a garden vivid colors high detail 4k
ultra realistic photography style anime style oil painting watercolor sketch""".split()

LATIN_ACCENTED = ("café naïve résumé façade über straße München Ærø señor niño acción "
                  "São Paulo coração crème brûlée déjà vu Dvořák Łódź Kraków Ångström "
                  "Tiếng Việt phở Hà Nội İstanbul ağaç çiçek ğ ı Søren Zürich").split()

CJK = ("日本語 東京 大阪 京都 中文 北京 上海 深圳 猫 犬 山 川 海 空 雨 雪 花 月 星 光 影 "
       "映像 動画 生成 拡散 模型 人工 智能 视频 扩散 模型 生成 一只 猫 在 草地 上 奔跑 "
       "ひらがな カタカナ ｶﾀｶﾅ こんにちは ありがとう 한국어 안녕하세요 감사합니다 비디오").split()

SPECIAL = [
    "e\u0301", "e\u0301\u0323", "\uff45\u0301", "a\u0308", "o\u0302\u0301", "\u1100\u1161",
    "\u1100\u1161\u11a8", "\u1112\u1161\u11ab\u1100\u1173\u11af", "\ufb01", "\u00b2", "\u2460", "\u216b",
    "\u338f", "\ufdfa", "\u00bd", "\u2122", "\u3000", "\u00a0", "\u200b", "\u200d", "\ufeff",
    "\u2028", "\u0085", "\t", "\n", "\r\n", "\x00", "\x01", "\x1f", "\x7f", "\u2581", "\u2581\u2581",
    "</s>", "<pad>", "<unk>", "<0x41>", "<s>", "\U0001f600", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\U0001f44d\U0001f3fd", "\U0001f1ef\U0001f1f5", "\U0001f1ef\U0001f1f5\U0001f1fa", "1\ufe0f\u20e3",
    "\u2764\ufe0f", "\U0001f3f3\ufe0f\u200d\U0001f308", "\u0915\u094d\u0937", "\u0928\u092e\u0938\u094d\u0924\u0947",
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35", "\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd",
    "\ue000", "\uffff", "\U0010ffff", "\ufffd", "\u0378", "\U00050000", "\uff21\uff22\uff23", "\uff10\uff11",
    "\u2000", "\u205f", "\u1680", "\u0301", "\u0301a", "\u200d\u200d", "\U0001f9d1\U0001f3fb\u200d\U0001f4bb",
    "\u0627\u0644\u0644\u0647", "\ufe8d", "\u2126", "\u212b", "\u1e9b\u0323", "\u0041\u030a", "\u00c5",
    "\u3131", "\uffa1", "\u00df", "\u0130", "\u03a3\u03b1", "\u0444\u043e\u0442\u043e", "  ", "   ",
]


def random_code_point(rng):
    while True:
        block = rng.choice([(0x20, 0x7e), (0xa0, 0x24f), (0x300, 0x36f), (0x370, 0x52f), (0x590, 0x6ff),
                            (0x900, 0x97f), (0xe00, 0xe7f), (0x1100, 0x11ff), (0x2000, 0x206f),
                            (0x2100, 0x24ff), (0x3000, 0x30ff), (0x3130, 0x318f), (0x3300, 0x33ff),
                            (0x4e00, 0x9fff), (0xac00, 0xd7a3), (0xf900, 0xfaff), (0xfb00, 0xfdff),
                            (0xfe00, 0xffef), (0x1f300, 0x1faff), (0x1d400, 0x1d7ff), (0x0, 0x1f)])
        cp = rng.randint(*block)
        if not 0xd800 <= cp < 0xe000:
            return chr(cp)


def random_string(rng):
    kind = rng.random()
    if kind < 0.03:
        return ""
    if kind < 0.06:
        return "".join(rng.choice(" \t\n\u3000\u00a0") for _ in range(rng.randint(1, 6)))
    if kind < 0.07:  # long prompt: one or two KB
        return " ".join(random_sentence(rng) for _ in range(rng.randint(10, 30)))
    if kind < 0.22:  # random code points
        return "".join(random_code_point(rng) for _ in range(rng.randint(1, 16)))
    return random_sentence(rng)


def random_sentence(rng):
    parts = []
    for _ in range(rng.randint(1, 10)):
        r = rng.random()
        if r < 0.55:
            w = rng.choice(ENGLISH)
            if rng.random() < 0.1:
                w = w.capitalize()
            if rng.random() < 0.05:
                w = w.upper()
        elif r < 0.68:
            w = rng.choice(LATIN_ACCENTED)
        elif r < 0.80:
            w = rng.choice(CJK)
        elif r < 0.95:
            w = rng.choice(SPECIAL)
        else:
            w = str(rng.randint(0, 100000))
        parts.append(w)
        parts.append(rng.choice([" ", " ", " ", " ", "", "  ", ", ", ". ", "\t", "\n", "!", "? "]))
    s = "".join(parts)
    if rng.random() < 0.15:
        s = rng.choice([" ", "  ", "\t", "\u3000"]) + s
    if rng.random() < 0.15:
        s = s + rng.choice([" ", "  ", "\n", "\u00a0"])
    return s


def train(tmp):
    rng = random.Random(1234)
    lines = [random_sentence(rng) for _ in range(20000)]
    path = os.path.join(tmp, "train.txt")
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line.replace("\n", " ").replace("\r", " ") + "\n")
    spm.SentencePieceTrainer.train(
        input=path, model_prefix=os.path.join(tmp, "spiece"), vocab_size=2000, model_type="unigram",
        byte_fallback=True, normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        character_coverage=0.9995, minloglevel=2, num_threads=1)
    # The model records where it was trained; blank the temporary paths so the asset is reproducible.
    from sentencepiece import sentencepiece_model_pb2
    proto = sentencepiece_model_pb2.ModelProto()
    with open(os.path.join(tmp, "spiece.model"), "rb") as f:
        proto.ParseFromString(f.read())
    del proto.trainer_spec.input[:]
    proto.trainer_spec.model_prefix = "spiece"
    return proto.SerializeToString()


def convert(model_path):
    """transformers' T5 converter applied to the trained model, keeping byte fallback."""
    from transformers.convert_slow_tokenizer import T5Converter

    class Original:  # the attributes the converter reads from a slow tokenizer
        vocab_file = model_path
        _extra_ids = 0
        legacy = True
        add_prefix_space = True

        def convert_tokens_to_ids(self, token):
            return {"<pad>": 0, "</s>": 1, "<unk>": 2}[token]

    class Converter(T5Converter):
        handle_byte_fallback = True

    return Converter(Original()).converted()


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model = train(tmp)
    model_path = os.path.join(OUT, "spiece.model")
    with open(model_path, "wb") as f:
        f.write(model)
    fast = convert(model_path)
    fast.save(os.path.join(OUT, "tokenizer.json"))

    from tokenizers import Tokenizer
    fast = Tokenizer.from_file(os.path.join(OUT, "tokenizer.json"))  # as a user would load it
    sp = spm.SentencePieceProcessor(model_file=model_path)
    eos = sp.eos_id()

    rng = random.Random(99)
    corpus = [s for s in SPECIAL] + [" " + s + " " for s in SPECIAL]
    while len(corpus) < 10000:
        corpus.append(random_string(rng))

    out = io.BytesIO()
    out.write(b"VSTK" + struct.pack("<II", 1, len(corpus)))
    differ = 0
    for s in corpus:
        ids_spm = sp.encode(s) + [eos]
        ids_hf = fast.encode(s).ids
        b = s.encode("utf-8")
        out.write(struct.pack("<I", len(b)) + b)
        out.write(struct.pack("<I%dH" % len(ids_spm), len(ids_spm), *ids_spm))
        if ids_hf == ids_spm:
            out.write(struct.pack("<I", 0xFFFFFFFF))
        else:
            differ += 1
            out.write(struct.pack("<I%dH" % len(ids_hf), len(ids_hf), *ids_hf))
    with open(os.path.join(OUT, "corpus.bin"), "wb") as f:
        f.write(out.getvalue())

    # Pipeline-style: the Wan pipeline calls the tokenizer with these arguments.
    from transformers import PreTrainedTokenizerFast
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(OUT, "tokenizer.json"), eos_token="</s>",
                                  unk_token="<unk>", pad_token="<pad>")
    max_length = 512
    prompts = ["", "a cat", "A  cat\twearing  sunglasses 日本語 \U0001f600",
               " ".join(ENGLISH) * 3, "\u00e9" * 700 + " end"]
    out = io.BytesIO()
    out.write(b"VSTP" + struct.pack("<III", 1, len(prompts), max_length))
    for p in prompts:
        enc = tok(p, padding="max_length", max_length=max_length, truncation=True, add_special_tokens=True,
                  return_attention_mask=True)
        b = p.encode("utf-8")
        out.write(struct.pack("<I", len(b)) + b)
        out.write(struct.pack("<%dH" % max_length, *enc["input_ids"]))
        out.write(struct.pack("<%dB" % max_length, *enc["attention_mask"]))
    with open(os.path.join(OUT, "padded.bin"), "wb") as f:
        f.write(out.getvalue())

    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print("%d strings, %d where tokenizers and sentencepiece differ; %s: %d bytes" %
          (len(corpus), differ, OUT, total), file=sys.stderr)


if __name__ == "__main__":
    main()
