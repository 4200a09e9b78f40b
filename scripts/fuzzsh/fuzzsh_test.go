// Package fuzzsh tests scripts/fuzz.sh, which make fuzz runs: it must fail
// on every finding and forgive only Go 1.26's fuzz coordinator race.
package fuzzsh

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakeGo stands in for the go command: "go list" names the package
// directory, a fuzzing run prints a recorded output, may write an input as
// Go does, and exits with the recorded status; a corpus replay is logged.
const fakeGo = `#!/usr/bin/env bash
case "$1 $2" in
"list -f") echo "$FAKE_DIR" ;;
"test -run")
	cat "$FAKE_OUTPUT"
	if [ -n "$FAKE_WRITES" ]; then
		mkdir -p "$FAKE_DIR/testdata/fuzz/$FAKE_WRITES"
		printf 'go test fuzz v1\nstring("x0080")\n' > "$FAKE_DIR/testdata/fuzz/$FAKE_WRITES/54034ad2ab0df706"
	fi
	exit "$FAKE_STATUS" ;;
"test -count=1")
	echo "replayed $4" >> "$FAKE_LOG"
	exit "$FAKE_REPLAY_STATUS" ;;
*) echo "fake go: unexpected $*" >&2; exit 2 ;;
esac
`

// The outputs in testdata are those of real runs of small fuzz targets with
// go1.26 (crash, slow, slow-crash, seed-deadline, pass), but for race.txt
// and race-while-minimizing.txt: the race cannot be brought about at will,
// so these are what the coordinator prints when it strikes (testing's
// F.Fuzz prints CoordinateFuzzing's error, context.DeadlineExceeded, as the
// target's one message), the latter after the lines of a slow failing input
// being minimized (slow-crash.txt).
func TestClassification(t *testing.T) {
	script, err := filepath.Abs("../fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		target   string
		output   string
		status   int
		writes   bool // the run writes an input under testdata/fuzz/<target>
		present  bool // the corpus already holds an input (a regression test)
		replayOK bool
		// want: the script's success, and whether it replays the corpus.
		wantOK, wantReplay bool
	}{
		{name: "a clean run", target: "FuzzSeedDeadline", output: "pass.txt", wantOK: true},
		{name: "the coordinator's race", target: "FuzzRace", output: "race.txt", status: 1, replayOK: true, wantOK: true, wantReplay: true},
		{name: "the race beside a corpus already committed", target: "FuzzRace", output: "race.txt", status: 1, present: true, replayOK: true, wantOK: true, wantReplay: true},
		{name: "the race, then a corpus replay that fails", target: "FuzzRace", output: "race.txt", status: 1, wantReplay: true},
		{name: "the race's output, but an input was written", target: "FuzzRace", output: "race.txt", status: 1, writes: true, replayOK: true},
		{name: "the race while minimizing, input written", target: "FuzzSlowCrash", output: "race-while-minimizing.txt", status: 1, writes: true, replayOK: true},
		{name: "the race while minimizing, no input written", target: "FuzzSlowCrash", output: "race-while-minimizing.txt", status: 1, replayOK: true},
		{name: "a slow input that hung a worker", target: "FuzzSlow", output: "slow.txt", status: 1, writes: true, replayOK: true},
		{name: "a slow failing input minimized past the time", target: "FuzzSlowCrash", output: "slow-crash.txt", status: 1, writes: true, replayOK: true},
		{name: "a failing input", target: "FuzzCrash", output: "crash.txt", status: 1, writes: true, replayOK: true},
		{name: "a seed failing with a deadline of its own", target: "FuzzSeedDeadline", output: "seed-deadline.txt", status: 1, replayOK: true},
		{name: "a build failure", target: "FuzzCrash", output: "build-failure.txt", status: 1, replayOK: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "replays")
			output, err := filepath.Abs(filepath.Join("testdata", c.output))
			if err != nil {
				t.Fatal(err)
			}
			if c.present {
				committed := filepath.Join(dir, "testdata", "fuzz", c.target)
				if err := os.MkdirAll(committed, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(committed, "0e04580da6cd4820"), []byte("go test fuzz v1\nstring(\"\")\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("bash", script, "1s", c.target+":./pkg")
			cmd.Env = append(os.Environ(),
				"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
				"FAKE_DIR="+dir, "FAKE_OUTPUT="+output, "FAKE_LOG="+log,
				"FAKE_STATUS="+strconv.Itoa(c.status), "FAKE_REPLAY_STATUS="+strconv.Itoa(map[bool]int{true: 0, false: 1}[c.replayOK]),
				"FAKE_WRITES="+map[bool]string{true: c.target}[c.writes])
			out, err := cmd.CombinedOutput()
			if strings.Contains(string(out), "fake go: unexpected") {
				t.Fatalf("the script ran go in an unexpected way:\n%s", out)
			}
			replays, _ := os.ReadFile(log)
			if ok := err == nil; ok != c.wantOK {
				t.Errorf("the script succeeded: %v, want %v\n%s", ok, c.wantOK, out)
			}
			if replayed := len(replays) > 0; replayed != c.wantReplay {
				t.Errorf("the corpus was replayed: %v, want %v\n%s", replayed, c.wantReplay, out)
			}
		})
	}
}
