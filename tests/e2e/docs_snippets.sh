#!/bin/sh
# The reference docs must agree with the code they describe: every ```cm
# block in docs/language.md is checked with `cmrun --check`, every
# ```cm-error block must fail with the message in the ```text block that
# follows it, the annotated `--emit-ir` listing in docs/ir.md must match what
# cmrun prints, and every example in examples/language/ must check and run.
# Shell and awk only, so the test runs wherever cmrun does; each block gets
# its own folder, so an error message shows the path as `model.cm`.
#
# A fence's info string carries the block's cmrun arguments:
#   ```cm                        cmrun --check model.cm: exit 0, silent
#   ```cm --set N=3 --data F     the same with data (the model then runs once)
#   ```cm ARGS run RUNARGS       also `cmrun model.cm ARGS RUNARGS --quiet`: exit 0
#   ```cm-error ARGS             cmrun --check model.cm ARGS: exit 2, and stderr
#                                holds the first line of the next ```text block,
#                                with the model's path shown as model.cm
#   ```cm-error ARGS run RUNARGS the same for `cmrun model.cm ARGS RUNARGS`
# Arguments are split as the shell would split them (quotes allowed).
. "$(dirname "$0")/lib.sh"

DOC=docs/language.md
[ -f "$DOC" ] || { bad "$DOC is missing"; done_tests; exit 1; }

# Split the page into $TMP/s/NNN/{model.cm,kind,args,line,expect}.
mkdir -p "$TMP/s"
awk -v dir="$TMP/s" '
    function start(kind, info) {
        n++; cur = sprintf("%s/%03d", dir, n)
        system("mkdir -p \"" cur "\"")
        printf "%s\n", kind > (cur "/kind"); close(cur "/kind")
        printf "%s\n", info > (cur "/args"); close(cur "/args")
        printf "%d\n", NR > (cur "/line"); close(cur "/line")
        body = cur "/model.cm"; printf "" > body
    }
    /^```/ && !infence {
        info = substr($0, 4)
        lang = info; sub(/[ \t].*/, "", lang)
        rest = info; if (rest ~ /[ \t]/) sub(/^[^ \t]*[ \t]+/, "", rest); else rest = ""
        infence = 1
        if (lang == "cm" || lang == "cm-error") {
            start(lang, rest); incode = 1
            if (lang == "cm-error") want_expect = cur
        } else if (lang == "text" && want_expect != "") {
            intext = 1
        }
        next
    }
    /^```/ && infence {
        if (incode) close(body)
        infence = incode = 0
        if (intext) { intext = 0; want_expect = "" }
        next
    }
    incode { print > body; next }
    intext && !got[want_expect]++ { print > (want_expect "/expect"); close(want_expect "/expect") }
' "$DOC"

CM_ABS=$CMRUN
case $CM_ABS in /*) ;; *) CM_ABS=$PWD/$CMRUN ;; esac

# split_args "ARGS" -> CHECK_ARGS (before `run`), RUN_ARGS (after), RUNS (0/1)
split_args() {
    CHECK_ARGS=""
    RUN_ARGS=""
    RUNS=0
    eval "set -- $1"
    for a in "$@"; do
        q=$(printf "'%s'" "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")")
        if [ "$a" = run ] && [ $RUNS -eq 0 ]; then RUNS=1
        elif [ $RUNS -eq 0 ]; then CHECK_ARGS="$CHECK_ARGS $q"
        else RUN_ARGS="$RUN_ARGS $q"; fi
    done
}

# A snippet may call a library built from examples/ffi: `from "./libNAME.so"`
# is compiled from examples/ffi/NAME.c beside the snippet, where cmrun looks.
build_libs() {
    for lib in $(sed -n 's/.*from "\.\/\(lib[A-Za-z0-9_]*\)\.so".*/\1/p' "$1/model.cm"); do
        src=examples/ffi/${lib#lib}.c
        [ -f "$src" ] || continue
        ${CC:-cc} -O2 -fPIC -shared -o "$1/$lib.so" "$src" -lm 2>"$TMP/cc.err" ||
            { bad "cannot build $src for $1: $(head -n 1 "$TMP/cc.err")"; }
    done
}

