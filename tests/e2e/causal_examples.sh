#!/bin/sh
# The classic causal examples of examples/causal/, each checked against its
# exact answer.
#
# Every example states its maths in its header; this file recomputes the
# answer independently and compares:
#  - exact engines (--infer enum, --effect by enum, the graph queries) are
#    compared with values worked out by hand from the model's parameters, to
#    the digits cmrun prints (the effect lines carry 10 significant digits,
#    the enumeration table 6, so sums of table entries get 1e-5);
#  - the adjustment formulas (backdoor, frontdoor, and the wrong "adjust for
#    the collider") are evaluated from the model's own observational
#    distribution, itself read from enumeration runs, so the test shows that
#    the formula, applied to observational data only, gives the effect;
#  - Monte Carlo answers (importance sampling, NUTS) get 4 standard errors of
#    the run itself: for IS the weighted-mean standard error, for NUTS the
#    MCSE and effective sample size that cmrun reports.  Seeds are fixed,
#    so the outcome is deterministic; tolerances are never widened to pass.
# Two of the answers are statistical rather than Monte Carlo (the IV and
# ETT posteriors against the parameters the data were simulated with): for
# those the posterior sd is the yardstick, as the comments there say.
. "$(dirname "$0")/lib.sh"
EX=examples/causal

# --- helpers --------------------------------------------------------------

# prob SITE VALUE: P(SITE = VALUE) from an enumeration table in $TMP/out
prob() {
    awk -v site="$1" -v key="P($2)" '
        $1 == site { for (i = 2; i < NF; i++) if ($i == key) { print $(i + 2); found = 1; exit } }
        END { if (!found) print "nan" }' "$TMP/out"
}
# enum_prob MODEL SITE VALUE [ARGS...]: run enum, print P(SITE = VALUE)
enum_prob() {
    m=$1 s=$2 v=$3
    shift 3
    run $CMRUN "$m" --infer enum --query "$s" "$@"
    [ "$RC" -eq 0 ] || { echo nan; return; }
    prob "$s" "$v"
}
# effect_line KEY: the number after 'KEY = ' in an --effect output ($TMP/out)
effect_line() { awk -v k="$1 = " 'index($0, k) == 1 { print substr($0, length(k) + 1) }' "$TMP/out"; }
# arm N: E[y | do(...)] of the N-th arm of an --effect T=a:b output (1: a, 2: b)
arm() { awk -v n="$1" '/^E\[/ && ++k == n { print $NF }' "$TMP/out"; }
# calc EXPR: evaluate an awk arithmetic expression (nan in, nan out)
calc() { case "$1" in *nan*) echo nan ;; *) awk "BEGIN { printf \"%.12g\n\", $1 }" ;; esac; }
# is_stats FILE WHAT: importance-weighted mean, its standard error, sd, the
# effective sample size and the weighted fourth central moment.  WHAT is a
# column name, or 'a=1,b=0': the indicator that every named column has the
# value (a joint event).
is_stats() {
    awk -F, -v what="$2" '
        /^#/ { next }
        !h { for (i = 1; i <= NF; i++) col[$i] = i; nc = split(what, cond, ",")
             for (j = 1; j <= nc; j++) { split(cond[j], kv, "="); cc[j] = col[kv[1]]; cv[j] = kv[2] }
             h = 1; next }
        { n++; lw[n] = $col["log_weight__"] + 0
          if (nc == 1 && index(what, "=") == 0) f[n] = $cc[1] + 0
          else { f[n] = 1; for (j = 1; j <= nc; j++) if ($cc[j] + 0 != cv[j] + 0) f[n] = 0 }
          if (n == 1 || lw[n] > mx) mx = lw[n] }
        END {
            for (i = 1; i <= n; i++) { w[i] = exp(lw[i] - mx); sw += w[i]; sw2 += w[i] * w[i]; s += w[i] * f[i] }
            m = s / sw
            for (i = 1; i <= n; i++) { d = f[i] - m; v += w[i] * d * d; m4 += w[i] * d * d * d * d; e += w[i] * w[i] * d * d }
            printf "%.10g %.10g %.10g %.10g %.10g\n", m, sqrt(e) / sw, sqrt(v / sw), sw * sw / sw2, m4 / sw }' "$1"
}
# draw_stats COL FILES...: mean, sd, fourth central moment and count of a
# column over several CmdStan CSV files (one header row each)
draw_stats() {
    c=$1
    shift
    awk -F, -v col="$c" '
        /^#/ { next }
        FNR == 1 || $1 == "lp__" || $1 == "log_weight__" { for (i = 1; i <= NF; i++) if ($i == col) k = i; next }
        { n++; x[n] = $k + 0; s += x[n] }
        END { m = s / n; for (i = 1; i <= n; i++) { d = x[i] - m; v += d * d; q += d * d * d * d }
              printf "%.10g %.10g %.10g %d\n", m, sqrt(v / n), q / n, n }' "$@"
}
# max_dev FILE COL VALUE: the largest |draw - VALUE| of a column
max_dev() {
    awk -F, -v col="$2" -v val="$3" '
        /^#/ { next }
        !h { for (i = 1; i <= NF; i++) if ($i == col) k = i; h = 1; next }
        { d = $k - val; if (d < 0) d = -d; if (d > mx) mx = d }
        END { printf "%.10g\n", (k ? mx : 1e300) }' "$1"
}
# summary_row NAME: the row of cmrun's summary table for NAME ($TMP/out):
# mean mcse sd 5% 50% 95% ess_bulk ess_tail rhat
summary_row() { awk -v n="$1" '$1 == n { $1 = ""; print; exit }' "$TMP/out"; }
# json_column FILE NAME: the elements of a JSON array member, one a line
json_column() {
    awk -v name="$2" '{
        i = index($0, "\"" name "\": ["); if (!i) exit 1
        s = substr($0, i + length(name) + 5); s = substr(s, 1, index(s, "]") - 1)
        n = split(s, a, /, */); for (k = 1; k <= n; k++) print a[k] }' "$1"
}
# is_number S: S is a finite number as awk prints them
is_number() { printf '%s' "$1" | grep -Eq '^-?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$'; }
# check_near NAME GOT WANT TOL (GOT must be a number: a failed run is a failure)
check_near() {
    is_number "$2" && is_number "$4" && within "$2" "$3" "$4" && ok || bad "$1 = '$2', expected $3 +- $4"
}
# sd_tol SD M4 ESS: 4 standard errors of a sample sd, from the fourth
# central moment (SE(var) = sqrt((m4 - var^2) / ESS), SE(sd) = SE(var) / 2 sd)
sd_tol() { calc "4 * sqrt(($2 - ($1)^4) / $3) / (2 * $1)"; }

