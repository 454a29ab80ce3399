#!/bin/sh
# --check-grad on every model under examples/ (issue: gradients match finite
# differences everywhere).  A model's data is the file its header comment
# passes with --data, else NAME.json beside it, the
# posteriordb data for examples/posteriordb, or the --set values below;
# models with a latent discrete site are skipped (they have no gradient).
. "$(dirname "$0")/lib.sh"
PDB=""
for d in "$CM_POSTERIORDB" ../shared/posteriordb /work/shared/posteriordb; do
    [ -n "$d" ] && [ -d "$d" ] && PDB="$d" && break
done
skipped=0
for m in $(find examples -name '*.cm' | sort); do
    case "$m" in
        *_guide.cm) continue ;;   # a guide file (--guide-file), not a model
    esac
    base=${m%.cm}
    set --
    hinted=$(grep -m 1 -o -- '--data [^ ]*' "$m" | cut -d' ' -f2)
    if [ -n "$hinted" ] && [ -f "$hinted" ]; then
        set -- --data "$hinted"  # the data the model's header comment names
    elif [ -f "$base.json" ]; then
        set -- --data "$base.json"
    elif [ "${m#examples/posteriordb/}" != "$m" ]; then
        name=$(basename "$base")
        [ -n "$PDB" ] || { skipped=$((skipped + 1)); continue; }
        set -- --data "$PDB/$name/data.json"
    fi
    case "$m" in
        examples/prelude_gp.cm) set -- --set N=5 --set 'x=[1,2,3,4,5]' ;;
    esac
    run $CMRUN --check-grad "$m" "$@"
    if [ "$RC" -ne 0 ] && grep -q "latent discrete site\|no latent continuous\|needs --data\|missing data" "$TMP/err" "$TMP/out"; then
        skipped=$((skipped + 1))
        echo "skip $m: $(head -n 1 "$TMP/err" | cut -c1-100)"
        continue
    fi
    expect_rc 0 "check-grad $m"
done
echo "skipped: $skipped models without a gradient or without data"

# --init sets where the points are drawn: R = 0 is the origin alone, and a
# model undefined there says so
run $CMRUN --check-grad examples/eight_schools.cm --data examples/eight_schools.json --init 0
expect_rc 0 "check-grad --init 0"
expect_out "at 1 point (the origin)" "check-grad --init 0 checks the origin"
printf 'x ~ Normal(0, 1)\nfactor(log(x))\n' >"$TMP/origin.cm"
run $CMRUN --check-grad "$TMP/origin.cm" --init 0
expect_rc 1 "check-grad at an origin where log p is not finite"
expect_err "not finite at the origin (--init 0)" "check-grad names the origin"
done_tests
