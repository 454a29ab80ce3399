#!/bin/sh
# cmrun end to end: the design's contract programs, NUTS output and its
# format, determinism across thread counts, prior draws and interventions.
. "$(dirname "$0")/lib.sh"

for m in eight_schools logistic_regression scm ar1 extern_cbrt intervention prelude_gp skew_normal lkj; do
    run $CMRUN --check examples/$m.cm
    expect_rc 0 "check $m"
    [ -s "$TMP/out" ] || [ -s "$TMP/err" ] && bad "check $m is not silent" || ok
done

# --check with data runs the model once for shapes, improper priors included
printf 'data y: real[3]\nmu ~ Flat()\ns ~ HalfFlat()\ny ~ Normal(mu, s)\n' > "$TMP/flat.cm"
run $CMRUN --check "$TMP/flat.cm" --set 'y=[1,2,3]'
expect_rc 0 "check with data and flat priors"
run $CMRUN --check "$TMP/flat.cm" --set 'y=[1,2]'
expect_rc 2 "check with data of the wrong shape"

# NUTS on eight schools: CmdStan CSV files, one per chain
run $CMRUN examples/eight_schools.cm --data examples/eight_schools.json --seed 11 \
    --output "$TMP/es.csv" --threads 1
expect_rc 0 "eight schools nuts"
expect_out "R_hat" "eight schools summary"
for c in 1 2 3 4; do
    f="$TMP/es_$c.csv"
    [ -f "$f" ] && ok || bad "missing $f"
    head -n 40 "$f" | grep -q '^lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,mu,tau,eta.1' \
        && ok || bad "$f header"
    grep -q '^# Adaptation terminated' "$f" && ok || bad "$f adaptation lines"
    grep -q 'Elapsed Time' "$f" && ok || bad "$f timing lines"
    [ "$(grep -c '^[-0-9]' "$f")" -eq 1000 ] && ok || bad "$f: not 1000 draws"
done
[ ! -e "$TMP/es.csv.tmp" ] && ok || bad "temporary file left behind"

# the same seed gives the same draws whatever the thread count
run $CMRUN examples/eight_schools.cm --data examples/eight_schools.json --seed 11 \
    --output "$TMP/es2.csv" --threads 2
expect_rc 0 "eight schools 2 threads"
for c in 1 2 3 4; do
    if cmp -s "$(printf '%s' "$TMP/es_$c.csv")" "$TMP/es2_$c.csv" 2>/dev/null || \
       [ "$(grep -v '^#' "$TMP/es_$c.csv" | md5sum)" = "$(grep -v '^#' "$TMP/es2_$c.csv" | md5sum)" ]; then ok
    else bad "chain $c differs between --threads 1 and 2"; fi
done

# --summary reads the files back
run $CMRUN --summary "$TMP"/es_1.csv "$TMP"/es_2.csv "$TMP"/es_3.csv "$TMP"/es_4.csv
expect_rc 0 "--summary"
expect_out "theta.8" "--summary lists theta"

# eight schools against the posteriordb reference (Monte Carlo tolerances)
REF=""
for d in "$CM_POSTERIORDB" ../shared/posteriordb /work/shared/posteriordb; do
    [ -n "$d" ] && [ -f "$d/eight_schools-eight_schools_noncentered/reference.json" ] && REF="$d" && break
done
if [ -n "$REF" ] && command -v python3 >/dev/null; then
    TOOLS="$REF/../tools"
    run python3 "$TOOLS/compare_reference.py" "$REF/eight_schools-eight_schools_noncentered/reference.json" "$TMP"/es_*.csv
    expect_rc 0 "eight schools matches the reference"
fi

# logistic regression recovers its coefficients; --check-grad passes
run $CMRUN examples/logistic_regression.cm --data examples/logistic_regression.json --seed 2 --quiet
expect_rc 0 "logistic regression"
run $CMRUN --check-grad examples/logistic_regression.cm --data examples/logistic_regression.json
expect_rc 0 "check-grad logistic"
expect_out "gradient check passed" "check-grad message"
run $CMRUN --check-grad examples/ar1.cm --data examples/ar1.json
expect_rc 0 "check-grad ar1"

