"""fpq.py - a small ctypes binding of libfpq (include/fpq.h), with no dependency.

The shared library is loaded from, in this order: the path in the environment variable
FPQ_LIB; lib/libfpq.so of the repository this file sits in (run `make` first); the system's
libfpq found by ctypes.util.find_library('fpq').

Arrays can be plain Python objects: array.array('f'), bytearray / bytes / memoryview holding
native float32 (or codes), lists and tuples (converted, a copy). When numpy can be imported,
numpy arrays are used without a copy when they already have the right type and are
C-contiguous (inputs of another float type are converted; outputs must be exact). Results are
array.array('f') / bytearray, or numpy arrays when the input was one; every call that produces
an array also takes `out=` to write into a caller's buffer (fake_quantize(x, out=x): in place).

Every failing C call raises FpqError, whose .status is the FPQ_ERR_* code and whose message is
fpq_status_string()'s. Sizes the C API cannot check (the length of an input array) are checked
here and raise ValueError.

    import fpq
    fmt = fpq.Format.from_name("e2m1")
    scale = fmt.scale_from_maxval(5.5)
    codes = fmt.quantize([0.31, -1.7, 0.02, 2.9, -0.44, 5.5], scale)
    print(list(fmt.dequantize(codes, scale, n=6)))

Search (docs/search.md): search_tensor(formats, tensor, x, SearchOptions(...)) or the
streaming Search object give a SearchResult (the chosen format, per-group scales, errors);
a Python objective is SearchOptions(callback=f). Layer search (docs/layer-search.md):
LayerSearch(W, out, in, LayerSearchOptions(4)), add_batch(X), solve(), weights(),
activations(). Reparameterization (docs/reparam.md): reparam_observe, reparam_biases,
reparam_shared_bias, reparam_offsets, reparam_fold / reparam_unfold, reparam_quantize,
reparam_fake_quantize, reparam_linear_reference. Search objects are freed by close(), a with
block, or garbage collection; every call uses the library's default allocator (malloc).
"""

import array
import ctypes
import ctypes.util
import os

try:  # optional: zero-copy numpy arrays
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the machine
    _np = None

__all__ = [
    "FpqError", "Format", "FormatLimits", "Tensor", "Scales",
    "version", "version_string", "check_version", "status_string",
    "preset_names", "packed_size", "quantize", "dequantize", "fake_quantize",
    "compute_scales", "tensor_quantize", "tensor_dequantize", "tensor_fake_quantize",
    "tensor_quantize_auto", "convert_to_float32", "convert_from_float32",
    "backend_name", "backends", "backend_available", "set_backend",
    "num_threads", "set_num_threads", "HAVE_NUMPY", "HEADER_VERSION",
    "Allocator", "SearchOptions", "SearchResult", "Search", "search_tensor",
    "search_default_formats", "LayerSearchOptions", "LayerSearchSummary", "LayerSearch",
    "reparam_observe", "reparam_biases", "reparam_shared_bias", "reparam_offsets",
    "reparam_fold", "reparam_unfold", "reparam_quantize", "reparam_fake_quantize",
    "reparam_linear_reference",
]

HAVE_NUMPY = _np is not None

# --- constants of include/fpq.h (macros and enums are not visible through FFI) ----------------

# The header version this binding was written against (FPQ_VERSION_NUMBER of 0.1.0).
HEADER_VERSION = 100

OK = 0
ERR_NULL = -1
ERR_SIZE = -2
ERR_FORMAT = -3
ERR_SCALE = -4
ERR_FLAGS = -5
ERR_NAME = -6
ERR_CAPACITY = -7
ERR_OVERLAP = -8
ERR_ALIGN = -9
ERR_ARGUMENT = -10
ERR_UNSUPPORTED = -11
ERR_MEMORY = -12

_STATUS_NAMES = {
    OK: "FPQ_OK", ERR_NULL: "FPQ_ERR_NULL", ERR_SIZE: "FPQ_ERR_SIZE",
    ERR_FORMAT: "FPQ_ERR_FORMAT", ERR_SCALE: "FPQ_ERR_SCALE", ERR_FLAGS: "FPQ_ERR_FLAGS",
    ERR_NAME: "FPQ_ERR_NAME", ERR_CAPACITY: "FPQ_ERR_CAPACITY", ERR_OVERLAP: "FPQ_ERR_OVERLAP",
    ERR_ALIGN: "FPQ_ERR_ALIGN", ERR_ARGUMENT: "FPQ_ERR_ARGUMENT",
    ERR_UNSUPPORTED: "FPQ_ERR_UNSUPPORTED", ERR_MEMORY: "FPQ_ERR_MEMORY",
}

FAMILY_IEEE = 1
FAMILY_FN = 2
FAMILY_FNUZ = 3
FAMILY_FINITE = 4
FAMILY_E8M0 = 5
BIAS_DEFAULT = -32768

UNPACKED = 1
NO_SATURATE = 2

FLOAT32 = 1
FLOAT16 = 2
BFLOAT16 = 3

PER_TENSOR = 1
PER_ROW = 2
PER_COLUMN = 3
PER_BLOCK = 4

SCALE_FLOAT32 = 1
SCALE_E8M0 = 2
SCALE_E4M3 = 3

# tensor-level search
OBJECTIVE_L2 = 1
OBJECTIVE_L1 = 2
OBJECTIVE_COSINE = 3
OBJECTIVE_WEIGHTED_L2 = 4
OBJECTIVE_CALLBACK = 5
GRID_CLIP = 1
GRID_BIAS = 2
WEIGHTS_PER_ELEMENT = 1
WEIGHTS_PER_COLUMN = 2
SEARCH_FAST = 0
SEARCH_EXHAUSTIVE = 1

# layer-level search
LAYER_METRIC_L2 = 1
LAYER_METRIC_L1 = 2
LAYER_METRIC_ABS_WEIGHTED_L2 = 3
LAYER_METRIC_SQUARE_WEIGHTED_L2 = 4
LAYER_METRIC_COSINE = 5
LAYER_METRIC_PEARSON = 6
LAYER_GRID_BIAS = 1
LAYER_GRID_CLIP = 2
LAYER_ACT_PER_TENSOR = 1
LAYER_ACT_PER_CHANNEL = 2
LAYER_MAX_FORMATS = 8


# --- loading ----------------------------------------------------------------------------------

def _find_library():
    path = os.environ.get("FPQ_LIB")
    if path:
        return path
    here = os.path.dirname(os.path.abspath(__file__))
    local = os.path.join(here, os.pardir, os.pardir, "lib", "libfpq.so")
    if os.path.exists(local):
        return os.path.normpath(local)
    found = ctypes.util.find_library("fpq")
    if found:
        return found
    raise OSError("libfpq not found: build it with `make` in the repository, install it, "
                  "or set FPQ_LIB to the path of libfpq.so")


_lib = ctypes.CDLL(_find_library())
LIBRARY_PATH = _lib._name


# --- structs ----------------------------------------------------------------------------------

class _Struct(ctypes.Structure):
    def __repr__(self):
        fields = ", ".join("%s=%r" % (name, getattr(self, name)) for name, _ in self._fields_
                           if name not in ("reserved", "struct_size", "data"))
        return "%s(%s)" % (type(self).__name__, fields)


