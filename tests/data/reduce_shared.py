#!/usr/bin/env python3
"""Makes tests/data/ from ../shared/data/ (run from the repository root; needs only python3).

The shared reference data is ~22 MB; the tests need a representative part of it and must not
depend on ../shared. For ml_dtypes every type keeps its whole decode table, the first 4096
inputs (every representable value, every midpoint and its float32 neighbours), the last 64
(out-of-range values and specials) and every 16th of the random inputs between them.
For the LLM-FP4 reference fake-quantizer every case keeps every 16th of its 20,000 inputs.
"""
import json
import os
import struct
import sys

SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join("..", "shared", "data")
OUT = os.path.join("tests", "data")


def keep_index(i, n):
    return i < 4096 or i >= n - 64 or i % 16 == 0


def reduce_mldtypes():
    src = os.path.join(SHARED, "mldtypes")
    dst = os.path.join(OUT, "mldtypes")
    os.makedirs(dst, exist_ok=True)
    summary = json.load(open(os.path.join(src, "summary.json")))
    names = sorted(summary["formats"])
    for name in names:
        base = os.path.join(src, name)
        outs = open(base + ".out.u8", "rb").read()
        ins = open(base + ".in.u32", "rb").read()
        n = len(outs)
        assert len(ins) == 4 * n
        idx = [i for i in range(n) if keep_index(i, n)]
        with open(os.path.join(dst, name + ".in.u32"), "wb") as f:
            f.write(b"".join(ins[4 * i:4 * i + 4] for i in idx))
        with open(os.path.join(dst, name + ".out.u8"), "wb") as f:
            f.write(bytes(outs[i] for i in idx))
        with open(os.path.join(dst, name + ".decode.f32"), "wb") as f:
            f.write(open(base + ".decode.f32", "rb").read())
    with open(os.path.join(dst, "formats.txt"), "w") as f:
        f.write("\n".join(names) + "\n")


def reduce_llmfp4():
    src = os.path.join(SHARED, "llmfp4")
    dst = os.path.join(OUT, "llmfp4")
    os.makedirs(dst, exist_ok=True)
    summary = json.load(open(os.path.join(src, "summary.json")))
    lines = []
    for case in summary["cases"]:
        key = case["key"]
        x = open(os.path.join(src, key + ".x.f32"), "rb").read()
        y = open(os.path.join(src, key + ".y.f32"), "rb").read()
        n = len(x) // 4
        idx = range(0, n, 16)
        with open(os.path.join(dst, key + ".xy.f32"), "wb") as f:
            for i in idx:
                f.write(x[4 * i:4 * i + 4] + y[4 * i:4 * i + 4])
        lines.append("%s %d %d %r" % (key, case["E"], case["M"], case["bias"]))
    with open(os.path.join(dst, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    reduce_mldtypes()
    reduce_llmfp4()
