#!/usr/bin/env bash
# CI: the ABI check (docs/abi.md). Builds the shared library with debug info (make CFLAGS=-g)
# in a temporary copy of the work tree, so that a build in the tree itself is neither used nor
# disturbed, describes it with libabigail's abidw and compares it with the committed baseline
# abi/libfpq.abi using abidiff.
#
#   bash .ci/abi.sh            check: fail on a change that can break an existing caller
#   bash .ci/abi.sh --update   rewrite abi/libfpq.abi from the work tree (a deliberate change)
#
# abidiff's exit status is a bit set: 1 error, 2 usage error, 4 ABI change, 8 incompatible
# change (e.g. a removed function). Bit 8 fails. Bit 4 alone fails too unless every change is
# an addition (a new function or variable): abidiff also sets only bit 4 for a struct whose
# size or member offsets changed, which breaks callers as surely as a removal. Additions pass
# and are reported. Installs abigail-tools when abidw or abidiff is missing (Debian/Ubuntu).
set -euo pipefail
cd "$(dirname "$0")/.."

BASELINE=abi/libfpq.abi
# Everything that goes into the baseline's text is fixed here, so that --update on another
# machine or in another folder writes the same file for the same library.
ABIDW_FLAGS=(--no-corpus-path --no-comp-dir-path --short-locs --no-elf-needed
             --drop-undefined-syms --type-id-style hash)

update=0
case "${1:-}" in
    "") ;;
    --update) update=1 ;;
    *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

if ! command -v abidw >/dev/null 2>&1 || ! command -v abidiff >/dev/null 2>&1; then
    echo "installing: abigail-tools"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q abigail-tools
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The sources as they are in the work tree (tracked and untracked files, not ignored build
# outputs); outside a git checkout, everything but the build folders and built libraries.
mkdir "$tmp/tree"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$tmp/tree"
else
    tar --exclude=./build --exclude='./build-*' --exclude='./lib/libfpq.*' -cf - . |
        tar -xf - -C "$tmp/tree"
fi

JOBS=$(nproc 2>/dev/null || echo 2)
make -C "$tmp/tree" -j"$JOBS" CFLAGS=-g all >"$tmp/build.log" 2>&1 || {
    cat "$tmp/build.log"; echo "ABI check: the build failed"; exit 1; }
shopt -s nullglob
libs=("$tmp"/tree/lib/libfpq.so.*.*.*)
if [ ${#libs[@]} -ne 1 ]; then
    echo "ABI check: expected one lib/libfpq.so.X.Y.Z, found ${#libs[@]}"; exit 1
fi
abidw "${ABIDW_FLAGS[@]}" --out-file "$tmp/new.abi" "${libs[0]}"

if [ "$update" = 1 ]; then
    mkdir -p "$(dirname "$BASELINE")"
    cp "$tmp/new.abi" "$BASELINE"
    echo "ABI baseline written: $BASELINE (from ${libs[0]#"$tmp"/tree/})"
    exit 0
fi

if [ ! -f "$BASELINE" ]; then
    echo "ABI check: no baseline $BASELINE (bash .ci/abi.sh --update writes it)"; exit 1
fi

rc=0
abidiff "$BASELINE" "$tmp/new.abi" >"$tmp/report" 2>&1 || rc=$?

if [ "$rc" -eq 0 ]; then
    echo "ABI check passed: no change against $BASELINE"
    exit 0
fi
cat "$tmp/report"
if [ $((rc & 3)) -ne 0 ]; then
    echo "ABI check: abidiff failed (exit status $rc)"; exit 1
fi
if [ $((rc & 8)) -ne 0 ]; then
    echo "ABI check FAILED: incompatible change against $BASELINE (abidiff exit status $rc)."
    echo "See docs/abi.md for a deliberate change."
    exit 1
fi
# Bit 4 alone: allowed only if every change is an addition. abidiff's summary lines read
# "Functions changes summary: R Removed, C Changed, A Added function(s)" (and "Variables ...";
# with ELF-only symbols "Function symbols changes summary: R Removed, A Added ...").
if grep -Eq '(^|[^0-9])[1-9][0-9]* (Removed|Changed)' "$tmp/report"; then
    echo "ABI check FAILED: existing functions, variables or types changed against $BASELINE"
    echo "(abidiff exit status $rc). See docs/abi.md for a deliberate change."
    exit 1
fi
echo "ABI check passed: additions only (reported above); the baseline $BASELINE may be"
echo "regenerated with bash .ci/abi.sh --update in the commit that adds them."