class FormatLimits(_Struct):
    """fpq_format_limits."""
    _fields_ = [
        ("bits", ctypes.c_int), ("num_codes", ctypes.c_int), ("num_values", ctypes.c_int),
        ("has_inf", ctypes.c_int), ("has_nan", ctypes.c_int),
        ("has_negative_zero", ctypes.c_int),
        ("max_finite", ctypes.c_float), ("min_normal", ctypes.c_float),
        ("min_subnormal", ctypes.c_float), ("min_positive", ctypes.c_float),
    ]


class Format(_Struct):
    """fpq_format (32 bytes). Make one with Format.from_name() or Format.make()."""
    _fields_ = [
        ("exp_bits", ctypes.c_int), ("man_bits", ctypes.c_int), ("bias", ctypes.c_int),
        ("family", ctypes.c_int), ("is_signed", ctypes.c_int),
        ("reserved", ctypes.c_int * 3),
    ]

    @classmethod
    def from_name(cls, name):
        fmt = cls()
        _check(_lib.fpq_format_from_name(_cstr(name), ctypes.byref(fmt)),
               "fpq_format_from_name")
        return fmt

    @classmethod
    def make(cls, exp_bits, man_bits, bias=BIAS_DEFAULT, family=FAMILY_FINITE, is_signed=1):
        fmt = cls()
        _check(_lib.fpq_format_make(exp_bits, man_bits, bias, family, is_signed,
                                    ctypes.byref(fmt)), "fpq_format_make")
        return fmt

    @property
    def bits(self):
        return _check(_lib.fpq_format_bits(ctypes.byref(self)), "fpq_format_bits")

    def limits(self):
        out = FormatLimits()
        _check(_lib.fpq_format_limits_get(ctypes.byref(self), ctypes.byref(out)),
               "fpq_format_limits_get")
        return out

    def values(self):
        """Every distinct finite value, ascending, as a list of floats."""
        count = ctypes.c_size_t()
        _check(_lib.fpq_format_values(ctypes.byref(self), None, 0, ctypes.byref(count)),
               "fpq_format_values")
        buf = (ctypes.c_float * count.value)()
        _check(_lib.fpq_format_values(ctypes.byref(self), buf, count.value,
                                      ctypes.byref(count)), "fpq_format_values")
        return list(buf[:count.value])

    def describe(self):
        buf = ctypes.create_string_buffer(64)
        _check(_lib.fpq_format_describe(ctypes.byref(self), buf, len(buf)),
               "fpq_format_describe")
        return buf.value.decode("ascii")

    def __repr__(self):
        try:
            return "Format(%r)" % self.describe()
        except FpqError:
            return _Struct.__repr__(self)

    def __eq__(self, other):
        return isinstance(other, Format) and bytes(self) == bytes(other)

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def scale_from_maxval(self, maxval):
        s = ctypes.c_float()
        _check(_lib.fpq_scale_from_maxval(ctypes.byref(self), maxval, ctypes.byref(s)),
               "fpq_scale_from_maxval")
        return s.value

    def scale_from_bias(self, bias):
        s = ctypes.c_float()
        _check(_lib.fpq_scale_from_bias(ctypes.byref(self), bias, ctypes.byref(s)),
               "fpq_scale_from_bias")
        return s.value

    def bias_from_scale(self, scale):
        b = ctypes.c_double()
        _check(_lib.fpq_bias_from_scale(ctypes.byref(self), scale, ctypes.byref(b)),
               "fpq_bias_from_scale")
        return b.value

    def packed_size(self, n, flags=0):
        return packed_size(self, n, flags)

    def quantize(self, x, scale=1.0, flags=0, out=None):
        return quantize(self, x, scale, flags, out)

    def dequantize(self, codes, scale=1.0, n=None, flags=0, out=None):
        return dequantize(self, codes, scale, n, flags, out)

    def fake_quantize(self, x, scale=1.0, flags=0, out=None):
        return fake_quantize(self, x, scale, flags, out)


class Tensor(_Struct):
    """fpq_tensor: rows x cols, row-major, row_stride elements apart (default cols)."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t), ("rows", ctypes.c_size_t),
        ("cols", ctypes.c_size_t), ("row_stride", ctypes.c_size_t),
        ("elem_type", ctypes.c_int), ("granularity", ctypes.c_int),
        ("block_size", ctypes.c_int), ("reserved", ctypes.c_int),
    ]

    def __init__(self, rows, cols, granularity=PER_TENSOR, block_size=0, elem_type=FLOAT32,
                 row_stride=None):
        _Struct.__init__(self, struct_size=ctypes.sizeof(Tensor), rows=rows, cols=cols,
                         row_stride=cols if row_stride is None else row_stride,
                         elem_type=elem_type, granularity=granularity, block_size=block_size)

    def num_scales(self):
        return _lib.fpq_tensor_num_scales(ctypes.byref(self))

    def code_bytes(self, fmt, flags=0):
        return _lib.fpq_tensor_code_bytes(ctypes.byref(_fmt(fmt)), ctypes.byref(self), flags)


class Scales(_Struct):
    """fpq_scales with its storage: .values is the Python object holding the scales
    (array('f') for SCALE_FLOAT32, bytearray for SCALE_E8M0 / SCALE_E4M3, or the `data`
    given: a writable buffer or numpy array, used without a copy)."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t), ("encoding", ctypes.c_int),
        ("reserved", ctypes.c_int), ("data", ctypes.c_void_p),
        ("count", ctypes.c_size_t), ("tensor_scale", ctypes.c_float),
    ]

    def __init__(self, encoding=SCALE_FLOAT32, count=None, data=None, tensor_scale=0.0):
        kind = "f32" if encoding == SCALE_FLOAT32 else "u8"
        if data is None:
            data = _alloc(kind, count or 0, False)
        elif isinstance(data, (list, tuple)):
            data = array.array(_KINDS[kind][1], data)
        addr, n, keep, data = _writable(data, kind)
        if count is not None and count > n:
            raise ValueError("scale data holds %d entries, %d needed" % (n, count))
        _Struct.__init__(self, struct_size=ctypes.sizeof(Scales), encoding=encoding,
                         data=addr, count=n if count is None else count,
                         tensor_scale=tensor_scale)
        self._keep = keep
        self.values = data

    def __repr__(self):
        return "Scales(encoding=%d, count=%d, tensor_scale=%r, values=%r)" % (
            self.encoding, self.count, self.tensor_scale, self.values)


# --- prototypes -------------------------------------------------------------------------------

_c_int, _c_uint, _c_size, _c_float = ctypes.c_int, ctypes.c_uint, ctypes.c_size_t, ctypes.c_float
_vp, _cp = ctypes.c_void_p, ctypes.c_char_p
_P = ctypes.POINTER

