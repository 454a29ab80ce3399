#!/bin/sh
# The native tier (runtime/native.h, `--jit auto|on|off`):
#  - the same bits: for models that between them use every kind of op the
#    native code handles itself (arithmetic, unary functions, gathers,
#    reductions, bijectors, the location-scale kernels, the affine op) and
#    the ones it hands back to the interpreter (GLM, truncation, the LKJ
#    Cholesky bijector, multivariate densities), the draws of --jit on equal
#    those of --jit off row for row, NUTS and HMC;
#  - the cache: objects named by their source's hash in $CM_CACHE_DIR, no
#    temporary files left, a cached object loaded with no compiler at all,
#    a damaged one rebuilt; --jit off writes nothing there;
#  - auto: a long run compiles in the background and leaves the object for
#    the next run, without changing the draws;
#  - errors: the flag's values and engines, a compiler that cannot run, a
#    cache that cannot be made, models that cannot be compiled.
. "$(dirname "$0")/lib.sh"

export CM_CACHE_DIR="$TMP/cache"
FAST="--seed 7 --chains 2 --warmup 150 --samples 100 --quiet"

# same_draws A B: chains A_k.csv and B_k.csv hold the same rows
same_draws() {
    for f in "$TMP/$1"_*.csv; do
        k=${f##*_}
        grep -v '^#' "$f" >"$TMP/rows_a"
        grep -v '^#' "$TMP/$2_$k" >"$TMP/rows_b" 2>/dev/null || return 1
        cmp -s "$TMP/rows_a" "$TMP/rows_b" || return 1
    done
}

# check MODEL [ARGS...]: --jit on gives --jit off's draws
check() {
    m=$1
    shift
    rm -f "$TMP"/off_*.csv "$TMP"/on_*.csv
    run $CMRUN "$m" "$@" $FAST --jit off --output "$TMP/off.csv"
    expect_rc 0 "$m --jit off"
    run $CMRUN "$m" "$@" $FAST --jit on --output "$TMP/on.csv"
    expect_rc 0 "$m --jit on"
    same_draws off on && ok || bad "$m $*: --jit on draws differ from --jit off"
}

check examples/eight_schools.cm --data examples/eight_schools.json
check examples/eight_schools.cm --data examples/eight_schools.json --infer hmc --steps 7
check examples/ar1.cm --data examples/ar1.json
check examples/logistic_regression.cm --data examples/logistic_regression.json
check examples/lkj.cm
check examples/language/basics.cm --data examples/language/basics.json
check examples/language/hierarchical.cm --data examples/language/hierarchical.json
check examples/language/loops.cm --data examples/language/loops.json
check examples/language/slices.cm --data examples/language/slices.json
check examples/language/truncation.cm --data examples/language/truncation.json
check examples/language/derived_likelihood.cm --data examples/language/derived_likelihood.json
check examples/language/mixture.cm --data examples/language/mixture.json
check examples/svi/beta_bernoulli.cm --data examples/svi/beta_bernoulli.json
check examples/skew_normal.cm --data examples/skew_normal.json
check examples/native/garch11.cm --data examples/native/garch11.json

# the cache: one object per model layout, nothing else left behind
n_so=$(ls "$CM_CACHE_DIR" | grep -c '^cm-[0-9a-f]*\.so$')
n_other=$(ls "$CM_CACHE_DIR" | grep -vc '^cm-[0-9a-f]*\.so$')
[ "$n_so" -ge 12 ] && ok || bad "$n_so objects in the cache, expected one per model (>= 12)"
[ "$n_other" -eq 0 ] && ok || { bad "files other than objects left in the cache"; ls "$CM_CACHE_DIR"; }

# cached: loaded with no compiler; damaged: rebuilt, same draws
ES="examples/eight_schools.cm --data examples/eight_schools.json"
run $CMRUN $ES $FAST --jit off --output "$TMP/off.csv"
run env CM_CC=/nonexistent/cc $CMRUN $ES $FAST --jit on --output "$TMP/on.csv"
expect_rc 0 "a cached object needs no compiler"
same_draws off on && ok || bad "draws from the cached object differ"
for f in "$CM_CACHE_DIR"/cm-*.so; do echo "not an object" >"$f"; done
run $CMRUN $ES $FAST --jit on --output "$TMP/on.csv"
expect_rc 0 "a damaged object is rebuilt"
same_draws off on && ok || bad "draws after the rebuild differ"

# auto: a full-length run compiles in the background; the object then
# appears in the cache (the compiler may outlive the run: wait for it)
export CM_CACHE_DIR="$TMP/cache_auto"
run $CMRUN $ES --seed 3 --quiet --jit off --output "$TMP/off.csv"
run $CMRUN $ES --seed 3 --quiet --output "$TMP/auto.csv"
expect_rc 0 "--jit auto (the default)"
same_draws off auto && ok || bad "--jit auto draws differ from --jit off"
i=0
while [ $i -lt 120 ] && ! ls "$CM_CACHE_DIR"/cm-*.so >/dev/null 2>&1; do sleep 0.5; i=$((i + 1)); done
ls "$CM_CACHE_DIR"/cm-*.so >/dev/null 2>&1 && ok || bad "--jit auto left no object after a 4 x 2000-iteration run"
export CM_CACHE_DIR="$TMP/cache_off"
run $CMRUN $ES --seed 3 --quiet --jit off --output "$TMP/off.csv"
[ -z "$(ls -A "$CM_CACHE_DIR" 2>/dev/null)" ] && ok || bad "--jit off wrote to the cache"
# a short run (a few hundred gradients) is not worth compiling
run $CMRUN $ES --seed 3 --quiet --warmup 20 --samples 20 --chains 1 --output "$TMP/short.csv"
sleep 1
[ -z "$(ls -A "$CM_CACHE_DIR" 2>/dev/null)" ] && ok || bad "--jit auto compiled for a 40-iteration run"

# a model recorded again during a run - SVI's minibatches (re-run at
# every step), then full batches - gets no code made from one recording and
# filed under another's name: a NUTS run afterwards, with that cache, gives
# --jit off's draws
export CM_CACHE_DIR="$TMP/cache_svi"
cp tests/e2e/fixtures/minibatch_line.cm "$TMP/mb.cm"
MB="--data tests/e2e/fixtures/minibatch_line.json"
run $CMRUN "$TMP/mb.cm" $MB --infer svi --steps 4000 --seed 1 --quiet
expect_rc 0 "SVI with minibatches"
i=0
while [ $i -lt 20 ] && ls "$CM_CACHE_DIR"/*.c >/dev/null 2>&1; do sleep 0.5; i=$((i + 1)); done
run $CMRUN "$TMP/mb.cm" $MB $FAST --jit off --output "$TMP/off.csv"
run $CMRUN "$TMP/mb.cm" $MB $FAST --output "$TMP/auto.csv"
expect_rc 0 "NUTS after SVI, same cache"
same_draws off auto && ok || bad "NUTS after SVI with minibatches: draws differ from --jit off"

# errors
export CM_CACHE_DIR="$TMP/cache_err"
run $CMRUN $ES --jit maybe
expect_rc 2 "--jit maybe"
expect_err "--jit must be auto, on or off; got 'maybe'" "the values are named"
run $CMRUN $ES --jit on --infer is
expect_rc 2 "--jit with importance sampling"
expect_err "--jit applies to --infer nuts and hmc only" "the engines are named"
run env CM_CC=/nonexistent/cc $CMRUN $ES $FAST --jit on --output "$TMP/nocc.csv"
[ "$RC" -ne 0 ] && ok || bad "--jit on without a compiler exited 0"
expect_err "--jit on: cannot compile the model's native code: /nonexistent/cc failed" "the compiler is named"
ls "$TMP"/nocc*.csv >/dev/null 2>&1 && bad "--jit on without a compiler wrote output" || ok
run env CM_CACHE_DIR=/proc/cm-cache $CMRUN $ES $FAST --jit on --output "$TMP/nodir.csv"
[ "$RC" -ne 0 ] && ok || bad "--jit on with no cache directory exited 0"
expect_err "cannot create the cache directory /proc/cm-cache" "the directory is named"
run env CM_CACHE_DIR=/proc/cm-cache $CMRUN $ES $FAST --output "$TMP/nodir.csv"
expect_rc 0 "--jit auto with no cache directory runs interpreted"

cat >"$TMP/branch.cm" <<'EOF'
x ~ Normal(0, 1)
m = 0.0
if x > 0 {
  m = 1.0
}
y ~ Normal(m, 1)
EOF
run $CMRUN "$TMP/branch.cm" $FAST --jit on --output "$TMP/branch.csv"
[ "$RC" -ne 0 ] && ok || bad "--jit on with parameter-dependent control flow exited 0"
expect_err "control flow depends on a parameter" "why it cannot be compiled"
run $CMRUN "$TMP/branch.cm" $FAST --output "$TMP/branch.csv"
expect_rc 0 "the same model under --jit auto"

# a loop of 3,000 rounds folds into one C loop: compiled, same draws
{ echo "x ~ Normal(0, 1)"; echo "for i in 1..3000 {"; echo "  factor(-0.5 * x * x / 3000)"; echo "}"; } >"$TMP/long.cm"
check "$TMP/long.cm"
# 2,000 rounds that read x at random places do not fold: 6,000 pieces
awk 'BEGIN { printf "{\"N\": 2000, \"K\": 97, \"idx\": ["; x = 1
             for (i = 1; i <= 2000; i++) { x = (x * 16807) % 2147483647; printf "%s%d", (i > 1 ? ", " : ""), x % 97 + 1 }
             print "]}" }' >"$TMP/scatter.json"
cat >"$TMP/scatter.cm" <<'EOF'
data N: int
data K: int
data idx: int[N]
x: real[K] ~ Normal(0, 1)
for i in 1..N {
  factor(-0.01 * square(x[idx[i]]))
}
EOF
run $CMRUN "$TMP/scatter.cm" --data "$TMP/scatter.json" $FAST --jit on --output "$TMP/scatter.csv"
[ "$RC" -ne 0 ] && ok || bad "--jit on with a tape over the limit exited 0"
expect_err "pieces that do not repeat as a loop (native code is made for up to 5000" "the limit is named"
ls "$TMP"/scatter*.csv >/dev/null 2>&1 && bad "--jit on over the limit wrote output" || ok
run $CMRUN "$TMP/scatter.cm" --data "$TMP/scatter.json" $FAST --output "$TMP/scatter.csv"
expect_rc 0 "the same model under --jit auto"

done_tests
