#!/bin/sh
# Causal queries end to end: counterfactuals, graphs, d-separation,
# identification and adjustment sets.
. "$(dirname "$0")/lib.sh"

# linear SCM: y = 2x + z + e, evidence x=1, y=3: the noise is recovered
# exactly, so y_cf under do(x=0) is 3 - 2 = 1 in every draw
run $CMRUN examples/scm.cm --given x=1 --given y=3 --do x=0 --counterfactual --query y \
    --samples 2000 --seed 1 --output "$TMP/cf.csv"
expect_rc 0 "counterfactual"
expect_out "y_cf" "counterfactual column"
set -- $(column_stats "$TMP/cf.csv" y_cf)
within "$1" 1 1e-9 && within "$2" 0 1e-9 && ok || bad "y_cf = $1 +- $2, expected exactly 1"

# --counterfactual without --do is refused
run $CMRUN examples/scm.cm --given x=1 --counterfactual
expect_rc 2 "counterfactual without do"
expect_err "--counterfactual needs at least one --do" "message"

run $CMRUN examples/scm.cm --graph
expect_rc 0 "graph"
expect_out 'digraph' "dot header"
expect_out '"z" -> "x";' "edge z -> x"
run $CMRUN examples/scm.cm --graph --do x=1
expect_rc 0 "graph under do"
grep -qF '"z" -> "x"' "$TMP/out" && bad "do(x) keeps the edge z -> x" || ok
run $CMRUN examples/eight_schools.cm --graph
expect_out 'cluster' "plate as a cluster"

run $CMRUN examples/scm.cm --dsep 'x, y | z'
expect_rc 0 "dsep"
expect_out "NOT d-separated" "x -> y is open"
run $CMRUN examples/scm.cm --dsep 'x, q'
expect_rc 2 "dsep unknown site"
run $CMRUN examples/scm.cm --identify 'y | do(x)'
expect_rc 0 "identify"
expect_out "backdoor adjustment for {z}" "backdoor estimand"
run $CMRUN examples/scm.cm --adjustment-sets x y
expect_rc 0 "adjustment sets"
expect_out "{z}" "minimal set"

# the average effect of x on y is exactly 2 in the linear SCM (shared noise)
run $CMRUN examples/scm.cm --effect x --on y --samples 2000 --seed 2 --output "$TMP/ate.csv"
expect_rc 0 "effect by IS"
set -- $(column_stats "$TMP/ate.csv" effect)
within "$1" 2 1e-9 && ok || bad "ATE = $1, expected exactly 2"
run $CMRUN examples/scm.cm --effect z --on y
expect_rc 2 "effect of a non-binary treatment without values"
expect_err "is not binary" "non-binary message"
run $CMRUN examples/scm.cm --effect x
expect_rc 2 "effect without --on"

# a latent discrete site in the twin worlds under NUTS: refused, saying why
# and what to use instead (the twin worlds do not enumerate)
run $CMRUN examples/scm.cm --given y=3 --do x=0 --counterfactual --infer nuts
expect_rc 2 "counterfactual with a latent discrete site under NUTS"
expect_err "worlds under NUTS, HMC or SVI do not sum discrete sites out" "names the limit"

# with parameters learned from data (NUTS), the effect's posterior is b's
run $CMRUN examples/causal/ate_linear.cm --data examples/causal/ate_linear.json --effect t --on y \
    --chains 2 --seed 4 --output "$TMP/lin.csv" --quiet
expect_rc 0 "effect by NUTS"
awk -F, '/^#/{next} !h{for(i=1;i<=NF;i++){if($i=="b")B=i; if($i=="effect")E=i}; h=1; next}
    { d = $B - $E; if (d < 0) d = -d; if (d > 1e-6) bad = 1 } END { exit bad }' "$TMP/lin_1.csv" \
    && ok || bad "effect != b in the linear model"
# the same with SVI standing in for the posterior: each guide draw is pushed
# through both worlds, so the effect is still b draw by draw
run $CMRUN examples/causal/ate_linear.cm --data examples/causal/ate_linear.json --effect t --on y \
    --infer svi --guide mvn --samples 500 --seed 4 --output "$TMP/lin_svi.csv" --quiet
expect_rc 0 "effect by SVI"
expect_out "effect" "SVI effect column in the summary"
awk -F, '/^#/{next} !h{for(i=1;i<=NF;i++){if($i=="b")B=i; if($i=="effect")E=i}; h=1; next}
    { n++; d = $B - $E; if (d < 0) d = -d; if (d > 1e-6) bad = 1 } END { exit bad + !E + (n != 501) }' \
    "$TMP/lin_svi.csv" && ok || bad "SVI: effect != b in the linear model"
run $CMRUN examples/causal/ate_linear.cm --data examples/causal/ate_linear.json --effect t --on y \
    --where 't == 1' --chains 1 --samples 200 --warmup 200 --seed 4 --quiet
expect_rc 0 "effect on the treated"

# --do on an observed site: the posterior from the data as observed, and
# per draw the world under do(t=1): y_do.1 - (a + b + c x_1) is fresh noise
run $CMRUN examples/causal/ate_linear.cm --data examples/causal/ate_linear.json --do t=1 --query y \
    --chains 1 --seed 8 --output "$TMP/do.csv" --quiet
expect_rc 0 "do on evidence"
expect_out "y_do.1" "interventional columns"
X1=$(sed 's/.*"x": *\[\([^,]*\),.*/\1/' examples/causal/ate_linear.json)
awk -F, -v x1="$X1" '/^#/{next}
    !h{for(i=1;i<=NF;i++){if($i=="a")A=i; if($i=="b")B=i; if($i=="c")C=i; if($i=="y_do.1")Y=i; if($i=="t_do.1")T=i}; h=1; next}
    { e = $Y - ($A + $B + $C * x1); s += e; ss += e * e; n++; if ($T != 1) bad = 1 }
    END { m = s / n; sd = sqrt(ss / n - m * m); if (bad || m > 4 * sd / sqrt(n) || m < -4 * sd / sqrt(n)) exit 1 }' \
    "$TMP/do.csv" && ok || bad "y_do.1 is not centred on a + b + c x_1 under do(t=1)"

done_tests
