#!/usr/bin/env bash
# CI: fuzz the public API with libFuzzer (clang 14, ASan + UBSan) for a bounded time. The
# committed corpora (regression inputs included) are replayed by `make check` (check-corpus),
# so under gcc and clang ASan + UBSan too in .ci/run; this script does not replay them again.
#
#   .ci/fuzz.sh                 each harness for FUZZ_TIME seconds (default 30; CI passes 15),
#                               as many at a time as there are cores
#   FUZZ_TIME=300 .ci/fuzz.sh   longer runs
#   FUZZ_SEED=0 .ci/fuzz.sh     a random seed (CI uses 1, to explore the same inputs first)
#
# Harnesses (tests/fuzz/): fuzz_format (descriptors, names, limits, values, scale conversions),
# fuzz_kernels (quantize / dequantize / fake-quantize against a brute-force model),
# fuzz_backends (every backend and FP environment against the scalar backend), fuzz_tensor
# (the tensor calls, conversions and version check against their per-element meaning). Each starts
# from a copy of tests/fuzz/corpus/<harness>/; the copy and the builds live in a temporary
# directory removed on exit. A crash or violated invariant fails the script, after printing
# the crashing input's bytes and the path of a copy kept in ${TMPDIR:-/tmp}/fpq-fuzz-crashes.*
# (add it to the corpus as a regression input once the defect is understood). Replay it with
# the harness binary, or: cc -std=c99 -Iinclude src/*.c src/kernels/*.c tests/fuzz/<harness>.c
# tests/fuzz/replay_main.c -lm && ./a.out FILE (what `make check` does for the corpora).
#
# The library is built from src/*.c and src/kernels/*.c as they are, OpenMP off.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_TIME=${FUZZ_TIME:-30}
HARNESSES=(fuzz_format fuzz_kernels fuzz_backends fuzz_tensor fuzz_linear fuzz_reparam
    fuzz_search fuzz_layer_search)
JOBS=$(nproc 2>/dev/null || echo 2)
CLANG=${CLANG:-clang}

step() { printf '\n==== %s\n' "$*"; }

# ---- tools -------------------------------------------------------------------------------------
fuzzer_works() {
    local probe
    probe=$(mktemp -d)
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$probe/p.c"
    local ok=0
    "$CLANG" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1 && ok=1
    rm -rf "$probe"
    [ "$ok" = 1 ]
}

if ! command -v "$CLANG" >/dev/null 2>&1 || ! fuzzer_works; then
    step "installing clang and the libFuzzer runtime"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q clang libclang-rt-14-dev libc6-dev
    fuzzer_works || { echo "clang cannot build a libFuzzer program"; exit 1; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

LIB_SRC=(src/*.c src/kernels/*.c)

# Compiles the library sources into $1 with compiler $2 and flags $3..., in parallel.
compile_lib() {
    local dir=$1 cc=$2
    shift 2
    mkdir -p "$dir"
    # shellcheck disable=SC2016 # expanded by the inner sh
    printf '%s\n' "${LIB_SRC[@]}" |
        xargs -P "$JOBS" -I{} sh -c 'o="$1/$(echo "$2" | tr / _).o"; shift 2; exec "$@" -c "$0" -o "$o"' \
            {} "$dir" {} "$cc" "$@"
}

# shellcheck disable=SC2054 # the commas belong to -fsanitize=
FUZZ_FLAGS=(-std=c99 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
    -ffp-contract=off -Iinclude)

start=$SECONDS
step "building the harnesses (clang $("$CLANG" -dumpversion), libFuzzer + ASan + UBSan)"
# The library gets the libFuzzer flags too: coverage feedback comes from its code.
compile_lib "$tmp/obj-fuzz" "$CLANG" "${FUZZ_FLAGS[@]}"
for h in "${HARNESSES[@]}"; do
    "$CLANG" "${FUZZ_FLAGS[@]}" "tests/fuzz/$h.c" "$tmp"/obj-fuzz/*.o -o "$tmp/$h" -lm &
done
wait
for h in "${HARNESSES[@]}"; do
    if [ ! -x "$tmp/$h" ]; then
        echo "building $h failed"
        exit 1
    fi
done
echo "built in $((SECONDS - start)) s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0

# ---- fuzz -------------------------------------------------------------------------------------
# Fuzzes harness $1 into $tmp/$1.log; its exit status goes to $tmp/$1.rc.
run_harness() {
    local h=$1 rc=0
    mkdir -p "$tmp/corpus/$h" "$tmp/artifacts/$h"
    cp tests/fuzz/corpus/"$h"/* "$tmp/corpus/$h/"
    # A fixed seed (FUZZ_SEED, default 1; 0 = random) makes CI explore the same inputs first.
    "$tmp/$h" -seed="${FUZZ_SEED:-1}" -max_total_time="$FUZZ_TIME" -print_final_stats=1 \
        -max_len=8192 -timeout=25 \
        -rss_limit_mb=2048 -artifact_prefix="$tmp/artifacts/$h/" "$tmp/corpus/$h" \
        >"$tmp/$h.log" 2>&1 || rc=$?
    echo "$rc" >"$tmp/$h.rc"
}

# Each libFuzzer process uses one core: $JOBS harnesses at a time.
step "fuzzing ${#HARNESSES[@]} harnesses for ${FUZZ_TIME} s each, $JOBS at a time"
for h in "${HARNESSES[@]}"; do
    run_harness "$h" &
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 0.2; done
done
wait

summary=()
for h in "${HARNESSES[@]}"; do
    step "$h"
    rc=$(cat "$tmp/$h.rc" 2>/dev/null || echo "no status")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$h.log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/$h.log" | tail -n 1)
    grep -E '^#[0-9]+ +DONE|^Done [0-9]+ runs|^stat::' "$tmp/$h.log" || true
    crashes=$(find "$tmp/artifacts/$h" -type f | sort)
    if [ "$rc" != 0 ] || [ -n "$crashes" ]; then
        failed=1
        echo "$h FAILED (exit status $rc); the end of its log:"
        grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)' "$tmp/$h.log" | tail -n 60
        # The temporary directory goes away on exit: keep the inputs where they can be found.
        keep=$(mktemp -d "${TMPDIR:-/tmp}/fpq-fuzz-crashes.XXXXXX")
        for c in $crashes; do
            cp "$c" "$keep/"
            echo "crashing input: $keep/$(basename "$c") ($(wc -c <"$c") bytes):"
            od -An -tx1 -v "$c" | head -n 256
        done
        summary+=("$h: FAILED after ${execs:-?} executions")
    else
        summary+=("$h: ok, ${execs:-?} executions (${rate:-?}/s), corpus $(find "$tmp/corpus/$h" -type f | wc -l) files")
    fi
done

step "summary ($((SECONDS - start)) s)"
printf '%s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    echo "fuzzing FAILED"
    exit 1
fi
echo "fuzzing passed"