for _name, _res, _args in [
        ("fpq_version", _c_int, []),
        ("fpq_version_string", _cp, []),
        ("fpq_status_string", _cp, [_c_int]),
        ("fpq_format_make", _c_int, [_c_int] * 5 + [_P(Format)]),
        ("fpq_format_from_name", _c_int, [_cp, _P(Format)]),
        ("fpq_format_preset_name", _cp, [_c_int]),
        ("fpq_format_describe", _c_int, [_P(Format), _cp, _c_size]),
        ("fpq_format_limits_get", _c_int, [_P(Format), _P(FormatLimits)]),
        ("fpq_format_bits", _c_int, [_P(Format)]),
        ("fpq_format_values", _c_int, [_P(Format), _P(_c_float), _c_size, _P(_c_size)]),
        ("fpq_scale_from_maxval", _c_int, [_P(Format), _c_float, _P(_c_float)]),
        ("fpq_scale_from_bias", _c_int, [_P(Format), ctypes.c_double, _P(_c_float)]),
        ("fpq_bias_from_scale", _c_int, [_P(Format), _c_float, _P(ctypes.c_double)]),
        ("fpq_packed_size", _c_size, [_P(Format), _c_size, _c_uint]),
        ("fpq_quantize", _c_int, [_P(Format), _vp, _c_size, _c_float, _c_uint, _vp]),
        ("fpq_dequantize", _c_int, [_P(Format), _vp, _c_size, _c_float, _c_uint, _vp]),
        ("fpq_fake_quantize", _c_int, [_P(Format), _vp, _c_size, _c_float, _c_uint, _vp]),
        ("fpq_tensor_num_scales", _c_size, [_P(Tensor)]),
        ("fpq_tensor_code_bytes", _c_size, [_P(Format), _P(Tensor), _c_uint]),
        ("fpq_tensor_compute_scales", _c_int,
         [_P(Format), _P(Tensor), _vp, _c_float, _P(Scales)]),
        ("fpq_tensor_quantize", _c_int,
         [_P(Format), _P(Tensor), _vp, _P(Scales), _c_uint, _vp, _c_size]),
        ("fpq_tensor_dequantize", _c_int,
         [_P(Format), _P(Tensor), _vp, _c_size, _P(Scales), _c_uint, _vp]),
        ("fpq_tensor_fake_quantize", _c_int,
         [_P(Format), _P(Tensor), _vp, _P(Scales), _c_uint, _vp]),
        ("fpq_tensor_quantize_auto", _c_int,
         [_P(Format), _P(Tensor), _vp, _c_float, _P(Scales), _c_uint, _vp, _c_size]),
        ("fpq_convert_to_float32", _c_int, [_c_int, _vp, _c_size, _vp]),
        ("fpq_convert_from_float32", _c_int, [_c_int, _vp, _c_size, _vp]),
        ("fpq_backend_name", _cp, []),
        ("fpq_backend_at", _cp, [_c_int]),
        ("fpq_backend_available", _c_int, [_cp]),
        ("fpq_set_backend", _c_int, [_cp]),
        ("fpq_set_num_threads", _c_int, [_c_int]),
        ("fpq_num_threads", _c_int, []),
]:
    _f = getattr(_lib, _name)
    _f.restype, _f.argtypes = _res, _args

# fpq_check_version came after 0.1.0's first builds: use it when the library has it.
if hasattr(_lib, "fpq_check_version"):
    _lib.fpq_check_version.restype, _lib.fpq_check_version.argtypes = _c_int, [_c_int]


# --- errors -----------------------------------------------------------------------------------

class FpqError(Exception):
    """A C call returned a negative status. .status is the code (e.g. fpq.ERR_SCALE), .name
    its name ("FPQ_ERR_SCALE"), .function the C function; str() is fpq_status_string()'s text
    with both."""

    def __init__(self, status, function=None):
        self.status = status
        self.name = _STATUS_NAMES.get(status, "unknown")
        self.function = function
        self.text = status_string(status)
        Exception.__init__(self, "%s%s (%s)" % (
            function + ": " if function else "", self.text, self.name))


def _check(status, function):
    if status < 0:
        raise FpqError(status, function)
    return status


def _cstr(s):
    if isinstance(s, bytes):
        return s
    return str(s).encode("utf-8")


def _fmt(fmt):
    if isinstance(fmt, Format):
        return fmt
    if isinstance(fmt, (str, bytes)):
        return Format.from_name(fmt)
    raise TypeError("expected an fpq.Format or a format name, got %r" % (fmt,))


# --- buffers ----------------------------------------------------------------------------------

# kind: (bytes per item, array typecode, numpy dtype, memoryview formats taken as is)
_KINDS = {
    "f32": (4, "f", "float32", ("f",)),
    "u16": (2, "H", "uint16", ("H", "h", "e")),
    "u8": (1, "B", "uint8", None),  # codes: any buffer, as bytes
    "f64": (8, "d", "float64", ("d",)),
    "i32": (4, "i", "int32", ("i", "l") if array.array("l").itemsize == 4 else ("i",)),
}
_BYTE_FORMATS = ("B", "b", "c")
# Passed for an empty array so that the C call reports FPQ_ERR_SIZE rather than a NULL.
_EMPTY = (ctypes.c_float * 1)()


def _is_numpy(obj):
    return _np is not None and isinstance(obj, _np.ndarray)


def _memoryview(obj, kind):
    """A C-contiguous memoryview of obj with the item size of `kind`, or None if obj's items
    are of another type (then a 1-D one is converted by the caller)."""
    size = _KINDS[kind][0]
    m = memoryview(obj)
    if not m.c_contiguous:
        raise ValueError("the buffer is not contiguous")
    fmt = m.format.lstrip("@=<")
    accepted = _KINDS[kind][3]
    if accepted is None or fmt in accepted:
        return m
    if fmt in _BYTE_FORMATS:
        if m.nbytes % size:
            raise ValueError("a byte buffer of %d bytes does not hold whole %d-byte items"
                             % (m.nbytes, size))
        return m
    return None


def _address(m, writable):
    if m.nbytes == 0:
        return ctypes.addressof(_EMPTY), None
    if m.readonly:
        if writable:
            raise TypeError("the output buffer is read-only")
        c = (ctypes.c_char * m.nbytes).from_buffer_copy(m)
    else:
        c = (ctypes.c_char * m.nbytes).from_buffer(m)
    return ctypes.addressof(c), c


def _readable(obj, kind):
    """An input array: (address, item count, objects to keep alive, numpy-ness)."""
    size, code, dtype, _ = _KINDS[kind]
    if _is_numpy(obj):
        if kind in ("f32", "f64", "i32"):
            arr = _np.ascontiguousarray(obj, dtype=dtype)  # no copy if already so
        else:
            arr = _np.ascontiguousarray(obj)
            if kind == "u8":
                arr = arr.reshape(-1).view(_np.uint8)
            elif arr.dtype.itemsize != size:
                raise TypeError("expected %d-byte items, got dtype %s" % (size, arr.dtype))
        addr = arr.ctypes.data if arr.size else ctypes.addressof(_EMPTY)
        return addr, arr.nbytes // size, arr, True
    try:
        m = _memoryview(obj, kind)
    except TypeError:  # not a buffer: an iterable of numbers
        m = memoryview(array.array(code, obj))
    if m is None:
        if memoryview(obj).ndim != 1:
            raise TypeError("cannot convert a %d-D %r buffer" % (memoryview(obj).ndim,
                                                                 memoryview(obj).format))
        if kind not in ("f32", "f64", "i32"):
            raise TypeError("expected %d-byte items, got format %r"
                            % (size, memoryview(obj).format))
        m = memoryview(array.array(code, memoryview(obj).tolist()))
    addr, c = _address(m, False)
    return addr, m.nbytes // size, (obj, m, c), False


