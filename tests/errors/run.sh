#!/bin/sh
# Every tests/errors/*.cm is a malformed program whose first line is
# `# expect: TEXT`: `cmrun --check` must exit 2, print TEXT on stderr, and
# not crash (under the sanitize build a sanitizer report fails the case).
CMRUN=${1:-./cmrun}
cd "$(dirname "$0")/../.." || exit 2
passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for f in tests/errors/*.cm; do
    expect=$(head -n 1 "$f" | sed -n 's/^# expect: //p')
    if [ -z "$expect" ]; then
        echo "FAIL $f: no '# expect:' first line"; failed=$((failed + 1)); continue
    fi
    "$CMRUN" --check "$f" >/dev/null 2>"$out"
    rc=$?
    if [ $rc -eq 2 ] && grep -qF -- "$expect" "$out" && ! grep -q 'Sanitizer\|runtime error' "$out"; then
        passed=$((passed + 1)); echo "ok $f"
    else
        failed=$((failed + 1))
        echo "FAIL $f (exit $rc): expected '$expect' in:"; head -n 5 "$out"
    fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