# --- Simpson's paradox: the kidney stones --------------------------------
M=$EX/kidney_stones.cm
pa=$(enum_prob $M recover 1 --given treat=1)
check_near "P(recover | A)" "$pa" "$(calc '273/350')" 1e-6
pb=$(enum_prob $M recover 1 --given treat=0)
check_near "P(recover | B)" "$pb" "$(calc '289/350')" 1e-6
is_number "$pa" && is_number "$pb" && awk -v a="$pa" -v b="$pb" 'BEGIN { exit !(a - b < 0) }' && ok || bad "observationally B should look better"
# the CSV carries the probabilities to 9 digits: P(small, B, not recovered)
# = 357/700 * 270/357 * 36/270 = 36/700
run $CMRUN $M --infer enum --output "$TMP/kidney.csv"
p000=$(awk -F, '/^#/ { next } !h { h = 1; next } $2 == 0 && $3 == 0 && $4 == 0 { print $1 }' "$TMP/kidney.csv")
check_near "enum CSV prob__ of (0, 0, 0)" "$p000" "$(calc '36 / 700')" 1e-9
p=$(enum_prob $M recover 1 --given treat=1 --given large=0)
check_near "P(recover | A, small)" "$p" "$(calc '81/87')" 1e-6
p=$(enum_prob $M recover 1 --given treat=0 --given large=1)
check_near "P(recover | B, large)" "$p" "$(calc '55/80')" 1e-6
run $CMRUN $M --identify 'recover | do(treat)'
expect_out "backdoor adjustment for {large}: P(recover | do(treat)) = sum_{large} P(recover | treat, large) P(large)" "kidney identify"
run $CMRUN $M --infer enum --effect treat --on recover
expect_rc 0 "kidney effect by enum"
check_near "E[recover | do(A)]" "$(arm 1)" "$(calc '357/700*81/87 + 343/700*192/263')" 1e-9
check_near "E[recover | do(B)]" "$(arm 2)" "$(calc '357/700*234/270 + 343/700*55/80')" 1e-9
eff=$(effect_line effect)
check_near "kidney effect" "$eff" "$(calc '357/700*(81/87 - 234/270) + 343/700*(192/263 - 55/80)')" 1e-9
is_number "$eff" && awk -v e="$eff" 'BEGIN { exit !(e > 0) }' && ok || bad "the adjusted effect should favour A (got $eff)"

