#!/bin/sh
# Every error a user can cause on the command line: a clear message naming
# the flag or file, exit status 2, and no output file left behind.
. "$(dirname "$0")/lib.sh"

run $CMRUN examples/scm.cm --bogus
expect_rc 2 "unknown flag"; expect_err "unknown option '--bogus'" "unknown flag message"
run $CMRUN examples/scm.cm --chains 0
expect_rc 2 "--chains 0"; expect_err "--chains needs an integer" "--chains message"
run $CMRUN examples/scm.cm --adapt-delta 1.5
expect_rc 2 "--adapt-delta"; expect_err "--adapt-delta" "adapt-delta message"
run $CMRUN examples/scm.cm --infer magic
expect_rc 2 "--infer"; expect_err "--infer must be one of" "infer message"
run $CMRUN examples/scm.cm --metric full
expect_rc 2 "--metric"
run $CMRUN examples/scm.cm --samples
expect_rc 2 "missing value"; expect_err "--samples needs a value" "missing value message"
run $CMRUN no_such_model.cm
expect_rc 2 "missing model"; expect_err "cannot read 'no_such_model.cm'" "missing model message"
run $CMRUN
expect_rc 2 "no model"
run $CMRUN --check examples/scm.cm --emit-ir
expect_rc 2 "two actions"
run $CMRUN examples/eight_schools.cm --infer prior --output "$TMP/x.csv"
expect_rc 2 "missing data"; expect_err "missing data: 'J'" "missing data message"
[ ! -e "$TMP/x.csv" ] && [ ! -e "$TMP/x.csv.tmp" ] && ok || bad "output written after an error"
run $CMRUN examples/eight_schools.cm --data no_such.json
expect_rc 2 "missing data file"; expect_err "no_such.json" "data file named"
printf '{"J": 8, "y": [1, 2], "sigma": [1, 1, 1, 1, 1, 1, 1, 1]}' > "$TMP/bad.json"
run $CMRUN examples/eight_schools.cm --data "$TMP/bad.json"
expect_rc 2 "bad shape"; expect_err "'y' is declared real[8] but its value is" "shape message"
printf '{"J": 8.5, "y": [1, 2], "sigma": [1]}' > "$TMP/bad2.json"
run $CMRUN examples/eight_schools.cm --data "$TMP/bad2.json"
expect_rc 2 "real for int"; expect_err "data 'J'" "type message"
printf '{"J": 8, "y": [1, 2, 3, ' > "$TMP/bad3.json"
run $CMRUN examples/eight_schools.cm --data "$TMP/bad3.json"
expect_rc 2 "truncated json"; expect_err "bad3.json" "json file named"
run $CMRUN examples/scm.cm --infer prior --do w=1
expect_rc 2 "--do unknown site"; expect_err "no site named 'w'" "do message"
run $CMRUN examples/scm.cm --infer prior --do x=2
expect_rc 2 "--do outside support"; expect_err "outside the support of Bernoulli" "support message"
run $CMRUN examples/scm.cm --infer prior --do x
expect_rc 2 "--do without value"
run $CMRUN examples/scm.cm --infer prior --given q=1
expect_rc 2 "--given unknown site"
run $CMRUN examples/scm.cm --query nope --infer prior
expect_rc 2 "--query unknown"; expect_err "--query nope" "query message"
run $CMRUN examples/scm.cm
expect_rc 2 "nuts on a discrete latent site"; expect_err "latent discrete site" "discrete message"
run $CMRUN examples/scm.cm --infer prior --output /no/such/dir/x.csv
expect_rc 2 "unwritable output"; expect_err "/no/such/dir/x.csv" "output named"
run $CMRUN --summary "$TMP/none.csv"
expect_rc 2 "--summary missing file"

done_tests
