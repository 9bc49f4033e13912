#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses: tests/fuzz/corpus/<harness>/seed-*.

Each seed is laid out as the harness reads its input (tests/fuzz/fuzz_common.h,
tests/fuzz/fuzz_case.h), so that fuzzing starts from every preset, the custom splits and
biases at the edges of validity, every pointer mode, the special scales and flags, and data
on the grid with its ties. Files not named seed-* (regression inputs of found defects) are
left alone. Run from anywhere: python3 tests/fuzz/gen_seeds.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

PRESETS = ["float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn", "float8_e3m4", "float8_e4m3",
           "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2",
           "float8_e5m2fnuz", "float8_e8m0fnu", "e3m0", "e1m2", "e0m3"]
IEEE, FN, FNUZ, FINITE, E8M0 = 1, 2, 3, 4, 5


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def f32(x):
    return struct.pack("<f", x)


def f32bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


# ---- the pieces fuzz_common.h reads -------------------------------------------------------

def fmt_preset(index):
    return u8(0) + u8(index)


def fmt_make(e, m, fam, signed, bias_delta=None):
    """fpq_format_make through fz_pick_format mode 1 (bias: default, or default + delta)."""
    out = u8(1) + u8(e) + u8(m) + u8(fam - 1) + u8(signed)
    if bias_delta is None:
        return out + u8(0)
    return out + u8(1) + struct.pack("<b", bias_delta)


def fmt_raw(e, m, bias, fam, signed, reserved=(0, 0, 0)):
    return u8(2) + struct.pack("<8i", e, m, bias, fam, signed, *reserved)


def fmt_perturbed(index, field, delta):
    return u8(3) + u8(index) + u8(field) + struct.pack("<b", delta)


def count(n):
    """fz_pick_n for 1 <= n <= 1200, or 'zero' / 'max' / 'overflow' / 'half'."""
    special = {"zero": 0, "max": 1, "overflow": 2, "half": 3}
    if n in special:
        return u16(0xE000 | special[n])
    if n <= 40:
        return u16(n - 1)
    return u16(0xC000 + (n - 1 - 0xC000) % 1200)


def flags(v, raw=False):
    if raw:
        return u8(0x80) + u32(v)
    return u8(v)


def scale_raw(bits):
    return u8(0) + u32(bits)


def scale_pow2(k):
    return u8(1) + struct.pack("<b", k)


def scale_one():
    return u8(2)


def scale_special(i):
    return u8(4) + u8(i)


def pointers(q=0, dq=0, fq=0, qp=0, dqp=0, fqp=0):
    return u8(q) + u8(qp) + u8(dq) + u8(dqp) + u8(fq) + u8(fqp)


def data_raw(values):
    """Raw float32 bits: floats or ints (bit patterns)."""
    out = u8(0)
    for v in values:
        out += u32(v) if isinstance(v, int) else f32(v)
    return out


def data_grid(pairs):
    """(value index, kind) pairs: fz_fill_data's grid mode."""
    out = u8(1)
    for idx, kind in pairs:
        out += u8(idx) + u8(kind)
    return out


SPECIAL_BITS = [0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF812345, 0x7FBFFFFF, 0x7F800000,
                0xFF800000, 0x80000000, 0x00000000, 0x00000001, 0x80000001, 0x007FFFFF,
                0x00400000, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x00C00000, 0x00600000,
                0x3F800000, 0xBF800000, 0x3FC00000, 0x40400000, 0xC0B00000, 0x41000000,
                0x43E00000, 0x47600000, 0x47700000, 0x7E800000, 0x00200000, 0x80400000]


def kernel_case(fmt, n, fl, sc, ptrs, data, codes=b""):
    return fmt + count(n) + fl + sc + ptrs + data + codes


def grid_all(n, kinds):
    pairs = []
    for i in range(n):
        pairs.append((i * 7 % 256, kinds[i % len(kinds)]))
    return data_grid(pairs)