# --- backdoor: a three-level confounder ----------------------------------
M=$EX/backdoor.cm
run $CMRUN $M --identify 'y | do(x)'
expect_out "identifiable by backdoor adjustment for {z}: P(y | do(x)) = sum_{z} P(y | x, z) P(z)" "backdoor identify"
run $CMRUN $M --adjustment-sets x y
[ "$(cat "$TMP/out")" = "{z}" ] && ok || bad "backdoor adjustment sets: $(cat "$TMP/out")"
run $CMRUN $M --infer enum --effect x --on y
check_near "backdoor E[y | do(x=1)]" "$(arm 1)" "$(calc '0.2*0.9 + 0.5*0.7 + 0.3*0.5')" 1e-9
check_near "backdoor E[y | do(x=0)]" "$(arm 2)" "$(calc '0.2*0.8 + 0.5*0.5 + 0.3*0.2')" 1e-9
check_near "backdoor effect" "$(effect_line effect)" 0.21 1e-9
# the backdoor formula evaluated on the observational distribution
adj=0
for zv in 1 2 3; do
    pz=$(enum_prob $M z $zv)
    p1=$(enum_prob $M y 1 --given x=1 --given z=$zv)
    p0=$(enum_prob $M y 1 --given x=0 --given z=$zv)
    adj=$(calc "$adj + $pz * ($p1 - $p0)")
done
check_near "backdoor formula from P(z), P(y | x, z)" "$adj" 0.21 1e-5
p1=$(enum_prob $M y 1 --given x=1)
p0=$(enum_prob $M y 1 --given x=0)
check_near "backdoor observational contrast" "$(calc "$p1 - $p0")" "$(calc '0.331/0.53 - 0.265/0.47')" 1e-6
check_near "truncated factorisation P(y | do(x=1))" "$(enum_prob $M y 1 --do x=1)" 0.68 1e-6

# --- frontdoor: smoking, tar, cancer -------------------------------------
M=$EX/frontdoor.cm
run $CMRUN $M --identify 'y | do(x)'
expect_out "identifiable by the frontdoor criterion through {m}: P(y | do(x)) = sum_{m} P(m | x) sum_{x'} P(y | x', m) P(x')" "frontdoor identify"
run $CMRUN $M --adjustment-sets x y
expect_out "no adjustment set exists" "frontdoor has no backdoor set"
run $CMRUN $M --infer enum --effect x --on y
check_near "frontdoor E[y | do(x=1)]" "$(arm 1)" "$(calc '0.1 + 0.4*0.9 + 0.4*0.3')" 1e-9
check_near "frontdoor E[y | do(x=0)]" "$(arm 2)" "$(calc '0.1 + 0.4*0.1 + 0.4*0.3')" 1e-9
check_near "frontdoor effect" "$(effect_line effect)" 0.32 1e-9
# sum_m P(m | x) sum_x' P(y | x', m) P(x'), from observational runs only
px1=$(enum_prob $M x 1)
for xv in 0 1; do
    for mv in 0 1; do
        eval "py_${xv}_${mv}=\$(enum_prob \$M y 1 --given x=$xv --given m=$mv)"
    done
done
for xv in 0 1; do
    pm1=$(enum_prob $M m 1 --given x=$xv)
    fd=$(calc "(1 - $pm1) * ($py_0_0 * (1 - $px1) + $py_1_0 * $px1) + $pm1 * ($py_0_1 * (1 - $px1) + $py_1_1 * $px1)")
    eval "fd_$xv=$fd"
done
check_near "frontdoor formula, x=1" "$fd_1" 0.58 1e-5
check_near "frontdoor formula, x=0" "$fd_0" 0.26 1e-5
naive=$(calc "$(enum_prob $M y 1 --given x=1) - $(enum_prob $M y 1 --given x=0)")
is_number "$naive" && awk -v n="$naive" 'BEGIN { exit !(n > 0.32 + 0.1) }' && ok || bad "frontdoor: naive contrast $naive should be confounded upward"

