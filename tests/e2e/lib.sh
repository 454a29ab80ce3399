# Helpers for the end-to-end tests: each test file sources this, runs
# cmrun ($CMRUN, default ./cmrun from the repo root) and ends with `done_tests`.
cd "$(dirname "$0")/../.." || exit 2
CMRUN=${CMRUN:-./cmrun}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*"; }
# run CMD...: stdout to $TMP/out, stderr to $TMP/err, status in $RC
run() { "$@" >"$TMP/out" 2>"$TMP/err"; RC=$?; }
expect_rc() { [ "$RC" -eq "$1" ] && ok || { bad "$2: exit $RC, expected $1"; head -n 5 "$TMP/err"; }; }
expect_out() { grep -qF -- "$1" "$TMP/out" && ok || { bad "$2: stdout lacks '$1'"; head -n 20 "$TMP/out"; }; }
expect_err() { grep -qF -- "$1" "$TMP/err" && ok || { bad "$2: stderr lacks '$1'"; head -n 5 "$TMP/err"; }; }
# column_stats FILE COLUMN: prints "mean sd n" of a CmdStan CSV column
column_stats() {
    awk -F, -v col="$2" '
        /^#/ { next }
        !h { for (i = 1; i <= NF; i++) if ($i == col) c = i; h = 1; next }
        { x = $c + 0; s += x; ss += x * x; n++ }
        END { m = s / n; v = ss / n - m * m; if (v < 0) v = 0; printf "%.10g %.10g %d\n", m, sqrt(v), n }' "$1"
}
# within A B TOL: |A - B| <= TOL
within() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }
done_tests() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; }
