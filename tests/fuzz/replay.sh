#!/bin/sh
# replay.sh DIR - runs every libFuzzer target in DIR once over each file of
# its seed corpus (tests/fuzz/corpus/<target without fuzz_>/), so the corpus
# doubles as a regression suite under ASan+UBSan.
dir=$1
pass=0
fail=0
for f in "$dir"/fuzz_*; do
	[ -x "$f" ] || continue
	name=$(basename "$f" | sed 's/^fuzz_//')
	corpus=tests/fuzz/corpus/$name
	if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
		echo "fuzz-replay: no corpus for $name"
		fail=$((fail + 1))
		continue
	fi
	if "$f" -runs=0 "$corpus"/* >/tmp/mixd-fuzz-$name.log 2>&1; then
		pass=$((pass + 1))
	else
		tail -40 /tmp/mixd-fuzz-$name.log
		echo "fuzz-replay: FAILED: $name"
		fail=$((fail + 1))
	fi
done
echo "fuzz-replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