def _writable(obj, kind):
    """An output array given by the caller: (address, item count, keep-alive, obj)."""
    size = _KINDS[kind][0]
    if _is_numpy(obj):
        if not obj.flags.c_contiguous or not obj.flags.writeable:
            raise ValueError("the output array must be C-contiguous and writable")
        if kind in ("f32", "f64", "i32") and obj.dtype != _np.dtype(_KINDS[kind][2]):
            raise TypeError("the output array must be %s, not %s" % (_KINDS[kind][2], obj.dtype))
        if obj.dtype.itemsize != size and kind != "u8":
            raise TypeError("the output array must have %d-byte items" % size)
        addr = obj.ctypes.data if obj.size else ctypes.addressof(_EMPTY)
        return addr, obj.nbytes // size, obj, obj
    m = _memoryview(obj, kind)
    if m is None:
        raise TypeError("the output buffer has items of format %r" % memoryview(obj).format)
    addr, c = _address(m, True)
    return addr, m.nbytes // size, (m, c), obj


def _alloc(kind, count, like_numpy, shape=None):
    size, code, dtype, _ = _KINDS[kind]
    if like_numpy:
        return _np.zeros(shape if shape is not None else count, dtype=dtype)
    if kind == "u8":
        return bytearray(count)
    return array.array(code, bytes(count * size))


def _output(out, kind, count, like_numpy, shape=None, what="output"):
    if out is None:
        out = _alloc(kind, count, like_numpy, shape)
    addr, n, keep, out = _writable(out, kind)
    if n < count:
        raise ValueError("the %s holds %d items, %d needed" % (what, n, count))
    return addr, n, keep, out


def _numpy_shape(x):
    return x.shape if _is_numpy(x) else None


# --- version, status, formats -----------------------------------------------------------------

def version():
    """The loaded library's FPQ_VERSION_NUMBER (major * 10000 + minor * 100 + patch)."""
    return _lib.fpq_version()


def version_string():
    return _lib.fpq_version_string().decode("ascii")


def check_version(header_version=HEADER_VERSION):
    """True if the loaded library serves a program written against `header_version`
    (fpq_check_version: same major version, library minor.patch >= header's)."""
    if hasattr(_lib, "fpq_check_version"):
        return _lib.fpq_check_version(header_version) == OK
    lib = _lib.fpq_version()  # a library older than fpq_check_version
    return (header_version >= 0 and header_version // 10000 == lib // 10000
            and header_version % 10000 <= lib % 10000)


def status_string(status):
    return _lib.fpq_status_string(status).decode("ascii")


def preset_names():
    names, i = [], 0
    while True:
        name = _lib.fpq_format_preset_name(i)
        if name is None:
            return names
        names.append(name.decode("ascii"))
        i += 1


def packed_size(fmt, n, flags=0):
    """Bytes for n codes (0 for an invalid format, flags or size, as the C call)."""
    return _lib.fpq_packed_size(ctypes.byref(_fmt(fmt)), n, flags)


# --- kernels ----------------------------------------------------------------------------------

def quantize(fmt, x, scale=1.0, flags=0, out=None):
    """float32 array -> codes (bytearray, or a numpy uint8 array for a numpy x)."""
    fmt = _fmt(fmt)
    xa, n, keep_x, np_x = _readable(x, "f32")
    size = packed_size(fmt, n, flags)
    ca, _, keep_c, out = _output(out, "u8", size, np_x, what="codes buffer")
    _check(_lib.fpq_quantize(ctypes.byref(fmt), xa, n, scale, flags, ca), "fpq_quantize")
    return out


def dequantize(fmt, codes, scale=1.0, n=None, flags=0, out=None):
    """codes -> float32 array of n values. n defaults to len(out) when out is given, else to
    as many codes as `codes` holds."""
    fmt = _fmt(fmt)
    ca, nbytes, keep_c, np_c = _readable(codes, "u8")
    if n is None:
        if out is not None:
            n = _writable(out, "f32")[1]
        elif flags & UNPACKED:
            n = nbytes
        else:
            bits = fmt.bits
            n = nbytes * 8 // bits
    need = packed_size(fmt, n, flags)
    if need > nbytes:
        raise ValueError("%d codes need %d bytes, the codes buffer holds %d" % (n, need, nbytes))
    ya, _, keep_y, out = _output(out, "f32", n, np_c)
    _check(_lib.fpq_dequantize(ctypes.byref(fmt), ca, n, scale, flags, ya), "fpq_dequantize")
    return out


def fake_quantize(fmt, x, scale=1.0, flags=0, out=None):
    """dequantize(quantize(x)) as float32; out=x works in place."""
    fmt = _fmt(fmt)
    xa, n, keep_x, np_x = _readable(x, "f32")
    ya, _, keep_y, out = _output(out, "f32", n, np_x, _numpy_shape(x))
    _check(_lib.fpq_fake_quantize(ctypes.byref(fmt), xa, n, scale, flags, ya),
           "fpq_fake_quantize")
    return out


# --- tensors ----------------------------------------------------------------------------------

def _elem_kind(t):
    return {FLOAT32: "f32", FLOAT16: "u16", BFLOAT16: "u16"}.get(t.elem_type)


def _tensor_input(t, x):
    """The float side of a tensor call, checked to hold every element the C call reads."""
    kind = _elem_kind(t)
    if kind is None:  # an invalid element type: the C call refuses it before reading x
        xa, n, keep, np_x = _readable(x, "u8")
        return xa, keep, np_x
    xa, n, keep, np_x = _readable(x, kind)
    stride = max(t.row_stride, t.cols)
    need = (t.rows - 1) * stride + t.cols if t.rows and t.cols else 0
    if n < need:
        raise ValueError("the tensor needs %d elements, the array holds %d" % (need, n))
    return xa, keep, np_x


def _tensor_output(t, out, like_numpy):
    kind = _elem_kind(t) or "u8"
    stride = max(t.row_stride, t.cols)
    need = (t.rows - 1) * stride + t.cols if t.rows and t.cols else 0
    if like_numpy and out is None and t.elem_type == FLOAT16:
        out = _np.zeros((t.rows, stride), dtype=_np.float16)
    return _output(out, kind, need, like_numpy, (t.rows, stride))


def _scales_arg(s):
    if not isinstance(s, Scales):
        raise TypeError("expected fpq.Scales, got %r" % (s,))
    return ctypes.byref(s)


def compute_scales(fmt, t, x, clip_ratio=1.0, encoding=SCALE_FLOAT32, scales=None):
    """fpq_tensor_compute_scales: returns an fpq.Scales (a new one unless `scales` is given)."""
    fmt = _fmt(fmt)
    xa, keep, np_x = _tensor_input(t, x)
    if scales is None:
        scales = Scales(encoding, count=t.num_scales())
    _check(_lib.fpq_tensor_compute_scales(ctypes.byref(fmt), ctypes.byref(t), xa, clip_ratio,
                                          _scales_arg(scales)), "fpq_tensor_compute_scales")
    return scales


def tensor_quantize(fmt, t, x, scales, flags=0, out=None):
    """Codes of the tensor (bytearray or numpy uint8), row r at r * packed_size(cols)."""
    fmt = _fmt(fmt)
    xa, keep, np_x = _tensor_input(t, x)
    ca, nbytes, keep_c, out = _output(out, "u8", t.code_bytes(fmt, flags), np_x,
                                      what="codes buffer")
    _check(_lib.fpq_tensor_quantize(ctypes.byref(fmt), ctypes.byref(t), xa, _scales_arg(scales),
                                    flags, ca, nbytes), "fpq_tensor_quantize")
    return out


