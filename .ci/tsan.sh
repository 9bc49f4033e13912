#!/usr/bin/env bash
# CI: ThreadSanitizer, twice.
#
# 1. The stress test (tests/stress/threads.c). 16 threads make their first fpq call at the
#    same moment (the lazy backend resolution races), then quantize / dequantize /
#    fake-quantize their own arrays while one thread keeps switching backends; every result is
#    checked against results computed before the threads started. Each run is a fresh
#    process, so each has its own cold-start race. OpenMP off: these are the caller's threads.
#
# 2. The whole test suite (tests/*.c) with OpenMP on, so every OpenMP-threaded path of the
#    library (quantize, tensors, search, layer search, reparameterization, linear layers) runs
#    under ThreadSanitizer, with OMP_NUM_THREADS=4 and the suite's own 1/2/3/7-thread cases.
#    gcc's libgomp is not built with ThreadSanitizer, so TSan cannot see its synchronization
#    and reports races that are none. Here: clang with LLVM's OpenMP runtime (libomp) and its
#    Archer tool (libarcher.so, in Debian's libomp5-14), which tells ThreadSanitizer every
#    OpenMP synchronization - fork, join, barriers, tasks, locks - through the OMPT interface,
#    plus TSan's ignore_noninstrumented_modules=1 (Archer's documented setting) so that the
#    accesses libomp makes inside itself are not reported. Nothing of fpq or of the tests is
#    suppressed: all of it is compiled with -fsanitize=thread. Two canaries run first - an
#    OpenMP loop with a data race must be reported, the same loop without the race must not -
#    and the script checks that Archer announced itself, so the setup cannot pass by checking
#    nothing.
#
# Any ThreadSanitizer report or failed test fails the script.
#
#   .ci/tsan.sh                   RUNS processes (default 20) of ITERATIONS iterations (30)
#   RUNS=50 ITERATIONS=10 .ci/tsan.sh
#   SUITE=0 .ci/tsan.sh           the stress test only; FILTER=substring: part of the suite
#
# The library is compiled in from src/*.c and src/kernels/*.c as they are.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-20}
ITERATIONS=${ITERATIONS:-30}
CLANG=${CLANG:-clang}

tsan_works() {
    local probe ok=0
    probe=$(mktemp -d)
    printf '%s\n' '#include <pthread.h>' 'static void *f(void *a) { return a; }' \
        'int main(void) { pthread_t t; pthread_create(&t, 0, f, 0); return pthread_join(t, 0); }' \
        >"$probe/p.c"
    "$CLANG" -fsanitize=thread "$probe/p.c" -o "$probe/p" -lpthread >/dev/null 2>&1 &&
        "$probe/p" >/dev/null 2>&1 && ok=1
    rm -rf "$probe"
    [ "$ok" = 1 ]
}

if ! command -v "$CLANG" >/dev/null 2>&1 || ! tsan_works; then
    printf '\n==== installing clang\n'
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q clang libclang-rt-14-dev libc6-dev
    tsan_works || { echo "clang cannot build a ThreadSanitizer program"; exit 1; }
fi

# libarcher.so sits in LLVM's lib directory, beside libomp (Debian: /usr/lib/llvm-14/lib), two
# levels above clang's resource directory.
archer_lib() {
    local lib
    lib=$(readlink -f "$("$CLANG" -print-resource-dir)/../../libarcher.so" 2>/dev/null) || return 0
    [ -f "$lib" ] && echo "$lib"
    return 0
}

