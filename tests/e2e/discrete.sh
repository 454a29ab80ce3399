#!/bin/sh
# Latent discrete sites summed out under NUTS and SVI (docs/discrete.md):
# the gradients check; the mixture with explicit assignments has the same
# posterior as the log_mix version (4 Monte Carlo standard errors); its z.n
# columns are draws from the exact conditional P(z[n] | y, params) at each
# draw; the change point's posterior matches the exact one (conjugate Gamma
# priors: computed in closed form, values below); runs are reproducible;
# and the errors a user can cause name the site.
. "$(dirname "$0")/lib.sh"

MX="examples/discrete/mixture_assignments.cm --data examples/discrete/mixture_assignments.json"
HAND="examples/language/mixture.cm --data examples/language/mixture.json"
CP="examples/discrete/changepoint.cm --data examples/discrete/changepoint.json"
CPH="examples/discrete/changepoint_marginal.cm --data examples/discrete/changepoint.json"

# "mean mcse" of a variable in a printed summary
stat() { awk -v n="$1" '$1 == n { print $2, $3; exit }' "$2"; }
# agree NAME FILE_A FILE_B: means within 4 combined MCSEs
agree() {
    set -- "$1" "$(stat "$1" "$2")" "$(stat "$1" "$3")"
    awk -v a="$2" -v b="$3" 'BEGIN { split(a, x, " "); split(b, y, " ");
        d = x[1] - y[1]; if (d < 0) d = -d; exit !(x[1] != "" && d <= 4 * sqrt(x[2]^2 + y[2]^2)) }' \
        && ok || bad "$1: $2 vs $3 (mean mcse) differ by more than 4 MCSE"
}
# near NAME FILE EXACT: mean within 4 MCSE of an exact value
near() {
    set -- "$1" "$(stat "$1" "$2")" "$3"
    awk -v a="$2" -v e="$3" 'BEGIN { split(a, x, " "); d = x[1] - e; if (d < 0) d = -d;
        exit !(x[1] != "" && d <= 4 * x[2]) }' && ok || bad "$1: $2 (mean mcse), exact $3"
}

# gradients of the summed-out models
for m in "$MX" "$CP"; do
    run $CMRUN $m --check-grad
    expect_rc 0 "check-grad $m"
    expect_out "gradient check passed" "check-grad $m"
done

# the mixture: the same posterior as the hand-marginalised model
run $CMRUN $MX --chains 2 --seed 1 --quiet --output "$TMP/mx.csv"
expect_rc 0 "mixture_assignments nuts"
cp "$TMP/out" "$TMP/mx.txt"
run $CMRUN $HAND --chains 2 --seed 1 --quiet
expect_rc 0 "mixture (log_mix) nuts"
cp "$TMP/out" "$TMP/hand.txt"
for v in mu.1 mu.2 sigma.1 sigma.2 theta gap; do
    agree $v "$TMP/mx.txt" "$TMP/hand.txt"
done
grep -q '^z\.40 ' "$TMP/mx.txt" && ok || bad "columns z.1..z.40 in the summary"

# z.n against the exact conditional at the same draws: given the draw's
# parameters z.n is Bernoulli(p_n), independently, so the mean of z.n -
# p_n over S draws has standard error sqrt(sum p_n (1 - p_n)) / S; the
# counts get 4 of those plus one draw, since for a rare assignment (expected
# count 0.01) the normal approximation does not hold and one hit is likely
Y=$(tr -d ' \n' < examples/discrete/mixture_assignments.json | sed 's/.*"y":\[\([^]]*\)\].*/\1/')
cat "$TMP/mx_1.csv" "$TMP/mx_2.csv" | awk -F, -v ys="$Y" '
    BEGIN { N = split(ys, y, ",") }
    /^#/ { next }
    /^lp__/ { for (i = 1; i <= NF; i++) c[$i] = i; next }
    {
        S++
        m1 = $c["mu.1"]; m2 = $c["mu.2"]; s1 = $c["sigma.1"]; s2 = $c["sigma.2"]; th = $c["theta"]
        for (n = 1; n <= N; n++) {
            a = th * exp(-0.5 * ((y[n] - m1) / s1)^2) / s1
            b = (1 - th) * exp(-0.5 * ((y[n] - m2) / s2)^2) / s2
            p = a / (a + b)
            sp[n] += p; vp[n] += p * (1 - p); sz[n] += $c["z." n]
        }
    }
    END {
        bad = 0
        for (n = 1; n <= N; n++) {
            d = sz[n] - sp[n]; if (d < 0) d = -d
            if (d > 4 * sqrt(vp[n]) + 1) { bad++; printf "z.%d: mean %g, exact %g\n", n, sz[n] / S, sp[n] / S }
        }
        exit bad != 0 || S != 2000
    }' && ok || bad "z.n columns are not draws from the exact conditional"