def kernel_seeds():
    seeds = {}
    # every preset: grid data with values, ties, neighbours and specials, packed and not,
    # saturating and not
    ties = [0, 1, 2, 2 | 0x40, 3 | 0x80, 4, 4 | 0x40, 5, 6, 6 | 0x08, 6 | 0x10, 7 | 0x28, 1 | 0x80]
    for i, name in enumerate(PRESETS):
        fl = [0, 2, 1, 3][i % 4]
        seeds["preset-%s" % name] = kernel_case(
            fmt_preset(i), 37 + i, flags(fl), scale_pow2(i % 5 - 2), pointers(),
            grid_all(37 + i, ties), bytes(range(200, 256)))
        seeds["preset-%s-raw" % name] = kernel_case(
            fmt_preset(i), len(SPECIAL_BITS), flags(2 if i % 2 else 0),
            scale_one(), pointers(), data_raw(SPECIAL_BITS), bytes(range(0, 256, 3)))
    # long arrays (the table and vector paths, several 256-element blocks)
    seeds["long-e4m3fn-1100"] = kernel_case(
        fmt_preset(5), 1100, flags(2), scale_raw(f32bits(0.37)), pointers(),
        grid_all(300, ties))
    seeds["long-e2m1-777-unpacked"] = kernel_case(
        fmt_preset(0), 777, flags(1), scale_pow2(-3), pointers(), grid_all(100, ties))
    seeds["long-e3m2-300"] = kernel_case(
        fmt_preset(2), 300, flags(0), scale_raw(f32bits(1.7)), pointers(), data_raw([]))
    # custom splits: unsigned IEEE, unsigned FN, E = 0, E8M0, 1-bit, biases at the edges
    customs = [
        ("ieee-e3m2-unsigned", fmt_make(3, 2, IEEE, 0)),
        ("fn-e2m0-unsigned", fmt_make(2, 0, FN, 0)),
        ("fn-e1m1-signed", fmt_make(1, 1, FN, 1)),
        ("finite-e0m1-unsigned", fmt_make(0, 1, FINITE, 0)),
        ("finite-e0m7-signed", fmt_make(0, 7, FINITE, 1)),
        ("finite-e1m0-unsigned", fmt_make(1, 0, FINITE, 0)),
        ("fnuz-e7m0", fmt_make(7, 0, FNUZ, 1)),
        ("ieee-e5m2-bias-high", fmt_make(5, 2, IEEE, 1, 100)),
        ("finite-e4m3-bias-low", fmt_make(4, 3, FINITE, 1, -100)),
        ("finite-e7m0-unsigned", fmt_make(7, 0, FINITE, 0)),
        ("e8m0-make", fmt_make(8, 0, E8M0, 0)),
    ]
    for i, (name, fm) in enumerate(customs):
        seeds["custom-" + name] = kernel_case(
            fm, 29, flags(i % 4), scale_pow2(1 - i % 3), pointers(), grid_all(29, ties),
            bytes(range(255, 0, -9)))
    # E8M0 around 2^-127 and 2^127 (subnormal quotients, the 1.5 * 2^-127 tie, zero, negatives)
    e8 = [0x00400000, 0x00600000, 0x005FFFFF, 0x00600001, 0x00000001, 0x00000000, 0x80000000,
          0xBF800000, 0x7F000000, 0x7F400000, 0x7F3FFFFF, 0x7F7FFFFF, 0x7F800000, 0x7FC00000,
          0x3FC00000, 0x3FBFFFFF, 0x00800000, 0x00C00000]
    seeds["e8m0-edges-sat"] = kernel_case(fmt_preset(10), len(e8), flags(0), scale_one(),
                                          pointers(), data_raw(e8))
    seeds["e8m0-edges-nosat"] = kernel_case(fmt_preset(10), len(e8), flags(2), scale_one(),
                                            pointers(), data_raw(e8))
    # errors, in the documented order
    seeds["err-null-fmt"] = kernel_case(fmt_preset(0), 8, flags(0), scale_one(),
                                        pointers(14, 14, 14, 0, 0, 0), data_raw([1.0] * 8))
    seeds["err-null-in"] = kernel_case(fmt_preset(1), 8, flags(0), scale_one(),
                                       pointers(14, 14, 14, 1, 1, 1), data_raw([1.0] * 8))
    seeds["err-null-out"] = kernel_case(fmt_preset(2), 8, flags(0), scale_one(),
                                        pointers(14, 14, 14, 2, 2, 2), data_raw([1.0] * 8))
    seeds["err-format-raw"] = kernel_case(fmt_raw(9, 0, 0, IEEE, 1), 8, flags(0), scale_one(),
                                          pointers(), data_raw([1.0] * 8))
    seeds["err-format-reserved"] = kernel_case(fmt_perturbed(5, 6, 1), 8, flags(0),
                                               scale_one(), pointers(), data_raw([1.0] * 8))
    seeds["err-format-bias"] = kernel_case(fmt_perturbed(8, 2, 120), 8, flags(0), scale_one(),
                                           pointers(), data_raw([1.0] * 8))
    seeds["err-size-zero"] = kernel_case(fmt_preset(3), "zero", flags(0), scale_one(),
                                         pointers(), data_raw([1.0] * 8))
    seeds["err-size-max"] = kernel_case(fmt_preset(3), "max", flags(0), scale_one(),
                                        pointers(), data_raw([1.0] * 8))
    seeds["err-size-overflow"] = kernel_case(fmt_preset(4), "overflow", flags(0), scale_one(),
                                             pointers(), data_raw([1.0] * 8))
    for i in range(0, 18, 3):
        seeds["err-scale-special-%d" % i] = kernel_case(
            fmt_preset(i % 14), 8, flags(0), scale_special(i), pointers(), data_raw([1.0] * 8))
    seeds["err-flags-unknown"] = kernel_case(fmt_preset(6), 8, flags(0x104, raw=True),
                                             scale_one(), pointers(), data_raw([1.0] * 8))
    seeds["err-align"] = kernel_case(fmt_preset(7), 9, flags(0), scale_one(),
                                     pointers(10, 11, 11, 1, 2, 3), data_raw([1.5] * 9))
    seeds["err-overlap-after"] = kernel_case(fmt_preset(8), 20, flags(0), scale_one(),
                                             pointers(12, 12, 12, 3, 1, 2), data_raw([2.5] * 20))
    seeds["err-overlap-before"] = kernel_case(fmt_preset(9), 20, flags(1), scale_one(),
                                              pointers(15, 15, 15, 0, 3, 7),
                                              data_raw([2.5] * 20))
    seeds["in-place"] = kernel_case(fmt_preset(11), 33, flags(2), scale_pow2(2),
                                    pointers(13, 0, 13), grid_all(33, ties))
    # scales that are not powers of two: the division path
    seeds["scale-third"] = kernel_case(fmt_preset(12), 40, flags(0), scale_raw(0x3EAAAAAB),
                                       pointers(), grid_all(40, ties))
    seeds["scale-tiny"] = kernel_case(fmt_preset(13), 24, flags(2), scale_raw(0x00800001),
                                      pointers(), data_raw(SPECIAL_BITS[:24]))
    seeds["scale-huge"] = kernel_case(fmt_preset(4), 24, flags(2), scale_raw(0x7F000001),
                                      pointers(), data_raw(SPECIAL_BITS[:24]))
    return seeds