def tensor_dequantize(fmt, t, codes, scales, flags=0, out=None):
    """Codes -> the tensor's element type (array('f') / array('H') for float16 and bfloat16
    bits, or numpy float32 / float16 / uint16)."""
    fmt = _fmt(fmt)
    ca, nbytes, keep_c, np_c = _readable(codes, "u8")
    ya, _, keep_y, out = _tensor_output(t, out, np_c)
    _check(_lib.fpq_tensor_dequantize(ctypes.byref(fmt), ctypes.byref(t), ca, nbytes,
                                      _scales_arg(scales), flags, ya), "fpq_tensor_dequantize")
    return out


def tensor_fake_quantize(fmt, t, x, scales, flags=0, out=None):
    """dequantize(quantize(x)) for the tensor; out=x works in place."""
    fmt = _fmt(fmt)
    xa, keep, np_x = _tensor_input(t, x)
    ya, _, keep_y, out = _tensor_output(t, out, np_x)
    _check(_lib.fpq_tensor_fake_quantize(ctypes.byref(fmt), ctypes.byref(t), xa,
                                         _scales_arg(scales), flags, ya),
           "fpq_tensor_fake_quantize")
    return out


def tensor_quantize_auto(fmt, t, x, clip_ratio=1.0, encoding=SCALE_FLOAT32, flags=0, out=None,
                         scales=None):
    """compute_scales then tensor_quantize in one C call: returns (codes, scales)."""
    fmt = _fmt(fmt)
    xa, keep, np_x = _tensor_input(t, x)
    if scales is None:
        scales = Scales(encoding, count=t.num_scales())
    ca, nbytes, keep_c, out = _output(out, "u8", t.code_bytes(fmt, flags), np_x,
                                      what="codes buffer")
    _check(_lib.fpq_tensor_quantize_auto(ctypes.byref(fmt), ctypes.byref(t), xa, clip_ratio,
                                         _scales_arg(scales), flags, ca, nbytes),
           "fpq_tensor_quantize_auto")
    return out, scales


def convert_to_float32(elem_type, x, out=None):
    """float16 / bfloat16 bits (2-byte items) -> float32."""
    xa, n, keep, np_x = _readable(x, "u16")
    ya, _, keep_y, out = _output(out, "f32", n, np_x, _numpy_shape(x))
    _check(_lib.fpq_convert_to_float32(elem_type, xa, n, ya), "fpq_convert_to_float32")
    return out


def convert_from_float32(elem_type, x, out=None):
    """float32 -> float16 / bfloat16 bits (array('H'), or numpy float16 / uint16)."""
    xa, n, keep, np_x = _readable(x, "f32")
    if out is None and np_x:
        out = _np.zeros(_numpy_shape(x) or n,
                        dtype=_np.float16 if elem_type == FLOAT16 else _np.uint16)
    ya, _, keep_y, out = _output(out, "u16", n, np_x, _numpy_shape(x))
    _check(_lib.fpq_convert_from_float32(elem_type, xa, n, ya), "fpq_convert_from_float32")
    return out


# --- backends and threads ---------------------------------------------------------------------

def backend_name():
    return _lib.fpq_backend_name().decode("ascii")


def backends():
    """The backends of this build, best first."""
    names, i = [], 0
    while True:
        name = _lib.fpq_backend_at(i)
        if name is None:
            return names
        names.append(name.decode("ascii"))
        i += 1


def backend_available(name):
    return bool(_lib.fpq_backend_available(_cstr(name)))


def set_backend(name):
    """Force a backend ("auto": the best available) for every later call in the process."""
    _check(_lib.fpq_set_backend(_cstr(name)), "fpq_set_backend")


def num_threads():
    return _lib.fpq_num_threads()


def set_num_threads(n):
    _check(_lib.fpq_set_num_threads(n), "fpq_set_num_threads")


# --- search and reparameterization: structs --------------------------------------------------

_ALLOC_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_FREE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
# fpq_search_callback: double (*)(void *user, size_t group, const float *x, const float *xq,
# size_t n)
_SEARCH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_void_p, ctypes.c_size_t,
                                    ctypes.POINTER(ctypes.c_float),
                                    ctypes.POINTER(ctypes.c_float), ctypes.c_size_t)


class Allocator(_Struct):
    """fpq_allocator (fixed forever). Mirrored for the layout; the wrappers pass NULL
    (malloc / free)."""
    _fields_ = [("alloc", _ALLOC_FN), ("free", _FREE_FN), ("user", ctypes.c_void_p)]


class SearchOptions(_Struct):
    """fpq_search_options, filled by fpq_search_options_init(grid); keyword arguments then
    change fields: SearchOptions(GRID_BIAS, num_candidates=20). callback= takes a Python
    function f(group, x, xq) -> float of two float32 memoryviews (OBJECTIVE_CALLBACK, set
    by giving it); an exception it raises is raised again by the solving call."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t), ("objective", ctypes.c_int),
        ("weights", ctypes.c_int), ("grid", ctypes.c_int), ("num_candidates", ctypes.c_int),
        ("grid_low", ctypes.c_double), ("grid_high", ctypes.c_double),
        ("method", ctypes.c_int), ("reserved", ctypes.c_int),
        ("callback", _SEARCH_CALLBACK), ("callback_user", ctypes.c_void_p),
    ]

    def __init__(self, grid=GRID_CLIP, callback=None, **fields):
        _Struct.__init__(self)
        _check(_lib.fpq_search_options_init(grid, ctypes.byref(self)),
               "fpq_search_options_init")
        for name, value in fields.items():
            if name not in dict(self._fields_) or name in ("callback", "struct_size"):
                raise TypeError("fpq_search_options has no settable field %r" % name)
            setattr(self, name, value)
        self._errors = []
        self._callback = None
        if callback is not None:
            self.set_callback(callback)

    def set_callback(self, fn):
        errors = self._errors

        def trampoline(user, group, x, xq, n):
            if errors:  # one exception is enough: the rest of the search is wasted work
                return float("nan")
            try:
                return float(fn(group, _float_view(x, n), _float_view(xq, n)))
            except BaseException as e:  # ctypes would print it and return 0: keep it
                errors.append(e)
                return float("nan")

        self._callback = _SEARCH_CALLBACK(trampoline)  # kept alive with the options
        self.callback = self._callback
        self.objective = OBJECTIVE_CALLBACK

    def _raise_callback_error(self):
        if self._errors:
            e = self._errors[0]
            del self._errors[:]
            raise e


def _float_view(ptr, n):
    if n == 0:
        return memoryview(array.array("f"))
    c = (ctypes.c_float * n).from_address(ctypes.addressof(ptr.contents))
    return memoryview(c).cast("B").cast("f")  # ctypes' "<f" views cannot be indexed


class _SearchResultC(_Struct):
    """fpq_search_result, the C struct."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t), ("num_groups", ctypes.c_size_t),
        ("scales", ctypes.POINTER(ctypes.c_float)), ("biases", ctypes.POINTER(ctypes.c_double)),
        ("errors", ctypes.POINTER(ctypes.c_double)), ("candidates", ctypes.POINTER(ctypes.c_int)),
        ("format_errors", ctypes.POINTER(ctypes.c_double)),
        ("error_table", ctypes.POINTER(ctypes.c_double)),
        ("error_table_count", ctypes.c_size_t), ("format_index", ctypes.c_int),
        ("reserved", ctypes.c_int), ("total_error", ctypes.c_double),
    ]


