#!/usr/bin/env python3
"""Cross-checks the C tokenizer (through build/libvidsparse_bench.so, via ctypes)
against the tokenizers library on tokenizer.json layouts other than the
committed fixture: the transformers-5 T5 layout (WhitespaceSplit + Metaspace,
no byte fallback: fused unknowns), the legacy add_prefix_space field, and
prepend_scheme "first" without splitting. Not part of ctest (needs Python).

    cmake --build build --target vidsparse_bench && python3 tools/check_tokenizer_variants.py
"""
import ctypes, json, sys, random
sys.path.insert(0, __import__("os").path.dirname(__file__))
import make_tokenizer_fixtures as mf
from tokenizers import Tokenizer, normalizers, pre_tokenizers
lib = ctypes.CDLL("build/libvidsparse_bench.so")
lib.vs_tokenizer_load_json.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p]
lib.vs_tokenizer_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.POINTER(ctypes.c_int32)), ctypes.POINTER(ctypes.c_size_t)]
base = json.load(open("tests/data/tokenizer/tokenizer.json"))
pre = base["normalizer"]["normalizers"][0]
variants = {
  "v5_layout_no_byte_fallback": dict(normalizer=pre, pre_tokenizer={"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Metaspace","replacement":"\u2581","prepend_scheme":"always","split":True}]}, byte_fallback=False),
  "legacy_add_prefix_space": dict(normalizer=pre, pre_tokenizer={"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Metaspace","replacement":"\u2581","add_prefix_space":True}]}, byte_fallback=True),
  "first_scheme_nosplit": dict(normalizer=base["normalizer"], pre_tokenizer={"type":"Metaspace","replacement":"\u2581","prepend_scheme":"first","split":False}, byte_fallback=True),
}
rng = random.Random(5)
corpus = mf.SPECIAL + [" " + s for s in mf.SPECIAL] + [mf.random_string(rng) for _ in range(3000)]
for name, v in variants.items():
    d = json.loads(json.dumps(base))
    d["normalizer"] = v["normalizer"]; d["pre_tokenizer"] = v["pre_tokenizer"]; d["model"]["byte_fallback"] = v["byte_fallback"]
    text = json.dumps(d)
    try:
        ref = Tokenizer.from_str(text)
    except Exception as e:
        print(name, "tokenizers refuses:", e); continue
    tok = ctypes.c_void_p()
    b = text.encode()
    rc = lib.vs_tokenizer_load_json(ctypes.byref(tok), b, len(b), name.encode())
    assert rc == 0, rc
    bad = 0
    for s in corpus:
        ids = ctypes.POINTER(ctypes.c_int32)(); n = ctypes.c_size_t()
        sb = s.encode()
        assert lib.vs_tokenizer_encode(tok, sb, len(sb), ctypes.byref(ids), ctypes.byref(n)) == 0
        got = [ids[i] for i in range(n.value)]
        want = ref.encode(s).ids
        if got != want:
            bad += 1
            if bad <= 3: print("  ", name, repr(s[:60]), got[:20], want[:20])
    print(name, len(corpus), "strings,", bad, "differ")