nsnip=0
for d in "$TMP"/s/*/; do
    d=${d%/}
    [ -f "$d/model.cm" ] || continue
    nsnip=$((nsnip + 1))
    build_libs "$d"
    kind=$(cat "$d/kind")
    at="$DOC:$(cat "$d/line")"
    split_args "$(cat "$d/args")"
    if [ "$kind" = cm ]; then
        eval "run \"\$CM_ABS\" --check \"\$d/model.cm\" $CHECK_ARGS"
        if [ "$RC" -eq 0 ] && [ ! -s "$TMP/out" ] && [ ! -s "$TMP/err" ]; then ok
        else bad "$at: cmrun --check exits $RC"; sed "s|$d/||" "$TMP/err" | head -n 5; fi
        if [ $RUNS -eq 1 ]; then
            eval "run \"\$CM_ABS\" \"\$d/model.cm\" $CHECK_ARGS $RUN_ARGS --quiet"
            if [ "$RC" -eq 0 ] && [ -s "$TMP/out" ]; then ok
            else bad "$at: running it exits $RC"; sed "s|$d/||" "$TMP/err" | head -n 5; fi
        fi
    else
        if [ $RUNS -eq 1 ]; then
            eval "run \"\$CM_ABS\" \"\$d/model.cm\" $CHECK_ARGS $RUN_ARGS"
        else
            eval "run \"\$CM_ABS\" --check \"\$d/model.cm\" $CHECK_ARGS"
        fi
        sed "s|$d/||g" "$TMP/err" >"$TMP/err.shown"
        if [ ! -s "$d/expect" ]; then
            bad "$at: cm-error block without a following text block"
        elif [ "$RC" -ne 2 ]; then
            bad "$at: expected exit 2, got $RC"; head -n 3 "$TMP/err.shown"
        elif grep -qxF -- "$(cat "$d/expect")" "$TMP/err.shown"; then ok
        else
            bad "$at: the message differs"
            echo "  documented: $(cat "$d/expect")"
            echo "  printed:    $(head -n 1 "$TMP/err.shown")"
        fi
        grep -q 'Sanitizer\|runtime error' "$TMP/err" && bad "$at: sanitizer report"
    fi
done
[ "$nsnip" -ge 20 ] && ok || bad "only $nsnip snippets found in $DOC"

# docs/ir.md: a ```text block after `<!-- emit-ir: FILE -->` must match
# `cmrun --emit-ir FILE`: its lines appear in the output, in order (`...`
# stands for lines left out).
IRDOC=docs/ir.md
if [ -f "$IRDOC" ]; then
    nlist=0
    for f in $(sed -n 's/^<!-- emit-ir: \(.*\) -->$/\1/p' "$IRDOC"); do
        nlist=$((nlist + 1))
        awk -v f="$f" '
            $0 == "<!-- emit-ir: " f " -->" { want = 1; next }
            want && /^```/ { if (inb) exit; inb = 1; next }
            inb && $0 != "..." { print }
        ' "$IRDOC" >"$TMP/ir.want"
        run $CMRUN --emit-ir "$f"
        if [ "$RC" -ne 0 ]; then bad "$IRDOC: cmrun --emit-ir $f exits $RC"; continue; fi
        missing=$(awk 'BEGIN { n = 0; k = 0 }
                       NR == FNR { want[n++] = $0; next }
                       k < n && $0 == want[k] { k++ }
                       END { if (k < n) print "[" want[k] "]" }' "$TMP/ir.want" "$TMP/out")
        if [ -z "$missing" ] && [ -s "$TMP/ir.want" ]; then ok
        else bad "$IRDOC: the listing of $f differs from --emit-ir at: $missing"; fi
    done
    [ "$nlist" -ge 1 ] && ok || bad "$IRDOC has no emit-ir listing"
fi

# examples/language: each checks (with its data) and runs with its `# run:` line.
for m in examples/language/*.cm; do
    [ -f "$m" ] || continue
    data=""
    [ -f "${m%.cm}.json" ] && data="--data ${m%.cm}.json"
    run $CMRUN --check "$m" $data
    [ "$RC" -eq 0 ] && [ ! -s "$TMP/err" ] && ok || { bad "check $m: exit $RC"; head -n 5 "$TMP/err"; }
    args=$(sed -n 's/^# run: //p' "$m" | head -n 1)
    if [ -n "$args" ]; then
        eval "run \$CMRUN \"\$m\" $data $args --quiet"
        [ "$RC" -eq 0 ] && ok || { bad "run $m: exit $RC"; head -n 5 "$TMP/err"; }
        grep -q 'error' "$TMP/err" && bad "run $m printed an error: $(head -n 1 "$TMP/err")"
    fi
done

done_tests
