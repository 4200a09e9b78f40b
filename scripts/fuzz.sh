#!/usr/bin/env bash
# Runs fuzz targets, each for FUZZTIME: scripts/fuzz.sh 20s Target:./pkg ...
#
# A target fails on any real finding: a failing input is written under
# testdata/fuzz/<Target> (and stays there as a regression test), or the run
# fails any other way. One failure is not a finding: Go 1.26's fuzz
# coordinator can report a bare "context deadline exceeded" when -fuzztime
# ends while a worker is mid-call on a loaded machine, writing no input
# (golang/go#75804, fixed in Go 1.27). For that one, the target's corpus is
# replayed (go test -run, deterministic) and must pass.
set -uo pipefail
fuzztime=$1
shift
for t in "$@"; do
	name=${t%%:*}
	pkg=${t#*:}
	echo "fuzz $name ($fuzztime)"
	out=$(mktemp)
	go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$out"
	status=${PIPESTATUS[0]}
	if [ "$status" -ne 0 ]; then
		if grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out" && ! grep -q 'panic:' "$out"; then
			echo "fuzz $name: the coordinator's end-of-time race (golang/go#75804), no input written; replaying the corpus"
			go test -count=1 -run "^$name\$" "$pkg" || { rm -f "$out"; exit 1; }
		else
			rm -f "$out"
			exit 1
		fi
	fi
	rm -f "$out"
done
