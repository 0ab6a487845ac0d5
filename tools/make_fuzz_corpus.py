#!/usr/bin/env python3
"""Writes the seed corpus of fuzz/fuzz_safetensors.c to fuzz/corpus/safetensors/:
one valid small file and one file per class of malformation the reader must
reject. Plain Python (struct + json), deterministic.

    python3 tools/make_fuzz_corpus.py [OUT_DIR]
"""
import json
import os
import shutil
import struct
import sys


def image(header, data=b"", length=None):
    """8-byte little-endian header length, the header text, then data."""
    if not isinstance(header, bytes):
        header = json.dumps(header, separators=(",", ":")).encode()
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def tensor(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def valid_header():
    return {
        "__metadata__": {"format": "pt"},
        "w": tensor("F32", [2, 3], 0, 24),
        "h": tensor("BF16", [2, 2], 24, 32),
        "f": tensor("F16", [3], 32, 38),
        "q": tensor("F8_E4M3", [2], 38, 40),
        "ids": tensor("I64", [1], 40, 48),
        "n": tensor("I32", [], 48, 52),
        "b": tensor("U8", [1, 1, 1, 1, 4], 52, 56),
        "empty": tensor("F32", [0, 7], 56, 56),
    }


DATA = bytes(range(56))


def cases():
    yield "valid", image(valid_header(), DATA)
    yield "valid_padded", image(json.dumps(valid_header()).encode() + b"       ", DATA)
    yield "valid_empty", image(b"{}")
    yield "truncated_length", struct.pack("<Q", 10)[:5]
    yield "truncated_header", image(valid_header(), DATA)[:40]
    yield "truncated_data", image(valid_header(), DATA)[:-3]
    yield "header_length_1", image(b"{}", length=1)
    yield "huge_header_length", image(b"{}", length=100_000_001)
    yield "max_header_length", image(b"{}", length=2**64 - 1)
    yield "header_past_end", image(b"{}", length=50)
    yield "not_json", image(b"{\"w\":")
    yield "header_is_array", image(b"[1,2,3]")
    yield "bad_utf8_name", image(b'{"\xc3\x28":' + json.dumps(tensor("U8", [1], 0, 1)).encode() + b"}", b"\0")
    yield "overlong_utf8", image(b'{"\xc0\xaf":' + json.dumps(tensor("U8", [1], 0, 1)).encode() + b"}", b"\0")
    yield "surrogate_escape", image(b'{"\\ud800":' + json.dumps(tensor("U8", [1], 0, 1)).encode() + b"}", b"\0")
    yield "deep_nesting", image(b"{\"__metadata__\":" + b"[" * 100 + b"]" * 100 + b"}")
    yield "wrong_dtype", image({"w": tensor("F64", [1], 0, 8)}, bytes(8))
    yield "dtype_not_string", image({"w": {"dtype": 3, "shape": [1], "data_offsets": [0, 4]}}, bytes(4))
    yield "unknown_field", image({"w": dict(tensor("F32", [1], 0, 4), extra=1)}, bytes(4))
    yield "missing_field", image({"w": {"dtype": "F32", "shape": [1]}}, bytes(4))
    yield "shape_overflow", image({"w": tensor("F32", [2**32, 2**32], 0, 4)}, bytes(4))
    yield "shape_overflow_with_zero", image({"w": tensor("F32", [0, 2**40, 2**40], 0, 0)})
    yield "shape_huge_with_zero", image({"w": tensor("F32", [1, 2**60, 0], 0, 0)})  # found by the fuzzer
    yield "negative_dim", image({"w": tensor("F32", [-1], 0, 4)}, bytes(4))
    yield "too_many_dims", image({"w": tensor("U8", [1] * 6, 0, 1)}, b"\0")
    yield "size_mismatch", image({"w": tensor("F32", [2, 3], 0, 20)}, bytes(20))
    yield "offsets_past_end", image({"w": tensor("F32", [4], 0, 16)}, bytes(8))
    yield "offsets_huge", image({"w": tensor("U8", [1], 2**63 - 2, 2**63 - 1)}, b"\0")
    yield "offsets_reversed", image({"w": tensor("U8", [0], 4, 0)}, bytes(4))
    yield "overlapping_ranges", image({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 4, 12)}, bytes(12))
    yield "gap_between_ranges", image({"a": tensor("F32", [1], 0, 4), "b": tensor("F32", [1], 8, 12)}, bytes(12))
    yield "trailing_bytes", image({"a": tensor("F32", [1], 0, 4)}, bytes(12))
    yield "duplicate_name", image(b'{"a":' + json.dumps(tensor("F32", [1], 0, 4)).encode() + b',"a":'
                                  + json.dumps(tensor("F32", [1], 4, 8)).encode() + b"}", bytes(8))
    yield "metadata_not_object", image({"__metadata__": ["x"]})
    yield "metadata_not_strings", image({"__metadata__": {"k": 1}})
    yield "unaligned_data", image(b'{"h":' + json.dumps(tensor("BF16", [3], 0, 6)).encode() + b"} ", bytes(range(6)))
    # FP8 checkpoint layouts (docs/fp8.md): a per-tensor scale, a per-channel one, a bad one
    fp8 = bytes(range(32))
    yield "fp8_scaled", image({"l.weight": tensor("F8_E4M3", [2, 16], 0, 32),
                               "l.scale_weight": tensor("F32", [1], 32, 36)}, fp8 + struct.pack("<f", 0.5))
    yield "fp8_per_channel", image({"l.weight": tensor("F8_E4M3", [2, 16], 0, 32),
                                    "l.weight_scale": tensor("F32", [2], 32, 40)}, fp8 + struct.pack("<2f", 0.5, 2))
    yield "fp8_negative_scale", image({"l.weight": tensor("F8_E4M3", [2, 16], 0, 32),
                                       "l.scale_weight": tensor("F32", [], 32, 36)}, fp8 + struct.pack("<f", -1))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fuzz", "corpus", "safetensors")
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    for name, blob in cases():
        with open(os.path.join(out, name + ".safetensors"), "wb") as f:
            f.write(blob)
    print(f"wrote {len(list(cases()))} files to {os.path.abspath(out)}")


if __name__ == "__main__":
    main()