def backend_prefix(env, name):
    return u8(env) + u8(len(name)) + name


def backend_seeds(kseeds):
    seeds = {}
    names = [b"avx512", b"avx2", b"neon", b"scalar", b"auto", b"AVX2", b"sse", b"", b"scalar\x00x",
             b"avx51", b"avx2 "]
    for i, (k, body) in enumerate(sorted(kseeds.items())):
        if i % 2 and not k.startswith("long"):
            continue
        seeds[k] = backend_prefix(i % 16, names[i % len(names)]) + body
    return seeds


def format_seeds():
    seeds = {}
    names = ["float4_e2m1fn", "FLOAT4_E2M1FN", "fp4_e2m1", "e2m1", "e2m1fn", "float6_e2m3",
             "fp6_e3m2fn", "e3m2", "float8_e3m4", "fp8_e4m3", "e4m3", "float8_e4m3fn",
             "e4m3fn", "float8_e4m3fnuz", "fp8_e4m3b11fnuz", "e4m3b11fnuz", "float8_e5m2",
             "e5m2fnuz", "float8_e8m0fnu", "e8m0fnu", "e8m0", "fp8_e8m0", "e3m0", "e1m2",
             "e0m3", "int4", "INT4", "float4_e3m0fn", "fp4_e1m2", "float8_e4m3fnx", "float16",
             "fp08_e4m3", "float4_e2m1fnfn", ""]
    for i, nm in enumerate(names):
        seeds["name-%02d" % i] = nm.encode() + b"\x00"
    # fpq_format_make: status-string u32, then E, M, family, signed, bias mode and delta
    def make(e, m, fam, s, mode, delta=b""):
        return u32(0) + u8(e + 2) + u8(m + 2) + u8(fam + 1) + u8(s + 1) + u8(mode) + delta

    cases = [
        ("e0m1-bias-m104", 0, 1, FINITE, 1, 0x40, struct.pack("<b", -104)),
        ("e0m1-bias-m105", 0, 1, FINITE, 1, 0x40, struct.pack("<b", -105)),
        ("e0m1-bias-m127", 0, 1, FINITE, 1, 0x40, struct.pack("<b", -127)),
        ("e0m3-bias-127", 0, 3, FINITE, 1, 0x40, struct.pack("<b", 127)),
        ("e1m1-bias-m103", 1, 1, FINITE, 1, 0x40, struct.pack("<b", -103)),
        ("e3m4-ieee-default", 3, 4, IEEE, 1, 0, b""),
        ("e8m0-default", 8, 0, E8M0, 0, 0, b""),
        ("e8m0-signed", 8, 0, E8M0, 1, 0, b""),
        ("fnuz-unsigned", 4, 3, FNUZ, 0, 0, b""),
        ("ieee-m0", 4, 0, IEEE, 1, 0, b""),
        ("fn-e1m0", 1, 0, FN, 1, 0, b""),
        ("finite-e0m0", 0, 0, FINITE, 0, 0, b""),
        ("width-9", 5, 3, FINITE, 1, 0, b""),
        ("bias-raw-huge", 4, 3, IEEE, 1, 0xC0, u32(0x7FFFFFF0)),
        ("bias-raw-default-sentinel", 2, 1, FINITE, 1, 0xC0, u32(0xFFFF8000)),
        ("family-6", 2, 1, 6, 1, 0, b""),
        ("signed-2", 2, 1, FINITE, 2, 0, b""),
    ]
    for name, e, m, fam, s, mode, delta in cases:
        # then check_format: values capacity, describe capacity, n, flags, maxval, scale, bias,
        # environment; then a preset index
        tail = (u8(255) + u8(10) + u8(1) + struct.pack("<Q", 12345) + u8(3) +
                u32(f32bits(6.0)) + u8(3) + u8(40) + u32(0x123456) + u8(2) + u16(300) + u8(5))
        seeds["make-" + name] = make(e, m, fam, s, mode, delta) + tail + u8(len(name) % 14)
    # raw descriptors
    raws = [(2, 1, 1, FINITE, 1), (4, 3, 7, FN, 1), (8, 0, 127, E8M0, 0), (8, 0, 126, E8M0, 0),
            (0, 3, 149, FINITE, 1), (0, 1, -127, FINITE, 1), (7, 0, 63, FINITE, 0),
            (5, 2, 15, IEEE, 0), (1, 6, 0, FNUZ, 1)]
    # With zero bytes, fpq_format_make's part reads 5 bytes and each check_format 25: the
    # raw descriptor starts at byte 60.
    for i, (e, m, b, fam, s) in enumerate(raws):
        raw = struct.pack("<8i", e, m, b, fam, s, 0, 0, 0)
        seeds["raw-%d" % i] = u32(i) + b"\x00" * 30 + u8(i) + b"\x00" * 25 + raw + b"\x00" * 30
    return seeds