# --- M-bias ---------------------------------------------------------------
M=$EX/m_bias.cm
run $CMRUN $M --adjustment-sets x y
[ "$(cat "$TMP/out")" = "{}" ] && ok || bad "M-bias adjustment sets: $(cat "$TMP/out")"
run $CMRUN $M --dsep 'x, b'
expect_out "x and b are d-separated given {}" "M-bias: the backdoor path is closed"
run $CMRUN $M --dsep 'x, b | m'
expect_out "x and b are NOT d-separated given {m}: open path x <- a -> m (collider) <- b" "M-bias: conditioning on m opens it"
run $CMRUN $M --identify 'y | do(x)'
expect_out "backdoor adjustment for {}: P(y | do(x)) = P(y | x)" "M-bias identify"
run $CMRUN $M --infer enum --effect x --on y
check_near "M-bias effect" "$(effect_line effect)" 0.3 1e-9
p1=$(enum_prob $M y 1 --given x=1)
p0=$(enum_prob $M y 1 --given x=0)
check_near "M-bias: P(y | x) contrast is the effect" "$(calc "$p1 - $p0")" 0.3 1e-6
pm1=$(enum_prob $M m 1)
wrong=0
for mv in 0 1; do
    pm=$(calc "$mv == 1 ? $pm1 : 1 - $pm1")
    wrong=$(calc "$wrong + $pm * ($(enum_prob $M y 1 --given x=1 --given m=$mv) - $(enum_prob $M y 1 --given x=0 --given m=$mv))")
done
# by hand: 0.3 + 0.4 sum_m P(m) [P(b | x=1, m) - P(b | x=0, m)] = 0.3 - 96/2356
check_near "M-bias: adjusting for m" "$wrong" "$(calc '0.3 - 96/2356')" 1e-5

