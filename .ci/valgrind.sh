#!/usr/bin/env bash
# CI: the test suite under Valgrind memcheck (uninitialised reads, invalid accesses, leaks).
#
# Builds the normal test runner from src/*.c, src/kernels/*.c and tests/*.c with gcc -O1 -g
# (no sanitizers, OpenMP off) in a temporary directory and runs the whole suite
# (`fpq_tests tests/data`) under `valgrind --error-exitcode=1 --leak-check=full`, except one
# case: "the LLM-FP4 reference layer" took 67 of the suite's 169 s under Valgrind (0.7 s
# natively), and the other layer-search cases run the same code on smaller layers; the
# sanitizer builds run it. FILTER=substring runs a subset, FILTER='!substring' all but it,
# FILTER= everything.
#
# Valgrind runs the AVX2 and scalar backends only: it does not emulate AVX-512, so the CPU
# check reports it unavailable and the tests skip it (the sanitizer builds of .ci/run and
# .ci/fuzz.sh cover it).
#
# Tolerated (VALGRIND_STRICT=1 does not): Valgrind ignores the FTZ / DAZ bits of MXCSR (its
# documented limitation: it honours only the rounding mode), so the test "results ignore the
# caller's rounding mode and flush-to-zero" sees MXCSR without the bits it set and fails with
# exactly "MXCSR not restored". That failure, and only that one, is accepted. (A test-suite
# over-read this script first found, sscanf past a data buffer's end, is fixed.)
set -euo pipefail
cd "$(dirname "$0")/.."

FILTER=${FILTER-!the LLM-FP4 reference layer}
KNOWN_TEST="results ignore the caller's rounding mode and flush-to-zero"

if ! command -v valgrind >/dev/null 2>&1 || ! command -v gcc >/dev/null 2>&1; then
    printf '\n==== installing valgrind\n'
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q valgrind gcc libc6-dev
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
printf '\n==== building the test runner (gcc -O1 -g, no OpenMP)\n'
gcc -std=c99 -O1 -g -ffp-contract=off -Iinclude src/*.c src/kernels/*.c tests/*.c \
    -o "$tmp/fpq_tests" -lm

printf '\n==== valgrind --leak-check=full fpq_tests tests/data %s\n' "$FILTER"
args=(tests/data)
if [ -n "$FILTER" ]; then
    args+=("$FILTER")
fi
set +e
valgrind --error-exitcode=1 --leak-check=full \
    "$tmp/fpq_tests" "${args[@]}" 2>&1 | tee "$tmp/log"
rc=${PIPESTATUS[0]}
set -e

errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$tmp/log" | tail -n 1)
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/log" | tail -n 1 || true)
printf '\n==== %s s\n' "$((SECONDS - start))"
if [ -z "$errors" ] || [ -z "$summary" ]; then
    echo "the test runner did not finish under valgrind (exit status $rc)"
    exit 1
fi
if [ "$errors" -ne 0 ]; then
    echo "valgrind reported $errors errors (above)"
    exit 1
fi
if [ "$rc" -ne 0 ]; then
    # Test failures: every FAIL must be the known one, failing only on "MXCSR not restored".
    unexpected=$(awk -v known="$KNOWN_TEST" -v strict="${VALGRIND_STRICT:-0}" '
        /^    / { msgs[++n] = $0; next }
        /^FAIL / {
            name = substr($0, 6); sub(/ \([0-9]+ checks failed\)$/, "", name)
            ok = (strict != 1 && name == known && n > 0)
            for (i = 1; i <= n; i++) if (msgs[i] !~ /: MXCSR not restored$/) ok = 0
            if (!ok) print $0
        }
        /^(ok|FAIL) / { n = 0 }' "$tmp/log")
    if [ -n "$unexpected" ]; then
        echo "tests failed under valgrind:"
        echo "$unexpected"
        exit 1
    fi
    echo "note: \"$KNOWN_TEST\" fails under valgrind only because valgrind drops MXCSR's FTZ/DAZ bits"
fi
echo "valgrind: no errors; $summary"
