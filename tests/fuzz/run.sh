#!/bin/sh
# run.sh - build the front-end fuzz target with clang (libFuzzer, ASan, UBSan)
# into build/fuzz/ and run it on one core for $FUZZ_SECONDS (default 600).
#
# The parser and lexer are generated here with bison/re2c into build/fuzz/gen,
# so this works without the top-level build.  New inputs libFuzzer finds go to
# build/fuzz/corpus (not committed); tests/fuzz/corpus holds the seeds and is
# only read.  Crashing inputs land in tests/fuzz/crashes/: turn each into a
# regression test (tests/errors/ or tests/unit/test_parse.c), then delete it.
#
# Hooks: FUZZ_EXTRA_SRCS (more .c files, e.g. one defining the weak
# cm_fuzz_after_parse to run the checker), FUZZ_LIBS (libraries they need),
# FUZZ_FLAGS (extra libFuzzer flags).
set -eu
cd "$(dirname "$0")/../.."
OUT=build/fuzz
SECONDS_TO_RUN=${FUZZ_SECONDS:-600}
mkdir -p "$OUT/gen" "$OUT/corpus" tests/fuzz/crashes

bison -Wall -Werror -o "$OUT/gen/parser.c" --header="$OUT/gen/parser.h" grammar/parser.y
re2c -W -Werror --utf8 -o "$OUT/gen/lexer.c" grammar/lexer.re

CC=${FUZZ_CC:-clang}
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Icompiler -Iruntime -Istdlib -Icli -Igrammar -I$OUT/gen"
# shellcheck disable=SC2086
$CC $CFLAGS -o "$OUT/fuzz_frontend" tests/fuzz/fuzz_frontend.c \
  "$OUT/gen/parser.c" "$OUT/gen/lexer.c" compiler/ast.c compiler/diag.c \
  ${FUZZ_EXTRA_SRCS:-} ${FUZZ_LIBS:-} -lm

# -jobs=1 runs one worker process whose output goes to build/fuzz/fuzz-0.log.
cd "$OUT"
status=0
# shellcheck disable=SC2086
./fuzz_frontend -jobs=1 -workers=1 -max_total_time="$SECONDS_TO_RUN" -timeout=10 \
  -max_len=4096 -dict=../../tests/fuzz/cm.dict \
  -artifact_prefix=../../tests/fuzz/crashes/ ${FUZZ_FLAGS:-} \
  corpus ../../tests/fuzz/corpus || status=$?
tail -n 25 fuzz-0.log 2>/dev/null || true
if ls ../../tests/fuzz/crashes/* >/dev/null 2>&1; then
  echo "fuzz: crashing inputs in tests/fuzz/crashes/" >&2
  status=1
fi
exit $status