# ---- fuzz_tensor (layout: tests/fuzz/fuzz_tensor.c, LLVMFuzzerTestOneInput's reading order) -

F32T, F16T, BF16T = 0, 3, 5            # element-type bytes
SC_F32, SC_E8M0, SC_E4M3 = 0, 3, 5     # scale-encoding bytes
TENSOR, ROW, COLUMN, BLOCK = 0, 1, 2, 3


def tensor_case(fmt, rows, cols, et=F32T, gran=TENSOR, block=2, stride=b"\x00", shape=b"\x00",
                tstruct=0, enc=SC_F32, sstruct=0, count=0, count_extra=b"", tscale=b"\x02",
                scales=None, fl=0, clip=0, misc=0x20, env=0, cap=0, data_mode=1,
                k=0, data=b"", version=b"\x03", convert=b"\x04\x01"):
    """rows / cols 1..64; stride: the stride byte (+ huge index); block: 8 << block;
    scales: the mode byte and what it reads (mode 0: a byte, then one byte per group);
    misc 0x20: quantize with compute_scales' scales; data_mode 1: byte / 16 * 2^k."""
    if scales is None:  # all equal: 1.0 (float32 via fz_pick_scale), 2^0 (E8M0), 1.0 (E4M3)
        scales = {SC_E8M0: b"\x02\x7f", SC_E4M3: b"\x02\x38"}.get(enc, b"\x01\x02")
    if not data:
        data = bytes((i * 37 + 11) & 0xFF for i in range(rows * cols))
    return (version + fmt + shape + stride + u8(rows - 1) + u8(cols - 1) + u8(et) + u8(gran)
            + u8(block) + u8(tstruct) + u8(enc) + u8(sstruct) + u8(count) + count_extra
            + tscale + scales + u8(fl) + u8(clip) + u8(misc) + u8(env) + u8(cap)
            + u8(data_mode) + struct.pack("<b", k) + data + convert)


