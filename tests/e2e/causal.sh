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

done_tests
