"""Tests of fpq.py's search, layer-search and reparameterization wrappers (and of its struct
mirrors' layout) against independent Python computations on small data:

    make && python3 -m unittest discover -s examples/python -v
"""

import array
import math
import os
import random
import shutil
import struct
import subprocess
import tempfile
import unittest

import fpq

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER_DIR = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir, "include"))


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


def gauss_matrix(rng, rows, cols, sigma=1.0, outliers=()):
    """rows x cols, row-major; columns in `outliers` 20x larger."""
    return array.array("f", [rng.gauss(0.0, sigma) * (20.0 if c in outliers else 1.0)
                             for _ in range(rows) for c in range(cols)])


def l2(x, q):
    return sum((float(a) - float(b)) ** 2 for a, b in zip(x, q))


# The C structs the binding mirrors, with their fields in order.
MIRRORS = [
    ("fpq_format", fpq.Format), ("fpq_format_limits", fpq.FormatLimits),
    ("fpq_tensor", fpq.Tensor), ("fpq_scales", fpq.Scales), ("fpq_allocator", fpq.Allocator),
    ("fpq_search_options", fpq.SearchOptions), ("fpq_search_result", fpq._SearchResultC),
    ("fpq_layer_search_options", fpq.LayerSearchOptions),
    ("fpq_layer_search_summary", fpq.LayerSearchSummary),
]


# The header's constants the binding repeats (macros and enums are not visible through FFI).
CONSTANTS = sorted(n for n in dir(fpq) if n.isupper() and type(getattr(fpq, n)) is int
                   and n != "HEADER_VERSION")


def _compiler():
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


class LayoutTests(unittest.TestCase):
    def test_struct_size_fields_equal_ctypes_sizes(self):
        self.assertEqual(fpq.SearchOptions().struct_size, fpq.ctypes.sizeof(fpq.SearchOptions))
        self.assertEqual(fpq.LayerSearchOptions().struct_size,
                         fpq.ctypes.sizeof(fpq.LayerSearchOptions))

    @unittest.skipUnless(_compiler() and os.path.exists(os.path.join(HEADER_DIR, "fpq.h")),
                         "no C compiler or include/fpq.h: the struct layouts were not compared")
    def test_layouts_equal_the_headers(self):
        """Every field's offset and size, every struct's size and every constant's value, as a
        C compiler sees include/fpq.h."""
        lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "fpq.h"',
                 "int main(void) {"]
        expected = []
        for cname, py in MIRRORS:
            lines.append('printf("%%s %%zu\\n", "%s", sizeof(%s));' % (cname, cname))
            expected.append("%s %d" % (cname, fpq.ctypes.sizeof(py)))
            for field, _ in py._fields_:
                lines.append('printf("%%s.%%s %%zu %%zu\\n", "%s", "%s", offsetof(%s, %s), '
                             'sizeof(((%s *)0)->%s));' % (cname, field, cname, field, cname, field))
                expected.append("%s.%s %d %d" % (cname, field, getattr(py, field).offset,
                                                 getattr(py, field).size))
        for name in CONSTANTS:
            lines.append('printf("FPQ_%s %%d\\n", (int)(FPQ_%s));' % (name, name))
            expected.append("FPQ_%s %d" % (name, getattr(fpq, name)))
        lines.append("return 0; }")
        tmp = tempfile.mkdtemp()
        try:
            src, exe = os.path.join(tmp, "layout.c"), os.path.join(tmp, "layout")
            with open(src, "w") as f:
                f.write("\n".join(lines) + "\n")
            subprocess.check_call([_compiler(), "-std=c99", "-I", HEADER_DIR, src, "-o", exe])
            got = subprocess.check_output([exe]).decode("ascii").split("\n")[:-1]
        finally:
            shutil.rmtree(tmp)
        self.assertEqual(got, expected)


