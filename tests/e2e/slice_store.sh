#!/bin/sh
# Assigning a row, column or range (examples/language/slices.cm): every
# element of the output is recomputed here from mu and X, the gradient
# through the stores is checked, and a size mismatch is a located error.
. "$(dirname "$0")/lib.sh"
M=examples/language/slices.cm
D=examples/language/slices.json
run $CMRUN $M --data $D --infer prior --samples 20 --seed 3 --output "$TMP/s.csv" --quiet
expect_rc 0 "prior draws of the slices example"
# X = [[1, 2], [3, 4], [5, 6]]: Y[i, k] = X[i, k] (k + mu) except Y[1, :] = [7, 8];
# v = [1, 2, Y[1, 2], Y[2, 2], Y[3, 2]]
awk -F, '/^#/ { next }
    !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
    { mu = $c["mu"]; n++
      want["Y.1.1"] = 7; want["Y.2.1"] = 3 * (1 + mu); want["Y.3.1"] = 5 * (1 + mu)
      want["Y.1.2"] = 8; want["Y.2.2"] = 4 * (2 + mu); want["Y.3.2"] = 6 * (2 + mu)
      want["v.1"] = 1; want["v.2"] = 2; want["v.3"] = 8; want["v.4"] = want["Y.2.2"]; want["v.5"] = want["Y.3.2"]
      for (k in want) { if (!(k in c)) { bad = 1; continue }
                        d = $c[k] - want[k]; if (d < 0) d = -d; if (d > 1e-7 * (1 + want[k])) bad = 1 } }
    END { exit bad || n != 20 }' "$TMP/s.csv" && ok || bad "slice stores: some element differs from its definition"
run $CMRUN --check-grad $M --data $D
expect_rc 0 "gradient through slice stores"
printf 'data X: real[3, 2]\nY: real[3, 2]\nY[:, 1] = [1.0, 2.0]\n' >"$TMP/bad.cm"
run $CMRUN "$TMP/bad.cm" --data $D --check
expect_rc 2 "a column of the wrong length"
expect_err "bad.cm:3:1: error: the part of 'Y' assigned holds 3 elements, but the value is real[2]" \
    "size mismatch names the target"
done_tests
