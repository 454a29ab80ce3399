#!/bin/sh
# bench/run.sh - `make bench`: cm on the six benchmark models, against Stan
# and against hand-written C gradients.
#
# The models are bench/*.cm; the data are the Stan anchor's files, read where
# they lie (shared/bench/data: found through $CM_SHARED, ../shared beside the
# repository, or /work/shared).  Nothing here is needed to *build* cm.
#
# Environment (all optional):
#   BENCH_SEEDS="101 202 303"  seeds (default: 101 alone, to keep it short)
#   BENCH_MODELS=a,b           only these models (names of bench/*.cm)
#   BENCH_ESCALATE=0           do not rerun at adapt_delta 0.95 / 0.99 after
#                              divergences (the anchor's protocol does)
#   BENCH_HAND=0               skip the hand-written gradient comparison
#   BENCH_CALLGRIND=1          add callgrind instruction counts to it (slow:
#                              about two minutes)
#   BENCH_STAN=1               also run the Stan anchor (bash
#                              shared/bench/stan/run_all.sh; INSTALL=1 lets it
#                              apt-get rstan) and print cm / Stan ratios
#   BENCH_STAN_JSON=FILE       ratios against a Stan run made before
#   BENCH_REUSE=1              do not rerun cm's models: reprint the tables of
#                              the last run in BENCH_OUT (with Stan ratios
#                              when a Stan run is given)
#   BENCH_OUT=DIR              where draws and results go (build/bench)
#   CMRUN=PATH                 the cmrun to time (./cmrun)
#   OPENBLAS_NUM_THREADS       1 unless set: each chain already has its own
#                              thread, and OpenBLAS's own threads would
#                              compete with them (and hide their CPU time
#                              from the per-thread clocks cm reports)
#
# Figures, how each is measured, and the last results: docs/performance.md.
set -eu

cd "$(dirname "$0")/.."
root=$(pwd)

cmrun=${CMRUN:-./cmrun}
if [ ! -x "$cmrun" ]; then
  echo "bench: $cmrun not found; build it first (make cmrun)" >&2
  exit 2
fi

shared=
if [ -n "${CM_SHARED:-}" ] && [ ! -f "$CM_SHARED/bench/data/eight_schools.json" ]; then
  echo "bench: CM_SHARED=$CM_SHARED has no bench/data/eight_schools.json" >&2
  exit 2
fi
for d in "${CM_SHARED:-}" "$root/../shared" /work/shared; do
  if [ -n "$d" ] && [ -f "$d/bench/data/eight_schools.json" ]; then
    shared=$(cd "$d" && pwd)
    break
  fi
done
if [ -z "$shared" ]; then
  echo "bench: the benchmark data (shared/bench/data) were not found; set CM_SHARED" >&2
  echo "       to the folder that holds bench/data/eight_schools.json" >&2
  exit 2
fi
data="$shared/bench/data"
# Compare only on the anchor's exact bytes, as its own script insists.
if command -v md5sum >/dev/null 2>&1; then
  if ! (cd "$data" && md5sum -c --quiet MD5SUMS); then
    echo "bench: $data differs from its MD5SUMS; refusing to benchmark on other data" >&2
    exit 2
  fi
fi

out=${BENCH_OUT:-build/bench}
mkdir -p "$out"
out=$(cd "$out" && pwd)
# the models' native code (runtime/native.h), compiled once before timing
CM_CACHE_DIR=${CM_CACHE_DIR:-$out/native-cache}
export CM_CACHE_DIR
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"

seeds=${BENCH_SEEDS:-101}
models=${BENCH_MODELS:-}

# ---------------------------------------------------------------- Stan
stan_json=${BENCH_STAN_JSON:-}
if [ "${BENCH_STAN:-0}" = 1 ]; then
  stan_seeds=$(printf '%s' "$seeds" | tr -s ' \t,' ',' | sed 's/^,//; s/,$//')
  stan_models=
  if [ -n "$models" ]; then
    for m in $(echo "$models" | tr ',' ' '); do
      stan_models="$stan_models,$m"
      case $m in
        logistic_regression) stan_models="$stan_models,logistic_regression_glm" ;;
        mvn100_corr) stan_models="$stan_models,mvn100_corr_plain" ;;
      esac
    done
    stan_models="--models=${stan_models#,}"
  fi
  echo "bench: running the Stan anchor first (compiles each program, ~25 min for 3 seeds)"
  rm -f "$out/stan.json"
  if bash "$shared/bench/stan/run_all.sh" --seeds="$stan_seeds" --out="$out/stan" \
       ${stan_models:+"$stan_models"}; then
    stan_json="$out/stan.json"
  elif [ -f "$out/stan.json" ]; then
    # run_bench.R writes stan.json before its Markdown report; a failure
    # after that point leaves every figure in place
    echo "bench: the Stan run ended with an error after writing $out/stan.json" >&2
    echo "       (see $out/stan.log); using its figures" >&2
    stan_json="$out/stan.json"
  else
    echo "bench: the Stan run failed (see $out/stan.log); cm figures only" >&2
  fi