class SearchResult(object):
    """What a search found: .format_index and .format (the chosen one), .total_error, and
    arrays (array('f'/'d'/'i'), or numpy when the data was numpy): .scales (float32, in
    fpq_scales order: Scales(data=result.scales) quantizes with them), .biases, .errors,
    .candidates (per group), .format_errors (per format), .error_table (None unless asked:
    [(group * num_formats + format) * num_candidates + candidate])."""

    def __init__(self, num_groups, num_formats, num_candidates, like_numpy, error_table):
        self.scales = _alloc("f32", num_groups, like_numpy)
        self.biases = _alloc("f64", num_groups, like_numpy)
        self.errors = _alloc("f64", num_groups, like_numpy)
        self.candidates = _alloc("i32", num_groups, like_numpy)
        self.format_errors = _alloc("f64", num_formats, like_numpy)
        table = num_groups * num_formats * num_candidates if error_table else 0
        self.error_table = _alloc("f64", table, like_numpy) if error_table else None
        self.format_index = -1
        self.format = None
        self.total_error = float("nan")
        c = _SearchResultC(struct_size=ctypes.sizeof(_SearchResultC), num_groups=num_groups,
                           error_table_count=table)
        self._keep = []
        for name, kind in (("scales", "f32"), ("biases", "f64"), ("errors", "f64"),
                           ("candidates", "i32"), ("format_errors", "f64"),
                           ("error_table", "f64")):
            arr = getattr(self, name)
            if arr is None:
                continue
            addr, _, keep, _ = _writable(arr, kind)
            self._keep.append(keep)
            setattr(c, name, ctypes.cast(addr, dict(_SearchResultC._fields_)[name]))
        self._c = c

    def _finish(self, formats):
        self.format_index = self._c.format_index
        self.format = formats[self.format_index]
        self.total_error = self._c.total_error
        del self._keep, self._c
        return self

    def __repr__(self):
        return "SearchResult(format=%r, total_error=%r, scales=%r)" % (
            self.format, self.total_error, self.scales)


def _format_array(formats):
    if isinstance(formats, (Format, str, bytes)):
        formats = [formats]
    formats = [_fmt(f) for f in formats]
    arr = (Format * max(len(formats), 1))(*formats)
    return arr, len(formats), formats


class LayerSearchOptions(_Struct):
    """fpq_layer_search_options, filled by fpq_layer_search_options_init(bits); keyword
    arguments change fields; weight_formats= / act_formats= take lists of formats or names
    (and set the counts)."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t), ("num_weight_formats", ctypes.c_int),
        ("num_act_formats", ctypes.c_int),
        ("weight_formats", Format * LAYER_MAX_FORMATS), ("act_formats", Format * LAYER_MAX_FORMATS),
        ("initial_weight_format", ctypes.c_int), ("initial_act_format", ctypes.c_int),
        ("grid", ctypes.c_int), ("grid_steps", ctypes.c_int),
        ("grid_alpha", ctypes.c_double), ("grid_beta", ctypes.c_double),
        ("rounds", ctypes.c_int), ("metric", ctypes.c_int), ("act_mode", ctypes.c_int),
        ("reserved", ctypes.c_int), ("allocator", ctypes.POINTER(Allocator)),
    ]

    def __init__(self, bits=4, **fields):
        _Struct.__init__(self)
        _check(_lib.fpq_layer_search_options_init(ctypes.byref(self), bits),
               "fpq_layer_search_options_init")
        for side in ("weight_formats", "act_formats"):
            if side in fields:
                formats = [_fmt(f) for f in fields.pop(side)]
                if len(formats) > LAYER_MAX_FORMATS:
                    raise ValueError("at most %d formats" % LAYER_MAX_FORMATS)
                for i, f in enumerate(formats):
                    getattr(self, side)[i] = f
                setattr(self, "num_" + side, len(formats))
        for name, value in fields.items():
            if name not in dict(self._fields_) or name in ("struct_size", "allocator"):
                raise TypeError("fpq_layer_search_options has no settable field %r" % name)
            setattr(self, name, value)

    def formats(self, side="weight"):
        return list(getattr(self, side + "_formats")[:getattr(self, "num_%s_formats" % side)])


class LayerSearchSummary(_Struct):
    """fpq_layer_search_summary (fixed layout)."""
    _fields_ = [
        ("weight_format", Format), ("act_format", Format), ("act_bias", ctypes.c_double),
        ("act_scale", ctypes.c_float), ("act_mode", ctypes.c_int),
        ("total_error", ctypes.c_double), ("max_based_error", ctypes.c_double),
        ("tokens", ctypes.c_size_t), ("reserved", ctypes.c_int * 8),
    ]


_P = ctypes.POINTER
for _name, _res, _args in [
        ("fpq_search_options_init", _c_int, [_c_int, _P(SearchOptions)]),
        ("fpq_search_default_formats", _c_int, [_c_int, _c_int, _P(Format), _c_size, _P(_c_size)]),
        ("fpq_search_create", _c_int,
         [_P(Format), _c_size, _P(SearchOptions), _P(Allocator), _P(_vp)]),
        ("fpq_search_add", _c_int, [_vp, _P(Tensor), _vp, _vp]),
        ("fpq_search_num_groups", _c_size, [_vp]),
        ("fpq_search_memory", _c_size, [_vp]),
        ("fpq_search_solve", _c_int, [_vp, _P(_SearchResultC)]),
        ("fpq_search_destroy", None, [_vp]),
        ("fpq_search_tensor", _c_int,
         [_P(Format), _c_size, _P(SearchOptions), _P(Tensor), _vp, _vp, _P(Allocator),
          _P(_SearchResultC)]),
        ("fpq_layer_search_options_init", _c_int, [_P(LayerSearchOptions), _c_int]),
        ("fpq_layer_search_create", _c_int,
         [_vp, _c_size, _c_size, _P(LayerSearchOptions), _P(_vp)]),
        ("fpq_layer_search_destroy", None, [_vp]),
        ("fpq_layer_search_add_batch", _c_int, [_vp, _vp, _c_size]),
        ("fpq_layer_search_solve", _c_int, [_vp]),
        ("fpq_layer_search_get_summary", _c_int, [_vp, _P(LayerSearchSummary)]),
        ("fpq_layer_search_get_weights", _c_int, [_vp, _vp, _vp, _vp, _c_size]),
        ("fpq_layer_search_get_activations", _c_int, [_vp, _vp, _vp, _vp, _c_size]),
        ("fpq_reparam_observe", _c_int, [_P(Tensor), _vp, _vp]),
        ("fpq_reparam_biases", _c_int, [_P(Format), _vp, _c_size, _vp]),
        ("fpq_reparam_shared_bias", _c_int, [_P(Format), _vp, _c_size, _P(ctypes.c_double)]),
        ("fpq_reparam_offsets", _c_int,
         [_P(Format), _vp, _c_size, ctypes.c_double, _vp, _P(_c_float)]),
        ("fpq_reparam_fold", _c_int, [_P(Tensor), _vp, _vp, _vp, _P(_c_size)]),
        ("fpq_reparam_unfold", _c_int, [_P(Tensor), _vp, _vp, _vp, _P(_c_size)]),
        ("fpq_reparam_quantize", _c_int,
         [_P(Format), _P(Tensor), _vp, _c_float, _vp, _c_uint, _vp, _c_size]),
        ("fpq_reparam_fake_quantize", _c_int,
         [_P(Format), _P(Tensor), _vp, _c_float, _vp, _c_uint, _vp]),
        ("fpq_reparam_linear_reference", _c_int,
         [_P(Format), _vp, _c_size, _c_size, _c_size, _c_float, _P(Format), _vp, _c_size,
          _c_size, _vp, _vp, _c_uint, _vp]),
]:
    # A 0.1.0 library without these calls still serves the rest of the binding; calling one
    # of them then raises AttributeError naming the missing function.
    if hasattr(_lib, _name):
        _f = getattr(_lib, _name)
        _f.restype, _f.argtypes = _res, _args


# --- tensor-level search (docs/search.md) -----------------------------------------------------

def search_default_formats(bits, with_int=False):
    """The paper's format lists (fpq_search_default_formats), as a list of Format."""
    count = _c_size()
    _check(_lib.fpq_search_default_formats(bits, int(bool(with_int)), None, 0,
                                           ctypes.byref(count)), "fpq_search_default_formats")
    arr = (Format * count.value)()
    _check(_lib.fpq_search_default_formats(bits, int(bool(with_int)), arr, count.value,
                                           ctypes.byref(count)), "fpq_search_default_formats")
    return list(arr)


