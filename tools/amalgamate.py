#!/usr/bin/env python3
"""amalgamate.py - writes fpq as one stb-style header, lib/fpq_single.h, from the sources.

    python3 tools/amalgamate.py [-o lib/fpq_single.h] [--check]

The header is include/fpq.h (the declarations, always), then the implementation behind
`#ifdef FPQ_IMPLEMENTATION`: every src/*.c, then every src/kernels/*.c, each in sorted order,
with the local headers they include ("...") inlined in place. A header with an include guard
is inlined once, where it is first included (that include must not sit inside a conditional,
or later files would lose it); a header without a guard is a template (src/kernels/
simd_impl.h) and is inlined every time. System headers (<...>) stay #include lines.

After each source file the script #undefs every macro that file (or a template it inlined)
defined, so one file's macros never reach the next one. Static functions and variables are
not renamed: the sources give them names unique across the library, and a collision is a
compile error of the amalgamation (CI compiles it; docs/single-header.md).

--check compares the result with the existing file instead of writing it (exit 1 if it
differs or is missing). The output depends only on the sources: no date, no path of this
machine.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUBLIC_HEADER = "include/fpq.h"

INCLUDE_LOCAL = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)")
IF_OPEN = re.compile(r"^\s*#\s*if")
IF_CLOSE = re.compile(r"^\s*#\s*endif")
GUARD = re.compile(r"^\s*#\s*ifndef\s+(\w+)\s*\n\s*#\s*define\s+(\w+)", re.M)


class AmalgamationError(Exception):
    pass


def rel(path):
    return os.path.relpath(path, ROOT).replace(os.sep, "/")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def has_include_guard(text):
    """True when the first preprocessor lines are `#ifndef X` / `#define X`."""
    m = GUARD.search(text)
    if not m or m.group(1) != m.group(2):
        return False
    before = text[: m.start()]
    # Only comments and blank lines may come before the guard.
    stripped = re.sub(r"/\*.*?\*/", "", before, flags=re.S)
    stripped = re.sub(r"//[^\n]*", "", stripped)
    return stripped.strip() == ""


class Amalgamator:
    def __init__(self):
        self.inlined = {os.path.join(ROOT, PUBLIC_HEADER)}  # emitted before the implementation
        self.out = []
        self.defined = []  # macros defined by the current source file and its templates

    def resolve(self, name, including):
        for base in (os.path.dirname(including), os.path.join(ROOT, "include")):
            path = os.path.normpath(os.path.join(base, name))
            if os.path.isfile(path):
                return path
        raise AmalgamationError(f'{rel(including)}: cannot find "{name}"')

    def emit_file(self, path, guarded_file):
        text = read(path)
        # Inside a guarded header, the guard itself is one level of #if that does not count.
        depth = -1 if guarded_file else 0
        for number, line in enumerate(text.splitlines(), 1):
            m = INCLUDE_LOCAL.match(line)
            if m:
                self.include(self.resolve(m.group(1), path), path, number, depth)
                continue
            if IF_OPEN.match(line):
                depth += 1
            elif IF_CLOSE.match(line):
                depth -= 1
            d = DEFINE.match(line)
            if d and not guarded_file:
                self.defined.append(d.group(1))
            self.out.append(line)

    def include(self, path, including, number, depth):
        if path in self.inlined:
            return
        text = read(path)
        guarded = has_include_guard(text)
        if guarded:
            if depth > 0:
                raise AmalgamationError(
                    f"{rel(including)}:{number}: first include of {rel(path)} is inside "
                    "#if: move it out of the conditional (the amalgamation inlines a "
                    "guarded header once, at its first include)")
            self.inlined.add(path)
        self.out.append(f"/* ---- {rel(path)} ---- */")
        self.emit_file(path, guarded)
        self.out.append(f"/* ---- end of {rel(path)} ---- */")

    def source(self, path):
        self.defined = []
        self.out.append("")
        self.out.append(f"/* ======== {rel(path)} ======== */")
        self.emit_file(path, False)
        for name in sorted(set(self.defined)):
            self.out.append(f"#undef {name}")


def sources():
    def listing(folder):
        d = os.path.join(ROOT, folder)
        return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".c"))
    return listing("src") + listing("src/kernels")


def version():
    text = read(os.path.join(ROOT, PUBLIC_HEADER))
    m = re.search(r'#define FPQ_VERSION_STRING "([^"]+)"', text)
    return m.group(1) if m else "?"


PREAMBLE = """\
/*
 * fpq_single.h - fpq {version} (low-bit floating-point quantization: FP4 / FP6 / FP8) as one
 * header. GENERATED by tools/amalgamate.py from include/fpq.h, src/ and src/kernels/ - do not
 * edit; run `make amalgamation` instead. docs/single-header.md has the details.
 *
 * Use: in exactly ONE C or C++ file of your program,
 *
 *     #define FPQ_IMPLEMENTATION
 *     #include "fpq_single.h"
 *
 * and include it without the #define wherever else you call fpq. That file needs nothing else:
 * every backend (scalar, AVX2, AVX-512, NEON) is in it, chosen at run time from the CPU. Link
 * with -lm. Compile it with -fopenmp to let large calls use several threads (optional).
 *
 * Configuration, defined before the include that has FPQ_IMPLEMENTATION:
 *   FPQ_NO_SIMD   build the scalar reference only (every backend gives the same bits anyway).
 *
 * The implementation compiles as C99 or later and as C++17 (GCC, Clang). It turns
 * floating-point contraction off for itself (every backend's bits rely on it) and restores the
 * including file's setting after itself; Clang ignores that under -ffp-contract=fast, so do not
 * compile that one file with it (nor with -ffast-math, which is refused with an #error).
 *
 * The declarations below are include/fpq.h verbatim: it documents every call.
 */