# prior draws: do(a) shifts the child b by 2 * (3 - 0); do(b) leaves a alone
run $CMRUN examples/intervention.cm --infer prior --samples 4000 --seed 5 --do a=3 --output "$TMP/pa.csv"
expect_rc 0 "prior do(a)"
set -- $(column_stats "$TMP/pa.csv" a); within "$1" 3 0 && within "$2" 0 0 && ok || bad "do(a): a = $1 +- $2"
set -- $(column_stats "$TMP/pa.csv" b); within "$1" 7 "$(awk -v s="$2" 'BEGIN{print 4*s/sqrt(4000)}')" && ok || bad "do(a): mean b = $1, expected 7"
run $CMRUN examples/intervention.cm --infer prior --samples 4000 --seed 6 --do b=5 --output "$TMP/pb.csv"
expect_rc 0 "prior do(b)"
set -- $(column_stats "$TMP/pb.csv" a); within "$1" 0 "$(awk 'BEGIN{print 4/sqrt(4000)}')" && ok || bad "do(b): mean a = $1, expected 0"
within "$2" 1 "$(awk 'BEGIN{print 4*sqrt(1/8000)}')" && ok || bad "do(b): sd a = $2, expected 1"
set -- $(column_stats "$TMP/pb.csv" b); within "$1" 5 0 && ok || bad "do(b): b = $1"
# without intervention b has mean 1 and sd sqrt(5)
run $CMRUN examples/intervention.cm --infer prior --samples 4000 --seed 7 --output "$TMP/p0.csv"
set -- $(column_stats "$TMP/p0.csv" b); within "$1" 1 "$(awk 'BEGIN{print 4*sqrt(5/4000)}')" && ok || bad "prior: mean b = $1, expected 1"

# the extern function through libffi
run $CMRUN examples/extern_cbrt.cm --infer prior --samples 200 --seed 1 --output "$TMP/cb.csv"
expect_rc 0 "extern cbrt"
awk -F, '/^#/{next} !h{for(i=1;i<=NF;i++){if($i=="a")A=i; if($i=="b")B=i}; h=1; next}
    { d = $B*$B*$B - $A; if (d < 0) d = -d; if (d > 1e-6) bad = 1 } END { exit bad }' "$TMP/cb.csv" && ok || bad "cbrt(a)^3 != a"

# the prelude's functions are visible to every model
run $CMRUN examples/prelude_gp.cm --infer prior --set N=5 --set 'x=[1,2,3,4,5]' --samples 200 --seed 2
expect_rc 0 "prelude gp prior"
expect_out "f.5" "gp draws reported"
run $CMRUN --check-grad examples/prelude_gp.cm --set N=5 --set 'x=[1,2,3,4,5]'
expect_rc 0 "check-grad through the prelude and cholesky"

# Ctrl-C: complete, valid CSV files holding the draws made so far
$CMRUN examples/eight_schools.cm --data examples/eight_schools.json --seed 4 --samples 2000000 \
    --warmup 200 --chains 2 --output "$TMP/int.csv" >"$TMP/int.out" 2>"$TMP/int.err" &
pid=$!
sleep 2
kill -INT $pid
wait $pid
RC=$?
[ "$RC" -eq 130 ] && ok || bad "interrupted run: exit $RC, expected 130"
grep -q "interrupted" "$TMP/int.err" && ok || bad "interrupted run says so"
for c in 1 2; do
    f="$TMP/int_$c.csv"
    [ -f "$f" ] && [ ! -f "$f.tmp" ] && ok || bad "interrupted chain $c: no complete file"
    awk -F, '/^#/{next} !h{n=NF; h=1; next} { rows++; if (NF != n) bad = 1 } END { exit bad || rows < 1 }' "$f" \
        && ok || bad "interrupted chain $c: malformed rows"
done

# LKJ: the marginal of a correlation is 2 Beta(2.5, 2.5) - 1: mean 0, sd 0.4082
# (tolerances: 4 standard errors with an effective sample size of at least 2000)
run $CMRUN examples/lkj.cm --seed 3 --chains 2 --output "$TMP/lkj.csv" --quiet
expect_rc 0 "lkj"
cat "$TMP"/lkj_1.csv > "$TMP/lkj_all.csv"; grep -v '^#' "$TMP"/lkj_2.csv | tail -n +2 >> "$TMP/lkj_all.csv"
set -- $(column_stats "$TMP/lkj_all.csv" Omega.2.1)
within "$1" 0 "$(awk 'BEGIN{print 4*0.4082/sqrt(2000)}')" && ok || bad "LKJ correlation mean $1"
within "$2" 0.4082 "$(awk 'BEGIN{print 4*0.4082/sqrt(2*2000)}')" && ok || bad "LKJ correlation sd $2"

# static HMC and the dense metric run too
run $CMRUN examples/eight_schools.cm --data examples/eight_schools.json --infer hmc --steps 8 --chains 2 --seed 3
expect_rc 0 "hmc"
run $CMRUN examples/logistic_regression.cm --data examples/logistic_regression.json --metric dense --chains 2 --seed 3
expect_rc 0 "dense metric"

done_tests
