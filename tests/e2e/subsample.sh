#!/bin/sh
# `plate ... subsample B`: minibatch SVI against the full batch, the note
# other engines print, the errors, and what stays complete.
#
# Agreement.  examples/svi/subsample.cm (N = 20000, B = 500) is fitted by SVI
# on minibatches, and the same model without `subsample` on the full batch,
# both with --lr-decay 0.999 (the learning rate falls from 0.01 to 7e-5, so
# the optimiser settles).  The fitted guides are compared through
# --params-out, which holds loc and scale exactly (no Monte Carlo error from
# draws).  The minibatch fit's only extra error is the optimiser's jitter
# under noisy gradients; measured over seeds 1-8 at these settings it is
# 0.086 posterior sd (RMS) for loc and 0.058 (RMS) for log(scale ratio), so
# the tolerances are 4 times that: |loc - loc_full| <= 0.35 scale_full, and
# |log(scale / scale_full)| <= 0.23.  A missing or doubled N / B factor
# would put the scale ratio at sqrt(40) = 6.3 or its inverse
# (|log| = 1.84), eight times the tolerance.  That the factor is N / B
# exactly (and that nested plates multiply, factor statements scale, and
# minibatch log densities are unbiased) is checked in
# tests/unit/test_subsample.c.
. "$(dirname "$0")/lib.sh"

EX=examples/svi/subsample.cm
DATA=examples/svi/subsample.json
sed 's/ subsample 500//' "$EX" >"$TMP/full.cm"
grep -q "subsample [0-9N]" "$TMP/full.cm" && bad "the full-batch variant still subsamples"

# --- the minibatch fit agrees with the full-batch fit
run "$CMRUN" "$TMP/full.cm" --data "$DATA" --infer svi --seed 11 --lr-decay 0.999 \
    --params-out "$TMP/full.json" --quiet
expect_rc 0 "full-batch SVI"
run "$CMRUN" "$EX" --data "$DATA" --infer svi --seed 11 --lr-decay 0.999 \
    --params-out "$TMP/mini.json"
expect_rc 0 "minibatch SVI"
[ -s "$TMP/err" ] && bad "minibatch SVI printed on stderr: $(head -n 2 "$TMP/err")" || ok
vec() { sed -n "s/^ *\"$2\": \\[\\(.*\\)\\],*\$/\\1/p" "$1" | tr -d ' '; }
LF=$(vec "$TMP/full.json" loc); SF=$(vec "$TMP/full.json" scale)
LM=$(vec "$TMP/mini.json" loc); SM=$(vec "$TMP/mini.json" scale)
if [ -z "$LF" ] || [ -z "$LM" ] || [ -z "$SF" ] || [ -z "$SM" ]; then
    bad "no loc/scale in the --params-out files"
else
    awk -v lf="$LF" -v sf="$SF" -v lm="$LM" -v sm="$SM" 'BEGIN {
        n = split(lf, a, ","); split(sf, b, ","); split(lm, c, ","); split(sm, d, ",")
        bad = 0
        for (i = 1; i <= n; i++) {
            z = (c[i] - a[i]) / b[i]; r = log(d[i] / b[i])
            if (z < -0.35 || z > 0.35 || r < -0.23 || r > 0.23) {
                printf "coordinate %d: loc off by %.3f sd, log scale ratio %.3f\n", i, z, r; bad = 1
            }
        }
        exit bad }' && ok || bad "minibatch and full-batch guides disagree"
fi
expect_out "5000 steps in" "the minibatch fit runs its steps"

# --- B = N is the whole plate: the same fit as without subsample
sed 's/ subsample 500/ subsample N/' "$EX" >"$TMP/eqn.cm"
run "$CMRUN" "$TMP/eqn.cm" --data "$DATA" --infer svi --seed 5 --steps 200 --samples 100
grep -v 'steps in\|found in' "$TMP/out" >"$TMP/eqn.out"
run "$CMRUN" "$TMP/full.cm" --data "$DATA" --infer svi --seed 5 --steps 200 --samples 100
grep -v 'steps in\|found in' "$TMP/out" >"$TMP/full.out"
cmp -s "$TMP/eqn.out" "$TMP/full.out" && ok || bad "subsample N differs from the full plate"

# --- a small model for the rest
cp tests/e2e/fixtures/minibatch_line.cm "$TMP/small.cm"
SETS="--data tests/e2e/fixtures/minibatch_line.json"

# without the policy: all rows, and one note per run (4 chains in threads)
run "$CMRUN" "$TMP/small.cm" $SETS --infer nuts --chains 4 --samples 50 --warmup 50 --seed 2
expect_rc 0 "NUTS on a subsampled plate"
expect_err "note: plate n subsamples only under --infer svi; this engine runs all 6 iterations" \
    "the note under NUTS"