def tensor_seeds():
    seeds = {}
    e2m1, e4m3fn, e8m0 = fmt_preset(0), fmt_preset(5), fmt_preset(10)
    for i, name in enumerate(PRESETS):
        seeds["preset-%s-row" % name] = tensor_case(fmt_preset(i), 5, 13, gran=ROW, k=i % 5)
    seeds["mxfp4-e8m0-block32"] = tensor_case(e2m1, 4, 64, gran=BLOCK, block=2, enc=SC_E8M0)
    seeds["mxfp8-e8m0-block32-bf16"] = tensor_case(e4m3fn, 3, 40, et=BF16T, gran=BLOCK, block=2,
                                                   enc=SC_E8M0)
    seeds["nvfp4-e4m3-block16"] = tensor_case(e2m1, 4, 48, gran=BLOCK, block=1, enc=SC_E4M3)
    seeds["nvfp4-given-codes"] = tensor_case(e2m1, 2, 16, gran=BLOCK, block=0, enc=SC_E4M3,
                                             scales=b"\x00\x00\x38\x40\x00\x7e", misc=0)
    seeds["e8m0-given-nan-and-zero"] = tensor_case(e2m1, 2, 16, gran=BLOCK, block=0,
                                                   enc=SC_E8M0, scales=b"\x00\x00\x00\xff\x7f\x80",
                                                   misc=0)
    seeds["e4m3-given-zero-code"] = tensor_case(e2m1, 1, 8, gran=TENSOR, enc=SC_E4M3,
                                                scales=b"\x00\x00\x00", misc=0)
    seeds["f16-per-column"] = tensor_case(fmt_preset(8), 6, 9, et=F16T, gran=COLUMN, k=3)
    seeds["bf16-per-tensor-raw"] = tensor_case(fmt_preset(4), 3, 7, et=BF16T, data_mode=0,
                                               data=bytes(range(0, 255, 6)))
    seeds["f32-raw-bits"] = tensor_case(fmt_preset(9), 4, 4, data_mode=0,
                                        data=b"".join(u32(b) for b in SPECIAL_BITS[:16]))
    seeds["f32-specials"] = tensor_case(fmt_preset(1), 8, 8, gran=ROW, data_mode=3)
    seeds["stride-padded"] = tensor_case(fmt_preset(2), 5, 6, gran=COLUMN, stride=u8(10 | 3 << 4))
    seeds["stride-below-cols"] = tensor_case(e2m1, 3, 8, stride=u8(13 | 1 << 4))
    seeds["stride-zero"] = tensor_case(e2m1, 3, 8, stride=u8(14), count_extra=b"\x00")
    seeds["rows-zero"] = tensor_case(e2m1, 3, 8, shape=u8(5 << 1 | 1), count_extra=b"\x00")
    seeds["huge-rows"] = tensor_case(e2m1, 3, 8, shape=u8(6 << 1 | 0x80) + u8(0),
                                     stride=b"\x00", count_extra=b"\x00")
    seeds["huge-cols"] = tensor_case(e2m1, 3, 8, shape=u8(7 << 1 | 0x80) + u8(1),
                                     count_extra=b"\x00")
    seeds["huge-stride"] = tensor_case(e2m1, 3, 8, stride=u8(15) + u8(2), count_extra=b"\x00")
    seeds["tensor-struct-short"] = tensor_case(e2m1, 2, 8, tstruct=12, count_extra=b"\x00")
    seeds["tensor-struct-long"] = tensor_case(e2m1, 2, 8, tstruct=14)
    seeds["tensor-reserved"] = tensor_case(e2m1, 2, 8, tstruct=15, count_extra=b"\x00")
    seeds["bad-block-size"] = tensor_case(e2m1, 2, 24, gran=BLOCK, block=0xc4,
                                          count_extra=b"\x00")
    seeds["bad-granularity"] = tensor_case(e2m1, 2, 8, gran=4, count_extra=b"\x00")
    seeds["bad-elem-type"] = tensor_case(e2m1, 2, 8, et=6, count_extra=b"\x00")
    seeds["bad-encoding"] = tensor_case(e2m1, 2, 8, enc=7)
    seeds["scales-struct-short"] = tensor_case(e2m1, 2, 8, sstruct=13)
    seeds["scales-null"] = tensor_case(e2m1, 2, 8, sstruct=0xf0)
    seeds["count-short"] = tensor_case(e2m1, 4, 8, gran=ROW, count=6 | 1 << 3)
    seeds["unknown-flags"] = tensor_case(e2m1, 2, 8, fl=0x84, misc=0) + u32(0x10)
    seeds["unpacked-nosat"] = tensor_case(fmt_preset(8), 3, 11, gran=ROW, fl=3, k=20)
    seeds["fp6-packed-odd"] = tensor_case(fmt_preset(1), 3, 5, gran=ROW, fl=0, k=2)
    seeds["clip-half"] = tensor_case(e2m1, 3, 12, gran=ROW, clip=4)
    seeds["clip-nan"] = tensor_case(e2m1, 3, 12, gran=ROW, clip=6 | 2 << 3)
    seeds["e8m0-clip-half"] = tensor_case(e2m1, 2, 32, gran=BLOCK, block=2, enc=SC_E8M0, clip=4)
    seeds["cap-short"] = tensor_case(e2m1, 3, 9, cap=6)
    seeds["cap-long"] = tensor_case(e2m1, 3, 9, cap=7 | 3 << 3)
    seeds["in-place"] = tensor_case(fmt_preset(6), 4, 10, gran=ROW, misc=0x60)
    seeds["misaligned"] = tensor_case(e2m1, 2, 8, misc=0x1f)
    seeds["env-upward-ftz"] = tensor_case(fmt_preset(8), 4, 10, gran=COLUMN, env=1 | 4 | 8, k=-30)
    seeds["e8m0-format-tensor"] = tensor_case(e8m0, 3, 10, gran=ROW, k=5)
    seeds["make-e3m2-unsigned"] = tensor_case(fmt_make(3, 2, FINITE, 0), 3, 10, gran=ROW)
    seeds["raw-invalid-format"] = tensor_case(fmt_raw(9, 1, 0, IEEE, 1), 2, 8)
    seeds["version-raw"] = tensor_case(e2m1, 1, 8, version=u8(1) + u32(0x7FFFFFFF))
    seeds["version-older-major"] = tensor_case(e2m1, 1, 8, version=u8(2) + u8(0xFF) + u8(1) + u8(0))
    seeds["convert-nan-patterns"] = tensor_case(
        e2m1, 1, 8, convert=u8(7) + u8(0) + b"".join(u16(h) for h in
                                                     (0x7C01, 0xFE00, 0x7F81, 0xFFC1, 0x8001,
                                                      0x7BFF, 0x0400, 0x7F7F)))
    return seeds


