#!/bin/sh
# Guides written in cm (`guide { }` blocks and --guide-file): accuracy on the
# conjugate normal (exact posterior: 2% on the fitted mean and sd), the
# positive site with a LogNormal guide and eight schools from a guide file
# against NUTS, the mixture whose discrete z[n] use the score function,
# the output files (CmdStan CSV, params JSON, reload), determinism, and the
# errors a user can cause at run time (the compile-time ones are in
# tests/errors/guide_*.cm).
. "$(dirname "$0")/lib.sh"

NM="examples/svi/guide_normal_mean.cm --data examples/svi/guide_normal_mean.json"
FIT="--lr 0.05 --lr-decay 0.998 --steps 4000 --tol 0 --particles 4"

# conjugate normal: the exact posterior is Normal(s / (N + 0.01), 1 / sqrt(N + 0.01))
run $CMRUN $NM --infer svi $FIT --seed 3 --samples 2000 --output "$TMP/nm.csv" \
    --params-out "$TMP/nm.json" --elbo-out "$TMP/elbo.csv"
expect_rc 0 "guide_normal_mean"
expect_out "SVI: guide written in cm (guide block in examples/svi/guide_normal_mean.cm)" "report"
expect_out "gradients: mu (reparameterised)" "estimator named"
exact=$(awk 'BEGIN { RS = "[][,{}: ]+" } /^-?[0-9.]+$/ { if (n++ > 0) s += $0 }
            END { N = n - 1; printf "%.10g %.10g", s / (N + 0.01), 1 / sqrt(N + 0.01) }' \
        examples/svi/guide_normal_mean.json)
m=${exact% *}; sd=${exact#* }
loc=$(sed -n 's/.*"mu_loc".*"value": \([-0-9.e]*\).*/\1/p' "$TMP/nm.json")
scale=$(sed -n 's/.*"mu_scale".*"value": \([-0-9.e]*\).*/\1/p' "$TMP/nm.json")
within "$loc" "$m" "$(awk -v m="$m" 'BEGIN { print 0.02 * (m < 0 ? -m : m) }')" && ok \
    || bad "mu_loc $loc, exact posterior mean $m (2%)"
within "$scale" "$sd" "$(awk -v s="$sd" 'BEGIN { print 0.02 * s }')" && ok \
    || bad "mu_scale $scale, exact posterior sd $sd (2%)"
# the draws: their mean within 2% plus 4 Monte Carlo standard errors
set -- $(column_stats "$TMP/nm.csv" mu)
within "$1" "$m" "$(awk -v m="$m" -v s="$sd" -v n="$3" 'BEGIN { print 0.02 * m + 4 * s / sqrt(n) }')" \
    && ok || bad "mean of the draws $1, exact $m"
grep -q '^# method = variational' "$TMP/nm.csv" && ok || bad "method = variational"
grep -q '^#  *guide = user' "$TMP/nm.csv" && ok || bad "guide = user in the CSV header"
grep -q '^lp__,log_q__,mu$' "$TMP/nm.csv" && ok || bad "columns lp__,log_q__,mu"
[ "$(grep -c '^[-0-9]' "$TMP/nm.csv")" -eq 2001 ] && ok || bad "mean row + 2000 draws"
[ "$(wc -l < "$TMP/elbo.csv")" -eq 4001 ] && ok || bad "ELBO trace: one row per step"
grep -q '"guide": "user"' "$TMP/nm.json" && grep -q '"constraint": "positive"' "$TMP/nm.json" \
    && ok || bad "params JSON"
run $CMRUN --summary "$TMP/nm.csv"
expect_rc 0 "--summary of a user-guide file"
expect_out "1 chain x 2000 draws" "--summary skips the mean row"

# the same seed, the same bytes
run $CMRUN $NM --infer svi $FIT --seed 3 --samples 2000 --output "$TMP/nm2.csv"
[ "$(grep -v '^#' "$TMP/nm.csv" | md5sum)" = "$(grep -v '^#' "$TMP/nm2.csv" | md5sum)" ] && ok \
    || bad "same seed, different draws"

# the saved parameters reload exactly; --steps 0 only draws
run $CMRUN $NM --infer svi --init-params "$TMP/nm.json" --steps 0 --samples 10 \
    --params-out "$TMP/nm3.json"
expect_rc 0 "--init-params"
expect_out "no optimisation steps" "--steps 0 report"
[ "$(grep '"value"' "$TMP/nm.json")" = "$(grep '"value"' "$TMP/nm3.json")" ] && ok \
    || bad "reloaded params differ"
sed 's/"shape": \[\], "value": \([-0-9.e]*\)}/"shape": [2], "value": [\1, 1]}/' "$TMP/nm.json" > "$TMP/bad.json"
run $CMRUN $NM --infer svi --init-params "$TMP/bad.json" --steps 0
expect_rc 2 "--init-params with another shape"
expect_err "param 'mu_loc' is a scalar in the guide but [2] in the file" "shape mismatch named"
run $CMRUN examples/svi/normal_mean.cm --data examples/svi/guide_normal_mean.json --infer svi \
    --steps 50 --params-out "$TMP/auto.json"
run $CMRUN $NM --infer svi --init-params "$TMP/auto.json"
expect_rc 2 "--init-params of an autoguide"
expect_err "holds a 'normal' autoguide" "autoguide file named"

# a positive site with a LogNormal guide, against NUTS: means within 4 Monte
# Carlo standard errors of both runs plus 0.1 posterior sd for the mean-field
# approximation
GB="examples/svi/guide_block.cm --data examples/svi/guide_normal_mean.json"
run $CMRUN $GB --infer svi --particles 4 --steps 3000 --lr 0.02 --seed 1 --output "$TMP/gb.csv"
expect_rc 0 "guide_block"
expect_out "mu (reparameterised), sigma (reparameterised)" "guide_block estimators"
run $CMRUN $GB --infer nuts --seed 1 --output "$TMP/gbn.csv"
expect_rc 0 "guide_block under NUTS ignores the guide"
for v in mu sigma; do
    set -- $(column_stats "$TMP/gb.csv" $v); a=$1
    set -- $(column_stats "$TMP/gbn_1.csv" $v); b=$1; s=$2
    within "$a" "$b" "$(awk -v s="$s" 'BEGIN { print 0.1 * s + 4 * s / sqrt(1000) + 4 * s / sqrt(500) }')" \
        && ok || bad "guide_block $v: SVI $a, NUTS $b (sd $s)"
done

# a guide file: eight schools
GF="examples/svi/guide_file.cm --data examples/eight_schools.json"
run $CMRUN $GF --infer svi --guide-file examples/svi/guide_file_guide.cm --particles 4 \
    --steps 3000 --seed 2 --query mu,tau
expect_rc 0 "guide file"
expect_out "(--guide-file examples/svi/guide_file_guide.cm)" "guide file named"
expect_out "eta (reparameterised)" "guide file sites"
run $CMRUN $GF --infer svi --guide-file examples/svi/guide_file_guide.cm --guide mvn
expect_rc 2 "--guide-file with --guide"
expect_err "give one of them" "--guide-file with --guide message"
run $CMRUN examples/svi/guide_block.cm --data examples/svi/guide_normal_mean.json --infer svi --guide-init zero
expect_rc 2 "--guide-init with a guide written in cm"
expect_err "--guide-init applies to the autoguides" "names the flag"
run $CMRUN $GF --infer nuts --guide-file examples/svi/guide_file_guide.cm
expect_rc 2 "--guide-file with nuts"
expect_err "--guide-file applies to --infer svi" "--guide-file with nuts message"
run $CMRUN $NM --infer svi --guide mvn
expect_rc 2 "guide block with --guide"
expect_err "has a guide block" "guide block with --guide message"
run $CMRUN examples/svi/guide_block.cm --infer svi --guide-file examples/svi/guide_file_guide.cm \
    --data examples/svi/guide_normal_mean.json
expect_rc 2 "guide block and --guide-file"
expect_err "has a guide block and --guide-file" "both guides message"
run $CMRUN $GF --infer svi --guide-file "$TMP/none.cm"
expect_rc 2 "missing guide file"
expect_err "cannot read --guide-file" "missing guide file message"
printf 'param mu_loc: real = 0\nmu ~ Normal(mu_loc,\n' > "$TMP/broken.cm"
run $CMRUN $GF --infer svi --guide-file "$TMP/broken.cm"
expect_rc 2 "guide file syntax error"
expect_err "broken.cm:2:" "guide file error located in the guide file"
run $CMRUN $GF --emit-ir --guide-file examples/svi/guide_file_guide.cm
expect_out "# the guide (examples/svi/guide_file_guide.cm)" "--emit-ir prints the guide"

# the mixture: z[n] use the score function; the component means, scales and
# weight match the hand-marginalised NUTS fit of examples/language/mixture.cm
# within half a posterior sd (a collapsed fit is 3 sd away)
MX="--data examples/language/mixture.json"
run $CMRUN examples/svi/guide_mixture.cm $MX --infer svi --particles 16 --lr 0.05 --steps 1500 \
    --seed 4 --output "$TMP/mx.csv"
expect_rc 0 "guide_mixture"
expect_out "theta (score function), z (score function)" "score-function sites named"
run $CMRUN examples/language/mixture.cm $MX --chains 2 --warmup 300 --samples 500 --seed 1 \
    --output "$TMP/mxn.csv"
cat "$TMP/mxn_2.csv" | grep -v '^#' | tail -n +2 >> "$TMP/mxn_1.csv"
for v in mu.1 mu.2 sigma.1 sigma.2 theta; do
    set -- $(column_stats "$TMP/mx.csv" $v); a=$1
    set -- $(column_stats "$TMP/mxn_1.csv" $v); b=$1; s=$2
    within "$a" "$b" "$(awk -v s="$s" 'BEGIN { print 0.5 * s }')" && ok \
        || bad "mixture $v: SVI $a, NUTS $b (sd $s)"
done

# a latent discrete site the guide leaves out is summed out in the fit and
# drawn from its conditional for the output
printf 'data N: int\ndata y: real[N]\nmu: real[2] ~ Normal(0, 5)\nplate n in 1..N {\n  z[n] ~ Bernoulli(0.5)\n  y[n] ~ Normal(mu[z[n] + 1], 1)\n}\nguide {\n  param loc: real[2] = [-2, 2]\n  param scale: positive[2] = 0.3\n  mu ~ Normal(loc, scale)\n}\n' > "$TMP/enum.cm"
run $CMRUN "$TMP/enum.cm" $MX --infer svi --steps 1000 --seed 1 --output "$TMP/enum.csv"
expect_rc 0 "a discrete site summed out"
set -- $(column_stats "$TMP/enum.csv" z.1)
awk -v m="$1" 'BEGIN { exit !(m >= 0 && m <= 1) }' && ok || bad "z.1 drawn from its conditional ($1)"

# --predictive with a guide written in cm: each guide draw is followed by a
# run of the model without its data, so y_rep.i = mu + sigma e with e ~ N(0, 1)
# fresh per draw: (y_rep.1 - mu) / sigma over 1000 draws has mean 0 and
# variance 1 within 4 standard errors.  A site left to be summed out has no
# draw to condition on: refused.
run $CMRUN examples/svi/guide_block.cm --data examples/svi/guide_normal_mean.json --infer svi \
    --particles 4 --steps 3000 --lr 0.02 --predictive --seed 3 --output "$TMP/gp.csv" --quiet
expect_rc 0 "--predictive with a guide in cm"
expect_out "Posterior predictive checks (1000 replicates" "the check table"
awk -F, '/^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next } !r { r = 1; next }
    { e = ($c["y_rep.1"] - $c["mu"]) / $c["sigma"]; s += e; ss += e * e; n++ }
    END { m = s / n; v = ss / n - m * m
          if (!(c["y_rep.1"] && n == 1000 && m * m < 16 / n && (v - 1) * (v - 1) < 16 * 2 / n)) exit 1 }' \
    "$TMP/gp.csv" && ok || bad "guide in cm: (y_rep.1 - mu) / sigma is not N(0, 1) over the draws"
run $CMRUN "$TMP/enum.cm" $MX --infer svi --steps 10 --predictive
expect_rc 2 "--predictive with a summed-out site"
expect_err "'z' (line 5) is summed out instead" "names the summed-out site"

# errors that need the data
printf 'data N: int\ndata y: real[N]\nmu ~ Normal(0, 10)\ny ~ Normal(mu, 1)\nguide {\n  param a: real = 0\n  mu ~ Normal(a, 1)\n  y ~ Normal(a, 1)\n}\n' > "$TMP/obs.cm"
run $CMRUN "$TMP/obs.cm" --data examples/svi/guide_normal_mean.json --infer svi
expect_rc 2 "guide site for an observed site"
expect_err "obs.cm:8:3: error: guide site 'y' is observed (the data give it) in the model" "observed site named"
run $CMRUN "$TMP/obs.cm" --data examples/svi/guide_normal_mean.json --check
expect_rc 2 "--check with data checks the guide"
sed 's/sigma ~ LogNormal/sigma ~ Normal/' examples/svi/guide_block.cm > "$TMP/gn.cm"
run $CMRUN "$TMP/gn.cm" --data examples/svi/guide_normal_mean.json --infer svi
expect_rc 2 "Normal guide for a positive site"
expect_err "guide site 'sigma' ~ Normal has support real, model site 'sigma' is positive; use LogNormal" \
    "support mismatch named"
run $CMRUN $NM --infer svi --counterfactual --do mu=1 --given y=1
expect_rc 2 "counterfactual with a user guide"
printf 'mu ~ Normal(0, 1)\nguide {\n  mu ~ Normal(0, 1)\n}\n' > "$TMP/noparam.cm"
run $CMRUN "$TMP/noparam.cm" --infer svi
expect_rc 2 "a guide without params"
expect_err "the guide declares no 'param'" "no params message"
run $CMRUN examples/svi/guide_normal_mean.cm --check
expect_rc 0 "--check without data"

# --- an amortised guide (examples/svi/amortized.cm): a linear encoder
# q(z[n] | x[n]) = Normal(w x[n] + b, s) can represent the exact posterior
# z[n] | x[n] ~ Normal(x[n] / 2, 1 / sqrt 2), so the fit must find w = 0.5,
# b = 0, s = 0.7071.  Tolerances are 4 times the largest deviation over
# seeds 1-6 (w 0.0043, b 0.019, s 0.0016): w 0.02, b 0.08, s 2%.
run $CMRUN examples/svi/amortized.cm --data examples/svi/amortized.json --infer svi --particles 4 \
    --steps 4000 --lr-decay 0.999 --seed 7 --params-out "$TMP/enc.json" --quiet
expect_rc 0 "amortised guide"
enc() { tr -d '\n ' <"$TMP/enc.json" | sed -n "s/.*\"name\":\"$1\"[^}]*\"value\":\([-0-9.e+]*\).*/\1/p"; }
w=$(enc w) b=$(enc b) s=$(enc s)
within "$w" 0.5 0.02 && ok || bad "encoder slope w = $w, exact 0.5"
within "$b" 0 0.08 && ok || bad "encoder intercept b = $b, exact 0"
within "$s" 0.70710678 0.0141 && ok || bad "encoder scale s = $s, exact 0.7071"

done_tests