# --- instrumental variable ------------------------------------------------
M=$EX/iv.cm
run $CMRUN $M --identify 'y | do(x)'
expect_out "not identifiable" "IV: not identifiable from observed variables"
run $CMRUN $M --adjustment-sets x y
expect_out "no adjustment set exists" "IV: no backdoor set"
run $CMRUN $M --dsep 'z, u'
expect_out "z and u are d-separated given {}" "IV: instrument independent of the confounder"
# the Wald estimate and the regression slope, from the data themselves
json_column $EX/iv.json z >"$TMP/z"
json_column $EX/iv.json x >"$TMP/x"
json_column $EX/iv.json y >"$TMP/y"
set -- $(paste "$TMP/z" "$TMP/x" "$TMP/y" | awk '
    { n++; z += $1; x += $2; y += $3; zx += $1 * $2; zy += $1 * $3; xx += $2 * $2; xy += $2 * $3 }
    END { czx = zx / n - z * x / n / n; czy = zy / n - z * y / n / n
          vx = xx / n - x * x / n / n; cxy = xy / n - x * y / n / n
          printf "%.10g %.10g %d\n", czy / czx, cxy / vx, n }')
wald=$1 ols=$2
[ "$3" -eq 1000 ] && ok || bad "iv.json has $3 rows, expected 1000"
run $CMRUN $EX/iv_fit.cm --data $EX/iv.json --chains 2 --seed 3 --quiet
expect_rc 0 "IV fit by NUTS"
set -- $(summary_row b)
bm=$1 bmcse=$2 bsd=$3
# statistical: the posterior covers the true effect 0.5 (4 sd of posterior
# and Monte Carlo error together), and the confounded slope is far outside
check_near "IV posterior mean of b vs the true effect" "$bm" 0.5 "$(calc "4 * sqrt($bsd^2 + $bmcse^2)")"
is_number "$bm" && is_number "$bsd" && awk -v o="$ols" -v m="$bm" -v s="$bsd" 'BEGIN { d = o - m; exit !(d > 4 * s) }' && ok || bad "IV: OLS slope $ols should be far from b = $bm"
# Monte Carlo: with one instrument the maximum-likelihood b is the Wald
# estimate; the posterior mean differs from the MLE by O(1/N) (0.1 sd
# allows for that at N = 1000), the rest is the run's MCSE
check_near "IV posterior mean of b vs the Wald estimate" "$bm" "$wald" "$(calc "4 * $bmcse + 0.1 * $bsd")"

# --- probabilities of causation -------------------------------------------
M=$EX/necessity.cm
run $CMRUN $M --given x=1 --given y=1 --do x=0 --counterfactual --infer is --samples 10000 --seed 21 --output "$TMP/pn.csv"
expect_rc 0 "PN run"
set -- $(is_stats "$TMP/pn.csv" y_cf=0)
check_near "PN = (p1 - p0)/p1" "$1" "$(calc '0.5/0.8')" "$(calc "4 * $2")"
run $CMRUN $M --given x=0 --given y=0 --do x=1 --counterfactual --infer is --samples 10000 --seed 22 --output "$TMP/ps.csv"
expect_rc 0 "PS run"
set -- $(is_stats "$TMP/ps.csv" y_cf=1)
check_near "PS = (p1 - p0)/(1 - p0)" "$1" "$(calc '0.5/0.7')" "$(calc "4 * $2")"
run $CMRUN $M --given x=0 --do x=1 --counterfactual --infer is --samples 10000 --seed 23 --output "$TMP/pns.csv"
expect_rc 0 "PNS run"
set -- $(is_stats "$TMP/pns.csv" y=0,y_cf=1)
check_near "PNS = p1 - p0" "$1" 0.5 "$(calc "4 * $2")"
set -- $(is_stats "$TMP/pns.csv" y=1,y_cf=0)
[ "$1" = 0 ] && ok || bad "monotone coupling: P(y_{x=0} = 1, y_{x=1} = 0) = $1, expected exactly 0"
set -- $(is_stats "$TMP/pns.csv" y)
check_near "P(y | x=0)" "$1" 0.3 "$(calc "4 * $2")"

# --- linear-Gaussian SCM: exact counterfactuals ---------------------------
M=$EX/cf_linear.cm
run $CMRUN $M --given z=1 --given x=1 --given m=2.6 --given y=3 --do x=0 --counterfactual --samples 500 --seed 31 --output "$TMP/lin.csv"
expect_rc 0 "linear counterfactual"
check_near "max |y_cf - 2|" "$(max_dev "$TMP/lin.csv" y_cf 2)" 0 1e-9
check_near "max |m_cf - 0.6|" "$(max_dev "$TMP/lin.csv" m_cf 0.6)" 0 1e-9
check_near "max |z_cf - 1|" "$(max_dev "$TMP/lin.csv" z_cf 1)" 0 1e-9
run $CMRUN $M --given z=1 --given x=1 --given m=2.6 --given y=3 --do m=1 --counterfactual --samples 500 --seed 32 --output "$TMP/lin2.csv"
check_near "do(m=1): max |y_cf - 1.4|" "$(max_dev "$TMP/lin2.csv" y_cf 1.4)" 0 1e-9
run $CMRUN $M --infer prior --do x=0 --samples 4000 --seed 33 --output "$TMP/prior.csv"
set -- $(draw_stats y "$TMP/prior.csv")
check_near "E[y | do(x=0)]" "$1" 1 "$(calc "4 * $2 / sqrt($4)")"

# --- a latent parent: the counterfactual only partly identified ----------
M=$EX/cf_partial.cm
run $CMRUN $M --given y=3 --do x=1 --counterfactual --samples 20000 --seed 41 --output "$TMP/part.csv"
expect_rc 0 "partial counterfactual"
set -- $(is_stats "$TMP/part.csv" y_cf)
check_near "E[y_cf | y=3]" "$1" 2.5 "$(calc "4 * $2")"
check_near "sd[y_cf | y=3]" "$3" "$(calc 'sqrt(0.5)')" "$(sd_tol "$3" "$5" "$4")"
run $CMRUN $M --given y=3 --given x=2 --do x=1 --counterfactual --samples 2000 --seed 42 --output "$TMP/part2.csv"
check_near "with x seen: max |y_cf - 2|" "$(max_dev "$TMP/part2.csv" y_cf 2)" 0 1e-9
# SVI on the twin model: the factual posterior of (u, x) given y = 3 is
# Gaussian, so a full-rank Gaussian guide can be exact.  With a decaying
# learning rate the fitted guide's own error is well below the Monte Carlo
# error of 8000 independent draws, which sets the tolerance.  The first data
# row of an SVI file is the guide's mean (CmdStan's variational layout): skip it.
run $CMRUN $M --given y=3 --do x=1 --counterfactual --infer svi --guide mvn --lr-decay 0.999 \
    --samples 8000 --seed 4 --output "$TMP/svi_raw.csv" --quiet
expect_rc 0 "partial counterfactual by SVI"
awk '/^#/ { print; next } !h { print; h = 1; next } !m { m = 1; next } { print }' \
    "$TMP/svi_raw.csv" >"$TMP/svi.csv"
set -- $(draw_stats y_cf "$TMP/svi.csv")
check_near "SVI: E[y_cf | y=3]" "$1" 2.5 "$(calc "4 * $2 / sqrt($4)")"
check_near "SVI: sd[y_cf | y=3]" "$2" "$(calc 'sqrt(0.5)')" "$(sd_tol "$2" "$3" "$4")"
# each guide draw's noise is abducted in the twin: y_cf = 1 + u + (3 - x - u)
awk -F, '/^#/ { next } !h { for (i = 1; i <= NF; i++) { if ($i == "x") X = i; if ($i == "y_cf") Y = i }; h = 1; next }
    { d = $Y - (4 - $X); if (d < 0) d = -d; if (d > 1e-7) bad = 1 } END { exit bad + !X }' "$TMP/svi.csv" \
    && ok || bad "SVI: y_cf != 4 - x in some draw"

# --- a counterfactual through a posterior (NUTS) --------------------------
M=$EX/cf_posterior.cm
run $CMRUN $M --given x=2 --given y=1 --do x=1 --counterfactual --infer nuts --chains 2 --samples 4000 --seed 51 --output "$TMP/post.csv" --quiet
expect_rc 0 "counterfactual by NUTS"
set -- $(summary_row y_cf)
mcse=$2 ess=$7
set -- $(draw_stats y_cf "$TMP/post_1.csv" "$TMP/post_2.csv")
check_near "E[y_cf | x=2, y=1]" "$1" 0.4531611159 "$(calc "4 * $mcse")"
check_near "sd[y_cf | x=2, y=1]" "$2" 0.3459809077 "$(sd_tol "$2" "$3" "$ess")"
# each draw's noise is recovered: y_cf = y - u exactly
awk -F, '/^#/ { next } !h { for (i = 1; i <= NF; i++) { if ($i == "u") U = i; if ($i == "y_cf") Y = i }; h = 1; next }
    { d = $Y - (1 - $U); if (d < 0) d = -d; if (d > 1e-7) bad = 1 } END { exit bad }' "$TMP/post_1.csv" \
    && ok || bad "y_cf != 1 - u in some draw"

# --- effect of treatment on the treated (NUTS, per-unit data) -------------
M=$EX/ett.cm
json_column $EX/ett.json x >"$TMP/x"
json_column $EX/ett.json t >"$TMP/t"
set -- $(paste "$TMP/x" "$TMP/t" | awk '{ n++; s += $1; if ($2 == 1) { st += $1; nt++ } }
    END { printf "%.10g %.10g %d\n", s / n, st / nt, nt }')
xbar=$1 xbar_t=$2
run $CMRUN $M --data $EX/ett.json --effect t --on y --where 't == 1' --chains 2 --seed 5 --output "$TMP/ett.csv" --quiet
expect_rc 0 "ETT by NUTS"
set -- $(summary_row effect)
ett=$1 ett_mcse=$2 ett_sd=$3
# in every draw the effect on the treated is b + d mean(x | t=1)
for f in "$TMP/ett_1.csv" "$TMP/ett_2.csv"; do
    awk -F, -v xb="$xbar_t" '/^#/ { next }
        !h { for (i = 1; i <= NF; i++) { if ($i == "b") B = i; if ($i == "d") D = i; if ($i == "effect") E = i }; h = 1; next }
        { d = $E - ($B + $D * xb); if (d < 0) d = -d; if (d > 1e-6 * (1 + (($E < 0) ? -$E : $E))) bad = 1 } END { exit bad }' "$f" \
        && ok || bad "ETT draw != b + d mean(x | t=1) in $f"
done
# statistical: the posterior covers the ETT of the simulating parameters
check_near "ETT vs 1 + 1.5 mean(x | t=1)" "$ett" "$(calc "1 + 1.5 * $xbar_t")" "$(calc "4 * sqrt($ett_sd^2 + $ett_mcse^2)")"
run $CMRUN $M --data $EX/ett.json --effect t --on y --chains 1 --warmup 300 --samples 300 --seed 6 --output "$TMP/ate.csv" --quiet
expect_rc 0 "ATE by NUTS"
awk -F, -v xb="$xbar" '/^#/ { next }
    !h { for (i = 1; i <= NF; i++) { if ($i == "b") B = i; if ($i == "d") D = i; if ($i == "effect") E = i }; h = 1; next }
    { d = $E - ($B + $D * xb); if (d < 0) d = -d; if (d > 1e-6 * (1 + (($E < 0) ? -$E : $E))) bad = 1 } END { exit bad }' "$TMP/ate.csv" \
    && ok || bad "ATE draw != b + d mean(x)"
set -- $(summary_row effect)
is_number "$1" && is_number "$ett" && awk -v a="$1" -v t="$ett" -v s="$ett_sd" 'BEGIN { exit !(t - a > 2 * s) }' && ok || bad "ETT $ett should exceed ATE $1"

done_tests