[ "$(grep -c 'subsamples only' "$TMP/err")" -eq 1 ] && ok || bad "the note is not printed once"
run "$CMRUN" "$TMP/small.cm" $SETS --infer prior --samples 20 --seed 2
expect_err "subsamples only under --infer svi" "the note under prior"
[ "$(grep -c 'subsamples only' "$TMP/err")" -eq 1 ] && ok || bad "the prior note is not printed once"
run "$CMRUN" "$TMP/small.cm" $SETS --check
expect_rc 0 "--check"
[ -s "$TMP/err" ] && bad "--check printed: $(head -n 1 "$TMP/err")" || ok
run "$CMRUN" "$TMP/small.cm" $SETS --check-grad --seed 2
expect_rc 0 "--check-grad (full batch)"

# NUTS uses the full batch: the same draws as the model without subsample
sed 's/ subsample 3//' "$TMP/small.cm" >"$TMP/small_full.cm"
run "$CMRUN" "$TMP/small.cm" $SETS --infer nuts --samples 50 --warmup 50 --seed 2 --output "$TMP/a.csv"
run "$CMRUN" "$TMP/small_full.cm" $SETS --infer nuts --samples 50 --warmup 50 --seed 2 --output "$TMP/b.csv"
[ -s "$TMP/a_1.csv" ] && [ "$(column_stats "$TMP/a_1.csv" beta)" = "$(column_stats "$TMP/b_1.csv" beta)" ] && ok \
    || bad "NUTS on the subsampled plate differs from the full plate"

# under SVI the deterministic node is complete in the output (full batch)
run "$CMRUN" "$TMP/small.cm" $SETS --infer svi --samples 20 --seed 2 --output "$TMP/svi.csv"
expect_rc 0 "SVI on the small model"
grep -v '^#' "$TMP/svi.csv" | head -n 1 | grep -q 'mu.6' && ok || bad "mu.6 is not a column"
grep -v '^#' "$TMP/svi.csv" | grep -qi 'nan' && bad "NaN in the SVI output" || ok

# --- errors
sed 's/subsample 3/subsample 0/' "$TMP/small.cm" >"$TMP/zero.cm"
run "$CMRUN" "$TMP/zero.cm" $SETS --infer svi
expect_rc 2 "subsample 0"
expect_err "zero.cm:9:1: error: subsample size 0 of plate n is out of range: it must be between 1 and N=6" \
    "subsample 0 is located"
sed 's/subsample 3/subsample 7/' "$TMP/small.cm" >"$TMP/seven.cm"
run "$CMRUN" "$TMP/seven.cm" $SETS --infer nuts
expect_rc 2 "subsample 7 of 6"
expect_err "subsample size 7 of plate n is out of range: it must be between 1 and N=6" "B > N"
run "$CMRUN" "$TMP/seven.cm" $SETS --check
expect_rc 2 "--check with data sees B > N"

cat >"$TMP/local.cm" <<'EOF'
data N: int
data y: real[N]
mu ~ Normal(0, 10)
plate n in 1..N subsample 2 {
  z[n] ~ Normal(mu, 1)
  y[n] ~ Normal(z[n], 1)
}
EOF
run "$CMRUN" "$TMP/local.cm" --set N=4 --set 'y=[1,2,3,4]' --infer svi
expect_rc 2 "a local latent under SVI"
expect_err "local.cm:5:3: error: latent site 'z' is local to the subsampled plate n: cm's guides are global; move it out of the plate or drop subsample" \
    "the local latent is named"
run "$CMRUN" "$TMP/local.cm" --set N=4 --set 'y=[1,2,3,4]' --infer nuts --samples 50 --warmup 50
expect_rc 0 "a local latent is fine under NUTS (full batch)"

# --- a discrete site local to the plate is summed out in each minibatch
# iteration (enumerate.c), not refused: the mixture with explicit
# assignments fitted on minibatches of 10 of its 40 rows agrees with the
# full-batch fit.  The guide means are compared with --params-out's loc
# (no Monte Carlo error), to within 0.35 of the full fit's sd, the
# tolerance derived above from the optimiser's jitter.
MIX=examples/discrete/mixture_assignments.cm
MIXD=examples/discrete/mixture_assignments.json
sed 's/^plate n in 1..N {/plate n in 1..N subsample 10 {/' $MIX >"$TMP/mixsub.cm"
grep -q 'subsample 10' "$TMP/mixsub.cm" && ok || bad "making the subsampled mixture"
run "$CMRUN" $MIX --data $MIXD --infer svi --guide normal --lr-decay 0.999 --seed 2 \
    --params-out "$TMP/mix_full.json" --quiet