# ---- fuzz_reparam (tests/fuzz/fuzz_reparam.c) ---------------------------------------------

RP_FOLD, RP_QUANT, RP_OFFSETS = 0, 1, 2
RP_FAULTS = ["none", "null", "struct", "shape", "offset", "misalign", "overlap"]
RP_VALUES = [1.0, -3.5, 0.75, 2.0 ** -120, -(2.0 ** -140), 0.0, -0.0, float("inf"),
             float("-inf"), float("nan"), 3.4028234663852886e38, 6.0, -5.0, 0.25, 1e-30, 448.0]


def rp_head(op, fault="none", env=0):
    return u8(op) + u8(RP_FAULTS.index(fault)) + u8(env)


def rp_shape(rows, cols, pad=0):
    return u8(rows - 1) + u8(cols - 1) + u8(pad)


def rp_data(n, start=0):
    """The stream seed, then n raw float32 values (the tensor's span)."""
    return struct.pack("<Q", 0x5EED + start) + b"".join(
        f32(RP_VALUES[(start + i) % len(RP_VALUES)]) for i in range(n))


def rp_fold(fault="none", env=0, rows=2, cols=8, pad=1, offsets=None, in_place=False,
            extra=b""):
    offsets = offsets if offsets is not None else [0, 1, 2, 3, 126, 127, 200, 255][:cols]
    span = (rows - 1) * (cols + pad) + cols
    return (rp_head(RP_FOLD, fault, env) + rp_shape(rows, cols, pad) +
            b"".join(u8(k) for k in offsets) + u8(0 if in_place else 1) + rp_data(span) + extra)


def rp_quant(fmt, scale, fl, fault="none", env=0, rows=2, cols=12, pad=1, extra=b""):
    span = (rows - 1) * (cols + pad) + cols
    return (rp_head(RP_QUANT, fault, env) + fmt + scale + flags(fl) + rp_shape(rows, cols, pad) +
            b"".join(u8(c * 5) for c in range(cols)) + rp_data(span, 3) + extra)