# SVI through the same Model: both guides, against the hand-marginalised fit
for g in normal mvn; do
    run $CMRUN $MX --infer svi --guide $g --seed 3 --quiet
    expect_rc 0 "svi --guide $g"
    cp "$TMP/out" "$TMP/svi_mx.txt"
    grep -q '^z\.1 ' "$TMP/svi_mx.txt" && ok || bad "svi $g: z columns"
    run $CMRUN $HAND --infer svi --guide $g --seed 3 --quiet
    for v in mu.1 mu.2 theta; do
        a=$(awk -v n=$v '$1 == n { print $2, $3; exit }' "$TMP/svi_mx.txt")
        b=$(awk -v n=$v '$1 == n { print $2, $3; exit }' "$TMP/out")
        # 1000 independent guide draws each: 4 standard errors of a difference, plus 2%
        awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); d = x[1] - y[1];
            if (d < 0) d = -d; exit !(x[1] != "" && d <= 4 * sqrt((x[2]^2 + y[2]^2) / 1000) + 0.02 * (y[1] < 0 ? -y[1] : y[1])) }' \
            && ok || bad "svi $g $v: $a vs $b"
    done
done

# the change point against the exact posterior: E[tau | y] = 19.768785,
# E[early | y] = 3.630799, E[late | y] = 1.063211 (sums over tau of the
# conjugate Gamma-Poisson marginals)
run $CMRUN $CP --chains 2 --seed 2 --quiet
expect_rc 0 "changepoint nuts"
cp "$TMP/out" "$TMP/cp.txt"
near tau "$TMP/cp.txt" 19.768785
near early "$TMP/cp.txt" 3.630799
near late "$TMP/cp.txt" 1.063211
run $CMRUN $CPH --chains 2 --seed 2 --quiet
expect_rc 0 "changepoint_marginal nuts"
agree early "$TMP/cp.txt" "$TMP/out"
agree late "$TMP/cp.txt" "$TMP/out"

# the same seed gives the same draws, z included
run $CMRUN $MX --chains 1 --warmup 100 --samples 50 --seed 9 --output "$TMP/a.csv"
run $CMRUN $MX --chains 1 --warmup 100 --samples 50 --seed 9 --output "$TMP/b.csv"
[ "$(grep -v '^#' "$TMP/a.csv" | md5sum)" = "$(grep -v '^#' "$TMP/b.csv" | md5sum)" ] && ok \
    || bad "same seed, different draws"

# other engines are unaffected: prior draws z itself
run $CMRUN $MX --infer prior --samples 200 --seed 1
expect_rc 0 "prior on the mixture"

# errors a user can cause
SHORT="--chains 1 --warmup 10 --samples 10 --quiet"
printf 'data N: int\ndata y: real[N]\nmu ~ Normal(0, 1)\nplate n in 1..N {\n  z[n] ~ Bernoulli(0.5)\n  y[n] ~ Normal(mu + z[n], 1)\n}\ns = sum(z)\n' > "$TMP/after.cm"
run $CMRUN "$TMP/after.cm" --data examples/discrete/mixture_assignments.json $SHORT
expect_rc 2 "read after the plate"
expect_err "after.cm:8:9: error: 'z' is summed out inside plate n in 1..N (line 5)" "read after the plate"
printf 'c ~ Bernoulli(0.3)\nmu ~ Normal(c, 1)\nx ~ Normal(mu, 1)\n' > "$TMP/cont.cm"
run $CMRUN "$TMP/cont.cm" --set x=1 $SHORT
expect_rc 2 "continuous site after a summed-out one"
expect_err "'mu' is a continuous latent site after 'c' (line 1), a latent discrete site that is summed out" "continuous after"
printf 'mu ~ Normal(0, 1)\nk ~ Poisson(3)\nx ~ Normal(k + mu, 1)\n' > "$TMP/pois.cm"
run $CMRUN "$TMP/pois.cm" --set x=1 $SHORT
expect_rc 2 "unbounded support"
expect_err "'k' ~ Poisson is a latent discrete site with unbounded support" "unbounded support"
printf 'mu ~ Normal(0, 1)\nz: int[13]\nfor i in 1..13 {\n  z[i] ~ Bernoulli(0.5)\n}\nx ~ Normal(mu, 1)\n' > "$TMP/cap.cm"
run $CMRUN "$TMP/cap.cm" --set x=1 $SHORT
expect_rc 2 "too many passes"
expect_err "summing out 'z[13]' would take more than 4096 passes" "pass cap"

done_tests
