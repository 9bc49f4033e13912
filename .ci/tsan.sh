#!/usr/bin/env bash
# CI: ThreadSanitizer stress test (tests/stress/threads.c). 16 threads make their first fpq
# call at the same moment (the lazy backend resolution races), then quantize / dequantize /
# fake-quantize their own arrays while one thread keeps switching backends; every result is
# checked against results computed before the threads started. Any ThreadSanitizer report or
# wrong result fails the script.
#
#   .ci/tsan.sh                   RUNS processes (default 20) of ITERATIONS iterations (30)
#   RUNS=50 ITERATIONS=10 .ci/tsan.sh
#
# Each run is a fresh process, so each has its own cold-start race. The library is compiled
# in from src/*.c and src/kernels/*.c as they are, with OpenMP off (no -fopenmp: libgomp is
# not built with ThreadSanitizer and would give false reports).
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
