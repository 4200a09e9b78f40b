#!/usr/bin/env bash
# Runs fuzz targets, each for FUZZTIME: scripts/fuzz.sh 20s Target:./pkg ...
#
# A target fails on any real finding: a failing input is written under
# testdata/fuzz/<Target> (and stays there as a regression test), or the run
# fails any other way. One failure is not a finding: Go 1.26's fuzz
# coordinator can report a bare "context deadline exceeded" when -fuzztime
# ends while a worker is mid-call on a loaded machine (golang/go#75804, fixed
# in Go 1.27). That race looks like this and like nothing else:
#
#   --- FAIL: FuzzX (20.04s)
#       context deadline exceeded
#   FAIL
#
# the coordinator's error as the target's only failure, with no input written
# and no sign of one being found (no "fuzz: minimizing", no "Failing input
# written", no panic or hang). For that one alone, the target's corpus is
# replayed (go test -run, deterministic) and must pass. The same race can
# strike while a found input is being minimized (a slow one takes long):
# Go then still writes the input under testdata/fuzz/<Target>/ but prints
# only the bare line. So the corpus directory is compared before and after
# the run, and any input written fails the target, whatever was printed.
set -uo pipefail

# classify prints "race" if the failed run of target $1, whose output is in
# file $2 and which wrote $3 new inputs, is the coordinator's race alone;
# "finding" otherwise.
classify() {
	local name=$1 out=$2 written=$3
	if [ "$written" -ne 0 ] ||
		grep -qE 'Failing input written|fuzz: minimizing|failure while testing seed corpus|hung or terminated|panic:|test timed out' "$out"; then
		echo finding
		return
	fi
	# Exactly one failure, the target's own, whose whole message is the
	# coordinator's bare error.
	awk -v want="--- FAIL: $name (" '
		index($0, "--- FAIL: ") == 1 || index($0, "    --- FAIL: ") == 1 { fails++ }
		at == 1 { msg = $0; at = 2; next }
		at == 2 { after = $0; at = 3 }
		index($0, want) == 1 { at = 1 }
		END { exit !(fails == 1 && msg == "    context deadline exceeded" && after == "FAIL") }
	' "$out" && echo race || echo finding
}

# inputs lists the files of a target's corpus directory.
inputs() {
	find "$1" -type f 2>/dev/null | sort
}

fuzztime=$1
shift
for t in "$@"; do
	name=${t%%:*}
	pkg=${t#*:}
	echo "fuzz $name ($fuzztime)"
	dir=$(go list -f '{{.Dir}}' "$pkg") || exit 1
	corpus=$dir/testdata/fuzz/$name
	before=$(inputs "$corpus")
	out=$(mktemp)
	go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "$pkg" 2>&1 | tee "$out"
	status=${PIPESTATUS[0]}
	if [ "$status" -ne 0 ]; then
		written=$(comm -13 <(echo "$before") <(inputs "$corpus") | grep -c .)
		case $(classify "$name" "$out" "$written") in
		race)
			echo "fuzz $name: the coordinator's end-of-time race (golang/go#75804), no input written; replaying the corpus"
			go test -count=1 -run "^$name\$" "$pkg" || { rm -f "$out"; exit 1; }
			;;
		*)
			[ "$written" -eq 0 ] || echo "fuzz $name: wrote $written input(s) under $corpus"
			rm -f "$out"
			exit 1
			;;
		esac
	fi
	rm -f "$out"
done