class SearchTests(unittest.TestCase):
    def brute_force(self, fmt, groups, options):
        """For each group: (best error, best scale) over the clip grid, quantizing through
        fake_quantize at every candidate scale computed here."""
        maxf = fmt.limits().max_finite
        n, lo, hi = options.num_candidates, options.grid_low, options.grid_high
        out = []
        for g in groups:
            amax = max(abs(v) for v in g)
            best = None
            for i in range(n):
                ratio = hi if n == 1 else lo + i * (hi - lo) / (n - 1)
                scale = f32(amax * ratio / maxf)
                err = l2(g, fmt.fake_quantize(g, scale))
                if best is None or err < best[0]:
                    best = (err, scale, i)
            out.append(best)
        return out

    def test_search_tensor_equals_brute_force(self):
        rng = random.Random(11)
        rows, cols = 4, 24
        x = gauss_matrix(rng, rows, cols)
        t = fpq.Tensor(rows, cols, fpq.PER_ROW)
        opts = fpq.SearchOptions(num_candidates=25)
        formats = ["e3m0", "e2m1", "e1m2"]
        r = fpq.search_tensor(formats, t, x, opts, error_table=True)
        groups = [x[i * cols:(i + 1) * cols] for i in range(rows)]
        totals = []
        for fi, name in enumerate(formats):
            fmt = fpq.Format.from_name(name)
            brute = self.brute_force(fmt, groups, opts)
            totals.append(sum(b[0] for b in brute))
            self.assertAlmostEqual(r.format_errors[fi], totals[-1], delta=1e-9 * totals[-1])
            for g, (err, scale, i) in enumerate(brute):
                at = (g * len(formats) + fi) * opts.num_candidates + i
                self.assertAlmostEqual(r.error_table[at], err, delta=1e-9 * err + 1e-12)
        best = min(range(len(formats)), key=lambda f: totals[f])
        self.assertEqual(r.format_index, best)
        self.assertEqual(r.format, fpq.Format.from_name(formats[best]))
        self.assertAlmostEqual(r.total_error, totals[best], delta=1e-9 * totals[best])
        brute = self.brute_force(r.format, groups, opts)
        for g, (err, scale, i) in enumerate(brute):
            self.assertAlmostEqual(r.errors[g], err, delta=1e-9 * err)
            # the chosen scale is a candidate whose error is the least (ties: any of them)
            chosen = l2(groups[g], r.format.fake_quantize(groups[g], r.scales[g]))
            self.assertLessEqual(chosen, err * (1 + 1e-9))
            self.assertAlmostEqual(r.biases[g], r.format.bias - math.log2(r.scales[g]),
                                   delta=1e-9)
            self.assertTrue(0 <= r.candidates[g] < opts.num_candidates)
        # the scales quantize the tensor as tensor_fake_quantize does
        y = fpq.tensor_fake_quantize(r.format, t, x, fpq.Scales(data=r.scales))
        self.assertAlmostEqual(l2(x, y), r.total_error, delta=1e-9 * r.total_error)

    def test_stream_equals_search_tensor(self):
        rng = random.Random(12)
        x = gauss_matrix(rng, 16, 8, outliers=(3,))
        t = fpq.Tensor(16, 8, fpq.PER_COLUMN)
        opts = fpq.SearchOptions(fpq.GRID_BIAS, num_candidates=30)
        formats = fpq.search_default_formats(4, with_int=True)
        self.assertEqual([f.describe() for f in formats],
                         ["e3m0", "float4_e2m1fn", "e1m2", "e0m3"])
        whole = fpq.search_tensor(formats, t, x, opts)
        with fpq.Search(formats, opts) as s:
            self.assertEqual(s.num_groups, 0)
            half = fpq.Tensor(8, 8, fpq.PER_COLUMN)
            s.add(half, x[:64])
            s.add(half, x[64:])
            self.assertEqual(s.num_groups, 8)
            self.assertGreater(s.memory, 0)
            r = s.solve()
        self.assertEqual(r.format_index, whole.format_index)
        self.assertEqual(r.scales.tobytes(), whole.scales.tobytes())
        self.assertEqual(list(r.candidates), list(whole.candidates))
        self.assertEqual(r.total_error, whole.total_error)
        with self.assertRaises(ValueError):
            s.solve()  # closed

    def test_weighted_and_callback_objectives(self):
        rng = random.Random(13)
        x = gauss_matrix(rng, 2, 16)
        t = fpq.Tensor(2, 16, fpq.PER_ROW)
        fmt = fpq.Format.from_name("e2m1")
        # weighted L2 with every weight 1 is L2
        ones = [1.0] * 32
        plain = fpq.search_tensor(fmt, t, x, fpq.SearchOptions(num_candidates=20))
        wopts = fpq.SearchOptions(num_candidates=20, objective=fpq.OBJECTIVE_WEIGHTED_L2)
        weighted = fpq.search_tensor(fmt, t, x, wopts, weights=ones)
        self.assertEqual(weighted.scales.tobytes(), plain.scales.tobytes())
        # a Python objective: L1, computed here, against the library's L1
        seen = set()

        def l1(group, xs, xq):
            seen.add(group)
            return sum(abs(a - b) for a, b in zip(xs, xq))

        copts = fpq.SearchOptions(num_candidates=20, callback=l1, method=fpq.SEARCH_EXHAUSTIVE)
        self.assertEqual(copts.objective, fpq.OBJECTIVE_CALLBACK)
        mine = fpq.search_tensor(fmt, t, x, copts)
        lib = fpq.search_tensor(fmt, t, x, fpq.SearchOptions(num_candidates=20,
                                                             objective=fpq.OBJECTIVE_L1))
        self.assertEqual(seen, {0, 1})
        self.assertEqual(mine.scales.tobytes(), lib.scales.tobytes())
        self.assertAlmostEqual(mine.total_error, lib.total_error, delta=1e-6 * lib.total_error)

        def broken(group, xs, xq):
            raise KeyError("from the objective")

        with self.assertRaises(KeyError):
            fpq.search_tensor(fmt, t, x, fpq.SearchOptions(callback=broken))

    def test_errors(self):
        t = fpq.Tensor(1, 8, fpq.PER_ROW)
        x = [1.0] * 8
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.search_tensor("e2m1", t, x, fpq.SearchOptions(num_candidates=0))
        self.assertEqual(cm.exception.status, fpq.ERR_ARGUMENT)
        self.assertEqual(cm.exception.function, "fpq_search_tensor")
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.search_tensor([], t, x)
        self.assertEqual(cm.exception.status, fpq.ERR_SIZE)
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.SearchOptions(grid=7)
        self.assertEqual(cm.exception.status, fpq.ERR_ARGUMENT)
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.search_default_formats(5)
        self.assertEqual(cm.exception.status, fpq.ERR_ARGUMENT)
        with fpq.Search("e2m1") as s:
            with self.assertRaises(fpq.FpqError) as cm:
                s.solve()  # no batch yet
            self.assertEqual(cm.exception.status, fpq.ERR_SIZE)
            s.add(t, x)
            with self.assertRaises(fpq.FpqError) as cm:
                s.add(fpq.Tensor(1, 8, fpq.PER_COLUMN), x)  # another granularity
            self.assertEqual(cm.exception.status, fpq.ERR_ARGUMENT)
        with self.assertRaises(TypeError):
            fpq.SearchOptions(no_such_field=1)