expect_rc 0 "the mixture, full batch"
run "$CMRUN" "$TMP/mixsub.cm" --data $MIXD --infer svi --guide normal --lr-decay 0.999 --seed 2 \
    --params-out "$TMP/mix_sub.json" --quiet
expect_rc 0 "the mixture on minibatches with its assignments summed out"
vec() { tr -d '\n ' <"$1" | sed -n "s/.*\"$2\":\[\([^]]*\)\].*/\1/p" | tr ',' ' '; }
set -- $(vec "$TMP/mix_full.json" loc) / $(vec "$TMP/mix_full.json" scale) / $(vec "$TMP/mix_sub.json" loc)
awk -v all="$*" 'BEGIN { n = split(all, a, " "); k = 0; part = 0
        for (i = 1; i <= n; i++) { if (a[i] == "/") { part++; continue }
            if (part == 0) loc[++k] = a[i]; else if (part == 1) sc[++m] = a[i]; else sub_[++s] = a[i] }
        if (k < 1 || k != m || k != s) exit 1
        for (i = 1; i <= k; i++) { d = loc[i] - sub_[i]; if (d < 0) d = -d; if (d > 0.35 * sc[i]) exit 1 } }' \
    && ok || bad "minibatch mixture fit differs from the full one: $*"

# --- a guide written in cm fits on minibatches too: the guide draws every
# site (log q exact), the model sees B rows scaled by N / B.  2000 rows
# made here (y = 1.5 + 2 x + noise, Park and Miller's generator), minibatches of 200,
# against the full-batch fit with the same guide; tolerance 0.35 of the
# full fit's guide scale, as above.
awk 'BEGIN { s = 12345; printf "{\"N\": 2000, \"x\": ["
    for (i = 1; i <= 2000; i++) { s = (s * 16807) % 2147483647; x[i] = s / 2147483647 * 4 - 2
        printf "%s%.5f", (i > 1 ? ", " : ""), x[i] }
    printf "], \"y\": ["
    for (i = 1; i <= 2000; i++) { e = 0; for (k = 0; k < 12; k++) { s = (s * 16807) % 2147483647; e += s / 2147483647 }
        printf "%s%.5f", (i > 1 ? ", " : ""), 1.5 + 2 * x[i] + 0.8 * (e - 6) }
    print "]}" }' >"$TMP/lin.json"
printf '%s\n' 'param a_loc: real = 0' 'param a_scale: positive = 0.1' 'param b_loc: real = 0' \
    'param b_scale: positive = 0.1' 'param s_loc: real = 0' 'param s_scale: positive = 0.1' \
    'alpha ~ Normal(a_loc, a_scale)' 'beta ~ Normal(b_loc, b_scale)' 'sigma ~ LogNormal(s_loc, s_scale)' \
    >"$TMP/lin_guide.cm"
sed -e 's/ subsample 500/ subsample 200/' "$EX" >"$TMP/lin_sub.cm"
sed -e 's/ subsample 500//' "$EX" >"$TMP/lin_full.cm"
for k in sub full; do
    run "$CMRUN" "$TMP/lin_$k.cm" --data "$TMP/lin.json" --infer svi --guide-file "$TMP/lin_guide.cm" \
        --steps 2000 --lr-decay 0.998 --seed 3 --params-out "$TMP/lin_$k.par" --quiet
    expect_rc 0 "a guide written in cm, $k batch"
    [ $k = sub ] && { grep -q "subsamples only under" "$TMP/err" && bad "the note under SVI with a guide in cm" || ok; }
done
pval() { tr -d '\n ' <"$1" | sed -n "s/.*\"name\":\"$2\"[^}]*\"value\":\([-0-9.e+]*\).*/\1/p"; }
for p in a b s; do
    lf=$(pval "$TMP/lin_full.par" ${p}_loc) ls=$(pval "$TMP/lin_sub.par" ${p}_loc) sc=$(pval "$TMP/lin_full.par" ${p}_scale)
    awk -v a="$lf" -v b="$ls" -v s="$sc" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(s > 0 && d <= 0.35 * s) }' \
        && ok || bad "guide in cm, ${p}_loc: minibatch $ls vs full $lf (scale $sc)"
done

# --- the documented example runs as the docs say
run "$CMRUN" "$EX" --data "$DATA" --infer svi --steps 300 --samples 100 --seed 1
expect_rc 0 "the example"
expect_out "beta " "the example's summary"

done_tests
