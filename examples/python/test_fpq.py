"""Tests of the ctypes binding fpq.py against known answers. Plain python3, no package needed:

    make && python3 -m unittest discover -s examples/python -v

The numpy tests run only where numpy imports; elsewhere they are reported as skipped.
"""

import array
import random
import struct
import unittest

import fpq

# float4_e2m1fn's magnitudes; the index is the code (sign bit 8 on top).
E2M1 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]


def f32(v):
    """v rounded to float32."""
    return struct.unpack("f", struct.pack("f", v))[0]


def e2m1_code(q):
    """An independent model of e2m1 rounding for finite q: nearest magnitude, ties to the even
    code, saturating at 6."""
    sign = 8 if (q < 0 or (q == 0 and struct.pack("f", q)[3] & 0x80)) else 0
    a = abs(q)
    best = 0
    for code in range(1, 8):
        d_new, d_best = abs(E2M1[code] - a), abs(E2M1[best] - a)
        if d_new < d_best or (d_new == d_best and code % 2 == 0):
            best = code
    return sign | best


def pack4(codes):
    out = bytearray((len(codes) + 1) // 2)
    for i, c in enumerate(codes):
        out[i // 2] |= c << (4 * (i % 2))
    return bytes(out)


class FormatTests(unittest.TestCase):
    def test_e2m1_facts(self):
        fmt = fpq.Format.from_name("e2m1")
        self.assertEqual(fmt.describe(), "float4_e2m1fn")
        self.assertEqual(fmt, fpq.Format.from_name("FP4_E2M1FN"))
        self.assertEqual((fmt.exp_bits, fmt.man_bits, fmt.bias, fmt.family, fmt.is_signed),
                         (2, 1, 1, fpq.FAMILY_FINITE, 1))
        self.assertEqual(fmt.bits, 4)
        lim = fmt.limits()
        self.assertEqual((lim.bits, lim.num_codes, lim.num_values), (4, 16, 15))
        self.assertEqual((lim.has_inf, lim.has_nan, lim.has_negative_zero), (0, 0, 1))
        self.assertEqual((lim.max_finite, lim.min_normal, lim.min_subnormal, lim.min_positive),
                         (6.0, 1.0, 0.5, 0.5))
        self.assertEqual(fmt.values(), [-v for v in reversed(E2M1[1:])] + E2M1)

    def test_make_and_presets(self):
        self.assertEqual(fpq.Format.make(3, 2).describe(), "float6_e3m2fn")
        self.assertEqual(fpq.Format.make(4, 3, family=fpq.FAMILY_FN),
                         fpq.Format.from_name("e4m3fn"))
        self.assertEqual(fpq.Format.make(3, 2, bias=5).describe(), "e3m2 finite bias=5 signed")
        self.assertEqual(fpq.Format.from_name("float8_e4m3fn").limits().max_finite, 448.0)
        self.assertEqual(fpq.Format.from_name("e8m0").limits().max_finite, 2.0 ** 127)
        names = fpq.preset_names()
        self.assertIn("float4_e2m1fn", names)
        self.assertIn("e0m3", names)
        for name in names:
            self.assertEqual(fpq.Format.from_name(name).describe(), name)

    def test_scales_and_bias(self):
        fmt = fpq.Format.from_name("e2m1")
        self.assertEqual(fmt.scale_from_maxval(12.0), 2.0)
        self.assertEqual(fmt.scale_from_bias(fmt.bias - 3), 8.0)
        self.assertEqual(fmt.bias_from_scale(0.25), fmt.bias + 2)

    def test_packed_size(self):
        fmt = fpq.Format.from_name("e2m1")
        self.assertEqual(fpq.packed_size(fmt, 5), 3)
        self.assertEqual(fmt.packed_size(5, fpq.UNPACKED), 5)
        self.assertEqual(fpq.packed_size("e3m2", 5), 4)  # 30 bits
        self.assertEqual(fpq.packed_size("e4m3fn", 5), 5)
        self.assertEqual(fpq.packed_size(fmt, 5, 0x80), 0)  # unknown flags


class KernelTests(unittest.TestCase):
    X = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.5, -6.0,
         0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 7.0, 100.0, -0.0, -2.5, 0.1]

    def test_e2m1_known_codes(self):
        fmt = fpq.Format.from_name("e2m1")
        codes = fmt.quantize(self.X, 1.0)
        expected = [e2m1_code(v) for v in self.X]
        # the model's answers, spelled out for the ties and saturation
        self.assertEqual(expected[10:19], [0, 2, 2, 4, 4, 6, 6, 7, 7])
        self.assertEqual(bytes(codes), pack4(expected))
        self.assertIsInstance(codes, bytearray)
        back = fmt.dequantize(codes, 1.0, n=len(self.X))
        self.assertIsInstance(back, array.array)
        self.assertEqual(list(back), [(-1 if c & 8 else 1) * E2M1[c & 7] for c in expected])
        # -0.0 keeps its sign
        self.assertEqual(struct.pack("f", back[19]), struct.pack("f", -0.0))

    def test_scaled_and_unpacked(self):
        fmt = fpq.Format.from_name("e2m1")
        x = [v * 0.375 for v in self.X]
        codes = fpq.quantize(fmt, x, 0.375, fpq.UNPACKED)
        self.assertEqual(list(codes), [e2m1_code(f32(f32(v) / 0.375)) for v in x])
        packed = fpq.quantize(fmt, x, 0.375)
        self.assertEqual(bytes(packed), pack4(list(codes)))
        self.assertEqual(list(fpq.dequantize(fmt, codes, 0.375, flags=fpq.UNPACKED)),
                         list(fpq.dequantize(fmt, packed, 0.375, n=len(x))))

    def test_round_trip_equals_fake_quantize(self):
        rng = random.Random(7)
        x = array.array("f", [rng.gauss(0.0, 3.0) for _ in range(1001)])
        for name in ("e2m1", "e3m0", "e1m2", "int4", "e2m3", "e3m2", "e4m3fn", "e5m2",
                     "float8_e4m3fnuz", "e8m0"):
            fmt = fpq.Format.from_name(name)
            scale = fmt.scale_from_maxval(max(abs(v) for v in x))
            codes = fmt.quantize(x, scale)
            self.assertEqual(len(codes), fmt.packed_size(len(x)))
            y = fmt.dequantize(codes, scale, n=len(x))
            z = fmt.fake_quantize(x, scale)
            self.assertEqual(y.tobytes(), z.tobytes(), name)

    def test_plain_python_buffers(self):
        fmt = fpq.Format.from_name("e2m1")
        a = array.array("f", self.X)
        ref = bytes(fmt.quantize(a, 1.0))
        for x in (list(self.X), tuple(self.X), bytearray(a.tobytes()), a.tobytes(),
                  memoryview(a), memoryview(bytearray(a.tobytes())).cast("f"),
                  array.array("d", self.X)):
            self.assertEqual(bytes(fmt.quantize(x, 1.0)), ref, type(x))
        # outputs into the caller's buffers, without a copy
        out = bytearray(len(ref))
        self.assertIs(fmt.quantize(a, 1.0, out=out), out)
        self.assertEqual(bytes(out), ref)
        y = array.array("f", bytes(4 * len(a)))
        self.assertIs(fmt.dequantize(out, 1.0, out=y), y)
        raw = bytearray(4 * len(a))
        fmt.dequantize(out, 1.0, out=raw)
        self.assertEqual(bytes(raw), y.tobytes())
        # in place
        b = array.array("f", a)
        self.assertIs(fmt.fake_quantize(b, 1.0, out=b), b)
        self.assertEqual(b.tobytes(), y.tobytes())

    def test_size_checks_of_the_binding(self):
        fmt = fpq.Format.from_name("e2m1")
        with self.assertRaises(ValueError):
            fmt.dequantize(bytearray(2), 1.0, n=5)  # 5 codes need 3 bytes
        with self.assertRaises(ValueError):
            fmt.quantize([1.0, 2.0, 3.0], 1.0, out=bytearray(1))
        with self.assertRaises(TypeError):
            fmt.fake_quantize([1.0], 1.0, out=b"\0\0\0\0")  # read-only


class ErrorTests(unittest.TestCase):
    def assertStatus(self, status, fn, *args, **kwargs):
        with self.assertRaises(fpq.FpqError) as cm:
            fn(*args, **kwargs)
        e = cm.exception
        self.assertEqual(e.status, status)
        self.assertEqual(e.text, fpq.status_string(status))
        self.assertIn(fpq.status_string(status), str(e))
        self.assertIn(e.name, str(e))
        return e

    def test_errors_raise_with_their_status(self):
        fmt = fpq.Format.from_name("e2m1")
        e = self.assertStatus(fpq.ERR_SCALE, fmt.quantize, [1.0], 0.0)
        self.assertEqual(e.name, "FPQ_ERR_SCALE")
        self.assertEqual(e.function, "fpq_quantize")
        self.assertEqual(str(e), "fpq_quantize: scale is not a positive, finite, normal float"
                                 " (FPQ_ERR_SCALE)")
        self.assertStatus(fpq.ERR_NAME, fpq.Format.from_name, "float5_e9m9")
        self.assertStatus(fpq.ERR_FORMAT, fpq.Format.make, 9, 0)
        self.assertStatus(fpq.ERR_FORMAT, fpq.Format().describe)
        self.assertStatus(fpq.ERR_SIZE, fmt.quantize, [], 1.0)
        self.assertStatus(fpq.ERR_FLAGS, fmt.fake_quantize, [1.0], 1.0, 0x40)
        self.assertStatus(fpq.ERR_SCALE, fmt.dequantize, b"\x11", float("nan"), 2)
        self.assertStatus(fpq.ERR_ARGUMENT, fmt.scale_from_maxval, float("inf"))
        self.assertStatus(fpq.ERR_NAME, fpq.set_backend, "no-such-backend")
        self.assertStatus(fpq.ERR_ARGUMENT, fpq.set_num_threads, -1)
        t = fpq.Tensor(1, 8)
        self.assertStatus(fpq.ERR_ARGUMENT, fpq.compute_scales, fmt, t, [1.0] * 8, 2.0)
        self.assertEqual(fpq.status_string(12345), "unknown status")

    def test_nothing_written_on_error(self):
        fmt = fpq.Format.from_name("e2m1")
        out = bytearray(b"\xaa\xaa")
        with self.assertRaises(fpq.FpqError):
            fmt.quantize([1.0, 2.0, 3.0], -1.0, out=out)
        self.assertEqual(out, bytearray(b"\xaa\xaa"))


class TensorTests(unittest.TestCase):
    def test_mx_known_answer(self):
        # One MXFP4 block: amax 20 -> E8M0 scale 2^(floor(log2 20) - 2) = 4, code 129.
        fmt = fpq.Format.from_name("e2m1")
        x = [20.0, -12.0, 3.0, 1.0, 0.5, 6.0, -7.0, 0.0] + [2.0] * 24
        t = fpq.Tensor(1, 32, fpq.PER_BLOCK, 32)
        self.assertEqual(t.num_scales(), 1)
        self.assertEqual(t.code_bytes(fmt), 16)
        s = fpq.compute_scales(fmt, t, x, encoding=fpq.SCALE_E8M0)
        self.assertEqual(s.encoding, fpq.SCALE_E8M0)
        self.assertEqual(bytes(s.values), b"\x81")
        codes = fpq.tensor_quantize(fmt, t, x, s)
        # x / 4: 5 -> 4 (tie, even code 6), -3, 0.75 -> 1 (tie), 0.25 -> 0 (tie), 0.125 -> 0,
        # 1.5, -1.75 -> -2 (tie, even code 4), 0, then 0.5s
        self.assertEqual(bytes(codes), bytes([0xD6, 0x02, 0x30, 0x0C]) + b"\x11" * 12)
        y = fpq.tensor_dequantize(fmt, t, codes, s)
        self.assertEqual(list(y), [16.0, -12.0, 4.0, 0.0, 0.0, 6.0, -8.0, 0.0] + [2.0] * 24)
        self.assertEqual(list(fpq.tensor_fake_quantize(fmt, t, x, s)), list(y))
        codes2, s2 = fpq.tensor_quantize_auto(fmt, t, x, encoding=fpq.SCALE_E8M0)
        self.assertEqual((bytes(codes2), bytes(s2.values)), (bytes(codes), b"\x81"))

    def test_nvfp4_scales(self):
        fmt = fpq.Format.from_name("e2m1")
        x = [0.1 * (i - 7) for i in range(16)]
        amax = max(abs(f32(v)) for v in x)
        t = fpq.Tensor(1, 16, fpq.PER_BLOCK, 16)
        s = fpq.compute_scales(fmt, t, x, encoding=fpq.SCALE_E4M3)
        self.assertAlmostEqual(s.tensor_scale, amax / (6 * 448), delta=amax / (6 * 448) * 1e-6)
        self.assertEqual(bytes(s.values), b"\x7e")  # e4m3fn 448
        y = fpq.tensor_fake_quantize(fmt, t, x, s)
        self.assertAlmostEqual(max(abs(v) for v in y), amax, delta=amax * 1e-6)

    def test_per_row_equals_the_array_kernel(self):
        fmt = fpq.Format.from_name("e2m1")
        rng = random.Random(3)
        rows, cols, stride = 3, 10, 12
        x = array.array("f", [rng.uniform(-r - 1, r + 1) for r in range(rows)
                              for _ in range(stride)])
        t = fpq.Tensor(rows, cols, fpq.PER_ROW, row_stride=stride)
        s = fpq.compute_scales(fmt, t, x)
        self.assertEqual(len(s.values), rows)
        y = fpq.tensor_fake_quantize(fmt, t, x, s)
        codes = fpq.tensor_quantize(fmt, t, x, s)
        for r in range(rows):
            row = x[r * stride:r * stride + cols]
            self.assertEqual(s.values[r], f32(f32(max(abs(v) for v in row)) / 6.0))
            self.assertEqual(y[r * stride:r * stride + cols].tobytes(),
                             fmt.fake_quantize(row, s.values[r]).tobytes())
            self.assertEqual(bytes(codes[r * 5:(r + 1) * 5]), bytes(fmt.quantize(row, s.values[r])))
        with self.assertRaises(ValueError):  # the array is shorter than the tensor
            fpq.tensor_fake_quantize(fmt, t, x[:-3], s)

    def test_float16_and_bfloat16(self):
        self.assertEqual(list(fpq.convert_from_float32(fpq.FLOAT16, [1.0, -2.0, 65504.0, 1e6])),
                         [0x3C00, 0xC000, 0x7BFF, 0x7C00])
        self.assertEqual(list(fpq.convert_from_float32(fpq.BFLOAT16, [1.0, -2.0])),
                         [0x3F80, 0xC000])
        self.assertEqual(list(fpq.convert_to_float32(fpq.BFLOAT16, [0x3F80, 0x4040])), [1.0, 3.0])
        fmt = fpq.Format.from_name("e2m1")
        x32 = [0.3 * (i - 5) for i in range(12)]
        x16 = fpq.convert_from_float32(fpq.FLOAT16, x32)
        t = fpq.Tensor(1, 12, elem_type=fpq.FLOAT16)
        s = fpq.Scales(fpq.SCALE_FLOAT32, data=[0.5])
        y16 = fpq.tensor_fake_quantize(fmt, t, x16, s)
        want = fpq.convert_from_float32(
            fpq.FLOAT16, fmt.fake_quantize(fpq.convert_to_float32(fpq.FLOAT16, x16), 0.5))
        self.assertEqual(list(y16), list(want))


class BackendTests(unittest.TestCase):
    def test_backends(self):
        names = fpq.backends()
        self.assertIn("scalar", names)
        self.assertIn(fpq.backend_name(), names)
        self.assertTrue(fpq.backend_available("scalar"))
        self.assertFalse(fpq.backend_available("no-such-backend"))
        self.assertGreaterEqual(fpq.num_threads(), 1)

    def test_every_backend_gives_the_same_bits(self):
        fmt = fpq.Format.from_name("e2m3")
        rng = random.Random(5)
        x = array.array("f", [rng.gauss(0, 1) for _ in range(4099)])
        results = {}
        try:
            for name in fpq.backends():
                if not fpq.backend_available(name):
                    continue
                fpq.set_backend(name)
                self.assertEqual(fpq.backend_name(), name)
                results[name] = bytes(fmt.quantize(x, 0.125))
        finally:
            fpq.set_backend("auto")
        self.assertEqual(len(set(results.values())), 1, sorted(results))


class VersionTests(unittest.TestCase):
    def test_version(self):
        v = fpq.version()
        self.assertEqual(fpq.version_string(), "%d.%d.%d" % (v // 10000, v // 100 % 100, v % 100))
        self.assertTrue(fpq.check_version(fpq.HEADER_VERSION))
        self.assertTrue(fpq.check_version(v))
        self.assertFalse(fpq.check_version(v + 1))
        self.assertFalse(fpq.check_version(v + 10000))
        self.assertFalse(fpq.check_version(-1))


@unittest.skipUnless(fpq.HAVE_NUMPY, "numpy is not importable: the numpy path was not tested")
class NumpyTests(unittest.TestCase):
    def setUp(self):
        import numpy
        self.np = numpy

    def test_zero_copy_outputs_and_in_place(self):
        np = self.np
        fmt = fpq.Format.from_name("e2m1")
        x = np.linspace(-7, 7, 1000, dtype=np.float32).reshape(10, 100)
        codes = fmt.quantize(x, 1.0)
        self.assertIsInstance(codes, np.ndarray)
        self.assertEqual((codes.dtype, codes.size), (np.uint8, 500))
        self.assertEqual(codes.tobytes(), bytes(fmt.quantize(array.array("f", x.ravel()), 1.0)))
        self.assertEqual(fpq._readable(x, "f32")[0], x.ctypes.data)  # the input, not a copy
        y = np.empty_like(x)
        self.assertIs(fmt.fake_quantize(x, 1.0, out=y), y)
        back = np.empty(1000, np.float32)
        self.assertIs(fmt.dequantize(codes, 1.0, out=back), back)
        self.assertTrue(np.array_equal(back, y.ravel()))
        z = fmt.fake_quantize(x, 1.0)
        self.assertEqual(z.shape, x.shape)
        self.assertTrue(np.array_equal(z, y))
        self.assertIs(fmt.fake_quantize(x, 1.0, out=x), x)  # in place
        self.assertTrue(np.array_equal(x, y))

    def test_conversions_and_refusals(self):
        np = self.np
        fmt = fpq.Format.from_name("e2m1")
        x = np.linspace(-7, 7, 64)  # float64: converted (a copy)
        ref = fmt.fake_quantize(x.astype(np.float32), 1.0)
        self.assertTrue(np.array_equal(fmt.fake_quantize(x, 1.0), ref))
        self.assertTrue(np.array_equal(fmt.fake_quantize(x.astype(np.float32)[::2], 1.0), ref[::2]))
        with self.assertRaises(TypeError):
            fmt.fake_quantize(x, 1.0, out=np.empty(64))  # float64 output
        with self.assertRaises(ValueError):
            fmt.fake_quantize(ref[::2], 1.0, out=np.empty(64, np.float32)[::2])

    def test_tensor(self):
        np = self.np
        fmt = fpq.Format.from_name("e2m1")
        rng = np.random.default_rng(1)
        x = rng.standard_normal((4, 64)).astype(np.float32)
        t = fpq.Tensor(4, 64, fpq.PER_BLOCK, 32)
        codes, s = fpq.tensor_quantize_auto(fmt, t, x, encoding=fpq.SCALE_E8M0)
        self.assertEqual(codes.size, 4 * 32)
        y = fpq.tensor_dequantize(fmt, t, codes, s)
        self.assertEqual(y.shape, (4, 64))
        self.assertTrue(np.array_equal(y, fpq.tensor_fake_quantize(fmt, t, x, s)))
        t16 = fpq.Tensor(4, 64, fpq.PER_BLOCK, 32, fpq.FLOAT16)
        y16 = fpq.tensor_fake_quantize(fmt, t16, x.astype(np.float16), s)
        self.assertEqual(y16.dtype, np.float16)


if __name__ == "__main__":
    unittest.main(verbosity=2)
