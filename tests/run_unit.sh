#!/bin/sh
# run_unit.sh LABEL BIN... - runs each cmocka test binary, prints one summary
# line in the plain "N passed, N failed" form and fails if any binary failed.
label=$1
shift
pass=0
fail=0
for t in "$@"; do
	if "$t"; then
		pass=$((pass + 1))
	else
		echo "$label: FAILED: $t"
		fail=$((fail + 1))
	fi
done
echo "$label: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