fi

# ---------------------------------------------------------------- hand-written
gradbench=
if [ "${BENCH_HAND:-1}" = 1 ]; then
  if ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g \
       -o "$out/gradbench" bench/handwritten/gradbench.c -lopenblas -lm; then
    gradbench="$out/gradbench"
  else
    echo "bench: bench/handwritten/gradbench.c did not build; skipping that comparison" >&2
  fi
fi
# cm's gradient alone (no sampler around it), from the library cmrun was
# built from: bench/handwritten/cmgrad.c against $BENCH_LIBCM (build/libcm.a)
cmgrad=
libcm=${BENCH_LIBCM:-build/libcm.a}
if [ -n "$gradbench" ] && [ -f "$libcm" ]; then
  if ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -pthread -Icompiler -Iruntime \
       -Istdlib -I"$(dirname "$libcm")/gen" -o "$out/cmgrad" bench/handwritten/cmgrad.c "$libcm" \
       -lgsl -lopenblas -lffi -ldl -lm -lpthread; then
    cmgrad="$out/cmgrad"
  else
    echo "bench: bench/handwritten/cmgrad.c did not build; skipping cm's gradient alone" >&2
  fi
fi
callgrind=0
if [ "${BENCH_CALLGRIND:-0}" = 1 ]; then
  if command -v valgrind >/dev/null 2>&1; then
    callgrind=1
  else
    echo "bench: valgrind is not installed; no instruction counts" >&2
  fi
fi

# ---------------------------------------------------------------- SVI steps
# SVI time per step on the logistic model, full batch against a subsampled
# plate (bench/logistic_svi_subsample.cm: 500 of the 5000 rows per step).
svi_step_us() { # MODEL: the "us per step" of a 2000-step fit, or "failed"
  "$cmrun" "$1" --data "$data/logistic_regression.json" --infer svi --steps 2000 \
    --tol 0 --samples 10 --seed 101 2>/dev/null |
    sed -n 's/.*(\([0-9.e+]*\) us per step;.*/\1/p' | grep . || echo failed
}
# The time until the fit's smoothed ELBO is within 1% of its final value:
# the start at the mode (BFGS, as printed) plus the steps until then at the
# measured time per step.  Prints "S s (step K of 2000)" or "failed".
svi_time_to_1pct() {
  "$cmrun" "$1" --data "$data/logistic_regression.json" --infer svi --steps 2000 --tol 0 \
    --samples 10 --seed 101 --elbo-out "$out/svi_elbo.csv" >"$out/svi_fit.out" 2>/dev/null ||
    { echo failed; return; }
  start=$(sed -n 's/.*found in \([0-9.e+-]*\) s.*/\1/p' "$out/svi_fit.out")
  us=$(sed -n 's/.*(\([0-9.e+]*\) us per step;.*/\1/p' "$out/svi_fit.out")
  awk -F, -v start="${start:-0}" -v us="${us:-0}" 'NR > 1 { s[NR - 1] = $3; n = NR - 1 }
    END { f = s[n]; for (k = 1; k <= n; k++) { d = s[k] - f; if (d < 0) d = -d
            if (d <= 0.01 * (f < 0 ? -f : f)) { printf "%.3g s (step %d of %d)\n", start + k * us * 1e-6, k, n; exit } }
          print "failed" }' "$out/svi_elbo.csv"
}
case ",$models," in
  ,,|*,logistic_regression,*)
    if [ "${BENCH_REUSE:-0}" != 1 ]; then
      echo "SVI on logistic_regression (guide normal, 2000 steps): time per step"
      echo "  full batch (examples/svi/logistic_regression.cm):        $(svi_step_us examples/svi/logistic_regression.cm) us"
      echo "  subsample 500 (bench/logistic_svi_subsample.cm):         $(svi_step_us bench/logistic_svi_subsample.cm) us"
      echo "  time to the smoothed ELBO within 1% of its final value:  $(svi_time_to_1pct examples/svi/logistic_regression.cm)"
      echo
    fi ;;
esac

reuse=
if [ "${BENCH_REUSE:-0}" = 1 ]; then reuse=--reuse; fi
exec python3 bench/bench.py $reuse --cmrun "$cmrun" --models bench --data "$data" --out "$out" \
  --seeds "$seeds" --only "$models" --escalate "${BENCH_ESCALATE:-1}" \
  --stan-json "$stan_json" --gradbench "$gradbench" --cmgrad "$cmgrad" --callgrind "$callgrind"
