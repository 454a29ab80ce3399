#!/bin/sh
# cmrun --infer svi end to end: every guide and optimiser runs, the output
# files and their formats, accuracy on the conjugate models of examples/svi
# (exact posteriors; 2% on the fitted moments plus 4 Monte Carlo standard
# errors of the draws), determinism, saving and reloading a guide, and the
# error messages for bad flags.
. "$(dirname "$0")/lib.sh"

# until cli/main.c routes --infer svi to infer_svi() there is nothing to run
if $CMRUN examples/svi/normal_mean.cm --infer svi --check 2>&1 | grep -q 'must be one of'; then
    echo "svi: this cmrun does not accept --infer svi yet (cli/main.c); nothing run"
    done_tests
    exit 0
fi

NM="examples/svi/normal_mean.cm --data examples/svi/normal_mean.json"
BB="examples/svi/beta_bernoulli.cm --data examples/svi/beta_bernoulli.json"
ES="examples/eight_schools.cm --data examples/eight_schools.json"
ACC="--lr-decay 0.999 --particles 10"

# every guide and every optimiser runs on eight schools
for g in normal mvn lowrank:2 delta laplace; do
    run $CMRUN $ES --infer svi --guide $g --steps 600 --seed 3 --quiet
    expect_rc 0 "eight schools --guide $g"
    expect_out "SVI: guide ${g%%:*}" "guide $g report"
    expect_out "independent draws from the fitted guide" "guide $g summary"
done
for opt in adam clipped-adam sgd; do
    run $CMRUN $ES --infer svi --optim $opt --lr 0.005 --steps 600 --seed 3
    expect_rc 0 "eight schools --optim $opt"
    expect_out "optimiser $opt" "optimiser $opt named"
done

# output CSV: CmdStan variational layout; the first row is the guide's mean
run $CMRUN $NM --infer svi --guide mvn --seed 7 --samples 500 --output "$TMP/nm.csv" \
    --elbo-out "$TMP/elbo.csv" --params-out "$TMP/nm.json" --tol 0
expect_rc 0 "normal_mean mvn"
grep -q '^# method = variational' "$TMP/nm.csv" && ok || bad "method = variational"
grep -q '^lp__,log_q__,mu$' "$TMP/nm.csv" && ok || bad "columns lp__,log_q__,mu"
[ "$(grep -c '^[-0-9]' "$TMP/nm.csv")" -eq 501 ] && ok || bad "mean row + 500 draws"
[ ! -e "$TMP/nm.csv.tmp" ] && ok || bad "temporary file left behind"
head -n 1 "$TMP/elbo.csv" | grep -q '^step,elbo,smoothed_elbo$' && ok || bad "ELBO trace header"
[ "$(wc -l < "$TMP/elbo.csv")" -eq 5001 ] && ok || bad "ELBO trace: one row per step"
grep -q '"guide": "mvn"' "$TMP/nm.json" && grep -q '"scale_tril"' "$TMP/nm.json" && ok \
    || bad "params JSON"
run $CMRUN --summary "$TMP/nm.csv"
expect_rc 0 "--summary of an SVI file"
expect_out "1 chain x 500 draws" "--summary skips the mean row"

# the same seed gives the same draws
run $CMRUN $NM --infer svi --guide mvn --seed 7 --samples 500 --output "$TMP/nm2.csv" --tol 0
[ "$(grep -v '^#' "$TMP/nm.csv" | md5sum)" = "$(grep -v '^#' "$TMP/nm2.csv" | md5sum)" ] && ok \
    || bad "same seed, different draws"

# a saved guide reloads exactly; with --steps 0 it is only drawn from
run $CMRUN $NM --infer svi --guide mvn --init-params "$TMP/nm.json" --steps 0 --samples 10 \
    --params-out "$TMP/nm2.json"
expect_rc 0 "--init-params"
expect_out "no optimisation steps" "--steps 0 report"
[ "$(sed -n '/"loc"/,$p' "$TMP/nm.json")" = "$(sed -n '/"loc"/,$p' "$TMP/nm2.json")" ] && ok \
    || bad "reloaded guide differs"

# accuracy: normal mean with known variance, exact N(s/(N+0.01), 1/sqrt(N+0.01))
# y_values FILE: the elements of the JSON array "y", one per line
y_values() { awk '{ t = t $0 } END { sub(/.*"y": *\[/, "", t); sub(/\].*/, "", t);
                                   n = split(t, a, ","); for (i = 1; i <= n; i++) print a[i] + 0 }' "$1"; }
read -r EXM EXS <<EOF
$(y_values examples/svi/normal_mean.json | awk '{ s += $1; n++ } END {
      printf "%.10g %.10g\n", s / (n + 0.01), 1 / sqrt(n + 0.01) }')