def rp_bias(kind, v=0):
    """rp_pick_bias: 'raw' double, 'inf', '-inf', 'nan', 'half' (int8 / 2), 'fine'."""
    if kind == "raw":
        return u8(0) + struct.pack("<d", v)
    if kind == "inf":
        return u8(1)
    if kind in ("-inf", "nan"):
        return u8(2) + u8(1 if kind == "-inf" else 0)
    if kind == "half":
        return u8(3) + struct.pack("<b", v)
    return u8(4) + struct.pack("<b", v) + u8(0)


def rp_offsets(fmt, biases, adjust=None, env=0):
    out = rp_head(RP_OFFSETS, "none", env) + u8(len(biases) - 1) + fmt + b"".join(biases)
    return out + (u8(0) if adjust is None else u8(1) + struct.pack("<b", adjust))


def reparam_seeds():
    e2m1, e2m3, e4m3fn, e5m2, e8m0, e3m0, e0m3 = (fmt_preset(i) for i in (0, 1, 5, 8, 10, 11, 13))
    seeds = {
        "fold": rp_fold(),
        "fold-in-place": rp_fold(in_place=True),
        "fold-fpenv": rp_fold(env=0x0E),
        "fold-one-row": rp_fold(rows=1, cols=5, pad=0, offsets=[255, 255, 0, 1, 128]),
        "fold-null": rp_fold("null", rows=1, cols=4),
        "fold-struct": rp_fold("struct", rows=1, cols=4, extra=u8(0)),
        "fold-shape-cols": rp_fold("shape", rows=1, cols=4, extra=u8(1)),
        "fold-shape-stride": rp_fold("shape", rows=2, cols=4, extra=u8(0)),
        "fold-offset-256": rp_fold("offset", rows=1, cols=4, extra=u8(2) + u8(0)),
        "fold-offset-negative": rp_fold("offset", rows=1, cols=4, extra=u8(3) + u8(1)),
        "fold-misalign": rp_fold("misalign", rows=1, cols=4),
        "fold-overlap": rp_fold("overlap", rows=2, cols=4),
        "quant-e2m1": rp_quant(e2m1, scale_pow2(-2), 0),
        "quant-e2m1-unpacked-fpenv": rp_quant(e2m1, scale_raw(f32bits(0.37)), 1, env=0x0D),
        "quant-e2m3": rp_quant(e2m3, scale_one(), 0),
        "quant-e4m3fn-nosat": rp_quant(e4m3fn, scale_raw(f32bits(1e-3)), 2),
        "quant-e5m2": rp_quant(e5m2, scale_pow2(-20), 0),
        "quant-e3m0": rp_quant(e3m0, scale_pow2(3), 0),
        "quant-e0m3": rp_quant(e0m3, scale_raw(f32bits(0.1)), 0, rows=3, cols=7, pad=2),
        "quant-e8m0-refused": rp_quant(e8m0, scale_one(), 0),
        "quant-tiny-scale": rp_quant(e2m1, scale_special(8), 0),
        "quant-null": rp_quant(e2m1, scale_one(), 0, fault="null"),
        "quant-struct": rp_quant(e2m1, scale_one(), 0, fault="struct", extra=u8(1)),
        "quant-shape": rp_quant(e2m1, scale_one(), 0, fault="shape", extra=u8(1)),
        "quant-offset": rp_quant(e2m1, scale_one(), 0, fault="offset", extra=u8(4) + u8(0)),
        "quant-misalign": rp_quant(e2m1, scale_one(), 0, fault="misalign"),
        "quant-overlap": rp_quant(e2m1, scale_one(), 1, fault="overlap"),
        "offsets-e2m1": rp_offsets(e2m1, [rp_bias("half", 5), rp_bias("half", 6),
                                          rp_bias("half", 7), rp_bias("half", -2),
                                          rp_bias("fine", 20), rp_bias("inf"),
                                          rp_bias("-inf"), rp_bias("nan")]),
        "offsets-e2m1-shifted": rp_offsets(e2m1, [rp_bias("half", 1), rp_bias("half", 9),
                                                  rp_bias("half", 3)], adjust=12),
        "offsets-e4m3fn-fpenv": rp_offsets(e4m3fn, [rp_bias("half", -11), rp_bias("half", 0),
                                                    rp_bias("fine", 33), rp_bias("half", 25)],
                                           env=0x0F),
        "offsets-none-finite": rp_offsets(e3m0, [rp_bias("inf"), rp_bias("nan")]),
        "offsets-subnormal": rp_offsets(e2m1, [rp_bias("raw", 5e-324), rp_bias("half", 0),
                                               rp_bias("raw", -5e-324)], env=0x08),
        "offsets-e8m0-refused": rp_offsets(e8m0, [rp_bias("half", 1)]),
    }
    return seeds