def _options_arg(options):
    if options is None:
        return None
    if not isinstance(options, SearchOptions):
        raise TypeError("expected fpq.SearchOptions, got %r" % (options,))
    return ctypes.byref(options)


def _search_weights(options, t, weights):
    """The weights array of WEIGHTED_L2, checked to hold what the C call reads."""
    if weights is None:
        return None, None
    wa, n, keep, _ = _readable(weights, "f32")
    per_column = options is not None and options.weights == WEIGHTS_PER_COLUMN
    stride = max(t.row_stride, t.cols)
    need = t.cols if per_column else ((t.rows - 1) * stride + t.cols if t.rows else 0)
    if n < need:
        raise ValueError("the weights hold %d values, %d needed" % (n, need))
    return wa, keep


def search_tensor(formats, t, x, options=None, weights=None, error_table=False):
    """fpq_search_tensor: the best format of `formats` and scale of each group of the tensor
    t over x. Returns a SearchResult."""
    farr, nf, flist = _format_array(formats)
    xa, keep_x, np_x = _tensor_input(t, x)
    wa, keep_w = _search_weights(options, t, weights)
    cands = options.num_candidates if options is not None else SearchOptions().num_candidates
    r = SearchResult(t.num_scales(), nf, cands, np_x, error_table)
    status = _lib.fpq_search_tensor(farr, nf, _options_arg(options), ctypes.byref(t), xa, wa,
                                    None, ctypes.byref(r._c))
    if options is not None:
        options._raise_callback_error()
    _check(status, "fpq_search_tensor")
    return r._finish(flist)


