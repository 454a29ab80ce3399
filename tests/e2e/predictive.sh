#!/bin/sh
# --predictive: posterior predictive replicates (columns NAME_rep) and the
# checks printed after the summary (runtime/ppc.c).
#  - exact in distribution: in examples/svi/normal_mean.cm, y_rep.i = mu + e
#    with e ~ N(0, 1) drawn afresh at every posterior draw, so y_rep.1 - mu
#    over 4000 draws has mean 0 and variance 1 within 4 standard errors
#    (the e are independent whatever the chains' autocorrelation);
#  - the teaching pair examples/predictive/{poisson,negbin}.cm: the Poisson
#    fails the sd check (p < 0.025), the negative binomial passes every one;
#  - SVI draws get replicates too; the flag's errors name it.
. "$(dirname "$0")/lib.sh"

run $CMRUN examples/svi/normal_mean.cm --data examples/svi/normal_mean.json --predictive --seed 5 \
    --output "$TMP/nm.csv" --quiet
expect_rc 0 "--predictive with NUTS"
expect_out "Posterior predictive checks (4000 replicates" "the check table"
awk -F, '/^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
    { e = $c["y_rep.1"] - $c["mu"]; s += e; ss += e * e; n++ }
    END { m = s / n; v = ss / n - m * m
          if (!(c["y_rep.1"] && m * m < 16 / n && (v - 1) * (v - 1) < 16 * 2 / n)) exit 1 }' \
    "$TMP"/nm_*.csv && ok || bad "y_rep.1 - mu is not N(0, 1) over the draws"
ny=$(awk -F, '/^#/ { next } { for (i = 1; i <= NF; i++) if ($i ~ /^y_rep\./) n++; exit } END { print n + 0 }' "$TMP/nm_1.csv")
nd=$(tr -d '[]{}",:a-zA-Z' <examples/svi/normal_mean.json | awk '{ print NF - 1 }')
[ "$ny" -eq "$nd" ] && ok || bad "$ny replicate columns for $nd observations"

D=examples/predictive/counts.json
p_of() { awk -v s="$1" '$1 == "y" { row = 1 } row && ($1 == s || $2 == s) { print $NF == "this" ? $(NF - 6) : $NF; exit }' "$TMP/out"; }
run $CMRUN examples/predictive/poisson.cm --data $D --predictive --query lambda --seed 1 --quiet
expect_rc 0 "Poisson check"
p=$(p_of sd)
awk -v p="$p" 'BEGIN { exit !(p < 0.025) }' && ok || bad "Poisson sd check p = $p, expected < 0.025"
expect_out "the model rarely reproduces this" "the misfit is named"
run $CMRUN examples/predictive/negbin.cm --data $D --predictive --query mu,phi --seed 1 --quiet
expect_rc 0 "negative binomial check"
grep -q "rarely reproduces" "$TMP/out" && bad "negative binomial flagged a misfit" || ok
p=$(p_of sd)
awk -v p="$p" 'BEGIN { exit !(p > 0.025 && p < 0.975) }' && ok || bad "negbin sd check p = $p"

run $CMRUN examples/svi/normal_mean.cm --data examples/svi/normal_mean.json --predictive --infer svi \
    --seed 5 --quiet
expect_rc 0 "--predictive with SVI"
expect_out "y_rep.1" "SVI replicates"
expect_out "Posterior predictive checks (1000 replicates" "SVI check table"

run $CMRUN examples/svi/normal_mean.cm --data examples/svi/normal_mean.json --predictive --infer prior
expect_rc 2 "--predictive with prior"
expect_err "--predictive redraws the data at posterior draws" "names the flag"
run $CMRUN examples/causal/cf_posterior.cm --given y=1 --do x=1 --counterfactual --predictive
expect_rc 2 "--predictive with --counterfactual"
expect_err "--predictive and --counterfactual are separate queries" "names both flags"
done_tests
