#!/bin/sh
# The whole test suite against one build folder (build or build-san):
# unit programs, the malformed-program corpus, end-to-end runs of cmrun, and
# a quick posteriordb subset.  Each part prints `N passed, N failed`; the
# last line sums them for CI.
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 2
CMRUN=$BUILD/cmrun
export CMRUN
# native code compiled by the runs (--jit auto, runtime/native.h) is cached
# in the build folder, not in the user's ~/.cache
CM_CACHE_DIR=${CM_CACHE_DIR:-$PWD/$BUILD/native-cache}
export CM_CACHE_DIR
passed=0
failed=0
failures=""

tally() { # read "N passed, M failed" lines from a log
    p=$(grep -E '^[A-Za-z_]*:? ?[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 | sed -E 's/^[^0-9]*([0-9]+) passed, ([0-9]+) failed.*/\1 \2/')
    if [ -z "$p" ]; then
        echo "$2: no result line" >&2
        failed=$((failed + 1)); failures="$failures $2"; return
    fi
    set -- $p "$2" "$3"
    passed=$((passed + $1))
    failed=$((failed + $2))
    if [ "$2" -ne 0 ] || [ "$4" -ne 0 ]; then
        failures="$failures $3"
        [ "$2" -eq 0 ] && failed=$((failed + 1))
    fi
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== unit tests"
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    "$t" >"$log" 2>&1
    rc=$?
    printf '%-28s %s\n' "$name" "$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)"
    [ $rc -ne 0 ] && grep -E 'FAIL|ERROR|Sanitizer|runtime error' "$log" | head -n 20
    tally "$log" "$name" $rc
done

echo "== malformed programs (tests/errors)"
sh tests/errors/run.sh "$CMRUN" >"$log" 2>&1
rc=$?
tail -n 30 "$log" | grep -v '^ok ' | tail -n 15
tally "$log" errors $rc

echo "== end-to-end (tests/e2e)"
for t in tests/e2e/*.sh; do
    name=$(basename "$t" .sh)
    [ "$name" = lib ] && continue
    sh "$t" >"$log" 2>&1
    rc=$?
    printf '%-28s %s\n' "e2e/$name" "$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)"
    [ $rc -ne 0 ] && grep -E 'FAIL' "$log" | head -n 20
    tally "$log" "e2e/$name" $rc
done

if [ -f tests/posteriordb.sh ] && [ -z "$CM_SKIP_POSTERIORDB" ]; then
    echo "== posteriordb (quick subset)"
    CMRUN=$CMRUN sh tests/posteriordb.sh quick >"$log" 2>&1
    rc=$?
    cat "$log" | tail -n 12
    tally "$log" posteriordb $rc
fi

[ -n "$failures" ] && echo "failing:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