# ---- fuzz_search (tests/fuzz/fuzz_search.c) -----------------------------------------------

FS_MAX_ELEMS = 6 * 26


def fs_case(fmts, objective=1, grid_bias=False, weights=1, nc=8, method=0, opt_mode=7,
            opt_extra=b"", rows=4, cols=20, pad=1, gran=1, block16=False, batches=1,
            fail_at=0, short=False, env=0, values=None):
    out = u8(env) + u8(len(fmts) - 1) + b"".join(fmts)
    out += u8(1 if grid_bias else 0) + u8(objective - 1) + u8(weights - 1) + u8(nc - 1)
    out += u8(method) + u8(opt_mode) + opt_extra
    out += u8(rows - 1) + u8(cols - 1) + u8(pad) + u8(gran - 1) + u8(1 if block16 else 0)
    out += u8(batches - 1) + struct.pack("<Q", 0xF00D)
    values = values or [((i * 37) % 255) - 127 for i in range(FS_MAX_ELEMS)]
    for b in range(batches):
        for i in range(FS_MAX_ELEMS):
            v = values[(i + 11 * b) % len(values)]
            if isinstance(v, float):  # raw float32 bits
                out += u8(250) + u32(f32bits(v))
            else:
                out += u8(0) + struct.pack("<b", v)
            out += u8(i % 4)
    return out + u8(fail_at) + u8(0 if short else 1)


def search_seeds():
    e2m1, e3m0, e1m2, e0m3, e4m3fn, e5m2 = (fmt_preset(i) for i in (0, 11, 12, 13, 5, 8))
    paper4 = [e3m0, e2m1, e1m2, e0m3]
    specials = [1.0, float("nan"), float("inf"), -0.0, 2.0 ** -140, -3.0, 1e30, 0.5]
    seeds = {}
    for obj, name in ((1, "l2"), (2, "l1"), (3, "cosine"), (4, "wl2")):
        for gran, gname in ((1, "tensor"), (2, "row"), (3, "column"), (4, "block")):
            seeds["%s-%s" % (name, gname)] = fs_case(paper4, objective=obj, gran=gran,
                                                     weights=1 + gran % 2)
        seeds["%s-bias-grid" % name] = fs_case(paper4, objective=obj, grid_bias=True)
        seeds["%s-exhaustive" % name] = fs_case([e2m1, e4m3fn], objective=obj, method=1)
    seeds["two-batches-row"] = fs_case([e2m1, e5m2], gran=2, batches=2)
    seeds["two-batches-block16"] = fs_case([e2m1], gran=4, block16=True, batches=2, cols=24)
    seeds["one-candidate"] = fs_case([e2m1], nc=1, rows=1, cols=1, pad=0)
    seeds["specials"] = fs_case(paper4, values=specials, env=0x0E)
    seeds["all-zero"] = fs_case([e2m1, e3m0], values=[0])
    for k in range(1, 7):
        seeds["alloc-fail-%d" % k] = fs_case([e2m1, e1m2], gran=2, batches=2, fail_at=k)
    seeds["short-result"] = fs_case([e2m1, e0m3], gran=3, short=True)
    seeds["raw-bounds"] = fs_case([e2m1], opt_mode=0, opt_extra=struct.pack("<dd", 0.5, 0.25))
    seeds["struct-size"] = fs_case([e2m1], opt_mode=1, opt_extra=u8(8))
    seeds["reserved"] = fs_case([e2m1], opt_mode=2, opt_extra=u8(0))
    seeds["invalid-format"] = fs_case([fmt_raw(9, 9, 0, 9, 1)])
    return seeds


def write(harness, seeds):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.remove(os.path.join(d, f))
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, "seed-" + name), "wb") as fh:
            fh.write(data)
    return len(seeds)


def main():
    k = kernel_seeds()
    print("fuzz_kernels:", write("fuzz_kernels", k))
    print("fuzz_backends:", write("fuzz_backends", backend_seeds(k)))
    print("fuzz_format:", write("fuzz_format", format_seeds()))
    print("fuzz_tensor:", write("fuzz_tensor", tensor_seeds()))
    print("fuzz_reparam:", write("fuzz_reparam", reparam_seeds()))
    print("fuzz_search:", write("fuzz_search", search_seeds()))


if __name__ == "__main__":
    main()
