#!/bin/sh
# `~` on a computed name (compiler/derived_sample.c): after an assignment,
# `v ~ D(...)` adds D's log density of the value, exactly as
# factor(D_lpdf(v, ...)) does.  Checked three ways on
# examples/language/derived_likelihood.cm, where log_y = log(y) of data:
#  - exactly: with mu and sigma given, the importance weight (the evidence's
#    log density) of `log_y ~ Normal` is that of `y ~ LogNormal` plus
#    sum(log y), the Jacobian the LogNormal carries;
#  - and equal to the hand-written factor(Normal_lpdf(log_y, mu, sigma));
#  - statistically: NUTS gives the LogNormal model's posterior, each mean
#    within 4 combined MCSEs.
. "$(dirname "$0")/lib.sh"
M=examples/language/derived_likelihood.cm
D=examples/language/derived_likelihood.json
sed 's/^log_y ~ Normal(mu, sigma)$/factor(Normal_lpdf(log_y, mu, sigma))/' $M >"$TMP/factor.cm"
sed -e '/^log_y = log(y)$/d' -e 's/^log_y ~ Normal(mu, sigma)$/y ~ LogNormal(mu, sigma)/' $M >"$TMP/lognormal.cm"
grep -q 'factor(Normal_lpdf' "$TMP/factor.cm" && grep -q 'LogNormal' "$TMP/lognormal.cm" && ok || bad "rewriting the example for the comparison"

weight() { # MODEL: the log weight of the first draw with mu, sigma given
    run $CMRUN "$1" --data $D --given mu=0.3 --given sigma=1.1 --infer is --samples 2 --output "$TMP/w.csv" --quiet
    awk -F, '/^#/ { next } !h { h = 1; next } { print $1; exit }' "$TMP/w.csv"
}
w_tilde=$(weight $M)
w_factor=$(weight "$TMP/factor.cm")
w_lognormal=$(weight "$TMP/lognormal.cm")
sum_log_y=$(tr -d '[]{}",:a-zA-Z' <$D | awk '{ for (i = 2; i <= NF; i++) s += log($i) } END { printf "%.12g\n", s }')
within "$w_tilde" "$w_factor" 1e-7 && ok || bad "~ on log_y ($w_tilde) != factor ($w_factor)"
within "$w_tilde" "$(awk -v a="$w_lognormal" -v b="$sum_log_y" 'BEGIN { printf "%.12g", a + b }')" 1e-6 \
    && ok || bad "~ on log_y ($w_tilde) != LogNormal ($w_lognormal) + sum(log y) ($sum_log_y)"

# the posterior is LogNormal's
run $CMRUN $M --data $D --chains 2 --seed 11 --quiet
expect_rc 0 "NUTS with ~ on a computed name"
cp "$TMP/out" "$TMP/tilde.out"
run $CMRUN "$TMP/lognormal.cm" --data $D --chains 2 --seed 12 --quiet
cp "$TMP/out" "$TMP/ln.out"
for p in mu sigma; do
    set -- $(awk -v n=$p '$1 == n { print $2, $3 }' "$TMP/tilde.out") $(awk -v n=$p '$1 == n { print $2, $3 }' "$TMP/ln.out")
    awk -v a="$1" -v ea="$2" -v b="$3" -v eb="$4" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 4 * sqrt(ea * ea + eb * eb)) }' \
        && ok || bad "posterior mean of $p: $1 (MCSE $2) vs LogNormal's $3 (MCSE $4)"
done
done_tests