class _Owned(object):
    """A C object the wrapper owns: close() frees it, as do a with block and garbage
    collection. Subclasses set _h in __init__, name it in _what, and free it in _destroy."""
    _what = "object"

    def _handle(self):
        if not getattr(self, "_h", None):
            raise ValueError("the %s is closed" % self._what)
        return self._h

    def close(self):
        if getattr(self, "_h", None):
            self._destroy(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Search(_Owned):
    """The streaming search object (fpq_search_create ... fpq_search_destroy): add() batches,
    solve() (any number of times), close() (or a with block; also on garbage collection)."""
    _what = "search object"

    def __init__(self, formats, options=None):
        farr, self.num_formats, self.formats = _format_array(formats)
        self.options = options  # kept alive: it may hold the callback
        self.num_candidates = (options.num_candidates if options is not None
                               else SearchOptions().num_candidates)
        self._like_numpy = False
        handle = _vp()
        _check(_lib.fpq_search_create(farr, self.num_formats, _options_arg(options), None,
                                      ctypes.byref(handle)), "fpq_search_create")
        self._h = handle


    def add(self, t, x, weights=None):
        xa, keep_x, np_x = _tensor_input(t, x)
        wa, keep_w = _search_weights(self.options, t, weights)
        _check(_lib.fpq_search_add(self._handle(), ctypes.byref(t), xa, wa), "fpq_search_add")
        self._like_numpy = self._like_numpy or np_x

    @property
    def num_groups(self):
        return _lib.fpq_search_num_groups(self._handle())

    @property
    def memory(self):
        return _lib.fpq_search_memory(self._handle())

    def solve(self, error_table=False):
        r = SearchResult(self.num_groups, self.num_formats, self.num_candidates,
                         self._like_numpy, error_table)
        status = _lib.fpq_search_solve(self._handle(), ctypes.byref(r._c))
        if self.options is not None:
            self.options._raise_callback_error()
        _check(status, "fpq_search_solve")
        return r._finish(self.formats)

    def _destroy(self, handle):
        _lib.fpq_search_destroy(handle)


# --- layer-level search (docs/layer-search.md) ------------------------------------------------

def _matrix(x, cols, what):
    """A float32 row-major matrix of `cols` columns: (address, rows, keep-alive)."""
    xa, n, keep, np_x = _readable(x, "f32")
    if cols == 0 or n % cols:
        raise ValueError("%s holds %d values, not whole rows of %d" % (what, n, cols))
    return xa, n // cols, keep


class LayerSearch(_Owned):
    """fpq_layer_search for Y = X W^T, W[out_features x in_features] (a flat array, or a 2-D
    numpy array whose shape gives both). add_batch(x) takes X rows of in_features; solve();
    then summary(), weights(), activations(). close() or a with block frees it."""
    _what = "layer search object"

    def __init__(self, w, out_features=None, in_features=None, options=None):
        if in_features is None:
            if not (_is_numpy(w) and w.ndim == 2):
                raise TypeError("give out_features and in_features for a flat W")
            out_features, in_features = w.shape
        wa, rows, keep = _matrix(w, in_features, "W")
        if out_features is None:
            out_features = rows
        if rows < out_features:
            raise ValueError("W holds %d rows, %d needed" % (rows, out_features))
        if options is None:
            options = LayerSearchOptions()
        self.out_features, self.in_features, self.options = out_features, in_features, options
        self._like_numpy = _is_numpy(w)
        handle = _vp()
        _check(_lib.fpq_layer_search_create(wa, out_features, in_features,
                                            ctypes.byref(options), ctypes.byref(handle)),
               "fpq_layer_search_create")
        self._h = handle


    def add_batch(self, x, tokens=None):
        xa, rows, keep = _matrix(x, self.in_features, "X")
        tokens = rows if tokens is None else tokens
        if tokens > rows:
            raise ValueError("X holds %d rows, %d needed" % (rows, tokens))
        _check(_lib.fpq_layer_search_add_batch(self._handle(), xa, tokens),
               "fpq_layer_search_add_batch")

    def solve(self):
        _check(_lib.fpq_layer_search_solve(self._handle()), "fpq_layer_search_solve")
        return self.summary()

    def summary(self):
        out = LayerSearchSummary()
        _check(_lib.fpq_layer_search_get_summary(self._handle(), ctypes.byref(out)),
               "fpq_layer_search_get_summary")
        return out

    def _get(self, fn, name, n, kinds):
        arrays = [_alloc(kind, n, self._like_numpy) for kind in kinds]
        ptrs = [_writable(a, kind) for a, kind in zip(arrays, kinds)]
        _check(fn(self._handle(), *([p[0] for p in ptrs] + [n])), name)
        return tuple(arrays)

    def weights(self):
        """(bias, scale, error) per output row: float64, float32, float64 arrays."""
        return self._get(_lib.fpq_layer_search_get_weights, "fpq_layer_search_get_weights",
                         self.out_features, ("f64", "f32", "f64"))

    def activations(self):
        """(channel_bias, offset, scale) per input channel: float64, int32, float32 arrays."""
        return self._get(_lib.fpq_layer_search_get_activations,
                         "fpq_layer_search_get_activations", self.in_features,
                         ("f64", "i32", "f32"))

    def _destroy(self, handle):
        _lib.fpq_layer_search_destroy(handle)


# --- reparameterization (docs/reparam.md) -----------------------------------------------------

def reparam_observe(t, x, absmax=None):
    """Per-column absolute maxima of X (t: rows x cols), merged into `absmax` (updated in
    place and returned; a new zeroed float32 array of cols when None)."""
    xa, keep_x, np_x = _tensor_input(t, x)
    aa, _, keep_a, absmax = _output(absmax, "f32", t.cols, np_x, what="absmax array")
    _check(_lib.fpq_reparam_observe(ctypes.byref(t), xa, aa), "fpq_reparam_observe")
    return absmax


def reparam_biases(fmt, maxvals, out=None):
    """biases[c] = fmt.bias - log2(maxvals[c] / max_finite), float64."""
    fmt = _fmt(fmt)
    ma, n, keep_m, np_m = _readable(maxvals, "f32")
    ba, _, keep_b, out = _output(out, "f64", n, np_m, what="biases array")
    _check(_lib.fpq_reparam_biases(ctypes.byref(fmt), ma, n, ba), "fpq_reparam_biases")
    return out


def reparam_shared_bias(fmt, biases):
    """The default shared bias: the smallest finite bias."""
    fmt = _fmt(fmt)
    ba, n, keep, _ = _readable(biases, "f64")
    b = ctypes.c_double()
    _check(_lib.fpq_reparam_shared_bias(ctypes.byref(fmt), ba, n, ctypes.byref(b)),
           "fpq_reparam_shared_bias")
    return b.value


def reparam_offsets(fmt, biases, shared_bias, out=None):
    """(offsets, shared_scale): the integer offsets k_c (int32 array) and the shared float32
    scale 2^(fmt.bias - shared_bias)."""
    fmt = _fmt(fmt)
    ba, n, keep, np_b = _readable(biases, "f64")
    oa, _, keep_o, out = _output(out, "i32", n, np_b, what="offsets array")
    scale = _c_float()
    _check(_lib.fpq_reparam_offsets(ctypes.byref(fmt), ba, n, shared_bias, oa,
                                    ctypes.byref(scale)), "fpq_reparam_offsets")
    return out, scale.value


def _offsets_arg(t, offsets):
    oa, n, keep, _ = _readable(offsets, "i32")
    if n < t.cols:
        raise ValueError("%d offsets given, the tensor has %d columns" % (n, t.cols))
    return oa, keep


def _reparam_fold(fn, name, t, w, offsets, out):
    wa, keep_w, np_w = _tensor_input(t, w)
    oa, keep_o = _offsets_arg(t, offsets)
    ya, _, keep_y, out = _tensor_output(t, out, np_w)
    inexact = _c_size()
    _check(fn(ctypes.byref(t), wa, oa, ya, ctypes.byref(inexact)), name)
    return out, inexact.value


def reparam_fold(t, w, offsets, out=None):
    """W'[r, c] = W[r, c] * 2^-offsets[c]: returns (W', inexact); out=w works in place."""
    return _reparam_fold(_lib.fpq_reparam_fold, "fpq_reparam_fold", t, w, offsets, out)


def reparam_unfold(t, w, offsets, out=None):
    """The inverse of reparam_fold: returns (W, inexact)."""
    return _reparam_fold(_lib.fpq_reparam_unfold, "fpq_reparam_unfold", t, w, offsets, out)


def reparam_quantize(fmt, t, x, shared_scale, offsets, flags=0, out=None):
    """Codes of X with the shared scale and per-column pre-shift (tensor_quantize's layout)."""
    fmt = _fmt(fmt)
    xa, keep_x, np_x = _tensor_input(t, x)
    oa, keep_o = _offsets_arg(t, offsets)
    need = t.rows * packed_size(fmt, t.cols, flags)
    ca, nbytes, keep_c, out = _output(out, "u8", need, np_x, what="codes buffer")
    _check(_lib.fpq_reparam_quantize(ctypes.byref(fmt), ctypes.byref(t), xa, shared_scale, oa,
                                     flags, ca, nbytes), "fpq_reparam_quantize")
    return out


def reparam_fake_quantize(fmt, t, x, shared_scale, offsets, flags=0, out=None):
    """value(code) * shared_scale * 2^-offsets[c], in the tensor's type; out=x: in place."""
    fmt = _fmt(fmt)
    xa, keep_x, np_x = _tensor_input(t, x)
    oa, keep_o = _offsets_arg(t, offsets)
    ya, _, keep_y, out = _tensor_output(t, out, np_x)
    _check(_lib.fpq_reparam_fake_quantize(ctypes.byref(fmt), ctypes.byref(t), xa, shared_scale,
                                          oa, flags, ya), "fpq_reparam_fake_quantize")
    return out


def reparam_linear_reference(x_fmt, x_codes, tokens, in_features, x_scale, w_fmt, w_codes,
                             out_features, w_scales, bias=None, flags=0, out=None):
    """The reference linear layer on codes: y[tokens x out_features] float32 (numpy of that
    shape when the codes are numpy)."""
    x_fmt, w_fmt = _fmt(x_fmt), _fmt(w_fmt)
    xa, xbytes, keep_x, np_x = _readable(x_codes, "u8")
    wa, wbytes, keep_w, _ = _readable(w_codes, "u8")
    sa, ns, keep_s, _ = _readable(w_scales, "f32")
    if ns < out_features:
        raise ValueError("%d weight scales given, %d needed" % (ns, out_features))
    ba = None
    if bias is not None:
        ba, nb, keep_b, _ = _readable(bias, "f32")
        if nb < out_features:
            raise ValueError("%d biases given, %d needed" % (nb, out_features))
    ya, _, keep_y, out = _output(out, "f32", tokens * out_features, np_x,
                                 (tokens, out_features))
    _check(_lib.fpq_reparam_linear_reference(
        ctypes.byref(x_fmt), xa, xbytes, tokens, in_features, x_scale, ctypes.byref(w_fmt), wa,
        wbytes, out_features, sa, ba, flags, ya), "fpq_reparam_linear_reference")
    return out


if not check_version(HEADER_VERSION):
    raise ImportError("%s is fpq %s, which cannot serve this binding (written for %d.%d.%d: "
                      "the same major version and no older is needed)"
                      % (LIBRARY_PATH, version_string(), HEADER_VERSION // 10000,
                         HEADER_VERSION // 100 % 100, HEADER_VERSION % 100))