"""


def build():
    a = Amalgamator()
    a.out.append(PREAMBLE.format(version=version()).rstrip("\n"))
    a.out.append("")
    a.out.append(f"/* ---- {PUBLIC_HEADER} ---- */")
    a.out.extend(read(os.path.join(ROOT, PUBLIC_HEADER)).splitlines())
    a.out.append(f"/* ---- end of {PUBLIC_HEADER} ---- */")
    a.out.append("""
#if defined(FPQ_IMPLEMENTATION) && !defined(FPQ_SINGLE_IMPLEMENTATION_DONE)
#define FPQ_SINGLE_IMPLEMENTATION_DONE

#if defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__)
#  error "fpq: compile the file that defines FPQ_IMPLEMENTATION without -ffast-math (fpq's results are defined bit for bit, NaN and Inf included)"
#endif

/* The library is built with -ffp-contract=off: no a * b + c fused into an FMA, whose single
 * rounding would give other bits than the scalar reference. The same here, for this part of
 * the file only. */
#if defined(__clang__)
#  pragma float_control(push)
#  pragma clang fp contract(off)
#elif defined(__GNUC__)
#  pragma GCC push_options
#  pragma GCC optimize("fp-contract=off")
/* -Wmaybe-uninitialized is a guess that depends on inlining. With every file in one unit GCC
 * inlines across what were separate files and guesses wrong (an array filled for 2^bits
 * codes, bits <= 8, read back; a struct set by a call that cannot fail here), and GCC 12's
 * AVX-512 intrinsics trip it in C++ (GCC bug 105593). Off for this part of the file only;
 * -Wuninitialized (certain cases) stays, and CI runs the library under valgrind. */
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
/* C99's restrict, which C++ spells __restrict (GCC, Clang). */
#if defined(__cplusplus)
#  define restrict __restrict
#endif""")
    for path in sources():
        a.source(path)
    a.out.append("""
#if defined(__cplusplus)
#  undef restrict
#endif
#if defined(__clang__)
#  pragma float_control(pop)
#elif defined(__GNUC__)
#  pragma GCC diagnostic pop
#  pragma GCC pop_options
#endif

#endif /* FPQ_IMPLEMENTATION */""")
    return "\n".join(a.out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", default=os.path.join(ROOT, "lib", "fpq_single.h"))
    parser.add_argument("--check", action="store_true",
                        help="compare with the existing output instead of writing it")
    args = parser.parse_args()
    try:
        text = build()
    except AmalgamationError as e:
        print(f"amalgamate.py: {e}", file=sys.stderr)
        return 1
    if args.check:
        old = read(args.output) if os.path.isfile(args.output) else None
        if old != text:
            print(f"{args.output} is not up to date: run `make amalgamation`", file=sys.stderr)
            return 1
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    tmp = args.output + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
