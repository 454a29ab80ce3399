#!/bin/sh
# Foreign functions through libffi and user-defined distributions: the same
# posterior three ways (the C library's gradient, finite differences, built-in
# functions), within Monte Carlo error, and gradient checks.
. "$(dirname "$0")/lib.sh"

[ -f examples/ffi/libhazard.so ] || make -s examples/ffi/libhazard.so >/dev/null 2>&1
for m in grad fd builtin; do
    run $CMRUN examples/ffi/survival_$m.cm --data examples/ffi/survival.json --seed 3 --quiet
    expect_rc 0 "survival $m"
    grep -E '^(k|lambda) ' "$TMP/out" | awk '{print $1, $2, $3}' > "$TMP/$m.txt"
    run $CMRUN --check-grad examples/ffi/survival_$m.cm --data examples/ffi/survival.json
    expect_rc 0 "check-grad survival $m"
done
# |mean_a - mean_b| <= 4 sqrt(mcse_a^2 + mcse_b^2) for k and lambda
for pair in "grad fd" "grad builtin" "fd builtin"; do
    set -- $pair
    paste "$TMP/$1.txt" "$TMP/$2.txt" | awk -v p="$pair" '
        { d = $2 - $5; if (d < 0) d = -d; t = 4 * sqrt($3 * $3 + $6 * $6)
          if (!(d <= t)) { print "FAIL: " p ": " $1 " " $2 " vs " $5 " (tolerance " t ")"; bad = 1 } }
        END { exit bad }' && ok || bad "posteriors differ: $pair"
done

# a user-defined distribution (SkewNormal_lpdf) against the same density
# written as a factor
run $CMRUN examples/skew_normal.cm --data examples/skew_normal.json --seed 5 --quiet
expect_rc 0 "user distribution"
grep -E '^(xi|omega) ' "$TMP/out" | awk '{print $1, $2, $3}' > "$TMP/u.txt"
run $CMRUN examples/skew_normal_factor.cm --data examples/skew_normal.json --seed 6 --quiet
expect_rc 0 "factor version"
grep -E '^(xi|omega) ' "$TMP/out" | awk '{print $1, $2, $3}' > "$TMP/f.txt"
paste "$TMP/u.txt" "$TMP/f.txt" | awk '
    { d = $2 - $5; if (d < 0) d = -d; t = 4 * sqrt($3 * $3 + $6 * $6)
      if (!(d <= t)) { print "FAIL: " $1 " " $2 " vs " $5; bad = 1 } } END { exit bad }' \
    && ok || bad "user distribution and factor differ"
run $CMRUN --check-grad examples/skew_normal.cm --data examples/skew_normal.json
expect_rc 0 "check-grad user distribution"
run $CMRUN examples/skew_normal.cm --infer prior --set N=3
expect_rc 2 "prior of a user distribution without a sampler"
expect_err "SkewNormal" "names the distribution"

done_tests