if [ "${SUITE:-1}" != 0 ] && [ -z "$(archer_lib)" ]; then
    printf '\n==== installing LLVM libomp (with Archer)\n'
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q libomp-14-dev
    [ -n "$(archer_lib)" ] || { echo "no libarcher.so beside clang's libomp"; exit 1; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
printf '\n==== building tests/stress/threads.c with ThreadSanitizer\n'
"$CLANG" -std=c99 -O1 -g -fsanitize=thread -fno-omit-frame-pointer -ffp-contract=off \
    -Iinclude src/*.c src/kernels/*.c tests/stress/threads.c -o "$tmp/threads" -lpthread -lm

# halt_on_error: the first report ends the run; exitcode=66 tells reports from wrong results.
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
printf '\n==== %d runs of %d iterations, 16 threads each\n' "$RUNS" "$ITERATIONS"
for run in $(seq 1 "$RUNS"); do
    rc=0
    "$tmp/threads" "$ITERATIONS" >"$tmp/run.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$tmp/run.log"
        if [ "$rc" -eq 66 ]; then
            echo "run $run: ThreadSanitizer reported a problem (above)"
        else
            echo "run $run: the stress test failed (exit status $rc)"
        fi
        exit 1
    fi
    echo "run $run: $(tail -n 1 "$tmp/run.log")"
done
echo "tsan stress passed in $((SECONDS - start)) s"

[ "${SUITE:-1}" != 0 ] || exit 0

# ---- 2. the test suite with OpenMP (LLVM libomp + Archer) -------------------------------------
start=$SECONDS
ARCHER=$(archer_lib)
export OMP_TOOL_LIBRARIES=$ARCHER ARCHER_OPTIONS="verbose=1"
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 ignore_noninstrumented_modules=1"
TSAN_FLAGS=(-std=c99 -O1 -g -fsanitize=thread -fopenmp -fno-omit-frame-pointer -ffp-contract=off
    -Iinclude)

printf '\n==== canaries: an OpenMP data race is reported, a race-free loop is not (%s)\n' "$ARCHER"
printf '%s\n' '#include <stdio.h>' \
    'int main(void) {' \
    '    static int a[4096]; long sum = 0; int i, r;' \
    '    for (r = 0; r < 3; r++) {' \
    '#pragma omp parallel for schedule(static) num_threads(4)' \
    '        for (i = 0; i < 4096; i++) a[i] += i;' \
    '    }' \
    '    for (i = 0; i < 4096; i++) sum += a[i];' \
    '#ifdef RACE' \
    '#pragma omp parallel for num_threads(4)' \
    '    for (i = 0; i < 4096; i++) sum += a[i];' \
    '#endif' \
    '    printf("%ld\n", sum); return 0; }' >"$tmp/canary.c"
"$CLANG" "${TSAN_FLAGS[@]}" "$tmp/canary.c" -o "$tmp/canary_ok"
"$CLANG" "${TSAN_FLAGS[@]}" -DRACE "$tmp/canary.c" -o "$tmp/canary_race"
rc=0
"$tmp/canary_ok" >"$tmp/canary_ok.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] || ! grep -q '^Archer detected OpenMP application with TSan' "$tmp/canary_ok.log"
then
    cat "$tmp/canary_ok.log"
    echo "the race-free canary was reported (exit status $rc) or Archer did not load"; exit 1
fi
rc=0
"$tmp/canary_race" >"$tmp/canary_race.log" 2>&1 || rc=$?
if [ "$rc" -ne 66 ] || ! grep -q 'WARNING: ThreadSanitizer: data race' "$tmp/canary_race.log"; then
    cat "$tmp/canary_race.log"
    echo "the racy canary was not reported (exit status $rc)"; exit 1
fi
echo "canaries: race reported, race-free loop clean"

printf '\n==== building the test suite with ThreadSanitizer and OpenMP (clang, libomp)\n'
mkdir -p "$tmp/suite"
# One object a source file, two at a time.
# shellcheck disable=SC2016 # expanded by the inner sh
printf '%s\n' src/*.c src/kernels/*.c tests/*.c |
    xargs -P 2 -I{} sh -c 'o="$1/$(echo "$0" | tr / _).o"; shift; exec "$@" -c "$0" -o "$o"' \
        {} "$tmp/suite" "$CLANG" "${TSAN_FLAGS[@]}"
"$CLANG" -fsanitize=thread -fopenmp "$tmp"/suite/*.o -o "$tmp/fpq_tests" -lm

printf '\n==== fpq_tests tests/data %s (OMP_NUM_THREADS=4)\n' "${FILTER:-}"
args=(tests/data)
[ -z "${FILTER:-}" ] || args+=("$FILTER")
rc=0
OMP_NUM_THREADS=4 "$tmp/fpq_tests" "${args[@]}" >"$tmp/suite.log" 2>&1 || rc=$?
if ! grep -q '^Archer detected OpenMP application with TSan' "$tmp/suite.log"; then
    echo "Archer did not load: the OpenMP synchronization was not visible to ThreadSanitizer"
    exit 1
fi
if [ "$rc" -ne 0 ]; then
    grep -v '^ok ' "$tmp/suite.log" | tail -n 80
    if [ "$rc" -eq 66 ]; then
        echo "ThreadSanitizer reported a problem in the test suite (above)"
    else
        echo "the test suite failed under ThreadSanitizer (exit status $rc)"
    fi
    exit 1
fi
echo "tsan test suite: $(tail -n 1 "$tmp/suite.log"), no ThreadSanitizer report," \
    "in $((SECONDS - start)) s"