class ReparamTests(unittest.TestCase):
    FMT = "e2m1"

    def setUp(self):
        rng = random.Random(21)
        self.tokens, self.inf, self.outf = 12, 10, 6
        self.x = gauss_matrix(rng, self.tokens, self.inf, outliers=(2, 7))
        self.w = gauss_matrix(rng, self.outf, self.inf, sigma=0.1)
        self.fmt = fpq.Format.from_name(self.FMT)
        self.tx = fpq.Tensor(self.tokens, self.inf)
        self.tw = fpq.Tensor(self.outf, self.inf)

    def pipeline(self):
        absmax = fpq.reparam_observe(self.tx, self.x)
        biases = fpq.reparam_biases(self.fmt, absmax)
        shared = fpq.reparam_shared_bias(self.fmt, biases)
        offsets, scale = fpq.reparam_offsets(self.fmt, biases, shared)
        return absmax, biases, shared, offsets, scale

    def test_observe_biases_shared_offsets(self):
        half = fpq.Tensor(self.tokens // 2, self.inf)
        n = len(self.x) // 2
        absmax = fpq.reparam_observe(half, self.x[:n])
        self.assertIs(fpq.reparam_observe(half, self.x[n:], absmax), absmax)  # streamed
        cols = [[self.x[r * self.inf + c] for r in range(self.tokens)] for c in range(self.inf)]
        self.assertEqual(list(absmax), [max(abs(v) for v in col) for col in cols])
        self.assertEqual(list(fpq.reparam_observe(self.tx, self.x)), list(absmax))
        biases = fpq.reparam_biases(self.fmt, absmax)
        maxf = self.fmt.limits().max_finite
        for b, m in zip(biases, absmax):
            self.assertAlmostEqual(b, self.fmt.bias - math.log2(m / maxf), delta=1e-12)
        shared = fpq.reparam_shared_bias(self.fmt, biases)
        self.assertEqual(shared, min(biases))
        offsets, scale = fpq.reparam_offsets(self.fmt, biases, shared)
        z = round(shared)
        window = 2 ** self.fmt.exp_bits - 1
        self.assertEqual(list(offsets), [min(max(round(b), z), z + window) - z for b in biases])
        self.assertIn(0, list(offsets))
        self.assertGreater(max(offsets), 0)
        self.assertEqual(scale, self.fmt.scale_from_bias(shared))
        self.assertEqual(fpq.reparam_biases(self.fmt, [0.0])[0], float("inf"))

    def test_fold_unfold_round_trip(self):
        offsets = self.pipeline()[3]
        folded, inexact = fpq.reparam_fold(self.tw, self.w, offsets)
        self.assertEqual(inexact, 0)
        self.assertEqual(list(folded), [self.w[r * self.inf + c] * 2.0 ** -offsets[c]
                                        for r in range(self.outf) for c in range(self.inf)])
        back, inexact = fpq.reparam_unfold(self.tw, folded, offsets)
        self.assertEqual(inexact, 0)
        self.assertEqual(back.tobytes(), self.w.tobytes())
        w = array.array("f", self.w)
        self.assertIs(fpq.reparam_fold(self.tw, w, offsets, out=w)[0], w)  # in place
        self.assertEqual(w.tobytes(), folded.tobytes())
        # a value below float32's normal range is rounded and counted
        tiny = fpq.Tensor(1, 2)
        y, inexact = fpq.reparam_fold(tiny, [3 * 2.0 ** -126, 1.0], [1, 1])
        self.assertEqual((list(y), inexact), ([f32(1.5 * 2.0 ** -126), 0.5], 0))
        y, inexact = fpq.reparam_fold(tiny, [3 * 2.0 ** -149, 1.0], [1, 1])
        self.assertEqual(inexact, 1)

    def test_quantize_equals_per_column_tensor_quantize(self):
        offsets, scale = self.pipeline()[3:]
        col_scales = [scale * 2.0 ** -k for k in offsets]
        tcol = fpq.Tensor(self.tokens, self.inf, fpq.PER_COLUMN)
        s = fpq.Scales(data=col_scales)
        codes = fpq.reparam_quantize(self.fmt, self.tx, self.x, scale, offsets)
        self.assertEqual(bytes(codes), bytes(fpq.tensor_quantize(self.fmt, tcol, self.x, s)))
        y = fpq.reparam_fake_quantize(self.fmt, self.tx, self.x, scale, offsets)
        self.assertEqual(y.tobytes(), fpq.tensor_fake_quantize(self.fmt, tcol, self.x, s).tobytes())
        # the codes at the shared scale alone give the pre-shifted 2^k x^
        shifted = fpq.tensor_dequantize(self.fmt, self.tx, codes, fpq.Scales(data=[scale]))
        self.assertEqual(list(shifted), [y[i] * 2.0 ** offsets[i % self.inf]
                                         for i in range(len(y))])
        unpacked = fpq.reparam_quantize(self.fmt, self.tx, self.x, scale, offsets, fpq.UNPACKED)
        self.assertEqual(len(unpacked), self.tokens * self.inf)

    def test_linear_reference(self):
        offsets, xs = self.pipeline()[3:]
        folded = fpq.reparam_fold(self.tw, self.w, offsets)[0]
        trow = fpq.Tensor(self.outf, self.inf, fpq.PER_ROW)
        wcodes, ws = fpq.tensor_quantize_auto(self.fmt, trow, folded)
        xcodes = fpq.reparam_quantize(self.fmt, self.tx, self.x, xs, offsets)
        bias = [0.25 * o for o in range(self.outf)]
        y = fpq.reparam_linear_reference(self.fmt, xcodes, self.tokens, self.inf, xs, self.fmt,
                                         wcodes, self.outf, ws.values, bias)
        self.assertEqual(len(y), self.tokens * self.outf)
        # the contract's arithmetic, here: unscaled values, a double sum, one product, f32
        row_bytes = self.fmt.packed_size(self.inf)
        vx = [self.fmt.dequantize(xcodes[t * row_bytes:(t + 1) * row_bytes], 1.0, n=self.inf)
              for t in range(self.tokens)]
        vw = [self.fmt.dequantize(wcodes[o * row_bytes:(o + 1) * row_bytes], 1.0, n=self.inf)
              for o in range(self.outf)]
        for t in range(self.tokens):
            for o in range(self.outf):
                acc = 0.0
                for c in range(self.inf):
                    acc += float(vx[t][c]) * float(vw[o][c])
                want = f32(acc * (float(xs) * float(ws.values[o])) + float(f32(bias[o])))
                self.assertEqual(y[t * self.outf + o], want, (t, o))
        # and the deployed layer approximates the float one
        exact = [sum(self.x[t * self.inf + c] * self.w[o * self.inf + c] for c in range(self.inf))
                 + bias[o] for t in range(self.tokens) for o in range(self.outf)]
        rel = math.sqrt(l2(exact, y) / l2(exact, [0.0] * len(exact)))
        self.assertLess(rel, 0.5)

    def test_errors(self):
        biases = [1.0, 2.0]
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.reparam_offsets(self.fmt, biases, float("nan"))
        self.assertEqual((cm.exception.status, cm.exception.function),
                         (fpq.ERR_ARGUMENT, "fpq_reparam_offsets"))
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.reparam_biases("e8m0", [1.0])
        self.assertEqual(cm.exception.status, fpq.ERR_FORMAT)
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.reparam_biases(self.fmt, [-1.0])
        self.assertEqual(cm.exception.status, fpq.ERR_ARGUMENT)
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.reparam_fold(fpq.Tensor(1, 2), [1.0, 1.0], [0, 256])
        self.assertEqual(cm.exception.status, fpq.ERR_ARGUMENT)
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.reparam_quantize(self.fmt, fpq.Tensor(1, 2), [1.0, 1.0], 1.0, [0, 4])
        self.assertEqual(cm.exception.status, fpq.ERR_ARGUMENT)  # e2m1's window is [0, 3]
        with self.assertRaises(ValueError):
            fpq.reparam_fold(fpq.Tensor(1, 3), [1.0] * 3, [0, 0])  # too few offsets


class LayerSearchTests(unittest.TestCase):
    OUT, IN, TOKENS = 6, 16, 24

    def setUp(self):
        rng = random.Random(31)
        self.w = gauss_matrix(rng, self.OUT, self.IN, sigma=0.1)
        self.x = gauss_matrix(rng, self.TOKENS, self.IN, outliers=(5,))
        self.y = [sum(self.x[t * self.IN + c] * self.w[o * self.IN + c] for c in range(self.IN))
                  for t in range(self.TOKENS) for o in range(self.OUT)]

    def layer_error(self, wf, w_scales, xq, w=None):
        """(mean squared error of the whole output, that of each output row) of the layer
        with the activations xq (already quantized) and W quantized per row, computed here."""
        w = self.w if w is None else w
        wq = fpq.tensor_fake_quantize(wf, fpq.Tensor(self.OUT, self.IN, fpq.PER_ROW), w,
                                      fpq.Scales(data=w_scales))
        yq = [sum(float(xq[t * self.IN + c]) * float(wq[o * self.IN + c]) for c in range(self.IN))
              for t in range(self.TOKENS) for o in range(self.OUT)]
        rows = [l2(self.y[o::self.OUT], yq[o::self.OUT]) / self.TOKENS for o in range(self.OUT)]
        return l2(self.y, yq) / len(yq), rows

    def per_tensor_x(self, fmt, scale):
        return fmt.fake_quantize(self.x, scale)

    def test_per_tensor_beats_max_based(self):
        opts = fpq.LayerSearchOptions(4, act_mode=fpq.LAYER_ACT_PER_TENSOR, grid_steps=40,
                                      rounds=2)
        self.assertEqual(opts.struct_size, fpq.ctypes.sizeof(fpq.LayerSearchOptions))
        with fpq.LayerSearch(self.w, self.OUT, self.IN, opts) as s:
            s.add_batch(self.x[:10 * self.IN])
            s.add_batch(self.x[10 * self.IN:])
            summary = s.solve()
            bias, wscale, err = s.weights()
            cbias, offsets, xscale = s.activations()
        self.assertEqual(summary.tokens, self.TOKENS)
        self.assertEqual(summary.act_mode, fpq.LAYER_ACT_PER_TENSOR)
        self.assertLessEqual(summary.total_error, summary.max_based_error)
        # the max-based start, computed here: e2m1, scale amax / 6 per weight row and for X
        e2m1 = fpq.Format.from_name("e2m1")
        w_max = [max(abs(v) for v in self.w[o * self.IN:(o + 1) * self.IN]) / 6.0
                 for o in range(self.OUT)]
        x_max = max(abs(v) for v in self.x) / 6.0
        start = self.layer_error(e2m1, w_max, self.per_tensor_x(e2m1, x_max))[0]
        self.assertAlmostEqual(summary.max_based_error, start, delta=1e-3 * start)
        # the getters describe the layer whose error is reported
        self.assertEqual(list(offsets), [0] * self.IN)
        self.assertEqual(list(xscale), [summary.act_scale] * self.IN)
        self.assertEqual(summary.act_scale, summary.act_format.scale_from_bias(summary.act_bias))
        for o in range(self.OUT):
            self.assertEqual(wscale[o], summary.weight_format.scale_from_bias(bias[o]))
        got, rows = self.layer_error(summary.weight_format, wscale,
                                     self.per_tensor_x(summary.act_format, summary.act_scale))
        self.assertAlmostEqual(summary.total_error, got, delta=1e-6 * got)
        for o in range(self.OUT):
            self.assertAlmostEqual(err[o], rows[o], delta=1e-6 * rows[o])

    def test_per_channel_deploys_the_folded_layer(self):
        opts = fpq.LayerSearchOptions(4, grid_steps=40, rounds=1)
        self.assertEqual(opts.act_mode, fpq.LAYER_ACT_PER_CHANNEL)
        self.assertEqual([f.describe() for f in opts.formats("act")],
                         ["e3m0", "float4_e2m1fn", "e1m2"])
        s = fpq.LayerSearch(self.w, self.OUT, self.IN, opts)
        s.add_batch(self.x)
        summary = s.solve()
        bias, wscale, err = s.weights()
        cbias, offsets, xscale = s.activations()
        s.close()
        self.assertLessEqual(summary.total_error, summary.max_based_error)
        self.assertGreater(max(offsets), 0)
        for c in range(self.IN):
            self.assertEqual(xscale[c], f32(summary.act_scale * 2.0 ** -offsets[c]))
        # the channel biases and offsets are the reparameterization calls' on X's absmax
        own = fpq.reparam_biases(summary.act_format,
                                 fpq.reparam_observe(fpq.Tensor(self.TOKENS, self.IN), self.x))
        for c in range(self.IN):
            self.assertAlmostEqual(cbias[c], own[c], delta=1e-9)
        want, scale = fpq.reparam_offsets(summary.act_format, cbias, summary.act_bias)
        self.assertEqual((list(offsets), scale), (list(want), summary.act_scale))
        # the deployed layer: the codes of the pre-shifted X at the shared scale (2^k x^)
        # times the folded W' quantized with the row scales reported
        tx = fpq.Tensor(self.TOKENS, self.IN)
        codes = fpq.reparam_quantize(summary.act_format, tx, self.x, summary.act_scale, offsets)
        xq = fpq.tensor_dequantize(summary.act_format, tx, codes,
                                   fpq.Scales(data=[summary.act_scale]))
        folded = fpq.reparam_fold(fpq.Tensor(self.OUT, self.IN), self.w, offsets)[0]
        got = self.layer_error(summary.weight_format, wscale, xq, w=folded)[0]
        self.assertAlmostEqual(summary.total_error, got, delta=1e-6 * got)
        # unfolded, the same weights quantized unshifted would give another (wrong) layer
        wrong = self.layer_error(summary.weight_format, wscale, xq)[0]
        self.assertNotAlmostEqual(wrong, got, delta=1e-3 * got)

    def test_errors(self):
        opts = fpq.LayerSearchOptions(4)
        s = fpq.LayerSearch(self.w, self.OUT, self.IN, opts)
        for call in (s.solve, s.summary, s.weights):
            with self.assertRaises(fpq.FpqError) as cm:
                call()
            self.assertIn(cm.exception.status, (fpq.ERR_SIZE, fpq.ERR_ARGUMENT))
        with self.assertRaises(fpq.FpqError) as cm:
            s.add_batch([float("nan")] * self.IN)
        self.assertEqual(cm.exception.status, fpq.ERR_ARGUMENT)
        with self.assertRaises(ValueError):
            s.add_batch([1.0] * (self.IN + 1))  # not whole rows
        s.close()
        with self.assertRaises(ValueError):
            s.solve()
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.LayerSearchOptions(5)
        self.assertEqual(cm.exception.status, fpq.ERR_ARGUMENT)
        with self.assertRaises(fpq.FpqError) as cm:
            fpq.LayerSearch(self.w, self.OUT, self.IN, fpq.LayerSearchOptions(4, rounds=0))
        self.assertEqual(cm.exception.status, fpq.ERR_ARGUMENT)


@unittest.skipUnless(fpq.HAVE_NUMPY, "numpy is not importable: the numpy path was not tested")
class NumpySearchTests(unittest.TestCase):
    def setUp(self):
        import numpy
        self.np = numpy

    def test_search_and_reparam_with_numpy(self):
        np = self.np
        rng = np.random.default_rng(4)
        x = rng.standard_normal((16, 8)).astype(np.float32)
        x[:, 3] *= 20
        t = fpq.Tensor(16, 8, fpq.PER_COLUMN)
        r = fpq.search_tensor("e2m1", t, x, fpq.SearchOptions(num_candidates=20))
        self.assertIsInstance(r.scales, np.ndarray)
        plain = fpq.search_tensor("e2m1", t, array.array("f", x.ravel()),
                                  fpq.SearchOptions(num_candidates=20))
        self.assertEqual(r.scales.tobytes(), plain.scales.tobytes())
        self.assertEqual(r.candidates.dtype, np.int32)
        absmax = fpq.reparam_observe(fpq.Tensor(16, 8), x)
        self.assertTrue(np.array_equal(absmax, np.abs(x).max(axis=0)))
        biases = fpq.reparam_biases("e2m1", absmax)
        self.assertEqual(biases.dtype, np.float64)
        offsets, scale = fpq.reparam_offsets("e2m1", biases, fpq.reparam_shared_bias("e2m1", biases))
        self.assertEqual(offsets.dtype, np.int32)
        w = rng.standard_normal((4, 8)).astype(np.float32)
        folded, inexact = fpq.reparam_fold(fpq.Tensor(4, 8), w, offsets)
        self.assertEqual((folded.shape, inexact), ((4, 8), 0))
        self.assertTrue(np.array_equal(folded, w * np.exp2(-offsets.astype(np.float32))))
        back, _ = fpq.reparam_unfold(fpq.Tensor(4, 8), folded, offsets)
        self.assertTrue(np.array_equal(back, w))
        y = fpq.reparam_fake_quantize("e2m1", fpq.Tensor(16, 8), x, scale, offsets)
        self.assertEqual(y.shape, (16, 8))
        with fpq.LayerSearch(w, options=fpq.LayerSearchOptions(4, grid_steps=10, rounds=1)) as s:
            s.add_batch(x)
            summary = s.solve()
            bias, wscale, err = s.weights()
        self.assertLessEqual(summary.total_error, summary.max_based_error)
        self.assertEqual(wscale.dtype, np.float32)


if __name__ == "__main__":
    unittest.main(verbosity=2)