EOF
run $CMRUN $NM --infer svi --guide mvn $ACC --seed 11 --samples 20000 --output "$TMP/acc.csv"
expect_rc 0 "normal_mean accuracy run"
set -- $(column_stats "$TMP/acc.csv" mu)
within "$1" "$EXM" "$(awk -v m="$EXM" -v s="$EXS" 'BEGIN { print 0.02 * (m < 0 ? -m : m) + 4 * s / sqrt(20000) }')" \
    && ok || bad "normal_mean: mean $1, exact $EXM"
within "$2" "$EXS" "$(awk -v s="$EXS" 'BEGIN { print 0.02 * s + 4 * s / sqrt(40000) }')" \
    && ok || bad "normal_mean: sd $2, exact $EXS"

# accuracy: Beta-Bernoulli, exact Beta(2 + k, 2 + N - k) for p
read -r BM BS <<EOF
$(y_values examples/svi/beta_bernoulli.json | awk '{ k += $1; n++ } END {
      a = 2 + k; b = 2 + n - k; printf "%.10g %.10g\n", a / (a + b), sqrt(a * b / ((a + b)^2 * (a + b + 1))) }')
EOF
run $CMRUN $BB --infer svi --guide mvn $ACC --seed 11 --samples 20000 --output "$TMP/bb.csv"
expect_rc 0 "beta_bernoulli accuracy run"
set -- $(column_stats "$TMP/bb.csv" p)
within "$1" "$BM" "$(awk -v m="$BM" -v s="$BS" 'BEGIN { print 0.02 * m + 4 * s / sqrt(20000) }')" \
    && ok || bad "beta_bernoulli: mean $1, exact $BM"
within "$2" "$BS" "$(awk -v s="$BS" 'BEGIN { print 0.02 * s + 4 * s / sqrt(40000) }')" \
    && ok || bad "beta_bernoulli: sd $2, exact $BS"

# delta: the MAP of the unconstrained density; laplace: the exact curvature
run $CMRUN $NM --infer svi --guide delta --params-out "$TMP/d.json"
expect_rc 0 "delta"
L=$(sed -n 's/.*"loc": \[\(.*\)\].*/\1/p' "$TMP/d.json")
within "$L" "$EXM" 1e-6 && ok || bad "delta: loc $L, MAP $EXM"
run $CMRUN $NM --infer svi --guide laplace --params-out "$TMP/l.json"
expect_rc 0 "laplace"
S=$(sed -n '/"scale_tril"/{n;s/[][ ]//g;p}' "$TMP/l.json")
within "$S" "$EXS" 1e-6 && ok || bad "laplace: sd $S, exact $EXS"

# --query and --tol: a deterministic objective (delta) converges
run $CMRUN $ES --infer svi --query mu
expect_rc 0 "--query"
grep -q '^mu ' "$TMP/out" && ok || bad "--query mu shown"
grep -q 'tau' "$TMP/out" && bad "--query shows tau" || ok
run $CMRUN $NM --infer svi --guide delta
expect_out "converged at step" "delta converges under --tol"

# errors name the flag at fault and leave no output behind
run $CMRUN $NM --infer svi --guide meanfield --output "$TMP/bad.csv"
expect_rc 2 "bad guide"
expect_err "--guide must be one of normal, mvn, lowrank:R, delta, laplace" "bad guide message"
run $CMRUN $NM --infer svi --guide lowrank
expect_rc 2 "lowrank without R"
expect_err "lowrank:R" "lowrank without R message"
run $CMRUN $NM --infer svi --guide lowrank:2 --output "$TMP/bad.csv"
expect_rc 2 "lowrank rank > dim"
expect_err "--guide lowrank:2: the rank must be between 1 and the model's unconstrained dimension (1)" \
    "rank > dim message"
run $CMRUN $NM --infer svi --optim rmsprop
expect_rc 2 "bad optimiser"
expect_err "--optim must be one of adam, clipped-adam, sgd" "bad optimiser message"
run $CMRUN $NM --infer svi --lr -1
expect_rc 2 "negative lr"
expect_err "--lr needs a number" "negative lr message"
run $CMRUN $NM --infer nuts --guide mvn
expect_rc 2 "--guide with nuts"
expect_err "--guide applies to --infer svi only" "--guide with nuts message"
run $CMRUN $NM --infer svi --guide normal --init-params "$TMP/nm.json" --output "$TMP/bad.csv"
expect_rc 2 "--init-params of another guide"
expect_err "holds a 'mvn' guide but this run's --guide is 'normal'" "guide mismatch message"
run $CMRUN $ES --infer svi --guide mvn --init-params "$TMP/nm.json"
expect_rc 2 "--init-params of another model"
expect_err "dimension 1 but this model's unconstrained dimension is 10" "dimension mismatch message"
printf 'data y: real\ny ~ Normal(0, 1)\n' > "$TMP/nolatent.cm"
run $CMRUN "$TMP/nolatent.cm" --set y=1 --infer svi
expect_rc 2 "no latent sites"
expect_err "no latent continuous sites" "no latent sites message"
[ ! -e "$TMP/bad.csv" ] && ok || bad "an error left an output file"

echo "normal_mean exact $EXM $EXS; beta_bernoulli exact $BM $BS"
done_tests
